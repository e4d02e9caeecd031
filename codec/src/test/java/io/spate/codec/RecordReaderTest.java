package io.spate.codec;

import io.spate.wire.RecordStatus;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteOrder;

import static io.spate.codec.RecordFraming.FRAME_LENGTH_OFFSET;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad input: every way a message can be wrong gets its status, and the walk goes on past it
 * when its frame length is usable.
 */
class RecordReaderTest
{
    private final DatabaseSchema schema = SchemaCompilerTest.example();
    private final TypeDefinition user = schema.type("User");
    private final UnsafeBuffer buffer = new UnsafeBuffer(new byte[4096]);
    private final RecordWriter writer = new RecordWriter(schema);
    private final RecordReader reader = new RecordReader(schema);

    private int writeOneCreateAndDelete()
    {
        writer.wrap(buffer, 0, 4096);
        writer.create(user, 1);
        writer.setLong(user.field("age"), 3).setString(user.field("name"), "n");
        writer.delete(user, 1);
        return writer.endBatch();
    }

    private int firstStatus(final int length)
    {
        reader.wrap(buffer, 0, length);
        assertTrue(reader.next());
        return reader.status();
    }

    @Test
    void shouldStopCleanlyOnEveryTruncation()
    {
        final int length = writeOneCreateAndDelete();
        final int createLength = buffer.getInt(FRAME_LENGTH_OFFSET, ByteOrder.LITTLE_ENDIAN);
        for (int cut = 1; cut < length; cut++)
        {
            reader.wrap(buffer, 0, cut);
            int messages = 0;
            int lastStatus = -1;
            while (reader.next())
            {
                messages++;
                lastStatus = reader.status();
            }
            if (cut == createLength)
            {
                assertEquals(1, messages);
                assertEquals(RecordStatus.OK.value(), lastStatus);
            }
            else
            {
                assertEquals(RecordStatus.MALFORMED.value(), lastStatus, "cut at " + cut);
                assertEquals(cut < createLength ? 1 : 2, messages, "cut at " + cut);
            }
        }
    }

    @Test
    void shouldSkipAnUnknownTemplateByItsFrameLength()
    {
        final int length = writeOneCreateAndDelete();
        buffer.putShort(RecordFraming.TEMPLATE_ID_OFFSET, (short)77, ByteOrder.LITTLE_ENDIAN);
        reader.wrap(buffer, 0, length);
        assertTrue(reader.next());
        assertEquals(RecordStatus.UNKNOWN_TEMPLATE.value(), reader.status());
        assertTrue(reader.next());
        assertEquals(RecordReader.DELETE, reader.templateId());
        assertEquals(RecordStatus.OK.value(), reader.status());
        assertFalse(reader.next());
    }

    @ParameterizedTest
    @ValueSource(ints = { RecordFraming.SCHEMA_ID_OFFSET, RecordFraming.VERSION_OFFSET })
    void shouldReportAWrongWireSchemaOrVersion(final int headerFieldOffset)
    {
        final int length = writeOneCreateAndDelete();
        buffer.putShort(headerFieldOffset, (short)(headerFieldOffset == RecordFraming.VERSION_OFFSET ? 1 : 1702),
            ByteOrder.LITTLE_ENDIAN);
        assertEquals(RecordStatus.SCHEMA_MISMATCH.value(), firstStatus(length));
    }

    @Test
    void shouldReportFramesOutsideTheSlice()
    {
        final int length = writeOneCreateAndDelete();
        buffer.putInt(FRAME_LENGTH_OFFSET, length + 1, ByteOrder.LITTLE_ENDIAN);
        assertEquals(RecordStatus.MALFORMED.value(), firstStatus(length));
        assertTrue(reader.isFramingStop());
        assertFalse(reader.next());
        buffer.putInt(FRAME_LENGTH_OFFSET, 11, ByteOrder.LITTLE_ENDIAN);
        assertEquals(RecordStatus.MALFORMED.value(), firstStatus(length));
        buffer.putInt(FRAME_LENGTH_OFFSET, -1, ByteOrder.LITTLE_ENDIAN);
        assertEquals(RecordStatus.MALFORMED.value(), firstStatus(length));
    }

    @Test
    void shouldReportBodiesThatDoNotFitTheirFrame()
    {
        int length = writeOneCreateAndDelete();
        buffer.putShort(RecordFraming.BLOCK_LENGTH_OFFSET, (short)9, ByteOrder.LITTLE_ENDIAN);
        assertEquals(RecordStatus.MALFORMED.value(), firstStatus(length));
        assertTrue(reader.next(), "the walk goes on after a malformed body");

        length = writeOneCreateAndDelete();
        final int groupCountOffset = RecordFraming.HEADER_LENGTH_BYTES + 10 + 2;
        buffer.putShort(groupCountOffset, (short)500, ByteOrder.LITTLE_ENDIAN);
        assertEquals(RecordStatus.MALFORMED.value(), firstStatus(length));

        length = writeOneCreateAndDelete();
        final int valueLengthOffset = RecordFraming.HEADER_LENGTH_BYTES + 10 + 4 + 2;
        buffer.putInt(valueLengthOffset, 0x7FFF_FFFF, ByteOrder.LITTLE_ENDIAN);
        assertEquals(RecordStatus.MALFORMED.value(), firstStatus(length));
    }

    @Test
    void shouldReportUnknownTypesFieldsAndOversizeValues()
    {
        int length = writeOneCreateAndDelete();
        final int typeIdOffset = RecordFraming.HEADER_LENGTH_BYTES + 8;
        buffer.putShort(typeIdOffset, (short)99, ByteOrder.LITTLE_ENDIAN);
        assertEquals(RecordStatus.UNKNOWN_TYPE.value(), firstStatus(length));

        length = writeOneCreateAndDelete();
        final int fieldIdOffset = RecordFraming.HEADER_LENGTH_BYTES + 10 + 4;
        buffer.putShort(fieldIdOffset, (short)user.field("age").fieldId(), ByteOrder.LITTLE_ENDIAN);
        assertEquals(RecordStatus.UNKNOWN_FIELD.value(), firstStatus(length), "a fixed field sent as a var field");
        buffer.putShort(fieldIdOffset, (short)500, ByteOrder.LITTLE_ENDIAN);
        assertEquals(RecordStatus.UNKNOWN_FIELD.value(), firstStatus(length));

        writer.wrap(buffer, 0, 4096);
        writer.update(user, 1);
        writer.setString(user.field("name"), "x".repeat(64));
        length = writer.endBatch();
        // Grow the string's length past maxBytes by eating into nothing: rewrite as a longer value.
        final int updateValueLengthOffset = RecordFraming.HEADER_LENGTH_BYTES + 14 + 4 + 2;
        assertEquals(64, buffer.getInt(updateValueLengthOffset, ByteOrder.LITTLE_ENDIAN));
        buffer.putInt(updateValueLengthOffset, 65, ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(FRAME_LENGTH_OFFSET, length + 1, ByteOrder.LITTLE_ENDIAN);
        assertEquals(RecordStatus.VALUE_TOO_LARGE.value(), firstStatus(length + 1));

        writer.wrap(buffer, 0, 4096);
        writer.update(user, 1);
        writer.setLong(user.field("karma"), 1);
        length = writer.endBatch();
        buffer.putInt(updateValueLengthOffset, 9, ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(FRAME_LENGTH_OFFSET, length + 1, ByteOrder.LITTLE_ENDIAN);
        assertEquals(RecordStatus.VALUE_TOO_LARGE.value(), firstStatus(length + 1));
        buffer.putInt(updateValueLengthOffset, 7, ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(FRAME_LENGTH_OFFSET, length - 1, ByteOrder.LITTLE_ENDIAN);
        assertEquals(RecordStatus.MALFORMED.value(), firstStatus(length - 1), "fixed value shorter than its width");

        writer.wrap(buffer, 0, 4096);
        writer.increment(user, 1, user.field("karma"), 1);
        length = writer.endBatch();
        buffer.putShort(RecordFraming.HEADER_LENGTH_BYTES + 22, (short)user.field("verified").fieldId(),
            ByteOrder.LITTLE_ENDIAN);
        assertEquals(RecordStatus.WRONG_FIELD_KIND.value(), firstStatus(length));
    }

    @Test
    void shouldReportTrailingBytesInsideAFrame()
    {
        writer.wrap(buffer, 0, 4096);
        writer.delete(user, 1);
        final int length = writer.endBatch();
        buffer.putInt(FRAME_LENGTH_OFFSET, length + 3, ByteOrder.LITTLE_ENDIAN);
        assertEquals(RecordStatus.MALFORMED.value(), firstStatus(length + 3));
    }
}
