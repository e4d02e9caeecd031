package io.spate.pipeline;

import io.aeron.ExclusivePublication;
import org.agrona.BitUtil;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableRingBuffer;

/**
 * One connected producer as the conductor sees it: the response publication its acks and read
 * answers go to, and the backlog of those the publication could not take yet. The backlog keeps
 * them in order and is bounded: before a request of this producer is admitted its worst-case answer
 * is {@link #reserve reserved}, and admission stops (back pressure on this producer's image only)
 * while reservations plus backlog would pass the limit. So appending to the backlog never fails, and
 * an answer is never dropped while the producer reads.
 */
final class ClientSession
{
    /**
     * Window kept free on the response publication for one {@code SessionClosed} (and the padding a
     * term rotation may put before it): a producer that stopped reading still learns why it was closed.
     */
    static final int CLOSE_RESERVE_BYTES = 1024;

    /** Issued by the pipeline at Connect, never reused; 0 for a refused Connect's answer-only session. */
    final long sessionId;
    /** The producer's own label (untrusted, for logs). */
    final long clientId;
    /** The Aeron session of the producer's ingress image: its messages count only from there. */
    final int imageSessionId;
    final String sourceIdentity;
    final String responseChannel;
    final int responseStreamId;
    final ExclusivePublication publication;
    final ExpandableRingBuffer backlog;
    final long backlogLimitBytes;
    final long openedNs;
    /** Longest message the response stream carries (its term length / 8). */
    final int maxMessageBytes;

    /** Worst-case bytes of answers owed to admitted requests, not yet sent or queued. */
    long reservedBytes;
    /** When an answer last left for this producer (or the session opened, or its backlog started). */
    long lastProgressNs;
    /** When the response publication was last seen connected. */
    long lastConnectedNs;
    boolean inBacklogList;
    boolean closed;
    /** A refused Connect's session: it only carries the refusal, then closes. */
    boolean refusal;
    long lastOfferResult;

    ClientSession(
        final long sessionId,
        final long clientId,
        final int imageSessionId,
        final String sourceIdentity,
        final String responseChannel,
        final int responseStreamId,
        final ExclusivePublication publication,
        final int backlogLimitBytes,
        final long nowNs)
    {
        this.sessionId = sessionId;
        this.clientId = clientId;
        this.imageSessionId = imageSessionId;
        this.sourceIdentity = sourceIdentity;
        this.responseChannel = responseChannel;
        this.responseStreamId = responseStreamId;
        this.publication = publication;
        this.backlogLimitBytes = backlogLimitBytes;
        // Grows by doubling, on the rare occasions a producer falls behind. Admission keeps what is owed
        // within the limit; the ring may also hold one wrap padding (less than one message, itself within
        // the limit), so its own ceiling is twice the limit and an append can never be refused.
        this.backlog = new ExpandableRingBuffer(4096, BitUtil.findNextPositivePowerOfTwo(2 * backlogLimitBytes), false);
        this.maxMessageBytes = publication.maxMessageLength();
        this.openedNs = nowNs;
        this.lastProgressNs = nowNs;
        this.lastConnectedNs = nowNs;
    }

    /**
     * @param lengthBytes worst-case length of an answer this session will owe.
     * @return bytes to reserve for it: the message as the backlog would hold it.
     */
    static int backlogBytesFor(final int lengthBytes)
    {
        return ((lengthBytes + ExpandableRingBuffer.HEADER_LENGTH) + ExpandableRingBuffer.HEADER_ALIGNMENT - 1) &
            -ExpandableRingBuffer.HEADER_ALIGNMENT;
    }

    /**
     * @return true when an answer of this many worst-case bytes can be owed without the backlog ever
     * passing its limit.
     */
    boolean canReserve(final int backlogBytes)
    {
        return reservedBytes + backlog.size() + backlogBytes <= backlogLimitBytes;
    }

    void reserve(final int backlogBytes)
    {
        reservedBytes += backlogBytes;
    }

    void release(final int backlogBytes)
    {
        reservedBytes -= backlogBytes;
        if (reservedBytes < 0)
        {
            throw new IllegalStateException("session " + sessionId + " released more than it reserved: " + reservedBytes);
        }
    }

    /**
     * The one place a response stream is offered to.
     *
     * @return the outcome; {@link OfferOutcome#RETRY} also when taking the message would eat into
     * {@link #CLOSE_RESERVE_BYTES} of the publication's window.
     */
    OfferOutcome offer(final DirectBuffer buffer, final int offset, final int lengthBytes)
    {
        if (publication.availableWindow() < (long)lengthBytes + CLOSE_RESERVE_BYTES)
        {
            // The producer has not read far enough for this and a later SessionClosed: wait. (A closed or
            // unconnected publication also shows a short window; the offer below tells those apart.)
            if (publication.isConnected() && !publication.isClosed())
            {
                lastOfferResult = io.aeron.Publication.BACK_PRESSURED;
                return OfferOutcome.RETRY;
            }
        }
        final long result = publication.offer(buffer, offset, lengthBytes);
        lastOfferResult = result;
        return OfferOutcome.of(result);
    }

    /**
     * Offers a message ignoring the close reserve: only for {@code SessionClosed}.
     */
    OfferOutcome offerClosing(final DirectBuffer buffer, final int offset, final int lengthBytes)
    {
        final long result = publication.offer(buffer, offset, lengthBytes);
        lastOfferResult = result;
        return OfferOutcome.of(result);
    }

    public String toString()
    {
        return "session " + sessionId + " of client " + clientId + " from " + sourceIdentity + " (answers on " +
            responseChannel + " stream " + responseStreamId + ")";
    }
}
