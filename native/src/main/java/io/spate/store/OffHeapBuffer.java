package io.spate.store;

import org.agrona.concurrent.UnsafeBuffer;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * One off-heap region seen two ways: as a {@link MemorySegment} for Panama and as an Agrona
 * {@link UnsafeBuffer} for flyweights, so records written by SBE encoders are handed to the
 * native store by address without a copy. Freed on {@link #close()}.
 */
public final class OffHeapBuffer implements AutoCloseable
{
    /** Cache-line alignment, so adjacent regions never share a line. */
    public static final int ALIGNMENT_BYTES = 64;

    private final Arena arena;
    private final MemorySegment segment;
    private final UnsafeBuffer buffer;

    /**
     * @param capacityBytes of the region, at most Integer.MAX_VALUE (an UnsafeBuffer's limit).
     */
    public OffHeapBuffer(final int capacityBytes)
    {
        if (capacityBytes <= 0)
        {
            throw new IllegalArgumentException("capacityBytes must be positive: " + capacityBytes);
        }
        arena = Arena.ofShared();
        segment = arena.allocate(capacityBytes, ALIGNMENT_BYTES);
        buffer = new UnsafeBuffer(segment.address(), capacityBytes);
    }

    public MemorySegment segment()
    {
        return segment;
    }

    public UnsafeBuffer buffer()
    {
        return buffer;
    }

    /**
     * @return address of the first byte.
     */
    public long address()
    {
        return segment.address();
    }

    public int capacityBytes()
    {
        return buffer.capacity();
    }

    public void close()
    {
        if (arena.scope().isAlive())
        {
            arena.close();
        }
    }
}
