/**
 * @file cycle.h
 * @brief The SpAtten cycle-level timing engine (docs/simulator.md).
 *
 * The engine times a sequence of request descriptors: one descriptor is one query vector of one
 * head (or two heads whose 6-bit keys are fetched fused, see ::spk_cycle_request::heads). Trace
 * mode fills descriptors from a SpAtten workload CSV (spksim/trace.h); data mode fills them from
 * the golden model's per-request events (spk_cycle_request_from_events()). The engine is
 * event-driven: every pipeline stage is a FIFO server whose start and end times are computed
 * analytically when a request reaches it, and DRAM fetches are priced per channel in one step,
 * so the cost is a few events per request, independent of the cycles simulated.
 */
#ifndef SPKSIM_CYCLE_H
#define SPKSIM_CYCLE_H

#include <stddef.h>
#include <stdint.h>

#include "spksim/config.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Bytes of one DRAM transaction (and the channel interleave granularity). */
#define SPK_CYCLE_TRANSACTION_BYTES 32u

/**
 * @brief One unit of work for the timing engine: one query of one head, or a fused pair of heads
 * whose K (and V) rows share one DRAM chunk per token index.
 */
typedef struct spk_cycle_request {
    uint32_t iteration;     /**< generation iteration (for per-layer reports) */
    uint32_t layer;         /**< layer */
    uint32_t head;          /**< head of the first query row */
    uint32_t heads;         /**< query rows served, 1 or 2 (fused pair) */
    uint32_t d;             /**< embedding length D of a head */
    uint32_t l;             /**< sentence length L */
    uint32_t keys;          /**< key indices fetched per head (K) */
    uint32_t values;        /**< value indices fetched (V, shared by fused heads) */
    uint32_t key_bits;      /**< K MSB-plane bits per element */
    uint32_t lsb_bits;      /**< K LSB-plane bits per element */
    uint32_t value_bits;    /**< V bits per element fetched */
    uint32_t requant_heads; /**< heads that refetched LSBs and recomputed QK (0..heads) */
    uint64_t requant_keys;  /**< keys recomputed, summed over those heads */
    uint8_t lsb_upfront;    /**< 1: the LSB plane is fetched with the MSBs, no recompute (dense) */
    uint8_t accumulate_importance; /**< 1: token importance is accumulated beside the pipeline */
    uint8_t key_list; /**< 1: the keys are a token list spread over the l tokens (spk_engine_ovl
                           then reads the list and one K and one V scale word per key) */
    uint64_t key_msb_transactions; /**< DRAM transactions of the K MSB fetch */
    uint64_t key_lsb_transactions; /**< DRAM transactions of the K LSB fetch */
    uint64_t value_transactions;   /**< DRAM transactions of the V fetch */
    uint64_t key_msb_addr;         /**< byte address of the K MSB rows (MSB region) */
    uint64_t key_lsb_addr;         /**< byte address of the K LSB rows (LSB region) */
    uint64_t value_addr;           /**< byte address of the V rows (value region) */
    uint64_t local_topk_cycles;    /**< local-V top-k selection latency (0: bypassed) */
    uint64_t local_topk_streamed;  /**< candidates the local-V top-k compared (energy) */
    uint64_t token_topk_cycles;    /**< token top-k run after this request (0: none) */
    uint64_t token_topk_streamed;  /**< candidates the token top-k compared (energy) */
} spk_cycle_request;

/** @brief Status of the cycle simulator's calls. */
typedef enum spk_cycle_status {
    SPK_CYCLE_OK = 0,        /**< success */
    SPK_CYCLE_E_ARG = -1,    /**< NULL or inconsistent argument */
    SPK_CYCLE_E_NOMEM = -2,  /**< out of memory */
    SPK_CYCLE_E_IO = -3,     /**< a file could not be opened, read or written */
    SPK_CYCLE_E_FORMAT = -4, /**< a trace, configuration or constants file is malformed */
    SPK_CYCLE_E_CONFIG = -5, /**< a configuration value is out of range */
    SPK_CYCLE_E_ABORTED = -6 /**< the progress callback asked to stop */
} spk_cycle_status;

/** @brief A short English description of a status code. */
const char *spk_cycle_status_str(spk_cycle_status s);

/** @brief Counts of the events the energy model prices (spksim/energy.h). */
typedef struct spk_cycle_events {
    uint64_t qk_macs;          /**< multiply-accumulates of QK (first pass and recompute) */
    uint64_t pv_macs;          /**< multiply-accumulates of PV */
    uint64_t softmax_elems;    /**< probabilities computed (each pass) */
    uint64_t topk_compares;    /**< candidates streamed through the top-k comparators */
    uint64_t importance_adds;  /**< token importance accumulations */
    uint64_t kbuf_write_bytes; /**< bytes written into the K buffer */
    uint64_t kbuf_read_bytes;  /**< bytes read from the K buffer by QK */
    uint64_t vbuf_write_bytes; /**< bytes written into the V buffer */
    uint64_t vbuf_read_bytes;  /**< bytes read from the V buffer by PV */
} spk_cycle_events;

/** Most channels the statistics keep per-channel counters for. */
#define SPK_CYCLE_MAX_CHANNELS 64u

/** @brief Results of one run of the engine. */
typedef struct spk_cycle_stats {
    uint64_t cycles;               /**< completion time of the last request */
    uint64_t requests;             /**< query rows timed (a fused pair counts 2) */
    uint64_t descriptors;          /**< descriptors timed */
    uint64_t requant_requests;     /**< query rows that refetched LSBs */
    uint64_t key_msb_transactions; /**< DRAM transactions per kind */
    uint64_t key_lsb_transactions;
    uint64_t value_transactions;
    uint64_t dram_bytes;                            /**< all bytes moved, 32 per transaction */
    uint64_t channel_bytes[SPK_CYCLE_MAX_CHANNELS]; /**< bytes served by each channel */
    uint64_t row_misses;                            /**< row-buffer misses (open-page model only) */
    double busy_dram;        /**< channel-cycles busy / channels: DRAM occupancy */
    double busy_qk;          /**< cycles the QK unit was occupied */
    double busy_softmax;     /**< cycles the softmax streamed */
    double busy_topk;        /**< cycles of top-k work / engines */
    double busy_pv;          /**< cycles the PV unit was occupied */
    double stall_kbuf;       /**< cycles the front end waited for K buffer space */
    double stall_vbuf;       /**< request-cycles spent waiting for V buffer space */
    uint64_t ops;            /**< arithmetic operations (2 per MAC) for GOP/s */
    spk_cycle_events events; /**< counts for the energy model */
} spk_cycle_stats;

/** @brief Per-descriptor timing written by spk_cycle_run() when asked for. */
typedef struct spk_cycle_timing {
    double admitted; /**< K buffer allocated, K fetch issued */
    double done;     /**< output written */
} spk_cycle_timing;

/** @brief Progress callback: called every few thousand descriptors; nonzero return aborts. */
typedef int (*spk_cycle_progress_fn)(void *ctx, size_t done, size_t total, double sim_cycles);

/**
 * @brief Time @p n descriptors on the configured accelerator: the overlapped pipeline, or with
 * `step_overlap = 0` the serial engine of rtl/engine/spk_engine.v (one request and one step at a
 * time, docs/simulator.md "Serial engine").
 * @param cfg      a configuration accepted by spk_config_check().
 * @param reqs     the descriptors, in issue order.
 * @param timing   optional (NULL): n entries of per-descriptor times.
 * @param progress optional (NULL) progress callback with its context @p ctx.
 * @return SPK_CYCLE_OK, SPK_CYCLE_E_ARG for a bad descriptor (zero D, heads not 1 or 2, ...),
 * SPK_CYCLE_E_CONFIG for a bad configuration, SPK_CYCLE_E_NOMEM, SPK_CYCLE_E_ABORTED.
 */
spk_cycle_status spk_cycle_run(const spk_config *cfg, const spk_cycle_request *reqs, size_t n,
                               spk_cycle_stats *stats, spk_cycle_timing *timing,
                               spk_cycle_progress_fn progress, void *ctx);

/**
 * @brief The engine as a stream: descriptors are pushed one at a time and the engine keeps only
 * the window of those in flight (admitted and not yet retired, plus the next one to admit), so a
 * trace of any length is timed in memory bounded by the pipeline's occupancy. Pushing the
 * descriptors of an array and finishing gives exactly spk_cycle_run()'s results.
 */
typedef struct spk_cycle_engine spk_cycle_engine;

/**
 * @brief Called once per descriptor, in push order, when its timing is final (its output is
 * written and nothing can move it any more). @p index counts pushes from 0.
 */
typedef void (*spk_cycle_retire_fn)(void *ctx, uint64_t index, const spk_cycle_request *req,
                                    const spk_cycle_timing *timing);

/**
 * @brief A new engine for @p cfg (copied). @p retire (optional) receives retired descriptors.
 * @return SPK_CYCLE_OK, SPK_CYCLE_E_ARG, SPK_CYCLE_E_CONFIG or SPK_CYCLE_E_NOMEM.
 */
spk_cycle_status spk_cycle_engine_new(const spk_config *cfg, spk_cycle_retire_fn retire, void *ctx,
                                      spk_cycle_engine **out);

/**
 * @brief Add the next descriptor and simulate as far as the input allows (up to the admission
 * of the descriptor after it).
 * @return SPK_CYCLE_OK, SPK_CYCLE_E_ARG for a bad descriptor (the engine stays usable) or
 * SPK_CYCLE_E_NOMEM (sticky).
 */
spk_cycle_status spk_cycle_engine_push(spk_cycle_engine *e, const spk_cycle_request *req);

/** @brief No more descriptors: run to completion and write the statistics. */
spk_cycle_status spk_cycle_engine_finish(spk_cycle_engine *e, spk_cycle_stats *stats);

/** @brief Simulated time of the last event handled (for progress reports and cycle bounds). */
double spk_cycle_engine_time(const spk_cycle_engine *e);

/** @brief Descriptors held now (pushed, not yet retired): the engine's memory is linear in it. */
size_t spk_cycle_engine_window(const spk_cycle_engine *e);

/** @brief Free an engine (NULL is ignored). */
void spk_cycle_engine_free(spk_cycle_engine *e);

/**
 * @brief Add the statistics of a run that followed @p sum's on an idle engine (a device trace's
 * next command, docs/simulator.md "Device traces"): cycles, counts, busy and stall cycles and
 * events are summed, so the bound and the energy of the sum describe the runs end to end.
 */
void spk_cycle_stats_add(spk_cycle_stats *sum, const spk_cycle_stats *s);

/**
 * @brief Name of the resource that limited a run: the largest of the DRAM, QK, softmax, top-k
 * and PV occupancies ("dram", "qk", "softmax", "topk", "pv"), or "latency" when no resource was
 * busy for at least half of the run (the pipeline was mostly waiting).
 */
const char *spk_cycle_bound(const spk_cycle_stats *stats);

/**
 * @brief Seeded statistical model of the quick-select top-k latency (trace mode): the passes of
 * quick-select with a uniformly random pivot over distinct values, each costing ceil(m/P) + 3.
 * @param state  the generator state (any seed; updated).
 * @param streamed optional out: candidates streamed over all passes.
 * @return the selection cycles; 0 when k == 0 or k >= n (bypassed).
 */
uint64_t spk_cycle_topk_model(uint64_t *state, uint32_t n, uint32_t k, uint32_t parallelism,
                              uint64_t *streamed);

#ifdef __cplusplus
}
#endif

#endif
