package io.spate.store;

import io.spate.wire.RecordOutcomeDecoder;
import io.spate.wire.RecordStatus;

/**
 * The results array {@link NativeStore#apply} fills: one RecordOutcome entry per message
 * walked, laid out as {@code struct spate_result}. Off-heap, reused across calls; read with a
 * flyweight, so reading allocates nothing.
 */
public final class ApplyResults implements AutoCloseable
{
    public static final int RESULT_LENGTH_BYTES = RecordOutcomeDecoder.BLOCK_LENGTH;

    private final OffHeapBuffer memory;
    private final int capacity;
    private final RecordOutcomeDecoder decoder = new RecordOutcomeDecoder();
    private int count;

    /**
     * @param capacity most entries one apply call may write.
     */
    public ApplyResults(final int capacity)
    {
        if (capacity <= 0 || capacity > Integer.MAX_VALUE / RESULT_LENGTH_BYTES)
        {
            throw new IllegalArgumentException("capacity out of range: " + capacity);
        }
        this.capacity = capacity;
        this.memory = new OffHeapBuffer(capacity * RESULT_LENGTH_BYTES);
    }

    public int capacity()
    {
        return capacity;
    }

    /**
     * @return entries the last apply wrote.
     */
    public int count()
    {
        return count;
    }

    void count(final int count)
    {
        if (count > capacity)
        {
            throw new IllegalStateException("store wrote " + count + " results into " + capacity + " slots");
        }
        this.count = count;
    }

    long address()
    {
        return memory.address();
    }

    public long nodeId(final int index)
    {
        return entry(index).nodeId();
    }

    /**
     * @return the {@link RecordStatus} value.
     */
    public int status(final int index)
    {
        return entry(index).statusRaw();
    }

    public int offsetBytes(final int index)
    {
        return (int)entry(index).offsetBytes();
    }

    public int templateId(final int index)
    {
        return entry(index).templateId();
    }

    private RecordOutcomeDecoder entry(final int index)
    {
        if (index < 0 || index >= count)
        {
            throw new IndexOutOfBoundsException("result " + index + " of " + count);
        }
        return decoder.wrap(memory.buffer(), index * RESULT_LENGTH_BYTES, RESULT_LENGTH_BYTES, 0);
    }

    public void close()
    {
        memory.close();
    }
}
