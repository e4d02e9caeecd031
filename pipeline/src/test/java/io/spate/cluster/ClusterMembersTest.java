package io.spate.cluster;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Where the members of a cluster listen: the members string Aeron Cluster's consensus modules take, the ingress
 * endpoints clients take, the port layout (100 ports per member from the base), and hosts, port bases and member
 * counts that are refused.
 */
class ClusterMembersTest
{
    @Test
    void threeLocalMembersOnTheDefaultPorts()
    {
        final ClusterMembers members = ClusterMembers.parse("localhost,localhost,localhost",
            ClusterMembers.DEFAULT_PORT_BASE);
        assertEquals(3, members.size());
        assertEquals("0,localhost:20002,localhost:20003,localhost:20004,localhost:20005,localhost:20001|" +
            "1,localhost:20102,localhost:20103,localhost:20104,localhost:20105,localhost:20101|" +
            "2,localhost:20202,localhost:20203,localhost:20204,localhost:20205,localhost:20201",
            members.clusterMembers());
        assertEquals("0=localhost:20002,1=localhost:20102,2=localhost:20202", members.ingressEndpoints());
    }

    @Test
    void oneMemberOnItsHost()
    {
        final ClusterMembers members = new ClusterMembers(List.of("10.0.0.7"), 30_000);
        assertEquals("0,10.0.0.7:30002,10.0.0.7:30003,10.0.0.7:30004,10.0.0.7:30005,10.0.0.7:30001",
            members.clusterMembers());
        assertEquals("0=10.0.0.7:30002", members.ingressEndpoints());
        assertEquals("10.0.0.7", members.host(0));
    }

    @Test
    void eachMemberTakesItsOwnHundredPorts()
    {
        final List<String> hosts = List.of("a", "b.example.com", "c", "d", "e", "f", "g");
        final ClusterMembers members = new ClusterMembers(hosts, 1024);
        assertEquals(ClusterMembers.MAX_MEMBERS, members.size());
        final Set<Integer> ports = new HashSet<>();
        final int[] offsets = { ClusterMembers.ARCHIVE_CONTROL_PORT_OFFSET, ClusterMembers.CLIENT_FACING_PORT_OFFSET,
            ClusterMembers.MEMBER_FACING_PORT_OFFSET, ClusterMembers.LOG_PORT_OFFSET, ClusterMembers.TRANSFER_PORT_OFFSET };
        for (int member = 0; member < members.size(); member++)
        {
            assertEquals(hosts.get(member), members.host(member));
            for (final int offset : offsets)
            {
                final int port = members.port(member, offset);
                assertEquals(1024 + member * ClusterMembers.PORTS_PER_MEMBER + offset, port);
                assertTrue(port >= 1024 && port <= 65_535, "" + port);
                assertTrue(ports.add(port), "port " + port + " taken twice");
                assertEquals(hosts.get(member) + ":" + port, members.endpoint(member, offset));
            }
        }
        final String[] entries = members.clusterMembers().split("\\|");
        assertEquals(7, entries.length);
        for (int member = 0; member < entries.length; member++)
        {
            // id,ingress,consensus,log,catchup,archive
            assertEquals(String.join(",", Integer.toString(member),
                members.endpoint(member, ClusterMembers.CLIENT_FACING_PORT_OFFSET),
                members.endpoint(member, ClusterMembers.MEMBER_FACING_PORT_OFFSET),
                members.endpoint(member, ClusterMembers.LOG_PORT_OFFSET),
                members.endpoint(member, ClusterMembers.TRANSFER_PORT_OFFSET),
                members.endpoint(member, ClusterMembers.ARCHIVE_CONTROL_PORT_OFFSET)), entries[member]);
        }
        final String[] ingress = members.ingressEndpoints().split(",");
        assertEquals(7, ingress.length);
        assertEquals("6=g:1626", ingress[6]);
    }

    @Test
    void parseTrimsHostsAndKeepsTheirOrder()
    {
        final ClusterMembers members = ClusterMembers.parse(" node-a , node-b,node-c ", 40_000);
        assertEquals(List.of("node-a", "node-b", "node-c"), List.of(members.host(0), members.host(1), members.host(2)));
        assertEquals("0=node-a:40002,1=node-b:40102,2=node-c:40202", members.ingressEndpoints());
    }

    @Test
    void theHostListIsCopied()
    {
        final List<String> hosts = new ArrayList<>(List.of("a", "b"));
        final ClusterMembers members = new ClusterMembers(hosts, 20_000);
        hosts.set(0, "changed");
        hosts.add("c");
        assertEquals(2, members.size());
        assertEquals("a", members.host(0));
    }

    @ParameterizedTest(name = "''{0}''")
    @ValueSource(strings = { "", " ", ",", "a,,b", "a,", ",a", "a, ,b", "a|b", "a=b", "a,b=1" })
    void aBadHostIsRefused(final String hostList)
    {
        final IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
            () -> ClusterMembers.parse(hostList, 20_000));
        assertTrue(refused.getMessage().startsWith("not a host name: '"), refused.getMessage());
    }

    @Test
    void aHostWithASeparatorIsRefusedByTheConstructor()
    {
        for (final String host : List.of("a,b", "a|b", "a=b", "", "\t"))
        {
            final IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> new ClusterMembers(List.of("ok", host), 20_000), host);
            assertEquals("not a host name: '" + host + "'", refused.getMessage());
        }
    }

    @Test
    void noMembersOrTooManyAreRefused()
    {
        assertEquals("a cluster has 1..7 members: []", assertThrows(IllegalArgumentException.class,
            () -> new ClusterMembers(List.of(), 20_000)).getMessage());
        final IllegalArgumentException eight = assertThrows(IllegalArgumentException.class,
            () -> ClusterMembers.parse("a,b,c,d,e,f,g,h", 20_000));
        assertEquals("a cluster has 1..7 members: [a, b, c, d, e, f, g, h]", eight.getMessage());
        assertEquals(7, ClusterMembers.parse("a,b,c,d,e,f,g", 20_000).size());
    }

    @Test
    void aPortBaseWithoutRoomIsRefused()
    {
        for (final int portBase : new int[]{ 1023, 0, -1, -20_000, Integer.MIN_VALUE, 65_236, 65_535, 100_000 })
        {
            final IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> ClusterMembers.parse("localhost,localhost,localhost", portBase), "" + portBase);
            assertEquals("port base " + portBase + " leaves no room for 3 members (100 ports each, below 65535)",
                refused.getMessage());
        }
        // The highest base that leaves room: the last member's ports end below 65535.
        final ClusterMembers highest = ClusterMembers.parse("localhost,localhost,localhost", 65_535 - 300);
        assertEquals(65_535 - 300 + 200 + ClusterMembers.TRANSFER_PORT_OFFSET,
            highest.port(2, ClusterMembers.TRANSFER_PORT_OFFSET));
        assertThrows(IllegalArgumentException.class, () -> ClusterMembers.parse("localhost,localhost,localhost",
            65_535 - 299));
        assertEquals(1024, new ClusterMembers(List.of("a"), 1024).port(0, 0));
    }

    @Test
    void aPortBaseNearIntegerMaxValueIsRefusedNotOverflowed()
    {
        // portBase + members * 100 would overflow an int: still no room.
        for (final int portBase : new int[]{ Integer.MAX_VALUE, Integer.MAX_VALUE - 50, Integer.MAX_VALUE - 700 })
        {
            assertThrows(IllegalArgumentException.class,
                () -> ClusterMembers.parse("a,b,c,d,e,f,g", portBase), "" + portBase);
        }
    }
}
