package io.spate.pipeline;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.TypeDefinition;
import io.spate.store.NativeStore;
import io.spate.store.OffHeapBuffer;
import io.spate.wire.MessageHeaderEncoder;
import io.spate.wire.ReadKind;
import io.spate.wire.ReadResponseEncoder;
import io.spate.wire.RecordStatus;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Reads (get, count) waiting for the writes before them: a read is answered once every batch
 * ingested before it is applied (its watermark), so a producer reads its own writes. Bounded: a full
 * queue pushes back on ingress. Answers leave through the producer's session, in order with its acks.
 */
final class ReadQueue implements AutoCloseable
{
    static final int CAPACITY = 1024;

    private final DatabaseSchema schema;
    private final NativeStore store;
    private final ClientSessions sessions;
    private final ClientSession[] readSessions = new ClientSession[CAPACITY];
    private final long[] correlationIds = new long[CAPACITY];
    private final long[] nodeIds = new long[CAPACITY];
    private final int[] typeIds = new int[CAPACITY];
    private final byte[] kinds = new byte[CAPACITY];
    private final long[] watermarks = new long[CAPACITY];
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final ReadResponseEncoder encoder = new ReadResponseEncoder();
    private final OffHeapBuffer nodeCopy;
    private final UnsafeBuffer responseBuffer;
    private final int answerBacklogBytes;
    private int head;
    private int tail;

    ReadQueue(final DatabaseSchema schema, final NativeStore store, final ClientSessions sessions)
    {
        this.schema = schema;
        this.store = store;
        this.sessions = sessions;
        final int maxNodeBytes = NativeStore.maxNodeLengthBytes(schema);
        nodeCopy = new OffHeapBuffer(maxNodeBytes);
        responseBuffer = new UnsafeBuffer(new byte[maxAnswerBytes(schema)]);
        answerBacklogBytes = ClientSession.backlogBytesFor(responseBuffer.capacity());
    }

    /**
     * @return the longest read answer for a schema.
     */
    static int maxAnswerBytes(final DatabaseSchema schema)
    {
        return MessageHeaderEncoder.ENCODED_LENGTH + ReadResponseEncoder.BLOCK_LENGTH + 4 +
            NativeStore.maxNodeLengthBytes(schema);
    }

    /**
     * @return bytes a session reserves for one answer.
     */
    int answerBacklogBytes()
    {
        return answerBacklogBytes;
    }

    boolean isFull()
    {
        return tail - head == CAPACITY;
    }

    boolean isEmpty()
    {
        return tail == head;
    }

    /**
     * Queues a read; the session has reserved {@link #answerBacklogBytes()} for its answer.
     *
     * @param watermark the last batch seq the read must see applied.
     */
    void add(
        final ClientSession session,
        final long correlationId,
        final int typeId,
        final long nodeId,
        final int kind,
        final long watermark)
    {
        if (isFull())
        {
            throw new IllegalStateException("read queue full");
        }
        final int index = tail++ & (CAPACITY - 1);
        readSessions[index] = session;
        correlationIds[index] = correlationId;
        nodeIds[index] = nodeId;
        typeIds[index] = typeId;
        kinds[index] = (byte)kind;
        watermarks[index] = watermark;
    }

    /**
     * @return the watermark of the oldest read waiting, or Long.MAX_VALUE when none waits.
     */
    long oldestWatermark()
    {
        return isEmpty() ? Long.MAX_VALUE : watermarks[head & (CAPACITY - 1)];
    }

    /**
     * Answers the reads whose writes are applied.
     *
     * @param completedThroughSeq every batch up to this seq is applied.
     * @return reads answered.
     */
    int answer(final long completedThroughSeq)
    {
        int work = 0;
        while (head != tail)
        {
            final int index = head & (CAPACITY - 1);
            if (watermarks[index] > completedThroughSeq)
            {
                break;
            }
            answer(index);
            readSessions[index] = null;
            head++;
            work++;
        }
        return work;
    }

    private void answer(final int index)
    {
        final ClientSession session = readSessions[index];
        final int lengthBytes = encodeAnswer(schema, store, session.sessionId, correlationIds[index], typeIds[index],
            nodeIds[index], kinds[index], nodeCopy, responseBuffer, encoder, headerEncoder);
        sessions.send(session, responseBuffer, lengthBytes, answerBacklogBytes);
    }

    /**
     * Reads the store and encodes the answer: the count, or the node (telling a deleted node from one that
     * never existed). Shared by the pipeline and the clustered service, so both answer alike.
     *
     * @param nodeCopy at least {@link NativeStore#maxNodeLengthBytes(DatabaseSchema)}.
     * @param out      at least {@link #maxAnswerBytes(DatabaseSchema)}.
     * @return the answer's length in bytes, from offset 0 of {@code out}.
     */
    static int encodeAnswer(
        final DatabaseSchema schema,
        final NativeStore store,
        final long sessionId,
        final long correlationId,
        final int typeId,
        final long nodeId,
        final byte kind,
        final OffHeapBuffer nodeCopy,
        final UnsafeBuffer out,
        final ReadResponseEncoder encoder,
        final MessageHeaderEncoder headerEncoder)
    {
        final TypeDefinition type = schema.typeById(typeId);
        long count = 0;
        int nodeLength = 0;
        RecordStatus status = RecordStatus.OK;
        if (null == type)
        {
            status = RecordStatus.UNKNOWN_TYPE;
        }
        else if (kind == ReadKind.COUNT.value())
        {
            count = store.count(typeId);
        }
        else
        {
            nodeLength = store.get(typeId, nodeId, nodeCopy.address(), nodeCopy.capacityBytes());
            if (nodeLength < 0)
            {
                // Tell a deleted node from one that never existed: the producer asked about an id it may hold.
                status = store.nodeState(typeId, nodeId) == NativeStore.NODE_GONE ?
                    RecordStatus.DELETED : RecordStatus.NO_SUCH_NODE;
                nodeLength = 0;
            }
        }
        encoder.wrapAndApplyHeader(out, 0, headerEncoder)
            .sessionId(sessionId)
            .correlationId(correlationId)
            .count(count)
            .typeId(typeId)
            .status(status)
            .putNode(nodeCopy.buffer(), 0, nodeLength);
        final int lengthBytes = MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
        headerEncoder.frameLengthBytes(lengthBytes);
        return lengthBytes;
    }

    public void close()
    {
        nodeCopy.close();
    }
}
