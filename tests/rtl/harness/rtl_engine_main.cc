// rtl-engine: seeded random head requests through a Verilated engine top with an AXI4 memory
// model, compared with the golden spk_head_run bit for bit.
//   rtl-engine [--engine full|compact|ovl] [--memory stall|fixed|cycles] [--seed N]
//              [--cases M] [--trace FILE.fst]
// --engine full (the default) runs spk_engine, compact the sequential spk_engine_compact (same
// ports, same DMAX, NMAX, QDEPTH and NTOK; much slower per key), ovl the overlapped
// spk_engine_ovl (Vengine's parameters); --memory cycles is for full and ovl (ovl is also
// compared with the preset file sim/configs/rtl-ovl.cfg, or $SPK_RTL_OVL_PRESET).
// `cycles` runs the fixed-latency memory and also times each request on the cycle simulator
// (spk_cycle_request_from_head + spk_cycle_run) with the preset rtl-engine, the model of this
// engine, and with the paper-like overlapped pipeline of the same units, and prints the
// agreement with each (total, and min / median / max of the per-request ratios). Prints every
// mismatch (up to 10), then the number of cases, simulated cycles and cycles/s.
// Exit status: 0 all matched, 1 a mismatch, 2 bad arguments, 3 cycle simulator error.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <cstdlib>
#include <cstring>

#include "Vengine_compact.h"
#include "Vengine_ovl.h"
#include "cli_options.h"
#include "engine_harness.h"
#include "spksim/cycle.h"
#include "spksim/cycle_data.h"

namespace {

const char kHelp[] =
    "usage: rtl-engine [--engine full|compact|ovl] [--memory stall|fixed|cycles] [--seed N] "
    "[--cases M]\n"
    "                  [--trace FILE.fst]\n"
    "  full: spk_engine (default); compact: spk_engine_compact, the sequential engine;\n"
    "  ovl: spk_engine_ovl, the overlapped engine\n"
    "  one random head request (D <= 64, 1..300 keys; 1 in 40 with none) per case, queued in\n"
    "  bursts of 1..7; the token importance is compared after every burst\n"
    "  stall: memory latency 8 with random AR/R stalls; fixed: latency 8, no stalls;\n"
    "  (stall and fixed: 1 in 3 requests with a key list of sorted tokens with gaps)\n"
    "  cycles: as fixed, one request per burst, never empty, contiguous keys, and compare\n"
    "  each request's cycles with the cycle simulator (full and ovl)\n"
    "  --cases-csv FILE (with cycles): one line per request, its shape and the cycles of the RTL\n"
    "  and of each model (for fitting a preset)\n"
    "  --pairs (with cycles and ovl): the cases in pairs, each request alone and then the pair\n"
    "  back to back; compares the pair's cycles (first descriptor to second done) with the\n"
    "  preset rtl-ovl, and both sides' pair against the sum of its requests alone\n"
    "  --lists (with cycles): every request with a key list (sorted tokens with gaps), as the\n"
    "  device's head requests are\n";

bool pairs_mode = false; // --pairs
bool lists_mode = false; // --lists

FILE *cases_csv = nullptr; // --cases-csv

constexpr uint32_t kLatency = 8;

// The cycle simulator's model of this engine: the preset "rtl-engine" (the serial engine of
// docs/simulator.md with the Verilated parameters and this memory model). The paper-like
// overlapped pipeline with the same units is kept beside it: the gap to it is what overlapping
// the engine's steps would win (docs/rtl.md, "Engine cycles vs. the cycle simulator").
bool engine_cycle_configs(spk_config *serial, spk_config *overlapped) {
    if (spk_config_preset("rtl-engine", serial) != 0 ||
        spk_config_preset("eighth", overlapped) != 0)
        return false;
    if (serial->qk_multipliers != kEngineLanes || serial->topk_parallelism != kEngineP ||
        serial->dram_latency != kLatency) {
        std::fprintf(stderr, "rtl-engine: the preset rtl-engine does not match this harness\n");
        return false;
    }
    spk_config *o = overlapped;
    o->qk_multipliers = kEngineLanes;
    o->pv_multipliers = kEngineLanes;
    o->topk_parallelism = kEngineP;
    o->topk_engines = 1;
    o->softmax_per_cycle = 1; // spk_softmax takes and gives one key per cycle
    o->dram_channels = 1;
    o->dram_bytes_per_cycle = 32;
    o->dram_latency = kLatency;
    o->dram_row_buffer = 0;
    char err[256];
    for (const spk_config *c : {serial, overlapped})
        if (spk_config_check(c, err, sizeof err) != 0) {
            std::fprintf(stderr, "rtl-engine: cycle simulator configuration: %s\n", err);
            return false;
        }
    return true;
}

// The overlapped engine's preset (docs/simulator.md, "Preset rtl-ovl"), a file of the tree: run
// from the top of the tree, or name it with SPK_RTL_OVL_PRESET.
bool ovl_preset(spk_config *cfg) {
    const char *env = std::getenv("SPK_RTL_OVL_PRESET");
    const char *path = env && *env ? env : "sim/configs/rtl-ovl.cfg";
    char err[256];
    if (spk_config_load(path, cfg, err, sizeof err) != 0) {
        std::fprintf(stderr, "rtl-engine: preset %s: %s\n", path, err);
        return false;
    }
    return true;
}

// Cycles the cycle simulator predicts for one request alone, or 0 on error.
uint64_t predicted_cycles(const spk_config &cfg, const EngineCase &c) {
    spk_cycle_request_site site{0, 0, 0, c.n_tokens, (uint8_t)!c.keys.empty()};
    spk_cycle_request req{};
    if (spk_cycle_request_from_head(&c.cfg, &c.want_ev, &site, &req) != SPK_CYCLE_OK) return 0;
    spk_cycle_stats stats{};
    if (spk_cycle_run(&cfg, &req, 1, &stats, nullptr, nullptr, nullptr) != SPK_CYCLE_OK) return 0;
    return stats.cycles;
}

// Cycles the cycle simulator predicts for two requests pushed back to back, or 0 on error.
uint64_t predicted_pair_cycles(const spk_config &cfg, const EngineCase &a, const EngineCase &b) {
    spk_cycle_request req[2]{};
    const EngineCase *cases[2] = {&a, &b};
    for (int i = 0; i < 2; i++) {
        spk_cycle_request_site site{0, 0, 0, cases[i]->n_tokens, (uint8_t)!cases[i]->keys.empty()};
        if (spk_cycle_request_from_head(&cases[i]->cfg, &cases[i]->want_ev, &site, &req[i]) !=
            SPK_CYCLE_OK)
            return 0;
    }
    spk_cycle_stats stats{};
    if (spk_cycle_run(&cfg, req, 2, &stats, nullptr, nullptr, nullptr) != SPK_CYCLE_OK) return 0;
    return stats.cycles;
}

// RTL cycles against one configuration's predictions: the total and the per-request ratios.
struct Agreement {
    uint64_t rtl = 0, sim = 0;
    std::vector<double> ratios;
    void add(uint64_t rtl_cycles, uint64_t sim_cycles) {
        rtl += rtl_cycles;
        sim += sim_cycles;
        ratios.push_back((double)rtl_cycles / (double)sim_cycles);
    }
    void print(const char *what) {
        if (!sim || ratios.empty()) return;
        std::sort(ratios.begin(), ratios.end());
        size_t within = 0, within5 = 0;
        for (double r : ratios) within += r >= 0.98 && r <= 1.02;
        for (double r : ratios) within5 += r >= 0.95 && r <= 1.05;
        std::printf("cycle agreement, %s: RTL %llu / cycle simulator %llu cycles = %.4f; per "
                    "request min %.4f median %.4f max %.4f, %zu of %zu within 2%%, %zu within "
                    "5%%\n",
                    what, (unsigned long long)rtl, (unsigned long long)sim,
                    (double)rtl / (double)sim, ratios.front(), ratios[ratios.size() / 2],
                    ratios.back(), within, ratios.size(), within5);
    }
};

// --pairs: the overlapped engine's two requests in flight against the preset's tail_overlap.
// Each pair runs alone request by request, then back to back; all three runs are checked bit
// for bit and the token importance (accumulated over all of them) after each pair.
int run_pairs(const CliOptions &o) {
    spk_config cfg{};
    if (!ovl_preset(&cfg)) return 3;
    EngineMemory mem;
    mem.random_stalls = false;
    mem.latency = kLatency;
    EngineHarness<Vengine_ovl> h(o.trace, mem);
    std::mt19937_64 rng(o.seed);
    Agreement pair_agree;
    uint64_t rtl_alone = 0, rtl_pair = 0, sim_alone = 0, sim_pair = 0, failures = 0;
    std::vector<uint64_t> want_imp, got_imp;
    std::string imp_err = h.clear_importance();
    const auto t0 = std::chrono::steady_clock::now();
    const uint64_t pairs = o.cases / 2;
    for (uint64_t i = 0; i < pairs && failures < 10; i++) {
        EngineCase c[2];
        std::string err;
        for (EngineCase &x : c)
            if (err.empty()) err = engine_random_case(rng, 300, x, -1, -1, false);
        if (!err.empty()) {
            std::printf("MISMATCH pair %llu: %s\n", (unsigned long long)i, err.c_str());
            failures++;
            continue;
        }
        const EngineOutcome a = h.run(c[0]), b = h.run(c[1]);
        const std::vector<EngineOutcome> both = h.run_burst({c[0], c[1]});
        for (int k = 0; k < 2; k++) {
            engine_add_importance(c[k], want_imp);
            engine_add_importance(c[k], want_imp);
        }
        const EngineOutcome *runs[4] = {&a, &b, &both[0], &both[1]};
        for (int k = 0; k < 4 && err.empty(); k++) err = engine_check(c[k % 2], *runs[k]);
        if (imp_err.empty()) imp_err = h.read_importance(got_imp);
        if (imp_err.empty() && !(imp_err = engine_compare_importance(want_imp, got_imp)).empty())
            imp_err += " (token importance after pair " + std::to_string(i) + ")";
        if (!err.empty()) {
            std::printf("MISMATCH pair %llu: %s\n", (unsigned long long)i, err.c_str());
            failures++;
            continue;
        }
        const uint64_t want_a = predicted_cycles(cfg, c[0]), want_b = predicted_cycles(cfg, c[1]);
        const uint64_t want_pair = predicted_pair_cycles(cfg, c[0], c[1]);
        if (!want_a || !want_b || !want_pair) {
            std::fprintf(stderr, "rtl-engine: the preset rtl-ovl refused pair %llu\n",
                         (unsigned long long)i);
            return 3;
        }
        const uint64_t got_pair = both[0].cycles + both[1].cycles; // first accept to last done
        pair_agree.add(got_pair, want_pair);
        rtl_alone += a.cycles + b.cycles;
        rtl_pair += got_pair;
        sim_alone += want_a + want_b;
        sim_pair += want_pair;
    }
    if (!imp_err.empty()) {
        failures++;
        std::printf("MISMATCH %s\n", imp_err.c_str());
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("rtl-engine engine=ovl (spk_engine_ovl) memory=cycles --pairs seed=%llu: %llu "
                "pairs, %llu mismatches\n",
                (unsigned long long)o.seed, (unsigned long long)pairs,
                (unsigned long long)failures);
    pair_agree.print("pairs back to back, overlapped engine model (preset file rtl-ovl)");
    if (rtl_alone && sim_alone)
        std::printf("pairs back to back against their requests alone: RTL %llu / %llu = %.4f, "
                    "preset %llu / %llu = %.4f\n",
                    (unsigned long long)rtl_pair, (unsigned long long)rtl_alone,
                    (double)rtl_pair / (double)rtl_alone, (unsigned long long)sim_pair,
                    (unsigned long long)sim_alone, (double)sim_pair / (double)sim_alone);
    const uint64_t cycles = h.sim().cycles();
    std::printf("cycles: %llu in %.3f s = %.0f cycles/s\n", (unsigned long long)cycles, secs,
                secs > 0 ? (double)cycles / secs : 0.0);
    return failures ? 1 : 0;
}

// Runs the cases on one engine model (`engine` names it in the summary line).
template <class Model> int run_cases(const CliOptions &o, const char *engine) {
    const bool compare = o.choice == "cycles";
    spk_config serial_cfg{}, overlapped_cfg{};
    if (compare && !engine_cycle_configs(&serial_cfg, &overlapped_cfg)) return 3;
    const bool is_ovl = !std::strcmp(engine, "ovl");
    spk_config ovl_cfg{};
    if (compare && is_ovl && !ovl_preset(&ovl_cfg)) return 3;
    Agreement serial, overlapped, ovl_model;
    EngineMemory mem;
    mem.random_stalls = o.choice == "stall";
    mem.latency = kLatency;
    EngineHarness<Model> h(o.trace, mem);
    std::mt19937_64 rng(o.seed);
    EngineCase c;
    uint64_t failures = 0;
    // Requests are queued in bursts (one per burst when timing them); the token-importance bank
    // is compared with the golden accumulation after each burst.
    std::vector<EngineCase> burst;
    std::vector<std::string> burst_err;
    std::vector<EngineOutcome> burst_got;
    std::vector<uint64_t> want_imp, got_imp;
    size_t burst_at = 0;
    std::string imp_err = h.clear_importance();
    const auto t0 = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < o.cases && failures < 10; i++) {
        if (burst_at == burst.size()) {
            const uint64_t size = std::min<uint64_t>(compare ? 1 : 1 + rng() % 7, o.cases - i);
            burst.assign(size, EngineCase{});
            burst_err.assign(size, "");
            for (size_t r = 0; r < size; r++) {
                const bool empty = !compare && rng() % 40 == 0;
                // stall/fixed: a third of the requests in key-list mode (the cycle simulator's
                // preset models the contiguous mode: cycles keeps to it)
                const bool list = compare ? lists_mode : rng() % 3 == 0;
                burst_err[r] = engine_random_case(rng, 300, burst[r], empty ? 0 : -1, -1, list);
                engine_add_importance(burst[r], want_imp);
            }
            burst_got = h.run_burst(burst);
            if (imp_err.empty()) imp_err = h.read_importance(got_imp);
            if (imp_err.empty() &&
                !(imp_err = engine_compare_importance(want_imp, got_imp)).empty())
                imp_err += " (token importance after case " + std::to_string(i + size - 1) + ")";
            burst_at = 0;
        }
        c = burst[burst_at];
        std::string err = burst_err[burst_at];
        const EngineOutcome got = burst_got[burst_at];
        burst_at++;
        if (err.empty()) err = engine_check(c, got);
        if (!err.empty()) {
            failures++;
            std::printf("MISMATCH case %llu d=%u n=%u profile %u+%u: %s\n", (unsigned long long)i,
                        c.cfg.d, c.n, c.cfg.kv.msb_bits, c.cfg.kv.lsb_bits, err.c_str());
            continue;
        }
        if (compare) {
            const uint64_t want = predicted_cycles(serial_cfg, c);
            const uint64_t paper = predicted_cycles(overlapped_cfg, c);
            if (!want || !paper) {
                std::fprintf(stderr, "rtl-engine: the cycle simulator refused case %llu\n",
                             (unsigned long long)i);
                return 3;
            }
            serial.add(got.cycles, want);
            overlapped.add(got.cycles, paper);
            if (is_ovl) {
                const uint64_t o_want = predicted_cycles(ovl_cfg, c);
                if (!o_want) {
                    std::fprintf(stderr, "rtl-engine: the preset rtl-ovl refused case %llu\n",
                                 (unsigned long long)i);
                    return 3;
                }
                ovl_model.add(got.cycles, o_want);
            }
            if (cases_csv)
                std::fprintf(cases_csv, "%llu,%u,%u,%zu,%d,%u,%u,%llu,%llu,%llu,%llu\n",
                             (unsigned long long)i, c.cfg.d, c.n, c.want_v_keys.size(),
                             (int)c.want_requant, c.cfg.kv.msb_bits, c.cfg.kv.lsb_bits,
                             (unsigned long long)got.cycles, (unsigned long long)want,
                             (unsigned long long)paper,
                             (unsigned long long)(is_ovl ? predicted_cycles(ovl_cfg, c) : 0));
            if (i < 5)
                std::printf("case %llu d=%u n=%u kept=%zu requant=%d: RTL %llu cycles, "
                            "rtl-engine model %llu (x%.3f), overlapped pipeline %llu (x%.2f)\n",
                            (unsigned long long)i, c.cfg.d, c.n, c.want_v_keys.size(),
                            (int)c.want_requant, (unsigned long long)got.cycles,
                            (unsigned long long)want, (double)got.cycles / (double)want,
                            (unsigned long long)paper, (double)got.cycles / (double)paper);
        }
    }
    if (!imp_err.empty()) {
        failures++;
        std::printf("MISMATCH %s\n", imp_err.c_str());
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const uint64_t cycles = h.sim().cycles();
    std::printf("rtl-engine engine=%s (%s) memory=%s seed=%llu: %llu cases, %llu mismatches\n",
                engine, EngineModel<Model>::kName, o.choice.c_str(), (unsigned long long)o.seed,
                (unsigned long long)o.cases, (unsigned long long)failures);
    if (compare) {
        serial.print("serial engine model (preset rtl-engine)");
        overlapped.print("overlapped pipeline (eighth with the RTL's units)");
        if (is_ovl) ovl_model.print("overlapped engine model (preset file rtl-ovl)");
    }
    std::printf("cycles: %llu in %.3f s = %.0f cycles/s%s\n", (unsigned long long)cycles, secs,
                secs > 0 ? (double)cycles / secs : 0.0, o.trace.empty() ? "" : " (tracing)");
    return failures ? 1 : 0;
}

} // namespace

int main(int argc, char **argv) {
    // --engine is taken out here; cli_parse handles the rest (it knows one choice flag).
    std::string engine = "full";
    std::vector<char *> args;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && !std::strcmp(argv[i], "--engine")) {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "rtl-engine: --engine needs a value (full, compact or ovl)\n");
                return 2;
            }
            engine = argv[++i];
            continue;
        }
        if (i > 0 && !std::strcmp(argv[i], "--cases-csv")) {
            if (i + 1 >= argc || !(cases_csv = std::fopen(argv[i + 1], "w"))) {
                std::fprintf(stderr, "rtl-engine: --cases-csv needs a file it can write\n");
                return 2;
            }
            std::fprintf(cases_csv, "case,d,n,kept,requant,msb,lsb,rtl,rtl_engine_preset,eighth,"
                                    "rtl_ovl_preset\n");
            i++;
            continue;
        }
        if (i > 0 && !std::strcmp(argv[i], "--pairs")) {
            pairs_mode = true;
            continue;
        }
        if (i > 0 && !std::strcmp(argv[i], "--lists")) {
            lists_mode = true;
            continue;
        }
        args.push_back(argv[i]);
    }
    CliOptions o;
    int rc = cli_parse((int)args.size(), args.data(), "rtl-engine", "--memory",
                       {"stall", "fixed", "cycles"}, kHelp, &o);
    if (rc) return rc == 1 ? 0 : rc;
    if (pairs_mode && (engine != "ovl" || o.choice != "cycles")) {
        std::fprintf(stderr, "rtl-engine: --pairs needs --engine ovl --memory cycles\n");
        return 2;
    }
    if (pairs_mode) return run_pairs(o);
    if (engine == "full") return run_cases<Vengine>(o, "full");
    if (engine == "ovl") return run_cases<Vengine_ovl>(o, "ovl");
    if (engine != "compact") {
        std::fprintf(stderr, "rtl-engine: unknown --engine '%s' (full, compact or ovl)\n%s",
                     engine.c_str(), kHelp);
        return 2;
    }
    if (o.choice == "cycles") {
        std::fprintf(stderr,
                     "rtl-engine: --memory cycles compares spk_engine with its cycle model; "
                     "it is not available with --engine compact\n");
        return 2;
    }
    return run_cases<Vengine_compact>(o, "compact");
}
