package io.spate.pipeline;

/**
 * Hooks where tests make the real pipeline fail the way production would: a worker that throws or
 * stalls, a store walk that stops early, a conductor handler that throws. The pipeline's behaviour
 * under each is part of its contract (see docs/ARCHITECTURE.md, "Faults"); production uses
 * {@link #NONE}, whose calls inline to nothing.
 */
public interface FaultInjector
{
    /** No faults. */
    FaultInjector NONE = new FaultInjector()
    {
    };

    /**
     * Called by a worker before it applies a batch, on the worker's thread: throwing here is a
     * worker that fails, blocking here is a worker that stalls.
     *
     * @param worker   index of the worker.
     * @param batchSeq the batch about to be applied.
     */
    default void beforeApply(final int worker, final long batchSeq)
    {
    }

    /**
     * Called by a worker: how many bytes of the batch the store is handed. Fewer than
     * {@code lengthBytes} is a store walk that stops early.
     *
     * @param worker      index of the worker.
     * @param batchSeq    the batch about to be applied.
     * @param lengthBytes the batch's length.
     * @return bytes to apply, at most lengthBytes.
     */
    default long applyLengthBytes(final int worker, final long batchSeq, final long lengthBytes)
    {
        return lengthBytes;
    }

    /**
     * Called by the conductor, inside its ingress handler, after a client batch's first records are
     * appended and before the rest: throwing here is a handler that fails mid-batch.
     *
     * @param sessionId     the producer's session.
     * @param correlationId its batch.
     * @param recordIndex   index of the record about to be appended.
     */
    default void onClientRecord(final long sessionId, final long correlationId, final int recordIndex)
    {
    }

    /**
     * Called by the conductor each time a client batch has entered a modify batch, in ingress order:
     * an observation point for tests that replay the same order through a reference model.
     *
     * @param sessionId     the producer's session.
     * @param correlationId its batch.
     */
    default void onClientBatchAppended(final long sessionId, final long correlationId)
    {
    }
}
