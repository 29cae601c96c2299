/**
 * @file config.h
 * @brief Accelerator configurations of the cycle simulator: presets and key = value files.
 *
 * File format (docs/simulator.md, "Configuration files"): one `key = value` per line, `#` starts
 * a comment, blank lines are ignored. `base = full`, `eighth` or `rtl-engine` (first) starts from a
 * preset; every other key overrides one field. Unknown keys and malformed values are errors that
 * name the line.
 */
#ifndef SPKSIM_CONFIG_H
#define SPKSIM_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Most rows the serial engine's row fetcher keeps in flight (fetch_slots). */
#define SPK_CONFIG_MAX_FETCH_SLOTS 64u
/** Most blocks (and rows) the overlapped pipeline's stream fetcher keeps in flight (fetch_ring). */
#define SPK_CONFIG_MAX_FETCH_RING 64u

/** @brief One accelerator configuration (every field is a key of the file format). */
typedef struct spk_config {
    char name[64];                 /**< preset or file name */
    double clock_hz;               /**< clock, Hz */
    uint32_t qk_multipliers;       /**< multipliers of the QK broadcast-multiply-reduce tree */
    uint32_t pv_multipliers;       /**< multipliers of PV */
    uint32_t topk_parallelism;     /**< comparators per top-k pass (P) */
    uint32_t topk_engines;         /**< top-k engines serving the local-V and token top-k */
    uint32_t dram_channels;        /**< DRAM channels (interleaved at 32 B) */
    double dram_bytes_per_cycle;   /**< bytes per channel per cycle (32: one transaction) */
    uint32_t dram_latency;         /**< cycles from a transaction's service to its data */
    uint32_t dram_row_buffer;      /**< 1: open-page row-buffer model on */
    uint32_t dram_row_bytes;       /**< row size per channel (open-page model) */
    uint32_t dram_row_miss_cycles; /**< extra channel cycles of a row miss */
    uint32_t key_buffer_bytes;     /**< K buffer capacity */
    uint32_t value_buffer_bytes;   /**< V buffer capacity */
    uint32_t qk_latency;           /**< QK multiply + reduction tree latency */
    uint32_t softmax_latency;      /**< fixed softmax pipeline latency */
    uint32_t softmax_per_cycle;    /**< probabilities the softmax streams per cycle */
    uint32_t requant_latency;      /**< max-reduction of the requant decision */
    uint32_t pv_latency;           /**< PV multiply + accumulate latency */
    uint32_t output_latency;       /**< output write-back */
    uint32_t issue_interval;       /**< cycles between two admitted requests at best */
    uint32_t token_topk_barrier;   /**< 1: a token top-k stops admission until the pipeline
                                        drains and the top-k is done (cascade dependency) */
    uint64_t seed;                 /**< seed of the statistical top-k model (trace mode) */
    /* Microarchitecture knobs (docs/simulator.md, "Serial engine"); the defaults (overlap 1,
     * one softmax pass, the rest 0) are the paper-like pipeline of the presets full and eighth. */
    uint32_t step_overlap;           /**< 1: overlapped pipeline; 0: serial engine, one request and
                                          one step at a time (rtl/engine/spk_engine.v) */
    uint32_t softmax_passes;         /**< passes of softmax_per_cycle over the scores after the last
                                          one arrived: 1 streams, 2 = EXP then PROB (spk_softmax) */
    uint32_t fetch_slots;            /**< serial: rows in flight in the row fetcher (0: the fetch
                                          is one stream of transactions) */
    uint32_t fetch_row_overhead;     /**< serial: cycles a fetcher slot takes a row index before
                                          its requests */
    uint32_t value_scale_per_row;    /**< serial: 1 = one read per kept V row's scale word, 0 =
                                          the kept rows' words packed in 32-byte reads */
    uint32_t kept_scan;              /**< serial: 1 = kept V rows listed by a scan of the top-k's
                                          flags, topk_parallelism per cycle */
    uint32_t query_load_cycles;      /**< 0 = the query is in QK already; else its int16 codes
                                          are read first. Serial: loaded into QK in this many
                                          cycles once they are in, before the K scale words.
                                          Overlapped: loaded at qk_multipliers codes a cycle, and
                                          the K fetch is issued this many cycles after that */
    uint32_t importance_per_cycle;   /**< serial: 0 = token importance costs no time; else the
                                          final probabilities are added this many per cycle from
                                          the end of the last K pass, and done waits for them */
    uint32_t unaligned_regions;      /**< serial: 1 = planes start at any byte and scale words at
                                          any 4-byte offset of a 32-byte block (expected blocks per
                                          run); 0 = at the descriptor's addresses */
    uint32_t fetch_done_latency;     /**< serial: cycles from a V fetch pass's last beat until the
                                          engine sees the pass end */
    uint32_t topk_emit_pass;         /**< 1 = the local-V top-k emits its kept flags in a second
                                          pass of ceil(n / topk_parallelism) cycles (serial and
                                          overlapped) */
    uint32_t topk_latency;           /**< fixed cycles of a local-V top-k run beyond its passes
                                          (serial and overlapped) */
    uint32_t output_per_cycle;       /**< outputs streamed per cycle after PV, serial and
                                          overlapped (0: output_latency only) */
    uint32_t step_latency;           /**< serial: cycles of a hand-off between two steps */
    uint32_t head_add_latency;       /**< serial: cycles of the head-importance add before DONE */
    uint32_t row_beats;              /**< overlapped: 1 = QK and PV take one key row per beat,
                                          ceil(d / multipliers) beats a row (spk_engine_ovl); 0 =
                                          the rows' elements packed, ceil(n d / multipliers) */
    uint32_t softmax_exp_per_cycle;  /**< overlapped: 0 = no pass of its own; else an EXP pass of
                                          ceil(n / this) cycles before the softmax_passes passes
                                          (spk_softmax_ovl: 8 exp units) */
    uint32_t value_scales_with_keys; /**< overlapped: 1 = the V scale words of all K keys are
                                          read with the K fetch (spk_engine_ovl), not the kept
                                          rows' with the V fetch (dram_bytes counts the blocks
                                          moved; the per-kind transactions stay the
                                          descriptor's) */
    uint32_t fetch_ring;             /**< overlapped: 0 = each plane pass is one stream of the
                                          descriptor's transactions; else spk_kv_fetch_stream
                                          row by row (an index cycle per row, the previous row's
                                          last block shared, a row emitted once its blocks are
                                          in), this many blocks and rows in flight (at most
                                          SPK_CONFIG_MAX_FETCH_RING) */
    uint32_t value_fetch_delay;      /**< overlapped: cycles from the V allocation to the DRAM
                                          time of the V fetch's first request (spk_engine_ovl:
                                          the kept-row scan and the fetcher's index take) */
    uint32_t requests_in_flight;     /**< overlapped: 0 = requests overlap as buffer space allows
                                          (the paper's pipeline); else at most this many are
                                          admitted and not done (spk_engine_ovl: 1) */
    uint32_t tail_overlap;           /**< overlapped, with requests_in_flight: 0 = a request
                                          counts until its done; N = it stops counting N cycles
                                          after the later of its last V beat into PV and its
                                          last importance add, while its tail (PV's end,
                                          outputs, head add) runs, and the next request's
                                          probability pass starts no earlier than the cycle
                                          after that done (spk_engine_ovl's tail) */
} spk_config;

/**
 * @brief Fill @p cfg with preset @p name: "full", "eighth" (BRIEF section 2), or "rtl-engine"
 * (the Verilated rtl/engine/spk_engine.v of the RTL harness: serial engine, M = 8, P = 8, one
 * 32-byte channel of latency 8). Returns 0, or -1 if unknown.
 */
int spk_config_preset(const char *name, spk_config *cfg);

/**
 * @brief Load a configuration: a preset name, or a key = value file.
 * @param err  buffer for a message naming the file, line and problem (may be NULL).
 * @return 0 on success, -1 with @p err filled on failure.
 */
int spk_config_load(const char *name_or_path, spk_config *cfg, char *err, size_t err_len);

/** @brief Apply one `key = value` setting; returns 0, or -1 with @p err filled. */
int spk_config_set(spk_config *cfg, const char *key, const char *value, char *err, size_t err_len);

/**
 * @brief Check ranges (nonzero units, channels <= 64, ...) and that the serial engine's knobs
 * are left at 0 when step_overlap is 1; returns 0 or -1 with @p err.
 */
int spk_config_check(const spk_config *cfg, char *err, size_t err_len);

/** @brief Write the configuration in the file format (loadable again). */
void spk_config_write(const spk_config *cfg, FILE *out);

/** @brief Number of keys of the file format. */
size_t spk_config_key_count(void);
/** @brief Name of key @p i (0 <= i < spk_config_key_count()). */
const char *spk_config_key_name(size_t i);
/** @brief Value of key @p i as a number (the name key returns 0). */
double spk_config_key_value(const spk_config *cfg, size_t i);

#ifdef __cplusplus
}
#endif

#endif
