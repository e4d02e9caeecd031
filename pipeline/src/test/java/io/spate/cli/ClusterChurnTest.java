package io.spate.cli;

import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.spate.client.SpateClient;
import io.spate.cluster.ClusterMembers;
import io.spate.cluster.NodeStatus;
import io.spate.codec.DatabaseSchema;
import io.spate.pipeline.ChurnWorkload;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A churning type on a three-member cluster, every member its own process: ten times maxNodes in creates
 * around a steady live count, with snapshots every second (each carries the members' free ids in order) and a
 * follower SIGKILLed and restarted in the middle (it loads a snapshot, replays the log and must hand out ids
 * as the others do). Never TYPE_FULL, every id new; at the end every member, stopped at the same log position,
 * holds the same store: slots, generations and values.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class ClusterChurnTest
{
    private static final int MEMBERS = 3;
    private static final int MAX_NODES = 1_000;
    private static final int LIVE_TARGET = 700;
    private static final Duration EVENT_TIMEOUT = Duration.ofSeconds(60);

    private ProcessScope scope;
    private DatabaseSchema schema;
    private Path schemaFile;
    private ClusterMembers members;
    private Path root;
    private final JvmProcess[] nodes = new JvmProcess[MEMBERS];
    private MediaDriver clientDriver;

    @BeforeEach
    void setUp() throws IOException
    {
        scope = new ProcessScope();
        root = scope.directory("spate-cluster-churn-");
        schemaFile = root.resolve("churn.json");
        Files.writeString(schemaFile, ChurnWorkload.schemaJson(MAX_NODES, 64 << 10));
        schema = ChurnWorkload.schema(MAX_NODES, 64 << 10);
        final int portBase = 24_000 + 1_000 * (int)((ProcessHandle.current().pid() + System.nanoTime()) % 8);
        members = new ClusterMembers(List.of("localhost", "localhost", "localhost"), portBase);
    }

    @AfterEach
    void tearDown()
    {
        if (null != clientDriver)
        {
            clientDriver.close();
        }
        scope.close();
        for (int i = 0; i < MEMBERS; i++)
        {
            JvmProcess.deleteRecursively(Path.of(driverDir(i)));
        }
    }

    @Test
    void membersChurningWithAFollowerRestartedHoldTheSameStore() throws Exception
    {
        for (int i = 0; i < MEMBERS; i++)
        {
            nodes[i] = startNode(i);
        }
        final int leader = awaitLeader();
        clientDriver = MediaDriver.launchEmbedded(new MediaDriver.Context()
            .aeronDirectoryName("/dev/shm/spate-test-churn-client-" + ProcessHandle.current().pid())
            .threadingMode(ThreadingMode.SHARED).sharedIdleStrategy(new BackoffIdleStrategy())
            .dirDeleteOnStart(true).dirDeleteOnShutdown(true));
        final ChurnWorkload churn = new ChurnWorkload(schema, LIVE_TARGET, 29);
        try (SpateClient client = SpateClient.connect(new SpateClient.Context()
            .aeronDirectoryName(clientDriver.aeronDirectoryName()).clusterIngressEndpoints(members.ingressEndpoints())
            .schema(schema).timeoutMs(30_000)))
        {
            while (churn.creates() < 4L * MAX_NODES)
            {
                churn.round(client, 100);
            }
            final int follower = leader == 0 ? 1 : 0;
            nodes[follower].kill();
            while (churn.creates() < 7L * MAX_NODES)
            {
                churn.round(client, 100);
            }
            nodes[follower] = startNode(follower); // loads a snapshot (free ids included), replays the rest
            while (churn.creates() < 10L * MAX_NODES)
            {
                churn.round(client, 100);
            }
            churn.verify(client, 100);
        }
        System.out.printf(Locale.ROOT, "cluster churn: creates=%d deletes=%d stale_writes=%d live=%d%n",
            churn.creates(), churn.deletes(), churn.staleWrites(), churn.liveCount());
        stopAllAndCompareStores();
    }

    private String driverDir(final int memberId)
    {
        return "/dev/shm/spate-test-churn-node-" + members.port(memberId, 0) + "-" + memberId;
    }

    private JvmProcess startNode(final int memberId) throws InterruptedException
    {
        final JvmProcess node = scope.start("node-" + memberId, "io.spate.cli.NodeMain",
            "--id", Integer.toString(memberId), "--schema", schemaFile.toString(),
            "--data", root.resolve("node-" + memberId).toString(),
            "--members", "localhost,localhost,localhost",
            "--port-base", Integer.toString(members.port(0, 0)),
            "--driver-dir", driverDir(memberId),
            "--heartbeat-timeout-ms", "2000",
            "--snapshot-ms", "1000");
        node.awaitLine(line -> line.startsWith("node: member " + memberId + " of"), EVENT_TIMEOUT);
        return node;
    }

    private NodeStatus status(final int memberId)
    {
        return NodeStatus.read(root.resolve("node-" + memberId), 2_000, System.currentTimeMillis());
    }

    private int awaitLeader() throws InterruptedException
    {
        final int[] leader = {-1};
        awaitCondition("a leader", () ->
        {
            for (int i = 0; i < MEMBERS; i++)
            {
                if (status(i).role() == NodeStatus.Role.LEADER)
                {
                    leader[0] = i;
                    return true;
                }
            }
            return false;
        });
        return leader[0];
    }

    private void awaitCondition(final String what, final BooleanSupplier condition) throws InterruptedException
    {
        ClusterTestSupport.awaitCondition(what, EVENT_TIMEOUT, condition, () -> "");
    }

    /** Waits until the members applied the same log, stops them (each writes its fingerprint) and compares. */
    private void stopAllAndCompareStores() throws Exception
    {
        final List<String> fingerprints = ClusterTestSupport.stopAllAndCompareStores(nodes, root, this::status,
            EVENT_TIMEOUT);
        System.out.println("cluster churn fingerprints:\n  " + String.join("\n  ", fingerprints));
    }
}
