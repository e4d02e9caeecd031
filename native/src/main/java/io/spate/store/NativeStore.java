package io.spate.store;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.TypeDefinition;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The native C store behind Panama: per type fixed-width rows in reusable slots and the variable
 * fields in an arena whose blocks are reused; memory follows the live data. Ids are generational
 * (generation &lt;&lt; slotBits | slot, see spate_store.h): an id of a deleted node never names
 * another node. The store does not choose reused ids: Creates carry the id the pipeline's
 * allocator decided ({@link #freeIds} rebuilds one after a restart); a Create with id 0 takes a
 * never-used slot.
 * <p>
 * Threading: one thread at a time may apply records of a given type (the pipeline's type
 * affinity); reads may come from any thread and never see a torn row. {@link #close()} must not
 * race with other calls.
 */
public final class NativeStore implements AutoCloseable
{
    /** Bytes of one result entry ({@code struct spate_result}, the RecordOutcome block). */
    public static final int RESULT_LENGTH_BYTES = ApplyResults.RESULT_LENGTH_BYTES;

    private final DatabaseSchema schema;
    private long handle;

    private NativeStore(final DatabaseSchema schema, final long handle)
    {
        this.schema = schema;
        this.handle = handle;
    }

    /**
     * Opens an empty store for a schema.
     *
     * @param schema compiled database schema.
     * @return the store; close it to free its memory.
     */
    public static NativeStore open(final DatabaseSchema schema)
    {
        try (Arena arena = Arena.ofConfined())
        {
            final int lengthBytes = schema.storeSchemaLengthBytes();
            final MemorySegment message = arena.allocate(lengthBytes, 8);
            final int written = schema.encodeStoreSchema(
                new org.agrona.concurrent.UnsafeBuffer(message.address(), lengthBytes), 0);
            final MemorySegment handleOut = arena.allocate(JAVA_LONG);
            final int result = (int)NativeLibrary.OPEN.invokeExact(message.address(), (long)written, handleOut.address());
            if (result != 0)
            {
                throw new NativeStoreException("spate_store_open refused schema " + schema.name() + ": " +
                    errorName(result));
            }
            return new NativeStore(schema, handleOut.get(JAVA_LONG, 0));
        }
        catch (final NativeStoreException ex)
        {
            throw ex;
        }
        catch (final Throwable ex)
        {
            throw new NativeStoreException("spate_store_open failed: " + ex, ex);
        }
    }

    public DatabaseSchema schema()
    {
        return schema;
    }

    /**
     * Applies the messages in [address, address + lengthBytes): see spate_store.h.
     *
     * @param address         of the first message (off-heap).
     * @param lengthBytes     of the slice.
     * @param progressAddress of a 64-bit counter advanced by bytes consumed as records apply, or 0.
     * @param results         where one entry per message goes.
     * @return entries written; fewer messages than the slice holds when results filled up.
     */
    public int apply(final long address, final long lengthBytes, final long progressAddress, final ApplyResults results)
    {
        final long storeHandle = handle();
        final long count;
        try
        {
            count = (long)NativeLibrary.APPLY.invokeExact(
                storeHandle, address, lengthBytes, progressAddress, results.address(), results.capacity());
        }
        catch (final Throwable ex)
        {
            throw new NativeStoreException("spate_store_apply failed: " + ex, ex);
        }
        if (count < 0)
        {
            throw new NativeStoreException("spate_store_apply: " + errorName((int)count));
        }
        results.count((int)count);
        return (int)count;
    }

    /**
     * Copies a live node: its fixed row, then each string/bytes field as a u32 length and the bytes.
     *
     * @param typeId        of the node.
     * @param nodeId        of the node.
     * @param outAddress    where to copy (off-heap).
     * @param capacityBytes at outAddress.
     * @return bytes written, or -1 when the node does not exist or is deleted.
     * @throws NativeStoreException for an unknown type or too small an output.
     */
    public int get(final int typeId, final long nodeId, final long outAddress, final int capacityBytes)
    {
        final long storeHandle = handle();
        final long result;
        try
        {
            result = (long)NativeLibrary.GET.invokeExact(storeHandle, (short)typeId, nodeId, outAddress, capacityBytes);
        }
        catch (final Throwable ex)
        {
            throw new NativeStoreException("spate_store_get failed: " + ex, ex);
        }
        if (result == NativeErrors.NO_SUCH_NODE)
        {
            return -1;
        }
        if (result < 0)
        {
            throw new NativeStoreException("spate_store_get(type " + typeId + ", id " + nodeId + "): " +
                errorName((int)result));
        }
        return (int)result;
    }

    /**
     * @param type to size a {@link #get} output for.
     * @return the most bytes {@link #get} writes for a node of the type.
     */
    public static int maxNodeLengthBytes(final TypeDefinition type)
    {
        long length = type.rowLengthBytes();
        for (final var field : type.fields())
        {
            if (field.isVariable())
            {
                length += 4 + field.maxLengthBytes();
            }
        }
        return (int)Math.min(length, Integer.MAX_VALUE);
    }

    /**
     * @param schema to size a {@link #get} output for.
     * @return the most bytes {@link #get} writes for a node of any type of the schema.
     */
    public static int maxNodeLengthBytes(final DatabaseSchema schema)
    {
        int max = 8;
        for (final TypeDefinition type : schema.types())
        {
            max = Math.max(max, maxNodeLengthBytes(type));
        }
        return max;
    }

    /**
     * @param typeId of the node.
     * @param nodeId of the node.
     * @return true when the node is live.
     */
    public boolean exists(final int typeId, final long nodeId)
    {
        final long storeHandle = handle();
        final int result;
        try
        {
            result = (int)NativeLibrary.EXISTS.invokeExact(storeHandle, (short)typeId, nodeId);
        }
        catch (final Throwable ex)
        {
            throw new NativeStoreException("spate_store_exists failed: " + ex, ex);
        }
        if (result < 0)
        {
            throw new NativeStoreException("spate_store_exists(type " + typeId + "): " + errorName(result));
        }
        return result == 1;
    }

    /** {@link #nodeState}: the id was never handed out (not valid for the type, or its generation not reached yet). */
    public static final int NODE_NOT_ISSUED = 0;
    /** {@link #nodeState}: the node is live. */
    public static final int NODE_LIVE = 1;
    /** {@link #nodeState}: the id was taken and is gone for good: deleted, or its Create failed after taking it. */
    public static final int NODE_GONE = 2;

    /**
     * @param typeId of the node.
     * @param nodeId of the node.
     * @return {@link #NODE_NOT_ISSUED}, {@link #NODE_LIVE} or {@link #NODE_GONE}.
     */
    public int nodeState(final int typeId, final long nodeId)
    {
        final long storeHandle = handle();
        final int result;
        try
        {
            result = (int)NativeLibrary.NODE_STATE.invokeExact(storeHandle, (short)typeId, nodeId);
        }
        catch (final Throwable ex)
        {
            throw new NativeStoreException("spate_store_node_state failed: " + ex, ex);
        }
        if (result < 0)
        {
            throw new NativeStoreException("spate_store_node_state(type " + typeId + "): " + errorName(result));
        }
        return result;
    }

    /**
     * @param typeId of the nodes.
     * @return live nodes of the type.
     */
    public long count(final int typeId)
    {
        return checkedTypeCall(NativeLibrary.COUNT, typeId, "spate_store_count");
    }

    /**
     * Reads what a type holds and how its memory is used, into a holder (nothing allocated). Any thread.
     *
     * @param typeId of the nodes.
     * @param out    filled in place.
     * @return out.
     */
    public StoreTypeStats typeStats(final int typeId, final StoreTypeStats out)
    {
        final long storeHandle = handle();
        final int result;
        try
        {
            result = (int)NativeLibrary.TYPE_STATS.invokeExact(storeHandle, (short)typeId, out.segment().address());
        }
        catch (final Throwable ex)
        {
            throw new NativeStoreException("spate_store_type_stats failed: " + ex, ex);
        }
        if (result < 0)
        {
            throw new NativeStoreException("spate_store_type_stats(type " + typeId + "): " + errorName(result));
        }
        out.fill(typeId);
        return out;
    }

    /**
     * @param typeId of the nodes.
     * @return a fresh holder with the type's figures (see {@link #typeStats(int, StoreTypeStats)}).
     */
    public StoreTypeStats typeStats(final int typeId)
    {
        return typeStats(typeId, new StoreTypeStats());
    }

    /** Receives the ids a Create may reuse, one slot at a time. */
    @FunctionalInterface
    public interface FreeIdConsumer
    {
        /**
         * @param nodeId the id of the slot's next generation.
         */
        void accept(long nodeId);
    }

    /**
     * Lists, in ascending slot order, the id each reusable slot of a type takes next (free slots up to the
     * highest used that are not retired): what a restarted pipeline rebuilds its id allocator from. No apply
     * of the type may run meanwhile.
     *
     * @param typeId   of the nodes.
     * @param consumer gets each id.
     * @return how many ids it got.
     */
    public long freeIds(final int typeId, final FreeIdConsumer consumer)
    {
        final long storeHandle = handle();
        final int chunk = 64 * 1024;
        long total = 0;
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment ids = arena.allocate(JAVA_LONG, chunk);
            long fromSlot = 1;
            final long slotMask = (1L << typeStats(typeId).slotBits()) - 1;
            for (;;)
            {
                final long count;
                try
                {
                    count = (long)NativeLibrary.FREE_IDS.invokeExact(storeHandle, (short)typeId, fromSlot, ids.address(), chunk);
                }
                catch (final Throwable ex)
                {
                    throw new NativeStoreException("spate_store_free_ids failed: " + ex, ex);
                }
                if (count < 0)
                {
                    throw new NativeStoreException("spate_store_free_ids(type " + typeId + "): " + errorName((int)count));
                }
                for (int i = 0; i < count; i++)
                {
                    consumer.accept(ids.getAtIndex(JAVA_LONG, i));
                }
                total += count;
                if (count < chunk)
                {
                    return total;
                }
                fromSlot = (ids.getAtIndex(JAVA_LONG, count - 1) & slotMask) + 1;
            }
        }
    }

    /**
     * Commits memory for nodeCount nodes of a type ahead of time (at most maxNodes), so creates do
     * not pay first-touch page faults on the hot path.
     *
     * @param typeId    of the nodes.
     * @param nodeCount how many.
     */
    public void reserve(final int typeId, final long nodeCount)
    {
        final long storeHandle = handle();
        final int result;
        try
        {
            result = (int)NativeLibrary.RESERVE.invokeExact(storeHandle, (short)typeId, nodeCount);
        }
        catch (final Throwable ex)
        {
            throw new NativeStoreException("spate_store_reserve failed: " + ex, ex);
        }
        if (result < 0)
        {
            throw new NativeStoreException("spate_store_reserve(type " + typeId + ", " + nodeCount + "): " +
                errorName(result));
        }
    }

    /**
     * @return the exact bytes {@link #writeSnapshot} needs now (same precondition as it has).
     */
    public long snapshotLengthBytes()
    {
        final long storeHandle = handle();
        final long result;
        try
        {
            result = (long)NativeLibrary.SNAPSHOT_LENGTH.invokeExact(storeHandle);
        }
        catch (final Throwable ex)
        {
            throw new NativeStoreException("spate_store_snapshot_length failed: " + ex, ex);
        }
        if (result < 0)
        {
            throw new NativeStoreException("spate_store_snapshot_length: " + errorName((int)result));
        }
        return result;
    }

    /**
     * Copies the whole store into an image that {@link #loadSnapshot} takes back (format in
     * spate_store.h). It has no checksum of its own: protecting it on disk is the caller's job.
     * <p>
     * No apply and no load may run meanwhile; reads (get, exists, count, checksum...) may.
     *
     * @param address       of the image (off-heap, any alignment).
     * @param capacityBytes at address; {@link #snapshotLengthBytes()} is enough.
     * @return bytes written.
     * @throws NativeStoreException when the capacity is too small.
     */
    public long writeSnapshot(final long address, final long capacityBytes)
    {
        final long storeHandle = handle();
        final long result;
        try
        {
            result = (long)NativeLibrary.SNAPSHOT_WRITE.invokeExact(storeHandle, address, capacityBytes);
        }
        catch (final Throwable ex)
        {
            throw new NativeStoreException("spate_store_snapshot_write failed: " + ex, ex);
        }
        if (result < 0)
        {
            throw new NativeStoreException("spate_store_snapshot_write(" + capacityBytes + " bytes): " +
                errorName((int)result));
        }
        return result;
    }

    /**
     * Loads an image from {@link #writeSnapshot} of a store of the same schema into this store,
     * which must be freshly opened: nothing applied yet (reserve is fine). Every length, id,
     * offset and reference in the image is checked before it is used. On failure this store is
     * empty again, as opened: close it, or load another image.
     * <p>
     * No other call on this store may run meanwhile.
     *
     * @param address     of the image (off-heap, any alignment).
     * @param lengthBytes of the image.
     * @throws NativeStoreException naming the reason: not empty, another schema, damaged, truncated.
     */
    public void loadSnapshot(final long address, final long lengthBytes)
    {
        final long storeHandle = handle();
        final int result;
        try
        {
            result = (int)NativeLibrary.SNAPSHOT_LOAD.invokeExact(storeHandle, address, lengthBytes);
        }
        catch (final Throwable ex)
        {
            throw new NativeStoreException("spate_store_snapshot_load failed: " + ex, ex);
        }
        if (result < 0)
        {
            throw new NativeStoreException("spate_store_snapshot_load(" + lengthBytes + " bytes) into a store of " +
                schema.name() + ": " + errorName(result));
        }
    }

    /**
     * @return per type of the schema, in its order, {@code Name=count/checksum} ({@link #checksum} in hex),
     * space separated: what two stores must print alike to hold the same content. No apply may run meanwhile.
     */
    public String contentFingerprint()
    {
        final StringBuilder text = new StringBuilder();
        for (final TypeDefinition type : schema.types())
        {
            text.append(text.isEmpty() ? "" : " ").append(type.name()).append('=').append(count(type.typeId()))
                .append('/').append(Long.toHexString(checksum(type.typeId())));
        }
        return text.toString();
    }

    /**
     * A 64-bit hash of a type's logical content (slot states and generations, rows and string/bytes
     * values, highest slot used, live count; not where values sit in memory), defined in spate_store.h. Equal for stores
     * that applied the same records and for a store loaded from another's snapshot. Walks every
     * node: a check, not a hot-path call. No apply of the type may run meanwhile.
     *
     * @param typeId of the nodes.
     * @return the hash.
     */
    public long checksum(final int typeId)
    {
        final long storeHandle = handle();
        final int result;
        try (Arena arena = Arena.ofConfined())
        {
            final MemorySegment out = arena.allocate(JAVA_LONG);
            result = (int)NativeLibrary.CHECKSUM.invokeExact(storeHandle, (short)typeId, out.address());
            if (result == 0)
            {
                return out.get(JAVA_LONG, 0);
            }
        }
        catch (final Throwable ex)
        {
            throw new NativeStoreException("spate_store_checksum failed: " + ex, ex);
        }
        throw new NativeStoreException("spate_store_checksum(type " + typeId + "): " + errorName(result));
    }

    public boolean isClosed()
    {
        return handle == 0;
    }

    /**
     * Frees the store. Idempotent.
     */
    public void close()
    {
        if (handle != 0)
        {
            final long h = handle;
            handle = 0;
            try
            {
                NativeLibrary.CLOSE.invokeExact(h);
            }
            catch (final Throwable ex)
            {
                throw new NativeStoreException("spate_store_close failed: " + ex, ex);
            }
        }
    }

    private long checkedTypeCall(final java.lang.invoke.MethodHandle handleMethod, final int typeId, final String name)
    {
        final long storeHandle = handle();
        final long result;
        try
        {
            result = (long)handleMethod.invokeExact(storeHandle, (short)typeId);
        }
        catch (final Throwable ex)
        {
            throw new NativeStoreException(name + " failed: " + ex, ex);
        }
        if (result < 0)
        {
            throw new NativeStoreException(name + "(type " + typeId + "): " + errorName((int)result));
        }
        return result;
    }

    private long handle()
    {
        if (handle == 0)
        {
            throw new IllegalStateException("store is closed");
        }
        return handle;
    }

    static String errorName(final int error)
    {
        return switch (error)
        {
            case NativeErrors.NULL_ARGUMENT -> "null argument";
            case NativeErrors.BAD_SCHEMA -> "bad schema descriptor";
            case NativeErrors.OUT_OF_MEMORY -> "out of memory (could not reserve address space)";
            case NativeErrors.UNKNOWN_TYPE -> "unknown type";
            case NativeErrors.NO_SUCH_NODE -> "no such node";
            case NativeErrors.BUFFER_TOO_SMALL -> "buffer too small";
            case NativeErrors.BAD_SNAPSHOT ->
                "snapshot damaged: not a snapshot, or a length, count, id, offset or row inconsistent with the schema";
            case NativeErrors.SNAPSHOT_TRUNCATED -> "snapshot damaged: truncated (shorter than the length it states)";
            case NativeErrors.SNAPSHOT_VERSION -> "snapshot of a format version this library does not read";
            case NativeErrors.SNAPSHOT_SCHEMA -> "snapshot is for another schema";
            case NativeErrors.STORE_NOT_EMPTY -> "store is not empty (a snapshot loads only into a freshly opened store)";
            default -> "error " + error;
        };
    }
}
