package io.spate.pipeline;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Image;
import io.aeron.Publication;
import io.aeron.RethrowingErrorHandler;
import io.aeron.Subscription;
import io.aeron.cluster.client.ClusterException;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordWriter;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.codec.testing.ExampleSchemas;
import io.spate.store.ApplyResults;
import io.spate.store.NativeStore;
import io.spate.store.OffHeapBuffer;
import io.spate.wire.RecordStatus;
import org.agrona.CloseHelper;
import org.agrona.IoUtil;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.SleepingMillisIdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The clustered service's snapshot through a real stream: an embedded media driver (its directory under
 * /dev/shm, deleted after), an aeron:ipc exclusive publication and the Image of a subscription, as the cluster
 * gives them. A store with records applied (creates, deletes, reused slots), its id allocator (free ids in their
 * exact order), totals and an ack ledger round-trip exactly; and
 * snapshot streams built here by the layout the class documents, then damaged, truncated, reordered or of another
 * schema, are each refused with a ClusterException saying what is wrong. Nothing waits on a clock: a stream is
 * waited for by polling, and a hang would be caught by the timeout, not asserted on.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ClusterSnapshotTest
{
    private static final String CHANNEL = "aeron:ipc?term-length=1m";
    private static final int MAX_BATCHES = 4;
    private static final int MAX_ACK_BYTES = 200;
    /** The settings snapshots are written and loaded with (unless a test says otherwise). */
    private static final ClusterServiceSettings SETTINGS = new ClusterServiceSettings(
        ClusterServiceSettings.DEFAULT_MAX_BATCH_BYTES, ClusterServiceSettings.DEFAULT_MAX_RECORDS_PER_BATCH, 1024);
    /** Header offsets of version 3. */
    private static final int IMAGE_CRC_AT = 52;
    private static final int SESSION_COUNT_AT = 60;

    private static Path aeronDirectory;
    private static MediaDriver driver;
    private static Aeron aeron;
    private static int nextStreamId = 9_000;

    private final DatabaseSchema schema = PipelineHarness.exampleSchema();
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private NativeStore source;
    private IdAllocator sourceIds;
    private long[] sourceTotals;
    private AckLedger sourceLedger;

    @BeforeAll
    static void startDriver() throws IOException
    {
        final Path shm = Path.of("/dev/shm");
        aeronDirectory = Files.isDirectory(shm) && Files.isWritable(shm) ?
            Files.createTempDirectory(shm, "spate-cluster-snapshot-") : Files.createTempDirectory("spate-cluster-snapshot-");
        driver = MediaDriver.launchEmbedded(new MediaDriver.Context()
            .aeronDirectoryName(aeronDirectory.resolve("aeron").toString())
            .threadingMode(ThreadingMode.SHARED)
            .sharedIdleStrategy(new SleepingMillisIdleStrategy(1))
            .dirDeleteOnStart(true)
            .dirDeleteOnShutdown(true));
        // As the clustered service container's client: an error in a fragment handler is thrown out of poll, not
        // handed to the error handler and polling on (the container insists on this).
        aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName())
            .subscriberErrorHandler(RethrowingErrorHandler.INSTANCE));
    }

    @AfterAll
    static void stopDriver()
    {
        CloseHelper.closeAll(aeron, driver);
        if (null != aeronDirectory)
        {
            IoUtil.delete(aeronDirectory.toFile(), true);
        }
    }

    @BeforeEach
    void buildSource()
    {
        source = NativeStore.open(schema);
        closeables.add(source);
        sourceIds = new IdAllocator(schema, source);
        applyRecords(source, sourceIds);
        sourceTotals = new long[]{ 123, 45_678 };
        sourceLedger = new AckLedger(MAX_BATCHES, MAX_ACK_BYTES);
        // A session that never sent a batch; one with acks below the bound; one whose oldest were evicted;
        // one with a negative id and acks of every length up to the longest, one of them empty.
        sourceLedger.session(1);
        record(sourceLedger, sourceLedger.session(2), 1, 10);
        record(sourceLedger, sourceLedger.session(2), 2, 0);
        for (long id = 1; id <= 10; id++)
        {
            record(sourceLedger, sourceLedger.session(3), id * 7, (int)id * 13);
        }
        record(sourceLedger, sourceLedger.session(-99), 1L << 40, MAX_ACK_BYTES);
        record(sourceLedger, sourceLedger.session(-99), (1L << 40) + 1, 1);
    }

    @AfterEach
    void close() throws Exception
    {
        for (int i = closeables.size() - 1; i >= 0; i--)
        {
            closeables.get(i).close();
        }
    }

    /**
     * As the service does: creates take their ids from the allocator, and the ids of applied deletes are freed after
     * each batch, in record order. Users and Posts over several batches make a store image of several IMAGE messages;
     * deletes in a scrambled order make the free stacks' order differ from the slots' (the snapshot keeps it); over
     * 8,192 free Counters take more than one FREE_IDS message; creates after the deletes reuse slots.
     */
    private void applyRecords(final NativeStore store, final IdAllocator ids)
    {
        final TypeDefinition user = schema.type("User");
        final TypeDefinition post = schema.type("Post");
        final TypeDefinition counter = schema.type("Counter");
        final java.util.Random random = new java.util.Random(42);
        try (OffHeapBuffer batch = new OffHeapBuffer(1 << 20);
            OffHeapBuffer progress = new OffHeapBuffer(64);
            ApplyResults results = new ApplyResults(16 * 1024))
        {
            final RecordWriter writer = new RecordWriter(schema);
            long correlationId = 1;
            final List<Long> postIds = new ArrayList<>();
            for (int round = 0; round < 6; round++)
            {
                writer.wrap(batch.buffer(), 0, batch.capacityBytes()).beginBatch(1, correlationId++);
                for (int i = 0; i < 400; i++)
                {
                    writer.create(user, ids.take(user.typeId()));
                    writer.setLong(user.field("karma"), round * 1_000L + i);
                    writer.setDouble(user.field("score"), i / 3.0);
                    writer.setBoolean(user.field("verified"), i % 2 == 0);
                    writer.setString(user.field("name"), "user-" + round + "-" + i);
                    writer.setString(user.field("bio"), "bio ".repeat(i % 40));
                    final long postId = ids.take(post.typeId());
                    postIds.add(postId);
                    writer.create(post, postId);
                    writer.setLong(post.field("authorId"), i + 1);
                    writer.setString(post.field("title"), "post " + i);
                    writer.setBytes(post.field("attachment"), new byte[]{ (byte)i, (byte)round });
                }
                applyAll(store, writer, batch, progress, results);
            }
            final List<Long> counterIds = new ArrayList<>();
            writer.wrap(batch.buffer(), 0, batch.capacityBytes()).beginBatch(1, correlationId++);
            for (int i = 0; i < 9_000; i++)
            {
                final long id = ids.take(counter.typeId());
                counterIds.add(id);
                writer.create(counter, id);
                writer.setLong(counter.field("hits"), i);
            }
            applyAll(store, writer, batch, progress, results);

            java.util.Collections.shuffle(postIds, random);
            java.util.Collections.shuffle(counterIds, random);
            writer.wrap(batch.buffer(), 0, batch.capacityBytes()).beginBatch(1, correlationId++);
            for (long id = 1; id <= 100; id++)
            {
                writer.update(user, id);
                writer.setLong(user.field("karma"), -id);
                writer.delete(post, postIds.get((int)id));
            }
            for (int i = 0; i < 8_500; i++)
            {
                writer.delete(counter, counterIds.get(i));
            }
            applyAll(store, writer, batch, progress, results);
            for (long id = 1; id <= 100; id++)
            {
                ids.free(post.typeId(), postIds.get((int)id));
            }
            for (int i = 0; i < 8_500; i++)
            {
                ids.free(counter.typeId(), counterIds.get(i));
            }

            // Some freed slots reused at their next generation.
            writer.wrap(batch.buffer(), 0, batch.capacityBytes()).beginBatch(1, correlationId);
            for (int i = 0; i < 30; i++)
            {
                writer.create(post, ids.take(post.typeId()));
                writer.setString(post.field("title"), "again " + i);
                writer.create(counter, ids.take(counter.typeId()));
            }
            applyAll(store, writer, batch, progress, results);
        }
        assertAllocatorAgreesWithStore(ids, store);
    }

    private void assertAllocatorAgreesWithStore(final IdAllocator ids, final NativeStore store)
    {
        for (final TypeDefinition type : schema.types())
        {
            final io.spate.store.StoreTypeStats stats = store.typeStats(type.typeId());
            final IdAllocator.TypeIds typeIds = ids.type(type.typeId());
            assertEquals(stats.highWaterSlot(), typeIds.highWaterSlot, type.name());
            assertEquals(stats.liveNodes(), typeIds.inUse, type.name());
            assertEquals(stats.freeSlots(), typeIds.freeCount + typeIds.retiredSlots, type.name());
        }
    }

    private static void applyAll(final NativeStore store, final RecordWriter writer, final OffHeapBuffer batch,
        final OffHeapBuffer progress, final ApplyResults results)
    {
        final int length = writer.endBatch();
        final int applied = store.apply(batch.address(), length, progress.address(), results);
        assertEquals(writer.recordCount() + 1, applied, "one result per message: the batch header and each record");
        for (int i = 0; i < applied; i++)
        {
            assertEquals(RecordStatus.OK.value(), results.status(i), "record " + i);
        }
    }

    private static byte[] ack(final long correlationId, final int length)
    {
        final byte[] ack = new byte[length];
        for (int i = 0; i < length; i++)
        {
            ack[i] = (byte)(correlationId + i * 7);
        }
        return ack;
    }

    private static UnsafeBuffer entry(final long correlationId, final byte[] ack)
    {
        final UnsafeBuffer entry = new UnsafeBuffer(new byte[AckLedger.ENTRY_HEADER_BYTES + ack.length]);
        entry.putLong(0, correlationId, ByteOrder.LITTLE_ENDIAN);
        entry.putBytes(AckLedger.ENTRY_HEADER_BYTES, ack);
        return entry;
    }

    private static void record(final AckLedger ledger, final AckLedger.SessionAcks session,
        final long correlationId, final int ackLength)
    {
        final byte[] ack = ack(correlationId, ackLength);
        ledger.record(session, correlationId, entry(correlationId, ack), AckLedger.ENTRY_HEADER_BYTES + ack.length);
    }

    /** A ledger as text: per session, its id, last correlation id, count, and each ack's id and bytes. */
    private static Map<Long, String> contents(final AckLedger ledger)
    {
        final Map<Long, String> sessions = new HashMap<>();
        ledger.forEachSession(session ->
        {
            final StringBuilder text = new StringBuilder("last=" + session.lastCorrelationId + " count=" + session.count);
            ledger.forEachFrom(session, Long.MIN_VALUE, (correlationId, buffer, offset, length) ->
            {
                final byte[] ack = new byte[length];
                buffer.getBytes(offset, ack);
                text.append(' ').append(correlationId).append(':').append(Arrays.toString(ack));
                return true;
            });
            sessions.put(session.sessionId, text.toString());
        });
        return sessions;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Streams

    /** A publication and the image of its subscription, connected; closed after the test. */
    private record Stream(ExclusivePublication publication, Subscription subscription, Image image)
    {
    }

    private Stream openStream()
    {
        final int streamId = nextStreamId++;
        final Subscription subscription = aeron.addSubscription(CHANNEL, streamId);
        closeables.add(subscription);
        final ExclusivePublication publication = aeron.addExclusivePublication(CHANNEL, streamId);
        closeables.add(publication);
        while (!publication.isConnected() || subscription.imageCount() == 0)
        {
            Thread.onSpinWait();
            Thread.yield();
        }
        return new Stream(publication, subscription, subscription.imageAtIndex(0));
    }

    /** Waits by yielding; throws once the test is over, so that a writer blocked on back pressure ends. */
    private static final class StoppableIdle implements IdleStrategy
    {
        final AtomicBoolean stop = new AtomicBoolean();

        public void idle(final int workCount)
        {
            if (workCount <= 0)
            {
                idle();
            }
        }

        public void idle()
        {
            if (stop.get())
            {
                throw new IllegalStateException("stopped");
            }
            Thread.yield();
        }

        public void reset()
        {
        }
    }

    /** Runs a writer on its own thread while the test thread reads; joined (and stopped if stuck) at the end. */
    private final class Writer implements AutoCloseable
    {
        private final StoppableIdle idle = new StoppableIdle();
        private final AtomicReference<Throwable> failure = new AtomicReference<>();
        private final Thread thread;

        Writer(final String name, final java.util.function.Consumer<IdleStrategy> body)
        {
            thread = Thread.ofPlatform().daemon().name(name).start(() ->
            {
                try
                {
                    body.accept(idle);
                }
                catch (final Throwable ex)
                {
                    failure.set(ex);
                }
            });
        }

        /** @return what the writer threw, after it ended. */
        Throwable join() throws InterruptedException
        {
            thread.join();
            return failure.get();
        }

        public void close() throws InterruptedException
        {
            idle.stop.set(true);
            thread.join();
        }
    }

    private static void offer(final ExclusivePublication publication, final IdleStrategy idle, final byte[] message)
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(message);
        while (true)
        {
            final long result = publication.offer(buffer, 0, message.length);
            if (result > 0)
            {
                return;
            }
            if (result == Publication.CLOSED)
            {
                throw new IllegalStateException("closed");
            }
            idle.idle();
        }
    }

    /** The messages ClusterSnapshot.write sends, each reassembled, END the last. */
    private List<byte[]> writtenMessages() throws Exception
    {
        final Stream stream = openStream();
        final List<byte[]> messages = new ArrayList<>();
        try (Writer writer = new Writer("snapshot-writer", idle -> ClusterSnapshot.write(stream.publication(), idle,
            schema, SETTINGS, source, sourceIds, sourceTotals, sourceLedger)))
        {
            final FragmentAssembler assembler = new FragmentAssembler((buffer, offset, length, header) ->
            {
                final byte[] message = new byte[length];
                buffer.getBytes(offset, message);
                messages.add(message);
            });
            while (messages.isEmpty() || kind(messages.get(messages.size() - 1)) != ClusterSnapshot.END)
            {
                if (stream.image().poll(assembler, 16) == 0)
                {
                    Thread.yield();
                }
            }
            assertNull(writer.join());
        }
        return messages;
    }

    private static int kind(final byte[] message)
    {
        return ByteBuffer.wrap(message).order(ByteOrder.LITTLE_ENDIAN).getInt(0);
    }

    /** Where a snapshot is loaded: a fresh store, id allocator, counters and an empty ledger, as the service has them. */
    private final class Target
    {
        final NativeStore store = NativeStore.open(schema);
        final IdAllocator ids;
        final long[] totals = new long[2];
        final AckLedger ledger;

        final ClusterServiceSettings settings;

        Target(final int maxBatches)
        {
            this(maxBatches, SETTINGS);
        }

        Target(final int maxBatches, final ClusterServiceSettings settings)
        {
            closeables.add(store);
            ids = new IdAllocator(schema, store);
            ledger = new AckLedger(maxBatches, MAX_ACK_BYTES);
            this.settings = settings;
        }

        void load(final Image image)
        {
            ClusterSnapshot.load(image, new SleepingMillisIdleStrategy(1), schema, settings, store, ids, totals, ledger);
        }
    }

    /**
     * Publishes the messages from another thread (closing the publication after them when asked) and loads them.
     */
    private Target load(final List<byte[]> messages, final boolean closeAfter) throws Exception
    {
        return load(messages, closeAfter, MAX_BATCHES);
    }

    private Target load(final List<byte[]> messages, final boolean closeAfter, final int maxBatches) throws Exception
    {
        final Stream stream = openStream();
        final Target target = new Target(maxBatches);
        try (Writer ignored = new Writer("messages-writer", idle ->
        {
            for (final byte[] message : messages)
            {
                offer(stream.publication(), idle, message);
            }
            if (closeAfter)
            {
                stream.publication().close();
            }
        }))
        {
            target.load(stream.image());
        }
        return target;
    }

    /** A ClusterException's message without the "ERROR - " its category puts in front. */
    private record Refusal(ClusterException exception)
    {
        String getMessage()
        {
            return reason(exception);
        }
    }

    private static String reason(final ClusterException exception)
    {
        final String message = exception.getMessage();
        final String prefix = exception.category() + " - ";
        return message.startsWith(prefix) ? message.substring(prefix.length()) : message;
    }

    private Refusal refused(final List<byte[]> messages, final boolean closeAfter) throws Exception
    {
        final Target[] target = new Target[1];
        final ClusterException refused = assertThrows(ClusterException.class, () ->
        {
            final Stream stream = openStream();
            target[0] = new Target(MAX_BATCHES);
            try (Writer ignored = new Writer("messages-writer", idle ->
            {
                for (final byte[] message : messages)
                {
                    offer(stream.publication(), idle, message);
                }
                if (closeAfter)
                {
                    stream.publication().close();
                }
            }))
            {
                target[0].load(stream.image());
            }
        });
        lastRefusedTarget = target[0];
        return new Refusal(refused);
    }

    private Target lastRefusedTarget;

    private void assertStoreEmpty(final Target target)
    {
        try (NativeStore fresh = NativeStore.open(schema))
        {
            assertEquals(fresh.contentFingerprint(), target.store.contentFingerprint(), "the store loaded nothing");
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Snapshot messages by the documented layout

    private byte[] header(final int version, final long schemaHash, final int typeCount, final long[] totals,
        final long imageLength, final long crc, final int sessionCount)
    {
        final ByteBuffer message = ByteBuffer.allocate(ClusterSnapshot.HEADER_LENGTH_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        message.putInt(ClusterSnapshot.HEADER).putInt(version).putLong(0).putLong(schemaHash).putInt(typeCount)
            .putLong(totals[0]).putLong(totals[1]).putLong(imageLength).putLong(crc).putInt(sessionCount)
            .putLong(sourceLedger.nextSequence());
        final UnsafeBuffer settings = new UnsafeBuffer(new byte[ClusterServiceSettings.REPLICATED_LENGTH_BYTES]);
        SETTINGS.encodeReplicated(settings, 0, schemaHash);
        message.put(settings.byteArray());
        return sealHeader(message.array());
    }

    /** @return the header with its CRC32C (of its bytes after the CRC) written. */
    private static byte[] sealHeader(final byte[] header)
    {
        final CRC32C crc = new CRC32C();
        crc.update(header, ClusterSnapshot.HEADER_CRC_FROM, header.length - ClusterSnapshot.HEADER_CRC_FROM);
        ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN).putLong(ClusterSnapshot.HEADER_CRC_OFFSET, crc.getValue());
        return header;
    }

    /** A version 1 header: a next id per type slot where version 2 has the type count. */
    private static byte[] headerVersionOne(final long schemaHash, final long[] nextIds, final long[] totals,
        final long imageLength, final long crc, final int sessionCount)
    {
        final ByteBuffer message = ByteBuffer.allocate(4 + 4 + 8 + 4 + 8 * nextIds.length + 8 + 8 + 8 + 8 + 4)
            .order(ByteOrder.LITTLE_ENDIAN);
        message.putInt(ClusterSnapshot.HEADER).putInt(1).putLong(schemaHash).putInt(nextIds.length);
        for (final long nextId : nextIds)
        {
            message.putLong(nextId);
        }
        message.putLong(totals[0]).putLong(totals[1]).putLong(imageLength).putLong(crc).putInt(sessionCount);
        return message.array();
    }

    private static byte[] typeIds(final int typeId, final long highWaterSlot, final long inUse, final long retiredSlots,
        final long leakedSlots, final int freeCount)
    {
        return ByteBuffer.allocate(4 + 4 + 8 + 8 + 8 + 8 + 4).order(ByteOrder.LITTLE_ENDIAN).putInt(ClusterSnapshot.TYPE_IDS)
            .putInt(typeId).putLong(highWaterSlot).putLong(inUse).putLong(retiredSlots).putLong(leakedSlots)
            .putInt(freeCount).array();
    }

    private static byte[] freeIds(final long... ids)
    {
        final ByteBuffer message = ByteBuffer.allocate(8 + 8 * ids.length).order(ByteOrder.LITTLE_ENDIAN)
            .putInt(ClusterSnapshot.FREE_IDS).putInt(ids.length);
        for (final long id : ids)
        {
            message.putLong(id);
        }
        return message.array();
    }

    /** A type's TYPE_IDS and FREE_IDS messages: its free ids bottom of the stack first, at most 8 Ki per message. */
    private static List<byte[]> typeIdsMessages(final IdAllocator.TypeIds ids)
    {
        final List<byte[]> messages = new ArrayList<>();
        messages.add(typeIds(ids.typeId, ids.highWaterSlot, ids.inUse, ids.retiredSlots, ids.leakedSlots, ids.freeCount));
        for (int from = 0; from < ids.freeCount; from += ClusterSnapshot.FREE_IDS_PER_MESSAGE)
        {
            messages.add(freeIds(Arrays.copyOfRange(ids.freeIds, from,
                Math.min(ids.freeCount, from + ClusterSnapshot.FREE_IDS_PER_MESSAGE))));
        }
        return messages;
    }

    private static byte[] imageChunk(final byte[] image, final int from, final int to)
    {
        final ByteBuffer message = ByteBuffer.allocate(4 + to - from).order(ByteOrder.LITTLE_ENDIAN);
        message.putInt(ClusterSnapshot.IMAGE).put(image, from, to - from);
        return message.array();
    }

    private static byte[] session(final long sessionId, final long lastCorrelationId, final int ackCount)
    {
        return ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN)
            .putInt(ClusterSnapshot.SESSION).putLong(sessionId).putLong(lastCorrelationId).putInt(ackCount).array();
    }

    /** An ACK of the given ack, its sequence the correlation id (below the source's next sequence in these tests). */
    private static byte[] ackMessage(final long correlationId, final byte[] ack)
    {
        return ackMessage(correlationId, correlationId, ack);
    }

    private static byte[] ackMessage(final long correlationId, final long sequence, final byte[] ack)
    {
        return ByteBuffer.allocate(4 + AckLedger.ENTRY_HEADER_BYTES + ack.length).order(ByteOrder.LITTLE_ENDIAN)
            .putInt(ClusterSnapshot.ACK).putLong(correlationId).putLong(sequence).put(ack).array();
    }

    /** An END whose ledger CRC32C is of nothing (the tests that use it fail before it is checked). */
    private static byte[] end(final long magic)
    {
        return end(magic, 0);
    }

    private static byte[] end(final long magic, final long ledgerCrc)
    {
        return ByteBuffer.allocate(ClusterSnapshot.END_LENGTH_BYTES).order(ByteOrder.LITTLE_ENDIAN)
            .putInt(ClusterSnapshot.END).putLong(magic).putLong(ledgerCrc).array();
    }

    /** @return the messages with their END carrying the CRC32C of their SESSION and ACK messages. */
    private static List<byte[]> sealEnd(final List<byte[]> messages)
    {
        final CRC32C crc = new CRC32C();
        for (final byte[] message : messages)
        {
            if (kind(message) == ClusterSnapshot.SESSION || kind(message) == ClusterSnapshot.ACK)
            {
                crc.update(message);
            }
        }
        final List<byte[]> sealed = new ArrayList<>(messages);
        final int last = sealed.size() - 1;
        sealed.set(last, end(ByteBuffer.wrap(sealed.get(last)).order(ByteOrder.LITTLE_ENDIAN).getLong(4), crc.getValue()));
        return sealed;
    }

    private byte[] sourceImage()
    {
        try (Arena arena = Arena.ofConfined())
        {
            final long capacity = source.snapshotLengthBytes();
            final MemorySegment image = arena.allocate(capacity, 64);
            final long length = source.writeSnapshot(image.address(), capacity);
            return image.asSlice(0, length).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        }
    }

    private static long crc32c(final byte[] bytes)
    {
        final CRC32C crc = new CRC32C();
        crc.update(bytes);
        return crc.getValue();
    }

    /** The source's snapshot, message by message, built here from the documented layout. */
    private List<byte[]> builtMessages()
    {
        final byte[] image = sourceImage();
        final List<byte[]> messages = new ArrayList<>();
        messages.add(header(ClusterSnapshot.VERSION, schema.hash(), schema.types().size(), sourceTotals, image.length,
            crc32c(image), sourceLedger.sessionCount()));
        for (final TypeDefinition type : schema.types())
        {
            messages.addAll(typeIdsMessages(sourceIds.type(type.typeId())));
        }
        for (int from = 0; from < image.length; from += ClusterSnapshot.CHUNK_BYTES)
        {
            messages.add(imageChunk(image, from, Math.min(image.length, from + ClusterSnapshot.CHUNK_BYTES)));
        }
        sourceLedger.forEachSession(session ->
        {
            messages.add(session(session.sessionId, session.lastCorrelationId, session.count));
            session.acks.forEach((buffer, offset, length, headOffset) ->
            {
                final ByteBuffer entry = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
                buffer.getBytes(offset, entry, length);
                final long correlationId = entry.getLong(0);
                final long sequence = entry.getLong(8);
                messages.add(ackMessage(correlationId, sequence, Arrays.copyOfRange(entry.array(),
                    AckLedger.ENTRY_HEADER_BYTES, length)));
                return true;
            }, Integer.MAX_VALUE);
        });
        messages.add(end(ClusterSnapshot.END_MAGIC));
        return new ArrayList<>(sealEnd(messages));
    }

    private static int indexOfKind(final List<byte[]> messages, final int kind)
    {
        for (int i = 0; i < messages.size(); i++)
        {
            if (kind(messages.get(i)) == kind)
            {
                return i;
            }
        }
        throw new AssertionError("no message of kind " + kind);
    }

    private void assertLoadedAsSource(final Target target)
    {
        assertEquals(source.contentFingerprint(), target.store.contentFingerprint());
        for (final TypeDefinition type : schema.types())
        {
            assertEquals(source.count(type.typeId()), target.store.count(type.typeId()), type.name());
            final io.spate.store.StoreTypeStats sourceStats = source.typeStats(type.typeId());
            final io.spate.store.StoreTypeStats targetStats = target.store.typeStats(type.typeId());
            assertEquals(sourceStats.highWaterSlot(), targetStats.highWaterSlot(), type.name());
            assertEquals(sourceStats.freeSlots(), targetStats.freeSlots(), type.name());
            assertEquals(sourceStats.retiredSlots(), targetStats.retiredSlots(), type.name());
            final IdAllocator.TypeIds expected = sourceIds.type(type.typeId());
            final IdAllocator.TypeIds actual = target.ids.type(type.typeId());
            assertEquals(expected.highWaterSlot, actual.highWaterSlot, type.name());
            assertEquals(expected.inUse, actual.inUse, type.name());
            assertEquals(expected.retiredSlots, actual.retiredSlots, type.name());
            assertEquals(expected.leakedSlots, actual.leakedSlots, type.name());
            assertArrayEquals(Arrays.copyOf(expected.freeIds, expected.freeCount),
                Arrays.copyOf(actual.freeIds, actual.freeCount), type.name() + ": the free ids in their exact order");
            assertEquals(takeAndRollBack(sourceIds, type, 40), takeAndRollBack(target.ids, type, 40),
                type.name() + ": the next ids handed out");
        }
        assertArrayEquals(sourceTotals, target.totals);
        assertEquals(sourceLedger.sessionCount(), target.ledger.sessionCount());
        assertEquals(contents(sourceLedger), contents(target.ledger));
        assertEquals(sourceLedger.nextSequence(), target.ledger.nextSequence());
        assertEquals(sourceLedger.totalBytes(), target.ledger.totalBytes());
        sourceLedger.forEachSession(session ->
        {
            final AckLedger.SessionAcks loaded = target.ledger.sessionOrNull(session.sessionId);
            assertEquals(session.oldestSequence, loaded.oldestSequence, "session " + session.sessionId);
            assertEquals(session.bytes, loaded.bytes, "session " + session.sessionId);
        });
    }

    /** The ids an allocator would hand out next, left as they were. */
    private static List<Long> takeAndRollBack(final IdAllocator ids, final TypeDefinition type, final int count)
    {
        final List<Long> taken = new ArrayList<>();
        ids.mark();
        for (int i = 0; i < count; i++)
        {
            taken.add(ids.take(type.typeId()));
        }
        ids.rollBack();
        return taken;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Round trips

    @Test
    void aStoreItsIdsCountersAndLedgerRoundTrip() throws Exception
    {
        final Stream stream = openStream();
        final Target target = new Target(MAX_BATCHES);
        try (Writer writer = new Writer("snapshot-writer", idle -> ClusterSnapshot.write(stream.publication(), idle,
            schema, SETTINGS, source, sourceIds, sourceTotals, sourceLedger)))
        {
            target.load(stream.image());
            assertNull(writer.join(), "the writer ended without an error");
        }
        assertTrue(source.count(schema.type("User").typeId()) == 2_400, source.contentFingerprint());
        assertTrue(sourceIds.type(schema.type("Counter").typeId()).freeCount > ClusterSnapshot.FREE_IDS_PER_MESSAGE);
        assertLoadedAsSource(target);

        // The loaded ledger goes on as the source's would: ids keep increasing, the bound holds.
        final AckLedger.SessionAcks session = target.ledger.sessionOrNull(3);
        assertThrows(IllegalStateException.class, () -> record(target.ledger, session, 70, 1));
        record(target.ledger, session, 71, 1);
        assertEquals(MAX_BATCHES, session.count);
        assertTrue(target.ledger.find(session, 71, null));
        assertTrue(!target.ledger.find(session, 49, null), "the oldest went");
    }

    @Test
    void anEmptyStoreAndLedgerRoundTrip() throws Exception
    {
        source.close();
        source = NativeStore.open(schema);
        closeables.add(source);
        sourceIds = new IdAllocator(schema, source);
        sourceTotals = new long[2];
        sourceLedger = new AckLedger(MAX_BATCHES, MAX_ACK_BYTES);
        final List<byte[]> written = writtenMessages();
        final List<Integer> kinds = written.stream().map(ClusterSnapshotTest::kind).toList();
        assertEquals(ClusterSnapshot.HEADER, kinds.get(0));
        assertEquals(List.of(ClusterSnapshot.TYPE_IDS, ClusterSnapshot.TYPE_IDS, ClusterSnapshot.TYPE_IDS,
            ClusterSnapshot.TYPE_IDS, ClusterSnapshot.IMAGE), kinds.subList(1, 6), "no free ids");
        assertEquals(ClusterSnapshot.END, kinds.get(kinds.size() - 1));
        assertTrue(!kinds.contains(ClusterSnapshot.SESSION) && !kinds.contains(ClusterSnapshot.ACK), kinds.toString());
        assertLoadedAsSource(load(written, false));
    }

    @Test
    void theDocumentedLayoutIsWhatWriteSends() throws Exception
    {
        final List<byte[]> written = writtenMessages();
        final List<byte[]> built = builtMessages();
        assertTrue(written.stream().filter(m -> kind(m) == ClusterSnapshot.IMAGE).count() >= 2,
            "the image spans several messages");
        assertTrue(written.stream().filter(m -> kind(m) == ClusterSnapshot.FREE_IDS).count() >= 3,
            "the free Counters span two messages, the free Posts one");
        assertEquals(built.size(), written.size());
        for (int i = 0; i < built.size(); i++)
        {
            assertArrayEquals(built.get(i), written.get(i), "message " + i + " of kind " + kind(built.get(i)));
        }
        // And what is built here loads as what write sends.
        assertLoadedAsSource(load(built, false));
    }

    @Test
    void aSnapshotIsReadToItsEndEvenWhenThePublicationClosesAfterIt() throws Exception
    {
        assertLoadedAsSource(load(builtMessages(), true));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Bad input

    @Test
    void aSnapshotOfAnotherSchemaIsRefused() throws Exception
    {
        final String json = Files.readString(ExampleSchemas.socialPath()).replace("\"karma\"", "\"reputation\"");
        final DatabaseSchema other = SchemaCompiler.compile(json, "other.json");
        assertNotEquals(schema.hash(), other.hash());
        final List<byte[]> messages = builtMessages();
        final byte[] image = sourceImage();
        messages.set(0, header(ClusterSnapshot.VERSION, other.hash(), schema.types().size(), sourceTotals, image.length,
            crc32c(image), sourceLedger.sessionCount()));
        final Refusal refused = refused(messages, false);
        assertEquals("the snapshot is of another database schema (hash " + Long.toHexString(other.hash()) +
            ", this node runs social " + Long.toHexString(schema.hash()) + ")", refused.getMessage());
        assertStoreEmpty(lastRefusedTarget);
        assertEquals(0, lastRefusedTarget.ledger.sessionCount());
    }

    @ParameterizedTest
    @ValueSource(ints = { 0, 2, 4, -1, Integer.MAX_VALUE })
    void aSnapshotOfAnotherVersionIsRefused(final int version) throws Exception
    {
        final List<byte[]> messages = builtMessages();
        ByteBuffer.wrap(messages.get(0)).order(ByteOrder.LITTLE_ENDIAN).putInt(4, version);
        assertEquals("snapshot version " + version + ", this node reads 3" + (version == 2 ? " (version 2 predates the " +
            "settings check and the header's and ledger's CRCs: start this member from a snapshot taken by a node of " +
            "this version, or from an empty log)" : ""), refused(messages, false).getMessage());
        assertStoreEmpty(lastRefusedTarget);
    }

    /** A snapshot of other settings than this member's (here its ack ledger size) is refused, naming them. */
    @Test
    void aSnapshotTakenWithOtherSettingsIsRefused() throws Exception
    {
        final ClusterServiceSettings other = new ClusterServiceSettings(ClusterServiceSettings.DEFAULT_MAX_BATCH_BYTES,
            ClusterServiceSettings.DEFAULT_MAX_RECORDS_PER_BATCH, 512);
        final Stream stream = openStream();
        final Target target = new Target(MAX_BATCHES, other);
        try (Writer ignored = new Writer("snapshot-writer", idle -> ClusterSnapshot.write(stream.publication(), idle,
            schema, SETTINGS, source, sourceIds, sourceTotals, sourceLedger)))
        {
            final ClusterException refused = assertThrows(ClusterException.class, () -> target.load(stream.image()));
            assertEquals("the snapshot was taken with other settings than this member's: ack ledger batches 1024 " +
                "(this member 512)", reason(refused));
        }
        assertStoreEmpty(target);
        assertEquals(0, target.ledger.sessionCount());
    }

    @Test
    void aVersionOneSnapshotIsRefusedWithWhatToDo() throws Exception
    {
        // As a node before slot reuse wrote it: a next id per type slot in the header, no TYPE_IDS.
        final byte[] image = sourceImage();
        final List<byte[]> messages = new ArrayList<>();
        messages.add(headerVersionOne(schema.hash(), new long[]{ 0, 2_401, 2_401, 1, 9_001 }, sourceTotals, image.length,
            crc32c(image), 0));
        messages.add(imageChunk(image, 0, Math.min(image.length, ClusterSnapshot.CHUNK_BYTES)));
        messages.add(end(ClusterSnapshot.END_MAGIC));
        assertEquals("snapshot version 1, this node reads 3 (version 1 predates slot reuse: start this member from a " +
            "snapshot taken by a node of this version, or from an empty log)", refused(messages, false).getMessage());
        assertStoreEmpty(lastRefusedTarget);
    }

    @ParameterizedTest
    @ValueSource(ints = { 0, 1, 4_095, 65_535 })
    void aDamagedImageIsRefusedBeforeTheStoreSeesIt(final int flippedAt) throws Exception
    {
        final List<byte[]> messages = builtMessages();
        // flippedAt into the image: which IMAGE message holds it, and where.
        final int first = indexOfKind(messages, ClusterSnapshot.IMAGE);
        final byte[] chunk = messages.get(first + flippedAt / ClusterSnapshot.CHUNK_BYTES);
        chunk[4 + flippedAt % ClusterSnapshot.CHUNK_BYTES] ^= 0x10;
        final Refusal refused = refused(messages, false);
        assertTrue(refused.getMessage().startsWith("the snapshot's store image is damaged: CRC32C "), refused.getMessage());
        assertStoreEmpty(lastRefusedTarget);
        assertEquals(0, lastRefusedTarget.ledger.sessionCount());
    }

    @Test
    void aDamagedLastImageByteOrCrcIsRefused() throws Exception
    {
        final List<byte[]> messages = builtMessages();
        final int lastImage = indexOfKind(messages, ClusterSnapshot.SESSION) - 1;
        final byte[] chunk = messages.get(lastImage);
        chunk[chunk.length - 1] ^= (byte)0x80;
        assertTrue(refused(messages, false).getMessage().startsWith("the snapshot's store image is damaged"));

        final List<byte[]> badCrc = builtMessages();
        final ByteBuffer header = ByteBuffer.wrap(badCrc.get(0)).order(ByteOrder.LITTLE_ENDIAN);
        header.putLong(IMAGE_CRC_AT, header.getLong(IMAGE_CRC_AT) ^ 1);
        sealHeader(badCrc.get(0)); // the header itself intact: the image's CRC32C is what disagrees
        assertTrue(refused(badCrc, false).getMessage().startsWith("the snapshot's store image is damaged"));
        assertStoreEmpty(lastRefusedTarget);
    }

    @ParameterizedTest(name = "cut before message {0} from the end")
    @ValueSource(ints = { 1, 2, 3 })
    void aStreamClosedBeforeItsEndIsRefused(final int dropped) throws Exception
    {
        final List<byte[]> messages = builtMessages();
        final List<byte[]> cut = messages.subList(0, messages.size() - dropped);
        assertEquals("the snapshot ended before its END message (truncated)", refused(cut, true).getMessage());
    }

    @Test
    void aStreamClosedInItsImageOrBeforeItsHeaderIsRefused() throws Exception
    {
        final List<byte[]> messages = builtMessages();
        final int firstImage = indexOfKind(messages, ClusterSnapshot.IMAGE);
        assertEquals("the snapshot ended before its END message (truncated)",
            refused(messages.subList(0, firstImage + 1), true).getMessage());
        assertStoreEmpty(lastRefusedTarget);
        assertEquals("the snapshot ended before its END message (truncated)",
            refused(messages.subList(0, 1), true).getMessage());
        assertEquals("the snapshot ended before its END message (truncated)", refused(List.of(), true).getMessage());
    }

    @Test
    void anEndBeforeEverythingArrivedIsRefused() throws Exception
    {
        final List<byte[]> messages = builtMessages();
        final int firstSession = indexOfKind(messages, ClusterSnapshot.SESSION);
        final List<byte[]> noSessions = new ArrayList<>(messages.subList(0, firstSession));
        noSessions.add(end(ClusterSnapshot.END_MAGIC));
        assertEquals("the snapshot ended early: store loaded, 4 sessions and 0 acks missing",
            refused(noSessions, false).getMessage());

        final List<byte[]> noImage = new ArrayList<>(messages.subList(0, 2));
        noImage.add(end(ClusterSnapshot.END_MAGIC));
        assertTrue(refused(noImage, false).getMessage().startsWith("the snapshot ended early: store incomplete"));
        assertStoreEmpty(lastRefusedTarget);

        final List<byte[]> acksMissing = new ArrayList<>(messages.subList(0, firstSession));
        acksMissing.add(session(5, 9, 2));
        acksMissing.add(ackMessage(8, new byte[3]));
        acksMissing.add(end(ClusterSnapshot.END_MAGIC));
        final List<byte[]> withCount = withSessionCount(acksMissing, 1);
        assertEquals("the snapshot ended early: store loaded, 0 sessions and 1 acks missing",
            refused(withCount, false).getMessage());
    }

    /** Any byte of the header damaged (the totals here, which nothing else checks): refused before anything loads. */
    @Test
    void aDamagedHeaderIsRefused() throws Exception
    {
        final List<byte[]> messages = builtMessages();
        messages.get(0)[4 + 4 + 8 + 8 + 4 + 1] ^= 0x01;
        final Refusal refused = refused(messages, false);
        assertTrue(refused.getMessage().startsWith("the snapshot header is damaged: CRC32C "), refused.getMessage());
        assertStoreEmpty(lastRefusedTarget);
    }

    /** A byte of an ack damaged (nothing else in it is checked): the ledger's CRC refuses the snapshot. */
    @Test
    void aDamagedAckIsRefused() throws Exception
    {
        final List<byte[]> messages = builtMessages();
        byte[] ack = messages.get(indexOfKind(messages, ClusterSnapshot.ACK));
        for (final byte[] message : messages)
        {
            if (kind(message) == ClusterSnapshot.ACK && message.length > ack.length)
            {
                ack = message; // the longest: its last byte is the ack's own
            }
        }
        ack[ack.length - 1] ^= 0x40;
        final Refusal refused = refused(messages, false);
        assertTrue(refused.getMessage().startsWith("the snapshot's ack ledger is damaged: CRC32C "), refused.getMessage());
    }

    @Test
    void aDamagedEndIsRefused() throws Exception
    {
        final List<byte[]> messages = builtMessages();
        messages.set(messages.size() - 1, end(ClusterSnapshot.END_MAGIC ^ 1));
        assertEquals("damaged snapshot END", refused(messages, false).getMessage());
        final List<byte[]> longEnd = builtMessages();
        longEnd.set(longEnd.size() - 1, Arrays.copyOf(end(ClusterSnapshot.END_MAGIC), 16));
        assertEquals("damaged snapshot END", refused(longEnd, false).getMessage());
    }

    @Test
    void messagesOutOfOrderAreRefused() throws Exception
    {
        final List<byte[]> messages = builtMessages();
        final int firstImage = indexOfKind(messages, ClusterSnapshot.IMAGE);
        final int firstSession = indexOfKind(messages, ClusterSnapshot.SESSION);

        // An IMAGE before the HEADER.
        final List<byte[]> imageFirst = new ArrayList<>(messages);
        imageFirst.add(0, imageFirst.remove(firstImage));
        assertEquals("snapshot image bytes before the snapshot header and ids", refused(imageFirst, false).getMessage());
        assertStoreEmpty(lastRefusedTarget);

        // An IMAGE before the last type's ids.
        final int lastTypeIds = firstImage - 1;
        final List<byte[]> imageBeforeIds = new ArrayList<>(messages);
        imageBeforeIds.add(lastTypeIds, imageBeforeIds.remove(firstImage));
        assertEquals("snapshot image bytes before the snapshot header and ids", refused(imageBeforeIds, false).getMessage());
        assertStoreEmpty(lastRefusedTarget);

        // TYPE_IDS before the HEADER, FREE_IDS before any TYPE_IDS, and TYPE_IDS once every type had its own.
        final List<byte[]> idsFirst = new ArrayList<>(messages);
        idsFirst.add(0, idsFirst.remove(1));
        assertEquals("snapshot type ids out of place", refused(idsFirst, false).getMessage());
        final int firstFreeIds = indexOfKind(messages, ClusterSnapshot.FREE_IDS);
        final List<byte[]> freeFirst = new ArrayList<>(messages);
        freeFirst.add(1, freeFirst.remove(firstFreeIds));
        assertEquals("snapshot free ids out of place", refused(freeFirst, false).getMessage());
        final List<byte[]> idsAgain = new ArrayList<>(messages);
        idsAgain.add(firstImage + 1, messages.get(1));
        assertEquals("snapshot type ids out of place", refused(idsAgain, false).getMessage());

        // The types' ids in another order than the schema's.
        final List<byte[]> typesSwapped = new ArrayList<>(messages);
        typesSwapped.add(1, typesSwapped.remove(firstFreeIds - 1));
        assertTrue(refused(typesSwapped, false).getMessage().matches("snapshot ids of type \\d where type 1 comes"));

        // Two IMAGE messages swapped: the bytes arrive, in the wrong order.
        final List<byte[]> swapped = new ArrayList<>(messages);
        swapped.set(firstImage, messages.get(firstImage + 1));
        swapped.set(firstImage + 1, messages.get(firstImage));
        assertTrue(refused(swapped, false).getMessage().startsWith("the snapshot's store image is damaged"));
        assertStoreEmpty(lastRefusedTarget);

        // An IMAGE message twice: more bytes than declared.
        final List<byte[]> twice = new ArrayList<>(messages);
        twice.add(firstSession, messages.get(firstImage));
        assertTrue(refused(twice, false).getMessage().startsWith("snapshot image bytes beyond its declared "));

        // A SESSION before the image is complete.
        final List<byte[]> sessionEarly = new ArrayList<>(messages);
        sessionEarly.add(firstImage, sessionEarly.remove(firstSession));
        assertEquals("snapshot session out of place", refused(sessionEarly, false).getMessage());
        assertStoreEmpty(lastRefusedTarget);

        // A second HEADER.
        final List<byte[]> twoHeaders = new ArrayList<>(messages);
        twoHeaders.add(firstSession, messages.get(0));
        assertEquals("a second snapshot header", refused(twoHeaders, false).getMessage());

        // An ACK before any SESSION.
        final List<byte[]> ackFirst = new ArrayList<>(messages.subList(0, firstSession));
        ackFirst.add(ackMessage(1, new byte[4]));
        ackFirst.addAll(messages.subList(firstSession, messages.size()));
        assertEquals("snapshot ack out of place", refused(ackFirst, false).getMessage());

        // A SESSION while the previous one still waits for acks.
        final List<byte[]> interrupted = new ArrayList<>(messages.subList(0, firstSession));
        interrupted.add(session(50, 5, 2));
        interrupted.add(ackMessage(4, new byte[1]));
        interrupted.add(session(51, 5, 1));
        assertEquals("snapshot session out of place", refused(withSessionCount(interrupted, 2), false).getMessage());

        // The acks of a session swapped: correlation ids go down.
        final List<byte[]> acksSwapped = new ArrayList<>(messages.subList(0, firstSession));
        acksSwapped.add(session(52, 9, 2));
        acksSwapped.add(ackMessage(9, new byte[2]));
        acksSwapped.add(ackMessage(8, new byte[2]));
        acksSwapped.add(end(ClusterSnapshot.END_MAGIC));
        final Refusal down = refused(withSessionCount(acksSwapped, 1), false);
        assertEquals("snapshot session 52: ack of 8 after 9 (last answered 9)", down.getMessage());
    }

    private static List<byte[]> withSessionCount(final List<byte[]> messages, final int sessionCount)
    {
        final List<byte[]> copy = new ArrayList<>(messages);
        final byte[] header = copy.get(0).clone();
        ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN).putInt(SESSION_COUNT_AT, sessionCount);
        copy.set(0, sealHeader(header));
        return copy;
    }

    private List<byte[]> upToSessions()
    {
        final List<byte[]> messages = builtMessages();
        return new ArrayList<>(messages.subList(0, indexOfKind(messages, ClusterSnapshot.SESSION)));
    }

    @Test
    void aSessionWithTooManyAcksIsRefused() throws Exception
    {
        final List<byte[]> messages = upToSessions();
        messages.add(session(60, MAX_BATCHES + 1, MAX_BATCHES + 1));
        for (long id = 1; id <= MAX_BATCHES + 1; id++)
        {
            messages.add(ackMessage(id, new byte[1]));
        }
        messages.add(end(ClusterSnapshot.END_MAGIC));
        assertEquals("snapshot session with " + (MAX_BATCHES + 1) + " acks",
            refused(withSessionCount(messages, 1), false).getMessage());

        final List<byte[]> negative = upToSessions();
        negative.add(session(61, 1, -1));
        negative.add(end(ClusterSnapshot.END_MAGIC));
        assertEquals("snapshot session with -1 acks", refused(withSessionCount(negative, 1), false).getMessage());

        // More ACK messages than the SESSION announced.
        final List<byte[]> extra = upToSessions();
        extra.add(session(62, 2, 1));
        extra.add(ackMessage(1, new byte[1]));
        extra.add(ackMessage(2, new byte[1]));
        extra.add(end(ClusterSnapshot.END_MAGIC));
        assertEquals("snapshot ack out of place", refused(withSessionCount(extra, 1), false).getMessage());
    }

    @Test
    void aSnapshotWrittenWithALargerLedgerIsRefusedByASmallerOne() throws Exception
    {
        // Nodes must share spate.cluster.ack.ledger.batches: a snapshot of 4 acks per session does not fit 2.
        final Stream stream = openStream();
        final Target target = new Target(2);
        try (Writer ignored = new Writer("snapshot-writer", idle -> ClusterSnapshot.write(stream.publication(), idle,
            schema, SETTINGS, source, sourceIds, sourceTotals, sourceLedger)))
        {
            final ClusterException refused = assertThrows(ClusterException.class, () -> target.load(stream.image()));
            assertEquals("snapshot session with 4 acks", reason(refused));
        }
    }

    @Test
    void badSessionsAndAcksAreRefused() throws Exception
    {
        // The same session twice.
        final List<byte[]> twice = upToSessions();
        twice.add(session(70, 3, 1));
        twice.add(ackMessage(3, new byte[1]));
        twice.add(session(70, 5, 1));
        twice.add(ackMessage(5, new byte[1]));
        twice.add(end(ClusterSnapshot.END_MAGIC));
        assertEquals("snapshot session 70 twice", refused(withSessionCount(twice, 2), false).getMessage());

        // An ack above the session's last answered correlation id.
        final List<byte[]> above = upToSessions();
        above.add(session(71, 3, 1));
        above.add(ackMessage(4, new byte[1]));
        above.add(end(ClusterSnapshot.END_MAGIC));
        assertEquals("snapshot session 71: ack of 4 after 0 (last answered 3)",
            refused(withSessionCount(above, 1), false).getMessage());

        // An ack of correlation id 0 or below.
        final List<byte[]> zero = upToSessions();
        zero.add(session(72, 3, 1));
        zero.add(ackMessage(0, new byte[1]));
        zero.add(end(ClusterSnapshot.END_MAGIC));
        assertEquals("snapshot session 72: ack of 0 after 0 (last answered 3)",
            refused(withSessionCount(zero, 1), false).getMessage());

        // An ack shorter than its correlation id.
        final List<byte[]> shortAck = upToSessions();
        shortAck.add(session(73, 3, 1));
        shortAck.add(new byte[]{ ClusterSnapshot.ACK, 0, 0, 0, 1, 2, 3 });
        shortAck.add(end(ClusterSnapshot.END_MAGIC));
        assertEquals("snapshot ack out of place", refused(withSessionCount(shortAck, 1), false).getMessage());

        // An ack longer than a ledger ring holds.
        final List<byte[]> huge = upToSessions();
        huge.add(session(74, 3, 1));
        huge.add(ackMessage(3, new byte[100_000]));
        huge.add(end(ClusterSnapshot.END_MAGIC));
        final Refusal tooLong = refused(withSessionCount(huge, 1), false);
        assertTrue(tooLong.getMessage().startsWith("snapshot ack of 100016 bytes refused: "), tooLong.getMessage());

        // A SESSION message of the wrong length.
        final List<byte[]> longSession = upToSessions();
        longSession.add(Arrays.copyOf(session(75, 0, 0), 28));
        longSession.add(end(ClusterSnapshot.END_MAGIC));
        assertEquals("snapshot session out of place", refused(withSessionCount(longSession, 1), false).getMessage());
    }

    @Test
    void badHeadersAndKindsAreRefused() throws Exception
    {
        final byte[] image = sourceImage();
        final List<byte[]> messages = builtMessages();

        // Another number of types than this schema has.
        final List<byte[]> types = new ArrayList<>(messages);
        types.set(0, header(ClusterSnapshot.VERSION, schema.hash(), schema.types().size() + 1, sourceTotals, image.length,
            crc32c(image), sourceLedger.sessionCount()));
        assertEquals("snapshot of 5 types, the schema has 4", refused(types, false).getMessage());

        // A header cut short (never read past: 8 to 15 bytes hold the version but not the schema hash), or too long.
        for (final int length : new int[]{ 4, 7, 8, 15, 19, messages.get(0).length - 1, messages.get(0).length + 8 })
        {
            final List<byte[]> cut = new ArrayList<>(messages);
            cut.set(0, Arrays.copyOf(messages.get(0), length));
            final Refusal refused = refused(cut, false);
            assertTrue(refused.getMessage().startsWith("snapshot header of " + length + " bytes"), refused.getMessage());
            assertStoreEmpty(lastRefusedTarget);
        }

        // A negative image length or session count.
        final List<byte[]> negativeImage = new ArrayList<>(messages);
        negativeImage.set(0, header(ClusterSnapshot.VERSION, schema.hash(), schema.types().size(), sourceTotals, -1,
            crc32c(image), sourceLedger.sessionCount()));
        assertEquals("snapshot header with image length -1, 4 sessions, next ack sequence " + sourceLedger.nextSequence(),
            refused(negativeImage, false).getMessage());
        final List<byte[]> negativeSessions = new ArrayList<>(messages);
        negativeSessions.set(0, header(ClusterSnapshot.VERSION, schema.hash(), schema.types().size(), sourceTotals,
            image.length, crc32c(image), -2));
        assertEquals("snapshot header with image length " + image.length + ", -2 sessions, next ack sequence " +
            sourceLedger.nextSequence(),
            refused(negativeSessions, false).getMessage());

        // An image longer than declared, and a shorter one.
        final List<byte[]> shorter = new ArrayList<>(messages);
        shorter.set(0, header(ClusterSnapshot.VERSION, schema.hash(), schema.types().size(), sourceTotals,
            image.length - 1, crc32c(Arrays.copyOf(image, image.length - 1)), sourceLedger.sessionCount()));
        assertEquals("snapshot image bytes beyond its declared " + (image.length - 1),
            refused(shorter, false).getMessage());
        assertStoreEmpty(lastRefusedTarget);

        // A message of no known kind, and one too short to have a kind.
        final List<byte[]> unknown = new ArrayList<>(messages);
        unknown.add(1, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(8).array());
        assertEquals("snapshot message of unknown kind 8", refused(unknown, false).getMessage());
        final List<byte[]> tiny = new ArrayList<>(messages);
        tiny.add(1, new byte[]{ 2, 0 });
        assertEquals("snapshot message of 2 bytes", refused(tiny, false).getMessage());
    }

    /** The built messages with one type's TYPE_IDS and FREE_IDS replaced. */
    private List<byte[]> withTypeIds(final TypeDefinition type, final List<byte[]> replacement)
    {
        final List<byte[]> messages = builtMessages();
        int at = 1;
        for (final TypeDefinition each : schema.types())
        {
            final int count = typeIdsMessages(sourceIds.type(each.typeId())).size();
            if (each == type)
            {
                messages.subList(at, at + count).clear();
                messages.addAll(at, replacement);
                return messages;
            }
            at += count;
        }
        throw new AssertionError(type.name());
    }

    @Test
    void typeIdsThatDoNotAddUpAreRefused() throws Exception
    {
        final TypeDefinition post = schema.type("Post");
        final IdAllocator.TypeIds ids = sourceIds.type(post.typeId());
        final long[] free = Arrays.copyOf(ids.freeIds, ids.freeCount);
        final String prefix = "snapshot ids of type " + post.typeId() + " do not add up: ";

        assertEquals(prefix + "highest slot " + ids.highWaterSlot + ", " + (ids.inUse + 1) + " in use, 0 retired, 0 not kept, " +
            free.length + " free", refused(withTypeIds(post, List.of(typeIds(post.typeId(), ids.highWaterSlot, ids.inUse + 1,
            0, 0, free.length), freeIds(free))), false).getMessage());
        assertTrue(refused(withTypeIds(post, List.of(typeIds(post.typeId(), ids.highWaterSlot, ids.inUse, 1, 0,
            free.length), freeIds(free))), false).getMessage().startsWith(prefix), "a retired slot too many");
        assertTrue(refused(withTypeIds(post, List.of(typeIds(post.typeId(), ids.highWaterSlot, ids.inUse, 0, 0,
            free.length - 1), freeIds(Arrays.copyOf(free, free.length - 1)))), false).getMessage().startsWith(prefix),
            "a free id too few");
        assertTrue(refused(withTypeIds(post, List.of(typeIds(post.typeId(), ids.slotLimit + 1, ids.inUse, 0,
            ids.slotLimit + 1 - ids.inUse - free.length, free.length), freeIds(free))), false).getMessage().startsWith(prefix),
            "a highest slot past the slot limit");
        assertTrue(refused(withTypeIds(post, List.of(typeIds(post.typeId(), ids.highWaterSlot, -1, 0,
            ids.highWaterSlot + 1 - free.length, free.length), freeIds(free))), false).getMessage().startsWith(prefix),
            "ids in use below 0");
        assertTrue(refused(withTypeIds(post, List.of(typeIds(post.typeId(), ids.highWaterSlot, ids.inUse, 0, 0, -1))),
            false).getMessage().startsWith(prefix), "a negative free id count");

        // FREE_IDS of the wrong size for what it says, of none, or of more than TYPE_IDS announced.
        final byte[] longer = Arrays.copyOf(freeIds(free), 8 + 8 * free.length + 8);
        assertEquals("snapshot free ids out of place", refused(withTypeIds(post, List.of(typeIds(post.typeId(),
            ids.highWaterSlot, ids.inUse, 0, 0, free.length), longer)), false).getMessage());
        assertEquals("snapshot free ids out of place", refused(withTypeIds(post, List.of(typeIds(post.typeId(),
            ids.highWaterSlot, ids.inUse, 0, 0, free.length), freeIds(), freeIds(free))), false).getMessage());
        assertEquals("snapshot free ids out of place", refused(withTypeIds(post, List.of(typeIds(post.typeId(),
            ids.highWaterSlot, ids.inUse, 0, 0, free.length), freeIds(free), freeIds(free[0]))), false).getMessage());
        // And a TYPE_IDS message of the wrong length.
        assertEquals("snapshot type ids out of place", refused(withTypeIds(post, List.of(Arrays.copyOf(typeIds(
            post.typeId(), ids.highWaterSlot, ids.inUse, 0, 0, free.length), 48), freeIds(free))), false).getMessage());
    }

    @Test
    void aFreeIdOutsideItsTypesSlotsIsRefused() throws Exception
    {
        final TypeDefinition post = schema.type("Post");
        final IdAllocator.TypeIds ids = sourceIds.type(post.typeId());
        final int slotBits = ids.slotBits;
        final long generationOne = 1L << slotBits;
        for (final long outside : new long[]{ 0, -1, generationOne, ids.highWaterSlot + 1, generationOne | ids.highWaterSlot + 1,
            Long.MIN_VALUE | 5 })
        {
            final long[] free = Arrays.copyOf(ids.freeIds, ids.freeCount);
            free[free.length / 2] = outside;
            assertEquals("snapshot free id " + outside + " of type " + post.typeId() + " outside its slots 1.." +
                ids.highWaterSlot, refused(withTypeIds(post, typeIdsMessagesOf(ids, free)), false).getMessage());
            assertStoreEmpty(lastRefusedTarget);
        }
    }

    private static List<byte[]> typeIdsMessagesOf(final IdAllocator.TypeIds ids, final long[] free)
    {
        return List.of(typeIds(ids.typeId, ids.highWaterSlot, ids.inUse, ids.retiredSlots, ids.leakedSlots, free.length),
            freeIds(free));
    }

    @Test
    void idsThatDisagreeWithTheStoreAreRefused() throws Exception
    {
        final TypeDefinition post = schema.type("Post");
        final IdAllocator.TypeIds ids = sourceIds.type(post.typeId());
        final long[] free = Arrays.copyOf(ids.freeIds, ids.freeCount);
        final String disagree = "the snapshot's ids of Post disagree with its store: ";

        // Adds up, but one slot more than the store used, free.
        final long[] oneMore = Arrays.copyOf(free, free.length + 1);
        oneMore[free.length] = ids.highWaterSlot + 1;
        final Refusal higher = refused(withTypeIds(post, List.of(typeIds(post.typeId(), ids.highWaterSlot + 1, ids.inUse,
            0, 0, oneMore.length), freeIds(oneMore))), false);
        assertEquals(disagree + "highest slot " + (ids.highWaterSlot + 1) + "/" + ids.highWaterSlot + ", in use " +
            ids.inUse + "/" + ids.inUse + " live, retired 0/0, free " + oneMore.length + "/" + free.length,
            higher.getMessage());

        // A free id for a live slot in place of a free one: the counts agree, the id does not.
        long liveId = ids.highWaterSlot;
        while (source.nodeState(post.typeId(), liveId) != NativeStore.NODE_LIVE)
        {
            liveId--; // a Post never deleted: live at generation 0
        }
        final long[] live = free.clone();
        live[3] = liveId;
        final Refusal liveSlot = refused(withTypeIds(post, typeIdsMessagesOf(ids, live)), false);
        assertEquals("the snapshot's free id " + liveId + " of Post disagrees with its store: slot " + liveId +
            " is not free there (or is listed twice)", liveSlot.getMessage());

        // A free slot at another generation than the store's next one.
        final long[] laterGeneration = free.clone();
        laterGeneration[0] += 1L << ids.slotBits;
        final Refusal generation = refused(withTypeIds(post, typeIdsMessagesOf(ids, laterGeneration)), false);
        assertEquals("the snapshot's free id " + laterGeneration[0] + " of Post disagrees with its store: slot " +
            ids.slotOf(free[0]) + " takes " + free[0] + " there", generation.getMessage());

        // The same free id twice (one left out).
        final long[] twice = free.clone();
        twice[1] = twice[0];
        assertTrue(refused(withTypeIds(post, typeIdsMessagesOf(ids, twice)), false).getMessage()
            .endsWith("is not free there (or is listed twice)"));

        // In another order, the same free ids are fine: the order is the allocator's own.
        final long[] reversed = new long[free.length];
        for (int i = 0; i < free.length; i++)
        {
            reversed[i] = free[free.length - 1 - i];
        }
        final Target target = load(withTypeIds(post, typeIdsMessagesOf(ids, reversed)), false);
        assertArrayEquals(reversed, Arrays.copyOf(target.ids.type(post.typeId()).freeIds, free.length));
    }

    @Test
    void anImageTheStoreRefusesFailsTheLoad() throws Exception
    {
        // The CRC matches (it is computed over the damaged bytes): the store's own checks refuse the image.
        final byte[] image = sourceImage();
        final byte[] damaged = image.clone();
        for (int i = 0; i < 64 && i < damaged.length; i++)
        {
            damaged[i] = (byte)0xFF;
        }
        final List<byte[]> messages = new ArrayList<>();
        messages.add(header(ClusterSnapshot.VERSION, schema.hash(), schema.types().size(), sourceTotals, damaged.length,
            crc32c(damaged), 0));
        for (final TypeDefinition type : schema.types())
        {
            messages.addAll(typeIdsMessages(sourceIds.type(type.typeId())));
        }
        for (int from = 0; from < damaged.length; from += ClusterSnapshot.CHUNK_BYTES)
        {
            messages.add(imageChunk(damaged, from, Math.min(damaged.length, from + ClusterSnapshot.CHUNK_BYTES)));
        }
        messages.add(end(ClusterSnapshot.END_MAGIC));
        final ClusterException refused = assertThrows(ClusterException.class, () -> load(messages, false));
        assertTrue(reason(refused).startsWith("the snapshot's store image is refused by the store: " +
            "spate_store_snapshot_load("), refused.getMessage());
    }
}
