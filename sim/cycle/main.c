/* spk-sim: replay a SpAtten workload trace on the cycle simulator and report JSON. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spksim/config.h"
#include "spksim/cycle.h"
#include "spksim/energy.h"
#include "spksim/json.h"
#include "spksim/trace.h"

static const char usage[] =
    "usage: spk-sim --config full|eighth|rtl-engine|FILE --trace FILE.csv [--json OUT.json] "
    "[options]\n"
    "\n"
    "Replays a SpAtten workload trace (BRIEF section 3 format) on the cycle-level simulator.\n"
    "\n"
    "  --config NAME|FILE  preset 'full' or 'eighth' (BRIEF section 2), 'rtl-engine' (the RTL\n"
    "                      engine, docs/simulator.md), or a key = value file\n"
    "                      (docs/simulator.md, 'Configuration files'); default: full\n"
    "  --trace FILE.csv    workload trace (required)\n"
    "  --json OUT.json     write the results as JSON ('-' for stdout); default: a summary on\n"
    "                      stdout only\n"
    "  --compat            follow the reference replay rules exactly (BRIEF section 3); the\n"
    "                      default mode also fetches the LSB plane of unquantized values\n"
    "  --dense             pruning and quantization off: K = V = L, 8-bit MSB + 4-bit LSB\n"
    "                      fetched together, no top-k\n"
    "  --csv ROWS.csv      per-iteration, per-layer rows (requests, cycles, transactions)\n"
    "  --energy FILE       energy constants (default: sim/configs/energy.cfg next to the kit)\n"
    "  --set KEY=VALUE     override one configuration key (repeatable)\n"
    "  --print-config      print the configuration in the file format and exit\n"
    "  --quiet             no summary and no progress line\n"
    "  --help              this text\n"
    "\n"
    "JSON keys: cycles, seconds, requests, descriptors, requant_requests, dram_bytes,\n"
    "dram_transactions {key_msb, key_lsb, value}, energy_pj {dram, sram, compute, total},\n"
    "bound, lower_bounds {dram, qk}, busy_cycles {...}, gops, config {...}, area_power {...},\n"
    "mode, trace, sim_wall_seconds, sim_cycles_per_second (docs/simulator.md, 'JSON').\n"
    "Exit status: 0 ok, 1 bad input (the message names the file, line and column), 2 usage.\n";

typedef struct {
    const char *config, *trace, *json, *csv, *energy;
    int compat, dense, print_config, quiet;
    const char *sets[64];
    int n_sets;
} options;

static int parse_args(int argc, char **argv, options *o) {
    memset(o, 0, sizeof *o);
    o->config = "full";
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
        else if (strcmp(a, "--config") == 0)
            dst = &o->config;
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

typedef struct {
    double start, sim_start, last_print;
    int quiet, printed;
} progress_state;

static int on_progress(void *ctx, size_t done, size_t total, double sim_cycles) {
    progress_state *p = ctx;
    double t = now(), elapsed = t - p->start;
    if (p->quiet || elapsed < 2.0 || t - p->last_print < 1.0 || done == 0) return 0;
    p->last_print = t;
    p->printed = 1;
    double eta = (t - p->sim_start) * (double)(total - done) / (double)done;
    fprintf(stderr, "spk-sim: %zu/%zu descriptors, %.0f cycles simulated, %.1f s, ETA %.1f s\n",
            done, total, sim_cycles, elapsed, eta);
    return 0;
}

typedef struct {
    const options *o;
    const spk_config *cfg;
    const spk_cycle_stats *s;
    const spk_energy_constants *ec;
    const char *energy_path;
    spk_energy_report energy;
    double wall, dram_bound, qk_bound;
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

static int write_json(FILE *f, const report *r) {
    const spk_cycle_stats *s = r->s;
    const spk_config *cfg = r->cfg;
    double seconds = (double)s->cycles / cfg->clock_hz;
    spk_json j;
    spk_json_init(&j, f);
    spk_json_object_begin(&j, NULL);
    spk_json_string(&j, "trace", r->o->trace);
    spk_json_string(&j, "mode",
                    r->o->dense ? (r->o->compat ? "dense+compat" : "dense")
                                : (r->o->compat ? "compat" : "default"));
    spk_json_u64(&j, "cycles", s->cycles);
    spk_json_double(&j, "seconds", seconds);
    spk_json_u64(&j, "requests", s->requests);
    spk_json_u64(&j, "descriptors", s->descriptors);
    spk_json_u64(&j, "requant_requests", s->requant_requests);
    spk_json_u64(&j, "dram_bytes", s->dram_bytes);
    spk_json_object_begin(&j, "dram_transactions");
    spk_json_u64(&j, "key_msb", s->key_msb_transactions);
    spk_json_u64(&j, "key_lsb", s->key_lsb_transactions);
    spk_json_u64(&j, "value", s->value_transactions);
    spk_json_u64(&j, "total",
                 s->key_msb_transactions + s->key_lsb_transactions + s->value_transactions);
    spk_json_object_end(&j);
    spk_json_object_begin(&j, "energy_pj");
    spk_json_double(&j, "dram", r->energy.dram_pj);
    spk_json_double(&j, "sram", r->energy.sram_pj);
    spk_json_double(&j, "compute", r->energy.compute_pj);
    spk_json_double(&j, "total", r->energy.total_pj);
    spk_json_object_end(&j);
    /* Average power over the run, to hold against the paper's 8.30 W (full SpAtten). */
    spk_json_object_begin(&j, "power_w");
    spk_json_double(&j, "dram", seconds > 0 ? r->energy.dram_pj * 1e-12 / seconds : 0);
    spk_json_double(&j, "sram", seconds > 0 ? r->energy.sram_pj * 1e-12 / seconds : 0);
    spk_json_double(&j, "compute", seconds > 0 ? r->energy.compute_pj * 1e-12 / seconds : 0);
    spk_json_double(&j, "total", seconds > 0 ? r->energy.total_pj * 1e-12 / seconds : 0);
    spk_json_object_end(&j);
    spk_json_string(&j, "energy_constants", r->energy_path);
    spk_json_string(&j, "bound", spk_cycle_bound(s));
    spk_json_object_begin(&j, "lower_bounds");
    spk_json_double(&j, "dram", r->dram_bound);
    spk_json_double(&j, "qk", r->qk_bound);
    spk_json_object_end(&j);
    spk_json_object_begin(&j, "busy_cycles");
    spk_json_double(&j, "dram", s->busy_dram);
    spk_json_double(&j, "qk", s->busy_qk);
    spk_json_double(&j, "softmax", s->busy_softmax);
    spk_json_double(&j, "topk", s->busy_topk);
    spk_json_double(&j, "pv", s->busy_pv);
    spk_json_double(&j, "kbuf_stall", s->stall_kbuf);
    spk_json_double(&j, "vbuf_stall", s->stall_vbuf);
    spk_json_object_end(&j);
    spk_json_u64(&j, "row_misses", s->row_misses);
    spk_json_u64(&j, "ops", s->ops);
    spk_json_double(&j, "gops", seconds > 0 ? (double)s->ops / seconds / 1e9 : 0);
    spk_json_object_begin(&j, "config");
    spk_json_string(&j, "name", cfg->name);
    for (size_t i = 0; i < spk_config_key_count(); i++) {
        spk_json_double(&j, spk_config_key_name(i), spk_config_key_value(cfg, i));
    }
    spk_json_object_end(&j);
    write_area_power(&j, r);
    spk_json_double(&j, "sim_wall_seconds", r->wall);
    spk_json_double(&j, "sim_cycles_per_second", r->wall > 0 ? (double)s->cycles / r->wall : 0);
    spk_json_object_end(&j);
    return spk_json_finish(&j);
}

/* One row per (iteration, layer) in first-appearance order: descriptors of a layer are
 * consecutive in the traces. */
static int write_rows(const char *path, const spk_cycle_request *q, const spk_cycle_timing *tm,
                      size_t n) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "spk-sim: %s: cannot write (%s)\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "iteration,layer,requests,first_admit_cycle,last_done_cycle,key_msb_transactions,"
               "key_lsb_transactions,value_transactions\n");
    for (size_t i = 0; i < n;) {
        size_t k = i;
        uint64_t rows = 0, msb = 0, lsb = 0, val = 0;
        double first = tm[i].admitted, last = 0;
        while (k < n && q[k].iteration == q[i].iteration && q[k].layer == q[i].layer) {
            rows += q[k].heads;
            msb += q[k].key_msb_transactions;
            lsb += q[k].key_lsb_transactions;
            val += q[k].value_transactions;
            if (tm[k].admitted < first) first = tm[k].admitted;
            if (tm[k].done > last) last = tm[k].done;
            k++;
        }
        fprintf(f, "%u,%u,%llu,%.0f,%.0f,%llu,%llu,%llu\n", q[i].iteration, q[i].layer,
                (unsigned long long)rows, first, ceil(last), (unsigned long long)msb,
                (unsigned long long)lsb, (unsigned long long)val);
        i = k;
    }
    int rc = ferror(f) ? -1 : 0;
    if (fclose(f) != 0) rc = -1;
    if (rc) fprintf(stderr, "spk-sim: %s: write error\n", path);
    return rc;
}

static int load_config(const options *o, spk_config *cfg) {
    char err[512] = "";
    if (spk_config_load(o->config, cfg, err, sizeof err) != 0) {
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

static int run(const options *o, const spk_config *cfg) {
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
    spk_trace trace;
    err[0] = '\0';
    spk_cycle_status st = spk_trace_load(o->trace, &trace, err, sizeof err);
    if (st != SPK_CYCLE_OK) {
        fprintf(stderr, "spk-sim: %s%s%s\n", *err ? err : o->trace, *err ? "" : ": ",
                *err ? "" : spk_cycle_status_str(st));
        return 1;
    }
    if (!o->quiet && now() - t0 > 2.0)
        fprintf(stderr, "spk-sim: read %zu trace rows in %.1f s, simulating\n", trace.n,
                now() - t0);
    spk_trace_options topt = {o->compat, o->dense, cfg->topk_parallelism, cfg->seed};
    spk_cycle_request *reqs = NULL;
    size_t n = 0;
    err[0] = '\0';
    st = spk_trace_to_requests(&trace, &topt, &reqs, &n, err, sizeof err);
    spk_trace_free(&trace);
    if (st != SPK_CYCLE_OK) {
        fprintf(stderr, "spk-sim: %s: %s\n", o->trace, *err ? err : spk_cycle_status_str(st));
        return 1;
    }
    spk_cycle_timing *timing = o->csv ? calloc(n ? n : 1, sizeof *timing) : NULL;
    spk_cycle_stats stats;
    progress_state ps = {t0, now(), t0, o->quiet, 0};
    if (o->csv && !timing)
        st = SPK_CYCLE_E_NOMEM;
    else
        st = spk_cycle_run(cfg, reqs, n, &stats, timing, on_progress, &ps);
    double wall = now() - t0;
    if (ps.printed) fprintf(stderr, "spk-sim: %zu descriptors done, %.1f s\n", n, wall);
    int rc = 0;
    if (st != SPK_CYCLE_OK) {
        fprintf(stderr, "spk-sim: %s: simulation failed: %s%s\n", o->trace,
                spk_cycle_status_str(st), o->csv && !timing ? " (for the --csv timing rows)" : "");
        rc = 1;
    }
    if (rc == 0 && o->csv && write_rows(o->csv, reqs, timing, n) != 0) rc = 1;
    if (rc == 0) {
        report r = {o, cfg, &stats, &ec, energy_path, {0, 0, 0, 0}, wall, 0, 0};
        spk_energy_compute(&ec, &stats, &r.energy);
        uint64_t trans = stats.dram_bytes / SPK_CYCLE_TRANSACTION_BYTES;
        r.dram_bound = ceil((double)trans * SPK_CYCLE_TRANSACTION_BYTES /
                            (cfg->dram_channels * cfg->dram_bytes_per_cycle));
        r.qk_bound = ceil((double)stats.events.qk_macs / cfg->qk_multipliers);
        if (o->json) {
            FILE *f = strcmp(o->json, "-") == 0 ? stdout : fopen(o->json, "w");
            if (!f) {
                fprintf(stderr, "spk-sim: %s: cannot write (%s)\n", o->json, strerror(errno));
                rc = 1;
            } else {
                if (write_json(f, &r) != 0) rc = 1;
                if (f != stdout && fclose(f) != 0) rc = 1;
                if (rc) fprintf(stderr, "spk-sim: %s: write error\n", o->json);
            }
        }
        if (rc == 0 && !o->quiet && !(o->json && strcmp(o->json, "-") == 0))
            printf("%s on %s: %llu cycles (%s-bound; lower bounds dram %.0f, qk %.0f), "
                   "%llu requests, %llu DRAM transactions, %.3g uJ, %.3f s wall\n",
                   o->trace, cfg->name, (unsigned long long)stats.cycles, spk_cycle_bound(&stats),
                   r.dram_bound, r.qk_bound, (unsigned long long)stats.requests,
                   (unsigned long long)trans, r.energy.total_pj * 1e-6, wall);
    }
    free(timing);
    free(reqs);
    return rc;
}

int main(int argc, char **argv) {
    options o;
    if (parse_args(argc, argv, &o) != 0) return 2;
    spk_config cfg;
    if (load_config(&o, &cfg) != 0) return 1;
    if (o.print_config) {
        spk_config_write(&cfg, stdout);
        return 0;
    }
    return run(&o, &cfg);
}
