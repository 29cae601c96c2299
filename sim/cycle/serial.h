/* The serial engine of the cycle simulator (private to sim/cycle): step_overlap = 0.
 *
 * One request at a time, each step starting when the previous one ends, as rtl/engine/spk_engine.v
 * runs a head request (docs/simulator.md, "Serial engine"). */
#ifndef SPK_CYCLE_SERIAL_H
#define SPK_CYCLE_SERIAL_H

#include "dram.h"
#include "spksim/cycle.h"

/* Durations of the steps of one request, in cycles (for tests and calibration reports). */
typedef struct spk_serial_steps {
    double accept;     /* descriptor taken */
    double key_scales; /* K scale words read */
    double key_pass;   /* K MSB pass: fetch, QK and softmax */
    double lsb_pass;   /* requant: K LSB refetch, recompute and softmax (0 if none) */
    double topk;       /* local-V top-k (selection, emit pass, hand-off) */
    double value_scan; /* kept rows listed and their V scale words read */
    double value_pass; /* V rows fetched (each plane in its own pass) into PV */
    double output;     /* PV drained, outputs streamed, done */
} spk_serial_steps;

/* Time request r starting at t on the serial engine; returns its done time. steps may be NULL.
 * busy (may be NULL) receives the cycles of the QK, softmax, top-k and PV steps. */
double spk_serial_request(const spk_config *cfg, const spk_cycle_request *r, spk_dram *dram,
                          double t, spk_serial_steps *steps, spk_cycle_stats *busy);

#endif
