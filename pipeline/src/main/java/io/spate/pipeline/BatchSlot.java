package io.spate.pipeline;

/**
 * One modify batch from assembly to ack, preallocated and reused: where its records lie, which
 * producer batches (segments) it carries, and per producer record its status and created id.
 * Entries cover every record of each producer batch, also those refused before the buffer;
 * buffered records map back to their entry so the worker's failures land on the right record.
 */
final class BatchSlot
{
    static final int COPY_MODE = -1;
    /** {@link #entryKind}: an Update, Increment, or a record refused before the buffer. */
    static final byte KIND_OTHER = 0;
    static final byte KIND_CREATE = 1;
    static final byte KIND_DELETE = 2;

    long seq;
    int worker;
    int regionId = COPY_MODE;
    int offsetBytes;
    int lengthBytes;
    long startPosition;
    long firstIngressNs;
    long dispatchNs;
    /** Where the batch ends in the durable log (0 when there is none): acked once the archive has recorded it. */
    long logEndPosition;
    /** The worker's report came: the store holds the batch; its ack waits for the log. */
    boolean applied;
    long applyStartNs;
    long applyEndNs;
    int recordCount;
    int typeCount;
    final int[] typeIds;
    final boolean[] typePresent;

    int segmentCount;
    final ClientSession[] segmentSessions;
    /** The sessions' ids: acks go to the session's connection at ack time (it may have been resumed since). */
    final long[] segmentSessionIds;
    final int[] segmentReservedBytes;
    final long[] segmentCorrelationIds;
    final int[] segmentFirstEntry;
    final int[] segmentEntryCount;

    int entryCount;
    final byte[] entryStatus;
    /** The id a Create was given (0: none) or an Update/Delete/Increment names. */
    final long[] entryNodeId;
    /** KIND_*: whether the record gives up an id when it fails (a Create) or is applied (a Delete). */
    final byte[] entryKind;
    final int[] entryTypeId;
    final int[] bufferIndexToEntry;

    BatchSlot(final int maxRecords, final int maxTypeId)
    {
        typeIds = new int[maxTypeId + 1];
        typePresent = new boolean[maxTypeId + 1];
        segmentSessions = new ClientSession[maxRecords];
        segmentSessionIds = new long[maxRecords];
        segmentReservedBytes = new int[maxRecords];
        segmentCorrelationIds = new long[maxRecords];
        segmentFirstEntry = new int[maxRecords];
        segmentEntryCount = new int[maxRecords];
        entryStatus = new byte[maxRecords];
        entryNodeId = new long[maxRecords];
        entryKind = new byte[maxRecords];
        entryTypeId = new int[maxRecords];
        bufferIndexToEntry = new int[maxRecords];
    }

    void addType(final int typeId)
    {
        if (!typePresent[typeId])
        {
            typePresent[typeId] = true;
            typeIds[typeCount++] = typeId;
        }
    }

    /**
     * Forgets the types added since the batch held {@code typeCount} of them (roll-back of a client batch).
     */
    void removeTypesFrom(final int typeCountMark)
    {
        for (int i = typeCountMark; i < typeCount; i++)
        {
            typePresent[typeIds[i]] = false;
        }
        typeCount = typeCountMark;
    }

    boolean isFree()
    {
        return seq == 0;
    }

    void reset()
    {
        for (int i = 0; i < typeCount; i++)
        {
            typePresent[typeIds[i]] = false;
        }
        seq = 0;
        worker = -1;
        regionId = COPY_MODE;
        offsetBytes = 0;
        lengthBytes = 0;
        startPosition = 0;
        logEndPosition = 0;
        applied = false;
        recordCount = 0;
        typeCount = 0;
        for (int i = 0; i < segmentCount; i++)
        {
            segmentSessions[i] = null;
        }
        segmentCount = 0;
        entryCount = 0;
    }
}
