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
 * {@code bin/spate produce --cluster}: its help, a bad client property (exit 2, one line naming it), and the runs
 * that end before any cluster answers (one line, exit 1). Bad flag values are rows of
 * {@link CliOptionsTest#badValues()}; runs against real nodes are the cluster tests'.
 */
class ProduceClusterOptionsTest
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

    private void assertOneLine(final String startsWith)
    {
        final List<String> lines = errLines();
        assertEquals(1, lines.size(), "one line: " + lines);
        assertTrue(lines.get(0).startsWith(startsWith), lines.get(0) + " should start with " + startsWith);
    }

    @Test
    void helpNamesTheClusterOptionsAndSummaryKeys()
    {
        assertEquals(0, produce("--help"));
        final String help = outBytes.toString(StandardCharsets.UTF_8);
        assertTrue(help.contains("--cluster ENDPOINTS") && help.contains("--egress-channel") &&
            help.contains("leader_changes=") && help.contains("resent_batches=") && help.contains("duplicate_acks="),
            help);
    }

    @Test
    void aBadClientPropertyIsNamedAndExitsTwo()
    {
        System.setProperty("spate.client.max.in.flight.batches", "4096");
        try
        {
            assertEquals(2, produce("--schema", SCHEMA, "--cluster", "0=localhost:20002"));
            assertEquals(List.of("produce: maxInFlightBatches (spate.client.max.in.flight.batches) must be 1..1024 " +
                "(the cluster answers resent batches from a ledger of the last 1024): 4096"), errLines());
        }
        finally
        {
            System.clearProperty("spate.client.max.in.flight.batches");
        }
        System.setProperty("spate.cluster.egress.channel", "aeron:ipc");
        try
        {
            assertEquals(2, produce("--schema", SCHEMA, "--cluster", "0=localhost:20002"));
            assertOneLine("produce: clusterEgressChannel (spate.cluster.egress.channel) must be " +
                "aeron:udp?endpoint=HOST:PORT");
        }
        finally
        {
            System.clearProperty("spate.cluster.egress.channel");
        }
    }

    @Test
    void withADirWithoutADriverItFailsAtOnce() throws Exception
    {
        // --dir names the driver to use instead of one of its own: none there, one line.
        emptyDirectory = JvmProcess.temporaryDirectory("spate-cli-empty-");
        assertEquals(1, produce("--schema", SCHEMA, "--cluster", "0=localhost:20002", "--dir",
            emptyDirectory.resolve("aeron").toString(), "--records", "10"));
        assertOneLine("produce: error: no media driver is running in");
    }

    @Test
    void withNoClusterAtTheEndpointsItFailsWithOneLineAfterTheTimeout()
    {
        // Its own embedded driver starts (and its directory goes again); nobody listens on the member's port.
        assertEquals(1, produce("--schema", SCHEMA, "--cluster", "0=localhost:1", "--records", "10",
            "--timeout-ms", "1500"));
        assertOneLine("produce: error: cannot open a session with the cluster at 0=localhost:1");
        final String output = outBytes.toString(StandardCharsets.UTF_8);
        assertTrue(output.contains(" (embedded driver) cluster=0=localhost:1 egress=aeron:udp?endpoint=localhost:0 "),
            output);
    }
}
