package io.spate.driver;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.archive.client.AeronArchive;
import io.aeron.archive.status.RecordingPos;
import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static io.spate.driver.DriverTesting.addRecordedPublication;
import static io.spate.driver.DriverTesting.awaitCounter;
import static io.spate.driver.DriverTesting.awaitRecordingCounter;
import static io.spate.driver.DriverTesting.offerMessages;
import static io.spate.driver.DriverTesting.uniqueDir;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The archive in a standalone driver process: SIGKILL it in the middle of a recording, restart it on the same
 * data directory, and the recording is complete, its stop position what had been recorded.
 */
class ArchiveRecoveryTest
{
    private static final int STREAM_ID = 2002;

    @TempDir
    Path tempDir;

    @Test
    void aRecordingLeftActiveBySigkillGetsItsStopPositionOnRestart() throws Exception
    {
        final String data = tempDir.resolve("data").toString();
        final List<String> properties = List.of("-Dspate.driver.archive.segment.length=1m");
        final String firstDir = uniqueDir(tempDir);
        final long recordingId;
        final long recordedPosition;
        try (DriverTesting.DriverProcess driver = new DriverTesting.DriverProcess(properties,
            "--dir", firstDir, "--ipc-term-length", "64k", "--idle", "sleeping", "--data", data, "--sync", "data"))
        {
            driver.awaitRunning();
            assertTrue(driver.output().contains("driver: archive in " + Path.of(data, "archive") + ", sync=data: "),
                driver.output());

            try (Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(firstDir));
                AeronArchive archive = AeronArchive.connect(ArchiveSettings.clientContext(aeron)))
            {
                final CountersReader counters = aeron.countersReader();
                assertEquals(SyncLevel.DATA, ArchiveSettings.findSyncLevel(counters));
                final ExclusivePublication publication = addRecordedPublication(aeron, archive, STREAM_ID);
                final int counterId = awaitRecordingCounter(counters, publication.sessionId(), archive.archiveId());
                recordingId = RecordingPos.getRecordingId(counters, counterId);

                recordedPosition = offerMessages(publication, 1_000);
                awaitCounter(counters, counterId, recordedPosition);
                assertEquals(recordedPosition, counters.getCounterValue(counterId));
                assertEquals(AeronArchive.NULL_POSITION, archive.getStopPosition(recordingId), "still recording");

                driver.process.destroyForcibly(); // SIGKILL: the recording is left active in the catalog.
                driver.awaitExit("SIGKILL");
            }
        }

        // Another Aeron directory (the killed driver's own is taken over at once too: DeadDriverTakeoverTest). The
        // archive's mark file heartbeat is young as well; its process is gone, so it is taken over at once.
        final String secondDir = uniqueDir(tempDir);
        try (DriverTesting.DriverProcess driver = new DriverTesting.DriverProcess(properties,
            "--dir", secondDir, "--ipc-term-length", "64k", "--idle", "sleeping", "--data", data))
        {
            driver.awaitRunning();

            try (Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(secondDir));
                AeronArchive archive = AeronArchive.connect(ArchiveSettings.clientContext(aeron)))
            {
                assertEquals(recordedPosition, archive.getStopPosition(recordingId), driver.output());
                assertEquals(AeronArchive.NULL_POSITION, archive.getRecordingPosition(recordingId));
                assertEquals(SyncLevel.NONE, ArchiveSettings.findSyncLevel(aeron.countersReader()));
            }

            assertTrue(driver.process.toHandle().destroy());
            driver.awaitExit("SIGTERM");
            assertEquals(0, driver.process.exitValue(), driver.output());
        }
    }

    /**
     * A write cut short by SIGKILL (simulated: a frame after the last one, whose bytes stop at a page boundary)
     * makes Archive refuse to start; the driver cuts the fragment off, says so, and the recording ends where
     * its last whole frame ends.
     */
    @Test
    void aFragmentCutShortByAKillIsDroppedAndTheArchiveStarts() throws Exception
    {
        final String data = tempDir.resolve("data").toString();
        final List<String> properties = List.of("-Dspate.driver.archive.segment.length=1m");
        final long[] recorded = recordAndKill(data, properties, 300);
        final long recordingId = recorded[0];
        final long recordedPosition = recorded[1];

        // The torn write: a data frame header claiming 8 KiB where the recording ends, its bytes present only
        // up to the next page boundary, zeros after (as a short write leaves them).
        final Path segment = Path.of(data, "archive", recordingId + "-0.rec");
        final int at = (int)recordedPosition;
        final int pageEnd = (at / 4096 + 1) * 4096;
        try (java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(segment,
            java.nio.file.StandardOpenOption.WRITE))
        {
            final java.nio.ByteBuffer torn = java.nio.ByteBuffer.allocate(pageEnd - at).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            torn.putInt(0, 8192).put(4, (byte)0).put(5, (byte)0xC0).putShort(6, (short)1); // length, version, flags, DATA
            for (int i = 32; i < torn.capacity(); i++)
            {
                torn.put(i, (byte)(i | 1));
            }
            channel.write(torn, at);
            channel.write(java.nio.ByteBuffer.allocate(8192), pageEnd); // the rest of the frame never written
        }

        final String secondDir = uniqueDir(tempDir);
        try (DriverTesting.DriverProcess driver = new DriverTesting.DriverProcess(properties,
            "--dir", secondDir, "--ipc-term-length", "64k", "--idle", "sleeping", "--data", data))
        {
            driver.awaitRunning();
            assertTrue(driver.output().contains(segment + ": the archive was killed while writing it; dropped "),
                driver.output());
            try (Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(secondDir));
                AeronArchive archive = AeronArchive.connect(ArchiveSettings.clientContext(aeron)))
            {
                assertEquals(recordedPosition, archive.getStopPosition(recordingId), driver.output());
            }
            assertTrue(driver.process.toHandle().destroy());
            driver.awaitExit("SIGTERM");
        }
    }

    /**
     * The same torn last fragment, but also a frame in the middle of the file whose bytes changed: that is not
     * what a kill leaves, and what follows it was recorded (perhaps acknowledged). The driver refuses to start
     * with one line naming the file and the offset, exit 1, and cuts nothing.
     */
    @Test
    void damageInTheMiddleOfTheLastSegmentIsRefusedAndNothingIsCut() throws Exception
    {
        final String data = tempDir.resolve("data").toString();
        final List<String> properties = List.of("-Dspate.driver.archive.segment.length=1m");
        final long[] recorded = recordAndKill(data, properties, 300);
        final long recordingId = recorded[0];
        final int at = (int)recorded[1];
        final int pageEnd = (at / 4096 + 1) * 4096;
        final int damagedFrame = 150 * 160; // 100-byte messages: frames of 132 bytes, 160 aligned
        assertTrue(damagedFrame < at, "the damaged frame was recorded: " + at);

        final Path segment = Path.of(data, "archive", recordingId + "-0.rec");
        try (java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(segment,
            java.nio.file.StandardOpenOption.READ, java.nio.file.StandardOpenOption.WRITE))
        {
            final java.nio.ByteBuffer one = java.nio.ByteBuffer.allocate(1);
            channel.read(one, damagedFrame + 40);
            one.put(0, (byte)(one.get(0) ^ 0x5A)).flip();
            channel.write(one, damagedFrame + 40);
            final java.nio.ByteBuffer torn = java.nio.ByteBuffer.allocate(pageEnd - at).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            torn.putInt(0, 8192).put(4, (byte)0).put(5, (byte)0xC0).putShort(6, (short)1);
            for (int i = 32; i < torn.capacity(); i++)
            {
                torn.put(i, (byte)(i | 1));
            }
            channel.write(torn, at);
        }
        final byte[] before = java.nio.file.Files.readAllBytes(segment);

        final String secondDir = uniqueDir(tempDir);
        try (DriverTesting.DriverProcess driver = new DriverTesting.DriverProcess(properties,
            "--dir", secondDir, "--ipc-term-length", "64k", "--idle", "sleeping", "--data", data))
        {
            driver.awaitExit("a damaged segment file");
            System.out.println(driver.output());
            assertEquals(1, driver.process.exitValue(), driver.output());
            final List<String> errors = driver.lines.stream().filter((line) -> line.startsWith("driver: error:")).toList();
            assertEquals(1, errors.size(), driver.output());
            assertTrue(errors.getFirst().contains(segment + ": damaged at offset " + damagedFrame + ","),
                driver.output());
            assertTrue(driver.lines.stream().noneMatch((line) -> line.contains("dropped")), driver.output());
        }
        assertTrue(java.util.Arrays.equals(before, java.nio.file.Files.readAllBytes(segment)), "nothing was cut");
    }

    /**
     * A recording killed while its data ended exactly at 1 MiB, the end of one of Aeron's 1 MiB recovery reads,
     * with a whole last fragment across a page boundary: Aeron 1.51 checks that fragment at the wrong offset
     * and refuses to start. The driver finds the fragment whole (nothing to cut), has the archive check it
     * with one read of the whole file, and the recording's stop position is its full length: nothing is lost.
     */
    @Test
    void aWholeLastFragmentEndingOnARecoveryReadBoundaryIsKept() throws Exception
    {
        final String data = tempDir.resolve("data").toString();
        final List<String> properties = List.of("-Dspate.driver.archive.segment.length=2m");
        final long[] recorded = recordAndKill(data, properties, 300);
        final long recordingId = recorded[0];
        final int from = (int)recorded[1];
        final int end = 1 << 20;
        final int lastFrameBytes = 4096 + 32; // starts off a page boundary, so it straddles one

        // Whole frames, checksummed as the archive records them (CRC32C of the payload in the session id
        // field), from where the recording stopped up to exactly 1 MiB.
        final Path segment = Path.of(data, "archive", recordingId + "-0.rec");
        final io.aeron.archive.checksum.Checksum crc = io.aeron.archive.checksum.Checksums.crc32c();
        try (java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(segment,
            java.nio.file.StandardOpenOption.WRITE))
        {
            int at = from;
            while (at < end)
            {
                final int left = end - at;
                final int frameBytes = left == lastFrameBytes ? lastFrameBytes :
                    Math.min(4096, left - lastFrameBytes);
                final java.nio.ByteBuffer frame = java.nio.ByteBuffer.allocateDirect(frameBytes)
                    .order(java.nio.ByteOrder.LITTLE_ENDIAN);
                frame.putInt(0, frameBytes).put(4, (byte)0).put(5, (byte)0xC0).putShort(6, (short)1);
                frame.putInt(8, at & ((64 << 10) - 1)); // term offset
                for (int i = 32; i < frameBytes; i++)
                {
                    frame.put(i, (byte)(i * 7 + at));
                }
                final org.agrona.concurrent.UnsafeBuffer view = new org.agrona.concurrent.UnsafeBuffer(frame);
                frame.putInt(12, crc.compute(view.addressOffset(), 32, frameBytes - 32)); // session id field
                channel.write(frame, at);
                at += frameBytes;
            }
        }

        final String secondDir = uniqueDir(tempDir);
        try (DriverTesting.DriverProcess driver = new DriverTesting.DriverProcess(properties,
            "--dir", secondDir, "--ipc-term-length", "64k", "--idle", "sleeping", "--data", data))
        {
            driver.awaitRunning();
            // Aeron's misjudgement shows as a straddling fragment, or (bounds checks on) as a read before its
            // buffer: either way the archive checks again with one whole-file read.
            assertTrue(driver.output().contains("bytes at once"), driver.output());
            try (Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(secondDir));
                AeronArchive archive = AeronArchive.connect(ArchiveSettings.clientContext(aeron)))
            {
                assertEquals(end, archive.getStopPosition(recordingId), driver.output());
            }
            assertTrue(driver.process.toHandle().destroy());
            driver.awaitExit("SIGTERM");
        }
    }

    /**
     * Starts a standalone driver with an archive, records that many messages, and SIGKILLs it.
     *
     * @return the recording id and the position recorded before the kill.
     */
    private long[] recordAndKill(final String data, final List<String> properties, final int messages) throws Exception
    {
        final String dir = uniqueDir(tempDir);
        try (DriverTesting.DriverProcess driver = new DriverTesting.DriverProcess(properties,
            "--dir", dir, "--ipc-term-length", "64k", "--idle", "sleeping", "--data", data))
        {
            driver.awaitRunning();
            try (Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(dir));
                AeronArchive archive = AeronArchive.connect(ArchiveSettings.clientContext(aeron)))
            {
                final CountersReader counters = aeron.countersReader();
                final ExclusivePublication publication = addRecordedPublication(aeron, archive, STREAM_ID);
                final int counterId = awaitRecordingCounter(counters, publication.sessionId(), archive.archiveId());
                final long recordingId = RecordingPos.getRecordingId(counters, counterId);
                final long position = offerMessages(publication, messages);
                awaitCounter(counters, counterId, position);
                driver.process.destroyForcibly();
                driver.awaitExit("SIGKILL");
                return new long[]{ recordingId, position };
            }
        }
    }
}
