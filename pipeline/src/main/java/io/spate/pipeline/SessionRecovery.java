package io.spate.pipeline;

import io.spate.codec.RecordFraming;
import io.spate.store.ApplyResults;
import io.spate.wire.AckEncoder;
import io.spate.wire.CreateDecoder;
import io.spate.wire.LogAnswerDecoder;
import io.spate.wire.LogSessionDecoder;
import io.spate.wire.MessageHeaderDecoder;
import io.spate.wire.MessageHeaderEncoder;
import io.spate.wire.RecordStatus;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;

/**
 * Rebuilds the producers' sessions ({@link ResumableSessions}) while the log replays: a {@code LogSession}
 * remembers a session, a {@code LogAnswer} and every producer batch of a {@code LogBatch} put their answers in
 * its ack ledger, exactly as the live pipeline answered them (the same encoder, from the same outcomes). Every
 * note is checked against its length first; a damaged one stops the replay with a reason.
 */
final class SessionRecovery
{
    private static final int SESSION_MESSAGE_BYTES = MessageHeaderDecoder.ENCODED_LENGTH + LogSessionDecoder.BLOCK_LENGTH;
    private static final int ANSWER_FIXED_BYTES = MessageHeaderDecoder.ENCODED_LENGTH + LogAnswerDecoder.BLOCK_LENGTH +
        LogAnswerDecoder.ackHeaderLength();
    private static final int CREATE_TEMPLATE_BYTE = CreateDecoder.TEMPLATE_ID & 0xFF;

    private final ResumableSessions sessions;
    private final int maxAckBytes;
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final LogSessionDecoder sessionDecoder = new LogSessionDecoder();
    private final LogAnswerDecoder answerDecoder = new LogAnswerDecoder();
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final AckEncoder ackEncoder = new AckEncoder();
    private final UnsafeBuffer entryBuffer;
    private final UnsafeBuffer ackBuffer;
    private final int maxRecordsPerBatch;
    private BatchSlot slot;
    private long sessionsOpened;
    private long answers;

    /**
     * @param sessions           to rebuild (holding what the snapshot held).
     * @param maxRecordsPerBatch the most records of a producer batch.
     */
    SessionRecovery(final ResumableSessions sessions, final int maxRecordsPerBatch)
    {
        this.sessions = sessions;
        this.maxRecordsPerBatch = maxRecordsPerBatch;
        this.maxAckBytes = AckWriter.maxAckBytes(maxRecordsPerBatch);
        this.entryBuffer = new UnsafeBuffer(new byte[AckLedger.ENTRY_HEADER_BYTES + maxAckBytes]);
        this.ackBuffer = new UnsafeBuffer(entryBuffer, AckLedger.ENTRY_HEADER_BYTES, maxAckBytes);
    }

    /**
     * @return true when the message is a session note (a LogSession or LogAnswer) of the Spate wire schema.
     */
    static boolean isNote(final DirectBuffer buffer, final int offset, final int length)
    {
        if (length < MessageHeaderDecoder.ENCODED_LENGTH)
        {
            return false;
        }
        final int schemaId = buffer.getShort(offset + MessageHeaderDecoder.schemaIdEncodingOffset(), ByteOrder.LITTLE_ENDIAN);
        final int templateId = buffer.getShort(offset + MessageHeaderDecoder.templateIdEncodingOffset(),
            ByteOrder.LITTLE_ENDIAN);
        return schemaId == RecordFraming.SCHEMA_ID &&
            (templateId == LogSessionDecoder.TEMPLATE_ID || templateId == LogAnswerDecoder.TEMPLATE_ID);
    }

    /**
     * Takes a session note.
     *
     * @return null when it was sound, else what is wrong with it.
     */
    String onNote(final DirectBuffer buffer, final int offset, final int length, final long nowNs)
    {
        headerDecoder.wrap(buffer, offset);
        if (headerDecoder.frameLengthBytes() != length)
        {
            return "a session note's frame length " + headerDecoder.frameLengthBytes() + " is not its " + length + " bytes";
        }
        if (headerDecoder.templateId() == LogSessionDecoder.TEMPLATE_ID)
        {
            if (length < SESSION_MESSAGE_BYTES || headerDecoder.blockLength() < LogSessionDecoder.BLOCK_LENGTH)
            {
                return "a session opening of " + length + " bytes";
            }
            sessionDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
            final long sessionId = sessionDecoder.sessionId();
            final long clientId = sessionDecoder.clientId();
            final ResumableSessions.Entry known = sessions.get(sessionId);
            if (sessionId <= 0 || (null != known && known.clientId != clientId))
            {
                return "session " + sessionId + " opened by client " + clientId + " is impossible or was another's";
            }
            if (null != known)
            {
                return null; // a shutdown snapshot took it before its note reached the log
            }
            sessions.open(sessionId, clientId, null, nowNs);
            sessionsOpened++;
            return null;
        }
        if (length < ANSWER_FIXED_BYTES || headerDecoder.blockLength() != LogAnswerDecoder.BLOCK_LENGTH)
        {
            return "an answer of " + length + " bytes";
        }
        answerDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
        final int ackLength = answerDecoder.ackLength();
        if (ackLength < MessageHeaderDecoder.ENCODED_LENGTH || ackLength > maxAckBytes ||
            ANSWER_FIXED_BYTES + ackLength != length)
        {
            return "an answer holds an ack of " + ackLength + " bytes in " + length;
        }
        final long sessionId = answerDecoder.sessionId();
        final long correlationId = answerDecoder.correlationId();
        if (correlationId <= 0)
        {
            return "an answer to correlation id " + correlationId;
        }
        final ResumableSessions.Entry entry = sessions.get(sessionId);
        // Else the session was forgotten (its resume window passed, or room was needed); an answer the ledger holds
        // already came with a shutdown snapshot taken before its note reached the log.
        if (null != entry && -1 == keptLength(entry, correlationId))
        {
            answerDecoder.getAck(ackBuffer, 0, ackLength);
            record(entry, correlationId, ackLength);
        }
        return null;
    }

    /**
     * Puts the answers of a replayed batch's producer batches in their sessions' ledgers.
     *
     * @param results the store's outcome of each of its records, in order.
     * @return null when it adds up, else what does not.
     */
    String onBatch(final LogBatchReader reader, final ApplyResults results)
    {
        final int entryCount = reader.entryCount();
        if (null == slot || slot.entryStatus.length < entryCount)
        {
            slot = new BatchSlot(Math.max(entryCount, maxRecordsPerBatch), 0);
        }
        int record = 0;
        for (int i = 0; i < entryCount; i++)
        {
            final int status = reader.entryStatus(i);
            slot.entryKind[i] = BatchSlot.KIND_OTHER;
            slot.entryNodeId[i] = 0;
            if (status != RecordStatus.OK.value())
            {
                slot.entryStatus[i] = (byte)status;
                continue;
            }
            if (record >= results.count())
            {
                return "its statuses say more records than the store applied";
            }
            slot.entryStatus[i] = (byte)results.status(record);
            if (results.templateId(record) == CREATE_TEMPLATE_BYTE)
            {
                slot.entryKind[i] = BatchSlot.KIND_CREATE;
                slot.entryNodeId[i] = results.nodeId(record);
            }
            record++;
        }
        int first = 0;
        for (int segment = 0; segment < reader.segmentCount(); segment++)
        {
            final int count = reader.segmentEntryCount(segment);
            final long sessionId = reader.segmentSessionId(segment);
            final long correlationId = reader.segmentCorrelationId(segment);
            if (count > maxRecordsPerBatch || correlationId <= 0)
            {
                return "producer batch " + correlationId + " of session " + sessionId + " with " + count + " records";
            }
            final ResumableSessions.Entry entry = sessions.get(sessionId);
            if (null != entry)
            {
                slot.segmentCount = 1;
                slot.segmentCorrelationIds[0] = correlationId;
                slot.segmentFirstEntry[0] = first;
                slot.segmentEntryCount[0] = count;
                final int ackLength = AckWriter.encodeSegmentAck(slot, 0, sessionId, ackBuffer, ackEncoder, headerEncoder);
                record(entry, correlationId, ackLength);
            }
            first += count;
        }
        slot.segmentCount = 0;
        return null;
    }

    private int keptLength(final ResumableSessions.Entry entry, final long correlationId)
    {
        keptLengthBytes = -1;
        sessions.ledger().find(entry.acks, correlationId, keptMeasurer);
        return keptLengthBytes;
    }

    private int keptLengthBytes;
    private final AckLedger.AckVisitor keptMeasurer = (correlationId, buffer, offset, lengthBytes) ->
    {
        keptLengthBytes = lengthBytes;
        return false;
    };

    private void record(final ResumableSessions.Entry entry, final long correlationId, final int ackLength)
    {
        entryBuffer.putLong(0, correlationId, ByteOrder.LITTLE_ENDIAN);
        sessions.ledger().recordAnswer(entry.acks, correlationId, entryBuffer, 0, AckLedger.ENTRY_HEADER_BYTES + ackLength);
        entry.admittedCorrelationId = Math.max(entry.admittedCorrelationId, correlationId);
        answers++;
    }

    long sessionsOpened()
    {
        return sessionsOpened;
    }

    long answers()
    {
        return answers;
    }
}
