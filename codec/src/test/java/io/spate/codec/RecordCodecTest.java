package io.spate.codec;

import io.spate.wire.BatchHeaderDecoder;
import io.spate.wire.CreateDecoder;
import io.spate.wire.DeleteDecoder;
import io.spate.wire.IncrementDecoder;
import io.spate.wire.MessageHeaderDecoder;
import io.spate.wire.RecordStatus;
import io.spate.wire.UpdateDecoder;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Round trips through {@link RecordWriter}, the generated SBE decoders and {@link RecordReader}
 * for every record kind and every field kind.
 */
class RecordCodecTest
{
    private final DatabaseSchema schema = SchemaCompilerTest.example();
    private final TypeDefinition user = schema.type("User");
    private final TypeDefinition post = schema.type("Post");
    private final TypeDefinition counter = schema.type("Counter");
    private final UnsafeBuffer buffer = new UnsafeBuffer(new byte[4096]);
    private final RecordWriter writer = new RecordWriter(schema);
    private final RecordReader reader = new RecordReader(schema);

    @Test
    void shouldRoundTripEveryFieldKindInACreate()
    {
        writer.wrap(buffer, 8, 4000).beginBatch(7, 99);
        final int ref = writer.create(user, 1);
        writer.setLong(user.field("age"), 255)
            .setLong(user.field("karma"), -5)
            .setDouble(user.field("score"), 2.5)
            .setBoolean(user.field("verified"), true)
            .setLong(user.field("joinedAt"), 1_700_000_000_000_000_000L)
            .setString(user.field("name"), "Ada é 水 😀");
        writer.create(post, 0);
        writer.setLong(post.field("authorId"), -1L)
            .setLong(post.field("likes"), 0xFFFF_FFFFL)
            .setLong(post.field("shares"), 65535)
            .setBytes(post.field("attachment"), new byte[]{ 1, 2, 3 });
        final int length = writer.endBatch();
        assertEquals(1, ref);
        assertEquals(2, writer.recordCount());

        // The generated decoders read what the writer wrote.
        final MessageHeaderDecoder header = new MessageHeaderDecoder().wrap(buffer, 8);
        assertEquals(BatchHeaderDecoder.TEMPLATE_ID, header.templateId());
        final BatchHeaderDecoder batch = new BatchHeaderDecoder().wrapAndApplyHeader(buffer, 8, header);
        assertEquals(7, batch.sessionId());
        assertEquals(99, batch.correlationId());
        assertEquals(schema.hash(), batch.schemaHash());
        assertEquals(2, batch.recordCount());
        final int createOffset = 8 + (int)header.frameLengthBytes();
        header.wrap(buffer, createOffset);
        final CreateDecoder create = new CreateDecoder().wrapAndApplyHeader(buffer, createOffset, header);
        assertEquals(1, create.nodeId());
        assertEquals(user.typeId(), create.typeId());
        final CreateDecoder.VarFieldsDecoder varFields = create.varFields();
        assertEquals(1, varFields.count());
        varFields.next();
        assertEquals(user.field("name").fieldId(), varFields.fieldId());
        final byte[] name = new byte[varFields.valueLength()];
        varFields.getValue(name, 0, name.length);
        assertEquals("Ada é 水 😀", new String(name, StandardCharsets.UTF_8));
        assertEquals(user.rowLengthBytes(), create.rowLength());
        assertEquals(header.frameLengthBytes(), MessageHeaderDecoder.ENCODED_LENGTH + create.sbeDecodedLength());

        // The reader sees the same, field by field through the row layout.
        reader.wrap(buffer, 8, length);
        assertTrue(reader.next());
        assertEquals(RecordReader.BATCH_HEADER, reader.templateId());
        assertEquals(RecordStatus.OK.value(), reader.status());
        assertEquals(2, reader.batchRecordCount());
        assertTrue(reader.next());
        assertEquals(RecordStatus.OK.value(), reader.status());
        assertEquals(user, reader.type());
        final int row = reader.rowOffset();
        assertEquals(255, buffer.getByte(row + user.field("age").offsetBytes()) & 0xFF);
        assertEquals(-5, buffer.getLong(row + user.field("karma").offsetBytes(), ByteOrder.LITTLE_ENDIAN));
        assertEquals(2.5, buffer.getDouble(row + user.field("score").offsetBytes(), ByteOrder.LITTLE_ENDIAN));
        assertEquals(1, buffer.getByte(row + user.field("verified").offsetBytes()));
        assertEquals(1_700_000_000_000_000_000L,
            buffer.getLong(row + user.field("joinedAt").offsetBytes(), ByteOrder.LITTLE_ENDIAN));
        assertTrue(reader.next());
        assertEquals(post, reader.type());
        assertEquals(0, reader.nodeId());
        final int postRow = reader.rowOffset();
        assertEquals(-1L, buffer.getLong(postRow + post.field("authorId").offsetBytes(), ByteOrder.LITTLE_ENDIAN));
        assertEquals(-1, buffer.getInt(postRow + post.field("likes").offsetBytes(), ByteOrder.LITTLE_ENDIAN));
        assertEquals(-1, buffer.getShort(postRow + post.field("shares").offsetBytes(), ByteOrder.LITTLE_ENDIAN));
        assertEquals(1, reader.entryCount());
        assertEquals(3, reader.entryValueLengthBytes(0));
        assertEquals(3, buffer.getByte(reader.entryValueOffset(0) + 2));
        assertFalse(reader.next());
    }

    @Test
    void shouldRoundTripUpdateDeleteAndIncrement()
    {
        writer.wrap(buffer, 0, 4096).beginBatch(1, 2);
        final int created = writer.create(counter);
        writer.update(counter, 12);
        writer.setLong(counter.field("signed"), Integer.MIN_VALUE)
            .setDouble(counter.field("ratio"), -0.0);
        writer.updateCreated(counter, created);
        writer.setLong(counter.field("small"), 1);
        writer.increment(counter, 12, counter.field("hits"), -3);
        writer.incrementCreated(counter, created, counter.field("wide"), 9);
        writer.delete(counter, 12);
        writer.deleteCreated(counter, created);
        final int length = writer.endBatch();

        final MessageHeaderDecoder header = new MessageHeaderDecoder();
        int offset = 0;
        header.wrap(buffer, offset);
        offset += (int)header.frameLengthBytes();
        header.wrap(buffer, offset);
        offset += (int)header.frameLengthBytes();

        header.wrap(buffer, offset);
        final UpdateDecoder update = new UpdateDecoder().wrapAndApplyHeader(buffer, offset, header);
        assertEquals(12, update.nodeId());
        assertEquals(0, update.createRef());
        final UpdateDecoder.FieldsDecoder fields = update.fields();
        assertEquals(2, fields.count());
        fields.next();
        assertEquals(counter.field("signed").fieldId(), fields.fieldId());
        assertEquals(4, fields.valueLength());
        offset += (int)header.frameLengthBytes();

        header.wrap(buffer, offset);
        assertEquals(created, new UpdateDecoder().wrapAndApplyHeader(buffer, offset, header).createRef());
        offset += (int)header.frameLengthBytes();

        header.wrap(buffer, offset);
        final IncrementDecoder increment = new IncrementDecoder().wrapAndApplyHeader(buffer, offset, header);
        assertEquals(-3, increment.delta());
        assertEquals(counter.field("hits").fieldId(), increment.fieldId());
        offset += (int)header.frameLengthBytes();
        header.wrap(buffer, offset);
        offset += (int)header.frameLengthBytes();

        header.wrap(buffer, offset);
        final DeleteDecoder delete = new DeleteDecoder().wrapAndApplyHeader(buffer, offset, header);
        assertEquals(12, delete.nodeId());
        assertEquals(counter.typeId(), delete.typeId());
        offset += (int)header.frameLengthBytes();
        header.wrap(buffer, offset);
        assertEquals(created, new DeleteDecoder().wrapAndApplyHeader(buffer, offset, header).createRef());
        offset += (int)header.frameLengthBytes();
        assertEquals(length, offset);

        int records = 0;
        reader.wrap(buffer, 0, length);
        while (reader.next())
        {
            assertEquals(RecordStatus.OK.value(), reader.status(), "message at " + reader.offset());
            records++;
        }
        assertEquals(8, records);
    }

    @Test
    void shouldRefuseMisuseWithTheFieldName()
    {
        writer.wrap(buffer, 0, 4096);
        assertThrows(IllegalStateException.class, () -> writer.setLong(user.field("age"), 1));
        writer.create(user);
        final IllegalArgumentException range =
            assertThrows(IllegalArgumentException.class, () -> writer.setLong(user.field("age"), 256));
        assertTrue(range.getMessage().contains("User.age"), range.getMessage());
        assertThrows(IllegalArgumentException.class, () -> writer.setLong(post.field("likes"), 1));
        assertThrows(IllegalArgumentException.class, () -> writer.setDouble(user.field("age"), 1));
        assertThrows(IllegalArgumentException.class, () -> writer.setString(user.field("name"), "x".repeat(65)));
        assertThrows(IllegalArgumentException.class, () -> writer.increment(user, 1, user.field("name"), 1));
        assertThrows(IllegalArgumentException.class, () -> writer.updateCreated(user, 5));
        assertThrows(IllegalArgumentException.class, () -> writer.increment(user, 1, post.field("likes"), 1));
    }

    @Test
    void shouldRefuseToOverrunTheRegion()
    {
        writer.wrap(buffer, 0, 70).beginBatch(1, 1);
        writer.delete(user, 1);
        final IllegalStateException full = assertThrows(IllegalStateException.class, () -> writer.create(user));
        assertTrue(full.getMessage().contains("batch buffer full"), full.getMessage());
        assertTrue(writer.remainingBytes() >= 0);
    }

    @Test
    void shouldEncodeUtf8LikeTheJdk()
    {
        final String[] samples = { "", "ascii", "é", "水", "😀", "a\uD800b", "\uDC00", "mixé水😀" };
        for (final String sample : samples)
        {
            final byte[] expected = sample.getBytes(StandardCharsets.UTF_8);
            assertEquals(expected.length, Utf8.encodedLength(sample), sample);
            final UnsafeBuffer out = new UnsafeBuffer(new byte[64]);
            assertEquals(expected.length, Utf8.encode(sample, out, 0));
            final byte[] actual = new byte[expected.length];
            out.getBytes(0, actual);
            assertEquals(new String(expected, StandardCharsets.UTF_8), new String(actual, StandardCharsets.UTF_8));
        }
    }
}
