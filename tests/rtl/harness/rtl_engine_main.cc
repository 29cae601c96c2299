// rtl-engine: seeded random head requests through the Verilated engine top with an AXI4 memory
// model, compared with the golden spk_head_run bit for bit.
//   rtl-engine [--memory stall|fixed|cycles] [--seed N] [--cases M] [--trace FILE.fst]
// `cycles` runs the fixed-latency memory and also times each request on the cycle simulator
// (spk_cycle_request_from_head + spk_cycle_run with the engine's parameters) and prints the
// agreement. Prints every mismatch (up to 10), then the number of cases, simulated cycles and
// cycles/s. Exit status: 0 all matched, 1 a mismatch, 2 bad arguments, 3 cycle simulator error.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>

#include "cli_options.h"
#include "engine_harness.h"
#include "spksim/cycle.h"
#include "spksim/cycle_data.h"

namespace {

const char kHelp[] =
    "usage: rtl-engine [--memory stall|fixed|cycles] [--seed N] [--cases M] [--trace FILE.fst]\n"
    "  one random head request (D <= 64, 1..300 keys) per case\n"
    "  stall: memory latency 8 with random AR/R stalls; fixed: latency 8, no stalls;\n"
    "  cycles: as fixed, and compare each request's cycles with the cycle simulator\n";

constexpr uint32_t kLatency = 8;

// The cycle simulator configured like the Verilated engine: M = 8 multipliers for QK and PV,
// P = 8, one top-k engine, a softmax of one key per cycle, one DRAM channel of one 32-byte beat per
// cycle with the memory model's latency, no row-buffer model.
bool engine_cycle_config(spk_config *cfg) {
    if (spk_config_preset("eighth", cfg) != 0) return false;
    cfg->qk_multipliers = kEngineLanes;
    cfg->pv_multipliers = kEngineLanes;
    cfg->topk_parallelism = kEngineP;
    cfg->topk_engines = 1;
    cfg->softmax_per_cycle = 1; // spk_softmax takes and gives one key per cycle
    cfg->dram_channels = 1;
    cfg->dram_bytes_per_cycle = 32;
    cfg->dram_latency = kLatency;
    cfg->dram_row_buffer = 0;
    char err[256];
    if (spk_config_check(cfg, err, sizeof err) != 0) {
        std::fprintf(stderr, "rtl-engine: cycle simulator configuration: %s\n", err);
        return false;
    }
    return true;
}

// Cycles the cycle simulator predicts for one request alone, or 0 on error.
uint64_t predicted_cycles(const spk_config &cfg, const EngineCase &c) {
    spk_cycle_request_site site{0, 0, 0, c.n_tokens};
    spk_cycle_request req{};
    if (spk_cycle_request_from_head(&c.cfg, &c.want_ev, &site, &req) != SPK_CYCLE_OK) return 0;
    spk_cycle_stats stats{};
    if (spk_cycle_run(&cfg, &req, 1, &stats, nullptr, nullptr, nullptr) != SPK_CYCLE_OK) return 0;
    return stats.cycles;
}

} // namespace

int main(int argc, char **argv) {
    CliOptions o;
    int rc =
        cli_parse(argc, argv, "rtl-engine", "--memory", {"stall", "fixed", "cycles"}, kHelp, &o);
    if (rc) return rc == 1 ? 0 : rc;
    const bool compare = o.choice == "cycles";
    spk_config ccfg{};
    if (compare && !engine_cycle_config(&ccfg)) return 3;
    EngineMemory mem;
    mem.random_stalls = o.choice == "stall";
    mem.latency = kLatency;
    EngineHarness h(o.trace, mem);
    std::mt19937_64 rng(o.seed);
    EngineCase c;
    uint64_t failures = 0, rtl_total = 0, sim_total = 0;
    double ratio_min = 1e30, ratio_max = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < o.cases && failures < 10; i++) {
        std::string err = engine_random_case(rng, 300, c);
        EngineOutcome got;
        if (err.empty()) {
            got = h.run(c);
            err = engine_check(c, got);
        }
        if (!err.empty()) {
            failures++;
            std::printf("MISMATCH case %llu d=%u n=%u profile %u+%u: %s\n", (unsigned long long)i,
                        c.cfg.d, c.n, c.cfg.kv.msb_bits, c.cfg.kv.lsb_bits, err.c_str());
            continue;
        }
        if (compare) {
            const uint64_t want = predicted_cycles(ccfg, c);
            if (!want) {
                std::fprintf(stderr, "rtl-engine: the cycle simulator refused case %llu\n",
                             (unsigned long long)i);
                return 3;
            }
            const double ratio = (double)got.cycles / (double)want;
            ratio_min = std::min(ratio_min, ratio);
            ratio_max = std::max(ratio_max, ratio);
            rtl_total += got.cycles;
            sim_total += want;
            if (i < 5)
                std::printf("case %llu d=%u n=%u kept=%zu requant=%d: RTL %llu cycles, cycle "
                            "simulator %llu (x%.2f)\n",
                            (unsigned long long)i, c.cfg.d, c.n, c.want_v_keys.size(),
                            (int)c.want_requant, (unsigned long long)got.cycles,
                            (unsigned long long)want, ratio);
        }
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const uint64_t cycles = h.sim().cycles();
    std::printf("rtl-engine memory=%s seed=%llu: %llu cases, %llu mismatches\n", o.choice.c_str(),
                (unsigned long long)o.seed, (unsigned long long)o.cases,
                (unsigned long long)failures);
    if (compare && sim_total)
        std::printf("cycle agreement: RTL %llu / cycle simulator %llu cycles = %.3f (per request "
                    "%.3f .. %.3f)\n",
                    (unsigned long long)rtl_total, (unsigned long long)sim_total,
                    (double)rtl_total / (double)sim_total, ratio_min, ratio_max);
    std::printf("cycles: %llu in %.3f s = %.0f cycles/s%s\n", (unsigned long long)cycles, secs,
                secs > 0 ? (double)cycles / secs : 0.0, o.trace.empty() ? "" : " (tracing)");
    return failures ? 1 : 0;
}
