/* The per-step selection policy: which keys one (K/V head, query) fetches this step.
 * Normative text: docs/spec/datapath.md, "Per-step selection policy". */
#include <string.h>

#include "spksim/layer.h"

size_t spk_select_scratch_bytes(uint32_t n_candidates) {
    /* scores, the top-k's 2n scratch (int64); the unprotected list and the kept positions */
    const size_t n = (size_t)n_candidates + 1u;
    return n * 3u * sizeof(int64_t) + n * 2u * sizeof(uint32_t);
}

static uint32_t budget_of(spk_keep b, uint32_t n) {
    if (b.count) return b.count < n ? b.count : n;
    return spk_keep_count(n, b.ratio_q16);
}

/* S[j] of one unprotected candidate: the group's alive heads' logits of this query. */
static int64_t score_of(const spk_select_config *sel, const spk_head_config *cfg,
                        const spk_layer_desc *l, const uint8_t *head_alive, uint32_t kvh,
                        uint32_t query, uint32_t j) {
    const uint32_t d = cfg->d, group = l->n_heads / l->n_kv_heads;
    const int16_t *k = l->k + ((size_t)kvh * l->n_tokens + j) * d;
    const spk_scale ks = l->k_scales[(size_t)kvh * l->n_tokens + j];
    int64_t sum = 0;
    for (uint32_t h = kvh * group; h < (kvh + 1u) * group; h++) {
        if (head_alive && !head_alive[h]) continue;
        const size_t qi = (size_t)h * l->n_queries + query;
        const int16_t *q = l->q + qi * d;
        int64_t dot = 0;
        for (uint32_t t = 0; t < d; t++) {
            const int32_t c =
                sel->scoring == SPK_SELECT_MSB ? spk_code_msb_only(k[t], cfg->kv) : k[t];
            dot += (int64_t)q[t] * c;
        }
        sum += spk_logit(dot, l->q_logit_scales[qi], ks);
    }
    return sum;
}

spksim_status spk_select_keys(const spk_select_config *sel, const spk_head_config *cfg,
                              const spk_layer_desc *l, const uint8_t *head_alive, uint32_t kvh,
                              uint32_t query, const uint32_t *cand, uint32_t n, uint32_t *selected,
                              uint32_t *n_selected, void *scratch, spk_select_events *ev) {
    if (!sel || !cfg || !l || !n_selected || !ev || (n && (!cand || !selected || !scratch)))
        return SPKSIM_E_ARG;
    if (sel->budget.count == 0 &&
        (sel->budget.ratio_q16 == 0 || sel->budget.ratio_q16 > SPK_ONE_Q16))
        return SPKSIM_E_ARG;
    if (sel->scoring != SPK_SELECT_EXACT && sel->scoring != SPK_SELECT_MSB) return SPKSIM_E_ARG;
    if (kvh >= l->n_kv_heads || query >= l->n_queries) return SPKSIM_E_ARG;
    memset(ev, 0, sizeof *ev);
    ev->candidates = n;
    const uint32_t b = budget_of(sel->budget, n);
    if (b >= n) { /* every candidate: the request of a layer without selection */
        memcpy(selected, cand, (size_t)n * sizeof *cand);
        *n_selected = ev->selected = n;
        return SPKSIM_OK;
    }
    const uint32_t lim = l->causal ? l->n_tokens - l->n_queries + query : l->n_tokens - 1u;
    const size_t m1 = (size_t)n + 1u;
    int64_t *score = scratch, *topk_scratch = score + m1;
    uint32_t *open = (uint32_t *)(topk_scratch + 2u * m1), *kept = open + m1;
    uint32_t p = 0, m = 0;
    for (uint32_t x = 0; x < n; x++) {
        const uint32_t j = cand[x];
        if (j < sel->sinks || (uint64_t)j + sel->recent > lim)
            p++;
        else
            open[m++] = j;
    }
    uint32_t k = 0; /* unprotected keys that join the protected ones */
    if (b > p) {
        for (uint32_t x = 0; x < m; x++)
            score[x] = score_of(sel, cfg, l, head_alive, kvh, query, open[x]);
        const uint32_t P = cfg->topk_parallelism ? cfg->topk_parallelism : 1u;
        k = (uint32_t)spk_topk_quickselect(score, m, b - p, P, kept, topk_scratch, &ev->topk);
        ev->scored = m;
        const uint64_t row =
            (uint64_t)spk_plane_row_bytes(cfg->d, cfg->kv.msb_bits) +
            (sel->scoring == SPK_SELECT_EXACT ? spk_plane_row_bytes(cfg->d, cfg->kv.lsb_bits) : 0u);
        ev->score_bytes = (uint64_t)m * (4u + row);
    }
    /* Merge the protected candidates and the kept positions of the open list, in index order. */
    uint32_t out = 0, y = 0, x_open = 0;
    for (uint32_t x = 0; x < n; x++) {
        const uint32_t j = cand[x];
        if (j < sel->sinks || (uint64_t)j + sel->recent > lim) {
            selected[out++] = j;
        } else {
            if (y < k && kept[y] == x_open) {
                selected[out++] = j;
                y++;
            }
            x_open++;
        }
    }
    *n_selected = ev->selected = out;
    return SPKSIM_OK;
}
