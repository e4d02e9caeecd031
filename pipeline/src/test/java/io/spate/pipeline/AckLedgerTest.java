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
import java.util.stream.LongStream;

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
        assertEquals(0, ledger.evictedByBytes(), "evicted by the count bound only");
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
     * correlation ids; after every record the ledger holds exactly the model's acks, byte for byte, finds each, finds
     * none evicted. The ring (at least 4096 bytes) wraps many times over.
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
        long lastId = 0;
        long bytesRecorded = 0;
        final int steps = 3_000;
        for (int step = 0; step < steps; step++)
        {
            final String where = "seed " + seed + " (0x" + Long.toHexString(seed) + "), step " + step;
            final long id = lastId + 1 + (random.nextInt(4) == 0 ? random.nextInt(1_000_000) : 0);
            final byte[] ack = new byte[random.nextInt(maxAckBytes + 1)];
            random.nextBytes(ack);

            record(ledger, session, id, ack);
            long evicted = 0;
            if (model.size() == maxBatches)
            {
                evicted = model.removeFirst().getKey();
            }
            model.addLast(Map.entry(id, ack));
            lastId = id;
            bytesRecorded += AckLedger.entryBytes(ack.length);
            if (evicted != 0)
            {
                assertNull(find(ledger, session, evicted), "evicted " + evicted + ", " + where);
            }

            final List<Map.Entry<Long, byte[]>> held = acksFrom(ledger, session, Long.MIN_VALUE);
            assertEquals(model.size(), held.size(), where);
            assertEquals(model.size(), session.count, where);
            int i = 0;
            long bytes = 0;
            for (final Map.Entry<Long, byte[]> expected : model)
            {
                assertEquals(expected.getKey(), held.get(i).getKey(), where);
                assertArrayEquals(expected.getValue(), held.get(i).getValue(), "ack of " + expected.getKey() + ", " +
                    where);
                bytes += AckLedger.entryBytes(expected.getValue().length);
                i++;
            }
            assertEquals(bytes, session.bytes, where);
            assertEquals(bytes, ledger.totalBytes(), where);
            final Map.Entry<Long, byte[]> probe = List.copyOf(model).get(random.nextInt(model.size()));
            assertArrayEquals(probe.getValue(), find(ledger, session, probe.getKey()), "find " + probe.getKey() + ", " +
                where);
            assertEquals(id, session.lastCorrelationId, where);
        }
        assertEquals(0, ledger.evictedByBytes(), "the byte bound holds every kept ack at its longest");
        final int ringBytes = session.acks.capacity();
        assertTrue(bytesRecorded > 3L * ringBytes, "the ring wrapped: " + bytesRecorded + " bytes through a ring of " +
            ringBytes + ", seed " + seed);
    }

    /** One ack of the model: its session, correlation id, sequence of recording and bytes. */
    private record Kept(long sessionId, long correlationId, long sequence, byte[] ack)
    {
    }

    /**
     * The byte bounds against a model: several sessions, acks of random lengths, random bounds (acks per session,
     * bytes per session, bytes of all); after every record each session holds exactly what the model keeps, in order
     * and byte for byte, where the model evicts the session's oldest while it is at its count or bytes, then the
     * oldest of all (by sequence of recording) while the total would pass its bound. Every ring stays within its
     * bound, and a session squeezed by the total bound gets a smaller ring back.
     */
    @ParameterizedTest(name = "seed {0}")
    @CsvSource({ "1", "2", "3", "4", "5", "6", "7", "8" })
    void theByteBoundsEvictTheOldestAsTheModelSays(final long run)
    {
        final long seed = SEED * 31 + run;
        final Random random = new Random(seed);
        final int maxAckBytes = 1 + random.nextInt(3_000);
        final int maxBatches = 1 + random.nextInt(64);
        final int maxSessionBytes = AckLedger.entryBytes(maxAckBytes) * (1 + random.nextInt(20)) + random.nextInt(100);
        final long maxTotalBytes = maxSessionBytes + (long)random.nextInt(6) * maxSessionBytes + random.nextInt(1000);
        final String bounds = "seed " + seed + ": " + maxBatches + " acks, " + maxSessionBytes + " bytes a session, " +
            maxTotalBytes + " in all, acks of up to " + maxAckBytes;
        final AckLedger ledger = new AckLedger(maxBatches, maxSessionBytes, maxTotalBytes, maxAckBytes);
        final List<Kept> model = new ArrayList<>();
        final Map<Long, Long> lastIds = new HashMap<>();
        final long[] sessionIds = { 1, 2, 3, -4, 1L << 40 };
        long sequence = 0;
        long evictedByBytes = 0;
        boolean shrunk = false;
        for (int step = 0; step < 3_000; step++)
        {
            final String where = bounds + ", step " + step;
            final long sessionId = sessionIds[random.nextInt(random.nextInt(4) == 0 ? sessionIds.length : 2)];
            final long id = lastIds.getOrDefault(sessionId, 0L) + 1 + random.nextInt(3);
            lastIds.put(sessionId, id);
            final byte[] ack = new byte[random.nextInt(4) == 0 ? maxAckBytes : random.nextInt(maxAckBytes + 1)];
            random.nextBytes(ack);
            final AckLedger.SessionAcks session = ledger.session(sessionId);
            final int capacityBefore = session.acks.capacity();
            record(ledger, session, id, ack);

            final int bytes = AckLedger.entryBytes(ack.length);
            while (true)
            {
                final List<Kept> own = model.stream().filter(k -> k.sessionId() == sessionId).toList();
                final long ownBytes = own.stream().mapToLong(k -> AckLedger.entryBytes(k.ack().length)).sum();
                if (own.isEmpty() || (own.size() < maxBatches && ownBytes + bytes <= maxSessionBytes))
                {
                    break;
                }
                if (own.size() < maxBatches)
                {
                    evictedByBytes++;
                }
                model.remove(own.get(0));
            }
            while (model.stream().mapToLong(k -> AckLedger.entryBytes(k.ack().length)).sum() + bytes > maxTotalBytes)
            {
                evictedByBytes++;
                model.remove(0); // the model is in recording order: its first is the oldest of all
            }
            model.add(new Kept(sessionId, id, ++sequence, ack));

            long total = 0;
            for (final long each : sessionIds)
            {
                final AckLedger.SessionAcks held = ledger.sessionOrNull(each);
                final List<Kept> expected = model.stream().filter(k -> k.sessionId() == each).toList();
                if (null == held)
                {
                    assertEquals(List.of(), expected, where);
                    continue;
                }
                final List<Map.Entry<Long, byte[]>> acks = acksFrom(ledger, held, Long.MIN_VALUE);
                assertEquals(expected.stream().map(Kept::correlationId).toList(),
                    acks.stream().map(Map.Entry::getKey).toList(), "session " + each + ", " + where);
                for (int i = 0; i < expected.size(); i++)
                {
                    assertArrayEquals(expected.get(i).ack(), acks.get(i).getValue(), where);
                }
                final long heldBytes = expected.stream().mapToLong(k -> AckLedger.entryBytes(k.ack().length)).sum();
                assertEquals(heldBytes, held.bytes, where);
                assertEquals(expected.size(), held.count, where);
                assertEquals(expected.isEmpty() ? Long.MAX_VALUE : expected.get(0).sequence(), held.oldestSequence, where);
                assertTrue(held.bytes <= maxSessionBytes && held.count <= maxBatches, where);
                assertTrue(held.acks.capacity() <= AckLedger.ringBytes(maxSessionBytes), where);
                assertTrue(held.acks.capacity() <= Math.max(AckLedger.INITIAL_RING_BYTES,
                    4 * (held.bytes + 2L * AckLedger.entryBytes(maxAckBytes))), "ring of " + held.acks.capacity() +
                    " bytes for " + held.bytes + ", " + where);
                total += held.bytes;
            }
            assertEquals(total, ledger.totalBytes(), where);
            assertTrue(total <= maxTotalBytes, where);
            assertEquals(evictedByBytes, ledger.evictedByBytes(), where);
            assertEquals(sequence + 1, ledger.nextSequence(), where);
            shrunk |= session.acks.capacity() < capacityBefore;
        }
        System.out.println("AckLedgerTest byte bounds, " + bounds + ": " + evictedByBytes + " evicted by bytes" +
            (shrunk ? ", rings shrunk" : ""));
    }

    /**
     * Two sessions of acks of one size: at most 4 a session, 6 in all. A session at its bound drops its own oldest;
     * the ledger at its total drops the oldest of all, whichever session holds it.
     */
    @Test
    void theOldestOfAllGoesAtTheTotalBound()
    {
        final int entry = AckLedger.entryBytes(10);
        final AckLedger ledger = new AckLedger(100, 4 * entry, 6 * entry, 10);
        final AckLedger.SessionAcks a = ledger.session(1);
        final AckLedger.SessionAcks b = ledger.session(2);
        record(ledger, a, 1, new byte[10]);
        record(ledger, b, 1, new byte[10]);
        record(ledger, a, 2, new byte[10]);
        record(ledger, b, 2, new byte[10]);
        record(ledger, b, 3, new byte[10]);
        record(ledger, b, 4, new byte[10]);
        assertEquals(6L * entry, ledger.totalBytes());
        assertEquals(0, ledger.evictedByBytes());

        record(ledger, b, 5, new byte[10]); // b at its own bound: its oldest goes, nothing of a
        assertEquals(List.of(1L, 2L), ids(ledger, a));
        assertEquals(List.of(2L, 3L, 4L, 5L), ids(ledger, b));
        record(ledger, a, 3, new byte[10]); // the total: a's 1 is the oldest of all
        assertEquals(List.of(2L, 3L), ids(ledger, a));
        record(ledger, a, 4, new byte[10]); // a's 2 is older than b's 2
        assertEquals(List.of(3L, 4L), ids(ledger, a));
        assertEquals(List.of(2L, 3L, 4L, 5L), ids(ledger, b));
        record(ledger, b, 6, new byte[10]); // b's own bound again
        assertEquals(List.of(3L, 4L, 5L, 6L), ids(ledger, b));
        record(ledger, a, 5, new byte[10]); // the total: now b's 3 is the oldest of all
        assertEquals(List.of(3L, 4L, 5L), ids(ledger, a));
        assertEquals(List.of(4L, 5L, 6L), ids(ledger, b));
        assertEquals(5, ledger.evictedByBytes());
        assertEquals(6L * entry, ledger.totalBytes());
        ledger.remove(2);
        assertEquals(3L * entry, ledger.totalBytes(), "a removed session's bytes go with it");
    }

    /** A session squeezed by the total bound gives its grown ring back; the others keep theirs. */
    @Test
    void aRingLeftSparseByTheTotalBoundShrinks()
    {
        final int entry = AckLedger.entryBytes(1_000);
        final AckLedger ledger = new AckLedger(10_000, 1_000 * entry, 1_000L * entry, 1_000);
        final AckLedger.SessionAcks big = ledger.session(1);
        for (long id = 1; id <= 1_000; id++)
        {
            record(ledger, big, id, new byte[1_000]);
        }
        final int grown = big.acks.capacity();
        assertTrue(grown >= 1_000 * entry, "grown to " + grown);
        final AckLedger.SessionAcks other = ledger.session(2);
        for (long id = 1; id <= 990; id++)
        {
            record(ledger, other, id, new byte[1_000]);
        }
        assertEquals(10, big.count);
        assertTrue(big.acks.capacity() <= 4 * (11 * entry) && big.acks.capacity() >= AckLedger.INITIAL_RING_BYTES,
            "shrunk to " + big.acks.capacity());
        assertEquals(LongStream.rangeClosed(991, 1_000).boxed().toList(), ids(ledger, big), "its latest kept");
        record(ledger, big, 1_001, new byte[1_000]);
        assertEquals(1_001, big.lastCorrelationId);
    }

    /** Small acks after large ones (the session's own bounds evicting): the ring comes down with what it keeps. */
    @Test
    void aRingLeftSparseBySmallAcksShrinks()
    {
        final int largeEntry = AckLedger.entryBytes(10_000);
        final AckLedger ledger = new AckLedger(64, 64 * largeEntry, Long.MAX_VALUE, 10_000);
        final AckLedger.SessionAcks session = ledger.session(3);
        long id = 0;
        for (int i = 0; i < 64; i++)
        {
            record(ledger, session, ++id, new byte[10_000]);
        }
        final int grown = session.acks.capacity();
        assertTrue(grown >= 64 * largeEntry, "grown to " + grown);
        for (int i = 0; i < 64; i++)
        {
            record(ledger, session, ++id, new byte[8]);
        }
        assertEquals(64, session.count);
        assertEquals(64L * AckLedger.entryBytes(8), session.bytes);
        assertTrue(session.acks.capacity() <= 4 * (session.bytes + 2L * largeEntry), "shrunk to " +
            session.acks.capacity() + " from " + grown);
        assertEquals(LongStream.rangeClosed(65, 128).boxed().toList(), ids(ledger, session));
    }

    @Test
    void restoredAcksKeepTheirSequenceAndOrder()
    {
        final AckLedger source = new AckLedger(8, 64);
        record(source, source.session(1), 5, new byte[3]);
        record(source, source.session(2), 1, new byte[4]);
        record(source, source.session(1), 6, new byte[5]);
        final AckLedger target = new AckLedger(8, 64);
        target.restoreNextSequence(source.nextSequence());
        for (final long sessionId : new long[]{ 1, 2 })
        {
            final AckLedger.SessionAcks from = source.sessionOrNull(sessionId);
            final AckLedger.SessionAcks to = target.session(sessionId);
            from.acks.forEach((buffer, offset, length, head) ->
            {
                target.restore(to, buffer, offset, length);
                return true;
            }, Integer.MAX_VALUE);
        }
        assertEquals(source.totalBytes(), target.totalBytes());
        assertEquals(ids(source, source.sessionOrNull(1)), ids(target, target.sessionOrNull(1)));
        assertEquals(source.sessionOrNull(1).oldestSequence, target.sessionOrNull(1).oldestSequence);
        assertEquals(source.sessionOrNull(2).oldestSequence, target.sessionOrNull(2).oldestSequence);

        // A sequence not above the session's last, or not below the next: refused.
        final UnsafeBuffer entry = entry(7, new byte[1]);
        entry.putLong(AckLedger.SEQUENCE_OFFSET, 2, ByteOrder.LITTLE_ENDIAN);
        assertThrows(IllegalStateException.class, () -> target.restore(target.sessionOrNull(1), entry, 0, entry.capacity()));
        entry.putLong(AckLedger.SEQUENCE_OFFSET, source.nextSequence(), ByteOrder.LITTLE_ENDIAN);
        assertThrows(IllegalStateException.class, () -> target.restore(target.sessionOrNull(1), entry, 0, entry.capacity()));
        assertThrows(IllegalStateException.class, () -> target.restoreNextSequence(9), "only before any session");
    }

    @Test
    void constructorBounds()
    {
        assertEquals("the ack ledger keeps at least one ack per session: 0",
            assertThrows(IllegalArgumentException.class, () -> new AckLedger(0, 100)).getMessage());
        assertThrows(IllegalArgumentException.class, () -> new AckLedger(-1, 100));
        assertThrows(IllegalArgumentException.class, () -> new AckLedger(Integer.MIN_VALUE, 100));

        assertEquals(1, new AckLedger(1, 0).maxBatchesPerSession());
        // The service's defaults.
        final ClusterServiceSettings defaults = ClusterServiceSettings.fromSystemProperties();
        new AckLedger(defaults.ackLedgerBatches(), defaults.ackLedgerSessionBytes(), defaults.ackLedgerTotalBytes(),
            AckWriter.maxAckBytes(defaults.maxRecordsPerBatch()));
        new AckLedger(ClusterServiceSettings.MAX_ACK_LEDGER_BATCHES, AckWriter.maxAckBytes(1));

        // Bounded by acks only: every kept ack at its longest must fit a session's most bytes (2^29).
        final int largestAck = ClusterServiceSettings.MAX_SESSION_BYTES / 1024 - AckLedger.entryBytes(0);
        new AckLedger(1024, largestAck);
        final IllegalArgumentException tooMuch = assertThrows(IllegalArgumentException.class,
            () -> new AckLedger(1024, largestAck + 8));
        assertEquals("1024 acks of up to " + (largestAck + 8) + " bytes per session need more than 536870912 bytes: " +
            "keep fewer", tooMuch.getMessage());

        // A session's bytes hold at least one longest ack; the total at least a session's.
        final IllegalArgumentException noAck = assertThrows(IllegalArgumentException.class,
            () -> new AckLedger(10, AckLedger.entryBytes(100) - 1, Long.MAX_VALUE, 100));
        assertTrue(noAck.getMessage().contains("must hold one ack of 100 bytes"), noAck.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new AckLedger(10, 4096, 4095, 100));
        assertThrows(IllegalArgumentException.class, () -> new AckLedger(10, (1 << 29) + 1, Long.MAX_VALUE, 100));
        assertThrows(IllegalArgumentException.class, () -> new AckLedger(10, 4096, Long.MAX_VALUE, -1));

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
