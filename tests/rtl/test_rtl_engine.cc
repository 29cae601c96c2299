// The engine top (rtl/engine/spk_engine.v) running whole head requests from an AXI4 memory
// model, queued back to back in its descriptor FIFO, against the golden spk_head_run bit for
// bit: output codes, out_exp, probabilities, requant decision, kept V tokens, head importance,
// the fetch events and the tags; and its token-importance bank against the golden per-layer
// accumulation.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "engine_harness.h"

namespace {

#ifdef __SANITIZE_ADDRESS__
constexpr int kCases = 150; // the golden model and harness run instrumented: fewer cases
#else
constexpr int kCases = 400;
#endif

std::string describe(const EngineCase &c) {
    return "d=" + std::to_string(c.cfg.d) + " n=" + std::to_string(c.n) + " profile " +
           std::to_string(c.cfg.kv.msb_bits) + "+" + std::to_string(c.cfg.kv.lsb_bits);
}

// Index and values of the first differing importance entry, or "".
std::string compare_importance(const std::vector<uint64_t> &want,
                               const std::vector<uint64_t> &got) {
    for (size_t t = 0; t < got.size(); t++) {
        const uint64_t w = t < want.size() ? want[t] : 0;
        if (got[t] != w)
            return "token " + std::to_string(t) + ": " + std::to_string(got[t]) + " want " +
                   std::to_string(w);
    }
    return "";
}

TEST(RtlEngine, RandomHeadRequestBurstsMatchTheGoldenModel) {
    EngineHarness h;
    ASSERT_EQ(h.clear_importance(), "");
    std::mt19937_64 rng(20261128);
    int requants = 0, msb_only = 0, done = 0;
    std::vector<uint64_t> want_imp, got_imp;
    while (done < kCases) {
        // bursts of 1..7 requests: more than the FIFO's 4, so req_ready also drops
        std::vector<EngineCase> burst(1 + rng() % 7);
        for (EngineCase &c : burst) {
            ASSERT_EQ(engine_random_case(rng, 300, c), "") << "case " << done;
            requants += c.want_requant;
            msb_only += !c.want_requant && c.cfg.kv.lsb_bits > 0;
            engine_add_importance(c, want_imp);
        }
        std::vector<EngineOutcome> got = h.run_burst(burst);
        for (size_t r = 0; r < burst.size(); r++, done++)
            ASSERT_EQ(engine_check(burst[r], got[r]), "")
                << "case " << done << " (request " << r << " of a burst of " << burst.size() << ") "
                << describe(burst[r]);
        ASSERT_EQ(h.read_importance(got_imp), "");
        ASSERT_EQ(compare_importance(want_imp, got_imp), "") << "after case " << done;
    }
    EXPECT_GT(requants, 0) << "the generator should make some requests refetch LSBs";
    EXPECT_GT(msb_only, 0) << "and some stay with the MSB plane";
}

TEST(RtlEngine, WorksWithoutMemoryStallsAndAtFullDepth) {
    EngineMemory mem;
    mem.random_stalls = false;
    mem.latency = 3;
    EngineHarness h("", mem);
    std::mt19937_64 rng(77);
    std::vector<EngineCase> burst(5);
    for (size_t r = 0; r < burst.size(); r++) // request 1 at exactly NMAX keys
        ASSERT_EQ(
            engine_random_case(rng, kEngineNmax, burst[r], r == 1 ? (int64_t)kEngineNmax : -1), "");
    std::vector<EngineOutcome> got = h.run_burst(burst);
    for (size_t r = 0; r < burst.size(); r++)
        ASSERT_EQ(engine_check(burst[r], got[r]), "")
            << "request " << r << " " << describe(burst[r]);
}

// Key-list mode (key_list = 1): the keys are a uint16 token list in memory, sorted with gaps
// as the golden layer's ALIVE tokens; mixed in the same bursts with contiguous requests, with
// one list at NMAX keys and an empty list, and the token importance checked after each burst.
TEST(RtlEngine, KeyListRequestsMixedWithContiguousMatchTheGoldenModel) {
    EngineHarness h;
    ASSERT_EQ(h.clear_importance(), "");
    std::mt19937_64 rng(4711);
    std::vector<uint64_t> want_imp, got_imp;
    int lists = 0, gapped = 0, done = 0;
    for (int b = 0; b < 12; b++) {
        std::vector<EngineCase> burst(1 + rng() % 6);
        for (size_t r = 0; r < burst.size(); r++) {
            const bool list = (b + r) % 2 == 0;
            const int64_t n = b == 3 && r == 0 ? (int64_t)kEngineNmax : b == 5 && r == 0 ? 0 : -1;
            ASSERT_EQ(engine_random_case(rng, 300, burst[r], n, -1, list), "");
            lists += list;
            gapped += list && burst[r].n > 0 && burst[r].keys.back() >= burst[r].n;
            engine_add_importance(burst[r], want_imp);
        }
        std::vector<EngineOutcome> got = h.run_burst(burst);
        for (size_t r = 0; r < burst.size(); r++, done++)
            ASSERT_EQ(engine_check(burst[r], got[r]), "")
                << "case " << done << (burst[r].keys.empty() ? " contiguous " : " key list ")
                << describe(burst[r]);
        ASSERT_EQ(h.read_importance(got_imp), "");
        ASSERT_EQ(compare_importance(want_imp, got_imp), "") << "after case " << done;
    }
    EXPECT_GT(lists, 10);
    EXPECT_GT(gapped, 5) << "the lists should skip tokens (not be a contiguous range)";
}

TEST(RtlEngine, EmptyRequestsOutputZerosAndFetchNothing) {
    EngineHarness h;
    ASSERT_EQ(h.clear_importance(), "");
    std::mt19937_64 rng(4);
    std::vector<EngineCase> burst(5);
    for (size_t r = 0; r < burst.size(); r++)
        ASSERT_EQ(engine_random_case(rng, 80, burst[r], r % 2 == 0 ? 0 : -1), "");
    std::vector<uint64_t> want_imp, got_imp;
    for (const EngineCase &c : burst) engine_add_importance(c, want_imp);
    // alone, then between two ordinary requests in one burst
    EngineOutcome alone = h.run(burst[0]);
    EXPECT_EQ(engine_check(burst[0], alone), "");
    EXPECT_EQ(alone.reads, 0u) << "n = 0 must fetch nothing";
    EXPECT_EQ(alone.out, std::vector<int32_t>(burst[0].cfg.d, 0)) << "d zeros, not nothing";
    std::vector<EngineOutcome> got = h.run_burst(burst);
    for (size_t r = 0; r < burst.size(); r++) {
        EXPECT_EQ(engine_check(burst[r], got[r]), "") << "request " << r << " n=" << burst[r].n;
        if (burst[r].n == 0) {
            EXPECT_EQ(got[r].reads, 0u) << "request " << r;
            EXPECT_EQ(got[r].out_exp, 0);
            EXPECT_EQ(got[r].importance, 0u);
        }
    }
    ASSERT_EQ(h.read_importance(got_imp), "");
    EXPECT_EQ(compare_importance(want_imp, got_imp), "");
}

TEST(RtlEngine, QueuesBurstsAndTagsResultsInOrder) {
    EngineMemory mem;
    mem.random_stalls = false;
    EngineHarness h("", mem);
    std::mt19937_64 rng(31337);
    std::vector<EngineCase> burst(3 * kEngineQdepth);
    for (EngineCase &c : burst) ASSERT_EQ(engine_random_case(rng, 40, c), "");
    std::vector<EngineOutcome> got = h.run_burst(burst);
    for (size_t r = 0; r < burst.size(); r++) {
        ASSERT_EQ(engine_check(burst[r], got[r]), "") << "request " << r;
        if (r > 0) {
            EXPECT_EQ(got[r].tag, (got[r - 1].tag + 1) & 0xFFu) << "tags in queue order";
        }
    }
}

TEST(RtlEngine, LayerTokenImportanceMatchesTheGoldenAccumulation) {
    EngineHarness h;
    std::mt19937_64 rng(2021);
    std::vector<uint64_t> want, got;
    ASSERT_EQ(h.clear_importance(), "");
    for (int layer = 0; layer < 2; layer++) { // the second layer adds onto the first
        std::vector<EngineCase> cases;
        ASSERT_EQ(engine_layer_cases(rng, 3, 4, cases), "");
        for (const EngineCase &c : cases) engine_add_importance(c, want);
        std::vector<EngineOutcome> out = h.run_burst(cases);
        for (size_t r = 0; r < cases.size(); r++)
            ASSERT_EQ(engine_check(cases[r], out[r]), "") << "layer " << layer << " request " << r;
        ASSERT_EQ(h.read_importance(got), "");
        ASSERT_EQ(compare_importance(want, got), "") << "after layer " << layer;
        uint64_t total = 0;
        for (uint64_t x : got) total += x;
        EXPECT_GT(total, 0u) << "the probabilities must have been added";
    }
    ASSERT_EQ(h.clear_importance(), "");
    ASSERT_EQ(h.read_importance(got), "");
    EXPECT_EQ(compare_importance({}, got), "") << "clear must zero every entry";
}

TEST(RtlEngine, ImportanceReadsDuringARunAreAnsweredOrDropped) {
    EngineHarness h;
    std::mt19937_64 rng(99);
    std::vector<EngineCase> burst(3);
    std::vector<uint64_t> want, got;
    for (EngineCase &c : burst) {
        ASSERT_EQ(engine_random_case(rng, 100, c, -1, 0), ""); // tokens 0 .. 99 at most
        engine_add_importance(c, want);
    }
    ASSERT_EQ(h.clear_importance(), "");
    std::vector<EngineOutcome> first = h.run_burst(burst); // tokens 0.. now hold something
    for (size_t r = 0; r < burst.size(); r++) ASSERT_EQ(engine_check(burst[r], first[r]), "");
    for (EngineCase &c : burst) {
        ASSERT_EQ(engine_random_case(rng, 100, c, -1, 200), ""); // tokens 200 .. 299 at most
        engine_add_importance(c, want);
    }
    h.probe_token = 0; // untouched by the second burst: every answered read gives its value
    std::vector<EngineOutcome> second = h.run_burst(burst);
    for (size_t r = 0; r < burst.size(); r++) ASSERT_EQ(engine_check(burst[r], second[r]), "");
    EXPECT_GT(h.probe_values.size(), 0u) << "reads must be answered while the engine fetches";
    EXPECT_GT(h.probe_dropped, 0u) << "reads in the cycles of an add are dropped";
    for (uint64_t v : h.probe_values) ASSERT_EQ(v, want[0]) << "token 0 read during the run";
    h.probe_token = -1;
    ASSERT_EQ(h.read_importance(got), "");
    EXPECT_EQ(compare_importance(want, got), "");
}

TEST(RtlEngine, QueuedRequestsWaitForAnImportanceClear) {
    EngineMemory mem;
    mem.random_stalls = false;
    mem.latency = 2;
    EngineHarness h("", mem);
    std::mt19937_64 rng(6);
    std::vector<EngineCase> burst(4);
    std::vector<uint64_t> want, got;
    for (EngineCase &c : burst) ASSERT_EQ(engine_random_case(rng, 12, c), "");
    ASSERT_EQ(h.clear_importance(), "");
    h.run_burst(burst); // leaves something in the bank
    // short requests: without the wait their adds would land inside the NTOK-cycle clear
    for (EngineCase &c : burst) {
        ASSERT_EQ(engine_random_case(rng, 12, c), "");
        c.cfg.d = std::min<uint32_t>(c.cfg.d, 8);
        ASSERT_EQ(engine_golden(c), "");
        engine_add_importance(c, want);
    }
    std::vector<EngineOutcome> out = h.run_burst(burst, true);
    for (size_t r = 0; r < burst.size(); r++) ASSERT_EQ(engine_check(burst[r], out[r]), "");
    EXPECT_GT(out[0].cycles, kEngineNtok) << "the first request waits for the clear";
    ASSERT_EQ(h.read_importance(got), "");
    EXPECT_EQ(compare_importance(want, got), "") << "only the second burst's additions";
}

TEST(RtlEngine, RefusesBadDescriptorsAndStaysUsable) {
    EngineHarness h;
    std::mt19937_64 rng(5);
    EngineCase c;
    ASSERT_EQ(engine_random_case(rng, 50, c), "");
    EngineCase bad = c;
    bad.n = kEngineNmax + 1;
    EXPECT_TRUE(h.run(bad).bad_cmd) << "n > NMAX must be refused";
    bad = c;
    bad.cfg.d = kEngineDmax + 1;
    bad.q.resize(bad.cfg.d);
    bad.k.resize((size_t)bad.n_tokens * bad.cfg.d);
    bad.v.resize((size_t)bad.n_tokens * bad.cfg.d);
    EXPECT_TRUE(h.run(bad).bad_cmd) << "d > DMAX must be refused";
    bad = c;
    bad.key_base = kEngineNtok - bad.n + 1; // its last token has no accumulator
    bad.n_tokens = bad.key_base + bad.n;
    bad.k.resize((size_t)bad.n_tokens * bad.cfg.d);
    bad.v.resize((size_t)bad.n_tokens * bad.cfg.d);
    bad.k_scales.resize(bad.n_tokens);
    bad.v_scales.resize(bad.n_tokens);
    EngineOutcome got = h.run(bad);
    EXPECT_TRUE(got.bad_cmd) << "key_base + n > NTOK must be refused";
    EXPECT_EQ(got.reads, 0u) << "a refused request reads nothing";
    EXPECT_EQ(engine_check(c, h.run(c)), "") << "a good request after refused ones";
}

TEST(RtlEngine, ReportsBusErrorsAndStaysUsable) {
    std::mt19937_64 rng(808);
    EngineCase c;
    ASSERT_EQ(engine_random_case(rng, 60, c), "");
    // read 0 is a query block (the engine's own read), read 40 one of the fetcher's
    for (int64_t at : {0, 40}) {
        EngineMemory mem;
        mem.error_at = at;
        EngineHarness h("", mem);
        EngineOutcome got = h.run(c);
        EXPECT_TRUE(got.done) << "a request with an error response must still finish (read " << at
                              << ")";
        EXPECT_TRUE(got.bus_error) << "SLVERR on read " << at << " must be reported";
        EXPECT_EQ(engine_check(c, h.run(c)), "") << "the next request after the error";
    }
}

} // namespace
