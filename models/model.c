/* Llama forward pass over GGUF weights, processed in batches of tokens so that each weight row is
 * read once per batch. */
#include "spkllm/model.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spkllm/quant.h"

#define MAX_BATCH 64
/* Rows per parallel task: long contiguous ranges keep each thread's weight stream sequential
 * (16-row tasks alternating between threads made 2-thread generation slower than 1 thread). */
#define ROWS_PER_TASK 128

typedef struct {
    float *attn_norm, *ffn_norm;
    const spkllm_gguf_tensor *wq, *wk, *wv, *wo, *w_gate, *w_up, *w_down;
} layer;

struct spkllm_model {
    spkllm_gguf file;
    spkllm_model_params p;
    spkllm_pool *pool;
    const spkllm_gguf_tensor *tok_embd, *output;
    float *output_norm;
    layer *layers;
    float *inv_freq; /* [n_rot / 2] */
    const spkllm_attn_ops *attn;
    int max_tokens;
    /* per-batch scratch */
    float *x, *xn, *q, *k, *v, *att, *gate, *up;
    spkllm_q8_block *xq;
};

static spkllm_status fail(char *err, size_t len, spkllm_status st, const char *fmt, ...) {
    if (err && len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, len, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* Reads "<arch>.<suffix>" as u32; missing keys take @p def (or fail when def < 0). */
static spkllm_status arch_u32(const spkllm_gguf *g, const char *arch, const char *suffix, long def,
                              int *out, char *err, size_t len) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    uint32_t v;
    spkllm_status st = spkllm_gguf_get_u32(g, key, &v);
    if (st == SPKLLM_ERR_NOT_FOUND && def >= 0) {
        *out = (int)def;
        return SPKLLM_OK;
    }
    if (st == SPKLLM_ERR_NOT_FOUND) return fail(err, len, st, "metadata key '%s' is missing", key);
    if (st || v == 0 || v > (1u << 24))
        return fail(err, len, SPKLLM_ERR_FORMAT, "metadata key '%s' is not a sensible count", key);
    *out = (int)v;
    return SPKLLM_OK;
}

static spkllm_status arch_f32(const spkllm_gguf *g, const char *arch, const char *suffix, float def,
                              float *out, char *err, size_t len) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    spkllm_status st = spkllm_gguf_get_f32(g, key, out);
    if (st == SPKLLM_ERR_NOT_FOUND) {
        *out = def;
        return SPKLLM_OK;
    }
    if (st || !(*out > 0) || !isfinite(*out))
        return fail(err, len, SPKLLM_ERR_FORMAT, "metadata key '%s' must be a positive float", key);
    return SPKLLM_OK;
}

/* Refuses a tensor with a NaN or infinite element or block scale, naming it. */
static spkllm_status check_finite(const spkllm_gguf_tensor *t, const char *name, char *err,
                                  size_t len) {
    int is_nan;
    int64_t bad = spkllm_find_nonfinite(t->type, t->data, (size_t)t->n_elems, &is_nan);
    if (bad < 0) return SPKLLM_OK;
    const char *what = is_nan ? "NaN" : "infinite";
    if (t->type == SPKLLM_TENSOR_F32 || t->type == SPKLLM_TENSOR_F16 ||
        t->type == SPKLLM_TENSOR_BF16)
        return fail(err, len, SPKLLM_ERR_FORMAT, "%s: element %lld is %s", name, (long long)bad,
                    what);
    return fail(err, len, SPKLLM_ERR_FORMAT,
                "%s: block %lld (elements %lld..%lld) has a %s %s scale", name,
                (long long)(bad / SPKLLM_QK), (long long)bad, (long long)(bad + SPKLLM_QK - 1),
                what, spkllm_tensor_type_name(t->type));
}

/* Finds a 2-D (or 1-D when rows == 0) tensor and checks its shape and that it is finite. */
static spkllm_status get_tensor(const spkllm_gguf *g, const char *name, int cols, int rows,
                                const spkllm_gguf_tensor **out, char *err, size_t len) {
    const spkllm_gguf_tensor *t = spkllm_gguf_find_tensor(g, name);
    if (!t) return fail(err, len, SPKLLM_ERR_NOT_FOUND, "tensor '%s' is missing", name);
    uint64_t want_rows = rows ? (uint64_t)rows : 1;
    if (t->ne[0] != (uint64_t)cols || t->ne[1] != want_rows || t->ne[2] != 1 || t->ne[3] != 1)
        return fail(err, len, SPKLLM_ERR_FORMAT,
                    "tensor '%s' has shape [%llu, %llu, %llu, %llu], expected [%d, %llu]", name,
                    (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                    (unsigned long long)t->ne[2], (unsigned long long)t->ne[3], cols,
                    (unsigned long long)want_rows);
    spkllm_status st = check_finite(t, name, err, len);
    if (st) return st;
    *out = t;
    return SPKLLM_OK;
}

static spkllm_status get_norm(const spkllm_gguf *g, const char *name, int n, float **out, char *err,
                              size_t len) {
    const spkllm_gguf_tensor *t;
    spkllm_status st = get_tensor(g, name, n, 0, &t, err, len);
    if (st) return st;
    *out = malloc(sizeof(float) * (size_t)n);
    if (!*out) return fail(err, len, SPKLLM_ERR_NOMEM, "out of memory for '%s'", name);
    spkllm_dequantize_row(t->type, t->data, *out, (size_t)n);
    return SPKLLM_OK;
}

static spkllm_status load_params(spkllm_model *m, char *err, size_t len) {
    const spkllm_gguf *g = &m->file;
    spkllm_str arch_s;
    if (spkllm_gguf_get_str(g, "general.architecture", &arch_s))
        return fail(err, len, SPKLLM_ERR_NOT_FOUND, "metadata key 'general.architecture' missing");
    if (!spkllm_str_eq(arch_s, "llama"))
        return fail(err, len, SPKLLM_ERR_UNSUPPORTED,
                    "architecture '%.*s' is not supported (llama)",
                    (int)(arch_s.len > 40 ? 40 : arch_s.len), arch_s.ptr);
    const char *a = "llama";
    spkllm_model_params *p = &m->p;
    spkllm_status st;
    if ((st = arch_u32(g, a, "block_count", -1, &p->n_layers, err, len)) ||
        (st = arch_u32(g, a, "embedding_length", -1, &p->n_embd, err, len)) ||
        (st = arch_u32(g, a, "feed_forward_length", -1, &p->n_ff, err, len)) ||
        (st = arch_u32(g, a, "attention.head_count", -1, &p->n_heads, err, len)) ||
        (st = arch_u32(g, a, "attention.head_count_kv", p->n_heads, &p->n_kv_heads, err, len)) ||
        (st = arch_u32(g, a, "context_length", 2048, &p->n_ctx_train, err, len)) ||
        (st = arch_f32(g, a, "rope.freq_base", 10000.0f, &p->rope_theta, err, len)) ||
        (st = arch_f32(g, a, "attention.layer_norm_rms_epsilon", 1e-5f, &p->rms_eps, err, len)))
        return st;
    if (p->n_embd % p->n_heads || p->n_heads % p->n_kv_heads)
        return fail(err, len, SPKLLM_ERR_FORMAT,
                    "head counts (%d heads, %d KV heads) do not divide embedding_length %d",
                    p->n_heads, p->n_kv_heads, p->n_embd);
    p->head_dim = p->n_embd / p->n_heads;
    if ((st = arch_u32(g, a, "rope.dimension_count", p->head_dim, &p->n_rot, err, len))) return st;
    if (p->n_rot > p->head_dim || p->n_rot % 2)
        return fail(err, len, SPKLLM_ERR_FORMAT, "rope.dimension_count %d is not even and <= %d",
                    p->n_rot, p->head_dim);
    if (p->n_embd % SPKLLM_QK || p->n_ff % SPKLLM_QK || p->head_dim % 2)
        return fail(err, len, SPKLLM_ERR_UNSUPPORTED,
                    "embedding_length %d and feed_forward_length %d must be multiples of 32",
                    p->n_embd, p->n_ff);
    return SPKLLM_OK;
}

static spkllm_status load_weights(spkllm_model *m, char *err, size_t len) {
    const spkllm_gguf *g = &m->file;
    spkllm_model_params *p = &m->p;
    const spkllm_gguf_tensor *te = spkllm_gguf_find_tensor(g, "token_embd.weight");
    if (!te) return fail(err, len, SPKLLM_ERR_NOT_FOUND, "tensor 'token_embd.weight' is missing");
    if (te->ne[1] < 1 || te->ne[1] > (1u << 24))
        return fail(err, len, SPKLLM_ERR_FORMAT, "token_embd.weight has a bad vocabulary size");
    p->n_vocab = (int)te->ne[1];
    const spkllm_gguf_kv *tok = spkllm_gguf_find_kv(g, "tokenizer.ggml.tokens");
    if (tok && tok->type == SPKLLM_GGUF_ARRAY && tok->arr_len != (uint64_t)p->n_vocab)
        return fail(err, len, SPKLLM_ERR_FORMAT,
                    "tokenizer.ggml.tokens has %llu tokens but token_embd.weight has %d rows",
                    (unsigned long long)tok->arr_len, p->n_vocab);
    int kvd = p->n_kv_heads * p->head_dim;
    spkllm_status st;
    if ((st = get_tensor(g, "token_embd.weight", p->n_embd, p->n_vocab, &m->tok_embd, err, len)) ||
        (st = get_norm(g, "output_norm.weight", p->n_embd, &m->output_norm, err, len)))
        return st;
    m->output = m->tok_embd;
    p->tied_output = 1;
    if (spkllm_gguf_find_tensor(g, "output.weight")) {
        if ((st = get_tensor(g, "output.weight", p->n_embd, p->n_vocab, &m->output, err, len)))
            return st;
        p->tied_output = 0;
    }
    m->layers = calloc((size_t)p->n_layers, sizeof *m->layers);
    if (!m->layers) return fail(err, len, SPKLLM_ERR_NOMEM, "out of memory for layers");
    for (int i = 0; i < p->n_layers; i++) {
        layer *l = &m->layers[i];
        char n[9][64];
        const char *names[9] = {"attn_norm",   "ffn_norm", "attn_q", "attn_k",  "attn_v",
                                "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
        for (int j = 0; j < 9; j++) snprintf(n[j], sizeof n[j], "blk.%d.%s.weight", i, names[j]);
        if ((st = get_norm(g, n[0], p->n_embd, &l->attn_norm, err, len)) ||
            (st = get_norm(g, n[1], p->n_embd, &l->ffn_norm, err, len)) ||
            (st = get_tensor(g, n[2], p->n_embd, p->n_embd, &l->wq, err, len)) ||
            (st = get_tensor(g, n[3], p->n_embd, kvd, &l->wk, err, len)) ||
            (st = get_tensor(g, n[4], p->n_embd, kvd, &l->wv, err, len)) ||
            (st = get_tensor(g, n[5], p->n_embd, p->n_embd, &l->wo, err, len)) ||
            (st = get_tensor(g, n[6], p->n_embd, p->n_ff, &l->w_gate, err, len)) ||
            (st = get_tensor(g, n[7], p->n_embd, p->n_ff, &l->w_up, err, len)) ||
            (st = get_tensor(g, n[8], p->n_ff, p->n_embd, &l->w_down, err, len)))
            return st;
    }
    return SPKLLM_OK;
}

static spkllm_status alloc_scratch(spkllm_model *m, char *err, size_t len) {
    const spkllm_model_params *p = &m->p;
    size_t B = MAX_BATCH, d = (size_t)p->n_embd, kvd = (size_t)(p->n_kv_heads * p->head_dim);
    size_t ff = (size_t)p->n_ff, widest = ff > d ? ff : d;
    m->x = malloc(sizeof(float) * B * d);
    m->xn = malloc(sizeof(float) * B * widest);
    m->q = malloc(sizeof(float) * B * d);
    m->k = malloc(sizeof(float) * B * kvd);
    m->v = malloc(sizeof(float) * B * kvd);
    m->att = malloc(sizeof(float) * B * d);
    m->gate = malloc(sizeof(float) * B * ff);
    m->up = malloc(sizeof(float) * B * ff);
    m->xq = malloc(sizeof(spkllm_q8_block) * B * widest / SPKLLM_QK);
    m->inv_freq = malloc(sizeof(float) * (size_t)(p->n_rot / 2 + 1));
    if (!m->x || !m->xn || !m->q || !m->k || !m->v || !m->att || !m->gate || !m->up || !m->xq ||
        !m->inv_freq)
        return fail(err, len, SPKLLM_ERR_NOMEM, "out of memory for activations");
    for (int i = 0; i < p->n_rot / 2; i++)
        m->inv_freq[i] = (float)pow((double)p->rope_theta, -2.0 * i / p->n_rot);
    return SPKLLM_OK;
}

static spkllm_status build(spkllm_model *m, int n_threads, char *err, size_t len) {
    spkllm_status st;
    if ((st = load_params(m, err, len)) || (st = load_weights(m, err, len)) ||
        (st = alloc_scratch(m, err, len)))
        return st;
    if ((st = spkllm_pool_create(n_threads, &m->pool)))
        return fail(err, len, st, "cannot start %d threads", n_threads);
    return SPKLLM_OK;
}

spkllm_status spkllm_model_open(const char *path, int n_threads, spkllm_model **out, char *err,
                                size_t len) {
    *out = NULL;
    spkllm_model *m = calloc(1, sizeof *m);
    if (!m) return fail(err, len, SPKLLM_ERR_NOMEM, "out of memory");
    spkllm_status st = spkllm_gguf_open(path, &m->file, err, len);
    if (!st) st = build(m, n_threads, err, len);
    if (st) {
        spkllm_model_close(m);
        return st;
    }
    *out = m;
    return SPKLLM_OK;
}

spkllm_status spkllm_model_open_memory(const void *buf, size_t size, int n_threads,
                                       spkllm_model **out, char *err, size_t len) {
    *out = NULL;
    spkllm_model *m = calloc(1, sizeof *m);
    if (!m) return fail(err, len, SPKLLM_ERR_NOMEM, "out of memory");
    spkllm_status st = spkllm_gguf_open_memory(buf, size, &m->file, err, len);
    if (!st) st = build(m, n_threads, err, len);
    if (st) {
        spkllm_model_close(m);
        return st;
    }
    *out = m;
    return SPKLLM_OK;
}

void spkllm_model_close(spkllm_model *m) {
    if (!m) return;
    spkllm_pool_destroy(m->pool);
    if (m->layers)
        for (int i = 0; i < m->p.n_layers; i++) {
            free(m->layers[i].attn_norm);
            free(m->layers[i].ffn_norm);
        }
    free(m->layers);
    free(m->output_norm);
    free(m->inv_freq);
    free(m->x), free(m->xn), free(m->q), free(m->k), free(m->v), free(m->att);
    free(m->gate), free(m->up), free(m->xq);
    spkllm_gguf_close(&m->file);
    free(m);
}

const spkllm_model_params *spkllm_model_get_params(const spkllm_model *m) {
    return &m->p;
}
const spkllm_gguf *spkllm_model_gguf(const spkllm_model *m) {
    return &m->file;
}
spkllm_pool *spkllm_model_pool(spkllm_model *m) {
    return m->pool;
}

spkllm_status spkllm_model_begin(spkllm_model *m, const spkllm_attn_ops *attn, int max_tokens) {
    /* Positions beyond the trained context are refused (llama.cpp only warns). */
    if (!attn || max_tokens < 1 || max_tokens > m->p.n_ctx_train) return SPKLLM_ERR_ARG;
    m->attn = attn;
    m->max_tokens = max_tokens;
    return attn->begin_sequence(attn->ctx, m->p.n_layers, m->p.n_heads, m->p.n_kv_heads,
                                m->p.head_dim, max_tokens);
}

/* ---- parallel matrix products ---------------------------------------------------------- */

#define MAX_MATS 3

typedef struct {
    int n_mats;
    const spkllm_gguf_tensor *w[MAX_MATS];
    float *out[MAX_MATS];
    size_t out_stride[MAX_MATS];
    size_t first_task[MAX_MATS + 1]; /* task ranges per matrix */
    size_t n_in, n_cols;
    const float *x;
    const spkllm_q8_block *xq;
} matmul_job;

static void matmul_task(void *raw, size_t task, int thread) {
    (void)thread;
    matmul_job *j = raw;
    int i = 0;
    while (task >= j->first_task[i + 1]) i++;
    size_t rows = j->w[i]->ne[1];
    size_t r0 = (task - j->first_task[i]) * ROWS_PER_TASK;
    size_t r1 = r0 + ROWS_PER_TASK < rows ? r0 + ROWS_PER_TASK : rows;
    spkllm_matmul_rows(j->w[i]->type, j->w[i]->data, j->n_in, r0, r1, j->x, j->xq, j->n_cols,
                       j->out[i], j->out_stride[i]);
}

/* out_i = W_i x for up to three matrices that share the input (Q/K/V, gate/up). */
static void matmul(spkllm_model *m, int n_mats, const spkllm_gguf_tensor *const *w,
                   float *const *out, const size_t *out_stride, const float *x, size_t n_in,
                   size_t n_cols) {
    matmul_job j = {.n_mats = n_mats, .n_in = n_in, .n_cols = n_cols, .x = x, .xq = m->xq};
    int need_q8 = 0;
    j.first_task[0] = 0;
    for (int i = 0; i < n_mats; i++) {
        j.w[i] = w[i], j.out[i] = out[i], j.out_stride[i] = out_stride[i];
        j.first_task[i + 1] = j.first_task[i] + (w[i]->ne[1] + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
        need_q8 |= spkllm_type_uses_q8(w[i]->type);
    }
    if (need_q8) spkllm_quantize_q8(x, m->xq, n_in * n_cols);
    spkllm_pool_run(m->pool, j.first_task[n_mats], matmul_task, &j);
}

static void matmul1(spkllm_model *m, const spkllm_gguf_tensor *w, float *out, size_t stride,
                    const float *x, size_t n_in, size_t n_cols) {
    matmul(m, 1, &w, &out, &stride, x, n_in, n_cols);
}

/* ---- the layer pieces ------------------------------------------------------------------ */

static void rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(ss / n + eps));
    for (int i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
}

/* Rotates adjacent pairs (2i, 2i+1) of each head by pos * theta^(-2i/n_rot). */
static void rope(const spkllm_model *m, float *v, int n_heads, int pos) {
    int hd = m->p.head_dim;
    for (int i = 0; i < m->p.n_rot / 2; i++) {
        float ang = (float)pos * m->inv_freq[i], c = cosf(ang), s = sinf(ang);
        for (int h = 0; h < n_heads; h++) {
            float *x = v + h * hd + 2 * i;
            float x0 = x[0], x1 = x[1];
            x[0] = x0 * c - x1 * s;
            x[1] = x0 * s + x1 * c;
        }
    }
}

static spkllm_status layer_forward(spkllm_model *m, const layer *l, int li, int pos0, int n) {
    const spkllm_model_params *p = &m->p;
    size_t d = (size_t)p->n_embd, kvd = (size_t)(p->n_kv_heads * p->head_dim), ff = (size_t)p->n_ff;
    for (int t = 0; t < n; t++)
        rmsnorm(m->xn + t * d, m->x + t * d, l->attn_norm, p->n_embd, p->rms_eps);
    const spkllm_gguf_tensor *qkv[3] = {l->wq, l->wk, l->wv};
    float *qkv_out[3] = {m->q, m->k, m->v};
    size_t qkv_stride[3] = {d, kvd, kvd};
    matmul(m, 3, qkv, qkv_out, qkv_stride, m->xn, d, (size_t)n);
    for (int t = 0; t < n; t++) {
        rope(m, m->q + t * d, p->n_heads, pos0 + t);
        rope(m, m->k + t * kvd, p->n_kv_heads, pos0 + t);
    }
    spkllm_status st = m->attn->append_kv(m->attn->ctx, li, pos0, n, m->k, m->v);
    if (!st) st = m->attn->attend(m->attn->ctx, li, pos0, n, m->q, m->att);
    if (st) return st;
    matmul1(m, l->wo, m->q, d, m->att, d, (size_t)n);
    for (size_t i = 0; i < (size_t)n * d; i++) m->x[i] += m->q[i];

    for (int t = 0; t < n; t++)
        rmsnorm(m->xn + t * d, m->x + t * d, l->ffn_norm, p->n_embd, p->rms_eps);
    const spkllm_gguf_tensor *gu[2] = {l->w_gate, l->w_up};
    float *gu_out[2] = {m->gate, m->up};
    size_t gu_stride[2] = {ff, ff};
    matmul(m, 2, gu, gu_out, gu_stride, m->xn, d, (size_t)n);
    for (size_t i = 0; i < (size_t)n * ff; i++) {
        float g = m->gate[i];
        m->gate[i] = g / (1.0f + expf(-g)) * m->up[i];
    }
    matmul1(m, l->w_down, m->q, d, m->gate, ff, (size_t)n);
    for (size_t i = 0; i < (size_t)n * d; i++) m->x[i] += m->q[i];
    return SPKLLM_OK;
}

spkllm_status spkllm_model_forward(spkllm_model *m, const int32_t *tokens, int n, int pos0,
                                   float *logits, int logits_from) {
    const spkllm_model_params *p = &m->p;
    if (!m->attn || n < 0 || pos0 < 0 || pos0 + n > m->max_tokens || pos0 + n > p->n_ctx_train ||
        logits_from < 0)
        return SPKLLM_ERR_ARG;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= p->n_vocab) return SPKLLM_ERR_ARG;
    size_t d = (size_t)p->n_embd, rb = spkllm_row_bytes(m->tok_embd->type, d);
    for (int b0 = 0; b0 < n; b0 += MAX_BATCH) {
        int nb = n - b0 < MAX_BATCH ? n - b0 : MAX_BATCH;
        for (int t = 0; t < nb; t++)
            spkllm_dequantize_row(m->tok_embd->type,
                                  (const uint8_t *)m->tok_embd->data + (size_t)tokens[b0 + t] * rb,
                                  m->x + t * d, d);
        for (int li = 0; li < p->n_layers; li++) {
            spkllm_status st = layer_forward(m, &m->layers[li], li, pos0 + b0, nb);
            if (st) return st;
        }
        /* Weights are checked at load; an overflow to Inf/NaN is refused, not scored. */
        for (size_t i = 0; i < (size_t)nb * d; i++)
            if (!isfinite(m->x[i])) return SPKLLM_ERR_FORMAT;
        if (!logits || b0 + nb <= logits_from) continue;
        int first = logits_from > b0 ? logits_from - b0 : 0;
        for (int t = first; t < nb; t++)
            rmsnorm(m->xn + (t - first) * d, m->x + t * d, m->output_norm, p->n_embd, p->rms_eps);
        float *dst = logits + (size_t)(b0 + first - logits_from) * (size_t)p->n_vocab;
        matmul1(m, m->output, dst, (size_t)p->n_vocab, m->xn, d, (size_t)(nb - first));
    }
    return SPKLLM_OK;
}
