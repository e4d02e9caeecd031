package io.spate.pipeline;

import io.aeron.Aeron;
import io.spate.codec.DatabaseSchema;
import io.spate.store.NativeStore;

import java.io.PrintStream;

/**
 * For tests outside the package: rebuilds a store from a data directory without changing anything
 * ({@link DurableLog#rebuild}).
 */
public final class Rebuild
{
    private Rebuild()
    {
    }

    /**
     * @return the recovery line's store part: per type "Name=count/checksum".
     */
    public static String into(
        final Aeron aeron, final String dataDirectory, final DatabaseSchema schema, final NativeStore store,
        final PrintStream out)
    {
        return DurableLog.rebuild(aeron, new PipelineConfiguration().schema(schema).dataDirectory(dataDirectory).conclude(),
            store, out).checksums();
    }
}
