package io.spate.cli;

import java.io.File;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What {@code bin/spate cluster} watches while its members run: the exit of each member it started (one line,
 * with the commands that start it again unless the cluster is stopping), and members started again outside it
 * ({@code bin/spate cluster --restart}, or by hand): found by the process id in their {@code node.properties},
 * reported when they appear and when they exit, and handed over to be stopped with the others.
 */
final class MemberWatch
{
    private final LocalCluster cluster;
    private final List<Process> children;
    private final PrintStream out;
    /** Members running outside this process, by member id: the process last seen. */
    private final Map<Integer, ProcessHandle> outside = new ConcurrentHashMap<>();
    private volatile boolean stopped;
    private Thread thread;

    /**
     * @param cluster  the cluster's members.
     * @param children the member processes this process started, by member id.
     * @param out      where the lines go.
     */
    MemberWatch(final LocalCluster cluster, final List<Process> children, final PrintStream out)
    {
        if (children.size() != cluster.nodes())
        {
            throw new IllegalArgumentException("one process per member: " + children.size() + " for " + cluster.nodes());
        }
        this.cluster = cluster;
        this.children = List.copyOf(children);
        this.out = out;
    }

    void start()
    {
        for (int i = 0; i < children.size(); i++)
        {
            final int member = i;
            children.get(i).onExit().thenAccept((process) -> out.println("cluster: member " + member +
                " exited with status " + process.exitValue() + (stopped ? "" : "; " +
                ClusterMain.restartAdvice(cluster, member))));
        }
        thread = Thread.ofPlatform().daemon().name("cluster-member-watch").start(this::watchOutside);
    }

    /**
     * Stops watching: exits from now on are part of the cluster's stop.
     */
    void stop()
    {
        stopped = true;
        if (null != thread)
        {
            thread.interrupt();
        }
    }

    /**
     * @return the members running outside this process now, to stop with the others.
     */
    List<ProcessHandle> restartedMembers()
    {
        final List<ProcessHandle> running = new ArrayList<>();
        for (final ProcessHandle process : outside.values())
        {
            if (process.isAlive())
            {
                running.add(process);
            }
        }
        return running;
    }

    private void watchOutside()
    {
        while (!stopped)
        {
            for (int i = 0; i < children.size(); i++)
            {
                final long pid = cluster.recordedPid(i);
                final ProcessHandle known = outside.get(i);
                if (pid == children.get(i).pid() || (null != known && known.pid() == pid) || !LocalCluster.isAlive(pid))
                {
                    continue;
                }
                final ProcessHandle process = ProcessHandle.of(pid).orElse(null);
                if (null == process)
                {
                    continue;
                }
                final int member = i;
                outside.put(member, process);
                out.println("cluster: member " + member + " is back (pid " + pid + ", started outside this process; " +
                    "its output in " + new File(cluster.memberDirectory(member), LocalCluster.LOG_FILE) + ")");
                process.onExit().thenAccept((gone) ->
                {
                    if (!stopped) // else it is stopped with the others
                    {
                        out.println("cluster: member " + member + " (pid " + pid + ") exited; " +
                            ClusterMain.restartAdvice(cluster, member));
                    }
                });
            }
            try
            {
                Thread.sleep(ClusterMain.WATCH_INTERVAL_MS);
            }
            catch (final InterruptedException ex)
            {
                return; // stopped
            }
        }
    }
}
