package io.spate.pipeline;

import io.spate.driver.SyncLevel;

import java.nio.file.Path;

/**
 * What a durable pipeline's start recovered: the snapshot it loaded (position -1: none) and how long
 * that took, the log it replayed after it, where the log goes on, and the store's per-type counts and
 * checksums ("Name=count/checksum") after recovery. {@code fresh}: a new data directory.
 */
public record Recovery(
    boolean fresh,
    long snapshotPosition,
    long snapshotLoadMs,
    long batchesReplayed,
    long recordsReplayed,
    long replayMs,
    long logPosition,
    long lastSeq,
    long truncatedBytes,
    long recordingId,
    SyncLevel syncLevel,
    String checksums)
{
    /**
     * @return the line the pipeline prints at start.
     */
    public String describe(final Path dataDirectory)
    {
        final StringBuilder text = new StringBuilder("pipeline: durable in ").append(dataDirectory).append(": ");
        if (fresh)
        {
            text.append("a new log (recording ").append(recordingId).append(')');
        }
        else
        {
            text.append(snapshotPosition < 0 ? "no snapshot" :
                "snapshot at log position " + snapshotPosition + " loaded in " + snapshotLoadMs + " ms");
            text.append(String.format(", %,d batches (%,d records) replayed in %d ms", batchesReplayed, recordsReplayed,
                replayMs));
            if (replayMs > 0 && recordsReplayed > 0)
            {
                text.append(String.format(" (%,d records/s)", recordsReplayed * 1000 / replayMs));
            }
            if (truncatedBytes > 0)
            {
                text.append(", ").append(truncatedBytes).append(" bytes of an incompletely recorded batch dropped");
            }
            text.append("; log recording ").append(recordingId).append(" goes on at position ").append(logPosition)
                .append(" after batch ").append(lastSeq).append("; store ").append(checksums);
        }
        text.append("; acks wait for the archive (sync=").append(syncLevel.name().toLowerCase(java.util.Locale.ROOT))
            .append(": ").append(DurableLog.promise(syncLevel)).append(')');
        return text.toString();
    }
}
