package io.spate.perf;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.FieldDefinition;
import io.spate.codec.RecordWriter;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.store.ApplyResults;
import io.spate.store.NativeStore;
import io.spate.store.OffHeapBuffer;
import io.spate.wire.RecordStatus;

import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Single-thread throughput of the native store's apply over pre-encoded records, next to a bare
 * C loop that decodes the same records into preallocated arrays (the ceiling), measured in the
 * same run so the ratio means something on a noisy machine.
 * <ul>
 * <li>creates, cold: a fresh store grows into fresh memory (first-touch page faults included);</li>
 * <li>creates, warm: the same after {@code reserve} committed the memory ahead;</li>
 * <li>updates: one u32 field at uniformly random ids over all the nodes.</li>
 * </ul>
 * Records: creates with three numeric fields (u64, u32, f64) and a 16-byte string; the chunk of
 * creates carries id 0 (the store assigns), so it is applied again and again without re-encoding.
 */
public final class ApplyBenchmark
{
    public static final String SCHEMA_JSON = """
        {"name": "bench", "types": [{"name": "Event", "maxNodes": 68719476736, "maxArenaBytes": 1099511627776,
          "fields": [{"name": "seq", "type": "u64"}, {"name": "value", "type": "u32"},
                     {"name": "amount", "type": "f64"}, {"name": "tag", "type": "string", "maxBytes": 16}]}]}
        """;
    static final int TAG_LENGTH_BYTES = 16;

    private final Options options;
    private final DatabaseSchema schema = SchemaCompiler.compile(SCHEMA_JSON, "bench schema");
    private final TypeDefinition event = schema.type("Event");

    ApplyBenchmark(final Options options)
    {
        this.options = options;
    }

    /** Command-line options. */
    record Options(long nodes, int iterations, int recordsPerApply, int createChunkRecords, int updateChunkRecords)
    {
        static Options parse(final String[] args)
        {
            long nodes = 10_000_000;
            int iterations = 5;
            int recordsPerApply = 4096;
            for (int i = 0; i < args.length; i++)
            {
                switch (args[i])
                {
                    case "--nodes" -> nodes = Long.parseLong(args[++i].replace("_", ""));
                    case "--iterations" -> iterations = Integer.parseInt(args[++i]);
                    case "--records-per-apply" -> recordsPerApply = Integer.parseInt(args[++i]);
                    case "--quick" ->
                    {
                        nodes = 2_000_000;
                        iterations = 2;
                    }
                    case "--help", "-h" ->
                    {
                        System.out.println("""
                            Usage: bin/spate bench-apply [--nodes N] [--iterations K] [--records-per-apply R] [--quick]
                              --nodes N              nodes created per iteration, and the id range of updates (10000000)
                              --iterations K         measured iterations of each phase; best and median reported (5)
                              --records-per-apply R  records per spate_store_apply call (4096)
                              --quick                2,000,000 nodes, 2 iterations""");
                        System.exit(0);
                    }
                    default -> throw new IllegalArgumentException("unknown option " + args[i] + " (try --help)");
                }
            }
            if (nodes < 1 || iterations < 1 || recordsPerApply < 1)
            {
                throw new IllegalArgumentException("--nodes, --iterations and --records-per-apply must be positive");
            }
            final int createChunk = (int)Math.min(nodes, 1 << 16);
            final int updateChunk = (int)Math.min(nodes, 1 << 20);
            return new Options(nodes, iterations, recordsPerApply, createChunk, updateChunk);
        }
    }

    /** Records of one kind, all the same length, encoded back to back off-heap. */
    record EncodedChunk(OffHeapBuffer memory, int records, int recordLengthBytes) implements AutoCloseable
    {
        public void close()
        {
            memory.close();
        }
    }

    EncodedChunk encodeCreates(final int records, final SplittableRandom random)
    {
        final FieldDefinition seq = event.field("seq");
        final FieldDefinition value = event.field("value");
        final FieldDefinition amount = event.field("amount");
        final FieldDefinition tag = event.field("tag");
        final RecordWriter writer = new RecordWriter(schema);
        final int recordLength = createLengthBytes();
        final OffHeapBuffer memory = new OffHeapBuffer(records * recordLength);
        writer.wrap(memory.buffer(), 0, memory.capacityBytes());
        final StringBuilder text = new StringBuilder(TAG_LENGTH_BYTES);
        for (int i = 0; i < records; i++)
        {
            writer.create(event);
            text.setLength(0);
            for (int c = 0; c < TAG_LENGTH_BYTES; c++)
            {
                text.append((char)('a' + random.nextInt(26)));
            }
            writer.setLong(seq, i).setLong(value, random.nextInt() & 0xFFFF_FFFFL)
                .setDouble(amount, random.nextDouble()).setString(tag, text);
        }
        final int length = writer.endBatch();
        if (length != records * recordLength)
        {
            throw new IllegalStateException("creates are not all " + recordLength + " bytes");
        }
        return new EncodedChunk(memory, records, recordLength);
    }

    EncodedChunk encodeUpdates(final int records, final long nodes, final SplittableRandom random)
    {
        final FieldDefinition value = event.field("value");
        final RecordWriter writer = new RecordWriter(schema);
        writer.wrap(new org.agrona.concurrent.UnsafeBuffer(new byte[256]), 0, 256);
        writer.update(event, 1);
        writer.setLong(value, 1);
        final int recordLength = writer.endBatch();
        final OffHeapBuffer memory = new OffHeapBuffer(records * recordLength);
        writer.wrap(memory.buffer(), 0, memory.capacityBytes());
        for (int i = 0; i < records; i++)
        {
            writer.update(event, 1 + random.nextLong(nodes));
            writer.setLong(value, random.nextInt() & 0xFFFF_FFFFL);
        }
        writer.endBatch();
        return new EncodedChunk(memory, records, recordLength);
    }

    private int createLengthBytes()
    {
        final RecordWriter writer = new RecordWriter(schema);
        writer.wrap(new org.agrona.concurrent.UnsafeBuffer(new byte[256]), 0, 256);
        writer.create(event);
        writer.setString(event.field("tag"), "x".repeat(TAG_LENGTH_BYTES));
        return writer.endBatch();
    }

    /**
     * Applies `total` records from the chunk, cycling through it, recordsPerApply at a time.
     *
     * @return nanoseconds taken.
     */
    long applyAll(final NativeStore store, final EncodedChunk chunk, final long total, final ApplyResults results)
    {
        final long base = chunk.memory().address();
        final int perApply = options.recordsPerApply();
        long remaining = total;
        int index = 0;
        final long start = System.nanoTime();
        while (remaining > 0)
        {
            final int records = (int)Math.min(Math.min(perApply, remaining), chunk.records() - index);
            final int count = store.apply(
                base + (long)index * chunk.recordLengthBytes(), (long)records * chunk.recordLengthBytes(), 0, results);
            if (count != records || results.status(records - 1) != RecordStatus.OK.value())
            {
                throw new IllegalStateException("apply walked " + count + " of " + records + " records, last status " +
                    RecordStatus.get((short)results.status(count - 1)));
            }
            remaining -= records;
            index += records;
            if (index == chunk.records())
            {
                index = 0;
            }
        }
        return System.nanoTime() - start;
    }

    void run()
    {
        final long nodes = options.nodes();
        System.out.printf(Locale.ROOT, "apply-bench: %,d nodes, %d iterations, %,d records per apply, Java %s, %d cpus%n",
            nodes, options.iterations(), options.recordsPerApply(), Runtime.version(),
            Runtime.getRuntime().availableProcessors());
        final SplittableRandom random = new SplittableRandom(42);
        final double[] coldCreates = new double[options.iterations()];
        final double[] warmCreates = new double[options.iterations()];
        final double[] updates = new double[options.iterations()];
        final double[] baselineCreates = new double[options.iterations()];
        final double[] baselineUpdates = new double[options.iterations()];

        try (EncodedChunk creates = encodeCreates(options.createChunkRecords(), random);
            EncodedChunk updateChunk = encodeUpdates(options.updateChunkRecords(), nodes, random);
            ApplyResults results = new ApplyResults(options.recordsPerApply());
            BaselineLoop baseline = new BaselineLoop(nodes, event))
        {
            for (int i = 0; i < options.iterations(); i++)
            {
                try (NativeStore store = NativeStore.open(schema))
                {
                    coldCreates[i] = rate(nodes, applyAll(store, creates, nodes, results));
                }
                try (NativeStore store = NativeStore.open(schema))
                {
                    store.reserve(event.typeId(), nodes);
                    warmCreates[i] = rate(nodes, applyAll(store, creates, nodes, results));
                    applyAll(store, updateChunk, Math.min(nodes, updateChunk.records()), results);
                    updates[i] = rate(nodes, applyAll(store, updateChunk, nodes, results));
                    if (store.count(event.typeId()) != nodes)
                    {
                        throw new IllegalStateException("store holds " + store.count(event.typeId()) + " nodes");
                    }
                }
                baselineCreates[i] = rate(nodes, baseline.creates(creates, nodes, options.recordsPerApply()));
                baselineUpdates[i] = rate(nodes, baseline.updates(updateChunk, nodes, options.recordsPerApply()));
                System.out.printf(Locale.ROOT,
                    "  iteration %d/%d: creates cold %.1f M/s, warm %.1f M/s, updates %.1f M/s | baseline creates %.1f M/s, updates %.1f M/s%n",
                    i + 1, options.iterations(), coldCreates[i], warmCreates[i], updates[i], baselineCreates[i],
                    baselineUpdates[i]);
            }
        }

        final double warm = median(warmCreates);
        final double update = median(updates);
        System.out.printf(Locale.ROOT, "%-22s %12s %12s %12s%n", "phase (M records/s)", "median", "best", "goal");
        row("creates, cold memory", coldCreates, "-");
        row("creates, warm memory", warmCreates, ">= 50");
        row("updates, random u32", updates, ">= 40");
        row("baseline creates", baselineCreates, "ceiling");
        row("baseline updates", baselineUpdates, "ceiling");
        System.out.printf(Locale.ROOT,
            "apply-bench: creates=%.1fM/s (cold %.1fM/s, %.0f%% of baseline) updates=%.1fM/s (%.0f%% of baseline) nodes=%d%n",
            warm, median(coldCreates), 100 * warm / median(baselineCreates), update,
            100 * update / median(baselineUpdates), nodes);
    }

    private static void row(final String name, final double[] values, final String goal)
    {
        System.out.printf(Locale.ROOT, "%-22s %12.1f %12.1f %12s%n", name, median(values),
            Arrays.stream(values).max().orElse(0), goal);
    }

    static double rate(final long records, final long nanos)
    {
        return records * 1e3 / nanos;
    }

    static double median(final double[] values)
    {
        final double[] sorted = values.clone();
        Arrays.sort(sorted);
        final int middle = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    public static void main(final String[] args)
    {
        final Options options;
        try
        {
            options = Options.parse(args);
        }
        catch (final RuntimeException ex)
        {
            System.err.println("bench-apply: " + ex.getMessage());
            System.exit(2);
            return;
        }
        new ApplyBenchmark(options).run();
    }
}
