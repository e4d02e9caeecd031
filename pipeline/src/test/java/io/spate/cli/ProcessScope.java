package io.spate.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The processes and directories of one test: starts the Spate commands as separate JVMs and, on
 * {@link #close()}, kills whatever still runs (SIGKILL) and deletes the directories.
 */
final class ProcessScope implements AutoCloseable
{
    static final Duration START_TIMEOUT = Duration.ofSeconds(30);
    static final Duration EXIT_TIMEOUT = Duration.ofSeconds(60);

    final String schema = JvmProcess.exampleSchema().toString();
    private final List<JvmProcess> processes = new ArrayList<>();
    private final List<Path> directories = new ArrayList<>();

    /**
     * @return a fresh, not yet existing Aeron directory (inside a temporary directory deleted on close).
     */
    String aeronDirectory(final String prefix) throws IOException
    {
        final Path parent = JvmProcess.temporaryDirectory(prefix);
        directories.add(parent);
        return parent.resolve("aeron").toString();
    }

    Path directory(final String prefix) throws IOException
    {
        final Path directory = JvmProcess.temporaryDirectory(prefix);
        directories.add(directory);
        return directory;
    }

    JvmProcess start(final String name, final String mainClass, final String... args)
    {
        final JvmProcess process = JvmProcess.start(name, mainClass, Arrays.asList(args));
        processes.add(process);
        return process;
    }

    /**
     * Starts a main with its own JVM flags and class path (not the project's), killed on close like the others.
     */
    JvmProcess start(final String name, final List<String> jvmFlags, final String classPath, final String mainClass,
        final String... args)
    {
        final JvmProcess process = JvmProcess.start(name, jvmFlags, classPath, mainClass, Arrays.asList(args));
        processes.add(process);
        return process;
    }

    /**
     * Starts {@code spate driver} and waits until it runs.
     */
    JvmProcess driver(final String aeronDirectory) throws InterruptedException
    {
        final JvmProcess driver = start("driver", "io.spate.driver.DriverMain", "--dir", aeronDirectory,
            "--threading", "shared", "--idle", "backoff");
        driver.awaitLine((line) -> line.contains("running in"), START_TIMEOUT);
        return driver;
    }

    /**
     * Starts {@code spate pipeline} (the arguments after --schema) and waits for {@code pipeline: ready}.
     */
    JvmProcess pipeline(final String... args) throws InterruptedException
    {
        final JvmProcess pipeline = startPipeline(args);
        pipeline.awaitLine("pipeline: ready"::equals, START_TIMEOUT);
        return pipeline;
    }

    JvmProcess startPipeline(final String... args)
    {
        final List<String> all = new ArrayList<>(List.of("--schema", schema));
        all.addAll(Arrays.asList(args));
        return start("pipeline", "io.spate.cli.PipelineMain", all.toArray(new String[0]));
    }

    /**
     * Starts {@code spate produce} (the arguments after --schema).
     */
    JvmProcess produce(final String name, final String... args)
    {
        final List<String> all = new ArrayList<>(List.of("--schema", schema));
        all.addAll(Arrays.asList(args));
        return start(name, "io.spate.cli.ProduceMain", all.toArray(new String[0]));
    }

    /**
     * Runs {@code spate count TYPE} against the pipeline.
     */
    long count(final String aeronDirectory, final int streamId, final String type) throws InterruptedException
    {
        final JvmProcess count = start("count-" + type, "io.spate.cli.ReadMain", "count", type, "--schema", schema,
            "--dir", aeronDirectory, "--stream", Integer.toString(streamId));
        final int status = count.awaitExit(EXIT_TIMEOUT);
        if (status != 0)
        {
            throw new AssertionError("count " + type + " exited " + status + ":\n" + count.output());
        }
        final List<String> lines = count.lines();
        return Long.parseLong(lines.get(lines.size() - 1).trim());
    }

    public void close()
    {
        for (int i = processes.size() - 1; i >= 0; i--)
        {
            processes.get(i).close();
        }
        for (final Path directory : directories)
        {
            JvmProcess.deleteRecursively(directory);
        }
    }
}
