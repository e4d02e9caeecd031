package io.spate.perf;

import io.spate.codec.FieldDefinition;
import io.spate.codec.TypeDefinition;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The bare C decode-and-store loop (native/src/bench/c/baseline.c) over preallocated arrays that
 * are touched once up front, so it runs on warm memory: the ceiling for {@link ApplyBenchmark}.
 */
final class BaselineLoop implements AutoCloseable
{
    private static final long SLOT_LENGTH_BYTES = 16;

    private final Arena arena = Arena.ofShared();
    private final MethodHandle creates;
    private final MethodHandle updates;
    private final long capacity;
    private final long rowStrideBytes;
    private final long valueStrideBytes;
    private final MemorySegment rows;
    private final MemorySegment values;
    private final MemorySegment fieldOffsets;
    private final int fieldCount;

    BaselineLoop(final long capacity, final TypeDefinition type)
    {
        final String directory = System.getProperty("spate.native.dir");
        if (null == directory)
        {
            throw new IllegalStateException("-Dspate.native.dir is not set; run through bin/spate bench-apply");
        }
        final Path library = Path.of(directory, "libspate_baseline.so");
        if (!Files.isReadable(library))
        {
            throw new IllegalStateException(library + " is missing; build with bin/spate test or ./mvnw package");
        }
        final SymbolLookup lookup = SymbolLookup.libraryLookup(library, arena);
        final Linker linker = Linker.nativeLinker();
        creates = linker.downcallHandle(lookup.find("spate_baseline_creates").orElseThrow(),
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                JAVA_LONG, JAVA_LONG));
        updates = linker.downcallHandle(lookup.find("spate_baseline_updates").orElseThrow(),
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT));

        this.capacity = capacity;
        long stride = type.rowLengthBytes() + SLOT_LENGTH_BYTES * type.varFieldCount();
        rowStrideBytes = (stride + 7) & ~7L;
        long valueStride = 0;
        for (final FieldDefinition field : type.fields())
        {
            valueStride += field.isVariable() ? field.maxLengthBytes() : 0;
        }
        valueStrideBytes = Math.max(8, (valueStride + 7) & ~7L);
        rows = arena.allocate(capacity * rowStrideBytes, 64);
        values = arena.allocate(capacity * valueStrideBytes, 64);
        rows.fill((byte)0);
        values.fill((byte)0);
        fieldCount = type.fields().size() + 1;
        fieldOffsets = arena.allocate(4L * fieldCount, 4);
        for (final FieldDefinition field : type.fields())
        {
            fieldOffsets.setAtIndex(JAVA_INT, field.fieldId(), Math.max(0, field.offsetBytes()));
        }
    }

    /**
     * @return nanoseconds to store `total` creates from the chunk, recordsPerCall at a time.
     */
    long creates(final ApplyBenchmark.EncodedChunk chunk, final long total, final int recordsPerCall)
    {
        final long start = System.nanoTime();
        long done = 0;
        int index = 0;
        while (done < total)
        {
            final int records = (int)Math.min(Math.min(recordsPerCall, total - done), chunk.records() - index);
            final long stored = invoke(creates, chunk.memory().address() + (long)index * chunk.recordLengthBytes(),
                (long)records * chunk.recordLengthBytes(), rows.address(), rowStrideBytes, done, capacity,
                values.address(), valueStrideBytes);
            if (stored != records)
            {
                throw new IllegalStateException("baseline stored " + stored + " of " + records + " creates");
            }
            done += records;
            index = (index + records) % chunk.records();
        }
        return System.nanoTime() - start;
    }

    /**
     * @return nanoseconds to apply `total` updates from the chunk, recordsPerCall at a time.
     */
    long updates(final ApplyBenchmark.EncodedChunk chunk, final long total, final int recordsPerCall)
    {
        final long start = System.nanoTime();
        long done = 0;
        int index = 0;
        while (done < total)
        {
            final int records = (int)Math.min(Math.min(recordsPerCall, total - done), chunk.records() - index);
            final long applied;
            try
            {
                applied = (long)updates.invokeExact(chunk.memory().address() + (long)index * chunk.recordLengthBytes(),
                    (long)records * chunk.recordLengthBytes(), rows.address(), rowStrideBytes, capacity,
                    fieldOffsets.address(), fieldCount);
            }
            catch (final Throwable ex)
            {
                throw new IllegalStateException(ex);
            }
            if (applied != records)
            {
                throw new IllegalStateException("baseline applied " + applied + " of " + records + " updates");
            }
            done += records;
            index = (index + records) % chunk.records();
        }
        return System.nanoTime() - start;
    }

    private static long invoke(
        final MethodHandle handle, final long a, final long b, final long c, final long d, final long e, final long f,
        final long g, final long h)
    {
        try
        {
            return (long)handle.invokeExact(a, b, c, d, e, f, g, h);
        }
        catch (final Throwable ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    public void close()
    {
        arena.close();
    }
}
