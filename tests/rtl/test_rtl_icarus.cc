// 4-state reset/X tests in Icarus: the benches (tests/rtl/*_reset_tb.v, compiled by rtl/rtl.mk)
// hold every input at X during reset and fail on any X or Z reaching an output afterwards.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace {

// Runs a compiled Icarus bench; `timeout` bounds a hung simulation (the benches also have
// their own watchdogs). Returns its output; *rc gets the exit status.
std::string run_vvp(const char *vvp_file, int *rc) {
    std::string cmd = std::string("timeout 120 vvp -n ") + vvp_file + " 2>&1";
    FILE *pipe = popen(cmd.c_str(), "r");
    if (!pipe) {
        *rc = -1;
        return "cannot run " + cmd;
    }
    std::string text;
    char buf[512];
    while (std::fgets(buf, sizeof buf, pipe)) text += buf;
    *rc = pclose(pipe);
    return text;
}

void expect_pass(const char *vvp_file, const char *bench) {
    int rc = 0;
    std::string text = run_vvp(vvp_file, &rc);
    EXPECT_EQ(rc, 0) << text;
    EXPECT_NE(text.find(std::string("PASS ") + bench), std::string::npos) << text;
    EXPECT_EQ(text.find("FAIL"), std::string::npos) << text;
}

TEST(RtlIcarus, TopkResetLeavesNoXOnOutputs) {
    expect_pass(SPK_RTL_ICARUS_TOPK, "topk_reset_tb");
}

TEST(RtlIcarus, DatapathResetLeavesNoXOnOutputs) {
    expect_pass(SPK_RTL_ICARUS_DATAPATH, "datapath_reset_tb");
}

TEST(RtlIcarus, EngineResetLeavesNoXOnOutputs) {
    expect_pass(SPK_RTL_ICARUS_ENGINE, "engine_reset_tb");
}

// The same bench with the compact engine (engine_reset_tb.v compiled with ENGINE_COMPACT).
TEST(RtlIcarus, EngineCompactResetLeavesNoXOnOutputs) {
    expect_pass(SPK_RTL_ICARUS_ENGINE_COMPACT, "engine_compact_reset_tb");
}

} // namespace
