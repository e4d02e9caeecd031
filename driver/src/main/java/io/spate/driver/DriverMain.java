package io.spate.driver;

import org.agrona.concurrent.ShutdownSignalBarrier;

import java.io.PrintStream;
import java.util.function.Consumer;

/**
 * The standalone media driver process ({@code bin/spate driver}): launches a driver with
 * {@link SpateDriver#launchStandalone}, prints its configuration once, runs until SIGTERM or SIGINT,
 * closes the driver and exits 0. Bad options print one line and exit 2; a driver that cannot start
 * (directory in use, ...) prints one line and exits 1.
 * <p>
 * Defaults come from the {@code spate.driver.*} system properties (see {@link DriverConfiguration});
 * options override them.
 */
public final class DriverMain
{
    public static final int EXIT_OK = 0;
    public static final int EXIT_FAILURE = 1;
    public static final int EXIT_USAGE = 2;

    static final String PREFIX = "spate driver: ";

    static final String USAGE = String.join(System.lineSeparator(),
        "Usage: spate driver [options]",
        "Runs an Aeron media driver in this process until SIGTERM or SIGINT; clients connect through its directory.",
        "  --dir DIR                Aeron directory (default: " + DriverConfiguration.DIR_PROP +
            ", else aeron.dir, else /dev/shm/aeron-USER)",
        "  --threading MODE         dedicated, shared or shared_network (default shared: one thread)",
        "  --idle NAME              idle strategy of the driver threads: " + String.join(", ", IdleStrategies.NAMES) +
            " (default " + IdleStrategies.DEFAULT + ")",
        "  --term-length BYTES      term length of UDP publications: a power of two, 64k to 1g (default 4m)",
        "  --ipc-term-length BYTES  term length of IPC publications: a power of two, 64k to 1g (default 4m)",
        "  --help                   print this help and exit",
        "System properties spate.driver.* set the defaults; options win. The directory is kept after",
        "shutdown (for AeronStat/ErrorStat) unless -D" + DriverConfiguration.DIR_DELETE_ON_SHUTDOWN_PROP + "=true.");

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
            System.err.println(PREFIX + "failed: " + ex);
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
        catch (final IllegalArgumentException ex)
        {
            err.println(PREFIX + ex.getMessage() + " (see --help)");
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
            err.println(PREFIX + "cannot start: " + ex.getMessage());
            return EXIT_FAILURE;
        }

        int status = EXIT_OK;
        try
        {
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
                err.println(PREFIX + "stopped with an error: " + ex.getMessage());
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

        final DriverConfiguration configuration = new DriverConfiguration().embedded(false);
        for (int i = 0; i < args.length; i++)
        {
            final String arg = args[i];
            final int equals = arg.indexOf('=');
            final String name = arg.startsWith("--") && equals > 0 ? arg.substring(0, equals) : arg;
            final String value;
            switch (name)
            {
                case "--dir", "--threading", "--idle", "--term-length", "--ipc-term-length" ->
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
                        throw new IllegalArgumentException(name + " needs a value");
                    }
                    if (value.isBlank())
                    {
                        throw new IllegalArgumentException(name + " needs a value");
                    }
                }
                default -> throw new IllegalArgumentException("unknown option '" + arg + "'");
            }

            switch (name)
            {
                case "--dir" -> configuration.aeronDirectoryName(value);
                case "--threading" -> configuration.threadingMode(DriverConfiguration.parseThreadingMode(name, value));
                case "--idle" -> configuration.idleStrategy(idleStrategy(name, value));
                case "--term-length" -> configuration.publicationTermBufferLength(
                    DriverConfiguration.checkTermLength(name, DriverConfiguration.parseSize(name, value)));
                case "--ipc-term-length" -> configuration.ipcTermBufferLength(
                    DriverConfiguration.checkTermLength(name, DriverConfiguration.parseSize(name, value)));
                default -> throw new IllegalStateException(name);
            }
        }
        return configuration.conclude();
    }

    private static String idleStrategy(final String option, final String name)
    {
        try
        {
            return IdleStrategies.validate(name);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new IllegalArgumentException(option + ": " + ex.getMessage(), ex);
        }
    }

    private static boolean isJvmShuttingDown()
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
