package io.spate.pipeline;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.SingleWriterRecorder;

/**
 * Where a batch's time goes inside the pipeline, per modify batch, in nanoseconds: ingress to
 * dispatch (assembly), queue wait (dispatch to the worker starting it, barriers included), apply
 * (the native store), ack delivery (store done to every ack of the batch offered). Recorded by the
 * conductor without allocating (its one writer: {@link SingleWriterRecorder}, no atomic add per value);
 * read from any thread as interval histograms.
 */
public final class StageLatencies
{
    /** Longest value tracked: 60 s; longer ones are clamped. */
    public static final long HIGHEST_TRACKABLE_NS = 60_000_000_000L;

    private final SingleWriterRecorder ingressToDispatch = new SingleWriterRecorder(HIGHEST_TRACKABLE_NS, 3);
    private final SingleWriterRecorder queueWait = new SingleWriterRecorder(HIGHEST_TRACKABLE_NS, 3);
    private final SingleWriterRecorder apply = new SingleWriterRecorder(HIGHEST_TRACKABLE_NS, 3);
    private final SingleWriterRecorder ackDelivery = new SingleWriterRecorder(HIGHEST_TRACKABLE_NS, 3);

    void record(final long ingressNs, final long dispatchNs, final long applyStartNs, final long applyEndNs,
        final long ackedNs)
    {
        ingressToDispatch.recordValue(clamp(dispatchNs - ingressNs));
        queueWait.recordValue(clamp(applyStartNs - dispatchNs));
        apply.recordValue(clamp(applyEndNs - applyStartNs));
        ackDelivery.recordValue(clamp(ackedNs - applyEndNs));
    }

    private static long clamp(final long valueNs)
    {
        return Math.max(0, Math.min(valueNs, HIGHEST_TRACKABLE_NS));
    }

    /**
     * @return what was recorded since the last call (allocates: for reports).
     */
    public Histogram ingressToDispatch()
    {
        return ingressToDispatch.getIntervalHistogram();
    }

    public Histogram queueWait()
    {
        return queueWait.getIntervalHistogram();
    }

    public Histogram apply()
    {
        return apply.getIntervalHistogram();
    }

    public Histogram ackDelivery()
    {
        return ackDelivery.getIntervalHistogram();
    }
}
