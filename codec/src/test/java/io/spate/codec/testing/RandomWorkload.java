package io.spate.codec.testing;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.FieldDefinition;
import io.spate.codec.RecordWriter;
import io.spate.codec.TypeDefinition;
import org.agrona.MutableDirectBuffer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Writes random, mostly valid modify records over every type of a schema, with churn: creates with
 * random field values, deletes about half as often, updates and increments, of ids that are live,
 * gone (deleted, or a stale generation of a reused slot) and never issued, and references to
 * creates earlier in the batch.
 * <p>
 * With explicit ids, creates mostly take what the pipeline's allocator would: a freed slot's next
 * generation (the most recently freed first) or the next never-used slot. Some skip ahead (near
 * and far: the slots between stay never used, and are taken later), some take a future generation
 * of a free slot or the largest generation (whose delete retires the slot), and some ask for what the
 * store must refuse: a stale generation, a live id, slot 0, a slot past the slot limit, a negative id.
 * Without explicit ids, creates send nodeId 0: the store takes the next never-used slot.
 * <p>
 * Ids are generational ({@code generation << slotBits | slot}); the slot bits come from
 * {@link ReferenceStore#slotBits(long)}. Deterministic for a seed, so a failure replays. It guesses
 * which ids are live and which slots are free; the reference model decides what really happens.
 */
public final class RandomWorkload
{
    /** Gone ids remembered per type, for records of stale ids (a ring: the oldest are forgotten). */
    private static final int GONE_SAMPLES = 512;
    /** Never-used slots below the believed high water remembered per type (skipped by a jump ahead). */
    private static final int SKIPPED_SAMPLES = 512;

    /** What the workload believes of one type's ids. */
    private static final class Beliefs
    {
        final int slotBits;
        final long slotLimit;
        final long maxGeneration;
        /** Believed live, in an order the seed decides (random picks index it). */
        final List<Long> live = new ArrayList<>();
        /** Where each believed-live id sits in {@link #live}. */
        final Map<Long, Integer> liveIndex = new HashMap<>();
        /** Ids of freed slots at their next generation: a stack, the most recently freed on top. */
        final List<Long> free = new ArrayList<>();
        final List<Long> gone = new ArrayList<>();
        int goneNext;
        /** Never-used slots below the believed high water (generation 0 ids). */
        final List<Long> skipped = new ArrayList<>();
        long highWaterSlot;

        Beliefs(final TypeDefinition type)
        {
            slotBits = ReferenceStore.slotBits(type.maxNodes());
            slotLimit = ReferenceStore.slotLimit(type.maxNodes());
            maxGeneration = ReferenceStore.maxGeneration(slotBits);
        }

        long slotOf(final long id)
        {
            return id & ((1L << slotBits) - 1);
        }

        long generationOf(final long id)
        {
            return id >>> slotBits;
        }

        long idOf(final long generation, final long slot)
        {
            return generation << slotBits | slot;
        }

        void addGone(final long id)
        {
            if (gone.size() < GONE_SAMPLES)
            {
                gone.add(id);
            }
            else
            {
                gone.set(goneNext, id);
                goneNext = (goneNext + 1) % GONE_SAMPLES;
            }
        }

        void addSkipped(final long id)
        {
            if (skipped.size() < SKIPPED_SAMPLES)
            {
                skipped.add(id);
            }
        }

        /** Believes a Create took the id: live, its slot no longer free, the high water past it. */
        void taken(final long id)
        {
            if (null == liveIndex.putIfAbsent(id, live.size()))
            {
                live.add(id);
            }
            highWaterSlot = Math.max(highWaterSlot, slotOf(id));
        }

        /**
         * Believes the id deleted when it was believed live: its slot is free at the next generation (unless
         * retired). Any other id changes nothing.
         */
        void deleted(final long id)
        {
            final Integer index = liveIndex.remove(id);
            if (null == index)
            {
                return;
            }
            final long last = live.remove(live.size() - 1);
            if (index < live.size())
            {
                live.set(index, last);
                liveIndex.put(last, index);
            }
            addGone(id);
            final long generation = generationOf(id);
            if (generation < maxGeneration)
            {
                free.add(idOf(generation + 1, slotOf(id)));
            }
        }
    }

    private final List<TypeDefinition> types;
    private final Random random;
    private final RecordWriter writer;
    private final Beliefs[] beliefs;
    private long correlationId;

    public RandomWorkload(final DatabaseSchema schema, final long seed)
    {
        this(schema, seed, null);
    }

    /**
     * @param schema    the database schema.
     * @param seed      of the random choices.
     * @param onlyTypes the types records may be of; null: every type of the schema.
     */
    public RandomWorkload(final DatabaseSchema schema, final long seed, final List<TypeDefinition> onlyTypes)
    {
        this.types = null == onlyTypes ? schema.types() : List.copyOf(onlyTypes);
        this.random = new Random(seed);
        this.writer = new RecordWriter(schema);
        this.beliefs = new Beliefs[schema.types().size()];
        for (final TypeDefinition type : schema.types())
        {
            beliefs[type.typeId() - 1] = new Beliefs(type);
        }
    }

    public Random random()
    {
        return random;
    }

    /**
     * Writes one client batch of recordCount records.
     *
     * @param buffer        to write into.
     * @param offset        where the batch starts.
     * @param capacityBytes room available.
     * @param recordCount   records in the batch.
     * @param withHeader    whether to start with a BatchHeader.
     * @param explicitIds   whether creates carry the id they ask for (else 0: the store takes a never-used slot).
     * @return bytes written.
     */
    public int writeBatch(
        final MutableDirectBuffer buffer,
        final int offset,
        final int capacityBytes,
        final int recordCount,
        final boolean withHeader,
        final boolean explicitIds)
    {
        writer.wrap(buffer, offset, capacityBytes);
        if (withHeader)
        {
            writer.beginBatch(1, ++correlationId);
        }
        /* Per create of the batch: createRef, type id, the id it asked for (believed). */
        final List<long[]> createsInBatch = new ArrayList<>();
        for (int i = 0; i < recordCount; i++)
        {
            final TypeDefinition type = types.size() == 1 ? types.get(0) : types.get(random.nextInt(types.size()));
            final Beliefs ids = beliefs[type.typeId() - 1];
            final int dice = random.nextInt(100);
            if (dice < 40 || ids.live.isEmpty())
            {
                final long id;
                if (explicitIds)
                {
                    id = explicitId(ids);
                }
                else
                {
                    id = ids.highWaterSlot + 1;
                    ids.taken(id);
                }
                final int ref = writer.create(type, explicitIds ? id : 0);
                createsInBatch.add(new long[]{ ref, type.typeId(), id });
                for (final FieldDefinition field : type.fields())
                {
                    if (random.nextInt(4) != 0)
                    {
                        setRandom(field);
                    }
                }
            }
            else if (dice < 65)
            {
                final long[] ref = pickCreate(createsInBatch, type);
                if (null != ref && random.nextInt(4) == 0)
                {
                    writer.updateCreated(type, (int)ref[0]);
                }
                else
                {
                    writer.update(type, pickId(ids));
                }
                final int fieldCount = 1 + random.nextInt(3);
                for (int f = 0; f < fieldCount && !type.fields().isEmpty(); f++)
                {
                    setRandom(type.fields().get(random.nextInt(type.fields().size())));
                }
            }
            else if (dice < 80)
            {
                final FieldDefinition field = randomNumericField(type);
                if (null == field)
                {
                    delete(type, ids, pickId(ids));
                    continue;
                }
                final long delta = random.nextInt(3) == 0 ? random.nextLong() : random.nextInt(2001) - 1000;
                final long[] ref = pickCreate(createsInBatch, type);
                if (null != ref && random.nextInt(4) == 0)
                {
                    writer.incrementCreated(type, (int)ref[0], field, delta);
                }
                else
                {
                    writer.increment(type, pickId(ids), field, delta);
                }
            }
            else
            {
                final long[] ref = pickCreate(createsInBatch, type);
                if (null != ref && random.nextInt(3) == 0)
                {
                    writer.deleteCreated(type, (int)ref[0]);
                    if (ref[1] == type.typeId())
                    {
                        ids.deleted(ref[2]);
                    }
                }
                else
                {
                    delete(type, ids, pickId(ids));
                }
            }
        }
        return writer.endBatch();
    }

    private void delete(final TypeDefinition type, final Beliefs ids, final long id)
    {
        writer.delete(type, id);
        ids.deleted(id);
    }

    /**
     * The id an explicit-id Create asks for, and what the workload then believes. Mostly what an allocator would
     * hand out (a free slot's next generation, LIFO, or the next never-used slot); some skip ahead or take another
     * generation; about 5% ask for an id the store must refuse.
     */
    private long explicitId(final Beliefs ids)
    {
        final int dice = random.nextInt(1000);
        if (dice < 600 && !ids.free.isEmpty())
        {
            // Mostly the top of the stack, as the allocator does; sometimes another free slot.
            final int index = random.nextInt(5) != 0 ? ids.free.size() - 1 : random.nextInt(ids.free.size());
            final long id = removeAt(ids.free, index);
            ids.taken(id);
            return id;
        }
        if (dice < 880 || ids.highWaterSlot >= ids.slotLimit)
        {
            if (dice >= 870 && !ids.skipped.isEmpty())
            {
                // A never-used slot a jump skipped: generation 0 is still its next generation.
                final long id = removeAt(ids.skipped, random.nextInt(ids.skipped.size()));
                ids.taken(id);
                return id;
            }
            final long id = Math.min(ids.highWaterSlot + 1, ids.slotLimit);
            ids.taken(id);
            return id;
        }
        if (dice < 910)
        {
            // Near skip: the slots between stay never used.
            final long slot = Math.min(ids.slotLimit, ids.highWaterSlot + 2 + random.nextInt(50));
            ids.addSkipped(ids.highWaterSlot + 1 + random.nextInt((int)(slot - ids.highWaterSlot)));
            ids.taken(slot);
            return slot;
        }
        if (dice < 912)
        {
            // Far skip (rare: never-used slots are finite).
            final long room = ids.slotLimit - ids.highWaterSlot;
            final long slot = ids.highWaterSlot + 1 + (long)(random.nextDouble() * Math.min(room, 1 << 16));
            ids.addSkipped(ids.highWaterSlot + 1);
            ids.taken(slot);
            return slot;
        }
        if (dice < 935 && !ids.free.isEmpty())
        {
            // A future generation of a free slot: the generations between are never issued.
            final long free = removeAt(ids.free, random.nextInt(ids.free.size()));
            final long generation = Math.min(ids.maxGeneration, ids.generationOf(free) + 1 + random.nextInt(1000));
            final long id = ids.idOf(generation, ids.slotOf(free));
            ids.taken(id);
            return id;
        }
        if (dice < 945 && !ids.free.isEmpty())
        {
            // The largest generation: deleting it retires the slot.
            final long free = removeAt(ids.free, random.nextInt(ids.free.size()));
            final long id = ids.idOf(ids.maxGeneration, ids.slotOf(free));
            ids.taken(id);
            return id;
        }
        // Refused: nothing consumed, nothing believed.
        return switch (random.nextInt(6))
        {
            case 0 -> ids.gone.isEmpty() ? -1 : ids.gone.get(random.nextInt(ids.gone.size())); // stale generation
            case 1 -> ids.live.isEmpty() ? 0x8000_0000_0000_0000L : ids.live.get(random.nextInt(ids.live.size())); // live
            case 2 -> ids.idOf(1 + random.nextInt(100), 0); // slot 0
            case 3 -> ids.idOf(random.nextInt(3), ids.slotLimit + 1 + random.nextInt(5)); // past the slot limit
            case 4 -> ids.slotLimit < (1L << ids.slotBits) - 1 ? (1L << ids.slotBits) - 1 : -1; // the largest slot
            default -> -1 - random.nextInt(1 << 20); // negative
        };
    }

    private static long removeAt(final List<Long> ids, final int index)
    {
        final long last = ids.remove(ids.size() - 1);
        if (index == ids.size())
        {
            return last;
        }
        return ids.set(index, last);
    }

    private long[] pickCreate(final List<long[]> createsInBatch, final TypeDefinition type)
    {
        if (createsInBatch.isEmpty())
        {
            return null;
        }
        final long[] candidate = createsInBatch.get(random.nextInt(createsInBatch.size()));
        // Mostly the right type; sometimes another, which the store must refuse as BAD_REFERENCE.
        return candidate[1] == type.typeId() || random.nextInt(8) == 0 ? candidate : null;
    }

    /**
     * The target of an update, increment or delete: mostly a live id, else a gone one (deleted, or a stale
     * generation of a reused slot), one never issued (a free slot's next generation, a generation ahead, past the
     * high water, a skipped slot) or not an id at all.
     */
    private long pickId(final Beliefs ids)
    {
        final int dice = random.nextInt(100);
        if (dice < 8 && !ids.gone.isEmpty())
        {
            return ids.gone.get(random.nextInt(ids.gone.size()));
        }
        if (dice < 10 && !ids.free.isEmpty())
        {
            return ids.free.get(random.nextInt(ids.free.size()));
        }
        if (dice < 11 && !ids.live.isEmpty())
        {
            final long live = ids.live.get(random.nextInt(ids.live.size()));
            final long generation = Math.min(ids.maxGeneration, ids.generationOf(live) + 1 + random.nextInt(3));
            return ids.idOf(generation, ids.slotOf(live));
        }
        if (dice < 12)
        {
            return ids.highWaterSlot + 1 + random.nextInt(5);
        }
        if (dice < 13 && !ids.skipped.isEmpty())
        {
            return ids.skipped.get(random.nextInt(ids.skipped.size()));
        }
        if (dice < 14)
        {
            return switch (random.nextInt(4))
            {
                case 0 -> 0;
                case 1 -> -1 - random.nextInt(3);
                case 2 -> ids.idOf(1 + random.nextInt(3), 0);
                default -> ids.idOf(0, ids.slotLimit + 1);
            };
        }
        return ids.live.isEmpty() ? 1 : ids.live.get(random.nextInt(ids.live.size()));
    }

    private FieldDefinition randomNumericField(final TypeDefinition type)
    {
        final List<FieldDefinition> numeric = type.fields().stream().filter(FieldDefinition::isNumeric).toList();
        return numeric.isEmpty() ? null : numeric.get(random.nextInt(numeric.size()));
    }

    private void setRandom(final FieldDefinition field)
    {
        switch (field.kind())
        {
            case U8 -> writer.setLong(field, random.nextInt(256));
            case U16 -> writer.setLong(field, random.nextInt(65536));
            case U32 -> writer.setLong(field, random.nextLong() & 0xFFFF_FFFFL);
            case I32 -> writer.setLong(field, random.nextInt());
            case U64, I64, TIMESTAMP -> writer.setLong(field, random.nextLong());
            case F64 -> writer.setDouble(field, random.nextInt(4) == 0 ? random.nextLong() : random.nextDouble() * 1e6);
            case BOOL -> writer.setBoolean(field, random.nextBoolean());
            case STRING -> writer.setString(field, randomString(random.nextInt(field.maxLengthBytes() / 2 + 1) / 2));
            case BYTES ->
            {
                final byte[] bytes = new byte[random.nextInt(Math.min(field.maxLengthBytes(), 64) + 1)];
                random.nextBytes(bytes);
                writer.setBytes(field, bytes);
            }
            default -> throw new IllegalStateException("unexpected kind " + field.kind());
        }
    }

    private String randomString(final int length)
    {
        final StringBuilder text = new StringBuilder(length);
        for (int i = 0; i < length; i++)
        {
            final int dice = random.nextInt(20);
            text.append(dice == 0 ? 'é' : dice == 1 ? '水' : (char)('a' + random.nextInt(26)));
        }
        return text.toString();
    }
}
