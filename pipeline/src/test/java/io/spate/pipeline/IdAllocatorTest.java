package io.spate.pipeline;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordWriter;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.codec.testing.ReferenceStore;
import io.spate.store.ApplyResults;
import io.spate.store.NativeStore;
import io.spate.store.OffHeapBuffer;
import io.spate.store.StoreTypeStats;
import io.spate.wire.RecordStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pipeline's id allocator on its own: never-used slots in order, freed slots back at their next generation with
 * the most recently freed first, retirement after the last generation, maxNodes bounding the ids in use (not the
 * slots), exact roll-back of a client batch's takes, what an applied batch gives up, and the rebuild from a store
 * with holes, reused and retired slots.
 */
class IdAllocatorTest
{
    private static final int T = 1;
    private static final int U = 2;

    /** A type whose ids have 8 slot bits (the store's least). */
    private static IdAllocator.TypeIds type(final int typeId, final long maxNodes, final long slotLimit)
    {
        return new IdAllocator.TypeIds(typeId, maxNodes, slotLimit, 8);
    }

    private static long id(final long generation, final long slot)
    {
        return generation << 8 | slot;
    }

    @Test
    void shouldTakeNeverUsedSlotsInOrderThenFreedIdsMostRecentlyFreedFirst()
    {
        final IdAllocator ids = new IdAllocator(type(T, 100, 101));
        assertEquals(1, ids.take(T));
        assertEquals(2, ids.take(T));
        assertEquals(3, ids.take(T));
        assertEquals(4, ids.take(T));
        ids.free(T, 2);
        ids.free(T, 4);
        ids.free(T, 1);
        assertEquals(id(1, 1), ids.take(T), "the last freed first, at its next generation");
        assertEquals(id(1, 4), ids.take(T));
        assertEquals(id(1, 2), ids.take(T));
        assertEquals(5, ids.take(T), "no free id left: the next never-used slot");
        ids.free(T, id(1, 4));
        assertEquals(id(2, 4), ids.take(T));
        final IdAllocator.TypeIds state = ids.type(T);
        assertEquals(5, state.highWaterSlot);
        assertEquals(5, state.inUse);
        assertEquals(0, state.freeCount);
    }

    @Test
    void shouldRetireASlotAfterItsLastGenerationAndUseTheAllowanceForIt()
    {
        // 61 slot bits leave 2 generation bits: generations 0..3. maxNodes 1, slot limit 2: one slot of allowance.
        final IdAllocator ids = new IdAllocator(new IdAllocator.TypeIds(T, 1, 2, 61));
        final IdAllocator.TypeIds state = ids.type(T);
        assertEquals(3, state.maxGeneration);
        for (long generation = 0; generation <= 3; generation++)
        {
            final long id = ids.take(T);
            assertEquals(generation << 61 | 1, id, "generation " + generation);
            assertTrue(id > 0);
            assertEquals(0, ids.take(T), "maxNodes 1: one id in use at most");
            ids.free(T, id);
        }
        assertEquals(1, state.retiredSlots, "slot 1 has used up its generations");
        assertEquals(0, state.freeCount, "a retired slot is never handed out again");
        assertEquals(0, state.inUse);
        assertEquals(2, ids.take(T), "the allowance's slot");
        ids.free(T, 2);
        assertEquals(1L << 61 | 2, ids.take(T));
        ids.free(T, 1L << 61 | 2);
        for (long generation = 2; generation <= 3; generation++)
        {
            ids.free(T, ids.take(T));
        }
        assertEquals(2, state.retiredSlots);
        assertEquals(0, ids.take(T), "every slot retired: nothing left, though no id is in use");
        assertEquals(0, state.inUse);
        assertEquals(2, state.highWaterSlot);
    }

    @Test
    void maxNodesShouldBoundTheIdsInUseNotTheSlots()
    {
        final IdAllocator ids = new IdAllocator(type(T, 3, 4));
        assertEquals(1, ids.take(T));
        assertEquals(2, ids.take(T));
        assertEquals(3, ids.take(T));
        assertEquals(0, ids.take(T), "3 in use, though slot 4 was never used");
        assertEquals(3, ids.type(T).highWaterSlot, "a refused take uses nothing");
        ids.free(T, 2);
        assertEquals(id(1, 2), ids.take(T));
        assertEquals(0, ids.take(T));
        ids.free(T, 1);
        ids.free(T, 3);
        ids.free(T, id(1, 2));
        assertEquals(0, ids.type(T).inUse);
        assertEquals(id(2, 2), ids.take(T));
        assertEquals(id(1, 3), ids.take(T));
        assertEquals(id(1, 1), ids.take(T));
        assertEquals(0, ids.take(T));
        assertEquals(3, ids.type(T).highWaterSlot, "the rows stop at the most ids ever in use");
    }

    @Test
    void shouldRefuseToFreeAnIdNotInUse()
    {
        final IdAllocator ids = new IdAllocator(type(T, 10, 11));
        assertThrows(IllegalStateException.class, () -> ids.free(T, 1), "nothing in use");
        assertEquals(1, ids.take(T));
        assertThrows(IllegalStateException.class, () -> ids.free(T, 2), "a slot above the highest handed out");
        assertThrows(IllegalStateException.class, () -> ids.free(T, 0));
        assertThrows(IllegalStateException.class, () -> ids.free(T, -1));
        assertThrows(IllegalStateException.class, () -> ids.free(T, id(3, 0)), "slot 0");
        ids.free(T, 1);
        assertThrows(IllegalStateException.class, () -> ids.free(T, id(1, 1)), "no id in use any more");
    }

    @Test
    void shouldRefuseALayoutThatCannotHoldItsSlots()
    {
        assertThrows(IllegalArgumentException.class, () -> new IdAllocator.TypeIds(T, 10, 9, 8), "slot limit below maxNodes");
        assertThrows(IllegalArgumentException.class, () -> new IdAllocator.TypeIds(T, 10, 256, 8), "slot limit past 8 bits");
        assertThrows(IllegalArgumentException.class, () -> new IdAllocator.TypeIds(T, 0, 1, 8), "maxNodes 0");
        assertThrows(IllegalArgumentException.class, () -> new IdAllocator.TypeIds(T, 1, 2, 63), "no generation bit");
    }

    @Test
    void theFreeStackShouldGrowPastItsFirstCapacityAndKeepItsOrder()
    {
        final IdAllocator ids = new IdAllocator(new IdAllocator.TypeIds(T, 10_000, 10_000 + 8, 14));
        final long[] taken = new long[5_000];
        for (int i = 0; i < taken.length; i++)
        {
            taken[i] = ids.take(T);
            assertEquals(i + 1, taken[i]);
        }
        final Random random = new Random(7);
        for (int i = taken.length - 1; i > 0; i--)
        {
            final int j = random.nextInt(i + 1);
            final long swap = taken[i];
            taken[i] = taken[j];
            taken[j] = swap;
        }
        for (final long id : taken)
        {
            ids.free(T, id);
        }
        assertEquals(taken.length, ids.type(T).freeCount);
        for (int i = taken.length - 1; i >= 0; i--)
        {
            assertEquals(1L << 14 | taken[i], ids.take(T), "free #" + i);
        }
        assertEquals(5_001, ids.take(T));
    }

    /**
     * A client batch's takes are undone by a roll-back: every type's highest slot, ids in use and free stack exactly as
     * at the mark (free ids are never freed during an append, so the stack above the mark is untouched). Random
     * sequences against a plain model; frees only between client batches, as acks come.
     */
    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = { 1, 2, 3, 4, 5 })
    void rollBackShouldRestoreExactlyWhatTheMarkSaw(final long seed)
    {
        final Random random = new Random(seed);
        final IdAllocator ids = new IdAllocator(type(T, 40, 41), new IdAllocator.TypeIds(U, 30, 31, 60));
        final Model[] models = { null, new Model(40, 41, 8), new Model(30, 31, 60) };
        final List<List<Long>> inUse = List.of(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
        for (int step = 0; step < 5_000; step++)
        {
            final String context = "seed " + seed + " step " + step;
            // Between client batches: the acks of earlier ones free some ids.
            final int frees = random.nextInt(4);
            for (int f = 0; f < frees; f++)
            {
                final int typeId = 1 + random.nextInt(2);
                if (!inUse.get(typeId).isEmpty())
                {
                    final long id = inUse.get(typeId).remove(random.nextInt(inUse.get(typeId).size()));
                    ids.free(typeId, id);
                    models[typeId].free(id);
                }
            }
            // One client batch: takes, then appended or rolled back.
            final String[] before = { null, describe(ids.type(T)), describe(ids.type(U)) };
            ids.mark();
            final Model[] marks = { null, models[1].copy(), models[2].copy() };
            final List<long[]> takes = new ArrayList<>();
            final int count = random.nextInt(12);
            for (int t = 0; t < count; t++)
            {
                final int typeId = 1 + random.nextInt(2);
                final long id = ids.take(typeId);
                assertEquals(models[typeId].take(), id, context + " take " + t + " of type " + typeId);
                if (0 != id)
                {
                    takes.add(new long[]{ typeId, id });
                }
            }
            if (random.nextInt(3) == 0)
            {
                ids.rollBack();
                models[1] = marks[1];
                models[2] = marks[2];
                assertEquals(before[1], describe(ids.type(T)), context + ": rolled back");
                assertEquals(before[2], describe(ids.type(U)), context + ": rolled back");
                ids.rollBack();
                assertEquals(before[1], describe(ids.type(T)), context + ": a second roll-back changes nothing");
            }
            else
            {
                for (final long[] take : takes)
                {
                    inUse.get((int)take[0]).add(take[1]);
                }
            }
            for (int typeId = 1; typeId <= 2; typeId++)
            {
                assertEquals(models[typeId].inUse, ids.type(typeId).inUse, context);
                assertEquals(inUse.get(typeId).size(), ids.type(typeId).inUse, context);
            }
        }
        assertTrue(ids.type(U).retiredSlots > 0, "type U (3 generations) retired slots");
    }

    /** The allocator's rules, plainly: what the test expects each take to return. */
    private static final class Model
    {
        final long maxNodes;
        final long slotLimit;
        final int slotBits;
        final List<Long> free = new ArrayList<>();
        long highWaterSlot;
        long inUse;

        Model(final long maxNodes, final long slotLimit, final int slotBits)
        {
            this.maxNodes = maxNodes;
            this.slotLimit = slotLimit;
            this.slotBits = slotBits;
        }

        Model copy()
        {
            final Model copy = new Model(maxNodes, slotLimit, slotBits);
            copy.free.addAll(free);
            copy.highWaterSlot = highWaterSlot;
            copy.inUse = inUse;
            return copy;
        }

        long take()
        {
            if (inUse >= maxNodes)
            {
                return 0;
            }
            final long id;
            if (!free.isEmpty())
            {
                id = free.remove(free.size() - 1);
            }
            else if (highWaterSlot < slotLimit)
            {
                id = ++highWaterSlot;
            }
            else
            {
                return 0;
            }
            inUse++;
            return id;
        }

        void free(final long id)
        {
            inUse--;
            final long generation = id >>> slotBits;
            if (generation < (1L << (63 - slotBits)) - 1)
            {
                free.add((generation + 1) << slotBits | (id & ((1L << slotBits) - 1)));
            }
        }
    }

    private static String describe(final IdAllocator.TypeIds ids)
    {
        return "highWater=" + ids.highWaterSlot + " inUse=" + ids.inUse + " retired=" + ids.retiredSlots + " free=" +
            Arrays.toString(Arrays.copyOf(ids.freeIds, ids.freeCount));
    }

    @Test
    void shouldFreeWhatAnAppliedBatchGaveUpInRecordOrder()
    {
        final IdAllocator ids = new IdAllocator(type(T, 100, 101), type(U, 100, 101));
        for (int i = 0; i < 10; i++)
        {
            ids.take(T);
            ids.take(U);
        }
        final BatchSlot batch = new BatchSlot(16, U);
        entry(batch, BatchSlot.KIND_CREATE, T, 1, RecordStatus.OK);              // created: stays in use
        entry(batch, BatchSlot.KIND_CREATE, T, 0, RecordStatus.TYPE_FULL);       // no id given
        entry(batch, BatchSlot.KIND_CREATE, T, 7, RecordStatus.ARENA_FULL);      // failed after taking 7: freed
        entry(batch, BatchSlot.KIND_DELETE, T, 4, RecordStatus.OK);              // deleted: freed
        entry(batch, BatchSlot.KIND_DELETE, T, 5, RecordStatus.NO_SUCH_NODE);    // not deleted
        entry(batch, BatchSlot.KIND_OTHER, T, 6, RecordStatus.OK);               // an update
        entry(batch, BatchSlot.KIND_OTHER, T, 8, RecordStatus.NO_SUCH_NODE);     // a failed increment
        entry(batch, BatchSlot.KIND_DELETE, U, 9, RecordStatus.OK);              // another type
        entry(batch, BatchSlot.KIND_CREATE, T, 2, RecordStatus.UNKNOWN_FIELD);   // failed: freed
        ids.freeGivenUp(batch);
        assertEquals("highWater=10 inUse=7 retired=0 free=[263, 260, 258]", describe(ids.type(T)));
        assertEquals("highWater=10 inUse=9 retired=0 free=[265]", describe(ids.type(U)));
        assertEquals(id(1, 2), ids.take(T));
        assertEquals(id(1, 4), ids.take(T));
        assertEquals(id(1, 7), ids.take(T));
    }

    private static void entry(
        final BatchSlot batch, final byte kind, final int typeId, final long nodeId, final RecordStatus status)
    {
        final int i = batch.entryCount++;
        batch.entryKind[i] = kind;
        batch.entryTypeId[i] = typeId;
        batch.entryNodeId[i] = nodeId;
        batch.entryStatus[i] = (byte)status.value();
    }

    @Test
    void shouldTakeEachTypesLayoutFromTheStore()
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        try (NativeStore store = NativeStore.open(schema))
        {
            final IdAllocator ids = new IdAllocator(schema, store);
            for (final TypeDefinition type : schema.types())
            {
                final IdAllocator.TypeIds typeIds = ids.type(type.typeId());
                assertEquals(type.maxNodes(), typeIds.maxNodes, type.name());
                assertEquals(ReferenceStore.slotBits(type.maxNodes()), typeIds.slotBits, type.name());
                assertEquals(ReferenceStore.slotLimit(type.maxNodes()), typeIds.slotLimit, type.name());
                assertEquals(ReferenceStore.maxGeneration(typeIds.slotBits), typeIds.maxGeneration, type.name());
                assertEquals(0, typeIds.highWaterSlot);
            }
            assertEquals(schema.types().size(), ids.maxTypeId());
        }
    }

    /**
     * A store with holes (slots an explicit id skipped), a deleted slot, a reused one and a retired one: the rebuilt
     * allocator holds its live nodes in use, its highest slot, each free slot at its next generation (ascending, so
     * the highest comes first) and its retired slots; and the store takes every id it then hands out.
     */
    @Test
    void shouldRebuildFromAStoreWithHolesReusedAndRetiredSlots()
    {
        final DatabaseSchema schema = SchemaCompiler.compile("{\"name\":\"holes\",\"types\":[{\"name\":\"A\",\"maxNodes\":" +
            "100,\"fields\":[{\"name\":\"n\",\"type\":\"u32\"}]},{\"name\":\"B\",\"maxNodes\":5,\"fields\":[{\"name\":\"m\",\"type\":\"u8\"}]}]}", "holes");
        final TypeDefinition a = schema.type("A");
        final long maxGeneration = ReferenceStore.maxGeneration(8);
        try (NativeStore store = NativeStore.open(schema);
            OffHeapBuffer batch = new OffHeapBuffer(1 << 16);
            ApplyResults results = new ApplyResults(256))
        {
            final RecordWriter writer = new RecordWriter(schema);
            writer.wrap(batch.buffer(), 0, batch.capacityBytes());
            for (final long id : new long[]{ 1, 2, 3, 5, 8, 6, maxGeneration << 8 | 9 })
            {
                writer.create(a, id);
            }
            writer.delete(a, 2);
            writer.delete(a, 6);
            writer.create(a, id(1, 6));                         // slot 6 reused
            writer.delete(a, maxGeneration << 8 | 9);          // slot 9 retired
            assertEquals(11, store.apply(batch.address(), writer.endBatch(), 0, results));
            for (int i = 0; i < 11; i++)
            {
                assertEquals(RecordStatus.OK.value(), results.status(i), "record " + i);
            }

            final IdAllocator ids = new IdAllocator(schema, store).rebuildFrom(store);
            final StoreTypeStats stats = store.typeStats(a.typeId());
            assertEquals("highWater=9 inUse=5 retired=1 free=[" + id(1, 2) + ", 4, 7]", describe(ids.type(a.typeId())));
            assertEquals(stats.highWaterSlot(), ids.type(a.typeId()).highWaterSlot);
            assertEquals(stats.liveNodes(), ids.type(a.typeId()).inUse);
            assertEquals("highWater=0 inUse=0 retired=0 free=[]", describe(ids.type(schema.type("B").typeId())));

            final long[] expected = { 7, 4, id(1, 2), 10, 11 };
            writer.wrap(batch.buffer(), 0, batch.capacityBytes());
            for (int i = 0; i < expected.length; i++)
            {
                final long id = ids.take(a.typeId());
                assertEquals(expected[i], id, "take " + i);
                writer.create(a, id);
            }
            assertEquals(expected.length, store.apply(batch.address(), writer.endBatch(), 0, results));
            for (int i = 0; i < expected.length; i++)
            {
                assertEquals(RecordStatus.OK.value(), results.status(i), "the store takes id " + expected[i]);
            }
            final IdAllocator again = new IdAllocator(schema, store).rebuildFrom(store);
            assertEquals("highWater=11 inUse=10 retired=1 free=[]", describe(again.type(a.typeId())));
        }
    }
}
