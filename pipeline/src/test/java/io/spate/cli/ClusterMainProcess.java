package io.spate.cli;

import io.spate.cluster.ClusterMembers;
import io.spate.cluster.ClusterNode;
import io.spate.cluster.NodeStatus;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.function.BooleanSupplier;

/**
 * {@code bin/spate cluster} in a JVM of its own (ClusterMain, which starts each member in a JVM of its own), as
 * the cluster tests drive it: started on a port base of its own, read through its members' {@link NodeStatus},
 * and stopped with SIGTERM; {@link #close()} also kills members that outlived it (restarted outside it) and
 * removes the members' Aeron directories a SIGKILL leaves behind.
 */
final class ClusterMainProcess implements AutoCloseable
{
    static final Duration EVENT_TIMEOUT = Duration.ofSeconds(60);
    /** A follower starts an election after this much silence of the leader. */
    static final long HEARTBEAT_TIMEOUT_MS = 1_000;

    final int members;
    final Path root;
    final int portBase;
    final JvmProcess process;

    /**
     * Starts the cluster and waits until every member is up and has joined the leader's term.
     */
    ClusterMainProcess(final ProcessScope scope, final int members, final int portRangeBase)
        throws Exception
    {
        this.members = members;
        root = scope.directory("spate-cluster-main-");
        // 100 ports per member; a base of its own per run, within [portRangeBase, portRangeBase + 3000): each test
        // class a range of its own, below Linux's ephemeral ports (32768 on) and clear of the other cluster tests'.
        portBase = portRangeBase + 300 * (int)((ProcessHandle.current().pid() + System.nanoTime()) % 10);
        process = scope.start("cluster", "io.spate.cli.ClusterMain", "--schema", scope.schema, "--data",
            root.toString(), "--nodes", Integer.toString(members), "--port-base", Integer.toString(portBase),
            "--heartbeat-timeout-ms", Long.toString(HEARTBEAT_TIMEOUT_MS), "--snapshot-ms", "0");
        for (int i = 0; i < members; i++)
        {
            final String up = "[node-" + i + "] node: member " + i + " of " + members + " up";
            process.awaitLine((line) -> line.startsWith(up), EVENT_TIMEOUT);
        }
        final int leader = awaitLeader(-1);
        awaitCondition("every member in the leader's term, its election closed", () ->
        {
            final long term = status(leader).leadershipTermId();
            for (int i = 0; i < members; i++)
            {
                final NodeStatus status = status(i);
                if (!status.role().isUp() || status.leadershipTermId() != term || !"CLOSED".equals(status.electionState()))
                {
                    return false;
                }
            }
            return true;
        });
    }

    /**
     * @return the members' ingress endpoints, as produce --cluster takes them.
     */
    String endpoints()
    {
        return new ClusterMembers(Collections.nCopies(members, "localhost"), portBase).ingressEndpoints();
    }

    Path memberDirectory(final int memberId)
    {
        return root.resolve("node-" + memberId);
    }

    NodeStatus status(final int memberId)
    {
        return NodeStatus.read(memberDirectory(memberId), CliSupport.DRIVER_HEARTBEAT_TIMEOUT_MS,
            System.currentTimeMillis());
    }

    /**
     * @return the member that leads, once exactly one up member does and it is not {@code notMember}.
     */
    int awaitLeader(final int notMember) throws InterruptedException
    {
        final int[] leader = {-1};
        awaitCondition("a leader other than " + notMember, () ->
        {
            int found = -1;
            for (int i = 0; i < members; i++)
            {
                if (i != notMember && status(i).role() == NodeStatus.Role.LEADER)
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

    void awaitCondition(final String what, final BooleanSupplier condition) throws InterruptedException
    {
        ClusterTestSupport.awaitCondition(what, EVENT_TIMEOUT, condition, () ->
        {
            final StringBuilder statuses = new StringBuilder("; members:");
            for (int i = 0; i < members; i++)
            {
                statuses.append("\n  ").append(status(i));
            }
            return statuses.toString();
        });
    }

    /**
     * SIGTERM to the cluster: it stops every member, and exits 0.
     */
    int stop() throws InterruptedException
    {
        process.terminate();
        return process.awaitExit(EVENT_TIMEOUT);
    }

    public void close()
    {
        process.close();
        for (int i = 0; i < members; i++)
        {
            final NodeStatus status = status(i);
            if (status.pid() > 0)
            {
                // Only a member of this cluster: its command line names NodeMain and this cluster's directory.
                ProcessHandle.of(status.pid())
                    .filter((member) -> member.info().commandLine()
                        .map((line) -> line.contains(NodeMain.class.getName()) && line.contains(root.toString()))
                        .orElse(false))
                    .ifPresent(ProcessHandle::destroyForcibly);
            }
            JvmProcess.deleteRecursively(Path.of(ClusterNode.Settings.defaultAeronDir(i,
                new ClusterMembers(Collections.nCopies(members, "localhost"), portBase))));
        }
    }
}
