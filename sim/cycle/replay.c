/* Replay rules: SpAtten trace rows -> timing-engine descriptors (docs/simulator.md). */
#include "spksim/trace.h"

#include "spksim/cycle_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* K MSB, K LSB and V live in separate DRAM regions; each (layer, head) owns a slot. */
#define REGION_KEY_MSB (UINT64_C(0) << 56)
#define REGION_KEY_LSB (UINT64_C(1) << 56)
#define REGION_VALUE (UINT64_C(2) << 56)
#define SLOT_BYTES (UINT64_C(1) << 24)

/* Precision of one row after the reference's normalisation. */
typedef struct {
    uint32_t key_bits, value_bits, lsb_bits;
    int value_unquantized; /* the row's V was -1/10/12 bits (12-bit on chip) */
    int requant;
    uint32_t keys, values; /* rounded up to multiples of 8 */
} row_plan;

static uint32_t round8(uint32_t x) {
    return (x + 7u) / 8u * 8u;
}

static uint64_t div_up(uint64_t a, uint64_t b) {
    return (a + b - 1) / b;
}

/* Transactions per index of one matrix: D * bits * fused / 8 bytes in 32-byte transactions. */
static uint64_t per_index(uint32_t d, uint32_t bits, uint32_t fused) {
    return div_up((uint64_t)d * bits * fused, 8u * SPK_CYCLE_TRANSACTION_BYTES);
}

static int unquantized(int32_t bits) {
    return bits == -1 || bits == 10 || bits == 12;
}

static row_plan plan_row(const spk_trace_row *r, const spk_trace_options *o) {
    row_plan p;
    memset(&p, 0, sizeof p);
    if (o->dense) {
        p.key_bits = 8;
        p.value_bits = 8;
        p.lsb_bits = 4;
        p.value_unquantized = 1;
        p.keys = p.values = round8(r->l);
        return p;
    }
    /* Unquantized (-1) and 10/12-bit rows become 8-bit MSBs with an LSB refetch forced. */
    p.key_bits = unquantized(r->key_bits) ? 8u : (uint32_t)r->key_bits;
    p.requant = r->requant || unquantized(r->key_bits);
    p.value_bits = unquantized(r->value_bits) ? 8u : (uint32_t)r->value_bits;
    p.value_unquantized = unquantized(r->value_bits);
    p.lsb_bits = r->requant_incre > 0 ? (uint32_t)r->requant_incre : 4u;
    p.keys = round8(r->key_fetch);
    p.values = round8(r->value_fetch);
    return p;
}

static void fill_common(spk_cycle_request *q, const spk_trace_row *r, const row_plan *p) {
    q->iteration = r->iteration;
    q->layer = r->layer;
    q->head = r->head;
    q->d = r->d;
    q->l = r->l;
    q->key_bits = p->key_bits;
    q->lsb_bits = p->lsb_bits;
    q->value_bits = p->value_bits;
    uint64_t slot = ((uint64_t)r->layer << 16 | r->head) * SLOT_BYTES;
    q->key_msb_addr = REGION_KEY_MSB + slot;
    q->key_lsb_addr = REGION_KEY_LSB + slot;
    q->value_addr = REGION_VALUE + slot;
}

/* Add one row (the first or second of a group) to its descriptor. */
static void add_row(spk_cycle_request *q, const spk_trace_row *r, const row_plan *p,
                    const spk_trace_options *o, uint64_t *rng, int second) {
    uint32_t fused_k = p->key_bits == 6 ? 2u : 1u, fused_v = p->value_bits == 6 ? 2u : 1u;
    if (!second) {
        fill_common(q, r, p);
        q->heads = 1;
    } else {
        q->heads = 2;
        if (r->d > q->d) q->d = r->d;
    }
    /* Fused 6-bit rows share one chunk per key index: the pair pays once, for its larger K. */
    if (p->keys > q->keys) {
        q->key_msb_transactions = (uint64_t)p->keys * per_index(q->d, p->key_bits, fused_k);
        q->keys = p->keys;
    }
    uint64_t v_per = per_index(q->d, p->value_bits, fused_v);
    if (o->dense || (!o->compat && p->value_unquantized)) v_per += per_index(q->d, p->lsb_bits, 1);
    if (fused_v == 2 || !second) {
        if (p->values > q->values) {
            q->value_transactions = (uint64_t)p->values * v_per;
            q->values = p->values;
        }
    } else {
        q->value_transactions += (uint64_t)p->values * v_per; /* V indices not shared */
        if (p->values > q->values) q->values = p->values;
    }
    uint64_t lsb = (uint64_t)p->keys * per_index(q->d, p->lsb_bits, 1);
    if (o->dense) {
        q->lsb_upfront = 1;
        q->key_lsb_transactions += lsb;
    } else if (p->requant) {
        q->requant_heads++;
        q->requant_keys += p->keys;
        q->key_lsb_transactions += lsb;
    }
    if (r->accumulate_importance) q->accumulate_importance = 1;
    if (o->dense) return;
    /* Local V top-k over this row's keys; fused heads share their V indices, so one selection. */
    if (!second || fused_v == 1) {
        uint64_t streamed;
        q->local_topk_cycles +=
            spk_cycle_topk_model(rng, r->key_fetch, r->value_fetch, o->topk_parallelism, &streamed);
        q->local_topk_streamed += streamed;
    }
    if (r->token_topk && r->topk >= 0) {
        uint64_t streamed;
        q->token_topk_cycles += spk_cycle_topk_model(rng, r->key_fetch, (uint32_t)r->topk,
                                                     o->topk_parallelism, &streamed);
        q->token_topk_streamed += streamed;
    }
}

void spk_trace_replay_init(spk_trace_replay *rp, const spk_trace_options *opt) {
    memset(rp, 0, sizeof *rp);
    rp->opt = *opt;
    rp->rng = opt->seed;
}

int spk_trace_replay_row(spk_trace_replay *rp, const spk_trace_row *r, spk_cycle_request *out) {
    if (r->device) {
        /* A device trace's row is one descriptor by the data-mode rules (no fusing, no rounding,
         * the top-k's measured passes); the reader has checked its fields. */
        int emitted = rp->pending;
        if (emitted) *out = rp->cur;
        rp->pending = spk_trace_device_request(r, &rp->cur, NULL) == SPK_CYCLE_OK;
        rp->part = 0;
        return emitted;
    }
    row_plan p = plan_row(r, &rp->opt);
    /* The reference pairs 6-bit rows by a counter that every 6-bit row advances and any other
     * row resets: rows 0-1, 2-3, ... of each run of 6-bit rows are fused. */
    int six = p.key_bits == 6 && !rp->opt.dense;
    int second = six && (rp->part % 2 == 1);
    rp->part = six ? rp->part + 1 : 0;
    int emitted = 0;
    if (!second) {
        if (rp->pending) {
            *out = rp->cur;
            emitted = 1;
        }
        memset(&rp->cur, 0, sizeof rp->cur);
        rp->pending = 1;
    }
    add_row(&rp->cur, r, &p, &rp->opt, &rp->rng, second);
    return emitted;
}

int spk_trace_replay_flush(spk_trace_replay *rp, spk_cycle_request *out) {
    if (!rp->pending) return 0;
    *out = rp->cur;
    rp->pending = 0;
    return 1;
}

spk_cycle_status spk_trace_to_requests(const spk_trace *t, const spk_trace_options *o,
                                       spk_cycle_request **out, size_t *n_out, char *err,
                                       size_t err_len) {
    if (!t || !o || !out || !n_out || (t->n && !t->rows)) return SPK_CYCLE_E_ARG;
    *out = NULL;
    *n_out = 0;
    spk_cycle_request *q = calloc(t->n ? t->n : 1, sizeof *q);
    if (!q) {
        if (err && err_len) snprintf(err, err_len, "out of memory for %zu requests", t->n);
        return SPK_CYCLE_E_NOMEM;
    }
    spk_trace_replay rp;
    spk_trace_replay_init(&rp, o);
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++) n += (size_t)spk_trace_replay_row(&rp, &t->rows[i], &q[n]);
    n += (size_t)spk_trace_replay_flush(&rp, &q[n]);
    *out = q;
    *n_out = n;
    return SPK_CYCLE_OK;
}
