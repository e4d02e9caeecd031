package io.spate.cluster;

import io.aeron.archive.Archive;
import io.aeron.archive.ArchiveThreadingMode;
import io.aeron.archive.client.AeronArchive;
import io.aeron.cluster.ClusterControl;
import io.aeron.cluster.ClusteredMediaDriver;
import io.aeron.cluster.ConsensusModule;
import io.aeron.cluster.service.ClusteredServiceContainer;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.spate.codec.DatabaseSchema;
import io.spate.driver.IdleStrategies;
import io.spate.driver.SyncLevel;
import io.spate.pipeline.ClusterServiceSettings;
import io.spate.pipeline.SpateClusteredService;
import org.agrona.CloseHelper;
import org.agrona.concurrent.NoOpLock;
import org.agrona.concurrent.status.AtomicCounter;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/**
 * One member of a Spate cluster, in one process: a media driver, an archive and a consensus module
 * ({@link ClusteredMediaDriver}), and the {@link SpateClusteredService} in its container. Directories:
 * {@code data/cluster} (the consensus module's and the service's: what Aeron's ClusterTool takes),
 * {@code data/archive} (the recorded log and snapshots), {@code data/node.properties} (where everything is,
 * for {@code bin/spate stat}); the Aeron directory (CnC, log buffers) is under /dev/shm unless told.
 */
public final class ClusterNode implements AutoCloseable
{
    /** The settings of a node. */
    public record Settings(
        int memberId,
        ClusterMembers members,
        File dataDir,
        String aeronDir,
        DatabaseSchema schema,
        SyncLevel syncLevel,
        long leaderHeartbeatTimeoutMs,
        long sessionTimeoutMs,
        long snapshotIntervalMs,
        int logTermLengthBytes,
        int maxSessions,
        String idleStrategy,
        byte[] authSecret)
    {
        public static final long DEFAULT_LEADER_HEARTBEAT_TIMEOUT_MS = 2_000;
        public static final long DEFAULT_SESSION_TIMEOUT_MS = 10_000;
        public static final long DEFAULT_SNAPSHOT_INTERVAL_MS = 10 * 60_000;
        public static final int DEFAULT_LOG_TERM_LENGTH_BYTES = 16 << 20;
        public static final int DEFAULT_MAX_SESSIONS = 64;

        public Settings
        {
            if (memberId < 0 || memberId >= members.size())
            {
                throw new IllegalArgumentException("member id " + memberId + " is not one of the " + members.size() +
                    " members (0.." + (members.size() - 1) + ")");
            }
            if (leaderHeartbeatTimeoutMs < 100 || sessionTimeoutMs < leaderHeartbeatTimeoutMs)
            {
                throw new IllegalArgumentException("the leader heartbeat timeout must be at least 100 ms and the " +
                    "session timeout at least that: " + leaderHeartbeatTimeoutMs + ", " + sessionTimeoutMs);
            }
        }

        public static String defaultAeronDir(final int memberId, final ClusterMembers members)
        {
            return "/dev/shm/spate-node-" + members.port(memberId, 0) + "-" + memberId;
        }
    }

    /** Written by the service when the node stops: applied log position, per-type counts and checksums. */
    public static final String FINGERPRINT_FILE = "store.fingerprint";

    private final Settings settings;
    private final ClusteredMediaDriver clusteredMediaDriver;
    private final ClusteredServiceContainer container;
    private final SpateClusteredService service;
    private final SnapshotTrigger snapshotTrigger;
    private final ConsensusErrorHandler consensusErrors;
    private final java.util.concurrent.atomic.AtomicBoolean terminated = new java.util.concurrent.atomic.AtomicBoolean();

    private ClusterNode(final Settings settings, final PrintStream log)
    {
        this.settings = settings;
        final int memberId = settings.memberId();
        final ClusterMembers members = settings.members();
        final String host = members.host(memberId);
        final File dataDir = settings.dataDir();
        final File clusterDir = new File(dataDir, "cluster");
        final File archiveDir = new File(dataDir, "archive");
        final String aeronDir = settings.aeronDir();
        final int syncLevel = settings.syncLevel() == SyncLevel.NONE ? 0 : 1;

        final MediaDriver.Context driverContext = new MediaDriver.Context()
            .aeronDirectoryName(aeronDir)
            .dirDeleteOnStart(true)
            .dirDeleteOnShutdown(true)
            .threadingMode(ThreadingMode.SHARED)
            .sharedIdleStrategy(IdleStrategies.parse(settings.idleStrategy()))
            .asyncExecutorEnabled(false)
            .errorHandler(error -> log.println("node " + memberId + ": driver error: " + error));

        final AeronArchive.Context replicationArchiveContext = new AeronArchive.Context()
            .controlResponseChannel("aeron:udp?endpoint=" + host + ":0");
        final Archive.Context archiveContext = new Archive.Context()
            .aeronDirectoryName(aeronDir)
            .archiveDir(archiveDir)
            .archiveId(memberId)
            .controlChannel("aeron:udp?endpoint=" + members.endpoint(memberId, ClusterMembers.ARCHIVE_CONTROL_PORT_OFFSET))
            .archiveClientContext(replicationArchiveContext)
            .localControlChannel("aeron:ipc?term-length=64k")
            .replicationChannel("aeron:udp?endpoint=" + host + ":0")
            .recordingEventsEnabled(false)
            .threadingMode(ArchiveThreadingMode.SHARED)
            .idleStrategySupplier(() -> IdleStrategies.parse(settings.idleStrategy()))
            .fileSyncLevel(syncLevel)
            .catalogFileSyncLevel(syncLevel)
            .errorHandler(error -> log.println("node " + memberId + ": archive error: " + error));

        final AeronArchive.Context aeronArchiveContext = new AeronArchive.Context()
            .lock(NoOpLock.INSTANCE)
            .controlRequestChannel(archiveContext.localControlChannel())
            .controlRequestStreamId(archiveContext.localControlStreamId())
            .controlResponseChannel(archiveContext.localControlChannel())
            .aeronDirectoryName(aeronDir);

        final ConsensusModule.Context consensusContext = new ConsensusModule.Context()
            .clusterMemberId(memberId)
            .clusterMembers(members.clusterMembers())
            .clusterDir(clusterDir)
            .aeronDirectoryName(aeronDir)
            .archiveContext(aeronArchiveContext.clone())
            .serviceCount(1)
            .ingressChannel("aeron:udp")
            .logChannel("aeron:udp?term-length=" + settings.logTermLengthBytes())
            .replicationChannel("aeron:udp?endpoint=" + host + ":0")
            .fileSyncLevel(syncLevel)
            .leaderHeartbeatTimeoutNs(TimeUnit.MILLISECONDS.toNanos(settings.leaderHeartbeatTimeoutMs()))
            .leaderHeartbeatIntervalNs(TimeUnit.MILLISECONDS.toNanos(Math.max(10, settings.leaderHeartbeatTimeoutMs() / 10)))
            .sessionTimeoutNs(TimeUnit.MILLISECONDS.toNanos(settings.sessionTimeoutMs()))
            .startupCanvassTimeoutNs(TimeUnit.MILLISECONDS.toNanos(5 * settings.leaderHeartbeatTimeoutMs()))
            .maxConcurrentSessions(settings.maxSessions())
            .authenticatorSupplier(null == settings.authSecret() ?
                new io.aeron.security.DefaultAuthenticatorSupplier() :
                () -> new ClusterSecretAuthenticator(settings.authSecret()))
            .idleStrategySupplier(() -> IdleStrategies.parse(settings.idleStrategy()))
            .terminationHook(() -> terminated.set(true));
        // A normal leader change is a warning, counted apart from the errors (ConsensusErrorHandler).
        consensusErrors = new ConsensusErrorHandler(memberId, log, consensusContext);
        consensusContext.errorHandler(consensusErrors.errorHandler())
            .countedErrorHandler(consensusErrors.countedErrorHandler());

        service = new SpateClusteredService(settings.schema(), ClusterServiceSettings.fromSystemProperties())
            .fingerprintFile(new File(dataDir, FINGERPRINT_FILE).toPath());
        final ClusteredServiceContainer.Context serviceContext = new ClusteredServiceContainer.Context()
            .aeronDirectoryName(aeronDir)
            .archiveContext(aeronArchiveContext.clone())
            .clusterDir(clusterDir)
            .clusteredService(service)
            .serviceId(0)
            .idleStrategySupplier(() -> IdleStrategies.parse(settings.idleStrategy()))
            .terminationHook(() -> terminated.set(true))
            .errorHandler(error -> log.println("node " + memberId + ": service error: " + error));

        ClusteredMediaDriver driver = null;
        ClusteredServiceContainer serviceContainer = null;
        try
        {
            driver = ClusteredMediaDriver.launch(driverContext, archiveContext, consensusContext);
            consensusErrors.countWarningsIn(aeronDir);
            serviceContainer = ClusteredServiceContainer.launch(serviceContext);
        }
        catch (final RuntimeException ex)
        {
            CloseHelper.quietCloseAll(consensusErrors, serviceContainer, driver);
            throw ex;
        }
        clusteredMediaDriver = driver;
        container = serviceContainer;
        snapshotTrigger = new SnapshotTrigger(settings.snapshotIntervalMs(),
            ClusterControl.findControlToggle(driver.mediaDriver().context().countersManager(),
            consensusContext.clusterId()));
    }

    /**
     * Starts the node and writes {@code node.properties}.
     */
    public static ClusterNode launch(final Settings settings, final PrintStream log) throws IOException
    {
        Files.createDirectories(settings.dataDir().toPath());
        Files.deleteIfExists(new File(settings.dataDir(), FINGERPRINT_FILE).toPath()); // of an earlier run
        removeMarkFilesOfDeadNode(settings.dataDir(), log);
        final ClusterNode node = new ClusterNode(settings, log);
        try
        {
            node.writeProperties();
        }
        catch (final IOException | RuntimeException ex)
        {
            node.close();
            throw ex;
        }
        return node;
    }

    /**
     * A member that was SIGKILLed leaves its archive's and consensus module's mark files "active" for the
     * driver timeout (10 s), and Aeron refuses to start on them meanwhile. When node.properties names a
     * process that no longer runs, those mark files are of a dead member: they are removed (they hold
     * only liveness and the dead run's error log), so a member restarts at once.
     */
    private static void removeMarkFilesOfDeadNode(final File dataDir, final PrintStream log) throws IOException
    {
        final File propertiesFile = new File(dataDir, "node.properties");
        if (!propertiesFile.exists())
        {
            return;
        }
        final Properties properties = new Properties();
        try (java.io.InputStream in = Files.newInputStream(propertiesFile.toPath()))
        {
            properties.load(in);
        }
        final long pid;
        try
        {
            pid = Long.parseLong(properties.getProperty("pid", "0"));
        }
        catch (final NumberFormatException ex)
        {
            return;
        }
        if (pid <= 0 || pid == ProcessHandle.current().pid() ||
            ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false))
        {
            return; // still running (Aeron will refuse, naming the mark file), or no earlier run
        }
        int removed = 0;
        for (final File directory : new File[] {new File(dataDir, "archive"), new File(dataDir, "cluster")})
        {
            final File[] markFiles = directory.listFiles((dir, name) -> name.endsWith("-mark.dat") ||
                (name.startsWith("cluster-mark") && name.endsWith(".dat")));
            if (null != markFiles)
            {
                for (final File markFile : markFiles)
                {
                    Files.delete(markFile.toPath());
                    removed++;
                }
            }
        }
        if (removed > 0)
        {
            log.println("node: the previous run (pid " + pid + ") is gone: removed its " + removed + " mark file(s)");
        }
    }

    private void writeProperties() throws IOException
    {
        final Properties properties = new Properties();
        properties.setProperty("memberId", Integer.toString(settings.memberId()));
        properties.setProperty("aeronDir", settings.aeronDir());
        properties.setProperty("clusterDir", new File(settings.dataDir(), "cluster").getAbsolutePath());
        properties.setProperty("archiveDir", new File(settings.dataDir(), "archive").getAbsolutePath());
        properties.setProperty("members", settings.members().clusterMembers());
        properties.setProperty("ingressEndpoints", settings.members().ingressEndpoints());
        properties.setProperty("pid", Long.toString(ProcessHandle.current().pid()));
        properties.setProperty("schema", settings.schema().name());
        properties.setProperty("sync", settings.syncLevel().name().toLowerCase());
        final Path target = new File(settings.dataDir(), "node.properties").toPath();
        final Path temp = new File(settings.dataDir(), "node.properties.tmp").toPath();
        try (OutputStream out = Files.newOutputStream(temp))
        {
            properties.store(out, "Spate cluster node (bin/spate node); read by bin/spate stat");
        }
        Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * Asks for a snapshot when the interval has passed: only the leader's toggle acts (the whole cluster
     * snapshots at one log position), so every member asks and the leader's request wins.
     *
     * @return true when a snapshot was asked for.
     */
    public boolean pollSnapshotTimer(final long nowMs)
    {
        return snapshotTrigger.poll(nowMs);
    }

    public SpateClusteredService service()
    {
        return service;
    }

    public Settings settings()
    {
        return settings;
    }

    /**
     * @return true once the cluster has terminated this node (a ClusterTool or ClusterControl shutdown or
     * abort), or its consensus module or service stopped on an error it cannot carry on from.
     */
    public boolean isTerminated()
    {
        return terminated.get();
    }

    public void close()
    {
        CloseHelper.closeAll(consensusErrors, container, clusteredMediaDriver);
    }

    /** Toggles Aeron Cluster's SNAPSHOT action every interval. */
    private static final class SnapshotTrigger
    {
        private final long intervalMs;
        private final AtomicCounter controlToggle;
        private long lastMs = System.currentTimeMillis();

        SnapshotTrigger(final long intervalMs, final AtomicCounter controlToggle)
        {
            this.intervalMs = intervalMs;
            this.controlToggle = controlToggle;
        }

        boolean poll(final long nowMs)
        {
            if (intervalMs <= 0 || null == controlToggle || nowMs - lastMs < intervalMs)
            {
                return false;
            }
            lastMs = nowMs;
            return ClusterControl.ToggleState.SNAPSHOT.toggle(controlToggle);
        }
    }
}
