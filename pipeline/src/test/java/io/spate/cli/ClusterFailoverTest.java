package io.spate.cli;

import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.spate.client.NodeView;
import io.spate.client.SpateClient;
import io.spate.cluster.ClusterMembers;
import io.spate.cluster.NodeStatus;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Replicated Spate under the faults a cluster is for, every member and producer its own process on this
 * machine: the leader SIGKILLed under full-speed load, a follower killed for a while, all three killed at
 * once. After each: every acked record reads back through the cluster with its id and values, every type
 * holds exactly as many nodes as were acked (none lost, none applied twice), and every member, stopped at
 * the same log position, prints the same per-type counts and checksums.
 * <p>
 * No assertion depends on speed: each wait is for an event (a new leader, acks moving on, members
 * agreeing) within a generous bound.
 */
@Timeout(value = 6, unit = TimeUnit.MINUTES)
class ClusterFailoverTest
{
    private static final int MEMBERS = 3;
    private static final int BATCH_SIZE = 200;
    private static final long HEARTBEAT_TIMEOUT_MS = 1_000;
    private static final int SAMPLE_READS = 400;
    private static final Duration EVENT_TIMEOUT = Duration.ofSeconds(60);

    private ProcessScope scope;
    private DatabaseSchema schema;
    private ClusterMembers members;
    private Path root;
    private final JvmProcess[] nodes = new JvmProcess[MEMBERS];
    private final List<Path> journals = new ArrayList<>();
    private final List<JvmProcess> producers = new ArrayList<>();
    private String testName;
    /** The members' --sync. */
    private String sync = "none";
    private long testStartNs;

    @BeforeEach
    void setUp(final TestInfo info) throws IOException
    {
        testName = info.getDisplayName();
        testStartNs = System.nanoTime();
        scope = new ProcessScope();
        schema = SchemaCompiler.compile(Path.of(scope.schema));
        root = scope.directory("spate-cluster-");
        // A port base of its own (100 ports per member), clear of the default 20000 and below the ephemeral range.
        final int portBase = 21_000 + 1_000 * (int)((ProcessHandle.current().pid() + System.nanoTime()) % 10);
        members = new ClusterMembers(List.of("localhost", "localhost", "localhost"), portBase);
    }

    @AfterEach
    void tearDown()
    {
        scope.close();
        for (int i = 0; i < MEMBERS; i++)
        {
            JvmProcess.deleteRecursively(Path.of(driverDir(i)));
        }
        for (final JvmProcess producer : producers)
        {
            // A producer that gave up (or was killed) leaves its embedded driver's directory.
            JvmProcess.deleteRecursively(Path.of(ClusterProducer.driverDir(producer.process().pid())));
        }
    }

    @Test
    void leaderKilledUnderLoadThenAFollowerKilledForAWhile() throws Exception
    {
        startAll();
        final int firstLeader = awaitLeader(-1);
        final JvmProcess producer = startProducer(1);
        awaitAcked(producer, 20_000);

        // 1. The leader goes, under load: a new one is elected and the producer carries on.
        final long ackedBefore = acked(producer);
        final long killNs = System.nanoTime();
        nodes[firstLeader].kill();
        progress("SIGKILL leader " + firstLeader + " at acked=" + ackedBefore);
        final int secondLeader = awaitLeader(firstLeader);
        final long electedNs = System.nanoTime();
        awaitAcked(producer, ackedBefore + 20_000);
        progress(String.format(Locale.ROOT, "new leader %d after %.2f s, acks moving again after %.2f s",
            secondLeader, (electedNs - killNs) / 1e9, (System.nanoTime() - killNs) / 1e9));
        assertTrue(lastReport(producer).contains("leader_changes=") && !lastReport(producer).contains("leader_changes=0"),
            "the producer saw the leader change: " + lastReport(producer));

        // 2. The killed member comes back and catches up from snapshot and log.
        nodes[firstLeader] = startNode(firstLeader);
        awaitAcked(producer, acked(producer) + 20_000);

        // 3. A follower killed for a while: two members carry on, then it rejoins.
        final int follower = followerOtherThan(secondLeader);
        nodes[follower].kill();
        progress("SIGKILL follower " + follower);
        awaitAcked(producer, acked(producer) + 40_000);
        nodes[follower] = startNode(follower);
        awaitAcked(producer, acked(producer) + 20_000);

        stopProducer(producer);
        verifyThroughCluster(true);
        stopAllAndCompareStores();
    }

    @Test
    void allThreeKilledThenRestartedLoseNothingAcked() throws Exception
    {
        sync = "data"; // fsync before an entry counts as appended: the promise under test when all go at once
        startAll();
        awaitLeader(-1);
        final JvmProcess producer = startProducer(2);
        awaitAcked(producer, 30_000);
        progress("SIGKILL all three at acked=" + acked(producer));
        for (int i = 0; i < MEMBERS; i++)
        {
            nodes[i].kill();
        }
        // The producer gives up after its timeout; its journal is complete when it says so.
        producer.awaitLine(line -> line.startsWith("producer: stopped"), EVENT_TIMEOUT);
        producer.awaitExit(EVENT_TIMEOUT);
        for (int i = 0; i < MEMBERS; i++)
        {
            nodes[i] = startNode(i);
        }
        awaitLeader(-1);
        // Batches sent but not acked when the members died may or may not be in the log: at least the acked.
        verifyThroughCluster(false);
        stopAllAndCompareStores();
    }

    // ------------------------------------------------------------------------------------------

    private String driverDir(final int memberId)
    {
        return "/dev/shm/spate-test-node-" + members.port(memberId, 0) + "-" + memberId;
    }

    private void startAll()
    {
        for (int i = 0; i < MEMBERS; i++)
        {
            nodes[i] = startNode(i);
        }
    }

    private JvmProcess startNode(final int memberId)
    {
        final JvmProcess node = scope.start("node-" + memberId, "io.spate.cli.NodeMain",
            "--id", Integer.toString(memberId), "--schema", scope.schema,
            "--data", root.resolve("node-" + memberId).toString(),
            "--members", "localhost,localhost,localhost",
            "--port-base", Integer.toString(members.port(0, 0)),
            "--driver-dir", driverDir(memberId),
            "--heartbeat-timeout-ms", Long.toString(HEARTBEAT_TIMEOUT_MS),
            "--snapshot-ms", "3000",
            "--sync", sync);
        try
        {
            node.awaitLine(line -> line.startsWith("node: member " + memberId + " of"), EVENT_TIMEOUT);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new AssertionError(ex);
        }
        return node;
    }

    private NodeStatus status(final int memberId)
    {
        return NodeStatus.read(root.resolve("node-" + memberId), HEARTBEAT_TIMEOUT_MS, System.currentTimeMillis());
    }

    /**
     * @return the member that leads, once exactly one does and it is not {@code notMember}.
     */
    private int awaitLeader(final int notMember) throws InterruptedException
    {
        final int[] leader = {-1};
        awaitCondition("a leader other than " + notMember, () ->
        {
            int found = -1;
            for (int i = 0; i < MEMBERS; i++)
            {
                if (i != notMember && nodes[i].process().isAlive() && status(i).role() == NodeStatus.Role.LEADER)
                {
                    if (found != -1)
                    {
                        return false;
                    }
                    found = i;
                }
            }
            leader[0] = found;
            return found != -1;
        });
        return leader[0];
    }

    private int followerOtherThan(final int leader)
    {
        for (int i = 0; i < MEMBERS; i++)
        {
            if (i != leader)
            {
                return i;
            }
        }
        throw new AssertionError("no follower");
    }

    private JvmProcess startProducer(final int producerId) throws IOException, InterruptedException
    {
        final Path journal = root.resolve("producer-" + producerId + ".journal");
        journals.add(journal);
        final JvmProcess producer = scope.start("producer-" + producerId, "io.spate.cli.ClusterProducer",
            members.ingressEndpoints(), scope.schema, Integer.toString(producerId), journal.toString(),
            root.resolve("stop-" + producerId).toString(), Integer.toString(BATCH_SIZE), "20000");
        producers.add(producer);
        producer.awaitLine(line -> line.startsWith("producer: connected"), EVENT_TIMEOUT);
        return producer;
    }

    private void stopProducer(final JvmProcess producer) throws Exception
    {
        final Path stop = root.resolve("stop-" + producer.name().substring("producer-".length()));
        Files.createFile(stop);
        producer.awaitLine(line -> line.startsWith("producer: done"), EVENT_TIMEOUT);
        assertEquals(0, producer.awaitExit(EVENT_TIMEOUT), producer.output());
        progress("producer stopped: " + lastReport(producer));
    }

    private static String lastReport(final JvmProcess producer)
    {
        final List<String> lines = producer.lines();
        for (int i = lines.size() - 1; i >= 0; i--)
        {
            if (lines.get(i).startsWith("producer:") && lines.get(i).contains("acked="))
            {
                return lines.get(i);
            }
        }
        return "";
    }

    private static long acked(final JvmProcess producer)
    {
        final String report = lastReport(producer);
        return report.isEmpty() ? 0 : JvmProcess.longValue(JvmProcess.pairs(report, null), "acked");
    }

    private void awaitAcked(final JvmProcess producer, final long records) throws InterruptedException
    {
        awaitCondition(producer.name() + " acked " + records + " records", () ->
        {
            if (!producer.process().isAlive())
            {
                throw new AssertionError(producer.name() + " exited:\n" + producer.output());
            }
            return acked(producer) >= records;
        });
    }

    private void awaitCondition(final String what, final BooleanSupplier condition) throws InterruptedException
    {
        ClusterTestSupport.awaitCondition(what, EVENT_TIMEOUT, condition, () ->
        {
            final StringBuilder statuses = new StringBuilder("; members:");
            for (int i = 0; i < MEMBERS; i++)
            {
                statuses.append("\n  ").append(status(i));
            }
            return statuses.toString();
        });
    }

    /** One acked create: which producer record it was and the id it got. */
    private record AckedRecord(long producer, long record, long nodeId)
    {
    }

    private List<AckedRecord> readJournals() throws IOException
    {
        final List<AckedRecord> acked = new ArrayList<>();
        for (int p = 0; p < journals.size(); p++)
        {
            final long producer = Long.parseLong(journals.get(p).getFileName().toString().replaceAll("\\D", ""));
            try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(journals.get(p)))))
            {
                while (true)
                {
                    final int kind;
                    try
                    {
                        kind = in.readByte();
                    }
                    catch (final EOFException end)
                    {
                        break;
                    }
                    assertEquals('A', kind, "journal entry kind");
                    in.readLong(); // correlation id
                    in.readByte(); // status (a refusal stops the producer)
                    final long firstRecord = in.readLong();
                    final int created = in.readInt();
                    for (int i = 0; i < created; i++)
                    {
                        final int recordIndex = in.readInt();
                        acked.add(new AckedRecord(producer, firstRecord + recordIndex, in.readLong()));
                    }
                }
            }
        }
        return acked;
    }

    /**
     * Every acked record, by a sample of reads through the cluster (reads go through the log: they see
     * every write before them), and the count of every type against the acks: a record applied twice or
     * lost would show there.
     */
    private void verifyThroughCluster(final boolean everyBatchAcked) throws Exception
    {
        final List<AckedRecord> acked = readJournals();
        assertTrue(acked.size() > 0, "records were acked");
        final TypeDefinition follow = schema.type(DurabilityProducer.FOLLOW);
        final TypeDefinition user = schema.type(DurabilityProducer.USER);
        final Map<String, Set<Long>> idsByType = new HashMap<>();
        for (final AckedRecord record : acked)
        {
            final String type = DurabilityProducer.isFollow(record.record()) ? DurabilityProducer.FOLLOW : DurabilityProducer.USER;
            assertTrue(idsByType.computeIfAbsent(type, t -> new HashSet<>()).add(record.nodeId()),
                "id " + record.nodeId() + " of " + type + " acked twice");
        }
        final String driverDir = "/dev/shm/spate-test-verifier-" + ProcessHandle.current().pid();
        try (MediaDriver driver = MediaDriver.launchEmbedded(new MediaDriver.Context().aeronDirectoryName(driverDir)
            .threadingMode(ThreadingMode.SHARED).sharedIdleStrategy(new BackoffIdleStrategy())
            .dirDeleteOnStart(true).dirDeleteOnShutdown(true));
            SpateClient client = SpateClient.connect(new SpateClient.Context().aeronDirectoryName(driver.aeronDirectoryName())
                .clusterIngressEndpoints(members.ingressEndpoints()).schema(schema).timeoutMs(30_000)))
        {
            final long follows = client.count(follow);
            final long users = client.count(user);
            progress("through the cluster: Follow=" + follows + " User=" + users + ", acked " + acked.size());
            if (everyBatchAcked)
            {
                assertEquals(idsByType.getOrDefault(DurabilityProducer.FOLLOW, Set.of()).size(), follows,
                    "Follow nodes: exactly the acked creates (none lost, none applied twice)");
                assertEquals(idsByType.getOrDefault(DurabilityProducer.USER, Set.of()).size(), users,
                    "User nodes: exactly the acked creates (none lost, none applied twice)");
            }
            else
            {
                // Batches sent but never acked may be in the log: at least every acked record.
                assertTrue(follows >= idsByType.getOrDefault(DurabilityProducer.FOLLOW, Set.of()).size(), "no acked Follow lost");
                assertTrue(users >= idsByType.getOrDefault(DurabilityProducer.USER, Set.of()).size(), "no acked User lost");
            }
            final Random random = new Random(acked.size());
            for (int i = 0; i < SAMPLE_READS; i++)
            {
                // The newest acked first (the ones a failover could lose), then any.
                final AckedRecord record = i < SAMPLE_READS / 2 ? acked.get(Math.max(0, acked.size() - 1 - i)) :
                    acked.get(random.nextInt(acked.size()));
                final boolean isFollow = DurabilityProducer.isFollow(record.record());
                final NodeView node = client.get(isFollow ? follow : user, record.nodeId());
                assertNotNull(node, "acked record " + record + " reads back: " + client.lastReadStatus());
                if (isFollow)
                {
                    assertEquals(record.producer(), node.getLong(follow.field("followerId")), record.toString());
                    assertEquals(record.record(), node.getLong(follow.field("followeeId")), record.toString());
                    assertEquals(DurabilityProducer.weight(record.record()), node.getLong(follow.field("weight")));
                }
                else
                {
                    assertEquals(record.record(), node.getLong(user.field("karma")), record.toString());
                    assertEquals(DurabilityProducer.userName(record.producer(), record.record()),
                        node.getString(user.field("name")), record.toString());
                }
            }
        }
        finally
        {
            JvmProcess.deleteRecursively(Path.of(driverDir));
        }
    }

    private void stopAllAndCompareStores() throws Exception
    {
        final List<String> fingerprints = ClusterTestSupport.stopAllAndCompareStores(nodes, root, this::status,
            EVENT_TIMEOUT);
        progress("fingerprints:\n  " + String.join("\n  ", fingerprints));
    }

    private void progress(final String message)
    {
        System.out.printf(Locale.ROOT, "[ClusterFailoverTest %s +%.1fs] %s%n", testName,
            (System.nanoTime() - testStartNs) / 1e9, message);
        System.out.flush();
    }
}
