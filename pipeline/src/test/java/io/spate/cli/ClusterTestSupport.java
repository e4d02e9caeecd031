package io.spate.cli;

import io.aeron.Aeron;
import io.aeron.cluster.ClusterControl;
import io.spate.cluster.ClusterNode;
import io.spate.cluster.NodeStatus;
import org.agrona.concurrent.status.AtomicCounter;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.function.BooleanSupplier;
import java.util.function.IntFunction;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the multi-process cluster tests share: waiting for an event within a bound, and the end-of-test check that
 * every member holds the same store.
 */
final class ClusterTestSupport
{
    private ClusterTestSupport()
    {
    }

    /**
     * Polls the condition every 20 ms until it holds.
     *
     * @param what      named in the failure.
     * @param timeout   the bound.
     * @param condition the event.
     * @param context   appended to the failure (the members' states).
     */
    static void awaitCondition(
        final String what, final Duration timeout, final BooleanSupplier condition, final Supplier<String> context)
        throws InterruptedException
    {
        final long deadlineNs = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean())
        {
            if (System.nanoTime() > deadlineNs)
            {
                throw new AssertionError("no " + what + " within " + timeout + context.get());
            }
            Thread.sleep(20);
        }
    }

    /**
     * Waits until every member has applied the same log (equal commit positions and applied batches, ten samples
     * in a row with nothing new applied), stops them with a cluster shutdown (the leader's control toggle: every
     * member takes a snapshot and terminates at the same log position, writing its store's fingerprint there into
     * its data directory) and asserts the fingerprints are equal. Not SIGTERM: members stopped one by one may stop
     * a log entry apart (a snapshot request the leader appends as the first one stops), equal stores at unequal
     * positions.
     *
     * @param nodes   the member processes, by member id.
     * @param root    holding each member's data directory, node-ID.
     * @param status  a member's status by member id.
     * @param timeout the bound on each wait.
     * @return the fingerprints, by member id.
     */
    static List<String> stopAllAndCompareStores(
        final JvmProcess[] nodes, final Path root, final IntFunction<NodeStatus> status, final Duration timeout)
        throws Exception
    {
        final long[] lastBatches = {-1};
        final int[] stableSamples = {0};
        awaitCondition("members applying the same log", timeout, () ->
        {
            final NodeStatus first = status.apply(0);
            boolean same = first.role().isUp();
            for (int i = 1; i < nodes.length && same; i++)
            {
                final NodeStatus other = status.apply(i);
                same = other.role().isUp() && other.commitPosition() == first.commitPosition() &&
                    other.batchesApplied() == first.batchesApplied();
            }
            stableSamples[0] = same && first.batchesApplied() == lastBatches[0] ? stableSamples[0] + 1 : 0;
            lastBatches[0] = first.batchesApplied();
            return stableSamples[0] >= 10;
        }, () ->
        {
            final StringBuilder statuses = new StringBuilder("; members:");
            for (int i = 0; i < nodes.length; i++)
            {
                statuses.append("\n  ").append(status.apply(i));
            }
            return statuses.toString();
        });
        requestShutdown(root, status, nodes.length, timeout);
        final List<String> fingerprints = new ArrayList<>();
        for (int i = 0; i < nodes.length; i++)
        {
            assertEquals(0, nodes[i].awaitExit(timeout), nodes[i].output());
            final Path file = root.resolve("node-" + i).resolve(ClusterNode.FINGERPRINT_FILE);
            assertTrue(Files.exists(file), "member " + i + " wrote its fingerprint on stop");
            fingerprints.add(Files.readString(file).trim());
        }
        for (int i = 1; i < nodes.length; i++)
        {
            assertEquals(fingerprints.get(0), fingerprints.get(i), "member " + i + " holds what member 0 holds");
        }
        return fingerprints;
    }

    /**
     * Toggles SHUTDOWN on the leader's control toggle (through a client of its media driver, found from its
     * {@code node.properties}), retrying while another action (a periodic snapshot) holds the toggle.
     */
    private static void requestShutdown(
        final Path root, final IntFunction<NodeStatus> status, final int members, final Duration timeout)
        throws InterruptedException, IOException
    {
        int leader = -1;
        for (int i = 0; i < members && leader < 0; i++)
        {
            leader = status.apply(i).role() == NodeStatus.Role.LEADER ? i : -1;
        }
        assertTrue(leader >= 0, "a leader to shut the cluster down through");
        final Properties properties = new Properties();
        try (Reader reader = Files.newBufferedReader(
            root.resolve("node-" + leader).resolve(NodeStatus.PROPERTIES_FILE)))
        {
            properties.load(reader);
        }
        final int clusterId = Integer.parseInt(properties.getProperty(
            NodeStatus.CLUSTER_ID_PROPERTY, Integer.toString(NodeStatus.CLUSTER_ID_DEFAULT)).trim());
        try (Aeron aeron = Aeron.connect(new Aeron.Context()
            .aeronDirectoryName(properties.getProperty(NodeStatus.AERON_DIR_PROPERTY).trim())))
        {
            final AtomicCounter toggle = ClusterControl.findControlToggle(aeron.countersReader(), clusterId);
            assertTrue(null != toggle, "the leader's control toggle");
            awaitCondition("the cluster's shutdown toggled", timeout,
                () -> ClusterControl.ToggleState.SHUTDOWN.toggle(toggle), () -> "");
        }
    }
}
