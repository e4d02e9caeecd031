package io.spate.codec;

import java.util.List;
import java.util.Map;

/**
 * A node type: its fields and the layout of its fixed row.
 *
 * @param name           the name users write, unique in the schema.
 * @param typeId         wire id, dense from 1 in declaration order.
 * @param maxNodes       most nodes of the type live at once (slots of deleted nodes are reused; ids are generational).
 * @param maxArenaBytes  most bytes of string/bytes data the store keeps for the type.
 * @param rowLengthBytes length of the fixed row a Create carries.
 * @param fields         fields in field-id order.
 * @param varFieldCount  how many string/bytes fields the type has.
 */
public record TypeDefinition(
    String name,
    int typeId,
    long maxNodes,
    long maxArenaBytes,
    int rowLengthBytes,
    List<FieldDefinition> fields,
    int varFieldCount,
    Map<String, FieldDefinition> fieldsByName)
{
    public TypeDefinition
    {
        fields = List.copyOf(fields);
        fieldsByName = Map.copyOf(fieldsByName);
    }

    /**
     * @param fieldName as written in the schema.
     * @return the field.
     * @throws IllegalArgumentException naming the type and the field when there is none.
     */
    public FieldDefinition field(final String fieldName)
    {
        final FieldDefinition field = fieldsByName.get(fieldName);
        if (null == field)
        {
            throw new IllegalArgumentException(
                "type " + name + " has no field named '" + fieldName + "' (fields: " + fieldsByName.keySet() + ")");
        }
        return field;
    }

    /**
     * @param fieldId wire id.
     * @return the field, or null when the type has no such field.
     */
    public FieldDefinition fieldById(final int fieldId)
    {
        return fieldId >= 1 && fieldId <= fields.size() ? fields.get(fieldId - 1) : null;
    }
}
