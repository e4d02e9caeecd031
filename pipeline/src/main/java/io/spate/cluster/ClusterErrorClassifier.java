package io.spate.cluster;

import io.aeron.cluster.client.ClusterEvent;
import io.aeron.exceptions.AeronException;
import io.aeron.exceptions.TimeoutException;

import java.util.List;

/**
 * Tells a normal leader change apart from an error among what Aeron Cluster's consensus module reports to its
 * error handler. Aeron 1.51 reports the start of every election, an election that must begin again because a new
 * leader showed up, an election step that gave up waiting for a leader that went away meanwhile, and a new
 * leader's quorum position below the commit position before its followers report in its term, with category
 * WARN through the counted error handler, so its error counter ("Cluster Errors") rises on every
 * failover. Those reports are warnings here; every other report, a WARN one not on the lists included, stays an
 * error.
 */
public final class ClusterErrorClassifier
{
    /**
     * How the leader-change events' messages begin (after Aeron's "WARN - "): {@link ClusterEvent}s, as
     * ConsensusModuleAgent and Election word them in Aeron 1.51.
     */
    static final List<String> LEADER_CHANGE_EVENTS = List.of(
        // ConsensusModuleAgent.enterElection: a member starts an election.
        "leader heartbeat timeout", // the leader went silent (killed, stopped, cut off)
        "log disconnected from leader: eos=", // the leader's log stream ended (eos=true: it closed it)
        "inactive follower quorum", // a leader that lost its followers steps down
        "unexpected vote request:", // another member started an election
        "unexpected new leadership term event:", // another member was elected meanwhile
        "unexpected commit position from new leader", // the same, seen from its commit position
        // Election: an election under way begins again.
        "potential new election in progress",
        "new leader detected due to commit position",
        "Truncating Cluster Log", // a former leader drops the entries its successor never committed
        // ConsensusModuleAgent.updateLeaderPosition: a new leader whose followers have not reported their position
        // in its term yet, or a leader that lost a member its commit position counted on.
        "quorum position went backwards:");

    /**
     * How Election's step timeouts begin ({@link TimeoutException}s, Aeron 1.51): a follower gave up waiting for
     * the leader it was joining, which went away during the election; the election begins again.
     */
    static final List<String> ELECTION_STEP_TIMEOUTS = List.of(
        "failed to join live log", // and "... as follower"
        "failed to join catchup log", // and "... as follower"
        "failed to send catchup position",
        "ready follower failed to notify leader",
        "timeout awaiting commit position");

    private static final String WARN_PREFIX = AeronException.Category.WARN.name() + " - ";

    private ClusterErrorClassifier()
    {
    }

    /**
     * @param error what the consensus module reported.
     * @return the event's text (without the category) when it is part of a normal leader change, else null: an
     * error.
     */
    public static String leaderChange(final Throwable error)
    {
        final List<String> beginnings;
        if (error instanceof ClusterEvent)
        {
            beginnings = LEADER_CHANGE_EVENTS;
        }
        else if (error instanceof TimeoutException)
        {
            beginnings = ELECTION_STEP_TIMEOUTS;
        }
        else
        {
            return null;
        }
        if (((AeronException)error).category() != AeronException.Category.WARN)
        {
            return null;
        }
        final String message = String.valueOf(error.getMessage());
        final String text = message.startsWith(WARN_PREFIX) ? message.substring(WARN_PREFIX.length()) : message;
        for (final String beginning : beginnings)
        {
            if (text.startsWith(beginning))
            {
                return text.replace('\n', ' ').replace('\r', ' ');
            }
        }
        return null;
    }
}
