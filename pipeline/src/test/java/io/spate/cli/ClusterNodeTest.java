package io.spate.cli;

import io.aeron.cluster.client.AeronCluster;
import io.aeron.cluster.client.EgressListener;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.spate.client.BatchResult;
import io.spate.client.SpateClient;
import io.spate.client.SpateClientException;
import io.spate.cluster.ClusterMembers;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordWriter;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.wire.AckDecoder;
import io.spate.wire.MessageHeaderDecoder;
import io.spate.wire.RecordStatus;
import io.spate.wire.SessionSettingsDecoder;
import io.spate.pipeline.ClusterServiceSettings;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One cluster member in its own JVM (a cluster of one: it leads at once), driven from this JVM by the
 * real clients: the service's answer to a batch sent twice (its original ack, nothing applied again),
 * writes and reads through {@link SpateClient}'s cluster mode, and the shared-secret authenticator.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ClusterNodeTest
{
    private static final String SECRET = "a-secret-of-more-than-16-bytes";

    private ProcessScope scope;
    private DatabaseSchema schema;
    private ClusterMembers members;
    private MediaDriver driver;
    private Path data;
    private Path secretFile;
    private JvmProcess node;
    private int starts;
    private int portBase;

    @BeforeEach
    void setUp() throws Exception
    {
        scope = new ProcessScope();
        schema = SchemaCompiler.compile(Path.of(scope.schema));
        portBase = 31_000 + 100 * (int)((ProcessHandle.current().pid() + System.nanoTime()) % 15);
        members = new ClusterMembers(List.of("localhost"), portBase);
        data = scope.directory("spate-node-");
        secretFile = data.resolve("secret");
        Files.writeString(secretFile, SECRET + "\n");
        node = startNode(List.of(), scope.schema);
        node.awaitLine(line -> line.startsWith("node: member 0 of 1 up"), Duration.ofSeconds(60));
        driver = MediaDriver.launchEmbedded(new MediaDriver.Context()
            .aeronDirectoryName("/dev/shm/spate-test-client-" + ProcessHandle.current().pid())
            .threadingMode(ThreadingMode.SHARED).sharedIdleStrategy(new BackoffIdleStrategy())
            .dirDeleteOnStart(true).dirDeleteOnShutdown(true));
    }

    @AfterEach
    void tearDown()
    {
        if (null != driver)
        {
            driver.close();
        }
        scope.close();
        JvmProcess.deleteRecursively(Path.of(driverDir()));
    }

    /**
     * Starts the member (again) on its data directory.
     *
     * @param systemProperties -D flags of its JVM.
     * @param schemaFile       the schema it is given.
     */
    private JvmProcess startNode(final List<String> systemProperties, final String schemaFile)
    {
        final List<String> flags = new ArrayList<>(JvmProcess.JVM_FLAGS);
        final String nativeDir = System.getProperty("spate.native.dir");
        if (null != nativeDir)
        {
            flags.add("-Dspate.native.dir=" + nativeDir);
        }
        flags.addAll(systemProperties);
        return scope.start("node-0" + (starts++ == 0 ? "" : "-run-" + starts), flags, JvmProcess.classPath(),
            "io.spate.cli.NodeMain", "--id", "0", "--members", "localhost",
            "--port-base", Integer.toString(portBase), "--schema",
            schemaFile, "--data", data.resolve("node-0").toString(), "--driver-dir", driverDir(), "--auth-secret-file",
            secretFile.toString(), "--snapshot-ms", "0");
    }

    /** SIGTERM (no snapshot is taken: a restart replays the whole log), then starts it again. */
    private void restartNode() throws Exception
    {
        node.terminate();
        assertEquals(0, node.awaitExit(Duration.ofSeconds(60)), node.output());
        node = startNode(List.of(), scope.schema);
        node.awaitLine(line -> line.startsWith("node: member 0 of 1 up"), Duration.ofSeconds(60));
    }

    private String driverDir()
    {
        return "/dev/shm/spate-test-single-node-" + members.port(0, 0);
    }

    private SpateClient.Context clientContext(final String secret)
    {
        return new SpateClient.Context().aeronDirectoryName(driver.aeronDirectoryName())
            .clusterIngressEndpoints(members.ingressEndpoints()).schema(schema).timeoutMs(20_000)
            .credentials(null == secret ? null : secret.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void aBatchSentTwiceIsAnsweredWithItsOriginalAckAndAppliedOnce() throws Exception
    {
        final TypeDefinition user = schema.type("User");
        final List<byte[]> answers = new ArrayList<>();
        final EgressListener listener = listener(answers);
        try (AeronCluster cluster = rawCluster(listener))
        {
            final UnsafeBuffer batch = new UnsafeBuffer(new byte[4096]);
            final RecordWriter writer = new RecordWriter(schema).wrap(batch, 0, batch.capacity());
            writer.beginBatch(cluster.clusterSessionId(), 7);
            for (int i = 0; i < 3; i++)
            {
                writer.create(user);
                writer.setLong(user.field("karma"), 100 + i);
            }
            final int length = writer.endBatch();
            offer(cluster, batch, length);
            awaitAnswers(cluster, answers, 1);
            offer(cluster, batch, length); // the same session and correlation id: as after a leader change
            awaitAnswers(cluster, answers, 2);
            assertArrayEquals(answers.get(0), answers.get(1), "the batch sent again gets its original ack");
            final AckDecoder ack = new AckDecoder().wrapAndApplyHeader(new UnsafeBuffer(answers.get(1)), 0,
                new MessageHeaderDecoder());
            assertEquals(RecordStatus.OK, ack.status());
            assertEquals(7, ack.correlationId());
            assertEquals(3, ack.createdIds().count());
        }
        try (SpateClient client = SpateClient.connect(clientContext(SECRET)))
        {
            assertEquals(3, client.count(user), "applied once");
        }
    }

    @Test
    void writesAndReadsThroughTheClient() throws Exception
    {
        final TypeDefinition user = schema.type("User");
        try (SpateClient client = SpateClient.connect(clientContext(SECRET)))
        {
            for (int i = 0; i < 100; i++)
            {
                client.create(user);
                client.set("karma", (long)i).set("name", "n" + i);
            }
            final BatchResult result = client.flushAndAwait();
            assertEquals(100, result.recordCount());
            for (int i = 0; i < 100; i++)
            {
                assertEquals(RecordStatus.OK, result.status(i));
                assertEquals(i + 1, result.createdId(i), "ids are dense from 1, in log order");
            }
            assertEquals(100, client.count(user));
            assertEquals("n42", client.get(user, 43).getString(user.field("name")));
            assertEquals(null, client.get(user, 1_000));
            assertEquals(RecordStatus.NO_SUCH_NODE, client.lastReadStatus());
        }
    }

    @Test
    void aClientWithoutTheSecretIsRefused()
    {
        final SpateClientException wrong = assertThrows(SpateClientException.class,
            () -> SpateClient.connect(clientContext("not-the-secret-but-long-enough")).close());
        assertTrue(wrong.getMessage().contains("refused"), wrong.getMessage());
        assertThrows(SpateClientException.class, () -> SpateClient.connect(clientContext(null)).close());
    }

    /**
     * @return a listener adding each answer to the list; the session's SessionSettings (its first message) is
     * checked and left out.
     */
    private EgressListener listener(final List<byte[]> answers)
    {
        final boolean[] settingsSeen = new boolean[1];
        return (clusterSessionId, timestamp, buffer, offset, length, header) ->
        {
            final byte[] answer = new byte[length];
            buffer.getBytes(offset, answer);
            final MessageHeaderDecoder messageHeader = new MessageHeaderDecoder().wrap(new UnsafeBuffer(answer), 0);
            if (messageHeader.templateId() == SessionSettingsDecoder.TEMPLATE_ID)
            {
                assertTrue(!settingsSeen[0] && answers.isEmpty(), "SessionSettings comes once, first");
                final SessionSettingsDecoder settings = new SessionSettingsDecoder().wrapAndApplyHeader(
                    new UnsafeBuffer(answer), 0, new MessageHeaderDecoder());
                assertEquals(clusterSessionId, settings.sessionId());
                assertEquals(ClusterServiceSettings.DEFAULT_ACK_LEDGER_BATCHES, settings.ledgerBatches());
                settingsSeen[0] = true;
                return;
            }
            answers.add(answer);
        };
    }

    /**
     * @return a raw Aeron Cluster client (with the secret) whose answers go to the listener.
     */
    private AeronCluster rawCluster(final EgressListener listener)
    {
        return rawCluster(listener, "aeron:udp?endpoint=localhost:0");
    }

    private AeronCluster rawCluster(final EgressListener listener, final String egressChannel)
    {
        return AeronCluster.connect(new AeronCluster.Context()
            .aeronDirectoryName(driver.aeronDirectoryName())
            .ingressChannel("aeron:udp")
            .ingressEndpoints(members.ingressEndpoints())
            .egressChannel(egressChannel)
            .credentialsSupplier(new io.aeron.security.CredentialsSupplier()
            {
                public byte[] encodedCredentials()
                {
                    return SECRET.getBytes(StandardCharsets.UTF_8);
                }

                public byte[] onChallenge(final byte[] encodedChallenge)
                {
                    return encodedCredentials();
                }
            })
            .egressListener(listener));
    }

    /**
     * A hostile client on its own session: bytes that are no message, another schema, a batch naming another
     * session, a batch whose count lies. Nothing is answered that has no correlation id to name; the batch is
     * applied as the sender's (its ack names the sender's session, whatever the batch claimed); the lying
     * batch is refused whole; and the member goes on serving.
     */
    @Test
    void hostileInputIsRefusedAndTheMemberGoesOn() throws Exception
    {
        final TypeDefinition user = schema.type("User");
        final List<byte[]> answers = new ArrayList<>();
        final EgressListener listener = listener(answers);
        try (AeronCluster cluster = rawCluster(listener))
        {
            offer(cluster, new UnsafeBuffer(new byte[]{1, 2, 3}), 3);
            final UnsafeBuffer junk = new UnsafeBuffer(new byte[64]);
            junk.setMemory(0, 64, (byte)0xFF);
            offer(cluster, junk, 64);

            final UnsafeBuffer batch = new UnsafeBuffer(new byte[4096]);
            final RecordWriter writer = new RecordWriter(schema).wrap(batch, 0, batch.capacity());
            writer.beginBatch(cluster.clusterSessionId() + 999, 1); // names a session that is not the sender's
            writer.create(user);
            writer.create(user);
            offer(cluster, batch, writer.endBatch());

            writer.wrap(batch, 0, batch.capacity()).beginBatch(cluster.clusterSessionId(), 2);
            writer.create(user);
            writer.create(user);
            final int length = writer.endBatch();
            batch.putInt(io.spate.codec.RecordFraming.HEADER_LENGTH_BYTES +
                io.spate.wire.BatchHeaderEncoder.recordCountEncodingOffset(), 5, java.nio.ByteOrder.LITTLE_ENDIAN);
            offer(cluster, batch, length);

            awaitAnswers(cluster, answers, 2);
            final MessageHeaderDecoder header = new MessageHeaderDecoder();
            final AckDecoder applied = new AckDecoder().wrapAndApplyHeader(new UnsafeBuffer(answers.get(0)), 0, header);
            assertEquals(1, applied.correlationId());
            assertEquals(cluster.clusterSessionId(), applied.sessionId(), "acked as the sender's batch");
            assertEquals(RecordStatus.OK, applied.status());
            final AckDecoder refused = new AckDecoder().wrapAndApplyHeader(new UnsafeBuffer(answers.get(1)), 0, header);
            assertEquals(2, refused.correlationId());
            assertEquals(RecordStatus.MALFORMED, refused.status());
            assertEquals(0, refused.createdIds().count());
        }
        try (SpateClient client = SpateClient.connect(clientContext(SECRET)))
        {
            assertEquals(2, client.count(user), "only the well-formed batch applied");
        }
    }

    /**
     * A client that sends 300 batches without reading its answers, on an egress of Aeron's smallest term
     * (64 KiB: its window fills after a few dozen acks, and the term rotates many times): the leader's egress
     * pushes back, the acks wait for the retry, and once the client reads, every one arrives, once, in order.
     */
    @Test
    void acksPushedBackByASlowClientArriveOnceInOrder() throws Exception
    {
        slowClient(300, false);
        try (SpateClient client = SpateClient.connect(clientContext(SECRET)))
        {
            assertEquals(300 * 100L, client.count(schema.type("User")));
        }
    }

    /**
     * A slow client's acks are retried by a cluster timer, whose events go into the log. The member is stopped
     * (no snapshot) and restarted: it replays the whole log, and its consensus module counts the timer events it
     * replays without having scheduled them. A slow client again: its acks must still arrive once it reads, with
     * nothing more coming in. (With one fixed timer id, the consensus module swallowed the new schedules.)
     */
    @Test
    void aSlowClientIsAnsweredAfterTheMemberRestarts() throws Exception
    {
        slowClient(200, false);
        restartNode();
        slowClient(200, false);
        try (SpateClient client = SpateClient.connect(clientContext(SECRET)))
        {
            assertEquals(400 * 100L, client.count(schema.type("User")));
        }
    }

    /**
     * A slow client sends its batches, then all of them again (as after a leader change), without reading: every
     * answer arrives once it reads, the resent batches' answers their original acks byte for byte, none applied twice.
     * (A duplicate's answer used to be dropped when the egress pushed back.)
     */
    @Test
    void resentBatchesPushedBackBySlowClientAreAllAnswered() throws Exception
    {
        slowClient(150, true);
        try (SpateClient client = SpateClient.connect(clientContext(SECRET)))
        {
            assertEquals(150 * 100L, client.count(schema.type("User")));
        }
    }

    /**
     * Sends the batches (each 100 creates) without polling the egress, then (when asked) all of them again; then reads
     * and checks every answer: each batch's ack once in order, then each resent one's original ack.
     */
    private void slowClient(final int batches, final boolean resend) throws Exception
    {
        final TypeDefinition user = schema.type("User");
        final List<byte[]> answers = new ArrayList<>();
        try (AeronCluster cluster = rawCluster(listener(answers), "aeron:udp?endpoint=localhost:0|term-length=64k"))
        {
            final List<byte[]> sent = new ArrayList<>();
            final UnsafeBuffer batch = new UnsafeBuffer(new byte[16 * 1024]);
            final RecordWriter writer = new RecordWriter(schema);
            for (int b = 1; b <= batches; b++)
            {
                writer.wrap(batch, 0, batch.capacity()).beginBatch(cluster.clusterSessionId(), b);
                for (int i = 0; i < 100; i++)
                {
                    writer.create(user);
                }
                final int length = writer.endBatch();
                final byte[] bytes = new byte[length];
                batch.getBytes(0, bytes);
                sent.add(bytes);
            }
            for (int round = 0; round < (resend ? 2 : 1); round++)
            {
                for (final byte[] bytes : sent)
                {
                    final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                    while (cluster.offer(new UnsafeBuffer(bytes), 0, bytes.length) < 0) // egress not polled
                    {
                        assertTrue(System.nanoTime() < deadlineNs, "the cluster took a batch");
                        cluster.pollStateChanges();
                        Thread.sleep(1);
                    }
                }
            }
            Thread.sleep(500); // nothing more comes in: only the retry timer sends what was pushed back
            final int expected = resend ? 2 * batches : batches;
            awaitAnswers(cluster, answers, expected);
            final MessageHeaderDecoder header = new MessageHeaderDecoder();
            for (int b = 1; b <= batches; b++)
            {
                final AckDecoder ack = new AckDecoder().wrapAndApplyHeader(new UnsafeBuffer(answers.get(b - 1)), 0, header);
                assertEquals(b, ack.correlationId(), "acks in the order sent, each once");
                assertEquals(RecordStatus.OK, ack.status());
                assertEquals(100, ack.createdIds().count());
                if (resend)
                {
                    assertArrayEquals(answers.get(b - 1), answers.get(batches + b - 1), "batch " + b + " resent");
                }
            }
            Thread.sleep(200);
            cluster.pollEgress();
            assertEquals(expected, answers.size(), "no answer twice");
        }
    }

    /**
     * The member is restarted with another ack ledger size, then with another schema: it stops (exit status 70) with
     * one line naming what differs from the settings its log was written with, rather than answer from a ledger of
     * another size or serve an empty store. Restarted as it was, it serves what it held.
     */
    @Test
    void aMemberRestartedWithOtherSettingsOrAnotherSchemaStops() throws Exception
    {
        final TypeDefinition user = schema.type("User");
        try (SpateClient client = SpateClient.connect(clientContext(SECRET)))
        {
            for (int i = 0; i < 3; i++)
            {
                client.create(user);
            }
            assertEquals(3, client.flushAndAwait().recordCount());
        }
        node.terminate();
        assertEquals(0, node.awaitExit(Duration.ofSeconds(60)), node.output());

        node = startNode(List.of("-D" + ClusterServiceSettings.ACK_LEDGER_BATCHES_PROP + "=512"), scope.schema);
        assertEquals(70, node.awaitExit(Duration.ofSeconds(30)), node.output());
        assertTrue(node.output().contains("ack ledger batches 1024 (this member 512)"), node.output());

        final Path otherSchema = data.resolve("other.json");
        Files.writeString(otherSchema, Files.readString(Path.of(scope.schema)).replace("\"karma\"", "\"reputation\""));
        node = startNode(List.of(), otherSchema.toString());
        assertEquals(70, node.awaitExit(Duration.ofSeconds(30)), node.output());
        assertTrue(node.output().contains("schema hash"), node.output());

        node = startNode(List.of(), scope.schema);
        node.awaitLine(line -> line.startsWith("node: member 0 of 1 up"), Duration.ofSeconds(60));
        try (SpateClient client = SpateClient.connect(clientContext(SECRET)))
        {
            assertEquals(3, client.count(user));
        }
    }

    private static void offer(final AeronCluster cluster, final DirectBuffer buffer, final int length)
        throws InterruptedException
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (cluster.offer(buffer, 0, length) < 0)
        {
            assertTrue(System.nanoTime() < deadlineNs, "the cluster took the batch");
            cluster.pollEgress();
            Thread.sleep(1);
        }
    }

    private static void awaitAnswers(final AeronCluster cluster, final List<byte[]> answers, final int count)
        throws InterruptedException
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (answers.size() < count)
        {
            assertTrue(System.nanoTime() < deadlineNs, "answer " + count + " came");
            if (cluster.pollEgress() == 0)
            {
                Thread.sleep(1);
            }
        }
    }
}
