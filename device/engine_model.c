/* The C engine implementations: "model" executes every engine operation with the golden datapath
 * (sim/golden), "sim" does the same and times each layer with the cycle simulator. Both read
 * their inputs from device DRAM exactly as the RTL does (packed MSB/LSB planes, scale words,
 * int16 query codes, uint16 key lists), so the three are interchangeable bit for bit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_impl.h"
#include "spk/regs.h"
#include "timing.h"

/* The device's parameter registers on the C engines (the register map's reset values). */
#define MODEL_MAX_KEYS SPK_PARAM_MAX_KEYS_REG_RESVAL
#define MODEL_MAX_D SPK_PARAM_MAX_D_REG_RESVAL
#define MODEL_BANK_HEADS 1024u

/* Rows unpacked for the requests of one layer, by plane base: a batched layer asks for the same
 * K/V rows once per query, and unpacking them again each time was most of the host time. A
 * token's row is valid while its tag equals the current generation; a new base or a new layer
 * starts a generation. */
typedef struct row_cache {
    uint32_t msb_base, lsb_base, scale_base;
    uint32_t gen;
    uint32_t *tag; /* per token */
} row_cache;

typedef struct model_engine {
    spkdev_engine_impl impl;
    spkdev_read_fn read;
    void *read_ctx;
    spk_timing *timing;  /* sim only */
    spk_head_config cfg; /* of the layer in progress */
    uint32_t layer, n_tokens;
    spk_workspace *ws;
    int16_t *q, *k, *v; /* unpacked codes, [token][d] for the tokens of the request */
    spk_scale *k_scales, *v_scales;
    uint32_t *keys;
    uint8_t *row_hi, *row_lo;
    uint32_t *v_keys;
    uint64_t *bank; /* importance: tokens, then heads */
    row_cache k_rows, v_rows;
} model_engine;

static int fail(char *err, size_t err_len, const char *what) {
    if (err_len) snprintf(err, err_len, "engine: %s", what);
    return -1;
}

static void cache_invalidate(row_cache *c) {
    if (++c->gen == 0) { /* wrapped: no tag may match a stale generation */
        memset(c->tag, 0, MODEL_MAX_KEYS * sizeof(*c->tag));
        c->gen = 1;
    }
}

/* Rows of the listed tokens from a packed plane pair into full codes, and their scale words
 * (rows already in @p cache are kept). */
static int load_rows(model_engine *m, row_cache *cache, uint32_t msb_base, uint32_t lsb_base,
                     uint32_t scale_base, uint32_t n, int16_t *codes, spk_scale *scales) {
    const spk_quant_profile p = m->cfg.kv;
    const uint32_t d = m->cfg.d;
    const uint32_t hi_bytes = spk_plane_row_bytes(d, p.msb_bits);
    const uint32_t lo_bytes = spk_plane_row_bytes(d, p.lsb_bits);
    const int reuse = m->impl.reuse_rows;
    if (!reuse || cache->msb_base != msb_base || cache->lsb_base != lsb_base ||
        cache->scale_base != scale_base) {
        cache_invalidate(cache);
        cache->msb_base = msb_base, cache->lsb_base = lsb_base, cache->scale_base = scale_base;
    }
    for (uint32_t j = 0; j < n; j++) {
        const uint64_t t = m->keys[j];
        if (reuse && cache->tag[t] == cache->gen) continue;
        if (m->read(m->read_ctx, msb_base + t * hi_bytes, m->row_hi, hi_bytes) ||
            (lo_bytes && m->read(m->read_ctx, lsb_base + t * lo_bytes, m->row_lo, lo_bytes)) ||
            m->read(m->read_ctx, scale_base + t * 4, &scales[t], 4))
            return -1;
        spk_plane_unpack_row(m->row_hi, m->row_lo, d, p, codes + t * d);
        cache->tag[t] = cache->gen;
    }
    return 0;
}

static int model_head(spkdev_engine_impl *impl, const spk_eng_head_req *r, spkdev_head_result *res,
                      char *err, size_t err_len) {
    model_engine *m = (model_engine *)impl;
    const spk_head_config *c = &m->cfg;
    const uint32_t n = r->n_keys;
    /* The descriptor must describe the layer this engine was configured for. */
    if (r->d != c->d || r->msb_bits != c->kv.msb_bits || r->lsb_bits != c->kv.lsb_bits ||
        r->threshold != c->requant_threshold || n > impl->max_keys ||
        r->v_keep != spk_keep_count(n, c->v_keep_q16) || r->head >= impl->bank_heads)
        return fail(err, err_len, "head request does not match the layer's configuration");
    /* held: bits 0-15 how many keys, bits 16-31 the first list position ("Held rows") */
    const uint32_t held = r->held & 0xffffu, held_first = r->held >> 16;
    if (held_first + held > n)
        return fail(err, err_len, "head request holds keys beyond its key list");
    if (r->key_list) {
        for (uint32_t j = 0; j < n; j++) {
            uint16_t t;
            if (m->read(m->read_ctx, (uint64_t)r->keys_base + 2u * j, &t, 2))
                return fail(err, err_len, "key list outside DRAM");
            m->keys[j] = t;
        }
    } else {
        for (uint32_t j = 0; j < n; j++) m->keys[j] = r->key_base + j;
    }
    for (uint32_t j = 0; j < n; j++)
        if (m->keys[j] >= impl->bank_tokens || (j && m->keys[j] <= m->keys[j - 1]))
            return fail(err, err_len, "keys not strictly increasing tokens below the bank size");
    if (m->read(m->read_ctx, r->q_base, m->q, c->d * 2) ||
        load_rows(m, &m->k_rows, r->k_msb_base, r->k_lsb_base, r->k_scale_base, n, m->k,
                  m->k_scales) ||
        load_rows(m, &m->v_rows, r->v_msb_base, r->v_lsb_base, r->v_scale_base, n, m->v,
                  m->v_scales))
        return fail(err, err_len, "head request operands outside DRAM");
    const spk_head_request req = {.q = m->q,
                                  .q_logit_scale = r->q_scale,
                                  .keys = m->keys,
                                  .n_keys = n,
                                  .k_codes = m->k,
                                  .k_scales = m->k_scales,
                                  .v_codes = m->v,
                                  .v_scales = m->v_scales,
                                  .keys_held = held};
    int32_t *logits = res->logits ? res->logits : NULL;
    spk_head_result hr = {
        .out = res->out, .probs = res->probs, .v_keys = m->v_keys, .logits = logits};
    if (spk_head_run(c, &req, m->ws, &hr) != SPKSIM_OK)
        return fail(err, err_len, "the golden datapath refused the request");
    for (uint32_t j = 0; j < n; j++)
        m->bank[m->keys[j]] = spk_importance_add(m->bank[m->keys[j]], res->probs[j]);
    uint64_t *head_acc = &m->bank[impl->bank_tokens + r->head];
    *head_acc = spk_importance_add(*head_acc, hr.head_importance);
    res->out_exp = hr.out_exp;
    res->head_importance = hr.head_importance;
    res->ev = hr.ev;
    res->dram_bytes =
        hr.ev.key_msb_bytes + hr.ev.key_lsb_bytes + hr.ev.value_bytes + hr.ev.scale_bytes;
    res->cycles = 0;
    if (m->timing && spk_timing_record(m->timing, c, &hr.ev, m->layer, r->head, m->n_tokens) != 0)
        return fail(err, err_len,
                    "cycle simulator refused the request, or its trace could not "
                    "be written");
    return 0;
}

static int model_imp_clear(spkdev_engine_impl *impl, char *err, size_t err_len) {
    model_engine *m = (model_engine *)impl;
    (void)err, (void)err_len;
    memset(m->bank, 0, ((size_t)impl->bank_tokens + impl->bank_heads) * sizeof(*m->bank));
    return 0;
}

static int model_imp_read(spkdev_engine_impl *impl, uint32_t index, uint64_t *value) {
    model_engine *m = (model_engine *)impl;
    if (index >= impl->bank_tokens + impl->bank_heads) return -1;
    *value = m->bank[index];
    return 0;
}

static int model_prune(spkdev_engine_impl *impl, spk_prune_state *st, spk_keep tokens,
                       spk_keep heads, const spk_prune_window *w, char *err, size_t err_len) {
    (void)impl;
    if (spk_prune_keep_window(st, tokens, heads, w, NULL, NULL) != SPKSIM_OK)
        return fail(err, err_len, "prune step refused");
    return 0;
}

static void model_layer_begin(spkdev_engine_impl *impl, const spk_head_config *cfg, uint32_t layer,
                              uint32_t n_tokens) {
    model_engine *m = (model_engine *)impl;
    m->cfg = *cfg;
    m->layer = layer;
    m->n_tokens = n_tokens;
    cache_invalidate(&m->k_rows); /* the host may have appended or rewritten rows */
    cache_invalidate(&m->v_rows);
    if (m->timing) spk_timing_begin(m->timing, layer);
}

static int model_layer_end(spkdev_engine_impl *impl, uint64_t *cycles, double *energy_pj) {
    model_engine *m = (model_engine *)impl;
    *cycles = 0;
    *energy_pj = -1.0;
    return m->timing ? spk_timing_run(m->timing, cycles, energy_pj) : 0;
}

/* The select policy's scoring stage, timed as what the engine does for it: a K-only pass over
 * the scored rows (the MSB plane, and the LSB plane as a second pass under exact scoring; the
 * group's heads share the row, their extra dot products are not timed) and the top-k over the
 * scores in the local top-k slot. The model backend has no timing. */
static int model_select_timing(spkdev_engine_impl *impl, const spk_select_events *ev,
                               uint32_t head) {
    model_engine *m = (model_engine *)impl;
    if (!m->timing) return 0;
    const spk_head_config *c = &m->cfg;
    if (ev->stage1) {
        /* the first stage: a K-only pass over rows of its dims' fields, and its top-k */
        spk_head_config narrow = *c;
        narrow.d = ev->dims;
        const spk_head_events dims_only = {.keys_fetched = ev->stage1,
                                           .key_msb_bytes = ev->stage1_bytes - 4ull * ev->stage1,
                                           .scale_bytes = 4ull * ev->stage1,
                                           .v_topk = ev->topk1};
        if (spk_timing_record(m->timing, &narrow, &dims_only, m->layer, head, m->n_tokens))
            return -1;
        if (!ev->scored) return 0;
    }
    const int both = ev->both_planes;
    const spk_head_events k_only = {
        .keys_fetched = ev->scored,
        .keys_refetched = both ? ev->scored : 0,
        .requant = (uint8_t)both,
        .key_msb_bytes = (uint64_t)ev->scored * spk_plane_row_bytes(c->d, c->kv.msb_bits),
        .key_lsb_bytes =
            both ? (uint64_t)ev->scored * spk_plane_row_bytes(c->d, c->kv.lsb_bits) : 0,
        .scale_bytes = 4ull * ev->scored,
        .v_topk = ev->topk};
    if (spk_timing_record(m->timing, c, &k_only, m->layer, head, m->n_tokens)) return -1;
    if (!ev->protected_read) return 0;
    /* held rows: the protected keys' MSB rows, read once for the group's requests */
    const spk_head_events protected_rows = {
        .keys_fetched = ev->protected_read,
        .key_msb_bytes = (uint64_t)ev->protected_read * spk_plane_row_bytes(c->d, c->kv.msb_bits),
        .scale_bytes = 4ull * ev->protected_read};
    return spk_timing_record(m->timing, c, &protected_rows, m->layer, head, m->n_tokens) ? -1 : 0;
}

static void model_destroy(spkdev_engine_impl *impl) {
    model_engine *m = (model_engine *)impl;
    if (!m) return;
    spk_timing_destroy(m->timing);
    spk_workspace_destroy(m->ws);
    free(m->q);
    free(m->k);
    free(m->v);
    free(m->k_scales);
    free(m->v_scales);
    free(m->keys);
    free(m->row_hi);
    free(m->row_lo);
    free(m->v_keys);
    free(m->bank);
    free(m->k_rows.tag);
    free(m->v_rows.tag);
    free(m);
}

spkdev_engine_impl *spkdev_engine_model_create(spkdev_read_fn read, void *read_ctx,
                                               const char *sim_config, const char *energy_path,
                                               const char *sim_trace, int timed, char *err,
                                               size_t err_len) {
    model_engine *m = calloc(1, sizeof(*m));
    if (!m) {
        fail(err, err_len, "out of host memory");
        return NULL;
    }
    m->impl = (spkdev_engine_impl){.name = timed ? "sim" : "model",
                                   .max_keys = MODEL_MAX_KEYS,
                                   .max_d = MODEL_MAX_D,
                                   .bank_heads = MODEL_BANK_HEADS,
                                   .bank_tokens = MODEL_MAX_KEYS,
                                   .has_logits = 1,
                                   .has_select = 1,
                                   .slowdown = 1,
                                   .head = model_head,
                                   .imp_clear = model_imp_clear,
                                   .imp_read = model_imp_read,
                                   .prune = model_prune,
                                   .layer_begin = model_layer_begin,
                                   .layer_end = model_layer_end,
                                   .select_timing = model_select_timing,
                                   .destroy = model_destroy};
    m->read = read;
    m->read_ctx = read_ctx;
    const size_t rows = (size_t)MODEL_MAX_KEYS * MODEL_MAX_D;
    m->ws = spk_workspace_create(MODEL_MAX_KEYS);
    m->q = malloc(MODEL_MAX_D * sizeof(*m->q));
    m->k = malloc(rows * sizeof(*m->k));
    m->v = malloc(rows * sizeof(*m->v));
    m->k_scales = malloc(MODEL_MAX_KEYS * sizeof(*m->k_scales));
    m->v_scales = malloc(MODEL_MAX_KEYS * sizeof(*m->v_scales));
    m->keys = malloc(MODEL_MAX_KEYS * sizeof(*m->keys));
    m->row_hi = malloc(MODEL_MAX_D * 2);
    m->row_lo = malloc(MODEL_MAX_D * 2);
    m->v_keys = malloc(MODEL_MAX_KEYS * sizeof(*m->v_keys));
    m->bank = calloc((size_t)MODEL_MAX_KEYS + MODEL_BANK_HEADS, sizeof(*m->bank));
    m->k_rows.tag = calloc(MODEL_MAX_KEYS, sizeof(*m->k_rows.tag));
    m->v_rows.tag = calloc(MODEL_MAX_KEYS, sizeof(*m->v_rows.tag));
    m->k_rows.gen = m->v_rows.gen = 1;
    if (!m->k_rows.tag || !m->v_rows.tag || !m->ws || !m->q || !m->k || !m->v || !m->k_scales ||
        !m->v_scales || !m->keys || !m->row_hi || !m->row_lo || !m->v_keys || !m->bank) {
        model_destroy(&m->impl);
        fail(err, err_len, "out of host memory");
        return NULL;
    }
    if (timed) {
        char why[256] = "";
        m->timing = spk_timing_create(sim_config ? sim_config : "eighth", energy_path, sim_trace,
                                      why, sizeof(why));
        if (!m->timing) {
            model_destroy(&m->impl);
            if (err_len) snprintf(err, err_len, "sim backend: %s", why);
            return NULL;
        }
    }
    return &m->impl;
}
