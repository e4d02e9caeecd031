package io.spate.pipeline;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordWriter;
import io.spate.codec.TypeDefinition;
import io.spate.codec.testing.ReferenceStore;
import io.spate.store.StoreComparison;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

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

    @ParameterizedTest
    @EnumSource(PipelineConfiguration.ThreadingMode.class)
    void batchOfTypesHeldByTwoBusyWorkersShouldWaitOnABarrier(final PipelineConfiguration.ThreadingMode mode)
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        final TypeDefinition user = schema.type("User");
        final TypeDefinition post = schema.type("Post");
        try (PipelineHarness harness = new PipelineHarness(schema, c -> c
            .threadingMode(mode)
            .workerCount(2)
            .maxRecordsPerBatch(RECORDS_PER_BATCH)
            .maxBatchBytes(1 << 20));
            RawProducer producer = harness.rawProducer(5))
        {
            final ReferenceStore reference = new ReferenceStore(schema);
            final RecordWriter writer = new RecordWriter(schema);
            final UnsafeBuffer[] batches = { new UnsafeBuffer(new byte[1 << 20]), new UnsafeBuffer(new byte[1 << 20]),
                new UnsafeBuffer(new byte[1 << 20]) };
            final int[] lengths = new int[3];
            long correlationId = 0;
            int rounds = 0;
            final int maxRounds = mode == PipelineConfiguration.ThreadingMode.DEDICATED ? 40 : 10;
            while (rounds < maxRounds && harness.pipeline.counters().barrierDispatches().get() == 0 || rounds < 3)
            {
                final long firstUser = reference.nextId(user.typeId());
                final long firstPost = reference.nextId(post.typeId());
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
                    writer.setLong(i % 2 == 0 ? user.field("karma") : post.field("likes"), rounds * 1000L + i);
                }
                lengths[2] = writer.endBatch();
                for (int b = 0; b < 3; b++)
                {
                    reference.apply(batches[b], 0, lengths[b]);
                    producer.send(batches[b], 0, lengths[b]);
                }
                producer.awaitAcks((int)correlationId);
                rounds++;
            }
            harness.assertNoAgentError();
            if (mode == PipelineConfiguration.ThreadingMode.DEDICATED)
            {
                // With a thread per worker both are busy when the third batch comes: the case must occur.
                // Shared threading runs workers right after the conductor, so it occurs only when
                // all three batches land in one poll; there the ordering check below still holds.
                assertTrue(harness.pipeline.counters().barrierDispatches().get() > 0,
                    "no batch was ever dispatched with a barrier in " + rounds + " rounds");
            }
            for (final RawProducer.Ack ack : producer.acks)
            {
                assertTrue(ack.errors().isEmpty(), ack.toString());
            }
            StoreComparison.assertSameState(schema, harness.store, reference, "barrier rounds " + rounds);
        }
    }
}
