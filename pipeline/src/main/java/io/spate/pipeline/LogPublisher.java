package io.spate.pipeline;

import io.aeron.DirectBufferVector;
import io.aeron.ExclusivePublication;
import io.aeron.archive.status.RecordingPos;
import io.spate.wire.LogBatchEncoder;
import io.spate.wire.LogAnswerEncoder;
import io.spate.wire.LogSessionEncoder;
import io.spate.wire.MessageHeaderEncoder;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableRingBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersReader;

import java.nio.ByteOrder;

/**
 * The one place the durable log is offered to: one {@code LogBatch} per dispatched batch, its
 * records gathered from where they lie (the modify buffer, or the copy buffer) behind a header
 * encoded here, so nothing is copied twice. The archive in the driver's process records the
 * publication; {@link #recordedPosition()} is its recording position counter, a volatile load, and
 * a batch is acked only once that has passed the batch's end in the log.
 */
final class LogPublisher
{
    /** Bytes of a LogBatch besides its entry statuses and records, with no segment. */
    static final int FIXED_OVERHEAD_BYTES = MessageHeaderEncoder.ENCODED_LENGTH + LogBatchEncoder.BLOCK_LENGTH +
        LogBatchEncoder.SegmentsEncoder.sbeHeaderSize() + LogBatchEncoder.entryStatusHeaderLength() +
        LogBatchEncoder.recordsHeaderLength();
    private static final int SEGMENT_BYTES = LogBatchEncoder.SegmentsEncoder.sbeBlockLength();
    /** Most bytes of session notes queued for the log: the conductor pushes back on ingress past it. */
    static final int MAX_NOTE_QUEUE_BYTES = 4 << 20;
    /** A note's bytes besides its ack, and the ring's own header and alignment per message. */
    private static final int NOTE_SLACK_BYTES = 128;

    private final ExclusivePublication publication;
    private final CountersReader counters;
    private final int recordingCounterId;
    private final long recordingId;
    private final long schemaHash;
    private final UnsafeBuffer headerBuffer;
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final LogBatchEncoder encoder = new LogBatchEncoder();
    private final LogSessionEncoder sessionEncoder = new LogSessionEncoder();
    private final LogAnswerEncoder answerEncoder = new LogAnswerEncoder();
    /** Session notes (openings, answers given without the store) waiting for the log, bounded. */
    private final ExpandableRingBuffer notes = new ExpandableRingBuffer(4096, MAX_NOTE_QUEUE_BYTES, false);
    private final ExpandableRingBuffer.MessageConsumer noteOfferer = this::offerNote;
    private final UnsafeBuffer noteBuffer;
    private final DirectBufferVector headerVector = new DirectBufferVector();
    private final DirectBufferVector recordsVector = new DirectBufferVector();
    private final DirectBufferVector[] vectors = { headerVector, recordsVector };

    LogPublisher(
        final ExclusivePublication publication,
        final CountersReader counters,
        final int recordingCounterId,
        final long recordingId,
        final long schemaHash,
        final int maxRecordsPerBatch)
    {
        this.publication = publication;
        this.counters = counters;
        this.recordingCounterId = recordingCounterId;
        this.recordingId = recordingId;
        this.schemaHash = schemaHash;
        this.headerBuffer = new UnsafeBuffer(new byte[(int)maxMessageBytes(0, maxRecordsPerBatch)]);
        this.noteBuffer = new UnsafeBuffer(new byte[NOTE_SLACK_BYTES + AckWriter.maxAckBytes(maxRecordsPerBatch)]);
    }

    /**
     * @return the most bytes a LogBatch may take with these limits (one segment per record at worst).
     */
    static long maxMessageBytes(final int maxBatchBytes, final int maxRecordsPerBatch)
    {
        final long segments = Math.min(maxRecordsPerBatch, BatchAssembler.MAX_SEGMENTS);
        return FIXED_OVERHEAD_BYTES + segments * SEGMENT_BYTES + maxRecordsPerBatch + maxBatchBytes;
    }

    /**
     * Offers the batch to the log.
     *
     * @param batch   closed by the assembler (segments, entry statuses, record count and length).
     * @param seq     the seq it is dispatched with.
     * @param records where its records lie.
     * @param offset  of the first record in {@code records}.
     * @return the log position after the batch; 0 when the log cannot take it now (back pressure or a term
     * rotation: offer the same batch again later).
     * @throws IllegalStateException when the log can never take it again (closed, or out of positions).
     */
    long append(final BatchSlot batch, final long seq, final DirectBuffer records, final int offset)
    {
        if (!flushNotes())
        {
            return 0; // a session of this batch may be among them: it must reach the log first
        }
        encoder.wrapAndApplyHeader(headerBuffer, 0, headerEncoder)
            .batchSeq(seq)
            .schemaHash(schemaHash)
            .recordCount(batch.recordCount);
        final LogBatchEncoder.SegmentsEncoder segments = encoder.segmentsCount(batch.segmentCount);
        for (int i = 0; i < batch.segmentCount; i++)
        {
            segments.next()
                .sessionId(batch.segmentSessionIds[i])
                .correlationId(batch.segmentCorrelationIds[i])
                .entryCount(batch.segmentEntryCount[i]);
        }
        encoder.putEntryStatus(batch.entryStatus, 0, batch.entryCount);
        // The records' length prefix ends the header; the records themselves are gathered from where they lie.
        final int recordsLengthOffset = encoder.limit();
        headerBuffer.putInt(recordsLengthOffset, batch.lengthBytes, ByteOrder.LITTLE_ENDIAN);
        final int headerLengthBytes = recordsLengthOffset + LogBatchEncoder.recordsHeaderLength();
        headerEncoder.frameLengthBytes(headerLengthBytes + batch.lengthBytes);
        headerVector.reset(headerBuffer, 0, headerLengthBytes);
        recordsVector.reset(records, offset, batch.lengthBytes);

        final long result = publication.offer(vectors);
        return switch (OfferOutcome.of(result))
        {
            case SENT -> result;
            case RETRY, NOT_CONNECTED -> 0; // the archive's image not there yet counts as back pressure
            case GONE -> throw new IllegalStateException("the log publication cannot take batch " + seq + ": " +
                OfferOutcome.describe(result));
        };
    }

    /**
     * Queues a session's opening for the log. Queued notes are offered, in order, before the next batch
     * (so a replay meets a session before any batch of it) and on every {@link #flushNotes()}.
     *
     * @return false when the queue has no room now (flush, and try again).
     */
    boolean queueSession(final long sessionId, final long clientId)
    {
        sessionEncoder.wrapAndApplyHeader(noteBuffer, 0, headerEncoder).sessionId(sessionId).clientId(clientId);
        final int lengthBytes = MessageHeaderEncoder.ENCODED_LENGTH + sessionEncoder.encodedLength();
        headerEncoder.frameLengthBytes(lengthBytes);
        return notes.append(noteBuffer, 0, lengthBytes);
    }

    /**
     * Queues an answer the conductor gave without the store (a refusal, or a batch none of whose records
     * reached it), so that a replay's ack ledger holds it.
     *
     * @return false when the queue has no room now (flush, and try again).
     */
    boolean queueAnswer(final long sessionId, final long correlationId, final DirectBuffer ack, final int ackLengthBytes)
    {
        answerEncoder.wrapAndApplyHeader(noteBuffer, 0, headerEncoder).sessionId(sessionId).correlationId(correlationId)
            .putAck(ack, 0, ackLengthBytes);
        final int lengthBytes = MessageHeaderEncoder.ENCODED_LENGTH + answerEncoder.encodedLength();
        headerEncoder.frameLengthBytes(lengthBytes);
        return notes.append(noteBuffer, 0, lengthBytes);
    }

    /**
     * @return true when the queue can surely take a note whose ack is this long (or a session opening, for 0):
     * twice its bytes are free, room for the padding to the ring's end.
     */
    boolean hasNoteRoom(final long ackLengthBytes)
    {
        return notes.maxCapacity() - notes.size() >= 2 * (NOTE_SLACK_BYTES + ackLengthBytes);
    }

    /**
     * Offers the queued notes to the log, oldest first, until the log pushes back.
     *
     * @return true when none is left queued.
     * @throws IllegalStateException when the log can never take one again.
     */
    boolean flushNotes()
    {
        if (!notes.isEmpty())
        {
            notes.consume(noteOfferer, Integer.MAX_VALUE);
        }
        return notes.isEmpty();
    }

    private boolean offerNote(final MutableDirectBuffer buffer, final int offset, final int lengthBytes, final int headOffset)
    {
        final long result = publication.offer(buffer, offset, lengthBytes);
        return switch (OfferOutcome.of(result))
        {
            case SENT -> true;
            case RETRY, NOT_CONNECTED -> false;
            case GONE -> throw new IllegalStateException("the log publication cannot take a session note: " +
                OfferOutcome.describe(result));
        };
    }

    /**
     * @return how far the archive has recorded the log (written to the OS, or synced with sync=data).
     */
    long recordedPosition()
    {
        return counters.getCounterValue(recordingCounterId);
    }

    /**
     * @return false once the archive no longer records the log (its recording stopped, or its counter is
     * another's now).
     */
    boolean isRecording()
    {
        return RecordingPos.isActive(counters, recordingCounterId, recordingId);
    }

    /**
     * @return the log's position: the end of the last batch offered.
     */
    long position()
    {
        return publication.position();
    }

    long recordingId()
    {
        return recordingId;
    }
}
