/*
 * Tests of the native store through its public API, with messages encoded by the generated SBE
 * C encoders. Plain checks; exits non-zero when any fails. Also run under ASan+UBSan.
 *
 * Environment: SPATE_FUZZ_ITERATIONS (default 1000000), SPATE_FUZZ_SEED (default fixed),
 * SPATE_CONCURRENT_UPDATES (default 2000000), SPATE_SNAPSHOT_FUZZ_ITERATIONS (default 20000).
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
    CHECK(spate_store_next_id(store, T_ALL) == 1, "ids from 1");
    CHECK(spate_store_next_id(store, T_EMPTY) == 1, "empty type");
    CHECK(spate_store_count(store, 4) == SPATE_ERROR_UNKNOWN_TYPE, "unknown type count");
    CHECK(spate_store_next_id(store, 65535) == SPATE_ERROR_UNKNOWN_TYPE, "unknown type next id");
    CHECK(spate_store_exists(store, 0, 1) == SPATE_ERROR_UNKNOWN_TYPE, "unknown type exists");
    spate_store_close(store);
    spate_store_close(NULL);

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
    CHECK(spate_store_next_id(store, T_ALL) == 2, "next id");

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
    CHECK(g_results[10].node_id == 4, "ids are never reused: the next create gets 4, not 2");
    CHECK(spate_store_count(store, T_ALL) == 3, "count 3");
    CHECK(spate_store_exists(store, T_ALL, 2) == 0 && spate_store_exists(store, T_ALL, 1) == 1, "exists");
    uint8_t out[256];
    CHECK(get_node(store, T_ALL, 2, out, sizeof out) == SPATE_ERROR_NO_SUCH_NODE, "get of a deleted node");
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

    /* ID_MISMATCH (an id below the next one: negative, or consumed already): not consumed. */
    b.length = 0;
    put_create(&b, INT64_MIN, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, -5, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, 1, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, 1, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    CHECK(apply(store, &b) == 4, "4");
    CHECK(g_results[0].status == SPATE_STATUS_ID_MISMATCH && g_results[0].node_id == 0, "most negative id");
    CHECK(g_results[1].status == SPATE_STATUS_ID_MISMATCH && g_results[1].node_id == 0, "negative id");
    CHECK(g_results[2].status == SPATE_STATUS_OK && g_results[2].node_id == 1, "then 1 is still next");
    CHECK(g_results[3].status == SPATE_STATUS_ID_MISMATCH, "1 again");

    /* Validation failures of a Create with the right id consume it (never-live tombstones). */
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
    CHECK(spate_store_next_id(store, T_ALL) == 7 && spate_store_count(store, T_ALL) == 2, "ids 2..5 consumed, 2 live");
    for (int id = 2; id <= 5; id++)
    {
        CHECK(spate_store_exists(store, T_ALL, id) == 0, "tombstone %d not live", id);
        b.length = 0;
        put_update(&b, id, 0, T_ALL, NULL, 0);
        CHECK(apply_one(store, &b, NULL) == SPATE_STATUS_NO_SUCH_NODE, "tombstone %d cannot be updated", id);
        b.length = 0;
        put_delete(&b, id, 0, T_ALL);
        CHECK(apply_one(store, &b, NULL) == SPATE_STATUS_NO_SUCH_NODE, "tombstone %d cannot be deleted", id);
    }
    CHECK(spate_store_count(store, T_ALL) == 2, "count unchanged");

    /* TYPE_FULL and ARENA_FULL on the small type (3 nodes, 16 arena bytes). */
    create_small(store, 1, "0123456789", &node_id, &status);
    CHECK(status == SPATE_STATUS_OK && node_id == 1, "small 1");
    create_small(store, 2, "0123456789", &node_id, &status);
    CHECK(status == SPATE_STATUS_ARENA_FULL && node_id == 2, "arena full consumes id 2: %s", status_name(status));
    create_small(store, 3, "012345", &node_id, &status);
    CHECK(status == SPATE_STATUS_OK && node_id == 3, "6 more bytes fit exactly");
    create_small(store, 4, "", &node_id, &status);
    CHECK(status == SPATE_STATUS_TYPE_FULL && node_id == 0, "type full: %s", status_name(status));
    CHECK(spate_store_next_id(store, T_SMALL) == 4, "a full type consumes nothing");
    b.length = 0;
    put_create(&b, 4, T_SMALL, NULL, 0, row, SMALL_ROW_BYTES);
    CHECK(apply_one(store, &b, &node_id) == SPATE_STATUS_TYPE_FULL && node_id == 0, "explicit id 4 on a full type");
    b.length = 0;
    put_create(&b, 4, T_SMALL, NULL, 0, row, SMALL_ROW_BYTES + 1);
    CHECK(apply_one(store, &b, &node_id) == SPATE_STATUS_MALFORMED && node_id == 0, "static status first on a full type");
    const var_value shorter = {S_STRING, "abc", 3};
    const var_value longer = {S_STRING, "0123456789A", 11};
    b.length = 0;
    put_update(&b, 1, 0, T_SMALL, &shorter, 1);
    put_update(&b, 1, 0, T_SMALL, &longer, 1);
    put_update(&b, 1, 0, T_SMALL, &(var_value){S_STRING, "0123456789", 10}, 1);
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
    const int64_t next_before = spate_store_next_id(store, T_ALL);
    CHECK(apply(store, &b) == 7, "7");
    const uint8_t statics[] = {SPATE_STATUS_UNKNOWN_FIELD, SPATE_STATUS_MALFORMED, SPATE_STATUS_WRONG_FIELD_KIND,
                               SPATE_STATUS_UNKNOWN_FIELD, SPATE_STATUS_UNKNOWN_TYPE, SPATE_STATUS_UNKNOWN_FIELD, SPATE_STATUS_MALFORMED};
    for (int i = 0; i < 7; i++)
    {
        CHECK(g_results[i].status == statics[i] && g_results[i].node_id == 0, "static first %d: %s node %" PRId64, i,
              status_name(g_results[i].status), g_results[i].node_id);
    }
    CHECK(spate_store_next_id(store, T_ALL) == next_before, "a Create with a wrong id consumes nothing, whatever its status");

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
    CHECK(spate_store_next_id(store, T_ALL) == 9, "mismatched creates consumed nothing");

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
    CHECK(spate_store_next_id(store, T_ALL) == 12, "ids 9, 10, 11 consumed: next %" PRId64, spate_store_next_id(store, T_ALL));
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

    /* Ahead of the next id: taken as it is, the ids between skipped; createRef names the id taken. */
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
    CHECK(spate_store_next_id(store, T_ALL) == 7 && spate_store_count(store, T_ALL) == 3, "next 7, 3 live");
    const int64_t length = get_node(store, T_ALL, 5, out, sizeof out);
    uint32_t var_length;
    const uint8_t *value = get_var(out, length, ALL_ROW_BYTES, 0, &var_length);
    CHECK(read_all_row(out).u32 == 0xABCD + 2 && read_all_row(out).i64 == -3 && var_length == 4 && memcmp(value, "five", 4) == 0,
          "node 5 as created and incremented");
    for (int64_t gap = 2; gap <= 4; gap++)
    {
        CHECK(never_live(store, T_ALL, gap, F_U32), "skipped id %" PRId64 " is never live", gap);
    }

    /* Below the next id (skipped, taken, or deleted): ID_MISMATCH, nothing consumed. */
    b.length = 0;
    put_delete(&b, 6, 0, T_ALL);
    put_create(&b, 3, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, 5, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, 6, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, -1, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    CHECK(apply(store, &b) == 5 && g_results[0].status == SPATE_STATUS_OK, "delete 6");
    for (int i = 1; i < 5; i++)
    {
        CHECK(g_results[i].status == SPATE_STATUS_ID_MISMATCH && g_results[i].node_id == 0, "backwards %d: %s", i,
              status_name(g_results[i].status));
    }
    CHECK(spate_store_next_id(store, T_ALL) == 7 && spate_store_count(store, T_ALL) == 2, "nothing consumed");
    CHECK(never_live(store, T_ALL, 3, F_U32) && never_live(store, T_ALL, 6, F_U32), "3 and 6 stay dead");

    /* A Create that fails after its id is settled consumes the id and the skipped ones; one that
       fails before (id below the next, or past maxNodes) consumes nothing, whatever its status. */
    b.length = 0;
    put_create(&b, 10, T_ALL, &(var_value){55, "x", 1}, 1, row, ALL_ROW_BYTES);  /* UNKNOWN_FIELD, consumes 7..10 */
    put_create(&b, 12, T_ALL, NULL, 0, row, ALL_ROW_BYTES - 1);                   /* MALFORMED row, consumes 11, 12 */
    put_create(&b, 9, T_ALL, &(var_value){55, "x", 1}, 1, row, ALL_ROW_BYTES);   /* below: UNKNOWN_FIELD, nothing */
    put_create(&b, ALL_MAX_NODES + 1, T_ALL, &(var_value){55, "x", 1}, 1, row, ALL_ROW_BYTES); /* past: UNKNOWN_FIELD */
    put_create(&b, 13, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    CHECK(apply(store, &b) == 5, "5");
    const uint8_t statuses[] = {SPATE_STATUS_UNKNOWN_FIELD, SPATE_STATUS_MALFORMED, SPATE_STATUS_UNKNOWN_FIELD,
                                SPATE_STATUS_UNKNOWN_FIELD, SPATE_STATUS_OK};
    const int64_t consumed[] = {10, 12, 0, 0, 13};
    for (int i = 0; i < 5; i++)
    {
        CHECK(g_results[i].status == statuses[i] && g_results[i].node_id == consumed[i], "failing %d: %s node %" PRId64, i,
              status_name(g_results[i].status), g_results[i].node_id);
    }
    CHECK(spate_store_next_id(store, T_ALL) == 14 && spate_store_count(store, T_ALL) == 3, "next 14, 3 live");
    for (int64_t id = 7; id <= 12; id++)
    {
        CHECK(never_live(store, T_ALL, id, F_U32), "id %" PRId64 " consumed, never live", id);
    }

    /* Past maxNodes on a type with room: TYPE_FULL, nothing consumed. */
    b.length = 0;
    put_create(&b, ALL_MAX_NODES + 1, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, INT64_MAX, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    CHECK(apply(store, &b) == 2, "2");
    CHECK(g_results[0].status == SPATE_STATUS_TYPE_FULL && g_results[0].node_id == 0, "maxNodes + 1: %s", status_name(g_results[0].status));
    CHECK(g_results[1].status == SPATE_STATUS_TYPE_FULL && g_results[1].node_id == 0, "INT64_MAX: %s", status_name(g_results[1].status));
    CHECK(spate_store_next_id(store, T_ALL) == 14, "nothing consumed");

    /* Exactly maxNodes: taken; the type is then full for every id, and the ids below stay dead. */
    b.length = 0;
    put_create(&b, ALL_MAX_NODES, T_ALL, &(var_value){F_STRING, "last", 4}, 1, row, ALL_ROW_BYTES);
    put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, ALL_MAX_NODES + 1, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, ALL_MAX_NODES, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&b, ALL_MAX_NODES - 1, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    CHECK(apply(store, &b) == 5, "5");
    CHECK(g_results[0].status == SPATE_STATUS_OK && g_results[0].node_id == ALL_MAX_NODES, "the last id: %s", status_name(g_results[0].status));
    CHECK(g_results[1].status == SPATE_STATUS_TYPE_FULL && g_results[1].node_id == 0, "0 on a full type");
    CHECK(g_results[2].status == SPATE_STATUS_TYPE_FULL && g_results[2].node_id == 0, "past maxNodes on a full type");
    CHECK(g_results[3].status == SPATE_STATUS_ID_MISMATCH && g_results[3].node_id == 0, "maxNodes again");
    CHECK(g_results[4].status == SPATE_STATUS_ID_MISMATCH && g_results[4].node_id == 0, "skipped, below");
    CHECK(spate_store_next_id(store, T_ALL) == ALL_MAX_NODES + 1 && spate_store_count(store, T_ALL) == 4, "full, 4 live");
    const int64_t last_length = get_node(store, T_ALL, ALL_MAX_NODES, out, sizeof out);
    value = get_var(out, last_length, ALL_ROW_BYTES, 0, &var_length);
    CHECK(var_length == 4 && memcmp(value, "last", 4) == 0, "the last node reads back");
    const int64_t gaps[] = {14, 15, ALL_MAX_NODES / 2, ALL_MAX_NODES - 1};
    for (size_t i = 0; i < sizeof gaps / sizeof gaps[0]; i++)
    {
        CHECK(never_live(store, T_ALL, gaps[i], F_U32), "gap id %" PRId64, gaps[i]);
    }
    CHECK(spate_store_exists(store, T_ALL, ALL_MAX_NODES + 1) == 0, "past maxNodes");
    CHECK(spate_store_get(store, T_ALL, ALL_MAX_NODES + 1, out, sizeof out) == SPATE_ERROR_NO_SUCH_NODE, "past maxNodes get");
    /* reserve after a skip: commits, changes nothing. */
    CHECK(spate_store_reserve(store, T_ALL, ALL_MAX_NODES) == 0, "reserve everything");
    CHECK(get_node(store, T_ALL, ALL_MAX_NODES, out, sizeof out) == last_length && never_live(store, T_ALL, 14, F_U32),
          "reserve changed nothing");

    /* The id is settled before the arena is checked: ARENA_FULL consumes a skipping id too. */
    b.length = 0;
    put_create(&b, 2, T_SMALL, &(var_value){S_STRING, "0123456789ABCDEF", 16}, 1, (uint32_t[]){7}, SMALL_ROW_BYTES);
    put_create(&b, 3, T_SMALL, &(var_value){S_STRING, "x", 1}, 1, (uint32_t[]){8}, SMALL_ROW_BYTES);
    put_create(&b, 0, T_SMALL, NULL, 0, (uint32_t[]){9}, SMALL_ROW_BYTES);
    CHECK(apply(store, &b) == 3, "3");
    CHECK(g_results[0].status == SPATE_STATUS_OK && g_results[0].node_id == 2, "small 2 fills the arena");
    CHECK(g_results[1].status == SPATE_STATUS_ARENA_FULL && g_results[1].node_id == 3, "arena full consumes 3: %s",
          status_name(g_results[1].status));
    CHECK(g_results[2].status == SPATE_STATUS_TYPE_FULL && g_results[2].node_id == 0, "then full");
    CHECK(spate_store_next_id(store, T_SMALL) == 4 && spate_store_count(store, T_SMALL) == 1, "small: next 4, 1 live");
    CHECK(never_live(store, T_SMALL, 1, S_U32) && never_live(store, T_SMALL, 3, S_U32), "small 1 and 3 never live");
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
    const uint64_t values[] = {1, 2, 3};
    b.length = 0;
    put_create(&b, 0, 7, NULL, 0, &values[0], 8);
    put_create(&b, half, 7, NULL, 0, &values[1], 8);
    put_increment(&b, half, 40, 0, 7, 1);
    put_create(&b, SPATE_MAX_NODES_PER_TYPE, 7, NULL, 0, &values[2], 8);
    put_create(&b, 0, 7, NULL, 0, &values[0], 8);
    CHECK(apply(store, &b) == 5, "5");
    CHECK(g_results[0].status == SPATE_STATUS_OK && g_results[0].node_id == 1, "1");
    CHECK(g_results[1].status == SPATE_STATUS_OK && g_results[1].node_id == half, "2^35");
    CHECK(g_results[2].status == SPATE_STATUS_OK, "increment 2^35");
    CHECK(g_results[3].status == SPATE_STATUS_OK && g_results[3].node_id == SPATE_MAX_NODES_PER_TYPE, "2^36");
    CHECK(g_results[4].status == SPATE_STATUS_TYPE_FULL, "full");
    CHECK(spate_store_next_id(store, 7) == SPATE_MAX_NODES_PER_TYPE + 1 && spate_store_count(store, 7) == 3, "next, count");
    uint64_t read_back = 0;
    CHECK(spate_store_get(store, 7, half, (uint8_t *)&read_back, 8) == 8 && read_back == 42, "2^35 reads back");
    CHECK(spate_store_get(store, 7, SPATE_MAX_NODES_PER_TYPE, (uint8_t *)&read_back, 8) == 8 && read_back == 3, "2^36 reads back");
    /* Reads and writes spread over the gaps (one id every 2^28, each in its own 2 MiB of rows). */
    b.length = 0;
    int writes = 0;
    for (int64_t id = 3; id < SPATE_MAX_NODES_PER_TYPE; id += INT64_C(1) << 28)
    {
        CHECK(spate_store_exists(store, 7, id) == 0, "gap id %" PRId64, id);
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
                const int64_t expected_next = frame >= 12 + 10 ? 2 : 1;
                CHECK(spate_store_next_id(store, T_ALL) == expected_next, "create cut at %zu: next id %" PRId64, frame,
                      spate_store_next_id(store, T_ALL));
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
    const int64_t next_all = spate_store_next_id(store, T_ALL);
    const int records = 1 + (int)random_below(8);
    for (int r = 0; r < records; r++)
    {
        const uint16_t type_id = random_below(4) == 0 ? T_SMALL : T_ALL;
        const int64_t some_id = (int64_t)random_below((uint32_t)next_all + 2);
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

/* Live nodes counted the slow way must match the store's count. */
static int64_t scan_live(spate_store *store, uint16_t type_id)
{
    int64_t live = 0;
    const int64_t next_id = spate_store_next_id(store, type_id);
    uint8_t out[512];
    for (int64_t id = 1; id < next_id; id++)
    {
        const int32_t exists = spate_store_exists(store, type_id, id);
        const int64_t got = spate_store_get(store, type_id, id, out, sizeof out);
        REQUIRE(exists == (got >= 0 ? 1 : 0));
        live += exists;
    }
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

enum
{
    IMAGE_HEADER_BYTES = 32,
    IMAGE_TYPE_HEADER_BYTES = 40,
    IMAGE_SEGMENT_HEADER_BYTES = 16,
};

static uint64_t checksum_of(spate_store *store, uint16_t type_id)
{
    uint64_t value = 0;
    REQUIRE(spate_store_checksum(store, type_id, &value) == 0);
    return value;
}

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
        memcpy(&stride, image + at + 4, 4);
        if (id == type_id)
        {
            return at;
        }
        const uint64_t arena_used = read_u64(image + at + 24);
        const uint64_t segments = read_u64(image + at + 32);
        at += IMAGE_TYPE_HEADER_BYTES;
        for (uint64_t s = 0; s < segments; s++)
        {
            at += IMAGE_SEGMENT_HEADER_BYTES + read_u64(image + at + 8) * stride;
        }
        at += (arena_used + 7) / 8 * 8;
    }
    return 0;
}

/* Where row id of a type is in an image (its segment holds it), or 0. */
static size_t image_row_offset(const uint8_t *image, uint64_t length, uint16_t type_id, int64_t id)
{
    const size_t type_at = image_type_offset(image, length, type_id);
    if (type_at == 0)
    {
        return 0;
    }
    uint32_t stride;
    memcpy(&stride, image + type_at + 4, 4);
    const uint64_t segments = read_u64(image + type_at + 32);
    size_t at = type_at + IMAGE_TYPE_HEADER_BYTES;
    for (uint64_t s = 0; s < segments; s++)
    {
        const int64_t first = (int64_t)read_u64(image + at);
        const uint64_t rows = read_u64(image + at + 8);
        if (id >= first && (uint64_t)(id - first) < rows)
        {
            return at + IMAGE_SEGMENT_HEADER_BYTES + (size_t)(id - first) * stride;
        }
        at += IMAGE_SEGMENT_HEADER_BYTES + rows * stride;
    }
    return 0;
}

/* The state every type of a store has right after open: what a failed load must leave. */
static bool is_empty(spate_store *store)
{
    for (size_t t = 0; t < STANDARD_TYPE_COUNT; t++)
    {
        if (spate_store_next_id(store, g_standard_type_ids[t]) != 1 || spate_store_count(store, g_standard_type_ids[t]) != 0)
        {
            return false;
        }
    }
    return spate_store_snapshot_length(store) == IMAGE_HEADER_BYTES + IMAGE_TYPE_HEADER_BYTES * (int64_t)STANDARD_TYPE_COUNT;
}

/*
 * Everything a reader can see of two stores of the standard schema: per type next id, count,
 * checksum, and every id's state and node copy. The first difference goes to why.
 */
static bool same_content(spate_store *a, spate_store *b, char *why, size_t why_size)
{
    uint8_t out_a[512], out_b[512];
    for (size_t t = 0; t < STANDARD_TYPE_COUNT; t++)
    {
        const uint16_t type_id = g_standard_type_ids[t];
        const int64_t next_id = spate_store_next_id(a, type_id);
        if (next_id != spate_store_next_id(b, type_id) || spate_store_count(a, type_id) != spate_store_count(b, type_id) ||
            checksum_of(a, type_id) != checksum_of(b, type_id))
        {
            snprintf(why, why_size, "type %u: next id %" PRId64 "/%" PRId64 ", count %" PRId64 "/%" PRId64 ", checksums differ: %d",
                     type_id, next_id, spate_store_next_id(b, type_id), spate_store_count(a, type_id), spate_store_count(b, type_id),
                     checksum_of(a, type_id) != checksum_of(b, type_id));
            return false;
        }
        for (int64_t id = -1; id <= next_id + 1; id++)
        {
            const int32_t state = spate_store_node_state(a, type_id, id);
            const int64_t length_a = spate_store_get(a, type_id, id, out_a, sizeof out_a);
            const int64_t length_b = spate_store_get(b, type_id, id, out_b, sizeof out_b);
            if (state != spate_store_node_state(b, type_id, id) || length_a != length_b ||
                (length_a > 0 && memcmp(out_a, out_b, (size_t)length_a) != 0))
            {
                snprintf(why, why_size, "type %u id %" PRId64 ": state %d/%d, length %" PRId64 "/%" PRId64, type_id, id, state,
                         spate_store_node_state(b, type_id, id), length_a, length_b);
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
 * count records that mostly apply, over every standard type: creates taking the next id or
 * skipping ahead (with far_skips, now and then by thousands of ids: 2 MiB of rows), updates of fixed
 * fields and of string/bytes values that grow (moved to new arena space) or shrink (in place),
 * increments, deletes; and some that fail (missing nodes, full arena or type, wrong kinds).
 */
static void random_records(buffer *b, spate_store *store, int count, bool far_skips)
{
    const uint32_t type_count = sizeof workload_types / sizeof workload_types[0];
    int64_t next[sizeof workload_types / sizeof workload_types[0]];
    uint32_t total_weight = 0;
    for (uint32_t t = 0; t < type_count; t++)
    {
        next[t] = spate_store_next_id(store, workload_types[t].type_id);
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
        for (size_t k = 0; k < sizeof bytes; k++)
        {
            bytes[k] = (uint8_t)next_random();
        }
        /* Half the time among the latest ids, so that a far skip does not leave only gaps to aim at. */
        const int64_t span = random_below(2) == 0 && next[t] > 64 ? 64 : next[t] - 1;
        const int64_t existing = span > 0 ? next[t] - 1 - (int64_t)random_below((uint32_t)span) : 1;
        var_value values[3];
        const uint32_t op = random_below(10);
        if (op < 4 || (type->field_count == 0 && op < 8))
        {
            int64_t id = 0;
            const uint32_t skip = random_below(100);
            if (skip == 0 && far_skips && type->max_nodes - next[t] > 64)
            {
                id = next[t] + 1 + (int64_t)random_below((uint32_t)((type->max_nodes - next[t]) / 16));
            }
            else if (skip < 15)
            {
                id = next[t] + (int64_t)random_below(3);
            }
            const uint16_t value_count = random_values(type, true, bytes, values);
            put_create(b, id, type->type_id, values, value_count, bytes + 16, type->row_length);
            const int64_t taken = id == 0 ? next[t] : id;
            if (taken >= next[t] && taken <= type->max_nodes)
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

static uint64_t reference_checksum(spate_store *store, uint16_t type_id, uint32_t row_length, uint32_t var_count)
{
    const int64_t next_id = spate_store_next_id(store, type_id);
    uint64_t hash = UINT64_C(0x5350415445483634);
    hash = reference_word(hash, type_id);
    hash = reference_word(hash, (uint64_t)next_id);
    hash = reference_word(hash, (uint64_t)spate_store_count(store, type_id));
    uint64_t never = 0;
    uint8_t out[512];
    for (int64_t id = 1; id < next_id; id++)
    {
        const int32_t state = spate_store_node_state(store, type_id, id);
        if (state == 0)
        {
            never++;
            continue;
        }
        if (never != 0)
        {
            hash = reference_word(reference_word(hash, 0), never);
            never = 0;
        }
        hash = reference_word(hash, (uint64_t)state);
        if (state == 1)
        {
            const int64_t length = spate_store_get(store, type_id, id, out, sizeof out);
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
            /* Over two 2 MiB of rows ahead (T_ALL rows are 104 bytes): the image has separate segments. */
            put_create(&b, spate_store_next_id(source, T_ALL) + 45000, T_ALL, &(var_value){F_BYTES, "far away", 8}, 1, row, ALL_ROW_BYTES);
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
    CHECK(spate_store_next_id(source, T_ALL) < ALL_MAX_NODES, "T_ALL not full");

    uint64_t length;
    uint8_t *image = take_snapshot(source, &length);
    const size_t all_at = image_type_offset(image, length, T_ALL);
    CHECK(all_at != 0 && read_u64(image + all_at + 32) >= 2, "T_ALL's rows are in separate segments");
    printf("snapshot: %ld records (%ld OK) over 5 types, T_ALL next id %" PRId64 ": image of %" PRIu64 " bytes, %" PRIu64
           " T_ALL segments\n", records, ok, spate_store_next_id(source, T_ALL), length, read_u64(image + all_at + 32));

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
    bad[8] = 2;
    CHECK(spate_store_snapshot_load(target, bad, length) == SPATE_ERROR_SNAPSHOT_VERSION, "version 2");
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
    CHECK(apply_one(target, &b, NULL) == SPATE_STATUS_UNKNOWN_FIELD && spate_store_next_id(target, T_ALL) == 2, "an id consumed");
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
    /* A never-live row inside a segment (a skipped id), and a deleted one. */
    uint8_t row[ALL_ROW_BYTES] = {0};
    const int64_t next = spate_store_next_id(source, T_ALL);
    const size_t tail = b.length;
    put_create(&b, next + 2, T_ALL, &(var_value){F_STRING, "abcdefgh", 8}, 1, row, ALL_ROW_BYTES);
    put_create(&b, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_delete(&b, next + 3, 0, T_ALL);
    buffer last = {b.data + tail, b.length - tail, b.length - tail};
    CHECK(apply(source, &last) == 3 && g_results[0].status == SPATE_STATUS_OK && g_results[2].status == SPATE_STATUS_OK, "setup");
    uint64_t length;
    uint8_t *image = take_snapshot(source, &length);
    const size_t all = image_type_offset(image, length, T_ALL);
    const size_t pattern = image_type_offset(image, length, T_PATTERN);
    const uint64_t slots = 8 + 48; /* T_ALL rows: 8-byte header, 44-byte row padded to 48, then 3 slots */
    const size_t rows = all + IMAGE_TYPE_HEADER_BYTES + IMAGE_SEGMENT_HEADER_BYTES; /* the first segment's */
    const size_t live_row = image_row_offset(image, length, T_ALL, next + 2);
    const size_t never_row = image_row_offset(image, length, T_ALL, next);      /* skipped */
    const size_t deleted_row = image_row_offset(image, length, T_ALL, next + 3);
    const uint64_t all_next = read_u64(image + all + 8);
    REQUIRE(all != 0 && pattern != 0 && live_row != 0 && never_row != 0 && deleted_row != 0 && all_next == (uint64_t)next + 4);
    REQUIRE(image[live_row] == 1 && image[never_row] == 0 && image[deleted_row] == 2);
    const uint64_t all_arena = read_u64(image + all + 24);
    const size_t string_slot = live_row + slots; /* F_STRING (10) is the first var field */
    REQUIRE(read_u64(image + string_slot) + 8 <= all_arena);

    const struct
    {
        const char *what;
        size_t at;
        int width; /* 1, 4 or 8 */
        uint64_t value;
    } cases[] = {
        {"state 3", live_row, 1, 3},
        {"state 255 on a never-live row", never_row, 1, 255},
        {"header byte", live_row + 3, 1, 1},
        {"row padding", live_row + 8 + ALL_ROW_BYTES, 1, 1},
        {"a never-live row not zero", never_row + 20, 1, 1},
        {"a never-live row with a slot", never_row + slots, 8, 1},
        {"length above capacity", string_slot + 8, 4, 9},
        {"capacity above the maximum", string_slot + 12, 4, 33},
        {"offset past the arena", string_slot, 8, all_arena - 7},
        {"offset far past the arena", string_slot, 8, UINT64_MAX - 3},
        {"a deleted row's slot past the arena", deleted_row + slots, 8, all_arena + 1},
        {"live count", all + 16, 8, (uint64_t)spate_store_count(source, T_ALL) + 1},
        {"live count negative", all + 16, 8, UINT64_MAX},
        {"next id 0", all + 8, 8, 0},
        {"next id past maxNodes + 1", all + 8, 8, ALL_MAX_NODES + 2},
        {"next id inside the segment", all + 8, 8, (uint64_t)next},
        {"type id unknown", all, 4, 4},
        {"type id reserved bytes", all + 2, 1, 1},
        {"type ids out of order", pattern, 4, T_ALL},
        {"stride", all + 4, 4, 112},
        {"arena used above maxArenaBytes", all + 24, 8, (1 << 24) + 8},
        {"arena used on a type without string fields", image_type_offset(image, length, T_EMPTY) + 24, 8, 8},
        {"arena used shorter", all + 24, 8, all_arena - 8},
        {"segment count", all + 32, 8, 2},
        {"segment count huge", all + 32, 8, UINT64_MAX},
        {"segment from id 0", rows - 16, 8, 0},
        {"segment from id -1", rows - 16, 8, UINT64_MAX},
        {"segment of no rows", rows - 8, 8, 0},
        {"segment past the next id", rows - 8, 8, all_next},
        {"segment of 2^63 rows", rows - 8, 8, UINT64_C(1) << 63},
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
    /* Damage in the last type, once the others are loaded: the store still ends empty, no trace. */
    uint8_t *bad = copy_of(image, length);
    bad[length - 1] = 1; /* T_NO_ARENA (the last type id) has no arena: its last bytes are a row */
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
            for (int64_t id = 1; id < spate_store_next_id(target, type->type_id); id++)
            {
                const int64_t got = spate_store_get(target, type->type_id, id, out, sizeof out);
                CHECK(got == SPATE_ERROR_NO_SUCH_NODE || (got >= type->row_length && got <= 256), "iteration %ld: get %" PRId64, iteration, got);
            }
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

    /* The same values placed differently in the arena: in place in a, moved in b. */
    buffer r = buffer_new(4096);
    put_create(&r, 0, T_ALL, &(var_value){F_STRING, "abcdef", 6}, 1, row, ALL_ROW_BYTES);
    put_update(&r, 1, 0, T_ALL, &(var_value){F_STRING, "abc", 3}, 1);
    CHECK(apply(a, &r) == 2, "a");
    r.length = 0;
    put_create(&r, 0, T_ALL, &(var_value){F_STRING, "xy", 2}, 1, row, ALL_ROW_BYTES);
    put_update(&r, 1, 0, T_ALL, &(var_value){F_STRING, "abc", 3}, 1);
    CHECK(apply(b, &r) == 2, "b");
    CHECK(checksum_of(a, T_ALL) == checksum_of(b, T_ALL), "arena placement does not count");
    uint64_t length_a, length_b;
    uint8_t *image_a = take_snapshot(a, &length_a);
    uint8_t *image_b = take_snapshot(b, &length_b);
    CHECK(length_a != length_b || memcmp(image_a, image_b, (size_t)length_a) != 0, "while the images differ");
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
    CHECK(apply(later, &r) == 2 && spate_store_next_id(later, T_SMALL) == 3 && spate_store_count(later, T_SMALL) == 1, "later");
    const uint64_t c_deleted = checksum_of(deleted, T_SMALL);
    const uint64_t c_never = checksum_of(never, T_SMALL);
    const uint64_t c_later = checksum_of(later, T_SMALL);
    CHECK(c_deleted != c_never && c_never != c_later && c_deleted != c_later, "deleted, never live, and their order count");

    /* The same never-live ids by a skip, or by refused Creates, in rows written or not: the same. */
    spate_store *skipped = open_standard();
    spate_store *refused = open_standard();
    r.length = 0;
    put_create(&r, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&r, 60000, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    CHECK(apply(skipped, &r) == 2 && g_results[1].status == SPATE_STATUS_OK, "skipped");
    r.length = 0;
    put_create(&r, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    put_create(&r, 3, T_ALL, &(var_value){99, "", 0}, 1, row, ALL_ROW_BYTES);
    put_create(&r, 59999, T_ALL, NULL, 0, row, ALL_ROW_BYTES - 1);
    put_create(&r, 0, T_ALL, NULL, 0, row, ALL_ROW_BYTES);
    CHECK(apply(refused, &r) == 4 && g_results[3].node_id == 60000, "refused");
    CHECK(checksum_of(skipped, T_ALL) == checksum_of(refused, T_ALL), "never-live runs");
    spate_store_close(skipped);
    spate_store_close(refused);
    spate_store_close(deleted);
    spate_store_close(never);
    spate_store_close(later);
    buffer_free(&r);
    spate_store_close(a);
    spate_store_close(b);
}

/*
 * A type of 2^36 ids with nodes at 1, 2^35 and 2^36: the image holds the 2 MiB of rows around
 * each (not 1 TiB), and checksums cross the gaps without visiting them.
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
    CHECK(length <= 32 + 40 + 3 * (16 + (2u << 20) + 16), "an image of %" PRIu64 " bytes", length);
    CHECK(spate_store_snapshot_load(copy, image, length) == 0, "load");
    const uint64_t checksum = checksum_of(source, 7);
    CHECK(checksum == checksum_of(copy, 7), "checksums");
    clock_gettime(CLOCK_MONOTONIC, &end);
    const double seconds = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    printf("snapshot far skip: image of %" PRIu64 " bytes for ids up to 2^36, write + load + 2 checksums in %.3f s\n", length, seconds);
    CHECK(spate_store_next_id(copy, 7) == SPATE_MAX_NODES_PER_TYPE + 1 && spate_store_count(copy, 7) == 2, "next id, count");
    uint64_t read_back = 0;
    CHECK(spate_store_get(copy, 7, SPATE_MAX_NODES_PER_TYPE, (uint8_t *)&read_back, 8) == 8 && read_back == 33, "2^36");
    CHECK(spate_store_node_state(copy, 7, half) == 2 && spate_store_node_state(copy, 7, half + 1) == 0, "2^35 deleted");
    CHECK(same_image(copy, image, length), "the copy's image");
    free(image);
    buffer_free(&b);
    spate_store_close(copy);
    spate_store_close(source);
}

/* ------------------------------------------------------------------------------------------ */
/* A reader thread against a writer: no torn reads                                             */
/* ------------------------------------------------------------------------------------------ */

enum
{
    PATTERN_NODES = 5,
};

typedef struct reader_state
{
    spate_store *store;
    atomic_bool stop;
    long reads;
    long torn;
    long missing;
    char first_error[256];
} reader_state;

static uint32_t pattern_length(uint64_t value)
{
    return 1 + (uint32_t)(value * 7 % PATTERN_MAX_STRING);
}

/* Every field of a node carries the same counter value; any mix of two writes shows. */
static bool pattern_consistent(const uint8_t *out, int64_t length, char *error, size_t error_size)
{
    uint64_t a;
    uint32_t b;
    int64_t c;
    uint32_t string_length;
    memcpy(&a, out, 8);
    memcpy(&b, out + 8, 4);
    memcpy(&c, out + 12, 8);
    memcpy(&string_length, out + PATTERN_ROW_BYTES, 4);
    bool ok = b == (uint32_t)a && c == (int64_t)a && string_length == pattern_length(a) &&
              length == PATTERN_ROW_BYTES + 4 + (int64_t)string_length;
    for (uint32_t i = 0; ok && i < string_length; i++)
    {
        ok = out[PATTERN_ROW_BYTES + 4 + i] == (uint8_t)a;
    }
    if (!ok)
    {
        snprintf(error, error_size, "a=%" PRIu64 " b=%u c=%" PRId64 " length=%u total=%" PRId64, a, b, c, string_length, length);
    }
    return ok;
}

/*
 * Reads the hot nodes (always live) and, as often, any id below next id: those are being created,
 * updated and deleted by the writer, so they may be missing, but never half written.
 */
static void *reader_main(void *argument)
{
    reader_state *state = argument;
    uint8_t out[256];
    uint64_t random = 0x9E3779B97F4A7C15u;
    while (!atomic_load(&state->stop))
    {
        random = random * 6364136223846793005u + 1442695040888963407u;
        const bool hot = (random >> 63) != 0;
        const int64_t next_id = spate_store_next_id(state->store, T_PATTERN);
        const int64_t node_id = hot ? 1 + (int64_t)((random >> 33) % PATTERN_NODES) : 1 + (int64_t)((random >> 20) % (uint64_t)(next_id - 1));
        const int64_t length = spate_store_get(state->store, T_PATTERN, node_id, out, sizeof out);
        if (length < 0)
        {
            state->missing += hot || length != SPATE_ERROR_NO_SUCH_NODE ? 1 : 0;
            continue;
        }
        state->reads++;
        char error[200];
        if (!pattern_consistent(out, length, error, sizeof error))
        {
            if (state->torn++ == 0)
            {
                snprintf(state->first_error, sizeof state->first_error, "node %" PRId64 ": %s", node_id, error);
            }
        }
        if (hot && (spate_store_exists(state->store, T_PATTERN, node_id) != 1 || spate_store_count(state->store, T_PATTERN) < PATTERN_NODES))
        {
            state->missing++;
        }
    }
    return NULL;
}

static void pattern_fields_for(uint64_t value, uint8_t *text, uint32_t *u32, int64_t *i64, var_value *fields)
{
    memset(text, (uint8_t)value, PATTERN_MAX_STRING);
    *u32 = (uint32_t)value;
    *i64 = (int64_t)value;
    fields[0] = (var_value){P_STRING, text, pattern_length(value)};
}

static void put_pattern_update(buffer *b, int64_t node_id, uint64_t value)
{
    uint8_t text[PATTERN_MAX_STRING];
    uint32_t u32;
    int64_t i64;
    var_value fields[4];
    pattern_fields_for(value, text, &u32, &i64, fields);
    fields[1] = (var_value){P_U64, &value, 8};
    fields[2] = (var_value){P_U32, &u32, 4};
    fields[3] = (var_value){P_I64, &i64, 8};
    put_update(b, node_id, 0, T_PATTERN, fields, 4);
}

static void put_pattern_create(buffer *b, int64_t node_id, uint64_t value)
{
    uint8_t text[PATTERN_MAX_STRING];
    uint32_t u32;
    int64_t i64;
    var_value fields[1];
    pattern_fields_for(value, text, &u32, &i64, fields);
    uint8_t row[PATTERN_ROW_BYTES];
    memcpy(row, &value, 8);
    memcpy(row + 8, &u32, 4);
    memcpy(row + 12, &i64, 8);
    put_create(b, node_id, T_PATTERN, fields, 1, row, PATTERN_ROW_BYTES);
}

static void test_concurrent_reader(void)
{
    const char *updates_text = getenv("SPATE_CONCURRENT_UPDATES");
    const long updates = updates_text != NULL ? atol(updates_text) : 2000000;
    spate_store *store = open_standard();
    buffer b = buffer_new(1 << 20);
    for (int i = 0; i < PATTERN_NODES; i++)
    {
        put_pattern_create(&b, 0, 0);
    }
    CHECK(apply(store, &b) == PATTERN_NODES, "pattern nodes");

    reader_state state = {.store = store, .reads = 0, .torn = 0, .missing = 0};
    atomic_init(&state.stop, false);
    pthread_t reader;
    CHECK(pthread_create(&reader, NULL, reader_main, &state) == 0, "start reader");
    /*
     * Per batch: updates of the hot nodes, and one node created, updated, and the one created two
     * batches before deleted. Every 8th create skips an id, so the reader also reads ids skipped
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
        const int64_t n = apply(store, &b);
        for (int64_t i = 0; i < n; i++)
        {
            failed |= g_results[i].status != SPATE_STATUS_OK;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    atomic_store(&state.stop, true);
    pthread_join(reader, NULL);
    CHECK(!failed, "a writer batch failed");
    const double seconds = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    printf("concurrent: %ld updates, %ld creates and deletes in %.2f s; %ld consistent reads alongside\n", updates, batches,
           seconds, state.reads);
    CHECK(state.torn == 0, "%ld torn reads, first: %s", state.torn, state.first_error);
    CHECK(state.missing == 0, "%ld reads saw a live node missing or a wrong count", state.missing);
    CHECK(state.reads > 0, "the reader read something");
    CHECK(spate_store_count(store, T_PATTERN) == PATTERN_NODES + 2, "count: the hot nodes and the last two created");
    uint8_t out[256];
    char error[200] = "";
    for (int64_t id = 1; id < spate_store_next_id(store, T_PATTERN); id++)
    {
        const int64_t length = spate_store_get(store, T_PATTERN, id, out, sizeof out);
        CHECK(length == SPATE_ERROR_NO_SUCH_NODE || (length > 0 && pattern_consistent(out, length, error, sizeof error)),
              "final node %" PRId64 ": %s", id, error);
    }
    buffer_free(&b);
    spate_store_close(store);
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
        {"concurrent reader", test_concurrent_reader},
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
