package io.spate.pipeline;

import io.spate.client.BatchResult;
import io.spate.client.NodeView;
import io.spate.client.SpateClient;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.TypeDefinition;
import io.spate.wire.RecordStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Faults injected into the real pipeline, in memory, each with its stated outcome (docs/ARCHITECTURE.md,
 * "Faults"; a durable pipeline stops on a worker fault instead, see {@code DurableLogTest}):
 * <ul>
 * <li>a worker that throws: the batch completes, its records are acked NOT_APPLIED, the error is counted
 * and seen by {@link Pipeline#firstError()}; the ids it held stay unused and later creates go on;</li>
 * <li>a store walk that stops early: the records not reached are acked NOT_APPLIED, ids never drift;</li>
 * <li>a conductor handler that throws mid-batch: the batch is rolled back and refused whole (MALFORMED),
 * its ids are handed to the next batch (no gap);</li>
 * <li>a worker that stalls: the watchdog sets its stalled counter and counts the stall, and clears it
 * when the worker moves again; nothing is lost;</li>
 * <li>a producer that vanishes with batches in flight: its session closes (its publication released),
 * its records still apply, the other producer sees nothing.</li>
 * </ul>
 */
class FaultInjectionTest
{
    private static final int RECORDS_PER_BATCH = 10;

    private static PipelineHarness harness(
        final PipelineConfiguration.ThreadingMode mode, final FaultInjector faults, final Consumer<PipelineConfiguration> more)
    {
        return new PipelineHarness(PipelineHarness.exampleSchema(), c ->
        {
            c.threadingMode(mode).workerCount(2).faultInjector(faults);
            more.accept(c);
        });
    }

    /** Sends one batch of creates of User with age = base + i and waits for its result. */
    private static BatchResult createUsers(final SpateClient client, final TypeDefinition user, final int base) throws Exception
    {
        for (int i = 0; i < RECORDS_PER_BATCH; i++)
        {
            client.create(user);
            client.setLong(user.field("age"), (base + i) % 200);
        }
        final var future = client.flushAsync();
        while (!future.isDone())
        {
            client.poll();
            Thread.yield();
        }
        return future.get(1, TimeUnit.SECONDS);
    }

    private static void assertUsersApplied(
        final SpateClient client, final TypeDefinition user, final BatchResult result, final int base)
    {
        for (int i = 0; i < RECORDS_PER_BATCH; i++)
        {
            assertEquals(RecordStatus.OK, result.status(i), "record " + i + " of " + result);
            final long id = result.createdId(i);
            final NodeView node = client.get(user, id);
            assertNotNull(node, "node " + id);
            assertEquals((base + i) % 200, node.getLong(user.field("age")), "age of node " + id);
        }
    }

    @ParameterizedTest
    @EnumSource(PipelineConfiguration.ThreadingMode.class)
    void aWorkerThatThrowsShouldFailOnlyItsBatch(final PipelineConfiguration.ThreadingMode mode) throws Exception
    {
        final FaultInjector faults = new FaultInjector()
        {
            public void beforeApply(final int worker, final long batchSeq)
            {
                if (batchSeq == 3)
                {
                    throw new IllegalStateException("injected: worker " + worker + " fails batch 3");
                }
            }
        };
        try (PipelineHarness harness = harness(mode, faults, c -> { });
            SpateClient client = harness.client())
        {
            final TypeDefinition user = harness.schema.type("User");
            final List<BatchResult> results = new ArrayList<>();
            for (int b = 0; b < 6; b++)
            {
                results.add(createUsers(client, user, b * 10));
            }
            final BatchResult failed = results.get(2);
            for (int i = 0; i < RECORDS_PER_BATCH; i++)
            {
                assertEquals(RecordStatus.NOT_APPLIED, failed.status(i), failed.toString());
            }
            for (final int b : new int[]{ 0, 1, 3, 4, 5 })
            {
                assertUsersApplied(client, user, results.get(b), b * 10);
            }
            // The failed batch held ids 21..30: given up when it was acked, so the next batch reuses their slots at
            // generation 1, the last freed first; the ids themselves never name a node.
            final int slotBits = io.spate.codec.testing.ReferenceStore.slotBits(user.maxNodes());
            for (int i = 0; i < RECORDS_PER_BATCH; i++)
            {
                assertEquals(1L << slotBits | (30 - i), results.get(3).createdId(i), "record " + i);
            }
            assertEquals(31, results.get(4).createdId(0), "then never-used slots");
            assertNull(client.get(user, 21), "an id of the failed batch reads as absent");
            assertEquals(5 * RECORDS_PER_BATCH, client.count(user));
            assertTrue(harness.pipeline.firstError().getMessage().contains("injected"));
            assertNull(harness.pipeline.fatalError());
            assertEquals(RECORDS_PER_BATCH, harness.pipeline.counters().worker(0).errors().get() +
                harness.pipeline.counters().worker(1).errors().get());
        }
    }

    @Test
    void aStoreWalkThatStopsEarlyShouldNeverLetIdsDrift() throws Exception
    {
        final FaultInjector faults = new FaultInjector()
        {
            public long applyLengthBytes(final int worker, final long batchSeq, final long lengthBytes)
            {
                return batchSeq == 2 ? lengthBytes / 2 : lengthBytes; // cuts a record in the middle
            }
        };
        try (PipelineHarness harness = harness(PipelineConfiguration.ThreadingMode.SHARED, faults, c -> { });
            SpateClient client = harness.client())
        {
            final TypeDefinition user = harness.schema.type("User");
            final BatchResult first = createUsers(client, user, 0);
            final BatchResult cut = createUsers(client, user, 10);
            final BatchResult after = createUsers(client, user, 20);
            assertUsersApplied(client, user, first, 0);
            assertUsersApplied(client, user, after, 20);
            int applied = 0;
            for (int i = 0; i < RECORDS_PER_BATCH; i++)
            {
                final RecordStatus status = cut.status(i);
                if (status == RecordStatus.OK)
                {
                    applied++;
                    assertNotNull(client.get(user, cut.createdId(i)));
                }
                else
                {
                    assertTrue(status == RecordStatus.NOT_APPLIED || status == RecordStatus.MALFORMED, cut.toString());
                    assertNull(client.get(user, 11 + i), "record " + i + " was not applied");
                }
            }
            assertTrue(applied > 0 && applied < RECORDS_PER_BATCH, cut.toString());
            // The cut batch's failed creates gave their ids up when it was acked (its cut record consumed its id in
            // the store, the ones after it never reached it): the next batch reuses those slots at generation 1, the
            // last freed first, then goes on with never-used slots. The store takes every one of them.
            final int slotBits = io.spate.codec.testing.ReferenceStore.slotBits(user.maxNodes());
            final List<Long> expected = new ArrayList<>();
            for (int i = RECORDS_PER_BATCH - 1; i >= 0; i--)
            {
                if (cut.status(i) != RecordStatus.OK)
                {
                    expected.add(1L << slotBits | (11 + i));
                }
            }
            for (long slot = 21; expected.size() < RECORDS_PER_BATCH; slot++)
            {
                expected.add(slot);
            }
            for (int i = 0; i < RECORDS_PER_BATCH; i++)
            {
                assertEquals(expected.get(i), after.createdId(i), "ids of the batch after the cut one, record " + i);
            }
            assertEquals(2 * RECORDS_PER_BATCH + applied, client.count(user));
            harness.assertNoAgentError();
        }
    }

    @Test
    void aHandlerThatThrowsMidBatchShouldRollItBack() throws Exception
    {
        final FaultInjector faults = new FaultInjector()
        {
            public void onClientRecord(final long clientId, final long correlationId, final int recordIndex)
            {
                if (correlationId == 2 && recordIndex == 5)
                {
                    throw new IllegalStateException("injected: handler fails at record 5 of batch 2");
                }
            }
        };
        try (PipelineHarness harness = harness(PipelineConfiguration.ThreadingMode.SHARED, faults, c -> { });
            SpateClient client = harness.client())
        {
            final TypeDefinition user = harness.schema.type("User");
            final BatchResult first = createUsers(client, user, 0);
            final BatchResult refused = createUsers(client, user, 10);
            final BatchResult third = createUsers(client, user, 20);
            assertEquals(RecordStatus.MALFORMED, refused.status(), refused.toString());
            for (int i = 0; i < RECORDS_PER_BATCH; i++)
            {
                assertEquals(0, refused.createdId(i));
            }
            assertUsersApplied(client, user, first, 0);
            assertUsersApplied(client, user, third, 20);
            assertEquals(11, third.createdId(0), "the refused batch's ids were rolled back and handed on");
            assertEquals(2 * RECORDS_PER_BATCH, client.count(user));
            assertTrue(harness.pipeline.firstError().getMessage().contains("injected"));
            assertNull(harness.pipeline.fatalError());
        }
    }

    @ParameterizedTest
    @EnumSource(PipelineConfiguration.ThreadingMode.class)
    void aWorkerThatStallsShouldBeReportedAndRecover(final PipelineConfiguration.ThreadingMode mode) throws Exception
    {
        final CountDownLatch release = new CountDownLatch(1);
        final FaultInjector faults = new FaultInjector()
        {
            public void beforeApply(final int worker, final long batchSeq)
            {
                if (batchSeq == 2)
                {
                    try
                    {
                        release.await();
                    }
                    catch (final InterruptedException ex)
                    {
                        Thread.currentThread().interrupt();
                    }
                }
            }
        };
        try (PipelineHarness harness = harness(mode, faults, c -> c.workerStallTimeoutMs(200));
            SpateClient client = harness.client())
        {
            final TypeDefinition user = harness.schema.type("User");
            final BatchResult first = createUsers(client, user, 0);
            assertUsersApplied(client, user, first, 0);
            for (int i = 0; i < RECORDS_PER_BATCH; i++)
            {
                client.create(user);
                client.setLong(user.field("age"), 10 + i);
            }
            final var stalled = client.flushAsync();
            final PipelineCounters counters = harness.pipeline.counters();
            RawProducer.await(() -> stalledWorker(counters) >= 0, "the watchdog to report the stall");
            final int stalledWorker = stalledWorker(counters);
            assertEquals(1, counters.worker(stalledWorker).stalls().get());
            release.countDown();
            while (!stalled.isDone())
            {
                client.poll();
                Thread.yield();
            }
            assertTrue(stalled.get().isOk(), stalled.get().toString());
            RawProducer.await(() -> counters.worker(stalledWorker).stalled().get() == 0, "the stall to clear");
            final BatchResult after = createUsers(client, user, 20);
            assertUsersApplied(client, user, after, 20);
            assertEquals(3 * RECORDS_PER_BATCH, client.count(user));
            harness.assertNoAgentError();
        }
    }

    private static int stalledWorker(final PipelineCounters counters)
    {
        for (int w = 0; w < counters.workerCount(); w++)
        {
            if (counters.worker(w).stalled().get() == 1)
            {
                return w;
            }
        }
        return -1;
    }

    @Test
    void aProducerThatVanishesShouldHaveItsSessionClosedAndLeaveOthersAlone() throws Exception
    {
        try (PipelineHarness harness = harness(PipelineConfiguration.ThreadingMode.SHARED, FaultInjector.NONE,
            c -> c.sessionTimeoutMs(500));
            SpateClient survivor = harness.client())
        {
            final TypeDefinition user = harness.schema.type("User");
            final PipelineCounters counters = harness.pipeline.counters();
            try (RawProducer vanishing = harness.rawProducer(99))
            {
                vanishing.readsAcks = false;
                final io.spate.codec.RecordWriter writer = new io.spate.codec.RecordWriter(harness.schema);
                final org.agrona.concurrent.UnsafeBuffer batch = new org.agrona.concurrent.UnsafeBuffer(new byte[4096]);
                for (int b = 0; b < 200; b++)
                {
                    writer.wrap(batch, 0, batch.capacity()).beginBatch(vanishing.sessionId(), b + 1);
                    for (int i = 0; i < RECORDS_PER_BATCH; i++)
                    {
                        writer.create(user);
                    }
                    vanishing.send(batch, 0, writer.endBatch());
                }
                // Gone without reading a single ack.
            }
            RawProducer.await(() -> counters.sessionsClosed().get() == 1 && counters.sessionsOpen().get() == 1,
                "the vanished producer's session to close");
            final BatchResult result = createUsers(survivor, user, 0);
            assertUsersApplied(survivor, user, result, 0);
            assertEquals(201 * RECORDS_PER_BATCH, survivor.count(user), "the vanished producer's records applied");
            assertNull(survivor.sessionClosedReason());
            assertEquals(0, counters.egressBacklogBytes().get());
            harness.assertNoAgentError();
        }
    }
}
