package io.spate.pipeline;

import io.spate.client.SpateClient;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordWriter;
import io.spate.codec.TypeDefinition;
import io.spate.wire.SessionCloseReason;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A producer that keeps sending but stops reading its acks: it must not stall the others, and
 * after the session timeout its session is closed (counted, logged) with a reason it reads once it
 * looks again. Its records still apply; nothing is dropped for the producer that reads.
 */
class StuckProducerTest
{
    private static final int STUCK_BATCHES = 3000;
    private static final int GOOD_BATCHES = 100;

    @Test
    void aProducerThatStopsReadingShouldHaveItsSessionClosedWithoutStallingOthers()
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        final TypeDefinition counter = schema.type("Counter");
        // A 64 KiB IPC term (Aeron's smallest): the stuck producer's window fills after ~700 acks.
        try (PipelineHarness harness = new PipelineHarness(schema, d -> d.ipcTermBufferLength(64 * 1024),
            c -> c.sessionTimeoutMs(1_000));
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
            for (int i = 0; i < GOOD_BATCHES; i++)
            {
                good.create(counter);
                good.flush();
            }
            // Every ack of the reading producer arrives beside the stuck one (no time bound asserted).
            assertTrue(good.awaitAcks(60_000), "the good producer's acks were held up");
            assertNull(good.sessionClosedReason());

            final PipelineCounters counters = harness.pipeline.counters();
            RawProducer.await(() -> counters.sessionsClosed().get() == 1, "the stuck session to be closed");
            assertEquals(STUCK_BATCHES + GOOD_BATCHES, good.count(counter), "the stuck producer's records still apply");

            // The stuck producer looks again: the acks that fitted its window, then why it was closed.
            stuck.readsAcks = true;
            RawProducer.await(() ->
            {
                stuck.poll();
                return null != stuck.closedReason;
            }, "the SessionClosed message");
            assertEquals(SessionCloseReason.NOT_READING, stuck.closedReason);
            assertTrue(stuck.acks.size() < STUCK_BATCHES, "the stuck producer could not have read every ack");
            assertTrue(counters.answersDiscarded().get() + stuck.acks.size() >= STUCK_BATCHES,
                "every ack is either delivered or counted as discarded with the session");
            assertEquals(0, counters.rejectedMessages().get());
            harness.assertNoAgentError();
        }
    }
}
