package io.spate.client;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Cluster mode's settings: what selects it, and every bad value refused with a message naming the setting and
 * its system property, before any media driver is touched.
 */
class ClusterModeContextTest
{
    @Test
    void endpointsSelectClusterModeAndAreNormalised()
    {
        final SpateClient.Context context = new SpateClient.Context();
        assertFalse(context.isClusterMode(), "single-node unless endpoints are given");
        assertSame(context, context.clusterIngressEndpoints(" 0=localhost:20002, 1=localhost:20102 ,2=127.0.0.1:20202 "));
        assertTrue(context.isClusterMode());
        assertEquals("0=localhost:20002,1=localhost:20102,2=127.0.0.1:20202",
            SpateClient.Context.checkClusterIngressEndpoints(" 0=localhost:20002, 1=localhost:20102 ,2=127.0.0.1:20202 "));
        assertEquals("7=[::1]:9000", SpateClient.Context.checkClusterIngressEndpoints("7=[::1]:9000"));
        context.clusterIngressEndpoints("  ");
        assertFalse(context.isClusterMode(), "blank: back to single-node");
        context.clusterIngressEndpoints("0=localhost:20002").clusterIngressEndpoints(null);
        assertFalse(context.isClusterMode());
    }

    @ParameterizedTest
    @ValueSource(strings = { "localhost:20002", "a=localhost:20002", "0=localhost", "0=localhost:0", "0=localhost:65536",
        "0=localhost:x", "0=:20002", "-1=localhost:20002", "0=localhost:20002,,1=localhost:20102", "0=local host:1",
        "0=localhost:20002;1=localhost:20102" })
    void badEndpointsAreRefusedNamingTheItem(final String endpoints)
    {
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
            () -> new SpateClient.Context().clusterIngressEndpoints(endpoints));
        assertTrue(ex.getMessage().startsWith("clusterIngressEndpoints (spate.cluster.ingress.endpoints) must be " +
            "ID=HOST:PORT,..."), ex.getMessage());
        assertTrue(ex.getMessage().endsWith(" in " + endpoints.trim()), ex.getMessage());
    }

    @Test
    void aMemberNamedTwiceIsRefused()
    {
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
            () -> new SpateClient.Context().clusterIngressEndpoints("0=localhost:20002,0=localhost:20102"));
        assertEquals("clusterIngressEndpoints (spate.cluster.ingress.endpoints) names member 0 twice: " +
            "0=localhost:20002,0=localhost:20102", ex.getMessage());
    }

    @Test
    void channelsMustBeUdpAndTheEgressNeedsAnEndpoint()
    {
        final SpateClient.Context context = new SpateClient.Context();
        assertSame(context, context.clusterEgressChannel("aeron:udp?endpoint=127.0.0.1:0"));
        assertSame(context, context.clusterIngressChannel("aeron:udp?term-length=1m"));
        for (final String bad : new String[]{ "aeron:ipc", "aeron:udp", "aeron:udp?control=localhost:1", "udp://x:1", "" })
        {
            final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
                () -> context.clusterEgressChannel(bad), bad);
            assertEquals("clusterEgressChannel (spate.cluster.egress.channel) must be aeron:udp?endpoint=HOST:PORT, " +
                "an address the nodes can reach (port 0: any free one): " + bad, ex.getMessage());
        }
        for (final String bad : new String[]{ "aeron:ipc", "aeron:tcp", "", null })
        {
            final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
                () -> context.clusterIngressChannel(bad), String.valueOf(bad));
            assertTrue(ex.getMessage().startsWith("clusterIngressChannel (spate.cluster.ingress.channel) must be an " +
                "aeron:udp channel"), ex.getMessage());
        }
    }

    @Test
    void inFlightBoundsAreChecked()
    {
        final SpateClient.Context context = new SpateClient.Context();
        assertSame(context, context.maxInFlightBatches(1).maxInFlightBatches(1024));
        assertSame(context, context.maxInFlightBytes(1024).maxInFlightBytes(1 << 30));
        for (final int bad : new int[]{ 0, -1, 1025 })
        {
            final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
                () -> context.maxInFlightBatches(bad));
            assertTrue(ex.getMessage().startsWith("maxInFlightBatches (spate.client.max.in.flight.batches) must be " +
                "1..1024") && ex.getMessage().endsWith(": " + bad), ex.getMessage());
        }
        for (final int bad : new int[]{ 0, 1023, (1 << 30) + 1 })
        {
            final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
                () -> context.maxInFlightBytes(bad));
            assertEquals("maxInFlightBytes (spate.client.max.in.flight.bytes) must be 1024..1073741824: " + bad,
                ex.getMessage());
        }
        assertEquals(256, SpateClient.Context.DEFAULT_MAX_IN_FLIGHT_BATCHES);
        assertEquals(1024, SpateClient.Context.MAX_IN_FLIGHT_BATCHES_LIMIT);
    }

    @Test
    void systemPropertiesAreReadAndCheckedWhenTheContextIsMade()
    {
        assertProperty(SpateClient.Context.MAX_IN_FLIGHT_BATCHES_PROP, "many",
            "system property spate.client.max.in.flight.batches needs a whole number: many");
        assertProperty(SpateClient.Context.MAX_IN_FLIGHT_BATCHES_PROP, "2048",
            "maxInFlightBatches (spate.client.max.in.flight.batches) must be 1..1024");
        assertProperty(SpateClient.Context.MAX_IN_FLIGHT_BYTES_PROP, "1k",
            "system property spate.client.max.in.flight.bytes needs a whole number: 1k");
        assertProperty(SpateClient.Context.CLUSTER_INGRESS_ENDPOINTS_PROP, "localhost:20002",
            "clusterIngressEndpoints (spate.cluster.ingress.endpoints) must be ID=HOST:PORT");
        assertProperty(SpateClient.Context.CLUSTER_EGRESS_CHANNEL_PROP, "aeron:ipc",
            "clusterEgressChannel (spate.cluster.egress.channel) must be aeron:udp?endpoint=HOST:PORT");
        assertProperty(SpateClient.Context.CLUSTER_INGRESS_CHANNEL_PROP, "aeron:ipc",
            "clusterIngressChannel (spate.cluster.ingress.channel) must be an aeron:udp channel");

        System.setProperty(SpateClient.Context.CLUSTER_INGRESS_ENDPOINTS_PROP, "0=localhost:20002");
        try
        {
            assertTrue(new SpateClient.Context().isClusterMode());
        }
        finally
        {
            System.clearProperty(SpateClient.Context.CLUSTER_INGRESS_ENDPOINTS_PROP);
        }
        assertFalse(new SpateClient.Context().isClusterMode());
    }

    @Test
    void clusterModeStillNeedsASchemaFirst()
    {
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
            () -> SpateClient.connect(new SpateClient.Context().clusterIngressEndpoints("0=localhost:20002")));
        assertTrue(ex.getMessage().contains("schema"), ex.getMessage());
    }

    private static void assertProperty(final String name, final String value, final String messageStart)
    {
        System.setProperty(name, value);
        try
        {
            final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, SpateClient.Context::new);
            assertTrue(ex.getMessage().startsWith(messageStart), ex.getMessage());
        }
        finally
        {
            System.clearProperty(name);
        }
    }
}
