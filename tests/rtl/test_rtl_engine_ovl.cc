// The overlapped engine top (rtl/engine/spk_engine_ovl.v: spk_engine's ports with its steps
// overlapped, docs/rtl.md "Overlapped engine") through the same checks as spk_engine's suite
// (engine_checks.h), bit for bit against the golden spk_head_run and the golden importance
// accumulation; and its cycle counts against spk_engine's on the same requests and against the
// cycle simulator's overlapped pipeline with the RTL's units (fixed-latency memory, one request
// at a time, as rtl-engine --memory cycles runs them).
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>

#include "Vengine_ovl.h"
#include "engine_checks.h"
#include "spksim/config.h"
#include "spksim/cycle.h"
#include "spksim/cycle_data.h"

namespace {

#ifdef __SANITIZE_ADDRESS__
constexpr int kCases = 60; // the golden model and harness run instrumented: fewer cases
#else
constexpr int kCases = 200;
#endif
// The cycle comparison runs the same 60 requests in every build (its bounds are for them).
constexpr int kCycleCases = 60;

TEST(RtlEngineOvl, RandomHeadRequestBurstsMatchTheGoldenModel) {
    // bursts of 1..7 requests: more than the FIFO's 4, so req_ready also drops
    engine_expect_random_bursts<Vengine_ovl>(20261204, kCases, 300, 7);
}

TEST(RtlEngineOvl, WorksWithoutMemoryStallsAndAtFullDepth) {
    engine_expect_full_depth_without_stalls<Vengine_ovl>(79, 5, 3, kEngineNmax);
}

TEST(RtlEngineOvl, KeyListRequestsMixedWithContiguousMatchTheGoldenModel) {
    engine_expect_key_lists<Vengine_ovl>(4713, 10, 300, 6);
}

TEST(RtlEngineOvl, EmptyRequestsOutputZerosAndFetchNothing) {
    engine_expect_empty_requests<Vengine_ovl>(41, 80);
}

TEST(RtlEngineOvl, QueuesBurstsAndTagsResultsInOrder) {
    engine_expect_tags_in_queue_order<Vengine_ovl>(31339, 40);
}

TEST(RtlEngineOvl, LayerTokenImportanceMatchesTheGoldenAccumulation) {
    engine_expect_layer_importance<Vengine_ovl>(2023, 3, 4, kEngineNmax);
}

TEST(RtlEngineOvl, ImportanceReadsDuringARunAreAnsweredOrDropped) {
    engine_expect_importance_reads_during_a_run<Vengine_ovl>(97, 100);
}

TEST(RtlEngineOvl, QueuedRequestsWaitForAnImportanceClear) {
    engine_expect_requests_wait_for_a_clear<Vengine_ovl>(8);
}

TEST(RtlEngineOvl, RefusesBadDescriptorsAndStaysUsable) {
    engine_expect_bad_descriptors_refused<Vengine_ovl>(5);
}

TEST(RtlEngineOvl, ReportsBusErrorsAndStaysUsable) {
    engine_expect_bus_errors_reported<Vengine_ovl>(809);
}

uint64_t predicted(const spk_config &cfg, const EngineCase &c) {
    spk_cycle_request_site site{0, 0, 0, c.n_tokens, (uint8_t)!c.keys.empty()};
    spk_cycle_request req{};
    EXPECT_EQ(spk_cycle_request_from_head(&c.cfg, &c.want_ev, &site, &req), SPK_CYCLE_OK);
    spk_cycle_stats stats{};
    EXPECT_EQ(spk_cycle_run(&cfg, &req, 1, &stats, nullptr, nullptr, nullptr), SPK_CYCLE_OK);
    return stats.cycles;
}

// The same requests, one at a time, on spk_engine and on spk_engine_ovl (fixed latency 8, no
// stalls): the overlapped engine must be at least 1.35x faster (issue 18's bar; measured 1.391
// on these requests), and within 0.95 .. 1.15 of the cycle simulator's overlapped pipeline of
// the same units (measured 1.091; docs/rtl.md, "Overlapped engine": the remaining gap is mostly
// the RTL's one key row per QK/PV beat, which the model does not have).
TEST(RtlEngineOvl, FasterThanTheSerialEngineAndNearTheOverlappedModel) {
    spk_config overlapped;
    ASSERT_EQ(spk_config_preset("eighth", &overlapped), 0);
    overlapped.qk_multipliers = overlapped.pv_multipliers = kEngineLanes;
    overlapped.topk_parallelism = kEngineP;
    overlapped.topk_engines = 1;
    overlapped.softmax_per_cycle = 1;
    overlapped.dram_channels = 1;
    overlapped.dram_bytes_per_cycle = 32;
    overlapped.dram_latency = 8;
    overlapped.dram_row_buffer = 0;
    char err[256];
    ASSERT_EQ(spk_config_check(&overlapped, err, sizeof err), 0) << err;
    EngineMemory mem;
    mem.random_stalls = false;
    mem.latency = 8;
    EngineHarness<Vengine> serial("", mem);
    EngineHarness<Vengine_ovl> ovl("", mem);
    std::mt19937_64 rng(4043);
    uint64_t t_serial = 0, t_ovl = 0, t_model = 0;
    for (int i = 0; i < kCycleCases; i++) {
        EngineCase c;
        ASSERT_EQ(engine_random_case(rng, 300, c), "");
        const EngineOutcome a = serial.run(c), b = ovl.run(c);
        ASSERT_EQ(engine_check(c, a), "") << "case " << i;
        ASSERT_EQ(engine_check(c, b), "") << "case " << i;
        t_serial += a.cycles;
        t_ovl += b.cycles;
        t_model += predicted(overlapped, c);
    }
    const double speedup = (double)t_serial / (double)t_ovl;
    const double over_model = (double)t_ovl / (double)t_model;
    RecordProperty("serial_over_ovl", std::to_string(speedup));
    RecordProperty("ovl_over_model", std::to_string(over_model));
    EXPECT_GE(speedup, 1.35) << t_serial << " spk_engine cycles, " << t_ovl << " overlapped";
    EXPECT_LT(over_model, 1.15) << t_ovl << " overlapped cycles, " << t_model << " predicted";
    EXPECT_GT(over_model, 0.95) << t_ovl << " overlapped cycles, " << t_model << " predicted";
}

// Icarus 4-state reset/X bench (tests/rtl/engine_reset_tb.v with ENGINE_OVL): no X or Z on any
// output after reset, through a clear, four requests (requant with V on both planes, one plane,
// n = 0, a key list) and the importance read-back.
TEST(RtlEngineOvl, ResetLeavesNoXOnOutputs) {
    const std::string cmd =
        std::string("timeout 120 vvp -n ") + SPK_RTL_ICARUS_ENGINE_OVL + " 2>&1";
    FILE *pipe = popen(cmd.c_str(), "r");
    ASSERT_NE(pipe, nullptr) << "cannot run " << cmd;
    std::string text;
    char buf[512];
    while (std::fgets(buf, sizeof buf, pipe)) text += buf;
    EXPECT_EQ(pclose(pipe), 0) << text;
    EXPECT_NE(text.find("PASS engine_ovl_reset_tb"), std::string::npos) << text;
    EXPECT_EQ(text.find("FAIL"), std::string::npos) << text;
}

// The preset file of this engine (sim/configs/rtl-ovl.cfg, run from the repository root as the
// other preset-file tests are) loads, passes the configuration check, and has the Verilated
// engine's units and the harness's memory.
TEST(RtlEngineOvl, PresetFileHasTheEnginesUnits) {
    spk_config cfg{};
    char err[256] = "";
    ASSERT_EQ(spk_config_load("sim/configs/rtl-ovl.cfg", &cfg, err, sizeof err), 0) << err;
    ASSERT_EQ(spk_config_check(&cfg, err, sizeof err), 0) << err;
    EXPECT_STREQ(cfg.name, "rtl-ovl");
    EXPECT_EQ(cfg.step_overlap, 1u);
    EXPECT_EQ(cfg.qk_multipliers, kEngineLanes);
    EXPECT_EQ(cfg.pv_multipliers, kEngineLanes);
    EXPECT_EQ(cfg.topk_parallelism, kEngineP);
    EXPECT_EQ(cfg.dram_channels, 1u);
    EXPECT_EQ(cfg.dram_latency, 8u);
    EXPECT_EQ(cfg.row_beats, 1u);
    EXPECT_EQ(cfg.softmax_exp_per_cycle, 8u);
}

// The preset file against the Verilated engine on 200 requests, one at a time, contiguous keys
// (the requests `rtl-engine --memory cycles` times): the total within 2% and at least 90% of the
// requests within 5%, issue 18's bars, and every request within 0.95 .. 1.10 (measured on 1,000
// requests per seed, five seeds: total 1.0031 .. 1.0035, 981-993 within 5%, per request 0.955 ..
// 1.103 (seed 3; the other seeds at most 1.085); on these 200: 1.0036, 197;
// docs/simulator.md, "Preset rtl-ovl"). Fails when the RTL or the preset's knobs drift apart.
// n random requests (key lists or contiguous ranges) alone on the overlapped engine against the
// preset file: the totals, the requests within 5% and the extreme per-request ratios.
struct PresetAgreement {
    uint64_t rtl = 0, model = 0;
    int within = 0;
    double lo = 1e9, hi = 0;
    double total() const { return (double)rtl / (double)model; }
};
PresetAgreement track_preset(uint64_t seed, int n, bool lists) {
    PresetAgreement a;
    spk_config cfg{};
    char err[256] = "";
    EXPECT_EQ(spk_config_load("sim/configs/rtl-ovl.cfg", &cfg, err, sizeof err), 0) << err;
    EngineMemory mem;
    mem.random_stalls = false;
    mem.latency = 8;
    EngineHarness<Vengine_ovl> ovl("", mem);
    std::mt19937_64 rng(seed);
    for (int i = 0; i < n; i++) {
        EngineCase c;
        EXPECT_EQ(engine_random_case(rng, 300, c, -1, -1, lists), "");
        const EngineOutcome b = ovl.run(c);
        EXPECT_EQ(engine_check(c, b), "") << "case " << i;
        const uint64_t want = predicted(cfg, c);
        a.rtl += b.cycles;
        a.model += want;
        const double r = (double)b.cycles / (double)want;
        a.within += r >= 0.95 && r <= 1.05;
        a.lo = r < a.lo ? r : a.lo;
        a.hi = r > a.hi ? r : a.hi;
    }
    return a;
}

TEST(RtlEngineOvl, PresetFileTracksTheEngine) {
    constexpr int kRequests = 200;
    const PresetAgreement a = track_preset(4043, kRequests, false);
    RecordProperty("ovl_over_preset", std::to_string(a.total()));
    RecordProperty("within_5_percent", std::to_string(a.within));
    EXPECT_GT(a.total(), 0.98) << a.rtl << " RTL cycles, " << a.model << " preset";
    EXPECT_LT(a.total(), 1.02) << a.rtl << " RTL cycles, " << a.model << " preset";
    EXPECT_GE(a.within, kRequests * 9 / 10) << "requests within 5% of the preset";
    EXPECT_GT(a.lo, 0.95);
    EXPECT_LT(a.hi, 1.10);
}

// The same in key-list mode, the device's head requests (sorted tokens with gaps): the list's
// blocks, then a K and a V scale-word read per key (the preset's key-list rule, docs/simulator.md
// "Preset rtl-ovl"; measured with rtl-engine --lists on 1,000 requests, five seeds:
// 1.0022-1.0025, 988-992 within 5%). 100 requests: the total within 2%, 90% within 5%.
TEST(RtlEngineOvl, PresetFileTracksKeyLists) {
    constexpr int kRequests = 100;
    const PresetAgreement a = track_preset(5150, kRequests, true);
    RecordProperty("lists_over_preset", std::to_string(a.total()));
    EXPECT_GT(a.total(), 0.98) << a.rtl << " RTL cycles, " << a.model << " preset";
    EXPECT_LT(a.total(), 1.02) << a.rtl << " RTL cycles, " << a.model << " preset";
    EXPECT_GE(a.within, kRequests * 9 / 10) << "requests within 5% of the preset";
}

// Two requests in flight: the next request's reads, query load and K pass run beside the
// previous one's tail (PV's end, outputs, head add). 40 pairs, each request alone and then the
// pair back to back, all bit-exact: every pair back to back takes fewer cycles than its two
// requests alone, and the pairs' total is within 2% of the preset's (its tail_overlap; measured
// with rtl-engine --pairs on 500 pairs: 1.0031, the RTL 0.9903-0.9906 of the requests alone).
TEST(RtlEngineOvl, TwoRequestsInFlightOverlapAsThePresetSays) {
    spk_config cfg{};
    char err[256] = "";
    ASSERT_EQ(spk_config_load("sim/configs/rtl-ovl.cfg", &cfg, err, sizeof err), 0) << err;
    ASSERT_GT(cfg.tail_overlap, 0u);
    EngineMemory mem;
    mem.random_stalls = false;
    mem.latency = 8;
    EngineHarness<Vengine_ovl> ovl("", mem);
    std::mt19937_64 rng(9001);
    uint64_t pair_rtl = 0, alone_rtl = 0, pair_model = 0, alone_model = 0;
    for (int i = 0; i < 40; i++) {
        EngineCase c[2];
        for (EngineCase &x : c) ASSERT_EQ(engine_random_case(rng, 300, x, -1, -1, false), "");
        const EngineOutcome a = ovl.run(c[0]), b = ovl.run(c[1]);
        const std::vector<EngineOutcome> both = ovl.run_burst({c[0], c[1]});
        ASSERT_EQ(engine_check(c[0], a), "") << "pair " << i;
        ASSERT_EQ(engine_check(c[1], b), "") << "pair " << i;
        ASSERT_EQ(engine_check(c[0], both[0]), "") << "pair " << i << " back to back";
        ASSERT_EQ(engine_check(c[1], both[1]), "") << "pair " << i << " back to back";
        const uint64_t pair = both[0].cycles + both[1].cycles; // first accept to second done
        EXPECT_LT(pair, a.cycles + b.cycles) << "pair " << i;
        pair_rtl += pair;
        alone_rtl += a.cycles + b.cycles;
        spk_cycle_request req[2]{};
        for (int k = 0; k < 2; k++) {
            spk_cycle_request_site site{0, 0, 0, c[k].n_tokens, (uint8_t)!c[k].keys.empty()};
            ASSERT_EQ(spk_cycle_request_from_head(&c[k].cfg, &c[k].want_ev, &site, &req[k]),
                      SPK_CYCLE_OK);
        }
        spk_cycle_stats stats{};
        ASSERT_EQ(spk_cycle_run(&cfg, req, 2, &stats, nullptr, nullptr, nullptr), SPK_CYCLE_OK);
        pair_model += stats.cycles;
        alone_model += predicted(cfg, c[0]) + predicted(cfg, c[1]);
    }
    const double agree = (double)pair_rtl / (double)pair_model;
    RecordProperty("pairs_over_preset", std::to_string(agree));
    RecordProperty("pairs_over_alone", std::to_string((double)pair_rtl / (double)alone_rtl));
    EXPECT_GT(agree, 0.98) << pair_rtl << " RTL cycles, " << pair_model << " preset";
    EXPECT_LT(agree, 1.02) << pair_rtl << " RTL cycles, " << pair_model << " preset";
    EXPECT_LT(pair_model, alone_model) << "the preset overlaps the pairs too";
}

} // namespace
