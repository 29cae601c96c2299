/* Cascade pruning state: token and head importance, liveness, keep decisions.
 * Normative text: docs/spec/datapath.md, "Importance" and "Keep counts". */
#include "spksim/layer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct spk_prune_state {
    uint32_t n_heads, max_tokens, n_tokens;
    uint8_t *token_alive, *head_alive;
    uint64_t *token_imp, *head_imp;
    /* Per (layer, K/V head) token sets and last-step scores, [layer][kvh][max_tokens]; only
     * after spk_prune_enable_kv (kv_layers == 0 before). */
    uint32_t kv_layers, kv_heads;
    uint8_t *kv_alive;
    int64_t *kv_score;
};

/* Grow (or create) the per-(layer, K/V head) arrays from old_cap to new_cap tokens per set. */
static spksim_status resize_kv(spk_prune_state *st, uint32_t old_cap, uint32_t new_cap) {
    const size_t sets = (size_t)st->kv_layers * st->kv_heads;
    uint8_t *alive = calloc(sets * new_cap, 1);
    int64_t *score = calloc(sets * new_cap, sizeof *score);
    if (!alive || !score) {
        free(alive);
        free(score);
        return SPKSIM_E_NOMEM;
    }
    for (size_t s = 0; s < sets; s++) {
        if (st->kv_alive) {
            memcpy(alive + s * new_cap, st->kv_alive + s * old_cap, st->n_tokens);
            memcpy(score + s * new_cap, st->kv_score + s * old_cap, st->n_tokens * sizeof *score);
        } else {
            memset(alive + s * new_cap, 1, st->n_tokens);
        }
    }
    free(st->kv_alive);
    free(st->kv_score);
    st->kv_alive = alive;
    st->kv_score = score;
    return SPKSIM_OK;
}

spksim_status spk_prune_enable_kv(spk_prune_state *st, uint32_t n_layers, uint32_t n_kv_heads) {
    if (!st || n_layers == 0 || n_layers > 4096 || n_kv_heads == 0 || st->n_heads % n_kv_heads)
        return SPKSIM_E_ARG;
    if (st->kv_layers)
        return st->kv_layers == n_layers && st->kv_heads == n_kv_heads ? SPKSIM_OK : SPKSIM_E_ARG;
    st->kv_layers = n_layers;
    st->kv_heads = n_kv_heads;
    spksim_status s = resize_kv(st, st->max_tokens, st->max_tokens);
    if (s != SPKSIM_OK) st->kv_layers = st->kv_heads = 0;
    return s;
}

uint32_t spk_prune_kv_layers(const spk_prune_state *st) {
    return st ? st->kv_layers : 0;
}

uint32_t spk_prune_kv_heads(const spk_prune_state *st) {
    return st ? st->kv_heads : 0;
}

/* Index of the set (layer, kvh), or -1 if out of range. */
static long kv_set(const spk_prune_state *st, uint32_t layer, uint32_t kvh) {
    if (!st->kv_layers || layer >= st->kv_layers || kvh >= st->kv_heads) return -1;
    return (long)layer * st->kv_heads + kvh;
}

int spk_prune_kv_token_alive(const spk_prune_state *st, uint32_t layer, uint32_t kvh, uint32_t j) {
    if (!st || j >= st->n_tokens || !st->token_alive[j]) return 0;
    if (!st->kv_layers) return 1;
    const long set = kv_set(st, layer, kvh);
    return set >= 0 && st->kv_alive[(size_t)set * st->max_tokens + j];
}

uint32_t spk_prune_kv_alive_tokens(const spk_prune_state *st, uint32_t layer, uint32_t kvh) {
    uint32_t c = 0;
    for (uint32_t j = 0; st && j < st->n_tokens; j++)
        c += (uint32_t)spk_prune_kv_token_alive(st, layer, kvh, j);
    return c;
}

int64_t spk_prune_kv_score(const spk_prune_state *st, uint32_t layer, uint32_t kvh, uint32_t j) {
    if (!st || j >= st->n_tokens) return 0;
    const long set = kv_set(st, layer, kvh);
    return set >= 0 ? st->kv_score[(size_t)set * st->max_tokens + j] : 0;
}

spksim_status spk_prune_set_kv_scores(spk_prune_state *st, uint32_t layer, uint32_t kvh,
                                      const int64_t *scores) {
    if (!st || (!scores && st->n_tokens)) return SPKSIM_E_ARG;
    const long set = kv_set(st, layer, kvh);
    if (set < 0) return SPKSIM_E_ARG;
    int64_t *dst = st->kv_score + (size_t)set * st->max_tokens;
    for (uint32_t j = 0; j < st->n_tokens; j++)
        dst[j] = scores[j] > SPK_SCORE_MAX   ? SPK_SCORE_MAX
                 : scores[j] < SPK_SCORE_MIN ? SPK_SCORE_MIN
                                             : scores[j];
    return SPKSIM_OK;
}

spk_prune_state *spk_prune_create(uint32_t n_heads, uint32_t max_tokens) {
    if (n_heads == 0 || max_tokens == 0) return NULL;
    spk_prune_state *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->n_heads = n_heads;
    st->max_tokens = max_tokens;
    st->token_alive = calloc(max_tokens, 1);
    st->token_imp = calloc(max_tokens, sizeof *st->token_imp);
    st->head_alive = malloc(n_heads);
    st->head_imp = calloc(n_heads, sizeof *st->head_imp);
    if (!st->token_alive || !st->token_imp || !st->head_alive || !st->head_imp) {
        spk_prune_destroy(st);
        return NULL;
    }
    memset(st->head_alive, 1, n_heads);
    return st;
}

void spk_prune_destroy(spk_prune_state *st) {
    if (!st) return;
    free(st->token_alive);
    free(st->token_imp);
    free(st->head_alive);
    free(st->head_imp);
    free(st->kv_alive);
    free(st->kv_score);
    free(st);
}

spksim_status spk_prune_reserve(spk_prune_state *st, uint32_t max_tokens) {
    if (!st) return SPKSIM_E_ARG;
    if (max_tokens <= st->max_tokens) return SPKSIM_OK;
    uint8_t *alive = realloc(st->token_alive, max_tokens);
    if (!alive) return SPKSIM_E_NOMEM;
    st->token_alive = alive;
    uint64_t *imp = realloc(st->token_imp, max_tokens * sizeof *imp);
    if (!imp) return SPKSIM_E_NOMEM;
    st->token_imp = imp;
    memset(st->token_alive + st->max_tokens, 0, max_tokens - st->max_tokens);
    memset(st->token_imp + st->max_tokens, 0, (max_tokens - st->max_tokens) * sizeof *imp);
    if (st->kv_layers) {
        spksim_status s = resize_kv(st, st->max_tokens, max_tokens);
        if (s != SPKSIM_OK) return s;
    }
    st->max_tokens = max_tokens;
    return SPKSIM_OK;
}

spksim_status spk_prune_append(spk_prune_state *st, uint32_t n) {
    if (!st) return SPKSIM_E_ARG;
    if (n > st->max_tokens - st->n_tokens) return SPKSIM_E_CAPACITY;
    memset(st->token_alive + st->n_tokens, 1, n);
    const size_t sets = (size_t)st->kv_layers * st->kv_heads;
    for (size_t s = 0; s < sets; s++) {
        memset(st->kv_alive + s * st->max_tokens + st->n_tokens, 1, n);
        memset(st->kv_score + s * st->max_tokens + st->n_tokens, 0, n * sizeof *st->kv_score);
    }
    st->n_tokens += n;
    return SPKSIM_OK;
}

static uint32_t count_alive(const uint8_t *alive, uint32_t n) {
    uint32_t c = 0;
    for (uint32_t i = 0; i < n; i++) c += alive[i];
    return c;
}

uint32_t spk_prune_tokens(const spk_prune_state *st) {
    return st ? st->n_tokens : 0;
}
uint32_t spk_prune_heads(const spk_prune_state *st) {
    return st ? st->n_heads : 0;
}
uint32_t spk_prune_alive_tokens(const spk_prune_state *st) {
    return st ? count_alive(st->token_alive, st->n_tokens) : 0;
}
uint32_t spk_prune_alive_heads(const spk_prune_state *st) {
    return st ? count_alive(st->head_alive, st->n_heads) : 0;
}
int spk_prune_token_alive(const spk_prune_state *st, uint32_t j) {
    return st && j < st->n_tokens && st->token_alive[j];
}
int spk_prune_head_alive(const spk_prune_state *st, uint32_t h) {
    return st && h < st->n_heads && st->head_alive[h];
}
uint64_t spk_prune_token_importance(const spk_prune_state *st, uint32_t j) {
    return st && j < st->n_tokens ? st->token_imp[j] : 0;
}
uint64_t spk_prune_head_importance(const spk_prune_state *st, uint32_t h) {
    return st && h < st->n_heads ? st->head_imp[h] : 0;
}

uint64_t spk_importance_add(uint64_t acc, uint64_t amount) {
    return amount > SPK_IMPORTANCE_MAX - acc ? SPK_IMPORTANCE_MAX : acc + amount;
}

static void add_saturating(uint64_t *acc, uint64_t amount) {
    *acc = spk_importance_add(*acc, amount);
}

void spk_prune_add_token(spk_prune_state *st, uint32_t j, uint64_t amount) {
    if (st && j < st->n_tokens) add_saturating(&st->token_imp[j], amount);
}

void spk_prune_add_head(spk_prune_state *st, uint32_t h, uint64_t amount) {
    if (st && h < st->n_heads) add_saturating(&st->head_imp[h], amount);
}

spksim_status spk_prune_set_token(spk_prune_state *st, uint32_t j, int alive, uint64_t importance) {
    if (!st || j >= st->n_tokens) return SPKSIM_E_ARG;
    st->token_alive[j] = alive != 0;
    st->token_imp[j] = importance < SPK_IMPORTANCE_MAX ? importance : SPK_IMPORTANCE_MAX;
    return SPKSIM_OK;
}

spksim_status spk_prune_set_head(spk_prune_state *st, uint32_t h, int alive, uint64_t importance) {
    if (!st || h >= st->n_heads) return SPKSIM_E_ARG;
    st->head_alive[h] = alive != 0;
    st->head_imp[h] = importance < SPK_IMPORTANCE_MAX ? importance : SPK_IMPORTANCE_MAX;
    return SPKSIM_OK;
}

/* Keep the top-k alive entries by value (importance @p imp, or a signed @p score when imp is
 * NULL); the others die. */
static spksim_status keep_top_values(uint8_t *alive, const uint64_t *imp, const int64_t *score,
                                     uint32_t n, spk_keep keep, spk_topk_trace *trace) {
    if (keep.count == 0 && (keep.ratio_q16 == 0 || keep.ratio_q16 > SPK_ONE_Q16))
        return SPKSIM_E_ARG;
    uint32_t n_alive = count_alive(alive, n);
    uint32_t k = keep.count ? keep.count : spk_keep_count(n_alive, keep.ratio_q16);
    if (trace) memset(trace, 0, sizeof *trace);
    if (k >= n_alive) return SPKSIM_OK;
    uint32_t *cand = malloc((n_alive + 1u) * sizeof *cand);
    int64_t *vals = malloc((n_alive + 1u) * sizeof *vals);
    int64_t *scratch = malloc((2u * n_alive + 1u) * sizeof *scratch);
    uint32_t *kept = malloc((n_alive + 1u) * sizeof *kept);
    spksim_status st = SPKSIM_E_NOMEM;
    if (cand && vals && scratch && kept) {
        uint32_t m = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (alive[i]) {
                cand[m] = i;
                vals[m++] = imp ? (int64_t)imp[i] : score[i];
            }
        }
        size_t nk = spk_topk_quickselect(vals, m, k, 16, kept, scratch, trace);
        memset(alive, 0, n);
        for (size_t r = 0; r < nk; r++) alive[cand[kept[r]]] = 1;
        st = SPKSIM_OK;
    }
    free(cand);
    free(vals);
    free(scratch);
    free(kept);
    return st;
}

static spksim_status keep_top(uint8_t *alive, const uint64_t *imp, uint32_t n, spk_keep keep,
                              spk_topk_trace *trace) {
    return keep_top_values(alive, imp, NULL, n, keep, trace);
}

spksim_status spk_prune_keep(spk_prune_state *st, spk_keep tokens, spk_keep heads,
                             spk_topk_trace *token_trace, spk_topk_trace *head_trace) {
    if (!st) return SPKSIM_E_ARG;
    spksim_status s = keep_top(st->token_alive, st->token_imp, st->n_tokens, tokens, token_trace);
    if (s != SPKSIM_OK) return s;
    return keep_top(st->head_alive, st->head_imp, st->n_heads, heads, head_trace);
}

/* The keep count of @p keep over @p n_alive entries (spk_keep_count or the explicit count). */
static uint32_t keep_of(spk_keep keep, uint32_t n_alive) {
    uint32_t k = keep.count ? keep.count : spk_keep_count(n_alive, keep.ratio_q16);
    return k < n_alive ? k : n_alive;
}

/* Tokens: protected alive tokens first, the rest of the count by importance. */
static spksim_status keep_tokens_window(spk_prune_state *st, spk_keep keep, uint32_t sinks,
                                        uint32_t recent, spk_topk_trace *trace) {
    const uint32_t n = st->n_tokens, n_alive = count_alive(st->token_alive, n);
    const uint32_t k = keep_of(keep, n_alive);
    const uint32_t recent_from = recent < n ? n - recent : 0;
    if (trace) memset(trace, 0, sizeof *trace);
    if (k >= n_alive) return SPKSIM_OK;
    uint8_t *open = malloc(n + 1u);
    if (!open) return SPKSIM_E_NOMEM;
    uint32_t n_protected = 0;
    for (uint32_t j = 0; j < n; j++) {
        const int protect = j < sinks || j >= recent_from;
        open[j] = st->token_alive[j] && !protect;
        n_protected += st->token_alive[j] && protect;
    }
    spksim_status s = SPKSIM_OK;
    if (k > n_protected)
        s = keep_top(open, st->token_imp, n, (spk_keep){k - n_protected, SPK_ONE_Q16}, trace);
    else
        memset(open, 0, n);
    for (uint32_t j = 0; s == SPKSIM_OK && j < n; j++) {
        const int protect = j < sinks || j >= recent_from;
        st->token_alive[j] = open[j] || (protect && st->token_alive[j]);
    }
    free(open);
    return s;
}

/* Heads in groups of g: a group lives while any of its heads does; whole groups die. */
static spksim_status keep_head_groups(spk_prune_state *st, spk_keep keep, uint32_t g,
                                      spk_topk_trace *trace) {
    const uint32_t n_groups = st->n_heads / g;
    const uint32_t k = keep_of(keep, count_alive(st->head_alive, st->n_heads));
    uint8_t *alive = calloc(n_groups, 1);
    uint64_t *imp = calloc(n_groups, sizeof *imp);
    spksim_status s = alive && imp ? SPKSIM_OK : SPKSIM_E_NOMEM;
    for (uint32_t h = 0; s == SPKSIM_OK && h < st->n_heads; h++) {
        if (!st->head_alive[h]) continue;
        alive[h / g] = 1;
        add_saturating(&imp[h / g], st->head_imp[h]);
    }
    if (s == SPKSIM_OK && k > 0) /* k == 0 only when nothing is alive */
        s = keep_top(alive, imp, n_groups, (spk_keep){(k + g - 1) / g, SPK_ONE_Q16}, trace);
    for (uint32_t h = 0; s == SPKSIM_OK && h < st->n_heads; h++)
        st->head_alive[h] = st->head_alive[h] && alive[h / g];
    free(alive);
    free(imp);
    return s;
}

spksim_status spk_prune_keep_window(spk_prune_state *st, spk_keep tokens, spk_keep heads,
                                    const spk_prune_window *w, spk_topk_trace *token_trace,
                                    spk_topk_trace *head_trace) {
    if (!st || !w) return SPKSIM_E_ARG;
    const uint32_t g = w->head_group ? w->head_group : 1;
    if (st->n_heads % g) return SPKSIM_E_ARG;
    if ((tokens.count == 0 && (tokens.ratio_q16 == 0 || tokens.ratio_q16 > SPK_ONE_Q16)) ||
        (heads.count == 0 && (heads.ratio_q16 == 0 || heads.ratio_q16 > SPK_ONE_Q16)))
        return SPKSIM_E_ARG;
    spksim_status s = keep_tokens_window(st, tokens, w->sinks, w->recent, token_trace);
    if (s != SPKSIM_OK) return s;
    if (g == 1) return keep_top(st->head_alive, st->head_imp, st->n_heads, heads, head_trace);
    if (head_trace) memset(head_trace, 0, sizeof *head_trace);
    return keep_head_groups(st, heads, g, head_trace);
}

/* File format: "SPKPRUN1", u32 n_heads, u32 max_tokens, u32 n_tokens, then per head (u8 alive,
 * u64 importance) and per token (u8 alive, u64 importance); little-endian host order. A state
 * with per-(layer, K/V head) sets is "SPKPRUN2": the same, then u32 kv_layers, u32 kv_heads and
 * per set, per token (u8 alive, i64 last-step score). */
static const char prune_magic[8] = {'S', 'P', 'K', 'P', 'R', 'U', 'N', '1'};
static const char prune_magic_kv[8] = {'S', 'P', 'K', 'P', 'R', 'U', 'N', '2'};

static int write_kv(const spk_prune_state *st, FILE *f) {
    int ok = fwrite(&st->kv_layers, 4, 1, f) == 1 && fwrite(&st->kv_heads, 4, 1, f) == 1;
    const size_t sets = (size_t)st->kv_layers * st->kv_heads;
    for (size_t s = 0; ok && s < sets; s++)
        for (uint32_t j = 0; ok && j < st->n_tokens; j++) {
            const size_t i = s * st->max_tokens + j;
            ok = fwrite(&st->kv_alive[i], 1, 1, f) == 1 && fwrite(&st->kv_score[i], 8, 1, f) == 1;
        }
    return ok;
}

/* What a loaded state may allocate, in token cells (9 bytes each) of the per-(layer, K/V head)
 * sets: 2^26, as for max_tokens, so that a short file cannot ask for gigabytes. */
#define PRUNE_LOAD_MAX_KV_CELLS (1ull << 26)

/* remaining: the bytes of the file after the shape words. */
static spksim_status read_kv(spk_prune_state *st, FILE *f, uint64_t remaining) {
    uint32_t shape[2];
    if (remaining < 8 || fread(shape, 4, 2, f) != 2 || shape[0] == 0 || shape[1] == 0)
        return SPKSIM_E_FORMAT;
    const uint64_t n_sets = (uint64_t)shape[0] * shape[1];
    if (n_sets * st->max_tokens > PRUNE_LOAD_MAX_KV_CELLS ||
        remaining - 8 != n_sets * st->n_tokens * 9u)
        return SPKSIM_E_FORMAT;
    spksim_status s = spk_prune_enable_kv(st, shape[0], shape[1]);
    if (s != SPKSIM_OK) return s == SPKSIM_E_ARG ? SPKSIM_E_FORMAT : s;
    const size_t sets = (size_t)st->kv_layers * st->kv_heads;
    for (size_t k = 0; k < sets; k++)
        for (uint32_t j = 0; j < st->n_tokens; j++) {
            const size_t i = k * st->max_tokens + j;
            if (fread(&st->kv_alive[i], 1, 1, f) != 1 || st->kv_alive[i] > 1 ||
                fread(&st->kv_score[i], 8, 1, f) != 1 || st->kv_score[i] > SPK_SCORE_MAX ||
                st->kv_score[i] < SPK_SCORE_MIN)
                return SPKSIM_E_FORMAT;
        }
    return SPKSIM_OK;
}

spksim_status spk_prune_save(const spk_prune_state *st, const char *path) {
    if (!st || !path) return SPKSIM_E_ARG;
    FILE *f = fopen(path, "wb");
    if (!f) return SPKSIM_E_IO;
    int ok = fwrite(st->kv_layers ? prune_magic_kv : prune_magic, 8, 1, f) == 1 &&
             fwrite(&st->n_heads, 4, 1, f) == 1 && fwrite(&st->max_tokens, 4, 1, f) == 1 &&
             fwrite(&st->n_tokens, 4, 1, f) == 1;
    for (uint32_t h = 0; ok && h < st->n_heads; h++)
        ok = fwrite(&st->head_alive[h], 1, 1, f) == 1 && fwrite(&st->head_imp[h], 8, 1, f) == 1;
    for (uint32_t j = 0; ok && j < st->n_tokens; j++)
        ok = fwrite(&st->token_alive[j], 1, 1, f) == 1 && fwrite(&st->token_imp[j], 8, 1, f) == 1;
    if (ok && st->kv_layers) ok = write_kv(st, f);
    if (fclose(f) != 0) ok = 0;
    return ok ? SPKSIM_OK : SPKSIM_E_IO;
}

static int read_entry(FILE *f, uint8_t *alive, uint64_t *imp) {
    return fread(alive, 1, 1, f) == 1 && *alive <= 1 && fread(imp, 8, 1, f) == 1 &&
           *imp <= SPK_IMPORTANCE_MAX;
}

spksim_status spk_prune_load(const char *path, spk_prune_state **out) {
    if (!path || !out) return SPKSIM_E_ARG;
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return SPKSIM_E_IO;
    char magic[8];
    uint32_t hdr[3];
    spksim_status status = SPKSIM_E_FORMAT;
    spk_prune_state *st = NULL;
    const int ok_magic = fread(magic, 8, 1, f) == 1 &&
                         (!memcmp(magic, prune_magic, 8) || !memcmp(magic, prune_magic_kv, 8));
    /* The file's size bounds what the header may ask for: 9 bytes per head and token entry. */
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || fseek(f, 8, SEEK_SET) != 0) {
        fclose(f);
        return SPKSIM_E_IO;
    }
    uint64_t kv_bytes = 0;
    if (ok_magic && fread(hdr, 4, 3, f) == 3 && hdr[0] > 0 && hdr[0] <= 65536u && hdr[1] > 0 &&
        hdr[1] <= (1u << 26) && hdr[2] <= hdr[1] &&
        (uint64_t)size >= 20u + 9u * ((uint64_t)hdr[0] + hdr[2])) {
        kv_bytes = (uint64_t)size - 20u - 9u * ((uint64_t)hdr[0] + hdr[2]);
        st = spk_prune_create(hdr[0], hdr[1]);
        status = st ? SPKSIM_OK : SPKSIM_E_NOMEM;
    }
    if (st) {
        st->n_tokens = hdr[2];
        for (uint32_t h = 0; status == SPKSIM_OK && h < st->n_heads; h++)
            if (!read_entry(f, &st->head_alive[h], &st->head_imp[h])) status = SPKSIM_E_FORMAT;
        for (uint32_t j = 0; status == SPKSIM_OK && j < st->n_tokens; j++)
            if (!read_entry(f, &st->token_alive[j], &st->token_imp[j])) status = SPKSIM_E_FORMAT;
        if (status == SPKSIM_OK && magic[7] == '2') status = read_kv(st, f, kv_bytes);
        if (status == SPKSIM_OK && fgetc(f) != EOF) status = SPKSIM_E_FORMAT;
    }
    fclose(f);
    if (status != SPKSIM_OK) {
        spk_prune_destroy(st);
        return status;
    }
    *out = st;
    return SPKSIM_OK;
}

/* Last-step policy, tokens: each K/V head of the layer keeps its protected alive tokens, then
 * the top of the others by its own last-step score; evictions stay within that set. */
static spksim_status keep_tokens_last_step(spk_prune_state *st, uint32_t layer, spk_keep keep,
                                           uint32_t sinks, uint32_t recent) {
    const uint32_t n = st->n_tokens, recent_from = recent < n ? n - recent : 0;
    uint8_t *open = malloc(n + 1u);
    if (!open) return SPKSIM_E_NOMEM;
    spksim_status s = SPKSIM_OK;
    for (uint32_t g = 0; s == SPKSIM_OK && g < st->kv_heads; g++) {
        const size_t base = (size_t)kv_set(st, layer, g) * st->max_tokens;
        uint8_t *alive = st->kv_alive + base;
        uint32_t n_alive = 0, n_protected = 0;
        for (uint32_t j = 0; j < n; j++) {
            const int a = alive[j] && st->token_alive[j], protect = j < sinks || j >= recent_from;
            open[j] = (uint8_t)(a && !protect);
            n_alive += (uint32_t)a;
            n_protected += (uint32_t)(a && protect);
        }
        const uint32_t k = keep_of(keep, n_alive);
        if (k >= n_alive) continue;
        if (k > n_protected)
            s = keep_top_values(open, NULL, st->kv_score + base, n,
                                (spk_keep){k - n_protected, SPK_ONE_Q16}, NULL);
        else
            memset(open, 0, n);
        for (uint32_t j = 0; s == SPKSIM_OK && j < n; j++) {
            const int protect = j < sinks || j >= recent_from;
            alive[j] = (uint8_t)(open[j] || (protect && alive[j] && st->token_alive[j]));
        }
    }
    free(open);
    return s;
}

spksim_status spk_prune_keep_policy(spk_prune_state *st, spk_prune_policy policy, uint32_t layer,
                                    spk_keep tokens, spk_keep heads, const spk_prune_window *w,
                                    spk_topk_trace *token_trace, spk_topk_trace *head_trace) {
    if (policy == SPK_PRUNE_ACCUMULATED)
        return spk_prune_keep_window(st, tokens, heads, w, token_trace, head_trace);
    if (policy != SPK_PRUNE_LAST_STEP || !st || !w || kv_set(st, layer, 0) < 0) return SPKSIM_E_ARG;
    const uint32_t g = w->head_group ? w->head_group : 1;
    if (st->n_heads % g) return SPKSIM_E_ARG;
    if ((tokens.count == 0 && (tokens.ratio_q16 == 0 || tokens.ratio_q16 > SPK_ONE_Q16)) ||
        (heads.count == 0 && (heads.ratio_q16 == 0 || heads.ratio_q16 > SPK_ONE_Q16)))
        return SPKSIM_E_ARG;
    if (token_trace) memset(token_trace, 0, sizeof *token_trace);
    spksim_status s = keep_tokens_last_step(st, layer, tokens, w->sinks, w->recent);
    if (s != SPKSIM_OK) return s;
    /* Heads exactly as the accumulated step: a zero token window leaves the tokens alone. */
    const spk_prune_window heads_only = {0, 0, w->head_group};
    return spk_prune_keep_window(st, SPK_KEEP_ALL, heads, &heads_only, NULL, head_trace);
}
