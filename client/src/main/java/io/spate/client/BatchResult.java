package io.spate.client;

import io.spate.wire.RecordStatus;

import java.util.Arrays;

/**
 * What the pipeline did with one client batch: the batch status and, per record (0-based, in the
 * order written), its status and the id a Create took. Made for futures; the allocation-free
 * path is {@link SpateClient.AckListener}.
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
     * @return OK when every record applied; otherwise the batch-wide refusal or the first record error.
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
     * @return the record's status.
     */
    public RecordStatus status(final int recordIndex)
    {
        return statuses[recordIndex];
    }

    /**
     * @param recordIndex 0-based index of a Create.
     * @return the id it took, or 0 when the record is not an applied Create.
     */
    public long createdId(final int recordIndex)
    {
        return createdIds[recordIndex];
    }

    public String toString()
    {
        return "BatchResult{correlationId=" + correlationId + ", status=" + status + ", records=" + statuses.length +
            ", statuses=" + Arrays.toString(statuses) + "}";
    }
}
