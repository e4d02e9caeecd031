package io.spate.pipeline;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pipeline's memory of sessions: resumable only by the client that opened them, forgotten after the resume
 * window or when room is needed (oldest closed first), and carried through a snapshot exactly; a damaged
 * snapshot blob is refused naming what is wrong.
 */
class ResumableSessionsTest
{
    private static final long WINDOW_NS = 1_000;

    private static ResumableSessions sessions(final int maxSessions, final int ledgerBatches)
    {
        return new ResumableSessions(new AckLedger(ledgerBatches, AckWriter.maxAckBytes(16)), maxSessions, WINDOW_NS);
    }

    private static void answer(final ResumableSessions sessions, final long sessionId, final long correlationId,
        final int lengthBytes)
    {
        final UnsafeBuffer entry = new UnsafeBuffer(new byte[AckLedger.ENTRY_HEADER_BYTES + lengthBytes]);
        entry.putLong(0, correlationId, ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < lengthBytes; i++)
        {
            entry.putByte(AckLedger.ENTRY_HEADER_BYTES + i, (byte)(correlationId + i));
        }
        final ResumableSessions.Entry remembered = sessions.get(sessionId);
        sessions.ledger().recordAnswer(remembered.acks, correlationId, entry, 0, entry.capacity());
        remembered.admittedCorrelationId = Math.max(remembered.admittedCorrelationId, correlationId);
    }

    private static List<String> kept(final ResumableSessions sessions, final long sessionId)
    {
        final List<String> kept = new ArrayList<>();
        sessions.ledger().forEachFrom(sessions.get(sessionId).acks, Long.MIN_VALUE, (correlationId, buffer, offset, length) ->
        {
            final byte[] bytes = new byte[length];
            buffer.getBytes(offset, bytes);
            kept.add(correlationId + ":" + java.util.Arrays.toString(bytes));
            return true;
        });
        return kept;
    }

    @Test
    void onlyTheClientThatOpenedASessionMayResumeIt()
    {
        final ResumableSessions sessions = sessions(4, 8);
        sessions.open(100, 7, null, 0);
        assertNotNull(sessions.resumable(100, 7));
        assertNull(sessions.resumable(100, 8), "another client");
        assertNull(sessions.resumable(101, 7), "a session never opened");
        assertEquals(100, sessions.highestSessionId());
        assertThrows(IllegalStateException.class, () -> sessions.open(100, 7, null, 0), "ids are never reused");
    }

    @Test
    void closedSessionsAreForgottenAfterTheResumeWindowAndOldestFirstWhenRoomIsNeeded()
    {
        final ResumableSessions sessions = sessions(3, 8);
        sessions.open(1, 1, null, 0);
        sessions.open(2, 2, null, 10);
        sessions.open(3, 3, null, 20);
        assertEquals(0, sessions.sweep(WINDOW_NS), "none past its window yet");
        sessions.open(4, 4, null, 30); // full: the oldest closed (1) makes room
        assertNull(sessions.get(1));
        assertNull(sessions.ledger().sessionOrNull(1), "its acks went with it");
        assertEquals(3, sessions.size());
        assertEquals(2, sessions.sweep(20 + WINDOW_NS + 1), "2 and 3 are past their window");
        assertNotNull(sessions.get(4));
        assertEquals(4, sessions.highestSessionId(), "remembered past forgetting: new ids go on above it");
    }

    @Test
    void answersAreKeptOldestRecordedFirstInAnyCorrelationOrder()
    {
        final ResumableSessions sessions = sessions(2, 3);
        sessions.open(9, 1, null, 0);
        answer(sessions, 9, 5, 40); // a refusal leaves before the acks of batches admitted before it
        answer(sessions, 9, 3, 40);
        answer(sessions, 9, 4, 40);
        answer(sessions, 9, 6, 40); // evicts 5, the oldest recorded
        assertEquals(List.of("3", "4", "6"), kept(sessions, 9).stream().map(k -> k.split(":")[0]).toList());
        assertEquals(6, sessions.get(9).acks.lastCorrelationId);
    }

    @Test
    void aSnapshotShouldCarryEverySessionAndAnswerExactly()
    {
        final ResumableSessions sessions = sessions(8, 4);
        sessions.open(11, 1, null, 0);
        sessions.open(12, 2, null, 0);
        sessions.open(15, 3, null, 0);
        for (long c = 1; c <= 6; c++)
        {
            answer(sessions, 11, c, 20 + (int)c);
        }
        answer(sessions, 12, 2, 30);
        final UnsafeBuffer blob = new UnsafeBuffer(new byte[(int)sessions.encodedLengthBytes()]);
        assertEquals(blob.capacity(), sessions.write(blob, 0));

        final ResumableSessions restored = sessions(8, 4);
        assertEquals(blob.capacity(), restored.read(blob, 0, blob.capacity(), 0));
        assertEquals(3, restored.size());
        assertEquals(15, restored.highestSessionId());
        for (final long id : new long[] { 11, 12, 15 })
        {
            assertEquals(kept(sessions, id), kept(restored, id), "session " + id);
            assertEquals(sessions.get(id).acks.lastCorrelationId, restored.get(id).admittedCorrelationId);
            assertEquals(sessions.get(id).clientId, restored.get(id).clientId);
        }
        assertEquals(4, restored.get(11).acks.count);
    }

    @ParameterizedTest
    @ValueSource(strings = { "truncated", "count", "ackCount", "ackLength", "ackPastAdmitted", "sessionId" })
    void aDamagedSnapshotBlobShouldBeRefusedNamingWhatIsWrong(final String damage)
    {
        final ResumableSessions sessions = sessions(8, 4);
        sessions.open(11, 1, null, 0);
        answer(sessions, 11, 1, 20);
        answer(sessions, 11, 2, 20);
        final UnsafeBuffer blob = new UnsafeBuffer(new byte[(int)sessions.encodedLengthBytes()]);
        sessions.write(blob, 0);
        int length = blob.capacity();
        // Layout: u32 count, u64 highest, then u64 id, u64 client, u64 answered through, u32 acks, acks (u32 length, entry).
        switch (damage)
        {
            case "truncated" -> length -= 3;
            case "count" -> blob.putInt(0, 9, ByteOrder.LITTLE_ENDIAN);
            case "ackCount" -> blob.putInt(12 + 24, 5, ByteOrder.LITTLE_ENDIAN);
            case "ackLength" -> blob.putInt(12 + 28, 1 << 20, ByteOrder.LITTLE_ENDIAN);
            case "ackPastAdmitted" -> blob.putLong(12 + 16, 1, ByteOrder.LITTLE_ENDIAN);
            case "sessionId" -> blob.putLong(12, 99, ByteOrder.LITTLE_ENDIAN);
            default -> throw new IllegalArgumentException(damage);
        }
        final int damagedLength = length;
        final IllegalStateException refused = assertThrows(IllegalStateException.class,
            () -> sessions(8, 4).read(blob, 0, damagedLength, 0));
        assertTrue(refused.getMessage().startsWith("the snapshot's sessions are damaged: "), refused.getMessage());
    }
}
