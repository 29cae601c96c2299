// The engine tops' GoogleTest checks, shared by the suites of spk_engine (test_rtl_engine.cc)
// and spk_engine_compact (test_rtl_engine_compact.cc): each check is a template over the
// Verilated model and takes its sizes (case counts, largest n) from the suite, so the slower
// compact engine runs the same checks on fewer and smaller requests. Every output is compared
// with the golden spk_head_run bit for bit (engine_check) and the token-importance bank with the
// golden accumulation of the final probabilities.
#ifndef SPK_TESTS_RTL_ENGINE_CHECKS_H
#define SPK_TESTS_RTL_ENGINE_CHECKS_H

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "engine_harness.h"

inline std::string engine_describe(const EngineCase &c) {
    return "d=" + std::to_string(c.cfg.d) + " n=" + std::to_string(c.n) + " profile " +
           std::to_string(c.cfg.kv.msb_bits) + "+" + std::to_string(c.cfg.kv.lsb_bits);
}

// `cases` random requests (n 1..max_n) queued in bursts of 1..max_burst (more than the FIFO's
// QDEPTH, so req_ready also drops) through the stalling memory; the bank after every burst.
template <class Model>
void engine_expect_random_bursts(uint64_t seed, int cases, uint32_t max_n, uint32_t max_burst) {
    EngineHarness<Model> h;
    ASSERT_EQ(h.clear_importance(), "");
    std::mt19937_64 rng(seed);
    int requants = 0, msb_only = 0, done = 0;
    std::vector<uint64_t> want_imp, got_imp;
    while (done < cases) {
        std::vector<EngineCase> burst(1 + rng() % max_burst);
        for (EngineCase &c : burst) {
            ASSERT_EQ(engine_random_case(rng, max_n, c), "") << "case " << done;
            requants += c.want_requant;
            msb_only += !c.want_requant && c.cfg.kv.lsb_bits > 0;
            engine_add_importance(c, want_imp);
        }
        std::vector<EngineOutcome> got = h.run_burst(burst);
        for (size_t r = 0; r < burst.size(); r++, done++)
            ASSERT_EQ(engine_check(burst[r], got[r]), "")
                << "seed " << seed << " case " << done << " (request " << r << " of a burst of "
                << burst.size() << ") " << engine_describe(burst[r]);
        ASSERT_EQ(h.read_importance(got_imp), "");
        ASSERT_EQ(engine_compare_importance(want_imp, got_imp), "") << "after case " << done;
    }
    EXPECT_GT(requants, 0) << "the generator should make some requests refetch LSBs";
    EXPECT_GT(msb_only, 0) << "and some stay with the MSB plane";
}

// A burst of `count` requests without memory stalls at `latency`, request 1 at exactly NMAX
// keys, the others of 1..max_n keys.
template <class Model>
void engine_expect_full_depth_without_stalls(uint64_t seed, size_t count, uint32_t latency,
                                             uint32_t max_n) {
    EngineMemory mem;
    mem.random_stalls = false;
    mem.latency = latency;
    EngineHarness<Model> h("", mem);
    std::mt19937_64 rng(seed);
    std::vector<EngineCase> burst(count);
    for (size_t r = 0; r < burst.size(); r++)
        ASSERT_EQ(engine_random_case(rng, max_n, burst[r], r == 1 ? (int64_t)kEngineNmax : -1), "");
    std::vector<EngineOutcome> got = h.run_burst(burst);
    for (size_t r = 0; r < burst.size(); r++)
        ASSERT_EQ(engine_check(burst[r], got[r]), "")
            << "seed " << seed << " request " << r << " " << engine_describe(burst[r]);
}

// Key-list mode (key_list = 1): the keys are a uint16 token list in memory, sorted with gaps
// as the golden layer's ALIVE tokens; mixed in the same bursts (of 1..max_burst) with contiguous
// requests, with one list at NMAX keys (burst 3) and an empty list (burst 5), and the token
// importance checked after each burst.
template <class Model>
void engine_expect_key_lists(uint64_t seed, int bursts, uint32_t max_n, uint32_t max_burst) {
    EngineHarness<Model> h;
    ASSERT_EQ(h.clear_importance(), "");
    std::mt19937_64 rng(seed);
    std::vector<uint64_t> want_imp, got_imp;
    int lists = 0, gapped = 0, done = 0;
    for (int b = 0; b < bursts; b++) {
        std::vector<EngineCase> burst(1 + rng() % max_burst);
        for (size_t r = 0; r < burst.size(); r++) {
            const bool list = (b + r) % 2 == 0;
            const int64_t n = b == 3 && r == 0 ? (int64_t)kEngineNmax : b == 5 && r == 0 ? 0 : -1;
            ASSERT_EQ(engine_random_case(rng, max_n, burst[r], n, -1, list), "");
            lists += list;
            gapped += list && burst[r].n > 0 && burst[r].keys.back() >= burst[r].n;
            engine_add_importance(burst[r], want_imp);
        }
        std::vector<EngineOutcome> got = h.run_burst(burst);
        for (size_t r = 0; r < burst.size(); r++, done++)
            ASSERT_EQ(engine_check(burst[r], got[r]), "")
                << "seed " << seed << " case " << done
                << (burst[r].keys.empty() ? " contiguous " : " key list ")
                << engine_describe(burst[r]);
        ASSERT_EQ(h.read_importance(got_imp), "");
        ASSERT_EQ(engine_compare_importance(want_imp, got_imp), "") << "after case " << done;
    }
    EXPECT_GT(lists, done / 3) << "about every other request should be a key list";
    EXPECT_GT(gapped, lists / 2) << "the lists should skip tokens (not be a contiguous range)";
}

// n = 0 alone and between ordinary requests (1..max_n keys) of a burst: d zeros, out_exp 0, no
// reads, importance untouched.
template <class Model> void engine_expect_empty_requests(uint64_t seed, uint32_t max_n) {
    EngineHarness<Model> h;
    ASSERT_EQ(h.clear_importance(), "");
    std::mt19937_64 rng(seed);
    std::vector<EngineCase> burst(5);
    for (size_t r = 0; r < burst.size(); r++)
        ASSERT_EQ(engine_random_case(rng, max_n, burst[r], r % 2 == 0 ? 0 : -1), "");
    std::vector<uint64_t> want_imp, got_imp;
    for (const EngineCase &c : burst) engine_add_importance(c, want_imp);
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
    EXPECT_EQ(engine_compare_importance(want_imp, got_imp), "");
}

// 3 x QDEPTH requests (1..max_n keys) queued back to back: every result exact, tags in order.
template <class Model> void engine_expect_tags_in_queue_order(uint64_t seed, uint32_t max_n) {
    EngineMemory mem;
    mem.random_stalls = false;
    EngineHarness<Model> h("", mem);
    std::mt19937_64 rng(seed);
    std::vector<EngineCase> burst(3 * kEngineQdepth);
    for (EngineCase &c : burst) ASSERT_EQ(engine_random_case(rng, max_n, c), "");
    std::vector<EngineOutcome> got = h.run_burst(burst);
    for (size_t r = 0; r < burst.size(); r++) {
        ASSERT_EQ(engine_check(burst[r], got[r]), "") << "request " << r;
        if (r > 0) {
            EXPECT_EQ(got[r].tag, (got[r - 1].tag + 1) & 0xFFu) << "tags in queue order";
        }
    }
}

// Two layers of `heads` x `queries` causal requests over at most max_tokens tokens: the bank
// after each layer (the second adding onto the first), then imp_clear zeroes every entry.
template <class Model>
void engine_expect_layer_importance(uint64_t seed, uint32_t heads, uint32_t queries,
                                    uint32_t max_tokens) {
    EngineHarness<Model> h;
    std::mt19937_64 rng(seed);
    std::vector<uint64_t> want, got;
    ASSERT_EQ(h.clear_importance(), "");
    for (int layer = 0; layer < 2; layer++) {
        std::vector<EngineCase> cases;
        ASSERT_EQ(engine_layer_cases(rng, heads, queries, cases, max_tokens), "");
        for (const EngineCase &c : cases) engine_add_importance(c, want);
        std::vector<EngineOutcome> out = h.run_burst(cases);
        for (size_t r = 0; r < cases.size(); r++)
            ASSERT_EQ(engine_check(cases[r], out[r]), "") << "layer " << layer << " request " << r;
        ASSERT_EQ(h.read_importance(got), "");
        ASSERT_EQ(engine_compare_importance(want, got), "") << "after layer " << layer;
        uint64_t total = 0;
        for (uint64_t x : got) total += x;
        EXPECT_GT(total, 0u) << "the probabilities must have been added";
        uint64_t heads_total = 0;
        for (size_t e = kEngineNtok; e < got.size(); e++) heads_total += got[e];
        EXPECT_GT(heads_total, 0u) << "the head importances must have been added";
    }
    ASSERT_EQ(h.clear_importance(), "");
    ASSERT_EQ(h.read_importance(got), "");
    EXPECT_EQ(engine_compare_importance({}, got), "") << "clear must zero every entry";
}

// An entry read every cycle during a burst of 3 requests (1..max_n keys, tokens from 200):
// answered reads give its value (set by an earlier burst over tokens 0..), reads in the cycles
// of an add are dropped.
template <class Model>
void engine_expect_importance_reads_during_a_run(uint64_t seed, uint32_t max_n) {
    EngineHarness<Model> h;
    std::mt19937_64 rng(seed);
    std::vector<EngineCase> burst(3);
    std::vector<uint64_t> want, got;
    for (EngineCase &c : burst) {
        ASSERT_EQ(engine_random_case(rng, max_n, c, -1, 0), ""); // tokens 0 .. max_n - 1
        engine_add_importance(c, want);
    }
    ASSERT_EQ(h.clear_importance(), "");
    std::vector<EngineOutcome> first = h.run_burst(burst);
    for (size_t r = 0; r < burst.size(); r++) ASSERT_EQ(engine_check(burst[r], first[r]), "");
    for (EngineCase &c : burst) {
        ASSERT_EQ(engine_random_case(rng, max_n, c, -1, 200), ""); // tokens from 200
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
    EXPECT_EQ(engine_compare_importance(want, got), "");
}

// imp_clear in the cycle a burst of short requests is offered: the first waits for the clear,
// the bank then holds exactly the burst's additions.
template <class Model> void engine_expect_requests_wait_for_a_clear(uint64_t seed) {
    EngineMemory mem;
    mem.random_stalls = false;
    mem.latency = 2;
    EngineHarness<Model> h("", mem);
    std::mt19937_64 rng(seed);
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
    EXPECT_EQ(engine_compare_importance(want, got), "") << "only the second burst's additions";
}

// n > NMAX, d > DMAX and key_base + n > NTOK are refused without reads; a good request after.
template <class Model> void engine_expect_bad_descriptors_refused(uint64_t seed) {
    EngineHarness<Model> h;
    std::mt19937_64 rng(seed);
    EngineCase c;
    ASSERT_EQ(engine_random_case(rng, 50, c), "");
    EngineCase bad = c;
    bad.n = kEngineNmax + 1;
    EngineOutcome got = h.run(bad);
    EXPECT_TRUE(got.bad_cmd) << "n > NMAX must be refused";
    EXPECT_EQ(got.reads, 0u) << "a refused request reads nothing";
    bad = c;
    bad.cfg.d = kEngineDmax + 1;
    bad.q.resize(bad.cfg.d);
    bad.k.resize((size_t)bad.n_tokens * bad.cfg.d);
    bad.v.resize((size_t)bad.n_tokens * bad.cfg.d);
    got = h.run(bad);
    EXPECT_TRUE(got.bad_cmd) << "d > DMAX must be refused";
    EXPECT_EQ(got.reads, 0u) << "a refused request reads nothing";
    bad = c;
    bad.key_base = kEngineNtok - bad.n + 1; // its last token has no accumulator
    bad.n_tokens = bad.key_base + bad.n;
    bad.k.resize((size_t)bad.n_tokens * bad.cfg.d);
    bad.v.resize((size_t)bad.n_tokens * bad.cfg.d);
    bad.k_scales.resize(bad.n_tokens);
    bad.v_scales.resize(bad.n_tokens);
    got = h.run(bad);
    EXPECT_TRUE(got.bad_cmd) << "key_base + n > NTOK must be refused";
    EXPECT_EQ(got.reads, 0u) << "a refused request reads nothing";
    bad = c;
    bad.head = kEngineNhead; // no head-importance accumulator
    got = h.run(bad);
    EXPECT_TRUE(got.bad_cmd) << "head >= NHEAD must be refused";
    EXPECT_EQ(got.reads, 0u) << "a refused request reads nothing";
    EXPECT_EQ(engine_check(c, h.run(c)), "") << "a good request after refused ones";
}

// SLVERR on the first read (the engine's own query read) and on one two thirds into a request
// (a fetcher read): the request still finishes with bus_error, the next one is exact.
template <class Model> void engine_expect_bus_errors_reported(uint64_t seed) {
    std::mt19937_64 rng(seed);
    EngineCase c;
    ASSERT_EQ(engine_random_case(rng, 60, c, 40), "");
    uint64_t reads = 0;
    {
        EngineHarness<Model> clean;
        EngineOutcome got = clean.run(c);
        ASSERT_EQ(engine_check(c, got), "");
        reads = got.reads;
    }
    ASSERT_GT(reads, 3u) << "a request of 40 keys must read more than its query";
    for (int64_t at : {(int64_t)0, (int64_t)(reads * 2 / 3), (int64_t)(reads - 1)}) {
        EngineMemory mem;
        mem.error_at = at;
        EngineHarness<Model> h("", mem);
        EngineOutcome got = h.run(c);
        EXPECT_TRUE(got.done) << "a request with an error response must still finish (read " << at
                              << " of " << reads << ")";
        EXPECT_TRUE(got.bus_error) << "SLVERR on read " << at << " must be reported";
        EngineOutcome next = h.run(c);
        EXPECT_EQ(engine_check(c, next), "") << "the next request after the error";
        EXPECT_FALSE(next.bus_error)
            << "the error of read " << at << " must not be reported again by the next request";
    }
}

#endif
