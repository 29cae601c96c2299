// Harness of the K/V plane fetcher (rtl/fetch/spk_kv_fetch.v) with an AXI4 memory model:
// random planes are packed into memory as the spec says, random row lists are fetched, and
// every field must equal the plane value from the golden spk_code_split.
#ifndef SPK_TESTS_RTL_FETCH_HARNESS_H
#define SPK_TESTS_RTL_FETCH_HARNESS_H

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "Vfetch.h"
#include "rtl_sim.h"

// The fetch model is built with DMAX = 64 fields and M = 8 fields per beat.
constexpr uint32_t kFetchDmax = 64, kFetchLanes = 8;

struct FetchCase {
    uint32_t d = 0, msb_bits = 0, lsb_bits = 0;
    bool lsb_plane = false; // fetch the LSB plane (else the MSB plane)
    uint32_t base = 0;      // byte address of row 0
    uint32_t n_tokens = 0;
    std::vector<int32_t> codes; // n_tokens x d full codes
    std::vector<uint32_t> rows; // token indices to fetch
};

struct FetchOutcome {
    bool done = false, bad_cmd = false, bus_error = false, protocol_ok = true;
    std::string protocol_error;
    std::vector<int32_t> fields; // rows x d, as sign/zero-extended 12-bit values
    uint64_t cycles = 0;
};

class FetchHarness {
  public:
    explicit FetchHarness(const std::string &trace = "") : sim_(trace), rng_(99) { sim_.reset(); }
    RtlSim<Vfetch> &sim() { return sim_; }
    // Packs the case's plane into a fresh memory and runs the fetch with a memory model that
    // stalls AR and R at random.
    FetchOutcome run(const FetchCase &c);

  private:
    RtlSim<Vfetch> sim_;
    std::mt19937_64 rng_;
};

void fetch_random_case(std::mt19937_64 &rng, FetchCase &c);
std::string fetch_check(const FetchCase &c, const FetchOutcome &got);

#endif
