package io.spate.cli;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.codec.RecordWriter;
import io.spate.store.ApplyResults;
import io.spate.store.NativeStore;
import io.spate.store.NodeView;
import io.spate.store.OffHeapBuffer;
import io.spate.wire.RecordStatus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tools' command lines, in this JVM: help, bad options (exit 2, one line), no driver (exit 1,
 * one line, at once rather than after Aeron's driver timeout), and the node format of {@code get}.
 */
class CliOptionsTest
{
    private final String schema = JvmProcess.exampleSchema().toString();
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

    private List<String> errLines()
    {
        final String text = errBytes.toString(StandardCharsets.UTF_8);
        errBytes.reset();
        return text.isEmpty() ? List.of() : List.of(text.split("\n"));
    }

    @Test
    void produceHelpAndBadOptions()
    {
        assertEquals(0, produce("--help"));
        assertTrue(outBytes.toString(StandardCharsets.UTF_8).contains("--response-channel"));
        assertEquals(2, produce("--records", "5"));
        assertOneLine("produce: --schema is required");
        assertEquals(2, produce("--schema", schema, "--records", "many"));
        assertOneLine("produce: --records needs a number");
        assertEquals(2, produce("--schema", schema, "--batch-size", "0"));
        assertOneLine("produce: --batch-size must be from 1");
        assertEquals(2, produce("--schema", schema, "--types", "User:2,Nope:1"));
        assertOneLine("produce: --types: schema social has no type named 'Nope'");
        assertEquals(2, produce("--schema", schema, "--ops", "create:50,upsert:50"));
        assertOneLine("produce: --ops wants");
        assertEquals(2, produce("--schema", schema, "--ops", "create:0"));
        assertOneLine("produce: --ops: the weights add up to 0");
        assertEquals(2, produce("--schema", schema, "--bogus"));
        assertOneLine("produce: unknown option '--bogus'");
        assertEquals(2, produce("--schema", schema, "--embedded-driver", "--dir", "/tmp/x"));
        assertOneLine("produce: --dir and --embedded-driver");
        assertEquals(1, produce("--schema", "/no/such/schema.json"));
        assertOneLine("produce: error: cannot read the schema file");
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
        assertEquals(2, StatMain.run(new String[]{ "--interval-ms", "soon" }, out, err));
        assertOneLine("stat: --interval-ms needs a number");
        assertEquals(0, StatMain.run(new String[]{ "--help" }, out, err));

        assertEquals(2, ReadMain.run(new String[]{ "get", "User", "--schema", schema }, out, err));
        assertOneLine("get: get wants TYPE ID");
        assertEquals(2, ReadMain.run(new String[]{ "count", "Nope", "--schema", schema }, out, err));
        assertOneLine("count: schema social has no type named 'Nope'");
        assertEquals(2, ReadMain.run(new String[]{ "count", "User" }, out, err));
        assertOneLine("count: --schema is required");
        assertEquals(2, ReadMain.run(new String[]{ "list" }, out, err));
        assertOneLine("read: the first argument must be get or count");
        assertEquals(1, ReadMain.run(new String[]{ "count", "User", "--schema", schema, "--dir", dir }, out, err));
        assertOneLine("count: error: no media driver is running in");
        assertEquals(0, ReadMain.run(new String[]{ "get", "--help" }, out, err));
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
