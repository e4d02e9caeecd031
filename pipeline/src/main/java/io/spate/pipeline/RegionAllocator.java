package io.spate.pipeline;

/**
 * Space bookkeeping for the one off-heap modify region of {@code capacityBytes}: which byte ranges
 * are free for the next batch. The bytes live elsewhere; this class only hands out offsets.
 * <p>
 * A batch is written into a region {@code [startBytes, startBytes + lengthBytes)}. Its worker
 * consumes the region from the start and publishes how far it got, so a region occupies only
 * {@code [startBytes + consumedBytes, startBytes + lengthBytes)}: bytes behind the worker are free
 * again while the batch still runs (the seed's "NEW PLAN"). A gap is a maximal free byte range of
 * {@code [0, capacityBytes)}; a new batch goes into the largest gap, so the buffer wraps to its
 * beginning as soon as the space freed there is larger than what is left ahead.
 * <p>
 * The occupied ranges of the regions are disjoint (each is committed into a free gap and only
 * shrinks from its start), so they are kept as one list sorted by offset: every operation is one
 * scan of at most {@code maxRegions} entries, and nothing is allocated after construction.
 * Single-threaded: the conductor owns it.
 */
public final class RegionAllocator
{
    private final int capacityBytes;
    private final int maxRegions;

    /** Per region id; {@code regionLengthBytes[id] == 0} marks a free id (a committed region has length > 0). */
    private final int[] regionStartBytes;
    private final int[] regionLengthBytes;
    private final int[] regionConsumedBytes;

    /** Stack of free region ids; ids are reused after release. */
    private final int[] freeRegionIds;
    private int freeRegionIdCount;

    /** Ids of the regions that still occupy bytes, sorted by their occupied start; disjoint ranges. */
    private final int[] occupiedOrder;
    private int occupiedCount;

    private int occupiedBytes;

    /**
     * @param capacityBytes size of the modify region the offsets refer to.
     * @param maxRegions    bound on regions in flight at once (committed and not released).
     */
    public RegionAllocator(final int capacityBytes, final int maxRegions)
    {
        if (capacityBytes <= 0)
        {
            throw new IllegalArgumentException("capacityBytes must be > 0: " + capacityBytes);
        }
        if (maxRegions <= 0)
        {
            throw new IllegalArgumentException("maxRegions must be > 0: " + maxRegions);
        }
        this.capacityBytes = capacityBytes;
        this.maxRegions = maxRegions;
        regionStartBytes = new int[maxRegions];
        regionLengthBytes = new int[maxRegions];
        regionConsumedBytes = new int[maxRegions];
        freeRegionIds = new int[maxRegions];
        occupiedOrder = new int[maxRegions];
        // Pops 0 first: ids are handed out lowest first while none has been released.
        for (int i = 0; i < maxRegions; i++)
        {
            freeRegionIds[i] = maxRegions - 1 - i;
        }
        freeRegionIdCount = maxRegions;
    }

    /** @return the offset half of a value returned by {@link #open()}. */
    public static int offsetOf(final long gap)
    {
        return (int)(gap >>> 32);
    }

    /** @return the length half of a value returned by {@link #open()}. */
    public static int lengthOf(final long gap)
    {
        return (int)gap;
    }

    static long pack(final int offsetBytes, final int lengthBytes)
    {
        return ((long)offsetBytes << 32) | (lengthBytes & 0xFFFF_FFFFL);
    }

    public int capacityBytes()
    {
        return capacityBytes;
    }

    /** @return true when a region id is free, i.e. {@link #commit(int, int)} would not run out of regions. */
    public boolean canOpen()
    {
        return freeRegionIdCount > 0;
    }

    /**
     * Where the next batch should be written: the largest gap, lowest offset on ties. Does not
     * change state; the caller writes at most the gap's length and then {@link #commit(int, int)}s
     * what it wrote (consumption and releases in between only grow the gap).
     *
     * @return {@code ((long)offsetBytes << 32) | gapLengthBytes}, or -1 when no region id is free
     * or no byte is free.
     */
    public long open()
    {
        if (freeRegionIdCount == 0)
        {
            return -1;
        }
        final long gap = largestGap();
        return lengthOf(gap) == 0 ? -1 : gap;
    }

    /**
     * Records {@code [offsetBytes, offsetBytes + lengthBytes)} as in flight.
     *
     * @return the region id, {@code 0..maxRegions-1}, for {@link #consumed(int, int)} and {@link #release(int)}.
     * @throws IllegalStateException when the range is not inside one free gap or no region id is free.
     */
    public int commit(final int offsetBytes, final int lengthBytes)
    {
        if (lengthBytes <= 0)
        {
            throw new IllegalStateException("region length must be > 0: " + lengthBytes);
        }
        if (offsetBytes < 0 || (long)offsetBytes + lengthBytes > capacityBytes)
        {
            throw new IllegalStateException("region [" + offsetBytes + ", " + ((long)offsetBytes + lengthBytes) +
                ") outside buffer of " + capacityBytes + " bytes");
        }
        if (freeRegionIdCount == 0)
        {
            throw new IllegalStateException("no free region: " + maxRegions + " regions in flight");
        }

        // The first occupied range starting at or after offsetBytes bounds the gap from above,
        // the one before it from below.
        int index = 0;
        while (index < occupiedCount && occupiedStartBytes(occupiedOrder[index]) < offsetBytes)
        {
            index++;
        }
        final int gapStartBytes = index == 0 ? 0 : occupiedEndBytes(occupiedOrder[index - 1]);
        final int gapEndBytes = index == occupiedCount ? capacityBytes : occupiedStartBytes(occupiedOrder[index]);
        if (gapStartBytes > offsetBytes || offsetBytes + lengthBytes > gapEndBytes)
        {
            throw new IllegalStateException("region [" + offsetBytes + ", " + (offsetBytes + lengthBytes) +
                ") overlaps occupied bytes; its gap is [" + gapStartBytes + ", " + gapEndBytes + ")");
        }

        final int regionId = freeRegionIds[--freeRegionIdCount];
        if (regionLengthBytes[regionId] != 0)
        {
            throw new IllegalStateException("free region id " + regionId + " still in use");
        }
        regionStartBytes[regionId] = offsetBytes;
        regionLengthBytes[regionId] = lengthBytes;
        regionConsumedBytes[regionId] = 0;

        System.arraycopy(occupiedOrder, index, occupiedOrder, index + 1, occupiedCount - index);
        occupiedOrder[index] = regionId;
        occupiedCount++;
        occupiedBytes += lengthBytes;
        return regionId;
    }

    /**
     * The worker has consumed {@code consumedBytes} from the start of the region: those bytes are free.
     *
     * @param consumedBytes total consumed so far, {@code 0..lengthBytes}; never less than before.
     */
    public void consumed(final int regionId, final int consumedBytes)
    {
        checkInFlight(regionId);
        final int lengthBytes = regionLengthBytes[regionId];
        final int previousBytes = regionConsumedBytes[regionId];
        if (consumedBytes < 0 || consumedBytes > lengthBytes)
        {
            throw new IllegalStateException("region " + regionId + " consumed " + consumedBytes +
                " bytes outside 0.." + lengthBytes);
        }
        if (consumedBytes < previousBytes)
        {
            throw new IllegalStateException("region " + regionId + " consumed went backwards: " +
                previousBytes + " -> " + consumedBytes);
        }
        if (consumedBytes == previousBytes)
        {
            return;
        }
        regionConsumedBytes[regionId] = consumedBytes;
        occupiedBytes -= consumedBytes - previousBytes;
        if (consumedBytes == lengthBytes)
        {
            // An empty range would sit inside a later gap and break the sorted order: drop it.
            removeOccupied(regionId);
        }
    }

    /** The batch is done: the rest of its region is free and its id can be reused. */
    public void release(final int regionId)
    {
        checkInFlight(regionId);
        final int remainingBytes = regionLengthBytes[regionId] - regionConsumedBytes[regionId];
        if (remainingBytes > 0)
        {
            removeOccupied(regionId);
            occupiedBytes -= remainingBytes;
        }
        regionStartBytes[regionId] = 0;
        regionLengthBytes[regionId] = 0;
        regionConsumedBytes[regionId] = 0;
        if (freeRegionIdCount >= maxRegions)
        {
            throw new IllegalStateException("free region ids overflow");
        }
        freeRegionIds[freeRegionIdCount++] = regionId;
    }

    /** @return the length of the largest gap, 0 when the buffer is full. */
    public int largestGapBytes()
    {
        return lengthOf(largestGap());
    }

    /** @return all free bytes, in however many gaps. */
    public int freeBytes()
    {
        return capacityBytes - occupiedBytes;
    }

    public int regionsInFlight()
    {
        return maxRegions - freeRegionIdCount;
    }

    /** Packed offset and length of the largest gap (length may be 0); lowest offset on ties. */
    private long largestGap()
    {
        int bestOffsetBytes = 0;
        int bestLengthBytes = -1;
        int gapStartBytes = 0;
        for (int i = 0; i < occupiedCount; i++)
        {
            final int regionId = occupiedOrder[i];
            final int gapLengthBytes = occupiedStartBytes(regionId) - gapStartBytes;
            if (gapLengthBytes > bestLengthBytes)
            {
                bestOffsetBytes = gapStartBytes;
                bestLengthBytes = gapLengthBytes;
            }
            gapStartBytes = occupiedEndBytes(regionId);
        }
        final int lastGapLengthBytes = capacityBytes - gapStartBytes;
        if (lastGapLengthBytes > bestLengthBytes)
        {
            bestOffsetBytes = gapStartBytes;
            bestLengthBytes = lastGapLengthBytes;
        }
        if (bestLengthBytes < 0)
        {
            throw new IllegalStateException("occupied ranges out of order");
        }
        return pack(bestOffsetBytes, bestLengthBytes);
    }

    private int occupiedStartBytes(final int regionId)
    {
        return regionStartBytes[regionId] + regionConsumedBytes[regionId];
    }

    private int occupiedEndBytes(final int regionId)
    {
        return regionStartBytes[regionId] + regionLengthBytes[regionId];
    }

    private void removeOccupied(final int regionId)
    {
        for (int i = 0; i < occupiedCount; i++)
        {
            if (occupiedOrder[i] == regionId)
            {
                System.arraycopy(occupiedOrder, i + 1, occupiedOrder, i, occupiedCount - i - 1);
                occupiedCount--;
                return;
            }
        }
        throw new IllegalStateException("region " + regionId + " not in the occupied list");
    }

    private void checkInFlight(final int regionId)
    {
        if (regionId < 0 || regionId >= maxRegions)
        {
            throw new IllegalStateException("region id " + regionId + " outside 0.." + (maxRegions - 1));
        }
        if (regionLengthBytes[regionId] == 0)
        {
            throw new IllegalStateException("region " + regionId + " is not in flight");
        }
    }

    /**
     * Full consistency check, O(maxRegions²); for tests. Occupied ranges sorted, disjoint, inside
     * the buffer and non-empty; exactly the in-flight regions with unconsumed bytes listed; the
     * byte and id counts agree.
     */
    void verify()
    {
        int liveRegions = 0;
        long unconsumedBytes = 0;
        int unconsumedRegions = 0;
        for (int id = 0; id < maxRegions; id++)
        {
            if (regionLengthBytes[id] == 0)
            {
                continue;
            }
            liveRegions++;
            final int consumedBytes = regionConsumedBytes[id];
            if (consumedBytes < 0 || consumedBytes > regionLengthBytes[id] ||
                regionStartBytes[id] < 0 || (long)regionStartBytes[id] + regionLengthBytes[id] > capacityBytes)
            {
                throw new IllegalStateException("region " + id + " out of bounds");
            }
            if (consumedBytes < regionLengthBytes[id])
            {
                unconsumedRegions++;
                unconsumedBytes += regionLengthBytes[id] - consumedBytes;
            }
        }
        if (liveRegions != regionsInFlight())
        {
            throw new IllegalStateException("live regions " + liveRegions + " != in flight " + regionsInFlight());
        }
        if (unconsumedRegions != occupiedCount || unconsumedBytes != occupiedBytes)
        {
            throw new IllegalStateException("occupied list " + occupiedCount + "/" + occupiedBytes +
                " != regions " + unconsumedRegions + "/" + unconsumedBytes);
        }
        int previousEndBytes = 0;
        for (int i = 0; i < occupiedCount; i++)
        {
            final int id = occupiedOrder[i];
            if (regionLengthBytes[id] == 0 || occupiedStartBytes(id) >= occupiedEndBytes(id))
            {
                throw new IllegalStateException("occupied list holds empty region " + id);
            }
            if (occupiedStartBytes(id) < previousEndBytes)
            {
                throw new IllegalStateException("occupied ranges overlap or out of order at region " + id);
            }
            previousEndBytes = occupiedEndBytes(id);
        }
        for (int i = 0; i < freeRegionIdCount; i++)
        {
            if (regionLengthBytes[freeRegionIds[i]] != 0)
            {
                throw new IllegalStateException("free id " + freeRegionIds[i] + " is in flight");
            }
        }
    }
}
