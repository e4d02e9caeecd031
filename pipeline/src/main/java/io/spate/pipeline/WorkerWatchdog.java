package io.spate.pipeline;

import org.agrona.concurrent.Agent;
import org.agrona.concurrent.NanoClock;

import java.io.PrintStream;

/**
 * Notices a worker that has work and makes no progress: stuck in native code, or waiting on a
 * barrier that is never satisfied. It runs on its own thread (so it sees a stall even when the stuck
 * worker shares the conductor's thread) and reads only counters: a worker has work while its assigned
 * batch is ahead of its done batch, and progresses while its position or done counter moves. After
 * the stall timeout without progress it sets the worker's stalled counter to 1, counts the stall and
 * logs one line; when the worker moves again, the counter goes back to 0 with one more line.
 */
final class WorkerWatchdog implements Agent
{
    private final PipelineCounters counters;
    private final io.aeron.Aeron aeron;
    private final long stallTimeoutNs;
    private final NanoClock clock;
    private final PrintStream log;
    private final long[] lastPosition;
    private final long[] lastDone;
    private final long[] lastProgressNs;
    private final boolean[] stalled;

    WorkerWatchdog(
        final io.aeron.Aeron aeron,
        final PipelineCounters counters,
        final long stallTimeoutNs,
        final NanoClock clock,
        final PrintStream log)
    {
        this.aeron = aeron;
        this.counters = counters;
        this.stallTimeoutNs = stallTimeoutNs;
        this.clock = clock;
        this.log = log;
        final int workerCount = counters.workerCount();
        lastPosition = new long[workerCount];
        lastDone = new long[workerCount];
        lastProgressNs = new long[workerCount];
        stalled = new boolean[workerCount];
        final long nowNs = clock.nanoTime();
        for (int i = 0; i < workerCount; i++)
        {
            lastProgressNs[i] = nowNs;
        }
    }

    public String roleName()
    {
        return "spate-watchdog";
    }

    public int doWork()
    {
        if (aeron.isClosed())
        {
            throw new PipelineErrors.ClientClosed(roleName());
        }
        final long nowNs = clock.nanoTime();
        int work = 0;
        for (int i = 0; i < lastPosition.length; i++)
        {
            final PipelineCounters.WorkerCounters worker = counters.worker(i);
            final long position = worker.position().getAcquire();
            final long done = worker.doneBatch().getAcquire();
            final long assigned = worker.assignedBatch().getAcquire();
            if (position != lastPosition[i] || done != lastDone[i] || assigned <= done)
            {
                lastPosition[i] = position;
                lastDone[i] = done;
                if (stalled[i])
                {
                    stalled[i] = false;
                    worker.stalled().setRelease(0);
                    log.println("spate pipeline: worker " + i + " is making progress again after " +
                        (nowNs - lastProgressNs[i]) / 1_000_000 + " ms (done batch " + done + ")");
                    log.flush();
                    work++;
                }
                lastProgressNs[i] = nowNs;
            }
            else if (!stalled[i] && nowNs - lastProgressNs[i] > stallTimeoutNs)
            {
                stalled[i] = true;
                worker.stalled().setRelease(1);
                worker.stalls().incrementRelease();
                log.println("spate pipeline: worker " + i + " has made no progress for " +
                    (nowNs - lastProgressNs[i]) / 1_000_000 + " ms with work: assigned batch " + assigned +
                    ", done batch " + done + ", position " + position + " bytes (stuck in the store, or waiting on " +
                    "a barrier that is not met)");
                log.flush();
                work++;
            }
        }
        return work;
    }


}
