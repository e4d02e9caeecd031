package io.spate.pipeline;

import io.aeron.Aeron;
import io.aeron.Publication;
import io.aeron.cluster.service.Cluster;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordFraming;
import io.spate.codec.RecordWriter;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.codec.testing.ExampleSchemas;
import io.spate.wire.AckDecoder;
import io.spate.wire.BatchHeaderEncoder;
import io.spate.wire.MessageHeaderDecoder;
import io.spate.wire.MessageHeaderEncoder;
import io.spate.wire.ReadKind;
import io.spate.wire.ReadRequestEncoder;
import io.spate.wire.ReadResponseDecoder;
import io.spate.wire.RecordStatus;
import io.spate.wire.SessionSettingsDecoder;
import org.agrona.CloseHelper;
import org.agrona.IoUtil;
import org.agrona.concurrent.SleepingMillisIdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The clustered service on a {@link SimulatedCluster}: one log given to every member, each member's consensus
 * module's timer rules as Aeron 1.51 has them, the clients' egress pushed back, refused or closed at will. What is
 * asserted: the unsent-answer timer fires after leader changes and restarts (its ids are never ones a member has
 * replayed), it is retried on an idle cluster when the consensus module refused it, and it fires rarely while a
 * client is stuck; no answer (duplicate's, ALREADY_APPLIED, read, SessionSettings) is dropped while its session
 * lives, and a session whose answers pass their bound is closed; members compare the settings that decide the
 * replicated state through the log; any fault in a log callback stops the member; a batch whose ack cannot fit the
 * client's egress is refused; a malformed header or a correlation id of 0 or below is answered MALFORMED.
 */
@Timeout(60)
class SpateClusteredServiceTest
{
    private static final String CHANNEL = "aeron:udp?endpoint=localhost:0";
    private static final String SMALL_TERM_CHANNEL = "aeron:udp?endpoint=localhost:0|term-length=64k";
    private static final long SESSION = 7;

    private static Path aeronDirectory;
    private static MediaDriver driver;

    private final DatabaseSchema schema = PipelineHarness.exampleSchema();
    private final TypeDefinition user = schema.type("User");
    private Aeron aeron;
    private SimulatedCluster cluster;

    @BeforeAll
    static void startDriver() throws IOException
    {
        final Path shm = Path.of("/dev/shm");
        aeronDirectory = Files.isDirectory(shm) && Files.isWritable(shm) ?
            Files.createTempDirectory(shm, "spate-service-test-") : Files.createTempDirectory("spate-service-test-");
        driver = MediaDriver.launchEmbedded(new MediaDriver.Context()
            .aeronDirectoryName(aeronDirectory.resolve("aeron").toString())
            .threadingMode(ThreadingMode.SHARED)
            .sharedIdleStrategy(new SleepingMillisIdleStrategy(1))
            .dirDeleteOnStart(true)
            .dirDeleteOnShutdown(true));
    }

    @AfterAll
    static void stopDriver()
    {
        CloseHelper.close(driver);
        if (null != aeronDirectory)
        {
            IoUtil.delete(aeronDirectory.toFile(), true);
        }
    }

    @BeforeEach
    void connect()
    {
        // As the clustered service container's client: an error in a fragment handler (a snapshot refused) is thrown
        // out of poll, not handed to the error handler while polling goes on.
        aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName())
            .subscriberErrorHandler(io.aeron.RethrowingErrorHandler.INSTANCE));
        cluster = new SimulatedCluster(aeron);
    }

    @AfterEach
    void close()
    {
        try
        {
            cluster.terminate();
        }
        finally
        {
            CloseHelper.close(aeron);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Messages and answers

    private static ClusterServiceSettings settings(final int ledgerBatches)
    {
        return new ClusterServiceSettings(ClusterServiceSettings.DEFAULT_MAX_BATCH_BYTES,
            ClusterServiceSettings.DEFAULT_MAX_RECORDS_PER_BATCH, ledgerBatches);
    }

    private static ClusterServiceSettings defaults()
    {
        return settings(ClusterServiceSettings.DEFAULT_ACK_LEDGER_BATCHES);
    }

    private byte[] batch(final long sessionId, final long correlationId, final int creates)
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[64 + creates * 64]);
        final RecordWriter writer = new RecordWriter(schema).wrap(buffer, 0, buffer.capacity());
        writer.beginBatch(sessionId, correlationId);
        for (int i = 0; i < creates; i++)
        {
            writer.create(user);
            writer.setLong(user.field("karma"), correlationId * 1_000 + i);
        }
        final int length = writer.endBatch();
        final byte[] bytes = new byte[length];
        buffer.getBytes(0, bytes);
        return bytes;
    }

    private static byte[] countRequest(final long sessionId, final long correlationId, final int typeId)
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[128]);
        final MessageHeaderEncoder header = new MessageHeaderEncoder();
        final ReadRequestEncoder request = new ReadRequestEncoder().wrapAndApplyHeader(buffer, 0, header)
            .sessionId(sessionId).correlationId(correlationId).nodeId(0).typeId(typeId).kind(ReadKind.COUNT);
        final int length = MessageHeaderEncoder.ENCODED_LENGTH + request.encodedLength();
        header.frameLengthBytes(length);
        final byte[] bytes = new byte[length];
        buffer.getBytes(0, bytes);
        return bytes;
    }

    private static int templateId(final byte[] message)
    {
        return new MessageHeaderDecoder().wrap(new UnsafeBuffer(message), 0).templateId();
    }

    /** An answer as text: "ack 3 OK 2 ids", "read 9 OK 5", "settings 7 1024 2097152 8192". */
    private static String describe(final byte[] message)
    {
        final MessageHeaderDecoder header = new MessageHeaderDecoder();
        final UnsafeBuffer buffer = new UnsafeBuffer(message);
        return switch (templateId(message))
        {
            case AckDecoder.TEMPLATE_ID ->
            {
                final AckDecoder ack = new AckDecoder().wrapAndApplyHeader(buffer, 0, header);
                yield "ack " + ack.correlationId() + " " + ack.status() + " " + ack.createdIds().count() + " ids";
            }
            case ReadResponseDecoder.TEMPLATE_ID ->
            {
                final ReadResponseDecoder read = new ReadResponseDecoder().wrapAndApplyHeader(buffer, 0, header);
                yield "read " + read.correlationId() + " " + read.status() + " " + read.count();
            }
            case SessionSettingsDecoder.TEMPLATE_ID ->
            {
                final SessionSettingsDecoder settings = new SessionSettingsDecoder().wrapAndApplyHeader(buffer, 0, header);
                yield "settings " + settings.sessionId() + " " + settings.ledgerBatches() + " " + settings.maxBatchBytes() +
                    " " + settings.maxRecordsPerBatch();
            }
            default -> "template " + templateId(message);
        };
    }

    /** What the client received, SessionSettings left out. */
    private static List<String> answers(final SimulatedCluster.Egress egress)
    {
        final List<String> answers = new ArrayList<>();
        for (final byte[] message : egress.received)
        {
            if (templateId(message) != SessionSettingsDecoder.TEMPLATE_ID)
            {
                answers.add(describe(message));
            }
        }
        return answers;
    }

    private static List<String> acks(final long from, final long to, final int ids)
    {
        final List<String> acks = new ArrayList<>();
        for (long id = from; id <= to; id++)
        {
            acks.add("ack " + id + " OK " + ids + " ids");
        }
        return acks;
    }

    private static void assertNoFatal(final SimulatedCluster.Member member)
    {
        assertEquals(List.of(), member.fatal, "member " + member.id + " carries on");
    }

    private long count(final SimulatedCluster.Member member, final TypeDefinition type)
    {
        return member.service.store().count(type.typeId());
    }

    private SimulatedCluster.Member[] members(final int count, final ClusterServiceSettings settings)
    {
        final SimulatedCluster.Member[] members = new SimulatedCluster.Member[count];
        for (int i = 0; i < count; i++)
        {
            members[i] = cluster.addMember(schema, settings);
        }
        return members;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Finding 1: the unsent-answer timer

    /**
     * Member 0 leads while a client is slow: its retry timer fires, and the other members replay those timer events
     * without having scheduled them (their consensus modules count them). Member 1 then leads and the client is slow
     * again, on an idle cluster: member 1's retry timer must fire. With one fixed correlation id the consensus module
     * swallowed member 1's schedules, and the acks never left.
     */
    @Test
    void theRetryTimerFiresAfterALeaderChange()
    {
        final SimulatedCluster.Member[] members = members(3, defaults());
        cluster.elect(0);
        final SimulatedCluster.Egress egress = cluster.openSession(SESSION, CHANNEL);
        egress.stall(2, Publication.BACK_PRESSURED);
        for (long id = 1; id <= 10; id++)
        {
            cluster.message(SESSION, batch(SESSION, id, 2));
        }
        cluster.tick(50);
        egress.open();
        cluster.tick(300);
        assertEquals(acks(1, 10, 2), answers(egress));
        assertTrue(cluster.timerEvents() > 0, "member 0's retry timer fired");

        cluster.elect(1);
        egress.stall(0, Publication.BACK_PRESSURED);
        for (long id = 11; id <= 20; id++)
        {
            cluster.message(SESSION, batch(SESSION, id, 2));
        }
        cluster.tick(20);
        egress.open();
        cluster.tick(1_000); // nothing more comes in: only a timer sends them
        assertEquals(acks(1, 20, 2), answers(egress), "member 1 answers once its client reads");
        for (final SimulatedCluster.Member member : members)
        {
            assertNoFatal(member);
            assertEquals(40, count(member, user));
        }
    }

    /**
     * Every schedule has its own correlation id, and it comes from the log (the position of the message it was
     * scheduled at): ids never repeat over leader changes, so no member can have replayed one.
     */
    @Test
    void eachRetryScheduleHasItsOwnIdFromTheLog()
    {
        members(2, defaults());
        final List<Long> ids = new ArrayList<>();
        for (int term = 0; term < 4; term++)
        {
            cluster.elect(term % 2);
            final SimulatedCluster.Egress client = term == 0 ? cluster.openSession(SESSION, CHANNEL) :
                cluster.egressBySession.get(SESSION);
            client.stall(1, Publication.BACK_PRESSURED);
            for (int i = 1; i <= 5; i++)
            {
                cluster.message(SESSION, batch(SESSION, term * 10L + i, 1));
            }
            cluster.tick(40);
            client.open();
            cluster.tick(300);
        }
        final Set<Long> positions = new HashSet<>();
        cluster.log.forEach(entry -> positions.add(entry.position()));
        for (final SimulatedCluster.Member member : cluster.members)
        {
            ids.addAll(member.scheduledIds);
        }
        assertTrue(ids.size() >= 4, "retries were scheduled: " + ids);
        assertEquals(ids.size(), new HashSet<>(ids).size(), "no id twice: " + ids);
        for (final long id : ids)
        {
            assertTrue(positions.contains(id), "id " + id + " is a log position");
        }
        assertEquals(20, answers(cluster.egressBySession.get(SESSION)).size());
    }

    /**
     * The consensus module refuses the first schedules (its queue from the service is full) while nothing else comes
     * in: the answers still go out once the client reads, without another message to retry from.
     */
    @Test
    void aRefusedScheduleIsRetriedOnAnIdleCluster()
    {
        final SimulatedCluster.Member leader = members(1, defaults())[0];
        cluster.elect(0);
        final SimulatedCluster.Egress egress = cluster.openSession(SESSION, CHANNEL);
        egress.stall(0, Publication.BACK_PRESSURED);
        leader.scheduleRefusals = 3;
        for (long id = 1; id <= 3; id++)
        {
            cluster.message(SESSION, batch(SESSION, id, 1));
        }
        egress.open();
        cluster.tick(1_000);
        assertEquals(acks(1, 3, 1), answers(egress));
        assertNoFatal(leader);
    }

    /**
     * A client that reads nothing for a second of an otherwise idle cluster: the retry backs off, so a few dozen
     * timer events at most go into the log (one every millisecond before); once everything went out, no more.
     */
    @Test
    void retriesBackOffWhileAClientIsStuckAndStopWhenAllWentOut()
    {
        members(1, defaults());
        cluster.elect(0);
        final SimulatedCluster.Egress egress = cluster.openSession(SESSION, CHANNEL);
        egress.stall(0, Publication.BACK_PRESSURED);
        cluster.message(SESSION, batch(SESSION, 1, 1));
        cluster.tick(1_000);
        final long stuck = cluster.timerEvents();
        assertTrue(stuck >= 3 && stuck <= 30, "timer events while stuck for 1 s: " + stuck);
        egress.open();
        cluster.tick(300);
        assertEquals(acks(1, 1, 1), answers(egress));
        final long done = cluster.timerEvents();
        cluster.tick(2_000);
        assertEquals(done, cluster.timerEvents(), "nothing left to send: no timer");

        // A new episode starts again at the shortest delay.
        egress.stall(0, Publication.BACK_PRESSURED);
        cluster.message(SESSION, batch(SESSION, 2, 1));
        egress.open();
        cluster.tick(3);
        assertEquals(acks(1, 2, 1), answers(egress));
    }

    /**
     * While the log is busy the answers go out from its messages: a client that reads a little behind gets every ack
     * without the timer firing more than a few times.
     */
    @Test
    void aBusyLogCarriesTheRetriesWithoutTimers()
    {
        members(1, defaults());
        cluster.elect(0);
        final SimulatedCluster.Egress egress = cluster.openSession(SESSION, CHANNEL);
        for (long id = 1; id <= 200; id++)
        {
            egress.stall(id % 3 == 0 ? 0 : 1, Publication.BACK_PRESSURED); // reads two answers of every three
            cluster.message(SESSION, batch(SESSION, id, 1));
            cluster.tick(1);
        }
        final long busy = cluster.timerEvents();
        egress.open();
        cluster.tick(300);
        assertEquals(acks(1, 200, 1), answers(egress));
        assertTrue(busy <= 20, "timer events over 200 ms of a message a millisecond: " + busy);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Finding 2: no answer dropped

    @Test
    void aDuplicatesAnswerPushedBackIsNotDropped()
    {
        members(1, defaults());
        cluster.elect(0);
        final SimulatedCluster.Egress egress = cluster.openSession(SESSION, CHANNEL);
        final byte[] first = batch(SESSION, 1, 3);
        cluster.message(SESSION, first);
        egress.stall(0, Publication.BACK_PRESSURED);
        cluster.message(SESSION, first); // sent again: answered with its original ack
        egress.open();
        cluster.tick(300);
        assertEquals(List.of("ack 1 OK 3 ids", "ack 1 OK 3 ids"), answers(egress));
    }

    @Test
    void anAlreadyAppliedAnswerPushedBackIsNotDropped()
    {
        members(1, settings(1));
        cluster.elect(0);
        final SimulatedCluster.Egress egress = cluster.openSession(SESSION, CHANNEL);
        cluster.message(SESSION, batch(SESSION, 1, 1));
        cluster.message(SESSION, batch(SESSION, 2, 1));
        egress.stall(0, Publication.BACK_PRESSURED);
        cluster.message(SESSION, batch(SESSION, 1, 1)); // its ack has left the ledger of one
        egress.open();
        cluster.tick(300);
        assertEquals(List.of("ack 1 OK 1 ids", "ack 2 OK 1 ids", "ack 1 ALREADY_APPLIED 0 ids"), answers(egress));
    }

    @Test
    void aReadAnswerPushedBackIsNotDropped()
    {
        members(1, defaults());
        cluster.elect(0);
        final SimulatedCluster.Egress egress = cluster.openSession(SESSION, CHANNEL);
        cluster.message(SESSION, batch(SESSION, 1, 4));
        egress.stall(0, Publication.BACK_PRESSURED);
        cluster.message(SESSION, countRequest(SESSION, 2, user.typeId()));
        egress.open();
        cluster.tick(300);
        assertEquals(List.of("ack 1 OK 4 ids", "read 2 OK 4"), answers(egress));
    }

    /** NOT_CONNECTED is not "delivered": the answers wait for the client's egress, as for back pressure. */
    @Test
    void answersWaitWhileTheEgressIsNotConnected()
    {
        members(1, defaults());
        cluster.elect(0);
        final SimulatedCluster.Egress egress = cluster.openSession(SESSION, CHANNEL);
        egress.stall(0, Publication.NOT_CONNECTED);
        cluster.message(SESSION, batch(SESSION, 1, 2));
        cluster.message(SESSION, countRequest(SESSION, 2, user.typeId()));
        cluster.tick(50);
        egress.open();
        cluster.tick(300);
        assertEquals(List.of("ack 1 OK 2 ids", "read 2 OK 2"), answers(egress));
    }

    /** Acks, reads, a duplicate's ack and ALREADY_APPLIED, all pushed back: they leave in log order, each once. */
    @Test
    void answersLeaveInLogOrder()
    {
        members(1, settings(2));
        cluster.elect(0);
        final SimulatedCluster.Egress egress = cluster.openSession(SESSION, CHANNEL);
        cluster.message(SESSION, batch(SESSION, 1, 1));
        egress.stall(1, Publication.BACK_PRESSURED);
        cluster.message(SESSION, batch(SESSION, 2, 2)); // out
        cluster.message(SESSION, batch(SESSION, 3, 3)); // pushed back: everything after waits behind it
        cluster.message(SESSION, countRequest(SESSION, 4, user.typeId()));
        cluster.message(SESSION, batch(SESSION, 2, 2)); // its original ack
        cluster.message(SESSION, batch(SESSION, 1, 1)); // left the ledger of two
        cluster.message(SESSION, batch(SESSION, 5, 1));
        cluster.tick(5);
        egress.open();
        cluster.tick(300);
        assertEquals(List.of("ack 1 OK 1 ids", "ack 2 OK 2 ids", "ack 3 OK 3 ids", "read 4 OK 6", "ack 2 OK 2 ids",
            "ack 1 ALREADY_APPLIED 0 ids", "ack 5 OK 1 ids"), answers(egress));
    }

    /**
     * A client that never reads while its answers pile up past their bound: its session is closed (through the
     * log, so every member closes it), never an answer dropped while it lives.
     */
    @Test
    void answersPastTheirBoundCloseTheSession()
    {
        final SimulatedCluster.Member[] members = members(2, defaults());
        cluster.elect(0);
        final SimulatedCluster.Egress egress = cluster.openSession(SESSION, CHANNEL);
        egress.stall(0, Publication.BACK_PRESSURED);
        long id = 0;
        while (cluster.log.stream().noneMatch(entry -> entry.kind() == SimulatedCluster.Kind.SESSION_CLOSE) && id < 200)
        {
            cluster.message(SESSION, batch(SESSION, ++id, 2_000));
            cluster.tick(1);
        }
        assertTrue(id < 200, "the session was closed after " + id + " batches of 2,000 records' acks");
        assertTrue(id > 10, "not before the bound: " + id);
        for (final SimulatedCluster.Member member : members)
        {
            assertEquals(null, member.getClientSession(SESSION), "member " + member.id + " closed it");
            assertNoFatal(member);
        }
        assertEquals(List.of(), answers(egress));
    }

    /** CLOSED is not "delivered" either: the client is gone, its session is closed. */
    @Test
    void aClosedEgressClosesTheSession()
    {
        members(1, defaults());
        cluster.elect(0);
        final SimulatedCluster.Egress egress = cluster.openSession(SESSION, CHANNEL);
        egress.stall(0, Publication.CLOSED);
        cluster.message(SESSION, batch(SESSION, 1, 1));
        cluster.tick(2);
        assertTrue(cluster.log.stream().anyMatch(entry -> entry.kind() == SimulatedCluster.Kind.SESSION_CLOSE),
            "the session was closed");
    }

    /**
     * Only the leader's egress is real: a follower answers nothing (no offer, nothing kept), reads included, and a
     * leader that becomes a follower drops what it still held; its client is answered by the new leader.
     */
    @Test
    void aFollowerNeitherOffersNorKeepsAnswers()
    {
        final SimulatedCluster.Member[] members = members(2, defaults());
        cluster.elect(0);
        final SimulatedCluster.Egress egress = cluster.openSession(SESSION, CHANNEL);
        for (long id = 1; id <= 5; id++)
        {
            cluster.message(SESSION, batch(SESSION, id, 1));
            cluster.message(SESSION, countRequest(SESSION, 100 + id, user.typeId()));
        }
        cluster.message(SESSION, batch(SESSION, 1, 1));
        assertEquals(0, members[1].sessions.get(SESSION).offers, "a follower's offers would go nowhere");
        assertEquals(11, answers(egress).size());

        // The leader's client stops reading; then the leader becomes a follower: it drops what it held.
        egress.stall(0, Publication.BACK_PRESSURED);
        cluster.message(SESSION, batch(SESSION, 6, 1));
        cluster.message(SESSION, countRequest(SESSION, 106, user.typeId()));
        cluster.elect(1);
        final int offersBefore = members[0].sessions.get(SESSION).offers;
        egress.open();
        cluster.tick(300);
        assertEquals(offersBefore, members[0].sessions.get(SESSION).offers, "the old leader offers nothing more");
        assertEquals(0, members[0].service.pendingAnswers().totalCount(), "and keeps nothing");
        assertEquals(0, members[1].service.pendingAnswers().totalCount());
        assertEquals(11, answers(egress).size(), "what the old leader held is gone: the client resends to the new one");
        cluster.message(SESSION, batch(SESSION, 6, 1));
        assertEquals("ack 6 OK 1 ids", answers(egress).get(11), "the new leader answers the resend from its ledger");
        assertNoFatal(members[0]);
        assertNoFatal(members[1]);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Finding 3: members agree on the settings through the log

    /** The documented layout of the settings message (ClusterServiceSettings), built here. */
    private static byte[] settingsMessage(final long schemaHash, final int maxBatchBytes, final int maxRecords,
        final int ledgerBatches, final int ledgerSessionBytes, final long ledgerTotalBytes)
    {
        return ByteBuffer.allocate(40).order(ByteOrder.LITTLE_ENDIAN)
            .putInt(0x5350_5345).putInt(1).putLong(schemaHash).putInt(maxBatchBytes).putInt(maxRecords)
            .putInt(ledgerBatches).putInt(ledgerSessionBytes).putLong(ledgerTotalBytes).array();
    }

    @Test
    void everyMemberOffersItsSettingsAtEachNewTermAndTheLeadersAreLogged()
    {
        final SimulatedCluster.Member[] members = members(3, defaults());
        cluster.elect(0);
        for (final SimulatedCluster.Member member : members)
        {
            assertEquals(1, member.serviceMessages.size(), "member " + member.id + " offered its settings");
        }
        cluster.tick(1);
        assertEquals(1, cluster.log.stream().filter(entry -> entry.kind() == SimulatedCluster.Kind.SERVICE_MESSAGE)
            .count(), "the leader's copy is logged");
        cluster.elect(2);
        cluster.tick(1);
        assertEquals(2, cluster.log.stream().filter(entry -> entry.kind() == SimulatedCluster.Kind.SERVICE_MESSAGE)
            .count());
        for (final SimulatedCluster.Member member : members)
        {
            assertNoFatal(member);
        }
    }

    @Test
    void aMemberWhoseSettingsDifferFromTheLogsStops()
    {
        final SimulatedCluster.Member leader = cluster.addMember(schema, settings(1024));
        final SimulatedCluster.Member other = cluster.addMember(schema, settings(512));
        cluster.elect(0);
        cluster.tick(1);
        assertNoFatal(leader);
        assertEquals(1, other.fatal.size(), other.fatal.toString());
        final String line = other.fatal.get(0);
        assertTrue(line.contains("ack ledger batches 1024") && line.contains("512") && !line.contains("\n"), line);
    }

    /** A member of another schema stops at the log's settings instead of serving an empty store. */
    @Test
    void aMemberOfAnotherSchemaStops() throws Exception
    {
        final String json = Files.readString(ExampleSchemas.socialPath()).replace("\"karma\"", "\"reputation\"");
        final DatabaseSchema other = SchemaCompiler.compile(json, "other.json");
        final SimulatedCluster.Member leader = cluster.addMember(schema, defaults());
        final SimulatedCluster.Member stranger = cluster.addMember(other, defaults());
        cluster.elect(0);
        cluster.tick(1);
        assertNoFatal(leader);
        assertEquals(1, stranger.fatal.size(), stranger.fatal.toString());
        assertTrue(stranger.fatal.get(0).contains("schema"), stranger.fatal.get(0));
    }

    /** A member that replays the log from its start with other settings stops at the first settings message. */
    @Test
    void aReplayingMemberComparesToo()
    {
        cluster.addMember(schema, defaults());
        cluster.elect(0);
        cluster.tick(1);
        final SimulatedCluster.Egress egress = cluster.openSession(SESSION, CHANNEL);
        cluster.message(SESSION, batch(SESSION, 1, 1));
        assertEquals(acks(1, 1, 1), answers(egress));
        final SimulatedCluster.Member late = cluster.addMember(schema, new ClusterServiceSettings(1 << 20,
            ClusterServiceSettings.DEFAULT_MAX_RECORDS_PER_BATCH, ClusterServiceSettings.DEFAULT_ACK_LEDGER_BATCHES));
        cluster.deliver();
        assertEquals(1, late.fatal.size(), late.fatal.toString());
        assertTrue(late.fatal.get(0).contains("max batch bytes 2097152"), late.fatal.get(0));
    }

    /** A settings message as documented, with other values than this member's: it stops, naming them. */
    @Test
    void aSettingsMessageOfOtherValuesStopsTheMember()
    {
        final SimulatedCluster.Member member = members(1, defaults())[0];
        cluster.elect(0);
        cluster.tick(1);
        assertNoFatal(member);
        cluster.append(SimulatedCluster.Kind.SERVICE_MESSAGE, 0, settingsMessage(schema.hash(), 2 << 20, 8192, 1024,
            64 << 20, 1L << 40), 0, null);
        cluster.deliver();
        assertEquals(1, member.fatal.size(), member.fatal.toString());
    }

    /** Takes member's snapshot onto an IPC stream and returns the image to load it from. */
    private io.aeron.Image snapshot(final SimulatedCluster.Member member)
    {
        final int streamId = 7_000 + cluster.log.size();
        final io.aeron.Subscription subscription = aeron.addSubscription("aeron:ipc?term-length=16m", streamId);
        final io.aeron.ExclusivePublication publication = aeron.addExclusivePublication("aeron:ipc?term-length=16m",
            streamId);
        while (!publication.isConnected() || subscription.imageCount() == 0)
        {
            Thread.yield();
        }
        member.service.onTakeSnapshot(publication);
        return subscription.imageAtIndex(0);
    }

    /**
     * A member started from another's snapshot holds the same store and ledger: a batch resent after it leads is
     * answered with its original ack, and it goes on as the others do.
     */
    @Test
    void aMemberStartedFromASnapshotAnswersFromItsLedger()
    {
        final SimulatedCluster.Member first = members(1, defaults())[0];
        cluster.elect(0);
        final SimulatedCluster.Egress egress = cluster.openSession(SESSION, CHANNEL);
        for (long id = 1; id <= 5; id++)
        {
            cluster.message(SESSION, batch(SESSION, id, 3));
        }
        final io.aeron.Image image = snapshot(first);
        final SimulatedCluster.Member second = cluster.addMember(schema, defaults(), image, cluster.log.size());
        assertNoFatal(second);
        assertEquals(first.service.store().contentFingerprint(), second.service.store().contentFingerprint());
        assertEquals(first.service.ledger().totalBytes(), second.service.ledger().totalBytes());
        cluster.elect(1);
        cluster.message(SESSION, batch(SESSION, 3, 3));
        cluster.message(SESSION, batch(SESSION, 6, 3));
        final List<String> answers = answers(egress);
        assertEquals(List.of("ack 3 OK 3 ids", "ack 6 OK 3 ids"), answers.subList(5, 7));
        assertEquals(first.service.store().contentFingerprint(), second.service.store().contentFingerprint());
    }

    /** A member whose settings differ from a snapshot's stops with one line, rather than load it. */
    @Test
    void aMemberLoadingASnapshotOfOtherSettingsStops()
    {
        final SimulatedCluster.Member first = members(1, defaults())[0];
        cluster.elect(0);
        cluster.openSession(SESSION, CHANNEL);
        cluster.message(SESSION, batch(SESSION, 1, 3));
        final io.aeron.Image image = snapshot(first);
        final SimulatedCluster.Member other = cluster.addMember(schema, settings(100), image, cluster.log.size());
        assertEquals(1, other.fatal.size(), other.fatal.toString());
        assertTrue(other.fatal.get(0).startsWith("cannot start from its snapshot: ") &&
            other.fatal.get(0).contains("ack ledger batches 1024 (this member 100)"), other.fatal.get(0));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Finding 7: any fault stops the member; acks that cannot fit

    static List<Arguments> faultsOutsideTheStore()
    {
        return List.of(
            // before: thrown into Aeron's poll, which counts it and goes on without this message on this member
            Arguments.of(new IllegalStateException("a bug"), "a bug"),
            // before: the service thread ended while the consensus module went on voting
            Arguments.of(new OutOfMemoryError("Java heap space (test)"), "OutOfMemoryError"));
    }

    @ParameterizedTest
    @MethodSource("faultsOutsideTheStore")
    void aFaultOutsideTheStoreStopsTheMember(final Throwable fault, final String named)
    {
        final SimulatedCluster.Member member = members(1, defaults())[0];
        cluster.elect(0);
        cluster.openSession(SESSION, CHANNEL);
        member.sessions.get(SESSION).offerFault = fault;
        try
        {
            cluster.message(SESSION, batch(SESSION, 1, 1));
        }
        catch (final RuntimeException | Error ex)
        {
            assertSame(fault, ex, "only the fault itself may come out of the member");
        }
        assertEquals(1, member.fatal.size(), "the member stopped: " + member.fatal);
        assertTrue(member.fatal.get(0).contains(named), member.fatal.get(0));
    }

    @Test
    void aFaultInATimerEventStopsTheMember()
    {
        final SimulatedCluster.Member member = members(1, defaults())[0];
        cluster.elect(0);
        final SimulatedCluster.Egress egress = cluster.openSession(SESSION, CHANNEL);
        egress.stall(0, Publication.BACK_PRESSURED);
        cluster.message(SESSION, batch(SESSION, 1, 1));
        member.sessionLookupFault = new IllegalStateException("lookup failed");
        try
        {
            cluster.tick(5);
        }
        catch (final IllegalStateException ex)
        {
            // before: swallowed by Aeron on this member alone
        }
        assertEquals(1, member.fatal.size(), "the member stopped: " + member.fatal);
    }

    /**
     * A client whose egress term is 64 KiB takes messages of at most 8 KiB (less the session header): a batch whose
     * ack could be longer is refused VALUE_TOO_LARGE, as the single-node pipeline does, and nothing of it applied.
     */
    @Test
    void aBatchWhoseAckCannotFitTheEgressIsRefused()
    {
        final SimulatedCluster.Member member = members(1, defaults())[0];
        cluster.elect(0);
        final SimulatedCluster.Egress egress = cluster.openSession(SESSION, SMALL_TERM_CHANNEL);
        cluster.message(SESSION, batch(SESSION, 1, 1_000));
        cluster.message(SESSION, batch(SESSION, 2, 600));
        assertEquals(List.of("ack 1 VALUE_TOO_LARGE 0 ids", "ack 2 OK 600 ids"), answers(egress));
        assertEquals(600, count(member, user));
    }

    /**
     * Bytes the service's ack ledger holds, per session: read through the fields it has always had (the ledger, each
     * session's ring), so that this test runs against any version of it.
     */
    private static List<Integer> ledgerBytesPerSession(final SimulatedCluster.Member member) throws Exception
    {
        final java.lang.reflect.Field ledgerField = SpateClusteredService.class.getDeclaredField("ledger");
        ledgerField.setAccessible(true);
        final AckLedger ledger = (AckLedger)ledgerField.get(member.service);
        final List<Integer> bytes = new ArrayList<>();
        ledger.forEachSession(session -> bytes.add(session.acks.size()));
        return bytes;
    }

    /**
     * Five clients each send 90 batches of 8,192 creates, whose acks are about 98 KB each (1,024 of them would be
     * 100 MB a session): the ledger keeps at most its per-session bytes (8 MiB by default) of each session's latest
     * acks, and its total bytes (32 MiB) over all, the oldest evicted first; every member alike.
     */
    @Test
    void theAckLedgerStaysWithinItsByteBounds() throws Exception
    {
        final SimulatedCluster.Member[] members = members(2, defaults());
        cluster.elect(0);
        final int sessions = 5;
        for (int s = 1; s <= sessions; s++)
        {
            cluster.openSession(s, CHANNEL);
        }
        final int maxEntryBytes = AckWriter.maxAckBytes(8192) + 64;
        for (long id = 1; id <= 90; id++)
        {
            for (int s = 1; s <= sessions; s++)
            {
                cluster.message(s, batch(s, id, 8192));
                cluster.egressBySession.get((long)s).received.clear();
            }
        }
        for (final SimulatedCluster.Member member : members)
        {
            assertNoFatal(member);
            final List<Integer> bytes = ledgerBytesPerSession(member);
            assertEquals(sessions, bytes.size());
            long total = 0;
            for (final int sessionBytes : bytes)
            {
                assertTrue(sessionBytes <= (8 << 20) + maxEntryBytes, "a session's acks: " + sessionBytes + " bytes");
                total += sessionBytes;
            }
            assertTrue(total <= (32L << 20) + sessions * (long)maxEntryBytes, "all acks: " + total + " bytes");
            assertEquals(ledgerBytesPerSession(members[0]), bytes, "member " + member.id + " holds the same");
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Finding 9: malformed headers and correlation ids

    @Test
    void aMalformedBatchHeaderIsAnsweredMalformedWhenItsCorrelationIdIsReadable()
    {
        final SimulatedCluster.Member member = members(1, defaults())[0];
        cluster.elect(0);
        final SimulatedCluster.Egress egress = cluster.openSession(SESSION, CHANNEL);
        final byte[] bad = batch(SESSION, 1, 2);
        ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN).putShort(0, (short)(BatchHeaderEncoder.BLOCK_LENGTH - 1));
        cluster.message(SESSION, bad);
        // Too short to hold a correlation id: nothing to name, counted only.
        cluster.message(SESSION, java.util.Arrays.copyOf(bad, RecordFraming.HEADER_LENGTH_BYTES + 4));
        cluster.message(SESSION, batch(SESSION, 2, 1));
        cluster.message(SESSION, bad); // sent again: the same answer, from the ledger
        assertEquals(List.of("ack 1 MALFORMED 0 ids", "ack 2 OK 1 ids", "ack 1 MALFORMED 0 ids"), answers(egress));
        assertEquals(1, count(member, user));
    }

    @Test
    void aCorrelationIdOfZeroOrBelowIsRefusedMalformed()
    {
        final SimulatedCluster.Member member = members(1, defaults())[0];
        cluster.elect(0);
        final SimulatedCluster.Egress egress = cluster.openSession(SESSION, CHANNEL);
        cluster.message(SESSION, batch(SESSION, 0, 1));
        cluster.message(SESSION, batch(SESSION, -5, 1));
        cluster.message(SESSION, batch(SESSION, Long.MIN_VALUE, 1));
        cluster.message(SESSION, batch(SESSION, 1, 1));
        assertEquals(List.of("ack 0 MALFORMED 0 ids", "ack -5 MALFORMED 0 ids",
            "ack " + Long.MIN_VALUE + " MALFORMED 0 ids", "ack 1 OK 1 ids"), answers(egress));
        assertEquals(1, count(member, user));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Finding 6 (server side): SessionSettings

    @Test
    void aSessionIsToldItsSettingsFirst()
    {
        members(2, defaults());
        cluster.elect(0);
        final SimulatedCluster.Egress egress = cluster.openSession(SESSION, CHANNEL);
        cluster.message(SESSION, batch(SESSION, 1, 1));
        assertEquals(List.of("settings 7 1024 2097152 8192", "ack 1 OK 1 ids"),
            egress.received.stream().map(SpateClusteredServiceTest::describe).toList());

        // On a 64 KiB egress term the records per batch are those whose ack fits its messages.
        final SimulatedCluster.Egress small = cluster.openSession(SESSION + 1, SMALL_TERM_CHANNEL);
        final int fits = (8192 - 32 - AckWriter.maxAckBytes(0)) / 12;
        assertEquals(List.of("settings 8 1024 2097152 " + fits),
            small.received.stream().map(SpateClusteredServiceTest::describe).toList());
        assertTrue(AckWriter.maxAckBytes(fits) <= 8192 - 32 && AckWriter.maxAckBytes(fits + 1) > 8192 - 32);
    }

    @Test
    void sessionSettingsPushedBackAreNotDropped()
    {
        members(1, defaults());
        cluster.elect(0);
        final SimulatedCluster.Egress egress = new SimulatedCluster.Egress();
        egress.stall(0, Publication.NOT_CONNECTED);
        cluster.egressBySession.put(SESSION, egress);
        cluster.append(SimulatedCluster.Kind.SESSION_OPEN, SESSION, null, 0, CHANNEL);
        cluster.deliver();
        cluster.message(SESSION, batch(SESSION, 1, 1));
        egress.open();
        cluster.tick(300);
        assertEquals(List.of("settings 7 1024 2097152 8192", "ack 1 OK 1 ids"),
            egress.received.stream().map(SpateClusteredServiceTest::describe).toList());
    }

    // ---------------------------------------------------------------------------------------------------------
    // Allocation

    /**
     * Once warm (the ledger's ring grown to its 1,024 acks), the leader's path allocates nothing per message: a batch
     * applied, its ack recorded (the oldest evicted) and sent, a read answered, a duplicate answered from the ledger,
     * a few answers waiting behind a short push-back and sent from the next message.
     */
    @Test
    void theAnswerPathAllocatesNothingOnceWarm()
    {
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)java.lang.management.ManagementFactory.getThreadMXBean();
        assertTrue(threads.isThreadAllocatedMemorySupported());
        final SimulatedCluster.Member leader = members(1, defaults())[0];
        cluster.elect(0);
        final SimulatedCluster.Egress egress = cluster.openSession(SESSION, CHANNEL);
        egress.keep = false;
        final SimulatedCluster.MemberSession session = leader.sessions.get(SESSION);
        final int batches = 4_000;
        final UnsafeBuffer[] messages = new UnsafeBuffer[batches + 1];
        for (int id = 1; id <= batches; id++)
        {
            messages[id] = new UnsafeBuffer(batch(SESSION, id, 5));
        }
        final UnsafeBuffer read = new UnsafeBuffer(countRequest(SESSION, 1, user.typeId()));
        final io.aeron.logbuffer.Header header = new io.aeron.logbuffer.Header(0, 0);
        long allocated = 0;
        for (int id = 1; id <= batches; id++)
        {
            if (id == 2_001)
            {
                allocated = threads.getCurrentThreadAllocatedBytes();
            }
            if (id % 50 == 0)
            {
                egress.stall(0, Publication.BACK_PRESSURED); // this one's answers wait, the next message sends them
            }
            else if (id % 50 == 1)
            {
                egress.open();
            }
            leader.logPosition += 1_024;
            leader.service.onSessionMessage(session, 0, messages[id], 0, messages[id].capacity(), header);
            leader.service.onSessionMessage(session, 0, read, 0, read.capacity(), header);
            leader.service.onSessionMessage(session, 0, messages[id - 1 > 0 ? id - 1 : id], 0,
                messages[id - 1 > 0 ? id - 1 : id].capacity(), header);
        }
        egress.open();
        leader.service.onSessionMessage(session, 0, read, 0, read.capacity(), header);
        allocated = threads.getCurrentThreadAllocatedBytes() - allocated;
        assertNoFatal(leader);
        assertEquals(1 + 3 * batches + 1, egress.taken, "every answer out, SessionSettings included");
        System.out.println("SpateClusteredServiceTest: " + allocated + " bytes allocated over 2,000 messages of each kind" +
            " (the simulation's own timer bookkeeping included)");
        assertTrue(allocated < 16 * 1024, "allocated over 2,000 messages of each kind: " + allocated + " bytes");
    }

    // ---------------------------------------------------------------------------------------------------------
    // Determinism

    /**
     * Three members, leader changes and a client whose egress stalls at random, resending what is unanswered after
     * each leader change as SpateClient does: every member holds the same store and the same answers to give,
     * whatever the leader's egress did (what waits for egress is the leader's own, never replicated state), and every
     * batch is answered.
     */
    @Test
    void membersAgreeWhateverTheEgressDoes()
    {
        final long seed = Long.getLong("spate.test.cluster.seed", new Random().nextLong());
        System.out.println("SpateClusteredServiceTest.membersAgreeWhateverTheEgressDoes seed " + seed +
            " (-Dspate.test.cluster.seed=" + seed + " replays it)");
        final Random random = new Random(seed);
        final SimulatedCluster.Member[] members = members(3, settings(64));
        cluster.elect(0);
        final SimulatedCluster.Egress egress = cluster.openSession(SESSION, CHANNEL);
        final java.util.TreeMap<Long, byte[]> sent = new java.util.TreeMap<>();
        long id = 0;
        for (int step = 0; step < 400; step++)
        {
            final String where = "seed " + seed + ", step " + step;
            switch (random.nextInt(10))
            {
                case 0 -> egress.stall(random.nextInt(3), random.nextBoolean() ? Publication.BACK_PRESSURED :
                    Publication.NOT_CONNECTED);
                case 1 -> egress.open();
                case 2 -> cluster.tick(random.nextInt(20));
                case 3 -> cluster.message(SESSION, countRequest(SESSION, 1_000_000 + step, user.typeId()));
                case 4 ->
                {
                    if (id > 0)
                    {
                        cluster.message(SESSION, sent.get(Math.max(1, id - random.nextInt(12))));
                    }
                }
                case 5 ->
                {
                    if (random.nextInt(4) == 0)
                    {
                        cluster.elect(random.nextInt(3));
                        final Set<Long> acked = ackedIds(egress);
                        sent.forEach((each, bytes) ->
                        {
                            if (!acked.contains(each))
                            {
                                cluster.message(SESSION, bytes);
                            }
                        });
                    }
                }
                default ->
                {
                    sent.put(++id, batch(SESSION, id, 1 + random.nextInt(3)));
                    cluster.message(SESSION, sent.get(id));
                }
            }
            for (final SimulatedCluster.Member member : members)
            {
                assertEquals(List.of(), member.fatal, where);
            }
        }
        egress.open();
        cluster.tick(500);
        final Set<Long> acked = ackedIds(egress);
        for (final SimulatedCluster.Member member : members)
        {
            assertEquals(members[0].service.store().contentFingerprint(), member.service.store().contentFingerprint(),
                "seed " + seed);
        }
        for (long each = 1; each <= id; each++)
        {
            assertTrue(acked.contains(each), "batch " + each + " answered, seed " + seed);
        }
        assertEquals(Cluster.Role.LEADER, cluster.leader().role);
    }

    private static Set<Long> ackedIds(final SimulatedCluster.Egress egress)
    {
        final Set<Long> acked = new HashSet<>();
        for (final String answer : answers(egress))
        {
            if (answer.startsWith("ack "))
            {
                acked.add(Long.parseLong(answer.split(" ")[1]));
            }
        }
        return acked;
    }
}
