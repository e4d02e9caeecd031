package io.spate.pipeline;

import io.spate.wire.LogBatchEncoder;
import io.spate.wire.MessageHeaderEncoder;
import io.spate.wire.RecordStatus;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteOrder;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The durable log's reader takes what the disk gives back: a sound batch reads back as written, and
 * anything else (every truncation, wrong headers, counts that disagree, random damage) is refused
 * with a reason and never throws.
 */
class LogBatchReaderTest
{
    private static final int RECORD_BYTES = 24;

    /**
     * Encodes a LogBatch: segments of the given entry counts, every third entry refused (not in records),
     * the others 24-byte dummy records.
     */
    private static int encode(final UnsafeBuffer buffer, final long seq, final int... entryCounts)
    {
        final MessageHeaderEncoder header = new MessageHeaderEncoder();
        final LogBatchEncoder encoder = new LogBatchEncoder().wrapAndApplyHeader(buffer, 0, header);
        int entries = 0;
        for (final int count : entryCounts)
        {
            entries += count;
        }
        final byte[] statuses = new byte[entries];
        int ok = 0;
        for (int i = 0; i < entries; i++)
        {
            statuses[i] = (byte)(i % 3 == 2 ? RecordStatus.BAD_REFERENCE.value() : RecordStatus.OK.value());
            ok += statuses[i] == 0 ? 1 : 0;
        }
        encoder.batchSeq(seq).schemaHash(0x1234_5678_9ABCL).recordCount(ok);
        final LogBatchEncoder.SegmentsEncoder segments = encoder.segmentsCount(entryCounts.length);
        for (int i = 0; i < entryCounts.length; i++)
        {
            segments.next().sessionId(1000 + i).correlationId(7 * i).entryCount(entryCounts[i]);
        }
        encoder.putEntryStatus(statuses, 0, entries);
        final byte[] records = new byte[ok * RECORD_BYTES];
        new Random(seq).nextBytes(records);
        encoder.putRecords(records, 0, records.length);
        final int length = MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
        header.frameLengthBytes(length);
        return length;
    }

    @Test
    void aSoundBatchReadsBackAsWritten()
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[4096]);
        final int length = encode(buffer, 42, 3, 1, 5);
        final LogBatchReader reader = new LogBatchReader();
        assertNull(reader.wrap(buffer, 0, length));
        assertEquals(42, reader.batchSeq());
        assertEquals(0x1234_5678_9ABCL, reader.schemaHash());
        assertEquals(3, reader.segmentCount());
        assertEquals(1001, reader.segmentSessionId(1));
        assertEquals(14, reader.segmentCorrelationId(2));
        assertEquals(5, reader.segmentEntryCount(2));
        assertEquals(9, reader.entryCount());
        assertEquals(RecordStatus.BAD_REFERENCE.value(), reader.entryStatus(2));
        assertEquals(6, reader.recordCount());
        assertEquals(6 * RECORD_BYTES, reader.recordsLength());
        assertEquals(length, reader.recordsOffset() + reader.recordsLength());
    }

    @Test
    void everyTruncationIsRefused()
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[4096]);
        final int length = encode(buffer, 1, 4, 4);
        final LogBatchReader reader = new LogBatchReader();
        for (int cut = 0; cut < length; cut++)
        {
            assertNotNull(reader.wrap(buffer, 0, cut), "truncated to " + cut);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = { "template", "schema", "frame", "block", "segments", "entries", "records", "ok" })
    void aBatchWhoseCountsDisagreeIsRefused(final String damage)
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[4096]);
        final int length = encode(buffer, 1, 2, 4);
        final int block = MessageHeaderEncoder.ENCODED_LENGTH;
        final int segmentsHeader = block + LogBatchEncoder.BLOCK_LENGTH;
        final int statuses = segmentsHeader + 4 + 2 * LogBatchEncoder.SegmentsEncoder.sbeBlockLength();
        switch (damage)
        {
            case "template" -> buffer.putShort(2, (short)21, ByteOrder.LITTLE_ENDIAN);
            case "schema" -> buffer.putShort(4, (short)9, ByteOrder.LITTLE_ENDIAN);
            case "frame" -> buffer.putInt(8, length + 1, ByteOrder.LITTLE_ENDIAN);
            case "block" -> buffer.putShort(0, (short)4, ByteOrder.LITTLE_ENDIAN);
            case "segments" -> buffer.putShort(segmentsHeader + 2, (short)0, ByteOrder.LITTLE_ENDIAN);
            case "entries" -> buffer.putInt(segmentsHeader + 4 + LogBatchEncoder.SegmentsEncoder.entryCountEncodingOffset(),
                3, ByteOrder.LITTLE_ENDIAN);
            case "records" -> buffer.putInt(statuses + 4 + 6, 1 << 20, ByteOrder.LITTLE_ENDIAN);
            case "ok" -> buffer.putByte(statuses + 4, (byte)RecordStatus.MALFORMED.value());
            default -> throw new IllegalArgumentException(damage);
        }
        final String reason = new LogBatchReader().wrap(buffer, 0, length);
        assertNotNull(reason, damage);
        assertTrue(!reason.contains("\n"), reason);
    }

    @Test
    void randomDamageNeverThrows()
    {
        final UnsafeBuffer pristine = new UnsafeBuffer(new byte[4096]);
        final int length = encode(pristine, 9, 5, 7, 3);
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[4096]);
        final LogBatchReader reader = new LogBatchReader();
        final Random random = new Random(11);
        int refused = 0;
        for (int i = 0; i < 50_000; i++)
        {
            buffer.putBytes(0, pristine, 0, length);
            final int flips = 1 + random.nextInt(4);
            for (int f = 0; f < flips; f++)
            {
                final int at = random.nextInt(length);
                buffer.putByte(at, (byte)(buffer.getByte(at) ^ (1 << random.nextInt(8))));
            }
            final String reason = reader.wrap(buffer, 0, length);
            if (null != reason)
            {
                refused++;
            }
            else
            {
                // Whatever passes is internally consistent: its parts lie inside the message.
                assertTrue(reader.recordsOffset() + reader.recordsLength() == length);
                assertTrue(reader.entryCount() >= reader.recordCount());
            }
        }
        assertTrue(refused > 0);
    }
}
