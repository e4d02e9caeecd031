package io.spate.codec;

import io.spate.wire.BatchHeaderEncoder;
import io.spate.wire.IncrementEncoder;
import io.spate.wire.MessageHeaderEncoder;

/**
 * Constants of the wire framing shared by the writer, the reader and the native store:
 * every message starts with the 12-byte header whose last field is the frame length.
 */
public final class RecordFraming
{
    /** SBE header plus frameLengthBytes. */
    public static final int HEADER_LENGTH_BYTES = MessageHeaderEncoder.ENCODED_LENGTH;
    public static final int SCHEMA_ID = MessageHeaderEncoder.SCHEMA_ID;
    public static final int SCHEMA_VERSION = MessageHeaderEncoder.SCHEMA_VERSION;

    public static final int BLOCK_LENGTH_OFFSET = 0;
    public static final int TEMPLATE_ID_OFFSET = 2;
    public static final int SCHEMA_ID_OFFSET = 4;
    public static final int VERSION_OFFSET = 6;
    public static final int FRAME_LENGTH_OFFSET = 8;

    /** Length of a message with no variable part: BatchHeader, Delete, Increment. */
    public static final int MAX_FIXED_RECORD_LENGTH_BYTES =
        HEADER_LENGTH_BYTES + Math.max(BatchHeaderEncoder.BLOCK_LENGTH, IncrementEncoder.BLOCK_LENGTH);

    /** Longest single value a string or bytes field may declare (and the wire accepts). */
    public static final int MAX_VAR_LENGTH_BYTES = 1 << 20;

    private RecordFraming()
    {
    }
}
