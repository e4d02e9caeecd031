package io.spate.cli;

import io.aeron.Aeron;
import io.spate.cli.CliSupport.CliException;
import io.spate.cli.CliSupport.Options;
import io.spate.cli.CliSupport.UsageException;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.FieldDefinition;
import io.spate.codec.TypeDefinition;
import io.spate.driver.DriverConfiguration;
import io.spate.driver.IdleStrategies;
import io.spate.driver.SpateDriver;
import io.spate.pipeline.PipelineConfiguration;
import io.spate.pipeline.SpateClient;
import io.spate.pipeline.SpateClientException;
import io.spate.wire.AckDecoder;
import io.spate.wire.RecordStatus;
import org.HdrHistogram.Histogram;
import org.agrona.CloseHelper;
import org.agrona.concurrent.IdleStrategy;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
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
 * Prints a progress line each second and one summary line starting {@code produce: records=}. Exits
 * 0 only when every record was acked (records the pipeline refused count as acked and are reported
 * as errors), 1 when records were lost or unacked or the pipeline could not be reached, 2 for bad options.
 */
public final class ProduceMain
{
    static final String PREFIX = "produce: ";
    /** Longest park between polls while waiting for the next send time. */
    static final long MAX_WAIT_PARK_NS = 50_000;
    /** Client batches in flight at once; the pipeline's own default window is 256 batches. */
    static final int MAX_IN_FLIGHT_BATCHES = 256;
    static final int MAX_BATCH_SIZE = 8192;
    static final long DEFAULT_RECORDS = 1_000_000;
    static final int DEFAULT_BATCH_SIZE = 100;
    static final long DEFAULT_TIMEOUT_MS = 30_000;
    /** Connecting waits at most this long for the pipeline, whatever --timeout-ms says. */
    static final long MAX_CONNECT_TIMEOUT_MS = 10_000;
    /** A pipeline that stays unsubscribed this long is gone. */
    static final long DISCONNECTED_LIMIT_NS = TimeUnit.SECONDS.toNanos(1);
    static final String DEFAULT_OPS = "create:70,update:15,increment:10,delete:5";

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
        "  --dir DIR                Aeron directory of the driver to use (default: spate.driver.dir, aeron.dir,",
        "                           else /dev/shm/aeron-USER)",
        "  --embedded-driver        start a media driver of its own in a fresh temporary directory",
        "                           (the remote producer: give UDP --channel and --response-channel)",
        "  --channel CH             ingress channel of the pipeline (default aeron:ipc)",
        "  --stream N               ingress stream id (default " + PipelineConfiguration.DEFAULT_INGRESS_STREAM_ID + ")",
        "  --response-channel CH    where acks come back (default aeron:ipc; over UDP e.g.",
        "                           aeron:udp?endpoint=127.0.0.1:40124)",
        "  --records N              records to send (default 1000000)",
        "  --rate R                 records per second on a fixed schedule; 0 = as fast as possible (default 0)",
        "  --batch-size N           records per client batch, 1.." + MAX_BATCH_SIZE + " (default " +
            DEFAULT_BATCH_SIZE + "); a batch must fit",
        "                           the pipeline's spate.max.batch.bytes",
        "  --types Name:w,...       types to write and their weights (default: every type, equally)",
        "  --ops create:w,update:w,increment:w,delete:w",
        "                           mix of operations (default " + DEFAULT_OPS + ")",
        "  --seed S                 random seed (default: random, printed)",
        "  --client-id ID           client id, non-zero (default: random)",
        "  --timeout-ms N           how long to wait for acks at the end, and for back pressure to ease",
        "                           (default " + DEFAULT_TIMEOUT_MS + ")",
        "  --histogram-file FILE    also write the ack latency histogram (ns) there, HdrHistogram log format",
        "  --help                   print this help and exit",
        "Prints 'produce: sent=.. acked=.. errors=.. rate=../s' each second and a summary line",
        "'produce: records=.. acked=.. errors=.. records/s=.. ack_p50_us=.. ack_p99_us=.. ack_p99.9_us=.. ...'.",
        "Exit status: 0 every record acked, 1 records lost or unacked (or no pipeline), 2 bad options.");

    private static final Set<String> VALUE_OPTIONS = Set.of("--schema", "--dir", "--channel", "--stream",
        "--response-channel", "--records", "--rate", "--batch-size", "--types", "--ops", "--seed", "--client-id",
        "--timeout-ms", "--histogram-file");
    private static final Set<String> FLAG_OPTIONS = Set.of("--embedded-driver");

    // Settings.
    private final DatabaseSchema schema;
    private final String schemaFile;
    private final String aeronDirectory;
    private final boolean embeddedDriver;
    private final String channel;
    private final int streamId;
    private final String responseChannel;
    private final long records;
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
    private final String histogramFile;

    // State of a run.
    private final SplittableRandom random;
    private final Histogram latencyNs = new Histogram(HIGHEST_LATENCY_NS, 3);
    /** This second's latencies, for the interval log (--histogram-file). */
    private final Histogram intervalLatencyNs = new Histogram(HIGHEST_LATENCY_NS, 3);
    private java.io.PrintStream intervalLogStream;
    private org.HdrHistogram.HistogramLogWriter intervalLog;
    private long intervalStartMs;
    private final int ringMask;
    private final boolean[] slotBusy;
    private final long[] slotCorrelationId;
    private final long[] slotStartNs;
    private final int[] slotRecords;
    private final int[] recordMeta;
    private final boolean[] failedScratch;
    private final StringBuilder text = new StringBuilder(64);
    private final IdleStrategy idle = IdleStrategies.parse("backoff");
    private SpateClient client;
    private long nextCorrelationId = 1;
    private long recordSeq;
    private long sentRecords;
    private long ackedRecords;
    private long errorRecords;
    private long unexpectedAcks;
    private long startNs;
    private long lastAckNs;
    private long lastProgressNs;
    private long lastProgressAcked;
    private volatile String aeronError;

    /** A type to write, with its fields sorted for the operations. */
    static final class TypePlan
    {
        final TypeDefinition type;
        final FieldDefinition[] fields;
        final FieldDefinition[] numericFields;
        final byte[][] bytesValues;
        final LongList live = new LongList();
        long created;
        long deleted;

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

    /** Ids of live nodes, with O(1) random removal. */
    static final class LongList
    {
        private long[] values = new long[64];
        private int size;

        void add(final long value)
        {
            if (size == values.length)
            {
                values = Arrays.copyOf(values, size * 2);
            }
            values[size++] = value;
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
        embeddedDriver = options.has("--embedded-driver");
        if (embeddedDriver && options.has("--dir"))
        {
            throw new UsageException("--dir and --embedded-driver exclude each other (the embedded driver uses a " +
                "fresh temporary directory)");
        }
        aeronDirectory = options.get("--dir", CliSupport.defaultAeronDirectory());
        channel = options.get("--channel", PipelineConfiguration.DEFAULT_INGRESS_CHANNEL);
        streamId = options.getInt("--stream", PipelineConfiguration.DEFAULT_INGRESS_STREAM_ID,
            Integer.MIN_VALUE, Integer.MAX_VALUE);
        responseChannel = options.get("--response-channel", "aeron:ipc");
        records = options.getLong("--records", DEFAULT_RECORDS, 1, Long.MAX_VALUE / 2);
        rate = options.getLong("--rate", 0, 0, 1_000_000_000L);
        batchSize = options.getInt("--batch-size", DEFAULT_BATCH_SIZE, 1, MAX_BATCH_SIZE);
        seed = options.has("--seed") ?
            options.getLong("--seed", 0, Long.MIN_VALUE, Long.MAX_VALUE) : ThreadLocalRandom.current().nextLong();
        clientId = options.getLong("--client-id", 0, Long.MIN_VALUE, Long.MAX_VALUE);
        if (options.has("--client-id") && 0 == clientId)
        {
            throw new UsageException("--client-id must not be 0");
        }
        timeoutMs = options.getLong("--timeout-ms", DEFAULT_TIMEOUT_MS, 1, TimeUnit.DAYS.toMillis(1));
        histogramFile = options.get("--histogram-file", null);
        if (!options.positionals().isEmpty())
        {
            throw new UsageException("unexpected argument '" + options.positionals().get(0) + "'");
        }
        final String typesOption = options.get("--types", null);
        final String opsOption = options.get("--ops", DEFAULT_OPS);

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
                    throw new UsageException("--types wants Name:weight,...: '" + item + "'");
                }
                final TypeDefinition type;
                try
                {
                    type = schema.type(parts[0].trim());
                }
                catch (final IllegalArgumentException ex)
                {
                    throw new UsageException("--types: " + ex.getMessage());
                }
                for (final TypePlan plan : plans)
                {
                    if (plan.type == type)
                    {
                        throw new UsageException("--types names " + type.name() + " twice");
                    }
                }
                plans.add(new TypePlan(type));
                weights.add(parts.length == 2 ? (int)CliSupport.parseLong("--types weight of " + type.name(),
                    parts[1], 0, 1_000_000) : 1);
            }
        }
        types = plans.toArray(new TypePlan[0]);
        typeWeights = weights.stream().mapToInt(Integer::intValue).toArray();
        typeWeightTotal = Arrays.stream(typeWeights).sum();
        if (typeWeightTotal <= 0)
        {
            throw new UsageException("--types: the weights add up to 0");
        }

        // --ops
        opWeights = new int[OP_NAMES.size()];
        final boolean[] seen = new boolean[OP_NAMES.size()];
        for (final String item : opsOption.split(","))
        {
            final String[] parts = item.trim().split(":", -1);
            final int op = OP_NAMES.indexOf(parts[0].trim());
            if (parts.length != 2 || op < 0)
            {
                throw new UsageException("--ops wants create:w,update:w,increment:w,delete:w (any of them, " +
                    "integer weights): '" + item + "'");
            }
            if (seen[op])
            {
                throw new UsageException("--ops names " + OP_NAMES.get(op) + " twice");
            }
            seen[op] = true;
            opWeights[op] = (int)CliSupport.parseLong("--ops weight of " + OP_NAMES.get(op), parts[1], 0, 1_000_000);
        }
        opWeightTotal = Arrays.stream(opWeights).sum();
        if (opWeightTotal <= 0)
        {
            throw new UsageException("--ops: the weights add up to 0");
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
            err.println(PREFIX + ex.getMessage() + " (see --help)");
            return CliSupport.EXIT_USAGE;
        }
        catch (final CliException ex)
        {
            err.println(PREFIX + "error: " + ex.getMessage());
            return CliSupport.EXIT_FAILURE;
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
                temporaryDirectory = createTemporaryDirectory();
                driver = SpateDriver.launchEmbedded(
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
            final int maxRecordBytes = schema.maxRecordLengthBytes();
            client = SpateClient.connect(new SpateClient.Context()
                .aeron(aeron)
                .schema(schema)
                .ingressChannel(channel)
                .ingressStreamId(streamId)
                .responseChannel(responseChannel)
                .clientId(clientId)
                .maxRecordsPerBatch(batchSize)
                // Room for a whole batch of the largest records: the client never flushes on its own.
                .batchCapacityBytes((int)Math.min(Integer.MAX_VALUE - 8, (long)batchSize * maxRecordBytes + 1024))
                .timeoutMs(Math.min(timeoutMs, MAX_CONNECT_TIMEOUT_MS)));
            client.ackListener(this::onAck);
            return loop(out, err, stopRequested);
        }
        catch (final CliException | SpateClientException ex)
        {
            err.println(PREFIX + "error: " + ex.getMessage());
            return CliSupport.EXIT_FAILURE;
        }
        catch (final IOException | RuntimeException ex)
        {
            err.println(PREFIX + "error: " + (null != aeronError ? aeronError : CliSupport.oneLine(ex)));
            return CliSupport.EXIT_FAILURE;
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
            " channel=" + channel + " stream=" + streamId + " response=" + responseChannel + " records=" + records +
            " rate=" + (rate == 0 ? "max" : rate + "/s") + " batch=" + batchSize + " types=" + typeList +
            " ops=" + opList + " seed=" + seed + " client=" + (clientId == 0 ? "random" : Long.toString(clientId)) +
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
        startNs = System.nanoTime();
        lastProgressNs = startNs;
        String failure = null;
        boolean stopped = false;
        try
        {
            long batchIndex = 0;
            while (sentRecords < records)
            {
                final long correlationId = nextCorrelationId;
                final int slot = (int)(correlationId & ringMask);
                if (!awaitRoom(slot, out, stopRequested))
                {
                    stopped = true;
                    break;
                }
                final int count = (int)Math.min(batchSize, records - sentRecords);
                long intendedNs = 0;
                if (intervalNs > 0)
                {
                    intendedNs = startNs + batchIndex * intervalNs;
                    if (!awaitTime(intendedNs, out, stopRequested))
                    {
                        stopped = true;
                        break;
                    }
                }
                writeBatch(slot, count);
                final long sendNs = System.nanoTime();
                final long sent = send(out, stopRequested);
                if (sent == SpateClient.BACK_PRESSURED)
                {
                    stopped = true;
                    break;
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
                client.poll();
                progress(out, System.nanoTime());
            }
            if (stopRequested.getAsBoolean())
            {
                stopped = true;
            }
            failure = awaitAllAcks(out, stopped ? Math.min(timeoutMs, 2_000) : timeoutMs);
        }
        catch (final SpateClientException ex)
        {
            failure = ex.getMessage();
        }
        catch (final RuntimeException ex)
        {
            failure = null != aeronError ? aeronError : CliSupport.oneLine(ex);
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
        writeHistogram();
        return null == failure && !stopped && sentRecords == records && ackedRecords == sentRecords ?
            CliSupport.EXIT_OK : CliSupport.EXIT_FAILURE;
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
            progress(out, nowNs);
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
            progress(out, nowNs);
            if (client.poll() > 0)
            {
                continue;
            }
            if (remainingNs > 150_000)
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
            final long nowNs = System.nanoTime();
            disconnectedSinceNs = checkConnected(disconnectedSinceNs, nowNs);
            if (nowNs > deadlineNs)
            {
                throw new SpateClientException("back pressure: the pipeline took no batch for " + timeoutMs + " ms");
            }
            progress(out, nowNs);
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
        if (0 == disconnectedSinceNs)
        {
            return nowNs;
        }
        if (nowNs - disconnectedSinceNs > DISCONNECTED_LIMIT_NS)
        {
            throw new SpateClientException("the pipeline went away: nothing subscribes to " + channel + " stream " +
                streamId + " any more");
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
                if (client.inFlightBatches() > 0)
                {
                    return ex.getMessage() + "; " + client.inFlightBatches() + " batches (" +
                        (sentRecords - ackedRecords) + " records) not acked";
                }
            }
            progress(out, nowNs);
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
                text.setLength(0);
                text.append('p').append(recordSeq);
                text.setLength(Math.min(text.length(), field.maxLengthBytes()));
                client.setString(field, text);
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
        intervalLatencyNs.recordValue(batchLatencyNs);
        lastAckNs = nowNs;
        final int count = slotRecords[slot];
        final int base = slot * batchSize;
        for (final AckDecoder.CreatedIdsDecoder created : ack.createdIds())
        {
            final long index = created.recordIndex();
            if (index < count)
            {
                final TypePlan plan = types[recordMeta[base + (int)index] & TYPE_MASK];
                plan.live.add(created.nodeId());
                plan.created++;
            }
        }
        Arrays.fill(failedScratch, 0, count, false);
        int errors = 0;
        for (final AckDecoder.ErrorsDecoder error : ack.errors())
        {
            final long index = error.recordIndex();
            if (index < count && error.status() != RecordStatus.OK)
            {
                failedScratch[(int)index] = true;
                errors++;
            }
        }
        if (errors == 0 && ack.status() != RecordStatus.OK)
        {
            // The whole batch was refused: nothing of it was applied.
            Arrays.fill(failedScratch, 0, count, true);
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
        slotBusy[slot] = false;
    }

    private void progress(final PrintStream out, final long nowNs)
    {
        if (nowNs - lastProgressNs < 1_000_000_000L)
        {
            return;
        }
        final double seconds = (nowNs - lastProgressNs) / 1e9;
        out.printf(Locale.ROOT, "%ssent=%d acked=%d errors=%d rate=%.0f/s%n", PREFIX, sentRecords, ackedRecords,
            errorRecords, (ackedRecords - lastProgressAcked) / seconds);
        logInterval();
        lastProgressNs = nowNs;
        lastProgressAcked = ackedRecords;
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
        return String.format(Locale.ROOT,
            "%srecords=%d acked=%d errors=%d records/s=%.0f ack_p50_us=%.1f ack_p99_us=%.1f ack_p99.9_us=%.1f " +
            "ack_max_us=%.1f unacked=%d created=%d deleted=%d%s live%s",
            PREFIX, sentRecords, ackedRecords, errorRecords, ackedRecords / seconds,
            latencyNs.getValueAtPercentile(50) / 1e3, latencyNs.getValueAtPercentile(99) / 1e3,
            latencyNs.getValueAtPercentile(99.9) / 1e3, latencyNs.getMaxValue() / 1e3, sentRecords - ackedRecords,
            created, deleted, unexpectedAcks > 0 ? " unexpected_acks=" + unexpectedAcks : "", live);
    }

    /**
     * Appends this second's latencies to the HdrHistogram interval log named by --histogram-file.
     */
    private void logInterval()
    {
        if (null == histogramFile)
        {
            return;
        }
        final long nowMs = System.currentTimeMillis();
        if (null == intervalLog)
        {
            try
            {
                intervalLogStream = new java.io.PrintStream(
                    new java.io.FileOutputStream(histogramFile), false, java.nio.charset.StandardCharsets.UTF_8);
            }
            catch (final IOException ex)
            {
                System.err.println(PREFIX + "cannot write " + histogramFile + ": " + ex.getMessage());
                return;
            }
            intervalLog = new org.HdrHistogram.HistogramLogWriter(intervalLogStream);
            intervalStartMs = nowMs - Math.max(0, (System.nanoTime() - startNs) / 1_000_000);
            intervalLog.outputLogFormatVersion();
            intervalLog.outputStartTime(intervalStartMs);
            intervalLog.setBaseTime(intervalStartMs);
            intervalLog.outputLegend();
        }
        intervalLatencyNs.setEndTimeStamp(nowMs);
        if (intervalLatencyNs.getStartTimeStamp() == Long.MAX_VALUE || intervalLatencyNs.getStartTimeStamp() == 0)
        {
            intervalLatencyNs.setStartTimeStamp(Math.max(intervalStartMs, nowMs - 1000));
        }
        intervalLog.outputIntervalHistogram(intervalLatencyNs);
        intervalLatencyNs.reset();
        intervalLatencyNs.setStartTimeStamp(nowMs);
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

    /**
     * @return a fresh directory for the embedded driver, next to Aeron's default directory (in memory,
     * /dev/shm, on Linux) when that is writable, else in java.io.tmpdir.
     */
    private static Path createTemporaryDirectory() throws IOException
    {
        final Path parent = Path.of(io.aeron.CommonContext.getAeronDirectoryName()).toAbsolutePath().getParent();
        if (null != parent && Files.isDirectory(parent) && Files.isWritable(parent))
        {
            return Files.createTempDirectory(parent, "spate-produce-");
        }
        return Files.createTempDirectory("spate-produce-");
    }
}
