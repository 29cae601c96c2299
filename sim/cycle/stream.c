/* spk_engine_ovl's plane fetcher priced row by row (see stream.h). The structure is
 * rtl/fetch/spk_kv_fetch_stream.v's:
 *   AR    takes a row index (one cycle), then requests the row's blocks not requested already
 *         (the previous row's last block is shared), one a cycle, while the ring has room;
 *   R     fills the ring;
 *   EMIT  sends the oldest row once all of its blocks are in, one beat a cycle, rows back to
 *         back; the row then leaves the queue and its blocks' ring slots.
 * The descriptor does not say where the plane starts in its block, nor which rows were kept:
 * blocks per row are the expected ones for a region at a uniformly random byte offset, with kept
 * rows evenly spread (`gap`), carried as a running sum so that each row moves whole blocks. */
#include "stream.h"

#include <string.h>

static double max2(double a, double b) {
    return a > b ? a : b;
}

void spk_stream_start(spk_stream *s, const spk_stream_plane *p, double t) {
    memset(s, 0, sizeof *s);
    s->p = *p;
    if (s->p.ring == 0) s->p.ring = 1;
    if (s->p.ring > SPK_STREAM_MAX_RING) s->p.ring = SPK_STREAM_MAX_RING;
    s->take = t - 2; /* the take, then the AR cycle: a request in cycle c is DRAM time c + 1 */
    s->ready = t;
    s->emit_end = t;
    s->first_emit = -1;
    s->carried = 0.5;
}

double spk_stream_next_take(const spk_stream *s, double offered) {
    double t = max2(s->take, offered);
    /* RQ = ring rows queued: row i waits for row i - ring to leave (the cycle after its beats) */
    if (s->rows >= s->p.ring) t = max2(t, s->left[(s->rows - s->p.ring) % s->p.ring] + 1);
    return t;
}

/* Expected blocks a row requests: those it touches, less the first when it is the block the
 * previous fetched row ended in (the bytes between them, D, fall in one block with probability
 * 1 - D / 32). */
static double expected_new_blocks(const spk_stream_plane *p, int first_row) {
    const double block = SPK_CYCLE_TRANSACTION_BYTES, rb = (double)p->row_bytes;
    const double touched = rb <= 1 ? 1.0 : 1.0 + (rb - 1) / block;
    if (first_row) return touched;
    const double between = (p->gap - 1) * rb + 1;
    const double shared = between < block ? 1.0 - between / block : 0.0;
    return touched - shared;
}

double spk_stream_row(spk_stream *s, spk_dram *dram, double offered) {
    const uint32_t ring = s->p.ring;
    const uint64_t i = s->rows;
    const double take = spk_stream_next_take(s, offered);
    const double e = expected_new_blocks(&s->p, i == 0);
    const uint64_t nb = (uint64_t)(s->carried + e) - (uint64_t)s->carried;
    s->carried += e;
    double next_take = take + 1;
    uint64_t first_seq = s->blocks ? s->blocks - 1 : 0; /* shared: the last one requested */
    if (nb) {
        double t = take + 2;
        /* The ring holds blocks from the oldest queued row's first: the row's last block needs
         * every row that starts `ring` or more blocks before it to have left. */
        const uint64_t last_seq = s->blocks + nb - 1;
        const uint64_t oldest = i > ring ? i - ring : 0;
        for (uint64_t r = oldest; r < i && last_seq >= ring; r++) {
            if (s->first_seq[r % ring] + ring > last_seq) break;
            t = max2(t, s->left[r % ring] + 2);
        }
        double first, last;
        spk_dram_fetch(dram, t, s->p.addr + s->blocks * SPK_CYCLE_TRANSACTION_BYTES, nb, &first,
                       &last);
        /* the requests went out from the cycle before the channel started serving them */
        const double served = first - dram->service - dram->latency;
        next_take = served - 1 + (double)nb * dram->service;
        first_seq = s->blocks;
        s->blocks += nb;
        s->ready = last;
    }
    const double start = max2(s->ready, s->emit_end);
    if (s->first_emit < 0) s->first_emit = start;
    s->emit_end = start + s->p.beats;
    s->left[i % ring] = s->emit_end;
    s->first_seq[i % ring] = first_seq;
    s->take = next_take;
    s->rows++;
    return s->emit_end;
}
