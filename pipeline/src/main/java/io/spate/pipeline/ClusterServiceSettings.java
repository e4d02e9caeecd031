package io.spate.pipeline;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import java.nio.ByteOrder;

/**
 * Limits of the clustered service. All but the egress backlog decide which batches are refused and which acks
 * the ledger keeps, so the replicated state: every member must run the same ones, and the members check it
 * through the log and the snapshot (see {@link #encodeReplicated}).
 *
 * @param maxBatchBytes         most bytes of valid records in one producer batch (the service's batch buffer).
 * @param maxRecordsPerBatch    most records in one producer batch; more is refused VALUE_TOO_LARGE.
 * @param ackLedgerBatches      acks kept per session for batches sent again after a leader change; a client
 *                              keeps no more batches unacked than this (SessionSettings tells it).
 * @param ackLedgerSessionBytes most bytes of acks the ledger keeps per session (ring framing included); its
 *                              oldest go first. At least one ack of a full batch.
 * @param ackLedgerTotalBytes   most bytes of acks the ledger keeps over all sessions; the oldest of all go first.
 * @param egressBacklogBytes    most bytes of answers that wait, per session, for the leader's egress to take
 *                              them; past it the session is closed. The leader's own: not replicated.
 */
public record ClusterServiceSettings(
    int maxBatchBytes,
    int maxRecordsPerBatch,
    int ackLedgerBatches,
    int ackLedgerSessionBytes,
    long ackLedgerTotalBytes,
    int egressBacklogBytes)
{
    public static final String MAX_BATCH_BYTES_PROP = "spate.cluster.max.batch.bytes";
    public static final String MAX_RECORDS_PER_BATCH_PROP = "spate.cluster.max.records.per.batch";
    public static final String ACK_LEDGER_BATCHES_PROP = "spate.cluster.ack.ledger.batches";
    public static final String ACK_LEDGER_SESSION_BYTES_PROP = "spate.cluster.ack.ledger.session.bytes";
    public static final String ACK_LEDGER_TOTAL_BYTES_PROP = "spate.cluster.ack.ledger.total.bytes";
    public static final String EGRESS_BACKLOG_BYTES_PROP = "spate.cluster.egress.backlog.bytes";
    /** 2 MiB: the most one message of the default 16 MiB log term carries (term length / 8). */
    public static final int DEFAULT_MAX_BATCH_BYTES = 2 << 20;
    public static final int DEFAULT_MAX_RECORDS_PER_BATCH = 8192;
    public static final int DEFAULT_ACK_LEDGER_BATCHES = 1024;
    /** 8 MiB: 1,024 acks of batches of up to 680 creates, or 85 acks of full batches (8,192 creates). */
    public static final int DEFAULT_ACK_LEDGER_SESSION_BYTES = 8 << 20;
    /** 32 MiB over all sessions. */
    public static final long DEFAULT_ACK_LEDGER_TOTAL_BYTES = 32L << 20;
    /** 1 MiB of answers waiting per session: ten acks of full batches. */
    public static final int DEFAULT_EGRESS_BACKLOG_BYTES = 1 << 20;
    public static final int MAX_RECORDS_PER_BATCH_LIMIT = 1 << 20;
    public static final int MAX_ACK_LEDGER_BATCHES = 1 << 16;
    /** A session's ring is at most twice its bytes, rounded up to a power of two: at most 2^30. */
    public static final int MAX_SESSION_BYTES = AckLedger.MAX_SESSION_BYTES;
    public static final long MAX_ACK_LEDGER_TOTAL_BYTES = 1L << 40;

    /** Bytes of the settings as the log and the snapshot carry them ({@link #encodeReplicated}). */
    public static final int REPLICATED_LENGTH_BYTES = 40;
    /** "ESPS" little-endian: the first int of the settings message. */
    static final int REPLICATED_MAGIC = 0x5350_5345;
    static final int REPLICATED_VERSION = 1;

    public ClusterServiceSettings
    {
        if (maxBatchBytes < 4096 || maxBatchBytes > (1 << 30))
        {
            throw new IllegalArgumentException("max batch bytes must be 4096..2^30: " + maxBatchBytes);
        }
        if (maxRecordsPerBatch < 1 || maxRecordsPerBatch > MAX_RECORDS_PER_BATCH_LIMIT)
        {
            throw new IllegalArgumentException("max records per batch must be 1.." + MAX_RECORDS_PER_BATCH_LIMIT + ": " +
                maxRecordsPerBatch);
        }
        if (ackLedgerBatches < 1 || ackLedgerBatches > MAX_ACK_LEDGER_BATCHES)
        {
            throw new IllegalArgumentException("ack ledger batches must be 1.." + MAX_ACK_LEDGER_BATCHES + ": " +
                ackLedgerBatches);
        }
        final int leastSessionBytes = leastSessionBytes(maxRecordsPerBatch);
        if (ackLedgerSessionBytes < leastSessionBytes || ackLedgerSessionBytes > MAX_SESSION_BYTES)
        {
            throw new IllegalArgumentException("ack ledger session bytes must be " + leastSessionBytes + " (an ack of " +
                maxRecordsPerBatch + " records) .." + MAX_SESSION_BYTES + ": " + ackLedgerSessionBytes);
        }
        if (ackLedgerTotalBytes < ackLedgerSessionBytes || ackLedgerTotalBytes > MAX_ACK_LEDGER_TOTAL_BYTES)
        {
            throw new IllegalArgumentException("ack ledger total bytes must be " + ackLedgerSessionBytes +
                " (the session bytes) ..2^40: " + ackLedgerTotalBytes);
        }
        final int leastBacklogBytes = PendingAnswers.entryBytes(AckWriter.maxAckBytes(maxRecordsPerBatch));
        if (egressBacklogBytes < leastBacklogBytes || egressBacklogBytes > MAX_SESSION_BYTES)
        {
            throw new IllegalArgumentException("egress backlog bytes must be " + leastBacklogBytes + " (an ack of " +
                maxRecordsPerBatch + " records) .." + MAX_SESSION_BYTES + ": " + egressBacklogBytes);
        }
    }

    /**
     * The three limits given, the byte bounds at their defaults (raised to hold one ack of a full batch when the
     * batches allow more records than the defaults hold).
     */
    public ClusterServiceSettings(final int maxBatchBytes, final int maxRecordsPerBatch, final int ackLedgerBatches)
    {
        this(maxBatchBytes, maxRecordsPerBatch, ackLedgerBatches, defaultSessionBytes(maxRecordsPerBatch),
            Math.max(DEFAULT_ACK_LEDGER_TOTAL_BYTES, defaultSessionBytes(maxRecordsPerBatch)),
            defaultEgressBacklogBytes(maxRecordsPerBatch));
    }

    /**
     * @return the fewest ledger bytes a session may have: one ack of a full batch.
     */
    static int leastSessionBytes(final int maxRecordsPerBatch)
    {
        return AckLedger.entryBytes(AckWriter.maxAckBytes(Math.max(0, Math.min(maxRecordsPerBatch,
            MAX_RECORDS_PER_BATCH_LIMIT))));
    }

    private static int defaultSessionBytes(final int maxRecordsPerBatch)
    {
        return Math.max(DEFAULT_ACK_LEDGER_SESSION_BYTES, 2 * leastSessionBytes(maxRecordsPerBatch));
    }

    private static int defaultEgressBacklogBytes(final int maxRecordsPerBatch)
    {
        return Math.max(DEFAULT_EGRESS_BACKLOG_BYTES,
            2 * PendingAnswers.entryBytes(AckWriter.maxAckBytes(Math.max(0, Math.min(maxRecordsPerBatch,
            MAX_RECORDS_PER_BATCH_LIMIT)))));
    }

    /**
     * @return the settings from system properties, else the defaults.
     * @throws IllegalArgumentException naming the property when one is not a whole number.
     */
    public static ClusterServiceSettings fromSystemProperties()
    {
        final int maxRecords = PipelineConfiguration.intProperty(MAX_RECORDS_PER_BATCH_PROP, DEFAULT_MAX_RECORDS_PER_BATCH);
        final int sessionBytes = PipelineConfiguration.intProperty(ACK_LEDGER_SESSION_BYTES_PROP,
            defaultSessionBytes(maxRecords));
        return new ClusterServiceSettings(
            PipelineConfiguration.intProperty(MAX_BATCH_BYTES_PROP, DEFAULT_MAX_BATCH_BYTES),
            maxRecords,
            PipelineConfiguration.intProperty(ACK_LEDGER_BATCHES_PROP, DEFAULT_ACK_LEDGER_BATCHES),
            sessionBytes,
            PipelineConfiguration.longProperty(ACK_LEDGER_TOTAL_BYTES_PROP,
            Math.max(DEFAULT_ACK_LEDGER_TOTAL_BYTES, sessionBytes)),
            PipelineConfiguration.intProperty(EGRESS_BACKLOG_BYTES_PROP, defaultEgressBacklogBytes(maxRecords)));
    }

    /**
     * Writes what decides the replicated state, for the log (the leader's settings message at each new term) and
     * the snapshot. Little-endian:
     * <pre>
     *   magic (4) "ESPS", version (4) 1, schema hash (8), max batch bytes (4), max records per batch (4),
     *   ack ledger batches (4), ack ledger session bytes (4), ack ledger total bytes (8)
     * </pre>
     *
     * @return {@link #REPLICATED_LENGTH_BYTES}.
     */
    public int encodeReplicated(final MutableDirectBuffer buffer, final int offset, final long schemaHash)
    {
        buffer.putInt(offset, REPLICATED_MAGIC, ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(offset + 4, REPLICATED_VERSION, ByteOrder.LITTLE_ENDIAN);
        buffer.putLong(offset + 8, schemaHash, ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(offset + 16, maxBatchBytes, ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(offset + 20, maxRecordsPerBatch, ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(offset + 24, ackLedgerBatches, ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(offset + 28, ackLedgerSessionBytes, ByteOrder.LITTLE_ENDIAN);
        buffer.putLong(offset + 32, ackLedgerTotalBytes, ByteOrder.LITTLE_ENDIAN);
        return REPLICATED_LENGTH_BYTES;
    }

    /**
     * Compares settings written by {@link #encodeReplicated} (another member's, or this member's own earlier) with
     * these and the schema this member runs.
     *
     * @return null when they agree, else one line naming each that differs, the written value first.
     */
    public String differenceFromReplicated(
        final DirectBuffer buffer, final int offset, final int length, final long schemaHash)
    {
        if (length != REPLICATED_LENGTH_BYTES || buffer.getInt(offset, ByteOrder.LITTLE_ENDIAN) != REPLICATED_MAGIC ||
            buffer.getInt(offset + 4, ByteOrder.LITTLE_ENDIAN) != REPLICATED_VERSION)
        {
            return "settings of " + length + " bytes this member cannot read (" +
                (length >= 8 ? "magic " + Integer.toHexString(buffer.getInt(offset, ByteOrder.LITTLE_ENDIAN)) +
                ", version " + buffer.getInt(offset + 4, ByteOrder.LITTLE_ENDIAN) : "too short") + ")";
        }
        final StringBuilder difference = new StringBuilder();
        final long writtenHash = buffer.getLong(offset + 8, ByteOrder.LITTLE_ENDIAN);
        if (writtenHash != schemaHash)
        {
            difference.append("schema hash ").append(Long.toHexString(writtenHash)).append(" (this member ")
                .append(Long.toHexString(schemaHash)).append(')');
        }
        differ(difference, "max batch bytes", buffer.getInt(offset + 16, ByteOrder.LITTLE_ENDIAN), maxBatchBytes);
        differ(difference, "max records per batch", buffer.getInt(offset + 20, ByteOrder.LITTLE_ENDIAN),
            maxRecordsPerBatch);
        differ(difference, "ack ledger batches", buffer.getInt(offset + 24, ByteOrder.LITTLE_ENDIAN), ackLedgerBatches);
        differ(difference, "ack ledger session bytes", buffer.getInt(offset + 28, ByteOrder.LITTLE_ENDIAN),
            ackLedgerSessionBytes);
        differ(difference, "ack ledger total bytes", buffer.getLong(offset + 32, ByteOrder.LITTLE_ENDIAN),
            ackLedgerTotalBytes);
        return difference.isEmpty() ? null : difference.toString();
    }

    private static void differ(final StringBuilder difference, final String name, final long written, final long own)
    {
        if (written != own)
        {
            if (!difference.isEmpty())
            {
                difference.append(", ");
            }
            difference.append(name).append(' ').append(written).append(" (this member ").append(own).append(')');
        }
    }
}
