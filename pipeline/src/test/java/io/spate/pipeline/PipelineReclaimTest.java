package io.spate.pipeline;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.testing.RandomWorkload;
import io.spate.codec.testing.ReferenceStore;
import io.spate.store.StoreComparison;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A tiny modify buffer forces wrap-around, gap selection and copy mode: nothing is lost, every
 * batch is acked exactly once, and the store ends equal to the reference.
 */
class PipelineReclaimTest
{
    @ParameterizedTest(name = "{0} workers")
    @ValueSource(ints = { 1, 2, 3 })
    void tinyBufferShouldWrapReclaimAndFallBackToCopyMode(final int workers)
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        try (PipelineHarness harness = new PipelineHarness(schema, c -> c
            .workerCount(workers)
            .modifyBufferBytes(24 << 10)
            .maxBatchBytes(8 << 10)
            .copyModeThresholdBytes(8 << 10)
            .maxInFlightBatches(8));
            RawProducer producer = harness.rawProducer(77 + workers))
        {
            final RandomWorkload workload = new RandomWorkload(schema, 4242 + workers);
            final ReferenceStore reference = new ReferenceStore(schema);
            final UnsafeBuffer batch = new UnsafeBuffer(new byte[8 << 10]);
            int batches = 0;
            for (int i = 0; i < 1500; i++)
            {
                final int length = workload.writeBatch(batch, 0, 4 << 10, 1 + workload.random().nextInt(20), true, false);
                reference.apply(batch, 0, length);
                producer.send(batch, 0, length);
                producer.poll();
                batches++;
            }
            producer.awaitAcks(batches);
            harness.assertNoAgentError();
            final Set<Long> acked = new HashSet<>();
            for (final RawProducer.Ack ack : producer.acks)
            {
                assertTrue(acked.add(ack.correlationId()), "batch " + ack.correlationId() + " acked twice");
            }
            assertEquals(batches, acked.size());
            StoreComparison.assertSameState(schema, harness.store, reference, "reclaim, " + workers + " workers");
            final PipelineCounters counters = harness.pipeline.counters();
            assertTrue(counters.batches().get() > 0);
            assertTrue(counters.copyModeDispatches().get() > 0, "copy mode never used");
            // The conductor frees a region just after it acks the batch in it.
            RawProducer.await(() -> counters.bufferBytesFree().get() == 24 << 10, "every region reclaimed");
        }
    }
}
