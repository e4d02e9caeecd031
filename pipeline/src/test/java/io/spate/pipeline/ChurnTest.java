package io.spate.pipeline;

import io.aeron.Aeron;
import io.spate.client.SpateClient;
import io.spate.codec.DatabaseSchema;
import io.spate.driver.DriverConfiguration;
import io.spate.driver.SpateDriver;
import io.spate.store.NativeStore;
import io.spate.store.StoreTypeStats;
import org.agrona.CloseHelper;
import org.agrona.IoUtil;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A type that churns for ten times its maxNodes in creates, end to end through the pipeline: never
 * {@code TYPE_FULL} or {@code ARENA_FULL} (the arena holds a fraction of the bytes ever written, the slots a
 * fraction of the creates), every id new, stale ids never reaching a live node, and the store's memory flat:
 * the slots used never above maxNodes, the arena's reserved bytes bounded by the live values. In memory, and
 * durable with restarts in the middle (from the log alone, then from a snapshot): the same store after
 * recovery, and the churn goes on from it.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class ChurnTest
{
    private static final int MAX_NODES = 2_000;
    private static final int LIVE_TARGET = 1_500;
    /** Roughly 1,500 live tokens of 24 bytes on average in 32-byte blocks: 48 KiB, in 96 KiB of arena. */
    private static final long ARENA_BYTES = 96 << 10;
    private static final int RECORDS_PER_BATCH = 100;
    private static final int LIFETIME_CREATES = 10 * MAX_NODES;

    private final DatabaseSchema schema = ChurnWorkload.schema(MAX_NODES, ARENA_BYTES);

    @Test
    void inMemoryChurnOfTenTimesMaxNodesRunsAtASteadyLiveCount()
    {
        try (PipelineHarness harness = new PipelineHarness(schema, c -> c.workerCount(2));
            SpateClient client = harness.client())
        {
            final ChurnWorkload churn = new ChurnWorkload(schema, LIVE_TARGET, 19);
            final StoreTypeStats stats = new StoreTypeStats();
            long reservedAfterFill = -1;
            while (churn.creates() < LIFETIME_CREATES)
            {
                churn.round(client, RECORDS_PER_BATCH);
                harness.store.typeStats(churn.type().typeId(), stats);
                assertTrue(stats.highWaterSlot() <= MAX_NODES, "slots used " + stats);
                if (reservedAfterFill < 0 && churn.creates() >= MAX_NODES)
                {
                    reservedAfterFill = stats.arenaReservedBytes();
                }
            }
            churn.verify(client, 200);
            harness.store.typeStats(churn.type().typeId(), stats);
            report("in memory", churn, stats);
            assertTrue(churn.staleWrites() > 0 && churn.deletes() > LIFETIME_CREATES - MAX_NODES, "the churn churned");
            assertTrue(stats.arenaReservedBytes() <= ARENA_BYTES, stats.toString());
            assertEquals(churn.liveCount(), stats.liveNodes());
            assertNull(harness.pipeline.firstError());
        }
    }

    @Test
    void durableChurnRecoversTheSameStoreFromTheLogAndFromASnapshot() throws Exception
    {
        final Path directory = Files.createTempDirectory("spate-churn-");
        final Path data = directory.resolve("data");
        SpateDriver driver = null;
        Aeron aeron = null;
        try
        {
            driver = SpateDriver.launchEmbedded(new DriverConfiguration()
                .aeronDirectoryName(directory.resolve("aeron").toString()).embedded(true)
                .ipcTermBufferLength(1 << 20).dataDir(data.toString()).archiveSegmentFileLength(1 << 22));
            aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
            final PipelineConfiguration configuration = new PipelineConfiguration().schema(schema).workerCount(2)
                .dataDirectory(data.toString()).logTermLengthBytes(1 << 20).maxBatchBytes(16 << 10).maxRecordsPerBatch(256)
                .snapshotIntervalBytes(1L << 40).snapshotIntervalMs(0);
            final ChurnWorkload churn = new ChurnWorkload(schema, LIVE_TARGET, 23);

            // 1. A third of the churn, then a stop whose snapshot is removed: the restart replays the whole log.
            String before = churnFor(aeron, configuration, churn, LIFETIME_CREATES / 3, null);
            try (var snapshots = Files.list(data.resolve(DurableLog.SNAPSHOT_DIRECTORY)))
            {
                for (final Path snapshot : snapshots.toList())
                {
                    Files.delete(snapshot);
                }
            }
            // 2. Recovered from the log alone: the same store; another third of the churn on it.
            before = churnFor(aeron, configuration, churn, 2 * LIFETIME_CREATES / 3, before);
            // 3. Recovered from the stop's snapshot: the same store again; the rest of the churn.
            churnFor(aeron, configuration, churn, LIFETIME_CREATES, before);
        }
        finally
        {
            CloseHelper.quietCloseAll(aeron, driver);
            IoUtil.delete(directory.toFile(), true);
        }
    }

    /**
     * Starts a pipeline on the data directory (recovering what is there), checks that it holds what the previous
     * one held, churns until the lifetime creates reach {@code creates}, and stops it cleanly.
     *
     * @return the store's fingerprint at the stop.
     */
    private String churnFor(
        final Aeron aeron, final PipelineConfiguration configuration, final ChurnWorkload churn, final long creates,
        final String expectedFingerprint)
    {
        final NativeStore store = NativeStore.open(schema);
        Pipeline pipeline = null;
        SpateClient client = null;
        try
        {
            pipeline = new Pipeline(configuration, aeron, store);
            if (null != expectedFingerprint)
            {
                assertEquals(expectedFingerprint, store.contentFingerprint(), "recovered store");
            }
            client = SpateClient.connect(new SpateClient.Context().aeron(aeron).schema(schema).timeoutMs(30_000)
                .batchCapacityBytes(32 << 10));
            if (null != expectedFingerprint)
            {
                churn.verify(client, 100);
            }
            final StoreTypeStats stats = new StoreTypeStats();
            while (churn.creates() < creates)
            {
                churn.round(client, RECORDS_PER_BATCH);
            }
            store.typeStats(churn.type().typeId(), stats);
            report("durable", churn, stats);
            assertTrue(stats.highWaterSlot() <= MAX_NODES, stats.toString());
            assertTrue(pipeline.drain(30_000), "drained");
            assertNull(pipeline.firstError());
            CloseHelper.closeAll(client, pipeline);
            client = null;
            pipeline = null;
            return store.contentFingerprint();
        }
        finally
        {
            CloseHelper.quietCloseAll(client, pipeline, store);
        }
    }

    private static void report(final String mode, final ChurnWorkload churn, final StoreTypeStats stats)
    {
        System.out.printf(Locale.ROOT, "churn %s: creates=%d deletes=%d stale_writes=%d live=%d; store %s%n",
            mode, churn.creates(), churn.deletes(), churn.staleWrites(), churn.liveCount(), stats);
    }
}
