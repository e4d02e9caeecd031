package io.spate.driver;

import io.aeron.archive.checksum.Checksum;
import io.aeron.archive.checksum.Checksums;
import io.aeron.logbuffer.FrameDescriptor;
import io.aeron.protocol.DataHeaderFlyweight;
import io.aeron.protocol.HeaderFlyweight;
import org.agrona.BitUtil;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Repairs the tail of a recording cut short by a crash of the archive's process, so the archive can
 * start again without an operator. SIGKILL in the middle of the archive's write of a block can leave
 * a short write: the last fragment of the segment file is incomplete. Archive 1.51 then refuses to
 * start ("potentially incomplete last fragment straddling page boundary ... run ArchiveTool verify").
 * <p>
 * Why cutting it is safe: the archive moves a recording's position counter only after a block's write
 * returned, and Spate acks a batch only once that counter has passed the batch's end. A fragment whose
 * write did not complete was therefore never acknowledged. The repair keeps every frame from the start
 * of the file whose CRC32C (the archive's record checksum, kept in the frame's session id field)
 * matches its bytes, and cuts the file after the last of them; nothing before it changes.
 * <p>
 * It cuts only what a torn write leaves: a write is copied in order, so a short one leaves whole frames, then
 * at most one frame whose bytes stop early, then nothing (zeros) to the end of the file, which is the
 * recording's last segment file. Anything else (a frame whose checksum fails or whose header does not hold with
 * recorded bytes after it, a later segment file of the same recording holding data) is damage in the middle of
 * a recording, whose later frames may have been acknowledged: the repair refuses it with one line (an
 * {@link IllegalStateException}) and changes nothing.
 */
final class ArchiveTailRepair
{
    private static final Pattern STRADDLE = Pattern.compile(
        "potentially incomplete last fragment straddling page boundary in file: (\\S+\\.rec)");
    private static final Pattern SEGMENT_FILE = Pattern.compile("(\\d+)-(\\d+)\\.rec");
    private static final int CHUNK_BYTES = 1 << 20;
    /** Longest data frame a recording holds: Aeron's largest MTU. */
    private static final int MAX_DATA_FRAME_BYTES = 64 << 10;

    private ArchiveTailRepair()
    {
    }

    /**
     * @return the segment file an archive start failure names as having an incomplete last fragment, or null.
     */
    static File segmentFileOf(final Throwable failure)
    {
        for (Throwable cause = failure; null != cause; cause = cause.getCause())
        {
            final String message = cause.getMessage();
            if (null != message)
            {
                final Matcher matcher = STRADDLE.matcher(message);
                if (matcher.find())
                {
                    return new File(matcher.group(1));
                }
            }
        }
        return null;
    }

    /**
     * Cuts the segment file after its last frame whose checksum holds, when what follows it is a torn last fragment.
     *
     * @return bytes dropped (0: the data ends in a whole frame); -1 when the file does not start with a frame (the
     * repair does not apply).
     * @throws IllegalStateException with one line, the file unchanged, when the damage is not a torn last fragment
     *                               of the recording's last segment file.
     */
    static long repair(final File segmentFile, final PrintStream out) throws IOException
    {
        final File later = laterSegmentWithData(segmentFile);
        if (null != later)
        {
            throw new IllegalStateException(segmentFile + ": not its recording's last segment file (" + later.getName() +
                " follows it, holding data): a torn last fragment is only ever at the end of the last one; nothing is cut");
        }
        final Checksum checksum = Checksums.crc32c();
        final ByteBuffer bytes = ByteBuffer.allocateDirect(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        final UnsafeBuffer buffer = new UnsafeBuffer(bytes);
        try (FileChannel channel = FileChannel.open(segmentFile.toPath(), StandardOpenOption.READ,
            StandardOpenOption.WRITE))
        {
            final long fileLength = channel.size();
            long bufferStart = 0;
            int buffered = 0;
            long goodEnd = 0;
            long lastEnd = -1; // where the first frame that does not hold would end; -1: it has no sane length
            String problem = null;
            while (goodEnd + DataHeaderFlyweight.HEADER_LENGTH <= fileLength)
            {
                if (goodEnd + DataHeaderFlyweight.HEADER_LENGTH > bufferStart + buffered)
                {
                    bufferStart = goodEnd;
                    buffered = fill(channel, bytes, bufferStart, fileLength);
                }
                final int at = (int)(goodEnd - bufferStart);
                final int frameLength = buffer.getInt(at + HeaderFlyweight.FRAME_LENGTH_FIELD_OFFSET, ByteOrder.LITTLE_ENDIAN);
                final int type = buffer.getShort(at + HeaderFlyweight.TYPE_FIELD_OFFSET, ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
                if (frameLength < DataHeaderFlyweight.HEADER_LENGTH)
                {
                    problem = frameLength == 0 ? "no frame" : "a frame header of length " + frameLength;
                    break;
                }
                final long alignedLength = BitUtil.align((long)frameLength, FrameDescriptor.FRAME_ALIGNMENT);
                if (goodEnd + alignedLength > fileLength ||
                    (type != HeaderFlyweight.HDR_TYPE_PAD && alignedLength > MAX_DATA_FRAME_BYTES))
                {
                    problem = "a frame header claiming " + alignedLength + " bytes";
                    break;
                }
                if (type != HeaderFlyweight.HDR_TYPE_PAD)
                {
                    if (goodEnd + alignedLength > bufferStart + buffered)
                    {
                        bufferStart = goodEnd;
                        buffered = fill(channel, bytes, bufferStart, fileLength);
                    }
                    final int offset = (int)(goodEnd - bufferStart);
                    final int computed = checksum.compute(buffer.addressOffset(),
                        offset + DataHeaderFlyweight.HEADER_LENGTH, (int)alignedLength - DataHeaderFlyweight.HEADER_LENGTH);
                    if (computed != buffer.getInt(offset + DataHeaderFlyweight.SESSION_ID_FIELD_OFFSET,
                        ByteOrder.LITTLE_ENDIAN))
                    {
                        problem = "a frame of " + frameLength + " bytes whose checksum fails";
                        lastEnd = goodEnd + alignedLength;
                        break;
                    }
                }
                goodEnd += alignedLength;
            }
            if (goodEnd == 0)
            {
                return -1;
            }
            // A torn write leaves nothing after its last frame: not after the one that does not hold, nor (when that
            // has no sane length) after where it starts.
            final long tailFrom = lastEnd >= 0 ? lastEnd : goodEnd;
            final long lastNonZero = lastNonZero(channel, tailFrom, fileLength);
            if (lastNonZero > tailFrom)
            {
                throw new IllegalStateException(segmentFile + ": damaged at offset " + goodEnd + ", " + problem + ", with " +
                    "recorded bytes after it up to offset " + lastNonZero + ": not a torn last fragment, so nothing is " +
                    "cut (what follows may have been acknowledged); restore the archive from a copy or inspect it with " +
                    "Aeron's ArchiveTool");
            }
            final long dropped = lastNonZero(channel, goodEnd, fileLength) - goodEnd;
            if (dropped > 0)
            {
                // As ArchiveTool does: cut, then restore the file's length (the tail reads as zeros).
                channel.truncate(goodEnd);
                channel.write(ByteBuffer.wrap(new byte[1]), fileLength - 1);
                channel.force(true);
                out.println("driver: " + segmentFile + ": the archive was killed while writing it; dropped " + dropped +
                    " bytes after offset " + goodEnd + " that were never recorded whole (so never acknowledged)");
            }
            return dropped;
        }
    }

    /**
     * @return a segment file of the same recording after this one holding a byte other than zero, or null.
     */
    private static File laterSegmentWithData(final File segmentFile) throws IOException
    {
        final Matcher name = SEGMENT_FILE.matcher(segmentFile.getName());
        final File[] siblings = segmentFile.getAbsoluteFile().getParentFile().listFiles();
        if (!name.matches() || null == siblings)
        {
            return null;
        }
        final long basePosition = Long.parseLong(name.group(2));
        for (final File sibling : siblings)
        {
            final Matcher other = SEGMENT_FILE.matcher(sibling.getName());
            if (other.matches() && other.group(1).equals(name.group(1)) && Long.parseLong(other.group(2)) > basePosition)
            {
                try (FileChannel channel = FileChannel.open(sibling.toPath(), StandardOpenOption.READ))
                {
                    if (lastNonZero(channel, 0, channel.size()) > 0)
                    {
                        return sibling;
                    }
                }
            }
        }
        return null;
    }

    private static int fill(final FileChannel channel, final ByteBuffer bytes, final long from, final long fileLength)
        throws IOException
    {
        bytes.clear().limit((int)Math.min(bytes.capacity(), fileLength - from));
        return readFully(channel, bytes, from);
    }

    /**
     * @return true when an archive start failed on Aeron's recovery reading before its buffer (a recording
     * whose data ends exactly where a recovery read ends; see {@link SpateDriver}).
     */
    static boolean isRecoveryMisread(final Throwable failure)
    {
        for (Throwable cause = failure; null != cause; cause = cause.getCause())
        {
            if (cause instanceof IndexOutOfBoundsException && null != cause.getMessage() &&
                cause.getMessage().startsWith("Range [-"))
            {
                return true;
            }
        }
        return false;
    }

    /**
     * @return a read length (a power of two, as the archive requires) that takes a segment file of that
     * length in one read.
     * @throws IllegalStateException when it is longer than one read may be (1 GiB).
     */
    static int wholeFileReadBytes(final long segmentFileLengthBytes)
    {
        final long lengthBytes = Math.max(segmentFileLengthBytes, 64 * 1024);
        if (lengthBytes > 1 << 30)
        {
            throw new IllegalStateException("a segment file of " + lengthBytes + " bytes is longer than one read may be");
        }
        return BitUtil.findNextPositivePowerOfTwo((int)lengthBytes);
    }

    private static long lastNonZero(final FileChannel channel, final long from, final long to) throws IOException
    {
        final ByteBuffer bytes = ByteBuffer.allocate(64 << 10);
        long last = from;
        for (long position = from; position < to; position += bytes.capacity())
        {
            bytes.clear().limit((int)Math.min(bytes.capacity(), to - position));
            final int read = readFully(channel, bytes, position);
            for (int i = 0; i < read; i++)
            {
                if (bytes.get(i) != 0)
                {
                    last = position + i + 1;
                }
            }
        }
        return last;
    }

    private static int readFully(final FileChannel channel, final ByteBuffer bytes, final long position) throws IOException
    {
        int total = 0;
        while (bytes.hasRemaining())
        {
            final int read = channel.read(bytes, position + total);
            if (read < 0)
            {
                break;
            }
            total += read;
        }
        return total;
    }
}
