package io.spate.pipeline;

import io.aeron.ExclusivePublication;
import io.spate.wire.DispatchEncoder;
import io.spate.wire.MessageHeaderEncoder;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Hands batches to workers: encodes a {@code Dispatch} and offers it on the worker's stream, the one
 * place dispatch streams are offered to. A state machine of two states:
 * <pre>
 *   IDLE --dispatch()--> PENDING --offer SENT--> IDLE
 *                          |  ^
 *                          +--+ BACK_PRESSURED / ADMIN_ACTION / NOT_CONNECTED: offered again next cycle
 * </pre>
 * A dispatch is only accepted while IDLE, so a pending dispatch can never be overwritten by the next;
 * the conductor keeps assembling meanwhile but closes no batch until the dispatcher is idle again.
 * CLOSED or MAX_POSITION_EXCEEDED means the pipeline cannot go on: fatal.
 */
final class Dispatcher
{
    private static final UnsafeBuffer NO_PAYLOAD = new UnsafeBuffer(new byte[0]);

    private final ExclusivePublication[] publications;
    private final PipelineCounters counters;
    private final PipelineErrors errors;
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final DispatchEncoder encoder = new DispatchEncoder();
    private final UnsafeBuffer buffer;
    private final int maxPayloadBytes;
    private boolean pending;
    private int pendingWorker = -1;
    private long pendingSeq;
    private int pendingLengthBytes;

    Dispatcher(
        final ExclusivePublication[] publications,
        final int workerCount,
        final int maxBatchBytes,
        final PipelineCounters counters,
        final PipelineErrors errors)
    {
        this.publications = publications;
        this.counters = counters;
        this.errors = errors;
        final int overheadBytes = overheadBytes(workerCount);
        this.buffer = new UnsafeBuffer(new byte[overheadBytes + maxBatchBytes]);
        int maxMessageBytes = Integer.MAX_VALUE;
        for (final ExclusivePublication publication : publications)
        {
            maxMessageBytes = Math.min(maxMessageBytes, publication.maxMessageLength());
        }
        this.maxPayloadBytes = Math.min(maxBatchBytes, maxMessageBytes - overheadBytes);
        if (maxPayloadBytes < 1024)
        {
            throw new IllegalStateException("dispatch streams carry messages of at most " + maxMessageBytes +
                " bytes: too small for copy mode (raise the IPC term length)");
        }
    }

    /**
     * @return bytes of a Dispatch besides its payload, with a barrier per worker.
     */
    static int overheadBytes(final int workerCount)
    {
        return MessageHeaderEncoder.ENCODED_LENGTH + DispatchEncoder.BLOCK_LENGTH +
            4 + workerCount * DispatchEncoder.BarriersEncoder.sbeBlockLength() + 4;
    }

    /**
     * @return the largest copy-mode payload a dispatch message can carry on these streams.
     */
    int maxCopyModePayloadBytes()
    {
        return maxPayloadBytes;
    }

    boolean isIdle()
    {
        return !pending;
    }

    /**
     * Encodes the batch's dispatch and offers it; it stays pending until a later {@link #doWork()} if
     * the stream cannot take it now.
     *
     * @param batch        assigned (seq, worker) and placed (region, or copy mode).
     * @param barriers     done counters the worker waits on first.
     * @param payload      the records in copy mode, else null.
     */
    void dispatch(final BatchSlot batch, final Scheduler.Barriers barriers, final DirectBuffer payload)
    {
        if (pending)
        {
            throw new IllegalStateException("dispatch of batch " + batch.seq + " while batch " + pendingSeq +
                " is pending");
        }
        if (null != payload && batch.lengthBytes > maxPayloadBytes)
        {
            throw new IllegalStateException("copy-mode batch of " + batch.lengthBytes + " bytes, streams carry " +
                maxPayloadBytes);
        }
        encoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
            .batchSeq(batch.seq)
            .offsetBytes(null != payload ? 0 : batch.offsetBytes)
            .lengthBytes(batch.lengthBytes)
            .recordCount(batch.recordCount)
            .dispatchTimeNs(batch.dispatchNs);
        final DispatchEncoder.BarriersEncoder barriersEncoder = encoder.barriersCount(barriers.count());
        for (int i = 0; i < barriers.count(); i++)
        {
            barriersEncoder.next().seq(barriers.seq(i)).worker(barriers.worker(i));
        }
        if (null != payload)
        {
            encoder.putPayload(payload, 0, batch.lengthBytes);
        }
        else
        {
            encoder.putPayload(NO_PAYLOAD, 0, 0);
        }
        pendingLengthBytes = MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
        headerEncoder.frameLengthBytes(pendingLengthBytes);
        pendingWorker = batch.worker;
        pendingSeq = batch.seq;
        pending = true;
        offer();
    }

    /**
     * @return 1 when a pending dispatch left.
     */
    int doWork()
    {
        return pending && offer() ? 1 : 0;
    }

    private boolean offer()
    {
        final long result = publications[pendingWorker].offer(buffer, 0, pendingLengthBytes);
        switch (OfferOutcome.of(result))
        {
            case SENT ->
            {
                pending = false;
                counters.worker(pendingWorker).assignedBatch().setRelease(pendingSeq);
                pendingWorker = -1;
                return true;
            }
            case RETRY, NOT_CONNECTED ->
            {
                // Term rotation, back pressure, or the worker's image not there yet: the same bytes go again.
                counters.dispatchRetries().incrementRelease();
                return false;
            }
            default -> throw errors.fatal("dispatch stream of worker " + pendingWorker + " cannot send batch " +
                pendingSeq + ": " + OfferOutcome.describe(result), null);
        }
    }
}
