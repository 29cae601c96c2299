// Golden-model comparison and case generation for the top-k engine harness.
#include "topk_check.h"

#include <algorithm>
#include <sstream>

#include "spksim/topk.h"

namespace {

std::string join(const std::vector<uint32_t> &v, size_t max_items = 24) {
    std::ostringstream s;
    s << "[";
    for (size_t i = 0; i < v.size() && i < max_items; i++) s << (i ? "," : "") << v[i];
    if (v.size() > max_items) s << ",... (" << v.size() << " items)";
    s << "]";
    return s.str();
}

} // namespace

std::string topk_describe(const std::vector<int64_t> &values, size_t k) {
    std::ostringstream s;
    s << "n=" << values.size() << " k=" << k << " values=[";
    for (size_t i = 0; i < values.size() && i < 16; i++) s << (i ? "," : "") << values[i];
    if (values.size() > 16) s << ",...";
    s << "]";
    return s.str();
}

std::string topk_check(const TopkConfig &cfg, const std::vector<int64_t> &values, size_t k,
                       const TopkOutcome &got) {
    const size_t n = values.size();
    std::ostringstream err;
    if (got.timed_out || !got.done) return "engine never signalled done (timeout)";
    if (got.bad_cmd) return "engine flagged a valid command as bad";

    std::vector<uint32_t> want(n + 1), want_qs(n + 1);
    std::vector<int64_t> scratch(2 * n + 1);
    want.resize(spk_topk_select(values.data(), n, k, want.data(), scratch.data()));
    spk_topk_trace trace;
    want_qs.resize(
        spk_topk_quickselect(values.data(), n, k, cfg.p, want_qs.data(), scratch.data(), &trace));
    if (want != want_qs) return "golden select and quickselect disagree (model bug)";

    if (got.kept != want) err << "kept " << join(got.kept) << " want " << join(want) << "; ";
    if (got.kept_count != want.size())
        err << "kept_count " << got.kept_count << " want " << want.size() << "; ";
    if (got.passes != trace.passes)
        err << "passes " << got.passes << " want " << trace.passes << "; ";
    if (got.sel_cycles != trace.cycles)
        err << "selection cycles " << got.sel_cycles << " want " << trace.cycles << "; ";
    const bool selects = k > 0 && k < n;
    if (selects) {
        if (got.threshold != trace.kth_value)
            err << "threshold " << got.threshold << " want " << trace.kth_value << "; ";
        size_t greater = (size_t)std::count_if(values.begin(), values.end(),
                                               [&](int64_t v) { return v > trace.kth_value; });
        if (got.n_greater != greater)
            err << "n_greater " << got.n_greater << " want " << greater << "; ";
    }
    // End to end: command cycle, the model's selection passes, ceil(n/P) emit reads, pipeline.
    const uint64_t emit = (k == 0 || n == 0) ? 0 : (n + cfg.p - 1) / cfg.p;
    const uint64_t want_latency =
        (k == 0 || n == 0) ? 2 : trace.cycles + emit + kTopkLatencyOverhead;
    if (got.latency != want_latency)
        err << "latency " << got.latency << " want " << want_latency << "; ";
    return err.str();
}

uint64_t topk_model_cycles(const TopkConfig &cfg, const std::vector<int64_t> &values, size_t k) {
    const size_t n = values.size();
    std::vector<uint32_t> kept(n + 1);
    std::vector<int64_t> scratch(2 * n + 1);
    spk_topk_trace trace;
    spk_topk_quickselect(values.data(), n, k, cfg.p, kept.data(), scratch.data(), &trace);
    return trace.cycles;
}

void topk_random_case(const TopkConfig &cfg, std::mt19937_64 &rng, std::vector<int64_t> &values,
                      size_t &k) {
    const int64_t lo = -((int64_t)1 << (cfg.w - 1)), hi = ((int64_t)1 << (cfg.w - 1)) - 1;
    size_t n;
    switch (rng() % 4) {
    case 0:
        n = rng() % 17;
        break; // short lists, partial lines
    case 1:
        n = cfg.nmax - rng() % (2 * cfg.p);
        break; // near the buffer depth
    default:
        n = rng() % (cfg.nmax + 1);
        break;
    }
    values.resize(n);
    const unsigned kind = (unsigned)(rng() % 6);
    int64_t distinct = 1 + (int64_t)(rng() % 5);
    for (size_t i = 0; i < n; i++) {
        int64_t v;
        switch (kind) {
        case 0:
            v = lo + (int64_t)(rng() % (uint64_t)(hi - lo + 1));
            break; // full range
        case 1:
            v = (int64_t)(rng() % (uint64_t)distinct) - 2;
            break; // many ties
        case 2:
            v = lo;
            break; // all equal (min)
        case 3:
            v = hi - (int64_t)i % (hi + 1);
            break; // descending
        case 4:
            v = lo + (int64_t)i % (hi + 1);
            break; // ascending
        default:
            v = (rng() % 2) ? hi : lo;
            break; // extremes
        }
        values[i] = v;
    }
    switch (rng() % 5) {
    case 0:
        k = rng() % 3;
        break; // 0, 1, 2
    case 1:
        k = n + rng() % 2;
        break; // n, n + 1 (bypass)
    case 2:
        k = n > 0 ? n - 1 : 0;
        break; // one dropped
    default:
        k = rng() % (n + 2);
        break;
    }
}
