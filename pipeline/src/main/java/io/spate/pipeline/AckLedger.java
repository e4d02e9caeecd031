package io.spate.pipeline;

import org.agrona.BitUtil;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableRingBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.collections.Long2ObjectHashMap;

import java.nio.ByteOrder;
import java.util.function.Consumer;

/**
 * What the server answered, per session: the highest correlation id it answered and the acks of that
 * session's latest batches, oldest first. A batch a client sends again (after a leader change, or a restart of
 * the pipeline) with the same session and correlation id is answered from here instead of being applied twice;
 * one whose ack has left the ledger is answered ALREADY_APPLIED ("answered before, outcome no longer kept").
 * The one implementation for the clustered service (replicated state: every member builds the same ledger from
 * the same log, and it travels in snapshots) and the single-node pipeline (rebuilt by replaying its log, kept
 * in its snapshots); it knows nothing of either.
 * <p>
 * Bounds, each evicting the oldest acks first (so what is kept depends only on what was recorded, in order):
 * <ul>
 *   <li>{@code maxBatchesPerSession} acks per session;</li>
 *   <li>{@code maxSessionBytes} bytes per session, counted as {@link #entryBytes} (the ack, its correlation id and
 *       sequence, the ring's framing);</li>
 *   <li>{@code maxTotalBytes} bytes over all sessions: the oldest ack of all goes first (each ack carries its
 *       sequence of recording).</li>
 * </ul>
 * Heap: a session's ring grows by doubling, to at most {@link #ringBytes} of its byte bound (twice it, so that
 * an ack always fits whatever the wrap), and is shrunk when evictions leave it sparse; so a ring holds at most
 * 4 x (its kept bytes + two longest acks), or 4 KiB: all of them together at most
 * 4 x the total bound + sessions x (4 KiB + 8 longest acks).
 */
final class AckLedger
{
    /** Bytes in front of each ack in a session's ring: its correlation id, then its sequence of recording. */
    static final int ENTRY_HEADER_BYTES = 2 * Long.BYTES;
    static final int CORRELATION_ID_OFFSET = 0;
    static final int SEQUENCE_OFFSET = Long.BYTES;
    static final int INITIAL_RING_BYTES = 4096;
    /** The most bytes of acks a session may keep: its ring, twice that, stays within a ring's 2^30. */
    static final int MAX_SESSION_BYTES = 1 << 29;

    /** Acks of one session. */
    static final class SessionAcks
    {
        final long sessionId;
        ExpandableRingBuffer acks;
        /** Highest correlation id of a batch answered (applied or refused); 0 before the first. */
        long lastCorrelationId;
        /** True once an answer was recorded below an earlier one (single-node): a look-up then reads every ack. */
        boolean outOfOrder;
        int count;
        /** {@link #entryBytes} of the acks kept. */
        long bytes;
        /** Sequence of the oldest ack kept; Long.MAX_VALUE when none. */
        long oldestSequence = Long.MAX_VALUE;
        /** Sequence of the newest ack kept; 0 when none was ever kept. */
        long newestSequence;

        SessionAcks(final long sessionId, final int maxRingBytes)
        {
            this.sessionId = sessionId;
            this.acks = new ExpandableRingBuffer(INITIAL_RING_BYTES, maxRingBytes, false);
        }
    }

    private final Long2ObjectHashMap<SessionAcks> sessionsById = new Long2ObjectHashMap<>();
    private final int maxBatchesPerSession;
    private final int maxSessionBytes;
    private final long maxTotalBytes;
    private final int maxAckBytes;
    private final int maxRingBytes;
    private final EntryFinder finder = new EntryFinder();
    private final Evictor evictor = new Evictor();
    private final Copier copier = new Copier();
    private final OldestFinder oldestFinder = new OldestFinder();
    private long totalBytes;
    private long nextSequence = 1;
    private long evictedByBytes;

    /**
     * @param maxBatchesPerSession acks kept per session.
     * @param maxSessionBytes      bytes of acks kept per session ({@link #entryBytes} each).
     * @param maxTotalBytes        bytes of acks kept over all sessions.
     * @param maxAckBytes          the longest ack (of a full batch).
     * @throws IllegalArgumentException when a bound is below one, a session's bytes hold no longest ack, or the
     *                                  total is below a session's.
     */
    AckLedger(final int maxBatchesPerSession, final int maxSessionBytes, final long maxTotalBytes, final int maxAckBytes)
    {
        if (maxBatchesPerSession < 1)
        {
            throw new IllegalArgumentException("the ack ledger keeps at least one ack per session: " + maxBatchesPerSession);
        }
        if (maxAckBytes < 0 || maxAckBytes > MAX_SESSION_BYTES)
        {
            throw new IllegalArgumentException("the longest ack must be 0.." + MAX_SESSION_BYTES +
                " bytes: " + maxAckBytes);
        }
        if (maxSessionBytes < entryBytes(maxAckBytes) || maxSessionBytes > MAX_SESSION_BYTES)
        {
            throw new IllegalArgumentException("a session's " + maxSessionBytes + " bytes of acks must hold one ack of " +
                maxAckBytes + " bytes (" + entryBytes(maxAckBytes) + ") and be at most " +
                MAX_SESSION_BYTES);
        }
        if (maxTotalBytes < maxSessionBytes)
        {
            throw new IllegalArgumentException("the ack ledger's total of " + maxTotalBytes + " bytes is below a " +
                "session's " + maxSessionBytes);
        }
        this.maxBatchesPerSession = maxBatchesPerSession;
        this.maxSessionBytes = maxSessionBytes;
        this.maxTotalBytes = maxTotalBytes;
        this.maxAckBytes = maxAckBytes;
        this.maxRingBytes = ringBytes(maxSessionBytes);
    }

    /**
     * A ledger bounded by its acks per session only: every kept ack fits at its longest, with no total bound.
     *
     * @throws IllegalArgumentException when that is more than a session's bytes may be.
     */
    AckLedger(final int maxBatchesPerSession, final int maxAckBytes)
    {
        this(maxBatchesPerSession, sessionBytesFor(maxBatchesPerSession, maxAckBytes), Long.MAX_VALUE, maxAckBytes);
    }

    private static int sessionBytesFor(final int maxBatchesPerSession, final int maxAckBytes)
    {
        final long bytes = (long)Math.max(1, maxBatchesPerSession) * entryBytes(Math.max(0, maxAckBytes));
        if (bytes > MAX_SESSION_BYTES)
        {
            throw new IllegalArgumentException(maxBatchesPerSession + " acks of up to " + maxAckBytes +
                " bytes per session need more than " + MAX_SESSION_BYTES + " bytes: keep fewer");
        }
        return (int)bytes;
    }

    /**
     * @return the bytes an ack of this length takes in a session's ring: the ring's framing, correlation id and
     * sequence, aligned.
     */
    static int entryBytes(final int ackLengthBytes)
    {
        return BitUtil.align(ExpandableRingBuffer.HEADER_LENGTH + ENTRY_HEADER_BYTES + ackLengthBytes,
            ExpandableRingBuffer.HEADER_ALIGNMENT);
    }

    /**
     * @return the most a session's ring may take: twice its byte bound, a power of two (an ack then always fits,
     * whatever padding a wrap leaves).
     */
    static int ringBytes(final int maxSessionBytes)
    {
        return Math.max(INITIAL_RING_BYTES, BitUtil.findNextPositivePowerOfTwo(2 * maxSessionBytes));
    }

    int maxBatchesPerSession()
    {
        return maxBatchesPerSession;
    }

    int maxAckBytes()
    {
        return maxAckBytes;
    }

    int maxSessionBytes()
    {
        return maxSessionBytes;
    }

    long maxTotalBytes()
    {
        return maxTotalBytes;
    }

    /**
     * @return bytes of acks kept over all sessions ({@link #entryBytes} each).
     */
    long totalBytes()
    {
        return totalBytes;
    }

    /**
     * @return acks evicted by a byte bound (per session or total) before their session's count bound.
     */
    long evictedByBytes()
    {
        return evictedByBytes;
    }

    /**
     * @return the sequence the next ack recorded takes (replicated: snapshots carry it).
     */
    long nextSequence()
    {
        return nextSequence;
    }

    /**
     * @return the session's acks, created on first use.
     */
    SessionAcks session(final long sessionId)
    {
        SessionAcks session = sessionsById.get(sessionId);
        if (null == session)
        {
            session = new SessionAcks(sessionId, maxRingBytes);
            sessionsById.put(sessionId, session);
        }
        return session;
    }

    SessionAcks sessionOrNull(final long sessionId)
    {
        return sessionsById.get(sessionId);
    }

    void remove(final long sessionId)
    {
        final SessionAcks session = sessionsById.remove(sessionId);
        if (null != session)
        {
            totalBytes -= session.bytes;
        }
    }

    int sessionCount()
    {
        return sessionsById.size();
    }

    void forEachSession(final Consumer<SessionAcks> action)
    {
        sessionsById.values().forEach(action);
    }

    /**
     * Records the ack of a batch, evicting the session's oldest while it holds its most acks or bytes, then the
     * oldest of all while the ledger holds its most bytes.
     *
     * @param entry {@link #ENTRY_HEADER_BYTES} free for the correlation id and sequence (written here), then the
     *              ack, from offset 0.
     */
    void record(
        final SessionAcks session, final long correlationId, final MutableDirectBuffer entry, final int entryLengthBytes)
    {
        record(session, correlationId, entry, 0, entryLengthBytes);
    }

    /**
     * @see #record(SessionAcks, long, MutableDirectBuffer, int)
     */
    void record(
        final SessionAcks session,
        final long correlationId,
        final MutableDirectBuffer entry,
        final int entryOffset,
        final int entryLengthBytes)
    {
        if (correlationId <= session.lastCorrelationId)
        {
            throw new IllegalStateException("session " + session.sessionId + ": ack of " + correlationId +
                " recorded after " + session.lastCorrelationId);
        }
        append(session, correlationId, entry, entryOffset, entryLengthBytes);
    }

    /**
     * Records an answer of the single-node pipeline, where answers are recorded as they leave: not in
     * correlation order (a refusal leaves at once, before the acks of batches admitted before it). Eviction
     * stays oldest-recorded first, which keeps every answer a producer may still ask for while the byte bounds
     * do not bind: it keeps at most {@link #maxBatchesPerSession()} batches unanswered, so fewer answers than
     * that were recorded after any answer it has not received.
     *
     * @param entry {@link #ENTRY_HEADER_BYTES} free for the correlation id and sequence (written here), then the
     *              answer, from entryOffset.
     */
    void recordAnswer(
        final SessionAcks session,
        final long correlationId,
        final MutableDirectBuffer entry,
        final int entryOffset,
        final int entryLengthBytes)
    {
        if (correlationId <= 0)
        {
            throw new IllegalStateException("session " + session.sessionId + ": answer to correlation id " + correlationId);
        }
        session.outOfOrder |= correlationId < session.lastCorrelationId;
        append(session, correlationId, entry, entryOffset, entryLengthBytes);
    }

    private void append(
        final SessionAcks session,
        final long correlationId,
        final MutableDirectBuffer entry,
        final int entryOffset,
        final int entryLengthBytes)
    {
        final int ackLengthBytes = entryLengthBytes - ENTRY_HEADER_BYTES;
        if (ackLengthBytes < 0 || ackLengthBytes > maxAckBytes)
        {
            throw new IllegalStateException("session " + session.sessionId + ": an ack of " + ackLengthBytes +
                " bytes, the longest is " + maxAckBytes);
        }
        final int bytes = entryBytes(ackLengthBytes);
        if (session.count > 0 && (session.count >= maxBatchesPerSession || session.bytes + bytes > maxSessionBytes))
        {
            do
            {
                if (session.count < maxBatchesPerSession)
                {
                    evictedByBytes++;
                }
                evictOldest(session);
            }
            while (session.count > 0 && (session.count >= maxBatchesPerSession || session.bytes + bytes > maxSessionBytes));
            shrinkIfSparse(session);
        }
        while (totalBytes + bytes > maxTotalBytes)
        {
            evictedByBytes++;
            evictOldestOfAll();
        }
        entry.putLong(entryOffset + CORRELATION_ID_OFFSET, correlationId, ByteOrder.LITTLE_ENDIAN);
        entry.putLong(entryOffset + SEQUENCE_OFFSET, nextSequence, ByteOrder.LITTLE_ENDIAN);
        keep(session, entry, entryOffset, entryLengthBytes, nextSequence++, bytes);
        session.lastCorrelationId = Math.max(session.lastCorrelationId, correlationId);
    }

    /**
     * Puts back an ack as a snapshot carries it (its correlation id and sequence in its entry), no eviction: what
     * is restored must be within the bounds already.
     *
     * @throws IllegalStateException when it is out of order or past a bound.
     */
    void restore(final SessionAcks session, final DirectBuffer entry, final int entryOffset, final int entryLengthBytes)
    {
        final int ackLengthBytes = entryLengthBytes - ENTRY_HEADER_BYTES;
        if (ackLengthBytes < 0 || ackLengthBytes > maxAckBytes)
        {
            throw new IllegalStateException("an ack of " + ackLengthBytes + " bytes, the longest is " + maxAckBytes);
        }
        final long correlationId = entry.getLong(entryOffset + CORRELATION_ID_OFFSET, ByteOrder.LITTLE_ENDIAN);
        final long sequence = entry.getLong(entryOffset + SEQUENCE_OFFSET, ByteOrder.LITTLE_ENDIAN);
        if (correlationId <= session.lastCorrelationId)
        {
            throw new IllegalStateException("session " + session.sessionId + ": ack of " + correlationId +
                " recorded after " + session.lastCorrelationId);
        }
        if (sequence <= session.newestSequence || sequence >= nextSequence)
        {
            throw new IllegalStateException("session " + session.sessionId + ": ack sequence " + sequence + " after " +
                session.newestSequence + " (the next is " + nextSequence + ")");
        }
        final int bytes = entryBytes(ackLengthBytes);
        if (session.count >= maxBatchesPerSession || session.bytes + bytes > maxSessionBytes ||
            totalBytes + bytes > maxTotalBytes)
        {
            throw new IllegalStateException("session " + session.sessionId + ": more than " + maxBatchesPerSession +
                " acks, " + maxSessionBytes + " bytes of a session or " + maxTotalBytes + " bytes of all");
        }
        keep(session, entry, entryOffset, entryLengthBytes, sequence, bytes);
        session.lastCorrelationId = correlationId;
    }

    /**
     * @param sequence the sequence the next recorded ack takes, as a snapshot carries it (before its acks).
     */
    void restoreNextSequence(final long sequence)
    {
        if (sequence < 1 || sessionCount() > 0)
        {
            throw new IllegalStateException("next ack sequence " + sequence + (sessionCount() > 0 ?
                " after sessions" : ""));
        }
        nextSequence = sequence;
    }

    private void keep(
        final SessionAcks session,
        final DirectBuffer entry,
        final int entryOffset,
        final int entryLengthBytes,
        final long sequence,
        final int bytes)
    {
        if (!session.acks.append(entry, entryOffset, entryLengthBytes))
        {
            throw new IllegalStateException("ack ledger ring of session " + session.sessionId + " is full: " +
                session.acks.size() + " bytes for " + session.count + " acks");
        }
        if (session.count++ == 0)
        {
            session.oldestSequence = sequence;
        }
        session.newestSequence = sequence;
        session.bytes += bytes;
        totalBytes += bytes;
    }

    private void evictOldest(final SessionAcks session)
    {
        evictor.session = session;
        session.acks.consume(evictor, 1);
        evictor.session = null;
        session.count--;
        session.oldestSequence = Long.MAX_VALUE;
        if (session.count > 0)
        {
            session.acks.forEach(oldestFinder.of(session), 1);
        }
    }

    /**
     * Evicts the oldest ack of all sessions, and shrinks its session's ring when it is left sparse.
     */
    private void evictOldestOfAll()
    {
        SessionAcks oldest = null;
        for (final SessionAcks session : sessionsById.values())
        {
            if (session.count > 0 && (null == oldest || session.oldestSequence < oldest.oldestSequence))
            {
                oldest = session;
            }
        }
        if (null == oldest)
        {
            throw new IllegalStateException("the ack ledger counts " + totalBytes + " bytes and holds no ack");
        }
        evictOldest(oldest);
        shrinkIfSparse(oldest);
    }

    /**
     * After evictions: a ring of more than 4 x (its kept bytes + one longest ack) is copied into one of twice that
     * (a power of two, at least 4 KiB). So after any record a ring holds at most 4 x (its kept bytes + two longest
     * acks), or 4 KiB: growth doubles only when less than two longest acks are free. A copy happens only once the
     * kept bytes halved: rare, and never back and forth.
     */
    private void shrinkIfSparse(final SessionAcks session)
    {
        final long wantedBytes = session.bytes + entryBytes(maxAckBytes);
        final int capacity = session.acks.capacity();
        if (capacity > INITIAL_RING_BYTES && capacity > 4 * wantedBytes)
        {
            final int wanted = (int)Math.min(maxRingBytes, Math.max(INITIAL_RING_BYTES,
                BitUtil.findNextPositivePowerOfTwo(2 * wantedBytes)));
            final ExpandableRingBuffer smaller = new ExpandableRingBuffer(wanted, maxRingBytes, false);
            copier.target = smaller;
            session.acks.forEach(copier, Integer.MAX_VALUE);
            copier.target = null;
            session.acks = smaller;
        }
    }

    /** Drops a session's oldest ack (a field, so that eviction on every batch allocates nothing). */
    private final class Evictor implements ExpandableRingBuffer.MessageConsumer
    {
        SessionAcks session;

        public boolean onMessage(final MutableDirectBuffer buffer, final int offset, final int length, final int headOffset)
        {
            final int bytes = entryBytes(length - ENTRY_HEADER_BYTES);
            session.bytes -= bytes;
            totalBytes -= bytes;
            return true;
        }
    }

    private static final class OldestFinder implements ExpandableRingBuffer.MessageConsumer
    {
        SessionAcks session;

        OldestFinder of(final SessionAcks session)
        {
            this.session = session;
            return this;
        }

        public boolean onMessage(final MutableDirectBuffer buffer, final int offset, final int length, final int headOffset)
        {
            session.oldestSequence = buffer.getLong(offset + SEQUENCE_OFFSET, ByteOrder.LITTLE_ENDIAN);
            return false;
        }
    }

    private static final class Copier implements ExpandableRingBuffer.MessageConsumer
    {
        ExpandableRingBuffer target;

        public boolean onMessage(final MutableDirectBuffer buffer, final int offset, final int length, final int headOffset)
        {
            if (!target.append(buffer, offset, length))
            {
                throw new IllegalStateException("an ack of " + length + " bytes does not fit a ring of " +
                    target.capacity());
            }
            return true;
        }
    }

    /**
     * Visits the session's acks with a correlation id at or above {@code fromCorrelationId}, oldest first,
     * until the visitor returns false.
     */
    void forEachFrom(final SessionAcks session, final long fromCorrelationId, final AckVisitor visitor)
    {
        session.acks.forEach((buffer, offset, length, headOffset) ->
        {
            final long correlationId = buffer.getLong(offset + CORRELATION_ID_OFFSET, ByteOrder.LITTLE_ENDIAN);
            if (correlationId < fromCorrelationId)
            {
                return true;
            }
            return visitor.onAck(correlationId, buffer, offset + ENTRY_HEADER_BYTES, length - ENTRY_HEADER_BYTES);
        }, Integer.MAX_VALUE);
    }

    /**
     * Visits one ack of the session.
     *
     * @return true when the session holds it.
     */
    boolean find(final SessionAcks session, final long correlationId, final AckVisitor visitor)
    {
        finder.reset(correlationId, !session.outOfOrder);
        finder.visitor = visitor;
        session.acks.forEach(finder, Integer.MAX_VALUE);
        finder.visitor = null;
        return finder.found;
    }

    /** Receives an ack kept in the ledger. */
    @FunctionalInterface
    interface AckVisitor
    {
        /**
         * @return true to go on to the next ack.
         */
        boolean onAck(long correlationId, MutableDirectBuffer buffer, int offset, int lengthBytes);
    }

    private static final class EntryFinder implements ExpandableRingBuffer.MessageConsumer
    {
        long wantedCorrelationId;
        boolean found;
        AckVisitor visitor;

        boolean ordered;

        void reset(final long wantedCorrelationId, final boolean ordered)
        {
            this.wantedCorrelationId = wantedCorrelationId;
            this.ordered = ordered;
            this.found = false;
        }

        public boolean onMessage(final MutableDirectBuffer buffer, final int offset, final int length, final int headOffset)
        {
            final long correlationId = buffer.getLong(offset + CORRELATION_ID_OFFSET, ByteOrder.LITTLE_ENDIAN);
            if (correlationId == wantedCorrelationId)
            {
                found = true;
                if (null != visitor)
                {
                    visitor.onAck(correlationId, buffer, offset + ENTRY_HEADER_BYTES, length - ENTRY_HEADER_BYTES);
                }
                return false;
            }
            return !ordered || correlationId < wantedCorrelationId;
        }
    }
}
