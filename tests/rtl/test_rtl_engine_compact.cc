// The compact engine top (rtl/engine/spk_engine_compact.v: spk_engine's ports in a sequential
// microarchitecture sized for the iCE40 UP5K) through the same checks as spk_engine's suite
// (engine_checks.h), bit for bit against the golden spk_head_run and the golden importance
// accumulation. The compact engine spends a few hundred cycles or more per key (one multiplier
// path), so its suite runs fewer requests than spk_engine's (300 random ones instead of 400,
// n up to 300; one request at NMAX = 512 in each of the full-depth, key-list and layer checks).
// The cycle-count comparison with the cycle simulator (test_rtl_engine_cycles.cc) is
// spk_engine's only.
#include <gtest/gtest.h>

#include "Vengine_compact.h"
#include "engine_checks.h"

namespace {

#ifdef __SANITIZE_ADDRESS__
constexpr int kCases = 120; // the golden model and harness run instrumented: fewer cases
#else
constexpr int kCases = 300;
#endif
constexpr uint32_t kMaxN = 300;

TEST(RtlEngineCompact, RandomHeadRequestBurstsMatchTheGoldenModel) {
    // bursts of 1..6 requests: more than the FIFO's 4, so req_ready also drops
    engine_expect_random_bursts<Vengine_compact>(20261129, kCases, kMaxN, 6);
}

TEST(RtlEngineCompact, WorksWithoutMemoryStallsAndAtFullDepth) {
    engine_expect_full_depth_without_stalls<Vengine_compact>(78, 4, 3, kMaxN);
}

// Key-list mode mixed with contiguous requests, one list at NMAX keys and an empty list.
TEST(RtlEngineCompact, KeyListRequestsMixedWithContiguousMatchTheGoldenModel) {
    engine_expect_key_lists<Vengine_compact>(4712, 10, kMaxN, 5);
}

TEST(RtlEngineCompact, EmptyRequestsOutputZerosAndFetchNothing) {
    engine_expect_empty_requests<Vengine_compact>(40, 80);
}

TEST(RtlEngineCompact, QueuesBurstsAndTagsResultsInOrder) {
    engine_expect_tags_in_queue_order<Vengine_compact>(31338, 40);
}

TEST(RtlEngineCompact, LayerTokenImportanceMatchesTheGoldenAccumulation) {
    engine_expect_layer_importance<Vengine_compact>(2022, 3, 4, kEngineNmax);
}

TEST(RtlEngineCompact, ImportanceReadsDuringARunAreAnsweredOrDropped) {
    engine_expect_importance_reads_during_a_run<Vengine_compact>(98, 100);
}

TEST(RtlEngineCompact, QueuedRequestsWaitForAnImportanceClear) {
    engine_expect_requests_wait_for_a_clear<Vengine_compact>(7);
}

TEST(RtlEngineCompact, RefusesBadDescriptorsAndStaysUsable) {
    engine_expect_bad_descriptors_refused<Vengine_compact>(5);
}

TEST(RtlEngineCompact, ReportsBusErrorsAndStaysUsable) {
    engine_expect_bus_errors_reported<Vengine_compact>(808);
}

// The harness's hang detection: with a budget of a few cycles the request comes back not done
// (reported as a timeout), instead of the harness waiting for it.
TEST(RtlEngineCompact, AHungRequestIsReportedNotWaitedFor) {
    std::mt19937_64 rng(9);
    EngineCase c;
    ASSERT_EQ(engine_random_case(rng, 40, c, 40), "");
    EngineLimits tiny{};
    tiny.base = 50;
    tiny.per_request = tiny.per_key = tiny.per_key_dim = tiny.per_key_latency = 0;
    EngineHarness<Vengine_compact> h("", EngineMemory{}, tiny);
    const EngineOutcome got = h.run(c);
    EXPECT_FALSE(got.done);
    EXPECT_EQ(engine_check(c, got), "engine never signalled done (timeout)");
    EXPECT_LE(h.sim().cycles(), 4u + 50u + 1u) << "reset, the budget and one idle cycle";
}

} // namespace
