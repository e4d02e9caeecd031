package io.spate.cli;

import io.spate.cli.CliSupport.CliException;
import io.spate.cli.CliSupport.Options;
import io.spate.cli.CliSupport.UsageException;
import io.spate.cluster.ClusterMembers;
import io.spate.driver.DriverMain;
import io.spate.cluster.ClusterNode;
import io.spate.codec.DatabaseSchema;
import io.spate.driver.IdleStrategies;
import io.spate.driver.SyncLevel;
import io.spate.pipeline.ClusterServiceSettings;
import org.agrona.concurrent.ShutdownSignalBarrier;

import java.io.File;
import java.io.PrintStream;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@code bin/spate node}: one member of a replicated Spate cluster (Aeron Cluster), in this process:
 * media driver, archive, consensus module and the Spate service. Runs until SIGTERM / Ctrl-C or until the
 * cluster terminates it.
 */
public final class NodeMain
{
    static final String COMMAND = "node";

    static final String USAGE = String.join(System.lineSeparator(),
        "Usage: bin/spate node --id N --schema FILE --data DIR [options]",
        "One member of a replicated Spate cluster (Aeron Cluster, Raft): its own media driver, archive,",
        "consensus module and the Spate service, in this process. Every member applies the committed log",
        "to its own store; the leader acks. Producers: bin/spate produce --cluster ENDPOINTS (printed at start).",
        "  --id N                 this member's id, 0..members-1, required",
        "  --schema FILE          database schema (JSON), the same on every member, required",
        "  --data DIR             this member's directory: DIR/cluster (ClusterTool's), DIR/archive (the log and",
        "                         snapshots), DIR/node.properties (for bin/spate stat), required",
        "  --members HOSTS        host of each member by id, comma separated (default: localhost,localhost,localhost)",
        "  --port-base N          member i listens on N + 100*i + 1..5 (default " + ClusterMembers.DEFAULT_PORT_BASE + ")",
        "  --sync none|data       none: the log is written to the OS before it counts as appended; data: fsynced",
        "                         (archive and cluster files), so an ack survives power loss of a minority (default: none)",
        "  --heartbeat-timeout-ms N  a follower starts an election when the leader is silent this long",
        "                         (default " + ClusterNode.Settings.DEFAULT_LEADER_HEARTBEAT_TIMEOUT_MS + ")",
        "  --session-timeout-ms N a client silent this long loses its session (default " +
            ClusterNode.Settings.DEFAULT_SESSION_TIMEOUT_MS + ")",
        "  --snapshot-ms N        the leader asks for a snapshot this often; 0: only when asked with ClusterTool",
        "                         (default " + ClusterNode.Settings.DEFAULT_SNAPSHOT_INTERVAL_MS + ")",
        "  --driver-dir DIR       the member's Aeron directory (default /dev/shm/spate-node-PORT-ID)",
        "  --auth-secret-file F   clients must send this file's bytes (no trailing newline) as credentials",
        "                         (SpateClient.Context.credentials, produce --secret-file); at least 16 bytes;",
        "                         for UDP ingress reachable from untrusted hosts (default: any client)",
        "  --idle NAME            idle strategy of every agent: " + IdleStrategies.NAMES + " (default backoff)",
        "  --help                 print this help and exit",
        "Limits shared by all members (system properties; a member whose differ from the log's or its snapshot's",
        "stops with exit status 70): " + ClusterServiceSettings.MAX_BATCH_BYTES_PROP + ", " +
            ClusterServiceSettings.MAX_RECORDS_PER_BATCH_PROP + ", " + ClusterServiceSettings.ACK_LEDGER_BATCHES_PROP + ",",
        "  " + ClusterServiceSettings.ACK_LEDGER_SESSION_BYTES_PROP + ", " +
            ClusterServiceSettings.ACK_LEDGER_TOTAL_BYTES_PROP + ". The leader's own: " +
            ClusterServiceSettings.EGRESS_BACKLOG_BYTES_PROP + ".",
        CliSupport.exitStatusHelp(COMMAND, "schema unreadable, the node could not start, or stopped on an error"));

    private static final Set<String> VALUE_OPTIONS = Set.of("--id", "--schema", "--data", "--members", "--port-base",
        "--sync", "--heartbeat-timeout-ms", "--session-timeout-ms", "--snapshot-ms", "--driver-dir", "--idle",
        "--auth-secret-file");

    private NodeMain()
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
        final ClusterMembers members;
        final int memberId;
        final SyncLevel syncLevel;
        try
        {
            options = CliSupport.optionsWithoutPositionals(args, VALUE_OPTIONS, Set.of());
            final int portBase = options.getInt("--port-base", ClusterMembers.DEFAULT_PORT_BASE, 1024, 65_000);
            try
            {
                members = ClusterMembers.parse(options.get("--members", "localhost,localhost,localhost"), portBase);
            }
            catch (final IllegalArgumentException ex)
            {
                throw new UsageException("--members: " + ex.getMessage(), false);
            }
            memberId = options.getInt("--id", -1, 0, members.size() - 1);
            options.require("--id", "this member's id");
            options.require("--schema", "the database schema file (JSON)");
            options.require("--data", "this member's data directory");
            IdleStrategies.validate(options.get("--idle", IdleStrategies.DEFAULT));
            syncLevel = CliSupport.syncLevel(options, "--sync", "none");
        }
        catch (final UsageException ex)
        {
            return CliSupport.usageError(err, COMMAND, ex);
        }
        catch (final IllegalArgumentException ex)
        {
            return CliSupport.usageError(err, COMMAND, new UsageException(CliSupport.oneLine(ex), false));
        }

        final ClusterNode.Settings settings;
        try
        {
            final DatabaseSchema schema = CliSupport.loadSchema(options.get("--schema", null));
            settings = new ClusterNode.Settings(
                memberId,
                members,
                new File(options.get("--data", null)).getAbsoluteFile(),
                options.get("--driver-dir", ClusterNode.Settings.defaultAeronDir(memberId, members)),
                schema,
                syncLevel,
                options.getLong("--heartbeat-timeout-ms", ClusterNode.Settings.DEFAULT_LEADER_HEARTBEAT_TIMEOUT_MS,
                    100, CliSupport.MAX_TIMEOUT_MS),
                options.getLong("--session-timeout-ms", ClusterNode.Settings.DEFAULT_SESSION_TIMEOUT_MS,
                    100, CliSupport.MAX_TIMEOUT_MS),
                options.getLong("--snapshot-ms", ClusterNode.Settings.DEFAULT_SNAPSHOT_INTERVAL_MS,
                    0, 365L * 24 * 3_600_000),
                ClusterNode.Settings.DEFAULT_LOG_TERM_LENGTH_BYTES,
                ClusterNode.Settings.DEFAULT_MAX_SESSIONS,
                options.get("--idle", IdleStrategies.DEFAULT),
                options.has("--auth-secret-file") ?
                    io.spate.pipeline.SharedSecretAuthenticator.readSecret(
                    java.nio.file.Path.of(options.get("--auth-secret-file", null))) : null);
        }
        catch (final CliException ex)
        {
            return CliSupport.failure(err, COMMAND, ex.getMessage());
        }
        catch (final UsageException ex)
        {
            return CliSupport.usageError(err, COMMAND, ex);
        }
        catch (final IllegalArgumentException ex)
        {
            return CliSupport.usageError(err, COMMAND, new UsageException(CliSupport.oneLine(ex), false));
        }
        return serve(settings, out, err);
    }

    private static int serve(final ClusterNode.Settings settings, final PrintStream out, final PrintStream err)
    {
        final AtomicBoolean stop = new AtomicBoolean();
        final ShutdownSignalBarrier barrier = new ShutdownSignalBarrier();
        final Thread signalWaiter = Thread.ofPlatform().daemon().name("node-signals").start(() ->
        {
            barrier.await();
            stop.set(true);
        });
        final ClusterNode node;
        try
        {
            node = ClusterNode.launch(settings, err);
        }
        catch (final Exception ex)
        {
            return CliSupport.failure(err, COMMAND, "member " + settings.memberId() + " could not start: " +
                CliSupport.oneLine(ex));
        }
        out.println("node: member " + settings.memberId() + " of " + settings.members().size() + " up; data " +
            settings.dataDir() + ", aeron dir " + settings.aeronDir() + ", sync " +
            settings.syncLevel().name().toLowerCase() + "; producers: --cluster " + settings.members().ingressEndpoints());
        out.flush();
        try
        {
            while (!stop.get() && !node.isTerminated())
            {
                node.pollSnapshotTimer(System.currentTimeMillis());
                Thread.sleep(50);
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        final boolean terminatedByCluster = node.isTerminated();
        node.close();
        out.println("node: member " + settings.memberId() + " stopped" +
            (terminatedByCluster ? " (terminated by the cluster)" : ""));
        out.flush();
        err.flush();
        signalWaiter.interrupt();
        barrier.signalAll();
        if (DriverMain.isJvmShuttingDown())
        {
            // A signal began the JVM's shutdown, whose barrier hook waits for close(): once released, the JVM
            // would end with 128 + the signal, and System.exit would block. Everything is closed: end the
            // process here with the status meant, before releasing the hook.
            Runtime.getRuntime().halt(CliSupport.EXIT_OK);
        }
        barrier.close();
        return CliSupport.EXIT_OK;
    }
}
