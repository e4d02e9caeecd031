package io.spate.cli;

import io.aeron.logbuffer.FrameDescriptor;
import io.aeron.protocol.DataHeaderFlyweight;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.wire.AckEncoder;
import io.spate.wire.BatchHeaderEncoder;
import io.spate.wire.CreateEncoder;
import io.spate.wire.GroupSizeEncodingEncoder;
import io.spate.wire.MessageHeaderEncoder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

import static io.spate.cli.JvmProcess.longValue;
import static io.spate.cli.JvmProcess.pairs;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the pipeline promises as a service, checked with real separate JVMs (a standalone driver, the
 * pipeline, producers, {@code stat}):
 * <ul>
 * <li>no ack is lost while the producer is connected and reading, even when every IPC term, the
 * producer's response stream included, rotates every 64 KiB (offers that meet BACK_PRESSURED or
 * ADMIN_ACTION at a term rotation are retried), and no ingress message is rejected;</li>
 * <li>the same at full speed over 10,000,000 records on the default settings;</li>
 * <li>a second pipeline on the same driver and ingress stream refuses to start with one line naming
 * the running one, which keeps serving;</li>
 * <li>a pipeline whose media driver is killed (SIGKILL) exits non-zero with one line and no stack trace.</li>
 * </ul>
 * Every wait is bounded by a condition (a process exits, a line appears) with a generous timeout;
 * nothing asserts on elapsed time. Each test has its own Aeron directory and ingress stream.
 */
@Timeout(300)
class ServiceLevelTest
{
    /** Generous: a 2-core box runs several JVMs at once. */
    private static final Duration WAIT = Duration.ofSeconds(120);
    /** The smallest term Aeron allows: every IPC stream of the driver rotates every 64 KiB. */
    private static final int SMALL_IPC_TERM_LENGTH = 64 * 1024;
    private static final int MIN_RESPONSE_TERM_ROTATIONS = 10;

    private ProcessScope scope;
    private long testStartNs;
    private String testName;

    @BeforeEach
    void before(final TestInfo info)
    {
        scope = new ProcessScope();
        testName = info.getTestMethod().map(java.lang.reflect.Method::getName).orElse(info.getDisplayName());
        testStartNs = System.nanoTime();
        progress("start");
    }

    @AfterEach
    void after()
    {
        scope.close();
        progress("end (processes stopped, directories deleted)");
    }

    /**
     * Response-term rotations at a fixed rate: with 64 KiB IPC terms the producer's acks fill its
     * response term over and over; the conductor must retry the offers that meet a rotation
     * (ADMIN_ACTION) or a full term (BACK_PRESSURED) instead of dropping the ack.
     */
    @Test
    void acksSurviveResponseTermRotationsAtAFixedRate() throws Exception
    {
        // Creates only, of the type with the shortest Create: small messages, so a batch fits the largest
        // message a 64 KiB term takes, and every record of a batch adds a createdIds entry to its ack.
        // produce --batch-size is records per client batch: one BatchHeader message, answered by one Ack.
        final String type = "Follow";
        final int batchSize = 50;
        final long records = 100_000;
        final long rate = 20_000;

        final DatabaseSchema schema = SchemaCompiler.compile(JvmProcess.exampleSchema());
        final TypeDefinition follow = schema.type(type);
        assertEquals(0, follow.varFieldCount(), type + " has no var fields: a Create of it has a fixed length");
        for (final TypeDefinition other : schema.types())
        {
            assertTrue(other.varFieldCount() > 0 || other.rowLengthBytes() >= follow.rowLengthBytes(),
                type + " has the shortest Create; " + other.name() + " is shorter");
        }

        // The client batch: BatchHeader + batchSize Creates (header, block, empty varFields group, row as var data).
        final int createBytes = MessageHeaderEncoder.ENCODED_LENGTH + CreateEncoder.BLOCK_LENGTH +
            GroupSizeEncodingEncoder.ENCODED_LENGTH + 4 + follow.rowLengthBytes();
        final int batchBytes = MessageHeaderEncoder.ENCODED_LENGTH + BatchHeaderEncoder.BLOCK_LENGTH + batchSize * createBytes;
        final int maxMessageBytes = FrameDescriptor.computeMaxMessageLength(SMALL_IPC_TERM_LENGTH);
        assertEquals(SMALL_IPC_TERM_LENGTH / 8, maxMessageBytes);
        assertTrue(batchBytes <= maxMessageBytes,
            "a batch of " + batchSize + " " + type + " creates (" + batchBytes + " bytes) must fit a 64 KiB term's " +
            maxMessageBytes + "-byte message limit");

        // The ack of such a batch (no errors): header, block, createdIds group (nodeId + recordIndex per
        // Create), empty errors group; in the log it takes an Aeron data frame header and 32-byte alignment.
        final int ackBytes = MessageHeaderEncoder.ENCODED_LENGTH + AckEncoder.BLOCK_LENGTH +
            AckEncoder.CreatedIdsEncoder.sbeHeaderSize() + batchSize * AckEncoder.CreatedIdsEncoder.sbeBlockLength() +
            AckEncoder.ErrorsEncoder.sbeHeaderSize();
        final int ackFrameBytes = org.agrona.BitUtil.align(DataHeaderFlyweight.HEADER_LENGTH + ackBytes,
            FrameDescriptor.FRAME_ALIGNMENT);
        final long acks = (records + batchSize - 1) / batchSize;
        // A term holds at most this many acks (the rest of a term that cannot take a whole frame is padding),
        // so the acks need at least ceil(acks / acksPerTerm) terms: that many minus one rotations.
        final long acksPerTerm = SMALL_IPC_TERM_LENGTH / ackFrameBytes;
        final long responseTermRotations = (acks + acksPerTerm - 1) / acksPerTerm - 1;
        progress(String.format(Locale.ROOT, "%d records, batches of %d %s creates (%d bytes), %d records/s: %d acks " +
            "of %d bytes (%d framed), at most %d per 64 KiB term, so at least %d response-term rotations (%.1f s)",
            records, batchSize, type, batchBytes, rate, acks, ackBytes, ackFrameBytes, acksPerTerm,
            responseTermRotations, (double)records / rate));
        // 100,000 records in batches of 50: 2,000 acks of 641 bytes (704 framed), 93 per term: 21 rotations.
        assertTrue(responseTermRotations >= MIN_RESPONSE_TERM_ROTATIONS,
            "the acks must fill the 64 KiB response term at least " + MIN_RESPONSE_TERM_ROTATIONS + " times: " +
            responseTermRotations);

        final String dir = scope.aeronDirectory("spate-svc-rotation-");
        final String stream = "2601";
        smallTermDriver(dir);
        final JvmProcess pipeline = scope.pipeline("--dir", dir, "--workers", "1", "--ingress-stream", stream);
        progress("pipeline ready");

        final JvmProcess producer = scope.produce("producer", "--dir", dir, "--stream", stream,
            "--records", Long.toString(records), "--rate", Long.toString(rate), "--batch-size", Integer.toString(batchSize),
            "--types", type, "--ops", "create:100", "--seed", "61", "--timeout-ms", "20000");
        final Map<String, String> summary = awaitAllAcked(producer, records, WAIT);
        assertEquals(records, longValue(summary, "producer_created"), summary.toString());
        progress("producer done, every record acked");

        final Map<String, String> conductor = conductorStat(dir);
        assertEquals(0, longValue(conductor, "rejected"), "rejected ingress messages: " + conductor);
        assertEquals(records, longValue(conductor, "records_in"), conductor.toString());
        assertTrue(longValue(conductor, "acks") >= acks, "an ack per client batch (" + acks + "): " + conductor);

        stopAndCheckCounts(pipeline, Map.of(type, records));
    }

    /**
     * The same 64 KiB terms with no rate limit: the producer keeps up to 256 batches in flight, so more
     * acks than the response publication's window (half a term) can wait for it at once. It is connected
     * and reading all along, so the conductor must hold those acks back, not drop them.
     */
    @Test
    void acksSurviveResponseTermRotationsAtFullSpeed() throws Exception
    {
        final String type = "Follow";
        final int batchSize = 50;
        final long records = 300_000;
        final String dir = scope.aeronDirectory("spate-svc-rotation-max-");
        final String stream = "2651";
        smallTermDriver(dir);
        final JvmProcess pipeline = scope.pipeline("--dir", dir, "--workers", "1", "--ingress-stream", stream);
        progress("pipeline ready");

        final JvmProcess producer = scope.produce("producer", "--dir", dir, "--stream", stream,
            "--records", Long.toString(records), "--rate", "0", "--batch-size", Integer.toString(batchSize),
            "--types", type, "--ops", "create:100", "--seed", "65", "--timeout-ms", "20000");
        awaitAllAcked(producer, records, WAIT);
        progress("producer done, every record acked");

        final Map<String, String> conductor = conductorStat(dir);
        assertEquals(0, longValue(conductor, "rejected"), "rejected ingress messages: " + conductor);
        assertEquals(records, longValue(conductor, "records_in"), conductor.toString());
        assertTrue(longValue(conductor, "acks") >= records / batchSize,
            "an ack per client batch (" + records / batchSize + "): " + conductor);

        stopAndCheckCounts(pipeline, Map.of(type, records));
    }

    /**
     * Full speed on the default settings: one producer, no rate limit, 10,000,000 records of the default
     * operation mix; every record acked, no ingress message rejected.
     */
    @Test
    @Timeout(900)
    void tenMillionRecordsAtFullSpeedAreAllAcked() throws Exception
    {
        final long records = 10_000_000;
        final int batchSize = 100;
        final Duration producerWait = Duration.ofSeconds(600);
        final String dir = scope.aeronDirectory("spate-svc-fullspeed-");
        final String stream = "2701";
        scope.driver(dir);
        progress("driver running (default settings) in " + dir);
        final JvmProcess pipeline = scope.pipeline("--dir", dir, "--ingress-stream", stream);
        progress("pipeline ready (default workers and buffer)");

        // The default mix (creates, updates, increments, deletes). Counter holds at most 1,048,576 nodes,
        // so it gets a tenth of the records (about 700,000 creates): no TYPE_FULL errors.
        final long producerStartNs = System.nanoTime();
        final JvmProcess producer = scope.produce("producer", "--dir", dir, "--stream", stream,
            "--records", Long.toString(records), "--rate", "0", "--batch-size", Integer.toString(batchSize),
            "--types", "User:3,Post:3,Follow:3,Counter:1", "--seed", "71", "--timeout-ms", "30000");
        final Map<String, String> summary = awaitAllAcked(producer, records, producerWait);
        final double seconds = (System.nanoTime() - producerStartNs) / 1e9;
        progress(String.format(Locale.ROOT, "producer done in %.1f s (process start to exit), records/s=%s",
            seconds, summary.get("records/s")));

        final Map<String, String> conductor = conductorStat(dir);
        assertEquals(0, longValue(conductor, "rejected"), "rejected ingress messages: " + conductor);
        assertEquals(records, longValue(conductor, "records_in"), conductor.toString());
        assertTrue(longValue(conductor, "acks") >= records / batchSize,
            "an ack per client batch (" + records / batchSize + "): " + conductor);

        final Map<String, Long> live = new java.util.HashMap<>();
        pairs(producer.awaitLineStartingWith("produce: records=", Duration.ofSeconds(5)), "producer_live")
            .forEach((type, count) -> live.put(type, Long.parseLong(count)));
        stopAndCheckCounts(pipeline, live);
    }

    /**
     * A second pipeline on the same driver directory and ingress stream refuses to start with one line
     * naming the running pipeline (its pid and streams) and a non-zero exit status; the first one keeps
     * serving producers.
     */
    @Test
    void secondPipelineOnTheSameDriverIsRefusedAndTheFirstKeepsServing() throws Exception
    {
        final String dir = scope.aeronDirectory("spate-svc-second-");
        final String stream = "2801";
        scope.driver(dir);
        final JvmProcess first = scope.pipeline("--dir", dir, "--workers", "1", "--ingress-stream", stream);
        final long firstPid = first.process().pid();
        progress("first pipeline ready, pid " + firstPid);

        final JvmProcess second = scope.start("second-pipeline", "io.spate.cli.PipelineMain", "--schema", scope.schema,
            "--dir", dir, "--workers", "1", "--ingress-stream", stream);
        final String prefix = "pipeline: error: another pipeline is running on the driver in " + dir;
        final String error = awaitFailureWithOneErrorLine(second, "second pipeline", prefix);
        final String output = second.output();
        final String rest = error.substring(prefix.length());
        assertTrue(containsWord(rest, Long.toString(firstPid)), "the error names the running pipeline's pid " +
            firstPid + ": " + error);
        assertTrue(containsWord(rest, stream), "the error names the ingress stream " + stream + ": " + error);
        assertFalse(second.lines().contains("pipeline: ready"), output);
        assertNoStackTrace(second, null);

        assertTrue(first.process().isAlive(), "the first pipeline still runs:\n" + first.output());
        final long records = 5_000;
        final JvmProcess producer = scope.produce("producer", "--dir", dir, "--stream", stream,
            "--records", Long.toString(records), "--ops", "create:100", "--types", "User", "--seed", "81",
            "--timeout-ms", "20000");
        awaitAllAcked(producer, records, WAIT);
        progress("the first pipeline served a producer after the refusal");
        stopAndCheckCounts(first, Map.of("User", records));
    }

    /**
     * SIGKILL of the media driver under a running pipeline (with a producer sending): the pipeline notices
     * once the Aeron client's driver timeout passes and exits non-zero with one line naming the
     * driver directory, no stack trace.
     */
    @Test
    void pipelineExitsWithOneLineWhenTheMediaDriverIsKilled() throws Exception
    {
        final String dir = scope.aeronDirectory("spate-svc-driverkill-");
        final String stream = "2901";
        final JvmProcess driver = scope.driver(dir);
        final JvmProcess pipeline = scope.pipeline("--dir", dir, "--workers", "1", "--ingress-stream", stream);
        progress("pipeline ready on the driver in " + dir);
        final JvmProcess producer = scope.produce("producer", "--dir", dir, "--stream", stream,
            "--records", "100000000", "--rate", "20000", "--seed", "91", "--timeout-ms", "20000");
        producer.awaitLine((line) -> line.startsWith("produce: sent=") && !line.contains(" producer_acked=0 "), WAIT);
        progress("producer acked; SIGKILL to the driver (pid " + driver.process().pid() + ")");
        driver.kill();
        assertFalse(driver.process().isAlive(), "SIGKILL");

        // The Aeron client notices after the driver timeout (aeron.driver.timeout, 10 s by default).
        final String error = awaitFailureWithOneErrorLine(pipeline, "pipeline", "pipeline: error: lost the media driver in " + dir);
        assertNoStackTrace(pipeline, error);

        final int producerStatus = producer.awaitExit(WAIT);
        progress("producer exited " + producerStatus + " (not checked further)");
    }

    // ------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------

    /**
     * Starts {@code spate driver} with 64 KiB IPC terms and checks it says so.
     */
    private void smallTermDriver(final String dir) throws InterruptedException
    {
        final JvmProcess driver = scope.start("driver", "io.spate.driver.DriverMain", "--dir", dir,
            "--threading", "shared", "--idle", "backoff", "--ipc-term-length", Integer.toString(SMALL_IPC_TERM_LENGTH));
        driver.awaitLine((line) -> line.contains("running in"), WAIT);
        assertTrue(driver.lines().stream().anyMatch((line) -> line.contains("ipcTermBufferLength=" + SMALL_IPC_TERM_LENGTH)),
            "the driver's configuration shows 64 KiB IPC terms:\n" + driver.output());
        progress("driver running with 64 KiB IPC terms in " + dir);
    }

    private void progress(final String message)
    {
        System.out.printf(Locale.ROOT, "[ServiceLevelTest %s +%.1fs] %s%n", testName,
            (System.nanoTime() - testStartNs) / 1e9, message);
        System.out.flush();
    }

    /**
     * Waits for the producer to exit 0 with every record acked and none refused.
     *
     * @return its summary's key=value pairs.
     */
    private Map<String, String> awaitAllAcked(final JvmProcess producer, final long records, final Duration timeout)
        throws InterruptedException
    {
        final int status = producer.awaitExit(timeout);
        assertEquals(0, status, producer.name() + " exit status; output:\n" + producer.output());
        final String summary = producer.awaitLineStartingWith("produce: records=", Duration.ofSeconds(5));
        progress(summary);
        final Map<String, String> values = pairs(summary, null);
        assertEquals(records, longValue(values, "records"), summary);
        assertEquals(records, longValue(values, "producer_acked"), summary);
        assertEquals(0, longValue(values, "producer_unacked"), summary);
        assertEquals(0, longValue(values, "producer_failed"), summary);
        assertFalse(values.containsKey("unexpected_acks"), summary);
        return values;
    }

    /**
     * Runs {@code spate stat --once}.
     *
     * @return the key=value pairs of its conductor row (the only pipeline on the driver), and of its
     * sessions row when it prints one; no answer (ack or read response) discarded when it does.
     */
    private Map<String, String> conductorStat(final String dir) throws InterruptedException
    {
        final JvmProcess stat = scope.start("stat", "io.spate.cli.StatMain", "--dir", dir, "--once", "--interval-ms", "200");
        assertEquals(0, stat.awaitExit(WAIT), stat.output());
        final List<String> rows = stat.lines().stream().filter((line) -> line.startsWith("  conductor: ")).toList();
        assertEquals(1, rows.size(), "one pipeline, one conductor row:\n" + stat.output());
        progress("stat" + rows.get(0));
        final Map<String, String> values = new java.util.HashMap<>(pairs(rows.get(0), null));
        stat.lines().stream().filter((line) -> line.startsWith("  sessions: ")).findFirst().ifPresent((row) ->
        {
            progress("stat" + row);
            final Map<String, String> sessions = pairs(row, null);
            if (sessions.containsKey("answers_discarded"))
            {
                assertEquals(0, longValue(sessions, "answers_discarded"), "no ack discarded: " + row);
            }
            sessions.forEach(values::putIfAbsent);
        });
        return values;
    }

    /**
     * SIGTERM to the pipeline: it exits 0, says it stopped, and its store holds exactly the live nodes expected.
     */
    private void stopAndCheckCounts(final JvmProcess pipeline, final Map<String, Long> expectedLive)
        throws InterruptedException
    {
        pipeline.terminate();
        assertEquals(0, pipeline.awaitExit(WAIT), pipeline.output());
        final String stopped = pipeline.awaitLineStartingWith("pipeline: stopped", Duration.ofSeconds(5));
        progress(stopped);
        final Map<String, String> counts = pairs(stopped, "counts");
        expectedLive.forEach((type, live) -> assertEquals(live, longValue(counts, type), "live " + type + ": " + stopped));
        assertNoStackTrace(pipeline, null);
    }

    private static boolean containsWord(final String text, final String word)
    {
        return Pattern.compile("(?<![0-9A-Za-z])" + Pattern.quote(word) + "(?![0-9A-Za-z])").matcher(text).find();
    }

    /**
     * No JVM crash report and no line of a stack trace: no "\tat ..." frames, no "Caused by:", no "Exception
     * in thread", and no other line that names an exception (the one error line excepted, if given).
     */
    /**
     * Waits for a pipeline that must fail: non-zero exit by itself (not a signal or a JVM crash: 128 + signal,
     * 134 = SIGABRT after a fatal error), with exactly one {@code pipeline: error:} line starting with prefix.
     *
     * @return that line.
     */
    private String awaitFailureWithOneErrorLine(final JvmProcess process, final String what, final String prefix)
        throws Exception
    {
        final int status = process.awaitExit(WAIT);
        progress(what + " exited " + status);
        final String output = process.output();
        assertNotEquals(0, status, "the " + what + " must fail; output:\n" + output);
        assertTrue(status < 128, "the " + what + " must exit by itself, not die of a signal or a JVM crash (128 + " +
            "signal, 134 = SIGABRT after a fatal error): exit status " + status + "; output:\n" + output);
        final List<String> errors = process.lines().stream().filter((line) -> line.startsWith("pipeline: error: ")).toList();
        assertEquals(1, errors.size(), "exactly one error line:\n" + output);
        assertTrue(errors.get(0).startsWith(prefix), "expected a line starting '" + prefix + "', got: " + errors.get(0));
        return errors.get(0);
    }

    private static void assertNoStackTrace(final JvmProcess process, final String errorLine)
    {
        for (final String line : process.lines())
        {
            final boolean frame = line.startsWith("\tat ") || line.trim().startsWith("at ") && line.contains("(") ||
                line.startsWith("Caused by:") || line.contains("Exception in thread") || line.trim().startsWith("... ");
            // HotSpot's fatal error report (SIGSEGV and the like) on stdout.
            final boolean crash = line.contains("A fatal error has been detected by the Java Runtime Environment") ||
                line.startsWith("# Problematic frame:") || line.contains("hs_err_pid");
            assertFalse(crash, process.name() + " crashed (JVM fatal error report): '" + line + "'; output:\n" +
                process.output());
            final boolean namesException = !line.equals(errorLine) && (line.contains("Exception") || line.contains("Error:"));
            assertFalse(frame, process.name() + " printed a stack trace line: '" + line + "'; output:\n" +
                process.output());
            assertFalse(namesException, process.name() + " printed a line naming an exception besides its one error " +
                "line: '" + line + "'; output:\n" + process.output());
        }
    }
}
