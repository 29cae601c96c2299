// Drives the spk_topk engine (rtl/topk/spk_topk.v) for one selection: loads the values through
// the line load port, starts it, collects the kept-index beats and the status at `done`.
#ifndef SPK_TESTS_RTL_TOPK_HARNESS_H
#define SPK_TESTS_RTL_TOPK_HARNESS_H

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "rtl_sim.h"
#include "topk_check.h"

template <class Model> class TopkHarness {
  public:
    TopkHarness(const TopkConfig &cfg, const std::string &trace_path = "")
        : cfg_(cfg), sim_(trace_path), junk_(cfg.p * 7 + cfg.w) {
        sim_.reset();
    }

    RtlSim<Model> &sim() { return sim_; }

    // Runs one selection. Lanes of the last line beyond n hold random junk on purpose: the
    // engine must ignore them.
    TopkOutcome run(const std::vector<int64_t> &values, size_t k) {
        Model &io = sim_.io();
        const size_t n = values.size(), p = cfg_.p;
        const size_t lines = (n + p - 1) / p;
        for (size_t line = 0; line < lines; line++) {
            uint32_t words[64] = {0};
            for (size_t lane = 0; lane < p; lane++) {
                size_t i = line * p + lane;
                uint64_t v = i < n ? (uint64_t)values[i] : junk_();
                rtl_set_bits(words, (unsigned)(lane * cfg_.w), cfg_.w, v);
            }
            io.load_en = 1;
            io.load_line = (uint32_t)line;
            rtl_assign(io.load_data, words);
            sim_.tick();
        }
        io.load_en = 0;
        return start(n, k);
    }

    // Starts a selection over the n values already loaded and waits for done (bounded).
    TopkOutcome start(size_t n, size_t k) {
        Model &io = sim_.io();
        const size_t p = cfg_.p;
        TopkOutcome out;
        io.n = (uint32_t)n;
        io.k = (uint32_t)k;
        io.start = 1;
        uint64_t t0 = sim_.cycles();
        sim_.tick();
        io.start = 0;
        const uint64_t limit = 64 + 8 * (uint64_t)n + (uint64_t)n * n / p;
        while (!io.done) {
            if (io.out_valid) {
                for (size_t lane = 0; lane < p; lane++) {
                    if ((io.out_mask >> lane) & 1u)
                        out.kept.push_back((uint32_t)(io.out_line * p + lane));
                }
            }
            if (sim_.cycles() - t0 > limit) {
                out.timed_out = true;
                return out;
            }
            sim_.tick();
        }
        out.done = true;
        out.latency = sim_.cycles() - t0;
        out.bad_cmd = io.bad_cmd;
        out.kept_count = io.kept_count;
        out.threshold = rtl_sext(io.threshold, cfg_.w);
        out.n_greater = io.n_greater;
        out.passes = io.passes;
        out.sel_cycles = io.sel_cycles;
        return out;
    }

  private:
    TopkConfig cfg_;
    RtlSim<Model> sim_;
    std::mt19937_64 junk_;
};

#endif
