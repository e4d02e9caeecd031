package io.spate.store;

import io.spate.client.NodeView;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.TypeDefinition;
import io.spate.codec.testing.ReferenceStore;
import org.agrona.concurrent.UnsafeBuffer;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.NavigableSet;
import java.util.PrimitiveIterator;
import java.util.TreeSet;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Applies the same slices to the native store and the reference model and compares them: every
 * outcome as it happens, and on demand the whole state: per type the stats row, the checksum, the
 * free ids in order, every id that matters (each used slot at its generation and the ones around
 * it, never-used slots, invalid ids) by node state, existence and content, and the snapshot image
 * byte for byte.
 */
public final class StoreComparison implements AutoCloseable
{
    /** Up to this highest slot every slot is compared; past it (a far jump) the used ones and samples of the rest. */
    private static final long DENSE_COMPARE_SLOTS = 1 << 16;
    private static final int GAP_SAMPLES = 256;

    private final DatabaseSchema schema;
    private final NativeStore store;
    private final ReferenceStore reference;
    private final ApplyResults results;
    private final OffHeapBuffer progress = new OffHeapBuffer(64);
    private long outcomesCompared;

    public StoreComparison(final DatabaseSchema schema, final int resultsCapacity)
    {
        this.schema = schema;
        this.store = NativeStore.open(schema);
        this.reference = new ReferenceStore(schema);
        this.results = new ApplyResults(resultsCapacity);
    }

    NativeStore store()
    {
        return store;
    }

    ReferenceStore reference()
    {
        return reference;
    }

    ApplyResults results()
    {
        return results;
    }

    long outcomesCompared()
    {
        return outcomesCompared;
    }

    /**
     * Applies [offset, offset + length) of an off-heap buffer to both and compares outcomes.
     *
     * @param context printed on a mismatch (the seed, the batch number).
     * @return the reference outcomes.
     */
    List<ReferenceStore.Outcome> apply(final OffHeapBuffer slice, final int offset, final int length, final String context)
    {
        final List<ReferenceStore.Outcome> expected = reference.apply(slice.buffer(), offset, length);
        progress.buffer().putLong(0, 1000);
        final int count = store.apply(slice.address() + offset, length, progress.address(), results);
        if (count != expected.size())
        {
            throw new AssertionError(context + ": store walked " + count + " messages, reference " + expected.size() +
                "; reference " + expected.subList(Math.max(0, expected.size() - 4), expected.size()) + " store " +
                describe(Math.max(0, count - 4), count));
        }
        for (int i = 0; i < count; i++)
        {
            final ReferenceStore.Outcome outcome = expected.get(i);
            if (outcome.status() != results.status(i) || outcome.nodeId() != results.nodeId(i) ||
                outcome.offsetBytes() != results.offsetBytes(i) || outcome.templateId() != results.templateId(i))
            {
                throw new AssertionError(context + ": message " + i + " reference " + outcome + " store " +
                    describe(Math.max(0, i - 3), Math.min(count, i + 2)));
            }
        }
        if (count < results.capacity())
        {
            assertEquals(1000L + length, progress.buffer().getLongVolatile(0), context + ": progress counter");
        }
        outcomesCompared += count;
        return expected;
    }

    String describe(final int from, final int to)
    {
        final StringBuilder text = new StringBuilder("[");
        for (int i = from; i < to; i++)
        {
            text.append(i == from ? "" : ", ").append('#').append(i).append(' ').append("Outcome[status=").append(results.status(i))
                .append(", nodeId=").append(results.nodeId(i)).append(", offsetBytes=").append(results.offsetBytes(i))
                .append(", templateId=").append(results.templateId(i)).append(']');
        }
        return text.append(']').toString();
    }

    /**
     * Compares the whole state (see {@link #assertSameState(DatabaseSchema, NativeStore, ReferenceStore, String)}).
     */
    void assertSameState(final String context)
    {
        assertSameState(schema, store, reference, context);
    }

    /**
     * Compares a native store with the reference model, type by type: the stats row (live count, slot layout,
     * highest slot, free and retired slots, row stride, arena figures against what the live values need), the
     * checksum (recomputed by the model from its definition), the free ids in order, every id that matters by
     * node state, existence and content, and then the snapshot image byte for byte. The store must be quiet:
     * nothing applied meanwhile.
     */
    public static void assertSameState(
        final DatabaseSchema schema, final NativeStore store, final ReferenceStore reference, final String context)
    {
        try (OffHeapBuffer nodeCopy = new OffHeapBuffer(NativeStore.maxNodeLengthBytes(schema)))
        {
            final StoreTypeStats stats = new StoreTypeStats();
            for (final TypeDefinition type : schema.types())
            {
                final String where = context + ": " + type.name();
                assertSameStats(type, store.typeStats(type.typeId(), stats), reference, where);
                assertEquals(reference.count(type.typeId()), store.count(type.typeId()), where + ": count");
                assertSameFreeIds(type, store, reference, where);
                assertSameNodes(type, store, reference, where, nodeCopy);
                assertEquals(Long.toHexString(reference.checksum(type.typeId())),
                    Long.toHexString(store.checksum(type.typeId())), where + ": checksum");
            }
        }
        assertSameImage(store, reference, context);
    }

    static void assertSameStats(
        final TypeDefinition type, final StoreTypeStats stats, final ReferenceStore reference, final String where)
    {
        final int typeId = type.typeId();
        final String row = where + ": stats " + stats;
        assertEquals(typeId, stats.typeId(), row);
        assertEquals(type.maxNodes(), stats.maxNodes(), row + ": maxNodes");
        assertEquals(reference.count(typeId), stats.liveNodes(), row + ": live nodes");
        assertEquals(reference.slotBitsOf(typeId), stats.slotBits(), row + ": slot bits");
        assertEquals(reference.slotLimitOf(typeId), stats.slotLimit(), row + ": slot limit");
        assertEquals(reference.highWaterSlot(typeId), stats.highWaterSlot(), row + ": highest slot used");
        assertEquals(reference.freeSlots(typeId), stats.freeSlots(), row + ": free slots");
        assertEquals(reference.retiredSlots(typeId), stats.retiredSlots(), row + ": retired slots");
        assertEquals(ReferenceStore.rowStrideBytes(type), stats.rowStrideBytes(), row + ": row stride");
        assertEquals(stats.highWaterSlot() * stats.rowStrideBytes(), stats.rowBytes(), row + ": row bytes");
        assertEquals(type.maxArenaBytes(), stats.arenaCapacityBytes(), row + ": arena capacity");
        assertEquals(stats.arenaLiveBytes() + stats.arenaFreeBytes(), stats.arenaReservedBytes(), row + ": live + free");
        assertTrue(stats.arenaReservedBytes() <= stats.arenaCapacityBytes(), row + ": reserved within capacity");
        assertTrue(stats.arenaLiveBytes() >= reference.arenaLiveBytesAtLeast(typeId),
            row + ": live values need at least " + reference.arenaLiveBytesAtLeast(typeId));
        assertEquals(0, stats.arenaLiveBytes() % 8, row + ": blocks are multiples of 8");
        assertTrue(stats.arenaCompactions() >= 0, row);
    }

    private static void assertSameFreeIds(
        final TypeDefinition type, final NativeStore store, final ReferenceStore reference, final String where)
    {
        final PrimitiveIterator.OfLong expected = reference.freeIdIterator(type.typeId());
        final long[] index = { 0 };
        final long count = store.freeIds(type.typeId(), id ->
        {
            if (!expected.hasNext())
            {
                throw new AssertionError(where + ": free id #" + index[0] + " " + id + " the reference does not have");
            }
            final long expectedId = expected.nextLong();
            if (expectedId != id)
            {
                throw new AssertionError(where + ": free id #" + index[0] + " reference " + expectedId + " (slot " +
                    reference.slotOf(type.typeId(), expectedId) + " generation " +
                    reference.generationOf(type.typeId(), expectedId) + ") store " + id + " (slot " +
                    reference.slotOf(type.typeId(), id) + " generation " + reference.generationOf(type.typeId(), id) + ")");
            }
            index[0]++;
        });
        assertTrue(!expected.hasNext(), where + ": the store listed " + count + " free ids, the reference has more");
    }

    private static void assertSameNodes(
        final TypeDefinition type, final NativeStore store, final ReferenceStore reference, final String where,
        final OffHeapBuffer nodeCopy)
    {
        final NodeView view = new NodeView();
        final UnsafeBuffer copy = nodeCopy.buffer();
        final int typeId = type.typeId();
        final byte[] row = new byte[type.rowLengthBytes()];
        for (final long id : idsToCompare(reference, type))
        {
            final int expectedState = reference.nodeState(typeId, id);
            final int state = store.nodeState(typeId, id);
            if (expectedState != state)
            {
                throw new AssertionError(where + "#" + id + " (slot " + reference.slotOf(typeId, id) + " generation " +
                    reference.generationOf(typeId, id) + "): node state reference " + expectedState + " store " + state);
            }
            final boolean live = expectedState == ReferenceStore.NODE_LIVE;
            if (live != store.exists(typeId, id))
            {
                throw new AssertionError(where + "#" + id + ": exists says " + !live);
            }
            final int length = store.get(typeId, id, nodeCopy.address(), nodeCopy.capacityBytes());
            if (!live)
            {
                assertEquals(-1, length, where + ": get of missing #" + id);
                continue;
            }
            final ReferenceStore.Node node = reference.node(typeId, id);
            assertTrue(length >= type.rowLengthBytes());
            view.wrap(type, copy, 0, length);
            copy.getBytes(0, row);
            assertArrayEquals(node.row, row, where + ": row of #" + id);
            for (final var field : type.fields())
            {
                if (field.isVariable())
                {
                    final byte[] value = view.getBytes(field);
                    if (!Arrays.equals(node.vars[field.varIndex()], value))
                    {
                        throw new AssertionError(where + "#" + id + "." + field.name() + " reference " +
                            Arrays.toString(node.vars[field.varIndex()]) + " store " + Arrays.toString(value));
                    }
                }
            }
        }
    }

    /**
     * The ids that tell a store from the model: every used slot at its generation and the generations around it
     * (a live node's earlier one is gone, its later one not issued; a freed slot's last one is gone, its next one
     * not issued), the largest generation; every never-used slot up to the highest used when there are not too many
     * (else the neighbours of the used ones, the ends and evenly spread samples); the slots just past the highest used
     * and around the slot limit; ids that are no ids (0, negative, slot 0).
     */
    private static Iterable<Long> idsToCompare(final ReferenceStore reference, final TypeDefinition type)
    {
        final int typeId = type.typeId();
        final long highWater = reference.highWaterSlot(typeId);
        final long slotLimit = reference.slotLimitOf(typeId);
        final long maxGeneration = reference.maxGenerationOf(typeId);
        final NavigableSet<Long> ids = new TreeSet<>();
        final Map<Long, ReferenceStore.Slot> used = reference.usedSlots(typeId);
        for (final Map.Entry<Long, ReferenceStore.Slot> entry : used.entrySet())
        {
            final long slot = entry.getKey();
            final long generation = entry.getValue().generation();
            for (long g = Math.max(0, generation - 1); g <= Math.min(maxGeneration, generation + 1); g++)
            {
                ids.add(reference.idOf(typeId, g, slot));
            }
            ids.add(reference.idOf(typeId, 0, slot));
            ids.add(reference.idOf(typeId, maxGeneration, slot));
            for (long neighbour = slot - 1; neighbour <= slot + 1; neighbour += 2)
            {
                if (neighbour >= 1 && neighbour <= slotLimit && !used.containsKey(neighbour))
                {
                    ids.add(neighbour);
                    ids.add(reference.idOf(typeId, 1, neighbour));
                }
            }
        }
        if (highWater <= DENSE_COMPARE_SLOTS)
        {
            for (long slot = 1; slot <= highWater; slot++)
            {
                if (!used.containsKey(slot))
                {
                    ids.add(slot);
                }
            }
        }
        else
        {
            for (int i = 0; i <= GAP_SAMPLES; i++)
            {
                final long slot = 1 + (highWater - 1) * i / GAP_SAMPLES;
                ids.add(reference.idOf(typeId, 0, slot));
                ids.add(reference.idOf(typeId, 1, slot));
            }
        }
        for (long slot = highWater + 1; slot <= Math.min(slotLimit, highWater + 3); slot++)
        {
            ids.add(slot);
        }
        ids.add(slotLimit);
        ids.add(slotLimit + 1);
        ids.add(reference.idOf(typeId, 1, slotLimit + 1));
        ids.add((1L << reference.slotBitsOf(typeId)) - 1);
        ids.add(reference.idOf(typeId, 1, 0));
        ids.add(reference.idOf(typeId, maxGeneration, 0));
        ids.add(0L);
        ids.add(-1L);
        ids.add(Long.MIN_VALUE);
        ids.add(Long.MAX_VALUE);
        return ids;
    }

    /**
     * The store's snapshot image must be the one the model lays out from spate_store.h's format 2, byte for byte.
     */
    public static void assertSameImage(final NativeStore store, final ReferenceStore reference, final String context)
    {
        final byte[] expected = reference.snapshotImage();
        final long lengthBytes = store.snapshotLengthBytes();
        assertEquals(expected.length, lengthBytes, context + ": snapshot length");
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment image = arena.allocate(Math.max(1, lengthBytes), 8);
            assertEquals(lengthBytes, store.writeSnapshot(image.address(), lengthBytes), context + ": snapshot written");
            final long mismatch = MemorySegment.ofArray(expected).mismatch(image.asSlice(0, lengthBytes));
            if (mismatch >= 0)
            {
                final int from = (int)Math.max(0, mismatch - 16);
                final int to = (int)Math.min(lengthBytes, mismatch + 16);
                throw new AssertionError(context + ": snapshot image differs at byte " + mismatch + " of " + lengthBytes +
                    ": reference " + hex(expected, from, to) + " store " +
                    hex(image.asSlice(from, to - from).toArray(JAVA_BYTE), 0, to - from) + " (from byte " + from + ")");
            }
        }
    }

    private static String hex(final byte[] bytes, final int from, final int to)
    {
        final StringBuilder text = new StringBuilder();
        for (int i = from; i < to; i++)
        {
            text.append(String.format("%02x", bytes[i] & 0xFF)).append((i - from) % 8 == 7 ? " " : "");
        }
        return text.toString().trim();
    }

    public void close()
    {
        store.close();
        results.close();
        progress.close();
    }
}
