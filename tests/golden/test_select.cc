// The per-step selection policy: nothing evicted, each (K/V head, query) fetches its protected
// keys and its best scored ones up to the budget (docs/spec/datapath.md, "Per-step selection
// policy").
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "attention_fixture.h"

namespace {

spk_head_config config(uint32_t d, uint8_t msb, uint8_t lsb, uint32_t v_keep = SPK_ONE_Q16) {
    spk_head_config c{};
    c.d = d;
    c.kv = {msb, lsb};
    c.requant_threshold = lsb ? 30000 : 0;
    c.v_keep_q16 = v_keep;
    c.topk_parallelism = 8;
    return c;
}

// One step's inputs of one layer, with the K/V rows of the first n tokens repackable for a
// shorter context (streaming).
struct Inputs {
    uint32_t H, Hkv, Lq, L, d;
    uint32_t bits;
    Quantized q, k, v;
    Inputs(uint32_t H_, uint32_t Hkv_, uint32_t Lq_, uint32_t L_, uint32_t d_, uint32_t bits_,
           std::mt19937 &rng)
        : H(H_), Hkv(Hkv_), Lq(Lq_), L(L_), d(d_), bits(bits_) {
        q = quantize_rows(random_normal((size_t)H * Lq * d, rng, 2.0f), d, SPK_Q_BITS, true);
        k = quantize_rows(random_normal((size_t)Hkv * L * d, rng), d, bits, false);
        v = quantize_rows(random_normal((size_t)Hkv * L * d, rng), d, bits, false);
    }
    spk_layer_desc desc(const spk_select_config *sel) const {
        spk_layer_desc l{};
        l.n_heads = H, l.n_kv_heads = Hkv, l.n_queries = Lq, l.n_tokens = L;
        l.q = q.codes.data(), l.q_logit_scales = q.scales.data();
        l.k = k.codes.data(), l.k_scales = k.scales.data();
        l.v = v.codes.data(), l.v_scales = v.scales.data();
        l.causal = 1;
        l.select = sel;
        return l;
    }
};

// What one layer run gave, with the V rows every request fetched (v_keep 1: the keys it fetched).
struct LayerRun {
    std::vector<int32_t> out, exp;
    spk_layer_stats stats{};
    std::map<std::pair<uint32_t, uint32_t>, std::vector<uint32_t>> fetched; // (h, i) -> keys
    std::vector<uint64_t> importance;
    spksim_status status;
    static void observe(void *user, uint32_t h, uint32_t i, const spk_head_result *res) {
        auto *r = static_cast<LayerRun *>(user);
        r->fetched[{h, i}].assign(res->v_keys, res->v_keys + res->ev.values_fetched);
    }
    LayerRun(const spk_head_config &c, const spk_layer_desc &desc)
        : out((size_t)desc.n_heads * desc.n_queries * c.d),
          exp((size_t)desc.n_heads * desc.n_queries) {
        spk_prune_state *st = spk_prune_create(desc.n_heads, desc.n_tokens);
        spk_prune_append(st, desc.n_tokens);
        spk_workspace *ws = spk_workspace_create(desc.n_tokens);
        status = spk_layer_run(&c, &desc, st, ws, out.data(), exp.data(), &stats, observe, this);
        for (uint32_t j = 0; j < desc.n_tokens; j++)
            importance.push_back(spk_prune_token_importance(st, j));
        spk_workspace_destroy(ws);
        spk_prune_destroy(st);
    }
};

// A hand-made layer of one K/V head and one query, every scale word 1.0 (V = K): selection
// over all its tokens, with what it selected or the status it refused with.
struct HandLayer {
    std::vector<spk_scale> ks, qs;
    spk_layer_desc l{};
    spk_head_config c;
    std::vector<uint32_t> cand;
    spk_select_events ev{};
    HandLayer(uint32_t heads, uint32_t tokens, uint32_t d, const int16_t *q, const int16_t *k,
              int causal)
        : ks(tokens, spk_scale_make(32768, -15)), qs(heads), c(config(d, 12, 0)) {
        spk_scale s;
        EXPECT_EQ(spk_logit_scale(ks[0], d, &s), SPKSIM_OK);
        std::fill(qs.begin(), qs.end(), s);
        l.n_heads = heads, l.n_kv_heads = 1, l.n_queries = 1, l.n_tokens = tokens;
        l.q = q, l.q_logit_scales = qs.data(), l.k = k, l.k_scales = ks.data(), l.v = k,
        l.v_scales = ks.data();
        l.causal = causal;
        for (uint32_t j = 0; j < tokens; j++) cand.push_back(j);
    }
    spksim_status select(const spk_select_config &s, std::vector<uint32_t> *out,
                         const uint8_t *alive = nullptr) {
        std::vector<unsigned char> scratch(
            spk_select_scratch_bytes((uint32_t)cand.size(), l.n_heads));
        std::vector<uint32_t> sel(cand.size());
        uint32_t n = 0;
        const spksim_status st =
            spk_select_keys(&s, &c, &l, alive, 0, 0, cand.data(), (uint32_t)cand.size(), sel.data(),
                            &n, scratch.data(), &ev);
        out->assign(sel.begin(), sel.begin() + n);
        return st;
    }
};

using Keys = std::vector<uint32_t>;

TEST(Select, HandCheckedSelectionWithSinksRecentAndTies) {
    // d = 1, q = 1, every K row the same scale: the score orders as the K code.
    const int16_t k[8] = {-100, 5, -3, 9, 9, 2, -50, -60};
    const int16_t q[1] = {1};
    HandLayer h(1, 8, 1, q, k, 1);
    Keys sel;
    // Budget 5: token 0 (sink) and 6, 7 (recent) whatever they score, then the two 9s.
    spk_select_config s{{5, 0}, 1, 2, SPK_SELECT_EXACT, 0, 0, SPK_SELECT_SUM_LOGITS, 0};
    ASSERT_EQ(h.select(s, &sel), SPKSIM_OK);
    EXPECT_EQ(sel, (Keys{0, 3, 4, 6, 7}));
    EXPECT_EQ(h.ev.candidates, 8u);
    EXPECT_EQ(h.ev.scored, 5u);
    EXPECT_EQ(h.ev.score_bytes, 5u * (4u + 2u)); // scale word + one 12-bit field (2 bytes)
    // Budget 4: one of the tied 9s, the earlier.
    s.budget = {4, 0};
    ASSERT_EQ(h.select(s, &sel), SPKSIM_OK);
    EXPECT_EQ(sel, (Keys{0, 3, 6, 7}));
    // A budget the protected keys fill: they all stay and nothing is scored (or read).
    s.budget = {2, 0};
    ASSERT_EQ(h.select(s, &sel), SPKSIM_OK);
    EXPECT_EQ(sel, (Keys{0, 6, 7}));
    EXPECT_EQ(h.ev.scored, 0u);
    EXPECT_EQ(h.ev.score_bytes, 0u);
    // Bad configurations.
    s.budget = {0, 0};
    EXPECT_EQ(h.select(s, &sel), SPKSIM_E_ARG);
    s.budget = {0, SPK_ONE_Q16 + 1};
    EXPECT_EQ(h.select(s, &sel), SPKSIM_E_ARG);
    s.budget = {3, 0};
    s.scoring = 7;
    EXPECT_EQ(h.select(s, &sel), SPKSIM_E_ARG);
}

TEST(Select, TheProbabilitySumKeepsTheKeyOneHeadNeedsWhereTheLogitSumOutvotesIt) {
    // Two query heads on one K/V head, d = 2: head 0 reads dimension 0, head 1 dimension 1.
    // Token 0 is head 0's sharp favourite and head 1's worst; tokens 1 and 2 tie for head 1.
    // Logit sums: token 0 2000 - 2000 = 0 < token 1 100 + 0: the logits keep token 1. Summed
    // probabilities: token 0 about 1 (head 0) against token 1 about 1/2 (head 1): token 0.
    const int16_t k[6] = {2000, -2000, 100, 0, 0, 0};
    const int16_t q[4] = {1, 0, 0, 1};
    HandLayer h(2, 3, 2, q, k, 0);
    Keys sel;
    spk_select_config s{{1, 0}, 0, 0, SPK_SELECT_EXACT, 0, 0, SPK_SELECT_SUM_LOGITS, 0};
    ASSERT_EQ(h.select(s, &sel), SPKSIM_OK);
    EXPECT_EQ(sel, (Keys{1}));
    s.combine = SPK_SELECT_SUM_PROBS;
    ASSERT_EQ(h.select(s, &sel), SPKSIM_OK);
    EXPECT_EQ(sel, (Keys{0}));
    EXPECT_EQ(h.ev.scored, 3u) << "the same rows read: the probability sum costs no DRAM";
    // With head 0 pruned, only head 1 scores: tokens 1 and 2 tie and the earlier wins.
    const uint8_t alive[2] = {0, 1};
    ASSERT_EQ(h.select(s, &sel, alive), SPKSIM_OK);
    EXPECT_EQ(sel, (Keys{1}));
    s.combine = 2;
    EXPECT_EQ(h.select(s, &sel), SPKSIM_E_ARG);
}

TEST(Select, EveryRequestFetchesItsBudgetWithSinksAndRecentAndTheGroupShares) {
    std::mt19937 rng(2001);
    const Inputs in(6, 2, 40, 96, 16, 12, rng); // GQA groups of 3, causal, 40 queries
    for (const spk_select_config sel :
         {spk_select_config{{20, 0}, 4, 8, SPK_SELECT_EXACT, 0, 0, SPK_SELECT_SUM_LOGITS, 0},
          spk_select_config{
              {0, spk_ratio_q16(0.2)}, 2, 5, SPK_SELECT_MSB, 0, 0, SPK_SELECT_SUM_LOGITS, 0},
          spk_select_config{{1, 0}, 0, 0, SPK_SELECT_EXACT, 0, 0, SPK_SELECT_SUM_LOGITS, 0}}) {
        const spk_head_config c = config(16, 8, 4);
        const LayerRun r(c, in.desc(&sel));
        ASSERT_EQ(r.status, SPKSIM_OK);
        for (uint32_t h = 0; h < in.H; h++) {
            for (uint32_t i = 0; i < in.Lq; i++) {
                const uint32_t lim = in.L - in.Lq + i, n = lim + 1;
                const uint32_t b = sel.budget.count ? std::min(sel.budget.count, n)
                                                    : spk_keep_count(n, sel.budget.ratio_q16);
                uint32_t p = 0;
                for (uint32_t j = 0; j < n; j++) p += j < sel.sinks || j + sel.recent > lim;
                const auto &keys = r.fetched.at({h, i});
                ASSERT_EQ(keys.size(), std::min(n, std::max(b, p))) << h << " " << i;
                ASSERT_TRUE(std::is_sorted(keys.begin(), keys.end()));
                ASSERT_TRUE(std::adjacent_find(keys.begin(), keys.end()) == keys.end());
                ASSERT_LE(keys.back(), lim);
                const std::set<uint32_t> got(keys.begin(), keys.end());
                for (uint32_t j = 0; j < n; j++) {
                    if (j < sel.sinks || j + sel.recent > lim) {
                        ASSERT_TRUE(got.count(j)) << "protected key " << j << " not selected";
                    }
                }
                // the heads of a group fetch the same keys (the K/V row is shared)
                ASSERT_EQ(keys, r.fetched.at({h / 3 * 3, i}));
            }
        }
        EXPECT_GT(r.stats.select_scored, 0u) << sel.budget.count;
        EXPECT_EQ(r.stats.dram_bytes, r.stats.key_msb_bytes + r.stats.key_lsb_bytes +
                                          r.stats.value_bytes + r.stats.scale_bytes +
                                          r.stats.select_bytes);
        // per scored row: its scale word and the planes the scoring reads
        const uint64_t row = sel.scoring == SPK_SELECT_MSB
                                 ? spk_plane_row_bytes(16, 8)
                                 : spk_plane_row_bytes(16, 8) + spk_plane_row_bytes(16, 4);
        EXPECT_EQ(r.stats.select_bytes, r.stats.select_scored * (4 + row));
    }
}

TEST(Select, AnAllSelectingBudgetIsTheLayerWithoutSelectionBitForBit) {
    std::mt19937 rng(2002);
    const Inputs in(4, 2, 24, 64, 32, 12, rng);
    const spk_head_config c = config(32, 8, 4, spk_ratio_q16(0.5));
    const LayerRun dense(c, in.desc(nullptr));
    ASSERT_EQ(dense.status, SPKSIM_OK);
    for (const spk_select_config sel :
         {spk_select_config{{0, SPK_ONE_Q16}, 0, 0, SPK_SELECT_MSB, 0, 0, SPK_SELECT_SUM_LOGITS, 0},
          spk_select_config{{64, 0}, 4, 4, SPK_SELECT_EXACT, 0, 0, SPK_SELECT_SUM_LOGITS, 0}}) {
        const LayerRun r(c, in.desc(&sel));
        ASSERT_EQ(r.status, SPKSIM_OK);
        EXPECT_EQ(r.out, dense.out);
        EXPECT_EQ(r.exp, dense.exp);
        EXPECT_EQ(r.importance, dense.importance);
        EXPECT_EQ(r.fetched, dense.fetched);
        EXPECT_EQ(r.stats.dram_bytes, dense.stats.dram_bytes);
        EXPECT_EQ(r.stats.select_scored, 0u);
    }
}

TEST(Select, BatchedEqualsStreamedTokenByToken) {
    std::mt19937 rng(2003);
    const uint32_t H = 4, Hkv = 2, L = 48, d = 16;
    const Inputs in(H, Hkv, L, L, d, 12, rng); // one query per token: a whole prompt at once
    const spk_head_config c = config(d, 8, 4, spk_ratio_q16(0.75));
    const spk_select_config sel{{0, spk_ratio_q16(0.3)}, 2, 4, SPK_SELECT_MSB, 0, 0,
                                SPK_SELECT_SUM_LOGITS,   0};
    const LayerRun batched(c, in.desc(&sel));
    ASSERT_EQ(batched.status, SPKSIM_OK);
    ASSERT_GT(batched.stats.select_scored, 0u);
    uint64_t streamed_bytes = 0;
    for (uint32_t t = 0; t < L; t++) {
        // step t: query t over tokens 0..t, K/V rows repacked for a context of t + 1
        std::vector<int16_t> q, k, v;
        std::vector<spk_scale> qs, ks, vs;
        for (uint32_t h = 0; h < H; h++) {
            const size_t qi = (size_t)h * L + t;
            q.insert(q.end(), in.q.codes.begin() + qi * d, in.q.codes.begin() + (qi + 1) * d);
            qs.push_back(in.q.scales[qi]);
        }
        for (uint32_t g = 0; g < Hkv; g++) {
            const size_t r0 = (size_t)g * L;
            k.insert(k.end(), in.k.codes.begin() + r0 * d, in.k.codes.begin() + (r0 + t + 1) * d);
            v.insert(v.end(), in.v.codes.begin() + r0 * d, in.v.codes.begin() + (r0 + t + 1) * d);
            ks.insert(ks.end(), in.k.scales.begin() + r0, in.k.scales.begin() + r0 + t + 1);
            vs.insert(vs.end(), in.v.scales.begin() + r0, in.v.scales.begin() + r0 + t + 1);
        }
        spk_layer_desc l{};
        l.n_heads = H, l.n_kv_heads = Hkv, l.n_queries = 1, l.n_tokens = t + 1;
        l.q = q.data(), l.q_logit_scales = qs.data(), l.k = k.data(), l.k_scales = ks.data();
        l.v = v.data(), l.v_scales = vs.data(), l.causal = 1, l.select = &sel;
        const LayerRun step(c, l);
        ASSERT_EQ(step.status, SPKSIM_OK);
        streamed_bytes += step.stats.dram_bytes;
        for (uint32_t h = 0; h < H; h++) {
            const size_t qi = (size_t)h * L + t;
            ASSERT_EQ(
                std::vector<int32_t>(step.out.begin() + h * d, step.out.begin() + (h + 1) * d),
                std::vector<int32_t>(batched.out.begin() + qi * d,
                                     batched.out.begin() + (qi + 1) * d))
                << "head " << h << " token " << t;
            ASSERT_EQ(step.exp[h], batched.exp[qi]);
            ASSERT_EQ(step.fetched.at({h, 0}), batched.fetched.at({h, t}));
        }
    }
    EXPECT_EQ(streamed_bytes, batched.stats.dram_bytes);
}

TEST(Select, ExactScoresTrackFloatAttentionBetterThanAWindowOfTheSameSize) {
    // The point of the policy: at the same number of keys, this step's best keys beat the
    // most recent ones (StreamingLLM's window) against float attention.
    std::mt19937 rng(2004);
    const uint32_t L = 256, d = 32, keep = 32;
    const Inputs in(1, 1, 1, L, d, 12, rng);
    const spk_head_config c = config(d, 12, 0);
    const spk_select_config best{{keep, 0}, 0, 0, SPK_SELECT_EXACT, 0, 0, SPK_SELECT_SUM_LOGITS, 0};
    const spk_select_config window{
        {keep, 0}, 0, keep, SPK_SELECT_EXACT, 0, 0, SPK_SELECT_SUM_LOGITS, 0}; // all protected
    const LayerRun dense(c, in.desc(nullptr)), sel(c, in.desc(&best)), win(c, in.desc(&window));
    ASSERT_EQ(sel.status, SPKSIM_OK);
    ASSERT_EQ(win.status, SPKSIM_OK);
    double err_sel = 0, err_win = 0;
    for (uint32_t t = 0; t < d; t++) {
        const double ref = spk_output_to_float(dense.out[t], dense.exp[0]);
        err_sel += std::abs(spk_output_to_float(sel.out[t], sel.exp[0]) - ref);
        err_win += std::abs(spk_output_to_float(win.out[t], win.exp[0]) - ref);
    }
    EXPECT_EQ(sel.fetched.at({0, 0}).size(), keep);
    EXPECT_EQ(win.fetched.at({0, 0}).size(), keep);
    EXPECT_LT(err_sel, err_win);
}

TEST(Select, FirstStageRanksByTheLargestQueryDimensions) {
    // d = 4, q = (0, 5, 0, -3): with one dimension the first stage reads dimension 1 only.
    // Token 1 wins on dimension 1 but loses on the full dot product (dimension 3).
    const int16_t k[6 * 4] = {0, 0, 0, 0,  0, 9, 0, 9, 0, 4, 0, -4,
                              0, 1, 0, -8, 0, 2, 0, 0, 0, 0, 0, 0};
    const spk_scale one = spk_scale_make(32768, -15);
    std::vector<spk_scale> ks(6, one);
    const int16_t q[4] = {0, 5, 0, -3};
    spk_scale qs;
    ASSERT_EQ(spk_logit_scale(one, 4, &qs), SPKSIM_OK);
    spk_layer_desc l{};
    l.n_heads = 1, l.n_kv_heads = 1, l.n_queries = 1, l.n_tokens = 6;
    l.q = q, l.q_logit_scales = &qs, l.k = k, l.k_scales = ks.data(), l.v = k,
    l.v_scales = ks.data();
    const spk_head_config c = config(4, 12, 0);
    const uint32_t cand[6] = {0, 1, 2, 3, 4, 5};
    std::vector<unsigned char> scratch(spk_select_scratch_bytes(6, 1));
    uint32_t sel[6], n = 0;
    spk_select_events ev;
    // dims 1, no second stage: by dimension 1 (9, 4, 1, 2 for tokens 1-4): tokens 1 and 2
    spk_select_config s{{2, 0}, 0, 0, SPK_SELECT_MSB, 1, 0, SPK_SELECT_SUM_LOGITS, 0};
    ASSERT_EQ(spk_select_keys(&s, &c, &l, nullptr, 0, 0, cand, 6, sel, &n, scratch.data(), &ev),
              SPKSIM_OK);
    EXPECT_EQ(std::vector<uint32_t>(sel, sel + n), (std::vector<uint32_t>{1, 2}));
    EXPECT_EQ(ev.stage1, 6u);
    EXPECT_EQ(ev.dims, 1u);
    EXPECT_EQ(ev.scored, 0u);
    // one dimension row of the 6 visible tokens (6 x 12 bits = 9 bytes) and 6 scale words
    EXPECT_EQ(ev.stage1_bytes, 9u + 6u * 4u);
    EXPECT_EQ(ev.score_bytes, ev.stage1_bytes);
    // second stage on the first stage's top 4 (C = 2x): the full dot products
    // (q.k: 18, 32, 29, 10 for tokens 1-4) pick tokens 2 and 3
    s.candidates_x16 = 32;
    ASSERT_EQ(spk_select_keys(&s, &c, &l, nullptr, 0, 0, cand, 6, sel, &n, scratch.data(), &ev),
              SPKSIM_OK);
    EXPECT_EQ(std::vector<uint32_t>(sel, sel + n), (std::vector<uint32_t>{2, 3}));
    EXPECT_EQ(ev.scored, 4u);
    EXPECT_EQ(ev.score_bytes, ev.stage1_bytes + 4u * (4u + 6u));
    s.candidates_x16 = 8; // below 1x
    EXPECT_EQ(spk_select_keys(&s, &c, &l, nullptr, 0, 0, cand, 6, sel, &n, scratch.data(), &ev),
              SPKSIM_E_ARG);
    s.candidates_x16 = 32, s.dims = 0; // a second stage needs a first
    EXPECT_EQ(spk_select_keys(&s, &c, &l, nullptr, 0, 0, cand, 6, sel, &n, scratch.data(), &ev),
              SPKSIM_E_ARG);
}

TEST(Select, FirstStageLimitsAndTheDimensionMajorCopy) {
    std::mt19937 rng(2005);
    const Inputs in(6, 2, 12, 80, 16, 12, rng);
    const spk_select_config plain{{0, spk_ratio_q16(0.25)}, 2, 4, SPK_SELECT_MSB, 0, 0,
                                  SPK_SELECT_SUM_LOGITS,    0};
    // All dimensions and a 12+0 profile: the first stage's score is the MSB score itself.
    spk_select_config all_dims = plain;
    all_dims.dims = 16;
    const spk_head_config c12 = config(16, 12, 0);
    const LayerRun a(c12, in.desc(&plain)), b(c12, in.desc(&all_dims));
    ASSERT_EQ(a.status, SPKSIM_OK);
    ASSERT_EQ(b.status, SPKSIM_OK);
    EXPECT_EQ(a.fetched, b.fetched);
    EXPECT_EQ(a.out, b.out);
    // A second stage over every candidate is the plain selection, whatever the first stage did.
    const spk_head_config c84 = config(16, 8, 4);
    spk_select_config wide = plain;
    wide.dims = 3, wide.candidates_x16 = 16 * 100;
    const LayerRun p(c84, in.desc(&plain)), w(c84, in.desc(&wide));
    EXPECT_EQ(p.fetched, w.fetched);
    EXPECT_EQ(p.out, w.out);
    EXPECT_GT(w.stats.select_bytes, p.stats.select_bytes) << "the first stage's reads count";
    // A narrow first stage alone reads far less than the MSB scan.
    spk_select_config narrow = plain;
    narrow.dims = 4;
    const LayerRun x(c84, in.desc(&narrow));
    ASSERT_EQ(x.status, SPKSIM_OK);
    EXPECT_LT(x.stats.select_bytes * 2, p.stats.select_bytes);
    EXPECT_NE(x.fetched, p.fetched) << "four of sixteen dimensions rank differently";
    // The dimension-major copy, given explicitly, is what the first stage reads.
    std::vector<int16_t> copy((size_t)in.Hkv * 16 * in.L);
    for (uint32_t g = 0; g < in.Hkv; g++)
        for (uint32_t j = 0; j < in.L; j++)
            for (uint32_t t = 0; t < 16; t++) {
                int32_t hi;
                uint32_t lo;
                spk_code_split(in.k.codes[((size_t)g * in.L + j) * 16 + t], c84.kv, &hi, &lo);
                copy[((size_t)g * 16 + t) * in.L + j] = (int16_t)hi;
            }
    spk_layer_desc with_copy = in.desc(&narrow);
    with_copy.k_dim_msb = copy.data();
    const LayerRun y(c84, with_copy);
    EXPECT_EQ(y.fetched, x.fetched);
    EXPECT_EQ(y.out, x.out);
    copy[5] ^= 7; // a wrong copy changes what is selected somewhere
    bool differs = false;
    for (uint32_t t = 0; t < 64 && !differs; t++) {
        copy[(size_t)t * in.L + 40] = (int16_t)(t % 2 ? 31 : -31);
        const LayerRun z(c84, with_copy);
        differs = z.fetched != x.fetched;
    }
    EXPECT_TRUE(differs);
}

} // namespace

// Held rows ("Held rows"): the requests take every selected key's MSB-pass logit from the scoring
// stage, which reads the protected keys' rows once for that, so only the traffic changes: per
// request one K MSB row and one K scale word less per key, per scoring the protected rows more.
// A first stage alone (no full rows read) holds nothing.
TEST(Select, HeldRowsChangeOnlyTheTrafficByTheScoredRows) {
    std::mt19937 rng(2024);
    const uint32_t H = 6, Hkv = 2, L = 48, d = 16;
    const Inputs in(H, Hkv, L, L, d, 12, rng);
    const spk_head_config c = config(d, 8, 4);
    const uint64_t row = spk_plane_row_bytes(d, 8) + 4u;
    struct Case {
        spk_select_config sel;
        bool holds;
    } cases[] = {
        {{{0, spk_ratio_q16(0.3)}, 2, 4, SPK_SELECT_MSB, 0, 0, SPK_SELECT_SUM_PROBS, 1}, true},
        {{{7, 0}, 1, 3, SPK_SELECT_EXACT, 0, 0, SPK_SELECT_SUM_LOGITS, 1}, true},
        {{{0, spk_ratio_q16(0.25)}, 2, 4, SPK_SELECT_MSB, 4, 32, SPK_SELECT_SUM_PROBS, 1}, true},
        {{{0, spk_ratio_q16(0.25)}, 2, 4, SPK_SELECT_MSB, 4, 0, SPK_SELECT_SUM_LOGITS, 1}, false},
    };
    for (const Case &cs : cases) {
        spk_select_config read = cs.sel;
        read.hold = 0;
        const spk_layer_desc dh = in.desc(&cs.sel), dr = in.desc(&read);
        const LayerRun held(c, dh), again(c, dr);
        ASSERT_EQ(held.status, SPKSIM_OK);
        ASSERT_EQ(again.status, SPKSIM_OK);
        EXPECT_EQ(held.out, again.out);
        EXPECT_EQ(held.exp, again.exp);
        EXPECT_EQ(held.importance, again.importance);
        EXPECT_EQ(held.stats.keys_fetched, again.stats.keys_fetched);
        // What every (K/V head, query) holds and reads for it, from the selection itself.
        uint64_t keys_held = 0, rows_read = 0;
        std::vector<unsigned char> scratch(spk_select_scratch_bytes(L, H / Hkv));
        std::vector<uint32_t> cand(L), sel(L);
        for (uint32_t g = 0; g < Hkv; g++)
            for (uint32_t i = 0; i < L; i++) {
                for (uint32_t j = 0; j <= i; j++) cand[j] = j;
                uint32_t n = 0;
                spk_select_events ev{};
                ASSERT_EQ(spk_select_keys(&cs.sel, &c, &dh, nullptr, g, i, cand.data(), i + 1,
                                          sel.data(), &n, scratch.data(), &ev),
                          SPKSIM_OK);
                EXPECT_TRUE(ev.held == 0 || ev.held == n) << "all selected keys or none";
                if (ev.held) {
                    EXPECT_GT(ev.scored, 0u);
                    // the protected ones: sinks and the recent window of this query
                    uint32_t p = 0;
                    for (uint32_t x = 0; x < n; x++)
                        p += sel[x] < cs.sel.sinks || sel[x] + cs.sel.recent > i;
                    EXPECT_EQ(ev.protected_read, p);
                }
                keys_held += (uint64_t)ev.held * (H / Hkv); // each of the group's heads
                rows_read += ev.protected_read;
            }
        EXPECT_EQ(cs.holds, keys_held > 0);
        EXPECT_EQ(held.stats.select_bytes - again.stats.select_bytes, rows_read * row);
        EXPECT_EQ(again.stats.key_msb_bytes - held.stats.key_msb_bytes,
                  keys_held * spk_plane_row_bytes(d, 8));
        EXPECT_EQ(again.stats.dram_bytes - held.stats.dram_bytes, (keys_held - rows_read) * row);
    }
}
