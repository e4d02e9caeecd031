package io.spate.driver;

import io.aeron.archive.client.AeronArchive;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersManager;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ArchiveSettingsTest
{
    @AfterEach
    void clearProperty()
    {
        System.clearProperty(ArchiveSettings.MESSAGE_TIMEOUT_PROP);
    }

    @Test
    void clientContextTalksToTheLocalControlChannel()
    {
        final AeronArchive.Context context = ArchiveSettings.clientContext(null);

        assertEquals("aeron:ipc", context.controlRequestChannel());
        assertEquals(10, context.controlRequestStreamId());
        assertEquals("aeron:ipc", context.controlResponseChannel());
        assertEquals(20, context.controlResponseStreamId());
        assertEquals(TimeUnit.SECONDS.toNanos(10), context.messageTimeoutNs());
    }

    @Test
    void messageTimeoutComesFromItsProperty()
    {
        System.setProperty(ArchiveSettings.MESSAGE_TIMEOUT_PROP, "2500");
        assertEquals(TimeUnit.MILLISECONDS.toNanos(2500), ArchiveSettings.clientContext(null).messageTimeoutNs());
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "-1", "10s", "86400001"})
    void aBadMessageTimeoutIsNamed(final String value)
    {
        System.setProperty(ArchiveSettings.MESSAGE_TIMEOUT_PROP, value);
        final IllegalArgumentException ex =
            assertThrows(IllegalArgumentException.class, () -> ArchiveSettings.clientContext(null));
        assertEquals("system property spate.archive.message.timeout.ms: '" + value + "' is not a timeout; give " +
            "whole milliseconds from 1 to 86400000", ex.getMessage());
    }

    @Test
    void findsTheSyncLevelInTheCounterKey()
    {
        final CountersManager counters = new CountersManager(
            new UnsafeBuffer(ByteBuffer.allocateDirect(64 * 1024)), new UnsafeBuffer(ByteBuffer.allocateDirect(16 * 1024)));
        counters.allocate("something else", 1001);
        assertNull(ArchiveSettings.findSyncLevel(counters));

        // The value stays 0 (none): the key decides, as it is written before the counter is visible.
        final int counterId = counters.allocate(ArchiveSettings.SYNC_LEVEL_COUNTER_TYPE_ID,
            new UnsafeBuffer(new byte[]{1, 0, 0, 0}), 0, 4,
            new UnsafeBuffer("spate-archive: sync=data dir=/x".getBytes()), 0, 31);
        assertSame(SyncLevel.DATA, ArchiveSettings.findSyncLevel(counters));

        counters.free(counterId);
        assertNull(ArchiveSettings.findSyncLevel(counters));

        counters.allocate(ArchiveSettings.SYNC_LEVEL_COUNTER_TYPE_ID, new UnsafeBuffer(new byte[]{7, 0, 0, 0}), 0, 4,
            new UnsafeBuffer("foreign".getBytes()), 0, 7);
        final IllegalStateException ex =
            assertThrows(IllegalStateException.class, () -> ArchiveSettings.findSyncLevel(counters));
        assertTrue(ex.getMessage().endsWith("of type 1040 ('foreign') holds no known sync level: 7"), ex.getMessage());
    }

    @Test
    void syncLevelsParseAndMapToArchiveLevels()
    {
        assertSame(SyncLevel.NONE, SyncLevel.parse("x", " None "));
        assertSame(SyncLevel.DATA, SyncLevel.parse("x", "DATA"));
        assertEquals(0, SyncLevel.NONE.fileSyncLevel());
        assertEquals(0, SyncLevel.NONE.catalogFileSyncLevel());
        assertEquals(1, SyncLevel.DATA.fileSyncLevel());
        assertEquals(1, SyncLevel.DATA.catalogFileSyncLevel());
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
            () -> SyncLevel.parse("--sync", "metadata"));
        assertEquals("--sync: unknown sync level 'metadata'; valid: none, data", ex.getMessage());
    }
}
