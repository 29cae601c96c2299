/* One head request of the SpAtten datapath: QK, softmax, progressive quantization, local V
 * pruning, PV. Normative text: docs/spec/datapath.md, "Logits" to "Head request". */
#include "spksim/datapath.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

const uint16_t spk_exp2_lut[256] = {
#include "exp2_lut.inc"
};

struct spk_workspace {
    uint32_t max_keys;
    int32_t *logits;
    uint32_t *exps;
    int64_t *topk_values;
    int64_t *topk_scratch;
    uint32_t *kept;
};

spk_workspace *spk_workspace_create(uint32_t max_keys) {
    if (max_keys == 0 || max_keys > SPK_MAX_KEYS) return NULL;
    spk_workspace *ws = calloc(1, sizeof *ws);
    if (!ws) return NULL;
    ws->max_keys = max_keys;
    ws->logits = malloc(max_keys * sizeof *ws->logits);
    ws->exps = malloc(max_keys * sizeof *ws->exps);
    ws->topk_values = malloc(max_keys * sizeof *ws->topk_values);
    ws->topk_scratch = malloc(2u * max_keys * sizeof *ws->topk_scratch);
    ws->kept = malloc(max_keys * sizeof *ws->kept);
    if (!ws->logits || !ws->exps || !ws->topk_values || !ws->topk_scratch || !ws->kept) {
        spk_workspace_destroy(ws);
        return NULL;
    }
    return ws;
}

void spk_workspace_destroy(spk_workspace *ws) {
    if (!ws) return;
    free(ws->logits);
    free(ws->exps);
    free(ws->topk_values);
    free(ws->topk_scratch);
    free(ws->kept);
    free(ws);
}

spksim_status spk_head_config_check(const spk_head_config *cfg) {
    if (!cfg || cfg->d == 0 || cfg->d > SPK_MAX_D) return SPKSIM_E_ARG;
    if (cfg->kv.msb_bits < 2 || cfg->kv.msb_bits + cfg->kv.lsb_bits > SPK_KV_MAX_BITS)
        return SPKSIM_E_ARG;
    if (cfg->requant_threshold > SPK_ONE_Q16) return SPKSIM_E_ARG;
    if (cfg->v_keep_q16 == 0 || cfg->v_keep_q16 > SPK_ONE_Q16) return SPKSIM_E_ARG;
    return SPKSIM_OK;
}

/* floor(x / 2^s) + rounding half up, i.e. floor((x + 2^(s-1)) / 2^s), for s >= 1. Written
 * without shifting negative numbers so that the meaning is plain C, not compiler choice: for
 * b < 0, ~b = -b - 1 >= 0 and floor(b / 2^s) = ~(~b >> s). No division: this is the inner
 * loop of PV. */
static int64_t shift_right_round(int64_t x, int s) {
    if (s >= 63) return 0; /* |x| < 2^62 everywhere this is used */
    const int64_t biased = x + ((int64_t)1 << (s - 1));
    return biased >= 0 ? biased >> s : ~(~biased >> s);
}

static int64_t saturate(int64_t x, int64_t lo, int64_t hi) {
    return x < lo ? lo : x > hi ? hi : x;
}

int32_t spk_logit(int64_t dot, spk_scale q_logit_scale, spk_scale k_scale) {
    const int64_t lo = -((int64_t)1 << 23), hi = ((int64_t)1 << 23) - 1;
    uint64_t mqk =
        ((uint64_t)spk_scale_mant(q_logit_scale) * spk_scale_mant(k_scale) + 32768u) >> 16;
    int64_t raw = dot * (int64_t)mqk;
    if (raw == 0) return 0;
    int sh = spk_scale_exp(q_logit_scale) + spk_scale_exp(k_scale) + 16 + SPK_LOGIT_FRAC;
    if (sh >= 0) {
        if (sh >= 24 || raw > (hi >> sh) || raw < -((-lo) >> sh))
            return raw > 0 ? (int32_t)hi : (int32_t)lo;
        return (int32_t)(raw * ((int64_t)1 << sh));
    }
    return (int32_t)saturate(shift_right_round(raw, -sh), lo, hi);
}

uint32_t spk_softmax(const int32_t *logits, uint32_t n, uint32_t *exps, uint16_t *probs) {
    if (n == 0) return 0;
    int32_t m = logits[0];
    for (uint32_t j = 1; j < n; j++)
        if (logits[j] > m) m = logits[j];
    /* Exponentials in UQ1.23: the LUT's UQ1.15 value widened by 8 bits before the shift, so
     * that the many tiny terms of a peaked softmax are not truncated away from the sum. */
    uint64_t sum = 0;
    for (uint32_t j = 0; j < n; j++) {
        uint32_t d = (uint32_t)(m - logits[j]);
        uint32_t whole = d >> SPK_LOGIT_FRAC, frac = d & 0xFFu;
        exps[j] = whole >= 24 ? 0 : ((uint32_t)spk_exp2_lut[frac] << 8) >> whole;
        sum += exps[j];
    }
    /* sum >= 2^23 (the largest logit contributes 2^0); the guard is for static analysis. */
    const uint64_t recip = sum ? ((uint64_t)1 << 47) / sum : 0;
    uint32_t pmax = 0;
    for (uint32_t j = 0; j < n; j++) {
        uint64_t p = ((uint64_t)exps[j] * recip + ((uint64_t)1 << 30)) >> 31;
        probs[j] = (uint16_t)(p > 65535u ? 65535u : p);
        if (probs[j] > pmax) pmax = probs[j];
    }
    return pmax;
}

static uint64_t row_bytes(uint32_t d, uint32_t bits) {
    return ((uint64_t)d * bits + 7u) / 8u;
}

/* Dot products and logits of every fetched key, with MSB-only or full K codes. */
static void compute_logits(const spk_head_config *cfg, const spk_head_request *req, int msb_only,
                           int32_t *logits) {
    const uint32_t d = cfg->d;
    int16_t row[SPK_MAX_D];
    for (uint32_t j = 0; j < req->n_keys; j++) {
        const uint32_t tok = req->keys[j];
        const int16_t *k = req->k_codes + (size_t)tok * d;
        if (msb_only) {
            spk_codes_msb_only(k, d, cfg->kv, row);
            k = row;
        }
        logits[j] = spk_logit(spk_dot32(req->q, k, d), req->q_logit_scale, req->k_scales[tok]);
    }
}

/* One kept V row into the accumulators (see accumulate_pv). The same integer arithmetic in
 * every variant; the wider vector units only run more lanes at once (64-bit lanes: SSE2 has 2). */
#define PV_ROW_BODY                                                                                \
    for (uint32_t i = 0; i < d; i++) {                                                             \
        const uint64_t t = (uint64_t)w32 * (uint32_t)(v[i] + 32768) + bias;                        \
        acc[i] += (int64_t)((t >> shift) - back);                                                  \
    }
#define PV_ROW_ARGS                                                                                \
    int64_t *restrict acc, const int16_t *restrict v, uint32_t d, uint32_t w32, uint64_t bias,     \
        uint64_t back, int shift

static void pv_row_base(PV_ROW_ARGS) {
    PV_ROW_BODY
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx2"))) static void pv_row_avx2(PV_ROW_ARGS) {
    PV_ROW_BODY
}
__attribute__((target("avx2,avx512f"))) static void pv_row_avx512(PV_ROW_ARGS) {
    PV_ROW_BODY
}

/* The CPU's variant, detected once (racing first calls store the same value). */
static void pv_row(PV_ROW_ARGS) {
    static atomic_int level = -1;
    int l = atomic_load_explicit(&level, memory_order_relaxed);
    if (l < 0) {
        __builtin_cpu_init();
        l = __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
        atomic_store_explicit(&level, l, memory_order_relaxed);
    }
    if (l == 2)
        pv_row_avx512(acc, v, d, w32, bias, back, shift);
    else if (l == 1)
        pv_row_avx2(acc, v, d, w32, bias, back, shift);
    else
        pv_row_base(acc, v, d, w32, bias, back, shift);
}
#else
#define pv_row pv_row_base
#endif

/* PV over the kept V rows, aligned to the largest V exponent among them ("PV"). */
static void accumulate_pv(const spk_head_config *cfg, const spk_head_request *req,
                          const uint32_t *kept, uint32_t n_kept, int v_full, spk_head_result *res) {
    const uint32_t d = cfg->d;
    int32_t e_max = INT32_MIN;
    for (uint32_t r = 0; r < n_kept; r++) {
        spk_scale s = req->v_scales[req->keys[kept[r]]];
        if (spk_scale_mant(s) && spk_scale_exp(s) > e_max) e_max = spk_scale_exp(s);
    }
    for (uint32_t i = 0; i < d; i++) res->out[i] = 0;
    res->out_exp = 0;
    if (e_max == INT32_MIN) return; /* no kept row has a non-zero scale */
    int64_t acc[SPK_MAX_D] = {0};
    int16_t row[SPK_MAX_D];
    for (uint32_t r = 0; r < n_kept; r++) {
        const uint32_t tok = req->keys[kept[r]];
        const spk_scale s = req->v_scales[tok];
        if (!spk_scale_mant(s)) continue;
        const uint64_t w = (uint64_t)res->probs[kept[r]] * spk_scale_mant(s); /* < 2^32 */
        const int shift = 14 + e_max - spk_scale_exp(s);
        if (shift >= 63) continue; /* rshr gives 0 for every dimension */
        const int16_t *v = req->v_codes + (size_t)tok * d;
        if (!v_full) {
            spk_codes_msb_only(v, d, cfg->kv, row);
            v = row;
        }
        /* rshr(w * v[i], shift) in unsigned arithmetic the compiler vectorizes: with v + 2^15
         * >= 0 the product is a 32 x 32 -> 64-bit unsigned multiply, and adding 2^62 (|w * v|
         * < 2^47) makes the floor a logical shift; 2^62 / 2^shift comes off again exactly. */
        const uint64_t bias = ((uint64_t)1 << (shift - 1)) + ((uint64_t)1 << 62) - (w << 15);
        const uint64_t back = (uint64_t)1 << (62 - shift);
        pv_row(acc, v, d, (uint32_t)w, bias, back, shift);
    }
    for (uint32_t i = 0; i < d; i++) res->out[i] = (int32_t)saturate(acc[i], INT32_MIN, INT32_MAX);
    res->out_exp = e_max - 2;
}

/* Sum of |out| in units of 2^-16, saturating at the importance width ("Importance"). */
static uint64_t head_importance(const int32_t *out, uint32_t d, int32_t out_exp) {
    uint64_t h = 0;
    for (uint32_t i = 0; i < d; i++)
        h += out[i] < 0 ? (uint64_t)(-(int64_t)out[i]) : (uint64_t)out[i];
    const int sh = out_exp + 16;
    if (sh >= 0) {
        if (sh >= 48 || h > (SPK_IMPORTANCE_MAX >> sh)) return SPK_IMPORTANCE_MAX;
        return h << sh;
    }
    return (uint64_t)shift_right_round((int64_t)h, -sh);
}

static spksim_status check_request(const spk_head_config *cfg, const spk_head_request *req,
                                   const spk_workspace *ws, const spk_head_result *res) {
    if (spk_head_config_check(cfg) != SPKSIM_OK || !req || !ws || !res || !res->out)
        return SPKSIM_E_ARG;
    if (req->keys_held > req->n_keys) return SPKSIM_E_ARG;
    if (req->n_keys == 0) return SPKSIM_OK;
    if (req->n_keys > ws->max_keys) return SPKSIM_E_CAPACITY;
    if (!req->q || !req->keys || !req->k_codes || !req->k_scales || !req->v_codes ||
        !req->v_scales || !res->probs || !res->v_keys)
        return SPKSIM_E_ARG;
    for (uint32_t j = 1; j < req->n_keys; j++)
        if (req->keys[j] <= req->keys[j - 1]) return SPKSIM_E_ARG;
    return SPKSIM_OK;
}

spksim_status spk_head_run(const spk_head_config *cfg, const spk_head_request *req,
                           spk_workspace *ws, spk_head_result *res) {
    spksim_status st = check_request(cfg, req, ws, res);
    if (st != SPKSIM_OK) return st;
    memset(&res->ev, 0, sizeof res->ev);
    res->head_importance = 0;
    const uint32_t n = req->n_keys;
    if (n == 0) {
        for (uint32_t i = 0; i < cfg->d; i++) res->out[i] = 0;
        res->out_exp = 0;
        return SPKSIM_OK;
    }

    /* Progressive quantization: MSBs first, LSBs only when the softmax is not confident. */
    const int planes = cfg->kv.lsb_bits > 0;
    compute_logits(cfg, req, planes, ws->logits);
    uint32_t pmax = spk_softmax(ws->logits, n, ws->exps, res->probs);
    const int requant = planes && pmax < cfg->requant_threshold;
    if (requant) {
        compute_logits(cfg, req, 0, ws->logits);
        spk_softmax(ws->logits, n, ws->exps, res->probs);
    }

    if (res->logits) memcpy(res->logits, ws->logits, n * sizeof *res->logits);

    /* Local V pruning: fetch V only for the largest probabilities. */
    const uint32_t n_keep = spk_keep_count(n, cfg->v_keep_q16);
    for (uint32_t j = 0; j < n; j++) ws->topk_values[j] = res->probs[j];
    const uint32_t p = cfg->topk_parallelism ? cfg->topk_parallelism : 16u;
    const uint32_t n_kept = (uint32_t)spk_topk_quickselect(ws->topk_values, n, n_keep, p, ws->kept,
                                                           ws->topk_scratch, &res->ev.v_topk);
    for (uint32_t r = 0; r < n_kept; r++) res->v_keys[r] = req->keys[ws->kept[r]];

    accumulate_pv(cfg, req, ws->kept, n_kept, !planes || requant, res);
    res->head_importance = head_importance(res->out, cfg->d, res->out_exp);

    spk_head_events *ev = &res->ev;
    const uint32_t msb = cfg->kv.msb_bits, all = msb + cfg->kv.lsb_bits;
    ev->keys_fetched = n;
    ev->keys_refetched = requant ? n : 0;
    ev->values_fetched = n_kept;
    ev->requant = (uint8_t)requant;
    ev->v_with_lsb = (uint8_t)(planes && requant);
    /* Held keys (select policy, spec "Held rows"): their K MSB rows and scale words stayed on
     * chip from the scoring stage; nothing else differs. */
    const uint64_t read = n - req->keys_held;
    ev->keys_held = req->keys_held;
    ev->key_msb_bytes = read * row_bytes(cfg->d, msb);
    ev->key_lsb_bytes = requant ? n * row_bytes(cfg->d, cfg->kv.lsb_bits) : 0;
    ev->value_bytes = n_kept * row_bytes(cfg->d, ev->v_with_lsb ? all : msb);
    ev->scale_bytes = 4u * (read + n_kept);
    return SPKSIM_OK;
}
