// Harness of the QK array against the golden model's plane and logit functions.
#include "qk_harness.h"

#include <sstream>

#include "spksim/datapath.h"

std::vector<int32_t> QkHarness::run(const QkCase &c) {
    Vqk &io = sim_.io();
    const spk_quant_profile prof = {(uint8_t)c.msb_bits, (uint8_t)c.lsb_bits};
    const size_t beats = (c.d + kQkLanes - 1) / kQkLanes, rows = c.k_scales.size();
    io.d = c.d;
    io.lsb_bits = c.lsb_bits;
    io.with_lsb = c.with_lsb;
    io.q_scale = c.q_scale & 0xFFFFFFu;
    for (size_t b = 0; b < beats; b++) {
        uint32_t words[4] = {0, 0, 0, 0};
        for (size_t l = 0; l < kQkLanes; l++) {
            size_t i = b * kQkLanes + l;
            rtl_set_bits(words, (unsigned)(l * 12), 12, (uint64_t)(uint32_t)(i < c.d ? c.q[i] : 0));
        }
        io.q_we = 1;
        io.q_beat = (uint32_t)b;
        rtl_assign(io.q_codes, words);
        sim_.tick();
    }
    io.q_we = 0;
    std::vector<int32_t> out;
    for (size_t r = 0; r < rows; r++) {
        for (size_t b = 0; b < beats; b++) {
            uint32_t hi_words[4] = {0, 0, 0, 0}, lo_words[4] = {0, 0, 0, 0};
            for (size_t l = 0; l < kQkLanes; l++) {
                size_t i = b * kQkLanes + l;
                int32_t hi = 0x3A5; // junk past d: the array must ignore those lanes
                uint32_t lo = 0x2C3;
                if (i < c.d) spk_code_split(c.k[r * c.d + i], prof, &hi, &lo);
                rtl_set_bits(hi_words, (unsigned)(l * 12), 12, (uint64_t)(uint32_t)hi);
                rtl_set_bits(lo_words, (unsigned)(l * 10), 10, lo);
            }
            io.k_valid = 1;
            io.k_first = b == 0;
            io.k_last = b + 1 == beats;
            rtl_assign(io.k_hi, hi_words);
            rtl_assign(io.k_lo, lo_words);
            io.k_scale = c.k_scales[r] & 0xFFFFFFu;
            sim_.tick();
            if (io.out_valid) out.push_back((int32_t)rtl_sext(io.out_logit, 24));
        }
    }
    io.k_valid = 0;
    for (int i = 0; i < 16 && out.size() < rows; i++) {
        sim_.tick();
        if (io.out_valid) out.push_back((int32_t)rtl_sext(io.out_logit, 24));
    }
    return out;
}

void qk_random_case(std::mt19937_64 &rng, QkCase &c) {
    c = QkCase{};
    c.d = 1 + (uint32_t)(rng() % kQkDmax);
    c.msb_bits = 2 + (uint32_t)(rng() % 11);
    c.lsb_bits = (uint32_t)(rng() % (13 - c.msb_bits));
    c.with_lsb = rng() % 2;
    const int32_t kmax = (1 << (c.msb_bits + c.lsb_bits - 1)) - 1;
    const uint32_t rows = 1 + (uint32_t)(rng() % 40);
    const bool extreme = rng() % 5 == 0; // all codes at the ends of their ranges
    c.q.resize(c.d);
    for (auto &x : c.q) x = extreme ? ((rng() % 2) ? 2047 : -2047) : (int32_t)(rng() % 4095) - 2047;
    c.k.resize((size_t)rows * c.d);
    for (auto &x : c.k)
        x = extreme ? ((rng() % 2) ? kmax : -kmax) : (int32_t)(rng() % (2 * kmax + 1)) - kmax;
    spk_logit_scale(spk_scale_make(32768 + (uint32_t)(rng() % 32768), -(int32_t)(rng() % 14)), c.d,
                    &c.q_scale);
    for (uint32_t r = 0; r < rows; r++) {
        int32_t e = (rng() % 6 == 0) ? (int32_t)(rng() % 256) - 128 : -(int32_t)(rng() % 20);
        c.k_scales.push_back(
            rng() % 12 == 0 ? 0 : spk_scale_make(32768 + (uint32_t)(rng() % 32768), e));
    }
}

std::string qk_check(const QkCase &c, const std::vector<int32_t> &got) {
    const spk_quant_profile prof = {(uint8_t)c.msb_bits, (uint8_t)c.lsb_bits};
    const size_t rows = c.k_scales.size();
    std::ostringstream err;
    if (got.size() != rows) err << got.size() << " logits for " << rows << " rows; ";
    for (size_t r = 0; r < rows && r < got.size(); r++) {
        int64_t dot = 0;
        for (uint32_t i = 0; i < c.d; i++) {
            int32_t code = c.k[r * c.d + i];
            dot += (int64_t)c.q[i] * (c.with_lsb ? code : spk_code_msb_only(code, prof));
        }
        int32_t want = spk_logit(dot, c.q_scale, c.k_scales[r]);
        if (got[r] != want) {
            err << "row " << r << " (d=" << c.d << " profile " << c.msb_bits << "+" << c.lsb_bits
                << (c.with_lsb ? " full" : " msb-only") << "): logit " << got[r] << " want "
                << want;
            break;
        }
    }
    return err.str();
}
