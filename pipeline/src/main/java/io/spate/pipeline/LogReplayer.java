package io.spate.pipeline;

import io.aeron.Aeron;
import io.aeron.ChannelUri;
import io.aeron.ControlledFragmentAssembler;
import io.aeron.Image;
import io.aeron.Subscription;
import io.aeron.archive.client.AeronArchive;
import io.aeron.logbuffer.ControlledFragmentHandler;
import io.aeron.logbuffer.ControlledFragmentHandler.Action;
import io.aeron.logbuffer.FrameDescriptor;
import io.aeron.logbuffer.Header;
import io.aeron.protocol.DataHeaderFlyweight;
import io.spate.codec.DatabaseSchema;
import io.spate.store.ApplyResults;
import io.spate.store.NativeStore;
import io.spate.store.OffHeapBuffer;
import io.spate.wire.MessageHeaderDecoder;
import org.agrona.BitUtil;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;

import java.io.PrintStream;

/**
 * Replays a stretch of the durable log into a store through the store's apply, batch by batch in
 * log order: the order the batches were dispatched in, so every type's records apply in the order
 * they were applied live (batches of different types touch disjoint state, so the workers'
 * interleaving cannot matter). Every batch is checked before it is applied.
 * <p>
 * It fails closed: anything that does not check out (a fragment out of place, a malformed or
 * out-of-sequence batch, an archive that stops short of the stop position or stops moving) ends the
 * replay with a {@link DurableStateException}, and the caller refuses to start and cuts nothing. Nothing
 * is thrown into {@link Image#controlledPoll}, which would hand it to the client's error handler, skip the
 * fragment and go on: the handler keeps the failure and ABORTs, and the poll loop throws it. The one
 * stretch a replay may leave out is an incompletely recorded last batch: the first fragments of a
 * fragmented batch (each as long as a fragment can be, the first naming a longer message), with
 * nothing after them, which was never recorded whole, so never acknowledged.
 */
final class LogReplayer implements AutoCloseable
{
    private static final long IMAGE_WAIT_MS = 10_000;
    /** A replay whose position has not moved for this long, short of its end and with no error, is refused. */
    static final long STALL_MS = 10_000;
    /** How long an image that ended early is given to have the archive's reason arrive. */
    private static final long ERROR_WAIT_MS = 1_000;
    private static final long PROGRESS_INTERVAL_NS = 2_000_000_000L;
    private static final int FRAGMENT_LIMIT = 64;

    private final DatabaseSchema schema;
    private final NativeStore store;
    private final SessionRecovery sessions;
    private final LogBatchReader reader = new LogBatchReader();
    private final MessageHeaderDecoder messageHeader = new MessageHeaderDecoder();
    private final ControlledFragmentAssembler assembler = new ControlledFragmentAssembler(this::onBatch);
    private final ControlledFragmentHandler fragmentHandler = this::onFragment;
    private OffHeapBuffer scratch = new OffHeapBuffer(64 << 10);
    private ApplyResults results = new ApplyResults(1024);

    private long expectedSeq;
    private long endPosition;
    private long batches;
    private long records;
    private DurableStateException failure;
    /** Payload of a full fragment: every fragment of a fragmented batch but its last is this long. */
    private int maxPayloadLength;
    /** Where the last message the fragments' flags completed ends. */
    private long messageEndPosition;
    /** Bytes of the fragmented batch under way (0: none), the length its first fragment declares, where it goes on. */
    private long pendingBytes;
    private long pendingMessageLength;
    private long pendingNextPosition;

    /**
     * @param schema the running database schema (the log's batches must have its hash).
     * @param store  to apply into.
     */
    LogReplayer(final DatabaseSchema schema, final NativeStore store)
    {
        this(schema, store, null);
    }

    /**
     * @param sessions rebuilds the producers' sessions from the log's notes and batches; null to skip them.
     */
    LogReplayer(final DatabaseSchema schema, final NativeStore store, final SessionRecovery sessions)
    {
        this.schema = schema;
        this.store = store;
        this.sessions = sessions;
    }

    /**
     * Replays [fromPosition, stopPosition) of a recording.
     *
     * @param lastSeq   the seq of the last batch already in the store (the snapshot's, or 0).
     * @param mtuLength the recording's MTU: every fragment of a fragmented batch but its last carries
     *                  {@code mtuLength - 32} bytes.
     * @return the position where the last complete batch ends: stopPosition, unless the log ends in the first
     * fragments of a batch that was never completely recorded (or in padding).
     * @throws DurableStateException when a fragment or batch is malformed or out of place, a batch out of sequence
     *                               or of another schema, or the archive cannot replay the whole stretch.
     */
    long replay(
        final Aeron aeron,
        final AeronArchive archive,
        final long recordingId,
        final long fromPosition,
        final long stopPosition,
        final long lastSeq,
        final int mtuLength,
        final int replayStreamId,
        final PrintStream out)
    {
        expectedSeq = lastSeq + 1;
        endPosition = fromPosition;
        messageEndPosition = fromPosition;
        maxPayloadLength = mtuLength - DataHeaderFlyweight.HEADER_LENGTH;
        failure = null;
        pendingBytes = 0;
        if (stopPosition <= fromPosition)
        {
            return endPosition;
        }
        final long replaySessionId;
        try
        {
            replaySessionId = archive.startReplay(recordingId, fromPosition, stopPosition - fromPosition, "aeron:ipc",
                replayStreamId);
        }
        catch (final RuntimeException ex)
        {
            throw new DurableStateException("the archive cannot replay log recording " + recordingId + " from " +
                fromPosition + " to " + stopPosition + ": " + ex.getMessage());
        }
        final Subscription subscription = aeron.addSubscription(
            ChannelUri.addSessionId("aeron:ipc", (int)replaySessionId), replayStreamId);
        try
        {
            final Image image = awaitImage(subscription, archive, recordingId);
            long nextProgressNs = System.nanoTime() + PROGRESS_INTERVAL_NS;
            long lastPosition = image.position();
            long lastMoveNs = System.nanoTime();
            while (image.position() < stopPosition)
            {
                final int fragments = image.controlledPoll(fragmentHandler, FRAGMENT_LIMIT);
                if (null != failure)
                {
                    throw failure;
                }
                final long nowNs = System.nanoTime();
                if (0 == fragments)
                {
                    if (image.isClosed() || image.isEndOfStream())
                    {
                        break;
                    }
                    final String error = archive.pollForErrorResponse();
                    if (null != error)
                    {
                        throw stoppedShort(recordingId, image.position(), stopPosition, error);
                    }
                    if (image.position() == lastPosition && nowNs - lastMoveNs > STALL_MS * 1_000_000L)
                    {
                        throw stoppedShort(recordingId, image.position(), stopPosition, "the replay has not moved for " +
                            STALL_MS + " ms (a frame header the archive cannot read past, or a stuck archive)");
                    }
                    Thread.onSpinWait();
                }
                if (image.position() != lastPosition)
                {
                    lastPosition = image.position();
                    lastMoveNs = nowNs;
                }
                if (nowNs - nextProgressNs >= 0)
                {
                    nextProgressNs = nowNs + PROGRESS_INTERVAL_NS;
                    out.printf("pipeline: replaying the log: %,d batches (%,d records), position %,d of %,d%n",
                        batches, records, image.position(), stopPosition);
                }
            }
            if (image.position() < stopPosition)
            {
                throw stoppedShort(recordingId, image.position(), stopPosition, awaitError(archive));
            }
        }
        finally
        {
            CloseHelper.quietClose(subscription);
        }
        if (messageEndPosition != endPosition)
        {
            throw new DurableStateException("the log is damaged: the batch ending at position " + messageEndPosition +
                " of log recording " + recordingId + " was not replayed whole (the last one replayed ends at " +
                endPosition + ")");
        }
        // What lies in [endPosition, stopPosition) is now padding and, at most, the first fragments of one batch
        // (pendingBytes of its pendingMessageLength): never recorded whole, so never acknowledged.
        return endPosition;
    }

    private static DurableStateException stoppedShort(
        final long recordingId, final long position, final long stopPosition, final String why)
    {
        return new DurableStateException("the log is damaged or unreadable: the archive's replay of log recording " +
            recordingId + " stopped at position " + position + ", its catalog says it holds up to " + stopPosition +
            (null == why ? "" : ": " + oneLine(why)));
    }

    /**
     * @return the archive's reason for ending a replay early, if it sends one within {@link #ERROR_WAIT_MS}.
     */
    private static String awaitError(final AeronArchive archive)
    {
        final long deadlineNs = System.nanoTime() + ERROR_WAIT_MS * 1_000_000L;
        while (System.nanoTime() - deadlineNs < 0)
        {
            final String error = archive.pollForErrorResponse();
            if (null != error)
            {
                return error;
            }
            sleepOneMs();
        }
        return null;
    }

    private static String oneLine(final String text)
    {
        return text.replace('\n', ' ').replace('\r', ' ');
    }

    private static Image awaitImage(final Subscription subscription, final AeronArchive archive, final long recordingId)
    {
        final long deadlineNs = System.nanoTime() + IMAGE_WAIT_MS * 1_000_000L;
        while (subscription.imageCount() == 0)
        {
            final String error = archive.pollForErrorResponse();
            if (null != error)
            {
                throw new DurableStateException("replay of log recording " + recordingId + " failed: " + error);
            }
            if (System.nanoTime() - deadlineNs > 0)
            {
                throw new DurableStateException("the archive did not start replaying log recording " + recordingId +
                    " within " + IMAGE_WAIT_MS + " ms");
            }
            sleepOneMs();
        }
        return subscription.imageAtIndex(0);
    }

    /**
     * Every fragment, before it is assembled: checks it belongs where it lies, then hands it on. A failure is kept
     * and the poll ABORTed, never thrown into the poll (which would skip the fragment and go on).
     */
    private Action onFragment(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        if (null != failure)
        {
            return Action.ABORT;
        }
        final long frameStart = header.position() - BitUtil.align(header.frameLength(), FrameDescriptor.FRAME_ALIGNMENT);
        try
        {
            final String problem = checkFragment(buffer, offset, length, header, frameStart);
            if (null != problem)
            {
                failure = new DurableStateException("the log is damaged at position " + frameStart + ": " + problem);
                return Action.ABORT;
            }
            final Action action = assembler.onFragment(buffer, offset, length, header);
            return null != failure ? Action.ABORT : action;
        }
        catch (final DurableStateException ex)
        {
            failure = ex;
        }
        catch (final Throwable ex)
        {
            failure = new DurableStateException("replaying the log failed near position " + frameStart + ": " + ex, ex);
        }
        return Action.ABORT;
    }

    /**
     * Fragment by fragment, as the log's publication wrote them: a whole batch in one fragment, or a first
     * fragment (full, naming a longer message), full middle ones and a last one that ends the message exactly,
     * each where the one before ended.
     *
     * @return null when the fragment fits, else why not.
     */
    private String checkFragment(
        final DirectBuffer buffer, final int offset, final int length, final Header header, final long frameStart)
    {
        final byte flags = header.flags();
        if ((flags & FrameDescriptor.UNFRAGMENTED) == FrameDescriptor.UNFRAGMENTED)
        {
            if (0 != pendingBytes)
            {
                return "a whole batch where the fragments of a batch of " + pendingMessageLength + " bytes go on";
            }
            messageEndPosition = header.position();
            return null;
        }
        if ((flags & FrameDescriptor.BEGIN_FRAG_FLAG) != 0)
        {
            if (0 != pendingBytes)
            {
                return "a batch's first fragment where the fragments of a batch of " + pendingMessageLength +
                    " bytes go on";
            }
            if (length != maxPayloadLength)
            {
                return "a batch's first fragment of " + length + " bytes (a fragment carries " + maxPayloadLength + ")";
            }
            messageHeader.wrap(buffer, offset);
            final long declared = messageHeader.frameLengthBytes() & 0xFFFF_FFFFL;
            if (declared <= length)
            {
                return "a batch's first fragment names a message of " + declared + " bytes, no longer than itself";
            }
            pendingMessageLength = declared;
            pendingBytes = length;
            pendingNextPosition = header.position();
            return null;
        }
        if (0 == pendingBytes)
        {
            return "a fragment of a batch whose first fragment is not there";
        }
        if (frameStart != pendingNextPosition)
        {
            return "a batch's fragment where its previous fragment does not end (" + pendingNextPosition + ")";
        }
        final boolean last = (flags & FrameDescriptor.END_FRAG_FLAG) != 0;
        if (!last && length != maxPayloadLength)
        {
            return "a batch's middle fragment of " + length + " bytes (a fragment carries " + maxPayloadLength + ")";
        }
        pendingBytes += length;
        if (last ? pendingBytes != pendingMessageLength : pendingBytes >= pendingMessageLength)
        {
            return "a batch's fragments hold " + pendingBytes + " bytes where its first names " + pendingMessageLength;
        }
        if (last)
        {
            pendingBytes = 0;
            messageEndPosition = header.position();
        }
        else
        {
            pendingNextPosition = header.position();
        }
        return null;
    }

    private Action onBatch(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        final long at = header.position() - header.frameLength();
        if (SessionRecovery.isNote(buffer, offset, length))
        {
            final String noteProblem = null == sessions ? null : sessions.onNote(buffer, offset, length, System.nanoTime());
            if (null != noteProblem)
            {
                throw new DurableStateException("the log is damaged near position " + at + ": " + noteProblem);
            }
            endPosition = header.position();
            return Action.CONTINUE;
        }
        final String problem = reader.wrap(buffer, offset, length);
        if (null != problem)
        {
            throw new DurableStateException("the log is damaged near position " + at + ": " + problem);
        }
        if (reader.batchSeq() != expectedSeq)
        {
            throw new DurableStateException("the log is damaged near position " + at + ": batch " + reader.batchSeq() +
                " where batch " + expectedSeq + " was due");
        }
        if (reader.schemaHash() != schema.hash())
        {
            throw new DurableStateException("the log's batch " + reader.batchSeq() + " was written with database schema hash " +
                Long.toHexString(reader.schemaHash()) + ", the pipeline runs " + schema.name() + " (" +
                Long.toHexString(schema.hash()) + "): start it with the schema the log was written with");
        }
        final int recordsLength = reader.recordsLength();
        if (reader.recordCount() > results.capacity())
        {
            final int capacity = Math.max(reader.recordCount(), results.capacity() * 2);
            results.close();
            results = new ApplyResults(capacity);
        }
        final long address;
        if (WorkerAgent.isDirect(buffer))
        {
            address = buffer.addressOffset() + reader.recordsOffset(); // one fragment: applied where it lies
        }
        else
        {
            // The store wants off-heap bytes; a batch reassembled from fragments lies on the heap.
            if (recordsLength > scratch.capacityBytes())
            {
                scratch.close();
                scratch = new OffHeapBuffer(Math.max(recordsLength, scratch.capacityBytes() * 2));
            }
            scratch.buffer().putBytes(0, buffer, reader.recordsOffset(), recordsLength);
            address = scratch.address();
        }
        final int walked = store.apply(address, recordsLength, 0, results);
        if (walked != reader.recordCount())
        {
            throw new DurableStateException("the log's batch " + reader.batchSeq() + " holds " + walked +
                " messages, it says " + reader.recordCount());
        }
        if (null != sessions)
        {
            final String sessionProblem = sessions.onBatch(reader, results);
            if (null != sessionProblem)
            {
                throw new DurableStateException("the log's batch " + reader.batchSeq() + " does not add up: " +
                    sessionProblem);
            }
        }
        expectedSeq++;
        batches++;
        records += walked;
        endPosition = header.position();
        return Action.CONTINUE;
    }

    /**
     * @return the seq of the last batch replayed (the lastSeq given when none was).
     */
    long lastSeq()
    {
        return expectedSeq - 1;
    }

    long batches()
    {
        return batches;
    }

    long records()
    {
        return records;
    }

    private static void sleepOneMs()
    {
        try
        {
            Thread.sleep(1);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the archive", ex);
        }
    }

    public void close()
    {
        CloseHelper.closeAll(results, scratch);
    }
}
