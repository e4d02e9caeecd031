package io.spate.perf.jmh;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.FieldDefinition;
import io.spate.codec.RecordReader;
import io.spate.codec.RecordWriter;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/**
 * Encoding a client batch of creates with {@link RecordWriter} and walking/validating it with
 * {@link RecordReader}, per record. Run with {@code bin/spate jmh CodecBenchmark}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {
    "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED", "--enable-native-access=ALL-UNNAMED",
    "--sun-misc-unsafe-memory-access=allow" })
public class CodecBenchmark
{
    static final int RECORDS = 1000;

    private final DatabaseSchema schema = SchemaCompiler.compile(JmhSchemas.EVENT_SCHEMA_JSON, "jmh");
    private final TypeDefinition event = schema.type("Event");
    private final FieldDefinition seq = event.field("seq");
    private final FieldDefinition value = event.field("value");
    private final FieldDefinition amount = event.field("amount");
    private final FieldDefinition tag = event.field("tag");
    private final RecordWriter writer = new RecordWriter(schema);
    private final RecordReader reader = new RecordReader(schema);
    private final UnsafeBuffer buffer = new UnsafeBuffer(ByteBuffer.allocateDirect(1 << 20));
    private int encodedLengthBytes;

    @Setup
    public void setup()
    {
        encodedLengthBytes = encode();
    }

    @Benchmark
    @OperationsPerInvocation(RECORDS)
    public int encodeCreates()
    {
        return encode();
    }

    @Benchmark
    @OperationsPerInvocation(RECORDS)
    public int readAndValidateCreates()
    {
        reader.wrap(buffer, 0, encodedLengthBytes);
        int ok = 0;
        while (reader.next())
        {
            ok += reader.status() == 0 ? 1 : 0;
        }
        return ok;
    }

    private int encode()
    {
        writer.wrap(buffer, 0, buffer.capacity()).beginBatch(1, 1);
        for (int i = 0; i < RECORDS; i++)
        {
            writer.create(event);
            writer.setLong(seq, i).setLong(value, i & 0xFFFF).setDouble(amount, i * 0.5).setString(tag, "0123456789abcdef");
        }
        return writer.endBatch();
    }
}
