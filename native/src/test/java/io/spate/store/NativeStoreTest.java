package io.spate.store;

import io.spate.client.NodeView;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordFraming;
import io.spate.codec.RecordWriter;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.codec.testing.ReferenceStore;
import io.spate.wire.RecordStatus;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The native store through its Java binding: each record kind, each error status, reads,
 * the results bound and the progress counter.
 */
class NativeStoreTest
{
    private final DatabaseSchema schema = StorePropertyTest.exampleSchema();
    private final TypeDefinition user = schema.type("User");
    private final TypeDefinition counter = schema.type("Counter");
    private final NativeStore store = NativeStore.open(schema);
    private final OffHeapBuffer batch = new OffHeapBuffer(1 << 16);
    private final OffHeapBuffer progress = new OffHeapBuffer(64);
    private final OffHeapBuffer nodeCopy = new OffHeapBuffer(4096);
    private final ApplyResults results = new ApplyResults(64);
    private final RecordWriter writer = new RecordWriter(schema);
    private final NodeView view = new NodeView();

    @AfterEach
    void close()
    {
        store.close();
        batch.close();
        progress.close();
        nodeCopy.close();
        results.close();
    }

    private int apply(final int length)
    {
        return store.apply(batch.address(), length, progress.address(), results);
    }

    private NodeView get(final TypeDefinition type, final long id)
    {
        final int length = store.get(type.typeId(), id, nodeCopy.address(), nodeCopy.capacityBytes());
        assertTrue(length > 0, type.name() + "#" + id + " should exist");
        return view.wrap(type, nodeCopy.buffer(), 0, length);
    }

    /** A schema of one type T with one string field s: small limits that tests can reach. */
    private static DatabaseSchema tinySchema(final long maxNodes, final long maxArenaBytes, final int maxStringBytes)
    {
        return SchemaCompiler.compile("{\"name\":\"tiny\",\"types\":[{\"name\":\"T\",\"maxNodes\":" + maxNodes +
            ",\"maxArenaBytes\":" + maxArenaBytes + ",\"fields\":[{\"name\":\"s\",\"type\":\"string\",\"maxBytes\":" +
            maxStringBytes + "}]}]}", "tiny");
    }

    @Test
    void clientSizesNodeCopiesAsTheStoreWritesThem()
    {
        // The client (which cannot depend on this module) sizes its read buffer with NodeView.
        assertEquals(NativeStore.maxNodeLengthBytes(schema), NodeView.maxLengthBytes(schema));
        for (final TypeDefinition type : schema.types())
        {
            assertEquals(NativeStore.maxNodeLengthBytes(type), NodeView.maxLengthBytes(type), type.name());
        }
    }

    @Test
    void shouldCreateReadUpdateIncrementAndDelete()
    {
        writer.wrap(batch.buffer(), 0, batch.capacityBytes()).beginBatch(1, 1);
        final int ref = writer.create(user, 1);
        writer.setLong(user.field("age"), 200).setLong(user.field("karma"), -7)
            .setDouble(user.field("score"), 1.25).setBoolean(user.field("verified"), true)
            .setLong(user.field("joinedAt"), 123_456_789L).setString(user.field("name"), "Grace");
        writer.updateCreated(user, ref);
        writer.setString(user.field("bio"), "compiler pioneer").setLong(user.field("age"), 201);
        writer.increment(user, 1, user.field("karma"), 10);
        final int length = writer.endBatch();

        assertEquals(4, apply(length));
        for (int i = 0; i < 4; i++)
        {
            assertEquals(RecordStatus.OK.value(), results.status(i), "message " + i);
        }
        assertEquals(1, results.nodeId(1));
        assertEquals(length, progress.buffer().getLongVolatile(0));

        final NodeView node = get(user, 1);
        assertEquals(201, node.getLong(user.field("age")));
        assertEquals(3, node.getLong(user.field("karma")));
        assertEquals(1.25, node.getDouble(user.field("score")));
        assertTrue(node.getBoolean(user.field("verified")));
        assertEquals(123_456_789L, node.getLong(user.field("joinedAt")));
        assertEquals("Grace", node.getString(user.field("name")));
        assertEquals("compiler pioneer", node.getString(user.field("bio")));
        assertEquals(1, store.count(user.typeId()));
        assertEquals(1, store.typeStats(user.typeId()).highWaterSlot());

        writer.wrap(batch.buffer(), 0, batch.capacityBytes());
        writer.delete(user, 1);
        writer.delete(user, 1);
        writer.update(user, 1);
        writer.setLong(user.field("age"), 1);
        assertEquals(3, apply(writer.endBatch()));
        assertEquals(RecordStatus.OK.value(), results.status(0));
        assertEquals(RecordStatus.NO_SUCH_NODE.value(), results.status(1));
        assertEquals(RecordStatus.NO_SUCH_NODE.value(), results.status(2));
        assertFalse(store.exists(user.typeId(), 1));
        assertEquals(-1, store.get(user.typeId(), 1, nodeCopy.address(), nodeCopy.capacityBytes()));
        assertEquals(0, store.count(user.typeId()));
        final long reuse = idOf(user, 1, 1);
        assertEquals(NativeStore.NODE_GONE, store.nodeState(user.typeId(), 1), "deleted");
        assertEquals(NativeStore.NODE_NOT_ISSUED, store.nodeState(user.typeId(), reuse), "the slot's next generation");
        assertEquals(NativeStore.NODE_NOT_ISSUED, store.nodeState(user.typeId(), 2), "not taken yet");
        assertEquals(NativeStore.NODE_NOT_ISSUED, store.nodeState(user.typeId(), 0), "no such id");
        assertEquals(NativeStore.NODE_NOT_ISSUED, store.nodeState(user.typeId(), -1), "no such id");
        assertEquals(NativeStore.NODE_NOT_ISSUED, store.nodeState(user.typeId(), Long.MAX_VALUE), "past the slot limit");
        assertArrayEquals(new long[]{ reuse }, freeIds(store, user), "slot 1 is free at generation 1");

        // A Create that skips ahead: the slots it skips stay never used (and free to take).
        writer.wrap(batch.buffer(), 0, batch.capacityBytes());
        writer.create(user, 5);
        assertEquals(1, apply(writer.endBatch()));
        assertEquals(RecordStatus.OK.value(), results.status(0));
        assertEquals(NativeStore.NODE_LIVE, store.nodeState(user.typeId(), 5));
        assertEquals(NativeStore.NODE_NOT_ISSUED, store.nodeState(user.typeId(), 3), "skipped");
        assertEquals(NativeStore.NODE_GONE, store.nodeState(user.typeId(), 1));
        assertArrayEquals(new long[]{ reuse, 2, 3, 4 }, freeIds(store, user));

        // The deleted slot reused at its next generation: the old id still reads as gone, never as the new node.
        writer.wrap(batch.buffer(), 0, batch.capacityBytes());
        writer.create(user, reuse);
        writer.setString(user.field("name"), "Edsger");
        writer.create(user, 1);                                 // ID_MISMATCH: a generation below the slot's next
        writer.update(user, 1);                                 // NO_SUCH_NODE: the stale id
        writer.setLong(user.field("age"), 9);
        assertEquals(3, apply(writer.endBatch()));
        assertEquals(RecordStatus.OK.value(), results.status(0));
        assertEquals(reuse, results.nodeId(0));
        assertEquals(RecordStatus.ID_MISMATCH.value(), results.status(1));
        assertEquals(0, results.nodeId(1), "a refused create consumes nothing");
        assertEquals(RecordStatus.NO_SUCH_NODE.value(), results.status(2));
        assertEquals(1, results.nodeId(2));
        assertEquals("Edsger", get(user, reuse).getString(user.field("name")));
        assertEquals(0, get(user, reuse).getLong(user.field("age")), "the reused slot starts from zeros");
        assertEquals(NativeStore.NODE_GONE, store.nodeState(user.typeId(), 1));
        assertEquals(-1, store.get(user.typeId(), 1, nodeCopy.address(), nodeCopy.capacityBytes()));
        assertEquals(2, store.count(user.typeId()));
        final StoreTypeStats stats = store.typeStats(user.typeId());
        assertEquals(5, stats.highWaterSlot());
        assertEquals(3, stats.freeSlots());
        assertEquals(0, stats.retiredSlots());
    }

    private static long idOf(final TypeDefinition type, final long generation, final long slot)
    {
        return generation << ReferenceStore.slotBits(type.maxNodes()) | slot;
    }

    private static long[] freeIds(final NativeStore store, final TypeDefinition type)
    {
        final List<Long> ids = new ArrayList<>();
        final long count = store.freeIds(type.typeId(), ids::add);
        assertEquals(ids.size(), count);
        return ids.stream().mapToLong(Long::longValue).toArray();
    }

    @Test
    void shouldWrapIntegerIncrementsModuloTheirWidth()
    {
        writer.wrap(batch.buffer(), 0, batch.capacityBytes());
        writer.create(counter, 1);
        writer.setLong(counter.field("small"), 250).setLong(counter.field("medium"), 1)
            .setLong(counter.field("wide"), 0xFFFF_FFFFL).setLong(counter.field("signed"), Integer.MAX_VALUE)
            .setLong(counter.field("hits"), -1).setDouble(counter.field("ratio"), 0.5);
        writer.increment(counter, 1, counter.field("small"), 10);
        writer.increment(counter, 1, counter.field("medium"), -2);
        writer.increment(counter, 1, counter.field("wide"), 1);
        writer.increment(counter, 1, counter.field("signed"), 1);
        writer.increment(counter, 1, counter.field("hits"), 1);
        writer.increment(counter, 1, counter.field("balance"), Long.MIN_VALUE);
        writer.increment(counter, 1, counter.field("ratio"), -2);
        assertEquals(8, apply(writer.endBatch()));
        final NodeView node = get(counter, 1);
        assertEquals(4, node.getLong(counter.field("small")));
        assertEquals(65535, node.getLong(counter.field("medium")));
        assertEquals(0, node.getLong(counter.field("wide")));
        assertEquals(Integer.MIN_VALUE, node.getLong(counter.field("signed")));
        assertEquals(0, node.getLong(counter.field("hits")));
        assertEquals(Long.MIN_VALUE, node.getLong(counter.field("balance")));
        assertEquals(-1.5, node.getDouble(counter.field("ratio")));
    }

    @Test
    void shouldReportEachStateErrorAndKeepGoing()
    {
        writer.wrap(batch.buffer(), 0, batch.capacityBytes()).beginBatch(1, 1);
        writer.create(user, -5);                                // 1: ID_MISMATCH, ids start at 1
        final int created = writer.create(user, 0);             // 2: OK, takes id 1
        writer.update(user, 99);                                // 3: NO_SUCH_NODE
        writer.setLong(user.field("age"), 1);
        writer.incrementCreated(counter, created, counter.field("hits"), 1); // 4: BAD_REFERENCE (other type)
        writer.deleteCreated(user, 3);                          // 5: BAD_REFERENCE (not a create)
        writer.deleteCreated(user, created);                    // 6: OK
        writer.increment(user, 1, user.field("karma"), 1);     // 7: NO_SUCH_NODE (deleted)
        final int length = writer.endBatch();
        assertEquals(8, apply(length));
        final int[] expected = {
            RecordStatus.OK.value(), RecordStatus.ID_MISMATCH.value(), RecordStatus.OK.value(),
            RecordStatus.NO_SUCH_NODE.value(), RecordStatus.BAD_REFERENCE.value(), RecordStatus.BAD_REFERENCE.value(),
            RecordStatus.OK.value(), RecordStatus.NO_SUCH_NODE.value() };
        for (int i = 0; i < expected.length; i++)
        {
            assertEquals(expected[i], results.status(i), "message " + i);
        }
        assertEquals(1, results.nodeId(2));
        assertEquals(1, store.typeStats(user.typeId()).highWaterSlot());
        assertEquals(NativeStore.NODE_GONE, store.nodeState(user.typeId(), 1));
    }

    @Test
    void shouldTakeAnExplicitIdAheadAndLeaveTheSlotsBetweenNeverUsed()
    {
        writer.wrap(batch.buffer(), 0, batch.capacityBytes()).beginBatch(1, 1);
        writer.create(user, 0);                                 // 1: OK, id 1
        final int ahead = writer.create(user, 5);               // 2: OK, id 5; slots 2, 3 and 4 skipped
        writer.setString(user.field("name"), "five");
        writer.updateCreated(user, ahead);                      // 3: OK, the ref resolves to 5
        writer.setLong(user.field("age"), 55);
        writer.create(user, 0);                                 // 4: OK, id 6
        final int length = writer.endBatch();
        assertEquals(5, apply(length));
        for (int i = 0; i < 5; i++)
        {
            assertEquals(RecordStatus.OK.value(), results.status(i), "message " + i);
        }
        assertEquals(1, results.nodeId(1));
        assertEquals(5, results.nodeId(2));
        assertEquals(5, results.nodeId(3));
        assertEquals(6, results.nodeId(4));
        assertEquals(6, store.typeStats(user.typeId()).highWaterSlot());
        assertEquals(3, store.count(user.typeId()));
        assertEquals("five", get(user, 5).getString(user.field("name")));
        assertEquals(55, get(user, 5).getLong(user.field("age")));
        assertArrayEquals(new long[]{ 2, 3, 4 }, freeIds(store, user), "skipped slots are free at generation 0");

        // The skipped slots were never live: no reads, no writes; a Create may still take them (generation 0).
        writer.wrap(batch.buffer(), 0, batch.capacityBytes());
        for (long gap = 2; gap <= 4; gap++)
        {
            assertFalse(store.exists(user.typeId(), gap), "#" + gap);
            assertEquals(NativeStore.NODE_NOT_ISSUED, store.nodeState(user.typeId(), gap), "#" + gap);
            assertEquals(-1, store.get(user.typeId(), gap, nodeCopy.address(), nodeCopy.capacityBytes()), "#" + gap);
            writer.update(user, gap);
            writer.setLong(user.field("age"), 1);
            writer.increment(user, gap, user.field("karma"), 1);
            writer.delete(user, gap);
            writer.create(user, gap);
        }
        assertEquals(12, apply(writer.endBatch()));
        for (int i = 0; i < 12; i++)
        {
            final boolean create = i % 4 == 3;
            assertEquals(create ? RecordStatus.OK.value() : RecordStatus.NO_SUCH_NODE.value(), results.status(i),
                "message " + i);
            assertEquals(2 + i / 4, results.nodeId(i), "message " + i);
        }
        final StoreTypeStats stats = store.typeStats(user.typeId());
        assertEquals(6, stats.highWaterSlot(), "taking a skipped slot does not move the highest slot");
        assertEquals(6, stats.liveNodes());
        assertEquals(0, stats.freeSlots());
        assertEquals(0, freeIds(store, user).length);
    }

    @Test
    void shouldKeepTakingCreatesAfterThePipelineLosesABatch()
    {
        // The pipeline numbered creates 1..6; the batch holding 3..4 never reached the store.
        writer.wrap(batch.buffer(), 0, batch.capacityBytes());
        writer.create(counter, 1);
        writer.create(counter, 2);
        writer.create(counter, 5);
        writer.create(counter, 6);
        writer.increment(counter, 5, counter.field("hits"), 7);
        assertEquals(5, apply(writer.endBatch()));
        for (int i = 0; i < 5; i++)
        {
            assertEquals(RecordStatus.OK.value(), results.status(i), "message " + i);
        }
        assertEquals(6, store.typeStats(counter.typeId()).highWaterSlot());
        assertEquals(4, store.count(counter.typeId()));
        assertEquals(7, get(counter, 5).getLong(counter.field("hits")));
        assertFalse(store.exists(counter.typeId(), 3));
        assertFalse(store.exists(counter.typeId(), 4));
    }

    @Test
    void shouldRefuseIdsThatAreNoneOfTheTypeOrNotFree()
    {
        final long slotLimit = ReferenceStore.slotLimit(counter.maxNodes());
        assertEquals(slotLimit, store.typeStats(counter.typeId()).slotLimit());
        final long slotMask = (1L << ReferenceStore.slotBits(counter.maxNodes())) - 1;
        writer.wrap(batch.buffer(), 0, batch.capacityBytes());
        writer.create(counter, slotLimit + 1);                  // 0: TYPE_FULL, though the type is empty
        writer.create(counter, Long.MAX_VALUE);                 // 1: TYPE_FULL: its slot is all ones, past the limit
        writer.create(counter, -1);                             // 2: ID_MISMATCH
        writer.create(counter, Long.MIN_VALUE);                 // 3: ID_MISMATCH
        writer.create(counter, slotMask + 1);                   // 4: ID_MISMATCH: slot 0 (generation 1)
        writer.create(counter, 3);                              // 5: OK, skips 1 and 2
        writer.create(counter, 2);                              // 6: OK, a skipped slot
        writer.create(counter, 3);                              // 7: ID_MISMATCH, live
        writer.create(counter, slotLimit);                      // 8: OK, the last slot, far ahead
        writer.create(counter, 0);                              // 9: TYPE_FULL: no never-used slot left
        writer.create(counter, slotLimit);                      // 10: ID_MISMATCH, live
        writer.create(counter, slotLimit + 1);                  // 11: TYPE_FULL
        writer.create(counter, idOf(counter, 5, 7));            // 12: OK, a never-used slot at a later generation
        final int[] expected = {
            RecordStatus.TYPE_FULL.value(), RecordStatus.TYPE_FULL.value(), RecordStatus.ID_MISMATCH.value(),
            RecordStatus.ID_MISMATCH.value(), RecordStatus.ID_MISMATCH.value(), RecordStatus.OK.value(),
            RecordStatus.OK.value(), RecordStatus.ID_MISMATCH.value(), RecordStatus.OK.value(),
            RecordStatus.TYPE_FULL.value(), RecordStatus.ID_MISMATCH.value(), RecordStatus.TYPE_FULL.value(),
            RecordStatus.OK.value() };
        final long[] ids = { 0, 0, 0, 0, 0, 3, 2, 0, slotLimit, 0, 0, 0, idOf(counter, 5, 7) };
        assertEquals(expected.length, apply(writer.endBatch()));
        for (int i = 0; i < expected.length; i++)
        {
            assertEquals(expected[i], results.status(i), "message " + i);
            assertEquals(ids[i], results.nodeId(i), "message " + i);
        }
        final StoreTypeStats stats = store.typeStats(counter.typeId());
        assertEquals(slotLimit, stats.highWaterSlot());
        assertEquals(4, store.count(counter.typeId()));
        assertEquals(slotLimit - 4, stats.freeSlots());
        assertTrue(store.exists(counter.typeId(), slotLimit));
        assertEquals(NativeStore.NODE_GONE, store.nodeState(counter.typeId(), 7),
            "generation 0 was never issued, but the slot has moved on to a later generation");
        assertEquals(NativeStore.NODE_NOT_ISSUED, store.nodeState(counter.typeId(), idOf(counter, 6, 7)));
        for (final long gap : new long[]{ 1, 4, 5, slotLimit / 2, slotLimit - 1, slotLimit + 1 })
        {
            assertFalse(store.exists(counter.typeId(), gap), "#" + gap);
            assertEquals(-1, store.get(counter.typeId(), gap, nodeCopy.address(), nodeCopy.capacityBytes()), "#" + gap);
        }
    }

    @Test
    void shouldRetireASlotWhoseGenerationsAreUsedUp()
    {
        final DatabaseSchema tiny = tinySchema(5, 8, 16);
        final TypeDefinition type = tiny.type("T");
        final long maxGeneration = ReferenceStore.maxGeneration(ReferenceStore.slotBits(type.maxNodes()));
        assertEquals((1L << 55) - 1, maxGeneration, "8 slot bits");
        final long last = idOf(type, maxGeneration, 1);
        assertTrue(last > 0);
        try (NativeStore tinyStore = NativeStore.open(tiny))
        {
            final RecordWriter tinyWriter = new RecordWriter(tiny);
            tinyWriter.wrap(batch.buffer(), 0, 4096);
            tinyWriter.create(type, last);
            tinyWriter.setString(type.field("s"), "last");
            tinyWriter.delete(type, last);                      // slot 1 retired
            tinyWriter.create(type, idOf(type, maxGeneration, 3));
            tinyWriter.setString(type.field("s"), "123456789"); // ARENA_FULL: consumes the id, retires slot 3
            tinyWriter.create(type, idOf(type, maxGeneration, 1)); // ID_MISMATCH: retired
            tinyWriter.create(type, 1);                         // ID_MISMATCH
            tinyWriter.create(type, 0);                         // OK: slot 4
            assertEquals(6, tinyStore.apply(batch.address(), tinyWriter.endBatch(), 0, results));
            final int[] expected = {
                RecordStatus.OK.value(), RecordStatus.OK.value(), RecordStatus.ARENA_FULL.value(),
                RecordStatus.ID_MISMATCH.value(), RecordStatus.ID_MISMATCH.value(), RecordStatus.OK.value() };
            final long[] ids = { last, last, idOf(type, maxGeneration, 3), 0, 0, 4 };
            for (int i = 0; i < expected.length; i++)
            {
                assertEquals(expected[i], results.status(i), "message " + i);
                assertEquals(ids[i], results.nodeId(i), "message " + i);
            }
            final StoreTypeStats stats = tinyStore.typeStats(type.typeId());
            assertEquals(4, stats.highWaterSlot());
            assertEquals(2, stats.retiredSlots());
            assertEquals(3, stats.freeSlots(), "retired slots count as free slots");
            assertEquals(1, stats.liveNodes());
            assertEquals(NativeStore.NODE_GONE, tinyStore.nodeState(type.typeId(), last));
            assertEquals(NativeStore.NODE_GONE, tinyStore.nodeState(type.typeId(), 1), "every generation of a retired slot");
            assertArrayEquals(new long[]{ 2 }, freeIds(tinyStore, type), "retired slots are not reusable");
        }
    }

    @Test
    void shouldListFreeIdsAcrossManyChunksInSlotOrder()
    {
        // A far skip leaves 199,999 never-used slots: more than one chunk of the binding's walk (64 Ki).
        writer.wrap(batch.buffer(), 0, batch.capacityBytes());
        writer.create(counter, 200_000);
        writer.create(counter, 70_000);
        writer.delete(counter, 70_000);
        assertEquals(3, apply(writer.endBatch()));
        final long[] ids = freeIds(store, counter);
        assertEquals(199_999, ids.length);
        for (int i = 0; i < ids.length; i++)
        {
            final long slot = i + 1;
            assertEquals(slot == 70_000 ? idOf(counter, 1, slot) : slot, ids[i], "free id #" + i);
        }
    }

    @Test
    void shouldReportTypeStatsAndRefuseUnknownTypes()
    {
        final StoreTypeStats stats = store.typeStats(user.typeId(), new StoreTypeStats());
        assertEquals(user.typeId(), stats.typeId());
        assertEquals(user.maxNodes(), stats.maxNodes());
        assertEquals(ReferenceStore.slotBits(user.maxNodes()), stats.slotBits());
        assertEquals(ReferenceStore.slotLimit(user.maxNodes()), stats.slotLimit());
        assertEquals(0, stats.highWaterSlot());
        assertEquals(0, stats.arenaReservedBytes());
        assertEquals(user.maxArenaBytes(), stats.arenaCapacityBytes());
        assertEquals(ReferenceStore.rowStrideBytes(user), stats.rowStrideBytes());
        assertThrows(NativeStoreException.class, () -> store.typeStats(77));
        assertThrows(NativeStoreException.class, () -> store.freeIds(77, id -> { }));
    }

    @Test
    void shouldRefuseRecordsOfAnotherDatabaseSchema()
    {
        final DatabaseSchema other = SchemaCompiler.compile(
            "{\"name\":\"other\",\"types\":[{\"name\":\"User\",\"fields\":[{\"name\":\"age\",\"type\":\"u8\"}]}]}", "other");
        final RecordWriter otherWriter = new RecordWriter(other);
        otherWriter.wrap(batch.buffer(), 0, 4096).beginBatch(1, 1);
        otherWriter.create(other.type("User"));
        int length = otherWriter.endBatch();
        writer.wrap(batch.buffer(), length, 4096).beginBatch(2, 2);
        writer.create(user);
        length += writer.endBatch();
        assertEquals(4, apply(length));
        assertEquals(RecordStatus.SCHEMA_MISMATCH.value(), results.status(0));
        assertEquals(RecordStatus.SCHEMA_MISMATCH.value(), results.status(1));
        assertEquals(RecordStatus.OK.value(), results.status(2), "the next batch header resets the check");
        assertEquals(RecordStatus.OK.value(), results.status(3));
        assertEquals(1, store.count(user.typeId()));
    }

    @Test
    void shouldStopAtTheResultsCapacityAndContinueFromTheProgress()
    {
        writer.wrap(batch.buffer(), 0, batch.capacityBytes());
        for (int i = 0; i < 100; i++)
        {
            writer.create(counter);
        }
        final int length = writer.endBatch();
        int consumed = 0;
        int calls = 0;
        progress.buffer().putLong(0, 0);
        while (consumed < length)
        {
            final int count = store.apply(batch.address() + consumed, length - consumed, progress.address(), results);
            assertTrue(count > 0 && count <= results.capacity());
            consumed = (int)progress.buffer().getLongVolatile(0);
            calls++;
        }
        assertEquals(length, consumed);
        assertEquals(2, calls, "64 then 36");
        assertEquals(100, store.count(counter.typeId()));
    }

    @Test
    void shouldStopCleanlyOnGarbageAndLeaveTheStoreUntouched()
    {
        final UnsafeBuffer bytes = batch.buffer();
        for (int i = 0; i < 256; i++)
        {
            bytes.putByte(i, (byte)(i * 31 + 7));
        }
        final int count = apply(256);
        assertEquals(RecordStatus.MALFORMED.value(), results.status(count - 1));
        assertEquals(256, progress.buffer().getLongVolatile(0) - 0, "the whole slice counts as consumed");
        for (final TypeDefinition type : schema.types())
        {
            assertEquals(0, store.count(type.typeId()));
        }
    }

    @Test
    void shouldReportAnUnknownTemplateAndSkipIt()
    {
        writer.wrap(batch.buffer(), 0, batch.capacityBytes());
        writer.delete(user, 1);
        writer.create(user);
        final int length = writer.endBatch();
        batch.buffer().putShort(RecordFraming.TEMPLATE_ID_OFFSET, (short)40, ByteOrder.LITTLE_ENDIAN);
        assertEquals(2, apply(length));
        assertEquals(RecordStatus.UNKNOWN_TEMPLATE.value(), results.status(0));
        assertEquals(RecordStatus.OK.value(), results.status(1));
    }

    @Test
    void shouldRefuseUseAfterCloseAndUnknownTypes()
    {
        assertThrows(NativeStoreException.class, () -> store.count(77));
        assertThrows(NativeStoreException.class, () -> store.exists(0, 1));
        store.close();
        store.close();
        assertTrue(store.isClosed());
        assertThrows(IllegalStateException.class, () -> store.count(1));
    }

    @Test
    void shouldReserveMemoryAhead()
    {
        store.reserve(counter.typeId(), 100_000);
        store.reserve(counter.typeId(), counter.maxNodes() + 1);
        assertThrows(NativeStoreException.class, () -> store.reserve(99, 1));
        assertEquals(0, store.count(counter.typeId()));
    }

    @Test
    void shouldFillTheTypeUpToItsSlotLimitAndBoundLiveNodesByMaxNodes()
    {
        // maxNodes 3: 8 slot bits and the least retirement allowance, one slot: 4 slots.
        final DatabaseSchema tiny = tinySchema(3, 8, 8);
        final TypeDefinition type = tiny.type("T");
        try (NativeStore tinyStore = NativeStore.open(tiny))
        {
            assertEquals(4, tinyStore.typeStats(type.typeId()).slotLimit());
            final RecordWriter tinyWriter = new RecordWriter(tiny);
            tinyWriter.wrap(batch.buffer(), 0, 4096);
            tinyWriter.create(type);
            tinyWriter.setString(type.field("s"), "12345678");
            tinyWriter.create(type);
            tinyWriter.setString(type.field("s"), "x");
            tinyWriter.create(type);
            tinyWriter.create(type);
            tinyWriter.create(type);                            // TYPE_FULL: no never-used slot left
            tinyWriter.create(type, idOf(type, 1, 2));          // TYPE_FULL: 3 live, though slot 2 is free
            tinyWriter.delete(type, 1);
            tinyWriter.create(type, idOf(type, 1, 2));          // OK
            final int count = tinyStore.apply(batch.address(), tinyWriter.endBatch(), 0, results);
            final int[] expected = {
                RecordStatus.OK.value(), RecordStatus.ARENA_FULL.value(), RecordStatus.OK.value(), RecordStatus.OK.value(),
                RecordStatus.TYPE_FULL.value(), RecordStatus.TYPE_FULL.value(), RecordStatus.OK.value(),
                RecordStatus.OK.value() };
            final long[] ids = { 1, 2, 3, 4, 0, 0, 1, idOf(type, 1, 2) };
            assertEquals(expected.length, count);
            for (int i = 0; i < expected.length; i++)
            {
                assertEquals(expected[i], results.status(i), "message " + i);
                assertEquals(ids[i], results.nodeId(i), i == 1 ? "a refused create still takes its id" : "message " + i);
            }
            assertEquals(3, tinyStore.count(type.typeId()));
            assertEquals(4, tinyStore.typeStats(type.typeId()).highWaterSlot());
            assertArrayEquals(new long[]{ idOf(type, 1, 1) }, freeIds(tinyStore, type));
        }
    }

    @Test
    void shouldBoundLiveNodesByMaxNodesNotIdsEverTaken()
    {
        // maxNodes 2000: 11 slot bits, a retirement allowance of one slot: 2001 slots.
        final DatabaseSchema small = tinySchema(2000, 1 << 16, 8);
        final TypeDefinition type = small.type("T");
        try (NativeStore smallStore = NativeStore.open(small); ApplyResults many = new ApplyResults(2048);
            OffHeapBuffer big = new OffHeapBuffer(1 << 20))
        {
            assertEquals(2001, smallStore.typeStats(type.typeId()).slotLimit());
            final RecordWriter smallWriter = new RecordWriter(small);
            smallWriter.wrap(big.buffer(), 0, big.capacityBytes());
            for (int i = 0; i < 2000; i++)
            {
                smallWriter.create(type);
            }
            smallWriter.create(type);                           // TYPE_FULL: 2000 live, though slot 2001 is free
            assertEquals(2001, smallStore.apply(big.address(), smallWriter.endBatch(), 0, many));
            assertEquals(RecordStatus.OK.value(), many.status(1999));
            assertEquals(RecordStatus.TYPE_FULL.value(), many.status(2000));
            assertEquals(0, many.nodeId(2000), "refused by maxNodes: nothing consumed");
            assertEquals(2000, smallStore.typeStats(type.typeId()).highWaterSlot());

            smallWriter.wrap(big.buffer(), 0, big.capacityBytes());
            smallWriter.delete(type, 10);
            smallWriter.create(type);                           // OK: slot 2001
            smallWriter.delete(type, 11);
            smallWriter.create(type);                           // TYPE_FULL: no never-used slot left
            smallWriter.create(type, idOf(type, 1, 11));        // OK: a free slot
            smallWriter.create(type, idOf(type, 1, 10));        // TYPE_FULL: 2000 live again
            smallWriter.create(type, idOf(type, 1, 10));        // TYPE_FULL: nothing was consumed
            assertEquals(7, smallStore.apply(big.address(), smallWriter.endBatch(), 0, many));
            final int[] expected = {
                RecordStatus.OK.value(), RecordStatus.OK.value(), RecordStatus.OK.value(), RecordStatus.TYPE_FULL.value(),
                RecordStatus.OK.value(), RecordStatus.TYPE_FULL.value(), RecordStatus.TYPE_FULL.value() };
            final long[] ids = { 10, 2001, 11, 0, idOf(type, 1, 11), 0, 0 };
            for (int i = 0; i < expected.length; i++)
            {
                assertEquals(expected[i], many.status(i), "message " + i);
                assertEquals(ids[i], many.nodeId(i), "message " + i);
            }
            final StoreTypeStats stats = smallStore.typeStats(type.typeId());
            assertEquals(2000, stats.liveNodes());
            assertEquals(2001, stats.highWaterSlot());
            assertEquals(1, stats.freeSlots());
            assertEquals(NativeStore.NODE_NOT_ISSUED, smallStore.nodeState(type.typeId(), idOf(type, 1, 10)));
            assertArrayEquals(new long[]{ idOf(type, 1, 10) }, freeIds(smallStore, type));
        }
    }

    @ParameterizedTest(name = "maxNodes {0}")
    @ValueSource(longs = { 1, 3, 254, 255, 256, 2045, 2046, 2047, 2048, 4093, 4094, 4095, 65535, 1 << 20, (1 << 24) - 1,
        1 << 24, 1L << 30 })
    void slotLayoutShouldFollowTheHeadersFormula(final long maxNodes)
    {
        final DatabaseSchema one = tinySchema(maxNodes, 1 << 16, 8);
        try (NativeStore oneStore = NativeStore.open(one))
        {
            final StoreTypeStats stats = oneStore.typeStats(1);
            final int slotBits = ReferenceStore.slotBits(maxNodes);
            assertEquals(slotBits, stats.slotBits(), "slot bits");
            assertEquals(ReferenceStore.slotLimit(maxNodes), stats.slotLimit(), "slot limit");
            assertTrue(slotBits >= 8 && stats.slotLimit() < 1L << slotBits && stats.slotLimit() >= maxNodes);
            assertTrue(slotBits == 8 || maxNodes + ReferenceStore.retirementAllowance(slotBits - 1) >= 1L << (slotBits - 1),
                "the least number of bits");
        }
    }
}
