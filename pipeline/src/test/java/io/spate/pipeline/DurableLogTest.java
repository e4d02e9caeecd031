package io.spate.pipeline;

import io.aeron.Aeron;
import io.spate.client.BatchResult;
import io.spate.client.SpateClient;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.TypeDefinition;
import io.spate.driver.DriverConfiguration;
import io.spate.driver.SpateDriver;
import io.spate.store.NativeStore;
import org.agrona.CloseHelper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The durable log in one process (an embedded driver hosting the archive): a pipeline restarted on
 * its data directory holds what it held, ids included, whether it recovers from a snapshot, from the
 * whole log, or from a snapshot and the log after it; snapshots are taken by bytes and old log
 * segments purged; damaged snapshots and logs are refused with one line. Small log terms and
 * archive segments, so the log rotates and purges many times.
 */
class DurableLogTest
{
    private static final int LOG_TERM_LENGTH = 256 << 10;
    private static final long SEGMENT_LENGTH = 1 << 20;

    private final DatabaseSchema schema = PipelineHarness.exampleSchema();
    private Path directory;
    private Path dataDirectory;
    private SpateDriver driver;
    private Aeron aeron;
    private final List<AutoCloseable> open = new ArrayList<>();

    @BeforeEach
    void before() throws IOException
    {
        directory = Files.createTempDirectory("spate-durable-");
        dataDirectory = directory.resolve("data");
        startDriver();
    }

    @AfterEach
    void after() throws IOException
    {
        for (int i = open.size() - 1; i >= 0; i--)
        {
            CloseHelper.quietClose(open.get(i));
        }
        CloseHelper.quietCloseAll(aeron, driver);
        try (Stream<Path> paths = Files.walk(directory))
        {
            paths.sorted(Comparator.reverseOrder()).forEach((path) -> path.toFile().delete());
        }
    }

    private void startDriver()
    {
        startDriver(io.spate.driver.SyncLevel.NONE);
    }

    private void startDriver(final io.spate.driver.SyncLevel syncLevel)
    {
        driver = SpateDriver.launchEmbedded(new DriverConfiguration().syncLevel(syncLevel)
            .aeronDirectoryName(directory.resolve("aeron").toString()).embedded(true)
            .ipcTermBufferLength(LOG_TERM_LENGTH).dataDir(dataDirectory.toString())
            .archiveSegmentFileLength(SEGMENT_LENGTH));
        aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
    }

    private void stopDriver()
    {
        CloseHelper.closeAll(aeron, driver);
        aeron = null;
        driver = null;
    }

    private PipelineConfiguration configuration()
    {
        return new PipelineConfiguration().schema(schema).workerCount(2)
            .threadingMode(PipelineConfiguration.ThreadingMode.SHARED)
            .dataDirectory(dataDirectory.toString())
            .logTermLengthBytes(LOG_TERM_LENGTH)
            .maxBatchBytes(16 << 10)
            .maxRecordsPerBatch(256)
            .modifyBufferBytes(1 << 20)
            .snapshotIntervalBytes(1L << 40)
            .snapshotIntervalMs(0);
    }

    /** A pipeline on a fresh store, closed (with the store) by {@link #after()} unless closed before. */
    private final class Running implements AutoCloseable
    {
        final NativeStore store = NativeStore.open(schema);
        final Pipeline pipeline;
        SpateClient client;

        Running(final PipelineConfiguration configuration)
        {
            Pipeline started = null;
            try
            {
                started = new Pipeline(configuration, aeron, store);
            }
            finally
            {
                if (null == started)
                {
                    store.close();
                }
            }
            pipeline = started;
            open.add(this);
        }

        SpateClient client()
        {
            if (null == client)
            {
                client = SpateClient.connect(new SpateClient.Context().aeron(aeron).schema(schema).timeoutMs(30_000)
                    .batchCapacityBytes(8 << 10));
            }
            return client;
        }

        long[] checksums()
        {
            final long[] sums = new long[schema.types().size() * 4];
            int i = 0;
            for (final TypeDefinition type : schema.types())
            {
                final io.spate.store.StoreTypeStats stats = store.typeStats(type.typeId());
                sums[i++] = store.checksum(type.typeId());
                sums[i++] = store.count(type.typeId());
                sums[i++] = stats.highWaterSlot();
                sums[i++] = stats.freeSlots();
            }
            return sums;
        }

        public void close()
        {
            open.remove(this);
            CloseHelper.closeAll(client, pipeline, store);
        }

        void stop()
        {
            assertTrue(pipeline.drain(30_000), "drained");
            if (null != pipeline.firstError())
            {
                throw new AssertionError("agent error", pipeline.firstError());
            }
            close();
        }
    }

    /**
     * Random creates, updates, increments and deletes over Counter and User (strings): the outcome of
     * each depends on what came before, so a replay in another order would not match.
     */
    private static void write(final SpateClient client, final DatabaseSchema schema, final long seed, final int batches)
    {
        final Random random = new Random(seed);
        final TypeDefinition counter = schema.type("Counter");
        final TypeDefinition user = schema.type("User");
        final List<CompletableFuture<BatchResult>> results = new ArrayList<>();
        for (int batch = 0; batch < batches; batch++)
        {
            final int records = 1 + random.nextInt(40);
            for (int i = 0; i < records; i++)
            {
                final int kind = random.nextInt(10);
                if (kind < 4)
                {
                    client.create(counter);
                    client.set("hits", random.nextInt(1000)).set("balance", random.nextLong());
                }
                else if (kind < 6)
                {
                    client.create(user);
                    client.set("karma", random.nextLong()).set("name", "user-" + random.nextInt(1_000_000))
                        .set("bio", "x".repeat(random.nextInt(200)));
                }
                else if (kind < 8)
                {
                    client.increment("Counter", 1 + random.nextInt(3_000), "hits", 1 + random.nextInt(5));
                }
                else if (kind < 9)
                {
                    client.update("User", 1 + random.nextInt(2_000));
                    client.set("bio", "updated-" + random.nextInt(100));
                }
                else
                {
                    client.delete(random.nextBoolean() ? "Counter" : "User", 1 + random.nextInt(2_000));
                }
            }
            results.add(client.flushAsync());
        }
        assertTrue(client.awaitAcks(60_000), "every batch acked");
        for (final CompletableFuture<BatchResult> result : results)
        {
            assertTrue(result.isDone());
        }
    }

    /**
     * The id a pipeline rebuilt from the store hands out first: its allocator stacks the free ids in ascending slot
     * order, so the highest free slot's next generation comes first, else the next never-used slot.
     */
    static long idAfterRebuild(final NativeStore store, final TypeDefinition type)
    {
        final long[] last = { 0 };
        store.freeIds(type.typeId(), id -> last[0] = id);
        return 0 != last[0] ? last[0] : store.typeStats(type.typeId()).highWaterSlot() + 1;
    }

    @Test
    void aRestartedPipelineHoldsWhatItAckedWithTheSameIds() throws Exception
    {
        final Running first = new Running(configuration());
        write(first.client(), schema, 1, 400);
        final long[] before = first.checksums();
        final long nextCounterId = idAfterRebuild(first.store, schema.type("Counter"));
        first.stop();
        final List<Path> snapshots = SnapshotFile.list(dataDirectory.resolve(DurableLog.SNAPSHOT_DIRECTORY));
        assertEquals(1, snapshots.size(), "a clean stop leaves a snapshot: " + snapshots);

        final Running second = new Running(configuration());
        assertEquals(0, second.pipeline.recovery().batchesReplayed(), "the shutdown snapshot left nothing to replay");
        assertArrayEquals(before, second.checksums(), "the store after recovery");
        final BatchResult created = createOne(second.client(), "Counter");
        assertEquals(nextCounterId, created.createdId(0), "ids go on from the free slots the store holds");
        second.stop();
    }

    @Test
    void replayingTheWholeLogIntoAnEmptyStoreEqualsTheLiveStore() throws Exception
    {
        final Running first = new Running(configuration());
        write(first.client(), schema, 2, 2_000);
        final long[] live = first.checksums();
        final long logPosition = first.pipeline.counters().logPosition().get();
        assertTrue(logPosition > 8L * LOG_TERM_LENGTH, "the log rotated its term many times: " + logPosition);
        first.stop();
        deleteSnapshots();

        final Running rebuilt = new Running(configuration());
        final Recovery recovery = rebuilt.pipeline.recovery();
        assertEquals(-1, recovery.snapshotPosition());
        assertTrue(recovery.batchesReplayed() > 100, "replayed " + recovery.batchesReplayed());
        assertArrayEquals(live, rebuilt.checksums(), "the store rebuilt from the whole log");
        rebuilt.stop();
    }

    @Test
    void snapshotsAreTakenByLogBytesTheNewestTwoKeptAndTheLogBeforeThemPurged() throws Exception
    {
        final Running first = new Running(configuration().snapshotIntervalBytes(1 << 20));
        // Phases of more than the interval each, a snapshot awaited after each: however fast or slow the
        // machine, every phase makes one due.
        for (int phase = 1; phase <= 3; phase++)
        {
            final long before = first.pipeline.counters().logPosition().get();
            write(first.client(), schema, 30 + phase, 1_500);
            assertTrue(first.pipeline.counters().logPosition().get() - before > 1 << 20, "a phase writes over 1 MiB");
            awaitSnapshotsWritten(first, phase);
        }
        final long[] live = first.checksums();
        first.close(); // not drained first: the close still snapshots only if everything dispatched was acked

        final List<Path> kept = SnapshotFile.list(dataDirectory.resolve(DurableLog.SNAPSHOT_DIRECTORY));
        assertEquals(SnapshotWriter.KEEP, kept.size(), "the newest two are kept: " + kept);
        try (var archive = io.aeron.archive.client.AeronArchive.connect(
            io.spate.driver.ArchiveSettings.clientContext(aeron)))
        {
            final long recordingId = DataIdentity.read(dataDirectory).recordingId();
            final long start = archive.getStartPosition(recordingId);
            assertTrue(start > 0, "segments before the older snapshot are purged: start " + start);
            assertTrue(start <= SnapshotFile.positionOf(kept.get(1)), "the log reaches back to the older snapshot");
        }

        // The newest snapshot gone (moved away by an operator): the older one and the log after it.
        Files.delete(kept.get(0));
        final Running second = new Running(configuration());
        assertEquals(SnapshotFile.positionOf(kept.get(1)), second.pipeline.recovery().snapshotPosition());
        assertTrue(second.pipeline.recovery().batchesReplayed() > 0);
        assertArrayEquals(live, second.checksums(), "older snapshot + log");
        second.stop();
    }

    @Test
    void aPipelineClosedWithBatchesInFlightRecoversFromTheLog() throws Exception
    {
        final Running first = new Running(configuration());
        write(first.client(), schema, 4, 300);
        final long[] acked = first.checksums();
        first.close(); // no drain: a stop as abrupt as this process allows
        final Running second = new Running(configuration());
        assertArrayEquals(acked, second.checksums());
        second.stop();
    }

    @Test
    void aDamagedSnapshotIsRefusedWithOneLine() throws Exception
    {
        final Running first = new Running(configuration());
        write(first.client(), schema, 5, 50);
        first.stop();
        final Path snapshot = SnapshotFile.list(dataDirectory.resolve(DurableLog.SNAPSHOT_DIRECTORY)).getFirst();
        flipByte(snapshot, Files.size(snapshot) / 2);

        final DurableStateException refused =
            assertThrows(DurableStateException.class, () -> new Running(configuration()));
        assertTrue(refused.getMessage().startsWith("snapshot " + snapshot + " is damaged: its CRC32C does not match"),
            refused.getMessage());
        assertFalse(refused.getMessage().contains("\n"));

        try (FileChannel channel = FileChannel.open(snapshot, StandardOpenOption.WRITE))
        {
            channel.truncate(Files.size(snapshot) - 100);
        }
        final DurableStateException truncated =
            assertThrows(DurableStateException.class, () -> new Running(configuration()));
        assertTrue(truncated.getMessage().contains("(truncated?)"), truncated.getMessage());
    }

    @Test
    void aTruncatedLogSegmentIsRefusedWithOneLine() throws Exception
    {
        final Running first = new Running(configuration());
        write(first.client(), schema, 6, 400);
        first.stop();
        deleteSnapshots();
        stopDriver();
        final Path segment;
        try (Stream<Path> files = Files.list(dataDirectory.resolve("archive")))
        {
            segment = files.filter((path) -> path.getFileName().toString().endsWith(".rec"))
                .min(Comparator.naturalOrder()).orElseThrow();
        }
        try (FileChannel channel = FileChannel.open(segment, StandardOpenOption.WRITE))
        {
            channel.truncate(100_000);
        }
        startDriver();
        final DurableStateException refused =
            assertThrows(DurableStateException.class, () -> new Running(configuration()));
        assertTrue(refused.getMessage().contains("log") && refused.getMessage().contains("recording"),
            refused.getMessage());
        assertFalse(refused.getMessage().contains("\n"), refused.getMessage());
    }

    @Test
    void aDataDirectoryIsRefusedWithAnotherSchema() throws Exception
    {
        final Running first = new Running(configuration());
        write(first.client(), schema, 7, 10);
        first.stop();
        final DatabaseSchema other = io.spate.codec.SchemaCompiler.compile("""
            {"name": "other", "types": [{"name": "Thing", "maxNodes": 100, "fields": [{"name": "n", "type": "u64"}]}]}
            """, "other.json");
        final DurableStateException refused = assertThrows(DurableStateException.class, () ->
        {
            try (NativeStore store = NativeStore.open(other))
            {
                new Pipeline(configuration().schema(other), aeron, store).close();
            }
        });
        assertTrue(refused.getMessage().contains("holds database schema social"), refused.getMessage());
    }

    @Test
    void withSyncDataAcksWaitForTheSyncedLogAndARestartHoldsThem() throws Exception
    {
        stopDriver();
        startDriver(io.spate.driver.SyncLevel.DATA);
        final Running first = new Running(configuration().sync("data"));
        assertEquals(io.spate.driver.SyncLevel.DATA, first.pipeline.recovery().syncLevel());
        write(first.client(), schema, 8, 200);
        final long[] acked = first.checksums();
        first.close(); // no drain, no promise beyond the acks
        deleteSnapshots();
        final Running second = new Running(configuration().sync("data"));
        assertArrayEquals(acked, second.checksums());
        second.stop();
    }

    /**
     * A pipeline killed in the middle of appending a batch larger than one fragment leaves its log
     * publication blocked for good (Aeron's unblocker pads only up to a later frame): the recording never
     * stops by itself. Simulated in-process: a client whose conductor is never run again appends a
     * fragmented message that dies after its first fragment. The next start stops the stuck recording,
     * drops that fragment (never a whole batch, never acked) and holds the store as it was.
     */
    @Test
    void aRecordingLeftBlockedByAPipelineKilledMidBatchIsStoppedAndRecovered() throws Exception
    {
        final Running first = new Running(configuration());
        write(first.client(), schema, 9, 100);
        final long[] acked = first.checksums();
        first.stop();
        final DataIdentity identity = DataIdentity.read(dataDirectory);

        final Aeron dead = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName())
            .useConductorAgentInvoker(true));
        try (var archive = io.aeron.archive.client.AeronArchive.connect(io.spate.driver.ArchiveSettings.clientContext(aeron)))
        {
            final RecordingInfo info = RecordingInfo.find(archive, identity.recordingId());
            final long stop = archive.getStopPosition(identity.recordingId());
            final io.aeron.ExclusivePublication publication = dead.addExclusivePublication(
                new io.aeron.ChannelUriStringBuilder().media("ipc").termLength(info.termBufferLength()).mtu(info.mtuLength())
                    .initialPosition(stop, info.initialTermId(), info.termBufferLength()).build(), identity.streamId());
            archive.extendRecording(identity.recordingId(), "aeron:ipc?session-id=" + publication.sessionId(),
                identity.streamId(), io.aeron.archive.codecs.SourceLocation.LOCAL, true);
            while (archive.getStopPosition(identity.recordingId()) != io.aeron.archive.client.AeronArchive.NULL_POSITION ||
                io.aeron.archive.status.RecordingPos.findCounterIdBySession(aeron.countersReader(), publication.sessionId(),
                archive.archiveId()) < 0)
            {
                dead.conductorAgentInvoker().invoke();
                Thread.sleep(1);
            }
            final int[] fragments = { 0 };
            final org.agrona.concurrent.UnsafeBuffer batch = new org.agrona.concurrent.UnsafeBuffer(
                new byte[info.termBufferLength() / 8 - 64]); // the largest message: two fragments here
            assertThrows(IllegalStateException.class, () -> publication.offer(batch, 0, batch.capacity(),
                (termBuffer, termOffset, frameLength) ->
                {
                    if (++fragments[0] == 2)
                    {
                        throw new IllegalStateException("killed in the middle of the batch");
                    }
                    return 0;
                }));
        }

        final Running second = new Running(configuration());
        assertTrue(second.pipeline.recovery().truncatedBytes() > 0, "the batch's recorded fragment is dropped");
        assertArrayEquals(acked, second.checksums());
        final BatchResult created = createOne(second.client(), "User");
        assertTrue(created.isOk(), created.toString());
        second.stop();
        CloseHelper.quietClose(dead);
    }

    @Test
    void aPipelineThatNeedsSyncDataRefusesAnArchiveThatDoesNotSync()
    {
        final DurableStateException refused =
            assertThrows(DurableStateException.class, () -> new Running(configuration().sync("data")));
        assertTrue(refused.getMessage().startsWith("the pipeline needs --sync data but the driver's archive syncs none"),
            refused.getMessage());
    }

    @Test
    void aDurablePipelineRefusesADriverWithoutAnArchive() throws IOException
    {
        stopDriver();
        driver = SpateDriver.launchEmbedded(new DriverConfiguration()
            .aeronDirectoryName(directory.resolve("plain").toString()).embedded(true));
        aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
        final DurableStateException refused = assertThrows(DurableStateException.class, () -> new Running(configuration()));
        assertTrue(refused.getMessage().contains("runs no archive: start it with `bin/spate driver --data DIR`"),
            refused.getMessage());
    }

    private static BatchResult createOne(final SpateClient client, final String type)
    {
        client.create(type);
        return client.flushAndAwait();
    }

    private static void awaitSnapshotsWritten(final Running running, final long count) throws InterruptedException
    {
        final long deadlineNs = System.nanoTime() + 60_000_000_000L;
        while (running.pipeline.counters().snapshots().get() < count)
        {
            if (System.nanoTime() > deadlineNs)
            {
                throw new AssertionError("no snapshot " + count + " after a phase of more than the interval: " +
                    running.pipeline.counters().snapshots().get() + " written");
            }
            Thread.sleep(10);
        }
    }

    private void deleteSnapshots() throws IOException
    {
        for (final Path snapshot : SnapshotFile.list(dataDirectory.resolve(DurableLog.SNAPSHOT_DIRECTORY)))
        {
            Files.delete(snapshot);
        }
    }

    private static void flipByte(final Path file, final long position) throws IOException
    {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE))
        {
            final ByteBuffer one = ByteBuffer.allocate(1);
            channel.read(one, position);
            one.put(0, (byte)(one.get(0) ^ 0x5A)).position(0);
            channel.write(one, position);
        }
    }
}
