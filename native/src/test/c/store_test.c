/*
 * Tests of the native store through its public API, with messages encoded by the generated SBE
 * C encoders. Plain checks; exits non-zero when any fails. Also run under ASan+UBSan.
 *
 * Environment: SPATE_FUZZ_ITERATIONS (default 1000000), SPATE_FUZZ_SEED (default fixed),
 * SPATE_CONCURRENT_UPDATES (default 2000000), SPATE_SNAPSHOT_FUZZ_ITERATIONS (default 20000),
 * SPATE_REUSE_ITERATIONS (model batches, default 200000), SPATE_REUSE_SEED (default fixed),
 * SPATE_CONCURRENT_REUSE_OPS (default 4000000).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "spate_store.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "io_spate_wire/batchHeader.h"
#include "io_spate_wire/create.h"
#include "io_spate_wire/delete.h"
#include "io_spate_wire/fieldKind.h"
#include "io_spate_wire/increment.h"
#include "io_spate_wire/messageHeader.h"
#include "io_spate_wire/storeSchema.h"
#include "io_spate_wire/update.h"

/* ------------------------------------------------------------------------------------------ */
/* Checks                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static long g_passed;
static long g_failed;

/* A failed CHECK reports and leaves the current test function; the run goes on with the next. */
#define CHECK(condition, ...)                                                                   \
    do                                                                                          \
    {                                                                                           \
        if (condition)                                                                          \
        {                                                                                       \
            g_passed++;                                                                         \
        }                                                                                       \
        else                                                                                    \
        {                                                                                       \
            g_failed++;                                                                         \
            fprintf(stderr, "FAILED %s:%d in %s: %s\n    ", __FILE__, __LINE__, __func__, #condition); \
            fprintf(stderr, __VA_ARGS__);                                                       \
            fputc('\n', stderr);                                                                \
            return;                                                                             \
        }                                                                                       \
    } while (0)

/* For helpers: a broken test setup is fatal. */
#define REQUIRE(condition)                                                                      \
    do                                                                                          \
    {                                                                                           \
        if (!(condition))                                                                       \
        {                                                                                       \
            fprintf(stderr, "FATAL %s:%d: %s\n", __FILE__, __LINE__, #condition);               \
            exit(2);                                                                            \
        }                                                                                       \
    } while (0)

static const char *status_name(int status)
{
    static const char *const names[] = {
        "OK", "UNKNOWN_TYPE", "UNKNOWN_FIELD", "VALUE_TOO_LARGE", "NO_SUCH_NODE", "MALFORMED",
        "SCHEMA_MISMATCH", "BAD_REFERENCE", "ID_MISMATCH", "TYPE_FULL", "WRONG_FIELD_KIND",
        "ARENA_FULL", "UNKNOWN_TEMPLATE"};
    return status >= 0 && status <= 12 ? names[status] : "?";
}

/* ------------------------------------------------------------------------------------------ */
/* Encoding                                                                                    */
/* ------------------------------------------------------------------------------------------ */

typedef struct buffer
{
    uint8_t *data;
    size_t capacity;
    size_t length;
} buffer;

static buffer buffer_new(size_t capacity)
{
    buffer b = {calloc(1, capacity), capacity, 0};
    REQUIRE(b.data != NULL);
    return b;
}

static void buffer_free(buffer *b)
{
    free(b->data);
    b->data = NULL;
}

static char *buffer_tail(buffer *b)
{
    return (char *)b->data + b->length;
}

static uint64_t buffer_room(const buffer *b)
{
    return b->capacity - b->length;
}

/* Sets frameLengthBytes (the one header field SBE does not know about) and appends the message. */
static size_t finish_message(buffer *b, struct io_spate_wire_messageHeader *header, uint64_t body_length)
{
    const uint64_t frame_length = io_spate_wire_messageHeader_encoded_length() + body_length;
    REQUIRE(frame_length <= buffer_room(b));
    io_spate_wire_messageHeader_set_frameLengthBytes(header, (uint32_t)frame_length);
    const size_t offset = b->length;
    b->length += frame_length;
    return offset;
}

/*
 * Writes the 12-byte header for a message of this template at the tail (frameLengthBytes is set by
 * finish_message). The generated *_wrap_and_apply_header does not check its header wrap, so the
 * tests use the checked pieces.
 */
static struct io_spate_wire_messageHeader begin_message(buffer *b, uint16_t block_length, uint16_t template_id)
{
    struct io_spate_wire_messageHeader header = {0};
    REQUIRE(io_spate_wire_messageHeader_wrap(&header, buffer_tail(b), 0, 0, buffer_room(b)) != NULL);
    io_spate_wire_messageHeader_set_blockLength(&header, block_length);
    io_spate_wire_messageHeader_set_templateId(&header, template_id);
    io_spate_wire_messageHeader_set_schemaId(&header, io_spate_wire_messageHeader_sbe_schema_id());
    io_spate_wire_messageHeader_set_version(&header, io_spate_wire_messageHeader_sbe_schema_version());
    return header;
}

/* Declares header and wraps message (of the given template) for encoding after it. */
#define BEGIN(target, kind, message)                                                                                \
    struct io_spate_wire_messageHeader header =                                                                     \
        begin_message(target, io_spate_wire_##kind##_sbe_block_length(), io_spate_wire_##kind##_sbe_template_id()); \
    REQUIRE(io_spate_wire_##kind##_wrap_for_encode(&message, buffer_tail(target), 12, buffer_room(target)) != NULL)

typedef struct var_value
{
    uint16_t field_id;
    const void *data;
    uint32_t length;
} var_value;

static size_t put_batch_header(buffer *b, int64_t schema_hash, uint32_t record_count)
{
    struct io_spate_wire_batchHeader m = {0};
    BEGIN(b, batchHeader, m);
    io_spate_wire_batchHeader_set_sessionId(&m, 7);
    io_spate_wire_batchHeader_set_correlationId(&m, 42);
    io_spate_wire_batchHeader_set_schemaHash(&m, schema_hash);
    io_spate_wire_batchHeader_set_recordCount(&m, record_count);
    return finish_message(b, &header, io_spate_wire_batchHeader_encoded_length(&m));
}

static size_t put_create(
    buffer *b, int64_t node_id, uint16_t type_id, const var_value *vars, uint16_t var_count, const void *row, uint32_t row_length)
{
    struct io_spate_wire_create m = {0};
    BEGIN(b, create, m);
    io_spate_wire_create_set_nodeId(&m, node_id);
    io_spate_wire_create_set_typeId(&m, type_id);
    struct io_spate_wire_create_varFields g = {0};
    REQUIRE(io_spate_wire_create_varFields_set_count(&m, &g, var_count));
    for (uint16_t i = 0; i < var_count; i++)
    {
        REQUIRE(io_spate_wire_create_varFields_next(&g));
        io_spate_wire_create_varFields_set_fieldId(&g, vars[i].field_id);
        REQUIRE(io_spate_wire_create_varFields_put_value(&g, vars[i].data, vars[i].length));
    }
    REQUIRE(io_spate_wire_create_put_row(&m, row, row_length));
    return finish_message(b, &header, io_spate_wire_create_encoded_length(&m));
}

static size_t put_update(
    buffer *b, int64_t node_id, uint32_t create_ref, uint16_t type_id, const var_value *fields, uint16_t field_count)
{
    struct io_spate_wire_update m = {0};
    BEGIN(b, update, m);
    io_spate_wire_update_set_nodeId(&m, node_id);
    io_spate_wire_update_set_createRef(&m, create_ref);
    io_spate_wire_update_set_typeId(&m, type_id);
    struct io_spate_wire_update_fields g = {0};
    REQUIRE(io_spate_wire_update_fields_set_count(&m, &g, field_count));
    for (uint16_t i = 0; i < field_count; i++)
    {
        REQUIRE(io_spate_wire_update_fields_next(&g));
        io_spate_wire_update_fields_set_fieldId(&g, fields[i].field_id);
        REQUIRE(io_spate_wire_update_fields_put_value(&g, fields[i].data, fields[i].length));
    }
    return finish_message(b, &header, io_spate_wire_update_encoded_length(&m));
}

static size_t put_delete(buffer *b, int64_t node_id, uint32_t create_ref, uint16_t type_id)
{
    struct io_spate_wire_delete m = {0};
    BEGIN(b, delete, m);
    io_spate_wire_delete_set_nodeId(&m, node_id);
    io_spate_wire_delete_set_createRef(&m, create_ref);
    io_spate_wire_delete_set_typeId(&m, type_id);
    return finish_message(b, &header, io_spate_wire_delete_encoded_length(&m));
}

static size_t put_increment(buffer *b, int64_t node_id, int64_t delta, uint32_t create_ref, uint16_t type_id, uint16_t field_id)
{
    struct io_spate_wire_increment m = {0};
    BEGIN(b, increment, m);
    io_spate_wire_increment_set_nodeId(&m, node_id);
    io_spate_wire_increment_set_delta(&m, delta);
    io_spate_wire_increment_set_createRef(&m, create_ref);
    io_spate_wire_increment_set_typeId(&m, type_id);
    io_spate_wire_increment_set_fieldId(&m, field_id);
    return finish_message(b, &header, io_spate_wire_increment_encoded_length(&m));
}

/* A message of a template the store does not know: header and body_length zero bytes. */
static size_t put_unknown(buffer *b, uint16_t template_id, uint32_t body_length)
{
    struct io_spate_wire_messageHeader header = {0};
    REQUIRE(io_spate_wire_messageHeader_wrap(&header, buffer_tail(b), 0, 0, buffer_room(b)));
    io_spate_wire_messageHeader_set_blockLength(&header, (uint16_t)body_length);
    io_spate_wire_messageHeader_set_templateId(&header, template_id);
    io_spate_wire_messageHeader_set_schemaId(&header, io_spate_wire_messageHeader_sbe_schema_id());
    io_spate_wire_messageHeader_set_version(&header, 0);
    REQUIRE(body_length <= buffer_room(b) - 12);
    memset(buffer_tail(b) + 12, 0, body_length);
    return finish_message(b, &header, body_length);
}

/* Header field patches, for messages the encoders would not produce. */
static void patch_u16(buffer *b, size_t offset, uint16_t value)
{
    memcpy(b->data + offset, &value, sizeof value);
}

static void patch_u32(buffer *b, size_t offset, uint32_t value)
{
    memcpy(b->data + offset, &value, sizeof value);
}

enum
{
    HEADER_BLOCK_LENGTH = 0,
    HEADER_TEMPLATE_ID = 2,
    HEADER_SCHEMA_ID = 4,
    HEADER_VERSION = 6,
    HEADER_FRAME_LENGTH = 8,
};

/* ------------------------------------------------------------------------------------------ */
/* Schemas                                                                                     */
/* ------------------------------------------------------------------------------------------ */

typedef struct schema_field
{
    uint16_t field_id;
    uint8_t kind;
    uint32_t offset_bytes;
    uint32_t max_length_bytes;
} schema_field;

typedef struct schema_type
{
    uint16_t type_id;
    int64_t max_nodes;
    int64_t max_arena_bytes;
    uint32_t row_length_bytes;
    const schema_field *fields;
    uint16_t field_count;
} schema_type;

static void put_store_schema(buffer *b, int64_t schema_hash, const schema_type *types, uint16_t type_count)
{
    struct io_spate_wire_storeSchema m = {0};
    BEGIN(b, storeSchema, m);
    io_spate_wire_storeSchema_set_schemaHash(&m, schema_hash);
    struct io_spate_wire_storeSchema_types tg = {0};
    REQUIRE(io_spate_wire_storeSchema_types_set_count(&m, &tg, type_count));
    for (uint16_t t = 0; t < type_count; t++)
    {
        REQUIRE(io_spate_wire_storeSchema_types_next(&tg));
        io_spate_wire_storeSchema_types_set_maxNodes(&tg, types[t].max_nodes);
        io_spate_wire_storeSchema_types_set_maxArenaBytes(&tg, types[t].max_arena_bytes);
        io_spate_wire_storeSchema_types_set_rowLengthBytes(&tg, types[t].row_length_bytes);
        io_spate_wire_storeSchema_types_set_typeId(&tg, types[t].type_id);
        struct io_spate_wire_storeSchema_types_fields fg = {0};
        REQUIRE(io_spate_wire_storeSchema_types_fields_set_count(&tg, &fg, types[t].field_count));
        for (uint16_t f = 0; f < types[t].field_count; f++)
        {
            const schema_field *field = &types[t].fields[f];
            REQUIRE(io_spate_wire_storeSchema_types_fields_next(&fg));
            io_spate_wire_storeSchema_types_fields_set_offsetBytes(&fg, field->offset_bytes);
            io_spate_wire_storeSchema_types_fields_set_maxLengthBytes(&fg, field->max_length_bytes);
            io_spate_wire_storeSchema_types_fields_set_fieldId(&fg, field->field_id);
            io_spate_wire_storeSchema_types_fields_set_kind(&fg, (enum io_spate_wire_fieldKind)field->kind);
        }
    }
    finish_message(b, &header, io_spate_wire_storeSchema_encoded_length(&m));
}

#define SCHEMA_HASH INT64_C(0x5157A7E0DEADBEEF)

/* Type 1: every kind, fixed fields at odd offsets, var fields listed out of id order. */
enum
{
    T_ALL = 1,
    F_U8 = 1, F_U16 = 2, F_U32 = 3, F_U64 = 4, F_I32 = 5, F_I64 = 6, F_F64 = 7, F_BOOL = 8, F_TS = 9,
    F_STRING = 10, F_BYTES = 11, F_SHORT = 20,
    ALL_ROW_BYTES = 44,
    ALL_MAX_NODES = 100000,
};

static const schema_field all_fields[] = {
    {F_SHORT, io_spate_wire_fieldKind_STRING, 0, 8},
    {F_BYTES, io_spate_wire_fieldKind_BYTES, 0, 64},
    {F_U8, io_spate_wire_fieldKind_U8, 0, 1},
    {F_U16, io_spate_wire_fieldKind_U16, 1, 2},
    {F_U32, io_spate_wire_fieldKind_U32, 3, 4},
    {F_U64, io_spate_wire_fieldKind_U64, 7, 8},
    {F_I32, io_spate_wire_fieldKind_I32, 15, 4},
    {F_I64, io_spate_wire_fieldKind_I64, 19, 8},
    {F_F64, io_spate_wire_fieldKind_F64, 27, 8},
    {F_BOOL, io_spate_wire_fieldKind_BOOL, 35, 1},
    {F_TS, io_spate_wire_fieldKind_TIMESTAMP, 36, 8},
    {F_STRING, io_spate_wire_fieldKind_STRING, 0, 32},
};

/* Type 2: tiny, to fill: 3 nodes, 16 arena bytes. */
enum
{
    T_SMALL = 2,
    S_U32 = 1,
    S_STRING = 2,
    SMALL_ROW_BYTES = 4,
};

static const schema_field small_fields[] = {
    {S_U32, io_spate_wire_fieldKind_U32, 0, 4},
    {S_STRING, io_spate_wire_fieldKind_STRING, 0, 16},
};

/* Type 3: the concurrent reader's pattern type. Type 900: no fields, empty row. */
enum
{
    T_PATTERN = 3,
    P_U64 = 1, P_U32 = 2, P_I64 = 3, P_STRING = 4,
    PATTERN_ROW_BYTES = 20,
    PATTERN_MAX_STRING = 64,
    T_EMPTY = 900,
    T_NO_ARENA = 5, /* a string field but a 0-byte arena */
    PATTERN_MAX_NODES = 8192,
};

static const schema_field pattern_fields[] = {
    {P_U64, io_spate_wire_fieldKind_U64, 0, 8},
    {P_U32, io_spate_wire_fieldKind_U32, 8, 4},
    {P_I64, io_spate_wire_fieldKind_I64, 12, 8},
    {P_STRING, io_spate_wire_fieldKind_STRING, 0, PATTERN_MAX_STRING},
};

static const schema_field no_arena_fields[] = {
    {1, io_spate_wire_fieldKind_STRING, 0, 8},
};

static const schema_type standard_types[] = {
    {T_ALL, ALL_MAX_NODES, 1 << 24, ALL_ROW_BYTES, all_fields, sizeof all_fields / sizeof all_fields[0]},
    {T_SMALL, 3, 16, SMALL_ROW_BYTES, small_fields, 2},
    {T_PATTERN, PATTERN_MAX_NODES, 1 << 26, PATTERN_ROW_BYTES, pattern_fields, 4},
    {T_EMPTY, 10, 0, 0, NULL, 0},
    {T_NO_ARENA, 10, 0, 0, no_arena_fields, 1},
};

static spate_store *open_standard(void)
{
    buffer b = buffer_new(4096);
    put_store_schema(&b, SCHEMA_HASH, standard_types, sizeof standard_types / sizeof standard_types[0]);
    spate_store *store = NULL;
    REQUIRE(spate_store_open(b.data, b.length, &store) == 0);
    buffer_free(&b);
    return store;
}

typedef struct all_values
{
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    int32_t i32;
    int64_t i64;
    double f64;
    bool flag;
    int64_t timestamp;
} all_values;

static void all_row(uint8_t row[ALL_ROW_BYTES], const all_values *v)
{
    memset(row, 0, ALL_ROW_BYTES);
    row[0] = v->u8;
    memcpy(row + 1, &v->u16, 2);
    memcpy(row + 3, &v->u32, 4);
    memcpy(row + 7, &v->u64, 8);
    memcpy(row + 15, &v->i32, 4);
    memcpy(row + 19, &v->i64, 8);
    memcpy(row + 27, &v->f64, 8);
    row[35] = v->flag ? 1 : 0;
    memcpy(row + 36, &v->timestamp, 8);
}

static all_values read_all_row(const uint8_t *row)
{
    all_values v;
    v.u8 = row[0];
    memcpy(&v.u16, row + 1, 2);
    memcpy(&v.u32, row + 3, 4);
    memcpy(&v.u64, row + 7, 8);
    memcpy(&v.i32, row + 15, 4);
    memcpy(&v.i64, row + 19, 8);
    memcpy(&v.f64, row + 27, 8);
    v.flag = row[35] != 0;
    memcpy(&v.timestamp, row + 36, 8);
    return v;
}

/* Applies a whole buffer with room for every result. */
#define MAX_RESULTS 4096
static spate_result g_results[MAX_RESULTS];

static int64_t apply(spate_store *store, const buffer *b)
{
    int64_t progress = 0;
    const int64_t n = spate_store_apply(store, b->data, b->length, &progress, g_results, MAX_RESULTS);
    REQUIRE(n < 0 || progress == (int64_t)b->length);
    return n;
}

/* Status of the single message in b (applied alone). */
static uint8_t apply_one(spate_store *store, const buffer *b, int64_t *node_id)
{
    const int64_t n = apply(store, b);
    REQUIRE(n == 1);
    if (node_id != NULL)
    {
        *node_id = g_results[0].node_id;
    }
    return g_results[0].status;
}

/* Applies b; true when every record was OK. */
static bool apply_all_ok(spate_store *store, const buffer *b)
{
    const int64_t n = apply(store, b);
    bool ok = n > 0;
    for (int64_t i = 0; i < n; i++)
    {
        ok &= g_results[i].status == SPATE_STATUS_OK;
    }
    return ok;
}

static void create_small(spate_store *store, uint32_t number, const char *text, int64_t *node_id, uint8_t *status)
{
    buffer b = buffer_new(256);
    const var_value s = {S_STRING, text, (uint32_t)strlen(text)};
    put_create(&b, 0, T_SMALL, &s, 1, &number, sizeof number);
    *status = apply_one(store, &b, node_id);
    buffer_free(&b);
}

/* get into a fresh buffer; returns its length or the negative error. */
static int64_t get_node(spate_store *store, uint16_t type_id, int64_t node_id, uint8_t *out, uint32_t capacity)
{
    return spate_store_get(store, type_id, node_id, out, capacity);
}

/* Finds var field number index (0-based, in field-id order) in a get output. */
static const uint8_t *get_var(const uint8_t *out, int64_t out_length, uint32_t row_length, uint32_t index, uint32_t *length)
{
    size_t position = row_length;
    for (uint32_t i = 0;; i++)
    {
        REQUIRE(position + 4 <= (size_t)out_length);
        uint32_t value_length;
        memcpy(&value_length, out + position, 4);
        position += 4;
        REQUIRE(position + value_length <= (size_t)out_length);
        if (i == index)
        {
            *length = value_length;
            return out + position;
        }
        position += value_length;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Ids and slots, seen through the public API only                                             */
/* ------------------------------------------------------------------------------------------ */

static spate_type_stats stats_of(spate_store *store, uint16_t type_id)
{
    spate_type_stats stats;
    REQUIRE(spate_store_type_stats(store, type_id, &stats) == 0);
    return stats;
}

static uint64_t checksum_of(spate_store *store, uint16_t type_id)
{
    uint64_t value = 0;
    REQUIRE(spate_store_checksum(store, type_id, &value) == 0);
    return value;
}

static int64_t high_water(spate_store *store, uint16_t type_id)
{
    return stats_of(store, type_id).high_water_slot;
}

static int64_t make_id(uint32_t slot_bits, uint64_t generation, int64_t slot)
{
    REQUIRE(slot_bits >= 8 && slot_bits < 63 && generation < (UINT64_C(1) << (63 - slot_bits)) && slot >= 1 &&
            (uint64_t)slot < (UINT64_C(1) << slot_bits));
    return (int64_t)(generation << slot_bits | (uint64_t)slot);
}

static uint64_t max_generation_of(uint32_t slot_bits)
{
    return (UINT64_C(1) << (63 - slot_bits)) - 1;
}

/*
 * A slot's generation as node_state shows it: the least generation g whose id is not GONE (ids
 * of the generations below were all handed out). Live slot: its node's generation (*live set);
 * free slot: its next generation (0: never used); retired slot: max_generation + 1. node_state is
 * GONE below that generation and not GONE from it, so an exponential then binary search finds it.
 */
static uint64_t slot_generation(spate_store *store, uint16_t type_id, uint32_t slot_bits, int64_t slot, bool *live)
{
    const uint64_t limit = max_generation_of(slot_bits) + 1; /* not an id: stands for "all GONE" */
    const int32_t state = spate_store_node_state(store, type_id, make_id(slot_bits, 0, slot));
    REQUIRE(state >= 0);
    if (state != SPATE_NODE_GONE)
    {
        *live = state == SPATE_NODE_LIVE;
        return 0;
    }
    uint64_t low = 0, high = 1; /* GONE at low */
    while (high < limit && spate_store_node_state(store, type_id, make_id(slot_bits, high, slot)) == SPATE_NODE_GONE)
    {
        low = high;
        high = high * 2 < limit ? high * 2 : limit;
    }
    while (high - low > 1) /* GONE at low, not GONE at high (or high == limit) */
    {
        const uint64_t middle = low + (high - low) / 2;
        if (spate_store_node_state(store, type_id, make_id(slot_bits, middle, slot)) == SPATE_NODE_GONE)
        {
            low = middle;
        }
        else
        {
            high = middle;
        }
    }
    *live = high < limit && spate_store_node_state(store, type_id, make_id(slot_bits, high, slot)) == SPATE_NODE_LIVE;
    return high;
}

/* The id of the node live in a slot, or 0. */
static int64_t live_id_of(spate_store *store, uint16_t type_id, int64_t slot)
{
    const uint32_t slot_bits = stats_of(store, type_id).slot_bits;
    bool live;
    const uint64_t generation = slot_generation(store, type_id, slot_bits, slot, &live);
    return live ? make_id(slot_bits, generation, slot) : 0;
}

/* Every id spate_store_free_ids lists, fetched page_ids at a time (continuing after the last slot). */
static int64_t all_free_ids(spate_store *store, uint16_t type_id, int64_t *out, int64_t capacity, uint32_t page_ids)
{
    const uint64_t slot_mask = (UINT64_C(1) << stats_of(store, type_id).slot_bits) - 1;
    int64_t count = 0, from_slot = 1;
    for (;;)
    {
        REQUIRE(count + page_ids <= capacity);
        const int64_t n = spate_store_free_ids(store, type_id, from_slot, out + count, page_ids);
        REQUIRE(n >= 0 && n <= page_ids);
        count += n;
        if (n < page_ids)
        {
            return count;
        }
        from_slot = (int64_t)((uint64_t)out[count - 1] & slot_mask) + 1;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Descriptor validation                                                                       */
/* ------------------------------------------------------------------------------------------ */

static int32_t open_types(const schema_type *types, uint16_t count)
{
    buffer b = buffer_new(1 << 20);
    put_store_schema(&b, 1, types, count);
    spate_store *store = NULL;
    const int32_t rc = spate_store_open(b.data, b.length, &store);
    REQUIRE((rc == 0) == (store != NULL));
    spate_store_close(store);
    buffer_free(&b);
    return rc;
}

static int32_t open_one_type(int64_t max_nodes, int64_t arena, uint32_t row_length, const schema_field *fields, uint16_t count)
{
    const schema_type type = {5, max_nodes, arena, row_length, fields, count};
    return open_types(&type, 1);
}

static int32_t open_patched(buffer *b, size_t length)
{
    spate_store *store = NULL;
    const int32_t rc = spate_store_open(b->data, length, &store);
    spate_store_close(store);
    return rc;
}

static void test_schema_validation(void)
{
    spate_store *store = NULL;
    CHECK(spate_store_open(NULL, 10, &store) == SPATE_ERROR_NULL_ARGUMENT, "null schema");
    uint8_t dummy[16] = {0};
    CHECK(spate_store_open(dummy, sizeof dummy, NULL) == SPATE_ERROR_NULL_ARGUMENT, "null out");

    buffer good = buffer_new(4096);
    put_store_schema(&good, SCHEMA_HASH, standard_types, sizeof standard_types / sizeof standard_types[0]);
    CHECK(open_patched(&good, good.length) == 0, "standard schema opens");
    CHECK(spate_store_open(good.data, good.length, &store) == 0 && store != NULL, "open");
    CHECK(spate_store_count(store, T_ALL) == 0, "empty");
    const spate_type_stats all = stats_of(store, T_ALL);
    CHECK(all.max_nodes == ALL_MAX_NODES && all.live_nodes == 0 && all.high_water_slot == 0 && all.free_slots == 0 &&
              all.retired_slots == 0 && all.arena_capacity_bytes == 1 << 24 && all.arena_live_bytes == 0 &&
              all.arena_free_bytes == 0 && all.arena_reserved_bytes == 0 && all.arena_compactions == 0,
          "a fresh type's stats");
    /* 44-byte row padded to 48, an 8-byte header, three 16-byte slots. */
    CHECK(all.slot_bits == 17 && all.slot_limit == ALL_MAX_NODES + 64 && all.row_stride_bytes == 8 + 48 + 3 * 16,
          "T_ALL: slot bits %u, slot limit %" PRId64 ", stride %u", all.slot_bits, all.slot_limit, all.row_stride_bytes);
    CHECK(stats_of(store, T_EMPTY).high_water_slot == 0 && stats_of(store, T_EMPTY).row_stride_bytes == 8, "empty type");
    CHECK(spate_store_count(store, 4) == SPATE_ERROR_UNKNOWN_TYPE, "unknown type count");
    spate_type_stats unused;
    CHECK(spate_store_type_stats(store, 65535, &unused) == SPATE_ERROR_UNKNOWN_TYPE, "unknown type stats");
    CHECK(spate_store_type_stats(store, T_ALL, NULL) == SPATE_ERROR_NULL_ARGUMENT, "stats to null");
    CHECK(spate_store_type_stats(NULL, T_ALL, &unused) == SPATE_ERROR_NULL_ARGUMENT, "stats of null");
    CHECK(spate_store_exists(store, 0, 1) == SPATE_ERROR_UNKNOWN_TYPE, "unknown type exists");
    CHECK(spate_store_node_state(store, 0, 1) == SPATE_ERROR_UNKNOWN_TYPE, "unknown type node state");
    CHECK(spate_store_node_state(NULL, T_ALL, 1) == SPATE_ERROR_NULL_ARGUMENT, "node state of null");
    int64_t free_id;
    CHECK(spate_store_free_ids(store, 4, 1, &free_id, 1) == SPATE_ERROR_UNKNOWN_TYPE, "unknown type free ids");
    CHECK(spate_store_free_ids(NULL, T_ALL, 1, &free_id, 1) == SPATE_ERROR_NULL_ARGUMENT, "free ids of null");
    CHECK(spate_store_free_ids(store, T_ALL, 1, NULL, 1) == SPATE_ERROR_NULL_ARGUMENT, "free ids to null");
    CHECK(spate_store_free_ids(store, T_ALL, 1, NULL, 0) == 0, "no room, no ids");
    CHECK(spate_store_free_ids(store, T_ALL, 1, &free_id, 1) == 0, "none free in a fresh type");
    spate_store_close(store);
    spate_store_close(NULL);

    /* The id layout, recomputed from spate_store.h: the least slot_bits >= 8 whose slots 1..2^bits - 1 hold
       maxNodes plus an allowance of 2^(slot_bits - 11) slots (at least one). */
    const int64_t layouts[] = {1, 2, 3, 253, 254, 255, 256, 1000, 2046, 2047, 4095, 100000, INT64_C(1) << 20,
                               (INT64_C(1) << 30) - 5, SPATE_MAX_NODES_PER_TYPE};
    const schema_field u8_field = {1, io_spate_wire_fieldKind_U8, 0, 1};
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++)
    {
        uint32_t bits = 8;
        int64_t allowance;
        for (;; bits++)
        {
            allowance = bits > 11 ? INT64_C(1) << (bits - 11) : 1;
            if (layouts[i] + allowance <= (INT64_C(1) << bits) - 1)
            {
                break;
            }
        }
        buffer schema = buffer_new(1024);
        const schema_type type = {9, layouts[i], 0, 1, &u8_field, 1};
        put_store_schema(&schema, 1, &type, 1);
        CHECK(spate_store_open(schema.data, schema.length, &store) == 0, "open maxNodes %" PRId64, layouts[i]);
        buffer_free(&schema);
        const spate_type_stats stats = stats_of(store, 9);
        spate_store_close(store);
        CHECK(stats.slot_bits == bits && stats.slot_limit == layouts[i] + allowance && stats.max_nodes == layouts[i],
              "maxNodes %" PRId64 ": slot bits %u (expected %u), slot limit %" PRId64 " (expected %" PRId64 ")", layouts[i],
              stats.slot_bits, bits, stats.slot_limit, layouts[i] + allowance);
    }

    /* Header-level damage, patched into a good message. */
    buffer b = buffer_new(4096);
    memcpy(b.data, good.data, good.length);
    b.length = good.length;
    CHECK(open_patched(&b, 11) == SPATE_ERROR_BAD_SCHEMA, "shorter than a header");
    CHECK(open_patched(&b, 0) == SPATE_ERROR_BAD_SCHEMA, "empty");
    CHECK(open_patched(&b, b.length - 1) == SPATE_ERROR_BAD_SCHEMA, "frame longer than the buffer");
    patch_u16(&b, HEADER_TEMPLATE_ID, 41);
    CHECK(open_patched(&b, b.length) == SPATE_ERROR_BAD_SCHEMA, "wrong template");
    patch_u16(&b, HEADER_TEMPLATE_ID, 40);
    patch_u16(&b, HEADER_SCHEMA_ID, 1702);
    CHECK(open_patched(&b, b.length) == SPATE_ERROR_BAD_SCHEMA, "wrong schema id");
    patch_u16(&b, HEADER_SCHEMA_ID, 1701);
    patch_u16(&b, HEADER_VERSION, 1);
    CHECK(open_patched(&b, b.length) == SPATE_ERROR_BAD_SCHEMA, "newer version");
    patch_u16(&b, HEADER_VERSION, 0);
    patch_u16(&b, HEADER_BLOCK_LENGTH, 7);
    CHECK(open_patched(&b, b.length) == SPATE_ERROR_BAD_SCHEMA, "block shorter than schemaHash");
    patch_u16(&b, HEADER_BLOCK_LENGTH, 8);
    patch_u32(&b, HEADER_FRAME_LENGTH, 11);
    CHECK(open_patched(&b, b.length) == SPATE_ERROR_BAD_SCHEMA, "frame shorter than a header");
    patch_u32(&b, HEADER_FRAME_LENGTH, (uint32_t)b.length - 1);
    CHECK(open_patched(&b, b.length) == SPATE_ERROR_BAD_SCHEMA, "frame cuts the last field");
    patch_u32(&b, HEADER_FRAME_LENGTH, (uint32_t)b.length + 3);
    CHECK(open_patched(&b, b.length + 3) == SPATE_ERROR_BAD_SCHEMA, "bytes left over in the frame");
    patch_u32(&b, HEADER_FRAME_LENGTH, (uint32_t)b.length);
    CHECK(open_patched(&b, b.length + 100) == 0, "bytes after the frame are ignored");
    patch_u16(&b, 20, 21); /* types group blockLength below 22 */
    CHECK(open_patched(&b, b.length) == SPATE_ERROR_BAD_SCHEMA, "types group block too short");
    patch_u16(&b, 20, 22);
    patch_u16(&b, 22, 200); /* types count past the frame */
    CHECK(open_patched(&b, b.length) == SPATE_ERROR_BAD_SCHEMA, "types count past the frame");
    patch_u16(&b, 22, (uint16_t)(sizeof standard_types / sizeof standard_types[0]));
    patch_u16(&b, 20 + 4 + 22, 10); /* first type's fields group blockLength below 11 */
    CHECK(open_patched(&b, b.length) == SPATE_ERROR_BAD_SCHEMA, "fields group block too short");
    patch_u16(&b, 20 + 4 + 22, 11);
    CHECK(open_patched(&b, b.length) == 0, "patched back");
    buffer_free(&b);
    buffer_free(&good);

    /* Descriptor-level problems. */
    CHECK(open_types(NULL, 0) == 0, "no types is a valid (useless) schema");
    const schema_field u32_at_0 = {1, io_spate_wire_fieldKind_U32, 0, 4};
    CHECK(open_one_type(10, 0, 4, &u32_at_0, 1) == 0, "one u32");
    CHECK(open_one_type(0, 0, 4, &u32_at_0, 1) == SPATE_ERROR_BAD_SCHEMA, "maxNodes 0");
    CHECK(open_one_type(-1, 0, 4, &u32_at_0, 1) == SPATE_ERROR_BAD_SCHEMA, "maxNodes negative");
    CHECK(open_one_type(SPATE_MAX_NODES_PER_TYPE + 1, 0, 4, &u32_at_0, 1) == SPATE_ERROR_BAD_SCHEMA, "maxNodes too large");
    CHECK(open_one_type(SPATE_MAX_NODES_PER_TYPE, 0, 4, &u32_at_0, 1) == 0, "maxNodes at the limit (reserved, not committed)");
    CHECK(open_one_type(10, -1, 4, &u32_at_0, 1) == SPATE_ERROR_BAD_SCHEMA, "arena negative");
    CHECK(open_one_type(10, SPATE_MAX_ARENA_BYTES_PER_TYPE + 1, 4, &u32_at_0, 1) == SPATE_ERROR_BAD_SCHEMA, "arena too large");
    CHECK(open_one_type(10, 0, SPATE_MAX_ROW_LENGTH_BYTES + 1, &u32_at_0, 1) == SPATE_ERROR_BAD_SCHEMA, "row too long");
    CHECK(open_one_type(10, 0, SPATE_MAX_ROW_LENGTH_BYTES, &u32_at_0, 1) == 0, "row at the limit");
    CHECK(open_one_type(10, 0, 3, &u32_at_0, 1) == SPATE_ERROR_BAD_SCHEMA, "u32 past the row end");
    const schema_field far = {1, io_spate_wire_fieldKind_U64, UINT32_MAX - 2, 8};
    CHECK(open_one_type(10, 0, 64, &far, 1) == SPATE_ERROR_BAD_SCHEMA, "offset overflowing 32 bits");
    const schema_field wide_u32 = {1, io_spate_wire_fieldKind_U32, 0, 8};
    CHECK(open_one_type(10, 0, 8, &wide_u32, 1) == SPATE_ERROR_BAD_SCHEMA, "u32 declared 8 wide");
    const schema_field narrow_bool = {1, io_spate_wire_fieldKind_BOOL, 0, 0};
    CHECK(open_one_type(10, 0, 8, &narrow_bool, 1) == SPATE_ERROR_BAD_SCHEMA, "bool declared 0 wide");
    const schema_field kind_11 = {1, 11, 0, 1};
    CHECK(open_one_type(10, 0, 8, &kind_11, 1) == SPATE_ERROR_BAD_SCHEMA, "kind 11");
    const schema_field kind_null = {1, 255, 0, 1};
    CHECK(open_one_type(10, 0, 8, &kind_null, 1) == SPATE_ERROR_BAD_SCHEMA, "kind 255 (null)");
    const schema_field duplicate_fields[] = {{1, io_spate_wire_fieldKind_U8, 0, 1}, {1, io_spate_wire_fieldKind_U8, 1, 1}};
    CHECK(open_one_type(10, 0, 2, duplicate_fields, 2) == SPATE_ERROR_BAD_SCHEMA, "duplicate field id");
    const schema_field overlap[] = {{1, io_spate_wire_fieldKind_U32, 0, 4}, {2, io_spate_wire_fieldKind_U16, 3, 2}};
    CHECK(open_one_type(10, 0, 8, overlap, 2) == SPATE_ERROR_BAD_SCHEMA, "overlapping fixed fields");
    const schema_field adjacent[] = {{1, io_spate_wire_fieldKind_U32, 0, 4}, {2, io_spate_wire_fieldKind_U16, 4, 2}};
    CHECK(open_one_type(10, 0, 6, adjacent, 2) == 0, "adjacent fixed fields");
    const schema_field big_string = {1, io_spate_wire_fieldKind_STRING, 12345, SPATE_MAX_VAR_LENGTH_BYTES + 1};
    CHECK(open_one_type(10, 1 << 20, 0, &big_string, 1) == SPATE_ERROR_BAD_SCHEMA, "string longer than the limit");
    const schema_field max_bytes = {65535, io_spate_wire_fieldKind_BYTES, 99999, SPATE_MAX_VAR_LENGTH_BYTES};
    CHECK(open_one_type(10, 1 << 20, 0, &max_bytes, 1) == 0, "bytes at the limit, offset ignored, field id 65535");

    schema_field *many_fields = calloc(SPATE_MAX_FIELDS_PER_TYPE + 1, sizeof(schema_field));
    REQUIRE(many_fields != NULL);
    for (uint16_t i = 0; i <= SPATE_MAX_FIELDS_PER_TYPE; i++)
    {
        many_fields[i] = (schema_field){(uint16_t)(i * 3), io_spate_wire_fieldKind_U8, i, 1};
    }
    const int32_t too_many_fields = open_one_type(10, 0, 2048, many_fields, SPATE_MAX_FIELDS_PER_TYPE + 1);
    const int32_t max_fields = open_one_type(10, 0, 2048, many_fields, SPATE_MAX_FIELDS_PER_TYPE);
    free(many_fields);
    CHECK(too_many_fields == SPATE_ERROR_BAD_SCHEMA, "1025 fields");
    CHECK(max_fields == 0, "1024 fields");

    schema_type *many_types = calloc(SPATE_MAX_TYPES + 1, sizeof(schema_type));
    REQUIRE(many_types != NULL);
    for (uint16_t i = 0; i <= SPATE_MAX_TYPES; i++)
    {
        many_types[i] = (schema_type){(uint16_t)(i * 7), 4, 0, 0, NULL, 0};
    }
    const int32_t too_many_types = open_types(many_types, SPATE_MAX_TYPES + 1);
    const int32_t max_types = open_types(many_types, SPATE_MAX_TYPES);
    many_types[1].type_id = many_types[0].type_id;
    const int32_t duplicate_types = open_types(many_types, 2);
    free(many_types);
    CHECK(too_many_types == SPATE_ERROR_BAD_SCHEMA, "4097 types");
    CHECK(max_types == 0, "4096 types");
    CHECK(duplicate_types == SPATE_ERROR_BAD_SCHEMA, "duplicate type id");
}

/* ------------------------------------------------------------------------------------------ */
/* Round trip, update, delete, increment                                                       */
/* ------------------------------------------------------------------------------------------ */

static void test_round_trip_all_kinds(void)
{
    spate_store *store = open_standard();
    const all_values v = {0xAB, 0xBEEF, 0xDEADBEEF, UINT64_C(0x0123456789ABCDEF), -123456, INT64_MIN + 5, -2.5, true, 1700000000123};
    uint8_t row[ALL_ROW_BYTES];
    all_row(row, &v);
    uint8_t bytes[64];
    for (int i = 0; i < 64; i++)
    {
        bytes[i] = (uint8_t)(255 - i);
    }
    /* Sent out of id order; get must return them in id order (10, 11, 20). */
    const var_value vars[] = {{F_SHORT, "short", 5}, {F_BYTES, bytes, 64}, {F_STRING, "hello, spate", 12}};
    buffer b = buffer_new(1024);
    put_create(&b, 1, T_ALL, vars, 3, row, ALL_ROW_BYTES);
    int64_t node_id = 0;
    const uint8_t status = apply_one(store, &b, &node_id);
    CHECK(status == SPATE_STATUS_OK, "create: %s", status_name(status));
    CHECK(node_id == 1, "node id %" PRId64, node_id);
    CHECK(g_results[0].template_id == 10 && g_results[0].offset_bytes == 0 && g_results[0].reserved == 0, "result fields");
    CHECK(spate_store_count(store, T_ALL) == 1, "count");
    CHECK(spate_store_exists(store, T_ALL, 1) == 1, "exists");
    CHECK(spate_store_node_state(store, T_ALL, 1) == SPATE_NODE_LIVE, "node state live");
    CHECK(high_water(store, T_ALL) == 1 && stats_of(store, T_ALL).live_nodes == 1, "high water slot 1");

    uint8_t out[512];
    const int64_t expected_length = ALL_ROW_BYTES + 4 + 12 + 4 + 64 + 4 + 5;
    const int64_t length = get_node(store, T_ALL, 1, out, sizeof out);
    CHECK(length == expected_length, "get length %" PRId64, length);
    CHECK(memcmp(out, row, ALL_ROW_BYTES) == 0, "fixed row round trip");
    const all_values r = read_all_row(out);
    CHECK(r.u8 == v.u8 && r.u16 == v.u16 && r.u32 == v.u32 && r.u64 == v.u64 && r.i32 == v.i32 && r.i64 == v.i64 &&
              r.f64 == v.f64 && r.flag == v.flag && r.timestamp == v.timestamp,
          "values");
    uint32_t var_length;
    const uint8_t *value = get_var(out, length, ALL_ROW_BYTES, 0, &var_length);
    CHECK(var_length == 12 && memcmp(value, "hello, spate", 12) == 0, "string field 10");
    value = get_var(out, length, ALL_ROW_BYTES, 1, &var_length);
    CHECK(var_length == 64 && memcmp(value, bytes, 64) == 0, "bytes field 11");
    value = get_var(out, length, ALL_ROW_BYTES, 2, &var_length);
    CHECK(var_length == 5 && memcmp(value, "short", 5) == 0, "string field 20");

    /* Fields not sent are empty; nodeId 0 lets the store choose. */
    b.length = 0;
    put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    CHECK(apply_one(store, &b, &node_id) == SPATE_STATUS_OK && node_id == 2, "create with id 0 gets 2");
    CHECK(get_node(store, T_ALL, 2, out, sizeof out) == ALL_ROW_BYTES + 12, "three empty var fields");
    CHECK(get_var(out, ALL_ROW_BYTES + 12, ALL_ROW_BYTES, 1, &var_length) && var_length == 0, "empty");

    /* A field sent twice: the last wins. */
    const var_value twice[] = {{F_STRING, "first value", 11}, {F_STRING, "second", 6}};
    b.length = 0;
    put_create(&b, 3, T_ALL, twice, 2, row, ALL_ROW_BYTES);
    CHECK(apply_one(store, &b, &node_id) == SPATE_STATUS_OK && node_id == 3, "create twice-sent");
    const int64_t twice_length = get_node(store, T_ALL, 3, out, sizeof out);
    value = get_var(out, twice_length, ALL_ROW_BYTES, 0, &var_length);
    CHECK(var_length == 6 && memcmp(value, "second", 6) == 0, "last value wins");

    /* Empty type: a row of 0 bytes and no fields. */
    b.length = 0;
    put_create(&b, 0, T_EMPTY, NULL, 0, row, 0);
    CHECK(apply_one(store, &b, &node_id) == SPATE_STATUS_OK && node_id == 1, "create in the empty type");
    CHECK(get_node(store, T_EMPTY, 1, NULL, 0) == 0, "get of an empty node into no buffer");

    /* A string field with a 0-byte arena holds empty values only. */
    b.length = 0;
    put_create(&b, 0, T_NO_ARENA, NULL, 0, row, 0);
    put_create(&b, 0, T_NO_ARENA, &(var_value){1, "", 0}, 1, row, 0);
    put_create(&b, 0, T_NO_ARENA, &(var_value){1, "x", 1}, 1, row, 0);
    put_update(&b, 1, 0, T_NO_ARENA, &(var_value){1, "", 0}, 1);
    put_update(&b, 1, 0, T_NO_ARENA, &(var_value){1, "x", 1}, 1);
    CHECK(apply(store, &b) == 5, "5 results");
    const uint8_t no_arena[] = {SPATE_STATUS_OK, SPATE_STATUS_OK, SPATE_STATUS_ARENA_FULL, SPATE_STATUS_OK, SPATE_STATUS_ARENA_FULL};
    for (int i = 0; i < 5; i++)
    {
        CHECK(g_results[i].status == no_arena[i], "no arena %d: %s", i, status_name(g_results[i].status));
    }
    CHECK(get_node(store, T_NO_ARENA, 2, out, sizeof out) == 4 && get_var(out, 4, 0, 0, &var_length) && var_length == 0, "empty value");
    CHECK(spate_store_reserve(store, T_NO_ARENA, 10) == 0, "reserve with a 0-byte arena");
    buffer_free(&b);
    spate_store_close(store);
}

static void test_update(void)
{
    spate_store *store = open_standard();
    const all_values v = {1, 2, 3, 4, 5, 6, 7.0, false, 9};
    uint8_t row[ALL_ROW_BYTES];
    all_row(row, &v);
    buffer b = buffer_new(4096);
    const var_value initial[] = {{F_STRING, "0123456789", 10}};
    put_create(&b, 0, T_ALL, initial, 1, row, ALL_ROW_BYTES);
    put_create(&b, 0, T_ALL, initial, 1, row, ALL_ROW_BYTES);
    CHECK(apply(store, &b) == 2 && g_results[1].status == SPATE_STATUS_OK, "two creates");

    /* Every fixed kind, one Update. */
    const uint8_t u8 = 200;
    const uint16_t u16 = 60000;
    const uint32_t u32 = 4000000000u;
    const uint64_t u64 = UINT64_MAX - 1;
    const int32_t i32 = INT32_MIN;
    const int64_t i64 = -42;
    const double f64 = 3.25;
    const uint8_t flag = 1;
    const int64_t ts = 1234567890123;
    const var_value fixed[] = {
        {F_U8, &u8, 1}, {F_U16, &u16, 2}, {F_U32, &u32, 4}, {F_U64, &u64, 8}, {F_I32, &i32, 4},
        {F_I64, &i64, 8}, {F_F64, &f64, 8}, {F_BOOL, &flag, 1}, {F_TS, &ts, 8}};
    b.length = 0;
    put_update(&b, 1, 0, T_ALL, fixed, 9);
    int64_t node_id;
    uint8_t status = apply_one(store, &b, &node_id);
    CHECK(status == SPATE_STATUS_OK && node_id == 1, "update fixed: %s", status_name(status));
    uint8_t out[512];
    int64_t length = get_node(store, T_ALL, 1, out, sizeof out);
    all_values r = read_all_row(out);
    CHECK(r.u8 == u8 && r.u16 == u16 && r.u32 == u32 && r.u64 == u64 && r.i32 == i32 && r.i64 == i64 && r.f64 == f64 &&
              r.flag && r.timestamp == ts,
          "fixed values updated");
    uint8_t other[512];
    CHECK(get_node(store, T_ALL, 2, other, sizeof other) > 0 && memcmp(other, row, ALL_ROW_BYTES) == 0, "node 2 untouched");

    /* Strings: shorter in place, longer moves, empty, and bytes. */
    const char *texts[] = {"abc", "a much longer value than before", "", "0123456789"};
    for (int i = 0; i < 4; i++)
    {
        const var_value s = {F_STRING, texts[i], (uint32_t)strlen(texts[i])};
        b.length = 0;
        put_update(&b, 1, 0, T_ALL, &s, 1);
        status = apply_one(store, &b, NULL);
        CHECK(status == SPATE_STATUS_OK, "update string %d: %s", i, status_name(status));
        length = get_node(store, T_ALL, 1, out, sizeof out);
        uint32_t var_length;
        const uint8_t *value = get_var(out, length, ALL_ROW_BYTES, 0, &var_length);
        CHECK(var_length == strlen(texts[i]) && memcmp(value, texts[i], var_length) == 0, "string %d read back", i);
        length = get_node(store, T_ALL, 2, other, sizeof other);
        value = get_var(other, length, ALL_ROW_BYTES, 0, &var_length);
        CHECK(var_length == 10 && memcmp(value, "0123456789", 10) == 0, "node 2's string untouched");
    }
    /* Same field twice (last wins) plus a fixed field, in one record. */
    const var_value mixed[] = {{F_BYTES, "xy", 2}, {F_U32, &u32, 4}, {F_BYTES, "final bytes", 11}};
    b.length = 0;
    put_update(&b, 2, 0, T_ALL, mixed, 3);
    CHECK(apply_one(store, &b, NULL) == SPATE_STATUS_OK, "mixed update");
    length = get_node(store, T_ALL, 2, out, sizeof out);
    uint32_t var_length;
    const uint8_t *value = get_var(out, length, ALL_ROW_BYTES, 1, &var_length);
    CHECK(var_length == 11 && memcmp(value, "final bytes", 11) == 0, "bytes: last wins");
    CHECK(read_all_row(out).u32 == u32, "fixed in the same record");

    /* Errors leave the node exactly as it was (all or nothing). */
    uint8_t before[512];
    const int64_t before_length = get_node(store, T_ALL, 2, before, sizeof before);
    const uint32_t new_u32 = 7;
    const char long_string[33] = "0123456789012345678901234567890";
    const uint64_t eight = 1;
    const var_value too_long[] = {{F_U32, &new_u32, 4}, {F_STRING, long_string, 33}};
    const var_value wide[] = {{F_U32, &new_u32, 4}, {F_U16, &eight, 8}};
    const var_value narrow[] = {{F_U32, &new_u32, 4}, {F_U64, &new_u32, 4}};
    const var_value unknown[] = {{F_U32, &new_u32, 4}, {77, &new_u32, 4}};
    const struct
    {
        const var_value *fields;
        uint16_t count;
        uint8_t status;
    } bad[] = {
        {too_long, 2, SPATE_STATUS_VALUE_TOO_LARGE},
        {wide, 2, SPATE_STATUS_VALUE_TOO_LARGE},
        {narrow, 2, SPATE_STATUS_MALFORMED},
        {unknown, 2, SPATE_STATUS_UNKNOWN_FIELD},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
        b.length = 0;
        put_update(&b, 2, 0, T_ALL, bad[i].fields, bad[i].count);
        status = apply_one(store, &b, &node_id);
        CHECK(status == bad[i].status, "bad update %zu: %s", i, status_name(status));
        CHECK(node_id == 0, "a record failing its static checks names no node");
        length = get_node(store, T_ALL, 2, out, sizeof out);
        CHECK(length == before_length && memcmp(out, before, (size_t)length) == 0, "bad update %zu changed nothing", i);
    }
    /* An Update with no fields is a no-op that still needs the node. */
    b.length = 0;
    put_update(&b, 2, 0, T_ALL, NULL, 0);
    CHECK(apply_one(store, &b, NULL) == SPATE_STATUS_OK, "empty update");
    b.length = 0;
    put_update(&b, 9, 0, T_ALL, NULL, 0);
    CHECK(apply_one(store, &b, NULL) == SPATE_STATUS_NO_SUCH_NODE, "empty update of a missing node");
    buffer_free(&b);
    spate_store_close(store);
}

static void test_delete(void)
{
    spate_store *store = open_standard();
    buffer b = buffer_new(4096);
    uint8_t row[ALL_ROW_BYTES] = {0};
    for (int i = 0; i < 3; i++)
    {
        put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    }
    put_delete(&b, 2, 0, T_ALL);
    put_delete(&b, 2, 0, T_ALL);
    put_delete(&b, 4, 0, T_ALL);
    put_delete(&b, 0, 0, T_ALL);
    put_delete(&b, -1, 0, T_ALL);
    put_update(&b, 2, 0, T_ALL, NULL, 0);
    put_increment(&b, 2, 1, 0, T_ALL, F_U32);
    put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    CHECK(apply(store, &b) == 11, "11 results");
    const uint8_t expected[] = {0, 0, 0, SPATE_STATUS_OK, SPATE_STATUS_NO_SUCH_NODE, SPATE_STATUS_NO_SUCH_NODE, SPATE_STATUS_NO_SUCH_NODE,
                                SPATE_STATUS_NO_SUCH_NODE, SPATE_STATUS_NO_SUCH_NODE, SPATE_STATUS_NO_SUCH_NODE, SPATE_STATUS_OK};
    for (int i = 0; i < 11; i++)
    {
        CHECK(g_results[i].status == expected[i], "result %d: %s", i, status_name(g_results[i].status));
    }
    CHECK(g_results[3].node_id == 2 && g_results[4].node_id == 2, "delete results name node 2");
    CHECK(g_results[10].node_id == 4, "nodeId 0 takes the next never-used slot: 4, not 2's");
    CHECK(spate_store_count(store, T_ALL) == 3, "count 3");
    CHECK(spate_store_exists(store, T_ALL, 2) == 0 && spate_store_exists(store, T_ALL, 1) == 1, "exists");
    CHECK(spate_store_node_state(store, T_ALL, 2) == SPATE_NODE_GONE, "a deleted id is gone");
    uint8_t out[256];
    CHECK(get_node(store, T_ALL, 2, out, sizeof out) == SPATE_ERROR_NO_SUCH_NODE, "get of a deleted node");
    /* The deleted slot is free for its next generation; the id deleted is not that id. */
    const int64_t reuse_id = make_id(17, 1, 2);
    int64_t free_ids[4];
    CHECK(spate_store_free_ids(store, T_ALL, 1, free_ids, 4) == 1 && free_ids[0] == reuse_id, "free ids: slot 2, generation 1");
    const spate_type_stats stats = stats_of(store, T_ALL);
    CHECK(stats.high_water_slot == 4 && stats.live_nodes == 3 && stats.free_slots == 1 && stats.retired_slots == 0, "stats");
    buffer_free(&b);
    spate_store_close(store);
}

static void test_increment(void)
{
    spate_store *store = open_standard();
    all_values v = {255, 65535, UINT32_MAX, UINT64_MAX, INT32_MAX, INT64_MAX, 1.5, true, INT64_MAX};
    uint8_t row[ALL_ROW_BYTES];
    all_row(row, &v);
    buffer b = buffer_new(4096);
    put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    const uint16_t wrap_fields[] = {F_U8, F_U16, F_U32, F_U64, F_I32, F_I64, F_TS};
    for (int i = 0; i < 7; i++)
    {
        put_increment(&b, 1, 1, 0, T_ALL, wrap_fields[i]);
    }
    put_increment(&b, 1, -3, 0, T_ALL, F_F64);
    CHECK(apply(store, &b) == 9, "9 results");
    for (int i = 0; i < 9; i++)
    {
        CHECK(g_results[i].status == SPATE_STATUS_OK && g_results[i].node_id == 1, "increment %d: %s", i, status_name(g_results[i].status));
    }
    uint8_t out[256];
    CHECK(get_node(store, T_ALL, 1, out, sizeof out) > 0, "get");
    all_values r = read_all_row(out);
    CHECK(r.u8 == 0 && r.u16 == 0 && r.u32 == 0 && r.u64 == 0, "unsigned wrap to 0");
    CHECK(r.i32 == INT32_MIN && r.i64 == INT64_MIN && r.timestamp == INT64_MIN, "signed wrap to min");
    CHECK(r.f64 == -1.5, "f64 adds (double)delta: %f", r.f64);
    CHECK(r.flag, "bool untouched");

    /* And back down, with a delta larger than the narrow widths. */
    b.length = 0;
    put_increment(&b, 1, -1, 0, T_ALL, F_U8);
    put_increment(&b, 1, -1, 0, T_ALL, F_I32);
    put_increment(&b, 1, 0x10005, 0, T_ALL, F_U16); /* truncated to 5 modulo 2^16 */
    put_increment(&b, 1, INT64_MIN, 0, T_ALL, F_I64);
    CHECK(apply(store, &b) == 4, "4 results");
    CHECK(get_node(store, T_ALL, 1, out, sizeof out) > 0, "get");
    r = read_all_row(out);
    CHECK(r.u8 == 255 && r.i32 == INT32_MAX && r.u16 == 5 && r.i64 == 0, "wrap downwards: %u %d %u %" PRId64, r.u8, r.i32, r.u16, r.i64);

    b.length = 0;
    put_increment(&b, 1, 1, 0, T_ALL, F_BOOL);
    put_increment(&b, 1, 1, 0, T_ALL, F_STRING);
    put_increment(&b, 1, 1, 0, T_ALL, F_BYTES);
    put_increment(&b, 1, 1, 0, T_ALL, 99);
    put_increment(&b, 2, 1, 0, T_ALL, F_U8);
    put_increment(&b, 1, 1, 0, 77, F_U8);
    CHECK(apply(store, &b) == 6, "6 results");
    const uint8_t expected[] = {SPATE_STATUS_WRONG_FIELD_KIND, SPATE_STATUS_WRONG_FIELD_KIND, SPATE_STATUS_WRONG_FIELD_KIND,
                                SPATE_STATUS_UNKNOWN_FIELD, SPATE_STATUS_NO_SUCH_NODE, SPATE_STATUS_UNKNOWN_TYPE};
    for (int i = 0; i < 6; i++)
    {
        CHECK(g_results[i].status == expected[i], "increment error %d: %s", i, status_name(g_results[i].status));
    }
    uint8_t after[256];
    CHECK(get_node(store, T_ALL, 1, after, sizeof after) > 0 && memcmp(after, out, ALL_ROW_BYTES) == 0, "errors changed nothing");
    buffer_free(&b);
    spate_store_close(store);
}

/* ------------------------------------------------------------------------------------------ */
/* createRef                                                                                   */
/* ------------------------------------------------------------------------------------------ */

static void test_create_ref(void)
{
    spate_store *store = open_standard();
    buffer b = buffer_new(8192);
    uint8_t row[ALL_ROW_BYTES] = {0};
    const uint32_t small_row = 5;
    const uint32_t number = 77;
    const var_value set_u32 = {F_U32, &number, 4};
    const var_value bad_field = {99, "x", 1};

    put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES); /* no batch header yet: record 1 of the slice */
    put_update(&b, 0, 1, T_ALL, &set_u32, 1);              /* ref 1 -> node 1 */
    put_batch_header(&b, SCHEMA_HASH, 12);                   /* index 2 */
    put_update(&b, 0, 1, T_ALL, &set_u32, 1);              /* 3: ref 1 is itself: not yet seen */
    put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES); /* 4: record 2 -> node 2 */
    put_create(&b, 0, T_SMALL, NULL, 0, &small_row, 4);    /* 5: record 3 -> small node 1 */
    put_create(&b, 0, T_ALL, &bad_field, 1, row, ALL_ROW_BYTES); /* 6: record 4 fails (node 3 consumed) */
    put_increment(&b, 0, 5, 2, T_ALL, F_U32);              /* 7: ref 2 -> node 2 */
    put_update(&b, 0, 3, T_ALL, &set_u32, 1);              /* 8: ref 3 is another type */
    put_update(&b, 0, 4, T_ALL, &set_u32, 1);              /* 9: ref 4 failed */
    put_update(&b, 0, 5, T_ALL, &set_u32, 1);              /* 10: ref 5 is an Increment */
    put_update(&b, 0, 100, T_ALL, &set_u32, 1);            /* 11: ref past everything */
    put_delete(&b, 0, 3, T_SMALL);                         /* 12: ref 3 -> small node 1 */
    put_delete(&b, 0, 3, T_SMALL);                         /* 13: again: resolved, but deleted */
    put_update(&b, 12345, 2, T_ALL, &set_u32, 1);          /* 14: ref wins over nodeId */
    put_unknown(&b, 99, 4);                                /* 15: record 14 (unknown ones count) */
    put_batch_header(&b, SCHEMA_HASH, 1);                    /* 16: new batch: refs restart */
    put_update(&b, 0, 1, T_ALL, &set_u32, 1);              /* 17: ref 1 is itself again */
    put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES); /* 18: record 2 -> node 4 */
    put_delete(&b, 0, 2, T_ALL);                           /* 19: ref 2 -> node 4 */
    put_update(&b, 0, UINT32_MAX, T_ALL, &set_u32, 1);     /* 20: huge ref */
    const int64_t n = apply(store, &b);
    CHECK(n == 21, "21 results, got %" PRId64, n);
    const struct
    {
        uint8_t status;
        int64_t node_id;
    } expected[] = {
        {SPATE_STATUS_OK, 1}, {SPATE_STATUS_OK, 1}, {SPATE_STATUS_OK, 0}, {SPATE_STATUS_BAD_REFERENCE, 0},
        {SPATE_STATUS_OK, 2}, {SPATE_STATUS_OK, 1}, {SPATE_STATUS_UNKNOWN_FIELD, 3}, {SPATE_STATUS_OK, 2},
        {SPATE_STATUS_BAD_REFERENCE, 0}, {SPATE_STATUS_BAD_REFERENCE, 0}, {SPATE_STATUS_BAD_REFERENCE, 0},
        {SPATE_STATUS_BAD_REFERENCE, 0}, {SPATE_STATUS_OK, 1}, {SPATE_STATUS_NO_SUCH_NODE, 1}, {SPATE_STATUS_OK, 2},
        {SPATE_STATUS_UNKNOWN_TEMPLATE, 0}, {SPATE_STATUS_OK, 0}, {SPATE_STATUS_BAD_REFERENCE, 0}, {SPATE_STATUS_OK, 4},
        {SPATE_STATUS_OK, 4}, {SPATE_STATUS_BAD_REFERENCE, 0},
    };
    for (int i = 0; i < 21; i++)
    {
        CHECK(g_results[i].status == expected[i].status && g_results[i].node_id == expected[i].node_id,
              "message %d: %s node %" PRId64 ", expected %s node %" PRId64, i, status_name(g_results[i].status),
              g_results[i].node_id, status_name(expected[i].status), expected[i].node_id);
    }
    uint8_t out[256];
    /* Node 2: incremented by 5 through ref 2, then set to 77 through ref 2 (nodeId 12345 ignored). */
    CHECK(get_node(store, T_ALL, 2, out, sizeof out) > 0 && read_all_row(out).u32 == 77, "node 2 is 77");
    CHECK(spate_store_exists(store, T_SMALL, 1) == 0 && spate_store_exists(store, T_ALL, 4) == 0, "deleted through refs");
    buffer_free(&b);
    spate_store_close(store);
}

/* ------------------------------------------------------------------------------------------ */
/* Every error status                                                                          */
/* ------------------------------------------------------------------------------------------ */

static void test_statuses(void)
{
    spate_store *store = open_standard();
    buffer b = buffer_new(8192);
    uint8_t row[ALL_ROW_BYTES] = {0};
    int64_t node_id;
    uint8_t status;

    /* UNKNOWN_TYPE for every record kind; no id consumed. */
    put_create(&b, 0, 77, NULL, 0, row, ALL_ROW_BYTES);
    put_update(&b, 1, 0, 77, NULL, 0);
    put_delete(&b, 1, 0, 77);
    put_increment(&b, 1, 1, 0, 77, 1);
    CHECK(apply(store, &b) == 4, "4");
    for (int i = 0; i < 4; i++)
    {
        CHECK(g_results[i].status == SPATE_STATUS_UNKNOWN_TYPE, "unknown type %d: %s", i, status_name(g_results[i].status));
    }

    /* ID_MISMATCH (a negative id, slot 0, a live slot): not consumed. */
    b.length = 0;
    put_create(&b, INT64_MIN, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, -5, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, INT64_C(1) << 17, T_ALL, NULL, 0, row, ALL_ROW_BYTES); /* generation 1 of slot 0 */
    put_create(&b, 1, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, 1, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    CHECK(apply(store, &b) == 5, "5");
    CHECK(g_results[0].status == SPATE_STATUS_ID_MISMATCH && g_results[0].node_id == 0, "most negative id");
    CHECK(g_results[1].status == SPATE_STATUS_ID_MISMATCH && g_results[1].node_id == 0, "negative id");
    CHECK(g_results[2].status == SPATE_STATUS_ID_MISMATCH && g_results[2].node_id == 0, "slot 0");
    CHECK(g_results[3].status == SPATE_STATUS_OK && g_results[3].node_id == 1, "then 1 is still free");
    CHECK(g_results[4].status == SPATE_STATUS_ID_MISMATCH && g_results[4].node_id == 0, "1 again: live");

    /* Validation failures of a Create whose id passes the id checks consume it: never live, and its slot moves on
       to generation 1. */
    const char long_string[40] = "0123456789012345678901234567890123456789";
    const var_value fixed_as_var = {F_U32, "abcd", 4};
    const var_value no_field = {55, "x", 1};
    const var_value too_long = {F_STRING, long_string, 33};
    const var_value just_fits = {F_STRING, long_string, 32};
    b.length = 0;
    put_create(&b, 2, T_ALL, &fixed_as_var, 1, row, ALL_ROW_BYTES);
    put_create(&b, 0, T_ALL, &no_field, 1, row, ALL_ROW_BYTES);
    put_create(&b, 4, T_ALL, &too_long, 1, row, ALL_ROW_BYTES);
    put_create(&b, 5, T_ALL, NULL, 0, row, ALL_ROW_BYTES - 1);
    put_create(&b, 6, T_ALL, &just_fits, 1, row, ALL_ROW_BYTES);
    CHECK(apply(store, &b) == 5, "5");
    const uint8_t expected[] = {SPATE_STATUS_UNKNOWN_FIELD, SPATE_STATUS_UNKNOWN_FIELD, SPATE_STATUS_VALUE_TOO_LARGE,
                                SPATE_STATUS_MALFORMED, SPATE_STATUS_OK};
    for (int i = 0; i < 5; i++)
    {
        CHECK(g_results[i].status == expected[i] && g_results[i].node_id == i + 2, "create %d: %s node %" PRId64, i,
              status_name(g_results[i].status), g_results[i].node_id);
    }
    CHECK(high_water(store, T_ALL) == 6 && spate_store_count(store, T_ALL) == 2, "ids 2..5 consumed, 2 live");
    for (int id = 2; id <= 5; id++)
    {
        CHECK(spate_store_exists(store, T_ALL, id) == 0, "consumed id %d not live", id);
        CHECK(spate_store_node_state(store, T_ALL, id) == SPATE_NODE_GONE, "consumed id %d gone", id);
        CHECK(spate_store_node_state(store, T_ALL, make_id(17, 1, id)) == SPATE_NODE_NOT_ISSUED, "its slot's next id");
        b.length = 0;
        put_update(&b, id, 0, T_ALL, NULL, 0);
        CHECK(apply_one(store, &b, NULL) == SPATE_STATUS_NO_SUCH_NODE, "consumed id %d cannot be updated", id);
        b.length = 0;
        put_delete(&b, id, 0, T_ALL);
        CHECK(apply_one(store, &b, NULL) == SPATE_STATUS_NO_SUCH_NODE, "consumed id %d cannot be deleted", id);
    }
    CHECK(spate_store_count(store, T_ALL) == 2, "count unchanged");

    /* TYPE_FULL and ARENA_FULL on the small type (3 nodes live at most, slots 1..4, 16 arena bytes in blocks of 8). */
    CHECK(stats_of(store, T_SMALL).slot_limit == 4 && stats_of(store, T_SMALL).slot_bits == 8, "small: slots 1..4");
    create_small(store, 1, "01234567", &node_id, &status);
    CHECK(status == SPATE_STATUS_OK && node_id == 1, "small 1: an 8-byte block");
    create_small(store, 2, "0123456789", &node_id, &status);
    CHECK(status == SPATE_STATUS_ARENA_FULL && node_id == 2, "a 16-byte block does not fit: consumes id 2: %s", status_name(status));
    create_small(store, 3, "012345", &node_id, &status);
    CHECK(status == SPATE_STATUS_OK && node_id == 3, "an 8-byte block fits exactly");
    create_small(store, 4, "", &node_id, &status);
    CHECK(status == SPATE_STATUS_OK && node_id == 4, "2 live, the last never-used slot: %s", status_name(status));
    create_small(store, 5, "", &node_id, &status);
    CHECK(status == SPATE_STATUS_TYPE_FULL && node_id == 0, "maxNodes live: %s", status_name(status));
    CHECK(high_water(store, T_SMALL) == 4 && spate_store_count(store, T_SMALL) == 3, "a full type consumes nothing");
    const int64_t small_free = make_id(8, 1, 2); /* slot 2, consumed by the ARENA_FULL */
    int64_t listed[4];
    CHECK(spate_store_free_ids(store, T_SMALL, 1, listed, 4) == 1 && listed[0] == small_free, "slot 2 is free");
    const uint64_t small_before = checksum_of(store, T_SMALL);
    b.length = 0;
    put_create(&b, small_free, T_SMALL, NULL, 0, row, SMALL_ROW_BYTES);
    CHECK(apply_one(store, &b, &node_id) == SPATE_STATUS_TYPE_FULL && node_id == 0, "a free id on a full type");
    b.length = 0;
    put_create(&b, small_free, T_SMALL, NULL, 0, row, SMALL_ROW_BYTES + 1);
    CHECK(apply_one(store, &b, &node_id) == SPATE_STATUS_MALFORMED && node_id == 0, "static status first on a full type");
    b.length = 0;
    put_create(&b, small_free, T_SMALL, &(var_value){99, "x", 1}, 1, row, SMALL_ROW_BYTES);
    CHECK(apply_one(store, &b, &node_id) == SPATE_STATUS_UNKNOWN_FIELD && node_id == 0, "refused by maxNodes: consumes nothing");
    b.length = 0;
    put_create(&b, 5, T_SMALL, NULL, 0, row, SMALL_ROW_BYTES);
    put_create(&b, 0, T_SMALL, NULL, 0, row, SMALL_ROW_BYTES);
    CHECK(apply(store, &b) == 2 && g_results[0].status == SPATE_STATUS_TYPE_FULL && g_results[1].status == SPATE_STATUS_TYPE_FULL &&
              g_results[0].node_id == 0 && g_results[1].node_id == 0, "slot 5 is past the slot limit");
    CHECK(checksum_of(store, T_SMALL) == small_before && spate_store_free_ids(store, T_SMALL, 1, listed, 4) == 1 &&
              listed[0] == small_free, "nothing consumed");
    const var_value shorter = {S_STRING, "abc", 3};
    const var_value longer = {S_STRING, "0123456789A", 11};
    b.length = 0;
    put_update(&b, 1, 0, T_SMALL, &shorter, 1);
    put_update(&b, 1, 0, T_SMALL, &longer, 1);
    put_update(&b, 1, 0, T_SMALL, &(var_value){S_STRING, "01234567", 8}, 1);
    CHECK(apply(store, &b) == 3, "3");
    CHECK(g_results[0].status == SPATE_STATUS_OK, "in place");
    CHECK(g_results[1].status == SPATE_STATUS_ARENA_FULL, "no room to grow: %s", status_name(g_results[1].status));
    CHECK(g_results[2].status == SPATE_STATUS_OK, "back to the capacity, in place");

    /* Static checks (structure, type, fields) come before the ones needing state (ids, refs, nodes). */
    const uint32_t u32 = 5;
    b.length = 0;
    put_update(&b, 999, 0, T_ALL, &(var_value){77, &u32, 4}, 1);          /* unknown field, missing node */
    put_update(&b, 0, 50, T_ALL, &(var_value){F_U32, &u32, 2}, 1);        /* short value, bad createRef */
    put_increment(&b, 999, 1, 0, T_ALL, F_STRING);                        /* wrong kind, missing node */
    put_increment(&b, 0, 1, 50, T_ALL, 77);                               /* unknown field, bad createRef */
    put_delete(&b, 999, 0, 77);                                           /* unknown type, missing node */
    put_create(&b, 3, T_ALL, &(var_value){55, "x", 1}, 1, row, ALL_ROW_BYTES); /* unknown field, id consumed already */
    const size_t cut = put_create(&b, 0, 77, NULL, 0, row, ALL_ROW_BYTES); /* unknown type, body cut short */
    patch_u32(&b, cut + HEADER_FRAME_LENGTH, 12 + 10 + 4 + 4 + ALL_ROW_BYTES - 1);
    b.length -= 1;
    const int64_t high_before = high_water(store, T_ALL);
    const uint64_t checksum_before = checksum_of(store, T_ALL);
    CHECK(apply(store, &b) == 7, "7");
    const uint8_t statics[] = {SPATE_STATUS_UNKNOWN_FIELD, SPATE_STATUS_MALFORMED, SPATE_STATUS_WRONG_FIELD_KIND,
                               SPATE_STATUS_UNKNOWN_FIELD, SPATE_STATUS_UNKNOWN_TYPE, SPATE_STATUS_UNKNOWN_FIELD, SPATE_STATUS_MALFORMED};
    for (int i = 0; i < 7; i++)
    {
        CHECK(g_results[i].status == statics[i] && g_results[i].node_id == 0, "static first %d: %s node %" PRId64, i,
              status_name(g_results[i].status), g_results[i].node_id);
    }
    CHECK(high_water(store, T_ALL) == high_before && checksum_of(store, T_ALL) == checksum_before,
          "a Create with a wrong id consumes nothing, whatever its status");

    /* UNKNOWN_TEMPLATE is skipped by its frame; the walk goes on. */
    b.length = 0;
    put_unknown(&b, 99, 0);
    put_unknown(&b, 266, 30); /* 266 & 0xff == 10: must not pass for a Create */
    put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    CHECK(apply(store, &b) == 3, "3");
    CHECK(g_results[0].status == SPATE_STATUS_UNKNOWN_TEMPLATE && g_results[0].template_id == 99, "unknown 99");
    CHECK(g_results[1].status == SPATE_STATUS_UNKNOWN_TEMPLATE && g_results[1].template_id == 10, "unknown 266");
    CHECK(g_results[2].status == SPATE_STATUS_OK && g_results[2].node_id == 7, "walk went on");
    b.length = 0;
    put_unknown(&b, 99, 0);
    put_update(&b, 0, 1, T_ALL, NULL, 0); /* ref 1 names the unknown message */
    CHECK(apply(store, &b) == 2 && g_results[1].status == SPATE_STATUS_BAD_REFERENCE, "ref to an unknown message");

    /* SCHEMA_MISMATCH: wire schema id, version, database schema hash. */
    b.length = 0;
    const size_t foreign = put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    patch_u16(&b, foreign + HEADER_SCHEMA_ID, 1702);
    const size_t newer = put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    patch_u16(&b, newer + HEADER_VERSION, 1);
    put_batch_header(&b, SCHEMA_HASH + 1, 3);
    put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_update(&b, 1, 0, T_ALL, NULL, 0);
    put_unknown(&b, 99, 0);
    put_batch_header(&b, SCHEMA_HASH, 1);
    put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    CHECK(apply(store, &b) == 8, "8");
    const uint8_t mismatch[] = {SPATE_STATUS_SCHEMA_MISMATCH, SPATE_STATUS_SCHEMA_MISMATCH, SPATE_STATUS_SCHEMA_MISMATCH,
                                SPATE_STATUS_SCHEMA_MISMATCH, SPATE_STATUS_SCHEMA_MISMATCH, SPATE_STATUS_UNKNOWN_TEMPLATE,
                                SPATE_STATUS_OK, SPATE_STATUS_OK};
    for (int i = 0; i < 8; i++)
    {
        CHECK(g_results[i].status == mismatch[i], "schema %d: %s", i, status_name(g_results[i].status));
    }
    CHECK(g_results[7].node_id == 8, "only the last create applied (id 8)");
    CHECK(high_water(store, T_ALL) == 8, "mismatched creates consumed nothing");

    /* A malformed BatchHeader (short block, or bytes left over) rejects its records too. */
    b.length = 0;
    const size_t short_header = put_batch_header(&b, SCHEMA_HASH, 1);
    patch_u16(&b, short_header + HEADER_BLOCK_LENGTH, 20);
    put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    const size_t long_header = put_batch_header(&b, SCHEMA_HASH, 1);
    patch_u32(&b, long_header + HEADER_FRAME_LENGTH, 12 + 28 + 4);
    b.length += 4;
    put_delete(&b, 8, 0, T_ALL);
    CHECK(apply(store, &b) == 4, "4");
    CHECK(g_results[0].status == SPATE_STATUS_MALFORMED && g_results[1].status == SPATE_STATUS_SCHEMA_MISMATCH, "short batch header");
    CHECK(g_results[2].status == SPATE_STATUS_MALFORMED && g_results[3].status == SPATE_STATUS_SCHEMA_MISMATCH, "long batch header");
    CHECK(spate_store_exists(store, T_ALL, 8) == 1, "not deleted");

    /* MALFORMED inside well-framed records. */
    b.length = 0;
    size_t at = put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    patch_u16(&b, at + HEADER_BLOCK_LENGTH, 9); /* block below Create's 10: id unreadable, not consumed */
    at = put_update(&b, 1, 0, T_ALL, NULL, 0);
    patch_u16(&b, at + HEADER_BLOCK_LENGTH, 13);
    at = put_delete(&b, 1, 0, T_ALL);
    patch_u16(&b, at + HEADER_BLOCK_LENGTH, 13);
    at = put_increment(&b, 1, 1, 0, T_ALL, F_U8);
    patch_u16(&b, at + HEADER_BLOCK_LENGTH, 23);
    at = put_delete(&b, 1, 0, T_ALL); /* bytes left over after a Delete */
    patch_u32(&b, at + HEADER_FRAME_LENGTH, 12 + 14 + 1);
    b.length += 1;
    at = put_update(&b, 1, 0, T_ALL, &(var_value){F_U8, "x", 1}, 1);
    patch_u16(&b, at + 12 + 14, 1); /* fields group blockLength 1 < 2 */
    at = put_update(&b, 1, 0, T_ALL, &(var_value){F_U8, "x", 1}, 1);
    patch_u16(&b, at + 12 + 14 + 2, 2); /* fields count 2, only one there */
    at = put_update(&b, 1, 0, T_ALL, &(var_value){F_U8, "x", 1}, 1);
    patch_u32(&b, at + 12 + 14 + 4 + 2, 2); /* value length past the frame */
    at = put_update(&b, 1, 0, T_ALL, &(var_value){F_U8, "x", 1}, 1);
    patch_u32(&b, at + 12 + 14 + 4 + 2, UINT32_MAX); /* value length wrapping */
    at = put_create(&b, 9, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    patch_u32(&b, at + 12 + 10 + 4, ALL_ROW_BYTES + 1); /* row length past the frame: consumes 9 */
    at = put_create(&b, 10, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    patch_u32(&b, at + HEADER_FRAME_LENGTH, 12 + 10 + 4 + 4 + ALL_ROW_BYTES + 2); /* 2 bytes left over: consumes 10 */
    b.length += 2;
    at = put_create(&b, 11, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    patch_u16(&b, at + 12 + 10 + 2, 65535); /* varFields count past the frame: consumes 11 */
    at = put_update(&b, 1, 0, T_ALL, NULL, 0); /* the group header cut off: frame 12 + 14 */
    patch_u32(&b, at + HEADER_FRAME_LENGTH, 12 + 14);
    b.length -= 4;
    const int64_t n = apply(store, &b);
    CHECK(n == 13, "13 results, got %" PRId64, n);
    for (int i = 0; i < 13; i++)
    {
        CHECK(g_results[i].status == SPATE_STATUS_MALFORMED, "malformed %d: %s", i, status_name(g_results[i].status));
    }
    CHECK(g_results[0].node_id == 0 && g_results[9].node_id == 9 && g_results[10].node_id == 10 && g_results[11].node_id == 11,
          "consumed ids reported");
    CHECK(high_water(store, T_ALL) == 11, "ids 9, 10, 11 consumed: high water %" PRId64, high_water(store, T_ALL));
    for (int id = 9; id <= 11; id++)
    {
        CHECK(spate_store_node_state(store, T_ALL, id) == SPATE_NODE_GONE, "id %d consumed", id);
    }
    CHECK(spate_store_exists(store, T_ALL, 1) == 1, "node 1 untouched by the malformed records");

    /* A group blockLength larger than the schema's is allowed (skipped), as SBE extension. */
    b.length = 0;
    {
        struct io_spate_wire_update m = {0};
        BEGIN(&b, update, m);
        io_spate_wire_update_set_nodeId(&m, 1);
        io_spate_wire_update_set_createRef(&m, 0);
        io_spate_wire_update_set_typeId(&m, T_ALL);
        uint8_t *group = (uint8_t *)buffer_tail(&b) + 12 + 14;
        const uint16_t group_block = 5, group_count = 1, field_id = F_U8;
        const uint32_t value_length = 1;
        memcpy(group, &group_block, 2);
        memcpy(group + 2, &group_count, 2);
        memcpy(group + 4, &field_id, 2);
        memset(group + 6, 0xEE, 3); /* extension bytes */
        memcpy(group + 9, &value_length, 4);
        group[13] = 42;
        finish_message(&b, &header, 14 + 14);
    }
    CHECK(apply_one(store, &b, NULL) == SPATE_STATUS_OK, "extended group entries");
    uint8_t out[256];
    CHECK(get_node(store, T_ALL, 1, out, sizeof out) > 0 && out[0] == 42, "value read past the extension");
    /* A message blockLength larger than the template's is allowed too. */
    b.length = 0;
    at = put_delete(&b, 1, 0, T_ALL);
    patch_u16(&b, at + HEADER_BLOCK_LENGTH, 20);
    patch_u32(&b, at + HEADER_FRAME_LENGTH, 12 + 20);
    b.length += 6;
    CHECK(apply_one(store, &b, NULL) == SPATE_STATUS_OK && spate_store_exists(store, T_ALL, 1) == 0, "extended delete");
    buffer_free(&b);
    spate_store_close(store);
}

/* ------------------------------------------------------------------------------------------ */
/* Explicit Create ids: the pipeline's id is taken as it is, skipping ids, never going back    */
/* ------------------------------------------------------------------------------------------ */

/* Checks that an id is never live: not readable, and updates, increments, deletes find nothing. */
static bool never_live(spate_store *store, uint16_t type_id, int64_t node_id, uint16_t field_id)
{
    uint8_t out[256];
    const uint32_t u32 = 1;
    buffer b = buffer_new(512);
    put_update(&b, node_id, 0, type_id, &(var_value){field_id, &u32, 4}, 1);
    put_increment(&b, node_id, 1, 0, type_id, field_id);
    put_delete(&b, node_id, 0, type_id);
    const int64_t count_before = spate_store_count(store, type_id);
    bool ok = apply(store, &b) == 3;
    for (int i = 0; ok && i < 3; i++)
    {
        ok = g_results[i].status == SPATE_STATUS_NO_SUCH_NODE && g_results[i].node_id == node_id;
    }
    buffer_free(&b);
    return ok && spate_store_exists(store, type_id, node_id) == 0 &&
           spate_store_get(store, type_id, node_id, out, sizeof out) == SPATE_ERROR_NO_SUCH_NODE &&
           spate_store_count(store, type_id) == count_before;
}

static void test_explicit_ids(void)
{
    spate_store *store = open_standard();
    buffer b = buffer_new(8192);
    uint8_t row[ALL_ROW_BYTES];
    all_row(row, &(all_values){.u32 = 0xABCD, .i64 = -3});
    uint8_t out[256];
    const uint32_t bits = stats_of(store, T_ALL).slot_bits;
    const int64_t limit = stats_of(store, T_ALL).slot_limit;

    /* Ahead of the highest slot used: taken as it is, the slots between skipped; createRef names the id taken. */
    put_batch_header(&b, SCHEMA_HASH, 4);
    put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, 5, T_ALL, &(var_value){F_STRING, "five", 4}, 1, row, ALL_ROW_BYTES);
    put_increment(&b, 0, 2, 2, T_ALL, F_U32);
    put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    CHECK(apply(store, &b) == 5, "5");
    const int64_t ids[] = {0, 1, 5, 5, 6};
    for (int i = 0; i < 5; i++)
    {
        CHECK(g_results[i].status == SPATE_STATUS_OK && g_results[i].node_id == ids[i], "message %d: %s node %" PRId64, i,
              status_name(g_results[i].status), g_results[i].node_id);
    }
    CHECK(high_water(store, T_ALL) == 6 && spate_store_count(store, T_ALL) == 3, "high water 6, 3 live");
    const int64_t length = get_node(store, T_ALL, 5, out, sizeof out);
    uint32_t var_length;
    const uint8_t *value = get_var(out, length, ALL_ROW_BYTES, 0, &var_length);
    CHECK(read_all_row(out).u32 == 0xABCD + 2 && read_all_row(out).i64 == -3 && var_length == 4 && memcmp(value, "five", 4) == 0,
          "node 5 as created and incremented");
    for (int64_t gap = 2; gap <= 4; gap++)
    {
        CHECK(never_live(store, T_ALL, gap, F_U32), "skipped id %" PRId64 " is never live", gap);
        CHECK(spate_store_node_state(store, T_ALL, gap) == SPATE_NODE_NOT_ISSUED, "skipped id %" PRId64 " not issued", gap);
    }

    /* A skipped slot was not consumed: its generation 0 is taken later. A live slot, a generation below the
       slot's next one, a negative id: ID_MISMATCH, nothing consumed. A later generation skips the ones between. */
    b.length = 0;
    put_delete(&b, 6, 0, T_ALL);
    put_create(&b, 3, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, 5, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, 6, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, -1, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, make_id(bits, 1, 6), T_ALL, &(var_value){F_STRING, "six", 3}, 1, row, ALL_ROW_BYTES);
    put_create(&b, make_id(bits, 3, 4), T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, make_id(bits, 2, 4), T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    CHECK(apply(store, &b) == 8, "8");
    const struct
    {
        uint8_t status;
        int64_t node_id;
    } reused[] = {
        {SPATE_STATUS_OK, 6}, {SPATE_STATUS_OK, 3}, {SPATE_STATUS_ID_MISMATCH, 0}, {SPATE_STATUS_ID_MISMATCH, 0},
        {SPATE_STATUS_ID_MISMATCH, 0}, {SPATE_STATUS_OK, make_id(bits, 1, 6)}, {SPATE_STATUS_OK, make_id(bits, 3, 4)},
        {SPATE_STATUS_ID_MISMATCH, 0},
    };
    for (int i = 0; i < 8; i++)
    {
        CHECK(g_results[i].status == reused[i].status && g_results[i].node_id == reused[i].node_id,
              "message %d: %s node %" PRId64 ", expected %s node %" PRId64, i, status_name(g_results[i].status),
              g_results[i].node_id, status_name(reused[i].status), reused[i].node_id);
    }
    CHECK(high_water(store, T_ALL) == 6 && spate_store_count(store, T_ALL) == 5, "high water 6, 5 live");
    CHECK(never_live(store, T_ALL, 6, F_U32) && spate_store_node_state(store, T_ALL, 6) == SPATE_NODE_GONE, "6 stays gone");
    CHECK(spate_store_node_state(store, T_ALL, make_id(bits, 1, 6)) == SPATE_NODE_LIVE, "slot 6, generation 1");
    CHECK(spate_store_node_state(store, T_ALL, make_id(bits, 2, 6)) == SPATE_NODE_NOT_ISSUED, "slot 6, generation 2");
    for (uint64_t generation = 0; generation < 3; generation++)
    {
        CHECK(spate_store_node_state(store, T_ALL, make_id(bits, generation, 4)) == SPATE_NODE_GONE &&
                  never_live(store, T_ALL, make_id(bits, generation, 4), F_U32),
              "slot 4: skipped generation %" PRIu64 " is gone", generation);
    }
    CHECK(spate_store_node_state(store, T_ALL, make_id(bits, 4, 4)) == SPATE_NODE_NOT_ISSUED, "slot 4, generation 4");
    const int64_t six_length = get_node(store, T_ALL, make_id(bits, 1, 6), out, sizeof out);
    value = get_var(out, six_length, ALL_ROW_BYTES, 0, &var_length);
    CHECK(var_length == 3 && memcmp(value, "six", 3) == 0, "the reused slot reads its new node");

    /* A Create that fails after the id checks consumes exactly its id (skipped slots stay never used); one
       refused by the id checks consumes nothing, whatever its static status. */
    b.length = 0;
    put_create(&b, 10, T_ALL, &(var_value){55, "x", 1}, 1, row, ALL_ROW_BYTES);    /* UNKNOWN_FIELD, consumes 10 */
    put_create(&b, 12, T_ALL, NULL, 0, row, ALL_ROW_BYTES - 1);                     /* MALFORMED row, consumes 12 */
    put_create(&b, 9, T_ALL, &(var_value){55, "x", 1}, 1, row, ALL_ROW_BYTES);     /* a skipped slot: consumes 9 */
    put_create(&b, 10, T_ALL, &(var_value){55, "x", 1}, 1, row, ALL_ROW_BYTES);    /* below the next generation */
    put_create(&b, limit + 1, T_ALL, &(var_value){55, "x", 1}, 1, row, ALL_ROW_BYTES); /* past the slot limit */
    put_create(&b, make_id(bits, 1, 10), T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    CHECK(apply(store, &b) == 7, "7");
    const uint8_t statuses[] = {SPATE_STATUS_UNKNOWN_FIELD, SPATE_STATUS_MALFORMED, SPATE_STATUS_UNKNOWN_FIELD,
                                SPATE_STATUS_UNKNOWN_FIELD, SPATE_STATUS_UNKNOWN_FIELD, SPATE_STATUS_OK, SPATE_STATUS_OK};
    const int64_t consumed[] = {10, 12, 9, 0, 0, make_id(bits, 1, 10), 13};
    for (int i = 0; i < 7; i++)
    {
        CHECK(g_results[i].status == statuses[i] && g_results[i].node_id == consumed[i], "failing %d: %s node %" PRId64, i,
              status_name(g_results[i].status), g_results[i].node_id);
    }
    CHECK(high_water(store, T_ALL) == 13 && spate_store_count(store, T_ALL) == 7, "high water 13, 7 live");
    const int64_t gone[] = {9, 10, 12};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
    {
        CHECK(never_live(store, T_ALL, gone[i], F_U32) && spate_store_node_state(store, T_ALL, gone[i]) == SPATE_NODE_GONE,
              "id %" PRId64 " consumed, never live", gone[i]);
    }
    const int64_t skipped[] = {7, 8, 11};
    for (size_t i = 0; i < sizeof skipped / sizeof skipped[0]; i++)
    {
        CHECK(never_live(store, T_ALL, skipped[i], F_U32) && spate_store_node_state(store, T_ALL, skipped[i]) == SPATE_NODE_NOT_ISSUED,
              "id %" PRId64 " skipped, not issued", skipped[i]);
    }

    /* Slots past maxNodes up to the slot limit (the retirement allowance) are slots like the others; past the
       limit, and for nodeId 0 once the limit was used, TYPE_FULL. */
    b.length = 0;
    put_create(&b, ALL_MAX_NODES + 1, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, limit, T_ALL, &(var_value){F_STRING, "last", 4}, 1, row, ALL_ROW_BYTES);
    put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, limit + 1, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, INT64_MAX, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, make_id(bits, 5, limit), T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, ALL_MAX_NODES - 1, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    CHECK(apply(store, &b) == 7, "7");
    const uint8_t far_statuses[] = {SPATE_STATUS_OK, SPATE_STATUS_OK, SPATE_STATUS_TYPE_FULL, SPATE_STATUS_TYPE_FULL,
                                    SPATE_STATUS_TYPE_FULL, SPATE_STATUS_ID_MISMATCH, SPATE_STATUS_OK};
    const int64_t far_ids[] = {ALL_MAX_NODES + 1, limit, 0, 0, 0, 0, ALL_MAX_NODES - 1};
    for (int i = 0; i < 7; i++)
    {
        CHECK(g_results[i].status == far_statuses[i] && g_results[i].node_id == far_ids[i], "far %d: %s node %" PRId64, i,
              status_name(g_results[i].status), g_results[i].node_id);
    }
    CHECK(high_water(store, T_ALL) == limit && spate_store_count(store, T_ALL) == 10, "the limit used, 10 live");
    CHECK(stats_of(store, T_ALL).free_slots == limit - 10, "free slots: every slot up to the limit not live");
    /* free_ids lists every slot below the high water that is not live: never used (generation 0) or freed. */
    int64_t free_ids[8];
    const int64_t expected_free[] = {2, 7, 8, make_id(bits, 1, 9), 11, make_id(bits, 1, 12), 14, 15};
    CHECK(spate_store_free_ids(store, T_ALL, 1, free_ids, 8) == 8, "8 free ids");
    for (int i = 0; i < 8; i++)
    {
        CHECK(free_ids[i] == expected_free[i], "free id %d: %" PRId64 ", expected %" PRId64, i, free_ids[i], expected_free[i]);
    }
    CHECK(spate_store_free_ids(store, T_ALL, 16, free_ids, 2) == 2 && free_ids[0] == 16 && free_ids[1] == 17, "from slot 16");
    CHECK(spate_store_free_ids(store, T_ALL, limit - 1, free_ids, 8) == 1 && free_ids[0] == limit - 1, "up to the limit");
    CHECK(spate_store_free_ids(store, T_ALL, limit + 5, free_ids, 8) == 0, "past the high water");
    CHECK(spate_store_free_ids(store, T_ALL, -7, free_ids, 1) == 1 && free_ids[0] == 2, "a from slot below 1 starts at 1");
    const int64_t last_length = get_node(store, T_ALL, limit, out, sizeof out);
    value = get_var(out, last_length, ALL_ROW_BYTES, 0, &var_length);
    CHECK(var_length == 4 && memcmp(value, "last", 4) == 0, "the last slot reads back");
    const int64_t gaps[] = {14, 15, ALL_MAX_NODES / 2, ALL_MAX_NODES, limit - 1};
    for (size_t i = 0; i < sizeof gaps / sizeof gaps[0]; i++)
    {
        CHECK(never_live(store, T_ALL, gaps[i], F_U32), "gap id %" PRId64, gaps[i]);
    }
    CHECK(spate_store_exists(store, T_ALL, limit + 1) == 0, "past the limit");
    CHECK(spate_store_node_state(store, T_ALL, limit + 1) == SPATE_NODE_NOT_ISSUED, "past the limit: not an id of the type");
    CHECK(spate_store_get(store, T_ALL, limit + 1, out, sizeof out) == SPATE_ERROR_NO_SUCH_NODE, "past the limit get");
    /* reserve after a skip: commits, changes nothing. */
    CHECK(spate_store_reserve(store, T_ALL, ALL_MAX_NODES) == 0, "reserve everything");
    CHECK(get_node(store, T_ALL, limit, out, sizeof out) == last_length && never_live(store, T_ALL, 14, F_U32),
          "reserve changed nothing");

    /* The id is settled before the arena is checked: ARENA_FULL consumes a skipping id too. */
    b.length = 0;
    put_create(&b, 2, T_SMALL, &(var_value){S_STRING, "0123456789ABCDEF", 16}, 1, (uint32_t[]){7}, SMALL_ROW_BYTES);
    put_create(&b, 3, T_SMALL, &(var_value){S_STRING, "x", 1}, 1, (uint32_t[]){8}, SMALL_ROW_BYTES);
    put_create(&b, 0, T_SMALL, NULL, 0, (uint32_t[]){9}, SMALL_ROW_BYTES);
    put_create(&b, 0, T_SMALL, NULL, 0, (uint32_t[]){9}, SMALL_ROW_BYTES);
    put_create(&b, 1, T_SMALL, NULL, 0, (uint32_t[]){10}, SMALL_ROW_BYTES);
    CHECK(apply(store, &b) == 5, "5");
    CHECK(g_results[0].status == SPATE_STATUS_OK && g_results[0].node_id == 2, "small 2 fills the arena");
    CHECK(g_results[1].status == SPATE_STATUS_ARENA_FULL && g_results[1].node_id == 3, "arena full consumes 3: %s",
          status_name(g_results[1].status));
    CHECK(g_results[2].status == SPATE_STATUS_OK && g_results[2].node_id == 4, "0 takes the slot after 3");
    CHECK(g_results[3].status == SPATE_STATUS_TYPE_FULL && g_results[3].node_id == 0, "then no never-used slot is left");
    CHECK(g_results[4].status == SPATE_STATUS_OK && g_results[4].node_id == 1, "the skipped slot 1");
    CHECK(high_water(store, T_SMALL) == 4 && spate_store_count(store, T_SMALL) == 3, "small: high water 4, 3 live");
    CHECK(never_live(store, T_SMALL, 3, S_U32) && spate_store_node_state(store, T_SMALL, 3) == SPATE_NODE_GONE, "small 3 never live");
    buffer_free(&b);
    spate_store_close(store);
}

/* Resident set of this process, in bytes (Linux: /proc/self/statm, in pages). */
static int64_t resident_bytes(void)
{
    FILE *statm = fopen("/proc/self/statm", "r");
    REQUIRE(statm != NULL);
    long size_pages = 0, resident_pages = 0;
    REQUIRE(fscanf(statm, "%ld %ld", &size_pages, &resident_pages) == 2);
    fclose(statm);
    return (int64_t)resident_pages * sysconf(_SC_PAGESIZE);
}

/*
 * A skip as far as it goes (maxNodes 2^36: 1 TiB of rows) writes the row taken and nothing else:
 * the memory in between is not touched, so the resident set grows by a few (huge) pages, and
 * reading ids in the gap maps no memory either.
 */
static void test_far_skip(void)
{
    static const schema_field u64_field[] = {{1, io_spate_wire_fieldKind_U64, 0, 8}};
    const schema_type huge_type = {7, SPATE_MAX_NODES_PER_TYPE, 0, 8, u64_field, 1};
    buffer b = buffer_new(1 << 16);
    put_store_schema(&b, SCHEMA_HASH, &huge_type, 1);
    spate_store *store = NULL;
    CHECK(spate_store_open(b.data, b.length, &store) == 0, "open a type of 2^36 nodes");
    const int64_t resident_before = resident_bytes();
    const int64_t half = SPATE_MAX_NODES_PER_TYPE / 2;
    const int64_t limit = stats_of(store, 7).slot_limit;
    CHECK(limit == SPATE_MAX_NODES_PER_TYPE + (INT64_C(1) << 26) && stats_of(store, 7).slot_bits == 37, "slot limit 2^36 + 2^26");
    const uint64_t values[] = {1, 2, 3};
    b.length = 0;
    put_create(&b, 0, 7, NULL, 0, &values[0], 8);
    put_create(&b, half, 7, NULL, 0, &values[1], 8);
    put_increment(&b, half, 40, 0, 7, 1);
    put_create(&b, limit, 7, NULL, 0, &values[2], 8);
    put_create(&b, 0, 7, NULL, 0, &values[0], 8);
    CHECK(apply(store, &b) == 5, "5");
    CHECK(g_results[0].status == SPATE_STATUS_OK && g_results[0].node_id == 1, "1");
    CHECK(g_results[1].status == SPATE_STATUS_OK && g_results[1].node_id == half, "2^35");
    CHECK(g_results[2].status == SPATE_STATUS_OK, "increment 2^35");
    CHECK(g_results[3].status == SPATE_STATUS_OK && g_results[3].node_id == limit, "the slot limit");
    CHECK(g_results[4].status == SPATE_STATUS_TYPE_FULL, "no never-used slot left");
    CHECK(high_water(store, 7) == limit && spate_store_count(store, 7) == 3, "high water, count");
    uint64_t read_back = 0;
    CHECK(spate_store_get(store, 7, half, (uint8_t *)&read_back, 8) == 8 && read_back == 42, "2^35 reads back");
    CHECK(spate_store_get(store, 7, limit, (uint8_t *)&read_back, 8) == 8 && read_back == 3, "the limit reads back");
    /* free_ids walks the gap lazily: the first ids come at once. */
    int64_t free_ids[4];
    CHECK(spate_store_free_ids(store, 7, 1, free_ids, 4) == 4 && free_ids[0] == 2 && free_ids[3] == 5, "free ids in the gap");
    CHECK(spate_store_free_ids(store, 7, half, free_ids, 2) == 2 && free_ids[0] == half + 1 && free_ids[1] == half + 2,
          "free ids from 2^35");
    /* Reads and writes spread over the gaps (one id every 2^28, each in its own 2 MiB of rows). */
    b.length = 0;
    int writes = 0;
    for (int64_t id = 3; id < SPATE_MAX_NODES_PER_TYPE; id += INT64_C(1) << 28)
    {
        CHECK(spate_store_exists(store, 7, id) == 0, "gap id %" PRId64, id);
        CHECK(spate_store_node_state(store, 7, id) == SPATE_NODE_NOT_ISSUED, "gap id %" PRId64, id);
        CHECK(spate_store_get(store, 7, id, (uint8_t *)&read_back, 8) == SPATE_ERROR_NO_SUCH_NODE, "gap id %" PRId64, id);
        put_update(&b, id, 0, 7, &(var_value){1, &values[0], 8}, 1);
        put_increment(&b, id, 1, 0, 7, 1);
        put_delete(&b, id, 0, 7);
        writes += 3;
    }
    CHECK(apply(store, &b) == writes, "%d writes", writes);
    for (int i = 0; i < writes; i++)
    {
        CHECK(g_results[i].status == SPATE_STATUS_NO_SUCH_NODE, "write %d: %s", i, status_name(g_results[i].status));
    }
    const int64_t grown = resident_bytes() - resident_before;
    printf("far skip: resident set grew by %" PRId64 " KiB for 3 rows 2^35 ids apart and 256 reads and 768 writes between\n",
           grown / 1024);
    CHECK(grown < (INT64_C(64) << 20), "the skipped rows were touched: resident set grew by %" PRId64 " bytes", grown);
    buffer_free(&b);
    spate_store_close(store);
}

/* ------------------------------------------------------------------------------------------ */
/* Walk mechanics: capacity, progress, framing, API errors                                     */
/* ------------------------------------------------------------------------------------------ */

static void test_walk(void)
{
    spate_store *store = open_standard();
    buffer b = buffer_new(8192);
    uint8_t row[ALL_ROW_BYTES] = {0};
    size_t offsets[10];
    offsets[0] = put_batch_header(&b, SCHEMA_HASH, 9);
    for (int i = 1; i < 10; i++)
    {
        offsets[i] = put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    }
    spate_result results[4];
    int64_t progress = 1000;
    CHECK(spate_store_apply(NULL, b.data, b.length, &progress, results, 4) == SPATE_ERROR_NULL_ARGUMENT, "null store");
    CHECK(spate_store_apply(store, NULL, 5, &progress, results, 4) == SPATE_ERROR_NULL_ARGUMENT, "null records");
    CHECK(spate_store_apply(store, b.data, b.length, &progress, NULL, 4) == SPATE_ERROR_NULL_ARGUMENT, "null results");
    CHECK(spate_store_apply(store, NULL, 0, &progress, NULL, 0) == 0 && progress == 1000, "nothing to do");
    CHECK(spate_store_apply(store, b.data, b.length, &progress, results, 0) == 0 && progress == 1000, "no room for results");

    CHECK(spate_store_apply(store, b.data, b.length, &progress, results, 4) == 4, "first 4");
    CHECK(progress == 1000 + (int64_t)offsets[4], "progress after 4 messages: %" PRId64, progress);
    for (int i = 0; i < 4; i++)
    {
        CHECK(results[i].offset_bytes == offsets[i], "offset %d", i);
    }
    /* Continue where progress says, as the caller would: the slice restarts, so createRefs would too. */
    const size_t consumed = (size_t)(progress - 1000);
    CHECK(spate_store_apply(store, b.data + consumed, b.length - consumed, &progress, results, 4) == 4, "next 4");
    CHECK(results[0].offset_bytes == 0 && results[0].node_id == 4, "offsets relative to the new slice");
    CHECK(spate_store_apply(store, b.data + offsets[8], b.length - offsets[8], NULL, results, 4) == 2, "last 2 without a counter");
    CHECK(spate_store_count(store, T_ALL) == 9, "9 created");

    /* Framing failures stop the walk with one MALFORMED covering the rest. */
    b.length = 0;
    put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    const size_t bad = put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    const uint32_t frame_lengths[] = {0, 11, (uint32_t)(b.length - bad + 1), UINT32_MAX};
    for (int i = 0; i < 4; i++)
    {
        patch_u32(&b, bad + HEADER_FRAME_LENGTH, frame_lengths[i]);
        progress = 0;
        spate_result many[8];
        CHECK(spate_store_apply(store, b.data, b.length, &progress, many, 8) == 2, "frame length %u: 2 results", frame_lengths[i]);
        CHECK(many[1].status == SPATE_STATUS_MALFORMED && many[1].offset_bytes == bad && many[1].template_id == 10 && many[1].node_id == 0,
              "MALFORMED at the bad frame");
        CHECK(progress == (int64_t)b.length, "progress covers everything");
    }
    /* Results at an odd address (Java memory need not be aligned), with createRef reading them back. */
    b.length = 0;
    put_batch_header(&b, SCHEMA_HASH, 2);
    put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_delete(&b, 0, 1, T_ALL);
    uint8_t unaligned[3 * sizeof(spate_result) + 1];
    CHECK(spate_store_apply(store, b.data, b.length, NULL, (spate_result *)(void *)(unaligned + 1), 3) == 3, "unaligned results");
    spate_result third;
    memcpy(&third, unaligned + 1 + 2 * sizeof(spate_result), sizeof third);
    CHECK(third.status == SPATE_STATUS_OK && third.template_id == 12, "delete through a ref read from unaligned results");

    /* Fewer than 12 bytes left: template unreadable. */
    uint8_t tail[5] = {10, 0, 10, 0, 0xA5};
    spate_result one[2];
    progress = 0;
    CHECK(spate_store_apply(store, tail, sizeof tail, &progress, one, 2) == 1, "tail");
    CHECK(one[0].status == SPATE_STATUS_MALFORMED && one[0].template_id == 0 && progress == 5, "unreadable header");
    buffer_free(&b);
    spate_store_close(store);
}

/* A slice longer than 4 GiB: messages starting past UINT32_MAX wait for the next call. */
static void test_huge_slice(void)
{
    const uint64_t length = (UINT64_C(1) << 32) + 4096;
    uint8_t *slice = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK(slice != MAP_FAILED, "mmap 4 GiB");
    spate_store *store = open_standard();
    /* One unknown message spanning almost 4 GiB (its body is never read), then small ones. */
    const uint32_t first_frame = UINT32_MAX - 30;
    buffer b = {slice, length, 0};
    put_unknown(&b, 99, 0);
    patch_u32(&b, HEADER_FRAME_LENGTH, first_frame);
    b.length = first_frame;
    uint8_t row[ALL_ROW_BYTES] = {0};
    put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES); /* starts at 2^32 - 31, ends past 2^32 */
    const size_t beyond = put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    CHECK(beyond > UINT32_MAX, "the third message starts past 4 GiB");
    spate_result results[8];
    int64_t progress = 0;
    const int64_t n = spate_store_apply(store, slice, b.length, &progress, results, 8);
    CHECK(n == 2 && results[1].status == SPATE_STATUS_OK && results[1].offset_bytes == first_frame, "two walked");
    CHECK(progress == (int64_t)beyond, "progress stops where the next call starts");
    CHECK(spate_store_apply(store, slice + progress, b.length - (uint64_t)progress, &progress, results, 8) == 1 &&
              results[0].status == SPATE_STATUS_OK && progress == (int64_t)b.length,
          "the rest in a second call");
    spate_store_close(store);
    munmap(slice, length);
}

static void test_get_and_reserve(void)
{
    spate_store *store = open_standard();
    uint8_t out[256];
    int64_t node_id;
    uint8_t status;
    create_small(store, 0x01020304, "hello", &node_id, &status);
    CHECK(status == SPATE_STATUS_OK, "create");
    const int64_t size = SMALL_ROW_BYTES + 4 + 5;
    CHECK(spate_store_get(store, T_SMALL, 1, out, (uint32_t)size) == size, "exact capacity");
    CHECK(spate_store_get(store, T_SMALL, 1, out, (uint32_t)size - 1) == SPATE_ERROR_BUFFER_TOO_SMALL, "one short");
    CHECK(spate_store_get(store, T_SMALL, 1, out, 3) == SPATE_ERROR_BUFFER_TOO_SMALL, "shorter than the row");
    CHECK(spate_store_get(store, T_SMALL, 1, NULL, 0) == SPATE_ERROR_BUFFER_TOO_SMALL, "no buffer");
    CHECK(spate_store_get(store, T_SMALL, 1, NULL, 10) == SPATE_ERROR_NULL_ARGUMENT, "null with capacity");
    CHECK(spate_store_get(NULL, T_SMALL, 1, out, 10) == SPATE_ERROR_NULL_ARGUMENT, "null store");
    CHECK(spate_store_get(store, 4, 1, out, sizeof out) == SPATE_ERROR_UNKNOWN_TYPE, "unknown type");
    const int64_t bad_ids[] = {0, -1, 2, 3, 4, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++)
    {
        CHECK(spate_store_get(store, T_SMALL, bad_ids[i], out, sizeof out) == SPATE_ERROR_NO_SUCH_NODE, "id %" PRId64, bad_ids[i]);
        CHECK(spate_store_exists(store, T_SMALL, bad_ids[i]) == 0, "exists %" PRId64, bad_ids[i]);
        CHECK(spate_store_node_state(store, T_SMALL, bad_ids[i]) == SPATE_NODE_NOT_ISSUED, "node state %" PRId64, bad_ids[i]);
    }
    CHECK(spate_store_exists(NULL, T_SMALL, 1) == SPATE_ERROR_NULL_ARGUMENT, "exists null");
    CHECK(spate_store_count(NULL, T_SMALL) == SPATE_ERROR_NULL_ARGUMENT, "count null");

    /* reserve commits memory and never changes contents. */
    CHECK(spate_store_reserve(store, T_ALL, 5000) == 0, "reserve 5000");
    CHECK(spate_store_reserve(store, T_ALL, 2000) == 0, "reserve less: nothing to do");
    CHECK(spate_store_reserve(store, T_ALL, INT64_MAX) == 0, "reserve clamps to maxNodes");
    CHECK(spate_store_reserve(store, T_ALL, 0) == 0 && spate_store_reserve(store, T_ALL, -5) == 0, "reserve nothing");
    CHECK(spate_store_reserve(store, 4, 10) == SPATE_ERROR_UNKNOWN_TYPE, "reserve unknown type");
    CHECK(spate_store_reserve(NULL, T_ALL, 10) == SPATE_ERROR_NULL_ARGUMENT, "reserve null");
    CHECK(spate_store_reserve(store, T_EMPTY, 10) == 0, "reserve a type without arena");
    CHECK(spate_store_reserve(store, T_SMALL, 3) == 0, "reserve after writes");
    CHECK(spate_store_get(store, T_SMALL, 1, out, sizeof out) == size, "still there");
    uint32_t number;
    memcpy(&number, out, 4);
    CHECK(number == 0x01020304 && memcmp(out + 8, "hello", 5) == 0, "contents unchanged");
    spate_store_close(store);
}

/* ------------------------------------------------------------------------------------------ */
/* Truncation                                                                                  */
/* ------------------------------------------------------------------------------------------ */

static void build_small_batch(buffer *b, size_t *offsets, int *count)
{
    uint8_t row[ALL_ROW_BYTES] = {0};
    const uint32_t number = 9;
    int n = 0;
    offsets[n++] = put_batch_header(b, SCHEMA_HASH, 6);
    offsets[n++] = put_create(b, 0, T_ALL, &(var_value){F_STRING, "truncate me", 11}, 1, row, ALL_ROW_BYTES);
    offsets[n++] = put_update(b, 0, 1, T_ALL, (var_value[]){{F_U32, &number, 4}, {F_BYTES, "bb", 2}}, 2);
    offsets[n++] = put_increment(b, 0, 3, 1, T_ALL, F_U32);
    offsets[n++] = put_create(b, 0, T_SMALL, NULL, 0, &number, 4);
    offsets[n++] = put_delete(b, 0, 4, T_SMALL);
    offsets[n++] = put_create(b, 2, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    offsets[n] = b->length;
    *count = n;
}

static void test_truncation(void)
{
    buffer b = buffer_new(4096);
    size_t offsets[16];
    int count;
    build_small_batch(&b, offsets, &count);
    spate_store *store = open_standard();
    spate_result full[16];
    CHECK(spate_store_apply(store, b.data, b.length, NULL, full, 16) == count, "full batch");
    for (int i = 0; i < count; i++)
    {
        CHECK(full[i].status == SPATE_STATUS_OK, "full batch message %d: %s", i, status_name(full[i].status));
    }
    spate_store_close(store);

    /* Every prefix: complete messages as in the full run, a partial one MALFORMED, then stop. */
    for (size_t cut = 0; cut <= b.length; cut++)
    {
        uint8_t *slice = malloc(cut == 0 ? 1 : cut); /* exact size, so ASan sees any overread */
        REQUIRE(slice != NULL);
        memcpy(slice, b.data, cut);
        store = open_standard();
        spate_result results[16];
        int64_t progress = 0;
        const int64_t n = spate_store_apply(store, slice, cut, &progress, results, 16);
        int complete = 0;
        while (complete < count && offsets[complete + 1] <= cut)
        {
            complete++;
        }
        const bool partial = cut > offsets[complete];
        CHECK(n == complete + (partial ? 1 : 0), "cut %zu: %" PRId64 " results", cut, n);
        CHECK(progress == (int64_t)cut, "cut %zu: progress %" PRId64, cut, progress);
        for (int i = 0; i < complete; i++)
        {
            CHECK(results[i].status == full[i].status && results[i].node_id == full[i].node_id, "cut %zu message %d", cut, i);
        }
        if (partial)
        {
            CHECK(results[complete].status == SPATE_STATUS_MALFORMED && results[complete].offset_bytes == offsets[complete],
                  "cut %zu: partial message MALFORMED", cut);
        }
        spate_store_close(store);
        free(slice);
    }

    /* Every message well framed but cut short inside (frameLengthBytes says the cut length). */
    for (int m = 0; m < count; m++)
    {
        const size_t message_length = offsets[m + 1] - offsets[m];
        for (size_t frame = 12; frame < message_length; frame++)
        {
            uint8_t *slice = malloc(offsets[m] + frame);
            REQUIRE(slice != NULL);
            memcpy(slice, b.data, offsets[m] + frame);
            uint32_t frame_length = (uint32_t)frame;
            memcpy(slice + offsets[m] + HEADER_FRAME_LENGTH, &frame_length, 4);
            store = open_standard();
            spate_result results[16];
            const int64_t n = spate_store_apply(store, slice, offsets[m] + frame, NULL, results, 16);
            CHECK(n == m + 1, "message %d frame %zu: %" PRId64 " results", m, frame, n);
            const uint8_t status = results[m].status;
            /* A malformed BatchHeader rejects nothing here (no records follow); other messages are MALFORMED. */
            CHECK(status == SPATE_STATUS_MALFORMED, "message %d frame %zu: %s", m, frame, status_name(status));
            if (m == 1)
            {
                /* The Create's id is consumed once nodeId and typeId are inside the frame. */
                const int64_t expected_high_water = frame >= 12 + 10 ? 1 : 0;
                CHECK(high_water(store, T_ALL) == expected_high_water, "create cut at %zu: high water %" PRId64, frame,
                      high_water(store, T_ALL));
                CHECK(spate_store_node_state(store, T_ALL, 1) == (frame >= 12 + 10 ? SPATE_NODE_GONE : SPATE_NODE_NOT_ISSUED),
                      "create cut at %zu: id 1", frame);
                CHECK(spate_store_count(store, T_ALL) == 0, "nothing live");
            }
            spate_store_close(store);
            free(slice);
        }
    }
    buffer_free(&b);
}

/* ------------------------------------------------------------------------------------------ */
/* Fuzz                                                                                        */
/* ------------------------------------------------------------------------------------------ */

static uint64_t g_rng;

static uint64_t next_random(void)
{
    /* xorshift64* */
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * UINT64_C(2685821657736338717);
}

static uint32_t random_below(uint32_t bound)
{
    return (uint32_t)(next_random() % bound);
}

static void random_batch(buffer *b, spate_store *store)
{
    uint8_t row[ALL_ROW_BYTES];
    uint8_t text[80];
    for (size_t i = 0; i < sizeof row; i++)
    {
        row[i] = (uint8_t)next_random();
    }
    for (size_t i = 0; i < sizeof text; i++)
    {
        text[i] = (uint8_t)('a' + random_below(26));
    }
    if (random_below(10) != 0)
    {
        put_batch_header(b, random_below(20) == 0 ? SCHEMA_HASH + 1 : SCHEMA_HASH, 0);
    }
    const int64_t next_all = high_water(store, T_ALL) + 1;
    /* A few reusable ids of each type (next generations of freed slots), so that slots are reused too. */
    int64_t free_all[4], free_small[4];
    const int64_t free_all_count = spate_store_free_ids(store, T_ALL, 1 + random_below((uint32_t)next_all), free_all, 4);
    const int64_t free_small_count = spate_store_free_ids(store, T_SMALL, 1, free_small, 4);
    REQUIRE(free_all_count >= 0 && free_small_count >= 0);
    const int records = 1 + (int)random_below(8);
    for (int r = 0; r < records; r++)
    {
        const uint16_t type_id = random_below(4) == 0 ? T_SMALL : T_ALL;
        int64_t some_id = (int64_t)random_below((uint32_t)next_all + 2);
        const int64_t free_count = type_id == T_ALL ? free_all_count : free_small_count;
        if (free_count > 0 && random_below(3) == 0)
        {
            some_id = (type_id == T_ALL ? free_all : free_small)[random_below((uint32_t)free_count)];
        }
        const uint32_t ref = random_below(3) == 0 ? 1 + random_below((uint32_t)records) : 0;
        /* Half the time a field the type has (strings mostly, so arenas fill), else any id. */
        static const uint16_t all_ids[] = {F_STRING, F_BYTES, F_SHORT, F_U32, F_U8, F_F64};
        static const uint16_t small_ids[] = {S_STRING, S_STRING, S_U32};
        const uint16_t field_id = random_below(2) == 0 ? (uint16_t)random_below(22)
                                  : type_id == T_ALL ? all_ids[random_below(6)]
                                                     : small_ids[random_below(3)];
        const var_value value = {field_id, text, type_id == T_SMALL ? random_below(17) : random_below(70)};
        switch (random_below(5))
        {
            case 0:
            case 1:
                put_create(b, random_below(2) ? 0 : some_id, type_id, &value, (uint16_t)random_below(2), row,
                           type_id == T_ALL ? ALL_ROW_BYTES : SMALL_ROW_BYTES);
                break;
            case 2:
                put_update(b, some_id, ref, type_id, (var_value[]){value, {F_U32, text, 4}}, (uint16_t)random_below(3));
                break;
            case 3:
                put_delete(b, some_id, ref, type_id);
                break;
            default:
                put_increment(b, some_id, (int64_t)next_random(), ref, type_id, field_id);
                break;
        }
    }
}

static void mutate(buffer *b)
{
    const int mutations = 1 + (int)random_below(4);
    for (int i = 0; i < mutations && b->length > 0; i++)
    {
        const size_t at = random_below((uint32_t)b->length);
        switch (random_below(6))
        {
            case 0: /* flip a bit */
                b->data[at] ^= (uint8_t)(1u << random_below(8));
                break;
            case 1: /* a random byte, often in a header */
                b->data[random_below(2) ? at : at % 16] = (uint8_t)next_random();
                break;
            case 2: /* insert bytes */
            {
                const size_t count = 1 + random_below(8);
                if (b->length + count <= b->capacity)
                {
                    memmove(b->data + at + count, b->data + at, b->length - at);
                    for (size_t k = 0; k < count; k++)
                    {
                        b->data[at + k] = (uint8_t)next_random();
                    }
                    b->length += count;
                }
                break;
            }
            case 3: /* delete bytes */
            {
                const size_t count = 1 + random_below(8);
                const size_t removed = at + count > b->length ? b->length - at : count;
                memmove(b->data + at, b->data + at + removed, b->length - at - removed);
                b->length -= removed;
                break;
            }
            case 4: /* truncate */
                b->length = at;
                break;
            default: /* an interesting number in a 16- or 32-bit field */
            {
                static const uint32_t interesting[] = {0, 1, 2, 11, 12, 13, 0x7F, 0xFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF};
                const uint32_t value = interesting[random_below(sizeof interesting / sizeof interesting[0])];
                const size_t width = random_below(2) ? 2 : 4;
                if (at + width <= b->length)
                {
                    memcpy(b->data + at, &value, width);
                }
                break;
            }
        }
    }
}

/* Mutated StoreSchema messages: open either works (and the store is usable) or says why; never crashes. */
static void test_schema_fuzz(void)
{
    buffer good = buffer_new(4096);
    put_store_schema(&good, SCHEMA_HASH, standard_types, sizeof standard_types / sizeof standard_types[0]);
    buffer b = buffer_new(4096);
    g_rng = UINT64_C(0xC0FFEE);
    long opened = 0;
    for (int iteration = 0; iteration < 20000; iteration++)
    {
        memcpy(b.data, good.data, good.length);
        b.length = good.length;
        mutate(&b);
        /* Keep the frame length honest half the time, so the mutation reaches the body. */
        if (random_below(2) == 0 && b.length >= 12)
        {
            patch_u32(&b, HEADER_FRAME_LENGTH, (uint32_t)b.length);
        }
        uint8_t *copy = malloc(b.length == 0 ? 1 : b.length);
        REQUIRE(copy != NULL);
        memcpy(copy, b.data, b.length);
        spate_store *store = NULL;
        const int32_t rc = spate_store_open(copy, b.length, &store);
        free(copy);
        CHECK(rc == 0 || rc == SPATE_ERROR_BAD_SCHEMA || rc == SPATE_ERROR_OUT_OF_MEMORY, "iteration %d: rc %d", iteration, rc);
        CHECK((rc == 0) == (store != NULL), "iteration %d: handle only on success", iteration);
        if (store != NULL)
        {
            opened++;
            uint8_t row[ALL_ROW_BYTES] = {0};
            buffer records = buffer_new(512);
            put_create(&records, 0, T_ALL, &(var_value){F_STRING, "x", 1}, 1, row, ALL_ROW_BYTES);
            put_update(&records, 1, 0, T_SMALL, &(var_value){S_STRING, "y", 1}, 1);
            CHECK(apply(store, &records) == 2, "iteration %d: apply", iteration);
            uint8_t out[256];
            (void)spate_store_get(store, T_ALL, 1, out, sizeof out);
            buffer_free(&records);
            spate_store_close(store);
        }
    }
    printf("schema fuzz: 20000 mutated descriptors, %ld opened\n", opened);
    buffer_free(&b);
    buffer_free(&good);
}

/* Live nodes counted the slow way (every used slot's generation, through node_state) must match the store's count. */
static int64_t scan_live(spate_store *store, uint16_t type_id)
{
    const spate_type_stats stats = stats_of(store, type_id);
    const uint64_t max_generation = max_generation_of(stats.slot_bits);
    int64_t live = 0;
    uint8_t out[512];
    for (int64_t slot = 1; slot <= stats.high_water_slot; slot++)
    {
        bool is_live;
        const uint64_t generation = slot_generation(store, type_id, stats.slot_bits, slot, &is_live);
        const int64_t id = make_id(stats.slot_bits, generation <= max_generation ? generation : max_generation, slot);
        const int32_t exists = spate_store_exists(store, type_id, id);
        const int64_t got = spate_store_get(store, type_id, id, out, sizeof out);
        REQUIRE(exists == (is_live ? 1 : 0) && exists == (got >= 0 ? 1 : 0));
        live += exists;
    }
    REQUIRE(stats.free_slots == stats.high_water_slot - stats.live_nodes);
    return live;
}

static void test_fuzz(void)
{
    const char *iterations_text = getenv("SPATE_FUZZ_ITERATIONS");
    const char *seed_text = getenv("SPATE_FUZZ_SEED");
    const long iterations = iterations_text != NULL ? atol(iterations_text) : 1000000;
    const uint64_t seed = seed_text != NULL ? strtoull(seed_text, NULL, 0) : UINT64_C(0x5EEDF00D12345678);
    printf("fuzz: %ld iterations, seed 0x%016" PRIx64 " (SPATE_FUZZ_ITERATIONS, SPATE_FUZZ_SEED)\n", iterations, seed);
    fflush(stdout);
    g_rng = seed;
    buffer b = buffer_new(4096);
    spate_store *store = NULL;
    int64_t model_live[2] = {0, 0};
    long walked = 0, applied = 0;
    long by_status[SPATE_STATUS_UNKNOWN_TEMPLATE + 1] = {0};
    for (long iteration = 0; iteration < iterations; iteration++)
    {
        if (iteration % 2000 == 0)
        {
            if (store != NULL)
            {
                CHECK(scan_live(store, T_ALL) == model_live[0] && scan_live(store, T_SMALL) == model_live[1],
                      "iteration %ld: live nodes by scan", iteration);
                spate_store_close(store);
            }
            store = open_standard();
            model_live[0] = model_live[1] = 0;
        }
        b.length = 0;
        random_batch(&b, store);
        if (random_below(8) != 0)
        {
            mutate(&b);
        }
        uint8_t *slice = malloc(b.length == 0 ? 1 : b.length);
        REQUIRE(slice != NULL);
        memcpy(slice, b.data, b.length);
        /* Walk it all, in pieces when the result capacity runs out, like the caller does. */
        const int64_t progress_base = (int64_t)random_below(1000);
        int64_t progress = progress_base;
        size_t done = 0;
        int rounds = 0;
        while (done < b.length)
        {
            spate_result results[64];
            const uint32_t capacity = 1 + random_below(random_below(2) ? 64 : 3);
            const int64_t before = progress;
            const int64_t n = spate_store_apply(store, slice + done, b.length - done, &progress, results, capacity);
            CHECK(n >= 1 && n <= capacity, "iteration %ld: %" PRId64 " results for capacity %u", iteration, n, capacity);
            CHECK(progress > before && progress - progress_base <= (int64_t)b.length, "iteration %ld: progress", iteration);
            const uint64_t consumed = (uint64_t)(progress - before);
            CHECK(n == capacity || done + consumed == b.length, "iteration %ld: stopped early", iteration);
            for (int64_t i = 0; i < n; i++)
            {
                const spate_result *r = &results[i];
                CHECK(r->status <= SPATE_STATUS_UNKNOWN_TEMPLATE && r->reserved == 0, "iteration %ld: status %u", iteration, r->status);
                by_status[r->status]++;
                CHECK(r->offset_bytes < consumed && (i == 0 ? r->offset_bytes == 0 : r->offset_bytes > results[i - 1].offset_bytes),
                      "iteration %ld: offsets", iteration);
                if (i + 1 < n)
                {
                    uint32_t frame_length;
                    memcpy(&frame_length, slice + done + r->offset_bytes + HEADER_FRAME_LENGTH, 4);
                    CHECK(results[i + 1].offset_bytes == r->offset_bytes + frame_length, "iteration %ld: frame walk", iteration);
                }
                if (r->status == SPATE_STATUS_OK)
                {
                    uint16_t type_id = 0;
                    if (r->template_id == 10 || r->template_id == 12)
                    {
                        memcpy(&type_id, slice + done + r->offset_bytes + 12 + (r->template_id == 10 ? 8 : 12), 2);
                        const int index = type_id == T_ALL ? 0 : 1;
                        model_live[index] += r->template_id == 10 ? 1 : -1;
                        CHECK(spate_store_exists(store, type_id, r->node_id) == (r->template_id == 10 ? 1 : 0) ||
                                  r->template_id == 10,
                              "iteration %ld: deleted node still live", iteration);
                    }
                    applied++;
                }
            }
            walked += n;
            done += consumed;
            CHECK(++rounds < 10000, "iteration %ld: no progress", iteration);
        }
        free(slice);
        CHECK(spate_store_count(store, T_ALL) == model_live[0] && spate_store_count(store, T_SMALL) == model_live[1],
              "iteration %ld: count %" PRId64 "/%" PRId64 " vs model %" PRId64 "/%" PRId64, iteration,
              spate_store_count(store, T_ALL), spate_store_count(store, T_SMALL), model_live[0], model_live[1]);
    }
    if (store != NULL)
    {
        CHECK(scan_live(store, T_ALL) == model_live[0] && scan_live(store, T_SMALL) == model_live[1], "final scan");
        spate_store_close(store);
    }
    printf("fuzz: %ld messages walked, %ld applied OK; by status:", walked, applied);
    for (int status = 0; status <= SPATE_STATUS_UNKNOWN_TEMPLATE; status++)
    {
        printf(" %s %ld", status_name(status), by_status[status]);
    }
    printf("\n");
    buffer_free(&b);
}

/* ------------------------------------------------------------------------------------------ */
/* Snapshots and checksums                                                                     */
/* ------------------------------------------------------------------------------------------ */

static const uint16_t g_standard_type_ids[] = {T_ALL, T_SMALL, T_PATTERN, T_EMPTY, T_NO_ARENA};
#define STANDARD_TYPE_COUNT (sizeof g_standard_type_ids / sizeof g_standard_type_ids[0])

/* The image format of spate_store.h, version 2. */
enum
{
    IMAGE_HEADER_BYTES = 32,
    IMAGE_TYPE_HEADER_BYTES = 40,
    IMAGE_FREED_RECORD_BYTES = 16,
    /* In a type's header: */
    IMAGE_TYPE_STRIDE = 4,
    IMAGE_TYPE_HIGH_WATER = 8,
    IMAGE_TYPE_LIVE = 16,
    IMAGE_TYPE_FREED = 24,
    IMAGE_TYPE_ARENA = 32,
};

/* A copy in memory of exactly its length (at least 1 byte), so that ASan sees any read past it. */
static uint8_t *copy_of(const uint8_t *bytes, uint64_t length)
{
    uint8_t *copy = malloc(length == 0 ? 1 : (size_t)length);
    REQUIRE(copy != NULL);
    if (length != 0)
    {
        memcpy(copy, bytes, (size_t)length);
    }
    return copy;
}

static uint8_t *take_snapshot(spate_store *store, uint64_t *length_out)
{
    const int64_t length = spate_store_snapshot_length(store);
    REQUIRE(length >= IMAGE_HEADER_BYTES);
    uint8_t *image = malloc((size_t)length);
    REQUIRE(image != NULL);
    REQUIRE(spate_store_snapshot_write(store, image, (uint64_t)length) == length);
    *length_out = (uint64_t)length;
    return image;
}

static bool same_image(spate_store *store, const uint8_t *image, uint64_t length)
{
    uint64_t other_length;
    uint8_t *other = take_snapshot(store, &other_length);
    const bool same = other_length == length && memcmp(other, image, (size_t)length) == 0;
    free(other);
    return same;
}

static uint64_t read_u64(const uint8_t *at)
{
    uint64_t value;
    memcpy(&value, at, sizeof value);
    return value;
}

static void write_u64(uint8_t *at, uint64_t value)
{
    memcpy(at, &value, sizeof value);
}

/* Where a type's 40-byte header is in an image, walking the format of spate_store.h; 0 if absent. */
static size_t image_type_offset(const uint8_t *image, uint64_t length, uint16_t type_id)
{
    uint32_t type_count;
    memcpy(&type_count, image + 12, 4);
    size_t at = IMAGE_HEADER_BYTES;
    for (uint32_t t = 0; t < type_count && at + IMAGE_TYPE_HEADER_BYTES <= length; t++)
    {
        uint16_t id;
        uint32_t stride;
        memcpy(&id, image + at, 2);
        memcpy(&stride, image + at + IMAGE_TYPE_STRIDE, 4);
        if (id == type_id)
        {
            return at;
        }
        at += IMAGE_TYPE_HEADER_BYTES + read_u64(image + at + IMAGE_TYPE_LIVE) * (8 + stride) +
              read_u64(image + at + IMAGE_TYPE_FREED) * IMAGE_FREED_RECORD_BYTES + read_u64(image + at + IMAGE_TYPE_ARENA);
    }
    return 0;
}

/* Where a type's live rows, freed records and arena start in an image. */
typedef struct image_parts
{
    size_t header;
    uint32_t stride;
    uint64_t high_water;
    uint64_t live;
    uint64_t freed;
    uint64_t arena_bytes;
    size_t rows;      /* live records of 8 + stride bytes: u64 slot, then the row */
    size_t freed_at;  /* freed records: u64 slot, u64 next generation */
    size_t arena;
} image_parts;

static image_parts image_parts_of(const uint8_t *image, uint64_t length, uint16_t type_id)
{
    image_parts parts = {0};
    parts.header = image_type_offset(image, length, type_id);
    REQUIRE(parts.header != 0);
    memcpy(&parts.stride, image + parts.header + IMAGE_TYPE_STRIDE, 4);
    parts.high_water = read_u64(image + parts.header + IMAGE_TYPE_HIGH_WATER);
    parts.live = read_u64(image + parts.header + IMAGE_TYPE_LIVE);
    parts.freed = read_u64(image + parts.header + IMAGE_TYPE_FREED);
    parts.arena_bytes = read_u64(image + parts.header + IMAGE_TYPE_ARENA);
    parts.rows = parts.header + IMAGE_TYPE_HEADER_BYTES;
    parts.freed_at = parts.rows + parts.live * (8 + parts.stride);
    parts.arena = parts.freed_at + parts.freed * IMAGE_FREED_RECORD_BYTES;
    REQUIRE(parts.arena + parts.arena_bytes <= length);
    return parts;
}

/* Where the row of a live slot is in an image (after its u64 slot), or 0. */
static size_t image_row_offset(const uint8_t *image, uint64_t length, uint16_t type_id, int64_t slot)
{
    const image_parts parts = image_parts_of(image, length, type_id);
    for (uint64_t i = 0; i < parts.live; i++)
    {
        const size_t at = parts.rows + i * (8 + parts.stride);
        if (read_u64(image + at) == (uint64_t)slot)
        {
            return at + 8;
        }
    }
    return 0;
}

/* Where the freed record of a slot is in an image, or 0. */
static size_t image_freed_offset(const uint8_t *image, uint64_t length, uint16_t type_id, int64_t slot)
{
    const image_parts parts = image_parts_of(image, length, type_id);
    for (uint64_t i = 0; i < parts.freed; i++)
    {
        const size_t at = parts.freed_at + i * IMAGE_FREED_RECORD_BYTES;
        if (read_u64(image + at) == (uint64_t)slot)
        {
            return at;
        }
    }
    return 0;
}

/* The size classes of spate_store.h: multiples of 8 up to 128, then (1.25, 1.5, 1.75, 2) * 2^p up to 1 MiB. */
static uint32_t block_bytes(uint32_t length)
{
    if (length == 0)
    {
        return 0;
    }
    if (length <= 128)
    {
        return (length + 7) / 8 * 8;
    }
    uint32_t power = 128;
    while (power * 2 < length)
    {
        power *= 2;
    }
    const uint32_t step = power / 4;
    return power + (length - power + step - 1) / step * step;
}

/* The state every type of a store has right after open: what a failed load must leave. */
static bool is_empty(spate_store *store)
{
    for (size_t t = 0; t < STANDARD_TYPE_COUNT; t++)
    {
        const spate_type_stats stats = stats_of(store, g_standard_type_ids[t]);
        if (stats.high_water_slot != 0 || stats.live_nodes != 0 || stats.retired_slots != 0 || stats.arena_live_bytes != 0 ||
            stats.arena_reserved_bytes != 0 || spate_store_count(store, g_standard_type_ids[t]) != 0)
        {
            return false;
        }
    }
    return spate_store_snapshot_length(store) == IMAGE_HEADER_BYTES + IMAGE_TYPE_HEADER_BYTES * (int64_t)STANDARD_TYPE_COUNT;
}

/*
 * Everything a reader can see of two stores of the standard schema: per type the slot counters,
 * count, checksum, free ids, and every slot's generation and node copy. The first difference goes to why.
 */
static bool same_content(spate_store *a, spate_store *b, char *why, size_t why_size)
{
    uint8_t out_a[512], out_b[512];
    static int64_t free_a[1 << 17], free_b[1 << 17];
    for (size_t t = 0; t < STANDARD_TYPE_COUNT; t++)
    {
        const uint16_t type_id = g_standard_type_ids[t];
        const spate_type_stats sa = stats_of(a, type_id), sb = stats_of(b, type_id);
        if (sa.high_water_slot != sb.high_water_slot || sa.live_nodes != sb.live_nodes || sa.free_slots != sb.free_slots ||
            sa.retired_slots != sb.retired_slots || spate_store_count(a, type_id) != spate_store_count(b, type_id) ||
            checksum_of(a, type_id) != checksum_of(b, type_id))
        {
            snprintf(why, why_size, "type %u: high water %" PRId64 "/%" PRId64 ", live %" PRId64 "/%" PRId64 ", retired %" PRId64
                     "/%" PRId64 ", checksums differ: %d", type_id, sa.high_water_slot, sb.high_water_slot, sa.live_nodes,
                     sb.live_nodes, sa.retired_slots, sb.retired_slots, checksum_of(a, type_id) != checksum_of(b, type_id));
            return false;
        }
        const int64_t free_count = all_free_ids(a, type_id, free_a, 1 << 17, 1000);
        if (free_count != all_free_ids(b, type_id, free_b, 1 << 17, 777) ||
            memcmp(free_a, free_b, (size_t)free_count * sizeof(int64_t)) != 0)
        {
            snprintf(why, why_size, "type %u: free ids differ", type_id);
            return false;
        }
        for (int64_t slot = 1; slot <= sa.high_water_slot + 1 && slot <= sa.slot_limit; slot++)
        {
            bool live_a, live_b;
            const uint64_t generation = slot_generation(a, type_id, sa.slot_bits, slot, &live_a);
            if (generation != slot_generation(b, type_id, sb.slot_bits, slot, &live_b) || live_a != live_b)
            {
                snprintf(why, why_size, "type %u slot %" PRId64 ": generations differ", type_id, slot);
                return false;
            }
            if (!live_a)
            {
                continue;
            }
            const int64_t id = make_id(sa.slot_bits, generation, slot);
            const int64_t length_a = spate_store_get(a, type_id, id, out_a, sizeof out_a);
            const int64_t length_b = spate_store_get(b, type_id, id, out_b, sizeof out_b);
            if (length_a < 0 || length_a != length_b || memcmp(out_a, out_b, (size_t)length_a) != 0)
            {
                snprintf(why, why_size, "type %u id %" PRId64 ": length %" PRId64 "/%" PRId64, type_id, id, length_a, length_b);
                return false;
            }
        }
        for (int64_t id = -1; id <= 0; id++)
        {
            if (spate_store_node_state(a, type_id, id) != spate_store_node_state(b, type_id, id))
            {
                snprintf(why, why_size, "type %u id %" PRId64 ": states differ", type_id, id);
                return false;
            }
        }
    }
    return true;
}

/* Workload shapes of the standard types: what a record may set, and how long a value may be. */
typedef struct workload_field
{
    uint16_t field_id;
    uint32_t width;             /* fixed: the width; string/bytes: maxLengthBytes */
    bool is_var;
} workload_field;

typedef struct workload_type
{
    uint16_t type_id;
    uint32_t row_length;
    int64_t max_nodes;
    const workload_field *fields;
    uint32_t field_count;
    uint32_t weight;
} workload_type;

static const workload_field all_workload_fields[] = {
    {F_U8, 1, false}, {F_U16, 2, false}, {F_U32, 4, false}, {F_U64, 8, false}, {F_I32, 4, false}, {F_I64, 8, false},
    {F_F64, 8, false}, {F_BOOL, 1, false}, {F_TS, 8, false}, {F_STRING, 32, true}, {F_BYTES, 64, true}, {F_SHORT, 8, true}};
static const workload_field small_workload_fields[] = {{S_U32, 4, false}, {S_STRING, 16, true}};
static const workload_field pattern_workload_fields[] = {
    {P_U64, 8, false}, {P_U32, 4, false}, {P_I64, 8, false}, {P_STRING, PATTERN_MAX_STRING, true}};
static const workload_field no_arena_workload_fields[] = {{1, 8, true}};

static const workload_type workload_types[] = {
    {T_ALL, ALL_ROW_BYTES, ALL_MAX_NODES, all_workload_fields, 12, 12},
    {T_SMALL, SMALL_ROW_BYTES, 3, small_workload_fields, 2, 1},
    {T_PATTERN, PATTERN_ROW_BYTES, PATTERN_MAX_NODES, pattern_workload_fields, 4, 5},
    {T_EMPTY, 0, 10, NULL, 0, 1},
    {T_NO_ARENA, 0, 10, no_arena_workload_fields, 1, 1},
};

/* Up to three values for fields of the type (var lengths anywhere from empty to the maximum). */
static uint16_t random_values(const workload_type *type, bool var_only, const uint8_t *bytes, var_value *values)
{
    uint16_t count = 0;
    const uint32_t wanted = random_below(4);
    for (uint32_t i = 0; i < wanted && type->field_count > 0; i++)
    {
        const workload_field *field = &type->fields[random_below(type->field_count)];
        if (var_only && !field->is_var)
        {
            continue;
        }
        const uint32_t length = field->is_var ? random_below(field->width + 1) : field->width;
        values[count++] = (var_value){field->field_id, bytes + random_below(8), length};
    }
    return count;
}

/*
 * count records that mostly apply, over every standard type: creates taking the next never-used
 * slot (nodeId 0 or explicit), skipping ahead (with far_skips, now and then by thousands of slots:
 * 2 MiB of rows), reusing a freed slot's next generation or a later one; updates of fixed fields and
 * of string/bytes values that grow (moved to a new block) or shrink (in place), increments, deletes;
 * and some that fail (stale or missing nodes, full arena or type, wrong kinds). Ids are chosen from
 * the store's state before the records apply (a record may target a node an earlier one creates).
 */
static void random_records(buffer *b, spate_store *store, int count, bool far_skips)
{
    enum
    {
        TYPES = sizeof workload_types / sizeof workload_types[0],
        FREE_IDS = 32,
    };
    int64_t next[TYPES];
    spate_type_stats stats[TYPES];
    int64_t free_ids[TYPES][FREE_IDS];
    int64_t free_count[TYPES];
    uint32_t total_weight = 0;
    for (uint32_t t = 0; t < TYPES; t++)
    {
        stats[t] = stats_of(store, workload_types[t].type_id);
        next[t] = stats[t].high_water_slot + 1;
        const int64_t from_slot = 1 + (int64_t)random_below((uint32_t)next[t]);
        free_count[t] = spate_store_free_ids(store, workload_types[t].type_id, from_slot, free_ids[t], FREE_IDS);
        REQUIRE(free_count[t] >= 0);
        total_weight += workload_types[t].weight;
    }
    uint8_t bytes[80];
    for (int i = 0; i < count; i++)
    {
        uint32_t pick = random_below(total_weight), t = 0;
        while (pick >= workload_types[t].weight)
        {
            pick -= workload_types[t].weight;
            t++;
        }
        const workload_type *type = &workload_types[t];
        const uint32_t slot_bits = stats[t].slot_bits;
        for (size_t k = 0; k < sizeof bytes; k++)
        {
            bytes[k] = (uint8_t)next_random();
        }
        /* Half the time among the latest slots, so that a far skip does not leave only gaps to aim at. */
        const int64_t span = random_below(2) == 0 && next[t] > 64 ? 64 : next[t] - 1;
        const int64_t slot = span > 0 ? next[t] - 1 - (int64_t)random_below((uint32_t)span) : 1;
        bool live;
        uint64_t generation = slot_generation(store, type->type_id, slot_bits, slot, &live);
        generation = generation <= max_generation_of(slot_bits) ? generation : max_generation_of(slot_bits);
        if (generation > 0 && random_below(8) == 0)
        {
            generation--; /* a stale id */
        }
        const int64_t existing = make_id(slot_bits, generation, slot);
        var_value values[3];
        const uint32_t op = random_below(10);
        if (op < 4 || (type->field_count == 0 && op < 8))
        {
            int64_t id = 0;
            const uint32_t choice = random_below(100);
            if (choice == 0 && far_skips && type->max_nodes - next[t] > 64)
            {
                id = next[t] + 1 + (int64_t)random_below((uint32_t)((type->max_nodes - next[t]) / 16));
            }
            else if (choice < 15 && next[t] + 2 <= stats[t].slot_limit)
            {
                id = next[t] + (int64_t)random_below(3);
            }
            else if (choice < 50 && free_count[t] > 0)
            {
                /* A freed slot's next generation, taken out of the list; now and then a later one. */
                const uint32_t k = random_below((uint32_t)free_count[t]);
                id = free_ids[t][k];
                free_ids[t][k] = free_ids[t][--free_count[t]];
                const uint64_t id_generation = (uint64_t)id >> slot_bits;
                if (choice >= 45 && id_generation + 3 <= max_generation_of(slot_bits))
                {
                    id += (int64_t)((1 + random_below(3)) << slot_bits);
                }
            }
            const uint16_t value_count = random_values(type, true, bytes, values);
            put_create(b, id, type->type_id, values, value_count, bytes + 16, type->row_length);
            const int64_t taken = id == 0 ? next[t] : (int64_t)((uint64_t)id & ((UINT64_C(1) << slot_bits) - 1));
            if (taken >= next[t] && taken <= stats[t].slot_limit)
            {
                next[t] = taken + 1;
            }
        }
        else if (op < 7)
        {
            const uint16_t value_count = random_values(type, false, bytes, values);
            put_update(b, existing, 0, type->type_id, values, value_count);
        }
        else if (op < 8)
        {
            const workload_field *field = &type->fields[random_below(type->field_count)];
            put_increment(b, existing, (int64_t)next_random() >> random_below(64), 0, type->type_id, field->field_id);
        }
        else
        {
            put_delete(b, existing, 0, type->type_id);
        }
    }
}

static spate_result g_other_results[MAX_RESULTS];

/* Applies b to both stores; true when both walked it alike (statuses, ids, offsets). */
static bool apply_both(spate_store *a, spate_store *b, const buffer *records)
{
    const int64_t n = spate_store_apply(a, records->data, records->length, NULL, g_results, MAX_RESULTS);
    const int64_t m = spate_store_apply(b, records->data, records->length, NULL, g_other_results, MAX_RESULTS);
    return n > 0 && n == m && memcmp(g_results, g_other_results, (size_t)n * sizeof(spate_result)) == 0;
}

/* The checksum as spate_store.h defines it, recomputed from what get and node_state say. */
static uint64_t reference_word(uint64_t hash, uint64_t word)
{
    uint64_t k = word * UINT64_C(0xC2B2AE3D27D4EB4F);
    k = ((k << 31) | (k >> 33)) * UINT64_C(0x9E3779B185EBCA87);
    hash ^= k;
    return ((hash << 27) | (hash >> 37)) * UINT64_C(0x9E3779B185EBCA87) + UINT64_C(0x85EBCA77C2B2AE63);
}

static uint64_t reference_bytes(uint64_t hash, const uint8_t *bytes, uint64_t length)
{
    hash = reference_word(hash, length);
    for (uint64_t i = 0; i < length; i += 8)
    {
        uint64_t word = 0;
        memcpy(&word, bytes + i, length - i < 8 ? length - i : 8);
        hash = reference_word(hash, word);
    }
    return hash;
}

/*
 * Walks slots 1 .. highest used as the definition does, each slot's state and generation found
 * through node_state alone (slot_generation), each live node's bytes through get.
 */
static uint64_t reference_checksum(spate_store *store, uint16_t type_id, uint32_t row_length, uint32_t var_count)
{
    const spate_type_stats stats = stats_of(store, type_id);
    uint64_t hash = UINT64_C(0x5350415445483634);
    hash = reference_word(hash, type_id);
    hash = reference_word(hash, (uint64_t)stats.high_water_slot);
    hash = reference_word(hash, (uint64_t)spate_store_count(store, type_id));
    uint64_t never = 0;
    static uint8_t out[1 << 16]; /* longer than any node of the test types */
    for (int64_t slot = 1; slot <= stats.high_water_slot; slot++)
    {
        bool live;
        const uint64_t generation = slot_generation(store, type_id, stats.slot_bits, slot, &live);
        if (!live && generation == 0)
        {
            never++;
            continue;
        }
        if (never != 0)
        {
            hash = reference_word(reference_word(hash, 0), never);
            never = 0;
        }
        hash = reference_word(hash, live ? 1 : 2);
        hash = reference_word(hash, generation);
        if (live)
        {
            const int64_t length = spate_store_get(store, type_id, make_id(stats.slot_bits, generation, slot), out, sizeof out);
            REQUIRE(length >= row_length);
            hash = reference_bytes(hash, out, row_length);
            for (uint32_t v = 0; v < var_count; v++)
            {
                uint32_t value_length;
                const uint8_t *value = get_var(out, length, row_length, v, &value_length);
                hash = reference_bytes(hash, value, value_length);
            }
        }
    }
    if (never != 0)
    {
        hash = reference_word(reference_word(hash, 0), never);
    }
    hash ^= hash >> 33;
    hash *= UINT64_C(0xC2B2AE3D27D4EB4F);
    hash ^= hash >> 29;
    hash *= UINT64_C(0x165667B19E3779F9);
    hash ^= hash >> 32;
    return hash;
}

static void test_snapshot_round_trip(void)
{
    g_rng = UINT64_C(0x5AA5F00D5AA5F00D);
    spate_store *source = open_standard();
    buffer b = buffer_new(1 << 20);
    long ok = 0, records = 0;
    uint8_t row[ALL_ROW_BYTES] = {1, 2, 3};
    for (int batch = 0; batch < 24; batch++)
    {
        b.length = 0;
        if (batch == 1)
        {
            /* Over two 2 MiB of rows ahead (T_ALL rows are 104 bytes): rows never written between. */
            put_create(&b, high_water(source, T_ALL) + 45000, T_ALL, &(var_value){F_BYTES, "far away", 8}, 1, row, ALL_ROW_BYTES);
            CHECK(apply_one(source, &b, NULL) == SPATE_STATUS_OK, "far create");
            b.length = 0;
        }
        random_records(&b, source, 1000, true);
        CHECK(apply(source, &b) == 1000, "batch %d", batch);
        for (int i = 0; i < 1000; i++)
        {
            ok += g_results[i].status == SPATE_STATUS_OK ? 1 : 0;
        }
        records += 1000;
    }
    CHECK(ok > records / 2, "most records apply: %ld of %ld", ok, records);
    CHECK(high_water(source, T_ALL) < stats_of(source, T_ALL).slot_limit, "T_ALL has slots left");

    uint64_t length;
    uint8_t *image = take_snapshot(source, &length);
    /* Each type's part, recomputed from what the API says: live rows, freed slots (not live, next generation
       above 0), and the values in their smallest blocks; nothing for the never-used slots between. */
    uint64_t expected_length = IMAGE_HEADER_BYTES;
    for (size_t t = 0; t < STANDARD_TYPE_COUNT; t++)
    {
        const workload_type *type = &workload_types[t];
        const spate_type_stats stats = stats_of(source, type->type_id);
        uint64_t freed = 0, arena_bytes = 0;
        uint8_t out[512];
        for (int64_t slot = 1; slot <= stats.high_water_slot; slot++)
        {
            bool live;
            const uint64_t generation = slot_generation(source, type->type_id, stats.slot_bits, slot, &live);
            freed += !live && generation != 0 ? 1 : 0;
            if (!live)
            {
                continue;
            }
            const int64_t got = spate_store_get(source, type->type_id, make_id(stats.slot_bits, generation, slot), out, sizeof out);
            REQUIRE(got >= type->row_length);
            for (uint32_t v = 0, f = 0; f < type->field_count; f++)
            {
                if (type->fields[f].is_var)
                {
                    uint32_t value_length;
                    get_var(out, got, type->row_length, v++, &value_length);
                    arena_bytes += block_bytes(value_length);
                }
            }
        }
        const image_parts parts = image_parts_of(image, length, type->type_id);
        CHECK(parts.stride == stats.row_stride_bytes && parts.high_water == (uint64_t)stats.high_water_slot &&
                  parts.live == (uint64_t)stats.live_nodes && parts.freed == freed && parts.arena_bytes == arena_bytes,
              "type %u: header %u %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 ", expected %u %" PRId64 " %" PRId64 " %" PRIu64
              " %" PRIu64, type->type_id, parts.stride, parts.high_water, parts.live, parts.freed, parts.arena_bytes,
              stats.row_stride_bytes, stats.high_water_slot, stats.live_nodes, freed, arena_bytes);
        expected_length += IMAGE_TYPE_HEADER_BYTES + parts.live * (8 + parts.stride) + freed * IMAGE_FREED_RECORD_BYTES + arena_bytes;
    }
    CHECK(length == expected_length, "image of %" PRIu64 " bytes, expected %" PRIu64, length, expected_length);
    const image_parts all_parts = image_parts_of(image, length, T_ALL);
    CHECK(all_parts.freed > 0, "T_ALL has freed slots");
    printf("snapshot: %ld records (%ld OK) over 5 types, T_ALL high water %" PRIu64 ", %" PRIu64 " live, %" PRIu64
           " freed: image of %" PRIu64 " bytes\n", records, ok, all_parts.high_water, all_parts.live, all_parts.freed, length);

    /* The image may sit at any alignment. */
    uint8_t *unaligned = malloc((size_t)length + 1);
    REQUIRE(unaligned != NULL);
    memcpy(unaligned + 1, image, (size_t)length);
    spate_store *copy = open_standard();
    CHECK(spate_store_reserve(copy, T_ALL, 1000) == 0, "reserve first is fine");
    const int32_t rc = spate_store_snapshot_load(copy, unaligned + 1, length);
    CHECK(rc == 0, "load: %d", rc);
    char why[256] = "";
    CHECK(same_content(source, copy, why, sizeof why), "loaded copy: %s", why);
    CHECK(same_image(copy, image, length), "the copy's image is the source's, byte for byte");
    CHECK(spate_store_snapshot_write(copy, unaligned + 1, length) == (int64_t)length && memcmp(unaligned + 1, image, (size_t)length) == 0,
          "written at an odd address");
    for (size_t t = 0; t < STANDARD_TYPE_COUNT; t++)
    {
        const workload_type *type = &workload_types[t];
        uint32_t var_count = 0;
        for (uint32_t f = 0; f < type->field_count; f++)
        {
            var_count += type->fields[f].is_var ? 1 : 0;
        }
        CHECK(checksum_of(source, type->type_id) == reference_checksum(source, type->type_id, type->row_length, var_count),
              "type %u: the checksum is the one spate_store.h defines", type->type_id);
    }

    /* From here on both apply the same records: the same results, the same content, the same images. */
    for (int batch = 0; batch < 12; batch++)
    {
        b.length = 0;
        random_records(&b, source, 1000, true);
        CHECK(apply_both(source, copy, &b), "batch %d after the load: different results", batch);
    }
    CHECK(same_content(source, copy, why, sizeof why), "after further records: %s", why);
    free(image);
    image = take_snapshot(source, &length);
    CHECK(same_image(copy, image, length), "images after further records");
    CHECK(spate_store_snapshot_load(copy, image, length) == SPATE_ERROR_STORE_NOT_EMPTY, "a loaded store is not empty");
    free(image);
    free(unaligned);
    buffer_free(&b);
    spate_store_close(copy);
    spate_store_close(source);
}

static void test_snapshot_empty(void)
{
    spate_store *source = open_standard();
    const int64_t expected = IMAGE_HEADER_BYTES + IMAGE_TYPE_HEADER_BYTES * (int64_t)STANDARD_TYPE_COUNT;
    CHECK(spate_store_snapshot_length(source) == expected, "an empty store's image: %" PRId64 " bytes", spate_store_snapshot_length(source));
    uint64_t length;
    uint8_t *image = take_snapshot(source, &length);
    spate_store *copy = open_standard();
    CHECK(spate_store_snapshot_load(copy, image, length) == 0, "load an empty image");
    char why[256] = "";
    CHECK(same_content(source, copy, why, sizeof why), "%s", why);
    CHECK(is_empty(copy), "still empty");
    CHECK(spate_store_snapshot_load(copy, image, length) == 0, "an empty image leaves the store loadable (nothing in it)");
    g_rng = 77;
    buffer b = buffer_new(1 << 18);
    random_records(&b, source, 500, true);
    CHECK(apply_both(source, copy, &b), "the same results");
    CHECK(same_content(source, copy, why, sizeof why), "%s", why);
    free(image);
    buffer_free(&b);
    spate_store_close(copy);
    spate_store_close(source);
}

/* Opens the standard types with changes: another database hash, or another layout. */
static spate_store *open_variant(int64_t schema_hash, int64_t all_max_nodes, bool reversed)
{
    schema_type types[STANDARD_TYPE_COUNT];
    for (size_t t = 0; t < STANDARD_TYPE_COUNT; t++)
    {
        types[t] = standard_types[reversed ? STANDARD_TYPE_COUNT - 1 - t : t];
        if (types[t].type_id == T_ALL)
        {
            types[t].max_nodes = all_max_nodes;
        }
    }
    buffer b = buffer_new(4096);
    put_store_schema(&b, schema_hash, types, STANDARD_TYPE_COUNT);
    spate_store *store = NULL;
    REQUIRE(spate_store_open(b.data, b.length, &store) == 0);
    buffer_free(&b);
    return store;
}

static void test_snapshot_refusals(void)
{
    spate_store *source = open_standard();
    g_rng = 99;
    buffer b = buffer_new(1 << 18);
    random_records(&b, source, 300, false);
    CHECK(apply(source, &b) == 300, "300");
    uint64_t length;
    uint8_t *image = take_snapshot(source, &length);
    uint8_t small[8];

    CHECK(spate_store_snapshot_length(NULL) == SPATE_ERROR_NULL_ARGUMENT, "length of null");
    CHECK(spate_store_snapshot_write(NULL, small, 8) == SPATE_ERROR_NULL_ARGUMENT, "write of null");
    CHECK(spate_store_snapshot_write(source, NULL, 8) == SPATE_ERROR_NULL_ARGUMENT, "write to null");
    CHECK(spate_store_snapshot_write(source, NULL, 0) == SPATE_ERROR_BUFFER_TOO_SMALL, "write to nothing");
    uint8_t *short_out = malloc((size_t)length - 1);
    REQUIRE(short_out != NULL);
    CHECK(spate_store_snapshot_write(source, short_out, length - 1) == SPATE_ERROR_BUFFER_TOO_SMALL, "one byte short");
    free(short_out);
    uint64_t checksum;
    CHECK(spate_store_checksum(NULL, T_ALL, &checksum) == SPATE_ERROR_NULL_ARGUMENT, "checksum of null");
    CHECK(spate_store_checksum(source, T_ALL, NULL) == SPATE_ERROR_NULL_ARGUMENT, "checksum to null");
    CHECK(spate_store_checksum(source, 4, &checksum) == SPATE_ERROR_UNKNOWN_TYPE, "checksum of an unknown type");

    spate_store *target = open_standard();
    CHECK(spate_store_snapshot_load(NULL, image, length) == SPATE_ERROR_NULL_ARGUMENT, "load into null");
    CHECK(spate_store_snapshot_load(target, NULL, 5) == SPATE_ERROR_NULL_ARGUMENT, "load from null");
    CHECK(spate_store_snapshot_load(target, NULL, 0) == SPATE_ERROR_SNAPSHOT_TRUNCATED, "load of nothing");

    /* Header damage, each refused with its own code and nothing written. */
    uint8_t *bad = copy_of(image, length);
    bad[0] ^= 1;
    CHECK(spate_store_snapshot_load(target, bad, length) == SPATE_ERROR_BAD_SNAPSHOT, "no magic");
    memcpy(bad, image, (size_t)length);
    bad[8] = 1;
    CHECK(spate_store_snapshot_load(target, bad, length) == SPATE_ERROR_SNAPSHOT_VERSION, "version 1 (before slots were reused)");
    bad[8] = 3;
    CHECK(spate_store_snapshot_load(target, bad, length) == SPATE_ERROR_SNAPSHOT_VERSION, "version 3");
    memcpy(bad, image, (size_t)length);
    bad[12] ^= 1;
    CHECK(spate_store_snapshot_load(target, bad, length) == SPATE_ERROR_SNAPSHOT_SCHEMA, "type count");
    memcpy(bad, image, (size_t)length);
    bad[31] ^= 0x80;
    CHECK(spate_store_snapshot_load(target, bad, length) == SPATE_ERROR_SNAPSHOT_SCHEMA, "fingerprint");
    memcpy(bad, image, (size_t)length);
    write_u64(bad + 16, length - 8);
    CHECK(spate_store_snapshot_load(target, bad, length) == SPATE_ERROR_BAD_SNAPSHOT, "bytes after the stated length");
    write_u64(bad + 16, length + 8);
    CHECK(spate_store_snapshot_load(target, bad, length) == SPATE_ERROR_SNAPSHOT_TRUNCATED, "stated longer than given");
    uint8_t *longer = malloc((size_t)length + 8);
    REQUIRE(longer != NULL);
    memcpy(longer, image, (size_t)length);
    memset(longer + length, 0, 8);
    CHECK(spate_store_snapshot_load(target, longer, length + 8) == SPATE_ERROR_BAD_SNAPSHOT, "trailing bytes");
    free(longer);
    free(bad);
    CHECK(is_empty(target), "nothing written by refused headers");

    /* Another schema: another database hash, another layout; the same one encoded in another order is fine. */
    spate_store *other_hash = open_variant(SCHEMA_HASH + 1, ALL_MAX_NODES, false);
    spate_store *other_layout = open_variant(SCHEMA_HASH, ALL_MAX_NODES + 1, false);
    spate_store *reordered = open_variant(SCHEMA_HASH, ALL_MAX_NODES, true);
    CHECK(spate_store_snapshot_load(other_hash, image, length) == SPATE_ERROR_SNAPSHOT_SCHEMA, "another schema hash");
    CHECK(spate_store_snapshot_load(other_layout, image, length) == SPATE_ERROR_SNAPSHOT_SCHEMA, "another maxNodes");
    CHECK(spate_store_snapshot_load(reordered, image, length) == 0, "types listed in another order");
    char why[256] = "";
    CHECK(same_content(source, reordered, why, sizeof why), "reordered: %s", why);
    uint64_t other_length;
    uint8_t *other_image = take_snapshot(other_hash, &other_length);
    CHECK(spate_store_snapshot_load(target, other_image, other_length) == SPATE_ERROR_SNAPSHOT_SCHEMA, "an empty image of another schema");
    free(other_image);
    spate_store_close(other_hash);
    spate_store_close(other_layout);
    spate_store_close(reordered);

    /* Not empty: a node, or only an id consumed by a failed Create. The store is left as it was. */
    b.length = 0;
    create_small(target, 5, "x", &(int64_t){0}, &(uint8_t){0});
    const uint64_t small_checksum = checksum_of(target, T_SMALL);
    CHECK(spate_store_snapshot_load(target, image, length) == SPATE_ERROR_STORE_NOT_EMPTY, "a store with a node");
    CHECK(spate_store_count(target, T_SMALL) == 1 && checksum_of(target, T_SMALL) == small_checksum, "left as it was");
    spate_store_close(target);
    target = open_standard();
    const uint8_t row[ALL_ROW_BYTES] = {0};
    put_create(&b, 0, T_ALL, &(var_value){99, "x", 1}, 1, row, ALL_ROW_BYTES);
    CHECK(apply_one(target, &b, NULL) == SPATE_STATUS_UNKNOWN_FIELD && high_water(target, T_ALL) == 1, "an id consumed");
    CHECK(spate_store_snapshot_load(target, image, length) == SPATE_ERROR_STORE_NOT_EMPTY, "a store with a consumed id");
    spate_store_close(target);
    free(image);
    buffer_free(&b);
    spate_store_close(source);
}

/* A store of a few nodes of every type; the records that made it are left in b. */
static spate_store *small_source(buffer *b, uint64_t seed, int records)
{
    g_rng = seed;
    spate_store *store = open_standard();
    b->length = 0;
    random_records(b, store, records, false);
    REQUIRE(apply(store, b) == records);
    return store;
}

/* Every cut of an image: refused as truncated; with its stated length patched to the cut, as damaged. */
static void test_snapshot_truncation(void)
{
    buffer b = buffer_new(1 << 16);
    spate_store *source = small_source(&b, 1234, 40);
    uint64_t length;
    uint8_t *image = take_snapshot(source, &length);
    spate_store *target = open_standard();
    long refused = 0;
    for (uint64_t cut = 0; cut < length; cut++)
    {
        uint8_t *prefix = copy_of(image, cut);
        const int32_t rc = spate_store_snapshot_load(target, prefix, cut);
        CHECK(rc == SPATE_ERROR_SNAPSHOT_TRUNCATED, "cut at %" PRIu64 " of %" PRIu64 ": %d", cut, length, rc);
        if (cut >= IMAGE_HEADER_BYTES)
        {
            write_u64(prefix + 16, cut);
            const int32_t patched = spate_store_snapshot_load(target, prefix, cut);
            CHECK(patched == SPATE_ERROR_BAD_SNAPSHOT, "cut at %" PRIu64 ", length patched: %d", cut, patched);
            CHECK(is_empty(target), "cut at %" PRIu64 ": the store is empty again", cut);
        }
        refused++;
        free(prefix);
    }
    CHECK(spate_store_snapshot_load(target, image, length) == 0, "then the whole image loads");
    char why[256] = "";
    CHECK(same_content(source, target, why, sizeof why), "%s", why);
    printf("snapshot truncation: %ld cuts of a %" PRIu64 "-byte image refused\n", refused, length);
    free(image);
    buffer_free(&b);
    spate_store_close(target);
    spate_store_close(source);
}

/*
 * A refused load leaves no trace: the store applies the records that made the source and then
 * holds exactly the source's image (rows and arena bytes a failed load wrote would show in it).
 */
static bool no_trace(spate_store *target, const buffer *records, const uint8_t *image, uint64_t length)
{
    if (!is_empty(target))
    {
        return false;
    }
    const int64_t n = spate_store_apply(target, records->data, records->length, NULL, g_other_results, MAX_RESULTS);
    return n > 0 && same_image(target, image, length);
}

/* Damage the store could never have written, each refused (BAD_SNAPSHOT) with nothing left behind. */
static void test_snapshot_damage(void)
{
    buffer b = buffer_new(1 << 18);
    spate_store *source = small_source(&b, 4321, 300);
    /* A live row after a skipped slot, with a 7-byte value (its block has a zero byte past it), and two freed slots. */
    uint8_t row[ALL_ROW_BYTES] = {0};
    const int64_t next = high_water(source, T_ALL) + 1;
    const int64_t live_slot = next + 1, freed_slot = next + 2, freed_slot_2 = next + 3;
    const size_t tail = b.length;
    put_create(&b, live_slot, T_ALL, &(var_value){F_STRING, "abcdefg", 7}, 1, row, ALL_ROW_BYTES);
    put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_delete(&b, freed_slot, 0, T_ALL);
    put_delete(&b, freed_slot_2, 0, T_ALL);
    buffer last = {b.data + tail, b.length - tail, b.length - tail};
    CHECK(apply(source, &last) == 5, "setup");
    for (int i = 0; i < 5; i++)
    {
        CHECK(g_results[i].status == SPATE_STATUS_OK, "setup %d: %s", i, status_name(g_results[i].status));
    }
    uint64_t length;
    uint8_t *image = take_snapshot(source, &length);
    const spate_type_stats all_stats = stats_of(source, T_ALL);
    const image_parts all = image_parts_of(image, length, T_ALL);
    const size_t pattern = image_type_offset(image, length, T_PATTERN);
    const size_t small = image_type_offset(image, length, T_SMALL);
    const uint64_t slots = 8 + 48; /* T_ALL rows: 8-byte header, 44-byte row padded to 48, then 3 slots */
    const size_t live_row = image_row_offset(image, length, T_ALL, live_slot);
    const size_t freed_record = image_freed_offset(image, length, T_ALL, freed_slot);
    const size_t freed_record_2 = image_freed_offset(image, length, T_ALL, freed_slot_2);
    REQUIRE(pattern != 0 && small != 0 && live_row != 0 && freed_record != 0 && freed_record_2 == freed_record + 16);
    REQUIRE(all.high_water == (uint64_t)freed_slot_2 && live_row > all.rows + 8 && image[live_row] == 1);
    REQUIRE(read_u64(image + freed_record + 8) == 1 && image_row_offset(image, length, T_ALL, next) == 0);
    const uint64_t previous_live_slot = read_u64(image + live_row - 8 - (8 + all.stride));
    const size_t string_slot = live_row + slots; /* F_STRING (10) is the first var field */
    const uint64_t string_offset = read_u64(image + string_slot);
    REQUIRE(string_offset + 8 <= all.arena_bytes && read_u64(image + string_slot + 8) == (UINT64_C(8) << 32 | 7));
    REQUIRE(image[all.arena + string_offset + 7] == 0);
    const uint64_t max_generation = max_generation_of(all_stats.slot_bits);

    const struct
    {
        const char *what;
        size_t at;
        int width; /* 1, 4 or 8 */
        uint64_t value;
    } cases[] = {
        {"a live row's state 0", live_row, 1, 0},
        {"a live row's state 3", live_row, 1, 3},
        {"a generation above the largest", live_row, 8, 1 | (max_generation + 1) << 8},
        {"a generation far above the largest", live_row, 8, 1 | UINT64_C(0xFFFFFFFFFFFFFF00)},
        {"row padding", live_row + 8 + ALL_ROW_BYTES, 1, 1},
        {"length above the field's maximum", string_slot + 8, 4, 33},
        {"length above the capacity", string_slot + 8, 4, 9},
        {"capacity not the smallest block", string_slot + 12, 4, 16},
        {"capacity 0 for a value", string_slot + 12, 4, 0},
        {"offset not where the layout puts it", string_slot, 8, string_offset + 8},
        {"offset of an empty value not 0", string_slot + 16, 8, 8},
        {"offset past the arena", string_slot, 8, all.arena_bytes},
        {"offset far past the arena", string_slot, 8, UINT64_MAX - 3},
        {"a block's tail not zero", all.arena + string_offset + 7, 1, 'x'},
        {"a live slot 0", live_row - 8, 8, 0},
        {"a live slot above the high water", live_row - 8, 8, all.high_water + 1},
        {"live slots not ascending", live_row - 8, 8, previous_live_slot},
        {"live count above maxNodes", small + IMAGE_TYPE_LIVE, 8, 4},
        {"live count above the high water", all.header + IMAGE_TYPE_LIVE, 8, all.high_water + 1},
        {"live count one more", all.header + IMAGE_TYPE_LIVE, 8, all.live + 1},
        {"live count huge", all.header + IMAGE_TYPE_LIVE, 8, UINT64_MAX},
        {"freed count above the slots left", all.header + IMAGE_TYPE_FREED, 8, all.high_water - all.live + 1},
        {"freed count one less", all.header + IMAGE_TYPE_FREED, 8, all.freed - 1},
        {"freed count huge", all.header + IMAGE_TYPE_FREED, 8, UINT64_MAX},
        {"high water above the slot limit", all.header + IMAGE_TYPE_HIGH_WATER, 8, (uint64_t)all_stats.slot_limit + 1},
        {"high water below the slots", all.header + IMAGE_TYPE_HIGH_WATER, 8, (uint64_t)live_slot - 1},
        {"high water 0", all.header + IMAGE_TYPE_HIGH_WATER, 8, 0},
        {"type id unknown", all.header, 4, 4},
        {"type header reserved bytes", all.header + 2, 1, 1},
        {"type ids out of order", pattern, 4, T_ALL},
        {"stride", all.header + IMAGE_TYPE_STRIDE, 4, 112},
        {"arena above maxArenaBytes", all.header + IMAGE_TYPE_ARENA, 8, (1 << 24) + 8},
        {"arena not a multiple of 8", all.header + IMAGE_TYPE_ARENA, 8, all.arena_bytes - 1},
        {"arena on a type without string fields", image_type_offset(image, length, T_EMPTY) + IMAGE_TYPE_ARENA, 8, 8},
        {"arena shorter than the values", all.header + IMAGE_TYPE_ARENA, 8, all.arena_bytes - 8},
        {"a freed slot 0", freed_record, 8, 0},
        {"a freed slot above the high water", freed_record_2, 8, all.high_water + 1},
        {"a freed slot that is a live slot", freed_record, 8, (uint64_t)live_slot},
        {"a freed slot twice", freed_record_2, 8, (uint64_t)freed_slot},
        {"a next generation of 0", freed_record + 8, 8, 0},
        {"a next generation above the largest + 1", freed_record + 8, 8, max_generation + 2},
        {"a next generation of 2^64 - 1", freed_record + 8, 8, UINT64_MAX},
    };
    spate_store *target = open_standard();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
        uint8_t *bad = copy_of(image, length);
        if (cases[i].width == 1)
        {
            bad[cases[i].at] = (uint8_t)cases[i].value;
        }
        else if (cases[i].width == 4)
        {
            const uint32_t value = (uint32_t)cases[i].value;
            memcpy(bad + cases[i].at, &value, 4);
        }
        else
        {
            write_u64(bad + cases[i].at, cases[i].value);
        }
        const int32_t rc = spate_store_snapshot_load(target, bad, length);
        CHECK(rc == SPATE_ERROR_BAD_SNAPSHOT, "%s: %d", cases[i].what, rc);
        CHECK(is_empty(target), "%s: the store is empty again", cases[i].what);
        free(bad);
    }
    /* Freed records swapped: slots not ascending. */
    uint8_t *bad = copy_of(image, length);
    memcpy(bad + freed_record, image + freed_record_2, 16);
    memcpy(bad + freed_record_2, image + freed_record, 16);
    CHECK(spate_store_snapshot_load(target, bad, length) == SPATE_ERROR_BAD_SNAPSHOT && is_empty(target), "freed slots out of order");
    free(bad);
    /* Damage in the last type, once the others are loaded: the store still ends empty, no trace. */
    bad = copy_of(image, length);
    bad[length - 1] = 1; /* the top byte of T_EMPTY's (the last type id's) last generation, or of its arena bytes */
    const int32_t last_rc = spate_store_snapshot_load(target, bad, length);
    CHECK(last_rc == SPATE_ERROR_BAD_SNAPSHOT, "damage at the very end: %d", last_rc);
    free(bad);
    CHECK(no_trace(target, &b, image, length), "a refused load left something behind");
    spate_store_close(target);
    target = open_standard();
    CHECK(spate_store_snapshot_load(target, image, length) == 0, "the undamaged image loads");
    char why[256] = "";
    CHECK(same_content(source, target, why, sizeof why), "%s", why);
    free(image);
    buffer_free(&b);
    spate_store_close(target);
    spate_store_close(source);
}

/*
 * Random damage (bit flips, random bytes, interesting numbers, biased to the headers): a load
 * never crashes and either refuses, leaving the store empty, or loads a store that is sound:
 * counts match a scan, every value fits its field, and records apply to it. Content damage that
 * keeps the structure sound (a byte of a value) loads as it is: catching that is the file's CRC.
 * SPATE_SNAPSHOT_FUZZ_ITERATIONS (default 20000), SPATE_SNAPSHOT_FUZZ_SEED (default fixed).
 */
static void test_snapshot_fuzz(void)
{
    const char *iterations_text = getenv("SPATE_SNAPSHOT_FUZZ_ITERATIONS");
    const char *seed_text = getenv("SPATE_SNAPSHOT_FUZZ_SEED");
    const long iterations = iterations_text != NULL ? atol(iterations_text) : 20000;
    const uint64_t seed = seed_text != NULL ? strtoull(seed_text, NULL, 0) : UINT64_C(0xBADC0FFEE);
    buffer b = buffer_new(1 << 18);
    spate_store *source = small_source(&b, seed ^ 0xF1F1, 200);
    uint64_t length;
    uint8_t *image = take_snapshot(source, &length);
    size_t headers[STANDARD_TYPE_COUNT];
    for (size_t t = 0; t < STANDARD_TYPE_COUNT; t++)
    {
        headers[t] = image_type_offset(image, length, g_standard_type_ids[t]);
    }
    g_rng = seed;
    spate_store *target = open_standard();
    long loaded = 0, by_code[16] = {0};
    buffer more = buffer_new(1 << 16);
    for (long iteration = 0; iteration < iterations; iteration++)
    {
        uint8_t *bad = copy_of(image, length);
        const int mutations = 1 + (int)random_below(3);
        for (int m = 0; m < mutations; m++)
        {
            const uint32_t where = random_below(4);
            size_t at = where == 0   ? random_below(IMAGE_HEADER_BYTES)
                        : where == 1 ? headers[random_below(STANDARD_TYPE_COUNT)] + random_below(IMAGE_TYPE_HEADER_BYTES + 24)
                                     : random_below((uint32_t)length);
            at = at < length ? at : length - 1;
            switch (random_below(3))
            {
                case 0:
                    bad[at] ^= (uint8_t)(1u << random_below(8));
                    break;
                case 1:
                    bad[at] = (uint8_t)next_random();
                    break;
                default:
                {
                    static const uint64_t interesting[] = {0, 1, 2, 3, 7, 8, 104, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF,
                                                           UINT64_C(1) << 36, INT64_MAX, UINT64_MAX};
                    const uint64_t value = interesting[random_below(sizeof interesting / sizeof interesting[0])];
                    const size_t width = random_below(2) ? 4 : 8;
                    if (at + width <= length)
                    {
                        memcpy(bad + at, &value, width);
                    }
                    break;
                }
            }
        }
        const int32_t rc = spate_store_snapshot_load(target, bad, length);
        free(bad);
        CHECK(rc == 0 || (rc <= SPATE_ERROR_BAD_SNAPSHOT && rc >= SPATE_ERROR_SNAPSHOT_SCHEMA), "iteration %ld: %d", iteration, rc);
        by_code[-rc]++;
        if (rc != 0)
        {
            CHECK(is_empty(target), "iteration %ld: refused (%d) but not empty", iteration, rc);
            continue;
        }
        loaded++;
        for (size_t t = 0; t < STANDARD_TYPE_COUNT; t++)
        {
            const workload_type *type = &workload_types[t];
            CHECK(scan_live(target, type->type_id) == spate_store_count(target, type->type_id), "iteration %ld: count", iteration);
            uint8_t out[512];
            for (int64_t slot = 1; slot <= high_water(target, type->type_id); slot++)
            {
                const int64_t id = live_id_of(target, type->type_id, slot);
                const int64_t got = id == 0 ? type->row_length : spate_store_get(target, type->type_id, id, out, sizeof out);
                CHECK(got >= type->row_length && got <= 256, "iteration %ld: get %" PRId64, iteration, got);
            }
            uint64_t unused;
            CHECK(spate_store_checksum(target, type->type_id, &unused) == 0, "iteration %ld: checksum", iteration);
        }
        more.length = 0;
        random_records(&more, target, 50, false);
        CHECK(apply(target, &more) == 50, "iteration %ld: apply after the load", iteration);
        spate_store_close(target);
        target = open_standard();
    }
    printf("snapshot fuzz: %ld damaged images (seed 0x%" PRIx64 "): %ld loaded, refused as damaged %ld, truncated %ld, version %ld, "
           "schema %ld\n", iterations, seed, loaded, by_code[-SPATE_ERROR_BAD_SNAPSHOT], by_code[-SPATE_ERROR_SNAPSHOT_TRUNCATED],
           by_code[-SPATE_ERROR_SNAPSHOT_VERSION], by_code[-SPATE_ERROR_SNAPSHOT_SCHEMA]);
    CHECK(no_trace(target, &b, image, length), "after the last refusal");
    free(image);
    buffer_free(&more);
    buffer_free(&b);
    spate_store_close(target);
    spate_store_close(source);
}

static void test_checksum(void)
{
    spate_store *a = open_standard();
    spate_store *b = open_standard();
    uint8_t row[ALL_ROW_BYTES] = {7};
    CHECK(checksum_of(a, T_ALL) == checksum_of(b, T_ALL), "empty stores");
    CHECK(checksum_of(a, T_ALL) != checksum_of(a, T_PATTERN), "the type id counts");

    /* The same values placed differently in the arena: in place in a 32-byte block in a, in an 8-byte block
       in b. Neither the checksum nor the image (values in their smallest blocks, in slot order) shows it. */
    buffer r = buffer_new(4096);
    put_create(&r, 0, T_ALL, &(var_value){F_STRING, "abcdefghijklmnopqrstuvwxyz", 26}, 1, row, ALL_ROW_BYTES);
    put_update(&r, 1, 0, T_ALL, &(var_value){F_STRING, "abc", 3}, 1);
    CHECK(apply(a, &r) == 2, "a");
    r.length = 0;
    put_create(&r, 0, T_ALL, &(var_value){F_STRING, "xy", 2}, 1, row, ALL_ROW_BYTES);
    put_update(&r, 1, 0, T_ALL, &(var_value){F_STRING, "abc", 3}, 1);
    CHECK(apply(b, &r) == 2, "b");
    CHECK(stats_of(a, T_ALL).arena_live_bytes == 32 && stats_of(b, T_ALL).arena_live_bytes == 8, "blocks of 32 and 8 bytes");
    CHECK(checksum_of(a, T_ALL) == checksum_of(b, T_ALL), "arena placement does not count");
    uint64_t length_a, length_b;
    uint8_t *image_a = take_snapshot(a, &length_a);
    uint8_t *image_b = take_snapshot(b, &length_b);
    CHECK(length_a == length_b && memcmp(image_a, image_b, (size_t)length_a) == 0, "nor in the images");
    free(image_a);
    free(image_b);

    /* Each logical difference shows. */
    const uint64_t before = checksum_of(a, T_ALL);
    r.length = 0;
    put_update(&r, 1, 0, T_ALL, &(var_value){F_STRING, "abd", 3}, 1);
    CHECK(apply_one(a, &r, NULL) == SPATE_STATUS_OK && checksum_of(a, T_ALL) != before, "a value byte");
    r.length = 0;
    put_update(&r, 1, 0, T_ALL, &(var_value){F_STRING, "abc", 3}, 1);
    CHECK(apply_one(a, &r, NULL) == SPATE_STATUS_OK && checksum_of(a, T_ALL) == before, "and back");
    r.length = 0;
    put_increment(&r, 1, 256, 0, T_ALL, F_U16);
    CHECK(apply_one(a, &r, NULL) == SPATE_STATUS_OK && checksum_of(a, T_ALL) != before, "a fixed byte");
    r.length = 0;
    put_increment(&r, 1, -256, 0, T_ALL, F_U16);
    CHECK(apply_one(a, &r, NULL) == SPATE_STATUS_OK && checksum_of(a, T_ALL) == before, "and back");
    r.length = 0;
    put_update(&r, 1, 0, T_ALL, &(var_value){F_BYTES, "", 0}, 1);
    CHECK(apply_one(a, &r, NULL) == SPATE_STATUS_OK && checksum_of(a, T_ALL) == before, "an empty value set empty");
    /* "ab" + "" and "a" + "b" in two fields: the lengths keep them apart. */
    r.length = 0;
    put_update(&r, 1, 0, T_ALL, (var_value[]){{F_STRING, "ab", 2}, {F_BYTES, "", 0}}, 2);
    CHECK(apply_one(a, &r, NULL) == SPATE_STATUS_OK, "ab");
    const uint64_t ab = checksum_of(a, T_ALL);
    r.length = 0;
    put_update(&r, 1, 0, T_ALL, (var_value[]){{F_STRING, "a", 1}, {F_BYTES, "b", 1}}, 2);
    CHECK(apply_one(a, &r, NULL) == SPATE_STATUS_OK && checksum_of(a, T_ALL) != ab, "a + b");

    /* Deleted, never live, and where the never-live ids are: all different. */
    spate_store *deleted = open_standard();
    spate_store *never = open_standard();
    spate_store *later = open_standard();
    r.length = 0;
    put_create(&r, 0, T_SMALL, NULL, 0, row, SMALL_ROW_BYTES);
    put_delete(&r, 1, 0, T_SMALL);
    put_create(&r, 0, T_SMALL, NULL, 0, row, SMALL_ROW_BYTES);
    CHECK(apply(deleted, &r) == 3, "deleted");
    r.length = 0;
    put_create(&r, 2, T_SMALL, NULL, 0, row, SMALL_ROW_BYTES);
    CHECK(apply(never, &r) == 1 && g_results[0].status == SPATE_STATUS_OK, "never");
    r.length = 0;
    put_create(&r, 1, T_SMALL, NULL, 0, row, SMALL_ROW_BYTES);
    put_create(&r, 2, T_SMALL, &(var_value){99, "", 0}, 1, row, SMALL_ROW_BYTES);
    CHECK(apply(later, &r) == 2 && high_water(later, T_SMALL) == 2 && spate_store_count(later, T_SMALL) == 1, "later");
    const uint64_t c_deleted = checksum_of(deleted, T_SMALL);
    const uint64_t c_never = checksum_of(never, T_SMALL);
    const uint64_t c_later = checksum_of(later, T_SMALL);
    CHECK(c_deleted != c_never && c_never != c_later && c_deleted != c_later, "deleted, never live, and their order count");

    /* The generation of a live node counts. */
    spate_store *first = open_standard();
    spate_store *second = open_standard();
    r.length = 0;
    put_create(&r, 1, T_SMALL, NULL, 0, row, SMALL_ROW_BYTES);
    CHECK(apply(first, &r) == 1 && g_results[0].status == SPATE_STATUS_OK, "generation 0");
    r.length = 0;
    put_create(&r, 1, T_SMALL, NULL, 0, row, SMALL_ROW_BYTES);
    put_delete(&r, 1, 0, T_SMALL);
    put_create(&r, make_id(8, 1, 1), T_SMALL, NULL, 0, row, SMALL_ROW_BYTES);
    CHECK(apply(second, &r) == 3 && g_results[2].status == SPATE_STATUS_OK, "generation 1");
    CHECK(checksum_of(first, T_SMALL) != checksum_of(second, T_SMALL), "the same row in generation 0 and 1");
    spate_store_close(first);
    spate_store_close(second);

    /* Never-used slots in runs, across rows written (the 2 MiB around a used slot) or not: the same state
       reached in another order, or loaded from an image, has the same checksum; slots consumed by refused
       Creates are not never used (their next generation is 1). */
    spate_store *skipped = open_standard();
    spate_store *backwards = open_standard();
    spate_store *refused = open_standard();
    r.length = 0;
    put_create(&r, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&r, 60000, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    CHECK(apply(skipped, &r) == 2 && g_results[1].status == SPATE_STATUS_OK, "skipped");
    r.length = 0;
    put_create(&r, 60000, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&r, 1, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    CHECK(apply(backwards, &r) == 2 && g_results[1].status == SPATE_STATUS_OK, "backwards");
    CHECK(checksum_of(skipped, T_ALL) == checksum_of(backwards, T_ALL), "never-used runs");
    CHECK(spate_store_reserve(backwards, T_ALL, ALL_MAX_NODES) == 0 && checksum_of(skipped, T_ALL) == checksum_of(backwards, T_ALL),
          "rows committed by reserve");
    r.length = 0;
    put_create(&r, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&r, 3, T_ALL, &(var_value){99, "", 0}, 1, row, ALL_ROW_BYTES);
    put_create(&r, 59999, T_ALL, NULL, 0, row, ALL_ROW_BYTES - 1);
    put_create(&r, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    CHECK(apply(refused, &r) == 4 && g_results[3].node_id == 60000, "refused");
    CHECK(checksum_of(skipped, T_ALL) != checksum_of(refused, T_ALL), "consumed slots are not never used");
    spate_store_close(skipped);
    spate_store_close(backwards);
    spate_store_close(refused);
    spate_store_close(deleted);
    spate_store_close(never);
    spate_store_close(later);
    buffer_free(&r);
    spate_store_close(a);
    spate_store_close(b);
}

/*
 * A type of 2^36 nodes with nodes at slots 1, 2^35 (deleted) and 2^36: the image holds 2 live rows
 * and a freed record (not 1 TiB of rows), and checksums cross the gaps without visiting them.
 */
static void test_snapshot_far_skip(void)
{
    static const schema_field u64_field[] = {{1, io_spate_wire_fieldKind_U64, 0, 8}};
    const schema_type huge_type = {7, SPATE_MAX_NODES_PER_TYPE, 0, 8, u64_field, 1};
    buffer b = buffer_new(1 << 16);
    put_store_schema(&b, SCHEMA_HASH, &huge_type, 1);
    spate_store *source = NULL, *copy = NULL;
    CHECK(spate_store_open(b.data, b.length, &source) == 0 && spate_store_open(b.data, b.length, &copy) == 0, "open");
    const uint64_t values[] = {11, 22, 33};
    const int64_t half = SPATE_MAX_NODES_PER_TYPE / 2;
    b.length = 0;
    put_create(&b, 0, 7, NULL, 0, &values[0], 8);
    put_create(&b, half, 7, NULL, 0, &values[1], 8);
    put_create(&b, SPATE_MAX_NODES_PER_TYPE, 7, NULL, 0, &values[2], 8);
    put_delete(&b, half, 0, 7);
    CHECK(apply(source, &b) == 4 && g_results[3].status == SPATE_STATUS_OK, "setup");
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    uint64_t length;
    uint8_t *image = take_snapshot(source, &length);
    CHECK(length == 32 + 40 + 2 * (8 + 16) + 16, "an image of %" PRIu64 " bytes", length);
    CHECK(spate_store_snapshot_load(copy, image, length) == 0, "load");
    const uint64_t checksum = checksum_of(source, 7);
    CHECK(checksum == checksum_of(copy, 7), "checksums");
    clock_gettime(CLOCK_MONOTONIC, &end);
    const double seconds = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    printf("snapshot far skip: image of %" PRIu64 " bytes for ids up to 2^36, write + load + 2 checksums in %.3f s\n", length, seconds);
    CHECK(high_water(copy, 7) == SPATE_MAX_NODES_PER_TYPE && spate_store_count(copy, 7) == 2, "high water, count");
    uint64_t read_back = 0;
    CHECK(spate_store_get(copy, 7, SPATE_MAX_NODES_PER_TYPE, (uint8_t *)&read_back, 8) == 8 && read_back == 33, "2^36");
    CHECK(spate_store_node_state(copy, 7, half) == SPATE_NODE_GONE && spate_store_node_state(copy, 7, half + 1) == SPATE_NODE_NOT_ISSUED,
          "2^35 deleted, 2^35 + 1 never used");
    CHECK(spate_store_node_state(copy, 7, make_id(37, 1, half)) == SPATE_NODE_NOT_ISSUED, "2^35's next generation");
    int64_t free_ids[2];
    CHECK(spate_store_free_ids(copy, 7, half, free_ids, 2) == 2 && free_ids[0] == make_id(37, 1, half) && free_ids[1] == half + 1,
          "free ids from 2^35");
    CHECK(same_image(copy, image, length), "the copy's image");
    free(image);
    buffer_free(&b);
    spate_store_close(copy);
    spate_store_close(source);
}

/* ------------------------------------------------------------------------------------------ */
/* Slot reuse: generations, stale ids, maxNodes bounding the live nodes                        */
/* ------------------------------------------------------------------------------------------ */

static bool reads_string(spate_store *store, uint16_t type_id, int64_t node_id, uint32_t row_length, uint32_t index, const void *text,
                         uint32_t text_length)
{
    uint8_t out[512];
    const int64_t length = spate_store_get(store, type_id, node_id, out, sizeof out);
    if (length < (int64_t)row_length)
    {
        return false;
    }
    uint32_t value_length;
    const uint8_t *value = get_var(out, length, row_length, index, &value_length);
    return value_length == text_length && memcmp(value, text, text_length) == 0;
}

static void test_slot_reuse(void)
{
    spate_store *store = open_standard();
    buffer b = buffer_new(8192);
    uint8_t row[ALL_ROW_BYTES];
    all_row(row, &(all_values){.u32 = 11});
    const uint32_t bits = stats_of(store, T_ALL).slot_bits;

    put_create(&b, 0, T_ALL, &(var_value){F_STRING, "one", 3}, 1, row, ALL_ROW_BYTES);
    put_create(&b, 0, T_ALL, &(var_value){F_STRING, "two", 3}, 1, row, ALL_ROW_BYTES);
    put_create(&b, 0, T_ALL, &(var_value){F_STRING, "three", 5}, 1, row, ALL_ROW_BYTES);
    put_delete(&b, 2, 0, T_ALL);
    CHECK(apply_all_ok(store, &b), "setup");
    int64_t free_ids[8];
    CHECK(spate_store_free_ids(store, T_ALL, 1, free_ids, 8) == 1 && free_ids[0] == make_id(bits, 1, 2), "slot 2, generation 1");

    /* Delete, then create with the id free_ids gives: the slot again, generation + 1. */
    const int64_t reused = free_ids[0];
    b.length = 0;
    put_create(&b, reused, T_ALL, &(var_value){F_STRING, "two again", 9}, 1, row, ALL_ROW_BYTES);
    int64_t node_id;
    CHECK(apply_one(store, &b, &node_id) == SPATE_STATUS_OK && node_id == reused, "reused: node %" PRId64, node_id);
    CHECK(high_water(store, T_ALL) == 3 && spate_store_count(store, T_ALL) == 3, "no new slot");
    CHECK(spate_store_free_ids(store, T_ALL, 1, free_ids, 8) == 0, "nothing free");
    CHECK(reads_string(store, T_ALL, reused, ALL_ROW_BYTES, 0, "two again", 9), "the new node reads");
    /* The stale id: NO_SUCH_NODE for get, update, increment, delete, GONE; the new node is untouched by them. */
    CHECK(never_live(store, T_ALL, 2, F_U32), "the stale id finds nothing");
    CHECK(spate_store_node_state(store, T_ALL, 2) == SPATE_NODE_GONE, "the stale id is gone");
    CHECK(spate_store_node_state(store, T_ALL, reused) == SPATE_NODE_LIVE, "the new id is live");
    CHECK(reads_string(store, T_ALL, reused, ALL_ROW_BYTES, 0, "two again", 9), "the new node untouched");
    /* Ids of a future generation were never issued. */
    const int64_t future = make_id(bits, 2, 2);
    CHECK(spate_store_node_state(store, T_ALL, future) == SPATE_NODE_NOT_ISSUED && never_live(store, T_ALL, future, F_U32),
          "a future generation");
    CHECK(spate_store_node_state(store, T_ALL, make_id(bits, 5, 50)) == SPATE_NODE_NOT_ISSUED, "a never-used slot's generation 5");
    CHECK(spate_store_node_state(store, T_ALL, make_id(bits, 5, 1)) == SPATE_NODE_NOT_ISSUED, "a live slot's future generation");

    /* Over and over: every earlier id stays gone. */
    int64_t current = reused;
    for (int round = 0; round < 20; round++)
    {
        const int64_t next = current + (INT64_C(1) << bits);
        b.length = 0;
        put_delete(&b, current, 0, T_ALL);
        put_create(&b, next, T_ALL, &(var_value){F_STRING, &next, 8}, 1, row, ALL_ROW_BYTES);
        CHECK(apply(store, &b) == 2 && g_results[0].status == SPATE_STATUS_OK && g_results[1].status == SPATE_STATUS_OK &&
                  g_results[1].node_id == next, "round %d", round);
        current = next;
    }
    for (uint64_t generation = 0; generation < 21; generation++)
    {
        CHECK(spate_store_node_state(store, T_ALL, make_id(bits, generation, 2)) == SPATE_NODE_GONE &&
                  never_live(store, T_ALL, make_id(bits, generation, 2), F_U32),
              "generation %" PRIu64 " gone", generation);
    }
    CHECK(current == make_id(bits, 21, 2) && spate_store_node_state(store, T_ALL, current) == SPATE_NODE_LIVE, "generation 21 live");
    CHECK(reads_string(store, T_ALL, current, ALL_ROW_BYTES, 0, &current, 8), "generation 21 reads");
    CHECK(spate_store_node_state(store, T_ALL, make_id(bits, 22, 2)) == SPATE_NODE_NOT_ISSUED, "generation 22 not issued");
    CHECK(high_water(store, T_ALL) == 3, "still 3 slots");

    /* Explicit ids below the slot's next generation: ID_MISMATCH; a later generation is taken, the ones between are gone. */
    b.length = 0;
    put_delete(&b, current, 0, T_ALL);
    put_create(&b, make_id(bits, 21, 2), T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, 2, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, make_id(bits, 25, 2), T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, make_id(bits, 24, 2), T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    CHECK(apply(store, &b) == 5, "5");
    CHECK(g_results[0].status == SPATE_STATUS_OK, "delete");
    CHECK(g_results[1].status == SPATE_STATUS_ID_MISMATCH && g_results[1].node_id == 0, "the generation just deleted");
    CHECK(g_results[2].status == SPATE_STATUS_ID_MISMATCH && g_results[2].node_id == 0, "generation 0");
    CHECK(g_results[3].status == SPATE_STATUS_OK && g_results[3].node_id == make_id(bits, 25, 2), "generation 25");
    CHECK(g_results[4].status == SPATE_STATUS_ID_MISMATCH && g_results[4].node_id == 0, "generation 24: live slot");
    for (uint64_t generation = 22; generation < 25; generation++)
    {
        CHECK(spate_store_node_state(store, T_ALL, make_id(bits, generation, 2)) == SPATE_NODE_GONE, "skipped generation %" PRIu64, generation);
    }
    b.length = 0;
    put_delete(&b, make_id(bits, 25, 2), 0, T_ALL);
    CHECK(apply_one(store, &b, NULL) == SPATE_STATUS_OK, "delete 25");
    CHECK(spate_store_free_ids(store, T_ALL, 1, free_ids, 8) == 1 && free_ids[0] == make_id(bits, 26, 2), "free: generation 26");

    /* A Create that passes the id checks consumes its id even when it fails (ARENA_FULL, UNKNOWN_FIELD). */
    int64_t small_ids[4];
    b.length = 0;
    put_create(&b, 0, T_SMALL, &(var_value){S_STRING, "0123456789ABCDEF", 16}, 1, (uint32_t[]){1}, SMALL_ROW_BYTES);
    put_create(&b, 0, T_SMALL, &(var_value){S_STRING, "x", 1}, 1, (uint32_t[]){2}, SMALL_ROW_BYTES);
    put_create(&b, make_id(8, 1, 2), T_SMALL, &(var_value){S_STRING, "y", 1}, 1, (uint32_t[]){2}, SMALL_ROW_BYTES);
    put_create(&b, make_id(8, 1, 2), T_SMALL, NULL, 0, (uint32_t[]){2}, SMALL_ROW_BYTES);
    put_create(&b, make_id(8, 2, 2), T_SMALL, &(var_value){99, "y", 1}, 1, (uint32_t[]){2}, SMALL_ROW_BYTES);
    CHECK(apply(store, &b) == 5, "5");
    CHECK(g_results[0].status == SPATE_STATUS_OK && g_results[0].node_id == 1, "the arena full");
    CHECK(g_results[1].status == SPATE_STATUS_ARENA_FULL && g_results[1].node_id == 2, "ARENA_FULL consumes 2");
    CHECK(g_results[2].status == SPATE_STATUS_ARENA_FULL && g_results[2].node_id == make_id(8, 1, 2), "and generation 1");
    CHECK(g_results[3].status == SPATE_STATUS_ID_MISMATCH && g_results[3].node_id == 0, "generation 1 was consumed");
    CHECK(g_results[4].status == SPATE_STATUS_UNKNOWN_FIELD && g_results[4].node_id == make_id(8, 2, 2), "UNKNOWN_FIELD consumes 2.2");
    for (uint64_t generation = 0; generation < 3; generation++)
    {
        CHECK(spate_store_node_state(store, T_SMALL, make_id(8, generation, 2)) == SPATE_NODE_GONE &&
                  never_live(store, T_SMALL, make_id(8, generation, 2), S_U32),
              "small slot 2 generation %" PRIu64 " gone", generation);
    }
    CHECK(spate_store_free_ids(store, T_SMALL, 1, small_ids, 4) == 1 && small_ids[0] == make_id(8, 3, 2), "small: generation 3 free");
    b.length = 0;
    put_delete(&b, 1, 0, T_SMALL);
    put_create(&b, make_id(8, 3, 2), T_SMALL, &(var_value){S_STRING, "y", 1}, 1, (uint32_t[]){2}, SMALL_ROW_BYTES);
    CHECK(apply_all_ok(store, &b) && reads_string(store, T_SMALL, make_id(8, 3, 2), SMALL_ROW_BYTES, 0, "y", 1),
          "room again: generation 3 created");
    CHECK(spate_store_free_ids(store, T_SMALL, 1, small_ids, 4) == 1 && small_ids[0] == make_id(8, 1, 1), "small: slot 1 free");
    buffer_free(&b);
    spate_store_close(store);

    /*
     * maxNodes bounds live nodes, not creates: 100 x maxNodes creates and deletes in random order on a type
     * of 16 nodes. A create succeeds exactly while fewer than 16 are live and is refused (TYPE_FULL,
     * nothing consumed) at 16; taking a free id whenever there is one, no slot past the peak live count is used.
     */
    enum
    {
        T_CHURN = 11,
        CHURN_MAX_NODES = 16,
    };
    static const schema_field churn_fields[] = {{1, io_spate_wire_fieldKind_U64, 0, 8}, {2, io_spate_wire_fieldKind_STRING, 0, 32}};
    const schema_type churn_type = {T_CHURN, CHURN_MAX_NODES, 4096, 8, churn_fields, 2};
    b = buffer_new(1 << 16);
    put_store_schema(&b, SCHEMA_HASH, &churn_type, 1);
    CHECK(spate_store_open(b.data, b.length, &store) == 0, "open the churn type");
    const spate_type_stats churn_stats = stats_of(store, T_CHURN);
    CHECK(churn_stats.slot_limit == CHURN_MAX_NODES + 1 && churn_stats.slot_bits == 8, "slots 1..17");
    int64_t live_ids[CHURN_MAX_NODES];
    int live = 0, peak = 0;
    long creates = 0, refused = 0;
    g_rng = UINT64_C(0xC4021);
    while (creates < 100 * CHURN_MAX_NODES)
    {
        b.length = 0;
        if (live > 0 && random_below(10) >= 6)
        {
            const uint32_t k = random_below((uint32_t)live);
            put_delete(&b, live_ids[k], 0, T_CHURN);
            CHECK(apply_one(store, &b, &node_id) == SPATE_STATUS_OK && node_id == live_ids[k], "delete %" PRId64, live_ids[k]);
            live_ids[k] = live_ids[--live];
            continue;
        }
        int64_t id = 0;
        const int64_t free_count = spate_store_free_ids(store, T_CHURN, 1, &id, 1);
        REQUIRE(free_count >= 0);
        const int64_t expected = free_count == 1 ? id : high_water(store, T_CHURN) + 1;
        const uint64_t checksum_before = checksum_of(store, T_CHURN);
        const uint64_t u64 = (uint64_t)expected;
        put_create(&b, id, T_CHURN, &(var_value){2, &u64, 8}, 1, &u64, 8);
        const uint8_t status = apply_one(store, &b, &node_id);
        creates++;
        if (live == CHURN_MAX_NODES)
        {
            CHECK(status == SPATE_STATUS_TYPE_FULL && node_id == 0 && checksum_of(store, T_CHURN) == checksum_before,
                  "create %ld with %d live: %s node %" PRId64, creates, live, status_name(status), node_id);
            refused++;
            continue;
        }
        CHECK(status == SPATE_STATUS_OK && node_id == expected, "create %ld with %d live: %s node %" PRId64 ", expected %" PRId64,
              creates, live, status_name(status), node_id, expected);
        live_ids[live++] = node_id;
        peak = live > peak ? live : peak;
        CHECK(high_water(store, T_CHURN) <= peak, "high water %" PRId64 " above the peak %d", high_water(store, T_CHURN), peak);
    }
    CHECK(spate_store_count(store, T_CHURN) == live && scan_live(store, T_CHURN) == live, "count");
    for (int k = 0; k < live; k++)
    {
        const uint64_t u64 = (uint64_t)live_ids[k];
        CHECK(reads_string(store, T_CHURN, live_ids[k], 8, 0, &u64, 8), "node %" PRId64 " reads its own value", live_ids[k]);
    }
    CHECK(refused > 0, "maxNodes was reached");
    printf("slot reuse: %ld creates and deletes on a type of %d nodes (%ld refused at maxNodes) used %" PRId64
           " slots, peak %d live\n", creates, CHURN_MAX_NODES, refused, high_water(store, T_CHURN), peak);
    buffer_free(&b);
    spate_store_close(store);
}

/* ------------------------------------------------------------------------------------------ */
/* Retirement: a slot whose generations are used up                                            */
/* ------------------------------------------------------------------------------------------ */

/* Loads image into a fresh standard store; the store, or NULL with *rc_out set when refused (the refused store checked empty). */
static spate_store *load_fresh(const uint8_t *image, uint64_t length, int32_t *rc_out)
{
    spate_store *store = open_standard();
    uint8_t *copy = copy_of(image, length);
    *rc_out = spate_store_snapshot_load(store, copy, length);
    free(copy);
    if (*rc_out != 0)
    {
        REQUIRE(is_empty(store));
        spate_store_close(store);
        return NULL;
    }
    return store;
}

/*
 * No test hook reaches the last generation of a slot (2^55 - 1 on T_SMALL): an image does, with a
 * freed slot's next generation patched to it. The Create of that id and its Delete (or a failed
 * Create of it) retire the slot for good; images carry it as next generation largest + 1.
 */
static void test_retirement(void)
{
    spate_store *source = open_standard();
    buffer b = buffer_new(8192);
    const uint32_t bits = stats_of(source, T_SMALL).slot_bits;
    const uint64_t largest = max_generation_of(bits);
    CHECK(bits == 8 && largest == (UINT64_C(1) << 55) - 1, "T_SMALL: 8 slot bits, generations 0..2^55 - 1");
    put_create(&b, 0, T_SMALL, &(var_value){S_STRING, "a", 1}, 1, (uint32_t[]){1}, SMALL_ROW_BYTES);
    put_create(&b, 0, T_SMALL, &(var_value){S_STRING, "b", 1}, 1, (uint32_t[]){2}, SMALL_ROW_BYTES);
    put_create(&b, 0, T_SMALL, NULL, 0, (uint32_t[]){3}, SMALL_ROW_BYTES); /* 16 arena bytes: two 8-byte blocks */
    put_delete(&b, 2, 0, T_SMALL);
    put_delete(&b, 3, 0, T_SMALL);
    CHECK(apply_all_ok(source, &b), "setup");
    uint64_t length;
    uint8_t *image = take_snapshot(source, &length);
    const image_parts parts = image_parts_of(image, length, T_SMALL);
    const size_t freed_2 = image_freed_offset(image, length, T_SMALL, 2);
    const size_t freed_3 = image_freed_offset(image, length, T_SMALL, 3);
    const size_t live_1 = image_row_offset(image, length, T_SMALL, 1);
    REQUIRE(parts.live == 1 && parts.freed == 2 && freed_2 != 0 && freed_3 == freed_2 + 16 && live_1 != 0);
    REQUIRE(read_u64(image + freed_2 + 8) == 1 && read_u64(image + live_1) == 1);

    /* Slots 2 and 3 at their last generation. */
    uint8_t *patched = copy_of(image, length);
    write_u64(patched + freed_2 + 8, largest);
    write_u64(patched + freed_3 + 8, largest);
    int32_t rc;
    spate_store *store = load_fresh(patched, length, &rc);
    CHECK(store != NULL, "an image with a slot at its last generation loads: %d", rc);
    const int64_t last_2 = make_id(bits, largest, 2), last_3 = make_id(bits, largest, 3);
    CHECK(last_2 == INT64_MAX - 255 + 2, "the largest id of slot 2: %" PRId64, last_2);
    int64_t free_ids[4];
    CHECK(spate_store_free_ids(store, T_SMALL, 1, free_ids, 4) == 2 && free_ids[0] == last_2 && free_ids[1] == last_3, "free ids");
    CHECK(spate_store_node_state(store, T_SMALL, last_2) == SPATE_NODE_NOT_ISSUED &&
              spate_store_node_state(store, T_SMALL, last_2 - 256) == SPATE_NODE_GONE &&
              spate_store_node_state(store, T_SMALL, 2) == SPATE_NODE_GONE,
          "generations below the last are gone");
    CHECK(stats_of(store, T_SMALL).retired_slots == 0, "none retired yet");

    /* The last generation is taken like any other; deleting it retires the slot. */
    b.length = 0;
    put_create(&b, last_2, T_SMALL, &(var_value){S_STRING, "z", 1}, 1, (uint32_t[]){9}, SMALL_ROW_BYTES);
    int64_t node_id;
    CHECK(apply_one(store, &b, &node_id) == SPATE_STATUS_OK && node_id == last_2, "create the last generation");
    CHECK(reads_string(store, T_SMALL, last_2, SMALL_ROW_BYTES, 0, "z", 1), "it reads");
    CHECK(stats_of(store, T_SMALL).retired_slots == 0, "live, not retired");
    b.length = 0;
    put_delete(&b, last_2, 0, T_SMALL);
    CHECK(apply_one(store, &b, &node_id) == SPATE_STATUS_OK && node_id == last_2, "delete it");
    spate_type_stats stats = stats_of(store, T_SMALL);
    CHECK(stats.retired_slots == 1 && stats.free_slots == 2 && stats.live_nodes == 1, "slot 2 retired");
    CHECK(spate_store_free_ids(store, T_SMALL, 1, free_ids, 4) == 1 && free_ids[0] == last_3, "free ids no longer list slot 2");
    CHECK(spate_store_node_state(store, T_SMALL, last_2) == SPATE_NODE_GONE && never_live(store, T_SMALL, last_2, S_U32),
          "the last id is gone");
    /* No id of slot 2 can be created: each generation is below the next (largest + 1), which does not fit an id. */
    const int64_t beyond = (int64_t)((largest + 1) << bits | 2); /* wraps to a negative id */
    b.length = 0;
    put_create(&b, last_2, T_SMALL, NULL, 0, (uint32_t[]){9}, SMALL_ROW_BYTES);
    put_create(&b, 2, T_SMALL, NULL, 0, (uint32_t[]){9}, SMALL_ROW_BYTES);
    put_create(&b, last_2 - 256 * 12345, T_SMALL, NULL, 0, (uint32_t[]){9}, SMALL_ROW_BYTES);
    put_create(&b, beyond, T_SMALL, NULL, 0, (uint32_t[]){9}, SMALL_ROW_BYTES);
    CHECK(beyond < 0 && apply(store, &b) == 4, "4");
    for (int i = 0; i < 4; i++)
    {
        CHECK(g_results[i].status == SPATE_STATUS_ID_MISMATCH && g_results[i].node_id == 0, "slot 2, create %d: %s", i,
              status_name(g_results[i].status));
    }
    /* A failed Create of a last generation consumes it: retired too. */
    b.length = 0;
    put_create(&b, last_3, T_SMALL, &(var_value){99, "x", 1}, 1, (uint32_t[]){9}, SMALL_ROW_BYTES);
    CHECK(apply_one(store, &b, &node_id) == SPATE_STATUS_UNKNOWN_FIELD && node_id == last_3, "a failed create of the last id");
    stats = stats_of(store, T_SMALL);
    CHECK(stats.retired_slots == 2 && spate_store_free_ids(store, T_SMALL, 1, free_ids, 4) == 0, "slot 3 retired, nothing free");
    /* nodeId 0 goes on with never-used slots; the retired ones are never handed out again. */
    b.length = 0;
    put_create(&b, 0, T_SMALL, NULL, 0, (uint32_t[]){4}, SMALL_ROW_BYTES);
    put_create(&b, 0, T_SMALL, NULL, 0, (uint32_t[]){5}, SMALL_ROW_BYTES);
    CHECK(apply(store, &b) == 2 && g_results[0].status == SPATE_STATUS_OK && g_results[0].node_id == 4 &&
              g_results[1].status == SPATE_STATUS_TYPE_FULL && g_results[1].node_id == 0,
          "slot 4, then no slot left (2 live of 3)");
    CHECK(checksum_of(store, T_SMALL) == reference_checksum(store, T_SMALL, SMALL_ROW_BYTES, 1), "the checksum counts retired slots");

    /* Retired slots survive an image: next generation largest + 1. */
    uint64_t retired_length;
    uint8_t *retired_image = take_snapshot(store, &retired_length);
    CHECK(read_u64(retired_image + image_freed_offset(retired_image, retired_length, T_SMALL, 2) + 8) == largest + 1 &&
              read_u64(retired_image + image_freed_offset(retired_image, retired_length, T_SMALL, 3) + 8) == largest + 1,
          "the image has largest + 1");
    spate_store *copy = load_fresh(retired_image, retired_length, &rc);
    CHECK(copy != NULL, "load: %d", rc);
    char why[256] = "";
    CHECK(same_content(store, copy, why, sizeof why), "the copy: %s", why);
    CHECK(stats_of(copy, T_SMALL).retired_slots == 2 && same_image(copy, retired_image, retired_length), "retired in the copy");
    spate_store_close(copy);
    free(retired_image);
    spate_store_close(store);

    /* A live row at the last generation loads; deleting it retires its slot. */
    memcpy(patched, image, length);
    write_u64(patched + live_1, 1 | largest << 8);
    store = load_fresh(patched, length, &rc);
    CHECK(store != NULL, "a live row at the last generation: %d", rc);
    const int64_t last_1 = make_id(bits, largest, 1);
    CHECK(spate_store_node_state(store, T_SMALL, last_1) == SPATE_NODE_LIVE && reads_string(store, T_SMALL, last_1, SMALL_ROW_BYTES, 0, "a", 1),
          "it reads");
    b.length = 0;
    put_delete(&b, last_1, 0, T_SMALL);
    CHECK(apply_one(store, &b, NULL) == SPATE_STATUS_OK && stats_of(store, T_SMALL).retired_slots == 1, "deleted: retired");
    spate_store_close(store);

    /* What the store could not have written: refused, nothing left behind. */
    const struct
    {
        const char *what;
        size_t at;
        uint64_t value;
    } cases[] = {
        {"a next generation of 0", freed_2 + 8, 0},
        {"a next generation above the largest + 1", freed_2 + 8, largest + 2},
        {"a next generation of 2^64 - 1", freed_3 + 8, UINT64_MAX},
        {"a freed slot that is live", freed_2, 1},
        {"a freed slot twice", freed_3, 2},
        {"a freed slot 0", freed_2, 0},
        {"a freed slot above the high water", freed_3, 4},
        {"a freed slot far above", freed_3, UINT64_C(1) << 40},
        {"a live generation above the largest", live_1, 1 | (largest + 1) << 8},
        {"a live row that is free", live_1, 2 << 8},
        {"a live slot that is freed too", live_1 - 8, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
        memcpy(patched, image, length);
        write_u64(patched + cases[i].at, cases[i].value);
        CHECK(load_fresh(patched, length, &rc) == NULL && rc == SPATE_ERROR_BAD_SNAPSHOT, "%s: %d", cases[i].what, rc);
    }
    memcpy(patched, image, length);
    write_u64(patched + freed_2, 3);
    write_u64(patched + freed_3, 2);
    CHECK(load_fresh(patched, length, &rc) == NULL && rc == SPATE_ERROR_BAD_SNAPSHOT, "freed slots out of order: %d", rc);
    memcpy(patched, image, length);
    write_u64(patched + freed_2 + 8, largest + 1);
    store = load_fresh(patched, length, &rc);
    CHECK(store != NULL && stats_of(store, T_SMALL).retired_slots == 1, "an image with a retired slot loads: %d", rc);
    spate_store_close(store);
    free(patched);
    free(image);
    buffer_free(&b);
    spate_store_close(source);
}

/* ------------------------------------------------------------------------------------------ */
/* Arena: free lists, compaction, ARENA_FULL                                                   */
/* ------------------------------------------------------------------------------------------ */

/* The live values' smallest blocks, as the snapshot length shows them (the image holds them compacted). */
static uint64_t tight_bytes_of(spate_store *store, uint16_t type_id)
{
    const spate_type_stats stats = stats_of(store, type_id);
    int64_t freed = 0;
    for (int64_t slot = 1; slot <= stats.high_water_slot; slot++)
    {
        bool live;
        freed += slot_generation(store, type_id, stats.slot_bits, slot, &live) != 0 && !live ? 1 : 0;
    }
    const int64_t length = spate_store_snapshot_length(store);
    REQUIRE(length >= 0);
    return (uint64_t)length - IMAGE_HEADER_BYTES - IMAGE_TYPE_HEADER_BYTES - (uint64_t)stats.live_nodes * (8 + stats.row_stride_bytes) -
           (uint64_t)freed * IMAGE_FREED_RECORD_BYTES;
}

static bool arena_sums_add_up(spate_store *store, uint16_t type_id)
{
    const spate_type_stats stats = stats_of(store, type_id);
    return stats.arena_live_bytes + stats.arena_free_bytes == stats.arena_reserved_bytes &&
           stats.arena_reserved_bytes <= stats.arena_capacity_bytes && stats.arena_live_bytes >= tight_bytes_of(store, type_id);
}

/* A type of one u64 (offset 0) and string/bytes fields 2.. of the given maximum lengths; opened alone. */
static spate_store *open_arena_type(uint16_t type_id, int64_t max_nodes, int64_t arena_bytes, const uint32_t *max_lengths, uint16_t var_count)
{
    schema_field fields[8];
    REQUIRE(var_count < 8);
    fields[0] = (schema_field){1, io_spate_wire_fieldKind_U64, 0, 8};
    for (uint16_t v = 0; v < var_count; v++)
    {
        fields[v + 1] = (schema_field){(uint16_t)(2 + v), v % 2 == 0 ? io_spate_wire_fieldKind_STRING : io_spate_wire_fieldKind_BYTES, 0,
                                       max_lengths[v]};
    }
    const schema_type type = {type_id, max_nodes, arena_bytes, 8, fields, (uint16_t)(var_count + 1)};
    buffer b = buffer_new(4096);
    put_store_schema(&b, SCHEMA_HASH, &type, 1);
    spate_store *store = NULL;
    REQUIRE(spate_store_open(b.data, b.length, &store) == 0);
    buffer_free(&b);
    return store;
}

/* A value's bytes, made from the node's id, its field and a salt: any other node's or version's bytes differ. */
static void value_bytes(uint8_t *out, uint32_t length, int64_t node_id, uint32_t field, uint32_t salt)
{
    uint64_t state = (uint64_t)node_id * UINT64_C(0x9E3779B97F4A7C15) ^ (uint64_t)field << 56 ^ (uint64_t)salt << 32;
    for (uint32_t i = 0; i < length; i++)
    {
        state = state * 6364136223846793005u + 1442695040888963407u;
        out[i] = (uint8_t)(state >> 56);
    }
}

/* What a test expects a node of an arena type to hold: per var field a length and a salt. */
typedef struct arena_node
{
    int64_t node_id;
    uint32_t length[3];
    uint32_t salt[3];
} arena_node;

static bool arena_node_intact(spate_store *store, uint16_t type_id, const arena_node *node, uint16_t var_count)
{
    uint8_t out[4096], expected[2048];
    const int64_t length = spate_store_get(store, type_id, node->node_id, out, sizeof out);
    uint64_t u64;
    if (length < 8 || (memcpy(&u64, out, 8), u64 != (uint64_t)node->node_id))
    {
        return false;
    }
    for (uint16_t v = 0; v < var_count; v++)
    {
        uint32_t value_length;
        const uint8_t *value = get_var(out, length, 8, v, &value_length);
        value_bytes(expected, node->length[v], node->node_id, v, node->salt[v]);
        if (value_length != node->length[v] || memcmp(value, expected, value_length) != 0)
        {
            return false;
        }
    }
    return true;
}

/* Appends a Create (id 0: the store chooses; the caller says which) or an Update of the node's values as it says. */
static void put_arena_node(buffer *b, uint16_t type_id, int64_t create_id, const arena_node *node, uint16_t var_count, bool create,
                           const bool *send)
{
    static uint8_t values[3][2048];
    var_value fields[3];
    uint16_t count = 0;
    for (uint16_t v = 0; v < var_count; v++)
    {
        if (send == NULL || send[v])
        {
            REQUIRE(node->length[v] <= sizeof values[v]);
            value_bytes(values[v], node->length[v], node->node_id, v, node->salt[v]);
            fields[count++] = (var_value){(uint16_t)(2 + v), values[v], node->length[v]};
        }
    }
    const uint64_t u64 = (uint64_t)node->node_id;
    if (create)
    {
        put_create(b, create_id, type_id, fields, count, &u64, 8);
    }
    else
    {
        put_update(b, node->node_id, 0, type_id, fields, count);
    }
}

static uint8_t apply_arena_node(spate_store *store, uint16_t type_id, arena_node *node, uint16_t var_count, bool create)
{
    buffer b = buffer_new(8192);
    put_arena_node(&b, type_id, node->node_id, node, var_count, create, NULL);
    int64_t node_id;
    const uint8_t status = apply_one(store, &b, &node_id);
    REQUIRE(status != SPATE_STATUS_OK || node_id == node->node_id);
    buffer_free(&b);
    return status;
}

/*
 * Churn: a steady set of live nodes, each round one deleted and one created in its slot (the id
 * free_ids gives), and a random node's values replaced by longer ones (moved to a larger block),
 * the longest shrunk again in place. The arena must not grow with the number of rounds: its
 * reserved bytes level off within a small multiple of the bytes the live values hold. (Blocks
 * are not split or merged and a compaction runs only when the arena is full, so the multiple is
 * set by the mix of sizes: values shrunk in place keep their blocks, free blocks wait for their
 * class. With this mix, reserved levels off at about 2.5x the blocks held and 4-5x the values
 * in their smallest blocks.)
 */
static void test_arena_churn(void)
{
    enum
    {
        T_ARENA = 12,
        LIVE = 64,
        ROUNDS = 20000,
    };
    const uint32_t max_lengths[] = {1024, 300};
    spate_store *store = open_arena_type(T_ARENA, 256, 1 << 20, max_lengths, 2);
    arena_node nodes[LIVE];
    g_rng = UINT64_C(0xA4E7A);
    buffer b = buffer_new(1 << 16);
    for (int k = 0; k < LIVE; k++)
    {
        nodes[k] = (arena_node){.node_id = k + 1, .length = {1 + random_below(200), random_below(301)}, .salt = {0, 0}};
        CHECK(apply_arena_node(store, T_ARENA, &nodes[k], 2, true) == SPATE_STATUS_OK, "create %d", k);
    }
    const uint32_t bits = stats_of(store, T_ARENA).slot_bits;
    uint64_t peak_reserved = 0, peak_held = 0, peak_values = 0, reserved_at_tenth = 0;
    for (int round = 0; round < ROUNDS; round++)
    {
        b.length = 0;
        const uint32_t k = random_below(LIVE);
        put_delete(&b, nodes[k].node_id, 0, T_ARENA);
        int64_t unused_id;
        REQUIRE(spate_store_free_ids(store, T_ARENA, 1, &unused_id, 1) == 0); /* nothing free before the delete */
        nodes[k].node_id += INT64_C(1) << bits; /* the slot's next generation */
        nodes[k].length[0] = 1 + random_below(200);
        nodes[k].length[1] = random_below(301);
        nodes[k].salt[0] = nodes[k].salt[1] = (uint32_t)round;
        put_arena_node(&b, T_ARENA, nodes[k].node_id, &nodes[k], 2, true, NULL);
        const uint32_t j = random_below(LIVE);
        if (j != k)
        {
            nodes[j].length[0] = nodes[j].length[0] + 1 + random_below(1024 - nodes[j].length[0]);
            nodes[j].length[1] = nodes[j].length[1] < 300 ? nodes[j].length[1] + 1 : 0;
            nodes[j].salt[0] = nodes[j].salt[1] = (uint32_t)round + 1000000;
            put_arena_node(&b, T_ARENA, 0, &nodes[j], 2, false, NULL);
            if (nodes[j].length[0] > 600)
            {
                nodes[j].length[0] = random_below(20); /* and back down, in place */
                put_arena_node(&b, T_ARENA, 0, &nodes[j], 2, false, (const bool[]){true, false});
            }
        }
        const int64_t n = apply(store, &b);
        for (int64_t i = 0; i < n; i++)
        {
            CHECK(g_results[i].status == SPATE_STATUS_OK, "round %d record %" PRId64 ": %s", round, i, status_name(g_results[i].status));
        }
        CHECK(g_results[1].node_id == nodes[k].node_id, "round %d: the slot's next generation", round);
        const spate_type_stats stats = stats_of(store, T_ARENA);
        peak_reserved = stats.arena_reserved_bytes > peak_reserved ? stats.arena_reserved_bytes : peak_reserved;
        uint64_t values_bytes = 0; /* the live values in their smallest blocks */
        for (int v = 0; v < LIVE; v++)
        {
            values_bytes += block_bytes(nodes[v].length[0]) + block_bytes(nodes[v].length[1]);
        }
        peak_values = values_bytes > peak_values ? values_bytes : peak_values;
        peak_held = stats.arena_live_bytes > peak_held ? stats.arena_live_bytes : peak_held;
        if (round == ROUNDS / 10)
        {
            reserved_at_tenth = stats.arena_reserved_bytes;
        }
        if (round % 1000 == 0)
        {
            CHECK(arena_sums_add_up(store, T_ARENA), "round %d: live + free = reserved", round);
        }
    }
    const spate_type_stats stats = stats_of(store, T_ARENA);
    for (int k = 0; k < LIVE; k++)
    {
        CHECK(arena_node_intact(store, T_ARENA, &nodes[k], 2), "node %" PRId64 " intact", nodes[k].node_id);
    }
    CHECK(stats.high_water_slot == LIVE && stats.live_nodes == LIVE, "no slot past the live set: %" PRId64, stats.high_water_slot);
    printf("arena churn: %d rounds over %d live nodes: arena reserved %" PRIu64 " bytes at its peak (%" PRIu64 " after a tenth, %" PRIu64
           " at the end); at their peaks the live values held %" PRIu64 " bytes, %" PRIu64 " in their smallest blocks\n", ROUNDS, LIVE,
           peak_reserved, reserved_at_tenth, stats.arena_reserved_bytes, peak_held, peak_values);
    CHECK(peak_reserved <= 3 * peak_held && peak_reserved <= 5 * peak_values,
          "the arena grew with the churn: %" PRIu64 " bytes reserved for %" PRIu64 " held", peak_reserved, peak_held);
    CHECK(stats.arena_reserved_bytes <= reserved_at_tenth + reserved_at_tenth / 4, "the arena kept growing after a tenth of the rounds");
    buffer_free(&b);
    spate_store_close(store);
}

/*
 * Drift: a steady set of live nodes whose value sizes creep up over the run (each round one node is
 * deleted and recreated in its slot with a value a little longer than the average before), so freed
 * blocks are of classes no later request asks for. The arena must still not grow past about twice
 * its live values (in their smallest blocks) plus the compaction minimum: when the free blocks
 * outweigh the live values it compacts before it grows.
 */
static void test_arena_drift(void)
{
    enum
    {
        T_DRIFT = 13,
        LIVE = 256,
        ROUNDS = 40000,
        MAX_LENGTH = 2000,
    };
    const uint32_t max_lengths[] = {MAX_LENGTH};
    spate_store *store = open_arena_type(T_DRIFT, 2 * LIVE, 64 << 20, max_lengths, 1);
    arena_node nodes[LIVE];
    g_rng = UINT64_C(0xD81F7);
    for (int k = 0; k < LIVE; k++)
    {
        nodes[k] = (arena_node){.node_id = k + 1, .length = {1 + random_below(8)}, .salt = {0}};
        CHECK(apply_arena_node(store, T_DRIFT, &nodes[k], 1, true) == SPATE_STATUS_OK, "create %d", k);
    }
    const uint32_t bits = stats_of(store, T_DRIFT).slot_bits;
    buffer b = buffer_new(1 << 14);
    uint64_t peak_over = 0, compactions = 0;
    for (int round = 0; round < ROUNDS; round++)
    {
        const uint32_t k = random_below(LIVE);
        b.length = 0;
        put_delete(&b, nodes[k].node_id, 0, T_DRIFT);
        nodes[k].node_id += INT64_C(1) << bits;
        const uint32_t base = 1 + (uint32_t)((uint64_t)round * (MAX_LENGTH - 64) / ROUNDS);
        nodes[k].length[0] = base + random_below(64);
        nodes[k].salt[0] = (uint32_t)round;
        put_arena_node(&b, T_DRIFT, nodes[k].node_id, &nodes[k], 1, true, NULL);
        const int64_t n = apply(store, &b);
        CHECK(n == 2 && g_results[0].status == SPATE_STATUS_OK && g_results[1].status == SPATE_STATUS_OK,
              "round %d: %s %s", round, status_name(g_results[0].status), status_name(g_results[1].status));
        const spate_type_stats stats = stats_of(store, T_DRIFT);
        uint64_t values_bytes = 0;
        for (int v = 0; v < LIVE; v++)
        {
            values_bytes += block_bytes(nodes[v].length[0]);
        }
        /* Twice the values, the compaction minimum and one record's block of slack. */
        const uint64_t bound = 2 * values_bytes + 256 * 1024 + 2048;
        peak_over = stats.arena_reserved_bytes > bound && stats.arena_reserved_bytes - bound > peak_over ?
            stats.arena_reserved_bytes - bound : peak_over;
        compactions = stats.arena_compactions;
    }
    for (int k = 0; k < LIVE; k++)
    {
        CHECK(arena_node_intact(store, T_DRIFT, &nodes[k], 1), "node %" PRId64 " intact", nodes[k].node_id);
    }
    const spate_type_stats stats = stats_of(store, T_DRIFT);
    printf("arena drift: %d rounds, values up to %d bytes: %" PRIu64 " bytes reserved at the end, %" PRIu64
           " live, %" PRIu64 " compactions\n", ROUNDS, MAX_LENGTH, stats.arena_reserved_bytes, stats.arena_live_bytes,
           compactions);
    CHECK(peak_over == 0, "the arena grew %" PRIu64 " bytes past twice its live values", peak_over);
    CHECK(compactions > 0, "the drift made the arena compact");
    buffer_free(&b);
    spate_store_close(store);
}

/*
 * Fragmentation: small values fill the arena, every other one is deleted, then values of a larger
 * class are created. No free block fits them and the top is full, so the arena is compacted, and
 * they are all created while the live values fit; ARENA_FULL comes exactly when a record's new
 * blocks do not fit beside the live values in their smallest blocks.
 */
static void test_arena_compaction(void)
{
    enum
    {
        T_FRAG = 13,
        ARENA = 4096,
        FILL = ARENA / 8,
    };
    const uint32_t max_lengths[] = {256};
    spate_store *store = open_arena_type(T_FRAG, 2048, ARENA, max_lengths, 1);
    static arena_node nodes[2048];
    int count = 0;
    for (; count < FILL; count++)
    {
        nodes[count] = (arena_node){.node_id = count + 1, .length = {1 + (uint32_t)count % 8}};
        CHECK(apply_arena_node(store, T_FRAG, &nodes[count], 1, true) == SPATE_STATUS_OK, "fill %d", count);
    }
    spate_type_stats stats = stats_of(store, T_FRAG);
    CHECK(stats.arena_reserved_bytes == ARENA && stats.arena_live_bytes == ARENA && stats.arena_free_bytes == 0, "full");
    arena_node extra = {.node_id = FILL + 1, .length = {1}};
    CHECK(apply_arena_node(store, T_FRAG, &extra, 1, true) == SPATE_STATUS_ARENA_FULL, "one more 8-byte block does not fit");
    buffer b = buffer_new(1 << 16);
    for (int k = 0; k < FILL; k += 2)
    {
        put_delete(&b, nodes[k].node_id, 0, T_FRAG);
        nodes[k].node_id = 0;
    }
    CHECK(apply_all_ok(store, &b), "delete every other");
    stats = stats_of(store, T_FRAG);
    CHECK(stats.arena_free_bytes == ARENA / 2 && stats.arena_live_bytes == ARENA / 2 && stats.arena_compactions == 0, "half free, in 8-byte blocks");

    /* 16-byte values: no 16-byte block free, none larger, the top full: one compaction, then the top. */
    int64_t next_slot = FILL + 2; /* FILL + 1 was consumed by the ARENA_FULL */
    for (int i = 0; i < ARENA / 2 / 16; i++)
    {
        nodes[count] = (arena_node){.node_id = next_slot++, .length = {9 + (uint32_t)i % 8}};
        const uint8_t status = apply_arena_node(store, T_FRAG, &nodes[count], 1, true);
        CHECK(status == SPATE_STATUS_OK, "16-byte value %d: %s", i, status_name(status));
        count++;
        CHECK(stats_of(store, T_FRAG).arena_compactions == 1, "value %d: one compaction", i);
    }
    for (int k = 0; k < count; k++)
    {
        CHECK(nodes[k].node_id == 0 || arena_node_intact(store, T_FRAG, &nodes[k], 1), "node %" PRId64 " intact after the compaction",
              nodes[k].node_id);
    }
    CHECK(tight_bytes_of(store, T_FRAG) == ARENA && arena_sums_add_up(store, T_FRAG), "full again");
    /* Exactly full: a new 8-byte block, or a value growing past its block, does not fit. */
    arena_node one_more = {.node_id = next_slot, .length = {1}};
    CHECK(apply_arena_node(store, T_FRAG, &one_more, 1, true) == SPATE_STATUS_ARENA_FULL, "a create of 8 bytes");
    next_slot++;
    arena_node grown = nodes[1];
    grown.length[0] = 9;
    grown.salt[0] = 1;
    CHECK(apply_arena_node(store, T_FRAG, &grown, 1, false) == SPATE_STATUS_ARENA_FULL && arena_node_intact(store, T_FRAG, &nodes[1], 1),
          "an update growing past its block, unchanged");
    /* A 16-byte value shrunk to 8 stays in its block, but frees 8 bytes of smallest blocks: room for an 8-byte value,
       which a compaction makes (shrinking that block). */
    arena_node *shrunk = &nodes[count - 1];
    shrunk->length[0] = 8;
    shrunk->salt[0] = 2;
    CHECK(apply_arena_node(store, T_FRAG, shrunk, 1, false) == SPATE_STATUS_OK, "shrink in place");
    CHECK(stats_of(store, T_FRAG).arena_compactions == 1 && tight_bytes_of(store, T_FRAG) == ARENA - 8, "8 bytes of room, fragmented");
    nodes[count] = (arena_node){.node_id = next_slot++, .length = {8}, .salt = {3}};
    CHECK(apply_arena_node(store, T_FRAG, &nodes[count], 1, true) == SPATE_STATUS_OK, "an 8-byte value fits after a compaction");
    count++;
    CHECK(stats_of(store, T_FRAG).arena_compactions == 2 && tight_bytes_of(store, T_FRAG) == ARENA, "compacted again, full");
    arena_node last = {.node_id = next_slot, .length = {1}};
    CHECK(apply_arena_node(store, T_FRAG, &last, 1, true) == SPATE_STATUS_ARENA_FULL, "then full");
    next_slot++;
    /* An empty value keeps its block until a compaction drops it. */
    arena_node *emptied = &nodes[FILL + 10];
    REQUIRE(block_bytes(emptied->length[0]) == 16);
    emptied->length[0] = 0;
    CHECK(apply_arena_node(store, T_FRAG, emptied, 1, false) == SPATE_STATUS_OK, "emptied");
    nodes[count] = (arena_node){.node_id = next_slot++, .length = {16}, .salt = {4}};
    CHECK(apply_arena_node(store, T_FRAG, &nodes[count], 1, true) == SPATE_STATUS_OK, "its 16 bytes reused after a compaction");
    count++;
    CHECK(stats_of(store, T_FRAG).arena_compactions == 3 && tight_bytes_of(store, T_FRAG) == ARENA, "compacted, full");
    for (int k = 0; k < count; k++)
    {
        CHECK(nodes[k].node_id == 0 || arena_node_intact(store, T_FRAG, &nodes[k], 1), "node %" PRId64 " intact at the end", nodes[k].node_id);
    }
    CHECK(arena_sums_add_up(store, T_FRAG), "live + free = reserved");
    printf("arena compaction: %d values in a %d-byte arena after 3 compactions\n", (int)stats_of(store, T_FRAG).live_nodes, ARENA);
    buffer_free(&b);
    spate_store_close(store);
}

/*
 * The Update spate_update_take must get right: one value sits in a block stolen from a larger
 * class (its own class had none free, nor the top) and grows, but still fits that block; another
 * value of the same record grows past its block, and taking a block for it compacts the arena,
 * which shrinks the first value's block to the smallest for its old length. Written in place, the
 * first value would now run over the next value; it must move instead. Both field orders.
 */
static void tricky_update(bool stolen_first)
{
    enum
    {
        T_TWO = 14,
        ARENA = 256,
        P = 0, /* the value in the stolen block */
        Q = 1,
        FILLERS = (ARENA - 8 - 32) / 8,
    };
    const uint32_t max_lengths[] = {64, 64};
    spate_store *store = open_arena_type(T_TWO, 64, ARENA, max_lengths, 2);
    arena_node node = {.node_id = 1, .length = {0, 8}};
    arena_node stolen_source = {.node_id = 2, .length = {32, 0}};
    arena_node fillers[FILLERS];
    CHECK(apply_arena_node(store, T_TWO, &node, 2, true) == SPATE_STATUS_OK, "node 1: Q in 8 bytes");
    CHECK(apply_arena_node(store, T_TWO, &stolen_source, 2, true) == SPATE_STATUS_OK, "node 2: a 32-byte block");
    for (int k = 0; k < FILLERS; k++)
    {
        fillers[k] = (arena_node){.node_id = 3 + k, .length = {8, 0}, .salt = {(uint32_t)k, 0}};
        CHECK(apply_arena_node(store, T_TWO, &fillers[k], 2, true) == SPATE_STATUS_OK, "filler %d", k);
    }
    CHECK(stats_of(store, T_TWO).arena_reserved_bytes == ARENA && stats_of(store, T_TWO).arena_free_bytes == 0, "the top is full");
    buffer b = buffer_new(4096);
    put_delete(&b, 2, 0, T_TWO);
    CHECK(apply_all_ok(store, &b), "free the 32-byte block");
    node.length[P] = 8;
    node.salt[P] = 1;
    CHECK(apply_arena_node(store, T_TWO, &node, 2, false) == SPATE_STATUS_OK, "P takes the 32-byte block (no 8-byte one free)");
    spate_type_stats stats = stats_of(store, T_TWO);
    CHECK(stats.arena_free_bytes == 0 && stats.arena_live_bytes == ARENA && tight_bytes_of(store, T_TWO) == ARENA - 24,
          "P holds 32 bytes for 8");
    /* P to 32 bytes alone: its new smallest block (32) does not fit the room (24), but it needs none: in place. */
    node.length[P] = 32;
    node.salt[P] = 7;
    CHECK(apply_arena_node(store, T_TWO, &node, 2, false) == SPATE_STATUS_OK && arena_node_intact(store, T_TWO, &node, 2) &&
              tight_bytes_of(store, T_TWO) == ARENA && stats_of(store, T_TWO).arena_compactions == 0,
          "P grows in its block");
    node.length[P] = 8;
    node.salt[P] = 1;
    CHECK(apply_arena_node(store, T_TWO, &node, 2, false) == SPATE_STATUS_OK && tight_bytes_of(store, T_TWO) == ARENA - 24,
          "and back to 8 bytes, in place");
    b.length = 0;
    put_delete(&b, fillers[4].node_id, 0, T_TWO);
    put_delete(&b, fillers[20].node_id, 0, T_TWO);
    fillers[4].node_id = fillers[20].node_id = 0;
    CHECK(apply_all_ok(store, &b), "two 8-byte blocks free, apart");
    CHECK(tight_bytes_of(store, T_TWO) == ARENA - 40 && stats_of(store, T_TWO).arena_compactions == 0, "40 bytes of room, fragmented");

    /* P to 24 and Q to 24: 48 bytes of new blocks counted against 40: ARENA_FULL, nothing moved. */
    const bool both[] = {true, true};
    arena_node too_big = node;
    too_big.length[P] = 24;
    too_big.length[Q] = 24;
    too_big.salt[P] = too_big.salt[Q] = 2;
    b.length = 0;
    put_arena_node(&b, T_TWO, 0, &too_big, 2, false, both);
    CHECK(apply_one(store, &b, NULL) == SPATE_STATUS_ARENA_FULL, "48 bytes do not fit beside the live values");
    CHECK(arena_node_intact(store, T_TWO, &node, 2) && stats_of(store, T_TWO).arena_compactions == 0, "unchanged, not compacted");

    /* P to 24 (fits its 32-byte block) and Q to 16 (a new block): 40 bytes, exactly the room. */
    node.length[P] = 24;
    node.length[Q] = 16;
    node.salt[P] = node.salt[Q] = 3;
    b.length = 0;
    if (stolen_first)
    {
        put_arena_node(&b, T_TWO, 0, &node, 2, false, both);
    }
    else
    {
        /* Q first: the fields in the other order. */
        static uint8_t p_bytes[64], q_bytes[64];
        value_bytes(p_bytes, node.length[P], node.node_id, P, node.salt[P]);
        value_bytes(q_bytes, node.length[Q], node.node_id, Q, node.salt[Q]);
        put_update(&b, node.node_id, 0, T_TWO, (var_value[]){{3, q_bytes, node.length[Q]}, {2, p_bytes, node.length[P]}}, 2);
    }
    const uint8_t status = apply_one(store, &b, NULL);
    CHECK(status == SPATE_STATUS_OK, "P in its stolen block, Q past its block, under a compaction: %s", status_name(status));
    stats = stats_of(store, T_TWO);
    CHECK(stats.arena_compactions == 1, "compacted once: %" PRIu64, stats.arena_compactions);
    CHECK(arena_node_intact(store, T_TWO, &node, 2), "node 1's values");
    for (int k = 0; k < FILLERS; k++)
    {
        CHECK(fillers[k].node_id == 0 || arena_node_intact(store, T_TWO, &fillers[k], 2), "filler %d intact", k);
    }
    CHECK(tight_bytes_of(store, T_TWO) == ARENA - 16 && arena_sums_add_up(store, T_TWO), "16 bytes of room");
    /* Two 8-byte values in one Create: exactly the room; then nothing fits. */
    arena_node pair = {.node_id = FILLERS + 3, .length = {8, 8}, .salt = {5, 5}};
    CHECK(apply_arena_node(store, T_TWO, &pair, 2, true) == SPATE_STATUS_OK && arena_node_intact(store, T_TWO, &pair, 2), "16 bytes fit");
    arena_node none = {.node_id = FILLERS + 4, .length = {1, 0}};
    CHECK(apply_arena_node(store, T_TWO, &none, 2, true) == SPATE_STATUS_ARENA_FULL, "then 8 do not");
    CHECK(tight_bytes_of(store, T_TWO) == ARENA && arena_sums_add_up(store, T_TWO), "full");
    /* The image holds the same values compacted, and loads. */
    uint64_t length;
    uint8_t *image = take_snapshot(store, &length);
    spate_store *copy = open_arena_type(T_TWO, 64, ARENA, max_lengths, 2);
    CHECK(spate_store_snapshot_load(copy, image, length) == 0 && checksum_of(copy, T_TWO) == checksum_of(store, T_TWO) &&
              arena_node_intact(copy, T_TWO, &node, 2) && same_image(copy, image, length),
          "the loaded copy");
    spate_store_close(copy);
    free(image);
    buffer_free(&b);
    spate_store_close(store);
}

static void test_arena_tricky_update(void)
{
    tricky_update(true);
    tricky_update(false);
}

/* ------------------------------------------------------------------------------------------ */
/* A reference model of one type, slot reuse included                                          */
/* ------------------------------------------------------------------------------------------ */

/*
 * The model type: a U32 (field 1, offset 0) and an I64 (field 2, offset 4) in a 12-byte row, a
 * string (field 3, up to 64 bytes) and bytes (field 4, up to 300), 12 nodes live at most (slots
 * 1..13, 8 slot bits) and a 512-byte arena: ARENA_FULL and compactions are everyday events.
 */
enum
{
    T_MODEL = 21,
    MODEL_MAX_NODES = 12,
    MODEL_SLOT_LIMIT = 13,
    MODEL_BITS = 8,
    MODEL_ARENA = 512,
    MODEL_ROW = 12,
    MODEL_STRIDE = 8 + 16 + 2 * 16,
    MODEL_MAX_RECORDS = 16,
    MODEL_RESULTS = MODEL_MAX_RECORDS + 1,
};

static const uint32_t model_max_length[2] = {64, 300};

typedef struct model_slot
{
    bool live;
    uint64_t generation; /* live: the node's; not live: the next one (0: never used; largest + 1: retired) */
    uint8_t row[MODEL_ROW];
    uint32_t length[2];
    uint8_t value[2][300];
} model_slot;

typedef struct model
{
    model_slot slots[MODEL_SLOT_LIMIT + 1]; /* by slot; 0 unused */
    int64_t high_water;
    int64_t live;
    uint64_t tight_bytes; /* the live values' smallest blocks */
} model;

typedef struct model_entry
{
    uint16_t field_id;
    uint32_t length;
    uint8_t bytes[301];
} model_entry;

typedef struct model_record
{
    uint16_t template_id;
    int64_t node_id;
    uint32_t create_ref;
    uint32_t row_length;
    uint8_t row[MODEL_ROW + 1];
    model_entry entries[4];
    uint16_t entry_count;
    int64_t delta;
    uint16_t field_id;
} model_record;

typedef struct model_outcome
{
    uint16_t template_id;
    uint8_t status;
    int64_t node_id;
} model_outcome;

static long g_model_written_in_place; /* Updates that did not fit the room but fitted their blocks */

static uint64_t model_largest(void)
{
    return max_generation_of(MODEL_BITS);
}

/* The slot of a live node, or NULL. */
static model_slot *model_live(model *m, int64_t node_id)
{
    if (node_id <= 0)
    {
        return NULL;
    }
    const int64_t slot = node_id & 0xFF;
    const uint64_t generation = (uint64_t)node_id >> MODEL_BITS;
    if (slot == 0 || slot > MODEL_SLOT_LIMIT || !m->slots[slot].live || m->slots[slot].generation != generation)
    {
        return NULL;
    }
    return &m->slots[slot];
}

/* What spate_store_node_state says of an id, by the model. */
static int32_t model_node_state(const model *m, int64_t slot, uint64_t generation)
{
    const model_slot *s = &m->slots[slot];
    if (s->live)
    {
        return generation == s->generation ? SPATE_NODE_LIVE : generation < s->generation ? SPATE_NODE_GONE : SPATE_NODE_NOT_ISSUED;
    }
    return generation < s->generation ? SPATE_NODE_GONE : SPATE_NODE_NOT_ISSUED;
}

/* A slot stops being live, or a consumed Create leaves it: the next generation. */
static void model_free_slot(model *m, int64_t slot, uint64_t generation)
{
    model_slot *s = &m->slots[slot];
    if (s->live)
    {
        m->tight_bytes -= block_bytes(s->length[0]) + block_bytes(s->length[1]);
        m->live--;
    }
    s->live = false;
    s->generation = generation + 1;
}

/* createRef as spate_store.h defines it, over the outcomes so far; false: BAD_REFERENCE. */
static bool model_resolve(const model_outcome *outcomes, uint32_t index, uint32_t ref_base, uint32_t create_ref, int64_t node_id,
                          int64_t *target)
{
    if (create_ref == 0)
    {
        *target = node_id;
        return true;
    }
    const uint64_t referenced = (uint64_t)ref_base + create_ref - 1;
    if (referenced >= index || outcomes[referenced].template_id != IO_SPATE_WIRE_CREATE_SBE_TEMPLATE_ID ||
        outcomes[referenced].status != SPATE_STATUS_OK)
    {
        return false;
    }
    *target = outcomes[referenced].node_id;
    return true;
}

static uint8_t model_create(model *m, const model_record *r, int64_t *node_id_out)
{
    uint8_t status = SPATE_STATUS_OK;
    int chosen[2] = {-1, -1};
    for (int e = 0; e < r->entry_count && status == SPATE_STATUS_OK; e++)
    {
        const model_entry *entry = &r->entries[e];
        if (entry->field_id != 3 && entry->field_id != 4)
        {
            status = SPATE_STATUS_UNKNOWN_FIELD;
        }
        else if (entry->length > model_max_length[entry->field_id - 3])
        {
            status = SPATE_STATUS_VALUE_TOO_LARGE;
        }
        else
        {
            chosen[entry->field_id - 3] = e;
        }
    }
    if (r->row_length != MODEL_ROW)
    {
        status = SPATE_STATUS_MALFORMED;
    }
    int64_t slot;
    uint64_t generation;
    if (r->node_id == 0)
    {
        slot = m->high_water + 1;
        generation = 0;
    }
    else
    {
        slot = r->node_id < 0 ? 0 : r->node_id & 0xFF;
        generation = (uint64_t)r->node_id >> MODEL_BITS;
        if (slot == 0)
        {
            return status != SPATE_STATUS_OK ? status : SPATE_STATUS_ID_MISMATCH;
        }
    }
    if (slot > MODEL_SLOT_LIMIT)
    {
        return status != SPATE_STATUS_OK ? status : SPATE_STATUS_TYPE_FULL;
    }
    model_slot *s = &m->slots[slot];
    if (s->live || generation < s->generation)
    {
        return status != SPATE_STATUS_OK ? status : SPATE_STATUS_ID_MISMATCH;
    }
    if (m->live >= MODEL_MAX_NODES)
    {
        return status != SPATE_STATUS_OK ? status : SPATE_STATUS_TYPE_FULL; /* refused by maxNodes: nothing consumed */
    }
    *node_id_out = make_id(MODEL_BITS, generation, slot);
    m->high_water = slot > m->high_water ? slot : m->high_water;
    uint64_t needed_bytes = 0;
    for (int v = 0; v < 2; v++)
    {
        needed_bytes += chosen[v] < 0 ? 0 : block_bytes(r->entries[chosen[v]].length);
    }
    if (status == SPATE_STATUS_OK && needed_bytes > MODEL_ARENA - m->tight_bytes)
    {
        status = SPATE_STATUS_ARENA_FULL;
    }
    if (status != SPATE_STATUS_OK)
    {
        model_free_slot(m, slot, generation); /* consumed */
        return status;
    }
    s->live = true;
    s->generation = generation;
    memcpy(s->row, r->row, MODEL_ROW);
    for (int v = 0; v < 2; v++)
    {
        s->length[v] = chosen[v] < 0 ? 0 : r->entries[chosen[v]].length;
        if (s->length[v] != 0)
        {
            memcpy(s->value[v], r->entries[chosen[v]].bytes, s->length[v]);
        }
    }
    m->tight_bytes += needed_bytes;
    m->live++;
    return SPATE_STATUS_OK;
}

/*
 * An Update. Its ARENA_FULL rule: the values growing past their old value's smallest block count
 * their new smallest blocks against the room beside the live values. When they do not fit, the store
 * still writes the record if every such value fits the block it has now (one taken from a larger
 * class), which the model does not track: then either answer is right, and the model follows the store's.
 */
static uint8_t model_update(model *m, const model_record *r, const model_outcome *outcomes, uint32_t index, uint32_t ref_base,
                            uint8_t actual, int64_t *node_id_out)
{
    static const uint32_t widths[5] = {0, 4, 8, 64, 300};
    int chosen[5] = {-1, -1, -1, -1, -1};
    for (int e = 0; e < r->entry_count; e++)
    {
        const model_entry *entry = &r->entries[e];
        if (entry->field_id < 1 || entry->field_id > 4)
        {
            return SPATE_STATUS_UNKNOWN_FIELD;
        }
        if (entry->length > widths[entry->field_id])
        {
            return SPATE_STATUS_VALUE_TOO_LARGE;
        }
        if (entry->field_id <= 2 && entry->length < widths[entry->field_id])
        {
            return SPATE_STATUS_MALFORMED;
        }
        chosen[entry->field_id] = e;
    }
    int64_t target;
    if (!model_resolve(outcomes, index, ref_base, r->create_ref, r->node_id, &target))
    {
        return SPATE_STATUS_BAD_REFERENCE;
    }
    *node_id_out = target;
    model_slot *s = model_live(m, target);
    if (s == NULL)
    {
        return SPATE_STATUS_NO_SUCH_NODE;
    }
    uint64_t worst_bytes = 0;
    for (int v = 0; v < 2; v++)
    {
        const int e = chosen[3 + v];
        if (e >= 0 && r->entries[e].length > block_bytes(s->length[v]))
        {
            worst_bytes += block_bytes(r->entries[e].length);
        }
    }
    if (worst_bytes > MODEL_ARENA - m->tight_bytes)
    {
        if (actual != SPATE_STATUS_OK)
        {
            return SPATE_STATUS_ARENA_FULL;
        }
        g_model_written_in_place++;
    }
    if (chosen[1] >= 0)
    {
        memcpy(s->row, r->entries[chosen[1]].bytes, 4);
    }
    if (chosen[2] >= 0)
    {
        memcpy(s->row + 4, r->entries[chosen[2]].bytes, 8);
    }
    for (int v = 0; v < 2; v++)
    {
        const int e = chosen[3 + v];
        if (e >= 0)
        {
            m->tight_bytes += block_bytes(r->entries[e].length);
            m->tight_bytes -= block_bytes(s->length[v]);
            s->length[v] = r->entries[e].length;
            memcpy(s->value[v], r->entries[e].bytes, s->length[v]);
        }
    }
    return SPATE_STATUS_OK;
}

static uint8_t model_apply(model *m, const model_record *r, const model_outcome *outcomes, uint32_t index, uint32_t ref_base,
                           uint8_t actual, int64_t *node_id_out)
{
    *node_id_out = 0;
    int64_t target;
    switch (r->template_id)
    {
        case IO_SPATE_WIRE_CREATE_SBE_TEMPLATE_ID:
            return model_create(m, r, node_id_out);
        case IO_SPATE_WIRE_UPDATE_SBE_TEMPLATE_ID:
            return model_update(m, r, outcomes, index, ref_base, actual, node_id_out);
        case IO_SPATE_WIRE_DELETE_SBE_TEMPLATE_ID:
        {
            if (!model_resolve(outcomes, index, ref_base, r->create_ref, r->node_id, &target))
            {
                return SPATE_STATUS_BAD_REFERENCE;
            }
            *node_id_out = target;
            model_slot *s = model_live(m, target);
            if (s == NULL)
            {
                return SPATE_STATUS_NO_SUCH_NODE;
            }
            model_free_slot(m, target & 0xFF, s->generation);
            return SPATE_STATUS_OK;
        }
        default:
        {
            REQUIRE(r->template_id == IO_SPATE_WIRE_INCREMENT_SBE_TEMPLATE_ID);
            if (r->field_id == 3 || r->field_id == 4)
            {
                return SPATE_STATUS_WRONG_FIELD_KIND;
            }
            if (r->field_id != 1 && r->field_id != 2)
            {
                return SPATE_STATUS_UNKNOWN_FIELD;
            }
            if (!model_resolve(outcomes, index, ref_base, r->create_ref, r->node_id, &target))
            {
                return SPATE_STATUS_BAD_REFERENCE;
            }
            *node_id_out = target;
            model_slot *s = model_live(m, target);
            if (s == NULL)
            {
                return SPATE_STATUS_NO_SUCH_NODE;
            }
            if (r->field_id == 1)
            {
                uint32_t number;
                memcpy(&number, s->row, 4);
                number += (uint32_t)r->delta;
                memcpy(s->row, &number, 4);
            }
            else
            {
                uint64_t number;
                memcpy(&number, s->row + 4, 8);
                number += (uint64_t)r->delta;
                memcpy(s->row + 4, &number, 8);
            }
            return SPATE_STATUS_OK;
        }
    }
}

/* The ids the model says free_ids lists, in slot order. */
static int model_free_ids(const model *m, int64_t *out)
{
    int count = 0;
    for (int64_t slot = 1; slot <= m->high_water; slot++)
    {
        const model_slot *s = &m->slots[slot];
        if (!s->live && s->generation <= model_largest())
        {
            out[count++] = make_id(MODEL_BITS, s->generation, slot);
        }
    }
    return count;
}

static uint64_t model_checksum(const model *m)
{
    uint64_t hash = reference_word(UINT64_C(0x5350415445483634), T_MODEL);
    hash = reference_word(hash, (uint64_t)m->high_water);
    hash = reference_word(hash, (uint64_t)m->live);
    uint64_t never = 0;
    for (int64_t slot = 1; slot <= m->high_water; slot++)
    {
        const model_slot *s = &m->slots[slot];
        if (!s->live && s->generation == 0)
        {
            never++;
            continue;
        }
        if (never != 0)
        {
            hash = reference_word(reference_word(hash, 0), never);
            never = 0;
        }
        hash = reference_word(reference_word(hash, s->live ? 1 : 2), s->generation);
        if (s->live)
        {
            hash = reference_bytes(hash, s->row, MODEL_ROW);
            hash = reference_bytes(hash, s->value[0], s->length[0]);
            hash = reference_bytes(hash, s->value[1], s->length[1]);
        }
    }
    if (never != 0)
    {
        hash = reference_word(reference_word(hash, 0), never);
    }
    hash ^= hash >> 33;
    hash *= UINT64_C(0xC2B2AE3D27D4EB4F);
    hash ^= hash >> 29;
    hash *= UINT64_C(0x165667B19E3779F9);
    hash ^= hash >> 32;
    return hash;
}

static uint32_t model_random_length(uint32_t max_length)
{
    const uint32_t kind = random_below(20);
    return kind < 3 ? 0 : kind < 11 ? random_below(17) : kind < 19 ? random_below(max_length + 1) : max_length + 1;
}

static void model_random_entry(model_entry *entry, uint16_t field_id, uint32_t length)
{
    entry->field_id = field_id;
    entry->length = length;
    for (uint32_t i = 0; i < length && i < sizeof entry->bytes; i++)
    {
        entry->bytes[i] = (uint8_t)next_random();
    }
}

/* An id for a target, chosen from the model's state (live, stale, free, future, never used, invalid). */
static int64_t model_random_id(const model *m, bool for_create)
{
    int64_t live_ids[MODEL_SLOT_LIMIT], free_ids[MODEL_SLOT_LIMIT];
    int live_count = 0;
    for (int64_t slot = 1; slot <= m->high_water; slot++)
    {
        if (m->slots[slot].live)
        {
            live_ids[live_count++] = make_id(MODEL_BITS, m->slots[slot].generation, slot);
        }
    }
    const int free_count = model_free_ids(m, free_ids);
    const int64_t slot = 1 + (int64_t)random_below(MODEL_SLOT_LIMIT);
    const model_slot *s = &m->slots[slot];
    const uint32_t choice = random_below(100);
    if (choice < (for_create ? 55u : 65u))
    {
        if (for_create ? free_count > 0 : live_count > 0)
        {
            return for_create ? free_ids[random_below((uint32_t)free_count)] : live_ids[random_below((uint32_t)live_count)];
        }
        return 0;
    }
    if (choice < 70 && for_create)
    {
        return 0;
    }
    if (choice < 78 && s->generation <= model_largest())
    {
        /* the slot's id one or more generations ahead (for a live slot: not issued yet) */
        const uint64_t ahead = s->generation + random_below(3) + (s->live ? 1 : 0);
        return make_id(MODEL_BITS, ahead <= model_largest() ? ahead : model_largest(), slot);
    }
    if (choice < 88 && s->generation > 0)
    {
        return make_id(MODEL_BITS, s->generation - 1 - (s->generation > 1 ? random_below(2) : 0), slot); /* stale */
    }
    if (choice < 90 && random_below(20) == 0)
    {
        /* near the last generation: now and then a slot retires (the store starts over every 500 batches) */
        return make_id(MODEL_BITS, model_largest() - random_below(2), slot);
    }
    if (choice < 94)
    {
        return make_id(MODEL_BITS, 0, slot); /* generation 0 */
    }
    static const int64_t junk[] = {-1, INT64_MIN, INT64_MAX, 256, MODEL_SLOT_LIMIT + 1, 255, 0};
    return junk[random_below(sizeof junk / sizeof junk[0])];
}

static void model_random_record(const model *m, model_record *r, uint32_t position)
{
    memset(r, 0, sizeof *r);
    const uint32_t kind = random_below(20);
    r->template_id = kind < 6    ? IO_SPATE_WIRE_CREATE_SBE_TEMPLATE_ID
                     : kind < 12 ? IO_SPATE_WIRE_UPDATE_SBE_TEMPLATE_ID
                     : kind < 17 ? IO_SPATE_WIRE_DELETE_SBE_TEMPLATE_ID
                                 : IO_SPATE_WIRE_INCREMENT_SBE_TEMPLATE_ID;
    const bool create = r->template_id == IO_SPATE_WIRE_CREATE_SBE_TEMPLATE_ID;
    r->node_id = model_random_id(m, create);
    if (!create && random_below(8) == 0)
    {
        r->create_ref = 1 + random_below(position); /* an earlier record, or itself */
    }
    if (create)
    {
        const uint32_t shape = random_below(40);
        r->row_length = shape == 0 ? MODEL_ROW - 1 : shape == 1 ? MODEL_ROW + 1 : MODEL_ROW;
        for (uint32_t i = 0; i < r->row_length; i++)
        {
            r->row[i] = (uint8_t)next_random();
        }
        r->entry_count = (uint16_t)random_below(4);
        for (uint16_t e = 0; e < r->entry_count; e++)
        {
            const uint32_t pick = random_below(30);
            const uint16_t field_id = pick == 0 ? 1 : pick == 1 ? 9 : (uint16_t)(3 + pick % 2);
            model_random_entry(&r->entries[e], field_id, model_random_length(field_id >= 3 && field_id <= 4 ? model_max_length[field_id - 3] : 4));
        }
    }
    else if (r->template_id == IO_SPATE_WIRE_UPDATE_SBE_TEMPLATE_ID)
    {
        r->entry_count = (uint16_t)random_below(5);
        for (uint16_t e = 0; e < r->entry_count; e++)
        {
            const uint16_t field_id = random_below(40) == 0 ? 9 : (uint16_t)(1 + random_below(4));
            uint32_t length;
            if (field_id == 1 || field_id == 2)
            {
                const uint32_t width = field_id == 1 ? 4 : 8;
                const uint32_t shape = random_below(40);
                length = shape == 0 ? width - 1 : shape == 1 ? width + 1 : width;
            }
            else
            {
                length = model_random_length(field_id == 9 ? 4 : model_max_length[field_id - 3]);
            }
            model_random_entry(&r->entries[e], field_id, length);
        }
    }
    else if (r->template_id == IO_SPATE_WIRE_INCREMENT_SBE_TEMPLATE_ID)
    {
        const uint32_t pick = random_below(20);
        r->field_id = pick == 0 ? 3 : pick == 1 ? 4 : pick == 2 ? 9 : (uint16_t)(1 + pick % 2);
        r->delta = (int64_t)next_random() >> random_below(64);
    }
}

static void model_encode(buffer *b, const model_record *r)
{
    var_value values[4];
    for (uint16_t e = 0; e < r->entry_count; e++)
    {
        values[e] = (var_value){r->entries[e].field_id, r->entries[e].bytes, r->entries[e].length};
    }
    switch (r->template_id)
    {
        case IO_SPATE_WIRE_CREATE_SBE_TEMPLATE_ID:
            put_create(b, r->node_id, T_MODEL, values, r->entry_count, r->row, r->row_length);
            break;
        case IO_SPATE_WIRE_UPDATE_SBE_TEMPLATE_ID:
            put_update(b, r->node_id, r->create_ref, T_MODEL, values, r->entry_count);
            break;
        case IO_SPATE_WIRE_DELETE_SBE_TEMPLATE_ID:
            put_delete(b, r->node_id, r->create_ref, T_MODEL);
            break;
        default:
            put_increment(b, r->node_id, r->delta, r->create_ref, T_MODEL, r->field_id);
            break;
    }
}

static spate_store *open_model_store(void)
{
    static const schema_field fields[] = {
        {1, io_spate_wire_fieldKind_U32, 0, 4},
        {2, io_spate_wire_fieldKind_I64, 4, 8},
        {3, io_spate_wire_fieldKind_STRING, 0, 64},
        {4, io_spate_wire_fieldKind_BYTES, 0, 300},
    };
    const schema_type type = {T_MODEL, MODEL_MAX_NODES, MODEL_ARENA, MODEL_ROW, fields, 4};
    buffer b = buffer_new(4096);
    put_store_schema(&b, SCHEMA_HASH, &type, 1);
    spate_store *store = NULL;
    REQUIRE(spate_store_open(b.data, b.length, &store) == 0);
    buffer_free(&b);
    return store;
}

/* Everything the store says of the type against the model; the first difference goes to why. */
static bool model_matches(spate_store *store, const model *m, char *why, size_t why_size)
{
    const spate_type_stats stats = stats_of(store, T_MODEL);
    int64_t retired = 0, freed = 0;
    for (int64_t slot = 1; slot <= m->high_water; slot++)
    {
        retired += !m->slots[slot].live && m->slots[slot].generation == model_largest() + 1 ? 1 : 0;
        freed += !m->slots[slot].live && m->slots[slot].generation != 0 ? 1 : 0;
    }
    if (stats.high_water_slot != m->high_water || stats.live_nodes != m->live || spate_store_count(store, T_MODEL) != m->live ||
        stats.free_slots != m->high_water - m->live || stats.retired_slots != retired || stats.slot_limit != MODEL_SLOT_LIMIT ||
        stats.row_stride_bytes != MODEL_STRIDE)
    {
        snprintf(why, why_size, "stats: high water %" PRId64 "/%" PRId64 ", live %" PRId64 "/%" PRId64 ", retired %" PRId64 "/%" PRId64,
                 stats.high_water_slot, m->high_water, stats.live_nodes, m->live, stats.retired_slots, retired);
        return false;
    }
    if (stats.arena_live_bytes + stats.arena_free_bytes != stats.arena_reserved_bytes || stats.arena_reserved_bytes > MODEL_ARENA ||
        stats.arena_live_bytes < m->tight_bytes)
    {
        snprintf(why, why_size, "arena: live %" PRIu64 " free %" PRIu64 " reserved %" PRIu64 ", values' blocks %" PRIu64,
                 stats.arena_live_bytes, stats.arena_free_bytes, stats.arena_reserved_bytes, m->tight_bytes);
        return false;
    }
    const int64_t expected_length = IMAGE_HEADER_BYTES + IMAGE_TYPE_HEADER_BYTES + m->live * (8 + MODEL_STRIDE) +
                                    freed * IMAGE_FREED_RECORD_BYTES + (int64_t)m->tight_bytes;
    if (spate_store_snapshot_length(store) != expected_length)
    {
        snprintf(why, why_size, "snapshot length %" PRId64 ", expected %" PRId64, spate_store_snapshot_length(store), expected_length);
        return false;
    }
    int64_t expected_free[MODEL_SLOT_LIMIT], actual_free[MODEL_SLOT_LIMIT + 1];
    const int free_count = model_free_ids(m, expected_free);
    const int64_t listed = spate_store_free_ids(store, T_MODEL, 1, actual_free, MODEL_SLOT_LIMIT + 1);
    if (listed != free_count || memcmp(expected_free, actual_free, (size_t)free_count * sizeof(int64_t)) != 0)
    {
        snprintf(why, why_size, "free ids: %" PRId64 " listed, %d expected", listed, free_count);
        return false;
    }
    uint8_t out[512];
    for (int64_t slot = 1; slot <= MODEL_SLOT_LIMIT; slot++)
    {
        const model_slot *s = &m->slots[slot];
        const uint64_t base = s->generation > 1 ? s->generation - 2 : 0;
        for (uint64_t generation = base; generation <= s->generation + 1 && generation <= model_largest(); generation++)
        {
            const int64_t id = make_id(MODEL_BITS, generation, slot);
            const int32_t state = spate_store_node_state(store, T_MODEL, id);
            if (state != model_node_state(m, slot, generation))
            {
                snprintf(why, why_size, "id %" PRId64 " (slot %" PRId64 ", generation %" PRIu64 "): state %d, expected %d", id, slot,
                         generation, state, model_node_state(m, slot, generation));
                return false;
            }
            const int64_t length = spate_store_get(store, T_MODEL, id, out, sizeof out);
            if (state != SPATE_NODE_LIVE)
            {
                if (length != SPATE_ERROR_NO_SUCH_NODE)
                {
                    snprintf(why, why_size, "id %" PRId64 " is not live but get says %" PRId64, id, length);
                    return false;
                }
                continue;
            }
            bool same = length == MODEL_ROW + 8 + (int64_t)s->length[0] + (int64_t)s->length[1] && memcmp(out, s->row, MODEL_ROW) == 0;
            for (uint32_t v = 0; same && v < 2; v++)
            {
                uint32_t value_length;
                const uint8_t *value = get_var(out, length, MODEL_ROW, v, &value_length);
                same = value_length == s->length[v] && memcmp(value, s->value[v], value_length) == 0;
            }
            if (!same)
            {
                snprintf(why, why_size, "id %" PRId64 ": content differs (length %" PRId64 ")", id, length);
                return false;
            }
        }
    }
    if (checksum_of(store, T_MODEL) != model_checksum(m))
    {
        snprintf(why, why_size, "checksum differs");
        return false;
    }
    return true;
}

/*
 * Random batches against the model: creates with free, fresh, stale, future, live and invalid ids,
 * updates, increments and deletes with random lengths over a 512-byte arena, createRefs; after every
 * batch statuses, ids, contents, counts, free ids, node states, checksums and image lengths are
 * compared. Every 97 batches the store is swapped for one loaded from its image; every 500 both start over.
 * SPATE_REUSE_ITERATIONS batches (default 200000), SPATE_REUSE_SEED.
 */
static void test_reuse_model(void)
{
    const char *iterations_text = getenv("SPATE_REUSE_ITERATIONS");
    const char *seed_text = getenv("SPATE_REUSE_SEED");
    const long iterations = iterations_text != NULL ? atol(iterations_text) : 200000;
    const uint64_t seed = seed_text != NULL ? strtoull(seed_text, NULL, 0) : UINT64_C(0x2E05E5EED);
    g_rng = seed;
    static model m;
    memset(&m, 0, sizeof m);
    spate_store *store = open_model_store();
    static model_record records[MODEL_MAX_RECORDS];
    model_outcome outcomes[MODEL_RESULTS];
    buffer b = buffer_new(1 << 16);
    long by_status[SPATE_STATUS_UNKNOWN_TEMPLATE + 1] = {0};
    long walked = 0, reloads = 0;
    uint64_t compactions = 0;
    int64_t retired = 0;
    g_model_written_in_place = 0;
    char why[256] = "";
    for (long batch = 0; batch < iterations; batch++)
    {
        if (batch % 500 == 499)
        {
            compactions += stats_of(store, T_MODEL).arena_compactions;
            retired += stats_of(store, T_MODEL).retired_slots;
            spate_store_close(store);
            store = open_model_store();
            memset(&m, 0, sizeof m);
        }
        else if (batch % 97 == 96)
        {
            uint64_t length;
            uint8_t *image = take_snapshot(store, &length);
            spate_store *loaded = open_model_store();
            const int32_t rc = spate_store_snapshot_load(loaded, image, length);
            free(image);
            CHECK(rc == 0, "seed 0x%" PRIx64 " batch %ld: load %d", seed, batch, rc);
            compactions += stats_of(store, T_MODEL).arena_compactions;
            spate_store_close(store);
            store = loaded;
            reloads++;
        }
        b.length = 0;
        const bool header = random_below(5) != 0;
        const uint32_t count = 1 + random_below(MODEL_MAX_RECORDS);
        const uint32_t ref_base = header ? 1 : 0;
        if (header)
        {
            put_batch_header(&b, SCHEMA_HASH, count);
        }
        for (uint32_t i = 0; i < count; i++)
        {
            model_random_record(&m, &records[i], i + 1);
            model_encode(&b, &records[i]);
        }
        const int64_t n = apply(store, &b);
        CHECK(n == count + ref_base, "seed 0x%" PRIx64 " batch %ld: %" PRId64 " results", seed, batch, n);
        if (header)
        {
            CHECK(g_results[0].status == SPATE_STATUS_OK, "seed 0x%" PRIx64 " batch %ld: header", seed, batch);
            outcomes[0] = (model_outcome){IO_SPATE_WIRE_BATCH_HEADER_SBE_TEMPLATE_ID, SPATE_STATUS_OK, 0};
        }
        for (uint32_t i = 0; i < count; i++)
        {
            const uint32_t index = ref_base + i;
            int64_t node_id;
            const uint8_t status = model_apply(&m, &records[i], outcomes, index, ref_base, g_results[index].status, &node_id);
            outcomes[index] = (model_outcome){records[i].template_id, status, node_id};
            by_status[g_results[index].status]++;
            walked++;
            CHECK(g_results[index].status == status && g_results[index].node_id == node_id && g_results[index].template_id == records[i].template_id,
                  "seed 0x%" PRIx64 " batch %ld record %u (template %u, id %" PRId64 ", ref %u): %s node %" PRId64 ", the model says %s node %" PRId64,
                  seed, batch, i, records[i].template_id, records[i].node_id, records[i].create_ref, status_name(g_results[index].status),
                  g_results[index].node_id, status_name(status), node_id);
        }
        CHECK(model_matches(store, &m, why, sizeof why), "seed 0x%" PRIx64 " batch %ld: %s", seed, batch, why);
    }
    printf("reuse model: %ld batches (seed 0x%" PRIx64 ", SPATE_REUSE_ITERATIONS, SPATE_REUSE_SEED), %ld records, %ld reloads; by status:",
           iterations, seed, walked, reloads);
    for (int status = 0; status <= SPATE_STATUS_UNKNOWN_TEMPLATE; status++)
    {
        if (by_status[status] != 0)
        {
            printf(" %s %ld", status_name(status), by_status[status]);
        }
    }
    compactions += stats_of(store, T_MODEL).arena_compactions;
    retired += stats_of(store, T_MODEL).retired_slots;
    printf("; %" PRIu64 " compactions, %" PRId64 " slots retired, %ld updates past the room written in their blocks\n", compactions,
           retired, g_model_written_in_place);
    buffer_free(&b);
    spate_store_close(store);
}

/* ------------------------------------------------------------------------------------------ */
/* A reader thread against a writer: no torn reads                                             */
/* ------------------------------------------------------------------------------------------ */

enum
{
    PATTERN_NODES = 5,
    RING_IDS = 256,
    PATTERN_BIG_STRING = 3000, /* the longest value of the pattern type concurrent_reuse opens with big values */
    PATTERN_OUT_BYTES = PATTERN_ROW_BYTES + 4 + PATTERN_BIG_STRING,
};

/* The longest pattern value of the pattern type in use (set by the writer before the reader starts). */
static uint32_t g_pattern_max_string = PATTERN_MAX_STRING;

/*
 * The pattern a node of the pattern type holds: every field is a function of a counter value and
 * of the node's own id (P_U64 = value, P_I64 = the id, P_U32 and the string mixed from both), so a
 * copy that mixes two writes of a node, or holds any byte of another node, does not check out.
 */
static uint32_t pattern_mix(uint64_t value, int64_t node_id)
{
    return (uint32_t)(value * UINT64_C(0x9E3779B97F4A7C15) >> 32) ^ (uint32_t)node_id ^ (uint32_t)((uint64_t)node_id >> 32);
}

static uint32_t pattern_length(uint64_t value, int64_t node_id)
{
    return 1 + (uint32_t)((value * 7 + (uint64_t)node_id) % g_pattern_max_string);
}

static uint8_t pattern_byte(uint64_t value, int64_t node_id, uint32_t i)
{
    return (uint8_t)(value + (uint64_t)node_id * 31 + (uint64_t)node_id / 253 + i);
}

static bool pattern_consistent(const uint8_t *out, int64_t length, int64_t node_id, char *error, size_t error_size)
{
    if (length < PATTERN_ROW_BYTES + 4)
    {
        snprintf(error, error_size, "node %" PRId64 ": length %" PRId64, node_id, length);
        return false;
    }
    uint64_t a;
    uint32_t b;
    int64_t c;
    uint32_t string_length;
    memcpy(&a, out, 8);
    memcpy(&b, out + 8, 4);
    memcpy(&c, out + 12, 8);
    memcpy(&string_length, out + PATTERN_ROW_BYTES, 4);
    bool ok = c == node_id && b == pattern_mix(a, node_id) && string_length == pattern_length(a, node_id) &&
              length == PATTERN_ROW_BYTES + 4 + (int64_t)string_length;
    for (uint32_t i = 0; ok && i < string_length; i++)
    {
        ok = out[PATTERN_ROW_BYTES + 4 + i] == pattern_byte(a, node_id, i);
    }
    if (!ok)
    {
        snprintf(error, error_size, "node %" PRId64 ": a=%" PRIu64 " b=%u c=%" PRId64 " length=%u total=%" PRId64, node_id, a, b, c,
                 string_length, length);
    }
    return ok;
}

static void pattern_fields_for(uint64_t value, int64_t node_id, uint8_t *text, uint32_t *u32, var_value *fields)
{
    const uint32_t length = pattern_length(value, node_id);
    for (uint32_t i = 0; i < length; i++)
    {
        text[i] = pattern_byte(value, node_id, i);
    }
    *u32 = pattern_mix(value, node_id);
    fields[0] = (var_value){P_STRING, text, length};
}

static void put_pattern_update(buffer *b, int64_t node_id, uint64_t value)
{
    uint8_t text[PATTERN_BIG_STRING];
    uint32_t u32;
    var_value fields[4];
    pattern_fields_for(value, node_id, text, &u32, fields);
    fields[1] = (var_value){P_U64, &value, 8};
    fields[2] = (var_value){P_U32, &u32, 4};
    fields[3] = (var_value){P_I64, &node_id, 8};
    put_update(b, node_id, 0, T_PATTERN, fields, 4);
}

static void put_pattern_create(buffer *b, int64_t node_id, uint64_t value)
{
    uint8_t text[PATTERN_BIG_STRING];
    uint32_t u32;
    var_value fields[1];
    pattern_fields_for(value, node_id, text, &u32, fields);
    uint8_t row[PATTERN_ROW_BYTES];
    memcpy(row, &value, 8);
    memcpy(row + 8, &u32, 4);
    memcpy(row + 12, &node_id, 8);
    put_create(b, node_id, T_PATTERN, fields, 1, row, PATTERN_ROW_BYTES);
}

/*
 * The reader thread. It reads the hot nodes (always live: they must read, consistent) and ids the
 * writer may be creating, updating and deleting at that moment: missing is fine, a torn copy or a
 * copy of another node (every field checks against the id asked for) is not. With rings (reuse):
 * ids the writer created lately, with their generation sometimes one off (a stale or a future id
 * of a reused slot), and ids it deleted (published after the delete applied: gone for good, so
 * they must never read as a node again).
 */
typedef struct reader_state
{
    spate_store *store;
    uint32_t slot_bits;
    _Atomic int64_t *created;   /* RING_IDS ids, or NULL: read slots up to the high water instead */
    _Atomic int64_t *deleted;   /* RING_IDS ids (0: none yet) */
    atomic_bool stop;
    long reads;
    long torn;
    long missing;
    long stale;
    long deleted_reads;
    char first_error[256];
} reader_state;

static void reader_note(reader_state *state, long *counter, const char *what, const char *error)
{
    if ((*counter)++ == 0)
    {
        snprintf(state->first_error, sizeof state->first_error, "%s: %s", what, error);
    }
}

static void *reader_main(void *argument)
{
    reader_state *state = argument;
    uint8_t out[PATTERN_OUT_BYTES];
    char error[200];
    uint64_t random = 0x9E3779B97F4A7C15u;
    while (!atomic_load(&state->stop))
    {
        random = random * 6364136223846793005u + 1442695040888963407u;
        const uint32_t pick = (uint32_t)(random >> 60); /* 0..15 */
        if (pick < 7)
        {
            const int64_t node_id = 1 + (int64_t)((random >> 33) % PATTERN_NODES);
            const int64_t length = spate_store_get(state->store, T_PATTERN, node_id, out, sizeof out);
            if (length < 0 || spate_store_exists(state->store, T_PATTERN, node_id) != 1 ||
                spate_store_count(state->store, T_PATTERN) < PATTERN_NODES)
            {
                snprintf(error, sizeof error, "hot node %" PRId64 ": %" PRId64, node_id, length);
                reader_note(state, &state->missing, "missing", error);
                continue;
            }
            state->reads++;
            if (!pattern_consistent(out, length, node_id, error, sizeof error))
            {
                reader_note(state, &state->torn, "torn", error);
            }
            continue;
        }
        if (state->deleted != NULL && pick >= 13)
        {
            const int64_t node_id = atomic_load_explicit(&state->deleted[(random >> 24) % RING_IDS], memory_order_acquire);
            if (node_id == 0)
            {
                continue;
            }
            const int64_t length = spate_store_get(state->store, T_PATTERN, node_id, out, sizeof out);
            const int32_t node_state = spate_store_node_state(state->store, T_PATTERN, node_id);
            state->deleted_reads++;
            if (length != SPATE_ERROR_NO_SUCH_NODE || node_state != SPATE_NODE_GONE ||
                spate_store_exists(state->store, T_PATTERN, node_id) != 0)
            {
                snprintf(error, sizeof error, "deleted id %" PRId64 ": get %" PRId64 ", state %d", node_id, length, node_state);
                reader_note(state, &state->stale, "stale", error);
            }
            continue;
        }
        int64_t node_id;
        if (state->created != NULL)
        {
            node_id = atomic_load_explicit(&state->created[(random >> 24) % RING_IDS], memory_order_acquire);
            const uint32_t shift = (uint32_t)(random >> 16) % 8;
            if (shift == 0 && node_id >> state->slot_bits > 0)
            {
                node_id -= INT64_C(1) << state->slot_bits; /* a stale id of the slot */
            }
            else if (shift == 1)
            {
                node_id += INT64_C(1) << state->slot_bits; /* a future one, maybe taken by now */
            }
        }
        else
        {
            spate_type_stats stats;
            REQUIRE(spate_store_type_stats(state->store, T_PATTERN, &stats) == 0);
            node_id = 1 + (int64_t)((random >> 20) % (uint64_t)stats.high_water_slot);
        }
        if (node_id <= 0)
        {
            continue;
        }
        const int64_t length = spate_store_get(state->store, T_PATTERN, node_id, out, sizeof out);
        if (length == SPATE_ERROR_NO_SUCH_NODE)
        {
            continue;
        }
        state->reads++;
        if (length < 0 || !pattern_consistent(out, length, node_id, error, sizeof error))
        {
            if (length < 0)
            {
                snprintf(error, sizeof error, "node %" PRId64 ": get %" PRId64, node_id, length);
            }
            reader_note(state, &state->torn, "torn", error);
        }
    }
    return NULL;
}

static void test_concurrent_reader(void)
{
    const char *updates_text = getenv("SPATE_CONCURRENT_UPDATES");
    const long updates = updates_text != NULL ? atol(updates_text) : 2000000;
    spate_store *store = open_standard();
    buffer b = buffer_new(1 << 20);
    for (int i = 1; i <= PATTERN_NODES; i++)
    {
        put_pattern_create(&b, i, 0);
    }
    CHECK(apply_all_ok(store, &b), "pattern nodes");

    reader_state state = {.store = store, .slot_bits = stats_of(store, T_PATTERN).slot_bits};
    atomic_init(&state.stop, false);
    pthread_t reader;
    CHECK(pthread_create(&reader, NULL, reader_main, &state) == 0, "start reader");
    /*
     * Per batch: updates of the hot nodes, and one node created, updated, and the one created two
     * batches before deleted. Every 8th create skips a slot, so the reader also reads ids skipped
     * while rows next to them are written.
     */
    const int batch = 500;
    const long batches = (updates + batch - 1) / batch;
    REQUIRE(PATTERN_NODES + batches + batches / 8 + 1 <= PATTERN_MAX_NODES);
    uint64_t value = 1;
    int64_t created = PATTERN_NODES;
    int64_t created_before[2] = {0, 0}; /* two batches ago, one batch ago */
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    bool failed = false;
    for (long done = 0; done < updates && !failed; done += batch)
    {
        b.length = 0;
        created += done / batch % 8 == 7 ? 2 : 1;
        put_pattern_create(&b, created, value++);
        for (int i = 0; i < batch; i++, value++)
        {
            const int64_t node_id = i % 50 == 0 ? created : 1 + (int64_t)(value % PATTERN_NODES);
            put_pattern_update(&b, node_id, value);
        }
        if (created_before[0] != 0)
        {
            put_delete(&b, created_before[0], 0, T_PATTERN);
        }
        created_before[0] = created_before[1];
        created_before[1] = created;
        failed = !apply_all_ok(store, &b);
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    atomic_store(&state.stop, true);
    pthread_join(reader, NULL);
    CHECK(!failed, "a writer batch failed");
    const double seconds = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    printf("concurrent: %ld updates, %ld creates and deletes in %.2f s; %ld consistent reads alongside\n", updates, batches,
           seconds, state.reads);
    CHECK(state.torn == 0, "%ld torn reads, first: %s", state.torn, state.first_error);
    CHECK(state.missing == 0, "%ld reads saw a live node missing or a wrong count: %s", state.missing, state.first_error);
    CHECK(state.reads > 0, "the reader read something");
    CHECK(spate_store_count(store, T_PATTERN) == PATTERN_NODES + 2, "count: the hot nodes and the last two created");
    uint8_t out[PATTERN_OUT_BYTES];
    char error[200] = "";
    for (int64_t id = 1; id <= high_water(store, T_PATTERN); id++)
    {
        const int64_t length = spate_store_get(store, T_PATTERN, id, out, sizeof out);
        CHECK(length == SPATE_ERROR_NO_SUCH_NODE || (length > 0 && pattern_consistent(out, length, id, error, sizeof error)),
              "final node %" PRId64 ": %s", id, error);
    }
    buffer_free(&b);
    spate_store_close(store);
}

/*
 * The reader against a writer that reuses slots: churn nodes are deleted and created again in the
 * same slots (the next generation, or one further), values grow and shrink in an arena too small
 * to keep up without compactions, while the reader reads old and new ids of those slots. With
 * values up to max_string bytes; with long ones, compactions give pages past the new top back to
 * the kernel (MADV_DONTNEED) under the reader.
 */
enum
{
    REUSE_CHURN_SLOTS = 40,
    REUSE_MAX_NODES = 48,
};

static void concurrent_reuse(uint32_t max_string, long ops)
{
    const schema_field fields[] = {
        {P_U64, io_spate_wire_fieldKind_U64, 0, 8},
        {P_U32, io_spate_wire_fieldKind_U32, 8, 4},
        {P_I64, io_spate_wire_fieldKind_I64, 12, 8},
        {P_STRING, io_spate_wire_fieldKind_STRING, 0, max_string},
    };
    REQUIRE(max_string <= PATTERN_BIG_STRING);
    g_pattern_max_string = max_string;
    /* Every live value in its largest block, and an Update's new one: never ARENA_FULL, often compacted. */
    const schema_type type = {T_PATTERN, REUSE_MAX_NODES, (int64_t)(PATTERN_NODES + REUSE_CHURN_SLOTS + 1) * block_bytes(max_string),
                              PATTERN_ROW_BYTES, fields, 4};
    buffer b = buffer_new(1 << 22);
    put_store_schema(&b, SCHEMA_HASH, &type, 1);
    spate_store *store = NULL;
    CHECK(spate_store_open(b.data, b.length, &store) == 0, "open");
    const uint32_t slot_bits = stats_of(store, T_PATTERN).slot_bits;

    /* Slots 1..5: the hot nodes; 6..: churn slots, each with its live id (0: none) and the id it takes next. */
    int64_t churn_live[REUSE_CHURN_SLOTS], churn_next[REUSE_CHURN_SLOTS];
    b.length = 0;
    for (int i = 1; i <= PATTERN_NODES; i++)
    {
        put_pattern_create(&b, i, 0);
    }
    for (int k = 0; k < REUSE_CHURN_SLOTS; k++)
    {
        churn_next[k] = PATTERN_NODES + 1 + k;
        churn_live[k] = 0;
    }
    CHECK(apply_all_ok(store, &b), "hot nodes");

    static _Atomic int64_t created_ring[RING_IDS], deleted_ring[RING_IDS];
    for (int i = 0; i < RING_IDS; i++)
    {
        atomic_init(&created_ring[i], 1 + i % PATTERN_NODES);
        atomic_init(&deleted_ring[i], 0);
    }
    reader_state state = {.store = store, .slot_bits = slot_bits, .created = created_ring, .deleted = deleted_ring};
    atomic_init(&state.stop, false);
    pthread_t reader;
    CHECK(pthread_create(&reader, NULL, reader_main, &state) == 0, "start reader");

    uint64_t random = 0xC0FFEE1234567ULL, value = 1;
    long done = 0, creates = 0, deletes = 0, created_next = 0, deleted_next = 0;
    int64_t batch_created[256], batch_deleted[256];
    bool failed = false;
    char why[256] = "";
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (done < ops && !failed)
    {
        b.length = 0;
        int created_count = 0, deleted_count = 0, records = 0;
        int64_t expected_ids[256];
        /* Deletes and creates in the same slots (a slot deleted then taken again in one batch, often), updates between. */
        for (int r = 0; r < 200; r++, records++)
        {
            random ^= random << 13;
            random ^= random >> 7;
            random ^= random << 17;
            const int k = (int)(random % REUSE_CHURN_SLOTS);
            const uint32_t op = (uint32_t)(random >> 40) % 10;
            expected_ids[r] = -1; /* not a Create */
            if (op < 2 && churn_live[k] != 0)
            {
                put_delete(&b, churn_live[k], 0, T_PATTERN);
                batch_deleted[deleted_count++] = churn_live[k];
                churn_next[k] = churn_live[k] + (INT64_C(1) << slot_bits) * (1 + (int64_t)((random >> 50) % 4 == 0));
                churn_live[k] = 0;
                deletes++;
            }
            else if (op < 4 && churn_live[k] == 0)
            {
                put_pattern_create(&b, churn_next[k], value++);
                expected_ids[r] = churn_next[k];
                batch_created[created_count++] = churn_next[k];
                churn_live[k] = churn_next[k];
                creates++;
            }
            else
            {
                const int64_t node_id = op < 7 && churn_live[k] != 0 ? churn_live[k] : 1 + (int64_t)(random >> 33) % PATTERN_NODES;
                put_pattern_update(&b, node_id, value++);
            }
        }
        const int64_t n = apply(store, &b);
        failed = n != records;
        for (int64_t i = 0; i < n && !failed; i++)
        {
            failed = g_results[i].status != SPATE_STATUS_OK || (expected_ids[i] >= 0 && g_results[i].node_id != expected_ids[i]);
            if (failed)
            {
                snprintf(why, sizeof why, "record %" PRId64 ": %s node %" PRId64, i, status_name(g_results[i].status), g_results[i].node_id);
            }
        }
        /* Published after the apply: a deleted id read from the ring is gone for good. */
        for (int i = 0; i < deleted_count; i++)
        {
            atomic_store_explicit(&deleted_ring[deleted_next++ % RING_IDS], batch_deleted[i], memory_order_release);
        }
        for (int i = 0; i < created_count; i++)
        {
            atomic_store_explicit(&created_ring[created_next++ % RING_IDS], batch_created[i], memory_order_release);
        }
        done += records;
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    atomic_store(&state.stop, true);
    pthread_join(reader, NULL);
    CHECK(!failed, "a writer batch failed: %s", why);
    const spate_type_stats stats = stats_of(store, T_PATTERN);
    const double seconds = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    printf("concurrent reuse: values up to %u bytes, %ld records (%ld creates, %ld deletes in %d slots, high water %" PRId64 "), %" PRIu64
           " compactions in %.2f s; %ld consistent reads, %ld reads of deleted ids alongside\n", max_string,
           done, creates, deletes, REUSE_CHURN_SLOTS, stats.high_water_slot, stats.arena_compactions, seconds, state.reads,
           state.deleted_reads);
    CHECK(state.torn == 0, "%ld torn reads or bytes of another node, first: %s", state.torn, state.first_error);
    CHECK(state.stale == 0, "%ld reads of a deleted id found a node: %s", state.stale, state.first_error);
    CHECK(state.missing == 0, "%ld reads saw a live node missing or a wrong count: %s", state.missing, state.first_error);
    CHECK(state.reads > 0 && state.deleted_reads > 0, "the reader read something");
    CHECK(stats.arena_compactions > 0 || ops < 100000, "the arena was compacted under the reader");
    CHECK(stats.high_water_slot <= PATTERN_NODES + REUSE_CHURN_SLOTS, "slots were reused, never new ones");
    uint8_t out[PATTERN_OUT_BYTES];
    char error[200] = "";
    int64_t live = PATTERN_NODES;
    for (int k = 0; k < REUSE_CHURN_SLOTS; k++)
    {
        if (churn_live[k] != 0)
        {
            live++;
            const int64_t length = spate_store_get(store, T_PATTERN, churn_live[k], out, sizeof out);
            CHECK(length > 0 && pattern_consistent(out, length, churn_live[k], error, sizeof error), "final %s", error);
        }
        CHECK(spate_store_node_state(store, T_PATTERN, churn_next[k]) == (churn_live[k] != 0 ? SPATE_NODE_LIVE : SPATE_NODE_NOT_ISSUED),
              "slot %d: its next id", k);
    }
    CHECK(spate_store_count(store, T_PATTERN) == live, "count");
    CHECK(checksum_of(store, T_PATTERN) == reference_checksum(store, T_PATTERN, PATTERN_ROW_BYTES, 1), "checksum");
    buffer_free(&b);
    spate_store_close(store);
    g_pattern_max_string = PATTERN_MAX_STRING;
}

/* SPATE_CONCURRENT_REUSE_OPS (default 4000000) records with values up to 64 bytes, a quarter as many up to 3000. */
static void test_concurrent_reuse(void)
{
    const char *ops_text = getenv("SPATE_CONCURRENT_REUSE_OPS");
    const long ops = ops_text != NULL ? atol(ops_text) : 4000000;
    concurrent_reuse(PATTERN_MAX_STRING, ops);
    concurrent_reuse(PATTERN_BIG_STRING, ops / 4);
}

/* ------------------------------------------------------------------------------------------ */

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct
    {
        const char *name;
        void (*run)(void);
    } tests[] = {
        {"schema validation", test_schema_validation},
        {"round trip, all kinds", test_round_trip_all_kinds},
        {"update", test_update},
        {"delete", test_delete},
        {"increment", test_increment},
        {"createRef", test_create_ref},
        {"statuses", test_statuses},
        {"explicit ids", test_explicit_ids},
        {"far skip", test_far_skip},
        {"walk", test_walk},
        {"huge slice", test_huge_slice},
        {"get and reserve", test_get_and_reserve},
        {"truncation", test_truncation},
        {"schema fuzz", test_schema_fuzz},
        {"fuzz", test_fuzz},
        {"snapshot round trip", test_snapshot_round_trip},
        {"snapshot of nothing", test_snapshot_empty},
        {"snapshot refusals", test_snapshot_refusals},
        {"snapshot truncation", test_snapshot_truncation},
        {"snapshot damage", test_snapshot_damage},
        {"snapshot fuzz", test_snapshot_fuzz},
        {"snapshot far skip", test_snapshot_far_skip},
        {"checksum", test_checksum},
        {"slot reuse", test_slot_reuse},
        {"retirement", test_retirement},
        {"arena churn", test_arena_churn},
        {"arena drift", test_arena_drift},
        {"arena compaction", test_arena_compaction},
        {"arena tricky update", test_arena_tricky_update},
        {"reuse model", test_reuse_model},
        {"concurrent reader", test_concurrent_reader},
        {"concurrent reuse", test_concurrent_reuse},
    };
    int tests_passed = 0, tests_failed = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
    {
        const long failed_before = g_failed;
        struct timespec start, end;
        clock_gettime(CLOCK_MONOTONIC, &start);
        tests[i].run();
        clock_gettime(CLOCK_MONOTONIC, &end);
        const double seconds = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
        const bool ok = g_failed == failed_before;
        tests_passed += ok ? 1 : 0;
        tests_failed += ok ? 0 : 1;
        printf("%-24s %s (%.2f s)\n", tests[i].name, ok ? "ok" : "FAILED", seconds);
    }
    printf("%ld checks passed, %ld failed\n", g_passed, g_failed);
    printf("%d passed, %d failed\n", tests_passed, tests_failed);
    return tests_failed == 0 ? 0 : 1;
}
