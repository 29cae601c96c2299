// Instruction-class tests of the RV32IM simulator with hand-assembled programs. Expected values
// come from C++ arithmetic on the same operands (an independent model of the ISA semantics).
#include "rv32_asm.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

extern "C" {
#include "spksim/iss.h"
}

namespace {

constexpr uint32_t kImem = 0x0, kDmem = 0x10000000, kMmio = 0x40000000;

struct MmioLog {
    std::vector<uint32_t> writes; // offset, size, value triples
    uint32_t read_value = 0;
    int fail = 0;
};

int mmio_read(void *ctx, uint32_t off, unsigned size, uint32_t *v) {
    auto *log = static_cast<MmioLog *>(ctx);
    (void)off;
    (void)size;
    *v = log->read_value;
    return log->fail;
}
int mmio_write(void *ctx, uint32_t off, unsigned size, uint32_t v) {
    auto *log = static_cast<MmioLog *>(ctx);
    log->writes.insert(log->writes.end(), {off, size, v});
    return log->fail;
}

class Iss : public ::testing::Test {
  protected:
    void SetUp() override {
        spk_iss_config cfg{sizeof(cfg), kImem, 4096, kDmem, 4096, 0};
        iss = spk_iss_create(&cfg);
        ASSERT_NE(iss, nullptr);
        spk_iss_window w{kMmio, 0x100, 5, mmio_read, mmio_write, &log};
        ASSERT_EQ(spk_iss_add_window(iss, &w), 0);
    }
    void TearDown() override { spk_iss_destroy(iss); }

    // Loads prog + ebreak at 0 and runs to the ebreak; returns the stop result.
    spk_iss_result run(std::vector<uint32_t> prog, bool add_ebreak = true) {
        if (add_ebreak) prog.push_back(rv::kEbreak);
        EXPECT_EQ(spk_iss_write_mem(iss, kImem, prog.data(), prog.size() * 4), 0);
        spk_iss_result res;
        spk_iss_run(iss, 10000, &res);
        return res;
    }
    // Runs one instruction with x1 = a, x2 = b and returns x3; checks it stopped at the ebreak.
    uint32_t one(uint32_t insn, uint32_t a, uint32_t b) {
        spk_iss_reset(iss, kImem);
        spk_iss_set_reg(iss, 1, a);
        spk_iss_set_reg(iss, 2, b);
        spk_iss_result res = run({insn});
        EXPECT_EQ(res.stop, SPK_ISS_STOP_TRAP);
        EXPECT_EQ(res.cause, SPK_ISS_CAUSE_BREAKPOINT);
        EXPECT_EQ(res.pc, 4u);
        return spk_iss_get_reg(iss, 3);
    }
    spk_iss *iss = nullptr;
    MmioLog log;
};

std::vector<uint32_t> operands() {
    std::vector<uint32_t> v = {0, 1, 2, 31, 32, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe};
    std::mt19937 rng(5);
    for (int k = 0; k < 24; k++) v.push_back(rng());
    return v;
}

TEST_F(Iss, RegisterAlu) {
    for (uint32_t a : operands())
        for (uint32_t b : operands()) {
            int32_t sa = static_cast<int32_t>(a), sb = static_cast<int32_t>(b);
            EXPECT_EQ(one(rv::op(0, 0, 3, 1, 2), a, b), a + b);
            EXPECT_EQ(one(rv::op(0x20, 0, 3, 1, 2), a, b), a - b);
            EXPECT_EQ(one(rv::op(0, 1, 3, 1, 2), a, b), a << (b & 31));
            EXPECT_EQ(one(rv::op(0, 2, 3, 1, 2), a, b), static_cast<uint32_t>(sa < sb));
            EXPECT_EQ(one(rv::op(0, 3, 3, 1, 2), a, b), static_cast<uint32_t>(a < b));
            EXPECT_EQ(one(rv::op(0, 4, 3, 1, 2), a, b), a ^ b);
            EXPECT_EQ(one(rv::op(0, 5, 3, 1, 2), a, b), a >> (b & 31));
            EXPECT_EQ(one(rv::op(0x20, 5, 3, 1, 2), a, b), static_cast<uint32_t>(sa >> (b & 31)));
            EXPECT_EQ(one(rv::op(0, 6, 3, 1, 2), a, b), a | b);
            EXPECT_EQ(one(rv::op(0, 7, 3, 1, 2), a, b), a & b);
        }
}

TEST_F(Iss, ImmediateAlu) {
    const int32_t imms[] = {0, 1, -1, 2047, -2048, 123, -77};
    for (uint32_t a : operands())
        for (int32_t imm : imms) {
            uint32_t ui = static_cast<uint32_t>(imm);
            EXPECT_EQ(one(rv::addi(3, 1, imm), a, 0), a + ui);
            EXPECT_EQ(one(rv::opimm(2, 3, 1, imm), a, 0),
                      static_cast<uint32_t>(static_cast<int32_t>(a) < imm));
            EXPECT_EQ(one(rv::opimm(3, 3, 1, imm), a, 0), static_cast<uint32_t>(a < ui));
            EXPECT_EQ(one(rv::opimm(4, 3, 1, imm), a, 0), a ^ ui);
            EXPECT_EQ(one(rv::opimm(6, 3, 1, imm), a, 0), a | ui);
            EXPECT_EQ(one(rv::opimm(7, 3, 1, imm), a, 0), a & ui);
        }
    for (uint32_t a : operands())
        for (int sh = 0; sh < 32; sh += 7) {
            EXPECT_EQ(one(rv::opimm(1, 3, 1, sh), a, 0), a << sh);
            EXPECT_EQ(one(rv::opimm(5, 3, 1, sh), a, 0), a >> sh);
            EXPECT_EQ(one(rv::opimm(5, 3, 1, 0x400 | sh), a, 0),
                      static_cast<uint32_t>(static_cast<int32_t>(a) >> sh));
        }
}

TEST_F(Iss, UpperImmediates) {
    EXPECT_EQ(one(rv::lui(3, 0xabcde), 0, 0), 0xabcde000u);
    // auipc at pc 4 (after a nop): 4 + imm<<12
    spk_iss_reset(iss, kImem);
    run({rv::addi(0, 0, 0), rv::auipc(3, 0x12345)});
    EXPECT_EQ(spk_iss_get_reg(iss, 3), 0x12345004u);
}

TEST_F(Iss, JumpsLinkAndLand) {
    // 0: jal x1, +8 -> 8; 4: addi x3,x0,1 (skipped); 8: jalr x5, x1, 8 -> (4+8)&~1 = 12;
    // 12: addi x4,x0,7; 16: ebreak
    spk_iss_reset(iss, kImem);
    spk_iss_result res =
        run({rv::jal(1, 8), rv::addi(3, 0, 1), rv::jalr(5, 1, 8), rv::addi(4, 0, 7)});
    EXPECT_EQ(res.cause, SPK_ISS_CAUSE_BREAKPOINT);
    EXPECT_EQ(spk_iss_get_reg(iss, 1), 4u);
    EXPECT_EQ(spk_iss_get_reg(iss, 5), 12u);
    EXPECT_EQ(spk_iss_get_reg(iss, 3), 0u);
    EXPECT_EQ(spk_iss_get_reg(iss, 4), 7u);
    // jal backwards: 0: jal x0,+8; 4: ebreak; 8: jal x0,-4
    spk_iss_reset(iss, kImem);
    res = run({rv::jal(0, 8), rv::kEbreak, rv::jal(0, -4)}, false);
    EXPECT_EQ(res.cause, SPK_ISS_CAUSE_BREAKPOINT);
    EXPECT_EQ(res.pc, 4u);
}

TEST_F(Iss, Branches) {
    // insn at 0: branch +8 to the ebreak at 8; fallthrough sets x3 = 1.
    struct Case {
        uint32_t f3;
        bool (*taken)(uint32_t, uint32_t);
    };
    const Case cases[] = {
        {0, [](uint32_t a, uint32_t b) { return a == b; }},
        {1, [](uint32_t a, uint32_t b) { return a != b; }},
        {4, [](uint32_t a, uint32_t b) { return (int32_t)a < (int32_t)b; }},
        {5, [](uint32_t a, uint32_t b) { return (int32_t)a >= (int32_t)b; }},
        {6, [](uint32_t a, uint32_t b) { return a < b; }},
        {7, [](uint32_t a, uint32_t b) { return a >= b; }},
    };
    for (const Case &c : cases)
        for (uint32_t a : {0u, 1u, 0x80000000u, 0xffffffffu})
            for (uint32_t b : {0u, 1u, 0x80000000u, 0xffffffffu}) {
                spk_iss_reset(iss, kImem);
                spk_iss_set_reg(iss, 1, a);
                spk_iss_set_reg(iss, 2, b);
                run({rv::b(8, 2, 1, c.f3), rv::addi(3, 0, 1)});
                EXPECT_EQ(spk_iss_get_reg(iss, 3), c.taken(a, b) ? 0u : 1u)
                    << "f3=" << c.f3 << " a=" << a << " b=" << b;
            }
    spk_iss_reset(iss, kImem);
    EXPECT_EQ(run({rv::b(8, 2, 1, 2)}).cause, SPK_ISS_CAUSE_ILLEGAL) << "funct3 2 is no branch";
}

TEST_F(Iss, LoadsAndStoresWithSignExtension) {
    spk_iss_reset(iss, kImem);
    spk_iss_set_reg(iss, 1, kDmem + 0x100);
    spk_iss_set_reg(iss, 2, 0x8081f2f3u);
    run({rv::store(2, 2, 1, 0), rv::store(0, 2, 1, 4), rv::store(1, 2, 1, 6), rv::load(0, 10, 1, 0),
         rv::load(4, 11, 1, 0), rv::load(1, 12, 1, 2), rv::load(5, 13, 1, 2), rv::load(2, 14, 1, 0),
         rv::load(2, 15, 1, 4), rv::load(0, 16, 1, -0x100 + 0x103)});
    EXPECT_EQ(spk_iss_get_reg(iss, 10), 0xfffffff3u); // lb
    EXPECT_EQ(spk_iss_get_reg(iss, 11), 0xf3u);       // lbu
    EXPECT_EQ(spk_iss_get_reg(iss, 12), 0xffff8081u); // lh
    EXPECT_EQ(spk_iss_get_reg(iss, 13), 0x8081u);     // lhu
    EXPECT_EQ(spk_iss_get_reg(iss, 14), 0x8081f2f3u); // lw
    EXPECT_EQ(spk_iss_get_reg(iss, 15), 0xf2f300f3u); // sb at 4, sh at 6
    uint32_t word = 0;
    ASSERT_EQ(spk_iss_read_mem(iss, kDmem + 0x100, &word, 4), 0);
    EXPECT_EQ(word, 0x8081f2f3u);
    // loads from instruction memory are allowed (read-only constants)
    EXPECT_EQ(one(rv::load(2, 3, 0, 0), 0, 0), rv::load(2, 3, 0, 0));
}

TEST_F(Iss, MultiplyDivide) {
    for (uint32_t a : operands())
        for (uint32_t b : operands()) {
            int64_t sa = static_cast<int32_t>(a), sb = static_cast<int32_t>(b);
            EXPECT_EQ(one(rv::op(1, 0, 3, 1, 2), a, b), a * b);
            EXPECT_EQ(one(rv::op(1, 1, 3, 1, 2), a, b), static_cast<uint32_t>((sa * sb) >> 32));
            EXPECT_EQ(one(rv::op(1, 2, 3, 1, 2), a, b),
                      static_cast<uint32_t>((sa * static_cast<int64_t>(b)) >> 32));
            EXPECT_EQ(one(rv::op(1, 3, 3, 1, 2), a, b),
                      static_cast<uint32_t>((static_cast<uint64_t>(a) * b) >> 32));
            uint32_t div = b == 0 ? 0xffffffffu : static_cast<uint32_t>(sa / sb);
            uint32_t rem = b == 0 ? a : static_cast<uint32_t>(sa % sb);
            EXPECT_EQ(one(rv::op(1, 4, 3, 1, 2), a, b), div);
            EXPECT_EQ(one(rv::op(1, 5, 3, 1, 2), a, b), b == 0 ? 0xffffffffu : a / b);
            EXPECT_EQ(one(rv::op(1, 6, 3, 1, 2), a, b), rem);
            EXPECT_EQ(one(rv::op(1, 7, 3, 1, 2), a, b), b == 0 ? a : a % b);
        }
}

struct TrapCase {
    const char *name;
    std::vector<uint32_t> prog;
    uint32_t cause, pc, tval;
};

TEST_F(Iss, TrapsReportPcCauseAndValue) {
    const uint32_t bad = 0xffffffffu;
    const TrapCase cases[] = {
        {"all-zero word", {rv::addi(0, 0, 0), 0}, SPK_ISS_CAUSE_ILLEGAL, 4, 0},
        {"all-ones word", {bad}, SPK_ISS_CAUSE_ILLEGAL, 0, bad},
        {"bad funct7",
         {rv::op(0x40, 0, 3, 1, 2)},
         SPK_ISS_CAUSE_ILLEGAL,
         0,
         rv::op(0x40, 0, 3, 1, 2)},
        {"unknown csr", {0x30002573u}, SPK_ISS_CAUSE_ILLEGAL, 0, 0x30002573u},
        {"misaligned lw", {rv::load(2, 3, 1, 2)}, SPK_ISS_CAUSE_LOAD_MISALIGNED, 0, kDmem + 2},
        {"misaligned sh", {rv::store(1, 2, 1, 1)}, SPK_ISS_CAUSE_STORE_MISALIGNED, 0, kDmem + 1},
        {"load unmapped", {rv::load(2, 3, 1, -4)}, SPK_ISS_CAUSE_LOAD_FAULT, 0, kDmem - 4},
        {"load past dmem",
         {rv::lui(1, 0x10001), rv::load(2, 3, 1, 0)},
         SPK_ISS_CAUSE_LOAD_FAULT,
         4,
         kDmem + 4096},
        {"store to imem", {rv::store(2, 2, 0, 16)}, SPK_ISS_CAUSE_STORE_FAULT, 0, 16},
        {"fetch past imem", {rv::jal(0, 4096)}, SPK_ISS_CAUSE_FETCH_FAULT, 4096, 4096},
        {"jump misaligned", {rv::jal(0, 6)}, SPK_ISS_CAUSE_FETCH_MISALIGNED, 0, 6},
        {"branch misaligned", {rv::b(2, 0, 0, 0)}, SPK_ISS_CAUSE_FETCH_MISALIGNED, 0, 2},
        {"ecall", {rv::kEcall}, SPK_ISS_CAUSE_ECALL, 0, 0},
    };
    for (const TrapCase &c : cases) {
        spk_iss_reset(iss, kImem);
        spk_iss_set_reg(iss, 1, kDmem);
        spk_iss_result res = run(c.prog, false);
        EXPECT_EQ(res.stop, SPK_ISS_STOP_TRAP) << c.name;
        EXPECT_EQ(res.cause, c.cause) << c.name << ": " << spk_iss_cause_str(res.cause);
        EXPECT_EQ(res.pc, c.pc) << c.name;
        EXPECT_EQ(res.tval, c.tval) << c.name;
        EXPECT_EQ(spk_iss_get_pc(iss), c.pc) << c.name << ": PC stays on the fault";
    }
    EXPECT_STREQ(spk_iss_cause_str(SPK_ISS_CAUSE_ILLEGAL), "illegal instruction");
}

TEST_F(Iss, MmioWindowCallbacksAndLatency) {
    spk_iss_reset(iss, kImem);
    log.read_value = 0xdeadbeefu;
    spk_iss_set_reg(iss, 1, kMmio);
    spk_iss_set_reg(iss, 2, 0x1234abcdu);
    run({rv::store(2, 2, 1, 0x10), rv::store(0, 2, 1, 0x21), rv::load(2, 3, 1, 0x8),
         rv::load(4, 4, 1, 0x8), rv::load(1, 5, 1, 0x8)});
    ASSERT_EQ(log.writes.size(), 6u);
    EXPECT_EQ(log.writes[0], 0x10u);
    EXPECT_EQ(log.writes[1], 4u);
    EXPECT_EQ(log.writes[2], 0x1234abcdu);
    EXPECT_EQ(log.writes[3], 0x21u);
    EXPECT_EQ(log.writes[4], 1u);
    EXPECT_EQ(log.writes[5], 0xcdu) << "byte stores pass only the byte";
    EXPECT_EQ(spk_iss_get_reg(iss, 3), 0xdeadbeefu);
    EXPECT_EQ(spk_iss_get_reg(iss, 4), 0xefu);
    EXPECT_EQ(spk_iss_get_reg(iss, 5), 0xffffbeefu);
    // 5 MMIO accesses at latency 5, 3 loads at +1, 5 instructions at 1 (ebreak does not retire)
    EXPECT_EQ(spk_iss_cycles(iss), 5u * 5 + 3 + 5);
    EXPECT_EQ(spk_iss_instret(iss), 5u);

    log.fail = 1; // the device refuses (e.g. unallocated DRAM): the core sees an access fault
    spk_iss_reset(iss, kImem);
    spk_iss_set_reg(iss, 1, kMmio);
    spk_iss_result res = run({rv::load(2, 3, 1, 0x40)});
    EXPECT_EQ(res.cause, SPK_ISS_CAUSE_LOAD_FAULT);
    EXPECT_EQ(res.tval, kMmio + 0x40);
    spk_iss_reset(iss, kImem);
    spk_iss_set_reg(iss, 1, kMmio);
    res = run({rv::store(2, 0, 1, 0x44)});
    EXPECT_EQ(res.cause, SPK_ISS_CAUSE_STORE_FAULT);
    EXPECT_EQ(res.tval, kMmio + 0x44);
    // an access straddling the window end faults too
    spk_iss_reset(iss, kImem);
    spk_iss_set_reg(iss, 1, kMmio);
    log.fail = 0;
    res = run({rv::load(2, 3, 1, 0x100)});
    EXPECT_EQ(res.cause, SPK_ISS_CAUSE_LOAD_FAULT);
}

TEST_F(Iss, CycleCostsByClass) {
    auto cost = [&](std::vector<uint32_t> prog) {
        spk_iss_reset(iss, kImem);
        spk_iss_set_reg(iss, 1, kDmem);
        spk_iss_set_reg(iss, 2, 3);
        run(prog);
        return spk_iss_cycles(iss);
    };
    uint64_t base = cost({rv::addi(3, 0, 1), rv::addi(3, 0, 1)});
    EXPECT_EQ(base, 2u);
    EXPECT_GT(cost({rv::addi(3, 0, 1), rv::load(2, 3, 1, 0)}), base);
    EXPECT_GT(cost({rv::addi(3, 0, 1), rv::op(1, 0, 3, 2, 2)}), base);
    uint64_t div = cost({rv::addi(3, 0, 1), rv::op(1, 4, 3, 2, 2)});
    EXPECT_GT(div, cost({rv::addi(3, 0, 1), rv::op(1, 0, 3, 2, 2)}));
    EXPECT_GT(cost({rv::jal(0, 4), rv::addi(3, 0, 1)}), base);
    // rdcycle sees the count so far
    spk_iss_reset(iss, kImem);
    run({rv::addi(3, 0, 1), rv::addi(3, 0, 1), rv::kRdcycleA0});
    EXPECT_EQ(spk_iss_get_reg(iss, 10), 2u);
}

TEST_F(Iss, WatchdogBudgetAndWfi) {
    // An infinite loop never hangs the host: the budget returns, the watchdog stops it.
    spk_iss_config cfg{sizeof(cfg), kImem, 4096, kDmem, 4096, 1000};
    spk_iss *wd = spk_iss_create(&cfg);
    ASSERT_NE(wd, nullptr);
    uint32_t loop = rv::jal(0, 0);
    ASSERT_EQ(spk_iss_write_mem(wd, kImem, &loop, 4), 0);
    spk_iss_result res;
    EXPECT_EQ(spk_iss_run(wd, 300, &res), SPK_ISS_STOP_BUDGET);
    EXPECT_EQ(res.executed, 300u);
    EXPECT_EQ(spk_iss_run(wd, UINT64_MAX, &res), SPK_ISS_STOP_WATCHDOG);
    EXPECT_EQ(res.executed, 700u);
    EXPECT_EQ(res.pc, 0u);
    spk_iss_kick_watchdog(wd);
    EXPECT_EQ(spk_iss_run(wd, UINT64_MAX, &res), SPK_ISS_STOP_WATCHDOG);
    EXPECT_EQ(res.executed, 1000u);
    spk_iss_destroy(wd);

    spk_iss_reset(iss, kImem);
    std::vector<uint32_t> prog = {rv::addi(3, 0, 1), rv::kWfi, rv::addi(3, 3, 1), rv::kEbreak};
    ASSERT_EQ(spk_iss_write_mem(iss, kImem, prog.data(), prog.size() * 4), 0);
    EXPECT_EQ(spk_iss_run(iss, 100, &res), SPK_ISS_STOP_WFI);
    EXPECT_EQ(res.pc, 8u);
    EXPECT_EQ(spk_iss_run(iss, 100, &res), SPK_ISS_STOP_TRAP);
    EXPECT_EQ(spk_iss_get_reg(iss, 3), 2u);
}

TEST(IssConfig, RejectsBadConfigurations) {
    spk_iss_config ok{sizeof(ok), 0, 4096, 0x10000000, 4096, 0};
    spk_iss_config c = ok;
    c.dmem_base = 0x800; // overlaps imem
    EXPECT_EQ(spk_iss_create(&c), nullptr);
    c = ok;
    c.imem_size = 0;
    EXPECT_EQ(spk_iss_create(&c), nullptr);
    c = ok;
    c.size = 4;
    EXPECT_EQ(spk_iss_create(&c), nullptr);
    c = ok;
    c.dmem_base = 0xfffff000u;
    c.dmem_size = 0x2000;
    EXPECT_EQ(spk_iss_create(&c), nullptr);
    EXPECT_EQ(spk_iss_create(nullptr), nullptr);
    spk_iss *iss = spk_iss_create(&ok);
    ASSERT_NE(iss, nullptr);
    spk_iss_window w{0x800, 0x100, 0, nullptr, nullptr, nullptr};
    EXPECT_EQ(spk_iss_add_window(iss, &w), -1) << "window inside imem";
    w.base = 0x40000000;
    EXPECT_EQ(spk_iss_add_window(iss, &w), 0);
    EXPECT_EQ(spk_iss_add_window(iss, &w), -1) << "overlapping windows";
    w.size = 0;
    w.base = 0x50000000;
    EXPECT_EQ(spk_iss_add_window(iss, &w), -1) << "empty window";
    uint8_t buf[8] = {};
    EXPECT_EQ(spk_iss_write_mem(iss, 4092, buf, 8), -1) << "straddles imem end";
    EXPECT_EQ(spk_iss_read_mem(iss, 0x20000000, buf, 1), -1);
    spk_iss_destroy(iss);
    spk_iss_destroy(nullptr);
    spk_iss_result res;
    EXPECT_EQ(spk_iss_run(nullptr, 10, &res), SPK_ISS_STOP_TRAP);
}

} // namespace
