// The whole board top (rtl/fpga/boards/icebreaker/spk_icebreaker_top.v, Verilated with the
// spk-board-sim parameters as Vboard) driven only through its UART pins, as the host's fpga
// backend drives it: each random head request's memory image and its spk_eng_head_req go into
// the board memory in write bursts, ENG_DESC/ENG_CMD start it, ENG_STATUS is polled, and the
// result window is read back and compared bit for bit with the golden model
// (tests/rtl/engine_harness.cc: the same cases and checks as the RTL engine suites).
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "Vboard.h"
#include "engine_harness.h"
#include "sim_uart.h"
#include "spk/board_map.h"
#include "spk/fw_abi.h"
#include "spk/regs.h"
#include "verilated.h"

namespace {

constexpr unsigned kCpb = 4; // rtl/board.mk BOARD_SIM_PARAMS

// a register field (regs.h and board_map.h: the mask is not shifted)
#define FIELD(v, F) (((v) >> F##_OFFSET) & F##_MASK)

class Board {
  public:
    Board() : top_(std::make_unique<Vboard>(&ctx_)) {
        top_->BTN_N = 1;
        top_->RX = 1;
        for (int i = 0; i < 64; i++) tick(); // power-on reset
    }
    ~Board() { top_->final(); }

    void tick() {
        top_->RX = static_cast<uint8_t>(drv_.level());
        top_->CLK = 1;
        top_->eval();
        top_->CLK = 0;
        top_->eval();
        uint8_t b;
        if (smp_.sample(top_->TX, &b)) rx_.push_back(b);
    }
    // one request, its response (status and read words); "" or what went wrong
    std::string transact(uint8_t cmd, uint32_t byte_addr, const std::vector<uint32_t> &wr,
                         uint32_t nread, std::vector<uint32_t> *rd) {
        std::vector<uint8_t> f = {cmd, static_cast<uint8_t>(wr.empty() ? nread : wr.size())};
        auto put = [&f](uint32_t v) {
            for (int s = 24; s >= 0; s -= 8) f.push_back(static_cast<uint8_t>(v >> s));
        };
        put(byte_addr / 4);
        for (uint32_t w : wr) put(w);
        const uint16_t c = spkboard::crc16_ccitt(f.data(), f.size());
        f.push_back(static_cast<uint8_t>(c >> 8));
        f.push_back(static_cast<uint8_t>(c));
        for (uint8_t b : f) drv_.push(b);
        rx_.clear();
        const size_t want = 1 + 4 * (size_t)(wr.empty() ? nread : 0) + 2;
        for (uint64_t i = 0; i < 100000 + 50ull * kCpb * f.size(); i++) {
            tick();
            if (!rx_.empty() && rx_[0] != SPK_BOARD_ST_OK && rx_.size() == 3) break;
            if (rx_.size() == want) break;
        }
        if (rx_.empty()) return "no response";
        if (rx_[0] != SPK_BOARD_ST_OK) return "status " + std::to_string(rx_[0]);
        if (rx_.size() != want) return "short response";
        if (spkboard::crc16_ccitt(rx_.data(), rx_.size()) != 0) return "response CRC";
        if (rd) {
            rd->clear();
            for (size_t i = 1; i + 2 < want; i += 4)
                rd->push_back((uint32_t)rx_[i] << 24 | (uint32_t)rx_[i + 1] << 16 |
                              (uint32_t)rx_[i + 2] << 8 | rx_[i + 3]);
        }
        return "";
    }
    uint32_t rd(uint32_t a) {
        std::vector<uint32_t> v;
        std::string e = transact(SPK_BOARD_CMD_READ_INC, a, {}, 1, &v);
        EXPECT_EQ(e, "") << "read 0x" << std::hex << a;
        return v.empty() ? 0xFFFFFFFFu : v[0];
    }
    std::vector<uint32_t> rdn(uint32_t a, uint32_t n) {
        std::vector<uint32_t> out, v;
        for (uint32_t i = 0; i < n; i += 255) {
            const uint32_t k = std::min(255u, n - i);
            EXPECT_EQ(transact(SPK_BOARD_CMD_READ_INC, a + 4 * i, {}, k, &v), "");
            out.insert(out.end(), v.begin(), v.end());
        }
        return out;
    }
    void wr(uint32_t a, uint32_t v) {
        EXPECT_EQ(transact(SPK_BOARD_CMD_WRITE_INC, a, {v}, 0, nullptr), "")
            << "write 0x" << std::hex << a;
    }
    // bytes into the board memory at engine address `at` (a multiple of 4), little-endian words
    void load(uint32_t at, const std::vector<uint8_t> &bytes) {
        std::vector<uint32_t> words((bytes.size() + 3) / 4, 0);
        for (size_t i = 0; i < bytes.size(); i++)
            words[i / 4] |= (uint32_t)bytes[i] << (8 * (i % 4));
        for (size_t i = 0; i < words.size(); i += 255) {
            std::vector<uint32_t> chunk(words.begin() + i,
                                        words.begin() + std::min(words.size(), i + 255));
            ASSERT_EQ(transact(SPK_BOARD_CMD_WRITE_INC, SPK_BOARD_WIN_MEM_BASE + at + 4 * i, chunk,
                               0, nullptr),
                      "");
        }
    }
    // GO with op; polls ENG_STATUS until DONE (returns it, 0 on a timeout)
    uint32_t go(uint32_t desc, uint32_t op = SPK_ENG_OP_HEAD_REQ) {
        wr(SPK_BOARD_ENG_ENG_DESC, desc);
        wr(SPK_BOARD_ENG_ENG_CMD, op << SPK_ENG_CMD_OP_OFFSET | 1u);
        for (int i = 0; i < 20000; i++) {
            const uint32_t st = rd(SPK_BOARD_ENG_ENG_STATUS);
            if (FIELD(st, SPK_ENG_STATUS_DONE)) return st;
            for (int k = 0; k < 2000; k++) tick();
        }
        return 0;
    }

  private:
    VerilatedContext ctx_;
    std::unique_ptr<Vboard> top_;
    spkboard::UartDriver drv_{kCpb};
    spkboard::UartSampler smp_{kCpb};
    std::vector<uint8_t> rx_;
};

// Lays c out in memory (after `at`), loads it with its descriptor, runs it, reads the results.
EngineOutcome run_case(Board &b, const EngineCase &c, uint32_t tag, uint32_t nmax,
                       uint32_t *status) {
    EngineOutcome out;
    const uint32_t d = c.cfg.d, msb = c.cfg.kv.msb_bits, lsb = c.cfg.kv.lsb_bits;
    uint32_t at = 128 + 2 * (tag % 8);
    auto place = [&](uint32_t bytes, uint32_t align) {
        at = (at + align - 1) / align * align;
        const uint32_t base = at;
        at += bytes + (tag * 5 + bytes) % 23;
        return base;
    };
    const uint32_t q = place(2 * d, 2);
    const uint32_t keys = c.keys.empty() ? 0 : place(2 * c.n, 2);
    const uint32_t k_msb = place(c.n_tokens * engine_plane_row_bytes(d, msb), 1);
    const uint32_t k_lsb = place(c.n_tokens * engine_plane_row_bytes(d, lsb), 1);
    const uint32_t v_msb = place(c.n_tokens * engine_plane_row_bytes(d, msb), 1);
    const uint32_t v_lsb = place(c.n_tokens * engine_plane_row_bytes(d, lsb), 1);
    const uint32_t k_sc = place(4 * c.n_tokens, 4);
    const uint32_t v_sc = place(4 * c.n_tokens, 4);
    const uint32_t desc = place(80, 4);
    std::vector<uint8_t> mem((at + 3) / 4 * 4);
    for (size_t i = 0; i < mem.size(); i++) mem[i] = (uint8_t)(i * 151u + tag); // junk
    for (uint32_t i = 0; i < d; i++) {
        mem[q + 2 * i] = (uint8_t)(uint16_t)c.q[i];
        mem[q + 2 * i + 1] = (uint8_t)((uint16_t)c.q[i] >> 8);
    }
    for (uint32_t j = 0; j < c.keys.size(); j++) {
        mem[keys + 2 * j] = (uint8_t)c.keys[j];
        mem[keys + 2 * j + 1] = (uint8_t)(c.keys[j] >> 8);
    }
    engine_pack_plane(mem, k_msb, c.k, c.n_tokens, d, c.cfg.kv, false);
    engine_pack_plane(mem, v_msb, c.v, c.n_tokens, d, c.cfg.kv, false);
    if (lsb) {
        engine_pack_plane(mem, k_lsb, c.k, c.n_tokens, d, c.cfg.kv, true);
        engine_pack_plane(mem, v_lsb, c.v, c.n_tokens, d, c.cfg.kv, true);
    }
    engine_put_words(mem, k_sc, c.k_scales);
    engine_put_words(mem, v_sc, c.v_scales);
    // spk_eng_head_req (rtl/regs/spk_abi.json), one word per field, little-endian in memory
    const uint32_t fields[20] = {tag,        c.head,
                                 d,          msb,
                                 lsb,        c.cfg.requant_threshold,
                                 c.keep,     c.n,
                                 c.key_base, c.keys.empty() ? 0u : 1u,
                                 keys,       (uint32_t)c.q_logit & 0xFFFFFFu,
                                 q,          k_msb,
                                 k_lsb,      v_msb,
                                 v_lsb,      k_sc,
                                 v_sc,       0};
    for (uint32_t w = 0; w < 20; w++)
        for (uint32_t k = 0; k < 4; k++) mem[desc + 4 * w + k] = (uint8_t)(fields[w] >> (8 * k));
    b.load(0, mem);
    *status = b.go(desc);
    out.done = FIELD(*status, SPK_ENG_STATUS_DONE) != 0;
    if (!out.done) return out;
    const std::vector<uint32_t> r = b.rdn(SPK_BOARD_WIN_RESULT_BASE, 9);
    out.tag = r[0];
    out.requant = r[1] & 1;
    out.bad_cmd = (r[1] >> 1) & 1;
    out.bus_error = (r[1] >> 2) & 1;
    out.keys_fetched = r[2];
    out.values_fetched = r[3];
    const uint32_t kept = r[4];
    out.out_exp = (int32_t)rtl_sext(r[5], 10);
    out.importance = (uint64_t)r[7] << 32 | r[6];
    out.cycles = r[8];
    if (out.tag != tag) {
        out.protocol_ok = false;
        out.protocol_error = "RES_TAG " + std::to_string(out.tag) + " want " + std::to_string(tag);
    }
    for (uint32_t v : b.rdn(SPK_BOARD_REG_RES_OUT, d)) out.out.push_back((int32_t)v);
    for (uint32_t v : b.rdn(SPK_BOARD_REG_RES_PROB, c.n)) out.probs.push_back((uint16_t)v);
    if (kept) {
        for (uint32_t v : b.rdn(SPK_BOARD_REG_RES_VKEY, std::min(kept, nmax)))
            out.v_keys.push_back(v);
    }
    return out;
}

TEST(BoardEngine, HeadRequestsOverTheUartMatchTheGoldenModel) {
    Board b;
    ASSERT_EQ(b.rd(SPK_BOARD_REG_BOARD_ID), SPK_BOARD_ID_MAGIC);
    const uint32_t dmax = b.rd(SPK_BOARD_ENG_PARAM_MAX_D),
                   nmax = b.rd(SPK_BOARD_ENG_PARAM_MAX_KEYS);
    const uint32_t ntok = b.rd(SPK_BOARD_REG_IMP_TOKENS), nhead = b.rd(SPK_BOARD_REG_IMP_HEADS);
    ASSERT_EQ(dmax, SPK_BOARD_ENGINE_DMAX);
    ASSERT_EQ(nmax, SPK_BOARD_ENGINE_NMAX);
    ASSERT_EQ(ntok, SPK_BOARD_ENGINE_NTOK);
    ASSERT_GE(dmax, 64u) << "engine_random_case draws d up to 64";
    b.wr(SPK_BOARD_REG_IMP_CLEAR, 1);
    for (int i = 0; i < 2000; i++) b.tick();
    std::mt19937_64 rng(8086);
    std::vector<uint64_t> want_imp;
    const bool caps_lsb = FIELD(b.rd(SPK_BOARD_ENG_CAPS), SPK_CAPS_PROGRESSIVE_QUANT) != 0;
    for (int i = 0; i < 4; i++) {
        EngineCase c;
        const bool list = (i == 2) && SPK_BOARD_ENGINE_KEY_LIST;
        for (int tries = 0;; tries++) {
            ASSERT_EQ(engine_random_case(rng, i == 0 ? nmax : 16, c, i == 0 ? (int64_t)nmax : -1,
                                         -1, list),
                      "");
            if (caps_lsb || c.cfg.kv.lsb_bits == 0) break;
            ASSERT_LT(tries, 100);
        }
        ASSERT_LE(c.n_tokens, ntok);
        engine_add_importance(c, want_imp, ntok);
        uint32_t st = 0;
        EngineOutcome got = run_case(b, c, 0x40 + (uint32_t)i, nmax, &st);
        EXPECT_EQ(FIELD(st, SPK_ENG_STATUS_ERROR), 0u)
            << "case " << i << " ENG_STATUS 0x" << std::hex << st;
        ASSERT_EQ(engine_check(c, got), "")
            << "case " << i << " d=" << c.cfg.d << " n=" << c.n << (list ? " key list" : "");
        EXPECT_GT(got.cycles, 0u);
    }
    // the importance bank, through RES_IMP (two words per entry)
    const std::vector<uint32_t> imp = b.rdn(SPK_BOARD_REG_RES_IMP, 2 * (ntok + nhead));
    want_imp.resize(ntok + nhead, 0);
    for (uint32_t e = 0; e < ntok + nhead; e++)
        ASSERT_EQ((uint64_t)imp[2 * e + 1] << 32 | imp[2 * e], want_imp[e]) << "entry " << e;
}

TEST(BoardEngine, RefusedOperationsReportTheirReason) {
    Board b;
    auto reason = [](uint32_t st) { return FIELD(st, SPK_ENG_STATUS_REASON); };
    uint32_t st = b.go(2); // not 4-byte aligned
    EXPECT_TRUE(FIELD(st, SPK_ENG_STATUS_ERROR));
    EXPECT_EQ(reason(st), SPK_ERR_DMA);
    st = b.go(SPK_BOARD_WIN_MEM_BYTES - 40); // the descriptor runs past the memory
    EXPECT_EQ(reason(st), SPK_ERR_DMA);
    st = b.go(0, SPK_ENG_OP_PRUNE); // the contract's operation, not on this board
    EXPECT_EQ(reason(st), SPK_ERR_UNSUPPORTED);
    st = b.go(0, 15);
    EXPECT_EQ(reason(st), SPK_ERR_ENGINE);
    // a descriptor with a base address beyond the memory, then one with a wide field
    std::vector<uint8_t> desc(80, 0);
    const uint32_t good[20] = {1, 0, 4,   4,   4,   0,    65536 & 0xFFFF, 1,    0,    0,
                               0, 1, 256, 512, 768, 1024, 1280,           1536, 1792, 0};
    auto put = [&desc](const uint32_t *w) {
        for (uint32_t i = 0; i < 20; i++)
            for (uint32_t k = 0; k < 4; k++) desc[4 * i + k] = (uint8_t)(w[i] >> (8 * k));
    };
    uint32_t w[20];
    std::copy(good, good + 20, w);
    w[13] = SPK_BOARD_WIN_MEM_BYTES; // k_msb_base
    put(w);
    b.load(0, desc);
    EXPECT_EQ(reason(b.go(0)), SPK_ERR_DMA);
    // the last word fetched (its check finishes in the cycle the fetch ends)
    std::copy(good, good + 20, w);
    w[18] = SPK_BOARD_WIN_MEM_BYTES; // v_scale_base
    put(w);
    b.load(0, desc);
    EXPECT_EQ(reason(b.go(0)), SPK_ERR_DMA);
    std::copy(good, good + 20, w);
    w[2] = 1u << 7; // d wider than its 7 ABI bits
    put(w);
    b.load(0, desc);
    EXPECT_EQ(reason(b.go(0)), SPK_ERR_ENGINE);
    std::copy(good, good + 20, w);
    w[2] = 100; // d > PARAM_MAX_D: the engine's bad_cmd
    put(w);
    b.load(0, desc);
    st = b.go(0);
    EXPECT_EQ(reason(st), SPK_ERR_ENGINE);
    EXPECT_EQ(b.rd(SPK_BOARD_REG_RES_FLAGS) & 2u, 2u) << "bad_cmd in RES_FLAGS";
    EXPECT_EQ(FIELD(b.rd(SPK_BOARD_REG_LEDS), SPK_BOARD_REG_LEDS_ERROR), 1u);
    // the engine is usable afterwards: a good descriptor runs
    put(good);
    b.load(0, desc);
    st = b.go(0);
    EXPECT_EQ(FIELD(st, SPK_ENG_STATUS_DONE), 1u);
    EXPECT_EQ(FIELD(st, SPK_ENG_STATUS_ERROR), 0u);
}

} // namespace
