/**
 * @file model.h
 * @brief Llama-architecture language model read from a GGUF file.
 *
 * Shapes come from the GGUF metadata (`<arch>.block_count`, `.embedding_length`, ...). The
 * forward pass: token embedding, then per layer RMSNorm -> Q/K/V projections -> RoPE on adjacent
 * pairs (2i, 2i+1) with the file's theta -> attention through an spkllm_attn_ops backend ->
 * output projection + residual -> RMSNorm -> SwiGLU FFN + residual; final RMSNorm and the output
 * head (tied to the token embedding when `output.weight` is absent). Weights stay in their
 * file format; matrix-vector products run on the quantized blocks.
 */
#ifndef SPKLLM_MODEL_H
#define SPKLLM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "spkllm/attn.h"
#include "spkllm/gguf.h"
#include "spkllm/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Shapes and constants of a loaded model. */
typedef struct {
    int n_layers;
    int n_embd;
    int n_ff;
    int n_heads;
    int n_kv_heads;
    int head_dim;
    int n_rot; /**< rotated dimensions per head */
    int n_vocab;
    int n_ctx_train;
    float rope_theta;
    float rms_eps;
    int tied_output; /**< 1 when the output head reuses token_embd */
} spkllm_model_params;

typedef struct spkllm_model spkllm_model;

/**
 * Opens @p path (mmap) and builds the model; @p n_threads >= 1 threads for the kernels. A weight
 * with a NaN or infinite element or block scale is refused with a message naming the tensor, as
 * is a `tokenizer.ggml.tokens` array whose length differs from the embedding rows.
 */
spkllm_status spkllm_model_open(const char *path, int n_threads, spkllm_model **out, char *err,
                                size_t err_len);

/** As spkllm_model_open for a GGUF image in memory (it must outlive the model). */
spkllm_status spkllm_model_open_memory(const void *buf, size_t size, int n_threads,
                                       spkllm_model **out, char *err, size_t err_len);

/** Frees the model (NULL allowed). */
void spkllm_model_close(spkllm_model *m);

/** Shapes of the model. */
const spkllm_model_params *spkllm_model_get_params(const spkllm_model *m);

/** The underlying GGUF file (for the tokenizer and metadata). */
const spkllm_gguf *spkllm_model_gguf(const spkllm_model *m);

/** The model's thread pool (give it to spkllm_attn_cpu_create). */
spkllm_pool *spkllm_model_pool(spkllm_model *m);

/**
 * Starts a new sequence of at most @p max_tokens positions with attention through @p attn
 * (calls attn->begin_sequence). The model keeps the pointer: @p attn must stay valid while the
 * sequence runs. Call again to start over (perplexity chunks do). Returns SPKLLM_ERR_ARG when
 * @p max_tokens exceeds n_ctx_train (`llama.context_length`): longer sequences are refused.
 */
spkllm_status spkllm_model_begin(spkllm_model *m, const spkllm_attn_ops *attn, int max_tokens);

/**
 * Runs tokens[0..n) at positions pos0.. (pos0 = tokens already processed in this sequence),
 * in batches. Writes logits of tokens logits_from..n-1 to @p logits as rows of n_vocab floats
 * (pass logits = NULL to skip the output head entirely). Returns SPKLLM_ERR_FORMAT when the
 * hidden state overflows to Inf or NaN (the weights themselves are checked when loaded).
 */
spkllm_status spkllm_model_forward(spkllm_model *m, const int32_t *tokens, int n, int pos0,
                                   float *logits, int logits_from);

#ifdef __cplusplus
}
#endif

#endif
