package io.spate.pipeline;

import io.spate.wire.AckEncoder;
import io.spate.wire.MessageHeaderEncoder;
import io.spate.wire.RecordStatus;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;

/**
 * Encodes the {@code Ack} of a producer batch (the segment of a modify batch it became, or a refusal
 * of the whole batch) and hands it to the producer's session: the connection the session is open on when the
 * ack leaves (it may have been resumed on another since the batch was admitted). A segment's ack is also kept
 * in the session's {@link AckLedger} entry, so a batch sent again is answered with it.
 */
final class AckWriter
{
    private final ClientSessions sessions;
    private final ResumableSessions resumable;
    private final LogPublisher log;
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final AckEncoder encoder = new AckEncoder();
    /** A ledger entry as it is built: the correlation id (8 bytes), then the ack. */
    private final UnsafeBuffer entryBuffer;
    /** The ack part of {@link #entryBuffer}. */
    private final UnsafeBuffer buffer;

    /**
     * @param log where answers given without the store are queued; null for a pipeline without a log.
     */
    AckWriter(
        final ClientSessions sessions,
        final ResumableSessions resumable,
        final LogPublisher log,
        final int maxRecordsPerBatch)
    {
        this.sessions = sessions;
        this.resumable = resumable;
        this.log = log;
        this.entryBuffer = new UnsafeBuffer(new byte[AckLedger.ENTRY_HEADER_BYTES + maxAckBytes(maxRecordsPerBatch)]);
        this.buffer = new UnsafeBuffer(entryBuffer, AckLedger.ENTRY_HEADER_BYTES,
            entryBuffer.capacity() - AckLedger.ENTRY_HEADER_BYTES);
    }

    /**
     * @return the longest ack of a batch of that many records: every record either a created id or an error.
     */
    static int maxAckBytes(final long recordCount)
    {
        final int perRecordBytes = Math.max(AckEncoder.CreatedIdsEncoder.sbeBlockLength(),
            AckEncoder.ErrorsEncoder.sbeBlockLength());
        return (int)(MessageHeaderEncoder.ENCODED_LENGTH + AckEncoder.BLOCK_LENGTH + 4 + 4 + recordCount * perRecordBytes);
    }

    /**
     * @return what a session reserves for the ack of a batch of that many records.
     */
    static int ackBacklogBytes(final long recordCount)
    {
        return ClientSession.backlogBytesFor(maxAckBytes(recordCount));
    }

    /**
     * Acks one producer batch of a modify batch.
     *
     * @param toLog true when none of the batch's records reached the store, so the batch is not in the log and
     *              its answer goes there on its own; false when the logged batch carries it.
     */
    void sendSegmentAck(final BatchSlot batch, final int segment, final boolean toLog)
    {
        final long sessionId = batch.segmentSessionIds[segment];
        final int lengthBytes = encodeSegmentAck(batch, segment, sessionId, buffer, encoder, headerEncoder);
        answer(batch.segmentSessions[segment], sessionId, batch.segmentCorrelationIds[segment], lengthBytes,
            batch.segmentReservedBytes[segment], toLog);
    }

    /**
     * Refuses a whole producer batch: no record of it reached the store. The refusal is kept for a resend
     * (and logged) unless the correlation id cannot be kept (not positive).
     *
     * @param reservedBytes what the session reserved for this answer.
     */
    void sendRefusal(
        final ClientSession session,
        final long correlationId,
        final long recordCount,
        final RecordStatus status,
        final int reservedBytes)
    {
        if (correlationId <= 0)
        {
            sendUnkept(session, correlationId, recordCount, status, reservedBytes);
            return;
        }
        final int lengthBytes = encodeRefusal(
            session.sessionId, correlationId, recordCount, status, buffer, encoder, headerEncoder);
        answer(session, session.sessionId, correlationId, lengthBytes, reservedBytes, true);
    }

    /**
     * Answers a batch sent again that the pipeline answered before but no longer keeps the answer of (or a
     * batch refused without being admitted): the answer is neither kept nor logged.
     */
    void sendUnkept(
        final ClientSession session,
        final long correlationId,
        final long recordCount,
        final RecordStatus status,
        final int reservedBytes)
    {
        final int lengthBytes = encodeRefusal(
            session.sessionId, correlationId, recordCount, status, buffer, encoder, headerEncoder);
        sessions.send(session, buffer, lengthBytes, reservedBytes);
    }

    /**
     * Keeps the answer in {@link #buffer} in the session's ledger (and queues it for the log when the log does
     * not hold it otherwise), then sends it where the session is open now: a closed connection discards it
     * (counted), and the ledger keeps it for a resend.
     */
    private void answer(
        final ClientSession admittedOn,
        final long sessionId,
        final long correlationId,
        final int lengthBytes,
        final int reservedBytes,
        final boolean toLog)
    {
        final ResumableSessions.Entry entry = resumable.get(sessionId);
        ClientSession target = admittedOn;
        if (null != entry)
        {
            entryBuffer.putLong(0, correlationId, ByteOrder.LITTLE_ENDIAN);
            resumable.ledger().recordAnswer(entry.acks, correlationId, entryBuffer, 0,
                AckLedger.ENTRY_HEADER_BYTES + lengthBytes);
            entry.admittedCorrelationId = Math.max(entry.admittedCorrelationId, correlationId);
            if (toLog && null != log && !log.queueAnswer(sessionId, correlationId, buffer, lengthBytes))
            {
                throw new IllegalStateException("the log's note queue took no answer though it had room (checked " +
                    "before it was given)");
            }
            if (null != entry.current)
            {
                target = entry.current;
            }
        }
        sessions.send(target, buffer, lengthBytes, reservedBytes);
    }

    /**
     * @return the length of the answer kept for the session's batch, or -1 when the ledger holds none.
     */
    int keptLengthBytes(final ResumableSessions.Entry entry, final long correlationId)
    {
        keptSender.session = null;
        keptSender.lengthBytes = -1;
        resumable.ledger().find(entry.acks, correlationId, keptSender);
        return keptSender.lengthBytes;
    }

    /**
     * Answers a batch sent again with the answer kept for it in the ledger.
     *
     * @return true when the ledger holds it (and it was sent or queued).
     */
    boolean sendKept(final ClientSession session, final ResumableSessions.Entry entry, final long correlationId,
        final int reservedBytes)
    {
        keptSender.session = session;
        keptSender.reservedBytes = reservedBytes;
        final boolean found = resumable.ledger().find(entry.acks, correlationId, keptSender);
        keptSender.session = null;
        return found;
    }

    /**
     * @return true when the log's note queue can take that many answers to batches of that many records in all.
     */
    boolean canLogAnswers(final int answers, final long recordCount)
    {
        return null == log || log.hasNoteRoom((long)answers * maxAckBytes(0) + maxAckBytes(recordCount));
    }

    private final KeptSender keptSender = new KeptSender();

    /** Sends (or measures) one kept answer: a field, so a resend allocates nothing. */
    private final class KeptSender implements AckLedger.AckVisitor
    {
        private ClientSession session;
        private int reservedBytes;
        private int lengthBytes;

        public boolean onAck(final long correlationId, final MutableDirectBuffer ack, final int offset,
            final int ackLengthBytes)
        {
            lengthBytes = ackLengthBytes;
            if (null != session)
            {
                buffer.putBytes(0, ack, offset, ackLengthBytes);
                sessions.send(session, buffer, ackLengthBytes, reservedBytes);
            }
            return false;
        }
    }

    /**
     * Encodes the ack of one producer batch of an applied modify batch: its created ids and its errors.
     * Shared by the pipeline and the clustered service, so both answer alike.
     *
     * @param buffer at least {@link #maxAckBytes} of the segment's record count.
     * @return the ack's length in bytes, from offset 0 of the buffer.
     */
    static int encodeSegmentAck(
        final BatchSlot batch,
        final int segment,
        final long sessionId,
        final UnsafeBuffer buffer,
        final AckEncoder encoder,
        final MessageHeaderEncoder headerEncoder)
    {
        final int first = batch.segmentFirstEntry[segment];
        final int count = batch.segmentEntryCount[segment];
        int created = 0;
        int failed = 0;
        int firstFailure = RecordStatus.OK.value();
        for (int i = first; i < first + count; i++)
        {
            if (batch.entryStatus[i] != RecordStatus.OK.value())
            {
                if (failed++ == 0)
                {
                    firstFailure = batch.entryStatus[i];
                }
            }
            else if (batch.entryKind[i] == BatchSlot.KIND_CREATE)
            {
                created++;
            }
        }
        encoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
            .sessionId(sessionId)
            .correlationId(batch.segmentCorrelationIds[segment])
            .recordCount(count)
            .status(RecordStatus.get((short)firstFailure));
        final AckEncoder.CreatedIdsEncoder ids = encoder.createdIdsCount(created);
        if (created > 0)
        {
            for (int i = first; i < first + count; i++)
            {
                if (batch.entryKind[i] == BatchSlot.KIND_CREATE && batch.entryStatus[i] == RecordStatus.OK.value())
                {
                    ids.next().nodeId(batch.entryNodeId[i]).recordIndex(i - first);
                }
            }
        }
        final AckEncoder.ErrorsEncoder errors = encoder.errorsCount(failed);
        if (failed > 0)
        {
            for (int i = first; i < first + count; i++)
            {
                if (batch.entryStatus[i] != RecordStatus.OK.value())
                {
                    errors.next().recordIndex(i - first).status(RecordStatus.get(batch.entryStatus[i]));
                }
            }
        }
        final int lengthBytes = MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
        headerEncoder.frameLengthBytes(lengthBytes);
        return lengthBytes;
    }

    /**
     * Encodes the refusal of a whole producer batch (no record of it reached the store).
     *
     * @return the refusal's length in bytes, from offset 0 of the buffer.
     */
    static int encodeRefusal(
        final long sessionId,
        final long correlationId,
        final long recordCount,
        final RecordStatus status,
        final UnsafeBuffer buffer,
        final AckEncoder encoder,
        final MessageHeaderEncoder headerEncoder)
    {
        encoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
            .sessionId(sessionId)
            .correlationId(correlationId)
            .recordCount(recordCount)
            .status(status);
        encoder.createdIdsCount(0);
        encoder.errorsCount(0);
        final int lengthBytes = MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
        headerEncoder.frameLengthBytes(lengthBytes);
        return lengthBytes;
    }

    /**
     * @return what a session reserves for a refusal.
     */
    static int refusalBacklogBytes()
    {
        return ClientSession.backlogBytesFor(maxAckBytes(0));
    }
}
