/*
 * Spate native store. See spate_store.h for the contract; this file explains the how.
 *
 * Layout per type (everything reserved once at open, so nothing ever moves under a reader):
 *   rows:  slot_limit rows of row_stride_bytes; the row of slot s is at index s - 1.
 *          [ header 8 bytes: state (free/live) | generation << 8 | wire fixed row, padded to 8 |
 *            one spate_slot (16 bytes) per string/bytes field, in field-id order ]
 *          A live row's header holds its node's generation; a free row's the next generation a
 *          Create may take there (0 for a slot never used, whose row may never have been written).
 *   arena: maxArenaBytes of variable field data in blocks of size classes (spate_class_of). A
 *          freed block goes on its class's free list (the link is kept in the block's first 8
 *          bytes); new blocks come from the free list, else from the top of the arena, else from
 *          a larger class's list, else from a compaction (spate_arena_compact).
 *   rows_written: one bit per 2 MiB of rows, set before the first row there is written, so
 *          that slots a Create skipped are found not live without touching (committing) their rows.
 *
 * Concurrency: one writer per type (several writers on different types may run at once; all
 * mutable state is per type). Readers use a sequence lock per type, striped by slot: a write to
 * slot s bumps stripe s % SPATE_SEQUENCE_STRIPES to odd before and to even after.
 *
 * Reader safety under reuse. A reader of a node copies its row and the arena bytes its slots
 * name between two loads of the node's stripe, and reads again when they differ. The writer
 * keeps one rule: bytes a live row references stop being referenced only inside a write section
 * of that row's stripe (a delete, a value that moves, a compaction moving it), and only after
 * that section may the bytes go to anyone else (free list link, another node's value, a new row
 * in a reused slot). So if a reader copied bytes that were reused, the reuse came after the end
 * of a write section on the reader's stripe; that section's release store, and the release fence
 * every later write section begins with, order it before the reused bytes, and the reader's
 * acquire fence before its second stripe load makes that load see the bump: it reads again. A
 * reused slot carries a new generation in its header, written in the same section as the row,
 * so a reader of the old id sees either the old live row (consistent) or not its generation.
 * Tested by the concurrent reader in store_test.c (also under ASan + UBSan).
 *
 * Input is never trusted: every read of a record is bounds-checked against its frame (the
 * generated SBE decoders check positions, and the code below checks what they do not: var-data
 * length prefixes, group block lengths, leftover bytes).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* MADV_HUGEPAGE, MADV_POPULATE_WRITE, MAP_NORESERVE */
#endif

#include "spate_store.h"

#include <assert.h>
#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>

#include "io_spate_wire/batchHeader.h"
#include "io_spate_wire/create.h"
#include "io_spate_wire/delete.h"
#include "io_spate_wire/fieldKind.h"
#include "io_spate_wire/increment.h"
#include "io_spate_wire/messageHeader.h"
#include "io_spate_wire/storeSchema.h"
#include "io_spate_wire/update.h"

#if defined(__has_include)
#if __has_include("io_spate_wire/recordStatus.h")
#include "io_spate_wire/recordStatus.h"
#define SPATE_CHECK_STATUS(name) \
    static_assert((int)io_spate_wire_recordStatus_##name == SPATE_STATUS_##name, "status " #name)
SPATE_CHECK_STATUS(OK);
SPATE_CHECK_STATUS(UNKNOWN_TYPE);
SPATE_CHECK_STATUS(UNKNOWN_FIELD);
SPATE_CHECK_STATUS(VALUE_TOO_LARGE);
SPATE_CHECK_STATUS(NO_SUCH_NODE);
SPATE_CHECK_STATUS(MALFORMED);
SPATE_CHECK_STATUS(SCHEMA_MISMATCH);
SPATE_CHECK_STATUS(BAD_REFERENCE);
SPATE_CHECK_STATUS(ID_MISMATCH);
SPATE_CHECK_STATUS(TYPE_FULL);
SPATE_CHECK_STATUS(WRONG_FIELD_KIND);
SPATE_CHECK_STATUS(ARENA_FULL);
SPATE_CHECK_STATUS(UNKNOWN_TEMPLATE);
#endif
#endif

static_assert(sizeof(spate_result) == SPATE_RESULT_LENGTH_BYTES, "spate_result is 16 bytes (Java reads it)");
static_assert(offsetof(spate_result, node_id) == 0, "spate_result.node_id at 0");
static_assert(offsetof(spate_result, offset_bytes) == 8, "spate_result.offset_bytes at 8");
static_assert(offsetof(spate_result, status) == 12, "spate_result.status at 12");
static_assert(offsetof(spate_result, template_id) == 13, "spate_result.template_id at 13");
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "rows hold little-endian wire bytes and are added to natively");
static_assert(sizeof(void *) == 8, "pointers are passed from Java as 64-bit integers");

static_assert(sizeof(spate_type_stats) == SPATE_TYPE_STATS_LENGTH_BYTES, "spate_type_stats is read by Java at fixed offsets");
static_assert(offsetof(spate_type_stats, arena_capacity_bytes) == 48, "spate_type_stats.arena_capacity_bytes at 48");
static_assert(offsetof(spate_type_stats, slot_bits) == 88, "spate_type_stats.slot_bits at 88");
/* Debug builds (no NDEBUG: the sanitizer build) abort on a broken invariant; input errors are statuses. */
#ifndef NDEBUG
static void spate_assert_failed(const char *condition, const char *file, int line)
{
    fprintf(stderr, "%s:%d: spate invariant violated: %s\n", file, line, condition);
    abort();
}
#define SPATE_ASSERT(condition) ((condition) ? (void)0 : spate_assert_failed(#condition, __FILE__, __LINE__))
#else
#define SPATE_ASSERT(condition) ((void)sizeof(condition))
#endif

/*
 * Messages the row prefetch runs ahead of the walk (see spate_prefetch_next). Measured on random
 * single-field updates over 10M nodes: 8 is 15% slower than 16, 24 no faster.
 */
#ifndef SPATE_PREFETCH_DISTANCE
#define SPATE_PREFETCH_DISTANCE 16
#endif

/*
 * The walk publishes its progress once this many bytes more are applied, and at its end: a release
 * store after every message put the counter's cache line in play between the worker and the
 * conductor polling it ~100 times per 100-record batch, for a reclaim that only needs a few KB steps.
 */
#ifndef SPATE_PROGRESS_PUBLISH_BYTES
#define SPATE_PROGRESS_PUBLISH_BYTES 4096
#endif

#define SPATE_LIKELY(x) __builtin_expect(!!(x), 1)
#define SPATE_UNLIKELY(x) __builtin_expect(!!(x), 0)

enum
{
    SPATE_HEADER_LENGTH_BYTES = 12,   /* the custom message header, frameLengthBytes included */
    SPATE_ROW_HEADER_BYTES = 8,       /* state and generation, one u64 */
    SPATE_SLOT_BYTES = 16,
    SPATE_SEQUENCE_STRIPES = 64,      /* power of two */
    SPATE_CACHE_LINE_BYTES = 64,
    SPATE_PAGE_BYTES = 4096,
    SPATE_HUGE_PAGE_BYTES = 2 * 1024 * 1024,
    SPATE_ARENA_CLASSES = 68,         /* spate_class_of: 16 classes up to 128 bytes, 4 per doubling to 1 MiB */
    SPATE_ARENA_BLOCK_ALIGN = 8,
    SPATE_MIN_SLOT_BITS = 8,          /* so a generation fits the 56 bits above a row header's state */
    SPATE_RETIREMENT_SHIFT = 11,      /* allowance 2^(slot_bits - 11) slots: 2^52 creates before any slot shortage */
    SPATE_ARENA_COMPACT_MIN_FREE_BYTES = 256 * 1024, /* free bytes below this never trigger a compaction */
};

static_assert(SPATE_MAX_VAR_LENGTH_BYTES == 1 << 20, "spate_class_of's classes end at 1 MiB");

enum
{
    SPATE_STATE_FREE = 0,    /* not live: never used (generation 0), deleted, or its Create failed */
    SPATE_STATE_LIVE = 1,
};

#define SPATE_HEADER_STATE_MASK UINT64_C(0xFF)
#define SPATE_HEADER_GENERATION_SHIFT 8

/* Where a string/bytes value lives. Written only inside the writer's critical section. */
typedef struct spate_slot
{
    uint64_t arena_offset_bytes;
    uint32_t length_bytes;
    uint32_t capacity_bytes;    /* the block's size: a size class, or 0 for an empty value without a block */
} spate_slot;

static_assert(sizeof(spate_slot) == SPATE_SLOT_BYTES, "slot is 16 bytes");

typedef struct spate_field
{
    uint32_t offset_bytes;      /* fixed fields: offset in the wire row */
    uint32_t max_length_bytes;  /* fixed fields: the width; string/bytes: the longest value */
    uint16_t field_id;
    uint16_t var_index;         /* string/bytes fields: index of the slot */
    uint8_t kind;               /* enum io_spate_wire_fieldKind */
    bool is_var;
} spate_field;

/* Per-record scratch of the writer: the value a record sets for a field (the last one sent). */
typedef struct spate_pending
{
    uint64_t stamp;             /* == type's record_stamp when set by the current record */
    const uint8_t *value;
    uint32_t length_bytes;
} spate_pending;

/* A block a record takes before its write section (see spate_arena_take_blocks). */
typedef struct spate_block
{
    const uint8_t *value;       /* a Create's value for it (Updates keep theirs in the pending table) */
    uint64_t offset_bytes;
    uint32_t capacity_bytes;    /* what it has: its class's size, or a larger class's */
    uint32_t length_bytes;      /* of the value that goes in */
    uint32_t request_bytes;     /* the smallest block for length_bytes */
    uint16_t var_index;
    uint8_t size_class;         /* of request_bytes */
    bool from_top;              /* cut from the arena's top, not a free list: how to give it back */
} spate_block;

/* What became of one value an Update wrote: the counters to move after the write section. */
typedef struct spate_value_change
{
    uint64_t old_offset_bytes;
    uint32_t old_capacity_bytes;
    uint32_t old_length_bytes;
    uint32_t new_length_bytes;
    uint32_t new_capacity_bytes;   /* of the new block, or 0 when written in place */
} spate_value_change;

typedef struct spate_type
{
    /* Read-only after open. */
    uint8_t *rows;
    uint8_t *arena;                       /* NULL when the type has no string/bytes field */
    uint64_t *rows_written;               /* one bit per SPATE_HUGE_PAGE_BYTES of rows, see spate_row_written */
    uint64_t rows_written_words;
    uint64_t rows_mapped_bytes;
    uint64_t arena_mapped_bytes;
    uint64_t arena_capacity_bytes;
    int64_t max_nodes;
    int64_t slot_limit;                   /* max_nodes + the retirement allowance */
    uint64_t slot_mask;                   /* 2^slot_bits - 1 */
    uint64_t max_generation;              /* 2^(63 - slot_bits) - 1 */
    uint32_t slot_bits;
    spate_field *fields;                  /* dense, ascending field id */
    uint16_t *field_index_by_id;          /* field id -> dense index + 1; 0: no such field */
    uint16_t *var_field_index;            /* slot index -> dense field index */
    uint32_t field_id_limit;              /* largest field id + 1 */
    uint32_t field_count;
    uint32_t var_count;
    uint32_t row_length_bytes;
    uint32_t row_stride_bytes;
    uint32_t slots_offset_bytes;
    uint16_t type_id;

    /* The writer's own (one writer per type). */
    alignas(SPATE_CACHE_LINE_BYTES) uint64_t arena_top_bytes;      /* blocks ever cut from [0, top) */
    uint64_t arena_free_heads[SPATE_ARENA_CLASSES];                /* offset + 1 of the first free block; 0: none */
    uint64_t arena_free_mask[2];                                   /* bit per class: its list is not empty */
    uint64_t record_stamp;
    spate_pending *pending;               /* by dense field index */
    uint16_t *touched;                    /* dense field indexes the current record set */
    spate_block *blocks;                  /* var_count: the blocks the current record takes */
    spate_value_change *changes;          /* var_count: what the current Update did to each value */

    /* Shared with readers and reserve: written by the writer only, read with acquire anywhere. */
    alignas(SPATE_CACHE_LINE_BYTES) _Atomic int64_t high_water_slot;
    _Atomic int64_t live_count;
    _Atomic int64_t freed_slots;                  /* not live, next generation > 0, retired included */
    _Atomic int64_t retired_slots;
    _Atomic uint64_t arena_free_bytes;            /* sum of the blocks on free lists */
    _Atomic uint64_t arena_tight_bytes;           /* sum of spate_class_bytes(length) over live values */
    _Atomic uint64_t arena_reserved_bytes;        /* == arena_top_bytes, for readers; held = reserved - free */
    _Atomic uint64_t arena_compactions;
    _Atomic uint64_t rows_populated_bytes;
    _Atomic uint64_t arena_populated_bytes;
    alignas(SPATE_CACHE_LINE_BYTES) _Atomic uint64_t sequence[SPATE_SEQUENCE_STRIPES];
} spate_type;

struct spate_store
{
    int64_t schema_hash;
    uint64_t schema_fingerprint;          /* of the layouts, see spate_store.h (snapshots) */
    uint32_t type_count;
    uint32_t type_id_limit;               /* largest type id + 1 */
    spate_type *types;                    /* dense, in schema order */
    spate_type **type_by_id;              /* type id -> type, NULL: no such type */
};

/* One apply call's walk. Batch state lives here, never in the store (writers of other types
   may be walking their own slices at the same time). */
typedef struct spate_walk
{
    const uint8_t *records;
    uint8_t *results;                     /* spate_result entries, any alignment: accessed by memcpy */
    uint32_t result_count;                /* also the index of the current message's result */
    uint32_t ref_base_index;              /* result index of record 1 of the current batch */
    bool batch_rejected;                  /* after a BatchHeader with another hash, or malformed */
} spate_walk;

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                               */
/* ------------------------------------------------------------------------------------------ */

static inline uint64_t spate_round_up(uint64_t value, uint64_t multiple)
{
    return (value + multiple - 1) / multiple * multiple;
}

static inline spate_type *spate_find_type(const spate_store *store, uint16_t type_id)
{
    return type_id < store->type_id_limit ? store->type_by_id[type_id] : NULL;
}

static inline const spate_field *spate_find_field(const spate_type *type, uint16_t field_id)
{
    if (field_id >= type->field_id_limit)
    {
        return NULL;
    }
    const uint32_t index_plus_one = type->field_index_by_id[field_id];
    return index_plus_one == 0 ? NULL : &type->fields[index_plus_one - 1];
}

/* Ids: generation << slot_bits | slot. A valid id has a slot in 1..slot_limit (so it is > 0). */
static inline int64_t spate_slot_of(const spate_type *type, int64_t node_id)
{
    return (int64_t)((uint64_t)node_id & type->slot_mask);
}

static inline uint64_t spate_generation_of(const spate_type *type, int64_t node_id)
{
    return (uint64_t)node_id >> type->slot_bits;
}

static inline int64_t spate_make_id(const spate_type *type, uint64_t generation, int64_t slot)
{
    SPATE_ASSERT(generation <= type->max_generation && slot >= 1 && slot <= type->slot_limit);
    return (int64_t)(generation << type->slot_bits | (uint64_t)slot);
}

/* The slot an id names, or 0 when no id of the type could name one (negative, slot 0 or past the limit). */
static inline int64_t spate_valid_slot(const spate_type *type, int64_t node_id)
{
    if (node_id <= 0)
    {
        return 0;
    }
    const int64_t slot = spate_slot_of(type, node_id);
    return slot <= type->slot_limit ? slot : 0;
}

static inline uint8_t *spate_row(const spate_type *type, int64_t slot)
{
    SPATE_ASSERT(slot >= 1 && slot <= type->slot_limit);
    return type->rows + (uint64_t)(slot - 1) * type->row_stride_bytes;
}

/*
 * Row memory is committed where it is first touched, and even a read commits it (a whole huge
 * page under THP). A Create may skip any number of slots, so a read of a slot in such a gap must
 * not touch its row, or reading a few gap ids could commit gigabytes that hold nothing. The
 * writer sets the bit of each SPATE_HUGE_PAGE_BYTES of rows before it first writes a row there,
 * and every read of a row checks it first: a row whose bit is clear was never written, so it is
 * free with next generation 0. Readers on other threads see the bit of a row a Create wrote: it
 * is set before the Create's release store of high_water_slot, which they load with acquire
 * before they look.
 */
static inline bool spate_row_written(const spate_type *type, int64_t slot)
{
    const uint64_t chunk = (uint64_t)(slot - 1) * type->row_stride_bytes / SPATE_HUGE_PAGE_BYTES;
    return ((__atomic_load_n(&type->rows_written[chunk / 64], __ATOMIC_RELAXED) >> (chunk % 64)) & 1) != 0;
}

/* Marks every chunk of rows that [first_byte, last_byte] of the rows region spans. */
static inline void spate_mark_rows_written(spate_type *type, uint64_t first_byte, uint64_t last_byte)
{
    for (uint64_t chunk = first_byte / SPATE_HUGE_PAGE_BYTES; chunk <= last_byte / SPATE_HUGE_PAGE_BYTES; chunk++)
    {
        uint64_t *word = &type->rows_written[chunk / 64];
        const uint64_t bit = UINT64_C(1) << (chunk % 64);
        const uint64_t value = __atomic_load_n(word, __ATOMIC_RELAXED);
        if ((value & bit) == 0)
        {
            __atomic_store_n(word, value | bit, __ATOMIC_RELAXED); /* one writer per type: no lost bits */
        }
    }
}

/* The writer's half of spate_row_written: marks every chunk the row spans (two at most). */
static inline void spate_mark_row_written(spate_type *type, int64_t slot)
{
    const uint64_t first_byte = (uint64_t)(slot - 1) * type->row_stride_bytes;
    spate_mark_rows_written(type, first_byte, first_byte + type->row_stride_bytes - 1);
}

static inline spate_slot *spate_row_slot(const spate_type *type, uint8_t *row, uint32_t var_index)
{
    SPATE_ASSERT(var_index < type->var_count);
    return (spate_slot *)(row + type->slots_offset_bytes + (uint64_t)var_index * SPATE_SLOT_BYTES);
}

/* Row headers: one u64, loaded and stored whole (rows are 8-aligned), so a reader sees state and generation of one write. */
static inline uint64_t spate_row_header(const uint8_t *row)
{
    return __atomic_load_n((const uint64_t *)(const void *)row, __ATOMIC_RELAXED);
}

static inline void spate_set_row_header(uint8_t *row, uint64_t header)
{
    __atomic_store_n((uint64_t *)(void *)row, header, __ATOMIC_RELAXED);
}

static inline uint64_t spate_header(uint8_t state, uint64_t generation)
{
    return (uint64_t)state | generation << SPATE_HEADER_GENERATION_SHIFT;
}

static inline uint8_t spate_header_state(uint64_t header)
{
    return (uint8_t)(header & SPATE_HEADER_STATE_MASK);
}

static inline uint64_t spate_header_generation(uint64_t header)
{
    return header >> SPATE_HEADER_GENERATION_SHIFT;
}

/* A slot's header as the writer sees it: a row never written reads as free with next generation 0. */
static inline uint64_t spate_slot_header(const spate_type *type, int64_t slot)
{
    return spate_row_written(type, slot) ? spate_row_header(spate_row(type, slot)) : spate_header(SPATE_STATE_FREE, 0);
}

/* Writer-only counters that readers load with acquire: relaxed read of the writer's own value, release store. */
static inline void spate_add_i64(_Atomic int64_t *counter, int64_t delta)
{
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + delta, memory_order_release);
}

static inline void spate_add_u64(_Atomic uint64_t *counter, uint64_t delta)
{
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + delta, memory_order_release);
}

static inline void spate_sub_u64(_Atomic uint64_t *counter, uint64_t delta)
{
    const uint64_t value = atomic_load_explicit(counter, memory_order_relaxed);
    SPATE_ASSERT(value >= delta);
    atomic_store_explicit(counter, value - delta, memory_order_release);
}

static inline unsigned spate_fixed_width_bytes(uint8_t kind)
{
    switch (kind)
    {
        case io_spate_wire_fieldKind_U8:
        case io_spate_wire_fieldKind_BOOL:
            return 1;
        case io_spate_wire_fieldKind_U16:
            return 2;
        case io_spate_wire_fieldKind_U32:
        case io_spate_wire_fieldKind_I32:
            return 4;
        case io_spate_wire_fieldKind_U64:
        case io_spate_wire_fieldKind_I64:
        case io_spate_wire_fieldKind_F64:
        case io_spate_wire_fieldKind_TIMESTAMP:
            return 8;
        default:
            return 0;
    }
}

static inline bool spate_is_var_kind(uint8_t kind)
{
    return kind == io_spate_wire_fieldKind_STRING || kind == io_spate_wire_fieldKind_BYTES;
}

/* Constant-size copies for the widths a fixed field can have (a libc call costs more). */
static inline void spate_copy_fixed(uint8_t *destination, const uint8_t *source, uint32_t width_bytes)
{
    switch (width_bytes)
    {
        case 1:
            *destination = *source;
            break;
        case 2:
            memcpy(destination, source, 2);
            break;
        case 4:
            memcpy(destination, source, 4);
            break;
        default:
            SPATE_ASSERT(width_bytes == 8);
            memcpy(destination, source, 8);
            break;
    }
}

/*
 * Copies rows and values: most are short (a few fields, a name), where the libc call costs more
 * than the copy. Up to 32 bytes: two overlapping constant-size moves, which compile inline.
 */
static inline void spate_copy_bytes(uint8_t *destination, const uint8_t *source, uint64_t length_bytes)
{
    if (length_bytes >= 16 && length_bytes <= 32)
    {
        uint8_t head[16], tail[16];
        memcpy(head, source, 16);
        memcpy(tail, source + length_bytes - 16, 16);
        memcpy(destination, head, 16);
        memcpy(destination + length_bytes - 16, tail, 16);
    }
    else if (length_bytes >= 8 && length_bytes < 16)
    {
        uint64_t head, tail;
        memcpy(&head, source, 8);
        memcpy(&tail, source + length_bytes - 8, 8);
        memcpy(destination, &head, 8);
        memcpy(destination + length_bytes - 8, &tail, 8);
    }
    else if (length_bytes >= 4 && length_bytes < 8)
    {
        uint32_t head, tail;
        memcpy(&head, source, 4);
        memcpy(&tail, source + length_bytes - 4, 4);
        memcpy(destination, &head, 4);
        memcpy(destination + length_bytes - 4, &tail, 4);
    }
    else if (length_bytes > 0 && length_bytes < 4)
    {
        destination[0] = source[0];
        destination[length_bytes / 2] = source[length_bytes / 2];
        destination[length_bytes - 1] = source[length_bytes - 1];
    }
    else if (length_bytes > 32)
    {
        memcpy(destination, source, length_bytes);
    }
}

/*
 * The 64-bit hash of checksums and schema fingerprints, defined in spate_store.h: XXH64's primes,
 * its 8-byte input step as the mix of one word, and its avalanche. One lane, so any sequence of
 * words hashes the same however it is split into calls.
 */
#define SPATE_HASH_SEED UINT64_C(0x5350415445483634)
#define SPATE_HASH_P1 UINT64_C(0x9E3779B185EBCA87)
#define SPATE_HASH_P2 UINT64_C(0xC2B2AE3D27D4EB4F)
#define SPATE_HASH_P3 UINT64_C(0x165667B19E3779F9)
#define SPATE_HASH_P4 UINT64_C(0x85EBCA77C2B2AE63)

static inline uint64_t spate_rotl64(uint64_t value, unsigned bits)
{
    return (value << bits) | (value >> (64 - bits));
}

static inline uint64_t spate_hash_word(uint64_t hash, uint64_t word)
{
    const uint64_t k = spate_rotl64(word * SPATE_HASH_P2, 31) * SPATE_HASH_P1;
    return spate_rotl64(hash ^ k, 27) * SPATE_HASH_P1 + SPATE_HASH_P4;
}

/* The length first, so that the zero-extended tail cannot be confused with a longer value. */
static inline uint64_t spate_hash_bytes(uint64_t hash, const uint8_t *bytes, uint64_t length_bytes)
{
    hash = spate_hash_word(hash, length_bytes);
    uint64_t i = 0;
    for (; length_bytes - i >= 8; i += 8)
    {
        uint64_t word;
        memcpy(&word, bytes + i, sizeof word);
        hash = spate_hash_word(hash, word);
    }
    if (i < length_bytes)
    {
        uint64_t word = 0;
        memcpy(&word, bytes + i, length_bytes - i);
        hash = spate_hash_word(hash, word);
    }
    return hash;
}

static inline uint64_t spate_hash_finish(uint64_t hash)
{
    hash ^= hash >> 33;
    hash *= SPATE_HASH_P2;
    hash ^= hash >> 29;
    hash *= SPATE_HASH_P3;
    hash ^= hash >> 32;
    return hash;
}

static inline void spate_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* ------------------------------------------------------------------------------------------ */
/* Sequence lock                                                                               */
/* ------------------------------------------------------------------------------------------ */

static inline _Atomic uint64_t *spate_stripe(spate_type *type, int64_t slot)
{
    return &type->sequence[(uint64_t)slot & (SPATE_SEQUENCE_STRIPES - 1)];
}

/* Odd before the record's writes; the release fence keeps the writes after the odd value. */
static inline uint64_t spate_write_begin(_Atomic uint64_t *sequence)
{
    const uint64_t value = atomic_load_explicit(sequence, memory_order_relaxed);
    SPATE_ASSERT((value & 1) == 0);
    atomic_store_explicit(sequence, value + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    return value;
}

static inline void spate_write_end(_Atomic uint64_t *sequence, uint64_t value)
{
    atomic_store_explicit(sequence, value + 2, memory_order_release);
}

static inline uint64_t spate_read_begin(_Atomic uint64_t *sequence)
{
    for (uint32_t spins = 1;; spins++)
    {
        const uint64_t value = atomic_load_explicit(sequence, memory_order_acquire);
        if ((value & 1) == 0)
        {
            return value;
        }
        spate_cpu_relax();
        if (spins % 1024 == 0)
        {
            sched_yield(); /* a record takes nanoseconds: this long means the writer was preempted */
        }
    }
}

/* True when what was read since spate_read_begin may be torn and must be read again. */
static inline bool spate_read_retry(_Atomic uint64_t *sequence, uint64_t value)
{
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(sequence, memory_order_relaxed) != value;
}

/* ------------------------------------------------------------------------------------------ */
/* Memory                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/*
 * Reserves address space without committing memory. Regions of at least a huge page are
 * 2 MiB aligned and advised for transparent huge pages (THP runs in madvise mode here, and a
 * first touch of a 4 KiB page costs about ten times a warm write); smaller ones are left to
 * 4 KiB pages so that a small type does not commit 2 MiB on its first write.
 */
static int32_t spate_reserve_region(uint64_t length_bytes, uint8_t **region_out, uint64_t *mapped_bytes_out)
{
    *region_out = NULL;
    *mapped_bytes_out = 0;
    if (length_bytes == 0)
    {
        return 0;
    }
    const int protection = PROT_READ | PROT_WRITE;
    const int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    if (length_bytes < SPATE_HUGE_PAGE_BYTES)
    {
        const uint64_t mapped_bytes = spate_round_up(length_bytes, SPATE_PAGE_BYTES);
        void *region = mmap(NULL, mapped_bytes, protection, flags, -1, 0);
        if (region == MAP_FAILED)
        {
            return SPATE_ERROR_OUT_OF_MEMORY;
        }
        *region_out = region;
        *mapped_bytes_out = mapped_bytes;
        return 0;
    }

    const uint64_t mapped_bytes = spate_round_up(length_bytes, SPATE_HUGE_PAGE_BYTES);
    const uint64_t reserved_bytes = mapped_bytes + SPATE_HUGE_PAGE_BYTES; /* room to align */
    void *reservation = mmap(NULL, reserved_bytes, protection, flags, -1, 0);
    if (reservation == MAP_FAILED)
    {
        return SPATE_ERROR_OUT_OF_MEMORY;
    }
    const uintptr_t start = (uintptr_t)reservation;
    const uintptr_t aligned = (uintptr_t)spate_round_up(start, SPATE_HUGE_PAGE_BYTES);
    const uint64_t head_bytes = aligned - start;
    const uint64_t tail_bytes = reserved_bytes - head_bytes - mapped_bytes;
    if (head_bytes != 0)
    {
        munmap(reservation, head_bytes);
    }
    if (tail_bytes != 0)
    {
        munmap((void *)(aligned + mapped_bytes), tail_bytes);
    }
    /* Best effort: without THP the store still works, only slower on first touch. */
    (void)madvise((void *)aligned, mapped_bytes, MADV_HUGEPAGE);
    *region_out = (uint8_t *)aligned;
    *mapped_bytes_out = mapped_bytes;
    return 0;
}

/* Commits [begin, begin + length_bytes) without changing its contents (a writer may be using it). */
static int32_t spate_populate(uint8_t *begin, uint64_t length_bytes)
{
    SPATE_ASSERT(((uintptr_t)begin % SPATE_PAGE_BYTES) == 0);
#ifdef MADV_POPULATE_WRITE
    if (madvise(begin, length_bytes, MADV_POPULATE_WRITE) == 0)
    {
        return 0;
    }
    if (errno != EINVAL) /* EINVAL: a kernel older than 5.14; fall back to touching */
    {
        return SPATE_ERROR_OUT_OF_MEMORY;
    }
#endif
    /* An atomic add of zero is a write fault that cannot lose a concurrent write of the writer. */
    for (uint64_t offset_bytes = 0; offset_bytes < length_bytes; offset_bytes += SPATE_PAGE_BYTES)
    {
        __atomic_fetch_add(begin + offset_bytes, (uint8_t)0, __ATOMIC_RELAXED);
    }
    return 0;
}

/* Populates the region up to end_bytes (rounded to a page), past what was populated before. */
static int32_t spate_populate_up_to(uint8_t *region, uint64_t mapped_bytes, _Atomic uint64_t *populated_bytes, uint64_t end_bytes)
{
    end_bytes = spate_round_up(end_bytes, SPATE_PAGE_BYTES);
    if (end_bytes > mapped_bytes)
    {
        end_bytes = mapped_bytes;
    }
    uint64_t done_bytes = atomic_load_explicit(populated_bytes, memory_order_relaxed);
    if (end_bytes <= done_bytes)
    {
        return 0;
    }
    const int32_t rc = spate_populate(region + done_bytes, end_bytes - done_bytes);
    if (rc != 0)
    {
        return rc;
    }
    /* Monotonic maximum: a concurrent reserve may have gone further. */
    while (done_bytes < end_bytes &&
           !atomic_compare_exchange_weak_explicit(
               populated_bytes, &done_bytes, end_bytes, memory_order_relaxed, memory_order_relaxed))
    {
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Open and close                                                                              */
/* ------------------------------------------------------------------------------------------ */

static int spate_compare_fields(const void *left, const void *right)
{
    const spate_field *a = left;
    const spate_field *b = right;
    return (a->field_id > b->field_id) - (a->field_id < b->field_id);
}

/* Decodes and validates one entry of the types group (its fields group included). */
/* Commits the pages of [begin, begin + length_bytes) of a region at once, rather than one fault at a time. */
static int32_t spate_populate_range(uint8_t *region, uint64_t offset_bytes, uint64_t length_bytes)
{
    const uint64_t page_begin = offset_bytes / SPATE_PAGE_BYTES * SPATE_PAGE_BYTES;
    const uint64_t page_end = spate_round_up(offset_bytes + length_bytes, SPATE_PAGE_BYTES);
    return page_end > page_begin ? spate_populate(region + page_begin, page_end - page_begin) : 0;
}

/* Gives memory back as zero pages; where the kernel refuses, zeroes it (the contents are what matter). */
static void spate_release(uint8_t *region, uint64_t mapped_bytes, uint64_t offset_bytes, uint64_t length_bytes)
{
    const uint64_t begin = offset_bytes / SPATE_PAGE_BYTES * SPATE_PAGE_BYTES;
    uint64_t end = spate_round_up(offset_bytes + length_bytes, SPATE_PAGE_BYTES);
    end = end < mapped_bytes ? end : mapped_bytes;
    if (end > begin && madvise(region + begin, end - begin, MADV_DONTNEED) != 0)
    {
        memset(region + begin, 0, end - begin);
    }
}

/*
 * The id layout of a type (spate_store.h): the fewest slot bits, at least 8, whose slots hold
 * maxNodes plus a retirement allowance of 2^(slot_bits - 11). A slot retires when its
 * generations, 2^(63 - slot_bits), are used up, so retirements take at most one slot per that
 * many creates: the allowance covers 2^(slot_bits - 11) * 2^(63 - slot_bits) = 2^52 creates of
 * the type in any pattern before maxNodes live nodes could no longer all find a slot.
 */
static void spate_id_layout(spate_type *type)
{
    uint32_t bits = SPATE_MIN_SLOT_BITS;
    for (;; bits++)
    {
        const int64_t allowance = bits > SPATE_RETIREMENT_SHIFT ? INT64_C(1) << (bits - SPATE_RETIREMENT_SHIFT) : 1;
        if (type->max_nodes + allowance <= (INT64_C(1) << bits) - 1)
        {
            type->slot_limit = type->max_nodes + allowance;
            break;
        }
    }
    SPATE_ASSERT(bits <= 40); /* max_nodes <= 2^36 */
    type->slot_bits = bits;
    type->slot_mask = (UINT64_C(1) << bits) - 1;
    type->max_generation = (UINT64_C(1) << (63 - bits)) - 1;
}

static int32_t spate_decode_type(spate_type *type, struct io_spate_wire_storeSchema_types *types)
{
    type->max_nodes = io_spate_wire_storeSchema_types_maxNodes(types);
    const int64_t max_arena_bytes = io_spate_wire_storeSchema_types_maxArenaBytes(types);
    type->row_length_bytes = io_spate_wire_storeSchema_types_rowLengthBytes(types);
    type->type_id = io_spate_wire_storeSchema_types_typeId(types);
    if (type->max_nodes < 1 || type->max_nodes > SPATE_MAX_NODES_PER_TYPE ||
        max_arena_bytes < 0 || max_arena_bytes > SPATE_MAX_ARENA_BYTES_PER_TYPE ||
        type->row_length_bytes > SPATE_MAX_ROW_LENGTH_BYTES)
    {
        return SPATE_ERROR_BAD_SCHEMA;
    }
    type->arena_capacity_bytes = (uint64_t)max_arena_bytes;
    spate_id_layout(type);

    struct io_spate_wire_storeSchema_types_fields fields;
    if (!io_spate_wire_storeSchema_types_get_fields(types, &fields) ||
        fields.block_length < io_spate_wire_storeSchema_types_fields_sbe_block_length() ||
        io_spate_wire_storeSchema_types_fields_count(&fields) > SPATE_MAX_FIELDS_PER_TYPE)
    {
        return SPATE_ERROR_BAD_SCHEMA;
    }
    const uint32_t field_count = (uint32_t)io_spate_wire_storeSchema_types_fields_count(&fields);
    type->field_count = field_count;
    type->fields = calloc(field_count == 0 ? 1 : field_count, sizeof(spate_field));
    if (type->fields == NULL)
    {
        return SPATE_ERROR_OUT_OF_MEMORY;
    }
    for (uint32_t i = 0; i < field_count; i++)
    {
        if (!io_spate_wire_storeSchema_types_fields_next(&fields))
        {
            return SPATE_ERROR_BAD_SCHEMA;
        }
        spate_field *field = &type->fields[i];
        enum io_spate_wire_fieldKind kind;
        if (!io_spate_wire_storeSchema_types_fields_kind(&fields, &kind) || (unsigned)kind > io_spate_wire_fieldKind_BYTES)
        {
            return SPATE_ERROR_BAD_SCHEMA;
        }
        field->kind = (uint8_t)kind;
        field->field_id = io_spate_wire_storeSchema_types_fields_fieldId(&fields);
        field->offset_bytes = io_spate_wire_storeSchema_types_fields_offsetBytes(&fields);
        field->max_length_bytes = io_spate_wire_storeSchema_types_fields_maxLengthBytes(&fields);
        field->is_var = spate_is_var_kind(field->kind);
        if (field->is_var)
        {
            field->offset_bytes = 0; /* unused for string/bytes */
            if (field->max_length_bytes > SPATE_MAX_VAR_LENGTH_BYTES)
            {
                return SPATE_ERROR_BAD_SCHEMA;
            }
        }
        else
        {
            const uint32_t width_bytes = spate_fixed_width_bytes(field->kind);
            if (field->max_length_bytes != width_bytes ||
                (uint64_t)field->offset_bytes + width_bytes > type->row_length_bytes)
            {
                return SPATE_ERROR_BAD_SCHEMA;
            }
        }
    }

    /* Field-id order gives the slot order, which is the order spate_store_get writes values in. */
    qsort(type->fields, field_count, sizeof(spate_field), spate_compare_fields);
    type->field_id_limit = field_count == 0 ? 0 : (uint32_t)type->fields[field_count - 1].field_id + 1;
    type->field_index_by_id = calloc(type->field_id_limit == 0 ? 1 : type->field_id_limit, sizeof(uint16_t));
    uint8_t *row_bytes_used = calloc(type->row_length_bytes == 0 ? 1 : type->row_length_bytes, 1);
    if (type->field_index_by_id == NULL || row_bytes_used == NULL)
    {
        free(row_bytes_used);
        return SPATE_ERROR_OUT_OF_MEMORY;
    }
    int32_t rc = 0;
    for (uint32_t i = 0; i < field_count && rc == 0; i++)
    {
        spate_field *field = &type->fields[i];
        if (i > 0 && type->fields[i - 1].field_id == field->field_id)
        {
            rc = SPATE_ERROR_BAD_SCHEMA; /* duplicate field id */
            break;
        }
        type->field_index_by_id[field->field_id] = (uint16_t)(i + 1);
        if (field->is_var)
        {
            field->var_index = (uint16_t)type->var_count++;
            continue;
        }
        for (uint32_t b = 0; b < field->max_length_bytes; b++)
        {
            if (row_bytes_used[field->offset_bytes + b])
            {
                rc = SPATE_ERROR_BAD_SCHEMA; /* overlapping fixed fields */
                break;
            }
            row_bytes_used[field->offset_bytes + b] = 1;
        }
    }
    free(row_bytes_used);
    if (rc != 0)
    {
        return rc;
    }

    type->var_field_index = calloc(type->var_count == 0 ? 1 : type->var_count, sizeof(uint16_t));
    type->pending = calloc(field_count == 0 ? 1 : field_count, sizeof(spate_pending));
    type->touched = calloc(field_count == 0 ? 1 : field_count, sizeof(uint16_t));
    type->blocks = calloc(type->var_count == 0 ? 1 : type->var_count, sizeof(spate_block));
    type->changes = calloc(type->var_count == 0 ? 1 : type->var_count, sizeof(spate_value_change));
    if (type->var_field_index == NULL || type->pending == NULL || type->touched == NULL || type->blocks == NULL ||
        type->changes == NULL)
    {
        return SPATE_ERROR_OUT_OF_MEMORY;
    }
    for (uint32_t i = 0; i < field_count; i++)
    {
        if (type->fields[i].is_var)
        {
            type->var_field_index[type->fields[i].var_index] = (uint16_t)i;
        }
    }

    type->slots_offset_bytes = SPATE_ROW_HEADER_BYTES + (uint32_t)spate_round_up(type->row_length_bytes, 8);
    type->row_stride_bytes = type->slots_offset_bytes + type->var_count * SPATE_SLOT_BYTES;
    SPATE_ASSERT(type->row_stride_bytes % 8 == 0);
    return 0;
}

static int32_t spate_decode_schema(spate_store *store, const uint8_t *schema, uint64_t schema_length_bytes)
{
    char *buffer = (char *)schema; /* the generated decoders take a mutable buffer; decoding never writes */
    struct io_spate_wire_messageHeader header;
    if (!io_spate_wire_messageHeader_wrap(&header, buffer, 0, io_spate_wire_messageHeader_sbe_schema_version(), schema_length_bytes))
    {
        return SPATE_ERROR_BAD_SCHEMA;
    }
    const uint16_t block_length = io_spate_wire_messageHeader_blockLength(&header);
    const uint32_t frame_length = io_spate_wire_messageHeader_frameLengthBytes(&header);
    if (io_spate_wire_messageHeader_templateId(&header) != io_spate_wire_storeSchema_sbe_template_id() ||
        io_spate_wire_messageHeader_schemaId(&header) != io_spate_wire_storeSchema_sbe_schema_id() ||
        io_spate_wire_messageHeader_version(&header) > io_spate_wire_storeSchema_sbe_schema_version() ||
        frame_length < SPATE_HEADER_LENGTH_BYTES || frame_length > schema_length_bytes ||
        block_length < io_spate_wire_storeSchema_sbe_block_length())
    {
        return SPATE_ERROR_BAD_SCHEMA;
    }

    struct io_spate_wire_storeSchema message;
    if (!io_spate_wire_storeSchema_wrap_for_decode(
            &message, buffer, SPATE_HEADER_LENGTH_BYTES, block_length, io_spate_wire_messageHeader_version(&header), frame_length))
    {
        return SPATE_ERROR_BAD_SCHEMA;
    }
    store->schema_hash = io_spate_wire_storeSchema_schemaHash(&message);

    struct io_spate_wire_storeSchema_types types;
    if (!io_spate_wire_storeSchema_get_types(&message, &types) ||
        types.block_length < io_spate_wire_storeSchema_types_sbe_block_length() ||
        io_spate_wire_storeSchema_types_count(&types) > SPATE_MAX_TYPES)
    {
        return SPATE_ERROR_BAD_SCHEMA;
    }
    const uint32_t type_count = (uint32_t)io_spate_wire_storeSchema_types_count(&types);
    const size_t types_bytes = spate_round_up((type_count == 0 ? 1 : type_count) * sizeof(spate_type), SPATE_CACHE_LINE_BYTES);
    store->types = aligned_alloc(SPATE_CACHE_LINE_BYTES, types_bytes);
    if (store->types == NULL)
    {
        return SPATE_ERROR_OUT_OF_MEMORY;
    }
    memset(store->types, 0, types_bytes);
    store->type_count = type_count; /* zeroed types free cleanly if decoding stops half way */

    uint32_t type_id_limit = 0;
    for (uint32_t i = 0; i < type_count; i++)
    {
        spate_type *type = &store->types[i];
        if (!io_spate_wire_storeSchema_types_next(&types))
        {
            return SPATE_ERROR_BAD_SCHEMA;
        }
        const int32_t rc = spate_decode_type(type, &types);
        if (rc != 0)
        {
            return rc;
        }
        if ((uint32_t)type->type_id + 1 > type_id_limit)
        {
            type_id_limit = (uint32_t)type->type_id + 1;
        }
    }
    if (io_spate_wire_storeSchema_sbe_position(&message) != frame_length)
    {
        return SPATE_ERROR_BAD_SCHEMA; /* bytes left over in the frame */
    }

    store->type_id_limit = type_id_limit;
    store->type_by_id = calloc(type_id_limit == 0 ? 1 : type_id_limit, sizeof(spate_type *));
    if (store->type_by_id == NULL)
    {
        return SPATE_ERROR_OUT_OF_MEMORY;
    }
    for (uint32_t i = 0; i < type_count; i++)
    {
        spate_type *type = &store->types[i];
        if (store->type_by_id[type->type_id] != NULL)
        {
            return SPATE_ERROR_BAD_SCHEMA; /* duplicate type id */
        }
        store->type_by_id[type->type_id] = type;
    }
    return 0;
}

static int32_t spate_reserve_types(spate_store *store)
{
    for (uint32_t i = 0; i < store->type_count; i++)
    {
        spate_type *type = &store->types[i];
        const uint64_t rows_bytes = (uint64_t)type->slot_limit * type->row_stride_bytes; /* < 2^54 by the limits */
        int32_t rc = spate_reserve_region(rows_bytes, &type->rows, &type->rows_mapped_bytes);
        if (rc == 0)
        {
            /* At most 2^47 / 2^21 bits for all the address space there is: 8 MiB. */
            const uint64_t chunks = spate_round_up(type->rows_mapped_bytes, SPATE_HUGE_PAGE_BYTES) / SPATE_HUGE_PAGE_BYTES;
            const uint64_t words = spate_round_up(chunks, 64) / 64;
            type->rows_written = calloc(words == 0 ? 1 : words, sizeof(uint64_t));
            type->rows_written_words = words;
            rc = type->rows_written == NULL ? SPATE_ERROR_OUT_OF_MEMORY : 0;
        }
        if (rc == 0 && type->var_count > 0)
        {
            /* At least a page, so that arena + offset is always a valid pointer, even for a 0-byte arena. */
            const uint64_t arena_bytes = type->arena_capacity_bytes == 0 ? 1 : type->arena_capacity_bytes;
            rc = spate_reserve_region(arena_bytes, &type->arena, &type->arena_mapped_bytes);
        }
        if (rc != 0)
        {
            return rc;
        }
    }
    return 0;
}

/*
 * What a snapshot must match (spate_store.h): the decoded layouts, not the StoreSchema bytes, so
 * that an encoding detail (type order, group extension bytes) does not refuse a compatible image.
 */
static uint64_t spate_schema_fingerprint(const spate_store *store)
{
    uint64_t hash = spate_hash_word(SPATE_HASH_SEED, (uint64_t)store->schema_hash);
    hash = spate_hash_word(hash, store->type_count);
    for (uint32_t type_id = 0; type_id < store->type_id_limit; type_id++)
    {
        const spate_type *type = store->type_by_id[type_id];
        if (type == NULL)
        {
            continue;
        }
        hash = spate_hash_word(hash, type->type_id);
        hash = spate_hash_word(hash, (uint64_t)type->max_nodes);
        hash = spate_hash_word(hash, type->arena_capacity_bytes);
        hash = spate_hash_word(hash, type->row_length_bytes);
        hash = spate_hash_word(hash, type->field_count);
        for (uint32_t i = 0; i < type->field_count; i++)
        {
            const spate_field *field = &type->fields[i];
            hash = spate_hash_word(hash, field->field_id);
            hash = spate_hash_word(hash, field->kind);
            hash = spate_hash_word(hash, field->offset_bytes);
            hash = spate_hash_word(hash, field->max_length_bytes);
        }
    }
    return spate_hash_finish(hash);
}

int32_t spate_store_open(const uint8_t *schema, uint64_t schema_length_bytes, spate_store **store_out)
{
    if (schema == NULL || store_out == NULL)
    {
        return SPATE_ERROR_NULL_ARGUMENT;
    }
    *store_out = NULL;
    SPATE_ASSERT(io_spate_wire_messageHeader_encoded_length() == SPATE_HEADER_LENGTH_BYTES);
    spate_store *store = calloc(1, sizeof(spate_store));
    if (store == NULL)
    {
        return SPATE_ERROR_OUT_OF_MEMORY;
    }
    int32_t rc = spate_decode_schema(store, schema, schema_length_bytes);
    if (rc == 0)
    {
        rc = spate_reserve_types(store);
    }
    if (rc != 0)
    {
        spate_store_close(store);
        return rc;
    }
    store->schema_fingerprint = spate_schema_fingerprint(store);
    *store_out = store;
    return 0;
}

void spate_store_close(spate_store *store)
{
    if (store == NULL)
    {
        return;
    }
    for (uint32_t i = 0; store->types != NULL && i < store->type_count; i++)
    {
        spate_type *type = &store->types[i];
        if (type->rows != NULL)
        {
            munmap(type->rows, type->rows_mapped_bytes);
        }
        if (type->arena != NULL)
        {
            munmap(type->arena, type->arena_mapped_bytes);
        }
        free(type->fields);
        free(type->field_index_by_id);
        free(type->var_field_index);
        free(type->pending);
        free(type->touched);
        free(type->blocks);
        free(type->changes);
        free(type->rows_written);
    }
    free(store->types);
    free(store->type_by_id);
    free(store);
}

/* ------------------------------------------------------------------------------------------ */
/* Slots                                                                                       */
/* ------------------------------------------------------------------------------------------ */

/* The lowest slot whose row starts at or after the first byte of chunk. */
static inline int64_t spate_first_slot_from_chunk(const spate_type *type, uint64_t chunk)
{
    const uint64_t first_byte = chunk * SPATE_HUGE_PAGE_BYTES;
    return (int64_t)((first_byte + type->row_stride_bytes - 1) / type->row_stride_bytes) + 1;
}

/*
 * The next run [*first_out, *end_out) of slots at or after from_slot and below end_slot whose rows
 * start in marked chunks, or false when there is none. Clear words skip 64 chunks at once, so a
 * type that skipped to slot 2^36 is crossed in microseconds.
 */
static bool spate_next_written_run(const spate_type *type, int64_t from_slot, int64_t end_slot, int64_t *first_out, int64_t *end_out)
{
    if (from_slot >= end_slot)
    {
        return false;
    }
    const uint64_t stride = type->row_stride_bytes;
    uint64_t chunk = (uint64_t)(from_slot - 1) * stride / SPATE_HUGE_PAGE_BYTES;
    const uint64_t last_chunk = (uint64_t)(end_slot - 2) * stride / SPATE_HUGE_PAGE_BYTES; /* where slot end_slot - 1 starts */
    while (chunk <= last_chunk)
    {
        const uint64_t bits = __atomic_load_n(&type->rows_written[chunk / 64], __ATOMIC_RELAXED) >> (chunk % 64);
        if ((bits & 1) != 0)
        {
            break;
        }
        chunk = bits == 0 ? (chunk / 64 + 1) * 64 : chunk + (uint64_t)__builtin_ctzll(bits);
    }
    if (chunk > last_chunk)
    {
        return false;
    }
    uint64_t end_chunk = chunk + 1;
    while (end_chunk <= last_chunk && ((__atomic_load_n(&type->rows_written[end_chunk / 64], __ATOMIC_RELAXED) >> (end_chunk % 64)) & 1) != 0)
    {
        end_chunk++;
    }
    const int64_t first_slot = spate_first_slot_from_chunk(type, chunk);
    const int64_t end_slot_of_run = spate_first_slot_from_chunk(type, end_chunk);
    *first_out = first_slot > from_slot ? first_slot : from_slot;
    *end_out = end_slot_of_run < end_slot ? end_slot_of_run : end_slot;
    /* A row is shorter than a chunk, so every chunk up to last_chunk has a row starting in it. */
    SPATE_ASSERT(*first_out < *end_out);
    return true;
}

/* The row of a live node, or NULL: its slot used, and its header live with the id's generation. The writer's view. */
static inline uint8_t *spate_live_row(spate_type *type, int64_t node_id)
{
    const int64_t slot = spate_valid_slot(type, node_id);
    if (slot == 0 || slot > atomic_load_explicit(&type->high_water_slot, memory_order_relaxed) ||
        !spate_row_written(type, slot))
    {
        return NULL;
    }
    uint8_t *row = spate_row(type, slot);
    return spate_row_header(row) == spate_header(SPATE_STATE_LIVE, spate_generation_of(type, node_id)) ? row : NULL;
}

/* A slot stops holding a live node (deleted, or its Create failed after consuming generation): its counters. */
static inline void spate_count_freed(spate_type *type, uint64_t previous_next_generation, uint64_t generation)
{
    if (previous_next_generation == 0)
    {
        spate_add_i64(&type->freed_slots, 1);
    }
    if (generation == type->max_generation)
    {
        spate_add_i64(&type->retired_slots, 1); /* no generation left: never reused */
    }
}

static inline void spate_raise_high_water(spate_type *type, int64_t slot)
{
    if (slot > atomic_load_explicit(&type->high_water_slot, memory_order_relaxed))
    {
        atomic_store_explicit(&type->high_water_slot, slot, memory_order_release);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Arena: size classes, free lists, compaction                                                 */
/* ------------------------------------------------------------------------------------------ */

/*
 * Size classes: 8, 16, ... 128 bytes (16 classes), then four per power of two, (1.25, 1.5, 1.75,
 * 2) * 2^p up to 1 MiB: at most 7 bytes or a quarter lost to rounding. length_bytes 1 .. 1 MiB.
 */
static inline uint32_t spate_class_of(uint32_t length_bytes)
{
    SPATE_ASSERT(length_bytes >= 1 && length_bytes <= SPATE_MAX_VAR_LENGTH_BYTES);
    if (length_bytes <= 128)
    {
        return (length_bytes + 7) / 8 - 1;
    }
    const uint32_t power = 31 - (uint32_t)__builtin_clz(length_bytes - 1); /* 2^power < length <= 2^(power+1) */
    const uint32_t step = UINT32_C(1) << (power - 2);
    const uint32_t steps = (length_bytes - (UINT32_C(1) << power) + step - 1) / step; /* 1..4 */
    return 16 + (power - 7) * 4 + steps - 1;
}

static inline uint32_t spate_class_bytes(uint32_t size_class)
{
    SPATE_ASSERT(size_class < SPATE_ARENA_CLASSES);
    if (size_class < 16)
    {
        return (size_class + 1) * 8;
    }
    const uint32_t power = 7 + (size_class - 16) / 4;
    return (UINT32_C(1) << power) + ((size_class - 16) % 4 + 1) * (UINT32_C(1) << (power - 2));
}

/* The smallest block that holds a value: 0 for an empty value, which takes none. */
static inline uint32_t spate_block_bytes(uint32_t length_bytes)
{
    return length_bytes == 0 ? 0 : spate_class_bytes(spate_class_of(length_bytes));
}

static inline void spate_free_list_push(spate_type *type, uint64_t offset_bytes, uint32_t capacity_bytes)
{
    const uint32_t size_class = spate_class_of(capacity_bytes);
    SPATE_ASSERT(spate_class_bytes(size_class) == capacity_bytes && offset_bytes % SPATE_ARENA_BLOCK_ALIGN == 0);
    SPATE_ASSERT(offset_bytes + capacity_bytes <= type->arena_top_bytes);
    memcpy(type->arena + offset_bytes, &type->arena_free_heads[size_class], sizeof(uint64_t));
    type->arena_free_heads[size_class] = offset_bytes + 1;
    type->arena_free_mask[size_class / 64] |= UINT64_C(1) << (size_class % 64);
    spate_add_u64(&type->arena_free_bytes, capacity_bytes);
}

static inline uint64_t spate_free_list_pop(spate_type *type, uint32_t size_class)
{
    const uint64_t head = type->arena_free_heads[size_class];
    SPATE_ASSERT(head != 0 && head - 1 + spate_class_bytes(size_class) <= type->arena_top_bytes);
    const uint64_t offset_bytes = head - 1;
    uint64_t next;
    memcpy(&next, type->arena + offset_bytes, sizeof next);
    type->arena_free_heads[size_class] = next;
    if (next == 0)
    {
        type->arena_free_mask[size_class / 64] &= ~(UINT64_C(1) << (size_class % 64));
    }
    spate_sub_u64(&type->arena_free_bytes, spate_class_bytes(size_class));
    return offset_bytes;
}

/* The first class at or above from_class whose free list is not empty, or SPATE_ARENA_CLASSES. */
static inline uint32_t spate_next_free_class(const spate_type *type, uint32_t from_class)
{
    for (uint32_t word = from_class / 64; word < 2; word++)
    {
        uint64_t bits = type->arena_free_mask[word];
        if (word == from_class / 64)
        {
            bits &= ~UINT64_C(0) << (from_class % 64);
        }
        if (bits != 0)
        {
            return word * 64 + (uint32_t)__builtin_ctzll(bits);
        }
    }
    return SPATE_ARENA_CLASSES;
}

static inline void spate_set_arena_top(spate_type *type, uint64_t top_bytes)
{
    SPATE_ASSERT(top_bytes <= type->arena_capacity_bytes);
    type->arena_top_bytes = top_bytes;
    atomic_store_explicit(&type->arena_reserved_bytes, top_bytes, memory_order_release);
}

/* What a record asks for: a block for a value of length_bytes (> 0) in its var_index slot. */
static inline void spate_block_request(spate_block *block, uint32_t length_bytes, uint32_t var_index)
{
    block->length_bytes = length_bytes;
    block->size_class = (uint8_t)spate_class_of(length_bytes);
    block->request_bytes = spate_class_bytes(block->size_class);
    block->var_index = (uint16_t)var_index;
}

/*
 * Whether the arena's top may grow: not while the free blocks are more than the live values (each in its
 * smallest block) and more than SPATE_ARENA_COMPACT_MIN_FREE_BYTES. Then a compaction comes first, which keeps
 * the reserved bytes within about twice the live values plus that minimum however the sizes drift, and costs
 * O(1) per byte freed over time: each moves at most the live bytes and gives back at least as many.
 */
static inline bool spate_arena_may_grow(const spate_type *type)
{
    const uint64_t free_bytes = atomic_load_explicit(&type->arena_free_bytes, memory_order_relaxed);
    return free_bytes < SPATE_ARENA_COMPACT_MIN_FREE_BYTES ||
           free_bytes <= atomic_load_explicit(&type->arena_tight_bytes, memory_order_relaxed);
}

/* A block for a request without compacting: its class's list, the top (while it may grow), a larger class's list. */
static inline bool spate_arena_take(spate_type *type, spate_block *block)
{
    const uint32_t size_class = block->size_class;
    const uint32_t bytes = block->request_bytes;
    block->from_top = false;
    if (type->arena_free_heads[size_class] != 0)
    {
        block->offset_bytes = spate_free_list_pop(type, size_class);
        block->capacity_bytes = bytes;
        return true;
    }
    if (bytes <= type->arena_capacity_bytes - type->arena_top_bytes && spate_arena_may_grow(type))
    {
        block->offset_bytes = type->arena_top_bytes;
        block->capacity_bytes = bytes;
        block->from_top = true;
        spate_set_arena_top(type, type->arena_top_bytes + bytes);
        return true;
    }
    const uint32_t larger = spate_next_free_class(type, size_class + 1);
    if (larger < SPATE_ARENA_CLASSES)
    {
        block->offset_bytes = spate_free_list_pop(type, larger);
        block->capacity_bytes = spate_class_bytes(larger);
        return true;
    }
    return false;
}

/* Undoes spate_arena_take; blocks go back in the reverse order they were taken. */
static inline void spate_arena_give_back(spate_type *type, const spate_block *block)
{
    if (block->from_top)
    {
        SPATE_ASSERT(block->offset_bytes + block->capacity_bytes == type->arena_top_bytes);
        spate_set_arena_top(type, block->offset_bytes);
    }
    else
    {
        spate_free_list_push(type, block->offset_bytes, block->capacity_bytes);
    }
}

/* A live value's block, as compaction sorts them. */
typedef struct spate_held_block
{
    uint64_t offset_bytes;
    int64_t slot;
    uint64_t var_index;
} spate_held_block;

static int spate_compare_held_blocks(const void *left, const void *right)
{
    const spate_held_block *a = left;
    const spate_held_block *b = right;
    return (a->offset_bytes > b->offset_bytes) - (a->offset_bytes < b->offset_bytes);
}

/*
 * Slides every live value to the front of the arena, in address order, each into the smallest
 * block that holds it, so the free space is one piece at the top: after it the top is exactly
 * arena_tight_bytes and the free lists are empty. Each move is a write section of the owner's
 * stripe (readers of that node read again), and a value only ever moves down over bytes that are
 * free or were its own or another already-moved value's (blocks are disjoint and visited in
 * ascending order). The pages past the new top are given back to the kernel. Costs a walk of the
 * used slots and a sort of the live values; false only when the sort's memory cannot be had.
 */
static bool spate_arena_compact(spate_type *type)
{
    const int64_t end_slot = atomic_load_explicit(&type->high_water_slot, memory_order_relaxed) + 1;
    uint64_t count = 0;
    int64_t from_slot = 1, first_slot, run_end_slot;
    while (spate_next_written_run(type, from_slot, end_slot, &first_slot, &run_end_slot))
    {
        for (int64_t slot = first_slot; slot < run_end_slot; slot++)
        {
            uint8_t *row = spate_row(type, slot);
            if (spate_header_state(spate_row_header(row)) == SPATE_STATE_LIVE)
            {
                for (uint32_t v = 0; v < type->var_count; v++)
                {
                    count += spate_row_slot(type, row, v)->capacity_bytes != 0 ? 1 : 0;
                }
            }
        }
        from_slot = run_end_slot;
    }
    spate_held_block *held = NULL;
    if (count != 0)
    {
        held = malloc(count * sizeof(spate_held_block));
        if (held == NULL)
        {
            return false;
        }
    }
    uint64_t found = 0;
    from_slot = 1;
    while (spate_next_written_run(type, from_slot, end_slot, &first_slot, &run_end_slot))
    {
        for (int64_t slot = first_slot; slot < run_end_slot; slot++)
        {
            uint8_t *row = spate_row(type, slot);
            if (spate_header_state(spate_row_header(row)) != SPATE_STATE_LIVE)
            {
                continue;
            }
            for (uint32_t v = 0; v < type->var_count; v++)
            {
                const spate_slot *value = spate_row_slot(type, row, v);
                if (value->capacity_bytes != 0)
                {
                    SPATE_ASSERT(found < count);
                    held[found++] = (spate_held_block){.offset_bytes = value->arena_offset_bytes, .slot = slot, .var_index = v};
                }
            }
        }
        from_slot = run_end_slot;
    }
    SPATE_ASSERT(found == count);
    if (found > 1)
    {
        qsort(held, found, sizeof(spate_held_block), spate_compare_held_blocks);
    }
    uint64_t cursor_bytes = 0;
    for (uint64_t i = 0; i < found; i++)
    {
        uint8_t *row = spate_row(type, held[i].slot);
        spate_slot *value = spate_row_slot(type, row, (uint32_t)held[i].var_index);
        const uint32_t length_bytes = value->length_bytes;
        const uint32_t capacity_bytes = value->capacity_bytes;
        const uint32_t bytes = spate_block_bytes(length_bytes);
        SPATE_ASSERT(held[i].offset_bytes >= cursor_bytes && bytes <= capacity_bytes);
        if (held[i].offset_bytes != cursor_bytes || bytes != capacity_bytes)
        {
            _Atomic uint64_t *sequence = spate_stripe(type, held[i].slot);
            const uint64_t sequence_value = spate_write_begin(sequence);
            if (bytes != 0 && held[i].offset_bytes != cursor_bytes)
            {
                memmove(type->arena + cursor_bytes, type->arena + held[i].offset_bytes, length_bytes);
            }
            __atomic_store_n(&value->arena_offset_bytes, bytes == 0 ? 0 : cursor_bytes, __ATOMIC_RELAXED);
            __atomic_store_n(&value->capacity_bytes, bytes, __ATOMIC_RELAXED);
            spate_write_end(sequence, sequence_value);

        }
        cursor_bytes += bytes;
    }
    free(held);
    const uint64_t old_top_bytes = type->arena_top_bytes;
    memset(type->arena_free_heads, 0, sizeof type->arena_free_heads);
    memset(type->arena_free_mask, 0, sizeof type->arena_free_mask);
    atomic_store_explicit(&type->arena_free_bytes, 0, memory_order_release);
    spate_set_arena_top(type, cursor_bytes);
    const uint64_t release_from_bytes = spate_round_up(cursor_bytes, SPATE_PAGE_BYTES);
    if (old_top_bytes > release_from_bytes)
    {
        /* Readers still holding an old slot read zeros there and read again (their stripe moved). */
        spate_release(type->arena, type->arena_mapped_bytes, release_from_bytes, old_top_bytes - release_from_bytes);
    }
    SPATE_ASSERT(atomic_load_explicit(&type->arena_tight_bytes, memory_order_relaxed) == cursor_bytes);
    spate_add_u64(&type->arena_compactions, 1);
    return true;
}

enum
{
    SPATE_TAKEN = 0,            /* every block taken, nothing moved */
    SPATE_TAKEN_COMPACTED = 1,  /* every block taken after a compaction moved the type's values */
    SPATE_NOT_TAKEN = 2,        /* ARENA_FULL: nothing taken, nothing moved */
};

/* The slow half of spate_arena_take_blocks: give back what was taken, compact, take again. */
static __attribute__((noinline)) int spate_arena_take_blocks_compacting(spate_type *type, uint32_t count, uint32_t taken)
{
    while (taken > 0)
    {
        spate_arena_give_back(type, &type->blocks[--taken]);
    }
    if (!spate_arena_compact(type))
    {
        return SPATE_NOT_TAKEN;
    }
    while (taken < count && spate_arena_take(type, &type->blocks[taken]))
    {
        taken++;
    }
    SPATE_ASSERT(taken == count); /* after a compaction the top has room for needed_bytes */
    if (taken != count)
    {
        while (taken > 0)
        {
            spate_arena_give_back(type, &type->blocks[--taken]);
        }
        return SPATE_NOT_TAKEN;
    }
    return SPATE_TAKEN_COMPACTED;
}

/* The general half of spate_arena_take_blocks: free lists, the top, larger classes, then a compaction. */
static __attribute__((noinline)) int spate_arena_take_blocks_from_lists(spate_type *type, uint32_t count)
{
    uint32_t taken = 0;
    while (taken < count && spate_arena_take(type, &type->blocks[taken]))
    {
        taken++;
    }
    return SPATE_LIKELY(taken == count) ? SPATE_TAKEN : spate_arena_take_blocks_compacting(type, count, taken);
}

/*
 * Takes a block for each of type->blocks[0..count) (requested with spate_block_request).
 * needed_bytes is what the record needs in the worst case, counted against the values' smallest
 * blocks (the record's callers say how): when it fits beside arena_tight_bytes, a compaction
 * is sure to make room, so the record is refused (ARENA_FULL) only when it does not.
 */
static inline __attribute__((always_inline)) int spate_arena_take_blocks(spate_type *type, uint32_t count, uint64_t needed_bytes)
{
    const uint64_t tight_bytes = atomic_load_explicit(&type->arena_tight_bytes, memory_order_relaxed);
    SPATE_ASSERT(tight_bytes <= type->arena_capacity_bytes);
    if (SPATE_UNLIKELY(needed_bytes > type->arena_capacity_bytes - tight_bytes))
    {
        return SPATE_NOT_TAKEN;
    }
    if (atomic_load_explicit(&type->arena_free_bytes, memory_order_relaxed) == 0 &&
        needed_bytes <= type->arena_capacity_bytes - type->arena_top_bytes)
    {
        /* No free block anywhere (an arena that only grows so far): every block from the top, as take would. */
        uint64_t offset_bytes = type->arena_top_bytes;
        for (uint32_t i = 0; i < count; i++)
        {
            spate_block *block = &type->blocks[i];
            block->offset_bytes = offset_bytes;
            block->capacity_bytes = block->request_bytes;
            block->from_top = true;
            offset_bytes += block->request_bytes;
        }
        spate_set_arena_top(type, offset_bytes);
        return SPATE_TAKEN;
    }
    return spate_arena_take_blocks_from_lists(type, count);
}

/* A block now held by a live value: the counters. */
static inline void spate_count_held(spate_type *type, uint32_t capacity_bytes, uint32_t length_bytes)
{
    (void)capacity_bytes; /* held = reserved - free: nothing to count */
    spate_add_u64(&type->arena_tight_bytes, spate_block_bytes(length_bytes));
}

/* A live value's block let go (after the write section that stopped referencing it). */
static inline void spate_release_value(spate_type *type, uint64_t offset_bytes, uint32_t capacity_bytes, uint32_t length_bytes)
{
    if (capacity_bytes != 0)
    {
        spate_free_list_push(type, offset_bytes, capacity_bytes);
    }
    spate_sub_u64(&type->arena_tight_bytes, spate_block_bytes(length_bytes));
}


/*
 * which must have been applied OK in this walk and be of the same type. Results written so far
 * in this call are the record of the walk, so no per-batch table is needed.
 */
static inline uint8_t spate_resolve_target(
    const spate_walk *walk, uint32_t create_ref, int64_t node_id, uint16_t type_id, int64_t *target_out)
{
    if (create_ref == 0)
    {
        *target_out = node_id;
        return SPATE_STATUS_OK;
    }
    const uint64_t index = (uint64_t)walk->ref_base_index + create_ref - 1;
    if (index >= walk->result_count)
    {
        return SPATE_STATUS_BAD_REFERENCE;
    }
    spate_result referenced;
    memcpy(&referenced, walk->results + index * sizeof(spate_result), sizeof referenced);
    if (referenced.template_id != (uint8_t)io_spate_wire_create_sbe_template_id() || referenced.status != SPATE_STATUS_OK)
    {
        return SPATE_STATUS_BAD_REFERENCE;
    }
    /* An OK Create had a full header and block; read its typeId from the slice. */
    const uint8_t *create_frame = walk->records + referenced.offset_bytes;
    uint16_t create_type_id;
    memcpy(&create_type_id, create_frame + SPATE_HEADER_LENGTH_BYTES + io_spate_wire_create_typeId_encoding_offset(), sizeof create_type_id);
    if (create_type_id != type_id)
    {
        return SPATE_STATUS_BAD_REFERENCE;
    }
    *target_out = referenced.node_id;
    return SPATE_STATUS_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* BatchHeader                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static inline uint8_t spate_apply_batch_header(
    const spate_store *store, spate_walk *walk, char *frame, uint32_t frame_length, uint16_t block_length)
{
    /* Records count from here whatever this header turns out to be. */
    walk->ref_base_index = walk->result_count + 1;
    struct io_spate_wire_batchHeader message;
    if (block_length < io_spate_wire_batchHeader_sbe_block_length() ||
        (uint64_t)SPATE_HEADER_LENGTH_BYTES + block_length != frame_length ||
        !io_spate_wire_batchHeader_wrap_for_decode(&message, frame, SPATE_HEADER_LENGTH_BYTES, block_length, 0, frame_length))
    {
        /* The hash cannot be trusted: reject the batch's records rather than apply them blind. */
        walk->batch_rejected = true;
        return SPATE_STATUS_MALFORMED;
    }
    walk->batch_rejected = io_spate_wire_batchHeader_schemaHash(&message) != store->schema_hash;
    return walk->batch_rejected ? SPATE_STATUS_SCHEMA_MISMATCH : SPATE_STATUS_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Create                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/*
 * Decodes and checks a Create's body (var fields and row). type may be NULL (unknown type id):
 * the structure is still checked. Records the var values sent as the type's pending values.
 * Static status, in the order of the contract: MALFORMED (structure), UNKNOWN_TYPE, MALFORMED
 * (row length not the type's), then the first field error in entry order.
 */
static inline uint8_t spate_check_create(
    spate_type *type, struct io_spate_wire_create *message, uint64_t frame_length, uint64_t stamp, const uint8_t **row_out)
{
    struct io_spate_wire_create_varFields var_fields;
    if (SPATE_UNLIKELY(!io_spate_wire_create_get_varFields(message, &var_fields) ||
                       var_fields.block_length < io_spate_wire_create_varFields_sbe_block_length()))
    {
        return SPATE_STATUS_MALFORMED;
    }
    uint8_t field_status = SPATE_STATUS_OK;
    while (io_spate_wire_create_varFields_has_next(&var_fields))
    {
        if (SPATE_UNLIKELY(!io_spate_wire_create_varFields_next(&var_fields)))
        {
            return SPATE_STATUS_MALFORMED;
        }
        const uint16_t field_id = io_spate_wire_create_varFields_fieldId(&var_fields);
        /* The generated accessor reads the 4-byte length prefix unchecked: check it first. */
        const uint64_t position = io_spate_wire_create_varFields_sbe_position(&var_fields);
        SPATE_ASSERT(position <= frame_length);
        if (SPATE_UNLIKELY(frame_length - position < io_spate_wire_create_varFields_value_header_length()))
        {
            return SPATE_STATUS_MALFORMED;
        }
        const struct io_spate_wire_create_string_view value =
            io_spate_wire_create_varFields_get_value_as_string_view(&var_fields);
        if (SPATE_UNLIKELY(value.data == NULL))
        {
            return SPATE_STATUS_MALFORMED;
        }
        if (type == NULL || field_status != SPATE_STATUS_OK)
        {
            continue; /* keep walking: the structure decides first */
        }
        const spate_field *field = spate_find_field(type, field_id);
        if (SPATE_UNLIKELY(field == NULL || !field->is_var))
        {
            field_status = SPATE_STATUS_UNKNOWN_FIELD;
        }
        else if (SPATE_UNLIKELY(value.length > field->max_length_bytes))
        {
            field_status = SPATE_STATUS_VALUE_TOO_LARGE;
        }
        else
        {
            spate_pending *pending = &type->pending[field - type->fields];
            pending->stamp = stamp;
            pending->value = (const uint8_t *)value.data;
            pending->length_bytes = (uint32_t)value.length;
        }
    }

    const uint64_t position = io_spate_wire_create_sbe_position(message);
    SPATE_ASSERT(position <= frame_length);
    if (SPATE_UNLIKELY(frame_length - position < io_spate_wire_create_row_header_length()))
    {
        return SPATE_STATUS_MALFORMED;
    }
    const struct io_spate_wire_create_string_view row = io_spate_wire_create_get_row_as_string_view(message);
    if (SPATE_UNLIKELY(row.data == NULL || io_spate_wire_create_sbe_position(message) != frame_length))
    {
        return SPATE_STATUS_MALFORMED;
    }
    if (SPATE_UNLIKELY(type == NULL))
    {
        return SPATE_STATUS_UNKNOWN_TYPE;
    }
    if (SPATE_UNLIKELY(row.length != type->row_length_bytes))
    {
        return SPATE_STATUS_MALFORMED;
    }
    *row_out = (const uint8_t *)row.data;
    return field_status;
}

static inline uint8_t spate_apply_create(
    spate_store *store, char *frame, uint32_t frame_length, uint16_t block_length, int64_t *node_id_out)
{
    struct io_spate_wire_create message;
    if (SPATE_UNLIKELY(block_length < io_spate_wire_create_sbe_block_length() ||
                       !io_spate_wire_create_wrap_for_decode(&message, frame, SPATE_HEADER_LENGTH_BYTES, block_length, 0, frame_length)))
    {
        return SPATE_STATUS_MALFORMED;
    }
    const int64_t node_id = io_spate_wire_create_nodeId(&message);
    spate_type *type = spate_find_type(store, io_spate_wire_create_typeId(&message));
    const uint64_t stamp = type != NULL ? ++type->record_stamp : 0;
    const uint8_t *row_data = NULL;
    const uint8_t static_status = spate_check_create(type, &message, frame_length, stamp, &row_data);
    if (SPATE_UNLIKELY(type == NULL))
    {
        return static_status; /* UNKNOWN_TYPE, or MALFORMED: no type to take an id from */
    }

    /*
     * Whether the record takes an id depends on the id alone, not on the rest of the record: the
     * pipeline decides ids (they travel in its log), so one it handed out is consumed here however
     * the record fares, and the next one it hands out for the slot is of a later generation.
     */
    int64_t slot;
    uint64_t generation;
    if (node_id == 0)
    {
        slot = atomic_load_explicit(&type->high_water_slot, memory_order_relaxed) + 1;
        generation = 0;
    }
    else
    {
        slot = node_id < 0 ? 0 : spate_slot_of(type, node_id);
        generation = spate_generation_of(type, node_id);
        if (SPATE_UNLIKELY(slot == 0))
        {
            return static_status != SPATE_STATUS_OK ? static_status : SPATE_STATUS_ID_MISMATCH;
        }
    }
    if (SPATE_UNLIKELY(slot > type->slot_limit))
    {
        return static_status != SPATE_STATUS_OK ? static_status : SPATE_STATUS_TYPE_FULL;
    }
    /* Rows past the highest slot used were never written: not read (a read fault then a write fault). */
    const uint64_t previous_header = slot > atomic_load_explicit(&type->high_water_slot, memory_order_relaxed) ?
        spate_header(SPATE_STATE_FREE, 0) : spate_slot_header(type, slot);
    const uint64_t next_generation = spate_header_generation(previous_header);
    if (SPATE_UNLIKELY(spate_header_state(previous_header) == SPATE_STATE_LIVE || generation < next_generation))
    {
        return static_status != SPATE_STATUS_OK ? static_status : SPATE_STATUS_ID_MISMATCH;
    }
    if (SPATE_UNLIKELY(atomic_load_explicit(&type->live_count, memory_order_relaxed) >= type->max_nodes))
    {
        /* maxNodes bounds live nodes: refused, consumes nothing, whatever the static status (spate_store.h). */
        return static_status != SPATE_STATUS_OK ? static_status : SPATE_STATUS_TYPE_FULL;
    }

    /* The id is settled: from here it is consumed whatever the outcome. */
    *node_id_out = node_id != 0 ? node_id : spate_make_id(type, generation, slot);
    SPATE_ASSERT(*node_id_out == spate_make_id(type, generation, slot));
    uint8_t status = static_status;
    uint32_t block_count = 0;
    uint64_t needed_bytes = 0;
    if (status == SPATE_STATUS_OK)
    {
        for (uint32_t v = 0; v < type->var_count; v++)
        {
            const spate_pending *pending = &type->pending[type->var_field_index[v]];
            if (pending->stamp == stamp && pending->length_bytes != 0)
            {
                spate_block_request(&type->blocks[block_count], pending->length_bytes, v);
                type->blocks[block_count].value = pending->value;
                needed_bytes += type->blocks[block_count++].request_bytes;
            }
        }
        if (block_count != 0 && spate_arena_take_blocks(type, block_count, needed_bytes) == SPATE_NOT_TAKEN)
        {
            status = SPATE_STATUS_ARENA_FULL;
        }
    }

    spate_mark_row_written(type, slot);
    uint8_t *row = spate_row(type, slot);
    _Atomic uint64_t *sequence = spate_stripe(type, slot);
    const uint64_t sequence_value = spate_write_begin(sequence);
    if (SPATE_UNLIKELY(status != SPATE_STATUS_OK))
    {
        /* Consumed but not live: the slot moves on to the next generation (retired after the last). */
        spate_set_row_header(row, spate_header(SPATE_STATE_FREE, generation + 1));
        spate_write_end(sequence, sequence_value);
        spate_count_freed(type, next_generation, generation);
        spate_raise_high_water(type, slot);
        return status;
    }
    spate_copy_bytes(row + SPATE_ROW_HEADER_BYTES, row_data, type->row_length_bytes);
    uint32_t b = 0;
    for (uint32_t v = 0; v < type->var_count; v++)
    {
        spate_slot *value = spate_row_slot(type, row, v);
        if (b < block_count && type->blocks[b].var_index == v)
        {
            const spate_block *block = &type->blocks[b++];
            spate_copy_bytes(type->arena + block->offset_bytes, block->value, block->length_bytes);
            __atomic_store_n(&value->arena_offset_bytes, block->offset_bytes, __ATOMIC_RELAXED);
            __atomic_store_n(&value->length_bytes, block->length_bytes, __ATOMIC_RELAXED);
            __atomic_store_n(&value->capacity_bytes, block->capacity_bytes, __ATOMIC_RELAXED);
        }
        else
        {
            /* Not sent, or empty: no block. */
            __atomic_store_n(&value->arena_offset_bytes, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&value->length_bytes, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&value->capacity_bytes, 0, __ATOMIC_RELAXED);
        }
    }
    spate_set_row_header(row, spate_header(SPATE_STATE_LIVE, generation));
    spate_write_end(sequence, sequence_value);
    if (block_count != 0)
    {
        spate_add_u64(&type->arena_tight_bytes, needed_bytes); /* the values in their smallest blocks */
    }
    if (next_generation != 0)
    {
        spate_add_i64(&type->freed_slots, -1);
    }
    spate_add_i64(&type->live_count, 1);
    spate_raise_high_water(type, slot);
    return SPATE_STATUS_OK;
}
/* ------------------------------------------------------------------------------------------ */
/* Update                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* Checks one Update value against the type: the field, and its length against width or maximum. */
static inline uint8_t spate_check_update_value(const spate_type *type, uint16_t field_id, uint32_t length_bytes, const spate_field **field_out)
{
    const spate_field *field = spate_find_field(type, field_id);
    if (SPATE_UNLIKELY(field == NULL))
    {
        return SPATE_STATUS_UNKNOWN_FIELD;
    }
    if (SPATE_UNLIKELY(length_bytes > field->max_length_bytes))
    {
        return SPATE_STATUS_VALUE_TOO_LARGE;
    }
    if (SPATE_UNLIKELY(!field->is_var && length_bytes < field->max_length_bytes))
    {
        return SPATE_STATUS_MALFORMED;
    }
    *field_out = field;
    return SPATE_STATUS_OK;
}

/* Records a checked value as pending for its field (the last one sent wins). */
static inline void spate_set_pending(spate_type *type, const spate_field *field, const uint8_t *value, uint32_t length_bytes, uint64_t stamp, uint32_t *touched_count)
{
    const uint32_t field_index = (uint32_t)(field - type->fields);
    spate_pending *pending = &type->pending[field_index];
    if (pending->stamp != stamp)
    {
        pending->stamp = stamp;
        type->touched[(*touched_count)++] = (uint16_t)field_index;
    }
    pending->value = value;
    pending->length_bytes = length_bytes;
}

/*
 * Which string/bytes values an Update writes: the single entry, or the touched fields' pending
 * values. Visited in one order by spate_update_take and the write section, so the blocks taken
 * line up with the values that need them.
 */
typedef struct spate_update_values
{
    const spate_field *single_field;   /* the one entry, or NULL: the touched fields */
    const uint8_t *single_value;
    uint32_t single_length_bytes;
    uint32_t touched_count;
} spate_update_values;

static inline uint32_t spate_update_value_count(const spate_update_values *values)
{
    return values->single_field != NULL ? 1 : values->touched_count;
}

static inline const spate_field *spate_update_value(
    const spate_type *type, const spate_update_values *values, uint32_t i, const uint8_t **value_out, uint32_t *length_out)
{
    if (values->single_field != NULL)
    {
        *value_out = values->single_value;
        *length_out = values->single_length_bytes;
        return values->single_field;
    }
    const spate_pending *pending = &type->pending[type->touched[i]];
    *value_out = pending->value;
    *length_out = pending->length_bytes;
    return &type->fields[type->touched[i]];
}

/*
 * Takes a block for each value the Update writes that does not fit the block it has now. The
 * ARENA_FULL check counts, as a compaction would leave them, every value longer than its old
 * value's smallest block. A compaction (inside spate_arena_take_blocks) shrinks blocks, so a value
 * that fitted in place may no longer: after one, the blocks go back and are chosen again (no second
 * compaction is needed: the top then has room for the worst case). Sets *count_out to the blocks
 * taken, in visiting order.
 */
static inline int spate_update_take(spate_type *type, uint8_t *row, const spate_update_values *values, uint32_t *count_out)
{
    for (int round = 0;; round++)
    {
        uint32_t count = 0;
        uint64_t worst_bytes = 0;
        for (uint32_t i = 0; i < spate_update_value_count(values); i++)
        {
            const uint8_t *value;
            uint32_t length_bytes;
            const spate_field *field = spate_update_value(type, values, i, &value, &length_bytes);
            if (!field->is_var)
            {
                continue;
            }
            const spate_slot *slot = spate_row_slot(type, row, field->var_index);
            if (length_bytes > spate_block_bytes(slot->length_bytes))
            {
                worst_bytes += spate_block_bytes(length_bytes);
            }
            if (length_bytes > slot->capacity_bytes)
            {
                spate_block_request(&type->blocks[count++], length_bytes, field->var_index);
            }
        }
        *count_out = count;
        if (count == 0)
        {
            return SPATE_TAKEN; /* every value fits where the old one is */
        }
        const int taken = spate_arena_take_blocks(type, count, worst_bytes);
        if (taken != SPATE_TAKEN_COMPACTED)
        {
            return taken;
        }
        SPATE_ASSERT(round == 0);
        while (count > 0)
        {
            spate_arena_give_back(type, &type->blocks[--count]);
        }
    }
}

/* Inside the write section: a value into its new block (the next of blocks) or in place. */
static inline void spate_write_var(
    spate_type *type, uint8_t *row, const spate_field *field, const uint8_t *value, uint32_t length_bytes,
    uint32_t *next_block, uint32_t block_count, spate_value_change *change)
{
    spate_slot *slot = spate_row_slot(type, row, field->var_index);
    change->old_offset_bytes = slot->arena_offset_bytes;
    change->old_capacity_bytes = slot->capacity_bytes;
    change->old_length_bytes = slot->length_bytes;
    change->new_length_bytes = length_bytes;
    change->new_capacity_bytes = 0;
    if (*next_block < block_count && type->blocks[*next_block].var_index == field->var_index)
    {
        const spate_block *block = &type->blocks[(*next_block)++];
        SPATE_ASSERT(block->length_bytes == length_bytes && length_bytes > slot->capacity_bytes);
        spate_copy_bytes(type->arena + block->offset_bytes, value, length_bytes);
        __atomic_store_n(&slot->arena_offset_bytes, block->offset_bytes, __ATOMIC_RELAXED);
        __atomic_store_n(&slot->capacity_bytes, block->capacity_bytes, __ATOMIC_RELAXED);
        change->new_capacity_bytes = block->capacity_bytes;
    }
    else
    {
        SPATE_ASSERT(length_bytes <= slot->capacity_bytes);
        spate_copy_bytes(type->arena + slot->arena_offset_bytes, value, length_bytes);
    }
    __atomic_store_n(&slot->length_bytes, length_bytes, __ATOMIC_RELAXED);
}

/* After the write section: blocks let go (now unreferenced) and the arena counters. */
static inline void spate_settle_var(spate_type *type, const spate_value_change *change)
{
    if (change->new_capacity_bytes != 0)
    {
        spate_count_held(type, change->new_capacity_bytes, change->new_length_bytes);
        spate_release_value(type, change->old_offset_bytes, change->old_capacity_bytes, change->old_length_bytes);
    }
    else
    {
        spate_add_u64(&type->arena_tight_bytes, spate_block_bytes(change->new_length_bytes));
        spate_sub_u64(&type->arena_tight_bytes, spate_block_bytes(change->old_length_bytes));
    }
}

static inline uint8_t spate_apply_update(
    spate_store *store, const spate_walk *walk, char *frame, uint32_t frame_length, uint16_t block_length, int64_t *node_id_out)
{
    struct io_spate_wire_update message;
    if (SPATE_UNLIKELY(block_length < io_spate_wire_update_sbe_block_length() ||
                       !io_spate_wire_update_wrap_for_decode(&message, frame, SPATE_HEADER_LENGTH_BYTES, block_length, 0, frame_length)))
    {
        return SPATE_STATUS_MALFORMED;
    }
    const int64_t node_id = io_spate_wire_update_nodeId(&message);
    const uint32_t create_ref = io_spate_wire_update_createRef(&message);
    const uint16_t type_id = io_spate_wire_update_typeId(&message);
    spate_type *type = spate_find_type(store, type_id);

    /* One pass: structure always, field semantics while no field error was found yet. */
    struct io_spate_wire_update_fields fields;
    if (SPATE_UNLIKELY(!io_spate_wire_update_get_fields(&message, &fields) ||
                       fields.block_length < io_spate_wire_update_fields_sbe_block_length()))
    {
        return SPATE_STATUS_MALFORMED;
    }
    /* One entry (the common case) is kept in locals; several go through the pending table. */
    const bool single = io_spate_wire_update_fields_count(&fields) == 1;
    const uint64_t stamp = type != NULL && !single ? ++type->record_stamp : 0;
    uint32_t touched_count = 0;
    const spate_field *single_field = NULL;
    const uint8_t *single_value = NULL;
    uint32_t single_length_bytes = 0;
    uint8_t field_status = SPATE_STATUS_OK;
    while (io_spate_wire_update_fields_has_next(&fields))
    {
        if (SPATE_UNLIKELY(!io_spate_wire_update_fields_next(&fields)))
        {
            return SPATE_STATUS_MALFORMED;
        }
        const uint16_t field_id = io_spate_wire_update_fields_fieldId(&fields);
        const uint64_t position = io_spate_wire_update_fields_sbe_position(&fields);
        SPATE_ASSERT(position <= frame_length);
        if (SPATE_UNLIKELY(frame_length - position < io_spate_wire_update_fields_value_header_length()))
        {
            return SPATE_STATUS_MALFORMED;
        }
        const struct io_spate_wire_update_string_view value = io_spate_wire_update_fields_get_value_as_string_view(&fields);
        if (SPATE_UNLIKELY(value.data == NULL))
        {
            return SPATE_STATUS_MALFORMED;
        }
        if (type != NULL && field_status == SPATE_STATUS_OK)
        {
            const spate_field *field = NULL;
            field_status = spate_check_update_value(type, field_id, (uint32_t)value.length, &field);
            if (field_status == SPATE_STATUS_OK)
            {
                if (single)
                {
                    single_field = field;
                    single_value = (const uint8_t *)value.data;
                    single_length_bytes = (uint32_t)value.length;
                }
                else
                {
                    spate_set_pending(type, field, (const uint8_t *)value.data, (uint32_t)value.length, stamp, &touched_count);
                }
            }
        }
    }
    if (SPATE_UNLIKELY(io_spate_wire_update_sbe_position(&message) != frame_length))
    {
        return SPATE_STATUS_MALFORMED;
    }
    if (SPATE_UNLIKELY(type == NULL))
    {
        return SPATE_STATUS_UNKNOWN_TYPE;
    }
    if (SPATE_UNLIKELY(field_status != SPATE_STATUS_OK))
    {
        return field_status;
    }
    int64_t target;
    const uint8_t ref_status = spate_resolve_target(walk, create_ref, node_id, type_id, &target);
    if (SPATE_UNLIKELY(ref_status != SPATE_STATUS_OK))
    {
        return ref_status;
    }
    *node_id_out = target;
    uint8_t *row = spate_live_row(type, target);
    if (SPATE_UNLIKELY(row == NULL))
    {
        return SPATE_STATUS_NO_SUCH_NODE;
    }
    _Atomic uint64_t *sequence = spate_stripe(type, spate_slot_of(type, target));
    if (single && SPATE_LIKELY(!single_field->is_var))
    {
        const uint64_t sequence_value = spate_write_begin(sequence);
        spate_copy_fixed(row + SPATE_ROW_HEADER_BYTES + single_field->offset_bytes, single_value, single_field->max_length_bytes);
        spate_write_end(sequence, sequence_value);
        return SPATE_STATUS_OK;
    }
    if (!single && touched_count == 0)
    {
        return SPATE_STATUS_OK; /* no fields: nothing to write */
    }
    const spate_update_values values = {
        .single_field = single ? single_field : NULL, .single_value = single_value,
        .single_length_bytes = single_length_bytes, .touched_count = touched_count};
    uint32_t block_count = 0;
    if (SPATE_UNLIKELY(spate_update_take(type, row, &values, &block_count) == SPATE_NOT_TAKEN))
    {
        return SPATE_STATUS_ARENA_FULL;
    }
    spate_value_change *change_of = type->changes; /* a var field is written once per record: var_count at most */
    uint32_t next_block = 0;
    uint32_t change_count = 0;
    const uint64_t sequence_value = spate_write_begin(sequence);
    for (uint32_t i = 0; i < spate_update_value_count(&values); i++)
    {
        const uint8_t *value;
        uint32_t length_bytes;
        const spate_field *field = spate_update_value(type, &values, i, &value, &length_bytes);
        if (SPATE_LIKELY(!field->is_var))
        {
            spate_copy_fixed(row + SPATE_ROW_HEADER_BYTES + field->offset_bytes, value, field->max_length_bytes);
        }
        else
        {
            spate_write_var(type, row, field, value, length_bytes, &next_block, block_count, &change_of[change_count++]);
        }
    }
    spate_write_end(sequence, sequence_value);
    SPATE_ASSERT(next_block == block_count);
    for (uint32_t i = 0; i < change_count; i++)
    {
        spate_settle_var(type, &change_of[i]);
    }
    return SPATE_STATUS_OK;
}

/* Delete and Increment                                                                        */
/* ------------------------------------------------------------------------------------------ */

static inline uint8_t spate_apply_delete(
    spate_store *store, const spate_walk *walk, char *frame, uint32_t frame_length, uint16_t block_length, int64_t *node_id_out)
{
    struct io_spate_wire_delete message;
    if (SPATE_UNLIKELY(block_length < io_spate_wire_delete_sbe_block_length() ||
                       (uint64_t)SPATE_HEADER_LENGTH_BYTES + block_length != frame_length ||
                       !io_spate_wire_delete_wrap_for_decode(&message, frame, SPATE_HEADER_LENGTH_BYTES, block_length, 0, frame_length)))
    {
        return SPATE_STATUS_MALFORMED;
    }
    const int64_t node_id = io_spate_wire_delete_nodeId(&message);
    const uint32_t create_ref = io_spate_wire_delete_createRef(&message);
    const uint16_t type_id = io_spate_wire_delete_typeId(&message);
    spate_type *type = spate_find_type(store, type_id);
    if (SPATE_UNLIKELY(type == NULL))
    {
        return SPATE_STATUS_UNKNOWN_TYPE;
    }
    int64_t target;
    const uint8_t ref_status = spate_resolve_target(walk, create_ref, node_id, type_id, &target);
    if (SPATE_UNLIKELY(ref_status != SPATE_STATUS_OK))
    {
        return ref_status;
    }
    *node_id_out = target;
    uint8_t *row = spate_live_row(type, target);
    if (SPATE_UNLIKELY(row == NULL))
    {
        return SPATE_STATUS_NO_SUCH_NODE;
    }
    const int64_t slot = spate_slot_of(type, target);
    const uint64_t generation = spate_generation_of(type, target);
    _Atomic uint64_t *sequence = spate_stripe(type, slot);
    const uint64_t sequence_value = spate_write_begin(sequence);
    /* The slot moves on to the next generation: the deleted id never names its next node. */
    spate_set_row_header(row, spate_header(SPATE_STATE_FREE, generation + 1));
    spate_write_end(sequence, sequence_value);
    /* The row stopped referencing its blocks inside the section above: they may go to others now. */
    for (uint32_t v = 0; v < type->var_count; v++)
    {
        const spate_slot *value = spate_row_slot(type, row, v);
        spate_release_value(type, value->arena_offset_bytes, value->capacity_bytes, value->length_bytes);
    }
    spate_count_freed(type, 0, generation);
    spate_add_i64(&type->live_count, -1);
    return SPATE_STATUS_OK;
}

/* Adds delta in place: integers wrap modulo their width (two's complement), F64 adds (double)delta. */
static inline void spate_increment_value(uint8_t *value, uint8_t kind, int64_t delta)
{
    switch (kind)
    {
        case io_spate_wire_fieldKind_U8:
            *value = (uint8_t)(*value + (uint8_t)delta);
            break;
        case io_spate_wire_fieldKind_U16:
        {
            uint16_t number;
            memcpy(&number, value, sizeof number);
            number = (uint16_t)(number + (uint16_t)delta);
            memcpy(value, &number, sizeof number);
            break;
        }
        case io_spate_wire_fieldKind_U32:
        case io_spate_wire_fieldKind_I32:
        {
            uint32_t number;
            memcpy(&number, value, sizeof number);
            number += (uint32_t)delta;
            memcpy(value, &number, sizeof number);
            break;
        }
        case io_spate_wire_fieldKind_U64:
        case io_spate_wire_fieldKind_I64:
        case io_spate_wire_fieldKind_TIMESTAMP:
        {
            uint64_t number;
            memcpy(&number, value, sizeof number);
            number += (uint64_t)delta;
            memcpy(value, &number, sizeof number);
            break;
        }
        case io_spate_wire_fieldKind_F64:
        {
            double number;
            memcpy(&number, value, sizeof number);
            number += (double)delta;
            memcpy(value, &number, sizeof number);
            break;
        }
        default:
            SPATE_ASSERT(false);
            break;
    }
}

static inline uint8_t spate_apply_increment(
    spate_store *store, const spate_walk *walk, char *frame, uint32_t frame_length, uint16_t block_length, int64_t *node_id_out)
{
    struct io_spate_wire_increment message;
    if (SPATE_UNLIKELY(block_length < io_spate_wire_increment_sbe_block_length() ||
                       (uint64_t)SPATE_HEADER_LENGTH_BYTES + block_length != frame_length ||
                       !io_spate_wire_increment_wrap_for_decode(&message, frame, SPATE_HEADER_LENGTH_BYTES, block_length, 0, frame_length)))
    {
        return SPATE_STATUS_MALFORMED;
    }
    const int64_t node_id = io_spate_wire_increment_nodeId(&message);
    const int64_t delta = io_spate_wire_increment_delta(&message);
    const uint32_t create_ref = io_spate_wire_increment_createRef(&message);
    const uint16_t type_id = io_spate_wire_increment_typeId(&message);
    const uint16_t field_id = io_spate_wire_increment_fieldId(&message);
    spate_type *type = spate_find_type(store, type_id);
    if (SPATE_UNLIKELY(type == NULL))
    {
        return SPATE_STATUS_UNKNOWN_TYPE;
    }
    const spate_field *field = spate_find_field(type, field_id);
    if (SPATE_UNLIKELY(field == NULL))
    {
        return SPATE_STATUS_UNKNOWN_FIELD;
    }
    if (SPATE_UNLIKELY(field->is_var || field->kind == io_spate_wire_fieldKind_BOOL))
    {
        return SPATE_STATUS_WRONG_FIELD_KIND;
    }
    int64_t target;
    const uint8_t ref_status = spate_resolve_target(walk, create_ref, node_id, type_id, &target);
    if (SPATE_UNLIKELY(ref_status != SPATE_STATUS_OK))
    {
        return ref_status;
    }
    *node_id_out = target;
    uint8_t *row = spate_live_row(type, target);
    if (SPATE_UNLIKELY(row == NULL))
    {
        return SPATE_STATUS_NO_SUCH_NODE;
    }
    _Atomic uint64_t *sequence = spate_stripe(type, spate_slot_of(type, target));
    const uint64_t sequence_value = spate_write_begin(sequence);
    spate_increment_value(row + SPATE_ROW_HEADER_BYTES + field->offset_bytes, field->kind, delta);
    spate_write_end(sequence, sequence_value);
    return SPATE_STATUS_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* The walk                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/*
 * Row prefetch. Updates, deletes and increments land on random rows, each a cache miss to DRAM;
 * a record takes enough instructions that the CPU does not reach the next record's row by
 * itself, so without help the misses run one at a time. A second cursor walks the frames
 * SPATE_PREFETCH_DISTANCE messages ahead and prefetches the rows they name. It is only a hint:
 * every read is inside the slice, anything unexpected stops it, and it changes no state.
 */
static inline void spate_prefetch_line(const uint8_t *address, const uint8_t *already)
{
    if (((uintptr_t)address / SPATE_CACHE_LINE_BYTES) != ((uintptr_t)already / SPATE_CACHE_LINE_BYTES))
    {
        __builtin_prefetch(address, 1, 3);
    }
}

/* The bytes of a field in a row: fixed fields in place, string/bytes fields by their slot. */
static inline void spate_prefetch_field(const spate_type *type, const uint8_t *row, uint16_t field_id)
{
    const spate_field *field = spate_find_field(type, field_id);
    if (field == NULL)
    {
        return;
    }
    const uint8_t *first = field->is_var ? row + type->slots_offset_bytes + (uint64_t)field->var_index * SPATE_SLOT_BYTES
                                         : row + SPATE_ROW_HEADER_BYTES + field->offset_bytes;
    const uint8_t *last = first + (field->is_var ? SPATE_SLOT_BYTES : field->max_length_bytes) - 1;
    spate_prefetch_line(first, row);
    spate_prefetch_line(last, first);
}

static inline void spate_prefetch_next(const spate_store *store, const uint8_t *records, uint64_t length_bytes, uint64_t *cursor)
{
    const uint64_t offset_bytes = *cursor;
    /* Enough for the header and the block of any record (Increment's is the longest). */
    const uint64_t needed_bytes = SPATE_HEADER_LENGTH_BYTES + io_spate_wire_increment_sbe_block_length();
    if (offset_bytes >= length_bytes || length_bytes - offset_bytes < needed_bytes)
    {
        *cursor = length_bytes;
        return;
    }
    const uint8_t *message = records + offset_bytes;
    uint16_t block_length, template_id;
    uint32_t frame_length;
    memcpy(&block_length, message + io_spate_wire_messageHeader_blockLength_encoding_offset(), sizeof block_length);
    memcpy(&template_id, message + io_spate_wire_messageHeader_templateId_encoding_offset(), sizeof template_id);
    memcpy(&frame_length, message + io_spate_wire_messageHeader_frameLengthBytes_encoding_offset(), sizeof frame_length);
    if (frame_length < SPATE_HEADER_LENGTH_BYTES || frame_length > length_bytes - offset_bytes)
    {
        *cursor = length_bytes; /* the walk will stop there; no more hints */
        return;
    }
    *cursor = offset_bytes + frame_length;
    const uint8_t *block = message + SPATE_HEADER_LENGTH_BYTES;
    int64_t node_id;
    uint32_t create_ref;
    uint16_t type_id;
    uint16_t field_id = 0;
    bool has_field = false;
    switch (template_id)
    {
        case IO_SPATE_WIRE_UPDATE_SBE_TEMPLATE_ID:
        {
            if (frame_length < needed_bytes)
            {
                return;
            }
            memcpy(&node_id, block + io_spate_wire_update_nodeId_encoding_offset(), sizeof node_id);
            memcpy(&create_ref, block + io_spate_wire_update_createRef_encoding_offset(), sizeof create_ref);
            memcpy(&type_id, block + io_spate_wire_update_typeId_encoding_offset(), sizeof type_id);
            /* The first entry's field id: group header (4 bytes) then fieldId. */
            const uint64_t entry_offset = (uint64_t)SPATE_HEADER_LENGTH_BYTES + block_length + 4;
            if (entry_offset + sizeof field_id <= frame_length)
            {
                memcpy(&field_id, message + entry_offset, sizeof field_id);
                has_field = true;
            }
            break;
        }
        case IO_SPATE_WIRE_DELETE_SBE_TEMPLATE_ID:
            memcpy(&node_id, block + io_spate_wire_delete_nodeId_encoding_offset(), sizeof node_id);
            memcpy(&create_ref, block + io_spate_wire_delete_createRef_encoding_offset(), sizeof create_ref);
            memcpy(&type_id, block + io_spate_wire_delete_typeId_encoding_offset(), sizeof type_id);
            break;
        case IO_SPATE_WIRE_INCREMENT_SBE_TEMPLATE_ID:
            if (frame_length < needed_bytes)
            {
                return;
            }
            memcpy(&node_id, block + io_spate_wire_increment_nodeId_encoding_offset(), sizeof node_id);
            memcpy(&create_ref, block + io_spate_wire_increment_createRef_encoding_offset(), sizeof create_ref);
            memcpy(&type_id, block + io_spate_wire_increment_typeId_encoding_offset(), sizeof type_id);
            memcpy(&field_id, block + io_spate_wire_increment_fieldId_encoding_offset(), sizeof field_id);
            has_field = true;
            break;
        default:
            return; /* creates write rows in order: the hardware prefetcher sees those coming */
    }
    const spate_type *type = spate_find_type(store, type_id);
    if (create_ref != 0 || type == NULL)
    {
        return;
    }
    const int64_t slot = spate_valid_slot(type, node_id);
    if (slot == 0)
    {
        return;
    }
    const uint8_t *row = type->rows + (uint64_t)(slot - 1) * type->row_stride_bytes;
    __builtin_prefetch(row, 1, 3); /* the state byte */
    if (has_field)
    {
        spate_prefetch_field(type, row, field_id);
    }
}

/* One well-framed message (12 <= frame_length <= bytes left): its status, node id in *node_id_out. */
static inline uint8_t spate_apply_message(
    spate_store *store, spate_walk *walk, char *frame, uint32_t frame_length,
    const struct io_spate_wire_messageHeader *header, int64_t *node_id_out)
{
    if (SPATE_UNLIKELY(io_spate_wire_messageHeader_schemaId(header) != io_spate_wire_messageHeader_sbe_schema_id() ||
                       io_spate_wire_messageHeader_version(header) > io_spate_wire_messageHeader_sbe_schema_version()))
    {
        return SPATE_STATUS_SCHEMA_MISMATCH;
    }
    const uint16_t block_length = io_spate_wire_messageHeader_blockLength(header);
    const uint16_t template_id = io_spate_wire_messageHeader_templateId(header);
    if (SPATE_UNLIKELY(walk->batch_rejected && template_id != IO_SPATE_WIRE_BATCH_HEADER_SBE_TEMPLATE_ID))
    {
        const bool known = template_id == IO_SPATE_WIRE_CREATE_SBE_TEMPLATE_ID || template_id == IO_SPATE_WIRE_UPDATE_SBE_TEMPLATE_ID ||
                           template_id == IO_SPATE_WIRE_DELETE_SBE_TEMPLATE_ID || template_id == IO_SPATE_WIRE_INCREMENT_SBE_TEMPLATE_ID;
        return known ? SPATE_STATUS_SCHEMA_MISMATCH : SPATE_STATUS_UNKNOWN_TEMPLATE; /* not decoded, not applied */
    }
    switch (template_id)
    {
        case IO_SPATE_WIRE_CREATE_SBE_TEMPLATE_ID:
            return spate_apply_create(store, frame, frame_length, block_length, node_id_out);
        case IO_SPATE_WIRE_UPDATE_SBE_TEMPLATE_ID:
            return spate_apply_update(store, walk, frame, frame_length, block_length, node_id_out);
        case IO_SPATE_WIRE_DELETE_SBE_TEMPLATE_ID:
            return spate_apply_delete(store, walk, frame, frame_length, block_length, node_id_out);
        case IO_SPATE_WIRE_INCREMENT_SBE_TEMPLATE_ID:
            return spate_apply_increment(store, walk, frame, frame_length, block_length, node_id_out);
        case IO_SPATE_WIRE_BATCH_HEADER_SBE_TEMPLATE_ID:
            return spate_apply_batch_header(store, walk, frame, frame_length, block_length);
        default:
            return SPATE_STATUS_UNKNOWN_TEMPLATE;
    }
}

int64_t spate_store_apply(
    spate_store *store,
    const uint8_t *records,
    uint64_t length_bytes,
    int64_t *progress_counter,
    spate_result *results,
    uint32_t results_capacity)
{
    if (store == NULL || (records == NULL && length_bytes != 0) || (results == NULL && results_capacity != 0))
    {
        return SPATE_ERROR_NULL_ARGUMENT;
    }
    const uint64_t progress_base =
        progress_counter != NULL ? (uint64_t)__atomic_load_n(progress_counter, __ATOMIC_RELAXED) : 0;
    spate_walk walk = {
        .records = records, .results = (uint8_t *)results, .result_count = 0, .ref_base_index = 0, .batch_rejected = false};
    uint64_t offset_bytes = 0;
    uint64_t published_bytes = 0;
    uint64_t prefetch_cursor = 0;
    for (int i = 0; i < SPATE_PREFETCH_DISTANCE; i++)
    {
        spate_prefetch_next(store, records, length_bytes, &prefetch_cursor);
    }
    while (offset_bytes < length_bytes && walk.result_count < results_capacity && offset_bytes <= UINT32_MAX)
    {
        spate_prefetch_next(store, records, length_bytes, &prefetch_cursor);
        const uint64_t remaining_bytes = length_bytes - offset_bytes;
        char *frame = (char *)(records + offset_bytes); /* decoding never writes */
        uint8_t *result = walk.results + (uint64_t)walk.result_count * sizeof(spate_result);
        struct io_spate_wire_messageHeader header;
        uint32_t frame_length = 0;
        uint16_t template_id = 0;
        bool framed = false;
        if (SPATE_LIKELY(io_spate_wire_messageHeader_wrap(&header, frame, 0, 0, remaining_bytes) != NULL))
        {
            template_id = io_spate_wire_messageHeader_templateId(&header);
            frame_length = io_spate_wire_messageHeader_frameLengthBytes(&header);
            framed = frame_length >= SPATE_HEADER_LENGTH_BYTES && frame_length <= remaining_bytes;
        }
        if (SPATE_UNLIKELY(!framed))
        {
            /* Where the next message starts is unknowable: one MALFORMED for the rest, and stop. */
            const spate_result malformed = {
                .node_id = 0, .offset_bytes = (uint32_t)offset_bytes, .status = SPATE_STATUS_MALFORMED,
                .template_id = (uint8_t)template_id, .reserved = 0};
            memcpy(result, &malformed, sizeof malformed); /* results need not be aligned (Java memory) */
            walk.result_count++;
            offset_bytes = length_bytes;
        }
        else
        {
            int64_t node_id = 0;
            const uint8_t status = spate_apply_message(store, &walk, frame, frame_length, &header, &node_id);
            const spate_result outcome = {
                .node_id = node_id, .offset_bytes = (uint32_t)offset_bytes, .status = status,
                .template_id = (uint8_t)template_id, .reserved = 0};
            memcpy(result, &outcome, sizeof outcome);
            walk.result_count++;
            offset_bytes += frame_length;
        }
        if (progress_counter != NULL && offset_bytes - published_bytes >= SPATE_PROGRESS_PUBLISH_BYTES)
        {
            __atomic_store_n(progress_counter, (int64_t)(progress_base + offset_bytes), __ATOMIC_RELEASE);
            published_bytes = offset_bytes;
        }
    }
    if (progress_counter != NULL && offset_bytes != published_bytes)
    {
        __atomic_store_n(progress_counter, (int64_t)(progress_base + offset_bytes), __ATOMIC_RELEASE);
    }
    return walk.result_count;
}


/* ------------------------------------------------------------------------------------------ */
/* Reads                                                                                       */
/* ------------------------------------------------------------------------------------------ */

/* The row of an id's slot for a reader, or NULL when the slot was never used (nothing to lock). */
static inline uint8_t *spate_reader_row(spate_type *type, int64_t node_id, int64_t *slot_out)
{
    const int64_t slot = spate_valid_slot(type, node_id);
    if (slot == 0 || slot > atomic_load_explicit(&type->high_water_slot, memory_order_acquire) ||
        !spate_row_written(type, slot))
    {
        return NULL;
    }
    *slot_out = slot;
    return spate_row(type, slot);
}

int64_t spate_store_get(spate_store *store, uint16_t type_id, int64_t node_id, uint8_t *out, uint32_t out_capacity_bytes)
{
    if (store == NULL || (out == NULL && out_capacity_bytes != 0))
    {
        return SPATE_ERROR_NULL_ARGUMENT;
    }
    spate_type *type = spate_find_type(store, type_id);
    if (type == NULL)
    {
        return SPATE_ERROR_UNKNOWN_TYPE;
    }
    int64_t slot = 0;
    uint8_t *row = spate_reader_row(type, node_id, &slot);
    if (row == NULL)
    {
        return SPATE_ERROR_NO_SUCH_NODE;
    }
    const uint64_t live_header = spate_header(SPATE_STATE_LIVE, spate_generation_of(type, node_id));
    _Atomic uint64_t *sequence = spate_stripe(type, slot);
    for (;;)
    {
        const uint64_t sequence_value = spate_read_begin(sequence);
        if (spate_row_header(row) != live_header)
        {
            if (spate_read_retry(sequence, sequence_value))
            {
                continue;
            }
            return SPATE_ERROR_NO_SUCH_NODE; /* not live, or its slot holds another generation */
        }
        bool too_small = false;
        bool inconsistent = false;
        uint64_t written_bytes = type->row_length_bytes;
        if (written_bytes > out_capacity_bytes)
        {
            too_small = true;
        }
        else if (type->row_length_bytes != 0) /* out may be NULL for an empty node */
        {
            memcpy(out, row + SPATE_ROW_HEADER_BYTES, type->row_length_bytes);
        }
        for (uint32_t v = 0; v < type->var_count && !too_small; v++)
        {
            /* Each slot word is loaded once: a torn slot must not be checked and then used differently. */
            const spate_slot *value = spate_row_slot(type, row, v);
            const uint64_t arena_offset_bytes = __atomic_load_n(&value->arena_offset_bytes, __ATOMIC_RELAXED);
            const uint32_t length_bytes = __atomic_load_n(&value->length_bytes, __ATOMIC_RELAXED);
            if (arena_offset_bytes > type->arena_capacity_bytes || length_bytes > type->arena_capacity_bytes - arena_offset_bytes)
            {
                inconsistent = true; /* torn by a concurrent write: the sequence check below retries */
                break;
            }
            if (written_bytes + sizeof(uint32_t) + length_bytes > out_capacity_bytes)
            {
                too_small = true;
                break;
            }
            memcpy(out + written_bytes, &length_bytes, sizeof(uint32_t));
            written_bytes += sizeof(uint32_t);
            if (length_bytes != 0)
            {
                memcpy(out + written_bytes, type->arena + arena_offset_bytes, length_bytes);
            }
            written_bytes += length_bytes;
        }
        if (spate_read_retry(sequence, sequence_value))
        {
            continue;
        }
        SPATE_ASSERT(!inconsistent);
        if (inconsistent)
        {
            return SPATE_ERROR_NO_SUCH_NODE; /* unreachable unless memory is corrupt */
        }
        return too_small ? SPATE_ERROR_BUFFER_TOO_SMALL : (int64_t)written_bytes;
    }
}

int32_t spate_store_node_state(spate_store *store, uint16_t type_id, int64_t node_id)
{
    if (store == NULL)
    {
        return SPATE_ERROR_NULL_ARGUMENT;
    }
    spate_type *type = spate_find_type(store, type_id);
    if (type == NULL)
    {
        return SPATE_ERROR_UNKNOWN_TYPE;
    }
    int64_t slot = 0;
    const uint8_t *row = spate_reader_row(type, node_id, &slot);
    if (row == NULL)
    {
        return SPATE_NODE_NOT_ISSUED; /* an invalid id, or a slot never used */
    }
    const uint64_t generation = spate_generation_of(type, node_id);
    _Atomic uint64_t *sequence = spate_stripe(type, slot);
    for (;;)
    {
        const uint64_t sequence_value = spate_read_begin(sequence);
        const uint64_t header = spate_row_header(row);
        if (spate_read_retry(sequence, sequence_value))
        {
            continue;
        }
        const uint64_t slot_generation = spate_header_generation(header);
        if (spate_header_state(header) == SPATE_STATE_LIVE)
        {
            return generation == slot_generation ? SPATE_NODE_LIVE :
                   generation < slot_generation  ? SPATE_NODE_GONE : SPATE_NODE_NOT_ISSUED;
        }
        return generation < slot_generation ? SPATE_NODE_GONE : SPATE_NODE_NOT_ISSUED; /* free: the next generation */
    }
}

int32_t spate_store_exists(spate_store *store, uint16_t type_id, int64_t node_id)
{
    const int32_t state = spate_store_node_state(store, type_id, node_id);
    return state < 0 ? state : (state == SPATE_NODE_LIVE ? 1 : 0);
}

int64_t spate_store_count(spate_store *store, uint16_t type_id)
{
    if (store == NULL)
    {
        return SPATE_ERROR_NULL_ARGUMENT;
    }
    const spate_type *type = spate_find_type(store, type_id);
    return type == NULL ? SPATE_ERROR_UNKNOWN_TYPE : atomic_load_explicit(&type->live_count, memory_order_acquire);
}

int32_t spate_store_type_stats(spate_store *store, uint16_t type_id, spate_type_stats *out)
{
    if (store == NULL || out == NULL)
    {
        return SPATE_ERROR_NULL_ARGUMENT;
    }
    spate_type *type = spate_find_type(store, type_id);
    if (type == NULL)
    {
        return SPATE_ERROR_UNKNOWN_TYPE;
    }
    const int64_t live_nodes = atomic_load_explicit(&type->live_count, memory_order_acquire);
    const int64_t high_water_slot = atomic_load_explicit(&type->high_water_slot, memory_order_acquire);
    const uint64_t free_bytes = atomic_load_explicit(&type->arena_free_bytes, memory_order_acquire);
    const uint64_t reserved_bytes = atomic_load_explicit(&type->arena_reserved_bytes, memory_order_acquire);
    *out = (spate_type_stats){
        .max_nodes = type->max_nodes,
        .live_nodes = live_nodes,
        .slot_limit = type->slot_limit,
        .high_water_slot = high_water_slot,
        .free_slots = high_water_slot > live_nodes ? high_water_slot - live_nodes : 0,
        .retired_slots = atomic_load_explicit(&type->retired_slots, memory_order_acquire),
        .arena_capacity_bytes = type->arena_capacity_bytes,
        .arena_live_bytes = reserved_bytes > free_bytes ? reserved_bytes - free_bytes : 0,
        .arena_free_bytes = free_bytes,
        .arena_reserved_bytes = reserved_bytes,
        .arena_compactions = atomic_load_explicit(&type->arena_compactions, memory_order_acquire),
        .slot_bits = type->slot_bits,
        .row_stride_bytes = type->row_stride_bytes,
    };
    return 0;
}

int64_t spate_store_free_ids(spate_store *store, uint16_t type_id, int64_t from_slot, int64_t *out, uint32_t capacity)
{
    if (store == NULL || (out == NULL && capacity != 0))
    {
        return SPATE_ERROR_NULL_ARGUMENT;
    }
    const spate_type *type = spate_find_type(store, type_id);
    if (type == NULL)
    {
        return SPATE_ERROR_UNKNOWN_TYPE;
    }
    const int64_t high_water_slot = atomic_load_explicit(&type->high_water_slot, memory_order_acquire);
    uint32_t count = 0;
    for (int64_t slot = from_slot < 1 ? 1 : from_slot; slot <= high_water_slot && count < capacity; slot++)
    {
        const uint64_t header = spate_slot_header(type, slot);
        const uint64_t generation = spate_header_generation(header);
        if (spate_header_state(header) != SPATE_STATE_LIVE && generation <= type->max_generation)
        {
            out[count++] = spate_make_id(type, generation, slot);
        }
    }
    return count;
}

int32_t spate_store_reserve(spate_store *store, uint16_t type_id, int64_t node_count)
{
    if (store == NULL)
    {
        return SPATE_ERROR_NULL_ARGUMENT;
    }
    spate_type *type = spate_find_type(store, type_id);
    if (type == NULL)
    {
        return SPATE_ERROR_UNKNOWN_TYPE;
    }
    if (node_count <= 0)
    {
        return 0;
    }
    if (node_count > type->max_nodes)
    {
        node_count = type->max_nodes;
    }
    int32_t rc = spate_populate_up_to(
        type->rows, type->rows_mapped_bytes, &type->rows_populated_bytes, (uint64_t)node_count * type->row_stride_bytes);
    if (rc == 0 && type->arena != NULL)
    {
        /* The type's share of the arena, as the schema sized it for maxNodes. */
        const uint64_t arena_bytes =
            (uint64_t)((unsigned __int128)type->arena_capacity_bytes * (uint64_t)node_count / (uint64_t)type->max_nodes);
        rc = spate_populate_up_to(type->arena, type->arena_mapped_bytes, &type->arena_populated_bytes, arena_bytes);
    }
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Snapshots and checksums                                                                     */
/* ------------------------------------------------------------------------------------------ */

/*
 * Images hold what is live, laid out canonically: the live rows in slot order, each value in its
 * smallest block one after the other, so an image depends on the store's content and not on its
 * history (free lists, compactions). Freed slots keep their next generation in 16 bytes each.
 */
#define SPATE_SNAPSHOT_MAGIC UINT64_C(0x504E534554415053) /* the bytes "SPATESNP", little-endian */

enum
{
    SPATE_SNAPSHOT_VERSION = 2,
    SPATE_SNAPSHOT_HEADER_BYTES = 32,
    SPATE_SNAPSHOT_TYPE_HEADER_BYTES = 40,
    SPATE_SNAPSHOT_FREED_RECORD_BYTES = 16,
};

static inline void spate_put_u16(uint8_t *at, uint16_t value)
{
    memcpy(at, &value, sizeof value);
}

static inline void spate_put_u32(uint8_t *at, uint32_t value)
{
    memcpy(at, &value, sizeof value);
}

static inline void spate_put_u64(uint8_t *at, uint64_t value)
{
    memcpy(at, &value, sizeof value);
}

static inline uint16_t spate_get_u16(const uint8_t *at)
{
    uint16_t value;
    memcpy(&value, at, sizeof value);
    return value;
}

static inline uint32_t spate_get_u32(const uint8_t *at)
{
    uint32_t value;
    memcpy(&value, at, sizeof value);
    return value;
}

static inline uint64_t spate_get_u64(const uint8_t *at)
{
    uint64_t value;
    memcpy(&value, at, sizeof value);
    return value;
}

/* One type's image length from its counters: header, live rows, freed records, the values in their smallest blocks. */
static uint64_t spate_type_image_bytes(const spate_type *type)
{
    const uint64_t live = (uint64_t)atomic_load_explicit(&type->live_count, memory_order_acquire);
    const uint64_t freed = (uint64_t)atomic_load_explicit(&type->freed_slots, memory_order_acquire);
    const uint64_t values = atomic_load_explicit(&type->arena_tight_bytes, memory_order_acquire);
    /* live <= 2^37, stride < 2^17, values < 2^41: no overflow. */
    return SPATE_SNAPSHOT_TYPE_HEADER_BYTES + live * (8 + (uint64_t)type->row_stride_bytes) +
           freed * SPATE_SNAPSHOT_FREED_RECORD_BYTES + values;
}

int64_t spate_store_snapshot_length(spate_store *store)
{
    if (store == NULL)
    {
        return SPATE_ERROR_NULL_ARGUMENT;
    }
    uint64_t length_bytes = SPATE_SNAPSHOT_HEADER_BYTES;
    for (uint32_t i = 0; i < store->type_count; i++)
    {
        length_bytes += spate_type_image_bytes(&store->types[i]);
        if (length_bytes > (uint64_t)INT64_MAX)
        {
            return SPATE_ERROR_OUT_OF_MEMORY;
        }
    }
    return (int64_t)length_bytes;
}

/*
 * Writes one type's part at out (section_bytes of room, which the counters said it needs). Every
 * section is checked against its bounds before a byte goes in: the counters are exact only when
 * the caller kept its promise that no apply runs, and a broken promise must not write past out.
 */
static int64_t spate_snapshot_write_type(const spate_type *type, uint8_t *out, uint64_t section_bytes)
{
    const int64_t high_water_slot = atomic_load_explicit(&type->high_water_slot, memory_order_acquire);
    const uint64_t live = (uint64_t)atomic_load_explicit(&type->live_count, memory_order_acquire);
    const uint64_t freed = (uint64_t)atomic_load_explicit(&type->freed_slots, memory_order_acquire);
    const uint64_t values_bytes = atomic_load_explicit(&type->arena_tight_bytes, memory_order_acquire);
    const uint64_t row_record_bytes = 8 + (uint64_t)type->row_stride_bytes;
    const uint64_t rows_at = SPATE_SNAPSHOT_TYPE_HEADER_BYTES;
    const uint64_t freed_at = rows_at + live * row_record_bytes;
    const uint64_t arena_at = freed_at + freed * SPATE_SNAPSHOT_FREED_RECORD_BYTES;
    if (arena_at + values_bytes != section_bytes)
    {
        return SPATE_ERROR_BUFFER_TOO_SMALL; /* the store changed since its length was taken */
    }
    uint64_t rows_cursor = rows_at, freed_cursor = freed_at, arena_cursor = arena_at;
    int64_t from_slot = 1, first_slot, end_slot;
    while (spate_next_written_run(type, from_slot, high_water_slot + 1, &first_slot, &end_slot))
    {
        for (int64_t slot = first_slot; slot < end_slot; slot++)
        {
            const uint8_t *row = spate_row(type, slot);
            const uint64_t header = spate_row_header(row);
            if (spate_header_state(header) != SPATE_STATE_LIVE)
            {
                if (spate_header_generation(header) != 0)
                {
                    if (freed_cursor + SPATE_SNAPSHOT_FREED_RECORD_BYTES > arena_at)
                    {
                        return SPATE_ERROR_BUFFER_TOO_SMALL;
                    }
                    spate_put_u64(out + freed_cursor, (uint64_t)slot);
                    spate_put_u64(out + freed_cursor + 8, spate_header_generation(header));
                    freed_cursor += SPATE_SNAPSHOT_FREED_RECORD_BYTES;
                }
                continue;
            }
            if (rows_cursor + row_record_bytes > freed_at)
            {
                return SPATE_ERROR_BUFFER_TOO_SMALL;
            }
            uint8_t *record = out + rows_cursor;
            spate_put_u64(record, (uint64_t)slot);
            uint8_t *image_row = record + 8;
            memcpy(image_row, row, type->slots_offset_bytes);
            memset(image_row + SPATE_ROW_HEADER_BYTES + type->row_length_bytes, 0,
                   type->slots_offset_bytes - SPATE_ROW_HEADER_BYTES - type->row_length_bytes);
            for (uint32_t v = 0; v < type->var_count; v++)
            {
                const spate_slot *value = spate_row_slot(type, (uint8_t *)row, v);
                const uint64_t offset_bytes = value->arena_offset_bytes;
                const uint32_t length_bytes = value->length_bytes;
                const uint32_t bytes = spate_block_bytes(length_bytes);
                if (offset_bytes > type->arena_capacity_bytes || length_bytes > type->arena_capacity_bytes - offset_bytes ||
                    arena_cursor + bytes > section_bytes)
                {
                    return SPATE_ERROR_BUFFER_TOO_SMALL;
                }
                uint8_t *image_slot = image_row + type->slots_offset_bytes + (uint64_t)v * SPATE_SLOT_BYTES;
                spate_put_u64(image_slot + offsetof(spate_slot, arena_offset_bytes), bytes == 0 ? 0 : arena_cursor - arena_at);
                spate_put_u32(image_slot + offsetof(spate_slot, length_bytes), length_bytes);
                spate_put_u32(image_slot + offsetof(spate_slot, capacity_bytes), bytes);
                if (bytes != 0)
                {
                    memcpy(out + arena_cursor, type->arena + offset_bytes, length_bytes);
                    memset(out + arena_cursor + length_bytes, 0, bytes - length_bytes);
                }
                arena_cursor += bytes;
            }
            rows_cursor += row_record_bytes;
        }
        from_slot = end_slot;
    }
    if (rows_cursor != freed_at || freed_cursor != arena_at || arena_cursor != section_bytes)
    {
        return SPATE_ERROR_BUFFER_TOO_SMALL; /* fewer than the counters said: the store changed meanwhile */
    }
    spate_put_u16(out, type->type_id);
    spate_put_u16(out + 2, 0);
    spate_put_u32(out + 4, type->row_stride_bytes);
    spate_put_u64(out + 8, (uint64_t)high_water_slot);
    spate_put_u64(out + 16, live);
    spate_put_u64(out + 24, freed);
    spate_put_u64(out + 32, values_bytes);
    return (int64_t)section_bytes;
}

int64_t spate_store_snapshot_write(spate_store *store, uint8_t *out, uint64_t capacity_bytes)
{
    if (store == NULL || (out == NULL && capacity_bytes != 0))
    {
        return SPATE_ERROR_NULL_ARGUMENT;
    }
    const int64_t length_bytes = spate_store_snapshot_length(store);
    if (length_bytes < 0)
    {
        return length_bytes;
    }
    if ((uint64_t)length_bytes > capacity_bytes)
    {
        return SPATE_ERROR_BUFFER_TOO_SMALL;
    }
    uint64_t position = SPATE_SNAPSHOT_HEADER_BYTES;
    for (uint32_t type_id = 0; type_id < store->type_id_limit; type_id++)
    {
        const spate_type *type = store->type_by_id[type_id];
        if (type == NULL)
        {
            continue;
        }
        const uint64_t section_bytes = spate_type_image_bytes(type);
        if (section_bytes > capacity_bytes - position)
        {
            return SPATE_ERROR_BUFFER_TOO_SMALL;
        }
        const int64_t written = spate_snapshot_write_type(type, out + position, section_bytes);
        if (written < 0)
        {
            return written;
        }
        position += section_bytes;
    }
    spate_put_u64(out, SPATE_SNAPSHOT_MAGIC);
    spate_put_u32(out + 8, SPATE_SNAPSHOT_VERSION);
    spate_put_u32(out + 12, store->type_count);
    spate_put_u64(out + 16, position);
    spate_put_u64(out + 24, store->schema_fingerprint);
    return (int64_t)position;
}

/* The image being loaded: every read is checked against the bytes left. */
typedef struct spate_image
{
    const uint8_t *bytes;
    uint64_t length_bytes;
    uint64_t position;
} spate_image;

static inline const uint8_t *spate_image_take(spate_image *image, uint64_t length_bytes)
{
    if (length_bytes > image->length_bytes - image->position)
    {
        return NULL;
    }
    const uint8_t *at = image->bytes + image->position;
    image->position += length_bytes;
    return at;
}

/*
 * Whether an image row is one the store writes: a live header with a generation in range, zero
 * padding, and per value a length within the field's maximum, its smallest block as capacity, and
 * the offset the canonical layout gives it (*arena_cursor, advanced here), inside the image's arena
 * bytes, whose block tail past the length is zero.
 */
static bool spate_snapshot_row_valid(const spate_type *type, const uint8_t *row, const uint8_t *arena, uint64_t arena_bytes, uint64_t *arena_cursor)
{
    const uint64_t header = spate_get_u64(row);
    if (spate_header_state(header) != SPATE_STATE_LIVE || spate_header_generation(header) > type->max_generation)
    {
        return false;
    }
    for (uint32_t at = SPATE_ROW_HEADER_BYTES + type->row_length_bytes; at < type->slots_offset_bytes; at++)
    {
        if (row[at] != 0)
        {
            return false;
        }
    }
    for (uint32_t v = 0; v < type->var_count; v++)
    {
        const uint8_t *slot = row + type->slots_offset_bytes + (uint64_t)v * SPATE_SLOT_BYTES;
        const uint64_t offset_bytes = spate_get_u64(slot + offsetof(spate_slot, arena_offset_bytes));
        const uint32_t length_bytes = spate_get_u32(slot + offsetof(spate_slot, length_bytes));
        const uint32_t capacity_bytes = spate_get_u32(slot + offsetof(spate_slot, capacity_bytes));
        const spate_field *field = &type->fields[type->var_field_index[v]];
        if (length_bytes > field->max_length_bytes || capacity_bytes != spate_block_bytes(length_bytes) ||
            offset_bytes != (capacity_bytes == 0 ? 0 : *arena_cursor) || capacity_bytes > arena_bytes - *arena_cursor)
        {
            return false;
        }
        for (uint32_t at = length_bytes; at < capacity_bytes; at++)
        {
            if (arena[*arena_cursor + at] != 0)
            {
                return false;
            }
        }
        *arena_cursor += capacity_bytes;
    }
    return true;
}

/*
 * Commits the rows a load writes a huge page at a time (one madvise per 2 MiB, not per row):
 * [offset, offset + length) of the rows region, when it reaches past *populated_end_bytes, the
 * window loads ascend through.
 */
static int32_t spate_populate_window(spate_type *type, uint64_t *populated_end_bytes, uint64_t offset_bytes, uint64_t length_bytes)
{
    const uint64_t end_bytes = offset_bytes + length_bytes;
    if (end_bytes <= *populated_end_bytes)
    {
        return 0;
    }
    const uint64_t begin_bytes = offset_bytes > *populated_end_bytes ? offset_bytes : *populated_end_bytes;
    uint64_t window_end_bytes = spate_round_up(end_bytes, SPATE_HUGE_PAGE_BYTES);
    window_end_bytes = window_end_bytes < type->rows_mapped_bytes ? window_end_bytes : type->rows_mapped_bytes;
    const int32_t rc = spate_populate_range(type->rows, begin_bytes, window_end_bytes - begin_bytes);
    *populated_end_bytes = window_end_bytes;
    return rc;
}

/* One type's part of the image, checked in full before the type's counters say it holds anything. */
static int32_t spate_snapshot_load_type(spate_store *store, spate_image *image, int64_t *previous_type_id)
{
    const uint8_t *header = spate_image_take(image, SPATE_SNAPSHOT_TYPE_HEADER_BYTES);
    if (header == NULL)
    {
        return SPATE_ERROR_BAD_SNAPSHOT;
    }
    const uint16_t type_id = spate_get_u16(header);
    const uint64_t high_water_slot = spate_get_u64(header + 8);
    const uint64_t live = spate_get_u64(header + 16);
    const uint64_t freed = spate_get_u64(header + 24);
    const uint64_t arena_bytes = spate_get_u64(header + 32);
    spate_type *type = spate_find_type(store, type_id);
    if (type == NULL || (int64_t)type_id <= *previous_type_id || spate_get_u16(header + 2) != 0 ||
        spate_get_u32(header + 4) != type->row_stride_bytes || high_water_slot > (uint64_t)type->slot_limit ||
        live > (uint64_t)type->max_nodes || live > high_water_slot || freed > high_water_slot - live ||
        arena_bytes > type->arena_capacity_bytes || arena_bytes % SPATE_ARENA_BLOCK_ALIGN != 0 ||
        (type->var_count == 0 && arena_bytes != 0))
    {
        return SPATE_ERROR_BAD_SNAPSHOT;
    }
    *previous_type_id = type_id;
    /* live <= 2^36, freed <= 2^41 by the checks above: no overflow. */
    const uint64_t row_record_bytes = 8 + (uint64_t)type->row_stride_bytes;
    const uint8_t *rows = spate_image_take(image, live * row_record_bytes);
    const uint8_t *freed_records = spate_image_take(image, freed * SPATE_SNAPSHOT_FREED_RECORD_BYTES);
    const uint8_t *arena = spate_image_take(image, arena_bytes);
    if ((live != 0 && rows == NULL) || (freed != 0 && freed_records == NULL) || (arena_bytes != 0 && arena == NULL))
    {
        return SPATE_ERROR_BAD_SNAPSHOT;
    }

    /* From here the store is written: the counters that spate_snapshot_unload resets go first. */
    atomic_store_explicit(&type->high_water_slot, (int64_t)high_water_slot, memory_order_relaxed);
    uint64_t arena_cursor = 0;
    uint64_t previous_slot = 0;
    uint64_t populated_end_bytes = 0;
    for (uint64_t i = 0; i < live; i++)
    {
        const uint8_t *record = rows + i * row_record_bytes;
        const uint64_t slot = spate_get_u64(record);
        if (slot <= previous_slot || slot > high_water_slot ||
            !spate_snapshot_row_valid(type, record + 8, arena, arena_bytes, &arena_cursor))
        {
            return SPATE_ERROR_BAD_SNAPSHOT;
        }
        previous_slot = slot;
        spate_mark_row_written(type, (int64_t)slot);
        uint8_t *row = spate_row(type, (int64_t)slot);
        const int32_t rc = spate_populate_window(type, &populated_end_bytes, (uint64_t)(row - type->rows), type->row_stride_bytes);
        if (rc != 0)
        {
            return rc;
        }
        memcpy(row, record + 8, type->row_stride_bytes);
    }
    if (arena_cursor != arena_bytes)
    {
        return SPATE_ERROR_BAD_SNAPSHOT; /* bytes no value owns */
    }
    const uint64_t last_live_slot = previous_slot;
    int64_t retired = 0;
    previous_slot = 0;
    uint64_t freed_populated_end_bytes = 0;
    for (uint64_t i = 0; i < freed; i++)
    {
        const uint8_t *record = freed_records + i * SPATE_SNAPSHOT_FREED_RECORD_BYTES;
        const uint64_t slot = spate_get_u64(record);
        const uint64_t next_generation = spate_get_u64(record + 8);
        if (slot <= previous_slot || slot > high_water_slot || next_generation < 1 ||
            next_generation > type->max_generation + 1 ||
            spate_slot_header(type, (int64_t)slot) != spate_header(SPATE_STATE_FREE, 0)) /* a live row's slot */
        {
            return SPATE_ERROR_BAD_SNAPSHOT;
        }
        previous_slot = slot;
        spate_mark_row_written(type, (int64_t)slot);
        const int32_t rc = spate_populate_window(type, &freed_populated_end_bytes, (uint64_t)(slot - 1) * type->row_stride_bytes, SPATE_ROW_HEADER_BYTES);
        if (rc != 0)
        {
            return rc;
        }
        spate_set_row_header(spate_row(type, (int64_t)slot), spate_header(SPATE_STATE_FREE, next_generation));
        retired += next_generation == type->max_generation + 1 ? 1 : 0;
    }
    /* The highest slot used is live or was consumed (a never-used slot is never the highest): its record is there. */
    if ((last_live_slot > previous_slot ? last_live_slot : previous_slot) != high_water_slot)
    {
        return SPATE_ERROR_BAD_SNAPSHOT;
    }
    if (arena_bytes != 0)
    {
        spate_set_arena_top(type, arena_bytes); /* before the copy, so that a failed load releases it */
        const int32_t rc = spate_populate_range(type->arena, 0, arena_bytes);
        if (rc != 0)
        {
            return rc;
        }
        memcpy(type->arena, arena, arena_bytes);
    }
    atomic_store_explicit(&type->arena_tight_bytes, arena_bytes, memory_order_release);
    atomic_store_explicit(&type->freed_slots, (int64_t)freed, memory_order_release);
    atomic_store_explicit(&type->retired_slots, retired, memory_order_release);
    atomic_store_explicit(&type->live_count, (int64_t)live, memory_order_release);
    atomic_store_explicit(&type->high_water_slot, (int64_t)high_water_slot, memory_order_release);
    return 0;
}

/*
 * Back to the state of a freshly opened store after a failed load: the rows it marked, the arena
 * bytes it copied (zero pages again: reads and later images see zeros), bits and counters.
 */
static void spate_snapshot_unload(spate_store *store)
{
    for (uint32_t i = 0; i < store->type_count; i++)
    {
        spate_type *type = &store->types[i];
        const uint64_t chunks = type->rows_written_words * 64;
        for (uint64_t chunk = 0; chunk < chunks; chunk++)
        {
            if (type->rows_written[chunk / 64] == 0)
            {
                chunk = (chunk / 64 + 1) * 64 - 1;
                continue;
            }
            if (((type->rows_written[chunk / 64] >> (chunk % 64)) & 1) != 0)
            {
                spate_release(type->rows, type->rows_mapped_bytes, chunk * SPATE_HUGE_PAGE_BYTES, SPATE_HUGE_PAGE_BYTES);
            }
        }
        memset(type->rows_written, 0, type->rows_written_words * sizeof(uint64_t));
        if (type->arena_top_bytes != 0)
        {
            spate_release(type->arena, type->arena_mapped_bytes, 0, type->arena_top_bytes);
        }
        spate_set_arena_top(type, 0);
        memset(type->arena_free_heads, 0, sizeof type->arena_free_heads);
        memset(type->arena_free_mask, 0, sizeof type->arena_free_mask);
        atomic_store_explicit(&type->arena_free_bytes, 0, memory_order_relaxed);
        atomic_store_explicit(&type->arena_tight_bytes, 0, memory_order_relaxed);
        atomic_store_explicit(&type->arena_compactions, 0, memory_order_relaxed);
        atomic_store_explicit(&type->freed_slots, 0, memory_order_relaxed);
        atomic_store_explicit(&type->retired_slots, 0, memory_order_relaxed);
        atomic_store_explicit(&type->live_count, 0, memory_order_relaxed);
        atomic_store_explicit(&type->high_water_slot, 0, memory_order_relaxed);
        atomic_store_explicit(&type->rows_populated_bytes, 0, memory_order_relaxed);
        atomic_store_explicit(&type->arena_populated_bytes, 0, memory_order_relaxed);
    }
}

static int32_t spate_snapshot_load_image(spate_store *store, spate_image *image, bool *wrote_out)
{
    if (image->length_bytes < 8)
    {
        return SPATE_ERROR_SNAPSHOT_TRUNCATED;
    }
    if (spate_get_u64(image->bytes) != SPATE_SNAPSHOT_MAGIC)
    {
        return SPATE_ERROR_BAD_SNAPSHOT;
    }
    if (image->length_bytes < SPATE_SNAPSHOT_HEADER_BYTES)
    {
        return SPATE_ERROR_SNAPSHOT_TRUNCATED;
    }
    const uint8_t *header = spate_image_take(image, SPATE_SNAPSHOT_HEADER_BYTES);
    const uint32_t version = spate_get_u32(header + 8);
    const uint32_t type_count = spate_get_u32(header + 12);
    const uint64_t stated_length_bytes = spate_get_u64(header + 16);
    const uint64_t fingerprint = spate_get_u64(header + 24);
    if (version != SPATE_SNAPSHOT_VERSION)
    {
        return SPATE_ERROR_SNAPSHOT_VERSION;
    }
    if (stated_length_bytes > image->length_bytes)
    {
        return SPATE_ERROR_SNAPSHOT_TRUNCATED;
    }
    if (stated_length_bytes < image->length_bytes)
    {
        return SPATE_ERROR_BAD_SNAPSHOT; /* bytes after the image: not what write produced */
    }
    if (fingerprint != store->schema_fingerprint || type_count != store->type_count)
    {
        return SPATE_ERROR_SNAPSHOT_SCHEMA;
    }
    int64_t previous_type_id = -1;
    for (uint32_t i = 0; i < type_count; i++)
    {
        *wrote_out = true; /* from here on the store may hold parts of the image */
        const int32_t rc = spate_snapshot_load_type(store, image, &previous_type_id);
        if (rc != 0)
        {
            return rc;
        }
    }
    return image->position == image->length_bytes ? 0 : SPATE_ERROR_BAD_SNAPSHOT;
}

int32_t spate_store_snapshot_load(spate_store *store, const uint8_t *image, uint64_t length_bytes)
{
    if (store == NULL || (image == NULL && length_bytes != 0))
    {
        return SPATE_ERROR_NULL_ARGUMENT;
    }
    for (uint32_t i = 0; i < store->type_count; i++)
    {
        const spate_type *type = &store->types[i];
        if (atomic_load_explicit(&type->high_water_slot, memory_order_acquire) != 0 || type->arena_top_bytes != 0 ||
            atomic_load_explicit(&type->live_count, memory_order_acquire) != 0)
        {
            return SPATE_ERROR_STORE_NOT_EMPTY;
        }
    }
    spate_image reader = {.bytes = image, .length_bytes = length_bytes, .position = 0};
    bool wrote = false;
    const int32_t rc = spate_snapshot_load_image(store, &reader, &wrote);
    if (rc != 0 && wrote)
    {
        spate_snapshot_unload(store);
    }
    return rc;
}

/* A live node's content: the fixed row, then each string/bytes value (length and bytes, not where it is). */
static uint64_t spate_hash_node(const spate_type *type, const uint8_t *row, uint64_t hash)
{
    hash = spate_hash_bytes(hash, row + SPATE_ROW_HEADER_BYTES, type->row_length_bytes);
    for (uint32_t v = 0; v < type->var_count; v++)
    {
        const spate_slot *slot = (const spate_slot *)(row + type->slots_offset_bytes + (uint64_t)v * SPATE_SLOT_BYTES);
        const uint64_t arena_offset_bytes = __atomic_load_n(&slot->arena_offset_bytes, __ATOMIC_RELAXED);
        const uint32_t length_bytes = __atomic_load_n(&slot->length_bytes, __ATOMIC_RELAXED);
        if (arena_offset_bytes > type->arena_capacity_bytes || length_bytes > type->arena_capacity_bytes - arena_offset_bytes)
        {
            hash = spate_hash_word(hash, UINT64_MAX); /* torn by an apply the contract rules out: never read out of bounds */
            continue;
        }
        hash = spate_hash_bytes(hash, type->arena + arena_offset_bytes, length_bytes);
    }
    return hash;
}

int32_t spate_store_checksum(spate_store *store, uint16_t type_id, uint64_t *out)
{
    if (store == NULL || out == NULL)
    {
        return SPATE_ERROR_NULL_ARGUMENT;
    }
    const spate_type *type = spate_find_type(store, type_id);
    if (type == NULL)
    {
        return SPATE_ERROR_UNKNOWN_TYPE;
    }
    const int64_t high_water_slot = atomic_load_explicit(&type->high_water_slot, memory_order_acquire);
    const int64_t live_count = atomic_load_explicit(&type->live_count, memory_order_acquire);
    uint64_t hash = spate_hash_word(SPATE_HASH_SEED, type_id);
    hash = spate_hash_word(hash, (uint64_t)high_water_slot);
    hash = spate_hash_word(hash, (uint64_t)live_count);
    /* Never-used slots go in as runs, so that unwritten rows (skipped, or in clear chunks) need no visit. */
    uint64_t never_run = 0;
    int64_t from_slot = 1, first_slot, end_slot;
    while (spate_next_written_run(type, from_slot, high_water_slot + 1, &first_slot, &end_slot))
    {
        never_run += (uint64_t)(first_slot - from_slot);
        for (int64_t slot = first_slot; slot < end_slot; slot++)
        {
            const uint8_t *row = spate_row(type, slot);
            const uint64_t header = spate_row_header(row);
            const uint8_t state = spate_header_state(header);
            const uint64_t generation = spate_header_generation(header);
            if (state != SPATE_STATE_LIVE && generation == 0)
            {
                never_run++;
                continue;
            }
            if (never_run != 0)
            {
                hash = spate_hash_word(spate_hash_word(hash, 0), never_run);
                never_run = 0;
            }
            hash = spate_hash_word(hash, state == SPATE_STATE_LIVE ? 1 : 2);
            hash = spate_hash_word(hash, generation);
            if (state == SPATE_STATE_LIVE)
            {
                hash = spate_hash_node(type, row, hash);
            }
        }
        from_slot = end_slot;
    }
    never_run += (uint64_t)(high_water_slot + 1 - from_slot);
    if (never_run != 0)
    {
        hash = spate_hash_word(spate_hash_word(hash, 0), never_run);
    }
    *out = spate_hash_finish(hash);
    return 0;
}
