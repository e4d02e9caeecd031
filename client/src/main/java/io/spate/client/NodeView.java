package io.spate.client;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.FieldDefinition;
import io.spate.codec.TypeDefinition;
import org.agrona.DirectBuffer;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Flyweight over a copy of one node, as the store's {@code get} writes it and a read answer carries it:
 * the fixed row, then each string/bytes field (field-id order) as a u32 length and its bytes. Typed
 * getters by field handle.
 */
public final class NodeView
{
    private static final int VALUE_LENGTH_BYTES = 4;

    /**
     * @param type to size a node copy for.
     * @return the most bytes a copy of a node of the type takes.
     */
    public static int maxLengthBytes(final TypeDefinition type)
    {
        long length = type.rowLengthBytes();
        for (final FieldDefinition field : type.fields())
        {
            if (field.isVariable())
            {
                length += VALUE_LENGTH_BYTES + field.maxLengthBytes();
            }
        }
        return (int)Math.min(length, Integer.MAX_VALUE);
    }

    /**
     * @param schema to size a node copy for.
     * @return the most bytes a copy of a node of any type of the schema takes (at least 8).
     */
    public static int maxLengthBytes(final DatabaseSchema schema)
    {
        int max = 8;
        for (final TypeDefinition type : schema.types())
        {
            max = Math.max(max, maxLengthBytes(type));
        }
        return max;
    }

    private TypeDefinition type;
    private DirectBuffer buffer;
    private int offset;
    private int lengthBytes;
    private int[] varOffsets = new int[8];
    private int[] varLengths = new int[8];

    /**
     * @param type        of the node.
     * @param buffer      holding the copy.
     * @param offset      of the copy.
     * @param lengthBytes what get returned.
     * @return this.
     * @throws IllegalStateException if the copy does not match the type's layout.
     */
    public NodeView wrap(final TypeDefinition type, final DirectBuffer buffer, final int offset, final int lengthBytes)
    {
        this.type = type;
        this.buffer = buffer;
        this.offset = offset;
        this.lengthBytes = lengthBytes;
        if (varOffsets.length < type.varFieldCount())
        {
            varOffsets = new int[type.varFieldCount()];
            varLengths = new int[type.varFieldCount()];
        }
        int position = offset + type.rowLengthBytes();
        final int end = offset + lengthBytes;
        for (int i = 0; i < type.varFieldCount(); i++)
        {
            if (position + VALUE_LENGTH_BYTES > end)
            {
                throw new IllegalStateException("node copy of " + lengthBytes + " bytes is short for type " + type.name());
            }
            final int length = buffer.getInt(position, ByteOrder.LITTLE_ENDIAN);
            position += VALUE_LENGTH_BYTES;
            if (length < 0 || length > end - position)
            {
                throw new IllegalStateException("node copy has a bad length " + length + " for type " + type.name());
            }
            varOffsets[i] = position;
            varLengths[i] = length;
            position += length;
        }
        if (position != end)
        {
            throw new IllegalStateException("node copy has " + (end - position) + " trailing bytes");
        }
        return this;
    }

    public TypeDefinition type()
    {
        return type;
    }

    public int lengthBytes()
    {
        return lengthBytes;
    }

    /**
     * @param field integer or timestamp field; u8/u16/u32 read as unsigned, u64 as its bits.
     * @return the value.
     */
    public long getLong(final FieldDefinition field)
    {
        final int at = offset + fixedOffset(field);
        return switch (field.kind())
        {
            case U8, BOOL -> buffer.getByte(at) & 0xFFL;
            case U16 -> buffer.getShort(at, ByteOrder.LITTLE_ENDIAN) & 0xFFFFL;
            case U32 -> buffer.getInt(at, ByteOrder.LITTLE_ENDIAN) & 0xFFFF_FFFFL;
            case I32 -> buffer.getInt(at, ByteOrder.LITTLE_ENDIAN);
            default -> buffer.getLong(at, ByteOrder.LITTLE_ENDIAN);
        };
    }

    public double getDouble(final FieldDefinition field)
    {
        return buffer.getDouble(offset + fixedOffset(field), ByteOrder.LITTLE_ENDIAN);
    }

    public boolean getBoolean(final FieldDefinition field)
    {
        return buffer.getByte(offset + fixedOffset(field)) != 0;
    }

    /**
     * @return offset of a string/bytes value in {@link #buffer()}.
     */
    public int varOffset(final FieldDefinition field)
    {
        return varOffsets[varIndex(field)];
    }

    public int varLengthBytes(final FieldDefinition field)
    {
        return varLengths[varIndex(field)];
    }

    /**
     * Allocates a String: for tools and tests, not hot paths.
     */
    public String getString(final FieldDefinition field)
    {
        final int index = varIndex(field);
        final byte[] bytes = new byte[varLengths[index]];
        buffer.getBytes(varOffsets[index], bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /**
     * Allocates a copy: for tools and tests.
     */
    public byte[] getBytes(final FieldDefinition field)
    {
        final int index = varIndex(field);
        final byte[] bytes = new byte[varLengths[index]];
        buffer.getBytes(varOffsets[index], bytes);
        return bytes;
    }

    public DirectBuffer buffer()
    {
        return buffer;
    }

    private int fixedOffset(final FieldDefinition field)
    {
        checkField(field);
        if (field.isVariable())
        {
            throw new IllegalArgumentException("field " + field.name() + " is " + field.kind() + ", not fixed-width");
        }
        return field.offsetBytes();
    }

    private int varIndex(final FieldDefinition field)
    {
        checkField(field);
        if (!field.isVariable())
        {
            throw new IllegalArgumentException("field " + field.name() + " is " + field.kind() + ", not string/bytes");
        }
        return field.varIndex();
    }

    private void checkField(final FieldDefinition field)
    {
        if (type.fieldById(field.fieldId()) != field)
        {
            throw new IllegalArgumentException("field " + field.name() + " is not a field of type " + type.name());
        }
    }


    /**
     * @return the node as one row: {@code Type{field=value, ...}} in the schema's field order, strings
     * quoted, bytes in hex (allocates: for people, not hot paths).
     */
    public String toString()
    {
        if (null == type)
        {
            return "NodeView{unwrapped}";
        }
        final StringBuilder row = new StringBuilder(type.name()).append('{');
        boolean first = true;
        for (final io.spate.codec.FieldDefinition field : type.fields())
        {
            if (!first)
            {
                row.append(", ");
            }
            first = false;
            row.append(field.name()).append('=');
            switch (field.kind())
            {
                case STRING -> row.append('"').append(getString(field)).append('"');
                case BYTES ->
                {
                    row.append("0x");
                    for (final byte b : getBytes(field))
                    {
                        row.append(Character.forDigit((b >> 4) & 0xF, 16)).append(Character.forDigit(b & 0xF, 16));
                    }
                }
                case F64 -> row.append(getDouble(field));
                case BOOL -> row.append(getBoolean(field));
                default -> row.append(getLong(field));
            }
        }
        return row.append('}').toString();
    }
}
