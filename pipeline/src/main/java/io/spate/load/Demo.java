package io.spate.load;

import io.aeron.Aeron;
import io.spate.cli.CliSupport.CliException;
import io.spate.cli.CliSupport.Options;
import io.spate.cli.CliSupport.UsageException;
import io.spate.cli.CliSupport;
import io.spate.client.NodeView;
import io.spate.client.SpateClient;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.FieldDefinition;
import io.spate.codec.TypeDefinition;
import io.spate.driver.DriverConfiguration;
import io.spate.driver.SpateDriver;
import io.spate.pipeline.Pipeline;
import io.spate.pipeline.PipelineConfiguration;
import io.spate.store.NativeStore;
import io.spate.store.OffHeapBuffer;
import io.spate.wire.AckDecoder;
import io.spate.wire.RecordStatus;
import org.HdrHistogram.Histogram;
import org.agrona.CloseHelper;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The main job, {@code bin/spate demo}: an embedded media driver, the pipeline and an in-process
 * producer. With the example schema it creates 1,000,000 nodes over four types, updates and
 * increments a share of them, deletes some, then verifies the store (counts read back through the
 * pipeline, and a checksum of every node against what was sent). Prints a progress line each
 * second and a summary line starting {@code demo: records=}; exits 0 only when verified, 1 when not
 * (or it failed), 2 for a bad option or value, one line naming it ({@code demo: --creates must be
 * 1..10000000: -1}).
 */
public final class Demo
{
    static final String COMMAND = "demo";
    private static final int RECORDS_PER_BATCH = 256;
    private static final int MAX_BATCHES_IN_FLIGHT = 16;
    static final long DEFAULT_CREATES = 1_000_000;
    /**
     * The demo keeps the expected value of every node in arrays, and the example schema's Counter (a tenth of the
     * creates) holds at most 1,048,576 nodes: ten million creates fit both.
     */
    static final long MAX_CREATES = 10_000_000;
    static final int MAX_WORKERS = 64;
    /** The types the demo writes, their share of the creates (percent) and the field it checks. */
    private static final String[][] PLAN = { { "User", "40", "karma" }, { "Post", "30", "likes" },
        { "Follow", "20", "weight" }, { "Counter", "10", "hits" } };

    static final String USAGE = String.join(System.lineSeparator(),
        "Usage: bin/spate demo [--creates N] [--workers N] [--schema FILE]",
        "An embedded media driver, the pipeline and an in-process producer: N creates over four types",
        "(User 40%, Post 30%, Follow 20%, Counter 10%), updates and increments of a fifth each, deletes of up",
        "to a twentieth, then a verification of the store. Prints 'demo: sent=.. acked=.. errors=.. records/s=..'",
        "each second and a summary 'demo: records=.. records/s=.. ... verified=true|false'; plain digits.",
        "  --creates N      nodes to create, 1.." + MAX_CREATES + " (default " + DEFAULT_CREATES + ")",
        "  --workers N      worker agents, 1.." + MAX_WORKERS + " (default: " + PipelineConfiguration.WORKER_COUNT_PROP +
            ", else cores - 1, at least 1)",
        "  --schema FILE    database schema with the example's types and fields (default: " +
            "schema/examples/social.json)",
        "  --help           print this help and exit",
        "Exit status: 0 verified; 1 not verified, or it failed (schema file unreadable or invalid), one line;",
        "2 bad option or bad value of a flag or system property, one line naming it.");

    private final DatabaseSchema schema;
    private final long creates;
    private final int workers;
    private final TypeDefinition[] types;
    private final FieldDefinition[] checkedFields;
    private final int[] weights;
    private final int userType;
    private final int counterType;
    private final long[][] expectedValue;
    private final boolean[][] deleted;
    private final long[] createdByType;
    private final Histogram ackLatencyNs = new Histogram(3_600_000_000_000L, 3);
    private final long[] sendTimeNs = new long[1 << 20];
    private long recordsSent;
    private long recordsAcked;
    private long recordErrors;
    private long createdIdsAcked;
    private long lastProgressNs;
    private long startNs;

    Demo(final DatabaseSchema schema, final long creates, final int workers)
    {
        this.schema = schema;
        this.creates = creates;
        this.workers = workers;
        // In the schema's order: every list the demo prints follows it.
        final String[][] plan = PLAN.clone();
        java.util.Arrays.sort(plan, (a, b) -> Integer.compare(schema.type(a[0]).typeId(), schema.type(b[0]).typeId()));
        types = new TypeDefinition[plan.length];
        checkedFields = new FieldDefinition[plan.length];
        weights = new int[plan.length];
        for (int t = 0; t < plan.length; t++)
        {
            types[t] = schema.type(plan[t][0]);
            weights[t] = Integer.parseInt(plan[t][1]);
            checkedFields[t] = types[t].field(plan[t][2]);
        }
        userType = indexOf("User");
        counterType = indexOf("Counter");
        expectedValue = new long[types.length][];
        deleted = new boolean[types.length][];
        createdByType = new long[types.length];
        for (int t = 0; t < types.length; t++)
        {
            final int capacity = (int)creates;
            expectedValue[t] = new long[capacity + 1];
            deleted[t] = new boolean[capacity + 1];
        }
    }

    private int indexOf(final String typeName)
    {
        for (int t = 0; t < types.length; t++)
        {
            if (types[t].name().equals(typeName))
            {
                return t;
            }
        }
        throw new IllegalStateException(typeName);
    }

    public static void main(final String[] args) throws Exception
    {
        System.exit(run(args, System.out, System.err));
    }

    /**
     * Parses the command line and runs the demo.
     *
     * @return the exit status.
     */
    public static int run(final String[] args, final PrintStream out, final PrintStream err) throws Exception
    {
        if (CliSupport.wantsHelp(args))
        {
            out.println(USAGE);
            return CliSupport.EXIT_OK;
        }
        final long creates;
        final int workers;
        final String schemaFile;
        try
        {
            final Options options = new Options(args, Set.of("--creates", "--workers", "--schema"), Set.of());
            if (!options.positionals().isEmpty())
            {
                throw new UsageException("unexpected argument '" + options.positionals().get(0) + "'");
            }
            creates = options.getLong("--creates", DEFAULT_CREATES, 1, MAX_CREATES);
            CliSupport.longProperty(PipelineConfiguration.WORKER_COUNT_PROP, 0, 1, MAX_WORKERS);
            final int defaultWorkers;
            try
            {
                defaultWorkers = new PipelineConfiguration().workerCount();
            }
            catch (final IllegalArgumentException ex)
            {
                throw new UsageException("a spate.* system property: " + CliSupport.oneLine(ex), false);
            }
            workers = options.getInt("--workers", defaultWorkers, 1, MAX_WORKERS);
            schemaFile = options.get("--schema",
                Path.of(System.getProperty("spate.home", "."), "schema/examples/social.json").toString());
        }
        catch (final UsageException ex)
        {
            return CliSupport.usageError(err, COMMAND, ex);
        }
        final Demo demo;
        try
        {
            final DatabaseSchema schema = CliSupport.loadSchema(schemaFile);
            try
            {
                demo = new Demo(schema, creates, workers);
            }
            catch (final IllegalArgumentException ex)
            {
                throw new CliException("the demo writes the example schema's types and fields " +
                    "(schema/examples/social.json): " + CliSupport.oneLine(ex));
            }
        }
        catch (final CliException ex)
        {
            return CliSupport.failure(err, COMMAND, ex.getMessage());
        }
        return demo.run() ? CliSupport.EXIT_OK : CliSupport.EXIT_FAILURE;
    }

    boolean run() throws Exception
    {
        final Path dir = Files.createTempDirectory("spate-demo-");
        // Durable, like a service: the embedded driver hosts the archive that records the log.
        final DriverConfiguration driverConfiguration = new DriverConfiguration()
            .aeronDirectoryName(dir.resolve("aeron").toString())
            .embedded(true)
            .dataDir(dir.resolve("data").toString());
        SpateDriver driver = null;
        Aeron aeron = null;
        NativeStore store = null;
        Pipeline pipeline = null;
        SpateClient client = null;
        try
        {
            driver = SpateDriver.launchEmbedded(driverConfiguration);
            aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
            store = NativeStore.open(schema);
            for (int t = 0; t < types.length; t++)
            {
                store.reserve(types[t].typeId(), expectedValue[t].length);
            }
            final PipelineConfiguration configuration = new PipelineConfiguration().schema(schema).workerCount(workers)
                .dataDirectory(dir.resolve("data").toString());
            pipeline = new Pipeline(configuration, aeron, store);
            System.out.println("demo: " + configuration);
            client = SpateClient.connect(new SpateClient.Context().aeron(aeron).schema(schema));
            client.ackListener(this::onAck);
            startNs = System.nanoTime();
            lastProgressNs = startNs;
            produce(client);
            if (!client.awaitAcks(60_000))
            {
                System.out.println("demo: " + client.inFlightBatches() + " batches never acked");
                return false;
            }
            final double seconds = (System.nanoTime() - startNs) / 1e9;
            final boolean verified = verify(client, store);
            System.out.printf(Locale.ROOT,
                "demo: records=%d records/s=%.0f ack_p50_us=%.1f ack_p99_us=%.1f errors=%d workers=%d verified=%b%n",
                recordsAcked, recordsAcked / seconds, ackLatencyNs.getValueAtPercentile(50) / 1e3,
                ackLatencyNs.getValueAtPercentile(99) / 1e3, recordErrors, workers, verified);
            if (null != pipeline.firstError())
            {
                System.out.println("demo: the pipeline reported an error: " + pipeline.firstError());
                return false;
            }
            // The durable path: a clean stop snapshots; a new pipeline on a new store recovers all of it.
            final String before = store.contentFingerprint();
            client.close();
            client = null;
            final boolean drained = pipeline.drain(60_000);
            pipeline.close();
            pipeline = null;
            store.close();
            store = NativeStore.open(schema);
            pipeline = new Pipeline(configuration, aeron, store);
            final String after = store.contentFingerprint();
            final boolean recovered = drained && before.equals(after);
            System.out.println("demo: restarted on its data directory: store " + (recovered ? "equal" : "DIFFERS") +
                " (" + after + ")");
            return verified && recovered;
        }
        finally
        {
            CloseHelper.closeAll(client, pipeline, store, aeron, driver);
            org.agrona.IoUtil.delete(dir.toFile(), true);
        }
    }

    private void produce(final SpateClient client)
    {
        final SplittableRandom random = new SplittableRandom(7);
        System.out.printf(Locale.ROOT, "demo: creating %d nodes over %d types%n", creates, types.length);
        // Creates: weighted over the four types; the checked field gets a value derived from the id.
        for (long i = 0; i < creates; i++)
        {
            final int t = pickType(random);
            final long id = ++createdByType[t];
            final long value = initialValue(t, id);
            expectedValue[t][(int)id] = value;
            client.create(types[t]);
            client.setLong(checkedFields[t], value);
            if (t == userType)
            {
                client.setString(types[t].field("name"), "user-" + (id & 1023));
            }
            sent(client);
        }
        System.out.printf(Locale.ROOT, "demo: updating %d and incrementing %d nodes%n", creates / 5, creates / 5);
        // Updates of a fifth, increments of a fifth.
        for (long i = 0; i < creates / 5; i++)
        {
            final int t = pickType(random);
            final long id = 1 + random.nextLong(createdByType[t]);
            final long value = initialValue(t, id + i);
            client.update(types[t], id);
            client.setLong(checkedFields[t], value);
            expectedValue[t][(int)id] = value;
            sent(client);
        }
        for (long i = 0; i < creates / 5; i++)
        {
            final int t = random.nextBoolean() ? userType : counterType;
            final long id = 1 + random.nextLong(createdByType[t]);
            final long delta = random.nextInt(1000) - 500;
            client.increment(types[t], id, checkedFields[t], delta);
            expectedValue[t][(int)id] += delta;
            sent(client);
        }
        System.out.printf(Locale.ROOT, "demo: deleting up to %d nodes%n", creates / 20);
        // Deletes last, so no earlier record names a deleted node.
        for (long i = 0; i < creates / 20; i++)
        {
            final int t = pickType(random);
            final long id = 1 + random.nextLong(createdByType[t]);
            if (!deleted[t][(int)id])
            {
                deleted[t][(int)id] = true;
                client.delete(types[t], id);
                sent(client);
            }
        }
        flush(client);
    }

    private void sent(final SpateClient client)
    {
        recordsSent++;
        if (recordsSent % RECORDS_PER_BATCH == 0)
        {
            flush(client);
        }
    }

    private void flush(final SpateClient client)
    {
        final long correlationId = client.flush();
        if (correlationId > 0)
        {
            sendTimeNs[(int)(correlationId & (sendTimeNs.length - 1))] = System.nanoTime();
        }
        client.poll();
        // A bounded window of batches in flight, as a real producer keeps: latency then measures
        // the pipeline, not a queue the producer built itself.
        while (client.inFlightBatches() >= MAX_BATCHES_IN_FLIGHT)
        {
            if (client.poll() == 0)
            {
                Thread.onSpinWait();
            }
        }
        final long nowNs = System.nanoTime();
        if (nowNs - lastProgressNs >= 1_000_000_000L)
        {
            lastProgressNs = nowNs;
            System.out.printf(Locale.ROOT, "demo: sent=%d acked=%d errors=%d records/s=%.0f%n",
                recordsSent, recordsAcked, recordErrors, recordsAcked / ((nowNs - startNs) / 1e9));
        }
    }

    private void onAck(final AckDecoder ack)
    {
        final long sentNs = sendTimeNs[(int)(ack.correlationId() & (sendTimeNs.length - 1))];
        ackLatencyNs.recordValue(Math.max(0, System.nanoTime() - sentNs));
        recordsAcked += ack.recordCount();
        for (final AckDecoder.CreatedIdsDecoder ignored : ack.createdIds())
        {
            createdIdsAcked++;
        }
        for (final AckDecoder.ErrorsDecoder error : ack.errors())
        {
            if (error.status() != RecordStatus.OK)
            {
                recordErrors++;
            }
        }
    }

    private boolean verify(final SpateClient client, final NativeStore store)
    {
        boolean verified = recordErrors == 0 && recordsAcked == recordsSent && createdIdsAcked == creates;
        if (!verified)
        {
            System.out.println("demo: sent=" + recordsSent + " acked=" + recordsAcked + " errors=" + recordErrors +
                " created_ids_acked=" + createdIdsAcked + " creates=" + creates);
        }
        final int maxNodeBytes = NativeStore.maxNodeLengthBytes(schema);
        try (OffHeapBuffer copy = new OffHeapBuffer(maxNodeBytes))
        {
            final NodeView view = new NodeView();
            for (int t = 0; t < types.length; t++)
            {
                long expectedLive = 0;
                long expectedChecksum = 0;
                long actualChecksum = 0;
                for (long id = 1; id <= createdByType[t]; id++)
                {
                    final int length = store.get(types[t].typeId(), id, copy.address(), copy.capacityBytes());
                    if (!deleted[t][(int)id])
                    {
                        expectedLive++;
                        expectedChecksum += mix(id, expectedValue[t][(int)id]);
                    }
                    if (length > 0)
                    {
                        view.wrap(types[t], copy.buffer(), 0, length);
                        actualChecksum += mix(id, view.getLong(checkedFields[t]));
                    }
                }
                final long countThroughPipeline = client.count(types[t]);
                final boolean typeOk = countThroughPipeline == expectedLive && actualChecksum == expectedChecksum;
                System.out.printf(Locale.ROOT, "demo: type=%s live=%d expected_live=%d checksum=%s%n", types[t].name(),
                    countThroughPipeline, expectedLive, actualChecksum == expectedChecksum ? "matches" : "DIFFERS");
                verified &= typeOk;
            }
        }
        return verified;
    }

    private int pickType(final SplittableRandom random)
    {
        int dice = random.nextInt(100);
        for (int t = 0; t < weights.length; t++)
        {
            dice -= weights[t];
            if (dice < 0)
            {
                return t;
            }
        }
        return weights.length - 1;
    }

    private long initialValue(final int type, final long seed)
    {
        final long mixed = mix(type, seed);
        // A value the checked field holds exactly (Post.likes is a u32, Follow.weight an i32).
        return switch (checkedFields[type].kind())
        {
            case U32 -> mixed & 0xFFFF_FFFFL;
            case I32 -> (int)mixed;
            default -> mixed;
        };
    }

    private static long mix(final long a, final long b)
    {
        long x = a * 0x9E3779B97F4A7C15L + b;
        x ^= x >>> 31;
        x *= 0xBF58476D1CE4E5B9L;
        return x ^ (x >>> 29);
    }
}
