package io.spate.codec.testing;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.SchemaCompiler;

import java.nio.file.Path;

/**
 * The shipped example database schema (schema/examples/social.json) for tests of every module,
 * found from the multi-module root Maven sets or from a module's own directory.
 */
public final class ExampleSchemas
{
    private ExampleSchemas()
    {
    }

    /**
     * @return the path of schema/examples/social.json.
     */
    public static Path socialPath()
    {
        final Path fromRoot = Path.of(System.getProperty("maven.multiModuleProjectDirectory", "."),
            "schema/examples/social.json");
        return fromRoot.toFile().exists() ? fromRoot : Path.of("../schema/examples/social.json");
    }

    /**
     * @return the compiled example schema: User, Post, Follow, Counter over every field kind.
     */
    public static DatabaseSchema social()
    {
        return SchemaCompiler.compile(socialPath());
    }
}
