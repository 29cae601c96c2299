// Harness of the PV block against the golden head request.
#include "pv_harness.h"

#include <sstream>

#include "spksim/datapath.h"

PvOutcome PvHarness::run(const PvCase &c) {
    Vpv &io = sim_.io();
    PvOutcome out;
    const size_t rows = c.probs.size();
    io.d = c.d;
    io.rows = (uint32_t)rows;
    io.start = 1;
    const uint64_t t0 = sim_.cycles();
    sim_.tick();
    io.start = 0;
    const size_t beats = (c.d + kPvLanes - 1) / kPvLanes;
    size_t scan = 0, row = 0, beat = 0;
    const uint64_t limit = 64 + rows * (beats + 1) + 2 * kPvDmax;
    while (!io.done && sim_.cycles() - t0 < limit) {
        if (io.out_valid) out.out.push_back((int32_t)io.out_value);
        io.scale_valid = scan < rows;
        io.scale_word = scan < rows ? c.scales[scan] & 0xFFFFFFu : 0u;
        const bool beat_now = scan >= rows && row < rows;
        io.beat_valid = beat_now;
        uint32_t words[4] = {0, 0, 0, 0};
        if (beat_now) {
            io.beat_prob = c.probs[row];
            io.beat_scale = c.scales[row] & 0xFFFFFFu;
            for (size_t l = 0; l < kPvLanes; l++) {
                size_t i = beat * kPvLanes + l;
                int32_t v = i < c.d ? c.codes[row * c.d + i] : 0x5A5; // junk past d
                rtl_set_bits(words, (unsigned)(l * 12), 12, (uint64_t)(uint32_t)v);
            }
        }
        rtl_assign(io.beat_codes, words);
        const bool ready = io.in_ready;
        sim_.tick();
        if (ready && scan < rows) {
            scan++;
        } else if (ready && beat_now) {
            if (++beat == beats) {
                beat = 0;
                row++;
            }
        }
    }
    io.scale_valid = 0;
    io.beat_valid = 0;
    out.done = io.done;
    out.bad_cmd = io.bad_cmd;
    out.out_exp = (int32_t)rtl_sext(io.out_exp, 10);
    out.importance = io.head_importance;
    return out;
}

std::string pv_random_case(std::mt19937_64 &rng, PvCase &c) {
    spk_head_config cfg{};
    cfg.d = 1 + (uint32_t)(rng() % kPvDmax);
    cfg.kv.msb_bits = (uint8_t)(2 + rng() % 11);
    cfg.kv.lsb_bits = (uint8_t)(rng() % (13 - cfg.kv.msb_bits));
    cfg.requant_threshold = (uint32_t)(rng() % 65537);
    cfg.v_keep_q16 = 1 + (uint32_t)(rng() % 65536);
    cfg.topk_parallelism = 16;
    const uint32_t n = 1 + (uint32_t)(rng() % 200), d = cfg.d;
    const int32_t qmax = (1 << (cfg.kv.msb_bits + cfg.kv.lsb_bits - 1)) - 1;
    std::vector<int16_t> q(d), k((size_t)n * d), v((size_t)n * d);
    std::vector<spk_scale> ks(n), vs(n);
    std::vector<uint32_t> keys(n);
    for (auto &x : q) x = (int16_t)((int32_t)(rng() % 4095) - 2047);
    for (auto &x : k) x = (int16_t)((int32_t)(rng() % (2 * qmax + 1)) - qmax);
    for (auto &x : v) x = (int16_t)((int32_t)(rng() % (2 * qmax + 1)) - qmax);
    auto word = [&]() {
        if (rng() % 10 == 0) return spk_scale_make(0, 0);
        int32_t e = (rng() % 5 == 0) ? (int32_t)(rng() % 256) - 128 : -(int32_t)(rng() % 30) - 8;
        return spk_scale_make(32768 + (uint32_t)(rng() % 32768), e);
    };
    for (uint32_t j = 0; j < n; j++) {
        keys[j] = j;
        ks[j] = word();
        vs[j] = word();
    }
    spk_scale q_logit;
    spk_logit_scale(spk_scale_make(32768 + (uint32_t)(rng() % 32768), -(int32_t)(rng() % 12)), d,
                    &q_logit);
    spk_head_request req{q.data(),  q_logit,  keys.data(), n, k.data(),
                         ks.data(), v.data(), vs.data(),   0};
    spk_workspace *ws = spk_workspace_create(n);
    if (!ws) return "out of memory";
    std::vector<int32_t> out(d);
    std::vector<uint16_t> probs(n);
    std::vector<uint32_t> v_keys(n);
    spk_head_result res{};
    res.out = out.data();
    res.probs = probs.data();
    res.v_keys = v_keys.data();
    spksim_status st = spk_head_run(&cfg, &req, ws, &res);
    spk_workspace_destroy(ws);
    if (st != SPKSIM_OK) return std::string("spk_head_run: ") + spksim_status_str(st);

    c = PvCase{};
    c.d = d;
    for (uint32_t r = 0; r < res.ev.values_fetched; r++) {
        const uint32_t tok = v_keys[r]; // keys are 0..n-1, so token == key position
        c.probs.push_back(probs[tok]);
        c.scales.push_back(vs[tok]);
        for (uint32_t i = 0; i < d; i++) {
            int32_t code = v[(size_t)tok * d + i];
            c.codes.push_back(res.ev.v_with_lsb ? code : spk_code_msb_only(code, cfg.kv));
        }
    }
    c.want_out = out;
    c.want_exp = res.out_exp;
    c.want_importance = res.head_importance;
    return "";
}

std::string pv_check(const PvCase &c, const PvOutcome &got) {
    std::ostringstream err;
    if (!got.done) return "PV never signalled done (timeout)";
    if (got.bad_cmd) return "a valid request was refused";
    if (got.out.size() != c.d) err << got.out.size() << " outputs for d=" << c.d << "; ";
    for (size_t i = 0; i < got.out.size() && i < c.want_out.size(); i++) {
        if (got.out[i] != c.want_out[i]) {
            err << "o[" << i << "] = " << got.out[i] << " want " << c.want_out[i] << "; ";
            break;
        }
    }
    if (got.out_exp != c.want_exp)
        err << "out_exp " << got.out_exp << " want " << c.want_exp << "; ";
    if (got.importance != c.want_importance)
        err << "head importance " << got.importance << " want " << c.want_importance << "; ";
    return err.str();
}
