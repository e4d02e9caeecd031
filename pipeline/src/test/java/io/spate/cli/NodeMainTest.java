package io.spate.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The command lines of {@code bin/spate node} and {@code bin/spate cluster}, in this JVM: help, and every bad
 * option or value refused with one line and exit 2 (a schema file that cannot be read: exit 1), before a member,
 * its driver or its process is started. Every command line here is bad: none of them starts a node.
 */
class NodeMainTest
{
    private static final String SCHEMA = JvmProcess.exampleSchema().toString();
    private static final String MISSING_SCHEMA = "/no/such/schema.json";
    private static final String DATA = "/tmp/spate-node-main-test-never-created";

    private final ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
    private final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(outBytes, true, StandardCharsets.UTF_8);
    private final PrintStream err = new PrintStream(errBytes, true, StandardCharsets.UTF_8);

    private int command(final String command, final String... args)
    {
        return switch (command)
        {
            case "node" -> NodeMain.run(args, out, err);
            case "cluster" -> ClusterMain.run(args, out, err);
            default -> throw new IllegalArgumentException(command);
        };
    }

    private List<String> errLines()
    {
        final String text = errBytes.toString(StandardCharsets.UTF_8);
        errBytes.reset();
        return text.isEmpty() ? List.of() : List.of(text.split("\n"));
    }

    static Stream<Arguments> badCommandLines()
    {
        final String schema = "--schema " + SCHEMA;
        final String missing = "--schema " + MISSING_SCHEMA;
        return Stream.of(
            Arguments.of("node", "", "node: --id is required: this member's id (see --help)"),
            Arguments.of("node", "--schema " + SCHEMA + " --data " + DATA, "node: --id is required: this member's id " +
                "(see --help)"),
            Arguments.of("node", "--id 0 --data " + DATA, "node: --schema is required: the database schema file (JSON) " +
                "(see --help)"),
            Arguments.of("node", "--id 0 " + schema, "node: --data is required: this member's data directory " +
                "(see --help)"),
            Arguments.of("node", "--id 3 " + missing + " --data " + DATA, "node: --id must be 0..2: 3"),
            Arguments.of("node", "--id -1 " + missing + " --data " + DATA, "node: --id must be 0..2: -1"),
            Arguments.of("node", "--id one " + missing + " --data " + DATA, "node: --id needs a whole number: one"),
            Arguments.of("node", "--id 1 --members solo " + missing + " --data " + DATA, "node: --id must be 0..0: 1"),
            Arguments.of("node", "--id 0 --members a,,b " + missing + " --data " + DATA,
                "node: --members: not a host name: ''"),
            Arguments.of("node", "--id 0 --members a|b " + missing + " --data " + DATA,
                "node: --members: not a host name: 'a|b'"),
            Arguments.of("node", "--id 0 --members a,b,c,d,e,f,g,h " + missing + " --data " + DATA,
                "node: --members: a cluster has 1..7 members: [a, b, c, d, e, f, g, h]"),
            Arguments.of("node", "--id 0 --port-base 80 " + missing + " --data " + DATA,
                "node: --port-base must be 1024..65000: 80"),
            Arguments.of("node", "--id 0 --members a,b,c,d,e,f,g --port-base 65000 " + missing + " --data " + DATA,
                "node: --members: port base 65000 leaves no room for 7 members (100 ports each, below 65535)"),
            Arguments.of("node", "--id 0 --sync maybe " + missing + " --data " + DATA,
                "node: --sync must be none or data: maybe"),
            Arguments.of("node", "--id 0 --sync maybe " + schema + " --data " + DATA,
                "node: --sync must be none or data: maybe"),
            Arguments.of("node", "--id 0 --heartbeat-timeout-ms 5 " + schema + " --data " + DATA,
                "node: --heartbeat-timeout-ms must be 100..3600000: 5"),
            Arguments.of("node", "--id 0 --session-timeout-ms x " + schema + " --data " + DATA,
                "node: --session-timeout-ms needs a whole number: x"),
            Arguments.of("node", "--id 0 --snapshot-ms -1 " + schema + " --data " + DATA,
                "node: --snapshot-ms must be 0..31536000000: -1"),
            Arguments.of("node", "--id 0 --bogus " + schema + " --data " + DATA,
                "node: unknown option '--bogus' (see --help)"),
            Arguments.of("node", "--id 0 --nodes 3 " + schema + " --data " + DATA,
                "node: unknown option '--nodes' (see --help)"),
            Arguments.of("node", "--id 0 --id 1 " + schema + " --data " + DATA, "node: --id is given twice (see --help)"),
            Arguments.of("node", "--id 0 extra " + schema + " --data " + DATA,
                "node: unexpected argument 'extra' (see --help)"),
            Arguments.of("node", "--id 0 " + schema + " --data", "node: --data needs a value (see --help)"),

            Arguments.of("cluster", "", "cluster: --schema is required: the database schema file (JSON) (see --help)"),
            Arguments.of("cluster", schema, "cluster: --data is required: the directory for the members' data " +
                "(see --help)"),
            Arguments.of("cluster", schema + " --data " + DATA + " --nodes 0", "cluster: --nodes must be 1..7: 0"),
            Arguments.of("cluster", schema + " --data " + DATA + " --nodes 8", "cluster: --nodes must be 1..7: 8"),
            Arguments.of("cluster", schema + " --data " + DATA + " --port-base 1000",
                "cluster: --port-base must be 1024..65000: 1000"),
            Arguments.of("cluster", schema + " --data " + DATA + " --nodes 7 --port-base 65000",
                "cluster: --port-base: port base 65000 leaves no room for 7 members (100 ports each, below 65535)"),
            Arguments.of("cluster", schema + " --data " + DATA + " --sync maybe",
                "cluster: --sync must be none or data: maybe"),
            Arguments.of("cluster", schema + " --data " + DATA + " --snapshot-ms -1",
                "cluster: --snapshot-ms must be 0..31536000000: -1"),
            Arguments.of("cluster", schema + " --data " + DATA + " --heartbeat-timeout-ms 5",
                "cluster: --heartbeat-timeout-ms must be 100..3600000: 5"),
            Arguments.of("cluster", schema + " --data " + DATA + " --id 0", "cluster: unknown option '--id' (see --help)"),
            Arguments.of("cluster", schema + " --data " + DATA + " --members a,b",
                "cluster: unknown option '--members' (see --help)"),
            Arguments.of("cluster", schema + " --data " + DATA + " extra",
                "cluster: unexpected argument 'extra' (see --help)"));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("badCommandLines")
    void aBadCommandLineIsOneLineAndExitsTwo(final String command, final String args, final String expected)
    {
        final List<String> arguments = args.isEmpty() ? List.of() : List.of(args.split(" "));
        assertEquals(2, command(command, arguments.toArray(new String[0])), command + " " + arguments);
        assertEquals(List.of(expected), errLines());
        assertEquals("", outBytes.toString(StandardCharsets.UTF_8), "nothing started");
    }

    @Test
    void aBadIdleStrategyIsOneLineAndExitsTwo()
    {
        assertEquals(2, command("node", "--id", "0", "--idle", "sometimes", "--schema", MISSING_SCHEMA, "--data", DATA));
        final List<String> lines = errLines();
        assertEquals(1, lines.size(), lines.toString());
        assertTrue(lines.get(0).startsWith("node: ") && lines.get(0).contains("sometimes"), lines.get(0));

        // Passed to every member by cluster: checked before any is started.
        assertEquals(2, command("cluster", "--schema", MISSING_SCHEMA, "--data", DATA, "--nodes", "1", "--idle",
            "sometimes"));
        final List<String> clusterLines = errLines();
        assertEquals(1, clusterLines.size(), clusterLines.toString());
        assertTrue(clusterLines.get(0).startsWith("cluster: ") && clusterLines.get(0).contains("sometimes"),
            clusterLines.get(0));
        assertEquals("", outBytes.toString(StandardCharsets.UTF_8));
    }

    @Test
    void aSchemaFileThatCannotBeReadIsOneLineAndExitsOne()
    {
        assertEquals(1, command("node", "--id", "0", "--schema", MISSING_SCHEMA, "--data", DATA));
        assertEquals(List.of("node: error: cannot read the schema file " + MISSING_SCHEMA + ": no such file"),
            errLines());
        assertEquals("", outBytes.toString(StandardCharsets.UTF_8));
    }

    @Test
    void helpExitsZeroWithTheOptionsAndExitStatus()
    {
        for (final String command : List.of("node", "cluster"))
        {
            for (final String[] args : List.of(new String[]{ "--help" }, new String[]{ "-h" },
                new String[]{ "--id", "99", "--help" }))
            {
                outBytes.reset();
                assertEquals(0, command(command, args), command);
                final String help = outBytes.toString(StandardCharsets.UTF_8);
                assertTrue(help.startsWith("Usage: bin/spate " + command + " "), help);
                assertTrue(help.contains("--schema FILE") && help.contains("--data ") && help.contains("--sync"), help);
                assertTrue(help.contains("Exit status: 0 "), help);
                assertFalse(help.matches("(?s).*\\d,\\d{3}.*"), "plain digits, no grouping: " + help);
            }
        }
        outBytes.reset();
        command("node", "--help");
        final String nodeHelp = outBytes.toString(StandardCharsets.UTF_8);
        assertTrue(nodeHelp.contains("--id N") && nodeHelp.contains("--members HOSTS") &&
            nodeHelp.contains("spate.cluster.ack.ledger.batches"), nodeHelp);
        assertEquals("", errBytes.toString(StandardCharsets.UTF_8));
    }
}
