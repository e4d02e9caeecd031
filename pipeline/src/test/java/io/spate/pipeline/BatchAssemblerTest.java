package io.spate.pipeline;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordWriter;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.store.ApplyResults;
import io.spate.store.NativeStore;
import io.spate.store.OffHeapBuffer;
import io.spate.wire.RecordStatus;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The assembler hands out ids through the {@link IdAllocator}: every Create gets one (or TYPE_FULL when maxNodes ids
 * are in use), each entry says its kind, type and id, so that an applied batch gives back exactly what it gave up; and
 * a client batch that does not fit or is malformed gives its ids back, free ones included, in their places.
 */
class BatchAssemblerTest
{
    private final DatabaseSchema schema = SchemaCompiler.compile("{\"name\":\"assembler\",\"types\":[" +
        "{\"name\":\"A\",\"maxNodes\":4,\"fields\":[{\"name\":\"n\",\"type\":\"u32\"}]}," +
        "{\"name\":\"B\",\"maxNodes\":100,\"fields\":[{\"name\":\"n\",\"type\":\"u32\"}]}]}", "assembler");
    private final TypeDefinition a = schema.type("A");
    private final TypeDefinition b = schema.type("B");
    private final NativeStore store = NativeStore.open(schema);
    private final IdAllocator ids = new IdAllocator(schema, store);
    private final OffHeapBuffer modify = new OffHeapBuffer(1 << 16);
    private final BatchAssembler assembler = new BatchAssembler(schema, modify.buffer(), 4096, 64, ids, FaultInjector.NONE);
    private final BatchSlot slot = new BatchSlot(64, 2);
    private final RecordWriter writer = new RecordWriter(schema);
    private final UnsafeBuffer client = new UnsafeBuffer(new byte[8192]);
    private long correlationId;
    private int clientLengthBytes;

    @AfterEach
    void close()
    {
        store.close();
        modify.close();
    }

    private int append()
    {
        clientLengthBytes = writer.endBatch();
        return assembler.append(7, client, 0, clientLengthBytes);
    }

    private RecordWriter begin()
    {
        return writer.wrap(client, 0, client.capacity()).beginBatch(7, ++correlationId);
    }

    /** Applies the open batch to the store as a worker would, closes it, and gives back what it gave up. */
    private void applyAndAck()
    {
        final BatchSlot batch = assembler.close();
        try (ApplyResults results = new ApplyResults(64))
        {
            final int walked = store.apply(modify.address() + batch.offsetBytes, batch.lengthBytes, 0, results);
            assertEquals(batch.recordCount, walked);
            for (int i = 0; i < walked; i++)
            {
                if (results.status(i) != RecordStatus.OK.value())
                {
                    batch.entryStatus[batch.bufferIndexToEntry[i]] = (byte)results.status(i);
                }
            }
        }
        ids.freeGivenUp(batch);
    }

    private static String describe(final IdAllocator.TypeIds typeIds)
    {
        return "highWater=" + typeIds.highWaterSlot + " inUse=" + typeIds.inUse + " free=" +
            Arrays.toString(Arrays.copyOf(typeIds.freeIds, typeIds.freeCount));
    }

    @Test
    void everyEntrySaysItsKindTypeAndId()
    {
        begin();
        writer.create(a);
        writer.create(a, 77);                                   // the client's id is replaced by the allocator's
        final int ref = writer.create(b);
        writer.updateCreated(b, ref);
        writer.setLong(b.field("n"), 5);
        writer.delete(a, 1);
        writer.increment(b, 1, b.field("n"), 2);
        writer.deleteCreated(b, ref);
        writer.delete(b, 40);                                   // NO_SUCH_NODE in the store: nothing given up
        assembler.open(slot, false, 0, 4096);
        assertEquals(BatchAssembler.APPENDED, append());
        final byte[] kinds = { BatchSlot.KIND_CREATE, BatchSlot.KIND_CREATE, BatchSlot.KIND_CREATE, BatchSlot.KIND_OTHER,
            BatchSlot.KIND_DELETE, BatchSlot.KIND_OTHER, BatchSlot.KIND_DELETE, BatchSlot.KIND_DELETE };
        final int[] types = { 1, 1, 2, 2, 1, 2, 2, 2 };
        final long[] nodeIds = { 1, 2, 1, 1, 1, 1, 1, 40 };
        assertEquals(kinds.length, slot.entryCount);
        assertArrayEquals(kinds, Arrays.copyOf(slot.entryKind, kinds.length));
        assertArrayEquals(types, Arrays.copyOf(slot.entryTypeId, types.length));
        assertArrayEquals(nodeIds, Arrays.copyOf(slot.entryNodeId, nodeIds.length));
        applyAndAck();
        assertEquals("highWater=2 inUse=1 free=[257]", describe(ids.type(a.typeId())), "A#1 deleted: slot 1 at generation 1");
        assertEquals("highWater=1 inUse=0 free=[257]", describe(ids.type(b.typeId())), "B#1 created and deleted");
        assertEquals(1, store.count(a.typeId()));
        assertEquals(0, store.count(b.typeId()));

        begin();
        writer.create(a);
        writer.create(b);
        assembler.open(slot, false, 0, 4096);
        assertEquals(BatchAssembler.APPENDED, append());
        assertEquals(1L << 8 | 1, slot.entryNodeId[0]);
        assertEquals(1L << 8 | 1, slot.entryNodeId[1]);
        applyAndAck();
        assertEquals(2, store.count(a.typeId()));
        assertEquals(1, store.count(b.typeId()));
    }

    @Test
    void createsPastMaxNodesIdsInUseAreTypeFullAtTheAssembler()
    {
        begin();
        for (int i = 0; i < 6; i++)
        {
            writer.create(a);
        }
        writer.updateCreated(a, 5);
        writer.setLong(a.field("n"), 1);
        assembler.open(slot, false, 0, 4096);
        assertEquals(BatchAssembler.APPENDED, append());
        for (int i = 0; i < 4; i++)
        {
            assertEquals(RecordStatus.OK.value(), slot.entryStatus[i], "create " + i);
            assertEquals(i + 1, slot.entryNodeId[i]);
        }
        for (int i = 4; i < 6; i++)
        {
            assertEquals(RecordStatus.TYPE_FULL.value(), slot.entryStatus[i], "create " + i);
            assertEquals(0, slot.entryNodeId[i], "no id handed out");
            assertEquals(BatchSlot.KIND_OTHER, slot.entryKind[i], "nothing to give up");
        }
        assertEquals(RecordStatus.BAD_REFERENCE.value(), slot.entryStatus[6], "a reference to a refused create");
        assertEquals(4, slot.recordCount, "refused records never reach the buffer");
        applyAndAck();
        assertEquals("highWater=4 inUse=4 free=[]", describe(ids.type(a.typeId())));
    }

    @Test
    void aClientBatchThatDoesNotFitOrIsMalformedGivesItsIdsBackInPlace()
    {
        // Free ids first: B 1..6 created, 2, 4 and 6 deleted.
        begin();
        for (int i = 0; i < 6; i++)
        {
            writer.create(b);
        }
        assembler.open(slot, false, 0, 4096);
        assertEquals(BatchAssembler.APPENDED, append());
        applyAndAck();
        begin();
        writer.delete(b, 2);
        writer.delete(b, 6);
        writer.delete(b, 4);
        assembler.open(slot, false, 0, 4096);
        assertEquals(BatchAssembler.APPENDED, append());
        applyAndAck();
        final String freed = "highWater=6 inUse=3 free=[258, 262, 260]";
        assertEquals(freed, describe(ids.type(b.typeId())));

        // A batch with room for one small client batch only.
        assembler.open(slot, false, 0, 200);
        begin();
        writer.create(b);
        assertEquals(BatchAssembler.APPENDED, append());
        assertEquals(260, slot.entryNodeId[0], "the last freed first");
        final String afterFirst = describe(ids.type(b.typeId()));
        final int entries = slot.entryCount;
        final int lengthBytes = slot.lengthBytes;
        begin();
        for (int i = 0; i < 5; i++)
        {
            writer.create(b);                                   // takes 262, 258, 7, 8, then does not fit
        }
        assertEquals(BatchAssembler.DOES_NOT_FIT, append());
        assertEquals(afterFirst, describe(ids.type(b.typeId())), "every id it took is back in its place");
        assertEquals(entries, slot.entryCount);
        assertEquals(lengthBytes, slot.lengthBytes);
        applyAndAck();

        // Retried into the next batch: it gets the very ids it had.
        assembler.open(slot, false, 0, 4096);
        assertEquals(BatchAssembler.APPENDED, assembler.append(7, client, 0, clientLengthBytes));
        final long[] expected = { 262, 258, 7, 8, 9 };
        assertArrayEquals(expected, Arrays.copyOf(slot.entryNodeId, expected.length));
        assembler.close();
    }
}
