/* The CPU float reference attention backend: a float KV cache per layer and exact softmax. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spkllm/attn.h"
#include "spkllm/quant.h"

typedef struct {
    spkllm_pool *pool;
    int n_layers, n_heads, n_kv_heads, head_dim, max_tokens;
    int *n_stored; /* positions stored per layer */
    float *k, *v;  /* [layer][max_tokens][n_kv_heads * head_dim] */
    float *scores; /* [threads][max_tokens] */
    int n_threads;
} cpu_attn;

static void release(cpu_attn *a) {
    free(a->n_stored);
    free(a->k);
    free(a->v);
    free(a->scores);
    a->n_stored = NULL, a->k = a->v = a->scores = NULL;
}

static spkllm_status cpu_begin(void *ctx, int n_layers, int n_heads, int n_kv_heads, int head_dim,
                               int max_tokens) {
    cpu_attn *a = ctx;
    if (n_layers < 1 || n_heads < 1 || n_kv_heads < 1 || head_dim < 1 || max_tokens < 1 ||
        n_heads % n_kv_heads)
        return SPKLLM_ERR_ARG;
    size_t kv = (size_t)n_layers * (size_t)max_tokens * (size_t)n_kv_heads * (size_t)head_dim;
    if (a->k && a->n_layers == n_layers && a->n_kv_heads == n_kv_heads && a->head_dim == head_dim &&
        a->max_tokens == max_tokens) {
        a->n_heads = n_heads;
        memset(a->n_stored, 0, sizeof *a->n_stored * (size_t)n_layers);
        return SPKLLM_OK;
    }
    release(a);
    a->n_layers = n_layers, a->n_heads = n_heads, a->n_kv_heads = n_kv_heads;
    a->head_dim = head_dim, a->max_tokens = max_tokens;
    a->n_stored = calloc((size_t)n_layers, sizeof *a->n_stored);
    a->k = malloc(kv * sizeof(float));
    a->v = malloc(kv * sizeof(float));
    a->scores = malloc((size_t)a->n_threads * (size_t)max_tokens * sizeof(float));
    if (!a->n_stored || !a->k || !a->v || !a->scores) {
        release(a);
        return SPKLLM_ERR_NOMEM;
    }
    return SPKLLM_OK;
}

static spkllm_status cpu_append(void *ctx, int layer, int pos0, int n, const float *k,
                                const float *v) {
    cpu_attn *a = ctx;
    if (!a->k || layer < 0 || layer >= a->n_layers || n < 0 || pos0 != a->n_stored[layer] ||
        pos0 + n > a->max_tokens)
        return SPKLLM_ERR_ARG;
    size_t row = (size_t)a->n_kv_heads * (size_t)a->head_dim;
    size_t off = ((size_t)layer * (size_t)a->max_tokens + (size_t)pos0) * row;
    memcpy(a->k + off, k, (size_t)n * row * sizeof(float));
    memcpy(a->v + off, v, (size_t)n * row * sizeof(float));
    a->n_stored[layer] = pos0 + n;
    return SPKLLM_OK;
}

typedef struct {
    cpu_attn *a;
    int layer, pos0;
    const float *q;
    float *out;
} attend_job;

/* One task = one (query, head) pair. */
static void attend_task(void *raw, size_t task, int thread) {
    attend_job *j = raw;
    cpu_attn *a = j->a;
    int i = (int)(task / (size_t)a->n_heads), h = (int)(task % (size_t)a->n_heads);
    int g = h / (a->n_heads / a->n_kv_heads), hd = a->head_dim, p = j->pos0 + i;
    size_t kv_row = (size_t)a->n_kv_heads * (size_t)hd;
    const float *kbase = a->k + (size_t)j->layer * (size_t)a->max_tokens * kv_row + (size_t)g * hd;
    const float *vbase = a->v + (size_t)j->layer * (size_t)a->max_tokens * kv_row + (size_t)g * hd;
    const float *q = j->q + ((size_t)i * (size_t)a->n_heads + (size_t)h) * (size_t)hd;
    float *out = j->out + ((size_t)i * (size_t)a->n_heads + (size_t)h) * (size_t)hd;
    float *s = a->scores + (size_t)thread * (size_t)a->max_tokens;
    float scale = 1.0f / sqrtf((float)hd), mx = -INFINITY;
    for (int t = 0; t <= p; t++) {
        s[t] = spkllm_dot_f32(q, kbase + (size_t)t * kv_row, (size_t)hd) * scale;
        if (s[t] > mx) mx = s[t];
    }
    float sum = 0;
    for (int t = 0; t <= p; t++) sum += (s[t] = expf(s[t] - mx));
    memset(out, 0, sizeof(float) * (size_t)hd);
    for (int t = 0; t <= p; t++)
        spkllm_axpy_f32(s[t] / sum, vbase + (size_t)t * kv_row, out, (size_t)hd);
}

static spkllm_status cpu_attend(void *ctx, int layer, int pos0, int n, const float *q, float *out) {
    cpu_attn *a = ctx;
    if (!a->k || layer < 0 || layer >= a->n_layers || n < 0 || pos0 < 0 ||
        pos0 + n > a->n_stored[layer])
        return SPKLLM_ERR_ARG;
    attend_job j = {a, layer, pos0, q, out};
    spkllm_pool_run(a->pool, (size_t)n * (size_t)a->n_heads, attend_task, &j);
    return SPKLLM_OK;
}

static void cpu_destroy(void *ctx) {
    cpu_attn *a = ctx;
    if (!a) return;
    release(a);
    free(a);
}

spkllm_status spkllm_attn_cpu_create(spkllm_pool *pool, spkllm_attn_ops *out) {
    memset(out, 0, sizeof *out);
    cpu_attn *a = calloc(1, sizeof *a);
    if (!a) return SPKLLM_ERR_NOMEM;
    a->pool = pool;
    a->n_threads = spkllm_pool_threads(pool);
    out->name = "cpu";
    out->ctx = a;
    out->begin_sequence = cpu_begin;
    out->append_kv = cpu_append;
    out->attend = cpu_attend;
    out->destroy = cpu_destroy;
    return SPKLLM_OK;
}
