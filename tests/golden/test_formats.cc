// Number formats of docs/spec/datapath.md: scale words, quantization, planes, softmax.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "spksim/datapath.h"

namespace {

TEST(ScaleWord, RoundsToSixteenBitMantissa) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> exp_dist(-60.0f, 60.0f);
    for (int i = 0; i < 20000; i++) {
        float s = std::exp2(exp_dist(rng));
        spk_scale w = 0;
        ASSERT_EQ(spk_scale_from_float(s, &w), SPKSIM_OK);
        uint32_t m = spk_scale_mant(w);
        ASSERT_GE(m, 32768u);
        ASSERT_LE(m, 65535u);
        float back = spk_scale_to_float(w);
        ASSERT_LE(std::fabs(back - s) / s, std::ldexp(1.0, -16) + 1e-9) << s;
    }
}

TEST(ScaleWord, EdgeCases) {
    spk_scale w = 123;
    EXPECT_EQ(spk_scale_from_float(0.0f, &w), SPKSIM_OK);
    EXPECT_EQ(w, 0u);
    EXPECT_EQ(spk_scale_from_float(-1.0f, &w), SPKSIM_E_RANGE);
    EXPECT_EQ(spk_scale_from_float(NAN, &w), SPKSIM_E_RANGE);
    EXPECT_EQ(spk_scale_from_float(INFINITY, &w), SPKSIM_E_RANGE);
    EXPECT_EQ(spk_scale_from_float(1e-38f, &w), SPKSIM_OK);
    EXPECT_EQ(w, 0u) << "scales below 2^-113 flush the row to zero";
    EXPECT_EQ(spk_scale_from_float(1.0f, &w), SPKSIM_OK);
    EXPECT_EQ(spk_scale_mant(w), 32768u);
    EXPECT_EQ(spk_scale_exp(w), -15);
    // 0.99999 rounds up to a mantissa of 65536, which renormalises to 32768 * 2^(x+1).
    EXPECT_EQ(spk_scale_from_float(0.9999999f, &w), SPKSIM_OK);
    EXPECT_EQ(spk_scale_to_float(w), 1.0f);
    EXPECT_EQ(spk_scale_from_float(1.0f, nullptr), SPKSIM_E_ARG);
}

TEST(Quantize, SymmetricSaturatingRoundHalfAway) {
    std::vector<float> x = {1.0f, -1.0f, 0.5f, 0.0f, -0.25f, 0.999f};
    std::vector<int16_t> c(x.size());
    spk_scale w = 0;
    ASSERT_EQ(spk_quantize_row(x.data(), (uint32_t)x.size(), 4, c.data(), &w), SPKSIM_OK);
    // qmax = 7, scale 1/7 rounded to 16 bits: every code is round(x * 7) within saturation.
    EXPECT_EQ(c[0], 7);
    EXPECT_EQ(c[1], -7);
    EXPECT_EQ(c[2], 4) << "3.5 rounds half away from zero";
    EXPECT_EQ(c[3], 0);
    EXPECT_EQ(c[4], -2) << "-1.75 rounds to -2";
    EXPECT_EQ(c[5], 7);
    std::vector<float> zeros(8, 0.0f);
    std::vector<int16_t> zc(8, 99);
    ASSERT_EQ(spk_quantize_row(zeros.data(), 8, 12, zc.data(), &w), SPKSIM_OK);
    EXPECT_EQ(w, 0u);
    for (auto v : zc) EXPECT_EQ(v, 0);
    x[2] = NAN;
    EXPECT_EQ(spk_quantize_row(x.data(), (uint32_t)x.size(), 12, c.data(), &w), SPKSIM_E_RANGE);
    EXPECT_EQ(spk_quantize_row(x.data(), (uint32_t)x.size(), 1, c.data(), &w), SPKSIM_E_ARG);
}

TEST(Quantize, ReconstructionErrorIsHalfAStep) {
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.0f, 3.0f);
    std::vector<float> x(64);
    std::vector<int16_t> c(64);
    for (int it = 0; it < 200; it++) {
        for (auto &v : x) v = nd(rng);
        spk_scale w = 0;
        ASSERT_EQ(spk_quantize_row(x.data(), 64, 12, c.data(), &w), SPKSIM_OK);
        float s = spk_scale_to_float(w);
        for (int i = 0; i < 64; i++) {
            ASSERT_LE(std::abs(c[i]), 2047);
            ASSERT_LE(std::fabs(c[i] * s - x[i]), 0.5f * s * 1.0001f + 1e-7f);
        }
    }
}

TEST(Planes, SplitAndMidpointReconstruction) {
    for (auto prof : {spk_quant_profile{4, 4}, spk_quant_profile{6, 4}, spk_quant_profile{8, 4},
                      spk_quant_profile{12, 0}}) {
        const int bits = prof.msb_bits + prof.lsb_bits, qmax = (1 << (bits - 1)) - 1;
        for (int c = -qmax; c <= qmax; c++) {
            int32_t hi = 0;
            uint32_t lo = 0;
            spk_code_split(c, prof, &hi, &lo);
            ASSERT_EQ(hi * (1 << prof.lsb_bits) + (int32_t)lo, c);
            ASSERT_GE(hi, -(1 << (prof.msb_bits - 1)));
            ASSERT_LT(hi, 1 << (prof.msb_bits - 1));
            ASSERT_LT(lo, 1u << prof.lsb_bits);
            int32_t m = spk_code_msb_only(c, prof);
            if (prof.lsb_bits == 0) {
                ASSERT_EQ(m, c);
            } else {
                ASSERT_EQ(m, hi * (1 << prof.lsb_bits) + (1 << (prof.lsb_bits - 1)));
                ASSERT_LE(std::abs(m - c), 1 << (prof.lsb_bits - 1));
            }
        }
    }
}

TEST(Logit, MatchesRealValueWithinRounding) {
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> u(0.01f, 10.0f);
    std::uniform_int_distribution<int64_t> dots(-(1 << 28), 1 << 28);
    for (int it = 0; it < 20000; it++) {
        spk_scale qw = 0, kw = 0;
        ASSERT_EQ(spk_scale_from_float(u(rng) * 1e-4f, &qw), SPKSIM_OK);
        ASSERT_EQ(spk_scale_from_float(u(rng) * 1e-3f, &kw), SPKSIM_OK);
        int64_t dot = dots(rng);
        double real = (double)dot * spk_scale_to_float(qw) * spk_scale_to_float(kw) * 256.0;
        int32_t t = spk_logit(dot, qw, kw);
        if (std::fabs(real) < 8e6) {
            // mqk rounding is relative 2^-15 at most, the final rounding half a unit.
            ASSERT_LE(std::fabs(t - real), 0.5 + std::fabs(real) * std::ldexp(1.0, -15) + 1e-6)
                << dot;
        } else {
            ASSERT_EQ(std::abs((int64_t)t), real > 0 ? (1 << 23) - 1 : (1 << 23));
        }
    }
}

TEST(Softmax, WithinStatedBoundOfFloat) {
    std::mt19937 rng(5);
    std::normal_distribution<double> nd(0.0, 1.0);
    double worst = 0;
    for (int it = 0; it < 300; it++) {
        uint32_t n = 1 + rng() % 2000;
        double spread = 1.0 + (it % 10) * 3.0; // logits from flat to very peaked (base-2 units)
        std::vector<int32_t> t(n);
        std::vector<double> ref(n);
        double mx = -1e300, sum = 0;
        for (uint32_t j = 0; j < n; j++) {
            t[j] = (int32_t)std::lround(nd(rng) * spread * 256.0);
            mx = std::max(mx, (double)t[j]);
        }
        for (uint32_t j = 0; j < n; j++) sum += (ref[j] = std::exp2((t[j] - mx) / 256.0));
        std::vector<uint32_t> e(n);
        std::vector<uint16_t> p(n);
        uint32_t pmax = spk_softmax(t.data(), n, e.data(), p.data());
        uint32_t seen_max = 0;
        for (uint32_t j = 0; j < n; j++) {
            worst = std::max(worst, std::fabs(p[j] / 65536.0 - ref[j] / sum));
            seen_max = std::max<uint32_t>(seen_max, p[j]);
        }
        ASSERT_EQ(pmax, seen_max);
    }
    EXPECT_LE(worst, std::ldexp(1.0, -11)) << "spec bound on |p - softmax|";
    RecordProperty("worst_abs_error", std::to_string(worst));
}

TEST(Softmax, SingleKeyIsCertain) {
    int32_t t = -12345;
    uint32_t e = 0;
    uint16_t p = 0;
    EXPECT_EQ(spk_softmax(&t, 1, &e, &p), 65535u);
    EXPECT_EQ(e, 1u << 23);
    EXPECT_EQ(spk_softmax(&t, 0, &e, &p), 0u);
}

TEST(KeepCount, CeilOfRatio) {
    EXPECT_EQ(spk_keep_count(10, SPK_ONE_Q16), 10u);
    EXPECT_EQ(spk_keep_count(10, spk_ratio_q16(0.5)), 5u);
    EXPECT_EQ(spk_keep_count(10, spk_ratio_q16(0.51)), 6u);
    EXPECT_EQ(spk_keep_count(3, 1), 1u) << "a positive ratio keeps at least one";
    EXPECT_EQ(spk_keep_count(0, spk_ratio_q16(0.5)), 0u);
    EXPECT_EQ(spk_ratio_q16(2.0), SPK_ONE_Q16);
    EXPECT_EQ(spk_ratio_q16(0.0), 0u);
    for (uint32_t n = 0; n < 3000; n += 7)
        for (double r : {0.1, 0.25, 0.3, 0.77})
            EXPECT_EQ(spk_keep_count(n, spk_ratio_q16(r)),
                      (uint32_t)std::ceil(n * (spk_ratio_q16(r) / 65536.0) - 1e-12));
}

} // namespace
