package io.spate.driver;

import io.aeron.CncFileDescriptor;
import io.aeron.CommonContext;
import org.agrona.IoUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.spate.driver.DriverTesting.assertIpcRoundTrip;
import static io.spate.driver.DriverTesting.testConfiguration;
import static io.spate.driver.DriverTesting.uniqueDir;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A driver directory whose driver's process is gone is taken over at once; one whose process lives is refused as
 * before. The decision is made on real process ids (a process that ran and exited, this JVM, its parent) and real
 * CnC files: copies of a running driver's, whose heartbeat is as fresh as a driver's killed a moment ago, naming
 * either a dead process or a live one; and, end to end, a driver (with its archive) SIGKILLed in its own JVM and
 * started again on the same directories.
 */
class DeadDriverTakeoverTest
{
    @TempDir
    Path tempDir;

    @Test
    void aProcessThatExitedIsDeadAndALiveOneIsNot() throws Exception
    {
        final long exitedPid = exitedProcessPid();
        assertTrue(DeadDriverTakeover.isDead(exitedPid), "pid " + exitedPid + " ran and exited");
        assertFalse(DeadDriverTakeover.isDead(ProcessHandle.current().pid()), "this JVM");
        assertFalse(DeadDriverTakeover.isDead(ProcessHandle.current().parent().orElseThrow().pid()), "its parent");
        assertFalse(DeadDriverTakeover.isDead(0), "no process named: nothing known");
        assertFalse(DeadDriverTakeover.isDead(-1), "no process named: nothing known");
    }

    @Test
    void theCncFileOfADeadDriverIsTakenOverAtOnceAndTheDriverStarts() throws Exception
    {
        final long deadPid = exitedProcessPid();
        final Path directory = Path.of(uniqueDir(tempDir));
        try (SpateDriver running = SpateDriver.launchEmbedded(testConfiguration(tempDir)))
        {
            copyCncFile(Path.of(running.aeronDirectoryName()), directory, deadPid);
        }
        assertTrue(CommonContext.isDriverActive(directory.toFile(), 20_000, (message) -> {}),
            "the heartbeat is as young as a driver's killed a moment ago");

        final String line = DeadDriverTakeover.takeOverIfDead(directory, 20_000);
        assertTrue(line.startsWith("the media driver that used " + directory + " (pid " + deadPid + ") is gone: " +
            "took its directory over at once (its heartbeat was "), line);
        assertFalse(CommonContext.isDriverActive(directory.toFile(), 20_000, (message) -> {}),
            "its heartbeat reads as a clean stop's");
        assertNull(DeadDriverTakeover.takeOverIfDead(directory, 20_000), "nothing more to take over");

        // A standalone driver (Aeron's own 20 s check, no deletion on start) starts on it.
        try (SpateDriver again = SpateDriver.launchStandalone(
            testConfiguration(tempDir).aeronDirectoryName(directory.toString())))
        {
            assertIpcRoundTrip(again.aeronDirectoryName());
        }
    }

    @Test
    void theCncFileOfALiveDriverIsRefusedAsBefore() throws Exception
    {
        final Path directory = Path.of(uniqueDir(tempDir));
        try (SpateDriver running = SpateDriver.launchEmbedded(testConfiguration(tempDir)))
        {
            copyCncFile(Path.of(running.aeronDirectoryName()), directory, ProcessHandle.current().pid());
        }
        assertNull(DeadDriverTakeover.takeOverIfDead(directory, 20_000), "its process runs: not ours to take");
        final IllegalStateException ex = assertThrows(IllegalStateException.class, () -> SpateDriver.launchStandalone(
            testConfiguration(tempDir).aeronDirectoryName(directory.toString())));
        assertTrue(ex.getMessage().startsWith("the Aeron directory " + directory + " is in use by a live media driver"),
            ex.getMessage());
        assertTrue(CommonContext.isDriverActive(directory.toFile(), 20_000, (message) -> {}), "left as it was");
    }

    @Test
    void aCncFileADeadDriverNeverFinishedIsRemoved() throws Exception
    {
        final long deadPid = exitedProcessPid();
        final Path directory = Files.createDirectories(Path.of(uniqueDir(tempDir)));
        final Path cncFile = directory.resolve(CncFileDescriptor.CNC_FILE);
        try (RandomAccessFile file = new RandomAccessFile(cncFile.toFile(), "rw"))
        {
            file.setLength(64 * 1024);
        }
        patchPid(cncFile, deadPid); // what fillMetaData writes before the version that says the file is ready

        final String line = DeadDriverTakeover.takeOverIfDead(directory, 20_000);
        assertEquals("the media driver that used " + directory + " (pid " + deadPid + ") died starting: removed its " +
            "unfinished cnc.dat", line);
        assertFalse(Files.exists(cncFile));
        try (SpateDriver again = SpateDriver.launchEmbedded(
            testConfiguration(tempDir).aeronDirectoryName(directory.toString())))
        {
            assertIpcRoundTrip(again.aeronDirectoryName());
        }
    }

    /**
     * A driver and its archive SIGKILLed in their own JVM: a new one on the same directories starts at once, each
     * takeover said in one line, well inside the 20 s Aeron would otherwise wait (the wait for the start is 15 s).
     */
    @Test
    void aDriverStartedRightAfterASigkillTakesOverItsDirectories() throws Exception
    {
        final String dir = uniqueDir(tempDir);
        final Path data = tempDir.resolve("data");
        final List<String> args = List.of("--dir", dir, "--data", data.toString(), "--ipc-term-length", "64k",
            "--idle", "sleeping");
        final long killedPid;
        try (DriverTesting.DriverProcess driver = new DriverTesting.DriverProcess(List.of(), args.toArray(String[]::new)))
        {
            driver.awaitRunning();
            assertIpcRoundTrip(dir);
            killedPid = driver.process.pid();
            driver.process.destroyForcibly(); // SIGKILL: CnC and mark file keep a fresh heartbeat
            driver.awaitExit("SIGKILL");
        }
        assertTrue(CommonContext.isDriverActive(Path.of(dir).toFile(), 20_000, (message) -> {}),
            "the killed driver's heartbeat is still young");

        try (DriverTesting.DriverProcess driver = new DriverTesting.DriverProcess(List.of(), args.toArray(String[]::new)))
        {
            driver.awaitRunning();
            assertTrue(driver.lines.stream().anyMatch((line) -> line.startsWith("driver: the media driver that used " +
                dir + " (pid " + killedPid + ") is gone: took its directory over at once")), driver.output());
            assertTrue(driver.lines.contains("driver: the archive that used " + data.resolve("archive") + " (pid " +
                killedPid + ") is gone: took its archive-mark.dat over at once"), driver.output());
            assertIpcRoundTrip(dir);
            assertTrue(driver.process.toHandle().destroy());
            driver.awaitExit("SIGTERM");
            assertEquals(0, driver.process.exitValue(), driver.output());
        }
    }

    /**
     * @return the id of a process that ran and has exited (and been reaped).
     */
    private static long exitedProcessPid() throws Exception
    {
        final Process process = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-version").redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertTrue(process.waitFor(30, TimeUnit.SECONDS), "java -version ends");
        final long pid = process.pid();
        assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "gone: " + pid);
        return pid;
    }

    /**
     * Copies a running driver's CnC file (its heartbeat fresh) into {@code directory}, naming process {@code pid}.
     */
    private static void copyCncFile(final Path runningDirectory, final Path directory, final long pid)
        throws IOException
    {
        Files.createDirectories(directory);
        final Path cncFile = directory.resolve(CncFileDescriptor.CNC_FILE);
        Files.copy(runningDirectory.resolve(CncFileDescriptor.CNC_FILE), cncFile);
        patchPid(cncFile, pid);
    }

    private static void patchPid(final Path cncFile, final long pid) throws IOException
    {
        final MappedByteBuffer mapped;
        try (FileChannel channel = FileChannel.open(cncFile, java.nio.file.StandardOpenOption.READ,
            java.nio.file.StandardOpenOption.WRITE))
        {
            mapped = channel.map(FileChannel.MapMode.READ_WRITE, 0, CncFileDescriptor.END_OF_METADATA_OFFSET);
        }
        try
        {
            new UnsafeBuffer(mapped).putLong(CncFileDescriptor.pidOffset(0), pid);
            mapped.force();
        }
        finally
        {
            IoUtil.unmap(mapped);
        }
    }
}
