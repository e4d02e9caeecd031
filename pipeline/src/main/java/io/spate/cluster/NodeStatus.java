package io.spate.cluster;

import io.aeron.Aeron;
import io.aeron.AeronCounters;
import io.aeron.CncFileDescriptor;
import io.aeron.cluster.ConsensusModule;
import io.aeron.cluster.ElectionState;
import io.aeron.cluster.service.Cluster;
import io.aeron.cluster.service.ClusteredServiceContainer;
import io.spate.pipeline.SpateClusteredService;
import org.agrona.DirectBuffer;
import org.agrona.IoUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;
import org.agrona.concurrent.status.CountersReader;

import java.io.IOException;
import java.io.InputStream;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What one Spate cluster node is doing, read from outside its process the way AeronStat reads a driver:
 * the node directory's {@value #PROPERTIES_FILE} names the node's Aeron directory, whose CnC file is mapped
 * read-only, and the counters of the node's consensus module, archive and clustered service are read with
 * a {@link CountersReader}. Nothing is sent to the node and nothing in its directories is written.
 * <p>
 * A node is {@link Role#DOWN} when it has no {@value #PROPERTIES_FILE}, no CnC file, a CnC file whose driver
 * process is gone, or a driver heartbeat older than the timeout; the {@link #reason()} says which. A node whose
 * driver runs but whose consensus module has no counters (yet, or no more) is {@link Role#STARTING}.
 * Positions and counts that the node does not have (no log recording yet, no service counters yet) are
 * {@link #NULL_VALUE}.
 *
 * @param directory              the node directory ({@code ROOT/node-N}).
 * @param memberId               the node's cluster member id: from {@value #PROPERTIES_FILE}, else from the
 *                               directory name {@code node-N}, else {@link #NULL_VALUE}.
 * @param pid                    the node's process id: from {@value #PROPERTIES_FILE}, else the driver's from
 *                               the CnC file, else {@link #NULL_VALUE}.
 * @param role                   leader, follower or candidate (the consensus module's role counter), or
 *                               {@link Role#STARTING} or {@link Role#DOWN}.
 * @param reason                 why the node is down or starting, one line; empty when it is up.
 * @param moduleState            the consensus module's state ({@link ConsensusModule.State}: INIT, ACTIVE,
 *                               SUSPENDED, SNAPSHOT, ...), empty when unknown.
 * @param electionState          the election's state ({@link ElectionState}; CLOSED outside an election), empty
 *                               when unknown.
 * @param leadershipTermId       the leadership term the node is in ({@link #NULL_VALUE} before the first
 *                               election).
 * @param commitPosition         the log position the node knows to be on a majority (bytes).
 * @param appendPosition         the position of the node's recording of the cluster log (bytes), the archive's
 *                               recording position counter of the log stream.
 * @param electionCount          elections this node has taken part in since it started.
 * @param snapshotCount          snapshots the consensus module has taken since the node started.
 * @param consensusModuleErrors  the consensus module's error counter.
 * @param serviceErrors          the clustered service container's error counter(s).
 * @param archiveErrors          the archive's error counter.
 * @param leaderChangeWarnings   the leader changes the consensus module reported, counted as warnings, not errors
 *                               ({@link ConsensusErrorHandler}); 0 when the node has no such counter.
 * @param driverStartTimestampMs when the node's media driver started (epoch ms), to tell a restart apart;
 *                               {@link #NULL_VALUE} when down.
 * @param serviceCounters        Spate's clustered service counters (type ids {@value #SERVICE_COUNTER_TYPE_ID_MIN}
 *                               ..{@value #SERVICE_COUNTER_TYPE_ID_MAX}), by type id.
 */
public record NodeStatus(
    Path directory,
    int memberId,
    long pid,
    Role role,
    String reason,
    String moduleState,
    String electionState,
    long leadershipTermId,
    long commitPosition,
    long appendPosition,
    long electionCount,
    long snapshotCount,
    long consensusModuleErrors,
    long serviceErrors,
    long archiveErrors,
    long leaderChangeWarnings,
    long driverStartTimestampMs,
    List<ServiceCounter> serviceCounters)
{
    /** The file the node launcher writes into each node directory when the node starts. */
    public static final String PROPERTIES_FILE = "node.properties";
    /** Property: the node's cluster member id. */
    public static final String MEMBER_ID_PROPERTY = "memberId";
    /** Property: the node's Aeron directory (its media driver's CnC file). */
    public static final String AERON_DIR_PROPERTY = "aeronDir";
    /** Property: the node's cluster directory, the one Aeron's ClusterTool takes. */
    public static final String CLUSTER_DIR_PROPERTY = "clusterDir";
    /** Property: the node process's id. */
    public static final String PID_PROPERTY = "pid";
    /** Optional property: the Aeron cluster id whose counters are read, {@value #CLUSTER_ID_DEFAULT} when not given. */
    public static final String CLUSTER_ID_PROPERTY = "clusterId";
    /** Aeron Cluster's default cluster id ({@code ClusteredServiceContainer.Configuration.CLUSTER_ID_DEFAULT}). */
    public static final int CLUSTER_ID_DEFAULT = ClusteredServiceContainer.Configuration.CLUSTER_ID_DEFAULT;
    /** Optional property: the cluster log's stream id, {@value #LOG_STREAM_ID_DEFAULT} when not given. */
    public static final String LOG_STREAM_ID_PROPERTY = "logStreamId";
    /** Aeron Cluster's default log stream id ({@code ConsensusModule.Configuration.LOG_STREAM_ID_DEFAULT}). */
    public static final int LOG_STREAM_ID_DEFAULT = ConsensusModule.Configuration.LOG_STREAM_ID_DEFAULT;

    /** The lowest type id of Spate's clustered service counters. */
    public static final int SERVICE_COUNTER_TYPE_ID_MIN = 1050;
    /** The highest type id of Spate's clustered service counters. */
    public static final int SERVICE_COUNTER_TYPE_ID_MAX = 1069;
    /** Spate service counter: client batches the service has applied from the log. */
    public static final int BATCHES_APPLIED_TYPE_ID = SpateClusteredService.BATCHES_APPLIED_TYPE_ID;
    /** Spate service counter: records the service has applied from the log. */
    public static final int RECORDS_APPLIED_TYPE_ID = SpateClusteredService.RECORDS_APPLIED_TYPE_ID;

    /** A position, count or id the node does not have. */
    public static final long NULL_VALUE = Aeron.NULL_VALUE;

    /** The most service counters one node's view keeps; a limit, so a runaway registration cannot grow it. */
    static final int SERVICE_COUNTERS_MAX = 1024;

    private static final int CLUSTER_COUNTER_TYPE_ID_MIN = AeronCounters.CLUSTER_CONSENSUS_MODULE_STATE_TYPE_ID;
    private static final int CLUSTER_COUNTER_TYPE_ID_MAX = AeronCounters.CLUSTER_LEADERSHIP_TERM_ID_TYPE_ID;
    private static final Pattern NODE_DIRECTORY_NAME = Pattern.compile("node-(\\d{1,9})");
    /** Archive recording position label: "rec-pos: RECORDING_ID SESSION_ID STREAM_ID CHANNEL ...". */
    private static final Pattern RECORDING_POSITION_LABEL = Pattern.compile("rec-pos: (-?\\d+) (-?\\d+) (-?\\d+) ");

    /**
     * A node's role. Leader, follower and candidate are the consensus module's ({@link Cluster.Role}).
     */
    public enum Role
    {
        LEADER,
        FOLLOWER,
        CANDIDATE,
        /** The node's driver runs, but its consensus module has no counters: it is starting (or stopping). */
        STARTING,
        /** No process, no CnC file, or a driver that stopped heartbeating: see {@link NodeStatus#reason()}. */
        DOWN;

        /**
         * @return true for a node with a consensus module: leader, follower or candidate.
         */
        public boolean isUp()
        {
            return this == LEADER || this == FOLLOWER || this == CANDIDATE;
        }
    }

    /**
     * One of Spate's clustered service counters.
     *
     * @param typeId its type id, {@value #SERVICE_COUNTER_TYPE_ID_MIN}..{@value #SERVICE_COUNTER_TYPE_ID_MAX}.
     * @param label  its label ("spate cluster: batches applied").
     * @param value  its value.
     */
    public record ServiceCounter(int typeId, String label, long value)
    {
    }

    public NodeStatus
    {
        if (null == directory || null == role || null == reason || null == moduleState || null == electionState ||
            null == serviceCounters)
        {
            throw new IllegalArgumentException("a node status needs all its fields: " + directory);
        }
        if (role.isUp() != reason.isEmpty())
        {
            throw new IllegalArgumentException("a node that is up has no reason, one that is not has one: " + role +
                " '" + reason + "'");
        }
        if (serviceCounters.size() > SERVICE_COUNTERS_MAX)
        {
            throw new IllegalArgumentException("more than " + SERVICE_COUNTERS_MAX + " service counters: " +
                serviceCounters.size());
        }
        serviceCounters = List.copyOf(serviceCounters);
    }

    /**
     * @return a node that is {@link Role#DOWN} (or {@link Role#STARTING}) for the reason given: no positions, no
     * counters.
     */
    public static NodeStatus notUp(
        final Path directory, final int memberId, final long pid, final Role role, final String reason)
    {
        if (role.isUp() || reason.isEmpty())
        {
            throw new IllegalArgumentException("not up needs DOWN or STARTING and a reason: " + role);
        }
        return new NodeStatus(directory, memberId, pid, role, reason, "", "", NULL_VALUE, NULL_VALUE, NULL_VALUE,
            0, 0, 0, 0, 0, 0, NULL_VALUE, List.of());
    }

    /**
     * @return the node's consensus module, archive and service error counters, added up.
     */
    public long errors()
    {
        return consensusModuleErrors + serviceErrors + archiveErrors;
    }

    /**
     * @return client batches the service applied ({@link #BATCHES_APPLIED_TYPE_ID}), {@link #NULL_VALUE} when
     * the service has no such counter.
     */
    public long batchesApplied()
    {
        return serviceCounter(BATCHES_APPLIED_TYPE_ID);
    }

    /**
     * @return records the service applied ({@link #RECORDS_APPLIED_TYPE_ID}), {@link #NULL_VALUE} when the
     * service has no such counter.
     */
    public long recordsApplied()
    {
        return serviceCounter(RECORDS_APPLIED_TYPE_ID);
    }

    /**
     * @return the value of the service counter of that type id (added up when there are several),
     * {@link #NULL_VALUE} when there is none.
     */
    public long serviceCounter(final int typeId)
    {
        long total = NULL_VALUE;
        for (final ServiceCounter counter : serviceCounters)
        {
            if (counter.typeId() == typeId)
            {
                total = (NULL_VALUE == total ? 0 : total) + counter.value();
            }
        }
        return total;
    }

    /**
     * Reads a node directory: {@value #PROPERTIES_FILE}, then the CnC file of the node's media driver. Never
     * throws for a node that is missing, stopped or half started: that is a {@link Role#DOWN} status with its
     * reason.
     *
     * @param directory          the node directory ({@code ROOT/node-N}).
     * @param heartbeatTimeoutMs how old the driver's heartbeat may be for the node to count as running.
     * @param nowMs              the time now (epoch ms), against which the heartbeat is judged.
     * @return the node's status.
     */
    public static NodeStatus read(final Path directory, final long heartbeatTimeoutMs, final long nowMs)
    {
        if (heartbeatTimeoutMs <= 0)
        {
            throw new IllegalArgumentException("heartbeat timeout must be positive: " + heartbeatTimeoutMs);
        }
        final int memberIdFromName = memberIdFromName(directory);
        final Properties properties = new Properties();
        final Path propertiesFile = directory.resolve(PROPERTIES_FILE);
        try (InputStream in = Files.newInputStream(propertiesFile))
        {
            properties.load(in);
        }
        catch (final NoSuchFileException ex)
        {
            return notUp(directory, memberIdFromName, NULL_VALUE, Role.DOWN, "no " + PROPERTIES_FILE + " in " +
                directory + " (the node has not started)");
        }
        catch (final IOException | RuntimeException ex)
        {
            return notUp(directory, memberIdFromName, NULL_VALUE, Role.DOWN, "cannot read " + propertiesFile + ": " +
                oneLine(ex));
        }

        final int memberId;
        final long pid;
        final int clusterId;
        final int logStreamId;
        try
        {
            memberId = (int)number(properties, MEMBER_ID_PROPERTY, memberIdFromName, 0, Integer.MAX_VALUE);
            pid = number(properties, PID_PROPERTY, NULL_VALUE, 1, Long.MAX_VALUE);
            clusterId = (int)number(
                properties, CLUSTER_ID_PROPERTY, CLUSTER_ID_DEFAULT, Integer.MIN_VALUE, Integer.MAX_VALUE);
            logStreamId = (int)number(
                properties, LOG_STREAM_ID_PROPERTY, LOG_STREAM_ID_DEFAULT, Integer.MIN_VALUE, Integer.MAX_VALUE);
        }
        catch (final IllegalArgumentException ex)
        {
            return notUp(directory, memberIdFromName, NULL_VALUE, Role.DOWN, propertiesFile + ": " + ex.getMessage());
        }
        final String aeronDirectory = properties.getProperty(AERON_DIR_PROPERTY, "").trim();
        if (aeronDirectory.isEmpty())
        {
            return notUp(directory, memberId, pid, Role.DOWN, propertiesFile + " names no " + AERON_DIR_PROPERTY);
        }
        final boolean processAlive = NULL_VALUE == pid || isAlive(pid);
        final Path cncFile = Path.of(aeronDirectory, CncFileDescriptor.CNC_FILE);
        if (!Files.isRegularFile(cncFile))
        {
            return notUp(directory, memberId, pid, Role.DOWN, processAlive ?
                "no " + CncFileDescriptor.CNC_FILE + " in " + aeronDirectory + (NULL_VALUE == pid ? "" :
                    " (process " + pid + " runs: starting or stopping)") :
                "process " + pid + " is not running");
        }
        final MappedByteBuffer cnc;
        try
        {
            if (Files.size(cncFile) < CncFileDescriptor.END_OF_METADATA_OFFSET)
            {
                return notUp(directory, memberId, pid, Role.DOWN, cncFile + " is not complete (driver starting?)");
            }
            cnc = IoUtil.mapExistingFile(cncFile.toFile(), FileChannel.MapMode.READ_ONLY, CncFileDescriptor.CNC_FILE);
        }
        catch (final IOException | RuntimeException ex)
        {
            return notUp(directory, memberId, pid, Role.DOWN, "cannot map " + cncFile + ": " + oneLine(ex));
        }
        try
        {
            return readCnc(directory, memberId, pid, processAlive, clusterId, logStreamId, cnc, aeronDirectory,
                heartbeatTimeoutMs, nowMs);
        }
        catch (final RuntimeException ex)
        {
            // A CnC file that does not hold what its metadata says (being replaced, damaged): no view, no crash.
            return notUp(directory, memberId, pid, Role.DOWN, "cannot read " + cncFile + ": " + oneLine(ex));
        }
        finally
        {
            IoUtil.unmap(cnc);
        }
    }

    private static NodeStatus readCnc(
        final Path directory,
        final int memberId,
        final long pid,
        final boolean processAlive,
        final int clusterId,
        final int logStreamId,
        final MappedByteBuffer cnc,
        final String aeronDirectory,
        final long heartbeatTimeoutMs,
        final long nowMs)
    {
        if (!processAlive)
        {
            return notUp(directory, memberId, pid, Role.DOWN, "process " + pid + " is not running (" +
                CncFileDescriptor.CNC_FILE + " in " + aeronDirectory + " is left over)");
        }
        final UnsafeBuffer metaData = CncFileDescriptor.createMetaDataBuffer(cnc);
        final int version = metaData.getIntVolatile(CncFileDescriptor.cncVersionOffset(0));
        if (0 == version)
        {
            return notUp(directory, memberId, pid, Role.DOWN, "the media driver in " + aeronDirectory +
                " has not finished starting");
        }
        try
        {
            CncFileDescriptor.checkVersion(version);
        }
        catch (final RuntimeException ex)
        {
            return notUp(directory, memberId, pid, Role.DOWN, "the CnC file in " + aeronDirectory +
                " is of another Aeron version: " + oneLine(ex));
        }
        final long driverPid = CncFileDescriptor.pid(metaData);
        final long shownPid = NULL_VALUE == pid ? driverPid : pid;
        if (driverPid > 0 && driverPid != pid && !isAlive(driverPid))
        {
            return notUp(directory, memberId, shownPid, Role.DOWN, "the media driver's process " + driverPid +
                " is not running (" + CncFileDescriptor.CNC_FILE + " in " + aeronDirectory + " is left over)");
        }
        final long heartbeatMs;
        try
        {
            heartbeatMs = new ManyToOneRingBuffer(CncFileDescriptor.createToDriverBuffer(cnc, metaData))
                .consumerHeartbeatTime();
        }
        catch (final RuntimeException ex)
        {
            return notUp(directory, memberId, shownPid, Role.DOWN, "cannot read the driver's heartbeat in " +
                aeronDirectory + ": " + oneLine(ex));
        }
        final long heartbeatAgeMs = nowMs - heartbeatMs;
        if (heartbeatAgeMs > heartbeatTimeoutMs)
        {
            return notUp(directory, memberId, shownPid, Role.DOWN, "the media driver in " + aeronDirectory +
                " stopped: its heartbeat is " + heartbeatAgeMs + " ms old (more than " + heartbeatTimeoutMs + ")");
        }

        final CountersReader counters = new CountersReader(
            CncFileDescriptor.createCountersMetaDataBuffer(cnc, metaData),
            CncFileDescriptor.createCountersValuesBuffer(cnc, metaData),
            StandardCharsets.US_ASCII);
        final Reading reading = new Reading(clusterId, logStreamId);
        counters.forEach((counterId, typeId, keyBuffer, label) ->
            reading.add(typeId, keyBuffer, label, counters.getCounterValue(counterId)));
        final long startTimestampMs = CncFileDescriptor.startTimestampMs(metaData);
        return reading.status(directory, memberId, shownPid, aeronDirectory, startTimestampMs);
    }

    /** The counters of one CnC file, collected in one pass. */
    private static final class Reading
    {
        private final int clusterId;
        private final int logStreamId;
        private long roleCode = NULL_VALUE;
        private long moduleStateCode = NULL_VALUE;
        private long electionStateCode = NULL_VALUE;
        private long leadershipTermId = NULL_VALUE;
        private long commitPosition = NULL_VALUE;
        private long appendPosition = NULL_VALUE;
        private long electionCount;
        private long snapshotCount;
        private long consensusModuleErrors;
        private long serviceErrors;
        private long archiveErrors;
        private long leaderChangeWarnings;
        private final List<ServiceCounter> serviceCounters = new ArrayList<>();

        Reading(final int clusterId, final int logStreamId)
        {
            this.clusterId = clusterId;
            this.logStreamId = logStreamId;
        }

        void add(final int typeId, final DirectBuffer keyBuffer, final String label, final long value)
        {
            if (typeId >= SERVICE_COUNTER_TYPE_ID_MIN && typeId <= SERVICE_COUNTER_TYPE_ID_MAX)
            {
                if (serviceCounters.size() < SERVICE_COUNTERS_MAX)
                {
                    serviceCounters.add(new ServiceCounter(typeId, label, value));
                }
                return;
            }
            switch (typeId)
            {
                case AeronCounters.ARCHIVE_RECORDING_POSITION_TYPE_ID ->
                {
                    final Matcher matcher = RECORDING_POSITION_LABEL.matcher(label);
                    if (matcher.lookingAt() && Integer.toString(logStreamId).equals(matcher.group(3)))
                    {
                        // One log recording per node (extended across terms); should there be two, the furthest.
                        appendPosition = Math.max(appendPosition, value);
                    }
                }
                case AeronCounters.ARCHIVE_ERROR_COUNT_TYPE_ID -> archiveErrors += value;
                case ConsensusErrorHandler.LEADER_CHANGE_WARNINGS_TYPE_ID -> leaderChangeWarnings += value;
                default -> addClusterCounter(typeId, keyBuffer, value);
            }
        }

        private void addClusterCounter(final int typeId, final DirectBuffer keyBuffer, final long value)
        {
            // Aeron Cluster's counters carry the cluster id as the first int of their key (ClusterCounters).
            if (typeId < CLUSTER_COUNTER_TYPE_ID_MIN || typeId > CLUSTER_COUNTER_TYPE_ID_MAX ||
                keyBuffer.getInt(0) != clusterId)
            {
                return;
            }
            switch (typeId)
            {
                case AeronCounters.CLUSTER_NODE_ROLE_TYPE_ID -> roleCode = value;
                case AeronCounters.CLUSTER_CONSENSUS_MODULE_STATE_TYPE_ID -> moduleStateCode = value;
                case AeronCounters.CLUSTER_ELECTION_STATE_TYPE_ID -> electionStateCode = value;
                case AeronCounters.CLUSTER_LEADERSHIP_TERM_ID_TYPE_ID -> leadershipTermId = value;
                case AeronCounters.CLUSTER_COMMIT_POSITION_TYPE_ID -> commitPosition = value;
                case AeronCounters.CLUSTER_ELECTION_COUNT_TYPE_ID -> electionCount = value;
                case AeronCounters.CLUSTER_SNAPSHOT_COUNTER_TYPE_ID -> snapshotCount = value;
                case AeronCounters.CLUSTER_CONSENSUS_MODULE_ERROR_COUNT_TYPE_ID -> consensusModuleErrors += value;
                case AeronCounters.CLUSTER_CLUSTERED_SERVICE_ERROR_COUNT_TYPE_ID -> serviceErrors += value;
                default ->
                {
                }
            }
        }

        NodeStatus status(
            final Path directory,
            final int memberId,
            final long pid,
            final String aeronDirectory,
            final long startTimestampMs)
        {
            if (NULL_VALUE == roleCode)
            {
                return notUp(directory, memberId, pid, Role.STARTING, "its media driver in " + aeronDirectory +
                    " runs, but no consensus module has counters there (starting or stopping)");
            }
            final Role role = role(roleCode);
            if (null == role)
            {
                return notUp(directory, memberId, pid, Role.STARTING, "its consensus module's role counter holds " +
                    roleCode + ", not a role this Aeron knows");
            }
            serviceCounters.sort(Comparator.comparingInt(ServiceCounter::typeId));
            return new NodeStatus(directory, memberId, pid, role, "", moduleState(moduleStateCode),
                electionState(electionStateCode), leadershipTermId, commitPosition, appendPosition, electionCount,
                snapshotCount, consensusModuleErrors, serviceErrors, archiveErrors, leaderChangeWarnings, startTimestampMs,
                serviceCounters);
        }
    }

    private static Role role(final long code)
    {
        try
        {
            return switch (Cluster.Role.get(code))
            {
                case LEADER -> Role.LEADER;
                case CANDIDATE -> Role.CANDIDATE;
                case FOLLOWER -> Role.FOLLOWER;
            };
        }
        catch (final RuntimeException ex)
        {
            return null;
        }
    }

    private static String moduleState(final long code)
    {
        if (NULL_VALUE == code)
        {
            return "";
        }
        try
        {
            return ConsensusModule.State.get(code).name();
        }
        catch (final RuntimeException ex)
        {
            return "CODE_" + code;
        }
    }

    private static String electionState(final long code)
    {
        if (NULL_VALUE == code)
        {
            return "";
        }
        try
        {
            return ElectionState.get(code).name();
        }
        catch (final RuntimeException ex)
        {
            return "CODE_" + code;
        }
    }

    /**
     * @return N for a directory named {@code node-N}, else {@link #NULL_VALUE}.
     */
    static int memberIdFromName(final Path directory)
    {
        final Path name = directory.getFileName();
        final Matcher matcher = null == name ? null : NODE_DIRECTORY_NAME.matcher(name.toString());
        return null != matcher && matcher.matches() ? Integer.parseInt(matcher.group(1)) : (int)NULL_VALUE;
    }

    private static long number(
        final Properties properties, final String name, final long defaultValue, final long min, final long max)
    {
        final String text = properties.getProperty(name);
        if (null == text || text.isBlank())
        {
            return defaultValue;
        }
        final long value;
        try
        {
            value = Long.parseLong(text.trim());
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException(name + " is not a whole number: " + text.trim());
        }
        if (value < min || value > max)
        {
            throw new IllegalArgumentException(name + " must be " + min + ".." + max + ": " + value);
        }
        return value;
    }

    private static boolean isAlive(final long pid)
    {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    private static String oneLine(final Throwable error)
    {
        final String message = null == error.getMessage() ? error.toString() : error.getMessage();
        return message.replace('\n', ' ').replace('\r', ' ');
    }
}
