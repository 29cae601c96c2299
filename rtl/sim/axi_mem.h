// AXI4 read slave over a memory callback, for Verilated masters (the engine tops' read port).
//
// One ID, beats in request order, any number of reads outstanding. An accepted AR is answered
// `latency` cycles later at the earliest, one beat per cycle; a beat, once valid, stays valid
// with the same data, RRESP and RLAST until it is taken (RVALID && RREADY at a clock edge), as
// AXI requires. Optional random stalls drop ARREADY and hold back RVALID at random (ARREADY
// low one cycle in three, a due beat held back one cycle in four), from a seeded generator of
// its own or from the caller's. Responses: SLVERR for a read the callback refuses, for one
// injected read (error_at) and for a burst the model does not support (FIXED or WRAP, or a
// beat wider than the bus), which is also counted in violations().
//
// Every beat reads one whole bus word: bus_bytes bytes at the beat's address rounded down to
// a multiple of bus_bytes (so narrow beats find their bytes on the right lanes). INCR bursts of
// any length (ARLEN + 1 beats of 2^ARSIZE bytes) are served.
//
// Use per clock cycle, with the clock low: drive() with the master's AR request and RREADY
// (the values its outputs show now), put the returned outputs on the master's inputs, make the
// clock edge, then commit() with the cycle count after the edge. axi_mem_cycle() does all of
// it for a Verilated model with the engine's port names and an RtlSim.
#ifndef SPK_RTL_SIM_AXI_MEM_H
#define SPK_RTL_SIM_AXI_MEM_H

#include <cstdint>
#include <deque>
#include <functional>
#include <random>
#include <string>

#include "rtl_sim.h"

namespace spkrtl {

struct AxiMemConfig {
    uint32_t latency = 8;       // cycles from an accepted AR to its first R beat (at the earliest)
    bool random_stalls = false; // ARREADY dropped and RVALID raised late, at random
    uint64_t seed = 1;          // of the stall generator (unless the caller passes its own)
    int64_t error_at = -1;      // answer R beat number error_at (0 = first) with SLVERR, once
    uint32_t bus_bytes = 32;    // data bus width in bytes (a power of two, 4..64)
};

// The master's AR channel and RREADY in the current cycle.
struct AxiMaster {
    bool arvalid = false;
    uint64_t araddr = 0;
    uint32_t arlen = 0, arsize = 5, arburst = 1;
    bool rready = false;
};

// What the slave drives in the current cycle.
struct AxiSlave {
    bool arready = false, rvalid = false, rlast = false;
    uint32_t rresp = 0;      // 0 OKAY, 2 SLVERR
    uint32_t rdata[16] = {}; // bus word, little-endian 32-bit words (bus_bytes / 4 used)
};

class AxiMem {
  public:
    // read(addr, dst, bytes): copy bytes at addr into dst, 0; or -1 (answered with SLVERR).
    using ReadFn = std::function<int(uint64_t addr, void *dst, uint32_t bytes)>;

    // rng: the stall generator to draw from (kept by the caller, must outlive this object);
    // nullptr: an own generator seeded with cfg.seed.
    AxiMem(const AxiMemConfig &cfg, ReadFn read, std::mt19937_64 *rng = nullptr);

    // The slave's outputs for cycle `now` (the master's cycle count before the edge).
    const AxiSlave &drive(uint64_t now, const AxiMaster &m);
    // The handshakes of the cycle last driven took place at the edge; now_after is the cycle
    // count after it.
    void commit(uint64_t now_after);
    // Forget every outstanding read (after a reset of the master).
    void reset();

    const AxiMemConfig &config() const { return cfg_; }
    void set_error_at(int64_t beat) { cfg_.error_at = beat; }
    uint64_t ar_accepted() const { return ar_accepted_; }  // AR requests taken
    uint64_t beats_answered() const { return answered_; }  // R beats taken
    uint64_t errors_answered() const { return errors_; }   // of them with SLVERR
    size_t outstanding() const { return pending_.size(); } // reads not answered completely
    uint64_t violations() const { return violations_; }    // unsupported AR requests
    const std::string &first_violation() const { return first_violation_; }

  private:
    struct Read {
        uint64_t addr;     // address of the next beat
        uint32_t beats;    // beats left (ARLEN + 1 at first)
        uint32_t size;     // bytes per beat
        bool bad;          // unsupported request: every beat SLVERR
        uint64_t ready_at; // cycle from which its next beat may be shown
    };
    void load_front();

    AxiMemConfig cfg_;
    ReadFn read_;
    std::mt19937_64 own_rng_;
    std::mt19937_64 *rng_;
    std::deque<Read> pending_;
    AxiSlave out_;
    AxiMaster in_;
    bool shown_ = false;  // the front beat was valid and not taken: it stays valid
    bool loaded_ = false; // out_.rdata/rresp/rlast hold the front beat
    uint64_t ar_accepted_ = 0, answered_ = 0, errors_ = 0, violations_ = 0;
    std::string first_violation_;
};

// One clock cycle of a Verilated model with the engine tops' AXI4 read port names (arvalid,
// araddr, arlen, arsize, arburst, rready; arready, rvalid, rdata (256 bits), rresp, rlast),
// served by `mem`: drive, tick, commit. Returns the slave outputs that were driven.
template <class Model> AxiSlave axi_mem_cycle(AxiMem &mem, RtlSim<Model> &sim) {
    Model &io = sim.io();
    AxiMaster m;
    m.arvalid = io.arvalid;
    m.araddr = io.araddr;
    m.arlen = io.arlen;
    m.arsize = io.arsize;
    m.arburst = io.arburst;
    m.rready = io.rready;
    const AxiSlave s = mem.drive(sim.cycles(), m);
    io.arready = s.arready;
    io.rvalid = s.rvalid;
    io.rlast = s.rlast;
    io.rresp = s.rresp;
    rtl_assign(io.rdata, s.rdata);
    sim.tick();
    mem.commit(sim.cycles());
    return s;
}

} // namespace spkrtl

#endif
