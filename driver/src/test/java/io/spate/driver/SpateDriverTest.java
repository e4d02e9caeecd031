package io.spate.driver;

import io.aeron.CncFileDescriptor;
import io.aeron.driver.ThreadingMode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

import static io.spate.driver.DriverTesting.SMALL_TERM_LENGTH;
import static io.spate.driver.DriverTesting.assertIpcRoundTrip;
import static io.spate.driver.DriverTesting.testConfiguration;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SpateDriverTest
{
    @TempDir
    Path tempDir;

    @Test
    void embeddedDriverServesAnIpcRoundTripAndLeavesNothingBehind()
    {
        final DriverConfiguration configuration = testConfiguration(tempDir);
        final SpateDriver driver = SpateDriver.launchEmbedded(configuration);
        final Path directory = Path.of(driver.aeronDirectoryName());
        try
        {
            assertTrue(driver.isEmbedded());
            assertTrue(directory.isAbsolute());
            assertTrue(Files.isRegularFile(directory.resolve(CncFileDescriptor.CNC_FILE)));
            assertEquals(SMALL_TERM_LENGTH, assertIpcRoundTrip(driver.aeronDirectoryName()));
        }
        finally
        {
            driver.close();
        }

        assertTrue(driver.isClosed());
        assertFalse(Files.exists(directory), directory + " still exists");
        driver.close();
        assertFalse(Files.exists(directory));
    }

    @ParameterizedTest
    @EnumSource(value = ThreadingMode.class, names = {"DEDICATED", "SHARED_NETWORK"})
    void otherThreadingModesWork(final ThreadingMode threadingMode)
    {
        final Path directory;
        try (SpateDriver driver = SpateDriver.launchEmbedded(
            testConfiguration(tempDir).threadingMode(threadingMode).idleStrategy("sleeping")))
        {
            directory = Path.of(driver.aeronDirectoryName());
            assertIpcRoundTrip(driver.aeronDirectoryName());
        }
        assertFalse(Files.exists(directory));
    }

    @Test
    void closeRemovesWhateverIsLeftInTheDirectory() throws IOException
    {
        final SpateDriver driver = SpateDriver.launchEmbedded(testConfiguration(tempDir));
        final Path directory = Path.of(driver.aeronDirectoryName());
        Files.writeString(directory.resolve("stray.txt"), "left by someone");
        Files.createDirectories(directory.resolve("publications/nested"));
        Files.writeString(directory.resolve("publications/nested/stray.log"), "more");

        driver.close();

        assertFalse(Files.exists(directory), directory + " still exists");
    }

    @Test
    void refusesASecondDriverOnALiveDirectory()
    {
        try (SpateDriver first = SpateDriver.launchEmbedded(testConfiguration(tempDir)))
        {
            final String directory = first.aeronDirectoryName();

            final IllegalStateException embedded = assertThrows(IllegalStateException.class,
                () -> SpateDriver.launchEmbedded(testConfiguration(tempDir).aeronDirectoryName(directory)));
            assertTrue(embedded.getMessage().startsWith(
                "the Aeron directory " + directory + " is in use by a live media driver"), embedded.getMessage());
            assertTrue(embedded.getMessage().contains("stop that driver"), embedded.getMessage());
            assertFalse(embedded.getMessage().contains("\n"));

            final IllegalStateException standalone = assertThrows(IllegalStateException.class,
                () -> SpateDriver.launchStandalone(testConfiguration(tempDir).aeronDirectoryName(directory)));
            assertTrue(standalone.getMessage().contains("is in use by a live media driver"), standalone.getMessage());

            assertTrue(Files.isRegularFile(Path.of(directory, CncFileDescriptor.CNC_FILE)));
            assertIpcRoundTrip(directory);
        }
    }

    @Test
    void standaloneKeepsItsDirectoryAndTheNextDriverReplacesIt()
    {
        final DriverConfiguration standaloneConfiguration = testConfiguration(tempDir);
        final Path directory;
        try (SpateDriver standalone = SpateDriver.launchStandalone(standaloneConfiguration))
        {
            assertFalse(standalone.isEmbedded());
            directory = Path.of(standalone.aeronDirectoryName());
            assertIpcRoundTrip(standalone.aeronDirectoryName());
        }
        assertTrue(Files.isRegularFile(directory.resolve(CncFileDescriptor.CNC_FILE)), "standalone keeps its files");

        try (SpateDriver again = SpateDriver.launchStandalone(
            testConfiguration(tempDir).aeronDirectoryName(directory.toString())))
        {
            assertIpcRoundTrip(again.aeronDirectoryName());
        }
        try (SpateDriver embedded = SpateDriver.launchEmbedded(
            testConfiguration(tempDir).aeronDirectoryName(directory.toString())))
        {
            assertIpcRoundTrip(embedded.aeronDirectoryName());
        }
        assertFalse(Files.exists(directory));
    }

    @Test
    void refusesADirectoryThatIsNotAeron() throws IOException
    {
        final Path directory = Files.createDirectories(tempDir.resolve("precious"));
        final Path file = Files.writeString(directory.resolve("notes.txt"), "keep me");

        final IllegalStateException ex = assertThrows(IllegalStateException.class,
            () -> SpateDriver.launchEmbedded(testConfiguration(tempDir).aeronDirectoryName(directory.toString())));

        assertTrue(ex.getMessage().startsWith("the directory " + directory + " is not an Aeron directory " +
            "(it holds notes.txt)"), ex.getMessage());
        assertTrue(Files.exists(file), "a refused launch must not touch the directory");
    }

    @Test
    void refusesAPathThatIsAFile() throws IOException
    {
        final Path file = Files.writeString(tempDir.resolve("plain-file"), "x");

        final IllegalStateException ex = assertThrows(IllegalStateException.class,
            () -> SpateDriver.launchEmbedded(testConfiguration(tempDir).aeronDirectoryName(file.toString())));

        assertTrue(ex.getMessage().contains("exists and is not a directory"), ex.getMessage());
        assertTrue(Files.exists(file));
    }

    @Test
    void refusesACncFileNoDriverInitialised() throws IOException
    {
        final Path directory = Files.createDirectories(tempDir.resolve("half-started"));
        try (RandomAccessFile cnc = new RandomAccessFile(directory.resolve(CncFileDescriptor.CNC_FILE).toFile(), "rw"))
        {
            cnc.setLength(64 * 1024);
        }

        final IllegalStateException ex = assertThrows(IllegalStateException.class,
            () -> SpateDriver.launchEmbedded(testConfiguration(tempDir)
                .aeronDirectoryName(directory.toString())
                .activeDriverCheckTimeoutMs(DriverConfiguration.MIN_ACTIVE_DRIVER_CHECK_TIMEOUT_MS)));

        assertTrue(ex.getMessage().contains("holds a CnC file no media driver finished initialising"), ex.getMessage());
        assertTrue(Files.exists(directory.resolve(CncFileDescriptor.CNC_FILE)));
    }

    @Test
    void invalidConfigurationIsRefusedBeforeAnythingIsCreated()
    {
        final DriverConfiguration configuration = testConfiguration(tempDir).ipcTermBufferLength(12345);

        assertThrows(IllegalArgumentException.class, () -> SpateDriver.launchEmbedded(configuration));

        assertFalse(Files.exists(Path.of(configuration.aeronDirectoryName())));
    }
}
