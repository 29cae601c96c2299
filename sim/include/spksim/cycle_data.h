/**
 * @file cycle_data.h
 * @brief Data mode of the cycle simulator: descriptors from the golden model's per-request
 * events (spksim/datapath.h), for the driver's `sim` backend.
 *
 * The golden model computes the functional result (bit-identical to `spk-attn`) and reports what
 * the request fetched and the passes its local-V top-k really made; this adapter turns that into
 * a ::spk_cycle_request so the same timing engine as trace mode times it.
 */
#ifndef SPKSIM_CYCLE_DATA_H
#define SPKSIM_CYCLE_DATA_H

#include <stdint.h>
#include <stdio.h>

#include "spksim/cycle.h"
#include "spksim/datapath.h"
#include "spksim/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Where a request sits in the model (for reports and DRAM addresses). */
typedef struct spk_cycle_request_site {
    uint32_t iteration; /**< generation step */
    uint32_t layer;     /**< layer */
    uint32_t head;      /**< head */
    uint32_t l;         /**< sentence length (tokens held in the KV cache) */
    uint8_t key_list;   /**< 1: the keys are a token list (the device's head requests, spk_head
                             key_list), 0: a contiguous range */
} spk_cycle_request_site;

/**
 * @brief Build a descriptor from one golden-model head request.
 *
 * Transactions follow docs/spec/datapath.md, "Traffic": each K or V row is fetched by index as
 * ceil(row bytes / 32) transactions; the 4-byte scale words of the rows fetched are packed, so
 * they add ceil(4 n / 32) transactions to the K MSB fetch and ceil(4 kv / 32) to the V fetch.
 * The local-V top-k latency is the engine's measured passes (ev->v_topk.cycles).
 * @return SPK_CYCLE_OK, or SPK_CYCLE_E_ARG for NULL pointers, a zero D, or counts that disagree
 * (keys refetched other than 0 or all keys).
 */
spk_cycle_status spk_cycle_request_from_head(const spk_head_config *cfg, const spk_head_events *ev,
                                             const spk_cycle_request_site *site,
                                             spk_cycle_request *out);

/**
 * @brief Data mode in one call: run @p n head requests through the golden model (functional
 * results in @p results, exactly what spk_head_run() gives) and time them on the engine.
 * @param golden_status optional out: the golden model's status when it rejected a request
 *                      (the call then returns SPK_CYCLE_E_ARG and @p failed_index names it).
 * @return SPK_CYCLE_OK, SPK_CYCLE_E_ARG, SPK_CYCLE_E_CONFIG or SPK_CYCLE_E_NOMEM.
 */
spk_cycle_status spk_cycle_run_heads(const spk_config *cfg, const spk_head_config *head_cfg,
                                     const spk_head_request *reqs,
                                     const spk_cycle_request_site *sites, size_t n,
                                     spk_workspace *ws, spk_head_result *results,
                                     spk_cycle_stats *stats, spksim_status *golden_status,
                                     size_t *failed_index);

/* ---- Device traces (docs/simulator.md, "Device traces") ------------------------------------ */

/** @brief The header line of a device trace: the 17 SpAtten columns and the extension columns. */
int spk_trace_device_write_header(FILE *f);

/**
 * @brief One head request as a device-trace row: @p command numbers the device command (a layer)
 * it belongs to, @p site says where it sits; the configuration and the events are the golden
 * model's. Reading the row back (spk_trace_device_request()) gives exactly the descriptor
 * spk_cycle_request_from_head() builds from the same arguments.
 * @return 0, or -1 if the write failed.
 */
int spk_trace_device_write_row(FILE *f, uint64_t command, const spk_cycle_request_site *site,
                               const spk_head_config *cfg, const spk_head_events *ev);

/**
 * @brief The descriptor of a device-trace row (@p row->device set), built by the data-mode rules
 * (spk_cycle_request_from_head()), and the DRAM bytes the device counts for it (docs/spec/
 * datapath.md, "Traffic"; NULL: not wanted).
 * @return SPK_CYCLE_OK, or SPK_CYCLE_E_ARG for a row the device cannot have written.
 */
spk_cycle_status spk_trace_device_request(const spk_trace_row *row, spk_cycle_request *out,
                                          uint64_t *dram_bytes);

#ifdef __cplusplus
}
#endif

#endif
