package io.spate.client;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Subscription;
import io.aeron.logbuffer.Header;
import io.spate.codec.RecordFraming;
import io.spate.wire.AckEncoder;
import io.spate.wire.BatchHeaderDecoder;
import io.spate.wire.ConnectDecoder;
import io.spate.wire.ConnectResponseEncoder;
import io.spate.wire.ConnectStatus;
import io.spate.wire.MessageHeaderDecoder;
import io.spate.wire.MessageHeaderEncoder;
import io.spate.wire.ReadRequestDecoder;
import io.spate.wire.ReadResponseEncoder;
import io.spate.wire.ReconnectDecoder;
import io.spate.wire.RecordStatus;
import io.spate.wire.SessionCloseReason;
import io.spate.wire.SessionClosedEncoder;
import io.spate.wire.SessionSettingsEncoder;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.concurrent.ManyToOneConcurrentLinkedQueue;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A stand-in for the pipeline's sessions, on its own thread over an ingress subscription and one response
 * publication per session: it answers Connect (OPENED, then SessionSettings), Reconnect (OPENED for a session its
 * {@link Durable} state knows and the same client opened, else UNKNOWN_SESSION), batches (applied once per session
 * and correlation id, every record taken as a Create with the next id; a batch seen again answered with its
 * original ack from a ledger of the session's last {@code ledgerBatches} acks, or ALREADY_APPLIED once it left it)
 * and reads (the count of records applied). Switches hold acks back (the batches applied, their acks kept) or
 * make it stop reading batches (they are lost with it). A "restart" is {@link #stop(boolean)} and a new instance
 * on the same {@link Durable} (a data directory) or a new one (none).
 */
final class FakePipeline implements AutoCloseable
{
    private static final long ANSWER_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(10);
    /** Session ids are never reused, by any instance (the pipeline's start from its start time). */
    private static final AtomicLong NEXT_SESSION_ID = new AtomicLong(1000);

    /** What a data directory keeps across restarts: every session's ledger, the ids handed out. */
    static final class Durable
    {
        private final Long2ObjectHashMap<SessionState> sessions = new Long2ObjectHashMap<>();
        private long nextNodeId;
        private long recordsApplied;
        /** Batches applied, first time seen, over every instance on this state. */
        final AtomicLong appliedBatches = new AtomicLong();
    }

    private static final class SessionState
    {
        final long sessionId;
        final long clientId;
        long highestCorrelationId;
        final ArrayDeque<Long> ledgerOrder = new ArrayDeque<>();
        final Long2ObjectHashMap<byte[]> ledger = new Long2ObjectHashMap<>();

        SessionState(final long sessionId, final long clientId)
        {
            this.sessionId = sessionId;
            this.clientId = clientId;
        }
    }

    private final Durable durable;
    private final Aeron aeron;
    private final int ledgerBatches;
    private final int maxBatchBytes;
    private final int maxRecordsPerBatch;
    private final Subscription ingress;
    private final FragmentAssembler assembler = new FragmentAssembler(this::onMessage);
    private final Long2ObjectHashMap<ExclusivePublication> publicationBySession = new Long2ObjectHashMap<>();
    private final List<ExclusivePublication> publications = new ArrayList<>();
    private final List<long[]> heldAcks = new ArrayList<>();
    private final ManyToOneConcurrentLinkedQueue<Runnable> commands = new ManyToOneConcurrentLinkedQueue<>();
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final ConnectDecoder connectDecoder = new ConnectDecoder();
    private final ReconnectDecoder reconnectDecoder = new ReconnectDecoder();
    private final BatchHeaderDecoder batchDecoder = new BatchHeaderDecoder();
    private final ReadRequestDecoder readDecoder = new ReadRequestDecoder();
    private final UnsafeBuffer answer = new UnsafeBuffer(new byte[1 << 16]);
    private final Thread thread;
    private volatile boolean running = true;

    /** Apply batches but keep their acks until {@link #releaseAcks()}. */
    volatile boolean holdAcks;
    /** Read nothing more from the ingress: what is sent stays unread, lost when this instance stops. */
    private volatile boolean stopReadingBatches;
    /** Answer Reconnect with this status (no session) instead of looking the session up; null: look it up. */
    volatile ConnectStatus refuseReconnect;
    /** Send every answer to a batch twice. */
    volatile boolean answerTwice;
    /** Send no SessionSettings after a session opens (a pipeline older than the client). */
    volatile boolean sendSettings = true;
    final AtomicLong connects = new AtomicLong();
    final AtomicLong reconnects = new AtomicLong();
    final AtomicLong batchesReceived = new AtomicLong();
    final AtomicLong answeredAgain = new AtomicLong();
    final AtomicLong answeredAlreadyApplied = new AtomicLong();
    /** Correlation ids of the batches received, in order (resent ones too). */
    final List<Long> received = java.util.Collections.synchronizedList(new ArrayList<>());
    volatile Throwable error;

    FakePipeline(
        final Aeron aeron,
        final String ingressChannel,
        final int ingressStreamId,
        final Durable durable,
        final int ledgerBatches,
        final int maxBatchBytes,
        final int maxRecordsPerBatch)
    {
        this.aeron = aeron;
        this.durable = durable;
        this.ledgerBatches = ledgerBatches;
        this.maxBatchBytes = maxBatchBytes;
        this.maxRecordsPerBatch = maxRecordsPerBatch;
        this.ingress = aeron.addSubscription(ingressChannel, ingressStreamId);
        thread = new Thread(this::run, "fake-pipeline");
        thread.setDaemon(true);
        thread.start();
    }

    private void run()
    {
        try
        {
            while (running)
            {
                Runnable command;
                int work = 0;
                while (null != (command = commands.poll()))
                {
                    command.run();
                    work++;
                }
                if (!stopReadingBatches)
                {
                    work += ingress.poll(assembler, 10);
                }
                if (0 == work)
                {
                    Thread.onSpinWait();
                    Thread.yield();
                }
            }
        }
        catch (final Throwable ex)
        {
            error = ex;
        }
    }

    /**
     * Closes a session as the pipeline does: SessionClosed with the reason, then its publication released.
     */
    void closeSession(final long sessionId, final SessionCloseReason reason)
    {
        commands.offer(() ->
        {
            final ExclusivePublication publication = publicationBySession.remove(sessionId);
            if (null != publication)
            {
                sendSessionClosed(publication, sessionId, reason);
                publication.close();
            }
        });
    }

    /**
     * Reads nothing more from the ingress from now on (returns once the fake's thread took it): what is sent stays
     * unread, lost when this instance stops.
     */
    void stopReading()
    {
        final java.util.concurrent.CountDownLatch taken = new java.util.concurrent.CountDownLatch(1);
        commands.offer(() ->
        {
            stopReadingBatches = true;
            taken.countDown();
        });
        try
        {
            if (!taken.await(10, TimeUnit.SECONDS))
            {
                throw new IllegalStateException("the fake pipeline's thread did not take the command");
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(ex);
        }
    }

    /**
     * Sends the acks held back so far, in order; later batches are answered at once again.
     */
    void releaseAcks()
    {
        commands.offer(() ->
        {
            holdAcks = false;
            for (final long[] held : heldAcks)
            {
                final SessionState session = durable.sessions.get(held[0]);
                final byte[] ack = session.ledger.get(held[1]);
                final ExclusivePublication publication = publicationBySession.get(held[0]);
                if (null != ack && null != publication)
                {
                    send(publication, new UnsafeBuffer(ack), ack.length);
                }
            }
            heldAcks.clear();
        });
    }

    /**
     * Stops this instance: with {@code sayStopping} every open session first gets SessionClosed PIPELINE_STOPPING
     * (a clean shutdown), else its publications just go (a crash). Its ingress subscription goes too.
     */
    void stop(final boolean sayStopping)
    {
        if (!running)
        {
            return;
        }
        running = false;
        try
        {
            thread.join(10_000);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        if (sayStopping)
        {
            publicationBySession.forEach((sessionId, publication) ->
                sendSessionClosed(publication, sessionId, SessionCloseReason.PIPELINE_STOPPING));
        }
        CloseHelper.closeAll(publications);
        CloseHelper.close(ingress);
    }

    public void close()
    {
        stop(false);
    }

    private void onMessage(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        headerDecoder.wrap(buffer, offset);
        switch (headerDecoder.templateId())
        {
            case ConnectDecoder.TEMPLATE_ID -> onConnect(buffer, offset);
            case ReconnectDecoder.TEMPLATE_ID -> onReconnect(buffer, offset);
            case BatchHeaderDecoder.TEMPLATE_ID -> onBatch(buffer, offset);
            case ReadRequestDecoder.TEMPLATE_ID -> onRead(buffer, offset);
            default -> throw new IllegalStateException("unexpected template " + headerDecoder.templateId());
        }
    }

    private void onConnect(final DirectBuffer buffer, final int offset)
    {
        connects.incrementAndGet();
        connectDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
        final long clientId = connectDecoder.clientId();
        final long correlationId = connectDecoder.correlationId();
        final int responseStreamId = connectDecoder.responseStreamId();
        final String responseChannel = connectDecoder.responseChannel();
        final SessionState session = new SessionState(NEXT_SESSION_ID.incrementAndGet(), clientId);
        durable.sessions.put(session.sessionId, session);
        final ExclusivePublication publication = publication(responseChannel, responseStreamId);
        publicationBySession.put(session.sessionId, publication);
        sendConnectResponse(publication, correlationId, session.sessionId, ConnectStatus.OPENED, "opened");
        if (sendSettings)
        {
            sendSettings(publication, session.sessionId);
        }
    }

    private void onReconnect(final DirectBuffer buffer, final int offset)
    {
        reconnects.incrementAndGet();
        reconnectDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
        final long clientId = reconnectDecoder.clientId();
        final long correlationId = reconnectDecoder.correlationId();
        final long sessionId = reconnectDecoder.sessionId();
        final int responseStreamId = reconnectDecoder.responseStreamId();
        final String responseChannel = reconnectDecoder.responseChannel();
        final ExclusivePublication publication = publication(responseChannel, responseStreamId);
        if (null != refuseReconnect)
        {
            sendConnectResponse(publication, correlationId, 0, refuseReconnect, "refused by the fake pipeline");
            return;
        }
        final SessionState session = durable.sessions.get(sessionId);
        if (null == session || session.clientId != clientId)
        {
            sendConnectResponse(publication, correlationId, 0, ConnectStatus.UNKNOWN_SESSION,
                "no session " + sessionId + " here (restarted without a data directory)");
            return;
        }
        publicationBySession.put(sessionId, publication);
        // The ledger keeps what this instance is configured for (a restart may have made it smaller).
        trimLedger(session);
        sendConnectResponse(publication, correlationId, sessionId, ConnectStatus.OPENED, "resumed");
        if (sendSettings)
        {
            sendSettings(publication, sessionId);
        }
    }

    private void onBatch(final DirectBuffer buffer, final int offset)
    {
        batchDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
        final long sessionId = batchDecoder.sessionId();
        final long correlationId = batchDecoder.correlationId();
        final int records = (int)batchDecoder.recordCount();
        batchesReceived.incrementAndGet();
        received.add(correlationId);
        final SessionState session = durable.sessions.get(sessionId);
        final ExclusivePublication publication = publicationBySession.get(sessionId);
        if (null == session || null == publication)
        {
            return; // not a session open here: the pipeline counts it as rejected
        }
        if (correlationId <= session.highestCorrelationId)
        {
            final byte[] original = session.ledger.get(correlationId);
            if (null != original)
            {
                answeredAgain.incrementAndGet();
                sendAnswer(publication, new UnsafeBuffer(original), original.length);
            }
            else
            {
                answeredAlreadyApplied.incrementAndGet();
                final int lengthBytes = encodeAck(sessionId, correlationId, records, RecordStatus.ALREADY_APPLIED, 0);
                sendAnswer(publication, answer, lengthBytes);
            }
            return;
        }
        session.highestCorrelationId = correlationId;
        durable.recordsApplied += records;
        durable.appliedBatches.incrementAndGet();
        final int lengthBytes = encodeAck(sessionId, correlationId, records, RecordStatus.OK, records);
        final byte[] ack = new byte[lengthBytes];
        answer.getBytes(0, ack);
        session.ledger.put(correlationId, ack);
        session.ledgerOrder.addLast(correlationId);
        trimLedger(session);
        if (holdAcks)
        {
            heldAcks.add(new long[]{ sessionId, correlationId });
        }
        else
        {
            sendAnswer(publication, answer, lengthBytes);
        }
    }

    private void sendAnswer(final ExclusivePublication publication, final DirectBuffer buffer, final int lengthBytes)
    {
        send(publication, buffer, lengthBytes);
        if (answerTwice)
        {
            send(publication, buffer, lengthBytes);
        }
    }

    private void trimLedger(final SessionState session)
    {
        while (session.ledgerOrder.size() > ledgerBatches)
        {
            session.ledger.remove((long)session.ledgerOrder.removeFirst());
        }
    }

    private int encodeAck(
        final long sessionId, final long correlationId, final int records, final RecordStatus status, final int created)
    {
        final AckEncoder ack = new AckEncoder().wrapAndApplyHeader(answer, 0, headerEncoder)
            .sessionId(sessionId)
            .correlationId(correlationId)
            .recordCount(records)
            .status(status);
        final AckEncoder.CreatedIdsEncoder ids = ack.createdIdsCount(created);
        for (int i = 0; i < created; i++)
        {
            ids.next().nodeId(++durable.nextNodeId).recordIndex(i);
        }
        ack.errorsCount(0);
        final int lengthBytes = RecordFraming.HEADER_LENGTH_BYTES + ack.encodedLength();
        headerEncoder.frameLengthBytes(lengthBytes);
        return lengthBytes;
    }

    private void onRead(final DirectBuffer buffer, final int offset)
    {
        readDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
        final ExclusivePublication publication = publicationBySession.get(readDecoder.sessionId());
        if (null == publication)
        {
            return;
        }
        final int lengthBytes = RecordFraming.HEADER_LENGTH_BYTES + new ReadResponseEncoder()
            .wrapAndApplyHeader(answer, 0, headerEncoder)
            .sessionId(readDecoder.sessionId())
            .correlationId(readDecoder.correlationId())
            .count(durable.recordsApplied)
            .typeId(readDecoder.typeId())
            .status(RecordStatus.OK)
            .putNode(new byte[0], 0, 0)
            .encodedLength();
        headerEncoder.frameLengthBytes(lengthBytes);
        send(publication, answer, lengthBytes);
    }

    private ExclusivePublication publication(final String channel, final int streamId)
    {
        final ExclusivePublication publication = aeron.addExclusivePublication(channel, streamId);
        publications.add(publication);
        return publication;
    }

    private void sendConnectResponse(
        final ExclusivePublication publication,
        final long correlationId,
        final long sessionId,
        final ConnectStatus status,
        final String detail)
    {
        final int lengthBytes = RecordFraming.HEADER_LENGTH_BYTES + new ConnectResponseEncoder()
            .wrapAndApplyHeader(answer, 0, headerEncoder)
            .correlationId(correlationId)
            .sessionId(sessionId)
            .pipelineSchemaHash(0)
            .status(status)
            .detail(detail)
            .encodedLength();
        headerEncoder.frameLengthBytes(lengthBytes);
        send(publication, answer, lengthBytes);
    }

    private void sendSettings(final ExclusivePublication publication, final long sessionId)
    {
        final int lengthBytes = RecordFraming.HEADER_LENGTH_BYTES + new SessionSettingsEncoder()
            .wrapAndApplyHeader(answer, 0, headerEncoder)
            .sessionId(sessionId)
            .ledgerBatches(ledgerBatches)
            .maxBatchBytes(maxBatchBytes)
            .maxRecordsPerBatch(maxRecordsPerBatch)
            .encodedLength();
        headerEncoder.frameLengthBytes(lengthBytes);
        send(publication, answer, lengthBytes);
    }

    private void sendSessionClosed(
        final ExclusivePublication publication, final long sessionId, final SessionCloseReason reason)
    {
        final int lengthBytes = RecordFraming.HEADER_LENGTH_BYTES + new SessionClosedEncoder()
            .wrapAndApplyHeader(answer, 0, headerEncoder)
            .sessionId(sessionId)
            .reason(reason)
            .detail("closed by the fake pipeline")
            .encodedLength();
        headerEncoder.frameLengthBytes(lengthBytes);
        send(publication, answer, lengthBytes);
    }

    private static void send(final ExclusivePublication publication, final DirectBuffer buffer, final int lengthBytes)
    {
        final long deadlineNs = System.nanoTime() + ANSWER_TIMEOUT_NS;
        while (publication.offer(buffer, 0, lengthBytes) < 0)
        {
            if (publication.isClosed() || System.nanoTime() > deadlineNs)
            {
                throw new IllegalStateException("could not answer on " + publication.channel() + " stream " +
                    publication.streamId());
            }
            Thread.yield();
        }
    }
}
