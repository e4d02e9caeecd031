package io.spate.pipeline;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.testing.RandomWorkload;
import io.spate.codec.testing.ReferenceStore;
import io.spate.store.StoreComparison;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A tiny modify buffer forces wrap-around, gap selection and copy mode: nothing is lost, every
 * batch is acked exactly once, each ack says what the reference says of its batch, and the store ends
 * equal to the reference (which takes each batch with the ids the pipeline acked: {@link AckedIds}).
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
            final UnsafeBuffer batch = new UnsafeBuffer(new byte[8 << 10]);
            final List<byte[]> sent = new ArrayList<>();
            for (int i = 0; i < 1500; i++)
            {
                final int length = workload.writeBatch(batch, 0, 4 << 10, 1 + workload.random().nextInt(20), true, false);
                final byte[] bytes = new byte[length];
                batch.getBytes(0, bytes);
                sent.add(bytes);
                producer.send(batch, 0, length);
                producer.poll();
            }
            final int batches = sent.size();
            producer.awaitAcks(batches);
            harness.assertNoAgentError();
            final Map<Long, RawProducer.Ack> acked = new HashMap<>();
            for (final RawProducer.Ack ack : producer.acks)
            {
                assertNull(acked.put(ack.correlationId(), ack), "batch " + ack.correlationId() + " acked twice");
            }
            assertEquals(batches, acked.size());
            final ReferenceStore reference = new ReferenceStore(schema);
            final String run = "reclaim, " + workers + " workers";
            for (int i = 0; i < batches; i++)
            {
                final UnsafeBuffer bytes = new UnsafeBuffer(sent.get(i));
                final RawProducer.Ack ack = acked.get(i + 1L);
                AckedIds.patchCreates(schema, bytes, 0, bytes.capacity(), ack);
                AckedIds.assertAckMatches(reference.apply(bytes, 0, bytes.capacity()), ack, run + " batch " + (i + 1));
            }
            System.out.println(run + ": " + AckedIds.assertNoSlotSkipped(reference, run));
            StoreComparison.assertSameState(schema, harness.store, reference, run);
            final PipelineCounters counters = harness.pipeline.counters();
            assertTrue(counters.batches().get() > 0);
            assertTrue(counters.copyModeDispatches().get() > 0, "copy mode never used");
            // The conductor frees a region just after it acks the batch in it.
            RawProducer.await(() -> counters.bufferBytesFree().get() == 24 << 10, "every region reclaimed");
        }
    }
}
