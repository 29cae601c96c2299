// Harness of the importance accumulators (rtl/importance/spk_importance.v) against the golden
// pruning state (spk_prune_add_token / spk_prune_token_importance).
#ifndef SPK_TESTS_RTL_IMPORTANCE_HARNESS_H
#define SPK_TESTS_RTL_IMPORTANCE_HARNESS_H

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "Vimportance.h"
#include "rtl_sim.h"

// The importance model is built with N = 256 entries.
constexpr uint32_t kImportanceN = 256;

struct ImportanceAdd {
    uint32_t index;
    uint64_t amount;
};

class ImportanceHarness {
  public:
    explicit ImportanceHarness(const std::string &trace = "") : sim_(trace) { sim_.reset(); }
    RtlSim<Vimportance> &sim() { return sim_; }
    // Clears every entry, issues the adds back to back (one per cycle), reads every entry back.
    std::vector<uint64_t> run(const std::vector<ImportanceAdd> &adds);

  private:
    RtlSim<Vimportance> sim_;
};

// Random adds: probabilities, large amounts that saturate, runs of adds to one entry.
void importance_random_adds(std::mt19937_64 &rng, size_t count, std::vector<ImportanceAdd> &adds);
// Applies the adds to a golden spk_prune_state and compares every entry.
std::string importance_check(const std::vector<ImportanceAdd> &adds,
                             const std::vector<uint64_t> &got);

#endif
