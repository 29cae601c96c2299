// Clocking and optional FST tracing for a Verilated model with `clk` and `rst` ports; shared by
// every RTL harness (tests/rtl/) and the RTL engine plugin (rtl/sim/rtl_engine.cc). Inputs are
// applied while the clock is low; tick() makes one rising edge, so after it the outputs show
// the registers of the new cycle.
#ifndef SPK_RTL_SIM_RTL_SIM_H
#define SPK_RTL_SIM_RTL_SIM_H

#include <cstdint>
#include <memory>
#include <string>

#include "verilated.h"
#include "verilated_fst_c.h"
#if VM_COVERAGE
#include <atomic>
#include <cstdlib>
#include <unistd.h>

#include "verilated_cov.h"
#endif

// make coverage (tests/coverage.mk): the counters live in the model, so each simulation writes
// its own file into $SPK_RTL_COVERAGE_DIR before the model goes away; verilator_coverage and
// scripts/regress/coverage.py merge them. A no-op in models built without --coverage.
inline void rtl_sim_write_coverage(VerilatedContext *ctx) {
#if VM_COVERAGE
    if (const char *dir = std::getenv("SPK_RTL_COVERAGE_DIR")) {
        static std::atomic<unsigned> n{0};
        std::string path = std::string(dir) + "/cov-" + std::to_string(getpid()) + "-" +
                           std::to_string(n++) + ".dat";
        ctx->coveragep()->write(path.c_str());
    }
#else
    (void)ctx;
#endif
}

template <class Model> class RtlSim {
  public:
    // trace_path: FST file to write, or empty for no trace (the default: tracing is slow).
    explicit RtlSim(const std::string &trace_path = "") : ctx_(new VerilatedContext) {
        if (!trace_path.empty()) ctx_->traceEverOn(true);
        top_.reset(new Model(ctx_.get(), "top"));
        if (!trace_path.empty()) {
            trace_.reset(new VerilatedFstC);
            top_->trace(trace_.get(), 99);
            trace_->open(trace_path.c_str());
        }
        top_->clk = 0;
        top_->rst = 1;
        top_->eval();
    }
    ~RtlSim() {
        if (trace_) trace_->close();
        top_->final();
        rtl_sim_write_coverage(ctx_.get());
    }
    RtlSim(const RtlSim &) = delete;
    RtlSim &operator=(const RtlSim &) = delete;

    Model &io() { return *top_; }
    uint64_t cycles() const { return cycles_; }

    void tick() {
        top_->clk = 1;
        top_->eval();
        dump();
        top_->clk = 0;
        top_->eval();
        dump();
        cycles_++;
    }

    // Synchronous reset held for a few cycles, then released.
    void reset(int cycles = 4) {
        top_->rst = 1;
        for (int i = 0; i < cycles; i++) tick();
        top_->rst = 0;
        top_->eval();
    }

  private:
    void dump() {
        if (trace_) trace_->dump(time_);
        time_ += 5; // half of a 10-unit clock period
    }

    std::unique_ptr<VerilatedContext> ctx_;
    std::unique_ptr<Model> top_;
    std::unique_ptr<VerilatedFstC> trace_;
    uint64_t cycles_ = 0, time_ = 0;
};

// Write the low `width` bits of `value` at bit `pos` of a Verilated port of any width.
inline void rtl_set_bits(uint32_t *words, unsigned pos, unsigned width, uint64_t value) {
    for (unsigned b = 0; b < width; b++) {
        uint32_t bit = (uint32_t)((value >> b) & 1u);
        unsigned at = pos + b;
        words[at / 32] = (words[at / 32] & ~(1u << (at % 32))) | (bit << (at % 32));
    }
}

template <std::size_t N> void rtl_assign(VlWide<N> &port, const uint32_t *words) {
    for (std::size_t i = 0; i < N; i++) port[i] = words[i];
}
inline void rtl_assign(QData &port, const uint32_t *words) {
    port = (QData)words[0] | ((QData)words[1] << 32);
}
inline void rtl_assign(IData &port, const uint32_t *words) {
    port = words[0];
}
inline void rtl_assign(SData &port, const uint32_t *words) {
    port = (SData)words[0];
}
inline void rtl_assign(CData &port, const uint32_t *words) {
    port = (CData)words[0];
}

// Sign-extend the low `width` bits of `v`.
inline int64_t rtl_sext(uint64_t v, unsigned width) {
    uint64_t m = (uint64_t)1 << (width - 1);
    v &= (m << 1) - 1;
    return (int64_t)(v ^ m) - (int64_t)m;
}

#endif
