#include "tiny_model.h"

#include <cmath>
#include <algorithm>
#include <cstring>
#include <random>
#include <string>

#include "spkllm/quant.h"

namespace tinymodel {

namespace {

// Encodes @p v (rows of @p cols) as @p type and returns the bytes plus the decoded floats.
std::vector<uint8_t> encode(uint32_t type, std::vector<float> &v, size_t cols) {
    auto t = (spkllm_tensor_type)type;
    size_t rows = v.size() / cols, rb = spkllm_row_bytes(t, cols);
    std::vector<uint8_t> bytes(rows * rb);
    for (size_t r = 0; r < rows; r++) {
        const float *src = v.data() + r * cols;
        uint8_t *dst = bytes.data() + r * rb;
        if (type == SPKLLM_TENSOR_F32) {
            std::memcpy(dst, src, rb);
        } else if (type == SPKLLM_TENSOR_F16 || type == SPKLLM_TENSOR_BF16) {
            for (size_t i = 0; i < cols; i++) {
                uint16_t h = type == SPKLLM_TENSOR_F16 ? spkllm_f32_to_f16(src[i])
                                                       : spkllm_f32_to_bf16(src[i]);
                dst[2 * i] = (uint8_t)h, dst[2 * i + 1] = (uint8_t)(h >> 8);
            }
        } else {
            spkllm_quantize_row(t, src, dst, cols);
        }
        spkllm_dequantize_row(t, dst, v.data() + r * cols, cols);
    }
    return bytes;
}

} // namespace

Weights write_model(const Config &c, gguftest::Writer &w) {
    std::mt19937 rng(c.seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    auto randv = [&](size_t n, float scale) {
        std::vector<float> v(n);
        for (auto &x : v) x = nd(rng) * scale;
        return v;
    };
    auto normv = [&](size_t n) {
        std::vector<float> v(n);
        for (auto &x : v) x = 1.0f + 0.1f * nd(rng);
        return v;
    };
    int hd = c.n_embd / c.n_heads, kvd = c.n_kv_heads * hd;
    w.kv_str("general.architecture", "llama");
    w.kv_u32("llama.block_count", (uint32_t)c.n_layers);
    w.kv_u32("llama.embedding_length", (uint32_t)c.n_embd);
    w.kv_u32("llama.feed_forward_length", (uint32_t)c.n_ff);
    w.kv_u32("llama.attention.head_count", (uint32_t)c.n_heads);
    w.kv_u32("llama.attention.head_count_kv", (uint32_t)c.n_kv_heads);
    w.kv_u32("llama.rope.dimension_count", (uint32_t)c.n_rot);
    w.kv_f32("llama.rope.freq_base", c.theta);
    w.kv_f32("llama.attention.layer_norm_rms_epsilon", c.eps);
    w.kv_u32("llama.context_length", c.context_length);
    if (c.n_tokens_meta >= 0) {
        std::vector<std::string> toks;
        for (int i = 0; i < c.n_tokens_meta; i++) toks.push_back("t" + std::to_string(i));
        w.kv_arr_str("tokenizer.ggml.tokens", toks);
    }

    Weights wt;
    auto add = [&](const std::string &name, std::vector<float> &v, size_t cols, size_t rows,
                   uint32_t type) {
        std::vector<uint64_t> ne =
            rows ? std::vector<uint64_t>{cols, rows} : std::vector<uint64_t>{cols};
        std::vector<uint8_t> bytes = encode(type, v, cols);
        if (name == c.poison) {
            if (type == SPKLLM_TENSOR_F32) {
                std::memcpy(bytes.data() + 4 * c.poison_elem, &c.poison_value, 4);
            } else { // every quantized block starts with its f16 scale
                size_t block = c.poison_elem / 32,
                       bb = spkllm_row_bytes((spkllm_tensor_type)type, 32);
                uint16_t h = spkllm_f32_to_f16(c.poison_value);
                bytes[block * bb] = (uint8_t)h, bytes[block * bb + 1] = (uint8_t)(h >> 8);
            }
        }
        w.tensor({name, ne, type, bytes});
    };
    size_t d = (size_t)c.n_embd, ff = (size_t)c.n_ff, V = (size_t)c.n_vocab;
    wt.tok_embd = randv(V * d, 1.0f);
    add("token_embd.weight", wt.tok_embd, d, V, c.embd_type);
    wt.output_norm = normv(d);
    add("output_norm.weight", wt.output_norm, d, 0, SPKLLM_TENSOR_F32);
    if (!c.tied) {
        wt.output = randv(V * d, 0.3f);
        add("output.weight", wt.output, d, V, c.matrix_type);
    } else {
        wt.output = wt.tok_embd;
    }
    float s_in = 1.0f / std::sqrt((float)d), s_ff = 1.0f / std::sqrt((float)ff);
    for (int l = 0; l < c.n_layers; l++) {
        Weights::Layer L;
        std::string p = "blk." + std::to_string(l) + ".";
        L.attn_norm = normv(d);
        L.ffn_norm = normv(d);
        L.wq = randv(d * d, 2 * s_in);
        L.wk = randv((size_t)kvd * d, 2 * s_in);
        L.wv = randv((size_t)kvd * d, s_in);
        L.wo = randv(d * d, s_in);
        L.gate = randv(ff * d, s_in);
        L.up = randv(ff * d, s_in);
        L.down = randv(d * ff, s_ff);
        add(p + "attn_norm.weight", L.attn_norm, d, 0, SPKLLM_TENSOR_F32);
        add(p + "ffn_norm.weight", L.ffn_norm, d, 0, SPKLLM_TENSOR_F32);
        add(p + "attn_q.weight", L.wq, d, d, c.matrix_type);
        add(p + "attn_k.weight", L.wk, d, (size_t)kvd, c.matrix_type);
        add(p + "attn_v.weight", L.wv, d, (size_t)kvd, c.matrix_type);
        add(p + "attn_output.weight", L.wo, d, d, c.matrix_type);
        add(p + "ffn_gate.weight", L.gate, d, ff, c.matrix_type);
        add(p + "ffn_up.weight", L.up, d, ff, c.matrix_type);
        add(p + "ffn_down.weight", L.down, ff, d, c.matrix_type);
        wt.layers.push_back(L);
    }
    return wt;
}

namespace {

std::vector<double> matvec(const std::vector<float> &W, const std::vector<double> &x, size_t rows) {
    size_t cols = x.size();
    std::vector<double> y(rows, 0.0);
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < cols; i++) y[r] += (double)W[r * cols + i] * x[i];
    return y;
}

std::vector<double> rmsnorm(const std::vector<double> &x, const std::vector<float> &w, float eps) {
    double ss = 0;
    for (double v : x) ss += v * v;
    double s = 1.0 / std::sqrt(ss / (double)x.size() + eps);
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); i++) y[i] = x[i] * s * w[i];
    return y;
}

void rope(std::vector<double> &v, int n_heads, int hd, int n_rot, double theta, int pos) {
    for (int h = 0; h < n_heads; h++)
        for (int i = 0; i < n_rot / 2; i++) {
            double ang = pos * std::pow(theta, -2.0 * i / n_rot);
            double &a = v[(size_t)(h * hd + 2 * i)], &b = v[(size_t)(h * hd + 2 * i + 1)];
            double x0 = a, x1 = b;
            a = x0 * std::cos(ang) - x1 * std::sin(ang);
            b = x0 * std::sin(ang) + x1 * std::cos(ang);
        }
}

} // namespace

std::vector<float> naive_logits(const Config &c, const Weights &wt,
                                const std::vector<int32_t> &tokens) {
    int hd = c.n_embd / c.n_heads, kvd = c.n_kv_heads * hd, group = c.n_heads / c.n_kv_heads;
    size_t d = (size_t)c.n_embd;
    std::vector<std::vector<std::vector<double>>> K(c.n_layers), Vc(c.n_layers);
    std::vector<float> logits;
    for (size_t p = 0; p < tokens.size(); p++) {
        std::vector<double> x(d);
        for (size_t i = 0; i < d; i++) x[i] = wt.tok_embd[(size_t)tokens[p] * d + i];
        for (int l = 0; l < c.n_layers; l++) {
            const auto &L = wt.layers[(size_t)l];
            auto xn = rmsnorm(x, L.attn_norm, c.eps);
            auto q = matvec(L.wq, xn, d), k = matvec(L.wk, xn, (size_t)kvd);
            auto v = matvec(L.wv, xn, (size_t)kvd);
            rope(q, c.n_heads, hd, c.n_rot, c.theta, (int)p);
            rope(k, c.n_kv_heads, hd, c.n_rot, c.theta, (int)p);
            K[(size_t)l].push_back(k);
            Vc[(size_t)l].push_back(v);
            std::vector<double> att(d, 0.0);
            for (int h = 0; h < c.n_heads; h++) {
                int g = h / group;
                std::vector<double> s(p + 1);
                double mx = -1e300;
                for (size_t j = 0; j <= p; j++) {
                    double dot = 0;
                    for (int i = 0; i < hd; i++)
                        dot += q[(size_t)(h * hd + i)] * K[(size_t)l][j][(size_t)(g * hd + i)];
                    s[j] = dot / std::sqrt((double)hd);
                    mx = std::max(mx, s[j]);
                }
                double sum = 0;
                for (auto &e : s) sum += (e = std::exp(e - mx));
                for (size_t j = 0; j <= p; j++)
                    for (int i = 0; i < hd; i++)
                        att[(size_t)(h * hd + i)] +=
                            s[j] / sum * Vc[(size_t)l][j][(size_t)(g * hd + i)];
            }
            auto o = matvec(L.wo, att, d);
            for (size_t i = 0; i < d; i++) x[i] += o[i];
            xn = rmsnorm(x, L.ffn_norm, c.eps);
            auto gt = matvec(L.gate, xn, (size_t)c.n_ff), up = matvec(L.up, xn, (size_t)c.n_ff);
            for (size_t i = 0; i < gt.size(); i++) gt[i] = gt[i] / (1.0 + std::exp(-gt[i])) * up[i];
            auto dn = matvec(L.down, gt, d);
            for (size_t i = 0; i < d; i++) x[i] += dn[i];
        }
        auto xn = rmsnorm(x, wt.output_norm, c.eps);
        auto lg = matvec(wt.output, xn, (size_t)c.n_vocab);
        for (double v : lg) logits.push_back((float)v);
    }
    return logits;
}

} // namespace tinymodel
