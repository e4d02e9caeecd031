package io.spate.driver;

import io.aeron.driver.ThreadingMode;
import org.agrona.concurrent.ShutdownSignalBarrier;

import java.io.PrintStream;
import java.util.HashSet;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The standalone media driver process ({@code bin/spate driver}): launches a driver with
 * {@link SpateDriver#launchStandalone}, prints its configuration once, runs until SIGTERM or SIGINT,
 * closes the driver and exits 0. A bad option prints one line and exits 2: a bad value names the flag
 * and ends with the value ({@code driver: --term-length must be a power of two 65536..1073741824: 1000}),
 * a malformed {@code spate.driver.*} system property is named the same way; a driver that cannot start
 * (directory in use, ...) prints one line {@code driver: error: ...} and exits 1.
 * <p>
 * Defaults come from the {@code spate.driver.*} system properties (see {@link DriverConfiguration});
 * options override them. With {@code --data DIR} the process also hosts the Aeron Archive in DIR/archive
 * (see {@link SpateDriver}) and prints one line saying where it is and what {@code --sync} promises.
 */
public final class DriverMain
{
    public static final int EXIT_OK = 0;
    public static final int EXIT_FAILURE = 1;
    public static final int EXIT_USAGE = 2;

    static final String PREFIX = "driver: ";
    private static final String THREADING_NAMES = "dedicated, shared or shared_network";

    static final String USAGE = String.join(System.lineSeparator(),
        "Usage: bin/spate driver [options]",
        "Runs an Aeron media driver in this process until SIGTERM or SIGINT; clients connect through its directory.",
        "  --dir DIR                Aeron directory (default: " + DriverConfiguration.DIR_PROP +
            ", else aeron.dir, else /dev/shm/aeron-USER)",
        "  --threading MODE         " + THREADING_NAMES + " (default: " + DriverConfiguration.THREADING_MODE_PROP +
            ", else shared: one thread)",
        "  --idle NAME              idle strategy of the driver threads: " + String.join(", ", IdleStrategies.NAMES),
        "                           (default: " + DriverConfiguration.IDLE_STRATEGY_PROP + ", else " +
            IdleStrategies.DEFAULT + ")",
        "  --term-length SIZE       term length of UDP publications in bytes, a suffix k, m or g allowed: a power",
        "                           of two, 64k..1g (default: " + DriverConfiguration.TERM_LENGTH_PROP + ", else 4 MiB)",
        "  --ipc-term-length SIZE   term length of IPC publications, the same way (default: " +
            DriverConfiguration.IPC_TERM_LENGTH_PROP + ", else 4 MiB)",
        "  --data DIR               host the Aeron Archive that records the durable log, in DIR/archive (created",
        "                           if missing; default: " + DriverConfiguration.DATA_DIR_PROP + ", else no archive)",
        "  --sync none|data         none: an ack survives SIGKILL of any Spate process, not power loss; data: it",
        "                           survives power loss (fdatasync before the recording position moves); needs",
        "                           --data (default: " + DriverConfiguration.SYNC_PROP + ", else none)",
        "  --help                   print this help and exit",
        "System properties spate.driver.* set the defaults; options win. The directory is kept after",
        "shutdown (for AeronStat/ErrorStat) unless -D" + DriverConfiguration.DIR_DELETE_ON_SHUTDOWN_PROP + "=true.",
        "Exit status: 0 stopped by SIGTERM or SIGINT; 1 it failed (directory in use, ...), one line",
        "'driver: error: ...'; 2 bad option or bad value of a flag or system property, one line naming it.");

    /**
     * A bad command line or setting: one line, exit {@link #EXIT_USAGE}. A bad value's line ends with the value;
     * an unknown option's or a missing value's with "(see --help)".
     */
    static final class UsageError extends IllegalArgumentException
    {
        private static final long serialVersionUID = 1L;

        private final boolean pointToHelp;

        UsageError(final String message, final boolean pointToHelp)
        {
            super(message);
            this.pointToHelp = pointToHelp;
        }

        String line()
        {
            return getMessage() + (pointToHelp ? " (see --help)" : "");
        }
    }

    private DriverMain()
    {
    }

    /**
     * Runs the driver until SIGTERM or SIGINT.
     *
     * @param args see {@link #USAGE}.
     */
    public static void main(final String[] args)
    {
        final ShutdownSignalBarrier barrier = new ShutdownSignalBarrier();
        int status = EXIT_FAILURE;
        try
        {
            status = run(args, System.out, System.err, (driver) -> barrier.await());
        }
        catch (final Throwable ex)
        {
            System.err.println(PREFIX + "error: failed: " + ex);
            ex.printStackTrace(System.err);
        }
        finally
        {
            System.out.flush();
            System.err.flush();
            if (isJvmShuttingDown())
            {
                // A signal started the JVM's shutdown; the barrier's shutdown hook waits for close() before
                // the JVM exits, which would then exit with 128 + the signal number. The driver is closed by
                // now and nothing is left to clean up, so end the process here with the status we mean.
                Runtime.getRuntime().halt(status);
            }
            barrier.close();
        }
        System.exit(status);
    }

    /**
     * Parses the options, launches the driver, hands it to {@code awaitShutdown} and closes it when
     * that returns. Messages go to {@code out} (the configuration, once; progress) and {@code err}
     * (one line per error).
     *
     * @param args          the command line.
     * @param out           for the configuration and progress.
     * @param err           for errors.
     * @param awaitShutdown blocks until the driver should stop.
     * @return the exit status: {@link #EXIT_OK}, {@link #EXIT_USAGE} for bad options or settings,
     * {@link #EXIT_FAILURE} when the driver cannot start or stop cleanly.
     */
    static int run(
        final String[] args, final PrintStream out, final PrintStream err, final Consumer<SpateDriver> awaitShutdown)
    {
        final DriverConfiguration configuration;
        try
        {
            configuration = parse(args);
        }
        catch (final UsageError ex)
        {
            err.println(PREFIX + ex.line());
            return EXIT_USAGE;
        }
        if (null == configuration)
        {
            out.println(USAGE);
            return EXIT_OK;
        }

        out.println(PREFIX + configuration);

        final SpateDriver driver;
        try
        {
            driver = SpateDriver.launchStandalone(configuration);
        }
        catch (final IllegalStateException | IllegalArgumentException ex)
        {
            err.println(PREFIX + "error: cannot start: " + oneLine(ex.getMessage()));
            return EXIT_FAILURE;
        }

        int status = EXIT_OK;
        try
        {
            if (null != driver.archive())
            {
                out.println(PREFIX + archiveLine(configuration));
            }
            out.println(PREFIX + "running in " + driver.aeronDirectoryName() + " (pid " +
                ProcessHandle.current().pid() + "); stop it with SIGTERM or SIGINT");
            out.flush();
            awaitShutdown.accept(driver);
        }
        finally
        {
            try
            {
                driver.close();
                out.println(PREFIX + "stopped");
            }
            catch (final RuntimeException ex)
            {
                err.println(PREFIX + "error: stopped with an error: " + oneLine(ex.getMessage()));
                status = EXIT_FAILURE;
            }
        }
        return status;
    }

    /**
     * @param args the command line; options may also be written {@code --name=value}.
     * @return the concluded configuration for a standalone driver, or null when help was asked for.
     * @throws IllegalArgumentException one line saying what is wrong.
     */
    static DriverConfiguration parse(final String[] args)
    {
        for (final String arg : args)
        {
            if ("--help".equals(arg) || "-h".equals(arg))
            {
                return null;
            }
        }

        final DriverConfiguration configuration;
        try
        {
            configuration = new DriverConfiguration().embedded(false);
        }
        catch (final IllegalArgumentException ex)
        {
            // A malformed spate.driver.* system property: the message names it.
            throw new UsageError(oneLine(ex.getMessage()), false);
        }
        final Set<String> given = new HashSet<>();
        for (int i = 0; i < args.length; i++)
        {
            final String arg = args[i];
            final int equals = arg.indexOf('=');
            final String name = arg.startsWith("--") && equals > 0 ? arg.substring(0, equals) : arg;
            final String value;
            switch (name)
            {
                case "--dir", "--threading", "--idle", "--term-length", "--ipc-term-length", "--data", "--sync" ->
                {
                    if (equals > 0 && arg.startsWith("--"))
                    {
                        value = arg.substring(equals + 1);
                    }
                    else if (i + 1 < args.length)
                    {
                        value = args[++i];
                    }
                    else
                    {
                        throw new UsageError(name + " needs a value", true);
                    }
                    if (value.isBlank())
                    {
                        throw new UsageError(name + " needs a value", true);
                    }
                    if (!given.add(name))
                    {
                        throw new UsageError(name + " is given twice", true);
                    }
                }
                default -> throw new UsageError("unknown option '" + arg + "'", true);
            }

            switch (name)
            {
                case "--dir" -> configuration.aeronDirectoryName(value);
                case "--threading" -> configuration.threadingMode(threadingMode(name, value));
                case "--idle" -> configuration.idleStrategy(idleStrategy(name, value));
                case "--term-length" -> configuration.publicationTermBufferLength(termLength(name, value));
                case "--ipc-term-length" -> configuration.ipcTermBufferLength(termLength(name, value));
                case "--data" -> configuration.dataDir(value);
                case "--sync" -> configuration.syncLevel(syncLevel(name, value));
                default -> throw new IllegalStateException(name);
            }
        }
        if (given.contains("--sync") && SyncLevel.NONE != configuration.syncLevel() &&
            null == configuration.archiveDir())
        {
            throw new UsageError("--sync " + configuration.syncLevel().optionName() + " needs --data DIR: " +
                "nothing is recorded without an archive", false);
        }
        try
        {
            return configuration.conclude();
        }
        catch (final IllegalArgumentException ex)
        {
            // The flags are checked: what is left is a system property (or the directory), named in the message.
            throw new UsageError(oneLine(ex.getMessage()), false);
        }
    }

    private static ThreadingMode threadingMode(final String option, final String value)
    {
        try
        {
            return DriverConfiguration.parseThreadingMode(option, value);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new UsageError(option + " must be " + THREADING_NAMES + ": " + value, false);
        }
    }

    private static SyncLevel syncLevel(final String option, final String value)
    {
        try
        {
            return SyncLevel.parse(option, value);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new UsageError(option + " must be none or data: " + value, false);
        }
    }

    private static String idleStrategy(final String option, final String name)
    {
        try
        {
            return IdleStrategies.validate(name);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new UsageError(option + " must be one of " + String.join(", ", IdleStrategies.NAMES) + ": " + name,
                false);
        }
    }

    private static int termLength(final String option, final String value)
    {
        final long length;
        try
        {
            length = DriverConfiguration.parseSize(option, value);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new UsageError(option + " needs a size in bytes, optionally with a suffix k, m or g (4m): " + value,
                false);
        }
        if (length < DriverConfiguration.MIN_TERM_LENGTH || length > DriverConfiguration.MAX_TERM_LENGTH ||
            Long.bitCount(length) != 1)
        {
            throw new UsageError(option + " must be a power of two " + DriverConfiguration.MIN_TERM_LENGTH + ".." +
                DriverConfiguration.MAX_TERM_LENGTH + ": " + length, false);
        }
        return (int)length;
    }

    /**
     * @return where the archive is and what its sync level promises, e.g. {@code archive in /data/archive,
     * sync=data: an ack survives power loss (fdatasync before the recording position moves)}.
     */
    static String archiveLine(final DriverConfiguration configuration)
    {
        final SyncLevel syncLevel = configuration.syncLevel();
        return "archive in " + configuration.archiveDir() + ", sync=" + syncLevel.optionName() + ": " +
            syncLevel.promise();
    }

    private static String oneLine(final String message)
    {
        return null == message ? "unknown" : message.replace('\n', ' ').replace('\r', ' ');
    }

    /**
     * @return true when the JVM has begun its shutdown (a signal): a command that then calls System.exit
     * would block behind the shutdown hooks, and the process would end with 128 + the signal's number.
     */
    public static boolean isJvmShuttingDown()
    {
        final Thread probe = new Thread(() -> {});
        try
        {
            Runtime.getRuntime().addShutdownHook(probe);
            Runtime.getRuntime().removeShutdownHook(probe);
            return false;
        }
        catch (final IllegalStateException ex)
        {
            return true;
        }
    }
}
