package io.spate.perf;

import io.spate.wire.AckEncoder;
import io.spate.wire.MessageHeaderEncoder;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class EncodedBatchesTest
{
    @Test
    void anAckIsItsHeaderBlockAndOneIdPerCreate()
    {
        final int emptyBytes = MessageHeaderEncoder.ENCODED_LENGTH + AckEncoder.BLOCK_LENGTH +
            2 * AckEncoder.CreatedIdsEncoder.HEADER_SIZE;
        assertEquals(emptyBytes, EncodedBatches.ackLengthBytes(0));
        assertEquals(emptyBytes + 100 * AckEncoder.CreatedIdsEncoder.sbeBlockLength(), EncodedBatches.ackLengthBytes(100));
        assertThrows(IllegalArgumentException.class, () -> EncodedBatches.ackLengthBytes(-1));
    }
}
