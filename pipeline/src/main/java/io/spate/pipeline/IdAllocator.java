package io.spate.pipeline;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.TypeDefinition;
import io.spate.store.NativeStore;
import io.spate.store.StoreTypeStats;

import java.util.Arrays;

/**
 * The one place node ids are decided, for the pipeline's conductor and for the clustered service alike:
 * per type, a stack of the ids whose slots were freed (the most recently freed first: its row is the one
 * most likely still in cache) and a counter of never-used slots. Ids are generational
 * ({@code generation << slotBits | slot}, spate_store.h): a freed slot comes back at its next generation,
 * so an id of a deleted node never names another node; a slot whose generations are used up is retired.
 * <p>
 * {@code maxNodes} bounds the ids in use: those handed out and not freed yet, which is at least the
 * store's live count (a delete frees its id only once it was applied). A slot becomes reusable only
 * when its delete was applied: the conductor frees a batch's ids when it acks the batch, the clustered
 * service right after it applied the batch, in log order. The ids travel in the log, so replay and
 * followers reproduce them whatever the timing was.
 * <p>
 * A client batch's takes can be rolled back ({@link #mark}, {@link #rollBack}) when it does not fit the
 * batch being assembled; no id is freed in between (frees come from acks, on the same thread, never
 * during an append).
 * <p>
 * Bounds: the free stack of a type holds at most {@link #MAX_FREE_IDS} ids (a type with more free slots
 * than that keeps the rest unused, counted by {@link #leakedSlots}); every other structure is per type.
 */
final class IdAllocator
{
    /** Most free ids kept per type: the largest Java array. */
    static final int MAX_FREE_IDS = Integer.MAX_VALUE - 8;
    private static final int INITIAL_FREE_CAPACITY = 1024;

    /** One type's ids. */
    static final class TypeIds
    {
        final int typeId;
        final long maxNodes;
        final long slotLimit;
        final int slotBits;
        final long slotMask;
        final long maxGeneration;
        /** Highest slot handed out (never-used slots above it come next). */
        long highWaterSlot;
        /** Ids handed out and not freed: what maxNodes bounds. */
        long inUse;
        long[] freeIds = new long[INITIAL_FREE_CAPACITY];
        int freeCount;
        long retiredSlots;
        long leakedSlots;
        // Roll-back mark of the client batch being appended.
        long markEpoch = -1;
        long markHighWaterSlot;
        long markInUse;
        int markFreeCount;

        TypeIds(final int typeId, final long maxNodes, final long slotLimit, final int slotBits)
        {
            if (slotBits < 1 || slotBits > 62 || maxNodes < 1 || slotLimit < maxNodes || slotLimit >= 1L << slotBits)
            {
                throw new IllegalArgumentException("type " + typeId + ": slotBits " + slotBits + ", maxNodes " +
                    maxNodes + ", slotLimit " + slotLimit);
            }
            this.typeId = typeId;
            this.maxNodes = maxNodes;
            this.slotLimit = slotLimit;
            this.slotBits = slotBits;
            this.slotMask = (1L << slotBits) - 1;
            this.maxGeneration = (1L << (63 - slotBits)) - 1;
        }

        long slotOf(final long id)
        {
            return id & slotMask;
        }

        long generationOf(final long id)
        {
            return id >>> slotBits;
        }

        long idOf(final long generation, final long slot)
        {
            return generation << slotBits | slot;
        }

        void pushFree(final long id)
        {
            if (freeCount == freeIds.length)
            {
                if (freeCount == MAX_FREE_IDS)
                {
                    leakedSlots++;
                    return;
                }
                freeIds = Arrays.copyOf(freeIds, (int)Math.min(MAX_FREE_IDS, 2L * freeIds.length));
            }
            freeIds[freeCount++] = id;
        }
    }

    private final TypeIds[] byTypeId;
    private long epoch;

    /**
     * @param schema whose types get ids.
     * @param store  that says each type's id layout (slot bits, slot limit).
     */
    IdAllocator(final DatabaseSchema schema, final NativeStore store)
    {
        int maxTypeId = 0;
        for (final TypeDefinition type : schema.types())
        {
            maxTypeId = Math.max(maxTypeId, type.typeId());
        }
        byTypeId = new TypeIds[maxTypeId + 1];
        final StoreTypeStats stats = new StoreTypeStats();
        for (final TypeDefinition type : schema.types())
        {
            store.typeStats(type.typeId(), stats);
            byTypeId[type.typeId()] = new TypeIds(type.typeId(), stats.maxNodes(), stats.slotLimit(), stats.slotBits());
        }
    }

    /**
     * For tests: an allocator of the given types' ids (any id layout, such as one of few generations).
     *
     * @param types each type's ids, empty.
     */
    IdAllocator(final TypeIds... types)
    {
        int maxTypeId = 0;
        for (final TypeIds type : types)
        {
            maxTypeId = Math.max(maxTypeId, type.typeId);
        }
        byTypeId = new TypeIds[maxTypeId + 1];
        for (final TypeIds type : types)
        {
            byTypeId[type.typeId] = type;
        }
    }

    /**
     * Sets every type's ids to what the store holds: its live nodes in use, its highest used slot, and each
     * of its free slots at its next generation (ascending slots, so the highest comes first). For a store
     * that nothing is being applied to (start, after a snapshot load and replay).
     *
     * @param store the pipeline's store.
     * @return this.
     */
    IdAllocator rebuildFrom(final NativeStore store)
    {
        final StoreTypeStats stats = new StoreTypeStats();
        for (final TypeIds ids : byTypeId)
        {
            if (null == ids)
            {
                continue;
            }
            store.typeStats(ids.typeId, stats);
            ids.highWaterSlot = stats.highWaterSlot();
            ids.inUse = stats.liveNodes();
            ids.retiredSlots = stats.retiredSlots();
            ids.freeCount = 0;
            ids.leakedSlots = 0;
            store.freeIds(ids.typeId, ids::pushFree);
            assert ids.freeCount + ids.leakedSlots + ids.retiredSlots == stats.freeSlots() : "free ids of type " + ids.typeId;
        }
        return this;
    }

    /**
     * @param typeId of a type of the schema.
     * @return its ids (tests, snapshots, counters).
     */
    TypeIds type(final int typeId)
    {
        return byTypeId[typeId];
    }

    int maxTypeId()
    {
        return byTypeId.length - 1;
    }

    /**
     * Starts a client batch: what {@link #rollBack} returns to.
     */
    void mark()
    {
        epoch++;
    }

    /**
     * Hands out an id for a Create of the type: a freed slot's next generation, else the next never-used slot.
     *
     * @param typeId of the node.
     * @return the id, or 0 when maxNodes ids are in use (or, past the retirement allowance, no slot is left):
     * TYPE_FULL.
     */
    long take(final int typeId)
    {
        final TypeIds ids = byTypeId[typeId];
        if (ids.inUse >= ids.maxNodes)
        {
            return 0;
        }
        if (ids.markEpoch != epoch)
        {
            ids.markEpoch = epoch;
            ids.markHighWaterSlot = ids.highWaterSlot;
            ids.markInUse = ids.inUse;
            ids.markFreeCount = ids.freeCount;
        }
        final long id;
        if (ids.freeCount > 0)
        {
            id = ids.freeIds[--ids.freeCount];
        }
        else if (ids.highWaterSlot < ids.slotLimit)
        {
            id = ++ids.highWaterSlot; // generation 0
        }
        else
        {
            return 0;
        }
        ids.inUse++;
        assert id > 0 && ids.slotOf(id) >= 1 && ids.slotOf(id) <= ids.highWaterSlot : "id " + id;
        return id;
    }

    /**
     * Undoes every {@link #take} since {@link #mark}: the ids taken go back where they came from (a free id
     * stays in its place in the stack: nothing is freed during an append, so the stack above the mark is
     * untouched).
     */
    void rollBack()
    {
        for (final TypeIds ids : byTypeId)
        {
            if (null != ids && ids.markEpoch == epoch)
            {
                ids.highWaterSlot = ids.markHighWaterSlot;
                ids.inUse = ids.markInUse;
                ids.freeCount = ids.markFreeCount;
                ids.markEpoch = -1;
            }
        }
    }

    /**
     * An id handed out is used up: its node was deleted, or its Create failed (in the store or before it).
     * Its slot comes back at the next generation, or is retired when none is left. Call once per id, after
     * the store applied the record that gave it up.
     *
     * @param typeId of the node.
     * @param id     as {@link #take} gave it (or as the store holds it after a rebuild).
     */
    void free(final int typeId, final long id)
    {
        final TypeIds ids = byTypeId[typeId];
        final long slot = ids.slotOf(id);
        if (id <= 0 || slot < 1 || slot > ids.highWaterSlot || ids.inUse <= 0)
        {
            throw new IllegalStateException("type " + typeId + ": freeing id " + id + " that is not in use (highest slot " +
                ids.highWaterSlot + ", " + ids.inUse + " in use)");
        }
        ids.inUse--;
        final long generation = ids.generationOf(id);
        if (generation >= ids.maxGeneration)
        {
            ids.retiredSlots++; // its generations are used up: never handed out again
            return;
        }
        ids.pushFree(ids.idOf(generation + 1, slot));
    }

    /**
     * Frees what an applied batch gave up, in its record order: the id of every Create that failed after it was
     * given one, and of every Delete that was applied.
     *
     * @param batch applied: its entries hold the final statuses.
     */
    void freeGivenUp(final BatchSlot batch)
    {
        for (int i = 0; i < batch.entryCount; i++)
        {
            final long nodeId = batch.entryNodeId[i];
            if (0 == nodeId)
            {
                continue;
            }
            final byte kind = batch.entryKind[i];
            final boolean ok = batch.entryStatus[i] == io.spate.wire.RecordStatus.OK.value();
            if ((kind == BatchSlot.KIND_CREATE && !ok) || (kind == BatchSlot.KIND_DELETE && ok))
            {
                free(batch.entryTypeId[i], nodeId);
            }
        }
    }
}
