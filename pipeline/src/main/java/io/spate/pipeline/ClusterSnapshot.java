package io.spate.pipeline;

import io.aeron.ExclusivePublication;
import io.aeron.Image;
import io.aeron.Publication;
import io.aeron.cluster.client.ClusterException;
import io.aeron.logbuffer.FragmentHandler;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.TypeDefinition;
import io.spate.store.NativeStore;
import io.spate.store.NativeStoreException;
import io.spate.store.StoreTypeStats;
import org.agrona.DirectBuffer;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * The clustered service's snapshot, written to and read from the cluster's snapshot stream: the settings it
 * was taken with, the id allocator, the store's image, and the ack ledger. Messages, each starting with an int
 * kind:
 * <pre>
 *   HEADER  kind, version, CRC32C (8) of the header's bytes after it, schema hash (8), type count (4),
 *           batches applied (8), records applied (8), image length (8), image CRC32C (8), session count (4),
 *           the ledger's next ack sequence (8), the settings (40, ClusterServiceSettings.encodeReplicated)
 *   TYPE_IDS kind, type id (4), highest slot handed out (8), ids in use (8), retired slots (8),
 *           slots not kept (8), free id count (4); one per type of the schema, in its order, each followed by
 *   FREE_IDS kind, count (4), then that many free ids (8 each, at most FREE_IDS_PER_MESSAGE), bottom of the
 *           stack first: the allocator's exact order, so a member that loads it hands out the ids the others do
 *   IMAGE   kind, then up to CHUNK_BYTES of the store image, in order
 *   SESSION kind, session id (8), last correlation id (8), ack count (4)
 *   ACK     kind, then a ledger entry (correlation id 8, sequence 8, ack), ack count of them after their SESSION
 *   END     kind, magic (8), CRC32C (8) of every SESSION and ACK message, whole, in order
 * </pre>
 * Little-endian. The header is checked (its CRC32C, then its version, schema and settings against this member's)
 * before anything is loaded; the image (length, CRC32C) before the store loads it, and the store checks every
 * length, id and reference in it again; the ledger (its CRC32C) at END. Anything that does not check out is
 * refused with a ClusterException of one line.
 */
final class ClusterSnapshot
{
    /**
     * 3: the header carries its CRC32C, the settings and the ledger's next ack sequence; acks their sequence; END the
     * ledger's CRC32C. (2: slots are reused, the free ids travel in TYPE_IDS / FREE_IDS; 1 had a next id per type.)
     */
    static final int VERSION = 3;
    static final int HEADER = 1;
    static final int IMAGE = 2;
    static final int SESSION = 3;
    static final int ACK = 4;
    static final int END = 5;
    static final int TYPE_IDS = 6;
    static final int FREE_IDS = 7;
    static final int FREE_IDS_PER_MESSAGE = 8 * 1024;
    static final int HEADER_LENGTH_BYTES = 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8 +
        ClusterServiceSettings.REPLICATED_LENGTH_BYTES;
    /** Where the header's CRC32C is, and where the bytes it covers start. */
    static final int HEADER_CRC_OFFSET = 8;
    static final int HEADER_CRC_FROM = 16;
    static final int END_LENGTH_BYTES = 4 + 8 + 8;
    private static final int TYPE_IDS_LENGTH_BYTES = 4 + 4 + 8 + 8 + 8 + 8 + 4;
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
        final ClusterServiceSettings settings,
        final NativeStore store,
        final IdAllocator ids,
        final long[] appliedTotals,
        final AckLedger ledger)
    {
        final UnsafeBuffer message = new UnsafeBuffer(new byte[Math.max(CHUNK_BYTES, 8 + 8 * FREE_IDS_PER_MESSAGE) + 16]);
        try (Arena arena = Arena.ofConfined())
        {
            final long imageCapacityBytes = store.snapshotLengthBytes();
            final MemorySegment image = arena.allocate(Math.max(1, imageCapacityBytes), 64);
            final long imageLengthBytes = store.writeSnapshot(image.address(), imageCapacityBytes);
            final long crc = crc32c(image, imageLengthBytes);

            int at = 0;
            message.putInt(at, HEADER, ByteOrder.LITTLE_ENDIAN);
            message.putInt(at += 4, VERSION, ByteOrder.LITTLE_ENDIAN);
            message.putLong(at += 4, 0, ByteOrder.LITTLE_ENDIAN); // its CRC32C, below
            message.putLong(at += 8, schema.hash(), ByteOrder.LITTLE_ENDIAN);
            message.putInt(at += 8, schema.types().size(), ByteOrder.LITTLE_ENDIAN);
            message.putLong(at += 4, appliedTotals[0], ByteOrder.LITTLE_ENDIAN);
            message.putLong(at += 8, appliedTotals[1], ByteOrder.LITTLE_ENDIAN);
            message.putLong(at += 8, imageLengthBytes, ByteOrder.LITTLE_ENDIAN);
            message.putLong(at += 8, crc, ByteOrder.LITTLE_ENDIAN);
            message.putInt(at += 8, ledger.sessionCount(), ByteOrder.LITTLE_ENDIAN);
            message.putLong(at += 4, ledger.nextSequence(), ByteOrder.LITTLE_ENDIAN);
            at += 8;
            at += settings.encodeReplicated(message, at, schema.hash());
            message.putLong(HEADER_CRC_OFFSET, crc32c(message, HEADER_CRC_FROM, at - HEADER_CRC_FROM),
                ByteOrder.LITTLE_ENDIAN);
            offer(publication, idle, message, at);

            for (final TypeDefinition type : schema.types())
            {
                writeTypeIds(publication, idle, message, ids.type(type.typeId()));
            }

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
        final CRC32C ledgerCrc = new CRC32C();
        ledger.forEachSession(session ->
        {
            message.putInt(0, SESSION, ByteOrder.LITTLE_ENDIAN);
            message.putLong(4, session.sessionId, ByteOrder.LITTLE_ENDIAN);
            message.putLong(12, session.lastCorrelationId, ByteOrder.LITTLE_ENDIAN);
            message.putInt(20, session.count, ByteOrder.LITTLE_ENDIAN);
            update(ledgerCrc, message, 0, 24);
            offer(publication, idle, message, 24);
            session.acks.forEach((buffer, offset, length, headOffset) ->
            {
                entry.putInt(0, ACK, ByteOrder.LITTLE_ENDIAN);
                entry.putBytes(4, buffer, offset, length); // grows once to the longest ack
                update(ledgerCrc, entry, 0, 4 + length);
                offer(publication, idle, entry, 4 + length);
                return true;
            }, Integer.MAX_VALUE);
        });

        message.putInt(0, END, ByteOrder.LITTLE_ENDIAN);
        message.putLong(4, END_MAGIC, ByteOrder.LITTLE_ENDIAN);
        message.putLong(12, ledgerCrc.getValue(), ByteOrder.LITTLE_ENDIAN);
        offer(publication, idle, message, END_LENGTH_BYTES);
    }

    /** CRC32C of a buffer's bytes. */
    static long crc32c(final DirectBuffer buffer, final int offset, final int length)
    {
        final CRC32C crc = new CRC32C();
        update(crc, buffer, offset, length);
        return crc.getValue();
    }

    private static void update(final CRC32C crc, final DirectBuffer buffer, final int offset, final int length)
    {
        if (null != buffer.byteArray())
        {
            crc.update(buffer.byteArray(), (int)(buffer.wrapAdjustment() + offset), length);
        }
        else
        {
            final byte[] bytes = new byte[length];
            buffer.getBytes(offset, bytes);
            crc.update(bytes);
        }
    }

    private static void writeTypeIds(
        final ExclusivePublication publication, final IdleStrategy idle, final UnsafeBuffer message, final IdAllocator.TypeIds ids)
    {
        int at = 0;
        message.putInt(at, TYPE_IDS, ByteOrder.LITTLE_ENDIAN);
        message.putInt(at += 4, ids.typeId, ByteOrder.LITTLE_ENDIAN);
        message.putLong(at += 4, ids.highWaterSlot, ByteOrder.LITTLE_ENDIAN);
        message.putLong(at += 8, ids.inUse, ByteOrder.LITTLE_ENDIAN);
        message.putLong(at += 8, ids.retiredSlots, ByteOrder.LITTLE_ENDIAN);
        message.putLong(at += 8, ids.leakedSlots, ByteOrder.LITTLE_ENDIAN);
        message.putInt(at += 8, ids.freeCount, ByteOrder.LITTLE_ENDIAN);
        offer(publication, idle, message, at + 4);
        for (int from = 0; from < ids.freeCount; from += FREE_IDS_PER_MESSAGE)
        {
            final int count = Math.min(FREE_IDS_PER_MESSAGE, ids.freeCount - from);
            message.putInt(0, FREE_IDS, ByteOrder.LITTLE_ENDIAN);
            message.putInt(4, count, ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < count; i++)
            {
                message.putLong(8 + 8 * i, ids.freeIds[from + i], ByteOrder.LITTLE_ENDIAN);
            }
            offer(publication, idle, message, 8 + 8 * count);
        }
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
     * Reads a snapshot into a freshly opened store, a fresh id allocator and the (empty) ledger.
     *
     * @throws ClusterException naming what is wrong: another schema, a damaged image, a truncated stream.
     */
    static void load(
        final Image snapshotImage,
        final IdleStrategy idle,
        final DatabaseSchema schema,
        final ClusterServiceSettings settings,
        final NativeStore store,
        final IdAllocator ids,
        final long[] appliedTotals,
        final AckLedger ledger)
    {
        final Loader loader = new Loader(schema, settings, store, ids, appliedTotals, ledger);
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
        private final ClusterServiceSettings settings;
        private final CRC32C ledgerCrc = new CRC32C();
        private final NativeStore store;
        private final IdAllocator ids;
        private final long[] appliedTotals;
        private final AckLedger ledger;
        private final Arena arena = Arena.ofConfined();
        private final UnsafeBuffer window = new UnsafeBuffer(0, 0);
        private MemorySegment image;
        private long imageLengthBytes;
        private long imageCrc;
        private long imageReceivedBytes;
        private int sessionsLeft = -1;
        private AckLedger.SessionAcks session;
        private int acksLeft;
        private boolean storeLoaded;
        private int typesLeft = -1;
        private int typeIndex;
        private IdAllocator.TypeIds typeIds;
        private int freeIdsLeft;
        boolean done;

        Loader(
            final DatabaseSchema schema,
            final ClusterServiceSettings settings,
            final NativeStore store,
            final IdAllocator ids,
            final long[] appliedTotals,
            final AckLedger ledger)
        {
            this.schema = schema;
            this.settings = settings;
            this.store = store;
            this.ids = ids;
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
                case TYPE_IDS -> onTypeIds(buffer, offset, length);
                case FREE_IDS -> onFreeIds(buffer, offset, length);
                case IMAGE -> onImage(buffer, offset + 4, length - 4);
                case SESSION ->
                {
                    update(ledgerCrc, buffer, offset, length);
                    onSession(buffer, offset, length);
                }
                case ACK ->
                {
                    update(ledgerCrc, buffer, offset, length);
                    onAck(buffer, offset + 4, length - 4);
                }
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
            if (length < 4 + 4)
            {
                throw new ClusterException("snapshot header of " + length + " bytes");
            }
            int at = offset + 4;
            final int version = buffer.getInt(at, ByteOrder.LITTLE_ENDIAN);
            if (version != VERSION)
            {
                throw new ClusterException("snapshot version " + version + ", this node reads " + VERSION +
                    (version == 1 ? " (version 1 predates slot reuse: start this member from a snapshot taken by a node of" +
                    " this version, or from an empty log)" : version == 2 ? " (version 2 predates the settings check and" +
                    " the header's and ledger's CRCs: start this member from a snapshot taken by a node of this version," +
                    " or from an empty log)" : ""));
            }
            if (length != HEADER_LENGTH_BYTES)
            {
                // Never read past the message.
                throw new ClusterException("snapshot header of " + length + " bytes, not " + HEADER_LENGTH_BYTES);
            }
            final long writtenCrc = buffer.getLong(offset + HEADER_CRC_OFFSET, ByteOrder.LITTLE_ENDIAN);
            final long headerCrc = crc32c(buffer, offset + HEADER_CRC_FROM, length - HEADER_CRC_FROM);
            if (headerCrc != writtenCrc)
            {
                throw new ClusterException("the snapshot header is damaged: CRC32C " + Long.toHexString(headerCrc) +
                    ", written " + Long.toHexString(writtenCrc));
            }
            final long schemaHash = buffer.getLong(at += 12, ByteOrder.LITTLE_ENDIAN);
            if (schemaHash != schema.hash())
            {
                throw new ClusterException("the snapshot is of another database schema (hash " +
                    Long.toHexString(schemaHash) + ", this node runs " + schema.name() + " " +
                    Long.toHexString(schema.hash()) + ")");
            }
            final int settingsAt = offset + HEADER_LENGTH_BYTES - ClusterServiceSettings.REPLICATED_LENGTH_BYTES;
            final String difference = settings.differenceFromReplicated(buffer, settingsAt,
                ClusterServiceSettings.REPLICATED_LENGTH_BYTES, schema.hash());
            if (null != difference)
            {
                throw new ClusterException("the snapshot was taken with other settings than this member's: " +
                    difference);
            }
            final int typeCount = buffer.getInt(at += 8, ByteOrder.LITTLE_ENDIAN);
            at += 4;
            if (typeCount != schema.types().size())
            {
                throw new ClusterException("snapshot of " + typeCount + " types, the schema has " + schema.types().size());
            }
            typesLeft = typeCount;
            appliedTotals[0] = buffer.getLong(at, ByteOrder.LITTLE_ENDIAN);
            appliedTotals[1] = buffer.getLong(at += 8, ByteOrder.LITTLE_ENDIAN);
            imageLengthBytes = buffer.getLong(at += 8, ByteOrder.LITTLE_ENDIAN);
            imageCrc = buffer.getLong(at += 8, ByteOrder.LITTLE_ENDIAN);
            sessionsLeft = buffer.getInt(at += 8, ByteOrder.LITTLE_ENDIAN);
            final long nextSequence = buffer.getLong(at += 4, ByteOrder.LITTLE_ENDIAN);
            if (imageLengthBytes < 0 || sessionsLeft < 0 || nextSequence < 1)
            {
                throw new ClusterException("snapshot header with image length " + imageLengthBytes + ", " +
                    sessionsLeft + " sessions, next ack sequence " + nextSequence);
            }
            ledger.restoreNextSequence(nextSequence);
            image = arena.allocate(Math.max(1, imageLengthBytes), 64);
            loadStoreIfComplete();
        }

        private void onTypeIds(final DirectBuffer buffer, final int offset, final int length)
        {
            if (typesLeft <= 0 || freeIdsLeft != 0 || length != TYPE_IDS_LENGTH_BYTES)
            {
                throw new ClusterException("snapshot type ids out of place");
            }
            final TypeDefinition expected = schema.types().get(typeIndex++);
            typesLeft--;
            int at = offset + 4;
            final int typeId = buffer.getInt(at, ByteOrder.LITTLE_ENDIAN);
            if (typeId != expected.typeId())
            {
                throw new ClusterException("snapshot ids of type " + typeId + " where type " + expected.typeId() + " comes");
            }
            typeIds = ids.type(typeId);
            final long highWaterSlot = buffer.getLong(at += 4, ByteOrder.LITTLE_ENDIAN);
            final long inUse = buffer.getLong(at += 8, ByteOrder.LITTLE_ENDIAN);
            final long retiredSlots = buffer.getLong(at += 8, ByteOrder.LITTLE_ENDIAN);
            final long leakedSlots = buffer.getLong(at += 8, ByteOrder.LITTLE_ENDIAN);
            final int freeCount = buffer.getInt(at += 8, ByteOrder.LITTLE_ENDIAN);
            if (highWaterSlot < 0 || highWaterSlot > typeIds.slotLimit || inUse < 0 || inUse > typeIds.maxNodes ||
                retiredSlots < 0 || leakedSlots < 0 || freeCount < 0 ||
                inUse + retiredSlots + leakedSlots + freeCount != highWaterSlot)
            {
                throw new ClusterException("snapshot ids of type " + typeId + " do not add up: highest slot " +
                    highWaterSlot + ", " + inUse + " in use, " + retiredSlots + " retired, " + leakedSlots + " not kept, " +
                    freeCount + " free");
            }
            typeIds.highWaterSlot = highWaterSlot;
            typeIds.inUse = inUse;
            typeIds.retiredSlots = retiredSlots;
            typeIds.leakedSlots = leakedSlots;
            typeIds.freeCount = 0;
            freeIdsLeft = freeCount;
        }

        private void onFreeIds(final DirectBuffer buffer, final int offset, final int length)
        {
            final int count = length >= 8 ? buffer.getInt(offset + 4, ByteOrder.LITTLE_ENDIAN) : -1;
            if (null == typeIds || count < 1 || count > Math.min(freeIdsLeft, FREE_IDS_PER_MESSAGE) || length != 8 + 8 * count)
            {
                throw new ClusterException("snapshot free ids out of place");
            }
            for (int i = 0; i < count; i++)
            {
                final long id = buffer.getLong(offset + 8 + 8 * i, ByteOrder.LITTLE_ENDIAN);
                final long slot = typeIds.slotOf(id);
                if (id <= 0 || slot < 1 || slot > typeIds.highWaterSlot)
                {
                    throw new ClusterException("snapshot free id " + id + " of type " + typeIds.typeId +
                        " outside its slots 1.." + typeIds.highWaterSlot);
                }
                typeIds.pushFree(id);
            }
            freeIdsLeft -= count;
        }

        private void onImage(final DirectBuffer buffer, final int offset, final int length)
        {
            if (null == image || typesLeft != 0 || freeIdsLeft != 0)
            {
                throw new ClusterException("snapshot image bytes before the snapshot header and ids");
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
            checkIdsAgreeWithStore();
            storeLoaded = true;
        }

        /**
         * Between messages the service has applied everything it handed ids out for, so its allocator and its
         * store say the same: the highest slot, the ids in use (live nodes), the retired slots, and the free ids
         * themselves (each the next generation of a free slot, once each; the allocator's order is its own).
         */
        private void checkIdsAgreeWithStore()
        {
            if (typesLeft != 0 || freeIdsLeft != 0)
            {
                throw new ClusterException("snapshot image before every type's ids");
            }
            final StoreTypeStats stats = new StoreTypeStats();
            final Long2LongHashMap storeFreeIdBySlot = new Long2LongHashMap(0);
            for (final TypeDefinition type : schema.types())
            {
                final IdAllocator.TypeIds typeIds = ids.type(type.typeId());
                store.typeStats(type.typeId(), stats);
                if (typeIds.highWaterSlot != stats.highWaterSlot() || typeIds.inUse != stats.liveNodes() ||
                    typeIds.retiredSlots != stats.retiredSlots() ||
                    typeIds.freeCount + typeIds.retiredSlots + typeIds.leakedSlots != stats.freeSlots())
                {
                    throw new ClusterException("the snapshot's ids of " + type.name() + " disagree with its store: " +
                        "highest slot " + typeIds.highWaterSlot + "/" + stats.highWaterSlot() + ", in use " + typeIds.inUse +
                        "/" + stats.liveNodes() + " live, retired " + typeIds.retiredSlots + "/" + stats.retiredSlots() +
                        ", free " + (typeIds.freeCount + typeIds.retiredSlots + typeIds.leakedSlots) + "/" +
                        stats.freeSlots());
                }
                storeFreeIdBySlot.clear();
                store.freeIds(type.typeId(), id -> storeFreeIdBySlot.put(typeIds.slotOf(id), id));
                for (int i = 0; i < typeIds.freeCount; i++)
                {
                    final long id = typeIds.freeIds[i];
                    final long storeId = storeFreeIdBySlot.remove(typeIds.slotOf(id));
                    if (storeId != id)
                    {
                        throw new ClusterException("the snapshot's free id " + id + " of " + type.name() +
                            " disagrees with its store: slot " + typeIds.slotOf(id) + (0 == storeId ?
                            " is not free there (or is listed twice)" : " takes " + storeId + " there"));
                    }
                }
            }
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
            if (null == session || acksLeft <= 0 || length < AckLedger.ENTRY_HEADER_BYTES)
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
                ledger.restore(session, buffer, offset, length);
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
            if (length != END_LENGTH_BYTES || buffer.getLong(offset + 4, ByteOrder.LITTLE_ENDIAN) != END_MAGIC)
            {
                throw new ClusterException("damaged snapshot END");
            }
            if (!storeLoaded || sessionsLeft != 0 || acksLeft != 0)
            {
                throw new ClusterException("the snapshot ended early: store " + (storeLoaded ? "loaded" : "incomplete") +
                    ", " + sessionsLeft + " sessions and " + acksLeft + " acks missing");
            }
            final long writtenCrc = buffer.getLong(offset + 12, ByteOrder.LITTLE_ENDIAN);
            if (ledgerCrc.getValue() != writtenCrc)
            {
                throw new ClusterException("the snapshot's ack ledger is damaged: CRC32C " +
                    Long.toHexString(ledgerCrc.getValue()) + ", written " + Long.toHexString(writtenCrc));
            }
            done = true;
        }

        public void close()
        {
            arena.close();
        }
    }
}
