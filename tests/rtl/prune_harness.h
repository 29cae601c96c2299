// Harness of the prune unit (rtl/prune/spk_prune.v) against the golden cascade pruning step
// (spk_prune_keep_window on an spk_prune_state holding the same entries).
#ifndef SPK_TESTS_RTL_PRUNE_HARNESS_H
#define SPK_TESTS_RTL_PRUNE_HARNESS_H

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "Vprune.h"
#include "rtl_sim.h"

// The prune model is built with NTOK = 256, NHEAD = 16, P = 4 (rtl/rtl.mk).
constexpr uint32_t kPruneNtok = 256;
constexpr uint32_t kPruneNhead = 16;
constexpr uint32_t kPruneP = 4;
constexpr uint64_t kPruneImpMax = (UINT64_C(1) << 48) - 1;

// Every entry of the unit (including those past n_tokens / n_heads, which a prune leaves alone).
struct PruneEntries {
    std::vector<uint8_t> tok_alive, head_alive; // kPruneNtok, kPruneNhead
    std::vector<uint64_t> tok_imp, head_imp;
};

struct PruneCmd {
    uint32_t n_tokens = 0, kt = 0, sinks = 0, recent = 0;
    uint32_t n_heads = 0, kh = 0, head_group = 0;
};

struct PruneResult {
    bool bad_cmd = false;
    uint32_t tokens_alive = 0, heads_alive = 0, token_passes = 0, head_passes = 0;
    uint64_t cycles = 0; // from the start cycle to the done pulse, both included
};

class PruneHarness {
  public:
    explicit PruneHarness(const std::string &trace = "") : sim_(trace) { sim_.reset(); }
    RtlSim<Vprune> &sim() { return sim_; }
    // One entry op (a load, or with add a saturating add of value), one cycle.
    void op(bool add, bool head, uint32_t index, uint64_t value, bool alive = false);
    // Read one entry (one cycle); the entry as left by the ops of earlier cycles.
    uint64_t read(bool head, uint32_t index, bool *alive);
    void load(const PruneEntries &e);
    PruneEntries read_all();
    PruneResult prune(const PruneCmd &c);

  private:
    RtlSim<Vprune> sim_;
};

// Random entries (ties, zeros, saturated 2^48 - 1, random alive sets) and a random command
// (edge cases: keep all, k >= alive, everything protected, n = 0 / 1, g = n_heads, ...).
void prune_random_case(std::mt19937_64 &rng, PruneEntries &e, PruneCmd &c);
// Runs spk_prune_keep_window on a golden state built from `before` and compares every entry of
// `after`, the status and the alive counts, and the cycle count with the formula of docs/rtl.md.
std::string prune_check(const PruneEntries &before, const PruneCmd &c, const PruneEntries &after,
                        const PruneResult &r);
// The documented cycle count of a prune (docs/rtl.md, "Prune unit"), given the search passes.
uint64_t prune_expected_cycles(const PruneEntries &before, const PruneCmd &c, uint32_t token_passes,
                               uint32_t head_passes);

#endif
