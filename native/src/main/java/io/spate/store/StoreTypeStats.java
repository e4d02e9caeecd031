package io.spate.store;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * What one type of a {@link NativeStore} holds and how its memory is used ({@code spate_type_stats}):
 * a mutable holder that {@link NativeStore#typeStats(int, StoreTypeStats)} fills in place, so that
 * a periodic reader allocates nothing. Read from another thread than the type's writer, each figure
 * is exact but they may be of slightly different moments.
 */
public final class StoreTypeStats
{
    /** Bytes of {@code struct spate_type_stats}; spate_store.c asserts the layout. */
    static final int LENGTH_BYTES = 96;

    /** Where the store writes the struct: one per holder, so holders on different threads share nothing. */
    private final MemorySegment segment = Arena.ofAuto().allocate(LENGTH_BYTES, 8);
    private int typeId;
    private long maxNodes;
    private long liveNodes;
    private long slotLimit;
    private long highWaterSlot;
    private long freeSlots;
    private long retiredSlots;
    private long arenaCapacityBytes;
    private long arenaLiveBytes;
    private long arenaFreeBytes;
    private long arenaReservedBytes;
    private long arenaCompactions;
    private int slotBits;
    private int rowStrideBytes;

    MemorySegment segment()
    {
        return segment;
    }

    void fill(final int typeId)
    {
        final MemorySegment stats = segment;
        this.typeId = typeId;
        maxNodes = stats.get(JAVA_LONG, 0);
        liveNodes = stats.get(JAVA_LONG, 8);
        slotLimit = stats.get(JAVA_LONG, 16);
        highWaterSlot = stats.get(JAVA_LONG, 24);
        freeSlots = stats.get(JAVA_LONG, 32);
        retiredSlots = stats.get(JAVA_LONG, 40);
        arenaCapacityBytes = stats.get(JAVA_LONG, 48);
        arenaLiveBytes = stats.get(JAVA_LONG, 56);
        arenaFreeBytes = stats.get(JAVA_LONG, 64);
        arenaReservedBytes = stats.get(JAVA_LONG, 72);
        arenaCompactions = stats.get(JAVA_LONG, 80);
        slotBits = stats.get(JAVA_INT, 88);
        rowStrideBytes = stats.get(JAVA_INT, 92);
    }

    public int typeId()
    {
        return typeId;
    }

    /** @return nodes live at once, at most (the schema's maxNodes). */
    public long maxNodes()
    {
        return maxNodes;
    }

    public long liveNodes()
    {
        return liveNodes;
    }

    /** @return the highest slot: maxNodes plus the retirement allowance. */
    public long slotLimit()
    {
        return slotLimit;
    }

    /** @return the highest slot ever used, 0 for none: rows up to it are (or were) committed. */
    public long highWaterSlot()
    {
        return highWaterSlot;
    }

    /** @return slots up to {@link #highWaterSlot()} that are not live: what creates reuse. */
    public long freeSlots()
    {
        return freeSlots;
    }

    /** @return slots whose generations are used up: never reused. */
    public long retiredSlots()
    {
        return retiredSlots;
    }

    public long arenaCapacityBytes()
    {
        return arenaCapacityBytes;
    }

    /** @return bytes of the blocks that live string/bytes values hold. */
    public long arenaLiveBytes()
    {
        return arenaLiveBytes;
    }

    /** @return bytes of freed blocks, ready for reuse. */
    public long arenaFreeBytes()
    {
        return arenaFreeBytes;
    }

    /** @return arena bytes in use as blocks, live or free: what the arena commits. */
    public long arenaReservedBytes()
    {
        return arenaReservedBytes;
    }

    public long arenaCompactions()
    {
        return arenaCompactions;
    }

    /** @return bits of an id that name the slot: id = generation &lt;&lt; slotBits | slot. */
    public int slotBits()
    {
        return slotBits;
    }

    public int rowStrideBytes()
    {
        return rowStrideBytes;
    }

    /** @return committed row memory: the slots up to the high water mark. */
    public long rowBytes()
    {
        return highWaterSlot * rowStrideBytes;
    }

    public String toString()
    {
        return "live=" + liveNodes + "/" + maxNodes + " freeSlots=" + freeSlots + " retired=" + retiredSlots +
            " highWater=" + highWaterSlot + " arena(live/free/reserved/capacity)=" + arenaLiveBytes + "/" +
            arenaFreeBytes + "/" + arenaReservedBytes + "/" + arenaCapacityBytes + " compactions=" + arenaCompactions;
    }
}
