/* DRAM channel model of the cycle simulator (private to sim/cycle). */
#ifndef SPK_CYCLE_DRAM_H
#define SPK_CYCLE_DRAM_H

#include <stdint.h>

#include "spksim/cycle.h"

/* N channels, 32-byte transactions interleaved at 32 B, one FIFO queue per channel served at a
 * fixed bandwidth, with a fixed latency from service to data; optional open-page row buffer. */
typedef struct spk_dram {
    uint32_t channels;
    double service; /* cycles per transaction on one channel */
    double latency; /* cycles from service to data at the requester */
    uint32_t row_model;
    uint64_t row_transactions; /* transactions per row of one channel */
    double row_miss;           /* extra channel cycles per row miss */
    double free_at[SPK_CYCLE_MAX_CHANNELS];
    int64_t open_row[SPK_CYCLE_MAX_CHANNELS];
    double busy[SPK_CYCLE_MAX_CHANNELS];
    uint64_t bytes[SPK_CYCLE_MAX_CHANNELS];
    uint64_t row_misses;
} spk_dram;

void spk_dram_init(spk_dram *d, const spk_config *cfg);

/* Queue `count` contiguous transactions starting at byte address `addr` at time `t`; returns
 * when the first and the last of them have delivered their data. Requests are issued in
 * nondecreasing time, so per-channel FIFO service is computed in one step per channel. */
void spk_dram_fetch(spk_dram *d, double t, uint64_t addr, uint64_t count, double *first,
                    double *last);

#endif
