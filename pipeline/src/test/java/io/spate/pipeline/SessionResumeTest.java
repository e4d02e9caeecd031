package io.spate.pipeline;

import io.aeron.Aeron;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordWriter;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.driver.DriverConfiguration;
import io.spate.driver.SpateDriver;
import io.spate.store.NativeStore;
import io.spate.wire.ConnectStatus;
import io.spate.wire.RecordStatus;
import io.spate.wire.SessionCloseReason;
import org.agrona.CloseHelper;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Exactly once on the single-node pipeline: a producer resumes its session (Reconnect) on a new connection,
 * or after the pipeline restarted on its data directory, and sends again what it holds unanswered. Nothing is
 * applied twice: every batch sent again gets its original answer (ids included) from the ack ledger, or
 * ALREADY_APPLIED once the ledger no longer keeps it; refusals are answered alike; a session another client
 * opened, or one the pipeline forgot, is refused UNKNOWN_SESSION.
 */
class SessionResumeTest
{
    private static final DatabaseSchema SCHEMA = PipelineHarness.exampleSchema();
    private static final TypeDefinition USER = SCHEMA.type("User");
    private static final DatabaseSchema OTHER = SchemaCompiler.compile(
        "{\"name\":\"other\",\"types\":[{\"name\":\"User\",\"fields\":[{\"name\":\"age\",\"type\":\"u8\"}]}]}", "o");
    private static final long CLIENT_ID = 5;

    /** Batches by correlation id: 1..3 two creates each, 4 of another schema, 5 a create of an unknown type. */
    private static int batch(final UnsafeBuffer buffer, final long sessionId, final long correlationId)
    {
        if (correlationId == 4)
        {
            final RecordWriter other = new RecordWriter(OTHER);
            other.wrap(buffer, 0, buffer.capacity()).beginBatch(sessionId, correlationId);
            other.create(OTHER.type("User"));
            return other.endBatch();
        }
        final RecordWriter writer = new RecordWriter(SCHEMA);
        writer.wrap(buffer, 0, buffer.capacity()).beginBatch(sessionId, correlationId);
        if (correlationId == 5)
        {
            writer.create(USER);
            final int length = writer.endBatch();
            // The create's type id (after its header and the batch header) names no type: refused per record,
            // so no record of the batch reaches the store, and its answer is logged on its own.
            final int createAt = io.spate.codec.RecordFraming.HEADER_LENGTH_BYTES +
                io.spate.wire.BatchHeaderEncoder.BLOCK_LENGTH;
            buffer.putShort(createAt + io.spate.codec.RecordFraming.HEADER_LENGTH_BYTES + 8, (short)99,
                java.nio.ByteOrder.LITTLE_ENDIAN);
            return length;
        }
        for (int i = 0; i < 2; i++)
        {
            writer.create(USER);
            writer.setLong(USER.field("age"), (correlationId & 0x3F) + i);
        }
        return writer.endBatch();
    }

    private static void send(final RawProducer producer, final long correlationId)
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[4096]);
        producer.send(buffer, 0, batch(buffer, producer.sessionId(), correlationId));
    }

    private static RawProducer.Ack ack(final RawProducer producer, final long correlationId)
    {
        return producer.acks.stream().filter(a -> a.correlationId() == correlationId).findFirst()
            .orElseThrow(() -> new AssertionError("no ack for " + correlationId + " in " + producer.acks));
    }

    private static int stream = 30_000;

    private static RawProducer resume(final Aeron aeron, final Pipeline pipeline, final long clientId, final long sessionId,
        final boolean expectOpened)
    {
        return new RawProducer(aeron, pipeline.configuration(), clientId, sessionId, expectOpened, stream++);
    }

    @Test
    void aResumedSessionShouldGetEveryAnswerAgainAndApplyNothingTwice()
    {
        try (PipelineHarness harness = new PipelineHarness(SCHEMA, c -> c.ackLedgerBatches(8));
            RawProducer first = harness.rawProducer(CLIENT_ID))
        {
            assertEquals(8, first.ledgerBatches, "SessionSettings tells the producer the ledger's size");
            for (long c = 1; c <= 5; c++)
            {
                send(first, c);
            }
            first.awaitAcks(5);
            assertEquals(RecordStatus.SCHEMA_MISMATCH, ack(first, 4).status());
            assertEquals(RecordStatus.UNKNOWN_TYPE, ack(first, 5).errors().get(0));

            try (RawProducer second = resume(harness.aeron, harness.pipeline, CLIENT_ID, first.sessionId(), true))
            {
                assertEquals(first.sessionId(), second.sessionId(), "the same session, resumed");
                RawProducer.await(() ->
                {
                    first.poll();
                    return first.closedReason == SessionCloseReason.REPLACED;
                }, "the old connection closed REPLACED");
                for (long c = 1; c <= 5; c++)
                {
                    send(second, c);
                }
                second.awaitAcks(5);
                for (long c = 1; c <= 5; c++)
                {
                    assertEquals(ack(first, c), ack(second, c), "batch " + c + " answered as the first time");
                }
                send(second, 6);
                second.awaitAcks(6);
                assertEquals(2, ack(second, 6).createdIds().size());

                // Correlation ids tell resends apart: one that cannot is refused, and not remembered.
                final UnsafeBuffer buffer = new UnsafeBuffer(new byte[4096]);
                second.send(buffer, 0, batch(buffer, second.sessionId(), 0));
                second.send(buffer, 0, batch(buffer, second.sessionId(), -3));
                second.awaitAcks(8);
                assertEquals(RecordStatus.MALFORMED, ack(second, 0).status());
                assertEquals(RecordStatus.MALFORMED, ack(second, -3).status());
            }
            final PipelineCounters counters = harness.pipeline.counters();
            assertEquals(1, counters.sessionsResumed().get());
            assertEquals(5, counters.resendsAnswered().get());
            try (io.spate.client.SpateClient reader = harness.client())
            {
                assertEquals(8, reader.count(USER), "three batches of two creates and one more, each applied once");
            }
            harness.assertNoAgentError();
        }
    }

    @Test
    void aReconnectForAnotherClientsOrAnUnknownSessionShouldBeRefused()
    {
        try (PipelineHarness harness = new PipelineHarness(SCHEMA, c -> { });
            RawProducer owner = harness.rawProducer(CLIENT_ID))
        {
            try (RawProducer thief = resume(harness.aeron, harness.pipeline, CLIENT_ID + 1, owner.sessionId(), false);
                RawProducer lost = resume(harness.aeron, harness.pipeline, CLIENT_ID, owner.sessionId() + 12_345, false))
            {
                assertEquals(ConnectStatus.UNKNOWN_SESSION, thief.connectStatus, thief.connectDetail);
                assertEquals(ConnectStatus.UNKNOWN_SESSION, lost.connectStatus, lost.connectDetail);
                assertTrue(lost.connectDetail.contains("unanswered batches is unknown"), lost.connectDetail);
            }
            send(owner, 1);
            owner.awaitAcks(1);
            assertEquals(RecordStatus.OK, ack(owner, 1).status(), "the owner's session is untouched");
            harness.assertNoAgentError();
        }
    }

    @Test
    void aResendOlderThanTheLedgerShouldBeAnsweredAlreadyAppliedAndNotApplied()
    {
        try (PipelineHarness harness = new PipelineHarness(SCHEMA, c -> c.ackLedgerBatches(2));
            RawProducer first = harness.rawProducer(CLIENT_ID))
        {
            for (long c = 1; c <= 3; c++)
            {
                send(first, c);
                first.awaitAcks((int)c);
            }
            try (RawProducer second = resume(harness.aeron, harness.pipeline, CLIENT_ID, first.sessionId(), true))
            {
                send(second, 1);
                send(second, 3);
                second.awaitAcks(2);
                assertEquals(RecordStatus.ALREADY_APPLIED, ack(second, 1).status());
                assertEquals(0, ack(second, 1).createdIds().size());
                assertEquals(ack(first, 3), ack(second, 3));
            }
            assertEquals(1, harness.pipeline.counters().resendsForgotten().get());
            try (io.spate.client.SpateClient reader = harness.client())
            {
                assertEquals(6, reader.count(USER));
            }
            harness.assertNoAgentError();
        }
    }

    /**
     * A durable pipeline stopped and started again: the sessions come back from the log alone (no snapshot), or
     * from a snapshot taken after every batch (and the log after it).
     */
    @ParameterizedTest
    @ValueSource(booleans = { false, true })
    void aSessionShouldResumeAcrossARestartAndGetItsOriginalAnswers(final boolean snapshots) throws Exception
    {
        final Path directory = Files.createTempDirectory("spate-resume-");
        final List<AutoCloseable> open = new ArrayList<>();
        try
        {
            final SpateDriver driver = SpateDriver.launchEmbedded(new DriverConfiguration()
                .aeronDirectoryName(directory.resolve("aeron").toString()).embedded(true)
                .ipcTermBufferLength(256 << 10).dataDir(directory.resolve("data").toString()));
            open.add(driver);
            final Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
            open.add(aeron);
            final java.util.function.Supplier<PipelineConfiguration> configuration = () -> new PipelineConfiguration()
                .schema(SCHEMA).workerCount(1).conductorIdleStrategy("backoff").workerIdleStrategy("backoff")
                .dataDirectory(directory.resolve("data").toString()).logTermLengthBytes(256 << 10)
                .maxBatchBytes(16 << 10).maxRecordsPerBatch(256)
                .snapshotIntervalBytes(1L << 40).snapshotIntervalMs(snapshots ? 1 : 0);

            final List<RawProducer.Ack> answered;
            final long sessionId;
            NativeStore store = NativeStore.open(SCHEMA);
            Pipeline pipeline = new Pipeline(configuration.get(), aeron, store);
            try (RawProducer first = new RawProducer(aeron, pipeline.configuration(), CLIENT_ID, 0, true, stream++))
            {
                for (long c = 1; c <= 5; c++)
                {
                    send(first, c);
                    first.awaitAcks((int)c); // one at a time: a snapshot may fall between any two
                    if (snapshots)
                    {
                        final PipelineCounters counters = pipeline.counters();
                        final long taken = counters.snapshots().get();
                        RawProducer.await(() -> counters.snapshots().get() > taken, "a snapshot after it");
                    }
                }
                answered = new ArrayList<>(first.acks);
                sessionId = first.sessionId();
            }
            pipeline.close();
            store.close();
            if (!snapshots)
            {
                try (Stream<Path> files = Files.list(directory.resolve("data").resolve(DurableLog.SNAPSHOT_DIRECTORY)))
                {
                    files.forEach(file -> file.toFile().delete()); // the shutdown snapshot: recover from the log
                }
            }

            store = NativeStore.open(SCHEMA);
            pipeline = new Pipeline(configuration.get(), aeron, store);
            try (RawProducer second = new RawProducer(aeron, pipeline.configuration(), CLIENT_ID, sessionId, true, stream++))
            {
                assertEquals(sessionId, second.sessionId());
                for (long c = 1; c <= 5; c++)
                {
                    send(second, c);
                }
                second.awaitAcks(5);
                for (final RawProducer.Ack original : answered)
                {
                    assertEquals(original, ack(second, original.correlationId()), "after the restart");
                }
                send(second, 6);
                second.awaitAcks(6);
                assertEquals(RecordStatus.OK, ack(second, 6).status());
            }
            try (RawProducer other = new RawProducer(aeron, pipeline.configuration(), CLIENT_ID + 1, 0, true, stream++))
            {
                assertTrue(other.sessionId() > sessionId, "session ids never repeat across restarts");
            }
            assertEquals(8, store.count(USER.typeId()), "batches 1..3 and 6, two creates each, applied once");
            assertEquals(null, pipeline.firstError());
            pipeline.close();
            store.close();
        }
        finally
        {
            for (int i = open.size() - 1; i >= 0; i--)
            {
                CloseHelper.quietClose(open.get(i));
            }
            try (Stream<Path> paths = Files.walk(directory))
            {
                paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
            }
        }
    }

    /**
     * A real producer with many batches in flight while its durable pipeline stops and starts again, three times:
     * every record written gets one outcome, every create an id no other got, and the store holds each record
     * once.
     */
    @Test
    void aProducerWithBatchesInFlightShouldGetEveryAnswerOnceAcrossRestarts() throws Exception
    {
        final Path directory = Files.createTempDirectory("spate-resume-");
        final List<AutoCloseable> open = new ArrayList<>();
        try
        {
            final SpateDriver driver = SpateDriver.launchEmbedded(new DriverConfiguration()
                .aeronDirectoryName(directory.resolve("aeron").toString()).embedded(true)
                .ipcTermBufferLength(256 << 10).dataDir(directory.resolve("data").toString()));
            open.add(driver);
            final Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
            open.add(aeron);
            final java.util.function.Supplier<PipelineConfiguration> configuration = () -> new PipelineConfiguration()
                .schema(SCHEMA).workerCount(1).conductorIdleStrategy("backoff").workerIdleStrategy("backoff")
                .dataDirectory(directory.resolve("data").toString()).logTermLengthBytes(256 << 10)
                .maxBatchBytes(16 << 10).maxRecordsPerBatch(256).ackLedgerBatches(64)
                .snapshotIntervalBytes(1L << 40).snapshotIntervalMs(50);
            NativeStore store = NativeStore.open(SCHEMA);
            Pipeline pipeline = new Pipeline(configuration.get(), aeron, store);
            final io.spate.client.SpateClient client = io.spate.client.SpateClient.connect(
                new io.spate.client.SpateClient.Context().aeron(aeron).schema(SCHEMA).timeoutMs(60_000)
                    .batchCapacityBytes(4 << 10));
            open.add(client);
            assertEquals(64, client.maxInFlightBatches(), "the client keeps within the pipeline's ledger");
            final List<java.util.concurrent.CompletableFuture<io.spate.client.BatchResult>> results = new ArrayList<>();
            final int recordsPerFlush = 20;
            int written = 0;
            long unansweredAtStops = 0;
            for (int restart = 0; restart < 3; restart++)
            {
                for (int flush = 0; flush < 150; flush++)
                {
                    for (int i = 0; i < recordsPerFlush; i++)
                    {
                        client.create(USER);
                        client.setLong(USER.field("age"), written++ % 200);
                    }
                    results.add(client.flushAsync());
                }
                // Stop with batches in flight (unlogged, logged but not acked, acked but unread), and start again.
                unansweredAtStops += results.stream().filter(r -> !r.isDone()).count();
                pipeline.close();
                store.close();
                store = NativeStore.open(SCHEMA);
                pipeline = new Pipeline(configuration.get(), aeron, store);
            }
            final long deadlineNs = System.nanoTime() + 60_000_000_000L;
            while (results.stream().anyMatch(r -> !r.isDone()) && System.nanoTime() < deadlineNs)
            {
                client.poll();
                Thread.sleep(1);
            }
            final java.util.Set<Long> ids = new java.util.HashSet<>();
            for (final java.util.concurrent.CompletableFuture<io.spate.client.BatchResult> future : results)
            {
                final io.spate.client.BatchResult result = future.getNow(null);
                assertTrue(null != result, "every write answered");
                assertTrue(result.isOk(), result.toString());
                assertEquals(recordsPerFlush, result.recordCount());
                for (int i = 0; i < result.recordCount(); i++)
                {
                    assertTrue(ids.add(result.createdId(i)), "id " + result.createdId(i) + " given twice");
                }
            }
            assertTrue(unansweredAtStops > 0, "writes were in flight when the pipeline stopped");
            assertTrue(client.resumedSessions() >= 1, "the session was taken back: " + client.resumedSessions());
            assertEquals(written, client.count(USER), "each record applied once");
            assertEquals(null, pipeline.firstError());
            open.remove(client);
            client.close();
            pipeline.close();
            store.close();
        }
        finally
        {
            for (int i = open.size() - 1; i >= 0; i--)
            {
                CloseHelper.quietClose(open.get(i));
            }
            try (Stream<Path> paths = Files.walk(directory))
            {
                paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
            }
        }
    }
}
