package io.spate.cli;

import io.spate.client.NodeView;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordWriter;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.load.Demo;
import io.spate.store.ApplyResults;
import io.spate.store.NativeStore;
import io.spate.store.OffHeapBuffer;
import io.spate.wire.RecordStatus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tools' command lines, in this JVM: help, one convention for bad options and values (one line
 * naming the flag and ending with the value, exit 2, checked before anything is read or started), a
 * schema file that is missing or not JSON (one line, exit 1, no exception names, no Jackson noise), no
 * driver (exit 1, one line, at once rather than after Aeron's driver timeout), and the node format of
 * {@code get}. The driver's own command line is tested in DriverMainTest.
 */
class CliOptionsTest
{
    private static final String SCHEMA = JvmProcess.exampleSchema().toString();
    private static final String MISSING_SCHEMA = "/no/such/schema.json";

    private final String schema = SCHEMA;
    private final ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
    private final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(outBytes, true, StandardCharsets.UTF_8);
    private final PrintStream err = new PrintStream(errBytes, true, StandardCharsets.UTF_8);
    private Path emptyDirectory;

    @AfterEach
    void after()
    {
        JvmProcess.deleteRecursively(emptyDirectory);
    }

    private String noDriverDirectory() throws Exception
    {
        emptyDirectory = JvmProcess.temporaryDirectory("spate-cli-empty-");
        return emptyDirectory.resolve("aeron").toString();
    }

    private int produce(final String... args)
    {
        return ProduceMain.run(args, out, err, () -> false);
    }

    /**
     * Runs a command in this JVM the way bin/spate names it; only for command lines that end before a
     * pipeline or a demo would start.
     */
    private int command(final String command, final String... args) throws Exception
    {
        return switch (command)
        {
            case "pipeline" -> PipelineMain.run(args, out, err);
            case "produce" -> produce(args);
            case "stat" -> StatMain.run(args, out, err);
            case "get", "count" -> ReadMain.run(concat(command, args), out, err);
            case "demo" -> Demo.run(args, out, err);
            default -> throw new IllegalArgumentException(command);
        };
    }

    private static String[] concat(final String first, final String... rest)
    {
        final List<String> all = new ArrayList<>();
        all.add(first);
        all.addAll(Arrays.asList(rest));
        return all.toArray(new String[0]);
    }

    private List<String> errLines()
    {
        final String text = errBytes.toString(StandardCharsets.UTF_8);
        errBytes.reset();
        return text.isEmpty() ? List.of() : List.of(text.split("\n"));
    }

    /**
     * Every command, a bad value of each kind of flag: the line is {@code <command>: <flag> ...: <value>}.
     * The schema file named does not exist: flags are checked before the schema is read.
     */
    static Stream<Arguments> badValues()
    {
        return Stream.of(
            Arguments.of("pipeline", "--workers 0", "pipeline: --workers must be 1..64: 0"),
            Arguments.of("pipeline", "--profile fast", "pipeline: --profile must be default or low-latency: fast"),
            Arguments.of("pipeline", "--workers abc", "pipeline: --workers needs a whole number: abc"),
            Arguments.of("pipeline", "--workers 65", "pipeline: --workers must be 1..64: 65"),
            Arguments.of("pipeline", "--buffer-bytes 1000", "pipeline: --buffer-bytes must be 262144..1073741824 " +
                "bytes (at least one batch of spate.max.batch.bytes): 1000"),
            Arguments.of("pipeline", "--buffer-bytes lots", "pipeline: --buffer-bytes needs a size in bytes, " +
                "optionally with a suffix k, m or g (64m): lots"),
            Arguments.of("pipeline", "--ingress-stream x", "pipeline: --ingress-stream needs a whole number: x"),
            Arguments.of("pipeline", "--ingress udp:x", "pipeline: --ingress is not an Aeron channel " +
                "(aeron:ipc or aeron:udp?endpoint=HOST:PORT): udp:x"),
            Arguments.of("pipeline", "--drain-timeout-ms 0", "pipeline: --drain-timeout-ms must be 1..3600000: 0"),
            Arguments.of("pipeline", "--sync maybe --data /tmp/spate-cli-data", "pipeline: --sync must be none or data: maybe"),
            Arguments.of("pipeline", "--snapshot-ms 5", "pipeline: --sync, --snapshot-bytes and --snapshot-ms need " +
                "--data DIR (see --help)"),
            Arguments.of("produce", "--records 0", "produce: --records must be at least 1: 0"),
            Arguments.of("produce", "--records many", "produce: --records needs a whole number: many"),
            Arguments.of("produce", "--warmup-records -1", "produce: --warmup-records must be at least 0: -1"),
            Arguments.of("produce", "--warmup-records 1k", "produce: --warmup-records needs a whole number: 1k"),
            Arguments.of("produce", "--rate -1", "produce: --rate must be 0..1000000000: -1"),
            Arguments.of("produce", "--batch-size 0", "produce: --batch-size must be 1..8192: 0"),
            Arguments.of("produce", "--stream 1.5", "produce: --stream needs a whole number: 1.5"),
            Arguments.of("produce", "--timeout-ms -1", "produce: --timeout-ms must be 1..3600000: -1"),
            Arguments.of("produce", "--client-id 0", "produce: --client-id must not be 0: 0"),
            Arguments.of("produce", "--seed x", "produce: --seed needs a whole number: x"),
            Arguments.of("produce", "--response-channel aeron:tcp", "produce: --response-channel is not an Aeron " +
                "channel (aeron:ipc or aeron:udp?endpoint=HOST:PORT): aeron:tcp"),
            Arguments.of("produce", "--ops create:x", "produce: --ops weight of create needs a whole number: x"),
            Arguments.of("produce", "--ops create:-1", "produce: --ops weight of create must be 0..1000000: -1"),
            Arguments.of("produce", "--ops create:0", "produce: --ops weights must not all be 0: create:0"),
            Arguments.of("produce", "--cluster localhost:20002", "produce: --cluster must be ID=HOST:PORT,... with " +
                "distinct member ids from 0 (e.g. 0=localhost:20002,1=localhost:20102,2=localhost:20202): localhost:20002"),
            Arguments.of("produce", "--cluster 0=localhost:1,0=localhost:2", "produce: --cluster must be " +
                "ID=HOST:PORT,... with distinct member ids from 0 (e.g. 0=localhost:20002,1=localhost:20102," +
                "2=localhost:20202): 0=localhost:1,0=localhost:2"),
            Arguments.of("produce", "--cluster 0=localhost:20002 --egress-channel aeron:ipc", "produce: " +
                "--egress-channel must be aeron:udp?endpoint=HOST:PORT, an address the nodes can reach (port 0: any " +
                "free one): aeron:ipc"),
            Arguments.of("produce", "--cluster 0=localhost:20002 --channel aeron:ipc", "produce: --channel is for a " +
                "single pipeline, not with --cluster (the cluster client finds the leader's ingress itself) (see --help)"),
            Arguments.of("produce", "--cluster 0=localhost:20002 --response-channel aeron:ipc", "produce: " +
                "--response-channel is for a single pipeline, not with --cluster (the cluster client finds the " +
                "leader's ingress itself) (see --help)"),
            Arguments.of("produce", "--egress-channel aeron:udp?endpoint=localhost:0", "produce: --egress-channel " +
                "needs --cluster (a single pipeline answers on --response-channel) (see --help)"),
            Arguments.of("stat", "--interval-ms 5", "stat: --interval-ms must be 10..3600000: 5"),
            Arguments.of("stat", "--interval-ms soon", "stat: --interval-ms needs a whole number: soon"),
            Arguments.of("get", "User 0", "get: ID must be at least 1: 0"),
            Arguments.of("get", "User x", "get: ID needs a whole number: x"),
            Arguments.of("get", "User 1 --timeout-ms 0", "get: --timeout-ms must be 1..3600000: 0"),
            Arguments.of("count", "User --stream x", "count: --stream needs a whole number: x"),
            Arguments.of("demo", "--creates -1", "demo: --creates must be 1..10000000: -1"),
            Arguments.of("demo", "--creates 0", "demo: --creates must be 1..10000000: 0"),
            Arguments.of("demo", "--creates 1e6", "demo: --creates needs a whole number: 1e6"),
            Arguments.of("demo", "--workers 0", "demo: --workers must be 1..64: 0"));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("badValues")
    void aBadValueNamesTheFlagAndExitsTwo(final String command, final String args, final String expected)
        throws Exception
    {
        final List<String> arguments = new ArrayList<>(List.of(args.split(" ")));
        if (!"stat".equals(command))
        {
            arguments.addAll(List.of("--schema", MISSING_SCHEMA));
        }
        assertEquals(2, command(command, arguments.toArray(new String[0])), command + " " + arguments);
        assertEquals(List.of(expected), errLines());
        assertEquals("", outBytes.toString(StandardCharsets.UTF_8));
    }

    @Test
    void aBadValueThatNeedsTheSchemaNamesTheFlagAndExitsTwo() throws Exception
    {
        assertEquals(2, produce("--schema", schema, "--types", "User:2,Nope:1"));
        assertEquals(List.of("produce: --types must be a type of schema social (User, Post, Follow, Counter): Nope"),
            errLines());
        assertEquals(2, produce("--schema", schema, "--types", "User:-1"));
        assertEquals(List.of("produce: --types weight of User must be 0..1000000: -1"), errLines());
        assertEquals(2, command("count", "Nope", "--schema", schema));
        assertEquals(List.of("count: TYPE must be a type of schema social (User, Post, Follow, Counter): Nope"),
            errLines());
    }

    @Test
    void aBadSystemPropertyIsNamedAndExitsTwo() throws Exception
    {
        System.setProperty("spate.workers", "many");
        try
        {
            assertEquals(2, command("pipeline", "--schema", schema));
            assertEquals(List.of("pipeline: system property spate.workers needs a whole number: many"), errLines());
        }
        finally
        {
            System.clearProperty("spate.workers");
        }
        System.setProperty("spate.ingress.stream.id", "x");
        try
        {
            assertEquals(2, produce("--schema", schema));
            assertEquals(List.of("produce: system property spate.ingress.stream.id needs a whole number: x"), errLines());
            // The flag wins: the property is not read.
            assertEquals(2, produce("--schema", schema, "--stream", "7", "--records", "0"));
            assertEquals(List.of("produce: --records must be at least 1: 0"), errLines());
        }
        finally
        {
            System.clearProperty("spate.ingress.stream.id");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = { "pipeline", "produce", "get", "count", "demo" })
    void aMissingSchemaFileIsOneLineAndExitsOne(final String command) throws Exception
    {
        final String[] args = switch (command)
        {
            case "get" -> new String[]{ "User", "1", "--schema", MISSING_SCHEMA };
            case "count" -> new String[]{ "User", "--schema", MISSING_SCHEMA };
            default -> new String[]{ "--schema", MISSING_SCHEMA };
        };
        assertEquals(1, command(command, args));
        assertEquals(List.of(command + ": error: cannot read the schema file " + MISSING_SCHEMA + ": no such file"),
            errLines());
    }

    @ParameterizedTest
    @ValueSource(strings = { "pipeline", "produce", "count", "demo" })
    void aSchemaFileThatIsNotJsonIsOneLineWithLineAndColumn(final String command) throws Exception
    {
        emptyDirectory = JvmProcess.temporaryDirectory("spate-cli-schema-");
        final Path bad = emptyDirectory.resolve("bad.json");
        Files.writeString(bad, "{ \"name\": \"broken\",\n  \"types\": [ { \"name\": ", StandardCharsets.UTF_8);
        final String[] args = "count".equals(command) ?
            new String[]{ "User", "--schema", bad.toString() } : new String[]{ "--schema", bad.toString() };
        assertEquals(1, command(command, args));
        final List<String> lines = errLines();
        assertEquals(1, lines.size(), lines.toString());
        final String line = lines.get(0);
        assertTrue(line.startsWith(command + ": error: bad schema: " + bad + ": not valid JSON at line 2, column "), line);
        assertFalse(line.contains("Source") || line.contains("REDACTED") || line.contains("Exception"), line);
    }

    @Test
    void everyCommandHasHelpWithExitStatus() throws Exception
    {
        for (final String command : List.of("pipeline", "produce", "stat", "get", "count", "demo"))
        {
            outBytes.reset();
            assertEquals(0, command(command, "--help"), command);
            final String help = outBytes.toString(StandardCharsets.UTF_8);
            assertTrue(help.startsWith("Usage: bin/spate ") && help.contains("bin/spate " + command + " "), help);
            assertTrue(help.contains("Exit status: 0 "), help);
            assertFalse(help.matches("(?s).*\\d,\\d{3}.*"), "plain digits, no grouping: " + help);
        }
        assertEquals("", errBytes.toString(StandardCharsets.UTF_8));
    }

    @Test
    void produceHelpAndBadOptions()
    {
        assertEquals(0, produce("--help"));
        assertTrue(outBytes.toString(StandardCharsets.UTF_8).contains("--response-channel"));
        assertEquals(2, produce("--records", "5"));
        assertOneLine("produce: --schema is required");
        assertEquals(2, produce("--schema", schema, "--ops", "create:50,upsert:50"));
        assertOneLine("produce: --ops wants");
        assertEquals(2, produce("--schema", schema, "--bogus"));
        assertEquals(List.of("produce: unknown option '--bogus' (see --help)"), errLines());
        assertEquals(2, produce("--schema", schema, "--records", "1", "--records", "2"));
        assertEquals(List.of("produce: --records is given twice (see --help)"), errLines());
        assertEquals(2, produce("--schema", schema, "--embedded-driver", "--dir", "/tmp/x"));
        assertOneLine("produce: --dir and --embedded-driver");
    }

    @Test
    void produceWithoutADriverFailsAtOnce() throws Exception
    {
        // It does not wait for a driver that is not there: the run ends (no time asserted) with one line.
        assertEquals(1, produce("--schema", schema, "--dir", noDriverDirectory(), "--records", "10"));
        assertOneLine("produce: error: no media driver is running in");
    }

    @Test
    void statAndReadWithoutADriverOrWithBadOptions() throws Exception
    {
        final String dir = noDriverDirectory();
        assertEquals(1, StatMain.run(new String[]{ "--dir", dir, "--once", "--interval-ms", "10" }, out, err));
        assertOneLine("stat: error: no media driver in");
        assertEquals(0, StatMain.run(new String[]{ "--help" }, out, err));

        assertEquals(2, ReadMain.run(new String[]{ "get", "User", "--schema", schema }, out, err));
        assertEquals(List.of("get: get wants TYPE ID (see --help)"), errLines());
        assertEquals(2, ReadMain.run(new String[]{ "count", "User" }, out, err));
        assertOneLine("count: --schema is required");
        assertEquals(2, ReadMain.run(new String[]{ "list" }, out, err));
        assertEquals(List.of("read: the first argument must be get or count (see --help)"), errLines());
        assertEquals(1, ReadMain.run(new String[]{ "count", "User", "--schema", schema, "--dir", dir }, out, err));
        assertOneLine("count: error: no media driver is running in");
        assertEquals(0, ReadMain.run(new String[]{ "get", "--help" }, out, err));
    }

    @Test
    void pipelineWithoutADriverFailsAtOnce() throws Exception
    {
        assertEquals(1, PipelineMain.run(new String[]{ "--schema", schema, "--dir", noDriverDirectory() }, out, err));
        assertOneLine("pipeline: error: no media driver is running in");
    }

    @Test
    void getPrintsEveryFieldKind()
    {
        final DatabaseSchema social = SchemaCompiler.compile(JvmProcess.exampleSchema());
        final TypeDefinition post = social.type("Post");
        final TypeDefinition user = social.type("User");
        try (NativeStore store = NativeStore.open(social);
            OffHeapBuffer batch = new OffHeapBuffer(4096);
            OffHeapBuffer progress = new OffHeapBuffer(64);
            ApplyResults results = new ApplyResults(8);
            OffHeapBuffer buffer = new OffHeapBuffer(4096))
        {
            final RecordWriter writer = new RecordWriter(social);
            writer.wrap(batch.buffer(), 0, batch.capacityBytes()).beginBatch(1, 1);
            writer.create(post);
            writer.setLong(post.field("authorId"), -1L);
            writer.setLong(post.field("likes"), 7);
            writer.setString(post.field("title"), "say \"hi\"\n");
            writer.setBytes(post.field("attachment"), new byte[]{ 0x00, (byte)0xAB, 0x10 });
            writer.create(user);
            writer.setLong(user.field("karma"), -5);
            writer.setDouble(user.field("score"), 1.5);
            writer.setBoolean(user.field("verified"), true);
            final int length = writer.endBatch();
            final int applied = store.apply(batch.address(), length, progress.address(), results);
            for (int i = 0; i < applied; i++)
            {
                assertEquals(RecordStatus.OK.value(), results.status(i), "message " + i);
            }
            final NodeView view = new NodeView();
            int copied = store.get(post.typeId(), 1, buffer.address(), buffer.capacityBytes());
            assertEquals("Post#1 authorId=18446744073709551615 likes=7 shares=0 createdAt=0 title=\"say \\\"hi\\\"\\n\" " +
                "attachment=0x00ab10", ReadMain.format(view.wrap(post, buffer.buffer(), 0, copied), 1));
            copied = store.get(user.typeId(), 1, buffer.address(), buffer.capacityBytes());
            assertEquals("User#1 age=0 karma=-5 score=1.5 verified=true joinedAt=0 name=\"\" bio=\"\"",
                ReadMain.format(view.wrap(user, buffer.buffer(), 0, copied), 1));
        }
    }

    private void assertOneLine(final String startsWith)
    {
        final List<String> lines = errLines();
        assertEquals(1, lines.size(), "one line: " + lines);
        assertTrue(lines.get(0).startsWith(startsWith), lines.get(0) + " should start with " + startsWith);
    }
}
