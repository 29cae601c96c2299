// Harness of the UP5K build's top (rtl/fpga/spk_engine_ice40_top.v): everything goes through the
// wrapper's serial pins, as a host would drive them: the memory image is written word by word
// into the on-chip memory (spk_axi_spram), the descriptor is shifted in, the engine runs from
// that memory through the wrapper's AXI adapter, and the results are read back from the
// wrapper's capture buffers, status word and the token-importance bank.
#ifndef SPK_TESTS_RTL_ICE40_TOP_HARNESS_H
#define SPK_TESTS_RTL_ICE40_TOP_HARNESS_H

#include <cstdint>
#include <string>
#include <vector>

#include "Vice40top.h"
#include "engine_harness.h"
#include "rtl_sim.h"

// The model is built with the UP5K parameters: DMAX = 64, NMAX = 128, NTOK = 256, the compact
// engine with QDEPTH = 0, ABITS = 17 and a 64-bit data bus.
constexpr uint32_t kIce40Dmax = 64, kIce40Nmax = 128, kIce40Ntok = 256, kIce40Nhead = 16;
constexpr uint32_t kIce40MemBytes = 128 * 1024; // the on-chip memory

class Ice40TopHarness {
  public:
    explicit Ice40TopHarness(const std::string &trace = "") : sim_(trace) { sim_.reset(); }
    RtlSim<Vice40top> &sim() { return sim_; }
    // Lays c out in the on-chip memory, runs it, reads every result back.
    EngineOutcome run(const EngineCase &c, uint32_t tag);
    // Importance bank: clear it, read all kIce40Ntok + kIce40Nhead entries (""/what went
    // wrong).
    std::string clear_importance();
    std::string read_importance(std::vector<uint64_t> &entries);
    // One raw memory word write and one readout (kind and index as the wrapper's OP_READ).
    void write_word(uint32_t word_addr, uint64_t value);
    std::vector<uint8_t> read_bits(uint32_t kind, uint32_t index, uint32_t bits);

  private:
    void shift(uint64_t value, uint32_t bits); // MSB first into CMD
    void op(uint32_t code);                    // pulse `go` with `op`
    bool wait_idle(uint64_t limit);
    RtlSim<Vice40top> sim_;
};

#endif
