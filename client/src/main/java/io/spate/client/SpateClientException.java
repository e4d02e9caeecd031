package io.spate.client;

/**
 * A client call that could not complete: not connected, timed out under back pressure, or no
 * answer from the pipeline in time. The message says which and what to check.
 * <p>
 * When it fails a {@code flushAsync()} future because some of the write's batches got no answer, {@link
 * #partialResult()} holds the outcome of every record of the write: the answered ones as the pipeline gave them,
 * the others with no outcome ({@link BatchResult#isAnswered(int)} false).
 */
public final class SpateClientException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    private final transient BatchResult partialResult;

    public SpateClientException(final String message)
    {
        this(message, null);
    }

    SpateClientException(final String message, final BatchResult partialResult)
    {
        super(message);
        this.partialResult = partialResult;
    }

    /**
     * @return for a failed {@code flushAsync()} future: every record of the write, those whose batch got no
     * answer marked so ({@link BatchResult#isAnswered(int)}); null for any other failure.
     */
    public BatchResult partialResult()
    {
        return partialResult;
    }
}
