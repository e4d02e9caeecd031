package io.spate.cli;

import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.spate.client.BatchResult;
import io.spate.client.SpateClient;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.wire.RecordStatus;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bin/spate get} and {@code count} with {@code --cluster}, against a 3-member cluster started as
 * {@code bin/spate cluster} starts it (every member its own JVM): records written by {@code produce --cluster}
 * (its own JVM) and by a {@link SpateClient} in cluster mode here are read back through the leader, each write
 * as soon as its ack came (read-your-writes), a deleted node as deleted, a node never made as never existed.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ClusterReadCliTest
{
    private static final int RECORDS = 300;

    private ProcessScope scope;
    private ClusterMainProcess cluster;
    private MediaDriver clientDriver;

    @BeforeEach
    void setUp() throws Exception
    {
        scope = new ProcessScope();
        cluster = new ClusterMainProcess(scope, 3, 14_000);
    }

    @AfterEach
    void tearDown()
    {
        if (null != clientDriver)
        {
            clientDriver.close();
        }
        if (null != cluster)
        {
            cluster.close();
        }
        scope.close();
    }

    @Test
    void getAndCountReadThroughTheLeader() throws Exception
    {
        final String endpoints = cluster.endpoints();
        final JvmProcess producer = scope.produce("produce", "--cluster", endpoints, "--records",
            Integer.toString(RECORDS), "--types", "User:1", "--ops", "create:1", "--seed", "7", "--batch-size", "50");
        assertEquals(0, producer.awaitExit(Duration.ofSeconds(90)), producer.output());
        final Map<String, String> summary = JvmProcess.pairs(
            producer.awaitLineStartingWith("produce: records=", ClusterMainProcess.EVENT_TIMEOUT), null);
        assertEquals(RECORDS, JvmProcess.longValue(summary, "producer_created"), summary.toString());

        assertEquals(new Read(0, Long.toString(RECORDS)), read("count", "User", "--cluster", endpoints));
        final Read first = read("get", "User", "1", "--cluster", endpoints);
        assertEquals(0, first.status(), first.toString());
        assertTrue(first.out().startsWith("User#1 age="), first.toString());
        assertEquals(new Read(1, "not found: never existed"),
            read("get", "User", Integer.toString(RECORDS + 1), "--cluster", endpoints));

        // Read-your-writes: what the cluster acked is what the next read through the leader sees.
        final DatabaseSchema schema = SchemaCompiler.compile(Path.of(scope.schema));
        final TypeDefinition user = schema.type("User");
        clientDriver = MediaDriver.launchEmbedded(new MediaDriver.Context()
            .threadingMode(ThreadingMode.SHARED).sharedIdleStrategy(new BackoffIdleStrategy())
            .dirDeleteOnStart(true).dirDeleteOnShutdown(true));
        try (SpateClient client = SpateClient.connect(new SpateClient.Context()
            .aeronDirectoryName(clientDriver.aeronDirectoryName()).clusterIngressEndpoints(endpoints).schema(schema)
            .timeoutMs(20_000)))
        {
            client.create(user);
            client.set("name", "read-your-writes").set("karma", 42L);
            final BatchResult created = client.flushAndAwait();
            assertEquals(RecordStatus.OK, created.status(0));
            final long id = created.createdId(0);
            final Read written = read("get", "User", Long.toString(id), "--cluster", endpoints);
            assertEquals(0, written.status(), written.toString());
            assertTrue(written.out().startsWith("User#" + id + " ") && written.out().contains(" karma=42 ") &&
                written.out().contains(" name=\"read-your-writes\""), written.toString());
            assertEquals(new Read(0, Long.toString(RECORDS + 1)), read("count", "User", "--cluster", endpoints));

            client.delete(user, id);
            assertEquals(RecordStatus.OK, client.flushAndAwait().status(0));
            assertEquals(new Read(1, "not found: deleted"),
                read("get", "User", Long.toString(id), "--cluster", endpoints));
            assertEquals(new Read(0, Long.toString(RECORDS)), read("count", "User", "--cluster", endpoints));
        }
    }

    /** What a read printed on stdout (one line, trimmed) and its exit status; stderr must stay empty. */
    private record Read(int status, String out)
    {
    }

    private Read read(final String... args)
    {
        final String[] all = new String[args.length + 2];
        System.arraycopy(args, 0, all, 0, args.length);
        all[args.length] = "--schema";
        all[args.length + 1] = scope.schema;
        final ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
        final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
        final int status = ReadMain.run(all, new PrintStream(outBytes, true, StandardCharsets.UTF_8),
            new PrintStream(errBytes, true, StandardCharsets.UTF_8));
        assertEquals("", errBytes.toString(StandardCharsets.UTF_8), String.join(" ", all));
        return new Read(status, outBytes.toString(StandardCharsets.UTF_8).trim());
    }
}
