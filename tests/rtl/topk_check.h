// Golden-model comparison and case generation for the top-k engine harness.
#ifndef SPK_TESTS_RTL_TOPK_CHECK_H
#define SPK_TESTS_RTL_TOPK_CHECK_H

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

// One Verilated configuration of spk_topk (its W, NMAX and P parameters).
struct TopkConfig {
    const char *name;
    unsigned w, nmax, p;
};

// What the engine reported for one selection.
struct TopkOutcome {
    bool done = false, timed_out = false, bad_cmd = false;
    std::vector<uint32_t> kept;
    uint64_t kept_count = 0, n_greater = 0, passes = 0, sel_cycles = 0;
    uint64_t latency = 0; // cycles from the start edge until done is seen
    int64_t threshold = 0;
};

// The engine's fixed overhead outside the model's per-pass latency: the cycle that takes the
// command plus the four pipeline stages of the emit pass (read, compare, prefix count, quota);
// see docs/rtl.md, "Top-k engine".
constexpr uint64_t kTopkLatencyOverhead = 5;

// Compares an outcome with spk_topk_select and spk_topk_quickselect: same kept indices, the same
// threshold, number greater, passes and per-pass cycles as the model's trace, and the expected
// end-to-end latency. Returns "" when everything matches, else what differs.
std::string topk_check(const TopkConfig &cfg, const std::vector<int64_t> &values, size_t k,
                       const TopkOutcome &got);

// The golden model's selection latency (spk_topk_trace.cycles) for a case.
uint64_t topk_model_cycles(const TopkConfig &cfg, const std::vector<int64_t> &values, size_t k);

// A random case for a configuration: n in [0, nmax], k in [0, n + 1], values drawn from one of
// several distributions (full W-bit range, few distinct values, all equal, sorted runs).
void topk_random_case(const TopkConfig &cfg, std::mt19937_64 &rng, std::vector<int64_t> &values,
                      size_t &k);

// Short description of a case for failure messages.
std::string topk_describe(const std::vector<int64_t> &values, size_t k);

#endif
