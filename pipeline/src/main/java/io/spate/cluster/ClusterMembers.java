package io.spate.cluster;

import java.util.ArrayList;
import java.util.List;

/**
 * Where each member of a Spate cluster listens: member {@code i} on host {@code hosts[i]} takes the ports
 * {@code portBase + i * PORTS_PER_MEMBER + offset}, one offset per Aeron Cluster endpoint. This gives
 * the {@code clusterMembers} string the consensus modules take and the ingress endpoints clients take.
 */
public final class ClusterMembers
{
    public static final int PORTS_PER_MEMBER = 100;
    public static final int ARCHIVE_CONTROL_PORT_OFFSET = 1;
    public static final int CLIENT_FACING_PORT_OFFSET = 2;
    public static final int MEMBER_FACING_PORT_OFFSET = 3;
    public static final int LOG_PORT_OFFSET = 4;
    public static final int TRANSFER_PORT_OFFSET = 5;
    public static final int DEFAULT_PORT_BASE = 20_000;
    /** Raft needs a majority: 1, 3, 5 or 7 members make sense; more is beyond what this was tested with. */
    public static final int MAX_MEMBERS = 7;

    private final List<String> hosts;
    private final int portBase;

    /**
     * @param hosts    host of each member, by member id (0..n-1).
     * @param portBase the first port of member 0.
     */
    public ClusterMembers(final List<String> hosts, final int portBase)
    {
        if (hosts.isEmpty() || hosts.size() > MAX_MEMBERS)
        {
            throw new IllegalArgumentException("a cluster has 1.." + MAX_MEMBERS + " members: " + hosts);
        }
        for (final String host : hosts)
        {
            if (host.isBlank() || host.contains(",") || host.contains("|") || host.contains("="))
            {
                throw new IllegalArgumentException("not a host name: '" + host + "'");
            }
        }
        if (portBase < 1024 || (long)portBase + (long)hosts.size() * PORTS_PER_MEMBER > 65_535)
        {
            throw new IllegalArgumentException("port base " + portBase + " leaves no room for " + hosts.size() +
                " members (" + PORTS_PER_MEMBER + " ports each, below 65535)");
        }
        this.hosts = List.copyOf(hosts);
        this.portBase = portBase;
    }

    /**
     * @param hostList comma-separated hosts by member id, e.g. {@code localhost,localhost,localhost}.
     */
    public static ClusterMembers parse(final String hostList, final int portBase)
    {
        final List<String> hosts = new ArrayList<>();
        for (final String host : hostList.split(",", -1))
        {
            hosts.add(host.trim());
        }
        return new ClusterMembers(hosts, portBase);
    }

    public int size()
    {
        return hosts.size();
    }

    public String host(final int memberId)
    {
        return hosts.get(memberId);
    }

    public int port(final int memberId, final int offset)
    {
        return portBase + memberId * PORTS_PER_MEMBER + offset;
    }

    public String endpoint(final int memberId, final int offset)
    {
        return host(memberId) + ":" + port(memberId, offset);
    }

    /**
     * @return Aeron Cluster's members string: {@code id,ingress,consensus,log,catchup,archive|...}.
     */
    public String clusterMembers()
    {
        final StringBuilder members = new StringBuilder();
        for (int i = 0; i < hosts.size(); i++)
        {
            members.append(i == 0 ? "" : "|").append(i)
                .append(',').append(endpoint(i, CLIENT_FACING_PORT_OFFSET))
                .append(',').append(endpoint(i, MEMBER_FACING_PORT_OFFSET))
                .append(',').append(endpoint(i, LOG_PORT_OFFSET))
                .append(',').append(endpoint(i, TRANSFER_PORT_OFFSET))
                .append(',').append(endpoint(i, ARCHIVE_CONTROL_PORT_OFFSET));
        }
        return members.toString();
    }

    /**
     * @return what a client's {@code --cluster} takes: {@code 0=host:port,1=host:port,...}.
     */
    public String ingressEndpoints()
    {
        final StringBuilder endpoints = new StringBuilder();
        for (int i = 0; i < hosts.size(); i++)
        {
            endpoints.append(i == 0 ? "" : ",").append(i).append('=').append(endpoint(i, CLIENT_FACING_PORT_OFFSET));
        }
        return endpoints.toString();
    }
}
