package io.spate.codec;

/**
 * A database schema file that cannot be compiled; the message names the file, the place in it
 * and what to change.
 */
public final class SchemaException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    public SchemaException(final String message)
    {
        super(message);
    }

    public SchemaException(final String message, final Throwable cause)
    {
        super(message, cause);
    }
}
