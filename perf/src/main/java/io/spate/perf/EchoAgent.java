package io.spate.perf;

import io.aeron.ControlledFragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.logbuffer.ControlledFragmentHandler.Action;
import io.aeron.logbuffer.Header;
import io.spate.pipeline.OfferOutcome;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The latency ceiling's far end: answers each request (a client batch's bytes) on its own publication
 * with a message of the ack's size that carries the request's first 8 bytes (the sender's sequence).
 * Polls like the pipeline's conductor: {@code controlledPoll} through a reassembler, at most
 * {@link #FRAGMENT_LIMIT} fragments per duty cycle; what cannot be answered yet is redelivered.
 */
final class EchoAgent implements Agent
{
    /**
     * Clear of the pipeline's defaults (ingress 1001, log 1098, applied 1099, dispatch 1100 + worker)
     * and of producers' response streams (10,000 and up, at random).
     */
    static final int REQUEST_STREAM_ID = 7001;
    static final int RESPONSE_STREAM_ID = 7002;
    static final String RESPONSE_CHANNEL = "aeron:ipc";
    static final int FRAGMENT_LIMIT = 64;
    static final int SEQUENCE_LENGTH_BYTES = Long.BYTES;

    private final Subscription requests;
    private final Publication responses;
    private final UnsafeBuffer response;
    private final int responseLengthBytes;
    private final String responseStream;
    private final ControlledFragmentAssembler assembler = new ControlledFragmentAssembler(this::onRequest);
    private long answered;

    EchoAgent(final Subscription requests, final Publication responses, final int responseLengthBytes)
    {
        if (responseLengthBytes < SEQUENCE_LENGTH_BYTES)
        {
            throw new IllegalArgumentException("a response carries the 8-byte sequence: " + responseLengthBytes);
        }
        this.requests = requests;
        this.responses = responses;
        this.responseLengthBytes = responseLengthBytes;
        this.response = new UnsafeBuffer(new byte[responseLengthBytes]);
        this.responseStream = "the echo's responses (" + responses.channel() + " stream " + responses.streamId() + ")";
    }

    public int doWork()
    {
        return requests.controlledPoll(assembler, FRAGMENT_LIMIT);
    }

    public String roleName()
    {
        return "spate-echo";
    }

    long answered()
    {
        return answered;
    }

    /**
     * The one place the response stream's offers are decided.
     */
    private Action onRequest(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        if (length < SEQUENCE_LENGTH_BYTES)
        {
            throw new IllegalStateException("echo: a request of " + length + " bytes has no sequence");
        }
        response.putLong(0, buffer.getLong(offset));
        final long result = responses.offer(response, 0, responseLengthBytes);
        switch (OfferOutcome.of(result))
        {
            case SENT ->
            {
                answered++;
                return Action.CONTINUE;
            }
            // The request comes again on the next duty cycle; nothing behind it is taken meanwhile.
            case RETRY ->
            {
                return Action.ABORT;
            }
            default -> throw new IllegalStateException("cannot send on " + responseStream + ": " +
                OfferOutcome.describe(result) + " (the sender is gone)");
        }
    }
}
