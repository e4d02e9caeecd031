package io.spate.cli;

import io.spate.cli.CliSupport.Options;
import io.spate.cli.CliSupport.UsageException;
import io.spate.client.SpateClient;
import io.spate.driver.DriverConfiguration;
import io.spate.driver.SpateDriver;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * How a command reaches a Spate cluster as a client ({@code produce}, {@code get}, {@code count}): the options
 * {@code --cluster ENDPOINTS} and {@code --egress-channel CH}, checked by one rule with one message each, and the
 * media driver of its own such a client runs on (the members' drivers are in other processes and may die).
 *
 * @param endpoints     the members' ingress endpoints ({@code 0=host:port,...}), trimmed; null for a single pipeline.
 * @param egressChannel where the cluster's answers come back; null for a single pipeline.
 */
record ClusterClientOptions(String endpoints, String egressChannel)
{
    static final String CLUSTER = "--cluster";
    static final String EGRESS_CHANNEL = "--egress-channel";
    /** The options naming a single pipeline's streams: refused with --cluster. */
    static final List<String> SINGLE_PIPELINE_OPTIONS = List.of("--channel", "--stream", "--response-channel");

    /** The help lines of {@code --cluster} and {@code --egress-channel}, the same for every command. */
    static final String HELP = String.join(System.lineSeparator(),
        "  --cluster ENDPOINTS      reach a Spate cluster: its members' ingress endpoints, ID=HOST:PORT,...",
        "                           (e.g. 0=localhost:20002,1=localhost:20102,2=localhost:20202, as bin/spate",
        "                           cluster prints them), through its leader; starts a media driver of its own in",
        "                           a fresh directory (deleted on start and exit) unless --dir names a running one;",
        "                           not with --channel, --stream, --response-channel",
        "  --egress-channel CH      with --cluster: where the cluster's answers come back (default: " +
            SpateClient.Context.CLUSTER_EGRESS_CHANNEL_PROP + ",",
        "                           else " + SpateClient.Context.DEFAULT_CLUSTER_EGRESS_CHANNEL +
            "; a host the nodes reach)");

    /**
     * @return the cluster options of a command line: both null without {@code --cluster}.
     * @throws UsageException naming the option: a bad --cluster or --egress-channel value, a single pipeline's
     *                        option with --cluster, --egress-channel without --cluster.
     */
    static ClusterClientOptions parse(final Options options)
    {
        final String endpoints = options.has(CLUSTER) ? endpoints(options.get(CLUSTER, "")) : null;
        for (final String singlePipelineOption : SINGLE_PIPELINE_OPTIONS)
        {
            if (null != endpoints && options.has(singlePipelineOption))
            {
                throw new UsageException(singlePipelineOption + " is for a single pipeline, not with --cluster (the " +
                    "cluster client finds the leader's ingress itself)");
            }
        }
        if (null == endpoints && options.has(EGRESS_CHANNEL))
        {
            throw new UsageException("--egress-channel needs --cluster (a single pipeline answers on " +
                "--response-channel)");
        }
        return new ClusterClientOptions(endpoints, null == endpoints ? null : egressChannel(options));
    }

    /**
     * @return true with {@code --cluster}.
     */
    boolean isCluster()
    {
        return null != endpoints;
    }

    /**
     * @return a client context with the defaults of the system properties.
     * @throws UsageException naming the property when one holds a bad value (exit 2, as a bad flag).
     */
    static SpateClient.Context clientContext()
    {
        try
        {
            return new SpateClient.Context();
        }
        catch (final IllegalArgumentException ex)
        {
            throw new UsageException(ex.getMessage(), false);
        }
    }

    /**
     * @return the --cluster value, trimmed.
     * @throws UsageException naming --cluster and the value when it is not ID=HOST:PORT,... with distinct ids.
     */
    static String endpoints(final String value)
    {
        final SpateClient.Context context = clientContext();
        try
        {
            if (context.clusterIngressEndpoints(value).isClusterMode())
            {
                return value.trim();
            }
        }
        catch (final IllegalArgumentException ignore)
        {
            // the line below says what is wanted
        }
        throw new UsageException("--cluster must be ID=HOST:PORT,... with distinct member ids from 0 (e.g. " +
            "0=localhost:20002,1=localhost:20102,2=localhost:20202): " + value, false);
    }

    private static String egressChannel(final Options options)
    {
        final String fromProperty = System.getProperty(SpateClient.Context.CLUSTER_EGRESS_CHANNEL_PROP);
        final String value = options.get(EGRESS_CHANNEL, null == fromProperty || fromProperty.isBlank() ?
            SpateClient.Context.DEFAULT_CLUSTER_EGRESS_CHANNEL : fromProperty);
        try
        {
            clientContext().clusterEgressChannel(value);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new UsageException("--egress-channel must be aeron:udp?endpoint=HOST:PORT, an address the nodes can " +
                "reach (port 0: any free one): " + value, false);
        }
        return value.trim();
    }

    /**
     * @param prefix of the directory's name ("spate-produce-").
     * @return a fresh directory beside the default Aeron directory (in memory under /dev/shm on Linux) when that
     * parent is writable, else in java.io.tmpdir; the caller deletes it.
     */
    static Path createTemporaryDirectory(final String prefix) throws IOException
    {
        final Path parent = Path.of(io.aeron.CommonContext.getAeronDirectoryName()).toAbsolutePath().getParent();
        if (null != parent && Files.isDirectory(parent) && Files.isWritable(parent))
        {
            return Files.createTempDirectory(parent, prefix);
        }
        return Files.createTempDirectory(prefix);
    }

    /**
     * Launches a cluster client's own media driver in {@code temporaryDirectory}/aeron: one thread that backs off,
     * since the nodes on this machine need the cores more than a client's driver.
     *
     * @return the running driver; closing it removes its directory.
     */
    static SpateDriver launchClientDriver(final Path temporaryDirectory)
    {
        return SpateDriver.launchEmbedded(new DriverConfiguration()
            .aeronDirectoryName(temporaryDirectory.resolve("aeron").toString())
            .threadingMode(io.aeron.driver.ThreadingMode.SHARED)
            .idleStrategy("backoff"));
    }
}
