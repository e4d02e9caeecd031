package io.spate.cli;

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
 * {@code bin/spate get|count --cluster}: its help, bad cluster options (one line, exit 2, nothing started) and the
 * runs that end before any cluster answers (one line, exit 1). Reads from real members are
 * {@link ClusterReadCliTest}'s.
 */
class ReadClusterOptionsTest
{
    private static final String SCHEMA = JvmProcess.exampleSchema().toString();

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

    private int read(final String... args)
    {
        return ReadMain.run(args, out, err);
    }

    private List<String> errLines()
    {
        final String text = errBytes.toString(StandardCharsets.UTF_8);
        errBytes.reset();
        return text.isEmpty() ? List.of() : List.of(text.split("\n"));
    }

    @Test
    void helpNamesTheClusterOptions()
    {
        assertEquals(0, read("count", "--help"));
        final String help = outBytes.toString(StandardCharsets.UTF_8);
        assertTrue(help.contains("--cluster ENDPOINTS") && help.contains("--egress-channel CH") &&
            help.contains("--secret-file FILE") && help.contains("bin/spate get|count ... --cluster ENDPOINTS"), help);
    }

    @Test
    void badClusterOptionsAreOneLineAndExitTwo()
    {
        assertEquals(2, read("count", "User", "--schema", SCHEMA, "--cluster"));
        assertEquals(List.of("count: --cluster needs a value (see --help)"), errLines());
        assertEquals(2, read("count", "User", "--schema", SCHEMA, "--cluster", " "));
        assertEquals(List.of("count: --cluster needs a value (see --help)"), errLines());
        assertEquals(2, read("get", "User", "1", "--schema", SCHEMA, "--cluster", "localhost:20002"));
        assertEquals(List.of("get: --cluster must be ID=HOST:PORT,... with distinct member ids from 0 (e.g. " +
            "0=localhost:20002,1=localhost:20102,2=localhost:20202): localhost:20002"), errLines());
        assertEquals(2, read("count", "User", "--schema", SCHEMA, "--cluster", "0=localhost:1,0=localhost:2"));
        assertEquals(List.of("count: --cluster must be ID=HOST:PORT,... with distinct member ids from 0 (e.g. " +
            "0=localhost:20002,1=localhost:20102,2=localhost:20202): 0=localhost:1,0=localhost:2"), errLines());
        assertEquals(2, read("count", "User", "--schema", SCHEMA, "--cluster", "0=localhost:20002", "--stream", "7"));
        assertEquals(List.of("count: --stream is for a single pipeline, not with --cluster (the cluster client " +
            "finds the leader's ingress itself) (see --help)"), errLines());
        assertEquals(2, read("get", "User", "1", "--schema", SCHEMA, "--egress-channel",
            "aeron:udp?endpoint=localhost:0"));
        assertEquals(List.of("get: --egress-channel needs --cluster (a single pipeline answers on " +
            "--response-channel) (see --help)"), errLines());
        assertEquals(2, read("count", "User", "--schema", SCHEMA, "--cluster", "0=localhost:20002",
            "--egress-channel", "aeron:ipc"));
        assertEquals(List.of("count: --egress-channel must be aeron:udp?endpoint=HOST:PORT, an address the nodes " +
            "can reach (port 0: any free one): aeron:ipc"), errLines());
        assertEquals(2, read("count", "User", "--schema", SCHEMA, "--cluster", "0=localhost:20002", "--secret-file",
            "/no/such/secret"));
        final List<String> secret = errLines();
        assertEquals(1, secret.size(), secret.toString());
        assertTrue(secret.get(0).startsWith("count: --secret-file cannot be read: /no/such/secret: "), secret.get(0));
        assertEquals("", outBytes.toString(StandardCharsets.UTF_8), "nothing read");
    }

    @Test
    void withADirWithoutADriverItFailsAtOnce() throws Exception
    {
        emptyDirectory = JvmProcess.temporaryDirectory("spate-read-empty-");
        assertEquals(1, read("count", "User", "--schema", SCHEMA, "--cluster", "0=localhost:20002", "--dir",
            emptyDirectory.resolve("aeron").toString()));
        final List<String> lines = errLines();
        assertEquals(1, lines.size(), lines.toString());
        assertTrue(lines.get(0).startsWith("count: error: no media driver is running in"), lines.get(0));
    }

    @Test
    void withNoClusterAtTheEndpointsItFailsWithOneLineAfterTheTimeout()
    {
        // Its own embedded driver starts (and its directory goes again); nobody listens on the member's port.
        assertEquals(1, read("get", "User", "1", "--schema", SCHEMA, "--cluster", "0=localhost:1",
            "--timeout-ms", "1500"));
        final List<String> lines = errLines();
        assertEquals(1, lines.size(), lines.toString());
        assertTrue(lines.get(0).startsWith("get: error: cannot open a session with the cluster at 0=localhost:1"),
            lines.get(0));
        assertEquals("", outBytes.toString(StandardCharsets.UTF_8));
    }
}
