package io.spate.perf;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordWriter;
import io.spate.codec.TypeDefinition;
import io.spate.wire.AckEncoder;
import io.spate.wire.MessageHeaderEncoder;
import io.spate.wire.RecordStatus;
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
    private long createCount;

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
                    case CREATES ->
                    {
                        createUser(writer, user, random);
                        createCount++;
                    }
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
                            createCount++;
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

    /**
     * @return the longest batch, in bytes.
     */
    int maxLengthBytes()
    {
        int max = 0;
        for (final int length : lengths)
        {
            max = Math.max(max, length);
        }
        return max;
    }

    /**
     * @return the mean encoded length of a batch, in bytes.
     */
    int meanLengthBytes()
    {
        long total = 0;
        for (final int length : lengths)
        {
            total += length;
        }
        return (int)Math.round((double)total / lengths.length);
    }

    /**
     * @return the length of the Ack the pipeline answers a batch of this shape with when every record
     * applies: its mean number of creates, rounded, each a created id.
     */
    int ackLengthBytes()
    {
        return ackLengthBytes((int)Math.round((double)createCount / offsets.length));
    }

    /**
     * The length of an Ack as AckWriter encodes it (header, fixed block, the createdIds group, an empty
     * errors group), computed by encoding one.
     *
     * @param createdCount created ids it carries.
     * @return its length in bytes, the message header included.
     */
    static int ackLengthBytes(final int createdCount)
    {
        if (createdCount < 0)
        {
            throw new IllegalArgumentException("createdCount must not be negative: " + createdCount);
        }
        final int capacityBytes = MessageHeaderEncoder.ENCODED_LENGTH + AckEncoder.BLOCK_LENGTH + 2 * 8 +
            createdCount * AckEncoder.CreatedIdsEncoder.sbeBlockLength();
        final AckEncoder encoder = new AckEncoder();
        encoder.wrapAndApplyHeader(new UnsafeBuffer(new byte[capacityBytes]), 0, new MessageHeaderEncoder())
            .sessionId(1)
            .correlationId(1)
            .recordCount(createdCount)
            .status(RecordStatus.OK);
        final AckEncoder.CreatedIdsEncoder ids = encoder.createdIdsCount(createdCount);
        for (int i = 0; i < createdCount; i++)
        {
            ids.next().nodeId(i + 1).recordIndex(i);
        }
        encoder.errorsCount(0);
        return MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
    }
}
