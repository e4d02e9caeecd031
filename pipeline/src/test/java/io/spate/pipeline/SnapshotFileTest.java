package io.spate.pipeline;

import io.spate.codec.DatabaseSchema;
import io.spate.store.NativeStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A snapshot file round-trips a store, lists newest first, and every kind of damage is refused with one
 * line naming the file and the reason, before the store's loader sees a byte of it.
 */
class SnapshotFileTest
{
    private final DatabaseSchema schema = PipelineHarness.exampleSchema();

    @TempDir
    Path directory;

    private Path writeSnapshot(final NativeStore store, final long position) throws IOException
    {
        try (Arena arena = Arena.ofConfined())
        {
            final long length = store.snapshotLengthBytes();
            final MemorySegment image = arena.allocate(length, 64);
            store.writeSnapshot(image.address(), length);
            return SnapshotFile.write(directory, new SnapshotFile.Header(schema.hash(), 7, position, 3, 1_000, length, 0),
                image);
        }
    }

    @Test
    void aSnapshotRoundTripsAndTheNewestIsListedFirst() throws IOException
    {
        try (NativeStore store = NativeStore.open(schema); NativeStore loaded = NativeStore.open(schema))
        {
            writeSnapshot(store, 100);
            final Path newest = writeSnapshot(store, 4_096);
            final List<Path> snapshots = SnapshotFile.list(directory);
            assertEquals(List.of(newest, SnapshotFile.pathFor(directory, 100)), snapshots);
            final SnapshotFile.Header header = SnapshotFile.load(newest, schema.hash(), loaded);
            assertEquals(4_096, header.logPosition());
            assertEquals(3, header.lastSeq());
            assertEquals(7, header.recordingId());
            assertEquals(4_096, SnapshotFile.positionOf(newest));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = { "magic", "version", "length", "position", "schema", "crc", "empty" })
    void damageIsRefusedWithOneLine(final String damage) throws IOException
    {
        final Path file;
        try (NativeStore store = NativeStore.open(schema))
        {
            file = writeSnapshot(store, 512);
        }
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE))
        {
            final ByteBuffer value = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            switch (damage)
            {
                case "magic" -> channel.write(value.putLong(0, 42), 0);
                case "version" -> channel.write(value.putInt(0, 9).limit(4), 8);
                case "length" -> channel.write(value.putLong(0, 1L << 40), 56);
                case "position" -> channel.write(value.putLong(0, 513), 32);
                case "schema" -> channel.write(value.putLong(0, schema.hash() + 1), 16);
                case "crc" -> channel.write(value.put(0, (byte)0x77).limit(1), SnapshotFile.HEADER_LENGTH_BYTES + 3);
                case "empty" -> channel.truncate(10);
                default -> throw new IllegalArgumentException(damage);
            }
        }
        try (NativeStore store = NativeStore.open(schema))
        {
            final DurableStateException refused =
                assertThrows(DurableStateException.class, () -> SnapshotFile.load(file, schema.hash(), store));
            assertTrue(refused.getMessage().startsWith("snapshot " + file + " is damaged: "), refused.getMessage());
            assertTrue(!refused.getMessage().contains("\n"), refused.getMessage());
            assertEquals(0, store.count(schema.types().getFirst().typeId()), "nothing loaded");
        }
    }

    @Test
    void aFormatOneSnapshotIsRefusedWithOneLineSayingWhatToDo() throws IOException
    {
        final Path file;
        try (NativeStore store = NativeStore.open(schema))
        {
            file = writeSnapshot(store, 1_024);
        }
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE))
        {
            // Format 1 had a 64-byte header; its image (before slots were reused) is not read at all.
            channel.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 1).putInt(4, 64), 8);
        }
        try (NativeStore store = NativeStore.open(schema))
        {
            final DurableStateException refused =
                assertThrows(DurableStateException.class, () -> SnapshotFile.load(file, schema.hash(), store));
            assertEquals("snapshot " + file + " is of format 1, written by a Spate before slots were reused; this build " +
                "reads formats 2 and 3 only: start from an empty data directory (or keep running the old build on this one)",
                refused.getMessage());
            assertEquals(0, store.typeStats(schema.types().getFirst().typeId()).highWaterSlot(), "nothing loaded");
        }
    }

    @Test
    void temporaryAndForeignFilesAreNotSnapshots() throws IOException
    {
        Files.writeString(directory.resolve("snapshot-00000000000000000001.spate-snapshot.tmp"), "partial");
        Files.writeString(directory.resolve("notes.txt"), "x");
        assertTrue(SnapshotFile.list(directory).isEmpty());
    }
}
