package io.spate.cli;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static io.spate.cli.ProcessScope.EXIT_TIMEOUT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code spate pipeline} refuses to start with one line saying what to do, and exit status 1: no
 * driver in the directory, a schema file that is missing or not a schema, and --embedded-driver on a
 * directory a live driver uses; with exit status 2 and one line naming the flag: a bad flag value.
 */
@Timeout(120)
class PipelineStartupErrorsTest
{
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
    void noDriverRunning() throws Exception
    {
        final String dir = scope.aeronDirectory("spate-cli-nodriver-");
        final JvmProcess pipeline = scope.startPipeline("--dir", dir);
        assertOneErrorLine(pipeline, "driver");
    }

    @Test
    void badSchemaFile() throws Exception
    {
        final Path files = scope.directory("spate-cli-schema-");
        final Path bad = files.resolve("bad.json");
        Files.writeString(bad, "{ \"name\": \"broken\", \"types\": [ { \"name\": ", StandardCharsets.UTF_8);
        final JvmProcess badJson = scope.start("pipeline-bad-schema", "io.spate.cli.PipelineMain",
            "--schema", bad.toString(), "--embedded-driver", "--dir", scope.aeronDirectory("spate-cli-schema-dir-"));
        final JvmProcess missing = scope.start("pipeline-missing-schema", "io.spate.cli.PipelineMain",
            "--schema", files.resolve("missing.json").toString(), "--embedded-driver", "--dir",
            scope.aeronDirectory("spate-cli-schema-dir-"));
        assertOneErrorLine(badJson, "bad.json");
        assertOneErrorLine(missing, "missing.json");
        assertTrue(missing.lines().contains("pipeline: error: cannot read the schema file " +
            files.resolve("missing.json") + ": no such file"), missing.output());
        final String jsonError = badJson.lines().stream().filter((line) -> line.startsWith("pipeline: error: "))
            .findFirst().orElseThrow();
        assertTrue(jsonError.startsWith("pipeline: error: bad schema: " + bad + ": not valid JSON at line 1, column "),
            jsonError);
        assertTrue(!jsonError.contains("Source") && !jsonError.contains("REDACTED"), jsonError);
    }

    @Test
    void badFlagValueNamesTheFlagAndExitsTwo() throws Exception
    {
        final JvmProcess zeroWorkers = scope.startPipeline("--workers", "0", "--embedded-driver", "--dir",
            scope.aeronDirectory("spate-cli-workers-"));
        final JvmProcess notANumber = scope.startPipeline("--workers", "abc", "--embedded-driver", "--dir",
            scope.aeronDirectory("spate-cli-workers-"));
        assertEquals(2, zeroWorkers.awaitExit(EXIT_TIMEOUT), zeroWorkers.output());
        assertEquals(List.of("pipeline: --workers must be 1..64: 0"), pipelineLines(zeroWorkers));
        assertEquals(2, notANumber.awaitExit(EXIT_TIMEOUT), notANumber.output());
        assertEquals(List.of("pipeline: --workers needs a whole number: abc"), pipelineLines(notANumber));
    }

    private static List<String> pipelineLines(final JvmProcess pipeline)
    {
        return pipeline.lines().stream().filter((line) -> line.startsWith("pipeline:")).toList();
    }

    @Test
    void embeddedDriverOnADirectoryInUse() throws Exception
    {
        final String dir = scope.aeronDirectory("spate-cli-inuse-");
        final JvmProcess driver = scope.driver(dir);
        final JvmProcess pipeline = scope.startPipeline("--dir", dir, "--embedded-driver");
        assertOneErrorLine(pipeline, "use");
        assertTrue(driver.process().isAlive(), "the running driver is left alone");
    }

    private static void assertOneErrorLine(final JvmProcess pipeline, final String mentions) throws InterruptedException
    {
        final int status = pipeline.awaitExit(EXIT_TIMEOUT);
        final String output = pipeline.output();
        assertEquals(1, status, pipeline.name() + " exit status; output:\n" + output);
        final List<String> errors = pipeline.lines().stream().filter((line) -> line.startsWith("pipeline: error: ")).toList();
        assertEquals(1, errors.size(), "one error line:\n" + output);
        assertTrue(errors.get(0).contains(mentions), "the error says what is wrong (" + mentions + "): " + errors.get(0));
        assertTrue(pipeline.lines().stream().noneMatch((line) -> line.startsWith("\tat ") || line.contains("Exception in")),
            "no stack trace:\n" + output);
        assertTrue(pipeline.lines().stream().noneMatch("pipeline: ready"::equals), output);
    }
}
