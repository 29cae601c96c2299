/* Attention contexts: the KV cache as packed MSB/LSB planes, query and output buffers in device
 * memory, and layer submission through the command ring. The pruning state is the device's: it
 * is created by a CONTEXT_OPEN command and reported in a status record the device writes.
 * Inputs are quantized on the host with the golden model's rules, so every backend sees the same
 * codes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn.h"
#include "error.h"
#include "handles.h"
#include "spk/fw_abi.h"
#include "spksim/datapath.h"

#define Q_BITS 12u
/* Device milliseconds to wait for a context command (open, close). */
#define CONTEXT_CMD_TIMEOUT_MS 10000u

struct spk_fence {
    spk_device *dev;
    spk_attn *attn; /* NULL once the context was destroyed */
    uint32_t value;
    int done;
    spk_status status; /* the outcome once done: a later wait reports it again */
    char msg[SPK_ERROR_MAX];
};

static spk_status attn_usable(const spk_attn *attn, const char *fn) {
    if (!attn) return spk_fail(SPK_E_ARG, "%s: NULL context", fn);
    if (!spk_handle_live(SPK_HANDLE_ATTN, attn))
        return spk_fail(SPK_E_ARG, "%s: %p is not a live context (destroyed?)", fn,
                        (const void *)attn);
    if (!attn->dev || !spk_dev_live(attn->dev))
        return spk_fail(SPK_E_STATE, "%s: the context's device was closed", fn);
    return SPK_OK;
}

static void free_buffers(spk_attn *a) {
    if (a->kv)
        for (uint32_t l = 0; l < a->cfg.n_layers; l++) {
            spk_kv_cache *kv = &a->kv[l];
            spk_bo *bos[] = {kv->k_msb, kv->k_lsb,    kv->k_scales, kv->v_msb,
                             kv->v_lsb, kv->v_scales, kv->k_dim};
            for (size_t i = 0; i < sizeof(bos) / sizeof(bos[0]); i++) spk_bo_free(bos[i]);
        }
    spk_bo *bos[] = {a->q,        a->q_scales, a->out,     a->out_exp, a->desc,
                     a->ctx_desc, a->status,   a->scratch, a->dump};
    for (size_t i = 0; i < sizeof(bos) / sizeof(bos[0]); i++) spk_bo_free(bos[i]);
    a->q = a->q_scales = a->out = a->out_exp = a->desc = a->ctx_desc = a->status = a->scratch =
        a->dump = NULL;
}

void spk_attn_orphan_all(spk_device *dev) {
    for (spk_attn *a = dev->contexts; a; a = a->next) {
        free_buffers(a); /* frees host copies; device memory goes with the device */
        free(a->kv);
        a->kv = NULL;
        a->dev = NULL;
    }
    dev->contexts = NULL;
}

/* Queue a context command and wait for it (context open and close are synchronous). */
static spk_status context_command(spk_attn *a, uint32_t opcode, uint32_t arg0, uint32_t arg1) {
    uint32_t fence;
    spk_status st = spk_dev_queue(a->dev, opcode, arg0, arg1, &fence);
    return st == SPK_OK ? spk_dev_wait(a->dev, fence, CONTEXT_CMD_TIMEOUT_MS) : st;
}

/* The device's status record of the context and the statistics of its last layer. */
static spk_status read_status(spk_attn *a, spk_fw_context_status *status,
                              spk_fw_layer_stats *stats) {
    spk_status st = spk_bo_sync(a->status, SPK_SYNC_FROM_DEVICE, 0, a->status->bytes);
    if (st != SPK_OK) return st;
    const uint8_t *p;
    spk_bo_map(a->status, (void **)&p);
    if (status) memcpy(status, p, sizeof(*status));
    if (stats) memcpy(stats, p + sizeof(*status), sizeof(*stats));
    return SPK_OK;
}

static spk_status check_config(spk_device *dev, const spk_attn_config *c) {
    if (c->size < sizeof(*c))
        return spk_fail(SPK_E_ARG, "spk_attn_create: config.size %zu, expected >= %zu", c->size,
                        sizeof(*c));
    const uint32_t kvh = c->n_kv_heads ? c->n_kv_heads : c->n_heads;
    const uint32_t max_d = spk_dev_reg_read(dev, SPK_PARAM_MAX_D_REG_OFFSET);
    const uint32_t max_keys = spk_dev_reg_read(dev, SPK_PARAM_MAX_KEYS_REG_OFFSET);
    if (c->n_layers == 0 || c->n_layers > 1024)
        return spk_fail(SPK_E_ARG, "spk_attn_create: n_layers %u not in 1..1024", c->n_layers);
    if (c->n_heads == 0 || c->n_heads > 1024 || c->n_heads % kvh)
        return spk_fail(SPK_E_ARG, "spk_attn_create: n_heads %u / n_kv_heads %u invalid",
                        c->n_heads, c->n_kv_heads);
    if (c->head_dim == 0 || c->head_dim > max_d)
        return spk_fail(SPK_E_ARG, "spk_attn_create: head_dim %u not in 1..%u", c->head_dim, max_d);
    if (c->max_tokens == 0 || c->max_tokens > max_keys)
        return spk_fail(SPK_E_ARG, "spk_attn_create: max_tokens %u not in 1..%u", c->max_tokens,
                        max_keys);
    spk_head_config hc = {c->head_dim,
                          {(uint8_t)c->msb_bits, (uint8_t)c->lsb_bits},
                          c->requant_threshold,
                          c->v_keep_q16,
                          16};
    if (c->msb_bits > 12 || c->lsb_bits > 12 || spk_head_config_check(&hc) != SPKSIM_OK)
        return spk_fail(SPK_E_ARG,
                        "spk_attn_create: quantization profile msb %u lsb %u threshold %u "
                        "v_keep %u out of range",
                        c->msb_bits, c->lsb_bits, c->requant_threshold, c->v_keep_q16);
    return SPK_OK;
}

/* Describe the context to the device and let it create the pruning state. */
static spk_status open_on_device(spk_attn *a) {
    const spk_attn_config *c = &a->cfg;
    spk_fw_context_desc *d;
    spk_bo_map(a->ctx_desc, (void **)&d);
    *d = (spk_fw_context_desc){.size = sizeof(*d),
                               .context = a->id,
                               .n_layers = c->n_layers,
                               .n_heads = c->n_heads,
                               .n_kv_heads = c->n_kv_heads,
                               .max_tokens = c->max_tokens,
                               .status_addr = (uint32_t)a->status->addr,
                               .scratch_addr = (uint32_t)a->scratch->addr,
                               .scratch_bytes = (uint32_t)a->scratch->bytes};
    spk_status st = spk_bo_sync(a->ctx_desc, SPK_SYNC_TO_DEVICE, 0, sizeof(*d));
    if (st == SPK_OK)
        st = context_command(a, SPK_CMD_CONTEXT_OPEN, (uint32_t)a->ctx_desc->addr, sizeof(*d));
    a->opened = st == SPK_OK;
    return st;
}

static spk_status attn_create_locked(spk_device *dev, const spk_attn_config *config,
                                     spk_attn **out) {
    if (out) *out = NULL;
    if (!dev || !config || !out) return spk_fail(SPK_E_ARG, "spk_attn_create: NULL argument");
    if (!spk_dev_live(dev)) return spk_fail(SPK_E_STATE, "spk_attn_create: device is closed");
    spk_status st = check_config(dev, config);
    if (st != SPK_OK) return st;
    spk_attn *a = calloc(1, sizeof(*a));
    if (!a) return spk_fail(SPK_E_NOMEM, "spk_attn_create: out of memory");
    a->dev = dev;
    a->cfg = *config;
    a->cfg.size = sizeof(a->cfg);
    if (!a->cfg.n_kv_heads) a->cfg.n_kv_heads = a->cfg.n_heads;
    const spk_attn_config *c = &a->cfg;
    a->row_msb = spk_plane_row_bytes(c->head_dim, c->msb_bits);
    a->row_lsb = spk_plane_row_bytes(c->head_dim, c->lsb_bits);
    a->row_dim = spk_plane_row_bytes(c->max_tokens, c->msb_bits);
    a->kv = calloc(c->n_layers, sizeof(*a->kv));
    a->layer_tokens = calloc(c->n_layers, sizeof(*a->layer_tokens));
    st =
        a->kv && a->layer_tokens ? SPK_OK : spk_fail(SPK_E_NOMEM, "spk_attn_create: out of memory");
    const size_t rows = (size_t)c->n_kv_heads * c->max_tokens;
    /* A profile without LSBs has empty LSB planes; they still get a (small) buffer. */
    const size_t lsb_bytes = a->row_lsb ? rows * a->row_lsb : SPK_BO_ALIGN;
    for (uint32_t l = 0; st == SPK_OK && l < c->n_layers; l++) {
        spk_kv_cache *kv = &a->kv[l];
        st = spk_bo_alloc(dev, rows * a->row_msb, &kv->k_msb);
        if (st == SPK_OK) st = spk_bo_alloc(dev, lsb_bytes, &kv->k_lsb);
        if (st == SPK_OK) st = spk_bo_alloc(dev, rows * 4, &kv->k_scales);
        if (st == SPK_OK) st = spk_bo_alloc(dev, rows * a->row_msb, &kv->v_msb);
        if (st == SPK_OK) st = spk_bo_alloc(dev, lsb_bytes, &kv->v_lsb);
        if (st == SPK_OK) st = spk_bo_alloc(dev, rows * 4, &kv->v_scales);
        if (st == SPK_OK)
            st = spk_bo_alloc(dev, (size_t)c->n_kv_heads * c->head_dim * a->row_dim, &kv->k_dim);
    }
    if (st == SPK_OK) st = spk_bo_alloc(dev, sizeof(spk_fw_layer_desc), &a->desc);
    if (st == SPK_OK) st = spk_bo_alloc(dev, sizeof(spk_fw_context_desc), &a->ctx_desc);
    if (st == SPK_OK)
        st = spk_bo_alloc(dev, sizeof(spk_fw_context_status) + sizeof(spk_fw_layer_stats),
                          &a->status);
    if (st == SPK_OK)
        st = spk_bo_alloc(dev, SPK_FW_CONTEXT_SCRATCH_BYTES(c->max_tokens), &a->scratch);
    if (st == SPK_OK) {
        a->id = ++dev->next_context_id;
        st = open_on_device(a);
    }
    if (st != SPK_OK) {
        char msg[SPK_ERROR_MAX];
        snprintf(msg, sizeof(msg), "%s", spk_last_error());
        free_buffers(a);
        free(a->kv);
        free(a->layer_tokens);
        free(a);
        return spk_fail(st, "spk_attn_create: %s", msg);
    }
    if (spk_handle_add(SPK_HANDLE_ATTN, a)) {
        free_buffers(a);
        free(a->kv);
        free(a->layer_tokens);
        free(a);
        return spk_fail(SPK_E_NOMEM, "spk_attn_create: out of memory");
    }
    a->next = dev->contexts;
    dev->contexts = a;
    *out = a;
    return spk_ok();
}

spk_status spk_attn_destroy(spk_attn *a) {
    if (!a) return spk_ok();
    if (spk_handle_remove(SPK_HANDLE_ATTN, a))
        return spk_fail(SPK_E_ARG, "spk_attn_destroy: %p is not a live context (destroyed twice?)",
                        (const void *)a);
    spk_status st = SPK_OK;
    spk_device *dev = a->dev && spk_dev_live(a->dev) ? a->dev : NULL;
    if (dev) spk_dev_lock(dev);
    if (dev) {
        spk_attn **link = &a->dev->contexts;
        while (*link && *link != a) link = &(*link)->next;
        if (*link) *link = a->next;
        /* The device forgets the pruning state (after any layer still queued for it). */
        if (a->opened && !a->dev->halted) {
            st = context_command(a, SPK_CMD_CONTEXT_CLOSE, a->id, 0);
            if (st != SPK_OK) {
                char msg[SPK_ERROR_MAX];
                snprintf(msg, sizeof(msg), "%s", spk_last_error());
                st = spk_fail(st, "spk_attn_destroy: %s (the context is freed anyway)", msg);
            }
        }
        free_buffers(a);
        spk_dev_unlock(dev);
    }
    if (a->pending_fence_obj) a->pending_fence_obj->attn = NULL;
    free(a->kv);
    free(a->layer_tokens);
    free(a);
    return st == SPK_OK ? spk_ok() : st;
}

/* (Re)size the per-submission buffers for @p nq queries per head. */
static spk_status ensure_query_buffers(spk_attn *a, uint32_t nq) {
    if (a->q && nq <= a->max_queries) return SPK_OK;
    spk_bo *bos[] = {a->q, a->q_scales, a->out, a->out_exp};
    for (size_t i = 0; i < 4; i++) spk_bo_free(bos[i]);
    a->q = a->q_scales = a->out = a->out_exp = NULL;
    const size_t rows = (size_t)a->cfg.n_heads * nq, d = a->cfg.head_dim;
    spk_status st = spk_bo_alloc(a->dev, rows * d * 2, &a->q);
    if (st == SPK_OK) st = spk_bo_alloc(a->dev, rows * 4, &a->q_scales);
    if (st == SPK_OK) st = spk_bo_alloc(a->dev, rows * d * 4, &a->out);
    if (st == SPK_OK) st = spk_bo_alloc(a->dev, rows * 4, &a->out_exp);
    a->max_queries = st == SPK_OK ? nq : 0;
    return st;
}

static spk_status quantize_rows(const float *x, size_t rows, uint32_t d, uint32_t bits,
                                int16_t *codes, uint32_t *scales, const char *what) {
    for (size_t r = 0; r < rows; r++) {
        spk_scale s;
        if (spk_quantize_row(x + r * d, d, bits, codes + r * d, &s) != SPKSIM_OK)
            return spk_fail(SPK_E_ARG, "spk_attn_submit: %s row %zu is not finite", what, r);
        scales[r] = s;
    }
    return SPK_OK;
}

static spk_status check_submit(const spk_attn *a, const spk_layer_submit *s) {
    const spk_attn_config *c = &a->cfg;
    if (s->size < SPK_LAYER_SUBMIT_SIZE_V1)
        return spk_fail(SPK_E_ARG, "spk_attn_submit: submit.size %zu, expected >= %zu", s->size,
                        SPK_LAYER_SUBMIT_SIZE_V1);
    if (a->pending)
        return spk_fail(SPK_E_STATE, "spk_attn_submit: wait for the previous layer first");
    if (s->layer >= c->n_layers)
        return spk_fail(SPK_E_ARG, "spk_attn_submit: layer %u >= n_layers %u", s->layer,
                        c->n_layers);
    const uint32_t state_tokens = a->n_tokens;
    const uint32_t after = a->layer_tokens[s->layer] + s->n_new_tokens;
    if (s->n_new_tokens > c->max_tokens || after > c->max_tokens)
        return spk_fail(SPK_E_ARG, "spk_attn_submit: %u new tokens overflow the %u-token cache",
                        s->n_new_tokens, c->max_tokens);
    const uint32_t expected = s->layer == 0 ? state_tokens + s->n_new_tokens : state_tokens;
    if (after != expected)
        return spk_fail(SPK_E_ARG,
                        "spk_attn_submit: layer %u would hold %u tokens but the context has %u "
                        "(submit layer 0 of a step first, same n_new_tokens in every layer)",
                        s->layer, after, expected);
    if (s->n_queries == 0 || s->n_queries > c->max_tokens)
        return spk_fail(SPK_E_ARG, "spk_attn_submit: n_queries %u not in 1..%u", s->n_queries,
                        c->max_tokens);
    if (s->causal && s->n_queries > after)
        return spk_fail(SPK_E_ARG, "spk_attn_submit: %u causal queries but %u tokens", s->n_queries,
                        after);
    if (!s->q || (s->n_new_tokens && (!s->k_new || !s->v_new)))
        return spk_fail(SPK_E_ARG, "spk_attn_submit: NULL q, k_new or v_new");
    if (s->token_keep_q16 > SPK_ONE_Q16 || s->head_keep_q16 > SPK_ONE_Q16)
        return spk_fail(SPK_E_ARG, "spk_attn_submit: keep ratio above 65536 (1.0)");
    const uint32_t group = s->size >= SPK_LAYER_SUBMIT_SIZE_V1_1 ? s->head_group : 0;
    if (group > 1 && c->n_heads % group)
        return spk_fail(SPK_E_ARG, "spk_attn_submit: head_group %u does not divide n_heads %u",
                        group, c->n_heads);
    const int v1_2 = s->size >= SPK_LAYER_SUBMIT_SIZE_V1_2, v1_5 = s->size >= sizeof(*s);
    if (v1_2 && s->token_policy != SPK_TOKEN_POLICY_ACCUMULATED &&
        s->token_policy != SPK_TOKEN_POLICY_LAST_STEP && s->token_policy != SPK_TOKEN_POLICY_SELECT)
        return spk_fail(SPK_E_ARG,
                        "spk_attn_submit: token_policy %u unknown (0 accumulated, 1 last-step, "
                        "2 select)",
                        s->token_policy);
    if (v1_2 && s->token_policy == SPK_TOKEN_POLICY_SELECT) {
        if (!v1_5)
            return spk_fail(SPK_E_ARG,
                            "spk_attn_submit: token_policy 2 (select) needs the 1.5 "
                            "fields: submit.size %zu, expected %zu",
                            s->size, sizeof(*s));
        if (s->select_count == 0 && (s->select_q16 == 0 || s->select_q16 > SPK_ONE_Q16))
            return spk_fail(SPK_E_ARG,
                            "spk_attn_submit: select policy needs a budget: select_count > 0 or "
                            "select_q16 in 1..65536 (got %u)",
                            s->select_q16);
        if ((s->select_scoring & ~(uint32_t)SPK_SCORING_HOLD) > SPK_SCORING_MSB_PROBS)
            return spk_fail(SPK_E_ARG,
                            "spk_attn_submit: select_scoring %u unknown (0 exact, 1 msb, 2 "
                            "exact-probs, 3 msb-probs, each | 4 hold)",
                            s->select_scoring);
        if (s->select_cand_x16 && (s->select_cand_x16 < 16 || !s->select_dims))
            return spk_fail(SPK_E_ARG,
                            "spk_attn_submit: select_cand_x16 %u needs select_dims > 0 and at "
                            "least 16 (1x the budget)",
                            s->select_cand_x16);
    }
    if (v1_2 && s->token_important > c->max_tokens)
        return spk_fail(SPK_E_ARG, "spk_attn_submit: token_important %u above max_tokens %u",
                        s->token_important, c->max_tokens);
    return SPK_OK;
}

/* Quantize the new K/V rows of one layer, pack them into the MSB and LSB planes of cache rows
 * [first, first + n) and upload them with their scale words. */
static spk_status append_rows(spk_attn *a, const float *x, spk_bo *msb, spk_bo *lsb, spk_bo *scales,
                              uint32_t first, uint32_t n, const char *what) {
    const spk_attn_config *c = &a->cfg;
    const uint32_t d = c->head_dim, bits = c->msb_bits + c->lsb_bits;
    const spk_quant_profile prof = {(uint8_t)c->msb_bits, (uint8_t)c->lsb_bits};
    uint8_t *hi, *lo;
    uint32_t *sc;
    spk_bo_map(msb, (void **)&hi);
    spk_bo_map(lsb, (void **)&lo);
    spk_bo_map(scales, (void **)&sc);
    int16_t codes[SPK_MAX_D];
    for (uint32_t h = 0; h < c->n_kv_heads; h++) {
        const size_t row0 = (size_t)h * c->max_tokens + first;
        for (uint32_t t = 0; t < n; t++) {
            const size_t row = row0 + t;
            spk_scale s;
            if (spk_quantize_row(x + ((size_t)h * n + t) * d, d, bits, codes, &s) != SPKSIM_OK)
                return spk_fail(SPK_E_ARG, "spk_attn_submit: %s row %zu is not finite", what,
                                (size_t)h * n + t);
            sc[row] = s;
            spk_plane_pack_row(codes, d, prof, 0, hi + row * a->row_msb);
            if (a->row_lsb) spk_plane_pack_row(codes, d, prof, 1, lo + row * a->row_lsb);
        }
        spk_status st =
            spk_bo_sync(msb, SPK_SYNC_TO_DEVICE, row0 * a->row_msb, (size_t)n * a->row_msb);
        if (st == SPK_OK && a->row_lsb)
            st = spk_bo_sync(lsb, SPK_SYNC_TO_DEVICE, row0 * a->row_lsb, (size_t)n * a->row_lsb);
        if (st == SPK_OK) st = spk_bo_sync(scales, SPK_SYNC_TO_DEVICE, row0 * 4, (size_t)n * 4);
        if (st != SPK_OK) return st;
    }
    return SPK_OK;
}

/* Field @p v (@p bits wide, two's complement) at bit @p pos of a little-endian bit stream. */
static void put_field(uint8_t *row, uint64_t pos, uint32_t bits, int32_t v) {
    for (uint32_t b = 0; b < bits; b++, pos++) {
        const uint8_t mask = (uint8_t)(1u << (pos % 8));
        if (((uint32_t)v >> b) & 1u)
            row[pos / 8] |= mask;
        else
            row[pos / 8] &= (uint8_t)~mask;
    }
}

/* The dimension-major copy of the K MSB plane for rows [first, first + n): each new row's MSB
 * fields into its dimension rows (docs/abi.md, k_dim_addr), from the packed plane just written. */
static spk_status append_dim_copy(spk_attn *a, spk_kv_cache *kv, uint32_t first, uint32_t n) {
    const spk_attn_config *c = &a->cfg;
    const uint32_t d = c->head_dim, bits = c->msb_bits;
    const spk_quant_profile prof = {(uint8_t)c->msb_bits, (uint8_t)c->lsb_bits};
    uint8_t *hi, *lo, *dim;
    spk_bo_map(kv->k_msb, (void **)&hi);
    spk_bo_map(kv->k_lsb, (void **)&lo);
    spk_bo_map(kv->k_dim, (void **)&dim);
    int16_t codes[SPK_MAX_D];
    const size_t from = (size_t)first * bits / 8, to = ((size_t)(first + n) * bits + 7) / 8;
    for (uint32_t h = 0; h < c->n_kv_heads; h++) {
        for (uint32_t t = first; t < first + n; t++) {
            const size_t row = (size_t)h * c->max_tokens + t;
            spk_plane_unpack_row(hi + row * a->row_msb, lo + row * a->row_lsb, d, prof, codes);
            for (uint32_t x = 0; x < d; x++) {
                int32_t field;
                uint32_t low;
                spk_code_split(codes[x], prof, &field, &low);
                put_field(dim + ((size_t)h * d + x) * a->row_dim, (uint64_t)t * bits, bits, field);
            }
        }
        for (uint32_t x = 0; x < d; x++) {
            const size_t base = ((size_t)h * d + x) * a->row_dim;
            spk_status st = spk_bo_sync(kv->k_dim, SPK_SYNC_TO_DEVICE, base + from, to - from);
            if (st != SPK_OK) return st;
        }
    }
    return SPK_OK;
}

static spk_status append_kv(spk_attn *a, const spk_layer_submit *s, uint32_t first) {
    spk_kv_cache *kv = &a->kv[s->layer];
    const uint32_t n = s->n_new_tokens;
    spk_status st = append_rows(a, s->k_new, kv->k_msb, kv->k_lsb, kv->k_scales, first, n, "k_new");
    if (st == SPK_OK) st = append_dim_copy(a, kv, first, n);
    return st == SPK_OK
               ? append_rows(a, s->v_new, kv->v_msb, kv->v_lsb, kv->v_scales, first, n, "v_new")
               : st;
}

static spk_status upload_queries(spk_attn *a, const spk_layer_submit *s) {
    const uint32_t d = a->cfg.head_dim;
    const size_t rows = (size_t)a->cfg.n_heads * s->n_queries;
    int16_t *q;
    uint32_t *qs;
    spk_bo_map(a->q, (void **)&q);
    spk_bo_map(a->q_scales, (void **)&qs);
    spk_status st = quantize_rows(s->q, rows, d, Q_BITS, q, qs, "q");
    for (size_t r = 0; st == SPK_OK && r < rows; r++)
        if (spk_logit_scale(qs[r], d, &qs[r]) != SPKSIM_OK)
            st = spk_fail(SPK_E_ARG, "spk_attn_submit: q row %zu scale out of range", r);
    if (st == SPK_OK) st = spk_bo_sync(a->q, SPK_SYNC_TO_DEVICE, 0, rows * d * 2);
    if (st == SPK_OK) st = spk_bo_sync(a->q_scales, SPK_SYNC_TO_DEVICE, 0, rows * 4);
    return st;
}

static spk_status write_descriptor(spk_attn *a, const spk_layer_submit *s, uint32_t tokens) {
    const spk_attn_config *c = &a->cfg;
    const spk_kv_cache *kv = &a->kv[s->layer];
    spk_fw_layer_desc *d;
    spk_bo_map(a->desc, (void **)&d);
    *d = (spk_fw_layer_desc){
        .size = sizeof(*d),
        .layer = s->layer,
        .n_heads = c->n_heads,
        .n_kv_heads = c->n_kv_heads,
        .n_queries = s->n_queries,
        .n_tokens = tokens,
        .causal = s->causal ? 1 : 0,
        .d = c->head_dim,
        .msb_bits = c->msb_bits,
        .lsb_bits = c->lsb_bits,
        .requant_threshold = c->requant_threshold,
        .v_keep_q16 = c->v_keep_q16,
        .token_keep_count = s->token_keep_count,
        .token_keep_q16 = s->token_keep_q16,
        .head_keep_count = s->head_keep_count,
        .head_keep_q16 = s->head_keep_q16,
        .q_addr = (uint32_t)a->q->addr,
        .q_scale_addr = (uint32_t)a->q_scales->addr,
        .k_msb_addr = (uint32_t)kv->k_msb->addr,
        .k_lsb_addr = (uint32_t)kv->k_lsb->addr,
        .k_scale_addr = (uint32_t)kv->k_scales->addr,
        .v_msb_addr = (uint32_t)kv->v_msb->addr,
        .v_lsb_addr = (uint32_t)kv->v_lsb->addr,
        .v_scale_addr = (uint32_t)kv->v_scales->addr,
        .out_addr = (uint32_t)a->out->addr,
        .out_exp_addr = (uint32_t)a->out_exp->addr,
        .context = a->id,
        .kv_stride = c->max_tokens,
        .token_sinks = s->size >= SPK_LAYER_SUBMIT_SIZE_V1_1 ? s->token_sinks : 0,
        .token_recent = s->size >= SPK_LAYER_SUBMIT_SIZE_V1_1 ? s->token_recent : 0,
        .head_group = s->size >= SPK_LAYER_SUBMIT_SIZE_V1_1 ? s->head_group : 0,
        .token_policy = s->size >= SPK_LAYER_SUBMIT_SIZE_V1_2 ? s->token_policy : 0,
        .token_important = s->size >= SPK_LAYER_SUBMIT_SIZE_V1_2 ? s->token_important : 0,
        .select_count = s->size >= sizeof(*s) ? s->select_count : 0,
        .select_q16 = s->size >= sizeof(*s) ? s->select_q16 : 0,
        .select_scoring = s->size >= sizeof(*s) ? s->select_scoring : 0,
        .select_dims = s->size >= sizeof(*s) ? s->select_dims : 0,
        .select_cand_x16 = s->size >= sizeof(*s) ? s->select_cand_x16 : 0,
        .k_dim_addr = (uint32_t)kv->k_dim->addr,
    };
    return spk_bo_sync(a->desc, SPK_SYNC_TO_DEVICE, 0, sizeof(*d));
}

static spk_status attn_submit_locked(spk_attn *a, const spk_layer_submit *s, spk_fence **fence) {
    if (fence) *fence = NULL;
    spk_status st = attn_usable(a, "spk_attn_submit");
    if (st != SPK_OK) return st;
    if (!s || !fence) return spk_fail(SPK_E_ARG, "spk_attn_submit: NULL argument");
    if ((st = check_submit(a, s)) != SPK_OK) return st;
    spk_fence *f = calloc(1, sizeof(*f));
    if (!f || spk_handle_add(SPK_HANDLE_FENCE, f)) {
        free(f);
        return spk_fail(SPK_E_NOMEM, "spk_attn_submit: out of memory");
    }
    const uint32_t first = a->layer_tokens[s->layer];
    st = ensure_query_buffers(a, s->n_queries);
    if (st == SPK_OK) st = append_kv(a, s, first);
    if (st == SPK_OK) st = upload_queries(a, s);
    if (st == SPK_OK) st = write_descriptor(a, s, first + s->n_new_tokens);
    if (st == SPK_OK) {
        a->core_cycles_at_submit = spk_dev_reg_read(a->dev, SPK_PERF_CORE_CYCLES_REG_OFFSET);
        a->core_instret_at_submit = spk_dev_reg_read(a->dev, SPK_PERF_CORE_INSTRET_REG_OFFSET);
        st = spk_dev_queue(a->dev, SPK_CMD_LAYER, (uint32_t)a->desc->addr,
                           sizeof(spk_fw_layer_desc), &f->value);
    }
    /* Commit the token bookkeeping only once the command is queued (the device appends the
     * tokens to its pruning state in layer 0; check_submit() made sure they fit). */
    if (st == SPK_OK && s->layer == 0) a->n_tokens += s->n_new_tokens;
    if (st != SPK_OK) {
        spk_handle_remove(SPK_HANDLE_FENCE, f);
        free(f);
        return st;
    }
    a->layer_tokens[s->layer] = first + s->n_new_tokens;
    a->pending = 1;
    a->pending_fence_obj = f;
    a->last_layer = s->layer;
    a->last_queries = s->n_queries;
    f->dev = a->dev;
    f->attn = a;
    *fence = f;
    return spk_ok();
}

static spk_status fence_finish(spk_fence *f, spk_attn *a, spk_status st);

spk_status spk_fence_wait(spk_fence *f, uint32_t timeout_ms) {
    if (!f) return spk_fail(SPK_E_ARG, "spk_fence_wait: NULL fence");
    if (!spk_handle_live(SPK_HANDLE_FENCE, f))
        return spk_fail(SPK_E_ARG, "spk_fence_wait: %p is not a live fence (freed?)",
                        (const void *)f);
    if (f->done) return f->status == SPK_OK ? spk_ok() : spk_fail(f->status, "%s", f->msg);
    if (!spk_dev_live(f->dev) || !f->attn || !f->attn->dev)
        return spk_fail(SPK_E_STATE, "spk_fence_wait: the fence's device or context is gone");
    spk_attn *a = f->attn;
    spk_status st = spk_dev_wait(f->dev, f->value, timeout_ms);
    spk_dev_lock(f->dev);
    st = fence_finish(f, a, st);
    spk_dev_unlock(f->dev);
    return st;
}

/* The fence's bookkeeping after a wait (device lock held). */
static spk_status fence_finish(spk_fence *f, spk_attn *a, spk_status st) {
    if (st == SPK_E_TIMEOUT && !f->dev->halted) return st; /* still running: wait again */
    if (st != SPK_OK && f->dev->halted) {
        a->pending = 0; /* the device is halted; nothing more will complete */
        a->pending_fence_obj = NULL;
        f->attn = NULL;
        return st;
    }
    f->done = 1;
    f->status = st;
    snprintf(f->msg, sizeof(f->msg), "%s", st == SPK_OK ? "" : spk_last_error());
    a->pending = 0;
    a->pending_fence_obj = NULL;
    f->attn = NULL;
    a->core_cycles = (uint32_t)(spk_dev_reg_read(f->dev, SPK_PERF_CORE_CYCLES_REG_OFFSET) -
                                a->core_cycles_at_submit);
    a->core_instret = (uint32_t)(spk_dev_reg_read(f->dev, SPK_PERF_CORE_INSTRET_REG_OFFSET) -
                                 a->core_instret_at_submit);
    a->have_output = st == SPK_OK;
    return st;
}

spk_status spk_fence_free(spk_fence *f) {
    if (!f) return spk_ok();
    if (spk_handle_remove(SPK_HANDLE_FENCE, f))
        return spk_fail(SPK_E_ARG, "spk_fence_free: %p is not a live fence (freed twice?)",
                        (const void *)f);
    if (f->attn && f->attn->pending_fence_obj == f) f->attn->pending_fence_obj = NULL;
    free(f);
    return spk_ok();
}

static spk_status attn_read_output_locked(spk_attn *a, float *out, size_t count) {
    spk_status st = attn_usable(a, "spk_attn_read_output");
    if (st != SPK_OK) return st;
    if (!out) return spk_fail(SPK_E_ARG, "spk_attn_read_output: NULL output");
    if (!a->have_output)
        return spk_fail(SPK_E_STATE, "spk_attn_read_output: no completed layer to read");
    const size_t rows = (size_t)a->cfg.n_heads * a->last_queries, d = a->cfg.head_dim;
    if (count != rows * d)
        return spk_fail(SPK_E_ARG, "spk_attn_read_output: count %zu, the output has %zu", count,
                        rows * d);
    int32_t *o, *e;
    spk_bo_map(a->out, (void **)&o);
    spk_bo_map(a->out_exp, (void **)&e);
    st = spk_bo_sync(a->out, SPK_SYNC_FROM_DEVICE, 0, rows * d * 4);
    if (st == SPK_OK) st = spk_bo_sync(a->out_exp, SPK_SYNC_FROM_DEVICE, 0, rows * 4);
    if (st != SPK_OK) return st;
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < d; i++) out[r * d + i] = spk_output_to_float(o[r * d + i], e[r]);
    return spk_ok();
}

static uint64_t get64(const uint32_t w[2]) {
    return (uint64_t)w[0] | (uint64_t)w[1] << 32;
}

static spk_status attn_read_stats_locked(spk_attn *a, spk_attn_stats *stats) {
    spk_status st = attn_usable(a, "spk_attn_read_stats");
    if (st != SPK_OK) return st;
    if (!stats || stats->size < sizeof(*stats))
        return spk_fail(SPK_E_ARG, "spk_attn_read_stats: NULL stats or stats.size too small");
    if (!a->have_output) return spk_fail(SPK_E_STATE, "spk_attn_read_stats: no completed layer");
    spk_fw_layer_stats e;
    if ((st = read_status(a, NULL, &e)) != SPK_OK) return st;
    const size_t size = stats->size;
    memset(stats, 0, sizeof(*stats));
    stats->size = size;
    stats->layer = e.layer;
    stats->heads_computed = e.heads_computed;
    stats->tokens_alive = e.tokens_alive;
    stats->requests = get64(e.requests);
    stats->keys_fetched = get64(e.keys_fetched);
    stats->values_fetched = get64(e.values_fetched);
    stats->requant_requests = get64(e.requant_requests);
    stats->dram_bytes = get64(e.dram_bytes);
    stats->core_cycles = a->core_cycles;
    stats->core_instret = a->core_instret;
    stats->engine_cycles = get64(e.engine_cycles);
    stats->has_energy = e.has_energy != 0;
    if (stats->has_energy) {
        const uint64_t bits = get64(e.energy_pj_bits);
        memcpy(&stats->energy_pj, &bits, sizeof(bits));
    }
    return spk_ok();
}

static spk_status attn_alive_locked(spk_attn *a, uint32_t *tokens, uint32_t *heads) {
    spk_status st = attn_usable(a, "spk_attn_alive");
    if (st != SPK_OK) return st;
    if (!tokens || !heads) return spk_fail(SPK_E_ARG, "spk_attn_alive: NULL argument");
    spk_fw_context_status s;
    if ((st = read_status(a, &s, NULL)) != SPK_OK) return st;
    *tokens = s.alive_tokens;
    *heads = s.alive_heads;
    return spk_ok();
}

static spk_status attn_read_pruning_locked(spk_attn *a, spk_attn_pruning *p) {
    spk_status st = attn_usable(a, "spk_attn_read_pruning");
    if (st != SPK_OK) return st;
    if (!p || p->size < sizeof(*p))
        return spk_fail(SPK_E_ARG, "spk_attn_read_pruning: NULL pruning or pruning.size too small");
    if (a->pending)
        return spk_fail(SPK_E_STATE, "spk_attn_read_pruning: wait for the submitted layer first");
    const spk_attn_config *c = &a->cfg;
    const size_t T = c->max_tokens, H = c->n_heads, sets = (size_t)c->n_layers * c->n_kv_heads;
    const size_t bytes = SPK_FW_CONTEXT_DUMP_BYTES(T, H, c->n_layers, c->n_kv_heads);
    if (!a->dump && (st = spk_bo_alloc(a->dev, bytes, &a->dump)) != SPK_OK) return st;
    st = context_command(a, SPK_CMD_CONTEXT_READ, a->id, (uint32_t)a->dump->addr);
    if (st == SPK_OK) st = spk_bo_sync(a->dump, SPK_SYNC_FROM_DEVICE, 0, bytes);
    spk_fw_context_status s;
    if (st == SPK_OK) st = read_status(a, &s, NULL);
    if (st != SPK_OK) return st;
    const uint8_t *d;
    spk_bo_map(a->dump, (void **)&d);
    p->n_tokens = s.n_tokens;
    if (p->token_importance) memcpy(p->token_importance, d, 8 * T);
    if (p->head_importance) memcpy(p->head_importance, d + 8 * T, 8 * H);
    if (p->token_alive) memcpy(p->token_alive, d + 8 * (T + H), T);
    if (p->head_alive) memcpy(p->head_alive, d + 9 * T + 8 * H, H);
    if (p->kv_alive) memcpy(p->kv_alive, d + 9 * (T + H), sets * T);
    return spk_ok();
}

spk_status spk_attn_create(spk_device *dev, const spk_attn_config *config, spk_attn **out) {
    if (out) *out = NULL;
    if (!dev || !config || !out) return spk_fail(SPK_E_ARG, "spk_attn_create: NULL argument");
    if (!spk_dev_live(dev)) return spk_fail(SPK_E_STATE, "spk_attn_create: device is closed");
    spk_dev_lock(dev);
    spk_status st = attn_create_locked(dev, config, out);
    spk_dev_unlock(dev);
    return st;
}

spk_status spk_attn_submit(spk_attn *a, const spk_layer_submit *s, spk_fence **fence) {
    if (fence) *fence = NULL;
    spk_status st = attn_usable(a, "spk_attn_submit");
    if (st != SPK_OK) return st;
    spk_device *dev = a->dev;
    spk_dev_lock(dev);
    st = attn_submit_locked(a, s, fence);
    spk_dev_unlock(dev);
    return st;
}

spk_status spk_attn_read_output(spk_attn *a, float *out, size_t count) {
    spk_status st = attn_usable(a, "spk_attn_read_output");
    if (st != SPK_OK) return st;
    spk_device *dev = a->dev;
    spk_dev_lock(dev);
    st = attn_read_output_locked(a, out, count);
    spk_dev_unlock(dev);
    return st;
}

spk_status spk_attn_read_stats(spk_attn *a, spk_attn_stats *stats) {
    spk_status st = attn_usable(a, "spk_attn_read_stats");
    if (st != SPK_OK) return st;
    spk_device *dev = a->dev;
    spk_dev_lock(dev);
    st = attn_read_stats_locked(a, stats);
    spk_dev_unlock(dev);
    return st;
}

spk_status spk_attn_alive(spk_attn *a, uint32_t *tokens, uint32_t *heads) {
    spk_status st = attn_usable(a, "spk_attn_alive");
    if (st != SPK_OK) return st;
    spk_device *dev = a->dev;
    spk_dev_lock(dev);
    st = attn_alive_locked(a, tokens, heads);
    spk_dev_unlock(dev);
    return st;
}

spk_status spk_attn_read_pruning(spk_attn *a, spk_attn_pruning *p) {
    spk_status st = attn_usable(a, "spk_attn_read_pruning");
    if (st != SPK_OK) return st;
    spk_device *dev = a->dev;
    spk_dev_lock(dev);
    st = attn_read_pruning_locked(a, p);
    spk_dev_unlock(dev);
    return st;
}
