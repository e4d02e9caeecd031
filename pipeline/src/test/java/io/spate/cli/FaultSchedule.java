package io.spate.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The random choices of a {@link ClusterFaultTest} run, all drawn from one seed: the members' snapshot interval,
 * the background load, and for each step which fault, when, which member (by role: the leader, or the first
 * or second follower by member id), for how long, and the shape of the step's own producer. Each step draws
 * the same number of values whatever its fault, so step N of a seed is the same step whatever happened before
 * it at run time: a failure is replayed by running the same seed.
 * <p>
 * The first steps are the faults in a shuffled order (a short run meets each fault once); after that each
 * step's fault is drawn uniformly. A run can be narrowed to some faults (to chase one bug past another).
 */
final class FaultSchedule
{
    /** The faults a step injects. */
    enum Fault
    {
        /** SIGKILL of the leader under load; it restarts after a while and catches up. */
        KILL_LEADER,
        /** SIGKILL of a follower, down for a while under load, restarted. */
        KILL_FOLLOWER,
        /** A snapshot is asked for on the leader and a member (leader or follower) is SIGKILLed while it is taken. */
        RESTART_IN_SNAPSHOT,
        /**
         * A producer on a 64 KiB egress term that stops reading for seconds at a time; sometimes the leader dies once
         * its egress to it pushed back, and the producer goes on pausing on the new leader; sometimes its first
         * pause outlasts the session timeout.
         */
        SLOW_CLIENT,
        /** A producer with up to 512 small batches in flight when the leader is SIGKILLed. */
        IN_FLIGHT_FAILOVER
    }

    /**
     * One step. Members are named by role at the time of the fault: {@code victimIsLeader}, else the follower
     * {@code followerPick} (0 or 1) of the two in member-id order.
     *
     * @param index              1-based.
     * @param fault              what happens.
     * @param loadBeforeMs       load before the fault.
     * @param victimIsLeader     RESTART_IN_SNAPSHOT: the leader is killed, else a follower.
     * @param followerPick       which follower, when a follower is the victim.
     * @param downMs             how long a killed member stays down.
     * @param waitForSnapshotState RESTART_IN_SNAPSHOT: kill once the victim's consensus module shows SNAPSHOT
     *                           (else after {@code snapshotKillDelayMs}).
     * @param snapshotKillDelayMs RESTART_IN_SNAPSHOT: delay after asking for the snapshot.
     * @param producerSeed       the step's producer's random choices.
     * @param batchMin           the step's producer's smallest batch.
     * @param batchMax           and largest.
     * @param clientRunMs        how long the step's producer runs (SLOW_CLIENT: after the kill, if any).
     * @param pauseMinMs         SLOW_CLIENT: shortest pause of its reads.
     * @param pauseMaxMs         SLOW_CLIENT: longest.
     * @param pauseEveryMs       SLOW_CLIENT: reading time between pauses.
     * @param killLeaderToo      SLOW_CLIENT: the leader is SIGKILLed once its egress to the client pushed back.
     * @param killAfterMs        SLOW_CLIENT / IN_FLIGHT_FAILOVER: delay of the kill after the client is in shape.
     * @param firstPauseMs       SLOW_CLIENT: when not 0, its first pause lasts this long and it sends nothing either
     *                           (a stalled process), more than twice the members' 6 s session timeout (each snapshot
     *                           refreshes every session's activity): the cluster closes its session with batches in
     *                           flight. The leader kill, if any, comes after (an election refreshes them too).
     */
    record Step(
        int index,
        Fault fault,
        long loadBeforeMs,
        boolean victimIsLeader,
        int followerPick,
        long downMs,
        boolean waitForSnapshotState,
        long snapshotKillDelayMs,
        long producerSeed,
        int batchMin,
        int batchMax,
        long clientRunMs,
        long pauseMinMs,
        long pauseMaxMs,
        long pauseEveryMs,
        boolean killLeaderToo,
        long killAfterMs,
        long firstPauseMs)
    {
        String describe()
        {
            return switch (fault)
            {
                case KILL_LEADER -> String.format(Locale.ROOT, "after %d ms of load, leader down %d ms", loadBeforeMs,
                    downMs);
                case KILL_FOLLOWER -> String.format(Locale.ROOT, "after %d ms of load, follower #%d down %d ms",
                    loadBeforeMs, followerPick, downMs);
                case RESTART_IN_SNAPSHOT -> String.format(Locale.ROOT, "%s killed %s, down %d ms",
                    victimIsLeader ? "leader" : "follower #" + followerPick,
                    waitForSnapshotState ? "once it shows SNAPSHOT" : snapshotKillDelayMs + " ms after the request",
                    downMs);
                case SLOW_CLIENT -> String.format(Locale.ROOT,
                    "64 KiB egress, batches %d..%d, reads paused %s%d..%d ms every %d ms%s, then %d ms more", batchMin,
                    batchMax, firstPauseMs > 0 ? "first " + firstPauseMs + " ms with no sends (past the 6 s session timeout), then " : "",
                    pauseMinMs, pauseMaxMs, pauseEveryMs, killLeaderToo ? ", leader killed " + killAfterMs +
                    " ms after its egress to it pushed back, down " + downMs + " ms" : "", clientRunMs);
                case IN_FLIGHT_FAILOVER -> String.format(Locale.ROOT,
                    "512 in flight, batches %d..%d, leader killed %d ms after 100+ in flight, down %d ms, %d ms",
                    batchMin, batchMax, killAfterMs, downMs, clientRunMs);
            };
        }
    }

    private final long seed;
    private final SplittableRandom random;
    private final List<Fault> faults;
    private final List<Fault> firstRound = new ArrayList<>();
    private final long snapshotIntervalMs;
    private final long backgroundRecordsPerSecond;
    private final int backgroundBatchMax;
    private final long backgroundSeed;
    private final long floodRecordsPerSecond;
    private int steps;

    /**
     * A schedule over every fault.
     */
    FaultSchedule(final long seed, final boolean longRun)
    {
        this(seed, longRun, List.of(Fault.values()));
    }

    /**
     * @param seed    every choice.
     * @param longRun a run of many minutes: periodic snapshots 30..90 s apart instead of 7..15 s, a lighter
     *                background load, and the in-flight flood paced (Aeron Cluster keeps every snapshot in the
     *                archive, each the whole store: a 30-minute run at the short run's pace wrote more than 60 GB).
     * @param faults  the faults to draw from (all of them unless a run is narrowed to some).
     */
    FaultSchedule(final long seed, final boolean longRun, final List<Fault> faults)
    {
        if (faults.isEmpty())
        {
            throw new IllegalArgumentException("no faults to draw from");
        }
        this.seed = seed;
        this.faults = List.copyOf(faults);
        this.random = new SplittableRandom(seed);
        // Longer than the session timeout: Aeron refreshes every session's activity at each snapshot.
        snapshotIntervalMs = longRun ? 30_000 + random.nextLong(60_000) : 7_000 + random.nextLong(8_000);
        backgroundRecordsPerSecond = longRun ? 200 + random.nextLong(800) : 1_000 + random.nextLong(3_000);
        backgroundBatchMax = 20 + random.nextInt(200);
        backgroundSeed = random.nextLong();
        floodRecordsPerSecond = longRun ? 5_000 : 0; // drawn from nothing: a seed's steps are the same either way
        final List<Fault> toShuffle = new ArrayList<>(this.faults);
        while (!toShuffle.isEmpty())
        {
            firstRound.add(toShuffle.remove(random.nextInt(toShuffle.size())));
        }
    }

    long seed()
    {
        return seed;
    }

    long snapshotIntervalMs()
    {
        return snapshotIntervalMs;
    }

    long backgroundRecordsPerSecond()
    {
        return backgroundRecordsPerSecond;
    }

    int backgroundBatchMax()
    {
        return backgroundBatchMax;
    }

    long backgroundSeed()
    {
        return backgroundSeed;
    }

    /**
     * @return the IN_FLIGHT_FAILOVER producer's pace (still 512 batches in flight: it reads only at its limit), or
     * 0 for as fast as it can.
     */
    long floodRecordsPerSecond()
    {
        return floodRecordsPerSecond;
    }

    /**
     * @return the next step; every value drawn whatever the fault.
     */
    Step next()
    {
        final int index = ++steps;
        final Fault drawn = faults.get(random.nextInt(faults.size()));
        final Fault fault = index <= firstRound.size() ? firstRound.get(index - 1) : drawn;
        final long loadBeforeMs = 300 + random.nextLong(2_700);
        final boolean victimIsLeader = random.nextBoolean();
        final int followerPick = random.nextInt(2);
        final long downMs = random.nextLong(4_000);
        final boolean waitForSnapshotState = random.nextBoolean();
        final long snapshotKillDelayMs = random.nextLong(60);
        final long producerSeed = random.nextLong();
        final boolean smallBatches = fault == Fault.IN_FLIGHT_FAILOVER;
        final int batchMin = 1 + random.nextInt(smallBatches ? 2 : 20);
        final int batchMax = batchMin + random.nextInt(smallBatches ? 4 : 180);
        final long clientRunMs = 3_000 + random.nextLong(5_000);
        final long pauseMinMs = 500 + random.nextLong(1_000);
        final long pauseMaxMs = pauseMinMs + random.nextLong(2_500);
        final long pauseEveryMs = 200 + random.nextLong(1_000);
        final boolean killLeaderToo = random.nextBoolean();
        final long killAfterMs = random.nextLong(1_000);
        final boolean pastSessionTimeout = random.nextInt(3) == 0;
        final long longPauseMs = 14_000 + random.nextLong(3_000);
        return new Step(index, fault, loadBeforeMs, victimIsLeader, followerPick, downMs, waitForSnapshotState,
            snapshotKillDelayMs, producerSeed, batchMin, batchMax, clientRunMs, pauseMinMs, pauseMaxMs, pauseEveryMs,
            killLeaderToo, killAfterMs, pastSessionTimeout ? longPauseMs : 0);
    }
}
