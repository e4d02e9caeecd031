package io.spate.cli;

import com.sun.management.ThreadMXBean;
import io.aeron.Aeron;
import io.spate.client.SpateClient;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.FieldDefinition;
import io.spate.codec.TypeDefinition;
import io.spate.codec.testing.ExampleSchemas;
import io.spate.driver.DriverConfiguration;
import io.spate.driver.SpateDriver;
import io.spate.pipeline.Pipeline;
import io.spate.pipeline.PipelineConfiguration;
import io.spate.store.NativeStore;
import io.spate.wire.AckDecoder;
import io.spate.wire.RecordStatus;
import org.agrona.CloseHelper;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The producer's side of "nothing allocated per record": a {@link SpateClient} with an {@link
 * SpateClient.AckListener} writing creates, updates, increments and deletes to a real pipeline, measured
 * with the JVM's allocation counter of the writing thread (bytes, not time, so machine load cannot fail
 * it); and {@code produce}'s summary reporting the same figure.
 */
class ProducerAllocationTest
{
    private static final long RECORDS_PER_WINDOW = 200_000;
    private static final int MAX_WINDOWS = 15;
    /** Below one object per 100 records: a one-off few hundred bytes pass, anything per record fails. */
    private static final double MAX_BYTES_PER_RECORD = 0.01;
    private static final int RECORDS_PER_BATCH = 100;
    private static final int MAX_IN_FLIGHT_BATCHES = 64;
    private static final int KEPT_IDS = 1000;

    private Path directory;
    private SpateDriver driver;
    private Aeron aeron;
    private NativeStore store;
    private Pipeline pipeline;

    private final DatabaseSchema schema = ExampleSchemas.social();
    private final TypeDefinition user = schema.type("User");
    private final FieldDefinition age = user.field("age");
    private final FieldDefinition karma = user.field("karma");
    private final FieldDefinition score = user.field("score");
    private final FieldDefinition verified = user.field("verified");
    private final FieldDefinition joinedAt = user.field("joinedAt");
    private final FieldDefinition name = user.field("name");
    private final FieldDefinition bio = user.field("bio");
    private final UnsafeBuffer asciiValue = new UnsafeBuffer(new byte[32]);
    private final Acks acks = new Acks();

    /** Counts outcomes and learns created ids: the first ones are updated, the later ones deleted. */
    private static final class Acks implements SpateClient.AckListener
    {
        final long[] keptIds = new long[KEPT_IDS];
        int keptIdCount;
        final long[] deletableIds = new long[1 << 17];
        int deletableHead;
        int deletableTail;
        long records;
        long failedRecords;
        RecordStatus firstFailure;

        public void onAck(final AckDecoder ack)
        {
            records += ack.recordCount();
            for (final AckDecoder.CreatedIdsDecoder created : ack.createdIds())
            {
                if (keptIdCount < keptIds.length)
                {
                    keptIds[keptIdCount++] = created.nodeId();
                }
                else if (deletableTail - deletableHead < deletableIds.length)
                {
                    deletableIds[deletableTail++ & (deletableIds.length - 1)] = created.nodeId();
                }
            }
            for (final AckDecoder.ErrorsDecoder error : ack.errors())
            {
                failedRecords++;
                if (null == firstFailure)
                {
                    firstFailure = error.status();
                }
            }
            if (ack.status() != RecordStatus.OK && null == firstFailure)
            {
                firstFailure = ack.status();
            }
        }
    }

    @BeforeEach
    void before() throws Exception
    {
        directory = JvmProcess.temporaryDirectory("spate-producer-alloc-");
        driver = SpateDriver.launchEmbedded(
            new DriverConfiguration().aeronDirectoryName(directory.resolve("aeron").toString()).embedded(true));
        aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
        store = NativeStore.open(schema);
        pipeline = new Pipeline(new PipelineConfiguration()
            .schema(schema)
            .workerCount(1)
            .conductorIdleStrategy("backoff")
            .workerIdleStrategy("backoff"), aeron, store);
    }

    @AfterEach
    void after()
    {
        CloseHelper.closeAll(pipeline, store, aeron, driver);
        JvmProcess.deleteRecursively(directory);
    }

    @Test
    void clientWritePathShouldNotAllocatePerRecord()
    {
        final ThreadMXBean threads = (ThreadMXBean)ManagementFactory.getThreadMXBean();
        assertTrue(threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled());
        try (SpateClient client = SpateClient.connect(new SpateClient.Context()
            .aeron(aeron)
            .schema(schema)
            .timeoutMs(20_000)
            .maxRecordsPerBatch(RECORDS_PER_BATCH)))
        {
            client.ackListener(acks);
            // The first windows warm up (class loading, JIT: interpreted code may box); a steady window must
            // then allocate nothing per record. One per record would be at least 16 B x 200,000 = 3.2 MB.
            long sequence = 0;
            double bytesPerRecord = Double.MAX_VALUE;
            int windows = 0;
            while (windows < MAX_WINDOWS && bytesPerRecord >= MAX_BYTES_PER_RECORD)
            {
                final long before = threads.getCurrentThreadAllocatedBytes();
                sequence = write(client, sequence, RECORDS_PER_WINDOW);
                final long allocatedBytes = threads.getCurrentThreadAllocatedBytes() - before;
                bytesPerRecord = (double)allocatedBytes / RECORDS_PER_WINDOW;
                windows++;
                System.out.printf("producer allocation: window %d: %,d bytes over %,d records (%.4f bytes/record)%n",
                    windows, allocatedBytes, RECORDS_PER_WINDOW, bytesPerRecord);
            }
            assertTrue(client.awaitAcks(60_000), "acks outstanding");
            assertTrue(bytesPerRecord < MAX_BYTES_PER_RECORD, "the client thread still allocates after " + windows +
                " windows of " + RECORDS_PER_WINDOW + " records: " + bytesPerRecord + " bytes/record");
            assertEquals(sequence, acks.records, "every record acked");
            assertEquals(0, acks.failedRecords, "failed records, the first: " + acks.firstFailure);
            assertTrue(acks.deletableTail > 0 && acks.keptIdCount == KEPT_IDS, "the mix named created nodes");
        }
        assertEquals(null, pipeline.firstError());
    }

    /**
     * Creates with every field kind (strings from a constant and from ASCII bytes), updates and
     * increments of kept nodes, deletes of later ones; a flush per batch and a bounded window in flight.
     */
    private long write(final SpateClient client, final long firstSequence, final long records)
    {
        long sequence = firstSequence;
        for (long i = 0; i < records; i++, sequence++)
        {
            final int choice = (int)(sequence & 7);
            if (choice < 4 || acks.keptIdCount < KEPT_IDS)
            {
                client.create(user);
                asciiValue.putByte(0, (byte)'p');
                final int lengthBytes = 1 + asciiValue.putNaturalLongAscii(1, sequence);
                client.setLong(age, sequence & 0x7F)
                    .setLong(karma, -sequence)
                    .setDouble(score, sequence * 0.5)
                    .setBoolean(verified, (sequence & 1) == 0)
                    .setLong(joinedAt, sequence * 1_000_000L)
                    .setString(name, "a constant name")
                    .setStringAscii(bio, asciiValue, 0, lengthBytes);
            }
            else if (choice < 6)
            {
                client.update(user, acks.keptIds[(int)(sequence % KEPT_IDS)]);
                client.setLong(karma, sequence).setString(name, "renamed");
            }
            else if (choice == 6 || acks.deletableTail == acks.deletableHead)
            {
                client.increment(user, acks.keptIds[(int)(sequence % KEPT_IDS)], karma, 1);
            }
            else
            {
                client.delete(user, acks.deletableIds[acks.deletableHead++ & (acks.deletableIds.length - 1)]);
            }
            if ((sequence + 1) % RECORDS_PER_BATCH == 0)
            {
                client.flush();
                client.poll();
                if (client.inFlightBatches() >= MAX_IN_FLIGHT_BATCHES)
                {
                    assertTrue(client.awaitAcks(60_000), "no acks");
                }
            }
        }
        client.flush();
        assertTrue(client.awaitAcks(60_000), "no acks");
        return sequence;
    }

    @Test
    void produceShouldReportItsAllocationPerRecord()
    {
        final ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
        final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
        final PrintStream out = new PrintStream(outBytes, true, StandardCharsets.UTF_8);
        final PrintStream err = new PrintStream(errBytes, true, StandardCharsets.UTF_8);
        final int status = ProduceMain.run(new String[]{ "--schema", JvmProcess.exampleSchema().toString(),
            "--dir", driver.aeronDirectoryName(), "--records", "50000", "--types", "User:1", "--ops", "create:100",
            "--seed", "3", "--timeout-ms", "20000" }, out, err, () -> false);
        final String output = outBytes.toString(StandardCharsets.UTF_8) + errBytes.toString(StandardCharsets.UTF_8);
        assertEquals(0, status, output);
        final String summary = output.lines().filter((line) -> line.startsWith("produce: records="))
            .findFirst().orElseThrow(() -> new AssertionError("no summary line in\n" + output));
        final Map<String, String> values = JvmProcess.pairs(summary, null);
        assertEquals(50_000, JvmProcess.longValue(values, "records"), summary);
        assertEquals(50_000, JvmProcess.longValue(values, "producer_acked"), summary);
        final String allocation = values.get("alloc_bytes_per_record");
        assertTrue(null != allocation && allocation.matches("\\d+\\.\\d{3}"), summary);
        assertTrue(Double.parseDouble(allocation) >= 0, summary);
        // The new key sits before producer_live, whose words after it are the types.
        assertEquals(Map.of("User", "50000"), JvmProcess.pairs(summary, "producer_live"), summary);
    }

    @Test
    void produceWarmsUpUnmeasuredThenMeasuresOnlyTheRecordsAskedFor() throws Exception
    {
        final ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
        final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
        final java.nio.file.Path histogram = java.nio.file.Files.createTempFile("spate-warmup-", ".hlog");
        try
        {
            final int status = ProduceMain.run(new String[]{ "--schema", JvmProcess.exampleSchema().toString(),
                "--dir", driver.aeronDirectoryName(), "--records", "20000", "--warmup-records", "30000",
                "--types", "User:1", "--ops", "create:100", "--seed", "4", "--timeout-ms", "20000",
                "--histogram-file", histogram.toString() },
                new PrintStream(outBytes, true, StandardCharsets.UTF_8), new PrintStream(errBytes, true, StandardCharsets.UTF_8),
                () -> false);
            final String output = outBytes.toString(StandardCharsets.UTF_8) + errBytes.toString(StandardCharsets.UTF_8);
            assertEquals(0, status, output);
            assertTrue(output.contains("produce: warm-up: 30000 records, not measured"), output);
            final String summary = output.lines().filter((line) -> line.startsWith("produce: records="))
                .findFirst().orElseThrow(() -> new AssertionError("no summary line in\n" + output));
            final Map<String, String> values = JvmProcess.pairs(summary, null);
            // Records, acks and latencies are the measured run's; the nodes the warm-up created are real.
            assertEquals(20_000, JvmProcess.longValue(values, "records"), summary);
            assertEquals(20_000, JvmProcess.longValue(values, "producer_acked"), summary);
            assertEquals(0, JvmProcess.longValue(values, "producer_unacked"), summary);
            assertEquals(50_000, JvmProcess.longValue(values, "producer_created"), summary);
            assertEquals(Map.of("User", "50000"), JvmProcess.pairs(summary, "producer_live"), summary);
            // The interval log holds the measured batches only: 20,000 records in batches of 100.
            long batches = 0;
            final org.HdrHistogram.HistogramLogReader reader = new org.HdrHistogram.HistogramLogReader(histogram.toFile());
            while (reader.hasNext())
            {
                final org.HdrHistogram.EncodableHistogram interval = reader.nextIntervalHistogram();
                if (null == interval)
                {
                    break;
                }
                batches += ((org.HdrHistogram.Histogram)interval).getTotalCount();
            }
            assertEquals(200, batches, summary);
        }
        finally
        {
            java.nio.file.Files.deleteIfExists(histogram);
        }
    }

    @Test
    void keptIdsHaveAFixedCapacityAndAFullListReplacesInPlace()
    {
        final ProduceMain.LongList list = new ProduceMain.LongList(64);
        for (long id = 1; id <= 64; id++)
        {
            assertTrue(!list.isFull());
            list.add(id);
        }
        assertTrue(list.isFull());
        list.set(10, 1000);
        assertEquals(64, list.size());
        assertEquals(1000, list.get(10));
        assertEquals(1000, list.removeAt(10));
        assertEquals(63, list.size());
        assertEquals(64, list.get(10), "the last id moved into the removed one's place");
    }
}
