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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

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
            // Its first fragment names its length, as a LogBatch's message header does: the replay checks that the
            // fragments it leaves out are the start of a longer message.
            new io.spate.wire.MessageHeaderEncoder().wrap(batch, 0).frameLengthBytes(batch.capacity());
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

    /**
     * Damage in the middle of the log, as a disk or an operator could leave it: each kind must stop the start
     * with one line, and nothing may be cut: the recording's stop position and every segment file's bytes stay
     * as they were (the acknowledged batches after the damage are still there for whoever repairs it).
     */
    enum LogDamage
    {
        /** A payload byte flipped: the frame's CRC32C (the archive's record checksum) fails on replay. */
        PAYLOAD_BYTE_FLIPPED,
        /** The frame's type turned to padding: the header is not checksummed, a whole batch would vanish. */
        FRAME_TURNED_TO_PADDING,
        /** The frame's length one byte short (its aligned length, so the checksum, unchanged). */
        FRAME_LENGTH_ONE_SHORT,
        /** The second half of the frame's payload zeros, as a torn write leaves it, with whole frames after it. */
        FRAGMENT_TORN,
        /**
         * The frame's length 1 MiB, more than the archive reads at once: its replay stops moving without an error,
         * and the start is refused after {@link LogReplayer#STALL_MS} (tried once: it takes that long).
         */
        FRAME_LENGTH_PAST_THE_READ
    }

    @ParameterizedTest
    @EnumSource(LogDamage.class)
    void damageInTheMiddleOfTheLogIsRefusedWithOneLineAndNothingIsTruncated(final LogDamage damage) throws Exception
    {
        final long seed = 40 + damage.ordinal();
        System.out.println("damageInTheMiddleOfTheLog " + damage + " seed=" + seed);
        final Running first = new Running(configuration());
        write(first.client(), schema, seed, 2_000);
        first.stop();
        deleteSnapshots(); // the replay covers the whole log
        final long recordingId = DataIdentity.read(dataDirectory).recordingId();
        final long stopPosition = stopPosition(recordingId);
        assertTrue(stopPosition > 2 * SEGMENT_LENGTH, "the log spans segments: " + stopPosition);
        stopDriver();

        // A batch in one frame near the middle of the log, in the middle of its segment file.
        final long middle = stopPosition / 2;
        final Path segment = dataDirectory.resolve("archive").resolve(recordingId + "-" +
            (middle - middle % SEGMENT_LENGTH) + ".rec");
        final int frame = unfragmentedFrameAtOrAfter(segment, (int)(middle % SEGMENT_LENGTH));
        damage(segment, frame, damage);
        final java.util.Map<Path, String> files = segmentDigests();

        startDriver();
        for (int attempt = 0; attempt < (damage == LogDamage.FRAME_LENGTH_PAST_THE_READ ? 1 : 2); attempt++)
        {
            final DurableStateException refused =
                assertThrows(DurableStateException.class, () -> new Running(configuration()));
            System.out.println("damageInTheMiddleOfTheLog " + damage + ": " + refused.getMessage());
            assertFalse(refused.getMessage().contains("\n"), refused.getMessage());
            assertTrue(refused.getMessage().contains("damaged"), refused.getMessage());
            assertEquals(stopPosition, stopPosition(recordingId), "the recording is not truncated");
            assertEquals(files, segmentDigests(), "no segment file changed");
        }
    }

    /**
     * A worker that throws, or whose store walk stops early, in a durable pipeline: the batch is in the log but
     * not (wholly) in the store. Acking it NOT_APPLIED would be a lie a restart tells differently (its replay
     * applies the batch), so the pipeline stops: a fatal error naming the batch, no ack of it. The restart
     * replays the logged batch whole: the store equals a replay of the log and a fault-free pipeline fed the same.
     */
    enum WorkerFault
    {
        THROWS_SHARED(PipelineConfiguration.ThreadingMode.SHARED),
        THROWS_DEDICATED(PipelineConfiguration.ThreadingMode.DEDICATED),
        WALK_STOPS_EARLY_SHARED(PipelineConfiguration.ThreadingMode.SHARED);

        final PipelineConfiguration.ThreadingMode mode;

        WorkerFault(final PipelineConfiguration.ThreadingMode mode)
        {
            this.mode = mode;
        }
    }

    @ParameterizedTest
    @EnumSource(WorkerFault.class)
    void aWorkerFaultStopsADurablePipelineWithoutAckAndARestartAppliesTheLoggedBatch(final WorkerFault fault)
        throws Exception
    {
        final long failingSeq = 3;
        final FaultInjector faults = new FaultInjector()
        {
            public void beforeApply(final int worker, final long batchSeq)
            {
                if (fault != WorkerFault.WALK_STOPS_EARLY_SHARED && batchSeq == failingSeq)
                {
                    throw new IllegalStateException("injected: worker " + worker + " fails batch " + batchSeq);
                }
            }

            public long applyLengthBytes(final int worker, final long batchSeq, final long lengthBytes)
            {
                return fault == WorkerFault.WALK_STOPS_EARLY_SHARED && batchSeq == failingSeq ? lengthBytes / 2 : lengthBytes;
            }
        };
        final TypeDefinition user = schema.type("User");
        final Running first = new Running(configuration().threadingMode(fault.mode).faultInjector(faults));
        // Its own: it outlives the pipeline, takes its session back after the restart and resends the failed batch.
        final SpateClient client = SpateClient.connect(new SpateClient.Context().aeron(aeron).schema(schema)
            .timeoutMs(60_000).batchCapacityBytes(8 << 10));
        open.add(client);
        for (int b = 0; b < failingSeq - 1; b++)
        {
            final BatchResult acked = createUsers(client, user, b);
            assertTrue(acked.isOk(), acked.toString());
        }
        final long answersBefore = first.pipeline.counters().acksSent().get();
        createUsersUnflushed(client, user, (int)failingSeq - 1);
        final CompletableFuture<BatchResult> failed = client.flushAsync();
        final long deadlineNs = System.nanoTime() + 10_000_000_000L;
        while (null == first.pipeline.fatalError() && System.nanoTime() < deadlineNs)
        {
            client.poll();
            Thread.sleep(1);
        }
        final String fatal = first.pipeline.fatalError();
        System.out.println(fault + ": fatal: " + fatal + "; result " + (failed.isDone() ? failed.get() : "none"));
        assertTrue(null != fatal && fatal.contains("batch " + failingSeq), "a fatal error naming the batch: " + fatal);
        assertFalse(fatal.contains("\n"), fatal);
        final long pollUntilNs = System.nanoTime() + 300_000_000L;
        while (System.nanoTime() < pollUntilNs)
        {
            client.poll();
            Thread.sleep(1);
        }
        // No answer: the producer keeps the batch and waits to take its session back.
        assertFalse(failed.isDone(), "no answer for the failed batch: " + failed);
        assertEquals(answersBefore, first.pipeline.counters().acksSent().get(), "no answer sent after the batches before it");
        first.close();
        assertTrue(SnapshotFile.list(dataDirectory.resolve(DurableLog.SNAPSHOT_DIRECTORY)).isEmpty(),
            "no snapshot of a store the fault left part-applied");

        // The restart replays the log, the failed batch whole.
        final Running second = new Running(configuration());
        final Recovery recovery = second.pipeline.recovery();
        assertEquals(failingSeq, recovery.lastSeq(), recovery.toString());
        assertEquals(failingSeq, recovery.batchesReplayed(), recovery.toString());
        // The producer resumes its session and resends the batch: answered from the ledger the replay rebuilt, with
        // the ids the log gave it, applied once.
        final long resumeDeadlineNs = System.nanoTime() + 60_000_000_000L;
        while (!failed.isDone() && System.nanoTime() < resumeDeadlineNs)
        {
            client.poll();
            Thread.sleep(1);
        }
        final BatchResult resent = failed.getNow(null);
        assertTrue(null != resent, "the resent batch answered after the restart");
        assertTrue(resent.isOk(), resent.toString());
        assertEquals((failingSeq - 1) * USERS_PER_BATCH + 1, resent.createdId(0), resent.toString());
        assertEquals(1, client.resumedSessions());
        final SpateClient reader = client;
        for (int i = 0; i < USERS_PER_BATCH; i++)
        {
            final long id = (failingSeq - 1) * USERS_PER_BATCH + 1 + i;
            final io.spate.client.NodeView node = reader.get(user, id);
            assertTrue(null != node, "node " + id + " of the failed batch, applied by the replay");
            assertEquals(((int)failingSeq - 1) * 10 + i, node.getLong(user.field("age")), "node " + id);
        }
        // Slots go on after the batch's: its ids are live, never handed out again.
        final BatchResult next = createUsers(reader, user, (int)failingSeq);
        assertEquals(failingSeq * USERS_PER_BATCH + 1, next.createdId(0), next.toString());
        final String recovered = second.store.contentFingerprint();
        second.stop();

        // A reference replay of the log alone, into a fresh store.
        deleteSnapshots();
        try (NativeStore replayed = NativeStore.open(schema))
        {
            final String rebuilt = Rebuild.into(aeron, dataDirectory.toString(), schema, replayed, System.out);
            assertEquals(recovered, replayed.contentFingerprint(), "the restarted store equals a replay of the log");
            assertTrue(rebuilt.equals(recovered), rebuilt + " / " + recovered);
        }
        // And a fault-free in-memory pipeline fed the same batches.
        final Running reference = new Running(configuration().dataDirectory(null));
        for (int b = 0; b <= failingSeq; b++)
        {
            assertTrue(createUsers(reference.client(), user, b).isOk());
        }
        assertEquals(recovered, reference.store.contentFingerprint(), "the store a fault-free pipeline reaches");
        reference.stop();
    }

    private static final int USERS_PER_BATCH = 10;

    private static void createUsersUnflushed(final SpateClient client, final TypeDefinition user, final int batch)
    {
        for (int i = 0; i < USERS_PER_BATCH; i++)
        {
            client.create(user);
            client.setLong(user.field("age"), batch * 10 + i); // u8
        }
    }

    private static BatchResult createUsers(final SpateClient client, final TypeDefinition user, final int batch)
    {
        createUsersUnflushed(client, user, batch);
        return client.flushAndAwait();
    }

    private long stopPosition(final long recordingId)
    {
        try (var archive = io.aeron.archive.client.AeronArchive.connect(io.spate.driver.ArchiveSettings.clientContext(aeron)))
        {
            return archive.getStopPosition(recordingId);
        }
    }

    private java.util.Map<Path, String> segmentDigests() throws Exception
    {
        final java.util.Map<Path, String> digests = new java.util.TreeMap<>();
        try (Stream<Path> files = Files.list(dataDirectory.resolve("archive")))
        {
            for (final Path file : files.filter((path) -> path.toString().endsWith(".rec")).toList())
            {
                digests.put(file, java.util.HexFormat.of().formatHex(
                    java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file))));
            }
        }
        return digests;
    }

    /**
     * @return the offset of the first data frame at or after {@code from} that holds a whole message (flags
     * BEGIN|END) and whose length is not one past a 32-byte boundary (so one byte less keeps its aligned length).
     */
    private static int unfragmentedFrameAtOrAfter(final Path segment, final int from) throws IOException
    {
        final ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(segment)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        int at = 0;
        while (at + 32 <= bytes.capacity())
        {
            final int frameLength = bytes.getInt(at);
            assertTrue(frameLength >= 32, "a frame at " + at + " of " + segment);
            if (at >= from && (bytes.get(at + 5) & 0xFF) == 0xC0 && bytes.getShort(at + 6) == 1 && frameLength % 32 != 1)
            {
                return at;
            }
            at += (frameLength + 31) & ~31;
        }
        throw new AssertionError("no unfragmented frame after " + from + " in " + segment);
    }

    private static void damage(final Path segment, final int frame, final LogDamage damage) throws IOException
    {
        try (FileChannel channel = FileChannel.open(segment, StandardOpenOption.READ, StandardOpenOption.WRITE))
        {
            final ByteBuffer header = ByteBuffer.allocate(32).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            channel.read(header, frame);
            final int frameLength = header.getInt(0);
            final int payloadMiddle = frame + 32 + (frameLength - 32) / 2;
            System.out.println("damage " + damage + " to the frame at offset " + frame + " (" + frameLength + " bytes) of " +
                segment);
            switch (damage)
            {
                case PAYLOAD_BYTE_FLIPPED ->
                {
                    channel.close();
                    flipByte(segment, payloadMiddle);
                }
                case FRAME_TURNED_TO_PADDING -> channel.write(ByteBuffer.allocate(2), frame + 6); // HDR_TYPE_PAD = 0
                case FRAME_LENGTH_ONE_SHORT -> channel.write(
                    ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(0, frameLength - 1), frame);
                case FRAME_LENGTH_PAST_THE_READ -> channel.write(
                    ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(0, 1 << 20), frame);
                case FRAGMENT_TORN -> channel.write(
                    ByteBuffer.allocate(frame + ((frameLength + 31) & ~31) - payloadMiddle), payloadMiddle);
            }
        }
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
