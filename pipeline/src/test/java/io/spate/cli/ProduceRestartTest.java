package io.spate.cli;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Exactly once across a crash, with separate processes: {@code bin/spate produce} writes to a durable pipeline
 * that is SIGKILLed twice mid-run and started again each time. The producer keeps its unanswered batches, takes
 * its session back when the pipeline is up again and sends them again; it exits 0 with every record acked once,
 * and {@code count} equals what it created.
 */
class ProduceRestartTest
{
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final long RECORDS = 300_000;

    private ProcessScope scope;

    @BeforeEach
    void before()
    {
        scope = new ProcessScope();
    }

    @AfterEach
    void after()
    {
        scope.close();
    }

    @Test
    void produceShouldExitZeroWithExactCountsThroughPipelineSigkills() throws Exception
    {
        final String dir = scope.aeronDirectory("spate-produce-restart-");
        final Path data = scope.directory("spate-produce-restart-data-");
        final List<String> driverFlags = new ArrayList<>(JvmProcess.JVM_FLAGS);
        // A killed pipeline's publications (the log's among them) are closed once the driver times its client out.
        driverFlags.add("-Dspate.driver.client.liveness.timeout.ms=2000");
        final JvmProcess driver = scope.start("driver", driverFlags, JvmProcess.classPath(), "io.spate.driver.DriverMain",
            "--dir", dir, "--data", data.toString(), "--threading", "shared", "--idle", "backoff");
        driver.awaitLine((line) -> line.contains("running in"), WAIT);

        JvmProcess pipeline = startPipeline(dir, data);
        final JvmProcess producer = scope.produce("producer", "--dir", dir, "--records", Long.toString(RECORDS),
            "--rate", "20000", "--batch-size", "100", "--types", "User:1", "--ops", "create:1", "--timeout-ms", "60000",
            "--seed", "7");
        for (int kill = 1; kill <= 2; kill++)
        {
            // Acks, not sends: a producer goes on sending into a killed pipeline's stream until the driver times
            // it out, so only an ack past the previous kill's point shows it took its session back. Kills at a fifth
            // and three fifths: after a restart the producer catches up with its rate's schedule at once, and must
            // still be running at the second kill.
            final long ackedAtLeast = (2 * kill - 1) * RECORDS / 5;
            producer.awaitLine((line) -> line.startsWith("produce: sent=") && ackedOf(line) >= ackedAtLeast, WAIT);
            pipeline.kill();
            pipeline.awaitExit(WAIT);
            pipeline = startPipeline(dir, data);
        }
        assertEquals(0, producer.awaitExit(Duration.ofSeconds(120)), "produce exits 0 after the pipeline's kills:\n" +
            producer.output());
        final String summary = producer.awaitLineStartingWith("produce: records=", Duration.ofSeconds(5));
        final Map<String, String> values = JvmProcess.pairs(summary, null);
        assertEquals(RECORDS, JvmProcess.longValue(values, "producer_acked"), summary);
        assertEquals(0, JvmProcess.longValue(values, "producer_failed"), summary);
        assertEquals(0, JvmProcess.longValue(values, "producer_unacked"), summary);
        assertEquals(RECORDS, JvmProcess.longValue(values, "producer_created"), summary);
        assertTrue(JvmProcess.longValue(values, "resumed_sessions") >= 2, "the session was taken back: " + summary);
        assertEquals(RECORDS, scope.count(dir, 1001, "User"), "count equals what produce created");
    }

    private JvmProcess startPipeline(final String dir, final Path data) throws InterruptedException
    {
        final JvmProcess pipeline = scope.startPipeline("--dir", dir, "--data", data.toString(), "--workers", "1");
        pipeline.awaitLine("pipeline: ready"::equals, WAIT);
        return pipeline;
    }

    private static long ackedOf(final String progressLine)
    {
        final String value = JvmProcess.pairs(progressLine, null).get("producer_acked");
        return null == value ? 0 : Long.parseLong(value);
    }
}
