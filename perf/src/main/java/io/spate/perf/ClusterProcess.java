package io.spate.perf;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * One child JVM of {@code bin/spate bench --cluster} (a cluster member, a single-node pipeline or a producer):
 * its output (stdout and stderr) goes line by line into a log file and into memory, each line stamped with
 * {@link System#nanoTime()} when it was read, so the bench can wait for a line and time events by them.
 */
final class ClusterProcess
{
    /** One line of output and when the bench read it. */
    record Line(long nanos, String text)
    {
    }

    private final String name;
    private final Process process;
    private final Path log;
    private final List<Line> lines = new ArrayList<>();
    private final Thread reader;

    private ClusterProcess(final String name, final Process process, final Path log)
    {
        this.name = name;
        this.process = process;
        this.log = log;
        this.reader = Thread.ofPlatform().daemon().name("out-" + name).start(this::readOutput);
    }

    /**
     * @param name    for messages and the reader thread.
     * @param command the whole command line.
     * @param log     where its output goes (created or replaced).
     */
    static ClusterProcess start(final String name, final List<String> command, final Path log)
    {
        try
        {
            Files.createDirectories(log.getParent());
            Files.writeString(log, String.join(" ", command) + "\n");
            final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            return new ClusterProcess(name, process, log);
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("cannot start " + name + ": " + ex, ex);
        }
    }

    private void readOutput()
    {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            BufferedWriter out = Files.newBufferedWriter(log, StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.APPEND))
        {
            String text;
            while ((text = in.readLine()) != null)
            {
                final long nanos = System.nanoTime();
                out.write(text);
                out.newLine();
                out.flush();
                synchronized (lines)
                {
                    lines.add(new Line(nanos, text));
                    lines.notifyAll();
                }
            }
        }
        catch (final IOException ignored)
        {
            // the process is gone (killed): what it printed is in the log
        }
        finally
        {
            synchronized (lines)
            {
                lines.notifyAll();
            }
        }
    }

    String name()
    {
        return name;
    }

    Path log()
    {
        return log;
    }

    long pid()
    {
        return process.pid();
    }

    boolean isAlive()
    {
        return process.isAlive();
    }

    /**
     * @return a copy of the lines read so far.
     */
    List<Line> lines()
    {
        synchronized (lines)
        {
            return new ArrayList<>(lines);
        }
    }

    /**
     * @return the first line (from the start) that matches, once printed.
     * @throws IllegalStateException when the process ends or the time is up first, with its last lines.
     */
    Line awaitLine(final Predicate<String> match, final long timeoutMs)
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        int checked = 0;
        synchronized (lines)
        {
            while (true)
            {
                for (; checked < lines.size(); checked++)
                {
                    if (match.test(lines.get(checked).text()))
                    {
                        return lines.get(checked);
                    }
                }
                final long leftNs = deadlineNs - System.nanoTime();
                if (leftNs <= 0 || (!process.isAlive() && !reader.isAlive()))
                {
                    throw new IllegalStateException(name + (process.isAlive() ? " printed no such line within " +
                        timeoutMs + " ms" : " exited (status " + process.exitValue() + ")") + "; last lines:\n" +
                        tailLocked(15) + "(log: " + log + ")");
                }
                try
                {
                    lines.wait(Math.max(1, Math.min(100, TimeUnit.NANOSECONDS.toMillis(leftNs))));
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted waiting for " + name, ex);
                }
            }
        }
    }

    /**
     * Waits for the process to exit and its output to be read.
     *
     * @return its exit status.
     * @throws IllegalStateException when it is still running after the timeout (it is then killed).
     */
    int awaitExit(final long timeoutMs)
    {
        try
        {
            if (!process.waitFor(timeoutMs, TimeUnit.MILLISECONDS))
            {
                kill();
                throw new IllegalStateException(name + " did not finish within " + timeoutMs + " ms (killed); last " +
                    "lines:\n" + tail(15) + "(log: " + log + ")");
            }
            reader.join(5_000);
            return process.exitValue();
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            kill();
            throw new IllegalStateException("interrupted waiting for " + name, ex);
        }
    }

    /**
     * SIGKILL (the JDK's forcible destroy on Linux), then waits until it is gone. Through the process handle:
     * {@link Process#destroyForcibly()} would also close the output pipe, losing the last lines.
     */
    void kill()
    {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.toHandle().destroyForcibly();
        try
        {
            process.waitFor(10, TimeUnit.SECONDS);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * SIGTERM; SIGKILL when it has not exited after the grace period. Through the process handle, which leaves
     * the output pipe open ({@link Process#destroy()} closes it: the process's last lines would be lost).
     */
    void stop(final long graceMs)
    {
        if (!process.isAlive())
        {
            return;
        }
        process.toHandle().destroy();
        try
        {
            if (process.waitFor(graceMs, TimeUnit.MILLISECONDS))
            {
                return;
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        kill();
    }

    /**
     * @return its last lines, one per line.
     */
    String tail(final int count)
    {
        synchronized (lines)
        {
            return tailLocked(count);
        }
    }

    private String tailLocked(final int count)
    {
        final StringBuilder text = new StringBuilder();
        for (int i = Math.max(0, lines.size() - count); i < lines.size(); i++)
        {
            text.append("  ").append(lines.get(i).text()).append('\n');
        }
        return text.toString();
    }
}
