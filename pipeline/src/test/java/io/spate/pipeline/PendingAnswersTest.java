package io.spate.pipeline;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Answers waiting for a response stream: kept in order per session, offered oldest first until the stream takes no
 * more, refused (nothing kept) past the session's byte bound, cleared and removed; and, against a model, any
 * sequence of adds, partial drains and clears over several sessions, the rings wrapping and growing.
 */
class PendingAnswersTest
{
    private static final long SEED = 0x5EED_0A45_3E85L;

    private static UnsafeBuffer answer(final int id, final int length)
    {
        final byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            bytes[i] = (byte)(id * 13 + i);
        }
        return new UnsafeBuffer(bytes);
    }

    private static void add(final PendingAnswers pending, final long sessionId, final UnsafeBuffer answer)
    {
        assertTrue(pending.add(sessionId, answer, 0, answer.capacity()));
    }

    /** Drains, the sender taking at most {@code take} answers. */
    private static List<byte[]> drain(final PendingAnswers pending, final long sessionId, final int take)
    {
        final List<byte[]> sent = new ArrayList<>();
        final int count = pending.drain(sessionId, (buffer, offset, length) ->
        {
            if (sent.size() == take)
            {
                return false;
            }
            final byte[] bytes = new byte[length];
            buffer.getBytes(offset, bytes);
            sent.add(bytes);
            return true;
        });
        assertEquals(sent.size(), count);
        return sent;
    }

    @Test
    void answersLeaveInOrderAsTheSenderTakesThem()
    {
        final PendingAnswers pending = new PendingAnswers(1 << 16);
        assertFalse(pending.hasAny());
        assertTrue(pending.isEmpty(5));
        for (int i = 1; i <= 5; i++)
        {
            add(pending, 5, answer(i, i * 10));
        }
        add(pending, 6, answer(99, 3));
        assertEquals(2, pending.sessionsWaiting());
        assertEquals(6, pending.totalCount());
        assertEquals(5, pending.count(5));

        final List<byte[]> first = drain(pending, 5, 2);
        assertArrayEquals(answer(1, 10).byteArray(), first.get(0));
        assertArrayEquals(answer(2, 20).byteArray(), first.get(1));
        assertEquals(3, pending.count(5));
        assertEquals(List.of(), drain(pending, 5, 0), "a stream that takes nothing: all stay");
        final List<byte[]> rest = drain(pending, 5, 100);
        assertEquals(3, rest.size());
        assertArrayEquals(answer(5, 50).byteArray(), rest.get(2));
        assertTrue(pending.isEmpty(5));
        assertEquals(1, pending.sessionsWaiting());
        assertEquals(PendingAnswers.entryBytes(3), pending.totalBytes());
        assertEquals(1, pending.clear(6));
        assertFalse(pending.hasAny());
        assertEquals(0, pending.totalBytes());
        assertEquals(0, drain(pending, 7, 10).size(), "a session never seen");
    }

    @Test
    void pastItsBoundASessionKeepsNothingMore()
    {
        final int bound = 3 * PendingAnswers.entryBytes(1_000);
        final PendingAnswers pending = new PendingAnswers(bound);
        add(pending, 1, answer(1, 1_000));
        add(pending, 1, answer(2, 1_000));
        add(pending, 1, answer(3, 1_000));
        assertFalse(pending.add(1, answer(4, 1), 0, 1), "no byte left");
        assertEquals(3, pending.count(1));
        add(pending, 2, answer(5, 1_000)); // another session has its own bound
        drain(pending, 1, 1);
        add(pending, 1, answer(6, 1_000));
        assertEquals(3, pending.count(1));
        assertEquals(4, pending.totalCount());
        assertEquals(3, pending.remove(1));
        assertTrue(pending.isEmpty(1));
        assertEquals(1, pending.clearAll());
        assertFalse(pending.hasAny());
    }

    @Test
    void constructorBounds()
    {
        assertThrows(IllegalArgumentException.class, () -> new PendingAnswers(0));
        assertThrows(IllegalArgumentException.class, () -> new PendingAnswers((1 << 29) + 1));
        assertEquals(1 << 29, new PendingAnswers(1 << 29).maxSessionBytes());
    }

    /**
     * Against a model (a deque per session): random adds of random lengths, drains that take a random number, clears;
     * after every step each session holds exactly the model's answers, byte for byte, and the counts and bytes agree.
     */
    @Test
    void anySequenceKeepsWhatTheModelKeeps()
    {
        final Random random = new Random(SEED);
        final int maxLength = 3_000;
        final int bound = PendingAnswers.entryBytes(maxLength) * 4;
        final PendingAnswers pending = new PendingAnswers(bound);
        final Map<Long, ArrayDeque<byte[]>> model = new HashMap<>();
        final long[] sessions = { 1, 2, 3, -9 };
        int refused = 0;
        for (int step = 0; step < 20_000; step++)
        {
            final String where = "seed " + SEED + ", step " + step;
            final long sessionId = sessions[random.nextInt(sessions.length)];
            final ArrayDeque<byte[]> kept = model.computeIfAbsent(sessionId, k -> new ArrayDeque<>());
            final int action = random.nextInt(10);
            if (action < 6)
            {
                final byte[] bytes = new byte[random.nextInt(maxLength + 1)];
                random.nextBytes(bytes);
                final long keptBytes = kept.stream().mapToLong(b -> PendingAnswers.entryBytes(b.length)).sum();
                final boolean fits = keptBytes + PendingAnswers.entryBytes(bytes.length) <= bound;
                assertEquals(fits, pending.add(sessionId, new UnsafeBuffer(bytes), 0, bytes.length), where);
                if (fits)
                {
                    kept.addLast(bytes);
                }
                else
                {
                    refused++;
                }
            }
            else if (action < 9)
            {
                final int take = random.nextInt(3);
                final List<byte[]> sent = drain(pending, sessionId, take);
                assertEquals(Math.min(take, kept.size()), sent.size(), where);
                for (final byte[] bytes : sent)
                {
                    assertArrayEquals(kept.removeFirst(), bytes, where);
                }
            }
            else
            {
                assertEquals(kept.size(), pending.clear(sessionId), where);
                kept.clear();
            }
            long totalBytes = 0;
            long totalCount = 0;
            int waiting = 0;
            for (final long each : sessions)
            {
                final ArrayDeque<byte[]> expected = model.getOrDefault(each, new ArrayDeque<>());
                assertEquals(expected.size(), pending.count(each), where);
                totalCount += expected.size();
                totalBytes += expected.stream().mapToLong(b -> PendingAnswers.entryBytes(b.length)).sum();
                waiting += expected.isEmpty() ? 0 : 1;
            }
            assertEquals(totalCount, pending.totalCount(), where);
            assertEquals(totalBytes, pending.totalBytes(), where);
            assertEquals(waiting, pending.sessionsWaiting(), where);
        }
        // What is left comes out in order.
        for (final long each : sessions)
        {
            final List<byte[]> sent = drain(pending, each, Integer.MAX_VALUE);
            final List<byte[]> expected = new ArrayList<>(model.getOrDefault(each, new ArrayDeque<>()));
            assertEquals(expected.size(), sent.size());
            for (int i = 0; i < sent.size(); i++)
            {
                assertTrue(Arrays.equals(expected.get(i), sent.get(i)), "session " + each + " answer " + i);
            }
        }
        assertFalse(pending.hasAny());
        assertTrue(refused > 0, "the bound was reached, seed " + SEED);
        System.out.println("PendingAnswersTest seed " + SEED + ": " + refused + " answers past the bound");
    }
}
