package io.spate.codec;

import io.spate.wire.FieldKind;

/**
 * One field of a node type, as the schema compiler laid it out.
 *
 * @param name           the name users write, unique in its type.
 * @param fieldId        wire id, dense from 1 in declaration order.
 * @param kind           value kind.
 * @param offsetBytes    offset in the type's fixed row; -1 for string and bytes fields.
 * @param maxLengthBytes width of a fixed field, most bytes of a string or bytes field.
 * @param varIndex       index among the type's string/bytes fields (field-id order); -1 for fixed fields.
 */
public record FieldDefinition(
    String name, int fieldId, FieldKind kind, int offsetBytes, int maxLengthBytes, int varIndex)
{
    public FieldDefinition
    {
        if (isVariable(kind) != (offsetBytes < 0) || isVariable(kind) != (varIndex >= 0))
        {
            throw new IllegalArgumentException("inconsistent layout for field " + name);
        }
    }

    /**
     * @return true for string and bytes fields, which live outside the fixed row.
     */
    public boolean isVariable()
    {
        return isVariable(kind);
    }

    /**
     * @return true for fields an Increment may change.
     */
    public boolean isNumeric()
    {
        return switch (kind)
        {
            case U8, U16, U32, U64, I32, I64, F64, TIMESTAMP -> true;
            default -> false;
        };
    }

    /**
     * @param kind of a field.
     * @return true for string and bytes.
     */
    public static boolean isVariable(final FieldKind kind)
    {
        return kind == FieldKind.STRING || kind == FieldKind.BYTES;
    }

    /**
     * @param kind of a fixed field.
     * @return its width in the row in bytes.
     */
    public static int fixedWidthBytes(final FieldKind kind)
    {
        return switch (kind)
        {
            case U8, BOOL -> 1;
            case U16 -> 2;
            case U32, I32 -> 4;
            case U64, I64, F64, TIMESTAMP -> 8;
            default -> throw new IllegalArgumentException("not a fixed-width kind: " + kind);
        };
    }
}
