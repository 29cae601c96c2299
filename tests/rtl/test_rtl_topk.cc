// The top-k engine RTL (rtl/topk/spk_topk.v) against the golden model, bit for bit: exhaustive
// small cases, edge cases, seeded random cases up to n = 4096 and a wave dump (the 4-state reset
// test is in test_rtl_icarus.cc).
#include <gtest/gtest.h>

#include <cstdio> // std::remove
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "topk_harness.h"
#include "topk_models.h"

namespace {

// Every sequence of length 0..max_n over 4 distinct values, every k in 0..n+1.
template <class Model> size_t run_exhaustive(const TopkConfig &cfg, size_t max_n) {
    TopkHarness<Model> h(cfg);
    size_t cases = 0;
    for (size_t n = 0; n <= max_n; n++) {
        size_t combos = 1;
        for (size_t i = 0; i < n; i++) combos *= 4;
        std::vector<int64_t> v(n);
        for (size_t code = 0; code < combos; code++) {
            size_t c = code;
            for (size_t i = 0; i < n; i++, c /= 4) v[i] = (int64_t)(c % 4) * 7 - 10;
            for (size_t k = 0; k <= n + 1; k++) {
                std::string err = topk_check(cfg, v, k, h.run(v, k));
                if (!err.empty()) {
                    ADD_FAILURE() << cfg.name << " " << topk_describe(v, k) << ": " << err;
                    return cases;
                }
                cases++;
            }
        }
    }
    return cases;
}

TEST(RtlTopk, ExhaustiveSmallCasesP3) {
    EXPECT_GT(run_exhaustive<Vtopk_p3>(kTopkP3, 8), 600000u);
}

TEST(RtlTopk, ExhaustiveSmallCasesP16) {
    EXPECT_GT(run_exhaustive<Vtopk_p16>(kTopkP16, 8), 600000u);
}

template <class Model> void run_edge_cases(const TopkConfig &cfg) {
    TopkHarness<Model> h(cfg);
    const int64_t lo = -((int64_t)1 << (cfg.w - 1)), hi = ((int64_t)1 << (cfg.w - 1)) - 1;
    const size_t nmax = cfg.nmax;
    std::vector<std::pair<std::vector<int64_t>, size_t>> cases;
    cases.push_back({{}, 0});
    cases.push_back({{}, 1});
    cases.push_back({{lo}, 0});
    cases.push_back({{lo}, 1});
    cases.push_back({{hi, lo}, 1});
    cases.push_back({{lo, hi}, 1});
    cases.push_back({{hi, hi}, 1});
    cases.push_back({std::vector<int64_t>(cfg.p, 5), cfg.p - 1}); // exactly one line
    cases.push_back({std::vector<int64_t>(cfg.p + 1, 5), cfg.p}); // one line and one lane
    cases.push_back({std::vector<int64_t>(nmax, lo), nmax / 2});  // all equal, full depth
    cases.push_back({std::vector<int64_t>(nmax, hi), nmax});      // k == n, full depth
    std::vector<int64_t> desc(nmax), asc(nmax), alt(nmax);
    for (size_t i = 0; i < nmax; i++) {
        desc[i] = hi - (int64_t)i % (hi + 1);
        asc[i] = lo + (int64_t)i % (hi + 1);
        alt[i] = (i % 2) ? hi : lo;
    }
    for (size_t k : {(size_t)1, nmax / 2, nmax - 1}) {
        cases.push_back({desc, k}); // the first pivot is the maximum
        cases.push_back({asc, k});  // the worst case: every pass drops one candidate
        cases.push_back({alt, k});
    }
    for (auto &c : cases) {
        std::string err = topk_check(cfg, c.first, c.second, h.run(c.first, c.second));
        EXPECT_EQ(err, "") << cfg.name << " " << topk_describe(c.first, c.second);
    }
    // A command with n beyond the buffer depth is refused, selects nothing, and does not hang.
    TopkOutcome bad = h.start(nmax + 1, 3);
    EXPECT_TRUE(bad.done) << "n > NMAX must still finish";
    EXPECT_TRUE(bad.bad_cmd) << "n > NMAX must be flagged";
    EXPECT_TRUE(bad.kept.empty());
    // ... and the engine works normally afterwards.
    std::vector<int64_t> v = {3, 9, 9, 1};
    EXPECT_EQ(topk_check(cfg, v, 2, h.run(v, 2)), "");
}

TEST(RtlTopk, EdgeCasesP3) {
    run_edge_cases<Vtopk_p3>(kTopkP3);
}
TEST(RtlTopk, EdgeCasesP16) {
    run_edge_cases<Vtopk_p16>(kTopkP16);
}

template <class Model> void run_random(const TopkConfig &cfg, uint64_t seed, int count) {
    TopkHarness<Model> h(cfg);
    std::mt19937_64 rng(seed);
    std::vector<int64_t> v;
    size_t k = 0;
    for (int i = 0; i < count; i++) {
        topk_random_case(cfg, rng, v, k);
        std::string err = topk_check(cfg, v, k, h.run(v, k));
        ASSERT_EQ(err, "") << cfg.name << " seed " << seed << " case " << i << " "
                           << topk_describe(v, k);
    }
}

TEST(RtlTopk, RandomCasesP3) {
    run_random<Vtopk_p3>(kTopkP3, 20260101, 300);
}
TEST(RtlTopk, RandomCasesP16) {
    run_random<Vtopk_p16>(kTopkP16, 20260102, 300);
}

TEST(RtlTopk, WritesAnFstTraceWhenAsked) {
    std::string path = ::testing::TempDir() + "spk_rtl_topk_trace.fst";
    std::remove(path.c_str());
    {
        TopkHarness<Vtopk_p3> h(kTopkP3, path);
        std::vector<int64_t> v = {4, -2, 7, 7, 0, 3, 9};
        EXPECT_EQ(topk_check(kTopkP3, v, 3, h.run(v, 3)), "");
    }
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    ASSERT_TRUE(f.good()) << "no trace written at " << path;
    EXPECT_GT((long)f.tellg(), 100L);
    std::remove(path.c_str());
}

} // namespace
