package io.spate.pipeline;

import io.spate.store.NativeStore;
import io.spate.store.NativeStoreException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.CRC32C;

/**
 * A snapshot of the store and the producers' sessions at a log position, as one file:
 * <pre>
 *   0  magic "SPATESNP"          32 log position (bytes)      56 image length n (bytes)
 *   8  format version (int)      40 last batch seq            64 sessions length m (bytes)
 *  12  header length (int)       48 written at (epoch ms)     72 the store's image
 *  16  schema hash                 (all little-endian)        72+n the sessions ({@link ResumableSessions#write})
 *  24  log recording id                                       72+n+m CRC32C of bytes [0, 72+n+m)
 * </pre>
 * Written to a temporary name, fsynced, renamed into place and the directory fsynced, so a crash
 * leaves either the whole file or none. Read back, every field is checked and the CRC covers all
 * of it; the store's own loader checks the image's structure again.
 */
final class SnapshotFile
{
    static final String SUFFIX = ".spate-snapshot";
    private static final Pattern NAME = Pattern.compile("snapshot-(\\d{20})\\" + SUFFIX);
    private static final long MAGIC = 0x504E5345_54415053L; // "SPATESNP" read little-endian
    /**
     * 3: the sessions after the image (2: no sessions; read as none remembered; 1: written before slots were
     * reused, refused).
     */
    private static final int VERSION = 3;
    static final int HEADER_LENGTH_BYTES = 72;
    private static final int V2_HEADER_LENGTH_BYTES = 64;
    private static final int CRC_LENGTH_BYTES = 4;
    private static final int IO_CHUNK_BYTES = 64 << 20;

    /** What a snapshot says about itself. */
    record Header(
        long schemaHash,
        long recordingId,
        long logPosition,
        long lastSeq,
        long writtenAtMs,
        long imageLengthBytes,
        long sessionsLengthBytes)
    {
    }

    /** Takes a snapshot's sessions as it is loaded. */
    @FunctionalInterface
    interface SessionsLoader
    {
        /**
         * @throws IllegalStateException naming what does not add up.
         */
        void load(org.agrona.DirectBuffer buffer, int offset, int lengthBytes);
    }

    private SnapshotFile()
    {
    }

    static Path pathFor(final Path directory, final long logPosition)
    {
        return directory.resolve(String.format("snapshot-%020d%s", logPosition, SUFFIX));
    }

    /**
     * @return the snapshots in the directory, newest (highest log position) first.
     */
    static List<Path> list(final Path directory) throws IOException
    {
        final List<Path> found = new ArrayList<>();
        if (!Files.isDirectory(directory))
        {
            return found;
        }
        try (var stream = Files.list(directory))
        {
            stream.filter((path) -> NAME.matcher(path.getFileName().toString()).matches()).forEach(found::add);
        }
        found.sort((a, b) -> Long.compare(positionOf(b), positionOf(a)));
        return found;
    }

    static long positionOf(final Path path)
    {
        final Matcher matcher = NAME.matcher(path.getFileName().toString());
        if (!matcher.matches())
        {
            throw new IllegalArgumentException("not a snapshot file name: " + path);
        }
        return Long.parseLong(matcher.group(1));
    }

    /**
     * Writes a snapshot durably: temporary file, fsync, rename, fsync of the directory.
     *
     * @param directory where snapshots live.
     * @param header    what the snapshot is.
     * @param image     the store's image, then the sessions (as long as the header says).
     * @return the file written.
     */
    static Path write(final Path directory, final Header header, final MemorySegment image) throws IOException
    {
        final Path target = pathFor(directory, header.logPosition());
        final Path temporary = directory.resolve(target.getFileName() + ".tmp");
        final CRC32C crc = new CRC32C();
        try (FileChannel channel = FileChannel.open(temporary, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING))
        {
            final ByteBuffer head = ByteBuffer.allocate(HEADER_LENGTH_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            head.putLong(MAGIC).putInt(VERSION).putInt(HEADER_LENGTH_BYTES)
                .putLong(header.schemaHash()).putLong(header.recordingId()).putLong(header.logPosition())
                .putLong(header.lastSeq()).putLong(header.writtenAtMs()).putLong(header.imageLengthBytes())
                .putLong(header.sessionsLengthBytes());
            if (header.imageLengthBytes() + header.sessionsLengthBytes() != image.byteSize())
            {
                throw new IllegalArgumentException("a snapshot of " + header.imageLengthBytes() + " + " +
                    header.sessionsLengthBytes() + " bytes given " + image.byteSize());
            }
            head.flip();
            crc.update(head.duplicate());
            writeFully(channel, head);
            for (long offset = 0; offset < image.byteSize(); offset += IO_CHUNK_BYTES)
            {
                final ByteBuffer chunk = image.asSlice(offset, Math.min(IO_CHUNK_BYTES, image.byteSize() - offset))
                    .asByteBuffer();
                crc.update(chunk.duplicate());
                writeFully(channel, chunk);
            }
            final ByteBuffer trailer = ByteBuffer.allocate(CRC_LENGTH_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            trailer.putInt((int)crc.getValue()).flip();
            writeFully(channel, trailer);
            channel.force(true);
        }
        try
        {
            Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE);
        }
        catch (final AtomicMoveNotSupportedException ex)
        {
            throw new IOException("the snapshot directory " + directory + " cannot rename atomically", ex);
        }
        syncDirectory(directory);
        return target;
    }

    /**
     * Reads a snapshot into a store that was just opened, checking everything first.
     *
     * @param file       the snapshot.
     * @param schemaHash the running database schema's hash.
     * @param store      empty, for that schema.
     * @return its header.
     * @throws DurableStateException naming the file and what is wrong (the store's own refusal leaves it empty).
     */
    static Header load(final Path file, final long schemaHash, final NativeStore store) throws IOException
    {
        return load(file, schemaHash, store, (buffer, offset, lengthBytes) ->
        {
        });
    }

    /**
     * @param sessions takes the snapshot's sessions once the store is loaded (nothing for a format 2 file).
     * @see #load(Path, long, NativeStore)
     */
    static Header load(final Path file, final long schemaHash, final NativeStore store, final SessionsLoader sessions)
        throws IOException
    {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ); Arena arena = Arena.ofConfined())
        {
            final long fileLength = channel.size();
            if (fileLength < V2_HEADER_LENGTH_BYTES + CRC_LENGTH_BYTES)
            {
                throw damaged(file, "it is " + fileLength + " bytes, shorter than a snapshot header");
            }
            final MemorySegment mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, fileLength, arena);
            final ByteBuffer head = mapped.asSlice(0, Math.min(HEADER_LENGTH_BYTES, fileLength)).asByteBuffer()
                .order(ByteOrder.LITTLE_ENDIAN);
            if (head.getLong() != MAGIC)
            {
                throw damaged(file, "it does not start with the snapshot magic");
            }
            final int version = head.getInt();
            final int headerLength = head.getInt();
            if (version == 1 && headerLength == V2_HEADER_LENGTH_BYTES)
            {
                throw new DurableStateException("snapshot " + file + " is of format 1, written by a Spate before slots were " +
                    "reused; this build reads formats 2 and " + VERSION + " only: start from an empty data directory (or keep " +
                    "running the old build on this one)");
            }
            final boolean v2 = version == 2 && headerLength == V2_HEADER_LENGTH_BYTES;
            if (!v2 && (version != VERSION || headerLength != HEADER_LENGTH_BYTES || fileLength < headerLength + CRC_LENGTH_BYTES))
            {
                throw damaged(file, "format version " + version + " (header " + headerLength + " bytes); this build reads " +
                    VERSION + " and 2");
            }
            final Header header = new Header(head.getLong(), head.getLong(), head.getLong(), head.getLong(), head.getLong(),
                head.getLong(), v2 ? 0 : head.getLong());
            final long bodyLengthBytes = fileLength - headerLength - CRC_LENGTH_BYTES;
            if (header.imageLengthBytes() < 0 || header.sessionsLengthBytes() < 0 ||
                header.sessionsLengthBytes() > Integer.MAX_VALUE ||
                header.imageLengthBytes() + header.sessionsLengthBytes() != bodyLengthBytes)
            {
                throw damaged(file, "its header says an image of " + header.imageLengthBytes() + " bytes and sessions of " +
                    header.sessionsLengthBytes() + ", the file holds " + bodyLengthBytes + " (truncated?)");
            }
            if (header.logPosition() != positionOf(file))
            {
                throw damaged(file, "its header says log position " + header.logPosition() + ", its name another");
            }
            final CRC32C crc = new CRC32C();
            final long covered = fileLength - CRC_LENGTH_BYTES;
            for (long offset = 0; offset < covered; offset += IO_CHUNK_BYTES)
            {
                crc.update(mapped.asSlice(offset, Math.min(IO_CHUNK_BYTES, covered - offset)).asByteBuffer());
            }
            final int stored = mapped.asSlice(covered, CRC_LENGTH_BYTES).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN).getInt();
            if (stored != (int)crc.getValue())
            {
                throw damaged(file, "its CRC32C does not match its bytes");
            }
            if (header.schemaHash() != schemaHash)
            {
                throw damaged(file, "it was taken with database schema hash " + Long.toHexString(header.schemaHash()) +
                    ", the pipeline runs " + Long.toHexString(schemaHash));
            }
            try
            {
                store.loadSnapshot(mapped.address() + headerLength, header.imageLengthBytes());
            }
            catch (final NativeStoreException ex)
            {
                throw damaged(file, "the store refused its image: " + ex.getMessage());
            }
            if (header.sessionsLengthBytes() > 0)
            {
                try
                {
                    sessions.load(new org.agrona.concurrent.UnsafeBuffer(
                        mapped.address() + headerLength + header.imageLengthBytes(), (int)header.sessionsLengthBytes()),
                        0, (int)header.sessionsLengthBytes());
                }
                catch (final IllegalStateException ex)
                {
                    throw damaged(file, ex.getMessage());
                }
            }
            return header;
        }
    }

    private static DurableStateException damaged(final Path file, final String reason)
    {
        return new DurableStateException("snapshot " + file + " is damaged: " + reason);
    }

    private static void writeFully(final FileChannel channel, final ByteBuffer buffer) throws IOException
    {
        while (buffer.hasRemaining())
        {
            channel.write(buffer);
        }
    }

    static void syncDirectory(final Path directory) throws IOException
    {
        try (FileChannel channel = FileChannel.open(directory, StandardOpenOption.READ))
        {
            channel.force(true);
        }
    }
}
