package io.spate.cli;

import io.aeron.CncFileDescriptor;
import io.aeron.CommonContext;
import io.spate.cli.CliSupport.CliException;
import io.spate.cli.CliSupport.Options;
import io.spate.cli.CliSupport.UsageException;
import io.spate.pipeline.PipelineCounters;
import org.agrona.IoUtil;
import org.agrona.concurrent.status.CountersReader;

import java.io.File;
import java.io.PrintStream;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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
 */
public final class StatMain
{
    static final String PREFIX = "stat: ";
    static final long DEFAULT_INTERVAL_MS = 1_000;

    static final String COMMAND = "stat";
    static final long MIN_INTERVAL_MS = 10;

    static final String USAGE = String.join(System.lineSeparator(),
        "Usage: bin/spate stat [--dir DIR] [--once] [--interval-ms N]",
        "Live view of the pipeline's counters, read from the media driver's CnC file (like AeronStat). Per",
        "pipeline on the driver, each refresh prints a header 'stat: TIME dir=.. pipeline=.. workers=..', one row",
        "per worker (position, assigned_batch, done_batch, records/s, applied, errors, stalls, report_retries,",
        "STALLED when stalled), the conductor row (records_in, records_in/s, batches, buffer_free_bytes,",
        "copy_mode, back_pressure, rejected, acks, barriers, agent_errors) and the sessions row (open, closed,",
        "answers_waiting_bytes, answers_discarded, response_retries, dispatch_retries) and the log row (position,",
        "recorded, unrecorded_bytes, retries, snapshots, snapshot_position; 'none' in memory); plain digits.",
        "  --dir DIR          Aeron directory of the driver (default: " + CliSupport.DEFAULT_DIR_HELP + ")",
        "  --once             print one snapshot (rates over one interval) and exit; exit 1 when no pipeline runs",
        "  --interval-ms N    refresh interval, " + MIN_INTERVAL_MS + ".." + CliSupport.MAX_TIMEOUT_MS + " (default " +
            DEFAULT_INTERVAL_MS + ")",
        "  --help             print this help and exit",
        CliSupport.exitStatusHelp(COMMAND, "no media driver in DIR, or (--once) no pipeline on it"));

    private static final Pattern WORKER_LABEL = Pattern.compile("spate worker (\\d+) ");

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
        try
        {
            final Options options = new Options(args, Set.of("--dir", "--interval-ms"), Set.of("--once"));
            if (!options.positionals().isEmpty())
            {
                throw new UsageException("unexpected argument '" + options.positionals().get(0) + "'");
            }
            directory = options.get("--dir", CliSupport.defaultAeronDirectory());
            once = options.has("--once");
            intervalMs = options.getLong("--interval-ms", DEFAULT_INTERVAL_MS, MIN_INTERVAL_MS, CliSupport.MAX_TIMEOUT_MS);
        }
        catch (final UsageException ex)
        {
            return CliSupport.usageError(err, COMMAND, ex);
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
                "dispatch_retries=%d%n",
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
                view.conductor(PipelineCounters.CONDUCTOR_DISPATCH_RETRIES_TYPE_ID)));
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
}
