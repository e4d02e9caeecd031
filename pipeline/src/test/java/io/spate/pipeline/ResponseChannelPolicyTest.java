package io.spate.pipeline;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Where a Connect may make the pipeline send: IPC within limits, UDP only back to the Connect's host or an
 * allowed one, never the pipeline's own streams, nothing else.
 */
class ResponseChannelPolicyTest
{
    private static final ResponseChannelPolicy POLICY = new ResponseChannelPolicy(new PipelineConfiguration()
        .schema(PipelineHarness.exampleSchema())
        .workerCount(2)
        .allowedResponseHosts(List.of("10.9.9.9"))
        .conclude());

    @ParameterizedTest(name = "{0} stream {1} from {2}")
    @CsvSource(delimiter = ';', value = {
        "aeron:ipc; 5000; aeron:ipc",
        "aeron:ipc?term-length=65536; 5000; aeron:ipc",
        "aeron:ipc?term-length=4m|mtu=8k; 5000; aeron:ipc",
        "aeron:udp?endpoint=192.168.1.7:40124; 5000; 192.168.1.7:50000",
        "aeron:udp?endpoint=10.9.9.9:40124; 5000; 192.168.1.7:50000",
        "aeron:udp?endpoint=[::1]:40124; 5000; [::1]:50000",
    })
    void shouldAllow(final String channel, final int streamId, final String source)
    {
        assertNull(POLICY.check(channel, streamId, source));
    }

    @ParameterizedTest(name = "{0} stream {1} from {2}: {3}")
    @CsvSource(delimiter = ';', value = {
        "aeron:ipc; 1001; aeron:ipc; the pipeline's own",
        "aeron:ipc; 1099; aeron:ipc; the pipeline's own",
        "aeron:ipc; 1101; aeron:ipc; the pipeline's own",
        "aeron:ipc?term-length=1g; 5000; aeron:ipc; term-length",
        "aeron:ipc?term-length=32768; 5000; aeron:ipc; term-length",
        "aeron:ipc?mtu=1m; 5000; aeron:ipc; mtu",
        "aeron:ipc?session-id=7; 5000; aeron:ipc; parameter session-id",
        "aeron:udp?endpoint=8.8.8.8:53; 5000; 192.168.1.7:50000; only to the host",
        "aeron:udp?endpoint=192.168.1.7:40124; 5000; aeron:ipc; only to the host",
        "aeron:udp?endpoint=192.168.1.7:40124|control=1.2.3.4:1; 5000; 192.168.1.7:50000; parameter control",
        "aeron:udp?control=1.2.3.4:1|control-mode=dynamic; 5000; 192.168.1.7:50000; parameter",
        "aeron:udp?term-length=65536; 5000; 192.168.1.7:50000; needs an endpoint",
        "aeron-spy:aeron:ipc; 5000; aeron:ipc; prefix",
        "not a channel; 5000; aeron:ipc; not an Aeron channel",
    })
    void shouldRefuse(final String channel, final int streamId, final String source, final String reason)
    {
        final String problem = POLICY.check(channel, streamId, source);
        assertTrue(null != problem && problem.contains(reason), channel + ": " + problem);
    }

    @ParameterizedTest
    @CsvSource(delimiter = ';', value = { "host:1;host", "[::1]:5;::1", "plain;plain", "a.b.c:40124;a.b.c" })
    void shouldFindTheHostOfAnEndpoint(final String endpoint, final String host)
    {
        assertEquals(host, ResponseChannelPolicy.hostOf(endpoint));
    }
}
