/*
 * Spate native store: per type an array of fixed-width row slots (address space for maxNodes
 * slots and a small allowance reserved at open, committed as it is touched or by
 * spate_store_reserve) and an arena for the variable fields (string/bytes). Memory follows the
 * live data: the slot of a deleted node is reused by a later Create, and the arena bytes of a
 * deleted node or of a value that moved go back to per-size-class free lists.
 *
 * Ids are generational: id = generation << slot_bits | slot, slot in 1..slot_limit (so no id is
 * 0 or negative), generation in 0..2^(63 - slot_bits) - 1. A slot's first node has generation
 * 0, so a fresh store hands out 1, 2, 3, ... exactly as ids were before reuse. Deleting a node
 * moves its slot to the next generation: the old id reads as gone forever (NO_SUCH_NODE), never
 * as the slot's next node. A slot whose generations are used up is retired (never reused).
 * slot_bits is the least number of bits >= 8 that holds maxNodes plus a retirement allowance of
 * 2^(slot_bits - 11) slots (at least 1), which guarantees at least 2^52 creates per type (14 years at 10M
 * creates/s) at full maxNodes capacity under any create/delete pattern; see spate_store_type_stats.
 *
 * Who chooses a reused id: not the store. A Create that names an id (the pipeline's IdAllocator
 * decides ids, and they travel in the log) takes exactly that id when its slot is not live and
 * the generation is at least the slot's next generation; a Create with nodeId 0 takes the next
 * never-used slot (generation 0). spate_store_free_ids lists the reusable ids, which is how the
 * pipeline rebuilds its allocator after a restart.
 *
 * The store never trusts its input: every length and offset read from a record is checked
 * against the slice it came from. A bad record gets an error status and the walk goes on
 * when its frame length is known; when the frame itself is unusable the walk stops cleanly
 * with one MALFORMED entry covering the rest. No global state: everything hangs off a handle.
 *
 * Threading: one writer per type at a time (the pipeline's type affinity guarantees it).
 * Reads (spate_store_get, _exists, _node_state, _count, _type_stats) may run on other threads
 * while a type is written: each type has a sequence lock striped by slot. Row and arena memory
 * is reserved once and never moves, and bytes are reused only after the slot that referenced
 * them changed inside a write section of that slot's stripe, so a reader that copied reused
 * bytes always sees its stripe changed and reads again: a read never returns a torn row nor
 * bytes of another node (spate_store.c, "Reader safety under reuse").
 *
 * The Java side (io.spate.store.NativeStore) binds these with Panama. Pointer parameters are
 * passed from Java as 64-bit integers, which is the same ABI on LP64 Linux.
 */
#ifndef SPATE_STORE_H
#define SPATE_STORE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct spate_store spate_store;

/*
 * One entry per message walked by spate_store_apply (batch headers included).
 * node_id: Create: the id the record consumed (also when it failed, see spate_store_apply),
 * 0 when it consumed none; Update/Delete/Increment: the target (createRef resolved, else nodeId)
 * when the record passed its static checks and its createRef resolved (statuses OK,
 * NO_SUCH_NODE, ARENA_FULL), else 0; other messages: 0. So a Create consumed an id exactly when
 * its node_id is not 0.
 */
typedef struct spate_result
{
    int64_t node_id;        /* id of the node the record touched, as above */
    uint32_t offset_bytes;  /* where the message starts, relative to the start of the slice */
    uint8_t status;         /* SPATE_STATUS_* (the wire RecordStatus; 0 = OK) */
    uint8_t template_id;    /* template id of the message, truncated to 8 bits; 0 if unreadable */
    uint16_t reserved;      /* always 0 */
} spate_result;

#define SPATE_RESULT_LENGTH_BYTES 16 /* static_assert in spate_store.c */

/*
 * Record outcomes (spate_result.status): the values of the wire schema's RecordStatus enum
 * (schema/spate-wire.xml). SbeTool emits no C header for an enum that no message uses, so they
 * are mirrored here; spate_store.c checks them against io_spate_wire/recordStatus.h whenever
 * that header exists.
 */
#define SPATE_STATUS_OK 0
#define SPATE_STATUS_UNKNOWN_TYPE 1
#define SPATE_STATUS_UNKNOWN_FIELD 2
#define SPATE_STATUS_VALUE_TOO_LARGE 3
#define SPATE_STATUS_NO_SUCH_NODE 4
#define SPATE_STATUS_MALFORMED 5
#define SPATE_STATUS_SCHEMA_MISMATCH 6
#define SPATE_STATUS_BAD_REFERENCE 7
#define SPATE_STATUS_ID_MISMATCH 8
#define SPATE_STATUS_TYPE_FULL 9
#define SPATE_STATUS_WRONG_FIELD_KIND 10
#define SPATE_STATUS_ARENA_FULL 11
#define SPATE_STATUS_UNKNOWN_TEMPLATE 12

/* Errors of the API itself (negative returns); record outcomes are the SPATE_STATUS_* above. */
#define SPATE_ERROR_NULL_ARGUMENT (-1)
#define SPATE_ERROR_BAD_SCHEMA (-2)
#define SPATE_ERROR_OUT_OF_MEMORY (-3)
#define SPATE_ERROR_UNKNOWN_TYPE (-4)
#define SPATE_ERROR_NO_SUCH_NODE (-5)
#define SPATE_ERROR_BUFFER_TOO_SMALL (-6)
/* spate_store_snapshot_load only (see there): */
#define SPATE_ERROR_BAD_SNAPSHOT (-7)          /* not a snapshot, or damaged: a length, count, id, offset or row is inconsistent */
#define SPATE_ERROR_SNAPSHOT_TRUNCATED (-8)    /* fewer bytes than the image says it has */
#define SPATE_ERROR_SNAPSHOT_VERSION (-9)      /* a snapshot, but of a format version this library does not read */
#define SPATE_ERROR_SNAPSHOT_SCHEMA (-10)      /* made by a store of another schema */
#define SPATE_ERROR_STORE_NOT_EMPTY (-11)      /* the target store was written to (or loaded) already */

/*
 * Largest values the store accepts in a StoreSchema; larger ones make open fail with BAD_SCHEMA.
 * Also BAD_SCHEMA: a header that is not StoreSchema of schema 1701 version 0, a frame longer
 * than the buffer, bytes left in the frame, maxNodes < 1, maxArenaBytes < 0, duplicate type or
 * field ids, an unknown field kind, a fixed field whose maxLengthBytes is not its width (U8/BOOL
 * 1, U16 2, U32/I32 4, U64/I64/F64/TIMESTAMP 8) or that does not lie inside rowLengthBytes or
 * overlaps another fixed field. OUT_OF_MEMORY when the address space cannot be reserved.
 */
#define SPATE_MAX_TYPES 4096
#define SPATE_MAX_FIELDS_PER_TYPE 1024
#define SPATE_MAX_ROW_LENGTH_BYTES 65536
#define SPATE_MAX_NODES_PER_TYPE (1LL << 36)
#define SPATE_MAX_ARENA_BYTES_PER_TYPE (1LL << 40)
#define SPATE_MAX_VAR_LENGTH_BYTES (1 << 20)

/*
 * Opens a store for the schema described by a StoreSchema message (12-byte header included)
 * of schema_length_bytes bytes (its frameLengthBytes may be less; the rest is ignored).
 * On success writes the handle to *store_out and returns 0.
 * Per type, the rows of all slot_limit slots and the whole arena are reserved (not committed)
 * here, once, so no row or value ever moves in memory (compaction copies values within the arena).
 */
int32_t spate_store_open(const uint8_t *schema, uint64_t schema_length_bytes, spate_store **store_out);

/* Frees everything; the handle is invalid afterwards. Null is ignored. No call may be running. */
void spate_store_close(spate_store *store);

/*
 * Walks the messages in [records, records + length_bytes): BatchHeader, Create, Update,
 * Delete, Increment. Applies each record and writes one spate_result per message walked.
 * Every 4 KiB or so of messages (SPATE_PROGRESS_PUBLISH_BYTES), and always before it returns, it
 * stores (*progress_counter at entry) + bytes consumed so far to *progress_counter with release
 * semantics (an Aeron counter); progress_counter may be null.
 * Stops after results_capacity entries, so the caller can continue from the progress.
 * A BatchHeader whose schemaHash differs from the store's makes its records SCHEMA_MISMATCH
 * until the next BatchHeader; createRef counts records from the latest BatchHeader.
 * Returns the number of results written, or a negative SPATE_ERROR_*.
 *
 * Framing: fewer than 12 bytes left, or frameLengthBytes < 12 or past the end of the slice:
 * one MALFORMED result at that offset, progress = length_bytes, the walk ends. Otherwise the
 * walk always goes on at offset + frameLengthBytes. Per message, the first that applies of
 * (static checks, which need no store state, before the checks that do; the same order as
 * io.spate.codec.RecordReader, which the conductor uses on the Java side):
 *   1. wire schemaId != 1701 or version > 0: SCHEMA_MISMATCH; unknown templateId:
 *      UNKNOWN_TEMPLATE; a Create/Update/Delete/Increment after a BatchHeader with another
 *      schemaHash, or a malformed one: SCHEMA_MISMATCH (not decoded, not applied).
 *   2. Structure: blockLength below the template's or past the frame, a group or value running
 *      past the frame, a group blockLength below the schema's, bytes left in the frame: MALFORMED.
 *   3. Schema: UNKNOWN_TYPE; a Create's row length not rowLengthBytes: MALFORMED; per field in
 *      wire order: not a field of the type (or, in a Create's varFields, not a string/bytes
 *      field): UNKNOWN_FIELD; longer than the field's width or maxLengthBytes: VALUE_TOO_LARGE;
 *      an Update's fixed value shorter than its width: MALFORMED; an Increment of BOOL, STRING
 *      or BYTES: WRONG_FIELD_KIND.
 *   4. State: Create: the id it asks for is its nodeId, or (generation 0, the slot after the
 *      highest slot ever used) when nodeId is 0; a negative id or slot 0: ID_MISMATCH; a slot
 *      above slot_limit (nodeId 0: no never-used slot left): TYPE_FULL; a live slot, or a
 *      generation below the slot's next generation: ID_MISMATCH; maxNodes nodes live already:
 *      TYPE_FULL. Update/Delete/Increment: createRef not the 1-based position, counted from the
 *      latest BatchHeader, of an earlier Create of the same type that was OK in this call:
 *      BAD_REFERENCE; target not live (never made, deleted, or its slot now holds a later
 *      generation): NO_SUCH_NODE. Then ARENA_FULL.
 * Create ids: the pipeline is the one source of truth for ids. A Create whose block is readable,
 * whose type exists and whose id passes the id checks of 4. CONSUMES that id whatever else fails
 * (MALFORMED, UNKNOWN_FIELD, VALUE_TOO_LARGE, ARENA_FULL): its slot's next generation becomes
 * generation + 1 unless it went live, and the highest slot used becomes at least its slot, so
 * the pipeline's ids and the store's never drift apart. Slots between the highest used and an
 * explicit id's slot are skipped: they stay never used (next generation 0) and cost nothing, no
 * row is written for them and no memory committed, nor by reading them later. A Create refused
 * by the id checks or by maxNodes consumes nothing, and reports its static status if any, else
 * ID_MISMATCH or TYPE_FULL. Var fields not sent are empty; a field sent twice: the last value
 * wins.
 * Records are applied whole or not at all. Fixed values are little-endian bytes copied into the
 * row; a string/bytes value is overwritten in place when it fits the block the field has, else
 * moved to a new block (the old one is freed). An Update without fields of a live node is OK and
 * changes nothing. A Delete frees the node's slot (next generation = its generation + 1) and its
 * arena blocks.
 * Arena: values live in blocks of size classes (multiples of 8 up to 128 bytes, then four
 * classes per power of two up to 1 MiB; an empty value takes no block). A new block comes from
 * its class's free list, else fresh arena space, else a larger class's free list; when none is
 * left the arena is compacted (live values slid to the front in address order, each to the
 * smallest block that holds it) and the block taken from the space that frees. ARENA_FULL only
 * when the record's new blocks do not fit beside the live values counted in their smallest
 * blocks (an update's old value still counts until its new one is written). A compaction costs a
 * walk of the type's used slots and a sort of its live values: it happens only when free space
 * exists but is fragmented into other size classes, and is counted (spate_type_stats).
 * Every message after a BatchHeader (unknown and malformed ones included) counts as a record
 * for createRef. Batch state (schema hash verdict, createRef base) lives only for one call: a
 * batch split across calls resolves createRefs of its second part from the start of that slice,
 * so give results_capacity room for whole batches.
 * results[].offset_bytes is 32 bits: a message starting beyond UINT32_MAX is not walked in this
 * call (as when results_capacity runs out); continue with records + progress.
 * Concurrency: calls may run on several threads at once provided no two touch the same type.
 * Alignment: results and records may have any alignment; progress_counter must be 8-byte
 * aligned (it is stored atomically), as an Aeron counter is.
 */
int64_t spate_store_apply(
    spate_store *store,
    const uint8_t *records,
    uint64_t length_bytes,
    int64_t *progress_counter,
    spate_result *results,
    uint32_t results_capacity);

/*
 * Copies a live node into out: the fixed row (row_length_bytes as in the schema), then for
 * each string/bytes field in field-id order a uint32 little-endian length and the bytes.
 * Returns the number of bytes written, or a negative SPATE_ERROR_* (NO_SUCH_NODE for an id that
 * is not live: never made, deleted, or of an earlier generation of its slot; BUFFER_TOO_SMALL
 * when out_capacity_bytes is not enough, NULL_ARGUMENT for a null out with a non-zero capacity).
 * On an error out may hold garbage. Safe against a concurrent writer of the type: the copy is
 * one consistent version of the node, and never bytes of another node.
 */
int64_t spate_store_get(
    spate_store *store, uint16_t type_id, int64_t node_id, uint8_t *out, uint32_t out_capacity_bytes);

/* 1 if the node is live, 0 if not, negative SPATE_ERROR_UNKNOWN_TYPE (or NULL_ARGUMENT). Seqlocked like get. */
int32_t spate_store_exists(spate_store *store, uint16_t type_id, int64_t node_id);

/* spate_store_node_state: the id was never handed out (its slot's next generation is at most the id's
   generation, or the slot was never used, or the id is not a valid id of the type). */
#define SPATE_NODE_NOT_ISSUED 0
/* spate_store_node_state: the node is live. */
#define SPATE_NODE_LIVE 1
/* spate_store_node_state: the id was taken and is gone for good: its node was deleted, or its Create
   failed after consuming it, or its slot has moved on to a later generation. */
#define SPATE_NODE_GONE 2

/* What became of a node id: SPATE_NODE_*, or negative SPATE_ERROR_UNKNOWN_TYPE (or NULL_ARGUMENT).
   Seqlocked like get. */
int32_t spate_store_node_state(spate_store *store, uint16_t type_id, int64_t node_id);

/* Live nodes of a type, or negative SPATE_ERROR_UNKNOWN_TYPE (or NULL_ARGUMENT). Any thread. */
int64_t spate_store_count(spate_store *store, uint16_t type_id);

/*
 * What a type holds and how its memory is used. All counts are read with acquire loads, each on
 * its own: from another thread than the type's writer they are each exact but may be of
 * slightly different moments.
 */
typedef struct spate_type_stats
{
    int64_t max_nodes;              /* nodes live at once, at most (the schema's maxNodes) */
    int64_t live_nodes;
    int64_t slot_limit;             /* highest slot: maxNodes + the retirement allowance */
    int64_t high_water_slot;        /* highest slot ever used (0: none); nodeId 0 takes the next one */
    int64_t free_slots;             /* slots up to high_water_slot that are not live (retired ones included) */
    int64_t retired_slots;          /* slots whose generations are used up: never reused */
    uint64_t arena_capacity_bytes;  /* the schema's maxArenaBytes */
    uint64_t arena_live_bytes;      /* bytes of the blocks live values hold */
    uint64_t arena_free_bytes;      /* bytes of the blocks on the free lists */
    uint64_t arena_reserved_bytes;  /* arena bytes ever handed out since open, load or the last compaction:
                                       live + free; what the arena commits, to the page */
    uint64_t arena_compactions;     /* compactions since open or load */
    uint32_t slot_bits;             /* id = generation << slot_bits | slot */
    uint32_t row_stride_bytes;      /* memory per slot */
} spate_type_stats;

#define SPATE_TYPE_STATS_LENGTH_BYTES 96 /* static_assert in spate_store.c */

/* Fills *out for a type: 0, or negative SPATE_ERROR_UNKNOWN_TYPE (or NULL_ARGUMENT). Any thread. */
int32_t spate_store_type_stats(spate_store *store, uint16_t type_id, spate_type_stats *out);

/*
 * The ids a Create may reuse: for each slot from from_slot up to the highest slot used that is
 * not live and not retired, in ascending slot order, the id of its next generation
 * (generation << slot_bits | slot). Writes at most capacity ids to out and returns how many
 * (continue from the slot after the last one written; fewer than capacity: no more), or a
 * negative SPATE_ERROR_* (NULL_ARGUMENT, UNKNOWN_TYPE). A restarted pipeline rebuilds its id
 * allocator from this. Precondition: no apply of the type runs concurrently.
 */
int64_t spate_store_free_ids(
    spate_store *store, uint16_t type_id, int64_t from_slot, int64_t *out, uint32_t capacity);

/*
 * Commits (touches) memory ahead for node_count nodes of the type, so later creates do not pay
 * for first-touch page faults: the rows of slots 1..node_count (clamped to maxNodes) and the same
 * share of the arena (maxArenaBytes * node_count / maxNodes). Contents are never changed, so it
 * may run concurrently with anything. node_count <= 0 does nothing. Returns 0 or a negative
 * SPATE_ERROR_* (OUT_OF_MEMORY when the kernel cannot provide the memory).
 */
int32_t spate_store_reserve(spate_store *store, uint16_t type_id, int64_t node_count);

/*
 * Snapshots: the whole state of a store as one byte image, to load into a fresh store of the same
 * schema after a restart. Its size follows the live data (live rows and values), plus 16 bytes per
 * freed slot, never the number of creates ever applied. The image carries no checksum of its own:
 * integrity against storage damage is the caller's (the pipeline's snapshot file has a CRC32C over
 * everything). A load checks everything that memory safety and the store's invariants depend on,
 * so a damaged image is refused or loads a store that is consistent (every reference inside it,
 * counts matching), never one that reads or writes out of bounds; but a flipped byte inside a value
 * or a fixed row is loaded as it is.
 *
 * Image format, version 2 (all integers little-endian; every part a multiple of 8 bytes long):
 *   header, 32 bytes: u64 magic "SPATESNP" (the ASCII bytes in order), u32 version (2),
 *     u32 type count, u64 image length in bytes, u64 schema fingerprint: the hash defined at
 *     spate_store_checksum (seed, word, avalanche) over word(schemaHash), word(type count), then
 *     per type in type id order word() of its id, maxNodes, maxArenaBytes, rowLengthBytes and
 *     field count, and per field in field id order word() of its id, kind, offset (0 for
 *     string/bytes) and maxLengthBytes. A store of another layout or database schema hash has
 *     another fingerprint (unless the 64-bit hash collides);
 *   then per type, in ascending type id order:
 *     40 bytes: u16 type id, u16 0, u32 row stride in bytes, u64 highest slot used, u64 live
 *       count, u64 freed slot count, u64 arena bytes;
 *     live count live rows, ascending slots: u64 slot, then the row as the store keeps it (stride
 *       bytes: a u64 header, state 1 in its low byte and the generation above; the fixed row
 *       padded to 8 with zeros; per string/bytes field in field id order u64 arena offset, u32
 *       length, u32 capacity, where capacity is the smallest block that holds the length (0 for an
 *       empty value, whose offset is 0) and the offsets lay the values out one after the other,
 *       in slot and field order, from 0);
 *     freed slot count records, ascending slots: u64 slot, u64 next generation (1 to the largest
 *       generation + 1, which is a retired slot), for every slot up to the highest used that is not
 *       live and has a next generation above 0 (the others are never used, and implied);
 *     the arena: arena bytes (the sum of the capacities above), the values in that layout, each
 *       block's bytes past its value's length zero.
 * An empty store's image is 32 + 40 bytes per type. Images of version 1 (before slots were
 * reused) are refused with SNAPSHOT_VERSION.
 */

/*
 * The exact length spate_store_snapshot_write needs now, or a negative SPATE_ERROR_*
 * (NULL_ARGUMENT; OUT_OF_MEMORY if it would not fit an int64_t, which no real store reaches).
 * Computed from counters, not a walk. Same precondition as spate_store_snapshot_write.
 */
int64_t spate_store_snapshot_length(spate_store *store);

/*
 * Writes the store's image (see above) to out: a walk of each type's used slots that copies the
 * live rows and their values. Returns the bytes written (what spate_store_snapshot_length said,
 * when nothing was applied in between), or a negative SPATE_ERROR_*: BUFFER_TOO_SMALL when
 * capacity_bytes is not enough (out may then hold a partial image), NULL_ARGUMENT for a null
 * store, or a null out with a non-zero capacity.
 * Precondition: no apply (of any type) and no load runs concurrently; reads (get, exists,
 * node_state, count, type_stats, checksum) and reserve may. out may have any alignment.
 */
int64_t spate_store_snapshot_write(spate_store *store, uint8_t *out, uint64_t capacity_bytes);

/*
 * Loads an image written by spate_store_snapshot_write into a store that was opened with the same
 * schema and has not been applied to since (reserve is fine). Afterwards every get, exists,
 * node_state, count, free_ids and checksum answers as in the store the image was taken from, and
 * applying the same records to both gives the same results and ids.
 * Returns 0, or a negative SPATE_ERROR_*, checked in this order:
 *   NULL_ARGUMENT: a null store, or a null image with a non-zero length;
 *   STORE_NOT_EMPTY: some type of the store has a slot used or arena bytes handed out;
 *   BAD_SNAPSHOT: no magic (fewer than 8 bytes: SNAPSHOT_TRUNCATED);
 *   SNAPSHOT_TRUNCATED: length_bytes shorter than the header or than the image length it states;
 *   SNAPSHOT_VERSION: a version other than 2;
 *   SNAPSHOT_SCHEMA: another schema fingerprint or type count;
 *   BAD_SNAPSHOT: anything else out of place, every value checked before it is used: bytes after
 *     the stated length; a type id not of the schema or out of order; a stride not the type's; a
 *     highest slot above slot_limit, or not the slot of the last live row or freed record; a live
 *     count above maxNodes or the highest slot; a freed count
 *     above the slots left; arena bytes above maxArenaBytes, not a multiple of 8, or any for a type
 *     without string/bytes fields; a live row's slot not ascending or outside 1..highest slot, its
 *     state not live, its generation or padding out of place, a value longer than its field's
 *     maximum, a capacity not the smallest block for its length, an offset not where the layout
 *     puts it or past the arena bytes; values that do not fill the arena bytes exactly; bytes of a
 *     block past its value's length that are not zero; a freed record's slot not ascending, outside
 *     1..highest slot, or of a live row, or its next generation outside 1..largest + 1; parts that
 *     do not add up to the stated length;
 *   OUT_OF_MEMORY: the memory for the rows or arena could not be committed.
 * On an error the store is emptied again, every type as after open (what the load wrote is
 * released with MADV_DONTNEED), so it may be closed or another image loaded into it.
 * Precondition: no other call on the store runs concurrently (reads included: they would see
 * rows half loaded). The image may have any alignment and is only read.
 */
int32_t spate_store_snapshot_load(spate_store *store, const uint8_t *image, uint64_t length_bytes);

/*
 * A 64-bit hash of the logical content of one type, written to *out; returns 0 or a negative
 * SPATE_ERROR_* (NULL_ARGUMENT, UNKNOWN_TYPE). Two stores that applied the same records, and a
 * store loaded from another's snapshot, give the same value; where values sit in the arena (in
 * place or moved, free blocks, compactions) does not matter. Precondition: no apply of this type
 * runs concurrently (the result would be of no single state; memory is still never read out of
 * bounds); reads may.
 * Definition (so that it can be recomputed elsewhere): a state h starts at the seed
 * 0x5350415445483634 ("SPATEH64" read big-endian). word(x) mixes one u64 into it with XXH64's
 * 8-byte step: k = rotl64(x * P2, 31) * P1; h = rotl64(h ^ k, 27) * P1 + P4. bytes(b, n) is
 * word(n), then word() of each full 8 bytes of b read little-endian, then, if n % 8 != 0, word()
 * of the last n % 8 bytes zero-extended. The type contributes word(type id), word(highest slot
 * used), word(live count), then for slots 1 .. highest slot used in order: each maximal run of
 * never-used slots (not live, next generation 0) as word(0), word(run length); another slot that
 * is not live as word(2), word(its next generation); a live slot as word(1), word(generation),
 * bytes(fixed row, rowLengthBytes), then bytes(value, length) per string/bytes field in field id
 * order. The result is XXH64's avalanche of h: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3;
 * h ^= h >> 32. P1..P4 are XXH64's primes 0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F,
 * 0x165667B19E3779F9, 0x85EBCA77C2B2AE63. It walks the type slot by slot (slots in never-written
 * 2 MiB of rows are counted, not visited): a check, not a hot-path call. Not a cryptographic hash.
 */
int32_t spate_store_checksum(spate_store *store, uint16_t type_id, uint64_t *out);

#ifdef __cplusplus
}
#endif

#endif
