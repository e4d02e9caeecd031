package io.spate.store;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.testing.ExampleSchemas;
import io.spate.codec.testing.RandomWorkload;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.stream.LongStream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Random streams of creates, updates, deletes and increments over every type of the example
 * schema, applied by the native store and by the plain-Java reference model: every outcome and,
 * at the end, every node field by field must agree. Replay a failure with its seed.
 */
class StorePropertyTest
{
    static final int RECORDS_PER_SEED = 12_000;

    static DatabaseSchema exampleSchema()
    {
        return ExampleSchemas.social();
    }

    static LongStream seeds()
    {
        return LongStream.rangeClosed(1, 24).map(i -> i * 0x9E3779B97F4A7C15L);
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void nativeStoreShouldMatchTheReferenceModel(final long seed)
    {
        final DatabaseSchema schema = exampleSchema();
        final RandomWorkload workload = new RandomWorkload(schema, seed);
        try (StoreComparison comparison = new StoreComparison(schema, 1024);
            OffHeapBuffer batch = new OffHeapBuffer(1 << 20))
        {
            int records = 0;
            int batchNumber = 0;
            while (records < RECORDS_PER_SEED)
            {
                final int recordCount = 1 + workload.random().nextInt(200);
                final boolean withHeader = workload.random().nextInt(10) != 0;
                final boolean explicitIds = workload.random().nextBoolean();
                final int length = workload.writeBatch(
                    batch.buffer(), 0, batch.capacityBytes(), recordCount, withHeader, explicitIds);
                comparison.apply(batch, 0, length, "seed " + seed + " batch " + batchNumber++);
                records += recordCount;
            }
            comparison.assertSameState("seed " + seed);
            assertTrue(comparison.outcomesCompared() >= RECORDS_PER_SEED);
        }
    }
}
