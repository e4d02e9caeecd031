package io.spate.perf;

import io.spate.cli.StatMain;
import io.spate.pipeline.StoreCounters;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * The churn row of {@code bin/spate bench}: a type whose nodes are created and deleted all day around a steady live
 * count, as sessions or jobs are. A standalone driver and pipeline (separate processes, as in production), and
 * {@code produce --ops create:50,delete:50 --live L}: a warm-up churn, then at least 20 x L creates at full speed.
 * Reported: records/s, refusals (any failed record), the pipeline's resident memory at the start and the end of the
 * measured churn (without the Aeron log buffers, whose size is the transport's, not the store's: a new producer's
 * buffers are mapped fresh), and what the store holds at the end.
 */
final class ChurnBench
{
    /** The churning type: up to a million live, a 16 MiB arena. */
    static final long MAX_NODES = 1_000_000;
    static final long ARENA_BYTES = 16L << 20;
    private static final Pattern LOG_BUFFER = Pattern.compile(".*\\.logbuffer$");

    /** What one churn run measured. */
    record Result(double recordsPerSecond, long creates, long refused, long rssStartKb, long rssEndKb,
        long totalRssStartKb, long totalRssEndKb, long liveNodes, long freeSlots, long arenaLiveBytes,
        long arenaReservedBytes, long compactions)
    {
        double rssRatio()
        {
            return (double)rssEndKb / rssStartKb;
        }
    }

    private ChurnBench()
    {
    }

    /**
     * The churn row alone: {@code java @perf/target/spate.argfile io.spate.perf.ChurnBench [LIVE [RECORDS [WARMUP]]]}
     * (defaults 100,000, 4,200,000 and 1,000,000), in a scratch directory it deletes.
     */
    public static void main(final String[] args) throws Exception
    {
        final long live = args.length > 0 ? Long.parseLong(args[0]) : 100_000;
        final long records = args.length > 1 ? Long.parseLong(args[1]) : 42 * live;
        final long warmup = args.length > 2 ? Long.parseLong(args[2]) : 10 * live;
        final Path home = Path.of(System.getProperty("spate.home", "."));
        final Path dir = Files.createTempDirectory("spate-churn-bench-");
        try
        {
            final Result result = run(dir, home.resolve("perf/target/spate.argfile"), List.of(), live, warmup, records);
            System.out.println("churn: " + describe(result));
        }
        finally
        {
            org.agrona.IoUtil.delete(dir.toFile(), true);
        }
    }

    static String schemaJson()
    {
        return "{ \"name\": \"churn\", \"types\": [ { \"name\": \"Session\", \"maxNodes\": " + MAX_NODES +
            ", \"maxArenaBytes\": " + ARENA_BYTES + ", \"fields\": [ { \"name\": \"user\", \"type\": \"u64\" }," +
            " { \"name\": \"startedAt\", \"type\": \"timestamp\" }, { \"name\": \"token\", \"type\": \"string\"," +
            " \"maxBytes\": 48 } ] } ] }";
    }

    /**
     * @param dir       scratch directory (deleted by the caller).
     * @param argfile   the tools' JVM argfile.
     * @param jvmArgs   more JVM options for every process.
     * @param liveNodes the live count held.
     * @param warmupRecords records of churn before the measured run.
     * @param records   measured records (creates are half of them).
     */
    static Result run(final Path dir, final Path argfile, final List<String> jvmArgs, final long liveNodes,
        final long warmupRecords, final long records) throws IOException, InterruptedException
    {
        Files.createDirectories(dir);
        final Path schema = dir.resolve("churn.json");
        Files.writeString(schema, schemaJson());
        final String aeronDir = dir.resolve("aeron").toString();
        final List<Process> processes = new ArrayList<>();
        try
        {
            final Process driver = start(argfile, jvmArgs, "io.spate.driver.DriverMain",
                List.of("--dir", aeronDir, "--threading", "shared", "--idle", "backoff"), dir.resolve("driver.log"));
            processes.add(driver);
            awaitLine(dir.resolve("driver.log"), "running in", driver);
            final Process pipeline = start(argfile, jvmArgs, "io.spate.cli.PipelineMain",
                List.of("--schema", schema.toString(), "--dir", aeronDir), dir.resolve("pipeline.log"));
            processes.add(pipeline);
            awaitLine(dir.resolve("pipeline.log"), "pipeline: ready", pipeline);

            final List<String> produce = new ArrayList<>(List.of("--schema", schema.toString(), "--dir", aeronDir,
                "--ops", "create:50,delete:50", "--live", Long.toString(liveNodes), "--seed", "19", "--records"));
            final List<String> warmup = new ArrayList<>(produce);
            warmup.add(Long.toString(warmupRecords));
            ProducerProcess.run(argfile, jvmArgs, warmup, 600);
            final long startKb = residentKb(pipeline.pid(), false);
            final long totalStartKb = residentKb(pipeline.pid(), true);

            final List<String> measured = new ArrayList<>(produce);
            measured.add(Long.toString(records));
            measured.set(measured.indexOf("--seed") + 1, "23");
            final Map<String, String> summary = ProducerProcess.run(argfile, jvmArgs, measured, 900);
            final long endKb = residentKb(pipeline.pid(), false);
            final long totalEndKb = residentKb(pipeline.pid(), true);
            final long[] store = StatMain.storeFigures(aeronDir).values().iterator().next();
            return new Result(
                ProducerProcess.number(summary, "records/s"),
                (long)ProducerProcess.number(summary, "producer_created"),
                (long)ProducerProcess.number(summary, "producer_failed"),
                startKb, endKb, totalStartKb, totalEndKb,
                store[StoreCounters.LIVE_NODES_TYPE_ID - StoreCounters.FIRST_TYPE_ID],
                store[StoreCounters.FREE_SLOTS_TYPE_ID - StoreCounters.FIRST_TYPE_ID],
                store[StoreCounters.ARENA_LIVE_BYTES_TYPE_ID - StoreCounters.FIRST_TYPE_ID],
                store[StoreCounters.ARENA_RESERVED_BYTES_TYPE_ID - StoreCounters.FIRST_TYPE_ID],
                store[StoreCounters.ARENA_COMPACTIONS_TYPE_ID - StoreCounters.FIRST_TYPE_ID]);
        }
        finally
        {
            for (int i = processes.size() - 1; i >= 0; i--)
            {
                final Process process = processes.get(i);
                process.destroy(); // SIGTERM: each stops cleanly
                if (!process.waitFor(30, TimeUnit.SECONDS))
                {
                    process.destroyForcibly();
                }
            }
        }
    }

    private static Process start(final Path argfile, final List<String> jvmArgs, final String main,
        final List<String> args, final Path log) throws IOException
    {
        return new ProcessBuilder(ProducerProcess.javaCommand(argfile, jvmArgs, main, args))
            .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    private static void awaitLine(final Path log, final String text, final Process process)
        throws IOException, InterruptedException
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.exists(log) || !Files.readString(log).contains(text))
        {
            if (!process.isAlive() || System.nanoTime() > deadlineNs)
            {
                throw new IllegalStateException("no '" + text + "' from " + process.info().command().orElse("?") +
                    (Files.exists(log) ? ":\n" + Files.readString(log) : ""));
            }
            Thread.sleep(50);
        }
    }

    /**
     * The resident memory of a process, from /proc/PID/smaps: all of it, or without the Aeron log buffers. Waits
     * for a finished producer's buffers to be unmapped (the driver lingers them) so that both readings see the
     * same transport state.
     */
    static long residentKb(final long pid, final boolean withLogBuffers) throws IOException, InterruptedException
    {
        Thread.sleep(withLogBuffers ? 0 : 6_000);
        long kb = 0;
        boolean counted = true;
        for (final String line : Files.readAllLines(Path.of("/proc/" + pid + "/smaps")))
        {
            final String[] parts = line.trim().split("\\s+");
            if (parts[0].matches("[0-9a-f]+-[0-9a-f]+"))
            {
                // A mapping's header: address range, permissions, offset, device, inode, path.
                counted = withLogBuffers || parts.length < 6 || !LOG_BUFFER.matcher(parts[5]).matches();
            }
            else if (counted && parts[0].equals("Rss:"))
            {
                kb += Long.parseLong(parts[1]);
            }
        }
        return kb;
    }

    static String describe(final Result result)
    {
        return String.format(Locale.ROOT, "%,.0f records/s, %,d creates, %d refused; pipeline RSS without log buffers " +
            "%,d -> %,d kB (x%.3f), with them %,d -> %,d kB; store: %,d live, %,d free slots, arena %,d live of %,d " +
            "reserved bytes, %d compactions", result.recordsPerSecond(), result.creates(), result.refused(),
            result.rssStartKb(), result.rssEndKb(), result.rssRatio(), result.totalRssStartKb(), result.totalRssEndKb(),
            result.liveNodes(), result.freeSlots(), result.arenaLiveBytes(), result.arenaReservedBytes(),
            result.compactions());
    }
}
