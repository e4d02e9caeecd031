package io.spate.pipeline;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The clustered service's limits: each bound at its edges, with a message naming the limit and the value;
 * a combination the ack ledger cannot hold refused here rather than when the service starts; and the system
 * properties, a malformed one named (never silently the default, which would make one node refuse other
 * batches than the rest).
 */
class ClusterServiceSettingsTest
{
    private static final List<String> PROPERTIES = List.of(ClusterServiceSettings.MAX_BATCH_BYTES_PROP,
        ClusterServiceSettings.MAX_RECORDS_PER_BATCH_PROP, ClusterServiceSettings.ACK_LEDGER_BATCHES_PROP,
        ClusterServiceSettings.ACK_LEDGER_SESSION_BYTES_PROP, ClusterServiceSettings.ACK_LEDGER_TOTAL_BYTES_PROP,
        ClusterServiceSettings.EGRESS_BACKLOG_BYTES_PROP);

    @AfterEach
    void clearProperties()
    {
        PROPERTIES.forEach(System::clearProperty);
    }

    private static ClusterServiceSettings settings(final int maxBatchBytes, final int maxRecords, final int ledgerBatches)
    {
        return new ClusterServiceSettings(maxBatchBytes, maxRecords, ledgerBatches);
    }

    @Test
    void theDefaultsAreValidAndComeWithoutProperties()
    {
        final ClusterServiceSettings defaults = ClusterServiceSettings.fromSystemProperties();
        assertEquals(new ClusterServiceSettings(ClusterServiceSettings.DEFAULT_MAX_BATCH_BYTES,
            ClusterServiceSettings.DEFAULT_MAX_RECORDS_PER_BATCH, ClusterServiceSettings.DEFAULT_ACK_LEDGER_BATCHES),
            defaults);
        assertEquals(2 << 20, defaults.maxBatchBytes());
        assertEquals(8192, defaults.maxRecordsPerBatch());
        assertEquals(1024, defaults.ackLedgerBatches());
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @CsvSource({
        "4096, 1, 1",
        "1073741824, 8192, 1024",
        "2097152, 1048576, 1",
        "2097152, 1, 65536",
        "2097152, 8192, 1",
    })
    void valuesAtTheEdgesAreAccepted(final int maxBatchBytes, final int maxRecords, final int ledgerBatches)
    {
        final ClusterServiceSettings settings = settings(maxBatchBytes, maxRecords, ledgerBatches);
        assertEquals(maxBatchBytes, settings.maxBatchBytes());
        assertEquals(maxRecords, settings.maxRecordsPerBatch());
        assertEquals(ledgerBatches, settings.ackLedgerBatches());
        // What the service builds from them.
        new AckLedger(settings.ackLedgerBatches(), settings.ackLedgerSessionBytes(), settings.ackLedgerTotalBytes(),
            AckWriter.maxAckBytes(settings.maxRecordsPerBatch()));
        new PendingAnswers(settings.egressBacklogBytes());
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @CsvSource({
        "4095, 8192, 1024, max batch bytes must be 4096..2^30: 4095",
        "0, 8192, 1024, max batch bytes must be 4096..2^30: 0",
        "-1, 8192, 1024, max batch bytes must be 4096..2^30: -1",
        "1073741825, 8192, 1024, max batch bytes must be 4096..2^30: 1073741825",
        "2147483647, 8192, 1024, max batch bytes must be 4096..2^30: 2147483647",
        "2097152, 0, 1024, max records per batch must be 1..1048576: 0",
        "2097152, -8192, 1024, max records per batch must be 1..1048576: -8192",
        "2097152, 1048577, 1024, max records per batch must be 1..1048576: 1048577",
        "2097152, 8192, 0, ack ledger batches must be 1..65536: 0",
        "2097152, 8192, -1, ack ledger batches must be 1..65536: -1",
        "2097152, 8192, 65537, ack ledger batches must be 1..65536: 65537",
    })
    void valuesOutOfBoundsAreRefusedNamingTheLimit(
        final int maxBatchBytes, final int maxRecords, final int ledgerBatches, final String message)
    {
        assertEquals(message, assertThrows(IllegalArgumentException.class,
            () -> settings(maxBatchBytes, maxRecords, ledgerBatches)).getMessage());
    }

    /**
     * The byte bounds: a session's ledger bytes hold at least one ack of a full batch, the total at least a session's,
     * the egress backlog at least one ack of a full batch; each named with its limit when it does not. Acks per
     * session times the longest ack no longer matter: the bytes bound what is kept.
     */
    @Test
    void theByteBoundsAreCheckedAgainstTheLongestAck()
    {
        final int fullAck = AckLedger.entryBytes(AckWriter.maxAckBytes(8192));
        new ClusterServiceSettings(2 << 20, 8192, 1024, fullAck, fullAck, PendingAnswers.entryBytes(
            AckWriter.maxAckBytes(8192)));
        assertEquals("ack ledger session bytes must be " + fullAck + " (an ack of 8192 records) ..536870912: " +
            (fullAck - 1), assertThrows(IllegalArgumentException.class, () -> new ClusterServiceSettings(2 << 20, 8192,
            1024, fullAck - 1, 1L << 30, 1 << 20)).getMessage());
        assertEquals("ack ledger total bytes must be " + fullAck + " (the session bytes) ..2^40: " + (fullAck - 1),
            assertThrows(IllegalArgumentException.class, () -> new ClusterServiceSettings(2 << 20, 8192, 1024, fullAck,
            fullAck - 1, 1 << 20)).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new ClusterServiceSettings(2 << 20, 8192, 1024,
            fullAck, fullAck, 1000)).getMessage().startsWith("egress backlog bytes must be "));
        assertThrows(IllegalArgumentException.class, () -> new ClusterServiceSettings(2 << 20, 8192, 1024,
            (1 << 29) + 1, 1L << 40, 1 << 20));
        assertThrows(IllegalArgumentException.class, () -> new ClusterServiceSettings(2 << 20, 8192, 1024,
            fullAck, (1L << 40) + 1, 1 << 20));

        // The most records and acks per session together: fine, the bytes bound the ledger.
        final ClusterServiceSettings most = settings(2 << 20, ClusterServiceSettings.MAX_RECORDS_PER_BATCH_LIMIT,
            ClusterServiceSettings.MAX_ACK_LEDGER_BATCHES);
        assertTrue(most.ackLedgerSessionBytes() >= AckLedger.entryBytes(AckWriter.maxAckBytes(1 << 20)));
        new AckLedger(most.ackLedgerBatches(), most.ackLedgerSessionBytes(), most.ackLedgerTotalBytes(),
            AckWriter.maxAckBytes(most.maxRecordsPerBatch()));
    }

    @Test
    void theDefaultsBoundTheLedgerAndTheBacklogInBytes()
    {
        final ClusterServiceSettings defaults = ClusterServiceSettings.fromSystemProperties();
        assertEquals(8 << 20, defaults.ackLedgerSessionBytes());
        assertEquals(32L << 20, defaults.ackLedgerTotalBytes());
        assertEquals(1 << 20, defaults.egressBacklogBytes());
    }

    /** The settings as the log and snapshots carry them: equal ones agree; each that differs is named, once. */
    @Test
    void theReplicatedSettingsRoundTripAndNameWhatDiffers()
    {
        final org.agrona.concurrent.UnsafeBuffer buffer = new org.agrona.concurrent.UnsafeBuffer(new byte[64]);
        final ClusterServiceSettings mine = settings(2 << 20, 8192, 1024);
        assertEquals(ClusterServiceSettings.REPLICATED_LENGTH_BYTES, mine.encodeReplicated(buffer, 8, 0x1234));
        assertEquals(null, mine.differenceFromReplicated(buffer, 8, 40, 0x1234));
        assertEquals("schema hash 1234 (this member 99)", mine.differenceFromReplicated(buffer, 8, 40, 0x99));
        final ClusterServiceSettings other = new ClusterServiceSettings(1 << 20, 100, 7, 1 << 22, 1L << 26, 1 << 20);
        assertEquals("max batch bytes 2097152 (this member 1048576), max records per batch 8192 (this member 100), " +
            "ack ledger batches 1024 (this member 7), ack ledger session bytes 8388608 (this member 4194304), " +
            "ack ledger total bytes 33554432 (this member 67108864)", other.differenceFromReplicated(buffer, 8, 40, 0x1234));
        final ClusterServiceSettings otherBacklog = new ClusterServiceSettings(2 << 20, 8192, 1024, 8 << 20, 32L << 20,
            4 << 20);
        assertEquals(null, otherBacklog.differenceFromReplicated(buffer, 8, 40, 0x1234),
            "the egress backlog is the leader's own: not compared");
        assertTrue(mine.differenceFromReplicated(buffer, 8, 39, 0x1234).startsWith("settings of 39 bytes"));
        buffer.putInt(12, 2, java.nio.ByteOrder.LITTLE_ENDIAN);
        assertEquals("settings of 40 bytes this member cannot read (magic 53505345, version 2)",
            mine.differenceFromReplicated(buffer, 8, 40, 0x1234));
    }

    @Test
    void propertiesAreRead()
    {
        System.setProperty(ClusterServiceSettings.MAX_BATCH_BYTES_PROP, "65536");
        System.setProperty(ClusterServiceSettings.MAX_RECORDS_PER_BATCH_PROP, "100");
        System.setProperty(ClusterServiceSettings.ACK_LEDGER_BATCHES_PROP, " 16 ");
        assertEquals(settings(65_536, 100, 16), ClusterServiceSettings.fromSystemProperties());
        System.setProperty(ClusterServiceSettings.ACK_LEDGER_BATCHES_PROP, "");
        assertEquals(settings(65_536, 100, ClusterServiceSettings.DEFAULT_ACK_LEDGER_BATCHES),
            ClusterServiceSettings.fromSystemProperties(), "blank: the default");
        System.setProperty(ClusterServiceSettings.ACK_LEDGER_SESSION_BYTES_PROP, "1048576");
        System.setProperty(ClusterServiceSettings.ACK_LEDGER_TOTAL_BYTES_PROP, "8589934592");
        System.setProperty(ClusterServiceSettings.EGRESS_BACKLOG_BYTES_PROP, "65536");
        assertEquals(new ClusterServiceSettings(65_536, 100, ClusterServiceSettings.DEFAULT_ACK_LEDGER_BATCHES, 1 << 20,
            8L << 30, 65_536), ClusterServiceSettings.fromSystemProperties());
        System.clearProperty(ClusterServiceSettings.ACK_LEDGER_TOTAL_BYTES_PROP);
        assertEquals(ClusterServiceSettings.DEFAULT_ACK_LEDGER_TOTAL_BYTES,
            ClusterServiceSettings.fromSystemProperties().ackLedgerTotalBytes(), "the total's default");
    }

    @ParameterizedTest(name = "{0}={1}")
    @CsvSource({
        "spate.cluster.max.batch.bytes, 2m",
        "spate.cluster.max.batch.bytes, 99999999999",
        "spate.cluster.max.records.per.batch, lots",
        "spate.cluster.max.records.per.batch, 1.5",
        "spate.cluster.ack.ledger.batches, 1_024",
        "spate.cluster.ack.ledger.batches, 0x10",
        "spate.cluster.ack.ledger.session.bytes, 8m",
        "spate.cluster.ack.ledger.total.bytes, lots",
        "spate.cluster.egress.backlog.bytes, 3000000000",
    })
    void aMalformedPropertyIsNamedNeverTheDefault(final String name, final String value)
    {
        System.setProperty(name, value);
        final IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
            ClusterServiceSettings::fromSystemProperties);
        assertTrue(error.getMessage().contains(name) && error.getMessage().contains(value), error.getMessage());
    }

    @ParameterizedTest(name = "{0}={1}")
    @CsvSource({
        "spate.cluster.max.batch.bytes, 1024, max batch bytes must be 4096..2^30: 1024",
        "spate.cluster.max.records.per.batch, 0, max records per batch must be 1..1048576: 0",
        "spate.cluster.ack.ledger.batches, 100000, ack ledger batches must be 1..65536: 100000",
        "spate.cluster.ack.ledger.session.bytes, 1000, ack ledger session bytes must be 98376 (an ack of 8192 records) ..536870912: 1000",
        "spate.cluster.egress.backlog.bytes, 1000, egress backlog bytes must be 98360 (an ack of 8192 records) ..536870912: 1000",
    })
    void aPropertyOutOfBoundsIsRefused(final String name, final String value, final String message)
    {
        System.setProperty(name, value);
        assertEquals(message, assertThrows(IllegalArgumentException.class,
            ClusterServiceSettings::fromSystemProperties).getMessage());
    }
}
