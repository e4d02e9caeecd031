/*
 * The ceiling the store is benchmarked against: a bare loop that decodes the same framed SBE
 * records and stores them into preallocated, already-touched arrays. It checks only what keeps
 * it inside the slice and the arrays; no schema, no status per record, no sequence lock, no
 * memory growth. Built into libspate_baseline.so for the perf module only, never the product.
 */
#include <stdint.h>
#include <string.h>

#define HEADER_LENGTH_BYTES 12u
#define FRAME_LENGTH_OFFSET 8u
#define CREATE_BLOCK_LENGTH 10u
#define UPDATE_BLOCK_LENGTH 14u
#define SLOT_LENGTH_BYTES 16u

static inline uint32_t load_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline uint16_t load_u16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline int64_t load_i64(const uint8_t *p)
{
    int64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/*
 * Creates: row i (from first_index) gets the record's fixed row then one 16-byte slot per var
 * value (offset, length); values go to arena[i * value_stride]. Returns records stored.
 */
int64_t spate_baseline_creates(
    const uint8_t *records, uint64_t length_bytes, uint8_t *rows, uint64_t row_stride, uint64_t first_index,
    uint64_t capacity, uint8_t *arena, uint64_t value_stride)
{
    uint64_t offset = 0;
    uint64_t index = first_index;
    while (offset + HEADER_LENGTH_BYTES <= length_bytes && index < capacity)
    {
        const uint8_t *p = records + offset;
        const uint32_t frame = load_u32(p + FRAME_LENGTH_OFFSET);
        if (frame < HEADER_LENGTH_BYTES + CREATE_BLOCK_LENGTH + 8 || frame > length_bytes - offset)
        {
            break;
        }
        const uint8_t *end = p + frame;
        const uint8_t *q = p + HEADER_LENGTH_BYTES + CREATE_BLOCK_LENGTH;
        const uint16_t count = load_u16(q + 2);
        q += 4;
        uint8_t *row = rows + index * row_stride;
        uint8_t *slot_base = arena + index * value_stride;
        uint64_t arena_used = 0;
        const uint8_t *values[8];
        uint32_t lengths[8];
        uint32_t n = 0;
        for (uint16_t i = 0; i < count; i++)
        {
            if (q + 6 > end)
            {
                return (int64_t)(index - first_index);
            }
            const uint32_t value_length = load_u32(q + 2);
            q += 6;
            if (value_length > (uint64_t)(end - q) || arena_used + value_length > value_stride || n == 8)
            {
                return (int64_t)(index - first_index);
            }
            values[n] = q;
            lengths[n++] = value_length;
            q += value_length;
        }
        if (q + 4 > end)
        {
            break;
        }
        const uint32_t row_length = load_u32(q);
        q += 4;
        if (row_length > (uint64_t)(end - q) || row_length + n * SLOT_LENGTH_BYTES > row_stride)
        {
            break;
        }
        memcpy(row, q, row_length);
        for (uint32_t i = 0; i < n; i++)
        {
            memcpy(slot_base + arena_used, values[i], lengths[i]);
            const uint64_t slot[2] = { (uint64_t)(slot_base - arena) + arena_used, lengths[i] };
            memcpy(row + row_length + i * SLOT_LENGTH_BYTES, slot, sizeof(slot));
            arena_used += lengths[i];
        }
        offset += frame;
        index++;
    }
    return (int64_t)(index - first_index);
}

/*
 * Updates of fixed fields: each entry's value is copied into row (nodeId - 1) at the offset
 * field_offsets[fieldId]. Returns records applied.
 */
int64_t spate_baseline_updates(
    const uint8_t *records, uint64_t length_bytes, uint8_t *rows, uint64_t row_stride, uint64_t capacity,
    const uint32_t *field_offsets, uint32_t field_count)
{
    uint64_t offset = 0;
    int64_t applied = 0;
    while (offset + HEADER_LENGTH_BYTES <= length_bytes)
    {
        const uint8_t *p = records + offset;
        const uint32_t frame = load_u32(p + FRAME_LENGTH_OFFSET);
        if (frame < HEADER_LENGTH_BYTES + UPDATE_BLOCK_LENGTH + 4 || frame > length_bytes - offset)
        {
            break;
        }
        const uint8_t *end = p + frame;
        const int64_t node_id = load_i64(p + HEADER_LENGTH_BYTES);
        if (node_id < 1 || (uint64_t)node_id > capacity)
        {
            break;
        }
        uint8_t *row = rows + (uint64_t)(node_id - 1) * row_stride;
        const uint8_t *q = p + HEADER_LENGTH_BYTES + UPDATE_BLOCK_LENGTH;
        const uint16_t count = load_u16(q + 2);
        q += 4;
        for (uint16_t i = 0; i < count; i++)
        {
            if (q + 6 > end)
            {
                return applied;
            }
            const uint16_t field_id = load_u16(q);
            const uint32_t value_length = load_u32(q + 2);
            q += 6;
            if (field_id >= field_count || value_length > 8 || value_length > (uint64_t)(end - q) ||
                field_offsets[field_id] + value_length > row_stride)
            {
                return applied;
            }
            memcpy(row + field_offsets[field_id], q, value_length);
            q += value_length;
        }
        offset += frame;
        applied++;
    }
    return applied;
}
