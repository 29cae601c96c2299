/* Timing of the sim backend: the engine's head requests go through the cycle simulator
 * (libspkcycle, data mode) for cycles; the model backend keeps no timing. */
#ifndef SPK_DRIVER_TIMING_H
#define SPK_DRIVER_TIMING_H

#include <stddef.h>
#include <stdint.h>

#include "spksim/datapath.h"

typedef struct spk_timing spk_timing;

/* A recorder for a cycle-simulator configuration (the device's default: "eighth"). With an
 * energy constants file (sim/configs/energy.cfg format) it also prices each layer; a path that
 * cannot be loaded is an error (message in @p err), a NULL path means no energy. With
 * @p trace_path it writes every request it records as a row of a device trace (docs/simulator.md,
 * "Device traces"), which spk-sim replays to the same cycles. */
spk_timing *spk_timing_create(const char *config, const char *energy_path, const char *trace_path,
                              char *err, size_t err_len);
void spk_timing_destroy(spk_timing *t);
/* A new layer (device command): forget the recorded requests. A layer 0 starts a new step. */
void spk_timing_begin(spk_timing *t, uint32_t layer);
/* Record one head request's events; returns 0 or -1 (out of memory / rejected / the trace could
 * not be written). */
int spk_timing_record(spk_timing *t, const spk_head_config *cfg, const spk_head_events *ev,
                      uint32_t layer, uint32_t head, uint32_t tokens);
/* Time the recorded requests; returns 0 with the cycles and the energy in pJ (-1 without
 * energy constants), or -1. */
int spk_timing_run(spk_timing *t, uint64_t *cycles, double *energy_pj);

#endif
