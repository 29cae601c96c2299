// spk-attn --backend: the same layer through libspk on every backend of the build
// (tests/driver/backends.h, $SPK_TEST_BACKENDS) writes the same output file, byte for byte, as
// the golden model run directly, with the same counters and kept counts; on inputs drawn from
// test_seed(). Backends that cannot prune refuse a pruning option with a message; what libspk
// cannot express (the pruning state in or out, the top-k trace) is refused on every backend.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits.h>
#include <random>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "attention_fixture.h"
#include "backends.h"
#include "spksim/npy.h"

namespace {

std::string tool() {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return "spk-attn";
    std::string self(buf, (size_t)n);
    return self.substr(0, self.rfind('/')) + "/spk-attn";
}

struct Result {
    int status;
    std::string output;
};

Result run(const std::string &args) {
    // The RTL backends load the plugin of this build.
    std::string env = test_rtl_built() ? "SPK_RTL_PLUGIN=" SPK_TEST_RTL_PLUGIN " " : "";
    std::string cmd = env + tool() + " " + args + " 2>&1";
    FILE *p = popen(cmd.c_str(), "r");
    Result r{-1, ""};
    if (!p) return r;
    char buf[512];
    while (fgets(buf, sizeof buf, p)) r.output += buf;
    int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    return r;
}

std::string slurp(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

// The integer value of "key" in a stats JSON file, or -1 if absent.
long long json_value(const std::string &json, const std::string &key) {
    size_t at = json.find("\"" + key + "\": ");
    return at == std::string::npos ? -1 : std::atoll(json.c_str() + at + key.size() + 4);
}

class CliBackends : public ::testing::Test {
  protected:
    void SetUp() override {
        // Shapes inside every engine's limits (the Verilated engines: 512 keys, d = 64).
        std::mt19937 rng(static_cast<std::mt19937::result_type>(test_seed()));
        dir = ::testing::TempDir() + "spk-attn-backends-" + std::to_string(getpid()) + "-";
        q = save("q.npy", random_normal(4 * 3 * 16, rng, 2.0f), {4, 3, 16});
        k = save("k.npy", random_normal(2 * 40 * 16, rng), {2, 40, 16});
        v = save("v.npy", random_normal(2 * 40 * 16, rng), {2, 40, 16});
    }
    std::string save(const std::string &name, const std::vector<float> &x,
                     std::vector<uint64_t> shape) {
        std::string path = dir + name;
        char err[256];
        if (spk_npy_write_f32(path.c_str(), x.data(), (uint32_t)shape.size(), shape.data(), err,
                              sizeof err) != SPKSIM_OK)
            ADD_FAILURE() << err;
        return path;
    }
    // Runs spk-attn with @p opts, writing DIR/NAME.npy and DIR/NAME.json.
    Result attn(const std::string &name, const std::string &opts) {
        return run("--q " + q + " --k " + k + " --v " + v + " --out " + dir + name +
                   ".npy --stats " + dir + name + ".json " + opts);
    }
    std::string out(const std::string &name) { return slurp(dir + name + ".npy"); }
    std::string stats(const std::string &name) { return slurp(dir + name + ".json"); }
    std::string dir, q, k, v;
};

// Progressive quantization with LSB refetches, local V pruning and the causal mask.
const std::string kLayer = "--causal --kv-bits 6+4 --requant 0.3 --v-keep 0.5";
const std::string kPrune = " --token-keep 0.5 --head-count 3";

TEST_F(CliBackends, EveryBackendWritesTheGoldenModelsBytes) {
    Result g = attn("golden", kLayer);
    ASSERT_EQ(g.status, 0) << g.output;
    Result gp = attn("golden-pruned", kLayer + kPrune);
    ASSERT_EQ(gp.status, 0) << gp.output;
    const std::string golden = out("golden"), golden_json = stats("golden");
    ASSERT_EQ(golden.size(), 128u + 4 * 3 * 16 * 4);
    EXPECT_GT(json_value(golden_json, "requant_requests"), 0) << "the LSB refetch ran";
    EXPECT_EQ(json_value(stats("golden-pruned"), "tokens_kept"), 20);
    EXPECT_EQ(json_value(stats("golden-pruned"), "heads_kept"), 3);
    for (const std::string &b : test_backends()) {
        SCOPED_TRACE(b);
        Result r = attn(b, kLayer + " --backend " + b);
        ASSERT_EQ(r.status, 0) << r.output;
        EXPECT_TRUE(out(b) == golden) << "spk-attn --backend " << b << " differs from golden";
        const std::string json = stats(b);
        for (const char *key : {"heads_computed", "heads_kept", "tokens_alive", "tokens_kept",
                                "requests", "keys_fetched", "values_fetched", "requant_requests"})
            EXPECT_EQ(json_value(json, key), json_value(golden_json, key)) << key << ": " << json;
        if (backend_counts_spec_traffic(b)) {
            EXPECT_EQ(json_value(json, "dram_bytes"), json_value(golden_json, "dram_bytes"));
        } else {
            EXPECT_GT(json_value(json, "dram_bytes"), 0) << json;
        }
        EXPECT_NE(json.find("\"backend\": \"" + b + "\""), std::string::npos) << json;
        EXPECT_GT(json_value(json, "core_instret"), 0) << "the firmware ran: " << json;
        if (!backend_times_engine(b)) {
            EXPECT_EQ(json_value(json, "engine_cycles"), 0) << "the model backend keeps no time";
        } else {
            EXPECT_GT(json_value(json, "engine_cycles"), 0) << json;
        }
        EXPECT_EQ(json.find("kept_tokens"), std::string::npos) << "the device keeps the lists";

        const std::string pruned = b + "-pruned";
        r = attn(pruned, kLayer + kPrune + " --backend " + b);
        if (!backend_prunes(b)) {
            std::printf("[ NOTE     ] %s: no prune unit; --token-keep is checked to be refused\n",
                        b.c_str());
            EXPECT_EQ(r.status, 1) << r.output;
            EXPECT_NE(r.output.find("--backend " + b), std::string::npos) << r.output;
            EXPECT_NE(r.output.find("PRUNE"), std::string::npos) << r.output;
            continue;
        }
        ASSERT_EQ(r.status, 0) << r.output;
        EXPECT_TRUE(out(pruned) == out("golden-pruned")) << "pruned run differs from golden";
        EXPECT_EQ(json_value(stats(pruned), "tokens_kept"), 20) << stats(pruned);
        EXPECT_EQ(json_value(stats(pruned), "heads_kept"), 3) << stats(pruned);
    }
}

// Per-step selection (with a first stage) on every backend: the golden model's bytes where the
// engine has the scoring stage, a refusal naming the select policy where it does not.
TEST_F(CliBackends, SelectionOnEveryBackend) {
    const std::string sel = kLayer + " --select-count 10 --select-sinks 2 --select-recent 3 "
                                     "--select-dims 4 --select-candidates 32";
    Result g = attn("golden-select", sel);
    ASSERT_EQ(g.status, 0) << g.output;
    EXPECT_GT(json_value(stats("golden-select"), "select_scored"), 0) << stats("golden-select");
    for (const std::string &b : test_backends()) {
        SCOPED_TRACE(b);
        const std::string name = b + "-select";
        Result r = attn(name, sel + " --backend " + b);
        if (!backend_has_c_engine(b)) {
            std::printf("[ NOTE     ] %s: no scoring stage; --select-count is checked to be "
                        "refused\n",
                        b.c_str());
            EXPECT_EQ(r.status, 1) << r.output;
            EXPECT_NE(r.output.find("with the select policy"), std::string::npos) << r.output;
            continue;
        }
        ASSERT_EQ(r.status, 0) << r.output;
        EXPECT_TRUE(out(name) == out("golden-select")) << "differs from golden";
        EXPECT_EQ(json_value(stats(name), "keys_fetched"),
                  json_value(stats("golden-select"), "keys_fetched"));
        EXPECT_EQ(json_value(stats(name), "dram_bytes"),
                  json_value(stats("golden-select"), "dram_bytes"));
    }
}

TEST_F(CliBackends, BackendGoldenIsTheDirectRun) {
    ASSERT_EQ(attn("direct", kLayer + kPrune).status, 0);
    Result r = attn("named", kLayer + kPrune + " --backend golden");
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_TRUE(out("direct") == out("named"));
    EXPECT_EQ(stats("direct"), stats("named"));
    EXPECT_NE(stats("named").find("\"kept_tokens\""), std::string::npos);
    EXPECT_EQ(stats("named").find("\"device\""), std::string::npos);
}

TEST_F(CliBackends, WhatLibspkCannotExpressIsRefused) {
    const std::string state = dir + "state.bin";
    ASSERT_EQ(
        run("--q " + q + " --k " + k + " --v " + v + " --out " + dir + "s.npy --state-out " + state)
            .status,
        0);
    struct {
        std::string opts, message;
    } cases[] = {
        {"--backend model --state-in " + state, "--state-in needs --backend golden"},
        {"--backend sim --state-out " + state, "--state-out needs --backend golden"},
        {"--backend model --topk-parallelism 4", "--topk-parallelism needs --backend golden"},
        {"--backend ''", "--backend needs a name"},
    };
    for (auto &c : cases) {
        Result r = attn("refused", c.opts);
        EXPECT_EQ(r.status, 2) << c.opts << ": " << r.output;
        EXPECT_NE(r.output.find(c.message), std::string::npos) << c.opts << ": " << r.output;
    }
    // libspk decides which backends exist; its message is passed on.
    Result r = attn("refused", "--backend fpga");
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(r.output.find("unknown backend 'fpga'"), std::string::npos) << r.output;
    EXPECT_NE(run("--help").output.find("--backend NAME"), std::string::npos);
}

} // namespace
