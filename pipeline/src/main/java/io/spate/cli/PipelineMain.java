package io.spate.cli;

import io.aeron.Aeron;
import io.spate.cli.CliSupport.CliException;
import io.spate.cli.CliSupport.Options;
import io.spate.cli.CliSupport.UsageException;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.TypeDefinition;
import io.spate.driver.DriverConfiguration;
import io.spate.driver.SyncLevel;
import io.spate.driver.IdleStrategies;
import io.spate.driver.PerformanceProfile;
import io.spate.driver.SpateDriver;
import io.spate.pipeline.Pipeline;
import io.spate.pipeline.PipelineConfiguration;
import io.spate.pipeline.PipelineErrors;
import io.spate.pipeline.SharedSecretAuthenticator;
import io.spate.store.NativeStore;
import org.agrona.CloseHelper;
import org.agrona.concurrent.AgentTerminationException;
import sun.misc.Signal;

import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code bin/spate pipeline}: the conductor and workers attached to a running media driver (or
 * an embedded one). Logs its configuration once; on SIGTERM or Ctrl-C it stops taking ingress,
 * finishes and acks what it took in, closes everything in reverse order and exits 0.
 * <p>
 * Every flag's value is checked where it is parsed: a bad one prints {@code pipeline: --workers must be
 * 1..64: 0} and exits 2, as a malformed {@code spate.*} system property does (named instead of a flag).
 * A schema file that cannot be read or compiled, no driver, or a pipeline that cannot start: one line
 * {@code pipeline: error: ...}, exit 1.
 */
public final class PipelineMain
{
    static final String COMMAND = "pipeline";
    static final int MAX_WORKERS = 64;
    static final long MAX_BUFFER_BYTES = 1L << 30;
    static final long DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

    static final String USAGE = String.join(System.lineSeparator(),
        "Usage: bin/spate pipeline --schema FILE [options]",
        "The pipeline process: conductor and workers on a running media driver (or one of its own). On SIGTERM",
        "or Ctrl-C it stops taking ingress, acks what it took in, prints 'pipeline: stopped ...' and exits 0.",
        "  --schema FILE          database schema (JSON), required",
        "  --dir DIR              Aeron directory of the media driver (default: " + CliSupport.DEFAULT_DIR_HELP + ")",
        "  --embedded-driver      start a media driver inside this process on DIR",
        "  --workers N            worker agents, 1.." + MAX_WORKERS + " (default: " +
            PipelineConfiguration.WORKER_COUNT_PROP + ", else cores - 1, at least 1)",
        "  --buffer-bytes SIZE    modify buffer in bytes, a suffix k, m or g allowed; at least one batch of",
        "                         " + PipelineConfiguration.MAX_BATCH_BYTES_PROP + " (256 KiB), at most 1 GiB (default: " +
            PipelineConfiguration.MODIFY_BUFFER_BYTES_PROP + ", else 64 MiB)",
        "  --ingress CHANNEL      ingress channel (default: " + PipelineConfiguration.INGRESS_CHANNEL_PROP + ", else " +
            PipelineConfiguration.DEFAULT_INGRESS_CHANNEL + ");",
        "                         remote producers: aeron:udp?endpoint=HOST:PORT",
        "  --ingress-stream N     ingress stream id (default: " + PipelineConfiguration.INGRESS_STREAM_ID_PROP +
            ", else " + PipelineConfiguration.DEFAULT_INGRESS_STREAM_ID + ")",
        "  --auth-secret-file F   producers must send this file's bytes (without a trailing newline) as their",
        "                         credentials: the shared-secret authenticator, for UDP ingress; at least " +
            SharedSecretAuthenticator.MIN_SECRET_BYTES + " bytes",
        "                         (default: " + PipelineConfiguration.AUTHENTICATOR_PROP + ", else allow-all)",
        "  --data DIR             durable: snapshots and the log's identity live in DIR; the log is recorded by",
        "                         the driver's archive (start it with `bin/spate driver --data DIR`; with",
        "                         --embedded-driver the archive goes in DIR/archive). At start the pipeline",
        "                         recovers: newest snapshot, then the log replayed. Without it acks mean",
        "                         applied in memory only (default: " + PipelineConfiguration.DATA_DIR_PROP + ")",
        "  --sync none|data       the least the archive must promise: none = an ack survives SIGKILL of any",
        "                         Spate process; data = it survives power loss (the driver's --sync data).",
        "                         With --embedded-driver this sets the archive's sync (default: none)",
        "  --snapshot-bytes SIZE  a snapshot after this many log bytes, suffix k, m or g (default: 1g)",
        "  --snapshot-ms N        and after this long when the log grew at all; 0: by bytes only (default: 600000)",
        "  --profile NAME         default (agents back off: spin, yield, park; for few cores) or low-latency",
        "                         (the conductor and workers busy-spin: a core each); an idle strategy",
        "                         property still wins (default: " + PerformanceProfile.PROFILE_PROP + ", else default)",
        "  --drain-timeout-ms N   how long a stop waits for in-flight batches, 1.." + CliSupport.MAX_TIMEOUT_MS +
            " (default " + DEFAULT_DRAIN_TIMEOUT_MS + ")",
        "  --help                 print this help and exit",
        "Other settings are spate.* system properties (-Dname=value): see README.md, Configuration.",
        CliSupport.exitStatusHelp(COMMAND, "schema file unreadable or invalid, no media driver, the pipeline could" +
            System.lineSeparator() + "not start, lost its driver, stopped on an error or did not drain in time"));

    private static final Set<String> VALUE_OPTIONS = Set.of("--schema", "--dir", "--workers", "--buffer-bytes",
        "--ingress", "--ingress-stream", "--drain-timeout-ms", "--auth-secret-file", "--data", "--sync",
        "--snapshot-bytes", "--snapshot-ms", "--profile");
    private static final Set<String> FLAG_OPTIONS = Set.of("--embedded-driver");

    /** Whole-number properties PipelineConfiguration reads with Integer.getInteger, which ignores a malformed value. */
    private static final List<String> NUMBER_PROPERTIES = List.of(
        PipelineConfiguration.INGRESS_STREAM_ID_PROP,
        PipelineConfiguration.DISPATCH_STREAM_ID_BASE_PROP,
        PipelineConfiguration.APPLIED_STREAM_ID_PROP,
        PipelineConfiguration.WORKER_COUNT_PROP,
        PipelineConfiguration.MODIFY_BUFFER_BYTES_PROP,
        PipelineConfiguration.COPY_MODE_THRESHOLD_BYTES_PROP,
        PipelineConfiguration.MAX_BATCH_BYTES_PROP,
        PipelineConfiguration.MAX_RECORDS_PER_BATCH_PROP,
        PipelineConfiguration.MAX_IN_FLIGHT_BATCHES_PROP,
        PipelineConfiguration.SESSION_TIMEOUT_MS_PROP,
        PipelineConfiguration.SESSION_BACKLOG_BYTES_PROP,
        PipelineConfiguration.WORKER_STALL_TIMEOUT_MS_PROP,
        PipelineConfiguration.MAX_SESSIONS_PROP,
        PipelineConfiguration.MAX_CONNECTS_PER_SECOND_PROP,
        PipelineConfiguration.MAX_RESPONSE_TERM_LENGTH_PROP,
        PipelineConfiguration.MAX_RESPONSE_MTU_LENGTH_PROP);

    private PipelineMain()
    {
    }

    public static void main(final String[] args)
    {
        final int status = run(args, System.out, System.err);
        System.out.flush();
        System.err.flush();
        System.exit(status);
    }

    /** The settings of a run, once the command line is checked. */
    private record Settings(
        String schemaFile, String dir, boolean embeddedDriver, long drainTimeoutMs,
        PipelineConfiguration configuration, DriverConfiguration driverConfiguration)
    {
    }

    static int run(final String[] args, final PrintStream out, final PrintStream err)
    {
        if (CliSupport.wantsHelp(args))
        {
            out.println(USAGE);
            return CliSupport.EXIT_OK;
        }
        final Settings settings;
        try
        {
            settings = parse(args);
        }
        catch (final UsageException ex)
        {
            return CliSupport.usageError(err, COMMAND, ex);
        }

        final PipelineConfiguration configuration = settings.configuration();
        final DatabaseSchema schema;
        try
        {
            schema = CliSupport.loadSchema(settings.schemaFile());
        }
        catch (final CliException ex)
        {
            return CliSupport.failure(err, COMMAND, ex.getMessage());
        }
        try
        {
            configuration.schema(schema).conclude();
        }
        catch (final IllegalArgumentException ex)
        {
            // Only system properties (or the schema against them) are left to be wrong: the flags are checked.
            return CliSupport.usageError(err, COMMAND, new UsageException(CliSupport.oneLine(ex), false));
        }
        catch (final RuntimeException ex)
        {
            return CliSupport.failure(err, COMMAND, CliSupport.oneLine(ex));
        }
        return serve(settings, schema, out, err);
    }

    /**
     * Checks every flag where it is parsed, and the system properties the configuration reads.
     *
     * @throws UsageException naming the flag or property.
     */
    private static Settings parse(final String[] args)
    {
        final Options options = new Options(args, VALUE_OPTIONS, FLAG_OPTIONS);
        if (!options.positionals().isEmpty())
        {
            throw new UsageException("unexpected argument '" + options.positionals().get(0) + "'");
        }
        final String schemaFile = options.require("--schema", "the database schema file (JSON)");
        final String dir = options.get("--dir", CliSupport.defaultAeronDirectory());
        final boolean embeddedDriver = options.has("--embedded-driver");
        final long drainTimeoutMs = options.getLong("--drain-timeout-ms", DEFAULT_DRAIN_TIMEOUT_MS, 1,
            CliSupport.MAX_TIMEOUT_MS);

        for (final String property : NUMBER_PROPERTIES)
        {
            CliSupport.longProperty(property, 0, Integer.MIN_VALUE, Integer.MAX_VALUE);
        }
        if (options.has("--profile"))
        {
            final String profile = options.get("--profile", null);
            try
            {
                System.setProperty(PerformanceProfile.PROFILE_PROP, PerformanceProfile.parse(profile).profileName());
            }
            catch (final IllegalArgumentException ex)
            {
                throw new UsageException("--profile must be default or low-latency: " + profile, false);
            }
        }
        checkNameProperty(PerformanceProfile.PROFILE_PROP, List.of("default", "low-latency"));
        checkNameProperty(PipelineConfiguration.THREADING_MODE_PROP, List.of("shared", "dedicated"));
        checkNameProperty(PipelineConfiguration.CONDUCTOR_IDLE_PROP, IdleStrategies.NAMES);
        checkNameProperty(PipelineConfiguration.WORKER_IDLE_PROP, IdleStrategies.NAMES);
        checkNameProperty(PipelineConfiguration.AUTHENTICATOR_PROP, List.of("allow-all", "shared-secret"));
        CliSupport.channelProperty(PipelineConfiguration.INGRESS_CHANNEL_PROP, null);
        final PipelineConfiguration configuration = new PipelineConfiguration();

        if (options.has("--workers"))
        {
            configuration.workerCount(options.getInt("--workers", 0, 1, MAX_WORKERS));
        }
        if (options.has("--buffer-bytes"))
        {
            final long minBytes = Math.max(1, configuration.maxBatchBytes());
            final long bytes = options.getSize("--buffer-bytes", 0, 0, Long.MAX_VALUE);
            if (bytes < minBytes || bytes > MAX_BUFFER_BYTES)
            {
                throw new UsageException("--buffer-bytes must be " + minBytes + ".." + MAX_BUFFER_BYTES +
                    " bytes (at least one batch of " + PipelineConfiguration.MAX_BATCH_BYTES_PROP + "): " + bytes, false);
            }
            configuration.modifyBufferBytes((int)bytes);
        }
        if (options.has("--ingress"))
        {
            configuration.ingressChannel(options.getChannel("--ingress", null));
        }
        if (options.has("--auth-secret-file"))
        {
            final String file = options.get("--auth-secret-file", null);
            try
            {
                configuration.authenticator(new SharedSecretAuthenticator(
                    SharedSecretAuthenticator.readSecret(java.nio.file.Path.of(file))));
            }
            catch (final IllegalArgumentException ex)
            {
                throw new UsageException("--auth-secret-file: " + CliSupport.oneLine(ex), false);
            }
        }
        if (options.has("--ingress-stream"))
        {
            configuration.ingressStreamId(options.getInt("--ingress-stream", 0, Integer.MIN_VALUE, Integer.MAX_VALUE));
        }

        if (options.has("--data"))
        {
            configuration.dataDirectory(options.get("--data", null));
        }
        final String sync = options.get("--sync", configuration.sync());
        if (!"none".equals(sync) && !"data".equals(sync))
        {
            throw new UsageException("--sync must be none or data: " + sync, false);
        }
        configuration.sync(sync);
        if (options.has("--snapshot-bytes"))
        {
            configuration.snapshotIntervalBytes(options.getSize("--snapshot-bytes", 0, 1 << 20, 1L << 50));
        }
        if (options.has("--snapshot-ms"))
        {
            configuration.snapshotIntervalMs(options.getLong("--snapshot-ms", 0, 0, CliSupport.MAX_TIMEOUT_MS));
        }
        if (!configuration.isDurable() && (options.has("--sync") || options.has("--snapshot-bytes") ||
            options.has("--snapshot-ms")))
        {
            throw new UsageException("--sync, --snapshot-bytes and --snapshot-ms need --data DIR");
        }
        DriverConfiguration driverConfiguration = null;
        if (embeddedDriver)
        {
            try
            {
                // Reads the spate.driver.* properties: a malformed one is a bad setting, named.
                driverConfiguration = new DriverConfiguration().aeronDirectoryName(dir).embedded(true);
                if (configuration.isDurable())
                {
                    driverConfiguration.dataDir(configuration.dataDirectory())
                        .syncLevel("data".equals(sync) ? SyncLevel.DATA : SyncLevel.NONE);
                }
                driverConfiguration.conclude();
            }
            catch (final IllegalArgumentException ex)
            {
                throw new UsageException(CliSupport.oneLine(ex), false);
            }
        }
        return new Settings(schemaFile, dir, embeddedDriver, drainTimeoutMs, configuration, driverConfiguration);
    }

    private static void checkNameProperty(final String name, final List<String> valid)
    {
        final String value = System.getProperty(name);
        if (null != value && !valid.contains(value.trim().toLowerCase(Locale.ROOT)))
        {
            throw new UsageException("system property " + name + " must be one of " + String.join(", ", valid) +
                ": " + value, false);
        }
    }

    private static int serve(
        final Settings settings, final DatabaseSchema schema, final PrintStream out, final PrintStream err)
    {
        final PipelineConfiguration configuration = settings.configuration();
        final String dir = settings.dir();
        final boolean embeddedDriver = settings.embeddedDriver();
        SpateDriver driver = null;
        Aeron aeron = null;
        NativeStore store = null;
        Pipeline pipeline = null;
        final CountDownLatch stop = new CountDownLatch(1);
        AtomicReference<String> lostDriver = new AtomicReference<>();
        try
        {
            if (embeddedDriver)
            {
                driver = SpateDriver.launchEmbedded(settings.driverConfiguration());
            }
            else
            {
                CliSupport.requireDriver(dir);
            }
            final AtomicReference<String> driverLost = new AtomicReference<>();
            final String directory = dir;
            // When the driver dies the client closes itself and unmaps the CnC file (our counters live there);
            // the linger gives the agents time to see the client closed and stop touching it.
            aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(dir)
                .closeLingerDurationNs(TimeUnit.SECONDS.toNanos(2)).errorHandler(error ->
            {
                if (PipelineErrors.isDriverGone(error))
                {
                    // One line, no stack trace: the main thread reports it and exits.
                    driverLost.compareAndSet(null, "lost the media driver in " + directory + " (" + error.getMessage() + ")");
                    stop.countDown();
                }
                else if (null == driverLost.get() && !(error instanceof AgentTerminationException))
                {
                    // The client's own conductor ends with AgentTerminationException once the driver is gone.
                    err.println(COMMAND + ": aeron client error: " + CliSupport.oneLine(error));
                }
            }));
            lostDriver = driverLost;
            store = NativeStore.open(schema);
            pipeline = new Pipeline(configuration, aeron, store);
            Signal.handle(new Signal("TERM"), signal -> stop.countDown());
            Signal.handle(new Signal("INT"), signal -> stop.countDown());
            out.println("pipeline: configuration " + configuration + " dir=" + dir +
                (embeddedDriver ? " (embedded driver)" : ""));
            if (!configuration.ingressChannel().startsWith("aeron:ipc") &&
                "allow-all".equals(configuration.authenticatorName()))
            {
                err.println("pipeline: warning: UDP ingress without an authenticator: any host that reaches " +
                    configuration.ingressChannel() + " can produce; use --auth-secret-file on a network you trust");
            }
            out.println("pipeline: ready");
            out.flush();
            while (!stop.await(100, TimeUnit.MILLISECONDS))
            {
                if (null != pipeline.fatalError() || pipeline.isDriverGone())
                {
                    break;
                }
            }
            // Either way everything is closed quietly in finally: nothing can be drained, no stack traces.
            if (pipeline.isDriverGone() || null != lostDriver.get())
            {
                return CliSupport.failure(err, COMMAND,
                    null != lostDriver.get() ? lostDriver.get() : "lost the media driver in " + dir);
            }
            if (null != pipeline.fatalError())
            {
                return CliSupport.failure(err, COMMAND, "stopped: " + pipeline.fatalError().replace('\n', ' '));
            }

            out.println("pipeline: stopping");
            out.flush();
            final boolean drained = pipeline.drain(settings.drainTimeoutMs());
            final StringBuilder counts = new StringBuilder();
            for (final TypeDefinition type : schema.types())
            {
                counts.append(' ').append(type.name()).append('=').append(store.count(type.typeId()));
            }
            // Counts in the schema's order, plain digits: key=value pairs for scripts.
            out.println("pipeline: stopped records=" + pipeline.counters().recordsIn().get() +
                " acks=" + pipeline.counters().acksSent().get() + " drained=" + drained + " counts" + counts);
            out.flush();
            if (!drained)
            {
                return CliSupport.failure(err, COMMAND, "batches still in flight after --drain-timeout-ms " +
                    settings.drainTimeoutMs());
            }
            return CliSupport.EXIT_OK;
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            return CliSupport.failure(err, COMMAND, "interrupted");
        }
        catch (final CliException ex)
        {
            return CliSupport.failure(err, COMMAND, ex.getMessage());
        }
        catch (final RuntimeException ex)
        {
            return CliSupport.failure(err, COMMAND, CliSupport.oneLine(ex));
        }
        finally
        {
            CloseHelper.quietCloseAll(pipeline, store, aeron, driver);
        }
    }
}
