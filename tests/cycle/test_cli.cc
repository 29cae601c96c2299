// spk-sim end to end (issue 17): a directory or a device is never read as an empty input file,
// and every non-zero exit says why (out of memory included).
#include <gtest/gtest.h>

#include <climits>
#include <cstdio>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "spksim/config.h"
#include "spksim/energy.h"
#include "spksim/trace.h"
#include "trace_helpers.h"

using namespace cycle_test;

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(memory_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

std::string tool() {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return "spk-sim";
    std::string self(buf, (size_t)n);
    return self.substr(0, self.rfind('/')) + "/spk-sim";
}

struct Result {
    int status;
    std::string output;
};

// prefix: shell words before the tool (ulimit). A 20 s timeout: the old reader of /dev/zero
// never returned.
Result run(const std::string &args, const std::string &prefix = "") {
    std::string cmd = prefix + "timeout 20 " + tool() + " " + args + " 2>&1";
    FILE *p = popen(cmd.c_str(), "r");
    Result r{-1, ""};
    if (!p) return r;
    char buf[512];
    while (fgets(buf, sizeof buf, p)) r.output += buf;
    int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    return r;
}

std::string dir() {
    std::string d = ::testing::TempDir();
    if (d.size() > 1 && d.back() == '/') d.pop_back();
    return d;
}

TEST(FileKinds, LoadersRefuseDirectoriesNamingThePath) {
    const std::string d = dir();
    char err[512] = "";
    spk_trace t;
    EXPECT_EQ(spk_trace_load(d.c_str(), &t, err, sizeof err), SPK_CYCLE_E_IO);
    EXPECT_NE(std::string(err).find(d + ": is a directory"), std::string::npos) << err;
    spk_config cfg;
    err[0] = '\0';
    EXPECT_NE(spk_config_load(d.c_str(), &cfg, err, sizeof err), 0);
    EXPECT_NE(std::string(err).find(d + ": is a directory"), std::string::npos) << err;
    spk_energy_constants ec;
    err[0] = '\0';
    EXPECT_NE(spk_energy_load(d.c_str(), &ec, err, sizeof err), 0);
    EXPECT_NE(std::string(err).find(d + ": is a directory"), std::string::npos) << err;
    err[0] = '\0';
    EXPECT_NE(spk_config_load("/dev/null", &cfg, err, sizeof err), 0);
    EXPECT_NE(std::string(err).find("/dev/null: is not a regular file"), std::string::npos) << err;
}

TEST(SpkSimCli, DirectoriesAndDevicesAreRefused) {
    TempFile trace(std::string(header()) + row(0, 0, 8, 8, 8, false, 8, 8));
    ASSERT_TRUE(trace.ok());
    Result ok = run(std::string("--quiet --trace ") + trace.path());
    ASSERT_EQ(ok.status, 0) << ok.output;
    const std::string d = dir(), tr = trace.path();
    struct {
        std::string args, message;
    } cases[] = {
        {"--config " + d + " --trace " + tr, d + ": is a directory"}, // ran the preset 'full'
        {"--trace " + d, d + ": is a directory"},
        {"--energy " + d + " --trace " + tr, d + ": is a directory"},
        // The reader streams now: /dev/zero is refused at its first line, not read forever.
        {"--trace /dev/zero", "/dev/zero: line 1: the file contains a NUL byte"},
        {"--energy /dev/null --trace " + tr, "/dev/null: is not a regular file"},
    };
    for (auto &c : cases) {
        Result r = run("--quiet " + c.args);
        EXPECT_EQ(r.status, 1) << c.args << ": " << r.output;
        EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << ": " << r.output;
    }
}

TEST(SpkSimCli, OutOfMemorySaysSo) {
    if (kSanitized) GTEST_SKIP() << "ulimit -v and the sanitizers' shadow memory do not mix";
    // The reader streams in bounded memory, so what can run out is the engine's window: one
    // request of 16M keys holds the QK unit while 150k key-less requests are admitted behind it
    // and wait to retire in order, under a 20 MB address-space limit.
    std::string big = dir() + "/spk-sim-oom.csv";
    FILE *f = fopen(big.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    fputs(header(), f);
    fputs("0,0,0,64.0,16777216,16777216,8,16,0.05,False,4,0,8,True,False,False,-1\n", f);
    for (int i = 0; i < 150000; i++)
        fputs("0,0,1,64.0,8,0,8,16,0.05,False,4,0,8,True,False,False,-1\n", f);
    fclose(f);
    Result r = run("--quiet --trace " + big, "ulimit -v 20000; ");
    std::remove(big.c_str());
    EXPECT_EQ(r.status, 1) << r.output;
    // It printed "spk-sim: " and nothing else.
    EXPECT_NE(r.output.find("spk-sim: " + big + ": out of memory"), std::string::npos) << r.output;
}

} // namespace
