package io.spate.pipeline;

import io.spate.client.SpateClient;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.TypeDefinition;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Several producers at once, one of them disappearing mid-stream without waiting for its acks;
 * then a tiny buffer with a slow worker and fast producers: everything is eventually applied and
 * acked, producers see back pressure, nothing is dropped.
 */
class PipelineProducersTest
{
    private static final int RECORDS_PER_PRODUCER = 20_000;

    @Test
    void severalProducersAndOneThatDisappears() throws Exception
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        final TypeDefinition follow = schema.type("Follow");
        try (PipelineHarness harness = new PipelineHarness(schema, c -> c.workerCount(2)))
        {
            final ExecutorService executor = Executors.newFixedThreadPool(4);
            final List<Future<Long>> producers = new ArrayList<>();
            for (int p = 0; p < 3; p++)
            {
                final int producer = p;
                producers.add(executor.submit(() -> produce(harness, follow, producer, RECORDS_PER_PRODUCER, true)));
            }
            // The quitter sends some batches and closes without reading a single ack.
            final Future<Long> quitter = executor.submit(() -> produce(harness, follow, 9, 5_000, false));
            long expected = quitter.get();
            for (final Future<Long> producer : producers)
            {
                expected += producer.get();
            }
            executor.shutdown();
            // The quitter's batches come on another session: wait until the conductor took them in.
            final long total = expected;
            RawProducer.await(() -> harness.pipeline.counters().recordsIn().get() >= total, "all records in");
            try (SpateClient reader = harness.client())
            {
                assertEquals(expected, reader.count(follow));
            }
            harness.assertNoAgentError();
        }
    }

    @Test
    void backPressureShouldSlowProducersWithoutDroppingAnything() throws Exception
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        final TypeDefinition follow = schema.type("Follow");
        try (PipelineHarness harness = new PipelineHarness(schema, c -> c
            .threadingMode(PipelineConfiguration.ThreadingMode.DEDICATED)
            .workerCount(1)
            .workerIdleStrategy("sleeping")
            .modifyBufferBytes(16 << 10)
            .maxBatchBytes(4 << 10)
            .copyModeThresholdBytes(4 << 10)
            .maxInFlightBatches(4)))
        {
            final ExecutorService executor = Executors.newFixedThreadPool(3);
            final List<Future<Long>> producers = new ArrayList<>();
            for (int p = 0; p < 3; p++)
            {
                final int producer = p;
                producers.add(executor.submit(() -> produce(harness, follow, producer, 10_000, true)));
            }
            long expected = 0;
            for (final Future<Long> producer : producers)
            {
                expected += producer.get();
            }
            executor.shutdown();
            try (SpateClient reader = harness.client())
            {
                assertEquals(expected, reader.count(follow));
            }
            assertTrue(harness.pipeline.counters().backPressureEvents().get() > 0, "the conductor never pushed back");
            harness.assertNoAgentError();
        }
    }

    private static long produce(
        final PipelineHarness harness, final TypeDefinition follow, final int producer, final int records,
        final boolean awaitAcks)
    {
        final long[] errors = new long[1];
        try (SpateClient client = harness.client())
        {
            client.ackListener(ack ->
            {
                if (ack.status() != io.spate.wire.RecordStatus.OK)
                {
                    errors[0]++;
                }
            });
            for (int i = 0; i < records; i++)
            {
                client.create(follow);
                client.setLong(follow.field("followerId"), producer).setLong(follow.field("followeeId"), i);
                if (i % 50 == 49)
                {
                    client.flush();
                    client.poll();
                }
            }
            client.flush();
            if (awaitAcks)
            {
                assertTrue(client.awaitAcks(60_000), "producer " + producer + " missing acks");
                assertEquals(0, errors[0], "producer " + producer + " batches refused");
            }
        }
        return records;
    }
}
