package io.spate.cli;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static io.spate.cli.JvmProcess.longValue;
import static io.spate.cli.JvmProcess.pairs;
import static io.spate.cli.ProcessScope.EXIT_TIMEOUT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The service commands as real, separate JVMs: a standalone driver, the pipeline attached to it (or
 * with an embedded driver), producers over IPC and over UDP on loopback, a producer killed with
 * SIGKILL mid-stream, the pipeline stopped with SIGTERM under load, a producer whose records fail. Each
 * test has its own Aeron directories, stream ids and ports; every process is killed at the end whatever
 * happens.
 */
@Timeout(150)
class MultiProcessTest
{
    private static final String[] TYPES = { "User", "Post", "Follow", "Counter" };
    private static final String RECORDS = "20000";
    /** Small enough for several JVMs on a 2-core box. */
    private static final String BUFFER_BYTES = Integer.toString(8 << 20);

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
    void threeProducersOverIpcAreAllAckedAndCountsMatch() throws Exception
    {
        final String dir = scope.aeronDirectory("spate-cli-ipc-");
        final String stream = "2101";
        scope.driver(dir);
        scope.pipeline("--dir", dir, "--workers", "2", "--buffer-bytes", BUFFER_BYTES, "--ingress-stream", stream);

        final List<JvmProcess> producers = new ArrayList<>();
        for (int p = 1; p <= 3; p++)
        {
            // The default mix: creates, updates, increments and deletes of the producer's own nodes. A
            // producer only names nodes it has seen acked, so it sends at a rate that lets acks return.
            producers.add(scope.produce("producer-" + p, "--dir", dir, "--stream", stream, "--records", RECORDS,
                "--rate", "20000", "--seed", Integer.toString(p), "--client-id", Integer.toString(100 + p), "--timeout-ms", "20000"));
        }
        final Map<String, Long> expected = new HashMap<>();
        for (final JvmProcess producer : producers)
        {
            assertEquals(0, producer.awaitExit(EXIT_TIMEOUT), producer.name() + " exit status:\n" + producer.output());
            final String summary = producer.awaitLineStartingWith("produce: records=", Duration.ofSeconds(5));
            final Map<String, String> values = pairs(summary, null);
            assertEquals(Long.parseLong(RECORDS), longValue(values, "records"), summary);
            assertEquals(Long.parseLong(RECORDS), longValue(values, "producer_acked"), summary);
            assertEquals(0, longValue(values, "producer_failed"), summary);
            assertEquals(0, longValue(values, "producer_unacked"), summary);
            assertTrue(longValue(values, "producer_deleted") > 0, "the mix deletes: " + summary);
            pairs(summary, "producer_live").forEach((type, live) -> expected.merge(type, Long.parseLong(live), Long::sum));
        }
        assertEquals(TYPES.length, expected.size(), expected.toString());
        for (final String type : TYPES)
        {
            assertEquals(expected.get(type), scope.count(dir, Integer.parseInt(stream), type), "live " + type);
        }
    }

    /**
     * Records that fail: a type that holds 10 nodes and 50 creates. The producer counts the 40 refused
     * creates by status in one line and exits 1; the 10 that fit are live in the store.
     */
    @Test
    void producerWhoseRecordsFailExitsNonZeroAndCountsThemByStatus() throws Exception
    {
        final Path tiny = scope.directory("spate-cli-tiny-").resolve("tiny.json");
        Files.writeString(tiny, "{ \"name\": \"tiny\", \"types\": [ { \"name\": \"Box\", \"maxNodes\": 10, " +
            "\"fields\": [ { \"name\": \"n\", \"type\": \"u32\" } ] } ] }", StandardCharsets.UTF_8);
        final String dir = scope.aeronDirectory("spate-cli-fail-");
        final JvmProcess pipeline = scope.start("pipeline", "io.spate.cli.PipelineMain", "--schema", tiny.toString(),
            "--dir", dir, "--embedded-driver", "--workers", "1", "--buffer-bytes", BUFFER_BYTES);
        pipeline.awaitLine("pipeline: ready"::equals, ProcessScope.START_TIMEOUT);

        final JvmProcess producer = scope.start("producer", "io.spate.cli.ProduceMain", "--schema", tiny.toString(),
            "--dir", dir, "--records", "50", "--batch-size", "5", "--ops", "create:100", "--seed", "13",
            "--timeout-ms", "20000");
        assertEquals(1, producer.awaitExit(EXIT_TIMEOUT), "records failed: exit 1\n" + producer.output());
        final String summary = producer.awaitLineStartingWith("produce: records=", Duration.ofSeconds(5));
        final Map<String, String> values = pairs(summary, null);
        assertEquals(50, longValue(values, "records"), summary);
        assertEquals(50, longValue(values, "producer_acked"), summary);
        assertEquals(40, longValue(values, "producer_failed"), summary);
        assertEquals(0, longValue(values, "producer_unacked"), summary);
        assertEquals(10, longValue(values, "producer_created"), summary);
        assertEquals(Map.of("Box", "10"), pairs(summary, "producer_live"), summary);
        assertTrue(producer.lines().contains("produce: failed records by status: TYPE_FULL=40"), producer.output());
        assertTrue(producer.lines().stream().noneMatch((line) -> line.startsWith("produce: error:")), producer.output());

        pipeline.terminate();
        assertEquals(0, pipeline.awaitExit(EXIT_TIMEOUT), pipeline.output());
        final String stopped = pipeline.awaitLineStartingWith("pipeline: stopped", Duration.ofSeconds(5));
        assertEquals(Map.of("Box", "10"), pairs(stopped, "counts"), stopped);
    }

    @Test
    void producerOverUdpOnLoopbackGetsEveryRecordAcked() throws Exception
    {
        final String pipelineDir = scope.aeronDirectory("spate-cli-udp-");
        final String ingress = "aeron:udp?endpoint=127.0.0.1:" + JvmProcess.freeUdpPort();
        final String responses = "aeron:udp?endpoint=127.0.0.1:" + JvmProcess.freeUdpPort();
        final String stream = "2201";
        final JvmProcess pipeline = scope.pipeline("--dir", pipelineDir, "--embedded-driver", "--workers", "1",
            "--buffer-bytes", BUFFER_BYTES, "--ingress", ingress, "--ingress-stream", stream);

        // The remote producer: a driver of its own, records over UDP, acks back over UDP.
        final JvmProcess producer = scope.produce("udp-producer", "--embedded-driver", "--channel", ingress,
            "--stream", stream, "--response-channel", responses, "--records", RECORDS, "--seed", "7",
            "--timeout-ms", "20000");
        assertEquals(0, producer.awaitExit(EXIT_TIMEOUT), producer.output());
        final String summary = producer.awaitLineStartingWith("produce: records=", Duration.ofSeconds(5));
        assertEquals(Long.parseLong(RECORDS), longValue(pairs(summary, null), "producer_acked"), summary);
        assertEquals(0, longValue(pairs(summary, null), "producer_failed"), summary);

        pipeline.terminate();
        assertEquals(0, pipeline.awaitExit(EXIT_TIMEOUT), pipeline.output());
        final String stopped = pipeline.awaitLineStartingWith("pipeline: stopped", Duration.ofSeconds(5));
        final Map<String, String> counts = pairs(stopped, "counts");
        pairs(summary, "producer_live").forEach((type, live) ->
            assertEquals(Long.parseLong(live), longValue(counts, type), "live " + type + ": " + stopped));
    }

    @Test
    void producerKilledMidStreamLeavesThePipelineAndTheOthersRunning() throws Exception
    {
        final String dir = scope.aeronDirectory("spate-cli-kill-");
        final String stream = "2301";
        scope.driver(dir);
        final JvmProcess pipeline = scope.pipeline("--dir", dir, "--workers", "2", "--buffer-bytes", BUFFER_BYTES,
            "--ingress-stream", stream);

        // The victim would run for minutes; the others take a few seconds at their rate.
        final JvmProcess victim = scope.produce("victim", "--dir", dir, "--stream", stream, "--records", "10000000",
            "--rate", "20000", "--batch-size", "50", "--seed", "9");
        final List<JvmProcess> others = new ArrayList<>();
        for (int p = 1; p <= 2; p++)
        {
            others.add(scope.produce("producer-" + p, "--dir", dir, "--stream", stream, "--records", RECORDS,
                "--rate", "8000", "--seed", Integer.toString(p), "--timeout-ms", "20000"));
        }
        victim.awaitLine((line) -> line.startsWith("produce: sent=") && !line.contains(" producer_acked=0 "), EXIT_TIMEOUT);
        victim.kill();
        assertTrue(!victim.process().isAlive(), "SIGKILL");

        // Live nodes of the survivors: the victim deleted only nodes of its own, so the store holds at least these.
        final Map<String, Long> survivorsLive = new HashMap<>();
        for (final JvmProcess producer : others)
        {
            assertEquals(0, producer.awaitExit(EXIT_TIMEOUT), producer.name() + ":\n" + producer.output());
            final String summary = producer.awaitLineStartingWith("produce: records=", Duration.ofSeconds(5));
            assertEquals(Long.parseLong(RECORDS), longValue(pairs(summary, null), "producer_acked"), summary);
            assertEquals(0, longValue(pairs(summary, null), "producer_failed"), summary);
            pairs(summary, "producer_live").forEach((type, live) -> survivorsLive.merge(type, Long.parseLong(live), Long::sum));
        }
        // A producer that comes after the kill is served as well.
        final JvmProcess late = scope.produce("late", "--dir", dir, "--stream", stream, "--records", "5000",
            "--ops", "create:100", "--seed", "11", "--timeout-ms", "20000");
        assertEquals(0, late.awaitExit(EXIT_TIMEOUT), late.output());
        final String lateSummary = late.awaitLineStartingWith("produce: records=", Duration.ofSeconds(5));
        assertEquals(5000, longValue(pairs(lateSummary, null), "producer_acked"), lateSummary);
        pairs(lateSummary, "producer_live").forEach((type, live) -> survivorsLive.merge(type, Long.parseLong(live), Long::sum));

        pipeline.terminate();
        assertEquals(0, pipeline.awaitExit(EXIT_TIMEOUT), pipeline.output());
        final String stopped = pipeline.awaitLineStartingWith("pipeline: stopped", Duration.ofSeconds(5));
        // Everything the survivors sent went in, plus whatever the victim got in before it died.
        assertTrue(longValue(pairs(stopped, null), "records") > 2 * Long.parseLong(RECORDS) + 5000, stopped);
        final Map<String, String> counts = pairs(stopped, "counts");
        assertEquals(TYPES.length, survivorsLive.size(), survivorsLive.toString());
        survivorsLive.forEach((type, live) ->
            assertTrue(longValue(counts, type) >= live, type + ": " + stopped + " / survivors " + survivorsLive));
    }

    @Test
    void sigtermOnThePipelineUnderLoadLosesNothingAcked() throws Exception
    {
        final String dir = scope.aeronDirectory("spate-cli-term-");
        final String stream = "2401";
        scope.driver(dir);
        final JvmProcess pipeline = scope.pipeline("--dir", dir, "--workers", "2", "--buffer-bytes", BUFFER_BYTES,
            "--ingress-stream", stream);
        // Creates only: every node the producer saw acked must be live in the store at exit.
        final JvmProcess producer = scope.produce("producer", "--dir", dir, "--stream", stream,
            "--records", "100000000", "--ops", "create:100", "--seed", "5", "--timeout-ms", "5000");
        producer.awaitLine((line) -> line.startsWith("produce: sent=") && !line.contains(" producer_acked=0 "), EXIT_TIMEOUT);

        pipeline.terminate();
        assertEquals(0, pipeline.awaitExit(EXIT_TIMEOUT), pipeline.output());
        pipeline.awaitLineStartingWith("pipeline: stopping", Duration.ofSeconds(5));
        final String stopped = pipeline.awaitLineStartingWith("pipeline: stopped", Duration.ofSeconds(5));

        // The producer sees the pipeline go and reports what it got acked.
        assertNotEquals(0, producer.awaitExit(EXIT_TIMEOUT), producer.output());
        final String summary = producer.awaitLineStartingWith("produce: records=", Duration.ofSeconds(5));
        final Map<String, String> values = pairs(summary, null);
        assertTrue(longValue(values, "producer_acked") > 0, summary);
        assertTrue(longValue(pairs(stopped, null), "records") >= longValue(values, "producer_acked"), stopped + " / " + summary);
        final Map<String, String> counts = pairs(stopped, "counts");
        pairs(summary, "producer_live").forEach((type, acked) ->
            assertTrue(longValue(counts, type) >= Long.parseLong(acked),
                type + ": pipeline has " + counts.get(type) + ", producer saw " + acked + " acked"));
    }
}
