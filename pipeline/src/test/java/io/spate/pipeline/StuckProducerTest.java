package io.spate.pipeline;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordWriter;
import io.spate.codec.TypeDefinition;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A producer that keeps sending but never reads its acks must not stall the others: once its
 * response window is full the conductor drops its acks (counted) instead of waiting on it.
 */
class StuckProducerTest
{
    private static final int STUCK_BATCHES = 3000;

    @Test
    void aProducerThatNeverReadsAcksShouldNotStallTheOthers()
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        final TypeDefinition counter = schema.type("Counter");
        // A 256 KB IPC term: the stuck producer's 128 KB window fills after ~1,500 acks.
        try (PipelineHarness harness = new PipelineHarness(schema, d -> d.ipcTermBufferLength(256 * 1024), c -> { });
            RawProducer stuck = harness.rawProducer(31);
            SpateClient good = harness.client())
        {
            stuck.readsAcks = false;
            final RecordWriter writer = new RecordWriter(schema);
            final UnsafeBuffer batch = new UnsafeBuffer(new byte[256]);
            for (int i = 0; i < STUCK_BATCHES; i++)
            {
                writer.wrap(batch, 0, batch.capacity()).beginBatch(31, i + 1);
                writer.create(counter);
                stuck.send(batch, 0, writer.endBatch());   // never polls its responses
            }
            final long startNs = System.nanoTime();
            for (int i = 0; i < 100; i++)
            {
                good.create(counter);
                good.flush();
            }
            assertTrue(good.awaitAcks(10_000), "the good producer's acks were held up");
            final long tookMs = (System.nanoTime() - startNs) / 1_000_000;
            assertTrue(tookMs < 5_000, "100 batches took " + tookMs + " ms beside a stuck producer");
            assertEquals(STUCK_BATCHES + 100, good.count(counter), "the stuck producer's records still apply");
            assertTrue(harness.pipeline.counters().rejectedMessages().get() > 0, "dropped acks are counted");
            harness.assertNoAgentError();
        }
    }
}
