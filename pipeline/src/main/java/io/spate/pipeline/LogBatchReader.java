package io.spate.pipeline;

import io.spate.codec.RecordFraming;
import io.spate.wire.LogBatchDecoder;
import io.spate.wire.MessageHeaderDecoder;
import io.spate.wire.RecordStatus;
import org.agrona.DirectBuffer;

import java.nio.ByteOrder;

/**
 * Reads one {@code LogBatch} from the durable log, checking every length and count against the
 * message before anything is decoded: a log read back from disk is input like any other, and a
 * damaged one must be refused with a reason, never half-applied.
 */
final class LogBatchReader
{
    private static final int SEGMENTS_HEADER_BYTES = LogBatchDecoder.SegmentsDecoder.sbeHeaderSize();
    private static final int MAX_COUNT = 1 << 20;

    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final LogBatchDecoder decoder = new LogBatchDecoder();
    private DirectBuffer buffer;
    private int segmentsOffset;
    private int segmentCount;
    private int segmentBlockLength;
    private int entryStatusOffset;
    private int entryCount;
    private int recordsOffset;
    private int recordsLength;

    /**
     * Checks the message and, when it is sound, makes its parts readable.
     *
     * @return null when it is a sound LogBatch, else why not (one phrase).
     */
    String wrap(final DirectBuffer buffer, final int offset, final int length)
    {
        this.buffer = null;
        final int end = offset + length;
        if (length < MessageHeaderDecoder.ENCODED_LENGTH + LogBatchDecoder.BLOCK_LENGTH)
        {
            return "a message of " + length + " bytes is shorter than a log batch";
        }
        headerDecoder.wrap(buffer, offset);
        if (headerDecoder.schemaId() != RecordFraming.SCHEMA_ID || headerDecoder.templateId() != LogBatchDecoder.TEMPLATE_ID)
        {
            return "not a log batch (schema " + headerDecoder.schemaId() + ", template " + headerDecoder.templateId() + ")";
        }
        final int blockLength = headerDecoder.blockLength();
        if (blockLength < LogBatchDecoder.BLOCK_LENGTH || headerDecoder.frameLengthBytes() != length)
        {
            return "a log batch's block length " + blockLength + " or frame length " +
                headerDecoder.frameLengthBytes() + " does not fit its " + length + " bytes";
        }
        int position = offset + MessageHeaderDecoder.ENCODED_LENGTH + blockLength;
        if (position + SEGMENTS_HEADER_BYTES > end)
        {
            return "a log batch ends inside its segments header";
        }
        segmentBlockLength = buffer.getShort(position, ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        final int segments = buffer.getShort(position + 2, ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        if (segmentBlockLength < LogBatchDecoder.SegmentsDecoder.sbeBlockLength() || segments < 1)
        {
            return "a log batch has " + segments + " segments of " + segmentBlockLength + " bytes";
        }
        position += SEGMENTS_HEADER_BYTES;
        segmentsOffset = position;
        segmentCount = segments;
        if ((long)position + (long)segments * segmentBlockLength + 4 > end)
        {
            return "a log batch ends inside its segments";
        }
        position += segmentCount * segmentBlockLength;
        final long statuses = buffer.getInt(position, ByteOrder.LITTLE_ENDIAN) & 0xFFFF_FFFFL;
        position += 4;
        if (statuses > MAX_COUNT || position + statuses + 4 > end)
        {
            return "a log batch's " + statuses + " entry statuses run past its end";
        }
        entryStatusOffset = position;
        entryCount = (int)statuses;
        position += entryCount;
        final long records = buffer.getInt(position, ByteOrder.LITTLE_ENDIAN) & 0xFFFF_FFFFL;
        position += 4;
        if (position + records != end)
        {
            return "a log batch's " + records + " bytes of records do not end where it ends";
        }
        recordsOffset = position;
        recordsLength = (int)records;

        long entries = 0;
        for (int i = 0; i < segmentCount; i++)
        {
            entries += segmentEntryCount(buffer, i);
        }
        if (entries != entryCount)
        {
            return "a log batch's segments hold " + entries + " records but it has " + entryCount + " statuses";
        }
        int okCount = 0;
        for (int i = 0; i < entryCount; i++)
        {
            if (buffer.getByte(entryStatusOffset + i) == RecordStatus.OK.value())
            {
                okCount++;
            }
        }
        decoder.wrap(buffer, offset + MessageHeaderDecoder.ENCODED_LENGTH, blockLength, headerDecoder.version());
        if (decoder.recordCount() != okCount || okCount < 1 || recordsLength < okCount * MessageHeaderDecoder.ENCODED_LENGTH)
        {
            return "a log batch says " + decoder.recordCount() + " records in " + recordsLength + " bytes, its statuses " +
                okCount;
        }
        this.buffer = buffer;
        return null;
    }

    private long segmentEntryCount(final DirectBuffer buffer, final int index)
    {
        final int at = segmentsOffset + index * segmentBlockLength;
        return buffer.getInt(at + LogBatchDecoder.SegmentsDecoder.entryCountEncodingOffset(), ByteOrder.LITTLE_ENDIAN) & 0xFFFF_FFFFL;
    }

    long batchSeq()
    {
        return decoder.batchSeq();
    }

    long schemaHash()
    {
        return decoder.schemaHash();
    }

    int recordCount()
    {
        return (int)decoder.recordCount();
    }

    int segmentCount()
    {
        return segmentCount;
    }

    long segmentSessionId(final int index)
    {
        return buffer.getLong(segmentsOffset + index * segmentBlockLength + LogBatchDecoder.SegmentsDecoder.sessionIdEncodingOffset(), ByteOrder.LITTLE_ENDIAN);
    }

    long segmentCorrelationId(final int index)
    {
        return buffer.getLong(segmentsOffset + index * segmentBlockLength + LogBatchDecoder.SegmentsDecoder.correlationIdEncodingOffset(), ByteOrder.LITTLE_ENDIAN);
    }

    int segmentEntryCount(final int index)
    {
        return (int)segmentEntryCount(buffer, index);
    }

    int entryCount()
    {
        return entryCount;
    }

    int entryStatus(final int index)
    {
        return buffer.getByte(entryStatusOffset + index);
    }

    int recordsOffset()
    {
        return recordsOffset;
    }

    int recordsLength()
    {
        return recordsLength;
    }
}
