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
        assertTrue(out().startsWith("Usage: bin/spate driver [options]"), out());
        for (final String option : List.of("--dir", "--threading", "--idle", "--term-length", "--ipc-term-length",
            "Exit status: 0 "))
        {
            assertTrue(out().contains(option), option);
        }
        assertEquals("", err());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "--bogus | unknown option '--bogus' (see --help)",
        "extra | unknown option 'extra' (see --help)",
        "--dir | --dir needs a value (see --help)",
        "--dir= | --dir needs a value (see --help)",
        "--idle busy --idle noop | --idle is given twice (see --help)",
    })
    void badOptionsPrintOneLinePointingToHelpAndExitTwo(final String commandLine, final String expected)
    {
        final int status = DriverMain.run(commandLine.split(" "), out, err, (driver) -> fail("must not launch"));

        assertEquals(DriverMain.EXIT_USAGE, status);
        assertEquals("", out());
        assertEquals("driver: " + expected, err().strip());
    }

    /**
     * A bad value: one line naming the flag and ending with the value, exit 2.
     */
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "--threading turbo | --threading must be dedicated, shared or shared_network: turbo",
        "--threading=invoker | --threading must be dedicated, shared or shared_network: invoker",
        "--idle spin | --idle must be one of backoff, sleeping, yielding, busy, noop: spin",
        "--term-length 1000 | --term-length must be a power of two 65536..1073741824: 1000",
        "--term-length 96k | --term-length must be a power of two 65536..1073741824: 98304",
        "--ipc-term-length 4x | --ipc-term-length needs a size in bytes, optionally with a suffix k, m or g (4m): 4x",
        "--ipc-term-length=2g | --ipc-term-length must be a power of two 65536..1073741824: 2147483648",
        "--ipc-term-length -1 | --ipc-term-length needs a size in bytes, optionally with a suffix k, m or g (4m): -1",
    })
    void aBadValueNamesTheFlagAndExitsTwo(final String commandLine, final String expected)
    {
        final int status = DriverMain.run(commandLine.split(" "), out, err, (driver) -> fail("must not launch"));

        assertEquals(DriverMain.EXIT_USAGE, status);
        assertEquals("", out());
        assertEquals("driver: " + expected, err().strip());
    }

    @Test
    void aBadSystemPropertyIsNamedAndExitsTwo()
    {
        System.setProperty(DriverConfiguration.TERM_LENGTH_PROP, "5");
        try
        {
            final int status = DriverMain.run(new String[0], out, err, (driver) -> fail("must not launch"));

            assertEquals(DriverMain.EXIT_USAGE, status);
            assertEquals(1, err().lines().count(), err());
            assertTrue(err().startsWith("driver: system property " + DriverConfiguration.TERM_LENGTH_PROP + ": 5 "),
                err());
        }
        finally
        {
            System.clearProperty(DriverConfiguration.TERM_LENGTH_PROP);
        }
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
        assertTrue(out().contains("driver: running in " + dir), out());
        assertTrue(out().strip().endsWith("driver: stopped"), out());
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
            assertTrue(err().startsWith("driver: error: cannot start: the Aeron directory " +
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
            while (lines.stream().noneMatch((line) -> line.startsWith("driver: running in ")))
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
            assertEquals("driver: stopped", lines.getLast(), String.join("\n", lines));
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
