package io.spate.pipeline;

import io.spate.client.BatchResult;
import io.spate.client.NodeView;
import io.spate.client.SpateClient;
import io.spate.codec.DatabaseSchema;
import io.spate.codec.FieldDefinition;
import io.spate.codec.SchemaCompiler;
import io.spate.codec.TypeDefinition;
import io.spate.wire.RecordStatus;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.collections.LongArrayList;
import org.agrona.collections.LongHashSet;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A churning type the way a service's sessions or jobs churn: nodes created and deleted all day around a
 * steady live count, values rewritten longer and shorter (so arena blocks move and are reused), and now and
 * then a write to an id deleted long ago. One batch at a time through a {@link SpateClient}, each checked
 * against a model: every record's status, every created id new (an id is never handed out twice, reused slot
 * or not), a stale id never reaching a live node. Deterministic for a seed.
 */
public final class ChurnWorkload
{
    /** The schema's one type: a session with a user, a counter and a token string of 0..48 bytes. */
    public static String schemaJson(final long maxNodes, final long maxArenaBytes)
    {
        return "{ \"name\": \"churn\", \"types\": [ { \"name\": \"Session\", \"maxNodes\": " + maxNodes +
            ", \"maxArenaBytes\": " + maxArenaBytes + ", \"fields\": [" +
            " { \"name\": \"user\", \"type\": \"u64\" }, { \"name\": \"hits\", \"type\": \"u32\" }," +
            " { \"name\": \"token\", \"type\": \"string\", \"maxBytes\": 48 } ] } ] }";
    }

    public static DatabaseSchema schema(final long maxNodes, final long maxArenaBytes)
    {
        return SchemaCompiler.compile(schemaJson(maxNodes, maxArenaBytes), "churn test schema");
    }

    private final TypeDefinition type;
    private final FieldDefinition user;
    private final FieldDefinition token;
    private final SplittableRandom random;
    private final int liveTarget;
    private final LongArrayList live = new LongArrayList();
    /** Per live id, the seed its user and token were made from. */
    private final Long2LongHashMap valueSeedById = new Long2LongHashMap(-1);
    private final LongHashSet everCreated = new LongHashSet();
    private final LongArrayList deleted = new LongArrayList();
    private long creates;
    private long deletes;
    private long staleWrites;

    /**
     * @param schema     from {@link #schema}.
     * @param liveTarget the live count the churn circles around (below the type's maxNodes).
     * @param seed       of every choice.
     */
    public ChurnWorkload(final DatabaseSchema schema, final int liveTarget, final long seed)
    {
        this.type = schema.type("Session");
        this.user = type.field("user");
        this.token = type.field("token");
        this.liveTarget = liveTarget;
        this.random = new SplittableRandom(seed);
    }

    public long creates()
    {
        return creates;
    }

    public long deletes()
    {
        return deletes;
    }

    public long staleWrites()
    {
        return staleWrites;
    }

    public int liveCount()
    {
        return live.size();
    }

    public TypeDefinition type()
    {
        return type;
    }

    private static String tokenOf(final long valueSeed)
    {
        final int length = (int)(valueSeed % 49);
        final StringBuilder text = new StringBuilder(length);
        for (int i = 0; i < length; i++)
        {
            text.append((char)('a' + (valueSeed >>> i) % 26));
        }
        return text.toString();
    }

    private static long userOf(final long valueSeed)
    {
        return valueSeed * 0x9E37_79B9_7F4A_7C15L;
    }

    /**
     * One batch of records: a quarter rewrite a live node's token, about one in fifty writes to a deleted id, and
     * the rest create while the live count is below the target and delete while it is not, so the live count
     * stays within a batch of the target.
     */
    public void round(final SpateClient client, final int records)
    {
        final int[] kind = new int[records]; // 0 create, 1 delete, 2 update, 3 update of a deleted id
        final long[] target = new long[records];
        final long[] valueSeed = new long[records];
        final LongHashSet touched = new LongHashSet();
        for (int i = 0; i < records; i++)
        {
            final int dice = random.nextInt(100);
            // A node this batch already deletes or rewrites is left alone (its outcome would hang on the order).
            final long pick = live.isEmpty() ? 0 : live.getLong(random.nextInt(live.size()));
            final boolean free = 0 != pick && !touched.contains(pick);
            if (dice < 2 && !deleted.isEmpty())
            {
                kind[i] = 3;
                target[i] = deleted.getLong(random.nextInt(deleted.size()));
                client.update(type, target[i]);
                client.setLong(user, 7);
            }
            else if (dice < 27 && free)
            {
                kind[i] = 2;
                target[i] = pick;
                touched.add(pick);
                valueSeed[i] = random.nextLong() & Long.MAX_VALUE;
                client.update(type, pick);
                client.setLong(user, userOf(valueSeed[i]));
                client.setString(token, tokenOf(valueSeed[i]));
            }
            else if (free && live.size() >= liveTarget)
            {
                // At or above the target the rest delete, below it they create: the live count stays near it.
                kind[i] = 1;
                target[i] = pick;
                touched.add(pick);
                client.delete(type, pick);
            }
            else
            {
                kind[i] = 0;
                valueSeed[i] = random.nextLong() & Long.MAX_VALUE;
                client.create(type);
                client.setLong(user, userOf(valueSeed[i]));
                client.setString(token, tokenOf(valueSeed[i]));
            }
        }
        final BatchResult result = client.flushAndAwait();
        assertEquals(records, result.recordCount(), result.toString());
        for (int i = 0; i < records; i++)
        {
            final RecordStatus status = result.status(i);
            switch (kind[i])
            {
                case 0 ->
                {
                    assertEquals(RecordStatus.OK, status, "create " + i + " of " + result);
                    final long id = result.createdId(i);
                    assertTrue(id > 0, "created id " + id);
                    assertTrue(everCreated.add(id), "id " + id + " handed out twice");
                    live.addLong(id);
                    valueSeedById.put(id, valueSeed[i]);
                    creates++;
                }
                case 1 ->
                {
                    assertEquals(RecordStatus.OK, status, "delete of " + target[i] + " in " + result);
                    live.removeAt(live.indexOf(target[i]));
                    valueSeedById.remove(target[i]);
                    deleted.addLong(target[i]);
                    deletes++;
                }
                case 2 ->
                {
                    assertEquals(RecordStatus.OK, status, "update of " + target[i] + " in " + result);
                    valueSeedById.put(target[i], valueSeed[i]);
                }
                case 3 ->
                {
                    assertEquals(RecordStatus.NO_SUCH_NODE, status, "a write to deleted id " + target[i] +
                        " must never reach another node: " + result);
                    staleWrites++;
                }
                default -> throw new AssertionError("kind " + kind[i]);
            }
        }
        if (deleted.size() > 4096)
        {
            deleted.removeAt(0);
        }
    }

    /**
     * Reads every live node back (values as written) and some deleted ids (gone, never another node).
     */
    public void verify(final SpateClient client, final int deletedSamples)
    {
        assertEquals(live.size(), client.count(type), "live count");
        for (int i = 0; i < live.size(); i++)
        {
            final long id = live.getLong(i);
            final NodeView node = client.get(type, id);
            assertNotNull(node, "live node " + id + ": " + client.lastReadStatus());
            final long valueSeed = valueSeedById.get(id);
            assertEquals(userOf(valueSeed), node.getLong(user), "user of " + id);
            assertEquals(tokenOf(valueSeed), node.getString(token), "token of " + id);
        }
        for (int i = 0; i < Math.min(deletedSamples, deleted.size()); i++)
        {
            final long id = deleted.getLong(random.nextInt(deleted.size()));
            assertNull(client.get(type, id), "deleted id " + id + " reads as gone");
            assertEquals(RecordStatus.DELETED, client.lastReadStatus(), "deleted id " + id);
        }
    }
}
