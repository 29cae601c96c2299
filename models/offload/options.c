/* The SpAtten option set of the offload backend: presets, command-line parsing, the per-layer
 * keep schedule. docs/offload.md documents the options and why the presets are what they are. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spkllm/attn_spk.h"
#include "spksim/parse.h"

spkllm_status spkllm_spatten_preset(const char *name, spkllm_spatten_options *out) {
    /* "off": the engine's full 12-bit codes and nothing pruned, i.e. fixed-point dense. */
    const spkllm_spatten_options off = {
        .token_keep_start = 1.0,
        .token_keep_end = 1.0,
        .head_keep_start = 1.0,
        .head_keep_end = 1.0,
        .token_skip = 0.15,
        .head_skip = 0.30,
        .v_keep = 1.0,
        .msb_bits = 12,
        .lsb_bits = 0,
        .requant = 0.0,
        .sinks = 0,
        .recent = 0,
        .group_heads = 1,
        .policy = SPKLLM_POLICY_ACCUMULATED,
        .important = 0,
        .budget = 0,
        .scoring = SPKLLM_SCORING_MSB,
        .dims = 0,
        .candidates = 0.0,
        .hold = 1,
    };
    if (!name || !out) return SPKLLM_ERR_ARG;
    *out = off;
    if (!strcmp(name, "off")) return SPKLLM_OK;
    /* The paper's settings (BRIEF sections 1 and 3): 6+4 bit planes with the typical 0.1
     * threshold, token keep falling to 0.3 (its ~3.6x token reduction on GPT-2), local V on a
     * third of the keys as in the GPT-2 traces, light head pruning (its 1.1x). Sinks and a recent
     * window protect tokens whose importance has not accumulated yet (decoding). Not fitted to
     * any text. */
    out->token_keep_end = 0.3;
    out->head_keep_end = 0.9;
    out->v_keep = 0.3;
    out->msb_bits = 6;
    out->lsb_bits = 4;
    out->requant = 0.1;
    out->sinks = 4;
    out->recent = 16;
    if (!strcmp(name, "paper")) return SPKLLM_OK;
    if (!strcmp(name, "aggressive")) {
        out->token_keep_end = 0.15;
        out->head_keep_end = 0.67;
        out->v_keep = 0.2;
        out->requant = 0.05;
        return SPKLLM_OK;
    }
    if (!strcmp(name, "select")) {
        /* The per-step selection policy's recommended accurate setting, chosen on
         * wiki.test.part-a at ctx 2048 (docs/results-long.md): nothing evicted; in every layer
         * each K/V head and query keeps 4 sinks, the last 64 keys and the best others up to 0.3
         * of the visible keys, ranked by a first stage at the 16 largest |q| dimensions and
         * then the MSB plane on 4x the budget; 8+4 planes with threshold 0.1; no local V or
         * head pruning (they cost more accuracy than selection does); held rows (the default).
         * Measured (docs/results-long.md): 3.83x less attention DRAM at +0.28% [-0.33, +0.92]
         * on the study's chunks, +0.50% on held-out ones, 3.66x at +0.11% at ctx 8192. */
        *out = off;
        out->policy = SPKLLM_POLICY_SELECT;
        out->token_keep_start = out->token_keep_end = 0.3;
        out->token_skip = 0.0;
        out->msb_bits = 8;
        out->lsb_bits = 4;
        out->requant = 0.1;
        out->sinks = 4;
        out->recent = 64;
        out->dims = 16;
        out->candidates = 4.0;
        out->scoring = SPKLLM_SCORING_MSB;
        return SPKLLM_OK;
    }
    if (!strcmp(name, "mit")) {
        /* MIT's released SpAtten-LLM policy with the paper's budget: every layer keeps, per K/V
         * head, the sinks, the recent window and the best last-step scores up to the paper's
         * end ratio 0.3 of the context (MIT's caches have one size in every layer, so no
         * schedule), and prunes no heads (the released code does not). Same planes, threshold
         * and local V as "paper". Not fitted to any text. */
        out->policy = SPKLLM_POLICY_LAST_STEP;
        out->token_keep_start = 0.3;
        out->token_skip = 0.0;
        out->head_keep_end = 1.0;
        return SPKLLM_OK;
    }
    return SPKLLM_ERR_ARG;
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            if (err && err_len) snprintf(err, err_len, __VA_ARGS__);                               \
            return SPKLLM_ERR_ARG;                                                                 \
        }                                                                                          \
    } while (0)

static int ratio_ok(double r) {
    return isfinite(r) && r > 0.0 && r <= 1.0;
}

/* Every field's own range; @p across also checks how fields combine (not while parsing, where
 * the options may come in any order). */
static spkllm_status check_options(const spkllm_spatten_options *o, int across, char *err,
                                   size_t err_len) {
    CHECK(o, "NULL options");
    CHECK(ratio_ok(o->token_keep_start) && ratio_ok(o->token_keep_end),
          "token keep ratios %g:%g must be in (0, 1]", o->token_keep_start, o->token_keep_end);
    CHECK(ratio_ok(o->head_keep_start) && ratio_ok(o->head_keep_end),
          "head keep ratios %g:%g must be in (0, 1]", o->head_keep_start, o->head_keep_end);
    CHECK(isfinite(o->token_skip) && o->token_skip >= 0 && o->token_skip <= 1 &&
              isfinite(o->head_skip) && o->head_skip >= 0 && o->head_skip <= 1,
          "prune-skip fractions %g:%g must be in [0, 1]", o->token_skip, o->head_skip);
    CHECK(ratio_ok(o->v_keep), "v-keep %g must be in (0, 1]", o->v_keep);
    CHECK(o->msb_bits >= 2 && o->msb_bits <= 12 && o->lsb_bits >= 0 && o->lsb_bits <= 10 &&
              o->msb_bits + o->lsb_bits <= 12,
          "kv-bits %d+%d: need MSB 2..12, LSB 0..10, sum <= 12", o->msb_bits, o->lsb_bits);
    CHECK(isfinite(o->requant) && o->requant >= 0 && o->requant <= 1,
          "requant threshold %g must be in [0, 1]", o->requant);
    CHECK(o->sinks >= 0 && o->recent >= 0, "sinks %d and recent %d must be >= 0", o->sinks,
          o->recent);
    CHECK(o->policy == SPKLLM_POLICY_ACCUMULATED || o->policy == SPKLLM_POLICY_LAST_STEP ||
              o->policy == SPKLLM_POLICY_SELECT,
          "policy %d unknown (accumulated, last-step, select)", o->policy);
    CHECK(o->important >= 0, "important %d must be >= 0", o->important);
    CHECK(!across || o->important == 0 || o->policy == SPKLLM_POLICY_LAST_STEP,
          "--important %d needs --policy last-step", o->important);
    CHECK(o->budget >= 0, "token budget %d must be >= 0", o->budget);
    CHECK(!across || o->budget == 0 || o->policy == SPKLLM_POLICY_SELECT,
          "--token-budget %d needs --policy select", o->budget);
    CHECK(o->scoring >= SPKLLM_SCORING_EXACT && o->scoring <= SPKLLM_SCORING_MSB_PROBS,
          "scoring %d unknown (msb, exact, msb-probs, exact-probs)", o->scoring);
    CHECK(o->dims >= 0 && o->dims <= 256, "sparse dims %d must be in 0..256", o->dims);
    CHECK(isfinite(o->candidates) &&
              (o->candidates == 0.0 || (o->candidates >= 1.0 && o->candidates <= 4096.0)),
          "candidates %g must be 0 or in [1, 4096]", o->candidates);
    CHECK(!across || o->dims == 0 || o->policy == SPKLLM_POLICY_SELECT,
          "--sparse-dims %d needs --policy select", o->dims);
    CHECK(!across || o->candidates == 0.0 || o->dims > 0, "--candidates %g needs --sparse-dims",
          o->candidates);
    return SPKLLM_OK;
}

spkllm_status spkllm_spatten_check(const spkllm_spatten_options *o, char *err, size_t err_len) {
    return check_options(o, 1, err, err_len);
}

static int parse_ratio(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !ratio_ok(v)) return 0;
    *out = v;
    return 1;
}

/* "END" or "START:END" into two ratios in (0, 1]. */
static int parse_pair(const char *s, double *start, double *end, int start_default_one) {
    const char *colon = strchr(s, ':');
    if (!colon) {
        if (start_default_one) *start = 1.0;
        return parse_ratio(s, end) && (start_default_one || parse_ratio(s, start));
    }
    char first[64];
    size_t n = (size_t)(colon - s);
    if (n == 0 || n >= sizeof first) return 0;
    memcpy(first, s, n);
    first[n] = 0;
    return parse_ratio(first, start) && parse_ratio(colon + 1, end);
}

static int parse_count(const char *s, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > 1000000) return 0;
    *out = (int)v;
    return 1;
}

/* --scoring: msb, exact, msb-probs or exact-probs. */
static int scoring_of(const char *s, int *out) {
    static const struct {
        const char *name;
        int value;
    } names[] = {{"msb", SPKLLM_SCORING_MSB},
                 {"exact", SPKLLM_SCORING_EXACT},
                 {"msb-probs", SPKLLM_SCORING_MSB_PROBS},
                 {"exact-probs", SPKLLM_SCORING_EXACT_PROBS}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name)) {
            *out = names[i].value;
            return 1;
        }
    return 0;
}

static int parse_fraction(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < 0 || v > 1) return 0;
    *out = v;
    return 1;
}

/* --kv-bits MSB+LSB with the shared strict parser: both parts whole decimal numbers in range
 * (sscanf took " 6+4", "6+4x" up to its %n and "+6++4"). */
static int parse_kv_bits(const char *v, spkllm_spatten_options *o, char *err, size_t err_len) {
    const char *plus = strchr(v, '+');
    char msb_text[32];
    size_t n = plus ? (size_t)(plus - v) : 0;
    if (!plus || n == 0 || n >= sizeof msb_text || !plus[1]) {
        if (err && err_len)
            snprintf(err, err_len, "--kv-bits: '%s' is not MSB+LSB (for example 6+4)", v);
        return -1;
    }
    memcpy(msb_text, v, n);
    msb_text[n] = '\0';
    int64_t msb, lsb;
    if (spk_parse_i64("--kv-bits MSB", msb_text, 2, 12, 0, &msb, err, err_len) != 0 ||
        spk_parse_i64("--kv-bits LSB", plus + 1, 0, 10, 0, &lsb, err, err_len) != 0)
        return -1;
    o->msb_bits = (int)msb;
    o->lsb_bits = (int)lsb;
    return 0;
}

int spkllm_spatten_parse_arg(int argc, char **argv, int *i, spkllm_spatten_options *o, char *err,
                             size_t err_len) {
    static const char *const names[] = {
        "--spatten",    "--token-keep", "--head-keep",    "--v-keep",  "--kv-bits",
        "--requant",    "--prune-skip", "--sinks",        "--recent",  "--head-groups",
        "--policy",     "--important",  "--token-budget", "--scoring", "--sparse-dims",
        "--candidates", "--select-hold"};
    const char *a = argv[*i];
    size_t which = 0, n_names = sizeof names / sizeof names[0];
    while (which < n_names && strcmp(a, names[which])) which++;
    if (which == n_names) return 0;
    if (*i + 1 >= argc) {
        if (err && err_len) snprintf(err, err_len, "option %s needs a value", a);
        return -1;
    }
    const char *v = argv[++*i];
    int ok = 1;
    switch (which) {
    case 0:
        ok = spkllm_spatten_preset(v, o) == SPKLLM_OK;
        if (!ok && err && err_len)
            snprintf(err, err_len,
                     "--spatten %s: unknown preset (off, paper, aggressive, mit, select)", v);
        return ok ? 1 : -1;
    case 1:
        ok = parse_pair(v, &o->token_keep_start, &o->token_keep_end, 1);
        break;
    case 2:
        ok = parse_pair(v, &o->head_keep_start, &o->head_keep_end, 1);
        break;
    case 3:
        ok = parse_ratio(v, &o->v_keep);
        break;
    case 4:
        if (parse_kv_bits(v, o, err, err_len) != 0) return -1;
        break;
    case 5:
        ok = parse_fraction(v, &o->requant);
        break;
    case 6: {
        const char *colon = strchr(v, ':');
        char first[64];
        size_t n = colon ? (size_t)(colon - v) : strlen(v);
        ok = n > 0 && n < sizeof first;
        if (ok) {
            memcpy(first, v, n);
            first[n] = 0;
            ok = parse_fraction(first, &o->token_skip) &&
                 (!colon || parse_fraction(colon + 1, &o->head_skip));
        }
        break;
    }
    case 7:
        ok = parse_count(v, &o->sinks);
        break;
    case 8:
        ok = parse_count(v, &o->recent);
        break;
    case 9:
        ok = !strcmp(v, "on") || !strcmp(v, "off");
        if (ok) o->group_heads = !strcmp(v, "on");
        break;
    case 10:
        ok = !strcmp(v, "accumulated") || !strcmp(v, "last-step") || !strcmp(v, "select");
        if (ok)
            o->policy = !strcmp(v, "last-step") ? SPKLLM_POLICY_LAST_STEP
                        : !strcmp(v, "select")  ? SPKLLM_POLICY_SELECT
                                                : SPKLLM_POLICY_ACCUMULATED;
        break;
    case 11:
        ok = parse_count(v, &o->important);
        break;
    case 12:
        ok = parse_count(v, &o->budget);
        break;
    case 13:
        ok = scoring_of(v, &o->scoring);
        break;
    case 14:
        ok = parse_count(v, &o->dims);
        break;
    case 16:
        ok = !strcmp(v, "on") || !strcmp(v, "off");
        if (ok) o->hold = !strcmp(v, "on");
        break;
    default: {
        char *end;
        errno = 0;
        const double f = strtod(v, &end);
        ok = !errno && end != v && !*end && isfinite(f);
        if (ok) o->candidates = f;
        break;
    }
    }
    if (ok && check_options(o, 0, err, err_len) == SPKLLM_OK) return 1;
    if (!ok && err && err_len) snprintf(err, err_len, "%s: bad value '%s'", a, v);
    return -1;
}

/* Linear interpolation from start (first pruning layer) to end (last layer). */
static double schedule(double start, double end, double skip, int layer, int n_layers) {
    int first = (int)ceil(skip * n_layers - 1e-9);
    if (layer < first || n_layers < 1) return 1.0;
    int span = n_layers - 1 - first;
    double t = span > 0 ? (double)(layer - first) / span : 1.0;
    return start + (end - start) * t;
}

double spkllm_spatten_token_keep(const spkllm_spatten_options *o, int layer, int n_layers) {
    return schedule(o->token_keep_start, o->token_keep_end, o->token_skip, layer, n_layers);
}

double spkllm_spatten_head_keep(const spkllm_spatten_options *o, int layer, int n_layers) {
    return schedule(o->head_keep_start, o->head_keep_end, o->head_skip, layer, n_layers);
}
