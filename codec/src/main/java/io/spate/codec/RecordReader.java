package io.spate.codec;

import io.spate.wire.BatchHeaderDecoder;
import io.spate.wire.CreateDecoder;
import io.spate.wire.DeleteDecoder;
import io.spate.wire.IncrementDecoder;
import io.spate.wire.RecordStatus;
import io.spate.wire.UpdateDecoder;
import org.agrona.DirectBuffer;

import java.nio.ByteOrder;

import static io.spate.codec.RecordFraming.BLOCK_LENGTH_OFFSET;
import static io.spate.codec.RecordFraming.FRAME_LENGTH_OFFSET;
import static io.spate.codec.RecordFraming.HEADER_LENGTH_BYTES;
import static io.spate.codec.RecordFraming.SCHEMA_ID_OFFSET;
import static io.spate.codec.RecordFraming.TEMPLATE_ID_OFFSET;
import static io.spate.codec.RecordFraming.VERSION_OFFSET;

/**
 * Walks the messages of a slice (batch headers and records) and checks each against the wire
 * format and the database schema, without touching any store: the checks the conductor makes
 * before a record enters the modify buffer, and the same ones the native store makes, in the
 * same order, so both give a record the same status.
 * <ol>
 * <li>Framing: fewer than 12 bytes left, or a frame length below 12 or past the slice end, is
 * MALFORMED and ends the walk (the rest of the slice is one MALFORMED message).</li>
 * <li>Wire schema id or version not ours: SCHEMA_MISMATCH. Template not a batch header or a
 * record kind: UNKNOWN_TEMPLATE. Both are skipped by their frame length.</li>
 * <li>Structure: block length shorter than the template's, a group or value running past the
 * frame, or bytes left over in the frame: MALFORMED.</li>
 * <li>Schema: unknown type id (UNKNOWN_TYPE); a Create's row of the wrong length (MALFORMED);
 * per field value in wire order, unknown field id or a fixed field in a Create's varFields
 * (UNKNOWN_FIELD), value longer than the field (VALUE_TOO_LARGE), fixed value shorter than its
 * width (MALFORMED); an Increment of a field that is not numeric (WRONG_FIELD_KIND).</li>
 * </ol>
 * What needs the store's state (ids, existence, references, capacity) is left to the store.
 * Allocation-free once its entry tables have grown to the largest record seen.
 */
public final class RecordReader
{
    /** Template ids this reader knows. */
    public static final int BATCH_HEADER = BatchHeaderDecoder.TEMPLATE_ID;
    public static final int CREATE = CreateDecoder.TEMPLATE_ID;
    public static final int UPDATE = UpdateDecoder.TEMPLATE_ID;
    public static final int DELETE = DeleteDecoder.TEMPLATE_ID;
    public static final int INCREMENT = IncrementDecoder.TEMPLATE_ID;

    private static final int GROUP_HEADER_LENGTH_BYTES = 4;
    private static final int VALUE_LENGTH_BYTES = 4;
    private static final int MAX_ENTRIES = 65535;

    private final DatabaseSchema schema;
    private DirectBuffer buffer;
    private int endOffset;
    private int nextOffset;

    private int offset;
    private int frameLengthBytes;
    private int templateId;
    private int status;
    private TypeDefinition type;
    private long nodeId;
    private long createRef;
    private int fieldId;
    private long delta;
    private int rowOffset;
    private int rowLengthBytes;
    private int entryCount;
    private int[] entryFieldIds = new int[16];
    private int[] entryValueOffsets = new int[16];
    private int[] entryValueLengths = new int[16];

    /**
     * @param schema records are checked against.
     */
    public RecordReader(final DatabaseSchema schema)
    {
        this.schema = schema;
    }

    /**
     * @param buffer      holding the slice.
     * @param offset      where the slice starts.
     * @param lengthBytes of the slice.
     * @return this.
     */
    public RecordReader wrap(final DirectBuffer buffer, final int offset, final int lengthBytes)
    {
        if (offset < 0 || lengthBytes < 0 || (long)offset + lengthBytes > buffer.capacity())
        {
            throw new IllegalArgumentException("slice [" + offset + ", +" + lengthBytes + ") is outside the " +
                buffer.capacity() + "-byte buffer");
        }
        this.buffer = buffer;
        this.nextOffset = offset;
        this.endOffset = offset + lengthBytes;
        this.frameLengthBytes = 0;
        return this;
    }

    /**
     * Moves to the next message and checks it.
     *
     * @return false when the slice is used up.
     */
    public boolean next()
    {
        if (nextOffset >= endOffset)
        {
            return false;
        }
        offset = nextOffset;
        reset();
        final int remainingBytes = endOffset - offset;
        if (remainingBytes < HEADER_LENGTH_BYTES)
        {
            return stop();
        }
        final long frameLength = buffer.getInt(offset + FRAME_LENGTH_OFFSET, ByteOrder.LITTLE_ENDIAN) & 0xFFFF_FFFFL;
        templateId = buffer.getShort(offset + TEMPLATE_ID_OFFSET, ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        if (frameLength < HEADER_LENGTH_BYTES || frameLength > remainingBytes)
        {
            return stop();
        }
        frameLengthBytes = (int)frameLength;
        nextOffset = offset + frameLengthBytes;

        final int schemaId = buffer.getShort(offset + SCHEMA_ID_OFFSET, ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        final int version = buffer.getShort(offset + VERSION_OFFSET, ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        if (schemaId != RecordFraming.SCHEMA_ID || version > RecordFraming.SCHEMA_VERSION)
        {
            status = RecordStatus.SCHEMA_MISMATCH.value();
            return true;
        }
        final int expectedBlockLength = switch (templateId)
        {
            case BATCH_HEADER -> BatchHeaderDecoder.BLOCK_LENGTH;
            case CREATE -> CreateDecoder.BLOCK_LENGTH;
            case UPDATE -> UpdateDecoder.BLOCK_LENGTH;
            case DELETE -> DeleteDecoder.BLOCK_LENGTH;
            case INCREMENT -> IncrementDecoder.BLOCK_LENGTH;
            default -> -1;
        };
        if (expectedBlockLength < 0)
        {
            status = RecordStatus.UNKNOWN_TEMPLATE.value();
            return true;
        }
        final int blockLength = buffer.getShort(offset + BLOCK_LENGTH_OFFSET, ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        final int blockOffset = offset + HEADER_LENGTH_BYTES;
        if (blockLength < expectedBlockLength || blockLength > frameLengthBytes - HEADER_LENGTH_BYTES)
        {
            status = RecordStatus.MALFORMED.value();
            return true;
        }
        status = switch (templateId)
        {
            case BATCH_HEADER -> checkNoTrailingBytes(blockOffset + blockLength);
            case CREATE -> readCreate(blockOffset, blockLength);
            case UPDATE -> readUpdate(blockOffset, blockLength);
            case DELETE -> readDelete(blockOffset, blockLength);
            default -> readIncrement(blockOffset, blockLength);
        };
        return true;
    }

    /**
     * @return true when the current message is the MALFORMED remainder that ends the walk.
     */
    public boolean isFramingStop()
    {
        return nextOffset == endOffset && status == RecordStatus.MALFORMED.value() && frameLengthBytes == 0;
    }

    public int offset()
    {
        return offset;
    }

    /**
     * @return the frame length, or the bytes left when framing failed.
     */
    public int frameLengthBytes()
    {
        return frameLengthBytes;
    }

    public int templateId()
    {
        return templateId;
    }

    /**
     * @return the {@link RecordStatus} value of the static checks; OK means the store may still
     * refuse it for reasons of state.
     */
    public int status()
    {
        return status;
    }

    /**
     * @return the record's type when its block is readable and names a type of the schema (even if
     * the rest of the record is malformed: a Create with the right id still takes it), else null.
     */
    public TypeDefinition type()
    {
        return type;
    }

    public long nodeId()
    {
        return nodeId;
    }

    /**
     * @return the 1-based index of a Create earlier in the batch (unsigned 32-bit), or 0.
     */
    public long createRef()
    {
        return createRef;
    }

    /**
     * @return the Increment's field id.
     */
    public int fieldId()
    {
        return fieldId;
    }

    public long delta()
    {
        return delta;
    }

    public DirectBuffer buffer()
    {
        return buffer;
    }

    public int rowOffset()
    {
        return rowOffset;
    }

    public int rowLengthBytes()
    {
        return rowLengthBytes;
    }

    /**
     * @return field values in the Create's varFields or the Update's fields.
     */
    public int entryCount()
    {
        return entryCount;
    }

    public int entryFieldId(final int index)
    {
        return entryFieldIds[index];
    }

    public int entryValueOffset(final int index)
    {
        return entryValueOffsets[index];
    }

    public int entryValueLengthBytes(final int index)
    {
        return entryValueLengths[index];
    }

    /**
     * @return the BatchHeader's schema hash.
     */
    public long batchSchemaHash()
    {
        return buffer.getLong(offset + HEADER_LENGTH_BYTES + BatchHeaderDecoder.schemaHashEncodingOffset(),
            ByteOrder.LITTLE_ENDIAN);
    }

    public long batchSessionId()
    {
        return buffer.getLong(offset + HEADER_LENGTH_BYTES + BatchHeaderDecoder.sessionIdEncodingOffset(),
            ByteOrder.LITTLE_ENDIAN);
    }

    public long batchCorrelationId()
    {
        return buffer.getLong(offset + HEADER_LENGTH_BYTES + BatchHeaderDecoder.correlationIdEncodingOffset(),
            ByteOrder.LITTLE_ENDIAN);
    }

    public long batchRecordCount()
    {
        return buffer.getInt(offset + HEADER_LENGTH_BYTES + BatchHeaderDecoder.recordCountEncodingOffset(),
            ByteOrder.LITTLE_ENDIAN) & 0xFFFF_FFFFL;
    }

    private void reset()
    {
        templateId = 0;
        frameLengthBytes = 0;
        status = RecordStatus.OK.value();
        type = null;
        nodeId = 0;
        createRef = 0;
        fieldId = 0;
        delta = 0;
        rowOffset = 0;
        rowLengthBytes = 0;
        entryCount = 0;
    }

    private boolean stop()
    {
        frameLengthBytes = 0;
        nextOffset = endOffset;
        status = RecordStatus.MALFORMED.value();
        return true;
    }

    private int frameEnd()
    {
        return offset + frameLengthBytes;
    }

    private int checkNoTrailingBytes(final int endOfMessage)
    {
        return endOfMessage == frameEnd() ? RecordStatus.OK.value() : RecordStatus.MALFORMED.value();
    }

    private int readCreate(final int blockOffset, final int blockLength)
    {
        nodeId = buffer.getLong(blockOffset + CreateDecoder.nodeIdEncodingOffset(), ByteOrder.LITTLE_ENDIAN);
        final int typeId = buffer.getShort(blockOffset + CreateDecoder.typeIdEncodingOffset(), ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        type = schema.typeById(typeId);
        int position = readEntries(blockOffset + blockLength, CreateDecoder.VarFieldsDecoder.sbeBlockLength());
        if (position < 0 || position > frameEnd() - VALUE_LENGTH_BYTES)
        {
            return RecordStatus.MALFORMED.value();
        }
        final long rowLength = buffer.getInt(position, ByteOrder.LITTLE_ENDIAN) & 0xFFFF_FFFFL;
        position += VALUE_LENGTH_BYTES;
        if (rowLength != frameEnd() - position)
        {
            return RecordStatus.MALFORMED.value();
        }
        rowOffset = position;
        rowLengthBytes = (int)rowLength;
        if (null == type)
        {
            return RecordStatus.UNKNOWN_TYPE.value();
        }
        if (rowLengthBytes != type.rowLengthBytes())
        {
            return RecordStatus.MALFORMED.value();
        }
        for (int i = 0; i < entryCount; i++)
        {
            final FieldDefinition field = type.fieldById(entryFieldIds[i]);
            if (null == field || !field.isVariable())
            {
                return RecordStatus.UNKNOWN_FIELD.value();
            }
            if (entryValueLengths[i] > field.maxLengthBytes())
            {
                return RecordStatus.VALUE_TOO_LARGE.value();
            }
        }
        return RecordStatus.OK.value();
    }

    private int readUpdate(final int blockOffset, final int blockLength)
    {
        nodeId = buffer.getLong(blockOffset + UpdateDecoder.nodeIdEncodingOffset(), ByteOrder.LITTLE_ENDIAN);
        createRef = buffer.getInt(blockOffset + UpdateDecoder.createRefEncodingOffset(), ByteOrder.LITTLE_ENDIAN) & 0xFFFF_FFFFL;
        final int typeId = buffer.getShort(blockOffset + UpdateDecoder.typeIdEncodingOffset(), ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        final int position = readEntries(blockOffset + blockLength, UpdateDecoder.FieldsDecoder.sbeBlockLength());
        if (position != frameEnd())
        {
            return RecordStatus.MALFORMED.value();
        }
        type = schema.typeById(typeId);
        if (null == type)
        {
            return RecordStatus.UNKNOWN_TYPE.value();
        }
        for (int i = 0; i < entryCount; i++)
        {
            final FieldDefinition field = type.fieldById(entryFieldIds[i]);
            if (null == field)
            {
                return RecordStatus.UNKNOWN_FIELD.value();
            }
            if (entryValueLengths[i] > field.maxLengthBytes())
            {
                return RecordStatus.VALUE_TOO_LARGE.value();
            }
            if (!field.isVariable() && entryValueLengths[i] < field.maxLengthBytes())
            {
                return RecordStatus.MALFORMED.value();
            }
        }
        return RecordStatus.OK.value();
    }

    private int readDelete(final int blockOffset, final int blockLength)
    {
        nodeId = buffer.getLong(blockOffset + DeleteDecoder.nodeIdEncodingOffset(), ByteOrder.LITTLE_ENDIAN);
        createRef = buffer.getInt(blockOffset + DeleteDecoder.createRefEncodingOffset(), ByteOrder.LITTLE_ENDIAN) & 0xFFFF_FFFFL;
        final int typeId = buffer.getShort(blockOffset + DeleteDecoder.typeIdEncodingOffset(), ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        if (blockOffset + blockLength != frameEnd())
        {
            return RecordStatus.MALFORMED.value();
        }
        type = schema.typeById(typeId);
        return null == type ? RecordStatus.UNKNOWN_TYPE.value() : RecordStatus.OK.value();
    }

    private int readIncrement(final int blockOffset, final int blockLength)
    {
        nodeId = buffer.getLong(blockOffset + IncrementDecoder.nodeIdEncodingOffset(), ByteOrder.LITTLE_ENDIAN);
        delta = buffer.getLong(blockOffset + IncrementDecoder.deltaEncodingOffset(), ByteOrder.LITTLE_ENDIAN);
        createRef = buffer.getInt(blockOffset + IncrementDecoder.createRefEncodingOffset(), ByteOrder.LITTLE_ENDIAN) & 0xFFFF_FFFFL;
        final int typeId = buffer.getShort(blockOffset + IncrementDecoder.typeIdEncodingOffset(), ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        fieldId = buffer.getShort(blockOffset + IncrementDecoder.fieldIdEncodingOffset(), ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        if (blockOffset + blockLength != frameEnd())
        {
            return RecordStatus.MALFORMED.value();
        }
        type = schema.typeById(typeId);
        if (null == type)
        {
            return RecordStatus.UNKNOWN_TYPE.value();
        }
        final FieldDefinition field = type.fieldById(fieldId);
        if (null == field)
        {
            return RecordStatus.UNKNOWN_FIELD.value();
        }
        return field.isNumeric() ? RecordStatus.OK.value() : RecordStatus.WRONG_FIELD_KIND.value();
    }

    /**
     * Reads a group of {fieldId, value} entries starting at groupOffset.
     *
     * @return the offset after the group, or -1 when it does not fit the frame.
     */
    private int readEntries(final int groupOffset, final int expectedEntryBlockLength)
    {
        final int frameEnd = frameEnd();
        if (groupOffset > frameEnd - GROUP_HEADER_LENGTH_BYTES)
        {
            return -1;
        }
        final int entryBlockLength = buffer.getShort(groupOffset, ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        final int count = buffer.getShort(groupOffset + 2, ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        if (entryBlockLength < expectedEntryBlockLength)
        {
            return -1;
        }
        ensureEntryCapacity(count);
        int position = groupOffset + GROUP_HEADER_LENGTH_BYTES;
        for (int i = 0; i < count; i++)
        {
            if (position > frameEnd - entryBlockLength - VALUE_LENGTH_BYTES)
            {
                return -1;
            }
            entryFieldIds[i] = buffer.getShort(position, ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
            position += entryBlockLength;
            final long valueLength = buffer.getInt(position, ByteOrder.LITTLE_ENDIAN) & 0xFFFF_FFFFL;
            position += VALUE_LENGTH_BYTES;
            if (valueLength > frameEnd - position)
            {
                return -1;
            }
            entryValueOffsets[i] = position;
            entryValueLengths[i] = (int)valueLength;
            position += (int)valueLength;
        }
        entryCount = count;
        return position;
    }

    private void ensureEntryCapacity(final int count)
    {
        if (count > entryFieldIds.length)
        {
            final int capacity = Math.min(MAX_ENTRIES, Math.max(count, entryFieldIds.length * 2));
            entryFieldIds = new int[capacity];
            entryValueOffsets = new int[capacity];
            entryValueLengths = new int[capacity];
        }
    }
}
