/* The DRAM layout of K and V: rows of the MSB and LSB planes packed as little-endian bit
 * streams. Normative text: docs/spec/datapath.md, section "MSB and LSB planes". */
#include "spksim/datapath.h"

#include <string.h>

uint32_t spk_plane_row_bytes(uint32_t d, uint32_t bits) {
    return (uint32_t)(((uint64_t)d * bits + 7u) / 8u);
}

void spk_plane_pack_row(const int16_t *codes, uint32_t d, spk_quant_profile p, int lsb_plane,
                        uint8_t *row) {
    const uint32_t bits = lsb_plane ? p.lsb_bits : p.msb_bits;
    const uint32_t bytes = spk_plane_row_bytes(d, bits);
    if (bytes == 0) return;
    memset(row, 0, bytes);
    const uint32_t mask = (1u << bits) - 1u;
    uint64_t acc = 0; /* bits not yet written, the oldest in bit 0 */
    uint32_t have = 0, out = 0;
    for (uint32_t i = 0; i < d; i++) {
        int32_t hi = 0;
        uint32_t lo = 0;
        spk_code_split(codes[i], p, &hi, &lo);
        const uint32_t field = (lsb_plane ? lo : (uint32_t)hi) & mask;
        acc |= (uint64_t)field << have;
        have += bits;
        while (have >= 8) {
            row[out++] = (uint8_t)acc;
            acc >>= 8;
            have -= 8;
        }
    }
    if (have) row[out] = (uint8_t)acc;
}

/* Reads the fields of a packed row in order: bytes enter a 64-bit window at the top, fields
 * leave it at the bottom. One pass over the row, no per-field byte loop (this is the inner loop
 * of every C engine's fetch). */
typedef struct field_reader {
    const uint8_t *row;
    uint64_t window;
    uint32_t have, next;
} field_reader;

static inline uint32_t next_field(field_reader *r, uint32_t bits, uint32_t row_bytes) {
    while (r->have < bits) {
        const uint64_t byte = r->next < row_bytes ? r->row[r->next] : 0u;
        r->window |= byte << r->have;
        r->next++;
        r->have += 8;
    }
    const uint32_t f = (uint32_t)(r->window & ((1u << bits) - 1u));
    r->window >>= bits;
    r->have -= bits;
    return f;
}

/* The kit's default planes (8-bit MSB bytes, 4-bit LSB nibbles, or no LSB plane), unpacked
 * without the general reader: the same fields, read where they lie. */
static int unpack_byte_planes(const uint8_t *msb_row, const uint8_t *lsb_row, uint32_t d,
                              uint32_t lsb, int16_t *codes) {
    if (lsb == 0) {
        for (uint32_t i = 0; i < d; i++)
            codes[i] = (int16_t)((int32_t)msb_row[i] - ((msb_row[i] & 0x80) << 1));
        return 1;
    }
    if (lsb != 4) return 0;
    for (uint32_t i = 0; i < d; i++) {
        const int32_t h = (int32_t)msb_row[i] - ((msb_row[i] & 0x80) << 1);
        const int32_t l = (lsb_row[i / 2] >> (4u * (i & 1u))) & 0xF;
        codes[i] = (int16_t)(h * 16 + l);
    }
    return 1;
}

/* Dense 12-bit codes in one plane: two fields in every three bytes. */
static void unpack_12bit_plane(const uint8_t *row, uint32_t d, int16_t *codes) {
    uint32_t i = 0;
    for (; i + 2 <= d; i += 2, row += 3) {
        const uint32_t f0 = row[0] | (uint32_t)(row[1] & 0xF) << 8;
        const uint32_t f1 = (uint32_t)(row[1] >> 4) | (uint32_t)row[2] << 4;
        codes[i] = (int16_t)((int32_t)(f0 ^ 0x800) - 0x800);
        codes[i + 1] = (int16_t)((int32_t)(f1 ^ 0x800) - 0x800);
    }
    if (i < d)
        codes[i] = (int16_t)((int32_t)((row[0] | (uint32_t)(row[1] & 0xF) << 8) ^ 0x800) - 0x800);
}

void spk_plane_unpack_row(const uint8_t *msb_row, const uint8_t *lsb_row, uint32_t d,
                          spk_quant_profile p, int16_t *codes) {
    const uint32_t msb = p.msb_bits, lsb = p.lsb_bits;
    if (msb == 8 && unpack_byte_planes(msb_row, lsb_row, d, lsb, codes)) return;
    if (msb == 12 && lsb == 0) {
        unpack_12bit_plane(msb_row, d, codes);
        return;
    }
    const uint32_t sign = 1u << (msb - 1u);
    const uint32_t hi_bytes = spk_plane_row_bytes(d, msb), lo_bytes = spk_plane_row_bytes(d, lsb);
    field_reader hi = {.row = msb_row}, lo = {.row = lsb_row};
    for (uint32_t i = 0; i < d; i++) {
        const uint32_t f = next_field(&hi, msb, hi_bytes);
        const int32_t h = (int32_t)(f ^ sign) - (int32_t)sign; /* sign-extended */
        const int32_t l = lsb ? (int32_t)next_field(&lo, lsb, lo_bytes) : 0;
        codes[i] = (int16_t)(h * (1 << lsb) + l);
    }
}
