package io.spate.pipeline;

import io.aeron.Aeron;
import io.aeron.ControlledFragmentAssembler;
import io.aeron.FragmentAssembler;
import io.aeron.Image;
import io.aeron.Subscription;
import io.aeron.logbuffer.ControlledFragmentHandler.Action;
import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.Header;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordFraming;
import io.spate.codec.RecordReader;
import io.spate.codec.WireBounds;
import io.spate.store.NativeStore;
import io.spate.wire.BatchAppliedDecoder;
import io.spate.wire.ConnectDecoder;
import io.spate.wire.MessageHeaderDecoder;
import io.spate.wire.ReadRequestDecoder;
import io.spate.wire.ReconnectDecoder;
import io.spate.wire.RecordStatus;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;

import java.io.PrintStream;

/**
 * The pipeline's main agent: it owns the order of things and delegates the rest.
 * <ul>
 * <li>{@link ClientSessions}: producers' sessions, and every answer back to them (acks, reads);</li>
 * <li>{@link BatchAssembler}: validates client batches and appends them to the next modify batch in
 * one pass, handing out ids;</li>
 * <li>{@link Dispatcher}: hands batches to workers, one pending at most;</li>
 * <li>{@link RegionAllocator} and {@link Scheduler}: where a batch's bytes go, which worker takes it;</li>
 * <li>{@link ReadQueue}: reads waiting for the writes before them.</li>
 * </ul>
 * Each duty cycle: take the workers' reports (ack the producer batches, free regions), reclaim bytes
 * behind the workers' positions, offer a pending dispatch again, poll ingress (back pressure by
 * ABORT: a message that cannot be taken stays in its image), dispatch what was assembled, answer
 * reads, move the sessions' backlogs.
 * <p>
 * Failures inside handlers are caught here, never left to Aeron's poll (which would skip the
 * fragment): a client batch whose handling throws is rolled back and refused in its ack; a broken
 * report from a worker stops the pipeline.
 */
public final class ConductorAgent implements Agent
{
    private static final int INGRESS_FRAGMENT_LIMIT = 64;
    private static final int APPLIED_FRAGMENT_LIMIT = 64;
    private static final long REJECTION_LOG_INTERVAL_NS = 1_000_000_000L;
    private static final long LOG_CHECK_INTERVAL_NS = 100_000_000L;
    private static final long SESSION_SWEEP_INTERVAL_NS = 1_000_000_000L;

    private final PipelineConfiguration configuration;
    private final DatabaseSchema schema;
    private final int maxRecordsPerBatch;
    private final RegionAllocator space;
    private final Scheduler scheduler;
    private final Scheduler.Barriers barriers;
    private final Subscription ingress;
    private final Subscription applied;
    private final int[] appliedSessionIds;
    private final AtomicCounter[] positionCounters;
    private final PipelineCounters counters;
    private final PipelineErrors errors;
    private final StageLatencies stageLatencies;
    private final ClientSessions sessions;
    private final IdAllocator ids;
    private final NativeStore store;
    private final StoreCounters storeCounters;
    private final BatchAssembler assembler;
    private final Dispatcher dispatcher;
    private final AckWriter acks;
    private final ReadQueue reads;
    private final InputRejections rejections;
    private final FaultInjector faults;
    private final UnsafeBuffer modifyBuffer;
    private final LogPublisher log;
    private final SnapshotTaker snapshots;
    private long nextLogCheckNs;
    private final ControlledFragmentAssembler ingressAssembler = new ControlledFragmentAssembler(this::onIngress);
    private final FragmentHandler appliedHandler = new FragmentAssembler(this::onApplied);

    private final RecordReader headerReader;
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final ConnectDecoder connectDecoder = new ConnectDecoder();
    private final ReconnectDecoder reconnectDecoder = new ReconnectDecoder();
    private final ResumableSessions resumable;
    private long nextSessionSweepNs;
    private final ReadRequestDecoder readRequestDecoder = new ReadRequestDecoder();
    private final BatchAppliedDecoder appliedDecoder = new BatchAppliedDecoder();

    private final long[] workerDispatchedBytes;
    private final BatchSlot[] inFlight;
    private final int inFlightMask;
    private BatchSlot spare;
    private long lastSeq;
    private long completedThroughSeq;
    private long nowNs;
    private PipelineErrors.Fatal fatal;

    private volatile boolean ingressStopped;
    private volatile boolean drained;

    ConductorAgent(
        final PipelineConfiguration configuration,
        final Aeron aeron,
        final NativeStore store,
        final UnsafeBuffer modifyBuffer,
        final Subscription ingress,
        final Subscription applied,
        final int[] appliedSessionIds,
        final Dispatcher dispatcher,
        final PipelineCounters counters,
        final PipelineErrors errors,
        final StageLatencies stageLatencies,
        final PrintStream out,
        final LogPublisher log,
        final SnapshotTaker snapshots,
        final ResumableSessions resumable,
        final long startSeq)
    {
        this.resumable = resumable;
        this.modifyBuffer = modifyBuffer;
        this.log = log;
        this.snapshots = snapshots;
        this.lastSeq = startSeq;
        this.completedThroughSeq = startSeq;
        this.configuration = configuration;
        this.schema = configuration.schema();
        this.maxRecordsPerBatch = configuration.maxRecordsPerBatch();
        this.ingress = ingress;
        this.applied = applied;
        this.appliedSessionIds = appliedSessionIds;
        this.dispatcher = dispatcher;
        this.counters = counters;
        this.errors = errors;
        this.stageLatencies = stageLatencies;
        final int workerCount = configuration.workerCount();
        final int maxTypeId = schema.types().size(); // type ids are dense from 1

        space = new RegionAllocator(modifyBuffer.capacity(), configuration.maxInFlightBatches());
        scheduler = new Scheduler(workerCount, maxTypeId, configuration.maxInFlightBatches());
        barriers = new Scheduler.Barriers(workerCount);
        headerReader = new RecordReader(schema);
        positionCounters = new AtomicCounter[workerCount];
        for (int i = 0; i < workerCount; i++)
        {
            positionCounters[i] = counters.worker(i).position();
        }
        workerDispatchedBytes = new long[workerCount];
        // Nothing is applied yet (the log was replayed before): the free slots the store holds are the free ids.
        ids = new IdAllocator(schema, store).rebuildFrom(store);
        this.store = store;
        storeCounters = new StoreCounters(aeron, schema);
        sessions = new ClientSessions(aeron, ingress, configuration, counters, out, resumable, System.nanoTime());
        assembler = new BatchAssembler(schema, modifyBuffer, configuration.maxBatchBytes(), maxRecordsPerBatch,
            ids, configuration.faultInjector());
        acks = new AckWriter(sessions, resumable, log, maxRecordsPerBatch);
        reads = new ReadQueue(schema, store, sessions);
        faults = configuration.faultInjector();
        rejections = new InputRejections(counters.rejectedMessages(), out, REJECTION_LOG_INTERVAL_NS, "ingress");

        inFlight = new BatchSlot[configuration.maxInFlightBatches()];
        for (int i = 0; i < inFlight.length; i++)
        {
            inFlight[i] = new BatchSlot(maxRecordsPerBatch, maxTypeId);
        }
        inFlightMask = inFlight.length - 1;
        spare = new BatchSlot(maxRecordsPerBatch, maxTypeId);
        spare.reset();
        counters.bufferBytesFree().setRelease(space.freeBytes());
    }

    public String roleName()
    {
        return "spate-conductor";
    }

    public int doWork()
    {
        if (ingress.isClosed())
        {
            // The Aeron client closed itself (driver timeout): its CnC file is about to be unmapped.
            throw new PipelineErrors.ClientClosed(roleName());
        }
        if (null == fatal && null != errors.fatalMessage())
        {
            // Another agent (a worker) stopped the pipeline: nothing more is acked, dispatched or taken in.
            fatal = new PipelineErrors.Fatal("stopped: " + errors.fatalMessage(), null);
        }
        checkFatal();
        nowNs = System.nanoTime();
        int work = applied.poll(appliedHandler, APPLIED_FRAGMENT_LIMIT);
        checkFatal();
        work += reclaimBehindWorkers();
        work += ackInOrder();
        work += dispatcher.doWork();
        if (!ingressStopped)
        {
            work += ingress.controlledPoll(ingressAssembler, INGRESS_FRAGMENT_LIMIT);
            checkFatal();
        }
        work += dispatchAssembled();
        if (null != log)
        {
            work += onLogTick();
        }
        work += reads.answer(completedThroughSeq);
        work += sessions.doWork(nowNs);
        if (nowNs - nextSessionSweepNs >= 0)
        {
            nextSessionSweepNs = nowNs + SESSION_SWEEP_INTERVAL_NS;
            resumable.sweep(nowNs);
        }
        storeCounters.sample(store, nowNs);
        rejections.onTick(nowNs);
        if (ingressStopped && !drained)
        {
            drained = !assembler.hasSegments() && completedThroughSeq == lastSeq && dispatcher.isIdle() &&
                reads.isEmpty() && counters.egressBacklogBytes().get() == 0;
        }
        return work;
    }

    private void checkFatal()
    {
        if (null != fatal)
        {
            throw fatal;
        }
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

    /**
     * @return true when everything dispatched is applied and durable and nothing waits to be dispatched:
     * the store then holds exactly the log up to {@link #logPosition()}. Read after the agent stopped.
     */
    boolean isQuiescent()
    {
        return null == fatal && completedThroughSeq == lastSeq && dispatcher.isIdle();
    }

    long lastSeq()
    {
        return lastSeq;
    }

    long logPosition()
    {
        return null == log ? 0 : log.position();
    }

    public void onClose()
    {
        if (!ingress.isClosed())
        {
            sessions.close(); // tells producers the pipeline stops; touches counters and publications
            storeCounters.close();
        }
        reads.close();
    }

    // ------------------------------------------------------------------------------------------
    // Ingress
    // ------------------------------------------------------------------------------------------

    private Action onIngress(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        try
        {
            if (length < RecordFraming.HEADER_LENGTH_BYTES)
            {
                rejections.reject("shorter than a message header");
                return Action.CONTINUE;
            }
            headerDecoder.wrap(buffer, offset);
            if (headerDecoder.schemaId() != RecordFraming.SCHEMA_ID)
            {
                rejections.reject("not of the Spate wire schema");
                return Action.CONTINUE;
            }
            return switch (headerDecoder.templateId())
            {
                case RecordReader.BATCH_HEADER -> onClientBatch(buffer, offset, length, header);
                case ConnectDecoder.TEMPLATE_ID -> onConnect(buffer, offset, length, header);
                case ReconnectDecoder.TEMPLATE_ID -> onReconnect(buffer, offset, length, header);
                case ReadRequestDecoder.TEMPLATE_ID -> onReadRequest(buffer, offset, length, header);
                default ->
                {
                    rejections.reject("a template ingress does not take");
                    yield Action.CONTINUE;
                }
            };
        }
        catch (final PipelineErrors.Fatal ex)
        {
            fatal = ex;
            return Action.ABORT;
        }
        catch (final Throwable ex)
        {
            // Never thrown into Aeron's poll (it would skip the fragment silently): counted, logged, and
            // the message is dropped. A client batch was rolled back and refused in onClientBatch.
            errors.onError(ex);
            return Action.CONTINUE;
        }
    }

    private Action onConnect(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        final int check = WireBounds.checkConnect(buffer, offset, length);
        if (check != WireBounds.OK)
        {
            rejections.reject(WireBounds.reason(check));
            return Action.CONTINUE;
        }
        if (null != log && !log.hasNoteRoom(0))
        {
            counters.backPressureEvents().incrementRelease();
            return Action.ABORT; // the session's opening must be logged before any batch of it
        }
        connectDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
        final ClientSession session = sessions.connect(connectDecoder, header.sessionId(), sourceIdentity(header), nowNs);
        if (null != session && null != log && !log.queueSession(session.sessionId, session.clientId))
        {
            throw errors.fatal("the log's note queue took no session opening though it had room", null);
        }
        return Action.CONTINUE;
    }

    /**
     * A producer resumes its session (after its connection went, or the pipeline restarted) to send again the
     * batches it holds unanswered.
     */
    private Action onReconnect(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        final int check = WireBounds.checkReconnect(buffer, offset, length);
        if (check != WireBounds.OK)
        {
            rejections.reject(WireBounds.reason(check));
            return Action.CONTINUE;
        }
        reconnectDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
        if (null != sessions.reconnect(reconnectDecoder, header.sessionId(), sourceIdentity(header), nowNs))
        {
            counters.sessionsResumed().incrementRelease();
        }
        return Action.CONTINUE;
    }

    private String sourceIdentity(final Header header)
    {
        if (header.context() instanceof Image image)
        {
            return image.sourceIdentity();
        }
        final Image image = ingress.imageBySessionId(header.sessionId());
        return null == image ? "unknown" : image.sourceIdentity();
    }

    private Action onReadRequest(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        final int check = WireBounds.checkReadRequest(buffer, offset, length);
        if (check != WireBounds.OK)
        {
            rejections.reject(WireBounds.reason(check));
            return Action.CONTINUE;
        }
        readRequestDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
        // A message counts only from the image its session connected on, and must name that session.
        final ClientSession session = sessions.sessionOfImage(header.sessionId());
        if (null == session || session.sessionId != readRequestDecoder.sessionId())
        {
            rejections.reject("read request outside its session");
            return Action.CONTINUE;
        }
        if (reads.isFull() || !session.canReserve(reads.answerBacklogBytes()))
        {
            counters.backPressureEvents().incrementRelease();
            return Action.ABORT;
        }
        session.reserve(reads.answerBacklogBytes());
        // Everything this client sent before the read is in a batch up to this seq.
        final long watermark = assembler.hasSegments() && assembler.batch().recordCount > 0 ? lastSeq + 1 : lastSeq;
        reads.add(session, readRequestDecoder.correlationId(), readRequestDecoder.typeId(), readRequestDecoder.nodeId(),
            readRequestDecoder.kindRaw(), watermark);
        return Action.CONTINUE;
    }

    private Action onClientBatch(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        headerReader.wrap(buffer, offset, length);
        headerReader.next();
        if (headerReader.status() != RecordStatus.OK.value())
        {
            rejections.reject("malformed batch header");
            return Action.CONTINUE;
        }
        final long sessionId = headerReader.batchSessionId();
        final long correlationId = headerReader.batchCorrelationId();
        final long declaredRecordCount = headerReader.batchRecordCount();
        // A batch counts only from the image its session connected on, and must name that session.
        final ClientSession session = sessions.sessionOfImage(header.sessionId());
        if (null == session || session.sessionId != sessionId)
        {
            rejections.reject("batch outside its session");
            return Action.CONTINUE;
        }
        final int refusalBytes = AckWriter.refusalBacklogBytes();
        if (correlationId <= 0)
        {
            // Resends are told apart by correlation id: one that cannot be is refused, and not remembered.
            if (!session.canReserve(refusalBytes))
            {
                counters.backPressureEvents().incrementRelease();
                return Action.ABORT;
            }
            session.reserve(refusalBytes);
            acks.sendUnkept(session, correlationId, declaredRecordCount, RecordStatus.MALFORMED, refusalBytes);
            return Action.CONTINUE;
        }
        final ResumableSessions.Entry remembered = resumable.get(sessionId);
        if (null != remembered && correlationId <= remembered.admittedCorrelationId)
        {
            return onResend(session, remembered, correlationId, declaredRecordCount);
        }
        if (!acks.canLogAnswers(1, 0))
        {
            // A refusal (or an answer given without the store) must fit the log's note queue: it drains first.
            counters.backPressureEvents().incrementRelease();
            return Action.ABORT;
        }
        if (headerReader.batchSchemaHash() != schema.hash())
        {
            return refuse(session, correlationId, declaredRecordCount, RecordStatus.SCHEMA_MISMATCH, refusalBytes);
        }
        if (declaredRecordCount > maxRecordsPerBatch)
        {
            return refuse(session, correlationId, declaredRecordCount, RecordStatus.VALUE_TOO_LARGE, refusalBytes);
        }
        if (AckWriter.maxAckBytes(declaredRecordCount) > session.maxMessageBytes)
        {
            // Its ack could never be delivered on this producer's response stream (term length / 8).
            return refuse(session, correlationId, declaredRecordCount, RecordStatus.VALUE_TOO_LARGE, refusalBytes);
        }
        final int ackBytes = AckWriter.ackBacklogBytes(declaredRecordCount);
        if (!session.canReserve(ackBytes))
        {
            // This producer's answers are not being read fast enough: it alone waits (its image only).
            counters.backPressureEvents().incrementRelease();
            return Action.ABORT;
        }

        final int result;
        try
        {
            result = appendWithRoom(session, buffer, offset, length);
        }
        catch (final PipelineErrors.Fatal ex)
        {
            throw ex;
        }
        catch (final Throwable ex)
        {
            // The assembler rolled the batch back: nothing of it stays. The producer learns from its ack.
            errors.onError(ex);
            return refuse(session, correlationId, declaredRecordCount, RecordStatus.MALFORMED, refusalBytes);
        }
        switch (result)
        {
            case BatchAssembler.APPENDED ->
            {
                session.reserve(ackBytes);
                if (null != remembered)
                {
                    remembered.admittedCorrelationId = correlationId;
                }
                final BatchSlot batch = assembler.batch();
                batch.segmentReservedBytes[batch.segmentCount - 1] = ackBytes;
                counters.recordsIn().getAndAddRelease(declaredRecordCount);
                faults.onClientBatchAppended(sessionId, correlationId);
                if (assembler.isFull())
                {
                    dispatchAssembled();
                }
                return Action.CONTINUE;
            }
            case BatchAssembler.MALFORMED ->
            {
                return refuse(session, correlationId, declaredRecordCount, RecordStatus.MALFORMED, refusalBytes);
            }
            case BatchAssembler.DOES_NOT_FIT ->
            {
                final int bytes = assembler.measure(buffer, offset, length);
                if (bytes < 0)
                {
                    return refuse(session, correlationId, declaredRecordCount, RecordStatus.MALFORMED, refusalBytes);
                }
                if (bytes > configuration.maxBatchBytes())
                {
                    return refuse(session, correlationId, declaredRecordCount, RecordStatus.VALUE_TOO_LARGE,
                        refusalBytes);
                }
                counters.backPressureEvents().incrementRelease();
                return Action.ABORT;
            }
            default -> throw new IllegalStateException("append result " + result);
        }
    }

    /**
     * A batch at or below the highest correlation id the session had admitted: sent again after a reconnect or
     * a restart. It is never applied twice: answered with its kept answer, or not at all while the original is
     * still on its way (its ack goes to the session's connection when it is applied), or ALREADY_APPLIED
     * when the ledger no longer keeps its answer.
     */
    private Action onResend(
        final ClientSession session,
        final ResumableSessions.Entry remembered,
        final long correlationId,
        final long declaredRecordCount)
    {
        final int keptLengthBytes = acks.keptLengthBytes(remembered, correlationId);
        if (keptLengthBytes > 0)
        {
            final int reservedBytes = ClientSession.backlogBytesFor(keptLengthBytes);
            if (!session.canReserve(reservedBytes))
            {
                counters.backPressureEvents().incrementRelease();
                return Action.ABORT;
            }
            session.reserve(reservedBytes);
            acks.sendKept(session, remembered, correlationId, reservedBytes);
            counters.resendsAnswered().incrementRelease();
            return Action.CONTINUE;
        }
        if (isPending(remembered.sessionId, correlationId))
        {
            counters.resendsPending().incrementRelease();
            return Action.CONTINUE;
        }
        final int refusalBytes = AckWriter.refusalBacklogBytes();
        if (!session.canReserve(refusalBytes))
        {
            counters.backPressureEvents().incrementRelease();
            return Action.ABORT;
        }
        session.reserve(refusalBytes);
        acks.sendUnkept(session, correlationId, declaredRecordCount, RecordStatus.ALREADY_APPLIED, refusalBytes);
        counters.resendsForgotten().incrementRelease();
        return Action.CONTINUE;
    }

    /**
     * @return true when the session's batch is admitted but not yet answered: in the batch being assembled or
     * in flight. A scan of at most the in-flight batches' segments, made only for resends.
     */
    private boolean isPending(final long sessionId, final long correlationId)
    {
        if (assembler.hasSegments() && hasSegment(assembler.batch(), sessionId, correlationId))
        {
            return true;
        }
        for (long seq = completedThroughSeq + 1; seq <= lastSeq; seq++)
        {
            if (hasSegment(inFlight[(int)(seq & inFlightMask)], sessionId, correlationId))
            {
                return true;
            }
        }
        return false;
    }

    private static boolean hasSegment(final BatchSlot batch, final long sessionId, final long correlationId)
    {
        for (int i = 0; i < batch.segmentCount; i++)
        {
            if (batch.segmentCorrelationIds[i] == correlationId && batch.segmentSessionIds[i] == sessionId)
            {
                return true;
            }
        }
        return false;
    }

    /**
     * Appends into the open batch; when it does not fit, dispatches that batch and tries a fresh one.
     *
     * @return the assembler's result; DOES_NOT_FIT when no batch can take it now.
     */
    private int appendWithRoom(final ClientSession session, final DirectBuffer buffer, final int offset, final int length)
    {
        if (!assembler.isOpen() && !openBatch())
        {
            return BatchAssembler.DOES_NOT_FIT;
        }
        int result = assembler.append(session, buffer, offset, length);
        if (result != BatchAssembler.DOES_NOT_FIT)
        {
            return result;
        }
        if (assembler.hasSegments())
        {
            if (dispatchAssembled() == 0 || !openBatch())
            {
                return BatchAssembler.DOES_NOT_FIT;
            }
        }
        else
        {
            // Even an empty batch of this size cannot take it (a small gap, or copy mode): start over when
            // the workers have freed space.
            spare = assembler.close();
            spare.reset();
            if (!openBatch())
            {
                return BatchAssembler.DOES_NOT_FIT;
            }
        }
        result = assembler.append(session, buffer, offset, length);
        if (result == BatchAssembler.DOES_NOT_FIT && !assembler.hasSegments())
        {
            spare = assembler.close();
            spare.reset();
        }
        return result;
    }

    private Action refuse(
        final ClientSession session,
        final long correlationId,
        final long recordCount,
        final RecordStatus status,
        final int refusalBytes)
    {
        if (!session.canReserve(refusalBytes))
        {
            counters.backPressureEvents().incrementRelease();
            return Action.ABORT;
        }
        session.reserve(refusalBytes);
        acks.sendRefusal(session, correlationId, recordCount, status, refusalBytes);
        return Action.CONTINUE;
    }

    // ------------------------------------------------------------------------------------------
    // Batches: open, dispatch, complete
    // ------------------------------------------------------------------------------------------

    private boolean openBatch()
    {
        if (!inFlight[(int)((lastSeq + 1) & inFlightMask)].isFree() || !scheduler.canAssign())
        {
            return false;
        }
        final long gap = space.open();
        final int gapLengthBytes = gap < 0 ? 0 : RegionAllocator.lengthOf(gap);
        if (gapLengthBytes >= configuration.copyModeThresholdBytes() &&
            gapLengthBytes >= RecordFraming.MAX_FIXED_RECORD_LENGTH_BYTES)
        {
            assembler.open(spare, false, RegionAllocator.offsetOf(gap), Math.min(gapLengthBytes, configuration.maxBatchBytes()));
        }
        else
        {
            // The buffer is busy: the records travel inside the dispatch message instead of waiting.
            assembler.open(spare, true, 0, dispatcher.maxCopyModePayloadBytes());
        }
        spare = null;
        return true;
    }

    /**
     * Hands the assembled batch to a worker (or acks it at once when none of its records is for the
     * store).
     *
     * @return 1 when the batch left, 0 when it waits (a dispatch pending, no worker capacity, the ring full).
     */
    private int dispatchAssembled()
    {
        if (!assembler.hasSegments())
        {
            return 0;
        }
        final BatchSlot batch = assembler.batch();
        if (batch.recordCount == 0)
        {
            if (!acks.canLogAnswers(batch.segmentCount, batch.entryCount))
            {
                return 0; // its answers go to the log's note queue, which drains on the log tick
            }
            spare = assembler.close();
            for (int segment = 0; segment < batch.segmentCount; segment++)
            {
                acks.sendSegmentAck(batch, segment, true);
            }
            spare.reset();
            return 1;
        }
        final long seq = lastSeq + 1;
        final int ringIndex = (int)(seq & inFlightMask);
        if (!dispatcher.isIdle() || !scheduler.canAssign() || !inFlight[ringIndex].isFree() ||
            (null != snapshots && snapshots.isQuiescing()))
        {
            return 0;
        }
        final boolean copyMode = assembler.isCopyMode();
        if (null != log)
        {
            // Logged before it is dispatched: the log's order is the dispatch order, so replaying it keeps
            // every type's records in the order they were applied.
            final long logEndPosition = appendToLog(batch, seq, copyMode);
            if (0 == logEndPosition)
            {
                return 0;
            }
            batch.logEndPosition = logEndPosition;
        }
        assembler.close();
        final int worker = scheduler.assign(seq, batch.typeIds, batch.typeCount, batch.lengthBytes, barriers);
        batch.seq = seq;
        batch.worker = worker;
        batch.startPosition = workerDispatchedBytes[worker];
        workerDispatchedBytes[worker] += batch.lengthBytes;
        if (copyMode)
        {
            batch.regionId = BatchSlot.COPY_MODE;
            counters.copyModeDispatches().incrementRelease();
        }
        else
        {
            batch.regionId = space.commit(batch.offsetBytes, batch.lengthBytes);
        }
        if (barriers.count() > 0)
        {
            counters.barrierDispatches().incrementRelease();
        }
        batch.dispatchNs = System.nanoTime();
        spare = inFlight[ringIndex];
        inFlight[ringIndex] = batch;
        lastSeq = seq;
        counters.batches().incrementRelease();
        counters.bufferBytesFree().setRelease(space.freeBytes());
        dispatcher.dispatch(batch, barriers, copyMode ? assembler.copyBuffer() : null);
        return 1;
    }

    private long appendToLog(final BatchSlot batch, final long seq, final boolean copyMode)
    {
        final long position;
        try
        {
            position = log.append(batch, seq, copyMode ? assembler.copyBuffer() : modifyBuffer,
                copyMode ? 0 : batch.offsetBytes);
        }
        catch (final IllegalStateException ex)
        {
            throw errors.fatal(ex.getMessage(), null);
        }
        if (0 == position)
        {
            counters.logRetries().incrementRelease();
        }
        else
        {
            counters.logPosition().setRelease(position);
        }
        return position;
    }

    /**
     * Acks batches in seq order once each is applied and the archive has recorded it; takes a snapshot
     * when one is due and everything dispatched is acked.
     */
    private int ackInOrder()
    {
        int work = 0;
        if (completedThroughSeq < lastSeq)
        {
            final long recordedPosition = null == log ? Long.MAX_VALUE : log.recordedPosition();
            while (completedThroughSeq < lastSeq)
            {
                final BatchSlot batch = inFlight[(int)((completedThroughSeq + 1) & inFlightMask)];
                if (!batch.applied || batch.logEndPosition > recordedPosition)
                {
                    break;
                }
                for (int segment = 0; segment < batch.segmentCount; segment++)
                {
                    acks.sendSegmentAck(batch, segment, false);
                }
                // Applied, and in seq order: every type's ids come back in the order its records were applied.
                ids.freeGivenUp(batch);
                stageLatencies.record(batch.firstIngressNs, batch.dispatchNs, batch.applyStartNs, batch.applyEndNs,
                    System.nanoTime());
                batch.reset();
                completedThroughSeq++;
                work++;
            }
        }
        if (null != snapshots && snapshots.isQuiescing() && completedThroughSeq == lastSeq && dispatcher.isIdle() &&
            flushLogNotes())
        {
            // The log holds every answer the ledger does (notes flushed), and nothing it does not.
            snapshots.take(log.position(), lastSeq, nowNs);
            work++;
        }
        return work > 0 ? 1 : 0;
    }

    /**
     * @return true when no session note waits for the log.
     */
    private boolean flushLogNotes()
    {
        try
        {
            return log.flushNotes();
        }
        catch (final IllegalStateException ex)
        {
            throw errors.fatal(ex.getMessage(), null);
        }
    }

    private int onLogTick()
    {
        flushLogNotes(); // sessions opened and answers given while no batch was appended
        if (nowNs - nextLogCheckNs < 0)
        {
            return 0;
        }
        nextLogCheckNs = nowNs + LOG_CHECK_INTERVAL_NS;
        counters.logRecordedPosition().setRelease(log.recordedPosition());
        if (!log.isRecording())
        {
            throw errors.fatal("the archive stopped recording the log (recording " + log.recordingId() +
                "): no ack can be made durable; restart the driver, then the pipeline (it recovers from the log)", null);
        }
        if (null != snapshots)
        {
            snapshots.onTick(log.position(), nowNs);
        }
        return 0;
    }

    private void onApplied(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        try
        {
            if (!isWorkerSession(header.sessionId()))
            {
                rejections.reject("applied report from a stranger's publication");
                return;
            }
            final int check = WireBounds.checkBatchApplied(buffer, offset, length);
            if (check != WireBounds.OK)
            {
                throw errors.fatal("a worker's applied report is malformed: " + WireBounds.reason(check), null);
            }
            headerDecoder.wrap(buffer, offset);
            appliedDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
            complete(appliedDecoder);
        }
        catch (final PipelineErrors.Fatal ex)
        {
            fatal = ex;
        }
        catch (final Throwable ex)
        {
            errors.onError(ex);
            fatal = errors.fatal("handling a worker's applied report failed", ex);
        }
    }

    private boolean isWorkerSession(final int sessionId)
    {
        for (final int id : appliedSessionIds)
        {
            if (id == sessionId)
            {
                return true;
            }
        }
        return false;
    }

    private void complete(final BatchAppliedDecoder report)
    {
        final long seq = report.batchSeq();
        final BatchSlot batch = inFlight[(int)(seq & inFlightMask)];
        if (batch.seq != seq || seq <= completedThroughSeq || batch.applied)
        {
            throw errors.fatal("report for batch " + seq + " but its slot holds batch " + batch.seq, null);
        }
        if (report.worker() != batch.worker || report.recordCount() != batch.recordCount)
        {
            throw errors.fatal("report for batch " + seq + " from worker " + report.worker() + " with " +
                report.recordCount() + " records; it went to worker " + batch.worker + " with " + batch.recordCount, null);
        }
        for (final BatchAppliedDecoder.FailuresDecoder failure : report.failures())
        {
            final long recordIndex = failure.recordIndex();
            if (recordIndex >= batch.recordCount)
            {
                throw errors.fatal("report for batch " + seq + " names record " + recordIndex + " of " +
                    batch.recordCount, null);
            }
            batch.entryStatus[batch.bufferIndexToEntry[(int)recordIndex]] = (byte)failure.statusRaw();
        }
        batch.applyStartNs = report.applyStartNs();
        batch.applyEndNs = report.applyEndNs();
        if (batch.regionId != BatchSlot.COPY_MODE)
        {
            space.release(batch.regionId);
            batch.regionId = BatchSlot.COPY_MODE; // its bytes are free; reclaim must not look at them again
        }
        scheduler.onDone(batch.worker, seq);
        batch.applied = true; // acked in seq order once the log has it too (ackInOrder)
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
}
