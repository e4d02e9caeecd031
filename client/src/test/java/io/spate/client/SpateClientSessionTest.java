package io.spate.client;

import io.aeron.Aeron;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.wire.AckDecoder;
import io.spate.wire.RecordStatus;
import io.spate.wire.SessionCloseReason;
import org.agrona.CloseHelper;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link SpateClient}'s single-node sessions against a fake pipeline ({@link FakePipeline}, over IPC in this JVM):
 * every record written gets exactly one outcome, in order, when a session closes (never another batch's result);
 * the server's SessionSettings bound what the client keeps unanswered and how large its batches are; and across a
 * pipeline restart the client takes its session back with Reconnect and resends what had no answer (answered
 * once), or, when the pipeline does not know the session, fails those batches in order and opens a new one.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SpateClientSessionTest
{
    private static final String CHANNEL = "aeron:ipc";
    private static final int INGRESS_STREAM_ID = 1001;
    private static final int LEDGER = 1024;
    private static final int MAX_BATCH_BYTES = 256 << 10;
    private static final int MAX_RECORDS = 8192;

    private final DatabaseSchema schema = SchemaCompiler.compile(Path.of("..", "schema", "examples", "social.json"));
    private final TypeDefinition user = schema.type("User");
    private Path directory;
    private MediaDriver driver;
    private Aeron aeron;
    private final List<FakePipeline> pipelines = new ArrayList<>();
    private SpateClient client;

    @BeforeEach
    void before() throws Exception
    {
        directory = Files.createTempDirectory("spate-client-session-");
        driver = MediaDriver.launchEmbedded(new MediaDriver.Context()
            .aeronDirectoryName(directory.resolve("aeron").toString())
            .threadingMode(ThreadingMode.SHARED)
            .sharedIdleStrategy(new BackoffIdleStrategy())
            .dirDeleteOnStart(true)
            .dirDeleteOnShutdown(true));
        aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
    }

    @AfterEach
    void after()
    {
        try
        {
            if (null != client)
            {
                client.close();
            }
        }
        catch (final SpateClientException ignore)
        {
            // a test that left batches unanswered: close says so
        }
        for (final FakePipeline pipeline : pipelines)
        {
            pipeline.close();
            assertNull(pipeline.error, () -> "fake pipeline failed: " + pipeline.error);
        }
        CloseHelper.quietCloseAll(aeron, driver);
        org.agrona.IoUtil.delete(directory.toFile(), true);
    }

    private FakePipeline pipeline(final FakePipeline.Durable durable, final int ledgerBatches)
    {
        return pipeline(durable, ledgerBatches, MAX_BATCH_BYTES, MAX_RECORDS);
    }

    private FakePipeline pipeline(
        final FakePipeline.Durable durable, final int ledgerBatches, final int maxBatchBytes, final int maxRecords)
    {
        final FakePipeline pipeline = new FakePipeline(
            aeron, CHANNEL, INGRESS_STREAM_ID, durable, ledgerBatches, maxBatchBytes, maxRecords);
        pipelines.add(pipeline);
        return pipeline;
    }

    private SpateClient.Context context()
    {
        return new SpateClient.Context()
            .aeron(aeron)
            .schema(schema)
            .ingressChannel(CHANNEL)
            .ingressStreamId(INGRESS_STREAM_ID)
            .responseChannel(CHANNEL)
            .timeoutMs(10_000);
    }

    private void write(final int records)
    {
        for (int i = 0; i < records; i++)
        {
            client.create(user);
            client.setLong(user.field("karma"), i);
        }
    }

    private void pollUntil(final BooleanSupplier condition, final String what)
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean())
        {
            if (System.nanoTime() > deadlineNs)
            {
                throw new AssertionError("not within 20 s: " + what);
            }
            if (client.poll() == 0)
            {
                Thread.yield();
            }
        }
    }

    private static SpateClientException failureOf(final CompletableFuture<BatchResult> future)
    {
        final CompletionException ex = assertThrows(CompletionException.class, future::join);
        return assertInstanceOf(SpateClientException.class, ex.getCause());
    }

    /** Futures in the order they completed, by their index. */
    private static List<Integer> completionOrder(final List<CompletableFuture<BatchResult>> futures)
    {
        final List<Integer> order = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int i = 0; i < futures.size(); i++)
        {
            final int index = i;
            futures.get(i).whenComplete((result, error) -> order.add(index));
        }
        return order;
    }

    // ------------------------------------------------------------------------------------------
    // Finding 5: a closed session never shifts results, and every batch gets exactly one outcome
    // ------------------------------------------------------------------------------------------

    @Test
    void aSessionClosedUnderAWriteFailsItsUnansweredRecordsAndNeverShiftsTheResult()
    {
        final FakePipeline pipeline = pipeline(new FakePipeline.Durable(), LEDGER);
        client = SpateClient.connect(context().maxRecordsPerBatch(10));
        pipeline.holdAcks = true;
        write(25); // two batches of 10 sent on their own, 5 records open
        pollUntil(() -> pipeline.batchesReceived.get() == 2, "two batches applied, their acks held");
        final long firstSession = client.sessionId();
        pipeline.closeSession(firstSession, SessionCloseReason.NOT_READING);
        pollUntil(() -> null != client.sessionClosedReason(), "the client learns its session closed");
        assertTrue(client.sessionClosedReason().contains("NOT_READING"), client.sessionClosedReason());
        pipeline.holdAcks = false;

        write(5); // the open batch (10 records) goes on a new session
        final CompletableFuture<BatchResult> future = client.flushAsync();
        pollUntil(future::isDone, "the write's outcome");
        final SpateClientException failure = failureOf(future);
        assertTrue(failure.getMessage().contains("NOT_READING") &&
            failure.getMessage().contains("20 of 30 record(s) of this write got no answer"), failure.getMessage());
        final BatchResult partial = failure.partialResult();
        assertNotNull(partial);
        assertEquals(30, partial.recordCount(), "every record written since the last flushAsync, none dropped");
        for (int i = 0; i < 20; i++)
        {
            assertFalse(partial.isAnswered(i), "record " + i + " was on the closed session");
            assertEquals(RecordStatus.NULL_VAL, partial.status(i));
            assertEquals(0, partial.createdId(i));
        }
        for (int i = 20; i < 30; i++)
        {
            assertTrue(partial.isOutcomeKnown(i), "record " + i + " went on the new session");
            assertEquals(RecordStatus.OK, partial.status(i));
            assertEquals(21 + (i - 20), partial.createdId(i), "the new session's ids, at the records they belong to");
        }
        assertEquals(1, client.reconnects());
        assertNotEquals(firstSession, client.sessionId());
        assertEquals(0, client.inFlightBatches());

        write(3); // the next write stands alone
        final BatchResult next = client.flushAndAwait();
        assertEquals(3, next.recordCount());
        assertEquals(31, next.createdId(0));
    }

    @Test
    void aListenerGetsOneOutcomePerBatchInOrderWhenItsSessionCloses()
    {
        final FakePipeline pipeline = pipeline(new FakePipeline.Durable(), LEDGER);
        client = SpateClient.connect(context().maxRecordsPerBatch(10));
        final List<String> outcomes = new ArrayList<>();
        client.ackListener(new SpateClient.AckListener()
        {
            public void onAck(final AckDecoder ack)
            {
                outcomes.add(ack.correlationId() + " " + ack.status());
            }

            public void onBatchFailed(final long correlationId, final int recordCount, final String reason)
            {
                assertTrue(reason.contains("REPLACED"), reason);
                outcomes.add(correlationId + " failed " + recordCount);
            }
        });
        write(10);
        final long first = client.flush();
        pollUntil(() -> outcomes.size() == 1, "the first ack");
        pipeline.holdAcks = true;
        write(25);
        final long last = client.flush(); // three batches: 10, 10, 5
        pollUntil(() -> pipeline.batchesReceived.get() == 4, "all applied, three acks held");
        pipeline.closeSession(client.sessionId(), SessionCloseReason.REPLACED);
        pollUntil(() -> outcomes.size() == 4, "an outcome for every batch sent");
        assertEquals(List.of(first + " OK", (first + 1) + " failed 10", (first + 2) + " failed 10", last + " failed 5"),
            outcomes);
        assertEquals(0, client.inFlightBatches());
        assertTrue(client.awaitAcks(1_000), "every batch has its outcome");

        pipeline.holdAcks = false;
        write(1);
        final long next = client.flush(); // a new session
        assertTrue(client.awaitAcks(10_000));
        assertEquals(next + " OK", outcomes.get(4));
        assertEquals(1, client.reconnects());
    }

    @Test
    void aListenerThatTakesNoFailuresHearsOfEachOneAsAnException()
    {
        final FakePipeline pipeline = pipeline(new FakePipeline.Durable(), LEDGER);
        client = SpateClient.connect(context().reconnect(false));
        final List<Long> acked = new ArrayList<>();
        client.ackListener((AckDecoder ack) -> acked.add(ack.correlationId()));
        pipeline.holdAcks = true;
        write(3);
        final long first = client.flush();
        write(3);
        final long second = client.flush();
        pollUntil(() -> pipeline.batchesReceived.get() == 2, "both applied, acks held");
        pipeline.closeSession(client.sessionId(), SessionCloseReason.NOT_READING);
        final List<String> failures = new ArrayList<>();
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (failures.size() < 2 && System.nanoTime() < deadlineNs)
        {
            try
            {
                client.poll();
            }
            catch (final SpateClientException ex)
            {
                failures.add(ex.getMessage());
            }
        }
        assertEquals(2, failures.size(), failures.toString());
        assertTrue(failures.get(0).startsWith("batch " + first + " (3 record(s)) will get no ack: "), failures.get(0));
        assertTrue(failures.get(1).startsWith("batch " + second + " (3 record(s)) will get no ack: "), failures.get(1));
        assertTrue(failures.get(1).contains("NOT_READING"), failures.get(1));
        assertEquals(0, client.inFlightBatches());
        assertTrue(acked.isEmpty());
    }

    // ------------------------------------------------------------------------------------------
    // Finding 6: the server's bounds, from SessionSettings
    // ------------------------------------------------------------------------------------------

    @Test
    void aClientConfiguredWithMoreInFlightThanTheServersLedgerStaysWithinTheLedger()
    {
        final FakePipeline pipeline = pipeline(new FakePipeline.Durable(), 4);
        client = SpateClient.connect(context().maxInFlightBatches(16));
        pollUntil(() -> client.maxInFlightBatches() != 16, "the pipeline's SessionSettings (right after OPENED)");
        assertEquals(4, client.maxInFlightBatches(), "min(16 configured, the server's ledger of 4)");
        pipeline.holdAcks = true;
        final List<CompletableFuture<BatchResult>> futures = new ArrayList<>();
        int sent = 0;
        for (int batch = 0; batch < 10; batch++)
        {
            write(2);
            if (client.tryFlush() > 0)
            {
                futures.add(client.flushAsync());
                sent++;
            }
            else
            {
                break;
            }
        }
        assertEquals(4, sent, "the fifth batch waits for an answer");
        assertEquals(4, client.inFlightBatches());
        assertEquals(SpateClient.BACK_PRESSURED, client.tryFlush());
        pollUntil(() -> pipeline.batchesReceived.get() == 4, "four batches at the pipeline");
        pipeline.releaseAcks();
        futures.add(client.flushAsync()); // sends the fifth once an answer came
        pollUntil(() -> futures.stream().allMatch(CompletableFuture::isDone), "every write answered");
        for (final CompletableFuture<BatchResult> future : futures)
        {
            assertTrue(future.join().isOk(), future.join().toString());
        }
        assertEquals(5, pipeline.batchesReceived.get());
    }

    @Test
    void theServersBatchBoundsSplitBatchesAndRefuseWhatCannotBeSplit()
    {
        pipeline(new FakePipeline.Durable(), LEDGER, MAX_BATCH_BYTES, 10);
        client = SpateClient.connect(context().maxRecordsPerBatch(1000));
        write(1); // sent on its own: taking the settings first
        client.flushAndAwait();
        write(25);
        final BatchResult result = client.flushAndAwait();
        assertEquals(25, result.recordCount());
        assertEquals(1 + 3, pipelines.get(0).batchesReceived.get(), "batches of 10, 10 and 5: the server's most");
        for (int i = 0; i < 25; i++)
        {
            assertEquals(i + 2, result.createdId(i));
        }

        final int ref = client.create(user);
        for (int i = 1; i < 10; i++)
        {
            client.updateCreated(user, ref);
        }
        final SpateClientException ex = assertThrows(SpateClientException.class, () -> client.updateCreated(user, ref));
        assertTrue(ex.getMessage().contains("more than the pipeline takes in one batch (10 records"), ex.getMessage());
        assertTrue(client.flushAndAwait().isOk(), "the 10 records written go as one batch");
    }

    @Test
    void aPipelineThatSendsNoSettingsLeavesTheClientsOwnBounds()
    {
        final FakePipeline pipeline = pipeline(new FakePipeline.Durable(), 4);
        pipeline.sendSettings = false;
        client = SpateClient.connect(context().maxInFlightBatches(8));
        assertEquals(8, client.maxInFlightBatches());
        write(1);
        assertTrue(client.flushAndAwait().isOk());
    }

    // ------------------------------------------------------------------------------------------
    // Exactly once across pipeline restarts
    // ------------------------------------------------------------------------------------------

    @ParameterizedTest(name = "SessionClosed PIPELINE_STOPPING first: {0}")
    @ValueSource(booleans = { true, false })
    void aPipelineRestartBetweenBatchesAndTheirAcksResumesTheSessionAndAnswersEachBatchOnce(final boolean sayStopping)
    {
        final FakePipeline.Durable dataDirectory = new FakePipeline.Durable();
        final FakePipeline first = pipeline(dataDirectory, LEDGER);
        client = SpateClient.connect(context());
        final long session = client.sessionId();
        first.holdAcks = true;
        final List<CompletableFuture<BatchResult>> futures = new ArrayList<>();
        for (int batch = 0; batch < 3; batch++)
        {
            write(10);
            futures.add(client.flushAsync());
        }
        pollUntil(() -> dataDirectory.appliedBatches.get() == 3, "three batches applied, their acks held");
        first.stopReading();
        for (int batch = 3; batch < 5; batch++)
        {
            write(10);
            futures.add(client.flushAsync()); // sent, never read: lost with the pipeline
        }
        final List<Integer> order = completionOrder(futures);
        first.stop(sayStopping);
        pollUntil(() -> null != client.sessionClosedReason() || client.resumedSessions() > 0, "the session ends");
        final FakePipeline second = pipeline(dataDirectory, LEDGER);

        pollUntil(() -> futures.stream().allMatch(CompletableFuture::isDone), "every write answered");
        assertEquals(List.of(0, 1, 2, 3, 4), order, "futures complete in the order written");
        for (int batch = 0; batch < 5; batch++)
        {
            final BatchResult result = futures.get(batch).join();
            assertTrue(result.isOk(), result.toString());
            assertEquals(10, result.recordCount());
            for (int i = 0; i < 10; i++)
            {
                assertEquals(batch * 10 + i + 1, result.createdId(i), "each record applied once, its own id");
            }
        }
        assertEquals(5, dataDirectory.appliedBatches.get(), "every batch applied exactly once");
        assertEquals(3, second.answeredAgain.get(), "the three applied before answered with their original acks");
        assertTrue(second.reconnects.get() >= 1, "Reconnect (sent again when its answer is slow)");
        assertEquals(0, second.connects.get(), "the session was taken back, not replaced");
        assertEquals(session, client.sessionId());
        assertEquals(1, client.resumedSessions());
        assertEquals(0, client.reconnects());
        assertEquals(5, client.resentBatches());
        assertNull(client.sessionClosedReason());

        write(10);
        final BatchResult after = client.flushAndAwait();
        assertEquals(51, after.createdId(0), "the session goes on");
        assertEquals(60, client.count(user));
    }

    @Test
    void aListenerGetsEachResentBatchsAnswerOnceInTheOrderSent()
    {
        final FakePipeline.Durable dataDirectory = new FakePipeline.Durable();
        final FakePipeline first = pipeline(dataDirectory, LEDGER);
        client = SpateClient.connect(context().maxRecordsPerBatch(5));
        final List<Long> acked = new ArrayList<>();
        final List<Long> firstIds = new ArrayList<>();
        client.ackListener((AckDecoder ack) ->
        {
            assertEquals(RecordStatus.OK, ack.status());
            acked.add(ack.correlationId());
            for (final AckDecoder.CreatedIdsDecoder created : ack.createdIds())
            {
                firstIds.add(created.nodeId());
                break;
            }
        });
        first.holdAcks = true;
        write(20);
        final long last = client.flush(); // four batches of five
        pollUntil(() -> dataDirectory.appliedBatches.get() == 4, "applied, acks held");
        first.stopReading();
        write(10);
        final long lost = client.flush(); // two more, never read
        first.stop(false);
        final FakePipeline second = pipeline(dataDirectory, LEDGER);
        second.answerTwice = true;
        assertTrue(client.awaitAcks(20_000), client.inFlightBatches() + " unanswered: " + client.sessionClosedReason());
        assertEquals(List.of(last - 3, last - 2, last - 1, last, lost - 1, lost), acked, "once each, in order sent");
        assertEquals(List.of(1L, 6L, 11L, 16L, 21L, 26L), firstIds, "each batch's own ids");
        assertEquals(6, client.duplicateAcks(), "every second answer counted, none delivered");
        assertEquals(6, dataDirectory.appliedBatches.get(), "each applied once");
        assertEquals(6, client.resentBatches());
        assertEquals(1, client.resumedSessions());
    }

    @Test
    void aResentBatchWhoseAckLeftTheLedgerIsAlreadyAppliedWithItsOutcomeUnknown()
    {
        final FakePipeline.Durable dataDirectory = new FakePipeline.Durable();
        final FakePipeline first = pipeline(dataDirectory, LEDGER);
        client = SpateClient.connect(context());
        first.holdAcks = true;
        write(10);
        final CompletableFuture<BatchResult> older = client.flushAsync();
        write(10);
        final CompletableFuture<BatchResult> newer = client.flushAsync();
        pollUntil(() -> dataDirectory.appliedBatches.get() == 2, "both applied, acks held");
        first.stop(true);
        pollUntil(() -> null != client.sessionClosedReason(), "the session ends");
        final FakePipeline second = pipeline(dataDirectory, 1); // restarted with a ledger of one ack per session

        pollUntil(() -> older.isDone() && newer.isDone(), "both answered");
        final BatchResult unknown = older.join();
        assertEquals(RecordStatus.ALREADY_APPLIED, unknown.status());
        assertEquals(10, unknown.recordCount());
        assertEquals(10, unknown.unknownOutcomes());
        for (int i = 0; i < 10; i++)
        {
            assertTrue(unknown.isAnswered(i));
            assertFalse(unknown.isOutcomeKnown(i), "applied once, before; its ids are not known any more");
            assertEquals(0, unknown.createdId(i));
        }
        assertTrue(unknown.toString().contains("unknownOutcomes=10"), unknown.toString());
        final BatchResult known = newer.join();
        assertTrue(known.isOk());
        assertEquals(11, known.createdId(0), "the original ack, from the ledger");
        assertEquals(1, second.answeredAlreadyApplied.get());
        assertEquals(2, dataDirectory.appliedBatches.get(), "nothing applied twice");
        assertEquals(1, client.maxInFlightBatches(), "the restarted pipeline's ledger bounds the client now");
    }

    @Test
    void anUnknownSessionFailsEveryUnansweredBatchInOrderThenANewSessionWorks()
    {
        final FakePipeline first = pipeline(new FakePipeline.Durable(), LEDGER);
        client = SpateClient.connect(context());
        final long session = client.sessionId();
        first.holdAcks = true;
        final List<CompletableFuture<BatchResult>> futures = new ArrayList<>();
        for (int batch = 0; batch < 3; batch++)
        {
            write(10);
            futures.add(client.flushAsync());
        }
        pollUntil(() -> first.batchesReceived.get() == 3, "applied, acks held");
        final List<Integer> order = completionOrder(futures);
        first.stop(true);
        pollUntil(() -> null != client.sessionClosedReason(), "the session ends");
        final FakePipeline second = pipeline(new FakePipeline.Durable(), LEDGER); // no data directory

        pollUntil(() -> futures.stream().allMatch(CompletableFuture::isDone), "every write has its outcome");
        assertEquals(List.of(0, 1, 2), order, "failures in the order written");
        for (final CompletableFuture<BatchResult> future : futures)
        {
            final String message = failureOf(future).getMessage();
            assertTrue(message.contains("UNKNOWN_SESSION") && message.contains("session " + session) &&
                message.contains("outcome") && message.contains("unknown"), message);
        }
        assertTrue(second.reconnects.get() >= 1);
        assertEquals(0, client.inFlightBatches());

        write(10);
        final BatchResult after = client.flushAndAwait();
        assertTrue(after.isOk());
        assertEquals(1, after.createdId(0), "a new pipeline's ids");
        assertEquals(1, client.reconnects());
        assertEquals(0, client.resumedSessions());
        assertNotEquals(session, client.sessionId());
        assertEquals(1, second.connects.get());
    }

    @Test
    void aRefusedReconnectFailsWhatHadNoAnswerAndTheNextSendConnectsAsAtFirst()
    {
        final FakePipeline.Durable dataDirectory = new FakePipeline.Durable();
        final FakePipeline first = pipeline(dataDirectory, LEDGER);
        client = SpateClient.connect(context());
        final long session = client.sessionId();
        first.holdAcks = true;
        write(10);
        final CompletableFuture<BatchResult> older = client.flushAsync();
        write(10);
        final CompletableFuture<BatchResult> newer = client.flushAsync();
        pollUntil(() -> dataDirectory.appliedBatches.get() == 2, "applied, acks held");
        final List<Integer> order = completionOrder(List.of(older, newer));
        first.stop(true);
        pollUntil(() -> null != client.sessionClosedReason(), "the session ends");
        final FakePipeline second = pipeline(dataDirectory, LEDGER);
        second.refuseReconnect = io.spate.wire.ConnectStatus.TOO_MANY_SESSIONS;

        pollUntil(() -> older.isDone() && newer.isDone(), "both have their outcome");
        assertEquals(List.of(0, 1), order);
        final String message = failureOf(older).getMessage();
        assertTrue(message.contains("the pipeline refused to take back session " + session + " (TOO_MANY_SESSIONS): " +
            "refused by the fake pipeline: the outcome of the 2 batch(es) sent without an answer is unknown"), message);
        assertEquals(message, failureOf(newer).getMessage());
        assertEquals("the pipeline refused the connection (TOO_MANY_SESSIONS): refused by the fake pipeline",
            client.sessionClosedReason());
        assertEquals(2, client.failedBatches());

        write(1);
        assertTrue(client.flushAndAwait().isOk(), "the next send connects, as at first");
        assertEquals(1, client.reconnects());
        assertNotEquals(session, client.sessionId());
    }

    @Test
    void aPipelineThatNeverComesBackFailsWhatHadNoAnswerAfterTheTimeout()
    {
        final FakePipeline first = pipeline(new FakePipeline.Durable(), LEDGER);
        client = SpateClient.connect(context().timeoutMs(1_000));
        final List<String> failures = new ArrayList<>();
        client.ackListener(new SpateClient.AckListener()
        {
            public void onAck(final AckDecoder ack)
            {
                failures.add("acked " + ack.correlationId());
            }

            public void onBatchFailed(final long correlationId, final int recordCount, final String reason)
            {
                failures.add(reason);
            }
        });
        first.holdAcks = true;
        write(10);
        client.flush();
        pollUntil(() -> first.batchesReceived.get() == 1, "applied, ack held");
        first.stop(true);
        pollUntil(() -> !failures.isEmpty(), "the outcome, once the client's timeout passed");
        final String reason = failures.get(0);
        assertTrue(reason.startsWith("session closed by the pipeline (PIPELINE_STOPPING)") &&
            reason.contains("; the pipeline did not take session " + client.sessionId() + " back within 1000 ms (no " +
            "pipeline is subscribed to aeron:ipc stream 1001); 1 batch(es) sent without an ack may or may not have " +
            "been applied"), reason);
        assertEquals(0, client.inFlightBatches());
        write(1);
        final SpateClientException next = assertThrows(SpateClientException.class, client::flush);
        assertTrue(next.getMessage().contains("is the pipeline running?"), next.getMessage());
    }

    @Test
    void withoutReconnectAStoppedPipelineFailsWhatHadNoAnswer()
    {
        final FakePipeline.Durable dataDirectory = new FakePipeline.Durable();
        final FakePipeline first = pipeline(dataDirectory, LEDGER);
        client = SpateClient.connect(context().reconnect(false));
        first.holdAcks = true;
        write(10);
        final CompletableFuture<BatchResult> future = client.flushAsync();
        pollUntil(() -> first.batchesReceived.get() == 1, "applied, ack held");
        first.stop(true);
        pollUntil(future::isDone, "the outcome");
        final String message = failureOf(future).getMessage();
        assertTrue(message.contains("PIPELINE_STOPPING") &&
            message.endsWith("1 batch(es) sent without an ack may or may not have been applied"), message);
        pipeline(dataDirectory, LEDGER);
        write(1);
        final SpateClientException next = assertThrows(SpateClientException.class, client::flush);
        assertTrue(next.getMessage().contains("PIPELINE_STOPPING"), next.getMessage());
    }
}
