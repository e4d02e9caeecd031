package io.spate.pipeline;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.RecordFraming;
import io.spate.codec.RecordReader;
import io.spate.codec.testing.ReferenceStore;
import io.spate.wire.CreateEncoder;
import io.spate.wire.RecordStatus;
import org.agrona.MutableDirectBuffer;

import java.nio.ByteOrder;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * For tests that hold the pipeline to a single-threaded reference apply. The pipeline decides each Create's id
 * ({@link IdAllocator}: a slot is reused once the batch that freed it is acked, so which ids a batch gets depends on
 * timing), and the log carries those ids; the reference must apply the same. So each batch is given to the reference
 * with its Creates' node ids set to what the pipeline acked (the ack lists the id of every OK Create by record index),
 * and a Create the ack lists no id for gets an id the store refuses without consuming anything (-1): the reference
 * then reports its static status, or ID_MISMATCH where the pipeline had a reason of its own, and the record-by-record
 * comparison flags it. The reference checks each acked id as the store does: an id whose slot is live or whose
 * generation is below its slot's next one comes out ID_MISMATCH, not OK, so a wrong reuse fails the comparison.
 */
final class AckedIds
{
    /** What the store refuses without consuming an id, for a Create the pipeline gave none. */
    static final long NO_ID = -1;

    private AckedIds()
    {
    }

    /**
     * Sets every Create of a client batch to the id its ack lists (or {@link #NO_ID}).
     *
     * @param schema of the batch.
     * @param batch  the client batch as sent, BatchHeader first; changed in place.
     * @param offset where it starts.
     * @param length its length.
     * @param ack    the pipeline's ack of it.
     * @return how many Creates got an acked id.
     */
    static int patchCreates(
        final DatabaseSchema schema, final MutableDirectBuffer batch, final int offset, final int length,
        final RawProducer.Ack ack)
    {
        final RecordReader reader = new RecordReader(schema);
        reader.wrap(batch, offset, length);
        reader.next(); // the batch header
        int recordIndex = 0;
        int patched = 0;
        while (reader.next() && !reader.isFramingStop())
        {
            if (reader.templateId() == RecordReader.CREATE && null != reader.type())
            {
                final Long id = ack.createdIds().get(recordIndex);
                batch.putLong(reader.offset() + RecordFraming.HEADER_LENGTH_BYTES + CreateEncoder.nodeIdEncodingOffset(),
                    null == id ? NO_ID : id, ByteOrder.LITTLE_ENDIAN);
                patched += null == id ? 0 : 1;
            }
            recordIndex++;
        }
        return patched;
    }

    /**
     * The ack must say what the reference said, record by record: every status, and the id of every OK Create.
     *
     * @param outcomes the reference's, batch header first.
     */
    static void assertAckMatches(final List<ReferenceStore.Outcome> outcomes, final RawProducer.Ack ack, final String context)
    {
        assertEquals(outcomes.size() - 1, ack.recordCount(), context);
        for (int i = 0; i < ack.recordCount(); i++)
        {
            final ReferenceStore.Outcome outcome = outcomes.get(i + 1);
            final RecordStatus status = ack.errors().getOrDefault(i, RecordStatus.OK);
            assertEquals(RecordStatus.get((short)outcome.status()), status, context + " record " + i + " " + outcome);
            if (outcome.templateId() == RecordReader.CREATE && outcome.status() == RecordStatus.OK.value())
            {
                assertEquals(outcome.nodeId(), ack.createdIds().get(i), context + " id of create " + i);
            }
        }
        assertEquals(outcomes.stream().skip(1).filter(o -> o.templateId() == RecordReader.CREATE &&
            o.status() == RecordStatus.OK.value()).count(), ack.createdIds().size(), context + ": created ids");
    }

    /**
     * What a pipeline's ids must look like in the reference after all its batches: no slot skipped (the allocator hands
     * out the next never-used slot only), so every slot up to the highest used was used.
     *
     * @return per type, the Creates that reused a slot (generation above 0), for the test to print.
     */
    static String assertNoSlotSkipped(final ReferenceStore reference, final String context)
    {
        final StringBuilder reuse = new StringBuilder("creates that reused a slot: ");
        final int start = reuse.length();
        for (final var type : reference.schema().types())
        {
            assertEquals(0, reference.neverUsedSlotsBelowHighWater(type.typeId()),
                context + ": " + type.name() + " has slots the pipeline skipped");
            long reused = 0;
            for (final ReferenceStore.Slot slot : reference.usedSlots(type.typeId()).values())
            {
                reused += slot.isLive() ? slot.generation() : slot.generation() - 1;
            }
            reuse.append(reuse.length() == start ? "" : ", ").append(type.name()).append(' ').append(reused);
        }
        return reuse.toString();
    }

    /**
     * @return the Creates of every type that reused a slot: generations above 0 (the pipeline never skips one).
     */
    static long reusedSlots(final ReferenceStore reference)
    {
        long reused = 0;
        for (final var type : reference.schema().types())
        {
            for (final ReferenceStore.Slot slot : reference.usedSlots(type.typeId()).values())
            {
                reused += slot.isLive() ? slot.generation() : slot.generation() - 1;
            }
        }
        return reused;
    }
}
