package io.spate.pipeline;

import io.aeron.Aeron;
import io.aeron.ChannelUri;
import io.aeron.FragmentAssembler;
import io.aeron.Image;
import io.aeron.Subscription;
import io.aeron.archive.client.AeronArchive;
import io.aeron.logbuffer.Header;
import io.spate.codec.DatabaseSchema;
import io.spate.store.ApplyResults;
import io.spate.store.NativeStore;
import io.spate.store.OffHeapBuffer;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;

import java.io.PrintStream;

/**
 * Replays a stretch of the durable log into a store through the store's apply, batch by batch in
 * log order: the order the batches were dispatched in, so every type's records apply in the order
 * they were applied live (batches of different types touch disjoint state, so the workers'
 * interleaving cannot matter). Every batch is checked before it is applied; a damaged or
 * out-of-sequence log stops the replay with a reason, and what was replayed so far is reported so
 * the caller can refuse to start.
 */
final class LogReplayer implements AutoCloseable
{
    private static final long IMAGE_WAIT_MS = 10_000;
    private static final long PROGRESS_INTERVAL_NS = 2_000_000_000L;
    private static final int FRAGMENT_LIMIT = 64;

    private final DatabaseSchema schema;
    private final NativeStore store;
    private final SessionRecovery sessions;
    private final LogBatchReader reader = new LogBatchReader();
    private final FragmentAssembler assembler = new FragmentAssembler(this::onFragment);
    private OffHeapBuffer scratch = new OffHeapBuffer(64 << 10);
    private ApplyResults results = new ApplyResults(1024);

    private long expectedSeq;
    private long endPosition;
    private long batches;
    private long records;

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
     * @param lastSeq the seq of the last batch already in the store (the snapshot's, or 0).
     * @return the position where the last complete batch ends (stopPosition unless the log ends inside a
     * batch that was never completely recorded).
     * @throws DurableStateException when a batch is malformed, out of sequence, of another schema, or the
     *                             archive cannot replay the whole stretch.
     */
    long replay(
        final Aeron aeron,
        final AeronArchive archive,
        final long recordingId,
        final long fromPosition,
        final long stopPosition,
        final long lastSeq,
        final int replayStreamId,
        final PrintStream out)
    {
        expectedSeq = lastSeq + 1;
        endPosition = fromPosition;
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
            while (image.position() < stopPosition)
            {
                final int fragments = image.poll(assembler, FRAGMENT_LIMIT);
                if (0 == fragments)
                {
                    if (image.isClosed() || image.isEndOfStream())
                    {
                        break;
                    }
                    final String error = archive.pollForErrorResponse();
                    if (null != error)
                    {
                        throw new DurableStateException("replay of log recording " + recordingId + " failed at position " +
                            image.position() + ": " + error);
                    }
                    Thread.onSpinWait();
                }
                final long nowNs = System.nanoTime();
                if (nowNs - nextProgressNs >= 0)
                {
                    nextProgressNs = nowNs + PROGRESS_INTERVAL_NS;
                    out.printf("pipeline: replaying the log: %,d batches (%,d records), position %,d of %,d%n",
                        batches, records, image.position(), stopPosition);
                }
            }
            if (image.position() < stopPosition)
            {
                throw new DurableStateException("the log is damaged: replay of recording " + recordingId + " ended at " +
                    image.position() + ", the archive's catalog says it holds up to " + stopPosition);
            }
        }
        finally
        {
            CloseHelper.quietClose(subscription);
        }
        return endPosition;
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

    private void onFragment(final DirectBuffer buffer, final int offset, final int length, final Header header)
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
            return;
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
            results.close();
            results = new ApplyResults(Math.max(reader.recordCount(), results.capacity() * 2));
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
