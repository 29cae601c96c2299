/**
 * @file trace.h
 * @brief SpAtten workload CSV traces (BRIEF section 3): strict reader and replay rules that turn
 * rows into timing-engine descriptors (docs/simulator.md, "Trace mode").
 */
#ifndef SPKSIM_TRACE_H
#define SPKSIM_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "spksim/cycle.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Columns of the trace format, in the order the reference files use. */
#define SPK_TRACE_COLUMNS 17

/** @brief One data row: one query of one head of one layer at one iteration. */
typedef struct spk_trace_row {
    uint32_t line;                 /**< line number in the file (header = 1) */
    uint32_t iteration;            /**< iteration_id */
    uint32_t layer;                /**< layer_id */
    uint32_t head;                 /**< head_id */
    uint32_t d;                    /**< embedding_length_D */
    uint32_t l;                    /**< sentence_length_L */
    uint32_t key_fetch;            /**< key_fetch_num */
    int32_t key_bits;              /**< quant_key_bit (-1: unquantized) */
    int32_t query_bits;            /**< quant_query_bit */
    double requant_threshold;      /**< auto_requant_thres */
    uint8_t requant;               /**< if_requant */
    int32_t requant_incre;         /**< auto_requant_incre (LSB bits, -1 when unused) */
    uint32_t value_fetch;          /**< value_fetch_num */
    int32_t value_bits;            /**< quant_value_bit */
    uint8_t accumulate_importance; /**< if_accumulate_importance */
    uint8_t rescale_importance;    /**< if_rescale_previous_importance */
    uint8_t token_topk;            /**< if_topk */
    int32_t topk;                  /**< topk: tokens kept after this row (-1: none) */
} spk_trace_row;

/** @brief A loaded trace. */
typedef struct spk_trace {
    spk_trace_row *rows; /**< data rows in file order */
    size_t n;            /**< number of data rows */
    size_t skipped;      /**< trailing config-path lines skipped */
} spk_trace;

/**
 * @brief Read and validate a trace file. The header must name the 17 columns; every data row must
 * have 17 well-formed fields. A line whose iteration_id is not an integer and whose other fields
 * are all empty (the producing config path) is skipped; anything else malformed is rejected.
 * @param err  receives "FILE: line N, column NAME: problem" on failure.
 * @return SPK_CYCLE_OK, SPK_CYCLE_E_IO, SPK_CYCLE_E_FORMAT or SPK_CYCLE_E_NOMEM.
 */
spk_cycle_status spk_trace_load(const char *path, spk_trace *trace, char *err, size_t err_len);

/** @brief Parse trace text already in memory (same rules; @p name is used in messages). */
spk_cycle_status spk_trace_parse(const char *text, size_t len, const char *name, spk_trace *trace,
                                 char *err, size_t err_len);

/** @brief Free a trace's rows (the struct itself is the caller's). */
void spk_trace_free(spk_trace *trace);

/** @brief How rows become descriptors. */
typedef struct spk_trace_options {
    int compat; /**< 1: BRIEF section 3's replay rules exactly */
    int dense;  /**< 1: pruning and quantization off: K = V = L, 8 + 4-bit, no top-k */
    uint32_t topk_parallelism; /**< P of the statistical top-k model */
    uint64_t seed;             /**< seed of the statistical top-k model */
} spk_trace_options;

/**
 * @brief Apply the replay rules (docs/simulator.md, "Replay rules") to a trace.
 * @param out  receives a malloc'ed array of descriptors (free() it); fused 6-bit pairs become
 *             one descriptor with heads = 2.
 */
spk_cycle_status spk_trace_to_requests(const spk_trace *trace, const spk_trace_options *opt,
                                       spk_cycle_request **out, size_t *n_out, char *err,
                                       size_t err_len);

#ifdef __cplusplus
}
#endif

#endif
