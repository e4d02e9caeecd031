package io.spate.pipeline;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordFraming;
import io.spate.codec.RecordReader;
import io.spate.codec.TypeDefinition;
import io.spate.wire.CreateEncoder;
import io.spate.wire.DeleteEncoder;
import io.spate.wire.IncrementEncoder;
import io.spate.wire.RecordStatus;
import io.spate.wire.UpdateEncoder;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;

/**
 * Builds the next modify batch from client batches, one pass per client batch: each record is
 * validated ({@link RecordReader}), given its id (Creates: from the {@link IdAllocator}, a freed slot's
 * next generation or a never-used slot) or its createRef resolved, and copied into the batch's region of the modify buffer (or the
 * copy buffer in copy mode) as it is read. When a client batch turns out not to fit, or is malformed
 * half-way, or the walk throws, everything it did is rolled back (records, entries, types and ids),
 * so it can be retried into the next batch or refused whole.
 * <p>
 * The assembler is the one place ids are handed out (through its {@link IdAllocator}). The store takes
 * exactly the id a Create carries, so whatever fails between here and the store, the pipeline's ids and
 * the store's never drift apart; ids a batch gives up come back through {@link IdAllocator#freeGivenUp}.
 */
final class BatchAssembler
{
    /** {@link #append}: the client batch is in the batch. */
    static final int APPENDED = 0;
    /** {@link #append}: it does not fit what is left of the batch; nothing of it was kept. */
    static final int DOES_NOT_FIT = 1;
    /** {@link #append}: malformed (record count, framing, a batch header inside); nothing kept. */
    static final int MALFORMED = 2;
    /** Producer batches one batch may answer: the log's segments group counts them in 16 bits. */
    static final int MAX_SEGMENTS = 65_535;

    private final DatabaseSchema schema;
    private final RecordReader reader;
    private final UnsafeBuffer modifyBuffer;
    private final UnsafeBuffer copyBuffer;
    private final int maxRecordsPerBatch;
    private final FaultInjector faults;
    private final IdAllocator ids;
    private final long[] createIdByRecord;
    private final int[] createTypeByRecord;

    private BatchSlot batch;
    private boolean open;
    private boolean copyMode;
    private int capacityBytes;

    // Roll-back marks of the client batch being appended.
    private int markEntryCount;
    private int markLengthBytes;
    private int markRecordCount;
    private int markSegmentCount;
    private int markTypeCount;

    BatchAssembler(
        final DatabaseSchema schema,
        final UnsafeBuffer modifyBuffer,
        final int maxBatchBytes,
        final int maxRecordsPerBatch,
        final IdAllocator ids,
        final FaultInjector faults)
    {
        this.schema = schema;
        this.reader = new RecordReader(schema);
        this.modifyBuffer = modifyBuffer;
        this.copyBuffer = new UnsafeBuffer(new byte[maxBatchBytes]);
        this.maxRecordsPerBatch = maxRecordsPerBatch;
        this.faults = faults;
        this.ids = ids;
        this.createIdByRecord = new long[maxRecordsPerBatch];
        this.createTypeByRecord = new int[maxRecordsPerBatch];
    }

    /**
     * Starts a batch in the given slot.
     *
     * @param slot          a free slot, reset.
     * @param copyMode      whether the records travel inside the dispatch message.
     * @param offsetBytes   where the region starts in the modify buffer (ignored in copy mode).
     * @param capacityBytes most bytes the batch may hold.
     */
    void open(final BatchSlot slot, final boolean copyMode, final int offsetBytes, final int capacityBytes)
    {
        if (open)
        {
            throw new IllegalStateException("a batch is already open");
        }
        if (capacityBytes <= 0 || capacityBytes > copyBuffer.capacity() ||
            (!copyMode && (offsetBytes < 0 || (long)offsetBytes + capacityBytes > modifyBuffer.capacity())))
        {
            throw new IllegalArgumentException("batch region [" + offsetBytes + ", +" + capacityBytes + ") " +
                (copyMode ? "in copy mode" : "outside the modify buffer"));
        }
        batch = slot;
        batch.reset();
        batch.offsetBytes = copyMode ? 0 : offsetBytes;
        this.copyMode = copyMode;
        this.capacityBytes = capacityBytes;
        open = true;
    }

    boolean isOpen()
    {
        return open;
    }

    /**
     * @return true when the open batch holds at least one producer batch.
     */
    boolean hasSegments()
    {
        return open && batch.segmentCount > 0;
    }

    boolean isCopyMode()
    {
        return copyMode;
    }

    BatchSlot batch()
    {
        return batch;
    }

    UnsafeBuffer copyBuffer()
    {
        return copyBuffer;
    }

    /**
     * @return true when another record of the largest kind may not fit: time to dispatch.
     */
    boolean isFull()
    {
        return open && (batch.lengthBytes >= capacityBytes - RecordFraming.MAX_FIXED_RECORD_LENGTH_BYTES ||
            batch.entryCount >= maxRecordsPerBatch);
    }

    /**
     * Hands the batch over (to dispatch, or to be acked at once when nothing of it reached the buffer).
     *
     * @return the batch; the assembler is closed until the next {@link #open}.
     */
    BatchSlot close()
    {
        if (!open)
        {
            throw new IllegalStateException("no batch is open");
        }
        open = false;
        final BatchSlot closed = batch;
        batch = null;
        return closed;
    }

    /**
     * Appends one client batch in a single pass.
     *
     * @param session the producer's session, recorded in the batch's segment.
     * @param buffer  holding the client batch (BatchHeader first).
     * @param offset  where it starts.
     * @param length  its length.
     * @return {@link #APPENDED}, {@link #DOES_NOT_FIT} or {@link #MALFORMED}; on anything but APPENDED
     * (and when this throws) the batch is exactly as before the call.
     */
    int append(final ClientSession session, final DirectBuffer buffer, final int offset, final int length)
    {
        return append(session, session.sessionId, buffer, offset, length);
    }

    /**
     * Appends one client batch of a session that has no {@link ClientSession} (a cluster session, whose
     * acks the clustered service sends itself): the batch's segment records no session object.
     *
     * @see #append(ClientSession, DirectBuffer, int, int)
     */
    int append(final long sessionId, final DirectBuffer buffer, final int offset, final int length)
    {
        return append(null, sessionId, buffer, offset, length);
    }

    private int append(
        final ClientSession session, final long sessionId, final DirectBuffer buffer, final int offset, final int length)
    {
        mark();
        try
        {
            final int result = walk(session, sessionId, buffer, offset, length);
            if (result != APPENDED)
            {
                rollBack();
            }
            return result;
        }
        catch (final RuntimeException | Error ex)
        {
            rollBack();
            throw ex;
        }
    }

    /**
     * How many bytes of a client batch would enter the buffer (its valid records), for deciding
     * whether a batch that does not fit an empty batch could ever fit.
     *
     * @return the bytes, or -1 when it is malformed.
     */
    int measure(final DirectBuffer buffer, final int offset, final int length)
    {
        reader.wrap(buffer, offset, length);
        reader.next();
        int bytes = 0;
        while (reader.next())
        {
            if (reader.isFramingStop() || reader.templateId() == RecordReader.BATCH_HEADER)
            {
                return -1;
            }
            if (reader.status() == RecordStatus.OK.value())
            {
                bytes += reader.frameLengthBytes();
            }
        }
        return bytes;
    }

    private void mark()
    {
        if (!open)
        {
            throw new IllegalStateException("no batch is open");
        }
        markEntryCount = batch.entryCount;
        markLengthBytes = batch.lengthBytes;
        markRecordCount = batch.recordCount;
        markSegmentCount = batch.segmentCount;
        markTypeCount = batch.typeCount;
        ids.mark();
    }

    private void rollBack()
    {
        batch.entryCount = markEntryCount;
        batch.lengthBytes = markLengthBytes;
        batch.recordCount = markRecordCount;
        for (int i = markSegmentCount; i < batch.segmentCount; i++)
        {
            batch.segmentSessions[i] = null;
        }
        batch.segmentCount = markSegmentCount;
        batch.removeTypesFrom(markTypeCount);
        ids.rollBack();
    }

    private int walk(
        final ClientSession session, final long sessionId, final DirectBuffer buffer, final int offset, final int length)
    {
        reader.wrap(buffer, offset, length);
        reader.next();
        final long correlationId = reader.batchCorrelationId();
        final long declaredRecordCount = reader.batchRecordCount();
        if (declaredRecordCount > maxRecordsPerBatch)
        {
            return MALFORMED;
        }
        if (batch.entryCount + declaredRecordCount > maxRecordsPerBatch || batch.segmentCount >= MAX_SEGMENTS)
        {
            return DOES_NOT_FIT;
        }
        final int segment = batch.segmentCount++;
        batch.segmentSessions[segment] = session;
        batch.segmentSessionIds[segment] = sessionId;
        batch.segmentCorrelationIds[segment] = correlationId;
        batch.segmentFirstEntry[segment] = batch.entryCount;
        batch.segmentEntryCount[segment] = (int)declaredRecordCount;
        if (segment == 0)
        {
            batch.firstIngressNs = System.nanoTime();
        }

        final UnsafeBuffer target = copyMode ? copyBuffer : modifyBuffer;
        int recordIndex = 0;
        while (reader.next())
        {
            if (reader.isFramingStop() || reader.templateId() == RecordReader.BATCH_HEADER ||
                recordIndex >= declaredRecordCount)
            {
                return MALFORMED;
            }
            faults.onClientRecord(sessionId, correlationId, recordIndex);
            final int entry = batch.entryCount++;
            createIdByRecord[recordIndex] = 0;
            batch.entryNodeId[entry] = 0;
            batch.entryKind[entry] = BatchSlot.KIND_OTHER;
            batch.entryTypeId[entry] = 0;
            int status = reader.status();
            if (status == RecordStatus.OK.value())
            {
                final TypeDefinition type = reader.type();
                final int typeId = type.typeId();
                final int templateId = reader.templateId();
                long nodeId = reader.nodeId();
                if (templateId == RecordReader.CREATE)
                {
                    nodeId = ids.take(typeId);
                    if (0 == nodeId)
                    {
                        // maxNodes ids in use: refused here, so no id is handed out beyond the type's limit.
                        status = RecordStatus.TYPE_FULL.value();
                    }
                }
                else if (reader.createRef() != 0)
                {
                    final long ref = reader.createRef() - 1;
                    if (ref >= recordIndex || createIdByRecord[(int)ref] == 0 || createTypeByRecord[(int)ref] != typeId)
                    {
                        status = RecordStatus.BAD_REFERENCE.value();
                    }
                    else
                    {
                        nodeId = createIdByRecord[(int)ref];
                    }
                }
                if (status == RecordStatus.OK.value())
                {
                    final int frameLengthBytes = reader.frameLengthBytes();
                    if (batch.lengthBytes + frameLengthBytes > capacityBytes)
                    {
                        return DOES_NOT_FIT;
                    }
                    final int to = batch.offsetBytes + batch.lengthBytes;
                    target.putBytes(to, buffer, reader.offset(), frameLengthBytes);
                    final int block = to + RecordFraming.HEADER_LENGTH_BYTES;
                    switch (templateId)
                    {
                        case RecordReader.CREATE ->
                        {
                            target.putLong(block + CreateEncoder.nodeIdEncodingOffset(), nodeId, ByteOrder.LITTLE_ENDIAN);
                            createIdByRecord[recordIndex] = nodeId;
                            createTypeByRecord[recordIndex] = typeId;
                            batch.entryKind[entry] = BatchSlot.KIND_CREATE;
                        }
                        case RecordReader.UPDATE ->
                        {
                            target.putLong(block + UpdateEncoder.nodeIdEncodingOffset(), nodeId, ByteOrder.LITTLE_ENDIAN);
                            target.putInt(block + UpdateEncoder.createRefEncodingOffset(), 0, ByteOrder.LITTLE_ENDIAN);
                        }
                        case RecordReader.DELETE ->
                        {
                            target.putLong(block + DeleteEncoder.nodeIdEncodingOffset(), nodeId, ByteOrder.LITTLE_ENDIAN);
                            target.putInt(block + DeleteEncoder.createRefEncodingOffset(), 0, ByteOrder.LITTLE_ENDIAN);
                            batch.entryKind[entry] = BatchSlot.KIND_DELETE;
                        }
                        default ->
                        {
                            target.putLong(block + IncrementEncoder.nodeIdEncodingOffset(), nodeId, ByteOrder.LITTLE_ENDIAN);
                            target.putInt(block + IncrementEncoder.createRefEncodingOffset(), 0, ByteOrder.LITTLE_ENDIAN);
                        }
                    }
                    batch.entryNodeId[entry] = nodeId;
                    batch.entryTypeId[entry] = typeId;
                    batch.bufferIndexToEntry[batch.recordCount++] = entry;
                    batch.lengthBytes += frameLengthBytes;
                    batch.addType(typeId);
                }
            }
            batch.entryStatus[entry] = (byte)status;
            recordIndex++;
        }
        if (recordIndex != declaredRecordCount)
        {
            return MALFORMED;
        }
        return APPENDED;
    }
}
