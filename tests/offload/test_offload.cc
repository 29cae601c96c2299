// The reference LLM with attention offloaded through libspk (models/offload): the option set,
// parity with the CPU float backend when nothing is pruned, and pruning that really prunes, on
// every backend of the build (tests/driver/backends.h, $SPK_TEST_BACKENDS), bit-identical
// between backends.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "backends.h"

#include "spkllm/attn.h"
#include "spkllm/attn_spk.h"
#include "spkllm/model.h"
#include "tiny_model.h"

using tinymodel::Config;

namespace {

struct Model {
    std::vector<uint8_t> bytes;
    spkllm_model *model = nullptr;
    ~Model() { spkllm_model_close(model); }
};

void load(const Config &c, Model &out) {
    gguftest::Writer w;
    tinymodel::write_model(c, w);
    out.bytes = w.build();
    char err[256] = "";
    ASSERT_EQ(spkllm_model_open_memory(out.bytes.data(), out.bytes.size(), 2, &out.model, err,
                                       sizeof err),
              SPKLLM_OK)
        << err;
}

struct Backend {
    spkllm_attn_ops ops{};
    ~Backend() {
        if (ops.destroy) ops.destroy(ops.ctx);
    }
};

void make_spk(const char *dev, const char *preset, Backend &b,
              const spkllm_spatten_options *explicit_opt = nullptr) {
    spkllm_spatten_options o;
    ASSERT_EQ(spkllm_spatten_preset(preset, &o), SPKLLM_OK);
    if (explicit_opt) o = *explicit_opt;
    char err[512] = "";
    ASSERT_EQ(spkllm_attn_spk_create(dev, &o, &b.ops, err, sizeof err), SPKLLM_OK) << err;
}

// Token-by-token logits of @p tokens (the decoding path), n_vocab per token.
std::vector<float> stream_logits(spkllm_model *m, const spkllm_attn_ops &ops,
                                 const std::vector<int32_t> &tokens) {
    const int V = spkllm_model_get_params(m)->n_vocab, n = (int)tokens.size();
    std::vector<float> logits((size_t)V * n);
    EXPECT_EQ(spkllm_model_begin(m, &ops, n), SPKLLM_OK);
    for (int i = 0; i < n; i++)
        EXPECT_EQ(spkllm_model_forward(m, &tokens[i], 1, i, &logits[(size_t)i * V], 0), SPKLLM_OK)
            << spkllm_attn_spk_error(&ops);
    return logits;
}

// Greedy generation: the prompt as one batch, then @p n tokens one by one.
std::vector<int32_t> greedy(spkllm_model *m, const spkllm_attn_ops &ops,
                            const std::vector<int32_t> &prompt, int n) {
    const int V = spkllm_model_get_params(m)->n_vocab, np = (int)prompt.size();
    std::vector<float> logits(V);
    std::vector<int32_t> out;
    EXPECT_EQ(spkllm_model_begin(m, &ops, np + n), SPKLLM_OK);
    EXPECT_EQ(spkllm_model_forward(m, prompt.data(), np, 0, logits.data(), np - 1), SPKLLM_OK)
        << spkllm_attn_spk_error(&ops);
    for (int i = 0; i < n; i++) {
        int32_t next = (int32_t)(std::max_element(logits.begin(), logits.end()) - logits.begin());
        out.push_back(next);
        EXPECT_EQ(spkllm_model_forward(m, &next, 1, np + i, logits.data(), 0), SPKLLM_OK)
            << spkllm_attn_spk_error(&ops);
    }
    return out;
}

std::vector<int32_t> some_tokens(int n, int vocab, int seed) {
    std::vector<int32_t> t;
    for (int i = 0; i < n; i++) t.push_back((int32_t)((i * 7 + seed * 13 + 3) % vocab));
    return t;
}

// Random tokens for the cross-backend checks: a fresh sequence each run (test_seed).
std::vector<int32_t> random_tokens(int n, int vocab, std::mt19937 &rng) {
    std::uniform_int_distribution<int32_t> pick(0, vocab - 1);
    std::vector<int32_t> t(n);
    for (int32_t &x : t) x = pick(rng);
    return t;
}

} // namespace

TEST(SpattenOptions, PresetsAndSchedule) {
    spkllm_spatten_options o;
    ASSERT_EQ(spkllm_spatten_preset("off", &o), SPKLLM_OK);
    EXPECT_EQ(o.msb_bits + o.lsb_bits, 12);
    for (int l = 0; l < 30; l++) EXPECT_EQ(spkllm_spatten_token_keep(&o, l, 30), 1.0);
    ASSERT_EQ(spkllm_spatten_preset("paper", &o), SPKLLM_OK);
    EXPECT_EQ(o.msb_bits, 6);
    EXPECT_EQ(o.lsb_bits, 4);
    // 30 layers: the first 15% (5 layers) do not prune tokens, the first 30% (9) not heads.
    for (int l = 0; l < 5; l++) EXPECT_EQ(spkllm_spatten_token_keep(&o, l, 30), 1.0) << l;
    for (int l = 0; l < 9; l++) EXPECT_EQ(spkllm_spatten_head_keep(&o, l, 30), 1.0) << l;
    EXPECT_DOUBLE_EQ(spkllm_spatten_token_keep(&o, 29, 30), o.token_keep_end);
    EXPECT_DOUBLE_EQ(spkllm_spatten_head_keep(&o, 29, 30), o.head_keep_end);
    for (int l = 6; l < 30; l++) // linear, non-increasing
        EXPECT_LE(spkllm_spatten_token_keep(&o, l, 30), spkllm_spatten_token_keep(&o, l - 1, 30));
    EXPECT_EQ(spkllm_spatten_preset("aggressive", &o), SPKLLM_OK);
    EXPECT_EQ(spkllm_spatten_preset("bogus", &o), SPKLLM_ERR_ARG);
}

TEST(SpattenOptions, ParsesAndRejects) {
    spkllm_spatten_options o;
    spkllm_spatten_preset("off", &o);
    const char *argv[] = {
        "x",    "--spatten", "paper", "--token-keep",  "0.9:0.4", "--kv-bits",   "8+4", "--requant",
        "0.05", "--v-keep",  "0.5",   "--prune-skip",  "0.2:0.5", "--head-keep", "0.7", "--recent",
        "8",    "--sinks",   "2",     "--head-groups", "off",     "--unrelated"};
    const int argc = (int)(sizeof argv / sizeof argv[0]);
    char err[256] = "";
    int i = 1;
    for (; i < argc - 1; i++)
        ASSERT_EQ(spkllm_spatten_parse_arg(argc, (char **)argv, &i, &o, err, sizeof err), 1)
            << argv[i] << ": " << err;
    EXPECT_EQ(spkllm_spatten_parse_arg(argc, (char **)argv, &i, &o, err, sizeof err), 0);
    EXPECT_DOUBLE_EQ(o.token_keep_start, 0.9);
    EXPECT_DOUBLE_EQ(o.token_keep_end, 0.4);
    EXPECT_EQ(o.msb_bits, 8);
    EXPECT_EQ(o.lsb_bits, 4);
    EXPECT_DOUBLE_EQ(o.requant, 0.05);
    EXPECT_DOUBLE_EQ(o.v_keep, 0.5);
    EXPECT_DOUBLE_EQ(o.token_skip, 0.2);
    EXPECT_DOUBLE_EQ(o.head_skip, 0.5);
    EXPECT_DOUBLE_EQ(o.head_keep_start, 1.0);
    EXPECT_DOUBLE_EQ(o.head_keep_end, 0.7);
    EXPECT_EQ(o.recent, 8);
    EXPECT_EQ(o.sinks, 2);
    EXPECT_EQ(o.group_heads, 0);

    const char *bad[][2] = {{"--token-keep", "0"}, {"--token-keep", "1.5"},
                            {"--kv-bits", "10+4"}, {"--kv-bits", "6-4"},
                            {"--requant", "-1"},   {"--v-keep", "abc"},
                            {"--spatten", "fast"}, {"--prune-skip", "2"},
                            {"--recent", "-3"},    {"--head-groups", "maybe"}};
    for (auto &b : bad) {
        const char *args[] = {"x", b[0], b[1]};
        int j = 1;
        err[0] = 0;
        EXPECT_EQ(spkllm_spatten_parse_arg(3, (char **)args, &j, &o, err, sizeof err), -1)
            << b[0] << " " << b[1];
        EXPECT_NE(std::string(err), "") << b[0];
    }
    const char *missing[] = {"x", "--v-keep"};
    int j = 1;
    EXPECT_EQ(spkllm_spatten_parse_arg(2, (char **)missing, &j, &o, err, sizeof err), -1);
    EXPECT_NE(std::string(err).find("needs a value"), std::string::npos) << err;
}

TEST(SpattenOptions, SelectPolicyBudgetAndScoring) {
    spkllm_spatten_options o;
    spkllm_spatten_preset("off", &o);
    EXPECT_EQ(o.scoring, SPKLLM_SCORING_MSB) << "the default scoring reads the MSB plane";
    const char *argv[] = {"x", "--policy", "select", "--token-budget", "400", "--scoring", "exact"};
    char err[256] = "";
    for (int i = 1; i < 7; i++)
        ASSERT_EQ(spkllm_spatten_parse_arg(7, (char **)argv, &i, &o, err, sizeof err), 1) << err;
    EXPECT_EQ(o.policy, SPKLLM_POLICY_SELECT);
    EXPECT_EQ(o.budget, 400);
    EXPECT_EQ(o.scoring, SPKLLM_SCORING_EXACT);
    EXPECT_EQ(spkllm_spatten_check(&o, err, sizeof err), SPKLLM_OK) << err;
    const char *bad[][2] = {{"--scoring", "best"}, {"--token-budget", "-1"}, {"--policy", "pick"}};
    for (auto &b : bad) {
        const char *args[] = {"x", b[0], b[1]};
        int j = 1;
        EXPECT_EQ(spkllm_spatten_parse_arg(3, (char **)args, &j, &o, err, sizeof err), -1) << b[0];
    }
    for (const auto &[name, value] :
         {std::pair<const char *, int>{"msb-probs", SPKLLM_SCORING_MSB_PROBS},
          {"exact-probs", SPKLLM_SCORING_EXACT_PROBS},
          {"msb", SPKLLM_SCORING_MSB}}) {
        const char *args[] = {"x", "--scoring", name};
        int j = 1;
        ASSERT_EQ(spkllm_spatten_parse_arg(3, (char **)args, &j, &o, err, sizeof err), 1) << err;
        EXPECT_EQ(o.scoring, value) << name;
    }
    const char *stage[] = {"x", "--sparse-dims", "8", "--candidates", "2.5"};
    for (int i = 1; i < 5; i++)
        ASSERT_EQ(spkllm_spatten_parse_arg(5, (char **)stage, &i, &o, err, sizeof err), 1) << err;
    EXPECT_EQ(o.dims, 8);
    EXPECT_DOUBLE_EQ(o.candidates, 2.5);
    EXPECT_EQ(spkllm_spatten_check(&o, err, sizeof err), SPKLLM_OK) << err;
    const char *worse[][2] = {{"--candidates", "0.5"}, {"--sparse-dims", "300"}};
    for (auto &b : worse) {
        const char *args[] = {"x", b[0], b[1]};
        int j = 1;
        EXPECT_EQ(spkllm_spatten_parse_arg(3, (char **)args, &j, &o, err, sizeof err), -1) << b[0];
    }
    // held rows: on in every preset, --select-hold on|off
    spkllm_spatten_preset("off", &o);
    EXPECT_EQ(o.hold, 1) << "the presets hold the scored rows";
    for (const char *v : {"off", "on"}) {
        const char *args[] = {"x", "--select-hold", v};
        int j = 1;
        ASSERT_EQ(spkllm_spatten_parse_arg(3, (char **)args, &j, &o, err, sizeof err), 1) << err;
        EXPECT_EQ(o.hold, std::string(v) == "on") << v;
    }
    const char *maybe[] = {"x", "--select-hold", "yes"};
    int j = 1;
    EXPECT_EQ(spkllm_spatten_parse_arg(3, (char **)maybe, &j, &o, err, sizeof err), -1);
    EXPECT_NE(std::string(err).find("--select-hold: bad value 'yes'"), std::string::npos) << err;
    // a token budget only means something for the select policy
    spkllm_spatten_preset("off", &o);
    o.budget = 64;
    EXPECT_EQ(spkllm_spatten_check(&o, err, sizeof err), SPKLLM_ERR_ARG);
    EXPECT_NE(std::string(err).find("--policy select"), std::string::npos) << err;
}

TEST(SpattenOptions, SelectPreset) {
    spkllm_spatten_options o;
    ASSERT_EQ(spkllm_spatten_preset("select", &o), SPKLLM_OK);
    char err[256] = "";
    EXPECT_EQ(spkllm_spatten_check(&o, err, sizeof err), SPKLLM_OK) << err;
    EXPECT_EQ(o.policy, SPKLLM_POLICY_SELECT);
    EXPECT_EQ(o.dims, 16);
    EXPECT_DOUBLE_EQ(o.candidates, 4.0);
    EXPECT_EQ(o.msb_bits, 8);
    EXPECT_EQ(o.lsb_bits, 4);
    for (int l = 0; l < 30; l++) { // one budget in every layer, no head or local V pruning
        EXPECT_DOUBLE_EQ(spkllm_spatten_token_keep(&o, l, 30), 0.3) << l;
        EXPECT_EQ(spkllm_spatten_head_keep(&o, l, 30), 1.0) << l;
    }
    EXPECT_DOUBLE_EQ(o.v_keep, 1.0);
}

TEST(SpattenOptions, TokenPolicyAndMitPreset) {
    spkllm_spatten_options o;
    ASSERT_EQ(spkllm_spatten_preset("paper", &o), SPKLLM_OK);
    EXPECT_EQ(o.policy, SPKLLM_POLICY_ACCUMULATED) << "the paper's policy is the default";
    ASSERT_EQ(spkllm_spatten_preset("mit", &o), SPKLLM_OK);
    EXPECT_EQ(o.policy, SPKLLM_POLICY_LAST_STEP);
    EXPECT_EQ(o.important, 0) << "the budget is a fraction of the context";
    for (int l = 0; l < 30; l++) { // one budget in every layer, no head pruning
        EXPECT_DOUBLE_EQ(spkllm_spatten_token_keep(&o, l, 30), 0.3) << l;
        EXPECT_EQ(spkllm_spatten_head_keep(&o, l, 30), 1.0) << l;
    }
    spkllm_spatten_options paper;
    spkllm_spatten_preset("paper", &paper);
    EXPECT_EQ(o.msb_bits, paper.msb_bits);
    EXPECT_EQ(o.v_keep, paper.v_keep);
    EXPECT_EQ(o.sinks, paper.sinks);
    EXPECT_EQ(o.recent, paper.recent);

    const char *argv[] = {"x", "--policy", "last-step", "--important", "24"};
    char err[256] = "";
    spkllm_spatten_preset("off", &o);
    for (int i = 1; i < 5; i++)
        ASSERT_EQ(spkllm_spatten_parse_arg(5, (char **)argv, &i, &o, err, sizeof err), 1) << err;
    EXPECT_EQ(o.policy, SPKLLM_POLICY_LAST_STEP);
    EXPECT_EQ(o.important, 24);
    const char *bad[][2] = {{"--policy", "h2o"}, {"--important", "-1"}, {"--important", "x"}};
    for (auto &b : bad) {
        const char *args[] = {"x", b[0], b[1]};
        int j = 1;
        err[0] = 0;
        EXPECT_EQ(spkllm_spatten_parse_arg(3, (char **)args, &j, &o, err, sizeof err), -1)
            << b[0] << " " << b[1];
        EXPECT_NE(std::string(err), "") << b[0];
    }
    // --important only means something for the last-step policy; the options may come in any
    // order, so the combination is checked once all are parsed.
    spkllm_spatten_preset("off", &o);
    const char *alone[] = {"x", "--important", "8"};
    int j = 1;
    EXPECT_EQ(spkllm_spatten_parse_arg(3, (char **)alone, &j, &o, err, sizeof err), 1) << err;
    EXPECT_EQ(spkllm_spatten_check(&o, err, sizeof err), SPKLLM_ERR_ARG);
    EXPECT_NE(std::string(err).find("--policy last-step"), std::string::npos) << err;
    o.policy = SPKLLM_POLICY_LAST_STEP;
    EXPECT_EQ(spkllm_spatten_check(&o, err, sizeof err), SPKLLM_OK) << err;
}

TEST(Offload, UnknownDeviceIsAClearError) {
    spkllm_attn_ops ops;
    char err[512] = "";
    EXPECT_NE(spkllm_attn_spk_create("fpga-nonexistent", nullptr, &ops, err, sizeof err),
              SPKLLM_OK);
    EXPECT_NE(std::string(err).find("fpga-nonexistent"), std::string::npos) << err;
    spkllm_spatten_options o;
    spkllm_spatten_preset("off", &o);
    o.msb_bits = 13;
    for (const std::string &b : test_backends()) {
        EXPECT_EQ(spkllm_attn_spk_create(b.c_str(), &o, &ops, err, sizeof err), SPKLLM_ERR_ARG)
            << b;
        EXPECT_NE(std::string(err).find("kv-bits"), std::string::npos) << b << ": " << err;
    }
}

namespace {
// Tiny model with the shapes of the real one in miniature: GQA 4 heads / 2 K/V heads, head
// dimension 16, 4 layers (so the schedule has unpruned and pruned layers).
Config tiny() {
    Config c;
    c.n_layers = 4;
    return c;
}

// max |a - b| over max |b|.
double rel_err(const std::vector<float> &a, const std::vector<float> &b) {
    double d = 0, s = 0;
    for (size_t i = 0; i < a.size(); i++) {
        d = std::max(d, (double)std::fabs(a[i] - b[i]));
        s = std::max(s, (double)std::fabs(b[i]));
    }
    return d / s;
}
} // namespace

// With 12-bit K/V and nothing pruned, the offloaded logits match the CPU float backend within
// the fixed-point error documented in docs/offload.md ("Accuracy of the offload"), and every
// backend gives the first backend's logits bit for bit.
TEST(Offload, PruningOffMatchesCpuLogits) {
    Model m;
    load(tiny(), m);
    Backend cpu;
    ASSERT_EQ(spkllm_attn_cpu_create(spkllm_model_pool(m.model), &cpu.ops), SPKLLM_OK);
    const int V = spkllm_model_get_params(m.model)->n_vocab;
    std::vector<std::vector<float>> want, first;
    std::vector<std::vector<int32_t>> tokens;
    std::mt19937 rng(static_cast<std::mt19937::result_type>(test_seed()));
    for (int seed = 0; seed < 3; seed++) {
        // two fixed sequences and one drawn from test_seed()
        tokens.push_back(seed < 2 ? some_tokens(48, V, seed) : random_tokens(48, V, rng));
        want.push_back(stream_logits(m.model, cpu.ops, tokens.back()));
    }
    for (const std::string &b : test_backends()) {
        SCOPED_TRACE(b);
        Backend dev;
        make_spk(b.c_str(), "off", dev);
        for (int seed = 0; seed < 3; seed++) {
            std::vector<float> got = stream_logits(m.model, dev.ops, tokens[seed]);
            double e = rel_err(got, want[seed]);
            printf("%s seed %d: max |logit error| / max |logit| = %.2e\n", b.c_str(), seed, e);
            EXPECT_LT(e, 1.0 / 128) << "seed " << seed;
            EXPECT_GT(e, 0.0) << "the device computes in fixed point: exact equality is suspicious";
            if ((size_t)seed < first.size()) {
                EXPECT_TRUE(got == first[seed]) << "differs from " << test_backends()[0];
            } else {
                first.push_back(got);
            }
        }
    }
}

// Greedy generations agree token for token for 32+ tokens on several prompts, on every backend,
// with a batched prompt (the prompt-processing path) and then decoding.
TEST(Offload, GreedyGenerationAgreesWithCpu) {
    Model m;
    load(tiny(), m);
    Backend cpu;
    ASSERT_EQ(spkllm_attn_cpu_create(spkllm_model_pool(m.model), &cpu.ops), SPKLLM_OK);
    const int V = spkllm_model_get_params(m.model)->n_vocab;
    std::vector<std::vector<int32_t>> prompts, want;
    for (int seed = 0; seed < 4; seed++) {
        prompts.push_back(some_tokens(5 + seed * 3, V, seed + 7));
        want.push_back(greedy(m.model, cpu.ops, prompts.back(), 40));
    }
    for (const std::string &b : test_backends()) {
        SCOPED_TRACE(b);
        Backend dev;
        make_spk(b.c_str(), "off", dev);
        for (int seed = 0; seed < 4; seed++)
            EXPECT_EQ(greedy(m.model, dev.ops, prompts[seed], 40), want[seed]) << "prompt " << seed;
        const spkllm_spk_report *r = spkllm_attn_spk_report(&dev.ops);
        ASSERT_NE(r, nullptr);
        if (!backend_times_engine(b)) {
            EXPECT_EQ(r->engine_cycles, 0u) << "the model backend keeps no time";
        } else {
            EXPECT_GT(r->engine_cycles, 0u) << "timed and RTL backends count engine cycles";
        }
        EXPECT_EQ(r->has_energy, backend_prices_energy(b) ? 1 : 0);
    }
    EXPECT_EQ(spkllm_attn_spk_report(&cpu.ops), nullptr);
}

// Pruning on: fewer DRAM bytes than unpruned, and the tokens and heads alive per layer follow
// the schedule: after the prompt (one batch of N tokens), layer l starts with
// max(protected, ceil(keep(l-1) * N)) tokens, and whole GQA groups of heads die. Every backend
// that prunes gives the same logits; one that cannot refuses the pruning step.
TEST(Offload, PruningFollowsTheScheduleAndCutsTraffic) {
    Model m;
    Config c = tiny();
    load(c, m);
    const int V = spkllm_model_get_params(m.model)->n_vocab, N = 40;
    spkllm_spatten_options o;
    spkllm_spatten_preset("off", &o);
    o.token_keep_start = 0.8, o.token_keep_end = 0.4, o.token_skip = 0.25; // layers 1..3 prune
    o.head_keep_start = 0.5, o.head_keep_end = 0.5, o.head_skip = 0.5;     // layers 2..3
    o.sinks = 1, o.recent = 2;
    std::mt19937 rng(static_cast<std::mt19937::result_type>(test_seed()));
    std::vector<int32_t> t = random_tokens(N, V, rng);
    std::vector<float> first;
    for (const std::string &name : test_backends()) {
        SCOPED_TRACE(name);
        Backend off, on;
        make_spk(name.c_str(), "off", off);
        make_spk(name.c_str(), "off", on, &o);
        std::vector<float> logits(V);
        if (!backend_prunes(name)) {
            std::printf("[ NOTE     ] %s: no prune unit; the pruning step is checked to be "
                        "refused\n",
                        name.c_str());
            ASSERT_EQ(spkllm_model_begin(m.model, &on.ops, N + 8), SPKLLM_OK);
            EXPECT_NE(spkllm_model_forward(m.model, t.data(), N, 0, logits.data(), N - 1),
                      SPKLLM_OK);
            EXPECT_NE(std::string(spkllm_attn_spk_error(&on.ops)).find("PRUNE"), std::string::npos)
                << spkllm_attn_spk_error(&on.ops);
            continue;
        }
        for (Backend *b : {&off, &on}) {
            ASSERT_EQ(spkllm_model_begin(m.model, &b->ops, N + 8), SPKLLM_OK);
            ASSERT_EQ(spkllm_model_forward(m.model, t.data(), N, 0, logits.data(), N - 1),
                      SPKLLM_OK)
                << spkllm_attn_spk_error(&b->ops);
        }
        const spkllm_spk_report *r0 = spkllm_attn_spk_report(&off.ops);
        const spkllm_spk_report *r1 = spkllm_attn_spk_report(&on.ops);
        EXPECT_LT(r1->dram_bytes, r0->dram_bytes);
        EXPECT_EQ(r0->dense_bytes, r1->dense_bytes);
        for (int l = 0; l < c.n_layers; l++) EXPECT_EQ(r0->tokens_alive[l], N) << l;
        EXPECT_EQ(r1->tokens_alive[0], N);
        EXPECT_EQ(r1->tokens_alive[1], N); // layer 0 does not prune
        for (int l = 1; l + 1 < c.n_layers; l++) {
            double keep = spkllm_spatten_token_keep(&o, l, c.n_layers);
            EXPECT_LT(keep, 1.0);
            EXPECT_EQ(r1->tokens_alive[l + 1], std::max(3.0, std::ceil(keep * N - 1e-9))) << l;
        }
        // Head pruning from layer 2 on keeps ceil(0.5 * 4) = 2 heads = one K/V group.
        EXPECT_EQ(r1->heads_alive[2], 4);
        EXPECT_EQ(r1->heads_alive[3], 2);

        // Decoding keeps pruning: tokens stay near the end ratio of the growing context.
        for (int i = 0; i < 8; i++) {
            int32_t next = (int32_t)(i % V);
            ASSERT_EQ(spkllm_model_forward(m.model, &next, 1, N + i, logits.data(), 0), SPKLLM_OK)
                << spkllm_attn_spk_error(&on.ops);
        }
        EXPECT_LT(r1->tokens_alive[c.n_layers - 1], 0.5 * r1->tokens_total[c.n_layers - 1]);
        if (first.empty()) {
            first = logits;
        } else {
            EXPECT_TRUE(logits == first) << "pruned logits differ from " << test_backends()[0];
        }
    }
}

// Grouped head pruning zeroes whole K/V groups in the device output; per-head pruning need not.
TEST(Offload, HeadGroupsDieTogether) {
    spkllm_spatten_options o;
    spkllm_spatten_preset("off", &o);
    o.head_keep_start = o.head_keep_end = 0.5, o.head_skip = 0.0;
    const int H = 4, KV = 2, D = 16, L = 2, N = 6;
    std::vector<float> k(N * KV * D), v(N * KV * D), q(N * H * D), first;
    for (size_t i = 0; i < k.size(); i++) k[i] = std::sin(0.37 * i), v[i] = std::cos(0.11 * i);
    for (size_t i = 0; i < q.size(); i++) q[i] = std::sin(0.23 * i + 1);
    for (const std::string &name : test_backends()) {
        SCOPED_TRACE(name);
        if (!backend_prunes(name)) {
            std::printf("[ NOTE     ] %s: no prune unit; head groups need the pruning step\n",
                        name.c_str());
            continue; // the refusal itself: PruningFollowsTheScheduleAndCutsTraffic
        }
        Backend b;
        make_spk(name.c_str(), "off", b, &o);
        std::vector<float> out(N * H * D);
        ASSERT_EQ(b.ops.begin_sequence(b.ops.ctx, L, H, KV, D, N), SPKLLM_OK);
        for (int l = 0; l < L; l++) {
            ASSERT_EQ(b.ops.append_kv(b.ops.ctx, l, 0, N, k.data(), v.data()), SPKLLM_OK);
            ASSERT_EQ(b.ops.attend(b.ops.ctx, l, 0, N, q.data(), out.data()), SPKLLM_OK)
                << spkllm_attn_spk_error(&b.ops);
        }
        // Layer 1 ran after layer 0's pruning step: exactly one group of two heads is zero.
        bool zero[H];
        for (int h = 0; h < H; h++) {
            zero[h] = true;
            for (int i = 0; i < N; i++)
                for (int e = 0; e < D; e++)
                    zero[h] = zero[h] && out[(size_t)(i * H + h) * D + e] == 0.0f;
        }
        EXPECT_EQ(zero[0], zero[1]); // heads 0 and 1 share K/V head 0
        EXPECT_EQ(zero[2], zero[3]);
        EXPECT_NE(zero[0], zero[2]); // exactly one group died
        if (first.empty()) {
            first = out;
        } else {
            EXPECT_TRUE(out == first) << "differs from " << test_backends()[0];
        }
        // Bad call order is an error, not a crash.
        EXPECT_EQ(b.ops.append_kv(b.ops.ctx, 0, 3, 1, k.data(), v.data()), SPKLLM_ERR_ARG);
        EXPECT_NE(std::string(spkllm_attn_spk_error(&b.ops)), "");
    }
}

// MIT's last-step policy with a fixed budget: after the prompt, every pruning layer keeps
// sinks + important + recent tokens per K/V head, so each decoding step starts a layer with that
// budget plus the new token; layer 0 (skipped) keeps the whole context. Every backend that runs
// the policy computes the same bits; the others refuse it with a message naming PRUNE.
TEST(Offload, LastStepPolicyKeepsItsBudgetPerKvHead) {
    Model m;
    Config c = tiny();
    load(c, m);
    const int V = spkllm_model_get_params(m.model)->n_vocab, N = 40, steps = 8;
    spkllm_spatten_options o;
    spkllm_spatten_preset("off", &o);
    o.policy = SPKLLM_POLICY_LAST_STEP;
    o.sinks = 1, o.recent = 2, o.important = 5, o.token_skip = 0.25; // layers 1..3 prune
    std::vector<int32_t> t = some_tokens(N, V, 5);
    // Every step's logits of a run; false (with a gtest failure) if a forward failed.
    auto decode = [&](Backend &b, std::vector<std::vector<float>> &seen) {
        std::vector<float> logits(V);
        EXPECT_EQ(spkllm_model_begin(m.model, &b.ops, N + steps), SPKLLM_OK);
        spkllm_status st = spkllm_model_forward(m.model, t.data(), N, 0, logits.data(), N - 1);
        EXPECT_EQ(st, SPKLLM_OK) << spkllm_attn_spk_error(&b.ops);
        for (int i = 0; st == SPKLLM_OK && i < steps; i++) {
            int32_t next = (int32_t)((i * 5 + 1) % V);
            st = spkllm_model_forward(m.model, &next, 1, N + i, logits.data(), 0);
            EXPECT_EQ(st, SPKLLM_OK) << spkllm_attn_spk_error(&b.ops);
            seen.push_back(logits);
        }
        return st == SPKLLM_OK;
    };
    const std::string base = test_backends()[0];
    Backend off;
    make_spk(base.c_str(), "off", off);
    std::vector<std::vector<float>> unpruned, first;
    ASSERT_TRUE(decode(off, unpruned));
    const spkllm_spk_report *r0 = spkllm_attn_spk_report(&off.ops);
    for (const std::string &name : test_backends()) {
        SCOPED_TRACE(name);
        Backend on;
        make_spk(name.c_str(), "off", on, &o);
        if (!backend_runs_last_step(name)) {
            std::printf("[ NOTE     ] %s: no request logits; the last-step policy is checked to "
                        "be refused\n",
                        name.c_str());
            std::vector<float> logits(V);
            ASSERT_EQ(spkllm_model_begin(m.model, &on.ops, N + steps), SPKLLM_OK);
            EXPECT_NE(spkllm_model_forward(m.model, t.data(), N, 0, logits.data(), N - 1),
                      SPKLLM_OK);
            EXPECT_NE(std::string(spkllm_attn_spk_error(&on.ops)).find("PRUNE"), std::string::npos)
                << spkllm_attn_spk_error(&on.ops);
            continue;
        }
        std::vector<std::vector<float>> seen;
        ASSERT_TRUE(decode(on, seen));
        EXPECT_NE(seen, unpruned) << "pruning changed nothing";
        if (first.empty()) {
            first = seen;
        } else {
            EXPECT_TRUE(seen == first) << "differs from the first backend that runs the policy";
        }
        const spkllm_spk_report *r1 = spkllm_attn_spk_report(&on.ops);
        if (name == base ||
            (backend_counts_spec_traffic(name) && backend_counts_spec_traffic(base))) {
            EXPECT_LT(r1->dram_bytes, r0->dram_bytes);
        }
        const double calls = 1 + steps, budget = 1 + 5 + 2;
        EXPECT_DOUBLE_EQ(r1->tokens_alive[0], r0->tokens_alive[0]) << "layer 0 does not prune";
        for (int l = 1; l < c.n_layers; l++)
            EXPECT_DOUBLE_EQ(r1->tokens_alive[l], (N + steps * (budget + 1)) / calls) << l;
        for (int l = 0; l < c.n_layers; l++) EXPECT_EQ(r1->heads_alive[l], 4) << "no head pruning";
    }
}

// The select policy (nothing evicted, each request fetches its K/V head's selection for this
// step): the prompt as one batch gives the logits of token-by-token streaming bit for bit (a
// non-evicting policy does not depend on how the queries are batched); every backend with the
// scoring stage computes the same bits and cuts traffic; the others refuse it naming
// LAYER_BEGIN.
TEST(Offload, SelectPolicyBatchedEqualsStreamedOnEveryBackendThatRunsIt) {
    Model m;
    Config c = tiny();
    load(c, m);
    const int V = spkllm_model_get_params(m.model)->n_vocab, N = 40;
    spkllm_spatten_options o;
    spkllm_spatten_preset("off", &o);
    o.msb_bits = 8, o.lsb_bits = 4, o.requant = 0.2;
    o.policy = SPKLLM_POLICY_SELECT;
    o.sinks = 1, o.recent = 2, o.budget = 6, o.token_skip = 0.25; // layers 1..3 select
    o.dims = 4, o.candidates = 2.0; // a first stage at 4 dimensions, then MSB scores on 2x
    char err[256] = "";
    ASSERT_EQ(spkllm_spatten_check(&o, err, sizeof err), SPKLLM_OK) << err;
    std::vector<int32_t> t = some_tokens(N, V, 9);
    const std::string base = test_backends()[0];
    Backend off;
    make_spk(base.c_str(), "off", off);
    const std::vector<float> dense = stream_logits(m.model, off.ops, t);
    const spkllm_spk_report *r0 = spkllm_attn_spk_report(&off.ops);
    EXPECT_EQ(r0->keys_fetched, r0->keys_visible) << "dense fetches every visible key";
    std::vector<float> first;
    for (const std::string &name : test_backends()) {
        SCOPED_TRACE(name);
        Backend on;
        make_spk(name.c_str(), "off", on, &o);
        if (!backend_has_c_engine(name)) {
            std::printf("[ NOTE     ] %s: no scoring stage; the select policy is checked to be "
                        "refused\n",
                        name.c_str());
            std::vector<float> logits(V);
            ASSERT_EQ(spkllm_model_begin(m.model, &on.ops, N), SPKLLM_OK);
            EXPECT_NE(spkllm_model_forward(m.model, t.data(), N, 0, logits.data(), N - 1),
                      SPKLLM_OK);
            EXPECT_NE(std::string(spkllm_attn_spk_error(&on.ops)).find("LAYER_BEGIN"),
                      std::string::npos)
                << spkllm_attn_spk_error(&on.ops);
            continue;
        }
        const std::vector<float> streamed = stream_logits(m.model, on.ops, t);
        EXPECT_NE(streamed, dense) << "selection changed nothing";
        const spkllm_spk_report *r1 = spkllm_attn_spk_report(&on.ops);
        if (backend_counts_spec_traffic(name) && backend_counts_spec_traffic(base)) {
            EXPECT_LT(r1->dram_bytes, r0->dram_bytes);
        }
        // every token stays in the context: nothing is evicted, but each request fetches only
        // its selected keys (dense fetches every visible one)
        for (int l = 0; l < c.n_layers; l++)
            EXPECT_DOUBLE_EQ(r1->tokens_alive[l], r1->tokens_total[l]) << l;
        EXPECT_EQ(r1->keys_visible, r0->keys_visible);
        EXPECT_LT(r1->keys_fetched, r1->keys_visible);
        Backend batch;
        make_spk(name.c_str(), "off", batch, &o);
        std::vector<float> batched((size_t)V * N);
        ASSERT_EQ(spkllm_model_begin(m.model, &batch.ops, N), SPKLLM_OK);
        ASSERT_EQ(spkllm_model_forward(m.model, t.data(), N, 0, batched.data(), 0), SPKLLM_OK)
            << spkllm_attn_spk_error(&batch.ops);
        EXPECT_TRUE(batched == streamed) << "batched differs from streamed";
        if (first.empty()) {
            first = streamed;
        } else {
            EXPECT_TRUE(streamed == first) << "differs from the first backend that runs it";
        }
    }
}

// Engine threads split the K/V heads over devices run on their own threads: the logits, the
// DRAM bytes, the requests and the per-layer counts equal one device's, batched and streamed,
// dense and under the select policy, on the functional backend. A timed backend and options
// that couple heads are refused with the reason.
TEST(Offload, EngineThreadsSplitTheHeadsBitIdentically) {
    Model m;
    Config c = tiny(); // 2 K/V heads of 2 query heads each
    load(c, m);
    const int V = spkllm_model_get_params(m.model)->n_vocab, N = 24;
    const std::vector<int32_t> t = some_tokens(N, V, 5);
    spkllm_spatten_options dense, sel;
    spkllm_spatten_preset("off", &dense);
    sel = dense;
    sel.msb_bits = 8, sel.lsb_bits = 4, sel.requant = 0.2;
    sel.policy = SPKLLM_POLICY_SELECT;
    sel.sinks = 1, sel.recent = 2, sel.budget = 6, sel.token_skip = 0.25;
    char err[512] = "";
    ASSERT_EQ(spkllm_spatten_check(&sel, err, sizeof err), SPKLLM_OK) << err;
    for (const std::string &name : test_backends()) {
        for (const spkllm_spatten_options *o : {&dense, &sel}) {
            SCOPED_TRACE(name + (o == &sel ? " select" : " dense"));
            if (o == &sel && !backend_has_c_engine(name)) continue; // refused, tested above
            Backend one, two;
            ASSERT_EQ(spkllm_attn_spk_create_threads(name.c_str(), o, 1, &one.ops, err, sizeof err),
                      SPKLLM_OK)
                << err;
            const spkllm_status st =
                spkllm_attn_spk_create_threads(name.c_str(), o, 2, &two.ops, err, sizeof err);
            if (backend_times_engine(name)) {
                EXPECT_EQ(st, SPKLLM_ERR_ARG);
                EXPECT_NE(std::string(err).find("functional backend"), std::string::npos) << err;
                continue;
            }
            ASSERT_EQ(st, SPKLLM_OK) << err;
            const std::vector<float> a = stream_logits(m.model, one.ops, t);
            const std::vector<float> b = stream_logits(m.model, two.ops, t);
            EXPECT_TRUE(a == b) << "streamed logits differ";
            const spkllm_spk_report *r1 = spkllm_attn_spk_report(&one.ops);
            const spkllm_spk_report *r2 = spkllm_attn_spk_report(&two.ops);
            EXPECT_EQ(r2->engine_threads, 2);
            EXPECT_EQ(r1->dram_bytes, r2->dram_bytes);
            EXPECT_EQ(r1->dense_bytes, r2->dense_bytes);
            EXPECT_EQ(r1->requests, r2->requests);
            EXPECT_EQ(r1->requant, r2->requant);
            EXPECT_EQ(r1->keys_fetched, r2->keys_fetched);
            EXPECT_EQ(r1->keys_visible, r2->keys_visible);
            for (int l = 0; l < c.n_layers; l++) {
                EXPECT_DOUBLE_EQ(r1->tokens_alive[l], r2->tokens_alive[l]) << l;
                EXPECT_DOUBLE_EQ(r1->heads_alive[l], r2->heads_alive[l]) << l;
            }
            Backend batch;
            ASSERT_EQ(
                spkllm_attn_spk_create_threads(name.c_str(), o, 2, &batch.ops, err, sizeof err),
                SPKLLM_OK)
                << err;
            std::vector<float> batched((size_t)V * N);
            ASSERT_EQ(spkllm_model_begin(m.model, &batch.ops, N), SPKLLM_OK);
            ASSERT_EQ(spkllm_model_forward(m.model, t.data(), N, 0, batched.data(), 0), SPKLLM_OK)
                << spkllm_attn_spk_error(&batch.ops);
            EXPECT_TRUE(batched == a) << "batched on 2 devices differs from streamed on one";
        }
    }
    // What cannot be split, and bad counts.
    const std::string base = test_backends()[0];
    spkllm_attn_ops ops;
    spkllm_spatten_options heads = dense, tokens = dense;
    heads.head_keep_start = heads.head_keep_end = 0.5;
    tokens.token_keep_start = tokens.token_keep_end = 0.5;
    EXPECT_EQ(spkllm_attn_spk_create_threads(base.c_str(), &heads, 2, &ops, err, sizeof err),
              SPKLLM_ERR_ARG);
    EXPECT_NE(std::string(err).find("head pruning"), std::string::npos) << err;
    EXPECT_EQ(spkllm_attn_spk_create_threads(base.c_str(), &tokens, 2, &ops, err, sizeof err),
              SPKLLM_ERR_ARG);
    EXPECT_NE(std::string(err).find("token eviction"), std::string::npos) << err;
    for (int bad : {0, SPKLLM_MAX_ENGINE_THREADS + 1}) {
        EXPECT_EQ(spkllm_attn_spk_create_threads(base.c_str(), &dense, bad, &ops, err, sizeof err),
                  SPKLLM_ERR_ARG);
        EXPECT_NE(std::string(err).find("engine threads"), std::string::npos) << err;
    }
    const std::string functional = [] {
        for (const std::string &b : test_backends())
            if (!backend_times_engine(b)) return b;
        return std::string();
    }();
    if (functional.empty()) {
        std::printf("[ NOTE     ] no functional backend in $SPK_TEST_BACKENDS: the K/V-head "
                    "count check is not run\n");
        return;
    }
    Backend three; // 3 devices for 2 K/V heads
    ASSERT_EQ(
        spkllm_attn_spk_create_threads(functional.c_str(), &dense, 3, &three.ops, err, sizeof err),
        SPKLLM_OK)
        << err;
    EXPECT_NE(spkllm_model_begin(m.model, &three.ops, N), SPKLLM_OK);
    EXPECT_NE(std::string(spkllm_attn_spk_error(&three.ops)).find("at most one each"),
              std::string::npos)
        << spkllm_attn_spk_error(&three.ops);
}
