// Top-k rule: exhaustive small cases and random long cases against a trivially correct
// reference with the same tie rule (docs/spec/datapath.md, "Top-k").
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "spksim/topk.h"

namespace {

// Reference: sort indices by (value descending, index ascending), keep k, re-sort by index.
std::vector<uint32_t> reference_topk(const std::vector<int64_t> &v, size_t k) {
    std::vector<uint32_t> idx(v.size());
    for (size_t i = 0; i < v.size(); i++) idx[i] = (uint32_t)i;
    std::stable_sort(idx.begin(), idx.end(), [&](uint32_t a, uint32_t b) { return v[a] > v[b]; });
    idx.resize(std::min(k, v.size()));
    std::sort(idx.begin(), idx.end());
    return idx;
}

std::vector<uint32_t> run_select(const std::vector<int64_t> &v, size_t k) {
    std::vector<uint32_t> kept(v.size() + 1, 0xDEADBEEF);
    std::vector<int64_t> scratch(2 * v.size() + 1);
    size_t n = spk_topk_select(v.data(), v.size(), k, kept.data(), scratch.data());
    kept.resize(n);
    return kept;
}

std::vector<uint32_t> run_quickselect(const std::vector<int64_t> &v, size_t k, uint32_t p,
                                      spk_topk_trace *trace) {
    std::vector<uint32_t> kept(v.size() + 1, 0xDEADBEEF);
    std::vector<int64_t> scratch(2 * v.size() + 1);
    size_t n = spk_topk_quickselect(v.data(), v.size(), k, p, kept.data(), scratch.data(), trace);
    kept.resize(n);
    return kept;
}

TEST(TopK, ExhaustiveLengthsUpTo8Over4Values) {
    size_t cases = 0;
    for (size_t n = 0; n <= 8; n++) {
        size_t combos = 1;
        for (size_t i = 0; i < n; i++) combos *= 4;
        std::vector<int64_t> v(n);
        for (size_t code = 0; code < combos; code++) {
            size_t c = code;
            for (size_t i = 0; i < n; i++, c /= 4) v[i] = (int64_t)(c % 4) * 7 - 10;
            for (size_t k = 0; k <= n + 1; k++) {
                auto want = reference_topk(v, k);
                ASSERT_EQ(run_select(v, k), want) << "n=" << n << " k=" << k << " code=" << code;
                spk_topk_trace tr;
                ASSERT_EQ(run_quickselect(v, k, 3, &tr), want)
                    << "n=" << n << " k=" << k << " code=" << code;
                cases++;
            }
        }
    }
    EXPECT_GT(cases, 400000u);
}

TEST(TopK, RandomLongCasesWithManyTies) {
    std::mt19937_64 rng(12345);
    for (int iter = 0; iter < 300; iter++) {
        size_t n = 1 + rng() % 4096;
        int64_t range = (iter % 3 == 0) ? 5 : (int64_t)1 << 40;
        std::vector<int64_t> v(n);
        for (auto &x : v) x = (int64_t)(rng() % (uint64_t)range) - range / 2;
        size_t k = rng() % (n + 2);
        auto want = reference_topk(v, k);
        EXPECT_EQ(run_select(v, k), want) << "n=" << n << " k=" << k;
        EXPECT_EQ(run_quickselect(v, k, 16, nullptr), want) << "n=" << n << " k=" << k;
    }
}

TEST(TopK, BypassesKZeroAndKAtLeastN) {
    std::vector<int64_t> v = {3, 1, 2};
    EXPECT_TRUE(run_select(v, 0).empty());
    EXPECT_EQ(run_select(v, 3), (std::vector<uint32_t>{0, 1, 2}));
    EXPECT_EQ(run_select(v, 99), (std::vector<uint32_t>{0, 1, 2}));
    spk_topk_trace tr;
    run_quickselect(v, 3, 16, &tr);
    EXPECT_EQ(tr.passes, 0u) << "k >= n must bypass the engine";
    EXPECT_EQ(tr.cycles, 0u);
}

TEST(TopK, TiesGoToTheEarliestIndex) {
    std::vector<int64_t> v = {5, 9, 5, 5, 9, 1};
    EXPECT_EQ(run_select(v, 3), (std::vector<uint32_t>{0, 1, 4}));
    EXPECT_EQ(run_select(v, 4), (std::vector<uint32_t>{0, 1, 2, 4}));
}

TEST(TopK, QuickselectCostFollowsPassModel) {
    // A strictly decreasing input with k = 1: the first pivot is the maximum, so one pass of
    // ceil(n/P) + 3 cycles decides it.
    std::vector<int64_t> v(100);
    for (size_t i = 0; i < v.size(); i++) v[i] = 1000 - (int64_t)i;
    spk_topk_trace tr;
    EXPECT_EQ(run_quickselect(v, 1, 16, &tr), (std::vector<uint32_t>{0}));
    EXPECT_EQ(tr.passes, 1u);
    EXPECT_EQ(tr.cycles, 7u + 3u);
    EXPECT_EQ(tr.kth_value, 1000);
    EXPECT_EQ(tr.emit_cycles, 7u);
}

} // namespace
