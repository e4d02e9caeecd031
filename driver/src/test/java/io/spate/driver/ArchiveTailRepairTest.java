package io.spate.driver;

import io.aeron.archive.checksum.Checksum;
import io.aeron.archive.checksum.Checksums;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link ArchiveTailRepair} on segment files built frame by frame (checksummed as the archive records them): it
 * cuts a torn last fragment, and only that. Damage anywhere else (a frame whose checksum fails or whose header
 * does not hold, with recorded data after it) is refused with one line and the file is left as it was; so is a
 * segment file that is not its recording's last.
 */
class ArchiveTailRepairTest
{
    private static final int SEGMENT_BYTES = 256 << 10;
    private static final int PAGE_BYTES = 4096;

    @TempDir
    Path tempDir;

    private final Checksum crc = Checksums.crc32c();

    /**
     * Writes whole frames of random lengths (32-aligned or not) from offset 0, each checksummed.
     *
     * @return the offsets where each frame starts, and at the end where the last one ends.
     */
    private int[] writeFrames(final Path segment, final long seed, final int frames) throws IOException
    {
        System.out.println("ArchiveTailRepairTest seed=" + seed);
        final Random random = new Random(seed);
        final int[] offsets = new int[frames + 1];
        try (FileChannel channel = FileChannel.open(segment, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            StandardOpenOption.READ))
        {
            channel.write(ByteBuffer.allocate(1), SEGMENT_BYTES - 1); // a segment file has its full length
            int at = 0;
            for (int i = 0; i < frames; i++)
            {
                offsets[i] = at;
                final int frameLength = 32 + 1 + random.nextInt(3_000);
                final ByteBuffer frame = ByteBuffer.allocateDirect(align(frameLength)).order(ByteOrder.LITTLE_ENDIAN);
                frame.putInt(0, frameLength).put(4, (byte)0).put(5, (byte)0xC0).putShort(6, (short)1);
                frame.putInt(8, at);
                for (int b = 32; b < frameLength; b++)
                {
                    frame.put(b, (byte)(1 + random.nextInt(255)));
                }
                final UnsafeBuffer view = new UnsafeBuffer(frame);
                frame.putInt(12, crc.compute(view.addressOffset(), 32, align(frameLength) - 32));
                channel.write(frame, at);
                at += align(frameLength);
            }
            offsets[frames] = at;
        }
        return offsets;
    }

    /** As a write cut short by SIGKILL leaves it: a header claiming 8 KiB, bytes up to the next page only. */
    private static int writeTornFrame(final Path segment, final int at) throws IOException
    {
        final int pageEnd = (at / PAGE_BYTES + 1) * PAGE_BYTES;
        try (FileChannel channel = FileChannel.open(segment, StandardOpenOption.WRITE))
        {
            final ByteBuffer torn = ByteBuffer.allocate(pageEnd - at).order(ByteOrder.LITTLE_ENDIAN);
            torn.putInt(0, 8192).put(4, (byte)0).put(5, (byte)0xC0).putShort(6, (short)1).putInt(8, at);
            for (int i = 32; i < torn.capacity(); i++)
            {
                torn.put(i, (byte)(i | 1));
            }
            channel.write(torn, at);
        }
        return pageEnd;
    }

    private static void flipByte(final Path file, final long position) throws IOException
    {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE))
        {
            final ByteBuffer one = ByteBuffer.allocate(1);
            channel.read(one, position);
            one.put(0, (byte)(one.get(0) ^ 0x5A)).position(0);
            channel.write(one, position);
        }
    }

    private static int align(final int length)
    {
        return (length + 31) & ~31;
    }

    @Test
    void aTornLastFragmentIsCutAndNothingBeforeIt() throws IOException
    {
        final Path segment = tempDir.resolve("7-0.rec");
        final int[] offsets = writeFrames(segment, 11, 40);
        final int end = offsets[offsets.length - 1];
        final byte[] whole = Arrays.copyOf(Files.readAllBytes(segment), end);
        writeTornFrame(segment, end);

        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final long dropped = ArchiveTailRepair.repair(segment.toFile(), new PrintStream(out, true, StandardCharsets.UTF_8));

        assertTrue(dropped > 0, "dropped " + dropped);
        final byte[] after = Files.readAllBytes(segment);
        assertEquals(SEGMENT_BYTES, after.length, "the file keeps its length");
        assertArrayEquals(whole, Arrays.copyOf(after, end), "every whole frame is kept");
        for (int i = end; i < after.length; i++)
        {
            assertEquals(0, after[i], "zeros after the cut, at " + i);
        }
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("dropped " + dropped + " bytes after offset " + end),
            out.toString(StandardCharsets.UTF_8));
    }

    @Test
    void aFrameWhoseChecksumFailsInTheMiddleIsRefusedAndTheFileLeftAlone() throws IOException
    {
        final Path segment = tempDir.resolve("7-0.rec");
        final int[] offsets = writeFrames(segment, 12, 40);
        writeTornFrame(segment, offsets[offsets.length - 1]);
        flipByte(segment, offsets[17] + 40); // in frame 17's payload, 22 whole frames and a torn one after it
        assertRefusedUnchanged(segment, offsets[17]);
    }

    @Test
    void aHeaderDamagedInTheMiddleIsRefusedAndTheFileLeftAlone() throws IOException
    {
        final Path segment = tempDir.resolve("7-0.rec");
        final int[] offsets = writeFrames(segment, 13, 40);
        writeTornFrame(segment, offsets[offsets.length - 1]);
        try (FileChannel channel = FileChannel.open(segment, StandardOpenOption.WRITE))
        {
            channel.write(ByteBuffer.allocate(4), offsets[9]); // frame 9's length: zero, as if nothing followed
        }
        assertRefusedUnchanged(segment, offsets[9]);
    }

    @Test
    void damageInTheMiddleWithAWholeLastFragmentIsRefused() throws IOException
    {
        final Path segment = tempDir.resolve("7-0.rec");
        final int[] offsets = writeFrames(segment, 14, 40);
        flipByte(segment, offsets[30] + 33);
        assertRefusedUnchanged(segment, offsets[30]);
    }

    @Test
    void aLaterSegmentFileOfZerosDoesNotStopTheCut() throws IOException
    {
        final Path segment = tempDir.resolve("7-0.rec");
        final int[] offsets = writeFrames(segment, 16, 40);
        writeTornFrame(segment, offsets[offsets.length - 1]);
        Files.write(tempDir.resolve("7-" + SEGMENT_BYTES + ".rec"), new byte[SEGMENT_BYTES]); // created, nothing written
        assertTrue(ArchiveTailRepair.repair(segment.toFile(), System.out) > 0);
    }

    @Test
    void aSegmentFileThatIsNotItsRecordingsLastIsRefused() throws IOException
    {
        final Path segment = tempDir.resolve("7-0.rec");
        final int[] offsets = writeFrames(segment, 15, 40);
        writeTornFrame(segment, offsets[offsets.length - 1]);
        final byte[] next = new byte[SEGMENT_BYTES];
        Arrays.fill(next, 0, 4096, (byte)7); // the recording goes on in the next segment file
        Files.write(tempDir.resolve("7-" + SEGMENT_BYTES + ".rec"), next);
        Files.write(tempDir.resolve("8-" + SEGMENT_BYTES + ".rec"), next); // another recording's: no matter
        final byte[] before = Files.readAllBytes(segment);
        final IllegalStateException refused = assertThrows(IllegalStateException.class,
            () -> ArchiveTailRepair.repair(segment.toFile(), System.out));
        System.out.println(refused.getMessage());
        assertTrue(refused.getMessage().contains("7-" + SEGMENT_BYTES + ".rec"), refused.getMessage());
        assertFalse(refused.getMessage().contains("\n"));
        assertArrayEquals(before, Files.readAllBytes(segment), "the file is left as it was");
    }

    private static void assertRefusedUnchanged(final Path segment, final int damagedAt) throws IOException
    {
        final byte[] before = Files.readAllBytes(segment);
        final File file = segment.toFile();
        final IllegalStateException refused = assertThrows(IllegalStateException.class,
            () -> ArchiveTailRepair.repair(file, System.out));
        System.out.println(refused.getMessage());
        assertTrue(refused.getMessage().startsWith(segment + ": damaged at offset " + damagedAt + ","),
            refused.getMessage());
        assertFalse(refused.getMessage().contains("\n"), refused.getMessage());
        assertArrayEquals(before, Files.readAllBytes(segment), "the file is left as it was");
    }
}
