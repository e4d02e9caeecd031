package io.spate.pipeline;

import io.aeron.AeronCounters;
import io.aeron.ExclusivePublication;
import io.spate.client.BatchResult;
import io.spate.client.SpateClient;
import io.spate.client.SpateClientException;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordWriter;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.wire.ConnectEncoder;
import io.spate.wire.MessageHeaderEncoder;
import io.spate.wire.ReadKind;
import io.spate.wire.ReadRequestEncoder;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Producers as sessions the pipeline issues: bound to the image they connected on, refused with a
 * reason at connect (schema, credentials), never able to act as each other, and released when gone.
 */
class SessionsTest
{
    private static final String OTHER_SCHEMA =
        "{\"name\":\"other\",\"types\":[{\"name\":\"User\",\"fields\":[{\"name\":\"age\",\"type\":\"u8\"}]}]}";

    @Test
    void forgedBatchesAndReadsNamingAnotherSessionShouldChangeNothingForIt()
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        final TypeDefinition user = schema.type("User");
        try (PipelineHarness harness = new PipelineHarness(schema, c -> { });
            SpateClient victim = harness.client();
            RawProducer forger = harness.rawProducer(77))
        {
            final PipelineCounters counters = harness.pipeline.counters();
            final long rejectedBefore = counters.rejectedMessages().get();
            // A batch and a read request naming the victim's session, from the forger's own image.
            final UnsafeBuffer buffer = new UnsafeBuffer(new byte[4096]);
            final RecordWriter writer = new RecordWriter(schema);
            writer.wrap(buffer, 0, buffer.capacity()).beginBatch(victim.sessionId(), 1);
            writer.create(user);
            final int batchLength = writer.endBatch();
            forger.sendRaw(buffer, 0, batchLength);
            final MessageHeaderEncoder header = new MessageHeaderEncoder();
            final ReadRequestEncoder read = new ReadRequestEncoder().wrapAndApplyHeader(buffer, 0, header)
                .sessionId(victim.sessionId()).correlationId(1).nodeId(1).typeId(user.typeId()).kind(ReadKind.COUNT);
            final int readLength = MessageHeaderEncoder.ENCODED_LENGTH + read.encodedLength();
            header.frameLengthBytes(readLength);
            forger.sendRaw(buffer, 0, readLength);
            RawProducer.await(() -> counters.rejectedMessages().get() == rejectedBefore + 2, "both forgeries refused");

            // The victim's own correlation id 1 completes from its own batch, and nothing of the forger's applied.
            victim.create(user);
            victim.setLong(user.field("age"), 5);
            final CompletableFuture<BatchResult> own = victim.flushAsync();
            assertTrue(victim.awaitAcks(30_000));
            assertTrue(own.join().isOk(), own.join().toString());
            assertEquals(1, victim.count(user), "the forged create was never applied");
            assertEquals(0, forger.acks.size(), "the forger got no answer meant for the victim");
            harness.assertNoAgentError();
        }
    }

    @Test
    void aSchemaMismatchShouldBeRefusedAtConnectNamingBothSchemas()
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        final DatabaseSchema other = SchemaCompiler.compile(OTHER_SCHEMA, "other.json");
        try (PipelineHarness harness = new PipelineHarness(schema, c -> { }))
        {
            final SpateClientException refused = assertThrows(SpateClientException.class, () ->
                SpateClient.connect(new SpateClient.Context().aeron(harness.aeron).schema(other).timeoutMs(20_000)));
            assertTrue(refused.getMessage().contains("SCHEMA_MISMATCH"), refused.getMessage());
            assertTrue(refused.getMessage().contains("'other'") && refused.getMessage().contains("'social'"),
                refused.getMessage());
            assertTrue(refused.getMessage().contains(Long.toHexString(other.hash())) &&
                refused.getMessage().contains(Long.toHexString(schema.hash())), refused.getMessage());
            assertEquals(1, harness.pipeline.counters().connectsRefused().get());
            RawProducer.await(() -> harness.pipeline.counters().sessionsOpen().get() == 0, "no session");
            harness.assertNoAgentError();
        }
    }

    @Test
    void aSharedSecretShouldBeRequiredWhenConfigured()
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        final byte[] secret = "a secret of sixteen bytes or more".getBytes(StandardCharsets.UTF_8);
        try (PipelineHarness harness = new PipelineHarness(schema, c -> c.authenticator(new SharedSecretAuthenticator(secret))))
        {
            final SpateClientException refused = assertThrows(SpateClientException.class, () ->
                SpateClient.connect(new SpateClient.Context().aeron(harness.aeron).schema(schema).timeoutMs(20_000)
                    .credentials("wrong".getBytes(StandardCharsets.UTF_8))));
            assertTrue(refused.getMessage().contains("NOT_AUTHENTICATED"), refused.getMessage());
            try (SpateClient client = SpateClient.connect(new SpateClient.Context().aeron(harness.aeron).schema(schema)
                .timeoutMs(20_000).credentials(secret)))
            {
                client.create(schema.type("Counter"));
                client.flush();
                assertTrue(client.awaitAcks(30_000));
            }
            harness.assertNoAgentError();
        }
    }

    @Test
    void sessionsShouldBeBoundedAndCloseShouldSendWhatIsWritten()
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        final TypeDefinition counter = schema.type("Counter");
        try (PipelineHarness harness = new PipelineHarness(schema, c -> c.maxSessions(1)))
        {
            try (SpateClient only = harness.client())
            {
                final SpateClientException refused = assertThrows(SpateClientException.class, harness::client);
                assertTrue(refused.getMessage().contains("TOO_MANY_SESSIONS"), refused.getMessage());
                for (int i = 0; i < 10; i++)
                {
                    only.create(counter); // never flushed by the caller: close() sends them and waits for the ack
                }
            }
            RawProducer.await(() -> harness.pipeline.counters().sessionsOpen().get() == 0, "the first session closed");
            try (SpateClient next = harness.client())
            {
                assertEquals(10, next.count(counter), "close() sent what was written");
            }
            harness.assertNoAgentError();
        }
    }

    @Test
    void aClientRestartedWithTheSameNameShouldGetANewSessionAndOnlyItsOwnAnswers()
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        final TypeDefinition counter = schema.type("Counter");
        try (PipelineHarness harness = new PipelineHarness(schema, c -> { }))
        {
            final long firstSession;
            // The first incarnation sends 50 batches (correlation ids 1..50) and goes without reading an ack.
            try (RawProducer first = harness.rawProducer(42))
            {
                first.readsAcks = false;
                firstSession = first.sessionId();
                final RecordWriter writer = new RecordWriter(schema);
                final UnsafeBuffer batch = new UnsafeBuffer(new byte[256]);
                for (int i = 0; i < 50; i++)
                {
                    writer.wrap(batch, 0, batch.capacity()).beginBatch(firstSession, i + 1);
                    writer.create(counter);
                    first.send(batch, 0, writer.endBatch());
                }
            }
            // The restart: same name, same response stream, while the first's acks may still be on their way.
            try (SpateClient second = SpateClient.connect(harness.clientContext().clientId(42)
                .responseStreamId(RawProducer.responseStreamIdOf(42))))
            {
                assertNotEquals(firstSession, second.sessionId());
                second.create(counter);
                second.create(counter);
                final CompletableFuture<BatchResult> mine = second.flushAsync(); // correlation id 1, as the first's was
                assertTrue(second.awaitAcks(30_000));
                assertEquals(2, mine.join().recordCount(), "its own batch of 2, not the first client's batch of 1");
                assertEquals(52, second.count(counter));
            }
            harness.assertNoAgentError();
        }
    }

    @Test
    void aConnectFloodShouldBeRateLimitedAndLeaveNothingBehind()
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        try (PipelineHarness harness = new PipelineHarness(schema, c -> c.maxConnectsPerSecond(50)))
        {
            final PipelineCounters counters = harness.pipeline.counters();
            final int publicationsBefore = countersOfType(harness, AeronCounters.DRIVER_PUBLISHER_LIMIT_TYPE_ID);
            final int countersBefore = countersOfType(harness, ANY_TYPE);
            try (ExclusivePublication flood = harness.aeron.addExclusivePublication("aeron:ipc",
                harness.pipeline.configuration().ingressStreamId()))
            {
                RawProducer.await(flood::isConnected, "ingress");
                final UnsafeBuffer buffer = new UnsafeBuffer(new byte[512]);
                final MessageHeaderEncoder header = new MessageHeaderEncoder();
                for (int i = 0; i < 2_000; i++)
                {
                    final ConnectEncoder connect = new ConnectEncoder().wrapAndApplyHeader(buffer, 0, header)
                        .clientId(i).correlationId(i).schemaHash(schema.hash()).responseStreamId(30_000 + (i % 100))
                        .responseChannel("aeron:ipc").schemaName("social").putCredentials(new byte[0], 0, 0);
                    final int length = MessageHeaderEncoder.ENCODED_LENGTH + connect.encodedLength();
                    header.frameLengthBytes(length);
                    RawProducer.await(() -> flood.offer(buffer, 0, length) > 0, "offer a Connect");
                }
                RawProducer.await(() -> counters.connectsRefused().get() > 0, "Connects over the rate refused");
                // One image: each accepted Connect replaced the session before it.
                RawProducer.await(() -> counters.sessionsOpen().get() <= 1, "at most one session for the flooding image");
            }
            // The flooding publication is gone: its session closes and its response publication is released.
            RawProducer.await(() -> counters.sessionsOpen().get() == 0, "the flood's session closed");
            RawProducer.await(() -> countersOfType(harness, AeronCounters.DRIVER_PUBLISHER_LIMIT_TYPE_ID) <= publicationsBefore,
                "publications back to what they were");
            RawProducer.await(() -> countersOfType(harness, ANY_TYPE) <= countersBefore, "driver counters back to what they were");
            try (SpateClient next = harness.client())
            {
                next.create(schema.type("Counter"));
                next.flush();
                assertTrue(next.awaitAcks(30_000), "the next producer is served");
            }
            harness.assertNoAgentError();
        }
    }

    /**
     * 1,500 by default (about 30 s here): past the default session cap (1,024), so sessions released only at the
     * cap would show as more than 1,000 open at once; the 10,000 with
     * -Dspate.test.short.lived.clients=10000.
     */
    static final int SHORT_LIVED_CLIENTS = Integer.getInteger("spate.test.short.lived.clients", 1_500);

    @Test
    void manyShortLivedClientsShouldLeaveSessionsAndPublicationsFlat()
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        final TypeDefinition counter = schema.type("Counter");
        // Small terms: each client's publication and its response publication map a log buffer each.
        // Yielding agents: each client costs several driver round trips, which parking would stretch to ms.
        try (PipelineHarness harness = new PipelineHarness(schema,
            d -> d.ipcTermBufferLength(64 * 1024).idleStrategy("yielding"),
            c -> c.maxConnectsPerSecond(100_000).conductorIdleStrategy("yielding")))
        {
            final PipelineCounters counters = harness.pipeline.counters();
            final int publicationsBefore = countersOfType(harness, AeronCounters.DRIVER_PUBLISHER_LIMIT_TYPE_ID);
            final int countersBefore = countersOfType(harness, ANY_TYPE);
            final Runtime runtime = Runtime.getRuntime();
            System.gc();
            final long heapBeforeBytes = runtime.totalMemory() - runtime.freeMemory();
            int mostOpen = 0;
            final SpateClient.Context context = harness.clientContext().idleStrategy("yielding");
            for (int i = 0; i < SHORT_LIVED_CLIENTS; i++)
            {
                try (SpateClient client = SpateClient.connect(context))
                {
                    if (i % 100 == 0)
                    {
                        assertEquals(i / 100, client.count(counter)); // a read through its session
                        client.create(counter);
                        client.flush();
                        assertTrue(client.awaitAcks(30_000));
                    }
                }
                mostOpen = Math.max(mostOpen, (int)counters.sessionsOpen().get());
                if (i % 1_000 == 999)
                {
                    System.out.println("short-lived clients: " + (i + 1) + ", sessions open now " +
                        counters.sessionsOpen().get() + ", most so far " + mostOpen + ", closed " +
                        counters.sessionsClosed().get());
                }
            }
            RawProducer.await(() -> counters.sessionsOpen().get() == 0, "every short-lived session closed");
            RawProducer.await(() -> countersOfType(harness, AeronCounters.DRIVER_PUBLISHER_LIMIT_TYPE_ID) <= publicationsBefore,
                "publications back to what they were");
            RawProducer.await(() -> countersOfType(harness, ANY_TYPE) <= countersBefore, "driver counters back to what they were");
            assertFalse(mostOpen > 1_000, "sessions are released as producers go, not when a cap is reached: " + mostOpen);
            System.gc();
            final long heapAfterBytes = runtime.totalMemory() - runtime.freeMemory();
            System.out.println("short-lived clients: heap in use " + heapBeforeBytes / 1024 + " KiB before, " +
                heapAfterBytes / 1024 + " KiB after (this JVM holds the pipeline, the driver and the clients)");
            assertNull(harness.pipeline.fatalError());
            harness.assertNoAgentError();
        }
    }

    static final int ANY_TYPE = Integer.MIN_VALUE;

    static int countersOfType(final PipelineHarness harness, final int typeId)
    {
        final int[] count = new int[1];
        harness.aeron.countersReader().forEach((counterId, type, key, label) ->
        {
            if (type == typeId || typeId == ANY_TYPE)
            {
                count[0]++;
            }
        });
        return count[0];
    }
}
