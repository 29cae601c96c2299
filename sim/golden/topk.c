/* Top-k selection by the kit's rule; see docs/spec/datapath.md, "Top-k". */
#include "spksim/topk.h"

#include <string.h>

/* Emit, in index order, every index whose value beats the threshold and then the earliest
 * indices equal to it until k are kept. This pass is what makes the result independent of the
 * algorithm that found the threshold. */
static size_t emit_in_order(const int64_t *values, size_t n, size_t k, int64_t threshold,
                            size_t n_greater, uint32_t *kept) {
    size_t equal_quota = k - n_greater, out = 0;
    for (size_t i = 0; i < n; i++) {
        if (values[i] > threshold) {
            kept[out++] = (uint32_t)i;
        } else if (values[i] == threshold && equal_quota > 0) {
            equal_quota--;
            kept[out++] = (uint32_t)i;
        }
    }
    return out;
}

static size_t keep_all_or_none(size_t n, size_t k, uint32_t *kept) {
    size_t count = k >= n ? n : 0;
    for (size_t i = 0; i < count; i++) kept[i] = (uint32_t)i;
    return count;
}

/* One partition pass: values greater than the pivot go to the front of `out`, smaller ones to
 * the back (both in stream order, like the engine's two zero-eliminating FIFOs). */
typedef struct {
    size_t greater, equal, less;
} partition_counts;

static partition_counts partition(const int64_t *in, size_t m, int64_t pivot, int64_t *out) {
    /* Branch-free: every value is written and the cursor advances only past the kept ones
     * (random scores would mispredict a branch half the time). out has room for m values, and
     * since the pivot is one of the m values, g + l < m: the unconditional writes are in
     * bounds. */
    size_t g = 0, l = 0;
    for (size_t i = 0; i < m; i++) {
        out[g] = in[i];
        g += in[i] > pivot;
    }
    for (size_t i = 0; i < m; i++) {
        out[g + l] = in[i];
        l += in[i] < pivot;
    }
    return (partition_counts){g, m - g - l, l};
}

/* Quick-select for the k-th largest value (1 <= k <= n). `pivot_at` picks the pivot position
 * in the current candidate list. Returns the threshold and, through n_greater, how many values
 * of the whole input are strictly greater than it. */
static int64_t kth_largest(const int64_t *values, size_t n, size_t k, int64_t *scratch,
                           size_t (*pivot_at)(size_t m), uint32_t parallelism,
                           spk_topk_trace *trace, size_t *n_greater) {
    int64_t *cur = scratch, *next = scratch + n;
    memcpy(cur, values, n * sizeof *cur);
    size_t m = n, rank = k, above = 0;
    for (;;) {
        int64_t pivot = cur[pivot_at(m)];
        partition_counts c = partition(cur, m, pivot, next);
        if (trace) {
            trace->passes++;
            trace->streamed += m;
            trace->cycles += (m + parallelism - 1) / parallelism + 3;
        }
        if (rank <= c.greater) {
            m = c.greater;
        } else if (rank <= c.greater + c.equal) {
            *n_greater = above + c.greater;
            return pivot;
        } else {
            above += c.greater + c.equal;
            rank -= c.greater + c.equal;
            memmove(next, next + c.greater, c.less * sizeof *next);
            m = c.less;
        }
        int64_t *t = cur;
        cur = next;
        next = t;
    }
}

static size_t pivot_first(size_t m) {
    (void)m;
    return 0;
}

static size_t pivot_middle(size_t m) {
    return m / 2;
}

size_t spk_topk_select(const int64_t *values, size_t n, size_t k, uint32_t *kept,
                       int64_t *scratch) {
    if (k == 0 || k >= n) return keep_all_or_none(n, k, kept);
    size_t n_greater = 0;
    int64_t t = kth_largest(values, n, k, scratch, pivot_middle, 1, NULL, &n_greater);
    return emit_in_order(values, n, k, t, n_greater, kept);
}

size_t spk_topk_quickselect(const int64_t *values, size_t n, size_t k, uint32_t parallelism,
                            uint32_t *kept, int64_t *scratch, spk_topk_trace *trace) {
    if (trace) memset(trace, 0, sizeof *trace);
    if (parallelism == 0) parallelism = 1;
    if (k == 0 || k >= n) return keep_all_or_none(n, k, kept);
    size_t n_greater = 0;
    int64_t t = kth_largest(values, n, k, scratch, pivot_first, parallelism, trace, &n_greater);
    if (trace) {
        trace->kth_value = t;
        trace->emit_cycles = (n + parallelism - 1) / parallelism;
    }
    return emit_in_order(values, n, k, t, n_greater, kept);
}
