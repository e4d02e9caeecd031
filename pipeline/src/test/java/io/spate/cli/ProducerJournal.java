package io.spate.cli;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The journal a {@link ClusterFaultProducer} keeps of every batch it sends and every outcome it gets, and its
 * reading back by {@link ClusterFaultTest}. Binary ({@link DataOutputStream}, big-endian), appended as it goes;
 * each entry starts with its kind and the producer's wall clock in ms (to place it in a fault step):
 * <ul>
 * <li>{@code 'S' timeMs correlationId sessionId firstRecord recordCount}: a batch was sent; its records are
 * the producer's records {@code firstRecord .. firstRecord + recordCount - 1}.</li>
 * <li>{@code 'A' timeMs correlationId status ackRecordCount createdCount (recordIndex nodeId)*}: its ack, as
 * the client delivered it.</li>
 * <li>{@code 'L' timeMs correlationId sessionId}: its session ended before an ack came: applied or not, nobody
 * will say (the client resends only within a session).</li>
 * </ul>
 * Every 'S' must be followed by exactly one 'A' or 'L' of its correlation id; anything else is a broken promise.
 */
final class ProducerJournal
{
    static final byte SENT = 'S';
    static final byte ACKED = 'A';
    static final byte LOST = 'L';

    private ProducerJournal()
    {
    }

    static void writeSent(
        final DataOutputStream out, final long timeMs, final long correlationId, final long sessionId,
        final long firstRecord, final int recordCount) throws IOException
    {
        out.writeByte(SENT);
        out.writeLong(timeMs);
        out.writeLong(correlationId);
        out.writeLong(sessionId);
        out.writeLong(firstRecord);
        out.writeInt(recordCount);
    }

    static void writeLost(final DataOutputStream out, final long timeMs, final long correlationId, final long sessionId)
        throws IOException
    {
        out.writeByte(LOST);
        out.writeLong(timeMs);
        out.writeLong(correlationId);
        out.writeLong(sessionId);
    }

    /** One outcome of a batch: its ack, or the end of its session without one. */
    record Outcome(byte kind, long timeMs, int status, long ackRecordCount, int[] recordIndexes, long[] nodeIds)
    {
        boolean isAck()
        {
            return kind == ACKED;
        }
    }

    /** A batch as the journal tells it: sent (or not: an outcome of a batch never sent), and its outcomes. */
    static final class Batch
    {
        final long producer;
        final long correlationId;
        boolean sent;
        long sentMs;
        long sessionId;
        long firstRecord;
        int recordCount;
        final List<Outcome> outcomes = new ArrayList<>(1);

        Batch(final long producer, final long correlationId)
        {
            this.producer = producer;
            this.correlationId = correlationId;
        }

        @Override
        public String toString()
        {
            return "producer " + producer + " batch " + correlationId + (sent ? " (records " + firstRecord + ".." +
                (firstRecord + recordCount - 1) + ", session " + sessionId + ", sent at " + sentMs + ")" : " (never sent)");
        }
    }

    /** A producer's journal, read back. */
    static final class Contents
    {
        final long producer;
        /** By correlation id, in the order first seen. */
        final Map<Long, Batch> batches = new LinkedHashMap<>();
        /** Set when the file ends inside an entry or holds an unknown kind: the producer died writing it. */
        String damage;

        Contents(final long producer)
        {
            this.producer = producer;
        }
    }

    static Contents read(final long producer, final Path file) throws IOException
    {
        final Contents contents = new Contents(producer);
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16)))
        {
            long entries = 0;
            while (true)
            {
                final int kind;
                try
                {
                    kind = in.readByte();
                }
                catch (final EOFException end)
                {
                    break;
                }
                try
                {
                    final long timeMs = in.readLong();
                    final long correlationId = in.readLong();
                    final Batch batch = contents.batches.computeIfAbsent(correlationId, c -> new Batch(producer, c));
                    switch (kind)
                    {
                        case SENT ->
                        {
                            if (batch.sent)
                            {
                                // Sent twice under one correlation id: the client must never do that.
                                batch.outcomes.add(new Outcome(SENT, timeMs, -1, -1, new int[0], new long[0]));
                            }
                            batch.sent = true;
                            batch.sentMs = timeMs;
                            batch.sessionId = in.readLong();
                            batch.firstRecord = in.readLong();
                            batch.recordCount = in.readInt();
                        }
                        case ACKED ->
                        {
                            final int status = in.readUnsignedByte();
                            final long ackRecordCount = in.readLong();
                            final int created = in.readInt();
                            if (created < 0 || created > 1 << 20)
                            {
                                contents.damage = "entry " + entries + ": " + created + " created ids";
                                return contents;
                            }
                            final int[] indexes = new int[created];
                            final long[] ids = new long[created];
                            for (int i = 0; i < created; i++)
                            {
                                indexes[i] = in.readInt();
                                ids[i] = in.readLong();
                            }
                            batch.outcomes.add(new Outcome(ACKED, timeMs, status, ackRecordCount, indexes, ids));
                        }
                        case LOST ->
                        {
                            in.readLong(); // session id
                            batch.outcomes.add(new Outcome(LOST, timeMs, -1, -1, new int[0], new long[0]));
                        }
                        default ->
                        {
                            contents.damage = "entry " + entries + " of unknown kind " + kind;
                            return contents;
                        }
                    }
                }
                catch (final EOFException torn)
                {
                    contents.damage = "the file ends inside entry " + entries + " (kind " + (char)kind + ")";
                    return contents;
                }
                entries++;
            }
        }
        return contents;
    }
}
