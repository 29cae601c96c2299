// Harness of the PV block (rtl/pv/spk_pv.v): a random head request runs through the golden
// model (spk_head_run), then its kept V rows, probabilities and codes go through the RTL, whose
// outputs, output exponent and head importance must equal the model's.
#ifndef SPK_TESTS_RTL_PV_HARNESS_H
#define SPK_TESTS_RTL_PV_HARNESS_H

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "Vpv.h"
#include "rtl_sim.h"

// The PV model is built with DMAX = 64 dimensions and M = 8 lanes.
constexpr uint32_t kPvDmax = 64, kPvLanes = 8;

// One head request, its golden result, and the rows the PV block sees.
struct PvCase {
    uint32_t d = 0;
    std::vector<uint16_t> probs;   // per kept row
    std::vector<uint32_t> scales;  // per kept row
    std::vector<int32_t> codes;    // kept rows x d, as the engine computes with them
    std::vector<int32_t> want_out; // golden outputs
    int32_t want_exp = 0;
    uint64_t want_importance = 0;
};

struct PvOutcome {
    bool done = false, bad_cmd = false;
    std::vector<int32_t> out;
    int32_t out_exp = 0;
    uint64_t importance = 0;
};

class PvHarness {
  public:
    explicit PvHarness(const std::string &trace = "") : sim_(trace) { sim_.reset(); }
    RtlSim<Vpv> &sim() { return sim_; }
    PvOutcome run(const PvCase &c);

  private:
    RtlSim<Vpv> sim_;
};

// Builds a random head request (D, profile, threshold, V ratio, codes and scale words all
// random, some rows with zero scale words) and runs spk_head_run on it. Returns "" or why the
// golden model refused it.
std::string pv_random_case(std::mt19937_64 &rng, PvCase &c);
std::string pv_check(const PvCase &c, const PvOutcome &got);

#endif
