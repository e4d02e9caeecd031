package io.spate.perf;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Subscription;
import io.aeron.logbuffer.Header;
import io.spate.codec.SchemaCompiler;
import io.spate.driver.IdleStrategies;
import io.spate.driver.PerformanceProfile;
import io.spate.pipeline.OfferOutcome;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramLogWriter;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The sending half of the bench's latency ceiling, a separate JVM as the producer is: client batches
 * of the measured shape (their encoded bytes, the first 8 replaced by a sequence) to the
 * {@link EchoAgent} at the producer's message rate, on a fixed schedule, waiting between sends as
 * {@code ProduceMain} does; each round trip is measured from the message's intended send time
 * (coordinated omission corrected). Warms up first, unrecorded. Prints one line
 * {@code echo: messages=.. rtt_p50_us=.. rtt_p99_us=.. rtt_p99.9_us=.. rtt_max_us=.. achieved_per_s=..}.
 */
public final class EchoSender implements AutoCloseable
{
    static final String SUMMARY_PREFIX = "echo: messages=";
    /** As ProduceMain: the longest park between polls while waiting for the next send time. */
    static final long MAX_WAIT_PARK_NS = 50_000;
    /** As ProduceMain: spin, not park, this close to the send time. */
    static final long SPIN_WITHIN_NS = 150_000;
    /** As ProduceMain's client batches in flight. */
    static final int MAX_IN_FLIGHT_MESSAGES = 256;
    static final long WARMUP_MESSAGES_MIN = 20_000;
    /** Warm-up runs at least this fast, so it stays short at low offered rates. */
    static final long WARMUP_INTERVAL_MAX_NS = 50_000;
    static final long TIMEOUT_NS = TimeUnit.SECONDS.toNanos(10);
    private static final long HIGHEST_LATENCY_NS = TimeUnit.HOURS.toNanos(1);

    private final Aeron aeron;
    private final ExclusivePublication requests;
    private final Subscription responses;
    private final EncodedBatches batches;
    private final UnsafeBuffer request;
    private final String requestStream;
    private final FragmentAssembler assembler = new FragmentAssembler(this::onResponse);
    /** As ProduceMain waits: the profile's agent idle strategy, and spinning for the send time under low-latency. */
    private final IdleStrategy idle = IdleStrategies.parse(PerformanceProfile.current().agentIdleStrategy());
    private final boolean spinWhileWaiting = PerformanceProfile.current() == PerformanceProfile.LOW_LATENCY;
    private final Histogram roundTripNs = new Histogram(HIGHEST_LATENCY_NS, 3);
    private long nextSequence;
    private long received;
    private long phaseFirstSequence;
    private long phaseStartNs;
    private long phaseIntervalNs;
    private boolean recording;
    private long lastResponseNs;

    EchoSender(final String aeronDirectory, final String requestChannel, final EncodedBatches batches)
    {
        this.batches = batches;
        this.request = new UnsafeBuffer(new byte[batches.maxLengthBytes()]);
        aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(aeronDirectory));
        try
        {
            responses = aeron.addSubscription(EchoAgent.RESPONSE_CHANNEL, EchoAgent.RESPONSE_STREAM_ID);
            requests = aeron.addExclusivePublication(requestChannel, EchoAgent.REQUEST_STREAM_ID);
            requestStream = "the echo's requests (" + requestChannel + " stream " + EchoAgent.REQUEST_STREAM_ID + ")";
            final long deadlineNs = System.nanoTime() + TIMEOUT_NS;
            while (!requests.isConnected() || !responses.isConnected())
            {
                if (System.nanoTime() > deadlineNs)
                {
                    throw new IllegalStateException("echo: no echo on " + requestStream + " within " +
                        TimeUnit.NANOSECONDS.toSeconds(TIMEOUT_NS) + " s");
                }
                idle.idle();
            }
            idle.reset();
        }
        catch (final RuntimeException ex)
        {
            CloseHelper.quietClose(aeron);
            throw ex;
        }
    }

    public static void main(final String[] args)
    {
        final Map<String, String> options = new HashMap<>();
        for (int i = 0; i < args.length; i++)
        {
            if (args[i].equals("--help") || args[i].equals("-h"))
            {
                System.out.println("""
                    Usage: java @perf/target/spate.argfile io.spate.perf.EchoSender --dir DIR --schema FILE [options]
                    The sending half of bin/spate bench's latency ceiling (a bare Aeron IPC echo); the echo
                    (EchoAgent) runs in the bench's JVM on the driver in --dir.
                      --dir DIR             Aeron directory of the driver the echo runs on (required)
                      --schema FILE         the schema of the batches sent (required)
                      --shape S             creates | updates | mix (default mix)
                      --channel CH          request channel (default aeron:ipc)
                      --rate R              records/s offered, sent in batches of --batch-size (default 100000)
                      --batch-size N        records per message (default 100)
                      --seconds S           measured seconds (default 5)
                      --histogram-file F    also write the round trips (ns) there, HdrHistogram log format""");
                return;
            }
            if (!args[i].startsWith("--") || i + 1 >= args.length)
            {
                System.err.println("echo: bad option " + args[i] + " (try --help)");
                System.exit(2);
            }
            options.put(args[i], args[++i]);
        }
        final String directory = options.get("--dir");
        final String schema = options.get("--schema");
        if (null == directory || null == schema)
        {
            System.err.println("echo: --dir and --schema are required (try --help)");
            System.exit(2);
        }
        final long rate = Long.parseLong(options.getOrDefault("--rate", "100000"));
        final int batchSize = Integer.parseInt(options.getOrDefault("--batch-size", "100"));
        final double seconds = Double.parseDouble(options.getOrDefault("--seconds", "5"));
        if (rate < batchSize || batchSize < 1 || seconds <= 0)
        {
            System.err.println("echo: --rate must be at least --batch-size, both and --seconds positive");
            System.exit(2);
        }
        final EncodedBatches batches = new EncodedBatches(SchemaCompiler.compile(Path.of(schema)),
            EncodedBatches.Shape.valueOf(options.getOrDefault("--shape", "mix").toUpperCase(Locale.ROOT)),
            64, batchSize, 17);
        try (EchoSender sender = new EchoSender(directory, options.getOrDefault("--channel", "aeron:ipc"), batches))
        {
            final long intervalNs = Math.max(1, Math.round(batchSize * 1e9 / rate));
            final long messages = Math.max(1, Math.round(seconds * 1e9 / intervalNs));
            // Warm-up: the JIT, the echo's and this side's, and the driver's buffers; not recorded.
            final long warmupIntervalNs = Math.min(intervalNs, WARMUP_INTERVAL_MAX_NS);
            sender.phase(Math.max(WARMUP_MESSAGES_MIN, 2_000_000_000L / intervalNs), warmupIntervalNs, false);
            final double achievedPerSecond = sender.phase(messages, intervalNs, true);
            final Histogram histogram = sender.roundTripNs;
            System.out.printf(Locale.ROOT, "%s%d rtt_p50_us=%.1f rtt_p99_us=%.1f rtt_p99.9_us=%.1f rtt_max_us=%.1f " +
                "achieved_per_s=%.0f achieved_records_per_s=%.0f request_bytes=%d%n",
                SUMMARY_PREFIX, histogram.getTotalCount(), histogram.getValueAtPercentile(50) / 1e3,
                histogram.getValueAtPercentile(99) / 1e3, histogram.getValueAtPercentile(99.9) / 1e3,
                histogram.getMaxValue() / 1e3, achievedPerSecond, achievedPerSecond * batchSize,
                batches.meanLengthBytes());
            final String histogramFile = options.get("--histogram-file");
            if (null != histogramFile)
            {
                writeLog(histogram, histogramFile);
            }
        }
        catch (final RuntimeException ex)
        {
            System.err.println("echo: error: " + ex.getMessage());
            System.exit(1);
        }
    }

    /**
     * Sends {@code messages} on a fixed schedule, then waits for every answer.
     *
     * @return messages answered per second, from the phase's start to its last answer.
     */
    double phase(final long messages, final long intervalNs, final boolean record)
    {
        phaseFirstSequence = nextSequence;
        phaseIntervalNs = intervalNs;
        recording = record;
        phaseStartNs = System.nanoTime();
        for (long i = 0; i < messages; i++)
        {
            awaitRoom();
            awaitTime(phaseStartNs + i * intervalNs);
            send(nextSequence++);
            poll();
        }
        awaitRoom(0);
        return messages * 1e9 / Math.max(1, lastResponseNs - phaseStartNs);
    }

    public void close()
    {
        CloseHelper.closeAll(requests, responses, aeron);
    }

    private int poll()
    {
        return responses.poll(assembler, EchoAgent.FRAGMENT_LIMIT);
    }

    private void onResponse(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        final long sequence = buffer.getLong(offset);
        final long nowNs = System.nanoTime();
        received++;
        lastResponseNs = nowNs;
        if (recording && sequence >= phaseFirstSequence)
        {
            final long intendedNs = phaseStartNs + (sequence - phaseFirstSequence) * phaseIntervalNs;
            roundTripNs.recordValue(Math.min(HIGHEST_LATENCY_NS, Math.max(0, nowNs - intendedNs)));
        }
    }

    private void awaitRoom()
    {
        awaitRoom(MAX_IN_FLIGHT_MESSAGES - 1);
    }

    /**
     * Takes answers until at most {@code inFlightMax} messages are unanswered.
     */
    private void awaitRoom(final long inFlightMax)
    {
        long lastProgressNs = System.nanoTime();
        long receivedBefore = received;
        while (nextSequence - received > inFlightMax)
        {
            if (poll() == 0)
            {
                idle.idle();
            }
            else
            {
                idle.reset();
            }
            final long nowNs = System.nanoTime();
            if (received != receivedBefore)
            {
                receivedBefore = received;
                lastProgressNs = nowNs;
            }
            else if (nowNs - lastProgressNs > TIMEOUT_NS)
            {
                throw new IllegalStateException("no answer from the echo for " +
                    TimeUnit.NANOSECONDS.toSeconds(TIMEOUT_NS) + " s with " + (nextSequence - received) + " in flight");
            }
        }
        idle.reset();
    }

    /**
     * Takes answers until the intended send time, as ProduceMain.awaitTime does.
     */
    private void awaitTime(final long intendedNs)
    {
        while (true)
        {
            final long remainingNs = intendedNs - System.nanoTime();
            if (remainingNs <= 0)
            {
                return;
            }
            if (poll() > 0)
            {
                continue;
            }
            if (remainingNs > SPIN_WITHIN_NS && !spinWhileWaiting)
            {
                LockSupport.parkNanos(Math.min(remainingNs - 100_000, MAX_WAIT_PARK_NS));
            }
            else
            {
                Thread.onSpinWait();
            }
        }
    }

    /**
     * The one place the request stream's offers are decided: a batch of the shape, the sequence in front.
     */
    private void send(final long sequence)
    {
        final int index = (int)(sequence % batches.count());
        final int lengthBytes = batches.length(index);
        request.putBytes(0, batches.buffer(), batches.offset(index), lengthBytes);
        request.putLong(0, sequence);
        final long deadlineNs = System.nanoTime() + TIMEOUT_NS;
        long result;
        while ((result = requests.offer(request, 0, lengthBytes)) < 0)
        {
            if (OfferOutcome.of(result) != OfferOutcome.RETRY)
            {
                throw new IllegalStateException("cannot send on " + requestStream + ": " +
                    OfferOutcome.describe(result) + " (the echo is gone)");
            }
            if (System.nanoTime() > deadlineNs)
            {
                throw new IllegalStateException(requestStream + " pushed back for " +
                    TimeUnit.NANOSECONDS.toSeconds(TIMEOUT_NS) + " s");
            }
            if (poll() == 0)
            {
                idle.idle();
            }
        }
        idle.reset();
    }

    private static void writeLog(final Histogram histogram, final String file)
    {
        try (PrintStream stream = new PrintStream(new FileOutputStream(file), false, StandardCharsets.UTF_8))
        {
            final HistogramLogWriter writer = new HistogramLogWriter(stream);
            writer.outputLogFormatVersion();
            writer.outputLegend();
            writer.outputIntervalHistogram(histogram);
        }
        catch (final IOException ex)
        {
            System.err.println("echo: cannot write " + file + ": " + ex.getMessage());
        }
    }
}
