package io.spate.perf;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordWriter;
import io.spate.codec.TypeDefinition;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.SplittableRandom;

/**
 * Client batches encoded once (BatchHeader + records), reused by the ceilings: the same shapes
 * the producer sends for each scenario.
 */
final class EncodedBatches
{
    enum Shape
    {
        /** User creates with a 16-byte name and two numbers. */
        CREATES,
        /** Single-field u64 updates of Counter nodes 1..nodes. */
        UPDATES,
        /** Creates, updates, increments and deletes over the four example types. */
        MIX
    }

    private final UnsafeBuffer buffer;
    private final int[] offsets;
    private final int[] lengths;
    private final int recordsPerBatch;

    EncodedBatches(final DatabaseSchema schema, final Shape shape, final int batchCount, final int recordsPerBatch,
        final long seed)
    {
        this.recordsPerBatch = recordsPerBatch;
        final RecordWriter writer = new RecordWriter(schema);
        final int capacity = batchCount * (64 + recordsPerBatch * Math.min(schema.maxRecordLengthBytes(), 256));
        buffer = new UnsafeBuffer(new byte[capacity]);
        offsets = new int[batchCount];
        lengths = new int[batchCount];
        final SplittableRandom random = new SplittableRandom(seed);
        final TypeDefinition user = schema.type("User");
        final TypeDefinition counter = schema.type("Counter");
        int offset = 0;
        for (int b = 0; b < batchCount; b++)
        {
            writer.wrap(buffer, offset, capacity - offset).beginBatch(1, b + 1);
            for (int r = 0; r < recordsPerBatch; r++)
            {
                switch (shape)
                {
                    case CREATES -> createUser(writer, user, random);
                    case UPDATES ->
                    {
                        writer.update(counter, 1 + random.nextInt(1000));
                        writer.setLong(counter.field("hits"), random.nextLong());
                    }
                    default ->
                    {
                        final TypeDefinition type = schema.types().get(random.nextInt(schema.types().size()));
                        final int dice = random.nextInt(100);
                        if (dice < 70 || type != counter && type != user)
                        {
                            writer.create(type);
                        }
                        else if (dice < 85)
                        {
                            writer.update(type, 1 + random.nextInt(1000));
                            writer.setLong(type == user ? user.field("karma") : counter.field("hits"), random.nextLong());
                        }
                        else
                        {
                            writer.increment(type, 1 + random.nextInt(1000),
                                type == user ? user.field("karma") : counter.field("hits"), 1);
                        }
                    }
                }
            }
            offsets[b] = offset;
            lengths[b] = writer.endBatch();
            offset += lengths[b];
        }
    }

    static void createUser(final RecordWriter writer, final TypeDefinition user, final SplittableRandom random)
    {
        writer.create(user);
        writer.setLong(user.field("age"), random.nextInt(100))
            .setLong(user.field("karma"), random.nextLong())
            .setString(user.field("name"), "user-0123456789ab");
    }

    UnsafeBuffer buffer()
    {
        return buffer;
    }

    int count()
    {
        return offsets.length;
    }

    int offset(final int index)
    {
        return offsets[index];
    }

    int length(final int index)
    {
        return lengths[index];
    }

    int recordsPerBatch()
    {
        return recordsPerBatch;
    }
}
