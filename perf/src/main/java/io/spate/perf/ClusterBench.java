package io.spate.perf;

import io.spate.cluster.ClusterMembers;
import io.spate.cluster.ClusterNode;
import io.spate.cluster.NodeStatus;
import org.HdrHistogram.Histogram;
import org.agrona.IoUtil;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

/**
 * {@code bin/spate bench --cluster}: replicated Spate on Aeron Cluster measured on this machine, every member
 * ({@code bin/spate node}), the single-node pipeline and every producer ({@code bin/spate produce}) its own JVM:
 * <ol>
 *   <li>throughput: acked creates/s of a 3-member cluster beside the same producer against a single node,
 *   in memory and durable (and the 4-type mix, full run only);</li>
 *   <li>ack latency p50 / p99 / p99.9 at a fixed offered rate, cluster beside single node;</li>
 *   <li>leader loss: the leader SIGKILLed under the fixed rate, kill to a new LEADER seen in the members'
 *   counters and kill to the producer's acks moving again, three times (the killed member restarted and
 *   caught up in between);</li>
 *   <li>catch-up: a follower SIGKILLed while a producer writes at full speed, then restarted: how fast it
 *   takes in the log it missed.</li>
 * </ol>
 * Writes summary.md, summary.json, .hgrm files and the processes' logs into one folder; the last line
 * printed starts {@code bench-cluster:}. Every process it starts is killed at the end, on failure too
 * (and by a shutdown hook on Ctrl-C); the members' data and Aeron directories are deleted.
 */
public final class ClusterBench
{
    static final int MEMBERS = 3;
    static final long DEFAULT_RATE = 20_000;
    private static final int RECORDS_PER_BATCH = 100;
    private static final List<String> CREATES = List.of("--types", "User:1", "--ops", "create:100");
    /** The producer's default mix: every type, create:70,update:15,increment:10,delete:5. */
    private static final List<String> MIX = List.of();
    /** Port bases 30050, 30150, ... 38950: clear of the default 20000 and of the tests' bases (multiples of 1000). */
    private static final int PORT_BASE_MIN = 30_050;
    private static final int PORT_BASE_SLOTS = 90;
    /** How old a member's driver heartbeat may be for NodeStatus to call it running. */
    private static final long STATUS_HEARTBEAT_TIMEOUT_MS = 10_000;
    private static final long START_TIMEOUT_MS = 90_000;
    private static final long EVENT_TIMEOUT_MS = 120_000;
    private static final long ELECTION_POLL_NS = TimeUnit.MILLISECONDS.toNanos(5);
    private static final long CATCH_UP_POLL_NS = TimeUnit.MILLISECONDS.toNanos(10);
    private static final String SINGLE = "single";
    private static final String DURABLE = "durable";
    private static final String CLUSTER = "cluster";

    private final Path home;
    private final Path out;
    private final Path argfile;
    private final Path schemaFile;
    private final boolean quick;
    private final long rate;
    /** The members' --heartbeat-timeout-ms, or 0 for the node's default. */
    private final long heartbeatTimeoutMs;
    private final long warmupRunRecords;
    private final long throughputRecords;
    private final long producerWarmupRecords;
    private final long latencySeconds;
    private final int electionRounds;
    private final long electionSeconds;
    private final long catchUpSeconds;
    private final boolean mix;
    private final boolean durableLatency;

    private final List<ClusterProcess> processes = new CopyOnWriteArrayList<>();
    private final Map<String, Object> summary = new LinkedHashMap<>();
    private final List<String> throughputRows = new ArrayList<>();
    private final List<String> latencyRows = new ArrayList<>();
    private final List<String> electionRows = new ArrayList<>();
    private final List<String> catchUpRows = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();
    /** Ack p50 (ms) of each full-speed run, by run name (e.g. cluster-creates). */
    private final Map<String, Double> fullSpeedP50Ms = new LinkedHashMap<>();
    private final long startNs = System.nanoTime();
    private int step;
    private int steps;

    private Path scratch;
    private Path shmRoot;
    private Path logs;
    private ClusterMembers members;
    private final ClusterProcess[] nodes = new ClusterProcess[MEMBERS];
    private int producerCount;
    private volatile boolean cleanedUp;

    ClusterBench(final Path home, final Path out, final boolean quick, final long rate, final long heartbeatTimeoutMs)
    {
        this.home = home;
        this.out = out;
        this.quick = quick;
        this.rate = rate;
        this.heartbeatTimeoutMs = heartbeatTimeoutMs;
        this.argfile = home.resolve("perf/target/spate.argfile");
        this.schemaFile = benchSchema(home.resolve("schema/examples/social.json"), out);
        this.warmupRunRecords = quick ? 300_000 : 1_000_000;
        this.throughputRecords = quick ? 500_000 : 2_000_000;
        this.producerWarmupRecords = quick ? 100_000 : 200_000;
        this.latencySeconds = quick ? 5 : 10;
        this.electionRounds = 3;
        this.electionSeconds = quick ? 8 : 10;
        this.catchUpSeconds = quick ? 5 : 10;
        this.mix = !quick;
        this.durableLatency = !quick;
    }

    /**
     * The example schema with room for every run (its Counter type holds 1,048,576 nodes), as Bench's.
     */
    private static Path benchSchema(final Path example, final Path out)
    {
        try
        {
            final String json = Files.readString(example);
            final Path file = out.resolve("bench-schema.json");
            Files.writeString(file, json.replace("\"maxNodes\": 1048576", "\"maxNodes\": 16777216"));
            return file;
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("cannot write the bench's schema into " + out + ": " + ex, ex);
        }
    }

    static final String USAGE = """
        Usage: bin/spate bench --cluster [--quick] [--out DIR] [--rate N] [--heartbeat-timeout-ms N]
        Replicated Spate on Aeron Cluster measured on this machine, every member, pipeline and producer its own JVM:
        throughput (acked creates/s) of a 3-member cluster beside a single node (in memory and durable), ack
        latency p50/p99/p99.9 at a fixed rate beside the single node's, election time after a SIGKILL of the
        leader under load (3 rounds: kill -> new leader seen, kill -> the producer's acks moving again), and
        the catch-up rate of a restarted follower. Members share this machine's cores: the ratios are a floor.
          --quick                  shorter runs, creates only (about 3 minutes; full: about 4, with the mix)
          --out DIR                output folder (default target/bench/cluster-<timestamp>)
          --rate N                 offered records/s of the latency and election runs (default 20000)
          --heartbeat-timeout-ms N the members' leader heartbeat timeout (default: the node's, %d)"""
        .formatted(ClusterNode.Settings.DEFAULT_LEADER_HEARTBEAT_TIMEOUT_MS);

    /**
     * @param args the options after {@code bench --cluster}.
     */
    public static void main(final String[] args) throws Exception
    {
        boolean quick = false;
        Path out = null;
        long rate = DEFAULT_RATE;
        long heartbeatTimeoutMs = 0;
        final Path home = Path.of(System.getProperty("spate.home", "."));
        for (int i = 0; i < args.length; i++)
        {
            switch (args[i])
            {
                case "--quick" -> quick = true;
                case "--out" -> out = Path.of(value(args, i++));
                case "--rate" -> rate = positive(args, i++, 1_000_000);
                case "--heartbeat-timeout-ms" -> heartbeatTimeoutMs = positive(args, i++, 600_000);
                case "--help", "-h" ->
                {
                    System.out.println(USAGE);
                    return;
                }
                default ->
                {
                    System.err.println("bench-cluster: unknown option " + args[i] + " (try bench --cluster --help)");
                    System.exit(2);
                }
            }
        }
        if (null == out)
        {
            out = home.resolve("target/bench").resolve("cluster-" +
                LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        }
        Files.createDirectories(out);
        final boolean ok = new ClusterBench(home, out, quick, rate, heartbeatTimeoutMs).run();
        System.exit(ok ? 0 : 1);
    }

    private static String value(final String[] args, final int i)
    {
        if (i + 1 >= args.length || args[i + 1].startsWith("--"))
        {
            System.err.println("bench-cluster: " + args[i] + " needs a value (try bench --cluster --help)");
            System.exit(2);
        }
        return args[i + 1];
    }

    private static long positive(final String[] args, final int i, final long max)
    {
        final String text = value(args, i);
        try
        {
            final long number = Long.parseLong(text);
            if (number >= 1 && number <= max)
            {
                return number;
            }
        }
        catch (final NumberFormatException ignored)
        {
            // below
        }
        System.err.println("bench-cluster: " + args[i] + " must be a whole number 1.." + max + ": " + text);
        System.exit(2);
        return 0;
    }

    /**
     * @return true when every step ran.
     */
    boolean run() throws IOException
    {
        scratch = Files.createTempDirectory("spate-bench-cluster-");
        final Path shm = Path.of("/dev/shm");
        shmRoot = Files.isDirectory(shm) && Files.isWritable(shm) ?
            Files.createDirectories(shm.resolve("spate-bench-cluster-" + ProcessHandle.current().pid())) :
            Files.createDirectories(scratch.resolve("aeron"));
        logs = Files.createDirectories(scratch.resolve("logs"));
        final Thread hook = new Thread(this::cleanUp, "bench-cluster-cleanup");
        Runtime.getRuntime().addShutdownHook(hook);
        boolean ok = false;
        try
        {
            measure();
            ok = true;
        }
        catch (final Exception ex)
        {
            summary.put("error", oneLine(ex));
            System.out.println("bench-cluster: step failed: " + ex.getMessage());
            ex.printStackTrace(System.out);
        }
        finally
        {
            cleanUp();
            Runtime.getRuntime().removeShutdownHook(hook);
        }
        final String markdown = writeReport(ok);
        System.out.println();
        System.out.print(markdown);
        System.out.println();
        System.out.println(summaryLine(ok));
        return ok;
    }

    /** Kills every process this bench started, keeps their logs in the output folder, deletes the rest. */
    private synchronized void cleanUp()
    {
        if (cleanedUp)
        {
            return;
        }
        cleanedUp = true;
        for (final ClusterProcess process : processes)
        {
            if (process.isAlive())
            {
                // Members: SIGKILL (they are built to survive it, and their data goes); the others may stop cleanly.
                if (process.name().startsWith("node-"))
                {
                    process.kill();
                }
                else
                {
                    process.stop(5_000);
                }
            }
        }
        try
        {
            if (null != logs && Files.isDirectory(logs))
            {
                copyTree(logs, out.resolve("logs"));
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            System.out.println("bench-cluster: could not keep the logs: " + ex);
        }
        if (null != shmRoot)
        {
            IoUtil.delete(shmRoot.toFile(), true);
        }
        if (null != scratch)
        {
            IoUtil.delete(scratch.toFile(), true);
        }
    }

    private static void copyTree(final Path from, final Path to) throws IOException
    {
        try (Stream<Path> files = Files.walk(from))
        {
            for (final Path file : files.toList())
            {
                final Path target = to.resolve(from.relativize(file).toString());
                if (Files.isDirectory(file))
                {
                    Files.createDirectories(target);
                }
                else
                {
                    Files.copy(file, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    private void measure() throws IOException
    {
        // single: warm-up, creates, (mix), latency; durable: warm-up, creates, (latency); cluster: start, warm-up,
        // creates, (mix), latency; the leader-loss rounds; catch-up.
        steps = 3 + (mix ? 1 : 0) + 2 + (durableLatency ? 1 : 0) + 4 + (mix ? 1 : 0) + electionRounds + 1;
        summary.put("machine", Runtime.getRuntime().availableProcessors() + " cpus, " + System.getProperty("os.name") +
            " " + System.getProperty("os.arch"));
        summary.put("jdk", Runtime.version().toString());
        summary.put("quick", quick);
        summary.put("run", out.getFileName().toString());
        summary.put("members", MEMBERS);
        summary.put("rate", rate);
        summary.put("heartbeat_timeout_ms", heartbeatTimeoutMs > 0 ? heartbeatTimeoutMs :
            ClusterNode.Settings.DEFAULT_LEADER_HEARTBEAT_TIMEOUT_MS);
        System.out.printf(Locale.ROOT, "bench-cluster: %s; scratch %s, Aeron directories in %s, logs kept in %s%n",
            quick ? "--quick" : "full run", scratch, shmRoot, out.resolve("logs"));

        final Map<String, Double> creates = new LinkedHashMap<>();
        final Map<String, Double> mixes = new LinkedHashMap<>();
        final Map<String, Map<String, String>> latencies = new LinkedHashMap<>();

        // 1. The single node, in memory: the reference.
        progress("single node, in memory: pipeline --embedded-driver, warm-up of " + whole(warmupRunRecords) + " creates");
        ClusterProcess pipeline = startPipeline(SINGLE, null);
        try
        {
            produce("single-warmup", singleTarget(SINGLE), CREATES, warmupRunRecords, 0, 0, null);
            progress("single node, in memory: creates at full speed, " + whole(throughputRecords) + " records");
            creates.put(SINGLE, throughput("single-creates", singleTarget(SINGLE), CREATES));
            if (mix)
            {
                progress("single node, in memory: 4-type mix at full speed");
                mixes.put(SINGLE, throughput("single-mix", singleTarget(SINGLE), MIX));
            }
            progress(String.format(Locale.ROOT, "single node, in memory: ack latency at %,d records/s for %d s", rate,
                latencySeconds));
            latencies.put(SINGLE, latency("single-latency", singleTarget(SINGLE)));
        }
        finally
        {
            pipeline.stop(30_000);
        }

        // 2. The single node, durable (the cluster's log is always recorded).
        progress("single node, durable (--data, sync none): warm-up");
        pipeline = startPipeline(DURABLE, scratch.resolve("single-durable-data"));
        try
        {
            produce("durable-warmup", singleTarget(DURABLE), CREATES, warmupRunRecords, 0, 0, null);
            progress("single node, durable: creates at full speed");
            creates.put(DURABLE, throughput("durable-creates", singleTarget(DURABLE), CREATES));
            if (durableLatency)
            {
                progress(String.format(Locale.ROOT, "single node, durable: ack latency at %,d records/s", rate));
                latencies.put(DURABLE, latency("durable-latency", singleTarget(DURABLE)));
            }
        }
        finally
        {
            pipeline.stop(30_000);
        }
        IoUtil.delete(scratch.resolve("single-durable-data").toFile(), true);

        // 3. The cluster.
        progress("cluster: 3 members (bin/spate node), each its own JVM");
        startCluster();
        progress("cluster: warm-up of " + whole(warmupRunRecords) + " creates");
        produce("cluster-warmup", clusterTarget(), CREATES, warmupRunRecords, 0, 0, null);
        progress("cluster: creates at full speed, " + whole(throughputRecords) + " records");
        creates.put(CLUSTER, throughput("cluster-creates", clusterTarget(), CREATES));
        if (mix)
        {
            progress("cluster: 4-type mix at full speed");
            mixes.put(CLUSTER, throughput("cluster-mix", clusterTarget(), MIX));
        }
        progress(String.format(Locale.ROOT, "cluster: ack latency at %,d records/s for %d s", rate, latencySeconds));
        latencies.put(CLUSTER, latency("cluster-latency", clusterTarget()));
        throughputSection(creates, mixes);
        latencySection(latencies);

        elections();
        catchUp(creates.getOrDefault(CLUSTER, Double.NaN));
    }

    // ------------------------------------------------------------------------------------------
    // Processes
    // ------------------------------------------------------------------------------------------

    /**
     * Synchronized with {@link #cleanUp()}: a process is either started before it (and killed by it) or not at all.
     */
    private synchronized ClusterProcess startJava(final String name, final List<String> jvmArgs, final String mainClass,
        final List<String> args)
    {
        if (cleanedUp)
        {
            throw new IllegalStateException("the bench is stopping: " + name + " not started");
        }
        final List<String> command = ProducerProcess.javaCommand(argfile, jvmArgs, mainClass, args);
        final ClusterProcess process = ClusterProcess.start(name, command, logs.resolve(name + ".log"));
        processes.add(process);
        return process;
    }

    private ClusterProcess startPipeline(final String name, final Path data)
    {
        final List<String> args = new ArrayList<>(List.of("--schema", schemaFile.toString(), "--embedded-driver",
            "--dir", shmRoot.resolve(name).toString(), "--workers", "1"));
        if (null != data)
        {
            args.addAll(List.of("--data", data.toString(), "--sync", "none"));
        }
        final ClusterProcess pipeline = startJava("pipeline-" + name, List.of(), "io.spate.cli.PipelineMain", args);
        pipeline.awaitLine(line -> line.startsWith("pipeline: ready"), START_TIMEOUT_MS);
        return pipeline;
    }

    private List<String> singleTarget(final String name)
    {
        return List.of("--dir", shmRoot.resolve(name).toString());
    }

    private List<String> clusterTarget()
    {
        return List.of("--cluster", members.ingressEndpoints(), "--timeout-ms", "60000");
    }

    /**
     * Starts {@code bin/spate produce}.
     *
     * @param target        where it writes (--dir or --cluster ...).
     * @param shape         --types and --ops.
     * @param warmupRecords its --warmup-records.
     * @param offered       its --rate (0: full speed).
     * @param hlog          its --histogram-file, or null.
     */
    private ClusterProcess startProducer(final String name, final List<String> target, final List<String> shape,
        final long records, final long warmupRecords, final long offered, final Path hlog)
    {
        final List<String> args = new ArrayList<>(List.of("--schema", schemaFile.toString()));
        args.addAll(target);
        args.addAll(List.of("--records", Long.toString(records), "--warmup-records", Long.toString(warmupRecords),
            "--rate", Long.toString(offered), "--batch-size", Integer.toString(RECORDS_PER_BATCH),
            "--seed", Long.toString(42 + producerCount++)));
        args.addAll(shape);
        if (null != hlog)
        {
            args.addAll(List.of("--histogram-file", hlog.toString()));
        }
        // A cluster producer's own media driver goes in a temporary folder next to aeron.dir: inside shmRoot,
        // so it is deleted with it even when the producer is killed.
        return startJava("produce-" + name, List.of("-Daeron.dir=" + shmRoot.resolve("aeron")),
            "io.spate.cli.ProduceMain", args);
    }

    /**
     * Runs a producer to its end.
     *
     * @return its summary line's pairs.
     * @throws IllegalStateException when it fails.
     */
    private Map<String, String> produce(final String name, final List<String> target, final List<String> shape,
        final long records, final long warmupRecords, final long offered, final Path hlog)
    {
        final ClusterProcess producer = startProducer(name, target, shape, records, warmupRecords, offered, hlog);
        final long expectedS = (offered > 0 ? records / offered : records / 20_000) + 120;
        final int status = producer.awaitExit(TimeUnit.SECONDS.toMillis(expectedS));
        final Map<String, String> result = ClusterFigures.lastLine(producer.lines(), ClusterFigures.SUMMARY_PREFIX);
        if (0 != status || result.isEmpty())
        {
            throw new IllegalStateException(producer.name() + " exited " + status + "; last lines:\n" +
                producer.tail(10) + "(log: " + producer.log() + ")");
        }
        return result;
    }

    /**
     * @return acked records/s of the producer at full speed; its ack p50 goes into {@link #fullSpeedP50Ms}.
     */
    private double throughput(final String name, final List<String> target, final List<String> shape)
    {
        final Map<String, String> result = produce(name, target, shape, throughputRecords, producerWarmupRecords, 0, null);
        final double recordsPerSecond = ClusterFigures.number(result, "records/s");
        final double p50Ms = ClusterFigures.number(result, "ack_p50_us") / 1e3;
        summary.put(name.replace('-', '_') + "_records_per_s", Math.round(recordsPerSecond));
        summary.put(name.replace('-', '_') + "_ack_p50_ms", p50Ms);
        fullSpeedP50Ms.put(name, p50Ms);
        leaderChanges(name, result);
        System.out.printf(Locale.ROOT, "bench-cluster   %s: %,.0f records/s, ack p50 %.1f ms%n", name, recordsPerSecond,
            p50Ms);
        return recordsPerSecond;
    }

    private void leaderChanges(final String name, final Map<String, String> result)
    {
        final double changes = ClusterFigures.number(result, "leader_changes");
        if (changes > 0)
        {
            summary.put(name.replace('-', '_') + "_leader_changes", (long)changes);
            notes.add(String.format(Locale.ROOT, "%s saw %.0f leader change(s) no member was killed for (a " +
                "heartbeat timeout on the loaded cores): its figure includes an election.", name, changes));
        }
    }

    /**
     * @return the summary of a producer at the fixed rate after its warm-up, the histogram kept as .hgrm.
     */
    private Map<String, String> latency(final String name, final List<String> target) throws IOException
    {
        final Path hlog = scratch.resolve(name + ".hlog");
        final Map<String, String> result = produce(name, target, CREATES, rate * latencySeconds, producerWarmupRecords,
            rate, hlog);
        leaderChanges(name, result);
        final Histogram histogram = Bench.readHistogram(hlog);
        if (null != histogram)
        {
            Files.copy(hlog, out.resolve("ack-latency-" + name + ".hlog"), StandardCopyOption.REPLACE_EXISTING);
            try (PrintStream stream = new PrintStream(new FileOutputStream(out.resolve("ack-latency-" + name + ".hgrm")
                .toFile()), false, StandardCharsets.UTF_8))
            {
                histogram.outputPercentileDistribution(stream, 1000.0);
            }
        }
        System.out.printf(Locale.ROOT, "bench-cluster   %s: achieved %s records/s, ack p50 / p99 / p99.9 %s / %s / %s us%n",
            name, result.get("records/s"), result.get("ack_p50_us"), result.get("ack_p99_us"), result.get("ack_p99.9_us"));
        return result;
    }

    // ------------------------------------------------------------------------------------------
    // The cluster's members
    // ------------------------------------------------------------------------------------------

    private void startCluster()
    {
        final int portBase = freePortBase();
        members = new ClusterMembers(List.of("localhost", "localhost", "localhost"), portBase);
        summary.put("port_base", portBase);
        for (int i = 0; i < MEMBERS; i++)
        {
            nodes[i] = startNodeProcess(i, "node-" + i);
        }
        for (int i = 0; i < MEMBERS; i++)
        {
            awaitUp(nodes[i], i);
        }
        final int leader = awaitLeader(-1);
        System.out.printf(Locale.ROOT, "bench-cluster   members up on ports %d.., member %d leads; producers: " +
            "--cluster %s%n", portBase, leader, members.ingressEndpoints());
    }

    private ClusterProcess startNodeProcess(final int memberId, final String name)
    {
        final List<String> args = new ArrayList<>(List.of("--id", Integer.toString(memberId),
            "--schema", schemaFile.toString(),
            "--data", nodeDir(memberId).toString(),
            "--members", "localhost,localhost,localhost",
            "--port-base", Integer.toString(members.port(0, 0)),
            "--driver-dir", shmRoot.resolve("node-" + memberId).toString()));
        if (heartbeatTimeoutMs > 0)
        {
            args.addAll(List.of("--heartbeat-timeout-ms", Long.toString(heartbeatTimeoutMs)));
        }
        return startJava(name, List.of(), "io.spate.cli.NodeMain", args);
    }

    private static ClusterProcess.Line awaitUp(final ClusterProcess node, final int memberId)
    {
        return node.awaitLine(line -> line.startsWith("node: member " + memberId + " of"), START_TIMEOUT_MS);
    }

    private Path nodeDir(final int memberId)
    {
        return scratch.resolve("cluster").resolve("node-" + memberId);
    }

    private NodeStatus status(final int memberId)
    {
        return NodeStatus.read(nodeDir(memberId), STATUS_HEARTBEAT_TIMEOUT_MS, System.currentTimeMillis());
    }

    /**
     * @return the one member that leads with its election closed, once there is one (not {@code notMember}).
     */
    private int awaitLeader(final int notMember)
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(EVENT_TIMEOUT_MS);
        while (System.nanoTime() < deadlineNs)
        {
            int leader = -1;
            int leaders = 0;
            for (int i = 0; i < MEMBERS; i++)
            {
                if (i == notMember || null == nodes[i] || !nodes[i].isAlive())
                {
                    continue;
                }
                final NodeStatus status = status(i);
                if (status.role() == NodeStatus.Role.LEADER && "CLOSED".equals(status.electionState()))
                {
                    leader = i;
                    leaders++;
                }
            }
            if (1 == leaders)
            {
                return leader;
            }
            sleepNanos(TimeUnit.MILLISECONDS.toNanos(20));
        }
        throw new IllegalStateException("no leader" + (notMember >= 0 ? " other than member " + notMember : "") +
            " within " + EVENT_TIMEOUT_MS + " ms;" + statuses());
    }

    private String statuses()
    {
        final StringBuilder text = new StringBuilder();
        for (int i = 0; i < MEMBERS; i++)
        {
            final NodeStatus status = status(i);
            text.append("\n  member ").append(i).append(": ").append(status.role()).append(' ')
                .append(status.reason()).append(" election=").append(status.electionState()).append(" commit=")
                .append(status.commitPosition()).append(" records=").append(status.recordsApplied());
        }
        return text.toString();
    }

    /**
     * Waits until a restarted member has applied all the leader has (nothing is being written meanwhile).
     *
     * @return the nanoTime it was first seen caught up.
     */
    private long awaitCaughtUp(final int memberId, final int leader)
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(EVENT_TIMEOUT_MS);
        while (System.nanoTime() < deadlineNs)
        {
            final NodeStatus member = status(memberId);
            final NodeStatus lead = status(leader);
            if (ClusterFigures.caughtUp(member.commitPosition(), member.recordsApplied(), lead.commitPosition(),
                lead.recordsApplied()))
            {
                return System.nanoTime();
            }
            if (!nodes[memberId].isAlive())
            {
                throw new IllegalStateException("member " + memberId + " exited while catching up; last lines:\n" +
                    nodes[memberId].tail(10));
            }
            sleepNanos(CATCH_UP_POLL_NS);
        }
        throw new IllegalStateException("member " + memberId + " did not catch up with leader " + leader + " within " +
            EVENT_TIMEOUT_MS + " ms;" + statuses());
    }

    /**
     * @return a port base (member i on base + 100 i + 1..5) whose 15 UDP ports are free now.
     */
    private static int freePortBase()
    {
        for (int attempt = 0; attempt < 50; attempt++)
        {
            final int base = PORT_BASE_MIN + ClusterMembers.PORTS_PER_MEMBER *
                ThreadLocalRandom.current().nextInt(PORT_BASE_SLOTS - MEMBERS);
            if (portsFree(base))
            {
                return base;
            }
        }
        throw new IllegalStateException("no free port base in " + PORT_BASE_MIN + ".." +
            (PORT_BASE_MIN + ClusterMembers.PORTS_PER_MEMBER * PORT_BASE_SLOTS));
    }

    private static boolean portsFree(final int base)
    {
        for (int member = 0; member < MEMBERS; member++)
        {
            for (int offset = ClusterMembers.ARCHIVE_CONTROL_PORT_OFFSET; offset <= ClusterMembers.TRANSFER_PORT_OFFSET;
                offset++)
            {
                final int port = base + member * ClusterMembers.PORTS_PER_MEMBER + offset;
                try (DatagramSocket socket = new DatagramSocket(null))
                {
                    socket.bind(new InetSocketAddress("localhost", port));
                }
                catch (final SocketException ex)
                {
                    return false;
                }
            }
        }
        return true;
    }

    // ------------------------------------------------------------------------------------------
    // Leader loss and catch-up
    // ------------------------------------------------------------------------------------------

    private void elections()
    {
        final List<Double> leaderSeen = new ArrayList<>();
        final List<Double> acksMoving = new ArrayList<>();
        final List<Double> progressBound = new ArrayList<>();
        final List<Double> rejoin = new ArrayList<>();
        for (int round = 1; round <= electionRounds; round++)
        {
            final int leader = awaitLeader(-1);
            progress(String.format(Locale.ROOT, "leader loss %d/%d: producer at %,d records/s, then SIGKILL of the " +
                "leader (member %d)", round, electionRounds, rate, leader));
            final Path hlog = scratch.resolve("election-" + round + ".hlog");
            final ClusterProcess producer = startProducer("election-" + round, clusterTarget(), CREATES,
                rate * electionSeconds, producerWarmupRecords, rate, hlog);
            final long measuringNs = producer.awaitLine(line -> line.startsWith("produce: warm-up done"),
                EVENT_TIMEOUT_MS).nanos();
            // Two seconds of acks at the rate before the kill.
            final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(EVENT_TIMEOUT_MS);
            while (ClusterFigures.ackedSince(producer.lines(), measuringNs) < 2 * rate)
            {
                if (!producer.isAlive() || System.nanoTime() > deadlineNs)
                {
                    throw new IllegalStateException(producer.name() + " did not ack two seconds of records; last " +
                        "lines:\n" + producer.tail(10) + "(log: " + producer.log() + ")");
                }
                sleepNanos(TimeUnit.MILLISECONDS.toNanos(50));
            }

            final long killMs = System.currentTimeMillis();
            final long killNs = System.nanoTime();
            nodes[leader].kill();
            long leaderSeenNs = -1;
            long closedNs = -1;
            int newLeader = -1;
            while (closedNs < 0)
            {
                final long nowNs = System.nanoTime();
                if (nowNs - killNs > TimeUnit.MILLISECONDS.toNanos(EVENT_TIMEOUT_MS))
                {
                    throw new IllegalStateException("no new leader within " + EVENT_TIMEOUT_MS + " ms of the kill;" +
                        statuses());
                }
                for (int i = 0; i < MEMBERS; i++)
                {
                    if (i == leader)
                    {
                        continue;
                    }
                    final NodeStatus status = status(i);
                    final long seenNs = System.nanoTime();
                    if (status.role() == NodeStatus.Role.LEADER)
                    {
                        if (leaderSeenNs < 0)
                        {
                            leaderSeenNs = seenNs;
                            newLeader = i;
                        }
                        if (i == newLeader && "CLOSED".equals(status.electionState()))
                        {
                            closedNs = seenNs;
                        }
                    }
                }
                if (closedNs < 0)
                {
                    sleepNanos(ELECTION_POLL_NS);
                }
            }
            final double seenMs = (leaderSeenNs - killNs) / 1e6;
            final double closedMs = (closedNs - killNs) / 1e6;
            System.out.printf(Locale.ROOT, "bench-cluster   member %d leads %.0f ms after the kill (election closed " +
                "after %.0f ms); waiting for the producer%n", newLeader, seenMs, closedMs);

            final int status = producer.awaitExit(TimeUnit.SECONDS.toMillis(electionSeconds + 180));
            final Map<String, String> result = ClusterFigures.lastLine(producer.lines(), ClusterFigures.SUMMARY_PREFIX);
            final double gapMs = ClusterFigures.longestAckAfterMs(hlog, killMs);
            final double boundMs = ClusterFigures.acksMovingFromProgressMs(producer.lines(), measuringNs, killNs);
            String note = "";
            if (0 != status || result.isEmpty())
            {
                note = "producer exited " + status + " (log " + producer.log().getFileName() + ")";
                notes.add("leader loss " + round + ": the producer exited " + status + ":\n" + producer.tail(6));
            }

            // The killed member back, and caught up before the next round.
            final long restartNs = System.nanoTime();
            nodes[leader] = startNodeProcess(leader, "node-" + leader + "-restart-" + round);
            awaitUp(nodes[leader], leader);
            final double rejoinS = (awaitCaughtUp(leader, newLeader) - restartNs) / 1e9;

            leaderSeen.add(seenMs);
            acksMoving.add(gapMs);
            progressBound.add(boundMs);
            rejoin.add(rejoinS);
            final String prefix = "election_" + round + "_";
            summary.put(prefix + "killed", leader);
            summary.put(prefix + "new_leader", newLeader);
            summary.put(prefix + "leader_seen_ms", seenMs);
            summary.put(prefix + "election_closed_ms", closedMs);
            summary.put(prefix + "acks_moving_ms", gapMs);
            summary.put(prefix + "acks_moving_progress_line_ms", boundMs);
            summary.put(prefix + "resent_batches", ClusterFigures.number(result, "resent_batches"));
            summary.put(prefix + "producer_leader_changes", ClusterFigures.number(result, "leader_changes"));
            summary.put(prefix + "killed_member_caught_up_s", rejoinS);
            electionRows.add(ClusterFigures.row(Integer.toString(round), Integer.toString(leader),
                Integer.toString(newLeader), whole(seenMs), whole(closedMs), whole(gapMs), whole(boundMs),
                whole(ClusterFigures.number(result, "resent_batches")), String.format(Locale.ROOT, "%.1f", rejoinS), note));
            System.out.printf(Locale.ROOT, "bench-cluster   acks moving again %.0f ms after the kill (progress lines: " +
                "within %.0f ms); member %d back and caught up %.1f s after its restart%n", gapMs, boundMs, leader,
                rejoinS);
        }
        final double seenMedian = ClusterFigures.median(leaderSeen);
        final double acksMedian = ClusterFigures.median(acksMoving);
        summary.put("election_leader_seen_median_ms", seenMedian);
        summary.put("election_acks_moving_median_ms", acksMedian);
        summary.put("election_acks_moving_progress_line_median_ms", ClusterFigures.median(progressBound));
        electionRows.add(ClusterFigures.row("**median**", "", "", "**" + whole(seenMedian) + "**", "",
            "**" + whole(acksMedian) + "**", whole(ClusterFigures.median(progressBound)), "",
            String.format(Locale.ROOT, "%.1f", ClusterFigures.median(rejoin)), ""));
    }

    private void catchUp(final double clusterCreatesPerSecond)
    {
        final int leader = awaitLeader(-1);
        final int follower = (leader + 1) % MEMBERS;
        final long records = Math.max(200_000, Math.min(5_000_000, Math.round(
            (Double.isNaN(clusterCreatesPerSecond) ? 100_000 : clusterCreatesPerSecond) * catchUpSeconds / 1000) * 1000));
        progress(String.format(Locale.ROOT, "catch-up: SIGKILL of follower %d, %s creates at full speed on the " +
            "other two (~%d s), then its restart", follower, whole(records), catchUpSeconds));
        final NodeStatus before = status(follower);
        final long downNs = System.nanoTime();
        nodes[follower].kill();
        final Map<String, String> load = produce("catch-up-load", clusterTarget(), CREATES, records, 0, 0, null);
        final double twoMemberRate = ClusterFigures.number(load, "records/s");
        final NodeStatus lead = status(leader);
        final long behindBytes = lead.commitPosition() - before.commitPosition();
        final long behindRecords = lead.recordsApplied() - before.recordsApplied();

        final long restartNs = System.nanoTime();
        nodes[follower] = startNodeProcess(follower, "node-" + follower + "-catch-up");
        long firstNs = -1;
        long caughtNs = -1;
        final long deadlineNs = restartNs + TimeUnit.MILLISECONDS.toNanos(EVENT_TIMEOUT_MS);
        while (caughtNs < 0)
        {
            if (System.nanoTime() > deadlineNs || !nodes[follower].isAlive())
            {
                throw new IllegalStateException("follower " + follower + " did not catch up within " + EVENT_TIMEOUT_MS +
                    " ms;" + statuses() + "\nits last lines:\n" + nodes[follower].tail(10));
            }
            final NodeStatus member = status(follower);
            final NodeStatus current = status(leader);
            final long nowNs = System.nanoTime();
            if (firstNs < 0 && member.role().isUp() && (member.appendPosition() > before.appendPosition() ||
                member.recordsApplied() > before.recordsApplied()))
            {
                firstNs = nowNs;
            }
            if (ClusterFigures.caughtUp(member.commitPosition(), member.recordsApplied(), current.commitPosition(),
                current.recordsApplied()))
            {
                caughtNs = nowNs;
            }
            else
            {
                sleepNanos(CATCH_UP_POLL_NS);
            }
        }
        if (firstNs < 0)
        {
            firstNs = caughtNs;
        }
        final long upNs = awaitUp(nodes[follower], follower).nanos();
        final long windowNs = caughtNs - firstNs;
        final double bytesPerSecond = ClusterFigures.perSecond(behindBytes, windowNs);
        final double recordsPerSecond = ClusterFigures.perSecond(behindRecords, windowNs);
        final double downS = (restartNs - downNs) / 1e9;
        summary.put("catch_up_follower", follower);
        summary.put("catch_up_down_s", downS);
        summary.put("catch_up_behind_log_bytes", behindBytes);
        summary.put("catch_up_behind_records", behindRecords);
        summary.put("catch_up_restart_to_up_s", (upNs - restartNs) / 1e9);
        summary.put("catch_up_restart_to_first_new_entry_s", (firstNs - restartNs) / 1e9);
        summary.put("catch_up_restart_to_caught_up_s", (caughtNs - restartNs) / 1e9);
        summary.put("catch_up_window_s", windowNs / 1e9);
        summary.put("catch_up_log_bytes_per_s", bytesPerSecond);
        summary.put("catch_up_records_per_s", recordsPerSecond);
        summary.put("cluster_two_members_creates_records_per_s", twoMemberRate);
        catchUpRows.add(ClusterFigures.row(String.format(Locale.ROOT, "%.1f", downS), whole(behindBytes),
            whole(behindRecords), String.format(Locale.ROOT, "%.1f", (upNs - restartNs) / 1e9),
            String.format(Locale.ROOT, "%.1f", (caughtNs - restartNs) / 1e9),
            String.format(Locale.ROOT, "%.2f", windowNs / 1e9),
            String.format(Locale.ROOT, "%.1f", bytesPerSecond / 1e6), whole(recordsPerSecond)));
        System.out.printf(Locale.ROOT, "bench-cluster   follower %d caught up %,d log bytes (%,d records) in %.2f s " +
            "(%.1f MB/s, %,.0f records/s); %.1f s after its restart%n", follower, behindBytes, behindRecords,
            windowNs / 1e9, bytesPerSecond / 1e6, recordsPerSecond, (caughtNs - restartNs) / 1e9);
    }

    // ------------------------------------------------------------------------------------------
    // Report
    // ------------------------------------------------------------------------------------------

    private void throughputSection(final Map<String, Double> creates, final Map<String, Double> mixes)
    {
        final double cluster = creates.getOrDefault(CLUSTER, Double.NaN);
        addThroughputRows("creates (User)", "creates", creates, cluster);
        if (!mixes.isEmpty())
        {
            addThroughputRows("4-type mix", "mix", mixes, mixes.getOrDefault(CLUSTER, Double.NaN));
        }
        final double single = creates.getOrDefault(SINGLE, Double.NaN);
        final double durable = creates.getOrDefault(DURABLE, Double.NaN);
        summary.put("creates_ratio_cluster_to_single", cluster / single);
        summary.put("creates_ratio_cluster_to_single_durable", cluster / durable);
        if (!mixes.isEmpty())
        {
            summary.put("mix_ratio_cluster_to_single", mixes.getOrDefault(CLUSTER, Double.NaN) /
                mixes.getOrDefault(SINGLE, Double.NaN));
        }
    }

    private void addThroughputRows(final String shape, final String run, final Map<String, Double> figures,
        final double cluster)
    {
        for (final Map.Entry<String, Double> entry : figures.entrySet())
        {
            final String what = switch (entry.getKey())
            {
                case SINGLE -> "single node, in memory";
                case DURABLE -> "single node, durable (--data, sync none)";
                default -> "cluster of 3 (log recorded on every member, sync none)";
            };
            final String note = switch (entry.getKey())
            {
                case SINGLE, DURABLE -> "`pipeline --embedded-driver`, 1 worker; producer over IPC on its driver";
                default -> "producer with its own driver, UDP to the leader";
            };
            final Double p50Ms = fullSpeedP50Ms.get(entry.getKey() + "-" + run);
            throughputRows.add(ClusterFigures.row(shape + ", " + what, whole(entry.getValue()),
                entry.getKey().equals(CLUSTER) ? "" : ClusterFigures.ratio(cluster / entry.getValue()),
                null == p50Ms ? "n/a" : String.format(Locale.ROOT, "%.1f", p50Ms), note));
        }
    }

    private void latencySection(final Map<String, Map<String, String>> latencies)
    {
        final Map<String, String> cluster = latencies.get(CLUSTER);
        for (final Map.Entry<String, Map<String, String>> entry : latencies.entrySet())
        {
            final Map<String, String> result = entry.getValue();
            final String key = "latency_" + entry.getKey() + "_";
            for (final String percentile : List.of("ack_p50_us", "ack_p99_us", "ack_p99.9_us", "ack_max_us"))
            {
                summary.put(key + percentile.replace(".", ""), ClusterFigures.number(result, percentile));
            }
            summary.put(key + "achieved_records_per_s", ClusterFigures.number(result, "records/s"));
            final String what = switch (entry.getKey())
            {
                case SINGLE -> "single node, in memory";
                case DURABLE -> "single node, durable (sync none)";
                default -> "cluster of 3";
            };
            latencyRows.add(ClusterFigures.row(what, whole(ClusterFigures.number(result, "records/s")),
                whole(ClusterFigures.number(result, "ack_p50_us")), whole(ClusterFigures.number(result, "ack_p99_us")),
                whole(ClusterFigures.number(result, "ack_p99.9_us")), whole(ClusterFigures.number(result, "ack_max_us"))));
        }
        for (final String reference : List.of(SINGLE, DURABLE))
        {
            final Map<String, String> base = latencies.get(reference);
            if (null == base || null == cluster)
            {
                continue;
            }
            final String[] cells = new String[4];
            int i = 0;
            for (final String percentile : List.of("ack_p50_us", "ack_p99_us", "ack_p99.9_us", "ack_max_us"))
            {
                final double ratio = ClusterFigures.number(cluster, percentile) / ClusterFigures.number(base, percentile);
                if (i < 3)
                {
                    summary.put("latency_ratio_cluster_to_" + reference + "_" + percentile.replace("ack_", "")
                        .replace("_us", "").replace(".", ""), ratio);
                }
                cells[i++] = "**" + ClusterFigures.ratio(ratio) + "**";
            }
            latencyRows.add(ClusterFigures.row("cluster ÷ " + (reference.equals(SINGLE) ? "single in memory" :
                "single durable"), "", cells[0], cells[1], cells[2], cells[3]));
        }
    }

    private String writeReport(final boolean complete) throws IOException
    {
        summary.put("complete", complete);
        summary.put("took_s", (System.nanoTime() - startNs) / 1e9);
        Files.writeString(out.resolve("summary.json"), ClusterFigures.json(summary));
        final long heartbeat = heartbeatTimeoutMs > 0 ? heartbeatTimeoutMs :
            ClusterNode.Settings.DEFAULT_LEADER_HEARTBEAT_TIMEOUT_MS;
        final StringBuilder md = new StringBuilder()
            .append("# Spate cluster bench ").append(out.getFileName()).append(complete ? "" : " (INCOMPLETE)")
            .append("\n\n")
            .append("Machine: ").append(summary.get("machine")).append("; JDK ").append(summary.get("jdk"))
            .append(quick ? "; --quick" : "").append(". Three members (`bin/spate node`, each its own JVM with its own ")
            .append("media driver, archive, consensus module and Spate service) on this one machine, ports from ")
            .append(summary.getOrDefault("port_base", "?")).append(", leader heartbeat timeout ").append(heartbeat)
            .append(" ms, sync none; producers are `bin/spate produce` JVMs, 100 records per batch.\n\n")
            .append("**The three members, the single-node pipeline, the producer and its media driver all share the ")
            .append("same ").append(Runtime.getRuntime().availableProcessors()).append(" CPUs here**: every member ")
            .append("applies every record, so each cluster ÷ single ratio below is a floor, not what members on ")
            .append("separate machines give.\n\n");
        if (!throughputRows.isEmpty())
        {
            md.append("## Throughput: acked records/s at full speed\n\n")
                .append("After a warm-up run of ").append(whole(warmupRunRecords)).append(" records per target; each ")
                .append("producer sends ").append(whole(throughputRecords)).append(" measured records after ")
                .append(whole(producerWarmupRecords)).append(" of its own warm-up. The ack p50 is that of the ")
                .append("same full-speed run: the producer keeps a bounded window of batches in flight, so its ")
                .append("records/s is at most that window over the ack latency.\n\n")
                .append("| target | records/s | cluster ÷ this | ack p50 at full speed (ms) | note |\n")
                .append("|---|---:|---:|---:|---|\n");
            throughputRows.forEach(row -> md.append(row).append('\n'));
            md.append('\n');
        }
        if (!latencyRows.isEmpty())
        {
            md.append(String.format(Locale.ROOT, "## Ack latency at %,d records/s offered (µs)%n%n", rate))
                .append(latencySeconds).append(" s measured after the producer's warm-up (").append(whole(producerWarmupRecords))
                .append(" records at full speed, then 1 s at the rate); coordinated-omission corrected (from each ")
                .append("batch's intended send time); User creates.\n\n")
                .append("| target | achieved records/s | p50 | p99 | p99.9 | max |\n|---|---:|---:|---:|---:|---:|\n");
            latencyRows.forEach(row -> md.append(row).append('\n'));
            md.append('\n');
        }
        if (!electionRows.isEmpty())
        {
            md.append(String.format(Locale.ROOT, "## Leader loss: SIGKILL of the leader under %,d records/s (ms)%n%n",
                rate))
                .append("New leader seen: the first poll (every 5 ms) of the survivors' counters (`NodeStatus`) that ")
                .append("shows one in the LEADER role; election closed: the same member's election state CLOSED. ")
                .append("Acks moving again: the longest ack latency the producer recorded after the kill (its batches ")
                .append("sent around the kill waited that long for the new leader; it overstates by at most one ack ")
                .append("latency from before the kill); progress-line bound: the first of the producer's once-a-second ")
                .append("lines after the kill that shows acks growing. Between rounds the killed member is restarted ")
                .append("and waited for until it has applied all the leader has.\n\n")
                .append("| round | killed | new leader | kill → new LEADER seen | kill → election closed | ")
                .append("kill → acks moving again | progress-line bound | batches resent | killed member back and ")
                .append("caught up (s) | note |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
            electionRows.forEach(row -> md.append(row).append('\n'));
            md.append('\n');
        }
        if (!catchUpRows.isEmpty())
        {
            md.append("## Catch-up of a restarted follower\n\n")
                .append("A follower SIGKILLed, the other two taking creates at full speed meanwhile, then it is ")
                .append("restarted once the producer is done: it first replays its own log, then takes in what it ")
                .append("missed from the leader. The rate is over the window from its first new log entry (its ")
                .append("append position past where it died) to the moment it has applied all the leader has.\n\n")
                .append("| down (s) | log bytes behind | records behind | restart → up (s) | restart → caught up (s) | ")
                .append("catch-up window (s) | MB/s | records/s |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n");
            catchUpRows.forEach(row -> md.append(row).append('\n'));
            md.append('\n');
        }
        if (!notes.isEmpty() || summary.containsKey("error"))
        {
            md.append("## Notes\n\n");
            notes.forEach(note -> md.append("- ").append(note.replace("\n", "\n  ")).append('\n'));
            if (summary.containsKey("error"))
            {
                md.append("- stopped by an error: ").append(summary.get("error")).append(" (logs in `logs/`)\n");
            }
            md.append('\n');
        }
        Files.writeString(out.resolve("summary.md"), md.toString());
        return md.toString();
    }

    private String summaryLine(final boolean complete)
    {
        return String.format(Locale.ROOT,
            "bench-cluster: %screates cluster=%s single=%s single_durable=%s records/s ratio=%s ratio_durable=%s " +
            "ack_p50/p99/p99.9_at_%d cluster=%s/%s/%s us single=%s/%s/%s us p99_ratio=%s election_leader_seen_median=%s ms " +
            "election_acks_moving_median=%s ms catch_up=%s MB/s %s records/s out=%s took=%.0fs",
            complete ? "" : "INCOMPLETE ",
            whole(number("cluster_creates_records_per_s")), whole(number("single_creates_records_per_s")),
            whole(number("durable_creates_records_per_s")), ClusterFigures.ratio(number("creates_ratio_cluster_to_single")),
            ClusterFigures.ratio(number("creates_ratio_cluster_to_single_durable")), rate,
            whole(number("latency_cluster_ack_p50_us")), whole(number("latency_cluster_ack_p99_us")),
            whole(number("latency_cluster_ack_p999_us")), whole(number("latency_single_ack_p50_us")),
            whole(number("latency_single_ack_p99_us")), whole(number("latency_single_ack_p999_us")),
            ClusterFigures.ratio(number("latency_ratio_cluster_to_single_p99")),
            whole(number("election_leader_seen_median_ms")), whole(number("election_acks_moving_median_ms")),
            String.format(Locale.ROOT, "%.1f", number("catch_up_log_bytes_per_s") / 1e6),
            whole(number("catch_up_records_per_s")), out, (System.nanoTime() - startNs) / 1e9);
    }

    private double number(final String key)
    {
        return summary.get(key) instanceof Number number ? number.doubleValue() : Double.NaN;
    }

    private static String whole(final double value)
    {
        return ClusterFigures.whole(value);
    }

    private void progress(final String what)
    {
        System.out.printf(Locale.ROOT, "bench-cluster [%d/%d, %.0f s] %s%n", ++step, steps,
            (System.nanoTime() - startNs) / 1e9, what);
    }

    private static void sleepNanos(final long nanos)
    {
        LockSupport.parkNanos(nanos);
    }

    private static String oneLine(final Throwable error)
    {
        final String message = null == error.getMessage() ? error.toString() : error.getMessage();
        return message.replace('\n', ' ').replace('\r', ' ');
    }
}
