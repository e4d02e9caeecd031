package io.spate.driver;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.archive.ArchiveMarkFile;
import io.aeron.archive.ArchiveThreadingMode;
import io.aeron.archive.client.AeronArchive;
import io.aeron.archive.status.RecordingPos;
import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static io.spate.driver.DriverTesting.addRecordedPublication;
import static io.spate.driver.DriverTesting.assertIpcRoundTrip;
import static io.spate.driver.DriverTesting.awaitCounter;
import static io.spate.driver.DriverTesting.awaitRecordingCounter;
import static io.spate.driver.DriverTesting.offerMessages;
import static io.spate.driver.DriverTesting.testConfiguration;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

class SpateDriverArchiveTest
{
    private static final int STREAM_ID = 2001;

    @TempDir
    Path tempDir;

    @ParameterizedTest(name = "sync {0}, archive on the driver's thread {1}")
    @CsvSource({ "NONE, false", "DATA, false", "NONE, true", "DATA, true" })
    void recordsAnIpcPublicationAndPublishesItsSyncLevel(final SyncLevel syncLevel, final boolean archiveOnDriverThread)
        throws IOException
    {
        final Path data = tempDir.resolve("data");
        final DriverConfiguration configuration = testConfiguration(tempDir)
            .dataDir(data.toString())
            .syncLevel(syncLevel)
            .archiveSegmentFileLength(256 * 1024)
            .archiveOnDriverThread(archiveOnDriverThread);
        final Path directory;
        try (SpateDriver driver = SpateDriver.launchEmbedded(configuration);
            Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
            AeronArchive archive = AeronArchive.connect(ArchiveSettings.clientContext(aeron)))
        {
            directory = Path.of(driver.aeronDirectoryName());
            final CountersReader counters = aeron.countersReader();
            final Path archiveDir = data.resolve("archive").toRealPath();

            assertEquals(syncLevel, ArchiveSettings.findSyncLevel(counters));
            final int syncCounterId = findCounter(counters, ArchiveSettings.SYNC_LEVEL_COUNTER_TYPE_ID);
            assertEquals("spate-archive: sync=" + syncLevel.name().toLowerCase() + " dir=" + archiveDir,
                counters.getCounterLabel(syncCounterId));
            assertEquals(syncLevel.ordinal(), counters.getCounterValue(syncCounterId));
            assertEquals(configuration.archiveId(), archive.archiveId());
            assertEquals(archiveDir.toFile(), driver.archive().context().archiveDir());
            assertEquals(syncLevel.fileSyncLevel(), driver.archive().context().fileSyncLevel());
            assertTrue(Files.isRegularFile(archiveDir.resolve(ArchiveMarkFile.FILENAME)));

            final ExclusivePublication publication = addRecordedPublication(aeron, archive, STREAM_ID);
            final int counterId = awaitRecordingCounter(counters, publication.sessionId(), archive.archiveId());
            final long recordingId = RecordingPos.getRecordingId(counters, counterId);

            // More than a term and a segment: the recording rolls over files.
            final long position = offerMessages(publication, 3_000);
            awaitCounter(counters, counterId, position);
            assertEquals(position, counters.getCounterValue(counterId));
            assertEquals(position, archive.getRecordingPosition(recordingId));

            // The recording session closes after the answer: its stop position follows.
            archive.stopRecording(publication);
            DriverTesting.await(() -> AeronArchive.NULL_POSITION != archive.getStopPosition(recordingId),
                () -> "the stop position of recording " + recordingId);
            assertEquals(position, archive.getStopPosition(recordingId));
            publication.close();

            assertIpcRoundTrip(driver.aeronDirectoryName());
        }
        assertFalse(Files.exists(directory), "an embedded driver removes its Aeron directory");
        assertTrue(Files.isRegularFile(data.resolve("archive").resolve("archive.catalog")),
            "the archive directory is kept");
    }

    @Test
    void noArchiveAndNoSyncLevelCounterWithoutADataDirectory()
    {
        try (SpateDriver driver = SpateDriver.launchEmbedded(testConfiguration(tempDir));
            Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName())))
        {
            assertNull(driver.archive());
            assertNull(ArchiveSettings.findSyncLevel(aeron.countersReader()));
            assertEquals(CountersReader.NULL_COUNTER_ID,
                findCounter(aeron.countersReader(), ArchiveSettings.SYNC_LEVEL_COUNTER_TYPE_ID));
        }
    }

    @Test
    void recordingsSurviveACleanRestartAndTheCounterGoesWithTheDriver()
    {
        final String data = tempDir.resolve("data").toString();
        final long recordingId;
        final long position;
        try (SpateDriver driver = SpateDriver.launchEmbedded(testConfiguration(tempDir).dataDir(data));
            Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
            AeronArchive archive = AeronArchive.connect(ArchiveSettings.clientContext(aeron)))
        {
            final ExclusivePublication publication = addRecordedPublication(aeron, archive, STREAM_ID);
            final int counterId =
                awaitRecordingCounter(aeron.countersReader(), publication.sessionId(), archive.archiveId());
            recordingId = RecordingPos.getRecordingId(aeron.countersReader(), counterId);
            position = offerMessages(publication, 100);
            awaitCounter(aeron.countersReader(), counterId, position);
        }

        // A clean stop leaves the mark file free: the next archive starts at once, on another Aeron directory too.
        final DriverConfiguration dedicated = testConfiguration(tempDir)
            .dataDir(data)
            .archiveThreadingMode(ArchiveThreadingMode.DEDICATED)
            .idleStrategy("sleeping");
        try (SpateDriver driver = SpateDriver.launchEmbedded(dedicated);
            Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
            AeronArchive archive = AeronArchive.connect(ArchiveSettings.clientContext(aeron)))
        {
            assertEquals(position, archive.getStopPosition(recordingId));
            assertEquals(SyncLevel.NONE, ArchiveSettings.findSyncLevel(aeron.countersReader()));
            assertEquals(ArchiveThreadingMode.DEDICATED, driver.archive().context().threadingMode());
        }
    }

    @Test
    void refusesADataDirectoryALiveArchiveUses()
    {
        final String data = tempDir.resolve("data").toString();
        try (SpateDriver first = SpateDriver.launchEmbedded(testConfiguration(tempDir).dataDir(data)))
        {
            // The refusal comes as soon as the live archive's heartbeat moves (once a second); the long
            // limit only keeps a starved archive thread from passing for a dead one.
            final DriverConfiguration second = testConfiguration(tempDir)
                .dataDir(data)
                .activeDriverCheckTimeoutMs(10_000);

            final IllegalStateException ex =
                assertThrows(IllegalStateException.class, () -> SpateDriver.launchEmbedded(second));

            assertTrue(ex.getMessage().startsWith("the archive directory " + Path.of(data, "archive") +
                " is in use by a live archive (pid " + ProcessHandle.current().pid() + ", its archive-mark.dat " +
                "heartbeat moved within 10000 ms)"), ex.getMessage());
            assertFalse(Files.exists(Path.of(second.aeronDirectoryName())), "no driver was started");
            assertIpcRoundTrip(first.aeronDirectoryName());
        }
    }

    @Test
    void refusesAnArchiveDirectoryThatIsAFile() throws IOException
    {
        final Path data = Files.createDirectories(tempDir.resolve("data"));
        Files.writeString(data.resolve("archive"), "keep me");
        final DriverConfiguration configuration = testConfiguration(tempDir).dataDir(data.toString());

        final IllegalStateException ex =
            assertThrows(IllegalStateException.class, () -> SpateDriver.launchEmbedded(configuration));

        assertEquals("the archive directory " + data.resolve("archive") + " exists and is not a directory; " +
            "choose another data directory (--data or spate.driver.data.dir)", ex.getMessage());
        assertEquals("keep me", Files.readString(data.resolve("archive")));
        assertFalse(Files.exists(Path.of(configuration.aeronDirectoryName())));
    }

    @Test
    void refusesAnArchiveDirectoryThatIsNotWritable() throws IOException
    {
        final Path archiveDir = Files.createDirectories(tempDir.resolve("data").resolve("archive"));
        Files.setPosixFilePermissions(archiveDir, PosixFilePermissions.fromString("r-x------"));
        try
        {
            assumeFalse(Files.isWritable(archiveDir), "this user (root?) may write anywhere");
            final DriverConfiguration configuration =
                testConfiguration(tempDir).dataDir(tempDir.resolve("data").toString());

            final IllegalStateException ex =
                assertThrows(IllegalStateException.class, () -> SpateDriver.launchEmbedded(configuration));

            assertTrue(ex.getMessage().startsWith("the archive directory " + archiveDir + " is not writable by this " +
                "user"), ex.getMessage());
            assertFalse(Files.exists(Path.of(configuration.aeronDirectoryName())));
        }
        finally
        {
            Files.setPosixFilePermissions(archiveDir, PosixFilePermissions.fromString("rwx------"));
        }
    }

    static int findCounter(final CountersReader counters, final int typeId)
    {
        final int[] found = {CountersReader.NULL_COUNTER_ID};
        counters.forEach((counterId, counterTypeId, keyBuffer, label) ->
        {
            if (typeId == counterTypeId)
            {
                found[0] = counterId;
            }
        });
        return found[0];
    }
}
