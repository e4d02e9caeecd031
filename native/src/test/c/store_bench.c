/*
 * Throughput check of spate_store_apply, single thread (make -C native bench). Not a test and
 * not the official benchmark (that one is Java, through Panama); this measures the C store alone.
 *
 *   creates: nodes with a u32, a u64, an i64 and a 16-byte string, explicit ids, memory reserved
 *            ahead (warm) and, separately, not reserved (cold first touch);
 *   updates: one u32 field at uniformly random ids over all nodes;
 *   snapshot: write the image of all nodes (into fresh memory, then again into the same memory),
 *            load it into a fresh store, checksum both;
 *   churn:   a steady live set (SPATE_BENCH_CHURN_LIVE, default nodes / 10) where each step deletes a
 *            random live node and creates one in the id of a slot freed a while ago (a FIFO of freed
 *            ids, as the pipeline's allocator hands them out), with a string of 8..48 bytes, for
 *            SPATE_BENCH_CHURN_FACTOR (default 20) times the live count in creates: creates/s and the
 *            rows' and the arena's memory at the start and at the end (it must not grow).
 *
 * Messages are encoded up front (churn: one slice at a time, not timed); slices of SLICE_MESSAGES are
 * applied with room for every result.
 * Environment: SPATE_BENCH_NODES (default 10000000), SPATE_BENCH_ROUNDS (default 3).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "spate_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "io_spate_wire/create.h"
#include "io_spate_wire/delete.h"
#include "io_spate_wire/fieldKind.h"
#include "io_spate_wire/messageHeader.h"
#include "io_spate_wire/storeSchema.h"
#include "io_spate_wire/update.h"

#define REQUIRE(condition)                                                                                     \
    do                                                                                                         \
    {                                                                                                          \
        if (!(condition))                                                                                      \
        {                                                                                                      \
            fprintf(stderr, "FATAL %s:%d: %s\n", __FILE__, __LINE__, #condition);                              \
            exit(2);                                                                                           \
        }                                                                                                      \
    } while (0)

enum
{
    TYPE_ID = 1,
    ROW_BYTES = 20,
    STRING_FIELD = 4,
    STRING_BYTES = 16,
    SLICE_MESSAGES = 65536,
    HEADER_BYTES = 12,
};

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static struct io_spate_wire_messageHeader begin_message(char *at, uint64_t room, uint16_t block_length, uint16_t template_id)
{
    struct io_spate_wire_messageHeader header = {0};
    REQUIRE(io_spate_wire_messageHeader_wrap(&header, at, 0, 0, room) != NULL);
    io_spate_wire_messageHeader_set_blockLength(&header, block_length);
    io_spate_wire_messageHeader_set_templateId(&header, template_id);
    io_spate_wire_messageHeader_set_schemaId(&header, io_spate_wire_messageHeader_sbe_schema_id());
    io_spate_wire_messageHeader_set_version(&header, 0);
    return header;
}

static spate_store *open_store(int64_t nodes)
{
    static char schema[1024];
    struct io_spate_wire_messageHeader header = begin_message(
        schema, sizeof schema, io_spate_wire_storeSchema_sbe_block_length(), io_spate_wire_storeSchema_sbe_template_id());
    struct io_spate_wire_storeSchema m = {0};
    REQUIRE(io_spate_wire_storeSchema_wrap_for_encode(&m, schema, HEADER_BYTES, sizeof schema) != NULL);
    io_spate_wire_storeSchema_set_schemaHash(&m, 1);
    struct io_spate_wire_storeSchema_types types = {0};
    REQUIRE(io_spate_wire_storeSchema_types_set_count(&m, &types, 1) != NULL);
    REQUIRE(io_spate_wire_storeSchema_types_next(&types) != NULL);
    io_spate_wire_storeSchema_types_set_maxNodes(&types, nodes);
    io_spate_wire_storeSchema_types_set_maxArenaBytes(&types, nodes * STRING_BYTES * 2);
    io_spate_wire_storeSchema_types_set_rowLengthBytes(&types, ROW_BYTES);
    io_spate_wire_storeSchema_types_set_typeId(&types, TYPE_ID);
    struct io_spate_wire_storeSchema_types_fields fields = {0};
    REQUIRE(io_spate_wire_storeSchema_types_fields_set_count(&types, &fields, 4) != NULL);
    const struct
    {
        uint16_t id;
        enum io_spate_wire_fieldKind kind;
        uint32_t offset, width;
    } defs[] = {
        {1, io_spate_wire_fieldKind_U32, 0, 4},
        {2, io_spate_wire_fieldKind_U64, 4, 8},
        {3, io_spate_wire_fieldKind_I64, 12, 8},
        {STRING_FIELD, io_spate_wire_fieldKind_STRING, 0, 64},
    };
    for (int i = 0; i < 4; i++)
    {
        REQUIRE(io_spate_wire_storeSchema_types_fields_next(&fields) != NULL);
        io_spate_wire_storeSchema_types_fields_set_fieldId(&fields, defs[i].id);
        io_spate_wire_storeSchema_types_fields_set_kind(&fields, defs[i].kind);
        io_spate_wire_storeSchema_types_fields_set_offsetBytes(&fields, defs[i].offset);
        io_spate_wire_storeSchema_types_fields_set_maxLengthBytes(&fields, defs[i].width);
    }
    const uint64_t length = HEADER_BYTES + io_spate_wire_storeSchema_encoded_length(&m);
    io_spate_wire_messageHeader_set_frameLengthBytes(&header, (uint32_t)length);
    spate_store *store = NULL;
    REQUIRE(spate_store_open((const uint8_t *)schema, length, &store) == 0);
    return store;
}

typedef struct encoded
{
    uint8_t *data;
    uint64_t length_bytes;
    uint64_t *slice_offsets; /* start of every SLICE_MESSAGES-th message, then the end */
    uint64_t slice_count;
} encoded;

static void encoded_init(encoded *e, uint64_t capacity_bytes, uint64_t messages)
{
    e->data = malloc(capacity_bytes);
    e->length_bytes = 0;
    e->slice_count = 0;
    e->slice_offsets = malloc((messages / SLICE_MESSAGES + 2) * sizeof(uint64_t));
    REQUIRE(e->data != NULL && e->slice_offsets != NULL);
}

static void encoded_mark(encoded *e, uint64_t message_index)
{
    if (message_index % SLICE_MESSAGES == 0)
    {
        e->slice_offsets[e->slice_count++] = e->length_bytes;
    }
}

/* Appends a Create of node id with a string of string_bytes (at most 64); room for it is the caller's. */
static void put_create(encoded *e, int64_t id, uint32_t string_bytes)
{
    char text[64];
    char *at = (char *)e->data + e->length_bytes;
    const uint64_t room = 128;
    struct io_spate_wire_messageHeader header = begin_message(
        at, room, io_spate_wire_create_sbe_block_length(), io_spate_wire_create_sbe_template_id());
    struct io_spate_wire_create m = {0};
    REQUIRE(io_spate_wire_create_wrap_for_encode(&m, at, HEADER_BYTES, room) != NULL);
    io_spate_wire_create_set_nodeId(&m, id);
    io_spate_wire_create_set_typeId(&m, TYPE_ID);
    struct io_spate_wire_create_varFields g = {0};
    REQUIRE(io_spate_wire_create_varFields_set_count(&m, &g, 1) != NULL);
    REQUIRE(io_spate_wire_create_varFields_next(&g) != NULL);
    io_spate_wire_create_varFields_set_fieldId(&g, STRING_FIELD);
    REQUIRE(string_bytes <= sizeof text);
    memset(text, 'a' + (int)(id % 26), string_bytes);
    REQUIRE(io_spate_wire_create_varFields_put_value(&g, text, string_bytes) != NULL);
    uint8_t row[ROW_BYTES];
    const uint32_t a = (uint32_t)id;
    const uint64_t b = (uint64_t)id * 3;
    const int64_t c = -id;
    memcpy(row, &a, 4);
    memcpy(row + 4, &b, 8);
    memcpy(row + 12, &c, 8);
    REQUIRE(io_spate_wire_create_put_row(&m, (const char *)row, ROW_BYTES) != NULL);
    const uint64_t frame = HEADER_BYTES + io_spate_wire_create_encoded_length(&m);
    io_spate_wire_messageHeader_set_frameLengthBytes(&header, (uint32_t)frame);
    e->length_bytes += frame;
}

static void put_delete(encoded *e, int64_t id)
{
    char *at = (char *)e->data + e->length_bytes;
    const uint64_t room = 64;
    struct io_spate_wire_messageHeader header = begin_message(
        at, room, io_spate_wire_delete_sbe_block_length(), io_spate_wire_delete_sbe_template_id());
    struct io_spate_wire_delete m = {0};
    REQUIRE(io_spate_wire_delete_wrap_for_encode(&m, at, HEADER_BYTES, room) != NULL);
    io_spate_wire_delete_set_nodeId(&m, id);
    io_spate_wire_delete_set_createRef(&m, 0);
    io_spate_wire_delete_set_typeId(&m, TYPE_ID);
    const uint64_t frame = HEADER_BYTES + io_spate_wire_delete_encoded_length(&m);
    io_spate_wire_messageHeader_set_frameLengthBytes(&header, (uint32_t)frame);
    e->length_bytes += frame;
}

static void encode_creates(encoded *e, int64_t nodes)
{
    encoded_init(e, (uint64_t)nodes * 80, (uint64_t)nodes);
    for (int64_t id = 1; id <= nodes; id++)
    {
        encoded_mark(e, (uint64_t)(id - 1));
        put_create(e, id, STRING_BYTES);
    }
    e->slice_offsets[e->slice_count] = e->length_bytes;
}

static void encode_updates(encoded *e, int64_t nodes, int64_t updates)
{
    encoded_init(e, (uint64_t)updates * 48, (uint64_t)updates);
    uint64_t random = 88172645463325252u;
    for (int64_t i = 0; i < updates; i++)
    {
        encoded_mark(e, (uint64_t)i);
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        const int64_t id = 1 + (int64_t)(random % (uint64_t)nodes);
        char *at = (char *)e->data + e->length_bytes;
        const uint64_t room = 48;
        struct io_spate_wire_messageHeader header = begin_message(
            at, room, io_spate_wire_update_sbe_block_length(), io_spate_wire_update_sbe_template_id());
        struct io_spate_wire_update m = {0};
        REQUIRE(io_spate_wire_update_wrap_for_encode(&m, at, HEADER_BYTES, room) != NULL);
        io_spate_wire_update_set_nodeId(&m, id);
        io_spate_wire_update_set_createRef(&m, 0);
        io_spate_wire_update_set_typeId(&m, TYPE_ID);
        struct io_spate_wire_update_fields g = {0};
        REQUIRE(io_spate_wire_update_fields_set_count(&m, &g, 1) != NULL);
        REQUIRE(io_spate_wire_update_fields_next(&g) != NULL);
        io_spate_wire_update_fields_set_fieldId(&g, 1);
        const uint32_t value = (uint32_t)i;
        REQUIRE(io_spate_wire_update_fields_put_value(&g, (const char *)&value, 4) != NULL);
        const uint64_t frame = HEADER_BYTES + io_spate_wire_update_encoded_length(&m);
        io_spate_wire_messageHeader_set_frameLengthBytes(&header, (uint32_t)frame);
        e->length_bytes += frame;
    }
    e->slice_offsets[e->slice_count] = e->length_bytes;
}

/* Applies every slice; returns the seconds taken. Every result must be OK. */
static double apply_all(spate_store *store, const encoded *e, spate_result *results)
{
    int64_t progress = 0;
    const double start = now_seconds();
    for (uint64_t s = 0; s < e->slice_count; s++)
    {
        const uint64_t begin = e->slice_offsets[s];
        const uint64_t end = e->slice_offsets[s + 1];
        const int64_t n = spate_store_apply(store, e->data + begin, end - begin, &progress, results, SLICE_MESSAGES);
        if (n <= 0 || results[0].status != SPATE_STATUS_OK || results[n - 1].status != SPATE_STATUS_OK)
        {
            fprintf(stderr, "slice %" PRIu64 ": %" PRId64 " results, status %u\n", s, n, n > 0 ? results[n - 1].status : 255);
            exit(2);
        }
    }
    const double seconds = now_seconds() - start;
    REQUIRE(progress == (int64_t)e->length_bytes);
    return seconds;
}

/* Image write (cold and warm output memory), load into a fresh store, checksum; GB/s of image bytes. */
static void bench_snapshot(spate_store *store, int64_t nodes)
{
    const int64_t length = spate_store_snapshot_length(store);
    REQUIRE(length > 0);
    uint8_t *image = mmap(NULL, (size_t)length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(image != MAP_FAILED);
    const double start = now_seconds();
    REQUIRE(spate_store_snapshot_write(store, image, (uint64_t)length) == length);
    const double cold_write = now_seconds();
    REQUIRE(spate_store_snapshot_write(store, image, (uint64_t)length) == length);
    const double warm_write = now_seconds();
    spate_store *copy = open_store(nodes);
    const double opened = now_seconds();
    REQUIRE(spate_store_snapshot_load(copy, image, (uint64_t)length) == 0);
    const double loaded = now_seconds();
    uint64_t source_checksum, copy_checksum;
    REQUIRE(spate_store_checksum(store, TYPE_ID, &source_checksum) == 0);
    const double checksummed = now_seconds();
    REQUIRE(spate_store_checksum(copy, TYPE_ID, &copy_checksum) == 0 && copy_checksum == source_checksum);
    spate_store *reserved = open_store(nodes);
    REQUIRE(spate_store_reserve(reserved, TYPE_ID, nodes) == 0);
    const double reserved_at = now_seconds();
    REQUIRE(spate_store_snapshot_load(reserved, image, (uint64_t)length) == 0);
    const double reserved_loaded = now_seconds();
    const double gb = (double)length / 1e9;
    printf("snapshot of %" PRId64 " nodes, %.0f MB: write %.2f GB/s into fresh memory, %.2f GB/s warm; "
           "load %.2f GB/s into a fresh store (%.2f s, memory committed on the way), %.2f GB/s into a reserved one; "
           "checksum %.0f M nodes/s\n",
           nodes, (double)length / 1e6, gb / (cold_write - start), gb / (warm_write - cold_write), gb / (loaded - opened),
           loaded - opened, gb / (reserved_loaded - reserved_at), (double)nodes / (checksummed - loaded) / 1e6);
    spate_store_close(reserved);
    spate_store_close(copy);
    munmap(image, (size_t)length);
}

static uint64_t xorshift(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

static void print_memory(const char *when, spate_store *store)
{
    spate_type_stats stats;
    REQUIRE(spate_store_type_stats(store, TYPE_ID, &stats) == 0);
    printf("  %s: %" PRId64 " live, %" PRId64 " slots used (rows %.1f MB), arena reserved %.1f MB (live blocks %.1f MB, free %.1f MB), "
           "%" PRIu64 " compactions\n", when, stats.live_nodes, stats.high_water_slot,
           (double)stats.high_water_slot * stats.row_stride_bytes / 1e6, (double)stats.arena_reserved_bytes / 1e6,
           (double)stats.arena_live_bytes / 1e6, (double)stats.arena_free_bytes / 1e6, stats.arena_compactions);
}

/*
 * A steady live set under churn: deletes of random live nodes and creates in freed slots (the ids
 * a FIFO of freed ids gives, each its slot's next generation). Only the applies are timed.
 */
static void bench_churn(int64_t nodes, int64_t live, int64_t factor, spate_result *results)
{
    enum
    {
        FIFO_IDS = 4096,
    };
    REQUIRE(live > FIFO_IDS && live <= nodes);
    spate_store *store = open_store(nodes);
    spate_type_stats stats;
    REQUIRE(spate_store_type_stats(store, TYPE_ID, &stats) == 0);
    const int64_t slot_mask = (INT64_C(1) << stats.slot_bits) - 1;
    int64_t *id_of_slot = malloc((size_t)(live + 1) * sizeof(int64_t)); /* the live id of a slot, 0 while in the FIFO */
    int64_t *fifo = malloc(FIFO_IDS * sizeof(int64_t));
    encoded e;
    encoded_init(&e, (uint64_t)SLICE_MESSAGES * 128, SLICE_MESSAGES);
    REQUIRE(id_of_slot != NULL && fifo != NULL);
    uint64_t random = 88172645463325252u;
    /* The live set, then FIFO_IDS of it deleted, so that creates have freed ids to take from the start. */
    int64_t fifo_head = 0, fifo_tail = 0;
    for (int64_t done = 0; done < live + FIFO_IDS;)
    {
        e.length_bytes = 0;
        int64_t messages = 0;
        for (; messages < SLICE_MESSAGES && done < live + FIFO_IDS; messages++, done++)
        {
            if (done < live)
            {
                id_of_slot[done + 1] = done + 1;
                put_create(&e, done + 1, 8 + (uint32_t)(xorshift(&random) % 41));
            }
            else
            {
                const int64_t slot = 1 + (int64_t)(xorshift(&random) % (uint64_t)live);
                if (id_of_slot[slot] == 0)
                {
                    messages--;
                    done--;
                    continue;
                }
                put_delete(&e, id_of_slot[slot]);
                fifo[fifo_tail++ % FIFO_IDS] = id_of_slot[slot] + slot_mask + 1; /* the slot's next generation */
                id_of_slot[slot] = 0;
            }
        }
        const int64_t n = spate_store_apply(store, e.data, e.length_bytes, NULL, results, SLICE_MESSAGES);
        REQUIRE(n == messages && results[n - 1].status == SPATE_STATUS_OK);
    }
    print_memory("churn start", store);
    const int64_t creates = live * factor;
    double seconds = 0;
    for (int64_t done = 0; done < creates;)
    {
        e.length_bytes = 0;
        int64_t messages = 0;
        while (messages + 2 <= SLICE_MESSAGES && done < creates)
        {
            const int64_t id = fifo[fifo_head++ % FIFO_IDS];
            const int64_t slot = id & slot_mask;
            put_create(&e, id, 8 + (uint32_t)(xorshift(&random) % 41));
            id_of_slot[slot] = id;
            done++;
            int64_t victim;
            do
            {
                victim = 1 + (int64_t)(xorshift(&random) % (uint64_t)live);
            } while (id_of_slot[victim] == 0);
            put_delete(&e, id_of_slot[victim]);
            fifo[fifo_tail++ % FIFO_IDS] = id_of_slot[victim] + slot_mask + 1;
            id_of_slot[victim] = 0;
            messages += 2;
        }
        const double start = now_seconds();
        const int64_t n = spate_store_apply(store, e.data, e.length_bytes, NULL, results, SLICE_MESSAGES);
        seconds += now_seconds() - start;
        for (int64_t i = 0; i < n; i++)
        {
            if (results[i].status != SPATE_STATUS_OK)
            {
                fprintf(stderr, "churn: message %" PRId64 ": status %u\n", i, results[i].status);
                exit(2);
            }
        }
        REQUIRE(n == messages);
    }
    print_memory("churn end", store);
    REQUIRE(spate_store_type_stats(store, TYPE_ID, &stats) == 0 && stats.high_water_slot == live);
    printf("churn: %" PRId64 " live nodes, %" PRId64 " creates into freed ids (%" PRId64 "x the live count) and as many deletes: "
           "%.1f M creates/s (%.1f M records/s)\n", live - FIFO_IDS, creates, factor, (double)creates / seconds / 1e6,
           (double)creates * 2 / seconds / 1e6);
    spate_store_close(store);
    free(e.data);
    free(e.slice_offsets);
    free(fifo);
    free(id_of_slot);
}

int main(void)
{
    const char *nodes_text = getenv("SPATE_BENCH_NODES");
    const char *rounds_text = getenv("SPATE_BENCH_ROUNDS");
    const int64_t nodes = nodes_text != NULL ? atoll(nodes_text) : 10000000;
    const int rounds = rounds_text != NULL ? atoi(rounds_text) : 3;
    spate_result *results = malloc(SLICE_MESSAGES * sizeof(spate_result));
    REQUIRE(results != NULL);

    encoded creates, updates;
    encode_creates(&creates, nodes);
    encode_updates(&updates, nodes, nodes);
    printf("%" PRId64 " nodes: creates %.1f bytes/message, updates %.1f bytes/message\n", nodes,
           (double)creates.length_bytes / (double)nodes, (double)updates.length_bytes / (double)nodes);

    const char *churn_live_text = getenv("SPATE_BENCH_CHURN_LIVE");
    const char *churn_factor_text = getenv("SPATE_BENCH_CHURN_FACTOR");
    const int64_t churn_live = churn_live_text != NULL ? atoll(churn_live_text) : nodes / 10;
    const int64_t churn_factor = churn_factor_text != NULL ? atoll(churn_factor_text) : 20;

    for (int round = 0; round < rounds; round++)
    {
        spate_store *store = open_store(nodes);
        const double reserve_start = now_seconds();
        REQUIRE(spate_store_reserve(store, TYPE_ID, nodes) == 0);
        const double reserve_seconds = now_seconds() - reserve_start;
        const double create_seconds = apply_all(store, &creates, results);
        REQUIRE(spate_store_count(store, TYPE_ID) == nodes);
        const double update_seconds = apply_all(store, &updates, results);
        bench_snapshot(store, nodes);
        spate_store_close(store);

        store = open_store(nodes);
        const double cold_seconds = apply_all(store, &creates, results);
        spate_store_close(store);
        printf("round %d: creates %.1f M/s warm (reserve took %.2f s), %.1f M/s cold; random u32 updates %.1f M/s\n", round,
               (double)nodes / create_seconds / 1e6, reserve_seconds, (double)nodes / cold_seconds / 1e6,
               (double)nodes / update_seconds / 1e6);
    }
    bench_churn(nodes, churn_live, churn_factor, results);
    free(results);
    free(creates.data);
    free(creates.slice_offsets);
    free(updates.data);
    free(updates.slice_offsets);
    return 0;
}
