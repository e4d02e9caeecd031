package io.spate.pipeline;

import io.aeron.Aeron;
import io.aeron.Counter;
import io.aeron.status.HeartbeatTimestamp;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersReader;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * One pipeline per driver and stream set. A pipeline registers itself as an Aeron counter (type
 * {@link PipelineCounters#PIPELINE_INSTANCE_TYPE_ID}) whose key holds the streams it uses and whose
 * label names it; the driver frees the counter when the pipeline's client closes or stops
 * heart-beating. A second pipeline that would share the ingress stream or an internal stream with
 * a live one refuses to start and names it. One whose owner is dead (killed without closing) is waited
 * out until the driver reclaims its streams. Two that start at the same moment both register, and the
 * later registration steps back.
 */
final class PipelineInstanceLock
{
    /** A pipeline whose client has not heart-beaten for this long is dead (Aeron clients beat every 0.5 s). */
    static final long OWNER_HEARTBEAT_TIMEOUT_MS = 5_000;
    private static final long RELEASE_WAIT_NS = 5_000_000_000L;
    private static final int INGRESS_STREAM_OFFSET = 0;
    private static final int DISPATCH_BASE_OFFSET = 4;
    private static final int WORKER_COUNT_OFFSET = 8;
    private static final int APPLIED_STREAM_OFFSET = 12;
    private static final int PID_OFFSET = 16;
    private static final int INGRESS_IS_IPC_OFFSET = 24;
    private static final int KEY_LENGTH = 28;

    /** Thrown when another pipeline holds the streams. */
    static final class AlreadyRunningException extends RuntimeException
    {
        private static final long serialVersionUID = 1L;

        AlreadyRunningException(final String message)
        {
            super(message);
        }
    }

    private PipelineInstanceLock()
    {
    }

    /**
     * Registers this pipeline.
     *
     * @param aeron         its client.
     * @param configuration its streams.
     * @param waitForDeadMs how long to wait for the driver to reclaim a dead pipeline's streams.
     * @param log           where waiting is reported.
     * @return the counter that holds the streams while this pipeline lives: close it last.
     * @throws AlreadyRunningException naming the pipeline that runs.
     */
    static Counter acquire(
        final Aeron aeron, final PipelineConfiguration configuration, final long waitForDeadMs, final PrintStream log)
    {
        final CountersReader counters = aeron.countersReader();
        final long deadlineMs = System.currentTimeMillis() + waitForDeadMs;
        boolean told = false;
        while (true)
        {
            final int conflict = findConflict(counters, configuration, -1);
            if (conflict < 0)
            {
                break;
            }
            if (isOwnerAlive(counters, conflict))
            {
                throw new AlreadyRunningException(describe(counters, conflict, aeron.context().aeronDirectoryName()));
            }
            if (System.currentTimeMillis() > deadlineMs)
            {
                throw new AlreadyRunningException("a pipeline that stopped without closing still holds the streams (" +
                    counters.getCounterLabel(conflict) + ") and the driver in " + aeron.context().aeronDirectoryName() +
                    " has not released them after " + waitForDeadMs + " ms");
            }
            if (!told)
            {
                told = true;
                log.println("pipeline: waiting for the driver to release the streams of a pipeline that stopped " +
                    "without closing (" + counters.getCounterLabel(conflict) + ")");
                log.flush();
            }
            sleep();
        }

        final UnsafeBuffer key = new UnsafeBuffer(new byte[KEY_LENGTH]);
        key.putInt(INGRESS_STREAM_OFFSET, configuration.ingressStreamId());
        key.putInt(DISPATCH_BASE_OFFSET, configuration.dispatchStreamIdBase());
        key.putInt(WORKER_COUNT_OFFSET, configuration.workerCount());
        key.putInt(APPLIED_STREAM_OFFSET, configuration.appliedStreamId());
        key.putLong(PID_OFFSET, ProcessHandle.current().pid());
        key.putInt(INGRESS_IS_IPC_OFFSET, isIpc(configuration.ingressChannel()) ? 1 : 0);
        final String label = "spate pipeline pid=" + ProcessHandle.current().pid() + " ingress=" +
            configuration.ingressChannel() + " stream=" + configuration.ingressStreamId() + " dispatch=" +
            configuration.dispatchStreamIdBase() + ".." + (configuration.dispatchStreamIdBase() + configuration.workerCount() - 1) +
            " applied=" + configuration.appliedStreamId();
        final byte[] labelBytes = label.getBytes(StandardCharsets.US_ASCII);
        final Counter own = aeron.addCounter(PipelineCounters.PIPELINE_INSTANCE_TYPE_ID, key, 0, KEY_LENGTH,
            new UnsafeBuffer(labelBytes), 0, Math.min(labelBytes.length, CountersReader.MAX_LABEL_LENGTH));
        // Another pipeline may have registered between the scan and now: the earlier registration wins.
        final int rival = findConflict(counters, configuration, own.id());
        if (rival >= 0 && counters.getCounterRegistrationId(rival) < own.registrationId())
        {
            own.close();
            throw new AlreadyRunningException(describe(counters, rival, aeron.context().aeronDirectoryName()));
        }
        return own;
    }

    /**
     * Closes the pipeline's registration and waits (a bounded while) until the driver has freed it: Aeron
     * closes counters asynchronously, and a pipeline started right after this one closed must not find it.
     */
    static void release(final Counter own, final Aeron aeron)
    {
        if (own.isClosed() || aeron.isClosed())
        {
            own.close();
            return;
        }
        final CountersReader counters = aeron.countersReader();
        final int id = own.id();
        final long registrationId = own.registrationId();
        own.close();
        final long deadlineNs = System.nanoTime() + RELEASE_WAIT_NS;
        // The client closed (its driver gone) unmaps the counters after its linger: never read them then.
        while (!aeron.isClosed() && counters.getCounterState(id) == CountersReader.RECORD_ALLOCATED &&
            counters.getCounterRegistrationId(id) == registrationId && System.nanoTime() - deadlineNs < 0)
        {
            Thread.onSpinWait();
            Thread.yield();
        }
    }

    private static int findConflict(final CountersReader counters, final PipelineConfiguration configuration, final int ownId)
    {
        final UnsafeBuffer meta = (UnsafeBuffer)counters.metaDataBuffer();
        for (int id = 0; id <= counters.maxCounterId(); id++)
        {
            final int state = counters.getCounterState(id);
            if (state == CountersReader.RECORD_UNUSED)
            {
                break;
            }
            if (id == ownId || state != CountersReader.RECORD_ALLOCATED ||
                counters.getCounterTypeId(id) != PipelineCounters.PIPELINE_INSTANCE_TYPE_ID)
            {
                continue;
            }
            final int keyOffset = CountersReader.metaDataOffset(id) + CountersReader.KEY_OFFSET;
            if (conflicts(configuration,
                meta.getInt(keyOffset + INGRESS_STREAM_OFFSET),
                meta.getInt(keyOffset + INGRESS_IS_IPC_OFFSET) == 1,
                meta.getInt(keyOffset + DISPATCH_BASE_OFFSET),
                meta.getInt(keyOffset + WORKER_COUNT_OFFSET),
                meta.getInt(keyOffset + APPLIED_STREAM_OFFSET)))
            {
                return id;
            }
        }
        return -1;
    }

    /**
     * Two pipelines on one driver conflict when they share the ingress stream (any channel: a producer's
     * Connect would reach both), or when any of their IPC streams (internal ones, and an IPC ingress)
     * overlap.
     */
    static boolean conflicts(
        final PipelineConfiguration mine,
        final int otherIngressStreamId,
        final boolean otherIngressIsIpc,
        final int otherDispatchBase,
        final int otherWorkerCount,
        final int otherAppliedStreamId)
    {
        if (mine.ingressStreamId() == otherIngressStreamId)
        {
            return true;
        }
        final int myBase = mine.dispatchStreamIdBase();
        final int myEnd = myBase + mine.workerCount();
        final int otherEnd = otherDispatchBase + otherWorkerCount;
        if (myBase < otherEnd && otherDispatchBase < myEnd)
        {
            return true;
        }
        if (mine.appliedStreamId() == otherAppliedStreamId ||
            (mine.appliedStreamId() >= otherDispatchBase && mine.appliedStreamId() < otherEnd) ||
            (otherAppliedStreamId >= myBase && otherAppliedStreamId < myEnd))
        {
            return true;
        }
        final boolean mineIsIpc = isIpc(mine.ingressChannel());
        return (mineIsIpc && isInternal(mine.ingressStreamId(), otherDispatchBase, otherEnd, otherAppliedStreamId)) ||
            (otherIngressIsIpc && isInternal(otherIngressStreamId, myBase, myEnd, mine.appliedStreamId()));
    }

    private static boolean isInternal(final int streamId, final int dispatchBase, final int dispatchEnd, final int appliedStreamId)
    {
        return streamId == appliedStreamId || (streamId >= dispatchBase && streamId < dispatchEnd);
    }

    private static boolean isIpc(final String channel)
    {
        return channel.startsWith("aeron:ipc");
    }

    private static boolean isOwnerAlive(final CountersReader counters, final int counterId)
    {
        // The driver directory is on this host, so the pid is a local process: one that is gone was killed, and
        // a restart (a service manager's, a second after) waits for the driver to reclaim its streams.
        final int keyOffset = CountersReader.metaDataOffset(counterId) + CountersReader.KEY_OFFSET;
        final long pid = counters.metaDataBuffer().getLong(keyOffset + PID_OFFSET);
        if (!ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false))
        {
            return false;
        }
        final long ownerId = counters.getCounterOwnerId(counterId);
        final int heartbeatId = HeartbeatTimestamp.findCounterIdByRegistrationId(
            counters, HeartbeatTimestamp.HEARTBEAT_TYPE_ID, ownerId);
        if (heartbeatId < 0)
        {
            return false;
        }
        final long lastBeatMs = counters.getCounterValue(heartbeatId);
        return System.currentTimeMillis() - lastBeatMs < OWNER_HEARTBEAT_TIMEOUT_MS;
    }

    private static String describe(final CountersReader counters, final int counterId, final String directory)
    {
        return "another pipeline is running on the driver in " + directory + " with the same streams (" +
            counters.getCounterLabel(counterId) + "): stop it first, or give this one other stream ids";
    }

    private static void sleep()
    {
        try
        {
            Thread.sleep(100);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new AlreadyRunningException("interrupted while waiting for the driver to release a dead pipeline's streams");
        }
    }
}
