package io.spate.pipeline;

import io.aeron.Publication;

/**
 * What an Aeron {@code offer} result means for Spate, decided once for every stream kind.
 * <ul>
 * <li>{@link #SENT}: a position.</li>
 * <li>{@link #RETRY}: BACK_PRESSURED (the subscriber has not caught up, or the driver has not yet moved
 * the limit) and ADMIN_ACTION (the offer met a term rotation: one per term-length bytes). The message
 * stays pending and nothing that depends on it moves on; it is never dropped for this.</li>
 * <li>{@link #NOT_CONNECTED}: no subscriber right now. For the pipeline's own streams this is a start-up
 * race (retry); for a producer's response stream the session decides, after its timeout.</li>
 * <li>{@link #GONE}: CLOSED or MAX_POSITION_EXCEEDED: this publication can never send again.</li>
 * </ul>
 * Public for the bench's own streams (the echo ceiling), which decide the same way.
 */
public enum OfferOutcome
{
    SENT,
    RETRY,
    NOT_CONNECTED,
    GONE;

    /**
     * @param result what {@code offer} or {@code tryClaim} returned.
     * @return what it means.
     * @throws IllegalStateException for a result Aeron does not define.
     */
    public static OfferOutcome of(final long result)
    {
        if (result > 0)
        {
            return SENT;
        }
        if (result == Publication.BACK_PRESSURED || result == Publication.ADMIN_ACTION)
        {
            return RETRY;
        }
        if (result == Publication.NOT_CONNECTED)
        {
            return NOT_CONNECTED;
        }
        if (result == Publication.CLOSED || result == Publication.MAX_POSITION_EXCEEDED)
        {
            return GONE;
        }
        throw new IllegalStateException("unknown offer result " + result);
    }

    /**
     * @param result what {@code offer} or {@code tryClaim} returned.
     * @return its name (BACK_PRESSURED, ...), or the position.
     */
    public static String describe(final long result)
    {
        if (result > 0)
        {
            return "position " + result;
        }
        if (result == Publication.BACK_PRESSURED)
        {
            return "BACK_PRESSURED";
        }
        if (result == Publication.ADMIN_ACTION)
        {
            return "ADMIN_ACTION";
        }
        if (result == Publication.NOT_CONNECTED)
        {
            return "NOT_CONNECTED";
        }
        if (result == Publication.CLOSED)
        {
            return "CLOSED";
        }
        if (result == Publication.MAX_POSITION_EXCEEDED)
        {
            return "MAX_POSITION_EXCEEDED";
        }
        return "unknown result " + result;
    }
}
