package io.spate.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * A Java main of the project in a JVM of its own, started like {@code bin/spate} starts one: the
 * current java binary, the project's JVM flags, {@code -Dspate.native.dir} and the test class path.
 * stdout and stderr are merged and collected line by line (and echoed with the process's name).
 * Every wait is bounded; {@link #close()} kills the process (SIGKILL) if it still runs.
 */
final class JvmProcess implements AutoCloseable
{
    /** The surefire argLine flags ({@code spate.jvm.flags} in the parent pom). */
    static final List<String> JVM_FLAGS = List.of(
        "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED",
        "--add-opens", "java.base/java.nio=ALL-UNNAMED",
        "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
        "--add-opens", "java.base/java.util.zip=ALL-UNNAMED", // Aeron Archive's CRC32C checksums
        "--enable-native-access=ALL-UNNAMED",
        "--sun-misc-unsafe-memory-access=allow");

    /** Small, quick JVMs: a 2-core box runs several of them at once. */
    static final List<String> SMALL_JVM = List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:-UsePerfData");

    private final String name;
    private final Process process;
    private final List<String> lines = new ArrayList<>();
    private final Thread reader;

    private JvmProcess(final String name, final Process process)
    {
        this.name = name;
        this.process = process;
        reader = new Thread(this::readOutput, "output-" + name);
        reader.setDaemon(true);
        reader.start();
    }

    /**
     * @param name      for messages and the echoed output.
     * @param mainClass fully qualified.
     * @param args      of the main.
     * @return the started process.
     */
    static JvmProcess start(final String name, final String mainClass, final List<String> args)
    {
        final List<String> jvmArgs = new ArrayList<>(JVM_FLAGS);
        final String nativeDir = System.getProperty("spate.native.dir");
        if (null != nativeDir)
        {
            jvmArgs.add("-Dspate.native.dir=" + nativeDir);
        }
        return start(name, jvmArgs, classPath(), mainClass, args);
    }

    /**
     * @param name      for messages and the echoed output.
     * @param jvmFlags  the JVM's flags (besides {@link #SMALL_JVM}), instead of the project's.
     * @param classPath the JVM's class path, instead of the tests'.
     * @param mainClass fully qualified.
     * @param args      of the main.
     * @return the started process.
     */
    static JvmProcess start(
        final String name, final List<String> jvmFlags, final String classPath, final String mainClass, final List<String> args)
    {
        final List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow(
            () -> new IllegalStateException("cannot tell which java binary runs the tests")));
        command.addAll(SMALL_JVM);
        command.addAll(jvmFlags);
        command.add("-cp");
        command.add(classPath);
        command.add(mainClass);
        command.addAll(args);
        try
        {
            return new JvmProcess(name, new ProcessBuilder(command).redirectErrorStream(true).start());
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot start " + name + ": " + command, ex);
        }
    }

    /**
     * @return the tests' class path: surefire hands it over in {@code surefire.test.class.path}
     * (its own {@code java.class.path} is a manifest-only jar); an IDE uses java.class.path.
     */
    static String classPath()
    {
        final String surefire = System.getProperty("surefire.test.class.path");
        return null != surefire && !surefire.isBlank() ? surefire : System.getProperty("java.class.path");
    }

    private void readOutput()
    {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)))
        {
            String line;
            while ((line = in.readLine()) != null)
            {
                System.out.println("[" + name + "] " + line);
                synchronized (lines)
                {
                    lines.add(line);
                    lines.notifyAll();
                }
            }
        }
        catch (final IOException ignore)
        {
            // The process was killed.
        }
    }

    String name()
    {
        return name;
    }

    Process process()
    {
        return process;
    }

    /**
     * @return a copy of the output so far.
     */
    List<String> lines()
    {
        synchronized (lines)
        {
            return new ArrayList<>(lines);
        }
    }

    String output()
    {
        return String.join("\n", lines());
    }

    /**
     * Waits for an output line.
     *
     * @return the first line that matches.
     * @throws AssertionError when the process exits first or the timeout passes; with the output.
     */
    String awaitLine(final Predicate<String> matcher, final Duration timeout) throws InterruptedException
    {
        final long deadlineNs = System.nanoTime() + timeout.toNanos();
        int seen = 0;
        synchronized (lines)
        {
            while (true)
            {
                for (; seen < lines.size(); seen++)
                {
                    if (matcher.test(lines.get(seen)))
                    {
                        return lines.get(seen);
                    }
                }
                final long remainingMs = TimeUnit.NANOSECONDS.toMillis(deadlineNs - System.nanoTime());
                if (remainingMs <= 0)
                {
                    throw new AssertionError(name + ": no such line within " + timeout + "; output:\n" + String.join("\n", lines));
                }
                if (!process.isAlive() && !reader.isAlive())
                {
                    throw new AssertionError(name + " exited " + process.exitValue() + " before the line; output:\n" +
                        String.join("\n", lines));
                }
                lines.wait(Math.min(remainingMs, 100));
            }
        }
    }

    String awaitLineStartingWith(final String prefix, final Duration timeout) throws InterruptedException
    {
        return awaitLine((line) -> line.startsWith(prefix), timeout);
    }

    /**
     * Waits for the process to exit and for its output to be read.
     *
     * @return the exit status.
     * @throws AssertionError when it is still running after the timeout (it is killed then).
     */
    int awaitExit(final Duration timeout) throws InterruptedException
    {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS))
        {
            process.destroyForcibly();
            throw new AssertionError(name + " still running after " + timeout + "; killed. Output:\n" + output());
        }
        reader.join(5_000);
        return process.exitValue();
    }

    /**
     * SIGTERM, as {@link Process#destroy()} sends, but through the {@link ProcessHandle}: Process.destroy()
     * also closes this side's ends of the child's pipes, and the output it prints while stopping would be lost.
     */
    void terminate()
    {
        if (!process.toHandle().destroy())
        {
            throw new AssertionError("cannot send SIGTERM to " + name);
        }
    }

    /** SIGKILL. */
    void kill() throws InterruptedException
    {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    public void close()
    {
        if (process.isAlive())
        {
            process.destroyForcibly();
            try
            {
                process.waitFor(10, TimeUnit.SECONDS);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // Helpers for the tests
    // ------------------------------------------------------------------------------------------

    /**
     * @return the example schema file (surefire runs in the module directory).
     */
    static Path exampleSchema()
    {
        return io.spate.codec.testing.ExampleSchemas.socialPath().toAbsolutePath().normalize();
    }

    /**
     * @return a fresh directory in memory (/dev/shm) when there is one, else in java.io.tmpdir.
     */
    static Path temporaryDirectory(final String prefix) throws IOException
    {
        final Path shm = Path.of("/dev/shm");
        if (Files.isDirectory(shm) && Files.isWritable(shm))
        {
            return Files.createTempDirectory(shm, prefix);
        }
        return Files.createTempDirectory(prefix);
    }

    static void deleteRecursively(final Path directory)
    {
        if (null != directory)
        {
            org.agrona.IoUtil.delete(directory.toFile(), true);
        }
    }

    /**
     * @return a UDP port on 127.0.0.1 that was free a moment ago.
     */
    static int freeUdpPort() throws IOException
    {
        try (DatagramSocket socket = new DatagramSocket(0, InetAddress.getLoopbackAddress()))
        {
            return socket.getLocalPort();
        }
    }

    /**
     * @param line  such as {@code produce: records=1 acked=1 ... live User=3 Post=4}.
     * @param after parse only the key=value pairs after this word ("live", "counts"), or null for all.
     * @return the key=value pairs.
     */
    static Map<String, String> pairs(final String line, final String after)
    {
        final Map<String, String> pairs = new HashMap<>();
        boolean on = null == after;
        for (final String word : line.split(" "))
        {
            if (!on)
            {
                on = word.equals(after);
                continue;
            }
            final int equals = word.indexOf('=');
            if (equals > 0)
            {
                pairs.put(word.substring(0, equals), word.substring(equals + 1));
            }
        }
        return pairs;
    }

    static long longValue(final Map<String, String> pairs, final String key)
    {
        final String value = pairs.get(key);
        if (null == value)
        {
            throw new AssertionError("no " + key + " in " + pairs);
        }
        return Long.parseLong(value);
    }
}
