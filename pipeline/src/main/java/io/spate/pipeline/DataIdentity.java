package io.spate.pipeline;

import io.spate.codec.DatabaseSchema;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Properties;

/**
 * What a data directory belongs to, in {@code log.properties}: the archive and the recording that
 * hold its log, the log's stream, and the database schema. Checked at every start, so a data
 * directory is never recovered from another archive's recording or with another schema.
 */
record DataIdentity(long archiveId, long recordingId, int streamId, String schemaName, long schemaHash)
{
    static final String FILE = "log.properties";

    /**
     * @return the identity, or null when the directory has none yet (a new log).
     */
    static DataIdentity read(final Path dataDirectory) throws IOException
    {
        final Path file = dataDirectory.resolve(FILE);
        if (!Files.exists(file))
        {
            return null;
        }
        final Properties properties = new Properties();
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8))
        {
            properties.load(reader);
        }
        try
        {
            return new DataIdentity(
                Long.parseLong(required(properties, file, "archiveId")),
                Long.parseLong(required(properties, file, "recordingId")),
                Integer.parseInt(required(properties, file, "streamId")),
                required(properties, file, "schemaName"),
                Long.parseUnsignedLong(required(properties, file, "schemaHash"), 16));
        }
        catch (final NumberFormatException ex)
        {
            throw new DurableStateException(file + " is damaged: " + ex.getMessage());
        }
    }

    private static String required(final Properties properties, final Path file, final String key)
    {
        final String value = properties.getProperty(key);
        if (null == value || value.isBlank())
        {
            throw new DurableStateException(file + " is damaged: it has no " + key);
        }
        return value.trim();
    }

    /**
     * Writes the identity durably (temporary file, fsync, rename, directory fsync).
     */
    void write(final Path dataDirectory) throws IOException
    {
        final Properties properties = new Properties();
        properties.setProperty("archiveId", Long.toString(archiveId));
        properties.setProperty("recordingId", Long.toString(recordingId));
        properties.setProperty("streamId", Integer.toString(streamId));
        properties.setProperty("schemaName", schemaName);
        properties.setProperty("schemaHash", Long.toHexString(schemaHash));
        final Path temporary = dataDirectory.resolve(FILE + ".tmp");
        try (Writer writer = Files.newBufferedWriter(temporary, StandardCharsets.UTF_8))
        {
            properties.store(writer, "Spate data directory: which archive recording holds the log (do not edit)");
        }
        try (var channel = java.nio.channels.FileChannel.open(temporary, java.nio.file.StandardOpenOption.WRITE))
        {
            channel.force(true);
        }
        Files.move(temporary, dataDirectory.resolve(FILE), StandardCopyOption.ATOMIC_MOVE);
        SnapshotFile.syncDirectory(dataDirectory);
    }

    /**
     * @throws DurableStateException when the directory is another archive's, stream's or schema's.
     */
    void check(final Path dataDirectory, final long runningArchiveId, final int logStreamId, final DatabaseSchema schema)
    {
        if (archiveId != runningArchiveId)
        {
            throw new DurableStateException("the data directory " + dataDirectory + " belongs to archive " +
                archiveId + ", the driver runs archive " + runningArchiveId +
                ": start the driver with the --data directory the log was recorded in");
        }
        if (streamId != logStreamId)
        {
            throw new DurableStateException("the data directory " + dataDirectory + "'s log is on stream " +
                streamId + ", the pipeline is configured for " + logStreamId + " (" +
                PipelineConfiguration.LOG_STREAM_ID_PROP + ")");
        }
        if (schemaHash != schema.hash())
        {
            throw new DurableStateException("the data directory " + dataDirectory + " holds database schema " +
                schemaName + " (hash " + Long.toHexString(schemaHash) + "), the pipeline runs " + schema.name() +
                " (hash " + Long.toHexString(schema.hash()) + "): start it with the schema its data was written with");
        }
    }
}
