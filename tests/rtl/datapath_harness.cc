// Harnesses of the datapath blocks and their golden-model checks.
#include "datapath_harness.h"

#include <algorithm>
#include <sstream>

#include "spksim/datapath.h"

SoftmaxOutcome SoftmaxHarness::run(const std::vector<int32_t> &logits, uint32_t threshold) {
    Vsoftmax &io = sim_.io();
    SoftmaxOutcome out;
    io.n = (uint32_t)logits.size();
    io.threshold = threshold;
    io.start = 1;
    const uint64_t t0 = sim_.cycles();
    sim_.tick();
    io.start = 0;
    size_t fed = 0;
    const uint64_t limit = 100 + 4 * (uint64_t)logits.size();
    while (!io.done && sim_.cycles() - t0 < limit) {
        if (io.out_valid) {
            out.probs.push_back((uint16_t)io.out_prob);
            out.indices.push_back(io.out_index);
        }
        // Present the next logit; it is taken at the edge if in_ready is high.
        bool feeding = fed < logits.size() && io.in_ready;
        io.in_valid = feeding;
        io.in_logit = feeding ? ((uint32_t)logits[fed] & 0xFFFFFFu) : 0u;
        sim_.tick();
        if (feeding) fed++;
    }
    io.in_valid = 0;
    out.done = io.done;
    out.latency = sim_.cycles() - t0;
    out.bad_cmd = io.bad_cmd;
    out.confidence = io.confidence;
    out.refetch = io.refetch;
    out.sum = io.sum;
    out.recip = io.recip;
    return out;
}

std::string softmax_check(const std::vector<int32_t> &logits, uint32_t threshold,
                          const SoftmaxOutcome &got) {
    std::ostringstream err;
    const uint32_t n = (uint32_t)logits.size();
    if (!got.done) return "softmax never signalled done (timeout)";
    if (got.bad_cmd) return "a valid request was refused";
    std::vector<uint32_t> exps(n);
    std::vector<uint16_t> probs(n);
    uint32_t pmax = spk_softmax(logits.data(), n, exps.data(), probs.data());
    uint64_t sum = 0;
    for (uint32_t x : exps) sum += x;
    const uint64_t recip = ((uint64_t)1 << 47) / sum;
    if (got.probs.size() != n) err << got.probs.size() << " probabilities for " << n << " keys; ";
    for (uint32_t j = 0; j < n && j < got.probs.size(); j++) {
        if (got.indices[j] != j) {
            err << "probability " << j << " came with index " << got.indices[j] << "; ";
            break;
        }
        if (got.probs[j] != probs[j]) {
            err << "p[" << j << "] = " << got.probs[j] << " want " << probs[j] << "; ";
            break;
        }
    }
    if (got.confidence != pmax) err << "confidence " << got.confidence << " want " << pmax << "; ";
    if (got.refetch != (pmax < threshold))
        err << "refetch " << got.refetch << " want " << (pmax < threshold) << "; ";
    if (got.sum != sum) err << "sum " << got.sum << " want " << sum << "; ";
    if (got.recip != recip) err << "recip " << got.recip << " want " << recip << "; ";
    // start + load n + exp n+3 + div 48 + prob n+4 + done.
    const uint64_t want_latency = 3ull * n + 57;
    if (got.latency != want_latency)
        err << "latency " << got.latency << " want " << want_latency << "; ";
    return err.str();
}

void softmax_random_case(std::mt19937_64 &rng, uint32_t nmax, std::vector<int32_t> &logits,
                         uint32_t &threshold) {
    const int32_t lo = -(1 << 23), hi = (1 << 23) - 1;
    uint32_t n = 1 + (uint32_t)(rng() % (rng() % 4 == 0 ? 16 : nmax));
    logits.resize(n);
    const unsigned kind = (unsigned)(rng() % 6);
    const int32_t base = lo + (int32_t)(rng() % (1u << 24));
    const uint32_t spread = 1u << (rng() % 24); // flat (1) to very peaked (2^23)
    for (uint32_t j = 0; j < n; j++) {
        int64_t v;
        switch (kind) {
        case 0:
            v = lo + (int64_t)(rng() % (1u << 24));
            break; // anything
        case 1:
            v = (int64_t)base + (int64_t)(rng() % spread) - spread / 2;
            break; // a cluster
        case 2:
            v = base;
            break; // all equal
        case 3:
            v = (rng() % 2) ? hi : lo;
            break; // extremes
        case 4:
            v = (int64_t)base - (int64_t)(rng() % 8192);
            break; // within 32 units
        default:
            v = (int64_t)(rng() % 4096) - 2048;
            break; // near zero
        }
        logits[j] = (int32_t)std::min<int64_t>(hi, std::max<int64_t>(lo, v));
    }
    switch (rng() % 4) {
    case 0:
        threshold = 0;
        break;
    case 1:
        threshold = 65536;
        break;
    default:
        threshold = (uint32_t)(rng() % 65537);
        break;
    }
}

std::vector<int32_t> LogitHarness::run(const std::vector<LogitCase> &cases) {
    Vlogit &io = sim_.io();
    std::vector<int32_t> out;
    size_t next = 0;
    const uint64_t t0 = sim_.cycles();
    while (out.size() < cases.size() && sim_.cycles() - t0 < cases.size() + 16) {
        io.in_valid = next < cases.size();
        if (next < cases.size()) {
            io.dot = (uint32_t)cases[next].dot;
            io.q_scale = cases[next].q_scale & 0xFFFFFFu;
            io.k_scale = cases[next].k_scale & 0xFFFFFFu;
            next++;
        }
        sim_.tick();
        if (io.out_valid) out.push_back((int32_t)rtl_sext(io.logit, 24));
    }
    io.in_valid = 0;
    return out;
}

std::string logit_check(const std::vector<LogitCase> &cases, const std::vector<int32_t> &got) {
    std::ostringstream err;
    if (got.size() != cases.size())
        return "got " + std::to_string(got.size()) + " logits for " + std::to_string(cases.size()) +
               " keys";
    for (size_t i = 0; i < cases.size(); i++) {
        const LogitCase &c = cases[i];
        int32_t want = spk_logit(c.dot, c.q_scale, c.k_scale);
        if (got[i] != want) {
            err << "case " << i << " dot=" << c.dot << " q=0x" << std::hex << c.q_scale << " k=0x"
                << c.k_scale << std::dec << ": logit " << got[i] << " want " << want;
            break;
        }
    }
    return err.str();
}

void logit_random_cases(std::mt19937_64 &rng, size_t count, std::vector<LogitCase> &cases) {
    cases.resize(count);
    for (auto &c : cases) {
        switch (rng() % 5) {
        case 0:
            c.dot = 0;
            break;
        case 1:
            c.dot = (rng() % 2) ? INT32_MAX : INT32_MIN;
            break;
        case 2:
            c.dot = (int32_t)(rng() % 2001) - 1000;
            break;
        default:
            c.dot = (int32_t)(uint32_t)rng() >> (rng() % 31);
            break;
        }
        auto word = [&]() -> uint32_t {
            uint32_t m = rng() % 8 == 0 ? 0 : 32768 + (uint32_t)(rng() % 32768);
            int32_t e;
            switch (rng() % 4) {
            case 0:
                e = (int32_t)(rng() % 256) - 128;
                break; // any exponent
            case 1:
                e = (int32_t)(rng() % 9) - 4;
                break; // near 2^0: saturates
            default:
                e = (int32_t)(rng() % 40) - 40;
                break; // typical scales
            }
            return spk_scale_make(m, e);
        };
        c.q_scale = word();
        c.k_scale = word();
    }
}
