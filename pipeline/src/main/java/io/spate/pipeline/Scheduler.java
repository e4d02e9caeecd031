package io.spate.pipeline;

import java.util.Arrays;

/**
 * Picks the worker for each batch so that, for every type, records are applied in ingress
 * ({@code batchSeq}) order, while batches of unrelated types spread over the workers.
 * <p>
 * Each worker applies its batches in assignment order and publishes {@code done}, the seq of the
 * last batch it finished. A worker <em>holds</em> type T while the last batch touching T was
 * assigned to it and is not done. For a batch touching types held by:
 * <ul>
 * <li>no worker: an idle worker (lowest index), else the one with the least outstanding bytes;</li>
 * <li>one worker: that worker, whose FIFO order then keeps the types in order;</li>
 * <li>several workers: the holder with the least outstanding bytes, plus a barrier "before you
 *     start, wait until worker h's done &ge; s" for every other holder h, where s is the last seq
 *     of the batch's types on h. The seed missed this case and applied such types out of order.</li>
 * </ul>
 * Barriers only point at smaller seqs, and each worker's FIFO is in increasing seq, so the
 * smallest unfinished batch can always run: no deadlock.
 * <p>
 * Single-threaded (the conductor owns it) and allocation-free after construction.
 */
public final class Scheduler
{
    public static final int DEFAULT_MAX_IN_FLIGHT_PER_WORKER = 1024;

    private static final int NO_OWNER = -1;

    private final int workerCount;
    private final int maxTypeId;
    private final int maxInFlightPerWorker;

    /** Per type id (index 0 unused): the worker of the last batch touching it and that batch's seq. */
    private final int[] ownerByType;
    private final long[] lastSeqByType;

    private final long[] doneSeq;
    private final long[] lastAssignedSeq;
    private final long[] outstandingBytes;

    /** Per worker a ring of its assigned-not-done batches: slots [w * max, (w + 1) * max). */
    private final long[] inFlightSeq;
    private final int[] inFlightLengthBytes;
    private final int[] inFlightHead;
    private final int[] inFlightCount;

    /** Scratch per assign: per worker the highest seq it holds among the batch's types, 0 when none. */
    private final long[] heldSeq;

    private long lastBatchSeq;

    public Scheduler(final int workerCount, final int maxTypeId)
    {
        this(workerCount, maxTypeId, DEFAULT_MAX_IN_FLIGHT_PER_WORKER);
    }

    /**
     * @param workerCount          number of workers, indexed from 0.
     * @param maxTypeId            type ids are {@code 1..maxTypeId}.
     * @param maxInFlightPerWorker bound on assigned-not-done batches per worker.
     */
    public Scheduler(final int workerCount, final int maxTypeId, final int maxInFlightPerWorker)
    {
        if (workerCount <= 0)
        {
            throw new IllegalArgumentException("workerCount must be > 0: " + workerCount);
        }
        if (maxTypeId <= 0)
        {
            throw new IllegalArgumentException("maxTypeId must be > 0: " + maxTypeId);
        }
        if (maxInFlightPerWorker <= 0 || (long)workerCount * maxInFlightPerWorker > Integer.MAX_VALUE - 8)
        {
            throw new IllegalArgumentException("maxInFlightPerWorker out of range: " + maxInFlightPerWorker);
        }
        this.workerCount = workerCount;
        this.maxTypeId = maxTypeId;
        this.maxInFlightPerWorker = maxInFlightPerWorker;
        ownerByType = new int[maxTypeId + 1];
        Arrays.fill(ownerByType, NO_OWNER);
        lastSeqByType = new long[maxTypeId + 1];
        doneSeq = new long[workerCount];
        lastAssignedSeq = new long[workerCount];
        outstandingBytes = new long[workerCount];
        inFlightSeq = new long[workerCount * maxInFlightPerWorker];
        inFlightLengthBytes = new int[workerCount * maxInFlightPerWorker];
        inFlightHead = new int[workerCount];
        inFlightCount = new int[workerCount];
        heldSeq = new long[workerCount];
    }

    /**
     * Chooses the worker for a batch and the barriers it must wait on, and records the batch.
     *
     * @param batchSeq    greater than every seq assigned before.
     * @param typeIds     the batch's types in {@code [0, typeCount)}, each {@code 1..maxTypeId};
     *                    duplicates are tolerated.
     * @param lengthBytes the batch's length, counted in the worker's outstanding bytes until done.
     * @param barriers    filled with the (worker, seq) pairs to wait on before starting.
     * @return the chosen worker.
     * @throws IllegalStateException when the chosen worker has {@code maxInFlightPerWorker} batches
     *                               in flight (check {@link #canAssign()} first) or an argument is invalid.
     */
    public int assign(
        final long batchSeq, final int[] typeIds, final int typeCount, final int lengthBytes, final Barriers barriers)
    {
        if (batchSeq <= lastBatchSeq)
        {
            throw new IllegalStateException("batchSeq " + batchSeq + " not after " + lastBatchSeq);
        }
        if (typeCount < 0 || typeCount > typeIds.length)
        {
            throw new IllegalStateException("typeCount " + typeCount + " outside 0.." + typeIds.length);
        }
        if (lengthBytes < 0)
        {
            throw new IllegalStateException("lengthBytes must be >= 0: " + lengthBytes);
        }
        if (barriers.capacity() < workerCount)
        {
            throw new IllegalStateException("barriers capacity " + barriers.capacity() + " < workers " + workerCount);
        }

        Arrays.fill(heldSeq, 0);
        int holderCount = 0;
        for (int i = 0; i < typeCount; i++)
        {
            final int typeId = typeIds[i];
            if (typeId < 1 || typeId > maxTypeId)
            {
                throw new IllegalStateException("type id " + typeId + " outside 1.." + maxTypeId);
            }
            final int owner = ownerByType[typeId];
            final long lastSeq = lastSeqByType[typeId];
            if (owner != NO_OWNER && lastSeq > doneSeq[owner])
            {
                if (heldSeq[owner] == 0)
                {
                    holderCount++;
                }
                heldSeq[owner] = Math.max(heldSeq[owner], lastSeq);
            }
        }

        final int chosen;
        if (holderCount == 0)
        {
            chosen = idleOrLeastLoadedWorker();
        }
        else
        {
            // One holder or several: the least loaded holder; the others become barriers.
            int best = -1;
            for (int w = 0; w < workerCount; w++)
            {
                if (heldSeq[w] != 0 && (best < 0 || outstandingBytes[w] < outstandingBytes[best]))
                {
                    best = w;
                }
            }
            chosen = best;
        }
        if (inFlightCount[chosen] >= maxInFlightPerWorker)
        {
            throw new IllegalStateException("worker " + chosen + " has " + inFlightCount[chosen] +
                " batches in flight, the maximum");
        }

        barriers.clear();
        if (holderCount > 1)
        {
            for (int w = 0; w < workerCount; w++)
            {
                if (w != chosen && heldSeq[w] != 0)
                {
                    barriers.add(w, heldSeq[w]);
                }
            }
            if (barriers.count() != holderCount - 1)
            {
                throw new IllegalStateException("barriers " + barriers.count() + " for " + holderCount + " holders");
            }
        }

        final int slot = chosen * maxInFlightPerWorker + (inFlightHead[chosen] + inFlightCount[chosen]) % maxInFlightPerWorker;
        inFlightSeq[slot] = batchSeq;
        inFlightLengthBytes[slot] = lengthBytes;
        inFlightCount[chosen]++;
        outstandingBytes[chosen] += lengthBytes;
        lastAssignedSeq[chosen] = batchSeq;
        lastBatchSeq = batchSeq;
        for (int i = 0; i < typeCount; i++)
        {
            ownerByType[typeIds[i]] = chosen;
            lastSeqByType[typeIds[i]] = batchSeq;
        }
        return chosen;
    }

    /**
     * The worker's done counter was observed at {@code doneSeq}: every batch assigned to it up to
     * that seq is finished. Values not greater than the last observed are ignored.
     *
     * @throws IllegalStateException when {@code doneSeq} is not the seq of a batch assigned to the worker.
     */
    public void onDone(final int worker, final long doneSeq)
    {
        checkWorker(worker);
        if (doneSeq <= this.doneSeq[worker])
        {
            return;
        }
        if (doneSeq > lastAssignedSeq[worker])
        {
            throw new IllegalStateException("worker " + worker + " done " + doneSeq +
                " beyond its last assigned " + lastAssignedSeq[worker]);
        }
        final int base = worker * maxInFlightPerWorker;
        long finishedSeq = 0;
        while (inFlightCount[worker] > 0 && inFlightSeq[base + inFlightHead[worker]] <= doneSeq)
        {
            final int slot = base + inFlightHead[worker];
            finishedSeq = inFlightSeq[slot];
            outstandingBytes[worker] -= inFlightLengthBytes[slot];
            inFlightHead[worker] = (inFlightHead[worker] + 1) % maxInFlightPerWorker;
            inFlightCount[worker]--;
        }
        if (finishedSeq != doneSeq)
        {
            throw new IllegalStateException("worker " + worker + " done " + doneSeq + " is not one of its batches");
        }
        if (outstandingBytes[worker] < 0 ||
            (inFlightCount[worker] == 0 && (outstandingBytes[worker] != 0 || doneSeq != lastAssignedSeq[worker])))
        {
            throw new IllegalStateException("worker " + worker + " outstanding " + outstandingBytes[worker] +
                " bytes in " + inFlightCount[worker] + " batches after done " + doneSeq);
        }
        this.doneSeq[worker] = doneSeq;
    }

    /** @return true when every worker can take one more batch, so {@link #assign} cannot fail for space. */
    public boolean canAssign()
    {
        for (int w = 0; w < workerCount; w++)
        {
            if (inFlightCount[w] >= maxInFlightPerWorker)
            {
                return false;
            }
        }
        return true;
    }

    public boolean hasCapacity(final int worker)
    {
        checkWorker(worker);
        return inFlightCount[worker] < maxInFlightPerWorker;
    }

    /** @return the bytes of the worker's assigned-not-done batches. */
    public long outstandingBytes(final int worker)
    {
        checkWorker(worker);
        return outstandingBytes[worker];
    }

    public long lastAssignedSeq(final int worker)
    {
        checkWorker(worker);
        return lastAssignedSeq[worker];
    }

    /** @return the last done seq observed for the worker, 0 before its first batch finished. */
    public long done(final int worker)
    {
        checkWorker(worker);
        return doneSeq[worker];
    }

    /** @return the number of the worker's assigned-not-done batches. */
    public int inFlight(final int worker)
    {
        checkWorker(worker);
        return inFlightCount[worker];
    }

    public int workerCount()
    {
        return workerCount;
    }

    public int maxTypeId()
    {
        return maxTypeId;
    }

    public int maxInFlightPerWorker()
    {
        return maxInFlightPerWorker;
    }

    private int idleOrLeastLoadedWorker()
    {
        int leastLoaded = 0;
        for (int w = 0; w < workerCount; w++)
        {
            if (doneSeq[w] == lastAssignedSeq[w])
            {
                return w;
            }
            if (outstandingBytes[w] < outstandingBytes[leastLoaded])
            {
                leastLoaded = w;
            }
        }
        return leastLoaded;
    }

    private void checkWorker(final int worker)
    {
        if (worker < 0 || worker >= workerCount)
        {
            throw new IllegalStateException("worker " + worker + " outside 0.." + (workerCount - 1));
        }
    }

    /**
     * Reusable flyweight of the barriers of one batch: before starting it, wait until
     * {@code worker(i)}'s done counter is at least {@code seq(i)}, for every i.
     */
    public static final class Barriers
    {
        private final int[] workers;
        private final long[] seqs;
        private int count;

        /** @param capacity the scheduler's worker count (a batch waits on fewer workers than that). */
        public Barriers(final int capacity)
        {
            if (capacity <= 0)
            {
                throw new IllegalArgumentException("capacity must be > 0: " + capacity);
            }
            workers = new int[capacity];
            seqs = new long[capacity];
        }

        public void clear()
        {
            count = 0;
        }

        public int count()
        {
            return count;
        }

        public int capacity()
        {
            return workers.length;
        }

        public int worker(final int index)
        {
            checkIndex(index);
            return workers[index];
        }

        public long seq(final int index)
        {
            checkIndex(index);
            return seqs[index];
        }

        void add(final int worker, final long seq)
        {
            if (count >= workers.length)
            {
                throw new IllegalStateException("barriers full: " + workers.length);
            }
            if (seq <= 0)
            {
                throw new IllegalStateException("barrier seq must be > 0: " + seq);
            }
            workers[count] = worker;
            seqs[count] = seq;
            count++;
        }

        private void checkIndex(final int index)
        {
            if (index < 0 || index >= count)
            {
                throw new IndexOutOfBoundsException("barrier " + index + " outside 0.." + (count - 1));
            }
        }
    }
}
