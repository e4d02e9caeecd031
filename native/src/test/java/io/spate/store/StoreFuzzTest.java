package io.spate.store;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordReader;
import io.spate.codec.testing.RandomWorkload;
import io.spate.codec.testing.ReferenceStore;
import io.spate.wire.RecordStatus;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Differential fuzzing: valid random batches, mutated (bit flips, interesting values in length
 * and count fields, truncation, splices, junk), applied by the native store and the reference
 * model. The store must never crash, must give every message the status the reference gives,
 * and must end equal to the reference, which applies only what both report applied.
 * <p>
 * The workload churns (deletes about half as often as creates) and its explicit-id creates mostly take
 * freed slots at their next generation, so slots are reused all along; some skip ahead, near or far, take
 * a later or the largest generation (retiring the slot at its delete), or ask for ids the store must refuse;
 * mutations add random ids of every kind. The run checks it covered each of these.
 * Replay a failure with -Dspate.fuzz.seed=N (and -Dspate.fuzz.batches=N to shorten).
 */
class StoreFuzzTest
{
    private static final int BATCHES = Integer.getInteger("spate.fuzz.batches", 1_000_000);
    private static final long SEED = Long.getLong("spate.fuzz.seed", 20261124L);
    private static final int BATCHES_PER_STORE = 50_000;
    private static final int CAPACITY_BYTES = 1 << 16;

    @Test
    void mutatedBatchesShouldNeverCrashAndShouldMatchTheReference()
    {
        final DatabaseSchema schema = StorePropertyTest.exampleSchema();
        final Random random = new Random(SEED);
        long outcomes = 0;
        long mutatedBatches = 0;
        final Coverage coverage = new Coverage();
        try (OffHeapBuffer batch = new OffHeapBuffer(CAPACITY_BYTES))
        {
            final UnsafeBuffer bytes = batch.buffer();
            for (int done = 0; done < BATCHES; done += BATCHES_PER_STORE)
            {
                final long storeSeed = random.nextLong();
                final RandomWorkload workload = new RandomWorkload(schema, storeSeed);
                try (StoreComparison comparison = new StoreComparison(schema, 64))
                {
                    final int batches = Math.min(BATCHES_PER_STORE, BATCHES - done);
                    for (int i = 0; i < batches; i++)
                    {
                        final int recordCount = 1 + random.nextInt(12);
                        int length = workload.writeBatch(bytes, 0, CAPACITY_BYTES / 2, recordCount,
                            random.nextInt(4) != 0, random.nextBoolean());
                        if (random.nextInt(8) != 0)
                        {
                            length = mutate(random, bytes, length);
                            mutatedBatches++;
                        }
                        coverage.count(comparison, comparison.apply(batch, 0, length, "fuzz seed " + SEED +
                            " store seed " + storeSeed + " batch " + (done + i)));
                    }
                    comparison.assertSameState("fuzz seed " + SEED + " store seed " + storeSeed);
                    outcomes += comparison.outcomesCompared();
                    coverage.countStore(schema, comparison.reference());
                }
            }
        }
        System.out.printf("fuzz: %,d batches (%,d mutated), %,d messages compared, seed %d; %s%n",
            BATCHES, mutatedBatches, outcomes, SEED, coverage);
        assertTrue(outcomes >= BATCHES);
        if (BATCHES >= 100_000)
        {
            coverage.assertCovered("fuzz seed " + SEED);
        }
    }

    /** What the run exercised, from the reference's outcomes and states. */
    private static final class Coverage
    {
        long createsOfNeverUsedSlots;
        long createsReusingASlot;
        long createsIdMismatch;
        long createsTypeFull;
        long createsConsumedButFailed;
        long deletes;
        long noSuchNode;
        long badReference;
        long storesWithAFarSkip;
        long retiredSlots;
        long skippedSlots;

        void count(final StoreComparison comparison, final List<ReferenceStore.Outcome> outcomes)
        {
            for (final ReferenceStore.Outcome outcome : outcomes)
            {
                final int status = outcome.status();
                if (outcome.templateId() == RecordReader.CREATE)
                {
                    if (status == RecordStatus.OK.value())
                    {
                        if (comparison.reference().generationOf(outcome.typeId(), outcome.nodeId()) == 0)
                        {
                            createsOfNeverUsedSlots++;
                        }
                        else
                        {
                            createsReusingASlot++;
                        }
                    }
                    else if (status == RecordStatus.ID_MISMATCH.value())
                    {
                        createsIdMismatch++;
                    }
                    else if (status == RecordStatus.TYPE_FULL.value())
                    {
                        createsTypeFull++;
                    }
                    else if (outcome.nodeId() != 0)
                    {
                        createsConsumedButFailed++;
                    }
                }
                else if (outcome.templateId() == RecordReader.DELETE && status == RecordStatus.OK.value())
                {
                    deletes++;
                }
                else if (status == RecordStatus.NO_SUCH_NODE.value())
                {
                    noSuchNode++;
                }
                else if (status == RecordStatus.BAD_REFERENCE.value())
                {
                    badReference++;
                }
            }
        }

        void countStore(final DatabaseSchema schema, final ReferenceStore reference)
        {
            boolean farSkip = false;
            for (final var type : schema.types())
            {
                farSkip |= reference.highWaterSlot(type.typeId()) > 1 << 16;
                retiredSlots += reference.retiredSlots(type.typeId());
                skippedSlots += reference.neverUsedSlotsBelowHighWater(type.typeId());
            }
            storesWithAFarSkip += farSkip ? 1 : 0;
        }

        void assertCovered(final String context)
        {
            final String text = context + ": " + this;
            assertTrue(createsOfNeverUsedSlots > 10_000, text);
            assertTrue(createsReusingASlot > 10_000, text);
            assertTrue(createsIdMismatch > 1_000, text);
            assertTrue(createsTypeFull > 100, text);
            assertTrue(createsConsumedButFailed > 100, text);
            assertTrue(deletes > 10_000, text);
            assertTrue(noSuchNode > 10_000, text);
            assertTrue(badReference > 100, text);
            assertTrue(storesWithAFarSkip > 0, text);
            assertTrue(retiredSlots > 0, text);
            assertTrue(skippedSlots > 0, text);
        }

        public String toString()
        {
            return "creates of never-used slots " + createsOfNeverUsedSlots + ", reusing a slot " + createsReusingASlot +
                ", ID_MISMATCH " + createsIdMismatch + ", TYPE_FULL " + createsTypeFull + ", consumed but failed " +
                createsConsumedButFailed + "; deletes " + deletes + ", NO_SUCH_NODE " + noSuchNode + ", BAD_REFERENCE " +
                badReference + "; stores with a far skip " + storesWithAFarSkip + ", retired slots " + retiredSlots +
                ", skipped slots " + skippedSlots;
        }
    }

    private static int mutate(final Random random, final UnsafeBuffer bytes, final int length)
    {
        int mutatedLength = length;
        final int mutations = 1 + random.nextInt(3);
        for (int m = 0; m < mutations && mutatedLength > 0; m++)
        {
            final int at = random.nextInt(mutatedLength);
            switch (random.nextInt(7))
            {
                case 0 -> bytes.putByte(at, (byte)(bytes.getByte(at) ^ (1 << random.nextInt(8))));
                case 1 -> bytes.putByte(at, (byte)random.nextInt(256));
                case 2 ->
                {
                    final int[] interesting = { 0, 1, 2, 11, 12, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFF_FFFF, -1, 65536 };
                    final int value = interesting[random.nextInt(interesting.length)];
                    if (at + 4 <= mutatedLength)
                    {
                        bytes.putInt(at, value);
                    }
                    else if (at + 2 <= mutatedLength)
                    {
                        bytes.putShort(at, (short)value);
                    }
                }
                case 3 -> mutatedLength = at;
                case 4 ->
                {
                    // Splice: copy a run from elsewhere in the batch over this spot.
                    final int from = random.nextInt(mutatedLength);
                    final int run = Math.min(1 + random.nextInt(32), Math.min(mutatedLength - from, mutatedLength - at));
                    bytes.putBytes(at, bytes, from, run);
                }
                case 5 ->
                {
                    // Junk appended past the last message.
                    final int extra = Math.min(1 + random.nextInt(24), bytes.capacity() - mutatedLength);
                    for (int i = 0; i < extra; i++)
                    {
                        bytes.putByte(mutatedLength + i, (byte)random.nextInt(256));
                    }
                    mutatedLength += extra;
                }
                default ->
                {
                    // Insert a byte, shifting the rest: every later frame is off by one.
                    if (mutatedLength < bytes.capacity())
                    {
                        bytes.putBytes(at + 1, bytes, at, mutatedLength - at);
                        bytes.putByte(at, (byte)random.nextInt(256));
                        mutatedLength++;
                    }
                }
            }
        }
        return mutatedLength;
    }
}
