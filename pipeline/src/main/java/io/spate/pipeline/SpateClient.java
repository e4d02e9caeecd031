package io.spate.pipeline;

import io.spate.driver.IdleStrategies;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.logbuffer.Header;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.FieldDefinition;
import io.spate.codec.RecordWriter;
import io.spate.codec.TypeDefinition;
import io.spate.store.NodeView;
import io.spate.wire.AckDecoder;
import io.spate.wire.ConnectEncoder;
import io.spate.wire.MessageHeaderDecoder;
import io.spate.wire.MessageHeaderEncoder;
import io.spate.wire.ReadKind;
import io.spate.wire.ReadRequestEncoder;
import io.spate.wire.ReadResponseDecoder;
import io.spate.wire.RecordStatus;
import io.spate.wire.SessionClosedDecoder;
import io.spate.codec.WireBounds;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A producer application's view of Spate. Records are written into a client batch with typed
 * setters (by field handle, or by name for convenience) and sent by {@link #flush()}; the pipeline
 * answers each batch with one ack. Not thread-safe: one client per producer thread.
 * <ul>
 * <li>Results: {@link #flushAsync()} gives a future per batch; the allocation-free path is an
 * {@link AckListener}, called from {@link #poll()} with the ack decoder itself.</li>
 * <li>Back pressure: {@link #flush()} blocks up to the configured timeout and then throws;
 * {@link #tryFlush()} returns {@link #BACK_PRESSURED} at once ("try later").</li>
 * <li>Reads: {@link #count(TypeDefinition)} and {@link #get(TypeDefinition, long)} are answered after
 * every write this client sent before them (read-your-writes).</li>
 * </ul>
 * Acks and read answers arrive only while someone calls {@link #poll()}; blocking calls poll.
 */
public final class SpateClient implements AutoCloseable
{
    /** {@link #tryFlush()}: the pipeline pushes back, try later; the batch is kept. */
    public static final long BACK_PRESSURED = -2;
    /** {@link #flush()}: there was nothing to send. */
    public static final long NOTHING_TO_FLUSH = -1;

    /**
     * Allocation-free ack path: called from {@link #poll()} with the decoder wrapped over the ack.
     */
    @FunctionalInterface
    public interface AckListener
    {
        void onAck(AckDecoder ack);
    }

    /** Settings of a client; system-property defaults, fluent setters. */
    public static final class Context
    {
        private Aeron aeron;
        private String aeronDirectoryName = System.getProperty("spate.driver.dir", io.aeron.CommonContext.getAeronDirectoryName());
        private DatabaseSchema schema;
        private String ingressChannel = System.getProperty(PipelineConfiguration.INGRESS_CHANNEL_PROP,
            PipelineConfiguration.DEFAULT_INGRESS_CHANNEL);
        private int ingressStreamId = Integer.getInteger(PipelineConfiguration.INGRESS_STREAM_ID_PROP,
            PipelineConfiguration.DEFAULT_INGRESS_STREAM_ID);
        private String responseChannel = System.getProperty("spate.client.response.channel", "aeron:ipc");
        private int responseStreamId = Integer.getInteger("spate.client.response.stream.id", 0);
        private long clientId = Long.getLong("spate.client.id", 0);
        private int batchCapacityBytes = Integer.getInteger("spate.client.batch.bytes", 64 << 10);
        private int maxRecordsPerBatch = Integer.getInteger("spate.client.max.records.per.batch", 1024);
        private long timeoutNs = Long.getLong("spate.client.timeout.ms", 10_000) * 1_000_000L;
        private String idleStrategy = System.getProperty("spate.client.idle.strategy", "backoff");

        public Context aeron(final Aeron aeron)
        {
            this.aeron = aeron;
            return this;
        }

        public Context aeronDirectoryName(final String name)
        {
            this.aeronDirectoryName = name;
            return this;
        }

        public Context schema(final DatabaseSchema schema)
        {
            this.schema = schema;
            return this;
        }

        public Context ingressChannel(final String channel)
        {
            this.ingressChannel = channel;
            return this;
        }

        public Context ingressStreamId(final int streamId)
        {
            this.ingressStreamId = streamId;
            return this;
        }

        public Context responseChannel(final String channel)
        {
            this.responseChannel = channel;
            return this;
        }

        public Context responseStreamId(final int streamId)
        {
            this.responseStreamId = streamId;
            return this;
        }

        public Context clientId(final long clientId)
        {
            this.clientId = clientId;
            return this;
        }

        public Context batchCapacityBytes(final int bytes)
        {
            this.batchCapacityBytes = bytes;
            return this;
        }

        public Context maxRecordsPerBatch(final int records)
        {
            this.maxRecordsPerBatch = records;
            return this;
        }

        public Context timeoutMs(final long timeoutMs)
        {
            this.timeoutNs = timeoutMs * 1_000_000L;
            return this;
        }

        public Context idleStrategy(final String name)
        {
            this.idleStrategy = name;
            return this;
        }
    }

    private final Context context;
    private final DatabaseSchema schema;
    private final Aeron aeron;
    private final boolean ownsAeron;
    private final ExclusivePublication ingress;
    private final Subscription responses;
    private final FragmentAssembler responseAssembler;
    private final IdleStrategy idle;
    private final RecordWriter writer;
    private final UnsafeBuffer batchBuffer;
    private final UnsafeBuffer messageBuffer = new UnsafeBuffer(new byte[1024]);
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final AckDecoder ackDecoder = new AckDecoder();
    private final ReadResponseDecoder readResponseDecoder = new ReadResponseDecoder();
    private final SessionClosedDecoder sessionClosedDecoder = new SessionClosedDecoder();
    private String closedReason;
    private final Long2ObjectHashMap<CompletableFuture<BatchResult>> futures = new Long2ObjectHashMap<>();
    private final long clientId;
    private final int maxRecordLengthBytes;
    private AckListener ackListener;
    private TypeDefinition openType;
    private long correlationSeq;
    private long batchCorrelationId;
    private boolean batchOpen;
    private long inFlightBatches;
    private long awaitedReadCorrelationId;
    private boolean readAnswered;
    private long readCount;
    private RecordStatus readStatus;
    private final UnsafeBuffer readNode;
    private int readNodeLengthBytes;
    private final NodeView nodeView = new NodeView();

    private SpateClient(final Context context)
    {
        if (null == context.schema)
        {
            throw new IllegalArgumentException("SpateClient.Context needs the database schema");
        }
        this.context = context;
        this.schema = context.schema;
        this.clientId = context.clientId != 0 ? context.clientId : ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);
        final int responseStreamId = context.responseStreamId != 0 ?
            context.responseStreamId : ThreadLocalRandom.current().nextInt(10_000, 1 << 30);
        this.maxRecordLengthBytes = schema.maxRecordLengthBytes();
        final int capacity = Math.max(context.batchCapacityBytes, 64 + 2 * maxRecordLengthBytes);
        this.batchBuffer = new UnsafeBuffer(new byte[capacity]);
        this.writer = new RecordWriter(schema);
        this.idle = IdleStrategies.parse(context.idleStrategy);
        this.readNode = new UnsafeBuffer(new byte[io.spate.store.NativeStore.maxNodeLengthBytes(schema)]);

        if (null != context.aeron)
        {
            aeron = context.aeron;
            ownsAeron = false;
        }
        else
        {
            try
            {
                aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(context.aeronDirectoryName));
            }
            catch (final RuntimeException ex)
            {
                throw new SpateClientException("cannot connect to the Aeron media driver in " +
                    context.aeronDirectoryName + " (is bin/spate driver or the pipeline running?): " + ex.getMessage());
            }
            ownsAeron = true;
        }
        ingress = aeron.addExclusivePublication(context.ingressChannel, context.ingressStreamId);
        responses = aeron.addSubscription(context.responseChannel, responseStreamId);
        responseAssembler = new FragmentAssembler(this::onResponse);

        final long deadlineNs = System.nanoTime() + context.timeoutNs;
        while (!ingress.isConnected())
        {
            checkDeadline(deadlineNs, "no pipeline is subscribed to " + context.ingressChannel + " stream " +
                context.ingressStreamId + " (is the pipeline running?)");
            idle.idle();
        }
        idle.reset();
        final ConnectEncoder connect = new ConnectEncoder().wrapAndApplyHeader(messageBuffer, 0, headerEncoder)
            .clientId(clientId)
            .responseStreamId(responseStreamId)
            .responseChannel(context.responseChannel);
        final int length = MessageHeaderEncoder.ENCODED_LENGTH + connect.encodedLength();
        headerEncoder.frameLengthBytes(length);
        offerBlocking(messageBuffer, length, "Connect");
        while (!responses.isConnected())
        {
            checkDeadline(deadlineNs, "the pipeline did not open the response stream " + context.responseChannel +
                " " + responseStreamId);
            idle.idle();
        }
        idle.reset();
    }

    /**
     * Connects to the pipeline: waits for the ingress stream and sends Connect.
     *
     * @param context settings.
     * @return the client.
     * @throws SpateClientException when the driver or the pipeline cannot be reached in time.
     */
    public static SpateClient connect(final Context context)
    {
        return new SpateClient(context);
    }

    public DatabaseSchema schema()
    {
        return schema;
    }

    public long clientId()
    {
        return clientId;
    }

    /**
     * @param listener called from {@link #poll()} for every ack, after any future completes.
     * @return this.
     */
    public SpateClient ackListener(final AckListener listener)
    {
        this.ackListener = listener;
        return this;
    }

    /**
     * @return true while a pipeline is subscribed to this client's ingress stream; false once it has
     * gone (closed, or timed out by the driver), when flushes can only back-pressure.
     */
    public boolean isConnected()
    {
        return ingress.isConnected();
    }

    /**
     * @return batches sent and not yet acked.
     */
    public long inFlightBatches()
    {
        return inFlightBatches;
    }

    // ------------------------------------------------------------------------------------------
    // Writing
    // ------------------------------------------------------------------------------------------

    /**
     * Starts a Create; the batch is flushed first when it is full.
     *
     * @param type of the node.
     * @return the record's 1-based index in the current batch (a createRef for later records of it).
     */
    public int create(final TypeDefinition type)
    {
        beforeRecord(type);
        return writer.create(type);
    }

    /**
     * @param typeName as in the schema.
     * @return the record's 1-based index in the current batch.
     * @throws IllegalArgumentException naming the type when there is none.
     */
    public int create(final String typeName)
    {
        return create(schema.type(typeName));
    }

    public int update(final TypeDefinition type, final long nodeId)
    {
        beforeRecord(type);
        return writer.update(type, nodeId);
    }

    public int update(final String typeName, final long nodeId)
    {
        return update(schema.type(typeName), nodeId);
    }

    /**
     * Updates a node created earlier in the current batch (no flush happens in between).
     */
    public int updateCreated(final TypeDefinition type, final int createRef)
    {
        openType = type;
        return writer.updateCreated(type, createRef);
    }

    public int delete(final TypeDefinition type, final long nodeId)
    {
        beforeRecord(type);
        final int index = writer.delete(type, nodeId);
        openType = null;
        return index;
    }

    public int delete(final String typeName, final long nodeId)
    {
        return delete(schema.type(typeName), nodeId);
    }

    public int increment(final TypeDefinition type, final long nodeId, final FieldDefinition field, final long delta)
    {
        beforeRecord(type);
        final int index = writer.increment(type, nodeId, field, delta);
        openType = null;
        return index;
    }

    public int increment(final String typeName, final long nodeId, final String fieldName, final long delta)
    {
        final TypeDefinition type = schema.type(typeName);
        return increment(type, nodeId, type.field(fieldName), delta);
    }

    public SpateClient setLong(final FieldDefinition field, final long value)
    {
        writer.setLong(field, value);
        return this;
    }

    public SpateClient setDouble(final FieldDefinition field, final double value)
    {
        writer.setDouble(field, value);
        return this;
    }

    public SpateClient setBoolean(final FieldDefinition field, final boolean value)
    {
        writer.setBoolean(field, value);
        return this;
    }

    public SpateClient setString(final FieldDefinition field, final CharSequence value)
    {
        writer.setString(field, value);
        return this;
    }

    public SpateClient setBytes(final FieldDefinition field, final byte[] value)
    {
        writer.setBytes(field, value);
        return this;
    }

    /**
     * Sets a field of the open record by name: integers, timestamps, f64 (as the long's value),
     * bool (0 or 1). Resolving the name costs a map look-up: hot loops use field handles.
     */
    public SpateClient set(final String fieldName, final long value)
    {
        final FieldDefinition field = openField(fieldName);
        switch (field.kind())
        {
            case F64 -> writer.setDouble(field, value);
            case BOOL -> writer.setBoolean(field, value != 0);
            default -> writer.setLong(field, value);
        }
        return this;
    }

    public SpateClient set(final String fieldName, final double value)
    {
        writer.setDouble(openField(fieldName), value);
        return this;
    }

    public SpateClient set(final String fieldName, final boolean value)
    {
        writer.setBoolean(openField(fieldName), value);
        return this;
    }

    public SpateClient set(final String fieldName, final CharSequence value)
    {
        writer.setString(openField(fieldName), value);
        return this;
    }

    private FieldDefinition openField(final String fieldName)
    {
        if (null == openType)
        {
            throw new IllegalStateException("no open Create or Update to set '" + fieldName + "' on");
        }
        return openType.field(fieldName);
    }

    private void beforeRecord(final TypeDefinition type)
    {
        if (batchOpen && (writer.remainingBytes() < maxRecordLengthBytes ||
            writer.recordCount() >= context.maxRecordsPerBatch))
        {
            flush();
        }
        if (!batchOpen)
        {
            batchCorrelationId = ++correlationSeq;
            writer.wrap(batchBuffer, 0, batchBuffer.capacity()).beginBatch(clientId, batchCorrelationId);
            batchOpen = true;
        }
        openType = type;
    }

    /**
     * Sends the current batch, waiting up to the timeout while the pipeline pushes back.
     *
     * @return the batch's correlation id, or {@link #NOTHING_TO_FLUSH}.
     * @throws SpateClientException when back pressure outlasts the timeout (the batch is kept).
     */
    public long flush()
    {
        if (!batchOpen)
        {
            return NOTHING_TO_FLUSH;
        }
        final long deadlineNs = System.nanoTime() + context.timeoutNs;
        long result;
        while ((result = tryFlush()) == BACK_PRESSURED)
        {
            checkDeadline(deadlineNs, "back pressure: the pipeline did not take the batch in time");
            poll();
            idle.idle();
        }
        idle.reset();
        return result;
    }

    /**
     * Sends the current batch without waiting.
     *
     * @return its correlation id, {@link #NOTHING_TO_FLUSH}, or {@link #BACK_PRESSURED} (batch kept; try later).
     */
    public long tryFlush()
    {
        if (!batchOpen)
        {
            return NOTHING_TO_FLUSH;
        }
        checkSessionOpen();
        final int length = writer.endBatch();
        final long result = ingress.offer(batchBuffer, 0, length);
        if (result > 0)
        {
            batchOpen = false;
            openType = null;
            inFlightBatches++;
            return batchCorrelationId;
        }
        if (result == Publication.CLOSED || result == Publication.MAX_POSITION_EXCEEDED)
        {
            throw new SpateClientException("ingress publication is closed: " + result);
        }
        return BACK_PRESSURED;
    }

    /**
     * Sends the current batch and returns a future of its result (allocates: for convenience).
     */
    public CompletableFuture<BatchResult> flushAsync()
    {
        final long correlationId = flush();
        final CompletableFuture<BatchResult> future = new CompletableFuture<>();
        if (correlationId == NOTHING_TO_FLUSH)
        {
            future.completeExceptionally(new IllegalStateException("nothing to flush"));
            return future;
        }
        futures.put(correlationId, future);
        return future;
    }

    /**
     * Polls until every batch sent has its ack, or the timeout passes.
     *
     * @return true when nothing is in flight.
     */
    public boolean awaitAcks(final long timeoutMs)
    {
        final long deadlineNs = System.nanoTime() + timeoutMs * 1_000_000L;
        while (inFlightBatches > 0)
        {
            checkSessionOpen();
            if (System.nanoTime() > deadlineNs)
            {
                return false;
            }
            if (poll() == 0)
            {
                idle.idle();
            }
        }
        return true;
    }

    /**
     * Takes acks and read answers: completes futures, calls the ack listener.
     *
     * @return fragments handled.
     */
    public int poll()
    {
        final int fragments = responses.poll(responseAssembler, 16);
        if (fragments == 0 && null == closedReason && !responses.isConnected())
        {
            // Everything the pipeline sent has been read (the image drains before it goes): the stream is gone.
            onSessionClosed("the response stream from the pipeline is gone (the pipeline stopped, or closed this " +
                "session without a word)");
        }
        return fragments;
    }

    /**
     * @return why the pipeline closed this client's session, or null while it is open.
     */
    public String sessionClosedReason()
    {
        return closedReason;
    }

    private void checkSessionOpen()
    {
        if (null != closedReason)
        {
            throw new SpateClientException(closedReason);
        }
    }

    private void onSessionClosed(final String reason)
    {
        if (null != closedReason)
        {
            return;
        }
        closedReason = reason;
        // Batches in flight get no ack: they may or may not have been applied.
        final SpateClientException failure = new SpateClientException(reason + "; " + inFlightBatches +
            " batch(es) sent without an ack may or may not have been applied");
        for (final CompletableFuture<BatchResult> future : futures.values())
        {
            future.completeExceptionally(failure);
        }
        futures.clear();
        inFlightBatches = 0;
    }

    // ------------------------------------------------------------------------------------------
    // Reads
    // ------------------------------------------------------------------------------------------

    /**
     * @return live nodes of the type, after every write this client sent before (flushed here).
     */
    public long count(final TypeDefinition type)
    {
        read(ReadKind.COUNT, type, 0);
        return readCount;
    }

    /**
     * @return a view of the node (valid until the next read), or null when it does not exist.
     */
    public NodeView get(final TypeDefinition type, final long nodeId)
    {
        read(ReadKind.GET, type, nodeId);
        return readStatus == RecordStatus.OK ? nodeView.wrap(type, readNode, 0, readNodeLengthBytes) : null;
    }

    private void read(final ReadKind kind, final TypeDefinition type, final long nodeId)
    {
        flush();
        final long correlationId = ++correlationSeq;
        final ReadRequestEncoder request = new ReadRequestEncoder().wrapAndApplyHeader(messageBuffer, 0, headerEncoder)
            .clientId(clientId)
            .correlationId(correlationId)
            .nodeId(nodeId)
            .typeId(type.typeId())
            .kind(kind);
        final int length = MessageHeaderEncoder.ENCODED_LENGTH + request.encodedLength();
        headerEncoder.frameLengthBytes(length);
        awaitedReadCorrelationId = correlationId;
        readAnswered = false;
        offerBlocking(messageBuffer, length, "ReadRequest");
        final long deadlineNs = System.nanoTime() + context.timeoutNs;
        while (!readAnswered)
        {
            checkSessionOpen();
            checkDeadline(deadlineNs, "no answer to the " + kind + " read of " + type.name());
            if (poll() == 0)
            {
                idle.idle();
            }
        }
        idle.reset();
    }

    private void onResponse(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        if (WireBounds.check(buffer, offset, length) != WireBounds.OK)
        {
            return; // not a message this client can read: nothing of it is trusted
        }
        headerDecoder.wrap(buffer, offset);
        switch (headerDecoder.templateId())
        {
            case AckDecoder.TEMPLATE_ID -> onAck(buffer, offset);
            case ReadResponseDecoder.TEMPLATE_ID -> onReadResponse(buffer, offset);
            case SessionClosedDecoder.TEMPLATE_ID -> onSessionClosedMessage(buffer, offset);
            default ->
            {
            }
        }
    }

    private void onSessionClosedMessage(final DirectBuffer buffer, final int offset)
    {
        sessionClosedDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
        if (sessionClosedDecoder.clientId() == clientId)
        {
            final String reason = String.valueOf(sessionClosedDecoder.reason());
            onSessionClosed("session closed by the pipeline (" + reason + "): " + sessionClosedDecoder.detail());
        }
    }

    private void onAck(final DirectBuffer buffer, final int offset)
    {
        ackDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
        if (ackDecoder.clientId() != clientId)
        {
            return;
        }
        inFlightBatches--;
        final CompletableFuture<BatchResult> future = futures.remove(ackDecoder.correlationId());
        if (null != future)
        {
            future.complete(toResult(ackDecoder));
            ackDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
        }
        if (null != ackListener)
        {
            ackListener.onAck(ackDecoder);
        }
    }

    private static BatchResult toResult(final AckDecoder ack)
    {
        final int recordCount = (int)ack.recordCount();
        final long[] ids = new long[recordCount];
        final RecordStatus[] statuses = new RecordStatus[recordCount];
        final RecordStatus status = ack.status();
        Arrays.fill(statuses, RecordStatus.OK);
        for (final AckDecoder.CreatedIdsDecoder created : ack.createdIds())
        {
            if (created.recordIndex() < recordCount)
            {
                ids[(int)created.recordIndex()] = created.nodeId();
            }
        }
        int errorCount = 0;
        for (final AckDecoder.ErrorsDecoder error : ack.errors())
        {
            errorCount++;
            if (error.recordIndex() < recordCount)
            {
                statuses[(int)error.recordIndex()] = error.status();
            }
        }
        if (status != RecordStatus.OK && errorCount == 0)
        {
            // A batch-wide refusal: no record applied.
            Arrays.fill(statuses, status);
        }
        return new BatchResult(ack.correlationId(), status, ids, statuses);
    }

    private void onReadResponse(final DirectBuffer buffer, final int offset)
    {
        readResponseDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
        if (readResponseDecoder.clientId() != clientId || readResponseDecoder.correlationId() != awaitedReadCorrelationId)
        {
            return;
        }
        readCount = readResponseDecoder.count();
        readStatus = readResponseDecoder.status();
        readNodeLengthBytes = readResponseDecoder.getNode(readNode, 0, readNode.capacity());
        readAnswered = true;
    }

    // ------------------------------------------------------------------------------------------

    private void offerBlocking(final UnsafeBuffer buffer, final int length, final String what)
    {
        final long deadlineNs = System.nanoTime() + context.timeoutNs;
        while (true)
        {
            final long result = ingress.offer(buffer, 0, length);
            if (result > 0)
            {
                idle.reset();
                return;
            }
            if (result == Publication.CLOSED || result == Publication.MAX_POSITION_EXCEEDED)
            {
                throw new SpateClientException("ingress publication is closed while sending " + what);
            }
            checkDeadline(deadlineNs, "could not send " + what + " in time (back pressure or no pipeline)");
            poll();
            idle.idle();
        }
    }

    private void checkDeadline(final long deadlineNs, final String message)
    {
        if (System.nanoTime() > deadlineNs)
        {
            throw new SpateClientException(message);
        }
    }

    public void close()
    {
        CloseHelper.closeAll(responses, ingress);
        if (ownsAeron)
        {
            CloseHelper.close(aeron);
        }
    }
}
