package io.spate.pipeline;

import io.spate.client.BatchResult;
import io.spate.client.NodeView;
import io.spate.client.SpateClient;
import io.spate.client.SpateClientException;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.TypeDefinition;
import io.spate.wire.RecordStatus;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The client API end to end: futures with ids, the ack listener, by-name setters, references to
 * creates in the same batch, read-your-writes, and clear errors for misuse.
 */
class SpateClientTest
{
    @Test
    void shouldCreateUpdateReadAndDeleteThroughThePipeline() throws Exception
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        final TypeDefinition user = schema.type("User");
        final TypeDefinition post = schema.type("Post");
        try (PipelineHarness harness = new PipelineHarness(schema, c -> c.workerCount(2));
            SpateClient client = harness.client())
        {
            final int ada = client.create("User");
            client.set("age", 36).set("name", "Ada").set("score", 9.5).set("verified", true);
            client.create(post);
            client.setLong(post.field("likes"), 3);
            client.updateCreated(user, ada);
            client.set("karma", -2);
            final CompletableFuture<BatchResult> first = client.flushAsync();
            while (!first.isDone())
            {
                client.poll();
            }
            final BatchResult result = first.get(10, TimeUnit.SECONDS);
            assertTrue(result.isOk(), result.toString());
            assertEquals(1, result.createdId(0));
            assertEquals(1, result.createdId(1));
            assertEquals(0, result.createdId(2));

            final NodeView node = client.get(user, 1);
            assertEquals(36, node.getLong(user.field("age")));
            assertEquals(-2, node.getLong(user.field("karma")));
            assertEquals(9.5, node.getDouble(user.field("score")));
            assertEquals("Ada", node.getString(user.field("name")));
            assertEquals(1, client.count(post));

            final AtomicLong listened = new AtomicLong();
            client.ackListener(ack -> listened.set(ack.correlationId()));
            client.increment("User", 1, "karma", 10);
            client.delete(post, 1);
            client.update(user, 99);
            client.set("age", 1);
            final long correlationId = client.flush();
            assertTrue(client.awaitAcks(10_000));
            assertEquals(correlationId, listened.get());
            assertEquals(8, client.get(user, 1).getLong(user.field("karma")));
            assertNull(client.get(post, 1), "deleted");
            assertEquals(0, client.count(post));
            harness.assertNoAgentError();
        }
    }

    @Test
    void shouldGiveEveryIdOfAWriteInOneCallAndTellDeletedFromNeverExisted()
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        final TypeDefinition user = schema.type("User");
        try (PipelineHarness harness = new PipelineHarness(schema, c -> { });
            SpateClient client = SpateClient.connect(harness.clientContext().batchCapacityBytes(4096)))
        {
            for (int i = 0; i < 1_000; i++)
            {
                client.create(user);
                client.setLong(user.field("age"), i % 100); // 4 KiB batches: the client flushes many on its own
            }
            final BatchResult result = client.flushAndAwait();
            assertEquals(1_000, result.recordCount());
            for (int i = 0; i < 1_000; i++)
            {
                assertEquals(i + 1, result.createdId(i), "record " + i);
            }
            client.delete(user, 7);
            assertTrue(client.flushAndAwait().isOk());
            assertNull(client.get(user, 7));
            assertEquals(RecordStatus.DELETED, client.lastReadStatus());
            assertNull(client.get(user, 5_000));
            assertEquals(RecordStatus.NO_SUCH_NODE, client.lastReadStatus());
            assertEquals(8, client.get(user, 9).getLong(user.field("age")));
            assertEquals(RecordStatus.OK, client.lastReadStatus());
            assertTrue(client.get(user, 9).toString().startsWith("User{age=8,"), client.get(user, 9).toString());
            harness.assertNoAgentError();
        }
    }

    @Test
    void shouldReportRecordErrorsInTheResult() throws Exception
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        final TypeDefinition user = schema.type("User");
        try (PipelineHarness harness = new PipelineHarness(schema, c -> { });
            SpateClient client = harness.client())
        {
            client.update(user, 5);
            client.set("age", 1);
            client.create(user);
            final CompletableFuture<BatchResult> future = client.flushAsync();
            while (!future.isDone())
            {
                client.poll();
            }
            final BatchResult result = future.get();
            assertEquals(RecordStatus.NO_SUCH_NODE, result.status());
            assertEquals(RecordStatus.NO_SUCH_NODE, result.status(0));
            assertEquals(RecordStatus.OK, result.status(1));
            assertEquals(1, result.createdId(1));
        }
    }

    @Test
    void shouldRefuseMisuseAtTheCallWithTheName()
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        try (PipelineHarness harness = new PipelineHarness(schema, c -> { });
            SpateClient client = harness.client())
        {
            final IllegalArgumentException noType = assertThrows(IllegalArgumentException.class, () -> client.create("Usr"));
            assertTrue(noType.getMessage().contains("Usr"));
            client.create("User");
            final IllegalArgumentException noField = assertThrows(IllegalArgumentException.class, () -> client.set("agee", 1));
            assertTrue(noField.getMessage().contains("agee"));
            assertThrows(IllegalArgumentException.class, () -> client.set("age", 300));
        }
    }

    @Test
    void shouldSayWhenNoPipelineListens()
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        try (PipelineHarness harness = new PipelineHarness(schema, c -> { }))
        {
            final SpateClientException ex = assertThrows(SpateClientException.class, () -> SpateClient.connect(
                new SpateClient.Context().aeron(harness.aeron).schema(schema).ingressStreamId(4242).timeoutMs(300)));
            assertTrue(ex.getMessage().contains("is the pipeline running"), ex.getMessage());
        }
    }
}
