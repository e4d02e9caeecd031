package io.spate.cli;

import io.aeron.CncFileDescriptor;
import io.aeron.cluster.ClusterControl;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.spate.client.NodeView;
import io.spate.client.SpateClient;
import io.spate.cluster.ClusterMembers;
import io.spate.cluster.NodeStatus;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.pipeline.SpateClusteredService;
import io.spate.wire.RecordStatus;
import org.agrona.IoUtil;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.MappedByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A randomized fault test of the three-member cluster, seeded and replayable. Every member and producer is a
 * process of its own; a background producer ({@link ClusterFaultProducer}) writes all along, and each step
 * injects one fault drawn from the seed ({@link FaultSchedule}): the leader SIGKILLed; a follower SIGKILLed
 * for a while; a member SIGKILLed while a snapshot it was asked for is being taken; a producer on a 64 KiB
 * egress term that stops reading for seconds (sometimes while the leader dies, sometimes first stalled past the
 * session timeout, losing its session with a batch in flight); a producer with hundreds of
 * small batches in flight when the leader dies. A killed member restarts and must catch up before the next step.
 * <p>
 * Invariants, checked as the run goes (producers report at once; members must not die on their own; after
 * every fault the cluster must elect, take writes again and let a restarted member catch up, each within 60 s)
 * and at the end, from the producers' journals and the store read through the cluster:
 * <ul>
 * <li>every batch sent has exactly one outcome: its ack, or the end of its session (outcome unknown);</li>
 * <li>every ack is OK with one id per record; no id is given twice, over all producers;</li>
 * <li>no acked record is lost and none is applied twice: per type, the live count equals the acked creates
 * plus the records of unknown-outcome batches found in the store; every id in 1..count not acked is read back
 * and must hold a record of an unknown-outcome batch, each at most once; a sample of acked ids (the newest of
 * every producer and random ones) is read back with its values;</li>
 * <li>the members, stopped at the same log position, hold the same store (their fingerprints).</li>
 * </ul>
 * No assertion depends on speed. The seed is printed first and on every progress line; a passing run ends with a
 * summary (steps per fault, batches and records sent, acked, of unknown outcome, failed; the fingerprints); a
 * failure lists each broken invariant with the step it happened in and the members' and producers' state.
 * <p>
 * {@code -Dspate.test.cluster.fault.seed=N} replays a run, {@code -Dspate.test.cluster.fault.steps=N} (default
 * {@value #DEFAULT_STEPS}) or {@code -Dspate.test.cluster.fault.minutes=M} sets its length, and
 * {@code -Dspate.test.cluster.fault.dir=DIR} puts the members' data there (a long run: on disk, not /dev/shm),
 * {@code -Dspate.test.cluster.fault.faults=KILL_LEADER,SLOW_CLIENT} narrows the faults drawn.
 */
class ClusterFaultTest
{
    static final String SEED_PROP = "spate.test.cluster.fault.seed";
    static final String STEPS_PROP = "spate.test.cluster.fault.steps";
    static final String MINUTES_PROP = "spate.test.cluster.fault.minutes";
    static final String DIR_PROP = "spate.test.cluster.fault.dir";
    static final String SAMPLE_READS_PROP = "spate.test.cluster.fault.sample.reads";
    static final String FAULTS_PROP = "spate.test.cluster.fault.faults";
    static final int DEFAULT_STEPS = 5;

    private static final int MEMBERS = 3;
    private static final long HEARTBEAT_TIMEOUT_MS = 1_500;
    /** A client silent this long loses its session: above the slow reader's pauses (at most 4 s), below its freeze. */
    private static final long SESSION_TIMEOUT_MS = 6_000;
    private static final Duration EVENT_TIMEOUT = Duration.ofSeconds(60);
    private static final long PRODUCER_TIMEOUT_MS = 30_000;
    private static final int NEWEST_READS_PER_PRODUCER = 20;
    /** More egress offer retries than one answer's attempts: acks were kept and retried by the unsent-ack timer. */
    private static final long SUSTAINED_EGRESS_RETRIES = 12;

    private ProcessScope scope;
    private DatabaseSchema schema;
    private ClusterMembers members;
    private Path root;
    private final JvmProcess[] nodes = new JvmProcess[MEMBERS];
    /** Every run of every member, for the error lines of the report. */
    private final List<JvmProcess> nodeRuns = new ArrayList<>();
    /** The members' state just before the end stopped them. */
    private String membersAtTheEnd = "";
    private long testStartMs;
    /** Members this test has killed and not restarted yet: their death is no finding. */
    private final boolean[] killed = new boolean[MEMBERS];
    private final List<Producer> producers = new ArrayList<>();
    private final List<Violation> violations = new ArrayList<>();
    private final List<String> stepLines = new ArrayList<>();
    /** Wall clock (ms) at which each step began, by step index (0: the start). */
    private final List<Long> stepStartMs = new ArrayList<>();
    private long seed;
    /** The options that replay this run's schedule (the seed, and the faults when narrowed). */
    private String replayOptions;
    /** The length option of the replay of a timed run; null for a run of steps. */
    private String replayLength;
    private FaultSchedule schedule;
    private int stepIndex;
    private String stepName = "start";
    private long testStartNs;
    private int nextProducerId = 1;
    /** Steps run per fault kind (a step that failed included). */
    private final Map<FaultSchedule.Fault, Integer> stepsByFault = new java.util.EnumMap<>(FaultSchedule.Fault.class);
    /** The journals' totals, once read at the end. */
    private Expected journalTotals;
    /** Whether the members' fingerprints came out equal at the end. */
    private boolean fingerprintsEqual;

    /** A producer process and its files. */
    private static final class Producer
    {
        final long id;
        final String role;
        final JvmProcess process;
        final Path journal;
        final Path stopFile;
        /** Output lines already looked at for VIOLATION. */
        int linesChecked;
        boolean stopped;

        Producer(final long id, final String role, final JvmProcess process, final Path journal, final Path stopFile)
        {
            this.id = id;
            this.role = role;
            this.process = process;
            this.journal = journal;
            this.stopFile = stopFile;
        }

        String name()
        {
            return process.name() + " (" + role + ")";
        }
    }

    /** A broken invariant: which, in which step, what exactly. */
    private record Violation(String invariant, int step, String stepName, String detail)
    {
    }

    /** A step cannot go on: the cluster did not do what it must within the bound. */
    private static final class StepFailed extends RuntimeException
    {
        StepFailed(final String message)
        {
            super(message);
        }
    }

    @BeforeEach
    void setUp() throws IOException
    {
        scope = new ProcessScope();
        schema = SchemaCompiler.compile(Path.of(scope.schema));
        final String dir = System.getProperty(DIR_PROP);
        if (null == dir || dir.isBlank())
        {
            root = scope.directory("spate-cluster-fault-");
        }
        else
        {
            Files.createDirectories(Path.of(dir));
            root = Files.createTempDirectory(Path.of(dir), "spate-cluster-fault-");
        }
        members = new ClusterMembers(List.of("localhost", "localhost", "localhost"), freePortBase());
    }

    @AfterEach
    void tearDown()
    {
        scope.close();
        for (int i = 0; i < MEMBERS; i++)
        {
            JvmProcess.deleteRecursively(Path.of(driverDir(i)));
        }
        for (final Producer producer : producers)
        {
            JvmProcess.deleteRecursively(Path.of(ClusterFaultProducer.driverDir(producer.process.process().pid())));
        }
        JvmProcess.deleteRecursively(root);
    }

    @Test
    void randomFaultsKeepEveryAckedRecordAndGiveEveryBatchOneOutcome()
    {
        seed = Long.getLong(SEED_PROP, System.nanoTime());
        final String minutesValue = System.getProperty(MINUTES_PROP);
        final double minutes = null == minutesValue || minutesValue.isBlank() ? 0 : Double.parseDouble(minutesValue);
        final int steps = minutes > 0 ? Integer.MAX_VALUE : Integer.getInteger(STEPS_PROP, DEFAULT_STEPS);
        final String faultsValue = System.getProperty(FAULTS_PROP, "").trim();
        final List<FaultSchedule.Fault> faults = new ArrayList<>();
        for (final String name : faultsValue.isEmpty() ? new String[0] : faultsValue.split(","))
        {
            faults.add(FaultSchedule.Fault.valueOf(name.trim().toUpperCase(Locale.ROOT)));
        }
        schedule = new FaultSchedule(seed, minutes > 0, faults.isEmpty() ? List.of(FaultSchedule.Fault.values()) : faults);
        replayOptions = "-D" + SEED_PROP + "=" + seed + (faults.isEmpty() ? "" : " -D" + FAULTS_PROP + "=" + faultsValue);
        final Duration bound = Duration.ofMinutes((long)Math.ceil(minutes) + 15 + (minutes > 0 ? 0 : steps));
        assertTimeoutPreemptively(bound, () -> run(steps, minutes), () -> "the fault test ran longer than " + bound +
            "; seed " + seed + "\n" + report());
    }

    private void run(final int steps, final double minutes) throws Exception
    {
        testStartNs = System.nanoTime();
        testStartMs = System.currentTimeMillis();
        final String length = minutes > 0 ? "-D" + MINUTES_PROP + "=" + minutesValue(minutes) : "-D" + STEPS_PROP + "=" + steps;
        // A timed run has its own pace (FaultSchedule's longRun): it is replayed with the same length (it stops at
        // its first broken invariant anyway); a run of steps needs only as many steps as ran.
        replayLength = minutes > 0 ? length : null;
        progress("seed=" + seed + " " + length + " (replay: " + replayOptions + " " + length + "); snapshots " +
            "every " + schedule.snapshotIntervalMs() + " ms; background load " + schedule.backgroundRecordsPerSecond() +
            " records/s in batches of 1.." + schedule.backgroundBatchMax() + "; members on ports " + members.port(0, 0) +
            "+; data in " + root);
        stepStartMs.add(System.currentTimeMillis());
        for (int i = 0; i < MEMBERS; i++)
        {
            nodes[i] = startNode(i);
        }
        try
        {
            awaitHealthy();
            final Producer background = startProducer("background", "--rate",
                Long.toString(schedule.backgroundRecordsPerSecond()), "--batch-min", "1", "--batch-max",
                Integer.toString(schedule.backgroundBatchMax()), "--seed", Long.toString(schedule.backgroundSeed()));
            awaitAcked(background, 1);

            final long endNs = testStartNs + (long)(minutes * 60e9);
            while (stepIndex < steps && (minutes <= 0 || System.nanoTime() < endNs))
            {
                final FaultSchedule.Step step = schedule.next();
                stepIndex = step.index();
                stepName = step.fault().name();
                stepStartMs.add(System.currentTimeMillis());
                stepsByFault.merge(step.fault(), 1, Integer::sum);
                final String line;
                try
                {
                    line = runStep(step, background);
                }
                catch (final StepFailed | AssertionError ex)
                {
                    violation("the cluster recovers from every fault within " + EVENT_TIMEOUT.toSeconds() + " s",
                        String.valueOf(ex.getMessage()));
                    stepLines.add(stepLabel(step) + ": FAILED");
                    break;
                }
                stepLines.add(stepLabel(step) + ": " + line);
                checkAsWeGo();
                progress(stepLabel(step) + ": " + line + " | " + totals());
                if (!violations.isEmpty())
                {
                    break; // the first broken invariant ends the faults; the end checks still run
                }
            }
        }
        catch (final StepFailed | AssertionError ex)
        {
            violation("the cluster starts and takes writes", String.valueOf(ex.getMessage()));
        }
        stepIndex++;
        stepName = "end";
        stepStartMs.add(System.currentTimeMillis());
        finish();
        if (!violations.isEmpty())
        {
            fail(report());
        }
        progress("passed: " + summary());
    }

    private static String minutesValue(final double minutes)
    {
        return minutes == Math.rint(minutes) ? Long.toString((long)minutes) : Double.toString(minutes);
    }

    private String stepLabel(final FaultSchedule.Step step)
    {
        return "step " + step.index() + " " + step.fault() + " (" + step.describe() + ")";
    }

    // ------------------------------------------------------------------------------------------
    // The faults
    // ------------------------------------------------------------------------------------------

    private String runStep(final FaultSchedule.Step step, final Producer background) throws Exception
    {
        awaitHealthy();
        sleep(step.loadBeforeMs());
        return switch (step.fault())
        {
            case KILL_LEADER -> killLeader(step, background);
            case KILL_FOLLOWER -> killFollower(step, background);
            case RESTART_IN_SNAPSHOT -> restartInSnapshot(step, background);
            case SLOW_CLIENT -> slowClient(step, background);
            case IN_FLIGHT_FAILOVER -> inFlightFailover(step, background);
        };
    }

    private String killLeader(final FaultSchedule.Step step, final Producer background) throws Exception
    {
        final StringBuilder line = new StringBuilder();
        final int leader = killLeaderAndAwaitNew(line, background);
        sleep(step.downMs());
        restartAndAwaitCaughtUp(leader, line);
        return line.toString();
    }

    private String killFollower(final FaultSchedule.Step step, final Producer background) throws Exception
    {
        final int follower = follower(step.followerPick());
        final long ackedBefore = acked(background);
        kill(follower);
        final StringBuilder line = new StringBuilder("killed follower " + follower);
        sleep(step.downMs());
        awaitAcked(background, ackedBefore + 1); // two members are a majority: writes go on
        line.append("; writes went on with two members");
        restartAndAwaitCaughtUp(follower, line);
        return line.toString();
    }

    private String restartInSnapshot(final FaultSchedule.Step step, final Producer background) throws Exception
    {
        final int leader = leader();
        final int victim = step.victimIsLeader() ? leader : follower(step.followerPick());
        final long snapshotsBefore = status(leader).snapshotCount();
        requestSnapshot(leader);
        final long askedNs = System.nanoTime();
        String seen = "";
        if (step.waitForSnapshotState())
        {
            final long deadlineNs = askedNs + TimeUnit.SECONDS.toNanos(5);
            while (System.nanoTime() < deadlineNs)
            {
                final NodeStatus victimStatus = status(victim);
                if ("SNAPSHOT".equals(victimStatus.moduleState()))
                {
                    seen = "SNAPSHOT";
                    break;
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
            }
        }
        else
        {
            sleep(step.snapshotKillDelayMs());
        }
        final NodeStatus before = status(victim);
        final long ackedBefore = acked(background);
        kill(victim);
        final StringBuilder line = new StringBuilder(String.format(Locale.ROOT,
            "snapshot asked of leader %d, member %d (%s) killed %.0f ms later in state %s (snapshots by the leader " +
            "since its start: %d before)", leader, victim, victim == leader ? "the leader" : "a follower",
            (System.nanoTime() - askedNs) / 1e6, seen.isEmpty() ? before.moduleState() : seen, snapshotsBefore));
        if (victim == leader)
        {
            final long killNs = System.nanoTime();
            final int newLeader = awaitLeader(victim);
            line.append(String.format(Locale.ROOT, "; new leader %d in %.1f s", newLeader,
                (System.nanoTime() - killNs) / 1e9));
        }
        awaitAcked(background, ackedBefore + 1);
        sleep(step.downMs());
        restartAndAwaitCaughtUp(victim, line);
        // The cluster can still snapshot, and a member killed in one loads an older one and replays.
        final int leaderNow = leader();
        final long count = status(leaderNow).snapshotCount();
        final long requestNs = System.nanoTime();
        awaitCondition("a snapshot after the restart (asked of leader " + leaderNow + ")", () ->
        {
            if (status(leaderNow).snapshotCount() > count)
            {
                return true;
            }
            if (System.nanoTime() - requestNs > TimeUnit.SECONDS.toNanos(1))
            {
                requestSnapshot(leaderNow); // no-op while one is pending or being taken
            }
            return false;
        });
        line.append(String.format(Locale.ROOT, "; the next snapshot taken %.1f s after the request",
            (System.nanoTime() - requestNs) / 1e9));
        return line.toString();
    }

    private String slowClient(final FaultSchedule.Step step, final Producer background) throws Exception
    {
        final Producer slow = startProducer("slow reader", "--egress-term-length", "65536",
            "--batch-min", Integer.toString(step.batchMin()), "--batch-max", Integer.toString(step.batchMax()),
            "--rate", "4000", "--pause-every-ms", Long.toString(step.pauseEveryMs()),
            "--pause-min-ms", Long.toString(step.pauseMinMs()), "--pause-max-ms", Long.toString(step.pauseMaxMs()),
            "--first-pause-ms", Long.toString(step.firstPauseMs()),
            "--seed", Long.toString(step.producerSeed()), "--report-ms", "250");
        final StringBuilder line = new StringBuilder(slow.process.name());
        if (step.firstPauseMs() > 0)
        {
            // Stalled past the session timeout: the cluster closes its session; it opens a new one and goes on. Before
            // any leader kill: an election refreshes every session's activity, and could let the stalled one live.
            awaitCondition(slow.name() + " losing its session and writing on a new one", () ->
            {
                if (!alive(slow))
                {
                    throw new StepFailed(slow.name() + " exited: " + lastLines(slow.process, 1) + stateNow());
                }
                return value(slow, "sessions") >= 2;
            });
            final long ackedOnNewSession = acked(slow);
            awaitAcked(slow, ackedOnNewSession + 1);
            line.append(" lost its session after its stall (").append(value(slow, "lost_batches"))
                .append(" batch(es) of unknown outcome), acked again on a new one;");
        }
        final int leaderAtStart = leader();
        final long retriesAtStart = egressRetries(leaderAtStart);
        int killedLeader = -1;
        int leaderNow = leaderAtStart;
        long retriesSince = retriesAtStart;
        if (step.killLeaderToo())
        {
            // Once the leader's egress to it keeps pushing back (acks kept, the unsent-ack timer firing: its events
            // are in the log the followers replay), the leader dies.
            awaitCondition("the leader's egress to " + slow.name() + " pushing back", () ->
            {
                if (!alive(slow))
                {
                    throw new StepFailed(slow.name() + " exited: " + lastLines(slow.process, 1) + stateNow());
                }
                return egressRetries(leaderAtStart) >= retriesAtStart + SUSTAINED_EGRESS_RETRIES;
            });
            sleep(step.killAfterMs());
            line.append(" in_flight=").append(value(slow, "in_flight")).append(", leader egress offer retries +")
                .append(egressRetries(leaderAtStart) - retriesAtStart).append(" at the kill, ");
            killedLeader = killLeaderAndAwaitNew(line, background);
            leaderNow = leader();
            retriesSince = egressRetries(leaderNow);
        }
        // It goes on pausing its reads (on the new leader too).
        final long runStartNs = System.nanoTime();
        final int pausesBefore = pauseLines(slow);
        sleep(step.clientRunMs());
        awaitCondition(slow.name() + " pausing its reads again", () ->
        {
            if (!alive(slow))
            {
                throw new StepFailed(slow.name() + " exited: " + lastLines(slow.process, 1) + stateNow());
            }
            return pauseLines(slow) > pausesBefore;
        });
        final long ackedNow = acked(slow);
        awaitAcked(slow, ackedNow + 1);
        line.append(String.format(Locale.ROOT, " (leader %d egress offer retries +%d in %.1f s)", leaderNow,
            egressRetries(leaderNow) - retriesSince, (System.nanoTime() - runStartNs) / 1e9));
        line.append("; ").append(stopProducer(slow));
        if (killedLeader >= 0)
        {
            restartAndAwaitCaughtUp(killedLeader, line);
        }
        return line.toString();
    }

    private long egressRetries(final int memberId)
    {
        return status(memberId).serviceCounter(SpateClusteredService.EGRESS_RETRIES_TYPE_ID);
    }

    private String inFlightFailover(final FaultSchedule.Step step, final Producer background) throws Exception
    {
        final Producer flood = startProducer("in-flight flood", "--burst", "--max-in-flight", "512",
            "--batch-min", Integer.toString(step.batchMin()), "--batch-max", Integer.toString(step.batchMax()),
            "--rate", Long.toString(schedule.floodRecordsPerSecond()),
            "--seed", Long.toString(step.producerSeed()), "--report-ms", "100");
        final long startNs = System.nanoTime();
        final StringBuilder line = new StringBuilder(flood.process.name());
        // Hundreds in flight: the flood reads its acks only when at its limit.
        final long shapeDeadlineNs = startNs + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < shapeDeadlineNs && alive(flood) && value(flood, "in_flight") < 100)
        {
            sleep(20);
        }
        sleep(step.killAfterMs());
        line.append(" in_flight=").append(value(flood, "in_flight")).append(" (max ")
            .append(value(flood, "max_in_flight")).append(") at the kill, ");
        final int leader = killLeaderAndAwaitNew(line, background);
        awaitAcked(flood, acked(flood) + 1);
        sleep(Math.max(0, step.clientRunMs() - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs)));
        line.append("; ").append(stopProducer(flood));
        sleep(step.downMs());
        restartAndAwaitCaughtUp(leader, line);
        return line.toString();
    }

    /**
     * SIGKILLs the leader, waits for another and for the background producer's acks to move again.
     *
     * @return the member killed.
     */
    private int killLeaderAndAwaitNew(final StringBuilder line, final Producer background) throws Exception
    {
        final int leader = leader();
        kill(leader);
        final long killNs = System.nanoTime();
        final int newLeader = awaitLeader(leader);
        final long electedNs = System.nanoTime();
        final long ackedAtElection = acked(background);
        awaitAcked(background, ackedAtElection + 1);
        line.append(String.format(Locale.ROOT, "killed leader %d; new leader %d in %.1f s, acks moving after %.1f s",
            leader, newLeader, (electedNs - killNs) / 1e9, (System.nanoTime() - killNs) / 1e9));
        return leader;
    }

    private void restartAndAwaitCaughtUp(final int memberId, final StringBuilder line) throws Exception
    {
        final long startNs = System.nanoTime();
        nodes[memberId] = startNode(memberId);
        killed[memberId] = false;
        final long[] target = {-1};
        awaitCondition("member " + memberId + " catching up after its restart", () ->
        {
            final NodeStatus restarted = status(memberId);
            if (!restarted.role().isUp())
            {
                return false;
            }
            if (target[0] < 0)
            {
                final int leader = leaderOrNone();
                if (leader < 0 || leader == memberId)
                {
                    return leader == memberId;
                }
                target[0] = status(leader).batchesApplied(); // what the leader had applied when this one came up
            }
            return restarted.batchesApplied() >= target[0];
        });
        line.append(String.format(Locale.ROOT, "; member %d restarted and caught up in %.1f s", memberId,
            (System.nanoTime() - startNs) / 1e9));
    }

    // ------------------------------------------------------------------------------------------
    // Members
    // ------------------------------------------------------------------------------------------

    /**
     * @return a port base whose member ports (base + 100*i + 1..5) are free now, away from the other cluster
     * tests' 20000..31300 and below the ephemeral range.
     */
    private static int freePortBase() throws IOException
    {
        final SplittableRandom random = new SplittableRandom(System.nanoTime() ^ ProcessHandle.current().pid());
        for (int attempt = 0; attempt < 50; attempt++)
        {
            final int base = 12_000 + 300 * random.nextInt(26);
            if (portsFree(base))
            {
                return base;
            }
        }
        throw new IOException("no free port base in 12000..19800");
    }

    private static boolean portsFree(final int base)
    {
        for (int member = 0; member < MEMBERS; member++)
        {
            for (int offset = 0; offset <= 9; offset++)
            {
                try (DatagramSocket socket = new DatagramSocket(null))
                {
                    socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), base + 100 * member + offset));
                }
                catch (final IOException ex)
                {
                    return false;
                }
            }
        }
        return true;
    }

    private String driverDir(final int memberId)
    {
        return "/dev/shm/spate-test-fault-node-" + members.port(memberId, 0) + "-" + memberId;
    }

    private JvmProcess startNode(final int memberId) throws InterruptedException
    {
        final JvmProcess node = scope.start("node-" + memberId, "io.spate.cli.NodeMain",
            "--id", Integer.toString(memberId), "--schema", scope.schema,
            "--data", root.resolve("node-" + memberId).toString(),
            "--members", "localhost,localhost,localhost",
            "--port-base", Integer.toString(members.port(0, 0)),
            "--driver-dir", driverDir(memberId),
            "--heartbeat-timeout-ms", Long.toString(HEARTBEAT_TIMEOUT_MS),
            "--session-timeout-ms", Long.toString(SESSION_TIMEOUT_MS),
            "--snapshot-ms", Long.toString(schedule.snapshotIntervalMs()));
        nodeRuns.add(node);
        node.awaitLine(line -> line.startsWith("node: member " + memberId + " of"), EVENT_TIMEOUT);
        return node;
    }

    private void kill(final int memberId) throws InterruptedException
    {
        killed[memberId] = true;
        nodes[memberId].kill();
    }

    private NodeStatus status(final int memberId)
    {
        return NodeStatus.read(root.resolve("node-" + memberId), 2_000, System.currentTimeMillis());
    }

    /**
     * @return the one live member that leads, or -1 when none or more than one does.
     */
    private int leaderOrNone()
    {
        int found = -1;
        for (int i = 0; i < MEMBERS; i++)
        {
            if (!killed[i] && nodes[i].process().isAlive() && status(i).role() == NodeStatus.Role.LEADER)
            {
                if (found != -1)
                {
                    return -1;
                }
                found = i;
            }
        }
        return found;
    }

    private int leader() throws InterruptedException
    {
        return awaitLeader(-1);
    }

    private int awaitLeader(final int notMember) throws InterruptedException
    {
        final int[] leader = {-1};
        awaitCondition("a leader" + (notMember < 0 ? "" : " other than " + notMember), () ->
        {
            leader[0] = leaderOrNone();
            return leader[0] >= 0 && leader[0] != notMember;
        });
        return leader[0];
    }

    /**
     * @return follower {@code pick} (0 or 1) of the two, in member-id order.
     */
    private int follower(final int pick) throws InterruptedException
    {
        final int leader = leader();
        final List<Integer> followers = new ArrayList<>();
        for (int i = 0; i < MEMBERS; i++)
        {
            if (i != leader)
            {
                followers.add(i);
            }
        }
        return followers.get(pick);
    }

    /** Every member runs and is up, one of them leads. */
    private void awaitHealthy() throws InterruptedException
    {
        awaitCondition("all three members up with one leader", () ->
        {
            for (int i = 0; i < MEMBERS; i++)
            {
                if (killed[i] || !nodes[i].process().isAlive() || !status(i).role().isUp())
                {
                    return false;
                }
            }
            return leaderOrNone() >= 0;
        });
    }

    /**
     * Asks the leader's consensus module for a snapshot, as ClusterTool does: its control toggle, in its CnC file.
     *
     * @return false when the toggle was not neutral (a snapshot or another action is pending).
     */
    private boolean requestSnapshot(final int leader)
    {
        final File cncFile = new File(driverDir(leader), CncFileDescriptor.CNC_FILE);
        final MappedByteBuffer cnc = IoUtil.mapExistingFile(cncFile, CncFileDescriptor.CNC_FILE);
        try
        {
            final UnsafeBuffer metaData = CncFileDescriptor.createMetaDataBuffer(cnc);
            final CountersReader counters = new CountersReader(
                CncFileDescriptor.createCountersMetaDataBuffer(cnc, metaData),
                CncFileDescriptor.createCountersValuesBuffer(cnc, metaData), StandardCharsets.US_ASCII);
            final AtomicCounter toggle = ClusterControl.findControlToggle(counters, NodeStatus.CLUSTER_ID_DEFAULT);
            if (null == toggle)
            {
                throw new StepFailed("member " + leader + " has no cluster control toggle in " + cncFile);
            }
            return ClusterControl.ToggleState.SNAPSHOT.toggle(toggle);
        }
        finally
        {
            IoUtil.unmap(cnc);
        }
    }

    // ------------------------------------------------------------------------------------------
    // Producers
    // ------------------------------------------------------------------------------------------

    private Producer startProducer(final String role, final String... options) throws InterruptedException
    {
        final long id = nextProducerId++;
        final Path journal = root.resolve("producer-" + id + ".journal");
        final Path stopFile = root.resolve("stop-" + id);
        final List<String> args = new ArrayList<>(List.of("--endpoints", members.ingressEndpoints(),
            "--schema", scope.schema, "--producer", Long.toString(id), "--journal", journal.toString(),
            "--stop-file", stopFile.toString(), "--timeout-ms", Long.toString(PRODUCER_TIMEOUT_MS)));
        args.addAll(List.of(options));
        final JvmProcess process = scope.start("producer-" + id, "io.spate.cli.ClusterFaultProducer",
            args.toArray(new String[0]));
        final Producer producer = new Producer(id, role, process, journal, stopFile);
        producers.add(producer);
        process.awaitLine(line -> line.startsWith("producer: connected"), EVENT_TIMEOUT);
        return producer;
    }

    /**
     * Asks the producer to stop and waits until it has every outcome.
     *
     * @return its last report.
     */
    private String stopProducer(final Producer producer) throws Exception
    {
        Files.createFile(producer.stopFile);
        producer.stopped = true;
        final String last = producer.process.awaitLine(
            line -> line.startsWith("producer: done") || line.startsWith("producer: stopped"),
            Duration.ofMillis(PRODUCER_TIMEOUT_MS).plus(EVENT_TIMEOUT));
        final int status = producer.process.awaitExit(EVENT_TIMEOUT);
        if (status != 0)
        {
            violation("every batch sent gets an outcome", producer.name() + " could not get every outcome and " +
                "exited " + status + ": " + last);
        }
        return last.replace("producer: ", producer.process.name() + " ");
    }

    private static boolean alive(final Producer producer)
    {
        return producer.process.process().isAlive();
    }

    private static String lastReport(final Producer producer)
    {
        final List<String> lines = producer.process.lines();
        for (int i = lines.size() - 1; i >= 0; i--)
        {
            if (lines.get(i).startsWith("producer:") && lines.get(i).contains("acked_records="))
            {
                return lines.get(i);
            }
        }
        return "";
    }

    private static long value(final Producer producer, final String key)
    {
        final String report = lastReport(producer);
        return report.isEmpty() ? 0 : JvmProcess.longValue(JvmProcess.pairs(report, null), key);
    }

    private static long acked(final Producer producer)
    {
        return value(producer, "acked_records");
    }

    private static int pauseLines(final Producer producer)
    {
        int pauses = 0;
        for (final String line : producer.process.lines())
        {
            if (line.startsWith("producer: pausing reads"))
            {
                pauses++;
            }
        }
        return pauses;
    }

    private void awaitAcked(final Producer producer, final long records) throws InterruptedException
    {
        awaitCondition(producer.name() + " acked " + records + " records (acks moving)", () ->
        {
            if (!alive(producer))
            {
                throw new StepFailed(producer.name() + " exited: " + lastLines(producer.process, 1) + stateNow());
            }
            return acked(producer) >= records;
        });
    }

    // ------------------------------------------------------------------------------------------
    // Invariants as the run goes
    // ------------------------------------------------------------------------------------------

    /** Producers' own findings, members or producers that died on their own. */
    private void checkAsWeGo()
    {
        for (final Producer producer : producers)
        {
            final List<String> lines = producer.process.lines();
            for (; producer.linesChecked < lines.size(); producer.linesChecked++)
            {
                final String line = lines.get(producer.linesChecked);
                if (line.startsWith("producer: VIOLATION"))
                {
                    violation(producerInvariant(line), producer.name() + ": " +
                        line.substring("producer: VIOLATION ".length()));
                }
            }
            if (!producer.stopped && !alive(producer))
            {
                producer.stopped = true;
                violation("producers keep running while a majority is up", producer.name() + " exited " +
                    producer.process.process().exitValue() + ": " + lastLines(producer.process, 5));
            }
        }
        for (int i = 0; i < MEMBERS; i++)
        {
            if (!killed[i] && !nodes[i].process().isAlive())
            {
                killed[i] = true; // reported once
                violation("members do not stop on their own", "member " + i + " exited " +
                    nodes[i].process().exitValue() + " without being killed: " + lastLines(nodes[i], 8));
            }
        }
    }

    private static String producerInvariant(final String line)
    {
        if (line.contains("ALREADY_APPLIED"))
        {
            return "a resent batch is answered with its original ack (ids included)";
        }
        if (line.contains("not in flight"))
        {
            return "every batch sent gets exactly one outcome";
        }
        if (line.contains("given twice"))
        {
            return "no id is given twice";
        }
        return "every ack is OK with one id per create";
    }

    // ------------------------------------------------------------------------------------------
    // The end: journals, store, fingerprints
    // ------------------------------------------------------------------------------------------

    private void finish()
    {
        try
        {
            for (final Producer producer : producers)
            {
                if (!producer.stopped)
                {
                    progress("stopping " + producer.name() + ": " + stopProducer(producer));
                }
            }
            checkAsWeGo();
        }
        catch (final Exception | AssertionError ex)
        {
            violation("every batch sent gets an outcome", "stopping the producers: " + ex.getMessage());
        }
        final Expected expected;
        try
        {
            expected = checkJournals();
        }
        catch (final IOException ex)
        {
            violation("the journals can be read", String.valueOf(ex));
            return;
        }
        try
        {
            for (int i = 0; i < MEMBERS; i++)
            {
                if (!nodes[i].process().isAlive())
                {
                    nodes[i] = startNode(i); // a member the last step left down (or that died): back for the checks
                    killed[i] = false;
                }
            }
            awaitHealthy();
            checkStore(expected);
        }
        catch (final Exception | AssertionError ex)
        {
            violation("no acked record is lost", "could not read the store through the cluster: " + ex.getMessage());
        }
        final StringBuilder membersNow = new StringBuilder("members before the stop:");
        for (int i = 0; i < MEMBERS; i++)
        {
            membersNow.append("\n  ").append(memberLine(i));
        }
        membersAtTheEnd = membersNow.toString();
        progress(membersAtTheEnd);
        try
        {
            final List<String> fingerprints = ClusterTestSupport.stopAllAndCompareStores(nodes, root, this::status,
                EVENT_TIMEOUT);
            fingerprintsEqual = true;
            progress("fingerprints, equal on all members:\n  " + String.join("\n  ", fingerprints));
        }
        catch (final Exception | AssertionError ex)
        {
            final StringBuilder found = new StringBuilder(String.valueOf(ex.getMessage()));
            for (int i = 0; i < MEMBERS; i++)
            {
                final Path file = root.resolve("node-" + i).resolve(io.spate.cluster.ClusterNode.FINGERPRINT_FILE);
                try
                {
                    found.append("\n  member ").append(i).append(": ")
                        .append(Files.exists(file) ? Files.readString(file).trim() : "no fingerprint");
                }
                catch (final IOException ignore)
                {
                    found.append("\n  member ").append(i).append(": unreadable fingerprint");
                }
            }
            violation("the members hold the same store", found.toString());
        }
    }

    /** What the store must hold, from the journals. */
    private static final class Expected
    {
        /** Per type name: acked id to (producer, record) key. */
        final Map<String, Map<Long, Long>> ackedIdToKey = new HashMap<>();
        /** Keys of acked records. */
        final Set<Long> ackedKeys = new HashSet<>();
        /**
         * Keys of records whose batch has no known outcome (lost with its session, or no outcome at all: a finding of
         * its own): in the store once, or not.
         */
        final Set<Long> unknownKeys = new HashSet<>();
        /** Keys of records whose batch was answered ALREADY_APPLIED: in the store once, ids unknown. */
        final Set<Long> appliedWithoutIdsKeys = new HashSet<>();
        /** Per producer: the acked records' ids, in ack order (the newest last). */
        final Map<Long, List<long[]>> ackedByProducer = new LinkedHashMap<>();
        long sentBatches;
        long sentRecords;
        long ackedBatches;
        /** Batches answered, but not OK (a finding of its own). */
        long failedBatches;
        long failedRecords;
        /** Batches sent with no outcome at all (a finding of its own). */
        long noOutcomeBatches;
        long noOutcomeRecords;
        long lostBatches;
        long lostRecords;
    }

    private static long key(final long producer, final long record)
    {
        return producer << 40 | record;
    }

    private static String keyName(final long key)
    {
        return "producer " + (key >>> 40) + " record " + (key & ((1L << 40) - 1));
    }

    private static String typeOf(final long record)
    {
        return DurabilityProducer.isFollow(record) ? DurabilityProducer.FOLLOW : DurabilityProducer.USER;
    }

    /**
     * Every batch sent has exactly one outcome, every outcome a batch sent; every ack OK; no id twice.
     */
    private Expected checkJournals() throws IOException
    {
        final Expected expected = new Expected();
        final Map<String, Map<Long, String>> idOwner = new HashMap<>();
        final List<String> noOutcome = new ArrayList<>();
        final List<String> twoOutcomes = new ArrayList<>();
        final List<String> neverSent = new ArrayList<>();
        final List<String> notOk = new ArrayList<>();
        final List<String> idTwice = new ArrayList<>();
        for (final Producer producer : producers)
        {
            final ProducerJournal.Contents contents = ProducerJournal.read(producer.id, producer.journal);
            if (null != contents.damage)
            {
                violation("every batch sent gets exactly one outcome", producer.name() + "'s journal: " + contents.damage);
            }
            final List<long[]> acked = expected.ackedByProducer.computeIfAbsent(producer.id, p -> new ArrayList<>());
            for (final ProducerJournal.Batch batch : contents.batches.values())
            {
                if (!batch.sent)
                {
                    neverSent.add(describe(batch) + ": " + describeOutcomes(batch));
                    continue;
                }
                expected.sentBatches++;
                expected.sentRecords += batch.recordCount;
                if (batch.outcomes.isEmpty())
                {
                    expected.noOutcomeBatches++;
                    expected.noOutcomeRecords += batch.recordCount;
                    noOutcome.add(describe(batch) + ", in " + stepAt(batch.sentMs));
                    for (int i = 0; i < batch.recordCount; i++)
                    {
                        expected.unknownKeys.add(key(batch.producer, batch.firstRecord + i)); // applied or not
                    }
                    continue;
                }
                if (batch.outcomes.size() > 1)
                {
                    twoOutcomes.add(describe(batch) + ": " + describeOutcomes(batch));
                }
                final ProducerJournal.Outcome outcome = batch.outcomes.get(0);
                if (!outcome.isAck())
                {
                    expected.lostBatches++;
                    expected.lostRecords += batch.recordCount;
                    for (int i = 0; i < batch.recordCount; i++)
                    {
                        expected.unknownKeys.add(key(batch.producer, batch.firstRecord + i));
                    }
                    continue;
                }
                if (outcome.status() != RecordStatus.OK.value())
                {
                    expected.failedBatches++;
                    expected.failedRecords += batch.recordCount;
                    notOk.add(describe(batch) + " answered " + RecordStatus.get((short)outcome.status()) + " at " +
                        at(outcome.timeMs()) + ", in " + stepAt(outcome.timeMs()));
                    if (outcome.status() == RecordStatus.ALREADY_APPLIED.value())
                    {
                        for (int i = 0; i < batch.recordCount; i++)
                        {
                            expected.appliedWithoutIdsKeys.add(key(batch.producer, batch.firstRecord + i));
                            expected.unknownKeys.add(key(batch.producer, batch.firstRecord + i));
                        }
                    }
                    continue;
                }
                expected.ackedBatches++;
                for (int i = 0; i < outcome.nodeIds().length; i++)
                {
                    final long record = batch.firstRecord + outcome.recordIndexes()[i];
                    final long nodeId = outcome.nodeIds()[i];
                    final String type = typeOf(record);
                    final String owner = "producer " + batch.producer + " record " + record + " (batch " +
                        batch.correlationId + ", acked in " + stepAt(outcome.timeMs()) + ")";
                    final String earlier = idOwner.computeIfAbsent(type, t -> new HashMap<>()).putIfAbsent(nodeId, owner);
                    if (null != earlier)
                    {
                        idTwice.add(type + " id " + nodeId + " given to " + earlier + " and to " + owner);
                        continue;
                    }
                    final long key = key(batch.producer, record);
                    expected.ackedIdToKey.computeIfAbsent(type, t -> new HashMap<>()).put(nodeId, key);
                    expected.ackedKeys.add(key);
                    acked.add(new long[] {record, nodeId});
                }
            }
        }
        listViolation("every batch sent gets exactly one outcome", "batch(es) sent without an outcome", noOutcome);
        listViolation("every batch sent gets exactly one outcome", "batch(es) with two outcomes", twoOutcomes);
        listViolation("every batch sent gets exactly one outcome", "outcome(s) of batches never sent", neverSent);
        listViolation("every ack is OK with one id per create", "batch(es) not acked OK", notOk);
        listViolation("no id is given twice", "id(s) given twice", idTwice);
        progress(String.format(Locale.ROOT, "journals: %d batches sent, %d acked, %d lost with their session " +
            "(%d records of unknown outcome), %d records acked", expected.sentBatches, expected.ackedBatches,
            expected.lostBatches, expected.lostRecords, expected.ackedKeys.size()));
        journalTotals = expected;
        return expected;
    }

    private String describe(final ProducerJournal.Batch batch)
    {
        return "producer " + batch.producer + " batch " + batch.correlationId + (batch.sent ? " (records " +
            batch.firstRecord + ".." + (batch.firstRecord + batch.recordCount - 1) + ", session " + batch.sessionId +
            ", sent at " + at(batch.sentMs) + ")" : " (never sent)");
    }

    /**
     * @return a wall-clock time as seconds since the test began, as the progress lines show them.
     */
    private String at(final long timeMs)
    {
        return String.format(Locale.ROOT, "+%.3fs", (timeMs - testStartMs) / 1e3);
    }

    private String describeOutcomes(final ProducerJournal.Batch batch)
    {
        final StringBuilder text = new StringBuilder();
        for (final ProducerJournal.Outcome outcome : batch.outcomes)
        {
            text.append(text.isEmpty() ? "" : ", ").append(switch (outcome.kind())
            {
                case ProducerJournal.ACKED -> "ack " + RecordStatus.get((short)outcome.status()) + " at " +
                    at(outcome.timeMs());
                case ProducerJournal.LOST -> "session lost at " + at(outcome.timeMs());
                default -> "sent again at " + at(outcome.timeMs());
            });
        }
        return text.toString();
    }

    private void listViolation(final String invariant, final String what, final List<String> found)
    {
        if (found.isEmpty())
        {
            return;
        }
        final StringBuilder text = new StringBuilder(found.size() + " " + what + ":");
        for (int i = 0; i < Math.min(8, found.size()); i++)
        {
            text.append("\n      ").append(found.get(i));
        }
        if (found.size() > 8)
        {
            text.append("\n      ... and ").append(found.size() - 8).append(" more");
        }
        violation(invariant, text.toString());
    }

    /**
     * Per type: the live count against the acks; every id in 1..count that no ack names is read back (a record of
     * an unknown-outcome batch, each at most once, or a finding); a sample of acked ids read back with values.
     */
    private void checkStore(final Expected expected) throws Exception
    {
        final int sampleReads = Integer.getInteger(SAMPLE_READS_PROP, 300);
        final String driverDir = "/dev/shm/spate-test-fault-verifier-" + ProcessHandle.current().pid();
        final long startNs = System.nanoTime();
        long reads = 0;
        try (MediaDriver driver = MediaDriver.launchEmbedded(new MediaDriver.Context().aeronDirectoryName(driverDir)
            .threadingMode(ThreadingMode.SHARED).sharedIdleStrategy(new BackoffIdleStrategy())
            .dirDeleteOnStart(true).dirDeleteOnShutdown(true));
            SpateClient client = SpateClient.connect(new SpateClient.Context().aeronDirectoryName(driver.aeronDirectoryName())
                .clusterIngressEndpoints(members.ingressEndpoints()).schema(schema).timeoutMs(30_000)))
        {
            final Set<Long> unknownFound = new HashSet<>();
            final List<String> lost = new ArrayList<>();
            final List<String> twice = new ArrayList<>();
            final List<String> strangers = new ArrayList<>();
            final List<String> wrongValues = new ArrayList<>();
            for (final String typeName : List.of(DurabilityProducer.FOLLOW, DurabilityProducer.USER))
            {
                final TypeDefinition type = schema.type(typeName);
                final Map<Long, Long> acked = expected.ackedIdToKey.getOrDefault(typeName, Map.of());
                final long count = client.count(type);
                long unknownInStore = 0;
                for (long id = 1; id <= count; id++)
                {
                    if (acked.containsKey(id))
                    {
                        continue;
                    }
                    reads++;
                    final NodeView node = client.get(type, id);
                    if (null == node)
                    {
                        strangers.add(typeName + " id " + id + " (of 1.." + count + ") is " + client.lastReadStatus() +
                            ": ids are not dense, so some record is at an id above the count");
                        continue;
                    }
                    final long key = keyOf(type, node);
                    if (expected.ackedKeys.contains(key))
                    {
                        twice.add(keyName(key) + " is at its acked id and again at " + typeName + " id " + id);
                    }
                    else if (!expected.unknownKeys.contains(key))
                    {
                        strangers.add(typeName + " id " + id + " holds " + keyName(key) + ", of no batch without an ack");
                    }
                    else if (!unknownFound.add(key))
                    {
                        twice.add(keyName(key) + " (outcome unknown) is in the store twice, again at " + typeName +
                            " id " + id);
                    }
                    else
                    {
                        unknownInStore++;
                    }
                }
                if (count != acked.size() + unknownInStore)
                {
                    lost.add(String.format(Locale.ROOT, "%s holds %d nodes, but %d were acked and %d of unknown outcome " +
                        "are in the store: %d %s", typeName, count, acked.size(), unknownInStore,
                        Math.abs(acked.size() + unknownInStore - count), count < acked.size() + unknownInStore ?
                        "acked record(s) missing" : "node(s) more than were written"));
                    // Name the missing ones: acked ids above the count.
                    int named = 0;
                    for (final Map.Entry<Long, Long> entry : acked.entrySet())
                    {
                        if (entry.getKey() > count && named++ < 5)
                        {
                            reads++;
                            final NodeView node = client.get(type, entry.getKey());
                            lost.add("  acked " + typeName + " id " + entry.getKey() + " (" + keyName(entry.getValue()) +
                                ") reads " + (null == node ? client.lastReadStatus() : "as " + keyName(keyOf(type, node))));
                        }
                    }
                }
            }
            for (final Long key : expected.appliedWithoutIdsKeys)
            {
                if (!unknownFound.contains(key))
                {
                    lost.add(keyName(key) + " was answered ALREADY_APPLIED but is not in the store");
                }
            }
            // A sample of acked ids with their values: the newest of every producer (what a failover could lose)
            // and random ones.
            final SplittableRandom random = new SplittableRandom(seed);
            final List<long[]> sample = new ArrayList<>();
            final List<long[]> all = new ArrayList<>();
            for (final Map.Entry<Long, List<long[]>> entry : expected.ackedByProducer.entrySet())
            {
                final List<long[]> acked = entry.getValue();
                for (int i = Math.max(0, acked.size() - NEWEST_READS_PER_PRODUCER); i < acked.size(); i++)
                {
                    sample.add(new long[] {entry.getKey(), acked.get(i)[0], acked.get(i)[1]});
                }
                for (final long[] record : acked)
                {
                    all.add(new long[] {entry.getKey(), record[0], record[1]});
                }
            }
            for (int i = 0; i < sampleReads && !all.isEmpty(); i++)
            {
                sample.add(all.get(random.nextInt(all.size())));
            }
            for (final long[] record : sample)
            {
                final TypeDefinition type = schema.type(typeOf(record[1]));
                reads++;
                final NodeView node = client.get(type, record[2]);
                final String name = type.name() + " id " + record[2] + " acked for " + keyName(key(record[0], record[1]));
                if (null == node)
                {
                    lost.add(name + " reads " + client.lastReadStatus());
                    continue;
                }
                final String problem = valuesProblem(type, node, record[0], record[1]);
                if (null != problem)
                {
                    wrongValues.add(name + ": " + problem);
                }
            }
            listViolation("no acked record is lost", "finding(s)", lost);
            listViolation("no record is applied twice", "record(s) applied twice", twice);
            listViolation("every node in the store was written by a batch sent", "finding(s)", strangers);
            listViolation("an acked record reads back with its values", "record(s) with other values", wrongValues);
            progress(String.format(Locale.ROOT, "store through the cluster: %d reads in %.1f s; %d of %d records of " +
                "unknown outcome are in the store; %d acked ids read back with their values", reads,
                (System.nanoTime() - startNs) / 1e9, unknownFound.size(), expected.unknownKeys.size(), sample.size()));
        }
        finally
        {
            JvmProcess.deleteRecursively(Path.of(driverDir));
        }
    }

    /**
     * @return the (producer, record) the node says wrote it.
     */
    private static long keyOf(final TypeDefinition type, final NodeView node)
    {
        if (type.name().equals(DurabilityProducer.FOLLOW))
        {
            return key(node.getLong(type.field("followerId")), node.getLong(type.field("followeeId")));
        }
        final String name = node.getString(type.field("name"));
        final int dash = name.indexOf("-r");
        try
        {
            return key(Long.parseLong(name.substring(1, dash)), Long.parseLong(name.substring(dash + 2)));
        }
        catch (final RuntimeException ex)
        {
            return -1;
        }
    }

    private static String valuesProblem(final TypeDefinition type, final NodeView node, final long producer,
        final long record)
    {
        if (type.name().equals(DurabilityProducer.FOLLOW))
        {
            final long followerId = node.getLong(type.field("followerId"));
            final long followeeId = node.getLong(type.field("followeeId"));
            final long weight = node.getLong(type.field("weight"));
            return followerId == producer && followeeId == record && weight == DurabilityProducer.weight(record) ? null :
                "followerId=" + followerId + " followeeId=" + followeeId + " weight=" + weight;
        }
        final String name = node.getString(type.field("name"));
        final long karma = node.getLong(type.field("karma"));
        return name.equals(DurabilityProducer.userName(producer, record)) && karma == record ? null :
            "name=" + name + " karma=" + karma;
    }

    // ------------------------------------------------------------------------------------------
    // Reporting
    // ------------------------------------------------------------------------------------------

    private void violation(final String invariant, final String detail)
    {
        final Violation violation = new Violation(invariant, stepIndex, stepName, detail);
        violations.add(violation);
        progress("VIOLATION [" + invariant + "] in step " + stepIndex + " " + stepName + ": " + detail);
    }

    /**
     * @return the step a wall-clock time (ms) falls in.
     */
    private String stepAt(final long timeMs)
    {
        int step = 0;
        for (int i = 0; i < stepStartMs.size(); i++)
        {
            if (stepStartMs.get(i) <= timeMs)
            {
                step = i;
            }
        }
        if (step == 0)
        {
            return "the start";
        }
        return step <= stepLines.size() ? stepLines.get(step - 1).replaceFirst(" \\(.*", "") :
            "the end (stopping the producers)";
    }

    /**
     * @return the run in one paragraph: the seed, the steps per fault kind, batches and records sent, acked, of
     * unknown outcome (lost with their session, or never answered) and failed (answered, not OK), the fingerprints.
     */
    private String summary()
    {
        final StringBuilder faults = new StringBuilder();
        int stepsRun = 0;
        for (final FaultSchedule.Fault fault : FaultSchedule.Fault.values())
        {
            final int count = stepsByFault.getOrDefault(fault, 0);
            stepsRun += count;
            faults.append(faults.isEmpty() ? "" : " ").append(fault).append('=').append(count);
        }
        final Expected totals = journalTotals;
        final String records = null == totals ? "journals not read" : String.format(Locale.ROOT,
            "batches sent=%d acked=%d unknown_outcome=%d failed=%d; records sent=%d acked=%d unknown_outcome=%d " +
            "failed=%d", totals.sentBatches, totals.ackedBatches, totals.lostBatches + totals.noOutcomeBatches,
            totals.failedBatches, totals.sentRecords, totals.ackedKeys.size(), totals.lostRecords + totals.noOutcomeRecords,
            totals.failedRecords);
        return String.format(Locale.ROOT, "seed=%d, %d steps (%s), %d producers; %s; fingerprints %s; %.1f s", seed,
            stepsRun, faults, producers.size(), records, fingerprintsEqual ? "equal on all " + MEMBERS + " members" :
            "NOT equal", (System.nanoTime() - testStartNs) / 1e9);
    }

    private String totals()
    {
        long sent = 0;
        long acked = 0;
        long lost = 0;
        long inFlight = 0;
        for (final Producer producer : producers)
        {
            sent += value(producer, "sent_records");
            acked += value(producer, "acked_records");
            lost += value(producer, "lost_records");
            inFlight += alive(producer) ? value(producer, "in_flight") : 0;
        }
        return "sent=" + sent + " acked=" + acked + " lost=" + lost + " in_flight_batches=" + inFlight + " producers=" +
            producers.size() + " violations=" + violations.size();
    }

    private String memberLine(final int memberId)
    {
        final NodeStatus status = status(memberId);
        if (!status.role().isUp())
        {
            return "member " + memberId + " " + status.role() + " (" + status.reason() + ")";
        }
        return "member " + memberId + " " + status.role() + " module=" + status.moduleState() +
            " election=" + status.electionState() + " term=" + status.leadershipTermId() +
            " commit=" + status.commitPosition() + " append=" + status.appendPosition() +
            " batches_applied=" + status.batchesApplied() + " snapshots=" + status.snapshotCount() +
            " acks_sent=" + status.serviceCounter(SpateClusteredService.ACKS_SENT_TYPE_ID) +
            " egress_retries=" + status.serviceCounter(SpateClusteredService.EGRESS_RETRIES_TYPE_ID) +
            " answers_discarded=" + status.serviceCounter(SpateClusteredService.ANSWERS_DISCARDED_TYPE_ID) +
            " sessions_closed=" + status.serviceCounter(SpateClusteredService.SESSIONS_CLOSED_TYPE_ID) +
            " duplicates=" + status.serviceCounter(SpateClusteredService.DUPLICATE_BATCHES_TYPE_ID) +
            " errors=" + status.errors();
    }

    private static String lastLines(final JvmProcess process, final int count)
    {
        final List<String> lines = process.lines();
        return String.join(" | ", lines.subList(Math.max(0, lines.size() - count), lines.size()));
    }

    /**
     * @return the failure report: the seed and how to replay it, the steps, each broken invariant with its step,
     * the members' and producers' last state, and the members' error lines.
     */
    private String report()
    {
        final StringBuilder text = new StringBuilder();
        text.append("cluster fault test FAILED, seed ").append(seed).append(": ").append(violations.size())
            .append(" broken invariant(s). Replay: bin/spate mvn -o -pl pipeline -am test -Dtest=ClusterFaultTest ")
            .append("-Dsurefire.failIfNoSpecifiedTests=false ").append(replayOptions).append(' ')
            .append(null != replayLength ? replayLength : "-D" + STEPS_PROP + "=" + Math.max(1, stepLines.size()))
            .append('\n');
        text.append("run: ").append(summary()).append('\n');
        text.append("steps:\n");
        for (final String line : stepLines)
        {
            text.append("  ").append(line).append('\n');
        }
        text.append("broken invariants:\n");
        for (final Violation violation : violations)
        {
            text.append("  [").append(violation.invariant()).append("] step ").append(violation.step()).append(' ')
                .append(violation.stepName()).append(":\n    ").append(violation.detail().replace("\n", "\n    "))
                .append('\n');
        }
        if (!membersAtTheEnd.isEmpty())
        {
            text.append(membersAtTheEnd).append('\n');
        }
        else
        {
            text.append("members now:\n");
            for (int i = 0; i < MEMBERS; i++)
            {
                try
                {
                    text.append("  ").append(memberLine(i)).append('\n');
                }
                catch (final RuntimeException ex)
                {
                    text.append("  member ").append(i).append(": ").append(ex).append('\n');
                }
            }
        }
        text.append("producers (last report):\n");
        for (final Producer producer : producers)
        {
            text.append("  ").append(producer.name()).append(": ").append(lastReport(producer)).append('\n');
            for (final String line : producer.process.lines())
            {
                if (line.contains("VIOLATION") || line.contains("session ") && line.contains("ended") ||
                    line.startsWith("producer: stopped"))
                {
                    text.append("    ").append(line).append('\n');
                }
            }
        }
        text.append("members' error lines (every run, at most 10 each):\n");
        for (final JvmProcess run : nodeRuns)
        {
            int shown = 0;
            for (final String line : run.lines())
            {
                final String lower = line.toLowerCase(Locale.ROOT);
                if ((lower.contains("error") || lower.contains("fatal") || lower.contains("exception")) && shown++ < 10)
                {
                    text.append("  [").append(run.name()).append(" pid ").append(run.process().pid()).append("] ")
                        .append(line).append('\n');
                }
            }
        }
        return text.toString();
    }

    private void progress(final String message)
    {
        System.out.printf(Locale.ROOT, "[cluster-fault seed=%d step=%d +%.1fs] %s%n", seed, stepIndex,
            (System.nanoTime() - testStartNs) / 1e9, message);
        System.out.flush();
    }

    private void awaitCondition(final String what, final BooleanSupplier condition) throws InterruptedException
    {
        ClusterTestSupport.awaitCondition(what, EVENT_TIMEOUT, condition, this::stateNow);
    }

    /**
     * @return the members' state and counters, and every producer's last report.
     */
    private String stateNow()
    {
        final StringBuilder context = new StringBuilder("; members:");
        for (int i = 0; i < MEMBERS; i++)
        {
            context.append("\n  ").append(memberLine(i));
        }
        context.append("\nproducers:");
        for (final Producer producer : producers)
        {
            context.append("\n  ").append(producer.name()).append(alive(producer) ? "" : " (exited)").append(": ")
                .append(lastReport(producer));
        }
        return context.toString();
    }

    private static void sleep(final long ms) throws InterruptedException
    {
        if (ms > 0)
        {
            Thread.sleep(ms);
        }
    }
}
