package io.spate.cli;

import io.spate.cluster.NodeStatus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bin/spate cluster} with three members, each its own JVM: the leader SIGKILLed. The cluster prints the
 * exact commands that start it again; the members left elect a new leader and report the change as warnings, not
 * errors; {@code bin/spate cluster --restart} starts the dead member again in the background and waits until it
 * is back; the running cluster notices it and stops it with the others.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ClusterRestartTest
{
    private static final Pattern RESTARTED = Pattern.compile(
        "cluster: member (\\d) \\(pid (\\d+)\\) is not running; restarted it in the background: pid (\\d+), " +
        "output in (.+)");

    private ProcessScope scope;
    private ClusterMainProcess cluster;

    @BeforeEach
    void setUp() throws Exception
    {
        scope = new ProcessScope();
        cluster = new ClusterMainProcess(scope, 3, 11_000);
    }

    @AfterEach
    void tearDown()
    {
        if (null != cluster)
        {
            cluster.close();
        }
        scope.close();
    }

    @Test
    void aKilledLeaderIsAWarningAndComesBackWithRestart() throws Exception
    {
        final int leader = cluster.awaitLeader(-1);
        final long leaderPid = cluster.status(leader).pid();
        assertTrue(ProcessHandle.of(leaderPid).orElseThrow().destroyForcibly(), "SIGKILL to the leader");

        // 1. The cluster says how to start it again: the very arguments it was started with.
        final String advice = cluster.process.awaitLineStartingWith(
            "cluster: member " + leader + " exited with status 137; ", ClusterMainProcess.EVENT_TIMEOUT);
        final String memberDirectory = cluster.memberDirectory(leader).toString();
        assertEquals("cluster: member " + leader + " exited with status 137; restart it in the background with: " +
            "bin/spate cluster --restart --data " + cluster.root + " (or in a terminal: bin/spate node --id " + leader +
            " --schema " + scope.schema + " --data " + memberDirectory + " --members localhost,localhost,localhost " +
            "--port-base " + cluster.portBase + " --snapshot-ms 0 --heartbeat-timeout-ms " +
            ClusterMainProcess.HEARTBEAT_TIMEOUT_MS + ")", advice);

        // 2. A new leader; on the members left the leader change is a warning, not an error.
        final int newLeader = cluster.awaitLeader(leader);
        for (int i = 0; i < cluster.members; i++)
        {
            if (i != leader)
            {
                final int member = i;
                cluster.awaitCondition("member " + member + " counting the leader change as a warning",
                    () -> cluster.status(member).leaderChangeWarnings() >= 1);
                final NodeStatus status = cluster.status(member);
                assertEquals(0, status.errors(), "no error on member " + member + ": " + status);
                cluster.process.awaitLineStartingWith("[node-" + member + "] node " + member +
                    ": warning: leader change: ", ClusterMainProcess.EVENT_TIMEOUT);
            }
        }
        assertFalse(cluster.process.output().contains("consensus error"), cluster.process.output());

        // 3. --restart starts it again in the background, and waits until it is back.
        final JvmProcess restart = scope.start("restart", "io.spate.cli.ClusterMain", "--restart", "--data",
            cluster.root.toString());
        assertEquals(0, restart.awaitExit(Duration.ofSeconds(90)), restart.output());
        final List<String> lines = restart.lines();
        final Matcher restarted = RESTARTED.matcher(lines.get(leader));
        assertTrue(restarted.matches(), lines.toString());
        assertEquals(Integer.toString(leader), restarted.group(1));
        assertEquals(Long.toString(leaderPid), restarted.group(2));
        assertEquals(cluster.memberDirectory(leader).resolve(LocalCluster.LOG_FILE).toString(), restarted.group(4));
        final long restartedPid = Long.parseLong(restarted.group(3));
        for (int i = 0; i < cluster.members; i++)
        {
            if (i != leader)
            {
                assertEquals("cluster: member " + i + " runs (pid " + cluster.status(i).pid() + ")", lines.get(i));
            }
        }
        assertTrue(lines.get(lines.size() - 1).startsWith("cluster: member " + leader + " is back: "), lines.toString());
        assertTrue(ProcessHandle.of(restartedPid).isPresent(), "the member outlives the command that restarted it");

        // 4. Back as a member of the cluster, under the new leader.
        cluster.awaitCondition("member " + leader + " back as a follower", () ->
        {
            final NodeStatus status = cluster.status(leader);
            return status.pid() == restartedPid && status.role() == NodeStatus.Role.FOLLOWER &&
                status.leadershipTermId() == cluster.status(newLeader).leadershipTermId();
        });
        cluster.process.awaitLineStartingWith("cluster: member " + leader + " is back (pid " + restartedPid +
            ", started outside this process; ", ClusterMainProcess.EVENT_TIMEOUT);

        // 5. Nothing more to restart; stopping the cluster stops the restarted member too.
        final JvmProcess again = scope.start("restart-again", "io.spate.cli.ClusterMain", "--restart", "--data",
            cluster.root.toString());
        assertEquals(0, again.awaitExit(Duration.ofSeconds(60)), again.output());
        assertEquals("cluster: every member of " + cluster.root + " runs; nothing to restart",
            again.lines().get(again.lines().size() - 1));
        assertEquals(0, cluster.stop(), cluster.process.output());
        assertTrue(cluster.process.lines().contains("cluster: stopped"), cluster.process.output());
        assertFalse(ProcessHandle.of(restartedPid).map(ProcessHandle::isAlive).orElse(false),
            "the restarted member stopped with the cluster");
    }
}
