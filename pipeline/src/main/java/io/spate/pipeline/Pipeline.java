package io.spate.pipeline;

import io.spate.driver.IdleStrategies;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.Subscription;
import io.spate.store.NativeStore;
import io.spate.store.OffHeapBuffer;
import org.agrona.CloseHelper;
import org.agrona.ErrorHandler;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.CompositeAgent;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersReader;

import java.util.ArrayList;
import java.util.List;

/**
 * The conductor and its workers attached to an Aeron client: opens the counters, the modify
 * buffer, the dispatch and applied streams, and starts one {@link AgentRunner} per agent.
 * Closes everything in reverse order of opening.
 */
public final class Pipeline implements AutoCloseable
{
    private final PipelineConfiguration configuration;
    private final PipelineCounters counters;
    private final OffHeapBuffer modifyBuffer;
    private final Subscription ingress;
    private final Subscription applied;
    private final ExclusivePublication[] dispatchPublications;
    private final Subscription[] dispatchSubscriptions;
    private final ExclusivePublication[] appliedPublications;
    private final ConductorAgent conductor;
    private final AgentRunner conductorRunner;
    private final List<AgentRunner> workerRunners = new ArrayList<>();
    private final AtomicCounter errorCounter;
    private final StageLatencies stageLatencies = new StageLatencies();
    private volatile Throwable firstError;
    private boolean closed;

    /**
     * Starts the pipeline.
     *
     * @param configuration concluded here.
     * @param aeron         a connected client (the pipeline does not close it).
     * @param store         the native store for configuration.schema() (the pipeline does not close it).
     */
    public Pipeline(final PipelineConfiguration configuration, final Aeron aeron, final NativeStore store)
    {
        this.configuration = configuration.conclude();
        final int workerCount = configuration.workerCount();
        counters = new PipelineCounters(aeron, workerCount);
        errorCounter = aeron.addCounter(PipelineCounters.PIPELINE_AGENT_ERRORS_TYPE_ID, "spate pipeline agent errors");
        modifyBuffer = new OffHeapBuffer(configuration.modifyBufferBytes());
        ingress = aeron.addSubscription(configuration.ingressChannel(), configuration.ingressStreamId());
        applied = aeron.addSubscription("aeron:ipc", configuration.appliedStreamId());
        dispatchPublications = new ExclusivePublication[workerCount];
        dispatchSubscriptions = new Subscription[workerCount];
        appliedPublications = new ExclusivePublication[workerCount];
        final AtomicCounter[] doneCounters = new AtomicCounter[workerCount];
        for (int i = 0; i < workerCount; i++)
        {
            dispatchPublications[i] = aeron.addExclusivePublication("aeron:ipc", configuration.dispatchStreamIdBase() + i);
            dispatchSubscriptions[i] = aeron.addSubscription("aeron:ipc", configuration.dispatchStreamIdBase() + i);
            appliedPublications[i] = aeron.addExclusivePublication("aeron:ipc", configuration.appliedStreamId());
            doneCounters[i] = counters.worker(i).doneBatch();
        }

        final ErrorHandler errorHandler = this::onError;
        conductor = new ConductorAgent(configuration, aeron, store, modifyBuffer.buffer(), ingress, applied,
            dispatchPublications, counters, stageLatencies);
        final CountersReader countersReader = aeron.countersReader();
        final List<Agent> workers = new ArrayList<>();
        for (int i = 0; i < workerCount; i++)
        {
            final int positionId = counters.worker(i).position().id();
            final long positionAddress = countersReader.valuesBuffer().addressOffset() + CountersReader.counterOffset(positionId);
            workers.add(new WorkerAgent(i, dispatchSubscriptions[i], appliedPublications[i], store,
                modifyBuffer.buffer(), positionAddress, doneCounters, counters.worker(i).recordsApplied(),
                counters.worker(i).errors(), configuration.maxRecordsPerBatch(), configuration.maxBatchBytes()));
        }
        if (configuration.threadingMode() == PipelineConfiguration.ThreadingMode.SHARED)
        {
            // One thread runs the conductor then each worker every duty cycle: a dispatched batch is
            // picked up in the same cycle, with no thread to wake. A worker waiting on a barrier
            // returns (ABORT) and the cycle goes on, so the barrier's worker gets its turn.
            final List<Agent> all = new ArrayList<>();
            all.add(conductor);
            all.addAll(workers);
            conductorRunner = new AgentRunner(IdleStrategies.parse(configuration.conductorIdleStrategy()), errorHandler,
                errorCounter, new CompositeAgent(all));
        }
        else
        {
            for (final Agent worker : workers)
            {
                workerRunners.add(new AgentRunner(
                    IdleStrategies.parse(configuration.workerIdleStrategy()), errorHandler, errorCounter, worker));
            }
            conductorRunner = new AgentRunner(
                IdleStrategies.parse(configuration.conductorIdleStrategy()), errorHandler, errorCounter, conductor);
        }
        for (final AgentRunner runner : workerRunners)
        {
            AgentRunner.startOnThread(runner);
        }
        AgentRunner.startOnThread(conductorRunner);
    }

    public PipelineConfiguration configuration()
    {
        return configuration;
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
     * @return errors the agents raised (each also counted); null when none.
     */
    public Throwable firstError()
    {
        return firstError;
    }

    private void onError(final Throwable error)
    {
        if (null == firstError)
        {
            firstError = error;
        }
        System.err.println("spate pipeline: agent error: " + error);
        error.printStackTrace(System.err);
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
            if (System.nanoTime() > deadlineNs)
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
        CloseHelper.close(conductorRunner);
        for (int i = workerRunners.size() - 1; i >= 0; i--)
        {
            CloseHelper.close(workerRunners.get(i));
        }
        for (int i = configuration.workerCount() - 1; i >= 0; i--)
        {
            CloseHelper.closeAll(appliedPublications[i], dispatchSubscriptions[i], dispatchPublications[i]);
        }
        CloseHelper.closeAll(applied, ingress);
        modifyBuffer.close();
        CloseHelper.closeAll(errorCounter, counters);
    }
}
