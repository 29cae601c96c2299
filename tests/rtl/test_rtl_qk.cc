// The QK array (rtl/qk/spk_qk.v) against the golden model: plane merge (full and MSB-only),
// multipliers, reduction tree and logit conversion, bit for bit.
#include <gtest/gtest.h>

#include <random>

#include "qk_harness.h"

namespace {

TEST(RtlQk, RandomRequestsMatchTheGoldenLogits) {
    QkHarness h;
    std::mt19937_64 rng(8086);
    QkCase c;
    int msb_only = 0;
    for (int i = 0; i < 300; i++) {
        qk_random_case(rng, c);
        msb_only += !c.with_lsb && c.lsb_bits > 0;
        ASSERT_EQ(qk_check(c, h.run(c)), "") << "case " << i;
    }
    EXPECT_GT(msb_only, 30) << "MSB-only passes must be exercised";
}

} // namespace
