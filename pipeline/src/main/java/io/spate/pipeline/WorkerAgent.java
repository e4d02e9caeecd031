package io.spate.pipeline;

import io.aeron.ControlledFragmentAssembler;
import io.aeron.ExclusivePublication;
import io.aeron.Subscription;
import io.aeron.logbuffer.ControlledFragmentHandler;
import io.aeron.logbuffer.Header;
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
 */
public final class WorkerAgent implements Agent, ControlledFragmentHandler
{
    private final int workerIndex;
    private final Subscription dispatchSubscription;
    private final ExclusivePublication appliedPublication;
    private final NativeStore store;
    private final long modifyBufferAddress;
    private final int modifyBufferCapacityBytes;
    private final long positionCounterAddress;
    private final AtomicCounter doneCounter;
    private final AtomicCounter recordsApplied;
    private final AtomicCounter errors;
    private final AtomicCounter[] doneCounters;
    private final ApplyResults results;
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final DispatchDecoder dispatchDecoder = new DispatchDecoder();
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final BatchAppliedEncoder appliedEncoder = new BatchAppliedEncoder();
    private final UnsafeBuffer reportBuffer;
    private final ControlledFragmentAssembler assembler = new ControlledFragmentAssembler(this);
    private final OffHeapBuffer copyModeScratch;
    private int pendingReportLengthBytes;
    private long pendingDoneSeq;

    /**
     * @param workerIndex               this worker's index.
     * @param dispatchSubscription      its dispatch stream.
     * @param appliedPublication        where it reports applied batches.
     * @param store                     the native store.
     * @param modifyBuffer              the shared modify buffer (off-heap).
     * @param positionCounterAddress    address of its position counter's value (native code advances it).
     * @param doneCounters              every worker's done counter (its own at workerIndex).
     * @param recordsApplied            counter of records applied.
     * @param errors                    counter of records that failed.
     * @param maxRecordsPerBatch        most records a dispatched batch holds.
     * @param maxBatchBytes             most bytes a dispatched batch holds.
     */
    public WorkerAgent(
        final int workerIndex,
        final Subscription dispatchSubscription,
        final ExclusivePublication appliedPublication,
        final NativeStore store,
        final AtomicBuffer modifyBuffer,
        final long positionCounterAddress,
        final AtomicCounter[] doneCounters,
        final AtomicCounter recordsApplied,
        final AtomicCounter errors,
        final int maxRecordsPerBatch,
        final int maxBatchBytes)
    {
        this.workerIndex = workerIndex;
        this.dispatchSubscription = dispatchSubscription;
        this.appliedPublication = appliedPublication;
        this.store = store;
        this.modifyBufferAddress = modifyBuffer.addressOffset();
        this.modifyBufferCapacityBytes = modifyBuffer.capacity();
        this.positionCounterAddress = positionCounterAddress;
        this.doneCounters = doneCounters;
        this.doneCounter = doneCounters[workerIndex];
        this.recordsApplied = recordsApplied;
        this.errors = errors;
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
        if (pendingReportLengthBytes > 0)
        {
            return sendPendingReport() ? 1 : 0;
        }
        return dispatchSubscription.controlledPoll(assembler, 1);
    }

    public Action onFragment(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        headerDecoder.wrap(buffer, offset);
        if (headerDecoder.templateId() != DispatchDecoder.TEMPLATE_ID)
        {
            throw new IllegalStateException("worker " + workerIndex + " got template " + headerDecoder.templateId());
        }
        dispatchDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
        for (final DispatchDecoder.BarriersDecoder barrier : dispatchDecoder.barriers())
        {
            if (doneCounters[barrier.worker()].get() < barrier.seq())
            {
                // Another worker still holds one of this batch's types: try again next duty cycle.
                return Action.ABORT;
            }
        }
        final long batchSeq = dispatchDecoder.batchSeq();
        final long lengthBytes = dispatchDecoder.lengthBytes();
        final long offsetBytes = dispatchDecoder.offsetBytes();
        final int recordCount = (int)dispatchDecoder.recordCount();
        final int payloadLength = dispatchDecoder.payloadLength();
        final long address;
        if (payloadLength > 0)
        {
            if (payloadLength != lengthBytes || payloadLength > copyModeScratch.capacityBytes())
            {
                throw new IllegalStateException("copy-mode payload of " + payloadLength + " bytes, batch says " + lengthBytes);
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
                throw new IllegalStateException("batch " + batchSeq + " [" + offsetBytes + ", +" + lengthBytes +
                    ") is outside the modify buffer");
            }
            address = modifyBufferAddress + offsetBytes;
        }
        apply(batchSeq, address, lengthBytes, recordCount);
        return Action.CONTINUE;
    }

    private static boolean isDirect(final DirectBuffer buffer)
    {
        return null == buffer.byteArray() && (null == buffer.byteBuffer() || buffer.byteBuffer().isDirect());
    }

    private void apply(final long batchSeq, final long address, final long lengthBytes, final int recordCount)
    {
        final long applyStartNs = System.nanoTime();
        final int walked = store.apply(address, lengthBytes, positionCounterAddress, results);
        final long applyEndNs = System.nanoTime();
        // The conductor validated every record, so the store walks them all. Should it not, the
        // records it did not reach are reported MALFORMED rather than thrown about: an exception
        // here would leave the dispatch in the log and apply the batch a second time.
        final int unwalked = Math.max(0, recordCount - walked);
        appliedEncoder.wrapAndApplyHeader(reportBuffer, 0, headerEncoder)
            .batchSeq(batchSeq)
            .recordCount(recordCount)
            .worker(workerIndex)
            .applyStartNs(applyStartNs)
            .applyEndNs(applyEndNs);
        final int reported = Math.min(walked, recordCount);
        int failureCount = unwalked;
        for (int i = 0; i < reported; i++)
        {
            if (results.status(i) != RecordStatus.OK.value())
            {
                failureCount++;
            }
        }
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
            failures.next().recordIndex(i).status(RecordStatus.MALFORMED);
        }
        pendingReportLengthBytes = MessageHeaderEncoder.ENCODED_LENGTH + appliedEncoder.encodedLength();
        headerEncoder.frameLengthBytes(pendingReportLengthBytes);
        pendingDoneSeq = batchSeq;
        recordsApplied.getAndAddRelease(recordCount - failureCount);
        errors.getAndAddRelease(failureCount);
        sendPendingReport();
    }

    public void onClose()
    {
        copyModeScratch.close();
        results.close();
    }

    private boolean sendPendingReport()
    {
        final long result = appliedPublication.offer(reportBuffer, 0, pendingReportLengthBytes);
        if (result > 0)
        {
            pendingReportLengthBytes = 0;
            doneCounter.setRelease(pendingDoneSeq);
            return true;
        }
        if (result == io.aeron.Publication.CLOSED || result == io.aeron.Publication.MAX_POSITION_EXCEEDED)
        {
            throw new IllegalStateException("applied publication unusable: " + result);
        }
        return false;
    }

}
