/* The per-step selection policy: which keys one (K/V head, query) fetches this step.
 * Normative text: docs/spec/datapath.md, "Per-step selection policy". */
#include <stdlib.h>
#include <string.h>

#include "spksim/layer.h"

size_t spk_select_scratch_bytes(uint32_t n_candidates, uint32_t group) {
    /* scores, the top-k's 2n scratch (int64); the unprotected list, the kept positions, the
     * first stage's survivors, one head's exponentials, the group's logits per ranked row, its
     * head indices and one row's logits (32 bit); the group's gathered queries and one head's
     * probabilities (16 bit). Carved in this order by carve(). */
    const size_t n = (size_t)n_candidates + 1u, g = group ? group : 1u;
    return n * 3u * sizeof(int64_t) + (n * (4u + g) + 2u * g) * sizeof(uint32_t) +
           (g * SPK_MAX_D + n) * sizeof(int16_t);
}

static uint32_t budget_of(spk_keep b, uint32_t n) {
    if (b.count) return b.count < n ? b.count : n;
    return spk_keep_count(n, b.ratio_q16);
}

static int head_scores(const uint8_t *head_alive, uint32_t h) {
    return !head_alive || head_alive[h];
}

/* The group's query heads that score (alive), and each one's query values at the stage's
 * dimensions (dims NULL: all d), gathered once per selection so every row's dot product reads
 * contiguous values. */
typedef struct group_queries {
    uint32_t n;     /* heads that score */
    uint32_t width; /* values per row: r (first stage) or d */
    uint32_t shift; /* the dot products' scale: 2^lsb for the first stage */
    uint32_t *head; /* [group] their head indices */
    int16_t *q;     /* [group][d] */
    int32_t *row;   /* [group] one row's logits (stage_logits) */
} group_queries;

/* spk_select_keys()'s working arrays, carved from the caller's scratch (no allocation per
 * selection: a layer runs one per K/V head and query). */
typedef struct select_scratch {
    int64_t *score, *topk;       /* [n + 1], [2 (n + 1)] */
    uint32_t *open, *kept, *sub; /* [n + 1] each */
    uint32_t *ex;                /* [n + 1] one head's exponentials */
    int32_t *lg;                 /* [group][n + 1] the group's logits of the ranked rows */
    uint16_t *pr;                /* [n + 1] one head's probabilities */
    group_queries g;
} select_scratch;

static void carve(void *scratch, uint32_t n, uint32_t group, select_scratch *w) {
    const size_t m1 = (size_t)n + 1u;
    w->score = scratch;
    w->topk = w->score + m1;
    w->open = (uint32_t *)(w->topk + 2u * m1);
    w->kept = w->open + m1;
    w->sub = w->kept + m1;
    w->ex = w->sub + m1;
    w->lg = (int32_t *)(w->ex + m1);
    w->g.head = (uint32_t *)(w->lg + group * m1);
    w->g.row = (int32_t *)(w->g.head + group);
    w->g.q = (int16_t *)(w->g.row + group);
    w->pr = (uint16_t *)(w->g.q + (size_t)group * SPK_MAX_D);
}

static void gather_queries(const spk_head_config *cfg, const spk_layer_desc *l,
                           const uint8_t *head_alive, uint32_t kvh, uint32_t query,
                           const uint32_t *dims, uint32_t r, group_queries *g) {
    const uint32_t group = l->n_heads / l->n_kv_heads;
    g->n = 0;
    g->width = dims ? r : cfg->d;
    g->shift = dims ? cfg->kv.lsb_bits : 0u;
    for (uint32_t h = kvh * group; h < (kvh + 1u) * group; h++) {
        if (!head_scores(head_alive, h)) continue;
        const int16_t *q = l->q + ((size_t)h * l->n_queries + query) * cfg->d;
        int16_t *dst = g->q + (size_t)g->n * g->width;
        for (uint32_t y = 0; y < g->width; y++) dst[y] = q[dims ? dims[y] : y];
        g->head[g->n++] = h;
    }
}

/* The values a stage scores row j with, into v: the first stage's MSB fields at dims (its dot
 * products 2^lsb coarser, group_queries.shift), else the full codes or their MSB-plane values. */
static void stage_values(const spk_select_config *sel, const spk_head_config *cfg,
                         const spk_layer_desc *l, uint32_t kvh, const uint32_t *dims, uint32_t r,
                         uint32_t j, int16_t *v) {
    if (dims) {
        if (l->k_dim_msb) {
            const int16_t *base = l->k_dim_msb + (size_t)kvh * cfg->d * l->n_tokens + j;
            for (uint32_t y = 0; y < r; y++) v[y] = base[(size_t)dims[y] * l->n_tokens];
        } else {
            const int16_t *k = l->k + ((size_t)kvh * l->n_tokens + j) * cfg->d;
            for (uint32_t y = 0; y < r; y++) {
                int32_t hi;
                uint32_t lo;
                spk_code_split(k[dims[y]], cfg->kv, &hi, &lo);
                v[y] = (int16_t)hi;
            }
        }
        return;
    }
    const int16_t *k = l->k + ((size_t)kvh * l->n_tokens + j) * cfg->d;
    if (sel->scoring != SPK_SELECT_MSB) {
        memcpy(v, k, cfg->d * sizeof *v);
        return;
    }
    spk_codes_msb_only(k, cfg->d, cfg->kv, v);
}

/* Every scoring head's logit of row j (the query's logit scale word, the row's K scale word),
 * from one read of the row's values: lg[x * stride] for the x-th scoring head. */
static void row_logits(const spk_select_config *sel, const spk_head_config *cfg,
                       const spk_layer_desc *l, uint32_t kvh, uint32_t query, const uint32_t *dims,
                       uint32_t r, const group_queries *g, uint32_t j, int32_t *lg, size_t stride) {
    int16_t v[SPK_MAX_D];
    stage_values(sel, cfg, l, kvh, dims, r, j, v);
    const spk_scale ks = l->k_scales[(size_t)kvh * l->n_tokens + j];
    for (uint32_t x = 0; x < g->n; x++) {
        const int64_t dot = spk_dot32(g->q + (size_t)x * g->width, v, g->width);
        lg[x * stride] =
            spk_logit(dot * ((int64_t)1 << g->shift),
                      l->q_logit_scales[(size_t)g->head[x] * l->n_queries + query], ks);
    }
}

/* A stage's logit-sum score of row j: A[j] at the first stage's dims (dims != NULL), else S[j]
 * from the full codes or their MSB-plane values. */
static int64_t stage_logits(const spk_select_config *sel, const spk_head_config *cfg,
                            const spk_layer_desc *l, uint32_t kvh, uint32_t query,
                            const uint32_t *dims, uint32_t r, const group_queries *g, uint32_t j) {
    row_logits(sel, cfg, l, kvh, query, dims, r, g, j, g->row, 1);
    int64_t sum = 0;
    for (uint32_t x = 0; x < g->n; x++) sum += g->row[x];
    return sum;
}

/* The probability-sum score of the final ranking: S[x] = sum over the group's alive heads h of
 * floor(2^32 e_h[x] / sum_y e_h[y]), e_h the softmax exponentials (spk_softmax) of head h's
 * logits over the ranked rows rows[0..cnt). A key one head needs sharply is not outvoted by
 * the logits of the others. lg holds g->n * cnt logits. */
static void prob_scores(const spk_select_config *sel, const spk_head_config *cfg,
                        const spk_layer_desc *l, uint32_t kvh, uint32_t query, const uint32_t *dims,
                        uint32_t r, const group_queries *g, const uint32_t *rows, uint32_t cnt,
                        int64_t *score, int32_t *lg, uint32_t *ex, uint16_t *pr) {
    for (uint32_t x = 0; x < cnt; x++) {
        score[x] = 0;
        row_logits(sel, cfg, l, kvh, query, dims, r, g, rows[x], lg + x, cnt);
    }
    for (uint32_t h = 0; h < g->n; h++) {
        const int32_t *lh = lg + (size_t)h * cnt;
        spk_softmax(lh, cnt, ex, pr);
        uint64_t sum = 0;
        for (uint32_t x = 0; x < cnt; x++) sum += ex[x];
        for (uint32_t x = 0; x < cnt; x++)
            score[x] += (int64_t)((((uint64_t)ex[x]) << 32) / (sum ? sum : 1u));
    }
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

/* Rank the m unprotected candidates open[] and keep the best want (positions into open, increasing,
 * in kept[0..*k)): the scan, or the first stage then, with candidates_x16, the second stage on its
 * best. Fills the events' stage and top-k fields. */
static void rank(const spk_select_config *sel, const spk_head_config *cfg, const spk_layer_desc *l,
                 const uint8_t *head_alive, uint32_t kvh, uint32_t query, uint32_t lim, uint32_t m,
                 uint32_t want, select_scratch *w, spk_select_events *ev, uint32_t *k) {
    const uint32_t P = cfg->topk_parallelism ? cfg->topk_parallelism : 1u;
    const int probs = sel->combine == SPK_SELECT_SUM_PROBS;
    int64_t *score = w->score, *topk_scratch = w->topk;
    const uint32_t *open = w->open;
    uint32_t *kept = w->kept, *sub = w->sub, *ex = w->ex;
    int32_t *lg = w->lg;
    uint16_t *pr = w->pr;
    group_queries *g = &w->g;
    if (sel->dims) {
        uint32_t dims[SPK_MAX_D];
        const uint32_t r = first_dims(sel, cfg, l, head_alive, kvh, query, dims);
        gather_queries(cfg, l, head_alive, kvh, query, dims, r, g);
        if (probs && !sel->candidates_x16) /* the first stage ranks last */
            prob_scores(sel, cfg, l, kvh, query, dims, r, g, open, m, score, lg, ex, pr);
        else
            for (uint32_t x = 0; x < m; x++)
                score[x] = stage_logits(sel, cfg, l, kvh, query, dims, r, g, open[x]);
        ev->stage1 = m;
        ev->dims = r;
        ev->stage1_bytes = (uint64_t)r * spk_plane_row_bytes(lim + 1u, cfg->kv.msb_bits) + 4ull * m;
        if (!sel->candidates_x16) {
            *k = (uint32_t)spk_topk_quickselect(score, m, want, P, kept, topk_scratch, &ev->topk1);
            return;
        }
        const uint64_t c64 = ((uint64_t)want * sel->candidates_x16 + 15u) / 16u;
        const uint32_t c = c64 < m ? (uint32_t)c64 : m;
        const uint32_t nc =
            (uint32_t)spk_topk_quickselect(score, m, c, P, sub, topk_scratch, &ev->topk1);
        gather_queries(cfg, l, head_alive, kvh, query, NULL, 0, g);
        if (probs) {
            for (uint32_t y = 0; y < nc; y++) kept[y] = open[sub[y]]; /* free until the top-k */
            prob_scores(sel, cfg, l, kvh, query, NULL, 0, g, kept, nc, score, lg, ex, pr);
        } else {
            for (uint32_t y = 0; y < nc; y++)
                score[y] = stage_logits(sel, cfg, l, kvh, query, NULL, 0, g, open[sub[y]]);
        }
        *k = (uint32_t)spk_topk_quickselect(score, nc, want, P, kept, topk_scratch, &ev->topk);
        for (uint32_t y = 0; y < *k; y++) kept[y] = sub[kept[y]]; /* still increasing */
        ev->scored = nc;
        return;
    }
    gather_queries(cfg, l, head_alive, kvh, query, NULL, 0, g);
    if (probs)
        prob_scores(sel, cfg, l, kvh, query, NULL, 0, g, open, m, score, lg, ex, pr);
    else
        for (uint32_t x = 0; x < m; x++)
            score[x] = stage_logits(sel, cfg, l, kvh, query, NULL, 0, g, open[x]);
    *k = (uint32_t)spk_topk_quickselect(score, m, want, P, kept, topk_scratch, &ev->topk);
    ev->scored = m;
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
    select_scratch w;
    carve(scratch, n, l->n_heads / l->n_kv_heads, &w);
    uint32_t *open = w.open, *kept = w.kept;
    uint32_t p = 0, m = 0;
    for (uint32_t x = 0; x < n; x++) {
        const uint32_t j = cand[x];
        if (j < sel->sinks || (uint64_t)j + sel->recent > lim)
            p++;
        else
            open[m++] = j;
    }
    const uint64_t row_msb = spk_plane_row_bytes(cfg->d, cfg->kv.msb_bits);
    const uint64_t row =
        row_msb +
        (sel->scoring == SPK_SELECT_EXACT ? spk_plane_row_bytes(cfg->d, cfg->kv.lsb_bits) : 0u);
    uint32_t k = 0; /* unprotected keys that join the protected ones: open[kept[0..k)] */
    if (b > p) rank(sel, cfg, l, head_alive, kvh, query, lim, m, b - p, &w, ev, &k);
    ev->score_bytes = ev->stage1_bytes + (uint64_t)ev->scored * (4u + row);
    ev->both_planes = (uint8_t)(ev->scored && sel->scoring == SPK_SELECT_EXACT && cfg->kv.lsb_bits);
    /* Held rows: when the final ranking read full rows, it also reads the protected candidates'
     * MSB rows, and the requests take every selected key's MSB-pass logit from its dot
     * products instead of reading the rows once more per head. */
    const int hold = sel->hold && ev->scored;
    if (hold) {
        ev->protected_read = p;
        ev->score_bytes += (uint64_t)p * (4u + row_msb);
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
    ev->held = hold ? out : 0;
    *n_selected = ev->selected = out;
    return SPKSIM_OK;
}
