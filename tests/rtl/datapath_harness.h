// Harnesses of the datapath blocks (rtl/softmax, rtl/qk) and their golden-model checks.
#ifndef SPK_TESTS_RTL_DATAPATH_HARNESS_H
#define SPK_TESTS_RTL_DATAPATH_HARNESS_H

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "Vlogit.h"
#include "Vsoftmax.h"
#include "rtl_sim.h"

// The softmax model is built with NMAX = kSoftmaxNmax keys.
constexpr uint32_t kSoftmaxNmax = 4096;

struct SoftmaxOutcome {
    bool done = false, bad_cmd = false;
    std::vector<uint16_t> probs;
    std::vector<uint32_t> indices;
    uint32_t confidence = 0;
    bool refetch = false;
    uint64_t sum = 0, recip = 0, latency = 0;
};

class SoftmaxHarness {
  public:
    explicit SoftmaxHarness(const std::string &trace = "") : sim_(trace) { sim_.reset(); }
    RtlSim<Vsoftmax> &sim() { return sim_; }
    // Feeds n logits back to back (n may be 0 or above NMAX to test refusal).
    SoftmaxOutcome run(const std::vector<int32_t> &logits, uint32_t threshold);

  private:
    RtlSim<Vsoftmax> sim_;
};

// Compares with spk_softmax: probabilities, confidence, the refetch decision (confidence < T),
// the sum and reciprocal derived from the model's exponentials, and the latency formula.
std::string softmax_check(const std::vector<int32_t> &logits, uint32_t threshold,
                          const SoftmaxOutcome &got);
// Random logits: n in [1, nmax], flat, peaked, saturated, all-equal or random distributions.
void softmax_random_case(std::mt19937_64 &rng, uint32_t nmax, std::vector<int32_t> &logits,
                         uint32_t &threshold);

struct LogitCase {
    int32_t dot;
    uint32_t q_scale, k_scale;
};

class LogitHarness {
  public:
    explicit LogitHarness(const std::string &trace = "") : sim_(trace) { sim_.reset(); }
    RtlSim<Vlogit> &sim() { return sim_; }
    // Streams the cases one per cycle; returns the logits in order.
    std::vector<int32_t> run(const std::vector<LogitCase> &cases);

  private:
    RtlSim<Vlogit> sim_;
};

// Compares every logit with spk_logit; returns "" or the first differences.
std::string logit_check(const std::vector<LogitCase> &cases, const std::vector<int32_t> &got);
// A batch of random logit cases (random and extreme dots, exponents and mantissas).
void logit_random_cases(std::mt19937_64 &rng, size_t count, std::vector<LogitCase> &cases);

#endif
