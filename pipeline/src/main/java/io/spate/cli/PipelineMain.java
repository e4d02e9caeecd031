package io.spate.cli;

import io.aeron.Aeron;
import io.aeron.CommonContext;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.SchemaException;
import io.spate.codec.TypeDefinition;
import io.spate.driver.DriverConfiguration;
import io.spate.driver.SpateDriver;
import io.spate.pipeline.Pipeline;
import io.spate.pipeline.PipelineConfiguration;
import io.spate.pipeline.PipelineErrors;
import io.spate.store.NativeStore;
import org.agrona.CloseHelper;
import org.agrona.concurrent.AgentTerminationException;
import sun.misc.Signal;

import java.io.File;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code bin/spate pipeline}: the conductor and workers attached to a running media driver (or
 * an embedded one). Logs its configuration once; on SIGTERM or Ctrl-C it stops taking ingress,
 * finishes and acks what it took in, closes everything in reverse order and exits 0.
 */
public final class PipelineMain
{
    private static final String USAGE = """
        Usage: bin/spate pipeline --schema FILE [options]
          --schema FILE        database schema (JSON), required
          --dir DIR            Aeron directory of the media driver (default: %s)
          --embedded-driver    start a media driver inside this process on DIR
          --workers N          worker agents (default: cores - 1, at least 1)
          --buffer-bytes N     modify buffer size in bytes (default 67108864)
          --ingress CHANNEL    ingress channel (default aeron:ipc; remote producers: aeron:udp?endpoint=HOST:PORT)
          --ingress-stream N   ingress stream id (default 1001)
          --drain-timeout-ms N how long a stop waits for in-flight batches (default 30000)
        """;

    private PipelineMain()
    {
    }

    public static void main(final String[] args)
    {
        System.exit(run(args));
    }

    static int run(final String[] args)
    {
        String schemaFile = null;
        String dir = System.getProperty(DriverConfiguration.DIR_PROP, CommonContext.getAeronDirectoryName());
        boolean embeddedDriver = false;
        long drainTimeoutMs = 30_000;
        final PipelineConfiguration configuration = new PipelineConfiguration();
        try
        {
            for (int i = 0; i < args.length; i++)
            {
                switch (args[i])
                {
                    case "--schema" -> schemaFile = value(args, ++i);
                    case "--dir" -> dir = value(args, ++i);
                    case "--embedded-driver" -> embeddedDriver = true;
                    case "--workers" -> configuration.workerCount(Integer.parseInt(value(args, ++i)));
                    case "--buffer-bytes" -> configuration.modifyBufferBytes(Integer.parseInt(value(args, ++i)));
                    case "--ingress" -> configuration.ingressChannel(value(args, ++i));
                    case "--ingress-stream" -> configuration.ingressStreamId(Integer.parseInt(value(args, ++i)));
                    case "--drain-timeout-ms" -> drainTimeoutMs = Long.parseLong(value(args, ++i));
                    case "--help", "-h" ->
                    {
                        System.out.printf(USAGE, CommonContext.getAeronDirectoryName());
                        return 0;
                    }
                    default -> throw new IllegalArgumentException("unknown option " + args[i] + " (try --help)");
                }
            }
            if (null == schemaFile)
            {
                throw new IllegalArgumentException("--schema FILE is required (try --help)");
            }
        }
        catch (final RuntimeException ex)
        {
            return error(ex.getMessage(), 2);
        }

        final DatabaseSchema schema;
        try
        {
            schema = SchemaCompiler.compile(Path.of(schemaFile));
            configuration.schema(schema).conclude();
        }
        catch (final SchemaException | IllegalArgumentException ex)
        {
            return error(ex.getMessage(), 1);
        }

        SpateDriver driver = null;
        Aeron aeron = null;
        NativeStore store = null;
        Pipeline pipeline = null;
        final CountDownLatch stop = new CountDownLatch(1);
        AtomicReference<String> lostDriver = new AtomicReference<>();
        try
        {
            if (embeddedDriver)
            {
                driver = SpateDriver.launchEmbedded(new DriverConfiguration().aeronDirectoryName(dir).embedded(true));
            }
            else if (!CommonContext.isDriverActive(new File(dir), 2_000, message -> { }))
            {
                return error("no Aeron media driver is running in " + dir + ": start one with bin/spate driver --dir " +
                    dir + ", or pass --embedded-driver", 1);
            }
            final AtomicReference<String> driverLost = new AtomicReference<>();
            final String directory = dir;
            aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(dir).errorHandler(error ->
            {
                if (PipelineErrors.isDriverGone(error))
                {
                    // One line, no stack trace: the main thread reports it and exits.
                    driverLost.compareAndSet(null, "lost the media driver in " + directory + " (" + error.getMessage() + ")");
                    stop.countDown();
                }
                else if (null == driverLost.get() && !(error instanceof AgentTerminationException))
                {
                    // The client's own conductor ends with AgentTerminationException once the driver is gone.
                    System.err.println("pipeline: aeron client error: " + error);
                }
            }));
            lostDriver = driverLost;
            store = NativeStore.open(schema);
            pipeline = new Pipeline(configuration, aeron, store);
            Signal.handle(new Signal("TERM"), signal -> stop.countDown());
            Signal.handle(new Signal("INT"), signal -> stop.countDown());
            System.out.println("pipeline: configuration " + configuration + " dir=" + dir +
                (embeddedDriver ? " (embedded driver)" : ""));
            System.out.println("pipeline: ready");
            System.out.flush();
            while (!stop.await(100, TimeUnit.MILLISECONDS))
            {
                if (null != pipeline.fatalError() || pipeline.isDriverGone())
                {
                    break;
                }
            }
            // Either way everything is closed quietly in finally: nothing can be drained, no stack traces.
            if (pipeline.isDriverGone() || null != lostDriver.get())
            {
                return error(null != lostDriver.get() ? lostDriver.get() : "lost the media driver in " + dir, 1);
            }
            if (null != pipeline.fatalError())
            {
                return error("stopped: " + pipeline.fatalError(), 1);
            }

            System.out.println("pipeline: stopping");
            System.out.flush();
            final boolean drained = pipeline.drain(drainTimeoutMs);
            final StringBuilder counts = new StringBuilder();
            for (final TypeDefinition type : schema.types())
            {
                counts.append(' ').append(type.name()).append('=').append(store.count(type.typeId()));
            }
            System.out.println("pipeline: stopped records=" + pipeline.counters().recordsIn().get() +
                " acks=" + pipeline.counters().acksSent().get() + (drained ? "" : " (drain timed out)") +
                " counts" + counts);
            System.out.flush();
            return drained ? 0 : 1;
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            return error("interrupted", 1);
        }
        catch (final RuntimeException ex)
        {
            return error(ex.getMessage(), 1);
        }
        finally
        {
            CloseHelper.quietCloseAll(pipeline, store, aeron, driver);
        }
    }

    private static String value(final String[] args, final int index)
    {
        if (index >= args.length)
        {
            throw new IllegalArgumentException(args[index - 1] + " needs a value");
        }
        return args[index];
    }

    private static int error(final String message, final int exitCode)
    {
        System.err.println("pipeline: error: " + (null == message ? "unknown" : message.replace('\n', ' ')));
        return exitCode;
    }
}
