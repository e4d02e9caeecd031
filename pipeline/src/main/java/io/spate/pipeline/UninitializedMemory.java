package io.spate.pipeline;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Large off-heap buffers that are about to be overwritten whole (the snapshot image), taken from
 * {@code malloc} instead of {@link Arena#allocate}: an arena zero-fills every byte first, and for a
 * fresh mapping the kernel has zeroed the pages already, so the JVM's fill is a second pass over
 * memory that the store's copy overwrites anyway (a tenth of the durable pipeline's CPU when the
 * first image of a large store was taken).
 */
final class UninitializedMemory
{
    private static final MethodHandle MALLOC;
    private static final MethodHandle FREE;

    static
    {
        final Linker linker = Linker.nativeLinker();
        MALLOC = linker.downcallHandle(linker.defaultLookup().find("malloc").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
        FREE = linker.downcallHandle(linker.defaultLookup().find("free").orElseThrow(),
            FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
    }

    private UninitializedMemory()
    {
    }

    /**
     * @param arena       whose closing frees the memory.
     * @param lengthBytes at least 1.
     * @return a segment of that length whose bytes are undefined.
     * @throws OutOfMemoryError when malloc has none.
     */
    static MemorySegment allocate(final Arena arena, final long lengthBytes)
    {
        if (lengthBytes < 1)
        {
            throw new IllegalArgumentException("length must be at least 1: " + lengthBytes);
        }
        final MemorySegment raw;
        try
        {
            raw = (MemorySegment)MALLOC.invokeExact(lengthBytes);
        }
        catch (final Throwable ex)
        {
            throw new IllegalStateException("malloc failed: " + ex, ex);
        }
        if (MemorySegment.NULL.equals(raw))
        {
            throw new OutOfMemoryError("malloc of " + lengthBytes + " bytes for a snapshot image failed");
        }
        return raw.reinterpret(lengthBytes, arena, UninitializedMemory::free);
    }

    private static void free(final MemorySegment segment)
    {
        try
        {
            FREE.invokeExact(segment);
        }
        catch (final Throwable ex)
        {
            throw new IllegalStateException("free failed: " + ex, ex);
        }
    }
}
