package io.spate.cluster;

import io.aeron.Aeron;
import io.aeron.CommonContext;
import io.aeron.cluster.ConsensusModule;
import io.aeron.cluster.client.ClusterEvent;
import io.aeron.cluster.client.ClusterException;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.aeron.exceptions.AeronException;
import io.aeron.exceptions.ChannelEndpointException;
import io.aeron.exceptions.TimeoutException;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.SleepingMillisIdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.errors.DistinctErrorLog;
import org.agrona.concurrent.errors.ErrorLogReader;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersManager;
import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a cluster member's consensus module reports, classified: the events Aeron 1.51 raises around a normal leader
 * change (built here exactly as ConsensusModuleAgent and Election build them) are warnings, everything else an
 * error; and {@link ConsensusErrorHandler} wired as the consensus module wires its handlers (Aeron's own
 * mark-file logging wrapped around it, a real error counter, a real AgentRunner): each error counted once,
 * warnings only in their own counter.
 */
class ClusterErrorClassifierTest
{
    @Test
    void theEventsOfANormalLeaderChangeAreWarnings()
    {
        final List<ClusterEvent> leaderChanges = List.of(
            new ClusterEvent("leader heartbeat timeout"),
            new ClusterEvent("log disconnected from leader: eos=false"),
            new ClusterEvent("log disconnected from leader: eos=true"),
            new ClusterEvent("inactive follower quorum"),
            new ClusterEvent("unexpected vote request: this.leadershipTermId=3 candidateTermId=4"),
            new ClusterEvent("unexpected new leadership term event: this.leadershipTermId=3 newLeadershipTermId=4"),
            new ClusterEvent("unexpected commit position from new leader -  memberId=1 this.leadershipTermId=3"),
            new ClusterEvent("potential new election in progress"),
            new ClusterEvent("new leader detected due to commit position -  memberId=2 this.leadershipTermId=3"),
            new ClusterEvent("Truncating Cluster Log - memberId=0 state=FOLLOWER_LOG_REPLICATION"),
            new ClusterEvent("quorum position went backwards: leaderCommitPosition=96 quorumPosition=0"));
        for (final ClusterEvent event : leaderChanges)
        {
            final String text = ClusterErrorClassifier.leaderChange(event);
            assertEquals(event.getMessage().substring("WARN - ".length()), text, event.getMessage());
        }
        assertEquals(ClusterErrorClassifier.LEADER_CHANGE_EVENTS.size(), leaderChanges.size() - 1,
            "every listed event is fed above (log disconnected twice)");
    }

    @Test
    void anElectionStepThatGaveUpOnALeaderThatWentAwayIsAWarning()
    {
        final List<TimeoutException> timeouts = List.of(
            new TimeoutException("failed to join live log", AeronException.Category.WARN),
            new TimeoutException("failed to join live log as follower", AeronException.Category.WARN),
            new TimeoutException("failed to join catchup log", AeronException.Category.WARN),
            new TimeoutException("failed to join catchup log as follower", AeronException.Category.WARN),
            new TimeoutException("failed to send catchup position", AeronException.Category.WARN),
            new TimeoutException("ready follower failed to notify leader", AeronException.Category.WARN),
            new TimeoutException("timeout awaiting commit position", AeronException.Category.WARN));
        for (final TimeoutException timeout : timeouts)
        {
            assertEquals(timeout.getMessage().substring("WARN - ".length()),
                ClusterErrorClassifier.leaderChange(timeout), timeout.getMessage());
        }
        assertEquals(ClusterErrorClassifier.ELECTION_STEP_TIMEOUTS.size(), timeouts.size() - 2,
            "every listed timeout is fed above (two with 'as follower')");
    }

    @Test
    void everythingElseIsAnError()
    {
        for (final Throwable error : List.of(
            new ClusterEvent("local archive is not connected", AeronException.Category.ERROR),
            new ClusterEvent("leader heartbeat timeout", AeronException.Category.ERROR),
            new ClusterEvent("Aeron client in service closed unexpectedly: serviceId=0"),
            new ClusterEvent("log recording stopped: eos=false"),
            new ClusterEvent("unknown session close: clusterSessionId=7 closeReason=TIMEOUT"),
            new ClusterEvent("no catchup progress: commitPosition=0"),
            new ClusterException("leader heartbeat timeout"),
            new ClusterException("failed to add live log as follower - aeron:udp", AeronException.Category.WARN),
            new TimeoutException("failed to join live log", AeronException.Category.ERROR),
            new TimeoutException("leader heartbeat timeout", AeronException.Category.WARN),
            new TimeoutException("awaiting abort latch", AeronException.Category.WARN),
            new AeronException("leader heartbeat timeout", AeronException.Category.WARN),
            new IllegalStateException("election in progress"),
            new RuntimeException((String)null)))
        {
            assertNull(ClusterErrorClassifier.leaderChange(error), error.toString());
        }
    }

    @Test
    void warningsAndErrorsAreCountedApartAndEachErrorOnce() throws Exception
    {
        final CountersManager counters = new CountersManager(
            new UnsafeBuffer(ByteBuffer.allocateDirect(64 * CountersReader.METADATA_LENGTH)),
            new UnsafeBuffer(ByteBuffer.allocateDirect(64 * CountersReader.COUNTER_LENGTH)));
        final AtomicCounter errorCounter = counters.newCounter("Cluster Errors");
        final UnsafeBuffer errorLogBuffer = new UnsafeBuffer(ByteBuffer.allocateDirect(64 * 1024));
        final ByteArrayOutputStream lines = new ByteArrayOutputStream();
        final PrintStream log = new PrintStream(lines, true, StandardCharsets.UTF_8);
        final ConsensusModule.Context context = new ConsensusModule.Context();
        final ConsensusErrorHandler handler = new ConsensusErrorHandler(2, log, context);
        // What ConsensusModule.Context.conclude makes of the handlers given: the mark file's error log around ours.
        context.errorCounter(errorCounter)
            .errorHandler(CommonContext.setupErrorHandler(handler.errorHandler(),
                new DistinctErrorLog(errorLogBuffer, System::currentTimeMillis)))
            .countedErrorHandler(handler.countedErrorHandler());

        // Through the counted handler, as ConsensusModuleAgent.enterElection and Election.handleError report.
        context.countedErrorHandler().onError(new ClusterEvent("leader heartbeat timeout"));
        context.countedErrorHandler().onError(new ClusterEvent("Truncating Cluster Log - memberId=2"));
        assertEquals(0, errorCounter.get(), "a leader change is no error");
        assertEquals(2, handler.leaderChangeWarnings());
        context.countedErrorHandler().onError(new ClusterEvent("local archive is not connected",
            AeronException.Category.ERROR));
        assertEquals(1, errorCounter.get());

        // Escaping a duty cycle: Aeron's AgentRunner counts it, then reports it.
        final AtomicBoolean thrown = new AtomicBoolean();
        final AgentRunner runner = new AgentRunner(new SleepingMillisIdleStrategy(1), context.errorHandler(),
            errorCounter, new org.agrona.concurrent.Agent()
            {
                public int doWork()
                {
                    if (thrown.compareAndSet(false, true))
                    {
                        throw new IllegalStateException("election in progress");
                    }
                    return 0;
                }

                public String roleName()
                {
                    return "throws-once";
                }
            });
        AgentRunner.startOnThread(runner);
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!lines.toString(StandardCharsets.UTF_8).contains("election in progress"))
        {
            assertTrue(System.nanoTime() < deadlineNs, "the runner reported the error");
            Thread.sleep(1);
        }
        runner.close();
        assertEquals(2, errorCounter.get(), "counted by the runner, not again");

        // From the module's Aeron client, which reports to the error handler uncounted.
        context.errorHandler().onError(new ChannelEndpointException(42, "sendmsg: network unreachable"));
        assertEquals(3, errorCounter.get(), "counted here");
        assertEquals(2, handler.leaderChangeWarnings(), "warnings untouched by errors");

        final List<String> printed = List.of(lines.toString(StandardCharsets.UTF_8).split(System.lineSeparator()));
        assertEquals(List.of(
            "node 2: warning: leader change: leader heartbeat timeout",
            "node 2: warning: leader change: Truncating Cluster Log - memberId=2",
            "node 2: consensus error: io.aeron.cluster.client.ClusterEvent: ERROR - local archive is not connected",
            "node 2: consensus error: java.lang.IllegalStateException: election in progress",
            "node 2: consensus error: io.aeron.exceptions.ChannelEndpointException: ERROR - sendmsg: network " +
                "unreachable"),
            printed.stream().map(String::trim).toList());
        assertEquals(5, ErrorLogReader.read(errorLogBuffer, (count, first, last, text) -> {}),
            "all of them in the mark file's error log, as Aeron keeps them");
    }

    @Test
    void theWarningsCounterCarriesTheWarningsSeenBeforeItExisted() throws Exception
    {
        final Path directory = Files.createTempDirectory("spate-consensus-errors-");
        final ConsensusModule.Context context = new ConsensusModule.Context();
        final ConsensusErrorHandler handler = new ConsensusErrorHandler(0, new PrintStream(new ByteArrayOutputStream()),
            context);
        context.errorHandler(handler.errorHandler()).countedErrorHandler(handler.countedErrorHandler());
        try (MediaDriver driver = MediaDriver.launch(new MediaDriver.Context()
            .aeronDirectoryName(directory.resolve("aeron").toString())
            .threadingMode(ThreadingMode.SHARED)
            .sharedIdleStrategy(new SleepingMillisIdleStrategy(1))
            .dirDeleteOnStart(true)
            .dirDeleteOnShutdown(true));
            Aeron reader = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName())))
        {
            context.countedErrorHandler().onError(new ClusterEvent("leader heartbeat timeout"));
            handler.countWarningsIn(driver.aeronDirectoryName());
            assertEquals(1, warningsCounterValue(reader.countersReader()));
            context.countedErrorHandler().onError(new ClusterEvent("inactive follower quorum"));
            assertEquals(2, warningsCounterValue(reader.countersReader()));
            handler.close();
            final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (warningsCounterValue(reader.countersReader()) != -1)
            {
                assertTrue(System.nanoTime() < deadlineNs, "the counter goes with its client");
                Thread.sleep(1);
            }
            context.countedErrorHandler().onError(new ClusterEvent("leader heartbeat timeout"));
            assertEquals(3, handler.leaderChangeWarnings(), "still counted, with no counter left to show it");
        }
        finally
        {
            org.agrona.IoUtil.delete(directory.toFile(), true);
        }
    }

    /**
     * @return the value of the one allocated warnings counter, -1 when there is none.
     */
    private static long warningsCounterValue(final CountersReader counters)
    {
        final long[] value = {-1};
        counters.forEach((counterId, typeId, keyBuffer, label) ->
        {
            if (typeId == ConsensusErrorHandler.LEADER_CHANGE_WARNINGS_TYPE_ID)
            {
                value[0] = counters.getCounterValue(counterId);
            }
        });
        return value[0];
    }
}
