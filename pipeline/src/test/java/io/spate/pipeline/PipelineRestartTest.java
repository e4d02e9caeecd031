package io.spate.pipeline;

import io.aeron.Aeron;
import io.spate.client.BatchResult;
import io.spate.client.SpateClient;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.TypeDefinition;
import io.spate.driver.DriverConfiguration;
import io.spate.driver.SpateDriver;
import io.spate.store.NativeStore;
import org.agrona.CloseHelper;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A pipeline restarted under a running producer: the producer learns its session closed (PIPELINE_STOPPING),
 * and its next send opens a new session on the new pipeline; nothing of the old session completes the new
 * one's futures, and ids go on where the store left them.
 */
class PipelineRestartTest
{
    @Test
    void aClientShouldReconnectToARestartedPipeline() throws Exception
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        final TypeDefinition counter = schema.type("Counter");
        final Path directory = Files.createTempDirectory("spate-restart-");
        SpateDriver driver = null;
        Aeron aeron = null;
        NativeStore store = null;
        Pipeline first = null;
        Pipeline second = null;
        SpateClient client = null;
        try
        {
            driver = SpateDriver.launchEmbedded(new DriverConfiguration()
                .aeronDirectoryName(directory.resolve("aeron").toString()).embedded(true));
            aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
            store = NativeStore.open(schema);
            first = new Pipeline(new PipelineConfiguration().schema(schema).workerCount(1), aeron, store);
            client = SpateClient.connect(new SpateClient.Context().aeron(aeron).schema(schema).timeoutMs(20_000));
            final long firstSession = client.sessionId();
            for (int i = 0; i < 10; i++)
            {
                client.create(counter);
            }
            final CompletableFuture<BatchResult> before = client.flushAsync();
            assertTrue(client.awaitAcks(30_000));
            assertEquals(1, before.join().createdId(0));

            assertTrue(first.drain(30_000));
            first.close();
            first = null;
            final SpateClient watching = client;
            RawProducer.await(() ->
            {
                watching.poll();
                return null != watching.sessionClosedReason();
            }, "the client to learn its session closed");
            assertTrue(client.sessionClosedReason().contains("PIPELINE_STOPPING"), client.sessionClosedReason());

            second = new Pipeline(new PipelineConfiguration().schema(schema).workerCount(1), aeron, store);
            for (int i = 0; i < 10; i++)
            {
                client.create(counter);
            }
            final CompletableFuture<BatchResult> after = client.flushAsync();
            assertTrue(client.awaitAcks(30_000));
            assertTrue(after.join().isOk(), after.join().toString());
            assertEquals(11, after.join().createdId(0), "ids go on where the store left them");
            assertEquals(1, client.reconnects());
            assertNotEquals(firstSession, client.sessionId());
            assertNull(client.sessionClosedReason());
            assertEquals(20, client.count(counter));
            assertNull(second.firstError());
        }
        finally
        {
            CloseHelper.quietCloseAll(client, second, first, store, aeron, driver);
            org.agrona.IoUtil.delete(directory.toFile(), true);
        }
    }
}
