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
 * application would be, and reads its summary line; or any other main class of the tools' class path
 * that prints one such {@code name: key=value ...} line (the echo sender).
 */
final class ProducerProcess
{
    static final String PRODUCE_MAIN = "io.spate.cli.ProduceMain";
    static final String PRODUCE_SUMMARY = "produce: records=";

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
        return run(argfile, List.of(), args, timeoutS);
    }

    /**
     * @param argfile  the tools' JVM argfile (flags and class path).
     * @param jvmArgs  more JVM options, after the argfile's (e.g. {@code -Dspate.profile=NAME}).
     * @param args     ProduceMain arguments.
     * @param timeoutS how long the producer may take.
     * @return the key=value pairs of its {@code produce: records=} summary line.
     */
    static Map<String, String> run(
        final Path argfile, final List<String> jvmArgs, final List<String> args, final long timeoutS)
    {
        return runMain(argfile, jvmArgs, PRODUCE_MAIN, args, PRODUCE_SUMMARY, timeoutS);
    }

    /**
     * @return the command line of a tools JVM: this JVM's java, the tools' argfile, the flags, the main.
     */
    static List<String> javaCommand(
        final Path argfile, final List<String> jvmArgs, final String mainClass, final List<String> args)
    {
        final List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        command.add("@" + argfile);
        command.addAll(jvmArgs);
        command.add(mainClass);
        command.addAll(args);
        return command;
    }

    /**
     * @param argfile       the tools' JVM argfile (flags and class path).
     * @param jvmArgs       more JVM options, after the argfile's.
     * @param mainClass     the class to run.
     * @param args          its arguments.
     * @param summaryPrefix how its summary line starts, e.g. {@code echo: messages=}.
     * @param timeoutS      how long it may take.
     * @return the key=value pairs of the summary line (after its {@code name: }).
     */
    static Map<String, String> runMain(
        final Path argfile,
        final List<String> jvmArgs,
        final String mainClass,
        final List<String> args,
        final String summaryPrefix,
        final long timeoutS)
    {
        final String name = mainClass.substring(mainClass.lastIndexOf('.') + 1);
        final List<String> command = javaCommand(argfile, jvmArgs, mainClass, args);
        final Process process;
        try
        {
            process = new ProcessBuilder(command).redirectErrorStream(true).start();
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("cannot start " + name + ": " + ex, ex);
        }
        final Map<String, String> summary = new HashMap<>();
        final StringBuilder output = new StringBuilder();
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)))
        {
            String line;
            while ((line = reader.readLine()) != null)
            {
                output.append(line).append('\n');
                if (line.startsWith(summaryPrefix))
                {
                    for (final String pair : line.substring(line.indexOf(": ") + 2).split(" "))
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
                throw new IllegalStateException(name + " did not finish in " + timeoutS + " s:\n" + output);
            }
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("reading the output of " + name + ": " + ex, ex);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
            throw new IllegalStateException(ex);
        }
        if (process.exitValue() != 0 || summary.isEmpty())
        {
            throw new IllegalStateException(name + " exited " + process.exitValue() + ":\n" + output);
        }
        return summary;
    }

    static double number(final Map<String, String> summary, final String key)
    {
        final String value = summary.get(key);
        if (null == value)
        {
            throw new IllegalStateException("the summary has no " + key + ": " + summary);
        }
        return Double.parseDouble(value.replace(",", ""));
    }

    /**
     * @return the key's number, or NaN when the summary has no such key (an older producer).
     */
    static double optionalNumber(final Map<String, String> summary, final String key)
    {
        return summary.containsKey(key) ? number(summary, key) : Double.NaN;
    }
}
