/* The serial engine (step_overlap = 0): the steps of rtl/engine/spk_engine.v one after the other,
 * each priced from the structure of the block that runs it (docs/simulator.md, "Serial engine").
 *
 * Times are cycle numbers: a beat that the DRAM model delivers at time x is on the bus during
 * cycle x, so the step that waits for it continues at x + 1. */
#include "serial.h"

static uint64_t div_up(uint64_t a, uint64_t b) {
    return (a + b - 1) / b;
}

/* 32-byte blocks touched by `bytes` bytes at byte address `addr` (spk_kv_fetch span_blocks). */
static uint64_t blocks_touched(uint64_t addr, uint64_t bytes) {
    if (bytes == 0) return 0;
    return (addr + bytes - 1) / SPK_CYCLE_TRANSACTION_BYTES - addr / SPK_CYCLE_TRANSACTION_BYTES +
           1;
}

typedef struct {
    uint64_t addr;     /* byte address of the plane's first row */
    uint32_t rows;     /* rows fetched */
    uint32_t d;        /* fields per row */
    uint32_t bits;     /* bits per field in this plane */
    uint32_t per_beat; /* fields the consumer takes per cycle (its multipliers) */
} plane_pass;

/* 32-byte blocks a run of `bytes` bytes touches when it starts at a uniformly random multiple of
 * `align` within a block (unaligned_regions): 1 + (bytes - align) / 32 on average. */
static double expected_blocks(uint64_t bytes, uint32_t align) {
    if (bytes <= align) return 1.0;
    return 1.0 + (double)(bytes - align) / SPK_CYCLE_TRANSACTION_BYTES;
}

/* One fetch pass of a plane: rows are indexed from t; returns the cycle after the consumer took
 * the last row's last beat. */
static double fetch_pass(const spk_config *c, spk_dram *dram, double t, const plane_pass *p) {
    const uint64_t row_bytes = div_up((uint64_t)p->d * p->bits, 8);
    if (p->rows == 0 || row_bytes == 0) return t;
    const double beats = (double)div_up(p->d, p->per_beat);
    if (c->fetch_slots == 0) {
        /* One stream of transactions; the consumer follows the data. */
        double first, last;
        spk_dram_fetch(dram, t, p->addr, p->rows * div_up(row_bytes, SPK_CYCLE_TRANSACTION_BYTES),
                       &first, &last);
        double end = first + 1 + beats * p->rows;
        return end > last + 1 + beats ? end : last + 1 + beats;
    }
    /* The row fetcher: a slot takes a row index when the address side is free and the slot's
     * previous row has left, issues the row's requests, fills in order, and emits the row once
     * all of its blocks are in, one beat per cycle, rows in order. Rows are packed back to back
     * from the plane's address, as spk_kv_fetch reads them (base + index * row bytes). */
    double slot_free[SPK_CONFIG_MAX_FETCH_SLOTS];
    for (uint32_t s = 0; s < c->fetch_slots; s++) slot_free[s] = t;
    double ar_free = t, emit_end = t;
    /* Unaligned regions: rows get the expected block count, carried as a running sum so that
     * the pass fetches the expected total (each row a whole number of blocks). */
    const double row_blocks = expected_blocks(row_bytes, 1);
    double carried = 0.5;
    for (uint32_t i = 0; i < p->rows; i++) {
        double *slot = &slot_free[i % c->fetch_slots];
        double take = ar_free > *slot ? ar_free : *slot;
        uint64_t row_addr = p->addr + (uint64_t)i * row_bytes;
        uint64_t blocks = blocks_touched(row_addr, row_bytes);
        if (c->unaligned_regions) {
            blocks = (uint64_t)(carried + row_blocks) - (uint64_t)carried;
            carried += row_blocks;
        }
        double first, last;
        double issue = take + c->fetch_row_overhead;
        spk_dram_fetch(dram, issue, row_addr, blocks, &first, &last);
        ar_free = issue + (double)blocks; /* one request per cycle */
        double start = last + 1 > emit_end ? last + 1 : emit_end;
        emit_end = start + beats;
        *slot = emit_end;
    }
    return emit_end;
}

/* A softmax over n scores whose last score arrives at t: its passes and fixed tail. */
static double softmax_done(const spk_config *c, double t, uint64_t n, spk_cycle_stats *busy) {
    double work = (double)c->softmax_passes * (double)div_up(n, c->softmax_per_cycle);
    if (busy) busy->busy_softmax += work;
    return t + work + c->softmax_latency + c->requant_latency;
}

/* A K pass: fetch the plane through QK, then the softmax; returns the decision time. */
static double key_pass(const spk_config *c, spk_dram *dram, double t, const spk_cycle_request *r,
                       uint64_t addr, uint32_t bits, spk_cycle_stats *busy) {
    uint64_t keys = (uint64_t)r->heads * r->keys;
    plane_pass p = {addr, (uint32_t)keys, r->d, bits, c->qk_multipliers};
    double emitted = fetch_pass(c, dram, t, &p);
    if (busy) busy->busy_qk += emitted - t;
    return softmax_done(c, emitted + c->qk_latency, keys, busy);
}

/* VSCAN: list the kept rows from the top-k's flags and read their V scale words. The descriptor
 * does not say which rows were kept, so for kept rows spread evenly over the n keys the model
 * counts the expected lines whose last flag is clear (one extra cycle each) and the expected
 * lines scanned after the last kept row (the last scale read goes out before them). */
static double value_scan(const spk_config *c, spk_dram *dram, double t,
                         const spk_cycle_request *r) {
    const uint64_t n = (uint64_t)r->heads * r->keys, kv = (uint64_t)r->heads * r->values;
    double scan = 0, trailing = 0;
    if (c->kept_scan && n) {
        const uint64_t lines = div_up(n, c->topk_parallelism);
        const uint64_t full_lines = n / c->topk_parallelism;
        scan = (double)kv + (double)lines - (double)(full_lines * kv) / (double)n;
        trailing = (double)(n - kv) / (double)((kv + 1) * c->topk_parallelism);
    }
    const double end = t + scan;
    if (kv == 0) return end + 1;
    const uint64_t addr = r->value_addr + (UINT64_C(1) << 52);
    double first, last;
    if (c->value_scale_per_row) {
        /* One read per row as it is listed: only the last one can end the step. */
        if (kv > 1) spk_dram_fetch(dram, t, addr, kv - 1, &first, &last);
        spk_dram_fetch(dram, end - trailing, addr, 1, &first, &last);
    } else {
        spk_dram_fetch(dram, end, addr, div_up(4 * kv, SPK_CYCLE_TRANSACTION_BYTES), &first, &last);
    }
    return (last > end ? last : end) + 1;
}

/* Output: PV drains, the outputs stream out, DONE (once the importance adds that started at
 * `adds_from` are all issued). */
static double finish_output(const spk_config *c, const spk_cycle_request *r, double t,
                            double adds_from, spk_serial_steps *s, spk_serial_steps *steps) {
    const double t0 = t;
    t += c->pv_latency + c->output_latency;
    if (c->output_per_cycle) t += (double)div_up((uint64_t)r->heads * r->d, c->output_per_cycle);
    if (c->importance_per_cycle && r->accumulate_importance) {
        const uint64_t n = (uint64_t)r->heads * r->keys;
        const double adds_done = adds_from + (double)div_up(n, c->importance_per_cycle);
        if (adds_done > t) t = adds_done;
    }
    t += c->head_add_latency + c->step_latency;
    s->output = t - t0;
    if (steps) *steps = *s;
    return t;
}

double spk_serial_request(const spk_config *c, const spk_cycle_request *r, spk_dram *dram, double t,
                          spk_serial_steps *steps, spk_cycle_stats *busy) {
    spk_serial_steps s = {0};
    const uint64_t n = (uint64_t)r->heads * r->keys;
    double t0 = t;
    t += c->step_latency; /* the descriptor is taken */
    s.accept = t - t0;

    if (n == 0) {
        /* No keys: nothing is fetched, PV outputs d zeros (the engine's ZERO state). */
        t += c->step_latency;
        return finish_output(c, r, t, t, &s, steps);
    }

    /* KSCALE: the query codes (when read from memory), then the K scale words, contiguous runs
     * read as whole blocks back to back; the query is loaded into QK once its blocks are in. */
    t0 = t;
    double first, last, loaded = t;
    if (c->query_load_cycles) {
        const uint64_t bytes = 2ull * r->heads * r->d;
        uint64_t blocks = div_up(bytes, SPK_CYCLE_TRANSACTION_BYTES);
        if (c->unaligned_regions) blocks = (uint64_t)(expected_blocks(bytes, 2) + 0.5);
        spk_dram_fetch(dram, t, r->key_msb_addr + (UINT64_C(3) << 52), blocks, &first, &last);
        loaded = last + 1 + c->query_load_cycles;
    }
    uint64_t blocks = div_up(4 * n, SPK_CYCLE_TRANSACTION_BYTES);
    if (c->unaligned_regions) blocks = (uint64_t)(expected_blocks(4 * n, 4) + 0.5);
    spk_dram_fetch(dram, t, r->key_msb_addr + (UINT64_C(1) << 52), blocks, &first, &last);
    t = last + 1;
    if (c->query_load_cycles) t = (loaded > t ? loaded : t) + c->step_latency; /* QLOAD */
    s.key_scales = t - t0;

    /* A dense (lsb_upfront) request fetches both planes of each key in its one pass. */
    t0 = t + c->step_latency;
    t = key_pass(c, dram, t0, r, r->key_msb_addr, r->key_bits + (r->lsb_upfront ? r->lsb_bits : 0),
                 busy);
    s.key_pass = t - t0 + c->step_latency;
    if (r->requant_heads && !r->lsb_upfront && r->lsb_bits) {
        t0 = t + c->step_latency;
        t = key_pass(c, dram, t0, r, r->key_lsb_addr, r->lsb_bits, busy);
        s.lsb_pass = t - t0 + c->step_latency;
    }

    /* TOPK: selection passes (the request's measured latency), the emit pass, hand-off. The
     * final probabilities go to the token importance from here on, beside the next steps. */
    const double adds_from = t;
    t0 = t;
    double topk = (double)r->local_topk_cycles + c->topk_latency;
    if (c->topk_emit_pass && n) topk += (double)div_up(n, c->topk_parallelism);
    if (busy) busy->busy_topk += topk;
    t += topk;
    s.topk = t - t0;

    t0 = t;
    t = value_scan(c, dram, t, r);
    s.value_scan = t - t0;

    /* VPASS: each fetched plane of the kept rows in its own pass into PV. */
    t0 = t;
    const uint32_t planes = r->value_bits > r->key_bits ? 2 : 1;
    const uint32_t plane_bits[2] = {r->key_bits, r->value_bits - r->key_bits};
    const uint64_t plane_addr[2] = {r->value_addr, r->value_addr + (UINT64_C(1) << 48)};
    const uint32_t kv = r->heads * r->values;
    if (kv == 0) t += c->step_latency; /* VPASS_START goes straight to the output */
    for (uint32_t i = 0; i < planes && kv; i++) {
        plane_pass p = {plane_addr[i], kv, r->d, planes == 1 ? r->value_bits : plane_bits[i],
                        c->pv_multipliers};
        t = fetch_pass(c, dram, t + c->step_latency, &p) + c->fetch_done_latency;
    }
    if (busy) busy->busy_pv += t - t0;
    s.value_pass = t - t0;

    return finish_output(c, r, t, adds_from, &s, steps);
}
