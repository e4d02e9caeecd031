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
import java.util.List;
import java.util.NavigableSet;
import java.util.TreeMap;

/**
 * A plain-Java model of the native store, written for clarity, not speed: what the store must
 * do with any slice of messages, record by record. Tests apply the same bytes to both and
 * compare every status, id and field. Arena capacity is not modelled (give test schemas room).
 */
public final class ReferenceStore
{
    /** One entry per message walked, as the native store reports it. */
    public record Outcome(int status, long nodeId, int offsetBytes, int templateId)
    {
    }

    /** A node as the model keeps it. */
    public static final class Node
    {
        public static final byte NEVER_LIVE = 0;
        public static final byte LIVE = 1;
        public static final byte DELETED = 2;

        public byte state;
        public final byte[] row;
        public final byte[][] vars;

        Node(final TypeDefinition type)
        {
            row = new byte[type.rowLengthBytes()];
            vars = new byte[type.varFieldCount()][];
            Arrays.fill(vars, new byte[0]);
        }
    }

    /** The record names its node by id. */
    private static final int NO_REFERENCE = -1;
    /** The record's createRef names no applied Create of its type. */
    private static final int UNRESOLVED = -2;

    private final DatabaseSchema schema;
    private final RecordReader reader;
    /** Per type, the nodes of the ids Creates took; ids they skipped have none (sparse: a skip may be millions). */
    private final List<TreeMap<Long, Node>> nodesByType = new ArrayList<>();
    private final long[] nextIdByType;
    private final long[] liveCountByType;
    private final List<Integer> outcomeTypeIds = new ArrayList<>();

    public ReferenceStore(final DatabaseSchema schema)
    {
        this.schema = schema;
        this.reader = new RecordReader(schema);
        for (int i = 0; i < schema.types().size(); i++)
        {
            nodesByType.add(new TreeMap<>());
        }
        nextIdByType = new long[schema.types().size()];
        Arrays.fill(nextIdByType, 1);
        liveCountByType = new long[schema.types().size()];
    }

    public DatabaseSchema schema()
    {
        return schema;
    }

    /**
     * @param typeId of the nodes.
     * @return the lowest id a Create may still take (what nodeId 0 takes).
     */
    public long nextId(final int typeId)
    {
        return nextIdByType[typeId - 1];
    }

    public long count(final int typeId)
    {
        return liveCountByType[typeId - 1];
    }

    /**
     * @return the node (live or not), or null if no Create took the id (never handed out, or
     * skipped by a Create with a higher explicit id).
     */
    public Node node(final int typeId, final long nodeId)
    {
        return nodesByType.get(typeId - 1).get(nodeId);
    }

    /**
     * @param typeId of the nodes.
     * @return the ids Creates took (live or not), ascending; every other id below
     * {@link #nextId(int)} was skipped and is never live.
     */
    public NavigableSet<Long> takenIds(final int typeId)
    {
        return nodesByType.get(typeId - 1).navigableKeySet();
    }

    /**
     * Applies a slice the way spate_store_apply does.
     *
     * @return one outcome per message walked.
     */
    public List<Outcome> apply(final DirectBuffer buffer, final int offset, final int lengthBytes)
    {
        final List<Outcome> outcomes = new ArrayList<>();
        outcomeTypeIds.clear();
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
                outcomes.add(new Outcome(status, 0, relativeOffset, templateId));
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
                    final Node node = node(type.typeId(), target);
                    if (null == node || node.state != Node.LIVE)
                    {
                        status = RecordStatus.NO_SUCH_NODE.value();
                    }
                    else
                    {
                        switch (reader.templateId())
                        {
                            case RecordReader.UPDATE -> update(type, node);
                            case RecordReader.DELETE ->
                            {
                                node.state = Node.DELETED;
                                liveCountByType[type.typeId() - 1]--;
                            }
                            default -> increment(type.fieldById(reader.fieldId()), node, reader.delta());
                        }
                    }
                }
            }
            outcomes.add(new Outcome(status, nodeId, relativeOffset, templateId));
            outcomeTypeIds.add(null == reader.type() ? 0 : reader.type().typeId());
        }
        return outcomes;
    }

    private int create(final int staticStatus, final long[] idOut)
    {
        final TypeDefinition type = reader.type();
        if (null == type)
        {
            return staticStatus;
        }
        // nodeId 0 takes the next id; an explicit one at or past it takes exactly that id and
        // skips the ones between (the pipeline numbers creates, and some may never arrive).
        final long next = nextIdByType[type.typeId() - 1];
        final long id = reader.nodeId() == 0 ? next : reader.nodeId();
        if (id < next)
        {
            return staticStatus == RecordStatus.OK.value() ? RecordStatus.ID_MISMATCH.value() : staticStatus;
        }
        if (id > type.maxNodes())
        {
            return staticStatus == RecordStatus.OK.value() ? RecordStatus.TYPE_FULL.value() : staticStatus;
        }
        // The id is settled: consumed, with every skipped one, whatever the outcome.
        final Node node = new Node(type);
        nodesByType.get(type.typeId() - 1).put(id, node);
        nextIdByType[type.typeId() - 1] = id + 1;
        idOut[0] = id;
        if (staticStatus != RecordStatus.OK.value())
        {
            return staticStatus;
        }
        reader.buffer().getBytes(reader.rowOffset(), node.row);
        for (int i = 0; i < reader.entryCount(); i++)
        {
            final FieldDefinition field = type.fieldById(reader.entryFieldId(i));
            node.vars[field.varIndex()] = copy(reader.buffer(), reader.entryValueOffset(i), reader.entryValueLengthBytes(i));
        }
        node.state = Node.LIVE;
        liveCountByType[type.typeId() - 1]++;
        return RecordStatus.OK.value();
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
            referenced.status() == RecordStatus.OK.value() && outcomeTypeIds.get((int)index) == type.typeId();
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
}
