package io.spate.pipeline;

import io.spate.store.NativeStore;

import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Decides, on the conductor's thread, when a snapshot is due (by log bytes or by time), and takes it:
 * the conductor stops dispatching while this {@link #isQuiescing()}, and once every dispatched batch
 * is applied and recorded it calls {@link #take}: the store then holds exactly the log up to that
 * position. Only the copy of the store into an image happens here; the {@link SnapshotWriter} writes
 * it in the background while batches flow again.
 */
final class SnapshotTaker implements AutoCloseable
{
    /** Room the image buffer is grown by beyond what the store needs now, so it is not regrown every time. */
    private static final long HEADROOM_DIVISOR = 4;

    private final NativeStore store;
    private final ResumableSessions sessions;
    private final SnapshotWriter writer;
    private final long schemaHash;
    private final long recordingId;
    private final long intervalBytes;
    private final long intervalNs;
    private final PrintStream out;
    private long lastPosition;
    private long lastNs;
    private boolean quiescing;
    private Arena imageArena;
    private MemorySegment imageBuffer;

    SnapshotTaker(
        final NativeStore store,
        final ResumableSessions sessions,
        final SnapshotWriter writer,
        final long schemaHash,
        final long recordingId,
        final long intervalBytes,
        final long intervalMs,
        final long startPosition,
        final long nowNs,
        final PrintStream out)
    {
        this.store = store;
        this.sessions = sessions;
        this.writer = writer;
        this.schemaHash = schemaHash;
        this.recordingId = recordingId;
        this.intervalBytes = intervalBytes;
        this.intervalNs = intervalMs * 1_000_000L;
        this.out = out;
        this.lastPosition = startPosition;
        this.lastNs = nowNs;
    }

    /**
     * @return true while a snapshot waits for the batches in flight: no new batch may be dispatched.
     */
    boolean isQuiescing()
    {
        return quiescing;
    }

    /**
     * Starts quiescing when a snapshot is due and the previous one is written.
     */
    void onTick(final long logPosition, final long nowNs)
    {
        if (quiescing || logPosition <= lastPosition || !writer.isIdle())
        {
            return;
        }
        if (logPosition - lastPosition >= intervalBytes || (intervalNs > 0 && nowNs - lastNs >= intervalNs))
        {
            quiescing = true;
        }
    }

    /**
     * Copies the store (nothing applies now) and the sessions (every answer of the log up to the position is in
     * their ledger, nothing beyond it) and hands the image to the writer.
     *
     * @param logPosition where the last dispatched batch ends in the log.
     * @param lastSeq     that batch's seq.
     */
    void take(final long logPosition, final long lastSeq, final long nowNs)
    {
        quiescing = false;
        lastPosition = logPosition;
        lastNs = nowNs;
        final long startNs = System.nanoTime();
        final MemorySegment image;
        final SnapshotFile.Header header;
        try
        {
            final long storeLength = store.snapshotLengthBytes();
            final long sessionsLength = sessions.encodedLengthBytes();
            if (sessionsLength > Integer.MAX_VALUE)
            {
                throw new IllegalStateException("the sessions take " + sessionsLength + " bytes, more than a snapshot holds");
            }
            final long length = storeLength + sessionsLength;
            if (null == imageBuffer || imageBuffer.byteSize() < length)
            {
                // The writer is idle (a snapshot starts only then), so the old buffer is free. The buffer is kept:
                // copying into memory already touched runs at memory speed, into fresh pages at page-fault speed.
                close();
                imageArena = Arena.ofShared();
                imageBuffer = UninitializedMemory.allocate(
                    imageArena, Math.max(length + length / HEADROOM_DIVISOR, 1 << 20));
            }
            image = imageBuffer.asSlice(0, length);
            store.writeSnapshot(image.address(), storeLength);
            final int written = sessions.write(
                new org.agrona.concurrent.UnsafeBuffer(image.address() + storeLength, (int)sessionsLength), 0);
            if (written != sessionsLength)
            {
                throw new IllegalStateException("the sessions wrote " + written + " bytes of " + sessionsLength);
            }
            header = new SnapshotFile.Header(schemaHash, recordingId, logPosition, lastSeq, System.currentTimeMillis(),
                storeLength, sessionsLength);
        }
        catch (final RuntimeException | OutOfMemoryError ex)
        {
            // Not fatal: the log keeps everything since the last snapshot; the next one is due after another interval.
            close();
            out.println("pipeline: snapshot at log position " + logPosition + " could not copy the store: " + ex);
            return;
        }
        writer.submit(null, image, header, System.nanoTime() - startNs);
    }

    /**
     * Frees the image buffer; only when the writer is idle or stopped.
     */
    public void close()
    {
        if (null != imageArena)
        {
            imageArena.close();
            imageArena = null;
            imageBuffer = null;
        }
    }
}
