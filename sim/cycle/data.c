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
    if (ev->values_fetched > ev->keys_fetched || ev->keys_held > ev->keys_fetched)
        return SPK_CYCLE_E_ARG;
    memset(out, 0, sizeof *out);
    const uint32_t msb = cfg->kv.msb_bits, lsb = cfg->kv.lsb_bits;
    out->iteration = site->iteration;
    out->layer = site->layer;
    out->head = site->head;
    out->l = site->l;
    out->key_list = site->key_list;
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
    /* Held keys (select policy) came with their logits from the scoring stage: no K MSB row,
     * no K scale word. Their QK slots are still timed (an upper bound on the compute). */
    const uint64_t k_read = ev->keys_fetched - ev->keys_held;
    out->key_msb_transactions = row_transactions(k_read, cfg->d, msb) +
                                div_up(scale_bytes * k_read, SPK_CYCLE_TRANSACTION_BYTES);
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

/* ---- Device traces ------------------------------------------------------------------------- */

int spk_trace_device_write_header(FILE *f) {
    return fputs("iteration_id,layer_id,head_id,embedding_length_D,sentence_length_L,"
                 "key_fetch_num,quant_key_bit,quant_query_bit,auto_requant_thres,if_requant,"
                 "auto_requant_incre,value_fetch_num,quant_value_bit,if_accumulate_importance,"
                 "if_rescale_previous_importance,if_topk,topk,"
                 "command,v_topk_cycles,v_topk_streamed,key_held_num\n",
                 f) < 0
               ? -1
               : 0;
}

int spk_trace_device_write_row(FILE *f, uint64_t command, const spk_cycle_request_site *site,
                               const spk_head_config *cfg, const spk_head_events *ev) {
    const uint32_t msb = cfg->kv.msb_bits, lsb = cfg->kv.lsb_bits;
    /* The query is 16-bit (docs/spec/datapath.md); the threshold is UQ0.16, written as the
     * probability it stands for, with the 16 decimals that make a multiple of 2^-16 exact. */
    int n = fprintf(
        f, "%u,%u,%u,%u.0,%u,%u,%u,16,%.16f,%s,%d,%u,%u,True,False,False,-1,%llu,%llu,%llu,%u\n",
        site->iteration, site->layer, site->head, cfg->d, site->l, ev->keys_fetched, msb,
        (double)cfg->requant_threshold / 65536.0, ev->requant ? "True" : "False",
        lsb ? (int)lsb : -1, ev->values_fetched, msb + (ev->v_with_lsb ? lsb : 0),
        (unsigned long long)command, (unsigned long long)ev->v_topk.cycles,
        (unsigned long long)ev->v_topk.streamed, ev->keys_held);
    return n < 0 ? -1 : 0;
}

spk_cycle_status spk_trace_device_request(const spk_trace_row *row, spk_cycle_request *out,
                                          uint64_t *dram_bytes) {
    if (!row || !out || !row->device || row->key_bits < 1) return SPK_CYCLE_E_ARG;
    spk_head_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.d = row->d;
    cfg.kv.msb_bits = (uint32_t)row->key_bits;
    cfg.kv.lsb_bits = row->requant_incre > 0 ? (uint32_t)row->requant_incre : 0;
    const uint32_t all = cfg.kv.msb_bits + cfg.kv.lsb_bits;
    /* V is fetched with the MSB plane alone or with both planes. */
    if (row->value_bits != row->key_bits && (uint32_t)row->value_bits != all)
        return SPK_CYCLE_E_ARG;
    spk_head_events ev;
    memset(&ev, 0, sizeof ev);
    ev.keys_fetched = row->key_fetch;
    ev.requant = row->requant;
    ev.keys_refetched = row->requant ? row->key_fetch : 0;
    ev.values_fetched = row->value_fetch;
    ev.v_with_lsb = row->value_bits != row->key_bits;
    ev.v_topk.cycles = row->v_topk_cycles;
    ev.v_topk.streamed = row->v_topk_streamed;
    ev.keys_held = row->key_held;
    /* a device trace's rows are the device's head requests, which always list their keys */
    const spk_cycle_request_site site = {row->iteration, row->layer, row->head, row->l, 1};
    spk_cycle_status st = spk_cycle_request_from_head(&cfg, &ev, &site, out);
    if (st == SPK_CYCLE_OK && dram_bytes) {
        const uint64_t n = ev.keys_fetched, kv = ev.values_fetched, d = cfg.d;
        const uint64_t read = n - ev.keys_held; /* held rows: docs/spec/datapath.md "Traffic" */
        *dram_bytes = read * div_up(d * cfg.kv.msb_bits, 8) +
                      (ev.requant ? n * div_up(d * cfg.kv.lsb_bits, 8) : 0) +
                      kv * div_up(d * (uint64_t)row->value_bits, 8) + 4u * (read + kv);
    }
    return st;
}
