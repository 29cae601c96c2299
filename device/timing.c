/* The sim backend's timing: head-request events -> cycle simulator descriptors -> cycles. */
#include "timing.h"

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
};

spk_timing *spk_timing_create(const char *config, const char *energy_path, char *err,
                              size_t err_len) {
    spk_timing *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    char why[200] = "";
    if (spk_config_load(config, &t->cfg, why, sizeof(why)) != 0) {
        snprintf(err, err_len, "cycle-simulator configuration '%s': %s", config, why);
        free(t);
        return NULL;
    }
    if (energy_path) {
        if (spk_energy_load(energy_path, &t->energy, err, err_len) != 0) {
            free(t);
            return NULL;
        }
        t->has_energy = 1;
    }
    return t;
}

void spk_timing_destroy(spk_timing *t) {
    if (!t) return;
    free(t->reqs);
    free(t);
}

void spk_timing_reset(spk_timing *t) {
    t->n = 0;
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
    spk_cycle_request_site site = {0, layer, head, tokens};
    if (spk_cycle_request_from_head(cfg, ev, &site, &t->reqs[t->n]) != SPK_CYCLE_OK) return -1;
    t->n++;
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
