package io.spate.cli;

import io.spate.cli.CliSupport.CliException;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Pattern;

/**
 * A cluster {@code bin/spate cluster} runs on this machine: its members' settings, kept in
 * {@code ROOT/}{@value #FILE} so a member can be started again exactly as it was first ({@code cluster --restart},
 * or by hand with the command {@link #restartCommand} prints).
 *
 * @param root     the members' directories are {@code root/node-i}; absolute.
 * @param schema   the schema file, absolute.
 * @param nodes    the number of members.
 * @param portBase the members' port base.
 * @param passed   the options passed to every member ({@code --sync} and the like), in order, with their values.
 */
record LocalCluster(File root, String schema, int nodes, int portBase, Map<String, String> passed)
{
    /** The file in ROOT that records how the members were started. */
    static final String FILE = "cluster.properties";
    /** The file in each member's directory that a member started by {@code --restart} writes its output to. */
    static final String LOG_FILE = "node.log";
    /** The options {@code bin/spate cluster} passes to every member as given. */
    static final List<String> PASSED_OPTIONS = List.of("--sync", "--snapshot-ms", "--heartbeat-timeout-ms", "--idle");

    private static final String OPTION_PREFIX = "option.";
    private static final Pattern PLAIN_WORD = Pattern.compile("[A-Za-z0-9_./:=,@%+-]+");

    LocalCluster
    {
        passed = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(passed));
    }

    /**
     * @return member i's directory.
     */
    File memberDirectory(final int memberId)
    {
        return new File(root, "node-" + memberId);
    }

    /**
     * @return the arguments of {@code bin/spate node} (NodeMain) that start member i.
     */
    List<String> memberArguments(final int memberId)
    {
        final List<String> hosts = new ArrayList<>();
        for (int i = 0; i < nodes; i++)
        {
            hosts.add("localhost");
        }
        final List<String> arguments = new ArrayList<>(List.of("--id", Integer.toString(memberId), "--schema", schema,
            "--data", memberDirectory(memberId).getPath(), "--members", String.join(",", hosts),
            "--port-base", Integer.toString(portBase)));
        passed.forEach((name, value) ->
        {
            arguments.add(name);
            arguments.add(value);
        });
        return arguments;
    }

    /**
     * @param launcher how the user runs Spate's commands ({@code bin/spate}, or its absolute path).
     * @return the shell command that starts member i as {@code bin/spate cluster} did, its words quoted when needed.
     */
    String restartCommand(final int memberId, final String launcher)
    {
        final StringBuilder command = new StringBuilder(quote(launcher)).append(" node");
        for (final String argument : memberArguments(memberId))
        {
            command.append(' ').append(quote(argument));
        }
        return command.toString();
    }

    /**
     * @return the shell command that restarts every member that is not running, in the background.
     */
    String restartInBackgroundCommand(final String launcher)
    {
        return quote(launcher) + " cluster --restart --data " + quote(root.getPath());
    }

    /**
     * Writes {@code ROOT/}{@value #FILE} (atomically: a whole file or the old one).
     */
    void write() throws IOException
    {
        final Properties properties = new Properties();
        properties.setProperty("schema", schema);
        properties.setProperty("nodes", Integer.toString(nodes));
        properties.setProperty("portBase", Integer.toString(portBase));
        passed.forEach((name, value) -> properties.setProperty(OPTION_PREFIX + name, value));
        Files.createDirectories(root.toPath());
        final Path target = root.toPath().resolve(FILE);
        final Path temporary = root.toPath().resolve(FILE + ".tmp");
        try (OutputStream out = Files.newOutputStream(temporary))
        {
            properties.store(out, "Spate cluster (bin/spate cluster): how its members were started; read by " +
                "bin/spate cluster --restart");
        }
        Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * @return the cluster {@code bin/spate cluster --data ROOT} started.
     * @throws CliException one line: no such file (not a cluster's directory), or a file that is not one of ours.
     */
    static LocalCluster read(final File root)
    {
        final Path file = root.toPath().resolve(FILE);
        final Properties properties = new Properties();
        try (InputStream in = Files.newInputStream(file))
        {
            properties.load(in);
        }
        catch (final NoSuchFileException ex)
        {
            throw new CliException("no " + FILE + " in " + root + ": bin/spate cluster --data " + root +
                " writes it when it starts the members; start the cluster that way first");
        }
        catch (final IOException | RuntimeException ex)
        {
            throw new CliException("cannot read " + file + ": " + CliSupport.oneLine(ex));
        }
        final String schema = properties.getProperty("schema", "").trim();
        final int nodes;
        final int portBase;
        try
        {
            nodes = (int)CliSupport.parseLong("nodes", properties.getProperty("nodes", ""), 1,
                io.spate.cluster.ClusterMembers.MAX_MEMBERS);
            portBase = (int)CliSupport.parseLong("portBase", properties.getProperty("portBase", ""), 1024, 65_000);
        }
        catch (final CliSupport.UsageException ex)
        {
            throw new CliException(file + " is damaged: " + ex.getMessage());
        }
        if (schema.isEmpty())
        {
            throw new CliException(file + " is damaged: it names no schema");
        }
        final Map<String, String> passed = new LinkedHashMap<>();
        for (final String option : PASSED_OPTIONS)
        {
            final String value = properties.getProperty(OPTION_PREFIX + option);
            if (null != value)
            {
                passed.put(option, value);
            }
        }
        return new LocalCluster(root.getAbsoluteFile(), schema, nodes, portBase, passed);
    }

    /**
     * @return the process id member i's {@code node.properties} names, or -1 when there is none (never started,
     * or unreadable).
     */
    long recordedPid(final int memberId)
    {
        final Properties properties = new Properties();
        try (InputStream in = Files.newInputStream(
            memberDirectory(memberId).toPath().resolve(io.spate.cluster.NodeStatus.PROPERTIES_FILE)))
        {
            properties.load(in);
            return Long.parseLong(properties.getProperty(io.spate.cluster.NodeStatus.PID_PROPERTY, "-1").trim());
        }
        catch (final IOException | RuntimeException ex)
        {
            return -1;
        }
    }

    /**
     * @return true when a process with this id runs on this machine.
     */
    static boolean isAlive(final long pid)
    {
        return pid > 0 && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    private static String quote(final String word)
    {
        return PLAIN_WORD.matcher(word).matches() ? word : "'" + word.replace("'", "'\\''") + "'";
    }
}
