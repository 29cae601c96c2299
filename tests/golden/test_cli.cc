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
#include "spksim/parse.h"

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

TEST_F(Cli, PerStepSelectionFetchesItsBudgetAndCountsTheScoringReads) {
    // 2 heads x 3 queries over 50 keys; each (K/V head, query) keeps 10: sinks 0-1, the last 3
    // and the best 5 of the other 45 by their MSB-plane scores.
    Result r =
        run(base() + " --select-count 10 --select-sinks 2 --select-recent 3 --stats " + stats);
    ASSERT_EQ(r.status, 0) << r.output;
    std::ifstream in(stats);
    std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // scoring: 6 x 45 rows of a 4-byte scale word and a 24-byte (16 x 12-bit) MSB row, and with
    // held rows (the default) the 6 x 5 protected rows the requests then do not read
    for (const char *key : {"\"keys_fetched\": 60", "\"select_scored\": 270",
                            "\"select_scoring\": 8400", "\"tokens_kept\": 50"})
        EXPECT_NE(json.find(key), std::string::npos) << key << " in " << json;
    // Ranked by the probability sum, rows read again: the same budget, the scan's reads only.
    r = run(base() +
            " --select-count 10 --select-sinks 2 --select-recent 3 --select-scoring msb-probs "
            "--select-hold off --stats " +
            stats);
    ASSERT_EQ(r.status, 0) << r.output;
    std::ifstream in2(stats);
    json.assign(std::istreambuf_iterator<char>(in2), std::istreambuf_iterator<char>());
    for (const char *key : {"\"keys_fetched\": 60", "\"select_scored\": 270",
                            "\"select_scoring\": 7560", "\"tokens_kept\": 50"})
        EXPECT_NE(json.find(key), std::string::npos) << key << " in " << json;
    // (the device path of the same options: CliBackends.SelectionOnEveryBackend)
    // modifiers alone are a usage error
    r = run(base() + " --select-sinks 2");
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("need --select-keep or --select-count"), std::string::npos) << r.output;
    r = run(base() + " --select-count 4 --select-candidates 32");
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("--select-candidates needs --select-dims"), std::string::npos)
        << r.output;
    r = run(base() + " --select-count 4 --select-hold maybe");
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("--select-hold: 'maybe' is not on or off"), std::string::npos)
        << r.output;
    r = run(base() + " --select-count 4 --select-scoring best");
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("'best' is not msb, exact, msb-probs or exact-probs"),
              std::string::npos)
        << r.output;
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
        // Whole-string, range-checked numbers (issue 17): sscanf("%u+%u") wrapped 262+4294967042
        // to 6+2, and strtod/strtoul took spaces, signs, hex and nan.
        {base() + " --kv-bits 262+4294967042", "--kv-bits M: 262 is above 12"},
        {base() + " --kv-bits 6+4294967294", "--kv-bits L: 4294967294 is above 6"},
        {base() + " --kv-bits 6+-2", "--kv-bits L: -2 is below 0"},
        {base() + " --kv-bits 6+4x", "'4x' is not a whole number"},
        {base() + " --kv-bits 6", "is not M+L"},
        {base() + " --requant 0x1p-2", "--requant: '0x1p-2' is not a number"},
        {base() + " --v-keep nan", "--v-keep: 'nan' is not a number"},
        {base() + " --token-keep ' 0.5'", "is not a number"},
        {base() + " --token-count 4294967296", "--token-count: 4294967296 is above 4294967295"},
        {base() + " --head-count ' 3'", "--head-count: ' 3' is not a whole number"},
        {base() + " --head-count +3", "--head-count: '+3' is not a whole number"},
        {base() + " --topk-parallelism 1025", "--topk-parallelism: 1025 is above 1024"},
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

// A directory or a device is not an input file: each is refused with its path (issue 17).
TEST_F(Cli, DirectoriesAndDevicesAreNotInputFiles) {
    const std::string dir = ::testing::TempDir();
    struct {
        std::string args, message;
    } cases[] = {
        {"--q " + dir + " --k " + k + " --v " + v + " --out " + out, "--q: " + dir},
        {"--q " + q + " --k " + k + " --v /dev/null --out " + out, "--v: /dev/null"},
        {base() + " --state-in " + dir, "--state-in " + dir},
    };
    for (auto &c : cases) {
        Result r = run(c.args);
        EXPECT_EQ(r.status, 1) << c.args << ": " << r.output;
        EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << ": " << r.output;
        EXPECT_TRUE(r.output.find("directory") != std::string::npos ||
                    r.output.find("not a regular file") != std::string::npos)
            << c.args << ": " << r.output;
    }
    spk_npy a;
    char err[256] = "";
    EXPECT_EQ(spk_npy_read(dir.c_str(), &a, err, sizeof err), SPKSIM_E_IO);
    EXPECT_NE(std::string(err).find("is a directory"), std::string::npos) << err;
}

// The strict number parser that every tool uses (spksim/parse.h).
TEST(Parse, WholeStringRangeCheckedNumbers) {
    char err[128];
    uint64_t u = 0;
    int64_t i = 0;
    double d = 0;
    EXPECT_EQ(spk_parse_u64("--n", "42", 0, 100, 0, &u, err, sizeof err), 0);
    EXPECT_EQ(u, 42u);
    EXPECT_EQ(spk_parse_u64("--n", "18446744073709551615", 0, UINT64_MAX, 0, &u, err, sizeof err),
              0);
    EXPECT_EQ(u, UINT64_MAX);
    EXPECT_EQ(spk_parse_u64("--n", "0x10", 0, 100, SPK_PARSE_HEX, &u, err, sizeof err), 0);
    EXPECT_EQ(u, 16u);
    struct {
        const char *s, *message;
    } bad_u[] = {{"abc", "--seed: 'abc' is not a whole number"},
                 {"", "--seed: '' is not a whole number"},
                 {"-5", "--seed: -5 is below 0"},
                 {" 5", "' 5' is not a whole number"},
                 {"5 ", "'5 ' is not a whole number"},
                 {"+5", "'+5' is not a whole number"},
                 {"0x10", "'0x10' is not a whole number"},
                 {"1e3", "'1e3' is not a whole number"},
                 {"18446744073709551616", "18446744073709551616 is above"}};
    for (auto &c : bad_u) {
        EXPECT_EQ(spk_parse_u64("--seed", c.s, 0, UINT64_MAX, 0, &u, err, sizeof err), -1) << c.s;
        EXPECT_NE(std::string(err).find(c.message), std::string::npos) << err;
    }
    EXPECT_EQ(spk_parse_u64("--n", "101", 0, 100, 0, &u, err, sizeof err), -1);
    EXPECT_STREQ(err, "--n: 101 is above 100");
    EXPECT_EQ(spk_parse_u64("--n", "0", 1, 100, 0, &u, err, sizeof err), -1);
    EXPECT_STREQ(err, "--n: 0 is below 1");

    EXPECT_EQ(spk_parse_i64("-k", "-9223372036854775808", INT64_MIN, 0, 0, &i, err, sizeof err), 0);
    EXPECT_EQ(i, INT64_MIN);
    EXPECT_EQ(spk_parse_i64("-k", "-3", -5, 5, 0, &i, err, sizeof err), 0);
    EXPECT_EQ(i, -3);
    EXPECT_EQ(spk_parse_i64("-k", "-6", -5, 5, 0, &i, err, sizeof err), -1);
    EXPECT_STREQ(err, "-k: -6 is below -5");
    EXPECT_EQ(spk_parse_i64("-k", "9223372036854775808", 0, INT64_MAX, 0, &i, err, sizeof err), -1);
    EXPECT_EQ(spk_parse_i64("-k", "-", -5, 5, 0, &i, err, sizeof err), -1);
    EXPECT_STREQ(err, "-k: '-' is not a whole number");

    EXPECT_EQ(spk_parse_double("--top-p", "0.5", 0, 1, 0, &d, err, sizeof err), 0);
    EXPECT_EQ(d, 0.5);
    EXPECT_EQ(spk_parse_double("--top-p", "1e-1", 0, 1, 0, &d, err, sizeof err), 0);
    EXPECT_EQ(spk_parse_double("--top-p", "2", 0, 1, 0, &d, err, sizeof err), -1);
    EXPECT_STREQ(err, "--top-p: 2 is above 1");
    EXPECT_EQ(spk_parse_double("--r", "0", 0, 1, SPK_PARSE_LO_OPEN, &d, err, sizeof err), -1);
    EXPECT_STREQ(err, "--r: 0 is not above 0");
    for (const char *s : {"nan", "inf", "-inf", "0x1p0", " 1", "1 ", "+1", "", ".", "1e", "1e999"})
        EXPECT_EQ(spk_parse_double("--r", s, -1e300, 1e300, 0, &d, err, sizeof err), -1) << s;
}

} // namespace

// A long layer shows progress (issue 17): `progress: head requests DONE/TOTAL` on stderr at least
// every $SPK_PROGRESS_MS (0: after every request); a layer shorter than the interval prints none.
// (On a device backend the layer is one command, which the host waits for in one piece.)
TEST_F(Cli, LongLayersPrintProgress) {
    setenv("SPK_PROGRESS_MS", "0", 1);
    Result every = run(base());
    setenv("SPK_PROGRESS_MS", "600000", 1);
    Result quiet = run(base());
    unsetenv("SPK_PROGRESS_MS");
    ASSERT_EQ(every.status, 0) << every.output;
    EXPECT_NE(every.output.find("progress: head requests 1/6\n"), std::string::npos)
        << every.output;
    EXPECT_NE(every.output.find("progress: head requests 6/6\n"), std::string::npos)
        << every.output;
    ASSERT_EQ(quiet.status, 0) << quiet.output;
    EXPECT_EQ(quiet.output.find("progress:"), std::string::npos) << quiet.output;
}
