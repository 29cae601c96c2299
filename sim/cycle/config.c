/* Accelerator configurations: presets from BRIEF section 2 and key = value files. */
#include "spksim/config.h"
#include "spksim/file.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum { KEY_U32, KEY_U64, KEY_F64 } key_type;

typedef struct {
    const char *name;
    key_type type;
    size_t offset;
} key_desc;

#define KEY(field, type)                                                                           \
    { #field, type, offsetof(spk_config, field) }
static const key_desc keys[] = {
    KEY(clock_hz, KEY_F64),
    KEY(qk_multipliers, KEY_U32),
    KEY(pv_multipliers, KEY_U32),
    KEY(topk_parallelism, KEY_U32),
    KEY(topk_engines, KEY_U32),
    KEY(dram_channels, KEY_U32),
    KEY(dram_bytes_per_cycle, KEY_F64),
    KEY(dram_latency, KEY_U32),
    KEY(dram_row_buffer, KEY_U32),
    KEY(dram_row_bytes, KEY_U32),
    KEY(dram_row_miss_cycles, KEY_U32),
    KEY(key_buffer_bytes, KEY_U32),
    KEY(value_buffer_bytes, KEY_U32),
    KEY(qk_latency, KEY_U32),
    KEY(softmax_latency, KEY_U32),
    KEY(softmax_per_cycle, KEY_U32),
    KEY(requant_latency, KEY_U32),
    KEY(pv_latency, KEY_U32),
    KEY(output_latency, KEY_U32),
    KEY(issue_interval, KEY_U32),
    KEY(token_topk_barrier, KEY_U32),
    KEY(seed, KEY_U64),
    KEY(step_overlap, KEY_U32),
    KEY(softmax_passes, KEY_U32),
    KEY(fetch_slots, KEY_U32),
    KEY(fetch_row_overhead, KEY_U32),
    KEY(query_load_cycles, KEY_U32),
    KEY(importance_per_cycle, KEY_U32),
    KEY(unaligned_regions, KEY_U32),
    KEY(fetch_done_latency, KEY_U32),
    KEY(value_scale_per_row, KEY_U32),
    KEY(kept_scan, KEY_U32),
    KEY(topk_emit_pass, KEY_U32),
    KEY(topk_latency, KEY_U32),
    KEY(output_per_cycle, KEY_U32),
    KEY(step_latency, KEY_U32),
    KEY(head_add_latency, KEY_U32),
    KEY(row_beats, KEY_U32),
    KEY(softmax_exp_per_cycle, KEY_U32),
    KEY(value_scales_with_keys, KEY_U32),
    KEY(fetch_ring, KEY_U32),
    KEY(value_fetch_delay, KEY_U32),
    KEY(requests_in_flight, KEY_U32),
    KEY(tail_overlap, KEY_U32),
};
#define N_KEYS (sizeof keys / sizeof keys[0])

static void set_err(char *err, size_t len, const char *msg, const char *a, const char *b) {
    if (err && len) snprintf(err, len, msg, a, b);
}

/* Full SpAtten (BRIEF section 2). Latencies are the behaviour model's: QK tree ~8-11 (10),
 * softmax 7 + 21 + 23 + 29 + 7 = 87 plus ceil(K/8) streaming. The DRAM latency (100 cycles) and
 * the row-buffer figures are assumptions (HBM2-like), documented in docs/simulator.md. */
static void preset_full(spk_config *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "full");
    c->clock_hz = 1e9;
    c->qk_multipliers = 512;
    c->pv_multipliers = 512;
    c->topk_parallelism = 16;
    c->topk_engines = 1;
    c->dram_channels = 16;
    c->dram_bytes_per_cycle = 32;
    c->dram_latency = 100;
    c->dram_row_buffer = 0;
    c->dram_row_bytes = 1024;
    c->dram_row_miss_cycles = 14;
    c->key_buffer_bytes = 196608;
    c->value_buffer_bytes = 196608;
    c->qk_latency = 10;
    c->softmax_latency = 87;
    c->softmax_per_cycle = 8;
    c->requant_latency = 4;
    c->pv_latency = 10;
    c->output_latency = 2;
    c->issue_interval = 1;
    c->seed = 1;
    c->step_overlap = 1;
    c->softmax_passes = 1;
}

/* The engine top as the RTL harness builds it (tests/rtl/harness, rtl-engine; the parameters
 * DMAX = 64, M = 8, NMAX = 512, P = 8 of rtl/rtl.mk) with the harness's memory: AR always ready,
 * each R beat 8 cycles after its AR, one beat per cycle. Every value names the Verilog that sets
 * it (docs/simulator.md, "Serial engine"). */
static void preset_rtl_engine(spk_config *c) {
    preset_full(c);
    snprintf(c->name, sizeof c->name, "rtl-engine");
    c->qk_multipliers = 8; /* M: one fetch beat of M fields per cycle into spk_qk */
    c->pv_multipliers = 8; /* M: spk_pv accumulates one beat of M codes per cycle */
    c->topk_parallelism = 8;
    c->topk_engines = 1;
    c->dram_channels = 1;         /* one AXI4 read port, 256-bit data */
    c->dram_bytes_per_cycle = 32; /* one R beat per cycle */
    c->dram_latency = 8;          /* the harness memory's AR-to-R latency */
    c->step_overlap = 0;          /* spk_engine's state machine: one step at a time */
    c->qk_latency = 9;        /* fetcher output reg + HIBUF alignment reg + spk_qk 3 + spk_logit 3 +
                                 the softmax's LOAD 1 */
    c->softmax_per_cycle = 1; /* spk_softmax: one key per cycle */
    c->softmax_passes = 2;    /* EXP and PROB re-read the logits after LOAD */
    c->softmax_latency = 56;  /* EXP drain 3 + DIV 48 + PROB drain 4 + DONE 1 */
    c->requant_latency = 0;   /* the decision is the softmax's confidence register */
    c->fetch_slots = 4;       /* spk_kv_fetch SLOTS */
    c->fetch_row_overhead = 1;   /* the AR side takes an index, then issues its requests */
    c->query_load_cycles = 8;    /* QLOAD: DMAX / M beats of the query into spk_qk */
    c->importance_per_cycle = 1; /* one token accumulator add a cycle (imp_walk) */
    c->unaligned_regions = 1;    /* the harness places each region at a random offset */
    c->fetch_done_latency = 5;   /* fetcher DONE state, done pulse, the engine's 2-cycle drain */
    c->value_scale_per_row = 1;  /* VSCAN: one read per kept row's scale word */
    c->kept_scan = 1;            /* VSCAN: P flags a cycle, one kept row listed a cycle */
    c->topk_emit_pass = 1;       /* spk_topk's second pass emits the kept flags */
    c->topk_latency = 10; /* TOPK_WAIT 4 + TOPK_START 1 + spk_topk start, emit pipeline, done 5 */
    c->pv_latency = 4;    /* spk_pv ACC_DRAIN 3 (the last beat passes stages 1 to 3) + OUT_LAST 1
                             (an output is read from its bank a cycle before it leaves) */
    c->output_per_cycle = 1; /* spk_pv OUT: one output a cycle */
    c->output_latency = 0;
    c->step_latency = 1;     /* one state of spk_engine between two steps */
    c->head_add_latency = 3; /* DONE: the head-importance add, then 2 cycles until it is written */
}

int spk_config_preset(const char *name, spk_config *cfg) {
    if (!name || !cfg) return -1;
    if (strcmp(name, "full") == 0) {
        preset_full(cfg);
        return 0;
    }
    if (strcmp(name, "rtl-engine") == 0) {
        preset_rtl_engine(cfg);
        return 0;
    }
    if (strcmp(name, "eighth") == 0) {
        preset_full(cfg);
        snprintf(cfg->name, sizeof cfg->name, "eighth");
        cfg->qk_multipliers = 64;
        cfg->pv_multipliers = 64;
        cfg->dram_channels = 2;
        return 0;
    }
    return -1;
}

static const key_desc *find_key(const char *name) {
    for (size_t i = 0; i < N_KEYS; i++) {
        if (strcmp(keys[i].name, name) == 0) return &keys[i];
    }
    return NULL;
}

int spk_config_set(spk_config *cfg, const char *key, const char *value, char *err, size_t err_len) {
    if (!cfg || !key || !value) return -1;
    if (strcmp(key, "name") == 0) {
        snprintf(cfg->name, sizeof cfg->name, "%s", value);
        return 0;
    }
    const key_desc *k = find_key(key);
    if (!k) {
        set_err(err, err_len, "unknown key '%s'%s", key, "");
        return -1;
    }
    char *end = NULL;
    errno = 0;
    char *field = (char *)cfg + k->offset;
    if (k->type == KEY_F64) {
        double v = strtod(value, &end);
        if (end == value || *end || errno || !isfinite(v) || v <= 0) {
            set_err(err, err_len, "key '%s': '%s' is not a positive number", key, value);
            return -1;
        }
        memcpy(field, &v, sizeof v);
        return 0;
    }
    if (value[0] == '-') {
        set_err(err, err_len, "key '%s': '%s' is negative", key, value);
        return -1;
    }
    /* Decimal digits only: base 0 read "010" as 8 and took " 5", "+5" and "0x10". */
    unsigned long long v = value[0] >= '0' && value[0] <= '9' ? strtoull(value, &end, 10) : 0;
    if (end == NULL || *end || errno || (k->type == KEY_U32 && v > UINT32_MAX)) {
        set_err(err, err_len, "key '%s': '%s' is not a decimal unsigned integer in range", key,
                value);
        return -1;
    }
    if (k->type == KEY_U32) {
        uint32_t u = (uint32_t)v;
        memcpy(field, &u, sizeof u);
    } else {
        uint64_t u = v;
        memcpy(field, &u, sizeof u);
    }
    return 0;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

static int load_file(const char *path, spk_config *cfg, char *err, size_t err_len) {
    FILE *f = spk_file_open_read(path, "r", err, err_len);
    if (!f) return -1;
    preset_full(cfg);
    const char *base = strrchr(path, '/');
    snprintf(cfg->name, sizeof cfg->name, "%s", base ? base + 1 : path);
    char line[512], msg[256];
    int line_no = 0, rc = 0, settings = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        line_no++;
        /* A line that fills the buffer would be read on as a second line (the tail of a long
         * comment taken as a setting): refuse it. */
        if (strlen(line) == sizeof line - 1 && line[sizeof line - 2] != '\n' && fgetc(f) != EOF) {
            snprintf(msg, sizeof msg, "line %d is longer than %d characters", line_no,
                     (int)sizeof line - 2);
            rc = -1;
            break;
        }
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char *s = trim(line);
        if (!*s) continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(msg, sizeof msg, "line %d: expected 'key = value'", line_no);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        if (strcmp(key, "base") == 0) {
            char keep[64];
            memcpy(keep, cfg->name, sizeof keep);
            if (settings || spk_config_preset(value, cfg) != 0) {
                snprintf(msg, sizeof msg,
                         "line %d: 'base' must come first and be full, eighth or rtl-engine",
                         line_no);
                rc = -1;
            }
            memcpy(cfg->name, keep, sizeof keep);
            continue;
        }
        char kerr[200];
        if (spk_config_set(cfg, key, value, kerr, sizeof kerr) != 0) {
            snprintf(msg, sizeof msg, "line %d: %s", line_no, kerr);
            rc = -1;
        }
        settings++;
    }
    if (rc == 0 && ferror(f)) {
        snprintf(msg, sizeof msg, "read error after line %d", line_no);
        rc = -1;
    }
    fclose(f);
    if (rc) set_err(err, err_len, "%s: %s", path, msg);
    return rc;
}

int spk_config_load(const char *name_or_path, spk_config *cfg, char *err, size_t err_len) {
    if (!name_or_path || !cfg) {
        set_err(err, err_len, "no configuration given%s%s", "", "");
        return -1;
    }
    if (spk_config_preset(name_or_path, cfg) == 0) return 0;
    if (load_file(name_or_path, cfg, err, err_len) != 0) return -1;
    return spk_config_check(cfg, err, err_len);
}

int spk_config_check(const spk_config *c, char *err, size_t err_len) {
    const char *bad = NULL;
    if (c->qk_multipliers == 0)
        bad = "qk_multipliers must be >= 1";
    else if (c->pv_multipliers == 0)
        bad = "pv_multipliers must be >= 1";
    else if (c->topk_parallelism == 0)
        bad = "topk_parallelism must be >= 1";
    else if (c->topk_engines == 0)
        bad = "topk_engines must be >= 1";
    else if (c->dram_channels == 0 || c->dram_channels > 64)
        bad = "dram_channels must be 1..64";
    else if (!(c->dram_bytes_per_cycle > 0))
        bad = "dram_bytes_per_cycle must be > 0";
    else if (c->dram_row_buffer > 1)
        bad = "dram_row_buffer must be 0 or 1";
    else if (c->dram_row_bytes < 32 || c->dram_row_bytes % 32)
        bad = "dram_row_bytes must be a positive multiple of 32";
    else if (c->key_buffer_bytes < 32)
        bad = "key_buffer_bytes must be >= 32";
    else if (c->value_buffer_bytes < 32)
        bad = "value_buffer_bytes must be >= 32";
    else if (c->softmax_per_cycle == 0)
        bad = "softmax_per_cycle must be >= 1";
    else if (!(c->clock_hz > 0))
        bad = "clock_hz must be > 0";
    else if (c->step_overlap > 1)
        bad = "step_overlap must be 0 or 1";
    else if (c->softmax_passes == 0 || c->softmax_passes > 8)
        bad = "softmax_passes must be 1..8";
    else if (c->fetch_slots > SPK_CONFIG_MAX_FETCH_SLOTS)
        bad = "fetch_slots must be 0..64";
    else if (c->value_scale_per_row > 1 || c->kept_scan > 1 || c->topk_emit_pass > 1 ||
             c->unaligned_regions > 1 || c->row_beats > 1 || c->value_scales_with_keys > 1)
        bad = "value_scale_per_row, kept_scan, topk_emit_pass, unaligned_regions, row_beats and "
              "value_scales_with_keys must be 0 or 1";
    else if (c->step_overlap && (c->fetch_slots || c->fetch_row_overhead || c->fetch_done_latency ||
                                 c->unaligned_regions || c->value_scale_per_row || c->kept_scan ||
                                 c->step_latency || c->head_add_latency))
        bad = "fetch_slots, fetch_row_overhead, fetch_done_latency, unaligned_regions, "
              "value_scale_per_row, kept_scan, step_latency and head_add_latency are knobs of "
              "the serial engine: set step_overlap = 0 or leave them at 0";
    else if (c->fetch_ring > SPK_CONFIG_MAX_FETCH_RING)
        bad = "fetch_ring must be 0..64";
    else if (!c->step_overlap &&
             (c->row_beats || c->softmax_exp_per_cycle || c->value_scales_with_keys ||
              c->fetch_ring || c->value_fetch_delay || c->requests_in_flight || c->tail_overlap))
        bad = "row_beats, softmax_exp_per_cycle, value_scales_with_keys, fetch_ring, "
              "value_fetch_delay, requests_in_flight and tail_overlap are knobs of the overlapped "
              "pipeline: set step_overlap = 1 or leave them at 0";
    else if (c->tail_overlap && !c->requests_in_flight)
        bad = "tail_overlap frees a request's place among requests_in_flight before its done: "
              "set requests_in_flight too, or leave tail_overlap at 0";
    if (!bad) return 0;
    set_err(err, err_len, "configuration '%s': %s", c->name, bad);
    return -1;
}

size_t spk_config_key_count(void) {
    return N_KEYS;
}

const char *spk_config_key_name(size_t i) {
    return i < N_KEYS ? keys[i].name : NULL;
}

double spk_config_key_value(const spk_config *cfg, size_t i) {
    if (i >= N_KEYS) return 0;
    const char *field = (const char *)cfg + keys[i].offset;
    if (keys[i].type == KEY_F64) {
        double v;
        memcpy(&v, field, sizeof v);
        return v;
    }
    if (keys[i].type == KEY_U64) {
        uint64_t v;
        memcpy(&v, field, sizeof v);
        return (double)v;
    }
    uint32_t v;
    memcpy(&v, field, sizeof v);
    return v;
}

void spk_config_write(const spk_config *cfg, FILE *out) {
    fprintf(out, "name = %s\n", cfg->name);
    for (size_t i = 0; i < N_KEYS; i++) {
        fprintf(out, "%s = %.17g\n", keys[i].name, spk_config_key_value(cfg, i));
    }
}
