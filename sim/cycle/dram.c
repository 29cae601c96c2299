/* DRAM channels: interleaved 32-byte transactions, FIFO per channel, fixed latency. */
#include "dram.h"

#include <string.h>

void spk_dram_init(spk_dram *d, const spk_config *cfg) {
    memset(d, 0, sizeof *d);
    d->channels = cfg->dram_channels;
    d->service = SPK_CYCLE_TRANSACTION_BYTES / cfg->dram_bytes_per_cycle;
    d->latency = cfg->dram_latency;
    d->row_model = cfg->dram_row_buffer;
    d->row_transactions = cfg->dram_row_bytes / SPK_CYCLE_TRANSACTION_BYTES;
    d->row_miss = cfg->dram_row_miss_cycles;
    for (uint32_t c = 0; c < SPK_CYCLE_MAX_CHANNELS; c++) d->open_row[c] = -1;
}

/* Row misses of a run of transactions [first_local, last_local] on one channel, given the row
 * left open by the previous access; the run leaves its last row open. */
static uint64_t row_misses(spk_dram *d, uint32_t c, uint64_t first_local, uint64_t last_local) {
    int64_t r0 = (int64_t)(first_local / d->row_transactions);
    int64_t r1 = (int64_t)(last_local / d->row_transactions);
    uint64_t misses = (uint64_t)(r1 - r0 + 1) - (d->open_row[c] == r0 ? 1u : 0u);
    d->open_row[c] = r1;
    return misses;
}

void spk_dram_fetch(spk_dram *d, double t, uint64_t addr, uint64_t count, double *first,
                    double *last) {
    *first = *last = t;
    if (count == 0) return;
    const uint32_t n = d->channels;
    const uint64_t g0 = addr / SPK_CYCLE_TRANSACTION_BYTES;
    /* Channel k after the starting one takes transactions k, k + n, k + 2n, ...: q + (k < r)
     * of them for count = q n + r. Divisions hoisted out of the loop (the hot path). */
    const uint64_t q = count / n, rem = count % n;
    uint32_t c = (uint32_t)(g0 % n);
    double earliest = -1, latest = t;
    for (uint32_t k = 0; k < n && k < count; k++, c = c + 1 == n ? 0 : c + 1) {
        uint64_t on_channel = q + (k < rem ? 1u : 0u);
        double work = (double)on_channel * d->service;
        if (d->row_model) {
            uint64_t local0 = (g0 + k) / n;
            uint64_t misses = row_misses(d, c, local0, local0 + on_channel - 1);
            d->row_misses += misses;
            work += (double)misses * d->row_miss;
        }
        double start = d->free_at[c] > t ? d->free_at[c] : t;
        d->free_at[c] = start + work;
        d->busy[c] += work;
        d->bytes[c] += on_channel * SPK_CYCLE_TRANSACTION_BYTES;
        double first_data = start + d->service + d->latency;
        if (earliest < 0 || first_data < earliest) earliest = first_data;
        if (d->free_at[c] + d->latency > latest) latest = d->free_at[c] + d->latency;
    }
    *first = earliest;
    *last = latest;
}
