// The last-step per-head policy (MIT's released SpAtten-LLM scoring): per-(layer, K/V head) token
// sets ranked by the layer's last pre-softmax logits (docs/spec/datapath.md, "Last-step per-head
// policy").
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include <unistd.h>

#include "attention_fixture.h"

namespace {

spk_head_config cfg12(uint32_t d) {
    spk_head_config c{};
    c.d = d;
    c.kv = {12, 0};
    c.requant_threshold = 0;
    c.v_keep_q16 = SPK_ONE_Q16;
    c.topk_parallelism = 16;
    return c;
}

// One step's inputs of one layer: H query heads over Hkv K/V heads, Lq queries, L tokens.
struct Inputs {
    uint32_t H, Hkv, Lq, L, d;
    Quantized q, k, v;
    Inputs(uint32_t H_, uint32_t Hkv_, uint32_t Lq_, uint32_t L_, uint32_t d_, std::mt19937 &rng)
        : H(H_), Hkv(Hkv_), Lq(Lq_), L(L_), d(d_) {
        q = quantize_rows(random_normal((size_t)H * Lq * d, rng, 2.0f), d, SPK_Q_BITS, true);
        k = quantize_rows(random_normal((size_t)Hkv * L * d, rng), d, 12, false);
        v = quantize_rows(random_normal((size_t)Hkv * L * d, rng), d, 12, false);
    }
    spk_layer_desc desc(uint32_t layer) const {
        spk_layer_desc l{};
        l.n_heads = H, l.n_kv_heads = Hkv, l.n_queries = Lq, l.n_tokens = L;
        l.q = q.codes.data(), l.q_logit_scales = q.scales.data();
        l.k = k.codes.data(), l.k_scales = k.scales.data();
        l.v = v.codes.data(), l.v_scales = v.scales.data();
        l.causal = 1;
        l.layer = layer;
        return l;
    }
};

struct LayerCall {
    std::vector<int32_t> out, exp;
    spk_layer_stats stats{};
    spksim_status status;
    LayerCall(const Inputs &in, spk_prune_state *st, uint32_t layer)
        : out((size_t)in.H * in.Lq * in.d), exp((size_t)in.H * in.Lq) {
        spk_workspace *ws = spk_workspace_create(in.L);
        const spk_head_config c = cfg12(in.d);
        auto desc = in.desc(layer);
        status = spk_layer_run(&c, &desc, st, ws, out.data(), exp.data(), &stats, nullptr, nullptr);
        spk_workspace_destroy(ws);
    }
};

std::vector<int> kv_alive(const spk_prune_state *st, uint32_t layer, uint32_t g) {
    std::vector<int> a;
    for (uint32_t j = 0; j < spk_prune_tokens(st); j++)
        a.push_back(spk_prune_kv_token_alive(st, layer, g, j));
    return a;
}

TEST(LastStep, HandCheckedKeepWithSinksRecentAndTies) {
    spk_prune_state *st = spk_prune_create(2, 8);
    ASSERT_EQ(spk_prune_enable_kv(st, 2, 1), SPKSIM_OK);
    ASSERT_EQ(spk_prune_append(st, 8), SPKSIM_OK);
    // Layer 1's scores; tokens 0 (sink) and 6, 7 (recent) are protected whatever they score.
    const int64_t scores[8] = {-100, 5, -3, 9, 9, 2, -50, -60};
    ASSERT_EQ(spk_prune_set_kv_scores(st, 1, 0, scores), SPKSIM_OK);
    EXPECT_EQ(spk_prune_kv_score(st, 1, 0, 3), 9);
    const spk_prune_window w{1, 2, 0};
    // Keep 5: the 3 protected, then the top 2 of {5, -3, 9, 9, 2}: the two 9s (tokens 3, 4).
    ASSERT_EQ(spk_prune_keep_policy(st, SPK_PRUNE_LAST_STEP, 1, spk_keep{5, 0}, SPK_KEEP_ALL, &w,
                                    nullptr, nullptr),
              SPKSIM_OK);
    EXPECT_EQ(kv_alive(st, 1, 0), (std::vector<int>{1, 0, 0, 1, 1, 0, 1, 1}));
    EXPECT_EQ(kv_alive(st, 0, 0), std::vector<int>(8, 1)) << "other layers keep their tokens";
    EXPECT_EQ(spk_prune_alive_tokens(st), 8u) << "the context-wide set is untouched";
    // Keep 4 now: a tie between tokens 3 and 4 goes to the earlier one.
    ASSERT_EQ(spk_prune_keep_policy(st, SPK_PRUNE_LAST_STEP, 1, spk_keep{4, 0}, SPK_KEEP_ALL, &w,
                                    nullptr, nullptr),
              SPKSIM_OK);
    EXPECT_EQ(kv_alive(st, 1, 0), (std::vector<int>{1, 0, 0, 1, 0, 0, 1, 1}));
    // Keep fewer than the protected: only protected survive (and nothing comes back).
    ASSERT_EQ(spk_prune_keep_policy(st, SPK_PRUNE_LAST_STEP, 1, spk_keep{1, 0}, SPK_KEEP_ALL, &w,
                                    nullptr, nullptr),
              SPKSIM_OK);
    EXPECT_EQ(kv_alive(st, 1, 0), (std::vector<int>{1, 0, 0, 0, 0, 0, 1, 1}));
    EXPECT_EQ(spk_prune_kv_alive_tokens(st, 1, 0), 3u);
    // Scores saturate at signed 48 bits.
    const int64_t big[8] = {INT64_MAX, INT64_MIN, 0, 0, 0, 0, 0, 0};
    ASSERT_EQ(spk_prune_set_kv_scores(st, 0, 0, big), SPKSIM_OK);
    EXPECT_EQ(spk_prune_kv_score(st, 0, 0, 0), SPK_SCORE_MAX);
    EXPECT_EQ(spk_prune_kv_score(st, 0, 0, 1), SPK_SCORE_MIN);
    spk_prune_destroy(st);
}

// Worked by hand: with logit scale words of value 1.0 (m = 32768, e = -15) on both sides, spec
// "Logits" gives mqk = 2^14 and sh = -6, so t = dot * 256. One dimension, two query heads with
// q = 1 and 2 sharing one K/V head with k = 3, -1, 2, 0: the scores are (1 + 2) * 256 * k =
// 2304, -768, 1536, 0. Keeping 2 with the last token protected keeps tokens 0 and 3.
TEST(LastStep, HandWorkedLogitScoresAndKeep) {
    const spk_scale one = spk_scale_make(32768, -15);
    const int16_t q[2] = {1, 2}, k[4] = {3, -1, 2, 0}, v[4] = {1, 1, 1, 1};
    const spk_scale q_scales[2] = {one, one}, kv_scales[4] = {one, one, one, one};
    spk_layer_desc l{};
    l.n_heads = 2, l.n_kv_heads = 1, l.n_queries = 1, l.n_tokens = 4;
    l.q = q, l.q_logit_scales = q_scales, l.k = k, l.k_scales = kv_scales;
    l.v = v, l.v_scales = kv_scales, l.causal = 0, l.layer = 0;
    spk_prune_state *st = spk_prune_create(2, 4);
    ASSERT_EQ(spk_prune_enable_kv(st, 1, 1), SPKSIM_OK);
    ASSERT_EQ(spk_prune_append(st, 4), SPKSIM_OK);
    spk_workspace *ws = spk_workspace_create(4);
    const spk_head_config c = cfg12(1);
    int32_t out[2], out_exp[2];
    ASSERT_EQ(spk_layer_run(&c, &l, st, ws, out, out_exp, nullptr, nullptr, nullptr), SPKSIM_OK);
    EXPECT_EQ(spk_prune_kv_score(st, 0, 0, 0), 2304);
    EXPECT_EQ(spk_prune_kv_score(st, 0, 0, 1), -768);
    EXPECT_EQ(spk_prune_kv_score(st, 0, 0, 2), 1536);
    EXPECT_EQ(spk_prune_kv_score(st, 0, 0, 3), 0);
    const spk_prune_window w{0, 1, 0};
    ASSERT_EQ(spk_prune_keep_policy(st, SPK_PRUNE_LAST_STEP, 0, spk_keep{2, 0}, SPK_KEEP_ALL, &w,
                                    nullptr, nullptr),
              SPKSIM_OK);
    EXPECT_EQ(kv_alive(st, 0, 0), (std::vector<int>{1, 0, 0, 1}));
    // The next run fetches only tokens 0 and 3 (2 heads x 2 keys).
    spk_layer_stats stats{};
    ASSERT_EQ(spk_layer_run(&c, &l, st, ws, out, out_exp, &stats, nullptr, nullptr), SPKSIM_OK);
    EXPECT_EQ(stats.keys_fetched, 4u);
    EXPECT_EQ(stats.tokens_alive, 2u);
    EXPECT_EQ(spk_prune_kv_score(st, 0, 0, 1), 0) << "an evicted token is not scored";
    spk_workspace_destroy(ws);
    spk_prune_destroy(st);
}

TEST(LastStep, LayerScoresAreTheSummedLogitsOfTheGroup) {
    std::mt19937 rng(11);
    Inputs in(4, 2, 3, 12, 16, rng); // groups of 2 query heads, 3 causal queries
    spk_prune_state *st = spk_prune_create(4, 12);
    ASSERT_EQ(spk_prune_enable_kv(st, 3, 2), SPKSIM_OK);
    ASSERT_EQ(spk_prune_append(st, 12), SPKSIM_OK);
    LayerCall r(in, st, 2);
    ASSERT_EQ(r.status, SPKSIM_OK);
    // Independently: every (head, query, visible token) logit from the spec's formula.
    for (uint32_t g = 0; g < 2; g++)
        for (uint32_t j = 0; j < 12; j++) {
            int64_t want = 0;
            for (uint32_t h = 2 * g; h < 2 * g + 2; h++)
                for (uint32_t i = 0; i < 3; i++) {
                    if (j > 12 - 3 + i) continue;
                    const size_t qi = (size_t)h * 3 + i;
                    int64_t dot = 0;
                    for (uint32_t x = 0; x < 16; x++)
                        dot += (int64_t)in.q.codes[qi * 16 + x] *
                               in.k.codes[((size_t)g * 12 + j) * 16 + x];
                    want += spk_logit(dot, in.q.scales[qi], in.k.scales[(size_t)g * 12 + j]);
                }
            EXPECT_EQ(spk_prune_kv_score(st, 2, g, j), want) << "g " << g << " j " << j;
            EXPECT_EQ(spk_prune_kv_score(st, 1, g, j), 0) << "only the run layer's scores change";
        }
    // A second run replaces the scores (last step), it does not add to them.
    const int64_t before = spk_prune_kv_score(st, 2, 1, 5);
    LayerCall again(in, st, 2);
    ASSERT_EQ(again.status, SPKSIM_OK);
    EXPECT_EQ(spk_prune_kv_score(st, 2, 1, 5), before);
    spk_prune_destroy(st);
}

// Decoding: every step appends a token and runs each layer, then keeps sinks + important +
// recent tokens per (layer, K/V head). Checks budget, protection, the ranking and that evicted
// tokens never return; only each K/V head's own tokens are fetched.
TEST(LastStep, DecodingInvariants) {
    std::mt19937 rng(3);
    const uint32_t H = 6, Hkv = 2, layers = 3, d = 16, steps = 40;
    const uint32_t sinks = 2, recent = 3, important = 4, budget = sinks + important + recent;
    spk_prune_state *st = spk_prune_create(H, steps);
    ASSERT_EQ(spk_prune_enable_kv(st, layers, Hkv), SPKSIM_OK);
    std::vector<std::vector<int>> dead((size_t)layers * Hkv, std::vector<int>(steps, 0));
    const spk_prune_window w{sinks, recent, 0};
    for (uint32_t t = 1; t <= steps; t++) {
        ASSERT_EQ(spk_prune_append(st, 1), SPKSIM_OK);
        for (uint32_t l = 0; l < layers; l++) {
            Inputs in(H, Hkv, 1, t, d, rng);
            LayerCall r(in, st, l);
            ASSERT_EQ(r.status, SPKSIM_OK);
            uint64_t fetched = 0, most = 0;
            for (uint32_t g = 0; g < Hkv; g++) {
                fetched += (uint64_t)(H / Hkv) * spk_prune_kv_alive_tokens(st, l, g);
                most = std::max<uint64_t>(most, spk_prune_kv_alive_tokens(st, l, g));
            }
            EXPECT_EQ(r.stats.keys_fetched, fetched) << "each head fetches its group's tokens";
            EXPECT_EQ(r.stats.tokens_alive, most);
            // What the keep step must choose, from the scores and liveness before it.
            std::vector<std::vector<int>> want(Hkv);
            for (uint32_t g = 0; g < Hkv; g++) {
                std::vector<uint32_t> middle;
                want[g] = kv_alive(st, l, g);
                for (uint32_t j = 0; j < t; j++)
                    if (want[g][j] && j >= sinks && j + recent < t) middle.push_back(j);
                std::stable_sort(middle.begin(), middle.end(), [&](uint32_t a, uint32_t b) {
                    return spk_prune_kv_score(st, l, g, a) > spk_prune_kv_score(st, l, g, b);
                });
                const uint32_t alive = spk_prune_kv_alive_tokens(st, l, g);
                const uint32_t protected_n = alive - (uint32_t)middle.size();
                if (alive > budget) {
                    const size_t keep = budget > protected_n ? budget - protected_n : 0;
                    for (size_t m = keep; m < middle.size(); m++) want[g][middle[m]] = 0;
                }
            }
            ASSERT_EQ(spk_prune_keep_policy(st, SPK_PRUNE_LAST_STEP, l, spk_keep{budget, 0},
                                            SPK_KEEP_ALL, &w, nullptr, nullptr),
                      SPKSIM_OK);
            for (uint32_t g = 0; g < Hkv; g++) {
                const auto alive = kv_alive(st, l, g);
                EXPECT_EQ(alive, want[g]) << "step " << t << " layer " << l << " group " << g;
                EXPECT_EQ(spk_prune_kv_alive_tokens(st, l, g), std::min(t, budget));
                auto &gone = dead[(size_t)l * Hkv + g];
                for (uint32_t j = 0; j < t; j++) {
                    if (j < sinks || j + recent >= t) {
                        EXPECT_TRUE(alive[j]) << "protected " << j;
                    }
                    if (gone[j]) {
                        EXPECT_FALSE(alive[j]) << "evicted token " << j << " returned";
                    }
                    gone[j] = !alive[j];
                }
            }
        }
    }
    EXPECT_EQ(spk_prune_alive_tokens(st), steps);
    spk_prune_destroy(st);
}

// Enabling the per-K/V-head sets changes nothing while only the accumulated policy prunes.
TEST(LastStep, AccumulatedPolicyIsUnchangedWithKvSets) {
    std::mt19937 rng(21);
    const uint32_t H = 4, Hkv = 2, L = 30, d = 16;
    spk_prune_state *plain = spk_prune_create(H, L), *kv = spk_prune_create(H, L);
    ASSERT_EQ(spk_prune_enable_kv(kv, 2, Hkv), SPKSIM_OK);
    ASSERT_EQ(spk_prune_append(plain, L), SPKSIM_OK);
    ASSERT_EQ(spk_prune_append(kv, L), SPKSIM_OK);
    const spk_prune_window w{1, 2, 2};
    for (uint32_t l = 0; l < 2; l++) {
        Inputs in(H, Hkv, 2, L, d, rng);
        LayerCall a(in, plain, 0), b(in, kv, l);
        ASSERT_EQ(a.status, SPKSIM_OK);
        ASSERT_EQ(b.status, SPKSIM_OK);
        EXPECT_EQ(a.out, b.out);
        EXPECT_EQ(a.exp, b.exp);
        EXPECT_EQ(a.stats.dram_bytes, b.stats.dram_bytes);
        const spk_keep tk{0, spk_ratio_q16(0.6)}, hk{0, spk_ratio_q16(0.5)};
        ASSERT_EQ(spk_prune_keep_window(plain, tk, hk, &w, nullptr, nullptr), SPKSIM_OK);
        ASSERT_EQ(spk_prune_keep_policy(kv, SPK_PRUNE_ACCUMULATED, l, tk, hk, &w, nullptr, nullptr),
                  SPKSIM_OK);
        for (uint32_t j = 0; j < L; j++)
            EXPECT_EQ(spk_prune_token_alive(plain, j), spk_prune_token_alive(kv, j));
    }
    spk_prune_destroy(plain);
    spk_prune_destroy(kv);
}

TEST(LastStep, RejectsBadUse) {
    spk_prune_state *st = spk_prune_create(6, 8);
    ASSERT_EQ(spk_prune_append(st, 8), SPKSIM_OK);
    const spk_prune_window w{0, 0, 0};
    EXPECT_EQ(spk_prune_keep_policy(st, SPK_PRUNE_LAST_STEP, 0, spk_keep{2, 0}, SPK_KEEP_ALL, &w,
                                    nullptr, nullptr),
              SPKSIM_E_ARG)
        << "needs per-K/V-head sets";
    EXPECT_EQ(spk_prune_enable_kv(st, 2, 4), SPKSIM_E_ARG) << "4 does not divide 6";
    EXPECT_EQ(spk_prune_enable_kv(st, 0, 3), SPKSIM_E_ARG);
    ASSERT_EQ(spk_prune_enable_kv(st, 2, 3), SPKSIM_OK);
    EXPECT_EQ(spk_prune_enable_kv(st, 2, 3), SPKSIM_OK) << "same shape again is fine";
    EXPECT_EQ(spk_prune_enable_kv(st, 3, 3), SPKSIM_E_ARG);
    EXPECT_EQ(spk_prune_kv_alive_tokens(st, 1, 2), 8u) << "tokens appended before are alive";
    EXPECT_EQ(spk_prune_keep_policy(st, SPK_PRUNE_LAST_STEP, 2, spk_keep{2, 0}, SPK_KEEP_ALL, &w,
                                    nullptr, nullptr),
              SPKSIM_E_ARG)
        << "layer out of range";
    EXPECT_EQ(spk_prune_keep_policy(st, (spk_prune_policy)7, 0, spk_keep{2, 0}, SPK_KEEP_ALL, &w,
                                    nullptr, nullptr),
              SPKSIM_E_ARG);
    EXPECT_EQ(spk_prune_keep_policy(st, SPK_PRUNE_LAST_STEP, 0, spk_keep{0, 0}, SPK_KEEP_ALL, &w,
                                    nullptr, nullptr),
              SPKSIM_E_ARG);
    EXPECT_EQ(spk_prune_set_kv_scores(st, 0, 3, nullptr), SPKSIM_E_ARG);
    // A layer run must name a layer of the sets and match their K/V heads.
    std::mt19937 rng(1);
    Inputs in(6, 3, 1, 8, 8, rng), other(6, 2, 1, 8, 8, rng);
    LayerCall out_of_range(in, st, 2), wrong_groups(other, st, 0);
    EXPECT_EQ(out_of_range.status, SPKSIM_E_ARG);
    EXPECT_EQ(wrong_groups.status, SPKSIM_E_ARG);
    spk_prune_destroy(st);
}

TEST(LastStep, SaveLoadKeepsTheSets) {
    spk_prune_state *st = spk_prune_create(2, 10);
    ASSERT_EQ(spk_prune_enable_kv(st, 2, 2), SPKSIM_OK);
    ASSERT_EQ(spk_prune_append(st, 6), SPKSIM_OK);
    const int64_t scores[6] = {1, -7, 3, 2, -1, 0};
    ASSERT_EQ(spk_prune_set_kv_scores(st, 1, 1, scores), SPKSIM_OK);
    const spk_prune_window w{1, 1, 0};
    ASSERT_EQ(spk_prune_keep_policy(st, SPK_PRUNE_LAST_STEP, 1, spk_keep{3, 0}, SPK_KEEP_ALL, &w,
                                    nullptr, nullptr),
              SPKSIM_OK);
    const std::string path = ::testing::TempDir() + "spk_last_step_state.bin";
    ASSERT_EQ(spk_prune_save(st, path.c_str()), SPKSIM_OK);
    spk_prune_state *back = nullptr;
    ASSERT_EQ(spk_prune_load(path.c_str(), &back), SPKSIM_OK);
    EXPECT_EQ(spk_prune_kv_layers(back), 2u);
    EXPECT_EQ(spk_prune_kv_heads(back), 2u);
    for (uint32_t l = 0; l < 2; l++)
        for (uint32_t g = 0; g < 2; g++) {
            EXPECT_EQ(kv_alive(back, l, g), kv_alive(st, l, g));
            for (uint32_t j = 0; j < 6; j++)
                EXPECT_EQ(spk_prune_kv_score(back, l, g, j), spk_prune_kv_score(st, l, g, j));
        }
    EXPECT_EQ(kv_alive(back, 1, 1), (std::vector<int>{1, 0, 1, 0, 0, 1}));
    // Growing the capacity keeps every set.
    ASSERT_EQ(spk_prune_reserve(back, 20), SPKSIM_OK);
    ASSERT_EQ(spk_prune_append(back, 5), SPKSIM_OK);
    EXPECT_EQ(spk_prune_kv_alive_tokens(back, 1, 1), 3u + 5u);
    EXPECT_EQ(spk_prune_kv_score(back, 1, 1, 1), -7);
    spk_prune_destroy(back);
    // A truncated file is a format error.
    FILE *f = std::fopen(path.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fseek(f, 0, SEEK_END);
    const long size = std::ftell(f);
    std::fclose(f);
    ASSERT_EQ(truncate(path.c_str(), size - 3), 0);
    EXPECT_EQ(spk_prune_load(path.c_str(), &back), SPKSIM_E_FORMAT);
    std::remove(path.c_str());
    spk_prune_destroy(st);
}

// A short file must not make the loader allocate what the file cannot fill (found by
// fuzz-prune): here 4 heads, a capacity of 2^26 tokens, no tokens and a K/V shape of 4096 x 4
// sets, 45 bytes asking for 2^40 cells. It and a K/V section of the wrong size are refused.
TEST(LastStep, LoadRefusesAShortFileAskingForHugeSets) {
    auto write = [](const std::string &path, uint32_t layers, uint32_t kv_heads, size_t extra) {
        std::string b = "SPKPRUN2";
        const uint32_t hdr[3] = {4, 1u << 26, 0};
        b.append(reinterpret_cast<const char *>(hdr), sizeof hdr);
        for (int h = 0; h < 4; h++) b.append(9, '\0'); // dead heads, importance 0
        const uint32_t shape[2] = {layers, kv_heads};
        b.append(reinterpret_cast<const char *>(shape), sizeof shape);
        b.append(extra, '\0');
        FILE *f = std::fopen(path.c_str(), "wb");
        ASSERT_NE(f, nullptr);
        ASSERT_EQ(std::fwrite(b.data(), 1, b.size(), f), b.size());
        std::fclose(f);
    };
    const std::string path = ::testing::TempDir() + "spk_last_step_huge.bin";
    spk_prune_state *back = nullptr;
    write(path, 4096, 4, 0);
    EXPECT_EQ(spk_prune_load(path.c_str(), &back), SPKSIM_E_FORMAT);
    EXPECT_EQ(back, nullptr);
    // Within the cell limit, but with bytes after an empty K/V section.
    write(path, 1, 1, 9);
    EXPECT_EQ(spk_prune_load(path.c_str(), &back), SPKSIM_E_FORMAT);
    std::remove(path.c_str());
}

} // namespace
