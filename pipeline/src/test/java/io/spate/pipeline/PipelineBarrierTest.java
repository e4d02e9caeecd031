package io.spate.pipeline;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordWriter;
import io.spate.codec.TypeDefinition;
import io.spate.codec.testing.ReferenceStore;
import io.spate.store.StoreComparison;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Forces the case the seed's algorithm got wrong: a batch whose types are held by two busy
 * workers. Round after round, a big batch of Users goes to one worker, a big batch of Posts to
 * the other, and at once a batch updating both; the conductor must dispatch it with a barrier
 * (counted) and the store must still equal a single-threaded apply.
 */
class PipelineBarrierTest
{
    private static final int RECORDS_PER_BATCH = 4000;
    private static final int ROUNDS = 3;

    private static void awaitQuietly(final CountDownLatch latch)
    {
        try
        {
            if (!latch.await(60, TimeUnit.SECONDS))
            {
                throw new IllegalStateException("the round was never sent");
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }

    @ParameterizedTest
    @EnumSource(PipelineConfiguration.ThreadingMode.class)
    void batchOfTypesHeldByTwoBusyWorkersShouldWaitOnABarrier(final PipelineConfiguration.ThreadingMode mode)
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        final TypeDefinition user = schema.type("User");
        final TypeDefinition post = schema.type("Post");
        // Deterministic, whatever the machine's load: the conductor is held at the first record of each
        // round until the producer has sent all three batches, so it takes them in one poll; with a thread
        // per worker, the workers are also held until the third batch is dispatched. Both workers are then
        // busy with the types of the third batch when it is assigned: it must carry a barrier.
        final AtomicReference<CountDownLatch> roundSent = new AtomicReference<>(new CountDownLatch(1));
        final AtomicLong thirdSeqOfRound = new AtomicLong(3);
        final AtomicReference<PipelineHarness> running = new AtomicReference<>();
        final boolean holdWorkers = mode == PipelineConfiguration.ThreadingMode.DEDICATED;
        final FaultInjector holds = new FaultInjector()
        {
            public void onClientRecord(final long clientId, final long correlationId, final int recordIndex)
            {
                if (correlationId % 3 == 1 && recordIndex == 0)
                {
                    awaitQuietly(roundSent.get());
                }
            }

            public void beforeApply(final int worker, final long batchSeq)
            {
                if (holdWorkers && batchSeq < thirdSeqOfRound.get())
                {
                    RawProducer.await(() -> running.get().pipeline.counters().batches().get() >= thirdSeqOfRound.get(),
                        "the round's third batch to be dispatched");
                }
            }
        };
        try (PipelineHarness harness = new PipelineHarness(schema, c -> c
            .threadingMode(mode)
            .workerCount(2)
            .maxRecordsPerBatch(RECORDS_PER_BATCH)
            .maxBatchBytes(1 << 20)
            .faultInjector(holds));
            RawProducer producer = harness.rawProducer(5))
        {
            running.set(harness);
            final ReferenceStore reference = new ReferenceStore(schema);
            final RecordWriter writer = new RecordWriter(schema);
            final UnsafeBuffer[] batches = { new UnsafeBuffer(new byte[1 << 20]), new UnsafeBuffer(new byte[1 << 20]),
                new UnsafeBuffer(new byte[1 << 20]) };
            final int[] lengths = new int[3];
            long correlationId = 0;
            for (int round = 0; round < ROUNDS; round++)
            {
                // Nothing is deleted: the pipeline hands out never-used slots in order, as the reference does for id 0.
                final long firstUser = reference.highWaterSlot(user.typeId()) + 1;
                final long firstPost = reference.highWaterSlot(post.typeId()) + 1;
                writer.wrap(batches[0], 0, batches[0].capacity()).beginBatch(5, ++correlationId);
                for (int i = 0; i < RECORDS_PER_BATCH; i++)
                {
                    writer.create(user);
                    writer.setString(user.field("bio"), "a biography long enough to take the worker some time");
                }
                lengths[0] = writer.endBatch();
                writer.wrap(batches[1], 0, batches[1].capacity()).beginBatch(5, ++correlationId);
                for (int i = 0; i < RECORDS_PER_BATCH; i++)
                {
                    writer.create(post);
                    writer.setString(post.field("title"), "a title long enough to take the worker some time");
                }
                lengths[1] = writer.endBatch();
                // Updates of both types, in an order that a missed barrier would break: each node is
                // set twice and the last value must win.
                writer.wrap(batches[2], 0, batches[2].capacity()).beginBatch(5, ++correlationId);
                for (int i = 0; i < RECORDS_PER_BATCH / 2; i++)
                {
                    writer.update(i % 2 == 0 ? user : post, (i % 2 == 0 ? firstUser : firstPost) + i / 2);
                    writer.setLong(i % 2 == 0 ? user.field("karma") : post.field("likes"), round * 1000L + i);
                }
                lengths[2] = writer.endBatch();
                thirdSeqOfRound.set(correlationId);
                for (int b = 0; b < 3; b++)
                {
                    reference.apply(batches[b], 0, lengths[b]);
                    producer.send(batches[b], 0, lengths[b]);
                }
                roundSent.get().countDown();
                producer.awaitAcks((int)correlationId);
                roundSent.set(new CountDownLatch(1));
            }
            harness.assertNoAgentError();
            assertEquals(ROUNDS, harness.pipeline.counters().barrierDispatches().get(),
                "every round's third batch waits on a barrier");
            for (final RawProducer.Ack ack : producer.acks)
            {
                assertTrue(ack.errors().isEmpty(), ack.toString());
            }
            StoreComparison.assertSameState(schema, harness.store, reference, mode + " barrier rounds");
        }
    }
}
