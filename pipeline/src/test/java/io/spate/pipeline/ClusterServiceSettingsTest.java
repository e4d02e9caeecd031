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
        ClusterServiceSettings.MAX_RECORDS_PER_BATCH_PROP, ClusterServiceSettings.ACK_LEDGER_BATCHES_PROP);

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
        new AckLedger(settings.ackLedgerBatches(), AckWriter.maxAckBytes(settings.maxRecordsPerBatch()));
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
     * Each limit within its bounds, but together more acks per session than a ledger ring holds: refused here, with
     * both named, instead of failing the service's constructor when the node starts.
     */
    @ParameterizedTest(name = "{0} records, {1} acks")
    @CsvSource({ "1048576, 1024", "8192, 65536", "1048576, 65536" })
    void aCombinationTheLedgerCannotHoldIsRefused(final int maxRecords, final int ledgerBatches)
    {
        assertThrows(IllegalArgumentException.class,
            () -> new AckLedger(ledgerBatches, AckWriter.maxAckBytes(maxRecords)), "the ledger refuses it");
        final IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
            () -> settings(ClusterServiceSettings.DEFAULT_MAX_BATCH_BYTES, maxRecords, ledgerBatches));
        assertTrue(refused.getMessage().startsWith("ack ledger batches " + ledgerBatches + " with max records per batch " +
            maxRecords + " do not fit: "), refused.getMessage());
        assertTrue(refused.getMessage().endsWith(": keep fewer"), refused.getMessage());
    }

    @Test
    void theLargestLedgerForTheDefaultBatchIsAcceptedAndOneMoreIsNot()
    {
        final int maxAckBytes = AckWriter.maxAckBytes(ClusterServiceSettings.DEFAULT_MAX_RECORDS_PER_BATCH);
        int largest = 1;
        while (largest < ClusterServiceSettings.MAX_ACK_LEDGER_BATCHES && fits(largest + 1, maxAckBytes))
        {
            largest++;
        }
        assertTrue(largest >= ClusterServiceSettings.DEFAULT_ACK_LEDGER_BATCHES && largest < 65_536, "" + largest);
        settings(ClusterServiceSettings.DEFAULT_MAX_BATCH_BYTES, ClusterServiceSettings.DEFAULT_MAX_RECORDS_PER_BATCH,
            largest);
        final int tooMany = largest + 1;
        assertThrows(IllegalArgumentException.class, () -> settings(ClusterServiceSettings.DEFAULT_MAX_BATCH_BYTES,
            ClusterServiceSettings.DEFAULT_MAX_RECORDS_PER_BATCH, tooMany));
    }

    private static boolean fits(final int ledgerBatches, final int maxAckBytes)
    {
        try
        {
            new AckLedger(ledgerBatches, maxAckBytes);
            return true;
        }
        catch (final IllegalArgumentException ex)
        {
            return false;
        }
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
    }

    @ParameterizedTest(name = "{0}={1}")
    @CsvSource({
        "spate.cluster.max.batch.bytes, 2m",
        "spate.cluster.max.batch.bytes, 99999999999",
        "spate.cluster.max.records.per.batch, lots",
        "spate.cluster.max.records.per.batch, 1.5",
        "spate.cluster.ack.ledger.batches, 1_024",
        "spate.cluster.ack.ledger.batches, 0x10",
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
    })
    void aPropertyOutOfBoundsIsRefused(final String name, final String value, final String message)
    {
        System.setProperty(name, value);
        assertEquals(message, assertThrows(IllegalArgumentException.class,
            ClusterServiceSettings::fromSystemProperties).getMessage());
    }
}
