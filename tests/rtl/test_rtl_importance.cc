// The importance accumulators (rtl/importance/spk_importance.v) against the golden pruning
// state, bit for bit, including saturation and back-to-back adds to one entry.
#include <gtest/gtest.h>

#include <random>

#include "importance_harness.h"

namespace {

TEST(RtlImportance, RandomAddsMatchTheGoldenState) {
    ImportanceHarness h;
    std::mt19937_64 rng(2718);
    std::vector<ImportanceAdd> adds;
    for (int round = 0; round < 20; round++) {
        importance_random_adds(rng, 2000, adds);
        ASSERT_EQ(importance_check(adds, h.run(adds)), "") << "round " << round;
    }
}

TEST(RtlImportance, BackToBackAddsToOneEntryAndSaturation) {
    ImportanceHarness h;
    std::vector<ImportanceAdd> adds;
    for (int i = 0; i < 50; i++) adds.push_back({7, 65535});
    for (int i = 0; i < 4; i++) adds.push_back({9, UINT64_C(1) << 47}); // saturates at 2^48 - 1
    adds.push_back({kImportanceN - 1, 1});
    EXPECT_EQ(importance_check(adds, h.run(adds)), "");
}

} // namespace
