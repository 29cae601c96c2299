/**
 * @file attn.h
 * @brief The one narrow interface through which the model computes attention.
 *
 * The model does the projections and RoPE; everything between "rotated Q/K and V" and "the
 * per-head attention output" goes through an spkllm_attn_ops backend, which also owns the KV
 * cache. The CPU float backend below is the reference; an accelerator backend (offload through
 * libspk) implements the same five calls.
 *
 * Contract, for one sequence at a time:
 *  - begin_sequence() starts a new sequence and drops any cached keys and values.
 *  - append_kv(layer, pos0, n, k, v) stores keys and values for positions pos0..pos0+n-1 of
 *    @p layer. k and v are row-major [n][n_kv_heads * head_dim] (head h occupies
 *    columns h*head_dim .. h*head_dim+head_dim-1). Positions of one layer arrive in order
 *    without gaps (pos0 equals the number of positions already stored).
 *  - attend(layer, pos0, n, q, out) computes, for query i at position p = pos0 + i, and each
 *    head h (using KV head h / (n_heads / n_kv_heads), grouped-query attention):
 *        out[i][h] = sum_{j<=p} softmax_j(q[i][h] . k[j][g] / sqrt(head_dim)) * v[j][g]
 *    i.e. causal attention: query p sees keys 0..p. The keys for pos0..pos0+n-1 have been
 *    appended before attend is called. q and out are [n][n_heads * head_dim].
 *  - A backend may approximate (e.g. prune tokens), which is the point of the accelerator.
 */
#ifndef SPKLLM_ATTN_H
#define SPKLLM_ATTN_H

#include "spkllm/pool.h"
#include "spkllm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An attention backend: function pointers plus the backend's opaque context. */
typedef struct spkllm_attn_ops {
    const char *name; /**< short name, e.g. "cpu" */
    void *ctx;        /**< passed as the first argument of every call */
    /** Starts a sequence of at most @p max_tokens positions with these shapes. */
    spkllm_status (*begin_sequence)(void *ctx, int n_layers, int n_heads, int n_kv_heads,
                                    int head_dim, int max_tokens);
    /** Stores K and V of positions pos0..pos0+n_tokens-1 of @p layer. */
    spkllm_status (*append_kv)(void *ctx, int layer, int pos0, int n_tokens, const float *k,
                               const float *v);
    /** Causal attention for n_queries queries at positions pos0.. of @p layer. */
    spkllm_status (*attend)(void *ctx, int layer, int pos0, int n_queries, const float *q,
                            float *out);
    /** Frees the context. */
    void (*destroy)(void *ctx);
} spkllm_attn_ops;

/**
 * Creates the CPU float reference backend ("cpu"): float KV cache, exact softmax.
 * @p pool (may be NULL) parallelises over heads and queries; it must outlive the backend.
 */
spkllm_status spkllm_attn_cpu_create(spkllm_pool *pool, spkllm_attn_ops *out);

#ifdef __cplusplus
}
#endif

#endif
