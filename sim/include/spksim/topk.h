/**
 * @file topk.h
 * @brief The SpAtten top-k selection rule (docs/spec/datapath.md, "Top-k").
 *
 * Keeps the k largest values; among equal values the earliest index wins; the kept indices come
 * out in increasing index order (so DRAM fetch addresses stay monotonic). k = 0 keeps nothing and
 * k >= n keeps everything. Every implementation in the kit (golden model, cycle simulator, RTL)
 * must select exactly this set.
 */
#ifndef SPKSIM_TOPK_H
#define SPKSIM_TOPK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Select the top-k of @p n values by the kit's rule.
 * @param values  n signed values (wider types are compared as int64).
 * @param n       number of candidates.
 * @param k       how many to keep.
 * @param kept    out: min(k, n) indices into @p values, increasing.
 * @return the number of indices written, min(k, n).
 *
 * Runs in O(n) expected time and allocates nothing: the k-th largest value is found by
 * quick-select on a copy held in @p scratch (2*n entries), then one ordered pass emits the
 * indices. @p scratch may be NULL only when k == 0 or k >= n.
 */
size_t spk_topk_select(const int64_t *values, size_t n, size_t k, uint32_t *kept, int64_t *scratch);

/** @brief Statistics of one run of the hardware quick-select algorithm. */
typedef struct spk_topk_trace {
    uint32_t passes;      /**< quick-select partition passes made */
    uint64_t streamed;    /**< candidates streamed over all passes (sum of m) */
    uint64_t cycles;      /**< selection latency: sum over passes of ceil(m/P) + 3 */
    uint64_t emit_cycles; /**< the ordered re-stream that emits the kept indices, ceil(n/P);
                                it overlaps the fetch that consumes the indices */
    int64_t kth_value;    /**< the k-th largest value (threshold), when 0 < k < n */
} spk_topk_trace;

/**
 * @brief The hardware algorithm (docs/spec/datapath.md, "Top-k engine"): quick-select with the
 * first candidate of each pass as pivot, then an ordered re-stream. Selects the same set as
 * spk_topk_select() and reports the passes it made, for the cycle model.
 * @param parallelism comparators per cycle (P, 16 in full SpAtten); must be >= 1.
 * @param scratch     2*n entries of workspace (NULL allowed when k == 0 or k >= n).
 */
size_t spk_topk_quickselect(const int64_t *values, size_t n, size_t k, uint32_t parallelism,
                            uint32_t *kept, int64_t *scratch, spk_topk_trace *trace);

#ifdef __cplusplus
}
#endif

#endif
