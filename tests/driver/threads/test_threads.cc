// Threads sharing one device (docs/driver.md, "Threads"): each thread has its own contexts and
// fences, all of them on one device, submitting and waiting at the same time. Every thread's
// outputs must be the bits its inputs give when run alone, round after round, and the device
// must stay healthy. Built and run under ThreadSanitizer by `make test-tsan` (part of
// `make test`), where any data race fails the run.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../fw_paths.h"
#include "spk/spk.h"

namespace {

constexpr uint32_t kLayers = 2, kHeads = 4, kKvHeads = 2, kD = 16, kMaxTokens = 48;

struct Work {
    std::vector<float> q, k, v; // one step: 8 new tokens, 8 causal queries
};

std::vector<Work> make_work(uint32_t seed, int steps) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> n(0.0f, 1.0f);
    std::vector<Work> out(steps * kLayers);
    for (Work &w : out) {
        w.q.resize(kHeads * 8 * kD);
        w.k.resize(kKvHeads * 8 * kD);
        w.v.resize(kKvHeads * 8 * kD);
        for (auto *vec : {&w.q, &w.k, &w.v})
            for (float &x : *vec) x = n(rng);
    }
    return out;
}

// Runs the steps on a fresh context of @p dev; returns the concatenated outputs, or an empty
// vector with @p err set.
std::vector<float> run_context(spk_device *dev, const std::vector<Work> &work, std::string &err) {
    const spk_attn_config cfg = {sizeof(cfg), kLayers, kHeads, kKvHeads, kD,
                                 kMaxTokens,  8,       4,      30000,    52000};
    spk_attn *attn = nullptr;
    if (spk_attn_create(dev, &cfg, &attn) != SPK_OK) {
        err = std::string("create: ") + spk_last_error();
        return {};
    }
    std::vector<float> all;
    for (size_t i = 0; i < work.size() && err.empty(); i++) {
        spk_layer_submit s = {};
        s.size = sizeof(s);
        s.layer = (uint32_t)(i % kLayers);
        s.n_queries = s.n_new_tokens = 8;
        s.causal = 1;
        s.q = work[i].q.data();
        s.k_new = work[i].k.data();
        s.v_new = work[i].v.data();
        s.token_keep_q16 = 49152; // prune, so the pruning state is exercised too
        spk_fence *f = nullptr;
        std::vector<float> out(kHeads * 8 * kD);
        if (spk_attn_submit(attn, &s, &f) != SPK_OK)
            err = std::string("submit: ") + spk_last_error();
        else if (spk_fence_wait(f, 20000) != SPK_OK)
            err = std::string("wait: ") + spk_last_error();
        else if (spk_attn_read_output(attn, out.data(), out.size()) != SPK_OK)
            err = std::string("read: ") + spk_last_error();
        spk_fence_free(f);
        all.insert(all.end(), out.begin(), out.end());
    }
    spk_attn_destroy(attn);
    return err.empty() ? all : std::vector<float>();
}

TEST(Threads, ContextsOnOneSharedDeviceFromSeveralThreads) {
    const char *env = std::getenv("SPK_TEST_BACKENDS");
    const std::string backend =
        env && *env ? std::string(env).substr(0, std::string(env).find_first_of(" ,")) : "model";
    const std::string path = fw_path("spk-fw.elf");
    spk_device_options opt = {sizeof(opt), path.c_str(), 32u << 20, nullptr, nullptr};
    spk_device *dev = nullptr;
    ASSERT_EQ(spk_device_open(backend.c_str(), &opt, &dev), SPK_OK) << spk_last_error();
    constexpr int kThreads = 3, kSteps = 3, kRounds = 4;
    std::vector<std::vector<Work>> work;
    std::vector<std::vector<float>> alone;
    for (int t = 0; t < kThreads; t++) {
        work.push_back(make_work(100 + t, kSteps));
        std::string err;
        alone.push_back(run_context(dev, work[t], err));
        ASSERT_TRUE(err.empty()) << err;
    }
    for (int round = 0; round < kRounds; round++) {
        std::vector<std::vector<float>> got(kThreads);
        std::vector<std::string> errs(kThreads);
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; t++)
            threads.emplace_back([&, t] { got[t] = run_context(dev, work[t], errs[t]); });
        for (std::thread &th : threads) th.join();
        for (int t = 0; t < kThreads; t++) {
            ASSERT_TRUE(errs[t].empty()) << "round " << round << " thread " << t << ": " << errs[t];
            EXPECT_EQ(got[t], alone[t]) << "round " << round << " thread " << t;
        }
    }
    EXPECT_EQ(spk_device_close(dev), SPK_OK);
}

} // namespace
