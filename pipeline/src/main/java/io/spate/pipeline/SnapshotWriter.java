package io.spate.pipeline;

import io.aeron.Counter;
import io.aeron.archive.client.AeronArchive;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

/**
 * Writes snapshots on its own thread, so the conductor only pauses the workers for the copy of the
 * store into an image ({@link SnapshotTaker}). After each snapshot it keeps the newest
 * {@link #KEEP} and has the archive purge the log's segments before the older one kept: the log
 * always reaches back to every snapshot on disk, so if the newest is damaged the older one can
 * still be recovered from (move the newest away).
 */
final class SnapshotWriter implements AutoCloseable
{
    static final int KEEP = 2;
    private static final long PARK_NS = 50_000_000L;

    /** An image waiting to be written; the writer closes its arena when it has one (else the image is lent). */
    private record Job(Arena arena, MemorySegment image, SnapshotFile.Header header, long copyNs)
    {
    }

    private final Path directory;
    private final AeronArchive archive;
    private final long recordingId;
    private final PrintStream out;
    private final Thread thread;
    private Counter snapshots;
    private Counter snapshotPosition;
    private volatile Job job;
    private volatile boolean running = true;

    SnapshotWriter(final Path directory, final AeronArchive archive, final long recordingId, final PrintStream out)
    {
        this.directory = directory;
        this.archive = archive;
        this.recordingId = recordingId;
        this.out = out;
        removeTemporaryFiles();
        thread = new Thread(this::run, "spate-snapshot-writer");
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * Counters to publish progress on (snapshots written, the newest one's log position).
     */
    void counters(final Counter snapshots, final Counter snapshotPosition)
    {
        this.snapshots = snapshots;
        this.snapshotPosition = snapshotPosition;
        try
        {
            final List<Path> existing = SnapshotFile.list(directory);
            if (!existing.isEmpty())
            {
                snapshotPosition.setRelease(SnapshotFile.positionOf(existing.getFirst()));
            }
        }
        catch (final IOException ex)
        {
            out.println("pipeline: cannot list snapshots in " + directory + ": " + ex);
        }
    }

    /**
     * @return true when no snapshot is waiting or being written.
     */
    boolean isIdle()
    {
        return null == job;
    }

    /**
     * Hands an image over; the writer closes its arena when done (null: the image is lent until the writer is
     * idle again). Only when {@link #isIdle()}.
     */
    void submit(final Arena arena, final MemorySegment image, final SnapshotFile.Header header, final long copyNs)
    {
        if (null != job)
        {
            if (null != arena)
            {
                arena.close();
            }
            throw new IllegalStateException("a snapshot is still being written");
        }
        job = new Job(arena, image, header, copyNs);
        LockSupport.unpark(thread);
    }

    /**
     * @return true once no snapshot is waiting or being written; false after the timeout.
     */
    boolean awaitIdle(final long timeoutMs)
    {
        final long deadlineNs = System.nanoTime() + timeoutMs * 1_000_000L;
        while (null != job)
        {
            if (System.nanoTime() - deadlineNs > 0 || !thread.isAlive())
            {
                return false;
            }
            LockSupport.parkNanos(1_000_000L);
        }
        return true;
    }

    private void run()
    {
        while (running || null != job)
        {
            final Job next = job;
            if (null == next)
            {
                LockSupport.parkNanos(PARK_NS);
                continue;
            }
            write(next);
            job = null;
        }
    }

    private void write(final Job next)
    {
        final long startNs = System.nanoTime();
        try
        {
            final Path file = SnapshotFile.write(directory, next.header(), next.image());
            final long writeMs = (System.nanoTime() - startNs) / 1_000_000;
            if (null != snapshots)
            {
                snapshots.incrementRelease();
                snapshotPosition.setRelease(next.header().logPosition());
            }
            out.printf("pipeline: snapshot at log position %,d (batch %d): %,d bytes, copied in %d ms, written in %d ms: %s%n",
                next.header().logPosition(), next.header().lastSeq(), next.image().byteSize(),
                next.copyNs() / 1_000_000, writeMs, file.getFileName());
            retainAndPurge();
        }
        catch (final IOException | RuntimeException ex)
        {
            // The log still reaches back to the previous snapshot: nothing is lost, the next one tries again.
            out.println("pipeline: snapshot at log position " + next.header().logPosition() + " failed: " + ex);
        }
        finally
        {
            if (null != next.arena())
            {
                next.arena().close();
            }
        }
    }

    private void retainAndPurge() throws IOException
    {
        final List<Path> snapshotFiles = SnapshotFile.list(directory);
        for (int i = KEEP; i < snapshotFiles.size(); i++)
        {
            Files.deleteIfExists(snapshotFiles.get(i));
        }
        if (snapshotFiles.size() < KEEP)
        {
            return;
        }
        SnapshotFile.syncDirectory(directory);
        final long oldestKeptPosition = SnapshotFile.positionOf(snapshotFiles.get(KEEP - 1));
        final RecordingInfo info = RecordingInfo.find(archive, recordingId);
        if (null == info)
        {
            return;
        }
        final long startPosition = archive.getStartPosition(recordingId);
        final long purgeTo = AeronArchive.segmentFileBasePosition(startPosition, oldestKeptPosition,
            info.termBufferLength(), info.segmentFileLength());
        if (purgeTo > startPosition)
        {
            archive.purgeSegments(recordingId, purgeTo);
        }
    }

    private void removeTemporaryFiles()
    {
        try (var stream = Files.list(directory))
        {
            for (final Path path : stream.filter((p) -> p.getFileName().toString().endsWith(".tmp")).toList())
            {
                Files.deleteIfExists(path);
            }
        }
        catch (final IOException ex)
        {
            out.println("pipeline: cannot clean " + directory + ": " + ex);
        }
    }

    /**
     * Finishes a snapshot being written, then stops the thread.
     */
    public void close()
    {
        running = false;
        LockSupport.unpark(thread);
        try
        {
            thread.join();
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }
}
