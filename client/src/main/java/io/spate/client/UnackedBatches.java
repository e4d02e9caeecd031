package io.spate.client;

import org.agrona.BitUtil;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The batches a client has sent and has no answer for yet, oldest first, each with its bytes exactly as sent:
 * after a leader change (cluster mode) or when a session is taken back after a pipeline restart (single-node),
 * they are sent again, in order and unchanged (same session and correlation id), so the server applies each once
 * and answers it once more. When they can never be answered they are failed from the head, in order.
 * <p>
 * Bounded by a count ({@link #limitBatches()}: at most {@link #maxBatches()}, lowered to the server's ack ledger)
 * and by bytes ({@link #capacityBytes()}). The bytes live in one ring: a batch is stored contiguously at the tail,
 * or at the start of the ring when the tail's end is too short (that end stays unused until the ring wraps past
 * it). The ring starts small and doubles, up to {@link #capacityBytes()}, when a batch finds no room in it (the
 * retained batches are then copied to the start of the new one): a client allocates while its in-flight bytes
 * grow to their steady state, and never after.
 * Entries are numbered by a sequence that only grows: {@link #headSequence()} is the oldest retained entry,
 * {@link #tailSequence()} the next one to be appended, so a resend cursor survives entries popped under it.
 * <p>
 * Acks normally arrive in the order the batches were sent, each popping the head. An ack for a later entry
 * (the head's own ack lost) marks that entry acked: it is delivered once and popped when everything before it is.
 * Not thread-safe: the client's thread only.
 */
final class UnackedBatches
{
    /** Most batches the FIFO may hold (the servers keep a ledger of a session's last 1024 acks by default). */
    static final int MAX_BATCHES_LIMIT = 1024;

    /** {@link #onAck(long)}: the first ack of a retained batch; deliver it. */
    static final int ACKED = 0;
    /** {@link #onAck(long)}: an ack of a batch acked before (older than the head, or marked); ignore it. */
    static final int DUPLICATE = 1;
    /** {@link #onAck(long)}: no batch sent has that correlation id; ignore it. */
    static final int UNKNOWN = 2;

    private final int maxBatches;
    private final int indexMask;
    private final long[] correlationIds;
    private final int[] offsetsBytes;
    private final int[] lengthsBytes;
    private final boolean[] acked;
    private UnsafeBuffer ring;
    private final int capacityBytes;
    private int limitBatches;
    private long headSequence;
    private long tailSequence;
    /** Where the bytes after the newest entry begin (0 when empty). */
    private int tailOffsetBytes;
    private int retainedBytes;
    /** Correlation ids must grow: every ack is then placed by one comparison or a binary search. */
    private long lastAppendedCorrelationId = Long.MIN_VALUE;
    private long duplicateAcks;

    /**
     * A ring of all its bytes from the start.
     *
     * @param maxBatches    most batches retained, 1..{@value #MAX_BATCHES_LIMIT}.
     * @param capacityBytes bytes of the ring, at least 1: the largest batch that can ever be retained.
     */
    UnackedBatches(final int maxBatches, final int capacityBytes)
    {
        this(maxBatches, capacityBytes, capacityBytes);
    }

    /**
     * @param maxBatches    most batches retained, 1..{@value #MAX_BATCHES_LIMIT}.
     * @param capacityBytes most bytes of the ring, at least 1: the largest batch that can ever be retained.
     * @param initialBytes  bytes of the ring to start with (1..capacityBytes; clamped): it doubles on demand.
     */
    UnackedBatches(final int maxBatches, final int capacityBytes, final int initialBytes)
    {
        if (maxBatches < 1 || maxBatches > MAX_BATCHES_LIMIT)
        {
            throw new IllegalArgumentException("maxBatches must be 1.." + MAX_BATCHES_LIMIT + ": " + maxBatches);
        }
        if (capacityBytes < 1)
        {
            throw new IllegalArgumentException("capacityBytes must be at least 1: " + capacityBytes);
        }
        this.maxBatches = maxBatches;
        final int slots = BitUtil.findNextPositivePowerOfTwo(maxBatches);
        this.indexMask = slots - 1;
        this.correlationIds = new long[slots];
        this.offsetsBytes = new int[slots];
        this.lengthsBytes = new int[slots];
        this.acked = new boolean[slots];
        this.capacityBytes = capacityBytes;
        this.ring = new UnsafeBuffer(new byte[Math.max(1, Math.min(initialBytes, capacityBytes))]);
        this.limitBatches = maxBatches;
    }

    int maxBatches()
    {
        return maxBatches;
    }

    /**
     * @return most batches retained now: {@link #maxBatches()}, or less when lowered.
     */
    int limitBatches()
    {
        return limitBatches;
    }

    /**
     * Lowers (or restores) the count bound, e.g. to the server's ack ledger; entries retained beyond it stay until
     * answered, and no new one is taken while {@link #size()} is at or above it.
     *
     * @param batches the new bound, clamped to 1..{@link #maxBatches()}.
     */
    void limitBatches(final int batches)
    {
        limitBatches = Math.max(1, Math.min(batches, maxBatches));
    }

    /**
     * @return bytes of the ring now (it grows up to {@link #capacityBytes()}).
     */
    int ringBytes()
    {
        return ring.capacity();
    }

    int capacityBytes()
    {
        return capacityBytes;
    }

    /**
     * @return entries retained, acked-but-not-yet-popped ones included.
     */
    int size()
    {
        return (int)(tailSequence - headSequence);
    }

    boolean isEmpty()
    {
        return tailSequence == headSequence;
    }

    /**
     * @return bytes of the retained batches (not counting the unused end of the ring).
     */
    int retainedBytes()
    {
        return retainedBytes;
    }

    long headSequence()
    {
        return headSequence;
    }

    long tailSequence()
    {
        return tailSequence;
    }

    /**
     * @return acks ignored because their batch had been acked already.
     */
    long duplicateAcks()
    {
        return duplicateAcks;
    }

    /**
     * @return whether a batch of {@code lengthBytes} may be appended now: a free entry and contiguous room, in the
     * ring as it is or once grown.
     */
    boolean hasRoomFor(final int lengthBytes)
    {
        return appendOffset(lengthBytes) >= 0 || canGrowFor(lengthBytes);
    }

    /**
     * Retains a batch that was just sent (the caller checked {@link #hasRoomFor(int)} before sending it).
     *
     * @param correlationId greater than every one appended before.
     * @param source        the batch's bytes.
     * @param offset        where they begin in {@code source}.
     * @param lengthBytes   how many, at least 1.
     * @throws IllegalStateException when the id does not grow or there is no room: a bug of the caller.
     */
    void append(final long correlationId, final DirectBuffer source, final int offset, final int lengthBytes)
    {
        if (correlationId <= lastAppendedCorrelationId)
        {
            throw new IllegalStateException("correlation ids must grow: " + correlationId + " after " +
                lastAppendedCorrelationId);
        }
        if (lengthBytes < 1)
        {
            throw new IllegalStateException("a batch has at least one byte: " + lengthBytes);
        }
        int offsetBytes = appendOffset(lengthBytes);
        if (offsetBytes < 0 && canGrowFor(lengthBytes))
        {
            grow(lengthBytes);
            offsetBytes = appendOffset(lengthBytes);
        }
        if (offsetBytes < 0)
        {
            throw new IllegalStateException("no room for a batch of " + lengthBytes + " bytes: " + size() + " of " +
                limitBatches + " batches, " + retainedBytes + " of " + capacityBytes + " bytes");
        }
        ring.putBytes(offsetBytes, source, offset, lengthBytes);
        final int index = (int)tailSequence & indexMask;
        correlationIds[index] = correlationId;
        offsetsBytes[index] = offsetBytes;
        lengthsBytes[index] = lengthBytes;
        acked[index] = false;
        tailSequence++;
        tailOffsetBytes = offsetBytes + lengthBytes;
        retainedBytes += lengthBytes;
        lastAppendedCorrelationId = correlationId;
    }

    /**
     * Takes an ack.
     *
     * @param correlationId the ack's.
     * @return {@link #ACKED} (first ack of a retained batch: deliver it; the head and every acked entry right
     * after it are popped), {@link #DUPLICATE} (counted) or {@link #UNKNOWN}.
     */
    int onAck(final long correlationId)
    {
        if (correlationId > lastAppendedCorrelationId)
        {
            return UNKNOWN;
        }
        if (isEmpty() || correlationId < correlationIds[(int)headSequence & indexMask])
        {
            duplicateAcks++;
            return DUPLICATE;
        }
        final long sequence = find(correlationId);
        if (sequence < 0)
        {
            return UNKNOWN; // between retained batches: a read's id, or never sent
        }
        final int index = (int)sequence & indexMask;
        if (acked[index])
        {
            duplicateAcks++;
            return DUPLICATE;
        }
        acked[index] = true;
        popAcked();
        return ACKED;
    }

    /**
     * Removes the oldest entry, which has no ack (it is being failed: it will never be answered), and every acked
     * entry right after it.
     *
     * @throws IllegalStateException when empty.
     */
    void removeHead()
    {
        if (isEmpty())
        {
            throw new IllegalStateException("no entry to remove");
        }
        acked[(int)headSequence & indexMask] = true;
        popAcked();
    }

    /**
     * Drops every entry (the session is gone: they can no longer be resent).
     */
    void clear()
    {
        headSequence = tailSequence;
        tailOffsetBytes = 0;
        retainedBytes = 0;
    }

    long correlationId(final long sequence)
    {
        return correlationIds[checkedIndex(sequence)];
    }

    int offsetBytes(final long sequence)
    {
        return offsetsBytes[checkedIndex(sequence)];
    }

    int lengthBytes(final long sequence)
    {
        return lengthsBytes[checkedIndex(sequence)];
    }

    boolean isAcked(final long sequence)
    {
        return acked[checkedIndex(sequence)];
    }

    /**
     * @return the ring the entries' bytes are in, at {@link #offsetBytes(long)} for {@link #lengthBytes(long)}.
     */
    DirectBuffer buffer()
    {
        return ring;
    }

    private int checkedIndex(final long sequence)
    {
        if (sequence < headSequence || sequence >= tailSequence)
        {
            throw new IndexOutOfBoundsException("sequence " + sequence + " outside [" + headSequence + ", " +
                tailSequence + ")");
        }
        return (int)sequence & indexMask;
    }

    /**
     * @return the sequence of the entry with this correlation id, or -1; the head is tried first (acks come in
     * the order batches were sent), then a binary search (ids grow with the sequence).
     */
    private long find(final long correlationId)
    {
        long low = headSequence;
        long high = tailSequence - 1;
        if (correlationIds[(int)low & indexMask] == correlationId)
        {
            return low;
        }
        while (low <= high)
        {
            final long middle = (low + high) >>> 1;
            final long middleId = correlationIds[(int)middle & indexMask];
            if (middleId < correlationId)
            {
                low = middle + 1;
            }
            else if (middleId > correlationId)
            {
                high = middle - 1;
            }
            else
            {
                return middle;
            }
        }
        return -1;
    }

    private void popAcked()
    {
        while (headSequence < tailSequence && acked[(int)headSequence & indexMask])
        {
            retainedBytes -= lengthsBytes[(int)headSequence & indexMask];
            headSequence++;
        }
        if (isEmpty())
        {
            // Start again at 0: the whole ring is one contiguous gap.
            tailOffsetBytes = 0;
            if (retainedBytes != 0)
            {
                throw new IllegalStateException("retained bytes out of step: " + retainedBytes);
            }
        }
    }

    private boolean canGrowFor(final int lengthBytes)
    {
        return size() < limitBatches && ring.capacity() < capacityBytes &&
            (long)retainedBytes + lengthBytes <= capacityBytes;
    }

    /**
     * A ring at least twice as large (at most {@link #capacityBytes()}) with room for {@code lengthBytes} after the
     * retained entries, which are copied to its start, in order.
     */
    private void grow(final int lengthBytes)
    {
        final long wanted = Math.max(2L * ring.capacity(), (long)retainedBytes + lengthBytes);
        final UnsafeBuffer grown = new UnsafeBuffer(new byte[(int)Math.min(capacityBytes, wanted)]);
        int offsetBytes = 0;
        for (long sequence = headSequence; sequence < tailSequence; sequence++)
        {
            final int index = (int)sequence & indexMask;
            grown.putBytes(offsetBytes, ring, offsetsBytes[index], lengthsBytes[index]);
            offsetsBytes[index] = offsetBytes;
            offsetBytes += lengthsBytes[index];
        }
        ring = grown;
        tailOffsetBytes = offsetBytes;
    }

    /**
     * @return where a batch of {@code lengthBytes} goes, or -1 when there is no free entry or no contiguous room.
     */
    private int appendOffset(final int lengthBytes)
    {
        final int ringBytes = ring.capacity();
        if (size() >= limitBatches || lengthBytes > ringBytes)
        {
            return -1;
        }
        if (isEmpty())
        {
            return 0;
        }
        final int headOffsetBytes = offsetsBytes[(int)headSequence & indexMask];
        if (tailOffsetBytes > headOffsetBytes)
        {
            // Bytes in [head, tail): room after the tail, else at the start before the head.
            if (lengthBytes <= ringBytes - tailOffsetBytes)
            {
                return tailOffsetBytes;
            }
            return lengthBytes <= headOffsetBytes ? 0 : -1;
        }
        // Wrapped: bytes in [head, end) and [0, tail); equal offsets with entries mean full.
        return lengthBytes <= headOffsetBytes - tailOffsetBytes ? tailOffsetBytes : -1;
    }
}
