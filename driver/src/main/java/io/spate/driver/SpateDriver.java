package io.spate.driver;

import io.aeron.Aeron;
import io.aeron.CncFileDescriptor;
import io.aeron.CommonContext;
import io.aeron.Counter;
import io.aeron.archive.Archive;
import io.aeron.archive.ArchiveMarkFile;
import io.aeron.archive.codecs.mark.MarkFileHeaderDecoder;
import io.aeron.archive.codecs.mark.MessageHeaderDecoder;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.exceptions.ActiveDriverException;
import io.aeron.driver.status.SystemCounterDescriptor;
import io.aeron.exceptions.DriverTimeoutException;
import org.agrona.CloseHelper;
import org.agrona.IoUtil;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentInvoker;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.AgentTerminationException;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

/**
 * A running Aeron media driver, launched from a {@link DriverConfiguration}.
 * <p>
 * <b>Embedded</b> ({@link #launchEmbedded}): the driver runs inside the process that uses it (the
 * pipeline, tests, the demo). Its directory is private to that process: it is deleted on start
 * (after checking no live driver uses it) and {@link #close()} removes it with everything in it.
 * <p>
 * <b>Standalone</b> ({@link #launchStandalone}, used by {@link DriverMain}): the driver is the whole
 * process and other processes connect to it. By default its directory is not deleted on shutdown,
 * so {@code AeronStat} and {@code ErrorStat} can still read a stopped driver's counters and error
 * log; the next start checks that driver is dead, saves its error log next to the directory if it had
 * errors, and replaces the directory. Both defaults follow {@link DriverConfiguration#embedded()} and
 * can be set explicitly.
 * <p>
 * Either way the launch refuses, with an {@link IllegalStateException}, a directory that a live
 * driver uses (Aeron itself would delete it under that driver when {@code dirDeleteOnStart} is set)
 * and an existing directory holding files that are not Aeron's (which Aeron would delete as well).
 * <p>
 * <b>Archive</b>: when {@link DriverConfiguration#archiveDir()} is set, the driver's process also hosts an
 * Aeron Archive on it (as {@code ArchivingMediaDriver} does), so recording goes on whatever happens to the
 * processes that asked for it; clients reach it as {@link ArchiveSettings} says. Once it runs, a counter of
 * type {@link ArchiveSettings#SYNC_LEVEL_COUNTER_TYPE_ID} announces its {@link SyncLevel}. The archive
 * directory is never deleted. The launch refuses one that is not a writable directory, or that a live
 * archive uses. An archive that died with its process (SIGKILL) leaves a recent heartbeat in its mark file,
 * which Archive would refuse for 10 s: when the process its mark file names is not alive, or (a pid reused)
 * that heartbeat stays still for {@link DriverConfiguration#activeDriverCheckTimeoutMs()}, the old archive is
 * dead, the heartbeat is cleared and the new archive starts; on start Archive completes the recordings left
 * active, setting their stop positions from what their files hold.
 * <p>
 * <b>A driver killed a moment ago</b> (SIGKILL) leaves a CnC heartbeat younger than the driver timeout (20 s),
 * on which Aeron would refuse to start ("active driver detected"). When the process the CnC file names is not
 * alive on this host, the directory is taken over at once ({@link DeadDriverTakeover}; one line on stderr
 * says so); while it is alive the directory is refused as before.
 */
public final class SpateDriver implements AutoCloseable
{
    /** What Aeron 1.51 puts in its directory; anything else there means the directory is not Aeron's. */
    static final Set<String> AERON_DIRECTORY_ENTRIES = Set.of(
        CncFileDescriptor.CNC_FILE, "loss-report.dat", "publications", "images");

    /**
     * Archive.Configuration.LIVENESS_TIMEOUT_MS (not public in 1.51): Archive refuses to start on a mark
     * file whose heartbeat is younger.
     */
    static final long ARCHIVE_LIVENESS_TIMEOUT_MS = 10_000;
    private static final long ARCHIVE_HEARTBEAT_POLL_MS = 50;
    private static final int MARK_FILE_HEADER_OFFSET = MessageHeaderDecoder.ENCODED_LENGTH;

    private final DriverConfiguration configuration;
    private final MediaDriver mediaDriver;
    private final Archive archive;
    /** Runs the archive and, through its conductor, the driver: {@link DriverConfiguration#isArchiveOnDriverThread()}. */
    private final AgentRunner archiveAndDriverRunner;
    private final Aeron archiveCounterClient;
    private final Path directory;
    private final AtomicBoolean closed = new AtomicBoolean();

    private SpateDriver(
        final DriverConfiguration configuration,
        final MediaDriver mediaDriver,
        final Archive archive,
        final AgentRunner archiveAndDriverRunner,
        final Aeron archiveCounterClient,
        final Path directory)
    {
        this.configuration = configuration;
        this.mediaDriver = mediaDriver;
        this.archive = archive;
        this.archiveAndDriverRunner = archiveAndDriverRunner;
        this.archiveCounterClient = archiveCounterClient;
        this.directory = directory;
    }

    /**
     * Launches a driver inside this process. Sets {@code configuration.embedded(true)} and concludes it.
     *
     * @param configuration the driver's settings.
     * @return the running driver; close it to stop it and remove its directory.
     * @throws IllegalStateException    when a live driver uses the directory, or it holds other files.
     * @throws IllegalArgumentException when the configuration is invalid.
     */
    public static SpateDriver launchEmbedded(final DriverConfiguration configuration)
    {
        return launch(configuration.embedded(true));
    }

    /**
     * Launches a driver meant to be the only job of this process ({@link DriverMain}). Sets
     * {@code configuration.embedded(false)} and concludes it; the directory is kept on shutdown
     * unless {@link DriverConfiguration#dirDeleteOnShutdown(boolean)} says otherwise.
     *
     * @param configuration the driver's settings.
     * @return the running driver.
     * @throws IllegalStateException    when a live driver uses the directory, or it holds other files.
     * @throws IllegalArgumentException when the configuration is invalid.
     */
    public static SpateDriver launchStandalone(final DriverConfiguration configuration)
    {
        return launch(configuration.embedded(false));
    }

    private static SpateDriver launch(final DriverConfiguration configuration)
    {
        configuration.conclude();
        final Path directory = Path.of(configuration.aeronDirectoryName());
        refuseUnlessFree(directory, configuration);
        if (null != configuration.archiveDir())
        {
            prepareArchiveDirectory(configuration.archiveDir().toPath(), configuration.activeDriverCheckTimeoutMs());
        }

        final MediaDriver.Context context = configuration.toMediaDriverContext();
        final MediaDriver mediaDriver;
        try
        {
            mediaDriver = MediaDriver.launch(context);
        }
        catch (final ActiveDriverException ex)
        {
            // Aeron's own check (dirDeleteOnStart false) found a driver whose heartbeat is younger than
            // driverTimeoutMs; it has not touched the directory.
            throw inUse(directory, configuration.driverTimeoutMs());
        }
        catch (final RuntimeException | Error ex)
        {
            if (configuration.dirDeleteOnShutdown())
            {
                try
                {
                    deleteRecursively(directory);
                }
                catch (final RuntimeException cleanupFailure)
                {
                    ex.addSuppressed(cleanupFailure);
                }
            }
            throw ex;
        }
        if (null == configuration.archiveDir())
        {
            return new SpateDriver(configuration, mediaDriver, null, null, null, directory);
        }

        Archive archive = null;
        AgentRunner runner = null;
        Aeron counterClient = null;
        try
        {
            archive = launchArchive(configuration, context, mediaDriver);
            if (configuration.isArchiveOnDriverThread())
            {
                runner = new AgentRunner(IdleStrategies.parse(configuration.idleStrategy()), context.errorHandler(),
                    null, new ArchiveAndDriverAgent(archive.invoker()));
                AgentRunner.startOnThread(runner);
            }
            counterClient = Aeron.connect(new Aeron.Context()
                .aeronDirectoryName(configuration.aeronDirectoryName())
                .driverTimeoutMs(configuration.driverTimeoutMs())
                .clientName("spate-driver"));
            allocateSyncLevelCounter(counterClient, configuration.syncLevel(), archive.context().archiveDirectoryName());
        }
        catch (final RuntimeException | Error ex)
        {
            CloseHelper.quietCloseAll(counterClient, runner, archive, mediaDriver);
            if (configuration.dirDeleteOnShutdown())
            {
                try
                {
                    deleteRecursively(directory);
                }
                catch (final RuntimeException cleanupFailure)
                {
                    ex.addSuppressed(cleanupFailure);
                }
            }
            if (ex instanceof Error)
            {
                throw ex;
            }
            throw new IllegalStateException("cannot start the archive in " + configuration.archiveDir() + ": " +
                oneLine(ex.getMessage()), ex);
        }
        return new SpateDriver(configuration, mediaDriver, archive, runner, counterClient, directory);
    }

    /**
     * Launches the archive; when a crash of this process left a segment file's last fragment incomplete
     * (the archive then refuses to start), cuts that fragment off ({@link ArchiveTailRepair}) and launches
     * again, once per file. Damage that is not a torn last fragment is refused with one line, nothing cut.
     * <p>
     * When the repair finds the last fragment whole, Aeron 1.51 misjudged it: a recording whose data ends
     * exactly where one of its 1 MiB recovery reads ends has its last fragment checked at the wrong offset
     * (Catalog.recoverStopOffset) and is reported incomplete. The archive is then launched once with reads as
     * long as the segment file, which checks it right and records its stop position, closed, and launched
     * again as configured.
     */
    private static Archive launchArchive(
        final DriverConfiguration configuration, final MediaDriver.Context context, final MediaDriver mediaDriver)
    {
        final java.util.Set<File> repaired = new java.util.HashSet<>();
        int wholeFileReadBytes = 0;
        boolean misreadRetried = false;
        while (true)
        {
            try
            {
                // As ArchivingMediaDriver: the archive reports its errors to the driver's error log and counter.
                final Archive.Context archiveContext = configuration.toArchiveContext()
                    .mediaDriverAgentInvoker(mediaDriver.sharedAgentInvoker())
                    .errorHandler(context.errorHandler())
                    .errorCounter(new AtomicCounter(context.countersValuesBuffer(), SystemCounterDescriptor.ERRORS.id()));
                if (wholeFileReadBytes > 0)
                {
                    archiveContext.fileIoMaxLength(wholeFileReadBytes);
                }
                final Archive archive = Archive.launch(archiveContext);
                if (wholeFileReadBytes == 0)
                {
                    return archive;
                }
                archive.close(); // its catalog now holds the recording's stop position
                wholeFileReadBytes = 0;
                awaitArchiveCountersFreed(context);
            }
            catch (final RuntimeException ex)
            {
                final File segmentFile = ArchiveTailRepair.segmentFileOf(ex);
                if (null == segmentFile && ArchiveTailRepair.isRecoveryMisread(ex) && !misreadRetried)
                {
                    // The same misjudgement with bounds checks on: the check reads before its buffer.
                    misreadRetried = true;
                    wholeFileReadBytes = ArchiveTailRepair.wholeFileReadBytes(configuration.archiveSegmentFileLength());
                    System.err.println("driver: the archive misread a recording's tail (" + oneLine(ex.getMessage()) +
                        "); it checks it again reading " + wholeFileReadBytes + " bytes at once");
                    awaitArchiveCountersFreed(context);
                    continue;
                }
                if (null == segmentFile || !repaired.add(segmentFile))
                {
                    throw ex;
                }
                try
                {
                    final long dropped = ArchiveTailRepair.repair(segmentFile, System.err);
                    if (dropped < 0)
                    {
                        throw ex;
                    }
                    if (dropped == 0)
                    {
                        wholeFileReadBytes = ArchiveTailRepair.wholeFileReadBytes(segmentFile.length());
                        System.err.println("driver: " + segmentFile + ": its last fragment is whole; the archive " +
                            "checks it again reading " + wholeFileReadBytes + " bytes at once");
                    }
                }
                catch (final java.io.IOException io)
                {
                    ex.addSuppressed(io);
                    throw ex;
                }
                catch (final IllegalStateException refused)
                {
                    // Not a torn last fragment: damage the repair must not cut. Its one line says where.
                    refused.addSuppressed(ex);
                    throw refused;
                }
                awaitArchiveCountersFreed(context);
            }
        }
    }

    /**
     * A failed or closed archive frees its counters through the driver's conductor, a moment later; a new
     * archive refuses to start while they exist ("existing max write time counter detected").
     */
    private static void awaitArchiveCountersFreed(final MediaDriver.Context context)
    {
        final org.agrona.concurrent.status.CountersReader counters = context.countersManager();
        final long deadlineNs = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() - deadlineNs < 0)
        {
            final boolean[] found = {false};
            counters.forEach((counterId, typeId, keyBuffer, label) ->
            {
                if (typeId == io.aeron.AeronCounters.ARCHIVE_RECORDER_MAX_WRITE_TIME_TYPE_ID)
                {
                    found[0] = true;
                }
            });
            if (!found[0])
            {
                return;
            }
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
        }
    }

    /**
     * The counter lives as long as its client, which {@link #close()} closes first. Its key holds the level,
     * written before the counter becomes visible, so a reader never sees the value's initial 0 (none) for data.
     */
    private static void allocateSyncLevelCounter(final Aeron aeron, final SyncLevel syncLevel, final String archiveDir)
    {
        final UnsafeBuffer key = new UnsafeBuffer(new byte[ArchiveSettings.SYNC_LEVEL_KEY_LENGTH]);
        key.putInt(0, syncLevel.ordinal());
        final byte[] label = ArchiveSettings.syncLevelLabel(syncLevel, archiveDir).getBytes(StandardCharsets.US_ASCII);
        final Counter counter = aeron.addCounter(
            ArchiveSettings.SYNC_LEVEL_COUNTER_TYPE_ID, key, 0, key.capacity(), new UnsafeBuffer(label), 0, label.length);
        counter.setRelease(syncLevel.ordinal());
    }

    /**
     * @return the absolute Aeron directory of this driver; clients connect with
     * {@code new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName())}.
     */
    public String aeronDirectoryName()
    {
        return configuration.aeronDirectoryName();
    }

    /**
     * @return the concluded configuration the driver was launched with; do not change it.
     */
    public DriverConfiguration configuration()
    {
        return configuration;
    }

    public boolean isEmbedded()
    {
        return configuration.embedded();
    }

    /**
     * @return the archive this driver hosts, or null without an archive directory.
     */
    public Archive archive()
    {
        return archive;
    }

    public boolean isClosed()
    {
        return closed.get();
    }

    /**
     * Stops the driver's threads and frees its resources; when
     * {@link DriverConfiguration#dirDeleteOnShutdown()} holds (the embedded default) it then makes sure
     * the directory and every file in it are gone, deleting whatever Aeron left. Idempotent and
     * thread safe: only the first call does anything.
     *
     * @throws IllegalStateException when the directory could not be removed (the message says what to do);
     *                               the driver is stopped nevertheless.
     */
    public void close()
    {
        if (!closed.compareAndSet(false, true))
        {
            return;
        }

        // Reverse order of launch: the counter's client (while the driver still runs), the thread running the
        // archive and driver, the archive (it is a client of the driver; closing, it invokes the driver itself), the driver.
        RuntimeException failure = null;
        for (final AutoCloseable closeable : new AutoCloseable[]{
            archiveCounterClient, archiveAndDriverRunner, archive, mediaDriver })
        {
            try
            {
                CloseHelper.close(closeable);
            }
            catch (final RuntimeException ex)
            {
                failure = addTo(failure, ex);
            }
        }

        if (configuration.dirDeleteOnShutdown())
        {
            try
            {
                deleteRecursively(directory);
            }
            catch (final RuntimeException ex)
            {
                failure = addTo(failure, ex);
            }
            if (Files.exists(directory, LinkOption.NOFOLLOW_LINKS))
            {
                failure = addTo(failure, new IllegalStateException("the media driver stopped but its directory " +
                    directory + " could not be removed; delete it by hand"));
            }
        }

        if (null != failure)
        {
            throw failure;
        }
    }

    public String toString()
    {
        return "SpateDriver{" + (configuration.embedded() ? "embedded" : "standalone") + ", " + directory +
            (closed.get() ? ", closed" : "") + '}';
    }

    /**
     * Refuses a directory a live driver uses, one being initialised, and one that is not Aeron's.
     * Not atomic: a driver starting in the same directory at the same moment is not detected.
     */
    static void refuseUnlessFree(final Path directory, final DriverConfiguration configuration)
    {
        if (!Files.exists(directory, LinkOption.NOFOLLOW_LINKS))
        {
            return;
        }
        if (!Files.isDirectory(directory, LinkOption.NOFOLLOW_LINKS))
        {
            throw new IllegalStateException("the Aeron directory " + directory + " exists and is not a directory; " +
                "remove it or choose another directory (--dir or " + DriverConfiguration.DIR_PROP + ")");
        }
        // A driver killed moments ago: its process is gone, so its young heartbeat holds nothing up.
        final String takenOver = DeadDriverTakeover.takeOverIfDead(directory, configuration.driverTimeoutMs());
        if (null != takenOver)
        {
            System.err.println("driver: " + takenOver);
        }

        final boolean active;
        try
        {
            active = CommonContext.isDriverActive(
                directory.toFile(), configuration.activeDriverCheckTimeoutMs(), (message) -> {});
        }
        catch (final DriverTimeoutException ex)
        {
            throw new IllegalStateException("the Aeron directory " + directory + " holds a CnC file no media driver " +
                "finished initialising within " + configuration.activeDriverCheckTimeoutMs() + " ms; if no driver " +
                "is starting there, delete " + directory + " and retry", ex);
        }
        catch (final RuntimeException ex)
        {
            throw new IllegalStateException("cannot tell whether a media driver uses the Aeron directory " +
                directory + " (" + ex.getMessage() + "); stop any driver using it or delete " + directory +
                ", then retry", ex);
        }
        if (active)
        {
            throw inUse(directory, configuration.activeDriverCheckTimeoutMs());
        }

        final List<String> foreign = new ArrayList<>();
        try (Stream<Path> entries = Files.list(directory))
        {
            entries.map((entry) -> entry.getFileName().toString())
                .filter((name) -> !AERON_DIRECTORY_ENTRIES.contains(name))
                .sorted()
                .limit(3)
                .forEach(foreign::add);
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("cannot list the Aeron directory " + directory + ": " + ex +
                "; fix its permissions or choose another directory (--dir or " + DriverConfiguration.DIR_PROP + ")", ex);
        }
        if (!foreign.isEmpty())
        {
            throw new IllegalStateException("the directory " + directory + " is not an Aeron directory (it holds " +
                String.join(", ", foreign) + ") and the media driver would delete it; choose another directory " +
                "(--dir or " + DriverConfiguration.DIR_PROP + ") or empty it");
        }
    }

    /**
     * Makes sure the archive directory is a writable directory (creating it when missing) that no live archive
     * uses, and takes over the mark file of an archive that died.
     */
    static void prepareArchiveDirectory(final Path archiveDir, final long heartbeatCheckTimeoutMs)
    {
        final String choose = "; choose another data directory (--data or " + DriverConfiguration.DATA_DIR_PROP + ")";
        if (Files.exists(archiveDir) && !Files.isDirectory(archiveDir))
        {
            throw new IllegalStateException("the archive directory " + archiveDir + " exists and is not a directory" +
                choose);
        }
        try
        {
            Files.createDirectories(archiveDir);
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("cannot create the archive directory " + archiveDir + ": " + ex + choose,
                ex);
        }
        if (!Files.isWritable(archiveDir) || !Files.isReadable(archiveDir) || !Files.isExecutable(archiveDir))
        {
            throw new IllegalStateException("the archive directory " + archiveDir + " is not writable by this " +
                "user; fix its permissions (the driver's user needs rwx)" + choose);
        }
        takeOverMarkFileOfDeadArchive(archiveDir, heartbeatCheckTimeoutMs);
    }

    /**
     * Archive refuses to start while its mark file's heartbeat is under {@link #ARCHIVE_LIVENESS_TIMEOUT_MS} old,
     * so an archive killed with its driver would hold up a restart for 10 s. The mark file names the archive's
     * process: when that process is not alive on this host the archive is dead, and its heartbeat is cleared at
     * once (one line on stderr says so). Otherwise, since a live archive beats once a second, a heartbeat that
     * stays still for {@code heartbeatCheckTimeoutMs} (the driver check's limit) belongs to a dead one too (a pid
     * reused by another process). The heartbeat is cleared as a clean shutdown leaves it; Archive's own claim on the
     * mark file still keeps out a second driver starting at the same moment.
     */
    static void takeOverMarkFileOfDeadArchive(final Path archiveDir, final long heartbeatCheckTimeoutMs)
    {
        final File markFile = archiveDir.resolve(ArchiveMarkFile.FILENAME).toFile();
        final int headerLength = MARK_FILE_HEADER_OFFSET + MarkFileHeaderDecoder.BLOCK_LENGTH;
        if (!markFile.isFile() || markFile.length() < headerLength)
        {
            return;
        }

        final MappedByteBuffer mapped;
        try (FileChannel channel = FileChannel.open(markFile.toPath(), StandardOpenOption.READ, StandardOpenOption.WRITE))
        {
            mapped = channel.map(FileChannel.MapMode.READ_WRITE, 0, headerLength);
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("cannot open the archive mark file " + markFile + ": " + ex +
                "; fix its permissions", ex);
        }
        try
        {
            final UnsafeBuffer buffer = new UnsafeBuffer(mapped);
            final MessageHeaderDecoder header = new MessageHeaderDecoder().wrap(buffer, 0);
            if (MarkFileHeaderDecoder.TEMPLATE_ID != header.templateId() ||
                MarkFileHeaderDecoder.SCHEMA_ID != header.schemaId())
            {
                return; // An older layout: Archive's own checks apply.
            }
            final int timestampOffset = MARK_FILE_HEADER_OFFSET + MarkFileHeaderDecoder.activityTimestampEncodingOffset();
            final long heartbeat = buffer.getLongVolatile(timestampOffset);
            // Long.MAX_VALUE: an archive is starting (or died starting); a clean stop leaves NULL_VALUE.
            if (Long.MAX_VALUE != heartbeat && System.currentTimeMillis() - heartbeat >= ARCHIVE_LIVENESS_TIMEOUT_MS)
            {
                return;
            }

            final long pid = buffer.getLong(MARK_FILE_HEADER_OFFSET + MarkFileHeaderDecoder.pidEncodingOffset());
            if (DeadDriverTakeover.isDead(pid))
            {
                if (!buffer.compareAndSetLong(timestampOffset, heartbeat, Aeron.NULL_VALUE))
                {
                    throw new IllegalStateException("the archive directory " + archiveDir + " of a dead archive (pid " +
                        pid + ") is being taken over by another driver starting at the same moment; stop that one or " +
                        "choose another data directory (--data or " + DriverConfiguration.DATA_DIR_PROP + ")");
                }
                mapped.force();
                System.err.println("driver: the archive that used " + archiveDir + " (pid " + pid + ") is gone: " +
                    "took its " + ArchiveMarkFile.FILENAME + " over at once");
                return;
            }
            final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(heartbeatCheckTimeoutMs);
            while (System.nanoTime() - deadlineNs < 0)
            {
                sleep(ARCHIVE_HEARTBEAT_POLL_MS);
                if (buffer.getLongVolatile(timestampOffset) != heartbeat)
                {
                    throw archiveInUse(archiveDir, pid, heartbeatCheckTimeoutMs);
                }
            }
            if (!buffer.compareAndSetLong(timestampOffset, heartbeat, Aeron.NULL_VALUE))
            {
                throw archiveInUse(archiveDir, pid, heartbeatCheckTimeoutMs);
            }
        }
        finally
        {
            IoUtil.unmap(mapped);
        }
    }

    private static IllegalStateException archiveInUse(final Path archiveDir, final long pid, final long checkMs)
    {
        return new IllegalStateException("the archive directory " + archiveDir + " is in use by a live archive " +
            "(pid " + pid + ", its " + ArchiveMarkFile.FILENAME + " heartbeat moved within " + checkMs + " ms); stop " +
            "the driver hosting it or choose another data directory (--data or " + DriverConfiguration.DATA_DIR_PROP +
            ")");
    }

    private static void sleep(final long millis)
    {
        try
        {
            Thread.sleep(millis);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while checking the archive's heartbeat", ex);
        }
    }

    private static String oneLine(final String message)
    {
        return null == message ? "unknown" : message.replace('\n', ' ').replace('\r', ' ');
    }

    private static IllegalStateException inUse(final Path directory, final long heartbeatAgeLimitMs)
    {
        return new IllegalStateException("the Aeron directory " + directory + " is in use by a live media driver " +
            "(its " + CncFileDescriptor.CNC_FILE + " heartbeat is under " + heartbeatAgeLimitMs + " ms old); stop " +
            "that driver (or wait that long if it just died) or use another directory (--dir or " +
            DriverConfiguration.DIR_PROP + ")");
    }

    /**
     * Deletes a directory tree (symbolic links inside are deleted, not followed), tolerating entries
     * that vanish meanwhile; retries a few times so a concurrent deletion cannot leave anything behind.
     */
    static void deleteRecursively(final Path directory)
    {
        for (int attempt = 1; attempt <= 3 && Files.exists(directory, LinkOption.NOFOLLOW_LINKS); attempt++)
        {
            try
            {
                deleteTree(directory);
            }
            catch (final UncheckedIOException ex)
            {
                if (3 == attempt)
                {
                    throw ex;
                }
            }
        }
    }

    private static void deleteTree(final Path directory)
    {
        try (Stream<Path> paths = Files.walk(directory))
        {
            for (final Path path : paths.sorted(Comparator.reverseOrder()).toList())
            {
                try
                {
                    Files.delete(path);
                }
                catch (final NoSuchFileException ignore)
                {
                    // Removed concurrently (Aeron finishing its own deletion): fine.
                }
            }
        }
        catch (final NoSuchFileException ignore)
        {
            // Gone between the check and the walk.
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot delete " + directory + ": " + ex, ex);
        }
    }

    private static RuntimeException addTo(final RuntimeException failure, final RuntimeException next)
    {
        if (null == failure)
        {
            return next;
        }
        failure.addSuppressed(next);
        return failure;
    }

    /**
     * The archive in invoker mode, its conductor invoking the driver's agent each duty cycle: one thread for
     * driver, recorder, replayer and archive conductor.
     */
    static final class ArchiveAndDriverAgent implements Agent
    {
        private final AgentInvoker archiveInvoker;

        ArchiveAndDriverAgent(final AgentInvoker archiveInvoker)
        {
            this.archiveInvoker = archiveInvoker;
        }

        public int doWork()
        {
            if (archiveInvoker.isClosed())
            {
                throw new AgentTerminationException("the archive closed");
            }
            return archiveInvoker.invoke();
        }

        public String roleName()
        {
            return "spate-driver-archive";
        }
    }
}
