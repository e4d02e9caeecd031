package io.spate.driver;

import io.aeron.driver.ThreadingMode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static io.spate.driver.DriverTesting.assertIpcRoundTrip;
import static io.spate.driver.DriverTesting.uniqueDir;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class DriverMainTest
{
    @TempDir
    Path tempDir;

    private final ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
    private final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(outBytes, true, StandardCharsets.UTF_8);
    private final PrintStream err = new PrintStream(errBytes, true, StandardCharsets.UTF_8);

    @Test
    void helpPrintsUsageAndExitsZero()
    {
        assertEquals(DriverMain.EXIT_OK, DriverMain.run(new String[]{"--dir", "x", "--help"}, out, err,
            (driver) -> fail("no driver for --help")));
        assertTrue(out().startsWith("Usage: spate driver [options]"), out());
        for (final String option : List.of("--dir", "--threading", "--idle", "--term-length", "--ipc-term-length"))
        {
            assertTrue(out().contains(option), option);
        }
        assertEquals("", err());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "--bogus | unknown option '--bogus'",
        "extra | unknown option 'extra'",
        "--dir | --dir needs a value",
        "--dir= | --dir needs a value",
        "--threading turbo | --threading: unknown threading mode 'turbo'",
        "--idle spin | --idle: unknown idle strategy 'spin'; valid names: backoff, sleeping, yielding, busy, noop",
        "--term-length 1000 | --term-length: 1000 is not a valid term length",
        "--ipc-term-length 4x | --ipc-term-length: '4x' is not a size",
        "--ipc-term-length=2g | --ipc-term-length: 2147483648 is not a valid term length",
    })
    void badOptionsPrintOneLineAndExitTwo(final String commandLine, final String expected)
    {
        final int status = DriverMain.run(commandLine.split(" "), out, err, (driver) -> fail("must not launch"));

        assertEquals(DriverMain.EXIT_USAGE, status);
        assertEquals("", out());
        assertEquals(1, err().lines().count(), err());
        assertTrue(err().startsWith("spate driver: " + expected), err());
        assertTrue(err().strip().endsWith("(see --help)"), err());
    }

    @Test
    void parsesEveryOption()
    {
        final String dir = uniqueDir(tempDir);
        final DriverConfiguration configuration = DriverMain.parse(new String[]{
            "--dir", dir, "--threading", "dedicated", "--idle=sleeping", "--term-length", "128k",
            "--ipc-term-length=256k"});

        assertEquals(dir, configuration.aeronDirectoryName());
        assertFalse(configuration.embedded());
        assertEquals(ThreadingMode.DEDICATED, configuration.threadingMode());
        assertEquals("sleeping", configuration.idleStrategy());
        assertEquals(128 * 1024, configuration.publicationTermBufferLength());
        assertEquals(256 * 1024, configuration.ipcTermBufferLength());
        assertNull(DriverMain.parse(new String[]{"-h"}));
    }

    @Test
    void runsAStandaloneDriverUntilToldToStop()
    {
        final String dir = uniqueDir(tempDir);
        final int status = DriverMain.run(
            new String[]{"--dir", dir, "--term-length", "64k", "--ipc-term-length", "64k"}, out, err,
            (driver) ->
            {
                assertEquals(dir, driver.aeronDirectoryName());
                assertFalse(driver.isEmbedded());
                assertEquals(64 * 1024, assertIpcRoundTrip(driver.aeronDirectoryName()));
            });

        assertEquals(DriverMain.EXIT_OK, status, err());
        assertEquals("", err());
        assertEquals(1, out().lines().filter((line) -> line.contains("DriverConfiguration{")).count(), out());
        assertTrue(out().contains("spate driver: running in " + dir), out());
        assertTrue(out().strip().endsWith("spate driver: stopped"), out());
        assertTrue(Files.exists(Path.of(dir, "cnc.dat")), "a standalone driver keeps its directory by default");
    }

    @Test
    void aDirectoryInUseIsAOneLineFailure()
    {
        try (SpateDriver embedded = SpateDriver.launchEmbedded(DriverTesting.testConfiguration(tempDir)))
        {
            final int status = DriverMain.run(new String[]{"--dir", embedded.aeronDirectoryName()}, out, err,
                (driver) -> fail("must not launch"));

            assertEquals(DriverMain.EXIT_FAILURE, status);
            assertEquals(1, err().lines().count(), err());
            assertTrue(err().startsWith("spate driver: cannot start: the Aeron directory " +
                embedded.aeronDirectoryName() + " is in use by a live media driver"), err());
        }
    }

    @Test
    void processStopsCleanlyOnSigterm() throws Exception
    {
        final String dir = uniqueDir(tempDir);
        final List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (final String argument : ManagementFactory.getRuntimeMXBean().getInputArguments())
        {
            if (!argument.startsWith("-javaagent") && !argument.startsWith("-agentlib") &&
                !argument.startsWith("-Xrunjdwp"))
            {
                command.add(argument);
            }
        }
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), DriverMain.class.getName(),
            "--dir", dir, "--ipc-term-length", "64k", "--idle", "sleeping"));

        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        final List<String> lines = new CopyOnWriteArrayList<>();
        final Thread reader = Thread.ofPlatform().daemon().start(() ->
        {
            try (BufferedReader input = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)))
            {
                String line;
                while (null != (line = input.readLine()))
                {
                    lines.add(line);
                }
            }
            catch (final IOException ignore)
            {
                // The process ended.
            }
        });

        try
        {
            final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (lines.stream().noneMatch((line) -> line.startsWith("spate driver: running in ")))
            {
                if (!process.isAlive() || System.nanoTime() > deadlineNs)
                {
                    fail("the driver process did not start: " + lines);
                }
                Thread.sleep(10);
            }

            assertEquals(64 * 1024, assertIpcRoundTrip(dir));

            // SIGTERM. Not Process.destroy(): that also closes our end of the child's stdout.
            assertTrue(process.toHandle().destroy());
            assertTrue(process.waitFor(15, TimeUnit.SECONDS), "the driver did not stop on SIGTERM: " + lines);
            reader.join(5_000);

            assertEquals(0, process.exitValue(), String.join("\n", lines));
            assertEquals(1, lines.stream().filter((line) -> line.contains("DriverConfiguration{")).count(),
                String.join("\n", lines));
            assertEquals("spate driver: stopped", lines.getLast(), String.join("\n", lines));
        }
        finally
        {
            process.destroyForcibly();
        }
    }

    private String out()
    {
        return outBytes.toString(StandardCharsets.UTF_8);
    }

    private String err()
    {
        return errBytes.toString(StandardCharsets.UTF_8);
    }
}
