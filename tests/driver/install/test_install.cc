// The installed library: the example compiles against a private install through
// `pkg-config --cflags --libs spk`, runs one layer from .npy files on both backends with
// bit-identical outputs (sim also reporting cycles and DRAM bytes), and the shared library
// exports exactly the public API.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

std::string run(const std::string &cmd, int *status) {
    std::string out;
    FILE *p = popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return out;
    char buf[512];
    while (fgets(buf, sizeof(buf), p)) out += buf;
    *status = pclose(p);
    return out;
}

void write_npy(const std::string &path, const std::vector<float> &v, unsigned a, unsigned b,
               unsigned c) {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(a) +
                         ", " + std::to_string(b) + ", " + std::to_string(c) + "), }";
    while ((10 + header.size() + 1) % 64) header += ' ';
    header += '\n';
    std::ofstream f(path, std::ios::binary);
    const char magic[] = "\x93NUMPY\x01\x00";
    f.write(magic, 8);
    const uint16_t len = static_cast<uint16_t>(header.size());
    f.put(static_cast<char>(len & 0xff));
    f.put(static_cast<char>(len >> 8));
    f << header;
    f.write(reinterpret_cast<const char *>(v.data()), v.size() * sizeof(float));
}

std::string slurp(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

// The data bytes of a version-1 .npy file (headers may be padded differently by writers).
std::string npy_payload(const std::string &file) {
    if (file.size() < 10) return "";
    size_t header =
        10 + (static_cast<unsigned char>(file[8]) | static_cast<unsigned char>(file[9]) << 8);
    return header <= file.size() ? file.substr(header) : "";
}

uint64_t stat_value(const std::string &out, const std::string &key) {
    size_t at = out.find("\n" + key + " ");
    return at == std::string::npos ? 0
                                   : std::strtoull(out.c_str() + at + key.size() + 2, nullptr, 10);
}

class Installed : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/spk-install-test-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir = tmpl;
        pc = "PKG_CONFIG_PATH=" SPK_TEST_PREFIX "/lib/pkgconfig pkg-config ";
    }
    void TearDown() override {
        int st;
        run("rm -rf " + dir, &st);
    }
    std::string dir, pc;
};

TEST_F(Installed, ExampleBuildsWithPkgConfigAndBackendsAgree) {
    int st = -1;
    std::string flags = run(pc + "--cflags --libs spk", &st);
    ASSERT_EQ(st, 0) << flags;
    flags.erase(flags.find_last_not_of("\n") + 1);
    EXPECT_NE(flags.find("-lspk"), std::string::npos) << flags;
    std::string fw = run(pc + "--variable=firmware spk", &st);
    ASSERT_EQ(st, 0);
    fw.erase(fw.find_last_not_of("\n") + 1);
    std::string exe = dir + "/attn_layer";
    std::string cc = std::string(SPK_TEST_CC) +
                     " " SPK_TEST_SANFLAGS " -std=c11 -Wall -Wextra "
                     "-Werror -D_POSIX_C_SOURCE=200809L -o " +
                     exe + " " SPK_TEST_EXAMPLE " " + flags + " -Wl,-rpath," SPK_TEST_PREFIX "/lib";
    std::string log = run(cc, &st);
    ASSERT_EQ(st, 0) << cc << "\n" << log;

    std::mt19937 rng(7);
    std::normal_distribution<float> dist;
    auto randn = [&](size_t n) {
        std::vector<float> v(n);
        for (float &x : v) x = dist(rng);
        return v;
    };
    write_npy(dir + "/q.npy", randn(4 * 6 * 32), 4, 6, 32);
    write_npy(dir + "/k.npy", randn(2 * 30 * 32), 2, 30, 32);
    write_npy(dir + "/v.npy", randn(2 * 30 * 32), 2, 30, 32);
    std::string energy = run(pc + "--variable=energy spk", &st);
    ASSERT_EQ(st, 0);
    energy.erase(energy.find_last_not_of("\n") + 1);
    std::string env = "SPK_FIRMWARE=" + fw + " SPK_ENERGY=" + energy + " ";
    std::string args = " -c -t 0.75 " + dir + "/q.npy " + dir + "/k.npy " + dir + "/v.npy";
    std::string model = run(env + exe + " -b model -o " + dir + "/model.npy" + args, &st);
    ASSERT_EQ(st, 0) << model;
    std::string sim = run(env + exe + " -b sim -o " + dir + "/sim.npy" + args, &st);
    ASSERT_EQ(st, 0) << sim;
    std::string a = slurp(dir + "/model.npy"), b = slurp(dir + "/sim.npy");
    EXPECT_EQ(a.size(), 128u + 4 * 6 * 32 * 4);
    EXPECT_TRUE(a == b) << "model and sim outputs differ";
    EXPECT_EQ(stat_value(model, "engine_cycles"), 0u) << model;
    EXPECT_GT(stat_value(sim, "engine_cycles"), 0u) << sim;
    EXPECT_GT(stat_value(sim, "dram_bytes"), 0u) << sim;
    EXPECT_GT(stat_value(sim, "energy_pj"), 0u) << sim;
    EXPECT_EQ(model.find("energy_pj"), std::string::npos) << "no energy figures on model";
    EXPECT_EQ(stat_value(sim, "dram_bytes"), stat_value(model, "dram_bytes"));
    EXPECT_EQ(stat_value(sim, "tokens_alive"), 30u);
    EXPECT_EQ(stat_value(sim, "tokens_kept"), 23u) << "ceil(30 * 0.75) tokens kept";
    EXPECT_EQ(stat_value(model, "tokens_kept"), 23u);
    // the lead's spk-attn (golden model CLI) computes the same bits from the same files
    std::string ref = run(std::string(SPK_TEST_SPK_ATTN) + " --q " + dir + "/q.npy --k " + dir +
                              "/k.npy --v " + dir + "/v.npy --out " + dir +
                              "/ref.npy --causal --kv-bits 8+4 --requant 0.1 --token-keep 0.75",
                          &st);
    ASSERT_EQ(st, 0) << ref;
    EXPECT_EQ(npy_payload(slurp(dir + "/ref.npy")), npy_payload(a)) << "differs from spk-attn";
    // a bad input file is a clear error, not a crash
    std::string bad =
        run(env + exe + " -b model " + dir + "/q.npy " + exe + " " + dir + "/v.npy", &st);
    EXPECT_NE(st, 0);
    EXPECT_NE(bad.find("not a 3-D float32 .npy"), std::string::npos) << bad;
}

TEST_F(Installed, SharedLibraryExportsOnlyThePublicApi) {
    int st = -1;
    std::string out =
        run(SPK_TEST_CHECK_EXPORTS " " SPK_TEST_PREFIX "/lib/libspk.so " SPK_TEST_PREFIX
                                   "/include/spk/spk.h",
            &st);
    EXPECT_EQ(st, 0) << out;
    std::string soname = run("readelf -d " SPK_TEST_PREFIX "/lib/libspk.so", &st);
    EXPECT_NE(soname.find("[libspk.so.1]"), std::string::npos) << soname;
    EXPECT_EQ(access(SPK_TEST_PREFIX "/lib/libspk.a", R_OK), 0);
    EXPECT_EQ(access(SPK_TEST_PREFIX "/include/spk/regs.h", R_OK), 0);
}

} // namespace
