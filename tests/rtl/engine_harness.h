// Harness of the engine top (rtl/engine/spk_engine.v): a random head request is laid out in a
// C++ memory model (planes packed as the spec says, scale words as 4-byte words), the engine
// runs it through an AXI4 read port, and every output is compared with the golden spk_head_run.
#ifndef SPK_TESTS_RTL_ENGINE_HARNESS_H
#define SPK_TESTS_RTL_ENGINE_HARNESS_H

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "Vengine.h"
#include "rtl_sim.h"
#include "spksim/datapath.h"

// The engine model is built with DMAX = 64, M = 8 multipliers, NMAX = 512 keys, P = 8.
constexpr uint32_t kEngineDmax = 64, kEngineLanes = 8, kEngineNmax = 512, kEngineP = 8;

// How the memory model answers: fixed latency, optionally with random AR and R stalls.
struct EngineMemory {
    uint32_t latency = 8;      // cycles from an accepted AR to its R beat (at the earliest)
    bool random_stalls = true; // AR ready and R valid dropped at random
    int64_t error_at = -1;     // answer the R beat of this read (0 = first) with SLVERR, once
};

struct EngineCase {
    spk_head_config cfg{};
    uint32_t n = 0, key_base = 0, keep = 0;
    uint32_t n_tokens = 0;        // tokens in memory (key_base + n + a few)
    std::vector<int16_t> q, k, v; // q: d codes; k, v: n_tokens x d full codes
    std::vector<spk_scale> k_scales, v_scales;
    spk_scale q_logit = 0;
    // golden results
    std::vector<int32_t> want_out;
    int32_t want_exp = 0;
    std::vector<uint16_t> want_probs;
    std::vector<uint32_t> want_v_keys;
    uint64_t want_importance = 0;
    bool want_requant = false;
    spk_head_events want_ev{}; // the golden model's events (for the cycle simulator)
};

struct EngineOutcome {
    bool done = false, bad_cmd = false, bus_error = false, protocol_ok = true;
    std::string protocol_error;
    std::vector<int32_t> out;
    int32_t out_exp = 0;
    std::vector<uint16_t> probs; // the last softmax pass
    std::vector<uint32_t> v_keys;
    uint64_t importance = 0;
    bool requant = false;
    uint32_t keys_fetched = 0, values_fetched = 0;
    uint64_t cycles = 0; // from the descriptor's cycle to done
};

class EngineHarness {
  public:
    explicit EngineHarness(const std::string &trace = "", EngineMemory mem = EngineMemory{})
        : sim_(trace), mem_(mem), rng_(4242) {
        sim_.reset();
    }
    RtlSim<Vengine> &sim() { return sim_; }
    EngineOutcome run(const EngineCase &c);

  private:
    RtlSim<Vengine> sim_;
    EngineMemory mem_;
    std::mt19937_64 rng_;
};

// A random request (D <= 64, n <= max_n, profiles 4+4/6+4/8+4/12+0 and others, random threshold
// and V keep ratio) with its golden result. Returns "" or what went wrong.
std::string engine_random_case(std::mt19937_64 &rng, uint32_t max_n, EngineCase &c);
std::string engine_check(const EngineCase &c, const EngineOutcome &got);

#endif
