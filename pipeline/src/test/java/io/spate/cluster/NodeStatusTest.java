package io.spate.cluster;

import io.aeron.Aeron;
import io.aeron.AeronCounters;
import io.aeron.CncFileDescriptor;
import io.aeron.Counter;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import org.agrona.CloseHelper;
import org.agrona.IoUtil;
import org.agrona.concurrent.SleepingMillisIdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link NodeStatus} against a real CnC file: an embedded media driver in this JVM whose counters stand in for a
 * cluster node's (Aeron Cluster's role, state, term, commit position and error counters, the archive's recording
 * position of the log, Spate's service counters), allocated with the same type ids and keys the node's consensus
 * module, archive and service allocate; and against node directories that are missing, half written, or left
 * over by a process that is gone. Heartbeats are judged against a clock the test gives (an hour of slack, or an
 * hour later), so nothing depends on timing.
 */
class NodeStatusTest
{
    private static final long HOUR_MS = 3_600_000;
    private static final int CLUSTER_ID = 0;
    private static final int OTHER_CLUSTER_ID = 1;

    private static Path root;
    private static Path aeronDirectory;
    private static MediaDriver driver;
    private static Aeron aeron;
    private static final List<Counter> COUNTERS = new ArrayList<>();

    @BeforeAll
    static void startDriver() throws IOException
    {
        root = temporaryDirectory("spate-node-status-");
        aeronDirectory = root.resolve("aeron");
        driver = MediaDriver.launch(new MediaDriver.Context()
            .aeronDirectoryName(aeronDirectory.toString())
            .threadingMode(ThreadingMode.SHARED)
            .sharedIdleStrategy(new SleepingMillisIdleStrategy(1))
            .dirDeleteOnStart(true)
            .dirDeleteOnShutdown(true));
        aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(aeronDirectory.toString()));

        // The leader of cluster 0, as its consensus module, archive and service would count it.
        clusterCounter(AeronCounters.CLUSTER_NODE_ROLE_TYPE_ID, CLUSTER_ID, "Cluster node role", 2);
        clusterCounter(AeronCounters.CLUSTER_CONSENSUS_MODULE_STATE_TYPE_ID, CLUSTER_ID, "Consensus Module state", 1);
        clusterCounter(AeronCounters.CLUSTER_ELECTION_STATE_TYPE_ID, CLUSTER_ID, "Cluster election state", 17);
        clusterCounter(AeronCounters.CLUSTER_LEADERSHIP_TERM_ID_TYPE_ID, CLUSTER_ID, "Cluster leadership term id", 3);
        clusterCounter(AeronCounters.CLUSTER_COMMIT_POSITION_TYPE_ID, CLUSTER_ID, "Cluster commit-pos:", 4096);
        clusterCounter(AeronCounters.CLUSTER_ELECTION_COUNT_TYPE_ID, CLUSTER_ID, "Cluster election count", 2);
        clusterCounter(AeronCounters.CLUSTER_SNAPSHOT_COUNTER_TYPE_ID, CLUSTER_ID, "Cluster snapshot count", 1);
        clusterCounter(AeronCounters.CLUSTER_CONSENSUS_MODULE_ERROR_COUNT_TYPE_ID, CLUSTER_ID, "Cluster Errors", 1);
        clusterCounter(AeronCounters.CLUSTER_CLUSTERED_SERVICE_ERROR_COUNT_TYPE_ID, CLUSTER_ID,
            "Cluster Container Errors", 2);
        counter(AeronCounters.ARCHIVE_ERROR_COUNT_TYPE_ID, new byte[0], "Archive Errors", 4);
        // The log's recording (stream 100), and a snapshot's (stream 107) that must not count as the log.
        recordingPosition(0, 100, 8192);
        recordingPosition(1, 107, 1_000_000);
        counter(NodeStatus.RECORDS_APPLIED_TYPE_ID, new byte[0], "spate cluster: records applied", 100);
        counter(NodeStatus.BATCHES_APPLIED_TYPE_ID, new byte[0], "spate cluster: batches applied", 10);
        counter(NodeStatus.BATCHES_APPLIED_TYPE_ID + 2, new byte[0], "spate cluster: duplicate batches", 1);
        // A follower of cluster 1 on the same driver: read only by a node.properties that names clusterId=1.
        clusterCounter(AeronCounters.CLUSTER_NODE_ROLE_TYPE_ID, OTHER_CLUSTER_ID, "Cluster node role", 0);
        clusterCounter(AeronCounters.CLUSTER_COMMIT_POSITION_TYPE_ID, OTHER_CLUSTER_ID, "Cluster commit-pos:", 2048);
        // Not Spate's, not the cluster's: ignored.
        counter(1049, new byte[0], "spate something else", 77);
    }

    @AfterAll
    static void stopDriver()
    {
        COUNTERS.forEach(CloseHelper::quietClose);
        CloseHelper.closeAll(aeron, driver);
        if (null != root)
        {
            IoUtil.delete(root.toFile(), true);
        }
    }

    @Test
    void readsTheLeadersCountersFromTheCncFile() throws IOException
    {
        final Path node = nodeDirectory("node-1", 1, ProcessHandle.current().pid(), aeronDirectory, null);

        final NodeStatus status = NodeStatus.read(node, HOUR_MS, System.currentTimeMillis());

        assertEquals(NodeStatus.Role.LEADER, status.role(), status.toString());
        assertTrue(status.role().isUp());
        assertEquals("", status.reason());
        assertEquals(1, status.memberId());
        assertEquals(ProcessHandle.current().pid(), status.pid());
        assertEquals("ACTIVE", status.moduleState());
        assertEquals("CLOSED", status.electionState());
        assertEquals(3, status.leadershipTermId());
        assertEquals(4096, status.commitPosition());
        assertEquals(8192, status.appendPosition(), "the log's recording, not the snapshot's");
        assertEquals(2, status.electionCount());
        assertEquals(1, status.snapshotCount());
        assertEquals(1, status.consensusModuleErrors());
        assertEquals(2, status.serviceErrors());
        assertEquals(4, status.archiveErrors());
        assertEquals(7, status.errors());
        assertEquals(10, status.batchesApplied());
        assertEquals(100, status.recordsApplied());
        assertEquals(List.of(
            new NodeStatus.ServiceCounter(NodeStatus.BATCHES_APPLIED_TYPE_ID, "spate cluster: batches applied", 10),
            new NodeStatus.ServiceCounter(NodeStatus.RECORDS_APPLIED_TYPE_ID, "spate cluster: records applied", 100),
            new NodeStatus.ServiceCounter(NodeStatus.BATCHES_APPLIED_TYPE_ID + 2, "spate cluster: duplicate batches", 1)),
            status.serviceCounters(), "by type id; only 1050..1069");
        assertTrue(status.driverStartTimestampMs() > 0);
    }

    @Test
    void readsOnlyTheClusterItsPropertiesName() throws IOException
    {
        final Path follower = nodeDirectory("node-2", 2, ProcessHandle.current().pid(), aeronDirectory,
            Integer.toString(OTHER_CLUSTER_ID));
        final NodeStatus status = NodeStatus.read(follower, HOUR_MS, System.currentTimeMillis());
        assertEquals(NodeStatus.Role.FOLLOWER, status.role(), status.toString());
        assertEquals(2048, status.commitPosition());
        assertEquals(NodeStatus.NULL_VALUE, status.leadershipTermId(), "cluster 1 has no term counter");
        assertEquals("", status.moduleState());
        assertEquals(0, status.consensusModuleErrors());

        final Path noModule = nodeDirectory("node-3", 3, ProcessHandle.current().pid(), aeronDirectory, "5");
        final NodeStatus starting = NodeStatus.read(noModule, HOUR_MS, System.currentTimeMillis());
        assertEquals(NodeStatus.Role.STARTING, starting.role(), starting.toString());
        assertFalse(starting.role().isUp());
        assertTrue(starting.reason().contains("no consensus module"), starting.reason());
        assertEquals(NodeStatus.NULL_VALUE, starting.commitPosition());
    }

    @Test
    void aDriverWhoseHeartbeatIsOlderThanTheTimeoutIsDown() throws IOException
    {
        final Path node = nodeDirectory("node-1", 1, ProcessHandle.current().pid(), aeronDirectory, null);

        final NodeStatus status = NodeStatus.read(node, HOUR_MS, System.currentTimeMillis() + 2 * HOUR_MS);

        assertEquals(NodeStatus.Role.DOWN, status.role(), status.toString());
        assertTrue(status.reason().contains("heartbeat is") && status.reason().contains(aeronDirectory.toString()),
            status.reason());
        assertEquals(1, status.memberId());
        assertEquals(NodeStatus.NULL_VALUE, status.commitPosition());
        assertEquals(List.of(), status.serviceCounters());
    }

    @Test
    void aDirectoryWithoutPropertiesIsDownAndNamedByItsDirectory() throws IOException
    {
        final Path node = Files.createDirectories(root.resolve("missing").resolve("node-2"));

        final NodeStatus status = NodeStatus.read(node, HOUR_MS, System.currentTimeMillis());

        assertEquals(NodeStatus.Role.DOWN, status.role());
        assertEquals(2, status.memberId(), "from the directory's name");
        assertEquals(NodeStatus.NULL_VALUE, status.pid());
        assertTrue(status.reason().startsWith("no node.properties in "), status.reason());

        final NodeStatus nowhere = NodeStatus.read(root.resolve("no-such-directory"), HOUR_MS, 0);
        assertEquals(NodeStatus.Role.DOWN, nowhere.role());
        assertEquals(NodeStatus.NULL_VALUE, nowhere.memberId());
    }

    @Test
    void badPropertiesAreDownWithTheirReason() throws IOException
    {
        final Path node = Files.createDirectories(root.resolve("bad").resolve("node-0"));
        Files.writeString(node.resolve(NodeStatus.PROPERTIES_FILE), "memberId=abc\naeronDir=" + aeronDirectory + "\n");
        final NodeStatus status = NodeStatus.read(node, HOUR_MS, System.currentTimeMillis());
        assertEquals(NodeStatus.Role.DOWN, status.role());
        assertEquals(0, status.memberId());
        assertTrue(status.reason().endsWith("memberId is not a whole number: abc"), status.reason());

        Files.writeString(node.resolve(NodeStatus.PROPERTIES_FILE), "memberId=0\n");
        final NodeStatus noAeronDirectory = NodeStatus.read(node, HOUR_MS, System.currentTimeMillis());
        assertEquals(NodeStatus.Role.DOWN, noAeronDirectory.role());
        assertTrue(noAeronDirectory.reason().endsWith("names no aeronDir"), noAeronDirectory.reason());
    }

    @Test
    void noCncFileIsDownSayingWhetherTheProcessRuns() throws Exception
    {
        final Path emptyAeronDirectory = Files.createDirectories(root.resolve("empty-aeron"));
        final long deadPid = deadPid();

        final NodeStatus dead = NodeStatus.read(
            nodeDirectory("node-0", 0, deadPid, emptyAeronDirectory, null), HOUR_MS, System.currentTimeMillis());
        assertEquals(NodeStatus.Role.DOWN, dead.role());
        assertEquals(deadPid, dead.pid());
        assertEquals("process " + deadPid + " is not running", dead.reason());

        final NodeStatus starting = NodeStatus.read(
            nodeDirectory("node-0", 0, ProcessHandle.current().pid(), emptyAeronDirectory, null), HOUR_MS,
            System.currentTimeMillis());
        assertEquals(NodeStatus.Role.DOWN, starting.role());
        assertTrue(starting.reason().startsWith("no cnc.dat in " + emptyAeronDirectory) &&
            starting.reason().endsWith("runs: starting or stopping)"), starting.reason());
    }

    @Test
    void aCncFileLeftOverByAProcessThatIsGoneIsDown() throws Exception
    {
        // A copy of the live CnC file whose driver pid is a process that has exited: its heartbeat is recent,
        // but nothing runs there any more (a node killed a moment ago).
        final Path leftOver = Files.createDirectories(root.resolve("left-over-aeron"));
        Files.copy(aeronDirectory.resolve(CncFileDescriptor.CNC_FILE), leftOver.resolve(CncFileDescriptor.CNC_FILE));
        final long deadPid = deadPid();
        final MappedByteBuffer cnc = IoUtil.mapExistingFile(
            leftOver.resolve(CncFileDescriptor.CNC_FILE).toFile(), FileChannel.MapMode.READ_WRITE, "cnc");
        try
        {
            new UnsafeBuffer(cnc).putLong(CncFileDescriptor.pidOffset(0), deadPid);
        }
        finally
        {
            IoUtil.unmap(cnc);
        }

        final NodeStatus propertiesPidDead = NodeStatus.read(
            nodeDirectory("node-0", 0, deadPid, leftOver, null), HOUR_MS, System.currentTimeMillis());
        assertEquals(NodeStatus.Role.DOWN, propertiesPidDead.role(), propertiesPidDead.toString());
        assertEquals("process " + deadPid + " is not running (cnc.dat in " + leftOver + " is left over)",
            propertiesPidDead.reason());

        final NodeStatus driverPidDead = NodeStatus.read(
            nodeDirectory("node-0", 0, ProcessHandle.current().pid(), leftOver, null), HOUR_MS,
            System.currentTimeMillis());
        assertEquals(NodeStatus.Role.DOWN, driverPidDead.role(), driverPidDead.toString());
        assertEquals("the media driver's process " + deadPid + " is not running (cnc.dat in " + leftOver +
            " is left over)", driverPidDead.reason());

        final NodeStatus noPid = NodeStatus.read(
            nodeDirectory("node-0", 0, NodeStatus.NULL_VALUE, leftOver, null), HOUR_MS, System.currentTimeMillis());
        assertEquals(NodeStatus.Role.DOWN, noPid.role(), noPid.toString());
        assertEquals(deadPid, noPid.pid(), "the driver's pid from the CnC file");
    }

    @Test
    void memberIdFromTheDirectoryName()
    {
        assertEquals(0, NodeStatus.memberIdFromName(Path.of("/tmp/c/node-0")));
        assertEquals(12, NodeStatus.memberIdFromName(Path.of("node-12")));
        assertEquals(NodeStatus.NULL_VALUE, NodeStatus.memberIdFromName(Path.of("/tmp/c/node-x")));
        assertEquals(NodeStatus.NULL_VALUE, NodeStatus.memberIdFromName(Path.of("/tmp/c/n0")));
    }

    @Test
    void aStatusThatIsUpHasNoReasonAndOneThatIsNotHasOne()
    {
        final Path directory = Path.of("node-0");
        final NodeStatus down = NodeStatus.notUp(directory, 0, 1, NodeStatus.Role.DOWN, "gone");
        assertEquals("gone", down.reason());
        assertEquals(NodeStatus.NULL_VALUE, down.batchesApplied());
        assertThrowsIllegalArgument(() -> NodeStatus.notUp(directory, 0, 1, NodeStatus.Role.LEADER, "x"));
        assertThrowsIllegalArgument(() -> NodeStatus.notUp(directory, 0, 1, NodeStatus.Role.DOWN, ""));
        assertThrowsIllegalArgument(() -> NodeStatus.read(directory, 0, 0));
    }

    private static void assertThrowsIllegalArgument(final Runnable runnable)
    {
        try
        {
            runnable.run();
        }
        catch (final IllegalArgumentException expected)
        {
            return;
        }
        throw new AssertionError("no IllegalArgumentException");
    }

    /**
     * @return the pid of a process that has run and exited (and been reaped).
     */
    static long deadPid() throws IOException, InterruptedException
    {
        final Process process = new ProcessBuilder("true").start();
        assertEquals(0, process.waitFor());
        final long pid = process.pid();
        assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false));
        return pid;
    }

    /**
     * Writes {@code root/<test dir>/name/node.properties} the way the node launcher does.
     */
    static Path nodeDirectory(
        final Path parent, final String name, final int memberId, final long pid, final Path aeron, final String clusterId)
        throws IOException
    {
        final Path node = Files.createDirectories(parent.resolve(name));
        final Properties properties = new Properties();
        properties.setProperty(NodeStatus.MEMBER_ID_PROPERTY, Integer.toString(memberId));
        properties.setProperty(NodeStatus.AERON_DIR_PROPERTY, aeron.toString());
        properties.setProperty(NodeStatus.CLUSTER_DIR_PROPERTY, node.resolve("cluster").toString());
        properties.setProperty("archiveDir", node.resolve("archive").toString());
        properties.setProperty("members", "0,localhost:20000,localhost:20001,localhost:20002,localhost:20003," +
            "localhost:20004");
        properties.setProperty("ingressEndpoints", "0=localhost:20002");
        if (NodeStatus.NULL_VALUE != pid)
        {
            properties.setProperty(NodeStatus.PID_PROPERTY, Long.toString(pid));
        }
        if (null != clusterId)
        {
            properties.setProperty(NodeStatus.CLUSTER_ID_PROPERTY, clusterId);
        }
        try (OutputStream out = Files.newOutputStream(node.resolve(NodeStatus.PROPERTIES_FILE)))
        {
            properties.store(out, "test node");
        }
        return node;
    }

    private static Path nodeDirectory(
        final String name, final int memberId, final long pid, final Path aeron, final String clusterId)
        throws IOException
    {
        return nodeDirectory(Files.createTempDirectory(root, "nodes-"), name, memberId, pid, aeron, clusterId);
    }

    private static void clusterCounter(final int typeId, final int clusterId, final String name, final long value)
    {
        final byte[] key = new byte[Integer.BYTES];
        new UnsafeBuffer(key).putInt(0, clusterId);
        counter(typeId, key, name + " - clusterId=" + clusterId, value);
    }

    private static void recordingPosition(final long recordingId, final int streamId, final long value)
    {
        final byte[] key = new byte[Long.BYTES + Integer.BYTES + Integer.BYTES];
        new UnsafeBuffer(key).putLong(0, recordingId);
        counter(AeronCounters.ARCHIVE_RECORDING_POSITION_TYPE_ID, key,
            "rec-pos: " + recordingId + " 12345 " + streamId + " aeron:udp?endpoint=localhost:20003 - archiveId=7",
            value);
    }

    private static void counter(final int typeId, final byte[] key, final String label, final long value)
    {
        final byte[] labelBytes = label.getBytes(StandardCharsets.US_ASCII);
        final Counter counter = aeron.addCounter(typeId, new UnsafeBuffer(key), 0, key.length,
            new UnsafeBuffer(labelBytes), 0, labelBytes.length);
        counter.set(value);
        COUNTERS.add(counter);
    }

    static Path temporaryDirectory(final String prefix) throws IOException
    {
        final Path shm = Path.of("/dev/shm");
        if (Files.isDirectory(shm) && Files.isWritable(shm))
        {
            return Files.createTempDirectory(shm, prefix);
        }
        return Files.createTempDirectory(prefix);
    }
}
