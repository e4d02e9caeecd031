package io.spate.pipeline;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.testing.RandomWorkload;
import io.spate.codec.testing.ReferenceStore;
import io.spate.store.StoreComparison;
import io.spate.wire.RecordStatus;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Random multi-type workloads through the whole pipeline with 1 to 4 workers: every ack must say
 * what a single-threaded reference apply of the same batches says, record by record, and the
 * final store must equal the reference field by field. Replay a failure with its seed.
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
            final ReferenceStore reference = new ReferenceStore(schema);
            final UnsafeBuffer batch = new UnsafeBuffer(new byte[1 << 16]);
            final Map<Long, List<ReferenceStore.Outcome>> expected = new HashMap<>();
            int records = 0;
            long correlationId = 0;
            while (records < RECORDS_PER_RUN)
            {
                final int recordCount = 1 + workload.random().nextInt(100);
                final int length = workload.writeBatch(batch, 0, batch.capacity(), recordCount, true, false);
                expected.put(++correlationId, reference.apply(batch, 0, length));
                producer.send(batch, 0, length);
                producer.poll();
                records += recordCount;
            }
            producer.awaitAcks((int)correlationId);
            harness.assertNoAgentError();

            for (final RawProducer.Ack ack : producer.acks)
            {
                final List<ReferenceStore.Outcome> outcomes = expected.get(ack.correlationId());
                final String context = "workers " + workers + " seed " + seed + " batch " + ack.correlationId();
                assertEquals(outcomes.size() - 1, ack.recordCount(), context);
                for (int i = 0; i < ack.recordCount(); i++)
                {
                    final ReferenceStore.Outcome outcome = outcomes.get(i + 1);
                    final RecordStatus status = ack.errors().getOrDefault(i, RecordStatus.OK);
                    assertEquals(RecordStatus.get((short)outcome.status()), status, context + " record " + i);
                    if (outcome.templateId() == 10 && outcome.status() == RecordStatus.OK.value())
                    {
                        assertEquals(outcome.nodeId(), ack.createdIds().get(i), context + " id of create " + i);
                    }
                }
            }
            StoreComparison.assertSameState(schema, harness.store, reference, "workers " + workers + " seed " + seed);
        }
    }
}
