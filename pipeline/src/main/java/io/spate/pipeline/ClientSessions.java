package io.spate.pipeline;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.spate.wire.MessageHeaderEncoder;
import io.spate.wire.SessionCloseReason;
import io.spate.wire.SessionClosedEncoder;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableRingBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.PrintStream;
import java.util.ArrayList;

/**
 * The producers' sessions and everything that goes back to them (egress): connect, answers (acks and
 * read responses) in order through a bounded per-session backlog, liveness, and close with a reason
 * the producer sees. The conductor's only way to a response stream.
 * <p>
 * Rules: an answer is never dropped while its producer is connected and reading. A producer whose
 * answers stay unsent for longer than the session timeout (it stopped reading, or its response stream
 * went away) has its session closed the way Aeron Cluster closes one: counted, logged once, a
 * {@code SessionClosed} with the reason sent (the publication keeps window for it), the publication
 * released at once. Answers owed to a closed session are discarded and counted.
 */
final class ClientSessions implements AutoCloseable
{
    /** Producers with a session at once: each holds a publication (and driver counters). */
    static final int MAX_SESSIONS = 4096;
    /** Backlog messages offered per session per duty cycle: one producer cannot hog the conductor. */
    private static final int BACKLOG_MESSAGES_PER_CYCLE = 256;
    private static final int MAX_CLOSE_DETAIL_CHARS = 160;
    private static final long LIVENESS_SWEEP_INTERVAL_NS = 100_000_000L;

    private final Aeron aeron;
    private final PipelineCounters counters;
    private final PrintStream log;
    private final long sessionTimeoutNs;
    private final int backlogLimitBytes;
    private final Long2ObjectHashMap<ClientSession> byClientId = new Long2ObjectHashMap<>();
    private final ArrayList<ClientSession> withBacklog = new ArrayList<>();
    private final ArrayList<ClientSession> sweep = new ArrayList<>();
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final SessionClosedEncoder closedEncoder = new SessionClosedEncoder();
    private final UnsafeBuffer closedBuffer = new UnsafeBuffer(new byte[512]);
    private final ExpandableRingBuffer.MessageConsumer backlogOffer = this::offerFromBacklog;
    private long discardedCount;
    private final ExpandableRingBuffer.MessageConsumer countDiscarded = this::countDiscarded;
    private ClientSession draining;
    private OfferOutcome drainOutcome;
    private long nextSweepNs;
    private long backlogBytes;

    ClientSessions(
        final Aeron aeron,
        final PipelineCounters counters,
        final PrintStream log,
        final long sessionTimeoutNs,
        final int backlogLimitBytes)
    {
        this.aeron = aeron;
        this.counters = counters;
        this.log = log;
        this.sessionTimeoutNs = sessionTimeoutNs;
        this.backlogLimitBytes = backlogLimitBytes;
    }

    /**
     * Opens a session: a new Connect of a client id that has one replaces it (the old one is closed,
     * REPLACED).
     *
     * @return null when it was refused (too many sessions, or the response channel cannot be opened);
     * the reason is logged.
     */
    ClientSession connect(final long clientId, final String responseChannel, final int responseStreamId, final long nowNs)
    {
        final ClientSession previous = byClientId.get(clientId);
        if (null != previous)
        {
            close(previous, SessionCloseReason.REPLACED, "a new Connect named client id " + clientId);
        }
        if (byClientId.size() >= MAX_SESSIONS)
        {
            log.println("spate pipeline: refused Connect of client " + clientId + ": " + MAX_SESSIONS +
                " sessions are open");
            return null;
        }
        final ExclusivePublication publication;
        try
        {
            // Rare and blocking (a round trip to the driver): acceptable at connect time.
            publication = aeron.addExclusivePublication(responseChannel, responseStreamId);
        }
        catch (final RuntimeException ex)
        {
            log.println("spate pipeline: refused Connect of client " + clientId + ": cannot open " + responseChannel +
                " stream " + responseStreamId + ": " + ex.getMessage());
            return null;
        }
        final ClientSession session = new ClientSession(
            clientId, responseChannel, responseStreamId, publication, backlogLimitBytes, nowNs);
        byClientId.put(clientId, session);
        counters.sessionsOpen().setRelease(byClientId.size());
        return session;
    }

    ClientSession session(final long clientId)
    {
        return byClientId.get(clientId);
    }

    int sessionCount()
    {
        return byClientId.size();
    }

    /**
     * Sends an answer to a session, or queues it behind the ones still waiting; releases what was
     * reserved for it.
     *
     * @param session       the producer's session (may have been closed since the request came in).
     * @param buffer        the encoded answer.
     * @param lengthBytes   its length.
     * @param reservedBytes what was reserved for it at admission.
     */
    void send(final ClientSession session, final DirectBuffer buffer, final int lengthBytes, final int reservedBytes)
    {
        session.release(reservedBytes);
        if (session.closed)
        {
            counters.answersDiscarded().incrementRelease();
            return;
        }
        if (lengthBytes > session.maxMessageBytes)
        {
            // Admission refuses batches whose ack could not fit, so only an oversized read answer gets here.
            close(session, SessionCloseReason.PROTOCOL_ERROR, "an answer of " + lengthBytes + " bytes does not fit " +
                "the response stream (at most " + session.maxMessageBytes + " bytes a message: term length / 8)");
            counters.answersDiscarded().incrementRelease();
            return;
        }
        if (session.backlog.isEmpty())
        {
            final OfferOutcome outcome = session.offer(buffer, 0, lengthBytes);
            if (outcome == OfferOutcome.SENT)
            {
                counters.acksSent().incrementRelease();
                return;
            }
            if (outcome == OfferOutcome.GONE)
            {
                close(session, SessionCloseReason.RESPONSE_STREAM_LOST,
                    "response publication " + OfferOutcome.describe(session.lastOfferResult));
                counters.answersDiscarded().incrementRelease();
                return;
            }
            counters.egressRetries().incrementRelease();
        }
        final int before = session.backlog.size();
        if (!session.backlog.append(buffer, 0, lengthBytes))
        {
            // Admission reserved room for every answer, so this is a broken invariant, not a full producer.
            throw new IllegalStateException("backlog of " + session + " refused an answer of " + lengthBytes +
                " bytes with " + before + " queued and " + session.reservedBytes + " reserved");
        }
        backlogBytes += session.backlog.size() - before;
        counters.egressBacklogBytes().setRelease(backlogBytes);
        if (!session.inBacklogList)
        {
            session.inBacklogList = true;
            session.lastProgressNs = System.nanoTime();
            withBacklog.add(session);
        }
    }

    /**
     * Offers what waits in backlogs, closes sessions that stopped reading or lost their stream.
     *
     * @return work done.
     */
    int doWork(final long nowNs)
    {
        int work = 0;
        for (int i = withBacklog.size() - 1; i >= 0; i--)
        {
            final ClientSession session = withBacklog.get(i);
            work += drainBacklog(session, nowNs);
            if (session.backlog.isEmpty() || session.closed)
            {
                session.inBacklogList = false;
                final int last = withBacklog.size() - 1;
                withBacklog.set(i, withBacklog.get(last));
                withBacklog.remove(last);
            }
            else if (nowNs - session.lastProgressNs > sessionTimeoutNs)
            {
                final boolean connected = session.publication.isConnected();
                close(session, connected ? SessionCloseReason.NOT_READING : SessionCloseReason.RESPONSE_STREAM_LOST,
                    (connected ? "acks unread for " : "response stream not connected for ") +
                    (nowNs - session.lastProgressNs) / 1_000_000 + " ms (session timeout " +
                    sessionTimeoutNs / 1_000_000 + " ms), " + session.backlog.size() + " bytes waiting");
                work++;
            }
        }
        if (nowNs - nextSweepNs >= 0)
        {
            nextSweepNs = nowNs + LIVENESS_SWEEP_INTERVAL_NS;
            work += sweepUnconnected(nowNs);
        }
        return work;
    }

    private int drainBacklog(final ClientSession session, final long nowNs)
    {
        draining = session;
        drainOutcome = OfferOutcome.SENT;
        final int before = session.backlog.size();
        final int consumedBytes = session.backlog.consume(backlogOffer, BACKLOG_MESSAGES_PER_CYCLE);
        draining = null;
        final int freedBytes = before - session.backlog.size();
        if (consumedBytes > 0 || freedBytes > 0)
        {
            session.lastProgressNs = nowNs;
            backlogBytes -= freedBytes;
            counters.egressBacklogBytes().setRelease(backlogBytes);
        }
        if (drainOutcome == OfferOutcome.GONE)
        {
            close(session, SessionCloseReason.RESPONSE_STREAM_LOST,
                "response publication " + OfferOutcome.describe(session.lastOfferResult));
        }
        return freedBytes > 0 ? 1 : 0;
    }

    private boolean offerFromBacklog(
        final MutableDirectBuffer buffer, final int offset, final int length, final int headOffset)
    {
        if (drainOutcome != OfferOutcome.SENT)
        {
            return false;
        }
        drainOutcome = draining.offer(buffer, offset, length);
        if (drainOutcome == OfferOutcome.SENT)
        {
            counters.acksSent().incrementRelease();
            return true;
        }
        counters.egressRetries().incrementRelease();
        return false;
    }

    /**
     * Sessions whose response stream has not been connected for the session timeout are closed
     * even when nothing waits for them: the producer is gone, its publication is released at once.
     */
    private int sweepUnconnected(final long nowNs)
    {
        sweep.clear();
        for (final ClientSession session : byClientId.values())
        {
            if (session.publication.isConnected())
            {
                session.lastConnectedNs = nowNs;
            }
            else if (nowNs - session.lastConnectedNs > sessionTimeoutNs)
            {
                sweep.add(session);
            }
        }
        for (int i = 0; i < sweep.size(); i++)
        {
            close(sweep.get(i), SessionCloseReason.RESPONSE_STREAM_LOST, "response stream not connected for " +
                (nowNs - sweep.get(i).lastConnectedNs) / 1_000_000 + " ms");
        }
        final int closed = sweep.size();
        sweep.clear();
        return closed;
    }

    /**
     * Closes a session: tells the producer why (best effort, the window kept for it), releases the
     * publication, counts and logs once. Answers still owed to it will be discarded.
     */
    void close(final ClientSession session, final SessionCloseReason reason, final String detail)
    {
        if (session.closed)
        {
            return;
        }
        session.closed = true;
        if (byClientId.get(session.clientId) == session)
        {
            byClientId.remove(session.clientId);
        }
        final int queued = session.backlog.size();
        if (queued > 0)
        {
            discardedCount = 0;
            session.backlog.forEach(countDiscarded, Integer.MAX_VALUE);
            counters.answersDiscarded().getAndAddRelease(discardedCount);
            backlogBytes -= queued;
            counters.egressBacklogBytes().setRelease(backlogBytes);
            session.backlog.reset(4096);
        }
        final String line = detail.length() > MAX_CLOSE_DETAIL_CHARS ? detail.substring(0, MAX_CLOSE_DETAIL_CHARS) : detail;
        closedEncoder.wrapAndApplyHeader(closedBuffer, 0, headerEncoder)
            .clientId(session.clientId)
            .reason(reason)
            .detail(line);
        final int lengthBytes = MessageHeaderEncoder.ENCODED_LENGTH + closedEncoder.encodedLength();
        headerEncoder.frameLengthBytes(lengthBytes);
        // Bounded: a term rotation answers ADMIN_ACTION once, then the offer fits the reserved window.
        OfferOutcome outcome = OfferOutcome.RETRY;
        for (int attempt = 0; attempt < 3 && outcome == OfferOutcome.RETRY; attempt++)
        {
            outcome = session.offerClosing(closedBuffer, 0, lengthBytes);
        }
        CloseHelper.quietClose(session.publication);
        counters.sessionsClosed().incrementRelease();
        counters.sessionsOpen().setRelease(byClientId.size());
        if (reason != SessionCloseReason.PIPELINE_STOPPING)
        {
            log.println("spate pipeline: closed the session of " + session + ": " + reason + ": " + line +
                (outcome == OfferOutcome.SENT ? "" : " (it could not be told: " +
                OfferOutcome.describe(session.lastOfferResult) + ")"));
            log.flush();
        }
    }

    private boolean countDiscarded(
        final MutableDirectBuffer buffer, final int offset, final int length, final int headOffset)
    {
        discardedCount++;
        return true;
    }

    /**
     * Closes every session, telling each producer the pipeline stops.
     */
    public void close()
    {
        final ArrayList<ClientSession> all = new ArrayList<>(byClientId.values());
        for (final ClientSession session : all)
        {
            close(session, SessionCloseReason.PIPELINE_STOPPING, "the pipeline is shutting down");
        }
        withBacklog.clear();
    }
}
