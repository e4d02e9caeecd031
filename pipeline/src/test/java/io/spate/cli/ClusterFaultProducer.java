package io.spate.cli;

import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.spate.client.SpateClient;
import io.spate.client.SpateClientException;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.SchemaCompiler;
import io.spate.wire.AckDecoder;
import io.spate.wire.RecordStatus;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.collections.LongHashSet;
import org.agrona.concurrent.BackoffIdleStrategy;

import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * {@link ClusterFaultTest}'s producer, a process of its own with its own media driver: creates records through
 * {@link SpateClient}'s cluster mode and keeps a {@link ProducerJournal} of every batch it sends and every
 * outcome it gets. Record {@code r} of producer {@code p} is a {@code Follow} (followerId p, followeeId r) when r
 * is even, else a {@code User} (karma r, name "p{p}-r{r}"), so every node in the store names who wrote it.
 * <p>
 * It checks what it can as it goes and prints {@code producer: VIOLATION ...} at once: an ack of a batch not in
 * flight (a second outcome, or a stranger), a batch refused or answered ALREADY_APPLIED (applied, but its ids
 * are gone), created ids that do not match the batch, an id given twice, a failure of a batch not in flight, a
 * batch of an ended session left without an outcome by the client. A batch the client fails (its session ended:
 * {@code AckListener.onBatchFailed}) is journaled lost ('L': its outcome is unknown).
 * <p>
 * Shapes of load (options): batches of a random size; a rate; {@code --burst} (sends without reading until the
 * in-flight limit, to have hundreds of batches in flight at a failover); {@code --pause-every-ms} with
 * {@code --pause-min-ms}/{@code --pause-max-ms} (stops reading its egress for a while, sending on; with
 * {@code --egress-term-length 65536} the leader's egress to it fills) and {@code --first-pause-ms} (a first
 * pause of its own length in which it sends nothing either, e.g. past the session timeout); {@code --max-in-flight}.
 * <p>
 * Prints {@code producer: sent_batches=.. sent_records=.. acked_batches=.. acked_records=.. lost_batches=..
 * lost_records=.. in_flight=.. ...} every report interval. Stops when the stop file appears: sends what is
 * written, waits for every outcome and exits 0 ({@code producer: done ...}); when the cluster takes nothing for
 * the timeout it exits 3 ({@code producer: stopped (why) ...}). The journal is complete either way.
 */
public final class ClusterFaultProducer
{
    private static final int FOLLOW = 0;
    private static final int USER = 1;

    private final Map<String, String> options;
    private final long producer;
    private final SplittableRandom random;
    private final DataOutputStream journal;
    private final SpateClient client;
    private final DurabilityProducer.Fields fields;
    /** Batches sent without an outcome yet, in sending order. */
    private final LinkedHashMap<Long, InFlight> inFlight = new LinkedHashMap<>();
    /** Correlation ids that had their outcome (to tell a second outcome from a stranger's). */
    private final LongHashSet answered = new LongHashSet();
    /** Per type: created id to the record it was given to. */
    private final Long2LongHashMap[] recordById = {new Long2LongHashMap(-1), new Long2LongHashMap(-1)};
    private long session;
    private long sessions = 1;
    private long sentBatches;
    private long sentRecords;
    private long ackedBatches;
    private long ackedRecords;
    private long lostBatches;
    private long lostRecords;
    private long violations;
    private long pauses;
    private long maxInFlight;
    /** Batches failed since the session changed (one line per session end). */
    private long failuresSinceLine;

    /** A batch in flight. */
    private record InFlight(long correlationId, long sessionId, long firstRecord, int recordCount)
    {
    }

    private ClusterFaultProducer(
        final Map<String, String> options, final SpateClient client, final DataOutputStream journal,
        final DurabilityProducer.Fields fields)
    {
        this.options = options;
        this.producer = Long.parseLong(options.get("--producer"));
        this.random = new SplittableRandom(Long.parseLong(options.getOrDefault("--seed", "1")));
        this.client = client;
        this.journal = journal;
        this.fields = fields;
        this.session = client.sessionId();
    }

    /**
     * @return the embedded driver's directory of the producer process with that pid.
     */
    static String driverDir(final long pid)
    {
        return "/dev/shm/spate-test-fault-producer-" + pid;
    }

    public static void main(final String[] args) throws Exception
    {
        final Map<String, String> options = new HashMap<>();
        for (int i = 0; i < args.length; i++)
        {
            if (args[i].equals("--burst"))
            {
                options.put("--burst", "true");
            }
            else
            {
                options.put(args[i], args[++i]);
            }
        }
        final DatabaseSchema schema = SchemaCompiler.compile(Path.of(required(options, "--schema")));
        final long timeoutMs = Long.parseLong(options.getOrDefault("--timeout-ms", "30000"));
        final int egressTermLength = Integer.parseInt(options.getOrDefault("--egress-term-length", "0"));
        final String driverDir = driverDir(ProcessHandle.current().pid());
        try (MediaDriver driver = MediaDriver.launchEmbedded(new MediaDriver.Context()
            .aeronDirectoryName(driverDir)
            .threadingMode(ThreadingMode.SHARED)
            .sharedIdleStrategy(new BackoffIdleStrategy())
            .dirDeleteOnStart(true)
            .dirDeleteOnShutdown(true));
            DataOutputStream journal = new DataOutputStream(new BufferedOutputStream(
                new FileOutputStream(required(options, "--journal"), true), 1 << 16)))
        {
            final SpateClient.Context context = new SpateClient.Context()
                .aeronDirectoryName(driver.aeronDirectoryName())
                .clusterIngressEndpoints(required(options, "--endpoints"))
                .schema(schema)
                .clientId(Long.parseLong(required(options, "--producer")))
                .timeoutMs(timeoutMs)
                .maxInFlightBatches(Integer.parseInt(options.getOrDefault("--max-in-flight", "256")));
            if (egressTermLength > 0)
            {
                context.clusterEgressChannel("aeron:udp?endpoint=localhost:0|term-length=" + egressTermLength);
            }
            final SpateClient client = SpateClient.connect(context);
            final ClusterFaultProducer producer = new ClusterFaultProducer(options, client, journal,
                DurabilityProducer.Fields.of(schema));
            client.ackListener(new SpateClient.AckListener()
            {
                public void onAck(final AckDecoder ack)
                {
                    producer.onAck(ack);
                }

                public void onBatchFailed(final long correlationId, final int recordCount, final String reason)
                {
                    producer.onBatchFailed(correlationId, recordCount, reason);
                }
            });
            System.out.println("producer: connected session " + client.sessionId() + " " + options);
            System.out.flush();
            int status;
            try
            {
                producer.run(timeoutMs);
                journal.flush();
                producer.report("producer: done");
                status = 0;
            }
            catch (final SpateClientException | ProducerStopped ex)
            {
                journal.flush();
                producer.report("producer: stopped (" + String.valueOf(ex.getMessage()).replace('\n', ' ') + ")");
                status = 3;
            }
            if (status == 0)
            {
                try
                {
                    client.close();
                }
                catch (final SpateClientException ex)
                {
                    System.out.println("producer: close: " + ex.getMessage());
                }
            }
            System.out.flush();
            if (status != 0)
            {
                Runtime.getRuntime().halt(status); // the client cannot close cleanly without a cluster
            }
        }
        System.out.flush();
        System.exit(0);
    }

    private static String required(final Map<String, String> options, final String name)
    {
        final String value = options.get(name);
        if (null == value)
        {
            throw new IllegalArgumentException("ClusterFaultProducer needs " + name + ": " + options);
        }
        return value;
    }

    private long option(final String name, final long defaultValue)
    {
        return Long.parseLong(options.getOrDefault(name, Long.toString(defaultValue)));
    }

    /** The cluster took nothing for the timeout: the producer gives up. */
    private static final class ProducerStopped extends RuntimeException
    {
        ProducerStopped(final String message)
        {
            super(message);
        }
    }

    private void run(final long timeoutMs) throws IOException
    {
        final Path stopFile = Path.of(required(options, "--stop-file"));
        final int batchMin = (int)option("--batch-min", 1);
        final int batchMax = (int)option("--batch-max", 100);
        final long recordsPerSecond = option("--rate", 0);
        final boolean burst = options.containsKey("--burst");
        final long pauseEveryMs = option("--pause-every-ms", 0);
        final long pauseMinMs = option("--pause-min-ms", 0);
        final long pauseMaxMs = option("--pause-max-ms", 0);
        final long firstPauseMs = option("--first-pause-ms", 0);
        final long reportIntervalNs = TimeUnit.MILLISECONDS.toNanos(option("--report-ms", 1000));
        final long timeoutNs = TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        if (batchMin < 1 || batchMax < batchMin || batchMax > 256)
        {
            throw new IllegalArgumentException("batches of 1..256 records (one client batch each): " + batchMin + ".." +
                batchMax);
        }

        long record = 0;
        boolean batchOpen = false;
        long batchFirst = 0;
        int batchCount = 0;
        long nowNs = System.nanoTime();
        long nextSendNs = nowNs;
        long nextPauseNs = pauseEveryMs > 0 ? nowNs + TimeUnit.MILLISECONDS.toNanos(pauseEveryMs) : Long.MAX_VALUE;
        long pauseEndNs = 0;
        boolean frozen = false;
        long lastReportNs = nowNs;
        long lastStopCheckNs = 0;
        long backPressuredSinceNs = 0;
        boolean stopping = false;
        while (true)
        {
            nowNs = System.nanoTime();
            if (nowNs - lastStopCheckNs > TimeUnit.MILLISECONDS.toNanos(20))
            {
                lastStopCheckNs = nowNs;
                stopping = Files.exists(stopFile);
            }
            if (stopping && !batchOpen)
            {
                break;
            }
            boolean paused = nowNs < pauseEndNs;
            if (!paused && !stopping && nowNs >= nextPauseNs)
            {
                final long drawnMs = pauseMinMs + random.nextLong(pauseMaxMs - pauseMinMs + 1);
                frozen = pauses == 0 && firstPauseMs > 0;
                final long pauseMs = frozen ? firstPauseMs : drawnMs;
                pauseEndNs = nowNs + TimeUnit.MILLISECONDS.toNanos(pauseMs);
                nextPauseNs = pauseEndNs + TimeUnit.MILLISECONDS.toNanos(pauseEveryMs);
                pauses++;
                paused = true;
                System.out.println("producer: pausing reads" + (frozen ? " and sends" : "") + " for " + pauseMs +
                    " ms, in_flight=" + inFlight.size());
            }
            if (!batchOpen && nowNs - nextSendNs >= 0)
            {
                batchFirst = record;
                batchCount = batchMin + random.nextInt(batchMax - batchMin + 1);
                final long inFlightBefore = client.inFlightBatches();
                for (int i = 0; i < batchCount; i++, record++)
                {
                    writeRecord(record);
                }
                if (client.inFlightBatches() != inFlightBefore)
                {
                    throw new IllegalStateException("the client sent a batch on its own (batch full): the journal " +
                        "would not know it; use smaller batches");
                }
                batchOpen = true;
            }
            if (paused && frozen)
            {
                // Stalled entirely (as in a long GC pause): no reads, no sends, no keep-alives.
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
                continue;
            }
            if (batchOpen)
            {
                final long correlationId = client.tryFlush();
                checkSession();
                if (correlationId > 0)
                {
                    ProducerJournal.writeSent(journal, System.currentTimeMillis(), correlationId, client.sessionId(),
                        batchFirst, batchCount);
                    inFlight.put(correlationId, new InFlight(correlationId, client.sessionId(), batchFirst, batchCount));
                    maxInFlight = Math.max(maxInFlight, inFlight.size());
                    sentBatches++;
                    sentRecords += batchCount;
                    batchOpen = false;
                    backPressuredSinceNs = 0;
                    if (recordsPerSecond > 0)
                    {
                        nextSendNs = Math.max(nextSendNs, nowNs - TimeUnit.SECONDS.toNanos(1)) +
                            batchCount * TimeUnit.SECONDS.toNanos(1) / recordsPerSecond;
                    }
                }
                else if (correlationId == SpateClient.BACK_PRESSURED)
                {
                    if (0 == backPressuredSinceNs)
                    {
                        backPressuredSinceNs = nowNs;
                    }
                    else if (!paused && nowNs - backPressuredSinceNs > timeoutNs)
                    {
                        throw new ProducerStopped("the cluster took no batch for " + timeoutMs + " ms (" +
                            inFlight.size() + " in flight, leader " + client.leaderMemberId() + ")");
                    }
                }
            }
            if (paused)
            {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1)); // not reading: acks pile up on the leader
            }
            else if (!burst || batchOpen)
            {
                if (client.poll() == 0 && (batchOpen || nowNs - nextSendNs < 0))
                {
                    LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(200));
                }
                checkSession();
            }
            else if (nowNs - nextSendNs < 0)
            {
                LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(200)); // a paced burst: not reading, not spinning
            }
            if (nowNs - lastReportNs >= reportIntervalNs)
            {
                lastReportNs = nowNs;
                journal.flush();
                report("producer:" + (paused ? " paused" : ""));
            }
        }

        // Stopping: every batch sent gets its outcome.
        final long deadlineNs = System.nanoTime() + timeoutNs;
        while (!inFlight.isEmpty())
        {
            if (System.nanoTime() - deadlineNs > 0)
            {
                throw new ProducerStopped(inFlight.size() + " batch(es) without an outcome " + timeoutMs +
                    " ms after the stop (oldest: " + inFlight.values().iterator().next() + ")");
            }
            if (client.poll() == 0)
            {
                LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(200));
            }
            checkSession();
            if (System.nanoTime() - lastReportNs >= reportIntervalNs)
            {
                lastReportNs = System.nanoTime();
                report("producer: stopping");
            }
        }
    }

    private void writeRecord(final long record)
    {
        if (DurabilityProducer.isFollow(record))
        {
            client.create(fields.follow());
            client.setLong(fields.followerId(), producer).setLong(fields.followeeId(), record)
                .setLong(fields.weight(), DurabilityProducer.weight(record))
                .setBoolean(fields.muted(), DurabilityProducer.muted(record));
        }
        else
        {
            client.create(fields.user());
            client.setLong(fields.age(), producer & 0x7F).setLong(fields.karma(), record)
                .setString(fields.name(), DurabilityProducer.userName(producer, record));
        }
    }

    /**
     * The client says a batch sent will never be answered (its session ended: the cluster closed it, or no new leader
     * came in time): its outcome is unknown, journaled lost. A failure of a batch not in flight is a finding (a second
     * outcome, or a batch the client refused without sending it: the producer's batches are meant to fit).
     */
    private void onBatchFailed(final long correlationId, final int recordCount, final String reason)
    {
        final InFlight batch = inFlight.remove(correlationId);
        if (null == batch)
        {
            violation("a failure of batch " + correlationId + " (" + recordCount + " records) that is not in flight: " +
                (answered.contains(correlationId) ? "it had its outcome already (two outcomes)" : "never sent") + ": " +
                reason);
            return;
        }
        try
        {
            ProducerJournal.writeLost(journal, System.currentTimeMillis(), correlationId, batch.sessionId());
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        answered.add(correlationId);
        lostBatches++;
        lostRecords += batch.recordCount();
        if (batch.recordCount() != recordCount)
        {
            violation("batch " + correlationId + " of " + batch.recordCount() + " records failed as a batch of " +
                recordCount + " records");
        }
        if (++failuresSinceLine == 1)
        {
            System.out.println("producer: session " + batch.sessionId() + " ended with batches in flight (" + reason +
                ")");
        }
    }

    /**
     * After each call into the client: when the session ended (closed, or replaced by a new one), the client has
     * given every batch sent on it its outcome by then (an ack, or {@link #onBatchFailed}); a batch of an ended
     * session still in flight is a finding (it keeps no journaled outcome: the end check names it too).
     */
    private void checkSession()
    {
        final String closedReason = client.sessionClosedReason();
        final long sessionNow = client.sessionId();
        if (null == closedReason && sessionNow == session)
        {
            return;
        }
        final Iterator<InFlight> batches = inFlight.values().iterator();
        while (batches.hasNext())
        {
            final InFlight batch = batches.next();
            if (null != closedReason || batch.sessionId() != sessionNow)
            {
                violation("batch " + batch.correlationId() + " (records " + batch.firstRecord() + ".." +
                    (batch.firstRecord() + batch.recordCount() - 1) + ", session " + batch.sessionId() + ") not in " +
                    "flight in the client any more without an outcome (session " + (null != closedReason ?
                    "closed: " + closedReason : "replaced by " + sessionNow) + ")");
                answered.add(batch.correlationId());
                batches.remove();
            }
        }
        if (sessionNow != session)
        {
            System.out.println("producer: session " + sessionNow + " opened after session " + session + " ended");
            session = sessionNow;
            sessions++;
            failuresSinceLine = 0;
        }
    }

    private void onAck(final AckDecoder ack)
    {
        final long correlationId = ack.correlationId();
        final short status = ack.statusRaw();
        final long ackRecordCount = ack.recordCount();
        final InFlight batch = inFlight.remove(correlationId);
        int created = 0;
        String idProblem = null;
        try
        {
            journal.writeByte(ProducerJournal.ACKED);
            journal.writeLong(System.currentTimeMillis());
            journal.writeLong(correlationId);
            journal.writeByte(status);
            journal.writeLong(ackRecordCount);
            final AckDecoder.CreatedIdsDecoder ids = ack.createdIds();
            journal.writeInt(ids.count());
            for (final AckDecoder.CreatedIdsDecoder entry : ids)
            {
                final int recordIndex = (int)entry.recordIndex();
                final long nodeId = entry.nodeId();
                journal.writeInt(recordIndex);
                journal.writeLong(nodeId);
                created++;
                if (null != batch && null == idProblem)
                {
                    if (recordIndex < 0 || recordIndex >= batch.recordCount())
                    {
                        idProblem = "record index " + recordIndex + " outside the batch of " + batch.recordCount();
                        continue;
                    }
                    final long record = batch.firstRecord() + recordIndex;
                    final int type = DurabilityProducer.isFollow(record) ? FOLLOW : USER;
                    final long earlier = recordById[type].put(nodeId, record);
                    if (earlier != -1 && earlier != record)
                    {
                        idProblem = "id " + nodeId + " of " + (type == FOLLOW ? "Follow" : "User") +
                            " given twice, to records " + earlier + " and " + record;
                    }
                }
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        if (null == batch)
        {
            violation("an ack (" + RecordStatus.get(status) + ") of batch " + correlationId + " that is not in flight: " +
                (answered.contains(correlationId) ? "it had its outcome already (two outcomes)" : "never sent"));
            return;
        }
        answered.add(correlationId);
        if (status != RecordStatus.OK.value())
        {
            violation("batch " + correlationId + " (records " + batch.firstRecord() + ".." +
                (batch.firstRecord() + batch.recordCount() - 1) + ", session " + batch.sessionId() + ") answered " +
                RecordStatus.get(status) + (status == RecordStatus.ALREADY_APPLIED.value() ?
                " without its ids: applied, but its original ack was not kept (leader changes so far " +
                client.leaderChanges() + ", resent " + client.resentBatches() + ")" : ""));
            return;
        }
        if (created != batch.recordCount() || ackRecordCount != batch.recordCount())
        {
            violation("batch " + correlationId + " of " + batch.recordCount() + " creates acked with " + created +
                " ids for " + ackRecordCount + " records");
        }
        if (null != idProblem)
        {
            violation("batch " + correlationId + ": " + idProblem);
        }
        ackedBatches++;
        ackedRecords += batch.recordCount();
    }

    private void violation(final String what)
    {
        violations++;
        System.out.println("producer: VIOLATION " + what);
    }

    private void report(final String prefix)
    {
        System.out.println(prefix + " sent_batches=" + sentBatches + " sent_records=" + sentRecords +
            " acked_batches=" + ackedBatches + " acked_records=" + ackedRecords + " lost_batches=" + lostBatches +
            " lost_records=" + lostRecords + " in_flight=" + inFlight.size() + " max_in_flight=" + maxInFlight +
            " client_in_flight=" + client.inFlightBatches() + " leader=" + client.leaderMemberId() +
            " leader_changes=" + client.leaderChanges() + " resent=" + client.resentBatches() +
            " duplicates=" + client.duplicateAcks() + " sessions=" + sessions + " pauses=" + pauses +
            " violations=" + violations);
        System.out.flush();
    }
}
