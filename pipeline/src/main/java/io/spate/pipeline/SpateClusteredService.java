package io.spate.pipeline;

import io.aeron.Counter;
import io.aeron.ExclusivePublication;
import io.aeron.Image;
import io.aeron.Publication;
import io.aeron.cluster.codecs.CloseReason;
import io.aeron.cluster.service.ClientSession;
import io.aeron.cluster.service.Cluster;
import io.aeron.cluster.service.ClusteredService;
import io.aeron.logbuffer.Header;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordFraming;
import io.spate.codec.RecordReader;
import io.spate.codec.TypeDefinition;
import io.spate.codec.WireBounds;
import io.spate.store.ApplyResults;
import io.spate.store.NativeStore;
import io.spate.store.OffHeapBuffer;
import io.spate.wire.AckEncoder;
import io.spate.wire.MessageHeaderDecoder;
import io.spate.wire.MessageHeaderEncoder;
import io.spate.wire.ReadKind;
import io.spate.wire.ReadRequestDecoder;
import io.spate.wire.ReadResponseEncoder;
import io.spate.wire.RecordStatus;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;

/**
 * Spate as an Aeron Cluster service: every node applies the committed log, in log order, to its own
 * native store, so all nodes hold equal stores; the leader answers.
 * <p>
 * Each log message is one producer batch (or a read). Applying it is a deterministic function of the
 * log and the state before it: the {@link BatchAssembler} validates the records and hands out ids from
 * the replicated {@link IdAllocator}, the store applies them, and the ack (created ids, per-record errors) is
 * encoded from that outcome alone. The ack is kept in the {@link AckLedger}, so a batch a client
 * sends again after a leader change (same session, same correlation id) is answered with its original ack
 * and never applied twice. Only the leader's egress reaches clients; a follower's offers are mocked.
 * <p>
 * The service sees a message only once the consensus module has committed it (appended on a majority),
 * and the leader acks after applying it: an ack means "on a majority's log, applied on the leader".
 * <p>
 * Apply runs on the service's thread, in log order (see docs/ARCHITECTURE.md, "Replication", for why
 * not on workers). Snapshots (store image, free ids, ack ledger) go through the cluster's snapshot
 * mechanism ({@link ClusterSnapshot}).
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
    public static final int ACKS_UNDELIVERABLE_TYPE_ID = 1057;
    public static final int ROLE_TYPE_ID = 1058;

    /** Offers of one answer before it is left to the unsent-ack timer. */
    private static final int EGRESS_ATTEMPTS = 3;
    /**
     * Correlation id of the cluster timer that retries acks the leader's egress pushed back. Egress may only be
     * offered from the log's callbacks (Aeron refuses it from doBackgroundWork), so the retry is a timer event.
     */
    static final long UNSENT_ACKS_TIMER_ID = Long.MIN_VALUE + 0x5350_4154_45L;

    private final DatabaseSchema schema;
    private final ClusterServiceSettings settings;
    private final RecordReader headerReader;
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final AckEncoder ackEncoder = new AckEncoder();
    private final ReadRequestDecoder readRequestDecoder = new ReadRequestDecoder();
    private final ReadResponseEncoder readResponseEncoder = new ReadResponseEncoder();
    private final AckLedger ledger;
    /** Correlation id (8 bytes) then the ack: a ledger entry as it is built. */
    private final UnsafeBuffer entryBuffer;
    /** The ack part of {@link #entryBuffer}, where acks are encoded. */
    private final UnsafeBuffer ackView;
    private final UnsafeBuffer readAnswerBuffer;
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
    private Counter acksUndeliverable;
    private Counter roleCounter;
    private StoreCounters storeCounters;
    private int sessionsWithUnsentAcks;
    private boolean unsentRetryScheduled;
    /** Batches and records applied since the cluster began: replicated state, carried in snapshots. */
    private final long[] appliedTotals = new long[2];
    private java.nio.file.Path fingerprintFile;
    private FatalHandler fatalHandler = FatalHandler.HALT;
    private final UnsentSender unsentSender = new UnsentSender();
    private final KeptAckSender keptAckSender = new KeptAckSender();

    /** What the service does when going on would make this member diverge from the others. */
    @FunctionalInterface
    public interface FatalHandler
    {
        /** Stops the process at once (exit status 70), saying why on stderr: nothing more is applied. */
        FatalHandler HALT = reason ->
        {
            System.err.println("node: fatal: " + reason + "; stopping this member so that it cannot diverge");
            System.err.flush();
            Runtime.getRuntime().halt(70);
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
     *                 snapshots and every batch).
     * @param settings limits of the service.
     */
    public SpateClusteredService(final DatabaseSchema schema, final ClusterServiceSettings settings)
    {
        this.schema = schema;
        this.settings = settings;
        this.headerReader = new RecordReader(schema);
        final int maxAckBytes = AckWriter.maxAckBytes(settings.maxRecordsPerBatch());
        this.ledger = new AckLedger(settings.ackLedgerBatches(), maxAckBytes);
        this.entryBuffer = new UnsafeBuffer(new byte[AckLedger.ENTRY_HEADER_BYTES + maxAckBytes]);
        this.ackView = new UnsafeBuffer(entryBuffer, AckLedger.ENTRY_HEADER_BYTES, maxAckBytes);
        this.readAnswerBuffer = new UnsafeBuffer(new byte[ReadQueue.maxAnswerBytes(schema)]);
        int maxTypeId = 0;
        for (final TypeDefinition type : schema.types())
        {
            maxTypeId = Math.max(maxTypeId, type.typeId());
        }
        this.maxTypeId = maxTypeId;
    }

    public void onStart(final Cluster cluster, final Image snapshotImage)
    {
        this.cluster = cluster;
        final io.aeron.Aeron aeron = cluster.aeron();
        batchesApplied = aeron.addCounter(BATCHES_APPLIED_TYPE_ID, "spate cluster: batches applied");
        recordsApplied = aeron.addCounter(RECORDS_APPLIED_TYPE_ID, "spate cluster: records applied");
        duplicateBatches = aeron.addCounter(DUPLICATE_BATCHES_TYPE_ID, "spate cluster: batches sent again, not applied");
        acksSent = aeron.addCounter(ACKS_SENT_TYPE_ID, "spate cluster: answers sent");
        egressRetries = aeron.addCounter(EGRESS_RETRIES_TYPE_ID, "spate cluster: egress offer retries");
        snapshotsTaken = aeron.addCounter(SNAPSHOTS_TAKEN_TYPE_ID, "spate cluster: snapshots taken");
        refusedBatches = aeron.addCounter(REFUSED_BATCHES_TYPE_ID, "spate cluster: batches refused whole");
        acksUndeliverable = aeron.addCounter(ACKS_UNDELIVERABLE_TYPE_ID,
            "spate cluster: answers to a client not connected");
        roleCounter = aeron.addCounter(ROLE_TYPE_ID, "spate cluster: service role (0 follower 1 candidate 2 leader)");

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
            ClusterSnapshot.load(snapshotImage, cluster.idleStrategy(), schema, store, ids, appliedTotals, ledger);
        }
        assembler = new BatchAssembler(schema, modifyBuffer.buffer(), settings.maxBatchBytes(),
            settings.maxRecordsPerBatch(), ids, FaultInjector.NONE);
        batchesApplied.setRelease(appliedTotals[0]);
        recordsApplied.setRelease(appliedTotals[1]);
        roleCounter.setRelease(cluster.role().code());
    }

    public void onSessionOpen(final ClientSession session, final long timestamp)
    {
        ledger.session(session.id());
    }

    public void onSessionClose(final ClientSession session, final long timestamp, final CloseReason closeReason)
    {
        final AckLedger.SessionAcks acks = ledger.sessionOrNull(session.id());
        if (null != acks && acks.firstUnsentCorrelationId != 0)
        {
            sessionsWithUnsentAcks--;
        }
        ledger.remove(session.id());
    }

    public void onSessionMessage(
        final ClientSession session,
        final long timestamp,
        final DirectBuffer buffer,
        final int offset,
        final int length,
        final Header header)
    {
        if (sessionsWithUnsentAcks > 0)
        {
            scheduleUnsentRetry(); // a no-op unless an earlier request was not taken
        }
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
            refusedBatches.incrementRelease();
            return;
        }
        final long sessionId = session.id();
        final long correlationId = headerReader.batchCorrelationId();
        final long declaredRecordCount = headerReader.batchRecordCount();
        final AckLedger.SessionAcks acks = ledger.session(sessionId);
        if (correlationId <= acks.lastCorrelationId)
        {
            // Sent again (a leader change): answered as the first time, never applied twice.
            duplicateBatches.incrementRelease();
            if (acks.firstUnsentCorrelationId != 0 && correlationId >= acks.firstUnsentCorrelationId)
            {
                return; // its ack has not left yet: the unsent-ack timer sends it, in order
            }
            keptAckSender.session = session;
            final boolean kept = ledger.find(acks, correlationId, keptAckSender);
            keptAckSender.session = null;
            if (!kept)
            {
                final int lengthBytes = AckWriter.encodeRefusal(sessionId, correlationId, declaredRecordCount,
                    RecordStatus.ALREADY_APPLIED, entryBuffer, ackEncoder, headerEncoder);
                sendOrDrop(session, entryBuffer, 0, lengthBytes);
            }
            return;
        }
        RecordStatus refusal = null;
        if (headerReader.batchSchemaHash() != schema.hash())
        {
            refusal = RecordStatus.SCHEMA_MISMATCH;
        }
        else if (declaredRecordCount > settings.maxRecordsPerBatch())
        {
            refusal = RecordStatus.VALUE_TOO_LARGE;
        }
        if (null == refusal)
        {
            assembler.open(slot, false, 0, settings.maxBatchBytes());
            final int result;
            try
            {
                result = assembler.append(sessionId, buffer, offset, length);
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
                sessionId, correlationId, declaredRecordCount, refusal, ackView, ackEncoder, headerEncoder);
            recordAndSend(session, acks, correlationId, ackLengthBytes);
        }
    }

    private void apply(final ClientSession session, final AckLedger.SessionAcks acks, final long correlationId)
    {
        final int recordCount = slot.recordCount;
        if (slot.lengthBytes > 0)
        {
            int walked;
            try
            {
                walked = store.apply(modifyBuffer.address(), slot.lengthBytes, progress.address(), results);
            }
            catch (final RuntimeException ex)
            {
                walked = -1;
                fatalHandler.onFatal("the store failed applying session " + session.id() + " batch " + correlationId +
                    ": " + ex);
            }
            if (walked != recordCount)
            {
                // A store that does not walk every validated record is a bug that would make this member's
                // state differ from the others': the member stops rather than diverge (and a restart replays
                // the log from the last snapshot).
                fatalHandler.onFatal("the store walked " + walked + " of " + recordCount +
                    " validated records of session " + session.id() + " batch " + correlationId);
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
        recordAndSend(session, acks, correlationId, ackLengthBytes);
    }

    private void recordAndSend(
        final ClientSession session,
        final AckLedger.SessionAcks acks,
        final long correlationId,
        final int ackLengthBytes)
    {
        entryBuffer.putLong(0, correlationId, ByteOrder.LITTLE_ENDIAN);
        ledger.record(acks, correlationId, entryBuffer, AckLedger.ENTRY_HEADER_BYTES + ackLengthBytes);
        if (acks.firstUnsentCorrelationId != 0)
        {
            return; // behind earlier unsent acks: they go first, in order (the unsent-ack timer)
        }
        if (!trySend(session, entryBuffer, AckLedger.ENTRY_HEADER_BYTES, ackLengthBytes))
        {
            acks.firstUnsentCorrelationId = correlationId;
            sessionsWithUnsentAcks++;
            scheduleUnsentRetry();
        }
    }

    /** Sends an ack found in the ledger again (a field: nothing allocated per duplicate). */
    private final class KeptAckSender implements AckLedger.AckVisitor
    {
        private ClientSession session;

        public boolean onAck(final long correlationId, final MutableDirectBuffer buffer, final int offset, final int length)
        {
            sendOrDrop(session, buffer, offset, length);
            return false;
        }
    }

    /**
     * The one place egress is offered. True when the answer is out, or can never go (the client is not
     * connected: it sends the batch again once it is, and is answered from the ledger); false when the
     * leader's egress pushed back: the caller keeps it for the unsent-ack timer.
     */
    private boolean trySend(final ClientSession session, final DirectBuffer buffer, final int offset, final int length)
    {
        if (null == session)
        {
            acksUndeliverable.incrementRelease();
            return true;
        }
        for (int attempt = 0; attempt < EGRESS_ATTEMPTS; attempt++)
        {
            final long result = session.offer(buffer, offset, length);
            if (result > 0)
            {
                if (result != ClientSession.MOCKED_OFFER) // a follower's offers go nowhere: not counted as sent
                {
                    acksSent.incrementRelease();
                }
                return true;
            }
            if (result == Publication.NOT_CONNECTED || result == Publication.CLOSED ||
                result == Publication.MAX_POSITION_EXCEEDED)
            {
                acksUndeliverable.incrementRelease();
                return true;
            }
            egressRetries.incrementRelease(); // BACK_PRESSURED or ADMIN_ACTION: the same bytes again
        }
        return false;
    }

    /**
     * Answers that are not kept in the ledger (a read, a duplicate's ALREADY_APPLIED): offered a few times;
     * when egress keeps pushing back the client's timeout and resend cover it.
     */
    private void sendOrDrop(final ClientSession session, final DirectBuffer buffer, final int offset, final int length)
    {
        if (!trySend(session, buffer, offset, length))
        {
            acksUndeliverable.incrementRelease();
        }
    }

    private void onReadRequest(final ClientSession session, final DirectBuffer buffer, final int offset, final int length)
    {
        if (WireBounds.checkReadRequest(buffer, offset, length) != WireBounds.OK)
        {
            refusedBatches.incrementRelease();
            return;
        }
        readRequestDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
        final int lengthBytes = ReadQueue.encodeAnswer(schema, store, session.id(), readRequestDecoder.correlationId(),
            readRequestDecoder.typeId(), readRequestDecoder.nodeId(), (byte)readRequestDecoder.kindRaw(), nodeCopy,
            readAnswerBuffer, readResponseEncoder, headerEncoder);
        sendOrDrop(session, readAnswerBuffer, 0, lengthBytes);
    }

    /**
     * The unsent-ack timer: sends acks the leader's egress pushed back, oldest first per session, and asks
     * again while some are left. Only the leader ever has unsent acks (a follower's offers are mocked), so
     * on followers the event finds nothing to do; the replicated state is not touched either way.
     */
    public void onTimerEvent(final long correlationId, final long timestamp)
    {
        if (correlationId != UNSENT_ACKS_TIMER_ID)
        {
            return;
        }
        unsentRetryScheduled = false;
        if (0 == sessionsWithUnsentAcks)
        {
            return;
        }
        unsentSender.stillUnsent = 0;
        ledger.forEachSession(unsentSender);
        // Counted afresh: an eviction may also have cleared a session's cursor (AckLedger.evictOldest).
        sessionsWithUnsentAcks = unsentSender.stillUnsent;
        if (sessionsWithUnsentAcks > 0)
        {
            scheduleUnsentRetry();
        }
    }

    /**
     * At most one unsent-ack timer at a time, due at the next tick. Should the consensus module not take the
     * request now, the next log message that finds acks unsent asks again.
     */
    private void scheduleUnsentRetry()
    {
        if (!unsentRetryScheduled)
        {
            unsentRetryScheduled = cluster.scheduleTimer(UNSENT_ACKS_TIMER_ID, cluster.time() + 1);
        }
    }

    public void onTakeSnapshot(final ExclusivePublication snapshotPublication)
    {
        ClusterSnapshot.write(snapshotPublication, cluster.idleStrategy(), schema, store, ids, appliedTotals, ledger);
        snapshotsTaken.incrementRelease();
    }

    /**
     * Between log messages: the store's per-type figures into their counters (reads only; nothing replicated).
     */
    public int doBackgroundWork(final long nowNs)
    {
        return null == storeCounters ? 0 : storeCounters.sample(store, nowNs);
    }

    public void onRoleChange(final Cluster.Role newRole)
    {
        roleCounter.setRelease(newRole.code());
    }

    public void onTerminate(final Cluster cluster)
    {
        try
        {
            writeFingerprint(cluster.logPosition());
        }
        finally
        {
            close();
        }
    }

    /**
     * On stop, {@code fingerprintFile} gets the log position this node applied up to and its store's
     * per-type counts and checksums: two members stopped at the same position must print the same.
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

    private final class UnsentSender implements java.util.function.Consumer<AckLedger.SessionAcks>,
        AckLedger.AckVisitor
    {
        private AckLedger.SessionAcks acks;
        private ClientSession session;
        private int stillUnsent;

        public void accept(final AckLedger.SessionAcks acks)
        {
            if (acks.firstUnsentCorrelationId == 0)
            {
                return;
            }
            this.acks = acks;
            this.session = cluster.getClientSession(acks.sessionId);
            ledger.forEachFrom(acks, acks.firstUnsentCorrelationId, this);
            if (acks.firstUnsentCorrelationId != 0)
            {
                stillUnsent++;
            }
            this.acks = null;
            this.session = null;
        }

        public boolean onAck(final long correlationId, final MutableDirectBuffer buffer, final int offset, final int length)
        {
            if (!trySend(session, buffer, offset, length))
            {
                acks.firstUnsentCorrelationId = correlationId;
                return false;
            }
            acks.firstUnsentCorrelationId = correlationId == acks.lastCorrelationId ? 0 : correlationId + 1;
            return true;
        }
    }

    /**
     * @return the node's store (tests and the node's checks; not to be applied to from outside).
     */
    public NativeStore store()
    {
        return store;
    }

    private void close()
    {
        CloseHelper.closeAll(storeCounters, results, nodeCopy, progress, modifyBuffer, store);
    }
}
