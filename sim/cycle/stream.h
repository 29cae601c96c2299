/* spk_engine_ovl's plane fetcher (rtl/fetch/spk_kv_fetch_stream.v) priced row by row, for the
 * overlapped pipeline's fetch_ring knob (private to sim/cycle; docs/simulator.md, "Preset
 * rtl-ovl").
 *
 * Times follow the DRAM model's: a block delivered at x is on the bus during cycle x. A row is
 * "ready" at the delivery of its last block; its beats then occupy the consumer one a cycle,
 * [start, start + beats), rows in order. */
#ifndef SPK_CYCLE_STREAM_H
#define SPK_CYCLE_STREAM_H

#include <stdint.h>

#include "dram.h"

#define SPK_STREAM_MAX_RING SPK_CONFIG_MAX_FETCH_RING

/* One plane pass: which rows, how long, how many in flight. */
typedef struct {
    uint64_t addr;      /* the plane's first block address (for the DRAM statistics) */
    uint64_t row_bytes; /* bytes of one row (rows packed back to back) */
    double gap;         /* mean rows between consecutive fetched rows: 1 = contiguous */
    double beats;       /* beats a row leaves the fetcher in */
    uint32_t ring;      /* blocks, and rows, in flight (RING = RQ) */
} spk_stream_plane;

/* A fetcher's progress through its rows. */
typedef struct {
    spk_stream_plane p;
    uint64_t rows;     /* rows taken */
    uint64_t blocks;   /* blocks requested */
    double take;       /* the AR side can take the next index from this cycle */
    double ready;      /* delivery of the block requested last */
    double emit_end;   /* the end of the last row's beats */
    double first_emit; /* the start of the first row's beats (-1: none yet) */
    double carried;    /* running sum of expected blocks (regions at any byte offset) */
    double left[SPK_STREAM_MAX_RING];        /* when row i (mod ring) left the row queue */
    uint64_t first_seq[SPK_STREAM_MAX_RING]; /* its first block's sequence number */
} spk_stream;

/* Start a pass whose first request can go out at DRAM time @p t (its index is taken two cycles
 * before: the take, then the AR cycle). */
void spk_stream_start(spk_stream *s, const spk_stream_plane *p, double t);

/* When the next row's index could be taken, given that it is offered from @p offered. */
double spk_stream_next_take(const spk_stream *s, double offered);

/* Fetch the next row, offered to the fetcher from cycle @p offered: take it, request its new
 * blocks, emit it. Returns the end of its beats. */
double spk_stream_row(spk_stream *s, spk_dram *dram, double offered);

#endif
