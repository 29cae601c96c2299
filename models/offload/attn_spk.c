/* The accelerator attention backend: spkllm_attn_ops over libspk. The model appends a layer's
 * new K/V, then asks for its attention; this backend submits both as one layer to an spk
 * attention context (which owns the quantized KV cache and the pruning state), waits on the
 * fence and converts the output back to the model's layout. Nothing here computes attention:
 * models -> libspk -> backend (functional model or cycle simulator) -> firmware and engine.
 *
 * Engine threads: with N > 1 the K/V heads are split over N devices, each with its own
 * context, submitted from its own thread. That is exact only where no state couples heads:
 * no head pruning and no token eviction (dense, or the select policy), on the functional
 * backend (a timed one times a layer as one run). */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spk/spk.h"
#include "spkllm/attn_spk.h"

/* A layer that takes longer than this (host time) is reported as a device failure. */
#define FENCE_TIMEOUT_MS 60000u

#define MAX_SHARDS SPKLLM_MAX_ENGINE_THREADS

/* One device's part of a layer: the submission, and what came back. */
typedef struct {
    spk_attn *attn;
    spk_layer_submit sub;
    float *out; /* its heads' rows of the device-layout output */
    size_t out_count;
    spk_attn_stats stats;
    spk_status st;
    const char *what; /* the failing call */
    char err[256];
} shard_job;

typedef struct {
    spkllm_spatten_options opt;
    char backend[16];
    int n_shards;
    spk_device *devs[MAX_SHARDS];
    spk_attn *attns[MAX_SHARDS];
    spk_attn *attn; /* attns[0]: set while a sequence is open */
    int n_layers, n_heads, n_kv_heads, head_dim, max_tokens;
    int *pending_n;   /* per layer: tokens appended but not yet submitted */
    int *stored;      /* per layer: tokens submitted */
    float *k_pending; /* per layer: [max_batch][n_kv_heads * head_dim], model layout */
    float *v_pending;
    int max_batch;
    float *q_dev, *k_dev, *v_dev, *out_dev; /* device layouts */
    size_t q_cap, out_cap, k_cap, v_cap;
    spkllm_spk_report report;
    uint64_t *layer_calls; /* per layer: submissions, for the report's means */
    double *alive_sum, *total_sum, *heads_sum;
    char err[512];
} spk_backend;

static spkllm_status fail(spk_backend *b, spkllm_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err, sizeof b->err, fmt, ap);
    va_end(ap);
    return st;
}

static spkllm_status fail_spk(spk_backend *b, const char *what, spk_status st) {
    return fail(b, SPKLLM_ERR_UNSUPPORTED, "%s: %s: %s", what, spk_status_str(st),
                spk_last_error());
}

/* In-tree runs find the firmware and energy constants next to the executable (build/bin ->
 * build/firmware, sim/configs); an installed libspk finds its own. The environment wins. */
static void default_paths(void) {
    char exe[PATH_MAX], path[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return;
    *slash = 0; /* exe is now the binary's directory */
    if (!getenv("SPK_FIRMWARE")) {
        snprintf(path, sizeof path, "%s/../firmware/spk-fw.elf", exe);
        if (access(path, R_OK) == 0) setenv("SPK_FIRMWARE", path, 0);
    }
    if (!getenv("SPK_ENERGY")) {
        snprintf(path, sizeof path, "%s/../../sim/configs/energy.cfg", exe);
        if (access(path, R_OK) == 0) setenv("SPK_ENERGY", path, 0);
    }
}

static void free_sequence(spk_backend *b) {
    for (int s = 0; s < b->n_shards; s++) {
        spk_attn_destroy(b->attns[s]);
        b->attns[s] = NULL;
    }
    b->attn = NULL;
    free(b->pending_n);
    free(b->stored);
    free(b->k_pending);
    free(b->v_pending);
    b->pending_n = b->stored = NULL;
    b->k_pending = b->v_pending = NULL;
}

static void free_report(spk_backend *b) {
    free(b->layer_calls);
    free(b->alive_sum);
    free(b->total_sum);
    free(b->heads_sum);
    free(b->report.tokens_alive);
    free(b->report.tokens_total);
    free(b->report.heads_alive);
    b->layer_calls = NULL;
    b->alive_sum = b->total_sum = b->heads_sum = NULL;
    b->report.tokens_alive = b->report.tokens_total = b->report.heads_alive = NULL;
}

/* The report keeps accumulating over sequences of the same shape (perplexity chunks). */
static spkllm_status ensure_report(spk_backend *b, int n_layers, int n_heads) {
    if (b->layer_calls && b->report.n_layers == n_layers && b->report.n_heads == n_heads)
        return SPKLLM_OK;
    free_report(b);
    const size_t n = (size_t)n_layers;
    b->layer_calls = calloc(n, sizeof *b->layer_calls);
    b->alive_sum = calloc(n, sizeof(double));
    b->total_sum = calloc(n, sizeof(double));
    b->heads_sum = calloc(n, sizeof(double));
    b->report.tokens_alive = calloc(n, sizeof(double));
    b->report.tokens_total = calloc(n, sizeof(double));
    b->report.heads_alive = calloc(n, sizeof(double));
    if (!b->layer_calls || !b->alive_sum || !b->total_sum || !b->heads_sum ||
        !b->report.tokens_alive || !b->report.tokens_total || !b->report.heads_alive) {
        free_report(b);
        return fail(b, SPKLLM_ERR_NOMEM, "out of memory for the report");
    }
    b->report.n_layers = n_layers;
    b->report.n_heads = n_heads;
    return SPKLLM_OK;
}

static uint32_t q16_of(double r) {
    double v = floor(r * 65536.0 + 0.5);
    return v >= 65536.0 ? 65536u : v < 1.0 ? 1u : (uint32_t)v;
}

/* The first K/V head of shard s (s = n_shards: the end): an even split, larger shards last. */
static int shard_kv0(const spk_backend *b, int s) {
    return (int)((long)s * b->n_kv_heads / b->n_shards);
}

static spkllm_status spk_begin(void *ctx, int n_layers, int n_heads, int n_kv_heads, int head_dim,
                               int max_tokens) {
    spk_backend *b = ctx;
    if (n_layers < 1 || n_heads < 1 || n_kv_heads < 1 || head_dim < 1 || max_tokens < 1 ||
        n_heads % n_kv_heads)
        return fail(b, SPKLLM_ERR_ARG, "begin_sequence: bad shapes");
    free_sequence(b);
    if (n_kv_heads < b->n_shards)
        return fail(b, SPKLLM_ERR_UNSUPPORTED,
                    "begin_sequence: %d engine threads for %d K/V heads (at most one each)",
                    b->n_shards, n_kv_heads);
    spkllm_status rs = ensure_report(b, n_layers, n_heads);
    if (rs) return rs;
    b->n_layers = n_layers, b->n_heads = n_heads, b->n_kv_heads = n_kv_heads;
    b->head_dim = head_dim, b->max_tokens = max_tokens;
    spk_attn_config cfg = {
        .size = sizeof cfg,
        .n_layers = (uint32_t)n_layers,
        .head_dim = (uint32_t)head_dim,
        .max_tokens = (uint32_t)max_tokens,
        .msb_bits = (uint32_t)b->opt.msb_bits,
        .lsb_bits = (uint32_t)b->opt.lsb_bits,
        .requant_threshold =
            b->opt.requant >= 1.0 ? 65536u : (uint32_t)floor(b->opt.requant * 65536.0 + 0.5),
        .v_keep_q16 = q16_of(b->opt.v_keep),
    };
    const int group = n_heads / n_kv_heads;
    for (int s = 0; s < b->n_shards; s++) {
        const int kv0 = shard_kv0(b, s), nkv = shard_kv0(b, s + 1) - kv0;
        cfg.n_kv_heads = (uint32_t)nkv;
        cfg.n_heads = (uint32_t)(nkv * group);
        spk_status st = spk_attn_create(b->devs[s], &cfg, &b->attns[s]);
        if (st != SPK_OK) {
            free_sequence(b);
            return fail_spk(b, "spk_attn_create", st);
        }
    }
    b->attn = b->attns[0];
    b->pending_n = calloc((size_t)n_layers, sizeof(int));
    b->stored = calloc((size_t)n_layers, sizeof(int));
    if (!b->pending_n || !b->stored) return fail(b, SPKLLM_ERR_NOMEM, "out of memory");
    b->max_batch = 0;
    return SPKLLM_OK;
}

/* Grow a float buffer to hold @p n floats. */
static int grow(float **buf, size_t *cap, size_t n) {
    if (n <= *cap) return 1;
    float *p = realloc(*buf, n * sizeof(float));
    if (!p) return 0;
    *buf = p, *cap = n;
    return 1;
}

static spkllm_status spk_append(void *ctx, int layer, int pos0, int n, const float *k,
                                const float *v) {
    spk_backend *b = ctx;
    if (!b->attn || layer < 0 || layer >= b->n_layers || n < 0 ||
        pos0 != b->stored[layer] + b->pending_n[layer] || pos0 + n > b->max_tokens)
        return fail(b, SPKLLM_ERR_ARG, "append_kv: layer %d positions %d..+%d out of order", layer,
                    pos0, n);
    const size_t row = (size_t)b->n_kv_heads * (size_t)b->head_dim;
    const int need = b->pending_n[layer] + n;
    if (need > b->max_batch) { /* one buffer per layer of max_batch rows */
        size_t rows = (size_t)b->n_layers * (size_t)need;
        float *kp = calloc(rows * row, sizeof(float)), *vp = calloc(rows * row, sizeof(float));
        if (!kp || !vp) {
            free(kp);
            free(vp);
            return fail(b, SPKLLM_ERR_NOMEM, "append_kv: out of memory");
        }
        for (int l = 0; l < b->n_layers && b->k_pending; l++) {
            size_t bytes = (size_t)b->pending_n[l] * row * sizeof(float);
            memcpy(kp + (size_t)l * need * row, b->k_pending + (size_t)l * b->max_batch * row,
                   bytes);
            memcpy(vp + (size_t)l * need * row, b->v_pending + (size_t)l * b->max_batch * row,
                   bytes);
        }
        free(b->k_pending);
        free(b->v_pending);
        b->k_pending = kp, b->v_pending = vp, b->max_batch = need;
    }
    size_t off = ((size_t)layer * b->max_batch + (size_t)b->pending_n[layer]) * row;
    memcpy(b->k_pending + off, k, (size_t)n * row * sizeof(float));
    memcpy(b->v_pending + off, v, (size_t)n * row * sizeof(float));
    b->pending_n[layer] = need;
    return SPKLLM_OK;
}

/* [n][heads][d] (model) <-> [heads][n][d] (device). */
static void to_device(const float *src, float *dst, int n, int heads, int d) {
    for (int i = 0; i < n; i++)
        for (int h = 0; h < heads; h++)
            memcpy(dst + ((size_t)h * n + i) * d, src + ((size_t)i * heads + h) * d,
                   (size_t)d * sizeof(float));
}

static void from_device(const float *src, float *dst, int n, int heads, int d) {
    for (int h = 0; h < heads; h++)
        for (int i = 0; i < n; i++)
            memcpy(dst + ((size_t)i * heads + h) * d, src + ((size_t)h * n + i) * d,
                   (size_t)d * sizeof(float));
}

/* Keys the causal queries pos0 .. pos0+n-1 see, summed: pos0+1 + ... + pos0+n. */
static uint64_t visible_keys(int pos0, int n) {
    return (uint64_t)n * (uint64_t)pos0 + (uint64_t)n * (uint64_t)(n + 1) / 2u;
}

/* Bytes the same requests would read dense with 12-bit K/V (spec "Traffic"): every visible key
 * fetched in K and V with its scale word, for every head. */
static uint64_t dense_bytes(const spk_backend *b, int pos0, int n) {
    const uint64_t row = (uint64_t)((b->head_dim * 12 + 7) / 8) + 4u;
    return visible_keys(pos0, n) * (uint64_t)b->n_heads * 2u * row;
}

static void account(spk_backend *b, int layer, int pos0, int n, const spk_attn_stats *s) {
    spkllm_spk_report *r = &b->report;
    if (layer == 0) r->steps++, r->queries += (uint64_t)n;
    r->engine_cycles += s->engine_cycles;
    r->core_cycles += s->core_cycles;
    r->dram_bytes += s->dram_bytes;
    r->dense_bytes += dense_bytes(b, pos0, n);
    r->requests += s->requests;
    r->requant += s->requant_requests;
    r->keys_fetched += s->keys_fetched;
    r->keys_visible += visible_keys(pos0, n) * s->heads_computed;
    if (s->has_energy) r->has_energy = 1, r->energy_pj += s->energy_pj;
    b->layer_calls[layer]++;
    b->alive_sum[layer] += s->tokens_alive;
    b->total_sum[layer] += pos0 + n;
    b->heads_sum[layer] += s->heads_computed;
    double c = (double)b->layer_calls[layer];
    r->tokens_alive[layer] = b->alive_sum[layer] / c;
    r->tokens_total[layer] = b->total_sum[layer] / c;
    r->heads_alive[layer] = b->heads_sum[layer] / c;
}

/* Submits one shard's layer, waits for it and reads its output and statistics. */
static void run_shard(shard_job *j) {
    spk_fence *fence = NULL;
    j->what = "spk_attn_submit";
    j->st = spk_attn_submit(j->attn, &j->sub, &fence);
    if (j->st == SPK_OK) {
        j->what = "spk_fence_wait";
        j->st = spk_fence_wait(fence, FENCE_TIMEOUT_MS);
    }
    /* The message first: spk_fence_free succeeds and so clears spk_last_error(). */
    if (j->st != SPK_OK) snprintf(j->err, sizeof j->err, "%s", spk_last_error());
    spk_fence_free(fence);
    if (j->st != SPK_OK) return;
    j->what = "spk_attn_read_output";
    j->st = spk_attn_read_output(j->attn, j->out, j->out_count);
    if (j->st == SPK_OK) {
        j->what = "spk_attn_read_stats";
        j->stats.size = sizeof j->stats;
        j->st = spk_attn_read_stats(j->attn, &j->stats);
    }
    if (j->st != SPK_OK) snprintf(j->err, sizeof j->err, "%s", spk_last_error());
}

static void *run_shard_thread(void *arg) {
    run_shard(arg);
    return NULL;
}

/* The layer's statistics over the shards, as one device would count them: the traffic, the
 * requests and the cycles add up, the tokens alive are those of the busiest K/V head. */
static void merge_stats(spk_attn_stats *into, const spk_attn_stats *s) {
    into->heads_computed += s->heads_computed;
    if (s->tokens_alive > into->tokens_alive) into->tokens_alive = s->tokens_alive;
    into->requests += s->requests;
    into->keys_fetched += s->keys_fetched;
    into->values_fetched += s->values_fetched;
    into->requant_requests += s->requant_requests;
    into->dram_bytes += s->dram_bytes;
    into->core_cycles += s->core_cycles;
    into->core_instret += s->core_instret;
    into->engine_cycles += s->engine_cycles;
    into->has_energy = into->has_energy && s->has_energy;
    into->energy_pj += s->energy_pj;
}

static spkllm_status spk_attend(void *ctx, int layer, int pos0, int n, const float *q, float *out) {
    spk_backend *b = ctx;
    if (!b->attn || layer < 0 || layer >= b->n_layers || n < 1 || pos0 < 0)
        return fail(b, SPKLLM_ERR_ARG, "attend: bad layer %d or query count %d", layer, n);
    const int n_new = b->pending_n[layer], total = b->stored[layer] + n_new;
    if (pos0 + n != total)
        return fail(b, SPKLLM_ERR_UNSUPPORTED,
                    "attend: queries %d..+%d must be the last positions of the %d appended", pos0,
                    n, total);
    const int d = b->head_dim, kvh = b->n_kv_heads, H = b->n_heads;
    if (!grow(&b->q_dev, &b->q_cap, (size_t)n * H * d) ||
        !grow(&b->out_dev, &b->out_cap, (size_t)n * H * d) ||
        !grow(&b->k_dev, &b->k_cap, (size_t)(n_new > 0 ? n_new : 1) * kvh * d) ||
        !grow(&b->v_dev, &b->v_cap, (size_t)(n_new > 0 ? n_new : 1) * kvh * d))
        return fail(b, SPKLLM_ERR_NOMEM, "attend: out of memory");
    to_device(q, b->q_dev, n, H, d);
    const size_t row = (size_t)kvh * d;
    to_device(b->k_pending + (size_t)layer * b->max_batch * row, b->k_dev, n_new, kvh, d);
    to_device(b->v_pending + (size_t)layer * b->max_batch * row, b->v_dev, n_new, kvh, d);

    const double tk = spkllm_spatten_token_keep(&b->opt, layer, b->n_layers);
    const double hk = spkllm_spatten_head_keep(&b->opt, layer, b->n_layers);
    /* Last-step with --important: MIT's fixed budget in every layer after the skipped ones. */
    const int last_step = b->opt.policy == SPKLLM_POLICY_LAST_STEP;
    const int first_pruning = (int)ceil(b->opt.token_skip * b->n_layers - 1e-9);
    const int fixed_budget = last_step && b->opt.important > 0 && layer >= first_pruning;
    /* Select: nothing is evicted; the token schedule (or --token-budget) is what each request
     * selects this step, a ratio of the keys its query sees. */
    const int select = b->opt.policy == SPKLLM_POLICY_SELECT;
    const uint32_t select_count =
        select && b->opt.budget > 0 && layer >= first_pruning ? (uint32_t)b->opt.budget : 0u;
    /* Keep ratios are fractions of the whole context (not of what is still alive), so decoding
     * settles at the end ratio instead of shrinking geometrically step after step. */
    spk_layer_submit sub = {
        .size = sizeof sub,
        .layer = (uint32_t)layer,
        .n_queries = (uint32_t)n,
        .n_new_tokens = (uint32_t)n_new,
        .causal = 1,
        .q = b->q_dev,
        .k_new = b->k_dev,
        .v_new = b->v_dev,
        .token_keep_count = tk < 1.0 && !select ? (uint32_t)ceil(tk * total - 1e-9) : 0,
        .head_keep_count = hk < 1.0 ? (uint32_t)ceil(hk * H - 1e-9) : 0,
        .token_sinks = (uint32_t)b->opt.sinks,
        .token_recent = (uint32_t)b->opt.recent,
        .head_group = b->opt.group_heads ? (uint32_t)(H / kvh) : 1u,
        .token_policy = select      ? SPK_TOKEN_POLICY_SELECT
                        : last_step ? SPK_TOKEN_POLICY_LAST_STEP
                                    : SPK_TOKEN_POLICY_ACCUMULATED,
        .token_important = fixed_budget ? (uint32_t)b->opt.important : 0u,
        .select_count = select_count,
        .select_q16 = select && !select_count
                          ? (tk < 1.0 ? (uint32_t)floor(tk * 65536.0 + 0.5) : 65536u)
                          : 0u,
        .select_scoring = (b->opt.scoring == SPKLLM_SCORING_EXACT         ? SPK_SCORING_EXACT
                           : b->opt.scoring == SPKLLM_SCORING_EXACT_PROBS ? SPK_SCORING_EXACT_PROBS
                           : b->opt.scoring == SPKLLM_SCORING_MSB_PROBS   ? SPK_SCORING_MSB_PROBS
                                                                          : SPK_SCORING_MSB) |
                          (select && b->opt.hold ? SPK_SCORING_HOLD : 0u),
        .select_dims = select ? (uint32_t)b->opt.dims : 0u,
        .select_cand_x16 = select && b->opt.dims ? (uint32_t)ceil(b->opt.candidates * 16.0) : 0u,
    };
    if (sub.token_keep_count == 0 && tk < 1.0 && !select) sub.token_keep_count = 1;
    if (sub.head_keep_count == 0 && hk < 1.0) sub.head_keep_count = 1;
    /* Device layouts are head-major: a shard's heads are one contiguous block of each. */
    shard_job jobs[MAX_SHARDS] = {0};
    const int S = b->n_shards, group = H / kvh;
    for (int s = 0; s < S; s++) {
        const int kv0 = shard_kv0(b, s), nkv = shard_kv0(b, s + 1) - kv0;
        const size_t q0 = (size_t)n * kv0 * group * d, kv_at = (size_t)n_new * kv0 * d;
        shard_job *j = &jobs[s];
        j->attn = b->attns[s];
        j->sub = sub;
        j->sub.q = b->q_dev + q0;
        j->sub.k_new = b->k_dev + kv_at;
        j->sub.v_new = b->v_dev + kv_at;
        j->out = b->out_dev + q0;
        j->out_count = (size_t)n * nkv * group * d;
    }
    pthread_t threads[MAX_SHARDS];
    int started[MAX_SHARDS] = {0};
    for (int s = 1; s < S; s++)
        started[s] = pthread_create(&threads[s], NULL, run_shard_thread, &jobs[s]) == 0;
    for (int s = 0; s < S; s++) /* the caller runs shard 0, and any whose thread did not start */
        if (s == 0 || !started[s]) run_shard(&jobs[s]);
    for (int s = 1; s < S; s++)
        if (started[s]) pthread_join(threads[s], NULL);
    for (int s = 0; s < S; s++)
        if (jobs[s].st != SPK_OK)
            return fail(b, SPKLLM_ERR_UNSUPPORTED, "%s: %s: %s", jobs[s].what,
                        spk_status_str(jobs[s].st), jobs[s].err);
    b->stored[layer] = total;
    b->pending_n[layer] = 0;
    from_device(b->out_dev, out, n, H, d);
    spk_attn_stats stats = jobs[0].stats;
    for (int s = 1; s < S; s++) merge_stats(&stats, &jobs[s].stats);
    account(b, layer, pos0, n, &stats);
    return SPKLLM_OK;
}

static void spk_destroy_backend(void *ctx) {
    spk_backend *b = ctx;
    if (!b) return;
    free_sequence(b);
    free_report(b);
    free(b->q_dev);
    free(b->out_dev);
    free(b->k_dev);
    free(b->v_dev);
    for (int s = 0; s < b->n_shards; s++) spk_device_close(b->devs[s]);
    free(b);
}

/* Why @p o couples heads (so its heads cannot be split over devices), or NULL. */
static const char *couples_heads(const spkllm_spatten_options *o) {
    if (o->head_keep_start < 1.0 || o->head_keep_end < 1.0)
        return "head pruning ranks the heads together";
    if (o->policy == SPKLLM_POLICY_SELECT) return NULL;
    if (o->token_keep_start < 1.0 || o->token_keep_end < 1.0)
        return "token eviction ranks the tokens over every head";
    if (o->policy == SPKLLM_POLICY_LAST_STEP) return "the last-step policy evicts tokens";
    return NULL;
}

spkllm_status spkllm_attn_spk_create_threads(const char *backend, const spkllm_spatten_options *o,
                                             int engine_threads, spkllm_attn_ops *out, char *err,
                                             size_t err_len) {
    if (err && err_len) err[0] = 0;
    if (!out) return SPKLLM_ERR_ARG;
    memset(out, 0, sizeof *out);
    if (engine_threads < 1 || engine_threads > MAX_SHARDS) {
        if (err && err_len)
            snprintf(err, err_len, "engine threads %d outside 1..%d", engine_threads, MAX_SHARDS);
        return SPKLLM_ERR_ARG;
    }
    spkllm_spatten_options opt;
    if (o)
        opt = *o;
    else
        spkllm_spatten_preset("off", &opt);
    spkllm_status rs = spkllm_spatten_check(&opt, err, err_len);
    if (rs) return rs;
    const char *why = engine_threads > 1 ? couples_heads(&opt) : NULL;
    if (why) {
        if (err && err_len)
            snprintf(err, err_len,
                     "%d engine threads split the K/V heads over devices, which is exact only "
                     "where nothing couples heads: %s",
                     engine_threads, why);
        return SPKLLM_ERR_ARG;
    }
    spk_backend *b = calloc(1, sizeof *b);
    if (!b) return SPKLLM_ERR_NOMEM;
    b->opt = opt;
    default_paths();
    for (int s = 0; s < engine_threads; s++) {
        spk_status st = spk_device_open(backend, NULL, &b->devs[s]);
        if (st != SPK_OK) {
            if (err && err_len)
                snprintf(err, err_len, "cannot open libspk device '%s': %s: %s",
                         backend && *backend ? backend : "(default)", spk_status_str(st),
                         spk_last_error());
            spk_destroy_backend(b);
            return SPKLLM_ERR_UNSUPPORTED;
        }
        b->n_shards = s + 1;
    }
    spk_device_info info = {.size = sizeof info};
    if (spk_device_query(b->devs[0], &info) == SPK_OK)
        snprintf(b->backend, sizeof b->backend, "%s", info.backend);
    if (engine_threads > 1 && strcmp(b->backend, "model") != 0) {
        if (err && err_len)
            snprintf(err, err_len,
                     "%d engine threads need the functional backend (model): '%s' times a layer "
                     "as one run, which split devices would not reproduce",
                     engine_threads, b->backend);
        spk_destroy_backend(b);
        return SPKLLM_ERR_ARG;
    }
    snprintf(b->report.backend, sizeof b->report.backend, "%s", b->backend);
    b->report.engine_threads = engine_threads;
    out->name = "spk";
    out->ctx = b;
    out->begin_sequence = spk_begin;
    out->append_kv = spk_append;
    out->attend = spk_attend;
    out->destroy = spk_destroy_backend;
    return SPKLLM_OK;
}

spkllm_status spkllm_attn_spk_create(const char *backend, const spkllm_spatten_options *o,
                                     spkllm_attn_ops *out, char *err, size_t err_len) {
    return spkllm_attn_spk_create_threads(backend, o, 1, out, err, err_len);
}

const spkllm_spk_report *spkllm_attn_spk_report(const spkllm_attn_ops *ops) {
    if (!ops || ops->attend != spk_attend) return NULL;
    return &((spk_backend *)ops->ctx)->report;
}

const char *spkllm_attn_spk_error(const spkllm_attn_ops *ops) {
    if (!ops || ops->attend != spk_attend) return "";
    return ((spk_backend *)ops->ctx)->err;
}
