package io.spate.pipeline;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.Image;
import io.aeron.Subscription;
import io.spate.codec.DatabaseSchema;
import io.spate.wire.ConnectDecoder;
import io.spate.wire.ReconnectDecoder;
import io.spate.wire.SessionSettingsEncoder;
import io.spate.wire.ConnectResponseEncoder;
import io.spate.wire.ConnectStatus;
import io.spate.wire.MessageHeaderEncoder;
import io.spate.wire.SessionCloseReason;
import io.spate.wire.SessionClosedEncoder;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableRingBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.collections.IntHashSet;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.function.Consumer;

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
    /** Backlog messages offered per session per duty cycle: one producer cannot hog the conductor. */
    private static final int BACKLOG_MESSAGES_PER_CYCLE = 256;
    /** Longest line for people in a ConnectResponse (it may quote the producer's schema name). */
    private static final int MAX_DETAIL_CHARS = 400;
    /** Longest SessionClosed detail: with its frame, twice it fits {@link ClientSession#CLOSE_RESERVE_BYTES}. */
    private static final int MAX_CLOSE_DETAIL_CHARS = 160;
    private static final long LIVENESS_SWEEP_INTERVAL_NS = 100_000_000L;

    private final Aeron aeron;
    private final Subscription ingress;
    private final PipelineConfiguration configuration;
    private final DatabaseSchema schema;
    private final PipelineCounters counters;
    private final PrintStream log;
    private final long sessionTimeoutNs;
    private final int backlogLimitBytes;
    private final Authenticator authenticator;
    private final ResponseChannelPolicy channelPolicy;
    private final ConnectRateLimiter rateLimiter;
    private final InputRejections connectRejections;
    private final UnsafeBuffer credentials = new UnsafeBuffer(new byte[SharedSecretAuthenticator.MAX_SECRET_BYTES]);
    private final Int2ObjectHashMap<ClientSession> byImage = new Int2ObjectHashMap<>();
    private final ArrayList<ClientSession> refusals = new ArrayList<>();
    private final IntHashSet liveImages = new IntHashSet();
    private final Consumer<Image> collectImage = image -> liveImages.add(image.sessionId());
    private final ConnectResponseEncoder responseEncoder = new ConnectResponseEncoder();
    // Room for the detail in UTF-8 (up to 3 bytes a char) and the message around it.
    private final UnsafeBuffer responseBuffer = new UnsafeBuffer(new byte[3 * MAX_DETAIL_CHARS + 128]);
    private long nextSessionId;
    private final ResumableSessions resumable;
    private final SessionSettingsEncoder settingsEncoder = new SessionSettingsEncoder();
    private final UnsafeBuffer settingsBuffer = new UnsafeBuffer(new byte[64]);
    private final ArrayList<ClientSession> withBacklog = new ArrayList<>();
    private final ArrayList<ClientSession> sweep = new ArrayList<>();
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final SessionClosedEncoder closedEncoder = new SessionClosedEncoder();
    private final UnsafeBuffer closedBuffer = new UnsafeBuffer(new byte[3 * MAX_CLOSE_DETAIL_CHARS + 128]);
    private final ExpandableRingBuffer.MessageConsumer backlogOffer = this::offerFromBacklog;
    private long discardedCount;
    private final ExpandableRingBuffer.MessageConsumer countDiscarded = this::countDiscarded;
    private ClientSession draining;
    private OfferOutcome drainOutcome;
    private long nextSweepNs;
    private long backlogBytes;

    ClientSessions(
        final Aeron aeron,
        final Subscription ingress,
        final PipelineConfiguration configuration,
        final PipelineCounters counters,
        final PrintStream log,
        final ResumableSessions resumable,
        final long nowNs)
    {
        this.aeron = aeron;
        this.resumable = resumable;
        this.ingress = ingress;
        this.configuration = configuration;
        this.schema = configuration.schema();
        this.counters = counters;
        this.log = log;
        this.sessionTimeoutNs = configuration.sessionTimeoutNs();
        this.backlogLimitBytes = configuration.sessionBacklogBytes();
        this.authenticator = configuration.authenticator();
        this.channelPolicy = new ResponseChannelPolicy(configuration);
        this.rateLimiter = new ConnectRateLimiter(configuration.maxConnectsPerSecond(), nowNs);
        // Connects refused before a session could answer them: counted once, one line a second.
        this.connectRejections = new InputRejections(counters.connectsRefused(), log, 1_000_000_000L, "Connect");
        // Session ids never repeat within a pipeline's life, nor across restarts: the start time in milliseconds,
        // shifted past a counter of 2^20 sessions per millisecond of uptime, and above every session the log or
        // snapshot remembers (resumable.highestSessionId), should the clock have gone back.
        this.nextSessionId = Math.max((System.currentTimeMillis() << 20) | 1, resumable.highestSessionId() + 1);
    }

    /**
     * Handles a Connect: the pipeline issues the session. Refused Connects are answered (when the response
     * channel itself is acceptable) with a {@code ConnectResponse} saying why; refused response channels
     * and Connects over the rate get no answer (answering would cost what the limit protects).
     *
     * @param connect        the Connect, wrapped.
     * @param imageSessionId the Aeron session of the image it came on.
     * @param sourceIdentity where it came from.
     * @param nowNs          the duty cycle's time.
     * @return the new session, or null when refused.
     */
    ClientSession connect(final ConnectDecoder connect, final int imageSessionId, final String sourceIdentity, final long nowNs)
    {
        if (!rateLimiter.tryAcquire(nowNs))
        {
            // Before anything is decoded: a flood costs a counter increment per Connect.
            connectRejections.reject("Connect over the rate limit");
            return null;
        }
        final long clientId = connect.clientId();
        final long correlationId = connect.correlationId();
        final long schemaHash = connect.schemaHash();
        final int responseStreamId = connect.responseStreamId();
        final String responseChannel = connect.responseChannel();
        final String schemaName = connect.schemaName();
        final int credentialsLength = connect.credentialsLength();
        connect.getCredentials(credentials, 0, Math.min(credentialsLength, credentials.capacity()));
        return open(0, clientId, correlationId, schemaHash, responseStreamId, responseChannel, schemaName,
            credentialsLength, imageSessionId, sourceIdentity, nowNs);
    }

    /**
     * Handles a Reconnect: the session it names is resumed on this image when the client that opened it asks
     * (and passes every check a Connect does), else it is answered {@code UNKNOWN_SESSION}. A resumed session
     * keeps its id, its ack ledger and what it has in flight (the answers owed to it now go to this connection);
     * the connection it was open on, if any, is closed {@code REPLACED}.
     *
     * @return the resumed session, or null when refused.
     */
    ClientSession reconnect(
        final ReconnectDecoder reconnect, final int imageSessionId, final String sourceIdentity, final long nowNs)
    {
        if (!rateLimiter.tryAcquire(nowNs))
        {
            connectRejections.reject("Reconnect over the rate limit");
            return null;
        }
        final long clientId = reconnect.clientId();
        final long correlationId = reconnect.correlationId();
        final long sessionId = reconnect.sessionId();
        final long schemaHash = reconnect.schemaHash();
        final int responseStreamId = reconnect.responseStreamId();
        final String responseChannel = reconnect.responseChannel();
        final String schemaName = reconnect.schemaName();
        final int credentialsLength = reconnect.credentialsLength();
        reconnect.getCredentials(credentials, 0, Math.min(credentialsLength, credentials.capacity()));
        return open(sessionId <= 0 ? -1 : sessionId, clientId, correlationId, schemaHash, responseStreamId,
            responseChannel, schemaName, credentialsLength, imageSessionId, sourceIdentity, nowNs);
    }

    /**
     * A Connect (resumeSessionId 0) or a Reconnect (the session to resume; -1 for an impossible one): every
     * check, the response publication, the ConnectResponse, and for an opened session its SessionSettings.
     */
    private ClientSession open(
        final long resumeSessionId,
        final long clientId,
        final long correlationId,
        final long schemaHash,
        final int responseStreamId,
        final String responseChannel,
        final String schemaName,
        final int credentialsLength,
        final int imageSessionId,
        final String sourceIdentity,
        final long nowNs)
    {
        final String channelProblem = channelPolicy.check(responseChannel, responseStreamId, sourceIdentity);
        if (null != channelProblem)
        {
            connectRejections.reject("response channel refused: " + channelProblem);
            return null;
        }

        ConnectStatus status = ConnectStatus.OPENED;
        String detail = "";
        final ResumableSessions.Entry resumed = resumeSessionId > 0 ? resumable.resumable(resumeSessionId, clientId) : null;
        if (schemaHash != schema.hash())
        {
            status = ConnectStatus.SCHEMA_MISMATCH;
            detail = "the producer's database schema '" + schemaName + "' (hash " + Long.toHexString(schemaHash) +
                ") is not the pipeline's '" + schema.name() + "' (hash " + Long.toHexString(schema.hash()) + ")";
        }
        else if (credentialsLength > credentials.capacity())
        {
            status = ConnectStatus.NOT_AUTHENTICATED;
            detail = "credentials longer than " + credentials.capacity() + " bytes";
        }
        else
        {
            final String authProblem = authenticator.authenticate(clientId, credentials, 0, credentialsLength, sourceIdentity);
            if (null != authProblem)
            {
                status = ConnectStatus.NOT_AUTHENTICATED;
                detail = authProblem;
            }
            else if (resumeSessionId != 0 && null == resumed)
            {
                status = ConnectStatus.UNKNOWN_SESSION;
                detail = "the pipeline does not know session " + resumeSessionId + " of client " + clientId +
                    " (it restarted without a data directory, or forgot the session after " +
                    configuration.sessionResumeWindowMs() + " ms closed): the outcome of its unanswered batches is unknown";
            }
            else if ((null == resumed || !resumed.isOpen()) && sessionCount() >= configuration.maxSessions())
            {
                status = ConnectStatus.TOO_MANY_SESSIONS;
                detail = "the pipeline holds its most sessions (" + configuration.maxSessions() + ")";
            }
        }

        if (status == ConnectStatus.OPENED && null != resumed && resumed.isOpen() &&
            resumed.current.imageSessionId == imageSessionId)
        {
            // The producer sent its Reconnect again (it had no answer in time): the session is open here already.
            final ClientSession current = resumed.current;
            sendConnectResponse(current, correlationId, status, detail);
            sendSettings(current);
            return current;
        }
        final ClientSession previous = byImage.get(imageSessionId);
        if (null != previous && status == ConnectStatus.OPENED)
        {
            close(previous, SessionCloseReason.REPLACED, "a new Connect came from the same publication");
        }
        final ExclusivePublication publication;
        try
        {
            // Rare, rate-limited and blocking (a round trip to the driver): acceptable at connect time.
            publication = aeron.addExclusivePublication(responseChannel, responseStreamId);
        }
        catch (final RuntimeException ex)
        {
            connectRejections.reject("cannot open the response channel " + responseChannel + " stream " +
                responseStreamId + ": " + ex.getMessage());
            return null;
        }
        final long sessionId = status != ConnectStatus.OPENED ? 0 : null != resumed ? resumed.sessionId : nextSessionId++;
        final ClientSession session = new ClientSession(sessionId, clientId, imageSessionId, sourceIdentity,
            responseChannel, responseStreamId, publication, backlogLimitBytes, nowNs);
        if (status == ConnectStatus.OPENED)
        {
            if (null != resumed)
            {
                final ClientSession old = resumed.current;
                if (null != old)
                {
                    // Answers owed to batches admitted on the old connection now go here: so does their room.
                    session.reservedBytes += old.reservedBytes;
                    old.reservedBytes = 0;
                    close(old, SessionCloseReason.REPLACED, "the session was resumed from " + sourceIdentity);
                }
                resumed.current = session;
            }
            else
            {
                resumable.open(sessionId, clientId, session, nowNs);
            }
            byImage.put(imageSessionId, session);
            counters.sessionsOpen().setRelease(byImage.size());
        }
        else
        {
            session.refusal = true;
            refusals.add(session);
            counters.connectsRefused().incrementRelease();
            log.println("spate pipeline: refused " + (resumeSessionId != 0 ? "Reconnect" : "Connect") + " of client " +
                clientId + " from " + sourceIdentity + ": " + status + ": " + detail);
            log.flush();
        }
        sendConnectResponse(session, correlationId, status, detail);
        if (status == ConnectStatus.OPENED)
        {
            sendSettings(session);
        }
        return status == ConnectStatus.OPENED ? session : null;
    }

    private void sendConnectResponse(
        final ClientSession session, final long correlationId, final ConnectStatus status, final String detail)
    {
        responseEncoder.wrapAndApplyHeader(responseBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .sessionId(session.sessionId)
            .pipelineSchemaHash(schema.hash())
            .status(status)
            .detail(truncate(detail, MAX_DETAIL_CHARS));
        final int lengthBytes = MessageHeaderEncoder.ENCODED_LENGTH + responseEncoder.encodedLength();
        headerEncoder.frameLengthBytes(lengthBytes);
        final int reserved = ClientSession.backlogBytesFor(lengthBytes);
        session.reserve(reserved);
        send(session, responseBuffer, lengthBytes, reserved);
    }

    /**
     * Tells a producer whose session opened the bounds it keeps to: batches unanswered at most the ledger's
     * (so every resend is answered from it), and the largest batch.
     */
    private void sendSettings(final ClientSession session)
    {
        settingsEncoder.wrapAndApplyHeader(settingsBuffer, 0, headerEncoder)
            .sessionId(session.sessionId)
            .ledgerBatches(resumable.ledger().maxBatchesPerSession())
            .maxBatchBytes(configuration.maxBatchBytes())
            .maxRecordsPerBatch(configuration.maxRecordsPerBatch());
        final int lengthBytes = MessageHeaderEncoder.ENCODED_LENGTH + settingsEncoder.encodedLength();
        headerEncoder.frameLengthBytes(lengthBytes);
        final int reserved = ClientSession.backlogBytesFor(lengthBytes);
        session.reserve(reserved);
        send(session, settingsBuffer, lengthBytes, reserved);
    }

    private static String truncate(final String detail, final int maxChars)
    {
        return detail.length() > maxChars ? detail.substring(0, maxChars) : detail;
    }

    /**
     * @return the open session of the producer whose messages arrive on this image, or null.
     */
    ClientSession sessionOfImage(final int imageSessionId)
    {
        return byImage.get(imageSessionId);
    }

    int sessionCount()
    {
        return byImage.size();
    }

    private ClientSession resumedOrSame(final ClientSession closed)
    {
        final ClientSession current = 0 == closed.sessionId ? null : resumable.current(closed.sessionId);
        return null == current ? closed : current;
    }

    /**
     * Sends an answer to a session, or queues it behind the ones still waiting; releases what was
     * reserved for it.
     *
     * @param admittedOn    the producer's session (may have been closed since the request came in, and resumed
     *                      on another connection: the answer then goes there).
     * @param buffer        the encoded answer.
     * @param lengthBytes   its length.
     * @param reservedBytes what was reserved for it at admission.
     */
    void send(final ClientSession admittedOn, final DirectBuffer buffer, final int lengthBytes, final int reservedBytes)
    {
        // A session resumed on another connection since took the room reserved on this one: its answers follow.
        final ClientSession session = admittedOn.closed ? resumedOrSame(admittedOn) : admittedOn;
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
            else if (!session.refusal && nowNs - session.lastProgressNs > sessionTimeoutNs)
            {
                final boolean connected = session.publication.isConnected();
                close(session, connected ? SessionCloseReason.NOT_READING : SessionCloseReason.RESPONSE_STREAM_LOST,
                    (connected ? "acks unread for " : "response stream not connected for ") +
                    (nowNs - session.lastProgressNs) / 1_000_000 + " ms (session timeout " +
                    sessionTimeoutNs / 1_000_000 + " ms), " + session.backlog.size() + " bytes waiting");
                work++;
            }
        }
        connectRejections.onTick(nowNs);
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
        liveImages.clear();
        ingress.forEachImage(collectImage);
        sweep.clear();
        for (final ClientSession session : byImage.values())
        {
            if (!liveImages.contains(session.imageSessionId))
            {
                sweep.add(session);
            }
            else if (session.publication.isConnected())
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
            final ClientSession session = sweep.get(i);
            if (!liveImages.contains(session.imageSessionId))
            {
                close(session, SessionCloseReason.PRODUCER_GONE, "its publication to the pipeline went away");
            }
            else
            {
                close(session, SessionCloseReason.RESPONSE_STREAM_LOST, "response stream not connected for " +
                    (nowNs - session.lastConnectedNs) / 1_000_000 + " ms");
            }
        }
        int work = sweep.size();
        sweep.clear();
        // Refused Connects: closed once their answer left, or after the session timeout.
        for (int i = refusals.size() - 1; i >= 0; i--)
        {
            final ClientSession refusal = refusals.get(i);
            if (refusal.backlog.isEmpty() || refusal.closed || nowNs - refusal.openedNs > sessionTimeoutNs)
            {
                closeQuietly(refusal);
                final int last = refusals.size() - 1;
                refusals.set(i, refusals.get(last));
                refusals.remove(last);
                work++;
            }
        }
        return work;
    }

    private void closeQuietly(final ClientSession session)
    {
        if (!session.closed)
        {
            session.closed = true;
            discardBacklog(session);
        }
        CloseHelper.quietClose(session.publication);
    }

    private void discardBacklog(final ClientSession session)
    {
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
        if (byImage.get(session.imageSessionId) == session)
        {
            byImage.remove(session.imageSessionId);
        }
        resumable.onClosed(session, System.nanoTime());
        discardBacklog(session);
        final String line = truncate(detail, MAX_CLOSE_DETAIL_CHARS);
        closedEncoder.wrapAndApplyHeader(closedBuffer, 0, headerEncoder)
            .sessionId(session.sessionId)
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
        counters.sessionsOpen().setRelease(byImage.size());
        // A producer that leaves (its publication gone) or a pipeline that stops is the normal course: counted,
        // not logged, so short-lived clients (every `bin/spate get`) do not flood the log.
        if (reason != SessionCloseReason.PIPELINE_STOPPING && reason != SessionCloseReason.PRODUCER_GONE)
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
        final ArrayList<ClientSession> all = new ArrayList<>(byImage.values());
        for (final ClientSession session : all)
        {
            close(session, SessionCloseReason.PIPELINE_STOPPING, "the pipeline is shutting down");
        }
        for (final ClientSession refusal : refusals)
        {
            closeQuietly(refusal);
        }
        refusals.clear();
        withBacklog.clear();
    }
}
