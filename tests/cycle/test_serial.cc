// The serial engine (step_overlap = 0) and the microarchitecture knobs that model
// rtl/engine/spk_engine.v: each knob moves the cycles of a directed request in the expected
// direction, by the amount its definition in docs/simulator.md ("Serial engine") says.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "spksim/config.h"
#include "spksim/cycle.h"

namespace {

spk_config rtl_engine() {
    spk_config c;
    EXPECT_EQ(spk_config_preset("rtl-engine", &c), 0);
    return c;
}

// A directed request: n keys of d fields (8-bit MSB and 4-bit LSB planes), kv kept V rows.
spk_cycle_request request(uint32_t d, uint32_t n, uint32_t kv, bool requant = false,
                          bool v_two_planes = false, uint64_t topk_cycles = 0) {
    spk_cycle_request r{};
    r.heads = 1;
    r.d = d;
    r.l = n;
    r.keys = n;
    r.values = kv;
    r.key_bits = 8;
    r.lsb_bits = 4;
    r.value_bits = v_two_planes ? 12 : 8;
    const uint64_t msb_row = (d * 8 + 255) / 256, lsb_row = (d * 4 + 255) / 256;
    r.key_msb_transactions = n * msb_row + (4 * n + 31) / 32;
    r.value_transactions = kv * (v_two_planes ? msb_row + lsb_row : msb_row) + (4 * kv + 31) / 32;
    if (requant) {
        r.requant_heads = 1;
        r.requant_keys = n;
        r.key_lsb_transactions = n * lsb_row;
    }
    r.key_lsb_addr = 1ull << 56;
    r.value_addr = 2ull << 56;
    r.local_topk_cycles = topk_cycles;
    return r;
}

uint64_t cycles(const spk_config &cfg, const std::vector<spk_cycle_request> &reqs) {
    spk_cycle_stats s;
    EXPECT_EQ(spk_cycle_run(&cfg, reqs.data(), reqs.size(), &s, nullptr, nullptr, nullptr),
              SPK_CYCLE_OK);
    return s.cycles;
}

uint64_t cycles(const spk_config &cfg, const spk_cycle_request &r) {
    return cycles(cfg, std::vector<spk_cycle_request>{r});
}

// The cycles of r with one field of the configuration changed.
template <class F> int64_t delta(spk_config cfg, const spk_cycle_request &r, F change) {
    const int64_t before = (int64_t)cycles(cfg, r);
    change(cfg);
    return (int64_t)cycles(cfg, r) - before;
}

const spk_cycle_request kDirected = request(64, 64, 16, false, false, 30);

} // namespace

TEST(Serial, RequestsDoNotOverlap) {
    const spk_config cfg = rtl_engine();
    const spk_cycle_request a = request(64, 100, 20, true, true, 40), b = request(16, 37, 37);
    std::vector<spk_cycle_timing> tm(2);
    spk_cycle_stats s;
    const std::vector<spk_cycle_request> both{a, b};
    ASSERT_EQ(spk_cycle_run(&cfg, both.data(), 2, &s, tm.data(), nullptr, nullptr), SPK_CYCLE_OK);
    EXPECT_EQ(s.cycles, cycles(cfg, a) + cycles(cfg, b));
    EXPECT_DOUBLE_EQ(tm[1].admitted, tm[0].done); // taken only when the engine is idle
    EXPECT_EQ(s.requests, 2u);
}

TEST(Serial, StepOverlapOffCostsTime) {
    spk_config overlapped;
    ASSERT_EQ(spk_config_preset("eighth", &overlapped), 0);
    spk_config serial = overlapped;
    serial.step_overlap = 0;
    const std::vector<spk_cycle_request> reqs(8, request(64, 200, 40, true, false, 60));
    const uint64_t one_serial = cycles(serial, reqs[0]);
    // Overlapped, the requests share the pipeline; serial, each waits for the previous one.
    EXPECT_LT(cycles(overlapped, reqs), 8 * cycles(overlapped, reqs[0]));
    EXPECT_EQ(cycles(serial, reqs), 8 * one_serial);
    EXPECT_GT(one_serial, cycles(overlapped, reqs[0]));
}

TEST(Serial, SoftmaxPassesAddOnePassOfTheScoresEach) {
    const spk_config cfg = rtl_engine(); // one key per cycle
    const uint32_t n = kDirected.keys;
    EXPECT_EQ(delta(cfg, kDirected, [](spk_config &c) { c.softmax_passes = 3; }), n);
    // With requant the softmax runs once per K pass.
    const spk_cycle_request rq = request(64, 64, 16, true);
    EXPECT_EQ(delta(cfg, rq, [](spk_config &c) { c.softmax_passes = 3; }), 2 * n);
    // The overlapped pipeline too: one request alone, 8 scores per cycle.
    spk_config eighth;
    ASSERT_EQ(spk_config_preset("eighth", &eighth), 0);
    EXPECT_EQ(delta(eighth, kDirected, [](spk_config &c) { c.softmax_passes = 2; }), n / 8);
}

TEST(Serial, FewerFetchSlotsCostTimeOnShortRows) {
    spk_config cfg = rtl_engine();
    const spk_cycle_request r = request(8, 128, 64); // 8-byte rows: the fetcher's slots limit
    uint64_t prev = 0;
    for (uint32_t slots : {8u, 4u, 2u, 1u}) {
        cfg.fetch_slots = slots;
        const uint64_t t = cycles(cfg, r);
        EXPECT_GE(t, prev) << slots << " slots";
        prev = t;
    }
    cfg.fetch_slots = 4;
    EXPECT_LT(cycles(cfg, r), prev); // 4 slots beat 1
}

// With one slot a row's fetch cannot overlap the next: each K row costs the index hand-off,
// its requests, the service and latency of its last block, the fill cycle and its beats.
TEST(Serial, OneSlotRowsCostTheirWholeRoundTrip) {
    spk_config cfg = rtl_engine();
    cfg.fetch_slots = 1;
    cfg.unaligned_regions = 0;
    cfg.kept_scan = 0;
    cfg.topk_emit_pass = 0;
    cfg.softmax_per_cycle = 64; // one softmax cycle per pass for both sizes
    cfg.query_load_cycles = 0;  // the query load would hide the extra K scale block
    const spk_cycle_request small = request(64, 8, 0), large = request(64, 16, 0);
    const uint64_t blocks = 2, beats = 64 / cfg.qk_multipliers; // 64 bytes, aligned
    const uint64_t per_row = cfg.fetch_row_overhead + blocks + cfg.dram_latency + 1 + beats;
    const uint64_t kscale_blocks = 1; // 32 more bytes of K scale words
    EXPECT_EQ(cycles(cfg, large) - cycles(cfg, small), 8 * per_row + kscale_blocks);
}

TEST(Serial, RowOverheadCostsEveryRowWithOneSlot) {
    spk_config cfg = rtl_engine();
    cfg.fetch_slots = 1;
    const spk_cycle_request r = request(64, 40, 10, true, true);
    // K MSB and LSB passes (40 rows each) and two V plane passes (10 rows each).
    EXPECT_EQ(delta(cfg, r, [](spk_config &c) { c.fetch_row_overhead += 2; }),
              2 * (40 + 40 + 10 + 10));
}

TEST(Serial, UnalignedRegionsFetchMoreBlocks) {
    spk_config cfg = rtl_engine();
    cfg.unaligned_regions = 0;
    const spk_cycle_request r = request(8, 200, 100); // 8-byte rows never straddle aligned
    EXPECT_GT(delta(cfg, r, [](spk_config &c) { c.unaligned_regions = 1; }), 0);
}

TEST(Serial, FetchDoneLatencyPerValuePass) {
    const spk_config cfg = rtl_engine();
    EXPECT_EQ(delta(cfg, kDirected, [](spk_config &c) { c.fetch_done_latency += 4; }), 4);
    const spk_cycle_request two = request(64, 64, 16, false, true);
    EXPECT_EQ(delta(cfg, two, [](spk_config &c) { c.fetch_done_latency += 4; }), 8);
}

// Without the scan, per-row scale reads go out back to back: kv reads instead of ceil(4kv/32).
TEST(Serial, ValueScalesPerRowCostOneReadEach) {
    spk_config cfg = rtl_engine();
    cfg.kept_scan = 0;
    const uint64_t kv = kDirected.values;
    EXPECT_EQ(delta(cfg, kDirected, [](spk_config &c) { c.value_scale_per_row = 0; }),
              -(int64_t)(kv - (4 * kv + 31) / 32));
}

// The scan lists one kept row per cycle and spends a cycle on every line whose last flag is clear
// (expected for kept rows spread evenly): 16 kept of 64 keys in 8 lines of 8 = 16 + 8 - 2.
TEST(Serial, KeptScanListsRowsAndSkipsLines) {
    spk_config cfg = rtl_engine();
    cfg.value_scale_per_row = 0;
    EXPECT_EQ(delta(cfg, kDirected, [](spk_config &c) { c.kept_scan = 0; }), -(16 + 8 - 2));
}

TEST(Serial, TopkEmitPassAndLatency) {
    const spk_config cfg = rtl_engine();
    EXPECT_EQ(delta(cfg, kDirected, [](spk_config &c) { c.topk_emit_pass = 0; }),
              -(int64_t)(kDirected.keys / cfg.topk_parallelism));
    EXPECT_EQ(delta(cfg, kDirected, [](spk_config &c) { c.topk_latency += 7; }), 7);
    // The request's own selection latency is taken as measured.
    spk_cycle_request longer = kDirected;
    longer.local_topk_cycles += 25;
    EXPECT_EQ(cycles(cfg, longer) - cycles(cfg, kDirected), 25u);
}

TEST(Serial, OutputStreamAndStepHandOffs) {
    const spk_config cfg = rtl_engine();
    EXPECT_EQ(delta(cfg, kDirected, [](spk_config &c) { c.output_per_cycle = 0; }),
              -(int64_t)kDirected.d);
    // Hand-offs: descriptor taken, QLOAD, K pass start, V pass start, done.
    EXPECT_EQ(delta(cfg, kDirected, [](spk_config &c) { c.step_latency += 2; }), 5 * 2);
    // A requant pass and a second V plane add one hand-off each.
    const spk_cycle_request both = request(64, 64, 16, true, true);
    EXPECT_EQ(delta(cfg, both, [](spk_config &c) { c.step_latency += 2; }), 7 * 2);
    // The head-importance add before DONE, once per request.
    EXPECT_EQ(delta(cfg, kDirected, [](spk_config &c) { c.head_add_latency += 2; }), 2);
}

TEST(Serial, RequantAddsAnLsbPass) {
    const spk_config cfg = rtl_engine();
    EXPECT_GT(cycles(cfg, request(64, 64, 16, true)), cycles(cfg, request(64, 64, 16, false)));
}

TEST(Serial, ConfigRejectsSerialKnobsOnTheOverlappedPipeline) {
    spk_config c;
    ASSERT_EQ(spk_config_preset("full", &c), 0);
    char err[512] = "";
    EXPECT_EQ(spk_config_check(&c, err, sizeof err), 0) << err;
    c.fetch_slots = 4;
    EXPECT_EQ(spk_config_check(&c, err, sizeof err), -1);
    EXPECT_NE(std::string(err).find("step_overlap = 0"), std::string::npos) << err;
    c.step_overlap = 0;
    EXPECT_EQ(spk_config_check(&c, err, sizeof err), 0) << err;
    c.fetch_slots = SPK_CONFIG_MAX_FETCH_SLOTS + 1;
    EXPECT_EQ(spk_config_check(&c, err, sizeof err), -1);
    c.fetch_slots = 4;
    c.softmax_passes = 0;
    EXPECT_EQ(spk_config_check(&c, err, sizeof err), -1);
    c.softmax_passes = 2;
    c.step_overlap = 2;
    EXPECT_EQ(spk_config_check(&c, err, sizeof err), -1);
    spk_cycle_stats s;
    const spk_cycle_request r = kDirected;
    EXPECT_EQ(spk_cycle_run(&c, &r, 1, &s, nullptr, nullptr, nullptr), SPK_CYCLE_E_CONFIG);
}

// The query's int16 codes are read before the K scale words (2d bytes, 4 blocks for d = 64 when
// aligned) and loaded into QK: with many scale words the load hides behind them (the reads and
// the QLOAD hand-off cost), with few the load itself shows.
TEST(Serial, QueryReadAndLoad) {
    spk_config cfg = rtl_engine();
    cfg.unaligned_regions = 0;
    const int64_t query_blocks = 4, step = cfg.step_latency, load = cfg.query_load_cycles;
    const auto no_query = [](spk_config &c) { c.query_load_cycles = 0; };
    EXPECT_EQ(delta(cfg, request(64, 256, 16), no_query), -(query_blocks + step));
    const int64_t scale_blocks = 1; // 8 keys
    EXPECT_EQ(delta(cfg, request(64, 8, 4), no_query),
              -(query_blocks + load + step - scale_blocks));
}

// The final probabilities go to the token accumulators one a cycle beside the top-k, scan and V
// pass; done waits for the last add, which shows when there are many keys and few kept rows.
TEST(Serial, ImportanceAddsCanHoldDone) {
    const spk_config cfg = rtl_engine();
    spk_cycle_request many = request(8, 512, 1);
    many.accumulate_importance = 1;
    EXPECT_EQ(delta(cfg, many, [](spk_config &c) { c.importance_per_cycle = 2; }), -256);
    spk_cycle_request no_adds = many;
    no_adds.accumulate_importance = 0;
    EXPECT_LT(cycles(cfg, no_adds), cycles(cfg, many));
    spk_cycle_request directed = kDirected; // the V pass outlasts 64 adds
    directed.accumulate_importance = 1;
    EXPECT_EQ(cycles(cfg, directed), cycles(cfg, kDirected));
}

// No keys: nothing is fetched, PV outputs d zeros (accept, ZERO, PV drain and output, the
// head-importance add, done).
TEST(Serial, NoKeysOnlyOutputsZeros) {
    const spk_config cfg = rtl_engine();
    const spk_cycle_request none = request(64, 0, 0);
    EXPECT_EQ(cycles(cfg, none), 3 * cfg.step_latency + cfg.pv_latency + cfg.output_latency +
                                     64 / cfg.output_per_cycle + cfg.head_add_latency);
}
