package io.spate.pipeline;

import io.spate.wire.AckEncoder;
import io.spate.wire.MessageHeaderEncoder;
import io.spate.wire.RecordStatus;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Encodes the {@code Ack} of a producer batch (the segment of a modify batch it became, or a refusal
 * of the whole batch) and hands it to the producer's session.
 */
final class AckWriter
{
    private final ClientSessions sessions;
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final AckEncoder encoder = new AckEncoder();
    private final UnsafeBuffer buffer;

    AckWriter(final ClientSessions sessions, final int maxRecordsPerBatch)
    {
        this.sessions = sessions;
        this.buffer = new UnsafeBuffer(new byte[maxAckBytes(maxRecordsPerBatch)]);
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
     * Acks one producer batch of an applied (or wholly refused) modify batch.
     */
    void sendSegmentAck(final BatchSlot batch, final int segment)
    {
        final ClientSession session = batch.segmentSessions[segment];
        final int lengthBytes = encodeSegmentAck(batch, segment, session.sessionId, buffer, encoder, headerEncoder);
        sessions.send(session, buffer, lengthBytes, batch.segmentReservedBytes[segment]);
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
     * Refuses a whole producer batch: no record of it reached the store.
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
        final int lengthBytes = encodeRefusal(
            session.sessionId, correlationId, recordCount, status, buffer, encoder, headerEncoder);
        sessions.send(session, buffer, lengthBytes, reservedBytes);
    }

    /**
     * @return what a session reserves for a refusal.
     */
    static int refusalBacklogBytes()
    {
        return ClientSession.backlogBytesFor(maxAckBytes(0));
    }
}
