package io.spate.store;

import io.spate.client.NodeView;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordFraming;
import io.spate.codec.RecordWriter;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.wire.RecordStatus;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteOrder;

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
        assertEquals(2, store.nextId(user.typeId()));

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
        assertEquals(2, store.nextId(user.typeId()), "ids are never reused");
        assertEquals(NativeStore.NODE_DELETED, store.nodeState(user.typeId(), 1), "deleted");
        assertEquals(NativeStore.NODE_NEVER, store.nodeState(user.typeId(), 2), "not taken yet");
        assertEquals(NativeStore.NODE_NEVER, store.nodeState(user.typeId(), 0), "no such id");
        assertEquals(NativeStore.NODE_NEVER, store.nodeState(user.typeId(), Long.MAX_VALUE), "far past the next id");

        // A Create that skips ahead: the ids it skips were never live.
        writer.wrap(batch.buffer(), 0, batch.capacityBytes());
        writer.create(user, 5);
        assertEquals(1, apply(writer.endBatch()));
        assertEquals(RecordStatus.OK.value(), results.status(0));
        assertEquals(NativeStore.NODE_LIVE, store.nodeState(user.typeId(), 5));
        assertEquals(NativeStore.NODE_NEVER, store.nodeState(user.typeId(), 3), "skipped");
        assertEquals(NativeStore.NODE_DELETED, store.nodeState(user.typeId(), 1));
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
        assertEquals(2, store.nextId(user.typeId()));
    }

    @Test
    void shouldTakeAnExplicitIdAheadOfTheNextIdAndSkipTheIdsBetween()
    {
        writer.wrap(batch.buffer(), 0, batch.capacityBytes()).beginBatch(1, 1);
        writer.create(user, 0);                                 // 1: OK, id 1
        final int ahead = writer.create(user, 5);               // 2: OK, id 5; 2, 3 and 4 skipped
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
        assertEquals(7, store.nextId(user.typeId()));
        assertEquals(3, store.count(user.typeId()));
        assertEquals("five", get(user, 5).getString(user.field("name")));
        assertEquals(55, get(user, 5).getLong(user.field("age")));

        // The skipped ids are consumed and never live: no reads, no writes, no reuse.
        writer.wrap(batch.buffer(), 0, batch.capacityBytes());
        for (long gap = 2; gap <= 4; gap++)
        {
            assertFalse(store.exists(user.typeId(), gap), "#" + gap);
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
            assertEquals(create ? RecordStatus.ID_MISMATCH.value() : RecordStatus.NO_SUCH_NODE.value(), results.status(i),
                "message " + i);
            assertEquals(create ? 0 : 2 + i / 4, results.nodeId(i), "message " + i);
        }
        assertEquals(7, store.nextId(user.typeId()), "refused creates consume nothing");
        assertEquals(3, store.count(user.typeId()));
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
        assertEquals(7, store.nextId(counter.typeId()));
        assertEquals(4, store.count(counter.typeId()));
        assertEquals(7, get(counter, 5).getLong(counter.field("hits")));
        assertFalse(store.exists(counter.typeId(), 3));
        assertFalse(store.exists(counter.typeId(), 4));
    }

    @Test
    void shouldRefuseIdsBelowTheNextIdAndPastMaxNodes()
    {
        final long maxNodes = counter.maxNodes();
        writer.wrap(batch.buffer(), 0, batch.capacityBytes());
        writer.create(counter, maxNodes + 1);                  // 0: TYPE_FULL, though the type is empty
        writer.create(counter, Long.MAX_VALUE);                 // 1: TYPE_FULL
        writer.create(counter, -1);                             // 2: ID_MISMATCH
        writer.create(counter, Long.MIN_VALUE);                 // 3: ID_MISMATCH
        writer.create(counter, 3);                              // 4: OK, skips 1 and 2
        writer.create(counter, 2);                              // 5: ID_MISMATCH, skipped
        writer.create(counter, 3);                              // 6: ID_MISMATCH, taken
        writer.create(counter, maxNodes);                       // 7: OK, the last id, far ahead
        writer.create(counter, 0);                              // 8: TYPE_FULL
        writer.create(counter, maxNodes);                       // 9: ID_MISMATCH, taken
        writer.create(counter, maxNodes + 1);                   // 10: TYPE_FULL
        final int[] expected = {
            RecordStatus.TYPE_FULL.value(), RecordStatus.TYPE_FULL.value(), RecordStatus.ID_MISMATCH.value(),
            RecordStatus.ID_MISMATCH.value(), RecordStatus.OK.value(), RecordStatus.ID_MISMATCH.value(),
            RecordStatus.ID_MISMATCH.value(), RecordStatus.OK.value(), RecordStatus.TYPE_FULL.value(),
            RecordStatus.ID_MISMATCH.value(), RecordStatus.TYPE_FULL.value() };
        assertEquals(expected.length, apply(writer.endBatch()));
        for (int i = 0; i < expected.length; i++)
        {
            assertEquals(expected[i], results.status(i), "message " + i);
            final long id = i == 4 ? 3 : i == 7 ? maxNodes : 0;
            assertEquals(id, results.nodeId(i), "message " + i);
        }
        assertEquals(maxNodes + 1, store.nextId(counter.typeId()));
        assertEquals(2, store.count(counter.typeId()));
        assertTrue(store.exists(counter.typeId(), maxNodes));
        for (final long gap : new long[]{ 1, 2, 4, maxNodes / 2, maxNodes - 1, maxNodes + 1 })
        {
            assertFalse(store.exists(counter.typeId(), gap), "#" + gap);
            assertEquals(-1, store.get(counter.typeId(), gap, nodeCopy.address(), nodeCopy.capacityBytes()), "#" + gap);
        }
    }

    @Test
    void shouldConsumeAnExplicitIdAheadEvenWhenTheCreateIsRefused()
    {
        final DatabaseSchema tiny = tinySchema(5, 8, 16);
        final TypeDefinition type = tiny.type("T");
        try (NativeStore tinyStore = NativeStore.open(tiny))
        {
            final RecordWriter tinyWriter = new RecordWriter(tiny);
            tinyWriter.wrap(batch.buffer(), 0, 4096);
            tinyWriter.create(type, 3);
            tinyWriter.setString(type.field("s"), "123456789");
            tinyWriter.create(type, 0);
            final int count = tinyStore.apply(batch.address(), tinyWriter.endBatch(), 0, results);
            assertEquals(2, count);
            assertEquals(RecordStatus.ARENA_FULL.value(), results.status(0));
            assertEquals(3, results.nodeId(0), "the id is settled before the arena is checked");
            assertEquals(RecordStatus.OK.value(), results.status(1));
            assertEquals(4, results.nodeId(1));
            assertEquals(1, tinyStore.count(type.typeId()));
            assertEquals(5, tinyStore.nextId(type.typeId()));
            for (long id = 1; id <= 3; id++)
            {
                assertFalse(tinyStore.exists(type.typeId(), id), "#" + id);
            }
        }
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
    void shouldFillTheTypeUpToMaxNodesAndNoFurther()
    {
        final DatabaseSchema tiny = tinySchema(3, 8, 8);
        final TypeDefinition type = tiny.type("T");
        try (NativeStore tinyStore = NativeStore.open(tiny))
        {
            final RecordWriter tinyWriter = new RecordWriter(tiny);
            tinyWriter.wrap(batch.buffer(), 0, 4096);
            tinyWriter.create(type);
            tinyWriter.setString(type.field("s"), "12345678");
            tinyWriter.create(type);
            tinyWriter.setString(type.field("s"), "x");
            tinyWriter.create(type);
            tinyWriter.create(type);
            final int count = tinyStore.apply(batch.address(), tinyWriter.endBatch(), 0, results);
            assertEquals(4, count);
            assertEquals(RecordStatus.OK.value(), results.status(0));
            assertEquals(RecordStatus.ARENA_FULL.value(), results.status(1));
            assertEquals(2, results.nodeId(1), "a refused create still takes its id");
            assertEquals(RecordStatus.OK.value(), results.status(2));
            assertEquals(RecordStatus.TYPE_FULL.value(), results.status(3));
            assertEquals(2, tinyStore.count(type.typeId()));
            assertEquals(4, tinyStore.nextId(type.typeId()));
        }
    }
}
