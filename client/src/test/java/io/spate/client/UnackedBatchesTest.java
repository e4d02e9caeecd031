package io.spate.client;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static io.spate.client.UnackedBatches.ACKED;
import static io.spate.client.UnackedBatches.DUPLICATE;
import static io.spate.client.UnackedBatches.UNKNOWN;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The client's FIFO of batches sent without an ack: its bounds (the count lowered to a server's ledger), the order
 * it pops, resends and fails in, duplicates, and its byte ring wrapping around and growing on demand, checked
 * against a plain reference model.
 */
class UnackedBatchesTest
{
    private final UnsafeBuffer source = new UnsafeBuffer(new byte[4096]);

    /** Appends a batch whose bytes all equal its correlation id's low byte. */
    private void append(final UnackedBatches fifo, final long correlationId, final int lengthBytes)
    {
        source.setMemory(0, lengthBytes, (byte)correlationId);
        fifo.append(correlationId, source, 0, lengthBytes);
    }

    private static byte[] bytesOf(final UnackedBatches fifo, final long sequence)
    {
        final byte[] bytes = new byte[fifo.lengthBytes(sequence)];
        fifo.buffer().getBytes(fifo.offsetBytes(sequence), bytes);
        return bytes;
    }

    private static byte[] filled(final long correlationId, final int lengthBytes)
    {
        final byte[] bytes = new byte[lengthBytes];
        java.util.Arrays.fill(bytes, (byte)correlationId);
        return bytes;
    }

    /** What a resend after a leader change sends: every retained entry not yet acked, oldest first. */
    private static List<Long> resendOrder(final UnackedBatches fifo)
    {
        final List<Long> ids = new ArrayList<>();
        for (long sequence = fifo.headSequence(); sequence < fifo.tailSequence(); sequence++)
        {
            if (!fifo.isAcked(sequence))
            {
                ids.add(fifo.correlationId(sequence));
            }
        }
        return ids;
    }

    @Test
    void boundsAreCheckedAtConstruction()
    {
        assertThrows(IllegalArgumentException.class, () -> new UnackedBatches(0, 1024));
        assertThrows(IllegalArgumentException.class, () -> new UnackedBatches(UnackedBatches.MAX_BATCHES_LIMIT + 1, 1024));
        assertThrows(IllegalArgumentException.class, () -> new UnackedBatches(8, 0));
        final UnackedBatches fifo = new UnackedBatches(UnackedBatches.MAX_BATCHES_LIMIT, 1);
        assertEquals(UnackedBatches.MAX_BATCHES_LIMIT, fifo.maxBatches());
        assertTrue(fifo.hasRoomFor(1));
        assertFalse(fifo.hasRoomFor(2));
    }

    @Test
    void fullByCountThenRoomAgainAfterAnAck()
    {
        final UnackedBatches fifo = new UnackedBatches(3, 1024);
        append(fifo, 1, 10);
        append(fifo, 2, 10);
        append(fifo, 3, 10);
        assertEquals(3, fifo.size());
        assertFalse(fifo.hasRoomFor(1), "three batches: full by count, whatever the bytes");
        final IllegalStateException ex = assertThrows(IllegalStateException.class, () -> append(fifo, 4, 10));
        assertTrue(ex.getMessage().contains("3 of 3 batches"), ex.getMessage());
        assertEquals(ACKED, fifo.onAck(1));
        assertTrue(fifo.hasRoomFor(10));
        append(fifo, 4, 10);
        assertEquals(List.of(2L, 3L, 4L), resendOrder(fifo));
    }

    @Test
    void fullByBytes()
    {
        final UnackedBatches fifo = new UnackedBatches(16, 100);
        assertFalse(fifo.hasRoomFor(101), "never more than the ring");
        append(fifo, 1, 60);
        assertTrue(fifo.hasRoomFor(40));
        assertFalse(fifo.hasRoomFor(41));
        append(fifo, 2, 40);
        assertFalse(fifo.hasRoomFor(1));
        assertEquals(100, fifo.retainedBytes());
        assertEquals(ACKED, fifo.onAck(1));
        assertEquals(40, fifo.retainedBytes());
        assertTrue(fifo.hasRoomFor(60), "the start of the ring is free again");
        assertFalse(fifo.hasRoomFor(61), "contiguous only: 60 bytes before the head, none after the tail");
    }

    @Test
    void correlationIdsMustGrowAndABatchHasBytes()
    {
        final UnackedBatches fifo = new UnackedBatches(8, 1024);
        append(fifo, 5, 10);
        assertThrows(IllegalStateException.class, () -> append(fifo, 5, 10));
        assertThrows(IllegalStateException.class, () -> append(fifo, 4, 10));
        assertThrows(IllegalStateException.class, () -> append(fifo, 6, 0));
        assertEquals(1, fifo.size());
    }

    @Test
    void acksPopInOrderAndDeliverEachBatchOnce()
    {
        final UnackedBatches fifo = new UnackedBatches(8, 1024);
        // Correlation ids have gaps: reads take ids too.
        append(fifo, 1, 10);
        append(fifo, 2, 20);
        append(fifo, 4, 30);
        assertEquals(ACKED, fifo.onAck(1));
        assertEquals(2, fifo.correlationId(fifo.headSequence()));
        assertEquals(DUPLICATE, fifo.onAck(1), "older than the head");
        assertEquals(UNKNOWN, fifo.onAck(3), "between retained batches: no batch has it");
        assertEquals(UNKNOWN, fifo.onAck(9), "never sent");
        assertEquals(ACKED, fifo.onAck(2));
        assertEquals(ACKED, fifo.onAck(4));
        assertTrue(fifo.isEmpty());
        assertEquals(0, fifo.retainedBytes());
        assertEquals(DUPLICATE, fifo.onAck(4), "empty, but sent and acked before");
        assertEquals(DUPLICATE, fifo.onAck(2));
        assertEquals(3, fifo.duplicateAcks());
    }

    @Test
    void anAckPastTheHeadIsDeliveredOnceAndPoppedWithTheHead()
    {
        final UnackedBatches fifo = new UnackedBatches(8, 1024);
        append(fifo, 1, 10);
        append(fifo, 2, 10);
        append(fifo, 3, 10);
        assertEquals(ACKED, fifo.onAck(2));
        assertEquals(3, fifo.size(), "kept until the head is acked");
        assertEquals(List.of(1L, 3L), resendOrder(fifo), "a resend skips what is acked");
        assertEquals(DUPLICATE, fifo.onAck(2));
        assertEquals(ACKED, fifo.onAck(1));
        assertEquals(1, fifo.size(), "1 and 2 popped together");
        assertEquals(3, fifo.correlationId(fifo.headSequence()));
    }

    @Test
    void resendOrderIsSendOrderWithOriginalBytesAcrossPops()
    {
        final UnackedBatches fifo = new UnackedBatches(8, 1024);
        for (long id = 1; id <= 6; id++)
        {
            append(fifo, id * 2, (int)(10 * id));
        }
        assertEquals(ACKED, fifo.onAck(2));
        assertEquals(ACKED, fifo.onAck(4));
        // A resend cursor is a sequence: entries popped under it are skipped, the rest go oldest first.
        long cursor = fifo.headSequence() - 2;
        final List<Long> resent = new ArrayList<>();
        while (true)
        {
            cursor = Math.max(cursor, fifo.headSequence());
            if (cursor >= fifo.tailSequence())
            {
                break;
            }
            resent.add(fifo.correlationId(cursor));
            assertArrayEquals(filled(fifo.correlationId(cursor), fifo.lengthBytes(cursor)), bytesOf(fifo, cursor));
            if (fifo.correlationId(cursor) == 8)
            {
                assertEquals(ACKED, fifo.onAck(6)); // an ack arrives mid-resend: 6 was sent before, 8 goes on
            }
            cursor++;
        }
        assertEquals(List.of(6L, 8L, 10L, 12L), resent);
        assertEquals(List.of(8L, 10L, 12L), resendOrder(fifo));
        assertEquals(30 + 40 + 50 + 60 - 30, fifo.retainedBytes());
    }

    @Test
    void wrapsAroundTheRingKeepingEveryBatchIntact()
    {
        final UnackedBatches fifo = new UnackedBatches(4, 100);
        append(fifo, 1, 40); // [0, 40)
        append(fifo, 2, 40); // [40, 80)
        assertFalse(fifo.hasRoomFor(21), "20 bytes left at the end, none at the start");
        assertEquals(ACKED, fifo.onAck(1));
        append(fifo, 3, 30); // does not fit after 80: goes to [0, 30)
        assertEquals(0, fifo.offsetBytes(fifo.tailSequence() - 1));
        assertTrue(fifo.hasRoomFor(10));
        assertFalse(fifo.hasRoomFor(11), "wrapped: only [30, 40) is free");
        append(fifo, 4, 10); // [30, 40): the ring is full though only 80 bytes are retained
        assertFalse(fifo.hasRoomFor(1));
        assertEquals(80, fifo.retainedBytes());
        for (long sequence = fifo.headSequence(); sequence < fifo.tailSequence(); sequence++)
        {
            assertArrayEquals(filled(fifo.correlationId(sequence), fifo.lengthBytes(sequence)), bytesOf(fifo, sequence));
        }
        assertEquals(List.of(2L, 3L, 4L), resendOrder(fifo));
        assertEquals(ACKED, fifo.onAck(2));
        assertTrue(fifo.hasRoomFor(60), "the head is at 0 now: [40, 100) is free");
        append(fifo, 5, 60);
        assertEquals(40, fifo.offsetBytes(fifo.tailSequence() - 1));
        assertEquals(List.of(3L, 4L, 5L), resendOrder(fifo));
    }

    @Test
    void clearDropsEverythingAndIdsGoOnGrowing()
    {
        final UnackedBatches fifo = new UnackedBatches(4, 100);
        append(fifo, 1, 40);
        append(fifo, 2, 40);
        fifo.clear();
        assertTrue(fifo.isEmpty());
        assertEquals(0, fifo.retainedBytes());
        assertTrue(fifo.hasRoomFor(100));
        assertEquals(DUPLICATE, fifo.onAck(2), "an ack of a batch of the ended session is not delivered");
        assertThrows(IllegalStateException.class, () -> append(fifo, 2, 10));
        append(fifo, 3, 100);
        assertEquals(0, fifo.offsetBytes(fifo.headSequence()));
    }

    @Test
    void theRingGrowsOnDemandUpToItsCapacityKeepingEveryBatchInOrder()
    {
        final UnackedBatches fifo = new UnackedBatches(8, 1000, 16);
        assertEquals(16, fifo.ringBytes());
        append(fifo, 1, 10);
        append(fifo, 2, 10); // 6 bytes left: the ring doubles, the batches copied to its start
        assertEquals(32, fifo.ringBytes());
        assertEquals(0, fifo.offsetBytes(fifo.headSequence()));
        assertEquals(10, fifo.offsetBytes(fifo.headSequence() + 1));
        assertEquals(ACKED, fifo.onAck(1));
        append(fifo, 3, 100); // more than double: as much as needed
        assertEquals(110, fifo.ringBytes());
        assertTrue(fifo.hasRoomFor(1000 - 110), "grows up to the capacity");
        assertFalse(fifo.hasRoomFor(1000 - 110 + 1), "never past it");
        append(fifo, 4, 890);
        assertEquals(1000, fifo.ringBytes());
        assertEquals(List.of(2L, 3L, 4L), resendOrder(fifo));
        for (long sequence = fifo.headSequence(); sequence < fifo.tailSequence(); sequence++)
        {
            assertArrayEquals(filled(fifo.correlationId(sequence), fifo.lengthBytes(sequence)), bytesOf(fifo, sequence));
        }
        assertEquals(1000, fifo.retainedBytes());
        assertFalse(fifo.hasRoomFor(1));
    }

    @Test
    void theCountBoundCanBeLoweredToTheServersLedger()
    {
        final UnackedBatches fifo = new UnackedBatches(8, 1000);
        fifo.limitBatches(2);
        assertEquals(2, fifo.limitBatches());
        append(fifo, 1, 10);
        append(fifo, 2, 10);
        assertFalse(fifo.hasRoomFor(1), "two retained: the lowered bound");
        final IllegalStateException ex = assertThrows(IllegalStateException.class, () -> append(fifo, 3, 10));
        assertTrue(ex.getMessage().contains("2 of 2 batches"), ex.getMessage());
        fifo.limitBatches(0);
        assertEquals(1, fifo.limitBatches(), "at least one");
        fifo.limitBatches(1_000);
        assertEquals(8, fifo.limitBatches(), "never past the slots it has");
        assertTrue(fifo.hasRoomFor(10));
    }

    @Test
    void removingTheHeadFailsTheOldestAndPopsTheAckedOnesBehindIt()
    {
        final UnackedBatches fifo = new UnackedBatches(8, 1000);
        append(fifo, 1, 10);
        append(fifo, 2, 20);
        append(fifo, 3, 30);
        assertEquals(ACKED, fifo.onAck(2), "past the head: delivered, kept until the head goes");
        fifo.removeHead();
        assertEquals(3, fifo.correlationId(fifo.headSequence()), "1 failed, 2 was acked: both gone");
        assertEquals(1, fifo.size());
        assertEquals(30, fifo.retainedBytes());
        assertEquals(DUPLICATE, fifo.onAck(1), "a late ack of the failed batch is not delivered");
        fifo.removeHead();
        assertTrue(fifo.isEmpty());
        assertEquals(0, fifo.retainedBytes());
        assertThrows(IllegalStateException.class, fifo::removeHead);
        append(fifo, 4, 1000);
        assertEquals(0, fifo.offsetBytes(fifo.headSequence()));
    }

    @Test
    void accessorsRefuseSequencesOutsideTheFifo()
    {
        final UnackedBatches fifo = new UnackedBatches(4, 100);
        append(fifo, 1, 10);
        assertThrows(IndexOutOfBoundsException.class, () -> fifo.correlationId(fifo.tailSequence()));
        assertEquals(ACKED, fifo.onAck(1));
        assertThrows(IndexOutOfBoundsException.class, () -> fifo.lengthBytes(0));
    }

    @Test
    void matchesAReferenceModel()
    {
        matchesAReferenceModel(false);
    }

    @Test
    void matchesAReferenceModelWithAGrowingRing()
    {
        matchesAReferenceModel(true);
    }

    /**
     * Random appends (random lengths), acks (mostly the head's, some past it, duplicates, strangers), heads
     * removed, the count bound moved, and clears against a reference model: the same entries in the same order
     * with the same bytes, the same outcome for every ack, never more than the bound, and never a batch refused
     * while the FIFO is empty. Seed printed on failure.
     */
    private void matchesAReferenceModel(final boolean growing)
    {
        final long seed = System.nanoTime();
        final SplittableRandom random = new SplittableRandom(seed);
        final int maxBatches = 1 + random.nextInt(16);
        final int capacityBytes = 64 + random.nextInt(2048);
        final UnackedBatches fifo = growing ?
            new UnackedBatches(maxBatches, capacityBytes, 1 + random.nextInt(64)) :
            new UnackedBatches(maxBatches, capacityBytes);
        final ArrayDeque<long[]> model = new ArrayDeque<>(); // {correlationId, lengthBytes, acked}
        long nextId = 1;
        long lastAppendedId = 0;
        long duplicates = 0;
        for (int step = 0; step < 200_000; step++)
        {
            final String where = "seed " + seed + " step " + step;
            final int dice = random.nextInt(100);
            if (dice < 45)
            {
                final int lengthBytes = 1 + random.nextInt(Math.min(capacityBytes, 600));
                nextId += 1 + random.nextInt(3);
                if (fifo.hasRoomFor(lengthBytes))
                {
                    assertTrue(model.size() < fifo.limitBatches(), where);
                    append(fifo, nextId, lengthBytes);
                    model.addLast(new long[]{ nextId, lengthBytes, 0 });
                    lastAppendedId = nextId;
                }
                else if (model.isEmpty())
                {
                    throw new AssertionError(where + ": an empty FIFO refused " + lengthBytes + " bytes");
                }
            }
            else if (dice < 85 && !model.isEmpty())
            {
                final long[] target = random.nextInt(10) < 8 ? model.peekFirst() :
                    model.stream().skip(random.nextInt(model.size())).findFirst().orElseThrow();
                final int expected = target[2] == 1 ? DUPLICATE : ACKED;
                assertEquals(expected, fifo.onAck(target[0]), where);
                duplicates += expected == DUPLICATE ? 1 : 0;
                target[2] = 1;
                while (!model.isEmpty() && model.peekFirst()[2] == 1)
                {
                    model.removeFirst();
                }
            }
            else if (dice < 95)
            {
                // Any id: a duplicate, a stranger, or a first ack past the head.
                final long id = 1 + random.nextLong(nextId + 5);
                final long[] entry = model.stream().filter((e) -> e[0] == id).findFirst().orElse(null);
                final int expected;
                if (id > lastAppendedId)
                {
                    expected = UNKNOWN;
                }
                else if (model.isEmpty() || id < model.peekFirst()[0])
                {
                    expected = DUPLICATE;
                }
                else if (null == entry)
                {
                    expected = UNKNOWN;
                }
                else
                {
                    expected = entry[2] == 1 ? DUPLICATE : ACKED;
                }
                assertEquals(expected, fifo.onAck(id), where + " id " + id);
                duplicates += expected == DUPLICATE ? 1 : 0;
                if (expected == ACKED)
                {
                    entry[2] = 1;
                    while (!model.isEmpty() && model.peekFirst()[2] == 1)
                    {
                        model.removeFirst();
                    }
                }
            }
            else if (dice < 97 && !model.isEmpty())
            {
                fifo.removeHead(); // failed: never answered
                model.removeFirst();
                while (!model.isEmpty() && model.peekFirst()[2] == 1)
                {
                    model.removeFirst();
                }
            }
            else if (dice < 98)
            {
                fifo.limitBatches(1 + random.nextInt(maxBatches));
            }
            else if (random.nextInt(50) == 0)
            {
                fifo.clear();
                model.clear();
            }
            assertTrue(fifo.ringBytes() <= capacityBytes, where);
            assertEquals(model.size(), fifo.size(), where);
            long sequence = fifo.headSequence();
            int retained = 0;
            for (final long[] entry : model)
            {
                assertEquals(entry[0], fifo.correlationId(sequence), where);
                assertEquals(entry[2] == 1, fifo.isAcked(sequence), where);
                assertArrayEquals(filled(entry[0], (int)entry[1]), bytesOf(fifo, sequence), where);
                retained += (int)entry[1];
                sequence++;
            }
            assertEquals(retained, fifo.retainedBytes(), where);
            assertEquals(duplicates, fifo.duplicateAcks(), where);
        }
    }
}
