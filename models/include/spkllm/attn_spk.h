/**
 * @file attn_spk.h
 * @brief Attention offloaded to the SpAtten accelerator through libspk (backends "model" and
 * "sim"), with the pruning settings as one option set and an accelerator report.
 *
 * The backend implements spkllm_attn_ops: append_kv() buffers the new keys and values of a
 * layer, attend() submits that layer (queries, new K/V) to an spk attention context, waits on
 * the fence with a bounded timeout and reads the output and the layer's statistics. The context
 * carries the cascade token and head importance across layers and decoding steps; progressive
 * quantization and local V pruning run in the engine. docs/offload.md is the guide.
 */
#ifndef SPKLLM_ATTN_SPK_H
#define SPKLLM_ATTN_SPK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "spkllm/attn.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Pruning and quantization settings. Keep ratios are fractions of all tokens (heads) of the
 * sequence so far that stay alive after a layer; a layer in the first @c token_skip (@c
 * head_skip) fraction of the layers does not prune, the later ones interpolate linearly from the
 * start to the end ratio. A ratio of 1 disables that kind of pruning.
 */
typedef struct spkllm_spatten_options {
    double token_keep_start; /**< token keep ratio at the first pruning layer, (0, 1] */
    double token_keep_end;   /**< token keep ratio at the last layer, (0, 1] */
    double head_keep_start;  /**< head keep ratio at the first head-pruning layer, (0, 1] */
    double head_keep_end;    /**< head keep ratio at the last layer, (0, 1] */
    double token_skip;       /**< fraction of the first layers without token pruning, [0, 1] */
    double head_skip;        /**< fraction of the first layers without head pruning, [0, 1] */
    double v_keep;           /**< local V keep ratio per request, (0, 1] */
    int msb_bits;            /**< K/V MSB plane bits, 2..12 */
    int lsb_bits;            /**< K/V LSB plane bits, 0..10, msb + lsb <= 12 */
    double requant;          /**< refetch LSBs when the max probability is below this, [0, 1] */
    int sinks;               /**< first tokens never pruned */
    int recent;              /**< most recent tokens never pruned */
    int group_heads;         /**< 1: prune heads in whole GQA groups (K/V traffic drops) */
    int policy;              /**< token scoring: SPKLLM_POLICY_ACCUMULATED, _LAST_STEP or _SELECT */
    int important;           /**< last-step: top-scored tokens kept per (layer, K/V head) besides
                                  sinks and recent; 0: the token keep ratio is the whole budget */
    int budget;              /**< select: keys per (K/V head, query) in the layers after the
                                  token skip, sinks and recent included; 0: the token keep
                                  schedule is the budget, a ratio of the visible keys */
    int scoring;             /**< select: SPKLLM_SCORING_MSB (default), _EXACT, _*_PROBS */
    int dims;                /**< select: a first stage at the largest dims of |q| (SparQ-like,
                                  from the dimension-major MSB copy); 0: none */
    double candidates;       /**< select with a first stage: its best candidates x budget go on
                                  to --scoring (>= 1); 0: select by the first stage */
    int hold; /**< select: 1 (every preset) the head requests take the scored keys' MSB-pass
                   logits from the scoring stage instead of reading those K rows again (a
                   traffic rule, docs/spec/datapath.md "Held rows"); 0: they read them again */
} spkllm_spatten_options;

/** The paper's token scoring: accumulated post-softmax importance, one token set. */
#define SPKLLM_POLICY_ACCUMULATED 0
/** MIT's released SpAtten-LLM scoring: last-step logits, a token set per (layer, K/V head). */
#define SPKLLM_POLICY_LAST_STEP 1
/** Per-step selection: nothing evicted; every request fetches its K/V head's sinks, recent window
 * and best scored keys for this step up to the budget (docs/spec/datapath.md, "Per-step
 * selection policy"). */
#define SPKLLM_POLICY_SELECT 2
/** Select scoring from the K MSB plane (SpAtten's first fetch). */
#define SPKLLM_SCORING_MSB 1
/** Select scoring from the full codes (reads both K planes: the upper limit of the policy). */
#define SPKLLM_SCORING_EXACT 0
/** As _EXACT, the final ranking by the sum of the group's softmax probabilities (no more reads). */
#define SPKLLM_SCORING_EXACT_PROBS 2
/** As _MSB, the final ranking by the sum of the group's softmax probabilities. */
#define SPKLLM_SCORING_MSB_PROBS 3

/**
 * Fills @p out with a named preset: "off" (12-bit K/V, no pruning: the fixed-point dense
 * reference), "paper" (the paper's settings: 6+4 bits, requant 0.1, local V 0.3, token keep
 * 1.0 -> 0.3 after the first 15% of layers, head keep 1.0 -> 0.9 after the first 30%),
 * "aggressive", or "mit" (MIT's released policy: last-step per-K/V-head scores, sinks 4 and a
 * recent window, the same token budget and planes as "paper", no head pruning; docs/offload.md),
 * or "select" (the per-step selection policy's recommended accurate setting: keep 0.3 of the
 * visible keys per step, sinks 4, recent 64, a 16-dimension first stage then the MSB plane on 4x
 * the budget, 8+4 planes with threshold 0.1; chosen on wiki.test.part-a, docs/results-long.md).
 * Returns SPKLLM_ERR_ARG for an unknown name.
 */
spkllm_status spkllm_spatten_preset(const char *name, spkllm_spatten_options *out);

/**
 * Checks every field's range and how they combine (--important needs the last-step policy); on
 * failure writes a message naming the field to @p err.
 */
spkllm_status spkllm_spatten_check(const spkllm_spatten_options *o, char *err, size_t err_len);

/**
 * Parses one command-line option of the set (--spatten NAME, --token-keep [START:]END,
 * --head-keep [START:]END, --v-keep R, --kv-bits M+L, --requant T, --prune-skip TOK[:HEAD],
 * --sinks N, --recent N, --head-groups on|off, --policy accumulated|last-step|select,
 * --important N, --token-budget N, --scoring msb|exact[-probs], --sparse-dims R, --candidates F,
 * --select-hold on|off)
 * at argv[*i]. Returns 1 if it was one (and
 * advances *i past its value), 0 if the option is not of this set, -1 on a bad value (message
 * in @p err). Only each value's own range is checked here (options may come in any order); call
 * spkllm_spatten_check() once all are parsed. --spatten resets the settings to the preset, so put
 * it before explicit options.
 */
int spkllm_spatten_parse_arg(int argc, char **argv, int *i, spkllm_spatten_options *o, char *err,
                             size_t err_len);

/** Token keep ratio of @p layer of @p n_layers under the schedule (1 = no pruning). */
double spkllm_spatten_token_keep(const spkllm_spatten_options *o, int layer, int n_layers);
/** Head keep ratio of @p layer of @p n_layers under the schedule (1 = no pruning). */
double spkllm_spatten_head_keep(const spkllm_spatten_options *o, int layer, int n_layers);

/** Accumulated accelerator statistics of a backend since its creation. */
typedef struct spkllm_spk_report {
    char backend[16];       /**< libspk backend name */
    int n_layers;           /**< layers of the model */
    int n_heads;            /**< query heads */
    uint64_t steps;         /**< submissions of layer 0 (prompt batches and decode steps) */
    uint64_t queries;       /**< query positions processed (tokens) */
    uint64_t engine_cycles; /**< modeled engine cycles (sim backend; 0 on model) */
    uint64_t core_cycles;   /**< control-core cycles */
    uint64_t dram_bytes;    /**< DRAM bytes the engine moved */
    uint64_t dense_bytes;   /**< the same requests dense with 12-bit K/V (no pruning) */
    uint64_t requests;      /**< head requests */
    uint64_t requant;       /**< requests that refetched LSBs */
    int has_energy;         /**< 1 if energy_pj is valid */
    double energy_pj;       /**< engine + DRAM energy */
    double *tokens_alive;   /**< per layer: mean tokens alive at the layer's start */
    double *tokens_total;   /**< per layer: mean tokens in the context at the layer */
    double *heads_alive;    /**< per layer: mean heads computed */
    int engine_threads;     /**< devices the K/V heads were split over (1: one device); the
                                 control-core cycles are then the sum of their cores */
    uint64_t keys_fetched;  /**< K rows the head requests fetched (the select policy's scoring
                                 reads are in dram_bytes, not here) */
    uint64_t keys_visible;  /**< keys the same requests could see (causal prefix): dense
                                 fetches all of them */
} spkllm_spk_report;

/**
 * Creates the accelerator backend on libspk device @p backend ("model", "sim"; NULL or "" uses
 * $SPK_BACKEND) with settings @p o (NULL: preset "off"). The firmware and energy files come from
 * $SPK_FIRMWARE / $SPK_ENERGY; when unset and the program runs from a build tree
 * (BUILD/bin/...), they are set to BUILD/firmware/spk-fw.elf and sim/configs/energy.cfg if those
 * exist, else libspk uses its installed defaults. On failure @p err names the problem.
 */
spkllm_status spkllm_attn_spk_create(const char *backend, const spkllm_spatten_options *o,
                                     spkllm_attn_ops *out, char *err, size_t err_len);

/** Most engine threads spkllm_attn_spk_create_threads() takes. */
#define SPKLLM_MAX_ENGINE_THREADS 16

/**
 * As spkllm_attn_spk_create(), with the K/V heads split over @p engine_threads devices (1..
 * SPKLLM_MAX_ENGINE_THREADS), each layer's parts submitted from as many threads. The results
 * are bit-identical to one device, so it is refused (SPKLLM_ERR_ARG, @p err says why) unless
 * nothing couples heads: no head pruning, and no token eviction (dense, or the select
 * policy), on the functional backend "model" (a timed backend times a layer as one run). Each
 * device takes an even share of the K/V heads with their query heads; a model with fewer K/V
 * heads than @p engine_threads is refused at begin_sequence.
 */
spkllm_status spkllm_attn_spk_create_threads(const char *backend, const spkllm_spatten_options *o,
                                             int engine_threads, spkllm_attn_ops *out, char *err,
                                             size_t err_len);

/**
 * The report of a backend made by spkllm_attn_spk_create (NULL for another backend). The
 * arrays belong to the backend and stay valid until it is destroyed.
 */
const spkllm_spk_report *spkllm_attn_spk_report(const spkllm_attn_ops *ops);

/** The message of the last failure of the backend (libspk's error), "" if none. */
const char *spkllm_attn_spk_error(const spkllm_attn_ops *ops);

/** Prints the accelerator report (cycles, time, DRAM ratio, energy, keep counts, requant). */
void spkllm_spk_report_print(const spkllm_spk_report *r, FILE *f);

#ifdef __cplusplus
}
#endif

#endif
