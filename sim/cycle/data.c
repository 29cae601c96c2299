/* Data mode: descriptors from the golden model's per-request events. */
#include "spksim/cycle_data.h"

#include <stdlib.h>
#include <string.h>

static uint64_t div_up(uint64_t a, uint64_t b) {
    return (a + b - 1) / b;
}

/* Transactions of n rows of `bits`-bit elements, each row fetched by its own index. */
static uint64_t row_transactions(uint64_t n, uint32_t d, uint32_t bits) {
    uint64_t row_bytes = div_up((uint64_t)d * bits, 8);
    return n * div_up(row_bytes, SPK_CYCLE_TRANSACTION_BYTES);
}

spk_cycle_status spk_cycle_request_from_head(const spk_head_config *cfg, const spk_head_events *ev,
                                             const spk_cycle_request_site *site,
                                             spk_cycle_request *out) {
    if (!cfg || !ev || !site || !out || cfg->d == 0) return SPK_CYCLE_E_ARG;
    if (ev->keys_refetched != 0 && ev->keys_refetched != ev->keys_fetched) return SPK_CYCLE_E_ARG;
    if (ev->values_fetched > ev->keys_fetched) return SPK_CYCLE_E_ARG;
    memset(out, 0, sizeof *out);
    const uint32_t msb = cfg->kv.msb_bits, lsb = cfg->kv.lsb_bits;
    out->iteration = site->iteration;
    out->layer = site->layer;
    out->head = site->head;
    out->l = site->l;
    out->heads = 1;
    out->d = cfg->d;
    out->keys = ev->keys_fetched;
    out->values = ev->values_fetched;
    out->key_bits = msb;
    out->lsb_bits = lsb;
    out->value_bits = msb + (ev->v_with_lsb ? lsb : 0);
    out->requant_heads = ev->requant ? 1 : 0;
    out->requant_keys = ev->requant ? ev->keys_refetched : 0;
    out->accumulate_importance = 1;
    const uint64_t scale_bytes = 4;
    out->key_msb_transactions = row_transactions(ev->keys_fetched, cfg->d, msb) +
                                div_up(scale_bytes * ev->keys_fetched, SPK_CYCLE_TRANSACTION_BYTES);
    out->key_lsb_transactions = ev->requant ? row_transactions(ev->keys_refetched, cfg->d, lsb) : 0;
    out->value_transactions = row_transactions(ev->values_fetched, cfg->d, out->value_bits) +
                              div_up(scale_bytes * ev->values_fetched, SPK_CYCLE_TRANSACTION_BYTES);
    /* Same region layout as trace mode: K MSB, K LSB and V planes in separate regions. */
    uint64_t slot = ((uint64_t)site->layer << 16 | site->head) << 24;
    out->key_msb_addr = slot;
    out->key_lsb_addr = (UINT64_C(1) << 56) + slot;
    out->value_addr = (UINT64_C(2) << 56) + slot;
    out->local_topk_cycles = ev->v_topk.cycles;
    out->local_topk_streamed = ev->v_topk.streamed;
    return SPK_CYCLE_OK;
}

spk_cycle_status spk_cycle_run_heads(const spk_config *cfg, const spk_head_config *head_cfg,
                                     const spk_head_request *reqs,
                                     const spk_cycle_request_site *sites, size_t n,
                                     spk_workspace *ws, spk_head_result *results,
                                     spk_cycle_stats *stats, spksim_status *golden_status,
                                     size_t *failed_index) {
    if (golden_status) *golden_status = SPKSIM_OK;
    if (!cfg || !head_cfg || !stats || (n && (!reqs || !sites || !ws || !results)))
        return SPK_CYCLE_E_ARG;
    spk_cycle_request *q = calloc(n ? n : 1, sizeof *q);
    if (!q) return SPK_CYCLE_E_NOMEM;
    spk_cycle_status rc = SPK_CYCLE_OK;
    for (size_t i = 0; i < n && rc == SPK_CYCLE_OK; i++) {
        spksim_status st = spk_head_run(head_cfg, &reqs[i], ws, &results[i]);
        if (st != SPKSIM_OK) {
            if (golden_status) *golden_status = st;
            if (failed_index) *failed_index = i;
            rc = SPK_CYCLE_E_ARG;
            break;
        }
        rc = spk_cycle_request_from_head(head_cfg, &results[i].ev, &sites[i], &q[i]);
    }
    if (rc == SPK_CYCLE_OK) rc = spk_cycle_run(cfg, q, n, stats, NULL, NULL, NULL);
    free(q);
    return rc;
}
