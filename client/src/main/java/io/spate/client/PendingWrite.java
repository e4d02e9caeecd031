package io.spate.client;

import io.spate.wire.AckDecoder;
import io.spate.wire.RecordStatus;
import org.agrona.collections.Long2LongHashMap;

import java.util.Arrays;
import java.util.concurrent.CompletableFuture;

/**
 * The outcomes of the records a {@link SpateClient} wrote between two {@code flushAsync()} calls, however
 * many batches they took: per record (in the order written) its status and, for a Create, its id. Every batch
 * gets exactly one outcome: its ack, or a failure when it can never be answered (its records then have no
 * outcome, {@link RecordStatus#NULL_VAL}, and the future fails with the reason and the partial result). Its
 * arrays grow to the largest write and are reused while only a listener reads the outcomes.
 */
final class PendingWrite
{
    private static final long NO_OFFSET = -1;

    private final Long2LongHashMap recordOffsetByCorrelation = new Long2LongHashMap(NO_OFFSET);
    private long[] ids = new long[64];
    private byte[] statuses = new byte[64];
    private int recordCount;
    int batchCount;
    int outstanding;
    private long lastCorrelationId;
    private RecordStatus firstFailure = RecordStatus.OK;
    private int unansweredRecords;
    private String failureReason;
    CompletableFuture<BatchResult> future;
    long deadlineNs;

    void addBatch(final long correlationId, final int batchRecordCount)
    {
        if (recordCount + batchRecordCount > ids.length)
        {
            final int capacity = Math.max(ids.length * 2, recordCount + batchRecordCount);
            ids = Arrays.copyOf(ids, capacity);
            statuses = Arrays.copyOf(statuses, capacity);
        }
        recordOffsetByCorrelation.put(correlationId, recordCount);
        Arrays.fill(ids, recordCount, recordCount + batchRecordCount, 0);
        Arrays.fill(statuses, recordCount, recordCount + batchRecordCount, (byte)RecordStatus.OK.value());
        recordCount += batchRecordCount;
        batchCount++;
        outstanding++;
        lastCorrelationId = correlationId;
    }

    /**
     * Takes one batch's ack.
     */
    void onAck(final AckDecoder ack)
    {
        final long offset = recordOffsetByCorrelation.remove(ack.correlationId());
        if (offset == NO_OFFSET)
        {
            return;
        }
        outstanding--;
        final int first = (int)offset;
        final int batchRecords = (int)Math.min(ack.recordCount(), recordCount - first);
        final RecordStatus status = ack.status();
        for (final AckDecoder.CreatedIdsDecoder created : ack.createdIds())
        {
            if (created.recordIndex() < batchRecords)
            {
                ids[first + (int)created.recordIndex()] = created.nodeId();
            }
        }
        int errorCount = 0;
        for (final AckDecoder.ErrorsDecoder error : ack.errors())
        {
            errorCount++;
            if (error.recordIndex() < batchRecords)
            {
                statuses[first + (int)error.recordIndex()] = (byte)error.statusRaw();
            }
        }
        if (status != RecordStatus.OK && errorCount == 0)
        {
            // A batch-wide refusal: no record of it applied.
            Arrays.fill(statuses, first, first + batchRecords, (byte)status.value());
        }
        if (status != RecordStatus.OK && firstFailure == RecordStatus.OK)
        {
            firstFailure = status;
        }
    }

    /**
     * One batch will never be answered: its records have no outcome, the write fails with the first such reason.
     *
     * @param correlationId    the batch's.
     * @param batchRecordCount its records.
     * @param reason           why it gets no answer.
     */
    void onBatchFailed(final long correlationId, final int batchRecordCount, final String reason)
    {
        final long offset = recordOffsetByCorrelation.remove(correlationId);
        if (offset == NO_OFFSET)
        {
            return;
        }
        outstanding--;
        final int first = (int)offset;
        final int batchRecords = Math.max(0, Math.min(batchRecordCount, recordCount - first));
        Arrays.fill(statuses, first, first + batchRecords, (byte)RecordStatus.NULL_VAL.value());
        unansweredRecords += batchRecords;
        if (null == failureReason)
        {
            failureReason = reason;
        }
    }

    /**
     * Completes the future once every batch has its outcome: with the result when every batch was answered, else
     * exceptionally with the reason and the partial result.
     *
     * @return true when it completed now.
     */
    boolean completeIfAcked()
    {
        if (null == future || outstanding > 0 || future.isDone())
        {
            return false;
        }
        final RecordStatus[] recordStatuses = new RecordStatus[recordCount];
        for (int i = 0; i < recordCount; i++)
        {
            recordStatuses[i] = RecordStatus.get((short)(statuses[i] & 0xFF));
        }
        final BatchResult result =
            new BatchResult(lastCorrelationId, firstFailure, Arrays.copyOf(ids, recordCount), recordStatuses);
        if (null == failureReason)
        {
            future.complete(result);
        }
        else
        {
            future.completeExceptionally(new SpateClientException(unansweredRecords == recordCount ? failureReason :
                failureReason + "; " + unansweredRecords + " of " + recordCount + " record(s) of this write got no " +
                "answer (the others' outcomes: partialResult())", result));
        }
        return true;
    }

    int recordCount()
    {
        return recordCount;
    }
}
