package io.spate.client;

import io.aeron.ExclusivePublication;
import io.aeron.Image;
import io.aeron.archive.Archive;
import io.aeron.archive.ArchiveThreadingMode;
import io.aeron.archive.client.AeronArchive;
import io.aeron.cluster.ClusteredMediaDriver;
import io.aeron.cluster.ConsensusModule;
import io.aeron.cluster.codecs.CloseReason;
import io.aeron.cluster.service.ClientSession;
import io.aeron.cluster.service.Cluster;
import io.aeron.cluster.service.ClusteredService;
import io.aeron.cluster.service.ClusteredServiceContainer;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.aeron.logbuffer.Header;
import io.spate.codec.RecordFraming;
import io.spate.wire.AckEncoder;
import io.spate.wire.BatchHeaderDecoder;
import io.spate.wire.MessageHeaderDecoder;
import io.spate.wire.MessageHeaderEncoder;
import io.spate.wire.ReadRequestDecoder;
import io.spate.wire.ReadResponseEncoder;
import io.spate.wire.RecordStatus;
import io.spate.wire.SessionSettingsEncoder;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.IoUtil;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.NoOpLock;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.File;
import java.util.ArrayDeque;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An Aeron Cluster of one or more members in this JVM, each with a stand-in for Spate's clustered service that
 * speaks the client protocol: a session that opens gets SessionSettings (its ledger bound and batch bounds), as
 * the real service sends them; a client batch is applied once per (session, correlation id) and answered with an
 * Ack (every record taken as a Create with the next id); a batch seen again is answered with its original ack
 * from a ledger of the session's last {@code ledgerBatches} acks, or ALREADY_APPLIED once it left it; a
 * ReadRequest is answered with the count of records applied. Switches make a member answer every ack twice, or
 * hold acks back. A member can be stopped (the others elect a new leader, which clients
 * learn about) and started again on its data. Deterministic in the log, so a replay rebuilds a member.
 */
final class TestCluster implements AutoCloseable
{
    private final Path directory;
    private final int memberCount;
    private final int portBase;
    private final long leaderHeartbeatTimeoutNs;
    private final long sessionTimeoutNs;
    final TestService[] services;
    private final ClusteredMediaDriver[] clusteredMediaDrivers;
    private final ClusteredServiceContainer[] containers;

    /**
     * Starts every member, clean.
     */
    TestCluster(final int memberCount, final long leaderHeartbeatTimeoutMs, final long sessionTimeoutMs)
        throws Exception
    {
        this.memberCount = memberCount;
        directory = Files.createTempDirectory("spate-client-cluster-");
        // Away from the ports the pipeline module's cluster tests use.
        portBase = 41_000 + 100 * memberCount * ThreadLocalRandom.current().nextInt(20);
        leaderHeartbeatTimeoutNs = TimeUnit.MILLISECONDS.toNanos(leaderHeartbeatTimeoutMs);
        sessionTimeoutNs = TimeUnit.MILLISECONDS.toNanos(sessionTimeoutMs);
        services = new TestService[memberCount];
        clusteredMediaDrivers = new ClusteredMediaDriver[memberCount];
        containers = new ClusteredServiceContainer[memberCount];
        for (int i = 0; i < memberCount; i++)
        {
            services[i] = new TestService();
            start(i, true);
        }
    }

    private int port(final int member, final int offset)
    {
        return portBase + 100 * member + offset;
    }

    /**
     * @return the ingress endpoints, the client's {@code clusterIngressEndpoints}.
     */
    String ingressEndpoints()
    {
        final StringBuilder endpoints = new StringBuilder();
        for (int i = 0; i < memberCount; i++)
        {
            endpoints.append(i == 0 ? "" : ",").append(i).append("=localhost:").append(port(i, 2));
        }
        return endpoints.toString();
    }

    private String clusterMembers()
    {
        final StringBuilder members = new StringBuilder();
        for (int i = 0; i < memberCount; i++)
        {
            members.append(i == 0 ? "" : "|").append(i)
                .append(",localhost:").append(port(i, 2))
                .append(",localhost:").append(port(i, 3))
                .append(",localhost:").append(port(i, 4))
                .append(",localhost:").append(port(i, 5))
                .append(",localhost:").append(port(i, 1));
        }
        return members.toString();
    }

    /**
     * @return the member whose service is the leader now, or -1.
     */
    int leader()
    {
        for (int i = 0; i < memberCount; i++)
        {
            if (null != containers[i] && services[i].role == Cluster.Role.LEADER)
            {
                return i;
            }
        }
        return -1;
    }

    void start(final int member, final boolean clean)
    {
        final Path memberDirectory = directory.resolve("member-" + member);
        final String aeronDir = memberDirectory.resolve("driver").toString();
        final File clusterDir = memberDirectory.resolve("cluster").toFile();
        final AeronArchive.Context archiveClient = new AeronArchive.Context()
            .lock(NoOpLock.INSTANCE)
            .controlRequestChannel("aeron:ipc?term-length=64k")
            .controlResponseChannel("aeron:ipc?term-length=64k")
            .aeronDirectoryName(aeronDir);
        clusteredMediaDrivers[member] = ClusteredMediaDriver.launch(
            new MediaDriver.Context()
                .aeronDirectoryName(aeronDir)
                .threadingMode(ThreadingMode.SHARED)
                .sharedIdleStrategy(new BackoffIdleStrategy())
                .dirDeleteOnStart(true)
                .dirDeleteOnShutdown(true),
            new Archive.Context()
                .aeronDirectoryName(aeronDir)
                .archiveDir(memberDirectory.resolve("archive").toFile())
                .deleteArchiveOnStart(clean)
                .threadingMode(ArchiveThreadingMode.SHARED)
                .controlChannel("aeron:udp?endpoint=localhost:" + port(member, 1))
                .localControlChannel("aeron:ipc?term-length=64k")
                .replicationChannel("aeron:udp?endpoint=localhost:0")
                .recordingEventsEnabled(false),
            new ConsensusModule.Context()
                .clusterMemberId(member)
                .clusterMembers(clusterMembers())
                .clusterDir(clusterDir)
                .deleteDirOnStart(clean)
                .ingressChannel("aeron:udp")
                .replicationChannel("aeron:udp?endpoint=localhost:0")
                .leaderHeartbeatTimeoutNs(leaderHeartbeatTimeoutNs)
                .sessionTimeoutNs(sessionTimeoutNs)
                .archiveContext(archiveClient.clone()));
        containers[member] = ClusteredServiceContainer.launch(new ClusteredServiceContainer.Context()
            .aeronDirectoryName(aeronDir)
            .archiveContext(archiveClient.clone())
            .clusterDir(clusterDir)
            .clusteredService(services[member]));
    }

    /**
     * Stops a member (its media driver, and with it its side of every client's egress and ingress); its data
     * stays.
     */
    void stop(final int member)
    {
        CloseHelper.closeAll(containers[member], clusteredMediaDrivers[member]);
        containers[member] = null;
        clusteredMediaDrivers[member] = null;
        services[member].role = null;
    }

    public void close()
    {
        for (int i = 0; i < memberCount; i++)
        {
            stop(i);
        }
        IoUtil.delete(directory.toFile(), true);
    }

    /**
     * The stand-in service. Its switches and counters are read and set from the test's thread.
     */
    static final class TestService implements ClusteredService
    {
        /** Answer every ack twice. */
        volatile boolean duplicateEveryAck;
        /** Apply batches but send no ack (they stay in the ledger). */
        volatile boolean holdAcks;
        /** Batches applied (first time seen), resent batches answered again: over every start. */
        final AtomicLong appliedBatches = new AtomicLong();
        final AtomicLong answeredAgain = new AtomicLong();
        /** Messages whose session id is not the cluster session they came on (the client must use that id). */
        final AtomicLong foreignSessionIds = new AtomicLong();

        /** What SessionSettings says and the ledger keeps; set before clients connect (every member the same). */
        volatile int ledgerBatches = 1024;
        volatile int maxBatchBytes = 256 << 10;
        volatile int maxRecordsPerBatch = 8192;
        /** Resent batches answered ALREADY_APPLIED: their ack had left the ledger. */
        final AtomicLong answeredAlreadyApplied = new AtomicLong();

        /** As the container last said; null while stopped. */
        volatile Cluster.Role role;

        private Cluster cluster;
        private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
        private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
        private final BatchHeaderDecoder batchDecoder = new BatchHeaderDecoder();
        private final ReadRequestDecoder readDecoder = new ReadRequestDecoder();
        private final AckEncoder ackEncoder = new AckEncoder();
        private final ReadResponseEncoder readResponseEncoder = new ReadResponseEncoder();
        private final UnsafeBuffer answer = new UnsafeBuffer(new byte[1 << 20]);
        private final Long2LongHashMap highestAppliedBySession = new Long2LongHashMap(0);
        private final Long2ObjectHashMap<Long2ObjectHashMap<byte[]>> ledgerBySession = new Long2ObjectHashMap<>();
        private final Long2ObjectHashMap<ArrayDeque<Long>> ledgerOrderBySession = new Long2ObjectHashMap<>();
        private long recordsApplied;
        private long nextNodeId;

        public void onStart(final Cluster cluster, final Image snapshotImage)
        {
            this.cluster = cluster;
            role = cluster.role();
            // No snapshots are taken: a restart replays the whole log into a fresh state.
            highestAppliedBySession.clear();
            ledgerBySession.clear();
            ledgerOrderBySession.clear();
            recordsApplied = 0;
            nextNodeId = 0;
        }

        public void onSessionOpen(final ClientSession session, final long timestamp)
        {
            // As the real service: the bounds the client keeps to, on egress right after the session opens.
            final int lengthBytes = RecordFraming.HEADER_LENGTH_BYTES + new SessionSettingsEncoder()
                .wrapAndApplyHeader(answer, 0, headerEncoder)
                .sessionId(session.id())
                .ledgerBatches(ledgerBatches)
                .maxBatchBytes(maxBatchBytes)
                .maxRecordsPerBatch(maxRecordsPerBatch)
                .encodedLength();
            headerEncoder.frameLengthBytes(lengthBytes);
            send(session, answer, lengthBytes);
        }

        public void onSessionClose(final ClientSession session, final long timestamp, final CloseReason closeReason)
        {
        }

        public void onSessionMessage(
            final ClientSession session,
            final long timestamp,
            final DirectBuffer buffer,
            final int offset,
            final int length,
            final Header header)
        {
            headerDecoder.wrap(buffer, offset);
            if (headerDecoder.templateId() == BatchHeaderDecoder.TEMPLATE_ID)
            {
                batchDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
                if (batchDecoder.sessionId() != session.id())
                {
                    foreignSessionIds.incrementAndGet();
                }
                onBatch(session, batchDecoder.sessionId(), batchDecoder.correlationId(), (int)batchDecoder.recordCount());
            }
            else if (headerDecoder.templateId() == ReadRequestDecoder.TEMPLATE_ID)
            {
                readDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
                final int lengthBytes = RecordFraming.HEADER_LENGTH_BYTES + readResponseEncoder
                    .wrapAndApplyHeader(answer, 0, headerEncoder)
                    .sessionId(readDecoder.sessionId())
                    .correlationId(readDecoder.correlationId())
                    .count(recordsApplied)
                    .typeId(readDecoder.typeId())
                    .status(RecordStatus.OK)
                    .putNode(new byte[0], 0, 0)
                    .encodedLength();
                headerEncoder.frameLengthBytes(lengthBytes);
                send(session, answer, lengthBytes);
            }
        }

        private void onBatch(final ClientSession session, final long sessionId, final long correlationId, final int records)
        {
            final Long2ObjectHashMap<byte[]> ledger =
                ledgerBySession.computeIfAbsent(session.id(), (ignore) -> new Long2ObjectHashMap<>());
            if (correlationId <= highestAppliedBySession.get(session.id()))
            {
                final byte[] original = ledger.get(correlationId);
                answeredAgain.incrementAndGet();
                if (null != original)
                {
                    send(session, new UnsafeBuffer(original), original.length);
                }
                else
                {
                    answeredAlreadyApplied.incrementAndGet();
                    ackEncoder.wrapAndApplyHeader(answer, 0, headerEncoder)
                        .sessionId(sessionId)
                        .correlationId(correlationId)
                        .recordCount(records)
                        .status(RecordStatus.ALREADY_APPLIED)
                        .createdIdsCount(0);
                    ackEncoder.errorsCount(0);
                    final int lengthBytes = RecordFraming.HEADER_LENGTH_BYTES + ackEncoder.encodedLength();
                    headerEncoder.frameLengthBytes(lengthBytes);
                    send(session, answer, lengthBytes);
                }
                return;
            }
            highestAppliedBySession.put(session.id(), correlationId);
            recordsApplied += records;
            appliedBatches.incrementAndGet();
            final AckEncoder.CreatedIdsEncoder created = ackEncoder.wrapAndApplyHeader(answer, 0, headerEncoder)
                .sessionId(sessionId)
                .correlationId(correlationId)
                .recordCount(records)
                .status(RecordStatus.OK)
                .createdIdsCount(records);
            for (int i = 0; i < records; i++)
            {
                created.next().nodeId(++nextNodeId).recordIndex(i);
            }
            ackEncoder.errorsCount(0);
            final int lengthBytes = RecordFraming.HEADER_LENGTH_BYTES + ackEncoder.encodedLength();
            headerEncoder.frameLengthBytes(lengthBytes);
            final byte[] ack = new byte[lengthBytes];
            answer.getBytes(0, ack);
            ledger.put(correlationId, ack);
            final ArrayDeque<Long> order =
                ledgerOrderBySession.computeIfAbsent(session.id(), (ignore) -> new ArrayDeque<>());
            order.addLast(correlationId);
            while (order.size() > ledgerBatches)
            {
                ledger.remove((long)order.removeFirst());
            }
            if (!holdAcks)
            {
                send(session, answer, lengthBytes);
                if (duplicateEveryAck)
                {
                    send(session, answer, lengthBytes);
                }
            }
        }

        private void send(final ClientSession session, final DirectBuffer buffer, final int lengthBytes)
        {
            // Replayed messages are answered by nobody (offer is a no-op then); a live one is retried a while.
            for (int attempt = 0; attempt < 100_000; attempt++)
            {
                final long result = session.offer(buffer, 0, lengthBytes);
                if (result > 0 || result == ClientSession.MOCKED_OFFER)
                {
                    return;
                }
                cluster.idleStrategy().idle();
            }
        }

        public void onTimerEvent(final long correlationId, final long timestamp)
        {
        }

        public void onTakeSnapshot(final ExclusivePublication snapshotPublication)
        {
        }

        public void onRoleChange(final Cluster.Role newRole)
        {
            role = newRole;
        }

        public void onTerminate(final Cluster cluster)
        {
        }
    }
}
