/* spk-sim: replay a SpAtten workload trace on the cycle simulator and report JSON. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spksim/config.h"
#include "spksim/cycle_data.h"
#include "spksim/cycle.h"
#include "spksim/energy.h"
#include "spksim/json.h"
#include "spksim/parse.h"
#include "spksim/trace.h"

static const char usage[] =
    "usage: spk-sim --config full|eighth|rtl-engine|FILE [--config ...] --trace FILE.csv "
    "[--json OUT.json] [options]\n"
    "\n"
    "Replays a SpAtten workload trace (BRIEF section 3 format) on the cycle-level simulator.\n"
    "The trace is streamed (bounded memory whatever its length).\n"
    "\n"
    "  --config NAME|FILE  preset 'full' or 'eighth' (BRIEF section 2), 'rtl-engine' (the RTL\n"
    "                      engine, docs/simulator.md), or a key = value file\n"
    "                      (docs/simulator.md, 'Configuration files'); default: full.\n"
    "                      Repeat it to simulate several configurations in one pass over the\n"
    "                      trace (at most 64)\n"
    "  --trace FILE.csv    workload trace (required; '-' reads standard input)\n"
    "  --json OUT.json     write the results as JSON ('-' for stdout): one object, or with\n"
    "                      several --config an array of one object per configuration;\n"
    "                      default: a summary on stdout only\n"
    "  --compat            follow the reference replay rules exactly (BRIEF section 3); the\n"
    "                      default mode also fetches the LSB plane of unquantized values\n"
    "  --dense             pruning and quantization off: K = V = L, 8-bit MSB + 4-bit LSB\n"
    "                      fetched together, no top-k\n"
    "  --csv ROWS.csv      per-iteration, per-layer rows (requests, cycles, transactions);\n"
    "                      with several --config, ROWS.K.csv for the K-th (from 0)\n"
    "  --max-rows N        stop after N trace rows (the rows read are simulated to the end)\n"
    "  --max-cycles N      stop reading once a configuration has simulated N cycles\n"
    "  --energy FILE       energy constants (default: sim/configs/energy.cfg next to the kit)\n"
    "  --set KEY=VALUE     override one configuration key (repeatable)\n"
    "  --print-config      print the configuration in the file format and exit\n"
    "  --quiet             no summary and no progress line (progress: after 1.5 s, every 1 s;\n"
    "                      $SPK_PROGRESS_MS=N: every N ms)\n"
    "  --help              this text\n"
    "\n"
    "JSON keys: cycles, seconds, requests, descriptors, requant_requests, dram_bytes,\n"
    "dram_transactions {key_msb, key_lsb, value}, energy_pj {dram, sram, compute, total},\n"
    "bound, lower_bounds {dram, qk}, busy_cycles {...}, gops, config {...}, area_power {...},\n"
    "mode, trace, sim_wall_seconds, sim_cycles_per_second (docs/simulator.md, 'JSON').\n"
    "Exit status: 0 ok, 1 bad input (the message names the file, line and column), 2 usage.\n";

#define MAX_CONFIGS 64

typedef struct {
    const char *configs[MAX_CONFIGS];
    int n_configs;
    const char *trace, *json, *csv, *energy;
    int compat, dense, print_config, quiet;
    const char *sets[64];
    int n_sets;
    uint64_t max_rows, max_cycles; /* 0: no bound */
} options;

static int parse_args(int argc, char **argv, options *o) {
    memset(o, 0, sizeof *o);
    const char *max_rows = NULL, *max_cycles = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        } else if (strcmp(a, "--compat") == 0)
            o->compat = 1;
        else if (strcmp(a, "--dense") == 0)
            o->dense = 1;
        else if (strcmp(a, "--print-config") == 0)
            o->print_config = 1;
        else if (strcmp(a, "--quiet") == 0)
            o->quiet = 1;
        else if (strcmp(a, "--config") == 0) {
            if (o->n_configs == MAX_CONFIGS) {
                fprintf(stderr, "spk-sim: more than %d --config options\n", MAX_CONFIGS);
                return -1;
            }
            dst = &o->configs[o->n_configs++];
        } else if (strcmp(a, "--max-rows") == 0)
            dst = &max_rows;
        else if (strcmp(a, "--max-cycles") == 0)
            dst = &max_cycles;
        else if (strcmp(a, "--trace") == 0)
            dst = &o->trace;
        else if (strcmp(a, "--json") == 0)
            dst = &o->json;
        else if (strcmp(a, "--csv") == 0)
            dst = &o->csv;
        else if (strcmp(a, "--energy") == 0)
            dst = &o->energy;
        else if (strcmp(a, "--set") == 0) {
            if (o->n_sets == 64) {
                fprintf(stderr, "spk-sim: too many --set options\n");
                return -1;
            }
            dst = &o->sets[o->n_sets++];
        } else {
            fprintf(stderr, "spk-sim: unknown option '%s' (see --help)\n", a);
            return -1;
        }
        if (dst) {
            if (i + 1 >= argc) {
                fprintf(stderr, "spk-sim: %s needs a value\n", a);
                return -1;
            }
            *dst = argv[++i];
        }
    }
    if (o->n_configs == 0) o->configs[o->n_configs++] = "full";
    char err[256];
    if ((max_rows &&
         spk_parse_u64("--max-rows", max_rows, 1, UINT64_MAX, 0, &o->max_rows, err, sizeof err)) ||
        (max_cycles && spk_parse_u64("--max-cycles", max_cycles, 1, UINT64_MAX, 0, &o->max_cycles,
                                     err, sizeof err))) {
        fprintf(stderr, "spk-sim: %s\n", err);
        return -1;
    }
    if (!o->trace && !o->print_config) {
        fprintf(stderr, "spk-sim: --trace FILE.csv is required (see --help)\n");
        return -1;
    }
    return 0;
}

/* Every failure says why: the library's message, else what its status means. */
static void print_error(const char *err, const char *fallback) {
    fprintf(stderr, "spk-sim: %s\n", err && *err ? err : fallback);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The energy constants ship in sim/configs next to the build directory. */
static void default_energy_path(char *out, size_t len) {
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        for (int up = 0; up < 3; up++) {
            char *slash = strrchr(exe, '/');
            if (!slash) break;
            *slash = '\0';
        }
        snprintf(out, len, "%s/sim/configs/energy.cfg", exe);
        if (access(out, R_OK) == 0) return;
    }
    snprintf(out, len, "sim/configs/energy.cfg");
}

/* What a device trace adds to the record: its commands and the DRAM bytes the device counts
 * (docs/spec/datapath.md, "Traffic"; the engine's dram_bytes are whole transactions). */
typedef struct {
    int device;
    uint64_t commands, bytes, last_command;
} device_totals;

typedef struct {
    const options *o;
    const spk_config *cfg;
    const spk_cycle_stats *s;
    const spk_energy_constants *ec;
    const char *energy_path;
    spk_energy_report energy;
    double wall, dram_bound, qk_bound;
    const char *stopped;      /* NULL, "max-rows" or "max-cycles" */
    uint64_t rows;            /* trace rows read */
    const device_totals *dev; /* a device trace's totals */
} report;

static void write_area_power(spk_json *j, const report *r) {
    const spk_energy_constants *c = r->ec;
    uint32_t mults = r->cfg->qk_multipliers + r->cfg->pv_multipliers;
    double area, power;
    const char *basis;
    if (mults == 1024) {
        area = c->area_full_mm2;
        power = c->power_full_w;
        basis = "paper figure for full SpAtten (1024 multipliers)";
    } else if (mults == 128) {
        area = c->area_eighth_mm2;
        power = c->power_full_w * c->area_eighth_mm2 / c->area_full_mm2;
        basis = "paper area for SpAtten 1/8; power ASSUMED proportional to area";
    } else {
        double f = ((double)mults - 128.0) / (1024.0 - 128.0);
        area = c->area_eighth_mm2 + f * (c->area_full_mm2 - c->area_eighth_mm2);
        power = c->power_full_w * area / c->area_full_mm2;
        basis = "ASSUMPTION: area interpolated linearly in multipliers between the paper's "
                "1/8 and full figures; power proportional to area";
    }
    spk_json_object_begin(j, "area_power");
    spk_json_double(j, "area_mm2", area);
    spk_json_double(j, "power_w", power);
    spk_json_double(j, "topk_area_mm2", area * c->topk_area_fraction);
    spk_json_double(j, "topk_power_w", power * c->topk_power_fraction);
    spk_json_double(j, "paper_full_power_logic_w", c->power_logic_w);
    spk_json_double(j, "paper_full_power_sram_w", c->power_sram_w);
    spk_json_double(j, "paper_full_power_dram_w", c->power_dram_w);
    spk_json_string(j, "basis", basis);
    spk_json_string(j, "sources",
                    "SpAtten paper (HPCA 2021, arXiv 2012.09852 v3) via BRIEF section 4; "
                    "see the energy constants file");
    spk_json_object_end(j);
}

static void write_record(spk_json *j, const report *r) {
    const spk_cycle_stats *s = r->s;
    const spk_config *cfg = r->cfg;
    double seconds = (double)s->cycles / cfg->clock_hz;
    spk_json_object_begin(j, NULL);
    spk_json_string(j, "trace", r->o->trace);
    spk_json_string(j, "mode",
                    r->o->dense ? (r->o->compat ? "dense+compat" : "dense")
                                : (r->o->compat ? "compat" : "default"));
    spk_json_u64(j, "cycles", s->cycles);
    spk_json_double(j, "seconds", seconds);
    spk_json_u64(j, "requests", s->requests);
    spk_json_u64(j, "descriptors", s->descriptors);
    spk_json_u64(j, "requant_requests", s->requant_requests);
    spk_json_u64(j, "dram_bytes", s->dram_bytes);
    spk_json_object_begin(j, "dram_transactions");
    spk_json_u64(j, "key_msb", s->key_msb_transactions);
    spk_json_u64(j, "key_lsb", s->key_lsb_transactions);
    spk_json_u64(j, "value", s->value_transactions);
    spk_json_u64(j, "total",
                 s->key_msb_transactions + s->key_lsb_transactions + s->value_transactions);
    spk_json_object_end(j);
    spk_json_object_begin(j, "energy_pj");
    spk_json_double(j, "dram", r->energy.dram_pj);
    spk_json_double(j, "sram", r->energy.sram_pj);
    spk_json_double(j, "compute", r->energy.compute_pj);
    spk_json_double(j, "total", r->energy.total_pj);
    spk_json_object_end(j);
    /* Average power over the run, to hold against the paper's 8.30 W (full SpAtten). */
    spk_json_object_begin(j, "power_w");
    spk_json_double(j, "dram", seconds > 0 ? r->energy.dram_pj * 1e-12 / seconds : 0);
    spk_json_double(j, "sram", seconds > 0 ? r->energy.sram_pj * 1e-12 / seconds : 0);
    spk_json_double(j, "compute", seconds > 0 ? r->energy.compute_pj * 1e-12 / seconds : 0);
    spk_json_double(j, "total", seconds > 0 ? r->energy.total_pj * 1e-12 / seconds : 0);
    spk_json_object_end(j);
    spk_json_string(j, "energy_constants", r->energy_path);
    spk_json_string(j, "bound", spk_cycle_bound(s));
    spk_json_object_begin(j, "lower_bounds");
    spk_json_double(j, "dram", r->dram_bound);
    spk_json_double(j, "qk", r->qk_bound);
    spk_json_object_end(j);
    spk_json_object_begin(j, "busy_cycles");
    spk_json_double(j, "dram", s->busy_dram);
    spk_json_double(j, "qk", s->busy_qk);
    spk_json_double(j, "softmax", s->busy_softmax);
    spk_json_double(j, "topk", s->busy_topk);
    spk_json_double(j, "pv", s->busy_pv);
    spk_json_double(j, "kbuf_stall", s->stall_kbuf);
    spk_json_double(j, "vbuf_stall", s->stall_vbuf);
    spk_json_object_end(j);
    spk_json_u64(j, "row_misses", s->row_misses);
    spk_json_u64(j, "ops", s->ops);
    spk_json_double(j, "gops", seconds > 0 ? (double)s->ops / seconds / 1e9 : 0);
    spk_json_object_begin(j, "config");
    spk_json_string(j, "name", cfg->name);
    for (size_t i = 0; i < spk_config_key_count(); i++) {
        spk_json_double(j, spk_config_key_name(i), spk_config_key_value(cfg, i));
    }
    spk_json_object_end(j);
    write_area_power(j, r);
    spk_json_double(j, "sim_wall_seconds", r->wall);
    spk_json_double(j, "sim_cycles_per_second", r->wall > 0 ? (double)s->cycles / r->wall : 0);
    if (r->dev && r->dev->device) {
        /* Only a device trace's record carries these keys (docs/simulator.md, "Device traces"). */
        spk_json_u64(j, "device_commands", r->dev->commands);
        spk_json_u64(j, "device_dram_bytes", r->dev->bytes);
    }
    if (r->stopped) {
        /* Only a bounded run carries these keys: a whole trace's record is unchanged. */
        spk_json_string(j, "stopped_by", r->stopped);
        spk_json_u64(j, "trace_rows_read", r->rows);
    }
    spk_json_object_end(j);
}

/* One object, or an array of one object per configuration. */
static int write_json(FILE *f, const report *rs, int n) {
    spk_json j;
    spk_json_init(&j, f);
    if (n > 1) spk_json_array_begin(&j, NULL);
    for (int i = 0; i < n; i++) write_record(&j, &rs[i]);
    if (n > 1) spk_json_array_end(&j);
    return spk_json_finish(&j);
}

static int load_config(const options *o, const char *name, spk_config *cfg) {
    char err[512] = "";
    if (spk_config_load(name, cfg, err, sizeof err) != 0) {
        print_error(err, "--config: cannot load the configuration");
        return -1;
    }
    for (int i = 0; i < o->n_sets; i++) {
        char key[128];
        const char *eq = strchr(o->sets[i], '=');
        if (!eq || eq == o->sets[i] || (size_t)(eq - o->sets[i]) >= sizeof key) {
            fprintf(stderr, "spk-sim: --set '%s': expected KEY=VALUE\n", o->sets[i]);
            return -1;
        }
        memcpy(key, o->sets[i], (size_t)(eq - o->sets[i]));
        key[eq - o->sets[i]] = '\0';
        err[0] = '\0';
        if (spk_config_set(cfg, key, eq + 1, err, sizeof err) != 0) {
            fprintf(stderr, "spk-sim: --set: %s\n", *err ? err : o->sets[i]);
            return -1;
        }
    }
    err[0] = '\0';
    if (spk_config_check(cfg, err, sizeof err) != 0) {
        print_error(err, "the configuration is inconsistent");
        return -1;
    }
    return 0;
}

/* Per-(iteration, layer) rows of --csv, written as descriptors retire (in issue order): the
 * descriptors of a layer are consecutive in the traces. */
typedef struct {
    FILE *f;
    const char *path;
    int open; /* a group is being summed */
    uint32_t iteration, layer;
    uint64_t rows, msb, lsb, val;
    double first, last;
} rows_writer;

static void rows_emit(rows_writer *w) {
    if (!w->open) return;
    fprintf(w->f, "%u,%u,%llu,%.0f,%.0f,%llu,%llu,%llu\n", w->iteration, w->layer,
            (unsigned long long)w->rows, w->first, ceil(w->last), (unsigned long long)w->msb,
            (unsigned long long)w->lsb, (unsigned long long)w->val);
    w->open = 0;
}

static void on_retire(void *ctx, uint64_t index, const spk_cycle_request *q,
                      const spk_cycle_timing *t) {
    (void)index;
    rows_writer *w = ctx;
    if (w->open && (q->iteration != w->iteration || q->layer != w->layer)) rows_emit(w);
    if (!w->open) {
        w->open = 1;
        w->iteration = q->iteration;
        w->layer = q->layer;
        w->rows = w->msb = w->lsb = w->val = 0;
        w->first = t->admitted;
        w->last = 0;
    }
    w->rows += q->heads;
    w->msb += q->key_msb_transactions;
    w->lsb += q->key_lsb_transactions;
    w->val += q->value_transactions;
    if (t->admitted < w->first) w->first = t->admitted;
    if (t->done > w->last) w->last = t->done;
}

/* One configuration simulated beside the others: its own replay state (the top-k model
 * depends on the configuration) and engine, fed the same rows. */
typedef struct {
    spk_config cfg;
    spk_trace_replay rp;
    spk_cycle_engine *eng;
    rows_writer rows;
    char csv_path[4200];
    spk_cycle_stats stats; /* a device trace's: the sum over its commands */
    int started;           /* a row has been fed */
    uint64_t command;      /* device traces: the command of the rows being fed */
} sim_run;

/* The rows fed so far are complete: the last descriptor in, the engine run to the end and its
 * statistics added to the run's (a device trace times each command on an idle engine, as the
 * device does; other traces come here once, at their end). */
static spk_cycle_status finish_engine(sim_run *s) {
    spk_cycle_request q;
    spk_cycle_stats part;
    spk_cycle_status st = SPK_CYCLE_OK;
    if (spk_trace_replay_flush(&s->rp, &q)) st = spk_cycle_engine_push(s->eng, &q);
    if (st == SPK_CYCLE_OK) st = spk_cycle_engine_finish(s->eng, &part);
    if (st == SPK_CYCLE_OK) spk_cycle_stats_add(&s->stats, &part);
    return st;
}

/* A device trace's next command: finish the previous one and start an idle engine. */
static spk_cycle_status next_command(sim_run *s, int with_csv) {
    spk_cycle_status st = finish_engine(s);
    if (st != SPK_CYCLE_OK) return st;
    spk_cycle_engine_free(s->eng);
    s->eng = NULL;
    return spk_cycle_engine_new(&s->cfg, with_csv ? on_retire : NULL, &s->rows, &s->eng);
}

/* Simulated time of a run so far (a device trace's earlier commands included). */
static double run_time(const sim_run *s) {
    return (double)s->stats.cycles + spk_cycle_engine_time(s->eng);
}

static int open_rows(const options *o, sim_run *s, int k, int n) {
    if (!o->csv) return 0;
    const char *dot = strrchr(o->csv, '.');
    if (n == 1)
        snprintf(s->csv_path, sizeof s->csv_path, "%s", o->csv);
    else if (dot && strcmp(dot, ".csv") == 0)
        snprintf(s->csv_path, sizeof s->csv_path, "%.*s.%d.csv", (int)(dot - o->csv), o->csv, k);
    else
        snprintf(s->csv_path, sizeof s->csv_path, "%s.%d", o->csv, k);
    s->rows.path = s->csv_path;
    s->rows.f = fopen(s->csv_path, "w");
    if (!s->rows.f) {
        fprintf(stderr, "spk-sim: %s: cannot write (%s)\n", s->csv_path, strerror(errno));
        return -1;
    }
    fprintf(s->rows.f, "iteration,layer,requests,first_admit_cycle,last_done_cycle,"
                       "key_msb_transactions,key_lsb_transactions,value_transactions\n");
    return 0;
}

/* Close the --csv file; on failure (ok = 0) the partial file is removed. */
static int close_rows(sim_run *s, int ok) {
    if (!s->rows.f) return 0;
    if (ok) rows_emit(&s->rows);
    int rc = ferror(s->rows.f) ? -1 : 0;
    if (fclose(s->rows.f) != 0) rc = -1;
    s->rows.f = NULL;
    if (!ok) {
        remove(s->csv_path);
        return 0;
    }
    if (rc) fprintf(stderr, "spk-sim: %s: write error\n", s->csv_path);
    return rc;
}

typedef struct {
    double start, last_print;
    int quiet, printed;
} progress_state;

/* The progress interval: $SPK_PROGRESS_MS milliseconds (the tools share the variable; 0 prints
 * at every check, every 1024 rows, which is what the tests use), else the first line after 1.5 s
 * and then every second. */
static void progress_interval(double *first, double *every) {
    static double f = -1, e = -1;
    if (f < 0) {
        const char *env = getenv("SPK_PROGRESS_MS");
        char *end = NULL;
        long v = env && *env ? strtol(env, &end, 10) : -1;
        if (env && *env && !*end && v >= 0)
            f = e = (double)v / 1000.0;
        else
            f = 1.5, e = 1.0;
    }
    *first = f;
    *every = e;
}

/* A progress line once the run has taken 1.5 s, then every second: rows, descriptors and
 * simulated cycles (of the first configuration), and for a regular file the share read and an
 * ETA. */
static void progress(progress_state *p, const spk_trace_reader *rd, uint64_t rows,
                     const sim_run *first, int n_runs) {
    double t = now(), elapsed = t - p->start, after, every;
    progress_interval(&after, &every);
    if (p->quiet || elapsed < after || t - p->last_print < every) return;
    p->last_print = t;
    p->printed = 1;
    uint64_t bytes, total;
    spk_trace_reader_position(rd, &bytes, &total);
    fprintf(stderr,
            "spk-sim: %llu rows, %zu descriptors in flight, %.0f cycles simulated%s, %.1f s",
            (unsigned long long)rows, spk_cycle_engine_window(first->eng), run_time(first),
            n_runs > 1 ? " (first configuration)" : "", elapsed);
    if (total && bytes)
        fprintf(stderr, ", %.0f%% of the file, ETA %.1f s", 100.0 * (double)bytes / (double)total,
                elapsed * (double)(total - bytes) / (double)bytes);
    fputc('\n', stderr);
}

static void describe_failure(const char *trace, spk_cycle_status st, size_t window) {
    if (st == SPK_CYCLE_E_NOMEM)
        fprintf(stderr, "spk-sim: %s: out of memory (%zu descriptors in flight)\n", trace, window);
    else
        fprintf(stderr, "spk-sim: %s: simulation failed: %s\n", trace, spk_cycle_status_str(st));
}

static int device_row(const options *o, const spk_trace_row *row, device_totals *dev, int started) {
    if (o->compat || o->dense) {
        fprintf(stderr,
                "spk-sim: %s: a device trace (spk-llm --trace-out) is replayed by the device's "
                "rules; --compat and --dense do not apply to it\n",
                o->trace);
        return -1;
    }
    spk_cycle_request q;
    uint64_t bytes = 0;
    if (spk_trace_device_request(row, &q, &bytes) != SPK_CYCLE_OK) {
        fprintf(stderr, "spk-sim: %s: line %u: not a row the device writes\n", o->trace, row->line);
        return -1;
    }
    dev->device = 1;
    dev->bytes += bytes;
    if (!started || row->command != dev->last_command) dev->commands++;
    dev->last_command = row->command;
    return 0;
}

/* Read the trace once and feed every configuration. Returns 0, or 1 after a message. */
static int simulate(const options *o, sim_run *runs, int n, uint64_t *rows_out,
                    const char **stopped, double t0, device_totals *dev) {
    char err[512] = "";
    spk_trace_reader *rd;
    spk_cycle_status st = spk_trace_reader_open(o->trace, &rd, err, sizeof err);
    if (st != SPK_CYCLE_OK) {
        fprintf(stderr, "spk-sim: %s\n", *err ? err : spk_cycle_status_str(st));
        return 1;
    }
    progress_state ps = {t0, t0, o->quiet, 0};
    uint64_t rows = 0;
    int rc = 0;
    *stopped = NULL;
    spk_trace_row row;
    spk_cycle_request q;
    for (;;) {
        int got;
        st = spk_trace_reader_next(rd, &row, &got, err, sizeof err);
        if (st != SPK_CYCLE_OK) {
            fprintf(stderr, "spk-sim: %s\n", *err ? err : spk_cycle_status_str(st));
            rc = 1;
            break;
        }
        if (!got) break;
        rows++;
        if (row.device && device_row(o, &row, dev, runs[0].started) != 0) {
            rc = 1;
            break;
        }
        int over = 0;
        for (int k = 0; k < n && rc == 0; k++) {
            sim_run *s = &runs[k];
            st = SPK_CYCLE_OK;
            if (row.device && s->started && row.command != s->command)
                st = next_command(s, o->csv != NULL);
            s->started = 1;
            s->command = row.command;
            if (st == SPK_CYCLE_OK && spk_trace_replay_row(&s->rp, &row, &q))
                st = spk_cycle_engine_push(s->eng, &q);
            if (st != SPK_CYCLE_OK) {
                describe_failure(o->trace, st, s->eng ? spk_cycle_engine_window(s->eng) : 0);
                rc = 1;
            }
            if (rc == 0 && o->max_cycles && run_time(s) >= (double)o->max_cycles) over = 1;
        }
        if (rc) break;
        if ((rows & 1023) == 0) progress(&ps, rd, rows, &runs[0], n);
        if (o->max_rows && rows >= o->max_rows) {
            *stopped = "max-rows";
            break;
        }
        if (over) {
            *stopped = "max-cycles";
            break;
        }
    }
    spk_trace_reader_close(rd);
    for (int k = 0; k < n && rc == 0; k++) {
        if ((st = finish_engine(&runs[k])) != SPK_CYCLE_OK) {
            describe_failure(o->trace, st, spk_cycle_engine_window(runs[k].eng));
            rc = 1;
        }
    }
    if (ps.printed)
        fprintf(stderr, "spk-sim: %llu rows done, %.1f s\n", (unsigned long long)rows, now() - t0);
    if (*stopped && !o->quiet)
        fprintf(stderr,
                "spk-sim: %s: stopped by --%s after %llu trace rows (%.0f cycles simulated); "
                "the results cover those rows\n",
                o->trace, *stopped, (unsigned long long)rows, run_time(&runs[0]));
    *rows_out = rows;
    return rc;
}

static int write_reports(const options *o, const sim_run *runs, int n,
                         const spk_energy_constants *ec, const char *energy_path, double wall,
                         uint64_t rows, const char *stopped, const device_totals *dev) {
    report rs[MAX_CONFIGS];
    int rc = 0;
    for (int k = 0; k < n; k++) {
        const spk_config *cfg = &runs[k].cfg;
        const spk_cycle_stats *st = &runs[k].stats;
        report r = {o, cfg, st, ec, energy_path, {0, 0, 0, 0}, wall, 0, 0, stopped, rows, dev};
        spk_energy_compute(ec, st, &r.energy);
        uint64_t trans = st->dram_bytes / SPK_CYCLE_TRANSACTION_BYTES;
        r.dram_bound = ceil((double)trans * SPK_CYCLE_TRANSACTION_BYTES /
                            (cfg->dram_channels * cfg->dram_bytes_per_cycle));
        r.qk_bound = ceil((double)st->events.qk_macs / cfg->qk_multipliers);
        rs[k] = r;
    }
    int to_stdout = o->json && strcmp(o->json, "-") == 0;
    if (o->json) {
        FILE *f = to_stdout ? stdout : fopen(o->json, "w");
        if (!f) {
            fprintf(stderr, "spk-sim: %s: cannot write (%s)\n", o->json, strerror(errno));
            return 1;
        }
        if (write_json(f, rs, n) != 0) rc = 1;
        if (f != stdout && fclose(f) != 0) rc = 1;
        if (rc) {
            fprintf(stderr, "spk-sim: %s: write error\n", o->json);
            return 1;
        }
    }
    if (o->quiet || to_stdout) return 0;
    for (int k = 0; k < n; k++) {
        const spk_cycle_stats *st = rs[k].s;
        printf("%s on %s: %llu cycles (%s-bound; lower bounds dram %.0f, qk %.0f), "
               "%llu requests, %llu DRAM transactions, %.3g uJ, %.3f s wall\n",
               o->trace, rs[k].cfg->name, (unsigned long long)st->cycles, spk_cycle_bound(st),
               rs[k].dram_bound, rs[k].qk_bound, (unsigned long long)st->requests,
               (unsigned long long)(st->dram_bytes / SPK_CYCLE_TRANSACTION_BYTES),
               rs[k].energy.total_pj * 1e-6, wall);
        if (dev->device)
            printf("  device trace: %llu commands, each timed from an idle engine; %llu DRAM "
                   "bytes as the device counts them\n",
                   (unsigned long long)dev->commands, (unsigned long long)dev->bytes);
    }
    return 0;
}

static int run(const options *o, sim_run *runs, int n) {
    char err[512] = "", energy_path[4200];
    if (o->energy)
        snprintf(energy_path, sizeof energy_path, "%s", o->energy);
    else
        default_energy_path(energy_path, sizeof energy_path);
    spk_energy_constants ec;
    if (spk_energy_load(energy_path, &ec, err, sizeof err) != 0) {
        print_error(err, "--energy: cannot load the energy constants");
        return 1;
    }
    double t0 = now();
    int rc = 0;
    for (int k = 0; k < n && rc == 0; k++) {
        sim_run *s = &runs[k];
        spk_trace_options topt = {o->compat, o->dense, s->cfg.topk_parallelism, s->cfg.seed};
        spk_trace_replay_init(&s->rp, &topt);
        spk_cycle_status st =
            spk_cycle_engine_new(&s->cfg, o->csv ? on_retire : NULL, &s->rows, &s->eng);
        if (st != SPK_CYCLE_OK) {
            describe_failure(o->trace, st, 0);
            rc = 1;
        } else if (open_rows(o, s, k, n) != 0) {
            rc = 1;
        }
    }
    uint64_t rows = 0;
    const char *stopped = NULL;
    device_totals dev = {0, 0, 0, 0};
    if (rc == 0) rc = simulate(o, runs, n, &rows, &stopped, t0, &dev);
    double wall = now() - t0;
    for (int k = 0; k < n; k++) {
        if (close_rows(&runs[k], rc == 0) != 0) rc = 1;
        spk_cycle_engine_free(runs[k].eng);
    }
    if (rc == 0) rc = write_reports(o, runs, n, &ec, energy_path, wall, rows, stopped, &dev);
    return rc;
}

int main(int argc, char **argv) {
    options o;
    if (parse_args(argc, argv, &o) != 0) return 2;
    sim_run *runs = calloc((size_t)o.n_configs, sizeof *runs);
    if (!runs) {
        fprintf(stderr, "spk-sim: out of memory\n");
        return 1;
    }
    int rc = 0;
    for (int k = 0; k < o.n_configs && rc == 0; k++) {
        if (load_config(&o, o.configs[k], &runs[k].cfg) != 0) rc = 1;
    }
    if (rc == 0 && o.print_config) {
        for (int k = 0; k < o.n_configs; k++) {
            if (k) putchar('\n');
            spk_config_write(&runs[k].cfg, stdout);
        }
    } else if (rc == 0) {
        rc = run(&o, runs, o.n_configs);
    }
    free(runs);
    return rc;
}
