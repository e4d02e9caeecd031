package io.spate.pipeline;

import org.agrona.ExpandableRingBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The clustered service's ledger of recent acks: kept oldest first, found by correlation id, the oldest
 * evicted at the bound, correlation ids strictly increasing per session, the unsent cursor moved on (and
 * counted) when an unsent ack is evicted, sessions independent; and, against a model, any sequence of acks
 * of varying lengths as the ring wraps many times.
 */
class AckLedgerTest
{
    private static final long SEED = 0x5EED_ACC5_1ED6E7L;

    private static UnsafeBuffer entry(final long correlationId, final byte[] ack)
    {
        final UnsafeBuffer entry = new UnsafeBuffer(new byte[AckLedger.ENTRY_HEADER_BYTES + ack.length]);
        entry.putLong(0, correlationId, ByteOrder.LITTLE_ENDIAN);
        entry.putBytes(AckLedger.ENTRY_HEADER_BYTES, ack);
        return entry;
    }

    private static byte[] ackBytes(final long correlationId, final int length)
    {
        final byte[] ack = new byte[length];
        for (int i = 0; i < length; i++)
        {
            ack[i] = (byte)(correlationId * 31 + i);
        }
        return ack;
    }

    private static void record(
        final AckLedger ledger, final AckLedger.SessionAcks session, final long correlationId, final byte[] ack)
    {
        ledger.record(session, correlationId, entry(correlationId, ack), AckLedger.ENTRY_HEADER_BYTES + ack.length);
    }

    private static void record(final AckLedger ledger, final AckLedger.SessionAcks session,
        final long correlationId)
    {
        record(ledger, session, correlationId, ackBytes(correlationId, (int)Math.floorMod(correlationId, 5) + 1));
    }

    /** The session's acks from a correlation id on, oldest first: id and bytes. */
    private static List<Map.Entry<Long, byte[]>> acksFrom(
        final AckLedger ledger, final AckLedger.SessionAcks session, final long from)
    {
        final List<Map.Entry<Long, byte[]>> acks = new ArrayList<>();
        ledger.forEachFrom(session, from, (correlationId, buffer, offset, length) ->
        {
            final byte[] ack = new byte[length];
            buffer.getBytes(offset, ack);
            acks.add(Map.entry(correlationId, ack));
            return true;
        });
        return acks;
    }

    private static List<Long> ids(final AckLedger ledger, final AckLedger.SessionAcks session)
    {
        return acksFrom(ledger, session, Long.MIN_VALUE).stream().map(Map.Entry::getKey).toList();
    }

    /** @return the ack kept for the correlation id, or null when the session does not hold it. */
    private static byte[] find(final AckLedger ledger, final AckLedger.SessionAcks session,
        final long correlationId)
    {
        final byte[][] found = new byte[1][];
        final boolean held = ledger.find(session, correlationId, (id, buffer, offset, length) ->
        {
            assertEquals(correlationId, id);
            found[0] = new byte[length];
            buffer.getBytes(offset, found[0]);
            return true;
        });
        assertEquals(held, null != found[0], "find's answer and its visit agree for " + correlationId);
        return found[0];
    }

    @Test
    void recordsAreFoundAndVisitedOldestFirst()
    {
        final AckLedger ledger = new AckLedger(8, 64);
        final AckLedger.SessionAcks session = ledger.session(42);
        assertSame(session, ledger.session(42));
        assertSame(session, ledger.sessionOrNull(42));
        assertEquals(42, session.sessionId);
        assertEquals(0, session.lastCorrelationId);

        final long[] recorded = { 1, 2, 5, 9, 1_000_000_000_000L };
        for (final long id : recorded)
        {
            record(ledger, session, id, ackBytes(id, (int)(id % 7)));
            assertEquals(id, session.lastCorrelationId);
        }
        record(ledger, session, 1_000_000_000_001L, new byte[0]); // an empty ack is kept too
        assertEquals(6, session.count);

        for (final long id : recorded)
        {
            assertArrayEquals(ackBytes(id, (int)(id % 7)), find(ledger, session, id), "ack of " + id);
        }
        assertArrayEquals(new byte[0], find(ledger, session, 1_000_000_000_001L));
        for (final long absent : new long[]{ 0, 3, 4, 6, 10, -1, Long.MAX_VALUE })
        {
            assertNull(find(ledger, session, absent), "never recorded: " + absent);
        }
        assertFalse(ledger.find(session, 3, null), "find without a visitor still answers");
        assertTrue(ledger.find(session, 5, null));

        assertEquals(List.of(1L, 2L, 5L, 9L, 1_000_000_000_000L, 1_000_000_000_001L), ids(ledger, session));
        assertEquals(List.of(5L, 9L, 1_000_000_000_000L, 1_000_000_000_001L),
            acksFrom(ledger, session, 3).stream().map(Map.Entry::getKey).toList(), "from between two ids");
        assertEquals(List.of(9L, 1_000_000_000_000L, 1_000_000_000_001L),
            acksFrom(ledger, session, 9).stream().map(Map.Entry::getKey).toList(), "from an id: it is included");
        assertEquals(List.of(), acksFrom(ledger, session, 1_000_000_000_002L), "from beyond the last");
        assertArrayEquals(ackBytes(9, 2), acksFrom(ledger, session, 9).get(0).getValue());

        final List<Long> visited = new ArrayList<>();
        ledger.forEachFrom(session, 2, (id, buffer, offset, length) ->
        {
            visited.add(id);
            return id < 5;
        });
        assertEquals(List.of(2L, 5L), visited, "the visit stops when the visitor says so");
    }

    @Test
    void theOldestIsEvictedAtTheBound()
    {
        final AckLedger ledger = new AckLedger(3, 32);
        assertEquals(3, ledger.maxBatchesPerSession());
        final AckLedger.SessionAcks session = ledger.session(7);
        for (long id = 1; id <= 3; id++)
        {
            record(ledger, session, id);
        }
        assertEquals(List.of(1L, 2L, 3L), ids(ledger, session));
        record(ledger, session, 4);
        assertEquals(List.of(2L, 3L, 4L), ids(ledger, session));
        assertNull(find(ledger, session, 1), "evicted");
        record(ledger, session, 10);
        assertEquals(List.of(3L, 4L, 10L), ids(ledger, session));
        assertNull(find(ledger, session, 2), "evicted");
        assertEquals(3, session.count);
        assertEquals(10, session.lastCorrelationId);
        for (final long kept : new long[]{ 3, 4, 10 })
        {
            assertArrayEquals(ackBytes(kept, (int)(kept % 5) + 1), find(ledger, session, kept));
        }
        assertEquals(0, ledger.evictedUnsent(), "every evicted ack had gone out");
    }

    @Test
    void aBoundOfOneKeepsTheLatest()
    {
        final AckLedger ledger = new AckLedger(1, 16);
        final AckLedger.SessionAcks session = ledger.session(1);
        for (long id = 1; id <= 100; id++)
        {
            record(ledger, session, id);
            assertEquals(List.of(id), ids(ledger, session));
            assertEquals(1, session.count);
        }
        assertNull(find(ledger, session, 99));
    }

    @Test
    void aCorrelationIdThatDoesNotIncreaseIsRefused()
    {
        final AckLedger ledger = new AckLedger(4, 16);
        final AckLedger.SessionAcks session = ledger.session(3);
        // Before the first ack the last answered is 0: ids start above it.
        assertThrows(IllegalStateException.class, () -> record(ledger, session, 0));
        assertThrows(IllegalStateException.class, () -> record(ledger, session, -5));
        record(ledger, session, 5);
        final IllegalStateException same = assertThrows(IllegalStateException.class, () -> record(ledger, session, 5));
        assertEquals("session 3: ack of 5 recorded after 5", same.getMessage());
        assertThrows(IllegalStateException.class, () -> record(ledger, session, 4));
        assertThrows(IllegalStateException.class, () -> record(ledger, session, Long.MIN_VALUE));
        assertEquals(List.of(5L), ids(ledger, session), "nothing changed by a refused record");
        assertEquals(1, session.count);
        assertEquals(5, session.lastCorrelationId);
        record(ledger, session, 6);
        assertEquals(List.of(5L, 6L), ids(ledger, session));
    }

    @Test
    void evictingAnUnsentAckCountsItAndMovesTheCursorOn()
    {
        final AckLedger ledger = new AckLedger(3, 16);
        final AckLedger.SessionAcks session = ledger.session(11);
        record(ledger, session, 1);
        record(ledger, session, 2);
        record(ledger, session, 3);
        session.firstUnsentCorrelationId = 2; // 2 and 3 could not go out

        record(ledger, session, 4); // evicts 1, which went out
        assertEquals(0, ledger.evictedUnsent());
        assertEquals(2, session.firstUnsentCorrelationId);

        record(ledger, session, 5); // evicts 2, never sent
        assertEquals(1, ledger.evictedUnsent());
        assertEquals(3, session.firstUnsentCorrelationId);

        record(ledger, session, 9); // evicts 3, never sent
        assertEquals(2, ledger.evictedUnsent());
        assertEquals(4, session.firstUnsentCorrelationId);
        assertEquals(List.of(4L, 5L, 9L), acksFrom(ledger, session, session.firstUnsentCorrelationId).stream()
            .map(Map.Entry::getKey).toList(), "what is left to send");

        session.firstUnsentCorrelationId = 0; // all sent
        record(ledger, session, 10);
        record(ledger, session, 11);
        assertEquals(2, ledger.evictedUnsent(), "evicting acks that went out counts nothing");
        assertEquals(0, session.firstUnsentCorrelationId);
    }

    @Test
    void theCursorMayPointBetweenKeptIds()
    {
        // After sending an ack the service points the cursor at its id + 1, which need not be a kept id.
        final AckLedger ledger = new AckLedger(3, 16);
        final AckLedger.SessionAcks session = ledger.session(12);
        record(ledger, session, 10);
        record(ledger, session, 20);
        record(ledger, session, 30);
        session.firstUnsentCorrelationId = 21;
        record(ledger, session, 40); // evicts 10
        record(ledger, session, 50); // evicts 20: below the cursor, it went out
        assertEquals(0, ledger.evictedUnsent());
        assertEquals(21, session.firstUnsentCorrelationId);
        record(ledger, session, 60); // evicts 30, unsent
        assertEquals(1, ledger.evictedUnsent());
        assertEquals(40, session.firstUnsentCorrelationId);
    }

    @Test
    void withABoundOfOneEvictingTheOnlyUnsentAckLeavesNothingUnsent()
    {
        final AckLedger ledger = new AckLedger(1, 16);
        final AckLedger.SessionAcks session = ledger.session(13);
        record(ledger, session, 1);
        session.firstUnsentCorrelationId = 1;
        record(ledger, session, 2);
        assertEquals(1, ledger.evictedUnsent());
        assertEquals(0, session.firstUnsentCorrelationId, "no ack after the evicted one: the cursor is cleared");
    }

    @Test
    void evictedUnsentCountsOverAllSessions()
    {
        final AckLedger ledger = new AckLedger(2, 16);
        for (long sessionId = 1; sessionId <= 5; sessionId++)
        {
            final AckLedger.SessionAcks session = ledger.session(sessionId);
            record(ledger, session, 1);
            record(ledger, session, 2);
            session.firstUnsentCorrelationId = 1;
            record(ledger, session, 3);
            assertEquals(2, session.firstUnsentCorrelationId);
        }
        assertEquals(5, ledger.evictedUnsent());
    }

    @Test
    void aRemovedSessionIsGoneAndStartsAfresh()
    {
        final AckLedger ledger = new AckLedger(4, 16);
        final AckLedger.SessionAcks first = ledger.session(1);
        final AckLedger.SessionAcks second = ledger.session(2);
        record(ledger, first, 5);
        record(ledger, second, 7);
        assertEquals(2, ledger.sessionCount());

        ledger.remove(1);
        assertEquals(1, ledger.sessionCount());
        assertNull(ledger.sessionOrNull(1));
        assertSame(second, ledger.sessionOrNull(2));
        ledger.remove(99); // unknown: nothing happens
        assertEquals(1, ledger.sessionCount());

        final AckLedger.SessionAcks again = ledger.session(1);
        assertNotSame(first, again);
        assertEquals(0, again.lastCorrelationId);
        assertEquals(0, again.count);
        assertEquals(List.of(), ids(ledger, again));
        record(ledger, again, 1); // a fresh session: ids start over
        assertEquals(List.of(1L), ids(ledger, again));
        assertEquals(List.of(7L), ids(ledger, second));
    }

    @Test
    void manySessionsAreIndependent()
    {
        final AckLedger ledger = new AckLedger(5, 40);
        final Random random = new Random(SEED);
        final Map<Long, ArrayDeque<Long>> model = new HashMap<>();
        final Map<Long, Long> last = new HashMap<>();
        final long[] sessionIds = new long[500];
        for (int i = 0; i < sessionIds.length; i++)
        {
            sessionIds[i] = i % 2 == 0 ? i : -i * 1_000_003L; // any long is a cluster session id
        }
        for (int step = 0; step < 20_000; step++)
        {
            final long sessionId = sessionIds[random.nextInt(sessionIds.length)];
            final long id = last.getOrDefault(sessionId, 0L) + 1 + random.nextInt(3);
            record(ledger, ledger.session(sessionId), id);
            last.put(sessionId, id);
            final ArrayDeque<Long> kept = model.computeIfAbsent(sessionId, k -> new ArrayDeque<>());
            kept.addLast(id);
            if (kept.size() > 5)
            {
                kept.removeFirst();
            }
        }
        assertEquals(model.size(), ledger.sessionCount(), "seed " + SEED);
        final Set<Long> visited = new HashSet<>();
        ledger.forEachSession(session -> assertTrue(visited.add(session.sessionId), "once each: " + session.sessionId));
        assertEquals(model.keySet(), visited);
        for (final Map.Entry<Long, ArrayDeque<Long>> expected : model.entrySet())
        {
            final AckLedger.SessionAcks session = ledger.sessionOrNull(expected.getKey());
            assertEquals(List.copyOf(expected.getValue()), ids(ledger, session), "session " + expected.getKey() +
                ", seed " + SEED);
            assertEquals(last.get(expected.getKey()), session.lastCorrelationId);
            for (final long id : expected.getValue())
            {
                assertArrayEquals(ackBytes(id, (int)(id % 5) + 1), find(ledger, session, id));
            }
        }
    }

    /**
     * Against a model (a deque of the last acks): acks of random lengths up to the longest, random gaps between
     * correlation ids, an unsent cursor set now and then; after every record the ledger holds exactly the model's
     * acks, byte for byte, finds each, finds none evicted, and counts evicted unsent acks as the model does. The
     * ring (at least 4096 bytes) wraps many times over.
     */
    @ParameterizedTest(name = "max {0} acks of up to {1} bytes")
    @CsvSource({ "1, 0", "1, 100", "2, 7", "3, 1000", "7, 13", "16, 300", "64, 64", "100, 2000" })
    void anySequenceOfAcksWrapsTheRingAsTheModelSays(final int maxBatches, final int maxAckBytes)
    {
        final long seed = SEED ^ (maxBatches * 1_000_003L + maxAckBytes);
        final Random random = new Random(seed);
        final AckLedger ledger = new AckLedger(maxBatches, maxAckBytes);
        final AckLedger.SessionAcks session = ledger.session(seed);
        final ArrayDeque<Map.Entry<Long, byte[]>> model = new ArrayDeque<>();
        long modelFirstUnsent = 0;
        long modelEvictedUnsent = 0;
        long lastId = 0;
        long bytesRecorded = 0;
        final int steps = 3_000;
        for (int step = 0; step < steps; step++)
        {
            final String where = "seed " + seed + " (0x" + Long.toHexString(seed) + "), step " + step;
            final long id = lastId + 1 + (random.nextInt(4) == 0 ? random.nextInt(1_000_000) : 0);
            final byte[] ack = new byte[random.nextInt(maxAckBytes + 1)];
            random.nextBytes(ack);

            if (random.nextInt(8) == 0)
            {
                // The egress pushed back: from a kept ack (or just after one) nothing went out; or all went out.
                if (model.isEmpty() || random.nextBoolean())
                {
                    modelFirstUnsent = 0;
                }
                else
                {
                    final List<Map.Entry<Long, byte[]>> kept = List.copyOf(model);
                    modelFirstUnsent = kept.get(random.nextInt(kept.size())).getKey() + (random.nextBoolean() ? 1 : 0);
                }
                session.firstUnsentCorrelationId = modelFirstUnsent;
            }

            record(ledger, session, id, ack);
            // The oldest goes before the new ack is kept: the cursor moves to the next ack kept before it, or
            // to 0 when there is none (the service then sends the new one itself).
            long evicted = 0;
            if (model.size() == maxBatches)
            {
                evicted = model.removeFirst().getKey();
                final long gone = evicted;
                if (modelFirstUnsent != 0 && gone >= modelFirstUnsent)
                {
                    modelEvictedUnsent++;
                    modelFirstUnsent = model.stream().mapToLong(Map.Entry::getKey).filter(k -> k > gone)
                        .findFirst().orElse(0);
                }
            }
            model.addLast(Map.entry(id, ack));
            lastId = id;
            bytesRecorded += ExpandableRingBuffer.HEADER_LENGTH + AckLedger.ENTRY_HEADER_BYTES +
                ack.length;
            if (evicted != 0)
            {
                assertNull(find(ledger, session, evicted), "evicted " + evicted + ", " + where);
            }

            final List<Map.Entry<Long, byte[]>> held = acksFrom(ledger, session, Long.MIN_VALUE);
            assertEquals(model.size(), held.size(), where);
            assertEquals(model.size(), session.count, where);
            int i = 0;
            for (final Map.Entry<Long, byte[]> expected : model)
            {
                assertEquals(expected.getKey(), held.get(i).getKey(), where);
                assertArrayEquals(expected.getValue(), held.get(i).getValue(), "ack of " + expected.getKey() + ", " +
                    where);
                i++;
            }
            final Map.Entry<Long, byte[]> probe = List.copyOf(model).get(random.nextInt(model.size()));
            assertArrayEquals(probe.getValue(), find(ledger, session, probe.getKey()), "find " + probe.getKey() + ", " +
                where);
            assertEquals(id, session.lastCorrelationId, where);
            assertEquals(modelFirstUnsent, session.firstUnsentCorrelationId, where);
            assertEquals(modelEvictedUnsent, ledger.evictedUnsent(), where);
        }
        final int ringBytes = AckLedger.ringBytes(maxBatches, maxAckBytes);
        assertTrue(bytesRecorded > 3L * ringBytes, "the ring wrapped: " + bytesRecorded + " bytes through a ring of " +
            ringBytes + ", seed " + seed);
    }

    @Test
    void constructorBounds()
    {
        assertEquals("the ack ledger keeps at least one ack per session: 0",
            assertThrows(IllegalArgumentException.class, () -> new AckLedger(0, 100)).getMessage());
        assertThrows(IllegalArgumentException.class, () -> new AckLedger(-1, 100));
        assertThrows(IllegalArgumentException.class, () -> new AckLedger(Integer.MIN_VALUE, 100));

        assertEquals(1, new AckLedger(1, 0).maxBatchesPerSession());
        // The service's defaults and its most acks per session with acks of a one-record batch.
        new AckLedger(ClusterServiceSettings.DEFAULT_ACK_LEDGER_BATCHES,
            AckWriter.maxAckBytes(ClusterServiceSettings.DEFAULT_MAX_RECORDS_PER_BATCH));
        new AckLedger(ClusterServiceSettings.MAX_ACK_LEDGER_BATCHES, AckWriter.maxAckBytes(1));

        // The most that fits: every kept ack at its longest, twice over, in a ring of at most MAX_CAPACITY bytes.
        final int perEntry = ExpandableRingBuffer.HEADER_LENGTH + AckLedger.ENTRY_HEADER_BYTES +
            ExpandableRingBuffer.HEADER_ALIGNMENT;
        final int largestAck = ExpandableRingBuffer.MAX_CAPACITY / 2 / 1024 - perEntry;
        new AckLedger(1024, largestAck);
        final IllegalArgumentException tooMuch = assertThrows(IllegalArgumentException.class,
            () -> new AckLedger(1024, largestAck + 1));
        assertTrue(tooMuch.getMessage().equals("1024 acks of up to " + (largestAck + 1) + " bytes per session need a ring of more than 1073741824 bytes: keep fewer"),
            tooMuch.getMessage());

        // Sizes whose product overflows a long must be refused too, not wrap around to a small ring.
        for (final int[] sizes : new int[][]{
            { Integer.MAX_VALUE, Integer.MAX_VALUE }, { Integer.MAX_VALUE, 1 << 30 }, { 1 << 30, Integer.MAX_VALUE },
            { Integer.MAX_VALUE, 0 }, { 1, Integer.MAX_VALUE } })
        {
            assertThrows(IllegalArgumentException.class, () -> new AckLedger(sizes[0], sizes[1]),
                Arrays.toString(sizes));
        }
    }
}
