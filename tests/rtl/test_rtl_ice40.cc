// The UP5K build's top (rtl/fpga/spk_engine_ice40_top.v) at its synthesis parameters, driven
// only through its serial pins: the memory image goes into the on-chip memory word by word, the
// engine runs each request from it through the wrapper's AXI adapter, and outputs, kept tokens,
// probabilities, status and token importance read back bit-exact with the golden model.
#include <gtest/gtest.h>

#include <random>

#include "ice40_top_harness.h"

namespace {

#ifdef __SANITIZE_ADDRESS__
constexpr int kCases = 3; // the golden model and harness run instrumented: fewer cases
#else
constexpr int kCases = 6;
#endif

TEST(RtlIce40Top, RequestsThroughTheSerialPortMatchTheGoldenModel) {
    Ice40TopHarness h;
    ASSERT_EQ(h.clear_importance(), "");
    std::mt19937_64 rng(5150);
    std::vector<uint64_t> want_imp, got_imp;
    int requants = 0;
    for (int i = 0; i < kCases; i++) {
        EngineCase c;
        // small n keeps the serial memory load short; one request at the full NMAX
        ASSERT_EQ(
            engine_random_case(rng, i == 0 ? kIce40Nmax : 24, c, i == 0 ? (int64_t)kIce40Nmax : -1),
            "")
            << "case " << i;
        ASSERT_LE(c.key_base + c.n, kIce40Ntok);
        requants += c.want_requant;
        engine_add_importance(c, want_imp, kIce40Ntok);
        EngineOutcome got = h.run(c, 0x30 + (uint32_t)i);
        ASSERT_EQ(engine_check(c, got), "") << "case " << i << " d=" << c.cfg.d << " n=" << c.n;
    }
    ASSERT_EQ(h.read_importance(got_imp), "");
    want_imp.resize(kIce40Ntok + kIce40Nhead, 0);
    EXPECT_EQ(got_imp, want_imp) << "token and head importance after " << kCases << " requests";
}

TEST(RtlIce40Top, BadDescriptorIsReportedInTheStatusWord) {
    // msb_bits = 1 is refused by the engine: done with bad_cmd, read back through the status.
    Ice40TopHarness h;
    std::mt19937_64 rng(9);
    EngineCase c;
    ASSERT_EQ(engine_random_case(rng, 8, c), "");
    c.cfg.kv.msb_bits = 1;
    c.cfg.kv.lsb_bits = 0;
    EngineOutcome got = h.run(c, 1);
    ASSERT_TRUE(got.done);
    EXPECT_TRUE(got.bad_cmd);
    EXPECT_EQ(got.tag, 1u);
}

TEST(RtlIce40Top, WrittenWordsReadBackThroughTheEngineUnchanged) {
    // Two runs of the same request with different memory placement give the same results: the
    // adapter's word order and the wrapper's address packing do not depend on where data lies.
    Ice40TopHarness h;
    std::mt19937_64 rng(123);
    EngineCase c;
    ASSERT_EQ(engine_random_case(rng, 16, c), "");
    for (uint32_t tag : {7u, 200u}) {
        EngineOutcome got = h.run(c, tag);
        EXPECT_EQ(engine_check(c, got), "") << "tag " << tag;
    }
}

} // namespace
