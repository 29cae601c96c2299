// Harness of the prune unit against the golden cascade pruning step.
#include "prune_harness.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <unistd.h>

#include "spksim/layer.h"

void PruneHarness::op(bool add, bool head, uint32_t index, uint64_t value, bool alive) {
    Vprune &io = sim_.io();
    io.op_en = 1;
    io.op_add = add;
    io.op_head = head;
    io.op_index = index;
    io.op_value = value;
    io.op_alive = alive;
    sim_.tick();
    io.op_en = 0;
}

uint64_t PruneHarness::read(bool head, uint32_t index, bool *alive) {
    Vprune &io = sim_.io();
    io.rd_en = 1;
    io.rd_head = head;
    io.rd_index = index;
    sim_.tick();
    io.rd_en = 0;
    if (alive) *alive = io.rd_alive;
    return io.rd_imp;
}

void PruneHarness::load(const PruneEntries &e) {
    for (uint32_t j = 0; j < kPruneNtok; j++) op(false, false, j, e.tok_imp[j], e.tok_alive[j]);
    for (uint32_t h = 0; h < kPruneNhead; h++) op(false, true, h, e.head_imp[h], e.head_alive[h]);
}

PruneEntries PruneHarness::read_all() {
    PruneEntries e;
    for (uint32_t j = 0; j < kPruneNtok; j++) {
        bool a = false;
        e.tok_imp.push_back(read(false, j, &a));
        e.tok_alive.push_back(a);
    }
    for (uint32_t h = 0; h < kPruneNhead; h++) {
        bool a = false;
        e.head_imp.push_back(read(true, h, &a));
        e.head_alive.push_back(a);
    }
    return e;
}

PruneResult PruneHarness::prune(const PruneCmd &c) {
    Vprune &io = sim_.io();
    io.start = 1;
    io.n_tokens = c.n_tokens;
    io.kt = c.kt;
    io.sinks = c.sinks;
    io.recent = c.recent;
    io.n_heads = c.n_heads;
    io.kh = c.kh;
    io.head_group = c.head_group;
    sim_.tick();
    io.start = 0;
    PruneResult r;
    r.cycles = 1;
    while (!io.done && r.cycles < 1000000) {
        sim_.tick();
        r.cycles++;
    }
    r.bad_cmd = io.bad_cmd;
    r.tokens_alive = io.tokens_alive;
    r.heads_alive = io.heads_alive;
    r.token_passes = io.token_passes;
    r.head_passes = io.head_passes;
    return r;
}

namespace {

uint64_t random_importance(std::mt19937_64 &rng, int style, const std::vector<uint64_t> &pool) {
    switch (style) {
    case 0:
        return rng() % 4; // many ties, zeros
    case 1:
        return pool[rng() % pool.size()]; // a few distinct values, saturation among them
    case 2:
        return rng() & kPruneImpMax; // any 48-bit value
    case 3:
        return rng() % (UINT64_C(1) << 26); // sums of probabilities of a few layers
    default:
        return rng() % 3 == 0 ? kPruneImpMax : rng() % 2 ? 0 : rng() % (UINT64_C(1) << 20);
    }
}

uint32_t random_count(std::mt19937_64 &rng, uint32_t n) {
    switch (rng() % 8) {
    case 0:
        return 0;
    case 1:
        return 1;
    case 2:
        return n;
    case 3:
        return n + 1 + (uint32_t)(rng() % 4);
    case 4:
        return 0xFFFFFFFFu;
    default:
        return (uint32_t)(rng() % (n + 1));
    }
}

// A golden state holding the entries of `e` (tokens 0..n_tokens-1, heads 0..n_heads-1), written
// in spk_prune_save's format and read back with spk_prune_load: the public API has no call that
// sets an alive bit, and this gives any alive set, all-dead ones included.
spk_prune_state *golden_state(const PruneEntries &e, uint32_t n_tokens, uint32_t n_heads) {
    const char *dir = std::getenv("TMPDIR");
    std::string tmpl = std::string(dir && *dir ? dir : "/tmp") + "/spk-prune-XXXXXX";
    std::vector<char> path(tmpl.begin(), tmpl.end());
    path.push_back('\0');
    int fd = mkstemp(path.data());
    if (fd < 0) return nullptr;
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlink(path.data());
        return nullptr;
    }
    const uint32_t hdr[3] = {n_heads, n_tokens ? n_tokens : 1u, n_tokens};
    bool ok = std::fwrite("SPKPRUN1", 8, 1, f) == 1 && std::fwrite(hdr, 4, 3, f) == 3;
    for (uint32_t h = 0; ok && h < n_heads; h++)
        ok = std::fwrite(&e.head_alive[h], 1, 1, f) == 1 &&
             std::fwrite(&e.head_imp[h], 8, 1, f) == 1;
    for (uint32_t j = 0; ok && j < n_tokens; j++)
        ok = std::fwrite(&e.tok_alive[j], 1, 1, f) == 1 && std::fwrite(&e.tok_imp[j], 8, 1, f) == 1;
    ok = std::fclose(f) == 0 && ok;
    spk_prune_state *st = nullptr;
    if (ok && spk_prune_load(path.data(), &st) != SPKSIM_OK) st = nullptr;
    unlink(path.data());
    return st;
}

uint64_t sweep(uint64_t m) {
    return m ? m + 2 : 1;
}

} // namespace

void prune_random_case(std::mt19937_64 &rng, PruneEntries &e, PruneCmd &c) {
    e.tok_alive.assign(kPruneNtok, 0);
    e.tok_imp.assign(kPruneNtok, 0);
    e.head_alive.assign(kPruneNhead, 0);
    e.head_imp.assign(kPruneNhead, 0);
    std::vector<uint64_t> pool = {0, kPruneImpMax};
    for (int i = 0; i < 3; i++) pool.push_back(rng() % 5 == 0 ? rng() & kPruneImpMax : rng() % 100);
    static const unsigned kAlive[] = {0, 5, 50, 90, 100, 100}; // percent alive
    const unsigned tok_pct = kAlive[rng() % 6], head_pct = kAlive[rng() % 6];
    const int tok_style = (int)(rng() % 5), head_style = (int)(rng() % 5);
    for (uint32_t j = 0; j < kPruneNtok; j++) {
        e.tok_alive[j] = rng() % 100 < tok_pct;
        e.tok_imp[j] = random_importance(rng, tok_style, pool);
    }
    for (uint32_t h = 0; h < kPruneNhead; h++) {
        e.head_alive[h] = rng() % 100 < head_pct;
        e.head_imp[h] = random_importance(rng, head_style, pool);
    }
    switch (rng() % 6) {
    case 0:
        c.n_tokens = (uint32_t)(rng() % 3); // 0, 1, 2
        break;
    case 1:
        c.n_tokens = kPruneNtok;
        break;
    default:
        c.n_tokens = (uint32_t)(rng() % (kPruneNtok + 1));
    }
    c.n_heads = rng() % 4 == 0 ? kPruneNhead : 1 + (uint32_t)(rng() % kPruneNhead);
    // half of the counts below n (a prune happens), the rest from the edge cases
    c.kt = rng() % 2 ? 1 + (uint32_t)(rng() % (c.n_tokens + 1)) : random_count(rng, c.n_tokens);
    c.sinks = rng() % 3 == 0 ? 0 : random_count(rng, rng() % 2 ? c.n_tokens : 8);
    c.recent = rng() % 3 == 0 ? 0 : random_count(rng, rng() % 2 ? c.n_tokens : 32);
    c.kh = rng() % 2 ? 1 + (uint32_t)(rng() % c.n_heads) : random_count(rng, c.n_heads);
    std::vector<uint32_t> divisors;
    for (uint32_t g = 1; g <= c.n_heads; g++)
        if (c.n_heads % g == 0) divisors.push_back(g);
    switch (rng() % 5) {
    case 0:
        c.head_group = 0;
        break;
    case 1:
        c.head_group = 1;
        break;
    case 2:
        c.head_group = c.n_heads;
        break;
    default:
        c.head_group = divisors[rng() % divisors.size()];
    }
    if (rng() % 40 == 0) c.head_group = 1 + (uint32_t)(rng() % (kPruneNhead + 2)); // may not divide
}

uint64_t prune_expected_cycles(const PruneEntries &e, const PruneCmd &c, uint32_t token_passes,
                               uint32_t head_passes) {
    const uint32_t g = c.head_group ? c.head_group : 1;
    if (c.n_tokens > kPruneNtok || c.n_heads > kPruneNhead || (c.n_heads && g > c.n_heads))
        return 3; // start, check, done
    if (c.n_heads % g) return 4 + sweep(c.n_heads);
    // heads: GRP sweep, ceil(k / g), then (if some alive group dies) search, emit and HWR
    uint32_t alive_h = 0, alive_g = 0;
    for (uint32_t h = 0; h < c.n_heads; h++) alive_h += e.head_alive[h];
    for (uint32_t gi = 0; gi < c.n_heads / g; gi++) {
        bool a = false;
        for (uint32_t h = gi * g; h < (gi + 1) * g; h++) a = a || e.head_alive[h];
        alive_g += a;
    }
    const uint32_t k_h = (c.kh == 0 || c.kh > alive_h) ? alive_h : c.kh;
    const uint32_t kg = (k_h + g - 1) / g, n_grp = c.n_heads / g;
    uint64_t cycles = 1 + 1 + sweep(c.n_heads) + 1 + (kg + 1) + 1;
    if (kg < alive_g)
        cycles += 1 + head_passes * (uint64_t)(n_grp + 3) + sweep(n_grp) + 1 + sweep(c.n_heads) + 1;
    // tokens: CNT sweep, then nothing, the kill emit, or search and emit
    uint32_t alive_t = 0, prot = 0;
    const uint32_t rfrom = c.recent < c.n_tokens ? c.n_tokens - c.recent : 0;
    for (uint32_t j = 0; j < c.n_tokens; j++) {
        alive_t += e.tok_alive[j];
        prot += e.tok_alive[j] && (j < c.sinks || j >= rfrom);
    }
    const uint32_t k_t = (c.kt == 0 || c.kt > alive_t) ? alive_t : c.kt;
    const uint64_t lines = (c.n_tokens + kPruneP - 1) / kPruneP;
    cycles += 1 + sweep(lines) + 1;
    if (k_t < alive_t && k_t <= prot)
        cycles += sweep(lines) + 1;
    else if (k_t < alive_t)
        cycles += 1 + token_passes * (lines + 3) + sweep(lines) + 1;
    return cycles + 1; // done
}

std::string prune_check(const PruneEntries &before, const PruneCmd &c, const PruneEntries &after,
                        const PruneResult &r) {
    std::ostringstream err;
    const uint64_t want_cycles = prune_expected_cycles(before, c, r.token_passes, r.head_passes);
    if (r.cycles != want_cycles) err << "cycles " << r.cycles << " want " << want_cycles << "; ";
    if (r.token_passes > 48 || r.head_passes > 48)
        err << "passes " << r.token_passes << "/" << r.head_passes << "; ";
    PruneEntries want = before;
    bool want_bad = c.n_tokens > kPruneNtok || c.n_heads > kPruneNhead;
    if (!want_bad && c.n_heads == 0) {
        // not representable in the golden state (it has >= 1 head): a token-only prune, with
        // one dead head standing in for none
        PruneEntries tmp = before;
        tmp.head_alive[0] = 0;
        spk_prune_state *st = golden_state(tmp, c.n_tokens, 1);
        if (!st) return "cannot build the golden state";
        spk_prune_window w = {c.sinks, c.recent, 0};
        if (spk_prune_keep_window(st, {c.kt, SPK_ONE_Q16}, SPK_KEEP_ALL, &w, nullptr, nullptr) !=
            SPKSIM_OK)
            err << "golden refused; ";
        for (uint32_t j = 0; j < c.n_tokens; j++) want.tok_alive[j] = spk_prune_token_alive(st, j);
        if (r.tokens_alive != spk_prune_alive_tokens(st) || r.heads_alive != 0)
            err << "alive counts " << r.tokens_alive << "/" << r.heads_alive << "; ";
        spk_prune_destroy(st);
    } else if (!want_bad) {
        spk_prune_state *st = golden_state(before, c.n_tokens, c.n_heads);
        if (!st) return "cannot build the golden state";
        spk_prune_window w = {c.sinks, c.recent, c.head_group};
        spksim_status s = spk_prune_keep_window(st, {c.kt, SPK_ONE_Q16}, {c.kh, SPK_ONE_Q16}, &w,
                                                nullptr, nullptr);
        want_bad = s == SPKSIM_E_ARG;
        if (s != SPKSIM_OK && !want_bad) err << "golden status " << (int)s << "; ";
        for (uint32_t j = 0; j < c.n_tokens; j++) {
            want.tok_alive[j] = spk_prune_token_alive(st, j);
            want.tok_imp[j] = spk_prune_token_importance(st, j);
        }
        for (uint32_t h = 0; h < c.n_heads; h++) {
            want.head_alive[h] = spk_prune_head_alive(st, h);
            want.head_imp[h] = spk_prune_head_importance(st, h);
        }
        if (!want_bad && (r.tokens_alive != spk_prune_alive_tokens(st) ||
                          r.heads_alive != spk_prune_alive_heads(st)))
            err << "alive counts " << r.tokens_alive << "/" << r.heads_alive << " want "
                << spk_prune_alive_tokens(st) << "/" << spk_prune_alive_heads(st) << "; ";
        spk_prune_destroy(st);
    }
    if (r.bad_cmd != want_bad) err << "bad_cmd " << r.bad_cmd << " want " << want_bad << "; ";
    for (uint32_t j = 0; j < kPruneNtok; j++) {
        if (after.tok_alive[j] != want.tok_alive[j] || after.tok_imp[j] != want.tok_imp[j]) {
            err << "token " << j << ": alive " << (int)after.tok_alive[j] << " imp "
                << after.tok_imp[j] << ", want " << (int)want.tok_alive[j] << " " << want.tok_imp[j]
                << "; ";
            break;
        }
    }
    for (uint32_t h = 0; h < kPruneNhead; h++) {
        if (after.head_alive[h] != want.head_alive[h] || after.head_imp[h] != want.head_imp[h]) {
            err << "head " << h << ": alive " << (int)after.head_alive[h] << " imp "
                << after.head_imp[h] << ", want " << (int)want.head_alive[h] << " "
                << want.head_imp[h] << "; ";
            break;
        }
    }
    return err.str();
}
