package io.spate.pipeline;

import org.agrona.BitUtil;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableRingBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.collections.Long2ObjectHashMap;

/**
 * Answers a session's response stream has not taken yet, per session, in the order they were given, bounded in
 * bytes per session. Whoever offers keeps them here while the stream pushes back and offers them again, oldest
 * first, before anything newer: an answer is never dropped while its session lives, and when a session's answers
 * pass the bound the session is closed instead. Local to the member that offers (in a cluster, the leader): never
 * replicated, never snapshotted. Nothing here knows of Aeron Cluster.
 * <p>
 * Bounds: {@code maxSessionBytes} per session, counted as {@link #entryBytes} (the answer and the ring's framing).
 * A session's ring grows by doubling to at most twice that (a power of two, so an answer within the bound always
 * fits whatever padding a wrap leaves), and goes back to 4 KiB once it is empty again.
 */
final class PendingAnswers
{
    static final int INITIAL_RING_BYTES = 4096;

    /** Takes an answer; false when the stream will not take it now (it stays, and so does everything after it). */
    @FunctionalInterface
    interface Sender
    {
        boolean send(DirectBuffer buffer, int offset, int length);
    }

    /** One session's answers. */
    private static final class Queue
    {
        final ExpandableRingBuffer ring;
        long bytes;
        int count;

        Queue(final int maxRingBytes)
        {
            ring = new ExpandableRingBuffer(INITIAL_RING_BYTES, maxRingBytes, false);
        }
    }

    private final Long2ObjectHashMap<Queue> queueBySession = new Long2ObjectHashMap<>();
    private final int maxSessionBytes;
    private final int maxRingBytes;
    private final Drainer drainer = new Drainer();
    private int sessionsWaiting;
    private long totalBytes;
    private long totalCount;

    /**
     * @param maxSessionBytes bytes of answers kept per session ({@link #entryBytes} each); at most 2^29.
     */
    PendingAnswers(final int maxSessionBytes)
    {
        if (maxSessionBytes < INITIAL_RING_BYTES / 2 || maxSessionBytes > AckLedger.MAX_SESSION_BYTES)
        {
            throw new IllegalArgumentException("answers waiting per session must be " + INITIAL_RING_BYTES / 2 + ".." +
                AckLedger.MAX_SESSION_BYTES + " bytes: " + maxSessionBytes);
        }
        this.maxSessionBytes = maxSessionBytes;
        this.maxRingBytes = BitUtil.findNextPositivePowerOfTwo(2 * maxSessionBytes);
    }

    /**
     * @return the bytes an answer of this length takes: the ring's framing, aligned.
     */
    static int entryBytes(final int lengthBytes)
    {
        return BitUtil.align(ExpandableRingBuffer.HEADER_LENGTH + lengthBytes, ExpandableRingBuffer.HEADER_ALIGNMENT);
    }

    int maxSessionBytes()
    {
        return maxSessionBytes;
    }

    /**
     * @return true when some session has answers waiting.
     */
    boolean hasAny()
    {
        return sessionsWaiting > 0;
    }

    int sessionsWaiting()
    {
        return sessionsWaiting;
    }

    /**
     * @return bytes of answers waiting over all sessions ({@link #entryBytes} each).
     */
    long totalBytes()
    {
        return totalBytes;
    }

    /**
     * @return answers waiting over all sessions.
     */
    long totalCount()
    {
        return totalCount;
    }

    /**
     * @return true when the session has no answer waiting.
     */
    boolean isEmpty(final long sessionId)
    {
        final Queue queue = queueBySession.get(sessionId);
        return null == queue || 0 == queue.count;
    }

    /**
     * @return answers waiting for the session.
     */
    int count(final long sessionId)
    {
        final Queue queue = queueBySession.get(sessionId);
        return null == queue ? 0 : queue.count;
    }

    /**
     * Keeps an answer behind the session's others.
     *
     * @return false, keeping nothing, when it would take the session past its bound.
     */
    boolean add(final long sessionId, final DirectBuffer buffer, final int offset, final int length)
    {
        final int bytes = entryBytes(length);
        Queue queue = queueBySession.get(sessionId);
        if (null == queue)
        {
            queue = new Queue(maxRingBytes);
            queueBySession.put(sessionId, queue);
        }
        if (queue.bytes + bytes > maxSessionBytes)
        {
            return false;
        }
        if (!queue.ring.append(buffer, offset, length))
        {
            throw new IllegalStateException("the answers of session " + sessionId + " do not fit their ring of " +
                queue.ring.capacity() + " bytes: " + queue.bytes + " + " + bytes);
        }
        if (queue.count++ == 0)
        {
            sessionsWaiting++;
        }
        queue.bytes += bytes;
        totalBytes += bytes;
        totalCount++;
        return true;
    }

    /**
     * Offers the session's answers, oldest first, removing each the sender took, until it takes no more.
     *
     * @return answers sent.
     */
    int drain(final long sessionId, final Sender sender)
    {
        final Queue queue = queueBySession.get(sessionId);
        if (null == queue || 0 == queue.count)
        {
            return 0;
        }
        drainer.queue = queue;
        drainer.sender = sender;
        drainer.sent = 0;
        queue.ring.consume(drainer, Integer.MAX_VALUE);
        drainer.queue = null;
        drainer.sender = null;
        if (0 == queue.count)
        {
            emptied(queue);
        }
        return drainer.sent;
    }

    /**
     * Forgets the session's answers (its session is gone or closing, or this member no longer answers).
     *
     * @return answers forgotten.
     */
    int clear(final long sessionId)
    {
        final Queue queue = queueBySession.get(sessionId);
        if (null == queue || 0 == queue.count)
        {
            return 0;
        }
        final int count = queue.count;
        totalBytes -= queue.bytes;
        totalCount -= count;
        queue.bytes = 0;
        queue.count = 0;
        emptied(queue);
        return count;
    }

    /**
     * Forgets the session (closed).
     *
     * @return answers forgotten.
     */
    int remove(final long sessionId)
    {
        final int count = clear(sessionId);
        queueBySession.remove(sessionId);
        return count;
    }

    /**
     * Forgets every session's answers.
     *
     * @return answers forgotten.
     */
    long clearAll()
    {
        final long count = totalCount;
        queueBySession.clear();
        sessionsWaiting = 0;
        totalBytes = 0;
        totalCount = 0;
        return count;
    }

    /**
     * Visits the sessions with answers waiting (clearing or draining them from the action is allowed; adding or
     * removing sessions is not).
     */
    void forEachSessionWaiting(final org.agrona.collections.LongLongConsumer action)
    {
        if (0 == sessionsWaiting)
        {
            return;
        }
        queueBySession.forEachLong(visitor.of(action));
    }

    private final Visitor visitor = new Visitor();

    private static final class Visitor implements org.agrona.collections.LongObjConsumer<Queue>
    {
        org.agrona.collections.LongLongConsumer action;

        Visitor of(final org.agrona.collections.LongLongConsumer action)
        {
            this.action = action;
            return this;
        }

        public void accept(final long sessionId, final Queue queue)
        {
            if (queue.count > 0)
            {
                action.accept(sessionId, queue.count);
            }
        }
    }

    private void emptied(final Queue queue)
    {
        sessionsWaiting--;
        queue.ring.reset(INITIAL_RING_BYTES); // a new buffer only when it had grown
    }

    private final class Drainer implements ExpandableRingBuffer.MessageConsumer
    {
        Queue queue;
        Sender sender;
        int sent;

        public boolean onMessage(final MutableDirectBuffer buffer, final int offset, final int length, final int headOffset)
        {
            if (!sender.send(buffer, offset, length))
            {
                return false;
            }
            final int bytes = entryBytes(length);
            queue.bytes -= bytes;
            queue.count--;
            totalBytes -= bytes;
            totalCount--;
            sent++;
            return true;
        }
    }
}
