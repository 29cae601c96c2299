/**
 * @file layer.h
 * @brief Cascade pruning state and one attention layer of head requests (golden model).
 *
 * Normative text: docs/spec/datapath.md, sections "Importance", "Keep counts" and "Layer".
 * The pruning state carries token and head importance across layers and decoding steps; a
 * pruned token or head never returns. Running a layer accumulates importance; deciding what to
 * keep is a separate call (spk_prune_keep), made by the policy (the firmware in the device).
 */
#ifndef SPKSIM_LAYER_H
#define SPKSIM_LAYER_H

#include <stdint.h>

#include "spksim/datapath.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Importance and liveness of tokens and heads; opaque. */
typedef struct spk_prune_state spk_prune_state;

/** @brief New state for @p n_heads heads and room for @p max_tokens tokens (none yet). */
spk_prune_state *spk_prune_create(uint32_t n_heads, uint32_t max_tokens);
/** @brief Free a state (NULL is fine). */
void spk_prune_destroy(spk_prune_state *st);
/** @brief Grow the room for tokens to at least @p max_tokens (never shrinks). */
spksim_status spk_prune_reserve(spk_prune_state *st, uint32_t max_tokens);
/** @brief Append @p n new tokens: alive, importance 0. SPKSIM_E_CAPACITY past max_tokens. */
spksim_status spk_prune_append(spk_prune_state *st, uint32_t n);

/** @brief Tokens appended so far (alive or not). */
uint32_t spk_prune_tokens(const spk_prune_state *st);
/** @brief Heads of the state. */
uint32_t spk_prune_heads(const spk_prune_state *st);
/** @brief Tokens still alive. */
uint32_t spk_prune_alive_tokens(const spk_prune_state *st);
/** @brief Heads still alive. */
uint32_t spk_prune_alive_heads(const spk_prune_state *st);
/** @brief 1 if token @p j is alive (0 for out-of-range j). */
int spk_prune_token_alive(const spk_prune_state *st, uint32_t j);
/** @brief 1 if head @p h is alive (0 for out-of-range h). */
int spk_prune_head_alive(const spk_prune_state *st, uint32_t h);
/** @brief Accumulated importance of token @p j (sum of probabilities, UQ.16). */
uint64_t spk_prune_token_importance(const spk_prune_state *st, uint32_t j);
/** @brief Accumulated importance of head @p h (sum of |output|, units of 2^-16). */
uint64_t spk_prune_head_importance(const spk_prune_state *st, uint32_t h);
/** @brief Add to a token's importance, saturating at SPK_IMPORTANCE_MAX. */
void spk_prune_add_token(spk_prune_state *st, uint32_t j, uint64_t amount);
/** @brief Add to a head's importance, saturating at SPK_IMPORTANCE_MAX. */
void spk_prune_add_head(spk_prune_state *st, uint32_t h, uint64_t amount);

/** @brief How many to keep: @c count if non-zero, else ceil(alive * ratio_q16 / 65536). */
typedef struct spk_keep {
    uint32_t count;     /**< explicit keep count (0: use the ratio) */
    uint32_t ratio_q16; /**< keep ratio UQ0.16, 1..65536; 65536 keeps all */
} spk_keep;

/** Keep everything. */
#define SPK_KEEP_ALL ((spk_keep){0u, SPK_ONE_Q16})

/**
 * @brief Cascade pruning step (spec: "Keep counts"): among the alive tokens keep the top-k by
 * importance, likewise heads; the rest die for good. Traces (may be NULL) report the top-k
 * engine's passes.
 */
spksim_status spk_prune_keep(spk_prune_state *st, spk_keep tokens, spk_keep heads,
                             spk_topk_trace *token_trace, spk_topk_trace *head_trace);

/**
 * @brief Protection windows and head grouping of spk_prune_keep_window() (spec: "Keep counts",
 * "Recent-window protection and head groups").
 */
typedef struct spk_prune_window {
    uint32_t sinks;      /**< tokens 0..sinks-1 are always kept (attention sinks) */
    uint32_t recent;     /**< the last @c recent tokens appended are always kept */
    uint32_t head_group; /**< heads pruned in groups of this many (GQA group); 0 or 1: singly */
} spk_prune_window;

/**
 * @brief Cascade pruning step with protected tokens and grouped heads. The token keep count is
 * computed over all alive tokens as in spk_prune_keep(); protected alive tokens are kept first
 * and the rest of the count goes to the top unprotected tokens by importance. With
 * head_group = g > 1 the head keep count k becomes ceil(k / g) groups, a group's importance is
 * the saturating sum of its heads', and whole groups die. A zero window equals spk_prune_keep().
 */
spksim_status spk_prune_keep_window(spk_prune_state *st, spk_keep tokens, spk_keep heads,
                                    const spk_prune_window *window, spk_topk_trace *token_trace,
                                    spk_topk_trace *head_trace);

/** @brief Write the state to a file (a small versioned binary format). */
spksim_status spk_prune_save(const spk_prune_state *st, const char *path);
/** @brief Read a state written by spk_prune_save; SPKSIM_E_FORMAT names a malformed file. */
spksim_status spk_prune_load(const char *path, spk_prune_state **out);

/** @brief Quantized inputs of one layer. Rows of K/V are tokens 0..n_tokens-1. */
typedef struct spk_layer_desc {
    uint32_t n_heads;                /**< query heads H */
    uint32_t n_kv_heads;             /**< K/V heads; divides H (grouped-query attention) */
    uint32_t n_queries;              /**< query vectors per head */
    uint32_t n_tokens;               /**< K/V rows; must equal spk_prune_tokens(state) */
    const int16_t *q;                /**< [H][n_queries][d] 12-bit codes */
    const spk_scale *q_logit_scales; /**< [H][n_queries] from spk_logit_scale() */
    const int16_t *k;                /**< [n_kv_heads][n_tokens][d] */
    const spk_scale *k_scales;       /**< [n_kv_heads][n_tokens] */
    const int16_t *v;                /**< [n_kv_heads][n_tokens][d] */
    const spk_scale *v_scales;       /**< [n_kv_heads][n_tokens] */
    uint32_t causal;                 /**< 1: query i sees tokens <= n_tokens - n_queries + i */
} spk_layer_desc;

/** @brief Counters of one layer run. */
typedef struct spk_layer_stats {
    uint32_t heads_computed;   /**< alive heads at the start of the layer */
    uint32_t tokens_alive;     /**< alive tokens at the start of the layer */
    uint64_t requests;         /**< head requests run (heads_computed * n_queries) */
    uint64_t keys_fetched;     /**< K rows fetched over all requests */
    uint64_t values_fetched;   /**< V rows fetched over all requests */
    uint64_t requant_requests; /**< requests that refetched LSBs */
    uint64_t key_msb_bytes;    /**< bytes, spec "Traffic" */
    uint64_t key_lsb_bytes;    /**< bytes */
    uint64_t value_bytes;      /**< bytes */
    uint64_t scale_bytes;      /**< bytes */
    uint64_t dram_bytes;       /**< sum of the four above */
} spk_layer_stats;

/** @brief Add one request's events to layer counters (what spk_layer_run counts). */
void spk_layer_stats_add(spk_layer_stats *s, const spk_head_events *ev);

/** @brief Saturating importance addition: min(acc + amount, SPK_IMPORTANCE_MAX). */
uint64_t spk_importance_add(uint64_t acc, uint64_t amount);

/** @brief Called after every head request (for the cycle simulator's data mode). */
typedef void (*spk_request_observer)(void *user, uint32_t head, uint32_t query,
                                     const spk_head_result *res);

/**
 * @brief Run every head request of a layer and accumulate importance (spec: "Layer").
 * @param out     [H][n_queries][d] outputs; pruned heads give zeros.
 * @param out_exp [H][n_queries] output exponents.
 * @param stats   counters (may be NULL).
 * @param observer called per request (may be NULL), with @p user.
 */
spksim_status spk_layer_run(const spk_head_config *cfg, const spk_layer_desc *layer,
                            spk_prune_state *st, spk_workspace *ws, int32_t *out, int32_t *out_exp,
                            spk_layer_stats *stats, spk_request_observer observer, void *user);

#ifdef __cplusplus
}
#endif

#endif
