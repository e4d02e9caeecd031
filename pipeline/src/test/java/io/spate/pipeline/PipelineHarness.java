package io.spate.pipeline;

import io.aeron.Aeron;
import io.spate.client.SpateClient;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.testing.ExampleSchemas;
import io.spate.driver.DriverConfiguration;
import io.spate.driver.SpateDriver;
import io.spate.store.NativeStore;
import org.agrona.CloseHelper;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * An embedded driver, an Aeron client, a native store and a pipeline, for tests; closed in
 * reverse order.
 */
final class PipelineHarness implements AutoCloseable
{
    final DatabaseSchema schema;
    final SpateDriver driver;
    final Aeron aeron;
    final NativeStore store;
    final Pipeline pipeline;
    private final Path tempDirectory;
    /** A client batch that fits the ingress term (a message may take term length / 8). */
    final int clientBatchBytes;

    PipelineHarness(final DatabaseSchema schema, final Consumer<PipelineConfiguration> configure)
    {
        this(schema, driver -> { }, configure);
    }

    PipelineHarness(
        final DatabaseSchema schema,
        final Consumer<DriverConfiguration> configureDriver,
        final Consumer<PipelineConfiguration> configure)
    {
        this.schema = schema;
        try
        {
            tempDirectory = Files.createTempDirectory("spate-test-");
        }
        catch (final java.io.IOException ex)
        {
            throw new IllegalStateException(ex);
        }
        final String dir = tempDirectory.resolve("aeron").toString();
        final DriverConfiguration driverConfiguration = new DriverConfiguration().aeronDirectoryName(dir).embedded(true);
        configureDriver.accept(driverConfiguration);
        clientBatchBytes = Math.min(64 << 10, driverConfiguration.ipcTermBufferLength() / 8 - 256);
        driver = SpateDriver.launchEmbedded(driverConfiguration);
        aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
        store = NativeStore.open(schema);
        final PipelineConfiguration configuration = new PipelineConfiguration()
            .schema(schema)
            .workerCount(1)
            .conductorIdleStrategy("backoff")
            .workerIdleStrategy("backoff");
        configure.accept(configuration);
        pipeline = new Pipeline(configuration, aeron, store);
    }

    static DatabaseSchema exampleSchema()
    {
        return ExampleSchemas.social();
    }

    SpateClient client()
    {
        return SpateClient.connect(clientContext());
    }

    SpateClient.Context clientContext()
    {
        return new SpateClient.Context().aeron(aeron).schema(schema).timeoutMs(20_000).batchCapacityBytes(clientBatchBytes);
    }

    RawProducer rawProducer(final long clientId)
    {
        return new RawProducer(aeron, pipeline.configuration(), clientId);
    }

    void assertNoAgentError()
    {
        if (null != pipeline.firstError())
        {
            throw new AssertionError("pipeline agent error", pipeline.firstError());
        }
        if (null != pipeline.fatalError())
        {
            throw new AssertionError("pipeline stopped: " + pipeline.fatalError());
        }
    }

    public void close()
    {
        CloseHelper.closeAll(pipeline, store, aeron, driver);
        // The driver removed its own directory; the folder it lived in goes too.
        tempDirectory.toFile().delete();
    }
}
