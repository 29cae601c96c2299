// The installed library: the example compiles against a private install through
// `pkg-config --cflags --libs spk`, runs one layer from .npy files on every backend with
// bit-identical outputs (sim also reporting cycles and DRAM bytes), and the shared library
// exports exactly the public API.
#include "../backends.h"

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

// The whole printed line "key value" (empty if absent).
std::string line_of(const std::string &out, const std::string &key) {
    size_t at = out.find("\n" + key + " ");
    return at == std::string::npos ? "" : out.substr(at + 1, out.find('\n', at + 1) - at - 1);
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

// The example on every backend of the build (tests/driver/backends.h, $SPK_TEST_BACKENDS), on
// inputs from test_seed(): the output files and every printed line that is not a per-backend
// cost (cycles, energy; DRAM bytes on the RTL, which counts its own reads) are identical between
// backends and to spk-attn's golden run. Pruning (-t) runs where backend_prunes(); elsewhere it is
// refused with a message naming PRUNE.
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

    std::mt19937 rng(static_cast<std::mt19937::result_type>(test_seed()));
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
    // The installed library finds the RTL plugin through $SPK_RTL_PLUGIN (here: this build's).
    std::string env = "SPK_FIRMWARE=" + fw + " SPK_ENERGY=" + energy + " ";
    if (test_rtl_built()) env += "SPK_RTL_PLUGIN=" SPK_TEST_RTL_PLUGIN " ";
    const std::string inputs = " " + dir + "/q.npy " + dir + "/k.npy " + dir + "/v.npy";

    // The golden model directly (spk-attn), unpruned and pruned, with the example's profile.
    const std::string attn = std::string(SPK_TEST_SPK_ATTN) + " --q " + dir + "/q.npy --k " + dir +
                             "/k.npy --v " + dir + "/v.npy --causal --kv-bits 8+4 " +
                             "--requant 0.1 --out " + dir;
    std::string ref = run(attn + "/ref.npy", &st);
    ASSERT_EQ(st, 0) << ref;
    ref = run(attn + "/ref-pruned.npy --token-keep 0.75", &st);
    ASSERT_EQ(st, 0) << ref;
    const std::string golden = npy_payload(slurp(dir + "/ref.npy"));
    const std::string golden_pruned = npy_payload(slurp(dir + "/ref-pruned.npy"));
    ASSERT_EQ(golden.size(), 4u * 6 * 32 * 4);

    const char *same_everywhere[] = {"heads_computed", "tokens_alive",   "requests",
                                     "keys_fetched",   "values_fetched", "requant_requests",
                                     "tokens_kept",    "heads_kept",     "output_fnv1a"};
    std::string first_backend, first_out, first_file, first_pruned, first_pruned_out;
    for (const std::string &b : test_backends()) {
        SCOPED_TRACE(b);
        const std::string file = dir + "/" + b + ".npy";
        std::string out = run(env + exe + " -b " + b + " -c -o " + file + inputs, &st);
        ASSERT_EQ(st, 0) << out;
        EXPECT_NE(out.find("device: backend " + b + ","), std::string::npos) << out;
        const std::string bytes = slurp(file);
        EXPECT_EQ(bytes.size(), 128u + 4 * 6 * 32 * 4);
        EXPECT_TRUE(npy_payload(bytes) == golden) << b << " differs from spk-attn";
        EXPECT_EQ(stat_value(out, "tokens_alive"), 30u) << out;
        EXPECT_EQ(stat_value(out, "tokens_kept"), 30u) << out;
        EXPECT_GT(stat_value(out, "dram_bytes"), 0u) << out;
        if (!backend_times_engine(b)) {
            EXPECT_EQ(stat_value(out, "engine_cycles"), 0u) << out;
        } else {
            EXPECT_GT(stat_value(out, "engine_cycles"), 0u) << out;
        }
        EXPECT_EQ(out.find("energy_pj") != std::string::npos, backend_prices_energy(b))
            << "energy where priced";
        if (backend_prices_energy(b)) {
            EXPECT_GT(stat_value(out, "energy_pj"), 0u) << out;
        }
        if (first_backend.empty()) {
            first_backend = b, first_out = out, first_file = bytes;
        } else {
            EXPECT_TRUE(bytes == first_file) << b << " and " << first_backend << " outputs differ";
            for (const char *key : same_everywhere)
                EXPECT_EQ(line_of(out, key), line_of(first_out, key))
                    << key << " of " << b << " and " << first_backend;
            if (backend_counts_spec_traffic(b) && backend_counts_spec_traffic(first_backend)) {
                EXPECT_EQ(stat_value(out, "dram_bytes"), stat_value(first_out, "dram_bytes"));
            }
        }

        const std::string pruned_file = dir + "/" + b + "-pruned.npy";
        std::string pruned =
            run(env + exe + " -b " + b + " -c -t 0.75 -o " + pruned_file + inputs, &st);
        if (!backend_prunes(b)) {
            std::printf("[ NOTE     ] %s: no prune unit; -t is checked to be refused\n", b.c_str());
            EXPECT_NE(st, 0) << pruned;
            EXPECT_NE(pruned.find("PRUNE"), std::string::npos) << pruned;
            continue;
        }
        ASSERT_EQ(st, 0) << pruned;
        EXPECT_EQ(stat_value(pruned, "tokens_kept"), 23u) << "ceil(30 * 0.75) tokens kept";
        const std::string pbytes = slurp(pruned_file);
        EXPECT_TRUE(npy_payload(pbytes) == golden_pruned) << b << " pruned differs from spk-attn";
        if (first_pruned.empty()) {
            first_pruned = pbytes, first_pruned_out = pruned;
        } else {
            EXPECT_TRUE(pbytes == first_pruned) << b << " pruned output differs";
            for (const char *key : same_everywhere)
                EXPECT_EQ(line_of(pruned, key), line_of(first_pruned_out, key)) << key;
        }
    }
    // a bad input file is a clear error, not a crash
    std::string bad =
        run(env + exe + " -b model " + dir + "/q.npy " + exe + " " + dir + "/v.npy", &st);
    EXPECT_NE(st, 0);
    EXPECT_NE(bad.find("not a 3-D float32 .npy"), std::string::npos) << bad;
    // the backend also comes from $SPK_BACKEND
    std::string from_env = run(env + "SPK_BACKEND=sim " + exe + " -c" + inputs, &st);
    ASSERT_EQ(st, 0) << from_env;
    EXPECT_NE(from_env.find("device: backend sim,"), std::string::npos) << from_env;
    EXPECT_EQ(line_of(from_env, "output_fnv1a"), line_of(first_out, "output_fnv1a"));
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
