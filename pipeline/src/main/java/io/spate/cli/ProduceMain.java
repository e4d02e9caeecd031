package io.spate.cli;

import io.aeron.Aeron;
import io.spate.cli.CliSupport.CliException;
import io.spate.cli.CliSupport.Options;
import io.spate.cli.CliSupport.UsageException;
import io.spate.client.SpateClient;
import io.spate.client.SpateClientException;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.FieldDefinition;
import io.spate.codec.TypeDefinition;
import io.spate.driver.DriverConfiguration;
import io.spate.driver.IdleStrategies;
import io.spate.driver.PerformanceProfile;
import io.spate.driver.SpateDriver;
import io.spate.pipeline.PipelineConfiguration;
import io.spate.wire.AckDecoder;
import io.spate.wire.RecordStatus;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.SingleWriterRecorder;
import org.agrona.CloseHelper;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.SleepingMillisIdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

/**
 * {@code bin/spate produce}: a producer application and load generator. It connects a
 * {@link SpateClient} to a running pipeline (through the driver in --dir, or through a driver of its
 * own with --embedded-driver, the remote-producer case over UDP), sends --records records in client
 * batches of --batch-size at --rate records/s (0: as fast as the pipeline takes them), a mix of
 * creates, updates, increments and deletes over the chosen types, and measures the ack latency of
 * every batch with HdrHistogram.
 * <p>
 * Updates, increments and deletes only name nodes this producer created itself and learned from its
 * acks (minus the ones it deleted), so none of them should fail; until it knows a node of the chosen
 * type it creates one. With --rate, latency is measured from each batch's intended send time on the
 * fixed schedule (coordinated omission corrected: a stall delays the schedule's later batches and
 * their latency shows it); without, from the moment the batch was sent.
 * <p>
 * Prints a progress line each second and one summary line starting {@code produce: records=}; the
 * tallies in them are this producer's own ({@code producer_acked=}, {@code producer_failed=},
 * {@code producer_live ...}: what it saw in its acks), not the store's. Exits 0 only when every record
 * was acked and applied; 1 when any record failed (then one line counts them per status:
 * {@code produce: failed records by status: TYPE_FULL=40}), records were lost or unacked, or the
 * pipeline could not be reached; 2 for a bad option or value, one line naming it.
 * <p>
 * With {@code --cluster ENDPOINTS} it writes to a replicated Spate on Aeron Cluster through the client's
 * cluster mode, from a media driver of its own (the nodes' drivers are in other processes and may die): a
 * leader change is handled inside the client (the batches without an ack are sent again), so the run goes on
 * through it; the summary adds {@code leader_changes=}, {@code resent_batches=} and {@code duplicate_acks=}.
 */
public final class ProduceMain
{
    static final String COMMAND = "produce";
    static final String PREFIX = COMMAND + ": ";
    /** How often the progress line and the interval log are written, and how long the reporter sleeps between checks. */
    static final long REPORT_INTERVAL_NS = TimeUnit.SECONDS.toNanos(1);
    static final long REPORTER_IDLE_MS = 20;
    /** After a full-speed warm-up, this many seconds at --rate, unmeasured, before the measured records. */
    static final long SETTLE_SECONDS = 1;
    /** Longest park between polls while waiting for the next send time. */
    static final long MAX_WAIT_PARK_NS = 50_000;
    /** Client batches in flight at once; the pipeline's own default window is 256 batches. */
    static final int MAX_IN_FLIGHT_BATCHES = 256;
    static final int MAX_BATCH_SIZE = 8192;
    static final long DEFAULT_RECORDS = 1_000_000;
    static final long MAX_RATE = 1_000_000_000L;
    static final int DEFAULT_BATCH_SIZE = 100;
    static final long DEFAULT_TIMEOUT_MS = 30_000;
    /** Connecting waits at most this long for the pipeline, whatever --timeout-ms says. */
    static final long MAX_CONNECT_TIMEOUT_MS = 10_000;
    /** Connecting to a cluster waits at most this long (it may be electing its first leader), whatever --timeout-ms says. */
    static final long MAX_CLUSTER_CONNECT_TIMEOUT_MS = 20_000;
    static final String DEFAULT_OPS = "create:70,update:15,increment:10,delete:5";
    static final int MAX_WEIGHT = 1_000_000;
    /**
     * Most created ids kept per type (8 MiB each): the list is allocated once at its size and never grows, so
     * a long or endless run neither allocates while sending nor runs out of heap; when it is full, a new id
     * takes a random one's place (updates, increments and deletes still name only nodes this producer made).
     */
    static final int MAX_KEPT_IDS = 1 << 20;

    static final int CREATE = 0;
    static final int UPDATE = 1;
    static final int INCREMENT = 2;
    static final int DELETE = 3;
    static final List<String> OP_NAMES = List.of("create", "update", "increment", "delete");

    private static final long HIGHEST_LATENCY_NS = TimeUnit.HOURS.toNanos(1);
    private static final int OP_SHIFT = 24;
    private static final int TYPE_MASK = (1 << OP_SHIFT) - 1;

    static final String USAGE = String.join(System.lineSeparator(),
        "Usage: bin/spate produce --schema FILE [options]",
        "A producer and load generator: sends records to a running pipeline, measures ack latency.",
        "  --schema FILE            database schema (JSON) the pipeline runs with (required)",
        "  --dir DIR                Aeron directory of the driver to use (default: " + CliSupport.DEFAULT_DIR_HELP + ")",
        "  --embedded-driver        start a media driver of its own in a fresh temporary directory",
        "                           (the remote producer: give UDP --channel and --response-channel)",
        "  --channel CH             ingress channel of the pipeline (default: " +
            PipelineConfiguration.INGRESS_CHANNEL_PROP + ", else " + PipelineConfiguration.DEFAULT_INGRESS_CHANNEL + ")",
        "  --stream N               ingress stream id (default: " + PipelineConfiguration.INGRESS_STREAM_ID_PROP +
            ", else " + PipelineConfiguration.DEFAULT_INGRESS_STREAM_ID + ")",
        "  --response-channel CH    where acks come back (default aeron:ipc; over UDP e.g.",
        "                           aeron:udp?endpoint=127.0.0.1:40124)",
        "  --records N              records to send, at least 1 (default " + DEFAULT_RECORDS + ")",
        "  --rate R                 records per second on a fixed schedule, 0.." + MAX_RATE +
            "; 0 = as fast as possible (default 0)",
        "  --batch-size N           records per client batch, 1.." + MAX_BATCH_SIZE + " (default " +
            DEFAULT_BATCH_SIZE + "); a batch must fit",
        "                           the pipeline's " + PipelineConfiguration.MAX_BATCH_BYTES_PROP,
        "  --types Name:w,...       types to write and their weights, 0..1000000 (default: every type, weight 1)",
        "  --ops create:w,update:w,increment:w,delete:w",
        "                           mix of operations, weights 0..1000000 (default " + DEFAULT_OPS + ");",
        "                           updates, increments and deletes name only nodes this producer created",
        "  --live N                 keep about N nodes of each type live (a churn at a steady live count):",
        "                           while it knows fewer, a delete is sent as a create; while it knows N or more,",
        "                           a create as a delete (if --ops has deletes); 0..786432 (default 0: off)",
        "  --seed S                 random seed (default: random, printed)",
        "  --client-id ID           client id, non-zero (default: random)",
        "  --timeout-ms N           how long to wait for acks at the end, for back pressure to ease, and for",
        "                           a pipeline that went away to come back (connecting at the start waits",
        "                           10 s at most), 1.." + CliSupport.MAX_TIMEOUT_MS + " (default " + DEFAULT_TIMEOUT_MS + ")",
        "  --warmup-records N       first send N records more as fast as they are taken (with --rate, then one",
        "                           second more at the rate), wait for their acks, then the --records at --rate:",
        "                           the JIT warm-up of this process and the pipeline; records/s, latency and the",
        "                           histogram file count --records only (default 0)",
        "  --histogram-file FILE    also write the ack latency histogram (ns) there, HdrHistogram log format",
        "  --secret-file FILE       send this file's bytes (without a trailing newline) as credentials, for a",
        "                           pipeline started with --auth-secret-file (default: none)",
        "  --cluster ENDPOINTS      write to a Spate cluster: its members' ingress endpoints, ID=HOST:PORT,...",
        "                           (e.g. 0=localhost:20002,1=localhost:20102,2=localhost:20202, as bin/spate",
        "                           cluster prints them); starts a media driver of its own in a fresh directory",
        "                           (deleted on start and exit) unless --dir names a running one; not with",
        "                           --channel, --stream, --response-channel. A leader change is handled inside",
        "                           the client (unacked batches sent again, each answered once): the run goes on",
        "  --egress-channel CH      with --cluster: where the cluster's answers come back (default: " +
            SpateClient.Context.CLUSTER_EGRESS_CHANNEL_PROP + ",",
        "                           else " + SpateClient.Context.DEFAULT_CLUSTER_EGRESS_CHANNEL +
            "; a host the nodes reach)",
        "  --help                   print this help and exit",
        "Prints 'produce: sent=.. producer_acked=.. producer_failed=.. records/s=..' each second and a summary line",
        "'produce: records=.. producer_acked=.. producer_failed=.. producer_unacked=.. records/s=.. ack_p50_us=..",
        "ack_p99_us=.. ack_p99.9_us=.. ack_max_us=.. producer_created=.. producer_deleted=..",
        "alloc_bytes_per_record=.. producer_live Type=..', types in the schema's order, plain digits. With --cluster",
        "the progress line adds leader_changes=.. and the summary leader_changes=.. resent_batches=..",
        "duplicate_acks=.. (before alloc_bytes_per_record), and already_applied_records=.. when the cluster",
        "answered a resent batch only with ALREADY_APPLIED (applied once; its ids unknown, not counted as created).",
        "Against a single pipeline the summary adds resumed_sessions=.. resent_batches=.. there: a pipeline that",
        "restarts on its data directory takes the session back, and the batches it had not answered are sent again",
        "(each answered once); the run goes on.",
        "alloc_bytes_per_record: bytes the producing thread allocated (the JVM's per-thread counter) from when",
        "half the records were sent until the last was sent, per record sent meanwhile, 3 decimals (the whole",
        "run when that window holds no batch; -1.000 when the JVM cannot count); 0.000 in steady state.",
        "The producer_ tallies are what this producer saw in its acks, not the store's counts (bin/spate count",
        "TYPE reads those). When any record failed, one more line:",
        "'produce: failed records by status: TYPE_FULL=40 ...' (statuses in the wire schema's order), exit 1.",
        "Exit status: 0 every record acked and applied; 1 a record failed, records lost or unacked, or it failed",
        "(schema file unreadable or invalid, no media driver, no pipeline), one line; 2 bad option or bad value",
        "of a flag or system property, one line naming it.");

    private static final Set<String> VALUE_OPTIONS = Set.of("--schema", "--dir", "--channel", "--stream",
        "--response-channel", "--records", "--warmup-records", "--rate", "--batch-size", "--types", "--ops", "--live", "--seed", "--client-id",
        "--timeout-ms", "--histogram-file", "--secret-file", "--cluster", "--egress-channel");
    private static final Set<String> FLAG_OPTIONS = Set.of("--embedded-driver");

    // Settings.
    private final DatabaseSchema schema;
    private final String schemaFile;
    private final String aeronDirectory;
    private final boolean embeddedDriver;
    private final String channel;
    private final int streamId;
    private final String responseChannel;
    /** --cluster: the members' ingress endpoints, or null (a single pipeline). */
    private final String clusterEndpoints;
    private final String egressChannel;
    /** The client's settings from the system properties, checked with the flags (a bad one: exit 2). */
    private final SpateClient.Context clientContext;
    private final long records;
    private final long warmupRecords;
    /** Ids kept beyond --live: the creates a full in-flight window can add before their acks say so. */
    private static final int LIVE_SLACK_IDS = 1 << 18;
    /** --live: the live count per type the churn holds (0: none). */
    private final long liveTarget;
    /** False while warming up: nothing is measured. */
    private volatile boolean measuring;
    private final long rate;
    private final int batchSize;
    private final TypePlan[] types;
    private final int[] typeWeights;
    private final int typeWeightTotal;
    private final int[] opWeights;
    private final int opWeightTotal;
    private final long seed;
    private final long clientId;
    private final long timeoutMs;
    private final byte[] credentials;
    /** 'p' and a long: the longest string value this producer writes. */
    static final int MAX_STRING_CHARS = 20;
    private final String histogramFile;

    // State of a run.
    private final SplittableRandom random;
    private final Histogram latencyNs = new Histogram(HIGHEST_LATENCY_NS, 3);
    /** This second's latencies, for the interval log (--histogram-file); read by the {@link Reporter}. */
    private final SingleWriterRecorder intervalLatencyNs = new SingleWriterRecorder(HIGHEST_LATENCY_NS, 3);
    private Histogram intervalHistogram;
    private java.io.PrintStream intervalLogStream;
    private org.HdrHistogram.HistogramLogWriter intervalLog;
    /** When the measured run started (epoch ms): the interval log's base time. */
    private volatile long measureStartMs;
    /** What the {@link Reporter} prints, published by the sending thread without a fence. */
    private final AtomicLong reportedSent = new AtomicLong();
    private final AtomicLong reportedAcked = new AtomicLong();
    private final AtomicLong reportedFailed = new AtomicLong();
    private final AtomicLong reportedLeaderChanges = new AtomicLong();
    private final int ringMask;
    private final boolean[] slotBusy;
    private final long[] slotCorrelationId;
    private final long[] slotStartNs;
    private final int[] slotRecords;
    private final int[] recordMeta;
    private final boolean[] failedScratch;
    /** 'p' and the record's sequence number as ASCII digits, rewritten per string value (no String made). */
    private final UnsafeBuffer asciiValue = new UnsafeBuffer(new byte[MAX_STRING_CHARS]);
    /** Whether an update, increment or delete may name a created node: else no id is kept. */
    private final boolean keepCreatedIds;
    /** How blocking waits wait: the profile's ({@value PerformanceProfile#PROFILE_PROP}) agent idle strategy. */
    private final IdleStrategy idle = IdleStrategies.parse(PerformanceProfile.current().agentIdleStrategy());
    /** low-latency profile: wait for the next send time spinning, never parked. */
    private final boolean spinWhileWaiting = PerformanceProfile.current() == PerformanceProfile.LOW_LATENCY;
    private SpateClient client;
    private long nextCorrelationId = 1;
    private long recordSeq;
    private long sentRecords;
    private long ackedRecords;
    private long errorRecords;
    /** Failed records by status, indexed by {@link RecordStatus#ordinal()}. */
    private final long[] failedByStatus = new long[RecordStatus.values().length];
    private long unexpectedAcks;
    /** Records of batches the cluster answered ALREADY_APPLIED (applied once, outcomes unknown). */
    private long alreadyAppliedRecords;
    private long startNs;
    private long lastAckNs;
    private volatile String aeronError;
    /** Allocation counter of this (the producing) thread; -1 when the JVM has none. */
    private com.sun.management.ThreadMXBean threadBean;
    private long allocStartBytes = -1;
    private long allocStartRecords;
    private long allocWindowStartBytes = -1;
    private long allocWindowStartRecords;
    private double allocBytesPerRecord = -1;

    /** A type to write, with its fields sorted for the operations. */
    /**
     * @return the most bytes a record this producer writes of the type may take: its values are numbers,
     * strings of at most {@link #MAX_STRING_CHARS} characters and bytes of at most 8 (see setField).
     */
    static int producedRecordBytes(final TypeDefinition type)
    {
        long bytes = io.spate.codec.RecordFraming.HEADER_LENGTH_BYTES + 10 + 4 + 4 + type.rowLengthBytes();
        for (final FieldDefinition field : type.fields())
        {
            final int valueBytes = switch (field.kind())
            {
                case STRING -> Math.min(field.maxLengthBytes(), MAX_STRING_CHARS);
                case BYTES -> Math.min(field.maxLengthBytes(), 8);
                default -> 8;
            };
            bytes += 2 + 4 + valueBytes;
        }
        return (int)Math.min(Math.max(bytes, io.spate.codec.RecordFraming.MAX_FIXED_RECORD_LENGTH_BYTES), Integer.MAX_VALUE);
    }

    static final class TypePlan
    {
        final TypeDefinition type;
        final FieldDefinition[] fields;
        final FieldDefinition[] numericFields;
        final byte[][] bytesValues;
        /** Ids this producer may name, when its ops name any; sized once the op mix is known. */
        LongList live = new LongList(0);
        long created;
        long deleted;
        /** Creates sent and not yet answered (for --live: they will be live too). */
        long createsInFlight;

        TypePlan(final TypeDefinition type)
        {
            this.type = type;
            this.fields = type.fields().toArray(new FieldDefinition[0]);
            this.numericFields = type.fields().stream().filter(FieldDefinition::isNumeric).toArray(FieldDefinition[]::new);
            bytesValues = new byte[fields.length][];
            for (int i = 0; i < fields.length; i++)
            {
                if (fields[i].kind() == io.spate.wire.FieldKind.BYTES)
                {
                    bytesValues[i] = new byte[Math.min(8, fields[i].maxLengthBytes())];
                }
            }
        }
    }

    /** Ids of live nodes, a fixed capacity, with O(1) random removal. */
    static final class LongList
    {
        private final long[] values;
        private int size;

        LongList(final int capacity)
        {
            values = new long[Math.max(64, capacity)];
        }

        /**
         * @param value an id to keep; the list must not be full.
         */
        void add(final long value)
        {
            values[size++] = value;
        }

        void set(final int index, final long value)
        {
            values[index] = value;
        }

        boolean isFull()
        {
            return size == values.length;
        }

        long get(final int index)
        {
            return values[index];
        }

        long removeAt(final int index)
        {
            final long value = values[index];
            values[index] = values[--size];
            return value;
        }

        int size()
        {
            return size;
        }
    }

    private ProduceMain(final Options options)
    {
        schemaFile = options.require("--schema", "the database schema file the pipeline runs with");
        clientContext = ClusterClientOptions.clientContext();
        // A cluster's producer has a driver of its own unless --dir names one: the nodes' drivers may die.
        embeddedDriver = options.has("--embedded-driver") || (options.has("--cluster") && !options.has("--dir"));
        if (options.has("--embedded-driver") && options.has("--dir"))
        {
            throw new UsageException("--dir and --embedded-driver exclude each other (the embedded driver uses a " +
                "fresh temporary directory)");
        }
        aeronDirectory = options.get("--dir", CliSupport.defaultAeronDirectory());
        final ClusterClientOptions cluster = ClusterClientOptions.parse(options);
        clusterEndpoints = cluster.endpoints();
        egressChannel = cluster.egressChannel();
        channel = options.getChannel("--channel", PipelineConfiguration.INGRESS_CHANNEL_PROP,
            PipelineConfiguration.DEFAULT_INGRESS_CHANNEL);
        streamId = options.getInt("--stream", PipelineConfiguration.INGRESS_STREAM_ID_PROP,
            PipelineConfiguration.DEFAULT_INGRESS_STREAM_ID, Integer.MIN_VALUE, Integer.MAX_VALUE);
        responseChannel = options.getChannel("--response-channel", "aeron:ipc");
        records = options.getLong("--records", DEFAULT_RECORDS, 1, Long.MAX_VALUE / 2);
        warmupRecords = options.getLong("--warmup-records", 0, 0, Long.MAX_VALUE / 2);
        liveTarget = options.getLong("--live", 0, 0, MAX_KEPT_IDS - LIVE_SLACK_IDS);
        rate = options.getLong("--rate", 0, 0, MAX_RATE);
        batchSize = options.getInt("--batch-size", DEFAULT_BATCH_SIZE, 1, MAX_BATCH_SIZE);
        seed = options.has("--seed") ?
            options.getLong("--seed", 0, Long.MIN_VALUE, Long.MAX_VALUE) : ThreadLocalRandom.current().nextLong();
        clientId = options.getLong("--client-id", 0, Long.MIN_VALUE, Long.MAX_VALUE);
        if (options.has("--client-id") && 0 == clientId)
        {
            throw new UsageException("--client-id must not be 0: " + options.get("--client-id", ""), false);
        }
        timeoutMs = options.getLong("--timeout-ms", DEFAULT_TIMEOUT_MS, 1, CliSupport.MAX_TIMEOUT_MS);
        histogramFile = options.get("--histogram-file", null);
        credentials = options.has("--secret-file") ? CliSupport.readSecretFile(options.get("--secret-file", null)) : null;
        if (!options.positionals().isEmpty())
        {
            throw new UsageException("unexpected argument '" + options.positionals().get(0) + "'");
        }
        final String typesOption = options.get("--types", null);
        final String opsOption = options.get("--ops", DEFAULT_OPS);
        // --ops needs no schema: checked before it is read, like every other flag.
        opWeights = parseOps(opsOption);
        opWeightTotal = Arrays.stream(opWeights).sum();

        schema = CliSupport.loadSchema(schemaFile);

        // --types
        final List<TypePlan> plans = new ArrayList<>();
        final List<Integer> weights = new ArrayList<>();
        if (null == typesOption)
        {
            for (final TypeDefinition type : schema.types())
            {
                plans.add(new TypePlan(type));
                weights.add(1);
            }
        }
        else
        {
            for (final String item : typesOption.split(","))
            {
                final String[] parts = item.trim().split(":", -1);
                if (parts.length > 2 || parts[0].isBlank())
                {
                    throw new UsageException("--types wants Name:weight,... : " + item, false);
                }
                final TypeDefinition type = ReadMain.typeOf(schema, "--types", parts[0].trim());
                for (final TypePlan plan : plans)
                {
                    if (plan.type == type)
                    {
                        throw new UsageException("--types names " + type.name() + " twice: " + typesOption, false);
                    }
                }
                plans.add(new TypePlan(type));
                weights.add(parts.length == 2 ? (int)CliSupport.parseLong("--types weight of " + type.name(),
                    parts[1], 0, MAX_WEIGHT) : 1);
            }
        }
        // The schema's order, whatever the order of --types: for the configuration line and the summary.
        final Integer[] order = new Integer[plans.size()];
        for (int i = 0; i < order.length; i++)
        {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Integer.compare(plans.get(a).type.typeId(), plans.get(b).type.typeId()));
        types = new TypePlan[order.length];
        typeWeights = new int[order.length];
        for (int i = 0; i < order.length; i++)
        {
            types[i] = plans.get(order[i]);
            typeWeights[i] = weights.get(order[i]);
        }
        typeWeightTotal = Arrays.stream(typeWeights).sum();
        if (typeWeightTotal <= 0)
        {
            throw new UsageException("--types weights must not all be 0: " + typesOption, false);
        }
        // Created ids are kept only for ops that name them; then sized for the creates the mix expects,
        // bounded by the type's capacity and MAX_KEPT_IDS, so the list never grows while records are sent.
        keepCreatedIds = opWeights[UPDATE] + opWeights[INCREMENT] + opWeights[DELETE] > 0;
        if (keepCreatedIds)
        {
            for (int i = 0; i < types.length; i++)
            {
                final long allRecords = records + warmupRecords;
                final double expectedCreates = (double)allRecords * opWeights[CREATE] / opWeightTotal *
                    typeWeights[i] / typeWeightTotal;
                long capacity = Math.min(Math.min(types[i].type.maxNodes(), allRecords),
                    (long)(expectedCreates * 1.25) + 1024);
                if (liveTarget > 0)
                {
                    // Room for the live set and the creates in flight past it, so no known id is ever dropped.
                    capacity = Math.max(capacity, Math.min(types[i].type.maxNodes(), liveTarget + LIVE_SLACK_IDS));
                }
                types[i].live = new LongList((int)Math.min(capacity, MAX_KEPT_IDS));
            }
        }

        random = new SplittableRandom(seed);
        final int ring = 2 * MAX_IN_FLIGHT_BATCHES;
        ringMask = ring - 1;
        slotBusy = new boolean[ring];
        slotCorrelationId = new long[ring];
        slotStartNs = new long[ring];
        slotRecords = new int[ring];
        recordMeta = new int[ring * batchSize];
        failedScratch = new boolean[batchSize];
    }

    /**
     * @return a client context with the system properties' defaults.
     * @throws UsageException with the client's line when a property holds a bad value (exit 2, like a bad flag).
     */
    /**
     * @param option the --ops value: create:w,update:w,increment:w,delete:w, any of them.
     * @return the weights by operation.
     * @throws UsageException naming --ops and the bad item.
     */
    static int[] parseOps(final String option)
    {
        final int[] weights = new int[OP_NAMES.size()];
        final boolean[] seen = new boolean[OP_NAMES.size()];
        for (final String item : option.split(","))
        {
            final String[] parts = item.trim().split(":", -1);
            final int op = OP_NAMES.indexOf(parts[0].trim());
            if (parts.length != 2 || op < 0)
            {
                throw new UsageException("--ops wants create:w,update:w,increment:w,delete:w (any of them, " +
                    "whole-number weights): " + item, false);
            }
            if (seen[op])
            {
                throw new UsageException("--ops names " + OP_NAMES.get(op) + " twice: " + option, false);
            }
            seen[op] = true;
            weights[op] = (int)CliSupport.parseLong("--ops weight of " + OP_NAMES.get(op), parts[1], 0, MAX_WEIGHT);
        }
        if (Arrays.stream(weights).sum() <= 0)
        {
            throw new UsageException("--ops weights must not all be 0: " + option, false);
        }
        return weights;
    }

    public static void main(final String[] args)
    {
        final AtomicBoolean stop = new AtomicBoolean();
        final CountDownLatch finished = new CountDownLatch(1);
        final Thread hook = new Thread(() ->
        {
            // SIGTERM / SIGINT: stop sending, let the main thread print the summary.
            stop.set(true);
            try
            {
                finished.await(5, TimeUnit.SECONDS);
            }
            catch (final InterruptedException ignore)
            {
                Thread.currentThread().interrupt();
            }
        }, "produce-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        int status = CliSupport.EXIT_FAILURE;
        try
        {
            status = run(args, System.out, System.err, stop::get);
        }
        catch (final Throwable ex)
        {
            System.err.println(PREFIX + "error: " + ex);
            ex.printStackTrace(System.err);
        }
        finally
        {
            System.out.flush();
            System.err.flush();
            finished.countDown();
        }
        if (stop.get())
        {
            Runtime.getRuntime().halt(status);
        }
        System.exit(status);
    }

    /**
     * Runs the producer.
     *
     * @param args          the command line (see {@link #USAGE}).
     * @param out           progress and the summary.
     * @param err           one-line errors.
     * @param stopRequested polled: when true the producer stops sending and reports.
     * @return the exit status.
     */
    static int run(final String[] args, final PrintStream out, final PrintStream err, final BooleanSupplier stopRequested)
    {
        if (CliSupport.wantsHelp(args))
        {
            out.println(USAGE);
            return CliSupport.EXIT_OK;
        }
        final ProduceMain producer;
        try
        {
            producer = new ProduceMain(new Options(args, VALUE_OPTIONS, FLAG_OPTIONS));
        }
        catch (final UsageException ex)
        {
            return CliSupport.usageError(err, COMMAND, ex);
        }
        catch (final CliException ex)
        {
            return CliSupport.failure(err, COMMAND, ex.getMessage());
        }
        return producer.produce(out, err, stopRequested);
    }

    private int produce(final PrintStream out, final PrintStream err, final BooleanSupplier stopRequested)
    {
        Path temporaryDirectory = null;
        SpateDriver driver = null;
        Aeron aeron = null;
        try
        {
            final String directory;
            if (embeddedDriver)
            {
                temporaryDirectory = ClusterClientOptions.createTemporaryDirectory("spate-produce-");
                driver = null != clusterEndpoints ? ClusterClientOptions.launchClientDriver(temporaryDirectory) :
                    SpateDriver.launchEmbedded(
                    new DriverConfiguration().aeronDirectoryName(temporaryDirectory.resolve("aeron").toString()));
                directory = driver.aeronDirectoryName();
            }
            else
            {
                directory = aeronDirectory;
                CliSupport.requireDriver(directory);
            }
            out.println(PREFIX + "configuration " + describe(directory));
            try
            {
                aeron = Aeron.connect(new Aeron.Context()
                    .aeronDirectoryName(directory)
                    .errorHandler(this::onAeronError));
            }
            catch (final RuntimeException ex)
            {
                throw new CliException("cannot connect to the media driver in " + directory + ": " +
                    CliSupport.oneLine(ex));
            }
            // The longest record this producer writes of its types (a batch must fit one ingress message).
            int maxRecordBytes = 0;
            for (int i = 0; i < types.length; i++)
            {
                if (typeWeights[i] > 0)
                {
                    maxRecordBytes = Math.max(maxRecordBytes, producedRecordBytes(types[i].type));
                }
            }
            // Room for a whole batch of the largest records: the client never flushes on its own.
            final int batchCapacityBytes = (int)Math.min(Integer.MAX_VALUE - 8, (long)batchSize * maxRecordBytes + 1024);
            clientContext
                .aeron(aeron)
                .schema(schema)
                .clientId(clientId)
                .maxRecordsPerBatch(batchSize)
                .batchCapacityBytes(batchCapacityBytes)
                .credentials(credentials);
            if (null == clusterEndpoints)
            {
                clientContext
                    .ingressChannel(channel)
                    .ingressStreamId(streamId)
                    .responseChannel(responseChannel)
                    // Fail fast when no pipeline runs; later, wait out a pipeline restart (it takes the session back).
                    .connectTimeoutMs(Math.min(timeoutMs, MAX_CONNECT_TIMEOUT_MS))
                    .timeoutMs(timeoutMs);
            }
            else
            {
                clientContext
                    .clusterIngressEndpoints(clusterEndpoints)
                    .clusterEgressChannel(egressChannel)
                    .maxInFlightBatches(MAX_IN_FLIGHT_BATCHES)
                    // Batches are retained until acked: two of the largest at least, else the default's 16 MiB.
                    .maxInFlightBytes((int)Math.min(SpateClient.Context.MAX_MAX_IN_FLIGHT_BYTES, Math.max(
                        SpateClient.Context.DEFAULT_MAX_IN_FLIGHT_BYTES, 2L * batchCapacityBytes)))
                    // A session the cluster lost cannot be resumed (a new one would apply resent batches again).
                    .reconnect(false)
                    .timeoutMs(Math.min(timeoutMs, MAX_CLUSTER_CONNECT_TIMEOUT_MS));
            }
            client = SpateClient.connect(clientContext);
            client.ackListener(this::onAck);
            return loop(out, err, stopRequested);
        }
        catch (final SpateClientException ex)
        {
            if (String.valueOf(ex.getMessage()).startsWith("a client batch of"))
            {
                // The batch a --batch-size asks for cannot travel on this channel: a bad value, named.
                return CliSupport.usageError(err, COMMAND, new UsageException("--batch-size " + batchSize +
                    " (records of up to the longest of the chosen types): " + CliSupport.oneLine(ex), false));
            }
            return CliSupport.failure(err, COMMAND, CliSupport.oneLine(ex));
        }
        catch (final CliException ex)
        {
            return CliSupport.failure(err, COMMAND, CliSupport.oneLine(ex));
        }
        catch (final IOException | RuntimeException ex)
        {
            return CliSupport.failure(err, COMMAND, null != aeronError ? aeronError : CliSupport.oneLine(ex));
        }
        finally
        {
            CloseHelper.quietCloseAll(client, aeron, driver);
            if (null != temporaryDirectory)
            {
                org.agrona.IoUtil.delete(temporaryDirectory.toFile(), true);
            }
        }
    }

    private String describe(final String directory)
    {
        final StringBuilder typeList = new StringBuilder();
        for (int t = 0; t < types.length; t++)
        {
            typeList.append(t == 0 ? "" : ",").append(types[t].type.name()).append(':').append(typeWeights[t]);
        }
        final StringBuilder opList = new StringBuilder();
        for (int op = 0; op < opWeights.length; op++)
        {
            opList.append(op == 0 ? "" : ",").append(OP_NAMES.get(op)).append(':').append(opWeights[op]);
        }
        return "schema=" + schema.name() + " dir=" + directory + (embeddedDriver ? " (embedded driver)" : "") +
            (null == clusterEndpoints ? " channel=" + channel + " stream=" + streamId + " response=" + responseChannel :
            " cluster=" + clusterEndpoints + " egress=" + egressChannel) + " records=" + records +
            (warmupRecords > 0 ? " warmup_records=" + warmupRecords : "") + " rate=" + (rate == 0 ? "max" : rate + "/s") + " batch=" + batchSize + " types=" + typeList +
            " ops=" + opList + (liveTarget > 0 ? " live=" + liveTarget : "") + " seed=" + seed + " client=" + (clientId == 0 ? "random" : Long.toString(clientId)) +
            " timeout_ms=" + timeoutMs;
    }

    private void onAeronError(final Throwable error)
    {
        if (null == aeronError)
        {
            aeronError = "Aeron client: " + CliSupport.oneLine(error);
        }
    }

    // ------------------------------------------------------------------------------------------
    // Sending
    // ------------------------------------------------------------------------------------------

    private int loop(final PrintStream out, final PrintStream err, final BooleanSupplier stopRequested)
    {
        final long intervalNs = rate > 0 ? Math.max(1, Math.round(batchSize * 1e9 / rate)) : 0;
        String failure = null;
        boolean stopped = false;
        final AgentRunner reporter = new AgentRunner(new SleepingMillisIdleStrategy(REPORTER_IDLE_MS),
            (error) -> System.err.println(PREFIX + "reporter: " + CliSupport.oneLine(error)), null, new Reporter(out));
        AgentRunner.startOnThread(reporter);
        try
        {
            if (warmupRecords > 0)
            {
                out.println(PREFIX + "warm-up: " + warmupRecords + " records, not measured");
                startNs = System.nanoTime();
                // At full speed whatever the rate: a warm-up at 10,000/s would reach few of the JIT's thresholds.
                stopped = !sendUpTo(warmupRecords, 0, out, stopRequested);
                failure = stopped ? null : awaitAllAcks(out, timeoutMs);
                if (null == failure && !stopped && rate > 0)
                {
                    // Then a second at the rate: the first second after a full-speed burst measured the settling
                    // (term cleaning, recompiles for the paced shape: p90 2.5 ms against 0.4 ms after it).
                    forgetWarmUp();
                    startNs = System.nanoTime();
                    stopped = !sendUpTo(Math.max(batchSize, rate * SETTLE_SECONDS), intervalNs, out, stopRequested);
                    failure = stopped ? null : awaitAllAcks(out, timeoutMs);
                }
                if (null != failure || stopped || stopRequested.getAsBoolean())
                {
                    throw new WarmUpEnded(null != failure ? "warm-up: " + failure : null);
                }
                forgetWarmUp();
                out.println(PREFIX + "warm-up done: measuring " + records + " records");
            }
            // The interval log's first interval starts here (the Reporter reads nothing before measuring).
            intervalLatencyNs.reset();
            measureStartMs = System.currentTimeMillis();
            measuring = true;
            startAllocationCount();
            startNs = System.nanoTime();
            stopped = !sendUpTo(records, intervalNs, out, stopRequested);
            endAllocationCount();
            if (stopRequested.getAsBoolean())
            {
                stopped = true;
            }
            failure = awaitAllAcks(out, stopped ? Math.min(timeoutMs, 2_000) : timeoutMs);
        }
        catch (final WarmUpEnded ex)
        {
            failure = ex.getMessage();
            stopped = null == failure;
        }
        catch (final SpateClientException ex)
        {
            failure = ex.getMessage();
        }
        catch (final RuntimeException ex)
        {
            failure = null != aeronError ? aeronError : CliSupport.oneLine(ex);
        }
        finally
        {
            CloseHelper.close(reporter);
        }

        if (null != failure)
        {
            err.println(PREFIX + "error: " + failure);
        }
        else if (stopped)
        {
            err.println(PREFIX + "stopped by a signal after " + sentRecords + " of " + records + " records");
        }
        out.println(summary());
        out.flush();
        if (errorRecords > 0)
        {
            err.println(failedByStatus());
        }
        writeHistogram();
        return null == failure && !stopped && sentRecords == records && ackedRecords == sentRecords &&
            0 == errorRecords ? CliSupport.EXIT_OK : CliSupport.EXIT_FAILURE;
    }

    /**
     * Sends batches until {@code targetRecords} are sent, on the schedule of the rate.
     *
     * @return false when a stop was requested.
     */
    private boolean sendUpTo(
        final long targetRecords, final long intervalNs, final PrintStream out, final BooleanSupplier stopRequested)
    {
        long batchIndex = 0;
        while (sentRecords < targetRecords)
        {

            final long correlationId = nextCorrelationId;
            final int slot = (int)(correlationId & ringMask);
            if (!awaitRoom(slot, out, stopRequested))
            {
                return false;
            }
            final int count = (int)Math.min(batchSize, targetRecords - sentRecords);
            long intendedNs = 0;
            if (intervalNs > 0)
            {
                intendedNs = startNs + batchIndex * intervalNs;
                if (!awaitTime(intendedNs, out, stopRequested))
                {
                    return false;
                }
            }
            writeBatch(slot, count);
            final long sendNs = System.nanoTime();
            final long sent = send(out, stopRequested);
            if (sent == SpateClient.BACK_PRESSURED)
            {
                return false;
            }
            if (sent != correlationId)
            {
                throw new IllegalStateException("the client sent batch " + sent + ", expected " + correlationId);
            }
            slotBusy[slot] = true;
            slotCorrelationId[slot] = correlationId;
            slotStartNs[slot] = intervalNs > 0 ? intendedNs : sendNs;
            slotRecords[slot] = count;
            nextCorrelationId++;
            sentRecords += count;
            batchIndex++;
            reportedSent.lazySet(sentRecords);
            reportedLeaderChanges.lazySet(client.leaderChanges());
            if (measuring && allocWindowStartBytes < 0 && sentRecords >= records / 2 && sentRecords < records)
            {
                allocWindowStartBytes = allocatedBytes();
                allocWindowStartRecords = sentRecords;
            }
            client.poll();
        }
        return true;
    }

    /**
     * After the warm-up's every ack: the measured run starts from nothing (the nodes the warm-up created
     * stay known, for updates, increments and deletes).
     */
    private void forgetWarmUp()
    {
        latencyNs.reset();
        sentRecords = 0;
        ackedRecords = 0;
        lastAckNs = 0;
        reportedSent.lazySet(0);
        reportedAcked.lazySet(0);
    }

    /** The warm-up failed (message) or was stopped (no message). */
    private static final class WarmUpEnded extends RuntimeException
    {
        private static final long serialVersionUID = 1L;

        WarmUpEnded(final String message)
        {
            super(message, null, false, false);
        }
    }

    private void startAllocationCount()
    {
        if (java.lang.management.ManagementFactory.getThreadMXBean() instanceof
            final com.sun.management.ThreadMXBean bean && bean.isThreadAllocatedMemorySupported() &&
            bean.isThreadAllocatedMemoryEnabled())
        {
            threadBean = bean;
            allocStartBytes = allocatedBytes();
            allocStartRecords = sentRecords;
        }
    }

    /**
     * Ends the steady-state window (from half the records sent to the last); the whole run when it holds none.
     */
    private void endAllocationCount()
    {
        if (null == threadBean)
        {
            return;
        }
        final long endBytes = allocatedBytes();
        final boolean windowHasRecords = allocWindowStartBytes >= 0 && sentRecords > allocWindowStartRecords;
        final long startBytes = windowHasRecords ? allocWindowStartBytes : allocStartBytes;
        final long windowRecords = sentRecords - (windowHasRecords ? allocWindowStartRecords : allocStartRecords);
        allocBytesPerRecord = windowRecords > 0 ? (double)(endBytes - startBytes) / windowRecords : 0.0;
    }

    private long allocatedBytes()
    {
        return threadBean.getCurrentThreadAllocatedBytes();
    }

    /**
     * Waits until a batch may be sent: fewer than {@link #MAX_IN_FLIGHT_BATCHES} in flight and its slot free.
     *
     * @return false when a stop was requested.
     */
    private boolean awaitRoom(final int slot, final PrintStream out, final BooleanSupplier stopRequested)
    {
        long waitStartNs = 0;
        long disconnectedSinceNs = 0;
        while (client.inFlightBatches() >= MAX_IN_FLIGHT_BATCHES || slotBusy[slot])
        {
            if (stopRequested.getAsBoolean())
            {
                return false;
            }
            final long nowNs = System.nanoTime();
            if (0 == waitStartNs)
            {
                waitStartNs = nowNs;
            }
            final long acksBefore = ackedRecords;
            if (client.poll() == 0)
            {
                idle.idle();
            }
            else
            {
                idle.reset();
            }
            reportedLeaderChanges.lazySet(client.leaderChanges());
            if (ackedRecords != acksBefore)
            {
                waitStartNs = nowNs;
            }
            else if (nowNs - waitStartNs > TimeUnit.MILLISECONDS.toNanos(timeoutMs))
            {
                throw new SpateClientException("no ack for " + timeoutMs + " ms with " + client.inFlightBatches() +
                    " batches in flight");
            }
            disconnectedSinceNs = checkConnected(disconnectedSinceNs, nowNs);
        }
        idle.reset();
        return true;
    }

    /**
     * Takes acks until the batch's intended send time.
     *
     * @return false when a stop was requested.
     */
    private boolean awaitTime(final long intendedNs, final PrintStream out, final BooleanSupplier stopRequested)
    {
        while (true)
        {
            final long nowNs = System.nanoTime();
            final long remainingNs = intendedNs - nowNs;
            if (remainingNs <= 0)
            {
                return true;
            }
            if (stopRequested.getAsBoolean())
            {
                return false;
            }
            if (client.poll() > 0)
            {
                continue;
            }
            if (remainingNs > 150_000 && !spinWhileWaiting)
            {
                // Short parks: an ack that arrives while we wait is seen within ~50 µs, so the
                // measured latency is the pipeline's, not this loop's sleep.
                LockSupport.parkNanos(Math.min(remainingNs - 100_000, MAX_WAIT_PARK_NS));
            }
            else
            {
                Thread.onSpinWait();
            }
        }
    }

    /**
     * Sends the batch written, taking acks while the pipeline pushes back.
     *
     * @return its correlation id, or {@link SpateClient#BACK_PRESSURED} when a stop was requested meanwhile.
     * @throws SpateClientException when the pipeline is gone or pushes back longer than the timeout.
     */
    private long send(final PrintStream out, final BooleanSupplier stopRequested)
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        long disconnectedSinceNs = 0;
        long result;
        while ((result = client.tryFlush()) == SpateClient.BACK_PRESSURED)
        {
            if (stopRequested.getAsBoolean())
            {
                return SpateClient.BACK_PRESSURED;
            }
            if (client.poll() == 0)
            {
                idle.idle();
            }
            reportedLeaderChanges.lazySet(client.leaderChanges()); // an election holds the batch here
            final long nowNs = System.nanoTime();
            disconnectedSinceNs = checkConnected(disconnectedSinceNs, nowNs);
            if (nowNs > deadlineNs)
            {
                throw new SpateClientException("back pressure: the pipeline took no batch for " + timeoutMs + " ms");
            }
        }
        idle.reset();
        return result;
    }

    private long checkConnected(final long disconnectedSinceNs, final long nowNs)
    {
        if (client.isConnected())
        {
            return 0;
        }
        if (null != clusterEndpoints)
        {
            // Not connected in cluster mode means the session is over for good (an election is still "connected").
            throw new SpateClientException(String.valueOf(client.sessionClosedReason()) + "; the batches sent " +
                "without an ack may or may not have been applied");
        }
        if (0 == disconnectedSinceNs)
        {
            return nowNs;
        }
        // A pipeline that restarts on its data directory takes the session back (the client resends what had no
        // answer): it may be gone as long as the timeout.
        if (nowNs - disconnectedSinceNs > TimeUnit.MILLISECONDS.toNanos(timeoutMs))
        {
            throw new SpateClientException("the pipeline went away: nothing subscribed to " + channel + " stream " +
                streamId + " for " + timeoutMs + " ms");
        }
        return disconnectedSinceNs;
    }

    /**
     * @return null when every batch sent is acked, else what went wrong.
     */
    private String awaitAllAcks(final PrintStream out, final long waitMs)
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMs);
        long disconnectedSinceNs = 0;
        while (client.inFlightBatches() > 0)
        {
            reportedLeaderChanges.lazySet(client.leaderChanges());
            final long nowNs = System.nanoTime();
            if (nowNs > deadlineNs)
            {
                return client.inFlightBatches() + " batches (" + (sentRecords - ackedRecords) + " records) not acked " +
                    "within " + waitMs + " ms";
            }
            if (client.poll() == 0)
            {
                idle.idle();
            }
            else
            {
                idle.reset();
            }
            try
            {
                disconnectedSinceNs = checkConnected(disconnectedSinceNs, nowNs);
            }
            catch (final SpateClientException ex)
            {
                // Take what acks remain in the response stream, then report.
                client.poll();
                if (client.inFlightBatches() > 0 || null != clusterEndpoints)
                {
                    return ex.getMessage() + "; " + client.inFlightBatches() + " batches (" +
                        (sentRecords - ackedRecords) + " records) not acked";
                }
            }
        }
        if (null != clusterEndpoints && null != client.sessionClosedReason())
        {
            // The session ended: the client dropped what was in flight (it cannot be resent on another session).
            return client.sessionClosedReason() + "; " + (sentRecords - ackedRecords) + " records not acked (they " +
                "may or may not have been applied)";
        }
        return null;
    }

    private void writeBatch(final int slot, final int count)
    {
        final int base = slot * batchSize;
        for (int i = 0; i < count; i++)
        {
            final int t = pickType();
            final TypePlan plan = types[t];
            int op = pickOp();
            if (liveTarget > 0)
            {
                // Live soon: acked creates less the deletes sent, plus the creates in flight.
                final long live = plan.live.size() + plan.createsInFlight;
                if (op == DELETE && (live < liveTarget || plan.live.size() == 0))
                {
                    op = CREATE;
                }
                else if (op == CREATE && live >= liveTarget && opWeights[DELETE] > 0 && plan.live.size() > 0)
                {
                    op = DELETE;
                }
            }
            if (op != CREATE && plan.live.size() == 0)
            {
                op = CREATE;
            }
            if (op == INCREMENT && plan.numericFields.length == 0)
            {
                op = UPDATE;
            }
            if (op == UPDATE && plan.fields.length == 0)
            {
                op = CREATE;
            }
            switch (op)
            {
                case CREATE ->
                {
                    plan.createsInFlight++;
                    client.create(plan.type);
                    for (int f = 0; f < plan.fields.length; f++)
                    {
                        setField(plan, f);
                    }
                }
                case UPDATE ->
                {
                    client.update(plan.type, plan.live.get(random.nextInt(plan.live.size())));
                    setField(plan, random.nextInt(plan.fields.length));
                }
                case INCREMENT ->
                {
                    final long nodeId = plan.live.get(random.nextInt(plan.live.size()));
                    final FieldDefinition field = plan.numericFields[random.nextInt(plan.numericFields.length)];
                    client.increment(plan.type, nodeId, field, random.nextInt(201) - 100);
                }
                case DELETE ->
                {
                    // Gone for every later record at once; counted as deleted when its ack says OK.
                    client.delete(plan.type, plan.live.removeAt(random.nextInt(plan.live.size())));
                }
                default -> throw new IllegalStateException("op " + op);
            }
            recordMeta[base + i] = op << OP_SHIFT | t;
            recordSeq++;
        }
    }

    private void setField(final TypePlan plan, final int index)
    {
        final FieldDefinition field = plan.fields[index];
        switch (field.kind())
        {
            case U8 -> client.setLong(field, random.nextInt(256));
            case U16 -> client.setLong(field, random.nextInt(65_536));
            case U32 -> client.setLong(field, random.nextLong(1L << 32));
            case I32 -> client.setLong(field, random.nextInt());
            case U64, I64 -> client.setLong(field, random.nextLong());
            case TIMESTAMP -> client.setLong(field, System.currentTimeMillis() * 1_000_000L);
            case F64 -> client.setDouble(field, random.nextDouble() * 1000.0);
            case BOOL -> client.setBoolean(field, random.nextBoolean());
            case STRING ->
            {
                // 'p' and the digits (at most MAX_STRING_CHARS), cut to the field's maxBytes; no String made.
                asciiValue.putByte(0, (byte)'p');
                final int lengthBytes = 1 + asciiValue.putNaturalLongAscii(1, recordSeq);
                client.setStringAscii(field, asciiValue, 0, Math.min(lengthBytes, field.maxLengthBytes()));
            }
            case BYTES ->
            {
                final byte[] value = plan.bytesValues[index];
                for (int i = 0; i < value.length; i++)
                {
                    value[i] = (byte)random.nextInt(256);
                }
                client.setBytes(field, value);
            }
            default ->
            {
            }
        }
    }

    private int pickType()
    {
        int dice = random.nextInt(typeWeightTotal);
        for (int t = 0; t < typeWeights.length; t++)
        {
            dice -= typeWeights[t];
            if (dice < 0)
            {
                return t;
            }
        }
        return typeWeights.length - 1;
    }

    private int pickOp()
    {
        int dice = random.nextInt(opWeightTotal);
        for (int op = 0; op < opWeights.length; op++)
        {
            dice -= opWeights[op];
            if (dice < 0)
            {
                return op;
            }
        }
        return CREATE;
    }

    // ------------------------------------------------------------------------------------------
    // Acks and reports
    // ------------------------------------------------------------------------------------------

    private void onAck(final AckDecoder ack)
    {
        final long correlationId = ack.correlationId();
        final int slot = (int)(correlationId & ringMask);
        if (!slotBusy[slot] || slotCorrelationId[slot] != correlationId)
        {
            unexpectedAcks++;
            return;
        }
        final long nowNs = System.nanoTime();
        final long batchLatencyNs = Math.min(HIGHEST_LATENCY_NS, Math.max(0, nowNs - slotStartNs[slot]));
        latencyNs.recordValue(batchLatencyNs);
        if (measuring)
        {
            intervalLatencyNs.recordValue(batchLatencyNs);
        }
        lastAckNs = nowNs;
        final int count = slotRecords[slot];
        final int base = slot * batchSize;
        for (int i = 0; i < count; i++)
        {
            final int meta = recordMeta[base + i];
            if (meta >>> OP_SHIFT == CREATE)
            {
                types[meta & TYPE_MASK].createsInFlight--;
            }
        }
        for (final AckDecoder.CreatedIdsDecoder created : ack.createdIds())
        {
            final long index = created.recordIndex();
            if (index < count)
            {
                final TypePlan plan = types[recordMeta[base + (int)index] & TYPE_MASK];
                if (keepCreatedIds)
                {
                    if (plan.live.isFull())
                    {
                        plan.live.set(random.nextInt(plan.live.size()), created.nodeId());
                    }
                    else
                    {
                        plan.live.add(created.nodeId());
                    }
                }
                plan.created++;
            }
        }
        Arrays.fill(failedScratch, 0, count, false);
        int errors = 0;
        for (final AckDecoder.ErrorsDecoder error : ack.errors())
        {
            final long index = error.recordIndex();
            final RecordStatus status = error.status();
            if (index < count && status != RecordStatus.OK && !failedScratch[(int)index])
            {
                failedScratch[(int)index] = true;
                failedByStatus[status.ordinal()]++;
                errors++;
            }
        }
        final RecordStatus batchStatus = ack.status();
        if (errors == 0 && batchStatus == RecordStatus.ALREADY_APPLIED)
        {
            // A resent batch the cluster applied before and whose ack left its ledger: applied once, its ids
            // and per-record outcomes unknown (none of them is counted as created or deleted).
            alreadyAppliedRecords += count;
            ackedRecords += count;
            reportedAcked.lazySet(ackedRecords);
            slotBusy[slot] = false;
            return;
        }
        if (errors == 0 && batchStatus != RecordStatus.OK)
        {
            // The whole batch was refused: nothing of it was applied.
            Arrays.fill(failedScratch, 0, count, true);
            failedByStatus[batchStatus.ordinal()] += count;
            errors = count;
        }
        for (int i = 0; i < count; i++)
        {
            final int meta = recordMeta[base + i];
            if (meta >>> OP_SHIFT == DELETE && !failedScratch[i])
            {
                types[meta & TYPE_MASK].deleted++;
            }
        }
        errorRecords += errors;
        ackedRecords += count;
        reportedAcked.lazySet(ackedRecords);
        reportedFailed.lazySet(errorRecords);
        slotBusy[slot] = false;
    }

    String summary()
    {
        final long endNs = lastAckNs > 0 ? lastAckNs : System.nanoTime();
        final double seconds = Math.max(1e-9, (endNs - startNs) / 1e9);
        long created = 0;
        long deleted = 0;
        final StringBuilder live = new StringBuilder();
        for (final TypePlan plan : types)
        {
            created += plan.created;
            deleted += plan.deleted;
            live.append(' ').append(plan.type.name()).append('=').append(plan.created - plan.deleted);
        }
        final String alreadyApplied = alreadyAppliedRecords > 0 ? " already_applied_records=" + alreadyAppliedRecords : "";
        final String cluster = null == client ? "" : null == clusterEndpoints ?
            " resumed_sessions=" + client.resumedSessions() + " resent_batches=" + client.resentBatches() + alreadyApplied :
            " leader_changes=" + client.leaderChanges() + " resent_batches=" + client.resentBatches() +
            " duplicate_acks=" + client.duplicateAcks() + alreadyApplied;
        return String.format(Locale.ROOT,
            "%srecords=%d producer_acked=%d producer_failed=%d producer_unacked=%d records/s=%.0f ack_p50_us=%.1f " +
            "ack_p99_us=%.1f ack_p99.9_us=%.1f ack_max_us=%.1f producer_created=%d producer_deleted=%d%s%s " +
            "alloc_bytes_per_record=%.3f producer_live%s",
            PREFIX, sentRecords, ackedRecords, errorRecords, sentRecords - ackedRecords, ackedRecords / seconds,
            latencyNs.getValueAtPercentile(50) / 1e3, latencyNs.getValueAtPercentile(99) / 1e3,
            latencyNs.getValueAtPercentile(99.9) / 1e3, latencyNs.getMaxValue() / 1e3,
            created, deleted, unexpectedAcks > 0 ? " unexpected_acks=" + unexpectedAcks : "", cluster,
            allocBytesPerRecord, live);
    }

    /**
     * @return {@code produce: failed records by status: TYPE_FULL=40 ...}, statuses in the wire schema's order.
     */
    String failedByStatus()
    {
        final StringBuilder line = new StringBuilder(PREFIX).append("failed records by status:");
        for (final RecordStatus status : RecordStatus.values())
        {
            final long failed = failedByStatus[status.ordinal()];
            if (failed > 0)
            {
                line.append(' ').append(status.name()).append('=').append(failed);
            }
        }
        return line.toString();
    }

    /**
     * Appends the latencies since the last call to the HdrHistogram interval log named by --histogram-file:
     * called by the {@link Reporter} once a second, and once more by the sending thread after it stopped.
     */
    private void logInterval()
    {
        if (null == histogramFile || !measuring)
        {
            return;
        }
        if (null == intervalLog)
        {
            try
            {
                intervalLogStream = new java.io.PrintStream(
                    new java.io.FileOutputStream(histogramFile), false, java.nio.charset.StandardCharsets.UTF_8);
            }
            catch (final IOException ex)
            {
                System.err.println(PREFIX + "error: cannot write --histogram-file " + histogramFile + ": " +
                    ex.getMessage());
                return;
            }
            intervalLog = new org.HdrHistogram.HistogramLogWriter(intervalLogStream);
            intervalLog.outputLogFormatVersion();
            intervalLog.outputStartTime(measureStartMs);
            intervalLog.setBaseTime(measureStartMs);
            intervalLog.outputLegend();
        }
        intervalHistogram = intervalLatencyNs.getIntervalHistogram(intervalHistogram);
        intervalLog.outputIntervalHistogram(intervalHistogram);
    }

    /**
     * Prints the progress line and writes the interval log once a second, on its own thread: formatting,
     * compressing and writing on the sending thread stalled it for milliseconds each second, which showed
     * in the measured latency's p99 at 100,000 records/s.
     */
    private final class Reporter implements Agent
    {
        private final PrintStream out;
        private long lastNs = System.nanoTime();
        private long lastAcked;

        Reporter(final PrintStream out)
        {
            this.out = out;
        }

        public int doWork()
        {
            final long nowNs = System.nanoTime();
            if (nowNs - lastNs < REPORT_INTERVAL_NS)
            {
                return 0;
            }
            final long acked = reportedAcked.get();
            out.printf(Locale.ROOT, "%ssent=%d producer_acked=%d producer_failed=%d records/s=%.0f%s%n", PREFIX,
                reportedSent.get(), acked, reportedFailed.get(), Math.max(0, acked - lastAcked) * 1e9 / (nowNs - lastNs),
                null == clusterEndpoints ? "" : " leader_changes=" + reportedLeaderChanges.get());
            logInterval();
            lastNs = nowNs;
            lastAcked = acked;
            return 1;
        }

        public String roleName()
        {
            return "produce-reporter";
        }
    }

    private void writeHistogram()
    {
        if (null == histogramFile)
        {
            return;
        }
        logInterval();
        if (null != intervalLogStream)
        {
            intervalLogStream.close();
        }
    }
}
