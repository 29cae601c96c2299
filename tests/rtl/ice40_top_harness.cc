// Harness of the UP5K build's top, driven through its serial pins only.
#include "ice40_top_harness.h"

namespace {

// The wrapper's operations and readout kinds (rtl/fpga/spk_engine_ice40_top.v).
enum : uint32_t { kOpWrite = 0, kOpStart = 1, kOpRead = 2, kOpClear = 3 };
enum : uint32_t { kReadOut = 0, kReadVkey = 1, kReadProb = 2, kReadStatus = 3, kReadImp = 4 };
constexpr uint32_t kStatusBits = 117, kAddrBits = 17, kDimBits = 7; // DW = clog2(DMAX + 1)

uint64_t field(const std::vector<uint8_t> &bits, uint32_t lo, uint32_t width) {
    uint64_t v = 0;
    for (uint32_t b = 0; b < width; b++) v |= (uint64_t)(bits[lo + b] & 1u) << b;
    return v;
}

} // namespace

void Ice40TopHarness::shift(uint64_t value, uint32_t bits) {
    Vice40top &io = sim_.io();
    for (uint32_t b = bits; b-- > 0;) {
        io.sh_en = 1;
        io.sh_din = (value >> b) & 1u;
        sim_.tick();
    }
    io.sh_en = 0;
    io.sh_din = 0;
}

void Ice40TopHarness::op(uint32_t code) {
    Vice40top &io = sim_.io();
    io.op = code;
    io.go = 1;
    sim_.tick();
    io.go = 0;
}

bool Ice40TopHarness::wait_idle(uint64_t limit) {
    for (uint64_t i = 0; i < limit && !sim_.io().idle; i++) sim_.tick();
    return sim_.io().idle;
}

void Ice40TopHarness::write_word(uint32_t word_addr, uint64_t value) {
    shift(word_addr, 14);
    shift(value, 64);
    op(kOpWrite);
}

std::vector<uint8_t> Ice40TopHarness::read_bits(uint32_t kind, uint32_t index, uint32_t bits) {
    Vice40top &io = sim_.io();
    shift(kind, 3);
    shift(index, 9);
    op(kOpRead);
    for (int i = 0; i < 3; i++) sim_.tick(); // RD is loaded within three cycles
    std::vector<uint8_t> out(bits);
    for (uint32_t b = 0; b < bits; b++) {
        out[b] = io.sh_dout;
        io.sh_en = 1;
        sim_.tick();
    }
    io.sh_en = 0;
    return out;
}

std::string Ice40TopHarness::clear_importance() {
    op(kOpClear);
    return wait_idle(4 * (kIce40Ntok + kIce40Nhead) + 100) ? "" : "importance clear never finished";
}

std::string Ice40TopHarness::read_importance(std::vector<uint64_t> &entries) {
    if (!wait_idle(1000)) return "engine not idle";
    entries.assign(kIce40Ntok + kIce40Nhead, 0);
    for (uint32_t t = 0; t < kIce40Ntok + kIce40Nhead; t++)
        entries[t] = field(read_bits(kReadImp, t, 48), 0, 48);
    return "";
}

EngineOutcome Ice40TopHarness::run(const EngineCase &c, uint32_t tag) {
    EngineOutcome out;
    const uint32_t d = c.cfg.d, msb = c.cfg.kv.msb_bits, lsb = c.cfg.kv.lsb_bits;
    // Layout: query, four planes, two scale arrays, one after the other with a gap that depends
    // on the tag (planes at any byte offset, scale words 4-byte and codes 2-byte aligned).
    uint32_t at = 2 * (tag % 16);
    auto place = [&](uint32_t bytes, uint32_t align) {
        at = (at + align - 1) / align * align;
        const uint32_t base = at;
        at += bytes + (tag * 7 + bytes) % 37;
        return base;
    };
    const uint32_t q = place(2 * d, 2);
    const uint32_t k_msb = place(c.n_tokens * engine_plane_row_bytes(d, msb), 1);
    const uint32_t k_lsb = place(c.n_tokens * engine_plane_row_bytes(d, lsb), 1);
    const uint32_t v_msb = place(c.n_tokens * engine_plane_row_bytes(d, msb), 1);
    const uint32_t v_lsb = place(c.n_tokens * engine_plane_row_bytes(d, lsb), 1);
    const uint32_t k_sc = place(4 * c.n_tokens, 4);
    const uint32_t v_sc = place(4 * c.n_tokens, 4);
    if (at + 64 > kIce40MemBytes || c.q.size() < d || c.k.size() < (size_t)c.n_tokens * d ||
        c.v.size() < (size_t)c.n_tokens * d || c.k_scales.size() < c.n_tokens ||
        c.v_scales.size() < c.n_tokens) {
        out.protocol_ok = false;
        out.protocol_error = "harness: the case does not fit the 128 KiB memory or its arrays";
        return out;
    }
    std::vector<uint8_t> mem((at + 63) / 32 * 32);
    for (size_t i = 0; i < mem.size(); i++) mem[i] = (uint8_t)(i * 151u + tag); // junk
    for (uint32_t i = 0; i < d; i++) {
        mem[q + 2 * i] = (uint8_t)(uint16_t)c.q[i];
        mem[q + 2 * i + 1] = (uint8_t)((uint16_t)c.q[i] >> 8);
    }
    engine_pack_plane(mem, k_msb, c.k, c.n_tokens, d, c.cfg.kv, false);
    engine_pack_plane(mem, v_msb, c.v, c.n_tokens, d, c.cfg.kv, false);
    if (lsb) {
        engine_pack_plane(mem, k_lsb, c.k, c.n_tokens, d, c.cfg.kv, true);
        engine_pack_plane(mem, v_lsb, c.v, c.n_tokens, d, c.cfg.kv, true);
    }
    engine_put_words(mem, k_sc, c.k_scales);
    engine_put_words(mem, v_sc, c.v_scales);
    for (uint32_t w = 0; w < mem.size() / 8; w++) {
        uint64_t word = 0;
        for (uint32_t b = 0; b < 8; b++) word |= (uint64_t)mem[8 * w + b] << (8 * b);
        write_word(w, word);
    }

    // The descriptor, most significant field first.
    const uint64_t fields[][2] = {{tag, 8},
                                  {d, kDimBits},
                                  {msb, 4},
                                  {lsb, 4},
                                  {c.cfg.requant_threshold, 17},
                                  {c.keep, 16},
                                  {c.n, 16},
                                  {c.key_base, 16},
                                  {c.q_logit & 0xFFFFFFu, 24},
                                  {q, kAddrBits},
                                  {k_msb, kAddrBits},
                                  {k_lsb, kAddrBits},
                                  {v_msb, kAddrBits},
                                  {v_lsb, kAddrBits},
                                  {k_sc, kAddrBits},
                                  {v_sc, kAddrBits},
                                  {c.head, 8}};
    for (const auto &f : fields) shift(f[0], (uint32_t)f[1]);
    op(kOpStart);
    const uint64_t t0 = sim_.cycles(), limit = 40000 + (uint64_t)c.n * 2000;
    while (!sim_.io().done && sim_.cycles() - t0 < limit) sim_.tick();
    out.cycles = sim_.cycles() - t0;
    out.done = sim_.io().done;
    if (!out.done) return out;

    // the status word, read in three 48-bit parts
    std::vector<uint8_t> st;
    for (uint32_t part = 0; part * 48 < kStatusBits; part++) {
        const std::vector<uint8_t> bits = read_bits(kReadStatus, part, 48);
        st.insert(st.end(), bits.begin(), bits.end());
    }
    const uint32_t vkeys = (uint32_t)field(st, 0, 16);
    out.values_fetched = (uint32_t)field(st, 16, 16);
    out.keys_fetched = (uint32_t)field(st, 32, 16);
    out.importance = field(st, 48, 48);
    out.out_exp = (int32_t)rtl_sext(field(st, 96, 10), 10);
    out.requant = field(st, 106, 1) != 0;
    out.bus_error = field(st, 107, 1) != 0;
    out.bad_cmd = field(st, 108, 1) != 0;
    out.tag = (uint32_t)field(st, 109, 8);
    if (out.tag != tag) {
        out.protocol_ok = false;
        out.protocol_error =
            "status tag " + std::to_string(out.tag) + " want " + std::to_string(tag);
    }
    for (uint32_t i = 0; i < d; i++)
        out.out.push_back((int32_t)field(read_bits(kReadOut, i, 32), 0, 32));
    for (uint32_t j = 0; j < c.n; j++)
        out.probs.push_back((uint16_t)field(read_bits(kReadProb, j, 16), 0, 16));
    for (uint32_t r = 0; r < vkeys && r < kIce40Nmax; r++)
        out.v_keys.push_back((uint32_t)field(read_bits(kReadVkey, r, 16), 0, 16));
    return out;
}
