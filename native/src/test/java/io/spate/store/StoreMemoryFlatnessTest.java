package io.spate.store;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordWriter;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.codec.testing.ReferenceStore;
import io.spate.wire.RecordStatus;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Memory follows the live data: one type takes 20 times its maxNodes in creates over its lifetime with a
 * steady live count, the creates taking freed ids the way the pipeline's IdAllocator hands them out (a stack
 * of freed slots at their next generation, the most recently freed on top, filled after the batch that freed
 * them; a never-used slot only when the stack is empty). The stats row must stay flat: the highest slot used
 * (so the rows committed) stops at the most ids ever in use, the arena stays within its capacity, and no
 * create is ever refused, neither TYPE_FULL nor ARENA_FULL. Every outcome and the final state are checked
 * against the reference model too. Deterministic: no figure depends on the machine.
 */
class StoreMemoryFlatnessTest
{
    private static final int MAX_NODES = 4096;
    private static final int LIFETIME_CREATES = 20 * MAX_NODES;
    /** Deletes (then creates) per batch; the creates take ids freed by earlier batches. */
    private static final int CHURN_PER_BATCH = 32;
    /** Live nodes between batches: ids in use (live + freed in the batch, not yet reusable) stay within maxNodes. */
    private static final int STEADY_LIVE_NODES = MAX_NODES - CHURN_PER_BATCH;
    private static final int MAX_STRING_BYTES = 200;
    private static final int MAX_BYTES_BYTES = 64;
    /** The most arena bytes the live values need, each in its smallest block. */
    private static final long MOST_LIVE_ARENA_BYTES =
        (long)MAX_NODES * (ReferenceStore.blockBytes(MAX_STRING_BYTES) + ReferenceStore.blockBytes(MAX_BYTES_BYTES));
    private static final long SEED = 0xF1A7L;

    enum Sizes
    {
        /** A create's values have the sizes of a node deleted in its batch: every block comes off a free list. */
        REPLACING,
        /** Random sizes in an arena of twice what the live values can need: fragmentation, compactions. */
        RANDOM
    }

    @ParameterizedTest(name = "{0} sizes")
    @EnumSource(Sizes.class)
    void aTypeUnderTwentyTimesMaxNodesCreatesShouldStayFlat(final Sizes sizes)
    {
        final DatabaseSchema schema = SchemaCompiler.compile("{\"name\":\"flat\",\"types\":[{\"name\":\"T\",\"maxNodes\":" +
            MAX_NODES + ",\"maxArenaBytes\":" + 2 * MOST_LIVE_ARENA_BYTES + ",\"fields\":[" +
            "{\"name\":\"n\",\"type\":\"u64\"}," +
            "{\"name\":\"s\",\"type\":\"string\",\"maxBytes\":" + MAX_STRING_BYTES + "}," +
            "{\"name\":\"b\",\"type\":\"bytes\",\"maxBytes\":" + MAX_BYTES_BYTES + "}]}]}", "flat");
        final TypeDefinition type = schema.type("T");
        final int slotBits = ReferenceStore.slotBits(MAX_NODES);
        final Random random = new Random(SEED);
        final String context = sizes + " sizes, seed " + SEED;
        try (StoreComparison comparison = new StoreComparison(schema, 4096);
            OffHeapBuffer batch = new OffHeapBuffer(1 << 20))
        {
            final NativeStore store = comparison.store();
            final RecordWriter writer = new RecordWriter(schema);
            // What the allocator knows: live ids (with their value sizes) and the stack of reusable ids.
            final List<long[]> live = new ArrayList<>(); // id, string length, bytes length
            final long[] freeStack = new long[MAX_NODES];
            int freeCount = 0;
            long highWaterSlot = 0;
            long creates = 0;
            final StoreTypeStats stats = new StoreTypeStats();
            final StoreTypeStats afterFill = new StoreTypeStats();
            long mostHighWaterSlot = 0;
            long mostArenaReservedBytes = 0;
            int batchNumber = 0;

            // Fill to the steady live count with never-used slots.
            writer.wrap(batch.buffer(), 0, batch.capacityBytes());
            for (int i = 0; i < STEADY_LIVE_NODES; i++)
            {
                final long id = ++highWaterSlot;
                final int stringBytes = random.nextInt(MAX_STRING_BYTES + 1);
                final int bytesBytes = random.nextInt(MAX_BYTES_BYTES + 1);
                create(writer, type, id, stringBytes, bytesBytes, random);
                live.add(new long[]{ id, stringBytes, bytesBytes });
                creates++;
            }
            applyAllOk(comparison, batch, writer.endBatch(), context + " fill");
            store.typeStats(type.typeId(), afterFill);

            while (creates < LIFETIME_CREATES)
            {
                // The ids this batch's creates take: freed by earlier batches (the pipeline frees a batch's ids when
                // it acks it), most recently freed first; a never-used slot only when none is left.
                final long[] createIds = new long[CHURN_PER_BATCH];
                for (int i = 0; i < CHURN_PER_BATCH; i++)
                {
                    createIds[i] = freeCount > 0 ? freeStack[--freeCount] : ++highWaterSlot;
                }
                writer.wrap(batch.buffer(), 0, batch.capacityBytes());
                final long[] deleted = new long[CHURN_PER_BATCH];
                final int[][] deletedSizes = new int[CHURN_PER_BATCH][];
                for (int i = 0; i < CHURN_PER_BATCH; i++)
                {
                    final long[] victim = live.remove(random.nextInt(live.size()));
                    deleted[i] = victim[0];
                    deletedSizes[i] = new int[]{ (int)victim[1], (int)victim[2] };
                    writer.delete(type, victim[0]);
                }
                for (int i = 0; i < CHURN_PER_BATCH; i++)
                {
                    final int stringBytes = sizes == Sizes.REPLACING ? deletedSizes[i][0] : random.nextInt(MAX_STRING_BYTES + 1);
                    final int bytesBytes = sizes == Sizes.REPLACING ? deletedSizes[i][1] : random.nextInt(MAX_BYTES_BYTES + 1);
                    create(writer, type, createIds[i], stringBytes, bytesBytes, random);
                    live.add(new long[]{ createIds[i], stringBytes, bytesBytes });
                    creates++;
                }
                applyAllOk(comparison, batch, writer.endBatch(), context + " batch " + batchNumber++);
                // Acked: the deleted ids come back at their next generation.
                for (final long id : deleted)
                {
                    freeStack[freeCount++] = ((id >>> slotBits) + 1) << slotBits | (id & ((1L << slotBits) - 1));
                }

                store.typeStats(type.typeId(), stats);
                final String where = context + " after " + creates + " creates: " + stats;
                assertEquals(STEADY_LIVE_NODES, stats.liveNodes(), where);
                assertEquals(highWaterSlot, stats.highWaterSlot(), where);
                assertTrue(stats.highWaterSlot() <= MAX_NODES, where + ": rows beyond the most ids ever in use");
                assertEquals(stats.highWaterSlot() - STEADY_LIVE_NODES, stats.freeSlots(), where);
                assertEquals(0, stats.retiredSlots(), where);
                assertTrue(stats.arenaReservedBytes() <= stats.arenaCapacityBytes(), where);
                assertEquals(stats.arenaLiveBytes() + stats.arenaFreeBytes(), stats.arenaReservedBytes(), where);
                // Without reuse the arena would hold every value ever written, 20 times the live data by the end.
                assertTrue(stats.arenaReservedBytes() <= 2 * afterFill.arenaReservedBytes(),
                    where + ": the arena follows the live data");
                if (sizes == Sizes.REPLACING)
                {
                    // Every block a create needs comes off the free list its delete put it on.
                    assertEquals(afterFill.arenaReservedBytes(), stats.arenaReservedBytes(), where);
                    assertEquals(afterFill.arenaLiveBytes(), stats.arenaLiveBytes(), where);
                    assertEquals(0, stats.arenaFreeBytes(), where);
                    assertEquals(0, stats.arenaCompactions(), where);
                }
                mostHighWaterSlot = Math.max(mostHighWaterSlot, stats.highWaterSlot());
                mostArenaReservedBytes = Math.max(mostArenaReservedBytes, stats.arenaReservedBytes());
            }

            store.typeStats(type.typeId(), stats);
            System.out.printf("flatness (%s): %,d creates over %,d maxNodes; after the fill %s; at the end %s; " +
                "most slots %,d, most arena reserved %,d bytes%n", context, creates, MAX_NODES, afterFill, stats,
                mostHighWaterSlot, mostArenaReservedBytes);
            assertEquals(STEADY_LIVE_NODES + CHURN_PER_BATCH, stats.highWaterSlot(),
                "the rows stop at the most ids ever in use");
            assertEquals(afterFill.rowStrideBytes() * (long)(STEADY_LIVE_NODES + CHURN_PER_BATCH), stats.rowBytes());
            assertTrue(creates >= 20L * MAX_NODES);
            comparison.assertSameState(context + " at the end");
        }
    }

    private static void create(
        final RecordWriter writer, final TypeDefinition type, final long id, final int stringBytes, final int bytesBytes,
        final Random random)
    {
        writer.create(type, id);
        writer.setLong(type.field("n"), id);
        writer.setString(type.field("s"), "s".repeat(stringBytes));
        final byte[] bytes = new byte[bytesBytes];
        random.nextBytes(bytes);
        writer.setBytes(type.field("b"), bytes);
    }

    private static void applyAllOk(
        final StoreComparison comparison, final OffHeapBuffer batch, final int length, final String context)
    {
        final List<ReferenceStore.Outcome> outcomes = comparison.apply(batch, 0, length, context);
        for (int i = 0; i < outcomes.size(); i++)
        {
            if (outcomes.get(i).status() != RecordStatus.OK.value())
            {
                throw new AssertionError(context + ": record " + i + " " + outcomes.get(i) + " (" +
                    comparison.store().typeStats(1) + ")");
            }
        }
    }
}
