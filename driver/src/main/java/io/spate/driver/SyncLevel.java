package io.spate.driver;

import java.util.Locale;

/**
 * What the driver's archive does before it moves a recording's position, and so what an ack that waits
 * for that position promises. Set with {@code bin/spate driver --sync} or {@value DriverConfiguration#SYNC_PROP};
 * published to clients through the counter {@link ArchiveSettings#SYNC_LEVEL_COUNTER_TYPE_ID}.
 * The ordinal is the counter's value: do not reorder.
 */
public enum SyncLevel
{
    /**
     * Recordings are written to the OS (page cache) and not forced: an ack survives SIGKILL of any Spate
     * process, the driver's included, but not power loss or a kernel crash.
     * Archive {@code fileSyncLevel} 0, {@code catalogFileSyncLevel} 0.
     */
    NONE(0, 0, "an ack survives SIGKILL of any Spate process (written to the OS), not power loss"),

    /**
     * Every recorded block is fdatasync'ed (and the directory, for each new segment file) before the
     * recording position moves: an ack survives power loss. Archive {@code fileSyncLevel} 1,
     * {@code catalogFileSyncLevel} 1.
     */
    DATA(1, 1, "an ack survives power loss (fdatasync before the recording position moves)");

    /** The names {@link #parse} accepts. */
    public static final String NAMES = "none, data";

    private final int fileSyncLevel;
    private final int catalogFileSyncLevel;
    private final String promise;

    SyncLevel(final int fileSyncLevel, final int catalogFileSyncLevel, final String promise)
    {
        this.fileSyncLevel = fileSyncLevel;
        this.catalogFileSyncLevel = catalogFileSyncLevel;
        this.promise = promise;
    }

    /**
     * @return Archive's {@code fileSyncLevel} for recordings: 0 (none) or 1 (data).
     */
    public int fileSyncLevel()
    {
        return fileSyncLevel;
    }

    /**
     * @return Archive's {@code catalogFileSyncLevel}: 0 (none) or 1 (data); never below {@link #fileSyncLevel()}.
     */
    public int catalogFileSyncLevel()
    {
        return catalogFileSyncLevel;
    }

    /**
     * @return what an ack waiting for the recording position promises, in one sentence for operators.
     */
    public String promise()
    {
        return promise;
    }

    /**
     * @return the name on the command line and in labels: {@code none} or {@code data}.
     */
    public String optionName()
    {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * @param source what the text comes from (a property or flag name), for the message.
     * @param text   none or data (case and surrounding blanks ignored).
     * @return the level.
     * @throws IllegalArgumentException naming the source and the valid names.
     */
    public static SyncLevel parse(final String source, final String text)
    {
        final String key = null == text ? "" : text.trim().toLowerCase(Locale.ROOT);
        return switch (key)
        {
            case "none" -> NONE;
            case "data" -> DATA;
            default -> throw new IllegalArgumentException(
                source + ": unknown sync level '" + text + "'; valid: " + NAMES);
        };
    }
}
