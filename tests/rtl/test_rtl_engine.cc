// The engine top (rtl/engine/spk_engine.v) running whole head requests from an AXI4 memory
// model, queued back to back in its descriptor FIFO, against the golden spk_head_run bit for
// bit: output codes, out_exp, probabilities, requant decision, kept V tokens, head importance,
// the fetch events and the tags; and its token-importance bank against the golden per-layer
// accumulation. The checks are shared with the compact engine's suite (engine_checks.h).
#include <gtest/gtest.h>

#include "engine_checks.h"

namespace {

#ifdef __SANITIZE_ADDRESS__
constexpr int kCases = 150; // the golden model and harness run instrumented: fewer cases
#else
constexpr int kCases = 400;
#endif

TEST(RtlEngine, RandomHeadRequestBurstsMatchTheGoldenModel) {
    // bursts of 1..7 requests: more than the FIFO's 4, so req_ready also drops
    engine_expect_random_bursts<Vengine>(20261128, kCases, 300, 7);
}

TEST(RtlEngine, WorksWithoutMemoryStallsAndAtFullDepth) {
    engine_expect_full_depth_without_stalls<Vengine>(77, 5, 3, kEngineNmax);
}

// Key-list mode mixed with contiguous requests, one list at NMAX keys and an empty list.
TEST(RtlEngine, KeyListRequestsMixedWithContiguousMatchTheGoldenModel) {
    engine_expect_key_lists<Vengine>(4711, 12, 300, 6);
}

TEST(RtlEngine, EmptyRequestsOutputZerosAndFetchNothing) {
    engine_expect_empty_requests<Vengine>(4, 80);
}

TEST(RtlEngine, QueuesBurstsAndTagsResultsInOrder) {
    engine_expect_tags_in_queue_order<Vengine>(31337, 40);
}

TEST(RtlEngine, LayerTokenImportanceMatchesTheGoldenAccumulation) {
    engine_expect_layer_importance<Vengine>(2021, 3, 4, kEngineNmax);
}

TEST(RtlEngine, ImportanceReadsDuringARunAreAnsweredOrDropped) {
    engine_expect_importance_reads_during_a_run<Vengine>(99, 100);
}

TEST(RtlEngine, QueuedRequestsWaitForAnImportanceClear) {
    engine_expect_requests_wait_for_a_clear<Vengine>(6);
}

TEST(RtlEngine, RefusesBadDescriptorsAndStaysUsable) {
    engine_expect_bad_descriptors_refused<Vengine>(5);
}

TEST(RtlEngine, ReportsBusErrorsAndStaysUsable) {
    engine_expect_bus_errors_reported<Vengine>(808);
}

} // namespace
