// A C program cross-compiled for RV32IM runs on the simulator and computes what the same
// source computes natively.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <vector>

#include "prog/kernel.h"

extern "C" {
#include "spksim/iss.h"
}

namespace {

int capture(void *ctx, uint32_t off, unsigned size, uint32_t v) {
    if (off != 0 || size != 4) return -1;
    *static_cast<uint32_t *>(ctx) = v;
    return 0;
}

TEST(IssProgram, CrossCompiledKernelMatchesNative) {
    std::ifstream f(SPK_ISS_PROG_BIN, std::ios::binary);
    if (!f) GTEST_SKIP() << SPK_ISS_PROG_BIN << " not built (riscv64-unknown-elf-gcc missing?)";
    std::vector<uint8_t> image((std::istreambuf_iterator<char>(f)), {});
    ASSERT_GT(image.size(), 16u);
    spk_iss_config cfg{sizeof(cfg), 0, 0x10000, 0x10000000, 0x10000, 10000000};
    spk_iss *iss = spk_iss_create(&cfg);
    ASSERT_NE(iss, nullptr);
    uint32_t result = 0;
    spk_iss_window out{0x40000000, 4, 1, nullptr, capture, &result};
    ASSERT_EQ(spk_iss_add_window(iss, &out), 0);
    ASSERT_EQ(spk_iss_write_mem(iss, 0, image.data(), image.size()), 0);
    for (uint32_t seed : {1u, 42u, 0xdeadbeefu, 0x80000000u}) {
        spk_iss_reset(iss, 0);
        spk_iss_set_reg(iss, 10, seed);
        result = 0;
        spk_iss_result res;
        spk_iss_run(iss, 10000000, &res);
        ASSERT_EQ(res.stop, SPK_ISS_STOP_TRAP) << spk_iss_stop_str(res.stop);
        ASSERT_EQ(res.cause, SPK_ISS_CAUSE_BREAKPOINT)
            << spk_iss_cause_str(res.cause) << " at pc 0x" << std::hex << res.pc;
        EXPECT_EQ(result, spk_iss_kernel(seed)) << "seed " << seed;
        EXPECT_GT(spk_iss_instret(iss), 1000u);
        EXPECT_GT(spk_iss_cycles(iss), spk_iss_instret(iss)) << "divides and loads cost extra";
    }
    spk_iss_destroy(iss);
}

} // namespace
