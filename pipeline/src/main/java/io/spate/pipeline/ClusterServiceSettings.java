package io.spate.pipeline;

/**
 * Limits of the clustered service. Every node of a cluster must run the same ones: they decide which
 * batches are refused, and so the replicated state.
 *
 * @param maxBatchBytes      most bytes of valid records in one producer batch (the service's batch buffer).
 * @param maxRecordsPerBatch most records in one producer batch; more is refused VALUE_TOO_LARGE.
 * @param ackLedgerBatches   acks kept per session for batches sent again after a leader change; a client
 *                           must keep no more batches unacked than this.
 */
public record ClusterServiceSettings(int maxBatchBytes, int maxRecordsPerBatch, int ackLedgerBatches)
{
    public static final String MAX_BATCH_BYTES_PROP = "spate.cluster.max.batch.bytes";
    public static final String MAX_RECORDS_PER_BATCH_PROP = "spate.cluster.max.records.per.batch";
    public static final String ACK_LEDGER_BATCHES_PROP = "spate.cluster.ack.ledger.batches";
    /** 2 MiB: the most one message of the default 16 MiB log term carries (term length / 8). */
    public static final int DEFAULT_MAX_BATCH_BYTES = 2 << 20;
    public static final int DEFAULT_MAX_RECORDS_PER_BATCH = 8192;
    public static final int DEFAULT_ACK_LEDGER_BATCHES = 1024;
    public static final int MAX_RECORDS_PER_BATCH_LIMIT = 1 << 20;
    public static final int MAX_ACK_LEDGER_BATCHES = 1 << 16;

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
        try
        {
            AckLedger.ringBytes(ackLedgerBatches, AckWriter.maxAckBytes(maxRecordsPerBatch));
        }
        catch (final IllegalArgumentException ex)
        {
            throw new IllegalArgumentException("ack ledger batches " + ackLedgerBatches + " with max records per batch " +
                maxRecordsPerBatch + " do not fit: " + ex.getMessage());
        }
    }

    /**
     * @return the settings from system properties, else the defaults.
     * @throws IllegalArgumentException naming the property when one is not a whole number.
     */
    public static ClusterServiceSettings fromSystemProperties()
    {
        return new ClusterServiceSettings(
            PipelineConfiguration.intProperty(MAX_BATCH_BYTES_PROP, DEFAULT_MAX_BATCH_BYTES),
            PipelineConfiguration.intProperty(MAX_RECORDS_PER_BATCH_PROP, DEFAULT_MAX_RECORDS_PER_BATCH),
            PipelineConfiguration.intProperty(ACK_LEDGER_BATCHES_PROP, DEFAULT_ACK_LEDGER_BATCHES));
    }
}
