/*
 * Spate native store: per type an array of fixed-width rows indexed by id (address space for
 * maxNodes reserved at open, committed as it is touched or by spate_store_reserve), variable
 * fields (string/bytes) in a per-type arena, tombstones for deletes, ids never reused.
 *
 * The store never trusts its input: every length and offset read from a record is checked
 * against the slice it came from. A bad record gets an error status and the walk goes on
 * when its frame length is known; when the frame itself is unusable the walk stops cleanly
 * with one MALFORMED entry covering the rest. No global state: everything hangs off a handle.
 *
 * Threading: one writer per type at a time (the pipeline's type affinity guarantees it).
 * Reads (spate_store_get, _exists, _count) may run on other threads while a type is written:
 * each type has a sequence lock (striped by node id, so readers of one node are not held up by
 * writes to others), so a read never returns a torn row, and row and arena memory is reserved
 * once and never moves.
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
 * Per type, the rows of all maxNodes ids and the whole arena are reserved (not committed) here,
 * once, so no row or value ever moves.
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
 *   4. State: Create: the id it asks for is its nodeId, or the type's next id when nodeId is 0;
 *      that id below the next id (consumed already, or negative): ID_MISMATCH; above maxNodes:
 *      TYPE_FULL. Update/Delete/Increment: createRef not the 1-based position, counted from the
 *      latest BatchHeader, of an earlier Create of the same type that was OK in this call:
 *      BAD_REFERENCE; target never created, or deleted: NO_SUCH_NODE. Then ARENA_FULL.
 * Create ids: the pipeline is the one source of truth for ids. A Create whose block is readable
 * and whose type exists CONSUMES the id it asks for exactly when that id is >= the type's next
 * id and <= maxNodes: nodeId 0 takes the next id; an explicit nodeId takes exactly nodeId, and
 * the ids from the next id to nodeId - 1 are consumed as never-live (they read as no such node
 * forever, as a refused Create's id does: ids are never reused), so records the pipeline
 * numbered but the store never saw leave gaps instead of refusing every later Create. Either
 * way the next id becomes the id taken + 1, whatever else fails (MALFORMED, UNKNOWN_FIELD,
 * VALUE_TOO_LARGE, ARENA_FULL leave a never-live tombstone), so the pipeline's ids stay in
 * step; the status is then the static one if any, else ARENA_FULL or OK. A Create whose id
 * is refused (below the next id, or above maxNodes, as in 4.) consumes nothing, skipped ids
 * included, and reports its static status if any, else ID_MISMATCH or TYPE_FULL. Skipped ids
 * cost nothing: no row is written for them and no memory committed, nor by reading, updating,
 * deleting or incrementing them later. Var fields not sent are empty; a field sent twice: the
 * last value wins.
 * Records are applied whole or not at all. Fixed values are little-endian bytes copied into the
 * row; a string/bytes value is overwritten in place when it fits the space the field had, else
 * moved to new arena space. An Update without fields of a live node is OK and changes nothing.
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
 * Returns the number of bytes written, or a negative SPATE_ERROR_* (NO_SUCH_NODE for a
 * missing or deleted node, BUFFER_TOO_SMALL when out_capacity_bytes is not enough,
 * NULL_ARGUMENT for a null out with a non-zero capacity). On an error out may hold garbage.
 * Safe against a concurrent writer of the type: the copy is one consistent version of the node.
 */
int64_t spate_store_get(
    spate_store *store, uint16_t type_id, int64_t node_id, uint8_t *out, uint32_t out_capacity_bytes);

/* 1 if the node is live, 0 if not, negative SPATE_ERROR_UNKNOWN_TYPE (or NULL_ARGUMENT). Seqlocked like get. */
int32_t spate_store_exists(spate_store *store, uint16_t type_id, int64_t node_id);

/* What became of a node id: 0 never live (not taken yet, skipped, or its Create was refused), 1 live,
   2 deleted; negative SPATE_ERROR_UNKNOWN_TYPE (or NULL_ARGUMENT). Seqlocked like get. */
int32_t spate_store_node_state(spate_store *store, uint16_t type_id, int64_t node_id);

/* Live nodes of a type, or negative SPATE_ERROR_UNKNOWN_TYPE (or NULL_ARGUMENT). Any thread. */
int64_t spate_store_count(spate_store *store, uint16_t type_id);

/*
 * The lowest id a Create of the type may still take (what nodeId 0 takes; explicit ids below it
 * are ID_MISMATCH), maxNodes + 1 when the type is full, or negative SPATE_ERROR_UNKNOWN_TYPE (or
 * NULL_ARGUMENT). Any thread.
 */
int64_t spate_store_next_id(spate_store *store, uint16_t type_id);

/*
 * Commits (touches) memory ahead for node_count nodes of the type, so later creates do not pay
 * for first-touch page faults: the rows of ids 1..node_count (clamped to maxNodes) and the same
 * share of the arena (maxArenaBytes * node_count / maxNodes). Contents are never changed, so it
 * may run concurrently with anything. node_count <= 0 does nothing. Returns 0 or a negative
 * SPATE_ERROR_* (OUT_OF_MEMORY when the kernel cannot provide the memory).
 */
int32_t spate_store_reserve(spate_store *store, uint16_t type_id, int64_t node_count);

/*
 * Snapshots: the whole state of a store as one byte image, to load into a fresh store of the same
 * schema after a restart. The image carries no checksum of its own: integrity against storage
 * damage is the caller's (the pipeline's snapshot file has a CRC32C over everything). A load
 * checks everything that memory safety and the store's invariants depend on, so a damaged image
 * is refused or loads a store that is consistent (every reference inside it, counts matching),
 * never one that reads or writes out of bounds; but a flipped byte inside a value or a fixed row
 * is loaded as it is.
 *
 * Image format, version 1 (all integers little-endian; every part a multiple of 8 bytes long):
 *   header, 32 bytes: u64 magic "SPATESNP" (the ASCII bytes in order), u32 version (1),
 *     u32 type count, u64 image length in bytes, u64 schema fingerprint: the hash defined at
 *     spate_store_checksum (seed, word, avalanche) over word(schemaHash), word(type count), then
 *     per type in type id order word() of its id, maxNodes, maxArenaBytes, rowLengthBytes and
 *     field count, and per field in field id order word() of its id, kind, offset (0 for
 *     string/bytes) and maxLengthBytes. A store of another layout or database schema hash has
 *     another fingerprint (unless the 64-bit hash collides);
 *   then per type, in ascending type id order:
 *     40 bytes: u16 type id, u16 0, u32 row stride in bytes, i64 next id, i64 live count,
 *       u64 arena bytes used, u64 segment count;
 *     segments, ascending and disjoint: i64 first id, u64 row count, then the rows of those ids
 *       exactly as the store keeps them (row count * stride bytes: an 8-byte header whose first
 *       byte is the state 0 never live / 1 live / 2 deleted, the fixed row padded to 8, then per
 *       string/bytes field in field id order u64 arena offset, u32 length, u32 capacity);
 *     the used arena bytes, zero-padded to a multiple of 8.
 * Rows are saved per 2 MiB of row memory that was ever written (the store keeps one bit for
 * each), below the next id: ids skipped by explicit Create ids cost nothing unless they share 2 MiB
 * with a written row, so the image is about as large as the row and arena memory the store uses.
 * An empty store's image is 32 + 40 bytes per type.
 */

/*
 * The exact length spate_store_snapshot_write needs now, or a negative SPATE_ERROR_*
 * (NULL_ARGUMENT; OUT_OF_MEMORY if it would not fit an int64_t, which no real store reaches).
 * Same precondition as spate_store_snapshot_write.
 */
int64_t spate_store_snapshot_length(spate_store *store);

/*
 * Writes the store's image (see above) to out: memcpy of the written row ranges and of the used
 * arena of every type, nothing walked node by node. Returns the bytes written (what
 * spate_store_snapshot_length said, when nothing was applied in between), or a negative
 * SPATE_ERROR_*: BUFFER_TOO_SMALL when capacity_bytes is not enough (out may then hold a partial
 * image), NULL_ARGUMENT for a null store, or a null out with a non-zero capacity.
 * Precondition: no apply (of any type) and no load runs concurrently; reads (get, exists,
 * node_state, count, next_id, checksum) and reserve may. out may have any alignment.
 */
int64_t spate_store_snapshot_write(spate_store *store, uint8_t *out, uint64_t capacity_bytes);

/*
 * Loads an image written by spate_store_snapshot_write into a store that was opened with the same
 * schema and has not been applied to since (reserve is fine). Afterwards every get, exists,
 * node_state, count, next_id and checksum answers as in the store the image was taken from, and
 * applying the same records to both gives the same results.
 * Returns 0, or a negative SPATE_ERROR_*, checked in this order:
 *   NULL_ARGUMENT: a null store, or a null image with a non-zero length;
 *   STORE_NOT_EMPTY: some type of the store has a next id above 1 or arena bytes used;
 *   BAD_SNAPSHOT: no magic (fewer than 8 bytes: SNAPSHOT_TRUNCATED);
 *   SNAPSHOT_TRUNCATED: length_bytes shorter than the header or than the image length it states;
 *   SNAPSHOT_VERSION: a version other than 1;
 *   SNAPSHOT_SCHEMA: another schema fingerprint or type count;
 *   BAD_SNAPSHOT: anything else out of place, every value checked before it is used: bytes after
 *     the stated length; a type id not of the schema or out of order; a stride not the type's; a
 *     next id outside 1..maxNodes+1; a live count outside 0..next id-1 or not the number of live
 *     rows; arena bytes used above maxArenaBytes (or any, for a type without string/bytes fields);
 *     a segment not ascending, empty, or reaching the next id, or longer than the bytes left; a
 *     row whose state is not 0, 1 or 2, whose header or padding bytes are not zero, never-live
 *     rows not all zero; a string/bytes slot of a live or deleted row with length > capacity,
 *     capacity > the field's maximum length, or offset + capacity past the arena bytes used;
 *     non-zero arena padding; parts that do not add up to the stated length;
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
 * place or moved, dead bytes) does not matter. Precondition: no apply of this type runs
 * concurrently (the result would be of no single state; memory is still never read out of
 * bounds); reads may.
 * Definition (so that it can be recomputed elsewhere): a state h starts at the seed
 * 0x5350415445483634 ("SPATEH64" read big-endian). word(x) mixes one u64 into it with XXH64's
 * 8-byte step: k = rotl64(x * P2, 31) * P1; h = rotl64(h ^ k, 27) * P1 + P4. bytes(b, n) is
 * word(n), then word() of each full 8 bytes of b read little-endian, then, if n % 8 != 0, word()
 * of the last n % 8 bytes zero-extended. The type contributes word(type id), word(next id),
 * word(live count), then for ids 1 .. next id - 1 in order: each maximal run of never-live ids
 * as word(0), word(run length); a deleted id as word(2); a live id as word(1), bytes(fixed row,
 * rowLengthBytes), then bytes(value, length) per string/bytes field in field id order. The
 * result is XXH64's avalanche of h: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32.
 * P1..P4 are XXH64's primes 0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
 * 0x85EBCA77C2B2AE63. It walks the type node by node (ids in never-written 2 MiB of rows are
 * counted, not visited): a check, not a hot-path call. Not a cryptographic hash.
 */
int32_t spate_store_checksum(spate_store *store, uint16_t type_id, uint64_t *out);

#ifdef __cplusplus
}
#endif

#endif
