package io.spate.cli;

import io.spate.cli.CliSupport.Options;
import io.spate.cli.CliSupport.UsageException;
import io.spate.cluster.ClusterMembers;
import io.spate.driver.DriverMain;
import io.spate.driver.IdleStrategies;
import org.agrona.concurrent.ShutdownSignalBarrier;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * {@code bin/spate cluster}: starts a whole cluster on this machine for trying it out: N members
 * ({@code bin/spate node}), each its own JVM with its own ports and directory ROOT/node-i, their output
 * prefixed with the member. SIGTERM / Ctrl-C stops them all. A member that dies (kill -9 one to watch a
 * failover) is reported, and the others carry on.
 */
public final class ClusterMain
{
    static final String COMMAND = "cluster";
    static final String USAGE = String.join(System.lineSeparator(),
        "Usage: bin/spate cluster --schema FILE --data ROOT [options]",
        "Starts a replicated Spate cluster on this machine: N members (bin/spate node), each in its own JVM,",
        "member i in ROOT/node-i on ports PORT_BASE + 100*i + 1..5. Ctrl-C or SIGTERM stops them all.",
        "  --schema FILE        database schema (JSON), required",
        "  --data ROOT          the members' directories go in ROOT, required",
        "  --nodes N            members, 1.." + ClusterMembers.MAX_MEMBERS + " (default 3)",
        "  --port-base N        (default " + ClusterMembers.DEFAULT_PORT_BASE + ")",
        "  --sync none|data     passed to every member (default none)",
        "  --snapshot-ms N      passed to every member",
        "  --heartbeat-timeout-ms N  passed to every member",
        "  --idle NAME          passed to every member",
        "  --help               print this help and exit",
        "Restart one member by hand: bin/spate node --id I --schema FILE --data ROOT/node-I (same --port-base).",
        CliSupport.exitStatusHelp(COMMAND, "a member could not start"));

    private static final Set<String> VALUE_OPTIONS = Set.of("--schema", "--data", "--nodes", "--port-base", "--sync",
        "--snapshot-ms", "--heartbeat-timeout-ms", "--idle");

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
        final int nodes;
        final int portBase;
        final String schema;
        final File root;
        try
        {
            options = CliSupport.optionsWithoutPositionals(args, VALUE_OPTIONS, Set.of());
            schema = options.require("--schema", "the database schema file (JSON)");
            root = new File(options.require("--data", "the directory for the members' data")).getAbsoluteFile();
            nodes = options.getInt("--nodes", 3, 1, ClusterMembers.MAX_MEMBERS);
            portBase = options.getInt("--port-base", ClusterMembers.DEFAULT_PORT_BASE, 1024, 65_000);
            // Checked here as each member checks them: a bad value must not start members that each fail.
            CliSupport.syncLevel(options, "--sync", "none");
            options.getLong("--snapshot-ms", 0, 0, 365L * 24 * 3_600_000);
            options.getLong("--heartbeat-timeout-ms", 0, 100, CliSupport.MAX_TIMEOUT_MS);
            IdleStrategies.validate(options.get("--idle", IdleStrategies.DEFAULT));
        }
        catch (final UsageException ex)
        {
            return CliSupport.usageError(err, COMMAND, ex);
        }
        catch (final IllegalArgumentException ex)
        {
            return CliSupport.usageError(err, COMMAND, new UsageException(CliSupport.oneLine(ex), false));
        }
        final List<String> hosts = new ArrayList<>();
        for (int i = 0; i < nodes; i++)
        {
            hosts.add("localhost");
        }
        final String hostList = String.join(",", hosts);
        final ClusterMembers members;
        try
        {
            members = new ClusterMembers(hosts, portBase);
        }
        catch (final IllegalArgumentException ex)
        {
            return CliSupport.usageError(err, COMMAND, new UsageException("--port-base: " + ex.getMessage(), false));
        }
        final List<Process> processes = new ArrayList<>();
        final ShutdownSignalBarrier barrier = new ShutdownSignalBarrier();
        try
        {
            for (int i = 0; i < nodes; i++)
            {
                final List<String> command = new ArrayList<>(javaCommand());
                command.add(NodeMain.class.getName());
                command.addAll(List.of("--id", Integer.toString(i), "--schema", schema,
                    "--data", new File(root, "node-" + i).getPath(), "--members", hostList,
                    "--port-base", Integer.toString(portBase)));
                for (final String passed : List.of("--sync", "--snapshot-ms", "--heartbeat-timeout-ms", "--idle"))
                {
                    if (options.has(passed))
                    {
                        command.add(passed);
                        command.add(options.get(passed, null));
                    }
                }
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
            members.ingressEndpoints() + " --schema " + schema + " ...; watch: bin/spate stat --cluster " + root);
        out.flush();
        for (int i = 0; i < processes.size(); i++)
        {
            final int member = i;
            processes.get(i).onExit().thenAccept(p ->
                out.println("cluster: member " + member + " exited with status " + p.exitValue()));
        }
        barrier.await();
        processes.forEach(Process::destroy); // SIGTERM: each member closes in order
        for (final Process process : processes)
        {
            try
            {
                if (!process.waitFor(30, TimeUnit.SECONDS))
                {
                    process.destroyForcibly();
                }
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
