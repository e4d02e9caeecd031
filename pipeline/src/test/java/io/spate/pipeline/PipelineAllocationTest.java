package io.spate.pipeline;

import com.sun.management.ThreadMXBean;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.TypeDefinition;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Steady state allocates nothing on the conductor and worker threads: measured with the JVM's
 * per-thread allocation counters over a warm run of 200,000 records.
 */
class PipelineAllocationTest
{
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
            run(client, user, 100_000);
            final long before = allocated(threads, agentThreadIds);
            final long records = 200_000;
            run(client, user, records);
            final long allocatedBytes = allocated(threads, agentThreadIds) - before;
            System.out.printf("allocation: %,d bytes on %d agent threads over %,d records (%.4f bytes/record)%n",
                allocatedBytes, agentThreadIds.length, records, (double)allocatedBytes / records);
            assertEquals(0, allocatedBytes, "bytes allocated by the conductor and workers in steady state");
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
            if (i % 200 == 199)
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
