package io.spate.pipeline;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.logbuffer.ControlledFragmentHandler;
import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.Header;
import io.aeron.ControlledFragmentAssembler;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordFraming;
import io.spate.codec.RecordReader;
import io.spate.codec.TypeDefinition;
import io.spate.store.NativeStore;
import io.spate.store.OffHeapBuffer;
import io.spate.wire.AckEncoder;
import io.spate.wire.BatchAppliedDecoder;
import io.spate.wire.ConnectDecoder;
import io.spate.wire.CreateEncoder;
import io.spate.wire.DeleteEncoder;
import io.spate.wire.DispatchEncoder;
import io.spate.wire.IncrementEncoder;
import io.spate.wire.MessageHeaderDecoder;
import io.spate.wire.MessageHeaderEncoder;
import io.spate.wire.ReadKind;
import io.spate.wire.ReadRequestDecoder;
import io.spate.wire.ReadResponseEncoder;
import io.spate.wire.RecordStatus;
import io.spate.wire.UpdateEncoder;
import org.agrona.DirectBuffer;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;

import java.nio.ByteOrder;

/**
 * The pipeline's main agent. Each duty cycle it
 * <ol>
 * <li>takes the workers' reports of applied batches: acks every producer batch they carried and
 * frees their buffer regions;</li>
 * <li>reads the workers' position counters: bytes behind them are free while a batch still runs;</li>
 * <li>polls ingress with a controlled poll: validates each client batch against the database
 * schema, assigns ids to creates (per type, dense, in ingress order), resolves createRefs to ids,
 * and appends the valid records to the batch being assembled. When there is no room it leaves the
 * message in the log (ABORT), so producers see back pressure and nothing is dropped;</li>
 * <li>dispatches the assembled batch to the worker the {@link Scheduler} picks, with barriers;</li>
 * <li>answers reads whose writes are all applied.</li>
 * </ol>
 */
public final class ConductorAgent implements Agent
{
    private static final int INGRESS_FRAGMENT_LIMIT = 64;
    private static final int APPLIED_FRAGMENT_LIMIT = 64;
    private static final int MAX_PENDING_READS = 1024;
    /** A retry bound for offers that fail for reasons other than a full window (admin actions). */
    private static final long ACK_OFFER_TIMEOUT_NS = 1_000_000L;
    /** Producers with a response publication at once; past it, disconnected ones are closed first. */
    static final int MAX_CLIENTS = 4096;

    private final PipelineConfiguration configuration;
    private final DatabaseSchema schema;
    private final Aeron aeron;
    private final NativeStore store;
    private final UnsafeBuffer modifyBuffer;
    private final RegionAllocator space;
    private final Scheduler scheduler;
    private final Scheduler.Barriers barriers;
    private final Subscription ingress;
    private final Subscription applied;
    private final ExclusivePublication[] dispatchPublications;
    private final AtomicCounter[] positionCounters;
    private final PipelineCounters counters;
    private final StageLatencies stageLatencies;
    private final ControlledFragmentAssembler ingressAssembler;
    private final FragmentHandler appliedHandler = new FragmentAssembler(this::onApplied);

    private final RecordReader reader;
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final ConnectDecoder connectDecoder = new ConnectDecoder();
    private final ReadRequestDecoder readRequestDecoder = new ReadRequestDecoder();
    private final BatchAppliedDecoder appliedDecoder = new BatchAppliedDecoder();
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final AckEncoder ackEncoder = new AckEncoder();
    private final DispatchEncoder dispatchEncoder = new DispatchEncoder();
    private final ReadResponseEncoder readResponseEncoder = new ReadResponseEncoder();
    private final UnsafeBuffer ackBuffer;
    private final UnsafeBuffer dispatchBuffer;
    private final UnsafeBuffer copyBuffer;
    private final OffHeapBuffer nodeCopy;
    private final UnsafeBuffer readResponseBuffer;

    private final Long2ObjectHashMap<ExclusivePublication> clients = new Long2ObjectHashMap<>();
    private final long[] nextIdByType;
    private final long[] createIdByRecord;
    private final int[] createTypeByRecord;
    private final long[] workerDispatchedBytes;

    private final BatchSlot[] inFlight;
    private final int inFlightMask;
    private BatchSlot assembling;
    private boolean assemblingOpen;
    private boolean assemblingCopyMode;
    private int assemblingCapacityBytes;
    private long lastSeq;
    private long completedThroughSeq;
    private int pendingDispatchLengthBytes;
    private int pendingDispatchWorker = -1;

    private volatile boolean ingressStopped;
    private volatile boolean drained;

    private final long[] readClientIds = new long[MAX_PENDING_READS];
    private final long[] readCorrelationIds = new long[MAX_PENDING_READS];
    private final long[] readNodeIds = new long[MAX_PENDING_READS];
    private final int[] readTypeIds = new int[MAX_PENDING_READS];
    private final byte[] readKinds = new byte[MAX_PENDING_READS];
    private final long[] readWatermarks = new long[MAX_PENDING_READS];
    private int readHead;
    private int readTail;

    ConductorAgent(
        final PipelineConfiguration configuration,
        final Aeron aeron,
        final NativeStore store,
        final UnsafeBuffer modifyBuffer,
        final Subscription ingress,
        final Subscription applied,
        final ExclusivePublication[] dispatchPublications,
        final PipelineCounters counters,
        final StageLatencies stageLatencies)
    {
        this.stageLatencies = stageLatencies;
        this.configuration = configuration;
        this.schema = configuration.schema();
        this.aeron = aeron;
        this.store = store;
        this.modifyBuffer = modifyBuffer;
        this.ingress = ingress;
        this.applied = applied;
        this.dispatchPublications = dispatchPublications;
        this.counters = counters;
        final int workerCount = configuration.workerCount();
        final int maxRecords = configuration.maxRecordsPerBatch();
        final int maxTypeId = schema.types().size();

        space = new RegionAllocator(modifyBuffer.capacity(), configuration.maxInFlightBatches());
        scheduler = new Scheduler(workerCount, maxTypeId, configuration.maxInFlightBatches());
        barriers = new Scheduler.Barriers(workerCount);
        reader = new RecordReader(schema);
        ingressAssembler = new ControlledFragmentAssembler(this::onIngress);
        positionCounters = new AtomicCounter[workerCount];
        for (int i = 0; i < workerCount; i++)
        {
            positionCounters[i] = counters.worker(i).position();
        }
        workerDispatchedBytes = new long[workerCount];
        nextIdByType = new long[maxTypeId + 1];
        for (final TypeDefinition type : schema.types())
        {
            nextIdByType[type.typeId()] = store.nextId(type.typeId());
        }
        createIdByRecord = new long[maxRecords];
        createTypeByRecord = new int[maxRecords];

        inFlight = new BatchSlot[configuration.maxInFlightBatches()];
        for (int i = 0; i < inFlight.length; i++)
        {
            inFlight[i] = new BatchSlot(maxRecords, maxTypeId);
        }
        inFlightMask = inFlight.length - 1;
        assembling = new BatchSlot(maxRecords, maxTypeId);
        assembling.reset();

        final int maxAckBytes = MessageHeaderEncoder.ENCODED_LENGTH + AckEncoder.BLOCK_LENGTH + 8 +
            maxRecords * (AckEncoder.CreatedIdsEncoder.sbeBlockLength() + AckEncoder.ErrorsEncoder.sbeBlockLength());
        ackBuffer = new UnsafeBuffer(new byte[maxAckBytes]);
        copyBuffer = new UnsafeBuffer(new byte[configuration.maxBatchBytes()]);
        dispatchBuffer = new UnsafeBuffer(new byte[MessageHeaderEncoder.ENCODED_LENGTH + DispatchEncoder.BLOCK_LENGTH +
            4 + workerCount * DispatchEncoder.BarriersEncoder.sbeBlockLength() + 4 + configuration.maxBatchBytes()]);
        final int maxNodeBytes = NativeStore.maxNodeLengthBytes(schema);
        nodeCopy = new OffHeapBuffer(maxNodeBytes);
        readResponseBuffer = new UnsafeBuffer(new byte[MessageHeaderEncoder.ENCODED_LENGTH +
            ReadResponseEncoder.BLOCK_LENGTH + 4 + maxNodeBytes]);
        counters.bufferBytesFree().setRelease(space.freeBytes());
    }

    public String roleName()
    {
        return "spate-conductor";
    }

    public int doWork()
    {
        int work = applied.poll(appliedHandler, APPLIED_FRAGMENT_LIMIT);
        work += reclaimBehindWorkers();
        if (pendingDispatchLengthBytes > 0)
        {
            work += retryPendingDispatch();
        }
        if (pendingDispatchLengthBytes == 0)
        {
            if (!ingressStopped)
            {
                work += ingress.controlledPoll(ingressAssembler, INGRESS_FRAGMENT_LIMIT);
            }
            work += drain();
        }
        work += answerReads();
        if (ingressStopped && !drained)
        {
            drained = !assemblingOpen && completedThroughSeq == lastSeq && pendingDispatchLengthBytes == 0 &&
                readHead == readTail;
        }
        return work;
    }

    /**
     * Stops taking ingress (what stays in the log is not consumed); batches already taken in are
     * still dispatched, applied and acked. Safe from any thread.
     */
    void stopIngress()
    {
        ingressStopped = true;
    }

    /**
     * @return true once, after {@link #stopIngress()}, every batch taken in is applied and acked.
     */
    boolean isDrained()
    {
        return drained;
    }

    public void onClose()
    {
        for (final ExclusivePublication client : clients.values())
        {
            client.close();
        }
        clients.clear();
        nodeCopy.close();
    }

    // ------------------------------------------------------------------------------------------
    // Ingress
    // ------------------------------------------------------------------------------------------

    private ControlledFragmentHandler.Action onIngress(
        final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        if (length < RecordFraming.HEADER_LENGTH_BYTES)
        {
            counters.rejectedMessages().increment();
            return ControlledFragmentHandler.Action.CONTINUE;
        }
        headerDecoder.wrap(buffer, offset);
        if (headerDecoder.schemaId() != RecordFraming.SCHEMA_ID)
        {
            counters.rejectedMessages().increment();
            return ControlledFragmentHandler.Action.CONTINUE;
        }
        return switch (headerDecoder.templateId())
        {
            case RecordReader.BATCH_HEADER -> onClientBatch(buffer, offset, length);
            case ConnectDecoder.TEMPLATE_ID -> onConnect(buffer, offset, length);
            case ReadRequestDecoder.TEMPLATE_ID -> onReadRequest(buffer, offset, length);
            default ->
            {
                counters.rejectedMessages().increment();
                yield ControlledFragmentHandler.Action.CONTINUE;
            }
        };
    }

    private ControlledFragmentHandler.Action onConnect(final DirectBuffer buffer, final int offset, final int length)
    {
        if (length < MessageHeaderDecoder.ENCODED_LENGTH + ConnectDecoder.BLOCK_LENGTH + 4)
        {
            counters.rejectedMessages().increment();
            return ControlledFragmentHandler.Action.CONTINUE;
        }
        connectDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
        final long clientId = connectDecoder.clientId();
        final int streamId = connectDecoder.responseStreamId();
        final int channelLength = connectDecoder.responseChannelLength();
        if (channelLength <= 0 || channelLength > length)
        {
            counters.rejectedMessages().increment();
            return ControlledFragmentHandler.Action.CONTINUE;
        }
        final String channel = connectDecoder.responseChannel();
        final ExclusivePublication previous = clients.remove(clientId);
        if (null != previous)
        {
            previous.close();
        }
        if (clients.size() >= MAX_CLIENTS)
        {
            closeDisconnectedClients();
            if (clients.size() >= MAX_CLIENTS)
            {
                counters.rejectedMessages().increment();
                return ControlledFragmentHandler.Action.CONTINUE;
            }
        }
        try
        {
            // Rare and blocking (a round trip to the driver): acceptable at connect time.
            clients.put(clientId, aeron.addExclusivePublication(channel, streamId));
        }
        catch (final RuntimeException ex)
        {
            counters.rejectedMessages().increment();
        }
        return ControlledFragmentHandler.Action.CONTINUE;
    }

    private void closeDisconnectedClients()
    {
        final Long2ObjectHashMap<ExclusivePublication>.EntryIterator entries = clients.entrySet().iterator();
        while (entries.hasNext())
        {
            entries.next();
            final ExclusivePublication publication = entries.getValue();
            if (!publication.isConnected())
            {
                publication.close();
                entries.remove();
            }
        }
    }

    private ControlledFragmentHandler.Action onReadRequest(final DirectBuffer buffer, final int offset, final int length)
    {
        if (length < MessageHeaderDecoder.ENCODED_LENGTH + ReadRequestDecoder.BLOCK_LENGTH)
        {
            counters.rejectedMessages().increment();
            return ControlledFragmentHandler.Action.CONTINUE;
        }
        if (readTail - readHead == MAX_PENDING_READS)
        {
            counters.backPressureEvents().increment();
            return ControlledFragmentHandler.Action.ABORT;
        }
        readRequestDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
        final int index = readTail++ & (MAX_PENDING_READS - 1);
        readClientIds[index] = readRequestDecoder.clientId();
        readCorrelationIds[index] = readRequestDecoder.correlationId();
        readNodeIds[index] = readRequestDecoder.nodeId();
        readTypeIds[index] = readRequestDecoder.typeId();
        readKinds[index] = (byte)readRequestDecoder.kindRaw();
        // Everything this client sent before the read is in a batch up to this seq.
        readWatermarks[index] = assemblingOpen && assembling.recordCount > 0 ? lastSeq + 1 : lastSeq;
        return ControlledFragmentHandler.Action.CONTINUE;
    }

    private ControlledFragmentHandler.Action onClientBatch(final DirectBuffer buffer, final int offset, final int length)
    {
        reader.wrap(buffer, offset, length);
        reader.next();
        if (reader.status() != RecordStatus.OK.value())
        {
            counters.rejectedMessages().increment();
            return ControlledFragmentHandler.Action.CONTINUE;
        }
        final long clientId = reader.batchClientId();
        final long correlationId = reader.batchCorrelationId();
        final long declaredRecordCount = reader.batchRecordCount();
        final ExclusivePublication client = clients.get(clientId);
        if (null == client)
        {
            // Acks have nowhere to go: a producer must connect first.
            counters.rejectedMessages().increment();
            return ControlledFragmentHandler.Action.CONTINUE;
        }
        if (reader.batchSchemaHash() != schema.hash())
        {
            sendBatchRefusal(client, clientId, correlationId, declaredRecordCount, RecordStatus.SCHEMA_MISMATCH);
            return ControlledFragmentHandler.Action.CONTINUE;
        }

        // Pass 1: count and size what will enter the buffer.
        int recordCount = 0;
        int bufferedBytes = 0;
        while (reader.next())
        {
            if (reader.isFramingStop() || reader.templateId() == RecordReader.BATCH_HEADER)
            {
                sendBatchRefusal(client, clientId, correlationId, declaredRecordCount, RecordStatus.MALFORMED);
                return ControlledFragmentHandler.Action.CONTINUE;
            }
            recordCount++;
            if (reader.status() == RecordStatus.OK.value())
            {
                bufferedBytes += reader.frameLengthBytes();
            }
        }
        if (recordCount != declaredRecordCount)
        {
            sendBatchRefusal(client, clientId, correlationId, declaredRecordCount, RecordStatus.MALFORMED);
            return ControlledFragmentHandler.Action.CONTINUE;
        }
        if (recordCount > configuration.maxRecordsPerBatch() || bufferedBytes > configuration.maxBatchBytes())
        {
            sendBatchRefusal(client, clientId, correlationId, declaredRecordCount, RecordStatus.VALUE_TOO_LARGE);
            return ControlledFragmentHandler.Action.CONTINUE;
        }

        if (assemblingOpen && !fits(recordCount, bufferedBytes))
        {
            if (dispatchAssembling() == 0)
            {
                counters.backPressureEvents().increment();
                return ControlledFragmentHandler.Action.ABORT;
            }
        }
        if (!assemblingOpen && !openAssembling())
        {
            counters.backPressureEvents().increment();
            return ControlledFragmentHandler.Action.ABORT;
        }
        if (!fits(recordCount, bufferedBytes))
        {
            counters.backPressureEvents().increment();
            return ControlledFragmentHandler.Action.ABORT;
        }

        appendClientBatch(buffer, offset, length, clientId, correlationId, recordCount);
        counters.recordsIn().getAndAddRelease(recordCount);
        if (assembling.lengthBytes >= assemblingCapacityBytes - RecordFraming.MAX_FIXED_RECORD_LENGTH_BYTES ||
            assembling.entryCount >= configuration.maxRecordsPerBatch())
        {
            dispatchAssembling();
        }
        return ControlledFragmentHandler.Action.CONTINUE;
    }

    private boolean fits(final int recordCount, final int bufferedBytes)
    {
        return assembling.entryCount + recordCount <= configuration.maxRecordsPerBatch() &&
            assembling.lengthBytes + bufferedBytes <= assemblingCapacityBytes;
    }

    /**
     * Pass 2: copies the valid records into the batch, assigning ids and resolving createRefs.
     */
    private void appendClientBatch(
        final DirectBuffer buffer, final int offset, final int length, final long clientId, final long correlationId,
        final int recordCount)
    {
        final BatchSlot batch = assembling;
        final UnsafeBuffer target = assemblingCopyMode ? copyBuffer : modifyBuffer;
        if (batch.segmentCount == 0)
        {
            batch.firstIngressNs = System.nanoTime();
        }
        final int segment = batch.segmentCount++;
        batch.segmentClientIds[segment] = clientId;
        batch.segmentCorrelationIds[segment] = correlationId;
        batch.segmentFirstEntry[segment] = batch.entryCount;
        batch.segmentEntryCount[segment] = recordCount;

        reader.wrap(buffer, offset, length);
        reader.next();
        for (int recordIndex = 0; reader.next(); recordIndex++)
        {
            final int entry = batch.entryCount++;
            createIdByRecord[recordIndex] = 0;
            batch.entryNodeId[entry] = 0;
            batch.entryIsCreate[entry] = false;
            int status = reader.status();
            if (status == RecordStatus.OK.value())
            {
                final TypeDefinition type = reader.type();
                final int templateId = reader.templateId();
                long nodeId = reader.nodeId();
                if (templateId != RecordReader.CREATE && reader.createRef() != 0)
                {
                    final long ref = reader.createRef() - 1;
                    if (ref >= recordIndex || createIdByRecord[(int)ref] == 0 ||
                        createTypeByRecord[(int)ref] != type.typeId())
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
                    final int to = (assemblingCopyMode ? 0 : batch.offsetBytes) + batch.lengthBytes;
                    target.putBytes(to, buffer, reader.offset(), reader.frameLengthBytes());
                    final int block = to + RecordFraming.HEADER_LENGTH_BYTES;
                    switch (templateId)
                    {
                        case RecordReader.CREATE ->
                        {
                            nodeId = nextIdByType[type.typeId()]++;
                            target.putLong(block + CreateEncoder.nodeIdEncodingOffset(), nodeId, ByteOrder.LITTLE_ENDIAN);
                            createIdByRecord[recordIndex] = nodeId;
                            createTypeByRecord[recordIndex] = type.typeId();
                            batch.entryIsCreate[entry] = true;
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
                        }
                        default ->
                        {
                            target.putLong(block + IncrementEncoder.nodeIdEncodingOffset(), nodeId, ByteOrder.LITTLE_ENDIAN);
                            target.putInt(block + IncrementEncoder.createRefEncodingOffset(), 0, ByteOrder.LITTLE_ENDIAN);
                        }
                    }
                    batch.entryNodeId[entry] = nodeId;
                    batch.bufferIndexToEntry[batch.recordCount++] = entry;
                    batch.lengthBytes += reader.frameLengthBytes();
                    batch.addType(type.typeId());
                }
            }
            batch.entryStatus[entry] = (byte)status;
        }
    }

    // ------------------------------------------------------------------------------------------
    // Batches: open, dispatch, complete
    // ------------------------------------------------------------------------------------------

    private boolean openAssembling()
    {
        if (!inFlight[(int)((lastSeq + 1) & inFlightMask)].isFree() || !scheduler.canAssign())
        {
            return false;
        }
        assembling.reset();
        final long gap = space.open();
        final int gapLengthBytes = gap < 0 ? 0 : RegionAllocator.lengthOf(gap);
        if (gapLengthBytes >= configuration.copyModeThresholdBytes() && gapLengthBytes >= RecordFraming.MAX_FIXED_RECORD_LENGTH_BYTES)
        {
            assemblingCopyMode = false;
            assembling.offsetBytes = RegionAllocator.offsetOf(gap);
            assemblingCapacityBytes = Math.min(gapLengthBytes, configuration.maxBatchBytes());
        }
        else
        {
            // The buffer is busy: the records travel inside the dispatch message instead of waiting.
            assemblingCopyMode = true;
            assembling.offsetBytes = 0;
            assemblingCapacityBytes = Math.min(configuration.maxBatchBytes(),
                dispatchPublications[0].maxMessageLength() - dispatchBuffer.capacity() + configuration.maxBatchBytes());
        }
        assemblingOpen = true;
        return true;
    }

    private int drain()
    {
        return assemblingOpen && assembling.segmentCount > 0 ? dispatchAssembling() : 0;
    }

    /**
     * @return 1 when the assembled batch left (dispatched, or acked at once when it holds no
     * record for the store), 0 when it must wait.
     */
    private int dispatchAssembling()
    {
        final BatchSlot batch = assembling;
        if (batch.recordCount == 0)
        {
            for (int segment = 0; segment < batch.segmentCount; segment++)
            {
                sendAck(batch, segment);
            }
            batch.reset();
            assemblingOpen = false;
            return 1;
        }
        if (!scheduler.canAssign())
        {
            return 0;
        }
        final long seq = lastSeq + 1;
        final int ringIndex = (int)(seq & inFlightMask);
        if (!inFlight[ringIndex].isFree())
        {
            return 0;
        }
        final int worker = scheduler.assign(seq, batch.typeIds, batch.typeCount, batch.lengthBytes, barriers);
        batch.seq = seq;
        batch.worker = worker;
        batch.startPosition = workerDispatchedBytes[worker];
        workerDispatchedBytes[worker] += batch.lengthBytes;
        if (assemblingCopyMode)
        {
            batch.regionId = BatchSlot.COPY_MODE;
            counters.copyModeDispatches().increment();
        }
        else
        {
            batch.regionId = space.commit(batch.offsetBytes, batch.lengthBytes);
        }

        dispatchEncoder.wrapAndApplyHeader(dispatchBuffer, 0, headerEncoder)
            .batchSeq(seq)
            .offsetBytes(assemblingCopyMode ? 0 : batch.offsetBytes)
            .lengthBytes(batch.lengthBytes)
            .recordCount(batch.recordCount)
            .dispatchTimeNs(batch.dispatchNs = System.nanoTime());
        if (barriers.count() > 0)
        {
            counters.barrierDispatches().increment();
        }
        final DispatchEncoder.BarriersEncoder barriersEncoder = dispatchEncoder.barriersCount(barriers.count());
        for (int i = 0; i < barriers.count(); i++)
        {
            barriersEncoder.next().seq(barriers.seq(i)).worker(barriers.worker(i));
        }
        if (assemblingCopyMode)
        {
            dispatchEncoder.putPayload(copyBuffer, 0, batch.lengthBytes);
        }
        else
        {
            dispatchEncoder.putPayload(copyBuffer, 0, 0);
        }
        pendingDispatchLengthBytes = MessageHeaderEncoder.ENCODED_LENGTH + dispatchEncoder.encodedLength();
        headerEncoder.frameLengthBytes(pendingDispatchLengthBytes);
        pendingDispatchWorker = worker;

        // The assembled slot goes into the ring; the free ring slot becomes the next to assemble.
        final BatchSlot free = inFlight[ringIndex];
        inFlight[ringIndex] = batch;
        assembling = free;
        assembling.reset();
        assemblingOpen = false;
        lastSeq = seq;
        counters.batches().increment();
        counters.bufferBytesFree().setRelease(space.freeBytes());
        retryPendingDispatch();
        return 1;
    }

    private int retryPendingDispatch()
    {
        final long result = dispatchPublications[pendingDispatchWorker].offer(dispatchBuffer, 0, pendingDispatchLengthBytes);
        if (result > 0)
        {
            pendingDispatchLengthBytes = 0;
            pendingDispatchWorker = -1;
            return 1;
        }
        if (result == Publication.CLOSED || result == Publication.MAX_POSITION_EXCEEDED)
        {
            throw new IllegalStateException("dispatch publication unusable: " + result);
        }
        return 0;
    }

    private void onApplied(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        headerDecoder.wrap(buffer, offset);
        appliedDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
        final long seq = appliedDecoder.batchSeq();
        final BatchSlot batch = inFlight[(int)(seq & inFlightMask)];
        if (batch.seq != seq)
        {
            throw new IllegalStateException("report for batch " + seq + " but slot holds " + batch.seq);
        }
        for (final BatchAppliedDecoder.FailuresDecoder failure : appliedDecoder.failures())
        {
            final int entry = batch.bufferIndexToEntry[(int)failure.recordIndex()];
            batch.entryStatus[entry] = (byte)failure.statusRaw();
        }
        for (int segment = 0; segment < batch.segmentCount; segment++)
        {
            sendAck(batch, segment);
        }
        stageLatencies.record(batch.firstIngressNs, batch.dispatchNs, appliedDecoder.applyStartNs(),
            appliedDecoder.applyEndNs(), System.nanoTime());
        if (batch.regionId != BatchSlot.COPY_MODE)
        {
            space.release(batch.regionId);
        }
        scheduler.onDone(batch.worker, seq);
        batch.reset();
        while (completedThroughSeq < lastSeq && inFlight[(int)((completedThroughSeq + 1) & inFlightMask)].isFree())
        {
            completedThroughSeq++;
        }
        counters.bufferBytesFree().setRelease(space.freeBytes());
    }

    /**
     * Bytes behind a worker's position counter are free while its batch still runs.
     */
    private int reclaimBehindWorkers()
    {
        int work = 0;
        for (long seq = completedThroughSeq + 1; seq <= lastSeq; seq++)
        {
            final BatchSlot batch = inFlight[(int)(seq & inFlightMask)];
            if (batch.isFree() || batch.regionId == BatchSlot.COPY_MODE)
            {
                continue;
            }
            final long consumed = positionCounters[batch.worker].getAcquire() - batch.startPosition;
            if (consumed > 0)
            {
                space.consumed(batch.regionId, (int)Math.min(consumed, batch.lengthBytes));
                work++;
            }
        }
        return work > 0 ? 1 : 0;
    }

    // ------------------------------------------------------------------------------------------
    // Acks and reads
    // ------------------------------------------------------------------------------------------

    private void sendAck(final BatchSlot batch, final int segment)
    {
        final long clientId = batch.segmentClientIds[segment];
        final int first = batch.segmentFirstEntry[segment];
        final int count = batch.segmentEntryCount[segment];
        int created = 0;
        int failed = 0;
        int firstFailure = RecordStatus.OK.value();
        for (int i = first; i < first + count; i++)
        {
            if (batch.entryStatus[i] != RecordStatus.OK.value())
            {
                if (failed++ == 0)
                {
                    firstFailure = batch.entryStatus[i];
                }
            }
            else if (batch.entryIsCreate[i])
            {
                created++;
            }
        }
        ackEncoder.wrapAndApplyHeader(ackBuffer, 0, headerEncoder)
            .clientId(clientId)
            .correlationId(batch.segmentCorrelationIds[segment])
            .recordCount(count)
            .status(RecordStatus.get((short)firstFailure));
        final AckEncoder.CreatedIdsEncoder ids = ackEncoder.createdIdsCount(created);
        for (int i = first; i < first + count; i++)
        {
            if (batch.entryIsCreate[i] && batch.entryStatus[i] == RecordStatus.OK.value())
            {
                ids.next().nodeId(batch.entryNodeId[i]).recordIndex(i - first);
            }
        }
        final AckEncoder.ErrorsEncoder errors = ackEncoder.errorsCount(failed);
        for (int i = first; i < first + count; i++)
        {
            if (batch.entryStatus[i] != RecordStatus.OK.value())
            {
                errors.next().recordIndex(i - first).status(RecordStatus.get(batch.entryStatus[i]));
            }
        }
        final int lengthBytes = MessageHeaderEncoder.ENCODED_LENGTH + ackEncoder.encodedLength();
        headerEncoder.frameLengthBytes(lengthBytes);
        offerToClient(clientId, ackBuffer, lengthBytes);
    }

    private void sendBatchRefusal(
        final ExclusivePublication client, final long clientId, final long correlationId, final long recordCount,
        final RecordStatus status)
    {
        ackEncoder.wrapAndApplyHeader(ackBuffer, 0, headerEncoder)
            .clientId(clientId)
            .correlationId(correlationId)
            .recordCount(recordCount)
            .status(status);
        ackEncoder.createdIdsCount(0);
        ackEncoder.errorsCount(0);
        final int lengthBytes = MessageHeaderEncoder.ENCODED_LENGTH + ackEncoder.encodedLength();
        headerEncoder.frameLengthBytes(lengthBytes);
        offerToClient(clientId, ackBuffer, lengthBytes);
    }

    private void offerToClient(final long clientId, final UnsafeBuffer buffer, final int lengthBytes)
    {
        final ExclusivePublication client = clients.get(clientId);
        if (null == client)
        {
            return;
        }
        if (client.availableWindow() < lengthBytes)
        {
            // The producer has left a whole publication window of acks unread: it is stuck, and
            // waiting for it would stall every other producer. Its acks are dropped and counted.
            counters.rejectedMessages().increment();
            return;
        }
        final long deadlineNs = System.nanoTime() + ACK_OFFER_TIMEOUT_NS;
        while (true)
        {
            final long result = client.offer(buffer, 0, lengthBytes);
            if (result > 0)
            {
                counters.acksSent().increment();
                return;
            }
            if (result == Publication.NOT_CONNECTED || result == Publication.CLOSED ||
                result == Publication.MAX_POSITION_EXCEEDED || System.nanoTime() > deadlineNs)
            {
                // The producer is gone (or stopped reading): its acks have no reader.
                counters.rejectedMessages().increment();
                return;
            }
            Thread.onSpinWait();
        }
    }

    private int answerReads()
    {
        int work = 0;
        while (readHead != readTail)
        {
            final int index = readHead & (MAX_PENDING_READS - 1);
            if (readWatermarks[index] > completedThroughSeq)
            {
                if (assemblingOpen && assembling.recordCount > 0)
                {
                    dispatchAssembling();
                }
                break;
            }
            answerRead(index);
            readHead++;
            work++;
        }
        return work;
    }

    private void answerRead(final int index)
    {
        final int typeId = readTypeIds[index];
        final TypeDefinition type = schema.typeById(typeId);
        long count = 0;
        int nodeLength = 0;
        RecordStatus status = RecordStatus.OK;
        if (null == type)
        {
            status = RecordStatus.UNKNOWN_TYPE;
        }
        else if (readKinds[index] == ReadKind.COUNT.value())
        {
            count = store.count(typeId);
        }
        else
        {
            nodeLength = store.get(typeId, readNodeIds[index], nodeCopy.address(), nodeCopy.capacityBytes());
            if (nodeLength < 0)
            {
                status = RecordStatus.NO_SUCH_NODE;
                nodeLength = 0;
            }
        }
        readResponseEncoder.wrapAndApplyHeader(readResponseBuffer, 0, headerEncoder)
            .clientId(readClientIds[index])
            .correlationId(readCorrelationIds[index])
            .count(count)
            .typeId(typeId)
            .status(status)
            .putNode(nodeCopy.buffer(), 0, nodeLength);
        final int lengthBytes = MessageHeaderEncoder.ENCODED_LENGTH + readResponseEncoder.encodedLength();
        headerEncoder.frameLengthBytes(lengthBytes);
        offerToClient(readClientIds[index], readResponseBuffer, lengthBytes);
    }
}
