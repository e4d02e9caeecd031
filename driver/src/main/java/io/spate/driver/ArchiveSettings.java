package io.spate.driver;

import io.aeron.Aeron;
import io.aeron.archive.client.AeronArchive;
import org.agrona.concurrent.status.CountersReader;

import java.util.concurrent.TimeUnit;

/**
 * How clients reach the Aeron Archive that {@link SpateDriver} hosts in the media driver's process
 * when {@link DriverConfiguration#archiveDir()} is set ({@code bin/spate driver --data DIR}), and how
 * they learn what it promises.
 * <p>
 * The archive listens only on its local (IPC) control channel: no UDP port is bound, so only processes
 * that can open the driver's directory reach it. Connect with:
 * <pre>{@code
 * try (Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(dir));
 *     AeronArchive archive = AeronArchive.connect(ArchiveSettings.clientContext(aeron)))
 * {
 *     archive.startRecording(channel, streamId, SourceLocation.LOCAL);
 * }
 * }</pre>
 * The sync level is published by a counter of type {@link #SYNC_LEVEL_COUNTER_TYPE_ID}, allocated once
 * the archive runs and freed when the driver closes; read it with {@link #findSyncLevel(CountersReader)}.
 */
public final class ArchiveSettings
{
    /**
     * Type id of the counter announcing the archive's {@link SyncLevel}: label
     * {@code spate-archive: sync=<none|data> dir=<archive directory>}, key the level's ordinal (an int, written
     * before the counter becomes visible), value the ordinal too (for AeronStat). The pipeline's counters
     * use type ids 1001-1030.
     */
    public static final int SYNC_LEVEL_COUNTER_TYPE_ID = 1040;

    /** Label prefix of the {@link #SYNC_LEVEL_COUNTER_TYPE_ID} counter. */
    public static final String SYNC_LEVEL_COUNTER_LABEL_PREFIX = "spate-archive: ";

    /** Length of the {@link #SYNC_LEVEL_COUNTER_TYPE_ID} counter's key: the level's ordinal as an int. */
    public static final int SYNC_LEVEL_KEY_LENGTH = Integer.BYTES;

    /** The archive's control requests: IPC only (Archive's local control channel). */
    public static final String CONTROL_CHANNEL = "aeron:ipc";

    /** Stream of {@link #CONTROL_CHANNEL}: Aeron's default, clear of Spate's own streams (1001 and up). */
    public static final int CONTROL_STREAM_ID = 10;

    /**
     * Where the archive answers its clients: IPC too. Clients share the stream; the archive client gives
     * each session its own session id. The archive client adds a 64 KiB term length to both control
     * channels, so control sessions do not take the driver's IPC term length.
     */
    public static final String CONTROL_RESPONSE_CHANNEL = "aeron:ipc";

    /** Stream of {@link #CONTROL_RESPONSE_CHANNEL}: Aeron's default. */
    public static final int CONTROL_RESPONSE_STREAM_ID = 20;

    /**
     * Archive 1.51 requires a replication channel (and a response channel for its own replication client)
     * even when nothing is replicated; these bind nothing unless a replication is requested.
     */
    public static final String REPLICATION_CHANNEL = "aeron:udp?endpoint=localhost:0";

    /** The directory inside a data directory ({@code --data}) that holds the archive. */
    public static final String ARCHIVE_DIRECTORY_NAME = "archive";

    /** How long an archive client waits for the archive's answer, in ms; read by {@link #clientContext}. */
    public static final String MESSAGE_TIMEOUT_PROP = "spate.archive.message.timeout.ms";

    /** Aeron's default; a request the archive has not answered by then fails with a TimeoutException. */
    public static final long DEFAULT_MESSAGE_TIMEOUT_MS = 10_000;

    private ArchiveSettings()
    {
    }

    /**
     * A context for {@link AeronArchive#connect(AeronArchive.Context)} that talks to the archive of the driver
     * {@code aeron} is connected to, over IPC. The archive client does not own {@code aeron}: close the
     * {@link AeronArchive} first, then the {@link Aeron} client.
     *
     * @param aeron a client of the driver hosting the archive.
     * @return a new context: {@link #CONTROL_CHANNEL}/{@link #CONTROL_STREAM_ID} for requests,
     * {@link #CONTROL_RESPONSE_CHANNEL}/{@link #CONTROL_RESPONSE_STREAM_ID} for responses, the message
     * timeout from {@value #MESSAGE_TIMEOUT_PROP} (default {@value #DEFAULT_MESSAGE_TIMEOUT_MS} ms).
     * @throws IllegalArgumentException when {@value #MESSAGE_TIMEOUT_PROP} is not a positive whole number.
     */
    public static AeronArchive.Context clientContext(final Aeron aeron)
    {
        return new AeronArchive.Context()
            .aeron(aeron)
            .controlRequestChannel(CONTROL_CHANNEL)
            .controlRequestStreamId(CONTROL_STREAM_ID)
            .controlResponseChannel(CONTROL_RESPONSE_CHANNEL)
            .controlResponseStreamId(CONTROL_RESPONSE_STREAM_ID)
            .messageTimeoutNs(TimeUnit.MILLISECONDS.toNanos(messageTimeoutMs()));
    }

    /**
     * @return the archive clients' message timeout: {@value #MESSAGE_TIMEOUT_PROP}, else
     * {@value #DEFAULT_MESSAGE_TIMEOUT_MS}.
     * @throws IllegalArgumentException when the property is not a whole number from 1 to a day.
     */
    public static long messageTimeoutMs()
    {
        final String value = System.getProperty(MESSAGE_TIMEOUT_PROP);
        if (null == value || value.isBlank())
        {
            return DEFAULT_MESSAGE_TIMEOUT_MS;
        }
        long timeoutMs = 0;
        try
        {
            timeoutMs = Long.parseLong(value.trim());
        }
        catch (final NumberFormatException ignore)
        {
            // Reported below.
        }
        if (timeoutMs < 1 || timeoutMs > TimeUnit.DAYS.toMillis(1))
        {
            throw new IllegalArgumentException("system property " + MESSAGE_TIMEOUT_PROP + ": '" + value +
                "' is not a timeout; give whole milliseconds from 1 to 86400000");
        }
        return timeoutMs;
    }

    /**
     * Finds the sync level the driver's archive promises, from the driver's counters.
     *
     * @param counters the counters of the driver (e.g. {@code aeron.countersReader()}).
     * @return the level, or null when no {@link #SYNC_LEVEL_COUNTER_TYPE_ID} counter is allocated: the driver
     * hosts no archive (no {@code --data}), or it is still starting or stopping.
     * @throws IllegalStateException when such a counter holds no known level (not Spate's counter).
     */
    public static SyncLevel findSyncLevel(final CountersReader counters)
    {
        final int[] found = {CountersReader.NULL_COUNTER_ID, -1};
        counters.forEach((counterId, typeId, keyBuffer, label) ->
        {
            if (SYNC_LEVEL_COUNTER_TYPE_ID == typeId && CountersReader.NULL_COUNTER_ID == found[0])
            {
                found[0] = counterId;
                found[1] = keyBuffer.getInt(0);
            }
        });
        if (CountersReader.NULL_COUNTER_ID == found[0])
        {
            return null;
        }
        final SyncLevel[] levels = SyncLevel.values();
        if (found[1] < 0 || found[1] >= levels.length)
        {
            throw new IllegalStateException("counter " + found[0] + " of type " + SYNC_LEVEL_COUNTER_TYPE_ID +
                " ('" + counters.getCounterLabel(found[0]) + "') holds no known sync level: " + found[1]);
        }
        return levels[found[1]];
    }

    /**
     * @return the label of the {@link #SYNC_LEVEL_COUNTER_TYPE_ID} counter.
     */
    static String syncLevelLabel(final SyncLevel syncLevel, final String archiveDir)
    {
        return SYNC_LEVEL_COUNTER_LABEL_PREFIX + "sync=" + syncLevel.optionName() + " dir=" + archiveDir;
    }
}
