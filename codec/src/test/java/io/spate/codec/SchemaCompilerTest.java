package io.spate.codec;

import io.spate.codec.testing.ExampleSchemas;
import io.spate.wire.FieldKind;
import io.spate.wire.MessageHeaderDecoder;
import io.spate.wire.StoreSchemaDecoder;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SchemaCompilerTest
{
    static DatabaseSchema example()
    {
        return ExampleSchemas.social();
    }

    @Test
    void shouldCompileTheShippedExampleWithDenseIdsAndAlignedRows()
    {
        final DatabaseSchema schema = example();
        assertEquals("social", schema.name());
        assertEquals(4, schema.types().size());
        final TypeDefinition user = schema.type("User");
        assertEquals(1, user.typeId());
        assertEquals(user, schema.typeById(1));
        assertNull(schema.typeById(0));
        assertNull(schema.typeById(5));
        // i64, f64, timestamp (8 each) then u8 and bool: 26 bytes.
        assertEquals(26, user.rowLengthBytes());
        assertEquals(2, user.varFieldCount());
        for (final TypeDefinition type : schema.types())
        {
            for (final FieldDefinition field : type.fields())
            {
                assertEquals(field, type.fieldById(field.fieldId()));
                if (!field.isVariable())
                {
                    assertEquals(0, field.offsetBytes() % field.maxLengthBytes(), field + " is not aligned");
                    assertTrue(field.offsetBytes() + field.maxLengthBytes() <= type.rowLengthBytes());
                }
            }
        }
        assertEquals(FieldKind.STRING, user.field("name").kind());
        assertEquals(0, user.field("name").varIndex());
        assertEquals(1, user.field("bio").varIndex());
    }

    @Test
    void shouldHashStablyAndDifferentlyForAnyLayoutChange()
    {
        final String base = "{\"name\":\"s\",\"types\":[{\"name\":\"A\",\"fields\":[{\"name\":\"x\",\"type\":\"u32\"}]}]}";
        final long hash = SchemaCompiler.compile(base, "base").hash();
        assertEquals(hash, SchemaCompiler.compile(base, "again").hash());
        assertNotEquals(hash, SchemaCompiler.compile(base.replace("u32", "i32"), "kind").hash());
        assertNotEquals(hash, SchemaCompiler.compile(base.replace("\"x\"", "\"y\""), "name").hash());
        assertNotEquals(hash, SchemaCompiler.compile(base.replace("\"A\"", "\"B\""), "type").hash());
    }

    @Test
    void shouldEncodeTheStoreSchemaMessage()
    {
        final DatabaseSchema schema = example();
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[schema.storeSchemaLengthBytes()]);
        final int length = schema.encodeStoreSchema(buffer, 0);
        assertEquals(schema.storeSchemaLengthBytes(), length);

        final MessageHeaderDecoder header = new MessageHeaderDecoder().wrap(buffer, 0);
        assertEquals(StoreSchemaDecoder.TEMPLATE_ID, header.templateId());
        assertEquals(length, header.frameLengthBytes());
        final StoreSchemaDecoder decoder = new StoreSchemaDecoder().wrapAndApplyHeader(buffer, 0, header);
        assertEquals(schema.hash(), decoder.schemaHash());
        int types = 0;
        for (final StoreSchemaDecoder.TypesDecoder type : decoder.types())
        {
            final TypeDefinition expected = schema.types().get(types++);
            assertEquals(expected.typeId(), type.typeId());
            assertEquals(expected.rowLengthBytes(), type.rowLengthBytes());
            assertEquals(expected.maxNodes(), type.maxNodes());
            int fields = 0;
            for (final StoreSchemaDecoder.TypesDecoder.FieldsDecoder field : type.fields())
            {
                final FieldDefinition expectedField = expected.fields().get(fields++);
                assertEquals(expectedField.fieldId(), field.fieldId());
                assertEquals(expectedField.kind(), field.kind());
                assertEquals(expectedField.maxLengthBytes(), field.maxLengthBytes());
            }
            assertEquals(expected.fields().size(), fields);
        }
        assertEquals(schema.types().size(), types);
        assertEquals(length, MessageHeaderDecoder.ENCODED_LENGTH + decoder.encodedLength());
    }

    @Test
    void shouldNameTheMissingTypeOrField()
    {
        final DatabaseSchema schema = example();
        final IllegalArgumentException noType = assertThrows(IllegalArgumentException.class, () -> schema.type("Usr"));
        assertTrue(noType.getMessage().contains("'Usr'"), noType.getMessage());
        final IllegalArgumentException noField =
            assertThrows(IllegalArgumentException.class, () -> schema.type("User").field("agee"));
        assertTrue(noField.getMessage().contains("'agee'") && noField.getMessage().contains("User"));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
        not json                 | {                                                                              | not valid JSON
        empty types              | {"name":"s","types":[]}                                                        | 1 to 4096 types
        unknown key              | {"name":"s","typez":[]}                                                        | unknown key "typez"
        bad schema name          | {"name":"9s","types":[{"name":"A","fields":[]}]}                               | "name" must be
        duplicate type           | {"name":"s","types":[{"name":"A","fields":[]},{"name":"A","fields":[]}]}       | used twice
        duplicate field          | {"name":"s","types":[{"name":"A","fields":[{"name":"x","type":"u8"},{"name":"x","type":"u8"}]}]} | used twice
        unknown kind             | {"name":"s","types":[{"name":"A","fields":[{"name":"x","type":"u128"}]}]}      | unknown field type 'u128'
        string without max       | {"name":"s","types":[{"name":"A","fields":[{"name":"x","type":"string"}]}]}    | needs "maxBytes"
        max on fixed             | {"name":"s","types":[{"name":"A","fields":[{"name":"x","type":"u8","maxBytes":3}]}]} | only for string and bytes
        max too large            | {"name":"s","types":[{"name":"A","fields":[{"name":"x","type":"bytes","maxBytes":2000000}]}]} | must be a whole number
        zero max nodes           | {"name":"s","types":[{"name":"A","maxNodes":0,"fields":[]}]}                  | maxNodes
        fields not array         | {"name":"s","types":[{"name":"A","fields":3}]}                                 | expected an array
        """)
    void shouldRefuseBadSchemasWithAClearMessage(final String label, final String json, final String expected)
    {
        final SchemaException ex = assertThrows(SchemaException.class, () -> SchemaCompiler.compile(json, "test.json"));
        assertTrue(ex.getMessage().startsWith("test.json"), ex.getMessage());
        assertTrue(ex.getMessage().contains(expected), label + ": " + ex.getMessage());
    }

    @Test
    void shouldRefuseMoreFieldsThanTheLimit()
    {
        final StringBuilder json = new StringBuilder("{\"name\":\"s\",\"types\":[{\"name\":\"A\",\"fields\":[");
        for (int i = 0; i <= SchemaCompiler.MAX_FIELDS_PER_TYPE; i++)
        {
            json.append(i == 0 ? "" : ",").append("{\"name\":\"f").append(i).append("\",\"type\":\"u64\"}");
        }
        json.append("]}]}");
        final SchemaException ex = assertThrows(SchemaException.class, () -> SchemaCompiler.compile(json.toString(), "x"));
        assertTrue(ex.getMessage().contains("at most 1024 fields"), ex.getMessage());
    }

    @Test
    void shouldSayWhyAFileCannotBeReadInAFewWords(@TempDir final Path directory) throws IOException
    {
        final Path missing = directory.resolve("missing.json");
        final SchemaException noFile = assertThrows(SchemaException.class, () -> SchemaCompiler.compile(missing));
        assertEquals("cannot read the schema file " + missing + ": no such file", noFile.getMessage());

        final SchemaException folder = assertThrows(SchemaException.class, () -> SchemaCompiler.compile(directory));
        assertEquals("cannot read the schema file " + directory + ": it is a directory", folder.getMessage());

        final Path latin1 = directory.resolve("latin1.json");
        Files.write(latin1, new byte[]{ '{', '"', (byte)0xE9, '"', '}' });
        final SchemaException notUtf8 = assertThrows(SchemaException.class, () -> SchemaCompiler.compile(latin1));
        assertEquals("cannot read the schema file " + latin1 + ": not UTF-8 text", notUtf8.getMessage());
    }

    @Test
    void shouldGiveJsonErrorsWithLineAndColumnAndNoJacksonNoise(@TempDir final Path directory) throws IOException
    {
        final Path broken = directory.resolve("broken.json");
        Files.writeString(broken, "{ \"name\": \"s\",\n  \"types\": [ { \"name\": ", StandardCharsets.UTF_8);
        final SchemaException truncated = assertThrows(SchemaException.class, () -> SchemaCompiler.compile(broken));
        final String message = truncated.getMessage();
        assertTrue(message.startsWith(broken + ": not valid JSON at line 2, column "), message);
        assertTrue(message.contains("Unexpected end-of-input"), message);
        assertTrue(!message.contains("Source") && !message.contains("REDACTED") && !message.contains("\n"), message);

        final SchemaException array = assertThrows(SchemaException.class, () -> SchemaCompiler.compile("[1]", "a.json"));
        assertTrue(array.getMessage().startsWith("a.json: not valid JSON at line 1, column 1: "), array.getMessage());
        assertTrue(!array.getMessage().contains("Source"), array.getMessage());
    }
}
