package io.spate.pipeline;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.testing.RandomWorkload;
import io.spate.codec.testing.ReferenceStore;
import io.spate.store.StoreComparison;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Random multi-type workloads (creates, deletes, updates, increments; deleted slots reused) through the whole
 * pipeline with 1 to 4 workers: every ack must say what a single-threaded reference apply of the same batches in
 * ingress order says, record by record, and the final store must equal the reference field by field, slot by slot
 * and generation by generation. The pipeline reuses a slot once the delete that freed it is acked, so its ids depend
 * on timing: the reference takes each batch with its Creates set to the ids the pipeline acked ({@link AckedIds}),
 * and checks each of them as the store does. Replay a failure with its seed.
 */
class PipelineOrderingTest
{
    static final int RECORDS_PER_RUN = 3_000;

    static Stream<Arguments> runs()
    {
        return Stream.of(PipelineConfiguration.ThreadingMode.values()).flatMap(mode ->
            IntStream.rangeClosed(1, 4).boxed().flatMap(workers ->
            IntStream.rangeClosed(1, 3).mapToObj(seed -> Arguments.of(mode, workers, 1000L * workers + seed))));
    }

    @ParameterizedTest(name = "{0} threading, {1} workers, seed {2}")
    @MethodSource("runs")
    void everyTypeShouldBeAppliedInIngressOrder(
        final PipelineConfiguration.ThreadingMode mode, final int workers, final long seed)
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        try (PipelineHarness harness = new PipelineHarness(schema, c -> c
            .threadingMode(mode)
            .workerCount(workers)
            .modifyBufferBytes(1 << 20)
            .maxBatchBytes(32 << 10));
            RawProducer producer = harness.rawProducer(seed))
        {
            final RandomWorkload workload = new RandomWorkload(schema, seed);
            final UnsafeBuffer batch = new UnsafeBuffer(new byte[1 << 16]);
            final List<byte[]> sent = new ArrayList<>();
            int records = 0;
            while (records < RECORDS_PER_RUN)
            {
                final int recordCount = 1 + workload.random().nextInt(100);
                final int length = workload.writeBatch(batch, 0, batch.capacity(), recordCount, true, false);
                final byte[] bytes = new byte[length];
                batch.getBytes(0, bytes);
                sent.add(bytes);
                producer.send(batch, 0, length);
                producer.poll();
                records += recordCount;
                if (sent.size() % 8 == 0)
                {
                    // Every 8 batches the pipeline catches up: the slots their deletes freed are then reusable, so
                    // reuse happens whatever the machine's speed (in between, up to 8 batches are in flight).
                    producer.awaitAcks(sent.size());
                }
            }
            producer.awaitAcks(sent.size());
            harness.assertNoAgentError();

            // One producer: its batches enter the pipeline in the order it sent them, correlation ids from 1.
            final Map<Long, RawProducer.Ack> acks = new HashMap<>();
            for (final RawProducer.Ack ack : producer.acks)
            {
                assertNull(acks.put(ack.correlationId(), ack), "batch " + ack.correlationId() + " acked twice");
            }
            final ReferenceStore reference = new ReferenceStore(schema);
            final String run = mode + " workers " + workers + " seed " + seed;
            for (int i = 0; i < sent.size(); i++)
            {
                final long correlationId = i + 1;
                final RawProducer.Ack ack = acks.get(correlationId);
                final UnsafeBuffer bytes = new UnsafeBuffer(sent.get(i));
                AckedIds.patchCreates(schema, bytes, 0, bytes.capacity(), ack);
                AckedIds.assertAckMatches(reference.apply(bytes, 0, bytes.capacity()), ack, run + " batch " + correlationId);
            }
            System.out.println(run + ": " + AckedIds.assertNoSlotSkipped(reference, run));
            assertTrue(AckedIds.reusedSlots(reference) > 0, run + ": no slot was reused");
            StoreComparison.assertSameState(schema, harness.store, reference, run);
        }
    }
}
