// rtl-topk: runs seeded random selections through the Verilated top-k engine and compares each
// with the golden model bit for bit.
//   rtl-topk [--config p16|p3] [--seed N] [--cases M] [--trace FILE.fst]
// Prints every mismatch, then the number of cases, simulated cycles and cycles per second.
// Exit status: 0 all matched, 1 a mismatch, 2 bad arguments.
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "cli_options.h"
#include "topk_harness.h"
#include "topk_models.h"

namespace {

const char kHelp[] =
    "usage: rtl-topk [--config p16|p3] [--seed N] [--cases M] [--trace FILE.fst] [--n N --k K]\n"
    "  p16: W=16 NMAX=4096 P=16; p3: W=12 NMAX=4095 P=3\n"
    "  --n/--k: every case selects k of n random full-range values (default: random cases)\n"
    "  and the mean selection latency is printed next to the model's\n";

template <class Model> int run(const TopkConfig &cfg, const CliOptions &o) {
    TopkHarness<Model> h(cfg, o.trace);
    std::mt19937_64 rng(o.seed);
    std::vector<int64_t> v;
    size_t k = 0;
    uint64_t failures = 0, candidates = 0, sel_cycles = 0, model_cycles = 0;
    if (o.fixed_size && (o.n > cfg.nmax || o.k > o.n + 1)) {
        std::fprintf(stderr, "rtl-topk: need n <= %u and k <= n + 1 (got n=%llu k=%llu)\n",
                     cfg.nmax, (unsigned long long)o.n, (unsigned long long)o.k);
        return 2;
    }
    const int64_t lo = -((int64_t)1 << (cfg.w - 1));
    const uint64_t span = (uint64_t)1 << cfg.w;
    auto t0 = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < o.cases; i++) {
        if (o.fixed_size) {
            v.resize(o.n);
            for (auto &x : v) x = lo + (int64_t)(rng() % span);
            k = o.k;
        } else {
            topk_random_case(cfg, rng, v, k);
        }
        TopkOutcome got = h.run(v, k);
        std::string err = topk_check(cfg, v, k, got);
        sel_cycles += got.sel_cycles;
        model_cycles += topk_model_cycles(cfg, v, k);
        candidates += v.size();
        if (!err.empty()) {
            failures++;
            std::printf("MISMATCH case %llu %s: %s\n", (unsigned long long)i,
                        topk_describe(v, k).c_str(), err.c_str());
            if (failures >= 10) break;
        }
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    uint64_t cycles = h.sim().cycles();
    std::printf("rtl-topk config=%s (W=%u NMAX=%u P=%u) seed=%llu: %llu cases, %llu candidates, "
                "%llu mismatches\n",
                cfg.name, cfg.w, cfg.nmax, cfg.p, (unsigned long long)o.seed,
                (unsigned long long)o.cases, (unsigned long long)candidates,
                (unsigned long long)failures);
    std::printf("cycles: %llu in %.3f s = %.0f cycles/s%s\n", (unsigned long long)cycles, secs,
                secs > 0 ? (double)cycles / secs : 0.0, o.trace.empty() ? "" : " (tracing)");
    if (o.fixed_size && o.cases)
        std::printf("n=%llu k=%llu: mean selection latency %.1f cycles (model %.1f)\n",
                    (unsigned long long)o.n, (unsigned long long)o.k,
                    (double)sel_cycles / (double)o.cases, (double)model_cycles / (double)o.cases);
    return failures ? 1 : 0;
}

} // namespace

int main(int argc, char **argv) {
    CliOptions o;
    int rc = cli_parse(argc, argv, "rtl-topk", "--config", {"p16", "p3"}, kHelp, &o);
    if (rc) return rc == 1 ? 0 : rc;
    return o.choice == "p3" ? run<Vtopk_p3>(kTopkP3, o) : run<Vtopk_p16>(kTopkP16, o);
}
