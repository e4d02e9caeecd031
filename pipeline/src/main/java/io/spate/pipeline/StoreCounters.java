package io.spate.pipeline;

import io.aeron.Aeron;
import io.aeron.Counter;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.TypeDefinition;
import io.spate.store.NativeStore;
import io.spate.store.StoreTypeStats;
import org.agrona.CloseHelper;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * What the store holds, per type, as Aeron counters (so {@code bin/spate stat} and AeronStat see it from any
 * process): live nodes, free and retired slots, arena bytes live / free / reserved, compactions. Each
 * counter's key is the type id (4 bytes, little-endian). Sampled from {@link NativeStore#typeStats} by
 * {@link #sample} at most every {@link #SAMPLE_INTERVAL_NS}, on the thread that owns this object; nothing
 * is allocated per sample.
 */
public final class StoreCounters implements AutoCloseable
{
    public static final int LIVE_NODES_TYPE_ID = 1060;
    public static final int FREE_SLOTS_TYPE_ID = 1061;
    public static final int RETIRED_SLOTS_TYPE_ID = 1062;
    public static final int ARENA_LIVE_BYTES_TYPE_ID = 1063;
    public static final int ARENA_FREE_BYTES_TYPE_ID = 1064;
    public static final int ARENA_RESERVED_BYTES_TYPE_ID = 1065;
    public static final int ARENA_COMPACTIONS_TYPE_ID = 1066;
    /** Lowest and highest type id of these counters. */
    public static final int FIRST_TYPE_ID = LIVE_NODES_TYPE_ID;
    public static final int LAST_TYPE_ID = ARENA_COMPACTIONS_TYPE_ID;
    static final long SAMPLE_INTERVAL_NS = 100_000_000L;

    private final int[] typeIds;
    private final Counter[] counters; // per type, the 7 above in order
    private final StoreTypeStats stats = new StoreTypeStats();
    private long nextSampleNs;

    /**
     * @param aeron  whose CnC file holds the counters.
     * @param schema whose types get counters.
     */
    public StoreCounters(final Aeron aeron, final DatabaseSchema schema)
    {
        typeIds = new int[schema.types().size()];
        counters = new Counter[typeIds.length * 7];
        final UnsafeBuffer key = new UnsafeBuffer(new byte[4]);
        int i = 0;
        for (final TypeDefinition type : schema.types())
        {
            typeIds[i] = type.typeId();
            key.putInt(0, type.typeId(), java.nio.ByteOrder.LITTLE_ENDIAN);
            final String prefix = "spate store " + type.name() + " ";
            counters[i * 7] = add(aeron, LIVE_NODES_TYPE_ID, key, prefix + "live nodes (of maxNodes " + type.maxNodes() + ")");
            counters[i * 7 + 1] = add(aeron, FREE_SLOTS_TYPE_ID, key, prefix + "free slots (reused by creates)");
            counters[i * 7 + 2] = add(aeron, RETIRED_SLOTS_TYPE_ID, key, prefix + "retired slots (generations used up)");
            counters[i * 7 + 3] = add(aeron, ARENA_LIVE_BYTES_TYPE_ID, key, prefix + "arena bytes live");
            counters[i * 7 + 4] = add(aeron, ARENA_FREE_BYTES_TYPE_ID, key, prefix + "arena bytes free (for reuse)");
            counters[i * 7 + 5] = add(aeron, ARENA_RESERVED_BYTES_TYPE_ID, key,
                prefix + "arena bytes reserved (live + free, of maxArenaBytes " + type.maxArenaBytes() + ")");
            counters[i * 7 + 6] = add(aeron, ARENA_COMPACTIONS_TYPE_ID, key, prefix + "arena compactions");
            i++;
        }
    }

    private static Counter add(final Aeron aeron, final int typeId, final UnsafeBuffer key, final String label)
    {
        return aeron.addCounter(typeId, key, 0, key.capacity(), new UnsafeBuffer(label.getBytes(
            java.nio.charset.StandardCharsets.US_ASCII)), 0, label.length());
    }

    /**
     * Reads the store's figures into the counters when the interval has passed.
     *
     * @param store to read (any thread may: its figures are atomics).
     * @param nowNs the caller's clock.
     * @return 1 when it sampled, else 0 (duty-cycle work).
     */
    public int sample(final NativeStore store, final long nowNs)
    {
        if (nowNs - nextSampleNs < 0)
        {
            return 0;
        }
        nextSampleNs = nowNs + SAMPLE_INTERVAL_NS;
        sampleNow(store);
        return 1;
    }

    /**
     * Reads the store's figures into the counters now.
     *
     * @param store to read.
     */
    public void sampleNow(final NativeStore store)
    {
        for (int i = 0; i < typeIds.length; i++)
        {
            store.typeStats(typeIds[i], stats);
            counters[i * 7].setRelease(stats.liveNodes());
            counters[i * 7 + 1].setRelease(stats.freeSlots());
            counters[i * 7 + 2].setRelease(stats.retiredSlots());
            counters[i * 7 + 3].setRelease(stats.arenaLiveBytes());
            counters[i * 7 + 4].setRelease(stats.arenaFreeBytes());
            counters[i * 7 + 5].setRelease(stats.arenaReservedBytes());
            counters[i * 7 + 6].setRelease(stats.arenaCompactions());
        }
    }

    public void close()
    {
        for (int i = counters.length - 1; i >= 0; i--)
        {
            CloseHelper.close(counters[i]);
        }
    }
}
