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
 * After each message it stores (*progress_counter at entry) + bytes consumed so far to
 * *progress_counter with release semantics (an Aeron counter); progress_counter may be null.
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

#ifdef __cplusplus
}
#endif

#endif
