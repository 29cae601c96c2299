// The llama forward pass on a tiny random GGUF model against a naive float implementation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "spkllm/attn.h"
#include "spkllm/model.h"
#include "spkllm/quant.h"
#include "tiny_model.h"

using tinymodel::Config;

namespace {

struct Loaded {
    std::vector<uint8_t> bytes;
    spkllm_model *model = nullptr;
    spkllm_attn_ops attn{};
    tinymodel::Weights weights;
    ~Loaded() {
        if (attn.destroy) attn.destroy(attn.ctx);
        spkllm_model_close(model);
    }
};

void load(const Config &c, Loaded &out, int threads = 2) {
    gguftest::Writer w;
    out.weights = tinymodel::write_model(c, w);
    out.bytes = w.build();
    char err[256] = "";
    ASSERT_EQ(spkllm_model_open_memory(out.bytes.data(), out.bytes.size(), threads, &out.model, err,
                                       sizeof err),
              SPKLLM_OK)
        << err;
    ASSERT_EQ(spkllm_attn_cpu_create(spkllm_model_pool(out.model), &out.attn), SPKLLM_OK);
}

std::vector<int32_t> some_tokens(int n, int vocab) {
    std::vector<int32_t> t;
    for (int i = 0; i < n; i++) t.push_back((int32_t)((i * 7 + 3) % vocab));
    return t;
}

// All logits of @p tokens, run in one call (batched).
std::vector<float> run(Loaded &m, const std::vector<int32_t> &tokens) {
    int V = spkllm_model_get_params(m.model)->n_vocab, n = (int)tokens.size();
    std::vector<float> logits((size_t)V * (size_t)n);
    EXPECT_EQ(spkllm_model_begin(m.model, &m.attn, n), SPKLLM_OK);
    EXPECT_EQ(spkllm_model_forward(m.model, tokens.data(), n, 0, logits.data(), 0), SPKLLM_OK);
    return logits;
}

// max |a - b| / max |b|
double rel_err(const std::vector<float> &a, const std::vector<float> &b) {
    double d = 0, s = 0;
    for (size_t i = 0; i < a.size(); i++) {
        d = std::max(d, (double)std::fabs(a[i] - b[i]));
        s = std::max(s, (double)std::fabs(b[i]));
    }
    return d / s;
}

} // namespace

TEST(Model, ReadsShapesFromMetadata) {
    Config c;
    c.theta = 1234.0f;
    Loaded m;
    load(c, m);
    const spkllm_model_params *p = spkllm_model_get_params(m.model);
    EXPECT_EQ(p->n_layers, c.n_layers);
    EXPECT_EQ(p->n_embd, c.n_embd);
    EXPECT_EQ(p->n_heads, c.n_heads);
    EXPECT_EQ(p->n_kv_heads, c.n_kv_heads);
    EXPECT_EQ(p->head_dim, c.n_embd / c.n_heads);
    EXPECT_EQ(p->n_ff, c.n_ff);
    EXPECT_EQ(p->n_vocab, c.n_vocab);
    EXPECT_FLOAT_EQ(p->rope_theta, 1234.0f);
    EXPECT_EQ(p->tied_output, 1);
}

TEST(Model, F32MatchesNaiveFloat) {
    for (bool tied : {true, false}) {
        Config c;
        c.tied = tied;
        Loaded m;
        load(c, m);
        auto tokens = some_tokens(70, c.n_vocab); // crosses the 64-token batch boundary
        auto got = run(m, tokens);
        auto want = tinymodel::naive_logits(c, m.weights, tokens);
        EXPECT_LT(rel_err(got, want), 1e-4) << "tied=" << tied;
    }
}

TEST(Model, NoGroupingAndPartialRotation) {
    Config c;
    c.n_kv_heads = 4; // plain multi-head attention
    c.n_rot = 8;      // RoPE on the first half of each head only
    c.n_layers = 1;
    Loaded m;
    load(c, m);
    auto tokens = some_tokens(20, c.n_vocab);
    EXPECT_LT(rel_err(run(m, tokens), tinymodel::naive_logits(c, m.weights, tokens)), 1e-4);
}

TEST(Model, QuantizedWeightsMatchNaiveWithinActivationRounding) {
    // The library quantizes activations to 8 bits for quantized weights (as llama.cpp does), so
    // allow that rounding; float types see the exact activations.
    struct Case {
        uint32_t matrix, embd;
        double tol;
    } cases[] = {
        {SPKLLM_TENSOR_F16, SPKLLM_TENSOR_F16, 1e-4},
        {SPKLLM_TENSOR_BF16, SPKLLM_TENSOR_BF16, 1e-4},
        {SPKLLM_TENSOR_Q8_0, SPKLLM_TENSOR_Q8_0, 0.03},
        {SPKLLM_TENSOR_Q4_0, SPKLLM_TENSOR_Q8_0, 0.03},
        {SPKLLM_TENSOR_Q4_1, SPKLLM_TENSOR_Q8_0, 0.03},
        {SPKLLM_TENSOR_Q4_1, SPKLLM_TENSOR_Q4_1, 0.03},
    };
    for (const auto &k : cases) {
        Config c;
        c.matrix_type = k.matrix;
        c.embd_type = k.embd;
        Loaded m;
        load(c, m);
        auto tokens = some_tokens(12, c.n_vocab);
        auto got = run(m, tokens);
        auto want = tinymodel::naive_logits(c, m.weights, tokens);
        double e = rel_err(got, want);
        EXPECT_LT(e, k.tol) << spkllm_tensor_type_name((spkllm_tensor_type)k.matrix);
        EXPECT_GT(e, 0.0) << "suspiciously exact"; // the file's rounding is really applied
    }
}

// Batched prompt processing (4-column kernels, 64-token batches) and token-by-token processing
// (single-column kernels) do the same float operations in the same order: equal bit for bit,
// which is what makes `spk-llm perplexity --stream` equal to batched scoring.
TEST(Model, BatchedEqualsTokenByTokenBitForBit) {
    for (uint32_t type :
         {SPKLLM_TENSOR_Q4_1, SPKLLM_TENSOR_Q4_0, SPKLLM_TENSOR_Q8_0, SPKLLM_TENSOR_F32}) {
        Config c;
        c.matrix_type = type;
        c.embd_type = SPKLLM_TENSOR_Q8_0;
        c.n_ff = 160; // 5 blocks: an odd count exercises the kernels' last-block path
        Loaded m;
        load(c, m);
        auto tokens = some_tokens(67, c.n_vocab);
        auto batched = run(m, tokens);
        int V = c.n_vocab;
        std::vector<float> one((size_t)V);
        ASSERT_EQ(spkllm_model_begin(m.model, &m.attn, (int)tokens.size()), SPKLLM_OK);
        for (size_t i = 0; i < tokens.size(); i++) {
            ASSERT_EQ(spkllm_model_forward(m.model, &tokens[i], 1, (int)i, one.data(), 0),
                      SPKLLM_OK);
            ASSERT_EQ(0, memcmp(one.data(), &batched[i * (size_t)V], sizeof(float) * (size_t)V))
                << spkllm_tensor_type_name((spkllm_tensor_type)type) << " token " << i
                << ": first logit " << one[0] << " vs " << batched[i * (size_t)V];
        }
    }
}

TEST(Model, LogitsFromSkipsEarlyRows) {
    Config c;
    Loaded m;
    load(c, m);
    auto tokens = some_tokens(80, c.n_vocab);
    auto all = run(m, tokens);
    std::vector<float> tail((size_t)c.n_vocab * 11);
    ASSERT_EQ(spkllm_model_begin(m.model, &m.attn, 80), SPKLLM_OK);
    ASSERT_EQ(spkllm_model_forward(m.model, tokens.data(), 80, 0, tail.data(), 69), SPKLLM_OK);
    for (size_t i = 0; i < tail.size(); i++) ASSERT_EQ(tail[i], all[69 * (size_t)c.n_vocab + i]);
}

TEST(Model, ThreadCountDoesNotChangeResults) {
    Config c;
    c.matrix_type = SPKLLM_TENSOR_Q4_1;
    Loaded a, b;
    load(c, a, 1);
    load(c, b, 2);
    auto tokens = some_tokens(30, c.n_vocab);
    EXPECT_EQ(run(a, tokens), run(b, tokens));
}

// The portable kernels reproduce the vector kernels' float order (models/quant.c): every kernel
// set gives the same logits bit for bit, batched and token by token.
TEST(Model, EveryKernelSetGivesTheSameLogitsBitForBit) {
    if (std::string(spkllm_kernels_name()) == "portable") GTEST_SKIP() << "no vector kernels here";
    for (uint32_t type : {SPKLLM_TENSOR_Q4_0, SPKLLM_TENSOR_Q4_1, SPKLLM_TENSOR_Q8_0}) {
        Config c;
        c.matrix_type = type;
        c.embd_type = SPKLLM_TENSOR_Q8_0;
        c.n_ff = 160;
        Loaded m;
        load(c, m);
        auto tokens = some_tokens(70, c.n_vocab); // crosses the 64-token batch
        auto best = run(m, tokens);
        spkllm_kernels_limit(SPKLLM_KERNELS_AVX2);
        auto avx2 = run(m, tokens);
        spkllm_kernels_limit(SPKLLM_KERNELS_PORTABLE);
        EXPECT_STREQ(spkllm_kernels_name(), "portable");
        auto portable = run(m, tokens);
        spkllm_kernels_limit(SPKLLM_KERNELS_AUTO);
        ASSERT_EQ(best.size(), portable.size());
        EXPECT_EQ(0, memcmp(best.data(), portable.data(), sizeof(float) * best.size()))
            << spkllm_tensor_type_name((spkllm_tensor_type)type) << ": rel. difference "
            << rel_err(best, portable);
        EXPECT_EQ(0, memcmp(avx2.data(), portable.data(), sizeof(float) * best.size()))
            << spkllm_tensor_type_name((spkllm_tensor_type)type) << ": rel. difference "
            << rel_err(avx2, portable);
    }
}

TEST(Model, RejectsBadInput) {
    Config c;
    Loaded m;
    load(c, m);
    std::vector<float> logits((size_t)c.n_vocab);
    int32_t bad = c.n_vocab, good = 1;
    ASSERT_EQ(spkllm_model_begin(m.model, &m.attn, 4), SPKLLM_OK);
    EXPECT_EQ(spkllm_model_forward(m.model, &bad, 1, 0, logits.data(), 0), SPKLLM_ERR_ARG);
    EXPECT_EQ(spkllm_model_forward(m.model, &good, 1, 4, logits.data(), 0), SPKLLM_ERR_ARG);
    EXPECT_EQ(spkllm_model_forward(m.model, &good, 1, 1, logits.data(), 0), SPKLLM_ERR_ARG)
        << "position 1 before position 0 must be refused by the KV cache";
}

TEST(Model, MissingOrMisshapedTensorsAreNamed) {
    Config c;
    gguftest::Writer w;
    tinymodel::write_model(c, w);
    w.kv_u32("llama.feed_forward_length", 128); // disagrees with the FFN tensors (96)
    auto bytes = w.build();
    spkllm_model *m = nullptr;
    char err[256] = "";
    // The duplicate key is caught by the reader first.
    EXPECT_EQ(spkllm_model_open_memory(bytes.data(), bytes.size(), 1, &m, err, sizeof err),
              SPKLLM_ERR_FORMAT);
    EXPECT_NE(std::string(err).find("duplicate key"), std::string::npos) << err;

    gguftest::Writer w2;
    w2.kv_str("general.architecture", "gpt2");
    bytes = w2.build();
    EXPECT_EQ(spkllm_model_open_memory(bytes.data(), bytes.size(), 1, &m, err, sizeof err),
              SPKLLM_ERR_UNSUPPORTED);
    EXPECT_NE(std::string(err).find("gpt2"), std::string::npos) << err;

    gguftest::Writer w3;
    Config c3;
    c3.n_layers = 1;
    tinymodel::write_model(c3, w3);
    w3.kv_u32("llama.block_count", 2); // tensors of block 1 are absent
    bytes = w3.build();
    EXPECT_NE(spkllm_model_open_memory(bytes.data(), bytes.size(), 1, &m, err, sizeof err),
              SPKLLM_OK);
    EXPECT_EQ(m, nullptr);
}

namespace {

// Opens the tiny model @p c describes and expects SPKLLM_ERR_FORMAT with each of @p parts in
// the message.
void expect_refused(const Config &c, const std::vector<std::string> &parts) {
    gguftest::Writer w;
    tinymodel::write_model(c, w);
    auto bytes = w.build();
    spkllm_model *m = nullptr;
    char err[256] = "";
    EXPECT_EQ(spkllm_model_open_memory(bytes.data(), bytes.size(), 1, &m, err, sizeof err),
              SPKLLM_ERR_FORMAT);
    EXPECT_EQ(m, nullptr);
    for (const auto &p : parts) EXPECT_NE(std::string(err).find(p), std::string::npos) << err;
    spkllm_model_close(m);
}

} // namespace

TEST(Model, NonFiniteNormWeightsAreRefusedByName) {
    Config c;
    c.poison = "blk.1.attn_norm.weight";
    c.poison_elem = 17;
    c.poison_value = NAN;
    expect_refused(c, {"blk.1.attn_norm.weight: element 17 is NaN"});
    c.poison = "output_norm.weight";
    c.poison_elem = 3;
    c.poison_value = -INFINITY;
    expect_refused(c, {"output_norm.weight: element 3 is infinite"});
    c.poison = "blk.0.attn_q.weight"; // an f32 matrix
    c.poison_elem = 100;
    c.poison_value = INFINITY;
    expect_refused(c, {"blk.0.attn_q.weight: element 100 is infinite"});
}

TEST(Model, NonFiniteQuantScalesAreRefusedByName) {
    for (uint32_t type : {SPKLLM_TENSOR_Q4_0, SPKLLM_TENSOR_Q4_1, SPKLLM_TENSOR_Q8_0}) {
        Config c;
        c.matrix_type = type;
        c.poison = "blk.1.ffn_up.weight";
        c.poison_elem = 70; // block 2
        c.poison_value = INFINITY;
        expect_refused(c, {"blk.1.ffn_up.weight: block 2 ", "infinite"});
        c.embd_type = type;
        c.poison = "token_embd.weight";
        c.poison_value = NAN;
        expect_refused(c, {"token_embd.weight: block 2 ", "NaN"});
    }
}

TEST(Model, TokenizerVocabularyMustMatchTheEmbedding) {
    Config c;
    c.n_tokens_meta = c.n_vocab - 1;
    expect_refused(c, {"tokenizer.ggml.tokens has 49 tokens", "token_embd.weight has 50 rows"});
    c.n_tokens_meta = c.n_vocab; // matching: accepted
    Loaded m;
    load(c, m);
    EXPECT_NE(m.model, nullptr);
}

TEST(Model, PositionsBeyondTheContextLengthAreRefused) {
    Config c;
    c.context_length = 16;
    Loaded m;
    load(c, m);
    ASSERT_NE(m.model, nullptr);
    EXPECT_EQ(spkllm_model_get_params(m.model)->n_ctx_train, 16);
    EXPECT_EQ(spkllm_model_begin(m.model, &m.attn, 17), SPKLLM_ERR_ARG);
    ASSERT_EQ(spkllm_model_begin(m.model, &m.attn, 16), SPKLLM_OK);
    auto tokens = some_tokens(16, c.n_vocab);
    std::vector<float> logits((size_t)c.n_vocab);
    EXPECT_EQ(spkllm_model_forward(m.model, tokens.data(), 16, 0, logits.data(), 15), SPKLLM_OK);
    EXPECT_EQ(spkllm_model_forward(m.model, tokens.data(), 1, 16, logits.data(), 0),
              SPKLLM_ERR_ARG);
}

TEST(Attn, CpuBackendEnforcesTheContract) {
    spkllm_attn_ops a;
    ASSERT_EQ(spkllm_attn_cpu_create(nullptr, &a), SPKLLM_OK);
    EXPECT_STREQ(a.name, "cpu");
    EXPECT_EQ(a.begin_sequence(a.ctx, 1, 3, 2, 4, 8), SPKLLM_ERR_ARG); // 3 heads, 2 KV heads
    ASSERT_EQ(a.begin_sequence(a.ctx, 1, 2, 1, 4, 8), SPKLLM_OK);
    // Two keys: attention of a query equal to key 1 must weight value 1 more than value 0.
    float k[8] = {0, 0, 0, 0, 10, 0, 0, 0}, v[8] = {1, 1, 1, 1, 5, 5, 5, 5};
    float q[8] = {10, 0, 0, 0, -10, 0, 0, 0}, out[8];
    EXPECT_EQ(a.attend(a.ctx, 0, 0, 1, q, out), SPKLLM_ERR_ARG); // nothing appended yet
    ASSERT_EQ(a.append_kv(a.ctx, 0, 0, 2, k, v), SPKLLM_OK);
    EXPECT_EQ(a.append_kv(a.ctx, 0, 5, 1, k, v), SPKLLM_ERR_ARG); // gap
    ASSERT_EQ(a.attend(a.ctx, 0, 1, 1, q, out), SPKLLM_OK);
    // Head 0 (q . k1 = 100 / 2 = 50) attends almost only to position 1; head 1 to position 0.
    EXPECT_NEAR(out[0], 5.0f, 1e-4);
    EXPECT_NEAR(out[4], 1.0f, 1e-4);
    // Query at position 0 sees only key 0.
    ASSERT_EQ(a.attend(a.ctx, 0, 0, 1, q, out), SPKLLM_OK);
    EXPECT_FLOAT_EQ(out[0], 1.0f);
    a.destroy(a.ctx);
}
