package io.spate.driver;

import io.aeron.Aeron;
import io.aeron.driver.ThreadingMode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

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
            "--data DIR", "--sync none|data", "Exit status: 0 "))
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
        "--sync fast | --sync must be none or data: fast",
        "--sync=DATA2 | --sync must be none or data: DATA2",
        "--sync data | --sync data needs --data DIR: nothing is recorded without an archive",
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
        assertNull(configuration.archiveDir());
        assertEquals(SyncLevel.NONE, configuration.syncLevel());
        assertNull(DriverMain.parse(new String[]{"-h"}));

        final DriverConfiguration archived = DriverMain.parse(new String[]{"--data", "data-dir", "--sync=data"});
        assertEquals(Path.of("data-dir", "archive").toAbsolutePath().toFile(), archived.archiveDir());
        assertEquals(SyncLevel.DATA, archived.syncLevel());
        assertEquals(SyncLevel.NONE, DriverMain.parse(new String[]{"--sync", "none"}).syncLevel());
    }

    @Test
    void runsAStandaloneDriverHostingTheArchive()
    {
        final String dir = uniqueDir(tempDir);
        final Path archiveDir = tempDir.resolve("data").resolve("archive");
        final int status = DriverMain.run(
            new String[]{"--dir", dir, "--ipc-term-length", "64k", "--data", tempDir.resolve("data").toString(),
                "--sync", "data"}, out, err,
            (driver) ->
            {
                assertTrue(Files.isDirectory(archiveDir));
                try (Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(dir)))
                {
                    assertEquals(SyncLevel.DATA, ArchiveSettings.findSyncLevel(aeron.countersReader()));
                }
            });

        assertEquals(DriverMain.EXIT_OK, status, err());
        assertEquals("", err());
        assertTrue(out().contains("driver: archive in " + archiveDir + ", sync=data: an ack survives power loss " +
            "(fdatasync before the recording position moves)" + System.lineSeparator() + "driver: running in " + dir),
            out());
        assertTrue(out().strip().endsWith("driver: stopped"), out());
    }

    @Test
    void theArchiveLineSaysWhatSyncNonePromises()
    {
        final DriverConfiguration configuration = DriverMain.parse(new String[]{"--data", "/var/lib/spate"});
        assertEquals("archive in /var/lib/spate/archive, sync=none: an ack survives SIGKILL of any Spate process " +
            "(written to the OS), not power loss", DriverMain.archiveLine(configuration));
    }

    @Test
    void anArchiveDirectoryThatIsAFileIsAOneLineFailure() throws IOException
    {
        final Path data = Files.createDirectories(tempDir.resolve("data"));
        Files.writeString(data.resolve("archive"), "not a directory");

        final int status = DriverMain.run(new String[]{"--dir", uniqueDir(tempDir), "--data", data.toString()}, out,
            err, (driver) -> fail("must not launch"));

        assertEquals(DriverMain.EXIT_FAILURE, status);
        assertEquals("driver: error: cannot start: the archive directory " + data.resolve("archive") + " exists and " +
            "is not a directory; choose another data directory (--data or spate.driver.data.dir)", err().strip());
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
        try (DriverTesting.DriverProcess driver = new DriverTesting.DriverProcess(
            List.of(), "--dir", dir, "--ipc-term-length", "64k", "--idle", "sleeping"))
        {
            driver.awaitRunning();

            assertEquals(64 * 1024, assertIpcRoundTrip(dir));

            // SIGTERM. Not Process.destroy(): that also closes our end of the child's stdout.
            assertTrue(driver.process.toHandle().destroy());
            driver.awaitExit("SIGTERM");

            assertEquals(0, driver.process.exitValue(), driver.output());
            assertEquals(1, driver.lines.stream().filter((line) -> line.contains("DriverConfiguration{")).count(),
                driver.output());
            assertEquals("driver: stopped", driver.lines.getLast(), driver.output());
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
