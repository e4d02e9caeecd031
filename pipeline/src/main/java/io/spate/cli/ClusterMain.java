package io.spate.cli;

import io.aeron.cluster.ElectionState;
import io.spate.cli.CliSupport.CliException;
import io.spate.cli.CliSupport.Options;
import io.spate.cli.CliSupport.UsageException;
import io.spate.cluster.ClusterMembers;
import io.spate.cluster.NodeStatus;
import io.spate.driver.DriverMain;
import io.spate.driver.IdleStrategies;
import org.agrona.concurrent.ShutdownSignalBarrier;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * {@code bin/spate cluster}: starts a whole cluster on this machine for trying it out: N members
 * ({@code bin/spate node}), each its own JVM with its own ports and directory ROOT/node-i, their output
 * prefixed with the member. SIGTERM / Ctrl-C stops them all. A member that dies (kill -9 one to watch a
 * failover) is reported with the command that starts it again, and the others carry on.
 * <p>
 * The members' settings are kept in ROOT/{@value LocalCluster#FILE}: {@code bin/spate cluster --restart --data ROOT}
 * starts every member that is not running again, in the background as the first start did (its output in
 * ROOT/node-i/{@value LocalCluster#LOG_FILE}), and waits until each is back. The {@code bin/spate cluster} that
 * started the cluster notices a member restarted that way, reports its exit too, and stops it with the others.
 */
public final class ClusterMain
{
    static final String COMMAND = "cluster";
    /** How long {@code --restart} waits for a restarted member's consensus module, unless --timeout-ms says. */
    static final long DEFAULT_RESTART_TIMEOUT_MS = 60_000;
    /** How often the running cluster looks for members restarted outside it. */
    static final long WATCH_INTERVAL_MS = 500;
    static final String USAGE = String.join(System.lineSeparator(),
        "Usage: bin/spate cluster --schema FILE --data ROOT [options]",
        "       bin/spate cluster --restart --data ROOT [--timeout-ms N]",
        "Starts a replicated Spate cluster on this machine: N members (bin/spate node), each in its own JVM,",
        "member i in ROOT/node-i on ports PORT_BASE + 100*i + 1..5. Ctrl-C or SIGTERM stops them all. The",
        "members' settings are kept in ROOT/" + LocalCluster.FILE + ". When a member dies it prints",
        "'cluster: member I exited with status S; restart it ...' with the exact commands that start it again.",
        "  --schema FILE        database schema (JSON), required",
        "  --data ROOT          the members' directories go in ROOT, required",
        "  --nodes N            members, 1.." + ClusterMembers.MAX_MEMBERS + " (default 3)",
        "  --port-base N        (default " + ClusterMembers.DEFAULT_PORT_BASE + ")",
        "  --sync none|data     passed to every member (default none)",
        "  --snapshot-ms N      passed to every member",
        "  --heartbeat-timeout-ms N  passed to every member",
        "  --idle NAME          passed to every member",
        "  --restart            instead of starting a cluster: start every member of the cluster in ROOT that is",
        "                       not running again, in the background, with the settings it was first started",
        "                       with (ROOT/" + LocalCluster.FILE + "); its output goes to ROOT/node-I/" +
            LocalCluster.LOG_FILE + ". Prints",
        "                       'cluster: member I ... restarted ...' per member, then 'cluster: member I is back:",
        "                       ROLE ...' once it has joined the cluster (its election closed). The running",
        "                       bin/spate cluster reports and stops a member restarted this way like the others",
        "  --timeout-ms N       with --restart: how long to wait for each member, 1.." + CliSupport.MAX_TIMEOUT_MS +
            " (default " + DEFAULT_RESTART_TIMEOUT_MS + ")",
        "  --help               print this help and exit",
        "Restart one member by hand, in a terminal: bin/spate node --id I --schema FILE --data ROOT/node-I",
        "--members localhost,... --port-base P (as the exit line prints it).",
        CliSupport.exitStatusHelp(COMMAND, "a member could not start (--restart: or was not back in time)"));

    private static final Set<String> VALUE_OPTIONS = Set.of("--schema", "--data", "--nodes", "--port-base", "--sync",
        "--snapshot-ms", "--heartbeat-timeout-ms", "--idle", "--timeout-ms");
    private static final String RESTART = "--restart";

    private ClusterMain()
    {
    }

    public static void main(final String[] args)
    {
        CliSupport.exit(run(args, System.out, System.err));
    }

    static int run(final String[] args, final PrintStream out, final PrintStream err)
    {
        if (CliSupport.wantsHelp(args))
        {
            out.println(USAGE);
            return CliSupport.EXIT_OK;
        }
        final Options options;
        final LocalCluster cluster;
        try
        {
            options = CliSupport.optionsWithoutPositionals(args, VALUE_OPTIONS, Set.of(RESTART));
            if (options.has(RESTART))
            {
                return restart(options, out, err);
            }
            if (options.has("--timeout-ms"))
            {
                throw new UsageException("--timeout-ms is for --restart");
            }
            final String schema = options.require("--schema", "the database schema file (JSON)");
            final File root = new File(options.require("--data", "the directory for the members' data"))
                .getAbsoluteFile();
            final int nodes = options.getInt("--nodes", 3, 1, ClusterMembers.MAX_MEMBERS);
            final int portBase = options.getInt("--port-base", ClusterMembers.DEFAULT_PORT_BASE, 1024, 65_000);
            // Checked here as each member checks them: a bad value must not start members that each fail.
            CliSupport.syncLevel(options, "--sync", "none");
            options.getLong("--snapshot-ms", 0, 0, 365L * 24 * 3_600_000);
            options.getLong("--heartbeat-timeout-ms", 0, 100, CliSupport.MAX_TIMEOUT_MS);
            IdleStrategies.validate(options.get("--idle", IdleStrategies.DEFAULT));
            final Map<String, String> passed = new LinkedHashMap<>();
            for (final String option : LocalCluster.PASSED_OPTIONS)
            {
                if (options.has(option))
                {
                    passed.put(option, options.get(option, null));
                }
            }
            try
            {
                new ClusterMembers(Collections.nCopies(nodes, "localhost"), portBase);
            }
            catch (final IllegalArgumentException ex)
            {
                throw new UsageException("--port-base: " + ex.getMessage(), false);
            }
            cluster = new LocalCluster(root, new File(schema).getAbsolutePath(), nodes, portBase, passed);
        }
        catch (final UsageException ex)
        {
            return CliSupport.usageError(err, COMMAND, ex);
        }
        catch (final IllegalArgumentException ex)
        {
            return CliSupport.usageError(err, COMMAND, new UsageException(CliSupport.oneLine(ex), false));
        }
        return runCluster(cluster, out, err);
    }

    private static int runCluster(final LocalCluster cluster, final PrintStream out, final PrintStream err)
    {
        final File root = cluster.root();
        final int nodes = cluster.nodes();
        final ClusterMembers members = new ClusterMembers(Collections.nCopies(nodes, "localhost"), cluster.portBase());
        try
        {
            cluster.write();
        }
        catch (final IOException | RuntimeException ex)
        {
            return CliSupport.failure(err, COMMAND, "cannot write " + new File(root, LocalCluster.FILE) + ": " +
                CliSupport.oneLine(ex));
        }
        final List<Process> processes = new ArrayList<>();
        final ShutdownSignalBarrier barrier = new ShutdownSignalBarrier();
        try
        {
            for (int i = 0; i < nodes; i++)
            {
                final List<String> command = new ArrayList<>(javaCommand());
                command.add(NodeMain.class.getName());
                command.addAll(cluster.memberArguments(i));
                final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
                processes.add(process);
                forward("node-" + i, process, out);
            }
        }
        catch (final IOException ex)
        {
            processes.forEach(Process::destroy);
            return CliSupport.failure(err, COMMAND, "could not start a member: " + CliSupport.oneLine(ex));
        }
        out.println("cluster: " + nodes + " members starting in " + root + "; producers: bin/spate produce --cluster " +
            members.ingressEndpoints() + " --schema " + cluster.schema() + " ...; watch: bin/spate stat --cluster " +
            root);
        out.flush();
        final MemberWatch watch = new MemberWatch(cluster, processes, out);
        watch.start();
        barrier.await();
        watch.stop();
        processes.forEach(Process::destroy); // SIGTERM: each member closes in order
        final List<ProcessHandle> stopping = new ArrayList<>();
        for (final Process process : processes)
        {
            stopping.add(process.toHandle());
        }
        for (final ProcessHandle restarted : watch.restartedMembers())
        {
            restarted.destroy(); // a member --restart started: SIGTERM too
            stopping.add(restarted);
        }
        for (final ProcessHandle process : stopping)
        {
            try
            {
                process.onExit().get(30, TimeUnit.SECONDS);
            }
            catch (final java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException ex)
            {
                process.destroyForcibly();
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                process.destroyForcibly();
            }
        }
        out.println("cluster: stopped");
        out.flush();
        if (DriverMain.isJvmShuttingDown())
        {
            Runtime.getRuntime().halt(CliSupport.EXIT_OK); // before the barrier's hook is released (see NodeMain)
        }
        barrier.close();
        return CliSupport.EXIT_OK;
    }

    /**
     * {@code cluster --restart --data ROOT}: starts every member that is not running again, in the background,
     * and waits until each one has joined the cluster (its consensus module runs, its election closed).
     */
    private static int restart(final Options options, final PrintStream out, final PrintStream err)
    {
        for (final String option : VALUE_OPTIONS)
        {
            if (options.has(option) && !"--data".equals(option) && !"--timeout-ms".equals(option))
            {
                throw new UsageException(option + " is not for --restart: the members are started again with the " +
                    "settings in ROOT/" + LocalCluster.FILE + "; give only --data ROOT (and --timeout-ms)");
            }
        }
        final File root = new File(options.require("--data", "the directory of the cluster to restart members of"))
            .getAbsoluteFile();
        final long timeoutMs = options.getLong("--timeout-ms", DEFAULT_RESTART_TIMEOUT_MS, 1, CliSupport.MAX_TIMEOUT_MS);
        final LocalCluster cluster;
        try
        {
            cluster = LocalCluster.read(root);
        }
        catch (final CliException ex)
        {
            return CliSupport.failure(err, COMMAND, ex.getMessage());
        }

        final Map<Integer, Process> restarted = new LinkedHashMap<>();
        for (int i = 0; i < cluster.nodes(); i++)
        {
            final long pid = cluster.recordedPid(i);
            if (LocalCluster.isAlive(pid))
            {
                out.println("cluster: member " + i + " runs (pid " + pid + ")");
                continue;
            }
            final File logFile = new File(cluster.memberDirectory(i), LocalCluster.LOG_FILE);
            try
            {
                Files.createDirectories(cluster.memberDirectory(i).toPath());
                final List<String> command = new ArrayList<>(javaCommand());
                command.add(NodeMain.class.getName());
                command.addAll(cluster.memberArguments(i));
                final Process process = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile)).start();
                restarted.put(i, process);
                out.println("cluster: member " + i + (pid > 0 ? " (pid " + pid + ") is not running" :
                    " has not run yet") + "; restarted it in the background: pid " + process.pid() + ", output in " +
                    logFile);
                out.flush();
            }
            catch (final IOException | RuntimeException ex)
            {
                restarted.values().forEach(Process::destroy);
                return CliSupport.failure(err, COMMAND, "could not restart member " + i + ": " + CliSupport.oneLine(ex));
            }
        }
        if (restarted.isEmpty())
        {
            out.println("cluster: every member of " + root + " runs; nothing to restart");
            return CliSupport.EXIT_OK;
        }
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        for (final Map.Entry<Integer, Process> entry : restarted.entrySet())
        {
            final int member = entry.getKey();
            final Process process = entry.getValue();
            final File logFile = new File(cluster.memberDirectory(member), LocalCluster.LOG_FILE);
            while (true)
            {
                final NodeStatus status = NodeStatus.read(cluster.memberDirectory(member).toPath(),
                    CliSupport.DRIVER_HEARTBEAT_TIMEOUT_MS, System.currentTimeMillis());
                // Back: its consensus module runs and has joined a leadership term (its election is over).
                if (status.pid() == process.pid() && status.role().isUp() &&
                    ElectionState.CLOSED.name().equals(status.electionState()))
                {
                    out.println("cluster: member " + member + " is back: " + status.role() + " in term " +
                        status.leadershipTermId() + ", pid " + process.pid());
                    out.flush();
                    break;
                }
                if (!process.isAlive())
                {
                    return CliSupport.failure(err, COMMAND, "member " + member + " exited with status " +
                        process.exitValue() + " while starting: " + lastLine(logFile) + " (all of it in " + logFile +
                        ")");
                }
                if (System.nanoTime() - deadlineNs > 0)
                {
                    return CliSupport.failure(err, COMMAND, "member " + member + " (pid " + process.pid() +
                        ") is not back within " + timeoutMs + " ms: " + status.role() +
                        (status.reason().isEmpty() ? "" : ", " + status.reason()) + "; it goes on starting (see " +
                        logFile + ")");
                }
                if (!sleepMs(100))
                {
                    return CliSupport.failure(err, COMMAND, "interrupted while waiting for member " + member);
                }
            }
        }
        return CliSupport.EXIT_OK;
    }

    /**
     * @return how the user runs Spate's commands: bin/spate under {@code spate.home} (bin/spate sets it), else
     * {@code bin/spate}.
     */
    static String launcher()
    {
        final String home = System.getProperty("spate.home");
        return null == home || home.isBlank() ? "bin/spate" : new File(home, "bin/spate").getPath();
    }

    /**
     * @return the line the running cluster prints when a member is gone: the commands that start it again.
     */
    static String restartAdvice(final LocalCluster cluster, final int memberId)
    {
        final String launcher = launcher();
        return "restart it in the background with: " + cluster.restartInBackgroundCommand(launcher) +
            " (or in a terminal: " + cluster.restartCommand(memberId, launcher) + ")";
    }

    private static String lastLine(final File file)
    {
        try
        {
            final List<String> lines = Files.readAllLines(file.toPath(), StandardCharsets.UTF_8);
            for (int i = lines.size() - 1; i >= 0; i--)
            {
                if (!lines.get(i).isBlank())
                {
                    return lines.get(i).trim();
                }
            }
            return "no output";
        }
        catch (final IOException | RuntimeException ex)
        {
            return "its output cannot be read";
        }
    }

    private static boolean sleepMs(final long ms)
    {
        try
        {
            Thread.sleep(ms);
            return true;
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * @return this JVM's java and class path, for a member's JVM.
     */
    static List<String> javaCommand()
    {
        final List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        // This JVM's flags (native access, opens, spate.native.dir and other -D settings), then its class path.
        command.addAll(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments());
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        return command;
    }

    private static void forward(final String name, final Process process, final PrintStream out)
    {
        Thread.ofPlatform().daemon().name("out-" + name).start(() ->
        {
            try (BufferedReader reader = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)))
            {
                String line;
                while ((line = reader.readLine()) != null)
                {
                    out.println("[" + name + "] " + line);
                }
            }
            catch (final IOException ignored)
            {
                // the member is gone; its exit is reported by its onExit
            }
        });
    }
}
