package io.spate.pipeline;

import io.aeron.ExclusivePublication;
import io.aeron.Image;
import io.aeron.Publication;
import io.aeron.cluster.client.ClusterException;
import io.aeron.logbuffer.FragmentHandler;
import io.spate.codec.DatabaseSchema;
import io.spate.store.NativeStore;
import io.spate.store.NativeStoreException;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * The clustered service's snapshot, written to and read from the cluster's snapshot stream: the id
 * counters, the store's image, and the ack ledger. Messages, each starting with an int kind:
 * <pre>
 *   HEADER  kind, version, schema hash (8), type slots (4), next id per type slot (8 each),
 *           batches applied (8), records applied (8), image length (8), image CRC32C (8), session count (4)
 *   IMAGE   kind, then up to CHUNK_BYTES of the store image, in order
 *   SESSION kind, session id (8), last correlation id (8), ack count (4)
 *   ACK     kind, then a ledger entry (correlation id, ack), ack count of them after their SESSION
 *   END     kind, magic (8)
 * </pre>
 * Little-endian. The image is checked (length, CRC32C) before the store loads it, and the store checks
 * every length, id and reference in it again.
 */
final class ClusterSnapshot
{
    static final int VERSION = 1;
    static final int HEADER = 1;
    static final int IMAGE = 2;
    static final int SESSION = 3;
    static final int ACK = 4;
    static final int END = 5;
    static final long END_MAGIC = 0x5350_4154_4545_4E44L; // "SPATEEND"
    /** Store image bytes per message: fragments of one message are reassembled on the heap. */
    static final int CHUNK_BYTES = 64 * 1024;

    private ClusterSnapshot()
    {
    }

    static void write(
        final ExclusivePublication publication,
        final IdleStrategy idle,
        final DatabaseSchema schema,
        final NativeStore store,
        final long[] nextIdByType,
        final long[] appliedTotals,
        final ClusterAckLedger ledger)
    {
        final UnsafeBuffer message = new UnsafeBuffer(new byte[Math.max(CHUNK_BYTES + 16, 64 + 8 * nextIdByType.length)]);
        try (Arena arena = Arena.ofConfined())
        {
            final long imageCapacityBytes = store.snapshotLengthBytes();
            final MemorySegment image = arena.allocate(Math.max(1, imageCapacityBytes), 64);
            final long imageLengthBytes = store.writeSnapshot(image.address(), imageCapacityBytes);
            final long crc = crc32c(image, imageLengthBytes);

            int at = 0;
            message.putInt(at, HEADER, ByteOrder.LITTLE_ENDIAN);
            message.putInt(at += 4, VERSION, ByteOrder.LITTLE_ENDIAN);
            message.putLong(at += 4, schema.hash(), ByteOrder.LITTLE_ENDIAN);
            message.putInt(at += 8, nextIdByType.length, ByteOrder.LITTLE_ENDIAN);
            at += 4;
            for (final long nextId : nextIdByType)
            {
                message.putLong(at, nextId, ByteOrder.LITTLE_ENDIAN);
                at += 8;
            }
            message.putLong(at, appliedTotals[0], ByteOrder.LITTLE_ENDIAN);
            message.putLong(at += 8, appliedTotals[1], ByteOrder.LITTLE_ENDIAN);
            message.putLong(at += 8, imageLengthBytes, ByteOrder.LITTLE_ENDIAN);
            message.putLong(at += 8, crc, ByteOrder.LITTLE_ENDIAN);
            message.putInt(at += 8, ledger.sessionCount(), ByteOrder.LITTLE_ENDIAN);
            offer(publication, idle, message, at + 4);

            final UnsafeBuffer window = new UnsafeBuffer(0, 0);
            for (long position = 0; position < imageLengthBytes; position += CHUNK_BYTES)
            {
                final int chunkBytes = (int)Math.min(CHUNK_BYTES, imageLengthBytes - position);
                window.wrap(image.address() + position, chunkBytes);
                message.putInt(0, IMAGE, ByteOrder.LITTLE_ENDIAN);
                message.putBytes(4, window, 0, chunkBytes);
                offer(publication, idle, message, 4 + chunkBytes);
            }
        }

        final org.agrona.ExpandableArrayBuffer entry = new org.agrona.ExpandableArrayBuffer(4096);
        ledger.forEachSession(session ->
        {
            message.putInt(0, SESSION, ByteOrder.LITTLE_ENDIAN);
            message.putLong(4, session.sessionId, ByteOrder.LITTLE_ENDIAN);
            message.putLong(12, session.lastCorrelationId, ByteOrder.LITTLE_ENDIAN);
            message.putInt(20, session.count, ByteOrder.LITTLE_ENDIAN);
            offer(publication, idle, message, 24);
            session.acks.forEach((buffer, offset, length, headOffset) ->
            {
                entry.putInt(0, ACK, ByteOrder.LITTLE_ENDIAN);
                entry.putBytes(4, buffer, offset, length); // grows once to the longest ack
                offer(publication, idle, entry, 4 + length);
                return true;
            }, Integer.MAX_VALUE);
        });

        message.putInt(0, END, ByteOrder.LITTLE_ENDIAN);
        message.putLong(4, END_MAGIC, ByteOrder.LITTLE_ENDIAN);
        offer(publication, idle, message, 12);
    }

    private static long crc32c(final MemorySegment image, final long lengthBytes)
    {
        final CRC32C crc = new CRC32C();
        for (long position = 0; position < lengthBytes; position += Integer.MAX_VALUE)
        {
            final long sliceBytes = Math.min(Integer.MAX_VALUE, lengthBytes - position);
            crc.update(image.asSlice(position, sliceBytes).asByteBuffer());
        }
        return crc.getValue();
    }

    /**
     * The one place the snapshot stream is offered: back pressure and admin actions wait (the archive
     * records at its pace); a closed stream fails the snapshot.
     */
    private static void offer(
        final ExclusivePublication publication, final IdleStrategy idle, final DirectBuffer buffer, final int length)
    {
        idle.reset();
        while (true)
        {
            final long result = publication.offer(buffer, 0, length);
            if (result > 0)
            {
                return;
            }
            if (result == Publication.CLOSED || result == Publication.MAX_POSITION_EXCEEDED)
            {
                throw new ClusterException("snapshot stream refused a message: " + Publication.errorString(result));
            }
            idle.idle();
        }
    }

    /**
     * Reads a snapshot into a freshly opened store, the id counters and the (empty) ledger.
     *
     * @throws ClusterException naming what is wrong: another schema, a damaged image, a truncated stream.
     */
    static void load(
        final Image snapshotImage,
        final IdleStrategy idle,
        final DatabaseSchema schema,
        final NativeStore store,
        final long[] nextIdByType,
        final long[] appliedTotals,
        final ClusterAckLedger ledger)
    {
        final Loader loader = new Loader(schema, store, nextIdByType, appliedTotals, ledger);
        final io.aeron.FragmentAssembler assembler = new io.aeron.FragmentAssembler(loader);
        try
        {
            idle.reset();
            while (!loader.done)
            {
                final int fragments = snapshotImage.poll(assembler, 16);
                if (fragments == 0)
                {
                    if (snapshotImage.isClosed() || snapshotImage.isEndOfStream())
                    {
                        throw new ClusterException("the snapshot ended before its END message (truncated)");
                    }
                    idle.idle();
                }
            }
        }
        finally
        {
            loader.close();
        }
    }

    private static final class Loader implements FragmentHandler, AutoCloseable
    {
        private final DatabaseSchema schema;
        private final NativeStore store;
        private final long[] nextIdByType;
        private final long[] appliedTotals;
        private final ClusterAckLedger ledger;
        private final Arena arena = Arena.ofConfined();
        private final UnsafeBuffer window = new UnsafeBuffer(0, 0);
        private MemorySegment image;
        private long imageLengthBytes;
        private long imageCrc;
        private long imageReceivedBytes;
        private int sessionsLeft = -1;
        private ClusterAckLedger.SessionAcks session;
        private int acksLeft;
        private boolean storeLoaded;
        boolean done;

        Loader(
            final DatabaseSchema schema,
            final NativeStore store,
            final long[] nextIdByType,
            final long[] appliedTotals,
            final ClusterAckLedger ledger)
        {
            this.schema = schema;
            this.store = store;
            this.nextIdByType = nextIdByType;
            this.appliedTotals = appliedTotals;
            this.ledger = ledger;
        }

        public void onFragment(final DirectBuffer buffer, final int offset, final int length, final io.aeron.logbuffer.Header header)
        {
            if (length < 4)
            {
                throw new ClusterException("snapshot message of " + length + " bytes");
            }
            final int kind = buffer.getInt(offset, ByteOrder.LITTLE_ENDIAN);
            switch (kind)
            {
                case HEADER -> onHeader(buffer, offset, length);
                case IMAGE -> onImage(buffer, offset + 4, length - 4);
                case SESSION -> onSession(buffer, offset, length);
                case ACK -> onAck(buffer, offset + 4, length - 4);
                case END -> onEnd(buffer, offset, length);
                default -> throw new ClusterException("snapshot message of unknown kind " + kind);
            }
        }

        private void onHeader(final DirectBuffer buffer, final int offset, final int length)
        {
            if (null != image || sessionsLeft >= 0)
            {
                throw new ClusterException("a second snapshot header");
            }
            if (length < 4 + 4 + 8 + 4)
            {
                throw new ClusterException("snapshot header of " + length + " bytes");
            }
            int at = offset + 4;
            final int version = buffer.getInt(at, ByteOrder.LITTLE_ENDIAN);
            if (version != VERSION)
            {
                throw new ClusterException("snapshot version " + version + ", this node reads " + VERSION);
            }
            final long schemaHash = buffer.getLong(at += 4, ByteOrder.LITTLE_ENDIAN);
            if (schemaHash != schema.hash())
            {
                throw new ClusterException("the snapshot is of another database schema (hash " +
                    Long.toHexString(schemaHash) + ", this node runs " + schema.name() + " " +
                    Long.toHexString(schema.hash()) + ")");
            }
            final int typeSlots = buffer.getInt(at += 8, ByteOrder.LITTLE_ENDIAN);
            at += 4;
            if (typeSlots != nextIdByType.length || length != 4 + 4 + 8 + 4 + 8 * typeSlots + 8 + 8 + 8 + 8 + 4)
            {
                throw new ClusterException("snapshot header of " + length + " bytes for " + typeSlots + " type slots");
            }
            for (int i = 0; i < typeSlots; i++)
            {
                nextIdByType[i] = buffer.getLong(at, ByteOrder.LITTLE_ENDIAN);
                at += 8;
            }
            appliedTotals[0] = buffer.getLong(at, ByteOrder.LITTLE_ENDIAN);
            appliedTotals[1] = buffer.getLong(at += 8, ByteOrder.LITTLE_ENDIAN);
            imageLengthBytes = buffer.getLong(at += 8, ByteOrder.LITTLE_ENDIAN);
            imageCrc = buffer.getLong(at += 8, ByteOrder.LITTLE_ENDIAN);
            sessionsLeft = buffer.getInt(at += 8, ByteOrder.LITTLE_ENDIAN);
            if (imageLengthBytes < 0 || sessionsLeft < 0)
            {
                throw new ClusterException("snapshot header with image length " + imageLengthBytes + ", " +
                    sessionsLeft + " sessions");
            }
            image = arena.allocate(Math.max(1, imageLengthBytes), 64);
            loadStoreIfComplete();
        }

        private void onImage(final DirectBuffer buffer, final int offset, final int length)
        {
            if (null == image)
            {
                throw new ClusterException("snapshot image bytes before the snapshot header");
            }
            if (storeLoaded || imageReceivedBytes + length > imageLengthBytes)
            {
                throw new ClusterException("snapshot image bytes beyond its declared " + imageLengthBytes);
            }
            window.wrap(image.address() + imageReceivedBytes, length);
            window.putBytes(0, buffer, offset, length);
            imageReceivedBytes += length;
            loadStoreIfComplete();
        }

        private void loadStoreIfComplete()
        {
            if (imageReceivedBytes != imageLengthBytes || storeLoaded)
            {
                return;
            }
            final long crc = crc32c(image, imageLengthBytes);
            if (crc != imageCrc)
            {
                throw new ClusterException("the snapshot's store image is damaged: CRC32C " + Long.toHexString(crc) +
                    ", written " + Long.toHexString(imageCrc));
            }
            if (imageLengthBytes > 0)
            {
                try
                {
                    store.loadSnapshot(image.address(), imageLengthBytes);
                }
                catch (final NativeStoreException ex)
                {
                    throw new ClusterException("the snapshot's store image is refused by the store: " + ex.getMessage());
                }
            }
            storeLoaded = true;
        }

        private void onSession(final DirectBuffer buffer, final int offset, final int length)
        {
            if (!storeLoaded || acksLeft != 0 || sessionsLeft <= 0 || length != 24)
            {
                throw new ClusterException("snapshot session out of place");
            }
            sessionsLeft--;
            final long sessionId = buffer.getLong(offset + 4, ByteOrder.LITTLE_ENDIAN);
            if (null != ledger.sessionOrNull(sessionId))
            {
                throw new ClusterException("snapshot session " + sessionId + " twice");
            }
            session = ledger.session(sessionId);
            final long lastCorrelationId = buffer.getLong(offset + 12, ByteOrder.LITTLE_ENDIAN);
            acksLeft = buffer.getInt(offset + 20, ByteOrder.LITTLE_ENDIAN);
            if (acksLeft < 0 || acksLeft > ledger.maxBatchesPerSession())
            {
                throw new ClusterException("snapshot session with " + acksLeft + " acks");
            }
            if (acksLeft == 0)
            {
                session.lastCorrelationId = lastCorrelationId;
            }
            pendingLastCorrelationId = lastCorrelationId;
        }

        private long pendingLastCorrelationId;

        private void onAck(final DirectBuffer buffer, final int offset, final int length)
        {
            if (null == session || acksLeft <= 0 || length < ClusterAckLedger.ENTRY_HEADER_BYTES)
            {
                throw new ClusterException("snapshot ack out of place");
            }
            final long correlationId = buffer.getLong(offset, ByteOrder.LITTLE_ENDIAN);
            if (correlationId <= session.lastCorrelationId || correlationId > pendingLastCorrelationId)
            {
                throw new ClusterException("snapshot session " + session.sessionId + ": ack of " + correlationId +
                    " after " + session.lastCorrelationId + " (last answered " + pendingLastCorrelationId + ")");
            }
            try
            {
                ledger.record(session, correlationId, buffer, offset, length);
            }
            catch (final IllegalStateException ex)
            {
                throw new ClusterException("snapshot ack of " + length + " bytes refused: " + ex.getMessage());
            }
            if (--acksLeft == 0)
            {
                session.lastCorrelationId = pendingLastCorrelationId;
            }
        }

        private void onEnd(final DirectBuffer buffer, final int offset, final int length)
        {
            if (length != 12 || buffer.getLong(offset + 4, ByteOrder.LITTLE_ENDIAN) != END_MAGIC)
            {
                throw new ClusterException("damaged snapshot END");
            }
            if (!storeLoaded || sessionsLeft != 0 || acksLeft != 0)
            {
                throw new ClusterException("the snapshot ended early: store " + (storeLoaded ? "loaded" : "incomplete") +
                    ", " + sessionsLeft + " sessions and " + acksLeft + " acks missing");
            }
            done = true;
        }

        public void close()
        {
            arena.close();
        }
    }
}
