package io.spate.codec;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * String values through {@link RecordWriter}: the ASCII fast path of setString, setStringAscii from
 * bytes, and every refusal leaving the open record as it was.
 */
class RecordWriterStringTest
{
    private final DatabaseSchema schema = SchemaCompilerTest.example();
    private final TypeDefinition user = schema.type("User");
    private final TypeDefinition post = schema.type("Post");
    private final FieldDefinition name = user.field("name");
    private final FieldDefinition bio = user.field("bio");
    private final FieldDefinition age = user.field("age");
    private final UnsafeBuffer buffer = new UnsafeBuffer(new byte[4096]);
    private final UnsafeBuffer expected = new UnsafeBuffer(new byte[4096]);
    private final RecordWriter writer = new RecordWriter(schema);
    private final RecordReader reader = new RecordReader(schema);

    @Test
    void shouldWriteAsciiBytesAsSetStringWritesTheSameChars()
    {
        final String[] values = { "", "p", "p1234567", "p12345678", "p123456789012345678", "0123456789abcdef!" };
        for (final String value : values)
        {
            final int expectedLength = writeWithSetString(expected, value);
            final UnsafeBuffer source = new UnsafeBuffer(new byte[32]);
            source.putStringWithoutLengthAscii(3, value);

            writer.wrap(buffer, 0, buffer.capacity()).beginBatch(1, 2);
            writer.create(user);
            writer.setLong(age, 7).setStringAscii(name, source, 3, value.length());
            writer.update(user, 5);
            writer.setStringAscii(bio, source, 3, value.length());
            final int length = writer.endBatch();

            assertEquals(expectedLength, length, value);
            assertEquals(0, buffer.compareTo(expected), value);
            assertEquals(2, validRecords(length), value);
        }
    }

    @Test
    void shouldEncodeAsciiAndNonAsciiStringsOfAnyCharSequence()
    {
        writer.wrap(buffer, 0, buffer.capacity()).beginBatch(1, 2);
        writer.create(user);
        writer.setString(name, new StringBuilder("ascii builder"));
        writer.create(user);
        writer.setString(name, "é and 水 and 😀");
        final int length = writer.endBatch();
        assertEquals(2, validRecords(length));
        final String text = new String(buffer.byteArray(), 0, length, StandardCharsets.UTF_8);
        assertTrue(text.contains("ascii builder"), text);
        assertTrue(text.contains("é and 水 and 😀"), text);
    }

    @Test
    void shouldRefuseAValueLongerThanTheFieldAndKeepTheRecordAsItWas()
    {
        final int lengthBefore = openUser();
        final UnsafeBuffer source = new UnsafeBuffer(new byte[name.maxLengthBytes() + 1]);
        source.setMemory(0, source.capacity(), (byte)'x');
        final IllegalArgumentException ascii = assertThrows(IllegalArgumentException.class,
            () -> writer.setStringAscii(name, source, 0, name.maxLengthBytes() + 1));
        assertTrue(ascii.getMessage().contains("User.name"), ascii.getMessage());
        final IllegalArgumentException chars = assertThrows(IllegalArgumentException.class,
            () -> writer.setString(name, "x".repeat(name.maxLengthBytes() + 1)));
        assertTrue(chars.getMessage().contains("User.name"), chars.getMessage());
        // Fits in chars but not once encoded: 2 bytes a char.
        assertThrows(IllegalArgumentException.class, () -> writer.setString(name, "é".repeat(name.maxLengthBytes() / 2 + 1)));
        assertEquals(lengthBefore, writer.lengthBytes());

        writer.setStringAscii(name, source, 0, name.maxLengthBytes());
        assertEquals(1, validRecords(writer.endBatch()));
    }

    @Test
    void shouldRefuseNonAsciiBytesWhereverTheyAre()
    {
        final int lengthBefore = openUser();
        final UnsafeBuffer source = new UnsafeBuffer(new byte[40]);
        for (final int badIndex : new int[]{ 0, 5, 7, 8, 15, 16, 19 })
        {
            source.setMemory(0, source.capacity(), (byte)'a');
            source.putByte(badIndex, (byte)0xC3);
            final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
                () -> writer.setStringAscii(name, source, 0, 20));
            assertTrue(ex.getMessage().contains("0xc3 at index " + badIndex), ex.getMessage());
            assertTrue(ex.getMessage().contains("User.name"), ex.getMessage());
            // The same bytes before the bad one are fine.
            writer.setStringAscii(bio, source, 0, badIndex);
        }
        assertTrue(writer.lengthBytes() > lengthBefore);
        assertEquals(1, validRecords(writer.endBatch()));
    }

    @Test
    void shouldRefuseAFieldOfAnotherKindOrTypeAndBadSourceRanges()
    {
        final UnsafeBuffer source = new UnsafeBuffer(new byte[8]);
        source.putStringWithoutLengthAscii(0, "abcdefgh");
        assertThrows(IllegalStateException.class, () -> writer.setStringAscii(name, source, 0, 1));

        final int lengthBefore = openUser();
        assertThrows(IllegalArgumentException.class, () -> writer.setStringAscii(age, source, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> writer.setStringAscii(post.field("title"), source, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> writer.setBytes(post.field("attachment"), source, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> writer.setStringAscii(name, source, 0, -1));
        assertThrows(IllegalArgumentException.class, () -> writer.setStringAscii(name, source, -1, 1));
        assertThrows(IllegalArgumentException.class, () -> writer.setStringAscii(name, source, 4, 5));
        assertEquals(lengthBefore, writer.lengthBytes());

        writer.create(post);
        assertThrows(IllegalArgumentException.class, () -> writer.setBytes(post.field("attachment"), source, 0, -1));
        assertThrows(IllegalArgumentException.class, () -> writer.setStringAscii(post.field("attachment"), source, 0, 1));
        assertEquals(2, validRecords(writer.endBatch()));
    }

    @Test
    void shouldNameTheFieldWhenTheBatchIsFull()
    {
        final UnsafeBuffer small = new UnsafeBuffer(new byte[160]);
        writer.wrap(small, 0, small.capacity()).beginBatch(1, 2);
        writer.create(user);
        final int remainingBefore = writer.remainingBytes();
        final UnsafeBuffer source = new UnsafeBuffer(new byte[64]);
        source.setMemory(0, source.capacity(), (byte)'z');
        final IllegalStateException ex = assertThrows(IllegalStateException.class,
            () -> writer.setStringAscii(name, source, 0, remainingBefore));
        assertTrue(ex.getMessage().contains("batch buffer full: User.name"), ex.getMessage());
        assertThrows(IllegalStateException.class, () -> writer.setString(name, "z".repeat(remainingBefore)));
        assertEquals(remainingBefore, writer.remainingBytes());

        // What fits exactly is taken: an entry is a 2-byte field id, a 4-byte length and the value.
        writer.setStringAscii(name, source, 0, remainingBefore - 6);
        assertEquals(0, writer.remainingBytes());
        final int length = writer.endBatch();
        assertEquals(small.capacity(), length);
        reader.wrap(small, 0, length);
        assertTrue(reader.next());
        assertTrue(reader.next());
        assertEquals(0, reader.status());
    }

    private int openUser()
    {
        writer.wrap(buffer, 0, buffer.capacity()).beginBatch(1, 2);
        writer.create(user);
        writer.setLong(age, 1);
        return writer.lengthBytes();
    }

    private int writeWithSetString(final UnsafeBuffer target, final String value)
    {
        target.setMemory(0, target.capacity(), (byte)0);
        buffer.setMemory(0, buffer.capacity(), (byte)0);
        writer.wrap(target, 0, target.capacity()).beginBatch(1, 2);
        writer.create(user);
        writer.setLong(age, 7).setString(name, value);
        writer.update(user, 5);
        writer.setString(bio, value);
        return writer.endBatch();
    }

    /**
     * @return the records after the batch header, each checked valid by the reader.
     */
    private int validRecords(final int lengthBytes)
    {
        reader.wrap(buffer, 0, lengthBytes);
        int messages = 0;
        while (reader.next())
        {
            assertEquals(0, reader.status());
            messages++;
        }
        return messages - 1;
    }
}
