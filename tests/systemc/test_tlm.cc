// The TLM-2.0 device on its sockets (systemc/spk_tlm_device.h): register window access rules, bad
// accesses answered with error responses, DMI used for DRAM (and given up when the target revokes
// it), the interrupt following INTR_STATE and CTRL.IRQ_EN. One platform for the whole binary
// (SystemC elaborates once per process): memory, router, the device loading the firmware itself,
// and an initiator driven from main() between sc_start() calls. A plain main runs the tests.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "spk_tlm_device.h"
#include "spk_tlm_memory.h"
#include "spk_tlm_router.h"

extern "C" {
#include "spk/fw_abi.h"
#include "spk/regs.h"
}

namespace {

constexpr uint64_t regs = 0x40000000u, local = 0x40040000u, dram = 0x80000000u;
constexpr uint64_t dram_bytes = 16u << 20;

struct initiator : sc_core::sc_module {
    tlm_utils::simple_initiator_socket<initiator> socket;
    explicit initiator(sc_core::sc_module_name n) : sc_core::sc_module(n), socket("socket") {}
    tlm::tlm_response_status access(tlm::tlm_command cmd, uint64_t addr, void *data, unsigned len,
                                    unsigned char *be = nullptr, unsigned width = 0) {
        tlm::tlm_generic_payload p;
        p.set_command(cmd);
        p.set_address(addr);
        p.set_data_ptr(static_cast<unsigned char *>(data));
        p.set_data_length(len);
        p.set_streaming_width(width ? width : len);
        p.set_byte_enable_ptr(be);
        p.set_byte_enable_length(be ? len : 0);
        p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
        sc_core::sc_time d = sc_core::SC_ZERO_TIME;
        socket->b_transport(p, d);
        return p.get_response_status();
    }
    uint32_t read(uint64_t addr) {
        uint32_t v = 0xdeadbeef;
        EXPECT_EQ(access(tlm::TLM_READ_COMMAND, addr, &v, 4), tlm::TLM_OK_RESPONSE) << addr;
        return v;
    }
    void write(uint64_t addr, uint32_t v) {
        EXPECT_EQ(access(tlm::TLM_WRITE_COMMAND, addr, &v, 4), tlm::TLM_OK_RESPONSE) << addr;
    }
};

struct platform {
    spk::tlm_memory memory{"memory", dram_bytes};
    spk::tlm_router router{"router"};
    spk::tlm_device device{"device",
                           regs,
                           dram,
                           dram_bytes,
                           "sim",
                           SPK_TEST_FW_DIR "/spk-fw.elf",
                           sc_core::sc_time(1, sc_core::SC_US)};
    sc_core::sc_signal<bool> irq{"irq"};
    initiator cpu{"cpu"};
    platform() {
        cpu.socket.bind(router.target);
        device.dram.bind(router.target);
        device.irq.bind(irq);
        router.initiator.bind(device.regs);
        router.initiator.bind(device.local);
        router.initiator.bind(memory.socket);
        router.map(regs, spk::tlm_device::reg_window_bytes, 0);
        router.map(local, spk::tlm_device::local_window_bytes, 1);
        router.map(dram, dram_bytes, 2);
    }
};

platform &pf() {
    static platform *p = [] {
        auto *q = new platform;
        sc_core::sc_start(sc_core::sc_time(100, sc_core::SC_US)); // the firmware boots
        return q;
    }();
    return *p;
}

void run_for_us(double us) {
    sc_core::sc_start(sc_core::sc_time(us, sc_core::SC_US));
}

// Queue one NOP through the ring in DRAM and ring the doorbell; returns its fence.
uint32_t queue_nop() {
    static uint32_t next = 0;
    platform &p = pf();
    const uint32_t ring = 0x1000, entries = 4, tail = p.cpu.read(regs + SPK_RING_TAIL_REG_OFFSET);
    spk_ring_cmd cmd = {};
    cmd.opcode = SPK_CMD_NOP;
    cmd.fence = ++next;
    EXPECT_EQ(p.cpu.access(tlm::TLM_WRITE_COMMAND, dram + ring + (tail % entries) * 64, &cmd,
                           sizeof(cmd)),
              tlm::TLM_OK_RESPONSE);
    p.cpu.write(regs + SPK_RING_BASE_REG_OFFSET, ring);
    p.cpu.write(regs + SPK_RING_SIZE_REG_OFFSET, entries);
    p.cpu.write(regs + SPK_RING_TAIL_REG_OFFSET, tail + 1);
    p.cpu.write(regs + SPK_DOORBELL_REG_OFFSET, tail + 1);
    return cmd.fence;
}

TEST(Tlm, FirmwareBootsFromTheConstructorsPath) {
    platform &p = pf();
    EXPECT_TRUE(p.device.error().empty()) << p.device.error();
    EXPECT_TRUE(p.cpu.read(regs + SPK_STATUS_REG_OFFSET) & (1u << SPK_STATUS_FW_READY_BIT));
    EXPECT_TRUE(p.device.idle()) << "the core sleeps in its command loop";
    EXPECT_GT(p.device.device_time(), 0u);
}

TEST(Tlm, RegisterWindowFollowsTheAccessRules) {
    platform &p = pf();
    EXPECT_EQ(p.cpu.read(regs + SPK_ID_REG_OFFSET), SPK_ID_MAGIC);
    p.cpu.write(regs + SPK_ID_REG_OFFSET, 0x12345678u); // read-only for the host: ignored
    EXPECT_EQ(p.cpu.read(regs + SPK_ID_REG_OFFSET), SPK_ID_MAGIC);
    p.cpu.write(regs + SPK_RING_SIZE_REG_OFFSET, 8);
    EXPECT_EQ(p.cpu.read(regs + SPK_RING_SIZE_REG_OFFSET), 8u);
    EXPECT_EQ(p.cpu.read(regs + 0xffc), 0u) << "unmapped offsets read 0";
    // transport_dbg: two words at once, no side effects
    uint32_t two[2] = {};
    tlm::tlm_generic_payload d;
    d.set_command(tlm::TLM_READ_COMMAND);
    d.set_address(regs + SPK_ID_REG_OFFSET);
    d.set_data_ptr(reinterpret_cast<unsigned char *>(two));
    d.set_data_length(8);
    EXPECT_EQ(p.cpu.socket->transport_dbg(d), 8u);
    EXPECT_EQ(two[0], SPK_ID_MAGIC);
    EXPECT_EQ(two[1], p.cpu.read(regs + SPK_ID_REG_OFFSET + 4));
    EXPECT_EQ(p.cpu.read(regs + SPK_PARAM_CLOCK_KHZ_REG_OFFSET), 1000000u);
    EXPECT_EQ(p.device.clock_period(), sc_core::sc_time(1, sc_core::SC_NS));
}

TEST(Tlm, BadAccessesGetErrorResponsesNotCrashes) {
    platform &p = pf();
    const uint64_t before = p.device.stats().reg_errors;
    uint32_t v = 0;
    uint64_t wide[2] = {};
    EXPECT_EQ(p.cpu.access(tlm::TLM_READ_COMMAND, regs + SPK_ID_REG_OFFSET, &v, 2),
              tlm::TLM_BURST_ERROR_RESPONSE);
    EXPECT_EQ(p.cpu.access(tlm::TLM_READ_COMMAND, regs + SPK_ID_REG_OFFSET, wide, 16),
              tlm::TLM_BURST_ERROR_RESPONSE);
    EXPECT_EQ(p.cpu.access(tlm::TLM_WRITE_COMMAND, regs + SPK_ID_REG_OFFSET, &v, 4, nullptr, 2),
              tlm::TLM_BURST_ERROR_RESPONSE);
    EXPECT_EQ(p.cpu.access(tlm::TLM_READ_COMMAND, regs + 2, &v, 4),
              tlm::TLM_ADDRESS_ERROR_RESPONSE);
    unsigned char be[4] = {0xff, 0, 0xff, 0};
    EXPECT_EQ(p.cpu.access(tlm::TLM_WRITE_COMMAND, regs + SPK_CTRL_REG_OFFSET, &v, 4, be),
              tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
    EXPECT_EQ(p.device.stats().reg_errors, before + 5);
    // outside the window (the router) and outside DRAM (the memory)
    EXPECT_EQ(p.cpu.access(tlm::TLM_READ_COMMAND, regs + 0x1000, &v, 4),
              tlm::TLM_ADDRESS_ERROR_RESPONSE);
    EXPECT_EQ(p.cpu.access(tlm::TLM_READ_COMMAND, dram + dram_bytes - 2, &v, 4),
              tlm::TLM_ADDRESS_ERROR_RESPONSE);
    // the core's memories: only inside IMEM or DMEM
    EXPECT_EQ(p.cpu.access(tlm::TLM_READ_COMMAND, local, &v, 4), tlm::TLM_OK_RESPONSE);
    EXPECT_EQ(p.cpu.access(tlm::TLM_READ_COMMAND, local + SPK_MEM_IMEM_SIZE - 2, &v, 4),
              tlm::TLM_ADDRESS_ERROR_RESPONSE);
    EXPECT_EQ(p.cpu.read(regs + SPK_ID_REG_OFFSET), SPK_ID_MAGIC) << "the device still answers";
}

TEST(Tlm, DeviceDramGoesThroughTheSocketWithDmi) {
    platform &p = pf();
    const spk::tlm_device::counters before = p.device.stats();
    const uint32_t fence = queue_nop();
    run_for_us(50);
    EXPECT_EQ(p.cpu.read(regs + SPK_FENCE_DONE_REG_OFFSET), fence);
    const spk::tlm_device::counters after = p.device.stats();
    EXPECT_GT(after.dram_dmi, before.dram_dmi) << "the core read the ring through DMI";
    EXPECT_GE(after.dmi_grants, 1u);
    EXPECT_GE(p.memory.stats().dmi_grants, 1u);
    // The memory revokes DMI: the device drops its pointer and falls back to b_transport.
    p.memory.set_dmi(false);
    EXPECT_EQ(p.device.stats().dmi_invalidations, after.dmi_invalidations + 1);
    const uint64_t reads = p.memory.stats().reads;
    const uint32_t fence2 = queue_nop();
    run_for_us(50);
    EXPECT_EQ(p.cpu.read(regs + SPK_FENCE_DONE_REG_OFFSET), fence2);
    EXPECT_EQ(p.device.stats().dram_dmi, after.dram_dmi) << "no DMI once revoked";
    EXPECT_GT(p.device.stats().dram_transactions, after.dram_transactions);
    EXPECT_GT(p.memory.stats().reads, reads + 1) << "the core's reads reached the memory";
    p.memory.set_dmi(true);
    const uint32_t fence3 = queue_nop();
    run_for_us(50);
    EXPECT_EQ(p.cpu.read(regs + SPK_FENCE_DONE_REG_OFFSET), fence3);
    EXPECT_GT(p.device.stats().dmi_grants, after.dmi_grants) << "DMI granted again";
}

TEST(Tlm, IrqFollowsIntrStateGatedByIrqEn) {
    platform &p = pf();
    const uint32_t done = 1u << SPK_INTR_STATE_DONE_BIT;
    p.cpu.write(regs + SPK_INTR_STATE_REG_OFFSET, ~0u);
    p.cpu.write(regs + SPK_CTRL_REG_OFFSET, 1u << SPK_CTRL_RUN_BIT);
    run_for_us(1);
    EXPECT_FALSE(p.irq.read());
    queue_nop();
    run_for_us(50);
    EXPECT_TRUE(p.cpu.read(regs + SPK_INTR_STATE_REG_OFFSET) & done);
    EXPECT_FALSE(p.irq.read()) << "IRQ_EN is clear";
    p.cpu.write(regs + SPK_CTRL_REG_OFFSET, 1u << SPK_CTRL_RUN_BIT | 1u << SPK_CTRL_IRQ_EN_BIT);
    run_for_us(1);
    EXPECT_TRUE(p.irq.read()) << "DONE and IRQ_EN";
    p.cpu.write(regs + SPK_INTR_STATE_REG_OFFSET, done);
    run_for_us(1);
    EXPECT_FALSE(p.irq.read()) << "DONE cleared";
    queue_nop();
    run_for_us(50);
    EXPECT_TRUE(p.irq.read()) << "raised by the firmware with IRQ_EN set";
    p.cpu.write(regs + SPK_CTRL_REG_OFFSET, 1u << SPK_CTRL_RUN_BIT);
    run_for_us(1);
    EXPECT_FALSE(p.irq.read()) << "IRQ_EN cleared";
    p.cpu.write(regs + SPK_INTR_STATE_REG_OFFSET, done);
}

} // namespace

// The platform for the other files of this binary (SystemC elaborates once per process).
spk::tlm_device &test_tlm_device() {
    return pf().device;
}
uint64_t test_tlm_dram_base() {
    return dram;
}
bool test_tlm_dram_write(uint64_t offset, const void *src, unsigned bytes) {
    return pf().cpu.access(tlm::TLM_WRITE_COMMAND, dram + offset, const_cast<void *>(src), bytes) ==
           tlm::TLM_OK_RESPONSE;
}

// libsystemc refers to sc_main; this binary has its own main, so it is never called.
int sc_main(int, char **) {
    return 1;
}

int main(int argc, char **argv) {
    setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
