package io.spate.cli;

import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.spate.client.SpateClient;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.SchemaCompiler;
import io.spate.wire.AckDecoder;
import io.spate.wire.RecordStatus;
import org.agrona.concurrent.BackoffIdleStrategy;

import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The cluster tests' producer, a separate process with its own media driver: creates at full speed
 * through {@link SpateClient}'s cluster mode, records as {@link DurabilityProducer} writes them (so the
 * store can be checked against what was acknowledged), and a journal of every ack: {@code 'A'
 * correlationId status firstRecord createdCount (recordIndex nodeId)*}.
 * <p>
 * Prints {@code producer: acked=N leader_changes=L resent=R duplicates=D} about every 100 ms. Stops
 * when the stop file appears (waits for every ack, exits 0 with {@code producer: done ...}), or when
 * the cluster is gone for longer than the timeout (exits 3 with {@code producer: stopped ...}); the
 * journal is complete either way.
 * <p>
 * Usage: {@code ClusterProducer ENDPOINTS SCHEMA PRODUCER JOURNAL STOP_FILE BATCH_SIZE TIMEOUT_MS}.
 */
public final class ClusterProducer
{
    private ClusterProducer()
    {
    }

    /**
     * @return the embedded driver's directory of the producer process with that pid.
     */
    static String driverDir(final long pid)
    {
        return "/dev/shm/spate-test-producer-" + pid;
    }

    public static void main(final String[] args) throws Exception
    {
        final String endpoints = args[0];
        final DatabaseSchema schema = SchemaCompiler.compile(Path.of(args[1]));
        final long producer = Long.parseLong(args[2]);
        final Path journalFile = Path.of(args[3]);
        final Path stopFile = Path.of(args[4]);
        final int batchSize = Integer.parseInt(args[5]);
        final long timeoutMs = Long.parseLong(args[6]);
        final DurabilityProducer.Fields f = DurabilityProducer.Fields.of(schema);
        final String driverDir = driverDir(ProcessHandle.current().pid());

        final long[] firstRecordByCorrelation = new long[1 << 20];
        final long[] ackedRecords = new long[1];
        try (MediaDriver driver = MediaDriver.launchEmbedded(new MediaDriver.Context()
            .aeronDirectoryName(driverDir)
            .threadingMode(ThreadingMode.SHARED)
            .sharedIdleStrategy(new BackoffIdleStrategy())
            .dirDeleteOnStart(true)
            .dirDeleteOnShutdown(true));
            DataOutputStream journal = new DataOutputStream(new BufferedOutputStream(
                new FileOutputStream(journalFile.toFile(), true), 1 << 16)))
        {
            final SpateClient.AckListener listener = (AckDecoder ack) ->
            {
                try
                {
                    journal.writeByte('A');
                    journal.writeLong(ack.correlationId());
                    journal.writeByte(ack.statusRaw());
                    journal.writeLong(firstRecordByCorrelation[(int)(ack.correlationId() & (firstRecordByCorrelation.length - 1))]);
                    final AckDecoder.CreatedIdsDecoder created = ack.createdIds();
                    journal.writeInt(created.count());
                    for (final AckDecoder.CreatedIdsDecoder entry : created)
                    {
                        journal.writeInt((int)entry.recordIndex());
                        journal.writeLong(entry.nodeId());
                    }
                    if (ack.status() != RecordStatus.OK)
                    {
                        throw new IllegalStateException("batch " + ack.correlationId() + " refused: " + ack.status());
                    }
                    ackedRecords[0] += ack.recordCount();
                }
                catch (final IOException ex)
                {
                    throw new java.io.UncheckedIOException(ex);
                }
            };
            final SpateClient client = SpateClient.connect(new SpateClient.Context()
                .aeronDirectoryName(driver.aeronDirectoryName())
                .clusterIngressEndpoints(endpoints)
                .schema(schema)
                .clientId(producer)
                .timeoutMs(timeoutMs));
            client.ackListener(listener);
            System.out.println("producer: connected session " + client.sessionId());
            long record = 0;
            long lastReportMs = 0;
            try
            {
                while (!Files.exists(stopFile))
                {
                    final long first = record;
                    for (int i = 0; i < batchSize; i++, record++)
                    {
                        if (DurabilityProducer.isFollow(record))
                        {
                            client.create(f.follow());
                            client.setLong(f.followerId(), producer).setLong(f.followeeId(), record)
                                .setLong(f.weight(), DurabilityProducer.weight(record))
                                .setBoolean(f.muted(), DurabilityProducer.muted(record));
                        }
                        else
                        {
                            client.create(f.user());
                            client.setLong(f.age(), producer).setLong(f.karma(), record)
                                .setString(f.name(), DurabilityProducer.userName(producer, record));
                        }
                    }
                    final long correlationId = client.flush();
                    firstRecordByCorrelation[(int)(correlationId & (firstRecordByCorrelation.length - 1))] = first;
                    client.poll();
                    final long nowMs = System.currentTimeMillis();
                    if (nowMs - lastReportMs >= 100)
                    {
                        lastReportMs = nowMs;
                        report(client, ackedRecords[0], "producer:");
                    }
                }
                if (!client.awaitAcks(timeoutMs))
                {
                    throw new IllegalStateException(client.inFlightBatches() + " batches without an ack");
                }
                journal.flush();
                report(client, ackedRecords[0], "producer: done");
                client.close();
            }
            catch (final RuntimeException ex)
            {
                journal.flush();
                report(client, ackedRecords[0], "producer: stopped (" +
                    String.valueOf(ex.getMessage()).replace('\n', ' ') + ")");
                System.out.flush();
                Runtime.getRuntime().halt(3); // the client cannot close cleanly without a cluster
            }
        }
        System.out.flush();
        System.exit(0);
    }

    private static void report(final SpateClient client, final long acked, final String prefix)
    {
        System.out.println(prefix + " acked=" + acked + " leader_changes=" + client.leaderChanges() +
            " resent=" + client.resentBatches() + " duplicates=" + client.duplicateAcks() +
            " in_flight=" + client.inFlightBatches());
        System.out.flush();
    }
}
