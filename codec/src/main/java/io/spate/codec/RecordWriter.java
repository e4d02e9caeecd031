package io.spate.codec;

import io.spate.wire.BatchHeaderEncoder;
import io.spate.wire.CreateEncoder;
import io.spate.wire.DeleteEncoder;
import io.spate.wire.FieldKind;
import io.spate.wire.IncrementEncoder;
import io.spate.wire.MessageHeaderEncoder;
import io.spate.wire.UpdateEncoder;
import org.agrona.BitUtil;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;

import static io.spate.codec.RecordFraming.FRAME_LENGTH_OFFSET;
import static io.spate.codec.RecordFraming.HEADER_LENGTH_BYTES;

/**
 * Encodes modify records into a client batch, flyweight style: wrap a buffer, write records,
 * nothing is allocated in steady state.
 * <pre>
 * writer.wrap(buffer, 0, capacity).beginBatch(sessionId, correlationId);
 * final int user = writer.create(userType);        // 1-based index, usable as a createRef
 * writer.setLong(age, 42).setString(name, "Ada");
 * writer.updateCreated(userType, user).setLong(age, 43);
 * final int lengthBytes = writer.endBatch();
 * </pre>
 * A Create or Update stays open for setters until the next record or {@link #endBatch()}.
 * Var-length values are written straight into the batch; a Create's fixed row is staged in a
 * small scratch row and appended when the record closes (SBE puts var data after groups).
 * Misuse (a field of another type, a value out of the field's range, a full buffer) throws
 * {@link IllegalArgumentException} or {@link IllegalStateException} naming the field.
 */
public final class RecordWriter
{
    private static final int NONE = 0;
    private static final int CREATE = 1;
    private static final int UPDATE = 2;
    private static final int VALUE_LENGTH_BYTES = 4;
    private static final int GROUP_HEADER_LENGTH_BYTES = 4;
    private static final int ENTRY_FIELD_ID_LENGTH_BYTES = 2;
    private static final int MAX_ENTRIES_PER_RECORD = 65535;
    private static final long CREATE_HEADER_WORD = headerWord(CreateEncoder.BLOCK_LENGTH, CreateEncoder.TEMPLATE_ID);
    private static final long UPDATE_HEADER_WORD = headerWord(UpdateEncoder.BLOCK_LENGTH, UpdateEncoder.TEMPLATE_ID);
    private static final long DELETE_HEADER_WORD = headerWord(DeleteEncoder.BLOCK_LENGTH, DeleteEncoder.TEMPLATE_ID);
    private static final long INCREMENT_HEADER_WORD =
        headerWord(IncrementEncoder.BLOCK_LENGTH, IncrementEncoder.TEMPLATE_ID);

    private final DatabaseSchema schema;
    /** Each type's fields by field id - 1, by type id: a check without the List look-up. */
    private final FieldDefinition[][] fieldsByTypeId;
    private final UnsafeBuffer rowScratch;
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final BatchHeaderEncoder batchHeaderEncoder = new BatchHeaderEncoder();

    private MutableDirectBuffer buffer;
    private int startOffset;
    private int limitOffset;
    private int positionOffset;
    private int batchHeaderOffset = -1;
    private int recordCount;

    private int pendingKind = NONE;
    private TypeDefinition pendingType;
    /** The open record's fields by field id - 1; null when none is open. */
    private FieldDefinition[] pendingFields;
    private int pendingRecordOffset;
    private int pendingGroupHeaderOffset;
    private int pendingEntryCount;

    /**
     * @param schema the database schema records are written against.
     */
    public RecordWriter(final DatabaseSchema schema)
    {
        this.schema = schema;
        final int typeCount = schema.types().size();
        fieldsByTypeId = new FieldDefinition[typeCount + 1][];
        int maxRowLengthBytes = 8;
        for (final TypeDefinition type : schema.types())
        {
            maxRowLengthBytes = Math.max(maxRowLengthBytes, type.rowLengthBytes());
            fieldsByTypeId[type.typeId()] = type.fields().toArray(new FieldDefinition[0]);
        }
        rowScratch = new UnsafeBuffer(new byte[BitUtil.align(maxRowLengthBytes, 8)]);
    }

    /**
     * @return the schema this writer checks fields against.
     */
    public DatabaseSchema schema()
    {
        return schema;
    }

    /**
     * Points the writer at a region; any open batch is dropped.
     *
     * @param buffer        to write into.
     * @param offset        where the batch starts.
     * @param capacityBytes bytes available from offset.
     * @return this.
     */
    public RecordWriter wrap(final MutableDirectBuffer buffer, final int offset, final int capacityBytes)
    {
        if (offset < 0 || capacityBytes < 0 || (long)offset + capacityBytes > buffer.capacity())
        {
            throw new IllegalArgumentException("region [" + offset + ", +" + capacityBytes + ") is outside the " +
                buffer.capacity() + "-byte buffer");
        }
        this.buffer = buffer;
        startOffset = offset;
        limitOffset = offset + capacityBytes;
        positionOffset = offset;
        batchHeaderOffset = -1;
        recordCount = 0;
        pendingKind = NONE;
        pendingType = null;
        pendingFields = null;
        return this;
    }

    /**
     * Writes the BatchHeader; the record count is filled in by {@link #endBatch()}.
     *
     * @param sessionId     the producer's session, as the pipeline issued it.
     * @param correlationId the producer's id for this batch, echoed in its ack.
     * @return this.
     */
    public RecordWriter beginBatch(final long sessionId, final long correlationId)
    {
        if (positionOffset != startOffset)
        {
            throw new IllegalStateException("beginBatch must come first in the wrapped region");
        }
        final int lengthBytes = HEADER_LENGTH_BYTES + BatchHeaderEncoder.BLOCK_LENGTH;
        ensureRemaining(lengthBytes, "BatchHeader");
        batchHeaderEncoder.wrapAndApplyHeader(buffer, positionOffset, headerEncoder)
            .sessionId(sessionId)
            .correlationId(correlationId)
            .schemaHash(schema.hash())
            .recordCount(0);
        headerEncoder.frameLengthBytes(lengthBytes);
        batchHeaderOffset = positionOffset;
        positionOffset += lengthBytes;
        return this;
    }

    /**
     * Closes the open record and, when the batch has a header, writes its record count.
     *
     * @return bytes written since {@link #wrap(MutableDirectBuffer, int, int)}.
     */
    public int endBatch()
    {
        closePending();
        if (batchHeaderOffset >= 0)
        {
            buffer.putInt(
                batchHeaderOffset + HEADER_LENGTH_BYTES + BatchHeaderEncoder.recordCountEncodingOffset(),
                recordCount,
                ByteOrder.LITTLE_ENDIAN);
        }
        return positionOffset - startOffset;
    }

    /**
     * @return records written so far (batch header not counted).
     */
    public int recordCount()
    {
        return recordCount;
    }

    /**
     * @return bytes written so far, the open record included.
     */
    public int lengthBytes()
    {
        return positionOffset - startOffset + pendingTailBytes();
    }

    /**
     * @return bytes still free in the wrapped region (the open record's row counted as used).
     */
    public int remainingBytes()
    {
        return limitOffset - startOffset - lengthBytes();
    }

    /**
     * Opens a Create; set its fields, then write the next record or end the batch.
     *
     * @param type of the node.
     * @return the record's 1-based index in the batch, to name the node in later records of it.
     */
    public int create(final TypeDefinition type)
    {
        return create(type, 0);
    }

    /**
     * Opens a Create carrying the id the pipeline decided.
     *
     * @param type   of the node.
     * @param nodeId the id the pipeline decided (at or past the type's next id: the ids between are
     *               skipped, never live), or 0 to let the store choose.
     * @return the record's 1-based index in the batch.
     */
    public int create(final TypeDefinition type, final long nodeId)
    {
        checkType(type);
        closePending();
        final int fixedLengthBytes = HEADER_LENGTH_BYTES + CreateEncoder.BLOCK_LENGTH + GROUP_HEADER_LENGTH_BYTES;
        ensureRemaining(fixedLengthBytes + VALUE_LENGTH_BYTES + type.rowLengthBytes(), type.name());
        pendingRecordOffset = positionOffset;
        putHeader(CREATE_HEADER_WORD);
        final int blockOffset = positionOffset + HEADER_LENGTH_BYTES;
        buffer.putLong(blockOffset + CreateEncoder.nodeIdEncodingOffset(), nodeId, ByteOrder.LITTLE_ENDIAN);
        buffer.putShort(blockOffset + CreateEncoder.typeIdEncodingOffset(), (short)type.typeId(), ByteOrder.LITTLE_ENDIAN);
        openGroup(blockOffset + CreateEncoder.BLOCK_LENGTH, CreateEncoder.VarFieldsEncoder.sbeBlockLength());
        clearRowScratch(type.rowLengthBytes());
        openPending(CREATE, type);
        return ++recordCount;
    }

    /**
     * Opens an Update of a node by id.
     *
     * @param type   of the node.
     * @param nodeId of the node.
     * @return the record's 1-based index in the batch.
     */
    public int update(final TypeDefinition type, final long nodeId)
    {
        return update(type, nodeId, 0);
    }

    /**
     * Opens an Update of a node created earlier in this batch.
     *
     * @param type      of the node.
     * @param createRef what {@link #create(TypeDefinition)} returned.
     * @return the record's 1-based index in the batch.
     */
    public int updateCreated(final TypeDefinition type, final int createRef)
    {
        checkCreateRef(createRef);
        return update(type, 0, createRef);
    }

    /**
     * Writes a Delete of a node by id.
     *
     * @param type   of the node.
     * @param nodeId of the node.
     * @return the record's 1-based index in the batch.
     */
    public int delete(final TypeDefinition type, final long nodeId)
    {
        return delete(type, nodeId, 0);
    }

    /**
     * Writes a Delete of a node created earlier in this batch.
     *
     * @param type      of the node.
     * @param createRef what {@link #create(TypeDefinition)} returned.
     * @return the record's 1-based index in the batch.
     */
    public int deleteCreated(final TypeDefinition type, final int createRef)
    {
        checkCreateRef(createRef);
        return delete(type, 0, createRef);
    }

    /**
     * Writes an Increment of a numeric field of a node by id.
     *
     * @param type   of the node.
     * @param nodeId of the node.
     * @param field  numeric field of the type.
     * @param delta  signed amount; integer fields wrap modulo their width.
     * @return the record's 1-based index in the batch.
     */
    public int increment(final TypeDefinition type, final long nodeId, final FieldDefinition field, final long delta)
    {
        return increment(type, nodeId, 0, field, delta);
    }

    /**
     * Writes an Increment of a numeric field of a node created earlier in this batch.
     *
     * @param type      of the node.
     * @param createRef what {@link #create(TypeDefinition)} returned.
     * @param field     numeric field of the type.
     * @param delta     signed amount.
     * @return the record's 1-based index in the batch.
     */
    public int incrementCreated(
        final TypeDefinition type, final int createRef, final FieldDefinition field, final long delta)
    {
        checkCreateRef(createRef);
        return increment(type, 0, createRef, field, delta);
    }

    /**
     * Sets an integer field (u8, u16, u32, u64, i32, i64, timestamp) of the open record.
     * u64 takes any long, read as unsigned.
     *
     * @param field of the open record's type.
     * @param value in the field's range.
     * @return this.
     */
    public RecordWriter setLong(final FieldDefinition field, final long value)
    {
        checkField(field);
        final boolean inRange = switch (field.kind())
        {
            case U8 -> value >= 0 && value <= 0xFF;
            case U16 -> value >= 0 && value <= 0xFFFF;
            case U32 -> value >= 0 && value <= 0xFFFF_FFFFL;
            case I32 -> value >= Integer.MIN_VALUE && value <= Integer.MAX_VALUE;
            case U64, I64, TIMESTAMP -> true;
            default -> throw new IllegalArgumentException(
                "field " + pendingType.name() + "." + field.name() + " is " + field.kind() + ", not an integer");
        };
        if (!inRange)
        {
            throw new IllegalArgumentException(
                "value " + value + " is out of range for " + field.kind() + " field " + pendingType.name() + "." +
                field.name());
        }
        putFixed(field, value);
        return this;
    }

    /**
     * Sets an f64 field of the open record.
     *
     * @param field of the open record's type.
     * @param value any double.
     * @return this.
     */
    public RecordWriter setDouble(final FieldDefinition field, final double value)
    {
        checkField(field);
        checkKind(field, FieldKind.F64);
        putFixed(field, Double.doubleToRawLongBits(value));
        return this;
    }

    /**
     * Sets a bool field of the open record.
     *
     * @param field of the open record's type.
     * @param value true or false.
     * @return this.
     */
    public RecordWriter setBoolean(final FieldDefinition field, final boolean value)
    {
        checkField(field);
        checkKind(field, FieldKind.BOOL);
        putFixed(field, value ? 1 : 0);
        return this;
    }

    /**
     * Sets a string field of the open record, encoded as UTF-8 without allocating.
     *
     * @param field of the open record's type.
     * @param value at most the field's maxBytes once encoded.
     * @return this.
     */
    public RecordWriter setString(final FieldDefinition field, final CharSequence value)
    {
        checkField(field);
        checkKind(field, FieldKind.STRING);
        final int asciiLength = value.length();
        if (asciiLength <= field.maxLengthBytes() && Utf8.isAscii(value))
        {
            // The common case in one pass: one byte per char.
            // One bounds check for the value, not one per byte.
            buffer.putStringWithoutLengthAscii(openEntry(field, asciiLength), value);
            return this;
        }
        final int lengthBytes = Utf8.encodedLength(value);
        final int valueOffset = openEntry(field, lengthBytes);
        Utf8.encode(value, buffer, valueOffset);
        return this;
    }

    /**
     * Sets a string field of the open record from ASCII bytes (e.g. digits a producer formatted into a
     * reusable buffer with {@code putNaturalLongAscii}): copied as they are, no chars to encode.
     *
     * @param field       a string field of the open record's type.
     * @param source      holding the value.
     * @param offset      of the value in source.
     * @param lengthBytes at most the field's maxBytes.
     * @return this.
     * @throws IllegalArgumentException when a byte is not ASCII (0..127), the value is too long, or the
     *                                  field is not a string field of the open record's type.
     */
    public RecordWriter setStringAscii(
        final FieldDefinition field, final DirectBuffer source, final int offset, final int lengthBytes)
    {
        checkField(field);
        checkKind(field, FieldKind.STRING);
        checkSource(field, source, offset, lengthBytes);
        final int nonAsciiIndex = firstNonAscii(source, offset, lengthBytes);
        if (nonAsciiIndex >= 0)
        {
            throw new IllegalArgumentException("byte 0x" +
                Integer.toHexString(source.getByte(offset + nonAsciiIndex) & 0xFF) + " at index " + nonAsciiIndex +
                " of the value for " + pendingType.name() + "." + field.name() + " is not ASCII");
        }
        final int valueOffset = openEntry(field, lengthBytes);
        buffer.putBytes(valueOffset, source, offset, lengthBytes);
        return this;
    }

    /**
     * Sets a bytes field of the open record.
     *
     * @param field       of the open record's type.
     * @param source      holding the value.
     * @param offset      of the value in source.
     * @param lengthBytes at most the field's maxBytes.
     * @return this.
     */
    public RecordWriter setBytes(
        final FieldDefinition field, final DirectBuffer source, final int offset, final int lengthBytes)
    {
        checkField(field);
        checkKind(field, FieldKind.BYTES);
        checkSource(field, source, offset, lengthBytes);
        final int valueOffset = openEntry(field, lengthBytes);
        buffer.putBytes(valueOffset, source, offset, lengthBytes);
        return this;
    }

    /**
     * Sets a bytes field of the open record.
     *
     * @param field of the open record's type.
     * @param value at most the field's maxBytes.
     * @return this.
     */
    public RecordWriter setBytes(final FieldDefinition field, final byte[] value)
    {
        checkField(field);
        checkKind(field, FieldKind.BYTES);
        final int valueOffset = openEntry(field, value.length);
        buffer.putBytes(valueOffset, value);
        return this;
    }

    private int update(final TypeDefinition type, final long nodeId, final int createRef)
    {
        checkType(type);
        closePending();
        ensureRemaining(HEADER_LENGTH_BYTES + UpdateEncoder.BLOCK_LENGTH + GROUP_HEADER_LENGTH_BYTES, type.name());
        pendingRecordOffset = positionOffset;
        putHeader(UPDATE_HEADER_WORD);
        final int blockOffset = positionOffset + HEADER_LENGTH_BYTES;
        buffer.putLong(blockOffset + UpdateEncoder.nodeIdEncodingOffset(), nodeId, ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(blockOffset + UpdateEncoder.createRefEncodingOffset(), createRef, ByteOrder.LITTLE_ENDIAN);
        buffer.putShort(blockOffset + UpdateEncoder.typeIdEncodingOffset(), (short)type.typeId(), ByteOrder.LITTLE_ENDIAN);
        openGroup(blockOffset + UpdateEncoder.BLOCK_LENGTH, UpdateEncoder.FieldsEncoder.sbeBlockLength());
        openPending(UPDATE, type);
        return ++recordCount;
    }

    private int delete(final TypeDefinition type, final long nodeId, final int createRef)
    {
        checkType(type);
        closePending();
        final int lengthBytes = HEADER_LENGTH_BYTES + DeleteEncoder.BLOCK_LENGTH;
        ensureRemaining(lengthBytes, type.name());
        putHeader(DELETE_HEADER_WORD);
        final int blockOffset = positionOffset + HEADER_LENGTH_BYTES;
        buffer.putLong(blockOffset + DeleteEncoder.nodeIdEncodingOffset(), nodeId, ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(blockOffset + DeleteEncoder.createRefEncodingOffset(), createRef, ByteOrder.LITTLE_ENDIAN);
        buffer.putShort(blockOffset + DeleteEncoder.typeIdEncodingOffset(), (short)type.typeId(), ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(positionOffset + FRAME_LENGTH_OFFSET, lengthBytes, ByteOrder.LITTLE_ENDIAN);
        positionOffset += lengthBytes;
        return ++recordCount;
    }

    private int increment(
        final TypeDefinition type, final long nodeId, final int createRef, final FieldDefinition field, final long delta)
    {
        checkType(type);
        if (!isFieldOf(fieldsByTypeId[type.typeId()], field))
        {
            throw new IllegalArgumentException("field " + field.name() + " is not a field of type " + type.name());
        }
        if (!field.isNumeric())
        {
            throw new IllegalArgumentException("field " + type.name() + "." + field.name() + " is " + field.kind() +
                "; only numeric fields can be incremented");
        }
        closePending();
        final int lengthBytes = HEADER_LENGTH_BYTES + IncrementEncoder.BLOCK_LENGTH;
        ensureRemaining(lengthBytes, type.name());
        putHeader(INCREMENT_HEADER_WORD);
        final int blockOffset = positionOffset + HEADER_LENGTH_BYTES;
        buffer.putLong(blockOffset + IncrementEncoder.nodeIdEncodingOffset(), nodeId, ByteOrder.LITTLE_ENDIAN);
        buffer.putLong(blockOffset + IncrementEncoder.deltaEncodingOffset(), delta, ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(blockOffset + IncrementEncoder.createRefEncodingOffset(), createRef, ByteOrder.LITTLE_ENDIAN);
        buffer.putShort(blockOffset + IncrementEncoder.typeIdEncodingOffset(), (short)type.typeId(), ByteOrder.LITTLE_ENDIAN);
        buffer.putShort(blockOffset + IncrementEncoder.fieldIdEncodingOffset(), (short)field.fieldId(), ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(positionOffset + FRAME_LENGTH_OFFSET, lengthBytes, ByteOrder.LITTLE_ENDIAN);
        positionOffset += lengthBytes;
        return ++recordCount;
    }

    private void openPending(final int kind, final TypeDefinition type)
    {
        pendingKind = kind;
        pendingType = type;
        pendingFields = fieldsByTypeId[type.typeId()];
    }

    /**
     * @return bytes the open record still appends when it closes: a Create's row (length and bytes).
     */
    private int pendingTailBytes()
    {
        return pendingKind == CREATE ? VALUE_LENGTH_BYTES + pendingType.rowLengthBytes() : 0;
    }

    private void clearRowScratch(final int rowLengthBytes)
    {
        // Rows are small: word stores beat a setMemory call (the scratch is 8-byte aligned and padded).
        for (int offset = 0; offset < rowLengthBytes; offset += 8)
        {
            rowScratch.putLong(offset, 0L);
        }
    }

    /**
     * The first 8 bytes of a message header (block length, template id, schema id, version), little-endian,
     * as one word; the frame length after them is written when the record's length is known.
     */
    private static long headerWord(final int blockLength, final int templateId)
    {
        return (blockLength & 0xFFFFL) << 8 * RecordFraming.BLOCK_LENGTH_OFFSET |
            (templateId & 0xFFFFL) << 8 * RecordFraming.TEMPLATE_ID_OFFSET |
            (RecordFraming.SCHEMA_ID & 0xFFFFL) << 8 * RecordFraming.SCHEMA_ID_OFFSET |
            (RecordFraming.SCHEMA_VERSION & 0xFFFFL) << 8 * RecordFraming.VERSION_OFFSET;
    }

    private void putHeader(final long headerWord)
    {
        buffer.putLong(positionOffset + RecordFraming.BLOCK_LENGTH_OFFSET, headerWord, ByteOrder.LITTLE_ENDIAN);
    }

    private void openGroup(final int groupHeaderOffset, final int entryBlockLength)
    {
        buffer.putShort(groupHeaderOffset, (short)entryBlockLength, ByteOrder.LITTLE_ENDIAN);
        buffer.putShort(groupHeaderOffset + 2, (short)0, ByteOrder.LITTLE_ENDIAN);
        pendingGroupHeaderOffset = groupHeaderOffset;
        pendingEntryCount = 0;
        positionOffset = groupHeaderOffset + GROUP_HEADER_LENGTH_BYTES;
    }

    private void putFixed(final FieldDefinition field, final long bits)
    {
        if (pendingKind == CREATE)
        {
            final int offset = field.offsetBytes();
            switch (field.maxLengthBytes())
            {
                case 1 -> rowScratch.putByte(offset, (byte)bits);
                case 2 -> rowScratch.putShort(offset, (short)bits, ByteOrder.LITTLE_ENDIAN);
                case 4 -> rowScratch.putInt(offset, (int)bits, ByteOrder.LITTLE_ENDIAN);
                default -> rowScratch.putLong(offset, bits, ByteOrder.LITTLE_ENDIAN);
            }
        }
        else
        {
            final int valueOffset = openEntry(field, field.maxLengthBytes());
            switch (field.maxLengthBytes())
            {
                case 1 -> buffer.putByte(valueOffset, (byte)bits);
                case 2 -> buffer.putShort(valueOffset, (short)bits, ByteOrder.LITTLE_ENDIAN);
                case 4 -> buffer.putInt(valueOffset, (int)bits, ByteOrder.LITTLE_ENDIAN);
                default -> buffer.putLong(valueOffset, bits, ByteOrder.LITTLE_ENDIAN);
            }
        }
    }

    /**
     * Appends a group entry (field id, value length) to the open record.
     *
     * @return where the value's bytes go.
     */
    private int openEntry(final FieldDefinition field, final int lengthBytes)
    {
        if (lengthBytes > field.maxLengthBytes())
        {
            throw valueTooLong(field, lengthBytes);
        }
        if (pendingEntryCount == MAX_ENTRIES_PER_RECORD)
        {
            throw new IllegalStateException("a record holds at most " + MAX_ENTRIES_PER_RECORD + " field values");
        }
        // The message is built only when the check fails: a concat per field was most of the encode cost.
        final int neededBytes = ENTRY_FIELD_ID_LENGTH_BYTES + VALUE_LENGTH_BYTES + lengthBytes + pendingTailBytes();
        if (neededBytes > limitOffset - positionOffset)
        {
            throw bufferFull(pendingType.name() + "." + field.name(), neededBytes);
        }
        buffer.putShort(positionOffset, (short)field.fieldId(), ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(positionOffset + ENTRY_FIELD_ID_LENGTH_BYTES, lengthBytes, ByteOrder.LITTLE_ENDIAN);
        final int valueOffset = positionOffset + ENTRY_FIELD_ID_LENGTH_BYTES + VALUE_LENGTH_BYTES;
        positionOffset = valueOffset + lengthBytes;
        pendingEntryCount++;
        return valueOffset;
    }

    private void closePending()
    {
        if (pendingKind == NONE)
        {
            return;
        }
        buffer.putShort(pendingGroupHeaderOffset + 2, (short)pendingEntryCount, ByteOrder.LITTLE_ENDIAN);
        if (pendingKind == CREATE)
        {
            final int rowLengthBytes = pendingType.rowLengthBytes();
            buffer.putInt(positionOffset, rowLengthBytes, ByteOrder.LITTLE_ENDIAN);
            buffer.putBytes(positionOffset + VALUE_LENGTH_BYTES, rowScratch, 0, rowLengthBytes);
            positionOffset += VALUE_LENGTH_BYTES + rowLengthBytes;
        }
        buffer.putInt(pendingRecordOffset + FRAME_LENGTH_OFFSET, positionOffset - pendingRecordOffset,
            ByteOrder.LITTLE_ENDIAN);
        pendingKind = NONE;
        pendingType = null;
        pendingFields = null;
    }

    private void ensureRemaining(final int lengthBytes, final String what)
    {
        if (null == buffer)
        {
            throw new IllegalStateException("wrap a buffer before writing records");
        }
        if (lengthBytes > limitOffset - positionOffset)
        {
            throw bufferFull(what, lengthBytes);
        }
    }

    private IllegalStateException bufferFull(final String what, final int lengthBytes)
    {
        return new IllegalStateException("batch buffer full: " + what + " needs " + lengthBytes + " bytes, " +
            (limitOffset - positionOffset) + " left of " + (limitOffset - startOffset));
    }

    private IllegalArgumentException valueTooLong(final FieldDefinition field, final int lengthBytes)
    {
        return new IllegalArgumentException("value of " + lengthBytes + " bytes is longer than the " +
            field.maxLengthBytes() + " bytes field " + pendingType.name() + "." + field.name() + " allows");
    }

    /**
     * Checked before the entry is opened, so a bad source leaves the record as it was.
     */
    private void checkSource(final FieldDefinition field, final DirectBuffer source, final int offset, final int lengthBytes)
    {
        if (offset < 0 || lengthBytes < 0 || (long)offset + lengthBytes > source.capacity())
        {
            throw new IllegalArgumentException("value [" + offset + ", +" + lengthBytes + ") for " + pendingType.name() +
                "." + field.name() + " is outside the " + source.capacity() + "-byte source buffer");
        }
    }

    /**
     * @return the index of the first byte that is not ASCII, or -1; eight bytes a step.
     */
    private static int firstNonAscii(final DirectBuffer source, final int offset, final int lengthBytes)
    {
        int i = 0;
        for (; i <= lengthBytes - 8; i += 8)
        {
            if ((source.getLong(offset + i) & 0x8080_8080_8080_8080L) != 0)
            {
                break;
            }
        }
        for (; i < lengthBytes; i++)
        {
            if (source.getByte(offset + i) < 0)
            {
                return i;
            }
        }
        return -1;
    }

    private static boolean isFieldOf(final FieldDefinition[] fields, final FieldDefinition field)
    {
        final int index = field.fieldId() - 1;
        return index >= 0 && index < fields.length && fields[index] == field;
    }

    private void checkType(final TypeDefinition type)
    {
        if (schema.typeById(type.typeId()) != type)
        {
            throw new IllegalArgumentException("type " + type.name() + " is not from schema " + schema.name());
        }
    }

    private void checkField(final FieldDefinition field)
    {
        final FieldDefinition[] fields = pendingFields;
        if (null == fields)
        {
            throw new IllegalStateException("no open Create or Update to set field " + field.name() + " on");
        }
        if (!isFieldOf(fields, field))
        {
            throw new IllegalArgumentException("field " + field.name() + " is not a field of type " + pendingType.name());
        }
    }

    private void checkKind(final FieldDefinition field, final FieldKind expected)
    {
        if (field.kind() != expected)
        {
            throw new IllegalArgumentException("field " + pendingType.name() + "." + field.name() + " is " +
                field.kind() + ", not " + expected);
        }
    }

    private void checkCreateRef(final int createRef)
    {
        if (createRef < 1 || createRef > recordCount)
        {
            throw new IllegalArgumentException("createRef " + createRef + " does not name a record of this batch (" +
                recordCount + " so far)");
        }
    }
}
