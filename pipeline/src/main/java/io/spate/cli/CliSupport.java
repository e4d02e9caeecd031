package io.spate.cli;

import io.aeron.CommonContext;
import io.aeron.exceptions.DriverTimeoutException;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.SchemaException;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the command-line tools share: option parsing ({@code --name value} or {@code --name=value}),
 * exit codes, the default Aeron directory, the schema and driver checks that turn into one-line errors.
 */
final class CliSupport
{
    static final int EXIT_OK = 0;
    static final int EXIT_FAILURE = 1;
    static final int EXIT_USAGE = 2;

    /** How old a driver's heartbeat may be for the driver to count as running. */
    static final long DRIVER_HEARTBEAT_TIMEOUT_MS = 5_000;

    private CliSupport()
    {
    }

    /** A bad command line: the tool prints the message and exits {@link #EXIT_USAGE}. */
    static final class UsageException extends RuntimeException
    {
        private static final long serialVersionUID = 1L;

        UsageException(final String message)
        {
            super(message);
        }
    }

    /** A failure the user can act on: the tool prints the message and exits {@link #EXIT_FAILURE}. */
    static final class CliException extends RuntimeException
    {
        private static final long serialVersionUID = 1L;

        CliException(final String message)
        {
            super(message);
        }
    }

    /**
     * @return the Aeron directory tools use without --dir: {@code spate.driver.dir}, else Aeron's default
     * ({@code aeron.dir}, else /dev/shm/aeron-USER), as the driver and the pipeline do.
     */
    static String defaultAeronDirectory()
    {
        return System.getProperty("spate.driver.dir", CommonContext.getAeronDirectoryName());
    }

    /**
     * @return true when any argument asks for help.
     */
    static boolean wantsHelp(final String[] args)
    {
        for (final String arg : args)
        {
            if ("--help".equals(arg) || "-h".equals(arg))
            {
                return true;
            }
        }
        return false;
    }

    /**
     * Compiles a database schema file.
     *
     * @throws CliException naming the file and what is wrong with it.
     */
    static DatabaseSchema loadSchema(final String file)
    {
        final Path path = Path.of(file);
        if (!Files.isReadable(path))
        {
            throw new CliException("cannot read the schema file " + path.toAbsolutePath() +
                "; pass --schema FILE (for example schema/examples/social.json)");
        }
        try
        {
            return SchemaCompiler.compile(path);
        }
        catch (final SchemaException ex)
        {
            throw new CliException("bad schema: " + ex.getMessage());
        }
    }

    /**
     * Refuses at once, instead of after Aeron's driver timeout, an Aeron directory with no live driver.
     *
     * @throws CliException saying how to start one.
     */
    static void requireDriver(final String aeronDirectory)
    {
        final File directory = new File(aeronDirectory);
        final boolean active;
        try
        {
            active = CommonContext.isDriverActive(directory, DRIVER_HEARTBEAT_TIMEOUT_MS, (message) -> {});
        }
        catch (final DriverTimeoutException ex)
        {
            throw new CliException("the media driver in " + directory.getAbsolutePath() +
                " did not finish starting; wait for it or restart it (bin/spate driver --dir " + aeronDirectory + ")");
        }
        catch (final RuntimeException ex)
        {
            throw new CliException("cannot read the media driver's CnC file in " + directory.getAbsolutePath() + ": " +
                ex.getMessage());
        }
        if (!active)
        {
            throw new CliException("no media driver is running in " + directory.getAbsolutePath() +
                "; start one with 'bin/spate driver --dir " + aeronDirectory +
                "' (or the pipeline with --embedded-driver), or pass the --dir it uses");
        }
    }

    /**
     * @param error any exception.
     * @return its message (or itself, when it has none) on one line.
     */
    static String oneLine(final Throwable error)
    {
        final String message = null == error.getMessage() ? error.toString() : error.getMessage();
        return message.replace('\n', ' ').replace('\r', ' ');
    }

    /**
     * A parsed command line: options with values, flags without, and positional arguments.
     */
    static final class Options
    {
        private final Map<String, String> values = new HashMap<>();
        private final List<String> positionals = new ArrayList<>();

        /**
         * @param args       the command line.
         * @param withValue  option names that take a value ({@code --name value} or {@code --name=value}).
         * @param flags      option names that take none.
         * @throws UsageException for an unknown option, a missing value, or an option given twice.
         */
        Options(final String[] args, final Set<String> withValue, final Set<String> flags)
        {
            for (int i = 0; i < args.length; i++)
            {
                final String arg = args[i];
                if (!arg.startsWith("--") || "--".equals(arg))
                {
                    positionals.add(arg);
                    continue;
                }
                final int equals = arg.indexOf('=');
                final String name = equals > 0 ? arg.substring(0, equals) : arg;
                final String value;
                if (withValue.contains(name))
                {
                    if (equals > 0)
                    {
                        value = arg.substring(equals + 1);
                    }
                    else if (i + 1 < args.length)
                    {
                        value = args[++i];
                    }
                    else
                    {
                        throw new UsageException(name + " needs a value");
                    }
                    if (value.isBlank())
                    {
                        throw new UsageException(name + " needs a value");
                    }
                }
                else if (flags.contains(name))
                {
                    if (equals > 0)
                    {
                        throw new UsageException(name + " takes no value");
                    }
                    value = "";
                }
                else
                {
                    throw new UsageException("unknown option '" + arg + "'");
                }
                if (null != values.put(name, value))
                {
                    throw new UsageException(name + " is given twice");
                }
            }
        }

        boolean has(final String name)
        {
            return values.containsKey(name);
        }

        String get(final String name, final String defaultValue)
        {
            return values.getOrDefault(name, defaultValue);
        }

        String require(final String name, final String what)
        {
            final String value = values.get(name);
            if (null == value)
            {
                throw new UsageException(name + " is required: " + what);
            }
            return value;
        }

        long getLong(final String name, final long defaultValue, final long min, final long max)
        {
            final String value = values.get(name);
            return null == value ? defaultValue : parseLong(name, value, min, max);
        }

        int getInt(final String name, final int defaultValue, final int min, final int max)
        {
            return (int)getLong(name, defaultValue, min, max);
        }

        List<String> positionals()
        {
            return positionals;
        }
    }

    /**
     * @param what  for the message.
     * @param value decimal, underscores allowed (1_000_000).
     * @return the number.
     * @throws UsageException when it is not a number in [min, max].
     */
    static long parseLong(final String what, final String value, final long min, final long max)
    {
        final long parsed;
        try
        {
            parsed = Long.parseLong(value.trim().replace("_", ""));
        }
        catch (final NumberFormatException ex)
        {
            throw new UsageException(what + " needs a number: '" + value + "'");
        }
        if (parsed < min || parsed > max)
        {
            throw new UsageException(what + " must be from " + min + " to " + max + ": " + parsed);
        }
        return parsed;
    }
}
