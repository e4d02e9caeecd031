package io.spate.pipeline;

import io.spate.driver.IdleStrategies;

import io.aeron.Aeron;
import io.aeron.Counter;
import io.aeron.ExclusivePublication;
import io.aeron.Subscription;
import io.spate.store.NativeStore;
import io.spate.store.OffHeapBuffer;
import org.agrona.CloseHelper;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.CompositeAgent;
import org.agrona.concurrent.SleepingMillisIdleStrategy;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersReader;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/**
 * The conductor and its workers attached to an Aeron client: opens the counters, the modify
 * buffer, the dispatch and applied streams, and starts one {@link AgentRunner} per agent.
 * Closes everything in reverse order of opening. One pipeline per driver and stream set
 * ({@link PipelineInstanceLock}); a watchdog thread reports workers that stall ({@link WorkerWatchdog}).
 */
public final class Pipeline implements AutoCloseable
{
    /** How long a new pipeline waits for the driver to release the streams of one that died. */
    private static final long WAIT_FOR_DEAD_PIPELINE_MS = 20_000;
    private static final long WATCHDOG_PERIOD_MS = 50;
    /** How long a clean close waits for a periodic snapshot being written before it takes its own. */
    private static final long SHUTDOWN_SNAPSHOT_WAIT_MS = 60_000;

    private final PipelineConfiguration configuration;
    private final Counter instance;
    private final Aeron aeron;
    private final PipelineCounters counters;
    private final AtomicCounter errorCounter;
    private final PipelineErrors errors;
    private final OffHeapBuffer modifyBuffer;
    private final Subscription ingress;
    private final Subscription applied;
    private final ExclusivePublication[] dispatchPublications;
    private final Subscription[] dispatchSubscriptions;
    private final ExclusivePublication[] appliedPublications;
    private final ConductorAgent conductor;
    private final AgentRunner conductorRunner;
    private final List<AgentRunner> workerRunners = new ArrayList<>();
    private final AgentRunner watchdogRunner;
    private final StageLatencies stageLatencies = new StageLatencies();
    private final DurableLog durableLog;
    private final SnapshotTaker snapshotTaker;
    private boolean closed;

    /**
     * Starts the pipeline.
     *
     * @param configuration concluded here.
     * @param aeron         a connected client (the pipeline does not close it).
     * @param store         the native store for configuration.schema() (the pipeline does not close it).
     * @throws IllegalStateException when another pipeline runs on the driver with the same streams.
     */
    public Pipeline(final PipelineConfiguration configuration, final Aeron aeron, final NativeStore store)
    {
        this.configuration = configuration.conclude();
        final PrintStream log = System.err;
        final int workerCount = configuration.workerCount();
        try
        {
            instance = PipelineInstanceLock.acquire(aeron, configuration, WAIT_FOR_DEAD_PIPELINE_MS, log);
        }
        catch (final PipelineInstanceLock.AlreadyRunningException ex)
        {
            throw new IllegalStateException(ex.getMessage());
        }
        this.aeron = aeron;
        counters = new PipelineCounters(aeron, workerCount);
        errorCounter = aeron.addCounter(PipelineCounters.PIPELINE_AGENT_ERRORS_TYPE_ID, "spate pipeline agent errors");
        errors = new PipelineErrors(errorCounter, log);
        long startSeq = 0;
        // Producers' sessions beyond their connections: rebuilt from the data directory when there is one.
        final ResumableSessions sessions = ResumableSessions.of(configuration);
        if (configuration.isDurable())
        {
            try
            {
                durableLog = DurableLog.open(aeron, configuration, store, sessions, log);
            }
            catch (final RuntimeException ex)
            {
                CloseHelper.closeAll(errorCounter, counters);
                PipelineInstanceLock.release(instance, aeron);
                throw ex;
            }
            final Recovery recovery = durableLog.recovery();
            durableLog.snapshotWriter().counters(counters.snapshots(), counters.snapshotPosition());
            counters.logPosition().setRelease(recovery.logPosition());
            counters.logRecordedPosition().setRelease(recovery.logPosition());
            snapshotTaker = new SnapshotTaker(store, sessions, durableLog.snapshotWriter(), configuration.schema().hash(),
                recovery.recordingId(), configuration.snapshotIntervalBytes(), configuration.snapshotIntervalMs(),
                recovery.logPosition(), System.nanoTime(), log);
            startSeq = recovery.lastSeq();
        }
        else
        {
            durableLog = null;
            snapshotTaker = null;
        }
        modifyBuffer = new OffHeapBuffer(configuration.modifyBufferBytes());
        ingress = aeron.addSubscription(configuration.ingressChannel(), configuration.ingressStreamId());
        applied = aeron.addSubscription("aeron:ipc", configuration.appliedStreamId());
        dispatchPublications = new ExclusivePublication[workerCount];
        dispatchSubscriptions = new Subscription[workerCount];
        appliedPublications = new ExclusivePublication[workerCount];
        final int[] appliedSessionIds = new int[workerCount];
        for (int i = 0; i < workerCount; i++)
        {
            final int dispatchStreamId = configuration.dispatchStreamIdBase() + i;
            dispatchPublications[i] = aeron.addExclusivePublication("aeron:ipc", dispatchStreamId);
            // The worker reads only its conductor's publication: another process on the driver may add
            // one to the same stream, but the driver refuses a second one with this session id.
            dispatchSubscriptions[i] = aeron.addSubscription(
                "aeron:ipc?session-id=" + dispatchPublications[i].sessionId(), dispatchStreamId);
            appliedPublications[i] = aeron.addExclusivePublication("aeron:ipc", configuration.appliedStreamId());
            appliedSessionIds[i] = appliedPublications[i].sessionId();
        }

        final Dispatcher dispatcher = new Dispatcher(dispatchPublications, workerCount, configuration.maxBatchBytes(),
            counters, errors);
        conductor = new ConductorAgent(configuration, aeron, store, modifyBuffer.buffer(), ingress, applied,
            appliedSessionIds, dispatcher, counters, errors, stageLatencies, log,
            null == durableLog ? null : durableLog.publisher(), snapshotTaker, sessions, startSeq);
        final CountersReader countersReader = aeron.countersReader();
        final List<Agent> workers = new ArrayList<>();
        for (int i = 0; i < workerCount; i++)
        {
            final int positionId = counters.worker(i).position().id();
            final long positionAddress = countersReader.valuesBuffer().addressOffset() + CountersReader.counterOffset(positionId);
            workers.add(new WorkerAgent(i, dispatchSubscriptions[i], dispatchPublications[i].sessionId(),
                appliedPublications[i], store, modifyBuffer.buffer(), positionAddress, counters, errors,
                configuration.faultInjector(), configuration.maxRecordsPerBatch(), configuration.maxBatchBytes(),
                configuration.isDurable()));
        }
        if (configuration.threadingMode() == PipelineConfiguration.ThreadingMode.SHARED)
        {
            // One thread runs the conductor then each worker every duty cycle: a dispatched batch is
            // picked up in the same cycle, with no thread to wake. A worker waiting on a barrier
            // returns (ABORT) and the cycle goes on, so the barrier's worker gets its turn.
            final List<Agent> all = new ArrayList<>();
            all.add(conductor);
            all.addAll(workers);
            conductorRunner = new AgentRunner(IdleStrategies.parse(configuration.conductorIdleStrategy()), errors,
                errorCounter, new CompositeAgent(all));
        }
        else
        {
            for (final Agent worker : workers)
            {
                workerRunners.add(new AgentRunner(
                    IdleStrategies.parse(configuration.workerIdleStrategy()), errors, errorCounter, worker));
            }
            conductorRunner = new AgentRunner(
                IdleStrategies.parse(configuration.conductorIdleStrategy()), errors, errorCounter, conductor);
        }
        // On its own thread, so it sees a stall even when the stuck worker shares the conductor's thread.
        watchdogRunner = new AgentRunner(new SleepingMillisIdleStrategy(WATCHDOG_PERIOD_MS), errors, errorCounter,
            new WorkerWatchdog(aeron, counters, configuration.workerStallTimeoutMs() * 1_000_000L, System::nanoTime, log));
        for (final AgentRunner runner : workerRunners)
        {
            AgentRunner.startOnThread(runner);
        }
        AgentRunner.startOnThread(conductorRunner);
        AgentRunner.startOnThread(watchdogRunner);
    }

    public PipelineConfiguration configuration()
    {
        return configuration;
    }

    /**
     * @return what recovery did at start (null for an in-memory pipeline).
     */
    public Recovery recovery()
    {
        return null == durableLog ? null : durableLog.recovery();
    }

    public PipelineCounters counters()
    {
        return counters;
    }

    /**
     * @return per-stage latency histograms of the batches applied (ingress to dispatch, queue wait,
     * apply, ack delivery).
     */
    public StageLatencies stageLatencies()
    {
        return stageLatencies;
    }

    /**
     * @return the first error the agents met (each is also counted and logged); null when none.
     */
    public Throwable firstError()
    {
        return errors.firstError();
    }

    /**
     * @return why the pipeline stopped itself (its state could no longer be trusted), or null while it runs.
     */
    public String fatalError()
    {
        return errors.fatalMessage();
    }

    /**
     * @return true once the agents found the Aeron client closed because the media driver went away.
     */
    public boolean isDriverGone()
    {
        return errors.isDriverGone();
    }

    /**
     * @return thread ids of the conductor and worker agents (for allocation measurements).
     */
    public long[] agentThreadIds()
    {
        final long[] ids = new long[workerRunners.size() + 1];
        ids[0] = threadOf(conductorRunner).threadId();
        for (int i = 0; i < workerRunners.size(); i++)
        {
            ids[i + 1] = threadOf(workerRunners.get(i)).threadId();
        }
        return ids;
    }

    private static Thread threadOf(final AgentRunner runner)
    {
        // An AgentRunner learns its thread when that thread starts running.
        final long deadlineNs = System.nanoTime() + 5_000_000_000L;
        Thread thread;
        while (null == (thread = runner.thread()))
        {
            if (System.nanoTime() > deadlineNs)
            {
                throw new IllegalStateException("agent " + runner.agent().roleName() + " did not start");
            }
            Thread.yield();
        }
        return thread;
    }

    /**
     * Graceful stop: takes no more ingress, lets every batch already taken in finish and be acked.
     * Call {@link #close()} afterwards.
     *
     * @param timeoutMs how long to wait.
     * @return true when everything taken in was applied and acked in time.
     */
    public boolean drain(final long timeoutMs)
    {
        conductor.stopIngress();
        final long deadlineNs = System.nanoTime() + timeoutMs * 1_000_000L;
        while (!conductor.isDrained())
        {
            if (System.nanoTime() > deadlineNs || null != errors.fatalMessage())
            {
                return false;
            }
            try
            {
                Thread.sleep(1);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        CloseHelper.closeAll(watchdogRunner, conductorRunner);
        for (int i = workerRunners.size() - 1; i >= 0; i--)
        {
            CloseHelper.close(workerRunners.get(i));
        }
        if (null != durableLog)
        {
            // The agents have stopped. When everything dispatched was applied and recorded, the store is the
            // log up to its position: a snapshot there makes the next start replay nothing.
            final SnapshotWriter writer = durableLog.snapshotWriter();
            if (conductor.isQuiescent() && null == errors.fatalMessage() && !errors.isDriverGone() && !ingress.isClosed() &&
                writer.awaitIdle(SHUTDOWN_SNAPSHOT_WAIT_MS) && conductor.logPosition() > counters.snapshotPosition().get())
            {
                snapshotTaker.take(conductor.logPosition(), conductor.lastSeq(), System.nanoTime());
            }
            writer.close(); // finishes the snapshot it is writing
            snapshotTaker.close();
        }
        for (int i = configuration.workerCount() - 1; i >= 0; i--)
        {
            CloseHelper.closeAll(appliedPublications[i], dispatchSubscriptions[i], dispatchPublications[i]);
        }
        CloseHelper.closeAll(applied, ingress, durableLog);
        modifyBuffer.close();
        CloseHelper.closeAll(errorCounter, counters);
        PipelineInstanceLock.release(instance, aeron);
    }
}
