// spk-attn end to end: outputs match the library, stats are complete, and bad options,
// malformed files and shape mismatches give a clear error and a non-zero exit.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <limits.h>
#include <random>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "attention_fixture.h"
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
    std::string cmd = tool() + " " + args + " 2>&1";
    FILE *p = popen(cmd.c_str(), "r");
    Result r{-1, ""};
    if (!p) return r;
    char buf[512];
    while (fgets(buf, sizeof buf, p)) r.output += buf;
    int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    return r;
}

std::string save(const std::string &name, const std::vector<float> &v,
                 std::vector<uint64_t> shape) {
    std::string path = ::testing::TempDir() + name;
    char err[256];
    if (spk_npy_write_f32(path.c_str(), v.data(), (uint32_t)shape.size(), shape.data(), err,
                          sizeof err) != SPKSIM_OK)
        ADD_FAILURE() << err;
    return path;
}

class Cli : public ::testing::Test {
  protected:
    void SetUp() override {
        std::mt19937 rng(4);
        qf = random_normal(2 * 3 * 16, rng, 2.0f);
        kf = random_normal(2 * 50 * 16, rng);
        vf = random_normal(2 * 50 * 16, rng);
        q = save("q.npy", qf, {2, 3, 16});
        k = save("k.npy", kf, {2, 50, 16});
        v = save("v.npy", vf, {2, 50, 16});
        out = ::testing::TempDir() + "o.npy";
        stats = ::testing::TempDir() + "s.json";
    }
    std::string base() const { return "--q " + q + " --k " + k + " --v " + v + " --out " + out; }
    std::vector<float> qf, kf, vf;
    std::string q, k, v, out, stats;
};

TEST_F(Cli, OutputMatchesFloatAttentionAndStatsAreComplete) {
    Result r = run(base() + " --stats " + stats);
    ASSERT_EQ(r.status, 0) << r.output;
    spk_npy o;
    char err[256];
    ASSERT_EQ(spk_npy_read(out.c_str(), &o, err, sizeof err), SPKSIM_OK) << err;
    ASSERT_EQ(o.count, 2u * 3 * 16);
    std::vector<uint32_t> keys(50);
    for (uint32_t j = 0; j < 50; j++) keys[j] = j;
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < 3; i++) {
            auto ref = float_attention(&qf[(h * 3 + i) * 16], &kf[h * 50 * 16], &vf[h * 50 * 16],
                                       keys, 16);
            for (int x = 0; x < 16; x++)
                EXPECT_NEAR(((float *)o.data)[(h * 3 + i) * 16 + x], ref[x], 0.01);
        }
    spk_npy_free(&o);
    std::ifstream in(stats);
    std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const char *key : {"\"heads_kept\": 2", "\"tokens_kept\": 50", "\"keys_fetched\": 300",
                            "\"values_fetched\": 300", "\"requant_requests\": 0",
                            "\"dram_bytes\": 16800", "\"kept_tokens\"", "\"kept_heads\""})
        EXPECT_NE(json.find(key), std::string::npos) << key << " in " << json;
}

TEST_F(Cli, CascadeStateCarriesAcrossInvocations) {
    std::string s1 = ::testing::TempDir() + "state1.bin";
    Result r = run(base() + " --token-keep 0.5 --head-count 1 --state-out " + s1);
    ASSERT_EQ(r.status, 0) << r.output;
    r = run(base() + " --state-in " + s1 + " --stats " + stats);
    ASSERT_EQ(r.status, 0) << r.output;
    std::ifstream in(stats);
    std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // One head of three queries over the 25 surviving tokens.
    EXPECT_NE(json.find("\"keys_fetched\": 75"), std::string::npos) << json;
    EXPECT_NE(json.find("\"heads_kept\": 1"), std::string::npos) << json;
}

TEST_F(Cli, BadOptionsExitTwoWithAMessage) {
    struct {
        std::string args, message;
    } cases[] = {
        {"", "required"},
        {base() + " --kv-bits 9+4", "--kv-bits"},
        {base() + " --kv-bits 1+0", "--kv-bits"},
        {base() + " --requant 2", "--requant"},
        {base() + " --v-keep 0", "--v-keep"},
        {base() + " --token-keep 1.5", "--token-keep"},
        {base() + " --head-count -1", "--head-count"},
        {base() + " --bogus 1", "unknown option"},
        {base() + " --stats", "needs a value"},
    };
    for (auto &c : cases) {
        Result r = run(c.args);
        EXPECT_EQ(r.status, 2) << c.args << ": " << r.output;
        EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << ": " << r.output;
    }
    EXPECT_EQ(run("--help").status, 0);
}

TEST_F(Cli, BadDataExitsOneWithAMessage) {
    std::string bad = ::testing::TempDir() + "bad.npy";
    std::ofstream(bad) << "not a numpy file at all";
    Result r = run("--q " + bad + " --k " + k + " --v " + v + " --out " + out);
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.output.find("magic"), std::string::npos) << r.output;

    std::string k3 = save("k3.npy", std::vector<float>(3 * 50 * 16, 1.0f), {3, 50, 16});
    r = run("--q " + q + " --k " + k3 + " --v " + k3 + " --out " + out);
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.output.find("do not divide"), std::string::npos) << r.output;

    std::string vshort = save("vs.npy", std::vector<float>(2 * 49 * 16, 1.0f), {2, 49, 16});
    r = run("--q " + q + " --k " + k + " --v " + vshort + " --out " + out);
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.output.find("K and V differ"), std::string::npos) << r.output;

    std::vector<float> nan_q = qf;
    nan_q[5] = NAN;
    std::string qn = save("qn.npy", nan_q, {2, 3, 16});
    r = run("--q " + qn + " --k " + k + " --v " + v + " --out " + out);
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.output.find("finite"), std::string::npos) << r.output;

    r = run(base() + " --state-in /nonexistent/state");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.output.find("--state-in"), std::string::npos) << r.output;
}

} // namespace
