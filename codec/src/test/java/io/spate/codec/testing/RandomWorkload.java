package io.spate.codec.testing;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.FieldDefinition;
import io.spate.codec.RecordWriter;
import io.spate.codec.TypeDefinition;
import org.agrona.MutableDirectBuffer;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Writes random, mostly valid modify records over every type of a schema: creates with random
 * field values, updates and increments of live, deleted and never-made ids, deletes, and
 * references to creates earlier in the batch. With explicit ids, a few creates jump ahead of the
 * next id (skipping ids, as when records the pipeline numbered never reach the store) and a few
 * go back to an id already consumed. Deterministic for a seed, so a failure replays.
 * It guesses which ids are live; the reference model decides what really happens.
 */
public final class RandomWorkload
{
    private final DatabaseSchema schema;
    private final List<TypeDefinition> types;
    private final Random random;
    private final RecordWriter writer;
    private final long[] nextIdGuess;
    private final List<List<Long>> createdIds = new ArrayList<>();
    /** Per type, one id from each jump's gap, for updates, deletes and increments of skipped ids. */
    private final List<List<Long>> skippedIds = new ArrayList<>();
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
        this.schema = schema;
        this.random = new Random(seed);
        this.writer = new RecordWriter(schema);
        this.nextIdGuess = new long[schema.types().size()];
        for (int i = 0; i < schema.types().size(); i++)
        {
            nextIdGuess[i] = 1;
            createdIds.add(new ArrayList<>());
            skippedIds.add(new ArrayList<>());
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
     * @param explicitIds   whether creates carry the id they expect (else 0: the store chooses).
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
        final List<int[]> createsInBatch = new ArrayList<>();
        for (int i = 0; i < recordCount; i++)
        {
            final TypeDefinition type = types.size() == 1 ? types.get(0) : types.get(random.nextInt(types.size()));
            final int dice = random.nextInt(100);
            if (dice < 45 || createdIds.get(type.typeId() - 1).isEmpty())
            {
                final long id = explicitIds ? explicitId(type) : nextIdGuess[type.typeId() - 1];
                if (id >= nextIdGuess[type.typeId() - 1])
                {
                    createdIds.get(type.typeId() - 1).add(id);
                    nextIdGuess[type.typeId() - 1] = id + 1;
                }
                final int ref = writer.create(type, explicitIds ? id : 0);
                createsInBatch.add(new int[]{ ref, type.typeId() });
                for (final FieldDefinition field : type.fields())
                {
                    if (random.nextInt(4) != 0)
                    {
                        setRandom(field);
                    }
                }
            }
            else if (dice < 75)
            {
                final int[] ref = pickCreate(createsInBatch, type);
                if (null != ref && random.nextInt(4) == 0)
                {
                    writer.updateCreated(type, ref[0]);
                }
                else
                {
                    writer.update(type, pickId(type));
                }
                final int fieldCount = 1 + random.nextInt(3);
                for (int f = 0; f < fieldCount && !type.fields().isEmpty(); f++)
                {
                    setRandom(type.fields().get(random.nextInt(type.fields().size())));
                }
            }
            else if (dice < 90)
            {
                final FieldDefinition field = randomNumericField(type);
                if (null == field)
                {
                    writer.delete(type, pickId(type));
                    continue;
                }
                final long delta = random.nextInt(3) == 0 ? random.nextLong() : random.nextInt(2001) - 1000;
                final int[] ref = pickCreate(createsInBatch, type);
                if (null != ref && random.nextInt(4) == 0)
                {
                    writer.incrementCreated(type, ref[0], field, delta);
                }
                else
                {
                    writer.increment(type, pickId(type), field, delta);
                }
            }
            else
            {
                final int[] ref = pickCreate(createsInBatch, type);
                if (null != ref && random.nextInt(3) == 0)
                {
                    writer.deleteCreated(type, ref[0]);
                }
                else
                {
                    writer.delete(type, pickId(type));
                }
            }
        }
        return writer.endBatch();
    }

    /**
     * Mostly the next id; 3% jump ahead by 1..50 (the ids between are skipped, never live), 2%
     * go back to an id already consumed (ID_MISMATCH, nothing consumed).
     */
    private long explicitId(final TypeDefinition type)
    {
        final long next = nextIdGuess[type.typeId() - 1];
        final int dice = random.nextInt(100);
        if (dice < 3)
        {
            final long id = next + 1 + random.nextInt(50);
            skippedIds.get(type.typeId() - 1).add(next + random.nextInt((int)(id - next)));
            return id;
        }
        if (dice < 5 && next > 1)
        {
            return next - 1 - random.nextInt((int)Math.min(next - 1, 50));
        }
        return next;
    }

    private int[] pickCreate(final List<int[]> createsInBatch, final TypeDefinition type)
    {
        if (createsInBatch.isEmpty())
        {
            return null;
        }
        final int[] candidate = createsInBatch.get(random.nextInt(createsInBatch.size()));
        // Mostly the right type; sometimes another, which the store must refuse as BAD_REFERENCE.
        return candidate[1] == type.typeId() || random.nextInt(8) == 0 ? candidate : null;
    }

    private long pickId(final TypeDefinition type)
    {
        final List<Long> ids = createdIds.get(type.typeId() - 1);
        final int dice = random.nextInt(20);
        if (dice == 0)
        {
            return nextIdGuess[type.typeId() - 1] + random.nextInt(5);
        }
        if (dice == 1)
        {
            return random.nextBoolean() ? 0 : -1 - random.nextInt(3);
        }
        final List<Long> skipped = skippedIds.get(type.typeId() - 1);
        if (dice == 2 && !skipped.isEmpty())
        {
            return skipped.get(random.nextInt(skipped.size()));
        }
        return ids.isEmpty() ? 1 : ids.get(random.nextInt(ids.size()));
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
