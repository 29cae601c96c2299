// Fault injection on every backend ($SPK_TEST_BACKENDS, tests/driver/backends.h): a DMA out of
// range, a firmware trap, a firmware that never answers, a full ring and a device reset in the
// middle of a layer. Each must give a clear error within its timeout, and the next device opened
// must work. Also: with several commands in flight, a device error goes to the command (so the
// thread) that caused it, never to a neighbour.
#include "backends.h"
#include "fw_paths.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include "attn.h"
#include "device.h"
#include "spk/fw_abi.h"
#include "spk/regs.h"
#include "spk/spk.h"
}

namespace {

constexpr uint32_t kHeads = 4, kKvHeads = 2, kD = 16, kTokens = 16;

spk_device *open_dev(const std::string &backend, const char *fw = "spk-fw.elf") {
    const std::string path = fw_path(fw);
    spk_device_options opt = {sizeof(opt), path.c_str(), 16u << 20, nullptr, nullptr};
    spk_device *dev = nullptr;
    EXPECT_EQ(spk_device_open(backend.c_str(), &opt, &dev), SPK_OK) << spk_last_error();
    return dev;
}

std::string last() {
    return spk_last_error();
}

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// One layer's inputs: kTokens new tokens and as many causal queries, all heads.
struct Layer {
    std::vector<float> q, k, v;
    spk_layer_submit s{};
    Layer() : q(kHeads * kTokens * kD), k(kKvHeads * kTokens * kD), v(kKvHeads * kTokens * kD) {
        for (size_t i = 0; i < q.size(); i++) q[i] = (float)((i * 37 % 101) - 50) / 25.0f;
        for (size_t i = 0; i < k.size(); i++) k[i] = (float)((i * 53 % 97) - 48) / 24.0f;
        for (size_t i = 0; i < v.size(); i++) v[i] = (float)((i * 29 % 89) - 44) / 22.0f;
        s.size = sizeof(s);
        s.layer = 0;
        s.n_queries = s.n_new_tokens = kTokens;
        s.causal = 1;
        s.q = q.data();
        s.k_new = k.data();
        s.v_new = v.data();
    }
};

spk_attn *make_context(spk_device *dev) {
    const spk_attn_config cfg = {sizeof(cfg), 1, kHeads, kKvHeads, kD, kTokens, 8, 4, 30000, 65536};
    spk_attn *attn = nullptr;
    EXPECT_EQ(spk_attn_create(dev, &cfg, &attn), SPK_OK) << spk_last_error();
    return attn;
}

// The check after every fault: a newly opened device runs a layer and gives its output.
void expect_next_device_works(const std::string &backend) {
    SCOPED_TRACE("the next device opened");
    spk_device *dev = open_dev(backend);
    ASSERT_NE(dev, nullptr);
    spk_attn *attn = make_context(dev);
    ASSERT_NE(attn, nullptr);
    Layer l;
    spk_fence *f = nullptr;
    ASSERT_EQ(spk_attn_submit(attn, &l.s, &f), SPK_OK) << last();
    EXPECT_EQ(spk_fence_wait(f, 10000), SPK_OK) << last();
    std::vector<float> out(kHeads * kTokens * kD, NAN);
    EXPECT_EQ(spk_attn_read_output(attn, out.data(), out.size()), SPK_OK) << last();
    for (float x : out) ASSERT_TRUE(std::isfinite(x));
    spk_fence_free(f);
    spk_attn_destroy(attn);
    EXPECT_EQ(spk_device_close(dev), SPK_OK);
}

TEST(Faults, DmaOutOfRange) {
    for (const std::string &backend : test_backends()) {
        SCOPED_TRACE(backend);
        spk_device *dev = open_dev(backend);
        ASSERT_NE(dev, nullptr);
        spk_attn *attn = make_context(dev);
        ASSERT_NE(attn, nullptr);
        Layer l;
        spk_fence *f = nullptr;
        ASSERT_EQ(spk_attn_submit(attn, &l.s, &f), SPK_OK) << last();
        ASSERT_EQ(spk_fence_wait(f, 10000), SPK_OK) << last();
        spk_fence_free(f);
        // The same descriptor with its output beyond the 16 MiB of DRAM.
        spk_fw_layer_desc *d = nullptr;
        ASSERT_EQ(spk_bo_map(attn->desc, reinterpret_cast<void **>(&d)), SPK_OK);
        d->out_addr = 16u << 20;
        ASSERT_EQ(spk_bo_sync(attn->desc, SPK_SYNC_TO_DEVICE, 0, sizeof(*d)), SPK_OK);
        uint32_t fence = 0;
        ASSERT_EQ(spk_dev_queue(dev, SPK_CMD_LAYER, attn->desc->addr, sizeof(*d), &fence), SPK_OK);
        auto t0 = std::chrono::steady_clock::now();
        EXPECT_EQ(spk_dev_wait(dev, fence, 1000), SPK_E_RANGE);
        EXPECT_LT(ms_since(t0), 1000.0);
        EXPECT_NE(last().find("DMA outside device memory"), std::string::npos) << last();
        // the device itself carries on: a NOP after the error completes cleanly
        ASSERT_EQ(spk_dev_queue(dev, SPK_CMD_NOP, 0, 0, &fence), SPK_OK);
        EXPECT_EQ(spk_dev_wait(dev, fence, 1000), SPK_OK) << last();
        spk_attn_destroy(attn);
        spk_device_close(dev);
        expect_next_device_works(backend);
    }
}

TEST(Faults, FirmwareTrap) {
    for (const std::string &backend : test_backends()) {
        SCOPED_TRACE(backend);
        spk_device *dev = open_dev(backend, "spk-fw-fault.elf");
        ASSERT_NE(dev, nullptr);
        uint32_t fence = 0;
        ASSERT_EQ(spk_dev_queue(dev, SPK_CMD_LAYER, 0, 0, &fence), SPK_OK);
        auto t0 = std::chrono::steady_clock::now();
        EXPECT_EQ(spk_dev_wait(dev, fence, 5000), SPK_E_DEVICE);
        EXPECT_LT(ms_since(t0), 5000.0);
        EXPECT_NE(last().find("firmware fault: load access fault at pc 0x"), std::string::npos)
            << last();
        EXPECT_EQ(spk_dev_queue(dev, SPK_CMD_NOP, 0, 0, &fence), SPK_E_DEVICE) << "halted for good";
        spk_device_close(dev);
        expect_next_device_works(backend);
    }
}

TEST(Faults, FirmwareThatNeverAnswers) {
    for (const std::string &backend : test_backends()) {
        SCOPED_TRACE(backend);
        spk_device *dev = open_dev(backend, "spk-fw-hang.elf");
        ASSERT_NE(dev, nullptr);
        spk_bo *desc = nullptr;
        ASSERT_EQ(spk_bo_alloc(dev, 64, &desc), SPK_OK);
        uint32_t fence = 0;
        ASSERT_EQ(spk_dev_queue(dev, SPK_CMD_LAYER, desc->addr, 0, &fence), SPK_OK);
        const uint32_t timeout_ms = 60000;
        auto t0 = std::chrono::steady_clock::now();
        EXPECT_EQ(spk_dev_wait(dev, fence, timeout_ms), SPK_E_TIMEOUT);
        EXPECT_LT(ms_since(t0), (double)timeout_ms);
        EXPECT_NE(last().find("firmware watchdog"), std::string::npos) << last();
        spk_bo_free(desc);
        spk_device_close(dev);
        expect_next_device_works(backend);
    }
}

TEST(Faults, FullRing) {
    for (const std::string &backend : test_backends()) {
        SCOPED_TRACE(backend);
        spk_device *dev = open_dev(backend);
        ASSERT_NE(dev, nullptr);
        uint32_t fence = 0, last_fence = 0;
        uint32_t queued = 0;
        while (spk_dev_queue(dev, SPK_CMD_NOP, 0, 0, &fence) == SPK_OK && queued < 1000)
            queued++, last_fence = fence;
        EXPECT_EQ(queued, spk_dev_reg_read(dev, SPK_RING_SIZE_REG_OFFSET)) << "ring capacity";
        EXPECT_NE(last().find("command ring full"), std::string::npos) << last();
        auto t0 = std::chrono::steady_clock::now();
        EXPECT_EQ(spk_dev_wait(dev, last_fence, 5000), SPK_OK) << last();
        EXPECT_LT(ms_since(t0), 5000.0);
        ASSERT_EQ(spk_dev_queue(dev, SPK_CMD_NOP, 0, 0, &fence), SPK_OK) << "room again";
        EXPECT_EQ(spk_dev_wait(dev, fence, 1000), SPK_OK) << last();
        spk_device_close(dev);
        expect_next_device_works(backend);
    }
}

// Someone puts the control core back into reset (CTRL.RUN = 0) while the firmware is inside a
// layer: the waiting caller gets "device reset" at once, not a timeout or a wrong output, and the
// device refuses further work instead of hanging.
TEST(Faults, DeviceResetInTheMiddleOfALayer) {
    for (const std::string &backend : test_backends()) {
        SCOPED_TRACE(backend);
        spk_device *dev = open_dev(backend);
        ASSERT_NE(dev, nullptr);
        spk_attn *attn = make_context(dev);
        ASSERT_NE(attn, nullptr);
        Layer l;
        spk_fence *f = nullptr;
        ASSERT_EQ(spk_attn_submit(attn, &l.s, &f), SPK_OK) << last();
        // Run the device in small slices until the firmware is executing the layer.
        const uint32_t busy = 1u << SPK_STATUS_BUSY_BIT;
        int slices = 0;
        while (!(spk_dev_reg_read(dev, SPK_STATUS_REG_OFFSET) & busy) && slices < 10000) {
            dev->be->ops->wait(dev->be, 0, 50);
            slices++;
        }
        dev->be->ops->wait(dev->be, 0, 50); // into the heads
        if (!(spk_dev_reg_read(dev, SPK_STATUS_REG_OFFSET) & busy) ||
            spk_dev_reg_read(dev, SPK_FENCE_DONE_REG_OFFSET) >= dev->next_fence) {
            // The systemc device runs on its own between waits: the layer can be over before
            // the host looks. Said, not passed silently.
            std::printf("[ SKIPPED  ] reset mid-layer on %s: the layer finished before the host "
                        "could catch it running\n",
                        backend.c_str());
            spk_fence_free(f);
            spk_attn_destroy(attn);
            spk_device_close(dev);
            continue;
        }
        spk_dev_reg_write(dev, SPK_CTRL_REG_OFFSET, 0);
        auto t0 = std::chrono::steady_clock::now();
        EXPECT_EQ(spk_fence_wait(f, 10000), SPK_E_DEVICE);
        EXPECT_LT(ms_since(t0), 1000.0) << "reported at once, not after the timeout";
        EXPECT_NE(last().find("device reset"), std::string::npos) << last();
        std::vector<float> out(kHeads * kTokens * kD);
        EXPECT_NE(spk_attn_read_output(attn, out.data(), out.size()), SPK_OK)
            << "no output from a lost layer";
        spk_fence_free(f);
        l.s.layer = 0;
        EXPECT_NE(spk_attn_submit(attn, &l.s, &f), SPK_OK) << "the reset device refuses work";
        uint32_t fence = 0;
        EXPECT_EQ(spk_dev_queue(dev, SPK_CMD_NOP, 0, 0, &fence), SPK_E_DEVICE);
        EXPECT_NE(last().find("device reset"), std::string::npos) << last();
        spk_attn_destroy(attn);
        spk_device_close(dev);
        expect_next_device_works(backend);
    }
}

// The firmware keeps one error record for the device. With commands of several owners in flight,
// each error must reach the wait of the command that caused it: waiting on a good command that
// completed after a failed one is a success, and the failed one still reports its error (before
// the driver published one command at a time, the first wait took the other's error and the
// failed command then reported success).
TEST(Faults, DeviceErrorsGoToTheCommandThatCausedThem) {
    for (const std::string &backend : test_backends()) {
        SCOPED_TRACE(backend);
        spk_device *dev = open_dev(backend);
        ASSERT_NE(dev, nullptr);
        uint32_t fences[6];
        const bool bad[6] = {true, false, true, true, false, false};
        for (int i = 0; i < 6; i++)
            ASSERT_EQ(spk_dev_queue(dev, bad[i] ? 0x55u : (uint32_t)SPK_CMD_NOP, 0, 0, &fences[i]),
                      SPK_OK);
        for (int i : {5, 1, 0, 4, 3, 2, 0, 5}) { // out of order, some twice
            spk_status st = spk_dev_wait(dev, fences[i], 2000);
            if (bad[i]) {
                EXPECT_EQ(st, SPK_E_DEVICE) << "command " << i;
                EXPECT_NE(last().find("rejected the command (reason"), std::string::npos) << last();
                EXPECT_NE(last().find("value 0x55"), std::string::npos) << last();
            } else {
                EXPECT_EQ(st, SPK_OK) << "command " << i << ": " << last();
            }
        }
        spk_device_close(dev);
    }
}

// The same from several threads sharing the device: one thread's commands all fail, the others'
// all succeed, and each thread sees only its own outcomes.
TEST(Faults, DeviceErrorsGoToTheThreadThatCausedThem) {
    for (const std::string &backend : test_backends()) {
        SCOPED_TRACE(backend);
        spk_device *dev = open_dev(backend);
        ASSERT_NE(dev, nullptr);
        constexpr int kThreads = 3,
                      kRounds = 1000; // 3000 commands: fewer than the 4096 outcomes kept
        std::atomic<int> ready{0};
        std::vector<int> wrong(kThreads, 0);
        std::vector<std::string> example(kThreads);
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; t++)
            threads.emplace_back([&, t] {
                const bool bad = t == 0;
                ready++;
                while (ready < kThreads) std::this_thread::yield(); // start together
                for (int r = 0; r < kRounds; r++) {
                    uint32_t fence = 0;
                    const uint32_t op = bad ? 0x55u : (uint32_t)SPK_CMD_NOP;
                    spk_status st = spk_dev_queue(dev, op, 0, 0, &fence);
                    if (st == SPK_E_STATE) continue; // ring momentarily full: not this test's
                    std::this_thread::yield();       // let another thread queue in between
                    if (st == SPK_OK) st = spk_dev_wait(dev, fence, 5000);
                    if ((st == SPK_E_DEVICE) != bad) {
                        wrong[t]++;
                        example[t] = std::string(spk_status_str(st)) + ": " + spk_last_error();
                    }
                }
            });
        for (std::thread &th : threads) th.join();
        for (int t = 0; t < kThreads; t++)
            EXPECT_EQ(wrong[t], 0)
                << "thread " << t << (t ? " (good)" : " (bad)") << ", e.g. " << example[t];
        spk_device_close(dev);
    }
}

} // namespace
