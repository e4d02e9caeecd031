package io.spate.pipeline;

import org.agrona.DirectBuffer;
import org.agrona.ExpandableRingBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.collections.Long2ObjectHashMap;

import java.nio.ByteOrder;
import java.util.function.Consumer;

/**
 * What the server answered, per session: the highest correlation id it answered and the acks of that
 * session's last {@code maxBatchesPerSession} batches, oldest first. A batch a client sends again (after a
 * leader change, or a restart of the pipeline) with the same session and correlation id is answered from
 * here instead of being applied twice. The one implementation for the clustered service (replicated state:
 * every member builds the same ledger from the same log, and it travels in snapshots) and the single-node
 * pipeline (rebuilt by replaying its log, kept in its snapshots).
 * <p>
 * Bounds: {@code maxBatchesPerSession} acks per session (a client keeps at most that many batches
 * unacked, see {@code spate.client.max.in.flight.batches}), each at most the ack of a full batch;
 * sessions are bounded by the consensus module's {@code maxConcurrentSessions}.
 */
final class AckLedger
{
    /** Bytes in front of each ack in a session's ring: its correlation id. */
    static final int ENTRY_HEADER_BYTES = Long.BYTES;

    /** Acks of one cluster session. */
    static final class SessionAcks
    {
        final long sessionId;
        final ExpandableRingBuffer acks;
        /** Highest correlation id of a batch answered (applied or refused); 0 before the first. */
        long lastCorrelationId;
        int count;
        /**
         * Correlation id of the first ack recorded but not yet out on egress (the leader's egress pushed
         * back); 0 when every ack went out. Local to this node: never snapshotted.
         */
        long firstUnsentCorrelationId;

        SessionAcks(final long sessionId, final int maxRingBytes)
        {
            this.sessionId = sessionId;
            this.acks = new ExpandableRingBuffer(4096, maxRingBytes, false);
        }
    }

    private final Long2ObjectHashMap<SessionAcks> sessionsById = new Long2ObjectHashMap<>();
    private final int maxBatchesPerSession;
    private final int maxRingBytes;
    private final EntryFinder finder = new EntryFinder();
    private final Evictor evictor = new Evictor();
    private long evictedUnsent;

    /**
     * @param maxBatchesPerSession acks kept per session.
     * @param maxAckBytes          the longest ack (of a full batch).
     */
    AckLedger(final int maxBatchesPerSession, final int maxAckBytes)
    {
        this.maxRingBytes = ringBytes(maxBatchesPerSession, maxAckBytes);
        this.maxBatchesPerSession = maxBatchesPerSession;
    }

    /**
     * @return the most bytes a session's ring may take for these bounds.
     * @throws IllegalArgumentException when they need more than a ring holds.
     */
    static int ringBytes(final int maxBatchesPerSession, final int maxAckBytes)
    {
        if (maxBatchesPerSession < 1)
        {
            throw new IllegalArgumentException("the ack ledger keeps at least one ack per session: " + maxBatchesPerSession);
        }
        final long worstBytes = (long)maxBatchesPerSession *
            (ExpandableRingBuffer.HEADER_LENGTH + ENTRY_HEADER_BYTES + (long)maxAckBytes + ExpandableRingBuffer.HEADER_ALIGNMENT);
        // Checked before doubling: 2 * worstBytes may overflow a long.
        if (worstBytes > ExpandableRingBuffer.MAX_CAPACITY / 2)
        {
            throw new IllegalArgumentException(maxBatchesPerSession + " acks of up to " + maxAckBytes +
                " bytes per session need a ring of more than " + ExpandableRingBuffer.MAX_CAPACITY + " bytes: keep fewer");
        }
        // Power of two, at least enough for every kept ack at its longest (plus one wrap's padding).
        final long ringBytes = Long.highestOneBit(Math.max(4096, 2 * worstBytes - 1)) << 1;
        return (int)ringBytes;
    }

    int maxBatchesPerSession()
    {
        return maxBatchesPerSession;
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
        sessionsById.remove(sessionId);
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
     * @return acks evicted before they were ever sent (a client keeping more batches unacked than the
     * ledger holds): such a batch, sent again, is answered ALREADY_APPLIED.
     */
    long evictedUnsent()
    {
        return evictedUnsent;
    }

    /**
     * Records the ack of a batch, evicting the session's oldest when it holds its most.
     *
     * @param entry the correlation id (8 bytes, little-endian) followed by the ack, from offset 0.
     */
    void record(final SessionAcks session, final long correlationId, final DirectBuffer entry, final int entryLengthBytes)
    {
        record(session, correlationId, entry, 0, entryLengthBytes);
    }

    /**
     * @see #record(SessionAcks, long, DirectBuffer, int)
     */
    void record(
        final SessionAcks session,
        final long correlationId,
        final DirectBuffer entry,
        final int entryOffset,
        final int entryLengthBytes)
    {
        if (correlationId <= session.lastCorrelationId)
        {
            throw new IllegalStateException("session " + session.sessionId + ": ack of " + correlationId +
                " recorded after " + session.lastCorrelationId);
        }
        if (session.count == maxBatchesPerSession)
        {
            evictOldest(session);
        }
        if (!session.acks.append(entry, entryOffset, entryLengthBytes))
        {
            throw new IllegalStateException("ack ledger ring of session " + session.sessionId + " is full: " +
                session.acks.size() + " bytes for " + session.count + " acks");
        }
        session.count++;
        session.lastCorrelationId = correlationId;
    }

    /**
     * Records an answer of the single-node pipeline, where answers are recorded as they leave: not in
     * correlation order (a refusal leaves at once, before the acks of batches admitted before it). Eviction
     * stays oldest-recorded first, which keeps every answer a producer may still ask for: it keeps at most
     * {@link #maxBatchesPerSession()} batches unanswered, so fewer answers than that were recorded after any
     * answer it has not received.
     *
     * @param entry the correlation id (8 bytes, little-endian) followed by the answer, from entryOffset.
     */
    void recordAnswer(
        final SessionAcks session,
        final long correlationId,
        final DirectBuffer entry,
        final int entryOffset,
        final int entryLengthBytes)
    {
        if (correlationId <= 0)
        {
            throw new IllegalStateException("session " + session.sessionId + ": answer to correlation id " + correlationId);
        }
        if (session.count == maxBatchesPerSession)
        {
            evictOldest(session);
        }
        if (!session.acks.append(entry, entryOffset, entryLengthBytes))
        {
            throw new IllegalStateException("ack ledger ring of session " + session.sessionId + " is full: " +
                session.acks.size() + " bytes for " + session.count + " acks");
        }
        session.count++;
        session.lastCorrelationId = Math.max(session.lastCorrelationId, correlationId);
    }

    private void evictOldest(final SessionAcks session)
    {
        evictor.session = session;
        session.acks.consume(evictor, 1);
        evictor.session = null;
        session.count--;
    }

    /** Drops a session's oldest ack (a field, so that eviction on every batch allocates nothing). */
    private final class Evictor implements ExpandableRingBuffer.MessageConsumer
    {
        SessionAcks session;

        public boolean onMessage(final MutableDirectBuffer buffer, final int offset, final int length, final int headOffset)
        {
            final long evicted = buffer.getLong(offset, ByteOrder.LITTLE_ENDIAN);
            if (session.firstUnsentCorrelationId != 0 && evicted >= session.firstUnsentCorrelationId)
            {
                evictedUnsent++;
                session.firstUnsentCorrelationId = nextCorrelationAfter(session, evicted);
            }
            return true;
        }
    }

    /**
     * @return the correlation id of the entry after the given one, or 0 when it is the last.
     */
    private long nextCorrelationAfter(final SessionAcks session, final long correlationId)
    {
        finder.reset(correlationId, EntryFinder.NEXT);
        session.acks.forEach(finder, Integer.MAX_VALUE);
        return finder.foundCorrelationId;
    }

    /**
     * Visits the session's acks with a correlation id at or above {@code fromCorrelationId}, oldest first,
     * until the visitor returns false.
     */
    void forEachFrom(final SessionAcks session, final long fromCorrelationId, final AckVisitor visitor)
    {
        session.acks.forEach((buffer, offset, length, headOffset) ->
        {
            final long correlationId = buffer.getLong(offset, ByteOrder.LITTLE_ENDIAN);
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
        finder.reset(correlationId, EntryFinder.EXACT);
        finder.visitor = visitor;
        session.acks.forEach(finder, Integer.MAX_VALUE);
        finder.visitor = null;
        return finder.foundCorrelationId != 0;
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
        static final int EXACT = 0;
        static final int NEXT = 1;
        long wantedCorrelationId;
        int mode;
        long foundCorrelationId;
        AckVisitor visitor;

        void reset(final long wantedCorrelationId, final int mode)
        {
            this.wantedCorrelationId = wantedCorrelationId;
            this.mode = mode;
            this.foundCorrelationId = 0;
        }

        public boolean onMessage(final MutableDirectBuffer buffer, final int offset, final int length, final int headOffset)
        {
            final long correlationId = buffer.getLong(offset, ByteOrder.LITTLE_ENDIAN);
            if (mode == EXACT ? correlationId == wantedCorrelationId : correlationId > wantedCorrelationId)
            {
                foundCorrelationId = correlationId;
                if (null != visitor)
                {
                    visitor.onAck(correlationId, buffer, offset + ENTRY_HEADER_BYTES, length - ENTRY_HEADER_BYTES);
                }
                return false;
            }
            return true;
        }
    }
}
