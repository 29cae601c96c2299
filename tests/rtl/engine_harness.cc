// Harness of the engine tops against the golden head request.
#include "engine_harness.h"

#include <algorithm>
#include <sstream>

#include "../../rtl/sim/axi_mem.h"
#include "Vengine_compact.h"
#include "Vengine_ovl.h"
#include "spksim/layer.h"

uint32_t engine_plane_row_bytes(uint32_t d, uint32_t bits) {
    return spk_plane_row_bytes(d, bits);
}

// Pack one plane of `codes` (n_tokens x d) at `base`, row by row with the golden model's
// spk_plane_pack_row (spec: "MSB and LSB planes").
void engine_pack_plane(std::vector<uint8_t> &mem, uint32_t base, const std::vector<int16_t> &codes,
                       uint32_t n_tokens, uint32_t d, spk_quant_profile prof, bool lsb_plane) {
    const uint32_t rb = spk_plane_row_bytes(d, lsb_plane ? prof.lsb_bits : prof.msb_bits);
    if (rb == 0) return;
    for (uint32_t t = 0; t < n_tokens; t++)
        spk_plane_pack_row(&codes[(size_t)t * d], d, prof, lsb_plane ? 1 : 0,
                           &mem[base + (size_t)t * rb]);
}

void engine_put_words(std::vector<uint8_t> &mem, uint32_t base, const std::vector<spk_scale> &w) {
    for (size_t t = 0; t < w.size(); t++)
        for (int b = 0; b < 4; b++) mem[base + 4 * t + b] = (uint8_t)(w[t] >> (8 * b));
}

namespace {

void put_codes(std::vector<uint8_t> &mem, uint32_t base, const std::vector<int16_t> &q) {
    for (size_t i = 0; i < q.size(); i++) {
        const uint16_t u = (uint16_t)q[i];
        mem[base + 2 * i] = (uint8_t)u;
        mem[base + 2 * i + 1] = (uint8_t)(u >> 8);
    }
}

// Where one request's data lives in the memory model.
struct CaseLayout {
    uint32_t q, k_msb, k_lsb, v_msb, v_lsb, k_sc, v_sc, keys;
};

bool case_arrays_ok(const EngineCase &c) {
    const uint32_t d = c.cfg.d;
    return c.q.size() >= d && c.k.size() >= (size_t)c.n_tokens * d &&
           c.v.size() >= (size_t)c.n_tokens * d && c.k_scales.size() >= c.n_tokens &&
           c.v_scales.size() >= c.n_tokens && (c.keys.empty() || c.keys.size() == c.n);
}

} // namespace

template <class Model> EngineOutcome EngineHarness<Model>::run(const EngineCase &c) {
    return run_burst({c}).front();
}

template <class Model>
std::vector<EngineOutcome> EngineHarness<Model>::run_burst(const std::vector<EngineCase> &cases,
                                                           bool clear_first) {
    const size_t count = cases.size();
    std::vector<EngineOutcome> outs(count);
    for (const EngineCase &c : cases)
        if (!case_arrays_ok(c)) {
            for (EngineOutcome &o : outs) {
                o.protocol_ok = false;
                o.protocol_error = "harness: a case's arrays are smaller than d and n_tokens say";
            }
            return outs;
        }
    // Layout: per request seven regions one after the other; query codes 2-byte aligned, planes
    // at any byte alignment, scale words 4-byte aligned; random bytes everywhere else.
    uint32_t at = 32 + (uint32_t)(rng_() % 64);
    auto place = [&](uint32_t bytes, uint32_t align) {
        at = (at + align - 1) / align * align;
        uint32_t base = at;
        at += bytes + (uint32_t)(rng_() % 96);
        return base;
    };
    std::vector<CaseLayout> lay(count);
    // [span_lo, span_hi) holds request r's regions; 32 bytes between requests (a multiple of
    // 32, so every alignment stays as drawn) keep any 32-byte block within one request's span,
    // and a read is counted for the request whose span it touches (an engine that overlaps
    // requests reads for the next one before this one's done).
    std::vector<uint32_t> span_lo(count), span_hi(count);
    for (size_t r = 0; r < count; r++) {
        const EngineCase &c = cases[r];
        if (EngineModel<Model>::kOverlapsRequests) at += 32; // (the others' layouts as they were)
        span_lo[r] = at;
        const uint32_t d = c.cfg.d, msb = c.cfg.kv.msb_bits, lsb = c.cfg.kv.lsb_bits;
        lay[r].q = place(2 * d, 2);
        lay[r].k_msb = place(c.n_tokens * engine_plane_row_bytes(d, msb), 1);
        lay[r].k_lsb = place(c.n_tokens * engine_plane_row_bytes(d, lsb), 1);
        lay[r].v_msb = place(c.n_tokens * engine_plane_row_bytes(d, msb), 1);
        lay[r].v_lsb = place(c.n_tokens * engine_plane_row_bytes(d, lsb), 1);
        lay[r].k_sc = place(4 * c.n_tokens, 4);
        lay[r].v_sc = place(4 * c.n_tokens, 4);
        lay[r].keys = c.keys.empty() ? 0 : place(2 * c.n, 2); // uint16 tokens, 2-byte aligned
        span_hi[r] = at;
    }
    auto reader_of = [&](uint32_t block) -> size_t { // count if the block is in no span
        for (size_t r = 0; r < count; r++)
            if (block + 32 > span_lo[r] && block < span_hi[r]) return r;
        return count;
    };
    const size_t mem_bytes = ((size_t)at + 63) / 32 * 32;
    std::vector<uint8_t> mem(mem_bytes);
    for (auto &x : mem) x = (uint8_t)rng_();
    for (size_t r = 0; r < count; r++) {
        const EngineCase &c = cases[r];
        const uint32_t d = c.cfg.d;
        put_codes(mem, lay[r].q, std::vector<int16_t>(c.q.begin(), c.q.begin() + d));
        engine_pack_plane(mem, lay[r].k_msb, c.k, c.n_tokens, d, c.cfg.kv, false);
        engine_pack_plane(mem, lay[r].v_msb, c.v, c.n_tokens, d, c.cfg.kv, false);
        if (c.cfg.kv.lsb_bits) {
            engine_pack_plane(mem, lay[r].k_lsb, c.k, c.n_tokens, d, c.cfg.kv, true);
            engine_pack_plane(mem, lay[r].v_lsb, c.v, c.n_tokens, d, c.cfg.kv, true);
        }
        engine_put_words(mem, lay[r].k_sc, c.k_scales);
        engine_put_words(mem, lay[r].v_sc, c.v_scales);
        for (size_t j = 0; j < c.keys.size(); j++) {
            mem[lay[r].keys + 2 * j] = (uint8_t)c.keys[j];
            mem[lay[r].keys + 2 * j + 1] = (uint8_t)(c.keys[j] >> 8);
        }
    }

    std::vector<uint32_t> tags(count);
    std::vector<std::vector<bool>> got_out(count);
    uint64_t limit = limits_.base;
    for (size_t r = 0; r < count; r++) {
        tags[r] = next_tag_++ & 0xFFu;
        outs[r].out.assign(cases[r].cfg.d, 0x7EADBEEF);
        got_out[r].assign(cases[r].cfg.d, false);
        outs[r].probs.assign(cases[r].n, 0);
        limit += limits_.per_request +
                 (uint64_t)cases[r].n * (limits_.per_key + limits_.per_key_dim * cases[r].cfg.d +
                                         limits_.per_key_latency * mem_.latency);
    }

    Model &io = sim_.io();
    // The AXI4 read slave (rtl/sim/axi_mem.h) over `mem`, its stalls drawn from rng_; the one
    // injected error of mem_.error_at is used up across runs.
    spkrtl::AxiMemConfig axi_cfg;
    axi_cfg.latency = mem_.latency;
    axi_cfg.random_stalls = mem_.random_stalls;
    axi_cfg.error_at = mem_.error_at;
    spkrtl::AxiMem axi(
        axi_cfg,
        [&mem, mem_bytes](uint64_t addr, void *dst, uint32_t bytes) {
            uint8_t *out = static_cast<uint8_t *>(dst);
            for (uint32_t b = 0; b < bytes; b++) out[b] = mem[(addr + b) % mem_bytes];
            return 0;
        },
        &rng_);
    size_t next = 0, cur = 0; // next descriptor to queue, request producing outputs
    std::vector<uint64_t> accepted_at(count, 0);
    uint64_t last_done = 0;
    const uint64_t t0 = sim_.cycles();
    auto fail = [&](size_t r, const std::string &why) {
        if (r < count && outs[r].protocol_ok) {
            outs[r].protocol_ok = false;
            outs[r].protocol_error = why;
        }
    };
    while (cur < count && sim_.cycles() - t0 < limit) {
        // streams of the running request, each beat with its tag
        EngineOutcome &o = outs[cur];
        const EngineCase &c = cases[cur];
        if ((io.prob_valid || io.vkey_valid || io.out_valid || io.done) && io.run_tag != tags[cur])
            fail(cur, "run_tag " + std::to_string(io.run_tag) +
                          " on a beat of the request tagged " + std::to_string(tags[cur]));
        if (io.prob_valid && io.prob_index < c.n) o.probs[io.prob_index] = (uint16_t)io.prob_value;
        if (io.vkey_valid) o.v_keys.push_back(io.vkey_token);
        if (io.out_valid) {
            if (io.out_index < c.cfg.d && !got_out[cur][io.out_index]) {
                o.out[io.out_index] = (int32_t)io.out_value;
                got_out[cur][io.out_index] = true;
            } else {
                fail(cur, "output index out of range or repeated");
            }
        }
        if (io.done) {
            o.done = true;
            o.tag = io.run_tag;
            o.bad_cmd = io.bad_cmd;
            o.bus_error = io.bus_error;
            o.out_exp = (int32_t)rtl_sext(io.out_exp, 10);
            o.importance = io.head_importance;
            o.requant = io.requant;
            o.keys_fetched = io.keys_fetched;
            o.values_fetched = io.values_fetched;
            o.cycles = sim_.cycles() - std::max(accepted_at[cur], last_done);
            last_done = sim_.cycles();
            // (an overlapping engine may have the next request's reads out already)
            const bool next_running = EngineModel<Model>::kOverlapsRequests && next > cur + 1;
            if (axi.outstanding() && !next_running) fail(cur, "reads still outstanding at done");
            cur++;
            if (cur == count) break;
        }
        // descriptors, back to back
        if (next < count) {
            const EngineCase &e = cases[next];
            io.d = e.cfg.d;
            io.msb_bits = e.cfg.kv.msb_bits;
            io.lsb_bits = e.cfg.kv.lsb_bits;
            io.threshold = e.cfg.requant_threshold;
            io.v_keep = e.keep;
            io.n_keys = e.n;
            io.key_base = e.key_base;
            io.key_list = !e.keys.empty();
            io.keys_base = lay[next].keys;
            io.q_scale = e.q_logit & 0xFFFFFFu;
            io.q_base = lay[next].q;
            io.k_msb_base = lay[next].k_msb;
            io.k_lsb_base = lay[next].k_lsb;
            io.v_msb_base = lay[next].v_msb;
            io.v_lsb_base = lay[next].v_lsb;
            io.k_scale_base = lay[next].k_sc;
            io.v_scale_base = lay[next].v_sc;
            io.tag = tags[next];
            io.head = e.head;
        }
        io.req_valid = next < count;
        const bool desc_taken = io.req_valid && io.req_ready;
        // memory: the AR request of this cycle, checked once it is taken
        const bool arvalid = io.arvalid;
        const uint32_t ar_addr = io.araddr;
        const bool ar_bad = ar_addr % 32 || io.arlen != 0 || io.arsize != 5 || io.arburst != 1 ||
                            ar_addr + 32 > mem_bytes;
        if (desc_taken) accepted_at[next] = sim_.cycles();
        io.imp_clear = clear_first && sim_.cycles() == t0;
        io.imp_rd_en = probe_token >= 0;
        io.imp_rd_index = probe_token >= 0 ? (uint32_t)probe_token : 0;
        const spkrtl::AxiSlave s = spkrtl::axi_mem_cycle(axi, sim_);
        const bool ar_taken = arvalid && s.arready;
        if (ar_taken && ar_bad) fail(cur, "bad AR request at address " + std::to_string(ar_addr));
        if (probe_token >= 0) {
            if (io.imp_rd_valid)
                probe_values.push_back(io.imp_rd_value);
            else
                probe_dropped++;
        }
        if (desc_taken) next++;
        if (ar_taken) {
            const size_t r = EngineModel<Model>::kOverlapsRequests ? reader_of(ar_addr) : cur;
            if (r < count)
                outs[r].reads++;
            else
                fail(cur, "AR at address " + std::to_string(ar_addr) + " outside every request");
        }
    }
    if (axi.config().error_at < 0) mem_.error_at = -1; // one error only
    io.req_valid = 0;
    io.rvalid = 0;
    io.arready = 0;
    io.imp_rd_en = 0;
    io.imp_clear = 0;
    for (size_t r = 0; r < count; r++)
        if (outs[r].done && outs[r].tag != tags[r])
            fail(r, "done with tag " + std::to_string(outs[r].tag) + ", want " +
                        std::to_string(tags[r]));
    sim_.tick(); // back to idle
    return outs;
}

template <class Model> std::string EngineHarness<Model>::clear_importance() {
    Model &io = sim_.io();
    io.imp_clear = 1;
    sim_.tick();
    io.imp_clear = 0;
    for (uint32_t i = 0; io.imp_busy; i++) {
        if (i > 4 * (kEngineNtok + kEngineNhead)) return "imp_busy never dropped after imp_clear";
        sim_.tick();
    }
    return "";
}

template <class Model>
std::string EngineHarness<Model>::read_importance(std::vector<uint64_t> &entries) {
    Model &io = sim_.io();
    if (!io.idle) return "importance read while the engine is not idle";
    entries.assign(kEngineNtok + kEngineNhead, 0);
    for (uint32_t i = 0; i < kEngineNtok + kEngineNhead; i++) {
        io.imp_rd_en = 1;
        io.imp_rd_index = i;
        sim_.tick();
        if (!io.imp_rd_valid) {
            io.imp_rd_en = 0;
            return "imp_rd_valid low for a read while idle (entry " + std::to_string(i) + ")";
        }
        entries[i] = io.imp_rd_value;
    }
    io.imp_rd_en = 0;
    sim_.tick();
    return "";
}

std::string engine_random_case(std::mt19937_64 &rng, uint32_t max_n, EngineCase &c, int64_t n,
                               int64_t key_base, bool list) {
    c = EngineCase{};
    static const spk_quant_profile kProfiles[] = {{4, 4}, {6, 4}, {8, 4}, {12, 0}};
    spk_head_config &cfg = c.cfg;
    cfg.d = 1 + (uint32_t)(rng() % kEngineDmax);
    if (rng() % 5 == 0) {
        cfg.kv.msb_bits = (uint8_t)(2 + rng() % 11);
        cfg.kv.lsb_bits = (uint8_t)(rng() % (13 - cfg.kv.msb_bits));
    } else {
        cfg.kv = kProfiles[rng() % 4];
    }
    const uint32_t tsel = (uint32_t)(rng() % 4);
    cfg.requant_threshold = tsel == 0 ? 0 : tsel == 1 ? 65536 : (uint32_t)(rng() % 65537);
    cfg.v_keep_q16 = rng() % 6 == 0 ? 65536 : 1 + (uint32_t)(rng() % 65536);
    cfg.topk_parallelism = kEngineP;
    c.n = n >= 0 ? (uint32_t)n : 1 + (uint32_t)(rng() % max_n);
    c.key_base = key_base >= 0 ? (uint32_t)key_base : (uint32_t)(rng() % 40);
    c.n_tokens = c.key_base + c.n + (uint32_t)(rng() % 5);
    if (list) {
        // n of n_tokens tokens (gaps of random length), sorted: the ALIVE tokens after pruning
        c.key_base = 0;
        c.n_tokens = std::min(kEngineNtok, c.n + 1 + (uint32_t)(rng() % (c.n + 40)));
        std::vector<uint32_t> all(c.n_tokens);
        for (uint32_t t = 0; t < c.n_tokens; t++) all[t] = t;
        std::shuffle(all.begin(), all.end(), rng);
        c.keys.assign(all.begin(), all.begin() + c.n);
        std::sort(c.keys.begin(), c.keys.end());
    }
    const uint32_t d = cfg.d;
    const int32_t cmax = (1 << (cfg.kv.msb_bits + cfg.kv.lsb_bits - 1)) - 1;
    c.q.resize(d);
    c.k.resize((size_t)c.n_tokens * d);
    c.v.resize((size_t)c.n_tokens * d);
    for (auto &x : c.q) x = (int16_t)((int32_t)(rng() % 4095) - 2047);
    for (auto &x : c.k) x = (int16_t)((int32_t)(rng() % (2 * cmax + 1)) - cmax);
    for (auto &x : c.v) x = (int16_t)((int32_t)(rng() % (2 * cmax + 1)) - cmax);
    auto word = [&]() {
        if (rng() % 12 == 0) return spk_scale_make(0, 0);
        int32_t e = (rng() % 6 == 0) ? (int32_t)(rng() % 256) - 128 : -(int32_t)(rng() % 30) - 8;
        return spk_scale_make(32768 + (uint32_t)(rng() % 32768), e);
    };
    c.k_scales.resize(c.n_tokens);
    c.v_scales.resize(c.n_tokens);
    for (uint32_t t = 0; t < c.n_tokens; t++) {
        c.k_scales[t] = word();
        c.v_scales[t] = word();
    }
    spk_logit_scale(spk_scale_make(32768 + (uint32_t)(rng() % 32768), -(int32_t)(rng() % 12)), d,
                    &c.q_logit);
    c.head = (uint32_t)(rng() % kEngineNhead);
    return engine_golden(c);
}

std::string engine_golden(EngineCase &c) {
    const spk_head_config &cfg = c.cfg;
    const uint32_t d = cfg.d;
    bool keys_ok = c.keys.empty() || c.keys.size() == c.n;
    for (uint32_t j = 0; j < c.keys.size(); j++)
        keys_ok = keys_ok && c.keys[j] < c.n_tokens && (j == 0 || c.keys[j] > c.keys[j - 1]);
    if (!keys_ok) return "the case's key list is not n strictly increasing tokens below n_tokens";
    if ((c.keys.empty() && (uint64_t)c.key_base + c.n > c.n_tokens) || c.q.size() < d ||
        c.k.size() < (size_t)c.n_tokens * d || c.v.size() < (size_t)c.n_tokens * d ||
        c.k_scales.size() < c.n_tokens || c.v_scales.size() < c.n_tokens)
        return "the case's keys or arrays exceed its n_tokens";
    c.keep = spk_keep_count(c.n, cfg.v_keep_q16);
    std::vector<uint32_t> keys(c.n);
    for (uint32_t j = 0; j < c.n; j++) keys[j] = engine_case_token(c, j);
    spk_head_request req{c.q.data(),        c.q_logit,  keys.data(),       c.n, c.k.data(),
                         c.k_scales.data(), c.v.data(), c.v_scales.data(), 0};
    spk_workspace *ws = spk_workspace_create(c.n ? c.n : 1);
    if (!ws) return "out of memory";
    c.want_out.assign(d, 0);
    c.want_probs.assign(c.n, 0);
    c.want_v_keys.assign(c.n, 0);
    c.want_v_keys.push_back(0); // a valid pointer when n = 0
    spk_head_result res{};
    res.out = c.want_out.data();
    res.probs = c.want_probs.data();
    res.v_keys = c.want_v_keys.data();
    spksim_status st = spk_head_run(&cfg, &req, ws, &res);
    spk_workspace_destroy(ws);
    if (st != SPKSIM_OK) return std::string("spk_head_run: ") + spksim_status_str(st);
    c.want_v_keys.resize(res.ev.values_fetched);
    c.want_exp = res.out_exp;
    c.want_importance = res.head_importance;
    c.want_requant = res.ev.requant != 0;
    c.want_ev = res.ev;
    return "";
}

std::string engine_check(const EngineCase &c, const EngineOutcome &got) {
    std::ostringstream err;
    if (!got.done) return "engine never signalled done (timeout)";
    if (got.bad_cmd) return "a valid request was refused";
    if (got.bus_error) return "bus error reported on OKAY responses";
    if (!got.protocol_ok) return got.protocol_error;
    if (got.requant != c.want_requant)
        err << "requant " << got.requant << " want " << c.want_requant << "; ";
    for (uint32_t j = 0; j < c.n; j++)
        if (got.probs[j] != c.want_probs[j]) {
            err << "p[" << j << "] = " << got.probs[j] << " want " << c.want_probs[j] << "; ";
            break;
        }
    if (got.v_keys != c.want_v_keys)
        err << got.v_keys.size() << " V keys, want " << c.want_v_keys.size()
            << " (or different tokens); ";
    if (got.values_fetched != c.want_v_keys.size())
        err << "values_fetched " << got.values_fetched << " want " << c.want_v_keys.size() << "; ";
    if (got.keys_fetched != c.n)
        err << "keys_fetched " << got.keys_fetched << " want " << c.n << "; ";
    for (size_t i = 0; i < c.want_out.size(); i++)
        if (got.out[i] != c.want_out[i]) {
            err << "o[" << i << "] = " << got.out[i] << " want " << c.want_out[i] << "; ";
            break;
        }
    if (got.out_exp != c.want_exp)
        err << "out_exp " << got.out_exp << " want " << c.want_exp << "; ";
    if (got.importance != c.want_importance)
        err << "head importance " << got.importance << " want " << c.want_importance << "; ";
    return err.str();
}

uint32_t engine_case_token(const EngineCase &c, uint32_t j) {
    return c.keys.empty() ? c.key_base + j : c.keys[j];
}

void engine_add_importance(const EngineCase &c, std::vector<uint64_t> &acc, uint32_t ntok) {
    for (uint32_t j = 0; j < c.n && j < c.want_probs.size(); j++) {
        const uint32_t token = engine_case_token(c, j);
        if (token >= acc.size()) acc.resize(token + 1, 0);
        acc[token] = spk_importance_add(acc[token], c.want_probs[j]);
    }
    const uint32_t entry = ntok + c.head;
    if (entry >= acc.size()) acc.resize(entry + 1, 0);
    acc[entry] = spk_importance_add(acc[entry], c.want_importance);
}

std::string engine_layer_cases(std::mt19937_64 &rng, uint32_t heads, uint32_t queries,
                               std::vector<EngineCase> &cases, uint32_t max_tokens) {
    cases.clear();
    if (max_tokens > kEngineNmax) return "max_tokens above NMAX";
    if (queries == 0 || queries > max_tokens) return "queries out of range";
    const uint32_t first = (uint32_t)(rng() % 200);
    const uint32_t tokens = queries + (uint32_t)(rng() % (max_tokens - queries + 1));
    EngineCase head;
    for (uint32_t h = 0; h < heads; h++) {
        // one K/V head per head; the layer's configuration is head 0's
        std::string err = engine_random_case(rng, kEngineNmax, head, tokens, first);
        if (!err.empty()) return err;
        if (h > 0) {
            const uint32_t d = cases.front().cfg.d;
            head.cfg = cases.front().cfg;
            head.q.resize(d);
            const int32_t cmax = (1 << (head.cfg.kv.msb_bits + head.cfg.kv.lsb_bits - 1)) - 1;
            head.k.resize((size_t)head.n_tokens * d);
            head.v.resize((size_t)head.n_tokens * d);
            for (auto &x : head.k) x = (int16_t)((int32_t)(rng() % (2 * cmax + 1)) - cmax);
            for (auto &x : head.v) x = (int16_t)((int32_t)(rng() % (2 * cmax + 1)) - cmax);
        }
        for (uint32_t i = 0; i < queries; i++) {
            EngineCase c = head;
            for (auto &x : c.q) x = (int16_t)((int32_t)(rng() % 4095) - 2047);
            spk_logit_scale(
                spk_scale_make(32768 + (uint32_t)(rng() % 32768), -(int32_t)(rng() % 12)), c.cfg.d,
                &c.q_logit);
            c.n = tokens - queries + i + 1; // causal: query i sees the tokens up to its own
            c.head = h % kEngineNhead;
            err = engine_golden(c);
            if (!err.empty()) return err;
            cases.push_back(std::move(c));
        }
    }
    return "";
}

template class EngineHarness<Vengine>;
template class EngineHarness<Vengine_compact>;
template class EngineHarness<Vengine_ovl>;

std::string engine_compare_importance(const std::vector<uint64_t> &want,
                                      const std::vector<uint64_t> &got) {
    for (size_t t = 0; t < got.size(); t++) {
        const uint64_t w = t < want.size() ? want[t] : 0;
        if (got[t] != w)
            return "token " + std::to_string(t) + ": " + std::to_string(got[t]) + " want " +
                   std::to_string(w);
    }
    return "";
}
