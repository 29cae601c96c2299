// Data mode: real tensors through the golden model, timed by the engine; the functional
// results must be exactly the golden model's.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "spksim/cycle_data.h"
#include "spksim/datapath.h"

namespace {

struct HeadData {
    std::vector<int16_t> q, k, v;
    std::vector<spk_scale> ks, vs;
    std::vector<uint32_t> keys;
    spk_scale q_logit = 0;
};

uint32_t lcg(uint64_t &s) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(s >> 33);
}

// Random codes of the full msb+lsb width (10 bits for 6+4), every other token kept.
HeadData make_head(uint64_t seed, uint32_t d, uint32_t tokens, uint32_t bits) {
    HeadData h;
    const int32_t half = 1 << (bits - 1);
    auto code = [&](void) { return (int16_t)((int32_t)(lcg(seed) % (2u * half)) - half); };
    h.q.resize(d);
    for (auto &x : h.q) x = (int16_t)((int32_t)(lcg(seed) % 4096u) - 2048);
    h.k.resize((size_t)tokens * d);
    h.v.resize((size_t)tokens * d);
    for (auto &x : h.k) x = code();
    for (auto &x : h.v) x = code();
    h.ks.assign(tokens, spk_scale_make(40000 + lcg(seed) % 20000, -14));
    h.vs.assign(tokens, spk_scale_make(50000, -12));
    for (uint32_t t = 0; t < tokens; t += 2) h.keys.push_back(t);
    EXPECT_EQ(spk_logit_scale(spk_scale_make(32768, -11), d, &h.q_logit), SPKSIM_OK);
    return h;
}

} // namespace

// threshold 0: never requantize; 0.1: random keys give flat softmaxes, so every head does.
class DataMode : public ::testing::TestWithParam<uint32_t> {};

TEST_P(DataMode, ResultsAreTheGoldenModelsAndTimingAddsUp) {
    const uint32_t d = 64, tokens = 600, n_heads = 6;
    spk_head_config hc{};
    hc.d = d;
    hc.kv.msb_bits = 6;
    hc.kv.lsb_bits = 4;
    hc.requant_threshold = GetParam();
    hc.v_keep_q16 = spk_ratio_q16(0.25);
    hc.topk_parallelism = 16;
    if (spk_head_config_check(&hc) != SPKSIM_OK) GTEST_SKIP() << "golden head config rejected";

    std::vector<HeadData> data;
    std::vector<spk_head_request> reqs(n_heads);
    std::vector<spk_cycle_request_site> sites(n_heads);
    for (uint32_t h = 0; h < n_heads; h++) data.push_back(make_head(100 + h, d, tokens, 10));
    for (uint32_t h = 0; h < n_heads; h++) {
        const HeadData &x = data[h];
        reqs[h] = {x.q.data(), x.q_logit,   x.keys.data(), (uint32_t)x.keys.size(),
                   x.k.data(), x.ks.data(), x.v.data(),    x.vs.data(),
                   0};
        sites[h] = {0, 0, h, tokens, 0};
    }
    const size_t n_keys = data[0].keys.size();
    std::vector<std::vector<int32_t>> out(n_heads, std::vector<int32_t>(d)), out2 = out;
    std::vector<std::vector<uint16_t>> probs(n_heads, std::vector<uint16_t>(n_keys)),
        probs2 = probs;
    std::vector<std::vector<uint32_t>> vk(n_heads, std::vector<uint32_t>(n_keys)), vk2 = vk;
    std::vector<spk_head_result> res(n_heads), direct(n_heads);
    for (uint32_t h = 0; h < n_heads; h++) {
        // Members by name: the result struct may grow optional outputs (left NULL here).
        res[h] = spk_head_result{};
        res[h].out = out[h].data();
        res[h].probs = probs[h].data();
        res[h].v_keys = vk[h].data();
        direct[h] = spk_head_result{};
        direct[h].out = out2[h].data();
        direct[h].probs = probs2[h].data();
        direct[h].v_keys = vk2[h].data();
    }
    spk_workspace *ws = spk_workspace_create(tokens);
    ASSERT_NE(ws, nullptr);
    spk_config cfg;
    ASSERT_EQ(spk_config_preset("eighth", &cfg), 0);
    spk_cycle_stats stats;
    spksim_status gs;
    size_t failed = 0;
    ASSERT_EQ(spk_cycle_run_heads(&cfg, &hc, reqs.data(), sites.data(), n_heads, ws, res.data(),
                                  &stats, &gs, &failed),
              SPK_CYCLE_OK)
        << "golden status " << gs << " at request " << failed;

    uint64_t msb = 0, lsb = 0, val = 0, requant = 0;
    for (uint32_t h = 0; h < n_heads; h++) {
        ASSERT_EQ(spk_head_run(&hc, &reqs[h], ws, &direct[h]), SPKSIM_OK);
        EXPECT_EQ(out[h], out2[h]) << "head " << h;
        EXPECT_EQ(res[h].out_exp, direct[h].out_exp);
        EXPECT_EQ(probs[h], probs2[h]);
        EXPECT_EQ(res[h].ev.values_fetched, direct[h].ev.values_fetched);
        for (uint32_t i = 0; i < res[h].ev.values_fetched; i++) EXPECT_EQ(vk[h][i], vk2[h][i]);
        const spk_head_events &e = res[h].ev;
        // 6-bit rows: 48 B -> 2 transactions; 4-bit LSB rows 32 B -> 1; V rows 6 or 10 bits.
        msb += 2ull * e.keys_fetched + (4ull * e.keys_fetched + 31) / 32;
        lsb += e.requant ? e.keys_refetched : 0;
        val +=
            (e.v_with_lsb ? 3ull : 2ull) * e.values_fetched + (4ull * e.values_fetched + 31) / 32;
        requant += e.requant;
    }
    EXPECT_EQ(stats.key_msb_transactions, msb);
    EXPECT_EQ(stats.key_lsb_transactions, lsb);
    EXPECT_EQ(stats.value_transactions, val);
    EXPECT_EQ(stats.requant_requests, requant);
    if (GetParam() == 0)
        EXPECT_EQ(requant, 0u);
    else
        EXPECT_GT(requant, 0u);
    EXPECT_EQ(stats.requests, n_heads);
    EXPECT_GE((double)stats.cycles, (double)stats.dram_bytes / (32.0 * cfg.dram_channels));
    spk_workspace_destroy(ws);
}

INSTANTIATE_TEST_SUITE_P(Thresholds, DataMode, ::testing::Values(0u, 65536u / 10u));
