package io.spate.codec;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.jr.ob.JSON;
import io.spate.wire.FieldKind;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Compiles the database schema users write by hand (JSON) into type ids, field ids, the fixed
 * row layout of every type and a stable hash.
 * <pre>
 * { "name": "social",
 *   "types": [
 *     { "name": "User", "maxNodes": 16777216,
 *       "fields": [ { "name": "age", "type": "u8" },
 *                   { "name": "name", "type": "string", "maxBytes": 64 } ] } ] }
 * </pre>
 * Ids are dense from 1 in declaration order. Fixed fields are laid out widest first (declaration
 * order among equals) so every field is naturally aligned within the row.
 */
public final class SchemaCompiler
{
    public static final int MAX_TYPES = 4096;
    public static final int MAX_FIELDS_PER_TYPE = 1024;
    public static final int MAX_ROW_LENGTH_BYTES = 65536;
    public static final long MAX_NODES_PER_TYPE = 1L << 36;
    public static final long MAX_ARENA_BYTES_PER_TYPE = 1L << 40;
    public static final long DEFAULT_MAX_NODES = 1L << 24;
    public static final long DEFAULT_MAX_ARENA_BYTES = 1L << 30;

    private static final Pattern NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,63}");
    private static final Set<String> SCHEMA_KEYS = Set.of("name", "description", "types");
    private static final Set<String> TYPE_KEYS = Set.of("name", "description", "maxNodes", "maxArenaBytes", "fields");
    private static final Set<String> FIELD_KEYS = Set.of("name", "description", "type", "maxBytes");
    /** "Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); " in Jackson's locations. */
    private static final Pattern SOURCE_IN_LOCATION = Pattern.compile("Source: [^;\\]]*; ");

    private SchemaCompiler()
    {
    }

    /**
     * @param file a JSON database schema.
     * @return the compiled schema.
     * @throws SchemaException naming the file and what is wrong.
     */
    public static DatabaseSchema compile(final Path file)
    {
        final String text;
        try
        {
            text = Files.readString(file, StandardCharsets.UTF_8);
        }
        catch (final IOException ex)
        {
            throw new SchemaException("cannot read the schema file " + file + ": " + readFailure(file, ex), ex);
        }
        return compile(text, file.toString());
    }

    /**
     * @param json   the schema text.
     * @param source where it came from, for messages.
     * @return the compiled schema.
     * @throws SchemaException naming the source and what is wrong.
     */
    public static DatabaseSchema compile(final String json, final String source)
    {
        final Map<String, Object> root;
        try
        {
            root = JSON.std.mapFrom(json);
        }
        catch (final IOException | RuntimeException ex)
        {
            throw new SchemaException(source + ": not valid JSON" + jsonFailure(ex), ex);
        }
        if (null == root)
        {
            throw new SchemaException(source + ": empty document, expected an object with \"name\" and \"types\"");
        }
        checkKeys(source, "schema", root, SCHEMA_KEYS);
        final String schemaName = name(source, "schema", root);
        final List<?> typeNodes = list(source, "schema." + "types", root.get("types"));
        if (typeNodes.isEmpty() || typeNodes.size() > MAX_TYPES)
        {
            throw new SchemaException(source + ": \"types\" must hold 1 to " + MAX_TYPES + " types, found " +
                typeNodes.size());
        }

        final List<TypeDefinition> types = new ArrayList<>();
        final Map<String, TypeDefinition> typesByName = new LinkedHashMap<>();
        for (int i = 0; i < typeNodes.size(); i++)
        {
            final String where = "types[" + i + "]";
            final Map<String, Object> typeNode = object(source, where, typeNodes.get(i));
            final TypeDefinition type = compileType(source, where, typeNode, i + 1);
            if (typesByName.put(type.name(), type) != null)
            {
                throw new SchemaException(source + ": " + where + ": type name '" + type.name() + "' is used twice");
            }
            types.add(type);
        }

        return new DatabaseSchema(schemaName, types, typesByName, hash(schemaName, types));
    }

    /**
     * @return why a file could not be read, in a few words ("no such file", "permission denied", ...),
     * without the exception's class name.
     */
    static String readFailure(final Path file, final IOException ex)
    {
        if (ex instanceof NoSuchFileException)
        {
            return "no such file";
        }
        if (ex instanceof AccessDeniedException)
        {
            return "permission denied";
        }
        if (Files.isDirectory(file))
        {
            return "it is a directory";
        }
        if (ex instanceof CharacterCodingException)
        {
            return "not UTF-8 text";
        }
        final String reason = ex instanceof FileSystemException fileSystem && null != fileSystem.getReason() ?
            fileSystem.getReason() : ex.getMessage();
        return null == reason ? ex.getClass().getSimpleName() : oneLine(reason);
    }

    /**
     * @return Jackson's complaint as {@code " at line L, column C: what"}: its location without the
     * "Source: REDACTED (...)" part, on one line.
     */
    static String jsonFailure(final Exception ex)
    {
        if (ex instanceof JsonProcessingException json)
        {
            final JsonLocation location = json.getLocation();
            final String what = oneLine(json.getOriginalMessage());
            if (null != location && location.getLineNr() > 0)
            {
                return " at line " + location.getLineNr() + ", column " + location.getColumnNr() + ": " + what;
            }
            return ": " + what;
        }
        return ": " + oneLine(ex.getMessage());
    }

    private static String oneLine(final String message)
    {
        if (null == message)
        {
            return "unreadable";
        }
        // Any location Jackson still embeds: keep the line and column, drop the source description.
        return SOURCE_IN_LOCATION.matcher(message).replaceAll("").replaceAll("\\s*[\\r\\n]+\\s*", " ").trim();
    }

    private static TypeDefinition compileType(
        final String source, final String where, final Map<String, Object> node, final int typeId)
    {
        checkKeys(source, where, node, TYPE_KEYS);
        final String typeName = name(source, where, node);
        final String typeWhere = where + " (" + typeName + ")";
        final long maxNodes = longValue(source, typeWhere + ".maxNodes", node.get("maxNodes"), DEFAULT_MAX_NODES,
            1, MAX_NODES_PER_TYPE);
        final long maxArenaBytes = longValue(source, typeWhere + ".maxArenaBytes", node.get("maxArenaBytes"),
            DEFAULT_MAX_ARENA_BYTES, 0, MAX_ARENA_BYTES_PER_TYPE);
        final List<?> fieldNodes = list(source, typeWhere + ".fields", node.get("fields"));
        if (fieldNodes.size() > MAX_FIELDS_PER_TYPE)
        {
            throw new SchemaException(source + ": " + typeWhere + ": at most " + MAX_FIELDS_PER_TYPE +
                " fields per type, found " + fieldNodes.size());
        }

        record Declared(String name, FieldKind kind, int maxLengthBytes, int declarationIndex)
        {
        }

        final List<Declared> declared = new ArrayList<>();
        final Map<String, Declared> byName = new LinkedHashMap<>();
        for (int i = 0; i < fieldNodes.size(); i++)
        {
            final String fieldWhere = typeWhere + ".fields[" + i + "]";
            final Map<String, Object> fieldNode = object(source, fieldWhere, fieldNodes.get(i));
            checkKeys(source, fieldWhere, fieldNode, FIELD_KEYS);
            final String fieldName = name(source, fieldWhere, fieldNode);
            final FieldKind kind = kind(source, fieldWhere + " (" + fieldName + ")", fieldNode.get("type"));
            final int maxLengthBytes;
            if (FieldDefinition.isVariable(kind))
            {
                if (null == fieldNode.get("maxBytes"))
                {
                    throw new SchemaException(source + ": " + fieldWhere + " (" + fieldName + "): a " +
                        kind.name().toLowerCase(Locale.ROOT) + " field needs \"maxBytes\" (1 to " +
                        RecordFraming.MAX_VAR_LENGTH_BYTES + ")");
                }
                maxLengthBytes = (int)longValue(source, fieldWhere + " (" + fieldName + ").maxBytes",
                    fieldNode.get("maxBytes"), 0, 1, RecordFraming.MAX_VAR_LENGTH_BYTES);
            }
            else
            {
                if (null != fieldNode.get("maxBytes"))
                {
                    throw new SchemaException(source + ": " + fieldWhere + " (" + fieldName + "): \"maxBytes\" is " +
                        "only for string and bytes fields; a " + kind.name().toLowerCase(Locale.ROOT) +
                        " field has a fixed width");
                }
                maxLengthBytes = FieldDefinition.fixedWidthBytes(kind);
            }
            final Declared field = new Declared(fieldName, kind, maxLengthBytes, i);
            if (byName.put(fieldName, field) != null)
            {
                throw new SchemaException(source + ": " + fieldWhere + ": field name '" + fieldName +
                    "' is used twice in type " + typeName);
            }
            declared.add(field);
        }

        // Widest first keeps every fixed field naturally aligned when rows are 8-byte aligned.
        final int[] offsets = new int[declared.size()];
        int rowLengthBytes = 0;
        final List<Declared> fixedByWidth = declared.stream()
            .filter(f -> !FieldDefinition.isVariable(f.kind()))
            .sorted(Comparator.comparingInt((Declared f) -> -f.maxLengthBytes()).thenComparingInt(Declared::declarationIndex))
            .toList();
        for (final Declared field : fixedByWidth)
        {
            offsets[field.declarationIndex()] = rowLengthBytes;
            rowLengthBytes += field.maxLengthBytes();
        }
        if (rowLengthBytes > MAX_ROW_LENGTH_BYTES)
        {
            throw new SchemaException(source + ": " + typeWhere + ": fixed fields take " + rowLengthBytes +
                " bytes, more than the " + MAX_ROW_LENGTH_BYTES + " a row may have");
        }

        final List<FieldDefinition> fields = new ArrayList<>();
        final Map<String, FieldDefinition> fieldsByName = new LinkedHashMap<>();
        int varIndex = 0;
        for (final Declared field : declared)
        {
            final boolean variable = FieldDefinition.isVariable(field.kind());
            final FieldDefinition definition = new FieldDefinition(
                field.name(),
                field.declarationIndex() + 1,
                field.kind(),
                variable ? -1 : offsets[field.declarationIndex()],
                field.maxLengthBytes(),
                variable ? varIndex++ : -1);
            fields.add(definition);
            fieldsByName.put(definition.name(), definition);
        }

        return new TypeDefinition(typeName, typeId, maxNodes, maxArenaBytes, rowLengthBytes, fields, varIndex,
            fieldsByName);
    }

    private static long hash(final String schemaName, final List<TypeDefinition> types)
    {
        final StringBuilder canonical = new StringBuilder(256).append("spate-schema-v1|").append(schemaName);
        for (final TypeDefinition type : types)
        {
            canonical.append("|type:").append(type.typeId()).append(':').append(type.name())
                .append(':').append(type.maxNodes()).append(':').append(type.maxArenaBytes())
                .append(':').append(type.rowLengthBytes());
            for (final FieldDefinition field : type.fields())
            {
                canonical.append("|field:").append(field.fieldId()).append(':').append(field.name())
                    .append(':').append(field.kind().name()).append(':').append(field.offsetBytes())
                    .append(':').append(field.maxLengthBytes());
            }
        }
        try
        {
            final byte[] digest = MessageDigest.getInstance("SHA-256")
                .digest(canonical.toString().getBytes(StandardCharsets.UTF_8));
            long hash = 0;
            for (int i = 0; i < 8; i++)
            {
                hash = (hash << 8) | (digest[i] & 0xFF);
            }
            return hash;
        }
        catch (final NoSuchAlgorithmException ex)
        {
            throw new IllegalStateException("SHA-256 is part of every JDK", ex);
        }
    }

    private static FieldKind kind(final String source, final String where, final Object value)
    {
        if (!(value instanceof String text))
        {
            throw new SchemaException(source + ": " + where + ": \"type\" must be one of " + kindNames());
        }
        for (final FieldKind kind : FieldKind.values())
        {
            if (kind != FieldKind.NULL_VAL && kind.name().equalsIgnoreCase(text))
            {
                return kind;
            }
        }
        throw new SchemaException(source + ": " + where + ": unknown field type '" + text + "', expected one of " +
            kindNames());
    }

    private static String kindNames()
    {
        final StringBuilder names = new StringBuilder();
        for (final FieldKind kind : FieldKind.values())
        {
            if (kind != FieldKind.NULL_VAL)
            {
                names.append(names.isEmpty() ? "" : ", ").append(kind.name().toLowerCase(Locale.ROOT));
            }
        }
        return names.toString();
    }

    private static String name(final String source, final String where, final Map<String, Object> node)
    {
        final Object value = node.get("name");
        if (!(value instanceof String text) || !NAME.matcher(text).matches())
        {
            throw new SchemaException(source + ": " + where + ": \"name\" must be a string of letters, digits and " +
                "'_' (not starting with a digit, at most 64), found " + value);
        }
        return text;
    }

    private static long longValue(
        final String source, final String where, final Object value, final long defaultValue, final long min,
        final long max)
    {
        if (null == value)
        {
            return defaultValue;
        }
        if (!(value instanceof Integer || value instanceof Long) ||
            ((Number)value).longValue() < min || ((Number)value).longValue() > max)
        {
            throw new SchemaException(source + ": " + where + ": must be a whole number from " + min + " to " + max +
                ", found " + value);
        }
        return ((Number)value).longValue();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> object(final String source, final String where, final Object value)
    {
        if (!(value instanceof Map))
        {
            throw new SchemaException(source + ": " + where + ": expected an object, found " + value);
        }
        return (Map<String, Object>)value;
    }

    private static List<?> list(final String source, final String where, final Object value)
    {
        if (!(value instanceof List<?> list))
        {
            throw new SchemaException(source + ": " + where + ": expected an array, found " + value);
        }
        return list;
    }

    private static void checkKeys(
        final String source, final String where, final Map<String, Object> node, final Set<String> allowed)
    {
        for (final String key : node.keySet())
        {
            if (!allowed.contains(key))
            {
                throw new SchemaException(source + ": " + where + ": unknown key \"" + key + "\" (allowed: " +
                    allowed + ")");
            }
        }
    }
}
