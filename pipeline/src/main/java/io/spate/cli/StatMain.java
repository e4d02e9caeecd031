package io.spate.cli;

import io.aeron.CncFileDescriptor;
import io.aeron.CommonContext;
import io.spate.cli.CliSupport.CliException;
import io.spate.cli.CliSupport.Options;
import io.spate.cli.CliSupport.UsageException;
import io.spate.cluster.NodeStatus;
import io.spate.pipeline.PipelineCounters;
import io.spate.pipeline.StoreCounters;
import org.agrona.IoUtil;
import org.agrona.concurrent.status.CountersReader;

import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.LongSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * {@code bin/spate stat}: a live view of the pipeline's counters, read from another process the way
 * AeronStat does: the driver's CnC file ({@code cnc.dat} in the Aeron directory) is mapped read-only
 * and its counters are read with a {@link CountersReader}. Spate's counters are found by type id
 * ({@link PipelineCounters}); a worker's index comes from its label ("spate worker N ..."), and
 * counters are grouped by the Aeron client that owns them, so two pipelines on one driver show apart.
 * <p>
 * Each refresh prints a header line, one row per worker (position, done batch, records/s over the
 * last interval, records applied, errors) and one conductor row. {@code --once} takes two samples an
 * interval apart (for the rates), prints one snapshot and exits: 0, or 1 when no pipeline runs. No
 * driver (or no CnC file): one line, exit 1.
 * <p>
 * With {@code --cluster ROOT} (every {@code ROOT/node-*}) or {@code --node DIR} (repeatable) it watches the
 * nodes of a replicated Spate cluster instead: each node directory's {@code node.properties} names the node's
 * own Aeron directory, read into a {@link NodeStatus}; each refresh prints a header (nodes, how many are up,
 * the leader, its term and commit position) and one row per node (role, consensus module and election state,
 * term, commit and append positions, lag behind the leader's commit position, batches and records applied with
 * their rates, errors, then Spate's other service counters). {@code --once} exits 1 when no node is up.
 */
public final class StatMain
{
    static final String PREFIX = "stat: ";
    static final long DEFAULT_INTERVAL_MS = 1_000;

    static final String COMMAND = "stat";
    static final long MIN_INTERVAL_MS = 10;

    static final String USAGE = String.join(System.lineSeparator(),
        "Usage: bin/spate stat [--dir DIR] [--once] [--interval-ms N]",
        "       bin/spate stat --cluster ROOT | --node DIR [--node DIR ...] [--once] [--interval-ms N]",
        "Live view of the pipeline's counters, read from the media driver's CnC file (like AeronStat). Per",
        "pipeline on the driver, each refresh prints a header 'stat: TIME dir=.. pipeline=.. workers=..', one row",
        "per worker (position, assigned_batch, done_batch, records/s, applied, errors, stalls, report_retries,",
        "STALLED when stalled), the conductor row (records_in, records_in/s, batches, buffer_free_bytes,",
        "copy_mode, back_pressure, rejected, acks, barriers, agent_errors) and the sessions row (open, closed,",
        "answers_waiting_bytes, answers_discarded, response_retries, dispatch_retries), one store row per type",
        "('store TYPE:' live, free_slots, retired_slots, arena_live_bytes, arena_free_bytes, arena_reserved_bytes,",
        "compactions) and the log row (position, recorded, unrecorded_bytes, retries, snapshots, snapshot_position;",
        "'none' in memory); plain digits.",
        "Cluster nodes (--cluster or --node; each node's node.properties names its own Aeron directory): each",
        "refresh prints a header 'stat: TIME [cluster=ROOT] nodes=.. up=.. leader=ID term=.. commit=..'",
        "(leader=none when none of the nodes shown is an up leader) and one row per node: 'node ID:",
        "role=LEADER|FOLLOWER|CANDIDATE state=.. election=.. term=.. commit=.. append=.. lag_bytes=.. batches=..",
        "batches/s=.. records=.. records/s=.. errors=.. leader_change_warnings=.. elections=.. snapshots=.. pid=..',",
        "then Spate's other service counters as label=value, and its store rows as above. lag_bytes is the leader's",
        "commit position minus the node's (0 on the leader; no_leader without one); append is the node's recording",
        "of the cluster log; errors adds up the consensus module's, service container's and archive's error",
        "counters; leader_change_warnings counts what the consensus module reports of a normal leader change (a",
        "leader heartbeat timeout, a new leader seen), which is no error (each is a line 'node N: warning: leader",
        "change: ...' in the node's output; Aeron's ClusterTool DIR/cluster errors lists both); 'none': no such",
        "counter yet. A node that is not up is 'node ID: role=DOWN pid=.. reason: ..' (no process, no CnC file,",
        "or a driver heartbeat older than " + CliSupport.DRIVER_HEARTBEAT_TIMEOUT_MS + " ms) or role=STARTING " +
            "(driver up, no consensus module counters).",
        "  --dir DIR          Aeron directory of the driver (default: " + CliSupport.DEFAULT_DIR_HELP + ")",
        "  --cluster ROOT     watch the cluster nodes in ROOT/node-* (as 'bin/spate cluster --data ROOT' makes them)",
        "  --node DIR         watch the cluster node in DIR; repeat for more nodes",
        "  --once             print one snapshot (rates over one interval) and exit; exit 1 when no pipeline runs",
        "                     (with --cluster or --node: when no node is up)",
        "  --interval-ms N    refresh interval, " + MIN_INTERVAL_MS + ".." + CliSupport.MAX_TIMEOUT_MS + " (default " +
            DEFAULT_INTERVAL_MS + ")",
        "  --help             print this help and exit",
        CliSupport.exitStatusHelp(COMMAND, "no media driver in DIR, or (--once) no pipeline on it;" +
            System.lineSeparator() + "with --cluster or --node: no such directory, or (--once) no node up"));

    static final String CLUSTER_OPTION = "--cluster";
    static final String NODE_OPTION = "--node";
    /** Most node directories one view watches: --node given more often, or more ROOT/node-*, is refused. */
    static final int NODES_MAX = 64;
    private static final String NODE_DIRECTORY_PREFIX = "node-";

    private static final Pattern WORKER_LABEL = Pattern.compile("spate worker (\\d+) ");
    private static final Pattern STORE_LABEL = Pattern.compile("spate store (\\S+) ");

    private StatMain()
    {
    }

    public static void main(final String[] args)
    {
        final int status = run(args, System.out, System.err);
        System.out.flush();
        System.err.flush();
        System.exit(status);
    }

    /** Counters of one worker, by the worker's index. */
    static final class Worker
    {
        long position;
        long doneBatch;
        long applied;
        long errors;
        long assignedBatch;
        long stalled;
        long stalls;
        long reportRetries;
    }

    /** Spate's counters owned by one Aeron client: one pipeline. */
    static final class PipelineView
    {
        final long ownerId;
        final TreeMap<Integer, Worker> workers = new TreeMap<>();
        final Map<Integer, Long> conductor = new HashMap<>();
        /** Per type name, in the schema's order, the store's figures by StoreCounters type id - FIRST_TYPE_ID. */
        final Map<String, long[]> storeTypes = new java.util.LinkedHashMap<>();

        PipelineView(final long ownerId)
        {
            this.ownerId = ownerId;
        }

        long conductor(final int typeId)
        {
            return conductor.getOrDefault(typeId, 0L);
        }
    }

    /** One reading of the CnC file. */
    record Snapshot(long timeNs, Instant time, Map<Long, PipelineView> pipelines)
    {
    }

    static int run(final String[] args, final PrintStream out, final PrintStream err)
    {
        if (CliSupport.wantsHelp(args))
        {
            out.println(USAGE);
            return CliSupport.EXIT_OK;
        }
        final String directory;
        final boolean once;
        final long intervalMs;
        final ClusterTarget clusterTarget;
        try
        {
            final List<String> nodeDirectories = new ArrayList<>();
            final Set<String> withValue = Set.of("--dir", "--interval-ms", CLUSTER_OPTION);
            final String[] rest = takeRepeated(args, NODE_OPTION, withValue, nodeDirectories);
            final Options options = new Options(rest, withValue, Set.of("--once"));
            if (!options.positionals().isEmpty())
            {
                throw new UsageException("unexpected argument '" + options.positionals().get(0) + "'");
            }
            if (options.has(CLUSTER_OPTION) && !nodeDirectories.isEmpty())
            {
                throw new UsageException(CLUSTER_OPTION + " and " + NODE_OPTION + " do not go together");
            }
            if (options.has("--dir") && (options.has(CLUSTER_OPTION) || !nodeDirectories.isEmpty()))
            {
                throw new UsageException("--dir is for a pipeline's driver; a cluster node's node.properties names " +
                    "its own");
            }
            if (nodeDirectories.size() > NODES_MAX)
            {
                throw new UsageException(NODE_OPTION + " is given more than " + NODES_MAX + " times");
            }
            clusterTarget = options.has(CLUSTER_OPTION) ? new ClusterTarget(options.get(CLUSTER_OPTION, ""), List.of()) :
                nodeDirectories.isEmpty() ? null : new ClusterTarget(null, List.copyOf(nodeDirectories));
            directory = options.get("--dir", CliSupport.defaultAeronDirectory());
            once = options.has("--once");
            intervalMs = options.getLong("--interval-ms", DEFAULT_INTERVAL_MS, MIN_INTERVAL_MS, CliSupport.MAX_TIMEOUT_MS);
        }
        catch (final UsageException ex)
        {
            return CliSupport.usageError(err, COMMAND, ex);
        }
        if (null != clusterTarget)
        {
            return runCluster(clusterTarget, once, intervalMs, out, err,
                (nodeDirectory) -> NodeStatus.read(nodeDirectory, CliSupport.DRIVER_HEARTBEAT_TIMEOUT_MS,
                    System.currentTimeMillis()),
                System::nanoTime);
        }

        try
        {
            Snapshot previous = read(directory);
            boolean waitingShown = false;
            while (true)
            {
                sleep(intervalMs);
                final Snapshot current = read(directory);
                if (current.pipelines().isEmpty())
                {
                    if (once)
                    {
                        return CliSupport.failure(err, COMMAND, "no pipeline counters in " + directory +
                            " (is the pipeline running on this driver?)");
                    }
                    if (!waitingShown)
                    {
                        out.println(PREFIX + "no pipeline counters in " + directory + " yet; waiting for a pipeline");
                        waitingShown = true;
                    }
                }
                else
                {
                    waitingShown = false;
                    print(out, directory, previous, current);
                }
                if (once)
                {
                    return CliSupport.EXIT_OK;
                }
                previous = current;
            }
        }
        catch (final CliException ex)
        {
            return CliSupport.failure(err, COMMAND, ex.getMessage());
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            return CliSupport.failure(err, COMMAND, "interrupted");
        }
    }

    private static void sleep(final long ms) throws InterruptedException
    {
        Thread.sleep(ms);
    }

    /**
     * Maps the CnC file read-only, checks the driver is alive, and reads Spate's counters.
     *
     * @throws CliException when there is no CnC file, an incompatible one, or no live driver.
     */
    /**
     * What the store of the (first) pipeline on a running driver holds, per type: its {@link StoreCounters} figures,
     * indexed by type id - {@link StoreCounters#FIRST_TYPE_ID}. For benchmarks and tests that watch a pipeline
     * in another process.
     *
     * @param directory the driver's Aeron directory.
     * @return per type name, in the schema's order; empty when no pipeline runs there.
     * @throws CliException when the driver cannot be read.
     */
    public static Map<String, long[]> storeFigures(final String directory)
    {
        for (final PipelineView view : read(directory).pipelines().values())
        {
            if (!view.storeTypes.isEmpty())
            {
                return view.storeTypes;
            }
        }
        return Map.of();
    }

    static Snapshot read(final String directory)
    {
        final File cncFile = new File(directory, CncFileDescriptor.CNC_FILE);
        if (!cncFile.isFile() || cncFile.length() < CncFileDescriptor.END_OF_METADATA_OFFSET)
        {
            throw new CliException("no media driver in " + new File(directory).getAbsolutePath() + " (no " +
                CncFileDescriptor.CNC_FILE + "); start one with 'bin/spate driver --dir " + directory +
                "' or pass the --dir the driver uses");
        }
        final MappedByteBuffer cnc;
        try
        {
            cnc = IoUtil.mapExistingFile(cncFile, FileChannel.MapMode.READ_ONLY, CncFileDescriptor.CNC_FILE);
        }
        catch (final RuntimeException ex)
        {
            throw new CliException("cannot map " + cncFile + ": " + CliSupport.oneLine(ex));
        }
        try
        {
            final org.agrona.concurrent.UnsafeBuffer metaData = CncFileDescriptor.createMetaDataBuffer(cnc);
            final int version = metaData.getIntVolatile(CncFileDescriptor.cncVersionOffset(0));
            if (0 == version)
            {
                throw new CliException("the media driver in " + directory + " has not finished starting; retry");
            }
            try
            {
                CncFileDescriptor.checkVersion(version);
            }
            catch (final RuntimeException ex)
            {
                throw new CliException("the CnC file in " + directory + " is of another Aeron version: " +
                    CliSupport.oneLine(ex));
            }
            final boolean active;
            try
            {
                active = CommonContext.isDriverActive(CliSupport.DRIVER_HEARTBEAT_TIMEOUT_MS, (message) -> {}, cnc);
            }
            catch (final RuntimeException ex)
            {
                throw new CliException("cannot tell whether the media driver in " + directory + " is alive: " +
                    CliSupport.oneLine(ex));
            }
            if (!active)
            {
                throw new CliException("the media driver in " + directory + " is not running (its heartbeat is " +
                    "older than " + CliSupport.DRIVER_HEARTBEAT_TIMEOUT_MS + " ms); start it with 'bin/spate driver " +
                    "--dir " + directory + "'");
            }
            final CountersReader counters = new CountersReader(
                CncFileDescriptor.createCountersMetaDataBuffer(cnc, metaData),
                CncFileDescriptor.createCountersValuesBuffer(cnc, metaData),
                StandardCharsets.US_ASCII);
            return new Snapshot(System.nanoTime(), Instant.now(), collect(counters));
        }
        finally
        {
            IoUtil.unmap(cnc);
        }
    }

    /**
     * @return Spate's counters grouped by the Aeron client that owns them.
     */
    static Map<Long, PipelineView> collect(final CountersReader counters)
    {
        final Map<Long, PipelineView> pipelines = new TreeMap<>();
        counters.forEach((counterId, typeId, keyBuffer, label) ->
        {
            if (typeId >= StoreCounters.FIRST_TYPE_ID && typeId <= StoreCounters.LAST_TYPE_ID)
            {
                final Matcher matcher = STORE_LABEL.matcher(label);
                if (matcher.lookingAt())
                {
                    pipelines.computeIfAbsent(counters.getCounterOwnerId(counterId), PipelineView::new).storeTypes
                        .computeIfAbsent(matcher.group(1), (name) -> new long[StoreCounters.LAST_TYPE_ID -
                        StoreCounters.FIRST_TYPE_ID + 1])[typeId - StoreCounters.FIRST_TYPE_ID] =
                        counters.getCounterValue(counterId);
                }
                return;
            }
            if (typeId < PipelineCounters.WORKER_POSITION_TYPE_ID || typeId > PipelineCounters.SNAPSHOT_POSITION_TYPE_ID ||
                typeId == PipelineCounters.PIPELINE_INSTANCE_TYPE_ID)
            {
                return;
            }
            final long value = counters.getCounterValue(counterId);
            final PipelineView view = pipelines.computeIfAbsent(counters.getCounterOwnerId(counterId), PipelineView::new);
            switch (typeId)
            {
                case PipelineCounters.WORKER_POSITION_TYPE_ID, PipelineCounters.WORKER_DONE_BATCH_TYPE_ID,
                    PipelineCounters.WORKER_RECORDS_APPLIED_TYPE_ID, PipelineCounters.WORKER_ERRORS_TYPE_ID,
                    PipelineCounters.WORKER_ASSIGNED_BATCH_TYPE_ID, PipelineCounters.WORKER_STALLED_TYPE_ID,
                    PipelineCounters.WORKER_STALLS_TYPE_ID, PipelineCounters.WORKER_REPORT_RETRIES_TYPE_ID ->
                {
                    final Matcher matcher = WORKER_LABEL.matcher(label);
                    if (!matcher.lookingAt())
                    {
                        return;
                    }
                    final Worker worker = view.workers.computeIfAbsent(Integer.parseInt(matcher.group(1)),
                        (index) -> new Worker());
                    switch (typeId)
                    {
                        case PipelineCounters.WORKER_POSITION_TYPE_ID -> worker.position = value;
                        case PipelineCounters.WORKER_DONE_BATCH_TYPE_ID -> worker.doneBatch = value;
                        case PipelineCounters.WORKER_RECORDS_APPLIED_TYPE_ID -> worker.applied = value;
                        case PipelineCounters.WORKER_ASSIGNED_BATCH_TYPE_ID -> worker.assignedBatch = value;
                        case PipelineCounters.WORKER_STALLED_TYPE_ID -> worker.stalled = value;
                        case PipelineCounters.WORKER_STALLS_TYPE_ID -> worker.stalls = value;
                        case PipelineCounters.WORKER_REPORT_RETRIES_TYPE_ID -> worker.reportRetries = value;
                        default -> worker.errors = value;
                    }
                }
                default -> view.conductor.merge(typeId, value, Long::sum);
            }
        });
        return pipelines;
    }

    private static void print(final PrintStream out, final String directory, final Snapshot previous, final Snapshot current)
    {
        final double seconds = Math.max(1e-9, (current.timeNs() - previous.timeNs()) / 1e9);
        final StringBuilder text = new StringBuilder();
        for (final PipelineView view : current.pipelines().values())
        {
            final PipelineView before = previous.pipelines().get(view.ownerId);
            text.append(String.format(Locale.ROOT, "%s%s dir=%s pipeline=%d workers=%d%n", PREFIX,
                current.time().truncatedTo(ChronoUnit.MILLIS), directory, view.ownerId, view.workers.size()));
            for (final Map.Entry<Integer, Worker> entry : view.workers.entrySet())
            {
                final Worker worker = entry.getValue();
                final Worker old = null == before ? null : before.workers.get(entry.getKey());
                final double rate = null == old ? 0 : Math.max(0, worker.applied - old.applied) / seconds;
                text.append(String.format(Locale.ROOT,
                    "  worker %d: position=%d assigned_batch=%d done_batch=%d records/s=%.0f applied=%d errors=%d " +
                    "stalls=%d report_retries=%d%s%n",
                    entry.getKey(), worker.position, worker.assignedBatch, worker.doneBatch, rate, worker.applied,
                    worker.errors, worker.stalls, worker.reportRetries, worker.stalled != 0 ? " STALLED" : ""));
            }
            final long recordsIn = view.conductor(PipelineCounters.CONDUCTOR_RECORDS_IN_TYPE_ID);
            final double inRate = null == before ? 0 :
                Math.max(0, recordsIn - before.conductor(PipelineCounters.CONDUCTOR_RECORDS_IN_TYPE_ID)) / seconds;
            text.append(String.format(Locale.ROOT,
                "  conductor: records_in=%d records_in/s=%.0f batches=%d buffer_free_bytes=%d copy_mode=%d " +
                "back_pressure=%d rejected=%d acks=%d barriers=%d agent_errors=%d%n" +
                "  sessions: open=%d closed=%d answers_waiting_bytes=%d answers_discarded=%d response_retries=%d " +
                "dispatch_retries=%d resumed=%d resends_answered=%d resends_in_flight=%d resends_forgotten=%d%n",
                recordsIn, inRate,
                view.conductor(PipelineCounters.CONDUCTOR_BATCHES_TYPE_ID),
                view.conductor(PipelineCounters.CONDUCTOR_BUFFER_BYTES_FREE_TYPE_ID),
                view.conductor(PipelineCounters.CONDUCTOR_COPY_MODE_DISPATCHES_TYPE_ID),
                view.conductor(PipelineCounters.CONDUCTOR_BACK_PRESSURE_EVENTS_TYPE_ID),
                view.conductor(PipelineCounters.CONDUCTOR_REJECTED_MESSAGES_TYPE_ID),
                view.conductor(PipelineCounters.CONDUCTOR_ACKS_SENT_TYPE_ID),
                view.conductor(PipelineCounters.CONDUCTOR_BARRIER_DISPATCHES_TYPE_ID),
                view.conductor(PipelineCounters.PIPELINE_AGENT_ERRORS_TYPE_ID),
                view.conductor(PipelineCounters.CONDUCTOR_SESSIONS_OPEN_TYPE_ID),
                view.conductor(PipelineCounters.CONDUCTOR_SESSIONS_CLOSED_TYPE_ID),
                view.conductor(PipelineCounters.CONDUCTOR_EGRESS_BACKLOG_BYTES_TYPE_ID),
                view.conductor(PipelineCounters.CONDUCTOR_ANSWERS_DISCARDED_TYPE_ID),
                view.conductor(PipelineCounters.CONDUCTOR_EGRESS_RETRIES_TYPE_ID),
                view.conductor(PipelineCounters.CONDUCTOR_DISPATCH_RETRIES_TYPE_ID),
                view.conductor(PipelineCounters.CONDUCTOR_SESSIONS_RESUMED_TYPE_ID),
                view.conductor(PipelineCounters.CONDUCTOR_RESENDS_ANSWERED_TYPE_ID),
                view.conductor(PipelineCounters.CONDUCTOR_RESENDS_PENDING_TYPE_ID),
                view.conductor(PipelineCounters.CONDUCTOR_RESENDS_FORGOTTEN_TYPE_ID)));
            appendStoreRows(text, view.storeTypes);
            final long logPosition = view.conductor(PipelineCounters.LOG_POSITION_TYPE_ID);
            if (logPosition == 0 && view.conductor(PipelineCounters.SNAPSHOTS_TYPE_ID) == 0)
            {
                text.append("  log: none (in-memory: acks mean applied)").append(System.lineSeparator());
            }
            else
            {
                final long recorded = view.conductor(PipelineCounters.LOG_RECORDED_POSITION_TYPE_ID);
                text.append(String.format(Locale.ROOT,
                    "  log: position=%d recorded=%d unrecorded_bytes=%d retries=%d snapshots=%d snapshot_position=%d%n",
                    logPosition, recorded, Math.max(0, logPosition - recorded),
                    view.conductor(PipelineCounters.LOG_RETRIES_TYPE_ID),
                    view.conductor(PipelineCounters.SNAPSHOTS_TYPE_ID),
                    view.conductor(PipelineCounters.SNAPSHOT_POSITION_TYPE_ID)));
            }
        }
        out.print(text);
        out.flush();
    }

    /**
     * Takes every {@code NAME VALUE} and {@code NAME=VALUE} out of the command line, so an option may be given
     * more than once; the values of the other options that take one are skipped over, not mistaken for it.
     *
     * @return the command line without them.
     * @throws UsageException when the option has no value.
     */
    static String[] takeRepeated(
        final String[] args, final String name, final Set<String> otherWithValue, final List<String> values)
    {
        final List<String> rest = new ArrayList<>();
        for (int i = 0; i < args.length; i++)
        {
            final String arg = args[i];
            if (arg.equals(name) || arg.startsWith(name + "="))
            {
                final String value = arg.equals(name) ? (i + 1 < args.length ? args[++i] : "") :
                    arg.substring(name.length() + 1);
                if (value.isBlank())
                {
                    throw new UsageException(name + " needs a value");
                }
                values.add(value);
                continue;
            }
            rest.add(arg);
            if (otherWithValue.contains(arg) && i + 1 < args.length)
            {
                rest.add(args[++i]);
            }
        }
        return rest.toArray(new String[0]);
    }

    /**
     * The nodes to watch: every {@code root/node-*}, or the directories given.
     *
     * @param root        the cluster's data directory, or null.
     * @param directories the node directories given with --node (empty with a root).
     */
    record ClusterTarget(String root, List<String> directories)
    {
        /**
         * @return the node directories now (a root's node-* directories can come and go), sorted by name.
         * @throws CliException when the root or a node directory given is no directory.
         */
        List<Path> nodeDirectories()
        {
            if (null == root)
            {
                final List<Path> nodes = new ArrayList<>();
                for (final String directory : directories)
                {
                    final Path path = Path.of(directory);
                    if (!Files.isDirectory(path))
                    {
                        throw new CliException("no node directory " + path.toAbsolutePath() + " (no such directory)");
                    }
                    nodes.add(path);
                }
                return nodes;
            }
            final Path rootPath = Path.of(root);
            if (!Files.isDirectory(rootPath))
            {
                throw new CliException("no cluster in " + rootPath.toAbsolutePath() + " (no such directory); start " +
                    "one with 'bin/spate cluster --data " + root + "'");
            }
            final List<Path> nodes;
            try (Stream<Path> entries = Files.list(rootPath))
            {
                nodes = entries
                    .filter((path) -> path.getFileName().toString().startsWith(NODE_DIRECTORY_PREFIX) &&
                        Files.isDirectory(path))
                    .sorted()
                    .limit(NODES_MAX + 1)
                    .toList();
            }
            catch (final IOException | RuntimeException ex)
            {
                throw new CliException("cannot list " + rootPath.toAbsolutePath() + ": " + CliSupport.oneLine(ex));
            }
            if (nodes.size() > NODES_MAX)
            {
                throw new CliException("more than " + NODES_MAX + " node directories (" + NODE_DIRECTORY_PREFIX +
                    "*) in " + rootPath.toAbsolutePath() + "; name the ones to watch with --node");
            }
            return nodes;
        }

        /**
         * @return how the nodes are named in messages.
         */
        String describe()
        {
            return null == root ? String.join(", ", directories) : root;
        }
    }

    /** Reads one node directory; a parameter so tests can judge heartbeats by a clock of their own. */
    @FunctionalInterface
    interface NodeReader
    {
        NodeStatus read(Path nodeDirectory);
    }

    /**
     * One reading of every node.
     *
     * @param timeNs when ({@link System#nanoTime()}), for the rates.
     * @param time   when, for the header.
     * @param nodes  by member id (unknown ids last), then directory.
     */
    record ClusterSample(long timeNs, Instant time, List<NodeStatus> nodes)
    {
        /**
         * @return the node that leads: of the nodes up as leader, the one in the highest term (an old leader
         * cut off from the others may still call itself leader for a while); null when none is.
         */
        NodeStatus leader()
        {
            NodeStatus leader = null;
            for (final NodeStatus node : nodes)
            {
                if (node.role() == NodeStatus.Role.LEADER &&
                    (null == leader || node.leadershipTermId() > leader.leadershipTermId() ||
                    (node.leadershipTermId() == leader.leadershipTermId() &&
                    node.commitPosition() > leader.commitPosition())))
                {
                    leader = node;
                }
            }
            return leader;
        }

        long upCount()
        {
            return nodes.stream().filter((node) -> node.role().isUp()).count();
        }
    }

    static int runCluster(
        final ClusterTarget target,
        final boolean once,
        final long intervalMs,
        final PrintStream out,
        final PrintStream err,
        final NodeReader reader,
        final LongSupplier nanoClock)
    {
        try
        {
            ClusterSample previous = sample(target, reader, nanoClock);
            boolean waitingShown = false;
            while (true)
            {
                sleep(intervalMs);
                final ClusterSample current = sample(target, reader, nanoClock);
                if (current.nodes().isEmpty())
                {
                    final String none = "no node directories (" + NODE_DIRECTORY_PREFIX + "N) in " + target.describe();
                    if (once)
                    {
                        return CliSupport.failure(err, COMMAND, none + "; start a cluster with 'bin/spate cluster " +
                            "--data " + target.describe() + "'");
                    }
                    if (!waitingShown)
                    {
                        out.println(PREFIX + none + " yet; waiting for a cluster");
                        waitingShown = true;
                    }
                }
                else
                {
                    waitingShown = false;
                    out.print(formatCluster(target, previous, current));
                    out.flush();
                }
                if (once)
                {
                    return current.upCount() > 0 ? CliSupport.EXIT_OK : CliSupport.failure(err, COMMAND,
                        "no cluster node is up in " + target.describe());
                }
                previous = current;
            }
        }
        catch (final CliException ex)
        {
            return CliSupport.failure(err, COMMAND, ex.getMessage());
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            return CliSupport.failure(err, COMMAND, "interrupted");
        }
    }

    static ClusterSample sample(final ClusterTarget target, final NodeReader reader, final LongSupplier nanoClock)
    {
        final List<Path> directories = target.nodeDirectories();
        final List<NodeStatus> nodes = new ArrayList<>(directories.size());
        for (final Path directory : directories)
        {
            nodes.add(reader.read(directory));
        }
        nodes.sort(Comparator
            .comparingLong((NodeStatus node) -> NodeStatus.NULL_VALUE == node.memberId() ? Long.MAX_VALUE :
                node.memberId())
            .thenComparing(NodeStatus::directory));
        return new ClusterSample(nanoClock.getAsLong(), Instant.now(), nodes);
    }

    /**
     * @return the header and one row per node; rates against the same node (same driver start) in the
     * previous sample, 0 without one.
     */
    static String formatCluster(final ClusterTarget target, final ClusterSample previous, final ClusterSample current)
    {
        final double seconds = Math.max(1e-9, (current.timeNs() - previous.timeNs()) / 1e9);
        final NodeStatus leader = current.leader();
        final StringBuilder text = new StringBuilder();
        text.append(PREFIX).append(current.time().truncatedTo(ChronoUnit.MILLIS));
        if (null != target.root())
        {
            text.append(" cluster=").append(target.root());
        }
        text.append(" nodes=").append(current.nodes().size()).append(" up=").append(current.upCount());
        if (null == leader)
        {
            text.append(" leader=none");
        }
        else
        {
            text.append(" leader=").append(memberIdText(leader)).append(" term=").append(leader.leadershipTermId())
                .append(" commit=").append(orNone(leader.commitPosition()));
        }
        text.append(System.lineSeparator());
        for (final NodeStatus node : current.nodes())
        {
            text.append("  node ").append(memberIdText(node)).append(':');
            if (NodeStatus.NULL_VALUE == node.memberId())
            {
                text.append(" dir=").append(node.directory());
            }
            if (!node.role().isUp())
            {
                text.append(" role=").append(node.role()).append(" pid=").append(orNone(node.pid()))
                    .append(" reason: ").append(node.reason()).append(System.lineSeparator());
                continue;
            }
            final NodeStatus before = sameNode(previous, node);
            text.append(" role=").append(node.role())
                .append(" state=").append(node.moduleState().isEmpty() ? "none" : node.moduleState())
                .append(" election=").append(node.electionState().isEmpty() ? "none" : node.electionState())
                .append(" term=").append(node.leadershipTermId())
                .append(" commit=").append(orNone(node.commitPosition()))
                .append(" append=").append(orNone(node.appendPosition()))
                .append(" lag_bytes=").append(lagText(leader, node))
                .append(" batches=").append(orNone(node.batchesApplied()))
                .append(" batches/s=").append(rate(node.batchesApplied(),
                    null == before ? NodeStatus.NULL_VALUE : before.batchesApplied(), seconds))
                .append(" records=").append(orNone(node.recordsApplied()))
                .append(" records/s=").append(rate(node.recordsApplied(),
                    null == before ? NodeStatus.NULL_VALUE : before.recordsApplied(), seconds))
                .append(" errors=").append(node.errors())
                .append(" leader_change_warnings=").append(node.leaderChangeWarnings())
                .append(" elections=").append(node.electionCount())
                .append(" snapshots=").append(node.snapshotCount())
                .append(" pid=").append(orNone(node.pid()));
            final Map<String, long[]> storeTypes = new java.util.LinkedHashMap<>();
            for (final NodeStatus.ServiceCounter counter : node.serviceCounters())
            {
                if (counter.typeId() >= StoreCounters.FIRST_TYPE_ID && counter.typeId() <= StoreCounters.LAST_TYPE_ID)
                {
                    final Matcher matcher = STORE_LABEL.matcher(counter.label());
                    if (matcher.lookingAt())
                    {
                        storeTypes.computeIfAbsent(matcher.group(1), (name) -> new long[StoreCounters.LAST_TYPE_ID -
                            StoreCounters.FIRST_TYPE_ID + 1])[counter.typeId() - StoreCounters.FIRST_TYPE_ID] =
                            counter.value();
                    }
                }
                else if (counter.typeId() != NodeStatus.BATCHES_APPLIED_TYPE_ID &&
                    counter.typeId() != NodeStatus.RECORDS_APPLIED_TYPE_ID)
                {
                    text.append(' ').append(counterKey(counter.label())).append('=').append(counter.value());
                }
            }
            text.append(System.lineSeparator());
            appendStoreRows(text, storeTypes);
        }
        return text.toString();
    }

    /**
     * @return the node in the previous sample with the same directory and the same driver start, else null.
     */
    private static NodeStatus sameNode(final ClusterSample previous, final NodeStatus node)
    {
        for (final NodeStatus old : previous.nodes())
        {
            if (old.directory().equals(node.directory()) && old.role().isUp() &&
                old.driverStartTimestampMs() == node.driverStartTimestampMs())
            {
                return old;
            }
        }
        return null;
    }

    /**
     * @return the leader's commit position minus the node's (never below 0: the nodes are read one after the
     * other, so a follower read last may be a little ahead of the leader read first), or why there is none.
     */
    static String lagText(final NodeStatus leader, final NodeStatus node)
    {
        if (null == leader)
        {
            return "no_leader";
        }
        if (NodeStatus.NULL_VALUE == leader.commitPosition() || NodeStatus.NULL_VALUE == node.commitPosition())
        {
            return "none";
        }
        return Long.toString(leader == node ? 0 : Math.max(0, leader.commitPosition() - node.commitPosition()));
    }

    private static String rate(final long now, final long before, final double seconds)
    {
        if (NodeStatus.NULL_VALUE == now)
        {
            return "none";
        }
        return NodeStatus.NULL_VALUE == before || now < before ? "0" :
            String.format(Locale.ROOT, "%.0f", (now - before) / seconds);
    }

    /**
     * @return a service counter's label as a key: what follows its last ": " without parenthesized remarks
     * ("spate cluster: service role (0 follower ...)" gives service_role), lower case, runs of other characters
     * than letters and digits as one '_'.
     */
    /** One row per type: what the store holds (StoreCounters), indexed by type id - FIRST_TYPE_ID. */
    private static void appendStoreRows(final StringBuilder text, final Map<String, long[]> storeTypes)
    {
        for (final Map.Entry<String, long[]> entry : storeTypes.entrySet())
        {
            final long[] figures = entry.getValue();
            text.append(String.format(Locale.ROOT,
                "  store %s: live=%d free_slots=%d retired_slots=%d arena_live_bytes=%d arena_free_bytes=%d " +
                "arena_reserved_bytes=%d compactions=%d%n", entry.getKey(),
                figures[StoreCounters.LIVE_NODES_TYPE_ID - StoreCounters.FIRST_TYPE_ID],
                figures[StoreCounters.FREE_SLOTS_TYPE_ID - StoreCounters.FIRST_TYPE_ID],
                figures[StoreCounters.RETIRED_SLOTS_TYPE_ID - StoreCounters.FIRST_TYPE_ID],
                figures[StoreCounters.ARENA_LIVE_BYTES_TYPE_ID - StoreCounters.FIRST_TYPE_ID],
                figures[StoreCounters.ARENA_FREE_BYTES_TYPE_ID - StoreCounters.FIRST_TYPE_ID],
                figures[StoreCounters.ARENA_RESERVED_BYTES_TYPE_ID - StoreCounters.FIRST_TYPE_ID],
                figures[StoreCounters.ARENA_COMPACTIONS_TYPE_ID - StoreCounters.FIRST_TYPE_ID]));
        }
    }

    static String counterKey(final String label)
    {
        final int colon = label.lastIndexOf(": ");
        final String name = (colon >= 0 ? label.substring(colon + 2) : label).toLowerCase(Locale.ROOT)
            .replaceAll("\\([^)]*\\)?", " ");
        final String key = name.replaceAll("[^a-z0-9]+", "_").replaceAll("^_+|_+$", "");
        return key.isEmpty() ? "counter" : key;
    }

    private static String memberIdText(final NodeStatus node)
    {
        return NodeStatus.NULL_VALUE == node.memberId() ? "?" : Integer.toString(node.memberId());
    }

    private static String orNone(final long value)
    {
        return NodeStatus.NULL_VALUE == value ? "none" : Long.toString(value);
    }
}
