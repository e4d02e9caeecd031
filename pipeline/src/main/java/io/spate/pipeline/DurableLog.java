package io.spate.pipeline;

import io.aeron.Aeron;
import io.aeron.ChannelUri;
import io.aeron.ChannelUriStringBuilder;
import io.aeron.ExclusivePublication;
import io.aeron.archive.client.AeronArchive;
import io.aeron.archive.codecs.SourceLocation;
import io.aeron.archive.status.RecordingPos;
import io.spate.codec.DatabaseSchema;
import io.spate.driver.ArchiveSettings;
import io.spate.driver.SyncLevel;
import io.spate.store.NativeStore;
import org.agrona.CloseHelper;
import org.agrona.concurrent.status.CountersReader;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

import static io.aeron.archive.client.AeronArchive.NULL_POSITION;

/**
 * The durable side of a pipeline, opened before its agents start: recovers the store (newest
 * snapshot, then the log after it replayed through the store's apply), then opens the log
 * publication where the recording ends and has the driver's archive record it on. Holds the data
 * directory's lock, the archive connection (used afterwards only by the snapshot writer's thread)
 * and the snapshot machinery.
 * <p>
 * Data directory: {@code log.properties} (which archive and recording hold the log, for which
 * schema), {@code snapshots/}, {@code .lock}. The archive itself lives with the driver
 * ({@code bin/spate driver --data DIR} puts it in DIR/archive).
 */
final class DurableLog implements AutoCloseable
{
    static final String LOCK_FILE = ".lock";
    static final String SNAPSHOT_DIRECTORY = "snapshots";
    private static final long RECORDING_WAIT_MS = 30_000;
    private static final long PROGRESS_INTERVAL_NS = 2_000_000_000L;
    private static final int LOG_MTU_BYTES = 16 << 10;
    /** A recording whose position has not moved for this long, with no pipeline writing it, is stuck. */
    private static final long STUCK_RECORDING_MS = 2_000;

    private final FileChannel lockChannel;
    private final FileLock lock;
    private final AeronArchive archive;
    private final ExclusivePublication publication;
    private final LogPublisher publisher;
    private final SnapshotWriter snapshotWriter;
    private final Recovery recovery;

    private DurableLog(
        final FileChannel lockChannel,
        final FileLock lock,
        final AeronArchive archive,
        final ExclusivePublication publication,
        final LogPublisher publisher,
        final SnapshotWriter snapshotWriter,
        final Recovery recovery)
    {
        this.lockChannel = lockChannel;
        this.lock = lock;
        this.archive = archive;
        this.publication = publication;
        this.publisher = publisher;
        this.snapshotWriter = snapshotWriter;
        this.recovery = recovery;
    }

    static String promise(final SyncLevel level)
    {
        return level == SyncLevel.DATA ?
            "an ack survives power loss, the log is fdatasynced before it" :
            "an ack survives SIGKILL of any Spate process, the log is written to the OS before it; not power loss";
    }

    /**
     * Recovers the store and opens the log.
     *
     * @param store empty, just opened for the configuration's schema.
     * @throws DurableStateException with one line when the data cannot be trusted or the driver has no archive.
     */
    static DurableLog open(
        final Aeron aeron, final PipelineConfiguration configuration, final NativeStore store, final PrintStream out)
    {
        return open(aeron, configuration, store, ResumableSessions.of(configuration), out);
    }

    /**
     * Recovers the store and the producers' sessions, and opens the log.
     *
     * @param sessions empty: the snapshot's sessions and the log's notes rebuild it, so producers may resume.
     * @see #open(Aeron, PipelineConfiguration, NativeStore, PrintStream)
     */
    static DurableLog open(
        final Aeron aeron,
        final PipelineConfiguration configuration,
        final NativeStore store,
        final ResumableSessions sessions,
        final PrintStream out)
    {
        return open(aeron, configuration, store, sessions, out, false);
    }

    /**
     * Rebuilds a store from a data directory as a pipeline's start would (newest snapshot, then the log
     * replayed), but changes nothing (save stopping a dead pipeline's stuck recording): no log publication, no
     * truncation of an incompletely recorded batch
     * (the replay leaves it out, as a start would). For checks and tools; no pipeline may run on it.
     *
     * @param store empty, just opened for the configuration's schema.
     * @return what was recovered.
     */
    static Recovery rebuild(
        final Aeron aeron, final PipelineConfiguration configuration, final NativeStore store, final PrintStream out)
    {
        return open(aeron, configuration, store, ResumableSessions.of(configuration), out, true).recovery;
    }

    private static DurableLog open(
        final Aeron aeron,
        final PipelineConfiguration configuration,
        final NativeStore store,
        final ResumableSessions sessions,
        final PrintStream out,
        final boolean readOnly)
    {
        final Path dataDirectory = Path.of(configuration.dataDirectory()).toAbsolutePath();
        final SyncLevel syncLevel = ArchiveSettings.findSyncLevel(aeron.countersReader());
        if (null == syncLevel)
        {
            throw new DurableStateException("the driver at " + aeron.context().aeronDirectoryName() + " runs no archive: " +
                "start it with `bin/spate driver --data DIR` for a durable pipeline");
        }
        final SyncLevel required = "data".equals(configuration.sync()) ? SyncLevel.DATA : SyncLevel.NONE;
        if (syncLevel.ordinal() < required.ordinal())
        {
            throw new DurableStateException("the pipeline needs --sync " + configuration.sync() + " but the driver's archive " +
                "syncs " + syncLevel.name().toLowerCase(java.util.Locale.ROOT) + ": restart the driver with --sync data");
        }
        final String archiveDirectory = archiveDirectoryOf(aeron.countersReader());
        if (null != archiveDirectory && !Path.of(archiveDirectory).toAbsolutePath().normalize()
            .equals(dataDirectory.resolve(ArchiveSettings.ARCHIVE_DIRECTORY_NAME).normalize()))
        {
            out.println("pipeline: note: the driver's archive is in " + archiveDirectory + ", not in " +
                dataDirectory.resolve(ArchiveSettings.ARCHIVE_DIRECTORY_NAME) + " (the usual layout gives the driver and" +
                " the pipeline the same --data DIR)");
        }
        FileChannel lockChannel = null;
        FileLock lock = null;
        AeronArchive archive = null;
        ExclusivePublication publication = null;
        try
        {
            Files.createDirectories(dataDirectory.resolve(SNAPSHOT_DIRECTORY));
            lockChannel = FileChannel.open(dataDirectory.resolve(LOCK_FILE), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE);
            lock = lockChannel.tryLock();
            if (null == lock)
            {
                throw new DurableStateException("the data directory " + dataDirectory + " is in use by another pipeline");
            }
            archive = AeronArchive.connect(ArchiveSettings.clientContext(aeron));
            final DataIdentity identity = DataIdentity.read(dataDirectory);
            final long archiveId = archive.archiveId();
            final DatabaseSchema schema = configuration.schema();
            if (null == identity && readOnly)
            {
                throw new DurableStateException("the data directory " + dataDirectory + " holds no log yet");
            }
            if (null == identity)
            {
                if (!SnapshotFile.list(dataDirectory.resolve(SNAPSHOT_DIRECTORY)).isEmpty())
                {
                    throw new DurableStateException("the data directory " + dataDirectory + " holds snapshots but no " +
                        DataIdentity.FILE + ": it cannot say which log follows them");
                }
                publication = aeron.addExclusivePublication(new ChannelUriStringBuilder().media("ipc")
                    .termLength(configuration.logTermLengthBytes()).mtu(LOG_MTU_BYTES).build(), configuration.logStreamId());
                archive.startRecording(ChannelUri.addSessionId("aeron:ipc", publication.sessionId()),
                    configuration.logStreamId(), SourceLocation.LOCAL, true);
                final int counterId = awaitRecordingCounter(aeron.countersReader(), archive, publication, archiveId, out);
                final long recordingId = RecordingPos.getRecordingId(aeron.countersReader(), counterId);
                new DataIdentity(archiveId, recordingId, configuration.logStreamId(), schema.name(), schema.hash())
                    .write(dataDirectory);
                return finish(aeron, configuration, out, dataDirectory, lockChannel, lock, archive, publication,
                    counterId, new Recovery(true, -1, 0, 0, 0, 0, 0, 0, 0, recordingId, syncLevel, ""));
            }
            identity.check(dataDirectory, archiveId, configuration.logStreamId(), schema);
            final RecordingInfo info = RecordingInfo.find(archive, identity.recordingId());
            if (null == info)
            {
                throw new DurableStateException("the driver's archive has no log recording " + identity.recordingId() + " that " +
                    dataDirectory + " names: run the driver with the --data directory this pipeline's data came with");
            }
            final long stopPosition = awaitStopped(archive, identity.recordingId(), out);
            final long startPosition = archive.getStartPosition(identity.recordingId());

            long snapshotPosition = -1;
            long lastSeq = 0;
            long snapshotLoadMs = 0;
            final List<Path> snapshots = SnapshotFile.list(dataDirectory.resolve(SNAPSHOT_DIRECTORY));
            if (!snapshots.isEmpty())
            {
                final long loadStartNs = System.nanoTime();
                final long loadedNs = System.nanoTime();
                final SnapshotFile.Header header = SnapshotFile.load(snapshots.getFirst(), schema.hash(), store,
                    (buffer, offset, lengthBytes) -> sessions.read(buffer, offset, lengthBytes, loadedNs));
                if (header.recordingId() != identity.recordingId())
                {
                    throw new DurableStateException("snapshot " + snapshots.getFirst() + " belongs to log recording " +
                        header.recordingId() + ", the data directory's log is recording " + identity.recordingId());
                }
                snapshotLoadMs = (System.nanoTime() - loadStartNs) / 1_000_000;
                snapshotPosition = header.logPosition();
                lastSeq = header.lastSeq();
            }
            final long replayFrom = Math.max(snapshotPosition, 0); // a new log's publication starts at position 0
            if (replayFrom < startPosition || replayFrom > stopPosition)
            {
                throw new DurableStateException("the log recording " + identity.recordingId() + " holds positions " +
                    startPosition + ".." + stopPosition + " but recovery must replay from " + replayFrom +
                    (snapshotPosition < 0 ? " (no snapshot is left)" : " (the newest snapshot's position)"));
            }
            final long replayStartNs = System.nanoTime();
            final long endPosition;
            final long batches;
            final long records;
            try (LogReplayer replayer = new LogReplayer(schema, store,
                new SessionRecovery(sessions, configuration.maxRecordsPerBatch())))
            {
                endPosition = replayer.replay(aeron, archive, identity.recordingId(), replayFrom, stopPosition, lastSeq,
                    info.mtuLength(), configuration.logStreamId() + 1_000, out);
                lastSeq = replayer.lastSeq();
                batches = replayer.batches();
                records = replayer.records();
            }
            final long replayMs = (System.nanoTime() - replayStartNs) / 1_000_000;
            if (sessions.size() > 0)
            {
                out.println("pipeline: " + sessions.size() + " producer sessions may resume within " +
                    configuration.sessionResumeWindowMs() + " ms; their batches sent again are answered, not applied twice");
            }
            if (readOnly)
            {
                final Recovery rebuilt = new Recovery(false, snapshotPosition, snapshotLoadMs, batches, records, replayMs,
                    endPosition, lastSeq, stopPosition - endPosition, identity.recordingId(), syncLevel,
                    store.contentFingerprint());
                closeQuietly(null, archive, lock, lockChannel);
                return new DurableLog(null, null, null, null, null, null, rebuilt);
            }
            if (endPosition < stopPosition)
            {
                // The replay checked what lies beyond endPosition: padding and the first fragments of one batch, the
                // last, never completely recorded, so never acked. It goes, whole. Damage anywhere was refused above.
                archive.truncateRecording(identity.recordingId(), endPosition);
            }
            final Recovery recovery = new Recovery(false, snapshotPosition, snapshotLoadMs, batches, records, replayMs,
                endPosition, lastSeq, stopPosition - endPosition, identity.recordingId(), syncLevel, store.contentFingerprint());
            publication = aeron.addExclusivePublication(new ChannelUriStringBuilder().media("ipc")
                .termLength(info.termBufferLength()).mtu(info.mtuLength())
                .initialPosition(endPosition, info.initialTermId(), info.termBufferLength()).build(),
                configuration.logStreamId());
            archive.extendRecording(identity.recordingId(), ChannelUri.addSessionId("aeron:ipc", publication.sessionId()),
                configuration.logStreamId(), SourceLocation.LOCAL, true);
            final int counterId = awaitRecordingCounter(aeron.countersReader(), archive, publication, archiveId, out);
            return finish(aeron, configuration, out, dataDirectory, lockChannel, lock, archive, publication, counterId,
                recovery);
        }
        catch (final IOException ex)
        {
            closeQuietly(publication, archive, lock, lockChannel);
            throw new DurableStateException("the data directory " + dataDirectory + " cannot be used: " + ex);
        }
        catch (final RuntimeException ex)
        {
            closeQuietly(publication, archive, lock, lockChannel);
            throw ex;
        }
    }

    /**
     * @param recovery what was recovered; its log position is where the publication starts.
     */
    private static DurableLog finish(
        final Aeron aeron,
        final PipelineConfiguration configuration,
        final PrintStream out,
        final Path dataDirectory,
        final FileChannel lockChannel,
        final FileLock lock,
        final AeronArchive archive,
        final ExclusivePublication publication,
        final int counterId,
        final Recovery recovery)
    {
        final LogPublisher publisher = new LogPublisher(publication, aeron.countersReader(), counterId,
            recovery.recordingId(), configuration.schema().hash(), configuration.maxRecordsPerBatch());
        final SnapshotWriter writer = new SnapshotWriter(dataDirectory.resolve(SNAPSHOT_DIRECTORY), archive,
            recovery.recordingId(), out);
        final DurableLog log = new DurableLog(lockChannel, lock, archive, publication, publisher, writer, recovery);
        out.println(log.recovery.describe(dataDirectory));
        return log;
    }

    /**
     * @return the archive directory the driver's sync-level counter names, or null.
     */
    private static String archiveDirectoryOf(final CountersReader counters)
    {
        final String[] found = { null };
        counters.forEach((counterId, typeId, keyBuffer, label) ->
        {
            final int at = label.indexOf(" dir=");
            if (ArchiveSettings.SYNC_LEVEL_COUNTER_TYPE_ID == typeId && null == found[0] && at > 0)
            {
                found[0] = label.substring(at + " dir=".length()).trim();
            }
        });
        return found[0];
    }

    private static int awaitRecordingCounter(
        final CountersReader counters,
        final AeronArchive archive,
        final ExclusivePublication publication,
        final long archiveId,
        final PrintStream out)
    {
        final long deadlineNs = System.nanoTime() + RECORDING_WAIT_MS * 1_000_000L;
        int counterId;
        while (CountersReader.NULL_COUNTER_ID ==
            (counterId = RecordingPos.findCounterIdBySession(counters, publication.sessionId(), archiveId)))
        {
            final String error = archive.pollForErrorResponse();
            if (null != error)
            {
                throw new DurableStateException("the archive will not record the log: " + error);
            }
            if (System.nanoTime() - deadlineNs > 0)
            {
                throw new DurableStateException("the archive did not start recording the log within " + RECORDING_WAIT_MS +
                    " ms");
            }
            sleep(1);
        }
        return counterId;
    }

    /**
     * A pipeline killed a moment ago leaves its log publication to the driver, which closes it when it
     * times the client out; the recording stops then. Until it has, its end is not known. A pipeline
     * killed in the middle of appending a batch larger than one fragment leaves that publication blocked
     * for good (the driver pads a gap only up to a later frame, and there is none): the recording then
     * stops moving short of the publication's end and never stops by itself. We hold the data
     * directory's lock, so no live pipeline writes this log: once its position has not moved for
     * {@link #STUCK_RECORDING_MS}, its recording is stopped where it is. What lies beyond was never
     * recorded, so never acknowledged.
     */
    private static long awaitStopped(final AeronArchive archive, final long recordingId, final PrintStream out)
    {
        final long startNs = System.nanoTime();
        long nextProgressNs = startNs + PROGRESS_INTERVAL_NS;
        long lastPosition = Long.MIN_VALUE;
        long lastMoveNs = startNs;
        long stopPosition;
        while (NULL_POSITION == (stopPosition = archive.getStopPosition(recordingId)))
        {
            final long nowNs = System.nanoTime();
            final long position = archive.getRecordingPosition(recordingId);
            if (position != lastPosition)
            {
                lastPosition = position;
                lastMoveNs = nowNs;
            }
            else if (nowNs - lastMoveNs > STUCK_RECORDING_MS * 1_000_000L &&
                stopStuckRecording(archive, recordingId, position, out))
            {
                lastMoveNs = nowNs; // give the archive time to stop it
            }
            if (nowNs - startNs > RECORDING_WAIT_MS * 1_000_000L)
            {
                throw new DurableStateException("log recording " + recordingId + " is still being recorded after " +
                    RECORDING_WAIT_MS + " ms: is another pipeline writing this data directory's log?");
            }
            if (nowNs - nextProgressNs >= 0)
            {
                nextProgressNs = nowNs + PROGRESS_INTERVAL_NS;
                out.println("pipeline: waiting for the archive to close log recording " + recordingId +
                    " (the previous pipeline's publication lingers until the driver times it out)");
            }
            sleep(10);
        }
        return stopPosition;
    }

    private static boolean stopStuckRecording(
        final AeronArchive archive, final long recordingId, final long position, final PrintStream out)
    {
        out.println("pipeline: the previous pipeline stopped in the middle of appending to the log: its publication " +
            "stays blocked at position " + position + "; stopping log recording " + recordingId + " there (what lies " +
            "beyond was never recorded, so never acknowledged)");
        return archive.tryStopRecordingByIdentity(recordingId);
    }

    private static void sleep(final long ms)
    {
        try
        {
            Thread.sleep(ms);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while opening the log", ex);
        }
    }

    private static void closeQuietly(
        final ExclusivePublication publication, final AeronArchive archive, final FileLock lock, final FileChannel channel)
    {
        CloseHelper.quietCloseAll(publication, archive);
        try
        {
            if (null != lock)
            {
                lock.release();
            }
        }
        catch (final IOException ignore)
        {
            // closing the channel releases it anyway
        }
        CloseHelper.quietClose(channel);
    }

    LogPublisher publisher()
    {
        return publisher;
    }

    SnapshotWriter snapshotWriter()
    {
        return snapshotWriter;
    }

    Recovery recovery()
    {
        return recovery;
    }

    /**
     * Stops the snapshot writer (finishing a snapshot it is writing), then closes the log publication
     * (the archive's recording stops at its end) and the archive connection.
     */
    public void close()
    {
        CloseHelper.quietClose(snapshotWriter);
        closeQuietly(publication, archive, lock, lockChannel);
    }
}
