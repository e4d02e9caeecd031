package io.spate.store;

/**
 * The native store refused a call: the message says which call and why.
 */
public final class NativeStoreException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    public NativeStoreException(final String message)
    {
        super(message);
    }

    public NativeStoreException(final String message, final Throwable cause)
    {
        super(message, cause);
    }
}
