package io.spate.perf;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs {@code bin/spate produce} (io.spate.cli.ProduceMain) as a separate JVM, as a producer
 * application would be, and reads its summary line.
 */
final class ProducerProcess
{
    private ProducerProcess()
    {
    }

    /**
     * @param argfile  the tools' JVM argfile (flags and class path).
     * @param args     ProduceMain arguments.
     * @param timeoutS how long the producer may take.
     * @return the key=value pairs of its {@code produce: records=} summary line.
     */
    static Map<String, String> run(final Path argfile, final List<String> args, final long timeoutS)
    {
        final List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        command.add("@" + argfile);
        command.add("io.spate.cli.ProduceMain");
        command.addAll(args);
        final Process process;
        try
        {
            process = new ProcessBuilder(command).redirectErrorStream(true).start();
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("cannot start the producer: " + ex, ex);
        }
        final Map<String, String> summary = new HashMap<>();
        final StringBuilder output = new StringBuilder();
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)))
        {
            String line;
            while ((line = reader.readLine()) != null)
            {
                output.append(line).append('\n');
                if (line.startsWith("produce: records="))
                {
                    for (final String pair : line.substring("produce: ".length()).split(" "))
                    {
                        final int equals = pair.indexOf('=');
                        if (equals > 0)
                        {
                            summary.put(pair.substring(0, equals), pair.substring(equals + 1));
                        }
                    }
                }
            }
            if (!process.waitFor(timeoutS, TimeUnit.SECONDS))
            {
                process.destroyForcibly();
                throw new IllegalStateException("the producer did not finish in " + timeoutS + " s:\n" + output);
            }
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("reading the producer's output: " + ex, ex);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
            throw new IllegalStateException(ex);
        }
        if (process.exitValue() != 0 || summary.isEmpty())
        {
            throw new IllegalStateException("the producer exited " + process.exitValue() + ":\n" + output);
        }
        return summary;
    }

    static double number(final Map<String, String> summary, final String key)
    {
        final String value = summary.get(key);
        if (null == value)
        {
            throw new IllegalStateException("the producer's summary has no " + key + ": " + summary);
        }
        return Double.parseDouble(value.replace(",", ""));
    }
}
