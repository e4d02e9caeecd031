package io.spate.driver;

import io.aeron.Aeron;
import io.aeron.CommonContext;
import io.aeron.archive.Archive;
import io.aeron.archive.ArchiveThreadingMode;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.SleepingIdleStrategy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.File;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.spate.driver.DriverConfiguration.ACTIVE_DRIVER_CHECK_TIMEOUT_PROP;
import static io.spate.driver.DriverConfiguration.ARCHIVE_SEGMENT_LENGTH_PROP;
import static io.spate.driver.DriverConfiguration.ARCHIVE_THREADING_MODE_PROP;
import static io.spate.driver.DriverConfiguration.DATA_DIR_PROP;
import static io.spate.driver.DriverConfiguration.SYNC_PROP;
import static io.spate.driver.DriverConfiguration.CLIENT_LIVENESS_TIMEOUT_PROP;
import static io.spate.driver.DriverConfiguration.DIR_DELETE_ON_SHUTDOWN_PROP;
import static io.spate.driver.DriverConfiguration.DIR_DELETE_ON_START_PROP;
import static io.spate.driver.DriverConfiguration.DIR_PROP;
import static io.spate.driver.DriverConfiguration.DRIVER_TIMEOUT_PROP;
import static io.spate.driver.DriverConfiguration.EMBEDDED_PROP;
import static io.spate.driver.DriverConfiguration.IDLE_STRATEGY_PROP;
import static io.spate.driver.DriverConfiguration.IPC_TERM_LENGTH_PROP;
import static io.spate.driver.DriverConfiguration.TERM_LENGTH_PROP;
import static io.spate.driver.DriverConfiguration.THREADING_MODE_PROP;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DriverConfigurationTest
{
    private static final List<String> PROPERTIES = List.of(
        DIR_PROP, EMBEDDED_PROP, THREADING_MODE_PROP, IDLE_STRATEGY_PROP, IPC_TERM_LENGTH_PROP, TERM_LENGTH_PROP,
        DIR_DELETE_ON_START_PROP, DIR_DELETE_ON_SHUTDOWN_PROP, DRIVER_TIMEOUT_PROP, CLIENT_LIVENESS_TIMEOUT_PROP,
        ACTIVE_DRIVER_CHECK_TIMEOUT_PROP, DATA_DIR_PROP, SYNC_PROP, ARCHIVE_SEGMENT_LENGTH_PROP,
        ARCHIVE_THREADING_MODE_PROP);

    @AfterEach
    void clearProperties()
    {
        PROPERTIES.forEach(System::clearProperty);
    }

    @Test
    void defaults()
    {
        final DriverConfiguration configuration = new DriverConfiguration();

        assertAll(
            () -> assertEquals(CommonContext.getAeronDirectoryName(), configuration.aeronDirectoryName()),
            () -> assertTrue(configuration.embedded()),
            () -> assertEquals(ThreadingMode.SHARED, configuration.threadingMode()),
            () -> assertEquals("backoff", configuration.idleStrategy()),
            () -> assertEquals(4 << 20, configuration.ipcTermBufferLength()),
            () -> assertEquals(4 << 20, configuration.publicationTermBufferLength()),
            () -> assertTrue(configuration.dirDeleteOnStart()),
            () -> assertTrue(configuration.dirDeleteOnShutdown()),
            () -> assertEquals(20_000, configuration.driverTimeoutMs()),
            () -> assertEquals(15_000, configuration.clientLivenessTimeoutMs()),
            () -> assertEquals(22_500, configuration.publicationUnblockTimeoutMs()),
            () -> assertEquals(2_500, configuration.activeDriverCheckTimeoutMs()),
            () -> assertNull(configuration.archiveDir()),
            () -> assertEquals(SyncLevel.NONE, configuration.syncLevel()),
            () -> assertEquals(128 << 20, configuration.archiveSegmentFileLength()),
            () -> assertEquals(ArchiveThreadingMode.SHARED, configuration.archiveThreadingMode()),
            () -> assertEquals(Aeron.NULL_VALUE, configuration.archiveId()));

        configuration.conclude();
        assertEquals(Path.of(CommonContext.getAeronDirectoryName()).toAbsolutePath().normalize().toString(),
            configuration.aeronDirectoryName());
    }

    @Test
    void directoryDeletionFollowsEmbeddedUnlessSet()
    {
        final DriverConfiguration configuration = new DriverConfiguration().embedded(false);
        assertFalse(configuration.dirDeleteOnStart());
        assertFalse(configuration.dirDeleteOnShutdown());

        configuration.dirDeleteOnShutdown(true);
        assertFalse(configuration.dirDeleteOnStart());
        assertTrue(configuration.dirDeleteOnShutdown());

        configuration.embedded(true).dirDeleteOnStart(false);
        assertFalse(configuration.dirDeleteOnStart());
        assertTrue(configuration.dirDeleteOnShutdown());
    }

    @Test
    void defaultsAreReadFromSystemPropertiesOnceAtConstruction()
    {
        System.setProperty(DIR_PROP, "/tmp/spate-test-dir");
        System.setProperty(EMBEDDED_PROP, "false");
        System.setProperty(THREADING_MODE_PROP, "shared_network");
        System.setProperty(IDLE_STRATEGY_PROP, "sleeping");
        System.setProperty(IPC_TERM_LENGTH_PROP, "128k");
        System.setProperty(TERM_LENGTH_PROP, "16m");
        System.setProperty(DIR_DELETE_ON_START_PROP, "true");
        System.setProperty(DIR_DELETE_ON_SHUTDOWN_PROP, "true");
        System.setProperty(DRIVER_TIMEOUT_PROP, "30000");
        System.setProperty(CLIENT_LIVENESS_TIMEOUT_PROP, "12000");
        System.setProperty(ACTIVE_DRIVER_CHECK_TIMEOUT_PROP, "4000");
        System.setProperty(DATA_DIR_PROP, "/tmp/spate-test-data");
        System.setProperty(SYNC_PROP, "Data");
        System.setProperty(ARCHIVE_SEGMENT_LENGTH_PROP, "16m");
        System.setProperty(ARCHIVE_THREADING_MODE_PROP, "dedicated");

        final DriverConfiguration configuration = new DriverConfiguration();
        clearProperties();

        assertAll(
            () -> assertEquals("/tmp/spate-test-dir", configuration.aeronDirectoryName()),
            () -> assertFalse(configuration.embedded()),
            () -> assertEquals(ThreadingMode.SHARED_NETWORK, configuration.threadingMode()),
            () -> assertEquals("sleeping", configuration.idleStrategy()),
            () -> assertEquals(128 << 10, configuration.ipcTermBufferLength()),
            () -> assertEquals(16 << 20, configuration.publicationTermBufferLength()),
            () -> assertTrue(configuration.dirDeleteOnStart()),
            () -> assertTrue(configuration.dirDeleteOnShutdown()),
            () -> assertEquals(30_000, configuration.driverTimeoutMs()),
            () -> assertEquals(12_000, configuration.clientLivenessTimeoutMs()),
            () -> assertEquals(18_000, configuration.publicationUnblockTimeoutMs()),
            () -> assertEquals(4_000, configuration.activeDriverCheckTimeoutMs()),
            () -> assertEquals(new File("/tmp/spate-test-data/archive"), configuration.archiveDir()),
            () -> assertEquals(SyncLevel.DATA, configuration.syncLevel()),
            () -> assertEquals(16 << 20, configuration.archiveSegmentFileLength()),
            () -> assertEquals(ArchiveThreadingMode.DEDICATED, configuration.archiveThreadingMode()));
        configuration.conclude();

        final DriverConfiguration later = new DriverConfiguration();
        assertEquals(CommonContext.getAeronDirectoryName(), later.aeronDirectoryName());
        assertEquals(ThreadingMode.SHARED, later.threadingMode());
    }

    @Test
    void directoryDefaultHonoursAeronDir()
    {
        final String previous = System.getProperty(CommonContext.AERON_DIR_PROP_NAME);
        System.setProperty(CommonContext.AERON_DIR_PROP_NAME, "/tmp/spate-aeron-dir");
        try
        {
            assertEquals("/tmp/spate-aeron-dir", new DriverConfiguration().aeronDirectoryName());
            System.setProperty(DIR_PROP, "/tmp/spate-own-dir");
            assertEquals("/tmp/spate-own-dir", new DriverConfiguration().aeronDirectoryName());
        }
        finally
        {
            if (null == previous)
            {
                System.clearProperty(CommonContext.AERON_DIR_PROP_NAME);
            }
            else
            {
                System.setProperty(CommonContext.AERON_DIR_PROP_NAME, previous);
            }
        }
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "spate.driver.term.length | abc | 'abc' is not a size",
        "spate.driver.term.length | 3m | is not a valid term length",
        "spate.driver.ipc.term.length | 32k | is not a valid term length",
        "spate.driver.ipc.term.length | 2g | is not a valid term length",
        "spate.driver.threading.mode | turbo | unknown threading mode 'turbo'",
        "spate.driver.threading.mode | invoker | unknown threading mode 'invoker'",
        "spate.driver.embedded | yes | is not a boolean",
        "spate.driver.dir.delete.on.start | 1 | is not a boolean",
        "spate.driver.timeout.ms | 10s | is not a whole number",
        "spate.driver.sync | fsync | unknown sync level 'fsync'; valid: none, data",
        "spate.driver.archive.segment.length | 1x | '1x' is not a size",
        "spate.driver.archive.threading.mode | invoker | unknown archive threading mode 'invoker'; valid: shared, dedicated",
    })
    void malformedPropertyFailsConstructionNamingIt(final String property, final String value, final String expected)
    {
        System.setProperty(property, value);
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, DriverConfiguration::new);
        assertTrue(ex.getMessage().startsWith("system property " + property + ": "), ex.getMessage());
        assertTrue(ex.getMessage().contains(expected), ex.getMessage());
    }

    @Test
    void unknownIdleStrategyPropertyFailsConclude()
    {
        System.setProperty(IDLE_STRATEGY_PROP, "spin");
        final DriverConfiguration configuration = new DriverConfiguration();
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, configuration::conclude);
        assertEquals("idleStrategy (spate.driver.idle.strategy): unknown idle strategy 'spin'; " +
            "valid names: backoff, sleeping, yielding, busy, noop", ex.getMessage());
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -65536, 1000, 32 * 1024, 65537, 3 * 1024 * 1024, Integer.MIN_VALUE, Integer.MAX_VALUE})
    void badTermLengthsAreRefused(final int length)
    {
        final IllegalArgumentException ipc = assertThrows(IllegalArgumentException.class,
            () -> new DriverConfiguration().ipcTermBufferLength(length).conclude());
        assertEquals("ipcTermBufferLength (spate.driver.ipc.term.length): " + length + " is not a valid term " +
            "length; it must be a power of two from 64k (65536) to 1g (1073741824), e.g. 4m", ipc.getMessage());

        final IllegalArgumentException udp = assertThrows(IllegalArgumentException.class,
            () -> new DriverConfiguration().publicationTermBufferLength(length).conclude());
        assertTrue(udp.getMessage().startsWith("publicationTermBufferLength (spate.driver.term.length): " + length +
            " is not a valid term length"), udp.getMessage());
    }

    @ParameterizedTest
    @ValueSource(ints = {64 * 1024, 128 * 1024, 4 * 1024 * 1024, 1024 * 1024 * 1024})
    void goodTermLengthsAreAccepted(final int length)
    {
        final DriverConfiguration configuration = new DriverConfiguration()
            .ipcTermBufferLength(length)
            .publicationTermBufferLength(length)
            .conclude();
        assertEquals(length, configuration.ipcTermBufferLength());
        assertEquals(length, configuration.publicationTermBufferLength());
    }

    @Test
    void concludeValidatesTheOtherSettings()
    {
        assertRefused(new DriverConfiguration().idleStrategy("warp"), "unknown idle strategy 'warp'");
        assertRefused(new DriverConfiguration().threadingMode(ThreadingMode.INVOKER), "threadingMode");
        assertRefused(new DriverConfiguration().threadingMode(null), "threadingMode");
        assertRefused(new DriverConfiguration().aeronDirectoryName(" "), "must not be empty");
        assertRefused(new DriverConfiguration().aeronDirectoryName(null), "must not be empty");
        assertRefused(new DriverConfiguration().driverTimeoutMs(10), DRIVER_TIMEOUT_PROP);
        assertRefused(new DriverConfiguration().clientLivenessTimeoutMs(1000), CLIENT_LIVENESS_TIMEOUT_PROP);
        assertRefused(new DriverConfiguration().activeDriverCheckTimeoutMs(1000), ACTIVE_DRIVER_CHECK_TIMEOUT_PROP);
        assertRefused(new DriverConfiguration().driverTimeoutMs(2000).activeDriverCheckTimeoutMs(3000),
            ACTIVE_DRIVER_CHECK_TIMEOUT_PROP);
    }

    @Test
    void concludeNormalisesDirectoryAndIdleName()
    {
        final DriverConfiguration configuration = new DriverConfiguration()
            .aeronDirectoryName("target/../target/aeron-x")
            .idleStrategy(" Yielding ")
            .conclude();
        assertEquals(Path.of("target/aeron-x").toAbsolutePath().toString(), configuration.aeronDirectoryName());
        assertEquals("yielding", configuration.idleStrategy());
        configuration.conclude();
        assertEquals(Path.of("target/aeron-x").toAbsolutePath().toString(), configuration.aeronDirectoryName());
    }

    @ParameterizedTest
    @CsvSource({
        "65536, 65536", "64k, 65536", "64K, 65536", "4m, 4194304", "4MiB, 4194304", "4mb, 4194304",
        "1g, 1073741824", "' 2m ', 2097152", "100b, 100",
    })
    void parsesSizes(final String text, final long expected)
    {
        assertEquals(expected, DriverConfiguration.parseSize("--x", text));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "m", "4x", "-1", "1.5m", "4 m b", "99999999999999999999", "9999999999999999g"})
    void refusesMalformedSizes(final String text)
    {
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
            () -> DriverConfiguration.parseSize("--term-length", text));
        assertTrue(ex.getMessage().startsWith("--term-length: '" + text + "'"), ex.getMessage());
    }

    @Test
    void parsesThreadingModes()
    {
        assertEquals(ThreadingMode.DEDICATED, DriverConfiguration.parseThreadingMode("x", "dedicated"));
        assertEquals(ThreadingMode.SHARED, DriverConfiguration.parseThreadingMode("x", "SHARED"));
        assertEquals(ThreadingMode.SHARED_NETWORK, DriverConfiguration.parseThreadingMode("x", "shared_network"));
        assertEquals(ThreadingMode.SHARED_NETWORK, DriverConfiguration.parseThreadingMode("x", "shared-network"));
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
            () -> DriverConfiguration.parseThreadingMode("--threading", "invoker"));
        assertEquals("--threading: unknown threading mode 'invoker'; valid: dedicated, shared, shared_network",
            ex.getMessage());
    }

    @Test
    void buildsMediaDriverContext()
    {
        final MediaDriver.Context context = new DriverConfiguration()
            .aeronDirectoryName("/tmp/spate-context-test")
            .embedded(false)
            .ipcTermBufferLength(128 * 1024)
            .publicationTermBufferLength(256 * 1024)
            .clientLivenessTimeoutMs(12_000)
            .driverTimeoutMs(25_000)
            .toMediaDriverContext();

        assertAll(
            () -> assertEquals("/tmp/spate-context-test", context.aeronDirectoryName()),
            () -> assertEquals(ThreadingMode.SHARED, context.threadingMode()),
            () -> assertEquals(128 * 1024, context.ipcTermBufferLength()),
            () -> assertEquals(256 * 1024, context.publicationTermBufferLength()),
            () -> assertFalse(context.dirDeleteOnStart()),
            () -> assertFalse(context.dirDeleteOnShutdown()),
            () -> assertEquals(25_000, context.driverTimeoutMs()),
            () -> assertEquals(TimeUnit.SECONDS.toNanos(12), context.clientLivenessTimeoutNs()),
            () -> assertEquals(TimeUnit.SECONDS.toNanos(18), context.publicationUnblockTimeoutNs()),
            () -> assertEquals(DriverConfiguration.CONDUCTOR_BUFFER_LENGTH, context.conductorBufferLength()),
            () -> assertEquals(1024 * 1024, context.counterValuesBufferLength()),
            () -> assertFalse(context.printConfigurationOnStart()),
            () -> assertInstanceOf(BackoffIdleStrategy.class, context.sharedIdleStrategy()));
    }

    @Test
    void everyDriverAgentGetsItsOwnIdleStrategy()
    {
        final MediaDriver.Context dedicated = new DriverConfiguration()
            .threadingMode(ThreadingMode.DEDICATED)
            .idleStrategy("sleeping")
            .toMediaDriverContext();
        assertInstanceOf(SleepingIdleStrategy.class, dedicated.conductorIdleStrategy());
        assertInstanceOf(SleepingIdleStrategy.class, dedicated.senderIdleStrategy());
        assertInstanceOf(SleepingIdleStrategy.class, dedicated.receiverIdleStrategy());
        assertNotSame(dedicated.conductorIdleStrategy(), dedicated.senderIdleStrategy());
        assertNotSame(dedicated.senderIdleStrategy(), dedicated.receiverIdleStrategy());

        final MediaDriver.Context sharedNetwork = new DriverConfiguration()
            .threadingMode(ThreadingMode.SHARED_NETWORK)
            .toMediaDriverContext();
        assertInstanceOf(BackoffIdleStrategy.class, sharedNetwork.conductorIdleStrategy());
        assertInstanceOf(BackoffIdleStrategy.class, sharedNetwork.sharedNetworkIdleStrategy());
        assertNotSame(sharedNetwork.conductorIdleStrategy(), sharedNetwork.sharedNetworkIdleStrategy());

        final MediaDriver.Context busy = new DriverConfiguration().idleStrategy("busy").toMediaDriverContext();
        assertSame(org.agrona.concurrent.BusySpinIdleStrategy.INSTANCE, busy.sharedIdleStrategy());
    }

    @Test
    void toStringListsEverySetting()
    {
        final String text = new DriverConfiguration().aeronDirectoryName("/tmp/spate-to-string").conclude().toString();
        for (final String setting : List.of(
            "aeronDirectoryName=/tmp/spate-to-string", "embedded=true", "threadingMode=SHARED", "idleStrategy=backoff",
            "ipcTermBufferLength=4194304 (4 MiB)", "publicationTermBufferLength=4194304 (4 MiB)",
            "dirDeleteOnStart=true", "dirDeleteOnShutdown=true", "driverTimeoutMs=20000",
            "clientLivenessTimeoutMs=15000", "publicationUnblockTimeoutMs=22500", "activeDriverCheckTimeoutMs=2500",
            "conductorBufferLength=", "toClientsBufferLength=", "counterValuesBufferLength=1048576 (1 MiB)",
            "archiveDir=null", "syncLevel=none", "archiveSegmentFileLength=134217728 (128 MiB)",
            "archiveThreadingMode=SHARED", "archiveId=-1"))
        {
            assertTrue(text.contains(setting), () -> setting + " missing from " + text);
        }
        assertFalse(text.contains("\n"));
    }

    @ParameterizedTest
    @ValueSource(longs = {0, 1000, 32 * 1024, 3 * 1024 * 1024, 2L * 1024 * 1024 * 1024, -128L * 1024 * 1024})
    void badSegmentLengthsAreRefused(final long length)
    {
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
            () -> new DriverConfiguration().archiveSegmentFileLength(length).conclude());
        assertEquals("archiveSegmentFileLength (spate.driver.archive.segment.length) must be a power of two from " +
            "64k (65536) to 1g (1073741824) and at least the IPC term length 4194304: " + length, ex.getMessage());
    }

    @Test
    void segmentLengthMustHoldAnIpcTerm()
    {
        assertRefused(new DriverConfiguration().dataDir("d").ipcTermBufferLength(256 << 20),
            ARCHIVE_SEGMENT_LENGTH_PROP);
        assertRefused(new DriverConfiguration().dataDir("d").archiveSegmentFileLength(1 << 20),
            "at least the IPC term length");
        new DriverConfiguration().dataDir("d").archiveSegmentFileLength(64 << 10).ipcTermBufferLength(64 << 10)
            .conclude();
        new DriverConfiguration().dataDir("d").archiveSegmentFileLength(1 << 30).conclude();
        // Without an archive the segment is only checked on its own.
        new DriverConfiguration().ipcTermBufferLength(1 << 30).conclude();
    }

    @Test
    void concludeValidatesTheArchiveSettings()
    {
        assertRefused(new DriverConfiguration().syncLevel(SyncLevel.DATA),
            "syncLevel (spate.driver.sync) data needs an archive: set the data directory (spate.driver.data.dir, " +
            "bin/spate driver --data DIR)");
        assertRefused(new DriverConfiguration().syncLevel(null), SYNC_PROP);
        assertRefused(new DriverConfiguration().archiveDir(new File("")), DATA_DIR_PROP);
        assertRefused(new DriverConfiguration().archiveThreadingMode(ArchiveThreadingMode.INVOKER),
            ARCHIVE_THREADING_MODE_PROP);
        assertRefused(new DriverConfiguration().archiveThreadingMode(null), ARCHIVE_THREADING_MODE_PROP);
        final IllegalArgumentException blank = assertThrows(IllegalArgumentException.class,
            () -> new DriverConfiguration().dataDir(" "));
        assertEquals("the data directory (spate.driver.data.dir) must not be empty", blank.getMessage());

        final DriverConfiguration configuration = new DriverConfiguration()
            .dataDir("target/../target/data")
            .syncLevel(SyncLevel.DATA)
            .conclude();
        assertEquals(Path.of("target/data/archive").toAbsolutePath().toFile(), configuration.archiveDir());
        assertNull(new DriverConfiguration().dataDir("x").dataDir(null).archiveDir());
    }

    @Test
    void archiveIdIsFixedPerDirectory()
    {
        final long id = new DriverConfiguration().dataDir("/tmp/spate-a").archiveId();
        assertEquals(id, new DriverConfiguration().dataDir("/tmp/./spate-a").conclude().archiveId());
        assertTrue(id >= 0);
        assertNotEquals(id, new DriverConfiguration().dataDir("/tmp/spate-b").archiveId());
    }

    @ParameterizedTest
    @EnumSource(SyncLevel.class)
    void buildsArchiveContext(final SyncLevel syncLevel)
    {
        final DriverConfiguration configuration = new DriverConfiguration()
            .aeronDirectoryName("/tmp/spate-context-test")
            .dataDir("/tmp/spate-context-data")
            .syncLevel(syncLevel)
            .archiveSegmentFileLength(64 << 20)
            .idleStrategy("sleeping")
            .archiveOnDriverThread(true);
        final Archive.Context context = configuration.toArchiveContext();

        assertAll(
            () -> assertEquals("/tmp/spate-context-test", context.aeronDirectoryName()),
            () -> assertEquals(new File("/tmp/spate-context-data/archive"), context.archiveDir()),
            () -> assertEquals(new File("/tmp/spate-context-data/archive"), context.markFileDir()),
            () -> assertFalse(context.deleteArchiveOnStart()),
            () -> assertEquals(configuration.archiveId(), context.archiveId()),
            () -> assertEquals(syncLevel.ordinal(), context.fileSyncLevel()),
            () -> assertEquals(syncLevel.ordinal(), context.catalogFileSyncLevel()),
            () -> assertEquals(64 << 20, context.segmentFileLength()),
            () -> assertFalse(context.controlChannelEnabled()),
            () -> assertEquals("aeron:ipc", context.localControlChannel()),
            () -> assertEquals(10, context.localControlStreamId()),
            () -> assertFalse(context.recordingEventsEnabled()),
            () -> assertEquals("aeron:udp?endpoint=localhost:0", context.replicationChannel()),
            () -> assertEquals("aeron:udp?endpoint=localhost:0", context.archiveClientContext().controlResponseChannel()),
            // Shared threading for both: the archive is an invoker on one thread with the driver (SpateDriver).
            () -> assertEquals(ArchiveThreadingMode.INVOKER, context.threadingMode()),
            () -> assertEquals(ThreadingMode.INVOKER, configuration.toMediaDriverContext().threadingMode()),
            () -> assertInstanceOf(SleepingIdleStrategy.class, context.idleStrategy()),
            () -> assertInstanceOf(SleepingIdleStrategy.class, context.recorderIdleStrategy()),
            () -> assertInstanceOf(SleepingIdleStrategy.class, context.replayerIdleStrategy()),
            () -> assertNotSame(context.idleStrategy(), context.idleStrategy()));

        configuration.archiveOnDriverThread(false);
        assertEquals(ArchiveThreadingMode.SHARED, configuration.toArchiveContext().threadingMode());
        assertEquals(ThreadingMode.SHARED, configuration.toMediaDriverContext().threadingMode());
        configuration.archiveOnDriverThread(true).archiveThreadingMode(ArchiveThreadingMode.DEDICATED);
        assertEquals(ArchiveThreadingMode.DEDICATED, configuration.toArchiveContext().threadingMode());
        assertEquals(ThreadingMode.SHARED, configuration.toMediaDriverContext().threadingMode());
        configuration.archiveThreadingMode(ArchiveThreadingMode.SHARED).threadingMode(ThreadingMode.DEDICATED);
        assertEquals(ArchiveThreadingMode.SHARED, configuration.toArchiveContext().threadingMode());
        assertEquals(ThreadingMode.DEDICATED, configuration.toMediaDriverContext().threadingMode());
        assertEquals(ThreadingMode.SHARED, new DriverConfiguration().dataDir("/tmp/spate-context-data")
            .toMediaDriverContext().threadingMode());
        assertEquals(ThreadingMode.INVOKER, new DriverConfiguration().dataDir("/tmp/spate-context-data")
            .archiveOnDriverThread(true).toMediaDriverContext().threadingMode());
        assertEquals(ThreadingMode.SHARED, new DriverConfiguration().toMediaDriverContext().threadingMode());
        assertFalse(new DriverConfiguration().toMediaDriverContext().asyncExecutorEnabled());

        final IllegalStateException none = assertThrows(IllegalStateException.class,
            () -> new DriverConfiguration().toArchiveContext());
        assertEquals("no archive directory is set (spate.driver.data.dir)", none.getMessage());
    }

    private static void assertRefused(final DriverConfiguration configuration, final String expected)
    {
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, configuration::conclude);
        assertTrue(ex.getMessage().contains(expected), ex.getMessage());
    }
}
