// rtl-datapath: seeded random cases through a Verilated datapath block, compared with the
// golden model bit for bit.
//   rtl-datapath [--block softmax|logit|qk|pv|importance|fetch] [--seed N] [--cases M]
//                [--trace FILE.fst]
// Prints every mismatch (up to 10), then the number of cases, simulated cycles and cycles/s.
// Exit status: 0 all matched, 1 a mismatch, 2 bad arguments.
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "cli_options.h"
#include "datapath_harness.h"
#include "fetch_harness.h"
#include "importance_harness.h"
#include "pv_harness.h"
#include "qk_harness.h"

namespace {

const char kHelp[] =
    "usage: rtl-datapath [--block softmax|logit|qk|pv|importance|fetch] [--seed N] [--cases M] "
    "[--trace FILE.fst]\n"
    "  softmax: one request of 1..4096 keys per case (with the requant decision)\n"
    "  logit:   one key per case, streamed one per cycle\n"
    "  qk:      one request (query + 1..40 key rows) per case\n"
    "  pv:      one random head request per case (golden spk_head_run)\n"
    "  importance: one accumulator add per case, checked in rounds of 2000\n"
    "  fetch:   one plane fetch (0..19 rows) per case, through an AXI4 memory model\n";

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void report(const CliOptions &o, uint64_t failures, uint64_t cycles, double secs) {
    std::printf("rtl-datapath block=%s seed=%llu: %llu cases, %llu mismatches\n", o.choice.c_str(),
                (unsigned long long)o.seed, (unsigned long long)o.cases,
                (unsigned long long)failures);
    std::printf("cycles: %llu in %.3f s = %.0f cycles/s%s\n", (unsigned long long)cycles, secs,
                secs > 0 ? (double)cycles / secs : 0.0, o.trace.empty() ? "" : " (tracing)");
}

// Runs o.cases random cases one at a time; one_case() returns "" on a match, else the
// mismatch. Stops after 10 mismatches.
template <class Harness, class OneCase>
int run_each(const CliOptions &o, Harness &h, OneCase one_case) {
    uint64_t failures = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < o.cases && failures < 10; i++) {
        std::string err = one_case();
        if (!err.empty()) {
            failures++;
            std::printf("MISMATCH case %llu %s\n", (unsigned long long)i, err.c_str());
        }
    }
    report(o, failures, h.sim().cycles(), seconds_since(t0));
    return failures ? 1 : 0;
}

int run_softmax(const CliOptions &o) {
    SoftmaxHarness h(o.trace);
    std::mt19937_64 rng(o.seed);
    std::vector<int32_t> logits;
    uint32_t threshold = 0;
    return run_each(o, h, [&] {
        softmax_random_case(rng, kSoftmaxNmax, logits, threshold);
        std::string err = softmax_check(logits, threshold, h.run(logits, threshold));
        if (err.empty()) return err;
        return "n=" + std::to_string(logits.size()) + " T=" + std::to_string(threshold) + ": " +
               err;
    });
}

int run_logit(const CliOptions &o) {
    LogitHarness h(o.trace);
    std::mt19937_64 rng(o.seed);
    std::vector<LogitCase> cases;
    uint64_t failures = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (uint64_t done = 0; done < o.cases && failures < 10;) {
        size_t batch = (size_t)std::min<uint64_t>(4096, o.cases - done);
        logit_random_cases(rng, batch, cases);
        std::string err = logit_check(cases, h.run(cases));
        if (!err.empty()) {
            failures++;
            std::printf("MISMATCH in cases %llu..: %s\n", (unsigned long long)done, err.c_str());
        }
        done += batch;
    }
    report(o, failures, h.sim().cycles(), seconds_since(t0));
    return failures ? 1 : 0;
}

int run_pv(const CliOptions &o) {
    PvHarness h(o.trace);
    std::mt19937_64 rng(o.seed);
    PvCase c;
    return run_each(o, h, [&] {
        std::string err = pv_random_case(rng, c);
        if (err.empty()) err = pv_check(c, h.run(c));
        if (err.empty()) return err;
        return "d=" + std::to_string(c.d) + " rows=" + std::to_string(c.probs.size()) + ": " + err;
    });
}

int run_qk(const CliOptions &o) {
    QkHarness h(o.trace);
    std::mt19937_64 rng(o.seed);
    QkCase c;
    return run_each(o, h, [&] {
        qk_random_case(rng, c);
        return qk_check(c, h.run(c));
    });
}

int run_fetch(const CliOptions &o) {
    FetchHarness h(o.trace);
    std::mt19937_64 rng(o.seed);
    FetchCase c;
    return run_each(o, h, [&] {
        fetch_random_case(rng, c);
        return fetch_check(c, h.run(c));
    });
}

int run_importance(const CliOptions &o) {
    ImportanceHarness h(o.trace);
    std::mt19937_64 rng(o.seed);
    std::vector<ImportanceAdd> adds;
    uint64_t failures = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (uint64_t done = 0; done < o.cases && failures < 10;) {
        size_t batch = (size_t)std::min<uint64_t>(2000, o.cases - done);
        importance_random_adds(rng, batch, adds);
        std::string err = importance_check(adds, h.run(adds));
        if (!err.empty()) {
            failures++;
            std::printf("MISMATCH in adds %llu..: %s\n", (unsigned long long)done, err.c_str());
        }
        done += batch;
    }
    report(o, failures, h.sim().cycles(), seconds_since(t0));
    return failures ? 1 : 0;
}

} // namespace

int main(int argc, char **argv) {
    CliOptions o;
    int rc = cli_parse(argc, argv, "rtl-datapath", "--block",
                       {"softmax", "logit", "qk", "pv", "importance", "fetch"}, kHelp, &o);
    if (rc) return rc == 1 ? 0 : rc;
    if (o.choice == "pv") return run_pv(o);
    if (o.choice == "qk") return run_qk(o);
    if (o.choice == "fetch") return run_fetch(o);
    if (o.choice == "importance") return run_importance(o);
    return o.choice == "softmax" ? run_softmax(o) : run_logit(o);
}
