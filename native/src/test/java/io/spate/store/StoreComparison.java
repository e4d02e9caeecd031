package io.spate.store;

import io.spate.client.NodeView;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.TypeDefinition;
import io.spate.codec.testing.ReferenceStore;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.Arrays;
import java.util.List;
import java.util.NavigableSet;
import java.util.TreeSet;
import java.util.stream.LongStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Applies the same slices to the native store and the reference model and compares them: every
 * outcome as it happens, and every node field by field on demand.
 */
public final class StoreComparison implements AutoCloseable
{
    /** Up to this next id every id is compared; past it (a far jump) the ids in {@link #idsToCompare}. */
    private static final long DENSE_COMPARE_LIMIT = 1 << 16;
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
     * Compares counts, next ids and every node of every type, field by field.
     */
    void assertSameState(final String context)
    {
        assertSameState(schema, store, reference, context);
    }

    /**
     * Compares a native store with the reference model: counts, next ids and every node of every
     * type, field by field.
     */
    public static void assertSameState(
        final DatabaseSchema schema, final NativeStore store, final ReferenceStore reference, final String context)
    {
        try (OffHeapBuffer nodeCopy = new OffHeapBuffer(NativeStore.maxNodeLengthBytes(schema)))
        {
            compare(schema, store, reference, context, nodeCopy);
        }
    }

    private static void compare(
        final DatabaseSchema schema, final NativeStore store, final ReferenceStore reference, final String context,
        final OffHeapBuffer nodeCopy)
    {
        final NodeView view = new NodeView();
        final UnsafeBuffer copy = nodeCopy.buffer();
        for (final TypeDefinition type : schema.types())
        {
            final int typeId = type.typeId();
            assertEquals(reference.nextId(typeId), store.nextId(typeId), context + ": next id of " + type.name());
            assertEquals(reference.count(typeId), store.count(typeId), context + ": count of " + type.name());
            for (final long id : idsToCompare(reference, type))
            {
                final ReferenceStore.Node node = reference.node(typeId, id);
                final boolean live = null != node && node.state == ReferenceStore.Node.LIVE;
                assertEquals(live, store.exists(typeId, id), context + ": exists " + type.name() + "#" + id);
                final int length = store.get(typeId, id, nodeCopy.address(), nodeCopy.capacityBytes());
                if (!live)
                {
                    assertEquals(-1, length, context + ": get of missing " + type.name() + "#" + id);
                    continue;
                }
                assertTrue(length >= type.rowLengthBytes());
                view.wrap(type, copy, 0, length);
                final byte[] row = new byte[type.rowLengthBytes()];
                copy.getBytes(0, row);
                assertArrayEquals(node.row, row, context + ": row of " + type.name() + "#" + id);
                for (final var field : type.fields())
                {
                    if (field.isVariable())
                    {
                        final byte[] value = view.getBytes(field);
                        if (!Arrays.equals(node.vars[field.varIndex()], value))
                        {
                            throw new AssertionError(context + ": " + type.name() + "#" + id + "." + field.name() +
                                " reference " + Arrays.toString(node.vars[field.varIndex()]) + " store " +
                                Arrays.toString(value));
                        }
                    }
                }
            }
        }
    }

    /**
     * Every id from 0 to the next id when there are not too many. Else (an explicit id jumped far
     * ahead, which a fuzzed Create does, up to maxNodes) every id a Create took, its neighbours,
     * the ends and evenly spread ids of the skipped gaps: with the counts equal, a store node
     * live where the model has none would leave one the model has live missing, so that is found.
     */
    private static Iterable<Long> idsToCompare(final ReferenceStore reference, final TypeDefinition type)
    {
        final long nextId = reference.nextId(type.typeId());
        if (nextId <= DENSE_COMPARE_LIMIT)
        {
            return LongStream.rangeClosed(0, nextId).boxed().toList();
        }
        final NavigableSet<Long> ids = new TreeSet<>();
        for (final long id : reference.takenIds(type.typeId()))
        {
            ids.add(id - 1);
            ids.add(id);
            ids.add(id + 1);
        }
        for (int i = 0; i <= GAP_SAMPLES; i++)
        {
            ids.add(nextId * i / GAP_SAMPLES);
        }
        ids.add(-1L);
        ids.add(nextId);
        ids.add(type.maxNodes());
        return ids;
    }

    public void close()
    {
        store.close();
        results.close();
        progress.close();
    }
}
