package io.spate.pipeline;

import io.aeron.Aeron;
import io.aeron.ChannelUri;
import io.aeron.CommonContext;
import io.aeron.Counter;
import io.aeron.ExclusivePublication;
import io.aeron.Image;
import io.aeron.Publication;
import io.aeron.cluster.client.AeronCluster;
import io.aeron.cluster.client.ClusterException;
import io.aeron.cluster.codecs.CloseReason;
import io.aeron.cluster.service.ClientSession;
import io.aeron.cluster.service.Cluster;
import io.aeron.cluster.service.ClusteredService;
import io.aeron.logbuffer.FrameDescriptor;
import io.aeron.logbuffer.Header;
import io.aeron.logbuffer.LogBufferDescriptor;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordFraming;
import io.spate.codec.RecordReader;
import io.spate.codec.TypeDefinition;
import io.spate.codec.WireBounds;
import io.spate.store.ApplyResults;
import io.spate.store.NativeStore;
import io.spate.store.OffHeapBuffer;
import io.spate.wire.AckEncoder;
import io.spate.wire.BatchHeaderDecoder;
import io.spate.wire.MessageHeaderDecoder;
import io.spate.wire.MessageHeaderEncoder;
import io.spate.wire.ReadRequestDecoder;
import io.spate.wire.ReadResponseEncoder;
import io.spate.wire.RecordStatus;
import io.spate.wire.SessionSettingsEncoder;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.SystemUtil;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.concurrent.AgentTerminationException;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;

/**
 * Spate as an Aeron Cluster service: every node applies the committed log, in log order, to its own native store, so
 * all nodes hold equal stores; the leader answers.
 * <p>
 * Each log message is one producer batch (or a read). Applying it is a deterministic function of the log and the
 * state before it: the {@link BatchAssembler} validates the records and hands out ids from the replicated
 * {@link IdAllocator}, the store applies them, and the ack (created ids, per-record errors) is encoded from that
 * outcome alone. The ack is kept in the {@link AckLedger}, so a batch a client sends again after a leader change
 * (same session, same correlation id) is answered with its original ack and never applied twice.
 * <p>
 * <b>Answers.</b> Only the leader's egress reaches clients; a follower answers nothing. Every answer (SessionSettings,
 * acks, refusals, a duplicate's ack, ALREADY_APPLIED, reads) takes one path per session: offered at once when
 * nothing of the session waits, else kept in its {@link PendingAnswers} behind the others and offered again, in
 * order, at the start of every later log callback and from a cluster timer while the log is idle. Nothing is dropped
 * while the session lives: when its waiting answers pass their bound, or its egress is gone (CLOSED), the session is
 * closed ({@link Cluster#closeClientSession}, through the log, so every member closes it).
 * <p>
 * <b>The retry timer.</b> Each schedule has its own correlation id: the log position of the message it is scheduled
 * from, which no other schedule ever has (a member replays timer events it did not schedule, and Aeron's consensus
 * module then swallows that many later schedules of the same id). It backs off while nothing goes out, and is
 * cancelled once nothing waits. Retry timers take ids of 0 and above (log positions): any other timer of this
 * service must take negative ones. See docs/ARCHITECTURE.md, "Replication".
 * <p>
 * <b>Settings.</b> At every new leadership term each member offers its {@link ClusterServiceSettings} (and schema
 * hash) as a service message; the log carries the leader's, and every member, replays included, compares it with its
 * own, as it does the snapshot's. A member that differs stops (its {@link FatalHandler}), as it does on any
 * unexpected throwable in a log callback: going on would make it diverge.
 * <p>
 * The service sees a message only once the consensus module has committed it (appended on a majority), and the
 * leader acks after applying it: an ack means "on a majority's log, applied on the leader". Apply runs on the
 * service's thread, in log order. Snapshots (settings, store image, free ids, ack ledger) go through the cluster's
 * snapshot mechanism ({@link ClusterSnapshot}).
 */
public final class SpateClusteredService implements ClusteredService
{
    /** Counter type ids of the service (Aeron counters in the node's CnC; {@code bin/spate stat} shows them). */
    public static final int BATCHES_APPLIED_TYPE_ID = 1050;
    public static final int RECORDS_APPLIED_TYPE_ID = 1051;
    public static final int DUPLICATE_BATCHES_TYPE_ID = 1052;
    public static final int ACKS_SENT_TYPE_ID = 1053;
    public static final int EGRESS_RETRIES_TYPE_ID = 1054;
    public static final int SNAPSHOTS_TAKEN_TYPE_ID = 1055;
    public static final int REFUSED_BATCHES_TYPE_ID = 1056;
    public static final int ANSWERS_DISCARDED_TYPE_ID = 1057;
    public static final int ROLE_TYPE_ID = 1058;
    public static final int SESSIONS_CLOSED_TYPE_ID = 1059;
    public static final int ANSWERS_WAITING_BYTES_TYPE_ID = 1067;
    public static final int ACK_LEDGER_BYTES_TYPE_ID = 1068;

    /** Offers of one answer before it is left to wait for the retry. */
    private static final int EGRESS_ATTEMPTS = 3;
    /** The first delay of the retry timer, and the longest it backs off to while nothing goes out. */
    static final long RETRY_DELAY_MIN_MS = 1;
    static final long RETRY_DELAY_MAX_MS = 128;
    /**
     * A response channel without {@code term-length} is taken at Aeron's default term (16 MiB, messages of up to
     * 2 MiB): the members' drivers keep that default.
     */
    static final int DEFAULT_EGRESS_TERM_LENGTH = 16 * 1024 * 1024;
    private static final long NO_TIMER = Aeron.NULL_VALUE;
    private static final int SENT = 0;
    private static final int WAIT = 1;
    private static final int GONE = 2;
    private static final int TOO_LONG = 3;

    private final DatabaseSchema schema;
    private final ClusterServiceSettings settings;
    private final RecordReader headerReader;
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final AckEncoder ackEncoder = new AckEncoder();
    private final ReadRequestDecoder readRequestDecoder = new ReadRequestDecoder();
    private final ReadResponseEncoder readResponseEncoder = new ReadResponseEncoder();
    private final SessionSettingsEncoder sessionSettingsEncoder = new SessionSettingsEncoder();
    private final AckLedger ledger;
    private final PendingAnswers pending;
    /** Egress message limit by session: a function of its response channel, kept once worked out. */
    private final Long2LongHashMap egressLimitBySession = new Long2LongHashMap(-1);
    /** Correlation id and sequence then the ack: a ledger entry as it is built. */
    private final UnsafeBuffer entryBuffer;
    /** The ack part of {@link #entryBuffer}, where acks are encoded. */
    private final UnsafeBuffer ackView;
    /** Answers that are not kept in the ledger: SessionSettings, ALREADY_APPLIED, refusals of unnamed batches. */
    private final UnsafeBuffer answerBuffer;
    private final UnsafeBuffer readAnswerBuffer;
    private final UnsafeBuffer settingsMessage = new UnsafeBuffer(new byte[ClusterServiceSettings.REPLICATED_LENGTH_BYTES]);
    private final int maxTypeId;
    private IdAllocator ids;

    private Cluster cluster;
    private NativeStore store;
    private OffHeapBuffer modifyBuffer;
    private OffHeapBuffer progress;
    private OffHeapBuffer nodeCopy;
    private ApplyResults results;
    private BatchAssembler assembler;
    private BatchSlot slot;
    private Counter batchesApplied;
    private Counter recordsApplied;
    private Counter duplicateBatches;
    private Counter acksSent;
    private Counter egressRetries;
    private Counter snapshotsTaken;
    private Counter refusedBatches;
    private Counter answersDiscarded;
    private Counter roleCounter;
    private Counter sessionsClosed;
    private Counter answersWaitingBytes;
    private Counter ackLedgerBytes;
    private StoreCounters storeCounters;
    /** Batches and records applied since the cluster began: replicated state, carried in snapshots. */
    private final long[] appliedTotals = new long[2];
    private java.nio.file.Path fingerprintFile;
    private FatalHandler fatalHandler = FatalHandler.HALT;
    /** Set once this member stopped applying (its fatal handler returned: tests); nothing more is done. */
    private boolean failed;
    private long retryTimerId = NO_TIMER;
    /** The retry timer's next delay, in milliseconds. */
    private long retryDelayMs = RETRY_DELAY_MIN_MS;
    private final KeptAckSender keptAckSender = new KeptAckSender();
    private final WaitingSender waitingSender = new WaitingSender();
    private final Flusher flusher = new Flusher();

    /** What the service does when going on would make this member diverge from the others. */
    @FunctionalInterface
    public interface FatalHandler
    {
        /** Stops the process at once (exit status 70), saying why on stderr: nothing more is applied. */
        FatalHandler HALT = reason ->
        {
            try
            {
                System.err.println("node: fatal: " + reason + "; stopping this member so that it cannot diverge");
                System.err.flush();
            }
            finally
            {
                Runtime.getRuntime().halt(70); // even when saying why failed (out of memory)
            }
        };

        /**
         * @param reason one line.
         */
        void onFatal(String reason);
    }

    /**
     * @param handler called instead of halting when this member cannot go on without diverging (tests).
     * @return this.
     */
    public SpateClusteredService fatalHandler(final FatalHandler handler)
    {
        this.fatalHandler = handler;
        return this;
    }

    /**
     * @param schema   the database schema; every node of a cluster must run the same one (its hash travels in
     *                 snapshots, every batch and the settings message).
     * @param settings limits of the service; every node must run the same ones.
     */
    public SpateClusteredService(final DatabaseSchema schema, final ClusterServiceSettings settings)
    {
        this.schema = schema;
        this.settings = settings;
        this.headerReader = new RecordReader(schema);
        final int maxAckBytes = AckWriter.maxAckBytes(settings.maxRecordsPerBatch());
        this.ledger = new AckLedger(settings.ackLedgerBatches(), settings.ackLedgerSessionBytes(),
            settings.ackLedgerTotalBytes(), maxAckBytes);
        final int maxReadAnswerBytes = ReadQueue.maxAnswerBytes(schema);
        if (PendingAnswers.entryBytes(maxReadAnswerBytes) > settings.egressBacklogBytes())
        {
            throw new IllegalArgumentException("egress backlog bytes " + settings.egressBacklogBytes() +
                " hold no read answer of schema " + schema.name() + " (" + maxReadAnswerBytes + " bytes)");
        }
        this.pending = new PendingAnswers(settings.egressBacklogBytes());
        this.entryBuffer = new UnsafeBuffer(new byte[AckLedger.ENTRY_HEADER_BYTES + maxAckBytes]);
        this.ackView = new UnsafeBuffer(entryBuffer, AckLedger.ENTRY_HEADER_BYTES, maxAckBytes);
        this.answerBuffer = new UnsafeBuffer(new byte[256]);
        this.readAnswerBuffer = new UnsafeBuffer(new byte[maxReadAnswerBytes]);
        int maxTypeId = 0;
        for (final TypeDefinition type : schema.types())
        {
            maxTypeId = Math.max(maxTypeId, type.typeId());
        }
        this.maxTypeId = maxTypeId;
    }

    public void onStart(final Cluster cluster, final Image snapshotImage)
    {
        try
        {
            start(cluster, snapshotImage);
        }
        catch (final AgentTerminationException ex)
        {
            throw ex;
        }
        catch (final ClusterException ex)
        {
            fatal("cannot start from its snapshot: " + oneLine(ex.getMessage()));
        }
        catch (final Throwable ex)
        {
            fatal("cannot start: " + describe(ex));
        }
    }

    private void start(final Cluster cluster, final Image snapshotImage)
    {
        this.cluster = cluster;
        final Aeron aeron = cluster.aeron();
        batchesApplied = aeron.addCounter(BATCHES_APPLIED_TYPE_ID, "spate cluster: batches applied");
        recordsApplied = aeron.addCounter(RECORDS_APPLIED_TYPE_ID, "spate cluster: records applied");
        duplicateBatches = aeron.addCounter(DUPLICATE_BATCHES_TYPE_ID, "spate cluster: batches sent again, not applied");
        acksSent = aeron.addCounter(ACKS_SENT_TYPE_ID, "spate cluster: answers sent");
        egressRetries = aeron.addCounter(EGRESS_RETRIES_TYPE_ID, "spate cluster: egress offer retries");
        snapshotsTaken = aeron.addCounter(SNAPSHOTS_TAKEN_TYPE_ID, "spate cluster: snapshots taken");
        refusedBatches = aeron.addCounter(REFUSED_BATCHES_TYPE_ID, "spate cluster: batches refused whole");
        answersDiscarded = aeron.addCounter(ANSWERS_DISCARDED_TYPE_ID,
            "spate cluster: answers to a session closed or closing");
        roleCounter = aeron.addCounter(ROLE_TYPE_ID, "spate cluster: service role (0 follower 1 candidate 2 leader)");
        sessionsClosed = aeron.addCounter(SESSIONS_CLOSED_TYPE_ID,
            "spate cluster: sessions closed by the service (answers past their bound, egress gone)");
        answersWaitingBytes = aeron.addCounter(ANSWERS_WAITING_BYTES_TYPE_ID,
            "spate cluster: bytes of answers waiting for egress");
        ackLedgerBytes = aeron.addCounter(ACK_LEDGER_BYTES_TYPE_ID, "spate cluster: bytes of acks in the ack ledger");

        store = NativeStore.open(schema);
        storeCounters = new StoreCounters(aeron, schema);
        modifyBuffer = new OffHeapBuffer(settings.maxBatchBytes());
        progress = new OffHeapBuffer(OffHeapBuffer.ALIGNMENT_BYTES);
        nodeCopy = new OffHeapBuffer(NativeStore.maxNodeLengthBytes(schema));
        results = new ApplyResults(settings.maxRecordsPerBatch());
        slot = new BatchSlot(settings.maxRecordsPerBatch(), maxTypeId);
        // Replicated state: empty at the cluster's start, else exactly as the snapshot has it (its free ids in
        // their order, so this member hands out the same ids as the others).
        ids = new IdAllocator(schema, store);
        if (null != snapshotImage)
        {
            ClusterSnapshot.load(snapshotImage, cluster.idleStrategy(), schema, settings, store, ids, appliedTotals,
                ledger);
        }
        assembler = new BatchAssembler(schema, modifyBuffer.buffer(), settings.maxBatchBytes(),
            settings.maxRecordsPerBatch(), ids, FaultInjector.NONE);
        batchesApplied.setRelease(appliedTotals[0]);
        recordsApplied.setRelease(appliedTotals[1]);
        roleCounter.setRelease(cluster.role().code());
    }

    // ---------------------------------------------------------------------------------------------------------
    // Log callbacks: each one guarded, any throwable stops the member (Aeron would otherwise skip the message on
    // this member alone, or end the service's thread while its consensus module goes on voting).

    public void onSessionOpen(final ClientSession session, final long timestamp)
    {
        if (failed)
        {
            return;
        }
        try
        {
            ledger.session(session.id());
            flush();
            sendSessionSettings(session);
        }
        catch (final AgentTerminationException ex)
        {
            throw ex;
        }
        catch (final Throwable ex)
        {
            fatal(ex, "opening session " + session.id());
        }
    }

    public void onSessionClose(final ClientSession session, final long timestamp, final CloseReason closeReason)
    {
        if (failed)
        {
            return;
        }
        try
        {
            final long sessionId = session.id();
            ledger.remove(sessionId);
            answersDiscarded.getAndAddRelease(pending.remove(sessionId));
            egressLimitBySession.remove(sessionId);
            flush();
        }
        catch (final AgentTerminationException ex)
        {
            throw ex;
        }
        catch (final Throwable ex)
        {
            fatal(ex, "closing session " + session.id());
        }
    }

    public void onSessionMessage(
        final ClientSession session,
        final long timestamp,
        final DirectBuffer buffer,
        final int offset,
        final int length,
        final Header header)
    {
        if (failed)
        {
            return;
        }
        try
        {
            if (null == session)
            {
                onServiceMessage(buffer, offset, length);
                return;
            }
            flush();
            onClientMessage(session, buffer, offset, length);
        }
        catch (final AgentTerminationException ex)
        {
            throw ex;
        }
        catch (final Throwable ex)
        {
            fatal(ex, "a message of session " + (null == session ? "(service)" : Long.toString(session.id())) +
                " at log position " + cluster.logPosition());
        }
    }

    /**
     * The unsent-answer timer (any correlation id: a timer of an earlier leadership may fire late, and it does the
     * same). Offers what waits; arms the next when some still waits, backing off while nothing goes out. Nothing
     * replicated is touched, so followers (which hold nothing) do nothing.
     */
    public void onTimerEvent(final long correlationId, final long timestamp)
    {
        if (failed)
        {
            return;
        }
        try
        {
            if (correlationId == retryTimerId)
            {
                retryTimerId = NO_TIMER;
            }
            final boolean sent = flush() > 0;
            if (pending.hasAny() && NO_TIMER == retryTimerId)
            {
                retryDelayMs = sent ? RETRY_DELAY_MIN_MS : Math.min(2 * retryDelayMs, RETRY_DELAY_MAX_MS);
                armRetryTimer();
            }
        }
        catch (final AgentTerminationException ex)
        {
            throw ex;
        }
        catch (final Throwable ex)
        {
            fatal(ex, "timer event " + correlationId);
        }
    }

    /**
     * A new term: the retry timer starts afresh (a new id when one is needed), and this member offers its settings,
     * as every member does here (Aeron appends the leader's, and a follower's are matched to the leader's copies).
     */
    public void onNewLeadershipTermEvent(
        final long leadershipTermId,
        final long logPosition,
        final long timestamp,
        final long termBaseLogPosition,
        final int leaderMemberId,
        final int logSessionId,
        final TimeUnit timeUnit,
        final int appVersion)
    {
        if (failed)
        {
            return;
        }
        try
        {
            retryTimerId = NO_TIMER;
            retryDelayMs = RETRY_DELAY_MIN_MS;
            offerSettings();
            flush();
            if (pending.hasAny())
            {
                armRetryTimer();
            }
        }
        catch (final AgentTerminationException ex)
        {
            throw ex;
        }
        catch (final Throwable ex)
        {
            fatal(ex, "the new leadership term " + leadershipTermId);
        }
    }

    public void onRoleChange(final Cluster.Role newRole)
    {
        if (failed)
        {
            return;
        }
        try
        {
            roleCounter.setRelease(newRole.code());
            // Whatever timer was armed belongs to the earlier role; a leader arms a new one when it needs one.
            retryTimerId = NO_TIMER;
            retryDelayMs = RETRY_DELAY_MIN_MS;
            if (newRole != Cluster.Role.LEADER)
            {
                // Only the leader's egress is real: what waited here is gone with it (clients resend to the new one).
                answersDiscarded.getAndAddRelease(pending.clearAll());
            }
        }
        catch (final AgentTerminationException ex)
        {
            throw ex;
        }
        catch (final Throwable ex)
        {
            fatal(ex, "the role change to " + newRole);
        }
    }

    public void onTakeSnapshot(final ExclusivePublication snapshotPublication)
    {
        if (failed)
        {
            throw new ClusterException("this member stopped applying: no snapshot");
        }
        try
        {
            ClusterSnapshot.write(snapshotPublication, cluster.idleStrategy(), schema, settings, store, ids,
                appliedTotals, ledger);
            snapshotsTaken.incrementRelease();
        }
        catch (final AgentTerminationException ex)
        {
            throw ex;
        }
        catch (final Throwable ex)
        {
            // A snapshot the cluster waits for and never gets would hold the cluster in its SNAPSHOT state.
            fatal(ex, "taking a snapshot at log position " + cluster.logPosition());
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Messages

    /**
     * A service message: only this service offers any (its settings, at each new term), so it must be the
     * settings this member runs with.
     */
    private void onServiceMessage(final DirectBuffer buffer, final int offset, final int length)
    {
        final String difference = settings.differenceFromReplicated(buffer, offset, length, schema.hash());
        if (null != difference)
        {
            fatal("the cluster's log was written with other settings than this member's: " + difference +
                "; start it with the schema and spate.cluster.* properties of the others");
        }
    }

    private void onClientMessage(final ClientSession session, final DirectBuffer buffer, final int offset, final int length)
    {
        if (length < RecordFraming.HEADER_LENGTH_BYTES)
        {
            refusedBatches.incrementRelease();
            return;
        }
        headerDecoder.wrap(buffer, offset);
        if (headerDecoder.schemaId() != RecordFraming.SCHEMA_ID)
        {
            refusedBatches.incrementRelease();
            return;
        }
        switch (headerDecoder.templateId())
        {
            case RecordReader.BATCH_HEADER -> onClientBatch(session, buffer, offset, length);
            case ReadRequestDecoder.TEMPLATE_ID -> onReadRequest(session, buffer, offset, length);
            default -> refusedBatches.incrementRelease(); // nothing to answer: no correlation id to name
        }
    }

    private void onClientBatch(final ClientSession session, final DirectBuffer buffer, final int offset, final int length)
    {
        headerReader.wrap(buffer, offset, length);
        headerReader.next();
        if (headerReader.status() != RecordStatus.OK.value())
        {
            onMalformedHeader(session, buffer, offset, length, headerReader.status());
            return;
        }
        final long correlationId = headerReader.batchCorrelationId();
        final long declaredRecordCount = headerReader.batchRecordCount();
        if (correlationId <= 0)
        {
            // Correlation ids start at 1 (0 is "none answered yet"): never applied, never in the ledger.
            refuseUnrecorded(session, correlationId, declaredRecordCount, RecordStatus.MALFORMED);
            return;
        }
        final AckLedger.SessionAcks acks = ledger.session(session.id());
        if (correlationId <= acks.lastCorrelationId)
        {
            onBatchSentAgain(session, acks, correlationId, declaredRecordCount);
            return;
        }
        RecordStatus refusal = null;
        if (headerReader.batchSchemaHash() != schema.hash())
        {
            refusal = RecordStatus.SCHEMA_MISMATCH;
        }
        else if (declaredRecordCount > settings.maxRecordsPerBatch() ||
            AckWriter.maxAckBytes(declaredRecordCount) > egressLimit(session))
        {
            // More records than a batch may have, or than an ack on this client's egress can name.
            refusal = RecordStatus.VALUE_TOO_LARGE;
        }
        if (null == refusal)
        {
            assembler.open(slot, false, 0, settings.maxBatchBytes());
            final int result;
            try
            {
                result = assembler.append(session.id(), buffer, offset, length);
            }
            finally
            {
                assembler.close();
            }
            switch (result)
            {
                case BatchAssembler.APPENDED -> apply(session, acks, correlationId);
                case BatchAssembler.MALFORMED -> refusal = RecordStatus.MALFORMED;
                default -> refusal = RecordStatus.VALUE_TOO_LARGE; // more bytes than the service's batch buffer
            }
        }
        if (null != refusal)
        {
            refusedBatches.incrementRelease();
            final int ackLengthBytes = AckWriter.encodeRefusal(
                session.id(), correlationId, declaredRecordCount, refusal, ackView, ackEncoder, headerEncoder);
            recordAndAnswer(session, acks, correlationId, ackLengthBytes);
        }
    }

    /**
     * A batch whose header does not check out: answered with its status (MALFORMED, or SCHEMA_MISMATCH for a wire
     * version this member does not read) when its correlation id can be read, as any batch, in the ledger; else
     * only counted.
     */
    private void onMalformedHeader(
        final ClientSession session, final DirectBuffer buffer, final int offset, final int length, final int status)
    {
        refusedBatches.incrementRelease();
        final int blockOffset = offset + RecordFraming.HEADER_LENGTH_BYTES;
        final int correlationIdEnd = blockOffset + BatchHeaderDecoder.correlationIdEncodingOffset() + Long.BYTES;
        if (correlationIdEnd > offset + length)
        {
            return;
        }
        final long correlationId = buffer.getLong(blockOffset + BatchHeaderDecoder.correlationIdEncodingOffset(),
            ByteOrder.LITTLE_ENDIAN);
        final int countEnd = blockOffset + BatchHeaderDecoder.recordCountEncodingOffset() + Integer.BYTES;
        final long declaredRecordCount = countEnd <= offset + length ? buffer.getInt(
            blockOffset + BatchHeaderDecoder.recordCountEncodingOffset(), ByteOrder.LITTLE_ENDIAN) & 0xFFFF_FFFFL : 0;
        final RecordStatus refusal = status == RecordStatus.SCHEMA_MISMATCH.value() ?
            RecordStatus.SCHEMA_MISMATCH : RecordStatus.MALFORMED;
        if (correlationId <= 0)
        {
            refuseUnrecorded(session, correlationId, declaredRecordCount, refusal);
            return;
        }
        final AckLedger.SessionAcks acks = ledger.session(session.id());
        if (correlationId <= acks.lastCorrelationId)
        {
            onBatchSentAgain(session, acks, correlationId, declaredRecordCount);
            return;
        }
        final int ackLengthBytes = AckWriter.encodeRefusal(
            session.id(), correlationId, declaredRecordCount, refusal, ackView, ackEncoder, headerEncoder);
        recordAndAnswer(session, acks, correlationId, ackLengthBytes);
    }

    /**
     * Sent again (after a leader change): answered as the first time, from the ledger, or ALREADY_APPLIED when its
     * ack has left it; never applied twice.
     */
    private void onBatchSentAgain(
        final ClientSession session,
        final AckLedger.SessionAcks acks,
        final long correlationId,
        final long declaredRecordCount)
    {
        duplicateBatches.incrementRelease();
        if (cluster.role() != Cluster.Role.LEADER)
        {
            return; // a follower answers nothing
        }
        keptAckSender.session = session;
        final boolean kept = ledger.find(acks, correlationId, keptAckSender);
        keptAckSender.session = null;
        if (!kept)
        {
            refuseUnrecorded(session, correlationId, declaredRecordCount, RecordStatus.ALREADY_APPLIED);
        }
    }

    /** An answer of the whole batch that the ledger does not keep. */
    private void refuseUnrecorded(
        final ClientSession session, final long correlationId, final long declaredRecordCount, final RecordStatus status)
    {
        final int lengthBytes = AckWriter.encodeRefusal(session.id(), correlationId, declaredRecordCount, status,
            answerBuffer, ackEncoder, headerEncoder);
        answer(session, answerBuffer, 0, lengthBytes);
    }

    private void apply(final ClientSession session, final AckLedger.SessionAcks acks, final long correlationId)
    {
        final int recordCount = slot.recordCount;
        if (slot.lengthBytes > 0)
        {
            final int walked;
            try
            {
                walked = store.apply(modifyBuffer.address(), slot.lengthBytes, progress.address(), results);
            }
            catch (final RuntimeException ex)
            {
                fatal("the store failed applying session " + session.id() + " batch " + correlationId + ": " +
                    oneLine(String.valueOf(ex)));
                return;
            }
            if (walked != recordCount)
            {
                // A store that does not walk every validated record is a bug that would make this member's
                // state differ from the others': the member stops rather than diverge (and a restart replays
                // the log from the last snapshot).
                fatal("the store walked " + walked + " of " + recordCount + " validated records of session " +
                    session.id() + " batch " + correlationId);
                return;
            }
            for (int i = 0; i < walked; i++)
            {
                final int status = results.status(i);
                if (status != RecordStatus.OK.value())
                {
                    slot.entryStatus[slot.bufferIndexToEntry[i]] = (byte)status;
                }
            }
        }
        // Applied, in log order, on every member alike: the ids it gave up are reusable from the next message on.
        ids.freeGivenUp(slot);
        int applied = 0;
        for (int i = 0; i < slot.entryCount; i++)
        {
            if (slot.entryStatus[i] == RecordStatus.OK.value())
            {
                applied++;
            }
        }
        batchesApplied.setRelease(++appliedTotals[0]);
        recordsApplied.setRelease(appliedTotals[1] += applied);
        final int ackLengthBytes = AckWriter.encodeSegmentAck(slot, 0, session.id(), ackView, ackEncoder, headerEncoder);
        recordAndAnswer(session, acks, correlationId, ackLengthBytes);
    }

    /** Keeps the ack in the ledger (every member), then answers it (the leader). */
    private void recordAndAnswer(
        final ClientSession session,
        final AckLedger.SessionAcks acks,
        final long correlationId,
        final int ackLengthBytes)
    {
        ledger.record(acks, correlationId, entryBuffer, AckLedger.ENTRY_HEADER_BYTES + ackLengthBytes);
        answer(session, entryBuffer, AckLedger.ENTRY_HEADER_BYTES, ackLengthBytes);
    }

    private void onReadRequest(final ClientSession session, final DirectBuffer buffer, final int offset, final int length)
    {
        if (WireBounds.checkReadRequest(buffer, offset, length) != WireBounds.OK)
        {
            refusedBatches.incrementRelease();
            return;
        }
        if (cluster.role() != Cluster.Role.LEADER)
        {
            return; // a read changes nothing: only the leader, whose egress is real, works it out
        }
        readRequestDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
        final long correlationId = readRequestDecoder.correlationId();
        final int typeId = readRequestDecoder.typeId();
        int lengthBytes = ReadQueue.encodeAnswer(schema, store, session.id(), correlationId, typeId,
            readRequestDecoder.nodeId(), (byte)readRequestDecoder.kindRaw(), nodeCopy, readAnswerBuffer,
            readResponseEncoder, headerEncoder);
        if (lengthBytes > egressLimit(session))
        {
            // The node does not fit this client's egress messages: said so instead of closing its session.
            readResponseEncoder.wrapAndApplyHeader(readAnswerBuffer, 0, headerEncoder)
                .sessionId(session.id())
                .correlationId(correlationId)
                .count(0)
                .typeId(typeId)
                .status(RecordStatus.VALUE_TOO_LARGE);
            readResponseEncoder.putNode(readAnswerBuffer, 0, 0);
            lengthBytes = MessageHeaderEncoder.ENCODED_LENGTH + readResponseEncoder.encodedLength();
            headerEncoder.frameLengthBytes(lengthBytes);
        }
        answer(session, readAnswerBuffer, 0, lengthBytes);
    }

    /**
     * Tells a new session the bounds it keeps to: the ack ledger's acks per session (it keeps no more batches
     * unanswered), the batch bytes, and the records per batch whose ack fits its egress.
     */
    private void sendSessionSettings(final ClientSession session)
    {
        if (cluster.role() != Cluster.Role.LEADER)
        {
            return;
        }
        final long perRecordBytes = AckWriter.maxAckBytes(1) - AckWriter.maxAckBytes(0);
        final long recordsThatFit = (egressLimit(session) - AckWriter.maxAckBytes(0)) / perRecordBytes;
        sessionSettingsEncoder.wrapAndApplyHeader(answerBuffer, 0, headerEncoder)
            .sessionId(session.id())
            .ledgerBatches(settings.ackLedgerBatches())
            .maxBatchBytes(settings.maxBatchBytes())
            .maxRecordsPerBatch(Math.max(0, Math.min(settings.maxRecordsPerBatch(), recordsThatFit)));
        final int lengthBytes = MessageHeaderEncoder.ENCODED_LENGTH + sessionSettingsEncoder.encodedLength();
        headerEncoder.frameLengthBytes(lengthBytes);
        answer(session, answerBuffer, 0, lengthBytes);
    }

    /** Sends an ack found in the ledger again (a field: nothing allocated per duplicate). */
    private final class KeptAckSender implements AckLedger.AckVisitor
    {
        private ClientSession session;

        public boolean onAck(final long correlationId, final MutableDirectBuffer buffer, final int offset, final int length)
        {
            answer(session, buffer, offset, length);
            return false;
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Answers: the one path

    /**
     * Answers a session: offered now when nothing of it waits, else kept behind what waits (the retry timer armed).
     * A follower answers nothing. A session closing or closed gets nothing (counted).
     */
    private void answer(final ClientSession session, final DirectBuffer buffer, final int offset, final int length)
    {
        if (cluster.role() != Cluster.Role.LEADER)
        {
            return;
        }
        if (session.isClosing())
        {
            answersDiscarded.incrementRelease();
            return;
        }
        final long sessionId = session.id();
        if (pending.isEmpty(sessionId))
        {
            final int outcome = offer(session, buffer, offset, length);
            if (outcome == SENT)
            {
                return;
            }
            if (outcome != WAIT)
            {
                answersDiscarded.incrementRelease();
                closeSession(session);
                return;
            }
        }
        if (!pending.add(sessionId, buffer, offset, length))
        {
            // Past the bound of answers waiting: the client is not reading. Its session is closed, not an answer lost.
            answersDiscarded.getAndAddRelease(1 + pending.clear(sessionId));
            closeSession(session);
            return;
        }
        armRetryTimer();
    }

    /**
     * The one place egress is offered.
     *
     * @return SENT; WAIT when the egress pushed back or is not connected (yet, or for now: the session's timeout
     * decides whether it comes back); GONE when it is closed; TOO_LONG when it cannot carry the message.
     */
    private int offer(final ClientSession session, final DirectBuffer buffer, final int offset, final int length)
    {
        for (int attempt = 0; attempt < EGRESS_ATTEMPTS; attempt++)
        {
            final long result;
            try
            {
                result = session.offer(buffer, offset, length);
            }
            catch (final IllegalArgumentException ex)
            {
                return TOO_LONG; // longer than its publication's max message (a driver with a shorter default term)
            }
            if (result > 0)
            {
                acksSent.incrementRelease();
                return SENT;
            }
            if (result == Publication.CLOSED || result == Publication.MAX_POSITION_EXCEEDED)
            {
                return GONE;
            }
            egressRetries.incrementRelease(); // BACK_PRESSURED, ADMIN_ACTION, NOT_CONNECTED: the same bytes again
        }
        return WAIT;
    }

    /**
     * Closes a session through the log (every member closes it at onSessionClose), with Aeron's reason
     * SERVICE_ACTION; what waited for it is dropped.
     */
    private void closeSession(final ClientSession session)
    {
        answersDiscarded.getAndAddRelease(pending.clear(session.id()));
        if (session.isClosing())
        {
            return;
        }
        final IdleStrategy idle = cluster.idleStrategy();
        idle.reset();
        while (!cluster.closeClientSession(session.id()))
        {
            idle.idle();
        }
        sessionsClosed.incrementRelease();
    }

    /**
     * Offers what waits, each session's oldest first, until its egress pushes back; cancels the retry timer once
     * nothing waits.
     *
     * @return answers sent.
     */
    private int flush()
    {
        if (!pending.hasAny())
        {
            return 0;
        }
        flusher.sent = 0;
        if (cluster.role() != Cluster.Role.LEADER)
        {
            answersDiscarded.getAndAddRelease(pending.clearAll());
        }
        else
        {
            pending.forEachSessionWaiting(flusher);
        }
        if (!pending.hasAny())
        {
            if (NO_TIMER != retryTimerId)
            {
                cluster.cancelTimer(retryTimerId); // refused: it fires, finds nothing, and arms nothing
                retryTimerId = NO_TIMER;
            }
            retryDelayMs = RETRY_DELAY_MIN_MS;
        }
        return flusher.sent;
    }

    private final class Flusher implements org.agrona.collections.LongLongConsumer
    {
        int sent;

        public void accept(final long sessionId, final long waiting)
        {
            final ClientSession session = cluster.getClientSession(sessionId);
            if (null == session || session.isClosing())
            {
                answersDiscarded.getAndAddRelease(pending.clear(sessionId));
                return;
            }
            waitingSender.session = session;
            waitingSender.outcome = SENT;
            sent += pending.drain(sessionId, waitingSender);
            waitingSender.session = null;
            if (waitingSender.outcome == GONE || waitingSender.outcome == TOO_LONG)
            {
                closeSession(session);
            }
        }
    }

    private final class WaitingSender implements PendingAnswers.Sender
    {
        ClientSession session;
        int outcome;

        public boolean send(final DirectBuffer buffer, final int offset, final int length)
        {
            outcome = offer(session, buffer, offset, length);
            return outcome == SENT;
        }
    }

    /**
     * Arms the retry timer unless it is armed. Its correlation id is the log position of the message being handled:
     * each schedule's own, and the same on any member that would schedule there. A refused schedule (the consensus
     * module's queue from this service full) is retried here, idling as the container does between its own
     * attempts: on an idle cluster no later message would come to retry it from, and Aeron refuses schedules from
     * doBackgroundWork.
     */
    private void armRetryTimer()
    {
        if (NO_TIMER != retryTimerId)
        {
            return;
        }
        final long correlationId = cluster.logPosition();
        final TimeUnit timeUnit = cluster.timeUnit(); // the log's: known from the first leadership term event on
        final long deadline = cluster.time() +
            (null == timeUnit ? retryDelayMs : Math.max(1, timeUnit.convert(retryDelayMs, TimeUnit.MILLISECONDS)));
        final IdleStrategy idle = cluster.idleStrategy();
        idle.reset();
        while (!cluster.scheduleTimer(correlationId, deadline))
        {
            idle.idle();
        }
        retryTimerId = correlationId;
    }

    /**
     * Every member offers the same settings message at the same place in the log (Aeron's service messages are
     * matched that way); the CM's queue pushing back is waited out, as Aeron's own service does for its acks.
     */
    private void offerSettings()
    {
        final int length = settings.encodeReplicated(settingsMessage, 0, schema.hash());
        final IdleStrategy idle = cluster.idleStrategy();
        idle.reset();
        while (true)
        {
            final long result = cluster.offer(settingsMessage, 0, length);
            if (result > 0)
            {
                return;
            }
            if (result != Publication.BACK_PRESSURED && result != Publication.ADMIN_ACTION)
            {
                throw new ClusterException("the settings message was refused: " + Publication.errorString(result));
            }
            idle.idle();
        }
    }

    /**
     * @return the longest answer this session's egress carries: a message of its response channel's term (its
     * {@code term-length}, else Aeron's default) less the cluster's session header. A function of the channel, which
     * the log carries: the same on every member.
     */
    private int egressLimit(final ClientSession session)
    {
        final long sessionId = session.id();
        long limit = egressLimitBySession.get(sessionId);
        if (limit < 0)
        {
            limit = egressLimitBytes(session.responseChannel());
            egressLimitBySession.put(sessionId, limit);
        }
        return (int)limit;
    }

    static int egressLimitBytes(final String responseChannel)
    {
        int termLength = DEFAULT_EGRESS_TERM_LENGTH;
        try
        {
            final String value = ChannelUri.parse(responseChannel).get(CommonContext.TERM_LENGTH_PARAM_NAME);
            if (null != value)
            {
                final long length = SystemUtil.parseSize(CommonContext.TERM_LENGTH_PARAM_NAME, value);
                if (length < LogBufferDescriptor.TERM_MIN_LENGTH || length > LogBufferDescriptor.TERM_MAX_LENGTH)
                {
                    throw new IllegalArgumentException("term length " + length);
                }
                LogBufferDescriptor.checkTermLength((int)length);
                termLength = (int)length;
            }
        }
        catch (final RuntimeException ex)
        {
            termLength = DEFAULT_EGRESS_TERM_LENGTH; // Aeron would not have opened it: whatever it is, the same everywhere
        }
        return FrameDescriptor.computeMaxMessageLength(termLength) - AeronCluster.SESSION_HEADER_LENGTH;
    }

    /**
     * Between log messages: the store's per-type figures and the service's gauges into their counters (reads only;
     * nothing replicated).
     */
    public int doBackgroundWork(final long nowNs)
    {
        if (null == storeCounters || failed)
        {
            return 0;
        }
        ackLedgerBytes.setRelease(ledger.totalBytes());
        answersWaitingBytes.setRelease(pending.totalBytes());
        return storeCounters.sample(store, nowNs);
    }

    public void onTerminate(final Cluster cluster)
    {
        try
        {
            if (!failed)
            {
                writeFingerprint(cluster.logPosition());
            }
        }
        finally
        {
            close();
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Stopping

    private void fatal(final Throwable ex, final String where)
    {
        String reason;
        try
        {
            reason = "unexpected " + describe(ex) + " in " + where;
        }
        catch (final Throwable ignore)
        {
            reason = "unexpected " + ex.getClass().getName(); // out of memory for more
        }
        fatal(reason);
    }

    private void fatal(final String reason)
    {
        failed = true;
        fatalHandler.onFatal(reason);
    }

    private static String describe(final Throwable ex)
    {
        return oneLine(String.valueOf(ex)) + (null == ex.getStackTrace() || 0 == ex.getStackTrace().length ? "" :
            " at " + ex.getStackTrace()[0]);
    }

    private static String oneLine(final String text)
    {
        return null == text ? "" : text.replace('\n', ' ').replace('\r', ' ');
    }

    /**
     * On stop, {@code fingerprintFile} gets the log position this node applied up to and its store's per-type counts
     * and checksums: two members stopped at the same position must print the same.
     */
    private void writeFingerprint(final long logPosition)
    {
        if (null == fingerprintFile || null == store || store.isClosed())
        {
            return;
        }
        final String text = "logPosition=" + logPosition + " batches=" + appliedTotals[0] + " " +
            store.contentFingerprint() + System.lineSeparator();
        try
        {
            final java.nio.file.Path temp = fingerprintFile.resolveSibling(fingerprintFile.getFileName() + ".tmp");
            java.nio.file.Files.writeString(temp, text);
            java.nio.file.Files.move(temp, fingerprintFile, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        }
        catch (final java.io.IOException ex)
        {
            throw new java.io.UncheckedIOException("cannot write the store fingerprint to " + fingerprintFile, ex);
        }
    }

    /**
     * @param file where {@link #onTerminate} writes the applied log position and the store's fingerprint.
     * @return this.
     */
    public SpateClusteredService fingerprintFile(final java.nio.file.Path file)
    {
        this.fingerprintFile = file;
        return this;
    }

    /**
     * @return the node's store (tests and the node's checks; not to be applied to from outside).
     */
    public NativeStore store()
    {
        return store;
    }

    AckLedger ledger()
    {
        return ledger;
    }

    PendingAnswers pendingAnswers()
    {
        return pending;
    }

    private void close()
    {
        CloseHelper.closeAll(storeCounters, results, nodeCopy, progress, modifyBuffer, store);
    }
}
