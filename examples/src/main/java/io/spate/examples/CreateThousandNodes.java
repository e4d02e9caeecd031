package io.spate.examples;

import io.spate.client.BatchResult;
import io.spate.client.SpateClient;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.SchemaCompiler;

import java.nio.file.Path;

/**
 * Embeds the Spate client: connects to a running pipeline, creates 1,000 users, prints their ids.
 * <p>
 * Usage: {@code CreateThousandNodes SCHEMA_FILE [AERON_DIR]}; without AERON_DIR the system property
 * {@code spate.driver.dir}, else Aeron's default directory. Exits 1 on any failure.
 */
public final class CreateThousandNodes
{
    private static final int COUNT = 1_000;

    private CreateThousandNodes()
    {
    }

    public static void main(final String[] args)
    {
        if (args.length < 1 || args.length > 2)
        {
            System.err.println("usage: CreateThousandNodes SCHEMA_FILE [AERON_DIR]");
            System.exit(2);
        }
        try
        {
            final DatabaseSchema schema = SchemaCompiler.compile(Path.of(args[0]));
            final SpateClient.Context context = new SpateClient.Context().schema(schema);
            if (args.length == 2)
            {
                context.aeronDirectoryName(args[1]);
            }
            try (SpateClient client = SpateClient.connect(context))
            {
                for (int i = 1; i <= COUNT; i++)
                {
                    client.create("User");
                    client.set("name", "user-" + i);
                }
                final BatchResult result = client.flushAndAwait(); // the outcome of all 1,000 records
                if (!result.isOk())
                {
                    throw new IllegalStateException("not all records applied: " + result);
                }
                for (int i = 0; i < result.recordCount(); i++)
                {
                    System.out.println("id=" + result.createdId(i));
                }
                System.out.println("example: created=" + result.recordCount() +
                    " ids=" + result.createdId(0) + ".." + result.createdId(result.recordCount() - 1));
            }
        }
        catch (final RuntimeException ex)
        {
            System.err.println("example: failed: " + ex);
            System.exit(1);
        }
    }
}
