package io.spate.pipeline;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.spate.codec.RecordFraming;
import io.spate.wire.AckDecoder;
import io.spate.wire.BatchHeaderEncoder;
import io.spate.wire.ConnectEncoder;
import io.spate.wire.MessageHeaderDecoder;
import io.spate.wire.MessageHeaderEncoder;
import io.spate.wire.RecordStatus;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A producer on a raw Aeron publication, for tests that send exactly the bytes they choose
 * (including garbage) and read every ack.
 */
final class RawProducer implements AutoCloseable
{
    /** One ack as received. */
    record Ack(long correlationId, RecordStatus status, long recordCount, Map<Integer, Long> createdIds,
        Map<Integer, RecordStatus> errors)
    {
    }

    private final ExclusivePublication publication;
    private final Subscription responses;
    private final FragmentAssembler assembler;
    private final long clientId;
    private volatile long sessionId;
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final AckDecoder ackDecoder = new AckDecoder();
    final List<Ack> acks = new ArrayList<>();
    /** Why the pipeline closed this producer's session, once a SessionClosed arrived. */
    volatile io.spate.wire.SessionCloseReason closedReason;
    /** False for a producer that never reads its acks, not even while its sends are back-pressured. */
    boolean readsAcks = true;

    static int responseStreamIdOf(final long clientId)
    {
        return (int)(20_000 + (clientId & 0xFFFF));
    }

    final long clientId()
    {
        return clientId;
    }

    long sendPosition()
    {
        return publication.position();
    }

    RawProducer(final Aeron aeron, final PipelineConfiguration configuration, final long clientId)
    {
        this(aeron, configuration, clientId, 0, true, responseStreamIdOf(clientId));
    }

    /** The pipeline's answer to the Connect or Reconnect. */
    volatile io.spate.wire.ConnectStatus connectStatus;
    volatile String connectDetail;
    /** The SessionSettings that followed an OPENED: the ledger's size; 0 before it arrived. */
    volatile int ledgerBatches;
    private boolean expectOpened;

    /**
     * Opens a session (resumeSessionId 0) or resumes one with a Reconnect, on a publication of its own.
     *
     * @param expectOpened     true to fail on a refusal; false to wait for any answer and keep it in connectStatus.
     * @param responseStreamId its own (IPC subscriptions of one stream see every publication of it).
     */
    RawProducer(
        final Aeron aeron,
        final PipelineConfiguration configuration,
        final long clientId,
        final long resumeSessionId,
        final boolean expectOpened,
        final int responseStreamId)
    {
        this.clientId = clientId;
        this.expectOpened = expectOpened;
        publication = aeron.addExclusivePublication(configuration.ingressChannel(), configuration.ingressStreamId());
        responses = aeron.addSubscription("aeron:ipc", responseStreamId);
        assembler = new FragmentAssembler(this::onResponse);
        await(publication::isConnected, "ingress");
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[512]);
        final MessageHeaderEncoder header = new MessageHeaderEncoder();
        final int length;
        if (0 == resumeSessionId)
        {
            final ConnectEncoder connect = new ConnectEncoder().wrapAndApplyHeader(buffer, 0, header)
                .clientId(clientId)
                .correlationId(clientId)
                .schemaHash(configuration.schema().hash())
                .responseStreamId(responseStreamId)
                .responseChannel("aeron:ipc")
                .schemaName(configuration.schema().name())
                .putCredentials(new byte[0], 0, 0);
            length = MessageHeaderEncoder.ENCODED_LENGTH + connect.encodedLength();
        }
        else
        {
            final io.spate.wire.ReconnectEncoder reconnect = new io.spate.wire.ReconnectEncoder()
                .wrapAndApplyHeader(buffer, 0, header)
                .clientId(clientId)
                .correlationId(clientId)
                .sessionId(resumeSessionId)
                .schemaHash(configuration.schema().hash())
                .responseStreamId(responseStreamId)
                .responseChannel("aeron:ipc")
                .schemaName(configuration.schema().name())
                .putCredentials(new byte[0], 0, 0);
            length = MessageHeaderEncoder.ENCODED_LENGTH + reconnect.encodedLength();
        }
        header.frameLengthBytes(length);
        send(buffer, 0, length);
        await(() ->
        {
            poll();
            return null != connectStatus && (!expectOpened || 0 != ledgerBatches);
        }, "the session (ConnectResponse, SessionSettings)");
    }

    /**
     * @return the session the pipeline issued.
     */
    long sessionId()
    {
        return sessionId;
    }

    /**
     * Sends bytes as one message; when they start with a BatchHeader its session id is set to ours.
     */
    void send(final MutableDirectBuffer buffer, final int offset, final int length)
    {
        if (length >= RecordFraming.HEADER_LENGTH_BYTES + BatchHeaderEncoder.BLOCK_LENGTH &&
            buffer.getShort(offset + RecordFraming.TEMPLATE_ID_OFFSET, ByteOrder.LITTLE_ENDIAN) == BatchHeaderEncoder.TEMPLATE_ID)
        {
            buffer.putLong(offset + RecordFraming.HEADER_LENGTH_BYTES + BatchHeaderEncoder.sessionIdEncodingOffset(),
                sessionId, ByteOrder.LITTLE_ENDIAN);
        }
        final long deadlineNs = System.nanoTime() + 20_000_000_000L;
        long result;
        while ((result = publication.offer(buffer, offset, length)) < 0)
        {
            if (result == Publication.CLOSED || System.nanoTime() > deadlineNs)
            {
                throw new AssertionError("could not send: " + result);
            }
            if (readsAcks)
            {
                poll();
            }
            Thread.onSpinWait();
        }
    }

    /**
     * Sends bytes as they are (no session id stamped): for forgeries.
     */
    void sendRaw(final MutableDirectBuffer buffer, final int offset, final int length)
    {
        await(() -> publication.offer(buffer, offset, length) > 0, "offer");
    }

    int poll()
    {
        return responses.poll(assembler, 64);
    }

    /**
     * Polls until `count` acks arrived in all.
     */
    void awaitAcks(final int count)
    {
        await(() ->
        {
            poll();
            return acks.size() >= count;
        }, count + " acks (have " + acks.size() + ")");
    }

    private void onResponse(final DirectBuffer buffer, final int offset, final int length, final io.aeron.logbuffer.Header h)
    {
        headerDecoder.wrap(buffer, offset);
        if (headerDecoder.templateId() == io.spate.wire.ConnectResponseDecoder.TEMPLATE_ID)
        {
            final io.spate.wire.ConnectResponseDecoder response =
                new io.spate.wire.ConnectResponseDecoder().wrapAndApplyHeader(buffer, offset, headerDecoder);
            final io.spate.wire.ConnectStatus status = response.status();
            final long issued = response.sessionId();
            connectDetail = response.detail();
            if (status != io.spate.wire.ConnectStatus.OPENED && expectOpened)
            {
                throw new AssertionError("connect refused: " + status + " " + connectDetail);
            }
            sessionId = issued;
            connectStatus = status;
            return;
        }
        if (headerDecoder.templateId() == io.spate.wire.SessionSettingsDecoder.TEMPLATE_ID)
        {
            ledgerBatches = (int)new io.spate.wire.SessionSettingsDecoder().wrapAndApplyHeader(buffer, offset, headerDecoder)
                .ledgerBatches();
            return;
        }
        if (headerDecoder.templateId() == io.spate.wire.SessionClosedDecoder.TEMPLATE_ID)
        {
            closedReason = new io.spate.wire.SessionClosedDecoder().wrapAndApplyHeader(buffer, offset, headerDecoder).reason();
            return;
        }
        if (headerDecoder.templateId() != AckDecoder.TEMPLATE_ID)
        {
            return;
        }
        ackDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
        final Map<Integer, Long> ids = new HashMap<>();
        for (final AckDecoder.CreatedIdsDecoder created : ackDecoder.createdIds())
        {
            ids.put((int)created.recordIndex(), created.nodeId());
        }
        final Map<Integer, RecordStatus> errors = new HashMap<>();
        for (final AckDecoder.ErrorsDecoder error : ackDecoder.errors())
        {
            errors.put((int)error.recordIndex(), error.status());
        }
        ackDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
        acks.add(new Ack(ackDecoder.correlationId(), ackDecoder.status(), ackDecoder.recordCount(), ids, errors));
    }

    static void await(final java.util.function.BooleanSupplier condition, final String what)
    {
        final long deadlineNs = System.nanoTime() + 30_000_000_000L;
        while (!condition.getAsBoolean())
        {
            if (System.nanoTime() > deadlineNs)
            {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.yield();
        }
    }

    public void close()
    {
        CloseHelper.closeAll(responses, publication);
    }
}
