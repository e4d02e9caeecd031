package io.spate.perf;

import io.aeron.Aeron;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.driver.DriverConfiguration;
import io.spate.driver.SpateDriver;
import io.spate.pipeline.Pipeline;
import io.spate.pipeline.PipelineConfiguration;
import io.spate.pipeline.Recovery;
import io.spate.driver.SyncLevel;
import io.spate.pipeline.StageLatencies;
import io.spate.store.NativeStore;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramLogReader;
import org.HdrHistogram.HistogramLogWriter;
import org.agrona.CloseHelper;

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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code bin/spate bench}: ceilings (transport, apply) and the pipeline measured in the same run
 * with the same records, the producer in a separate process; ack latency at fixed offered rates
 * (coordinated-omission corrected by the producer) with a per-stage breakdown; bytes allocated per
 * record on the conductor and worker threads. Writes .hgrm files, interval logs, a PNG of the
 * latency percentile curves, summary.json and summary.md into one folder; the last line printed
 * starts {@code bench:}.
 */
public final class Bench
{
    private static final int RECORDS_PER_BATCH = 100;
    private static final String IN_MEMORY = "in-memory";
    private static final String[] SYNCS = { IN_MEMORY, "none", "data" };

    private final Path home;
    private final Path out;
    private final Path argfile;
    private final Path schemaFile;
    private final DatabaseSchema schema;
    private final boolean quick;
    private final long throughputRecords;
    private final long latencySeconds;
    private final int maxWorkers;
    private final Map<String, Object> summary = new LinkedHashMap<>();
    private final List<String> markdownRows = new ArrayList<>();
    private final List<LatencyPlot.Curve> curves = new ArrayList<>();
    private int step;
    private int steps;

    Bench(final Path home, final Path out, final boolean quick)
    {
        this.home = home;
        this.out = out;
        this.quick = quick;
        this.argfile = home.resolve("perf/target/spate.argfile");
        this.schemaFile = benchSchema(home.resolve("schema/examples/social.json"), out);
        this.schema = SchemaCompiler.compile(schemaFile);
        this.throughputRecords = quick ? 300_000 : 2_000_000;
        this.latencySeconds = quick ? 2 : 8;
        this.maxWorkers = Math.max(2, Runtime.getRuntime().availableProcessors() - 1);
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
        boolean quick = false;
        Path out = null;
        final Path home = Path.of(System.getProperty("spate.home", "."));
        for (int i = 0; i < args.length; i++)
        {
            switch (args[i])
            {
                case "--quick" -> quick = true;
                case "--out" -> out = Path.of(args[++i]);
                case "--help", "-h" ->
                {
                    System.out.println("""
                        Usage: bin/spate bench [--quick] [--out DIR]
                          --quick    a shorter run (under 2 minutes)
                          --out DIR  output folder (default target/bench/<timestamp>)""");
                    return;
                }
                default ->
                {
                    System.err.println("bench: unknown option " + args[i] + " (try --help)");
                    System.exit(2);
                }
            }
        }
        if (null == out)
        {
            out = home.resolve("target/bench").resolve(LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        }
        Files.createDirectories(out);
        new Bench(home, out, quick).run();
    }

    void run() throws Exception
    {
        final long startNs = System.nanoTime();
        final String[] shapes = { "creates", "updates", "mix" };
        final long[] rates = { 10_000, 100_000, 1_000_000 };
        final String[] durableShapes = { "creates", "mix" };
        steps = 2 * shapes.length + shapes.length * maxWorkers + rates.length + 2 +
            durableShapes.length * SYNCS.length + SYNCS.length + 3;
        summary.put("machine", Runtime.getRuntime().availableProcessors() + " cpus, " +
            System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        summary.put("jdk", Runtime.version().toString());
        summary.put("quick", quick);

        final Map<String, Double> lowerCeiling = new LinkedHashMap<>();
        final Path dir = Files.createTempDirectory("spate-bench-");
        try (SpateDriver driver = SpateDriver.launchEmbedded(new DriverConfiguration()
            .aeronDirectoryName(dir.resolve("ceilings").toString()).embedded(true));
            Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName())))
        {
            int streamId = 9001;
            for (final String shape : shapes)
            {
                final EncodedBatches batches = new EncodedBatches(schema, EncodedBatches.Shape.valueOf(shape.toUpperCase(Locale.ROOT)),
                    512, RECORDS_PER_BATCH, 11);
                progress("ceiling: transport, " + shape);
                final double transport = Ceilings.transport(aeron, batches, throughputRecords, streamId++);
                progress("ceiling: apply, " + shape);
                final double apply = Ceilings.apply(schema, batches, throughputRecords);
                lowerCeiling.put(shape, Math.min(transport, apply));
                summary.put("ceiling_transport_" + shape + "_records_per_s", Math.round(transport));
                summary.put("ceiling_apply_" + shape + "_records_per_s", Math.round(apply));
                markdownRows.add(row("ceiling: transport (IPC, counting subscriber), " + shape, transport, "records/s", ""));
                markdownRows.add(row("ceiling: apply (native store, one thread), " + shape, apply, "records/s", ""));
            }
        }

        double bestMix = 0;
        double bestCreates = 0;
        double allocationPerRecord = 0;
        for (final String shape : shapes)
        {
            for (int workers = 1; workers <= maxWorkers; workers++)
            {
                progress("pipeline: " + shape + ", " + workers + " worker(s), producer in a separate process");
                final RunResult result = pipelineRun(dir.resolve(shape + "-" + workers), shape, workers, 0, throughputRecords,
                    IN_MEMORY);
                final double ratio = result.recordsPerSecond / lowerCeiling.get(shape);
                summary.put("pipeline_" + shape + "_" + workers + "w_records_per_s", Math.round(result.recordsPerSecond));
                summary.put("pipeline_" + shape + "_" + workers + "w_ratio_to_ceiling", round(ratio));
                markdownRows.add(row("pipeline " + shape + ", " + workers + " worker(s)", result.recordsPerSecond,
                    "records/s", String.format(Locale.ROOT, "%.0f%% of lower ceiling", 100 * ratio)));
                if (shape.equals("mix"))
                {
                    bestMix = Math.max(bestMix, result.recordsPerSecond);
                }
                if (shape.equals("creates"))
                {
                    bestCreates = Math.max(bestCreates, result.recordsPerSecond);
                    allocationPerRecord = Math.max(allocationPerRecord, result.allocatedBytesPerRecord);
                }
            }
        }
        summary.put("allocated_bytes_per_record", allocationPerRecord);
        markdownRows.add(row("allocation on conductor + worker threads (creates, steady state)", allocationPerRecord,
            "bytes/record", "goal 0"));

        final long sustained = Math.max(10_000, Math.round(bestMix * 0.8 / 1000) * 1000);
        final long[] offered = { rates[0], rates[1], rates[2], sustained };
        double p99At100k = Double.NaN;
        for (final long rate : offered)
        {
            progress("latency: " + rate + " records/s offered for " + latencySeconds + " s, 1 worker");
            final RunResult result = pipelineRun(dir.resolve("rate-" + rate), "mix", 1, rate,
                Math.max(rate * latencySeconds, 10_000), IN_MEMORY);
            final String prefix = "latency_" + rate + "_";
            summary.put(prefix + "ack_p50_us", round(result.p50Us));
            summary.put(prefix + "ack_p99_us", round(result.p99Us));
            summary.put(prefix + "ack_p999_us", round(result.p999Us));
            summary.put(prefix + "achieved_records_per_s", Math.round(result.recordsPerSecond));
            markdownRows.add(row(String.format(Locale.ROOT, "ack latency at %,d records/s: p50 / p99 / p99.9", rate),
                result.p50Us, "µs", String.format(Locale.ROOT, "p99 %.1f µs, p99.9 %.1f µs", result.p99Us, result.p999Us)));
            for (final Map.Entry<String, Histogram> stage : result.stages.entrySet())
            {
                final Histogram histogram = stage.getValue();
                summary.put(prefix + "stage_" + stage.getKey() + "_p50_us", round(histogram.getValueAtPercentile(50) / 1e3));
                summary.put(prefix + "stage_" + stage.getKey() + "_p99_us", round(histogram.getValueAtPercentile(99) / 1e3));
                markdownRows.add(row(String.format(Locale.ROOT, "  stage %s at %,d/s: p50", stage.getKey(), rate),
                    histogram.getValueAtPercentile(50) / 1e3, "µs",
                    String.format(Locale.ROOT, "p99 %.1f µs", histogram.getValueAtPercentile(99) / 1e3)));
                writeHgrm(histogram, out.resolve(String.format(Locale.ROOT, "stage-%s-%d.hgrm", stage.getKey(), rate)));
            }
            if (null != result.ackLatency)
            {
                writeHgrm(result.ackLatency, out.resolve("ack-latency-" + rate + ".hgrm"));
                curves.add(new LatencyPlot.Curve(String.format(Locale.ROOT, "%,d/s", rate), result.ackLatency));
            }
            if (rate == 100_000)
            {
                p99At100k = result.p99Us;
            }
        }

        durability(dir, durableShapes, lowerCeiling);

        progress("writing reports");
        LatencyPlot.write(curves, out.resolve("latency.png"));
        writeSummary();
        final double seconds = (System.nanoTime() - startNs) / 1e9;
        System.out.printf(Locale.ROOT,
            "bench: creates=%.0f records/s (goal 10000000) mix=%.0f records/s mix_ratio=%.2f ack_p99_at_100k=%.1fus " +
            "(goal 20) alloc=%.3f B/record durable_mix_none_ratio=%s (goal 0.8) replay=%s records/s out=%s took=%.0fs%n",
            bestCreates, bestMix, bestMix / lowerCeiling.get("mix"), p99At100k, allocationPerRecord,
            summary.get("durable_mix_none_ratio_to_in_memory"), summary.get("recovery_replay_records_per_s"), out, seconds);
    }

    /**
     * The durable log's costs, each beside the in-memory figure of the same run: throughput and ack latency
     * with {@code --sync none} and {@code --sync data}; recovery of a data directory (snapshot load, and
     * replay of the whole log against the live apply rate); disk bytes per record.
     */
    private void durability(final Path dir, final String[] shapes, final Map<String, Double> lowerCeiling)
        throws IOException
    {
        for (final String shape : shapes)
        {
            double inMemory = Double.NaN;
            for (final String sync : SYNCS)
            {
                progress("durable: " + shape + ", " + sync + ", 1 worker");
                final RunResult result = pipelineRun(dir.resolve("durable-" + shape + "-" + sync), shape, 1, 0,
                    throughputRecords, sync);
                if (sync.equals(IN_MEMORY))
                {
                    inMemory = result.recordsPerSecond;
                }
                final String key = "durable_" + shape + "_" + sync.replace('-', '_');
                summary.put(key + "_records_per_s", Math.round(result.recordsPerSecond));
                summary.put(key + "_ratio_to_in_memory", round(result.recordsPerSecond / inMemory));
                if (result.logBytesPerRecord > 0)
                {
                    summary.put(key + "_log_bytes_per_record", round(result.logBytesPerRecord));
                }
                markdownRows.add(row("durable " + shape + ", sync=" + sync + ", 1 worker", result.recordsPerSecond,
                    "records/s", String.format(Locale.ROOT, "%.0f%% of in-memory (goal for sync=none: 80%%); %.0f%% of " +
                    "lower ceiling", 100 * result.recordsPerSecond / inMemory, 100 * result.recordsPerSecond /
                    lowerCeiling.get(shape))));
            }
        }
        for (final String sync : SYNCS)
        {
            progress("durable: ack latency at 100,000 records/s, " + sync);
            final RunResult result = pipelineRun(dir.resolve("durable-rate-" + sync), "mix", 1, 100_000,
                100_000 * latencySeconds, sync);
            final String key = "durable_latency_100000_" + sync.replace('-', '_');
            summary.put(key + "_ack_p50_us", round(result.p50Us));
            summary.put(key + "_ack_p99_us", round(result.p99Us));
            markdownRows.add(row("ack latency at 100,000 records/s, sync=" + sync + ": p50", result.p50Us, "µs",
                String.format(Locale.ROOT, "p99 %.1f µs, p99.9 %.1f µs", result.p99Us, result.p999Us)));
            if (null != result.ackLatency)
            {
                writeHgrm(result.ackLatency, out.resolve("ack-latency-100000-" + sync + ".hgrm"));
            }
        }
        recovery(dir.resolve("recovery"), quick ? 1_000_000 : 10_000_000, lowerCeiling.get("creates"));
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
            fromSnapshot.snapshotLoadMs(), "ms", String.format(Locale.ROOT, "%,d snapshot bytes", snapshotBytes)));
        markdownRows.add(row(String.format(Locale.ROOT, "recovery of %,d records: whole-log replay", records),
            replayRate, "records/s", String.format(Locale.ROOT, "%d ms; %.2fx the live durable rate (%.0f/s; goal 1x), " +
            "%.0f%% of the lower creates ceiling", fromLog.replayMs(), replayRate / live.recordsPerSecond,
            live.recordsPerSecond, 100 * replayRate / createsCeiling)));
        markdownRows.add(row("disk: log (User creates)", live.logBytesPerRecord, "bytes/record",
            String.format(Locale.ROOT, "%,d bytes of log; Archive pre-sizes segment files (sparse)", logBytes)));
        markdownRows.add(row("disk: snapshot (User creates)", (double)snapshotBytes / live.storedRecords, "bytes/record",
            String.format(Locale.ROOT, "%,d bytes", snapshotBytes)));
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
        double allocatedBytesPerRecord, Histogram ackLatency, Map<String, Histogram> stages, double logBytesPerRecord,
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
            store = NativeStore.open(schema);
            for (final TypeDefinition type : schema.types())
            {
                store.reserve(type.typeId(), Math.min(records, type.maxNodes()));
            }
            pipeline = new Pipeline(configuration, aeron, store);
            final StageLatencies stageLatencies = pipeline.stageLatencies();
            final long[] agentThreads = pipeline.agentThreadIds();
            final Path histogramFile = dir.resolve("ack-latency.hlog");
            final List<String> args = new ArrayList<>(List.of(
                "--schema", schemaFile.toString(),
                "--dir", driver.aeronDirectoryName(),
                "--records", Long.toString(records),
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
            // Warm the pipeline's JIT with a short run, then measure.
            final long warmupRecords = Math.min(records, 100_000);
            ProducerProcess.run(argfile, withRecords(args, warmupRecords, 0), 300);
            stageLatencies.ingressToDispatch();
            stageLatencies.queueWait();
            stageLatencies.apply();
            stageLatencies.ackDelivery();
            final long allocatedBefore = allocated(threads, agentThreads);
            final Map<String, String> result = ProducerProcess.run(argfile, args, 600);
            final long allocatedBytes = allocated(threads, agentThreads) - allocatedBefore;
            final Map<String, Histogram> stages = new LinkedHashMap<>();
            stages.put("ingress-to-dispatch", stageLatencies.ingressToDispatch());
            stages.put("queue-wait", stageLatencies.queueWait());
            stages.put("apply", stageLatencies.apply());
            stages.put("ack-delivery", stageLatencies.ackDelivery());
            final Histogram ackLatency = readHistogram(histogramFile);
            if (null != ackLatency)
            {
                Files.copy(histogramFile, out.resolve(String.format(Locale.ROOT, "ack-latency-%s-%dw-%d.hlog", shape,
                    workers, rate)), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
            return new RunResult(
                ProducerProcess.number(result, "records/s"),
                ProducerProcess.number(result, "ack_p50_us"),
                ProducerProcess.number(result, "ack_p99_us"),
                ProducerProcess.number(result, "ack_p99.9_us"),
                (double)allocatedBytes / records,
                ackLatency,
                stages,
                durable ? (double)pipeline.counters().logPosition().get() / (records + warmupRecords) : 0,
                records + warmupRecords);
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
        final int histogram = copy.indexOf("--histogram-file");
        copy.remove(histogram + 1);
        copy.remove(histogram);
        return copy;
    }

    private static Histogram readHistogram(final Path file)
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

    private void writeSummary() throws IOException
    {
        final StringBuilder json = new StringBuilder("{\n");
        int i = 0;
        for (final Map.Entry<String, Object> entry : summary.entrySet())
        {
            final Object value = entry.getValue();
            json.append("  \"").append(entry.getKey()).append("\": ")
                .append(value instanceof String ? "\"" + value + "\"" : String.valueOf(value))
                .append(++i < summary.size() ? ",\n" : "\n");
        }
        Files.writeString(out.resolve("summary.json"), json.append("}\n").toString());

        final StringBuilder markdown = new StringBuilder()
            .append("# Spate bench\n\n")
            .append("Machine: ").append(summary.get("machine")).append("; JDK ").append(summary.get("jdk"))
            .append(quick ? "; --quick" : "").append("\n\n")
            .append("| measurement | value | unit | note |\n|---|---:|---|---|\n");
        markdownRows.forEach(row -> markdown.append(row).append('\n'));
        markdown.append("\n![ack latency percentiles](latency.png)\n");
        Files.writeString(out.resolve("summary.md"), markdown.toString());
    }

    private static String row(final String name, final double value, final String unit, final String note)
    {
        return String.format(Locale.ROOT, "| %s | %,.1f | %s | %s |", name, value, unit, note);
    }

    private static double round(final double value)
    {
        return Math.round(value * 100) / 100.0;
    }

    private void progress(final String what)
    {
        System.out.printf(Locale.ROOT, "bench [%d/%d] %s%n", ++step, steps, what);
    }
}
