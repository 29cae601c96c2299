// The engine top (rtl/engine/spk_engine.v) running whole head requests from an AXI4 memory
// model, against the golden spk_head_run bit for bit: output codes, out_exp, probabilities,
// requant decision, kept V tokens, head importance and the fetch events.
#include <gtest/gtest.h>

#include <random>

#include "engine_harness.h"

namespace {

#ifdef __SANITIZE_ADDRESS__
constexpr int kCases = 150; // the golden model and harness run instrumented: fewer cases
#else
constexpr int kCases = 400;
#endif

TEST(RtlEngine, RandomHeadRequestsMatchTheGoldenModel) {
    EngineHarness h;
    std::mt19937_64 rng(20261128);
    EngineCase c;
    int requants = 0, msb_only = 0;
    for (int i = 0; i < kCases; i++) {
        ASSERT_EQ(engine_random_case(rng, 300, c), "") << "case " << i;
        requants += c.want_requant;
        msb_only += !c.want_requant && c.cfg.kv.lsb_bits > 0;
        ASSERT_EQ(engine_check(c, h.run(c)), "")
            << "case " << i << " d=" << c.cfg.d << " n=" << c.n << " profile "
            << (int)c.cfg.kv.msb_bits << "+" << (int)c.cfg.kv.lsb_bits;
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
    EngineCase c;
    for (int i = 0; i < 4; i++) {
        ASSERT_EQ(engine_random_case(rng, kEngineNmax, c), "");
        ASSERT_EQ(engine_check(c, h.run(c)), "") << "case " << i << " n=" << c.n;
    }
}

TEST(RtlEngine, RefusesBadDescriptorsAndStaysUsable) {
    EngineHarness h;
    std::mt19937_64 rng(5);
    EngineCase c;
    ASSERT_EQ(engine_random_case(rng, 50, c), "");
    EngineCase bad = c;
    bad.n = 0;
    EXPECT_TRUE(h.run(bad).bad_cmd) << "n = 0 must be refused";
    bad = c;
    bad.n = kEngineNmax + 1;
    EXPECT_TRUE(h.run(bad).bad_cmd) << "n > NMAX must be refused";
    bad = c;
    bad.cfg.d = kEngineDmax + 1;
    bad.q.resize(bad.cfg.d);
    bad.k.resize((size_t)bad.n_tokens * bad.cfg.d);
    bad.v.resize((size_t)bad.n_tokens * bad.cfg.d);
    EXPECT_TRUE(h.run(bad).bad_cmd) << "d > DMAX must be refused";
    EXPECT_EQ(engine_check(c, h.run(c)), "") << "a good request after refused ones";
}

TEST(RtlEngine, ReportsBusErrorsAndStaysUsable) {
    std::mt19937_64 rng(808);
    EngineCase c;
    ASSERT_EQ(engine_random_case(rng, 60, c), "");
    // read 0 is a K scale block (the engine's own read), read 40 one of the fetcher's
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
