// Harness of the QK array (rtl/qk/spk_qk.v: plane merge, multipliers, reduction tree, logit).
// Expected logits come from the golden model's pieces: spk_code_split for the planes the
// fetcher delivers, spk_code_msb_only for an MSB-only pass, and spk_logit on the dot product.
#ifndef SPK_TESTS_RTL_QK_HARNESS_H
#define SPK_TESTS_RTL_QK_HARNESS_H

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "Vqk.h"
#include "rtl_sim.h"

// The QK model is built with DMAX = 64 dimensions and M = 8 multipliers.
constexpr uint32_t kQkDmax = 64, kQkLanes = 8;

struct QkCase {
    uint32_t d = 0, msb_bits = 0, lsb_bits = 0;
    bool with_lsb = false;
    uint32_t q_scale = 0;
    std::vector<int32_t> q; // d codes
    std::vector<int32_t> k; // rows x d full codes
    std::vector<uint32_t> k_scales;
};

class QkHarness {
  public:
    explicit QkHarness(const std::string &trace = "") : sim_(trace) { sim_.reset(); }
    RtlSim<Vqk> &sim() { return sim_; }
    // Loads the query, streams every row (one beat per cycle), returns the logits in order.
    std::vector<int32_t> run(const QkCase &c);

  private:
    RtlSim<Vqk> sim_;
};

void qk_random_case(std::mt19937_64 &rng, QkCase &c);
std::string qk_check(const QkCase &c, const std::vector<int32_t> &got);

#endif
