// Head requests: accuracy against float attention, progressive quantization, local V pruning,
// traffic accounting (docs/spec/datapath.md, "Head request").
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "attention_fixture.h"

namespace {

struct HeadCase {
    uint32_t d = 64, n_tokens = 0;
    std::vector<float> q, k, v;
    Quantized qq, kq, vq;
    std::vector<uint32_t> keys;

    HeadCase(uint32_t d_, uint32_t L, std::mt19937 &rng, uint32_t kv_bits, float q_sigma = 1.0f)
        : d(d_), n_tokens(L) {
        q = random_normal(d, rng, q_sigma);
        k = random_normal((size_t)L * d, rng);
        v = random_normal((size_t)L * d, rng);
        qq = quantize_rows(q, d, SPK_Q_BITS, true);
        kq = quantize_rows(k, d, kv_bits, false);
        vq = quantize_rows(v, d, kv_bits, false);
        keys.resize(L);
        std::iota(keys.begin(), keys.end(), 0u);
    }

    spk_head_request request() const {
        return spk_head_request{qq.codes.data(),       qq.scales[0],     keys.data(),
                                (uint32_t)keys.size(), kq.codes.data(),  kq.scales.data(),
                                vq.codes.data(),       vq.scales.data(), 0};
    }
};

struct HeadRun {
    std::vector<int32_t> out;
    std::vector<uint16_t> probs;
    std::vector<uint32_t> v_keys;
    spk_head_result res{};
    spksim_status status = SPKSIM_OK;

    HeadRun(const spk_head_config &cfg, const spk_head_request &req)
        : out(cfg.d), probs(req.n_keys + 1), v_keys(req.n_keys + 1) {
        spk_workspace *ws = spk_workspace_create(req.n_keys ? req.n_keys : 1);
        res.out = out.data();
        res.probs = probs.data();
        res.v_keys = v_keys.data();
        status = spk_head_run(&cfg, &req, ws, &res);
        spk_workspace_destroy(ws);
        v_keys.resize(res.ev.values_fetched);
    }

    double value(uint32_t i) const { return spk_output_to_float(out[i], res.out_exp); }
};

spk_head_config config(uint32_t d, spk_quant_profile p, double thr = 0.05, double v_keep = 1.0) {
    spk_head_config c{};
    c.d = d;
    c.kv = p;
    c.requant_threshold = thr >= 1.0 ? SPK_ONE_Q16 : spk_ratio_q16(thr);
    c.v_keep_q16 = spk_ratio_q16(v_keep);
    c.topk_parallelism = 16;
    return c;
}

double max_abs(const std::vector<float> &v) {
    double m = 0;
    for (float x : v) m = std::max(m, (double)std::fabs(x));
    return m;
}

// The spec's accuracy statement: without pruning, with full 12-bit codes (unquantized 12-bit,
// or 8+4 with the LSBs fetched), every output is within 2^-9 * max|V| of float attention.
TEST(HeadAccuracy, FullPrecisionMatchesFloatAttention) {
    std::mt19937 rng(2024);
    double worst = 0;
    for (uint32_t L : {1u, 2u, 7u, 64u, 333u, 1024u}) {
        for (auto prof : {spk_quant_profile{12, 0}, spk_quant_profile{8, 4}}) {
            for (int rep = 0; rep < 3; rep++) {
                HeadCase hc(64, L, rng, 12, 1.0f + rep);
                auto cfg = config(64, prof, 1.0); // threshold 1.0: LSBs always fetched
                HeadRun r(cfg, hc.request());
                ASSERT_EQ(r.status, SPKSIM_OK);
                auto ref = float_attention(hc.q.data(), hc.k.data(), hc.v.data(), hc.keys, 64);
                double tol = std::ldexp(max_abs(hc.v), -9);
                for (uint32_t i = 0; i < 64; i++) {
                    double err = std::fabs(r.value(i) - ref[i]);
                    worst = std::max(worst, err / max_abs(hc.v));
                    ASSERT_LE(err, tol) << "L=" << L << " i=" << i;
                }
            }
        }
    }
    RecordProperty("worst_error_over_max_abs_v", std::to_string(worst));
}

TEST(HeadAccuracy, MsbOnlyEightBitWithinLooserBound) {
    std::mt19937 rng(99);
    for (uint32_t L : {16u, 256u, 1024u}) {
        HeadCase hc(64, L, rng, 12);
        HeadRun r(config(64, {8, 4}, 0.0), hc.request()); // threshold 0: never refetch
        ASSERT_EQ(r.status, SPKSIM_OK);
        EXPECT_EQ(r.res.ev.requant, 0);
        auto ref = float_attention(hc.q.data(), hc.k.data(), hc.v.data(), hc.keys, 64);
        for (uint32_t i = 0; i < 64; i++)
            ASSERT_LE(std::fabs(r.value(i) - ref[i]), std::ldexp(max_abs(hc.v), -7));
    }
}

TEST(ProgressiveQuantization, ThresholdDecidesTheRefetch) {
    std::mt19937 rng(1);
    HeadCase hc(64, 200, rng, 10);
    HeadRun never(config(64, {6, 4}, 0.0), hc.request());
    HeadRun always(config(64, {6, 4}, 1.0), hc.request());
    EXPECT_EQ(never.res.ev.requant, 0);
    EXPECT_EQ(never.res.ev.keys_refetched, 0u);
    EXPECT_EQ(never.res.ev.key_lsb_bytes, 0u);
    EXPECT_EQ(always.res.ev.requant, 1);
    EXPECT_EQ(always.res.ev.keys_refetched, 200u);
    EXPECT_EQ(always.res.ev.key_lsb_bytes, 200u * 32u);
    EXPECT_EQ(always.res.ev.key_msb_bytes, 200u * 48u);
    EXPECT_EQ(always.res.ev.value_bytes, 200u * 80u) << "V with both planes after a refetch";
    EXPECT_EQ(never.res.ev.value_bytes, 200u * 48u) << "V MSB plane only";
    EXPECT_EQ(always.res.ev.scale_bytes, 4u * 400u);

    // The decision follows max(prob) < threshold exactly: set the threshold just above and at
    // the confidence of the MSB pass.
    uint32_t conf = *std::max_element(never.probs.begin(), never.probs.end() - 1);
    auto at = config(64, {6, 4});
    at.requant_threshold = conf;
    EXPECT_EQ(HeadRun(at, hc.request()).res.ev.requant, 0);
    at.requant_threshold = conf + 1;
    EXPECT_EQ(HeadRun(at, hc.request()).res.ev.requant, 1);

    // A refetch makes the result identical to full-precision codes.
    HeadRun full(config(64, {10, 0}), hc.request());
    EXPECT_EQ(always.out, full.out);
    EXPECT_EQ(always.res.out_exp, full.res.out_exp);
}

TEST(LocalVPruning, KeepsTheLargestProbabilities) {
    std::mt19937 rng(8);
    HeadCase hc(32, 500, rng, 12, 3.0f);
    HeadRun all(config(32, {12, 0}), hc.request());
    HeadRun pruned(config(32, {12, 0}, 0.05, 0.25), hc.request());
    ASSERT_EQ(pruned.status, SPKSIM_OK);
    EXPECT_EQ(pruned.res.ev.values_fetched, 125u);
    EXPECT_EQ(pruned.probs, all.probs) << "V pruning does not change the probabilities";
    // Every kept probability >= every dropped one; kept keys are increasing.
    std::vector<bool> kept(500, false);
    for (uint32_t key : pruned.v_keys) kept[key] = true;
    EXPECT_TRUE(std::is_sorted(pruned.v_keys.begin(), pruned.v_keys.end()));
    uint32_t min_kept = 65535, max_dropped = 0;
    for (uint32_t j = 0; j < 500; j++) {
        if (kept[j])
            min_kept = std::min<uint32_t>(min_kept, pruned.probs[j]);
        else
            max_dropped = std::max<uint32_t>(max_dropped, pruned.probs[j]);
    }
    EXPECT_GE(min_kept, max_dropped);
    EXPECT_GT(pruned.res.ev.v_topk.passes, 0u);
}

TEST(HeadRequest, NoKeysGivesZeros) {
    std::mt19937 rng(8);
    HeadCase hc(16, 4, rng, 12);
    auto req = hc.request();
    req.n_keys = 0;
    HeadRun r(config(16, {12, 0}), req);
    EXPECT_EQ(r.status, SPKSIM_OK);
    EXPECT_EQ(r.out, std::vector<int32_t>(16, 0));
    EXPECT_EQ(r.res.ev.key_msb_bytes, 0u);
}

TEST(HeadRequest, RejectsBadArguments) {
    std::mt19937 rng(8);
    HeadCase hc(16, 4, rng, 12);
    auto req = hc.request();
    EXPECT_EQ(HeadRun(config(16, {1, 0}), req).status, SPKSIM_E_ARG);
    EXPECT_EQ(HeadRun(config(16, {10, 4}), req).status, SPKSIM_E_ARG);
    auto c = config(16, {12, 0});
    c.d = 0;
    EXPECT_EQ(HeadRun(c, req).status, SPKSIM_E_ARG);
    c = config(16, {12, 0});
    c.v_keep_q16 = 0;
    EXPECT_EQ(HeadRun(c, req).status, SPKSIM_E_ARG);
    std::vector<uint32_t> unsorted = {2, 1};
    req.keys = unsorted.data();
    req.n_keys = 2;
    EXPECT_EQ(HeadRun(config(16, {12, 0}), req).status, SPKSIM_E_ARG);
    EXPECT_EQ(spk_workspace_create(0), nullptr);
}

} // namespace
