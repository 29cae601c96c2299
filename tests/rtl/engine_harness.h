// Harness of the engine tops (rtl/engine/spk_engine.v and its sequential microarchitecture
// rtl/engine/spk_engine_compact.v, which share one port list): random head requests are laid out
// in a C++ memory model (query codes as int16 words, planes packed as the spec says, scale words
// as 4-byte words), queued back to back in the engine's descriptor FIFO, run through an AXI4 read
// port, and every output is compared with the golden spk_head_run; the token-importance bank is
// compared with the golden per-layer accumulation (spk_importance_add of the final
// probabilities). EngineHarness is a template over the Verilated model: EngineHarness<Vengine>
// (spk_engine) and EngineHarness<Vengine_compact> (spk_engine_compact), both instantiated in
// engine_harness.cc; a user of the compact one includes "Vengine_compact.h" itself.
#ifndef SPK_TESTS_RTL_ENGINE_HARNESS_H
#define SPK_TESTS_RTL_ENGINE_HARNESS_H

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "Vengine.h"
#include "rtl_sim.h"
#include "spksim/datapath.h"

// The engine model is built with DMAX = 64, M = 8 multipliers, NMAX = 512 keys, P = 8, a
// descriptor FIFO of 4 and 1024 token-importance accumulators; the compact engine model with the
// same DMAX, NMAX, QDEPTH and NTOK (it has no M and no P: kEngineLanes and kEngineP are
// spk_engine's only).
constexpr uint32_t kEngineDmax = 64, kEngineLanes = 8, kEngineNmax = 512, kEngineP = 8;
constexpr uint32_t kEngineQdepth = 4, kEngineNtok = 1024;
// Head-importance accumulators (NHEAD, the engines' default): bank entries NTOK .. NTOK + 15.
constexpr uint32_t kEngineNhead = 16;

// How the memory model (rtl/sim/axi_mem.h, AxiMem, drawing its stalls from the harness's
// generator) answers: fixed latency, optionally with random AR and R stalls.
// (A beat, once valid, stays valid with the same data until it is taken, as AXI requires: the
// compact engine holds rready low while it uses the words of a beat.)
struct EngineMemory {
    uint32_t latency = 8;      // cycles from an accepted AR to its R beat (at the earliest)
    bool random_stalls = true; // AR ready dropped, and R valid raised late, at random
    int64_t error_at = -1;     // answer the R beat of this read (0 = first) with SLVERR, once
};

// How long run_burst waits before it calls a request hung. The burst's budget is `base` plus,
// per request, per_request + n * (per_key + per_key_dim * d + per_key_latency * latency) cycles;
// a request that has not signalled done within the budget comes back with done = false.
struct EngineLimits {
    uint64_t base = 20000, per_request = 5000;
    uint64_t per_key = 300, per_key_dim = 0, per_key_latency = 8;
};

class Vengine_compact; // the Verilated spk_engine_compact (build/rtl/Vengine_compact/)
class Vengine_ovl;     // the Verilated spk_engine_ovl, the overlapped engine

// What differs between the engine models for the harness: the name, the cycle budget and
// whether the next request's reads may start before a request's done (kOverlapsRequests).
template <class Model> struct EngineModel;
template <> struct EngineModel<Vengine> {
    static constexpr const char *kName = "spk_engine";
    static constexpr bool kOverlapsRequests = false;
    static EngineLimits limits() { return EngineLimits{}; }
};
template <> struct EngineModel<Vengine_compact> {
    static constexpr const char *kName = "spk_engine_compact";
    static constexpr bool kOverlapsRequests = false;
    // One multiplier path: a few hundred to a couple of thousand cycles per key (growing with
    // d), and up to a dozen single-beat reads per key (planes, scale words, a requant refetch,
    // V), each with the latency and the random stalls.
    static EngineLimits limits() { return EngineLimits{40000, 20000, 2000, 40, 24}; }
};

template <> struct EngineModel<Vengine_ovl> {
    static constexpr const char *kName = "spk_engine_ovl";
    // the tail of one request (PV's end, head add, done) beside the next one's reads and K pass
    static constexpr bool kOverlapsRequests = true;
    static EngineLimits limits() { return EngineLimits{}; } // faster than spk_engine
};

struct EngineCase {
    spk_head_config cfg{};
    uint32_t n = 0, key_base = 0, keep = 0;
    uint32_t head = 0;     // head-importance accumulator (< kEngineNhead)
    uint32_t n_tokens = 0; // tokens in memory (key_base + n + a few)
    // Non-empty: key-list mode, the n tokens of the keys (a uint16 list in memory; key_base is
    // then unused). Empty: the contiguous keys key_base .. key_base + n - 1.
    std::vector<uint32_t> keys;
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
    uint32_t tag = 0;   // run_tag at done (the harness checks it on every stream beat too)
    uint64_t reads = 0; // AR requests accepted while this request ran
    std::string protocol_error;
    std::vector<int32_t> out;
    int32_t out_exp = 0;
    std::vector<uint16_t> probs; // the last softmax pass
    std::vector<uint32_t> v_keys;
    uint64_t importance = 0;
    bool requant = false;
    uint32_t keys_fetched = 0, values_fetched = 0;
    uint64_t cycles = 0; // from the descriptor's cycle (or the previous done) to done
};

template <class Model> class EngineHarness {
  public:
    explicit EngineHarness(const std::string &trace = "", EngineMemory mem = EngineMemory{},
                           const EngineLimits &limits = EngineModel<Model>::limits())
        : sim_(trace), mem_(mem), limits_(limits), rng_(4242) {
        sim_.reset();
    }
    RtlSim<Model> &sim() { return sim_; }
    EngineOutcome run(const EngineCase &c);
    // Queues every case back to back (as fast as req_ready allows) and returns their outcomes
    // in order; each request gets the next tag (mod 256).
    // With clear_first, imp_clear is pulsed in the cycle the first descriptor is offered.
    std::vector<EngineOutcome> run_burst(const std::vector<EngineCase> &cases,
                                         bool clear_first = false);
    // Importance bank: clear it (waits for imp_busy to drop), read all kEngineNtok token and
    // kEngineNhead head entries (""/what went wrong).
    std::string clear_importance();
    std::string read_importance(std::vector<uint64_t> &entries);
    // While run_burst runs, read this token's importance entry every cycle (-1: off); the reads
    // answered (imp_rd_valid) are collected, the others counted.
    int64_t probe_token = -1;
    std::vector<uint64_t> probe_values;
    uint64_t probe_dropped = 0;

  private:
    RtlSim<Model> sim_;
    EngineMemory mem_;
    EngineLimits limits_;
    std::mt19937_64 rng_;
    uint32_t next_tag_ = 0x5A;
};

// A random request (D <= 64, n <= max_n, profiles 4+4/6+4/8+4/12+0 and others, random threshold
// and V keep ratio) with its golden result. `n` and `key_base` >= 0 fix them (n may be 0).
// With `list`, the keys are a key list instead (key_base ignored): n random tokens, strictly
// increasing with random gaps, all below kEngineNtok, as the golden layer's ALIVE lists.
// Returns "" or what went wrong.
std::string engine_random_case(std::mt19937_64 &rng, uint32_t max_n, EngineCase &c, int64_t n = -1,
                               int64_t key_base = -1, bool list = false);
// Bytes of one plane row of d fields of `bits` bits (spec "MSB and LSB planes").
uint32_t engine_plane_row_bytes(uint32_t d, uint32_t bits);
// Pack one plane of `codes` (n_tokens x d) at `base` as the spec lays it out.
void engine_pack_plane(std::vector<uint8_t> &mem, uint32_t base, const std::vector<int16_t> &codes,
                       uint32_t n_tokens, uint32_t d, spk_quant_profile prof, bool lsb_plane);
// Scale words `w` at `base`, 4-byte little-endian each.
void engine_put_words(std::vector<uint8_t> &mem, uint32_t base, const std::vector<spk_scale> &w);
// Token of key position j of c (listed or contiguous).
uint32_t engine_case_token(const EngineCase &c, uint32_t j);
// The golden results of c's inputs (spk_head_run), into c.want_*.
std::string engine_golden(EngineCase &c);
std::string engine_check(const EngineCase &c, const EngineOutcome &got);
// The golden token-importance additions of one request (spec "Importance": each final
// probability to its token, saturating): acc[token(j)] = spk_importance_add(.., p[j]).
// The head importance goes to entry ntok + c.head (the bank's head entries follow its tokens).
// Index and values of the first differing importance entry (want is 0 past its end), or "".
std::string engine_compare_importance(const std::vector<uint64_t> &want,
                                      const std::vector<uint64_t> &got);
void engine_add_importance(const EngineCase &c, std::vector<uint64_t> &acc,
                           uint32_t ntok = kEngineNtok);
// A layer's worth of requests: `heads` x `queries` requests over tokens first .. first + L - 1
// (L <= max_tokens), causal (query i sees the first L - queries + i + 1 tokens), each head with
// its own random profile, threshold and V ratio.
std::string engine_layer_cases(std::mt19937_64 &rng, uint32_t heads, uint32_t queries,
                               std::vector<EngineCase> &cases, uint32_t max_tokens = kEngineNmax);

#endif
