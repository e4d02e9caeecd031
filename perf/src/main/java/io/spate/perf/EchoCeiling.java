package io.spate.perf;

import io.aeron.Aeron;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.spate.driver.DriverConfiguration;
import io.spate.driver.IdleStrategies;
import io.spate.driver.SpateDriver;
import io.spate.pipeline.PipelineConfiguration;
import org.HdrHistogram.Histogram;
import org.agrona.CloseHelper;
import org.agrona.concurrent.AgentRunner;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The latency ceiling: a bare Aeron IPC echo, measured as the pipeline is. On an embedded driver
 * configured as the pipeline runs' are, an {@link EchoAgent} under an {@link AgentRunner} with the
 * pipeline conductor's idle strategy answers the messages of an {@link EchoSender} in a separate JVM:
 * batches of the measured shape at the offered rate, answers of the ack's size.
 */
final class EchoCeiling
{
    static final String MAIN_CLASS = EchoSender.class.getName();
    private static final int MAX_WORKERS = 64;

    /** What one echo run measured; latencies in µs. */
    record Result(double p50Us, double p99Us, double p999Us, double maxUs, double achievedRecordsPerSecond,
        long messages, Histogram roundTripNs)
    {
    }

    private EchoCeiling()
    {
    }

    /**
     * @param dir              a fresh folder for the driver.
     * @param argfile          the tools' JVM argfile.
     * @param jvmArgs          more JVM options for the sender (the profile).
     * @param schemaFile       the schema the batches are encoded with.
     * @param batches          the batches of the measured shape, for the answer's length.
     * @param shape            the shape's name (creates, updates, mix).
     * @param rate             records/s offered.
     * @param seconds          measured seconds, after the sender's warm-up.
     * @param histogramFile    where the sender writes its round trips.
     */
    static Result run(
        final Path dir,
        final Path argfile,
        final List<String> jvmArgs,
        final Path schemaFile,
        final EncodedBatches batches,
        final String shape,
        final long rate,
        final long seconds,
        final Path histogramFile)
    {
        final PipelineConfiguration pipeline = new PipelineConfiguration();
        requireClear(pipeline);
        final AtomicReference<Throwable> error = new AtomicReference<>();
        SpateDriver driver = null;
        Aeron aeron = null;
        AgentRunner runner = null;
        try
        {
            driver = SpateDriver.launchEmbedded(new DriverConfiguration()
                .aeronDirectoryName(dir.resolve("aeron").toString()).embedded(true));
            aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
            final Subscription requests = aeron.addSubscription(pipeline.ingressChannel(), EchoAgent.REQUEST_STREAM_ID);
            final Publication responses = aeron.addExclusivePublication(
                EchoAgent.RESPONSE_CHANNEL, EchoAgent.RESPONSE_STREAM_ID);
            final EchoAgent echo = new EchoAgent(requests, responses, batches.ackLengthBytes());
            runner = new AgentRunner(IdleStrategies.parse(pipeline.conductorIdleStrategy()),
                (throwable) -> error.compareAndSet(null, throwable), null, echo);
            AgentRunner.startOnThread(runner);

            final List<String> args = new ArrayList<>(List.of(
                "--dir", driver.aeronDirectoryName(),
                "--schema", schemaFile.toString(),
                "--shape", shape,
                "--channel", pipeline.ingressChannel(),
                "--rate", Long.toString(rate),
                "--batch-size", Integer.toString(batches.recordsPerBatch()),
                "--seconds", Long.toString(seconds),
                "--histogram-file", histogramFile.toString()));
            final Map<String, String> summary = ProducerProcess.runMain(
                argfile, jvmArgs, MAIN_CLASS, args, EchoSender.SUMMARY_PREFIX, 120 + 2 * seconds);
            if (null != error.get())
            {
                throw new IllegalStateException("the echo failed: " + error.get(), error.get());
            }
            return new Result(
                ProducerProcess.number(summary, "rtt_p50_us"),
                ProducerProcess.number(summary, "rtt_p99_us"),
                ProducerProcess.number(summary, "rtt_p99.9_us"),
                ProducerProcess.number(summary, "rtt_max_us"),
                ProducerProcess.number(summary, "achieved_per_s") * batches.recordsPerBatch(),
                (long)ProducerProcess.number(summary, "messages"),
                Bench.readHistogram(histogramFile));
        }
        finally
        {
            // The runner closes the echo; its publication and subscription close with the client.
            CloseHelper.closeAll(runner, aeron, driver);
        }
    }

    /**
     * The echo's streams must not be any of the pipeline's, whatever a profile or property set.
     */
    static void requireClear(final PipelineConfiguration pipeline)
    {
        for (final int streamId : new int[]{ EchoAgent.REQUEST_STREAM_ID, EchoAgent.RESPONSE_STREAM_ID })
        {
            // Any worker count a run may choose: the pipeline allows up to 64.
            final boolean dispatch = streamId >= pipeline.dispatchStreamIdBase() &&
                streamId < pipeline.dispatchStreamIdBase() + MAX_WORKERS;
            if (streamId == pipeline.ingressStreamId() || streamId == pipeline.appliedStreamId() ||
                streamId == pipeline.logStreamId() || dispatch)
            {
                throw new IllegalStateException("the echo's stream " + streamId + " is one of the pipeline's " +
                    "(ingress " + pipeline.ingressStreamId() + ", applied " + pipeline.appliedStreamId() + ", log " +
                    pipeline.logStreamId() + ", dispatch from " + pipeline.dispatchStreamIdBase() + ")");
            }
        }
    }
}
