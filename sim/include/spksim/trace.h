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
/** Extension columns of a device trace (written by the sim backend, `spk-llm --trace-out`),
 * after the 17: command, v_topk_cycles, v_topk_streamed, key_held_num (docs/simulator.md,
 * "Device traces"; a trace with the first three only is read with key_held_num 0). */
#define SPK_TRACE_DEVICE_COLUMNS 4

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
    /* Device traces only (docs/simulator.md, "Device traces"); zero in a SpAtten trace. */
    uint8_t device;           /**< 1: the row carries the device's extension columns */
    uint64_t command;         /**< command: the device command (one layer) the row belongs to */
    uint64_t v_topk_cycles;   /**< v_topk_cycles: the local-V top-k's measured latency */
    uint64_t v_topk_streamed; /**< v_topk_streamed: candidates it compared */
    uint32_t key_held;        /**< key_held_num: of the K rows, those held from the select
                                   policy's scoring, not read (0 without the column) */
} spk_trace_row;

/** @brief A loaded trace. */
typedef struct spk_trace {
    spk_trace_row *rows; /**< data rows in file order */
    size_t n;            /**< number of data rows */
    size_t skipped;      /**< trailing config-path lines skipped */
} spk_trace;

/**
 * @brief Read and validate a trace file. The header must name the 17 columns (or the 17 and the
 * device trace's extension columns); every data row must have as many well-formed fields. A line
 * whose iteration_id is not an integer and whose other fields are all empty (the producing config
 * path) is skipped; anything else malformed is rejected.
 * @param err  receives "FILE: line N, column NAME: problem" on failure.
 * @return SPK_CYCLE_OK, SPK_CYCLE_E_IO, SPK_CYCLE_E_FORMAT or SPK_CYCLE_E_NOMEM.
 */
spk_cycle_status spk_trace_load(const char *path, spk_trace *trace, char *err, size_t err_len);

/** @brief Parse trace text already in memory (same rules; @p name is used in messages). */
spk_cycle_status spk_trace_parse(const char *text, size_t len, const char *name, spk_trace *trace,
                                 char *err, size_t err_len);

/** @brief Free a trace's rows (the struct itself is the caller's). */
void spk_trace_free(spk_trace *trace);

/**
 * @brief A streaming reader: the same rules and messages as spk_trace_load(), in bounded memory
 * (a 1 MiB window of the file, whatever its length), one row at a time.
 */
typedef struct spk_trace_reader spk_trace_reader;

/**
 * @brief Open a trace for streaming. @p path "-" reads standard input. Regular files, pipes and
 * character devices are read (an endless input is the caller's to bound); a directory is refused.
 * @return SPK_CYCLE_OK, SPK_CYCLE_E_IO ("PATH: reason" in @p err) or SPK_CYCLE_E_NOMEM.
 */
spk_cycle_status spk_trace_reader_open(const char *path, spk_trace_reader **out, char *err,
                                       size_t err_len);

/** @brief Stream trace text already in memory (not copied: it must outlive the reader). */
spk_cycle_status spk_trace_reader_open_mem(const char *text, size_t len, const char *name,
                                           spk_trace_reader **out);

/**
 * @brief The next data row. *got = 1 with the row, or *got = 0 at the end of the trace (after the
 * end-of-file checks). A failure is sticky: later calls return the same status.
 * @return SPK_CYCLE_OK, SPK_CYCLE_E_FORMAT or SPK_CYCLE_E_IO with the message in @p err.
 */
spk_cycle_status spk_trace_reader_next(spk_trace_reader *r, spk_trace_row *row, int *got, char *err,
                                       size_t err_len);

/** @brief Config-path lines skipped so far. */
uint64_t spk_trace_reader_skipped(const spk_trace_reader *r);

/** @brief Bytes consumed so far and the file's size (0 when unknown: a pipe or a device). */
void spk_trace_reader_position(const spk_trace_reader *r, uint64_t *bytes, uint64_t *total);

/** @brief Close the reader (and its file; standard input stays open). NULL is ignored. */
void spk_trace_reader_close(spk_trace_reader *r);

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

/**
 * @brief The replay rules one row at a time (the state a fused pair and the top-k model carry
 * from row to row). Feeding a trace's rows in order gives exactly spk_trace_to_requests().
 */
typedef struct spk_trace_replay {
    spk_trace_options opt; /**< rules and top-k model */
    uint64_t rng;          /**< state of the statistical top-k model */
    uint32_t part;         /**< position in the current run of 6-bit rows */
    int pending;           /**< 1: @ref cur holds a descriptor that may still take a row */
    spk_cycle_request cur; /**< the descriptor being built */
} spk_trace_replay;

/** @brief Start replaying with @p opt (the top-k model is seeded from opt->seed). */
void spk_trace_replay_init(spk_trace_replay *rp, const spk_trace_options *opt);

/**
 * @brief Add one row. When it starts a new descriptor, the previous one is complete: it is
 * copied to @p out and the call returns 1; otherwise 0.
 */
int spk_trace_replay_row(spk_trace_replay *rp, const spk_trace_row *row, spk_cycle_request *out);

/** @brief End of the rows: the last descriptor, if any, to @p out (returns 1), else 0. */
int spk_trace_replay_flush(spk_trace_replay *rp, spk_cycle_request *out);

#ifdef __cplusplus
}
#endif

#endif
