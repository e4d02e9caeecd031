package io.spate.pipeline;

import io.aeron.ChannelUri;
import io.aeron.CommonContext;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which response channels a Connect may name. The pipeline opens a publication to whatever a Connect
 * asks for, so this decides where the pipeline can be made to send and how much it commits:
 * <ul>
 * <li>{@code aeron:ipc}: allowed, with term-length and mtu within the limits;</li>
 * <li>{@code aeron:udp}: only to the host the Connect came from (its image's source address), or to a
 * host the operator allowed; an endpoint and term-length/mtu only (no control, multicast or other
 * tricks);</li>
 * <li>never one of the pipeline's own stream ids (ingress, dispatch, applied);</li>
 * <li>every other parameter and medium is refused.</li>
 * </ul>
 */
final class ResponseChannelPolicy
{
    private static final Set<String> IPC_PARAMS = Set.of(CommonContext.TERM_LENGTH_PARAM_NAME, CommonContext.MTU_LENGTH_PARAM_NAME,
        CommonContext.ALIAS_PARAM_NAME);
    private static final Set<String> UDP_PARAMS = Set.of(CommonContext.ENDPOINT_PARAM_NAME,
        CommonContext.TERM_LENGTH_PARAM_NAME, CommonContext.MTU_LENGTH_PARAM_NAME, CommonContext.ALIAS_PARAM_NAME);
    /** Aeron's smallest term. */
    static final int MIN_TERM_LENGTH = 64 * 1024;

    private final int maxTermLength;
    private final int maxMtuLength;
    private final List<String> allowedHosts;
    private final PipelineConfiguration configuration;

    ResponseChannelPolicy(final PipelineConfiguration configuration)
    {
        this.configuration = configuration;
        this.maxTermLength = configuration.maxResponseTermLength();
        this.maxMtuLength = configuration.maxResponseMtuLength();
        this.allowedHosts = configuration.allowedResponseHosts();
    }

    /**
     * @param channel        the response channel a Connect names.
     * @param streamId       its stream id.
     * @param sourceIdentity where the Connect came from: {@code aeron:ipc}, or host:port of a UDP sender.
     * @return null when allowed, else why not (one line).
     */
    String check(final String channel, final int streamId, final String sourceIdentity)
    {
        if (isPipelineStream(streamId))
        {
            return "stream " + streamId + " is one of the pipeline's own";
        }
        final ChannelUri uri;
        try
        {
            uri = ChannelUri.parse(channel);
        }
        catch (final RuntimeException ex)
        {
            return "not an Aeron channel: " + ex.getMessage();
        }
        if (uri.isIpc())
        {
            return checkParams(uri, IPC_PARAMS);
        }
        if (!uri.isUdp())
        {
            return "medium " + uri.media() + " is not allowed (aeron:ipc or aeron:udp)";
        }
        final String paramsProblem = checkParams(uri, UDP_PARAMS);
        if (null != paramsProblem)
        {
            return paramsProblem;
        }
        final String endpoint = uri.get(CommonContext.ENDPOINT_PARAM_NAME);
        if (null == endpoint)
        {
            return "a UDP response channel needs an endpoint";
        }
        final String host = hostOf(endpoint);
        final String sourceHost = hostOf(sourceIdentity);
        if (host.equals(sourceHost) || allowedHosts.contains(host))
        {
            return null;
        }
        return "UDP responses go only to the host the Connect came from (" + sourceIdentity + ") or to allowed hosts, " +
            "not " + host;
    }

    private boolean isPipelineStream(final int streamId)
    {
        return streamId == configuration.ingressStreamId() || streamId == configuration.appliedStreamId() ||
            (streamId >= configuration.dispatchStreamIdBase() &&
            streamId < configuration.dispatchStreamIdBase() + configuration.workerCount());
    }

    private String checkParams(final ChannelUri uri, final Set<String> allowed)
    {
        if (null != uri.prefix() && !uri.prefix().isEmpty())
        {
            return "channel prefix " + uri.prefix() + " is not allowed";
        }
        final Map<String, String> params = new java.util.HashMap<>();
        uri.forEachParameter(params::put);
        for (final String name : params.keySet())
        {
            if (!allowed.contains(name))
            {
                return "parameter " + name + " is not allowed on a response channel";
            }
        }
        final String termLength = params.get(CommonContext.TERM_LENGTH_PARAM_NAME);
        if (null != termLength)
        {
            final long bytes = parseSize(termLength);
            if (bytes < MIN_TERM_LENGTH || bytes > maxTermLength)
            {
                return "term-length " + termLength + " is outside " + MIN_TERM_LENGTH + ".." + maxTermLength;
            }
        }
        final String mtu = params.get(CommonContext.MTU_LENGTH_PARAM_NAME);
        if (null != mtu)
        {
            final long bytes = parseSize(mtu);
            if (bytes < 32 || bytes > maxMtuLength)
            {
                return "mtu " + mtu + " is outside 32.." + maxMtuLength;
            }
        }
        return null;
    }

    private static long parseSize(final String value)
    {
        try
        {
            return org.agrona.SystemUtil.parseSize("response channel", value);
        }
        catch (final RuntimeException ex)
        {
            return -1;
        }
    }

    /**
     * @return the host of host:port or [v6]:port; the text itself when there is no port.
     */
    static String hostOf(final String endpoint)
    {
        if (endpoint.startsWith("["))
        {
            final int end = endpoint.indexOf(']');
            return end > 0 ? endpoint.substring(1, end) : endpoint;
        }
        final int colon = endpoint.lastIndexOf(':');
        return colon > 0 ? endpoint.substring(0, colon) : endpoint;
    }
}
