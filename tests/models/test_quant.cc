// Number formats, block layouts and the matrix-vector kernels (vector and portable paths).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "spkllm/quant.h"

namespace {

void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8);
}

} // namespace

TEST(Quant, HalfConversions) {
    EXPECT_EQ(spkllm_f32_to_f16(1.0f), 0x3C00);
    EXPECT_EQ(spkllm_f32_to_f16(-2.0f), 0xC000);
    EXPECT_EQ(spkllm_f32_to_f16(65504.0f), 0x7BFF);
    EXPECT_EQ(spkllm_f32_to_f16(1e6f), 0x7C00);               // overflow -> inf
    EXPECT_EQ(spkllm_f32_to_f16(5.9604645e-8f), 0x0001);      // smallest subnormal
    EXPECT_EQ(spkllm_f32_to_f16(1.0f + 1.0f / 2048), 0x3C00); // tie rounds to even
    EXPECT_EQ(spkllm_f32_to_f16(1.0f + 3.0f / 2048), 0x3C02);
    EXPECT_TRUE(std::isnan(spkllm_f16_to_f32(spkllm_f32_to_f16(NAN))));
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF)) continue; // NaN payloads
        float f = spkllm_f16_to_f32((uint16_t)h);
        ASSERT_EQ(spkllm_f32_to_f16(f), h) << std::hex << h;
    }
    EXPECT_EQ(spkllm_bf16_to_f32(spkllm_f32_to_bf16(1.5f)), 1.5f);
    EXPECT_EQ(spkllm_f32_to_bf16(1.0f + 1.0f / 256), 0x3F80); // tie rounds to even
}

TEST(Quant, BlockLayouts) {
    // Q4_1: d = 0.5, m = -1, byte i holds element i (low nibble) and element i + 16 (high).
    uint8_t q41[20];
    put16(q41, spkllm_f32_to_f16(0.5f));
    put16(q41 + 2, spkllm_f32_to_f16(-1.0f));
    for (int i = 0; i < 16; i++) q41[4 + i] = (uint8_t)(i | ((15 - i) << 4));
    float out[32];
    spkllm_dequantize_row(SPKLLM_TENSOR_Q4_1, q41, out, 32);
    for (int i = 0; i < 16; i++) {
        EXPECT_EQ(out[i], 0.5f * (float)i - 1.0f) << i;
        EXPECT_EQ(out[i + 16], 0.5f * (float)(15 - i) - 1.0f) << i;
    }
    // Q4_0: nibble minus 8.
    uint8_t q40[18];
    put16(q40, spkllm_f32_to_f16(2.0f));
    for (int i = 0; i < 16; i++) q40[2 + i] = (uint8_t)(i | (8 << 4));
    spkllm_dequantize_row(SPKLLM_TENSOR_Q4_0, q40, out, 32);
    for (int i = 0; i < 16; i++) {
        EXPECT_EQ(out[i], 2.0f * (float)(i - 8));
        EXPECT_EQ(out[i + 16], 0.0f);
    }
    // Q8_0: signed bytes.
    uint8_t q80[34];
    put16(q80, spkllm_f32_to_f16(0.25f));
    for (int i = 0; i < 32; i++) q80[2 + i] = (uint8_t)(int8_t)(i - 16);
    spkllm_dequantize_row(SPKLLM_TENSOR_Q8_0, q80, out, 32);
    for (int i = 0; i < 32; i++) EXPECT_EQ(out[i], 0.25f * (float)(i - 16));
    EXPECT_EQ(spkllm_row_bytes(SPKLLM_TENSOR_Q4_1, 64), 40u);
    EXPECT_EQ(spkllm_row_bytes(SPKLLM_TENSOR_Q8_0, 64), 68u);
}

TEST(Quant, EncodersStayWithinHalfAStep) {
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> x(256), back(256);
    for (auto &v : x) v = nd(rng);
    for (auto type : {SPKLLM_TENSOR_Q4_0, SPKLLM_TENSOR_Q4_1, SPKLLM_TENSOR_Q8_0}) {
        std::vector<uint8_t> enc(spkllm_row_bytes(type, 256));
        spkllm_quantize_row(type, x.data(), enc.data(), 256);
        spkllm_dequantize_row(type, enc.data(), back.data(), 256);
        for (size_t b = 0; b < 8; b++) {
            float amax = 0, lo = 1e30f, hi = -1e30f;
            for (size_t i = b * 32; i < b * 32 + 32; i++)
                amax = std::max(amax, std::fabs(x[i])), lo = std::min(lo, x[i]),
                hi = std::max(hi, x[i]);
            float step = type == SPKLLM_TENSOR_Q8_0   ? amax / 127
                         : type == SPKLLM_TENSOR_Q4_1 ? (hi - lo) / 15
                                                      : amax / 8;
            for (size_t i = b * 32; i < b * 32 + 32; i++)
                // Q4_0 has 8 negative but 7 positive steps: the side opposite the largest
                // magnitude is clamped at 7/8 of it, an error of up to one step.
                EXPECT_LE(std::fabs(back[i] - x[i]),
                          (type == SPKLLM_TENSOR_Q4_0 ? 1.0f : 0.51f) * step + 1e-3f)
                    << spkllm_tensor_type_name(type) << " " << i;
        }
    }
}

// Exact reference of what the kernels compute: integer block sums scaled in double.
static double reference_dot(spkllm_tensor_type type, const uint8_t *w, const spkllm_q8_block *x,
                            size_t nb) {
    std::vector<float> wf(nb * 32);
    spkllm_dequantize_row(type, w, wf.data(), nb * 32);
    double acc = 0;
    for (size_t b = 0; b < nb; b++)
        for (int i = 0; i < 32; i++) acc += (double)wf[b * 32 + i] * x[b].d * x[b].q[i];
    return acc;
}

TEST(Quant, MatmulMatchesReferenceForEveryColumnCount) {
    const size_t n = 128, rows = 5, nb = n / 32;
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> w(rows * n), x(9 * n);
    for (auto &v : w) v = nd(rng);
    for (auto &v : x) v = nd(rng);
    std::vector<spkllm_q8_block> xq(9 * nb);
    spkllm_quantize_q8(x.data(), xq.data(), 9 * n);
    for (int limit : {SPKLLM_KERNELS_AUTO, SPKLLM_KERNELS_AVX2, SPKLLM_KERNELS_PORTABLE}) {
        spkllm_kernels_limit(limit);
        for (auto type : {SPKLLM_TENSOR_Q4_0, SPKLLM_TENSOR_Q4_1, SPKLLM_TENSOR_Q8_0}) {
            size_t rb = spkllm_row_bytes(type, n);
            std::vector<uint8_t> enc(rows * rb);
            for (size_t r = 0; r < rows; r++)
                spkllm_quantize_row(type, w.data() + r * n, enc.data() + r * rb, n);
            for (size_t cols = 1; cols <= 9; cols++) {
                std::vector<float> out(cols * rows, NAN);
                spkllm_matmul_rows(type, enc.data(), n, 1, rows, x.data(), xq.data(), cols,
                                   out.data(), rows);
                for (size_t c = 0; c < cols; c++) {
                    EXPECT_TRUE(std::isnan(out[c * rows])) << "row 0 is outside [r0, r1)";
                    for (size_t r = 1; r < rows; r++) {
                        double want = reference_dot(type, enc.data() + r * rb, &xq[c * nb], nb);
                        EXPECT_NEAR(out[c * rows + r], want, 1e-4 * (1 + std::fabs(want)))
                            << spkllm_tensor_type_name(type) << " cols " << cols << " kernels "
                            << spkllm_kernels_name();
                    }
                }
            }
        }
        // Float weights use the float activations directly.
        std::vector<float> out(rows);
        spkllm_matmul_rows(SPKLLM_TENSOR_F32, w.data(), n, 0, rows, x.data(), nullptr, 1,
                           out.data(), rows);
        for (size_t r = 0; r < rows; r++) {
            double want = 0;
            for (size_t i = 0; i < n; i++) want += (double)w[r * n + i] * x[i];
            EXPECT_NEAR(out[r], want, 1e-4);
        }
    }
    spkllm_kernels_limit(SPKLLM_KERNELS_AUTO);
}

TEST(Quant, FloatHelpers) {
    std::vector<float> a(37), b(37), y(37, 1.0f);
    double want = 0;
    for (int i = 0; i < 37; i++)
        a[(size_t)i] = 0.5f * (float)i, b[(size_t)i] = 1.0f - 0.1f * (float)i;
    for (int i = 0; i < 37; i++) want += (double)a[(size_t)i] * b[(size_t)i];
    EXPECT_NEAR(spkllm_dot_f32(a.data(), b.data(), 37), want, 1e-3);
    spkllm_axpy_f32(2.0f, a.data(), y.data(), 37);
    for (int i = 0; i < 37; i++) EXPECT_FLOAT_EQ(y[(size_t)i], 1.0f + 2.0f * a[(size_t)i]);
}

// Exact agreement, the property the model's equalities rest on: a column of a many-column product
// equals the same column alone (4-column and single-column kernels), and every kernel set gives
// the same bits, for even and odd block counts; the float helpers likewise, with and without a
// tail.
TEST(Quant, KernelsAgreeBitForBitAcrossColumnCountsAndKernelSets) {
    std::mt19937 rng(11);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (size_t n : {64u, 160u}) {
        const size_t rows = 3, nb = n / 32, cols = 9;
        std::vector<float> w(rows * n), x(cols * n);
        for (auto &v : w) v = nd(rng);
        for (auto &v : x) v = nd(rng);
        std::vector<spkllm_q8_block> xq(cols * nb);
        spkllm_quantize_q8(x.data(), xq.data(), cols * n);
        for (auto type : {SPKLLM_TENSOR_Q4_0, SPKLLM_TENSOR_Q4_1, SPKLLM_TENSOR_Q8_0}) {
            size_t rb = spkllm_row_bytes(type, n);
            std::vector<uint8_t> enc(rows * rb);
            for (size_t r = 0; r < rows; r++)
                spkllm_quantize_row(type, w.data() + r * n, enc.data() + r * rb, n);
            std::vector<float> ref;
            for (int limit : {SPKLLM_KERNELS_PORTABLE, SPKLLM_KERNELS_AVX2, SPKLLM_KERNELS_AUTO}) {
                spkllm_kernels_limit(limit);
                std::vector<float> all(cols * rows), one(rows);
                spkllm_matmul_rows(type, enc.data(), n, 0, rows, x.data(), xq.data(), cols,
                                   all.data(), rows);
                for (size_t c = 0; c < cols; c++) {
                    spkllm_matmul_rows(type, enc.data(), n, 0, rows, x.data() + c * n,
                                       xq.data() + c * nb, 1, one.data(), rows);
                    EXPECT_EQ(0, memcmp(one.data(), &all[c * rows], sizeof(float) * rows))
                        << spkllm_tensor_type_name(type) << " n " << n << " column " << c
                        << " kernels " << spkllm_kernels_name();
                }
                if (ref.empty()) ref = all;
                EXPECT_EQ(0, memcmp(ref.data(), all.data(), sizeof(float) * all.size()))
                    << spkllm_tensor_type_name(type) << " n " << n << " kernels "
                    << spkllm_kernels_name() << " vs portable";
            }
        }
    }
    for (size_t n : {16u, 37u, 64u}) {
        std::vector<float> a(n), b(n);
        for (size_t i = 0; i < n; i++) a[i] = nd(rng), b[i] = nd(rng);
        std::vector<float> dots, ys;
        for (int limit : {SPKLLM_KERNELS_PORTABLE, SPKLLM_KERNELS_AUTO}) {
            spkllm_kernels_limit(limit);
            dots.push_back(spkllm_dot_f32(a.data(), b.data(), n));
            std::vector<float> y(b);
            spkllm_axpy_f32(0.37f, a.data(), y.data(), n);
            ys.insert(ys.end(), y.begin(), y.end());
        }
        EXPECT_EQ(0, memcmp(&dots[0], &dots[1], sizeof(float))) << "dot, n " << n;
        EXPECT_EQ(0, memcmp(ys.data(), ys.data() + n, sizeof(float) * n)) << "axpy, n " << n;
    }
    spkllm_kernels_limit(SPKLLM_KERNELS_AUTO);
}

TEST(Quant, FindNonfiniteNamesTheElementOrBlock) {
    std::vector<float> f(64, 1.0f);
    int is_nan = -1;
    EXPECT_EQ(spkllm_find_nonfinite(SPKLLM_TENSOR_F32, f.data(), f.size(), &is_nan), -1);
    f[17] = NAN;
    EXPECT_EQ(spkllm_find_nonfinite(SPKLLM_TENSOR_F32, f.data(), f.size(), &is_nan), 17);
    EXPECT_EQ(is_nan, 1);
    f[17] = 1.0f, f[40] = -INFINITY;
    EXPECT_EQ(spkllm_find_nonfinite(SPKLLM_TENSOR_F32, f.data(), f.size(), &is_nan), 40);
    EXPECT_EQ(is_nan, 0);
    uint8_t h[4];
    put16(h, 0x3C00), put16(h + 2, 0x7E00); // 1, NaN
    EXPECT_EQ(spkllm_find_nonfinite(SPKLLM_TENSOR_F16, h, 2, &is_nan), 1);
    EXPECT_EQ(is_nan, 1);
    put16(h + 2, 0xFF80); // bf16 -inf
    EXPECT_EQ(spkllm_find_nonfinite(SPKLLM_TENSOR_BF16, h, 2, &is_nan), 1);
    EXPECT_EQ(is_nan, 0);
    // Q4_1: the minimum of block 1 is infinite; its nibbles cannot be non-finite.
    std::vector<float> x(64, 0.25f);
    std::vector<uint8_t> q(40);
    spkllm_quantize_row(SPKLLM_TENSOR_Q4_1, x.data(), q.data(), 64);
    EXPECT_EQ(spkllm_find_nonfinite(SPKLLM_TENSOR_Q4_1, q.data(), 64, &is_nan), -1);
    put16(&q[20 + 2], 0x7C00);
    EXPECT_EQ(spkllm_find_nonfinite(SPKLLM_TENSOR_Q4_1, q.data(), 64, &is_nan), 32);
    EXPECT_EQ(is_nan, 0);
}

TEST(Quant, NonFiniteActivationsQuantizeWithoutUndefinedBehaviour) {
    // (int)roundf(NaN) was undefined (UBSan abort); the block now carries the NaN in d.
    std::vector<float> x(64, 0.5f);
    x[3] = NAN;
    x[40] = INFINITY;
    spkllm_q8_block b[2];
    spkllm_quantize_q8(x.data(), b, 64);
    EXPECT_TRUE(std::isnan(b[0].d)) << "a NaN must not be dropped as a finite block";
    EXPECT_TRUE(std::isnan(b[0].s));
    EXPECT_TRUE(std::isnan(b[1].d));
    for (int i = 0; i < SPKLLM_QK; i++) EXPECT_LE(std::abs((int)b[0].q[i]), 127);
    std::vector<uint8_t> q8(68);
    spkllm_quantize_row(SPKLLM_TENSOR_Q8_0, x.data(), q8.data(), 64);
}
