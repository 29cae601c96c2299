// Layers and cascade pruning: a pruned token or head never returns, keep counts follow the
// spec, importance carries across calls (docs/spec/datapath.md, "Importance" to "Layer").
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "attention_fixture.h"

namespace {

struct LayerInputs {
    uint32_t H, Hkv, Lq, L, d;
    Quantized q, k, v;
    std::vector<float> qf, kf, vf;

    LayerInputs(uint32_t H_, uint32_t Hkv_, uint32_t Lq_, uint32_t L_, uint32_t d_,
                std::mt19937 &rng)
        : H(H_), Hkv(Hkv_), Lq(Lq_), L(L_), d(d_) {
        qf = random_normal((size_t)H * Lq * d, rng, 2.0f);
        kf = random_normal((size_t)Hkv * L * d, rng);
        vf = random_normal((size_t)Hkv * L * d, rng);
        q = quantize_rows(qf, d, SPK_Q_BITS, true);
        k = quantize_rows(kf, d, 12, false);
        v = quantize_rows(vf, d, 12, false);
    }

    spk_layer_desc desc(bool causal) const {
        return spk_layer_desc{H,
                              Hkv,
                              Lq,
                              L,
                              q.codes.data(),
                              q.scales.data(),
                              k.codes.data(),
                              k.scales.data(),
                              v.codes.data(),
                              v.scales.data(),
                              causal ? 1u : 0u,
                              0u,
                              nullptr,
                              nullptr};
    }
};

spk_head_config cfg12(uint32_t d) {
    spk_head_config c{};
    c.d = d;
    c.kv = {12, 0};
    c.requant_threshold = 0;
    c.v_keep_q16 = SPK_ONE_Q16;
    c.topk_parallelism = 16;
    return c;
}

struct LayerRun {
    std::vector<int32_t> out, exp;
    spk_layer_stats stats{};
    spksim_status status;
    LayerRun(const spk_head_config &c, const LayerInputs &in, spk_prune_state *st, bool causal)
        : out((size_t)in.H * in.Lq * in.d), exp((size_t)in.H * in.Lq) {
        spk_workspace *ws = spk_workspace_create(in.L);
        auto desc = in.desc(causal);
        status = spk_layer_run(&c, &desc, st, ws, out.data(), exp.data(), &stats, nullptr, nullptr);
        spk_workspace_destroy(ws);
    }
};

TEST(Layer, CausalGqaMatchesFloatAttentionPerHead) {
    std::mt19937 rng(31);
    LayerInputs in(6, 2, 5, 40, 64, rng);
    spk_prune_state *st = spk_prune_create(6, 40);
    ASSERT_EQ(spk_prune_append(st, 40), SPKSIM_OK);
    LayerRun r(cfg12(64), in, st, true);
    ASSERT_EQ(r.status, SPKSIM_OK);
    EXPECT_EQ(r.stats.requests, 30u);
    uint64_t expect_keys = 0;
    for (uint32_t h = 0; h < 6; h++) {
        const uint32_t kvh = h / 3;
        for (uint32_t i = 0; i < 5; i++) {
            std::vector<uint32_t> keys;
            for (uint32_t j = 0; j <= 40 - 5 + i; j++) keys.push_back(j);
            expect_keys += keys.size();
            auto ref =
                float_attention(&in.qf[((size_t)h * 5 + i) * 64], &in.kf[(size_t)kvh * 40 * 64],
                                &in.vf[(size_t)kvh * 40 * 64], keys, 64);
            for (uint32_t x = 0; x < 64; x++) {
                size_t o = ((size_t)h * 5 + i) * 64 + x;
                ASSERT_NEAR(spk_output_to_float(r.out[o], r.exp[o / 64]), ref[x], 0.02)
                    << "head " << h << " query " << i;
            }
        }
    }
    EXPECT_EQ(r.stats.keys_fetched, expect_keys);
    spk_prune_destroy(st);
}

TEST(Pruning, KeepCountsAndNeverReturn) {
    std::mt19937 rng(77);
    const uint32_t H = 8, L = 100, d = 32;
    spk_prune_state *st = spk_prune_create(H, L);
    ASSERT_EQ(spk_prune_append(st, L), SPKSIM_OK);
    std::vector<bool> token_dead(L, false), head_dead(H, false);
    uint32_t alive_t = L, alive_h = H;
    for (int layer = 0; layer < 6; layer++) {
        LayerInputs in(H, H, 2, L, d, rng);
        LayerRun r(cfg12(d), in, st, false);
        ASSERT_EQ(r.status, SPKSIM_OK);
        EXPECT_EQ(r.stats.heads_computed, alive_h);
        EXPECT_EQ(r.stats.keys_fetched, (uint64_t)alive_h * 2 * alive_t)
            << "only alive tokens of alive heads are fetched";
        for (uint32_t h = 0; h < H; h++) {
            if (!head_dead[h]) continue;
            for (uint32_t x = 0; x < 2 * d; x++) ASSERT_EQ(r.out[(size_t)h * 2 * d + x], 0);
        }
        spk_keep tk{0, spk_ratio_q16(0.7)}, hk{0, spk_ratio_q16(0.8)};
        ASSERT_EQ(spk_prune_keep(st, tk, hk, nullptr, nullptr), SPKSIM_OK);
        alive_t = (uint32_t)std::ceil(alive_t * (spk_ratio_q16(0.7) / 65536.0));
        alive_h = (uint32_t)std::ceil(alive_h * (spk_ratio_q16(0.8) / 65536.0));
        EXPECT_EQ(spk_prune_alive_tokens(st), alive_t);
        EXPECT_EQ(spk_prune_alive_heads(st), alive_h);
        for (uint32_t j = 0; j < L; j++) {
            if (token_dead[j]) {
                ASSERT_FALSE(spk_prune_token_alive(st, j)) << "token returned";
            }
            token_dead[j] = !spk_prune_token_alive(st, j);
        }
        for (uint32_t h = 0; h < H; h++) {
            if (head_dead[h]) {
                ASSERT_FALSE(spk_prune_head_alive(st, h)) << "head returned";
            }
            head_dead[h] = !spk_prune_head_alive(st, h);
        }
    }
    spk_prune_destroy(st);
}

TEST(Pruning, KeepsTheMostImportantAndCarriesImportance) {
    spk_prune_state *st = spk_prune_create(2, 8);
    ASSERT_EQ(spk_prune_append(st, 6), SPKSIM_OK);
    const uint64_t imp[6] = {5, 9, 5, 1, 9, 0};
    for (uint32_t j = 0; j < 6; j++) spk_prune_add_token(st, j, imp[j]);
    spk_prune_add_token(st, 0, 1); // importance accumulates
    EXPECT_EQ(spk_prune_token_importance(st, 0), 6u);
    spk_topk_trace tr;
    ASSERT_EQ(spk_prune_keep(st, spk_keep{3, 0}, SPK_KEEP_ALL, &tr, nullptr), SPKSIM_OK);
    // Top 3 of {6, 9, 5, 1, 9, 0}: tokens 0, 1, 4.
    std::vector<int> alive;
    for (uint32_t j = 0; j < 6; j++) alive.push_back(spk_prune_token_alive(st, j));
    EXPECT_EQ(alive, (std::vector<int>{1, 1, 0, 0, 1, 0}));
    // New tokens join alive with zero importance; old importance is kept.
    ASSERT_EQ(spk_prune_append(st, 2), SPKSIM_OK);
    EXPECT_EQ(spk_prune_alive_tokens(st), 5u);
    EXPECT_EQ(spk_prune_token_importance(st, 1), 9u);
    EXPECT_EQ(spk_prune_append(st, 1), SPKSIM_E_CAPACITY);
    ASSERT_EQ(spk_prune_reserve(st, 16), SPKSIM_OK);
    EXPECT_EQ(spk_prune_append(st, 1), SPKSIM_OK);
    // Saturation at 48 bits.
    spk_prune_add_head(st, 1, SPK_IMPORTANCE_MAX - 1);
    spk_prune_add_head(st, 1, 5);
    EXPECT_EQ(spk_prune_head_importance(st, 1), SPK_IMPORTANCE_MAX);
    EXPECT_EQ(spk_prune_keep(st, spk_keep{0, 0}, SPK_KEEP_ALL, nullptr, nullptr), SPKSIM_E_ARG);
    spk_prune_destroy(st);
}

TEST(Pruning, LayerImportanceIsSumOfProbabilities) {
    std::mt19937 rng(5);
    LayerInputs in(3, 3, 4, 20, 16, rng);
    spk_prune_state *st = spk_prune_create(3, 20);
    ASSERT_EQ(spk_prune_append(st, 20), SPKSIM_OK);
    LayerRun r(cfg12(16), in, st, false);
    ASSERT_EQ(r.status, SPKSIM_OK);
    uint64_t total = 0;
    for (uint32_t j = 0; j < 20; j++) total += spk_prune_token_importance(st, j);
    // 12 requests, each with probabilities summing to 1.0 (65536) within rounding.
    EXPECT_NEAR((double)total, 12 * 65536.0, 12 * 20.0);
    for (uint32_t h = 0; h < 3; h++) EXPECT_GT(spk_prune_head_importance(st, h), 0u);
    spk_prune_destroy(st);
}

TEST(Pruning, SaveLoadRoundTripAndRejectsMalformedFiles) {
    spk_prune_state *st = spk_prune_create(4, 10);
    ASSERT_EQ(spk_prune_append(st, 7), SPKSIM_OK);
    for (uint32_t j = 0; j < 7; j++) spk_prune_add_token(st, j, j * 100u);
    spk_prune_add_head(st, 2, 77);
    ASSERT_EQ(spk_prune_keep(st, spk_keep{4, 0}, spk_keep{3, 0}, nullptr, nullptr), SPKSIM_OK);
    std::string path = ::testing::TempDir() + "prune_state.bin";
    ASSERT_EQ(spk_prune_save(st, path.c_str()), SPKSIM_OK);
    spk_prune_state *back = nullptr;
    ASSERT_EQ(spk_prune_load(path.c_str(), &back), SPKSIM_OK);
    EXPECT_EQ(spk_prune_tokens(back), 7u);
    for (uint32_t j = 0; j < 7; j++) {
        EXPECT_EQ(spk_prune_token_alive(back, j), spk_prune_token_alive(st, j));
        EXPECT_EQ(spk_prune_token_importance(back, j), spk_prune_token_importance(st, j));
    }
    EXPECT_EQ(spk_prune_head_importance(back, 2), 77u);
    EXPECT_EQ(spk_prune_alive_heads(back), 3u);
    spk_prune_destroy(back);

    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (size_t cut = 0; cut < bytes.size(); cut += 3) {
        std::string bad = ::testing::TempDir() + "prune_bad.bin";
        std::ofstream(bad, std::ios::binary).write(bytes.data(), (std::streamsize)cut);
        spk_prune_state *p = nullptr;
        EXPECT_EQ(spk_prune_load(bad.c_str(), &p), SPKSIM_E_FORMAT) << "truncated at " << cut;
        EXPECT_EQ(p, nullptr);
    }
    EXPECT_EQ(spk_prune_load("/nonexistent/x", &back), SPKSIM_E_IO);
    spk_prune_destroy(st);
}

TEST(Layer, RejectsInconsistentInputs) {
    std::mt19937 rng(5);
    LayerInputs in(4, 3, 1, 10, 16, rng); // 3 KV heads do not divide 4 heads
    spk_prune_state *st = spk_prune_create(4, 10);
    ASSERT_EQ(spk_prune_append(st, 10), SPKSIM_OK);
    EXPECT_EQ(LayerRun(cfg12(16), in, st, false).status, SPKSIM_E_ARG);
    LayerInputs ok(4, 2, 1, 10, 16, rng);
    spk_prune_state *small = spk_prune_create(4, 10);
    ASSERT_EQ(spk_prune_append(small, 9), SPKSIM_OK); // state and inputs disagree on L
    EXPECT_EQ(LayerRun(cfg12(16), ok, small, false).status, SPKSIM_E_ARG);
    spk_prune_destroy(st);
    spk_prune_destroy(small);
}

} // namespace
