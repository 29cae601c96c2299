/* spk-attn: one attention layer through the golden model, from .npy inputs, or through libspk
 * on a device backend (--backend). Run `spk-attn --help` for the options;
 * docs/spec/datapath.md defines what it computes. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spk/spk.h"
#include "spksim/file.h"
#include "spksim/json.h"
#include "spksim/layer.h"
#include "spksim/npy.h"
#include "spksim/parse.h"

static const char usage[] =
    "usage: spk-attn --q Q.npy --k K.npy --v V.npy --out O.npy [options]\n"
    "\n"
    "Runs one attention layer through the bit-exact SpAtten datapath model, directly or on a\n"
    "device backend of libspk (--backend); the output is bit-identical either way.\n"
    "  Q [H,Lq,D], K [Hkv,L,D], V [Hkv,L,D]: float32 (float64 and integer arrays are converted\n"
    "  exactly); 2-D arrays mean one head. Hkv must divide H (grouped-query attention).\n"
    "  Writes O [H,Lq,D] float32; heads pruned by an earlier layer (--state-in) output zeros.\n"
    "\n"
    "options:\n"
    "  --stats FILE          write statistics as JSON (traffic, kept tokens and heads)\n"
    "  --kv-bits M+L         K/V MSB+LSB bits, e.g. 6+4, 8+4 (default 12+0: no progressive\n"
    "                        quantization); M >= 2, M+L <= 12\n"
    "  --requant T           refetch LSBs when the max probability is below T, 0..1\n"
    "                        (default 0.05; only with L > 0)\n"
    "  --v-keep R            local V pruning: fetch V for the top R of probabilities, 0<R<=1\n"
    "                        (default 1: no pruning)\n"
    "  --token-keep R        after this layer keep the top R of alive tokens by importance\n"
    "  --token-count N       ... or keep N tokens (default: keep all)\n"
    "  --head-keep R         after this layer keep the top R of alive heads by importance\n"
    "  --head-count N        ... or keep N heads (default: keep all)\n"
    "  --causal              query i of Lq sees tokens 0 .. L-Lq+i only\n"
    "  --state-in FILE       pruning state from an earlier layer (importance, pruned tokens and\n"
    "                        heads); new tokens (L above the state's) are appended\n"
    "  --state-out FILE      write the pruning state after this layer's pruning step\n"
    "  --topk-parallelism P  comparators of the top-k engine in the reported trace (default 16)\n"
    "  --select-keep R       per-step selection, nothing evicted: each K/V head and query fetches\n"
    "                        the top R of its visible keys by this step's scores (and the\n"
    "                        protected ones); docs/spec/datapath.md, \"Per-step selection\"\n"
    "  --select-count N      ... or N keys per K/V head and query\n"
    "  --select-sinks N      keys 0..N-1 are always selected (default 0)\n"
    "  --select-recent N     the query's last N visible keys are always selected (default 0)\n"
    "  --select-scoring S    msb (default: scores from the K MSB plane) or exact (full codes);\n"
    "                        a -probs suffix ranks by the group's summed softmax probabilities\n"
    "  --select-dims R       a first stage: approximate scores at the R largest dimensions of\n"
    "                        the group's |q| (from a dimension-major copy of the MSB plane)\n"
    "  --select-candidates C ... then score its top ceil(budget * C / 16) fully (C >= 16;\n"
    "                        default 0: select by the first stage directly)\n"
    "  --select-hold on|off  on (default): the requests take the selected keys' MSB-pass logits\n"
    "                        from the scoring stage (\"Held rows\": fewer bytes, same numbers)\n"
    "  --backend NAME        golden (default): the golden model directly; model, sim, rtl,\n"
    "                        rtl-compact, rtl-ovl: the same layer through libspk on that device\n"
    "                        (firmware: $SPK_FIRMWARE, else next to this binary). Pruning state\n"
    "                        lives in the device: --state-in, --state-out and\n"
    "                        --topk-parallelism need golden (--select-* runs on model, sim\n"
    "                        and systemc, not on the RTL); --stats omits dram_bytes_by_kind,\n"
    "                        kept_tokens and kept_heads and adds the device's counters\n"
    "  -h, --help            this text\n"
    "\n"
    "Pruning is cascade pruning: this layer computes with the tokens and heads still alive; the\n"
    "keep options decide which survive into the next layer (use --state-out/--state-in).\n"
    "Exit status: 0 success, 1 bad input data, 2 bad usage.\n";

typedef struct options {
    const char *q, *k, *v, *out, *stats, *state_in, *state_out;
    const char *backend; /* NULL: the golden model directly */
    spk_head_config cfg;
    spk_keep tokens, heads;
    spk_select_config select;
    int causal, topk_set, select_set;
} options;

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "spk-attn: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see spk-attn --help)\n");
    return 2;
}

/* The number parsers print their own message ("--seed: 'abc' is not a whole number"). */
static int bad_value(const char *msg) {
    fprintf(stderr, "spk-attn: %s\n(see spk-attn --help)\n", msg);
    return 2;
}

static int parse_ratio(const char *opt, const char *s, uint32_t *q16, char *err, size_t len) {
    double r = 0;
    if (spk_parse_double(opt, s, 0.0, 1.0, SPK_PARSE_LO_OPEN, &r, err, len)) return -1;
    *q16 = spk_ratio_q16(r);
    if (*q16 == 0) *q16 = 1; /* a positive ratio keeps at least one */
    return 0;
}

static int parse_count(const char *opt, const char *s, uint32_t hi, uint32_t *n, char *err,
                       size_t len) {
    uint64_t v = 0;
    if (spk_parse_u64(opt, s, 1, hi, 0, &v, err, len)) return -1;
    *n = (uint32_t)v;
    return 0;
}

/* M+L: two whole numbers, M >= 2, M + L <= 12. */
static int parse_bits(const char *s, spk_quant_profile *p, char *err, size_t len) {
    char m_text[32], l_text[32];
    const char *plus = strchr(s, '+');
    if (!plus || (size_t)(plus - s) >= sizeof m_text || strlen(plus + 1) >= sizeof l_text) {
        snprintf(err, len, "--kv-bits: '%s' is not M+L (e.g. 6+4)", s);
        return -1;
    }
    memcpy(m_text, s, (size_t)(plus - s));
    m_text[plus - s] = 0;
    snprintf(l_text, sizeof l_text, "%s", plus + 1);
    uint64_t m = 0, l = 0;
    if (spk_parse_u64("--kv-bits M", m_text, 2, SPK_KV_MAX_BITS, 0, &m, err, len) ||
        spk_parse_u64("--kv-bits L", l_text, 0, SPK_KV_MAX_BITS - m, 0, &l, err, len))
        return -1;
    p->msb_bits = (uint8_t)m;
    p->lsb_bits = (uint8_t)l;
    return 0;
}

static int parse_args(int argc, char **argv, options *o) {
    memset(o, 0, sizeof *o);
    o->cfg.kv = (spk_quant_profile){12, 0};
    o->cfg.requant_threshold = spk_ratio_q16(0.05);
    o->cfg.v_keep_q16 = SPK_ONE_Q16;
    o->cfg.topk_parallelism = 16;
    o->tokens = SPK_KEEP_ALL;
    o->heads = SPK_KEEP_ALL;
    o->select = (spk_select_config){.budget = SPK_KEEP_ALL, .scoring = SPK_SELECT_MSB, .hold = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            exit(0);
        }
        if (!strcmp(a, "--causal")) {
            o->causal = 1;
            continue;
        }
        if (i + 1 >= argc) return usage_error("option '%s' needs a value", a);
        const char *val = argv[++i];
        uint32_t n = 0;
        char err[256];
        if (!strcmp(a, "--q"))
            o->q = val;
        else if (!strcmp(a, "--k"))
            o->k = val;
        else if (!strcmp(a, "--v"))
            o->v = val;
        else if (!strcmp(a, "--out"))
            o->out = val;
        else if (!strcmp(a, "--stats"))
            o->stats = val;
        else if (!strcmp(a, "--state-in"))
            o->state_in = val;
        else if (!strcmp(a, "--state-out"))
            o->state_out = val;
        else if (!strcmp(a, "--backend"))
            o->backend = strcmp(val, "golden") ? val : NULL;
        else if (!strcmp(a, "--kv-bits")) {
            if (parse_bits(val, &o->cfg.kv, err, sizeof err)) return bad_value(err);
        } else if (!strcmp(a, "--requant")) {
            double t = 0;
            if (spk_parse_double(a, val, 0.0, 1.0, 0, &t, err, sizeof err)) return bad_value(err);
            o->cfg.requant_threshold = t >= 1.0 ? SPK_ONE_Q16 : spk_ratio_q16(t);
        } else if (!strcmp(a, "--v-keep")) {
            if (parse_ratio(a, val, &o->cfg.v_keep_q16, err, sizeof err)) return bad_value(err);
        } else if (!strcmp(a, "--token-keep")) {
            if (parse_ratio(a, val, &o->tokens.ratio_q16, err, sizeof err)) return bad_value(err);
        } else if (!strcmp(a, "--head-keep")) {
            if (parse_ratio(a, val, &o->heads.ratio_q16, err, sizeof err)) return bad_value(err);
        } else if (!strcmp(a, "--token-count")) {
            if (parse_count(a, val, UINT32_MAX, &n, err, sizeof err)) return bad_value(err);
            o->tokens.count = n;
        } else if (!strcmp(a, "--head-count")) {
            if (parse_count(a, val, UINT32_MAX, &n, err, sizeof err)) return bad_value(err);
            o->heads.count = n;
        } else if (!strcmp(a, "--topk-parallelism")) {
            if (parse_count(a, val, 1024, &n, err, sizeof err)) return bad_value(err);
            o->cfg.topk_parallelism = n;
            o->topk_set = 1;
        } else if (!strcmp(a, "--select-keep")) {
            if (parse_ratio(a, val, &o->select.budget.ratio_q16, err, sizeof err))
                return bad_value(err);
            o->select_set = 1;
        } else if (!strcmp(a, "--select-count")) {
            if (parse_count(a, val, UINT32_MAX, &n, err, sizeof err)) return bad_value(err);
            o->select.budget.count = n;
            o->select_set = 1;
        } else if (!strcmp(a, "--select-sinks") || !strcmp(a, "--select-recent") ||
                   !strcmp(a, "--select-dims") || !strcmp(a, "--select-candidates")) {
            uint64_t w = 0;
            if (spk_parse_u64(a, val, 0, UINT32_MAX, 0, &w, err, sizeof err)) return bad_value(err);
            if (!strcmp(a, "--select-sinks"))
                o->select.sinks = (uint32_t)w;
            else if (!strcmp(a, "--select-recent"))
                o->select.recent = (uint32_t)w;
            else if (!strcmp(a, "--select-dims"))
                o->select.dims = (uint32_t)w;
            else if (w && w < 16)
                return usage_error("--select-candidates: %s is below 16 (1x the budget)", val);
            else
                o->select.candidates_x16 = (uint32_t)w;
            o->select_set |= 2;
        } else if (!strcmp(a, "--select-hold")) {
            if (strcmp(val, "on") && strcmp(val, "off"))
                return usage_error("--select-hold: '%s' is not on or off", val);
            o->select.hold = !strcmp(val, "on");
            o->select_set |= 2;
        } else if (!strcmp(a, "--select-scoring")) {
            const size_t len = strlen(val), probs = len > 6 && !strcmp(val + len - 6, "-probs");
            const size_t base = probs ? len - 6 : len;
            if (base == 5 && !strncmp(val, "exact", 5))
                o->select.scoring = SPK_SELECT_EXACT;
            else if (base == 3 && !strncmp(val, "msb", 3))
                o->select.scoring = SPK_SELECT_MSB;
            else
                return usage_error(
                    "--select-scoring: '%s' is not msb, exact, msb-probs or exact-probs", val);
            o->select.combine = probs ? SPK_SELECT_SUM_PROBS : SPK_SELECT_SUM_LOGITS;
            o->select_set |= 2;
        } else
            return usage_error("unknown option '%s'", a);
    }
    if (!o->q || !o->k || !o->v || !o->out)
        return usage_error("%s", "--q, --k, --v and --out are required");
    if (o->backend && !*o->backend) return usage_error("%s", "--backend needs a name");
    if (o->select.candidates_x16 && !o->select.dims)
        return usage_error("%s", "--select-candidates needs --select-dims (a first stage)");
    if (o->select_set == 2)
        return usage_error("%s", "--select-sinks, --select-recent and --select-scoring need "
                                 "--select-keep or --select-count");
    /* What libspk cannot express: the pruning state is the device's (no import or export), and
     * a device has its own top-k engine. */
    const char *golden_only = o->state_in    ? "--state-in"
                              : o->state_out ? "--state-out"
                              : o->topk_set  ? "--topk-parallelism"
                                             : NULL;
    if (o->backend && golden_only) {
        fprintf(stderr,
                "spk-attn: %s needs --backend golden: on a device (--backend %s) the pruning "
                "state and the top-k engine are the device's\n(see spk-attn --help)\n",
                golden_only, o->backend);
        return 2;
    }
    return 0;
}

/* A [heads, rows, d] view of an input array (2-D arrays are one head). */
typedef struct tensor3 {
    spk_npy a;
    uint32_t heads, rows, d;
} tensor3;

static int load3(const char *path, const char *what, tensor3 *t) {
    char err[512];
    if (spk_npy_read(path, &t->a, err, sizeof err) != SPKSIM_OK ||
        spk_npy_to_f32(&t->a, err, sizeof err) != SPKSIM_OK) {
        fprintf(stderr, "spk-attn: %s: %s\n", what, err);
        return -1;
    }
    const uint64_t *s = t->a.shape;
    uint64_t h = 1, r = 0, d = 0;
    if (t->a.ndim == 3)
        h = s[0], r = s[1], d = s[2];
    else if (t->a.ndim == 2)
        r = s[0], d = s[1];
    else {
        fprintf(stderr, "spk-attn: %s (%s): expected 2 or 3 dimensions, got %u\n", what, path,
                t->a.ndim);
        return -1;
    }
    if (h == 0 || h > 4096 || r > SPK_MAX_KEYS || d == 0 || d > SPK_MAX_D) {
        fprintf(stderr,
                "spk-attn: %s (%s): shape out of range (heads 1..4096, rows 0..%u, D 1..%u)\n",
                what, path, SPK_MAX_KEYS, SPK_MAX_D);
        return -1;
    }
    t->heads = (uint32_t)h, t->rows = (uint32_t)r, t->d = (uint32_t)d;
    return 0;
}

/* Quantized rows of a tensor: codes and one scale word per row. */
typedef struct qrows {
    int16_t *codes;
    spk_scale *scales;
} qrows;

static int quantize(const tensor3 *t, uint32_t bits, int logit, const char *what, qrows *q) {
    const size_t rows = (size_t)t->heads * t->rows;
    q->codes = malloc((rows * t->d + 1) * sizeof *q->codes);
    q->scales = malloc((rows + 1) * sizeof *q->scales);
    if (!q->codes || !q->scales) {
        fprintf(stderr, "spk-attn: out of memory\n");
        return -1;
    }
    const float *x = t->a.data;
    for (size_t r = 0; r < rows; r++) {
        spksim_status st =
            spk_quantize_row(x + r * t->d, t->d, bits, q->codes + r * t->d, &q->scales[r]);
        if (st == SPKSIM_OK && logit) st = spk_logit_scale(q->scales[r], t->d, &q->scales[r]);
        if (st != SPKSIM_OK) {
            fprintf(stderr, "spk-attn: %s row %zu: %s (values must be finite floats)\n", what, r,
                    spksim_status_str(st));
            return -1;
        }
    }
    return 0;
}

static spk_prune_state *open_state(const options *o, uint32_t heads, uint32_t tokens) {
    spk_prune_state *st = NULL;
    if (!o->state_in) {
        st = spk_prune_create(heads, tokens ? tokens : 1);
    } else {
        char err[512];
        if (spk_file_check_regular(o->state_in, err, sizeof err)) {
            fprintf(stderr, "spk-attn: --state-in %s\n", err);
            return NULL;
        }
        spksim_status s = spk_prune_load(o->state_in, &st);
        if (s != SPKSIM_OK) {
            fprintf(stderr, "spk-attn: --state-in %s: %s\n", o->state_in, spksim_status_str(s));
            return NULL;
        }
        if (spk_prune_heads(st) != heads || spk_prune_tokens(st) > tokens) {
            fprintf(stderr,
                    "spk-attn: --state-in %s holds %u heads and %u tokens; the inputs have %u "
                    "heads and %u tokens\n",
                    o->state_in, spk_prune_heads(st), spk_prune_tokens(st), heads, tokens);
            spk_prune_destroy(st);
            return NULL;
        }
        if (spk_prune_reserve(st, tokens) != SPKSIM_OK) {
            fprintf(stderr, "spk-attn: --state-in %s: out of memory for %u tokens\n", o->state_in,
                    tokens);
            spk_prune_destroy(st);
            return NULL;
        }
    }
    if (!st || spk_prune_append(st, tokens - spk_prune_tokens(st)) != SPKSIM_OK) {
        fprintf(stderr, "spk-attn: cannot create the pruning state\n");
        spk_prune_destroy(st);
        return NULL;
    }
    return st;
}

/* What a layer run reports: the golden model's statistics and pruning state, or a device's. */
typedef struct result {
    uint32_t heads_computed, heads_kept, tokens_alive, tokens_kept;
    uint64_t requests, keys_fetched, values_fetched, requant_requests, dram_bytes;
    const spk_layer_stats *golden; /* the golden run: DRAM bytes by kind; NULL on a device */
    const spk_prune_state *st;     /* the golden run: kept tokens and heads; NULL on a device */
    const spk_attn_stats *dev;     /* a device run: its counters; NULL on the golden model */
} result;

static int write_stats(const char *path, const options *o, const result *r) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "spk-attn: --stats %s: %s\n", path, strerror(errno));
        return -1;
    }
    spk_json j;
    spk_json_init(&j, f);
    spk_json_object_begin(&j, NULL);
    spk_json_u64(&j, "heads_computed", r->heads_computed);
    spk_json_u64(&j, "heads_kept", r->heads_kept);
    spk_json_u64(&j, "tokens_alive", r->tokens_alive);
    spk_json_u64(&j, "tokens_kept", r->tokens_kept);
    spk_json_u64(&j, "requests", r->requests);
    spk_json_u64(&j, "keys_fetched", r->keys_fetched);
    spk_json_u64(&j, "values_fetched", r->values_fetched);
    spk_json_u64(&j, "requant_requests", r->requant_requests);
    spk_json_u64(&j, "dram_bytes", r->dram_bytes);
    if (r->golden) {
        spk_json_object_begin(&j, "dram_bytes_by_kind");
        spk_json_u64(&j, "key_msb", r->golden->key_msb_bytes);
        spk_json_u64(&j, "key_lsb", r->golden->key_lsb_bytes);
        spk_json_u64(&j, "value", r->golden->value_bytes);
        spk_json_u64(&j, "scale", r->golden->scale_bytes);
        spk_json_u64(&j, "select_scoring", r->golden->select_bytes);
        spk_json_object_end(&j);
        spk_json_u64(&j, "select_scored", r->golden->select_scored);
    }
    if (r->st) {
        spk_json_array_begin(&j, "kept_tokens");
        for (uint32_t t = 0; t < spk_prune_tokens(r->st); t++)
            if (spk_prune_token_alive(r->st, t)) spk_json_u64(&j, NULL, t);
        spk_json_array_end(&j);
        spk_json_array_begin(&j, "kept_heads");
        for (uint32_t h = 0; h < spk_prune_heads(r->st); h++)
            if (spk_prune_head_alive(r->st, h)) spk_json_u64(&j, NULL, h);
        spk_json_array_end(&j);
    }
    if (r->dev) {
        spk_json_object_begin(&j, "device");
        spk_json_string(&j, "backend", o->backend);
        spk_json_u64(&j, "core_cycles", r->dev->core_cycles);
        spk_json_u64(&j, "core_instret", r->dev->core_instret);
        spk_json_u64(&j, "engine_cycles", r->dev->engine_cycles);
        if (r->dev->has_energy) spk_json_double(&j, "energy_pj", r->dev->energy_pj);
        spk_json_object_end(&j);
    }
    spk_json_object_begin(&j, "config");
    spk_json_u64(&j, "d", o->cfg.d);
    spk_json_u64(&j, "msb_bits", o->cfg.kv.msb_bits);
    spk_json_u64(&j, "lsb_bits", o->cfg.kv.lsb_bits);
    spk_json_u64(&j, "requant_threshold_q16", o->cfg.requant_threshold);
    spk_json_u64(&j, "v_keep_q16", o->cfg.v_keep_q16);
    spk_json_u64(&j, "token_keep_count", o->tokens.count);
    spk_json_u64(&j, "token_keep_q16", o->tokens.ratio_q16);
    spk_json_u64(&j, "head_keep_count", o->heads.count);
    spk_json_u64(&j, "head_keep_q16", o->heads.ratio_q16);
    spk_json_bool(&j, "causal", o->causal);
    spk_json_object_end(&j);
    spk_json_object_end(&j);
    int rc = spk_json_finish(&j);
    if (fclose(f) != 0) rc = -1;
    if (rc) fprintf(stderr, "spk-attn: --stats %s: write failed\n", path);
    return rc;
}

static int check_shapes(const tensor3 *q, const tensor3 *k, const tensor3 *v, const options *o) {
    const char *problem = NULL;
    if (k->heads != v->heads || k->rows != v->rows || k->d != v->d)
        problem = "K and V differ in shape";
    else if (q->d != k->d)
        problem = "Q and K differ in head dimension D";
    else if (q->heads % k->heads)
        problem = "K/V heads do not divide Q heads";
    else if (q->rows == 0)
        problem = "Q has no query rows";
    else if (o->causal && q->rows > k->rows)
        problem = "--causal needs Lq <= L";
    if (!problem) return 0;
    fprintf(stderr, "spk-attn: shape mismatch: %s (Q [%u,%u,%u], K [%u,%u,%u], V [%u,%u,%u])\n",
            problem, q->heads, q->rows, q->d, k->heads, k->rows, k->d, v->heads, v->rows, v->d);
    return -1;
}

/* In-tree runs find the firmware and the energy constants next to the executable (build/bin ->
 * build/firmware, sim/configs), as spk-llm does; an installed libspk finds its own. The
 * environment wins. */
static void default_paths(char *fw, char *energy, size_t len) {
    char exe[PATH_MAX];
    fw[0] = energy[0] = 0;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return;
    *slash = 0; /* exe is now the binary's directory */
    if (!getenv("SPK_FIRMWARE")) {
        snprintf(fw, len, "%s/../firmware/spk-fw.elf", exe);
        if (access(fw, R_OK) != 0) fw[0] = 0;
    }
    if (!getenv("SPK_ENERGY")) {
        snprintf(energy, len, "%s/../../sim/configs/energy.cfg", exe);
        if (access(energy, R_OK) != 0) energy[0] = 0;
    }
}

/* ---- progress (docs/reliability.md, "Progress") ---------------------------------------------
 * "progress: WHAT DONE/TOTAL" on stderr at least every $SPK_PROGRESS_MS milliseconds (default
 * 2000; 0: at every step), as spk-llm prints it. */
static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double progress_every_s(void) {
    static double every = -1;
    if (every < 0) {
        const char *env = getenv("SPK_PROGRESS_MS");
        char *end = NULL;
        long v = env && *env ? strtol(env, &end, 10) : 2000;
        every = (env && *env && (*end || v < 0)) ? 2.0 : (double)v / 1000.0;
    }
    return every;
}

typedef struct {
    double last;
    unsigned long long done, total;
} progress_state;

static void progress(progress_state *p, const char *what) {
    double t = mono_s();
    if (t - p->last < progress_every_s()) return;
    p->last = t;
    fprintf(stderr, "progress: %s %llu/%llu\n", what, p->done, p->total);
}

/* The golden model's observer: one call per head request. */
static void on_request(void *user, uint32_t head, uint32_t query, const spk_head_result *res) {
    (void)head, (void)query, (void)res;
    progress_state *p = user;
    p->done++;
    progress(p, "head requests");
}

static int spk_failed(const options *o, const char *what, spk_status st) {
    if (st == SPK_OK) return 0;
    fprintf(stderr, "spk-attn: --backend %s: %s: %s: %s\n", o->backend, what, spk_status_str(st),
            spk_last_error());
    return -1;
}

/* The layer through libspk on device o->backend: the driver quantizes the same floats by the
 * same rules, the firmware applies the same keep counts after the layer. */
static int run_device(const options *o, const tensor3 *q, const tensor3 *k, const tensor3 *v,
                      float *outf, size_t n_out, spk_attn_stats *stats, result *r) {
    char fw[PATH_MAX + 64], energy[PATH_MAX + 64];
    default_paths(fw, energy, sizeof fw);
    const spk_device_options dopt = {.size = sizeof dopt,
                                     .firmware_path = fw[0] ? fw : NULL,
                                     .energy_path = energy[0] ? energy : NULL};
    const spk_attn_config cfg = {.size = sizeof cfg,
                                 .n_layers = 1,
                                 .n_heads = q->heads,
                                 .n_kv_heads = k->heads,
                                 .head_dim = q->d,
                                 .max_tokens = k->rows,
                                 .msb_bits = o->cfg.kv.msb_bits,
                                 .lsb_bits = o->cfg.kv.lsb_bits,
                                 .requant_threshold = o->cfg.requant_threshold,
                                 .v_keep_q16 = o->cfg.v_keep_q16};
    const spk_layer_submit sub = {
        .size = sizeof sub,
        .layer = 0,
        .n_queries = q->rows,
        .n_new_tokens = k->rows,
        .causal = (uint32_t)o->causal,
        .q = q->a.data,
        .k_new = k->a.data,
        .v_new = v->a.data,
        .token_keep_count = o->tokens.count,
        .token_keep_q16 = o->tokens.ratio_q16,
        .head_keep_count = o->heads.count,
        .head_keep_q16 = o->heads.ratio_q16,
        .token_sinks = o->select_set ? o->select.sinks : 0,
        .token_recent = o->select_set ? o->select.recent : 0,
        .token_policy = o->select_set ? SPK_TOKEN_POLICY_SELECT : SPK_TOKEN_POLICY_ACCUMULATED,
        .select_count = o->select.budget.count,
        .select_q16 = o->select.budget.count ? 0 : o->select.budget.ratio_q16,
        .select_scoring =
            o->select.combine == SPK_SELECT_SUM_PROBS
                ? (o->select.scoring == SPK_SELECT_MSB ? SPK_SCORING_MSB_PROBS
                                                       : SPK_SCORING_EXACT_PROBS)
                : (o->select.scoring == SPK_SELECT_MSB ? SPK_SCORING_MSB : SPK_SCORING_EXACT) |
                      (o->select.hold ? SPK_SCORING_HOLD : 0u),
        .select_dims = o->select.dims,
        .select_cand_x16 = o->select.candidates_x16};
    spk_device *dev = NULL;
    spk_attn *attn = NULL;
    spk_fence *fence = NULL;
    int rc = -1;
    if (spk_failed(o, "open", spk_device_open(o->backend, &dopt, &dev)) ||
        spk_failed(o, "context", spk_attn_create(dev, &cfg, &attn)) ||
        spk_failed(o, "submit", spk_attn_submit(attn, &sub, &fence)) ||
        spk_failed(o, "layer", spk_fence_wait(fence, 600000)) ||
        spk_failed(o, "output", spk_attn_read_output(attn, outf, n_out)) ||
        spk_failed(o, "stats", spk_attn_read_stats(attn, stats)) ||
        spk_failed(o, "alive", spk_attn_alive(attn, &r->tokens_kept, &r->heads_kept)))
        goto done;
    r->heads_computed = stats->heads_computed;
    r->tokens_alive = stats->tokens_alive;
    r->requests = stats->requests;
    r->keys_fetched = stats->keys_fetched;
    r->values_fetched = stats->values_fetched;
    r->requant_requests = stats->requant_requests;
    r->dram_bytes = stats->dram_bytes;
    r->dev = stats;
    rc = 0;
done:
    spk_fence_free(fence);
    spk_attn_destroy(attn);
    spk_device_close(dev);
    return rc;
}

/* The layer through the golden model directly (and the pruning state in and out). */
static int run_golden(options *o, const tensor3 *q, const tensor3 *k, const tensor3 *v, float *outf,
                      spk_prune_state **stp, spk_layer_stats *ls, result *r) {
    qrows qq = {0}, kq = {0}, vq = {0};
    spk_prune_state *st = NULL;
    spk_workspace *ws = NULL;
    int32_t *out = NULL, *out_exp = NULL;
    int rc = -1;
    const uint32_t kv_bits = o->cfg.kv.msb_bits + o->cfg.kv.lsb_bits;
    if (quantize(q, SPK_Q_BITS, 1, "Q", &qq) || quantize(k, kv_bits, 0, "K", &kq) ||
        quantize(v, kv_bits, 0, "V", &vq))
        goto done;
    st = *stp = open_state(o, q->heads, k->rows);
    ws = spk_workspace_create(k->rows ? k->rows : 1);
    const size_t n_out = (size_t)q->heads * q->rows * q->d;
    out = malloc(n_out * sizeof *out);
    out_exp = malloc((size_t)q->heads * q->rows * sizeof *out_exp);
    if (!st || !ws || !out || !out_exp) {
        if (st) fprintf(stderr, "spk-attn: out of memory\n");
        goto done;
    }
    spk_layer_desc layer = {
        .n_heads = q->heads,
        .n_kv_heads = k->heads,
        .n_queries = q->rows,
        .n_tokens = k->rows,
        .q = qq.codes,
        .q_logit_scales = qq.scales,
        .k = kq.codes,
        .k_scales = kq.scales,
        .v = vq.codes,
        .v_scales = vq.scales,
        .causal = (uint32_t)o->causal,
        .select = o->select_set ? &o->select : NULL,
    };
    progress_state prog = {mono_s(), 0, (unsigned long long)q->heads * q->rows};
    spksim_status s = spk_layer_run(&o->cfg, &layer, st, ws, out, out_exp, ls, on_request, &prog);
    /* The keep step after it: with selection its sinks and recent window are protected too, as
     * the device contract's select policy shares them with the keep step (docs/device.md). */
    const spk_prune_window w = {o->select.sinks, o->select.recent, 0};
    if (s == SPKSIM_OK)
        s = o->select_set ? spk_prune_keep_window(st, o->tokens, o->heads, &w, NULL, NULL)
                          : spk_prune_keep(st, o->tokens, o->heads, NULL, NULL);
    if (s != SPKSIM_OK) {
        fprintf(stderr, "spk-attn: layer failed: %s\n", spksim_status_str(s));
        goto done;
    }
    for (size_t i = 0; i < n_out; i++) outf[i] = spk_output_to_float(out[i], out_exp[i / q->d]);
    *r = (result){.heads_computed = ls->heads_computed,
                  .heads_kept = spk_prune_alive_heads(st),
                  .tokens_alive = ls->tokens_alive,
                  .tokens_kept = spk_prune_alive_tokens(st),
                  .requests = ls->requests,
                  .keys_fetched = ls->keys_fetched,
                  .values_fetched = ls->values_fetched,
                  .requant_requests = ls->requant_requests,
                  .dram_bytes = ls->dram_bytes,
                  .golden = ls,
                  .st = st};
    rc = 0;
done:
    free(qq.codes), free(qq.scales), free(kq.codes), free(kq.scales);
    free(vq.codes), free(vq.scales);
    spk_workspace_destroy(ws);
    free(out), free(out_exp);
    return rc;
}

static int run(const options *opt) {
    options o = *opt;
    tensor3 q = {0}, k = {0}, v = {0};
    spk_prune_state *st = NULL;
    float *outf = NULL;
    spk_layer_stats ls;
    spk_attn_stats dev_stats = {.size = sizeof dev_stats};
    result res = {0};
    int rc = 1;
    if (load3(o.q, "--q", &q) || load3(o.k, "--k", &k) || load3(o.v, "--v", &v) ||
        check_shapes(&q, &k, &v, &o))
        goto done;
    o.cfg.d = q.d;
    const size_t n_out = (size_t)q.heads * q.rows * q.d;
    outf = malloc(n_out * sizeof *outf);
    if (!outf) {
        fprintf(stderr, "spk-attn: out of memory\n");
        goto done;
    }
    if (o.backend ? run_device(&o, &q, &k, &v, outf, n_out, &dev_stats, &res)
                  : run_golden(&o, &q, &k, &v, outf, &st, &ls, &res))
        goto done;
    char err[512];
    const uint64_t shape[3] = {q.heads, q.rows, q.d};
    if (spk_npy_write_f32(o.out, outf, 3, shape, err, sizeof err) != SPKSIM_OK) {
        fprintf(stderr, "spk-attn: --out: %s\n", err);
        goto done;
    }
    if (o.stats && write_stats(o.stats, &o, &res)) goto done;
    spksim_status s;
    if (o.state_out && (s = spk_prune_save(st, o.state_out)) != SPKSIM_OK) {
        fprintf(stderr, "spk-attn: --state-out %s: %s\n", o.state_out, spksim_status_str(s));
        goto done;
    }
    rc = 0;
done:
    spk_npy_free(&q.a), spk_npy_free(&k.a), spk_npy_free(&v.a);
    spk_prune_destroy(st);
    free(outf);
    return rc;
}

int main(int argc, char **argv) {
    options o;
    int rc = parse_args(argc, argv, &o);
    return rc ? rc : run(&o);
}
