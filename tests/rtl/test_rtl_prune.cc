// The prune unit (rtl/prune/spk_prune.v) against the golden cascade pruning step
// (spk_prune_keep_window), entry by entry: random states with ties, zeros and saturated
// importance, random keep counts, windows and head groups, and the edge cases; its entry ports
// against spk_importance_add; its cycle count against the formula of docs/rtl.md.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <sstream>

#include "prune_harness.h"
#include "spksim/layer.h"

namespace {

constexpr int kSeeds = 4;
constexpr int kCasesPerSeed = 1000;

std::string describe(const PruneCmd &c) {
    std::ostringstream s;
    s << "n_tokens=" << c.n_tokens << " kt=" << c.kt << " sinks=" << c.sinks
      << " recent=" << c.recent << " n_heads=" << c.n_heads << " kh=" << c.kh
      << " g=" << c.head_group;
    return s.str();
}

std::string run_case(PruneHarness &h, const PruneEntries &e, const PruneCmd &c,
                     PruneResult *out = nullptr) {
    h.load(e);
    PruneResult r = h.prune(c);
    if (out) *out = r;
    return prune_check(e, c, h.read_all(), r);
}

TEST(RtlPrune, RandomStatesMatchTheGolden) {
    PruneHarness h;
    int pruned_tokens = 0, pruned_heads = 0, searched = 0;
    for (int seed = 1; seed <= kSeeds; seed++) {
        std::mt19937_64 rng(4242 + seed);
        for (int i = 0; i < kCasesPerSeed; i++) {
            PruneEntries e;
            PruneCmd c;
            prune_random_case(rng, e, c);
            PruneResult r;
            ASSERT_EQ(run_case(h, e, c, &r), "")
                << "seed " << seed << " case " << i << ": " << describe(c);
            uint32_t alive_t = 0, alive_h = 0;
            for (uint32_t j = 0; j < c.n_tokens; j++) alive_t += e.tok_alive[j];
            for (uint32_t k = 0; k < c.n_heads; k++) alive_h += e.head_alive[k];
            pruned_tokens += r.tokens_alive < alive_t;
            pruned_heads += r.heads_alive < alive_h;
            searched += r.token_passes > 0;
        }
    }
    // the generator must reach the interesting paths often
    EXPECT_GT(pruned_tokens, kSeeds * kCasesPerSeed / 5);
    EXPECT_GT(pruned_heads, kSeeds * kCasesPerSeed / 5);
    EXPECT_GT(searched, kSeeds * kCasesPerSeed / 10);
}

PruneEntries all_alive(uint64_t imp) {
    PruneEntries e;
    e.tok_alive.assign(kPruneNtok, 1);
    e.tok_imp.assign(kPruneNtok, imp);
    e.head_alive.assign(kPruneNhead, 1);
    e.head_imp.assign(kPruneNhead, imp);
    return e;
}

TEST(RtlPrune, EdgeCases) {
    PruneHarness h;
    std::mt19937_64 rng(99);
    PruneEntries e = all_alive(0);
    for (uint32_t j = 0; j < kPruneNtok; j++) e.tok_imp[j] = rng() % 5;
    for (uint32_t k = 0; k < kPruneNhead; k++) e.head_imp[k] = rng() % 3;
    e.tok_imp[7] = e.tok_imp[200] = kPruneImpMax;
    const uint32_t n = kPruneNtok;
    const PruneCmd cmds[] = {
        {n, 0, 0, 0, 16, 0, 0},             // keep all
        {n, n, 0, 0, 16, 16, 1},            // k = n_alive
        {n, 1000, 0, 0, 16, 99, 0},         // k > n_alive
        {n, 1, 0, 0, 16, 1, 0},             // k = 1: the earliest of the largest
        {n, 2, 0, 0, 16, 2, 2},             // the two saturated tokens
        {n, 3, 0, 0, 16, 3, 4},             // ties at the threshold
        {n, 10, 200, 100, 16, 5, 16},       // sinks + recent >= n: all protected; g = n_heads
        {n, 10, 0, 0xFFFFFFFFu, 16, 17, 8}, // recent covers everything
        {n, 10, 0xFFFFFFFFu, 0, 16, 1, 16}, // sinks cover everything
        {n, 20, 4, 8, 16, 3, 2},            // k > protected
        {n, 12, 4, 8, 16, 3, 2},            // k = protected: every open token dies
        {n, 5, 4, 8, 16, 3, 2},             // k < protected
        {0, 3, 1, 1, 16, 3, 1},             // no tokens
        {1, 1, 0, 0, 1, 1, 1},              // one token, one head
        {1, 0, 0, 0, 1, 0, 0},
        {2, 1, 0, 0, 2, 1, 2},
        {n, 5, 0, 0, 0, 3, 0},      // no heads: tokens only
        {n, 5, 0, 0, 16, 3, 3},     // g does not divide n_heads: refused
        {n, 5, 0, 0, 12, 3, 16},    // g > n_heads: refused
        {n + 1, 5, 0, 0, 16, 3, 1}, // n_tokens > NTOK: refused
        {n, 5, 0, 0, 17, 3, 1},     // n_heads > NHEAD: refused
        {n, 5, 0, 0, 6, 3, 3},      // groups of 3 among 6 heads
    };
    for (const PruneCmd &c : cmds) EXPECT_EQ(run_case(h, e, c), "") << describe(c);

    // all dead, all tied, all saturated, all zero
    PruneEntries dead = all_alive(5);
    dead.tok_alive.assign(kPruneNtok, 0);
    dead.head_alive.assign(kPruneNhead, 0);
    EXPECT_EQ(run_case(h, dead, {n, 3, 1, 1, 16, 3, 4}), "");
    for (uint64_t v : {UINT64_C(0), kPruneImpMax, UINT64_C(12345)}) {
        PruneEntries tie = all_alive(v);
        EXPECT_EQ(run_case(h, tie, {n, 100, 3, 5, 16, 5, 1}), "") << v;
        EXPECT_EQ(run_case(h, tie, {n - 3, 77, 0, 0, 16, 7, 2}), "") << v;
    }
    // strictly increasing values: the search runs every bit it can
    PruneEntries inc = all_alive(0);
    for (uint32_t j = 0; j < kPruneNtok; j++) inc.tok_imp[j] = kPruneImpMax - 3 * (n - j);
    PruneResult r;
    EXPECT_EQ(run_case(h, inc, {n, 100, 0, 0, 16, 0, 0}, &r), "");
    EXPECT_GT(r.token_passes, 0u);
}

TEST(RtlPrune, EntryOpsMatchSaturatingAdds) {
    PruneHarness h;
    std::mt19937_64 rng(7);
    PruneEntries want = all_alive(0);
    for (uint32_t j = 0; j < kPruneNtok; j++) want.tok_alive[j] = rng() % 2;
    h.load(want);
    for (int i = 0; i < 4000; i++) {
        const bool head = rng() % 4 == 0;
        const uint32_t n = head ? kPruneNhead : kPruneNtok;
        const uint32_t index = rng() % 3 == 0 ? 5 % n : (uint32_t)(rng() % n); // runs to one entry
        const uint64_t amount =
            rng() % 4 == 0 ? (UINT64_C(1) << 47) + rng() % 100 : rng() % (UINT64_C(1) << 32);
        uint64_t &imp = head ? want.head_imp[index] : want.tok_imp[index];
        if (rng() % 10 == 0) { // a load in between
            uint8_t &alive = head ? want.head_alive[index] : want.tok_alive[index];
            imp = rng() % 1000;
            alive = rng() % 2;
            h.op(false, head, index, imp, alive);
        } else {
            imp = spk_importance_add(imp, amount);
            h.op(true, head, index, amount);
        }
        if (rng() % 8 == 0) { // a read right after the op sees it
            bool alive = false;
            ASSERT_EQ(h.read(head, index, &alive), imp) << "op " << i;
            ASSERT_EQ(alive, head ? want.head_alive[index] : want.tok_alive[index]) << "op " << i;
        }
    }
    PruneEntries got = h.read_all();
    EXPECT_EQ(got.tok_imp, want.tok_imp);
    EXPECT_EQ(got.tok_alive, want.tok_alive);
    EXPECT_EQ(got.head_imp, want.head_imp);
    EXPECT_EQ(got.head_alive, want.head_alive);
    // and a prune right after them
    PruneCmd c = {kPruneNtok, 40, 2, 10, 16, 4, 2};
    PruneResult r = h.prune(c);
    EXPECT_EQ(prune_check(want, c, h.read_all(), r), "");
}

// Cycle cost of typical prunes (the formula is checked on every case above); printed for
// docs/rtl.md.
TEST(RtlPrune, CycleCost) {
    PruneHarness h;
    std::mt19937_64 rng(5);
    struct Kind {
        const char *name;
        int style;
    };
    const Kind kinds[] = {{"distinct 26-bit", 0}, {"values 0..3", 1}, {"near 2^48", 2}};
    for (const Kind &k : kinds) {
        uint64_t cycles = 0, passes = 0;
        const int reps = 20;
        for (int rep = 0; rep < reps; rep++) {
            PruneEntries e = all_alive(0);
            for (uint32_t j = 0; j < kPruneNtok; j++)
                e.tok_imp[j] = k.style == 0   ? rng() % (UINT64_C(1) << 26)
                               : k.style == 1 ? rng() % 4
                                              : kPruneImpMax - rng() % 1024;
            for (uint32_t i = 0; i < kPruneNhead; i++) e.head_imp[i] = rng() % (UINT64_C(1) << 40);
            PruneCmd c = {kPruneNtok, kPruneNtok / 2, 4, 16, kPruneNhead, kPruneNhead / 2, 1};
            PruneResult r;
            ASSERT_EQ(run_case(h, e, c, &r), "") << k.name;
            cycles += r.cycles;
            passes += r.token_passes;
        }
        std::printf("prune n=%u kt=%u P=%u, %s: %.1f cycles, %.1f token passes\n", kPruneNtok,
                    kPruneNtok / 2, kPruneP, k.name, (double)cycles / reps, (double)passes / reps);
    }
}

} // namespace
