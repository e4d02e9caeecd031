package io.spate.pipeline;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.collections.Long2ObjectHashMap;

import java.nio.ByteOrder;
import java.util.ArrayList;

/**
 * The single-node pipeline's memory of its producers' sessions, beyond their connections: for each session
 * the client that opened it, the highest correlation id admitted (applied, in flight or refused), and its acks
 * in the {@link AckLedger}. A producer whose session ended (its response stream went away, the pipeline
 * restarted) resumes it with {@code Reconnect} and resends what it holds unanswered: a batch at or below the
 * admitted correlation id is never applied again; it is answered from the ledger, or not at all while the
 * original is in flight (its ack goes to the resumed session), or with what a refusal would say now.
 * <p>
 * Durable pipelines rebuild it when they replay their log (each session's opening is logged as a
 * {@code LogSession}, each batch's producer batches are in its {@code LogBatch}) and keep it in their snapshots.
 * <p>
 * Bounds: at most {@code maxSessions} entries; an entry whose session is closed is kept for the resume window,
 * then evicted, and the oldest closed ones go first when the bound is reached (an open session is never
 * evicted: the pipeline refuses Connects past its own session bound first).
 */
final class ResumableSessions
{
    /** One session as remembered. */
    static final class Entry
    {
        final long sessionId;
        final long clientId;
        final AckLedger.SessionAcks acks;
        /** Highest correlation id of a batch of this session that was admitted or refused; 0 before any. */
        long admittedCorrelationId;
        /** The connection it is open on, or null while it is not. */
        ClientSession current;
        /** When it was last closed (or restored from the log), for the resume window; meaningless while open. */
        long closedNs;

        Entry(final long sessionId, final long clientId, final AckLedger.SessionAcks acks)
        {
            this.sessionId = sessionId;
            this.clientId = clientId;
            this.acks = acks;
        }

        boolean isOpen()
        {
            return null != current && !current.closed;
        }
    }

    /** Bytes in front of each ack in a snapshot: its length (u32) and correlation id (u64). */
    private static final int ACK_HEADER_BYTES = 4 + 8;

    private final AckLedger ledger;
    /** A ledger entry as a snapshot's ack is put back: room for the ledger's header, then the ack. */
    private final org.agrona.concurrent.UnsafeBuffer scratch;
    private final Long2ObjectHashMap<Entry> byId = new Long2ObjectHashMap<>();
    private final int maxSessions;
    private final long resumeWindowNs;
    private final ArrayList<Entry> evictions = new ArrayList<>();
    private long highestSessionId;

    /**
     * @param ledger         the acks kept per session.
     * @param maxSessions    most sessions remembered, open or closed.
     * @param resumeWindowNs how long a closed session may still be resumed.
     */
    ResumableSessions(final AckLedger ledger, final int maxSessions, final long resumeWindowNs)
    {
        if (maxSessions < 1 || resumeWindowNs < 0)
        {
            throw new IllegalArgumentException("maxSessions " + maxSessions + ", resume window " + resumeWindowNs + " ns");
        }
        this.ledger = ledger;
        this.scratch = new org.agrona.concurrent.UnsafeBuffer(new byte[AckLedger.ENTRY_HEADER_BYTES + ledger.maxAckBytes()]);
        this.maxSessions = maxSessions;
        this.resumeWindowNs = resumeWindowNs;
    }

    /**
     * @return an empty memory with the configuration's bounds: its ledger's answers per session (the bytes to
     * keep them all at their longest, within the ledger's total bytes), twice its most sessions (so the open
     * ones never fill it), its resume window.
     */
    static ResumableSessions of(final PipelineConfiguration configuration)
    {
        final int maxAckBytes = AckWriter.maxAckBytes(configuration.maxRecordsPerBatch());
        return new ResumableSessions(
            new AckLedger(configuration.ackLedgerBatches(),
                (int)Math.min(configuration.ackLedgerTotalBytes(), ledgerSessionBytes(configuration)),
                configuration.ackLedgerTotalBytes(), maxAckBytes),
            2 * configuration.maxSessions(), configuration.sessionResumeWindowMs() * 1_000_000L);
    }

    /**
     * @return the bytes a session's ledger needs to keep its most answers at their longest (full batches, every
     * record a created id or an error).
     */
    static long ledgerSessionBytes(final PipelineConfiguration configuration)
    {
        return (long)configuration.ackLedgerBatches() *
            AckLedger.entryBytes(AckWriter.maxAckBytes(configuration.maxRecordsPerBatch()));
    }

    AckLedger ledger()
    {
        return ledger;
    }

    /**
     * Remembers a session the pipeline just opened (or one the log says was opened: current null).
     *
     * @return its entry.
     * @throws IllegalStateException when the session id is known already (ids are never reused).
     */
    Entry open(final long sessionId, final long clientId, final ClientSession current, final long nowNs)
    {
        if (byId.containsKey(sessionId))
        {
            throw new IllegalStateException("session " + sessionId + " opened twice");
        }
        makeRoom(nowNs);
        final Entry entry = new Entry(sessionId, clientId, ledger.session(sessionId));
        entry.current = current;
        entry.closedNs = nowNs;
        byId.put(sessionId, entry);
        highestSessionId = Math.max(highestSessionId, sessionId);
        return entry;
    }

    /**
     * @return the session's entry when the client that opened it asks to resume it, else null.
     */
    Entry resumable(final long sessionId, final long clientId)
    {
        final Entry entry = byId.get(sessionId);
        return null == entry || entry.clientId != clientId ? null : entry;
    }

    Entry get(final long sessionId)
    {
        return byId.get(sessionId);
    }

    /**
     * @return the connection the session is open on now, or null: where its answers go.
     */
    ClientSession current(final long sessionId)
    {
        final Entry entry = byId.get(sessionId);
        return null == entry ? null : entry.current;
    }

    /**
     * The session's connection closed (it may be resumed within the window).
     */
    void onClosed(final ClientSession session, final long nowNs)
    {
        final Entry entry = byId.get(session.sessionId);
        if (null != entry && entry.current == session)
        {
            entry.closedNs = nowNs;
        }
    }

    /**
     * @return the highest session id ever remembered (new sessions get higher ones).
     */
    long highestSessionId()
    {
        return highestSessionId;
    }

    int size()
    {
        return byId.size();
    }

    /**
     * Forgets closed sessions whose resume window has passed.
     *
     * @return how many were forgotten.
     */
    int sweep(final long nowNs)
    {
        evictions.clear();
        for (final Entry entry : byId.values())
        {
            if (!entry.isOpen() && nowNs - entry.closedNs > resumeWindowNs)
            {
                evictions.add(entry);
            }
        }
        for (int i = 0; i < evictions.size(); i++)
        {
            forget(evictions.get(i));
        }
        final int evicted = evictions.size();
        evictions.clear();
        return evicted;
    }

    private void makeRoom(final long nowNs)
    {
        if (byId.size() < maxSessions)
        {
            return;
        }
        sweep(nowNs);
        if (byId.size() < maxSessions)
        {
            return;
        }
        Entry oldest = null;
        for (final Entry entry : byId.values())
        {
            if (!entry.isOpen() && (null == oldest || entry.closedNs - oldest.closedNs < 0))
            {
                oldest = entry;
            }
        }
        if (null == oldest)
        {
            throw new IllegalStateException(maxSessions + " sessions remembered, all open: the pipeline's session bound " +
                "must be below it");
        }
        forget(oldest);
    }

    private void forget(final Entry entry)
    {
        byId.remove(entry.sessionId);
        ledger.remove(entry.sessionId);
    }

    // ------------------------------------------------------------------------------------------
    // Snapshots: the entries (the ledger's acks travel with them)
    // ------------------------------------------------------------------------------------------

    /**
     * @return bytes {@link #write} needs.
     */
    long encodedLengthBytes()
    {
        final long[] bytes = {4 + 8};
        byId.values().forEach((entry) ->
        {
            bytes[0] += 8 + 8 + 8 + 4;
            ledger.forEachFrom(entry.acks, Long.MIN_VALUE, (correlationId, buffer, offset, lengthBytes) ->
            {
                bytes[0] += ACK_HEADER_BYTES + lengthBytes;
                return true;
            });
        });
        return bytes[0];
    }

    /**
     * Writes every entry: u32 count, u64 highest session id, then per entry u64 session id, u64 client id,
     * u64 highest correlation id answered, u32 ack count and the acks (u32 ack length, u64 correlation id, the ack),
     * oldest recorded first. Little-endian.
     *
     * @return bytes written.
     */
    int write(final MutableDirectBuffer out, final int offset)
    {
        final int[] at = {offset};
        out.putInt(at[0], byId.size(), ByteOrder.LITTLE_ENDIAN);
        out.putLong(at[0] + 4, highestSessionId, ByteOrder.LITTLE_ENDIAN);
        at[0] += 12;
        byId.values().forEach((entry) ->
        {
            out.putLong(at[0], entry.sessionId, ByteOrder.LITTLE_ENDIAN);
            out.putLong(at[0] + 8, entry.clientId, ByteOrder.LITTLE_ENDIAN);
            // What the log holds answered: batches admitted since (in the batch being assembled) are not in it.
            out.putLong(at[0] + 16, entry.acks.lastCorrelationId, ByteOrder.LITTLE_ENDIAN);
            out.putInt(at[0] + 24, entry.acks.count, ByteOrder.LITTLE_ENDIAN);
            at[0] += 28;
            ledger.forEachFrom(entry.acks, Long.MIN_VALUE, (correlationId, buffer, ackOffset, lengthBytes) ->
            {
                out.putInt(at[0], lengthBytes, ByteOrder.LITTLE_ENDIAN);
                out.putLong(at[0] + 4, correlationId, ByteOrder.LITTLE_ENDIAN);
                out.putBytes(at[0] + ACK_HEADER_BYTES, buffer, ackOffset, lengthBytes);
                at[0] += ACK_HEADER_BYTES + lengthBytes;
                return true;
            });
        });
        return at[0] - offset;
    }

    /**
     * Reads what {@link #write} wrote into this (empty) memory; every entry closed as of nowNs.
     *
     * @return bytes read.
     * @throws IllegalStateException naming what does not add up.
     */
    int read(final DirectBuffer in, final int offset, final int lengthBytes, final long nowNs)
    {
        if (!byId.isEmpty())
        {
            throw new IllegalStateException("sessions already remembered");
        }
        final int end = offset + lengthBytes;
        int at = offset;
        require(at + 12 <= end, "sessions header");
        final int count = in.getInt(at, ByteOrder.LITTLE_ENDIAN);
        final long highest = in.getLong(at + 4, ByteOrder.LITTLE_ENDIAN);
        at += 12;
        require(count >= 0 && count <= maxSessions, "session count " + count);
        for (int i = 0; i < count; i++)
        {
            require(at + 28 <= end, "session " + i);
            final long sessionId = in.getLong(at, ByteOrder.LITTLE_ENDIAN);
            final long clientId = in.getLong(at + 8, ByteOrder.LITTLE_ENDIAN);
            final long admitted = in.getLong(at + 16, ByteOrder.LITTLE_ENDIAN);
            final int acks = in.getInt(at + 24, ByteOrder.LITTLE_ENDIAN);
            at += 28;
            require(sessionId > 0 && sessionId <= highest && !byId.containsKey(sessionId), "session id " + sessionId);
            require(acks >= 0 && acks <= ledger.maxBatchesPerSession(), "session " + sessionId + ": " + acks + " acks");
            final Entry entry = open(sessionId, clientId, null, nowNs);
            for (int a = 0; a < acks; a++)
            {
                require(at + ACK_HEADER_BYTES <= end, "session " + sessionId + " ack " + a);
                final int ackBytes = in.getInt(at, ByteOrder.LITTLE_ENDIAN);
                final long correlationId = in.getLong(at + 4, ByteOrder.LITTLE_ENDIAN);
                require(ackBytes > 0 && ackBytes <= scratch.capacity() - AckLedger.ENTRY_HEADER_BYTES &&
                    at + ACK_HEADER_BYTES + (long)ackBytes <= end,
                    "session " + sessionId + " ack " + a + " of " + ackBytes + " bytes");
                require(correlationId > 0 && correlationId <= admitted,
                    "session " + sessionId + " ack of " + correlationId + " past " + admitted);
                scratch.putBytes(AckLedger.ENTRY_HEADER_BYTES, in, at + ACK_HEADER_BYTES, ackBytes);
                ledger.recordAnswer(entry.acks, correlationId, scratch, 0, AckLedger.ENTRY_HEADER_BYTES + ackBytes);
                at += ACK_HEADER_BYTES + ackBytes;
            }
            entry.admittedCorrelationId = admitted;
            entry.acks.lastCorrelationId = admitted;
        }
        require(at == end, (end - at) + " bytes after the last session");
        highestSessionId = Math.max(highestSessionId, highest);
        return at - offset;
    }

    private static void require(final boolean condition, final String what)
    {
        if (!condition)
        {
            throw new IllegalStateException("the snapshot's sessions are damaged: " + what);
        }
    }
}
