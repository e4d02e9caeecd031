package io.spate.pipeline;

import io.aeron.ControlledFragmentAssembler;
import io.aeron.ExclusivePublication;
import io.aeron.Subscription;
import io.aeron.logbuffer.ControlledFragmentHandler;
import io.aeron.logbuffer.Header;
import io.spate.codec.WireBounds;
import io.spate.store.ApplyResults;
import io.spate.store.NativeStore;
import io.spate.store.OffHeapBuffer;
import io.spate.wire.BatchAppliedEncoder;
import io.spate.wire.DispatchDecoder;
import io.spate.wire.MessageHeaderDecoder;
import io.spate.wire.MessageHeaderEncoder;
import io.spate.wire.RecordStatus;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;

/**
 * Applies the batches the conductor dispatches to it, in the order it receives them: waits on
 * the barriers a batch carries (other workers' done counters), calls the native store with the
 * address of its position counter so progress is visible while the batch runs, reports the
 * records that failed, then publishes its done counter. One per {@link org.agrona.concurrent.AgentRunner}.
 * <p>
 * In memory, every dispatch taken from the stream is reported, whatever happens: if applying throws (a
 * fault in the worker or the binding) or the store's walk stops early, the records the store did not reach
 * are reported {@code NOT_APPLIED} and the batch completes, so nothing waits for it forever (its Creates'
 * ids come back at their next generation when the batch is acked, see {@link IdAllocator#freeGivenUp}).
 * <p>
 * Durable ({@code failStop}), the same fault stops the pipeline instead: the batch is already in the log,
 * whole, and a restart's replay applies it whole, so an ack of what this worker did (or did not) would tell
 * the producer something the restarted store contradicts, and the ids it would free are the log's. The
 * worker reports nothing, moves neither its position nor its done counter (the batch is never acked) and
 * throws a {@link PipelineErrors.Fatal} naming the batch.
 * <p>
 * Only the pipeline's own dispatch publication is read (its session id); a dispatch that does not decode
 * is a broken invariant and stops the pipeline.
 */
public final class WorkerAgent implements Agent, ControlledFragmentHandler
{
    private final int workerIndex;
    private final Subscription dispatchSubscription;
    private final int dispatchSessionId;
    private final ExclusivePublication appliedPublication;
    private final NativeStore store;
    private final long modifyBufferAddress;
    private final int modifyBufferCapacityBytes;
    private final long positionCounterAddress;
    private final AtomicCounter positionCounter;
    private final AtomicCounter doneCounter;
    private final AtomicCounter recordsApplied;
    private final AtomicCounter errorsCounter;
    private final AtomicCounter reportRetries;
    private final AtomicCounter[] doneCounters;
    private final PipelineErrors errors;
    private final FaultInjector faults;
    private final ApplyResults results;
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final DispatchDecoder dispatchDecoder = new DispatchDecoder();
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final BatchAppliedEncoder appliedEncoder = new BatchAppliedEncoder();
    private final UnsafeBuffer reportBuffer;
    private final ControlledFragmentAssembler assembler = new ControlledFragmentAssembler(this);
    private final OffHeapBuffer copyModeScratch;
    private final int maxRecordsPerBatch;
    private final boolean failStop;
    private long appliedBytes;
    private int pendingReportLengthBytes;
    private long pendingDoneSeq;
    private PipelineErrors.Fatal fatal;

    /**
     * @param workerIndex            this worker's index.
     * @param dispatchSubscription   its dispatch stream.
     * @param dispatchSessionId      session id of the conductor's dispatch publication to it.
     * @param appliedPublication     where it reports applied batches.
     * @param store                  the native store.
     * @param modifyBuffer           the shared modify buffer (off-heap).
     * @param positionCounterAddress address of its position counter's value (native code advances it).
     * @param counters               the pipeline's counters (its own, and every worker's done counter).
     * @param errors                 where failures go.
     * @param faults                 fault-injection hooks ({@link FaultInjector#NONE} in production).
     * @param maxRecordsPerBatch     most records a dispatched batch holds.
     * @param maxBatchBytes          most bytes a dispatched batch holds.
     * @param failStop               a batch the store did not apply whole stops the pipeline (durable pipelines),
     *                               rather than being acked with its unapplied records NOT_APPLIED (in memory).
     */
    public WorkerAgent(
        final int workerIndex,
        final Subscription dispatchSubscription,
        final int dispatchSessionId,
        final ExclusivePublication appliedPublication,
        final NativeStore store,
        final AtomicBuffer modifyBuffer,
        final long positionCounterAddress,
        final PipelineCounters counters,
        final PipelineErrors errors,
        final FaultInjector faults,
        final int maxRecordsPerBatch,
        final int maxBatchBytes,
        final boolean failStop)
    {
        this.workerIndex = workerIndex;
        this.failStop = failStop;
        this.dispatchSubscription = dispatchSubscription;
        this.dispatchSessionId = dispatchSessionId;
        this.appliedPublication = appliedPublication;
        this.store = store;
        this.modifyBufferAddress = modifyBuffer.addressOffset();
        this.modifyBufferCapacityBytes = modifyBuffer.capacity();
        this.positionCounterAddress = positionCounterAddress;
        this.errors = errors;
        this.faults = faults;
        this.maxRecordsPerBatch = maxRecordsPerBatch;
        final PipelineCounters.WorkerCounters own = counters.worker(workerIndex);
        this.positionCounter = own.position();
        this.doneCounter = own.doneBatch();
        this.recordsApplied = own.recordsApplied();
        this.errorsCounter = own.errors();
        this.reportRetries = own.reportRetries();
        this.doneCounters = new AtomicCounter[counters.workerCount()];
        for (int i = 0; i < doneCounters.length; i++)
        {
            doneCounters[i] = counters.worker(i).doneBatch();
        }
        // Every message of a batch may fail: the report is sized for that.
        this.results = new ApplyResults(maxRecordsPerBatch + 1);
        this.copyModeScratch = new OffHeapBuffer(maxBatchBytes);
        this.reportBuffer = new UnsafeBuffer(new byte[MessageHeaderEncoder.ENCODED_LENGTH +
            BatchAppliedEncoder.BLOCK_LENGTH + 4 + (maxRecordsPerBatch + 1) * BatchAppliedEncoder.FailuresEncoder.sbeBlockLength()]);
    }

    public String roleName()
    {
        return "spate-worker-" + workerIndex;
    }

    public int doWork()
    {
        if (dispatchSubscription.isClosed())
        {
            // The Aeron client closed itself (driver timeout): its CnC file is about to be unmapped.
            throw new PipelineErrors.ClientClosed(roleName());
        }
        if (pendingReportLengthBytes > 0)
        {
            return sendPendingReport() ? 1 : 0;
        }
        final int work = dispatchSubscription.controlledPoll(assembler, 1);
        if (null != fatal)
        {
            throw fatal;
        }
        return work;
    }

    public Action onFragment(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        try
        {
            return onDispatch(buffer, offset, length, header);
        }
        catch (final PipelineErrors.Fatal ex)
        {
            fatal = ex;
            return Action.ABORT;
        }
        catch (final Throwable ex)
        {
            fatal = errors.fatal("worker " + workerIndex + " could not take a dispatch", ex);
            return Action.ABORT;
        }
    }

    private Action onDispatch(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        if (header.sessionId() != dispatchSessionId)
        {
            // The subscription names the session, so this cannot happen; should it, the stranger is ignored.
            return Action.CONTINUE;
        }
        final int check = WireBounds.checkDispatch(buffer, offset, length);
        if (check != WireBounds.OK)
        {
            throw errors.fatal("worker " + workerIndex + " got a malformed dispatch: " + WireBounds.reason(check), null);
        }
        headerDecoder.wrap(buffer, offset);
        dispatchDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
        for (final DispatchDecoder.BarriersDecoder barrier : dispatchDecoder.barriers())
        {
            final int barrierWorker = barrier.worker();
            if (barrierWorker >= doneCounters.length)
            {
                throw errors.fatal("dispatch names worker " + barrierWorker + " of " + doneCounters.length, null);
            }
            if (doneCounters[barrierWorker].getAcquire() < barrier.seq())
            {
                // Another worker still holds one of this batch's types: try again next duty cycle.
                return Action.ABORT;
            }
        }
        final long batchSeq = dispatchDecoder.batchSeq();
        final long lengthBytes = dispatchDecoder.lengthBytes();
        final long offsetBytes = dispatchDecoder.offsetBytes();
        final long recordCount = dispatchDecoder.recordCount();
        final int payloadLength = dispatchDecoder.payloadLength();
        if (recordCount < 1 || recordCount > maxRecordsPerBatch)
        {
            throw errors.fatal("batch " + batchSeq + " has " + recordCount + " records", null);
        }
        final long address;
        if (payloadLength > 0)
        {
            if (payloadLength != lengthBytes || payloadLength > copyModeScratch.capacityBytes())
            {
                throw errors.fatal("copy-mode payload of " + payloadLength + " bytes, batch says " + lengthBytes, null);
            }
            final int payloadOffset = dispatchDecoder.limit() + DispatchDecoder.payloadHeaderLength();
            if (isDirect(buffer))
            {
                // Copy mode in one fragment: apply the records where they lie in the log buffer.
                address = buffer.addressOffset() + payloadOffset;
            }
            else
            {
                // Reassembled from fragments into a heap buffer: native code needs off-heap bytes.
                copyModeScratch.buffer().putBytes(0, buffer, payloadOffset, payloadLength);
                address = copyModeScratch.address();
            }
        }
        else
        {
            if (offsetBytes + lengthBytes > modifyBufferCapacityBytes)
            {
                throw errors.fatal("batch " + batchSeq + " [" + offsetBytes + ", +" + lengthBytes +
                    ") is outside the modify buffer", null);
            }
            address = modifyBufferAddress + offsetBytes;
        }
        apply(batchSeq, address, lengthBytes, (int)recordCount);
        return Action.CONTINUE;
    }

    /**
     * @return true when the buffer's bytes are off-heap at {@code addressOffset()} (a log buffer), so native
     * code can read them where they lie; false for a heap buffer (Aeron reassembles fragments on the heap).
     */
    static boolean isDirect(final DirectBuffer buffer)
    {
        return null == buffer.byteArray() && (null == buffer.byteBuffer() || buffer.byteBuffer().isDirect());
    }

    private void apply(final long batchSeq, final long address, final long lengthBytes, final int recordCount)
    {
        final long applyStartNs = System.nanoTime();
        int walked = 0;
        Throwable failure = null;
        try
        {
            faults.beforeApply(workerIndex, batchSeq);
            final long applyLengthBytes = Math.min(lengthBytes, faults.applyLengthBytes(workerIndex, batchSeq, lengthBytes));
            walked = store.apply(address, applyLengthBytes, positionCounterAddress, results);
        }
        catch (final Throwable ex)
        {
            failure = ex;
        }
        if (failStop && (null != failure || walked != recordCount))
        {
            // Durable: the log holds the batch whole and a restart applies it whole. Stop, unacked, rather than
            // ack a state the restarted store would not have.
            throw errors.fatal("worker " + workerIndex + " did not apply batch " + batchSeq + " whole (" +
                (null != failure ? oneLine(failure) : "the store walked " + walked + " of its " + recordCount + " records") +
                "): it is in the log, not acknowledged; restart the pipeline to apply it from the log", failure);
        }
        if (null != failure)
        {
            // Counted and reported; the batch completes with what the store did (nothing, here).
            errors.onError(failure);
        }
        final long applyEndNs = System.nanoTime();
        // Bytes the store did not walk are done with too: the position says so, for reclaim and barriers.
        appliedBytes += lengthBytes;
        positionCounter.setRelease(appliedBytes);
        // The conductor validated every record, so the store walks them all. Should it not (a fault, a
        // store that stopped early), the records it did not reach are reported NOT_APPLIED rather than
        // thrown about: an exception here would lose the dispatch and stall everyone behind it.
        final int reported = Math.max(0, Math.min(walked, recordCount));
        int failureCount = recordCount - reported;
        for (int i = 0; i < reported; i++)
        {
            if (results.status(i) != RecordStatus.OK.value())
            {
                failureCount++;
            }
        }
        appliedEncoder.wrapAndApplyHeader(reportBuffer, 0, headerEncoder)
            .batchSeq(batchSeq)
            .recordCount(recordCount)
            .worker(workerIndex)
            .applyStartNs(applyStartNs)
            .applyEndNs(applyEndNs);
        final BatchAppliedEncoder.FailuresEncoder failures = appliedEncoder.failuresCount(failureCount);
        for (int i = 0; i < reported; i++)
        {
            final int status = results.status(i);
            if (status != RecordStatus.OK.value())
            {
                failures.next().recordIndex(i).status(RecordStatus.get((short)status));
            }
        }
        for (int i = reported; i < recordCount; i++)
        {
            failures.next().recordIndex(i).status(RecordStatus.NOT_APPLIED);
        }
        pendingReportLengthBytes = MessageHeaderEncoder.ENCODED_LENGTH + appliedEncoder.encodedLength();
        headerEncoder.frameLengthBytes(pendingReportLengthBytes);
        pendingDoneSeq = batchSeq;
        recordsApplied.getAndAddRelease(recordCount - failureCount);
        errorsCounter.getAndAddRelease(failureCount);
        sendPendingReport();
    }

    private static String oneLine(final Throwable failure)
    {
        return (failure.getClass().getSimpleName() + ": " + failure.getMessage()).replace('\n', ' ').replace('\r', ' ');
    }

    public void onClose()
    {
        copyModeScratch.close();
        results.close();
    }

    /**
     * The one place the applied stream is offered to. The done counter moves only once the report is
     * out, so a batch waiting on a barrier never starts before the conductor can ack the one before.
     */
    private boolean sendPendingReport()
    {
        final long result = appliedPublication.offer(reportBuffer, 0, pendingReportLengthBytes);
        switch (OfferOutcome.of(result))
        {
            case SENT ->
            {
                pendingReportLengthBytes = 0;
                doneCounter.setRelease(pendingDoneSeq);
                return true;
            }
            case RETRY, NOT_CONNECTED ->
            {
                reportRetries.incrementRelease();
                return false;
            }
            default -> throw errors.fatal("worker " + workerIndex + " cannot report batch " + pendingDoneSeq + ": " +
                OfferOutcome.describe(result), null);
        }
    }
}
