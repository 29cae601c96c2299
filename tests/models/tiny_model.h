// Test helper: a tiny random llama model written as GGUF, and a naive float implementation of
// the same architecture to check the library's forward pass against.
#ifndef TESTS_MODELS_TINY_MODEL_H
#define TESTS_MODELS_TINY_MODEL_H

#include <cstdint>
#include <string>
#include <vector>

#include "gguf_writer.h"

namespace tinymodel {

struct Config {
    int n_layers = 2, n_embd = 64, n_heads = 4, n_kv_heads = 2, n_ff = 96, n_vocab = 50;
    int n_rot = 16; // head_dim = 16
    float theta = 5000.0f, eps = 1e-5f;
    bool tied = true;
    uint32_t matrix_type = SPKLLM_TENSOR_F32; // type of the projection matrices
    uint32_t embd_type = SPKLLM_TENSOR_F32;
    uint32_t seed = 1;
    uint32_t context_length = 256; // llama.context_length
    int n_tokens_meta = -1;        // >= 0: also write a tokenizer.ggml.tokens array this long
    // Corrupts one value of the tensor named @c poison: element poison_elem of a float tensor,
    // or the scale of the block holding it in a quantized one.
    std::string poison;
    size_t poison_elem = 0;
    float poison_value = 0.0f;
};

// The weights as floats (after any quantization, i.e. exactly what the file encodes).
struct Weights {
    std::vector<float> tok_embd, output, output_norm;
    struct Layer {
        std::vector<float> attn_norm, ffn_norm, wq, wk, wv, wo, gate, up, down;
    };
    std::vector<Layer> layers;
};

// Writes the model's metadata and tensors into @p w and returns the encoded weights as floats.
Weights write_model(const Config &c, gguftest::Writer &w);

// Naive float forward pass: logits (n_vocab per token) of every token of @p tokens.
std::vector<float> naive_logits(const Config &c, const Weights &wt,
                                const std::vector<int32_t> &tokens);

} // namespace tinymodel

#endif
