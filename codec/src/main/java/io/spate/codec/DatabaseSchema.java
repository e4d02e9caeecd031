package io.spate.codec;

import io.spate.wire.MessageHeaderEncoder;
import io.spate.wire.StoreSchemaEncoder;
import org.agrona.MutableDirectBuffer;

import java.util.List;
import java.util.Map;

/**
 * A compiled database schema: node types with ids and row layouts, and the stable hash every
 * client batch carries so the pipeline and store can refuse records written for another schema.
 * Made by {@link SchemaCompiler}; immutable.
 */
public final class DatabaseSchema
{
    private final String name;
    private final List<TypeDefinition> types;
    /** Index typeId - 1: the conductor looks a type up per record, an array load instead of a List's checks. */
    private final TypeDefinition[] typesById;
    private final Map<String, TypeDefinition> typesByName;
    private final long hash;

    DatabaseSchema(final String name, final List<TypeDefinition> types, final Map<String, TypeDefinition> typesByName,
        final long hash)
    {
        this.name = name;
        this.types = List.copyOf(types);
        this.typesById = this.types.toArray(new TypeDefinition[0]);
        this.typesByName = Map.copyOf(typesByName);
        this.hash = hash;
    }

    /**
     * @return the schema's name.
     */
    public String name()
    {
        return name;
    }

    /**
     * @return the types in type-id order.
     */
    public List<TypeDefinition> types()
    {
        return types;
    }

    /**
     * @return the stable 64-bit hash of the compiled layout (names, ids, kinds, offsets, limits).
     */
    public long hash()
    {
        return hash;
    }

    /**
     * @param typeName as written in the schema.
     * @return the type.
     * @throws IllegalArgumentException naming the type when there is none.
     */
    public TypeDefinition type(final String typeName)
    {
        final TypeDefinition type = typesByName.get(typeName);
        if (null == type)
        {
            throw new IllegalArgumentException(
                "schema " + name + " has no type named '" + typeName + "' (types: " + typesByName.keySet() + ")");
        }
        return type;
    }

    /**
     * @param typeId wire id.
     * @return the type, or null when there is none.
     */
    public TypeDefinition typeById(final int typeId)
    {
        final int index = typeId - 1;
        return index >= 0 && index < typesById.length ? typesById[index] : null;
    }

    /**
     * @return the most bytes any single record of this schema can take on the wire.
     */
    public int maxRecordLengthBytes()
    {
        int max = RecordFraming.MAX_FIXED_RECORD_LENGTH_BYTES;
        for (final TypeDefinition type : types)
        {
            max = Math.max(max, maxRecordLengthBytes(type));
        }
        return max;
    }

    /**
     * @param type a type of this schema.
     * @return the longest record of that type: a Create or Update with every field at its longest, or the
     * longest fixed-size record.
     */
    public static int maxRecordLengthBytes(final TypeDefinition type)
    {
        long length = RecordFraming.HEADER_LENGTH_BYTES + 10 + 4 + 4 + type.rowLengthBytes();
        for (final FieldDefinition field : type.fields())
        {
            length += 2 + 4 + field.maxLengthBytes();
        }
        return (int)Math.max(RecordFraming.MAX_FIXED_RECORD_LENGTH_BYTES, Math.min(length, Integer.MAX_VALUE));
    }

    /**
     * @return bytes {@link #encodeStoreSchema(MutableDirectBuffer, int)} writes.
     */
    public int storeSchemaLengthBytes()
    {
        int length = MessageHeaderEncoder.ENCODED_LENGTH + StoreSchemaEncoder.BLOCK_LENGTH +
            StoreSchemaEncoder.TypesEncoder.sbeHeaderSize();
        for (final TypeDefinition type : types)
        {
            length += StoreSchemaEncoder.TypesEncoder.sbeBlockLength() +
                StoreSchemaEncoder.TypesEncoder.FieldsEncoder.sbeHeaderSize() +
                type.fields().size() * StoreSchemaEncoder.TypesEncoder.FieldsEncoder.sbeBlockLength();
        }
        return length;
    }

    /**
     * Encodes the StoreSchema message the native store opens with.
     *
     * @param buffer to write into.
     * @param offset where the message starts.
     * @return length of the message in bytes, header included.
     */
    public int encodeStoreSchema(final MutableDirectBuffer buffer, final int offset)
    {
        final MessageHeaderEncoder header = new MessageHeaderEncoder();
        final StoreSchemaEncoder encoder = new StoreSchemaEncoder()
            .wrapAndApplyHeader(buffer, offset, header)
            .schemaHash(hash);
        final StoreSchemaEncoder.TypesEncoder typesEncoder = encoder.typesCount(types.size());
        for (final TypeDefinition type : types)
        {
            typesEncoder.next()
                .maxNodes(type.maxNodes())
                .maxArenaBytes(type.maxArenaBytes())
                .rowLengthBytes(type.rowLengthBytes())
                .typeId(type.typeId());
            final StoreSchemaEncoder.TypesEncoder.FieldsEncoder fieldsEncoder =
                typesEncoder.fieldsCount(type.fields().size());
            for (final FieldDefinition field : type.fields())
            {
                fieldsEncoder.next()
                    .offsetBytes(Math.max(0, field.offsetBytes()))
                    .maxLengthBytes(field.maxLengthBytes())
                    .fieldId(field.fieldId())
                    .kind(field.kind());
            }
        }
        final int lengthBytes = MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
        header.frameLengthBytes(lengthBytes);
        return lengthBytes;
    }

    public String toString()
    {
        return "DatabaseSchema{name=" + name + ", types=" + types.size() + ", hash=0x" + Long.toHexString(hash) + "}";
    }
}
