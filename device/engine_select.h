/* Per-step selection in the engine front-end (SPK_FW_POLICY_SELECT; docs/spec/datapath.md,
 * "Per-step selection policy"; docs/device.md, "Engine operations"). At the first alive head of
 * a K/V head group the front-end reads that K/V head's K rows and its heads' queries from device
 * DRAM, and the golden spk_select_keys() selects every query's keys; the group's HEAD requests
 * then run over those key lists. The arithmetic is the golden model's, so every implementation
 * that executes head requests bit-exactly gives the golden layer's results. */
#ifndef SPKDEV_ENGINE_SELECT_H
#define SPKDEV_ENGINE_SELECT_H

#include <stdint.h>

#include "engine_impl.h"

typedef struct spkdev_selection {
    spk_select_config cfg;
    spk_layer_desc view; /* the group as a layer of its own: group heads over one K/V head */
    uint32_t kvh;        /* K/V head the lists below belong to (UINT32_MAX: none yet) */
    uint32_t capacity;   /* tokens + 1: entries per query of keys, rows of k */
    uint32_t n_capacity; /* queries of keys and n */
    uint32_t group_capacity;
    uint64_t q_capacity; /* query rows (group heads x queries) of q and qs */
    int16_t *q, *k;      /* [group][n_q][d] query codes; [L][d] full K codes of kvh */
    int16_t *kdim;       /* [d][L] the dimension-major MSB copy of kvh, as read from DRAM */
    uint8_t *dim_row;    /* one packed dimension row */
    spk_scale *qs, *ks;  /* their logit scale words; K scale words */
    uint32_t *keys;      /* [n_q][capacity] the selected keys of each query */
    uint32_t *n;         /* [n_q] */
    uint32_t *held;      /* [n_q] the requests' held word (first position 0, the count) */
    uint8_t *head_alive; /* [group] */
    uint8_t *row_hi, *row_lo;
    void *scratch;
} spkdev_selection;

/* Validates the layer's select fields and sizes the buffers: 0, or -1 (bad fields: the caller
 * refuses the layer; out of memory). */
int spkdev_selection_begin(spkdev_selection *s, const spk_fw_layer_desc *d);
/* Selects the keys of K/V head @p kvh for every query of the layer (@p keys: its @p n_keys
 * candidates, ascending, before the causal limit; @p head_alive: one flag per head of the
 * group). The scoring stage's reads go into @p stats (select_scored, select_bytes and
 * dram_bytes) and, per scoring (K/V head, query), to @p impl's select_timing when it has one.
 * 0, or -1 when an operand is outside DRAM or the implementation refused the timing. */
int spkdev_selection_group(spkdev_selection *s, spkdev_engine_impl *impl, spkdev_read_fn read,
                           void *read_ctx, const spk_fw_layer_desc *d, const spk_head_config *cfg,
                           uint32_t kvh, const uint8_t *head_alive, const uint32_t *keys,
                           uint32_t n_keys, spk_layer_stats *stats);
/* Frees the buffers (the struct itself is the caller's). */
void spkdev_selection_free(spkdev_selection *s);

#endif
