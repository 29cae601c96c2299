// libspk devices and buffer objects: backends, device info from the registers, argument and
// state errors, firmware faults and timeouts (the host never hangs).
#include "backends.h"
#include "fw_paths.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

extern "C" {
#include "device.h"
#include "spk/fw_abi.h"
#include "spk/regs.h"
#include "spk/spk.h"
}

namespace {

spk_device *open_dev(const char *backend, const char *fw = "spk-fw.elf") {
    std::string path = fw_path(fw);
    spk_device_options opt = {sizeof(opt), path.c_str(), 16u << 20, nullptr, nullptr};
    spk_device *dev = nullptr;
    spk_status st = spk_device_open(backend, &opt, &dev);
    EXPECT_EQ(st, SPK_OK) << spk_last_error();
    return dev;
}

std::string last() {
    return spk_last_error();
}

TEST(Device, EveryBackendOpensAndReadsInfoFromRegisters) {
    for (const std::string &name : test_backends()) {
        const char *backend = name.c_str();
        SCOPED_TRACE(name);
        spk_device *dev = open_dev(backend);
        ASSERT_NE(dev, nullptr);
        spk_device_info info = {};
        info.size = sizeof(info);
        ASSERT_EQ(spk_device_query(dev, &info), SPK_OK) << last();
        // the name as opened (an fpga:PORT name is cut to the field)
        EXPECT_EQ(std::string(info.backend), name.substr(0, sizeof(info.backend) - 1));
        EXPECT_EQ(info.id, SPK_ID_MAGIC);
        EXPECT_EQ(info.version_major, SPK_VERSION_MAJOR);
        EXPECT_EQ(info.topk_parallelism, SPK_PARAM_TOPK_REG_RESVAL);
        if (backend_has_c_engine(name)) {
            EXPECT_EQ(info.max_keys, SPK_PARAM_MAX_KEYS_REG_RESVAL);
        } else if (backend_is_fpga(name)) {
            EXPECT_GT(info.max_keys, 0u) << "the board's NMAX (board_map.json)";
            EXPECT_GT(info.max_head_dim, 0u) << "the board's DMAX";
        } else {
            EXPECT_EQ(info.max_keys, 512u) << "the Verilated engines' NMAX";
            EXPECT_EQ(info.max_head_dim, 64u) << "the Verilated engines' DMAX";
        }
        EXPECT_TRUE(info.caps & (1u << SPK_CAPS_CONTROL_CORE_BIT));
        EXPECT_STREQ(info.fw_name, "spk-fw");
        EXPECT_EQ(info.fw_version >> 16, 2u);
        EXPECT_EQ(info.dram_bytes, 16u << 20);
        // the firmware booted and is idle in its ring loop
        EXPECT_TRUE(spk_dev_reg_read(dev, SPK_STATUS_REG_OFFSET) & (1u << SPK_STATUS_FW_READY_BIT));
        EXPECT_GT(spk_dev_reg_read(dev, SPK_FW_HEARTBEAT_REG_OFFSET), 0u);
        EXPECT_EQ(spk_device_close(dev), SPK_OK);
    }
}

TEST(Device, BackendSelection) {
    spk_device *dev = nullptr;
    std::string path = fw_path("spk-fw.elf");
    spk_device_options opt = {sizeof(opt), path.c_str(), 8u << 20, nullptr, nullptr};
    EXPECT_EQ(spk_device_open("nope", &opt, &dev), SPK_E_BACKEND);
    EXPECT_NE(last().find("unknown backend 'nope'"), std::string::npos) << last();
    EXPECT_EQ(dev, nullptr);
    // fpga:PORT names a board's port: one that cannot be opened is an I/O error naming it
    EXPECT_EQ(spk_device_open("fpga:/dev/uio0", &opt, &dev), SPK_E_IO);
    EXPECT_NE(last().find("fpga link /dev/uio0: cannot open"), std::string::npos) << last();
    EXPECT_EQ(spk_device_open("fpga:", &opt, &dev), SPK_E_BACKEND);
    EXPECT_NE(last().find("expected fpga:PORT"), std::string::npos) << last();
    EXPECT_EQ(spk_device_open("fpga:/dev/null,speed=9", &opt, &dev), SPK_E_BACKEND);
    EXPECT_NE(last().find("option 'speed=9' not understood"), std::string::npos) << last();
    // rtl without its plugin: refused, naming what is missing
    const char *plugin = getenv("SPK_RTL_PLUGIN");
    const std::string saved = plugin ? plugin : "";
    ASSERT_EQ(setenv("SPK_RTL_PLUGIN", "/nonexistent/libspk-rtl.so", 1), 0);
    EXPECT_EQ(spk_device_open("rtl", &opt, &dev), SPK_E_BACKEND);
    EXPECT_NE(last().find("rtl backend unavailable: cannot load the RTL plugin"), std::string::npos)
        << last();
    if (plugin)
        setenv("SPK_RTL_PLUGIN", saved.c_str(), 1);
    else
        unsetenv("SPK_RTL_PLUGIN");
    ASSERT_EQ(setenv("SPK_BACKEND", "sim", 1), 0);
    ASSERT_EQ(spk_device_open(nullptr, &opt, &dev), SPK_OK) << last();
    spk_device_info info = {};
    info.size = sizeof(info);
    ASSERT_EQ(spk_device_query(dev, &info), SPK_OK);
    EXPECT_STREQ(info.backend, "sim");
    spk_device_close(dev);
    ASSERT_EQ(setenv("SPK_BACKEND", "bogus", 1), 0);
    EXPECT_EQ(spk_device_open("", &opt, &dev), SPK_E_BACKEND);
    unsetenv("SPK_BACKEND");
    ASSERT_EQ(setenv("SPK_FIRMWARE", path.c_str(), 1), 0);
    opt.firmware_path = nullptr;
    EXPECT_EQ(spk_device_open("model", &opt, &dev), SPK_OK) << last();
    spk_device_close(dev);
    unsetenv("SPK_FIRMWARE");
}

TEST(Device, BadOpenArguments) {
    spk_device *dev = nullptr;
    std::string path = fw_path("spk-fw.elf");
    EXPECT_EQ(spk_device_open("model", nullptr, nullptr), SPK_E_ARG);
    spk_device_options opt = {4, path.c_str(), 0, nullptr, nullptr};
    EXPECT_EQ(spk_device_open("model", &opt, &dev), SPK_E_ARG);
    opt = {sizeof(opt), path.c_str(), 1, nullptr, nullptr};
    EXPECT_EQ(spk_device_open("model", &opt, &dev), SPK_E_ARG);
    opt.dram_bytes = 1ull << 40;
    EXPECT_EQ(spk_device_open("model", &opt, &dev), SPK_E_ARG);
    EXPECT_NE(last().find("dram_bytes"), std::string::npos);
    opt = {sizeof(opt), "/nonexistent/fw.elf", 0, nullptr, nullptr};
    EXPECT_EQ(spk_device_open("model", &opt, &dev), SPK_E_IO);
    EXPECT_NE(last().find("/nonexistent/fw.elf"), std::string::npos);
    // a host executable is an ELF, but not for this core
    opt = {sizeof(opt), path.c_str(), 0, "/nonexistent/energy.cfg", nullptr};
    EXPECT_EQ(spk_device_open("sim", &opt, &dev), SPK_E_BACKEND);
    EXPECT_NE(last().find("/nonexistent/energy.cfg"), std::string::npos) << last();
    opt = {sizeof(opt), path.c_str(), 0, nullptr, "no-such-preset"};
    EXPECT_EQ(spk_device_open("sim", &opt, &dev), SPK_E_BACKEND);
    EXPECT_NE(last().find("no-such-preset"), std::string::npos) << last();
    ASSERT_EQ(setenv("SPK_SIM_CONFIG", "/nonexistent/sim.cfg", 1), 0);
    opt.sim_config = nullptr;
    EXPECT_EQ(spk_device_open("sim", &opt, &dev), SPK_E_BACKEND);
    EXPECT_NE(last().find("/nonexistent/sim.cfg"), std::string::npos) << last();
    unsetenv("SPK_SIM_CONFIG");
    // options of driver 1.1 (without sim_config) are still accepted
    opt.size = SPK_DEVICE_OPTIONS_SIZE_V1_1;
    opt.sim_config = "no-such-preset"; /* beyond .size: must not be read */
    EXPECT_EQ(spk_device_open("sim", &opt, &dev), SPK_OK) << last();
    spk_device_close(dev);
    dev = nullptr;
    opt = {sizeof(opt), "/proc/self/exe", 0, nullptr, nullptr};
    EXPECT_EQ(spk_device_open("model", &opt, &dev), SPK_E_FW);
    EXPECT_NE(last().find("class 2"), std::string::npos) << last();
    EXPECT_EQ(dev, nullptr);
    EXPECT_EQ(spk_device_close(nullptr), SPK_OK);
    spk_device_info info = {};
    EXPECT_EQ(spk_device_query(nullptr, &info), SPK_E_ARG);
    EXPECT_STREQ(spk_status_str(SPK_E_FW), "firmware refused");
    EXPECT_STREQ(spk_status_str(static_cast<spk_status>(-99)), "unknown status");
}

TEST(Device, BufferObjects) {
    for (const std::string &backend : test_backends()) {
        SCOPED_TRACE(backend);
        spk_device *dev = open_dev(backend.c_str());
        ASSERT_NE(dev, nullptr);
        spk_bo *a = nullptr, *b = nullptr;
        ASSERT_EQ(spk_bo_alloc(dev, 1000, &a), SPK_OK);
        ASSERT_EQ(spk_bo_alloc(dev, 3, &b), SPK_OK);
        uint64_t aa = 0, ba = 0;
        ASSERT_EQ(spk_bo_device_addr(a, &aa), SPK_OK);
        ASSERT_EQ(spk_bo_device_addr(b, &ba), SPK_OK);
        EXPECT_NE(aa, 0u);
        EXPECT_EQ(aa % 64, 0u);
        EXPECT_TRUE(ba >= aa + 1000 || ba + 3 <= aa) << "buffers must not overlap";
        uint8_t *p = nullptr;
        ASSERT_EQ(spk_bo_map(a, reinterpret_cast<void **>(&p)), SPK_OK);
        for (int i = 0; i < 1000; i++) p[i] = static_cast<uint8_t>(i);
        ASSERT_EQ(spk_bo_sync(a, SPK_SYNC_TO_DEVICE, 0, 1000), SPK_OK);
        std::memset(p, 0, 1000);
        ASSERT_EQ(spk_bo_sync(a, SPK_SYNC_FROM_DEVICE, 100, 10), SPK_OK);
        EXPECT_EQ(p[105], 105);
        EXPECT_EQ(p[99], 0) << "only the synced range moves";
        // range checks
        EXPECT_EQ(spk_bo_sync(a, SPK_SYNC_TO_DEVICE, 990, 11), SPK_E_RANGE);
        EXPECT_EQ(spk_bo_sync(a, SPK_SYNC_TO_DEVICE, SIZE_MAX, 2), SPK_E_RANGE);
        EXPECT_EQ(spk_bo_sync(a, static_cast<spk_sync_dir>(7), 0, 1), SPK_E_ARG);
        ASSERT_EQ(spk_bo_free(b), SPK_OK);
        EXPECT_EQ(spk_bo_alloc(dev, 0, &b), SPK_E_ARG);
        EXPECT_EQ(b, nullptr);
        EXPECT_EQ(spk_bo_alloc(dev, SIZE_MAX, &b), SPK_E_ARG);
        EXPECT_EQ(spk_bo_alloc(dev, 15u << 20, &b), SPK_OK) << last();
        spk_bo *c = nullptr;
        EXPECT_EQ(spk_bo_alloc(dev, 2u << 20, &c), SPK_E_NOMEM) << "device memory exhausted";
        EXPECT_EQ(spk_bo_free(b), SPK_OK);
        EXPECT_EQ(spk_bo_alloc(dev, 2u << 20, &c), SPK_OK) << "freed memory is reused";
        EXPECT_EQ(spk_bo_alloc(nullptr, 4, &b), SPK_E_ARG);
        EXPECT_EQ(spk_bo_map(nullptr, reinterpret_cast<void **>(&p)), SPK_E_ARG);
        EXPECT_EQ(spk_bo_map(a, nullptr), SPK_E_ARG);
        // use after close: the buffers stay valid handles but refuse work
        ASSERT_EQ(spk_device_close(dev), SPK_OK);
        EXPECT_EQ(spk_bo_map(a, reinterpret_cast<void **>(&p)), SPK_E_STATE);
        EXPECT_EQ(spk_bo_sync(a, SPK_SYNC_TO_DEVICE, 0, 1), SPK_E_STATE);
        EXPECT_NE(last().find("closed"), std::string::npos);
        spk_bo *d = nullptr;
        EXPECT_EQ(spk_bo_alloc(dev, 4, &d), SPK_E_STATE);
        EXPECT_EQ(d, nullptr);
        EXPECT_EQ(spk_device_query(dev, nullptr), SPK_E_ARG);
        spk_device_info info = {};
        info.size = sizeof(info);
        EXPECT_EQ(spk_device_query(dev, &info), SPK_E_STATE);
        EXPECT_EQ(spk_device_close(dev), SPK_E_STATE) << "double close";
        spk_bo_free(a);
        spk_bo_free(c);
    }
}

// Ring commands straight from the white-box side: a NOP completes, an unknown opcode is
// rejected with the firmware's reason, and a descriptor pointing outside the buffers is a DMA
// error, never a host memory access.
TEST(Device, RingCommandsAndDeviceErrors) {
    for (const std::string &backend : test_backends()) {
        SCOPED_TRACE(backend);
        spk_device *dev = open_dev(backend.c_str());
        ASSERT_NE(dev, nullptr);
        uint32_t fence = 0;
        ASSERT_EQ(spk_dev_queue(dev, SPK_CMD_NOP, 0, 0, &fence), SPK_OK);
        EXPECT_EQ(spk_dev_wait(dev, fence, 1000), SPK_OK) << last();
        EXPECT_EQ(spk_dev_reg_read(dev, SPK_FENCE_DONE_REG_OFFSET), fence);

        ASSERT_EQ(spk_dev_queue(dev, 0x55, 0, 0, &fence), SPK_OK);
        EXPECT_EQ(spk_dev_wait(dev, fence, 1000), SPK_E_DEVICE);
        EXPECT_NE(last().find("rejected the command"), std::string::npos) << last();

        spk_bo *desc = nullptr;
        ASSERT_EQ(spk_bo_alloc(dev, sizeof(spk_fw_layer_desc), &desc), SPK_OK);
        ASSERT_EQ(spk_dev_queue(dev, SPK_CMD_LAYER, desc->addr, sizeof(spk_fw_layer_desc), &fence),
                  SPK_OK);
        EXPECT_EQ(spk_dev_wait(dev, fence, 1000), SPK_E_DEVICE) << "zeroed descriptor: bad size";
        EXPECT_NE(last().find("reason 3"), std::string::npos) << last();
        ASSERT_EQ(spk_dev_queue(dev, SPK_CMD_LAYER, 0x7ffffff0u, 0, &fence), SPK_OK);
        EXPECT_NE(spk_dev_wait(dev, fence, 1000), SPK_OK) << "descriptor in unallocated memory";
        EXPECT_NE(last().find("load access fault"), std::string::npos) << last();
        spk_bo_free(desc);
        spk_device_close(dev);
    }
}

TEST(Device, FirmwareThatNeverCompletesTimesOut) {
    for (const std::string &backend : test_backends()) {
        SCOPED_TRACE(backend);
        spk_device *dev = open_dev(backend.c_str(), "spk-fw-hang.elf");
        ASSERT_NE(dev, nullptr);
        spk_bo *desc = nullptr;
        ASSERT_EQ(spk_bo_alloc(dev, 64, &desc), SPK_OK);
        uint32_t fence = 0;
        ASSERT_EQ(spk_dev_queue(dev, SPK_CMD_LAYER, desc->addr, 0, &fence), SPK_OK);
        // a short wait gives up without stopping the device
        EXPECT_EQ(spk_dev_wait(dev, fence, 5), SPK_E_TIMEOUT);
        EXPECT_NE(last().find("not complete after 5 ms of device time (firmware running)"),
                  std::string::npos)
            << last();
        EXPECT_FALSE(spk_dev_reg_read(dev, SPK_STATUS_REG_OFFSET) & (1u << SPK_STATUS_HALTED_BIT));
        // a long one ends well before its timeout: the watchdog stops the hung firmware
        auto t0 = std::chrono::steady_clock::now();
        EXPECT_EQ(spk_dev_wait(dev, fence, 60000), SPK_E_TIMEOUT);
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                        .count();
        EXPECT_LT(ms, 30000) << "the watchdog, not the 60 s timeout, ended the wait";
        EXPECT_NE(last().find("firmware watchdog"), std::string::npos) << last();
        EXPECT_NE(last().find("core stopped at pc 0x"), std::string::npos) << last();
        EXPECT_EQ(spk_dev_reg_read(dev, SPK_ERR_STATUS_REG_OFFSET) & SPK_ERR_STATUS_CODE_MASK,
                  SPK_ERR_WATCHDOG);
        EXPECT_NE(spk_dev_reg_read(dev, SPK_ERR_PC_REG_OFFSET), 0u);
        // the device stays halted: later work fails fast instead of hanging
        EXPECT_EQ(spk_dev_queue(dev, SPK_CMD_NOP, 0, 0, &fence), SPK_E_TIMEOUT);
        EXPECT_EQ(spk_dev_wait(dev, fence, 10), SPK_E_TIMEOUT);
        spk_bo_free(desc);
        spk_device_close(dev);
    }
}

TEST(Device, FirmwareFaultReportsPc) {
    for (const std::string &backend : test_backends()) {
        SCOPED_TRACE(backend);
        spk_device *dev = open_dev(backend.c_str(), "spk-fw-fault.elf");
        ASSERT_NE(dev, nullptr);
        uint32_t fence = 0;
        ASSERT_EQ(spk_dev_queue(dev, SPK_CMD_LAYER, 0, 0, &fence), SPK_OK);
        EXPECT_EQ(spk_dev_wait(dev, fence, 1000), SPK_E_DEVICE);
        EXPECT_NE(last().find("load access fault at pc 0x"), std::string::npos) << last();
        EXPECT_NE(last().find("0x20000000"), std::string::npos) << last();
        EXPECT_NE(spk_dev_reg_read(dev, SPK_ERR_PC_REG_OFFSET), 0u);
        EXPECT_EQ(spk_dev_wait(dev, fence, 1000), SPK_E_DEVICE) << "still halted";
        spk_device_close(dev);
    }
}

} // namespace

namespace {

TEST(Device, RingWrapsAndRefusesOverflow) {
    for (const std::string &backend : test_backends()) {
        SCOPED_TRACE(backend);
        spk_device *dev = open_dev(backend.c_str());
        ASSERT_NE(dev, nullptr);
        uint32_t fence = 0;
        for (int i = 0; i < 200; i++) { // more than three trips around the 64-entry ring
            ASSERT_EQ(spk_dev_queue(dev, SPK_CMD_NOP, 0, 0, &fence), SPK_OK) << i;
            ASSERT_EQ(spk_dev_wait(dev, fence, 1000), SPK_OK) << i << ": " << last();
        }
        EXPECT_EQ(spk_dev_reg_read(dev, SPK_RING_HEAD_REG_OFFSET), 200u);
        uint32_t first = 0;
        const uint32_t ring_entries = spk_dev_reg_read(dev, SPK_RING_SIZE_REG_OFFSET);
        for (uint32_t i = 0; i < ring_entries; i++)
            ASSERT_EQ(spk_dev_queue(dev, SPK_CMD_NOP, 0, 0, i ? &fence : &first), SPK_OK);
        EXPECT_EQ(spk_dev_queue(dev, SPK_CMD_NOP, 0, 0, &fence), SPK_E_STATE) << "ring full";
        EXPECT_NE(last().find("ring full"), std::string::npos);
        EXPECT_EQ(spk_dev_wait(dev, fence, 1000), SPK_OK) << last();
        EXPECT_EQ(spk_dev_reg_read(dev, SPK_FENCE_DONE_REG_OFFSET), fence);
        spk_device_close(dev);
    }
}

// The engine's registers belong to the control core: the host can read them, never start an
// operation (docs/device.md, "Registers").
TEST(Device, HostCannotStartEngineOperations) {
    for (const std::string &backend : test_backends()) {
        SCOPED_TRACE(backend);
        spk_device *dev = open_dev(backend.c_str());
        ASSERT_NE(dev, nullptr);
        const uint32_t go = 1u << SPK_ENG_CMD_GO_BIT;
        spk_dev_reg_write(dev, SPK_ENG_DESC_REG_OFFSET, 0x1000);
        spk_dev_reg_write(dev, SPK_ENG_CMD_REG_OFFSET,
                          go | SPK_ENG_OP_LAYER_BEGIN << SPK_ENG_CMD_OP_OFFSET);
        EXPECT_EQ(spk_dev_reg_read(dev, SPK_ENG_CMD_REG_OFFSET), 0u) << "the host write is ignored";
        EXPECT_EQ(spk_dev_reg_read(dev, SPK_ENG_DESC_REG_OFFSET), 0u);
        EXPECT_EQ(
            spk_dev_reg_read(dev, SPK_ENG_STATUS_REG_OFFSET) & (1u << SPK_ENG_STATUS_BUSY_BIT), 0u);
        spk_device_close(dev);
    }
}

} // namespace
