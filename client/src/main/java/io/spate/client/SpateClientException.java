package io.spate.client;

/**
 * A client call that could not complete: not connected, timed out under back pressure, or no
 * answer from the pipeline in time. The message says which and what to check.
 */
public final class SpateClientException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    public SpateClientException(final String message)
    {
        super(message);
    }
}
