package io.spate.cli;

import io.spate.client.SpateClient;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.FieldDefinition;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.wire.AckDecoder;

import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The crash loop's producer, a separate process: creates at full speed, every record carrying who
 * wrote it, so the store can be checked against what was acknowledged. Records alternate between
 * {@code Follow} (followerId = producer, followeeId = record number, weight and muted derived from
 * it) and {@code User} (age = producer, karma = record number, name "p{producer}-r{record}").
 * <p>
 * Journal (binary, appended and flushed as it goes): {@code 'S' correlationId firstRecord count} when
 * a batch is sent, {@code 'A' correlationId status createdCount (recordIndex nodeId)*} when it is acked.
 * Runs until the pipeline goes away (its session closes or a wait times out), then exits 3 printing
 * {@code producer: stopped ...}; the journal is complete then.
 * <p>
 * Usage: {@code DurabilityProducer DIR SCHEMA PRODUCER JOURNAL BATCH_SIZE WINDOW}.
 */
public final class DurabilityProducer
{
    static final String FOLLOW = "Follow";
    static final String USER = "User";

    /** The fields the records carry, looked up once. */
    record Fields(TypeDefinition follow, TypeDefinition user, FieldDefinition followerId, FieldDefinition followeeId,
        FieldDefinition weight, FieldDefinition muted, FieldDefinition age, FieldDefinition karma, FieldDefinition name)
    {
        static Fields of(final DatabaseSchema schema)
        {
            final TypeDefinition follow = schema.type(FOLLOW);
            final TypeDefinition user = schema.type(USER);
            return new Fields(follow, user, follow.field("followerId"), follow.field("followeeId"), follow.field("weight"),
                follow.field("muted"), user.field("age"), user.field("karma"), user.field("name"));
        }
    }

    private DurabilityProducer()
    {
    }

    static String userName(final long producer, final long record)
    {
        return "p" + producer + "-r" + record;
    }

    static int weight(final long record)
    {
        return (int)(record * 31);
    }

    static boolean muted(final long record)
    {
        return record % 3 == 0;
    }

    static boolean isFollow(final long record)
    {
        return (record & 1) == 0;
    }

    public static void main(final String[] args) throws Exception
    {
        final String dir = args[0];
        final DatabaseSchema schema = SchemaCompiler.compile(Path.of(args[1]));
        final long producer = Long.parseLong(args[2]);
        final Path journalFile = Path.of(args[3]);
        final int batchSize = Integer.parseInt(args[4]);
        final int window = Integer.parseInt(args[5]);
        final Fields f = Fields.of(schema);

        long record = 0;
        long batches = 0;
        long acked = 0;
        final long[] ackedCount = new long[1];
        try (DataOutputStream journal = new DataOutputStream(new BufferedOutputStream(
            new FileOutputStream(journalFile.toFile(), true), 1 << 16)))
        {
            final SpateClient.AckListener listener = (AckDecoder ack) ->
            {
                try
                {
                    journal.writeByte('A');
                    journal.writeLong(ack.correlationId());
                    journal.writeByte(ack.statusRaw());
                    final AckDecoder.CreatedIdsDecoder created = ack.createdIds();
                    journal.writeInt(created.count());
                    for (final AckDecoder.CreatedIdsDecoder entry : created)
                    {
                        journal.writeInt((int)entry.recordIndex());
                        journal.writeLong(entry.nodeId());
                    }
                    ackedCount[0]++;
                }
                catch (final IOException ex)
                {
                    throw new java.io.UncheckedIOException(ex);
                }
            };
            // Never closed: it runs until the pipeline goes away, and a close would wait for acks that cannot come.
            final SpateClient client = SpateClient.connect(new SpateClient.Context().aeronDirectoryName(dir)
                .schema(schema).clientId(producer).reconnect(false).timeoutMs(5_000));
            try
            {
                client.ackListener(listener);
                System.out.println("producer: connected session " + client.sessionId());
                System.out.flush();
                while (true)
                {
                    while (client.inFlightBatches() >= window)
                    {
                        if (0 == client.poll())
                        {
                            Thread.onSpinWait();
                        }
                        if (null != client.sessionClosedReason())
                        {
                            throw new IllegalStateException("session closed: " + client.sessionClosedReason());
                        }
                    }
                    final long first = record;
                    for (int i = 0; i < batchSize; i++, record++)
                    {
                        if (isFollow(record))
                        {
                            client.create(f.follow());
                            client.setLong(f.followerId(), producer).setLong(f.followeeId(), record)
                                .setLong(f.weight(), weight(record)).setBoolean(f.muted(), muted(record));
                        }
                        else
                        {
                            client.create(f.user());
                            client.setLong(f.age(), producer).setLong(f.karma(), record)
                                .setString(f.name(), userName(producer, record));
                        }
                    }
                    final long correlationId = client.flush();
                    journal.writeByte('S');
                    journal.writeLong(correlationId);
                    journal.writeLong(first);
                    journal.writeInt(batchSize);
                    batches++;
                    client.poll();
                }
            }
            catch (final RuntimeException ex)
            {
                acked = ackedCount[0];
                journal.flush();
                System.out.println("producer: stopped after " + batches + " batches, " + acked + " acked: " +
                    String.valueOf(ex.getMessage()).replace('\n', ' '));
                System.out.flush();
                System.exit(3);
            }
        }
    }
}
