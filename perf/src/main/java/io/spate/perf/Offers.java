package io.spate.perf;

import io.aeron.Publication;

/**
 * What an {@code offer} result means for the bench's own streams (the echo's requests and responses):
 * back pressure and admin action (a term rotation, among others) are tried again; a stream that is not
 * connected, closed or at its maximum position has lost its peer.
 */
final class Offers
{
    private Offers()
    {
    }

    /**
     * @param result an {@code offer} result that is not a position.
     * @return true when the same offer should be tried again.
     */
    static boolean isRetryable(final long result)
    {
        return result == Publication.BACK_PRESSURED || result == Publication.ADMIN_ACTION;
    }

    /**
     * @param stream what the stream is, for the message, e.g. "the echo's responses (stream 7002)".
     * @param result an {@code offer} result that is neither a position nor retryable.
     * @return an exception naming the stream and why its peer is gone.
     */
    static IllegalStateException failure(final String stream, final long result)
    {
        final String why;
        if (result == Publication.NOT_CONNECTED)
        {
            why = "not connected: its subscriber is gone";
        }
        else if (result == Publication.CLOSED)
        {
            why = "closed";
        }
        else if (result == Publication.MAX_POSITION_EXCEEDED)
        {
            why = "at its maximum position";
        }
        else
        {
            why = "offer returned " + result;
        }
        return new IllegalStateException("cannot send on " + stream + ": " + why);
    }
}
