package io.spate.pipeline;

import io.spate.client.SpateClient;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordFraming;
import io.spate.codec.RecordWriter;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.wire.RecordStatus;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteOrder;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Garbage, truncated messages, a wrong schema hash and unknown types from a raw publication get
 * error acks or a counted rejection; the pipeline keeps running and another producer's records
 * all apply.
 */
class PipelineBadInputTest
{
    @Test
    void badInputShouldBeRefusedWithoutHarmingOthers()
    {
        final DatabaseSchema schema = PipelineHarness.exampleSchema();
        final TypeDefinition user = schema.type("User");
        try (PipelineHarness harness = new PipelineHarness(schema, c -> c.workerCount(2));
            RawProducer bad = harness.rawProducer(666);
            SpateClient good = harness.client())
        {
            final UnsafeBuffer buffer = new UnsafeBuffer(new byte[4096]);
            final RecordWriter writer = new RecordWriter(schema);
            final long rejectedBefore = harness.pipeline.counters().rejectedMessages().get();

            // 1. Garbage of every length: counted rejections.
            final Random random = new Random(1);
            for (int i = 1; i < 200; i++)
            {
                for (int b = 0; b < i; b++)
                {
                    buffer.putByte(b, (byte)random.nextInt(256));
                }
                bad.send(buffer, 0, i);
            }
            // 2. Wrong schema hash: a batch-wide SCHEMA_MISMATCH ack.
            final DatabaseSchema other = SchemaCompiler.compile(
                "{\"name\":\"other\",\"types\":[{\"name\":\"User\",\"fields\":[{\"name\":\"age\",\"type\":\"u8\"}]}]}", "o");
            final RecordWriter otherWriter = new RecordWriter(other);
            otherWriter.wrap(buffer, 0, 4096).beginBatch(666, 1);
            otherWriter.create(other.type("User"));
            bad.send(buffer, 0, otherWriter.endBatch());
            // 3. Unknown type and a good record in one batch: per-record error, the good one applies.
            writer.wrap(buffer, 0, 4096).beginBatch(666, 2);
            writer.create(user);
            writer.setLong(user.field("age"), 9);
            writer.create(user);
            final int length = writer.endBatch();
            final int secondCreate = RecordFraming.HEADER_LENGTH_BYTES + 28 +
                buffer.getInt(40 + RecordFraming.FRAME_LENGTH_OFFSET, ByteOrder.LITTLE_ENDIAN);
            buffer.putShort(secondCreate + RecordFraming.HEADER_LENGTH_BYTES + 8, (short)99, ByteOrder.LITTLE_ENDIAN);
            bad.send(buffer, 0, length);
            // 4. Truncated batch: the record count no longer matches, a batch-wide MALFORMED ack.
            writer.wrap(buffer, 0, 4096).beginBatch(666, 3);
            writer.create(user);
            writer.create(user);
            bad.send(buffer, 0, writer.endBatch() - 5);

            // Meanwhile a well-behaved producer.
            for (int i = 0; i < 100; i++)
            {
                good.create(user);
                good.setLong(user.field("age"), i % 200);
                if (i % 10 == 9)
                {
                    good.flush();
                }
            }
            good.flush();
            assertTrue(good.awaitAcks(20_000));
            bad.awaitAcks(3);
            harness.assertNoAgentError();

            // Batch-wide refusals are acked at once; the mixed batch after it is applied.
            assertEquals(RecordStatus.SCHEMA_MISMATCH, ack(bad, 1).status());
            final RawProducer.Ack mixed = ack(bad, 2);
            assertEquals(RecordStatus.UNKNOWN_TYPE, mixed.errors().get(1));
            assertEquals(1, mixed.createdIds().size());
            assertEquals(RecordStatus.MALFORMED, ack(bad, 3).status());
            assertTrue(harness.pipeline.counters().rejectedMessages().get() - rejectedBefore >= 150,
                "garbage is counted");
            assertEquals(101, good.count(user), "100 good creates plus the good record of the mixed batch");
        }
    }

    private static RawProducer.Ack ack(final RawProducer producer, final long correlationId)
    {
        return producer.acks.stream().filter(a -> a.correlationId() == correlationId).findFirst()
            .orElseThrow(() -> new AssertionError("no ack for " + correlationId + " in " + producer.acks));
    }
}
