package io.spate.perf;

import io.aeron.Aeron;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.driver.DriverConfiguration;
import io.spate.driver.PerformanceProfile;
import io.spate.driver.SpateDriver;
import io.spate.driver.SyncLevel;
import io.spate.pipeline.Pipeline;
import io.spate.pipeline.PipelineConfiguration;
import io.spate.pipeline.Recovery;
import io.spate.pipeline.StageLatencies;
import io.spate.store.NativeStore;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramLogReader;
import org.HdrHistogram.HistogramLogWriter;
import org.agrona.CloseHelper;
import org.agrona.IoUtil;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.DoubleSupplier;

/**
 * {@code bin/spate bench}: ceilings (transport, apply) and the pipeline measured in the same run
 * with the same records, the producer in a separate process; ack latency at fixed offered rates
 * (coordinated-omission corrected by the producer) with a per-stage breakdown, each beside a bare
 * Aeron IPC echo at the same rate (the latency ceiling, {@link EchoCeiling}); bytes allocated per
 * record on the conductor and worker threads and on the producer's thread; the durable log's costs.
 * Every figure is taken warm. Writes .hgrm files, interval logs, a PNG of the latency percentile
 * curves, summary.json and summary.md into one folder; the last line printed starts {@code bench:}.
 */
public final class Bench
{
    private static final int RECORDS_PER_BATCH = 100;
    private static final String IN_MEMORY = "in-memory";
    private static final String[] SYNCS = { IN_MEMORY, "none", "data" };
    private static final String[] SHAPES = { "creates", "updates", "mix" };
    /** Records per ceiling measurement, a few hundred ms each; the same in --quick. */
    private static final long CEILING_RECORDS = 3_000_000;
    /** Untimed ceiling runs stop once two consecutive ones agree this closely... */
    private static final double CEILING_AGREEMENT = 0.10;
    /** ...or after this many. */
    private static final int CEILING_WARMUP_RUNS_MAX = 5;
    /** Records per pipeline throughput run (after the 100,000-record warm-up producer); the same in --quick. */
    private static final long THROUGHPUT_RECORDS = 5_000_000;
    /**
     * Records the warm-up producer sends at full speed before each pipeline run: with 100,000 the pipeline's
     * C2 compiler still took half of its process's CPU samples during the measured run (bin/spate profile).
     */
    private static final long PIPELINE_WARMUP_RECORDS = 1_000_000;
    /** The measured producer's own warm-up at full speed (its JVM is fresh), whatever the rate measured after it. */
    private static final long PRODUCER_WARMUP_RECORDS = 1_000_000;
    /** A latency row whose achieved rate is below this share of the offered one is not sustained. */
    private static final double SUSTAINED_SHARE = 0.95;
    private static final double GOAL_RATIO_TO_CEILING = 0.5;
    private static final double GOAL_P99_RATIO_TO_ECHO = 2.0;
    private static final double GOAL_P999_RATIO_TO_ECHO = 3.0;
    private static final double GOAL_DURABLE_RATIO = 0.8;
    private static final double GOAL_CHURN_RSS_RATIO = 1.1;
    /** The churn row's live set; it runs for more than 20 times that many creates. */
    private static final long CHURN_LIVE_NODES = 100_000;

    private final Path home;
    private final Path out;
    private final Path argfile;
    private final Path schemaFile;
    private final DatabaseSchema schema;
    private final boolean quick;
    private final String profile;
    private final List<String> childJvmArgs;
    private final long latencySeconds;
    private final int maxWorkers;
    private final Map<String, Object> summary = new LinkedHashMap<>();
    private final List<String> markdownRows = new ArrayList<>();
    private final List<String> latencyRows = new ArrayList<>();
    private final List<LatencyPlot.Curve> curves = new ArrayList<>();
    private int nextCeilingStreamId = 9001;
    private final long startNs = System.nanoTime();
    private int step;
    private int steps;

    /**
     * @param profile the {@code spate.profile} the run uses, or null for the default settings.
     */
    Bench(final Path home, final Path out, final boolean quick, final String profile)
    {
        this.home = home;
        this.out = out;
        this.quick = quick;
        this.profile = profile;
        this.childJvmArgs = null == profile ? List.of() : List.of("-D" + PerformanceProfile.PROFILE_PROP + "=" + profile);
        this.argfile = home.resolve("perf/target/spate.argfile");
        this.schemaFile = benchSchema(home.resolve("schema/examples/social.json"), out);
        this.schema = SchemaCompiler.compile(schemaFile);
        // --quick measures fewer points, not shorter ones: 5 s of each rate against 8 s.
        this.latencySeconds = quick ? 5 : 8;
        this.maxWorkers = quick ? 1 : Math.max(2, Runtime.getRuntime().availableProcessors() - 1);
    }

    /**
     * The example schema with room for every run: its Counter type holds 1,048,576 nodes, which the full
     * run's 8 s at 1,000,000 records/s would fill (TYPE_FULL, and the producer exits 1).
     */
    private static Path benchSchema(final Path example, final Path out)
    {
        try
        {
            final String json = Files.readString(example);
            final String roomy = json.replace("\"maxNodes\": 1048576", "\"maxNodes\": 16777216");
            final Path file = out.resolve("bench-schema.json");
            Files.writeString(file, roomy);
            return file;
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("cannot write the bench's schema into " + out + ": " + ex, ex);
        }
    }

    public static void main(final String[] args) throws Exception
    {
        if (Arrays.asList(args).contains("--cluster"))
        {
            // bench --cluster: replicated Spate on Aeron Cluster beside the single node (ClusterBench).
            ClusterBench.main(Arrays.stream(args).filter(arg -> !arg.equals("--cluster")).toArray(String[]::new));
            return;
        }
        boolean quick = false;
        Path out = null;
        String profile = null;
        final Path home = Path.of(System.getProperty("spate.home", "."));
        for (int i = 0; i < args.length; i++)
        {
            switch (args[i])
            {
                case "--quick" -> quick = true;
                case "--out" -> out = Path.of(value(args, i++));
                case "--profile" -> profile = value(args, i++);
                case "--help", "-h" ->
                {
                    System.out.println("""
                        Usage: bin/spate bench [--quick] [--profile NAME] [--out DIR]
                        Ceilings (transport, apply), pipeline throughput (producer in a separate JVM) as a ratio
                        to the lower ceiling, ack latency at fixed offered rates beside a bare Aeron IPC echo
                        at the same rates (the latency ceiling), allocation, the durable log's costs; every
                        figure taken warm.
                          --quick         fewer points, each as warm and as long: 1 worker, 2 rates (100,000/s
                                          and 80% of max), durable mix only (about 2 minutes; full: about 5)
                          --profile NAME  run with -Dspate.profile=NAME here and in every child JVM
                                          (default: none, the default settings)
                          --out DIR       output folder (default target/bench/<timestamp>)
                        bin/spate bench --cluster [--quick] [--out DIR]: a 3-member cluster (Aeron Cluster) beside
                        the single node: throughput, ack latency, election time after a leader's SIGKILL, catch-up
                        rate of a restarted member (bench --cluster --help for its options).""");
                    return;
                }
                default ->
                {
                    System.err.println("bench: unknown option " + args[i] + " (try --help)");
                    System.exit(2);
                }
            }
        }
        if (null != profile)
        {
            try
            {
                profile = PerformanceProfile.parse(profile).profileName();
            }
            catch (final IllegalArgumentException ex)
            {
                System.err.println("bench: --profile: " + ex.getMessage());
                System.exit(2);
            }
            // Before any configuration object exists: they read their defaults when created.
            System.setProperty(PerformanceProfile.PROFILE_PROP, profile);
        }
        if (null == out)
        {
            out = home.resolve("target/bench").resolve(LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        }
        Files.createDirectories(out);
        new Bench(home, out, quick, profile).run();
    }

    private static String value(final String[] args, final int i)
    {
        if (i + 1 >= args.length || args[i + 1].startsWith("--"))
        {
            System.err.println("bench: " + args[i] + " needs a value (try --help)");
            System.exit(2);
        }
        return args[i + 1];
    }

    void run() throws Exception
    {
        final Path dir = Files.createTempDirectory("spate-bench-");
        try
        {
            measure(dir);
        }
        finally
        {
            // Durable runs and recovery leave gigabytes of logs and snapshots: nothing of them is a result.
            IoUtil.delete(dir.toFile(), true);
        }
    }

    private void measure(final Path dir) throws Exception
    {
        final long[] rates = quick ? new long[]{ 100_000 } : new long[]{ 10_000, 100_000, 1_000_000 };
        final String[] durableShapes = quick ? new String[]{ "mix" } : new String[]{ "creates", "mix" };
        final String[] durableLatencySyncs = quick ? new String[]{ "none" } : new String[]{ "none", "data" };
        steps = 2 * SHAPES.length + SHAPES.length * maxWorkers + 2 * (rates.length + 1) +
            durableShapes.length * SYNCS.length + durableLatencySyncs.length + 3 + 1 + 1;
        summary.put("machine", Runtime.getRuntime().availableProcessors() + " cpus, " +
            System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        summary.put("jdk", Runtime.version().toString());
        summary.put("quick", quick);
        summary.put("profile", profileName());
        summary.put("run", out.getFileName().toString());

        final Map<String, Double> lowerCeiling = new LinkedHashMap<>();
        try (SpateDriver driver = SpateDriver.launchEmbedded(new DriverConfiguration()
            .aeronDirectoryName(dir.resolve("ceilings").toString()).embedded(true));
            Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName())))
        {
            for (final String shape : SHAPES)
            {
                final EncodedBatches batches = batches(shape);
                progress("ceiling: transport, " + shape + " (warmed until two runs agree, then measured)");
                final double transport = warm(() -> Ceilings.transport(aeron, batches, CEILING_RECORDS, nextCeilingStreamId++));
                progress("ceiling: apply, " + shape + " (warmed until two runs agree, then measured)");
                final double apply = warm(() -> Ceilings.apply(schema, batches, CEILING_RECORDS));
                lowerCeiling.put(shape, Math.min(transport, apply));
                summary.put("ceiling_transport_" + shape + "_records_per_s", Math.round(transport));
                summary.put("ceiling_apply_" + shape + "_records_per_s", Math.round(apply));
                markdownRows.add(row("ceiling: transport (IPC, counting subscriber), " + shape, transport, "records/s",
                    "", "", ""));
                markdownRows.add(row("ceiling: apply (native store, one thread), " + shape, apply, "records/s",
                    "", "", ""));
            }
        }

        double bestMix = 0;
        double bestCreates = 0;
        double allocationPerRecord = 0;
        double clientAllocationPerRecord = Double.NaN;
        for (final String shape : SHAPES)
        {
            for (int workers = 1; workers <= maxWorkers; workers++)
            {
                progress("pipeline: " + shape + ", " + workers + " worker(s), producer in a separate process");
                final RunResult result = pipelineRun(dir.resolve(shape + "-" + workers), shape, workers, 0,
                    THROUGHPUT_RECORDS, IN_MEMORY);
                final double ratio = result.recordsPerSecond / lowerCeiling.get(shape);
                summary.put("pipeline_" + shape + "_" + workers + "w_records_per_s", Math.round(result.recordsPerSecond));
                summary.put("pipeline_" + shape + "_" + workers + "w_ratio_to_ceiling", round(ratio));
                markdownRows.add(row("pipeline " + shape + ", " + workers + " worker(s)", result.recordsPerSecond,
                    "records/s", ratio(ratio) + mark(ratio >= GOAL_RATIO_TO_CEILING), "≥ " + GOAL_RATIO_TO_CEILING, String.format(Locale.ROOT,
                    "ratio to the lower ceiling (%,.0f/s)", lowerCeiling.get(shape))));
                if (shape.equals("mix"))
                {
                    bestMix = Math.max(bestMix, result.recordsPerSecond);
                }
                if (shape.equals("creates"))
                {
                    bestCreates = Math.max(bestCreates, result.recordsPerSecond);
                    allocationPerRecord = Math.max(allocationPerRecord, result.allocatedBytesPerRecord);
                    if (!Double.isNaN(result.clientAllocatedBytesPerRecord))
                    {
                        clientAllocationPerRecord = Double.isNaN(clientAllocationPerRecord) ?
                            result.clientAllocatedBytesPerRecord :
                            Math.max(clientAllocationPerRecord, result.clientAllocatedBytesPerRecord);
                    }
                }
            }
        }
        summary.put("allocated_bytes_per_record", allocationPerRecord);
        markdownRows.add(row("allocation on conductor + worker threads (creates, steady state)", allocationPerRecord,
            "bytes/record", "", "0", ""));
        if (!Double.isNaN(clientAllocationPerRecord))
        {
            summary.put("client_allocated_bytes_per_record", clientAllocationPerRecord);
            markdownRows.add(row("allocation on the producer's sending thread (creates, steady state)",
                clientAllocationPerRecord, "bytes/record", "", "0", "bin/spate produce's alloc_bytes_per_record"));
        }

        final long sustainedRate = Math.max(10_000, Math.round(bestMix * 0.8 / 1000) * 1000);
        final long[] offered = Arrays.copyOf(rates, rates.length + 1);
        offered[rates.length] = sustainedRate;
        final EncodedBatches mixBatches = batches("mix");
        LatencyRow at100k = null;
        RunResult spateAt100k = null;
        for (int i = 0; i < offered.length; i++)
        {
            final long rate = offered[i];
            progress(String.format(Locale.ROOT, "latency: %,d records/s offered for %d s, 1 worker%s", rate, latencySeconds,
                rate == sustainedRate ? " (80% of the best mix throughput)" : ""));
            final RunResult result = pipelineRun(dir.resolve("rate-" + rate), "mix", 1, rate,
                Math.max(rate * latencySeconds, 10_000), IN_MEMORY);
            progress(String.format(Locale.ROOT, "latency ceiling: bare Aeron IPC echo at %,d records/s (%,d messages/s " +
                "of %d bytes, answers of %d bytes)", rate, rate / RECORDS_PER_BATCH, mixBatches.meanLengthBytes(),
                mixBatches.ackLengthBytes()));
            final EchoCeiling.Result echo = EchoCeiling.run(dir.resolve("echo-" + rate), argfile, childJvmArgs,
                schemaFile, mixBatches, "mix", rate, latencySeconds, dir.resolve("echo-" + rate + ".hlog"));
            final LatencyRow latency = latencyRow(rate, result, echo, bestMix);
            if (rate == 100_000)
            {
                at100k = latency;
                spateAt100k = result;
            }
            if (null != result.ackLatency)
            {
                writeHgrm(result.ackLatency, out.resolve("ack-latency-" + rate + ".hgrm"));
                curves.add(new LatencyPlot.Curve(String.format(Locale.ROOT, "Spate %,d/s", rate), result.ackLatency, i,
                    false));
            }
            if (null != echo.roundTripNs())
            {
                writeHgrm(echo.roundTripNs(), out.resolve("echo-" + rate + ".hgrm"));
                curves.add(new LatencyPlot.Curve(String.format(Locale.ROOT, "echo %,d/s", rate), echo.roundTripNs(), i,
                    true));
            }
        }

        durability(dir, durableShapes, durableLatencySyncs, lowerCeiling, spateAt100k);
        final ChurnBench.Result churn = churn(dir.resolve("churn"));

        progress("writing reports");
        LatencyPlot.write(curves, String.format(Locale.ROOT, "Spate ack latency vs bare Aeron IPC echo, run %s%s, " +
            "profile %s", out.getFileName(), quick ? " (--quick)" : "", profileName()), out.resolve("latency.png"));
        final String markdown = writeSummary();
        System.out.println();
        System.out.print(markdown);
        System.out.println();
        final double seconds = (System.nanoTime() - startNs) / 1e9;
        System.out.printf(Locale.ROOT,
            "bench: profile=%s creates=%.0f records/s creates_ratio_to_ceiling=%.2f (goal >= %.1f) mix=%.0f records/s " +
            "mix_ratio_to_ceiling=%.2f (goal >= %.1f) ack_p99_at_100k=%.1fus p99_ratio_to_echo_at_100k=%.2f (goal <= %.0f) " +
            "p999_ratio_to_echo_at_100k=%.2f (goal <= %.0f)%s durable_mix_none_ratio=%s (goal >= %.1f) " +
            "alloc=%.3f B/record (goal 0) client_alloc=%s B/record (goal 0) replay=%s records/s churn=%.0f records/s " +
            "churn_rss_ratio=%.3f (goal <= %.1f) churn_refused=%d (goal 0) out=%s took=%.0fs%n",
            profileName(), bestCreates, bestCreates / lowerCeiling.get("creates"), GOAL_RATIO_TO_CEILING, bestMix,
            bestMix / lowerCeiling.get("mix"), GOAL_RATIO_TO_CEILING,
            null == at100k ? Double.NaN : at100k.p99Us, null == at100k ? Double.NaN : at100k.p99Ratio,
            GOAL_P99_RATIO_TO_ECHO, null == at100k ? Double.NaN : at100k.p999Ratio, GOAL_P999_RATIO_TO_ECHO,
            null != at100k && !at100k.sustained ? " (100k/s not sustained)" : "",
            summary.get("durable_mix_none_ratio_to_in_memory"), GOAL_DURABLE_RATIO, allocationPerRecord,
            Double.isNaN(clientAllocationPerRecord) ? "n/a" : String.format(Locale.ROOT, "%.3f", clientAllocationPerRecord),
            summary.get("recovery_replay_records_per_s"), churn.recordsPerSecond(), churn.rssRatio(),
            GOAL_CHURN_RSS_RATIO, churn.refused(), out, seconds);
    }

    /** One offered rate: Spate's ack latency beside the echo's round trip, in µs. */
    record LatencyRow(long rate, double achieved, boolean sustained, double p99Us, double p99Ratio, double p999Ratio)
    {
    }

    private LatencyRow latencyRow(final long rate, final RunResult result, final EchoCeiling.Result echo,
        final double maxThroughput)
    {
        final boolean sustained = result.recordsPerSecond >= SUSTAINED_SHARE * rate && rate <= maxThroughput;
        final double p99Ratio = result.p99Us / echo.p99Us();
        final double p999Ratio = result.p999Us / echo.p999Us();
        final String prefix = "latency_" + rate + "_";
        summary.put(prefix + "ack_p50_us", round(result.p50Us));
        summary.put(prefix + "ack_p99_us", round(result.p99Us));
        summary.put(prefix + "ack_p999_us", round(result.p999Us));
        summary.put(prefix + "achieved_records_per_s", Math.round(result.recordsPerSecond));
        summary.put(prefix + "sustained", sustained);
        summary.put(prefix + "echo_p50_us", round(echo.p50Us()));
        summary.put(prefix + "echo_p99_us", round(echo.p99Us()));
        summary.put(prefix + "echo_p999_us", round(echo.p999Us()));
        summary.put(prefix + "echo_max_us", round(echo.maxUs()));
        summary.put(prefix + "echo_achieved_records_per_s", Math.round(echo.achievedRecordsPerSecond()));
        summary.put(prefix + "p50_ratio_to_echo", round(result.p50Us / echo.p50Us()));
        summary.put(prefix + "p99_ratio_to_echo", round(p99Ratio));
        summary.put(prefix + "p999_ratio_to_echo", round(p999Ratio));
        String note = "";
        if (!sustained)
        {
            note = String.format(Locale.ROOT, "not sustained: achieved %,.0f/s of %,d/s offered%s, latency is queueing",
                result.recordsPerSecond, rate, rate > maxThroughput ?
                String.format(Locale.ROOT, " (above the measured max %,.0f/s)", maxThroughput) : "");
            summary.put(prefix + "note", note);
        }
        latencyRows.add(String.format(Locale.ROOT,
            "| %,d | %,.0f | %,.1f | %,.1f | %,.1f | %,.1f | %,.1f | %,.1f | %s | %s | %s |", rate,
            result.recordsPerSecond, result.p50Us, result.p99Us, result.p999Us, echo.p50Us(), echo.p99Us(), echo.p999Us(),
            ratio(p99Ratio) + mark(p99Ratio <= GOAL_P99_RATIO_TO_ECHO),
            ratio(p999Ratio) + mark(p999Ratio <= GOAL_P999_RATIO_TO_ECHO), note));
        System.out.printf(Locale.ROOT, "bench   %,d/s: ack p50/p99/p99.9 %,.1f / %,.1f / %,.1f us, echo %,.1f / %,.1f / " +
            "%,.1f us, p99 ratio %.2f (goal <= 2), p99.9 ratio %.2f (goal <= 3)%s%n", rate, result.p50Us, result.p99Us,
            result.p999Us, echo.p50Us(), echo.p99Us(), echo.p999Us(), p99Ratio, p999Ratio, note.isEmpty() ? "" : "; " + note);
        for (final Map.Entry<String, Histogram> stage : result.stages.entrySet())
        {
            final Histogram histogram = stage.getValue();
            summary.put(prefix + "stage_" + stage.getKey() + "_p50_us", round(histogram.getValueAtPercentile(50) / 1e3));
            summary.put(prefix + "stage_" + stage.getKey() + "_p99_us", round(histogram.getValueAtPercentile(99) / 1e3));
            markdownRows.add(row(String.format(Locale.ROOT, "stage %s at %,d/s: p50", stage.getKey(), rate),
                histogram.getValueAtPercentile(50) / 1e3, "µs", "", "",
                String.format(Locale.ROOT, "p99 %.1f µs", histogram.getValueAtPercentile(99) / 1e3)));
            try
            {
                writeHgrm(histogram, out.resolve(String.format(Locale.ROOT, "stage-%s-%d.hgrm", stage.getKey(), rate)));
            }
            catch (final IOException ex)
            {
                throw new IllegalStateException("cannot write a stage histogram into " + out + ": " + ex, ex);
            }
        }
        return new LatencyRow(rate, result.recordsPerSecond, sustained, result.p99Us, p99Ratio, p999Ratio);
    }

    /**
     * Untimed runs of a ceiling until two consecutive ones agree (or a bounded number), then two measured
     * ones, the better kept: on shared cores a neighbour only ever slows a ceiling down.
     */
    private static double warm(final DoubleSupplier ceiling)
    {
        double previous = ceiling.getAsDouble();
        for (int run = 1; run < CEILING_WARMUP_RUNS_MAX; run++)
        {
            final double current = ceiling.getAsDouble();
            if (Math.abs(current - previous) <= CEILING_AGREEMENT * Math.max(current, previous))
            {
                break;
            }
            previous = current;
        }
        return Math.max(ceiling.getAsDouble(), ceiling.getAsDouble());
    }

    private EncodedBatches batches(final String shape)
    {
        return new EncodedBatches(schema, EncodedBatches.Shape.valueOf(shape.toUpperCase(Locale.ROOT)), 512,
            RECORDS_PER_BATCH, 11);
    }

    private String profileName()
    {
        return null == profile ? "default" : profile;
    }

    /**
     * The durable log's costs, each beside the in-memory figure of the same run: throughput and ack latency
     * with {@code --sync none} and {@code --sync data}; recovery of a data directory (snapshot load, and
     * replay of the whole log against the live apply rate); disk bytes per record.
     *
     * @param inMemoryAt100k the latency section's in-memory run at 100,000/s, the durable latencies' reference.
     */
    private void durability(final Path dir, final String[] shapes, final String[] latencySyncs,
        final Map<String, Double> lowerCeiling, final RunResult inMemoryAt100k) throws IOException
    {
        for (final String shape : shapes)
        {
            double inMemory = Double.NaN;
            for (final String sync : SYNCS)
            {
                progress("durable: " + shape + ", " + sync + ", 1 worker");
                final RunResult result = pipelineRun(dir.resolve("durable-" + shape + "-" + sync), shape, 1, 0,
                    THROUGHPUT_RECORDS, sync);
                if (sync.equals(IN_MEMORY))
                {
                    inMemory = result.recordsPerSecond;
                }
                final double ratio = result.recordsPerSecond / inMemory;
                final String key = "durable_" + shape + "_" + sync.replace('-', '_');
                summary.put(key + "_records_per_s", Math.round(result.recordsPerSecond));
                summary.put(key + "_ratio_to_in_memory", round(ratio));
                if (result.logBytesPerRecord > 0)
                {
                    summary.put(key + "_log_bytes_per_record", round(result.logBytesPerRecord));
                }
                markdownRows.add(row("durable " + shape + ", sync=" + sync + ", 1 worker", result.recordsPerSecond,
                    "records/s", sync.equals(IN_MEMORY) ? "" : ratio(ratio) + mark(!sync.equals("none") ||
                    ratio >= GOAL_DURABLE_RATIO), sync.equals("none") ? "≥ " +
                    GOAL_DURABLE_RATIO : "", String.format(Locale.ROOT, "ratio to in-memory; %.0f%% of the lower ceiling",
                    100 * result.recordsPerSecond / lowerCeiling.get(shape))));
            }
        }
        if (null != inMemoryAt100k)
        {
            durableLatencyRow(IN_MEMORY, inMemoryAt100k, inMemoryAt100k);
        }
        for (final String sync : latencySyncs)
        {
            progress("durable: ack latency at 100,000 records/s, " + sync);
            final RunResult result = pipelineRun(dir.resolve("durable-rate-" + sync), "mix", 1, 100_000,
                100_000 * latencySeconds, sync);
            durableLatencyRow(sync, result, inMemoryAt100k);
            if (null != result.ackLatency)
            {
                writeHgrm(result.ackLatency, out.resolve("ack-latency-100000-" + sync + ".hgrm"));
            }
        }
        // The full run's 5,000,000 keeps it within ~5 minutes on 2 cores; replay rates hold from 1,000,000 up.
        recovery(dir.resolve("recovery"), quick ? 1_000_000 : 5_000_000, lowerCeiling.get("creates"));
    }

    /**
     * The churn row ({@link ChurnBench}): a steady live set at full speed, 21 times its size in creates.
     */
    private ChurnBench.Result churn(final Path dir) throws IOException, InterruptedException
    {
        final long records = 42 * CHURN_LIVE_NODES; // half of them creates once the live set is full
        progress(String.format(Locale.ROOT, "churn: create:50,delete:50 at %,d live nodes, %,d records (standalone " +
            "driver and pipeline processes)", CHURN_LIVE_NODES, records));
        final ChurnBench.Result result = ChurnBench.run(dir, argfile, childJvmArgs, CHURN_LIVE_NODES,
            10 * CHURN_LIVE_NODES, records);
        summary.put("churn_records_per_s", Math.round(result.recordsPerSecond()));
        summary.put("churn_creates", result.creates());
        summary.put("churn_refused", result.refused());
        summary.put("churn_rss_start_kb", result.rssStartKb());
        summary.put("churn_rss_end_kb", result.rssEndKb());
        summary.put("churn_rss_ratio", round(result.rssRatio()));
        summary.put("churn_arena_reserved_bytes", result.arenaReservedBytes());
        markdownRows.add(row(String.format(Locale.ROOT, "churn at %,d live, %,d creates: throughput", CHURN_LIVE_NODES,
            result.creates()), result.recordsPerSecond(), "records/s", "", "", ChurnBench.describe(result)));
        markdownRows.add(row("churn: pipeline RSS at the end (without Aeron log buffers)", result.rssEndKb(), "kB",
            String.format(Locale.ROOT, "%.3f", result.rssRatio()) + mark(result.rssRatio() <= GOAL_CHURN_RSS_RATIO),
            "≤ " + GOAL_CHURN_RSS_RATIO, String.format(Locale.ROOT, "ratio to the start (%,d kB); with the log buffers " +
            "%,d -> %,d kB", result.rssStartKb(), result.totalRssStartKb(), result.totalRssEndKb())));
        markdownRows.add(row("churn: refused records", result.refused(), "records", mark(result.refused() == 0), "0",
            "TYPE_FULL, ARENA_FULL or any other failure"));
        return result;
    }

    private void durableLatencyRow(final String sync, final RunResult result, final RunResult inMemory)
    {
        final String key = "durable_latency_100000_" + sync.replace('-', '_');
        summary.put(key + "_ack_p50_us", round(result.p50Us));
        summary.put(key + "_ack_p99_us", round(result.p99Us));
        summary.put(key + "_ack_p999_us", round(result.p999Us));
        final boolean reference = null == inMemory || result == inMemory;
        markdownRows.add(row("ack latency at 100,000 records/s, sync=" + sync + ": p99", result.p99Us, "µs",
            reference ? "" : ratio(result.p99Us / inMemory.p99Us), "", String.format(Locale.ROOT,
            "%sp50 %.1f µs, p99.9 %.1f µs", reference ? "" : "ratio to in-memory; ", result.p50Us, result.p999Us)));
    }

    /**
     * Fills a data directory with creates, then recovers it twice: from the clean stop's snapshot, and
     * (the snapshots removed) by replaying the whole log; and weighs the archive and the snapshot.
     */
    private void recovery(final Path dir, final long records, final double createsCeiling) throws IOException
    {
        progress(String.format(Locale.ROOT, "recovery: %,d creates into a data directory", records));
        final Path data = dir.resolve("data");
        final RunResult live = pipelineRun(dir, "creates", 1, 0, records, "none");
        // The log's bytes (its position): Archive pre-sizes each segment file to the segment length, sparsely.
        final long logBytes = Math.round(live.logBytesPerRecord * records);
        final long snapshotBytes = sizeOf(data.resolve("snapshots"), ".spate-snapshot");

        progress("recovery: from the snapshot");
        final Recovery fromSnapshot = recover(dir, data);
        progress("recovery: replaying the whole log");
        try (var snapshots = Files.list(data.resolve("snapshots")))
        {
            for (final Path snapshot : snapshots.toList())
            {
                Files.delete(snapshot);
            }
        }
        final Recovery fromLog = recover(dir, data);
        final double replayRate = fromLog.recordsReplayed() * 1000.0 / Math.max(1, fromLog.replayMs());
        summary.put("recovery_records", records);
        summary.put("recovery_snapshot_load_ms", fromSnapshot.snapshotLoadMs());
        summary.put("recovery_replay_ms", fromLog.replayMs());
        summary.put("recovery_replay_records_per_s", Math.round(replayRate));
        summary.put("recovery_replay_ratio_to_live", round(replayRate / live.recordsPerSecond));
        summary.put("disk_log_bytes_per_record", round(live.logBytesPerRecord));
        summary.put("disk_snapshot_bytes_per_record", round((double)snapshotBytes / live.storedRecords));
        markdownRows.add(row(String.format(Locale.ROOT, "recovery of %,d records: snapshot load", records),
            fromSnapshot.snapshotLoadMs(), "ms", "", "", String.format(Locale.ROOT, "%,d snapshot bytes", snapshotBytes)));
        markdownRows.add(row(String.format(Locale.ROOT, "recovery of %,d records: whole-log replay", records),
            replayRate, "records/s", ratio(replayRate / live.recordsPerSecond), "≥ 1", String.format(Locale.ROOT,
            "ratio to the live durable rate (%,.0f/s); %d ms; %.0f%% of the lower creates ceiling", live.recordsPerSecond,
            fromLog.replayMs(), 100 * replayRate / createsCeiling)));
        markdownRows.add(row("disk: log (User creates)", live.logBytesPerRecord, "bytes/record", "", "",
            String.format(Locale.ROOT, "%,d bytes of log; Archive pre-sizes segment files (sparse)", logBytes)));
        markdownRows.add(row("disk: snapshot (User creates)", (double)snapshotBytes / live.storedRecords, "bytes/record",
            "", "", String.format(Locale.ROOT, "%,d bytes", snapshotBytes)));
    }

    private Recovery recover(final Path dir, final Path data)
    {
        try (SpateDriver driver = SpateDriver.launchEmbedded(new DriverConfiguration()
            .aeronDirectoryName(dir.resolve("aeron").toString()).embedded(true).dataDir(data.toString()));
            Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
            NativeStore store = NativeStore.open(schema);
            Pipeline pipeline = new Pipeline(new PipelineConfiguration().schema(schema).workerCount(1)
                .dataDirectory(data.toString()), aeron, store))
        {
            return pipeline.recovery();
        }
    }

    private static long sizeOf(final Path directory, final String suffix) throws IOException
    {
        if (!Files.isDirectory(directory))
        {
            return 0;
        }
        try (var files = Files.list(directory))
        {
            long total = 0;
            for (final Path file : files.filter((path) -> path.getFileName().toString().endsWith(suffix)).toList())
            {
                total += Files.size(file);
            }
            return total;
        }
    }

    /** What one pipeline run measured. */
    record RunResult(double recordsPerSecond, double p50Us, double p99Us, double p999Us,
        double allocatedBytesPerRecord, double clientAllocatedBytesPerRecord, Histogram ackLatency, Map<String, Histogram> stages, double logBytesPerRecord,
        long storedRecords)
    {
    }

    /**
     * @param sync {@link #IN_MEMORY}, or the archive's sync level (none, data) for a durable pipeline.
     */
    private RunResult pipelineRun(final Path dir, final String shape, final int workers, final long rate,
        final long records, final String sync) throws IOException
    {
        Files.createDirectories(dir);
        final com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        SpateDriver driver = null;
        Aeron aeron = null;
        NativeStore store = null;
        Pipeline pipeline = null;
        try
        {
            final boolean durable = !sync.equals(IN_MEMORY);
            final DriverConfiguration driverConfiguration = new DriverConfiguration()
                .aeronDirectoryName(dir.resolve("aeron").toString()).embedded(true);
            final PipelineConfiguration configuration = new PipelineConfiguration().schema(schema).workerCount(workers);
            if (durable)
            {
                driverConfiguration.dataDir(dir.resolve("data").toString()).syncLevel(SyncLevel.parse("bench", sync));
                configuration.dataDirectory(dir.resolve("data").toString()).sync(sync);
            }
            driver = SpateDriver.launchEmbedded(driverConfiguration);
            aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
            // The measured producer warms its own JIT first (a fresh JVM stalls for its first seconds), at full speed
            // and unmeasured, then sends the measured records at the rate.
            final long producerWarmupRecords = PRODUCER_WARMUP_RECORDS;
            final long pipelineWarmupRecords = PIPELINE_WARMUP_RECORDS;
            final long totalRecords = records + producerWarmupRecords + pipelineWarmupRecords;
            store = NativeStore.open(schema);
            for (final TypeDefinition type : schema.types())
            {
                store.reserve(type.typeId(), Math.min(totalRecords, type.maxNodes()));
            }
            pipeline = new Pipeline(configuration, aeron, store);
            final StageLatencies stageLatencies = pipeline.stageLatencies();
            final long[] agentThreads = pipeline.agentThreadIds();
            final Path histogramFile = dir.resolve("ack-latency.hlog");
            final List<String> args = new ArrayList<>(List.of(
                "--schema", schemaFile.toString(),
                "--dir", driver.aeronDirectoryName(),
                "--records", Long.toString(records),
                "--warmup-records", Long.toString(producerWarmupRecords),
                "--rate", Long.toString(rate),
                "--batch-size", Integer.toString(RECORDS_PER_BATCH),
                "--seed", "42",
                "--histogram-file", histogramFile.toString()));
            switch (shape)
            {
                case "creates" -> args.addAll(List.of("--types", "User:1", "--ops", "create:100"));
                case "updates" -> args.addAll(List.of("--types", "Counter:1", "--ops", "create:1,update:99"));
                default ->
                {
                }
            }
            // Warm the pipeline's JIT with a short run at full speed, then measure.
            ProducerProcess.run(argfile, childJvmArgs, withRecords(args, pipelineWarmupRecords, 0), 300);
            stageLatencies.ingressToDispatch();
            stageLatencies.queueWait();
            stageLatencies.apply();
            stageLatencies.ackDelivery();
            final long allocatedBefore = allocated(threads, agentThreads);
            final Map<String, String> result = ProducerProcess.run(argfile, childJvmArgs, args, 600);
            final long allocatedBytes = allocated(threads, agentThreads) - allocatedBefore;
            final Map<String, Histogram> stages = new LinkedHashMap<>();
            stages.put("ingress-to-dispatch", stageLatencies.ingressToDispatch());
            stages.put("queue-wait", stageLatencies.queueWait());
            stages.put("apply", stageLatencies.apply());
            stages.put("ack-delivery", stageLatencies.ackDelivery());
            final Histogram ackLatency = readHistogram(histogramFile);
            if (null != ackLatency)
            {
                // Durable runs of the same shape and rate keep their own file: sync in the name.
                Files.copy(histogramFile, out.resolve(String.format(Locale.ROOT, "ack-latency-%s-%dw-%d%s.hlog", shape,
                    workers, rate, durable ? "-sync-" + sync : "")), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
            return new RunResult(
                ProducerProcess.number(result, "records/s"),
                ProducerProcess.number(result, "ack_p50_us"),
                ProducerProcess.number(result, "ack_p99_us"),
                ProducerProcess.number(result, "ack_p99.9_us"),
                (double)allocatedBytes / records,
                // Another producer may not report it: then NaN, and no row.
                ProducerProcess.optionalNumber(result, "alloc_bytes_per_record"),
                ackLatency,
                stages,
                durable ? (double)pipeline.counters().logPosition().get() / totalRecords : 0,
                totalRecords);
        }
        finally
        {
            CloseHelper.closeAll(pipeline, store, aeron, driver);
        }
    }

    private static List<String> withRecords(final List<String> args, final long records, final long rate)
    {
        final List<String> copy = new ArrayList<>(args);
        copy.set(copy.indexOf("--records") + 1, Long.toString(records));
        copy.set(copy.indexOf("--rate") + 1, Long.toString(rate));
        copy.set(copy.indexOf("--warmup-records") + 1, "0");
        final int histogram = copy.indexOf("--histogram-file");
        copy.remove(histogram + 1);
        copy.remove(histogram);
        return copy;
    }

    static Histogram readHistogram(final Path file)
    {
        if (!Files.exists(file))
        {
            return null;
        }
        try
        {
            final HistogramLogReader reader = new HistogramLogReader(file.toFile());
            Histogram total = null;
            while (reader.hasNext())
            {
                final Histogram interval = (Histogram)reader.nextIntervalHistogram();
                if (null == interval)
                {
                    break;
                }
                if (null == total)
                {
                    total = new Histogram(interval.getHighestTrackableValue(), interval.getNumberOfSignificantValueDigits());
                }
                total.add(interval);
            }
            return total;
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("cannot read " + file + ": " + ex, ex);
        }
    }

    private static long allocated(final com.sun.management.ThreadMXBean threads, final long[] ids)
    {
        long total = 0;
        for (final long bytes : threads.getThreadAllocatedBytes(ids))
        {
            total += bytes;
        }
        return total;
    }

    private void writeHgrm(final Histogram histogram, final Path file) throws IOException
    {
        try (PrintStream stream = new PrintStream(new FileOutputStream(file.toFile()), false, StandardCharsets.UTF_8))
        {
            histogram.outputPercentileDistribution(stream, 1000.0);
        }
        final Path log = Path.of(file.toString().replace(".hgrm", ".hlog"));
        if (!Files.exists(log))
        {
            try (PrintStream stream = new PrintStream(new FileOutputStream(log.toFile()), false, StandardCharsets.UTF_8))
            {
                final HistogramLogWriter writer = new HistogramLogWriter(stream);
                writer.outputLogFormatVersion();
                writer.outputLegend();
                writer.outputIntervalHistogram(histogram);
            }
        }
    }

    /**
     * @return the markdown written to summary.md, for stdout too.
     */
    private String writeSummary() throws IOException
    {
        final StringBuilder json = new StringBuilder("{\n");
        int i = 0;
        for (final Map.Entry<String, Object> entry : summary.entrySet())
        {
            final Object value = entry.getValue();
            json.append("  \"").append(entry.getKey()).append("\": ")
                .append(value instanceof String ? "\"" + value + "\"" : jsonNumber(value))
                .append(++i < summary.size() ? ",\n" : "\n");
        }
        Files.writeString(out.resolve("summary.json"), json.append("}\n").toString());

        final StringBuilder markdown = new StringBuilder()
            .append("# Spate bench ").append(out.getFileName()).append("\n\n")
            .append("Machine: ").append(summary.get("machine")).append("; JDK ").append(summary.get("jdk"))
            .append("; profile ").append(profileName()).append(quick ? "; --quick" : "").append("\n\n")
            .append("| measurement | value | unit | ratio | goal | note |\n|---|---:|---|---:|---|---|\n");
        markdownRows.forEach(row -> markdown.append(row).append('\n'));
        markdown.append("\nAck latency (mix, 1 worker, producer in a separate JVM) beside a bare Aeron IPC echo at the " +
            "same offered rate (batches of 100 records, answers of the ack's size, the conductor's idle strategy); " +
            "both coordinated-omission corrected, in µs.\n\n")
            .append("| offered records/s | achieved records/s | ack p50 | ack p99 | ack p99.9 | echo p50 | echo p99 | " +
            "echo p99.9 | p99 ÷ echo (goal ≤ 2) | p99.9 ÷ echo (goal ≤ 3) | note |\n")
            .append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
        latencyRows.forEach(row -> markdown.append(row).append('\n'));
        markdown.append("\n![ack latency percentiles](latency.png)\n");
        Files.writeString(out.resolve("summary.md"), markdown.toString());
        return markdown.toString();
    }

    /** JSON has no NaN or infinity: null instead. */
    private static String jsonNumber(final Object value)
    {
        if (value instanceof Double number && (number.isNaN() || number.isInfinite()))
        {
            return "null";
        }
        return String.valueOf(value);
    }

    private static String row(final String name, final double value, final String unit, final String ratio,
        final String goal, final String note)
    {
        // Below 1 (bytes allocated per record) the decimals are the figure.
        return String.format(Locale.ROOT, Math.abs(value) < 1 ? "| %s | %.3f | %s | %s | %s | %s |" :
            "| %s | %,.1f | %s | %s | %s | %s |", name, value, unit, ratio, goal, note);
    }

    private static String ratio(final double ratio)
    {
        return String.format(Locale.ROOT, "%.2f", ratio);
    }

    private static String mark(final boolean met)
    {
        return met ? "" : " ✗";
    }

    private static double round(final double value)
    {
        return Math.round(value * 100) / 100.0;
    }

    private void progress(final String what)
    {
        System.out.printf(Locale.ROOT, "bench [%d/%d, %.0f s] %s%n", ++step, steps, (System.nanoTime() - startNs) / 1e9,
            what);
    }
}
