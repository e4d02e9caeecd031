package io.spate.perf.jmh;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.FieldDefinition;
import io.spate.codec.RecordWriter;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.store.ApplyResults;
import io.spate.store.NativeStore;
import io.spate.store.OffHeapBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The native store's apply through Panama, per record: single-field u32 updates at random ids
 * over 1,000,000 nodes, 4,096 records per call. Run with {@code bin/spate jmh NativeApplyBenchmark}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {
    "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED", "--enable-native-access=ALL-UNNAMED",
    "--sun-misc-unsafe-memory-access=allow" })
public class NativeApplyBenchmark
{
    static final int NODES = 1_000_000;
    static final int RECORDS_PER_CALL = 4096;

    private final DatabaseSchema schema = SchemaCompiler.compile(JmhSchemas.EVENT_SCHEMA_JSON, "jmh");
    private final TypeDefinition event = schema.type("Event");
    private NativeStore store;
    private OffHeapBuffer updates;
    private ApplyResults results;
    private int updatesLengthBytes;

    @Setup(Level.Trial)
    public void setup()
    {
        store = NativeStore.open(schema);
        results = new ApplyResults(RECORDS_PER_CALL);
        final RecordWriter writer = new RecordWriter(schema);
        try (OffHeapBuffer creates = new OffHeapBuffer(64 * 1024 * 1024))
        {
            for (int done = 0; done < NODES; done += RECORDS_PER_CALL)
            {
                writer.wrap(creates.buffer(), 0, creates.capacityBytes());
                final int count = Math.min(RECORDS_PER_CALL, NODES - done);
                for (int i = 0; i < count; i++)
                {
                    writer.create(event);
                }
                store.apply(creates.address(), writer.endBatch(), 0, results);
            }
        }
        final FieldDefinition value = event.field("value");
        final SplittableRandom random = new SplittableRandom(1);
        updates = new OffHeapBuffer(RECORDS_PER_CALL * 64);
        writer.wrap(updates.buffer(), 0, updates.capacityBytes());
        for (int i = 0; i < RECORDS_PER_CALL; i++)
        {
            writer.update(event, 1 + random.nextInt(NODES));
            writer.setLong(value, random.nextInt() & 0xFFFF_FFFFL);
        }
        updatesLengthBytes = writer.endBatch();
    }

    @TearDown(Level.Trial)
    public void tearDown()
    {
        store.close();
        updates.close();
        results.close();
    }

    @Benchmark
    @OperationsPerInvocation(RECORDS_PER_CALL)
    public int applyRandomUpdates()
    {
        return store.apply(updates.address(), updatesLengthBytes, 0, results);
    }
}
