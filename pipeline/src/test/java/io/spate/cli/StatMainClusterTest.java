package io.spate.cli;

import io.aeron.Aeron;
import io.aeron.AeronCounters;
import io.aeron.Counter;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.spate.cluster.ConsensusErrorHandler;
import io.spate.cluster.NodeStatus;
import io.spate.cluster.NodeStatus.Role;
import io.spate.cluster.NodeStatus.ServiceCounter;
import org.agrona.concurrent.SleepingMillisIdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bin/spate stat --cluster ROOT} and {@code --node DIR}: the command line (which options go together,
 * --node repeated, directories that do not exist), the output format (header, one row per node, lag behind the
 * leader, rates between two samples, nodes down), and one sample of real node directories whose CnC file is an
 * embedded media driver's in this JVM. Samples carry their own times and heartbeats are judged with an hour of
 * slack, so nothing depends on timing.
 */
class StatMainClusterTest
{
    private static final long HOUR_MS = 3_600_000;
    private static final Instant TIME = Instant.parse("2026-01-02T03:04:05.678Z");
    private static final long SECOND_NS = 1_000_000_000L;

    private final ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
    private final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(outBytes, true, StandardCharsets.UTF_8);
    private final PrintStream err = new PrintStream(errBytes, true, StandardCharsets.UTF_8);
    private Path directory;

    @AfterEach
    void after()
    {
        JvmProcess.deleteRecursively(directory);
    }

    private int stat(final String... args)
    {
        return StatMain.run(args, out, err);
    }

    private List<String> outLines()
    {
        final String text = outBytes.toString(StandardCharsets.UTF_8);
        outBytes.reset();
        return text.isEmpty() ? List.of() : List.of(text.split(System.lineSeparator()));
    }

    private List<String> errLines()
    {
        final String text = errBytes.toString(StandardCharsets.UTF_8);
        errBytes.reset();
        return text.isEmpty() ? List.of() : List.of(text.split(System.lineSeparator()));
    }

    @Test
    void optionsThatDoNotGoTogetherAreUsageErrors()
    {
        assertEquals(2, stat("--cluster", "/tmp/a", "--node", "/tmp/b"));
        assertEquals(List.of("stat: --cluster and --node do not go together (see --help)"), errLines());
        assertEquals(2, stat("--node", "/tmp/b", "--dir", "/tmp/aeron"));
        assertEquals(List.of("stat: --dir is for a pipeline's driver; a cluster node's node.properties names its " +
            "own (see --help)"), errLines());
        assertEquals(2, stat("--once", "--node"));
        assertEquals(List.of("stat: --node needs a value (see --help)"), errLines());
        assertEquals(2, stat("--cluster"));
        assertEquals(List.of("stat: --cluster needs a value (see --help)"), errLines());
        assertEquals(2, stat("--cluster", "/tmp/a", "--cluster", "/tmp/b"));
        assertEquals(List.of("stat: --cluster is given twice (see --help)"), errLines());
        assertEquals(2, stat("--cluster", "/tmp/a", "--interval-ms", "5"));
        assertEquals(List.of("stat: --interval-ms must be 10..3600000: 5"), errLines());

        final List<String> many = new ArrayList<>();
        for (int i = 0; i <= StatMain.NODES_MAX; i++)
        {
            many.add("--node=/tmp/n" + i);
        }
        assertEquals(2, stat(many.toArray(new String[0])));
        assertEquals(List.of("stat: --node is given more than 64 times (see --help)"), errLines());
        assertEquals(List.of(), outLines());
    }

    @Test
    void nodeIsRepeatableAndTheValuesOfOtherOptionsAreNotTakenForIt()
    {
        final List<String> nodes = new ArrayList<>();
        final String[] rest = StatMain.takeRepeated(
            new String[]{ "--node", "a", "--interval-ms", "--node", "--node=b", "--once" }, "--node",
            java.util.Set.of("--interval-ms", "--dir", "--cluster"), nodes);
        assertEquals(List.of("a", "b"), nodes);
        assertEquals(List.of("--interval-ms", "--node", "--once"), List.of(rest));
    }

    @Test
    void helpNamesTheClusterOptions()
    {
        assertEquals(0, stat("--help"));
        final String help = outBytes.toString(StandardCharsets.UTF_8);
        assertTrue(help.contains("bin/spate stat --cluster ROOT | --node DIR [--node DIR ...]"), help);
        assertTrue(help.contains("  --cluster ROOT ") && help.contains("  --node DIR "), help);
        assertTrue(help.contains("lag_bytes"), help);
    }

    @Test
    void directoriesThatDoNotExistFailAtOnce() throws Exception
    {
        directory = JvmProcess.temporaryDirectory("spate-stat-cluster-");
        final Path missing = directory.resolve("no-such-root");
        assertEquals(1, stat("--cluster", missing.toString(), "--once", "--interval-ms", "10"));
        assertEquals(List.of("stat: error: no cluster in " + missing + " (no such directory); start one with " +
            "'bin/spate cluster --data " + missing + "'"), errLines());

        assertEquals(1, stat("--node", directory.toString(), "--node", missing.toString(), "--once"));
        assertEquals(List.of("stat: error: no node directory " + missing + " (no such directory)"), errLines());

        assertEquals(1, stat("--cluster", directory.toString(), "--once", "--interval-ms", "10"));
        assertEquals(List.of("stat: error: no node directories (node-N) in " + directory + "; start a cluster with " +
            "'bin/spate cluster --data " + directory + "'"), errLines());
        assertEquals(List.of(), outLines());
    }

    @Test
    void onceWithNoNodeUpPrintsTheSampleAndExitsOne() throws Exception
    {
        directory = JvmProcess.temporaryDirectory("spate-stat-cluster-");
        for (int i = 0; i < 3; i++)
        {
            Files.createDirectories(directory.resolve("node-" + i));
        }
        Files.createDirectories(directory.resolve("not-a-node"));

        assertEquals(1, stat("--cluster", directory.toString(), "--once", "--interval-ms", "10"));

        final List<String> lines = outLines();
        assertEquals(4, lines.size(), lines.toString());
        assertTrue(lines.get(0).matches("stat: \\S+Z cluster=" + directory + " nodes=3 up=0 leader=none"), lines.get(0));
        for (int i = 0; i < 3; i++)
        {
            assertEquals("  node " + i + ": role=DOWN pid=none reason: no node.properties in " +
                directory.resolve("node-" + i) + " (the node has not started)", lines.get(i + 1));
        }
        assertEquals(List.of("stat: error: no cluster node is up in " + directory), errLines());
    }

    @Test
    void oneRowPerNodeWithLagRatesAndNodesDown()
    {
        final NodeStatus follower0 = up(0, Role.FOLLOWER, 5, 900, 1000, 10, 100, 11);
        final NodeStatus leader1 = up(1, Role.LEADER, 5, 1000, 1000, 10, 100, 12,
            new ServiceCounter(1052, "spate cluster: batches sent again, not applied", 3),
            new ServiceCounter(1058, "spate cluster: service role (0 follower 1 candidate 2 leader)", 2));
        final NodeStatus down2 = NodeStatus.notUp(Path.of("/c/node-2"), 2, 77, Role.DOWN, "process 77 is not running");
        final StatMain.ClusterSample previous = sample(0, follower0, leader1, down2);
        final StatMain.ClusterSample current = sample(2 * SECOND_NS,
            up(0, Role.FOLLOWER, 5, 1900, 2000, 20, 300, 11),
            up(1, Role.LEADER, 5, 2000, 2048, 30, 500, 12,
                new ServiceCounter(1052, "spate cluster: batches sent again, not applied", 3),
                new ServiceCounter(1058, "spate cluster: service role (0 follower 1 candidate 2 leader)", 2)),
            down2);

        final String text = StatMain.formatCluster(new StatMain.ClusterTarget("/c", List.of()), previous, current);

        assertEquals(List.of(
            "stat: 2026-01-02T03:04:05.678Z cluster=/c nodes=3 up=2 leader=1 term=5 commit=2000",
            "  node 0: role=FOLLOWER state=ACTIVE election=CLOSED term=5 commit=1900 append=2000 lag_bytes=100 " +
                "batches=20 batches/s=5 records=300 records/s=100 errors=3 leader_change_warnings=4 elections=1 " +
                "snapshots=0 pid=100",
            "  node 1: role=LEADER state=ACTIVE election=CLOSED term=5 commit=2000 append=2048 lag_bytes=0 " +
                "batches=30 batches/s=10 records=500 records/s=200 errors=3 leader_change_warnings=4 elections=1 " +
                "snapshots=0 pid=101 " +
                "batches_sent_again_not_applied=3 service_role=2",
            "  node 2: role=DOWN pid=77 reason: process 77 is not running"),
            List.of(text.split(System.lineSeparator())));
    }

    @Test
    void withoutALeaderUpTheLagIsUnknown()
    {
        final NodeStatus follower = up(0, Role.FOLLOWER, 5, 900, 1000, 10, 100, 11);
        final NodeStatus candidate = up(1, Role.CANDIDATE, 6, 1000, 1000, NodeStatus.NULL_VALUE,
            NodeStatus.NULL_VALUE, 12);
        final StatMain.ClusterSample sample = sample(0, follower, candidate);

        final List<String> lines = List.of(StatMain.formatCluster(
            new StatMain.ClusterTarget(null, List.of("/c/node-0", "/c/node-1")), sample, sample)
            .split(System.lineSeparator()));

        assertEquals("stat: 2026-01-02T03:04:05.678Z nodes=2 up=2 leader=none", lines.get(0));
        assertTrue(lines.get(1).contains(" lag_bytes=no_leader batches=10 batches/s=0 records=100 records/s=0 "),
            lines.get(1));
        assertTrue(lines.get(2).contains(" role=CANDIDATE ") && lines.get(2).contains(" term=6 ") &&
            lines.get(2).contains(" batches=none batches/s=none records=none records/s=none "), lines.get(2));
    }

    @Test
    void theLeaderInTheHighestTermLeadsAndARestartedNodeHasNoRate()
    {
        final NodeStatus oldLeader = up(0, Role.LEADER, 4, 700, 800, 10, 100, 11);
        final NodeStatus newLeader = up(1, Role.LEADER, 5, 1000, 1000, 10, 100, 12);
        final NodeStatus restarted = up(2, Role.FOLLOWER, 5, 400, 400, 5, 50, 99);
        final StatMain.ClusterSample previous = sample(0, oldLeader, newLeader, up(2, Role.FOLLOWER, 5, 300, 300,
            100, 1000, 13));
        final StatMain.ClusterSample current = sample(SECOND_NS, oldLeader, newLeader, restarted);

        assertEquals(newLeader, current.leader());
        final List<String> lines = List.of(StatMain.formatCluster(
            new StatMain.ClusterTarget("/c", List.of()), previous, current).split(System.lineSeparator()));
        assertTrue(lines.get(0).endsWith(" leader=1 term=5 commit=1000"), lines.get(0));
        assertTrue(lines.get(1).contains(" role=LEADER ") && lines.get(1).contains(" lag_bytes=300 "), lines.get(1));
        assertTrue(lines.get(3).contains(" batches=5 batches/s=0 records=50 records/s=0 "), lines.get(3));
    }

    @Test
    void lagNeverGoesBelowZero()
    {
        final NodeStatus leader = up(0, Role.LEADER, 5, 1000, 1000, 0, 0, 11);
        assertEquals("0", StatMain.lagText(leader, up(1, Role.FOLLOWER, 5, 1200, 1200, 0, 0, 12)));
        assertEquals("250", StatMain.lagText(leader, up(1, Role.FOLLOWER, 5, 750, 1200, 0, 0, 12)));
        assertEquals("none", StatMain.lagText(leader, up(1, Role.FOLLOWER, 5, NodeStatus.NULL_VALUE, 0, 0, 0, 12)));
        assertEquals("no_leader", StatMain.lagText(null, leader));
    }

    @Test
    void serviceCounterLabelsBecomeKeys()
    {
        assertEquals("acks_sent", StatMain.counterKey("spate cluster: acks sent"));
        assertEquals("service_role", StatMain.counterKey("spate cluster: service role (0 follower 1 candidate 2 leader)"));
        assertEquals("egress_offer_retries", StatMain.counterKey("Egress offer retries"));
        assertEquals("counter", StatMain.counterKey("spate cluster: (?)"));
    }

    @Test
    void runClusterPrintsOneSampleOfRealNodeDirectories() throws Exception
    {
        directory = JvmProcess.temporaryDirectory("spate-stat-cluster-");
        final Path aeronDirectory = directory.resolve("aeron");
        // Closing the client frees its counters.
        final List<Counter> counters = new ArrayList<>();
        try (MediaDriver driver = MediaDriver.launch(new MediaDriver.Context()
            .aeronDirectoryName(aeronDirectory.toString())
            .threadingMode(ThreadingMode.SHARED)
            .sharedIdleStrategy(new SleepingMillisIdleStrategy(1))
            .dirDeleteOnStart(true)
            .dirDeleteOnShutdown(true));
            Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(aeronDirectory.toString())))
        {
            // Two nodes' consensus modules on one driver, told apart by their cluster ids: a leader and a
            // follower 2048 bytes behind. node-2 has not started.
            counters.add(clusterCounter(aeron, AeronCounters.CLUSTER_NODE_ROLE_TYPE_ID, 0, 2));
            counters.add(clusterCounter(aeron, AeronCounters.CLUSTER_LEADERSHIP_TERM_ID_TYPE_ID, 0, 1));
            counters.add(clusterCounter(aeron, AeronCounters.CLUSTER_COMMIT_POSITION_TYPE_ID, 0, 4096));
            counters.add(clusterCounter(aeron, AeronCounters.CLUSTER_NODE_ROLE_TYPE_ID, 1, 0));
            counters.add(clusterCounter(aeron, AeronCounters.CLUSTER_LEADERSHIP_TERM_ID_TYPE_ID, 1, 1));
            counters.add(clusterCounter(aeron, AeronCounters.CLUSTER_COMMIT_POSITION_TYPE_ID, 1, 2048));
            final Counter records = aeron.addCounter(NodeStatus.RECORDS_APPLIED_TYPE_ID, "spate cluster: records applied");
            records.set(42);
            counters.add(records);
            final Counter warnings = aeron.addCounter(ConsensusErrorHandler.LEADER_CHANGE_WARNINGS_TYPE_ID,
                "spate cluster node: leader change warnings");
            warnings.set(2);
            counters.add(warnings);
            writeProperties(directory.resolve("node-0"), 0, 0, aeronDirectory);
            writeProperties(directory.resolve("node-1"), 1, 1, aeronDirectory);
            Files.createDirectories(directory.resolve("node-2"));

            final int status = StatMain.runCluster(new StatMain.ClusterTarget(directory.toString(), List.of()), true,
                StatMain.MIN_INTERVAL_MS, out, err,
                (node) -> NodeStatus.read(node, HOUR_MS, System.currentTimeMillis()), System::nanoTime);

            assertEquals(0, status, errBytes.toString(StandardCharsets.UTF_8));
            final List<String> lines = outLines();
            assertEquals(4, lines.size(), lines.toString());
            assertTrue(lines.get(0).endsWith(" cluster=" + directory + " nodes=3 up=2 leader=0 term=1 commit=4096"),
                lines.get(0));
            final String pid = Long.toString(ProcessHandle.current().pid());
            assertTrue(lines.get(1).startsWith("  node 0: role=LEADER state=none election=none term=1 commit=4096 " +
                "append=none lag_bytes=0 batches=none batches/s=none records=42 records/s=0 errors=0 " +
                "leader_change_warnings=2 elections=0 " +
                "snapshots=0 pid=" + pid), lines.get(1));
            assertTrue(lines.get(2).startsWith("  node 1: role=FOLLOWER state=none election=none term=1 commit=2048 " +
                "append=none lag_bytes=2048 "), lines.get(2));
            assertTrue(lines.get(3).startsWith("  node 2: role=DOWN pid=none reason: no node.properties in "),
                lines.get(3));
            assertEquals(List.of(), errLines());
        }
    }

    private static Counter clusterCounter(final Aeron aeron, final int typeId, final int clusterId, final long value)
    {
        final UnsafeBuffer key = new UnsafeBuffer(new byte[Integer.BYTES]);
        key.putInt(0, clusterId);
        final byte[] label = ("cluster counter " + typeId + " - clusterId=" + clusterId).getBytes(StandardCharsets.US_ASCII);
        final Counter counter = aeron.addCounter(typeId, key, 0, key.capacity(), new UnsafeBuffer(label), 0, label.length);
        counter.set(value);
        return counter;
    }

    private static void writeProperties(final Path node, final int memberId, final int clusterId, final Path aeron)
        throws Exception
    {
        Files.createDirectories(node);
        final Properties properties = new Properties();
        properties.setProperty(NodeStatus.MEMBER_ID_PROPERTY, Integer.toString(memberId));
        properties.setProperty(NodeStatus.AERON_DIR_PROPERTY, aeron.toString());
        properties.setProperty(NodeStatus.CLUSTER_DIR_PROPERTY, node.resolve("cluster").toString());
        properties.setProperty(NodeStatus.PID_PROPERTY, Long.toString(ProcessHandle.current().pid()));
        properties.setProperty(NodeStatus.CLUSTER_ID_PROPERTY, Integer.toString(clusterId));
        try (OutputStream stream = Files.newOutputStream(node.resolve(NodeStatus.PROPERTIES_FILE)))
        {
            properties.store(stream, null);
        }
    }

    private static StatMain.ClusterSample sample(final long timeNs, final NodeStatus... nodes)
    {
        return new StatMain.ClusterSample(timeNs, TIME, List.of(nodes));
    }

    /**
     * @return node {@code memberId} of cluster /c, up, with pid 100 + memberId, in ACTIVE state outside an
     * election, with one error of each kind.
     */
    private static NodeStatus up(
        final int memberId,
        final Role role,
        final long term,
        final long commit,
        final long append,
        final long batches,
        final long records,
        final long driverStartMs,
        final ServiceCounter... extra)
    {
        final List<ServiceCounter> counters = new ArrayList<>();
        if (NodeStatus.NULL_VALUE != batches)
        {
            counters.add(new ServiceCounter(NodeStatus.BATCHES_APPLIED_TYPE_ID, "spate cluster: batches applied",
                batches));
        }
        if (NodeStatus.NULL_VALUE != records)
        {
            counters.add(new ServiceCounter(NodeStatus.RECORDS_APPLIED_TYPE_ID, "spate cluster: records applied",
                records));
        }
        counters.addAll(List.of(extra));
        return new NodeStatus(Path.of("/c/node-" + memberId), memberId, 100 + memberId, role, "", "ACTIVE", "CLOSED",
            term, commit, append, 1, 0, 1, 1, 1, 4, driverStartMs, counters);
    }
}
