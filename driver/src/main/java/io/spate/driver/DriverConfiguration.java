package io.spate.driver;

import io.aeron.Aeron;
import io.aeron.CommonContext;
import io.aeron.archive.Archive;
import io.aeron.archive.checksum.Checksums;
import io.aeron.archive.ArchiveThreadingMode;
import io.aeron.archive.client.AeronArchive;
import io.aeron.driver.Configuration;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Configuration of the Aeron media driver Spate launches, Aeron style: every setting has a default
 * from a system property, read once when the object is constructed; fluent setters override them;
 * {@link #conclude()} validates the settings together and fills the derived ones;
 * {@link #toMediaDriverContext()} turns them into a {@link MediaDriver.Context}, and
 * {@link #toArchiveContext()} into the {@link Archive.Context} of the archive the driver hosts when an
 * archive directory is set.
 * <p>
 * The defaults suit a small machine (two cores) that also runs the pipeline: one shared driver
 * thread that backs off to parking when idle, 4 MiB terms, small CnC buffers, and timeouts that
 * survive a loaded box.
 * <p>
 * Settings Spate does not own (socket buffers, MTU, ...) keep Aeron's own defaults and {@code aeron.*}
 * system properties. The ones below override Aeron's corresponding properties
 * ({@code aeron.threading.mode}, {@code aeron.term.buffer.length}, ...), except that the default
 * directory honours {@code aeron.dir}.
 *
 * <table>
 *     <caption>Settings and their system properties</caption>
 *     <tr><th>setting</th><th>property</th><th>default</th></tr>
 *     <tr><td>aeronDirectoryName</td><td>{@value #DIR_PROP}</td>
 *         <td>{@link CommonContext#getAeronDirectoryName()}: {@code aeron.dir}, else /dev/shm/aeron-USER</td></tr>
 *     <tr><td>embedded</td><td>{@value #EMBEDDED_PROP}</td><td>true</td></tr>
 *     <tr><td>threadingMode</td><td>{@value #THREADING_MODE_PROP}</td>
 *         <td>shared (also dedicated, shared_network)</td></tr>
 *     <tr><td>idleStrategy</td><td>{@value #IDLE_STRATEGY_PROP}</td>
 *         <td>backoff (see {@link IdleStrategies})</td></tr>
 *     <tr><td>ipcTermBufferLength</td><td>{@value #IPC_TERM_LENGTH_PROP}</td><td>4m</td></tr>
 *     <tr><td>publicationTermBufferLength</td><td>{@value #TERM_LENGTH_PROP}</td><td>4m</td></tr>
 *     <tr><td>dirDeleteOnStart</td><td>{@value #DIR_DELETE_ON_START_PROP}</td><td>= embedded</td></tr>
 *     <tr><td>dirDeleteOnShutdown</td><td>{@value #DIR_DELETE_ON_SHUTDOWN_PROP}</td><td>= embedded</td></tr>
 *     <tr><td>driverTimeoutMs</td><td>{@value #DRIVER_TIMEOUT_PROP}</td><td>20000</td></tr>
 *     <tr><td>clientLivenessTimeoutMs</td><td>{@value #CLIENT_LIVENESS_TIMEOUT_PROP}</td><td>15000</td></tr>
 *     <tr><td>activeDriverCheckTimeoutMs</td><td>{@value #ACTIVE_DRIVER_CHECK_TIMEOUT_PROP}</td><td>2500</td></tr>
 *     <tr><td>archiveDir</td><td>{@value #DATA_DIR_PROP} (the archive is DATA_DIR/archive)</td>
 *         <td>null: no archive</td></tr>
 *     <tr><td>syncLevel</td><td>{@value #SYNC_PROP}</td><td>none (also data; see {@link SyncLevel})</td></tr>
 *     <tr><td>archiveSegmentFileLength</td><td>{@value #ARCHIVE_SEGMENT_LENGTH_PROP}</td><td>128m</td></tr>
 *     <tr><td>archiveThreadingMode</td><td>{@value #ARCHIVE_THREADING_MODE_PROP}</td>
 *         <td>shared (also dedicated)</td></tr>
 *     <tr><td>archiveOnDriverThread</td><td>{@value #ARCHIVE_ON_DRIVER_THREAD_PROP}</td>
 *         <td>false (true: with shared threading for both, the archive and the driver share one thread)</td></tr>
 * </table>
 * Sizes accept a suffix k, m or g (binary: 4m = 4194304); booleans are {@code true} or {@code false}.
 * A malformed property value fails the constructor with an {@link IllegalArgumentException} naming it.
 * <p>
 * Not thread safe: configure on one thread, then hand over.
 */
public final class DriverConfiguration
{
    public static final String DIR_PROP = "spate.driver.dir";
    public static final String EMBEDDED_PROP = "spate.driver.embedded";
    public static final String THREADING_MODE_PROP = "spate.driver.threading.mode";
    public static final String IDLE_STRATEGY_PROP = "spate.driver.idle.strategy";
    public static final String IPC_TERM_LENGTH_PROP = "spate.driver.ipc.term.length";
    public static final String TERM_LENGTH_PROP = "spate.driver.term.length";
    public static final String DIR_DELETE_ON_START_PROP = "spate.driver.dir.delete.on.start";
    public static final String DIR_DELETE_ON_SHUTDOWN_PROP = "spate.driver.dir.delete.on.shutdown";
    public static final String DRIVER_TIMEOUT_PROP = "spate.driver.timeout.ms";
    public static final String CLIENT_LIVENESS_TIMEOUT_PROP = "spate.driver.client.liveness.timeout.ms";
    public static final String ACTIVE_DRIVER_CHECK_TIMEOUT_PROP = "spate.driver.active.check.timeout.ms";
    /** Set, the driver hosts an Aeron Archive in DATA_DIR/{@value ArchiveSettings#ARCHIVE_DIRECTORY_NAME}. */
    public static final String DATA_DIR_PROP = "spate.driver.data.dir";
    public static final String SYNC_PROP = "spate.driver.sync";
    public static final String ARCHIVE_SEGMENT_LENGTH_PROP = "spate.driver.archive.segment.length";
    public static final String ARCHIVE_THREADING_MODE_PROP = "spate.driver.archive.threading.mode";
    public static final String ARCHIVE_ON_DRIVER_THREAD_PROP = "spate.driver.archive.on.driver.thread";

    public static final ThreadingMode DEFAULT_THREADING_MODE = ThreadingMode.SHARED;
    /** The names {@link #parseThreadingMode} accepts. */
    public static final String THREADING_MODE_NAMES = "dedicated, shared, shared_network";
    public static final int DEFAULT_TERM_LENGTH = 4 * 1024 * 1024;
    public static final int MIN_TERM_LENGTH = 64 * 1024;
    public static final int MAX_TERM_LENGTH = 1024 * 1024 * 1024;

    /**
     * How long clients should wait for the driver before giving up on it; Aeron's default is 10 s,
     * doubled so a client on a loaded 2-core box does not declare a merely descheduled driver dead.
     */
    public static final long DEFAULT_DRIVER_TIMEOUT_MS = 20_000;
    /**
     * How long the driver keeps a silent client; Aeron's default is 10 s. Clients also read it from
     * the CnC file: a client whose own conductor is starved this long closes itself.
     */
    public static final long DEFAULT_CLIENT_LIVENESS_TIMEOUT_MS = 15_000;
    /**
     * How old the heartbeat of a driver found in the directory may be for that driver to count as
     * alive. A driver heartbeats once a second (Aeron's timer interval), so this must exceed 1 s.
     */
    public static final long DEFAULT_ACTIVE_DRIVER_CHECK_TIMEOUT_MS = 2_500;
    public static final long MIN_ACTIVE_DRIVER_CHECK_TIMEOUT_MS = 1_500;
    /** Aeron requires the client liveness timeout to exceed its timer interval (1 s); we ask for 2 s. */
    public static final long MIN_CLIENT_LIVENESS_TIMEOUT_MS = 2_000;
    public static final long MIN_DRIVER_TIMEOUT_MS = 1_000;

    public static final SyncLevel DEFAULT_SYNC_LEVEL = SyncLevel.NONE;
    /** Aeron's default: a recording is written in files of this length (the last one preallocated). */
    public static final int DEFAULT_ARCHIVE_SEGMENT_FILE_LENGTH = 128 * 1024 * 1024;
    /**
     * One archive thread for its conductor, recorder and replayer: on two cores a thread per agent only
     * adds wake-ups.
     */
    public static final ArchiveThreadingMode DEFAULT_ARCHIVE_THREADING_MODE = ArchiveThreadingMode.SHARED;
    /** The names {@link #parseArchiveThreadingMode} accepts. */
    public static final String ARCHIVE_THREADING_MODE_NAMES = "shared, dedicated";

    /** Largest IPC fragment: Aeron's maximum MTU (64 KB less a frame alignment). */
    public static final int IPC_MTU_LENGTH = 65504;
    /** Clients' commands to the driver: Aeron refuses anything smaller than its default (1 MiB + trailer). */
    public static final int CONDUCTOR_BUFFER_LENGTH = Configuration.CONDUCTOR_BUFFER_LENGTH_DEFAULT;
    /** Driver broadcasts to clients: likewise Aeron's minimum. */
    public static final int TO_CLIENTS_BUFFER_LENGTH = Configuration.TO_CLIENTS_BUFFER_LENGTH_DEFAULT;
    /**
     * Counter values: Aeron's minimum, 1 MiB (8192 counters), instead of its 8 MiB default; with the
     * metadata (twice as large) this keeps the CnC file at 9 MiB instead of 30 MiB.
     */
    public static final int COUNTER_VALUES_BUFFER_LENGTH = Configuration.COUNTERS_VALUES_BUFFER_LENGTH_MIN;

    private static final Pattern SIZE = Pattern.compile("(\\d{1,19})\\s*(?:([kmg])(?:i?b)?|b)?",
        Pattern.CASE_INSENSITIVE);

    private String aeronDirectoryName;
    private boolean embedded;
    private ThreadingMode threadingMode;
    private String idleStrategy;
    private int ipcTermBufferLength;
    private int publicationTermBufferLength;
    private Boolean dirDeleteOnStart;
    private Boolean dirDeleteOnShutdown;
    private long driverTimeoutMs;
    private long clientLivenessTimeoutMs;
    private long activeDriverCheckTimeoutMs;
    private File archiveDir;
    private SyncLevel syncLevel;
    private long archiveSegmentFileLength;
    private ArchiveThreadingMode archiveThreadingMode;
    private boolean archiveOnDriverThread;

    /**
     * Reads the defaults from the system properties (once; later changes to them are not seen).
     *
     * @throws IllegalArgumentException when a property holds a malformed value; the message names it.
     */
    public DriverConfiguration()
    {
        aeronDirectoryName = stringProperty(DIR_PROP, CommonContext.getAeronDirectoryName());
        embedded = booleanProperty(EMBEDDED_PROP, true);
        final String mode = System.getProperty(THREADING_MODE_PROP);
        threadingMode = isBlank(mode) ?
            DEFAULT_THREADING_MODE : parseThreadingMode("system property " + THREADING_MODE_PROP, mode);
        idleStrategy = stringProperty(IDLE_STRATEGY_PROP, PerformanceProfile.current().driverIdleStrategy());
        ipcTermBufferLength = termLengthProperty(IPC_TERM_LENGTH_PROP);
        publicationTermBufferLength = termLengthProperty(TERM_LENGTH_PROP);
        dirDeleteOnStart = optionalBooleanProperty(DIR_DELETE_ON_START_PROP);
        dirDeleteOnShutdown = optionalBooleanProperty(DIR_DELETE_ON_SHUTDOWN_PROP);
        driverTimeoutMs = longProperty(DRIVER_TIMEOUT_PROP, DEFAULT_DRIVER_TIMEOUT_MS);
        clientLivenessTimeoutMs = longProperty(CLIENT_LIVENESS_TIMEOUT_PROP, DEFAULT_CLIENT_LIVENESS_TIMEOUT_MS);
        activeDriverCheckTimeoutMs = longProperty(
            ACTIVE_DRIVER_CHECK_TIMEOUT_PROP, DEFAULT_ACTIVE_DRIVER_CHECK_TIMEOUT_MS);
        final String dataDir = System.getProperty(DATA_DIR_PROP);
        archiveDir = isBlank(dataDir) ? null : archiveDirIn(dataDir.trim());
        final String sync = System.getProperty(SYNC_PROP);
        syncLevel = isBlank(sync) ? DEFAULT_SYNC_LEVEL : SyncLevel.parse("system property " + SYNC_PROP, sync);
        final String segmentLength = System.getProperty(ARCHIVE_SEGMENT_LENGTH_PROP);
        archiveSegmentFileLength = isBlank(segmentLength) ? DEFAULT_ARCHIVE_SEGMENT_FILE_LENGTH :
            parseSize("system property " + ARCHIVE_SEGMENT_LENGTH_PROP, segmentLength);
        final String archiveMode = System.getProperty(ARCHIVE_THREADING_MODE_PROP);
        archiveThreadingMode = isBlank(archiveMode) ? DEFAULT_ARCHIVE_THREADING_MODE :
            parseArchiveThreadingMode("system property " + ARCHIVE_THREADING_MODE_PROP, archiveMode);
        archiveOnDriverThread = booleanProperty(ARCHIVE_ON_DRIVER_THREAD_PROP, false);
    }

    /**
     * Validates the settings together and fills the derived ones: the directory becomes an absolute,
     * normalised path and the idle strategy name is normalised. May be called again after changes.
     *
     * @return this.
     * @throws IllegalArgumentException saying which setting (and its property) is wrong and what is allowed.
     */
    public DriverConfiguration conclude()
    {
        if (isBlank(aeronDirectoryName))
        {
            throw new IllegalArgumentException(
                "aeronDirectoryName (" + DIR_PROP + ") must not be empty; give the Aeron directory, e.g. /dev/shm/spate");
        }
        try
        {
            aeronDirectoryName = Path.of(aeronDirectoryName.trim()).toAbsolutePath().normalize().toString();
        }
        catch (final InvalidPathException ex)
        {
            throw new IllegalArgumentException(
                "aeronDirectoryName (" + DIR_PROP + ") is not a valid path: " + ex.getMessage(), ex);
        }
        if (null == threadingMode || ThreadingMode.INVOKER == threadingMode)
        {
            throw new IllegalArgumentException("threadingMode (" + THREADING_MODE_PROP + ") must be one of " +
                THREADING_MODE_NAMES + ": " + threadingMode);
        }
        try
        {
            idleStrategy = IdleStrategies.validate(idleStrategy);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new IllegalArgumentException("idleStrategy (" + IDLE_STRATEGY_PROP + "): " + ex.getMessage(), ex);
        }
        checkTermLength("ipcTermBufferLength (" + IPC_TERM_LENGTH_PROP + ")", ipcTermBufferLength);
        checkTermLength("publicationTermBufferLength (" + TERM_LENGTH_PROP + ")", publicationTermBufferLength);
        require(driverTimeoutMs >= MIN_DRIVER_TIMEOUT_MS,
            "driverTimeoutMs (" + DRIVER_TIMEOUT_PROP + ") must be at least " + MIN_DRIVER_TIMEOUT_MS + ": " +
            driverTimeoutMs);
        require(clientLivenessTimeoutMs >= MIN_CLIENT_LIVENESS_TIMEOUT_MS,
            "clientLivenessTimeoutMs (" + CLIENT_LIVENESS_TIMEOUT_PROP + ") must be at least " +
            MIN_CLIENT_LIVENESS_TIMEOUT_MS + " (the driver checks timeouts once a second): " + clientLivenessTimeoutMs);
        require(clientLivenessTimeoutMs <= TimeUnit.DAYS.toMillis(1),
            "clientLivenessTimeoutMs (" + CLIENT_LIVENESS_TIMEOUT_PROP + ") must be at most a day: " +
            clientLivenessTimeoutMs);
        require(activeDriverCheckTimeoutMs >= MIN_ACTIVE_DRIVER_CHECK_TIMEOUT_MS &&
            activeDriverCheckTimeoutMs <= driverTimeoutMs,
            "activeDriverCheckTimeoutMs (" + ACTIVE_DRIVER_CHECK_TIMEOUT_PROP + ") must be from " +
            MIN_ACTIVE_DRIVER_CHECK_TIMEOUT_MS + " (a live driver heartbeats once a second) to driverTimeoutMs " +
            driverTimeoutMs + ": " + activeDriverCheckTimeoutMs);
        concludeArchive();
        return this;
    }

    private void concludeArchive()
    {
        if (null != archiveDir)
        {
            if (archiveDir.getPath().isBlank())
            {
                throw new IllegalArgumentException("archiveDir (" + DATA_DIR_PROP + ") must not be empty; give the " +
                    "data directory, e.g. /var/lib/spate, or none for no archive");
            }
            try
            {
                archiveDir = Path.of(archiveDir.getPath().trim()).toAbsolutePath().normalize().toFile();
            }
            catch (final InvalidPathException ex)
            {
                throw new IllegalArgumentException(
                    "archiveDir (" + DATA_DIR_PROP + ") is not a valid path: " + ex.getMessage(), ex);
            }
        }
        require(null != syncLevel, "syncLevel (" + SYNC_PROP + ") must be one of " + SyncLevel.NAMES + ": null");
        // Without an archive nothing is synced: refuse rather than let "data" promise what nothing keeps.
        require(null != archiveDir || SyncLevel.NONE == syncLevel,
            "syncLevel (" + SYNC_PROP + ") " + syncLevel.optionName() + " needs an archive: set the data " +
            "directory (" + DATA_DIR_PROP + ", bin/spate driver --data DIR)");
        // Archive.Context.conclude accepts a power of two from the smallest to the largest term length; a
        // recording whose term is longer than the segment silently gets segments of the term's length, so
        // with an archive a segment shorter than the IPC term would not be what was asked for.
        require(archiveSegmentFileLength >= MIN_TERM_LENGTH && archiveSegmentFileLength <= MAX_TERM_LENGTH &&
            Long.bitCount(archiveSegmentFileLength) == 1 &&
            (null == archiveDir || archiveSegmentFileLength >= ipcTermBufferLength),
            "archiveSegmentFileLength (" + ARCHIVE_SEGMENT_LENGTH_PROP + ") must be a power of two from 64k " +
            "(65536) to 1g (1073741824) and at least the IPC term length " + ipcTermBufferLength + ": " +
            archiveSegmentFileLength);
        require(null != archiveThreadingMode && ArchiveThreadingMode.INVOKER != archiveThreadingMode,
            "archiveThreadingMode (" + ARCHIVE_THREADING_MODE_PROP + ") must be one of " +
            ARCHIVE_THREADING_MODE_NAMES + ": " + archiveThreadingMode);
    }

    /**
     * @return the IPC MTU used: {@link #IPC_MTU_LENGTH}, or an eighth of a smaller IPC term.
     */
    public int ipcMtuLength()
    {
        return Math.min(IPC_MTU_LENGTH, ipcTermBufferLength / 8);
    }

    /**
     * Concludes this configuration and builds a new Aeron context from it; each call gives a new
     * context with new idle strategy instances. Spate's settings are applied over Aeron's defaults:
     * the directory, threading mode, one idle strategy per driver agent, both term lengths, the
     * directory deletion flags, the driver and client liveness timeouts, a publication unblock
     * timeout of 1.5 times the client liveness timeout (Aeron requires it to be larger; 1.5 is
     * Aeron's own ratio), the smallest CnC buffers Aeron accepts, and no configuration print by Aeron
     * (Spate prints {@link #toString()}).
     *
     * @return a context ready for {@link MediaDriver#launch(MediaDriver.Context)}.
     * @throws IllegalArgumentException as {@link #conclude()}.
     */
    public MediaDriver.Context toMediaDriverContext()
    {
        conclude();
        final MediaDriver.Context context = new MediaDriver.Context()
            .aeronDirectoryName(aeronDirectoryName)
            .driverTimeoutMs(driverTimeoutMs)
            // Sharing the archive's thread, the driver is an invoker its conductor drives (see SpateDriver).
            .threadingMode(isArchiveOnDriverThread() ? ThreadingMode.INVOKER : threadingMode)
            .ipcTermBufferLength(ipcTermBufferLength)
            // Client batches of 100 records are 5-10 KB: with Aeron's default 1408-byte IPC MTU each
            // is split into fragments and reassembled (a copy) on the other side. IPC has no network
            // MTU, so let a fragment hold up to 64 KB (Aeron caps it at an eighth of the term): one
            // batch, one fragment, read in place.
            .ipcMtuLength(ipcMtuLength())
            .publicationTermBufferLength(publicationTermBufferLength)
            .dirDeleteOnStart(dirDeleteOnStart())
            .dirDeleteOnShutdown(dirDeleteOnShutdown())
            .clientLivenessTimeoutNs(TimeUnit.MILLISECONDS.toNanos(clientLivenessTimeoutMs))
            .publicationUnblockTimeoutNs(TimeUnit.MILLISECONDS.toNanos(publicationUnblockTimeoutMs()))
            .conductorBufferLength(CONDUCTOR_BUFFER_LENGTH)
            .toClientsBufferLength(TO_CLIENTS_BUFFER_LENGTH)
            .counterValuesBufferLength(COUNTER_VALUES_BUFFER_LENGTH)
            // Aeron's async executor is a thread of its own, waking every millisecond, for name resolution of
            // UDP endpoints: 5% of a loaded pipeline process's CPU samples here for nothing on IPC. Off unless
            // Aeron's own property asks for it; then the conductor resolves names itself.
            .asyncExecutorEnabled("true".equalsIgnoreCase(
                System.getProperty(Configuration.ASYNC_EXECUTOR_ENABLED_PROP_NAME, "false").trim()))
            .printConfigurationOnStart(false);
        switch (threadingMode)
        {
            case SHARED -> context.sharedIdleStrategy(IdleStrategies.parse(idleStrategy));
            case SHARED_NETWORK -> context
                .sharedNetworkIdleStrategy(IdleStrategies.parse(idleStrategy))
                .conductorIdleStrategy(IdleStrategies.parse(idleStrategy));
            case DEDICATED -> context
                .conductorIdleStrategy(IdleStrategies.parse(idleStrategy))
                .senderIdleStrategy(IdleStrategies.parse(idleStrategy))
                .receiverIdleStrategy(IdleStrategies.parse(idleStrategy));
            default -> throw new IllegalStateException("unsupported threading mode " + threadingMode);
        }
        return context;
    }

    /**
     * Concludes this configuration and builds the context of the archive the driver hosts: recordings,
     * catalog and mark file in {@link #archiveDir()} (never deleted on start, whatever
     * {@code aeron.archive.dir.delete.on.start} says), the sync level's file and catalog sync levels, the
     * segment length, {@link #archiveId()}, control only through the local IPC channel
     * ({@link ArchiveSettings#CONTROL_CHANNEL}, stream {@link ArchiveSettings#CONTROL_STREAM_ID}; no UDP
     * port), no recording events, the placeholder replication channels Archive 1.51 requires, the archive
     * threading mode and a new idle strategy of {@link #idleStrategy()} for each archive agent.
     * {@link SpateDriver} adds the driver's error handler and error counter, as {@code ArchivingMediaDriver} does.
     *
     * @return a new context, not concluded (Archive.launch concludes it).
     * @throws IllegalArgumentException as {@link #conclude()}.
     * @throws IllegalStateException    when no archive directory is set.
     */
    public Archive.Context toArchiveContext()
    {
        conclude();
        if (null == archiveDir)
        {
            throw new IllegalStateException("no archive directory is set (" + DATA_DIR_PROP + ")");
        }
        final String idleStrategyName = idleStrategy;
        return new Archive.Context()
            .aeronDirectoryName(aeronDirectoryName)
            .archiveDir(archiveDir)
            .markFileDir(archiveDir)
            .deleteArchiveOnStart(false)
            .archiveId(archiveId())
            .fileSyncLevel(syncLevel.fileSyncLevel())
            .catalogFileSyncLevel(syncLevel.catalogFileSyncLevel())
            .segmentFileLength((int)archiveSegmentFileLength)
            // Every recorded frame carries a CRC32C (in its session id field): after an unclean stop the archive
            // checks the last fragment by it instead of guessing from zero pages (which refuses to start when a
            // fragment's payload holds a page of zeros), and a replay refuses a frame whose bytes changed.
            .recordChecksum(Checksums.crc32c())
            .replayChecksum(Checksums.crc32c())
            .controlChannelEnabled(false)
            .localControlChannel(ArchiveSettings.CONTROL_CHANNEL)
            .localControlStreamId(ArchiveSettings.CONTROL_STREAM_ID)
            .recordingEventsEnabled(false)
            .replicationChannel(ArchiveSettings.REPLICATION_CHANNEL)
            .archiveClientContext(new AeronArchive.Context()
                .controlResponseChannel(ArchiveSettings.REPLICATION_CHANNEL))
            .threadingMode(isArchiveOnDriverThread() ? ArchiveThreadingMode.INVOKER : archiveThreadingMode)
            .idleStrategySupplier(() -> IdleStrategies.parse(idleStrategyName))
            .recorderIdleStrategySupplier(() -> IdleStrategies.parse(idleStrategyName))
            .replayerIdleStrategySupplier(() -> IdleStrategies.parse(idleStrategyName));
    }

    public String aeronDirectoryName()
    {
        return aeronDirectoryName;
    }

    /**
     * @param aeronDirectoryName the Aeron directory: where the CnC file and the term buffers live;
     *                           clients must use the same one.
     * @return this.
     */
    public DriverConfiguration aeronDirectoryName(final String aeronDirectoryName)
    {
        this.aeronDirectoryName = aeronDirectoryName;
        return this;
    }

    public boolean embedded()
    {
        return embedded;
    }

    /**
     * @param embedded true for a driver inside the process that uses it (deletes its directory on
     *                 start and shutdown by default), false for a driver in a process of its own.
     *                 {@link SpateDriver#launchEmbedded} and {@link SpateDriver#launchStandalone} set it.
     * @return this.
     */
    public DriverConfiguration embedded(final boolean embedded)
    {
        this.embedded = embedded;
        return this;
    }

    public ThreadingMode threadingMode()
    {
        return threadingMode;
    }

    /**
     * @param threadingMode SHARED (one thread for everything, the default), SHARED_NETWORK (sender and
     *                      receiver share one thread, the conductor has another) or DEDICATED (three
     *                      threads). INVOKER is refused: nothing in Spate would drive the agents.
     * @return this.
     */
    public DriverConfiguration threadingMode(final ThreadingMode threadingMode)
    {
        this.threadingMode = threadingMode;
        return this;
    }

    public String idleStrategy()
    {
        return idleStrategy;
    }

    /**
     * @param idleStrategy name of the idle strategy of every driver agent, one of {@link IdleStrategies#NAMES}.
     * @return this.
     */
    public DriverConfiguration idleStrategy(final String idleStrategy)
    {
        this.idleStrategy = idleStrategy;
        return this;
    }

    public int ipcTermBufferLength()
    {
        return ipcTermBufferLength;
    }

    /**
     * @param ipcTermBufferLength term length of IPC publications in bytes: a power of two, 64 KiB to 1 GiB.
     * @return this.
     */
    public DriverConfiguration ipcTermBufferLength(final int ipcTermBufferLength)
    {
        this.ipcTermBufferLength = ipcTermBufferLength;
        return this;
    }

    public int publicationTermBufferLength()
    {
        return publicationTermBufferLength;
    }

    /**
     * @param publicationTermBufferLength term length of network (UDP) publications in bytes: a power
     *                                    of two, 64 KiB to 1 GiB.
     * @return this.
     */
    public DriverConfiguration publicationTermBufferLength(final int publicationTermBufferLength)
    {
        this.publicationTermBufferLength = publicationTermBufferLength;
        return this;
    }

    /**
     * @return whether an existing directory is deleted without Aeron's own checks on start: set
     * explicitly, else {@link #embedded()}. Either way Spate first refuses a directory a live driver
     * uses. When false, Aeron checks the old driver is dead, saves its error log next to the
     * directory ({@code DIR-DATE-error.log}, only if it logged errors) and deletes the directory too.
     */
    public boolean dirDeleteOnStart()
    {
        return null != dirDeleteOnStart ? dirDeleteOnStart : embedded;
    }

    public DriverConfiguration dirDeleteOnStart(final boolean dirDeleteOnStart)
    {
        this.dirDeleteOnStart = dirDeleteOnStart;
        return this;
    }

    /**
     * @return whether {@link SpateDriver#close()} removes the directory and everything in it: set
     * explicitly, else {@link #embedded()}. A standalone driver leaves it by default, so tools can
     * still read the counters and the error log of a driver that has stopped.
     */
    public boolean dirDeleteOnShutdown()
    {
        return null != dirDeleteOnShutdown ? dirDeleteOnShutdown : embedded;
    }

    public DriverConfiguration dirDeleteOnShutdown(final boolean dirDeleteOnShutdown)
    {
        this.dirDeleteOnShutdown = dirDeleteOnShutdown;
        return this;
    }

    /**
     * @return the driver timeout in ms: Aeron's limit on the heartbeat age of a driver considered
     * alive when it checks an existing directory, and the value clients of this driver should give
     * {@code Aeron.Context#driverTimeoutMs}.
     */
    public long driverTimeoutMs()
    {
        return driverTimeoutMs;
    }

    public DriverConfiguration driverTimeoutMs(final long driverTimeoutMs)
    {
        this.driverTimeoutMs = driverTimeoutMs;
        return this;
    }

    /**
     * @return after how many ms without a keepalive the driver drops a client (and a client whose
     * conductor was starved this long closes itself).
     */
    public long clientLivenessTimeoutMs()
    {
        return clientLivenessTimeoutMs;
    }

    public DriverConfiguration clientLivenessTimeoutMs(final long clientLivenessTimeoutMs)
    {
        this.clientLivenessTimeoutMs = clientLivenessTimeoutMs;
        return this;
    }

    /**
     * @return derived: 1.5 times {@link #clientLivenessTimeoutMs()}, after which the driver unblocks
     * a publication left blocked by a publisher that died in the middle of a claim.
     */
    public long publicationUnblockTimeoutMs()
    {
        return clientLivenessTimeoutMs + clientLivenessTimeoutMs / 2;
    }

    /**
     * @return the heartbeat age in ms under which a driver already in the directory counts as alive,
     * making {@link SpateDriver} refuse to start there.
     */
    public long activeDriverCheckTimeoutMs()
    {
        return activeDriverCheckTimeoutMs;
    }

    public DriverConfiguration activeDriverCheckTimeoutMs(final long activeDriverCheckTimeoutMs)
    {
        this.activeDriverCheckTimeoutMs = activeDriverCheckTimeoutMs;
        return this;
    }

    /**
     * @return the archive's directory, absolute once concluded; null (the default) when the driver hosts
     * no archive.
     */
    public File archiveDir()
    {
        return archiveDir;
    }

    /**
     * @param archiveDir where the driver's archive keeps its catalog, mark file and recordings; created
     *                   when missing; null for no archive. {@link #dataDir(String)} sets it from a data directory.
     * @return this.
     */
    public DriverConfiguration archiveDir(final File archiveDir)
    {
        this.archiveDir = archiveDir;
        return this;
    }

    /**
     * @param dataDir a data directory ({@code --data}, {@value #DATA_DIR_PROP}): the archive goes in its
     *                subdirectory {@value ArchiveSettings#ARCHIVE_DIRECTORY_NAME}; null for no archive.
     * @return this.
     */
    public DriverConfiguration dataDir(final String dataDir)
    {
        this.archiveDir = null == dataDir ? null : archiveDirIn(dataDir);
        return this;
    }

    /**
     * @return derived: the archive id, fixed per archive directory (from its absolute path), so the
     * archive's counters and its clients see the same id across restarts; {@link Aeron#NULL_VALUE} without
     * an archive directory. Archive 1.51 would otherwise take a new id from the driver on every start.
     */
    public long archiveId()
    {
        if (null == archiveDir)
        {
            return Aeron.NULL_VALUE;
        }
        try
        {
            final byte[] digest = MessageDigest.getInstance("SHA-256")
                .digest(Path.of(archiveDir.getPath()).toAbsolutePath().normalize().toString()
                .getBytes(StandardCharsets.UTF_8));
            long id = 0;
            for (int i = 0; i < Long.BYTES; i++)
            {
                id = (id << 8) | (digest[i] & 0xFF);
            }
            return id & Long.MAX_VALUE;
        }
        catch (final NoSuchAlgorithmException ex)
        {
            throw new IllegalStateException("SHA-256 is missing from this JVM", ex);
        }
        catch (final InvalidPathException ex)
        {
            return Aeron.NULL_VALUE;
        }
    }

    public SyncLevel syncLevel()
    {
        return syncLevel;
    }

    /**
     * @param syncLevel what the archive forces to storage before a recording position moves; {@link SyncLevel#DATA}
     *                  needs an archive directory.
     * @return this.
     */
    public DriverConfiguration syncLevel(final SyncLevel syncLevel)
    {
        this.syncLevel = syncLevel;
        return this;
    }

    public long archiveSegmentFileLength()
    {
        return archiveSegmentFileLength;
    }

    /**
     * @param archiveSegmentFileLength length of the archive's recording files in bytes: a power of two from
     *                                 64 KiB to 1 GiB, at least {@link #ipcTermBufferLength()}.
     * @return this.
     */
    public DriverConfiguration archiveSegmentFileLength(final long archiveSegmentFileLength)
    {
        this.archiveSegmentFileLength = archiveSegmentFileLength;
        return this;
    }

    public ArchiveThreadingMode archiveThreadingMode()
    {
        return archiveThreadingMode;
    }

    /**
     * @param archiveThreadingMode SHARED (one archive thread, the default) or DEDICATED (conductor, recorder
     *                             and replayer threads). INVOKER is refused: nothing in Spate would drive it.
     * @return this.
     */
    public DriverConfiguration archiveThreadingMode(final ArchiveThreadingMode archiveThreadingMode)
    {
        this.archiveThreadingMode = archiveThreadingMode;
        return this;
    }

    public boolean archiveOnDriverThread()
    {
        return archiveOnDriverThread;
    }

    /**
     * @param archiveOnDriverThread true: when the driver and the archive both use shared threading, one thread
     *                              runs them both ({@link SpateDriver} runs the archive as an invoker whose
     *                              conductor invokes the driver, as Aeron's {@code ArchivingMediaDriver} does in
     *                              its invoker mode): one thread fewer to wake, for a machine with a core or
     *                              two to spare for nothing else. False (the default): measured on 2 cores
     *                              under full load, the durable pipeline acked 2.3-2.65M records/s with one
     *                              thread against 2.8-2.9M with two, and no better latency at 100,000/s.
     *                              Ignored unless both threading modes are shared.
     * @return this.
     */
    public DriverConfiguration archiveOnDriverThread(final boolean archiveOnDriverThread)
    {
        this.archiveOnDriverThread = archiveOnDriverThread;
        return this;
    }

    /**
     * @return true when this configuration runs the driver and its archive on one thread.
     */
    public boolean isArchiveOnDriverThread()
    {
        return archiveOnDriverThread && null != archiveDir && ThreadingMode.SHARED == threadingMode &&
            ArchiveThreadingMode.SHARED == archiveThreadingMode;
    }

    /**
     * @return every setting on one line, derived ones included.
     */
    public String toString()
    {
        return "DriverConfiguration{" +
            "aeronDirectoryName=" + aeronDirectoryName +
            ", embedded=" + embedded +
            ", threadingMode=" + threadingMode +
            ", idleStrategy=" + idleStrategy +
            ", ipcTermBufferLength=" + formatSize(ipcTermBufferLength) +
            ", publicationTermBufferLength=" + formatSize(publicationTermBufferLength) +
            ", dirDeleteOnStart=" + dirDeleteOnStart() +
            ", dirDeleteOnShutdown=" + dirDeleteOnShutdown() +
            ", driverTimeoutMs=" + driverTimeoutMs +
            ", clientLivenessTimeoutMs=" + clientLivenessTimeoutMs +
            ", publicationUnblockTimeoutMs=" + publicationUnblockTimeoutMs() +
            ", activeDriverCheckTimeoutMs=" + activeDriverCheckTimeoutMs +
            ", conductorBufferLength=" + CONDUCTOR_BUFFER_LENGTH +
            ", toClientsBufferLength=" + TO_CLIENTS_BUFFER_LENGTH +
            ", counterValuesBufferLength=" + formatSize(COUNTER_VALUES_BUFFER_LENGTH) +
            ", archiveDir=" + archiveDir +
            ", syncLevel=" + (null == syncLevel ? null : syncLevel.optionName()) +
            ", archiveSegmentFileLength=" + formatSize(archiveSegmentFileLength) +
            ", archiveThreadingMode=" + archiveThreadingMode +
            ", archiveOnDriverThread=" + isArchiveOnDriverThread() +
            ", archiveId=" + archiveId() +
            '}';
    }

    /**
     * @param source what the text comes from (a property or flag name), for the message.
     * @param text   dedicated, shared or shared_network (case-insensitive, '-' for '_' allowed).
     * @return the threading mode.
     * @throws IllegalArgumentException naming the source and the valid names.
     */
    public static ThreadingMode parseThreadingMode(final String source, final String text)
    {
        final String key = null == text ? "" : text.trim().toLowerCase(Locale.ROOT).replace('-', '_');
        return switch (key)
        {
            case "dedicated" -> ThreadingMode.DEDICATED;
            case "shared" -> ThreadingMode.SHARED;
            case "shared_network" -> ThreadingMode.SHARED_NETWORK;
            default -> throw new IllegalArgumentException(
                source + ": unknown threading mode '" + text + "'; valid: " + THREADING_MODE_NAMES);
        };
    }

    /**
     * @param source what the text comes from (a property or flag name), for the message.
     * @param text   shared or dedicated (case-insensitive).
     * @return the archive threading mode.
     * @throws IllegalArgumentException naming the source and the valid names.
     */
    public static ArchiveThreadingMode parseArchiveThreadingMode(final String source, final String text)
    {
        final String key = null == text ? "" : text.trim().toLowerCase(Locale.ROOT);
        return switch (key)
        {
            case "shared" -> ArchiveThreadingMode.SHARED;
            case "dedicated" -> ArchiveThreadingMode.DEDICATED;
            default -> throw new IllegalArgumentException(
                source + ": unknown archive threading mode '" + text + "'; valid: " + ARCHIVE_THREADING_MODE_NAMES);
        };
    }

    /**
     * @param dataDir a data directory.
     * @return where the archive lives in it: DATA_DIR/{@value ArchiveSettings#ARCHIVE_DIRECTORY_NAME}.
     * @throws IllegalArgumentException when {@code dataDir} is blank (which {@link File} would take for /).
     */
    public static File archiveDirIn(final String dataDir)
    {
        if (isBlank(dataDir))
        {
            throw new IllegalArgumentException("the data directory (" + DATA_DIR_PROP + ") must not be empty");
        }
        return new File(dataDir.trim(), ArchiveSettings.ARCHIVE_DIRECTORY_NAME);
    }

    /**
     * @param source what the text comes from (a property or flag name), for the message.
     * @param text   bytes, optionally with a binary suffix k, m or g (also KiB, MiB, GiB): 65536, 64k, 4m, 1g.
     * @return the size in bytes.
     * @throws IllegalArgumentException naming the source when the text is no size.
     */
    public static long parseSize(final String source, final String text)
    {
        final Matcher matcher = null == text ? null : SIZE.matcher(text.trim());
        if (null == matcher || !matcher.matches())
        {
            throw new IllegalArgumentException(
                source + ": '" + text + "' is not a size; give bytes, optionally with a suffix k, m or g (e.g. 4m)");
        }
        final long value;
        try
        {
            value = Long.parseLong(matcher.group(1));
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException(source + ": '" + text + "' is too large", ex);
        }
        final String suffix = matcher.group(2);
        final int shift = null == suffix ? 0 : switch (Character.toLowerCase(suffix.charAt(0)))
        {
            case 'k' -> 10;
            case 'm' -> 20;
            default -> 30;
        };
        if (value > (Long.MAX_VALUE >> shift))
        {
            throw new IllegalArgumentException(source + ": '" + text + "' is too large");
        }
        return value << shift;
    }

    /**
     * @param source what the length comes from, for the message.
     * @param length a term length in bytes.
     * @return the length, when it is a power of two from 64 KiB to 1 GiB.
     * @throws IllegalArgumentException naming the source and the valid range otherwise.
     */
    public static int checkTermLength(final String source, final long length)
    {
        if (length < MIN_TERM_LENGTH || length > MAX_TERM_LENGTH || Long.bitCount(length) != 1)
        {
            throw new IllegalArgumentException(source + ": " + length +
                " is not a valid term length; it must be a power of two from 64k (65536) to 1g (1073741824), e.g. 4m");
        }
        return (int)length;
    }

    static String formatSize(final long bytes)
    {
        if (bytes >= 1024 * 1024 && 0 == bytes % (1024 * 1024))
        {
            return bytes + " (" + (bytes >> 20) + " MiB)";
        }
        if (bytes >= 1024 && 0 == bytes % 1024)
        {
            return bytes + " (" + (bytes >> 10) + " KiB)";
        }
        return Long.toString(bytes);
    }

    private static void require(final boolean condition, final String message)
    {
        if (!condition)
        {
            throw new IllegalArgumentException(message);
        }
    }

    private static boolean isBlank(final String text)
    {
        return null == text || text.isBlank();
    }

    private static String stringProperty(final String name, final String defaultValue)
    {
        final String value = System.getProperty(name);
        return isBlank(value) ? defaultValue : value.trim();
    }

    private static Boolean optionalBooleanProperty(final String name)
    {
        final String value = System.getProperty(name);
        if (isBlank(value))
        {
            return null;
        }
        return switch (value.trim().toLowerCase(Locale.ROOT))
        {
            case "true" -> Boolean.TRUE;
            case "false" -> Boolean.FALSE;
            default -> throw new IllegalArgumentException(
                "system property " + name + ": '" + value + "' is not a boolean; use true or false");
        };
    }

    private static boolean booleanProperty(final String name, final boolean defaultValue)
    {
        final Boolean value = optionalBooleanProperty(name);
        return null == value ? defaultValue : value;
    }

    private static long longProperty(final String name, final long defaultValue)
    {
        final String value = System.getProperty(name);
        if (isBlank(value))
        {
            return defaultValue;
        }
        try
        {
            return Long.parseLong(value.trim());
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException(
                "system property " + name + ": '" + value + "' is not a whole number of milliseconds", ex);
        }
    }

    private static int termLengthProperty(final String name)
    {
        final String value = System.getProperty(name);
        if (isBlank(value))
        {
            return DEFAULT_TERM_LENGTH;
        }
        final String source = "system property " + name;
        return checkTermLength(source, parseSize(source, value));
    }
}
