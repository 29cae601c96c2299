// Top-k latency (statistical model and the engine's real passes) against BRIEF section 1's
// table, the energy constants file, and the data-mode adapter.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "spksim/cycle.h"
#include "spksim/cycle_data.h"
#include "spksim/energy.h"
#include "spksim/topk.h"
#include "trace_helpers.h"

namespace {

// BRIEF section 1: expected mean selection cycles, random data, P = 16.
struct TopkCase {
    uint32_t n, k;
    double brief_mean;
};
const TopkCase kBrief[] = {{1024, 512, 268}, {1024, 128, 208}, {1024, 32, 185},
                           {512, 64, 125},   {2048, 64, 330},  {4096, 32, 600}};

uint64_t splitmix(uint64_t &s) {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

std::string energy_file() {
    // Tests run from the repository root (scripts/run-tests.sh, make).
    return "sim/configs/energy.cfg";
}

} // namespace

TEST(TopkLatency, StatisticalModelMatchesBriefTable) {
    uint64_t state = 1;
    for (const TopkCase &c : kBrief) {
        double sum = 0;
        const int runs = 2000;
        for (int i = 0; i < runs; i++)
            sum += (double)spk_cycle_topk_model(&state, c.n, c.k, 16, nullptr);
        EXPECT_NEAR(sum / runs, c.brief_mean, 0.10 * c.brief_mean) << c.n << "," << c.k;
    }
    EXPECT_EQ(spk_cycle_topk_model(&state, 100, 0, 16, nullptr), 0u);
    EXPECT_EQ(spk_cycle_topk_model(&state, 100, 100, 16, nullptr), 0u);
}

// Data mode: the engine's quick-select over random scores, cycles = sum of ceil(m/P) + 3.
TEST(TopkLatency, DataModeQuickSelectMatchesBriefTable) {
    uint64_t s = 42;
    for (const TopkCase &c : kBrief) {
        std::vector<int64_t> values(c.n), scratch(2 * c.n);
        std::vector<uint32_t> kept(c.n);
        double sum = 0;
        const int runs = 800;
        for (int i = 0; i < runs; i++) {
            for (auto &v : values) v = (int64_t)(splitmix(s) >> 16);
            spk_topk_trace tr;
            size_t got =
                spk_topk_quickselect(values.data(), c.n, c.k, 16, kept.data(), scratch.data(), &tr);
            ASSERT_EQ(got, c.k);
            sum += (double)tr.cycles;
        }
        EXPECT_NEAR(sum / runs, c.brief_mean, 0.10 * c.brief_mean) << c.n << "," << c.k;
    }
}

TEST(Energy, ConstantsFileCitesEverySource) {
    spk_energy_constants c;
    char err[256] = "";
    ASSERT_EQ(spk_energy_load(energy_file().c_str(), &c, err, sizeof err), 0) << err;
    for (size_t i = 0; i < SPK_ENERGY_N_CONSTANTS; i++) {
        EXPECT_GT(std::string(c.source[i]).size(), 10u) << spk_energy_key(i);
        EXPECT_GT(spk_energy_value(&c, i), 0.0) << spk_energy_key(i);
    }
}

TEST(Energy, ValueWithoutSourceIsRejected) {
    cycle_test::TempFile f("dram_pj_per_bit = 3.9\n");
    spk_energy_constants c;
    char err[256] = "";
    EXPECT_EQ(spk_energy_load(f.path(), &c, err, sizeof err), -1);
    EXPECT_NE(std::string(err).find("line 1: 'dram_pj_per_bit' has no"), std::string::npos) << err;
    cycle_test::TempFile g("dram_pj_per_bit = 3.9  # source: somewhere\n");
    EXPECT_EQ(spk_energy_load(g.path(), &c, err, sizeof err), -1);
    EXPECT_NE(std::string(err).find("is missing"), std::string::npos) << err;
}

// A line longer than the reader's buffer is refused: its tail was read as a line of its own, so
// a constant at the end of a long comment was silently set (here mult_pj, missing otherwise).
TEST(Energy, OverlongLineIsRejected) {
    std::string text;
    {
        FILE *in = std::fopen(energy_file().c_str(), "r");
        ASSERT_NE(in, nullptr);
        char buf[1200];
        while (std::fgets(buf, sizeof buf, in))
            if (std::string(buf).rfind("mult_pj", 0) != 0) text += buf;
        std::fclose(in);
    }
    text += "#" + std::string(1021, 'x') + "mult_pj = 0.45  # source: a comment\n";
    cycle_test::TempFile f(text);
    spk_energy_constants c;
    char err[256] = "";
    EXPECT_EQ(spk_energy_load(f.path(), &c, err, sizeof err), -1);
    EXPECT_NE(std::string(err).find("longer than 1022 characters"), std::string::npos) << err;
}

TEST(Energy, SplitsDramSramAndComputeLinearly) {
    spk_energy_constants c;
    char err[256] = "";
    ASSERT_EQ(spk_energy_load(energy_file().c_str(), &c, err, sizeof err), 0) << err;
    spk_cycle_stats s{};
    s.dram_bytes = 1000;
    s.events.qk_macs = 64;
    s.events.kbuf_write_bytes = 80;
    spk_energy_report r;
    spk_energy_compute(&c, &s, &r);
    EXPECT_DOUBLE_EQ(r.dram_pj, 8000 * c.dram_pj_per_bit);
    EXPECT_DOUBLE_EQ(r.sram_pj, 10 * c.sram_pj_per_access * c.logic_scale);
    EXPECT_DOUBLE_EQ(r.compute_pj, 64 * (c.mult_pj + c.add_pj) * c.logic_scale);
    EXPECT_DOUBLE_EQ(r.total_pj, r.dram_pj + r.sram_pj + r.compute_pj);
}

// Data mode adapter: the golden model's events become a descriptor the engine times.
TEST(DataMode, EventsBecomeADescriptor) {
    spk_head_config cfg{};
    cfg.d = 64;
    cfg.kv.msb_bits = 6;
    cfg.kv.lsb_bits = 4;
    spk_head_events ev{};
    ev.keys_fetched = 100;
    ev.keys_refetched = 100;
    ev.values_fetched = 20;
    ev.requant = 1;
    ev.v_topk.cycles = 77;
    ev.v_topk.streamed = 300;
    spk_cycle_request_site site = {3, 2, 1, 128, 0};
    spk_cycle_request r;
    ASSERT_EQ(spk_cycle_request_from_head(&cfg, &ev, &site, &r), SPK_CYCLE_OK);
    // 6-bit rows: 48 B -> 2 transactions each, plus 400 B of scale words -> 13.
    EXPECT_EQ(r.key_msb_transactions, 200u + 13u);
    EXPECT_EQ(r.key_lsb_transactions, 100u); // 32 B per row
    EXPECT_EQ(r.value_transactions, 40u + 3u);
    EXPECT_EQ(r.requant_keys, 100u);
    EXPECT_EQ(r.local_topk_cycles, 77u);
    spk_config c;
    ASSERT_EQ(spk_config_preset("full", &c), 0);
    spk_cycle_stats s;
    ASSERT_EQ(spk_cycle_run(&c, &r, 1, &s, nullptr, nullptr, nullptr), SPK_CYCLE_OK);
    EXPECT_EQ(s.requant_requests, 1u);
    EXPECT_GT(s.cycles, 77u);
    ev.keys_refetched = 5; // neither none nor all keys
    EXPECT_EQ(spk_cycle_request_from_head(&cfg, &ev, &site, &r), SPK_CYCLE_E_ARG);
}
