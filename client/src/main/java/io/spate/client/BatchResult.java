package io.spate.client;

import io.spate.wire.RecordStatus;

import java.util.Arrays;

/**
 * What the pipeline did with one client batch: the batch status and, per record (0-based, in the
 * order written), its status and the id a Create took. Made for futures; the allocation-free
 * path is {@link SpateClient.AckListener}.
 * <p>
 * Two kinds of record have no known outcome:
 * <ul>
 * <li>{@link RecordStatus#ALREADY_APPLIED}: the record's batch was sent again (after a leader change, or when a
 * session was resumed after a pipeline restart) and the server had applied it before, but its original ack had
 * left the server's ack ledger. It was applied exactly once; what each record did and which ids its Creates took
 * is not known ({@link #createdId(int)} is 0).</li>
 * <li>No answer ({@link #isAnswered(int)} false, status {@link RecordStatus#NULL_VAL}): only in a {@link
 * SpateClientException#partialResult()}, for records whose batch will never be answered (the exception says
 * why); they may or may not have been applied.</li>
 * </ul>
 */
public final class BatchResult
{
    private final long correlationId;
    private final RecordStatus status;
    private final long[] createdIds;
    private final RecordStatus[] statuses;

    BatchResult(final long correlationId, final RecordStatus status, final long[] createdIds, final RecordStatus[] statuses)
    {
        this.correlationId = correlationId;
        this.status = status;
        this.createdIds = createdIds;
        this.statuses = statuses;
    }

    public long correlationId()
    {
        return correlationId;
    }

    /**
     * @return OK when every record applied; otherwise the batch-wide refusal or the first record error
     * ({@link RecordStatus#ALREADY_APPLIED} when the first batch that is not OK was answered that way).
     */
    public RecordStatus status()
    {
        return status;
    }

    public boolean isOk()
    {
        return status == RecordStatus.OK;
    }

    public int recordCount()
    {
        return statuses.length;
    }

    /**
     * @param recordIndex 0-based, in the order the records were written.
     * @return the record's status; {@link RecordStatus#ALREADY_APPLIED} when its outcome is not known any more,
     * {@link RecordStatus#NULL_VAL} when its batch got no answer (in a partial result only).
     */
    public RecordStatus status(final int recordIndex)
    {
        return statuses[recordIndex];
    }

    /**
     * @param recordIndex 0-based index of a Create.
     * @return the id it took, or 0 when the record is not an applied Create, or its outcome is not known.
     */
    public long createdId(final int recordIndex)
    {
        return createdIds[recordIndex];
    }

    /**
     * @param recordIndex 0-based, in the order the records were written.
     * @return false when the record's batch got no answer (only in {@link SpateClientException#partialResult()}).
     */
    public boolean isAnswered(final int recordIndex)
    {
        return statuses[recordIndex] != RecordStatus.NULL_VAL;
    }

    /**
     * @param recordIndex 0-based, in the order the records were written.
     * @return whether the record's status (and id, for a Create) is known: false when its batch got no answer, or
     * was answered {@link RecordStatus#ALREADY_APPLIED} (applied once, before; what it did is not known any more).
     */
    public boolean isOutcomeKnown(final int recordIndex)
    {
        final RecordStatus recordStatus = statuses[recordIndex];
        return recordStatus != RecordStatus.NULL_VAL && recordStatus != RecordStatus.ALREADY_APPLIED;
    }

    /**
     * @return how many records have no known outcome ({@link #isOutcomeKnown(int)} false).
     */
    public int unknownOutcomes()
    {
        int count = 0;
        for (int i = 0; i < statuses.length; i++)
        {
            count += isOutcomeKnown(i) ? 0 : 1;
        }
        return count;
    }

    public String toString()
    {
        final int unknown = unknownOutcomes();
        return "BatchResult{correlationId=" + correlationId + ", status=" + status + ", records=" + statuses.length +
            (unknown == 0 ? "" : ", unknownOutcomes=" + unknown + " (ALREADY_APPLIED: applied once, ids not known; " +
            "NULL_VAL: no answer)") + ", statuses=" + Arrays.toString(statuses) + "}";
    }
}
