/* The engine operations (docs/firmware.md, "Engine"). The firmware sequences them; this file
 * does the work the datapath would do, reading and writing device DRAM only through ranges
 * that lie inside allocated buffer objects. A head operation builds its requests exactly as the
 * golden model's spk_layer_run() does, so running the heads one by one under firmware control
 * gives the same bits. */
#include "engine.h"

#include <stdlib.h>
#include <string.h>

#include "attn.h"
#include "device.h"
#include "spk/fw_abi.h"

static uint32_t eng_error(uint32_t reason) {
    return 1u << SPK_ENG_STATUS_ERROR_BIT | 1u << SPK_ENG_STATUS_DONE_BIT |
           (reason & SPK_ENG_STATUS_REASON_MASK) << SPK_ENG_STATUS_REASON_OFFSET;
}

static const uint32_t eng_done = 1u << SPK_ENG_STATUS_DONE_BIT;

void spk_engine_release(spk_engine *eng) {
    spk_timing_destroy(eng->timing);
    free(eng->alive);
    free(eng->probs);
    free(eng->v_keys);
    free(eng->logits);
    free(eng->score_add);
    free(eng->n_alive);
    free(eng->token_add);
    free(eng->head_add);
    memset(eng, 0, sizeof(*eng));
}

/* A typed pointer to @p count elements of @p elem bytes at @p addr, or NULL if the range is not
 * inside one buffer object or not aligned for the element type. */
static void *dma(spk_device *dev, uint32_t addr, uint64_t count, uint32_t elem) {
    if (addr % elem) return NULL;
    return spk_dev_dram(dev, addr, count * elem);
}

/* Size the per-layer arrays for @p tokens tokens, @p heads heads and @p kv_heads K/V heads
 * (contexts differ). */
static int grow(spk_engine *eng, uint32_t tokens, uint32_t heads, uint32_t kv_heads) {
    const uint32_t cap = tokens + 1u, head_cap = heads + 1u, kv_cap = kv_heads + 1u;
    if (cap <= eng->capacity && head_cap <= eng->head_capacity && kv_cap <= eng->kv_capacity)
        return 0;
    free(eng->alive);
    free(eng->n_alive);
    free(eng->probs);
    free(eng->v_keys);
    free(eng->logits);
    free(eng->score_add);
    free(eng->token_add);
    free(eng->head_add);
    const size_t lists = (size_t)cap * kv_cap;
    eng->alive = malloc(lists * sizeof(*eng->alive));
    eng->n_alive = malloc(kv_cap * sizeof(*eng->n_alive));
    eng->probs = malloc(cap * sizeof(*eng->probs));
    eng->v_keys = malloc(cap * sizeof(*eng->v_keys));
    eng->logits = malloc(cap * sizeof(*eng->logits));
    eng->score_add = malloc(lists * sizeof(*eng->score_add));
    eng->token_add = malloc(cap * sizeof(*eng->token_add));
    eng->head_add = malloc(head_cap * sizeof(*eng->head_add));
    const int ok = eng->alive && eng->n_alive && eng->probs && eng->v_keys && eng->logits &&
                   eng->score_add && eng->token_add && eng->head_add;
    eng->capacity = ok ? cap : 0;
    eng->head_capacity = ok ? head_cap : 0;
    eng->kv_capacity = ok ? kv_cap : 0;
    return ok ? 0 : -1;
}

/* Per K/V head, the tokens its heads fetch (as spk_layer_run() collects them). */
static void collect_alive(spk_engine *eng) {
    const spk_prune_state *st = eng->ctx->prune;
    const spk_layer_desc *l = &eng->layer;
    uint32_t most = 0;
    for (uint32_t g = 0; g < l->n_kv_heads; g++) {
        uint32_t *list = eng->alive + (size_t)g * eng->capacity, n = 0;
        for (uint32_t j = 0; j < l->n_tokens; j++)
            if (spk_prune_kv_token_alive(st, l->layer, g, j)) list[n++] = j;
        eng->n_alive[g] = n;
        if (n > most) most = n;
    }
    eng->stats.heads_computed = spk_prune_alive_heads(st);
    eng->stats.tokens_alive = most;
}

/* LAYER_BEGIN: read and check the descriptor, resolve every array through the DMA check. */
static uint32_t layer_begin(spk_device *dev, uint32_t desc_addr) {
    spk_engine *eng = &dev->engine;
    const spk_fw_layer_desc *d = dma(dev, desc_addr, sizeof(spk_fw_layer_desc) / 4, 4);
    if (!d) return eng_error(SPK_ERR_DMA);
    spk_attn *ctx = spk_attn_by_id(dev, d->context);
    if (!ctx || d->size != sizeof(*d)) return eng_error(SPK_ERR_ENGINE);
    const uint32_t H = d->n_heads, KH = d->n_kv_heads, nq = d->n_queries, L = d->n_tokens;
    spk_head_config cfg = {.d = d->d,
                           .kv = {(uint8_t)d->msb_bits, (uint8_t)d->lsb_bits},
                           .requant_threshold = d->requant_threshold,
                           .v_keep_q16 = d->v_keep_q16,
                           .topk_parallelism = dev->csr[SPK_PARAM_TOPK_REG_OFFSET / 4]};
    if (d->msb_bits > 12 || d->lsb_bits > 12 || spk_head_config_check(&cfg) != SPKSIM_OK ||
        H != spk_prune_heads(ctx->prune) || L != spk_prune_tokens(ctx->prune) || KH == 0 ||
        H % KH || nq == 0 || d->kv_stride < L || (d->causal && nq > L) || d->d > SPK_MAX_D ||
        L > dev->csr[SPK_PARAM_MAX_KEYS_REG_OFFSET / 4])
        return eng_error(SPK_ERR_ENGINE);
    const uint64_t kv_rows = (uint64_t)KH * d->kv_stride, q_rows = (uint64_t)H * nq;
    spk_layer_desc l = {
        .n_heads = H,
        .n_kv_heads = KH,
        .n_queries = nq,
        .n_tokens = L,
        .q = dma(dev, d->q_addr, q_rows * d->d, 2),
        .q_logit_scales = dma(dev, d->q_scale_addr, q_rows, 4),
        .k = dma(dev, d->k_addr, kv_rows * d->d, 2),
        .k_scales = dma(dev, d->k_scale_addr, kv_rows, 4),
        .v = dma(dev, d->v_addr, kv_rows * d->d, 2),
        .v_scales = dma(dev, d->v_scale_addr, kv_rows, 4),
        .causal = d->causal,
        .layer = d->layer,
    };
    int32_t *out = dma(dev, d->out_addr, q_rows * d->d, 4);
    int32_t *out_exp = dma(dev, d->out_exp_addr, q_rows, 4);
    if (!l.q || !l.q_logit_scales || !l.k || !l.k_scales || !l.v || !l.v_scales || !out || !out_exp)
        return eng_error(SPK_ERR_DMA);
    if (spk_prune_kv_layers(ctx->prune) &&
        (d->layer >= spk_prune_kv_layers(ctx->prune) || KH != spk_prune_kv_heads(ctx->prune)))
        return eng_error(SPK_ERR_ENGINE);
    if (grow(eng, L, H, KH)) return eng_error(SPK_ERR_ENGINE);
    eng->in_layer = ENG_OPEN;
    eng->ctx = ctx;
    eng->cfg = cfg;
    eng->layer = l;
    eng->kv_stride = d->kv_stride;
    eng->out = out;
    eng->out_exp = out_exp;
    memset(eng->token_add, 0, (L + 1u) * sizeof(*eng->token_add));
    memset(eng->head_add, 0, (H + 1u) * sizeof(*eng->head_add));
    memset(eng->score_add, 0, (size_t)eng->capacity * KH * sizeof(*eng->score_add));
    memset(&eng->stats, 0, sizeof(eng->stats));
    eng->layer_index = d->layer;
    if (eng->timing) spk_timing_reset(eng->timing);
    collect_alive(eng);
    return eng_done;
}

/* HEAD: every query of head h, as spk_layer_run() builds them (sim/golden/layer.c). */
static uint32_t run_head(spk_engine *eng, uint32_t h) {
    const spk_layer_desc *l = &eng->layer;
    const uint32_t d = eng->cfg.d, L = l->n_tokens, S = eng->kv_stride;
    if (h >= l->n_heads) return eng_error(SPK_ERR_ENGINE);
    const uint32_t kvh = h / (l->n_heads / l->n_kv_heads);
    const int alive = spk_prune_head_alive(eng->ctx->prune, h);
    const uint32_t *keys = eng->alive + (size_t)kvh * eng->capacity;
    int64_t *score = eng->score_add + (size_t)kvh * eng->capacity;
    for (uint32_t i = 0; i < l->n_queries; i++) {
        const size_t qi = (size_t)h * l->n_queries + i;
        spk_head_result res = {.out = eng->out + qi * d,
                               .probs = eng->probs,
                               .v_keys = eng->v_keys,
                               .logits = eng->logits};
        if (!alive) {
            memset(res.out, 0, d * sizeof(*res.out));
            eng->out_exp[qi] = 0;
            continue;
        }
        uint32_t n = eng->n_alive[kvh];
        if (l->causal) {
            const uint32_t limit = L - l->n_queries + i;
            while (n > 0 && keys[n - 1] > limit) n--;
        }
        spk_head_request req = {
            .q = l->q + qi * d,
            .q_logit_scale = l->q_logit_scales[qi],
            .keys = keys,
            .n_keys = n,
            .k_codes = l->k + (size_t)kvh * S * d,
            .k_scales = l->k_scales + (size_t)kvh * S,
            .v_codes = l->v + (size_t)kvh * S * d,
            .v_scales = l->v_scales + (size_t)kvh * S,
        };
        if (spk_head_run(&eng->cfg, &req, eng->ctx->ws, &res) != SPKSIM_OK)
            return eng_error(SPK_ERR_ENGINE);
        eng->out_exp[qi] = res.out_exp;
        for (uint32_t j = 0; j < n; j++) {
            eng->token_add[keys[j]] = spk_importance_add(eng->token_add[keys[j]], res.probs[j]);
            score[keys[j]] += eng->logits[j];
        }
        eng->head_add[h] = spk_importance_add(eng->head_add[h], res.head_importance);
        spk_layer_stats_add(&eng->stats, &res.ev);
        if (eng->timing &&
            spk_timing_record(eng->timing, &eng->cfg, &res.ev, eng->layer_index, h, L))
            return eng_error(SPK_ERR_ENGINE);
    }
    return eng_done;
}

static uint32_t prune(spk_device *dev) {
    spk_engine *eng = &dev->engine;
    uint32_t tokens = dev->csr[SPK_ENG_KEEP_TOKENS_REG_OFFSET / 4];
    uint32_t heads = dev->csr[SPK_ENG_KEEP_HEADS_REG_OFFSET / 4];
    /* A zero count keeps everything (there is nothing alive to choose from). */
    spk_keep kt = {tokens, SPK_ONE_Q16}, kh = {heads, SPK_ONE_Q16};
    /* The protection windows and head grouping come from the layer's descriptor. */
    const spk_fw_layer_desc *d =
        dma(dev, dev->csr[SPK_ENG_DESC_REG_OFFSET / 4], sizeof(spk_fw_layer_desc) / 4, 4);
    if (!d) return eng_error(SPK_ERR_DMA);
    const spk_prune_window w = {d->token_sinks, d->token_recent, d->head_group};
    if (spk_prune_keep_policy(eng->ctx->prune, (spk_prune_policy)d->token_policy, d->layer, kt, kh,
                              &w, NULL, NULL) != SPKSIM_OK)
        return eng_error(SPK_ERR_ENGINE);
    eng->in_layer = ENG_IDLE;
    return eng_done;
}

static uint32_t layer_end(spk_engine *eng) {
    const spk_layer_desc *l = &eng->layer;
    eng->cycles = 0;
    eng->energy_pj = -1.0;
    if (eng->timing && spk_timing_run(eng->timing, &eng->cycles, &eng->energy_pj))
        return eng_error(SPK_ERR_ENGINE);
    for (uint32_t j = 0; j < l->n_tokens; j++)
        spk_prune_add_token(eng->ctx->prune, j, eng->token_add[j]);
    for (uint32_t h = 0; h < l->n_heads; h++)
        spk_prune_add_head(eng->ctx->prune, h, eng->head_add[h]);
    for (uint32_t g = 0; spk_prune_kv_layers(eng->ctx->prune) && g < l->n_kv_heads; g++)
        if (spk_prune_set_kv_scores(eng->ctx->prune, l->layer, g,
                                    eng->score_add + (size_t)g * eng->capacity) != SPKSIM_OK)
            return eng_error(SPK_ERR_ENGINE);
    eng->ctx->engine_stats = eng->stats;
    eng->ctx->engine_cycles = eng->cycles;
    eng->ctx->energy_pj = eng->energy_pj;
    eng->in_layer = ENG_ENDED;
    return eng_done;
}

void spk_engine_command(spk_device *dev, uint32_t cmd) {
    spk_engine *eng = &dev->engine;
    if (!(cmd & (1u << SPK_ENG_CMD_GO_BIT))) return;
    uint32_t op = (cmd >> SPK_ENG_CMD_OP_OFFSET) & SPK_ENG_CMD_OP_MASK;
    uint32_t desc = dev->csr[SPK_ENG_DESC_REG_OFFSET / 4];
    uint32_t status;
    /* Operations must come in layer order: BEGIN, HEAD..., END, then optionally PRUNE. */
    const int ctx_live = eng->ctx && spk_attn_by_id(dev, eng->ctx->id);
    if (op == SPK_ENG_OP_LAYER_BEGIN) {
        eng->in_layer = ENG_IDLE;
        status = layer_begin(dev, desc);
    } else if (op == SPK_ENG_OP_HEAD && ctx_live && eng->in_layer == ENG_OPEN) {
        status = run_head(eng, dev->csr[SPK_ENG_HEAD_REG_OFFSET / 4]);
    } else if (op == SPK_ENG_OP_LAYER_END && ctx_live && eng->in_layer == ENG_OPEN) {
        status = layer_end(eng);
        dev->csr[SPK_PERF_DRAM_BYTES_REG_OFFSET / 4] += (uint32_t)eng->stats.dram_bytes;
        dev->csr[SPK_PERF_ENG_REQUESTS_REG_OFFSET / 4] += (uint32_t)eng->stats.requests;
        dev->csr[SPK_PERF_ENG_CYCLES_REG_OFFSET / 4] += (uint32_t)eng->cycles;
    } else if (op == SPK_ENG_OP_PRUNE && ctx_live && eng->in_layer == ENG_ENDED) {
        status = prune(dev);
    } else {
        status = eng_error(SPK_ERR_ENGINE); /* unknown operation or out of order */
    }
    eng->status = status;
    if (status & (1u << SPK_ENG_STATUS_ERROR_BIT)) eng->in_layer = ENG_IDLE;
}
