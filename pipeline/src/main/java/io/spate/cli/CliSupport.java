package io.spate.cli;

import io.aeron.ChannelUri;
import io.aeron.CommonContext;
import io.aeron.exceptions.DriverTimeoutException;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.SchemaException;
import io.spate.driver.DriverConfiguration;
import io.spate.driver.SyncLevel;

import java.io.File;
import java.io.PrintStream;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What the command-line tools share, so every command follows one convention:
 * <ul>
 *     <li>options are {@code --name value} or {@code --name=value};</li>
 *     <li>a bad command line prints one line {@code <command>: <what is wrong>} and exits {@link #EXIT_USAGE}:
 *     a bad value names the flag and ends with the value ({@code pipeline: --workers must be 1..64: 0},
 *     {@code pipeline: --workers needs a whole number: abc}); an unknown option or a missing argument adds
 *     {@code (see --help)}; a bad system property names the property the same way, also exit 2;</li>
 *     <li>a failure prints one line {@code <command>: error: <what happened>} and exits {@link #EXIT_FAILURE}:
 *     a schema file that cannot be read or is not a schema, no media driver, no pipeline;</li>
 *     <li>numbers print as plain digits, in machine-readable {@code key=value} pairs.</li>
 * </ul>
 */
public final class CliSupport
{
    public static final int EXIT_OK = 0;
    public static final int EXIT_FAILURE = 1;
    public static final int EXIT_USAGE = 2;

    /**
     * @param command  the command's name.
     * @param failures what makes it exit 1.
     * @return the exit status paragraph its help ends with.
     */
    public static String exitStatusHelp(final String command, final String failures)
    {
        return String.join(System.lineSeparator(),
            "Exit status: 0 done; 1 " + failures + ", one line '" + command + ": error: ...';",
            "2 bad option, or bad value of a flag or system property, one line naming it.");
    }

    /** How help texts describe the default Aeron directory. */
    public static final String DEFAULT_DIR_HELP = "spate.driver.dir, else aeron.dir, else /dev/shm/aeron-USER";

    /** How old a driver's heartbeat may be for the driver to count as running. */
    static final long DRIVER_HEARTBEAT_TIMEOUT_MS = 5_000;

    /** Longest any timeout flag may be, in ms: an hour. */
    public static final long MAX_TIMEOUT_MS = 3_600_000;

    private static final Pattern WHOLE_NUMBER = Pattern.compile("[-+]?\\d+");

    private CliSupport()
    {
    }

    /**
     * A bad command line or setting: the tool prints {@code <command>: <message>} and exits {@link #EXIT_USAGE}.
     */
    public static final class UsageException extends RuntimeException
    {
        private static final long serialVersionUID = 1L;

        private final boolean pointToHelp;

        /**
         * @param message what is wrong; the line ends with " (see --help)".
         */
        public UsageException(final String message)
        {
            this(message, true);
        }

        /**
         * @param message     what is wrong.
         * @param pointToHelp whether the line ends with " (see --help)": not for a bad value, whose line ends
         *                    with the value.
         */
        public UsageException(final String message, final boolean pointToHelp)
        {
            super(message);
            this.pointToHelp = pointToHelp;
        }

        /**
         * @return the line to print after the command's prefix.
         */
        public String line()
        {
            return getMessage() + (pointToHelp ? " (see --help)" : "");
        }
    }

    /** A failure the user can act on: the tool prints {@code <command>: error: <message>}, exits {@link #EXIT_FAILURE}. */
    public static final class CliException extends RuntimeException
    {
        private static final long serialVersionUID = 1L;

        public CliException(final String message)
        {
            super(message);
        }
    }

    /**
     * Prints a usage error the one way every command does.
     *
     * @param err     where.
     * @param command the command's name ("produce").
     * @param ex      what is wrong.
     * @return {@link #EXIT_USAGE}.
     */
    public static int usageError(final PrintStream err, final String command, final UsageException ex)
    {
        err.println(command + ": " + ex.line());
        return EXIT_USAGE;
    }

    /**
     * Prints a failure the one way every command does.
     *
     * @param err     where.
     * @param command the command's name ("produce").
     * @param message what happened, on one line.
     * @return {@link #EXIT_FAILURE}.
     */
    public static int failure(final PrintStream err, final String command, final String message)
    {
        err.println(command + ": error: " + message);
        return EXIT_FAILURE;
    }

    /**
     * @return the Aeron directory tools use without --dir: {@code spate.driver.dir}, else Aeron's default
     * ({@code aeron.dir}, else /dev/shm/aeron-USER), as the driver and the pipeline do.
     */
    public static String defaultAeronDirectory()
    {
        final String directory = System.getProperty(DriverConfiguration.DIR_PROP);
        return null == directory || directory.isBlank() ? CommonContext.getAeronDirectoryName() : directory.trim();
    }

    /**
     * @return true when any argument asks for help.
     */
    /**
     * Ends a command's JVM with its status, its output flushed first.
     */
    public static void exit(final int status)
    {
        System.out.flush();
        System.err.flush();
        System.exit(status);
    }

    /**
     * @return the options of a command that takes no positional arguments.
     * @throws UsageException naming the first positional argument, or a bad option.
     */
    public static Options optionsWithoutPositionals(
        final String[] args, final Set<String> withValue, final Set<String> flags)
    {
        final Options options = new Options(args, withValue, flags);
        if (!options.positionals().isEmpty())
        {
            throw new UsageException("unexpected argument '" + options.positionals().get(0) + "'");
        }
        return options;
    }

    public static boolean wantsHelp(final String[] args)
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
     * @return the sync level of a flag ({@code none} or {@code data}), else the default.
     * @throws UsageException {@code <flag> must be none or data: <value>}.
     */
    public static SyncLevel syncLevel(final Options options, final String flag, final String defaultValue)
    {
        final String value = options.get(flag, defaultValue);
        try
        {
            return SyncLevel.parse(flag, value);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new UsageException(flag + " must be none or data: " + value, false);
        }
    }

    /**
     * Compiles a database schema file.
     *
     * @throws CliException one line: {@code cannot read the schema file X: no such file} (or permission
     * denied, ...) when it cannot be read, {@code bad schema: X: ...} when it is not a valid schema.
     */
    public static DatabaseSchema loadSchema(final String file)
    {
        final Path path;
        try
        {
            path = Path.of(file);
        }
        catch (final InvalidPathException ex)
        {
            throw new CliException("cannot read the schema file " + file + ": not a valid path");
        }
        try
        {
            return SchemaCompiler.compile(path);
        }
        catch (final SchemaException ex)
        {
            // SchemaCompiler says "cannot read the schema file X: no such file" (or permission denied, ...) when the
            // file cannot be read; anything else is about its content.
            final String message = ex.getMessage();
            throw new CliException(message.startsWith("cannot read the schema file ") ? message : "bad schema: " + message);
        }
    }

    /**
     * @param file a file holding the credentials a client sends (a pipeline's or cluster's shared secret).
     * @return its bytes, without one trailing newline.
     * @throws UsageException {@code --secret-file cannot be read: FILE: ...}.
     */
    public static byte[] readSecretFile(final String file)
    {
        try
        {
            String text = java.nio.file.Files.readString(Path.of(file), java.nio.charset.StandardCharsets.UTF_8);
            if (text.endsWith("\n"))
            {
                text = text.substring(0, text.length() - (text.endsWith("\r\n") ? 2 : 1));
            }
            return text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        }
        catch (final java.io.IOException | RuntimeException ex)
        {
            throw new UsageException("--secret-file cannot be read: " + file + ": " + oneLine(ex), false);
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
    public static String oneLine(final Throwable error)
    {
        final String message = null == error.getMessage() ? error.toString() : error.getMessage();
        return message.replace('\n', ' ').replace('\r', ' ');
    }

    /**
     * A parsed command line: options with values, flags without, and positional arguments.
     */
    public static final class Options
    {
        private final Map<String, String> values = new HashMap<>();
        private final List<String> positionals = new ArrayList<>();

        /**
         * @param args       the command line.
         * @param withValue  option names that take a value ({@code --name value} or {@code --name=value}).
         * @param flags      option names that take none.
         * @throws UsageException for an unknown option, a missing value, or an option given twice.
         */
        public Options(final String[] args, final Set<String> withValue, final Set<String> flags)
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

        public boolean has(final String name)
        {
            return values.containsKey(name);
        }

        public String get(final String name, final String defaultValue)
        {
            return values.getOrDefault(name, defaultValue);
        }

        public String require(final String name, final String what)
        {
            final String value = values.get(name);
            if (null == value)
            {
                throw new UsageException(name + " is required: " + what);
            }
            return value;
        }

        /**
         * @return the option's whole number, or the default when it is not given (the default is not checked).
         * @throws UsageException naming the option when the value is no whole number in [min, max].
         */
        public long getLong(final String name, final long defaultValue, final long min, final long max)
        {
            final String value = values.get(name);
            return null == value ? defaultValue : parseLong(name, value, min, max);
        }

        public int getInt(final String name, final int defaultValue, final int min, final int max)
        {
            return (int)getLong(name, defaultValue, min, max);
        }

        /**
         * @return the option's whole number, else the system property's (named in its message when malformed),
         * else the default: a flag wins over a property, which wins over the default.
         */
        public int getInt(final String name, final String property, final int defaultValue, final int min, final int max)
        {
            return has(name) ? getInt(name, defaultValue, min, max) :
                (int)longProperty(property, defaultValue, min, max);
        }

        /**
         * @return the option's Aeron channel, else the system property's, else the default.
         */
        public String getChannel(final String name, final String property, final String defaultValue)
        {
            return has(name) ? getChannel(name, defaultValue) : channelProperty(property, defaultValue);
        }

        /**
         * @return the option's size in bytes (a suffix k, m or g allowed), or the default when it is not given.
         * @throws UsageException naming the option when the value is no size in [min, max].
         */
        public long getSize(final String name, final long defaultValue, final long min, final long max)
        {
            final String value = values.get(name);
            return null == value ? defaultValue : parseSize(name, value, min, max);
        }

        /**
         * @return the option's Aeron channel, or the default when it is not given.
         * @throws UsageException naming the option when the value is no Aeron channel.
         */
        public String getChannel(final String name, final String defaultValue)
        {
            final String value = values.get(name);
            return null == value ? defaultValue : checkChannel(name, value);
        }

        public List<String> positionals()
        {
            return positionals;
        }
    }

    /**
     * @param what  the flag (or property) the value comes from, for the message.
     * @param value decimal, underscores allowed (1_000_000).
     * @return the number.
     * @throws UsageException {@code <what> needs a whole number: <value>} or {@code <what> must be <min>..<max>: <value>}.
     */
    public static long parseLong(final String what, final String value, final long min, final long max)
    {
        final String text = value.trim().replace("_", "");
        final long parsed;
        try
        {
            parsed = Long.parseLong(text);
        }
        catch (final NumberFormatException ex)
        {
            if (WHOLE_NUMBER.matcher(text).matches())
            {
                throw new UsageException(what + " must be " + range(min, max) + ": " + value.trim(), false);
            }
            throw new UsageException(what + " needs a whole number: " + value, false);
        }
        if (parsed < min || parsed > max)
        {
            throw new UsageException(what + " must be " + range(min, max) + ": " + parsed, false);
        }
        return parsed;
    }

    /**
     * @param what  the flag the value comes from, for the message.
     * @param value bytes, optionally with a binary suffix k, m or g: 65536, 64k, 64m, 1g.
     * @return the size in bytes.
     * @throws UsageException {@code <what> needs a size ...: <value>} or {@code <what> must be <min>..<max>: <bytes>}.
     */
    public static long parseSize(final String what, final String value, final long min, final long max)
    {
        final long parsed;
        try
        {
            parsed = DriverConfiguration.parseSize(what, value.replace("_", ""));
        }
        catch (final IllegalArgumentException ex)
        {
            throw new UsageException(what + " needs a size in bytes, optionally with a suffix k, m or g (64m): " +
                value, false);
        }
        if (parsed < min || parsed > max)
        {
            throw new UsageException(what + " must be " + range(min, max) + " bytes: " + parsed, false);
        }
        return parsed;
    }

    /**
     * @return the channel when Aeron can parse it.
     * @throws UsageException {@code <what> is not an Aeron channel (aeron:ipc or aeron:udp?endpoint=HOST:PORT): <value>}.
     */
    public static String checkChannel(final String what, final String value)
    {
        try
        {
            ChannelUri.parse(value.trim());
            return value.trim();
        }
        catch (final RuntimeException ex)
        {
            throw new UsageException(what + " is not an Aeron channel (aeron:ipc or aeron:udp?endpoint=HOST:PORT): " +
                value, false);
        }
    }

    /**
     * @return the system property's whole number, or the default when it is not set.
     * @throws UsageException {@code system property <name> needs a whole number: <value>} (or must be min..max).
     */
    public static long longProperty(final String name, final long defaultValue, final long min, final long max)
    {
        final String value = System.getProperty(name);
        if (null == value || value.isBlank())
        {
            return defaultValue;
        }
        if (!WHOLE_NUMBER.matcher(value).matches())
        {
            // Strict: the configurations read properties with Integer.getInteger, which takes no blanks or '_'.
            throw new UsageException("system property " + name + " needs a whole number: " + value, false);
        }
        return parseLong("system property " + name, value, min, max);
    }

    /**
     * @return the system property's Aeron channel, or the default when it is not set.
     * @throws UsageException naming the property when it is no Aeron channel.
     */
    public static String channelProperty(final String name, final String defaultValue)
    {
        final String value = System.getProperty(name);
        return null == value || value.isBlank() ? defaultValue : checkChannel("system property " + name, value);
    }

    private static String range(final long min, final long max)
    {
        if (Long.MIN_VALUE == min && Long.MAX_VALUE == max)
        {
            return "a 64-bit whole number";
        }
        return max >= Long.MAX_VALUE / 2 ? "at least " + min : min + ".." + max;
    }
}
