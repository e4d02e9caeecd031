package io.spate.pipeline;

/**
 * The durable state (data directory, snapshot, log) cannot be used: damaged, another schema's or
 * archive's, or the driver cannot record it. The message is one line saying what and, where it can,
 * what to do; the pipeline refuses to start rather than load any of it half.
 */
public final class DurableStateException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    DurableStateException(final String message)
    {
        super(message);
    }

    DurableStateException(final String message, final Throwable cause)
    {
        super(message, cause);
    }
}
