// The engine behind the registers (rtl/engine/spk_engine_regs.v, docs/rtl.md "Engine behind the
// registers"): random head requests (engine_random_case, contiguous and key-list mode) laid out
// in the AXI memory model (rtl/sim/axi_mem.h) with their descriptors as the 20 little-endian
// words of spk_eng_head_req (driver/include/spk/fw_abi.h); each started through the register
// port (ENG_DESC, then ENG_CMD = HEAD_REQ << OP | GO), ENG_STATUS polled, and every output
// compared with the golden model (engine_check), the importance bank with the golden
// accumulation; bad descriptors, bus errors on the descriptor fetch and on the engine's reads,
// a lost GO, the register window, and the cycles the descriptor fetch adds to a request run
// directly on spk_engine (Vengine) with the same memory.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "../../rtl/sim/axi_mem.h"
#include "Vengine_regs.h"
#include "engine_harness.h"
#include "spk/fw_abi.h"
#include "spk/regs.h"
#include "spksim/layer.h"

namespace {

constexpr uint32_t kGoHeadReq = SPK_ENG_OP_HEAD_REQ << SPK_ENG_CMD_OP_OFFSET | 1u;
constexpr uint32_t kBusy = 1u << SPK_ENG_STATUS_BUSY_OFFSET;
constexpr uint32_t kDone = 1u << SPK_ENG_STATUS_DONE_OFFSET;
constexpr uint32_t kError = 1u << SPK_ENG_STATUS_ERROR_OFFSET;

uint32_t st_error(uint32_t reason) {
    return kDone | kError | reason << SPK_ENG_STATUS_REASON_OFFSET;
}

std::string hex(uint32_t v) {
    char b[16];
    std::snprintf(b, sizeof b, "0x%08x", v);
    return b;
}

void put_u16(std::vector<uint8_t> &mem, size_t at, uint32_t v) {
    mem[at] = (uint8_t)v;
    mem[at + 1] = (uint8_t)(v >> 8);
}

// The cases one after the other in `mem` (query codes 2-byte aligned, planes at any byte offset,
// scale words 4-byte aligned, key lists 2-byte aligned, random bytes in between), then their
// descriptors, each at a 32-byte aligned address (desc_at), as 20 little-endian words.
void lay_out(const std::vector<EngineCase> &cases, std::mt19937_64 &rng, std::vector<uint8_t> &mem,
             std::vector<spk_eng_head_req> &reqs, std::vector<uint32_t> &desc_at) {
    uint64_t at = 32 + rng() % 64;
    auto place = [&](uint64_t bytes, uint64_t align) {
        at = (at + align - 1) / align * align;
        const uint64_t base = at;
        at += bytes + rng() % 96;
        return (uint32_t)base;
    };
    reqs.assign(cases.size(), spk_eng_head_req{});
    desc_at.assign(cases.size(), 0);
    for (size_t r = 0; r < cases.size(); r++) {
        const EngineCase &c = cases[r];
        const uint32_t d = c.cfg.d;
        const uint32_t mb = spk_plane_row_bytes(d, c.cfg.kv.msb_bits);
        const uint32_t lb = spk_plane_row_bytes(d, c.cfg.kv.lsb_bits);
        spk_eng_head_req &q = reqs[r];
        q.tag = (uint32_t)(r * 37 + 5) & 0xFFu;
        q.head = c.head;
        q.d = d;
        q.msb_bits = c.cfg.kv.msb_bits;
        q.lsb_bits = c.cfg.kv.lsb_bits;
        q.threshold = c.cfg.requant_threshold;
        q.v_keep = c.keep;
        q.n_keys = c.n;
        q.key_base = c.key_base;
        q.key_list = c.keys.empty() ? 0 : 1;
        q.q_scale = c.q_logit & 0xFFFFFFu;
        q.q_base = place(2 * d, 2);
        q.k_msb_base = place((uint64_t)c.n_tokens * mb, 1);
        q.k_lsb_base = place((uint64_t)c.n_tokens * lb, 1);
        q.v_msb_base = place((uint64_t)c.n_tokens * mb, 1);
        q.v_lsb_base = place((uint64_t)c.n_tokens * lb, 1);
        q.k_scale_base = place(4 * (uint64_t)c.n_tokens, 4);
        q.v_scale_base = place(4 * (uint64_t)c.n_tokens, 4);
        q.keys_base = c.keys.empty() ? 0 : place(2 * (uint64_t)c.n, 2);
    }
    for (size_t r = 0; r < cases.size(); r++) desc_at[r] = place(sizeof(spk_eng_head_req), 32);
    at += 96; // the third descriptor read covers 16 bytes past the last one
    mem.resize((at + 63) / 32 * 32);
    for (auto &x : mem) x = (uint8_t)rng();
    for (size_t r = 0; r < cases.size(); r++) {
        const EngineCase &c = cases[r];
        const spk_eng_head_req &q = reqs[r];
        const uint32_t d = c.cfg.d;
        const uint32_t mb = spk_plane_row_bytes(d, c.cfg.kv.msb_bits);
        const uint32_t lb = spk_plane_row_bytes(d, c.cfg.kv.lsb_bits);
        for (uint32_t i = 0; i < d; i++) put_u16(mem, q.q_base + 2 * i, (uint16_t)c.q[i]);
        for (uint32_t t = 0; t < c.n_tokens; t++) {
            const int16_t *k = &c.k[(size_t)t * d], *v = &c.v[(size_t)t * d];
            spk_plane_pack_row(k, d, c.cfg.kv, 0, &mem[q.k_msb_base + (size_t)t * mb]);
            spk_plane_pack_row(v, d, c.cfg.kv, 0, &mem[q.v_msb_base + (size_t)t * mb]);
            if (lb) {
                spk_plane_pack_row(k, d, c.cfg.kv, 1, &mem[q.k_lsb_base + (size_t)t * lb]);
                spk_plane_pack_row(v, d, c.cfg.kv, 1, &mem[q.v_lsb_base + (size_t)t * lb]);
            }
        }
        engine_put_words(mem, q.k_scale_base, c.k_scales);
        engine_put_words(mem, q.v_scale_base, c.v_scales);
        for (size_t j = 0; j < c.keys.size(); j++) put_u16(mem, q.keys_base + 2 * j, c.keys[j]);
    }
}

// A descriptor's 20 words, little-endian, at `at` (the struct is 20 uint32_t fields).
void put_desc(std::vector<uint8_t> &mem, uint32_t at, const spk_eng_head_req &q) {
    static_assert(sizeof(spk_eng_head_req) == 4 * 20, "20 words");
    uint32_t w[20];
    std::memcpy(w, &q, sizeof w);
    for (int i = 0; i < 20; i++)
        for (int b = 0; b < 4; b++) mem[at + 4 * i + b] = (uint8_t)(w[i] >> (8 * b));
}

// What one operation gave: its final ENG_STATUS, the engine's results, cycle counts.
struct RegsOutcome {
    uint32_t status = 0;
    bool finished = false; // ENG_STATUS left BUSY within the budget
    bool engine_done = false;
    EngineOutcome eng;       // the engine's streams and done fields
    uint64_t go_to_done = 0; // cycles from the GO write to the engine's done (inclusive)
    uint64_t go_to_end = 0;  // cycles from the GO write to op_done
    uint64_t reads = 0;      // AR requests accepted
    bool op_done_seen = false;
};

// The Verilated spk_engine_regs with the AXI memory model over `mem` and a register port.
class RegsBench {
  public:
    explicit RegsBench(const spkrtl::AxiMemConfig &mc)
        : axi_(mc, [this](uint64_t addr, void *dst, uint32_t n) {
              if (addr + n > mem.size()) return -1;
              std::memcpy(dst, &mem[addr], n);
              return 0;
          }) {
        Vengine_regs &io = sim_.io();
        io.reg_req = 0;
        io.reg_we = 0;
        io.imp_clear = 0;
        io.imp_rd_en = 0;
        io.arready = 0;
        io.rvalid = 0;
        sim_.reset();
    }
    std::vector<uint8_t> mem;
    Vengine_regs &io() { return sim_.io(); }
    spkrtl::AxiMem &axi() { return axi_; }
    uint64_t cycles() const { return sim_.cycles(); }

    // One clock cycle; the outputs after the edge go to the current outcome (if any).
    void cycle() {
        const spkrtl::AxiSlave s = spkrtl::axi_mem_cycle(axi_, sim_);
        (void)s;
        Vengine_regs &io = sim_.io();
        if (io.op_done) op_done_cycles_++;
        if (!cur_) return;
        RegsOutcome &o = *cur_;
        if (io.prob_valid && io.prob_index < o.eng.probs.size())
            o.eng.probs[io.prob_index] = (uint16_t)io.prob_value;
        if (io.vkey_valid) o.eng.v_keys.push_back(io.vkey_token);
        if (io.out_valid) {
            if (io.out_index < o.eng.out.size())
                o.eng.out[io.out_index] = (int32_t)io.out_value;
            else
                o.eng.protocol_ok = false;
        }
        if (io.done) {
            if (o.engine_done) o.eng.protocol_ok = false; // one done per operation
            o.engine_done = true;
            o.eng.done = true;
            o.eng.tag = io.run_tag;
            o.eng.bad_cmd = io.bad_cmd;
            o.eng.bus_error = io.bus_error;
            o.eng.out_exp = (int32_t)rtl_sext(io.out_exp, 10);
            o.eng.importance = io.head_importance;
            o.eng.requant = io.requant;
            o.eng.keys_fetched = io.keys_fetched;
            o.eng.values_fetched = io.values_fetched;
            o.go_to_done = sim_.cycles() - go_cycle_;
        }
        if (io.op_done && !o.op_done_seen) {
            o.op_done_seen = true;
            o.go_to_end = sim_.cycles() - go_cycle_;
        }
    }
    void write(uint32_t offset, uint32_t value) {
        Vengine_regs &io = sim_.io();
        io.reg_req = 1;
        io.reg_we = 1;
        io.reg_addr = offset;
        io.reg_wdata = value;
        cycle();
        io.reg_req = 0;
        io.reg_we = 0;
    }
    uint32_t read(uint32_t offset) {
        Vengine_regs &io = sim_.io();
        io.reg_req = 1;
        io.reg_we = 0;
        io.reg_addr = offset;
        cycle();
        io.reg_req = 0;
        EXPECT_TRUE(io.reg_rvalid) << "read data one cycle after the read";
        return io.reg_rdata;
    }

    // ENG_DESC = desc, ENG_CMD = cmd, then ENG_STATUS polled until BUSY drops (each poll is a
    // read, one per cycle); `mid` (if set) is called once, at the first poll that sees BUSY.
    RegsOutcome start(uint32_t desc, uint32_t cmd, uint32_t d, uint32_t n,
                      const std::function<void()> &mid = nullptr, uint64_t budget = 400000) {
        RegsOutcome o;
        o.eng.out.assign(d, 0x7EADBEEF);
        o.eng.probs.assign(n, 0);
        cur_ = &o;
        const uint64_t reads0 = axi_.ar_accepted();
        write(SPK_ENG_DESC_REG_OFFSET, desc);
        go_cycle_ = sim_.cycles(); // the GO write is the cycle ending at go_cycle_ + 1
        write(SPK_ENG_CMD_REG_OFFSET, cmd);
        bool mid_done = !mid;
        for (uint64_t i = 0; i < budget; i++) {
            o.status = read(SPK_ENG_STATUS_REG_OFFSET);
            if (!(o.status & kBusy)) {
                o.finished = true;
                break;
            }
            if (!mid_done) {
                mid();
                mid_done = true;
            }
        }
        for (int i = 0; i < 4; i++) cycle(); // nothing after the end (a second done, a read)
        o.reads = axi_.ar_accepted() - reads0;
        cur_ = nullptr;
        if (axi_.outstanding()) o.eng.protocol_ok = false;
        return o;
    }
    RegsOutcome run(uint32_t desc, const EngineCase &c) {
        return start(desc, kGoHeadReq, c.cfg.d, c.n);
    }

    std::string clear_importance() {
        Vengine_regs &io = sim_.io();
        io.imp_clear = 1;
        cycle();
        io.imp_clear = 0;
        for (uint32_t i = 0; io.imp_busy; i++) {
            if (i > 4 * (kEngineNtok + kEngineNhead)) return "imp_busy never dropped";
            cycle();
        }
        return "";
    }
    // The whole bank against `want` ("" or the first difference).
    std::string check_importance(const std::vector<uint64_t> &want) {
        Vengine_regs &io = sim_.io();
        if (!io.idle) return "not idle";
        std::string err;
        for (uint32_t i = 0; i < kEngineNtok + kEngineNhead && err.empty(); i++) {
            io.imp_rd_en = 1;
            io.imp_rd_index = i;
            cycle();
            const uint64_t w = i < want.size() ? want[i] : 0;
            if (!io.imp_rd_valid)
                err = "imp_rd_valid low while idle (entry " + std::to_string(i) + ")";
            else if (io.imp_rd_value != w)
                err = "entry " + std::to_string(i) + ": " + std::to_string(io.imp_rd_value) +
                      " want " + std::to_string(w);
        }
        io.imp_rd_en = 0;
        cycle();
        return err;
    }
    uint64_t op_done_cycles() const { return op_done_cycles_; }

  private:
    RtlSim<Vengine_regs> sim_;
    spkrtl::AxiMem axi_;
    RegsOutcome *cur_ = nullptr;
    uint64_t go_cycle_ = 0, op_done_cycles_ = 0;
};

spkrtl::AxiMemConfig stalling(uint64_t seed) {
    spkrtl::AxiMemConfig mc;
    mc.latency = 8;
    mc.random_stalls = true;
    mc.seed = seed;
    return mc;
}

std::string describe(const EngineCase &c) {
    return "d=" + std::to_string(c.cfg.d) + " n=" + std::to_string(c.n) +
           (c.keys.empty() ? " contiguous" : " key list") + " profile " +
           std::to_string(c.cfg.kv.msb_bits) + "+" + std::to_string(c.cfg.kv.lsb_bits);
}

// One good request, checked whole.
void expect_exact(RegsBench &b, uint32_t desc, const EngineCase &c, const spk_eng_head_req &q,
                  const std::string &what) {
    const RegsOutcome o = b.run(desc, c);
    ASSERT_TRUE(o.finished) << what << ": ENG_STATUS stayed BUSY";
    EXPECT_EQ(hex(o.status), hex(kDone)) << what;
    EXPECT_EQ(engine_check(c, o.eng), "") << what << " " << describe(c);
    EXPECT_EQ(o.eng.tag, q.tag) << what;
    EXPECT_TRUE(o.op_done_seen) << what;
}

TEST(RtlEngineRegs, RandomDescriptorsFromMemoryMatchTheGoldenModel) {
    RegsBench b(stalling(2027));
    std::mt19937_64 rng(20270117);
    constexpr int kBatches = 6, kPerBatch = 6;
    ASSERT_EQ(b.clear_importance(), "");
    std::vector<uint64_t> want(kEngineNtok + kEngineNhead, 0);
    int lists = 0, requants = 0, empty = 0;
    uint64_t reads = 0, requests = 0;
    for (int batch = 0; batch < kBatches; batch++) {
        std::vector<EngineCase> cases(kPerBatch);
        for (int i = 0; i < kPerBatch; i++) {
            const bool list = (batch + i) % 2 == 1;
            const int64_t n = batch == 2 && i == 0 ? 0 : batch == 4 && i == 1 ? 512 : -1;
            ASSERT_EQ(engine_random_case(rng, 160, cases[i], n, -1, list), "");
            lists += list;
            requants += cases[i].want_requant;
            empty += cases[i].n == 0;
        }
        std::vector<spk_eng_head_req> reqs;
        std::vector<uint32_t> desc_at;
        lay_out(cases, rng, b.mem, reqs, desc_at);
        for (int i = 0; i < kPerBatch; i++) put_desc(b.mem, desc_at[i], reqs[i]);
        for (int i = 0; i < kPerBatch; i++) {
            const RegsOutcome o = b.run(desc_at[i], cases[i]);
            const std::string what = "batch " + std::to_string(batch) + " request " +
                                     std::to_string(i) + " " + describe(cases[i]);
            ASSERT_TRUE(o.finished) << what;
            EXPECT_EQ(hex(o.status), hex(kDone)) << what;
            ASSERT_EQ(engine_check(cases[i], o.eng), "") << what;
            EXPECT_EQ(o.eng.tag, reqs[i].tag) << what;
            EXPECT_LE(o.go_to_done, o.go_to_end) << "op_done after the engine's done";
            engine_add_importance(cases[i], want);
            reads += o.reads;
            requests++;
        }
        ASSERT_EQ(b.check_importance(want), "") << "after batch " << batch;
    }
    EXPECT_GE(lists, kBatches * kPerBatch / 2 - 1);
    EXPECT_GT(requants, 0);
    EXPECT_EQ(empty, 1);
    // the performance counters saw every request and every read (descriptor reads included)
    EXPECT_EQ(b.read(SPK_PERF_ENG_REQUESTS_REG_OFFSET), requests);
    EXPECT_EQ(b.read(SPK_PERF_DRAM_BYTES_REG_OFFSET), (uint32_t)(32 * reads));
    EXPECT_GE(reads, 3 * requests);
}

TEST(RtlEngineRegs, PresentsTheRegisterWindow) {
    RegsBench b(stalling(1));
    EXPECT_EQ(hex(b.read(SPK_ID_REG_OFFSET)), hex(SPK_ID_MAGIC));
    EXPECT_EQ(b.read(SPK_VERSION_REG_OFFSET), SPK_VERSION_MAJOR << 16 | SPK_VERSION_MINOR);
    EXPECT_EQ(b.read(SPK_PARAM_MAX_D_REG_OFFSET), kEngineDmax);
    EXPECT_EQ(b.read(SPK_PARAM_MAX_KEYS_REG_OFFSET), kEngineNmax);
    EXPECT_EQ(b.read(SPK_PARAM_TOPK_REG_OFFSET), kEngineP);
    EXPECT_EQ(b.read(SPK_PARAM_MULT_REG_OFFSET), kEngineLanes << 16 | kEngineLanes);
    EXPECT_EQ(b.read(SPK_PARAM_CLOCK_KHZ_REG_OFFSET), SPK_PARAM_CLOCK_KHZ_REG_RESVAL);
    EXPECT_EQ(b.read(SPK_ENG_STATUS_REG_OFFSET), 0u) << "no operation since reset";
    b.write(SPK_ENG_DESC_REG_OFFSET, 0x12345660u);
    EXPECT_EQ(hex(b.read(SPK_ENG_DESC_REG_OFFSET)), "0x12345660");
    b.write(SPK_ENG_STATUS_REG_OFFSET, 0xFFu); // read-only: ignored
    EXPECT_EQ(b.read(SPK_ENG_STATUS_REG_OFFSET), 0u);
    const uint32_t t0 = b.read(SPK_PERF_TIME_LO_REG_OFFSET);
    const uint32_t t1 = b.read(SPK_PERF_TIME_LO_REG_OFFSET);
    EXPECT_EQ(t1 - t0, 1u) << "PERF_TIME counts cycles";
    EXPECT_EQ(b.axi().ar_accepted(), 0u) << "register accesses read no memory";
}

TEST(RtlEngineRegs, RefusesBadDescriptorsWithAReason) {
    RegsBench b(stalling(5));
    std::mt19937_64 rng(55);
    std::vector<EngineCase> cases(1);
    ASSERT_EQ(engine_random_case(rng, 40, cases[0]), "");
    std::vector<spk_eng_head_req> reqs;
    std::vector<uint32_t> desc_at;
    lay_out(cases, rng, b.mem, reqs, desc_at);
    const spk_eng_head_req good = reqs[0];
    const uint32_t at = desc_at[0];
    const EngineCase &c = cases[0];
    // refused by the engine (bad_cmd): the descriptor is read, the engine computes nothing
    struct Bad {
        const char *what;
        spk_eng_head_req q;
        bool engine_runs; // the engine gets it (and refuses it with bad_cmd)
    };
    std::vector<Bad> bad;
    spk_eng_head_req q = good;
    q.n_keys = kEngineNmax + 1;
    bad.push_back({"n > NMAX", q, true});
    q = good;
    q.d = 0;
    bad.push_back({"d = 0", q, true});
    q = good;
    q.head = kEngineNhead;
    bad.push_back({"head >= NHEAD", q, true});
    q = good;
    q.d = 128 + good.d; // wider than the ABI's 7 bits: refused, not truncated
    bad.push_back({"d too wide", q, false});
    q = good;
    q.tag = 0x100 | good.tag;
    bad.push_back({"tag too wide", q, false});
    q = good;
    q.q_scale = 0x1000000u | good.q_scale;
    bad.push_back({"q_scale too wide", q, false});
    q = good;
    q.key_list = 2;
    bad.push_back({"key_list too wide", q, false});
    for (const Bad &x : bad) {
        put_desc(b.mem, at, x.q);
        const RegsOutcome o = b.run(at, c);
        ASSERT_TRUE(o.finished) << x.what;
        EXPECT_EQ(hex(o.status), hex(st_error(SPK_ERR_ENGINE))) << x.what;
        EXPECT_EQ(o.engine_done, x.engine_runs) << x.what;
        if (x.engine_runs) {
            EXPECT_TRUE(o.eng.bad_cmd) << x.what;
        }
        EXPECT_EQ(o.reads, 3u) << x.what << ": the descriptor's three reads, nothing else";
        EXPECT_TRUE(o.op_done_seen) << x.what;
    }
    // misaligned ENG_DESC: nothing is read
    put_desc(b.mem, at, good);
    RegsOutcome o = b.run(at + 4, c);
    EXPECT_EQ(hex(o.status), hex(st_error(SPK_ERR_DMA))) << "ENG_DESC not 32-byte aligned";
    EXPECT_EQ(o.reads, 0u);
    EXPECT_FALSE(o.engine_done);
    // other operations: the contract's (refused as unsupported) and unknown ones
    o = b.start(at, SPK_ENG_OP_HEAD << SPK_ENG_CMD_OP_OFFSET | 1u, c.cfg.d, c.n);
    EXPECT_EQ(hex(o.status), hex(st_error(SPK_ERR_UNSUPPORTED))) << "OP = HEAD";
    EXPECT_EQ(o.reads, 0u);
    o = b.start(at, 12u << SPK_ENG_CMD_OP_OFFSET | 1u, c.cfg.d, c.n);
    EXPECT_EQ(hex(o.status), hex(st_error(SPK_ERR_ENGINE))) << "OP = 12";
    EXPECT_EQ(o.reads, 0u);
    // ENG_CMD without GO starts nothing and leaves the status alone
    b.write(SPK_ENG_CMD_REG_OFFSET, SPK_ENG_OP_HEAD_REQ << SPK_ENG_CMD_OP_OFFSET);
    for (int i = 0; i < 20; i++) b.cycle();
    EXPECT_EQ(hex(b.read(SPK_ENG_STATUS_REG_OFFSET)), hex(st_error(SPK_ERR_ENGINE)));
    EXPECT_EQ(b.axi().outstanding(), 0u);
    expect_exact(b, at, c, good, "a good request after the refused ones");
}

TEST(RtlEngineRegs, BusErrorsOnTheDescriptorFetchAndOnTheEnginesReads) {
    RegsBench b(stalling(9));
    std::mt19937_64 rng(99);
    std::vector<EngineCase> cases(2);
    ASSERT_EQ(engine_random_case(rng, 60, cases[0], 30), "");
    ASSERT_EQ(engine_random_case(rng, 60, cases[1], 25, -1, true), "");
    std::vector<spk_eng_head_req> reqs;
    std::vector<uint32_t> desc_at;
    lay_out(cases, rng, b.mem, reqs, desc_at);
    for (int i = 0; i < 2; i++) put_desc(b.mem, desc_at[i], reqs[i]);
    for (uint32_t beat = 0; beat < 3; beat++) {
        // SLVERR on descriptor beat `beat`: ERROR with SPK_ERR_DMA, the engine is not started
        b.axi().set_error_at((int64_t)(b.axi().beats_answered() + beat));
        const RegsOutcome o = b.run(desc_at[0], cases[0]);
        ASSERT_TRUE(o.finished);
        EXPECT_EQ(hex(o.status), hex(st_error(SPK_ERR_DMA))) << "descriptor beat " << beat;
        EXPECT_FALSE(o.engine_done) << "descriptor beat " << beat;
        EXPECT_EQ(o.reads, 3u) << "all three descriptor reads are completed";
        EXPECT_EQ(b.axi().errors_answered(), beat + 1);
        expect_exact(b, desc_at[1], cases[1], reqs[1], "after the descriptor bus error");
    }
    // a descriptor past the end of memory: the reads are refused (SLVERR)
    RegsOutcome o = b.run((uint32_t)b.mem.size() - 32, cases[0]);
    EXPECT_EQ(hex(o.status), hex(st_error(SPK_ERR_DMA))) << "descriptor past the memory";
    EXPECT_FALSE(o.engine_done);
    // SLVERR on the engine's first read (the query): the request runs to done with bus_error
    b.axi().set_error_at((int64_t)(b.axi().beats_answered() + 3));
    o = b.run(desc_at[0], cases[0]);
    ASSERT_TRUE(o.finished);
    EXPECT_EQ(hex(o.status), hex(st_error(SPK_ERR_DMA))) << "bus error on the engine's read";
    EXPECT_TRUE(o.engine_done);
    EXPECT_TRUE(o.eng.bus_error);
    expect_exact(b, desc_at[0], cases[0], reqs[0], "after the engine's bus error");
}

TEST(RtlEngineRegs, AGoWhileBusyIsLostAndReported) {
    RegsBench b(stalling(3));
    std::mt19937_64 rng(31);
    std::vector<EngineCase> cases(2);
    ASSERT_EQ(engine_random_case(rng, 80, cases[0], 60), "");
    ASSERT_EQ(engine_random_case(rng, 80, cases[1]), "");
    std::vector<spk_eng_head_req> reqs;
    std::vector<uint32_t> desc_at;
    lay_out(cases, rng, b.mem, reqs, desc_at);
    for (int i = 0; i < 2; i++) put_desc(b.mem, desc_at[i], reqs[i]);
    const RegsOutcome o = b.start(desc_at[0], kGoHeadReq, cases[0].cfg.d, cases[0].n, [&] {
        b.write(SPK_ENG_DESC_REG_OFFSET, desc_at[1]);
        b.write(SPK_ENG_CMD_REG_OFFSET, kGoHeadReq);
    });
    ASSERT_TRUE(o.finished);
    EXPECT_EQ(hex(o.status), hex(st_error(SPK_ERR_ENGINE))) << "the lost GO is reported";
    EXPECT_EQ(engine_check(cases[0], o.eng), "") << "the running request is unharmed";
    EXPECT_EQ(o.eng.tag, reqs[0].tag);
    for (int i = 0; i < 200; i++) b.cycle();
    EXPECT_TRUE(b.io().idle) << "the second GO started nothing";
    expect_exact(b, desc_at[1], cases[1], reqs[1], "after the lost GO");
}

// The same requests on spk_engine directly (ports driven from the descriptor) and through the
// registers, memory without stalls: identical results; the difference in cycles is the
// descriptor fetch.
uint64_t engine_direct_cycles(std::vector<uint8_t> &mem, const spkrtl::AxiMemConfig &mc,
                              const spk_eng_head_req &q, const EngineCase &c, std::string &err) {
    RtlSim<Vengine> sim;
    spkrtl::AxiMem axi(mc, [&mem](uint64_t addr, void *dst, uint32_t n) {
        if (addr + n > mem.size()) return -1;
        std::memcpy(dst, &mem[addr], n);
        return 0;
    });
    Vengine &io = sim.io();
    io.req_valid = 0;
    io.imp_clear = 0;
    io.imp_rd_en = 0;
    sim.reset();
    io.tag = q.tag;
    io.head = q.head;
    io.d = q.d;
    io.msb_bits = q.msb_bits;
    io.lsb_bits = q.lsb_bits;
    io.threshold = q.threshold;
    io.v_keep = q.v_keep;
    io.n_keys = q.n_keys;
    io.key_base = q.key_base;
    io.key_list = q.key_list;
    io.keys_base = q.keys_base;
    io.q_scale = q.q_scale;
    io.q_base = q.q_base;
    io.k_msb_base = q.k_msb_base;
    io.k_lsb_base = q.k_lsb_base;
    io.v_msb_base = q.v_msb_base;
    io.v_lsb_base = q.v_lsb_base;
    io.k_scale_base = q.k_scale_base;
    io.v_scale_base = q.v_scale_base;
    io.req_valid = 1;
    const uint64_t t0 = sim.cycles();
    std::vector<int32_t> out(c.cfg.d, 0x7EADBEEF);
    for (uint64_t i = 0; i < 400000; i++) {
        spkrtl::axi_mem_cycle(axi, sim);
        io.req_valid = 0;
        if (io.out_valid && io.out_index < out.size()) out[io.out_index] = (int32_t)io.out_value;
        if (io.done) {
            if (out != c.want_out) err = "spk_engine's outputs differ from the golden model";
            return sim.cycles() - t0;
        }
    }
    err = "spk_engine never signalled done";
    return 0;
}

TEST(RtlEngineRegs, DescriptorFetchOverheadIsTheThreeReads) {
    for (uint32_t latency : {1u, 8u, 32u}) {
        spkrtl::AxiMemConfig mc;
        mc.latency = latency;
        mc.random_stalls = false;
        RegsBench b(mc);
        std::mt19937_64 rng(700 + latency);
        std::vector<EngineCase> cases(4);
        for (size_t i = 0; i < cases.size(); i++)
            ASSERT_EQ(engine_random_case(rng, 120, cases[i], -1, -1, i % 2 == 1), "");
        std::vector<spk_eng_head_req> reqs;
        std::vector<uint32_t> desc_at;
        lay_out(cases, rng, b.mem, reqs, desc_at);
        for (size_t i = 0; i < cases.size(); i++) put_desc(b.mem, desc_at[i], reqs[i]);
        for (size_t i = 0; i < cases.size(); i++) {
            std::string err;
            const uint64_t direct = engine_direct_cycles(b.mem, mc, reqs[i], cases[i], err);
            ASSERT_EQ(err, "");
            const RegsOutcome o = b.run(desc_at[i], cases[i]);
            ASSERT_TRUE(o.finished);
            ASSERT_EQ(engine_check(cases[i], o.eng), "") << describe(cases[i]);
            const uint64_t overhead = o.go_to_done - direct;
            std::printf("[ overhead ] latency %2u, %s: engine %llu cycles, GO to done %llu, "
                        "descriptor fetch +%llu, GO to op_done %llu\n",
                        latency, describe(cases[i]).c_str(), (unsigned long long)direct,
                        (unsigned long long)o.go_to_done, (unsigned long long)overhead,
                        (unsigned long long)o.go_to_end);
            // three back-to-back reads answered after the latency, then the queueing cycle
            EXPECT_EQ(overhead, latency + 5u) << describe(cases[i]);
            EXPECT_EQ(o.go_to_end, o.go_to_done + 1) << "op_done the cycle after done";
        }
    }
}

} // namespace
