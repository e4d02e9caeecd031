package io.spate.pipeline;

import io.spate.client.BatchResult;
import io.spate.client.SpateClient;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.codec.testing.ReferenceStore;
import io.spate.store.NativeStore;
import io.spate.store.StoreTypeStats;
import io.spate.wire.RecordStatus;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Slot reuse through the single-node pipeline, made deterministic by waiting for each batch's ack before the next
 * (the conductor frees a batch's ids when it acks it): deleted slots come back at their next generation, the most
 * recently freed first, and an id of a deleted node never reads as its slot's new node. Under churn of 20 times
 * maxNodes in creates the store's rows and arena stay flat and no create is refused.
 */
class PipelineIdReuseTest
{
    private static final int MAX_NODES = 200;

    private static DatabaseSchema schema()
    {
        return SchemaCompiler.compile("{\"name\":\"reuse\",\"types\":[{\"name\":\"Item\",\"maxNodes\":" + MAX_NODES +
            ",\"maxArenaBytes\":65536,\"fields\":[{\"name\":\"n\",\"type\":\"u64\"}," +
            "{\"name\":\"label\",\"type\":\"string\",\"maxBytes\":64}]}]}", "reuse");
    }

    private static BatchResult flush(final SpateClient client)
    {
        final BatchResult result = client.flushAndAwait();
        assertNotNull(result);
        return result;
    }

    @Test
    void deletedSlotsShouldComeBackAtTheirNextGenerationMostRecentlyFreedFirst()
    {
        final DatabaseSchema schema = schema();
        final TypeDefinition item = schema.type("Item");
        final int slotBits = ReferenceStore.slotBits(MAX_NODES);
        try (PipelineHarness harness = new PipelineHarness(schema, c -> c.workerCount(2));
            SpateClient client = harness.client())
        {
            for (int i = 0; i < 100; i++)
            {
                client.create(item);
                client.setLong(item.field("n"), i);
            }
            final BatchResult created = flush(client);
            assertTrue(created.isOk(), created.toString());
            for (int i = 0; i < 100; i++)
            {
                assertEquals(i + 1, created.createdId(i), "a fresh type hands out slots 1, 2, 3...");
            }

            for (long id = 10; id <= 100; id += 10)
            {
                client.delete(item, id);
            }
            assertTrue(flush(client).isOk());

            for (int i = 0; i < 15; i++)
            {
                client.create(item);
                client.setLong(item.field("n"), 1_000 + i);
            }
            final BatchResult reused = flush(client);
            assertTrue(reused.isOk(), reused.toString());
            for (int i = 0; i < 10; i++)
            {
                final long slot = 100 - 10L * i;
                assertEquals(1L << slotBits | slot, reused.createdId(i), "create " + i + ": slot " + slot + ", generation 1");
            }
            for (int i = 10; i < 15; i++)
            {
                assertEquals(91 + i, reused.createdId(i), "then never-used slots");
            }

            // The old id of a reused slot is gone: reads, updates and deletes of it never reach the new node.
            assertNull(client.get(item, 10));
            assertEquals(RecordStatus.DELETED, client.lastReadStatus());
            assertEquals(1_009, client.get(item, 1L << slotBits | 10).getLong(item.field("n")));
            client.update(item, 10);
            client.setLong(item.field("n"), -1);
            client.delete(item, 10);
            final BatchResult stale = flush(client);
            assertEquals(RecordStatus.NO_SUCH_NODE, stale.status(0));
            assertEquals(RecordStatus.NO_SUCH_NODE, stale.status(1));
            assertEquals(1_009, client.get(item, 1L << slotBits | 10).getLong(item.field("n")));
            assertNull(client.get(item, 2L << slotBits | 10), "a generation not issued yet");
            assertEquals(RecordStatus.NO_SUCH_NODE, client.lastReadStatus());

            final StoreTypeStats stats = harness.store.typeStats(item.typeId());
            assertEquals(105, stats.highWaterSlot());
            assertEquals(105, stats.liveNodes());
            assertEquals(NativeStore.NODE_GONE, harness.store.nodeState(item.typeId(), 10));
            harness.assertNoAgentError();
        }
    }

    @Test
    void aTypeUnderTwentyTimesMaxNodesCreatesShouldStayFlatAndNeverFull()
    {
        final DatabaseSchema schema = schema();
        final TypeDefinition item = schema.type("Item");
        final Random random = new Random(20);
        final int steadyLiveNodes = MAX_NODES - 50;
        final int churn = 50;
        try (PipelineHarness harness = new PipelineHarness(schema, c -> c.workerCount(1));
            SpateClient client = harness.client())
        {
            final List<Long> live = new ArrayList<>();
            for (int i = 0; i < steadyLiveNodes; i++)
            {
                client.create(item);
                client.setString(item.field("label"), "x".repeat(random.nextInt(65)));
            }
            BatchResult result = flush(client);
            for (int i = 0; i < steadyLiveNodes; i++)
            {
                live.add(result.createdId(i));
            }
            final StoreTypeStats afterFill = harness.store.typeStats(item.typeId());
            long creates = steadyLiveNodes;
            long mostArenaReservedBytes = 0;
            while (creates < 20L * MAX_NODES)
            {
                for (int i = 0; i < churn; i++)
                {
                    client.delete(item, live.remove(random.nextInt(live.size())));
                }
                result = flush(client);
                assertTrue(result.isOk(), result.toString());
                for (int i = 0; i < churn; i++)
                {
                    client.create(item);
                    client.setString(item.field("label"), "x".repeat(random.nextInt(65)));
                }
                result = flush(client);
                assertTrue(result.isOk(), "after " + creates + " creates: " + result);
                for (int i = 0; i < churn; i++)
                {
                    live.add(result.createdId(i));
                }
                creates += churn;
                final StoreTypeStats stats = harness.store.typeStats(item.typeId());
                assertEquals(steadyLiveNodes, stats.liveNodes());
                assertEquals(steadyLiveNodes, stats.highWaterSlot(), "every create took a freed slot: " + stats);
                assertEquals(afterFill.rowBytes(), stats.rowBytes());
                assertTrue(stats.arenaReservedBytes() <= 2 * afterFill.arenaReservedBytes(), stats.toString());
                mostArenaReservedBytes = Math.max(mostArenaReservedBytes, stats.arenaReservedBytes());
            }
            System.out.println("pipeline flatness: " + creates + " creates over maxNodes " + MAX_NODES + "; after the fill " +
                afterFill + "; at the end " + harness.store.typeStats(item.typeId()) + "; most arena reserved " +
                mostArenaReservedBytes);
            assertEquals(steadyLiveNodes, client.count(item));
            harness.assertNoAgentError();
        }
    }
}
