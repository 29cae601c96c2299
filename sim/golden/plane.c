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

/* Field i of b bits of a packed row (b <= 12, so it spans at most three bytes). */
static uint32_t plane_field(const uint8_t *row, uint32_t i, uint32_t bits) {
    const uint32_t at = i * bits, last = (at + bits - 1u) / 8u;
    uint32_t window = 0;
    for (uint32_t b = at / 8u; b <= last; b++) window |= (uint32_t)row[b] << (8u * (b - at / 8u));
    return (window >> (at % 8u)) & ((1u << bits) - 1u);
}

void spk_plane_unpack_row(const uint8_t *msb_row, const uint8_t *lsb_row, uint32_t d,
                          spk_quant_profile p, int16_t *codes) {
    const uint32_t msb = p.msb_bits, lsb = p.lsb_bits;
    for (uint32_t i = 0; i < d; i++) {
        const uint32_t f = plane_field(msb_row, i, msb);
        const uint32_t sign = 1u << (msb - 1u);
        const int32_t hi = (int32_t)(f ^ sign) - (int32_t)sign; /* sign-extended */
        const int32_t lo = lsb ? (int32_t)plane_field(lsb_row, i, lsb) : 0;
        codes[i] = (int16_t)(hi * (1 << lsb) + lo);
    }
}
