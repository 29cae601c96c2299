// Plane packing, the DRAM layout of K and V (docs/spec/datapath.md, "MSB and LSB planes"):
// row sizes, round trips for every profile, and agreement with a bit-by-bit reference.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "spksim/datapath.h"

namespace {

// The spec's layout written out bit by bit: field i in bits [i*b, (i+1)*b), byte 0 bit 0 first.
std::vector<uint8_t> reference_row(const std::vector<int16_t> &codes, spk_quant_profile p,
                                   bool lsb_plane) {
    const uint32_t d = (uint32_t)codes.size();
    const uint32_t bits = lsb_plane ? p.lsb_bits : p.msb_bits;
    std::vector<uint8_t> row((d * bits + 7) / 8, 0);
    for (uint32_t i = 0; i < d; i++) {
        const int32_t c = codes[i];
        const int32_t hi = (int32_t)std::floor((double)c / (double)(1 << p.lsb_bits));
        const int32_t lo = c - hi * (1 << p.lsb_bits);
        for (uint32_t b = 0; b < bits; b++) {
            // two's complement bit b of hi, or bit b of lo
            const uint32_t bit = lsb_plane ? ((uint32_t)lo >> b) & 1u : ((uint32_t)hi >> b) & 1u;
            const uint32_t at = i * bits + b;
            if (bit) row[at / 8] |= (uint8_t)(1u << (at % 8));
        }
    }
    return row;
}

std::vector<std::vector<int16_t>> rows_for(spk_quant_profile p, std::mt19937_64 &rng) {
    const int32_t total = p.msb_bits + p.lsb_bits;
    const int32_t lo = -(1 << (total - 1)), hi = (1 << (total - 1)) - 1;
    std::vector<std::vector<int16_t>> rows;
    for (uint32_t d : {1u, 2u, 3u, 7u, 8u, 13u, 64u, 65u, 256u}) {
        std::vector<int16_t> r(d);
        for (auto &x : r) x = (int16_t)(lo + (int32_t)(rng() % (uint64_t)(hi - lo + 1)));
        rows.push_back(r);
        for (int32_t v : {lo, hi, 0, -1, 1}) rows.push_back(std::vector<int16_t>(d, (int16_t)v));
        std::vector<int16_t> alt(d);
        for (uint32_t i = 0; i < d; i++) alt[i] = (int16_t)(i % 2 ? lo : hi);
        rows.push_back(alt);
    }
    return rows;
}

TEST(Plane, RowBytesAreTheCeilingOfTheBits) {
    EXPECT_EQ(spk_plane_row_bytes(64, 4), 32u);
    EXPECT_EQ(spk_plane_row_bytes(1, 4), 1u);
    EXPECT_EQ(spk_plane_row_bytes(3, 3), 2u);
    EXPECT_EQ(spk_plane_row_bytes(5, 12), 8u);
    EXPECT_EQ(spk_plane_row_bytes(64, 0), 0u);
    EXPECT_EQ(spk_plane_row_bytes(0, 8), 0u);
    EXPECT_EQ(spk_plane_row_bytes(256, 12), 384u);
    for (uint32_t d = 0; d <= 300; d++)
        for (uint32_t b = 0; b <= 12; b++)
            ASSERT_EQ(spk_plane_row_bytes(d, b), (d * b + 7) / 8) << d << " x " << b;
}

TEST(Plane, PackingMatchesTheBitByBitReferenceAndRoundTripsForEveryProfile) {
    std::mt19937_64 rng(20260301);
    for (uint8_t msb = 2; msb <= 12; msb++)
        for (uint8_t lsb = 0; lsb <= 12 - msb; lsb++) {
            const spk_quant_profile p{msb, lsb};
            for (const auto &codes : rows_for(p, rng)) {
                const uint32_t d = (uint32_t)codes.size();
                const uint32_t mb = spk_plane_row_bytes(d, msb), lb = spk_plane_row_bytes(d, lsb);
                // poisoned buffers with a guard byte: the row is fully written, nothing beyond
                std::vector<uint8_t> mrow(mb + 1, 0xA5), lrow(lb + 1, 0x5A);
                spk_plane_pack_row(codes.data(), d, p, 0, mrow.data());
                spk_plane_pack_row(codes.data(), d, p, 1, lrow.data());
                ASSERT_EQ(mrow[mb], 0xA5) << "MSB row overrun";
                ASSERT_EQ(lrow[lb], 0x5A) << "LSB row overrun";
                mrow.pop_back();
                lrow.pop_back();
                ASSERT_EQ(mrow, reference_row(codes, p, false))
                    << "MSB plane of profile " << +msb << "+" << +lsb << ", d " << d;
                ASSERT_EQ(lrow, reference_row(codes, p, true))
                    << "LSB plane of profile " << +msb << "+" << +lsb << ", d " << d;
                std::vector<int16_t> back(d, 0x7777);
                spk_plane_unpack_row(mrow.data(), lsb ? lrow.data() : nullptr, d, p, back.data());
                ASSERT_EQ(back, codes)
                    << "round trip of profile " << +msb << "+" << +lsb << ", d " << d;
            }
        }
}

TEST(Plane, MsbFieldIsTheSignedHighPartOfTheCodeSplit) {
    // 4+4: -1 = hi -1 (0xF), lo 15 (0xF); 17 = hi 1, lo 1; -128 = hi -8 (0x8), lo 0
    const spk_quant_profile p{4, 4};
    const int16_t codes[3] = {-1, 17, -128};
    uint8_t m[2] = {0, 0}, l[2] = {0, 0};
    spk_plane_pack_row(codes, 3, p, 0, m);
    spk_plane_pack_row(codes, 3, p, 1, l);
    EXPECT_EQ(m[0], 0x1F);
    EXPECT_EQ(m[1], 0x08);
    EXPECT_EQ(l[0], 0x1F);
    EXPECT_EQ(l[1], 0x00);
}

TEST(Plane, ProfileWithoutLsbPlaneWritesNoLsbBytes) {
    const spk_quant_profile p{12, 0};
    const int16_t codes[2] = {-2048, 2047};
    uint8_t guard = 0xC3;
    spk_plane_pack_row(codes, 2, p, 1, &guard);
    EXPECT_EQ(guard, 0xC3);
    uint8_t m[3];
    spk_plane_pack_row(codes, 2, p, 0, m);
    EXPECT_EQ(m[0], 0x00);
    EXPECT_EQ(m[1], 0xF8);
    EXPECT_EQ(m[2], 0x7F);
    int16_t back[2] = {0, 0};
    spk_plane_unpack_row(m, nullptr, 2, p, back);
    EXPECT_EQ(back[0], -2048);
    EXPECT_EQ(back[1], 2047);
}

} // namespace
