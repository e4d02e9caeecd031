package io.spate.store;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * Loads libspate.so once per JVM and makes the downcall handles once.
 * <p>
 * Where the library comes from: the directory named by the system property
 * {@code spate.native.dir} (the build sets it to native/target/native for tests), else the copy
 * packed in this jar at {@code /native/linux-x86_64/libspate.so}, extracted to a temporary file.
 * <p>
 * Pointers are passed as {@code long}: the same ABI as a pointer on LP64 Linux, and no
 * MemorySegment is made per call. Short calls that never block use {@link Linker.Option#critical}
 * (no thread-state transition); apply is not critical, since one call may walk megabytes and a
 * critical call holds off GC safepoints for its whole length.
 */
final class NativeLibrary
{
    static final String LIBRARY_DIR_PROPERTY = "spate.native.dir";
    static final String LIBRARY_FILE = "libspate.so";
    static final String LIBRARY_RESOURCE = "/native/linux-x86_64/" + LIBRARY_FILE;

    static final MethodHandle OPEN;
    static final MethodHandle CLOSE;
    static final MethodHandle APPLY;
    static final MethodHandle GET;
    static final MethodHandle EXISTS;
    static final MethodHandle NODE_STATE;
    static final MethodHandle COUNT;
    static final MethodHandle TYPE_STATS;
    static final MethodHandle FREE_IDS;
    static final MethodHandle RESERVE;
    static final MethodHandle SNAPSHOT_LENGTH;
    static final MethodHandle SNAPSHOT_WRITE;
    static final MethodHandle SNAPSHOT_LOAD;
    static final MethodHandle CHECKSUM;
    static final Path LIBRARY_PATH;

    static
    {
        LIBRARY_PATH = locate();
        final SymbolLookup lookup = SymbolLookup.libraryLookup(LIBRARY_PATH, Arena.global());
        final Linker linker = Linker.nativeLinker();
        final Linker.Option critical = Linker.Option.critical(false);

        OPEN = downcall(linker, lookup, "spate_store_open", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG));
        CLOSE = downcall(linker, lookup, "spate_store_close", FunctionDescriptor.ofVoid(JAVA_LONG));
        APPLY = downcall(linker, lookup, "spate_store_apply",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT));
        GET = downcall(linker, lookup, "spate_store_get",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_SHORT, JAVA_LONG, JAVA_LONG, JAVA_INT), critical);
        EXISTS = downcall(linker, lookup, "spate_store_exists",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_SHORT, JAVA_LONG), critical);
        NODE_STATE = downcall(linker, lookup, "spate_store_node_state",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_SHORT, JAVA_LONG), critical);
        COUNT = downcall(linker, lookup, "spate_store_count",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_SHORT), critical);
        TYPE_STATS = downcall(linker, lookup, "spate_store_type_stats",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_SHORT, JAVA_LONG), critical);
        // Walks the type's used slots: not critical.
        FREE_IDS = downcall(linker, lookup, "spate_store_free_ids",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_SHORT, JAVA_LONG, JAVA_LONG, JAVA_INT));
        RESERVE = downcall(linker, lookup, "spate_store_reserve",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_SHORT, JAVA_LONG));
        // Sums per-type counters: short.
        SNAPSHOT_LENGTH = downcall(linker, lookup, "spate_store_snapshot_length",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG), critical);
        // Copy, load and checksum touch the whole store (gigabytes): not critical, safepoints go on.
        SNAPSHOT_WRITE = downcall(linker, lookup, "spate_store_snapshot_write",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
        SNAPSHOT_LOAD = downcall(linker, lookup, "spate_store_snapshot_load",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG));
        CHECKSUM = downcall(linker, lookup, "spate_store_checksum",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_SHORT, JAVA_LONG));
    }

    private NativeLibrary()
    {
    }

    private static MethodHandle downcall(
        final Linker linker,
        final SymbolLookup lookup,
        final String name,
        final FunctionDescriptor descriptor,
        final Linker.Option... options)
    {
        return linker.downcallHandle(
            lookup.find(name).orElseThrow(() -> new NativeStoreException(
                LIBRARY_PATH + " has no symbol " + name + "; rebuild the native module (bin/spate test)")),
            descriptor,
            options);
    }

    private static Path locate()
    {
        final String directory = System.getProperty(LIBRARY_DIR_PROPERTY);
        if (null != directory && !directory.isEmpty())
        {
            final Path path = Path.of(directory, LIBRARY_FILE).toAbsolutePath();
            if (!Files.isReadable(path))
            {
                throw new NativeStoreException("-D" + LIBRARY_DIR_PROPERTY + "=" + directory + " has no readable " +
                    LIBRARY_FILE + "; build it with bin/spate test (or ./mvnw -pl native -am package)");
            }
            return path;
        }
        try (InputStream in = NativeLibrary.class.getResourceAsStream(LIBRARY_RESOURCE))
        {
            if (null == in)
            {
                throw new NativeStoreException("no " + LIBRARY_FILE + " on the class path (" + LIBRARY_RESOURCE +
                    ") and -D" + LIBRARY_DIR_PROPERTY + " is not set; build the native module first");
            }
            final Path file = Files.createTempFile("spate-", "-" + LIBRARY_FILE);
            file.toFile().deleteOnExit();
            Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
            return file;
        }
        catch (final IOException ex)
        {
            throw new NativeStoreException("cannot extract " + LIBRARY_RESOURCE + ": " + ex, ex);
        }
    }
}
