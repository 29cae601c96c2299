/* Per-step selection in the engine front-end (see engine_select.h). */
#include "engine_select.h"

#include <stdlib.h>
#include <string.h>

int spkdev_selection_begin(spkdev_selection *s, const spk_fw_layer_desc *d) {
    if ((d->select_count == 0 && (d->select_q16 == 0 || d->select_q16 > SPK_ONE_Q16)) ||
        (d->select_scoring & ~(uint32_t)SPK_FW_SCORING_HOLD) > SPK_FW_SCORING_MSB_PROBS ||
        (d->select_cand_x16 && (d->select_cand_x16 < 16 || !d->select_dims)))
        return -1;
    const uint32_t scoring = d->select_scoring & ~(uint32_t)SPK_FW_SCORING_HOLD;
    s->cfg = (spk_select_config){
        .budget = {d->select_count, d->select_count ? SPK_ONE_Q16 : d->select_q16},
        .sinks = d->token_sinks,
        .recent = d->token_recent,
        .scoring = scoring == SPK_FW_SCORING_MSB || scoring == SPK_FW_SCORING_MSB_PROBS
                       ? SPK_SELECT_MSB
                       : SPK_SELECT_EXACT,
        .combine = scoring == SPK_FW_SCORING_EXACT_PROBS || scoring == SPK_FW_SCORING_MSB_PROBS
                       ? SPK_SELECT_SUM_PROBS
                       : SPK_SELECT_SUM_LOGITS,
        .dims = d->select_dims,
        .candidates_x16 = d->select_cand_x16,
        .hold = (d->select_scoring & SPK_FW_SCORING_HOLD) != 0};
    s->kvh = UINT32_MAX;
    const uint32_t group = d->n_heads / d->n_kv_heads, cap = d->n_tokens + 1u;
    const uint64_t q_rows = (uint64_t)group * d->n_queries;
    if (cap > s->capacity || d->n_queries > s->n_capacity || q_rows > s->q_capacity ||
        group > s->group_capacity) {
        spkdev_selection_free(s);
        s->q = malloc(q_rows * d->d * sizeof *s->q);
        s->qs = malloc(q_rows * sizeof *s->qs);
        s->k = malloc((size_t)cap * d->d * sizeof *s->k);
        s->ks = malloc((size_t)cap * sizeof *s->ks);
        s->keys = malloc((size_t)d->n_queries * cap * sizeof *s->keys);
        s->n = malloc((size_t)d->n_queries * sizeof *s->n);
        s->held = malloc((size_t)d->n_queries * sizeof *s->held);
        s->head_alive = malloc(group);
        s->row_hi = malloc(SPK_MAX_D * 2);
        s->row_lo = malloc(SPK_MAX_D * 2);
        s->scratch = malloc(spk_select_scratch_bytes(cap, group));
        s->kdim = malloc((size_t)cap * d->d * sizeof *s->kdim);
        s->dim_row = malloc(spk_plane_row_bytes(cap, 12));
        if (!s->q || !s->qs || !s->k || !s->ks || !s->keys || !s->n || !s->held || !s->head_alive ||
            !s->row_hi || !s->row_lo || !s->scratch || !s->kdim || !s->dim_row) {
            spkdev_selection_free(s);
            return -1;
        }
        s->capacity = cap;
        s->n_capacity = d->n_queries;
        s->q_capacity = q_rows;
        s->group_capacity = group;
    }
    return 0;
}

/* The group's queries and the K/V head's K rows from device DRAM, as the golden layer holds them
 * (full codes from both planes, scale words). */
static int load_group(spkdev_selection *s, spkdev_read_fn read, void *ctx,
                      const spk_fw_layer_desc *d, const spk_head_config *cfg, uint32_t kvh) {
    const uint32_t D = d->d, group = d->n_heads / d->n_kv_heads, L = d->n_tokens;
    const uint64_t q0 = (uint64_t)kvh * group * d->n_queries, rows = (uint64_t)group * d->n_queries;
    if (read(ctx, d->q_addr + q0 * D * 2, s->q, (uint32_t)(rows * D * 2)) ||
        read(ctx, d->q_scale_addr + q0 * 4, s->qs, (uint32_t)(rows * 4)))
        return -1;
    const uint32_t hi = spk_plane_row_bytes(D, cfg->kv.msb_bits);
    const uint32_t lo = spk_plane_row_bytes(D, cfg->kv.lsb_bits);
    const uint64_t row0 = (uint64_t)kvh * d->kv_stride;
    for (uint32_t j = 0; j < L; j++) {
        const uint64_t r = row0 + j;
        if (read(ctx, d->k_msb_addr + r * hi, s->row_hi, hi) ||
            (lo && read(ctx, d->k_lsb_addr + r * lo, s->row_lo, lo)) ||
            read(ctx, d->k_scale_addr + r * 4, &s->ks[j], 4))
            return -1;
        spk_plane_unpack_row(s->row_hi, s->row_lo, D, cfg->kv, s->k + (size_t)j * D);
    }
    /* The first stage reads the dimension-major copy: each dimension's packed row of fields. */
    if (s->cfg.dims) {
        const uint32_t bits = cfg->kv.msb_bits, row = spk_plane_row_bytes(d->kv_stride, bits);
        const uint32_t used = spk_plane_row_bytes(L, bits);
        for (uint32_t x = 0; x < D; x++) {
            if (read(ctx, d->k_dim_addr + ((uint64_t)kvh * D + x) * row, s->dim_row, used))
                return -1;
            /* a row of L msb-bit fields: the plane packing with no LSB part */
            const spk_quant_profile fields = {(uint8_t)bits, 0};
            spk_plane_unpack_row(s->dim_row, NULL, L, fields, s->kdim + (size_t)x * L);
        }
    }
    s->view = (spk_layer_desc){.n_heads = group,
                               .n_kv_heads = 1,
                               .n_queries = d->n_queries,
                               .n_tokens = L,
                               .q = s->q,
                               .q_logit_scales = s->qs,
                               .k = s->k,
                               .k_scales = s->ks,
                               .causal = d->causal,
                               .layer = d->layer,
                               .k_dim_msb = s->cfg.dims ? s->kdim : NULL};
    return 0;
}

int spkdev_selection_group(spkdev_selection *s, spkdev_engine_impl *impl, spkdev_read_fn read,
                           void *read_ctx, const spk_fw_layer_desc *d, const spk_head_config *cfg,
                           uint32_t kvh, const uint8_t *head_alive, const uint32_t *keys,
                           uint32_t n_keys, spk_layer_stats *stats) {
    const uint32_t group = d->n_heads / d->n_kv_heads;
    if (load_group(s, read, read_ctx, d, cfg, kvh)) return -1;
    memcpy(s->head_alive, head_alive, group);
    for (uint32_t i = 0; i < d->n_queries; i++) {
        uint32_t n = n_keys;
        if (d->causal) {
            const uint32_t limit = d->n_tokens - d->n_queries + i;
            while (n > 0 && keys[n - 1] > limit) n--;
        }
        spk_select_events ev;
        if (spk_select_keys(&s->cfg, cfg, &s->view, s->head_alive, 0, i, keys, n,
                            s->keys + (size_t)i * s->capacity, &s->n[i], s->scratch,
                            &ev) != SPKSIM_OK)
            return -1;
        s->held[i] = ev.held; /* from list position 0: every selected key */
        stats->select_scored += ev.scored;
        stats->select_bytes += ev.score_bytes;
        stats->dram_bytes += ev.score_bytes;
        if ((ev.scored || ev.stage1) && impl->select_timing &&
            impl->select_timing(impl, &ev, kvh * group))
            return -1;
    }
    s->kvh = kvh;
    return 0;
}

void spkdev_selection_free(spkdev_selection *s) {
    free(s->q);
    free(s->qs);
    free(s->k);
    free(s->ks);
    free(s->keys);
    free(s->n);
    free(s->held);
    free(s->head_alive);
    free(s->row_hi);
    free(s->row_lo);
    free(s->scratch);
    free(s->kdim);
    free(s->dim_row);
    s->kdim = NULL;
    s->dim_row = NULL;
    s->q = s->k = NULL;
    s->qs = s->ks = NULL;
    s->keys = s->n = s->held = NULL;
    s->head_alive = s->row_hi = s->row_lo = NULL;
    s->scratch = NULL;
    s->capacity = s->n_capacity = s->group_capacity = 0;
    s->q_capacity = 0;
}
