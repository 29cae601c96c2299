/* The per-step selection policy: which keys one (K/V head, query) fetches this step.
 * Normative text: docs/spec/datapath.md, "Per-step selection policy". */
#include <stdlib.h>
#include <string.h>

#include "spksim/layer.h"

size_t spk_select_scratch_bytes(uint32_t n_candidates) {
    /* scores, the top-k's 2n scratch (int64); the unprotected list, the kept positions, the
     * first stage's survivors, one head's logits and exponentials (32 bit) and probabilities
     * (16 bit), the last three for the probability sum */
    const size_t n = (size_t)n_candidates + 1u;
    return n * 3u * sizeof(int64_t) + n * 5u * sizeof(uint32_t) + n * sizeof(uint16_t);
}

static uint32_t budget_of(spk_keep b, uint32_t n) {
    if (b.count) return b.count < n ? b.count : n;
    return spk_keep_count(n, b.ratio_q16);
}

static int head_scores(const uint8_t *head_alive, uint32_t h) {
    return !head_alive || head_alive[h];
}

/* The logit of query @p query of head h against row j with the values v[0..r) at dimensions
 * dims[0..r) (NULL: dimensions 0..r-1), the dot product scaled by 2^shift. */
static int32_t head_logit(const spk_head_config *cfg, const spk_layer_desc *l, uint32_t h,
                          uint32_t kvh, uint32_t query, uint32_t j, const uint32_t *dims,
                          const int16_t *v, uint32_t r, uint32_t shift) {
    const size_t qi = (size_t)h * l->n_queries + query;
    const int16_t *q = l->q + qi * cfg->d;
    /* 32 bits, as the QK dot product (docs/spec/datapath.md, "Number formats"); wrapping, not
     * overflowing, for out-of-range codes. */
    uint32_t acc = 0;
    if (dims)
        for (uint32_t y = 0; y < r; y++) acc += (uint32_t)(q[dims[y]] * v[y]);
    else
        for (uint32_t y = 0; y < r; y++) acc += (uint32_t)(q[y] * v[y]);
    const int64_t dot = acc >= 0x80000000u ? (int64_t)acc - 0x100000000ll : (int64_t)acc;
    return spk_logit(dot * ((int64_t)1 << shift), l->q_logit_scales[qi],
                     l->k_scales[(size_t)kvh * l->n_tokens + j]);
}

/* The sum over the group's alive heads of head_logit(): both stages' logit score ("Per-step
 * selection policy"). */
static int64_t group_logits(const spk_head_config *cfg, const spk_layer_desc *l,
                            const uint8_t *head_alive, uint32_t kvh, uint32_t query, uint32_t j,
                            const uint32_t *dims, const int16_t *v, uint32_t r, uint32_t shift) {
    const uint32_t group = l->n_heads / l->n_kv_heads;
    int64_t sum = 0;
    for (uint32_t h = kvh * group; h < (kvh + 1u) * group; h++)
        if (head_scores(head_alive, h))
            sum += head_logit(cfg, l, h, kvh, query, j, dims, v, r, shift);
    return sum;
}

/* The values the second stage scores row j with: the full codes (the row itself), or their
 * MSB-plane values (into c). */
static const int16_t *score_values(const spk_select_config *sel, const spk_head_config *cfg,
                                   const spk_layer_desc *l, uint32_t kvh, uint32_t j, int16_t *c) {
    const int16_t *k = l->k + ((size_t)kvh * l->n_tokens + j) * cfg->d;
    if (sel->scoring != SPK_SELECT_MSB) return k;
    for (uint32_t t = 0; t < cfg->d; t++) c[t] = (int16_t)spk_code_msb_only(k[t], cfg->kv);
    return c;
}

/* The MSB-plane field of dimension x of token j: from the dimension-major copy when the layer
 * has one, else from the code. */
static int32_t msb_field(const spk_head_config *cfg, const spk_layer_desc *l, uint32_t kvh,
                         uint32_t x, uint32_t j) {
    if (l->k_dim_msb) return l->k_dim_msb[((size_t)kvh * cfg->d + x) * l->n_tokens + j];
    int32_t hi;
    uint32_t lo;
    spk_code_split(l->k[((size_t)kvh * l->n_tokens + j) * cfg->d + x], cfg->kv, &hi, &lo);
    return hi;
}

/* The first stage's dimensions: the top r of the group's summed |q| (ties to the lower one),
 * increasing, into dims; returns r. */
static uint32_t first_dims(const spk_select_config *sel, const spk_head_config *cfg,
                           const spk_layer_desc *l, const uint8_t *head_alive, uint32_t kvh,
                           uint32_t query, uint32_t *dims) {
    const uint32_t d = cfg->d, group = l->n_heads / l->n_kv_heads;
    int64_t a[SPK_MAX_D], scratch[2 * SPK_MAX_D];
    for (uint32_t x = 0; x < d; x++) {
        a[x] = 0;
        for (uint32_t h = kvh * group; h < (kvh + 1u) * group; h++)
            if (head_scores(head_alive, h))
                a[x] += abs(l->q[((size_t)h * l->n_queries + query) * d + x]);
    }
    return (uint32_t)spk_topk_select(a, d, sel->dims < d ? sel->dims : d, dims, scratch);
}

/* The values one stage scores row j with (in v, or the row itself): the first stage's MSB
 * fields at dims (its dot products 2^lsb coarser: *shift), else score_values(). */
static const int16_t *stage_values(const spk_select_config *sel, const spk_head_config *cfg,
                                   const spk_layer_desc *l, uint32_t kvh, const uint32_t *dims,
                                   uint32_t r, uint32_t j, int16_t *v, uint32_t *shift) {
    if (dims) {
        for (uint32_t y = 0; y < r; y++) v[y] = (int16_t)msb_field(cfg, l, kvh, dims[y], j);
        *shift = cfg->kv.lsb_bits;
        return v;
    }
    *shift = 0;
    return score_values(sel, cfg, l, kvh, j, v);
}

/* A stage's logit-sum score of row j: A[j] at the first stage's dims (dims != NULL), else S[j]
 * from the full codes or their MSB-plane values. */
static int64_t stage_logits(const spk_select_config *sel, const spk_head_config *cfg,
                            const spk_layer_desc *l, const uint8_t *head_alive, uint32_t kvh,
                            uint32_t query, const uint32_t *dims, uint32_t r, uint32_t j) {
    int16_t buf[SPK_MAX_D];
    uint32_t shift = 0;
    const int16_t *v = stage_values(sel, cfg, l, kvh, dims, r, j, buf, &shift);
    return group_logits(cfg, l, head_alive, kvh, query, j, dims, v, dims ? r : cfg->d, shift);
}

/* The probability-sum score of the final ranking: S[x] = sum over the group's alive heads h of
 * floor(2^32 e_h[x] / sum_y e_h[y]), e_h the softmax exponentials (spk_softmax) of head h's
 * logits over the ranked rows rows[0..cnt). A key one head needs sharply is not outvoted by
 * the logits of the others. dims = NULL: the second stage's values. */
static void prob_scores(const spk_select_config *sel, const spk_head_config *cfg,
                        const spk_layer_desc *l, const uint8_t *head_alive, uint32_t kvh,
                        uint32_t query, const uint32_t *dims, uint32_t r, const uint32_t *rows,
                        uint32_t cnt, int64_t *score, int32_t *lg, uint32_t *ex, uint16_t *pr) {
    const uint32_t group = l->n_heads / l->n_kv_heads, width = dims ? r : cfg->d;
    int16_t buf[SPK_MAX_D];
    uint32_t shift = 0;
    for (uint32_t x = 0; x < cnt; x++) score[x] = 0;
    for (uint32_t h = kvh * group; h < (kvh + 1u) * group; h++) {
        if (!head_scores(head_alive, h)) continue;
        for (uint32_t x = 0; x < cnt; x++) {
            const int16_t *v = stage_values(sel, cfg, l, kvh, dims, r, rows[x], buf, &shift);
            lg[x] = head_logit(cfg, l, h, kvh, query, rows[x], dims, v, width, shift);
        }
        spk_softmax(lg, cnt, ex, pr);
        uint64_t sum = 0;
        for (uint32_t x = 0; x < cnt; x++) sum += ex[x];
        for (uint32_t x = 0; x < cnt; x++)
            score[x] += (int64_t)((((uint64_t)ex[x]) << 32) / (sum ? sum : 1u));
    }
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
    if (sel->combine != SPK_SELECT_SUM_LOGITS && sel->combine != SPK_SELECT_SUM_PROBS)
        return SPKSIM_E_ARG;
    if ((sel->candidates_x16 && (sel->candidates_x16 < 16 || !sel->dims)) || cfg->d > SPK_MAX_D)
        return SPKSIM_E_ARG;
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
    uint32_t *open = (uint32_t *)(topk_scratch + 2u * m1), *kept = open + m1, *sub = kept + m1;
    int32_t *lg = (int32_t *)(sub + m1);
    uint32_t *ex = (uint32_t *)(lg + m1);
    uint16_t *pr = (uint16_t *)(ex + m1);
    const int probs = sel->combine == SPK_SELECT_SUM_PROBS;
    uint32_t p = 0, m = 0;
    for (uint32_t x = 0; x < n; x++) {
        const uint32_t j = cand[x];
        if (j < sel->sinks || (uint64_t)j + sel->recent > lim)
            p++;
        else
            open[m++] = j;
    }
    const uint32_t P = cfg->topk_parallelism ? cfg->topk_parallelism : 1u;
    const uint64_t row_msb = spk_plane_row_bytes(cfg->d, cfg->kv.msb_bits);
    const uint64_t row =
        row_msb +
        (sel->scoring == SPK_SELECT_EXACT ? spk_plane_row_bytes(cfg->d, cfg->kv.lsb_bits) : 0u);
    uint32_t k = 0; /* unprotected keys that join the protected ones: open[kept[0..k)] */
    if (b > p && sel->dims) {
        uint32_t dims[SPK_MAX_D];
        const uint32_t r = first_dims(sel, cfg, l, head_alive, kvh, query, dims);
        if (probs && !sel->candidates_x16) /* the first stage ranks last */
            prob_scores(sel, cfg, l, head_alive, kvh, query, dims, r, open, m, score, lg, ex, pr);
        else
            for (uint32_t x = 0; x < m; x++)
                score[x] = stage_logits(sel, cfg, l, head_alive, kvh, query, dims, r, open[x]);
        ev->stage1 = m;
        ev->dims = r;
        ev->stage1_bytes = (uint64_t)r * spk_plane_row_bytes(lim + 1u, cfg->kv.msb_bits) + 4ull * m;
        const uint32_t want = b - p;
        if (!sel->candidates_x16) {
            k = (uint32_t)spk_topk_quickselect(score, m, want, P, kept, topk_scratch, &ev->topk1);
        } else {
            const uint64_t c64 = ((uint64_t)want * sel->candidates_x16 + 15u) / 16u;
            const uint32_t c = c64 < m ? (uint32_t)c64 : m;
            const uint32_t nc =
                (uint32_t)spk_topk_quickselect(score, m, c, P, sub, topk_scratch, &ev->topk1);
            if (probs) {
                for (uint32_t y = 0; y < nc; y++) kept[y] = open[sub[y]]; /* free until the top-k */
                prob_scores(sel, cfg, l, head_alive, kvh, query, NULL, 0, kept, nc, score, lg, ex,
                            pr);
            } else {
                for (uint32_t y = 0; y < nc; y++)
                    score[y] =
                        stage_logits(sel, cfg, l, head_alive, kvh, query, NULL, 0, open[sub[y]]);
            }
            k = (uint32_t)spk_topk_quickselect(score, nc, want, P, kept, topk_scratch, &ev->topk);
            for (uint32_t y = 0; y < k; y++) kept[y] = sub[kept[y]]; /* still increasing */
            ev->scored = nc;
        }
    } else if (b > p) {
        if (probs)
            prob_scores(sel, cfg, l, head_alive, kvh, query, NULL, 0, open, m, score, lg, ex, pr);
        else
            for (uint32_t x = 0; x < m; x++)
                score[x] = stage_logits(sel, cfg, l, head_alive, kvh, query, NULL, 0, open[x]);
        k = (uint32_t)spk_topk_quickselect(score, m, b - p, P, kept, topk_scratch, &ev->topk);
        ev->scored = m;
    }
    ev->score_bytes = ev->stage1_bytes + (uint64_t)ev->scored * (4u + row);
    ev->both_planes = (uint8_t)(ev->scored && sel->scoring == SPK_SELECT_EXACT && cfg->kv.lsb_bits);
    /* Merge the protected candidates and the kept positions of the open list, in index order.
     * The kept keys are contiguous there (the protected ones are the first and last
     * candidates): with hold, the requests take them from the final ranking's dot products when
     * it read their full rows ("Held rows"). */
    uint32_t out = 0, y = 0, x_open = 0;
    for (uint32_t x = 0; x < n; x++) {
        const uint32_t j = cand[x];
        if (j < sel->sinks || (uint64_t)j + sel->recent > lim) {
            selected[out++] = j;
        } else {
            if (y < k && kept[y] == x_open) {
                if (y == 0) ev->held_first = out;
                selected[out++] = j;
                y++;
            }
            x_open++;
        }
    }
    ev->held = sel->hold && ev->scored ? k : 0;
    if (!ev->held) ev->held_first = 0;
    *n_selected = ev->selected = out;
    return SPKSIM_OK;
}
