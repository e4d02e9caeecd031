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
 */
final class ArchiveTailRepair
{
    private static final Pattern STRADDLE = Pattern.compile(
        "potentially incomplete last fragment straddling page boundary in file: (\\S+\\.rec)");
    private static final int CHUNK_BYTES = 1 << 20;

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
     * Cuts the segment file after its last frame whose checksum holds.
     *
     * @return bytes dropped; -1 when the file does not start with a frame (the repair does not apply).
     */
    static long repair(final File segmentFile, final PrintStream out) throws IOException
    {
        final Checksum checksum = Checksums.crc32c();
        final ByteBuffer bytes = ByteBuffer.allocateDirect(CHUNK_BYTES + FrameDescriptor.FRAME_ALIGNMENT)
            .order(ByteOrder.LITTLE_ENDIAN);
        final UnsafeBuffer buffer = new UnsafeBuffer(bytes);
        try (FileChannel channel = FileChannel.open(segmentFile.toPath(), StandardOpenOption.READ,
            StandardOpenOption.WRITE))
        {
            final long fileLength = channel.size();
            long goodEnd = 0;
            while (goodEnd < fileLength)
            {
                bytes.clear().limit((int)Math.min(CHUNK_BYTES, fileLength - goodEnd));
                final int read = readFully(channel, bytes, goodEnd);
                int offset = 0;
                boolean stop = false;
                while (offset + DataHeaderFlyweight.HEADER_LENGTH <= read)
                {
                    final int frameLength = buffer.getInt(offset + HeaderFlyweight.FRAME_LENGTH_FIELD_OFFSET,
                        ByteOrder.LITTLE_ENDIAN);
                    if (frameLength < DataHeaderFlyweight.HEADER_LENGTH)
                    {
                        stop = true;
                        break;
                    }
                    final int alignedLength = BitUtil.align(frameLength, FrameDescriptor.FRAME_ALIGNMENT);
                    if (offset + alignedLength > read)
                    {
                        if (alignedLength > CHUNK_BYTES || read < bytes.limit())
                        {
                            stop = true; // longer than anything recorded, or cut off by the end of the file
                        }
                        break; // read on from this frame
                    }
                    final int type = buffer.getShort(offset + HeaderFlyweight.TYPE_FIELD_OFFSET, ByteOrder.LITTLE_ENDIAN);
                    if (type != HeaderFlyweight.HDR_TYPE_PAD)
                    {
                        final int computed = checksum.compute(buffer.addressOffset(),
                            offset + DataHeaderFlyweight.HEADER_LENGTH, alignedLength - DataHeaderFlyweight.HEADER_LENGTH);
                        if (computed != buffer.getInt(offset + DataHeaderFlyweight.SESSION_ID_FIELD_OFFSET,
                            ByteOrder.LITTLE_ENDIAN))
                        {
                            stop = true;
                            break;
                        }
                    }
                    offset += alignedLength;
                }
                goodEnd += offset;
                if (stop || offset == 0)
                {
                    break;
                }
            }
            if (goodEnd == 0)
            {
                return -1;
            }
            final long dropped = lastNonZero(channel, goodEnd, fileLength) - goodEnd;
            // As ArchiveTool does: cut, then restore the file's length (the tail reads as zeros).
            channel.truncate(goodEnd);
            channel.write(ByteBuffer.wrap(new byte[1]), fileLength - 1);
            channel.force(true);
            out.println("driver: " + segmentFile + ": the archive was killed while writing it; dropped " + dropped +
                " bytes after offset " + goodEnd + " that were never recorded whole (so never acknowledged)");
            return dropped;
        }
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
