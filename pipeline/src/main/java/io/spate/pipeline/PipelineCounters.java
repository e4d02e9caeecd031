package io.spate.pipeline;

import io.aeron.Aeron;
import io.aeron.Counter;
import org.agrona.CloseHelper;

/**
 * The pipeline's observable state as Aeron counters in the CnC file, so AeronStat and
 * {@code spate stat} read them from any process. Type ids are 1000 and up; labels say what the
 * value is and in which unit.
 */
public final class PipelineCounters implements AutoCloseable
{
    public static final int WORKER_POSITION_TYPE_ID = 1001;
    public static final int WORKER_DONE_BATCH_TYPE_ID = 1002;
    public static final int WORKER_RECORDS_APPLIED_TYPE_ID = 1003;
    public static final int WORKER_ERRORS_TYPE_ID = 1004;
    public static final int CONDUCTOR_RECORDS_IN_TYPE_ID = 1010;
    public static final int CONDUCTOR_BATCHES_TYPE_ID = 1011;
    public static final int CONDUCTOR_BUFFER_BYTES_FREE_TYPE_ID = 1012;
    public static final int CONDUCTOR_COPY_MODE_DISPATCHES_TYPE_ID = 1013;
    public static final int CONDUCTOR_BACK_PRESSURE_EVENTS_TYPE_ID = 1014;
    public static final int CONDUCTOR_REJECTED_MESSAGES_TYPE_ID = 1015;
    public static final int CONDUCTOR_ACKS_SENT_TYPE_ID = 1016;
    public static final int PIPELINE_AGENT_ERRORS_TYPE_ID = 1017;
    public static final int CONDUCTOR_BARRIER_DISPATCHES_TYPE_ID = 1018;
    public static final int WORKER_ASSIGNED_BATCH_TYPE_ID = 1005;
    public static final int WORKER_STALLED_TYPE_ID = 1006;
    public static final int WORKER_STALLS_TYPE_ID = 1007;
    public static final int WORKER_REPORT_RETRIES_TYPE_ID = 1008;
    public static final int CONDUCTOR_SESSIONS_OPEN_TYPE_ID = 1019;
    public static final int CONDUCTOR_SESSIONS_CLOSED_TYPE_ID = 1020;
    public static final int CONDUCTOR_ANSWERS_DISCARDED_TYPE_ID = 1021;
    public static final int CONDUCTOR_EGRESS_RETRIES_TYPE_ID = 1022;
    public static final int CONDUCTOR_EGRESS_BACKLOG_BYTES_TYPE_ID = 1023;
    public static final int CONDUCTOR_DISPATCH_RETRIES_TYPE_ID = 1024;
    public static final int CONDUCTOR_CONNECTS_REFUSED_TYPE_ID = 1025;
    public static final int CONDUCTOR_SESSIONS_RESUMED_TYPE_ID = 1026;
    public static final int CONDUCTOR_RESENDS_ANSWERED_TYPE_ID = 1027;
    public static final int CONDUCTOR_RESENDS_PENDING_TYPE_ID = 1028;
    public static final int CONDUCTOR_RESENDS_FORGOTTEN_TYPE_ID = 1029;
    public static final int PIPELINE_INSTANCE_TYPE_ID = 1030;
    public static final int LOG_POSITION_TYPE_ID = 1031;
    public static final int LOG_RECORDED_POSITION_TYPE_ID = 1032;
    public static final int LOG_RETRIES_TYPE_ID = 1033;
    public static final int SNAPSHOTS_TYPE_ID = 1034;
    public static final int SNAPSHOT_POSITION_TYPE_ID = 1035;

    /** Counters of one worker. */
    public record WorkerCounters(
        Counter position,
        Counter doneBatch,
        Counter recordsApplied,
        Counter errors,
        Counter assignedBatch,
        Counter stalled,
        Counter stalls,
        Counter reportRetries)
    {
    }

    private final WorkerCounters[] workers;
    private final Counter recordsIn;
    private final Counter batches;
    private final Counter bufferBytesFree;
    private final Counter copyModeDispatches;
    private final Counter backPressureEvents;
    private final Counter rejectedMessages;
    private final Counter acksSent;
    private final Counter barrierDispatches;
    private final Counter sessionsOpen;
    private final Counter sessionsClosed;
    private final Counter answersDiscarded;
    private final Counter egressRetries;
    private final Counter egressBacklogBytes;
    private final Counter dispatchRetries;
    private final Counter connectsRefused;
    private final Counter sessionsResumed;
    private final Counter resendsAnswered;
    private final Counter resendsPending;
    private final Counter resendsForgotten;
    private final Counter logPosition;
    private final Counter logRecordedPosition;
    private final Counter logRetries;
    private final Counter snapshots;
    private final Counter snapshotPosition;

    /**
     * @param aeron       client whose CnC file holds the counters.
     * @param workerCount workers to make counters for.
     */
    public PipelineCounters(final Aeron aeron, final int workerCount)
    {
        workers = new WorkerCounters[workerCount];
        for (int i = 0; i < workerCount; i++)
        {
            workers[i] = new WorkerCounters(
                aeron.addCounter(WORKER_POSITION_TYPE_ID, "spate worker " + i + " position (bytes applied)"),
                aeron.addCounter(WORKER_DONE_BATCH_TYPE_ID, "spate worker " + i + " done batch (seq)"),
                aeron.addCounter(WORKER_RECORDS_APPLIED_TYPE_ID, "spate worker " + i + " records applied"),
                aeron.addCounter(WORKER_ERRORS_TYPE_ID, "spate worker " + i + " record errors"),
                aeron.addCounter(WORKER_ASSIGNED_BATCH_TYPE_ID, "spate worker " + i + " assigned batch (seq)"),
                aeron.addCounter(WORKER_STALLED_TYPE_ID, "spate worker " + i + " stalled (1: no progress with work)"),
                aeron.addCounter(WORKER_STALLS_TYPE_ID, "spate worker " + i + " stalls"),
                aeron.addCounter(WORKER_REPORT_RETRIES_TYPE_ID, "spate worker " + i + " applied-report offer retries"));
        }
        recordsIn = aeron.addCounter(CONDUCTOR_RECORDS_IN_TYPE_ID, "spate conductor records in");
        batches = aeron.addCounter(CONDUCTOR_BATCHES_TYPE_ID, "spate conductor batches dispatched");
        bufferBytesFree = aeron.addCounter(CONDUCTOR_BUFFER_BYTES_FREE_TYPE_ID, "spate conductor modify buffer bytes free");
        copyModeDispatches = aeron.addCounter(CONDUCTOR_COPY_MODE_DISPATCHES_TYPE_ID, "spate conductor copy-mode dispatches");
        backPressureEvents = aeron.addCounter(CONDUCTOR_BACK_PRESSURE_EVENTS_TYPE_ID, "spate conductor back-pressure events");
        rejectedMessages = aeron.addCounter(CONDUCTOR_REJECTED_MESSAGES_TYPE_ID, "spate conductor rejected messages");
        acksSent = aeron.addCounter(CONDUCTOR_ACKS_SENT_TYPE_ID, "spate conductor answers sent (acks, read and connect answers)");
        barrierDispatches = aeron.addCounter(CONDUCTOR_BARRIER_DISPATCHES_TYPE_ID,
            "spate conductor dispatches with barriers (types held by 2+ busy workers)");
        sessionsOpen = aeron.addCounter(CONDUCTOR_SESSIONS_OPEN_TYPE_ID, "spate conductor sessions open");
        sessionsClosed = aeron.addCounter(CONDUCTOR_SESSIONS_CLOSED_TYPE_ID, "spate conductor sessions closed");
        answersDiscarded = aeron.addCounter(CONDUCTOR_ANSWERS_DISCARDED_TYPE_ID,
            "spate conductor answers discarded (their session was closed)");
        egressRetries = aeron.addCounter(CONDUCTOR_EGRESS_RETRIES_TYPE_ID,
            "spate conductor response offers retried (back pressure, term rotation)");
        egressBacklogBytes = aeron.addCounter(CONDUCTOR_EGRESS_BACKLOG_BYTES_TYPE_ID,
            "spate conductor answers waiting for producers (bytes)");
        dispatchRetries = aeron.addCounter(CONDUCTOR_DISPATCH_RETRIES_TYPE_ID,
            "spate conductor dispatch offers retried (back pressure, term rotation)");
        connectsRefused = aeron.addCounter(CONDUCTOR_CONNECTS_REFUSED_TYPE_ID,
            "spate conductor connects refused (schema, credentials, channel, rate, sessions)");
        sessionsResumed = aeron.addCounter(CONDUCTOR_SESSIONS_RESUMED_TYPE_ID,
            "spate conductor sessions resumed (Reconnect)");
        resendsAnswered = aeron.addCounter(CONDUCTOR_RESENDS_ANSWERED_TYPE_ID,
            "spate conductor resent batches answered from the ack ledger");
        resendsPending = aeron.addCounter(CONDUCTOR_RESENDS_PENDING_TYPE_ID,
            "spate conductor resent batches still in flight (answered once applied)");
        resendsForgotten = aeron.addCounter(CONDUCTOR_RESENDS_FORGOTTEN_TYPE_ID,
            "spate conductor resent batches no longer in the ack ledger (ALREADY_APPLIED)");
        logPosition = aeron.addCounter(LOG_POSITION_TYPE_ID, "spate log position (bytes appended; 0: in-memory)");
        logRecordedPosition = aeron.addCounter(LOG_RECORDED_POSITION_TYPE_ID,
            "spate log recorded position (bytes the archive holds, sampled every 100 ms)");
        logRetries = aeron.addCounter(LOG_RETRIES_TYPE_ID, "spate log offers retried (back pressure, term rotation)");
        snapshots = aeron.addCounter(SNAPSHOTS_TYPE_ID, "spate snapshots written");
        snapshotPosition = aeron.addCounter(SNAPSHOT_POSITION_TYPE_ID, "spate newest snapshot's log position");
    }

    public Counter logPosition()
    {
        return logPosition;
    }

    public Counter logRecordedPosition()
    {
        return logRecordedPosition;
    }

    public Counter logRetries()
    {
        return logRetries;
    }

    public Counter snapshots()
    {
        return snapshots;
    }

    public Counter snapshotPosition()
    {
        return snapshotPosition;
    }

    public WorkerCounters worker(final int index)
    {
        return workers[index];
    }

    public int workerCount()
    {
        return workers.length;
    }

    public Counter recordsIn()
    {
        return recordsIn;
    }

    public Counter batches()
    {
        return batches;
    }

    public Counter bufferBytesFree()
    {
        return bufferBytesFree;
    }

    public Counter copyModeDispatches()
    {
        return copyModeDispatches;
    }

    public Counter backPressureEvents()
    {
        return backPressureEvents;
    }

    public Counter rejectedMessages()
    {
        return rejectedMessages;
    }

    public Counter acksSent()
    {
        return acksSent;
    }

    public Counter barrierDispatches()
    {
        return barrierDispatches;
    }

    public Counter sessionsOpen()
    {
        return sessionsOpen;
    }

    public Counter sessionsClosed()
    {
        return sessionsClosed;
    }

    public Counter answersDiscarded()
    {
        return answersDiscarded;
    }

    public Counter egressRetries()
    {
        return egressRetries;
    }

    public Counter egressBacklogBytes()
    {
        return egressBacklogBytes;
    }

    public Counter dispatchRetries()
    {
        return dispatchRetries;
    }

    public Counter connectsRefused()
    {
        return connectsRefused;
    }

    public Counter sessionsResumed()
    {
        return sessionsResumed;
    }

    public Counter resendsAnswered()
    {
        return resendsAnswered;
    }

    public Counter resendsPending()
    {
        return resendsPending;
    }

    public Counter resendsForgotten()
    {
        return resendsForgotten;
    }

    public void close()
    {
        CloseHelper.closeAll(snapshotPosition, snapshots, logRetries, logRecordedPosition, logPosition, resendsForgotten,
            resendsPending, resendsAnswered, sessionsResumed, connectsRefused, dispatchRetries, egressBacklogBytes, egressRetries, answersDiscarded, sessionsClosed,
            sessionsOpen, barrierDispatches, acksSent, rejectedMessages, backPressureEvents, copyModeDispatches, bufferBytesFree,
            batches, recordsIn);
        for (int i = workers.length - 1; i >= 0; i--)
        {
            CloseHelper.closeAll(workers[i].reportRetries(), workers[i].stalls(), workers[i].stalled(),
                workers[i].assignedBatch(), workers[i].errors(), workers[i].recordsApplied(), workers[i].doneBatch(),
                workers[i].position());
        }
    }
}
