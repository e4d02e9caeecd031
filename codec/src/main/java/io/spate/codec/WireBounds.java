package io.spate.codec;

import io.spate.wire.AckDecoder;
import io.spate.wire.BatchAppliedDecoder;
import io.spate.wire.ConnectDecoder;
import io.spate.wire.ConnectResponseDecoder;
import io.spate.wire.ConnectStatus;
import io.spate.wire.DispatchDecoder;
import io.spate.wire.GroupSizeEncodingDecoder;
import io.spate.wire.ReadKind;
import io.spate.wire.ReadRequestDecoder;
import io.spate.wire.ReadResponseDecoder;
import io.spate.wire.ReconnectDecoder;
import io.spate.wire.RecordStatus;
import io.spate.wire.SessionCloseReason;
import io.spate.wire.SessionClosedDecoder;
import io.spate.wire.SessionSettingsDecoder;
import io.spate.wire.VarDataEncodingDecoder;
import io.spate.wire.VarStringEncodingDecoder;
import org.agrona.DirectBuffer;

import java.nio.ByteOrder;

import static io.spate.codec.RecordFraming.BLOCK_LENGTH_OFFSET;
import static io.spate.codec.RecordFraming.FRAME_LENGTH_OFFSET;
import static io.spate.codec.RecordFraming.HEADER_LENGTH_BYTES;
import static io.spate.codec.RecordFraming.SCHEMA_ID;
import static io.spate.codec.RecordFraming.SCHEMA_ID_OFFSET;
import static io.spate.codec.RecordFraming.SCHEMA_VERSION;
import static io.spate.codec.RecordFraming.TEMPLATE_ID_OFFSET;
import static io.spate.codec.RecordFraming.VERSION_OFFSET;

/**
 * Static checks that a pipeline message (Connect, Ack, Dispatch, BatchApplied, ReadRequest,
 * ReadResponse, SessionClosed) can be read by its generated decoder without reading outside the
 * message.
 * <p>
 * The frame length in the header lets a reader <em>skip</em> a message; it says nothing about
 * whether the message can be <em>read</em>. The generated flyweights trust the message: they take
 * the block length, group dimensions and var-data lengths from it and read wherever those point,
 * so a crafted 40-byte Connect with a large block length makes {@code responseChannel()} read past
 * the message. These checks walk the same lengths the decoder will follow, in the same order, and
 * prove that every read lies inside {@code [offset, offset + lengthBytes)} before any decoder is
 * wrapped:
 * <ul>
 * <li>the 12-byte header is present, names our schema id, the expected template and a version no
 * newer than ours, and its frame length equals {@code lengthBytes} (one message per fragment);</li>
 * <li>the block is at least the template's block length (a longer block, from a newer writer, is
 * skipped by the decoder and never read) and fits;</li>
 * <li>each repeating group's dimension header fits, its block length is at least the group's, and
 * {@code numInGroup * blockLength} fits in what remains;</li>
 * <li>each var-data length prefix fits, the length is at most the encoding's maxValue and fits in
 * what remains;</li>
 * <li>nothing is left over past the last field (trailing bytes are refused).</li>
 * </ul>
 * Enum fields are checked too: a generated enum getter throws on a value the schema does not name,
 * so a value other than a valid one (or the null value 255) is refused with {@link #BAD_ENUM_VALUE}.
 * <p>
 * After a check returns {@link #OK}, {@code decoder.wrapAndApplyHeader(buffer, offset, header)}
 * followed by reading every field, group and var-data in schema order does not throw. Semantics
 * beyond that (ids, counts, the payload's own records) are left to the caller.
 * <p>
 * All arithmetic on positions is done in {@code long}, so no length can wrap an {@code int}.
 * Allocation-free: the methods are static, return an {@code int} reason code and only read the
 * buffer.
 */
public final class WireBounds
{
    /** The message can be decoded in full. */
    public static final int OK = 0;
    /** Fewer bytes than the 12-byte header, or a field of the block, needs. */
    public static final int TOO_SHORT = 1;
    /** The header's schema id is not {@link RecordFraming#SCHEMA_ID}. */
    public static final int WRONG_SCHEMA = 2;
    /** The header's template id is not the one expected (or not a pipeline message for {@link #check}). */
    public static final int WRONG_TEMPLATE = 3;
    /** The header's version is newer than {@link RecordFraming#SCHEMA_VERSION}. */
    public static final int WRONG_VERSION = 4;
    /** The header's frameLengthBytes is not the length of the message. */
    public static final int FRAME_LENGTH_MISMATCH = 5;
    /** The header's block length is shorter than the template's. */
    public static final int BLOCK_TOO_SHORT = 6;
    /** The block runs past the end of the message. */
    public static final int BLOCK_OVERRUN = 7;
    /** A repeating group's block length is shorter than the group's. */
    public static final int GROUP_BLOCK_TOO_SHORT = 8;
    /** A repeating group's dimension header or entries run past the end of the message. */
    public static final int GROUP_OVERRUN = 9;
    /** A var-data length prefix or its bytes run past the end of the message. */
    public static final int VAR_DATA_OVERRUN = 10;
    /** A var-data length is above its encoding's maxValue. */
    public static final int VAR_DATA_TOO_LONG = 11;
    /** Bytes are left over after the last field of the message. */
    public static final int TRAILING_BYTES = 12;
    /** An enum field holds a value the schema does not name. */
    public static final int BAD_ENUM_VALUE = 13;
    /** {@code [offset, offset + lengthBytes)} is not inside the buffer: a caller error, not a bad message. */
    public static final int OUTSIDE_BUFFER = 14;

    private static final int GROUP_HEADER_LENGTH_BYTES = GroupSizeEncodingDecoder.ENCODED_LENGTH;
    private static final int GROUP_BLOCK_LENGTH_OFFSET = GroupSizeEncodingDecoder.blockLengthEncodingOffset();
    private static final int GROUP_NUM_IN_GROUP_OFFSET = GroupSizeEncodingDecoder.numInGroupEncodingOffset();
    private static final int VAR_LENGTH_BYTES = 4;
    private static final long MAX_VAR_DATA_LENGTH = VarDataEncodingDecoder.lengthMaxValue();
    private static final long MAX_VAR_STRING_LENGTH = VarStringEncodingDecoder.lengthMaxValue();
    private static final int NO_ENUM = -1;

    private static final boolean[] RECORD_STATUS_VALUES = new boolean[256];
    private static final boolean[] SESSION_CLOSE_REASON_VALUES = new boolean[256];
    private static final boolean[] READ_KIND_VALUES = new boolean[256];
    private static final boolean[] CONNECT_STATUS_VALUES = new boolean[256];

    static
    {
        for (final RecordStatus value : RecordStatus.values())
        {
            RECORD_STATUS_VALUES[value.value()] = true;
        }
        for (final SessionCloseReason value : SessionCloseReason.values())
        {
            SESSION_CLOSE_REASON_VALUES[value.value()] = true;
        }
        for (final ReadKind value : ReadKind.values())
        {
            READ_KIND_VALUES[value.value()] = true;
        }
        for (final ConnectStatus value : ConnectStatus.values())
        {
            CONNECT_STATUS_VALUES[value.value()] = true;
        }
    }

    private WireBounds()
    {
    }

    /**
     * Checks a message of any of the pipeline's kinds, chosen by its template id.
     *
     * @param buffer      holding the message.
     * @param offset      where the message (its header) starts.
     * @param lengthBytes of the message: the Aeron fragment's length.
     * @return {@link #OK} or a reason code; {@link #WRONG_TEMPLATE} for a template that is not a
     * pipeline message.
     */
    public static int check(final DirectBuffer buffer, final int offset, final int lengthBytes)
    {
        final int status = checkRange(buffer, offset, lengthBytes);
        if (OK != status)
        {
            return status;
        }
        return switch (u16(buffer, offset + TEMPLATE_ID_OFFSET))
        {
            case ConnectDecoder.TEMPLATE_ID -> checkConnect(buffer, offset, lengthBytes);
            case ConnectResponseDecoder.TEMPLATE_ID -> checkConnectResponse(buffer, offset, lengthBytes);
            case AckDecoder.TEMPLATE_ID -> checkAck(buffer, offset, lengthBytes);
            case DispatchDecoder.TEMPLATE_ID -> checkDispatch(buffer, offset, lengthBytes);
            case BatchAppliedDecoder.TEMPLATE_ID -> checkBatchApplied(buffer, offset, lengthBytes);
            case ReadRequestDecoder.TEMPLATE_ID -> checkReadRequest(buffer, offset, lengthBytes);
            case ReadResponseDecoder.TEMPLATE_ID -> checkReadResponse(buffer, offset, lengthBytes);
            case SessionClosedDecoder.TEMPLATE_ID -> checkSessionClosed(buffer, offset, lengthBytes);
            case ReconnectDecoder.TEMPLATE_ID -> checkReconnect(buffer, offset, lengthBytes);
            case SessionSettingsDecoder.TEMPLATE_ID -> checkSessionSettings(buffer, offset, lengthBytes);
            default -> WRONG_TEMPLATE;
        };
    }

    /**
     * Connect: block, then responseChannel and schemaName (varString), then credentials (varData).
     *
     * @param buffer      holding the message.
     * @param offset      where the message (its header) starts.
     * @param lengthBytes of the message.
     * @return {@link #OK} or a reason code.
     */
    public static int checkConnect(final DirectBuffer buffer, final int offset, final int lengthBytes)
    {
        final long end = (long)offset + lengthBytes;
        long position = checkHeaderAndBlock(
            buffer, offset, lengthBytes, ConnectDecoder.TEMPLATE_ID, ConnectDecoder.BLOCK_LENGTH);
        position = checkVarData(buffer, position, end, MAX_VAR_STRING_LENGTH);
        position = checkVarData(buffer, position, end, MAX_VAR_STRING_LENGTH);
        position = checkVarData(buffer, position, end, MAX_VAR_DATA_LENGTH);
        return checkEnd(position, end);
    }

    /**
     * Reconnect: block, then responseChannel and schemaName (varString), then credentials (varData), as Connect.
     *
     * @param buffer      holding the message.
     * @param offset      where the message (its header) starts.
     * @param lengthBytes of the message.
     * @return {@link #OK} or a reason code.
     */
    public static int checkReconnect(final DirectBuffer buffer, final int offset, final int lengthBytes)
    {
        final long end = (long)offset + lengthBytes;
        long position = checkHeaderAndBlock(
            buffer, offset, lengthBytes, ReconnectDecoder.TEMPLATE_ID, ReconnectDecoder.BLOCK_LENGTH);
        position = checkVarData(buffer, position, end, MAX_VAR_STRING_LENGTH);
        position = checkVarData(buffer, position, end, MAX_VAR_STRING_LENGTH);
        position = checkVarData(buffer, position, end, MAX_VAR_DATA_LENGTH);
        return checkEnd(position, end);
    }

    /**
     * SessionSettings: the block alone.
     *
     * @param buffer      holding the message.
     * @param offset      where the message (its header) starts.
     * @param lengthBytes of the message.
     * @return {@link #OK} or a reason code.
     */
    public static int checkSessionSettings(final DirectBuffer buffer, final int offset, final int lengthBytes)
    {
        final long end = (long)offset + lengthBytes;
        final long position = checkHeaderAndBlock(
            buffer, offset, lengthBytes, SessionSettingsDecoder.TEMPLATE_ID, SessionSettingsDecoder.BLOCK_LENGTH);
        return checkEnd(position, end);
    }

    /**
     * ConnectResponse: block (status), then detail (varString).
     *
     * @param buffer      holding the message.
     * @param offset      where the message (its header) starts.
     * @param lengthBytes of the message.
     * @return {@link #OK} or a reason code.
     */
    public static int checkConnectResponse(final DirectBuffer buffer, final int offset, final int lengthBytes)
    {
        final long end = (long)offset + lengthBytes;
        long position = checkHeaderAndBlock(
            buffer, offset, lengthBytes, ConnectResponseDecoder.TEMPLATE_ID, ConnectResponseDecoder.BLOCK_LENGTH);
        position = checkEnum(buffer, position,
            offset + HEADER_LENGTH_BYTES + ConnectResponseDecoder.statusEncodingOffset(), CONNECT_STATUS_VALUES);
        position = checkVarData(buffer, position, end, MAX_VAR_STRING_LENGTH);
        return checkEnd(position, end);
    }

    /**
     * Ack: block (status), then createdIds and errors (status) groups.
     *
     * @param buffer      holding the message.
     * @param offset      where the message (its header) starts.
     * @param lengthBytes of the message.
     * @return {@link #OK} or a reason code.
     */
    public static int checkAck(final DirectBuffer buffer, final int offset, final int lengthBytes)
    {
        final long end = (long)offset + lengthBytes;
        long position = checkHeaderAndBlock(
            buffer, offset, lengthBytes, AckDecoder.TEMPLATE_ID, AckDecoder.BLOCK_LENGTH);
        position = checkEnum(
            buffer, position, offset + HEADER_LENGTH_BYTES + AckDecoder.statusEncodingOffset(), RECORD_STATUS_VALUES);
        position = checkGroup(
            buffer, position, end, AckDecoder.CreatedIdsDecoder.sbeBlockLength(), NO_ENUM, null);
        position = checkGroup(
            buffer,
            position,
            end,
            AckDecoder.ErrorsDecoder.sbeBlockLength(),
            AckDecoder.ErrorsDecoder.statusEncodingOffset(),
            RECORD_STATUS_VALUES);
        return checkEnd(position, end);
    }

    /**
     * Dispatch: block, then the barriers group, then payload (varData).
     *
     * @param buffer      holding the message.
     * @param offset      where the message (its header) starts.
     * @param lengthBytes of the message.
     * @return {@link #OK} or a reason code.
     */
    public static int checkDispatch(final DirectBuffer buffer, final int offset, final int lengthBytes)
    {
        final long end = (long)offset + lengthBytes;
        long position = checkHeaderAndBlock(
            buffer, offset, lengthBytes, DispatchDecoder.TEMPLATE_ID, DispatchDecoder.BLOCK_LENGTH);
        position = checkGroup(
            buffer, position, end, DispatchDecoder.BarriersDecoder.sbeBlockLength(), NO_ENUM, null);
        position = checkVarData(buffer, position, end, MAX_VAR_DATA_LENGTH);
        return checkEnd(position, end);
    }

    /**
     * BatchApplied: block, then the failures group (status).
     *
     * @param buffer      holding the message.
     * @param offset      where the message (its header) starts.
     * @param lengthBytes of the message.
     * @return {@link #OK} or a reason code.
     */
    public static int checkBatchApplied(final DirectBuffer buffer, final int offset, final int lengthBytes)
    {
        final long end = (long)offset + lengthBytes;
        long position = checkHeaderAndBlock(
            buffer, offset, lengthBytes, BatchAppliedDecoder.TEMPLATE_ID, BatchAppliedDecoder.BLOCK_LENGTH);
        position = checkGroup(
            buffer,
            position,
            end,
            BatchAppliedDecoder.FailuresDecoder.sbeBlockLength(),
            BatchAppliedDecoder.FailuresDecoder.statusEncodingOffset(),
            RECORD_STATUS_VALUES);
        return checkEnd(position, end);
    }

    /**
     * ReadRequest: block (kind) only.
     *
     * @param buffer      holding the message.
     * @param offset      where the message (its header) starts.
     * @param lengthBytes of the message.
     * @return {@link #OK} or a reason code.
     */
    public static int checkReadRequest(final DirectBuffer buffer, final int offset, final int lengthBytes)
    {
        final long end = (long)offset + lengthBytes;
        long position = checkHeaderAndBlock(
            buffer, offset, lengthBytes, ReadRequestDecoder.TEMPLATE_ID, ReadRequestDecoder.BLOCK_LENGTH);
        position = checkEnum(
            buffer, position, offset + HEADER_LENGTH_BYTES + ReadRequestDecoder.kindEncodingOffset(), READ_KIND_VALUES);
        return checkEnd(position, end);
    }

    /**
     * ReadResponse: block (status), then node (varData).
     *
     * @param buffer      holding the message.
     * @param offset      where the message (its header) starts.
     * @param lengthBytes of the message.
     * @return {@link #OK} or a reason code.
     */
    public static int checkReadResponse(final DirectBuffer buffer, final int offset, final int lengthBytes)
    {
        final long end = (long)offset + lengthBytes;
        long position = checkHeaderAndBlock(
            buffer, offset, lengthBytes, ReadResponseDecoder.TEMPLATE_ID, ReadResponseDecoder.BLOCK_LENGTH);
        position = checkEnum(
            buffer,
            position,
            offset + HEADER_LENGTH_BYTES + ReadResponseDecoder.statusEncodingOffset(),
            RECORD_STATUS_VALUES);
        position = checkVarData(buffer, position, end, MAX_VAR_DATA_LENGTH);
        return checkEnd(position, end);
    }

    /**
     * SessionClosed: block (reason), then detail (varString).
     *
     * @param buffer      holding the message.
     * @param offset      where the message (its header) starts.
     * @param lengthBytes of the message.
     * @return {@link #OK} or a reason code.
     */
    public static int checkSessionClosed(final DirectBuffer buffer, final int offset, final int lengthBytes)
    {
        final long end = (long)offset + lengthBytes;
        long position = checkHeaderAndBlock(
            buffer, offset, lengthBytes, SessionClosedDecoder.TEMPLATE_ID, SessionClosedDecoder.BLOCK_LENGTH);
        position = checkEnum(
            buffer,
            position,
            offset + HEADER_LENGTH_BYTES + SessionClosedDecoder.reasonEncodingOffset(),
            SESSION_CLOSE_REASON_VALUES);
        position = checkVarData(buffer, position, end, MAX_VAR_STRING_LENGTH);
        return checkEnd(position, end);
    }

    /**
     * @param code returned by a check.
     * @return a short constant description of it.
     */
    public static String reason(final int code)
    {
        return switch (code)
        {
            case OK -> "ok";
            case TOO_SHORT -> "shorter than the message header";
            case WRONG_SCHEMA -> "wrong wire schema id";
            case WRONG_TEMPLATE -> "unexpected template id";
            case WRONG_VERSION -> "wire schema version newer than ours";
            case FRAME_LENGTH_MISMATCH -> "frame length is not the message length";
            case BLOCK_TOO_SHORT -> "block length shorter than the template's";
            case BLOCK_OVERRUN -> "block runs past the message end";
            case GROUP_BLOCK_TOO_SHORT -> "group block length shorter than the group's";
            case GROUP_OVERRUN -> "group runs past the message end";
            case VAR_DATA_OVERRUN -> "var data runs past the message end";
            case VAR_DATA_TOO_LONG -> "var data length above its maximum";
            case TRAILING_BYTES -> "bytes left over after the message";
            case BAD_ENUM_VALUE -> "enum value the schema does not name";
            case OUTSIDE_BUFFER -> "message range outside the buffer";
            default -> "unknown reason";
        };
    }

    private static int checkRange(final DirectBuffer buffer, final int offset, final int lengthBytes)
    {
        if (offset < 0 || lengthBytes < 0 || (long)offset + lengthBytes > buffer.capacity())
        {
            return OUTSIDE_BUFFER;
        }
        return lengthBytes < HEADER_LENGTH_BYTES ? TOO_SHORT : OK;
    }

    /**
     * @return the position after the block, or a negated reason code.
     */
    private static long checkHeaderAndBlock(
        final DirectBuffer buffer,
        final int offset,
        final int lengthBytes,
        final int templateId,
        final int minBlockLength)
    {
        final int rangeStatus = checkRange(buffer, offset, lengthBytes);
        if (OK != rangeStatus)
        {
            return -rangeStatus;
        }
        if (u16(buffer, offset + SCHEMA_ID_OFFSET) != SCHEMA_ID)
        {
            return -WRONG_SCHEMA;
        }
        if (u16(buffer, offset + TEMPLATE_ID_OFFSET) != templateId)
        {
            return -WRONG_TEMPLATE;
        }
        if (u16(buffer, offset + VERSION_OFFSET) > SCHEMA_VERSION)
        {
            return -WRONG_VERSION;
        }
        if (u32(buffer, offset + FRAME_LENGTH_OFFSET) != lengthBytes)
        {
            return -FRAME_LENGTH_MISMATCH;
        }
        final int blockLength = u16(buffer, offset + BLOCK_LENGTH_OFFSET);
        if (blockLength < minBlockLength)
        {
            return -BLOCK_TOO_SHORT;
        }
        final long position = (long)offset + HEADER_LENGTH_BYTES + blockLength;
        if (position > (long)offset + lengthBytes)
        {
            return -BLOCK_OVERRUN;
        }
        return position;
    }

    /**
     * Checks an enum of the block (already proven inside it).
     *
     * @return position unchanged, or a negated reason code.
     */
    private static long checkEnum(
        final DirectBuffer buffer, final long position, final int fieldOffset, final boolean[] validValues)
    {
        if (position < 0)
        {
            return position;
        }
        return validValues[buffer.getByte(fieldOffset) & 0xFF] ? position : -BAD_ENUM_VALUE;
    }

    /**
     * Checks a repeating group of fixed-length entries starting at position.
     *
     * @param enumOffset offset in each entry of a one-byte enum to check, or {@link #NO_ENUM}.
     * @return the position after the group, or a negated reason code.
     */
    private static long checkGroup(
        final DirectBuffer buffer,
        final long position,
        final long end,
        final int minBlockLength,
        final int enumOffset,
        final boolean[] validValues)
    {
        if (position < 0)
        {
            return position;
        }
        if (position + GROUP_HEADER_LENGTH_BYTES > end)
        {
            return -GROUP_OVERRUN;
        }
        final int blockLength = u16(buffer, (int)position + GROUP_BLOCK_LENGTH_OFFSET);
        final int numInGroup = u16(buffer, (int)position + GROUP_NUM_IN_GROUP_OFFSET);
        if (blockLength < minBlockLength)
        {
            return -GROUP_BLOCK_TOO_SHORT;
        }
        final long entriesOffset = position + GROUP_HEADER_LENGTH_BYTES;
        final long groupEnd = entriesOffset + (long)numInGroup * blockLength;
        if (groupEnd > end)
        {
            return -GROUP_OVERRUN;
        }
        if (NO_ENUM != enumOffset)
        {
            for (long entry = entriesOffset; entry < groupEnd; entry += blockLength)
            {
                if (!validValues[buffer.getByte((int)entry + enumOffset) & 0xFF])
                {
                    return -BAD_ENUM_VALUE;
                }
            }
        }
        return groupEnd;
    }

    /**
     * Checks a var-data field (u32 length then bytes) starting at position.
     *
     * @return the position after the field, or a negated reason code.
     */
    private static long checkVarData(
        final DirectBuffer buffer, final long position, final long end, final long maxLengthBytes)
    {
        if (position < 0)
        {
            return position;
        }
        if (position + VAR_LENGTH_BYTES > end)
        {
            return -VAR_DATA_OVERRUN;
        }
        final long dataLength = u32(buffer, (int)position);
        if (dataLength > maxLengthBytes)
        {
            return -VAR_DATA_TOO_LONG;
        }
        final long dataEnd = position + VAR_LENGTH_BYTES + dataLength;
        if (dataEnd > end)
        {
            return -VAR_DATA_OVERRUN;
        }
        return dataEnd;
    }

    private static int checkEnd(final long position, final long end)
    {
        if (position < 0)
        {
            return (int)-position;
        }
        return position == end ? OK : TRAILING_BYTES;
    }

    private static int u16(final DirectBuffer buffer, final int index)
    {
        return buffer.getShort(index, ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
    }

    private static long u32(final DirectBuffer buffer, final int index)
    {
        return buffer.getInt(index, ByteOrder.LITTLE_ENDIAN) & 0xFFFF_FFFFL;
    }
}
