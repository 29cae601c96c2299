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

#include <stddef.h>
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
/**
 * @brief Set token @p j's liveness and importance (capped at SPK_IMPORTANCE_MAX), as a prune
 * unit outside the golden model computed them (the device's RTL engine). SPKSIM_E_ARG for
 * j >= spk_prune_tokens(st).
 */
spksim_status spk_prune_set_token(spk_prune_state *st, uint32_t j, int alive, uint64_t importance);
/** @brief The same for head @p h (< spk_prune_heads(st)). */
spksim_status spk_prune_set_head(spk_prune_state *st, uint32_t h, int alive, uint64_t importance);

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

/**
 * @brief Token scoring policy of a keep step (spec: "Last-step per-head policy").
 * ACCUMULATED is the paper's: one token set for the whole context, ranked by accumulated
 * post-softmax importance. LAST_STEP is MIT's released SpAtten-LLM policy: every (layer, K/V
 * head) has its own token set, ranked by the pre-softmax logits of that layer's last run.
 */
typedef enum spk_prune_policy {
    SPK_PRUNE_ACCUMULATED = 0, /**< the paper's accumulated importance (default) */
    SPK_PRUNE_LAST_STEP = 1,   /**< per (layer, K/V head) last-step logit scores */
} spk_prune_policy;

/** Saturation bound of a last-step score (signed 48-bit, spec "Last-step per-head policy"). */
#define SPK_SCORE_MAX ((INT64_C(1) << 47) - 1)
/** Lower saturation bound of a last-step score. */
#define SPK_SCORE_MIN (-(INT64_C(1) << 47))

/**
 * @brief Give the state per-(layer, K/V head) token liveness and last-step scores for
 * @p n_layers layers of @p n_kv_heads K/V heads (n_kv_heads divides the state's heads). Every
 * token appended so far is alive in every (layer, K/V head), score 0. Calling it again with the
 * same shape is a no-op; another shape gives SPKSIM_E_ARG. A state without it behaves exactly
 * as before (one token set); with it, a token is fetched by a head of layer l only while it is
 * alive in the context and in (l, h / (H / n_kv_heads)).
 */
spksim_status spk_prune_enable_kv(spk_prune_state *st, uint32_t n_layers, uint32_t n_kv_heads);
/** @brief Layers of the per-K/V-head state (0 if spk_prune_enable_kv was not called). */
uint32_t spk_prune_kv_layers(const spk_prune_state *st);
/** @brief K/V heads of the per-K/V-head state (0 if spk_prune_enable_kv was not called). */
uint32_t spk_prune_kv_heads(const spk_prune_state *st);
/**
 * @brief 1 if token @p j can be fetched by K/V head @p kvh in layer @p layer: alive in the
 * context and (with spk_prune_enable_kv) in that (layer, K/V head). 0 for out-of-range indices
 * (without spk_prune_enable_kv, layer and kvh are ignored).
 */
int spk_prune_kv_token_alive(const spk_prune_state *st, uint32_t layer, uint32_t kvh, uint32_t j);
/** @brief Tokens spk_prune_kv_token_alive() accepts for (layer, kvh). */
uint32_t spk_prune_kv_alive_tokens(const spk_prune_state *st, uint32_t layer, uint32_t kvh);
/** @brief Last-step score of token @p j in (layer, kvh) (0 if out of range or not enabled). */
int64_t spk_prune_kv_score(const spk_prune_state *st, uint32_t layer, uint32_t kvh, uint32_t j);
/**
 * @brief Replace the last-step scores of (layer, kvh) by @p scores[0..spk_prune_tokens-1],
 * each clamped to [SPK_SCORE_MIN, SPK_SCORE_MAX]. SPKSIM_E_ARG if not enabled or out of range.
 */
spksim_status spk_prune_set_kv_scores(spk_prune_state *st, uint32_t layer, uint32_t kvh,
                                      const int64_t *scores);

/**
 * @brief The keep step of layer @p layer under @p policy (spec: "Last-step per-head policy").
 * ACCUMULATED is spk_prune_keep_window() (layer unused). LAST_STEP (needs spk_prune_enable_kv)
 * works on each K/V head @c g of the layer separately: among the tokens alive in (layer, g),
 * the keep count k = @p tokens over that number; protected tokens (window) first, then the top
 * k - protected others by last-step score (top-k rule: ties to the earliest index); the rest die
 * in (layer, g) only. Heads are kept as in spk_prune_keep_window(). The token trace is zeroed
 * under LAST_STEP (there is one top-k per K/V head).
 */
spksim_status spk_prune_keep_policy(spk_prune_state *st, spk_prune_policy policy, uint32_t layer,
                                    spk_keep tokens, spk_keep heads, const spk_prune_window *window,
                                    spk_topk_trace *token_trace, spk_topk_trace *head_trace);

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
    uint32_t layer; /**< layer index: selects the per-(layer, K/V head) token sets and scores
                         of a state with spk_prune_enable_kv (ignored without it) */
    const struct spk_select_config *select; /**< per-step selection (spk_select_keys()); NULL:
                                                 every request fetches all its candidates */
    const int16_t *k_dim_msb; /**< optional: [n_kv_heads][d][n_tokens] the MSB-plane fields of K,
                                   dimension-major (the selection's first stage reads them; a
                                   device passes its copy); NULL: derived from @c k */
} spk_layer_desc;

/** @brief Counters of one layer run. */
typedef struct spk_layer_stats {
    uint32_t heads_computed;   /**< alive heads at the start of the layer */
    uint32_t tokens_alive;     /**< alive tokens at the start of the layer (with per-K/V-head
                                    sets: the most any K/V head of the layer can fetch) */
    uint64_t requests;         /**< head requests run (heads_computed * n_queries) */
    uint64_t keys_fetched;     /**< K rows fetched over all requests */
    uint64_t values_fetched;   /**< V rows fetched over all requests */
    uint64_t requant_requests; /**< requests that refetched LSBs */
    uint64_t key_msb_bytes;    /**< bytes, spec "Traffic" */
    uint64_t key_lsb_bytes;    /**< bytes */
    uint64_t value_bytes;      /**< bytes */
    uint64_t scale_bytes;      /**< bytes */
    uint64_t dram_bytes;       /**< sum of the four above and select_bytes */
    uint64_t select_scored;    /**< candidates the per-step selection scored (K/V rows read) */
    uint64_t select_bytes;     /**< bytes its scoring stage read (spec "Per-step selection") */
} spk_layer_stats;

/** @brief Scoring stage of the per-step selection (spec: "Per-step selection policy"). */
typedef enum spk_select_scoring {
    SPK_SELECT_EXACT = 0, /**< logits of the full codes: reads both K planes of each candidate */
    SPK_SELECT_MSB = 1,   /**< logits of the MSB plane (c_msb): reads the K MSB plane only */
} spk_select_scoring;

/** @brief How the final ranking combines the group's heads (spec: "Per-step selection policy"). */
typedef enum spk_select_combine {
    SPK_SELECT_SUM_LOGITS = 0, /**< the sum of the heads' logits */
    SPK_SELECT_SUM_PROBS =
        1, /**< the sum of the heads' softmax probabilities over the ranked rows */
} spk_select_combine;

/**
 * @brief The per-step selection policy (spec: "Per-step selection policy"): nothing is evicted;
 * each (K/V head, query) selects its keys for this step, the protected ones and the best scored
 * up to the budget, and its heads' requests run over those.
 */
typedef struct spk_select_config {
    spk_keep budget;  /**< keys per (K/V head, query): the count, else a ratio of the candidates */
    uint32_t sinks;   /**< tokens 0..sinks-1 are always selected */
    uint32_t recent;  /**< the query's last @c recent visible positions are always selected */
    uint32_t scoring; /**< a ::spk_select_scoring */
    uint32_t dims;    /**< first stage: score at the top @c dims dimensions of |q| first
                           (SparQ-like, from the dimension-major MSB copy); 0: no first stage */
    uint32_t candidates_x16; /**< with a first stage: the second stage scores its top
                                  ceil((b - p) * this / 16) (>= 16); 0: select by it directly */
    uint32_t combine;        /**< a ::spk_select_combine: the final ranking's score */
    uint32_t hold; /**< 1: the group's head requests take the selected keys' MSB-pass logits from
                        the dot products the final ranking computed, without reading their K
                        MSB rows and scale words again (spec "Held rows"; traffic only) */
} spk_select_config;

/** @brief What one selection did. */
typedef struct spk_select_events {
    uint32_t candidates; /**< keys the request could fetch */
    uint32_t selected;   /**< keys selected */
    uint32_t scored;     /**< candidates the (second-stage) score ranked (exact or MSB rows read) */
    uint32_t stage1;     /**< candidates the first stage scored (0 without one) */
    uint32_t dims;       /**< dimensions the first stage read */
    uint64_t stage1_bytes;   /**< bytes the first stage read (dimension rows, scale words) */
    uint64_t score_bytes;    /**< bytes both stages read: scale words, dimension rows, planes */
    uint8_t both_planes;     /**< 1: the second stage read both K planes (exact scoring, lsb > 0) */
    uint32_t held;           /**< with hold: selected keys whose K MSB rows the requests skip
                                  (all of them, or 0: spec "Held rows") */
    uint32_t protected_read; /**< with hold: protected candidates whose MSB rows the stage read
                                  for that (their K scale words and rows are in score_bytes) */
    spk_topk_trace topk1;    /**< the top-k over the first stage's scores (zero if none) */
    spk_topk_trace topk;     /**< the top-k engine's passes over the scores (zero if none) */
} spk_select_events;

/** @brief Bytes of scratch spk_select_keys() needs for up to @p n_candidates candidates of a
 * layer with @p group query heads per K/V head (n_heads / n_kv_heads). */
size_t spk_select_scratch_bytes(uint32_t n_candidates, uint32_t group);

/**
 * @brief Select the keys of K/V head @p kvh for query @p query of layer @p l (spec: "Per-step
 * selection policy"). @p cand holds the @p n candidates in increasing index order (what the
 * layer's requests of @p kvh for that query would fetch); @p head_alive[h] (one flag per query
 * head of @p l; NULL: all alive) says which of the group's heads score. Writes the selected
 * keys, in increasing order, to @p selected (capacity n) and their number to @p n_selected.
 * @p scratch has spk_select_scratch_bytes(n, n_heads / n_kv_heads) bytes of @p l (or more).
 * SPKSIM_E_ARG for a bad configuration (a zero or > 1 ratio, an unknown scoring) or NULLs.
 */
spksim_status spk_select_keys(const spk_select_config *sel, const spk_head_config *cfg,
                              const spk_layer_desc *l, const uint8_t *head_alive, uint32_t kvh,
                              uint32_t query, const uint32_t *cand, uint32_t n, uint32_t *selected,
                              uint32_t *n_selected, void *scratch, spk_select_events *ev);

/** @brief Add one request's events to layer counters (what spk_layer_run counts). */
void spk_layer_stats_add(spk_layer_stats *s, const spk_head_events *ev);

/** @brief Saturating importance addition: min(acc + amount, SPK_IMPORTANCE_MAX). */
uint64_t spk_importance_add(uint64_t acc, uint64_t amount);

/** @brief Called after every head request (for the cycle simulator's data mode). */
typedef void (*spk_request_observer)(void *user, uint32_t head, uint32_t query,
                                     const spk_head_result *res);

/**
 * @brief Run every head request of a layer and accumulate importance (spec: "Layer"); with
 * spk_prune_enable_kv also replace the layer's last-step scores.
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
