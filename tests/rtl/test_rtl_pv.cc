// The PV block (rtl/pv/spk_pv.v) against the golden head request, bit for bit: outputs, output
// exponent and head-importance contribution.
#include <gtest/gtest.h>

#include <random>

#include "pv_harness.h"

namespace {

constexpr int kCases = 400;

TEST(RtlPv, RandomHeadRequests) {
    PvHarness h;
    std::mt19937_64 rng(31337);
    PvCase c;
    int with_rows = 0;
    for (int i = 0; i < kCases; i++) {
        ASSERT_EQ(pv_random_case(rng, c), "") << "case " << i;
        with_rows += !c.probs.empty();
        ASSERT_EQ(pv_check(c, h.run(c)), "")
            << "case " << i << " d=" << c.d << " rows=" << c.probs.size();
    }
    EXPECT_GT(with_rows, kCases / 2) << "the generator should keep V rows in most requests";
}

TEST(RtlPv, NoRowsGiveZerosAndRefusesBadDimensions) {
    PvHarness h;
    PvCase c;
    c.d = 5;
    c.want_out.assign(5, 0);
    EXPECT_EQ(pv_check(c, h.run(c)), "") << "no kept rows: zeros, E_out = 0, importance 0";
    c.d = 0;
    EXPECT_TRUE(h.run(c).bad_cmd) << "d == 0 must be refused";
    c.d = kPvDmax + 1;
    EXPECT_TRUE(h.run(c).bad_cmd) << "d > DMAX must be refused";
}

} // namespace
