/* One attention layer: every alive head, every query, over the alive tokens.
 * Normative text: docs/spec/datapath.md, "Layer". */
#include "spksim/layer.h"

#include <stdlib.h>
#include <string.h>

static spksim_status check_layer(const spk_head_config *cfg, const spk_layer_desc *l,
                                 const spk_prune_state *st, const spk_workspace *ws,
                                 const int32_t *out, const int32_t *out_exp) {
    if (spk_head_config_check(cfg) != SPKSIM_OK || !l || !st || !ws || !out || !out_exp)
        return SPKSIM_E_ARG;
    if (l->n_heads == 0 || l->n_kv_heads == 0 || l->n_heads % l->n_kv_heads != 0 ||
        l->n_queries == 0)
        return SPKSIM_E_ARG;
    if (l->n_heads != spk_prune_heads(st) || l->n_tokens != spk_prune_tokens(st))
        return SPKSIM_E_ARG;
    if (l->causal && l->n_queries > l->n_tokens) return SPKSIM_E_ARG;
    if (!l->q || !l->q_logit_scales ||
        (l->n_tokens && (!l->k || !l->k_scales || !l->v || !l->v_scales)))
        return SPKSIM_E_ARG;
    return SPKSIM_OK;
}

void spk_layer_stats_add(spk_layer_stats *s, const spk_head_events *ev) {
    s->requests++;
    s->keys_fetched += ev->keys_fetched;
    s->values_fetched += ev->values_fetched;
    s->requant_requests += ev->requant;
    s->key_msb_bytes += ev->key_msb_bytes;
    s->key_lsb_bytes += ev->key_lsb_bytes;
    s->value_bytes += ev->value_bytes;
    s->scale_bytes += ev->scale_bytes;
    s->dram_bytes += ev->key_msb_bytes + ev->key_lsb_bytes + ev->value_bytes + ev->scale_bytes;
}

/* Per K/V head, the tokens its heads fetch in this layer, in index order (without per-K/V-head
 * sets every list is the context's alive tokens). Returns the largest list length. */
static uint32_t collect_alive(const spk_prune_state *st, const spk_layer_desc *l, uint32_t *alive,
                              uint32_t *n_alive) {
    const uint32_t L = l->n_tokens;
    uint32_t most = 0;
    for (uint32_t g = 0; g < l->n_kv_heads; g++) {
        uint32_t *list = alive + (size_t)g * (L + 1u), n = 0;
        for (uint32_t j = 0; j < L; j++)
            if (spk_prune_kv_token_alive(st, l->layer, g, j)) list[n++] = j;
        n_alive[g] = n;
        if (n > most) most = n;
    }
    return most;
}

/* How many of the first n keys of a list query i may fetch (causal: not after its position). */
static uint32_t visible(const spk_layer_desc *l, uint32_t i, const uint32_t *keys, uint32_t n) {
    if (l->causal) {
        const uint32_t limit = l->n_tokens - l->n_queries + i; /* last visible token */
        while (n > 0 && keys[n - 1] > limit) n--;
    }
    return n;
}

/* The selections of K/V head kvh for every query (spec: "Per-step selection policy"), into
 * sel_keys[i * (L + 1)...] and sel_n[i]; the scoring stage's reads go into the stats. */
static spksim_status select_group(const spk_head_config *cfg, const spk_layer_desc *l,
                                  const uint8_t *head_alive, uint32_t kvh, const uint32_t *keys,
                                  uint32_t n_keys, uint32_t *sel_keys, uint32_t *sel_n,
                                  uint32_t *sel_held, void *scratch, spk_layer_stats *s) {
    for (uint32_t i = 0; i < l->n_queries; i++) {
        spk_select_events ev;
        spksim_status st_sel = spk_select_keys(
            l->select, cfg, l, head_alive, kvh, i, keys, visible(l, i, keys, n_keys),
            sel_keys + (size_t)i * (l->n_tokens + 1u), &sel_n[i], scratch, &ev);
        if (st_sel != SPKSIM_OK) return st_sel;
        sel_held[i] = ev.held;
        s->select_scored += ev.scored;
        s->select_bytes += ev.score_bytes;
        s->dram_bytes += ev.score_bytes;
    }
    return SPKSIM_OK;
}

spksim_status spk_layer_run(const spk_head_config *cfg, const spk_layer_desc *l,
                            spk_prune_state *st, spk_workspace *ws, int32_t *out, int32_t *out_exp,
                            spk_layer_stats *stats, spk_request_observer observer, void *user) {
    spksim_status status = check_layer(cfg, l, st, ws, out, out_exp);
    if (status != SPKSIM_OK) return status;
    const int per_kv = spk_prune_kv_layers(st) != 0;
    if (per_kv && (l->layer >= spk_prune_kv_layers(st) || l->n_kv_heads != spk_prune_kv_heads(st)))
        return SPKSIM_E_ARG;
    const uint32_t d = cfg->d, L = l->n_tokens, group = l->n_heads / l->n_kv_heads;
    const size_t lists = (size_t)l->n_kv_heads * (L + 1u);
    spk_layer_stats local = {0};
    spk_layer_stats *s = stats ? stats : &local;
    memset(s, 0, sizeof *s);
    s->heads_computed = spk_prune_alive_heads(st);

    uint32_t *alive = malloc(lists * sizeof *alive);
    uint32_t *n_alive = malloc(l->n_kv_heads * sizeof *n_alive);
    uint16_t *probs = malloc((L + 1u) * sizeof *probs);
    uint32_t *v_keys = malloc((L + 1u) * sizeof *v_keys);
    int32_t *logits = per_kv ? malloc((L + 1u) * sizeof *logits) : NULL;
    /* Last-step scores: the sum of the layer's final logits per (K/V head, token). */
    int64_t *score = per_kv ? calloc(lists, sizeof *score) : NULL;
    /* Importance is accumulated after all requests so every request of the layer sees the
     * same state, whatever order an implementation runs them in. */
    uint64_t *token_add = calloc(L + 1u, sizeof *token_add);
    uint64_t *head_add = calloc(l->n_heads, sizeof *head_add);
    /* Per-step selection: the current K/V head's selected keys per query (its heads share
     * them), computed at the group's first head. */
    const int selecting = l->select != NULL;
    uint32_t *sel_keys =
        selecting ? malloc((size_t)l->n_queries * (L + 1u) * sizeof *sel_keys) : NULL;
    uint32_t *sel_n = selecting ? malloc((size_t)l->n_queries * sizeof *sel_n) : NULL;
    uint32_t *sel_held = selecting ? malloc((size_t)l->n_queries * sizeof *sel_held) : NULL;
    void *sel_scratch = selecting ? malloc(spk_select_scratch_bytes(L, group)) : NULL;
    uint8_t *head_alive = selecting ? malloc(l->n_heads) : NULL;
    uint32_t sel_kvh = UINT32_MAX; /* the K/V head sel_keys holds */
    if (!alive || !n_alive || !probs || !v_keys || (per_kv && (!logits || !score)) || !token_add ||
        !head_add ||
        (selecting && (!sel_keys || !sel_n || !sel_held || !sel_scratch || !head_alive))) {
        status = SPKSIM_E_NOMEM;
        goto done;
    }
    s->tokens_alive = collect_alive(st, l, alive, n_alive);
    for (uint32_t h = 0; selecting && h < l->n_heads; h++)
        head_alive[h] = (uint8_t)spk_prune_head_alive(st, h);

    for (uint32_t h = 0; h < l->n_heads && status == SPKSIM_OK; h++) {
        const uint32_t kvh = h / group;
        const uint32_t *keys = alive + (size_t)kvh * (L + 1u);
        if (selecting && spk_prune_head_alive(st, h) && sel_kvh != kvh) {
            status = select_group(cfg, l, head_alive, kvh, keys, n_alive[kvh], sel_keys, sel_n,
                                  sel_held, sel_scratch, s);
            sel_kvh = kvh;
        }
        for (uint32_t i = 0; i < l->n_queries && status == SPKSIM_OK; i++) {
            const size_t qi = (size_t)h * l->n_queries + i;
            spk_head_result res = {
                .out = out + qi * d, .probs = probs, .v_keys = v_keys, .logits = logits};
            if (!spk_prune_head_alive(st, h)) {
                memset(res.out, 0, d * sizeof *res.out);
                out_exp[qi] = 0;
                continue;
            }
            uint32_t n = visible(l, i, keys, n_alive[kvh]);
            const uint32_t *fetch = keys;
            uint32_t held = 0;
            if (selecting) {
                fetch = sel_keys + (size_t)i * (L + 1u);
                n = sel_n[i];
                held = sel_held[i];
            }
            spk_head_request req = {
                .q = l->q + qi * d,
                .q_logit_scale = l->q_logit_scales[qi],
                .keys = fetch,
                .n_keys = n,
                .k_codes = l->k + (size_t)kvh * L * d,
                .k_scales = l->k_scales + (size_t)kvh * L,
                .v_codes = l->v + (size_t)kvh * L * d,
                .v_scales = l->v_scales + (size_t)kvh * L,
                .keys_held = held,
            };
            status = spk_head_run(cfg, &req, ws, &res);
            if (status != SPKSIM_OK) break;
            out_exp[qi] = res.out_exp;
            for (uint32_t j = 0; j < n; j++) {
                token_add[fetch[j]] = spk_importance_add(token_add[fetch[j]], probs[j]);
                if (score) score[(size_t)kvh * (L + 1u) + fetch[j]] += logits[j];
            }
            head_add[h] = spk_importance_add(head_add[h], res.head_importance);
            spk_layer_stats_add(s, &res.ev);
            if (observer) observer(user, h, i, &res);
        }
    }
    if (status == SPKSIM_OK) {
        for (uint32_t j = 0; j < L; j++) spk_prune_add_token(st, j, token_add[j]);
        for (uint32_t h = 0; h < l->n_heads; h++) spk_prune_add_head(st, h, head_add[h]);
        for (uint32_t g = 0; score && g < l->n_kv_heads && status == SPKSIM_OK; g++)
            status = spk_prune_set_kv_scores(st, l->layer, g, score + (size_t)g * (L + 1u));
    }
done:
    free(token_add);
    free(head_add);
    free(alive);
    free(n_alive);
    free(probs);
    free(v_keys);
    free(logits);
    free(score);
    free(sel_keys);
    free(sel_n);
    free(sel_held);
    free(sel_scratch);
    free(head_alive);
    return status;
}
