package io.spate.pipeline;

import io.aeron.Aeron;
import io.aeron.DirectBufferVector;
import io.aeron.Publication;
import io.aeron.cluster.codecs.CloseReason;
import io.aeron.cluster.service.ClientSession;
import io.aeron.cluster.service.Cluster;
import io.aeron.cluster.service.ClusteredServiceContainer;
import io.aeron.logbuffer.BufferClaim;
import io.aeron.logbuffer.Header;
import io.spate.codec.DatabaseSchema;
import org.agrona.BitUtil;
import org.agrona.DirectBuffer;
import org.agrona.collections.Long2LongCounterMap;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.concurrent.IdleStrategy;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Aeron Cluster as {@link SpateClusteredService}s see it, simulated in one thread, deterministically: one replicated
 * log that every member's service is given in order, each member's consensus module reduced to what the service
 * relies on, and each client's egress. Nothing runs on its own: the test appends, ticks the clock and delivers.
 * <p>
 * The consensus module's timers are modelled on Aeron 1.51's {@code ConsensusModuleAgent}:
 * <ul>
 *   <li>{@code onScheduleTimer}: a schedule is taken only when no timer event of that correlation id was replayed
 *       before it; else the replayed count is decremented and nothing is scheduled;</li>
 *   <li>{@code onReplayTimerEvent} (a member that did not fire the timer sees its event in the log): the member's
 *       own timer of that id is cancelled, or, when it has none, the id's replayed count is incremented;</li>
 *   <li>only the leader fires timers, appending a timer event to the log.</li>
 * </ul>
 * Service messages ({@code Cluster.offer}) follow {@code PendingServiceMessageTracker}: every member's are kept, the
 * leader's are appended to the log, and a follower forgets its own as the log carries the leader's copies.
 * Only the leader's client sessions offer for real (to the client's {@link Egress}); a follower's return
 * {@link ClientSession#MOCKED_OFFER}, as {@code ClusteredServiceAgent.offer} does.
 */
final class SimulatedCluster
{
    /** Aligned frame header plus session header of a log entry: positions advance by at least this. */
    private static final int ENTRY_OVERHEAD_BYTES = 64;

    /** One entry of the log. */
    record Entry(Kind kind, long position, long timestamp, long sessionId, byte[] payload, long timerId,
        String responseChannel)
    {
    }

    enum Kind
    {
        SESSION_OPEN, SESSION_CLOSE, MESSAGE, SERVICE_MESSAGE, TIMER, NEW_TERM
    }

    final Aeron aeron;
    final List<Member> members = new ArrayList<>();
    final List<Entry> log = new ArrayList<>();
    final Map<Long, Egress> egressBySession = new LinkedHashMap<>();
    final java.util.Set<Long> closedSessions = new java.util.HashSet<>();
    private final Header header = new Header(0, 0);
    long time = 1_000;
    long position;
    long leadershipTermId = -1;
    int leader = -1;

    SimulatedCluster(final Aeron aeron)
    {
        this.aeron = aeron;
    }

    /** The client end of a session's egress: what it has received, and how it takes more. */
    static final class Egress
    {
        final List<byte[]> received = new ArrayList<>();
        /** Messages it takes before it pushes back; -1: no limit. */
        int window = -1;
        /** Offer result while it takes nothing: BACK_PRESSURED, NOT_CONNECTED, CLOSED, ... */
        long refusal = Publication.BACK_PRESSURED;
        /** Offers refused. */
        int refused;
        /** False: what it takes is counted, not kept (allocation tests). */
        boolean keep = true;
        int taken;
        long streamPosition;

        long offer(final DirectBuffer buffer, final int offset, final int length)
        {
            if (window == 0)
            {
                refused++;
                return refusal;
            }
            if (window > 0)
            {
                window--;
            }
            taken++;
            if (keep)
            {
                final byte[] message = new byte[length];
                buffer.getBytes(offset, message);
                received.add(message);
            }
            streamPosition += BitUtil.align(length + 64, 32);
            return streamPosition;
        }

        /** The client reads everything from now on. */
        void open()
        {
            window = -1;
        }

        /** The client stops reading: the egress takes this many more, then refuses with the given result. */
        void stall(final int messages, final long result)
        {
            window = messages;
            refusal = result;
        }
    }

    /** One member: its service, the cluster it sees, and its consensus module's state. */
    final class Member implements Cluster
    {
        final int id;
        final SpateClusteredService service;
        final List<String> fatal = new ArrayList<>();
        Role role = Role.FOLLOWER;
        /** As ClusteredServiceAgent has it: null until the first new leadership term event. */
        TimeUnit timeUnit;
        long logPosition;
        long clusterTime;
        /** Log entries given to the service. */
        int delivered;
        final Map<Long, MemberSession> sessions = new LinkedHashMap<>();
        /** The consensus module's timers: correlation id to deadline. */
        final Long2LongHashMap timers = new Long2LongHashMap(Long.MIN_VALUE);
        final Long2LongCounterMap replayedTimerCounts = new Long2LongCounterMap(0);
        final List<Long> scheduledIds = new ArrayList<>();
        final List<Long> cancelledIds = new ArrayList<>();
        final List<byte[]> serviceMessages = new ArrayList<>();
        final List<Long> closeRequests = new ArrayList<>();
        /** The next schedules refused (the consensus module's queue full). */
        int scheduleRefusals;
        int idles;
        /** Thrown by getClientSession when set (a fault outside the store). */
        RuntimeException sessionLookupFault;
        Error sessionLookupError;

        Member(final int id, final SpateClusteredService service)
        {
            this.id = id;
            this.service = service;
            service.fatalHandler(fatal::add);
        }

        public int memberId()
        {
            return id;
        }

        public Role role()
        {
            return role;
        }

        public long logPosition()
        {
            return logPosition;
        }

        public Aeron aeron()
        {
            return aeron;
        }

        public ClusteredServiceContainer.Context context()
        {
            throw new UnsupportedOperationException();
        }

        public ClientSession getClientSession(final long clusterSessionId)
        {
            if (null != sessionLookupFault)
            {
                throw sessionLookupFault;
            }
            if (null != sessionLookupError)
            {
                throw sessionLookupError;
            }
            return sessions.get(clusterSessionId);
        }

        public Collection<ClientSession> clientSessions()
        {
            return new ArrayList<>(sessions.values());
        }

        public void forEachClientSession(final Consumer<? super ClientSession> action)
        {
            sessions.values().forEach(action);
        }

        public boolean closeClientSession(final long clusterSessionId)
        {
            final MemberSession session = sessions.get(clusterSessionId);
            if (null == session)
            {
                throw new io.aeron.cluster.client.ClusterException("unknown clusterSessionId: " + clusterSessionId);
            }
            closeRequests.add(clusterSessionId);
            session.closing = true;
            return true;
        }

        public long time()
        {
            return clusterTime;
        }

        public TimeUnit timeUnit()
        {
            return timeUnit;
        }

        public boolean scheduleTimer(final long correlationId, final long deadline)
        {
            if (scheduleRefusals > 0)
            {
                scheduleRefusals--;
                return false;
            }
            scheduledIds.add(correlationId);
            // ConsensusModuleAgent.onScheduleTimer
            if (replayedTimerCounts.get(correlationId) == 0)
            {
                timers.put(correlationId, deadline);
            }
            else
            {
                replayedTimerCounts.decrementAndGet(correlationId);
            }
            return true;
        }

        public boolean cancelTimer(final long correlationId)
        {
            cancelledIds.add(correlationId);
            timers.remove(correlationId);
            return true;
        }

        public long offer(final DirectBuffer buffer, final int offset, final int length)
        {
            final byte[] message = new byte[length];
            buffer.getBytes(offset, message);
            serviceMessages.add(message);
            return 1024;
        }

        public long offer(final DirectBufferVector[] vectors)
        {
            throw new UnsupportedOperationException();
        }

        public long tryClaim(final int length, final BufferClaim bufferClaim)
        {
            throw new UnsupportedOperationException();
        }

        public IdleStrategy idleStrategy()
        {
            return new IdleStrategy()
            {
                public void idle(final int workCount)
                {
                    idle();
                }

                public void idle()
                {
                    if (++idles > 100_000)
                    {
                        throw new AssertionError("member " + id + " idles without end");
                    }
                }

                public void reset()
                {
                }
            };
        }

        /** The leader's consensus module fires its due timers: each a timer event appended to the log. */
        void fireDueTimers()
        {
            final List<long[]> due = new ArrayList<>();
            timers.forEach((correlationId, deadline) ->
            {
                if (deadline <= time)
                {
                    due.add(new long[]{ deadline, correlationId });
                }
            });
            due.sort((a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[1], b[1]));
            for (final long[] timer : due)
            {
                timers.remove(timer[1]);
                append(Kind.TIMER, 0, null, timer[1], null);
            }
        }

        void deliver(final Entry entry)
        {
            logPosition = entry.position();
            clusterTime = entry.timestamp();
            delivered++;
            switch (entry.kind())
            {
                case SESSION_OPEN ->
                {
                    final MemberSession session = new MemberSession(this, entry.sessionId(), entry.responseChannel());
                    sessions.put(entry.sessionId(), session);
                    service.onSessionOpen(session, entry.timestamp());
                }
                case SESSION_CLOSE ->
                {
                    final MemberSession session = sessions.remove(entry.sessionId());
                    service.onSessionClose(session, entry.timestamp(), CloseReason.SERVICE_ACTION);
                }
                case MESSAGE ->
                {
                    final org.agrona.concurrent.UnsafeBuffer buffer = new org.agrona.concurrent.UnsafeBuffer(
                        entry.payload());
                    service.onSessionMessage(sessions.get(entry.sessionId()), entry.timestamp(), buffer, 0,
                        entry.payload().length, header);
                }
                case SERVICE_MESSAGE ->
                {
                    if (id != leader && !serviceMessages.isEmpty())
                    {
                        serviceMessages.remove(0); // swept: the log carries the leader's copy
                    }
                    final org.agrona.concurrent.UnsafeBuffer buffer = new org.agrona.concurrent.UnsafeBuffer(
                        entry.payload());
                    service.onSessionMessage(null, entry.timestamp(), buffer, 0, entry.payload().length, header);
                }
                case TIMER ->
                {
                    if (role != Role.LEADER)
                    {
                        // ConsensusModuleAgent.onReplayTimerEvent
                        if (timers.remove(entry.timerId()) == timers.missingValue())
                        {
                            replayedTimerCounts.getAndIncrement(entry.timerId());
                        }
                    }
                    service.onTimerEvent(entry.timerId(), entry.timestamp());
                }
                case NEW_TERM ->
                {
                    timeUnit = TimeUnit.MILLISECONDS;
                    service.onNewLeadershipTermEvent(leadershipTermId, entry.position(), entry.timestamp(),
                        entry.position(), (int)entry.sessionId(), 0, TimeUnit.MILLISECONDS, 0);
                }
            }
        }

        void role(final Role newRole)
        {
            if (newRole != role)
            {
                role = newRole;
                service.onRoleChange(newRole);
            }
        }
    }

    /** A client session as one member's service has it. */
    final class MemberSession implements ClientSession
    {
        final Member member;
        final long id;
        final String responseChannel;
        boolean closing;
        /** Offers made to this member's session. */
        int offers;
        /** Thrown by offer when set (a fault outside the store): a RuntimeException or an Error. */
        Throwable offerFault;

        MemberSession(final Member member, final long id, final String responseChannel)
        {
            this.member = member;
            this.id = id;
            this.responseChannel = responseChannel;
        }

        public long id()
        {
            return id;
        }

        public int responseStreamId()
        {
            return 102;
        }

        public String responseChannel()
        {
            return responseChannel;
        }

        public byte[] encodedPrincipal()
        {
            return new byte[0];
        }

        public void close()
        {
            member.closeClientSession(id);
        }

        public boolean isClosing()
        {
            return closing;
        }

        public long offer(final DirectBuffer buffer, final int offset, final int length)
        {
            offers++;
            if (offerFault instanceof RuntimeException ex)
            {
                throw ex;
            }
            if (offerFault instanceof Error error)
            {
                throw error;
            }
            if (member.role != Cluster.Role.LEADER)
            {
                return MOCKED_OFFER;
            }
            return egressBySession.get(id).offer(buffer, offset, length);
        }

        public long offer(final DirectBufferVector[] vectors)
        {
            throw new UnsupportedOperationException();
        }

        public long tryClaim(final int length, final BufferClaim bufferClaim)
        {
            throw new UnsupportedOperationException();
        }
    }

    /**
     * Adds a member with the service, started on an empty log (no snapshot).
     */
    Member addMember(final DatabaseSchema schema, final ClusterServiceSettings settings)
    {
        return addMember(schema, settings, null, 0);
    }

    /**
     * Adds a member started from a snapshot: the log before the snapshot's position is not given to it.
     *
     * @param snapshot          an image of the snapshot stream (null: none).
     * @param snapshotLogEntries log entries the snapshot covers.
     */
    Member addMember(final DatabaseSchema schema, final ClusterServiceSettings settings,
        final io.aeron.Image snapshot, final int snapshotLogEntries)
    {
        final Member member = new Member(members.size(), new SpateClusteredService(schema, settings));
        members.add(member);
        member.clusterTime = time;
        member.delivered = snapshotLogEntries;
        if (snapshotLogEntries > 0)
        {
            member.timeUnit = TimeUnit.MILLISECONDS;
            for (int i = 0; i < snapshotLogEntries; i++)
            {
                final Entry entry = log.get(i);
                if (entry.kind() == Kind.SESSION_OPEN)
                {
                    member.sessions.put(entry.sessionId(), new MemberSession(member, entry.sessionId(),
                        entry.responseChannel()));
                }
                else if (entry.kind() == Kind.SESSION_CLOSE)
                {
                    member.sessions.remove(entry.sessionId());
                }
            }
        }
        member.service.onStart(member, snapshot);
        return member;
    }

    Member leader()
    {
        return members.get(leader);
    }

    /**
     * A new term with this member as its leader: the others follow, the term's first log entry is its event.
     */
    void elect(final int newLeader)
    {
        leader = newLeader;
        leadershipTermId++;
        for (final Member member : members)
        {
            member.role(member.id == newLeader ? Cluster.Role.LEADER : Cluster.Role.FOLLOWER);
        }
        append(Kind.NEW_TERM, newLeader, null, 0, null);
        deliver();
    }

    Entry append(final Kind kind, final long sessionId, final byte[] payload, final long timerId,
        final String responseChannel)
    {
        position += ENTRY_OVERHEAD_BYTES + (null == payload ? 0 : BitUtil.align(payload.length, 32));
        final Entry entry = new Entry(kind, position, time, sessionId, payload, timerId, responseChannel);
        log.add(entry);
        return entry;
    }

    /** A client opens a session; its egress takes everything until told otherwise. */
    Egress openSession(final long sessionId, final String responseChannel)
    {
        final Egress egress = new Egress();
        egressBySession.put(sessionId, egress);
        append(Kind.SESSION_OPEN, sessionId, null, 0, responseChannel);
        deliver();
        return egress;
    }

    /** A client message, committed and given to every member. */
    void message(final long sessionId, final byte[] message)
    {
        append(Kind.MESSAGE, sessionId, message, 0, null);
        deliver();
    }

    /**
     * The leader's consensus module at work: its service's close requests and messages appended, then its timers
     * fired; every member given the log.
     */
    void leaderWork()
    {
        final Member leaderMember = leader();
        for (final Long sessionId : leaderMember.closeRequests)
        {
            if (closedSessions.add(sessionId))
            {
                append(Kind.SESSION_CLOSE, sessionId, null, 0, null);
            }
        }
        leaderMember.closeRequests.clear();
        for (final byte[] message : leaderMember.serviceMessages)
        {
            append(Kind.SERVICE_MESSAGE, 0, message, 0, null);
        }
        leaderMember.serviceMessages.clear();
        leaderMember.fireDueTimers();
        deliver();
        for (final Member member : members)
        {
            if (member.id != leader)
            {
                member.closeRequests.clear();
            }
        }
    }

    /** The clock moves on by this many milliseconds, one at a time, the leader working at each. */
    void tick(final long millis)
    {
        for (long i = 0; i < millis; i++)
        {
            time++;
            leaderWork();
        }
    }

    /** Every member is given the log entries it has not seen yet. */
    void deliver()
    {
        for (final Member member : members)
        {
            while (member.delivered < log.size())
            {
                member.deliver(log.get(member.delivered));
            }
        }
    }

    /** Timer events in the log so far. */
    long timerEvents()
    {
        return log.stream().filter(entry -> entry.kind() == Kind.TIMER).count();
    }

    void terminate()
    {
        for (final Member member : members)
        {
            member.service.onTerminate(member);
        }
    }
}
