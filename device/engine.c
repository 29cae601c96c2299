/* The engine front-end of the emulated device (docs/device.md, "Engine operations"). The firmware
 * starts an operation by writing ENG_CMD and polls ENG_STATUS until BUSY drops; the operation
 * executes when the core first polls, so nothing relies on a blocking register write. The
 * front-end owns what the device knows: the contexts' pruning state (created by CONTEXT_OPEN
 * from a descriptor in DRAM), the layer in progress, and the head requests it builds from the
 * layer descriptor (key lists go to the context's scratch memory, as the RTL reads them). The
 * arithmetic is the engine implementation's (engine_impl.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_internal.h"
#include "engine_impl.h"
#include "engine_select.h"

#define MAX_CONTEXTS 64u
#define MAX_GROUP 1024u /* query heads per K/V head under the select policy */

typedef struct context {
    uint32_t id; /* 0: free slot */
    spk_fw_context_desc desc;
    spk_prune_state *prune;
    int scores_valid; /* the last-step scores of every layer came from real logits */
} context;

typedef struct layer_state {
    int phase; /* enum phase */
    context *ctx;
    spk_fw_layer_desc d;
    uint32_t desc_addr;
    uint32_t row_msb, row_lsb; /* plane row bytes */
    uint32_t *alive;           /* per K/V head: tokens it fetches, ascending (capacity each) */
    uint32_t *n_alive;
    int64_t *score_add; /* per K/V head: the layer's summed logits (last-step policy) */
    int have_logits;
    int selecting;                  /* SPK_FW_POLICY_SELECT: the requests fetch sel's key lists */
    spkdev_selection sel;           /* per-step selection of the K/V head in progress */
    uint8_t group_alive[MAX_GROUP]; /* liveness of the heads of that K/V head's group */
    spk_head_config cfg;            /* what every request of the layer shares */
    spk_layer_stats stats;
    uint64_t cycles;
} layer_state;

enum phase { PH_IDLE = 0, PH_OPEN = 1, PH_ENDED = 2 };

struct spkdev_engine {
    spkdev *dev;
    spkdev_engine_impl *impl;
    context ctx[MAX_CONTEXTS];
    layer_state layer;
    uint32_t status;   /* ENG_STATUS */
    uint32_t pending;  /* ENG_CMD of the operation waiting for the first poll (0: none) */
    int lost_go;       /* a GO arrived while an operation was pending */
    uint32_t capacity; /* entries per list of the arrays below */
    uint32_t kv_capacity;
    int32_t *out;
    uint16_t *probs;
    int32_t *logits;
    uint16_t *key_list;
    uint64_t op_cycles; /* engine cycles of the operation that just executed */
};

static const uint32_t st_done = 1u << SPK_ENG_STATUS_DONE_BIT;

static uint32_t st_error(uint32_t code) {
    return 1u << SPK_ENG_STATUS_ERROR_BIT | st_done |
           (code & SPK_ENG_STATUS_REASON_MASK) << SPK_ENG_STATUS_REASON_OFFSET;
}

/* ---- device memory ------------------------------------------------------------------------ */
static int dram_read(void *ctx, uint64_t addr, void *dst, uint32_t bytes) {
    return spkdev_dram_read(ctx, addr, dst, bytes);
}

static int dram_write(spkdev_engine *e, uint64_t addr, const void *src, uint64_t bytes) {
    return spkdev_dram_write(e->dev, addr, src, bytes);
}

/* A range of @p bytes at @p addr inside DRAM and aligned to @p align. */
static int range_ok(spkdev_engine *e, uint64_t addr, uint64_t bytes, uint32_t align) {
    return addr % align == 0 && spkdev_dram_inside(e->dev, addr, bytes);
}

/* ---- contexts ----------------------------------------------------------------------------- */
static context *find_context(spkdev_engine *e, uint32_t id) {
    for (uint32_t i = 0; id && i < MAX_CONTEXTS; i++)
        if (e->ctx[i].id == id) return &e->ctx[i];
    return NULL;
}

/* The context's status record and, at LAYER_END, the layer statistics after it. */
static int write_status(spkdev_engine *e, context *c) {
    spk_fw_context_status s;
    if (dram_read(e->dev, c->desc.status_addr, &s, sizeof(s))) return -1;
    s.n_tokens = spk_prune_tokens(c->prune);
    s.alive_tokens = spk_prune_alive_tokens(c->prune);
    s.alive_heads = spk_prune_alive_heads(c->prune);
    s.updates++;
    return dram_write(e, c->desc.status_addr, &s, sizeof(s));
}

static uint32_t context_open(spkdev_engine *e, uint32_t addr) {
    spk_fw_context_desc d;
    if (addr % 4 || dram_read(e->dev, addr, &d, sizeof(d))) return st_error(SPK_ERR_DMA);
    const spkdev_engine_impl *im = e->impl;
    if (d.size != sizeof(d) || !d.context || find_context(e, d.context) || d.n_layers == 0 ||
        d.n_layers > 4096 || d.n_heads == 0 || d.n_kv_heads == 0 || d.n_heads % d.n_kv_heads ||
        d.max_tokens == 0 || d.max_tokens > im->max_keys || d.max_tokens > im->bank_tokens ||
        d.n_heads > im->bank_heads)
        return st_error(SPK_ERR_ENGINE);
    if (!range_ok(e, d.status_addr, sizeof(spk_fw_context_status) + sizeof(spk_fw_layer_stats),
                  4) ||
        d.scratch_bytes < SPK_FW_CONTEXT_SCRATCH_BYTES(d.max_tokens) ||
        !range_ok(e, d.scratch_addr, d.scratch_bytes, 64))
        return st_error(SPK_ERR_DMA);
    context *c = NULL;
    for (uint32_t i = 0; i < MAX_CONTEXTS && !c; i++)
        if (!e->ctx[i].id) c = &e->ctx[i];
    if (!c) return st_error(SPK_ERR_ENGINE);
    spk_prune_state *st = spk_prune_create(d.n_heads, d.max_tokens);
    if (!st || spk_prune_enable_kv(st, d.n_layers, d.n_kv_heads) != SPKSIM_OK) {
        spk_prune_destroy(st);
        return st_error(SPK_ERR_ENGINE);
    }
    *c = (context){.id = d.context, .desc = d, .prune = st, .scores_valid = 1};
    const spk_fw_context_status zero = {0, 0, 0, 0};
    if (dram_write(e, d.status_addr, &zero, sizeof(zero)) || write_status(e, c))
        return st_error(SPK_ERR_DMA);
    return st_done;
}

static void context_drop(context *c) {
    spk_prune_destroy(c->prune);
    memset(c, 0, sizeof(*c));
}

static uint32_t context_close(spkdev_engine *e, uint32_t id) {
    context *c = find_context(e, id);
    if (!c) return st_error(SPK_ERR_ENGINE);
    if (e->layer.ctx == c) e->layer.ctx = NULL, e->layer.phase = PH_IDLE;
    context_drop(c);
    return st_done;
}

/* The context's pruning state at @p addr (SPK_FW_CONTEXT_DUMP_BYTES layout): importance
 * read-back. */
static uint32_t context_read(spkdev_engine *e, uint32_t id, uint32_t addr) {
    context *c = find_context(e, id);
    if (!c) return st_error(SPK_ERR_ENGINE);
    const spk_fw_context_desc *d = &c->desc;
    const uint32_t T = d->max_tokens, H = d->n_heads, n = spk_prune_tokens(c->prune);
    const uint64_t bytes = SPK_FW_CONTEXT_DUMP_BYTES((uint64_t)T, H, d->n_layers, d->n_kv_heads);
    if (!range_ok(e, addr, bytes, 64)) return st_error(SPK_ERR_DMA);
    uint8_t *p = calloc(1, bytes);
    if (!p) return st_error(SPK_ERR_ENGINE);
    uint8_t *t_alive = p + 8u * ((uint64_t)T + H), *h_alive = t_alive + T, *kv = h_alive + H;
    for (uint32_t j = 0; j < n; j++) {
        const uint64_t v = spk_prune_token_importance(c->prune, j);
        memcpy(p + 8u * j, &v, 8);
        t_alive[j] = (uint8_t)spk_prune_token_alive(c->prune, j);
    }
    for (uint32_t h = 0; h < H; h++) {
        const uint64_t v = spk_prune_head_importance(c->prune, h);
        memcpy(p + 8u * ((uint64_t)T + h), &v, 8);
        h_alive[h] = (uint8_t)spk_prune_head_alive(c->prune, h);
    }
    for (uint32_t l = 0; l < d->n_layers; l++)
        for (uint32_t g = 0; g < d->n_kv_heads; g++)
            for (uint32_t j = 0; j < n; j++)
                kv[((uint64_t)l * d->n_kv_heads + g) * T + j] =
                    (uint8_t)spk_prune_kv_token_alive(c->prune, l, g, j);
    const int rc = dram_write(e, addr, p, bytes);
    free(p);
    return rc ? st_error(SPK_ERR_DMA) : st_done;
}

/* ---- layers ------------------------------------------------------------------------------- */
static int grow(spkdev_engine *e, uint32_t tokens, uint32_t d, uint32_t kv_heads) {
    const uint32_t cap = tokens + 1u, kv_cap = kv_heads + 1u;
    if (cap <= e->capacity && kv_cap <= e->kv_capacity && d <= SPK_MAX_D) return 0;
    layer_state *l = &e->layer;
    free(l->alive);
    free(l->n_alive);
    free(l->score_add);
    free(e->probs);
    free(e->logits);
    free(e->key_list);
    const size_t lists = (size_t)cap * kv_cap;
    l->alive = malloc(lists * sizeof(*l->alive));
    l->n_alive = malloc(kv_cap * sizeof(*l->n_alive));
    l->score_add = malloc(lists * sizeof(*l->score_add));
    e->probs = malloc(cap * sizeof(*e->probs));
    e->logits = malloc(cap * sizeof(*e->logits));
    e->key_list = malloc(cap * sizeof(*e->key_list));
    const int ok = l->alive && l->n_alive && l->score_add && e->probs && e->logits && e->key_list;
    e->capacity = ok ? cap : 0;
    e->kv_capacity = ok ? kv_cap : 0;
    return ok ? 0 : -1;
}

static int overlaps(uint64_t a, uint64_t a_bytes, uint64_t b, uint64_t b_bytes) {
    return a < b + b_bytes && b < a + a_bytes;
}

/* Whether the layer's K/V rows stay what they are while it runs, so an implementation may
 * reuse the rows it unpacked (engine_impl.h, reuse_rows): no access trace is watching the
 * reads, the DRAM is the device's own, and nothing the layer writes (outputs, key lists)
 * lands on the planes or scales it reads. */
static int rows_stable(spkdev_engine *e, const spk_fw_layer_desc *d, uint64_t msb_bytes,
                       uint64_t lsb_bytes, uint64_t scale_bytes, uint64_t q_rows,
                       const spk_fw_context_desc *ctx) {
    if (e->dev->trace || !e->dev->dram) return 0;
    const uint64_t read[6][2] = {{d->k_msb_addr, msb_bytes},     {d->v_msb_addr, msb_bytes},
                                 {d->k_lsb_addr, lsb_bytes},     {d->v_lsb_addr, lsb_bytes},
                                 {d->k_scale_addr, scale_bytes}, {d->v_scale_addr, scale_bytes}};
    const uint64_t written[3][2] = {{d->out_addr, q_rows * d->d * 4},
                                    {d->out_exp_addr, q_rows * 4},
                                    {ctx->scratch_addr, ctx->scratch_bytes}};
    for (int r = 0; r < 6; r++)
        for (int w = 0; w < 3; w++)
            if (overlaps(read[r][0], read[r][1], written[w][0], written[w][1])) return 0;
    return 1;
}

static uint32_t layer_begin(spkdev_engine *e, uint32_t addr) {
    layer_state *l = &e->layer;
    spk_fw_layer_desc d;
    l->phase = PH_IDLE;
    if (addr % 4 || dram_read(e->dev, addr, &d, sizeof(d))) return st_error(SPK_ERR_DMA);
    context *c = find_context(e, d.context);
    if (!c || d.size != sizeof(d)) return st_error(SPK_ERR_ENGINE);
    const uint32_t H = d.n_heads, KH = d.n_kv_heads, nq = d.n_queries, L = d.n_tokens;
    const spk_head_config cfg = {.d = d.d,
                                 .kv = {(uint8_t)d.msb_bits, (uint8_t)d.lsb_bits},
                                 .requant_threshold = d.requant_threshold,
                                 .v_keep_q16 = d.v_keep_q16,
                                 .topk_parallelism = e->dev->csr[SPK_PARAM_TOPK_REG_OFFSET / 4]};
    if (d.msb_bits > 12 || d.lsb_bits > 12 || spk_head_config_check(&cfg) != SPKSIM_OK ||
        d.d > e->impl->max_d || H != c->desc.n_heads || KH != c->desc.n_kv_heads ||
        d.layer >= c->desc.n_layers || nq == 0 || d.kv_stride < L ||
        d.kv_stride > c->desc.max_tokens || (d.causal && nq > L))
        return st_error(SPK_ERR_ENGINE);
    /* Layer 0 of a step brings the new tokens into the pruning state. */
    const uint32_t have = spk_prune_tokens(c->prune);
    if (d.layer == 0 && L > have && spk_prune_append(c->prune, L - have) != SPKSIM_OK)
        return st_error(SPK_ERR_ENGINE);
    if (L != spk_prune_tokens(c->prune)) return st_error(SPK_ERR_ENGINE);
    const uint32_t row_msb = spk_plane_row_bytes(d.d, d.msb_bits);
    const uint32_t row_lsb = spk_plane_row_bytes(d.d, d.lsb_bits);
    const uint64_t rows = (uint64_t)KH * d.kv_stride, q_rows = (uint64_t)H * nq;
    if (!range_ok(e, d.q_addr, q_rows * d.d * 2, 2) ||
        !range_ok(e, d.q_scale_addr, q_rows * 4, 4) ||
        !range_ok(e, d.k_msb_addr, rows * row_msb, 1) ||
        !range_ok(e, d.v_msb_addr, rows * row_msb, 1) ||
        (d.lsb_bits && (!range_ok(e, d.k_lsb_addr, rows * row_lsb, 1) ||
                        !range_ok(e, d.v_lsb_addr, rows * row_lsb, 1))) ||
        !range_ok(e, d.k_scale_addr, rows * 4, 4) || !range_ok(e, d.v_scale_addr, rows * 4, 4) ||
        !range_ok(e, d.out_addr, q_rows * d.d * 4, 4) ||
        !range_ok(e, d.out_exp_addr, q_rows * 4, 4))
        return st_error(SPK_ERR_DMA);
    if (grow(e, c->desc.max_tokens, d.d, KH)) return st_error(SPK_ERR_ENGINE);
    /* Per-step selection needs the scoring stage (the C engines have it; the RTL not yet). */
    const int selecting = d.token_policy == SPK_FW_POLICY_SELECT;
    if (selecting && !e->impl->has_select) return st_error(SPK_ERR_UNSUPPORTED);
    if (selecting && (H / KH > sizeof(l->group_alive) || spkdev_selection_begin(&l->sel, &d)))
        return st_error(SPK_ERR_ENGINE);
    if (selecting && d.select_dims &&
        !range_ok(e, d.k_dim_addr,
                  (uint64_t)KH * d.d * spk_plane_row_bytes(d.kv_stride, d.msb_bits), 1))
        return st_error(SPK_ERR_DMA);
    char err[160];
    if (e->impl->imp_clear(e->impl, err, sizeof(err))) return st_error(SPK_ERR_ENGINE);
    e->impl->reuse_rows = rows_stable(e, &d, rows * row_msb, d.lsb_bits ? rows * row_lsb : 0,
                                      rows * 4, q_rows, &c->desc);
    e->impl->layer_begin(e->impl, &cfg, d.layer, L);
    l->ctx = c;
    l->d = d;
    l->desc_addr = addr;
    l->row_msb = row_msb;
    l->row_lsb = row_lsb;
    l->have_logits = e->impl->has_logits;
    l->selecting = selecting;
    l->cfg = cfg;
    l->cycles = 0;
    memset(&l->stats, 0, sizeof(l->stats));
    memset(l->score_add, 0, (size_t)e->capacity * KH * sizeof(*l->score_add));
    uint32_t most = 0;
    for (uint32_t g = 0; g < KH; g++) {
        uint32_t *list = l->alive + (size_t)g * e->capacity, n = 0;
        for (uint32_t j = 0; j < L; j++)
            if (spk_prune_kv_token_alive(c->prune, d.layer, g, j)) list[n++] = j;
        l->n_alive[g] = n;
        if (n > most) most = n;
    }
    l->stats.heads_computed = spk_prune_alive_heads(c->prune);
    l->stats.tokens_alive = most;
    l->phase = PH_OPEN;
    return st_done;
}

/* Every query of head h: one engine head request each, keys from the K/V head's alive list. */
static uint32_t run_head(spkdev_engine *e, uint32_t h) {
    layer_state *l = &e->layer;
    const spk_fw_layer_desc *d = &l->d;
    if (h >= d->n_heads) return st_error(SPK_ERR_ENGINE);
    const uint32_t kvh = h / (d->n_heads / d->n_kv_heads), D = d->d, L = d->n_tokens;
    const int alive = spk_prune_head_alive(l->ctx->prune, h);
    const uint32_t *keys = l->alive + (size_t)kvh * e->capacity;
    int64_t *score = l->score_add + (size_t)kvh * e->capacity;
    const uint64_t kv_row0 = (uint64_t)kvh * d->kv_stride;
    const uint32_t scratch = l->ctx->desc.scratch_addr;
    char err[160];
    if (l->selecting && alive && l->sel.kvh != kvh) {
        /* The group's first alive head: select every query's keys for the whole group. */
        const uint32_t group = d->n_heads / d->n_kv_heads;
        for (uint32_t g = 0; g < group; g++)
            l->group_alive[g] = (uint8_t)spk_prune_head_alive(l->ctx->prune, kvh * group + g);
        if (spkdev_selection_group(&l->sel, e->impl, dram_read, e->dev, d, &l->cfg, kvh,
                                   l->group_alive, keys, l->n_alive[kvh], &l->stats))
            return st_error(SPK_ERR_ENGINE);
    }
    for (uint32_t i = 0; i < d->n_queries; i++) {
        const uint64_t qi = (uint64_t)h * d->n_queries + i;
        int32_t out_exp = 0;
        int32_t *out = e->out;
        memset(out, 0, D * sizeof(*out));
        if (alive) {
            uint32_t n = l->n_alive[kvh];
            const uint32_t *fetch = keys;
            if (l->selecting) {
                fetch = l->sel.keys + (size_t)i * l->sel.capacity;
                n = l->sel.n[i];
            } else if (d->causal) {
                const uint32_t limit = L - d->n_queries + i;
                while (n > 0 && keys[n - 1] > limit) n--;
            }
            for (uint32_t j = 0; j < n; j++) e->key_list[j] = (uint16_t)fetch[j];
            uint32_t q_scale;
            if (dram_write(e, scratch, e->key_list, (uint64_t)n * 2) ||
                dram_read(e->dev, d->q_scale_addr + qi * 4, &q_scale, 4))
                return st_error(SPK_ERR_DMA);
            const spk_eng_head_req req = {
                .tag = (uint32_t)(qi & 0xffu),
                .head = h,
                .d = D,
                .msb_bits = d->msb_bits,
                .lsb_bits = d->lsb_bits,
                .threshold = d->requant_threshold,
                .v_keep = spk_keep_count(n, d->v_keep_q16),
                .n_keys = n,
                .key_list = 1,
                .keys_base = scratch,
                .q_scale = q_scale,
                .q_base = (uint32_t)(d->q_addr + qi * D * 2),
                .k_msb_base = (uint32_t)(d->k_msb_addr + kv_row0 * l->row_msb),
                .k_lsb_base = (uint32_t)(d->k_lsb_addr + kv_row0 * l->row_lsb),
                .v_msb_base = (uint32_t)(d->v_msb_addr + kv_row0 * l->row_msb),
                .v_lsb_base = (uint32_t)(d->v_lsb_addr + kv_row0 * l->row_lsb),
                .k_scale_base = (uint32_t)(d->k_scale_addr + kv_row0 * 4),
                .v_scale_base = (uint32_t)(d->v_scale_addr + kv_row0 * 4),
                .held = l->selecting ? l->sel.held[i] : 0u,
            };
            spkdev_head_result res = {
                .out = out, .probs = e->probs, .logits = l->have_logits ? e->logits : NULL};
            if (e->impl->head(e->impl, &req, &res, err, sizeof(err)))
                return st_error(SPK_ERR_ENGINE);
            out_exp = res.out_exp;
            if (l->have_logits)
                for (uint32_t j = 0; j < n; j++) score[fetch[j]] += e->logits[j];
            spk_layer_stats_add(&l->stats, &res.ev);
            l->stats.dram_bytes += res.dram_bytes - (res.ev.key_msb_bytes + res.ev.key_lsb_bytes +
                                                     res.ev.value_bytes + res.ev.scale_bytes);
            e->op_cycles += res.cycles;
            l->cycles += res.cycles;
        }
        if (dram_write(e, d->out_addr + qi * D * 4, out, (uint64_t)D * 4) ||
            dram_write(e, d->out_exp_addr + qi * 4, &out_exp, 4))
            return st_error(SPK_ERR_DMA);
    }
    return st_done;
}

static void put64(uint32_t w[2], uint64_t v) {
    w[0] = (uint32_t)v;
    w[1] = (uint32_t)(v >> 32);
}

static uint32_t layer_end(spkdev_engine *e) {
    layer_state *l = &e->layer;
    context *c = l->ctx;
    uint64_t timed = 0;
    double energy = -1.0;
    int bank_added = 0; /* the implementation accumulated the bank itself */
    if (e->impl->layer_end && e->impl->layer_end(e->impl, &timed, &energy))
        return st_error(SPK_ERR_ENGINE);
    if (timed) {
        l->cycles = timed; /* the layer as one timed run (sim) */
        e->op_cycles += timed;
    }
    /* The layer's importance from the engine's bank into the context's accumulators. */
    const uint32_t L = l->d.n_tokens, H = l->d.n_heads;
    char err[160];
    if (e->impl->accumulate) {
        if (e->impl->accumulate(e->impl, c->prune, L, H, err, sizeof(err)))
            return st_error(SPK_ERR_ENGINE);
        bank_added = 1;
    }
    for (uint32_t j = 0; !bank_added && j < L; j++) {
        uint64_t v;
        if (e->impl->imp_read(e->impl, j, &v)) return st_error(SPK_ERR_ENGINE);
        spk_prune_add_token(c->prune, j, v);
    }
    for (uint32_t h = 0; !bank_added && h < H; h++) {
        uint64_t v;
        if (e->impl->imp_read(e->impl, e->impl->bank_tokens + h, &v))
            return st_error(SPK_ERR_ENGINE);
        spk_prune_add_head(c->prune, h, v);
    }
    if (l->have_logits) {
        for (uint32_t g = 0; g < l->d.n_kv_heads; g++)
            if (spk_prune_set_kv_scores(c->prune, l->d.layer, g,
                                        l->score_add + (size_t)g * e->capacity) != SPKSIM_OK)
                return st_error(SPK_ERR_ENGINE);
    } else {
        c->scores_valid = 0;
    }
    spk_fw_layer_stats s = {.layer = l->d.layer,
                            .heads_computed = l->stats.heads_computed,
                            .tokens_alive = l->stats.tokens_alive,
                            .has_energy = energy >= 0.0};
    put64(s.requests, l->stats.requests);
    put64(s.keys_fetched, l->stats.keys_fetched);
    put64(s.values_fetched, l->stats.values_fetched);
    put64(s.requant_requests, l->stats.requant_requests);
    put64(s.dram_bytes, l->stats.dram_bytes);
    put64(s.engine_cycles, l->cycles);
    uint64_t bits = 0;
    if (energy >= 0.0) memcpy(&bits, &energy, sizeof(bits));
    put64(s.energy_pj_bits, bits);
    if (dram_write(e, c->desc.status_addr + sizeof(spk_fw_context_status), &s, sizeof(s)))
        return st_error(SPK_ERR_DMA);
    uint32_t *csr = e->dev->csr;
    csr[SPK_PERF_DRAM_BYTES_REG_OFFSET / 4] += (uint32_t)l->stats.dram_bytes;
    csr[SPK_PERF_ENG_REQUESTS_REG_OFFSET / 4] += (uint32_t)l->stats.requests;
    csr[SPK_PERF_ENG_CYCLES_REG_OFFSET / 4] += (uint32_t)l->cycles;
    l->phase = PH_ENDED;
    return st_done;
}

static uint32_t prune(spkdev_engine *e) {
    layer_state *l = &e->layer;
    const uint32_t *csr = e->dev->csr;
    /* A zero count keeps everything (there is nothing alive to choose from). */
    const spk_keep kt = {csr[SPK_ENG_KEEP_TOKENS_REG_OFFSET / 4], SPK_ONE_Q16};
    const spk_keep kh = {csr[SPK_ENG_KEEP_HEADS_REG_OFFSET / 4], SPK_ONE_Q16};
    const spk_fw_layer_desc *d = &l->d;
    const spk_prune_window w = {d->token_sinks, d->token_recent, d->head_group};
    spk_prune_state *st = l->ctx->prune;
    char err[160];
    if (d->token_policy == SPK_FW_POLICY_LAST_STEP) {
        /* Per-(layer, K/V head) selection over the request logits: only an engine that
         * returns them can run it. */
        if (!l->ctx->scores_valid) return st_error(SPK_ERR_UNSUPPORTED);
        if (spk_prune_keep_policy(st, SPK_PRUNE_LAST_STEP, d->layer, kt, kh, &w, NULL, NULL) !=
            SPKSIM_OK)
            return st_error(SPK_ERR_ENGINE);
    } else if (d->token_policy == SPK_FW_POLICY_ACCUMULATED ||
               d->token_policy == SPK_FW_POLICY_SELECT) {
        /* (Selection evicts nothing itself; its keep step is the accumulated one.) */
        /* Without a prune unit only a step that keeps everything alive can run (it changes
         * nothing, so there is nothing to compute). */
        const int keeps_all = (!kt.count || kt.count >= spk_prune_alive_tokens(st)) &&
                              (!kh.count || kh.count >= spk_prune_alive_heads(st));
        if (!e->impl->prune && !keeps_all) return st_error(SPK_ERR_UNSUPPORTED);
        if (e->impl->prune && e->impl->prune(e->impl, st, kt, kh, &w, err, sizeof(err)))
            return st_error(SPK_ERR_ENGINE);
    } else {
        return st_error(SPK_ERR_ENGINE);
    }
    if (write_status(e, l->ctx)) return st_error(SPK_ERR_DMA);
    l->phase = PH_IDLE;
    return st_done;
}

/* ---- the register interface ---------------------------------------------------------------- */
static uint32_t execute(spkdev_engine *e, uint32_t op) {
    layer_state *l = &e->layer;
    const uint32_t *csr = e->dev->csr;
    const uint32_t desc = csr[SPK_ENG_DESC_REG_OFFSET / 4];
    /* Operations of a layer come in order: BEGIN, HEAD..., END, then optionally PRUNE. */
    const int live = l->ctx && l->ctx->id;
    switch (op) {
    case SPK_ENG_OP_CONTEXT_OPEN:
        return context_open(e, desc);
    case SPK_ENG_OP_CONTEXT_CLOSE:
        return context_close(e, csr[SPK_ENG_HEAD_REG_OFFSET / 4]);
    case SPK_ENG_OP_CONTEXT_READ:
        return context_read(e, csr[SPK_ENG_HEAD_REG_OFFSET / 4], desc);
    case SPK_ENG_OP_HEAD_REQ:
        /* The RTL top's single-request operation (spk_engine_regs.v): this front-end builds
         * head requests itself and has nowhere to put the results of a lone one. */
        return st_error(SPK_ERR_UNSUPPORTED);
    case SPK_ENG_OP_LAYER_BEGIN:
        return layer_begin(e, desc);
    case SPK_ENG_OP_HEAD:
        if (!live || l->phase != PH_OPEN) break;
        return run_head(e, csr[SPK_ENG_HEAD_REG_OFFSET / 4]);
    case SPK_ENG_OP_LAYER_END:
        if (!live || l->phase != PH_OPEN) break;
        return layer_end(e);
    case SPK_ENG_OP_PRUNE:
        if (!live || l->phase != PH_ENDED || desc != l->desc_addr) break;
        return prune(e);
    default:
        break;
    }
    return st_error(SPK_ERR_ENGINE); /* unknown operation or out of order */
}

void spkdev_engine_go(spkdev_engine *e, uint32_t cmd) {
    if (!(cmd & (1u << SPK_ENG_CMD_GO_BIT))) return;
    if (e->pending) {
        e->lost_go = 1; /* a GO while busy is lost, and the operation's status says so */
        return;
    }
    e->pending = cmd;
    e->status = 1u << SPK_ENG_STATUS_BUSY_BIT;
}

void spkdev_engine_abort(spkdev_engine *e) {
    e->pending = 0;
    e->lost_go = 0;
    e->status = 0;
    e->layer.phase = PH_IDLE; /* the next layer starts with LAYER_BEGIN again */
}

uint32_t spkdev_engine_poll(spkdev_engine *e, uint64_t *cycles) {
    if (e->pending) {
        const uint32_t op = (e->pending >> SPK_ENG_CMD_OP_OFFSET) & SPK_ENG_CMD_OP_MASK;
        e->pending = 0;
        e->op_cycles = 0;
        uint32_t status = execute(e, op);
        if (e->lost_go) status = st_error(SPK_ERR_ENGINE);
        e->lost_go = 0;
        if (status & (1u << SPK_ENG_STATUS_ERROR_BIT)) e->layer.phase = PH_IDLE;
        e->status = status;
        /* At least one cycle: an operation is never free in device time. */
        *cycles += e->op_cycles ? e->op_cycles : 1;
    }
    return e->status;
}

uint32_t spkdev_engine_status(const spkdev_engine *e) {
    return e->status;
}

uint32_t spkdev_engine_alive_tokens(const spkdev_engine *e) {
    const layer_state *l = &e->layer;
    return l->ctx && l->phase ? spk_prune_alive_tokens(l->ctx->prune) : 0;
}

uint32_t spkdev_engine_alive_heads(const spkdev_engine *e) {
    const layer_state *l = &e->layer;
    return l->ctx && l->phase ? spk_prune_alive_heads(l->ctx->prune) : 0;
}

const char *spkdev_engine_impl_name(const spkdev_engine *e) {
    return e->impl->name;
}

uint32_t spkdev_engine_slowdown(const spkdev_engine *e) {
    return e->impl->slowdown;
}

/* ---- create / destroy --------------------------------------------------------------------- */
void spkdev_engine_destroy(spkdev_engine *e) {
    if (!e) return;
    for (uint32_t i = 0; i < MAX_CONTEXTS; i++)
        if (e->ctx[i].id) context_drop(&e->ctx[i]);
    if (e->impl) e->impl->destroy(e->impl);
    spkdev_selection_free(&e->layer.sel);
    free(e->layer.alive);
    free(e->layer.n_alive);
    free(e->layer.score_add);
    free(e->out);
    free(e->probs);
    free(e->logits);
    free(e->key_list);
    free(e);
}

spkdev_engine *spkdev_engine_create(spkdev *dev, const spkdev_config *cfg, char *err,
                                    size_t err_len) {
    spkdev_engine *e = calloc(1, sizeof(*e));
    if (e) e->out = malloc(SPK_MAX_D * sizeof(*e->out));
    if (!e || !e->out) {
        if (err_len) snprintf(err, err_len, "out of host memory");
        spkdev_engine_destroy(e);
        return NULL;
    }
    e->dev = dev;
    const char *name = cfg->engine ? cfg->engine : "model";
    if (strcmp(name, "model") == 0 || strcmp(name, "sim") == 0)
        e->impl =
            spkdev_engine_model_create(dram_read, dev, cfg->sim_config, cfg->energy_path,
                                       cfg->sim_trace, strcmp(name, "sim") == 0, err, err_len);
    else if (strcmp(name, "rtl") == 0 || strcmp(name, "rtl-compact") == 0 ||
             strcmp(name, "rtl-ovl") == 0)
        e->impl = spkdev_engine_rtl_create(dram_read, dev,
                                           strcmp(name, "rtl") == 0           ? "full"
                                           : strcmp(name, "rtl-compact") == 0 ? "compact"
                                                                              : "ovl",
                                           cfg->rtl_plugin, cfg->rtl_trace, err, err_len);
    else if (strncmp(name, "fpga:", 5) == 0)
        e->impl = spkdev_engine_fpga_create(dram_read, dev, name + 5, err, err_len);
    else if (err_len)
        snprintf(err, err_len,
                 "unknown engine '%s' (known: model, sim, rtl, rtl-compact, rtl-ovl, fpga:PORT)",
                 name);
    if (!e->impl) {
        spkdev_engine_destroy(e);
        return NULL;
    }
    /* The parameter registers describe this engine. */
    dev->csr[SPK_PARAM_MAX_KEYS_REG_OFFSET / 4] = e->impl->max_keys;
    dev->csr[SPK_PARAM_MAX_D_REG_OFFSET / 4] = e->impl->max_d;
    return e;
}
