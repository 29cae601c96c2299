// Harness of the engine top against the golden head request.
#include "engine_harness.h"

#include <deque>
#include <sstream>

namespace {

uint32_t plane_row_bytes(uint32_t d, uint32_t bits) {
    return (d * bits + 7) / 8;
}

// Pack one plane of `codes` (n_tokens x d) at `base`: field i of a row in bits [i*b, (i+1)*b),
// little-endian, byte 0 bit 0 first (spec: "MSB and LSB planes").
void pack_plane(std::vector<uint8_t> &mem, uint32_t base, const std::vector<int16_t> &codes,
                uint32_t n_tokens, uint32_t d, spk_quant_profile prof, bool lsb_plane) {
    const uint32_t bits = lsb_plane ? prof.lsb_bits : prof.msb_bits;
    const uint32_t rb = plane_row_bytes(d, bits);
    for (uint32_t t = 0; t < n_tokens; t++) {
        uint8_t *row = &mem[base + (size_t)t * rb];
        for (uint32_t i = 0; i < rb; i++) row[i] = 0;
        for (uint32_t i = 0; i < d; i++) {
            int32_t hi = 0;
            uint32_t lo = 0;
            spk_code_split(codes[(size_t)t * d + i], prof, &hi, &lo);
            const uint32_t f = (lsb_plane ? lo : (uint32_t)hi) & ((1u << bits) - 1u);
            for (uint32_t b = 0; b < bits; b++) {
                const uint32_t at = i * bits + b;
                if ((f >> b) & 1u) row[at / 8] |= (uint8_t)(1u << (at % 8));
            }
        }
    }
}

void put_words(std::vector<uint8_t> &mem, uint32_t base, const std::vector<spk_scale> &w) {
    for (size_t t = 0; t < w.size(); t++)
        for (int b = 0; b < 4; b++) mem[base + 4 * t + b] = (uint8_t)(w[t] >> (8 * b));
}

} // namespace

EngineOutcome EngineHarness::run(const EngineCase &c) {
    const uint32_t d = c.cfg.d, msb = c.cfg.kv.msb_bits, lsb = c.cfg.kv.lsb_bits;
    if (c.q.size() < d || c.k.size() < (size_t)c.n_tokens * d ||
        c.v.size() < (size_t)c.n_tokens * d || c.k_scales.size() < c.n_tokens ||
        c.v_scales.size() < c.n_tokens) {
        EngineOutcome bad;
        bad.protocol_ok = false;
        bad.protocol_error = "harness: the case's arrays are smaller than d and n_tokens say";
        return bad;
    }
    // Layout: six regions one after the other; planes at any byte alignment, scale words
    // 4-byte aligned; random bytes everywhere else.
    uint32_t at = 32 + (uint32_t)(rng_() % 64);
    auto place = [&](uint32_t bytes, uint32_t align) {
        at = (at + align - 1) / align * align;
        uint32_t base = at;
        at += bytes + (uint32_t)(rng_() % 96);
        return base;
    };
    const uint32_t k_msb = place(c.n_tokens * plane_row_bytes(d, msb), 1);
    const uint32_t k_lsb = place(c.n_tokens * plane_row_bytes(d, lsb), 1);
    const uint32_t v_msb = place(c.n_tokens * plane_row_bytes(d, msb), 1);
    const uint32_t v_lsb = place(c.n_tokens * plane_row_bytes(d, lsb), 1);
    const uint32_t k_sc = place(4 * c.n_tokens, 4);
    const uint32_t v_sc = place(4 * c.n_tokens, 4);
    const size_t mem_bytes = ((size_t)at + 63) / 32 * 32;
    std::vector<uint8_t> mem(mem_bytes);
    for (auto &x : mem) x = (uint8_t)rng_();
    pack_plane(mem, k_msb, c.k, c.n_tokens, d, c.cfg.kv, false);
    pack_plane(mem, v_msb, c.v, c.n_tokens, d, c.cfg.kv, false);
    if (lsb) {
        pack_plane(mem, k_lsb, c.k, c.n_tokens, d, c.cfg.kv, true);
        pack_plane(mem, v_lsb, c.v, c.n_tokens, d, c.cfg.kv, true);
    }
    put_words(mem, k_sc, c.k_scales);
    put_words(mem, v_sc, c.v_scales);

    Vengine &io = sim_.io();
    // Query codes, M per beat, while idle.
    for (uint32_t beat = 0; beat < kEngineDmax / kEngineLanes; beat++) {
        uint32_t words[3] = {0, 0, 0};
        for (uint32_t l = 0; l < kEngineLanes; l++) {
            const uint32_t i = beat * kEngineLanes + l;
            const int32_t code = i < d ? c.q[i] : 0x3C3; // junk past d
            rtl_set_bits(words, l * 12, 12, (uint64_t)(uint32_t)code);
        }
        io.q_we = 1;
        io.q_beat = beat;
        rtl_assign(io.q_codes, words);
        sim_.tick();
    }
    io.q_we = 0;

    io.d = d;
    io.msb_bits = msb;
    io.lsb_bits = lsb;
    io.threshold = c.cfg.requant_threshold;
    io.v_keep = c.keep;
    io.n_keys = c.n;
    io.key_base = c.key_base;
    io.q_scale = c.q_logit & 0xFFFFFFu;
    io.k_msb_base = k_msb;
    io.k_lsb_base = k_lsb;
    io.v_msb_base = v_msb;
    io.v_lsb_base = v_lsb;
    io.k_scale_base = k_sc;
    io.v_scale_base = v_sc;
    io.req_valid = 1;
    EngineOutcome out;
    out.out.assign(d, 0x7EADBEEF);
    std::vector<bool> got_out(d, false);
    out.probs.assign(c.n, 0);
    const uint64_t t0 = sim_.cycles();
    sim_.tick();
    io.req_valid = 0;

    struct Pending {
        uint32_t addr;
        uint64_t ready_at;
    };
    std::deque<Pending> pending;
    uint64_t reads_answered = 0;
    const uint64_t limit = 20000 + (uint64_t)c.n * (300 + 8 * mem_.latency);
    while (!io.done && sim_.cycles() - t0 < limit) {
        if (io.prob_valid && io.prob_index < c.n)
            out.probs[io.prob_index] = (uint16_t)io.prob_value;
        if (io.vkey_valid) out.v_keys.push_back(io.vkey_token);
        if (io.out_valid) {
            if (io.out_index < d && !got_out[io.out_index]) {
                out.out[io.out_index] = (int32_t)io.out_value;
                got_out[io.out_index] = true;
            } else {
                out.protocol_ok = false;
                out.protocol_error = "output index out of range or repeated";
            }
        }
        const bool ar_ready = !mem_.random_stalls || rng_() % 3 != 0;
        io.arready = ar_ready;
        if (io.arvalid && ar_ready &&
            (io.araddr % 32 || io.arlen != 0 || io.arsize != 5 || io.arburst != 1 ||
             io.araddr + 32 > mem_bytes)) {
            out.protocol_ok = false;
            out.protocol_error = "bad AR request at address " + std::to_string(io.araddr);
        }
        const bool r_now = !pending.empty() && pending.front().ready_at <= sim_.cycles() &&
                           (!mem_.random_stalls || rng_() % 4 != 0);
        io.rvalid = r_now;
        io.rlast = r_now;
        io.rresp = r_now && (int64_t)reads_answered == mem_.error_at ? 2 : 0;
        uint32_t words[8] = {0};
        if (r_now)
            for (int w = 0; w < 8; w++)
                for (int b = 0; b < 4; b++)
                    words[w] |= (uint32_t)mem[(pending.front().addr + w * 4 + b) % mem_bytes]
                                << (8 * b);
        rtl_assign(io.rdata, words);
        const bool ar_taken = io.arvalid && ar_ready;
        const uint32_t ar_addr = io.araddr;
        const bool r_taken = r_now && io.rready;
        sim_.tick();
        if (r_taken) {
            pending.pop_front();
            if ((int64_t)reads_answered == mem_.error_at) mem_.error_at = -1; // one error only
            reads_answered++;
        }
        if (ar_taken) pending.push_back({ar_addr, sim_.cycles() + mem_.latency});
    }
    io.rvalid = 0;
    io.arready = 0;
    out.cycles = sim_.cycles() - t0;
    out.done = io.done;
    out.bad_cmd = io.bad_cmd;
    out.bus_error = io.bus_error;
    out.out_exp = (int32_t)rtl_sext(io.out_exp, 10);
    out.importance = io.head_importance;
    out.requant = io.requant;
    out.keys_fetched = io.keys_fetched;
    out.values_fetched = io.values_fetched;
    if (!pending.empty() && out.protocol_ok) {
        out.protocol_ok = false;
        out.protocol_error = "reads still outstanding at done";
    }
    sim_.tick(); // back to idle
    return out;
}

std::string engine_random_case(std::mt19937_64 &rng, uint32_t max_n, EngineCase &c) {
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
    c.n = 1 + (uint32_t)(rng() % max_n);
    c.key_base = (uint32_t)(rng() % 40);
    c.n_tokens = c.key_base + c.n + (uint32_t)(rng() % 5);
    c.keep = spk_keep_count(c.n, cfg.v_keep_q16);
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

    std::vector<uint32_t> keys(c.n);
    for (uint32_t j = 0; j < c.n; j++) keys[j] = c.key_base + j;
    spk_head_request req{c.q.data(), c.q_logit,         keys.data(), c.n,
                         c.k.data(), c.k_scales.data(), c.v.data(),  c.v_scales.data()};
    spk_workspace *ws = spk_workspace_create(c.n);
    if (!ws) return "out of memory";
    c.want_out.assign(d, 0);
    c.want_probs.assign(c.n, 0);
    c.want_v_keys.assign(c.n, 0);
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
