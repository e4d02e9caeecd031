package io.spate.cli;

import io.spate.client.NodeView;
import io.spate.client.SpateClient;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.FieldDefinition;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static io.spate.cli.ProcessScope.EXIT_TIMEOUT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The example project (examples/, what the README's "Embed the client" shows) against a running pipeline,
 * in a JVM of its own whose class path is only the example and its Maven run-time class path (spate-client
 * and what it brings: codec, aeron-client, Agrona), with only the JVM flag the README names. Its 1,000 ids
 * must be distinct and each readable with {@code get}.
 */
@Timeout(120)
class ExampleProjectTest
{
    /** The one flag the README says an embedding application needs (Agrona's Unsafe access). */
    private static final List<String> CLIENT_JVM_FLAGS = List.of("--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED");
    /** The examples module, beside this one (surefire runs in the module directory). */
    private static final Path EXAMPLES = Path.of("..", "examples", "target").toAbsolutePath().normalize();

    private ProcessScope scope;

    @BeforeEach
    void before()
    {
        scope = new ProcessScope();
    }

    @AfterEach
    void after()
    {
        scope.close();
    }

    @Test
    void exampleCreatesThousandDistinctNodesReadableWithGet() throws Exception
    {
        final String classPath = exampleClassPath();
        final String dir = scope.aeronDirectory("spate-example-");
        scope.pipeline("--dir", dir, "--embedded-driver", "--workers", "1", "--buffer-bytes", Integer.toString(8 << 20));

        final JvmProcess example = scope.start("example", CLIENT_JVM_FLAGS, classPath,
            "io.spate.examples.CreateThousandNodes", scope.schema, dir);
        assertEquals(0, example.awaitExit(EXIT_TIMEOUT), example.output());

        final List<String> lines = example.lines();
        final List<Long> ids = new ArrayList<>();
        for (final String line : lines)
        {
            if (line.startsWith("id="))
            {
                ids.add(Long.parseLong(line.substring(3)));
            }
        }
        assertEquals(1000, ids.size(), example.output());
        final Set<Long> distinct = new HashSet<>(ids);
        assertEquals(1000, distinct.size(), "distinct ids:\n" + example.output());
        assertEquals("example: created=1000 ids=1..1000", lines.get(lines.size() - 1), example.output());

        // Every id through a client of the test, the record's own name with it...
        final DatabaseSchema schema = SchemaCompiler.compile(Path.of(scope.schema));
        final TypeDefinition user = schema.type("User");
        final FieldDefinition name = user.field("name");
        try (SpateClient client = SpateClient.connect(new SpateClient.Context().schema(schema).aeronDirectoryName(dir)))
        {
            assertEquals(1000, client.count(user));
            for (int i = 0; i < ids.size(); i++)
            {
                final NodeView node = client.get(user, ids.get(i));
                assertNotNull(node, "User " + ids.get(i));
                assertEquals("user-" + (i + 1), node.getString(name), "User " + ids.get(i));
            }
        }

        // ... and the last one through "spate get", as a user would.
        final long last = ids.get(ids.size() - 1);
        final JvmProcess get = scope.start("get", "io.spate.cli.ReadMain", "get", "User", Long.toString(last),
            "--schema", scope.schema, "--dir", dir);
        assertEquals(0, get.awaitExit(EXIT_TIMEOUT), get.output());
        assertTrue(get.output().contains("User#" + last + " ") && get.output().contains("name=\"user-1000\""), get.output());
    }

    /**
     * @return the example's classes and its Maven run-time class path, checked to hold spate-client and none
     * of the server's modules.
     */
    private static String exampleClassPath() throws Exception
    {
        final Path classes = EXAMPLES.resolve("classes");
        final Path dependencies = EXAMPLES.resolve("example.classpath");
        assertTrue(Files.isDirectory(classes) && Files.isRegularFile(dependencies),
            "the examples module is built before this one (the pipeline depends on it): " + EXAMPLES);
        final String runtime = Files.readString(dependencies, StandardCharsets.UTF_8).trim();
        for (final String entry : runtime.split(File.pathSeparator))
        {
            final String file = Path.of(entry).toAbsolutePath().normalize().toString();
            assertFalse(file.matches(".*(spate-(pipeline|driver|native|perf)|/(pipeline|driver|native|perf)/target/).*") ||
                file.contains("aeron-driver"), "the example needs the client only, yet its class path holds " + entry);
        }
        assertTrue(runtime.contains("spate-client") || runtime.contains("/client/target/classes"), runtime);
        return classes + File.pathSeparator + runtime;
    }
}
