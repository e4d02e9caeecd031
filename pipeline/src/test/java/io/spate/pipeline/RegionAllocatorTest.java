package io.spate.pipeline;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.LongStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class RegionAllocatorTest
{
    private static long gap(final int offsetBytes, final int lengthBytes)
    {
        return RegionAllocator.pack(offsetBytes, lengthBytes);
    }

    private static String describe(final long gap)
    {
        return gap < 0 ? "none" : "[" + RegionAllocator.offsetOf(gap) + ", +" + RegionAllocator.lengthOf(gap) + ")";
    }

    @Test
    void packsOffsetAndLength()
    {
        final long gap = gap(123_456_789, 2_000_000_000);
        assertEquals(123_456_789, RegionAllocator.offsetOf(gap));
        assertEquals(2_000_000_000, RegionAllocator.lengthOf(gap));
    }

    @Test
    void emptyBufferIsOneGap()
    {
        final RegionAllocator buffer = new RegionAllocator(1000, 4);
        assertEquals(1000, buffer.capacityBytes());
        assertEquals(gap(0, 1000), buffer.open());
        assertEquals(1000, buffer.largestGapBytes());
        assertEquals(1000, buffer.freeBytes());
        assertEquals(0, buffer.regionsInFlight());
        assertTrue(buffer.canOpen());
    }

    @Test
    void openDoesNotChangeState()
    {
        final RegionAllocator buffer = new RegionAllocator(1000, 4);
        buffer.commit(0, 100);
        assertEquals(buffer.open(), buffer.open());
        assertEquals(1, buffer.regionsInFlight());
        assertEquals(900, buffer.freeBytes());
    }

    @Test
    void commitAtStartLeavesGapAfterIt()
    {
        final RegionAllocator buffer = new RegionAllocator(1000, 4);
        final int region = buffer.commit(0, 300);
        assertEquals(0, region);
        assertEquals(gap(300, 700), buffer.open());
        assertEquals(700, buffer.freeBytes());
        assertEquals(1, buffer.regionsInFlight());
        buffer.verify();
    }

    @Test
    void fullBufferHasNoGap()
    {
        final RegionAllocator buffer = new RegionAllocator(1000, 4);
        buffer.commit(0, 1000);
        assertEquals(-1, buffer.open());
        assertEquals(0, buffer.largestGapBytes());
        assertEquals(0, buffer.freeBytes());
    }

    @Test
    void consumedPrefixMergesWithGapBefore()
    {
        final RegionAllocator buffer = new RegionAllocator(1000, 4);
        final int first = buffer.commit(0, 200);
        final int second = buffer.commit(200, 500);
        // [0, 200) first, [200, 700) second, gap [700, 1000).
        buffer.consumed(first, 200);
        // Gap [0, 200) now; the second's prefix joins it.
        buffer.consumed(second, 150);
        assertEquals(gap(0, 350), buffer.open());
        assertEquals(650, buffer.freeBytes());
        assertEquals(2, buffer.regionsInFlight(), "fully consumed regions stay in flight until released");
        buffer.verify();
    }

    @Test
    void consumedSameValueTwiceIsNoOp()
    {
        final RegionAllocator buffer = new RegionAllocator(1000, 4);
        final int region = buffer.commit(0, 500);
        buffer.consumed(region, 100);
        buffer.consumed(region, 100);
        assertEquals(600, buffer.freeBytes());
        buffer.consumed(region, 500);
        buffer.consumed(region, 500);
        assertEquals(1000, buffer.freeBytes());
        assertEquals(gap(0, 1000), buffer.open());
        buffer.verify();
    }

    @Test
    void releaseMergesNeighbouringGaps()
    {
        final RegionAllocator buffer = new RegionAllocator(1000, 4);
        final int a = buffer.commit(0, 100);
        final int b = buffer.commit(100, 100);
        final int c = buffer.commit(200, 100);
        buffer.release(a);
        assertEquals(gap(300, 700), buffer.open());
        buffer.release(c);
        assertEquals(gap(200, 800), buffer.open());
        assertEquals(900, buffer.freeBytes());
        buffer.release(b);
        assertEquals(gap(0, 1000), buffer.open());
        assertEquals(0, buffer.regionsInFlight());
        buffer.verify();
    }

    @Test
    void releaseOfPartlyConsumedRegionFreesTheRest()
    {
        final RegionAllocator buffer = new RegionAllocator(1000, 4);
        final int region = buffer.commit(100, 400);
        buffer.consumed(region, 150);
        assertEquals(750, buffer.freeBytes());
        buffer.release(region);
        assertEquals(1000, buffer.freeBytes());
        assertEquals(gap(0, 1000), buffer.open());
    }

    @Test
    void wrapsToBeginningWhenGapThereIsBigger()
    {
        final RegionAllocator buffer = new RegionAllocator(1000, 4);
        final int a = buffer.commit(0, 400);
        final int b = buffer.commit(400, 400);
        // Ahead: [800, 1000) = 200 bytes.
        assertEquals(gap(800, 200), buffer.open());
        buffer.consumed(a, 150);
        // Behind: [0, 150) is smaller, the writer stays ahead.
        assertEquals(gap(800, 200), buffer.open());
        buffer.consumed(a, 300);
        // Behind: [0, 300) is bigger: wrap.
        assertEquals(gap(0, 300), buffer.open());
        final int c = buffer.commit(0, 300);
        assertEquals(gap(800, 200), buffer.open());
        buffer.release(a);
        // [300, 400) is free but smaller than ahead.
        assertEquals(gap(800, 200), buffer.open());
        buffer.release(b);
        assertEquals(gap(300, 700), buffer.open());
        buffer.release(c);
        buffer.verify();
    }

    @Test
    void tiesGoToLowestOffset()
    {
        final RegionAllocator buffer = new RegionAllocator(900, 4);
        final int a = buffer.commit(0, 300);
        buffer.commit(300, 300);
        // Ahead [600, 900) and, once a is released, [0, 300): equal, the beginning wins.
        buffer.release(a);
        assertEquals(gap(0, 300), buffer.open());
        assertEquals(600, buffer.freeBytes());
    }

    @Test
    void committingInsideGapSplitsIt()
    {
        final RegionAllocator buffer = new RegionAllocator(1000, 4);
        buffer.commit(400, 100);
        assertEquals(gap(500, 500), buffer.open());
        buffer.commit(600, 100);
        // Gaps: [0, 400), [500, 600), [700, 1000).
        assertEquals(gap(0, 400), buffer.open());
        assertEquals(800, buffer.freeBytes());
        buffer.verify();
    }

    @Test
    void commitIntoBytesFreedByConsumptionWhileRegionRuns()
    {
        final RegionAllocator buffer = new RegionAllocator(1000, 4);
        final int a = buffer.commit(0, 1000);
        buffer.consumed(a, 600);
        assertEquals(gap(0, 600), buffer.open());
        final int b = buffer.commit(0, 600);
        assertEquals(-1, buffer.open());
        buffer.consumed(a, 1000);
        assertEquals(gap(600, 400), buffer.open());
        buffer.consumed(b, 100);
        assertEquals(gap(600, 400), buffer.open());
        assertEquals(500, buffer.freeBytes());
        buffer.verify();
    }

    @Test
    void maxRegionsLimitsOpenAndCommit()
    {
        final RegionAllocator buffer = new RegionAllocator(1000, 2);
        final int a = buffer.commit(0, 10);
        buffer.commit(10, 10);
        assertFalse(buffer.canOpen());
        assertEquals(-1, buffer.open(), "bytes are free but no region id is");
        assertEquals(980, buffer.largestGapBytes());
        assertThrows(IllegalStateException.class, () -> buffer.commit(20, 10));
        buffer.release(a);
        assertTrue(buffer.canOpen());
        assertEquals(a, buffer.commit(20, 10), "released id is reused");
        buffer.verify();
    }

    @Test
    void commitOutsideGapFails()
    {
        final RegionAllocator buffer = new RegionAllocator(1000, 8);
        final int a = buffer.commit(100, 100);
        buffer.consumed(a, 50);
        assertThrows(IllegalStateException.class, () -> buffer.commit(100, 100), "same range");
        assertThrows(IllegalStateException.class, () -> buffer.commit(50, 101), "overlaps the start");
        assertThrows(IllegalStateException.class, () -> buffer.commit(199, 10), "overlaps the end");
        assertThrows(IllegalStateException.class, () -> buffer.commit(0, 1000), "covers it");
        assertThrows(IllegalStateException.class, () -> buffer.commit(160, 10), "inside it");
        assertThrows(IllegalStateException.class, () -> buffer.commit(900, 101), "past the end");
        assertThrows(IllegalStateException.class, () -> buffer.commit(-1, 10), "negative offset");
        assertThrows(IllegalStateException.class, () -> buffer.commit(10, 0), "empty");
        assertThrows(IllegalStateException.class, () -> buffer.commit(Integer.MAX_VALUE, Integer.MAX_VALUE), "overflow");
        assertEquals(1, buffer.regionsInFlight(), "failed commits change nothing");
        assertEquals(950, buffer.freeBytes());
        // The consumed prefix and the bytes touching the region are free.
        buffer.commit(100, 50);
        buffer.commit(200, 800);
        buffer.commit(0, 100);
        assertEquals(0, buffer.freeBytes());
        buffer.verify();
    }

    @Test
    void consumedBackwardsOrBeyondLengthFails()
    {
        final RegionAllocator buffer = new RegionAllocator(1000, 4);
        final int region = buffer.commit(0, 100);
        buffer.consumed(region, 60);
        assertThrows(IllegalStateException.class, () -> buffer.consumed(region, 59));
        assertThrows(IllegalStateException.class, () -> buffer.consumed(region, 101));
        assertThrows(IllegalStateException.class, () -> buffer.consumed(region, -1));
        assertEquals(960, buffer.freeBytes());
    }

    @Test
    void unknownOrReleasedRegionFails()
    {
        final RegionAllocator buffer = new RegionAllocator(1000, 4);
        final int region = buffer.commit(0, 100);
        buffer.release(region);
        assertThrows(IllegalStateException.class, () -> buffer.release(region));
        assertThrows(IllegalStateException.class, () -> buffer.consumed(region, 10));
        assertThrows(IllegalStateException.class, () -> buffer.release(4));
        assertThrows(IllegalStateException.class, () -> buffer.release(-1));
    }

    @Test
    void invalidConstructionFails()
    {
        assertThrows(IllegalArgumentException.class, () -> new RegionAllocator(0, 4));
        assertThrows(IllegalArgumentException.class, () -> new RegionAllocator(1000, 0));
    }

    // -------------------------------------------------------------------------------------------
    // Randomized: compare with a byte-per-byte reference.
    // -------------------------------------------------------------------------------------------

    static LongStream seeds()
    {
        return LongStream.rangeClosed(1, 300);
    }

    /** Reference: one flag per byte, plus each live region's start, length and consumed. */
    private static final class Reference
    {
        final boolean[] occupied;
        final List<int[]> regions = new ArrayList<>(); // {id, start, length, consumed}

        Reference(final int capacityBytes)
        {
            occupied = new boolean[capacityBytes];
        }

        int freeBytes()
        {
            int free = 0;
            for (final boolean b : occupied)
            {
                free += b ? 0 : 1;
            }
            return free;
        }

        /** Largest run of free bytes, lowest offset on ties, packed like {@link RegionAllocator#open()}. */
        long largestGap()
        {
            int bestOffset = 0;
            int bestLength = 0;
            int i = 0;
            while (i < occupied.length)
            {
                if (occupied[i])
                {
                    i++;
                    continue;
                }
                final int start = i;
                while (i < occupied.length && !occupied[i])
                {
                    i++;
                }
                if (i - start > bestLength)
                {
                    bestOffset = start;
                    bestLength = i - start;
                }
            }
            return gap(bestOffset, bestLength);
        }

        boolean allFree(final int offset, final int length)
        {
            if (offset < 0 || length <= 0 || (long)offset + length > occupied.length)
            {
                return false;
            }
            for (int i = offset; i < offset + length; i++)
            {
                if (occupied[i])
                {
                    return false;
                }
            }
            return true;
        }

        void mark(final int from, final int to, final boolean value, final String context)
        {
            for (int i = from; i < to; i++)
            {
                if (occupied[i] == value)
                {
                    throw new AssertionError(context + ": byte " + i + " already " + (value ? "occupied" : "free"));
                }
                occupied[i] = value;
            }
        }
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void matchesByteReference(final long seed)
    {
        final SplittableRandom random = new SplittableRandom(seed);
        final int capacityBytes = 256 + random.nextInt(4096 - 256 + 1);
        final int maxRegions = 1 + random.nextInt(16);
        final RegionAllocator buffer = new RegionAllocator(capacityBytes, maxRegions);
        final Reference reference = new Reference(capacityBytes);
        final String where = "seed " + seed + " capacity " + capacityBytes + " maxRegions " + maxRegions;

        for (int step = 0; step < 2_000; step++)
        {
            final String context = where + " step " + step;
            final int operation = random.nextInt(100);
            if (operation < 30)
            {
                // Open and commit what the writer would: a prefix of the largest gap.
                final long gap = buffer.open();
                if (reference.regions.size() == maxRegions || reference.freeBytes() == 0)
                {
                    assertEquals(-1, gap, context);
                    continue;
                }
                assertEquals(describe(reference.largestGap()), describe(gap), context + ": open is the reference's largest gap");
                final int offset = RegionAllocator.offsetOf(gap);
                final int length = 1 + random.nextInt(RegionAllocator.lengthOf(gap));
                commit(buffer, reference, maxRegions, offset, length, context);
            }
            else if (operation < 40)
            {
                // Commit anywhere: inside a free run (fragments the buffer) or across occupied bytes (must fail).
                final int offset = random.nextInt(capacityBytes);
                final int length = 1 + random.nextInt(Math.min(capacityBytes - offset, 1 + random.nextInt(256)));
                if (reference.allFree(offset, length) && reference.regions.size() < maxRegions)
                {
                    commit(buffer, reference, maxRegions, offset, length, context);
                }
                else
                {
                    final int freeBefore = buffer.freeBytes();
                    assertThrows(IllegalStateException.class, () -> buffer.commit(offset, length), context);
                    assertEquals(freeBefore, buffer.freeBytes(), context);
                }
            }
            else if (operation < 75 && !reference.regions.isEmpty())
            {
                final int[] region = reference.regions.get(random.nextInt(reference.regions.size()));
                final int consumed = region[3] + random.nextInt(region[2] - region[3] + 1);
                buffer.consumed(region[0], consumed);
                reference.mark(region[1] + region[3], region[1] + consumed, false, context);
                region[3] = consumed;
                if (random.nextInt(8) == 0 && consumed > 0)
                {
                    final int backwards = consumed - 1 - random.nextInt(consumed);
                    assertThrows(IllegalStateException.class, () -> buffer.consumed(region[0], backwards), context);
                }
            }
            else if (!reference.regions.isEmpty())
            {
                final int[] region = reference.regions.remove(random.nextInt(reference.regions.size()));
                buffer.release(region[0]);
                reference.mark(region[1] + region[3], region[1] + region[2], false, context);
            }

            buffer.verify();
            assertEquals(reference.freeBytes(), buffer.freeBytes(), context + ": freeBytes");
            assertEquals(RegionAllocator.lengthOf(reference.largestGap()), buffer.largestGapBytes(), context + ": largestGap");
            assertEquals(reference.regions.size(), buffer.regionsInFlight(), context + ": regionsInFlight");
            assertEquals(reference.regions.size() < maxRegions, buffer.canOpen(), context + ": canOpen");
        }

        // Drain: releasing everything gives back the whole buffer.
        for (final int[] region : reference.regions)
        {
            buffer.release(region[0]);
        }
        buffer.verify();
        assertEquals(describe(gap(0, capacityBytes)), describe(buffer.open()), where);
        assertEquals(0, buffer.regionsInFlight(), where);
    }

    private static void commit(
        final RegionAllocator buffer,
        final Reference reference,
        final int maxRegions,
        final int offset,
        final int length,
        final String context)
    {
        final int id = buffer.commit(offset, length);
        if (id < 0 || id >= maxRegions)
        {
            fail(context + ": bad region id " + id);
        }
        for (final int[] region : reference.regions)
        {
            if (region[0] == id)
            {
                fail(context + ": region id " + id + " handed out twice");
            }
        }
        // Throws when a live byte would be covered twice.
        reference.mark(offset, offset + length, true, context + ": commit [" + offset + ", " + (offset + length) + ")");
        reference.regions.add(new int[] {id, offset, length, 0});
    }
}
