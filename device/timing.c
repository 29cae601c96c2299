/* The sim backend's timing: head-request events -> cycle simulator descriptors -> cycles. */
#include "timing.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spksim/config.h"
#include "spksim/cycle.h"
#include "spksim/cycle_data.h"
#include "spksim/energy.h"

struct spk_timing {
    spk_config cfg;
    spk_energy_constants energy;
    int has_energy;
    spk_cycle_request *reqs;
    size_t n, cap;
    /* The device trace (docs/simulator.md, "Device traces"), or NULL. */
    FILE *trace;
    char *trace_path;
    uint64_t command;   /* layers begun (the current one's number + 1) */
    uint32_t iteration; /* layer-0 commands begun - 1: the step */
};

/* Opens the device trace and writes its header. */
static int open_trace(spk_timing *t, const char *path, char *err, size_t err_len) {
    t->trace = fopen(path, "w");
    t->trace_path = malloc(strlen(path) + 1);
    if (!t->trace || !t->trace_path || spk_trace_device_write_header(t->trace) != 0) {
        snprintf(err, err_len, "trace %s: cannot write (%s)", path,
                 t->trace_path ? strerror(errno) : "out of memory");
        return -1;
    }
    strcpy(t->trace_path, path);
    return 0;
}

spk_timing *spk_timing_create(const char *config, const char *energy_path, const char *trace_path,
                              char *err, size_t err_len) {
    spk_timing *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    if (trace_path && open_trace(t, trace_path, err, err_len) != 0) {
        spk_timing_destroy(t);
        return NULL;
    }
    char why[200] = "";
    if (spk_config_load(config, &t->cfg, why, sizeof(why)) != 0) {
        snprintf(err, err_len, "cycle-simulator configuration '%s': %s", config, why);
        spk_timing_destroy(t);
        return NULL;
    }
    if (energy_path) {
        if (spk_energy_load(energy_path, &t->energy, err, err_len) != 0) {
            spk_timing_destroy(t);
            return NULL;
        }
        t->has_energy = 1;
    }
    return t;
}

void spk_timing_destroy(spk_timing *t) {
    if (!t) return;
    /* The last rows are flushed here; a failure has no caller left to tell but the user. */
    if (t->trace && (ferror(t->trace) | fclose(t->trace)) != 0)
        fprintf(stderr, "libspk: sim trace %s: write error; the file is incomplete\n",
                t->trace_path ? t->trace_path : "");
    free(t->trace_path);
    free(t->reqs);
    free(t);
}

void spk_timing_begin(spk_timing *t, uint32_t layer) {
    t->n = 0;
    if (layer == 0 && t->command) t->iteration++;
    t->command++;
}

int spk_timing_record(spk_timing *t, const spk_head_config *cfg, const spk_head_events *ev,
                      uint32_t layer, uint32_t head, uint32_t tokens) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 256;
        spk_cycle_request *grown = realloc(t->reqs, cap * sizeof(*grown));
        if (!grown) return -1;
        t->reqs = grown;
        t->cap = cap;
    }
    /* A key list of a pruned layer never holds more keys than the layer's tokens; the trace
     * reader checks K <= L, so L is at least K. */
    const uint32_t l = tokens > ev->keys_fetched ? tokens : ev->keys_fetched;
    /* the device's head requests always list their keys (device/engine.c) */
    spk_cycle_request_site site = {t->iteration, layer, head, l, 1};
    if (spk_cycle_request_from_head(cfg, ev, &site, &t->reqs[t->n]) != SPK_CYCLE_OK) return -1;
    t->n++;
    if (t->trace && (spk_trace_device_write_row(t->trace, t->command - 1, &site, cfg, ev) != 0 ||
                     ferror(t->trace)))
        return -1;
    return 0;
}

int spk_timing_run(spk_timing *t, uint64_t *cycles, double *energy_pj) {
    spk_cycle_stats stats;
    memset(&stats, 0, sizeof(stats));
    *cycles = 0;
    *energy_pj = t->has_energy ? 0.0 : -1.0;
    if (t->n == 0) return 0;
    if (spk_cycle_run(&t->cfg, t->reqs, t->n, &stats, NULL, NULL, NULL) != SPK_CYCLE_OK) return -1;
    *cycles = stats.cycles;
    if (t->has_energy) {
        spk_energy_report report;
        spk_energy_compute(&t->energy, &stats, &report);
        *energy_pj = report.total_pj;
    }
    return 0;
}
