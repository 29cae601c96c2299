// The datapath blocks (rtl/softmax, rtl/qk) against the golden model, bit for bit: the softmax
// with its requant decision, and the logit conversion.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "datapath_harness.h"
#include "spksim/datapath.h"

namespace {

TEST(RtlSoftmax, DirectedCases) {
    SoftmaxHarness h;
    const int32_t lo = -(1 << 23), hi = (1 << 23) - 1;
    std::vector<std::vector<int32_t>> cases = {
        {0},
        {hi},
        {lo, hi}, // one certain key, one impossible
        {hi, lo, lo, lo},
        {5, 5, 5, 5, 5},               // uniform
        {0, -256, -512, -6144, -6145}, // shifts of 0, 1, 2, 24 and beyond
        std::vector<int32_t>(kSoftmaxNmax, 77),
    };
    std::vector<int32_t> ramp(kSoftmaxNmax);
    for (uint32_t j = 0; j < kSoftmaxNmax; j++) ramp[j] = (int32_t)j * 3 - 4000;
    cases.push_back(ramp);
    for (auto &c : cases) {
        for (uint32_t t : {0u, 30000u, 65536u}) {
            EXPECT_EQ(softmax_check(c, t, h.run(c, t)), "") << "n=" << c.size() << " T=" << t;
        }
    }
}

TEST(RtlSoftmax, RefusesEmptyAndOversizedRequests) {
    SoftmaxHarness h;
    SoftmaxOutcome empty = h.run({}, 0);
    EXPECT_TRUE(empty.done);
    EXPECT_TRUE(empty.bad_cmd) << "n == 0 must be refused";
    std::vector<int32_t> big(kSoftmaxNmax + 1, 1);
    SoftmaxOutcome over = h.run(big, 0);
    EXPECT_TRUE(over.done);
    EXPECT_TRUE(over.bad_cmd) << "n > NMAX must be refused";
    EXPECT_TRUE(over.probs.empty());
    std::vector<int32_t> ok = {3, 1, 2};
    EXPECT_EQ(softmax_check(ok, 100, h.run(ok, 100)), "") << "must work after a refusal";
}

TEST(RtlSoftmax, RandomCases) {
    SoftmaxHarness h;
    std::mt19937_64 rng(424242);
    std::vector<int32_t> logits;
    uint32_t threshold = 0;
    for (int i = 0; i < 200; i++) {
        softmax_random_case(rng, kSoftmaxNmax, logits, threshold);
        ASSERT_EQ(softmax_check(logits, threshold, h.run(logits, threshold)), "")
            << "case " << i << " n=" << logits.size();
    }
}

TEST(RtlLogit, DirectedCases) {
    LogitHarness h;
    std::vector<LogitCase> cases;
    const int32_t dots[] = {0, 1, -1, 1000, -1000, INT32_MAX, INT32_MIN, 1 << 29, -(1 << 29)};
    const int32_t exps[] = {-128, -60, -41, -40, -24, -23, -16, -1, 0, 1, 23, 127};
    for (int32_t d : dots) {
        for (int32_t eq : exps) {
            for (int32_t ek : exps) {
                for (uint32_t m : {0u, 32768u, 65535u}) {
                    cases.push_back({d, spk_scale_make(m ? m : 40000u, eq), spk_scale_make(m, ek)});
                }
            }
        }
    }
    EXPECT_EQ(logit_check(cases, h.run(cases)), "");
}

TEST(RtlLogit, RandomCases) {
    LogitHarness h;
    std::mt19937_64 rng(777);
    std::vector<LogitCase> cases;
    for (int batch = 0; batch < 20; batch++) {
        logit_random_cases(rng, 5000, cases);
        ASSERT_EQ(logit_check(cases, h.run(cases)), "") << "batch " << batch;
    }
}

} // namespace
