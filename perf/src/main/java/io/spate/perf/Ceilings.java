package io.spate.perf;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Subscription;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordFraming;
import io.spate.store.ApplyResults;
import io.spate.store.NativeStore;
import io.spate.store.OffHeapBuffer;
import io.spate.wire.BatchHeaderDecoder;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The two ceilings the pipeline is measured against, with the same client batches it gets:
 * (a) transport: the batches over Aeron IPC to a subscriber that only counts records;
 * (b) apply: the native store applying the batches on one thread, no pipeline around it.
 */
final class Ceilings
{
    private static final int NODES_PER_TYPE = 1000;

    private Ceilings()
    {
    }

    /**
     * @return records per second through an IPC publication to a counting subscriber.
     */
    static double transport(final Aeron aeron, final EncodedBatches batches, final long records, final int streamId)
    {
        try (ExclusivePublication publication = aeron.addExclusivePublication("aeron:ipc", streamId);
            Subscription subscription = aeron.addSubscription("aeron:ipc", streamId))
        {
            while (!publication.isConnected() || !subscription.isConnected())
            {
                Thread.yield();
            }
            final AtomicLong received = new AtomicLong();
            // The subscriber counts the records each batch declares, nothing more.
            // Batches larger than the MTU arrive in fragments: reassemble, as the conductor does.
            final FragmentAssembler assembler = new FragmentAssembler((buffer, offset, length, header) ->
                received.addAndGet(buffer.getInt(offset + RecordFraming.HEADER_LENGTH_BYTES +
                BatchHeaderDecoder.recordCountEncodingOffset(), ByteOrder.LITTLE_ENDIAN)));
            final long deadlineNs = System.nanoTime() + 120_000_000_000L;
            final Thread counter = new Thread(() ->
            {
                long count = 0;
                while (count < records && System.nanoTime() < deadlineNs)
                {
                    final int fragments = subscription.poll(assembler, 256);
                    if (fragments == 0)
                    {
                        Thread.onSpinWait();
                    }
                    count = received.get();
                }
            }, "bench-transport-subscriber");
            final long startNs = System.nanoTime();
            counter.start();
            long sent = 0;
            int index = 0;
            while (sent < records && System.nanoTime() < deadlineNs)
            {
                final UnsafeBuffer buffer = batches.buffer();
                if (publication.offer(buffer, batches.offset(index), batches.length(index)) > 0)
                {
                    sent += batches.recordsPerBatch();
                    index = (index + 1) % batches.count();
                }
                else
                {
                    Thread.onSpinWait();
                }
            }
            join(counter);
            if (received.get() < records)
            {
                throw new IllegalStateException("transport ceiling: " + received.get() + " of " + records +
                    " records arrived in time");
            }
            final long nanos = System.nanoTime() - startNs;
            return received.get() * 1e9 / nanos;
        }
    }

    /**
     * @return records per second the native store applies on one thread (batch headers included).
     */
    static double apply(final DatabaseSchema schema, final EncodedBatches batches, final long records)
    {
        try (NativeStore store = NativeStore.open(schema);
            ApplyResults results = new ApplyResults(batches.recordsPerBatch() + 1);
            OffHeapBuffer copy = new OffHeapBuffer(batches.buffer().capacity()))
        {
            copy.buffer().putBytes(0, batches.buffer(), 0, batches.buffer().capacity());
            // Memory committed ahead, as the pipeline runs do (first-touch page faults are not the subject).
            for (final io.spate.codec.TypeDefinition type : schema.types())
            {
                store.reserve(type.typeId(), Math.min(records + NODES_PER_TYPE, type.maxNodes()));
            }
            createNodes(schema, store, results);
            long applied = 0;
            int index = 0;
            final long startNs = System.nanoTime();
            while (applied < records)
            {
                store.apply(copy.address() + batches.offset(index), batches.length(index), 0, results);
                applied += batches.recordsPerBatch();
                index = (index + 1) % batches.count();
            }
            return applied * 1e9 / (System.nanoTime() - startNs);
        }
    }

    /**
     * The nodes updates and increments name (ids 1..1000 of every type), as the pipeline run has them.
     */
    private static void createNodes(
        final DatabaseSchema schema, final NativeStore store, final ApplyResults results)
    {
        try (OffHeapBuffer creates = new OffHeapBuffer(1 << 20))
        {
            final io.spate.codec.RecordWriter writer = new io.spate.codec.RecordWriter(schema);
            for (final io.spate.codec.TypeDefinition type : schema.types())
            {
                for (int done = 0; done < NODES_PER_TYPE; done += results.capacity())
                {
                    writer.wrap(creates.buffer(), 0, creates.capacityBytes());
                    for (int i = 0; i < Math.min(results.capacity(), NODES_PER_TYPE - done); i++)
                    {
                        writer.create(type);
                    }
                    store.apply(creates.address(), writer.endBatch(), 0, results);
                }
            }
        }
    }

    private static void join(final Thread thread)
    {
        try
        {
            thread.join();
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(ex);
        }
    }
}
