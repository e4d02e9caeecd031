package io.spate.pipeline;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.LongStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class SchedulerTest
{
    private final Scheduler.Barriers barriers = new Scheduler.Barriers(8);

    private int assign(final Scheduler scheduler, final long seq, final int lengthBytes, final int... typeIds)
    {
        return scheduler.assign(seq, typeIds, typeIds.length, lengthBytes, barriers);
    }

    @Test
    void firstBatchesGoToFreeWorkersLowestFirst()
    {
        final Scheduler scheduler = new Scheduler(3, 8);
        assertEquals(3, scheduler.workerCount());
        assertEquals(0, assign(scheduler, 1, 100, 1));
        assertEquals(1, assign(scheduler, 2, 100, 2));
        assertEquals(2, assign(scheduler, 3, 100, 3));
        assertEquals(0, barriers.count());
        scheduler.onDone(1, 2);
        assertEquals(1, assign(scheduler, 4, 100, 4), "worker 1 is idle again");
        assertEquals(4, scheduler.lastAssignedSeq(1));
        assertEquals(2, scheduler.done(1));
    }

    @Test
    void noFreeWorkerGoesToLeastOutstandingBytes()
    {
        final Scheduler scheduler = new Scheduler(3, 8);
        assign(scheduler, 1, 300, 1);
        assign(scheduler, 2, 100, 2);
        assign(scheduler, 3, 200, 3);
        assertEquals(1, assign(scheduler, 4, 150, 4));
        assertEquals(250, scheduler.outstandingBytes(1));
        // Outstanding 300, 250, 200.
        assertEquals(2, assign(scheduler, 5, 50, 5));
        // Outstanding 300, 250, 250: tie between 1 and 2 goes to the lower index.
        assertEquals(1, assign(scheduler, 6, 10, 6));
        assertEquals(0, barriers.count());
        scheduler.onDone(0, 1);
        assertEquals(0, scheduler.outstandingBytes(0));
        assertEquals(0, assign(scheduler, 7, 10, 7), "worker 0 finished everything: free again");
    }

    @Test
    void singleHolderGetsTheBatchEvenWhenOthersAreFree()
    {
        final Scheduler scheduler = new Scheduler(3, 8);
        assertEquals(0, assign(scheduler, 1, 1000, 1));
        assertEquals(1, assign(scheduler, 2, 10, 2));
        // Worker 2 is free and 1 is lighter, yet type 2 is held by worker 1.
        assertEquals(1, assign(scheduler, 3, 10, 2, 5));
        assertEquals(0, barriers.count());
        // Type 5 now follows worker 1 as well.
        assertEquals(1, assign(scheduler, 4, 10, 5));
        assertEquals(0, barriers.count());
    }

    @Test
    void twoHoldersGiveBarrierOnTheOther()
    {
        final Scheduler scheduler = new Scheduler(3, 8);
        assertEquals(0, assign(scheduler, 1, 100, 1));
        assertEquals(1, assign(scheduler, 2, 50, 2));
        assertEquals(0, assign(scheduler, 3, 10, 1, 3));
        // Holders: worker 0 (types 1 and 3 at seq 3, outstanding 110), worker 1 (type 2 at seq 2, outstanding 50).
        assertEquals(1, assign(scheduler, 4, 5, 2, 1));
        assertEquals(1, barriers.count());
        assertEquals(0, barriers.worker(0));
        assertEquals(3, barriers.seq(0), "the highest seq of the batch's types on worker 0");
        // Types 1 and 2 now belong to worker 1 at seq 4: a later batch of type 1 follows worker 1.
        assertEquals(1, assign(scheduler, 5, 5, 1));
        assertEquals(0, barriers.count(), "barriers are cleared for each batch");
        // Type 3 is still held by worker 0 at seq 3.
        assertEquals(1, assign(scheduler, 6, 5, 3, 2));
        assertEquals(1, barriers.count());
        assertEquals(0, barriers.worker(0));
        assertEquals(3, barriers.seq(0));
    }

    @Test
    void barrierSeqIsTheHighestHeldSeqNotTheWorkersLast()
    {
        final Scheduler scheduler = new Scheduler(2, 8);
        assertEquals(0, assign(scheduler, 1, 10, 1));
        assertEquals(1, assign(scheduler, 2, 100, 2));
        assertEquals(0, assign(scheduler, 3, 10, 1, 3));
        assertEquals(0, assign(scheduler, 4, 10, 4));
        // Worker 0 holds 1 and 3 at seq 3 and 4 at seq 4; the batch needs only types 1 and 2.
        assertEquals(0, assign(scheduler, 5, 10, 2, 1));
        assertEquals(1, barriers.count());
        assertEquals(1, barriers.worker(0));
        assertEquals(2, barriers.seq(0));
        // The other way round: worker 1 finished and takes type 6; worker 0 holds type 4 at seq 4
        // and has seq 5 after it, but the batch only has to wait for type 4.
        scheduler.onDone(1, 2);
        assertEquals(1, assign(scheduler, 6, 10, 6));
        assertEquals(1, assign(scheduler, 7, 10, 4, 6));
        assertEquals(1, barriers.count());
        assertEquals(0, barriers.worker(0));
        assertEquals(4, barriers.seq(0));
    }

    @Test
    void barrierSeqIsTheHighestAmongTheBatchTypesOnThatWorker()
    {
        final Scheduler scheduler = new Scheduler(2, 8);
        assertEquals(0, assign(scheduler, 1, 100, 1));
        assertEquals(1, assign(scheduler, 2, 10, 2));
        assertEquals(0, assign(scheduler, 3, 100, 1, 3));
        assertEquals(0, assign(scheduler, 4, 100, 1));
        // Worker 0 holds type 3 at seq 3 and type 1 at seq 4; listed in that order.
        assertEquals(1, assign(scheduler, 5, 10, 3, 1, 2));
        assertEquals(1, barriers.count());
        assertEquals(0, barriers.worker(0));
        assertEquals(4, barriers.seq(0));
    }

    @Test
    void threeHoldersGiveTwoBarriers()
    {
        final Scheduler scheduler = new Scheduler(4, 8);
        assign(scheduler, 1, 30, 1);
        assign(scheduler, 2, 10, 2);
        assign(scheduler, 3, 20, 3);
        assertEquals(1, assign(scheduler, 4, 1, 3, 2, 1));
        assertEquals(2, barriers.count());
        assertEquals(0, barriers.worker(0));
        assertEquals(1, barriers.seq(0));
        assertEquals(2, barriers.worker(1));
        assertEquals(3, barriers.seq(1));
    }

    @Test
    void twoHoldersTieGoesToLowerIndex()
    {
        final Scheduler scheduler = new Scheduler(2, 8);
        assign(scheduler, 1, 10, 1);
        assign(scheduler, 2, 10, 2);
        assertEquals(0, assign(scheduler, 3, 10, 2, 1));
        assertEquals(1, barriers.count());
        assertEquals(1, barriers.worker(0));
        assertEquals(2, barriers.seq(0));
    }

    @Test
    void noBarrierOnAWorkerThatHasFinished()
    {
        final Scheduler scheduler = new Scheduler(2, 8);
        assign(scheduler, 1, 10, 1);
        assign(scheduler, 2, 10, 2);
        scheduler.onDone(0, 1);
        // Type 1's last batch is done: only worker 1 holds a type of the batch.
        assertEquals(1, assign(scheduler, 3, 10, 1, 2));
        assertEquals(0, barriers.count());
        scheduler.onDone(1, 3);
        // Nobody holds anything: the free worker with the lowest index.
        assertEquals(0, assign(scheduler, 4, 10, 1, 2));
        assertEquals(0, barriers.count());
    }

    @Test
    void partlyFinishedHolderStillHoldsItsLaterBatch()
    {
        final Scheduler scheduler = new Scheduler(2, 8);
        assign(scheduler, 1, 10, 1);
        assign(scheduler, 2, 10, 2);
        assign(scheduler, 3, 50, 1);
        scheduler.onDone(0, 1);
        // Worker 0 has done 1 but type 1's last batch is 3.
        assertEquals(1, assign(scheduler, 4, 1, 2, 1));
        assertEquals(1, barriers.count());
        assertEquals(0, barriers.worker(0));
        assertEquals(3, barriers.seq(0));
    }

    @Test
    void duplicateTypeIdsAreTolerated()
    {
        final Scheduler scheduler = new Scheduler(2, 8);
        assign(scheduler, 1, 10, 1);
        assign(scheduler, 2, 10, 2);
        assertEquals(0, assign(scheduler, 3, 10, 1, 1, 2, 1, 2));
        assertEquals(1, barriers.count());
        assertEquals(1, barriers.worker(0));
        assertEquals(2, barriers.seq(0));
    }

    @Test
    void onlyTheFirstTypeCountIdsCount()
    {
        final Scheduler scheduler = new Scheduler(2, 8);
        assign(scheduler, 1, 10, 1);
        assertEquals(1, scheduler.assign(2, new int[] {2, 1}, 1, 10, barriers));
        assertEquals(0, barriers.count());
    }

    @Test
    void perWorkerInFlightIsBounded()
    {
        final Scheduler scheduler = new Scheduler(2, 8, 2);
        assertEquals(2, scheduler.maxInFlightPerWorker());
        assign(scheduler, 1, 10, 1);
        assertTrue(scheduler.canAssign());
        assign(scheduler, 2, 10, 1);
        assertFalse(scheduler.hasCapacity(0));
        assertTrue(scheduler.hasCapacity(1));
        assertFalse(scheduler.canAssign(), "worker 0 is full");
        assertThrows(IllegalStateException.class, () -> assign(scheduler, 3, 10, 1));
        // The failed assign changed nothing.
        assertEquals(2, scheduler.lastAssignedSeq(0));
        assertEquals(20, scheduler.outstandingBytes(0));
        assertEquals(2, scheduler.inFlight(0));
        assertEquals(1, assign(scheduler, 3, 10, 2), "worker 1 still has room");
        scheduler.onDone(0, 1);
        assertTrue(scheduler.canAssign());
        assertEquals(0, assign(scheduler, 4, 10, 1));
        assertFalse(scheduler.canAssign());
    }

    @Test
    void inFlightRingWrapsAround()
    {
        final Scheduler scheduler = new Scheduler(1, 2, 3);
        long seq = 0;
        for (int round = 0; round < 10; round++)
        {
            assign(scheduler, ++seq, 1, 1);
            assign(scheduler, ++seq, 2, 2);
            assign(scheduler, ++seq, 4, 1);
            assertFalse(scheduler.canAssign());
            assertEquals(7, scheduler.outstandingBytes(0));
            scheduler.onDone(0, seq - 1);
            assertEquals(4, scheduler.outstandingBytes(0));
            scheduler.onDone(0, seq);
            assertEquals(0, scheduler.outstandingBytes(0));
        }
    }

    @Test
    void onDoneIsMonotonicAndChecked()
    {
        final Scheduler scheduler = new Scheduler(2, 8);
        assign(scheduler, 1, 10, 1);
        assign(scheduler, 2, 20, 2);
        assign(scheduler, 3, 30, 1);
        assign(scheduler, 4, 40, 1);
        assertEquals(80, scheduler.outstandingBytes(0));
        scheduler.onDone(0, 3);
        assertEquals(40, scheduler.outstandingBytes(0));
        scheduler.onDone(0, 1);
        scheduler.onDone(0, 3);
        assertEquals(3, scheduler.done(0), "stale values are ignored");
        assertEquals(40, scheduler.outstandingBytes(0));
        assertThrows(IllegalStateException.class, () -> scheduler.onDone(0, 5), "beyond the last assigned");
        assertThrows(IllegalStateException.class, () -> scheduler.onDone(1, 1), "seq 1 is not worker 1's");
        assertThrows(IllegalStateException.class, () -> scheduler.onDone(2, 1), "no such worker");
        scheduler.onDone(1, 2);
        assertEquals(0, scheduler.outstandingBytes(1));
    }

    @Test
    void invalidAssignsFail()
    {
        final Scheduler scheduler = new Scheduler(2, 8);
        assign(scheduler, 5, 10, 1);
        assertThrows(IllegalStateException.class, () -> assign(scheduler, 5, 10, 1), "seq not increasing");
        assertThrows(IllegalStateException.class, () -> assign(scheduler, 4, 10, 1), "seq going back");
        assertThrows(IllegalStateException.class, () -> assign(scheduler, 6, 10, 0), "type 0");
        assertThrows(IllegalStateException.class, () -> assign(scheduler, 6, 10, 9), "type above max");
        assertThrows(IllegalStateException.class, () -> assign(scheduler, 6, -1, 1), "negative length");
        assertThrows(IllegalStateException.class, () -> scheduler.assign(6, new int[] {1}, 2, 10, barriers));
        assertThrows(IllegalStateException.class,
            () -> scheduler.assign(6, new int[] {1}, 1, 10, new Scheduler.Barriers(1)), "barriers too small");
        assertEquals(0, assign(scheduler, 6, 10, 1));
        assertThrows(IllegalArgumentException.class, () -> new Scheduler(0, 8));
        assertThrows(IllegalArgumentException.class, () -> new Scheduler(1, 0));
        assertThrows(IllegalArgumentException.class, () -> new Scheduler(1, 8, 0));
    }

    @Test
    void barriersFlyweightBoundsAreChecked()
    {
        final Scheduler.Barriers small = new Scheduler.Barriers(2);
        assertEquals(2, small.capacity());
        small.add(0, 1);
        small.add(1, 2);
        assertThrows(IllegalStateException.class, () -> small.add(0, 3));
        assertThrows(IndexOutOfBoundsException.class, () -> small.worker(2));
        small.clear();
        assertEquals(0, small.count());
        assertThrows(IndexOutOfBoundsException.class, () -> small.seq(0));
    }

    // -------------------------------------------------------------------------------------------
    // Simulation: assignment and execution interleaved at random, one thread, replayable by seed.
    // -------------------------------------------------------------------------------------------

    static LongStream seeds()
    {
        return LongStream.rangeClosed(1, 500);
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void simulationAppliesEveryTypeInIngressOrder(final long seed)
    {
        final Simulation simulation = new Simulation(seed, true);
        simulation.run();
        if (simulation.violation != null)
        {
            fail(simulation.violation);
        }
        simulation.assertEverythingApplied();
    }

    /** The simulation above can fail: ignoring barriers breaks ordering for some seeds. */
    @Test
    void simulationDetectsOrderViolationsWithoutBarriers()
    {
        int violations = 0;
        final StringBuilder examples = new StringBuilder();
        for (long seed = 1; seed <= 500; seed++)
        {
            final Simulation simulation = new Simulation(seed, false);
            simulation.run();
            if (simulation.violation != null)
            {
                violations++;
                if (examples.length() < 300)
                {
                    examples.append(simulation.violation).append('\n');
                }
            }
        }
        assertTrue(violations > 0, "no seed broke ordering without barriers: the simulation cannot fail");
        System.out.println("without barriers " + violations + " of 500 seeds violate ordering, e.g.\n" + examples);
    }

    private static final class Batch
    {
        final long seq;
        final int[] typeIds;
        final int lengthBytes;
        final int worker;
        final int[] barrierWorkers;
        final long[] barrierSeqs;

        Batch(final long seq, final int[] typeIds, final int lengthBytes, final int worker, final Scheduler.Barriers barriers)
        {
            this.seq = seq;
            this.typeIds = typeIds;
            this.lengthBytes = lengthBytes;
            this.worker = worker;
            barrierWorkers = new int[barriers.count()];
            barrierSeqs = new long[barriers.count()];
            for (int i = 0; i < barriers.count(); i++)
            {
                barrierWorkers[i] = barriers.worker(i);
                barrierSeqs[i] = barriers.seq(i);
            }
        }
    }

    private static final class Simulation
    {
        final long seed;
        final boolean obeyBarriers;
        final SplittableRandom random;
        final int workerCount;
        final int maxTypeId;
        final int maxInFlightPerWorker;
        final int batchCount;
        final int assignWeight;
        final int executeWeight;
        final int notifyWeight;
        final Scheduler scheduler;
        final Scheduler.Barriers barriers;

        /** What each worker really has queued (in order) and really finished. */
        final List<ArrayDeque<Batch>> queues = new ArrayList<>();
        final long[] actualDone;
        /** Finished seqs per worker not yet reported to the scheduler. */
        final List<ArrayDeque<Batch>> unreported = new ArrayList<>();
        /** Batches per worker assigned but not reported done: the scheduler's outstanding bytes. */
        final long[] expectedOutstandingBytes;
        final List<List<Long>> appliedByType = new ArrayList<>();
        final List<List<Long>> assignedByType = new ArrayList<>();
        final String where;
        long nextSeq = 1;
        String violation;

        Simulation(final long seed, final boolean obeyBarriers)
        {
            this.seed = seed;
            this.obeyBarriers = obeyBarriers;
            random = new SplittableRandom(seed);
            workerCount = 1 + random.nextInt(4);
            maxTypeId = 1 + random.nextInt(8);
            maxInFlightPerWorker = 1 + random.nextInt(8);
            batchCount = 50 + random.nextInt(250);
            assignWeight = 1 + random.nextInt(10);
            executeWeight = 1 + random.nextInt(10);
            notifyWeight = 1 + random.nextInt(10);
            scheduler = new Scheduler(workerCount, maxTypeId, maxInFlightPerWorker);
            barriers = new Scheduler.Barriers(workerCount);
            actualDone = new long[workerCount];
            expectedOutstandingBytes = new long[workerCount];
            for (int w = 0; w < workerCount; w++)
            {
                queues.add(new ArrayDeque<>());
                unreported.add(new ArrayDeque<>());
            }
            for (int t = 0; t <= maxTypeId; t++)
            {
                appliedByType.add(new ArrayList<>());
                assignedByType.add(new ArrayList<>());
            }
            where = "seed " + seed + " (workers " + workerCount + ", types " + maxTypeId + ", inFlight " +
                maxInFlightPerWorker + ", batches " + batchCount + ", barriers " + (obeyBarriers ? "on" : "off") + ")";
        }

        void run()
        {
            final int[] runnable = new int[workerCount];
            final int[] reportable = new int[workerCount];
            for (int step = 0; ; step++)
            {
                final boolean canAssign = nextSeq <= batchCount && scheduler.canAssign();
                int runnableCount = 0;
                int reportableCount = 0;
                for (int w = 0; w < workerCount; w++)
                {
                    if (!queues.get(w).isEmpty() && barriersMet(queues.get(w).peekFirst()))
                    {
                        runnable[runnableCount++] = w;
                    }
                    if (!unreported.get(w).isEmpty())
                    {
                        reportable[reportableCount++] = w;
                    }
                }
                if (!canAssign && runnableCount == 0 && reportableCount == 0)
                {
                    if (nextSeq <= batchCount || queuedBatches() > 0)
                    {
                        fail(where + " step " + step + ": deadlock with " + queuedBatches() + " batches queued, next seq " + nextSeq);
                    }
                    return;
                }

                final int total = (canAssign ? assignWeight : 0) +
                    (runnableCount > 0 ? executeWeight : 0) +
                    (reportableCount > 0 ? notifyWeight : 0);
                int pick = random.nextInt(total);
                if (canAssign && (pick -= assignWeight) < 0)
                {
                    assignNext();
                }
                else if (runnableCount > 0 && (pick -= executeWeight) < 0)
                {
                    execute(runnable[random.nextInt(runnableCount)]);
                }
                else
                {
                    report(reportable[random.nextInt(reportableCount)]);
                }
                checkScheduler(step);
            }
        }

        private int queuedBatches()
        {
            int count = 0;
            for (final ArrayDeque<Batch> queue : queues)
            {
                count += queue.size();
            }
            return count;
        }

        private boolean barriersMet(final Batch batch)
        {
            if (!obeyBarriers)
            {
                return true;
            }
            for (int i = 0; i < batch.barrierWorkers.length; i++)
            {
                if (actualDone[batch.barrierWorkers[i]] < batch.barrierSeqs[i])
                {
                    return false;
                }
            }
            return true;
        }

        private void assignNext()
        {
            final long seq = nextSeq++;
            // 1..3 picks with replacement: duplicates happen and must be tolerated.
            final int[] typeIds = new int[1 + random.nextInt(Math.min(3, maxTypeId))];
            for (int i = 0; i < typeIds.length; i++)
            {
                typeIds[i] = 1 + random.nextInt(maxTypeId);
            }
            final int lengthBytes = 1 + random.nextInt(1000);
            final int worker = scheduler.assign(seq, typeIds, typeIds.length, lengthBytes, barriers);
            if (worker < 0 || worker >= workerCount)
            {
                fail(where + ": seq " + seq + " assigned to worker " + worker);
            }
            final Batch batch = new Batch(seq, typeIds, lengthBytes, worker, barriers);
            for (int i = 0; i < batch.barrierWorkers.length; i++)
            {
                final int other = batch.barrierWorkers[i];
                final long barrierSeq = batch.barrierSeqs[i];
                if (other == worker || barrierSeq >= seq || !isQueuedOrUnreportedOn(other, barrierSeq))
                {
                    fail(where + ": seq " + seq + " on worker " + worker + " has bad barrier (" + other + ", " + barrierSeq + ")");
                }
            }
            queues.get(worker).addLast(batch);
            expectedOutstandingBytes[worker] += lengthBytes;
            for (final int typeId : typeIds)
            {
                final List<Long> assigned = assignedByType.get(typeId);
                if (assigned.isEmpty() || assigned.get(assigned.size() - 1) != seq)
                {
                    assigned.add(seq);
                }
            }
        }

        /** A barrier must point at a batch of that worker the scheduler does not know to be done. */
        private boolean isQueuedOrUnreportedOn(final int worker, final long seq)
        {
            for (final Batch batch : queues.get(worker))
            {
                if (batch.seq == seq)
                {
                    return true;
                }
            }
            for (final Batch batch : unreported.get(worker))
            {
                if (batch.seq == seq)
                {
                    return true;
                }
            }
            return false;
        }

        private void execute(final int worker)
        {
            final Batch batch = queues.get(worker).pollFirst();
            for (final int typeId : batch.typeIds)
            {
                final List<Long> applied = appliedByType.get(typeId);
                final long previous = applied.isEmpty() ? 0 : applied.get(applied.size() - 1);
                if (previous == batch.seq)
                {
                    continue; // duplicate type id within the batch
                }
                if (previous > batch.seq && violation == null)
                {
                    violation = where + ": type " + typeId + " applied seq " + batch.seq + " on worker " + worker +
                        " after seq " + previous;
                }
                applied.add(batch.seq);
            }
            actualDone[worker] = batch.seq;
            unreported.get(worker).addLast(batch);
        }

        /** Reports one of the worker's finished seqs; skipping earlier ones, as a counter read may. */
        private void report(final int worker)
        {
            final ArrayDeque<Batch> pending = unreported.get(worker);
            final int skip = random.nextInt(pending.size());
            for (int i = 0; i < skip; i++)
            {
                expectedOutstandingBytes[worker] -= pending.pollFirst().lengthBytes;
            }
            final Batch batch = pending.pollFirst();
            expectedOutstandingBytes[worker] -= batch.lengthBytes;
            scheduler.onDone(worker, batch.seq);
            if (random.nextInt(4) == 0)
            {
                scheduler.onDone(worker, batch.seq - random.nextInt((int)batch.seq)); // stale: ignored
            }
        }

        private void checkScheduler(final int step)
        {
            for (int w = 0; w < workerCount; w++)
            {
                assertEquals(expectedOutstandingBytes[w], scheduler.outstandingBytes(w), where + " step " + step + " worker " + w);
                assertEquals(queues.get(w).size() + unreported.get(w).size(), scheduler.inFlight(w), where + " step " + step);
                assertTrue(scheduler.done(w) <= actualDone[w], where + " step " + step + ": scheduler ahead of worker " + w);
            }
        }

        void assertEverythingApplied()
        {
            assertEquals(batchCount + 1, nextSeq, where + ": every batch assigned");
            for (int w = 0; w < workerCount; w++)
            {
                assertEquals(0, queues.get(w).size(), where);
                assertEquals(0, scheduler.outstandingBytes(w), where);
                assertEquals(scheduler.lastAssignedSeq(w), scheduler.done(w), where);
            }
            for (int t = 1; t <= maxTypeId; t++)
            {
                assertEquals(assignedByType.get(t), appliedByType.get(t), where + ": type " + t + " applied in ingress order");
            }
        }
    }
}
