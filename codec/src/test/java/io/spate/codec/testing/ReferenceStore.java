package io.spate.codec.testing;

import io.spate.codec.DatabaseSchema;
import io.spate.codec.FieldDefinition;
import io.spate.codec.RecordReader;
import io.spate.codec.TypeDefinition;
import io.spate.wire.FieldKind;
import io.spate.wire.RecordStatus;
import org.agrona.DirectBuffer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.PrimitiveIterator;
import java.util.TreeMap;

/**
 * A plain-Java model of the native store, written for clarity, not speed: what the store must
 * do with any slice of messages, record by record. Tests apply the same bytes to both and
 * compare every status, id and field. Arena capacity is not modelled (give test schemas room).
 * <p>
 * Ids are generational, as spate_store.h defines them: {@code id = generation << slotBits | slot}, slot
 * 1..slotLimit. Per type the model keeps the slots a Create ever consumed (live, or freed at their next
 * generation; a freed slot past the last generation is retired) and the highest slot used; every other
 * slot is never used (next generation 0) and costs nothing, so a far jump stays cheap. The layout
 * figures (slot bits, slot limit, row stride, block sizes), the checksum and the snapshot image are
 * re-derived here from their definitions in spate_store.h, not from the C code.
 */
public final class ReferenceStore
{
    /** {@link #nodeState}: the id was never handed out (spate_store.h SPATE_NODE_NOT_ISSUED). */
    public static final int NODE_NOT_ISSUED = 0;
    /** {@link #nodeState}: the node is live. */
    public static final int NODE_LIVE = 1;
    /** {@link #nodeState}: the id was taken and is gone for good. */
    public static final int NODE_GONE = 2;

    /** Slot bits are at least this (spate_store.h). */
    public static final int MIN_SLOT_BITS = 8;
    /** Snapshot image format version the model writes. */
    public static final int SNAPSHOT_VERSION = 2;

    /**
     * One entry per message walked, as the native store reports it, and the type of the record (0 when it has none or
     * it could not be read), which the store does not report.
     */
    public record Outcome(int status, long nodeId, int offsetBytes, int templateId, int typeId)
    {
    }

    /** A live node's content as the model keeps it. */
    public static final class Node
    {
        public final byte[] row;
        public final byte[][] vars;

        Node(final TypeDefinition type)
        {
            row = new byte[type.rowLengthBytes()];
            vars = new byte[type.varFieldCount()][];
            Arrays.fill(vars, new byte[0]);
        }
    }

    /**
     * A slot a Create consumed: live at {@link #generation} (with its node), or not live with {@link #generation}
     * its next generation (at least 1; past the type's largest generation: retired).
     */
    public static final class Slot
    {
        boolean live;
        long generation;
        Node node;

        public boolean isLive()
        {
            return live;
        }

        /** @return the live node's generation, or the next generation of a slot that is not live. */
        public long generation()
        {
            return generation;
        }

        /** @return the live node, or null. */
        public Node node()
        {
            return node;
        }
    }

    /** One type's slots. */
    private static final class TypeState
    {
        final TypeDefinition type;
        final int slotBits;
        final long slotLimit;
        final long slotMask;
        final long maxGeneration;
        /** Slots ever consumed; absent ones are never used. Sparse: a far explicit id may skip millions. */
        final TreeMap<Long, Slot> slots = new TreeMap<>();
        long highWaterSlot;
        long liveCount;

        TypeState(final TypeDefinition type)
        {
            this.type = type;
            this.slotBits = slotBits(type.maxNodes());
            this.slotLimit = slotLimit(type.maxNodes());
            this.slotMask = (1L << slotBits) - 1;
            this.maxGeneration = maxGeneration(slotBits);
        }

        long slotOf(final long id)
        {
            return id & slotMask;
        }

        long generationOf(final long id)
        {
            return id >>> slotBits;
        }

        boolean isRetired(final Slot slot)
        {
            return !slot.live && slot.generation > maxGeneration;
        }

        /** @return the live node an id names, or null. */
        Node liveNode(final long id)
        {
            if (id <= 0)
            {
                return null;
            }
            final Slot slot = slots.get(slotOf(id));
            return null != slot && slot.live && slot.generation == generationOf(id) ? slot.node : null;
        }
    }

    /** The record names its node by id. */
    private static final int NO_REFERENCE = -1;
    /** The record's createRef names no applied Create of its type. */
    private static final int UNRESOLVED = -2;

    private final DatabaseSchema schema;
    private final RecordReader reader;
    private final TypeState[] types;

    public ReferenceStore(final DatabaseSchema schema)
    {
        this.schema = schema;
        this.reader = new RecordReader(schema);
        types = new TypeState[schema.types().size()];
        for (final TypeDefinition type : schema.types())
        {
            types[type.typeId() - 1] = new TypeState(type);
        }
    }

    public DatabaseSchema schema()
    {
        return schema;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The layout, re-derived from spate_store.h.

    /**
     * spate_store.h: "slot_bits is the least number of bits >= 8 that holds maxNodes plus a retirement allowance of
     * 2^(slot_bits - 11) slots": slots 1..maxNodes + allowance must fit in slot_bits bits.
     *
     * @param maxNodes of the type.
     * @return its slot bits.
     */
    public static int slotBits(final long maxNodes)
    {
        for (int bits = MIN_SLOT_BITS; bits < 63; bits++)
        {
            if (maxNodes + retirementAllowance(bits) <= (1L << bits) - 1)
            {
                return bits;
            }
        }
        throw new IllegalArgumentException("maxNodes " + maxNodes);
    }

    /**
     * 2^(slotBits - 11) slots, in whole slots: below 11 bits the fraction counts as one slot. (spate_store.h does not
     * say how a fraction of a slot rounds; the store rounds it up, and one slot is what lets a full type of one slot
     * survive its first retirement.)
     *
     * @param slotBits of a type.
     * @return its retirement allowance in slots.
     */
    public static long retirementAllowance(final int slotBits)
    {
        return slotBits > 11 ? 1L << (slotBits - 11) : 1;
    }

    /**
     * @param maxNodes of the type.
     * @return the highest slot: maxNodes plus the retirement allowance.
     */
    public static long slotLimit(final long maxNodes)
    {
        return maxNodes + retirementAllowance(slotBits(maxNodes));
    }

    /**
     * @param slotBits of a type.
     * @return the largest generation: ids are positive 63-bit numbers.
     */
    public static long maxGeneration(final int slotBits)
    {
        return (1L << (63 - slotBits)) - 1;
    }

    /**
     * The snapshot format's row: a u64 header, the fixed row padded to 8, and per string/bytes field a u64 offset,
     * a u32 length and a u32 capacity.
     *
     * @param type of the rows.
     * @return the bytes one slot takes.
     */
    public static int rowStrideBytes(final TypeDefinition type)
    {
        return 8 + align8(type.rowLengthBytes()) + 16 * type.varFieldCount();
    }

    /**
     * spate_store.h: "blocks of size classes (multiples of 8 up to 128 bytes, then four classes per power of two up
     * to 1 MiB; an empty value takes no block)".
     *
     * @param lengthBytes of a value.
     * @return the smallest block that holds it.
     */
    public static long blockBytes(final long lengthBytes)
    {
        if (lengthBytes <= 0)
        {
            return 0;
        }
        if (lengthBytes <= 128)
        {
            return align8(lengthBytes);
        }
        final long power = Long.highestOneBit(lengthBytes - 1); // power < length <= 2 * power
        final long step = power / 4;
        return power + (lengthBytes - power + step - 1) / step * step;
    }

    private static int align8(final int value)
    {
        return (value + 7) & ~7;
    }

    private static long align8(final long value)
    {
        return (value + 7) & ~7L;
    }

    private TypeState state(final int typeId)
    {
        return types[typeId - 1];
    }

    public int slotBitsOf(final int typeId)
    {
        return state(typeId).slotBits;
    }

    public long slotLimitOf(final int typeId)
    {
        return state(typeId).slotLimit;
    }

    public long maxGenerationOf(final int typeId)
    {
        return state(typeId).maxGeneration;
    }

    public long idOf(final int typeId, final long generation, final long slot)
    {
        return generation << state(typeId).slotBits | slot;
    }

    public long slotOf(final int typeId, final long id)
    {
        return state(typeId).slotOf(id);
    }

    public long generationOf(final int typeId, final long id)
    {
        return state(typeId).generationOf(id);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // What the type holds.

    public long count(final int typeId)
    {
        return state(typeId).liveCount;
    }

    /** @return the highest slot ever used, 0 for none: what a Create with nodeId 0 goes past. */
    public long highWaterSlot(final int typeId)
    {
        return state(typeId).highWaterSlot;
    }

    /** @return slots up to the highest used that are not live, retired ones included. */
    public long freeSlots(final int typeId)
    {
        final TypeState type = state(typeId);
        return type.highWaterSlot - type.liveCount;
    }

    public long retiredSlots(final int typeId)
    {
        final TypeState type = state(typeId);
        long retired = 0;
        for (final Slot slot : type.slots.values())
        {
            retired += type.isRetired(slot) ? 1 : 0;
        }
        return retired;
    }

    /** @return slots up to the highest used that no Create ever consumed (skipped by explicit ids). */
    public long neverUsedSlotsBelowHighWater(final int typeId)
    {
        final TypeState type = state(typeId);
        return type.highWaterSlot - type.slots.size();
    }

    /**
     * @return the slots Creates consumed (live or not), by slot; every other slot is never used.
     */
    public NavigableMap<Long, Slot> usedSlots(final int typeId)
    {
        return Collections.unmodifiableNavigableMap(state(typeId).slots);
    }

    /**
     * @return the live node an id names, or null (never made, deleted, or of another generation of its slot).
     */
    public Node node(final int typeId, final long nodeId)
    {
        return state(typeId).liveNode(nodeId);
    }

    /**
     * spate_store_node_state: NOT_ISSUED when the slot's next generation is at most the id's generation (a never-used
     * slot's is 0), or the id is not a valid id of the type; LIVE; GONE when the id's generation is below the slot's
     * current (live) or next generation.
     */
    public int nodeState(final int typeId, final long nodeId)
    {
        final TypeState type = state(typeId);
        if (nodeId <= 0)
        {
            return NODE_NOT_ISSUED;
        }
        final long slotNumber = type.slotOf(nodeId);
        if (slotNumber < 1 || slotNumber > type.slotLimit)
        {
            return NODE_NOT_ISSUED;
        }
        final Slot slot = type.slots.get(slotNumber);
        if (null == slot)
        {
            return NODE_NOT_ISSUED;
        }
        final long generation = type.generationOf(nodeId);
        if (slot.live && slot.generation == generation)
        {
            return NODE_LIVE;
        }
        return generation < slot.generation ? NODE_GONE : NODE_NOT_ISSUED;
    }

    /**
     * spate_store_free_ids: for each slot up to the highest used that is not live and not retired, ascending, the
     * id of its next generation (a never-used slot below the highest: generation 0).
     */
    public List<Long> freeIds(final int typeId)
    {
        final List<Long> ids = new ArrayList<>();
        freeIdIterator(typeId).forEachRemaining((java.util.function.LongConsumer)ids::add);
        return ids;
    }

    /**
     * @return {@link #freeIds(int)} one at a time, without holding them (a far jump leaves millions).
     */
    public PrimitiveIterator.OfLong freeIdIterator(final int typeId)
    {
        final TypeState type = state(typeId);
        return new PrimitiveIterator.OfLong()
        {
            private long slotNumber = 1;
            private long nextId = advance();

            private long advance()
            {
                while (slotNumber <= type.highWaterSlot)
                {
                    final long current = slotNumber++;
                    final Slot slot = type.slots.get(current);
                    if (null == slot)
                    {
                        return current; // never used: generation 0
                    }
                    if (!slot.live && !type.isRetired(slot))
                    {
                        return slot.generation << type.slotBits | current;
                    }
                }
                return 0;
            }

            public boolean hasNext()
            {
                return 0 != nextId;
            }

            public long nextLong()
            {
                if (0 == nextId)
                {
                    throw new java.util.NoSuchElementException();
                }
                final long id = nextId;
                nextId = advance();
                return id;
            }
        };
    }

    /**
     * @return the least arena bytes the live values take: each in the smallest block that holds it.
     */
    public long arenaLiveBytesAtLeast(final int typeId)
    {
        long bytes = 0;
        for (final Slot slot : state(typeId).slots.values())
        {
            if (slot.live)
            {
                for (final byte[] value : slot.node.vars)
                {
                    bytes += blockBytes(value.length);
                }
            }
        }
        return bytes;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Apply.

    /**
     * Applies a slice the way spate_store_apply does.
     *
     * @return one outcome per message walked.
     */
    public List<Outcome> apply(final DirectBuffer buffer, final int offset, final int lengthBytes)
    {
        final List<Outcome> outcomes = new ArrayList<>();
        reader.wrap(buffer, offset, lengthBytes);
        boolean batchSchemaMismatch = false;
        int refBaseIndex = 0;
        while (reader.next())
        {
            final int relativeOffset = reader.offset() - offset;
            final int templateId = reader.templateId() & 0xFF;
            int status = reader.status();
            long nodeId = 0;
            if (reader.isFramingStop())
            {
                outcomes.add(new Outcome(status, 0, relativeOffset, templateId, 0));
                break;
            }
            if (reader.templateId() == RecordReader.BATCH_HEADER && status != RecordStatus.SCHEMA_MISMATCH.value())
            {
                // Records count from any batch header; one that is malformed rejects its records, since
                // its hash cannot be trusted and their createRefs would name the previous batch's creates.
                refBaseIndex = outcomes.size() + 1;
                if (status == RecordStatus.OK.value())
                {
                    batchSchemaMismatch = reader.batchSchemaHash() != schema.hash();
                    status = batchSchemaMismatch ? RecordStatus.SCHEMA_MISMATCH.value() : RecordStatus.OK.value();
                }
                else
                {
                    batchSchemaMismatch = true;
                }
            }
            else if (isRecord(reader.templateId()) && batchSchemaMismatch &&
                status != RecordStatus.SCHEMA_MISMATCH.value())
            {
                status = RecordStatus.SCHEMA_MISMATCH.value();
            }
            else if (reader.templateId() == RecordReader.CREATE)
            {
                final long[] idOut = new long[1];
                status = create(status, idOut);
                nodeId = idOut[0];
            }
            else if (status == RecordStatus.OK.value() && isRecord(reader.templateId()))
            {
                final TypeDefinition type = reader.type();
                final int createIndex = reader.createRef() == 0 ?
                    NO_REFERENCE : referencedCreateIndex(outcomes, refBaseIndex, reader.createRef(), type);
                final long target = createIndex >= 0 ? outcomes.get(createIndex).nodeId() : reader.nodeId();
                if (createIndex == UNRESOLVED)
                {
                    status = RecordStatus.BAD_REFERENCE.value();
                }
                else
                {
                    nodeId = target;
                    final TypeState typeState = state(type.typeId());
                    final Node node = typeState.liveNode(target);
                    if (null == node)
                    {
                        status = RecordStatus.NO_SUCH_NODE.value();
                    }
                    else
                    {
                        switch (reader.templateId())
                        {
                            case RecordReader.UPDATE -> update(type, node);
                            case RecordReader.DELETE -> delete(typeState, target);
                            default -> increment(type.fieldById(reader.fieldId()), node, reader.delta());
                        }
                    }
                }
            }
            outcomes.add(new Outcome(status, nodeId, relativeOffset, templateId, null == reader.type() ? 0 : reader.type().typeId()));
        }
        return outcomes;
    }

    /**
     * spate_store_apply, "State" for a Create: the id it asks for (its nodeId, or the never-used slot after the
     * highest used at generation 0), the id checks, maxNodes, then consumption.
     */
    private int create(final int staticStatus, final long[] idOut)
    {
        final TypeDefinition type = reader.type();
        if (null == type)
        {
            return staticStatus; // not decoded (unreadable block, unknown type): nothing asked for
        }
        final TypeState typeState = state(type.typeId());
        final long id;
        final long slotNumber;
        final long generation;
        final Slot slot;
        if (reader.nodeId() == 0)
        {
            slotNumber = typeState.highWaterSlot + 1;
            generation = 0;
            id = slotNumber;
            if (slotNumber > typeState.slotLimit)
            {
                return orStatic(staticStatus, RecordStatus.TYPE_FULL);
            }
            slot = null;
        }
        else
        {
            id = reader.nodeId();
            if (id < 0 || typeState.slotOf(id) == 0)
            {
                return orStatic(staticStatus, RecordStatus.ID_MISMATCH);
            }
            slotNumber = typeState.slotOf(id);
            generation = typeState.generationOf(id);
            if (slotNumber > typeState.slotLimit)
            {
                return orStatic(staticStatus, RecordStatus.TYPE_FULL);
            }
            slot = typeState.slots.get(slotNumber);
            if (null != slot && (slot.live || generation < slot.generation))
            {
                return orStatic(staticStatus, RecordStatus.ID_MISMATCH);
            }
        }
        if (typeState.liveCount >= type.maxNodes())
        {
            return orStatic(staticStatus, RecordStatus.TYPE_FULL);
        }

        // The id is settled: consumed whatever the outcome.
        final Slot taken = null == slot ? new Slot() : slot;
        typeState.slots.put(slotNumber, taken);
        typeState.highWaterSlot = Math.max(typeState.highWaterSlot, slotNumber);
        idOut[0] = id;
        if (staticStatus != RecordStatus.OK.value())
        {
            taken.live = false;
            taken.generation = generation + 1;
            taken.node = null;
            return staticStatus;
        }
        final Node node = new Node(type);
        reader.buffer().getBytes(reader.rowOffset(), node.row);
        for (int i = 0; i < reader.entryCount(); i++)
        {
            final FieldDefinition field = type.fieldById(reader.entryFieldId(i));
            node.vars[field.varIndex()] = copy(reader.buffer(), reader.entryValueOffset(i), reader.entryValueLengthBytes(i));
        }
        taken.live = true;
        taken.generation = generation;
        taken.node = node;
        typeState.liveCount++;
        return RecordStatus.OK.value();
    }

    private static int orStatic(final int staticStatus, final RecordStatus status)
    {
        return staticStatus == RecordStatus.OK.value() ? status.value() : staticStatus;
    }

    private static void delete(final TypeState typeState, final long id)
    {
        final Slot slot = typeState.slots.get(typeState.slotOf(id));
        slot.live = false;
        slot.generation++; // past the largest generation: retired
        slot.node = null;
        typeState.liveCount--;
    }

    private void update(final TypeDefinition type, final Node node)
    {
        for (int i = 0; i < reader.entryCount(); i++)
        {
            final FieldDefinition field = type.fieldById(reader.entryFieldId(i));
            final byte[] value = copy(reader.buffer(), reader.entryValueOffset(i), reader.entryValueLengthBytes(i));
            if (field.isVariable())
            {
                node.vars[field.varIndex()] = value;
            }
            else
            {
                System.arraycopy(value, 0, node.row, field.offsetBytes(), value.length);
            }
        }
    }

    private static void increment(final FieldDefinition field, final Node node, final long delta)
    {
        final ByteBuffer row = ByteBuffer.wrap(node.row).order(ByteOrder.LITTLE_ENDIAN);
        final int at = field.offsetBytes();
        switch (field.kind())
        {
            case U8 -> row.put(at, (byte)(row.get(at) + delta));
            case U16 -> row.putShort(at, (short)(row.getShort(at) + delta));
            case U32, I32 -> row.putInt(at, (int)(row.getInt(at) + delta));
            case F64 -> row.putDouble(at, row.getDouble(at) + (double)delta);
            default -> row.putLong(at, row.getLong(at) + delta);
        }
        assert field.kind() != FieldKind.BOOL && !field.isVariable();
    }

    private int referencedCreateIndex(
        final List<Outcome> outcomes, final int refBaseIndex, final long createRef, final TypeDefinition type)
    {
        final long index = refBaseIndex + createRef - 1;
        if (index >= outcomes.size())
        {
            return UNRESOLVED;
        }
        final Outcome referenced = outcomes.get((int)index);
        final boolean isAppliedCreateOfType = referenced.templateId() == RecordReader.CREATE &&
            referenced.status() == RecordStatus.OK.value() && referenced.typeId() == type.typeId();
        return isAppliedCreateOfType ? (int)index : UNRESOLVED;
    }

    private static boolean isRecord(final int templateId)
    {
        return templateId == RecordReader.CREATE || templateId == RecordReader.UPDATE ||
            templateId == RecordReader.DELETE || templateId == RecordReader.INCREMENT;
    }

    private static byte[] copy(final DirectBuffer buffer, final int offset, final int lengthBytes)
    {
        final byte[] bytes = new byte[lengthBytes];
        buffer.getBytes(offset, bytes);
        return bytes;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // The checksum and the snapshot image, as spate_store.h defines them.

    private static final long P1 = 0x9E3779B185EBCA87L;
    private static final long P2 = 0xC2B2AE3D27D4EB4FL;
    private static final long P3 = 0x165667B19E3779F9L;
    private static final long P4 = 0x85EBCA77C2B2AE63L;
    private static final long CHECKSUM_SEED = 0x5350415445483634L; // "SPATEH64"

    /** The hash state of spate_store_checksum: seed, word(), bytes(), avalanche. */
    private static final class Hash
    {
        long h = CHECKSUM_SEED;

        Hash word(final long x)
        {
            final long k = Long.rotateLeft(x * P2, 31) * P1;
            h = Long.rotateLeft(h ^ k, 27) * P1 + P4;
            return this;
        }

        Hash bytes(final byte[] b)
        {
            word(b.length);
            final ByteBuffer le = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
            int at = 0;
            for (; at + 8 <= b.length; at += 8)
            {
                word(le.getLong(at));
            }
            if (at < b.length)
            {
                long tail = 0;
                for (int i = b.length - 1; i >= at; i--)
                {
                    tail = tail << 8 | (b[i] & 0xFF);
                }
                word(tail);
            }
            return this;
        }

        long avalanche()
        {
            long x = h;
            x ^= x >>> 33;
            x *= P2;
            x ^= x >>> 29;
            x *= P3;
            x ^= x >>> 32;
            return x;
        }
    }

    /**
     * spate_store_checksum, recomputed: word(type id), word(highest slot used), word(live count), then slot by slot:
     * a run of never-used slots as word(0), word(run length); a slot not live as word(2), word(next generation); a
     * live one as word(1), word(generation), bytes(row), bytes(value) per string/bytes field.
     */
    public long checksum(final int typeId)
    {
        final TypeState type = state(typeId);
        final Hash hash = new Hash().word(typeId).word(type.highWaterSlot).word(type.liveCount);
        long expectedSlot = 1;
        for (final Map.Entry<Long, Slot> entry : type.slots.entrySet())
        {
            final long slotNumber = entry.getKey();
            if (slotNumber > expectedSlot)
            {
                hash.word(0).word(slotNumber - expectedSlot);
            }
            final Slot slot = entry.getValue();
            if (slot.live)
            {
                hash.word(1).word(slot.generation).bytes(slot.node.row);
                for (final byte[] value : slot.node.vars)
                {
                    hash.bytes(value);
                }
            }
            else
            {
                hash.word(2).word(slot.generation);
            }
            expectedSlot = slotNumber + 1;
        }
        if (type.highWaterSlot >= expectedSlot)
        {
            hash.word(0).word(type.highWaterSlot + 1 - expectedSlot);
        }
        return hash.avalanche();
    }

    /**
     * The snapshot image's schema fingerprint: word(schemaHash), word(type count), per type word() of its id,
     * maxNodes, maxArenaBytes, rowLengthBytes and field count, per field word() of its id, kind, offset (0 for
     * string/bytes) and maxLengthBytes; avalanched.
     */
    public static long schemaFingerprint(final DatabaseSchema schema)
    {
        final Hash hash = new Hash().word(schema.hash()).word(schema.types().size());
        for (final TypeDefinition type : schema.types())
        {
            hash.word(type.typeId()).word(type.maxNodes()).word(type.maxArenaBytes()).word(type.rowLengthBytes())
                .word(type.fields().size());
            for (final FieldDefinition field : type.fields())
            {
                hash.word(field.fieldId()).word(field.kind().value()).word(field.isVariable() ? 0 : field.offsetBytes())
                    .word(field.maxLengthBytes());
            }
        }
        return hash.avalanche();
    }

    /**
     * The snapshot image of the model's state, byte for byte as spate_store.h lays out format 2: what
     * spate_store_snapshot_write must write for a store that applied the same records.
     */
    public byte[] snapshotImage()
    {
        long length = 32;
        for (final TypeState type : types)
        {
            length += typeImageLength(type);
        }
        final ByteBuffer image = ByteBuffer.allocate(Math.toIntExact(length)).order(ByteOrder.LITTLE_ENDIAN);
        image.put("SPATESNP".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        image.putInt(SNAPSHOT_VERSION).putInt(types.length).putLong(length).putLong(schemaFingerprint(schema));
        for (final TypeState type : types)
        {
            final int stride = rowStrideBytes(type.type);
            long freed = 0;
            long arenaBytes = 0;
            for (final Slot slot : type.slots.values())
            {
                if (slot.live)
                {
                    for (final byte[] value : slot.node.vars)
                    {
                        arenaBytes += blockBytes(value.length);
                    }
                }
                else
                {
                    freed++;
                }
            }
            image.putShort((short)type.type.typeId()).putShort((short)0).putInt(stride).putLong(type.highWaterSlot)
                .putLong(type.liveCount).putLong(freed).putLong(arenaBytes);
            long arenaOffset = 0;
            for (final Map.Entry<Long, Slot> entry : type.slots.entrySet())
            {
                final Slot slot = entry.getValue();
                if (!slot.live)
                {
                    continue;
                }
                image.putLong(entry.getKey());
                image.putLong(slot.generation << 8 | 1);
                image.put(slot.node.row);
                image.put(new byte[align8(slot.node.row.length) - slot.node.row.length]);
                for (final byte[] value : slot.node.vars)
                {
                    final long capacity = blockBytes(value.length);
                    image.putLong(0 == capacity ? 0 : arenaOffset).putInt(value.length).putInt((int)capacity);
                    arenaOffset += capacity;
                }
            }
            for (final Map.Entry<Long, Slot> entry : type.slots.entrySet())
            {
                if (!entry.getValue().live)
                {
                    image.putLong(entry.getKey()).putLong(entry.getValue().generation);
                }
            }
            for (final Slot slot : type.slots.values())
            {
                if (slot.live)
                {
                    for (final byte[] value : slot.node.vars)
                    {
                        image.put(value);
                        image.put(new byte[(int)(blockBytes(value.length) - value.length)]);
                    }
                }
            }
        }
        if (image.hasRemaining())
        {
            throw new IllegalStateException("image length " + length + ", written " + image.position());
        }
        return image.array();
    }

    private static long typeImageLength(final TypeState type)
    {
        long length = 40;
        final int stride = rowStrideBytes(type.type);
        for (final Slot slot : type.slots.values())
        {
            if (slot.live)
            {
                length += 8 + stride;
                for (final byte[] value : slot.node.vars)
                {
                    length += blockBytes(value.length);
                }
            }
            else
            {
                length += 16;
            }
        }
        return length;
    }
}
