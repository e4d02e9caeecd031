package io.spate.client;

import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.wire.AckDecoder;
import io.spate.wire.RecordStatus;
import org.agrona.CloseHelper;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link SpateClient}'s cluster mode against a real Aeron Cluster (in this JVM) running a stand-in of
 * Spate's clustered service ({@link TestCluster}): the session, acks and reads, duplicate acks, the
 * in-flight bound, keep-alives, a new leader (the leader of three stopped) answered by resending every
 * unacked batch unchanged, and a cluster that never comes back. End-to-end runs against the real service and
 * three members are the pipeline module's.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SpateClientClusterTest
{
    private static final int RECORDS_PER_BATCH = 10;

    private final DatabaseSchema schema = SchemaCompiler.compile(Path.of("..", "schema", "examples", "social.json"));
    private final TypeDefinition user = schema.type("User");
    private Path clientDirectory;
    private MediaDriver clientDriver;
    private TestCluster cluster;
    private SpateClient client;

    @BeforeEach
    void before() throws Exception
    {
        // The client's own driver: the cluster's goes away when the member stops.
        clientDirectory = Files.createTempDirectory("spate-client-driver-");
        clientDriver = MediaDriver.launchEmbedded(new MediaDriver.Context()
            .aeronDirectoryName(clientDirectory.resolve("aeron").toString())
            .threadingMode(ThreadingMode.SHARED)
            .sharedIdleStrategy(new BackoffIdleStrategy())
            .dirDeleteOnStart(true)
            .dirDeleteOnShutdown(true));
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
            // a test that ended the cluster leaves acks missing: close says so
        }
        CloseHelper.quietCloseAll(cluster, clientDriver);
        org.agrona.IoUtil.delete(clientDirectory.toFile(), true);
    }

    private SpateClient.Context context()
    {
        return new SpateClient.Context()
            .aeronDirectoryName(clientDriver.aeronDirectoryName())
            .schema(schema)
            .clusterIngressEndpoints(cluster.ingressEndpoints())
            .timeoutMs(20_000);
    }

    private void writeBatch(final int batch)
    {
        for (int i = 0; i < RECORDS_PER_BATCH; i++)
        {
            client.create(user);
            client.setLong(user.field("karma"), batch * 1000L + i);
        }
    }

    private void pollUntil(final BooleanSupplier condition, final long timeoutMs, final String what)
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (!condition.getAsBoolean())
        {
            if (System.nanoTime() > deadlineNs)
            {
                throw new AssertionError("not within " + timeoutMs + " ms: " + what);
            }
            if (client.poll() == 0)
            {
                Thread.onSpinWait();
            }
        }
    }

    @Test
    void writesAndReadsGoThroughTheClusterSession() throws Exception
    {
        cluster = new TestCluster(1, 5_000, 10_000);
        client = SpateClient.connect(context());
        assertTrue(client.isClusterMode());
        assertTrue(client.isConnected());
        assertEquals(0, client.leaderMemberId());
        final Set<Long> ids = new HashSet<>();
        for (int batch = 0; batch < 10; batch++)
        {
            writeBatch(batch);
            if (batch % 3 == 2)
            {
                final BatchResult result = client.flushAndAwait();
                assertTrue(result.isOk(), result.toString());
                for (int i = 0; i < result.recordCount(); i++)
                {
                    assertTrue(ids.add(result.createdId(i)), "ids are the cluster's, once each");
                }
            }
            else
            {
                assertTrue(client.flush() > 0);
            }
        }
        final BatchResult last = client.flushAndAwait();
        assertEquals(RECORDS_PER_BATCH, last.recordCount());
        assertEquals(10 * RECORDS_PER_BATCH, client.count(user), "read after every write");
        assertEquals(RecordStatus.OK, client.lastReadStatus());
        assertEquals(0, client.inFlightBatches());
        assertEquals(0, client.leaderChanges());
        assertEquals(0, client.resentBatches());
        assertEquals(0, client.duplicateAcks());
        assertEquals(10, cluster.services[0].appliedBatches.get());
        assertEquals(0, cluster.services[0].foreignSessionIds.get(), "batches name the cluster session");
    }

    @Test
    void aSecondAckOfABatchIsCountedAndNotDelivered() throws Exception
    {
        cluster = new TestCluster(1, 5_000, 10_000);
        cluster.services[0].duplicateEveryAck = true;
        client = SpateClient.connect(context());
        final List<Long> acked = new ArrayList<>();
        client.ackListener((AckDecoder ack) -> acked.add(ack.correlationId()));
        final List<Long> sent = new ArrayList<>();
        for (int batch = 0; batch < 50; batch++)
        {
            writeBatch(batch);
            sent.add(client.flush());
        }
        assertTrue(client.awaitAcks(20_000));
        pollUntil(() -> client.duplicateAcks() == 50, 10_000, "50 duplicates seen");
        assertEquals(sent, acked, "each batch's ack delivered once, in the order sent");
        assertEquals(0, client.inFlightBatches());
    }

    @Test
    void theUnackedBatchesAreBoundedAndFlushGivesUpAfterTheTimeout() throws Exception
    {
        cluster = new TestCluster(1, 5_000, 10_000);
        cluster.services[0].holdAcks = true;
        client = SpateClient.connect(context().maxInFlightBatches(4).timeoutMs(500));
        for (int batch = 0; batch < 4; batch++)
        {
            writeBatch(batch);
            assertTrue(client.tryFlush() > 0);
        }
        writeBatch(4);
        assertEquals(SpateClient.BACK_PRESSURED, client.tryFlush(), "4 batches without an ack: the limit");
        final SpateClientException ex = assertThrows(SpateClientException.class, client::flush);
        assertTrue(ex.getMessage().startsWith("back pressure: the cluster did not take the batch in 500 ms " +
            "(4 batch(es) without an ack, leader 0, 0 leader change(s))"), ex.getMessage());
        assertEquals(4, client.inFlightBatches());
        assertEquals(4, cluster.services[0].appliedBatches.get(), "the fifth was never sent");
        final SpateClientException closing = assertThrows(SpateClientException.class, client::close);
        assertTrue(closing.getMessage().startsWith("close: "), closing.getMessage());
    }

    @Test
    void aClientConfiguredWithMoreInFlightThanTheClustersLedgerStaysWithinTheLedger() throws Exception
    {
        cluster = new TestCluster(1, 5_000, 10_000);
        cluster.services[0].ledgerBatches = 4;
        cluster.services[0].holdAcks = true;
        client = SpateClient.connect(context().maxInFlightBatches(16).timeoutMs(500));
        pollUntil(() -> client.maxInFlightBatches() != 16, 10_000, "the cluster's SessionSettings");
        assertEquals(4, client.maxInFlightBatches(), "min(16 configured, the cluster's ledger of 4)");
        for (int batch = 0; batch < 4; batch++)
        {
            writeBatch(batch);
            assertTrue(client.tryFlush() > 0);
        }
        writeBatch(4);
        assertEquals(SpateClient.BACK_PRESSURED, client.tryFlush(), "4 batches without an ack: the ledger's bound");
        assertEquals(4, client.inFlightBatches());
        pollUntil(() -> cluster.services[0].appliedBatches.get() == 4, 10_000, "four batches applied");
        assertThrows(SpateClientException.class, client::flush, "still the ledger's bound after the timeout");
        assertEquals(4, cluster.services[0].appliedBatches.get(), "the fifth was never sent");
    }

    @Test
    void anIdleSessionIsKeptAliveBeyondTheClustersSessionTimeout() throws Exception
    {
        cluster = new TestCluster(1, 5_000, 2_000);
        client = SpateClient.connect(context());
        final long idleUntilNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (System.nanoTime() < idleUntilNs)
        {
            client.poll();
            Thread.sleep(1);
        }
        assertTrue(client.isConnected(), String.valueOf(client.sessionClosedReason()));
        writeBatch(0);
        assertTrue(client.flushAndAwait().isOk());
    }

    @Test
    void aNewLeaderGetsEveryUnackedBatchAgainUnchangedAndAnswersEachOnce() throws Exception
    {
        cluster = new TestCluster(3, 3_000, 30_000);
        for (final TestCluster.TestService service : cluster.services)
        {
            service.holdAcks = true;
        }
        client = SpateClient.connect(context().timeoutMs(60_000));
        final int oldLeader = client.leaderMemberId();
        final TestCluster.TestService oldLeaderService = cluster.services[oldLeader];
        final List<Long> acked = new ArrayList<>();
        client.ackListener((AckDecoder ack) ->
        {
            assertEquals(RecordStatus.OK, ack.status());
            assertEquals(RECORDS_PER_BATCH, ack.recordCount());
            acked.add(ack.correlationId());
        });
        final List<Long> sent = new ArrayList<>();
        for (int batch = 0; batch < 20; batch++)
        {
            writeBatch(batch);
            sent.add(client.flush());
        }
        pollUntil(() -> oldLeaderService.appliedBatches.get() == 20, 20_000, "20 batches applied, their acks held");
        assertEquals(20, client.inFlightBatches());

        // The leader goes; the two others elect one of them, which tells the client.
        for (final TestCluster.TestService service : cluster.services)
        {
            if (service != oldLeaderService)
            {
                service.holdAcks = false;
            }
        }
        cluster.stop(oldLeader);
        assertTrue(client.awaitAcks(60_000), client.inFlightBatches() + " unacked; " + client.sessionClosedReason());

        final int newLeader = client.leaderMemberId();
        assertTrue(newLeader >= 0 && newLeader != oldLeader, "new leader " + newLeader + ", old " + oldLeader);
        assertEquals(sent, acked, "every batch answered once, in the order sent");
        assertEquals(1, client.leaderChanges());
        assertEquals(20, client.resentBatches());
        final TestCluster.TestService newLeaderService = cluster.services[newLeader];
        assertEquals(20, newLeaderService.appliedBatches.get(), "applied once, from the log");
        assertEquals(20, newLeaderService.answeredAgain.get(), "each resent batch recognised, none applied again");
        assertEquals(0, newLeaderService.foreignSessionIds.get(), "resent with the session id they had");
        writeBatch(20);
        assertTrue(client.flush() > 0);
        assertTrue(client.awaitAcks(20_000));
        assertEquals(21 * RECORDS_PER_BATCH, client.count(user), "the session goes on with the new leader");
    }

    @Test
    void aClusterThatNeverComesBackFailsWhatWasInFlight() throws Exception
    {
        cluster = new TestCluster(1, 1_000, 10_000);
        cluster.services[0].holdAcks = true;
        client = SpateClient.connect(context().reconnect(false));
        writeBatch(0);
        final CompletableFuture<BatchResult> future = client.flushAsync();
        pollUntil(() -> cluster.services[0].appliedBatches.get() == 1, 10_000, "the batch applied, its ack held");
        cluster.stop(0);
        pollUntil(future::isDone, 60_000, "the future fails once the cluster is given up");
        final CompletionException failure = assertThrows(CompletionException.class, future::join);
        assertInstanceOf(SpateClientException.class, failure.getCause());
        final String message = failure.getCause().getMessage();
        assertTrue(message.startsWith("lost the cluster: ") &&
            message.endsWith("; 1 batch(es) sent without an ack may or may not have been applied"), message);
        assertFalse(client.isConnected());
        assertEquals(-1, client.leaderMemberId());
        assertEquals(0, client.inFlightBatches());
        writeBatch(1);
        final SpateClientException next = assertThrows(SpateClientException.class, client::flush);
        assertTrue(next.getMessage().startsWith("lost the cluster: "), next.getMessage());
    }

    @Test
    void noClusterAtTheEndpointsFailsAtConnectAfterTheTimeout() throws Exception
    {
        cluster = new TestCluster(1, 5_000, 10_000);
        cluster.stop(0); // its ports, nobody on them
        final SpateClientException ex = assertThrows(SpateClientException.class,
            () -> SpateClient.connect(context().timeoutMs(1_000)));
        assertTrue(ex.getMessage().startsWith("cannot open a session with the cluster at " +
            cluster.ingressEndpoints() + ": no cluster session within the timeout"), ex.getMessage());
    }
}
