package io.spate.pipeline;

import io.spate.client.SpateClient;
import io.spate.codec.DatabaseSchema;
import io.spate.store.NativeStore;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One pipeline per driver and stream set: a second one on the same streams refuses to start and names
 * the first; one on other streams runs beside it; the first is unharmed.
 */
class PipelineInstanceLockTest
{
    @Test
    void aSecondPipelineOnTheSameStreamsShouldBeRefused()
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        try (PipelineHarness harness = new PipelineHarness(schema, c -> { });
            NativeStore otherStore = NativeStore.open(schema))
        {
            final IllegalStateException refused = assertThrows(IllegalStateException.class, () ->
                new Pipeline(new PipelineConfiguration().schema(schema).workerCount(1), harness.aeron, otherStore));
            assertTrue(refused.getMessage().startsWith("another pipeline is running on the driver in "),
                refused.getMessage());
            assertTrue(refused.getMessage().contains("pid=" + ProcessHandle.current().pid()), refused.getMessage());
            assertTrue(refused.getMessage().contains("stream=1001"), refused.getMessage());

            // Other streams: both run.
            try (Pipeline beside = new Pipeline(new PipelineConfiguration().schema(schema).workerCount(1)
                .ingressStreamId(3001).dispatchStreamIdBase(3100).appliedStreamId(3099), harness.aeron, otherStore))
            {
                assertEquals(null, beside.fatalError());
            }

            // The first pipeline still serves.
            try (SpateClient client = harness.client())
            {
                client.create(schema.type("Counter"));
                client.flush();
                assertTrue(client.awaitAcks(30_000));
                assertEquals(1, client.count(schema.type("Counter")));
            }
            harness.assertNoAgentError();
        }
    }

    @Test
    void streamSetsConflictWhenAnyStreamIsShared()
    {
        final PipelineConfiguration mine = new PipelineConfiguration()
            .ingressChannel("aeron:ipc").ingressStreamId(1001).dispatchStreamIdBase(1100).workerCount(2).appliedStreamId(1099);
        assertTrue(PipelineInstanceLock.conflicts(mine, 1001, false, 2100, 2, 2099), "same ingress stream");
        assertTrue(PipelineInstanceLock.conflicts(mine, 2001, true, 1101, 1, 2099), "overlapping dispatch streams");
        assertTrue(PipelineInstanceLock.conflicts(mine, 2001, true, 2100, 1, 1099), "same applied stream");
        assertTrue(PipelineInstanceLock.conflicts(mine, 1100, true, 2100, 1, 2099), "its IPC ingress is my dispatch");
        assertTrue(PipelineInstanceLock.conflicts(mine, 2001, true, 1000, 2, 2099), "its dispatch is my IPC ingress");
        assertFalse(PipelineInstanceLock.conflicts(mine, 2001, true, 2100, 4, 2099), "disjoint streams");
        assertFalse(PipelineInstanceLock.conflicts(mine, 1100, false, 2100, 1, 2099), "a UDP ingress shares no IPC stream");
    }
}
