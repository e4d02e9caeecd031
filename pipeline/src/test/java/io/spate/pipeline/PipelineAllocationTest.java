package io.spate.pipeline;

import com.sun.management.ThreadMXBean;
import io.spate.client.SpateClient;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.TypeDefinition;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Steady state allocates nothing per record on the conductor and worker threads: measured with
 * the JVM's per-thread allocation counters over a warm run of 200,000 records.
 */
class PipelineAllocationTest
{
    private static final int MAX_WINDOWS = 40;
    private static final long ONE_OFF_ALLOWANCE_BYTES = 1024;

    @Test
    void conductorAndWorkersShouldNotAllocatePerRecord()
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        final TypeDefinition user = schema.type("User");
        final ThreadMXBean threads = (ThreadMXBean)ManagementFactory.getThreadMXBean();
        assertTrue(threads.isThreadAllocatedMemorySupported());
        try (PipelineHarness harness = new PipelineHarness(schema, c -> c.workerCount(2));
            SpateClient client = harness.client())
        {
            final long[] agentThreadIds = harness.pipeline.agentThreadIds();
            // Steady state: once the JIT has compiled the hot paths (interpreted method-handle
            // calls box their arguments), a window of records must allocate nothing. Any
            // per-record allocation would be at least 16 bytes x 50,000 records = 800 KB a window.
            final long recordsPerWindow = 50_000;
            long allocatedBytes = Long.MAX_VALUE;
            int windows = 0;
            while (windows < MAX_WINDOWS && allocatedBytes >= ONE_OFF_ALLOWANCE_BYTES)
            {
                final long before = allocated(threads, agentThreadIds);
                run(client, user, recordsPerWindow);
                allocatedBytes = allocated(threads, agentThreadIds) - before;
                windows++;
                System.out.printf("allocation: window %d: %,d bytes on %d agent threads over %,d records (%.4f bytes/record)%n",
                    windows, allocatedBytes, agentThreadIds.length, recordsPerWindow, (double)allocatedBytes / recordsPerWindow);
            }
            // A few hundred bytes may appear once (Aeron growing a reassembly buffer), never per record.
            assertTrue(allocatedBytes < ONE_OFF_ALLOWANCE_BYTES,
                "conductor and workers still allocate after " + windows + " windows: " + allocatedBytes + " bytes");
            harness.assertNoAgentError();
        }
    }

    private static void run(final SpateClient client, final TypeDefinition user, final long records)
    {
        for (long i = 0; i < records; i++)
        {
            if (i % 3 == 0 || i < 10)
            {
                client.create(user);
                client.setLong(user.field("age"), i & 0x7F).setString(user.field("name"), "n");
            }
            else
            {
                client.increment(user, 1 + (i % 5), user.field("karma"), 1);
            }
            if (i % 20 == 19)
            {
                client.flush();
                client.poll();
            }
        }
        client.flush();
        assertTrue(client.awaitAcks(60_000));
    }

    private static long allocated(final ThreadMXBean threads, final long[] ids)
    {
        long total = 0;
        for (final long allocated : threads.getThreadAllocatedBytes(ids))
        {
            total += allocated;
        }
        return total;
    }
}
