package io.spate.cli;

import io.aeron.Aeron;
import io.spate.client.NodeView;
import io.spate.client.SpateClient;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.pipeline.Rebuild;
import io.spate.store.NativeStore;
import io.spate.wire.RecordStatus;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The crash loop, with separate processes: a standalone driver hosting the archive, a durable
 * pipeline, and two producers creating at full speed, each journaling every batch it sends and every ack.
 * A process is killed with SIGKILL at a random moment, again and again, and everything restarted.
 * After each kill the data directory is rebuilt in this JVM exactly as a start would (newest snapshot,
 * then the log) and checked against the journals:
 * <ul>
 * <li>every acked record is there, at the id its ack gave, with the values it was written with;</li>
 * <li>every batch sent but not acked is there entirely or not at all;</li>
 * <li>no record is there twice (each carries its producer and number);</li>
 * </ul>
 * then the restarted pipeline must report the same store (counts and checksums per type), and a sample
 * of acked records is read back through it.
 */
class CrashLoopTest
{
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final int BATCH_SIZE = 256;
    private static final int WINDOW = 32;
    /** Producers at once, each its own JVM and journal (ids round * 10 + 1..). */
    private static final int PRODUCERS = 2;
    private static final int SAMPLE_READS = 300;

    private ProcessScope scope;
    private String testName;
    private long testStartNs;
    private DatabaseSchema schema;

    @BeforeEach
    void before(final TestInfo info)
    {
        scope = new ProcessScope();
        schema = SchemaCompiler.compile(JvmProcess.exampleSchema());
        testName = info.getTestMethod().map(java.lang.reflect.Method::getName).orElse(info.getDisplayName());
        testStartNs = System.nanoTime();
    }

    @AfterEach
    void after()
    {
        scope.close();
    }

    @Test
    void everyAckedRecordSurvivesFiveSigkillsOfThePipeline() throws Exception
    {
        crashLoop(false, 5, Long.getLong("spate.test.crash.seed", System.nanoTime()));
    }

    @Test
    void everyAckedRecordSurvivesFiveSigkillsOfTheDriverAndItsArchive() throws Exception
    {
        crashLoop(true, 5, Long.getLong("spate.test.crash.seed", System.nanoTime()));
    }

    private void crashLoop(final boolean killDriver, final int kills, final long seed) throws Exception
    {
        final Random random = new Random(seed);
        progress("seed " + seed + " (rerun with -Dspate.test.crash.seed=" + seed + "), " + kills + " SIGKILLs of the " +
            (killDriver ? "driver" : "pipeline"));
        final String dir = scope.aeronDirectory("spate-crash-");
        final Path data = scope.directory("spate-crash-data-");
        final Path journals = scope.directory("spate-crash-journals-");
        JvmProcess driver = startDriver(dir, data);
        String expectedStore = null;
        final Journal journal = new Journal();
        for (int round = 1; round <= kills + 1; round++)
        {
            final JvmProcess pipeline = startPipeline(dir, data);
            final String recovered = pipeline.awaitLine((line) -> line.startsWith("pipeline: durable in "), WAIT);
            if (null != expectedStore)
            {
                final String store = recovered.substring(recovered.indexOf("; store ") + "; store ".length(),
                    recovered.indexOf("; acks wait"));
                assertEquals(expectedStore, store, "the restarted pipeline holds the store rebuilt from its data");
            }
            pipeline.awaitLine("pipeline: ready"::equals, WAIT);
            readBack(dir, journal, random);
            if (round == kills + 1)
            {
                pipeline.terminate();
                assertEquals(0, pipeline.awaitExit(WAIT), pipeline.output());
                progress("round " + round + ": recovered, read back, stopped cleanly");
                break;
            }

            final List<JvmProcess> producers = new ArrayList<>();
            final List<Path> journalFiles = new ArrayList<>();
            for (int p = 1; p <= PRODUCERS; p++)
            {
                final int producerId = round * 10 + p;
                final Path journalFile = journals.resolve("producer-" + producerId + ".journal");
                journalFiles.add(journalFile);
                producers.add(scope.start("producer-" + producerId, "io.spate.cli.DurabilityProducer", dir,
                    scope.schema, Integer.toString(producerId), journalFile.toString(), Integer.toString(BATCH_SIZE),
                    Integer.toString(WINDOW)));
            }
            for (final JvmProcess producer : producers)
            {
                producer.awaitLine((line) -> line.startsWith("producer: connected"), WAIT);
            }
            final long runMs = 300 + random.nextInt(1_700);
            Thread.sleep(runMs);
            if (killDriver)
            {
                driver.kill();
                assertEquals(1, pipeline.awaitExit(WAIT), "the pipeline exits 1 when its driver dies:\n" + pipeline.output());
            }
            else
            {
                pipeline.kill();
            }
            for (int p = 0; p < PRODUCERS; p++)
            {
                final JvmProcess producer = producers.get(p);
                final int producerStatus = producer.awaitExit(WAIT);
                // Its journal is complete once it says it stopped; with the driver gone its Aeron client may end it harder.
                assertTrue(producer.output().contains("producer: stopped") && (producerStatus == 3 || killDriver),
                    "the producer stops when the pipeline is gone (exit " + producerStatus + "):\n" + producer.output());
                journal.read(round * 10 + p + 1, journalFiles.get(p));
            }
            if (killDriver)
            {
                driver = startDriver(dir, data);
            }
            expectedStore = verify(dir, data, journal);
            progress(String.format(Locale.ROOT, "round %d: SIGKILL after %d ms; %,d batches sent, %,d acked so far; " +
                "store %s", round, runMs, journal.sent.size(), journal.acked.size(), expectedStore));
        }
        assertTrue(journal.acked.size() > kills, "acks in every round: " + journal.acked.size());
    }

    private JvmProcess startDriver(final String dir, final Path data) throws InterruptedException
    {
        final List<String> flags = new ArrayList<>(JvmProcess.JVM_FLAGS);
        // A killed pipeline's publications (the log's among them) are closed once the driver times its client out.
        flags.add("-Dspate.driver.client.liveness.timeout.ms=2000");
        // A killed driver's directory may be taken over once its heartbeat is this old.
        flags.add("-Dspate.driver.timeout.ms=3000");
        final long deadlineNs = System.nanoTime() + WAIT.toNanos();
        while (true)
        {
            final JvmProcess driver = scope.start("driver", flags, JvmProcess.classPath(), "io.spate.driver.DriverMain",
                "--dir", dir, "--data", data.toString(), "--threading", "shared", "--idle", "backoff");
            final String line = driver.awaitLine((text) -> text.contains("running in") ||
                text.startsWith("driver: error: cannot start: the Aeron directory"), WAIT);
            if (line.contains("running in"))
            {
                return driver;
            }
            driver.awaitExit(WAIT);
            if (System.nanoTime() > deadlineNs)
            {
                fail("the driver did not restart on " + dir + ": " + line);
            }
            Thread.sleep(500); // the killed driver's heartbeat is not stale yet
        }
    }

    private JvmProcess startPipeline(final String dir, final Path data)
    {
        return scope.startPipeline("--dir", dir, "--data", data.toString(), "--workers", "2",
            "--snapshot-bytes", "8m", "--drain-timeout-ms", "30000");
    }

    /**
     * Rebuilds the store from the data directory in this JVM and checks it against the journals.
     *
     * @return the rebuilt store's per-type counts and checksums.
     */
    private String verify(final String dir, final Path data, final Journal journal) throws Exception
    {
        try (Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(dir));
            NativeStore store = NativeStore.open(schema))
        {
            final PrintStream quiet = new PrintStream(java.io.OutputStream.nullOutputStream());
            final String checksums = Rebuild.into(aeron, data.toString(), schema, store, quiet);
            final StoreIndex index = new StoreIndex(schema, store);
            for (final Map.Entry<Long, Sent> entry : journal.sent.entrySet())
            {
                final Sent sent = entry.getValue();
                final Acked acked = journal.acked.get(entry.getKey());
                int present = 0;
                for (int i = 0; i < sent.count(); i++)
                {
                    final long record = sent.first() + i;
                    final long id = index.idOf(sent.producer(), record);
                    if (id != 0)
                    {
                        present++;
                    }
                    if (null != acked)
                    {
                        final long ackedId = acked.ids()[i];
                        if (id != ackedId)
                        {
                            fail("producer " + sent.producer() + " record " + record + " was acked with id " + ackedId +
                                " but the store has it at " + id + " (0: missing)");
                        }
                    }
                }
                if (null != acked)
                {
                    assertEquals(RecordStatus.OK.value(), acked.status(), "acked batch " + entry.getKey());
                }
                else if (present != 0 && present != sent.count())
                {
                    fail("unacked batch " + entry.getKey() + " of producer " + sent.producer() + " is partly applied: " +
                        present + " of " + sent.count() + " records");
                }
            }
            assertEquals(0, index.duplicates, "records applied twice");
            assertEquals(0, index.foreign, "records no producer wrote");
            return checksums;
        }
    }

    /** Reads acked records back through the running pipeline: the newest acked, and some at random. */
    private void readBack(final String dir, final Journal journal, final Random random)
    {
        if (journal.ackedRecords.isEmpty())
        {
            return;
        }
        final TypeDefinition follow = schema.type(DurabilityProducer.FOLLOW);
        final TypeDefinition user = schema.type(DurabilityProducer.USER);
        try (SpateClient client = SpateClient.connect(new SpateClient.Context().aeronDirectoryName(dir).schema(schema)
            .timeoutMs(30_000)))
        {
            final int size = journal.ackedRecords.size();
            for (int i = 0; i < SAMPLE_READS; i++)
            {
                final long[] acked = i < SAMPLE_READS / 2 ?
                    journal.ackedRecords.get(size - 1 - Math.min(i, size - 1)) :
                    journal.ackedRecords.get(random.nextInt(size));
                final long producer = acked[0];
                final long record = acked[1];
                final long id = acked[2];
                final NodeView node = client.get(DurabilityProducer.isFollow(record) ? follow : user, id);
                assertTrue(null != node, "acked record " + record + " of producer " + producer + " at id " + id +
                    " reads back: " + client.lastReadStatus());
                if (DurabilityProducer.isFollow(record))
                {
                    assertEquals(producer, node.getLong(follow.field("followerId")));
                    assertEquals(record, node.getLong(follow.field("followeeId")));
                }
                else
                {
                    assertEquals(record, node.getLong(user.field("karma")));
                    assertEquals(DurabilityProducer.userName(producer, record), node.getString(user.field("name")));
                }
            }
        }
    }

    private void progress(final String message)
    {
        System.out.printf(Locale.ROOT, "[CrashLoopTest %s +%.1fs] %s%n", testName,
            (System.nanoTime() - testStartNs) / 1e9, message);
        System.out.flush();
    }

    private record Sent(long producer, long first, int count)
    {
    }

    private record Acked(int status, long[] ids)
    {
    }

    /** Every producer's journal so far. */
    private static final class Journal
    {
        final Map<Long, Sent> sent = new HashMap<>();
        final Map<Long, Acked> acked = new HashMap<>();
        /** (producer, record, id) of every acked record, in journal order. */
        final List<long[]> ackedRecords = new ArrayList<>();

        void read(final long producer, final Path file) throws IOException
        {
            // Correlation ids are per client, so they are keyed with the producer.
            final Map<Long, Acked> acks = new HashMap<>();
            final Map<Long, Sent> sends = new HashMap<>();
            try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file))))
            {
                while (true)
                {
                    final int kind;
                    try
                    {
                        kind = in.readByte();
                    }
                    catch (final EOFException end)
                    {
                        break;
                    }
                    final long correlationId = in.readLong();
                    if (kind == 'S')
                    {
                        sends.put(correlationId, new Sent(producer, in.readLong(), in.readInt()));
                    }
                    else if (kind == 'A')
                    {
                        final int status = in.readByte();
                        final int created = in.readInt();
                        final long[] ids = new long[BATCH_SIZE];
                        for (int i = 0; i < created; i++)
                        {
                            final int index = in.readInt();
                            ids[index] = in.readLong();
                        }
                        acks.put(correlationId, new Acked(status, ids));
                    }
                    else
                    {
                        throw new IllegalStateException("journal " + file + " is corrupt: entry kind " + kind);
                    }
                }
            }
            for (final Map.Entry<Long, Sent> entry : sends.entrySet())
            {
                final long key = (producer << 40) | entry.getKey();
                sent.put(key, entry.getValue());
                final Acked ack = acks.get(entry.getKey());
                if (null != ack)
                {
                    acked.put(key, ack);
                    for (int i = 0; i < entry.getValue().count(); i++)
                    {
                        ackedRecords.add(new long[]{ producer, entry.getValue().first() + i, ack.ids()[i] });
                    }
                }
            }
            assertTrue(acks.keySet().stream().allMatch(sends::containsKey), "every ack is of a batch sent");
        }
    }

    /** (producer, record) to id over every live node of both types, counting duplicates and strangers. */
    private static final class StoreIndex
    {
        private final Long2LongHashMap idByRecord = new Long2LongHashMap(0);
        int duplicates;
        int foreign;

        StoreIndex(final DatabaseSchema schema, final NativeStore store)
        {
            final DurabilityProducer.Fields f = DurabilityProducer.Fields.of(schema);
            final int capacity = NodeView.maxLengthBytes(schema);
            try (Arena arena = Arena.ofConfined())
            {
                final MemorySegment out = arena.allocate(capacity, 8);
                final UnsafeBuffer buffer = new UnsafeBuffer(out.address(), capacity);
                final NodeView view = new NodeView();
                for (final TypeDefinition type : List.of(f.follow(), f.user()))
                {
                    // The producers never delete: every id is its slot at generation 0, up to the highest slot used.
                    final long highWaterSlot = store.typeStats(type.typeId()).highWaterSlot();
                    for (long id = 1; id <= highWaterSlot; id++)
                    {
                        final int length = store.get(type.typeId(), id, out.address(), capacity);
                        if (length < 0)
                        {
                            continue; // its create failed
                        }
                        view.wrap(type, buffer, 0, length);
                        final long producer;
                        final long record;
                        final boolean matches;
                        if (type == f.follow())
                        {
                            producer = view.getLong(f.followerId());
                            record = view.getLong(f.followeeId());
                            matches = DurabilityProducer.isFollow(record) &&
                                view.getLong(f.weight()) == DurabilityProducer.weight(record) &&
                                view.getBoolean(f.muted()) == DurabilityProducer.muted(record);
                        }
                        else
                        {
                            producer = view.getLong(f.age());
                            record = view.getLong(f.karma());
                            matches = !DurabilityProducer.isFollow(record) &&
                                DurabilityProducer.userName(producer, record).equals(view.getString(f.name()));
                        }
                        if (!matches)
                        {
                            foreign++;
                            continue;
                        }
                        if (idByRecord.put((producer << 40) | record, id) != 0)
                        {
                            duplicates++;
                        }
                    }
                }
            }
        }

        long idOf(final long producer, final long record)
        {
            return idByRecord.get((producer << 40) | record);
        }
    }
}
