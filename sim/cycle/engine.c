/* The event-driven timing engine of the SpAtten request pipeline (BRIEF section 2).
 *
 * Each pipeline unit is a FIFO server. Events are processed in time order, so jobs reach each
 * server in nondecreasing time and a job's start (max of its arrival and the server's free time)
 * and end are known the moment it arrives: a request costs about ten events however many cycles
 * it lasts. Streaming overlap of a fetch with its consumer is modelled by starting the consumer
 * at the first data and ending it no earlier than the last data. */
#include "spksim/cycle.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dram.h"
#include "stream.h"
#include "serial.h"

enum event_kind {
    EV_ADMIT,   /* the front end tries to allocate K buffer space for the next request */
    EV_QK,      /* first key data arrived: the QK pass joins the QK unit's queue */
    EV_SOFTMAX, /* all scores of a pass are out: softmax */
    EV_DECIDE,  /* requant decision (max reduction over the probabilities) */
    EV_VALLOC,  /* local-V top-k done: V buffer allocation and V fetch */
    EV_PV,      /* first value data arrived: PV joins the PV unit's queue */
    EV_VFREE,   /* PV consumed the values: V buffer space returns */
    EV_TOKTOPK  /* importance of the request is in: token top-k on a top-k engine */
};

typedef struct {
    uint64_t tk;  /* the event time's bits: times are >= 0, so they order as the doubles */
    uint64_t seq; /* tie-break: equal times keep their scheduling order */
    uint32_t req;
    uint32_t kind;
} event;

/* A 4-ary heap (half the levels of a binary one) plus one event held beside it: an event scheduled
 * before everything pending (often the next step of the request just handled) skips the heap. The
 * next event is the smaller of the two, so the order is exactly the heap's. */
typedef struct {
    event *v;
    size_t n, cap;
    uint64_t seq;
    event imm;
    int has_imm;
} event_heap;

static uint64_t time_key(double t) {
    uint64_t k;
    memcpy(&k, &t, sizeof k);
    return k;
}

static double key_time(uint64_t k) {
    double t;
    memcpy(&t, &k, sizeof t);
    return t;
}

static int ev_less(const event *a, const event *b) {
    return a->tk < b->tk || (a->tk == b->tk && a->seq < b->seq);
}

static size_t heap_size(const event_heap *h) {
    return h->n + (size_t)h->has_imm;
}

/* The next event (heap_size() > 0). */
static const event *heap_top(const event_heap *h) {
    if (h->has_imm && (h->n == 0 || ev_less(&h->imm, &h->v[0]))) return &h->imm;
    return &h->v[0];
}

static int heap_push(event_heap *h, double t, uint32_t req, uint32_t kind) {
    event e = {time_key(t), h->seq++, req, kind};
    if (!h->has_imm && (h->n == 0 || ev_less(&e, &h->v[0]))) {
        h->imm = e;
        h->has_imm = 1;
        return 0;
    }
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        event *v = realloc(h->v, cap * sizeof *v);
        if (!v) return -1;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 4;
        if (!ev_less(&e, &h->v[p])) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = e;
    return 0;
}

static event heap_pop(event_heap *h) {
    if (h->has_imm && (h->n == 0 || ev_less(&h->imm, &h->v[0]))) {
        h->has_imm = 0;
        return h->imm;
    }
    event top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 4 * i + 1, end = c + 4 < h->n ? c + 4 : h->n;
        if (c >= h->n) break;
        for (size_t k = c + 1; k < end; k++) {
            if (ev_less(&h->v[k], &h->v[c])) c = k;
        }
        if (!ev_less(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n) h->v[i] = last;
    return top;
}

/* One descriptor in the engine's window, from push to retirement. */
typedef struct {
    spk_cycle_request r;
    double k_first, k_last; /* data times of the current key fetch (then of the value fetch) */
    double imp_end;         /* importance_per_cycle: when the final probabilities are added */
    double kbuf, vbuf;      /* buffer bytes held */
    spk_cycle_timing tm;
    uint32_t pass;    /* 0: MSB pass, 1: LSB recompute */
    uint8_t finished; /* output written (finish() ran) */
    uint8_t in_tail;  /* tail_overlap: no longer counted for requests_in_flight */
    uint8_t vfreed;   /* its V buffer space returned (EV_VFREE ran) */
} slot;

/* A FIFO of requests waiting for V buffer space (a growable ring). */
typedef struct {
    uint32_t *req;
    double *since;
    uint64_t head, tail;
    size_t mask;
} vwait_fifo;

/* A divisor with its shift when it is a power of two (the presets' unit widths): the divisions
 * of the pipeline's durations were a visible part of a replay. */
typedef struct {
    uint64_t d;
    int shift; /* -1: not a power of two */
} divisor;

struct spk_cycle_engine {
    spk_config cfg;
    /* The window: descriptors [retired, pushed) live in ring[seq & mask]; events name them by
     * the low 32 bits of their sequence number, which the mask (< 2^32) maps to the same slot. */
    slot *ring;
    size_t mask;
    uint64_t pushed, retired;
    uint64_t next_admit; /* the front end admits requests in order */
    int ended;           /* no more descriptors will be pushed */
    event_heap heap;
    spk_dram dram;
    spk_cycle_stats stats;
    double qk_free, smx_free, pv_free;
    double *topk_free;
    double kbuf_used, vbuf_used;
    int front_blocked; /* waiting for K buffer space */
    int front_full;    /* waiting for a request to finish (requests_in_flight) */
    size_t counted;    /* admitted and counted for requests_in_flight */
    double front_free; /* tail_overlap: the next admission no earlier than this */
    double tail_done;  /* tail_overlap: done of the request that entered its tail last */
    double blocked_since;
    vwait_fifo vwait;
    size_t in_flight;     /* admitted, output not yet written */
    int barrier;          /* token top-k barrier: admission waits for the pipeline to drain */
    uint32_t barrier_req; /* the request whose token top-k the next layer waits for */
    double end, now;      /* completion time of the last output; time of the last event */
    spk_cycle_retire_fn retire;
    void *retire_ctx;
    spk_cycle_status failed;
    divisor qk_div, smx_div, pv_div; /* qk_multipliers, softmax_per_cycle, pv_multipliers */
};

static slot *at(spk_cycle_engine *e, uint32_t req) {
    return &e->ring[req & e->mask];
}

static divisor make_divisor(uint64_t d) {
    divisor v = {d, -1};
    if (d && (d & (d - 1)) == 0) {
        v.shift = 0;
        while ((UINT64_C(1) << v.shift) < d) v.shift++;
    }
    return v;
}

static double ceil_div(uint64_t a, divisor b) {
    return (double)(b.shift >= 0 ? (a + b.d - 1) >> b.shift : (a + b.d - 1) / b.d);
}

static double kbuf_need(const spk_cycle_engine *e, const spk_cycle_request *r) {
    uint64_t tr = r->key_msb_transactions + (r->lsb_upfront ? r->key_lsb_transactions : 0);
    double bytes = (double)(tr * SPK_CYCLE_TRANSACTION_BYTES);
    /* A request larger than the buffer streams through all of it. */
    return bytes > e->cfg.key_buffer_bytes ? e->cfg.key_buffer_bytes : bytes;
}

static double vbuf_need(const spk_cycle_engine *e, const spk_cycle_request *r) {
    double bytes = (double)(r->value_transactions * SPK_CYCLE_TRANSACTION_BYTES);
    return bytes > e->cfg.value_buffer_bytes ? e->cfg.value_buffer_bytes : bytes;
}

/* Another admission attempt is due unless the input is known to be exhausted. */
static int more_to_admit(const spk_cycle_engine *e) {
    return !e->ended || e->next_admit < e->pushed;
}

/* 32-byte blocks of @p rows packed 4-byte scale words. */
static uint64_t scale_word_blocks(uint64_t rows) {
    return (4 * rows + SPK_CYCLE_TRANSACTION_BYTES - 1) / SPK_CYCLE_TRANSACTION_BYTES;
}

/* value_scales_with_keys = 1 (spk_engine_ovl): the V scale words of all the request's keys are
 * read with the K fetch, in whole 32-byte blocks, instead of the kept rows' with the V fetch.
 * Returns the blocks of @p rows scale words when the knob is set, else 0. The per-kind
 * transaction counts keep the descriptor's (docs/spec/datapath.md, "Traffic"); dram_bytes counts
 * the blocks moved. */
static uint64_t value_scale_moves(const spk_cycle_engine *e, const spk_cycle_request *r,
                                  uint64_t rows) {
    (void)r;
    if (!e->cfg.value_scales_with_keys) return 0;
    return scale_word_blocks(rows);
}

/* Mean rows between a request's consecutive keys: a key list spreads its keys over the l tokens
 * (the harness's lists, and the device's after pruning), a range is contiguous. */
static double key_gap(const spk_cycle_request *r) {
    return r->key_list && r->keys && r->l > r->keys ? (double)r->l / r->keys : 1.0;
}

/* Expected 32-byte blocks holding @p bytes that start at a uniformly random 2-byte offset in a
 * block (a key list of uint16 tokens). */
static double list_blocks(uint64_t bytes) {
    double sum = 0;
    for (uint64_t off = 0; off < SPK_CYCLE_TRANSACTION_BYTES; off += 2)
        sum +=
            (double)((off + bytes + SPK_CYCLE_TRANSACTION_BYTES - 1) / SPK_CYCLE_TRANSACTION_BYTES);
    return sum / (SPK_CYCLE_TRANSACTION_BYTES / 2);
}

/* Bytes of a row of d fields of `bits` bits (rows packed back to back). */
static uint64_t row_bytes_of(uint32_t d, uint32_t bits) {
    return ((uint64_t)d * bits + 7) / 8;
}

/* fetch_ring (spk_engine_ovl): a K plane pass through the stream fetcher, the request's rows
 * (contiguous, or a key list's spread by key_gap), the first request at DRAM time @p t. Sets QK's
 * data window: the first row's first beat and the last row's end. */
static void key_stream(spk_cycle_engine *e, const spk_cycle_request *r, double t, uint64_t addr,
                       uint64_t rows, uint32_t bits, double *first, double *last) {
    spk_stream st;
    const spk_stream_plane p = {addr, row_bytes_of(r->d, bits), key_gap(r),
                                ceil_div(r->d, e->qk_div), e->cfg.fetch_ring};
    spk_stream_start(&st, &p, t);
    for (uint64_t i = 0; i < rows; i++) spk_stream_row(&st, &e->dram, t - 2);
    *first = rows ? st.first_emit : t;
    *last = rows ? st.emit_end : t;
}

static int admit(spk_cycle_engine *e, uint32_t req, double t) {
    uint64_t j = e->next_admit;
    if (j >= e->pushed || req != (uint32_t)j || e->barrier) return 0; /* stale, or draining */
    if (e->cfg.requests_in_flight && e->counted >= e->cfg.requests_in_flight) {
        e->front_full = 1; /* finish() (or on_pv, with tail_overlap) admits again */
        return 0;
    }
    if (t < e->front_free) return heap_push(&e->heap, e->front_free, req, EV_ADMIT);
    slot *s = at(e, req);
    const spk_cycle_request *r = &s->r;
    double need = kbuf_need(e, r);
    if (e->kbuf_used + need > e->cfg.key_buffer_bytes && e->kbuf_used > 0) {
        if (!e->front_blocked) e->blocked_since = t;
        e->front_blocked = 1;
        return 0;
    }
    if (e->front_blocked) e->stats.stall_kbuf += t - e->blocked_since;
    e->front_blocked = 0;
    e->front_full = 0;
    e->kbuf_used += need;
    s->kbuf = need;
    e->next_admit++;
    s->tm.admitted = t;
    double first, last, tk = t; /* when the K fetch is issued */
    if (e->cfg.query_load_cycles) {
        /* The query's int16 codes are read and loaded into QK, qk_multipliers a cycle, the
         * first load beat query_load_cycles after the last block's data; the K fetch starts
         * with the last load beat. */
        const uint64_t blocks = (2ull * r->heads * r->d + SPK_CYCLE_TRANSACTION_BYTES - 1) /
                                SPK_CYCLE_TRANSACTION_BYTES;
        spk_dram_fetch(&e->dram, t, r->key_msb_addr + (UINT64_C(3) << 52), blocks, &first, &last);
        tk = last + e->cfg.query_load_cycles - 1 + ceil_div((uint64_t)r->heads * r->d, e->qk_div);
    }
    const uint64_t n_keys = (uint64_t)r->heads * r->keys;
    const uint64_t v_scales = value_scale_moves(e, r, n_keys);
    double f0, l0;
    if (v_scales && e->cfg.fetch_ring && r->key_list) {
        /* A key list (spk_engine_ovl's own reads in list mode): the list's blocks, then, once
         * they are all in (a word's address needs its token), one K and then one V scale-word
         * read per key, all ahead of the fetcher's K rows on the one port; row j waits for its
         * K word's read. */
        spk_dram_fetch(&e->dram, t, r->key_msb_addr + (UINT64_C(4) << 52),
                       (uint64_t)(list_blocks(2 * n_keys) + 0.5), &f0, &l0);
        const double words = l0 + 1;
        spk_dram_fetch(&e->dram, words, r->key_msb_addr + (UINT64_C(2) << 52), n_keys, &f0, &l0);
        spk_dram_fetch(&e->dram, words, r->key_msb_addr + (UINT64_C(1) << 52), n_keys, &f0, &l0);
        if (words + 1 > tk) tk = words + 1;
        key_stream(e, r, tk, r->key_msb_addr, n_keys, r->key_bits, &first, &last);
    } else {
        /* spk_engine_ovl's own reads in range mode: the K and V scale words as whole blocks,
         * the V ones requested from admission, ahead of the fetcher's K rows on the one port;
         * QK waits for the rows, not for the K stream's first blocks, which are its scale
         * words. */
        if (v_scales)
            spk_dram_fetch(&e->dram, t, r->key_msb_addr + (UINT64_C(1) << 52), v_scales, &f0, &l0);
        if (e->cfg.fetch_ring) { /* the K scale words' blocks (own reads), then the rows */
            spk_dram_fetch(&e->dram, tk, r->key_msb_addr + (UINT64_C(2) << 52),
                           scale_word_blocks(n_keys), &f0, &l0);
            key_stream(e, r, tk, r->key_msb_addr, n_keys, r->key_bits, &first, &last);
        } else {
            spk_dram_fetch(&e->dram, tk, r->key_msb_addr, r->key_msb_transactions, &first, &last);
        }
    }
    if (v_scales && !e->cfg.fetch_ring) {
        const double k_scales = (double)v_scales; /* ceil(4n / 32) blocks, as the V ones */
        first = first + k_scales < last ? first + k_scales : last;
    }
    if (r->lsb_upfront && r->key_lsb_transactions) {
        double f2, l2;
        spk_dram_fetch(&e->dram, tk, r->key_lsb_addr, r->key_lsb_transactions, &f2, &l2);
        if (l2 > last) last = l2;
        if (f2 > first) first = f2; /* QK needs both planes of a key */
    }
    s->k_first = first;
    s->k_last = last;
    if (heap_push(&e->heap, first, req, EV_QK)) return -1;
    e->in_flight++;
    e->counted++;
    if (e->cfg.token_topk_barrier && r->token_topk_cycles) {
        /* Cascade pruning: the next layer's keys are chosen by this token top-k, which needs
         * the importance of every request in flight. */
        e->barrier = 1;
        e->barrier_req = req;
        return 0;
    }
    if (more_to_admit(e) &&
        heap_push(&e->heap, t + e->cfg.issue_interval, (uint32_t)e->next_admit, EV_ADMIT))
        return -1;
    return 0;
}

static int on_qk(spk_cycle_engine *e, uint32_t j, double t) {
    slot *s = at(e, j);
    const spk_cycle_request *r = &s->r;
    uint64_t keys = s->pass ? r->requant_keys : (uint64_t)r->heads * r->keys;
    double work = e->cfg.row_beats ? (double)keys * ceil_div(r->d, e->qk_div)
                                   : ceil_div(keys * r->d, e->qk_div);
    double start = t > e->qk_free ? t : e->qk_free;
    double end = start + work;
    if (s->k_last > end) end = s->k_last; /* the unit streams: it cannot outrun its data */
    e->qk_free = end;
    e->stats.busy_qk += work;
    return heap_push(&e->heap, end + e->cfg.qk_latency, j, EV_SOFTMAX);
}

static int on_softmax(spk_cycle_engine *e, uint32_t j, double t) {
    slot *s = at(e, j);
    const spk_cycle_request *r = &s->r;
    uint64_t scores = s->pass ? r->requant_keys : (uint64_t)r->heads * r->keys;
    const double prob = e->cfg.softmax_passes * ceil_div(scores, e->smx_div);
    double work = prob;
    if (e->cfg.softmax_exp_per_cycle)
        work +=
            (double)((scores + e->cfg.softmax_exp_per_cycle - 1) / e->cfg.softmax_exp_per_cycle);
    double start = t > e->smx_free ? t : e->smx_free;
    e->smx_free = start + work;
    e->stats.busy_softmax += work;
    double decide = e->smx_free + e->cfg.softmax_latency + e->cfg.requant_latency;
    if (e->cfg.tail_overlap && e->tail_done + prob + 7 > decide) {
        /* spk_engine_ovl holds the probability pass while the previous request's tail runs:
         * it starts the cycle after that done shows (D + 1), takes a key a cycle, drains 4,
         * its done shows 2 later and the decision is the cycle after (D + n + 7). */
        decide = e->tail_done + prob + 7;
        e->smx_free = decide - e->cfg.softmax_latency - e->cfg.requant_latency;
    }
    return heap_push(&e->heap, decide, j, EV_DECIDE);
}

static double topk_run(spk_cycle_engine *e, double t, uint64_t cycles) {
    uint32_t best = 0;
    for (uint32_t i = 1; i < e->cfg.topk_engines; i++) {
        if (e->topk_free[i] < e->topk_free[best]) best = i;
    }
    double start = t > e->topk_free[best] ? t : e->topk_free[best];
    e->topk_free[best] = start + (double)cycles;
    e->stats.busy_topk += (double)cycles / e->cfg.topk_engines;
    return e->topk_free[best];
}

static int on_decide(spk_cycle_engine *e, uint32_t j, double t) {
    slot *s = at(e, j);
    const spk_cycle_request *r = &s->r;
    if (s->pass == 0 && r->requant_heads && !r->lsb_upfront) {
        /* Progressive quantization: refetch the LSB plane of the same keys, recompute once. */
        s->pass = 1;
        if (e->cfg.fetch_ring)
            key_stream(e, r, t, r->key_lsb_addr, r->requant_keys, r->lsb_bits, &s->k_first,
                       &s->k_last);
        else
            spk_dram_fetch(&e->dram, t, r->key_lsb_addr, r->key_lsb_transactions, &s->k_first,
                           &s->k_last);
        return heap_push(&e->heap, s->k_first, j, EV_QK);
    }
    /* The final probabilities are added into the token importance, importance_per_cycle a
     * cycle from here (spk_engine_ovl's walk); done waits for the last add. */
    s->imp_end = 0;
    if (e->cfg.importance_per_cycle && r->accumulate_importance) {
        const uint64_t n = (uint64_t)r->heads * r->keys;
        s->imp_end =
            t + (double)((n + e->cfg.importance_per_cycle - 1) / e->cfg.importance_per_cycle);
    }
    /* Keys are no longer needed: their buffer space returns and may unblock the front end. */
    e->kbuf_used -= s->kbuf;
    s->kbuf = 0;
    if (e->front_blocked && heap_push(&e->heap, t, (uint32_t)e->next_admit, EV_ADMIT)) return -1;
    /* The local-V top-k: its selection passes, then (topk_emit_pass, spk_engine_ovl's top-k)
     * the pass that emits the kept lines, and any fixed latency. */
    uint64_t topk = r->local_topk_cycles + e->cfg.topk_latency;
    const uint64_t n = (uint64_t)r->heads * r->keys;
    if (e->cfg.topk_emit_pass && n)
        topk += (n + e->cfg.topk_parallelism - 1) / e->cfg.topk_parallelism;
    double ready = topk ? topk_run(e, t, topk) : t;
    return heap_push(&e->heap, ready, j, EV_VALLOC);
}

/* fetch_ring: the V pass of spk_engine_ovl, its first request at DRAM time @p t. With both V
 * planes (after a requant) a second fetcher takes kept row j once the first has emitted row j's
 * MSB fields (into HIBUF), and PV takes the second one's beats. The kept-row scan that offers
 * the rows (a row or a line of flags a cycle) is not modeled: pacing the fetcher by it changed
 * no total by more than 0.01% (docs/simulator.md, "Preset rtl-ovl"). Sets PV's data window. */
static void value_stream(spk_cycle_engine *e, const spk_cycle_request *r, double t, double *first,
                         double *last) {
    const uint64_t kv = (uint64_t)r->heads * r->values, n = (uint64_t)r->heads * r->keys;
    *first = *last = t;
    if (kv == 0) return;
    const double gap = key_gap(r) * (double)n / (double)kv, beats = ceil_div(r->d, e->pv_div);
    const spk_stream_plane pf = {r->value_addr, row_bytes_of(r->d, r->key_bits), gap, beats,
                                 e->cfg.fetch_ring};
    spk_stream f, g;
    spk_stream_start(&f, &pf, t);
    const double offered = t - 2; /* the rows' indices: row 0's two cycles before its request */
    if (!(r->value_bits > r->key_bits && r->lsb_bits)) {
        for (uint64_t i = 0; i < kv; i++) spk_stream_row(&f, &e->dram, offered);
        *first = f.first_emit;
        *last = f.emit_end;
        return;
    }
    const spk_stream_plane pg = {r->value_addr + (UINT64_C(1) << 51),
                                 row_bytes_of(r->d, r->lsb_bits), gap, beats, e->cfg.fetch_ring};
    spk_stream_start(&g, &pg, t);
    double f_end[SPK_STREAM_MAX_RING]; /* the first fetcher's rows the second has not taken */
    /* the two fetchers' requests in time order; the first wins a tie (the AR port's priority) */
    while (g.rows < kv) {
        const int f_can = f.rows < kv && f.rows - g.rows < SPK_STREAM_MAX_RING;
        const double tf = f_can ? spk_stream_next_take(&f, offered) : -1;
        /* row j is offered to the second fetcher the cycle after the first emitted it */
        const double tg = g.rows < f.rows
                              ? spk_stream_next_take(&g, f_end[g.rows % SPK_STREAM_MAX_RING] + 1)
                              : -1;
        if (tf >= 0 && (tg < 0 || tf <= tg))
            f_end[f.rows % SPK_STREAM_MAX_RING] = spk_stream_row(&f, &e->dram, tf);
        else
            spk_stream_row(&g, &e->dram, tg);
    }
    *first = g.first_emit;
    *last = g.emit_end;
}

static int start_value_fetch(spk_cycle_engine *e, uint32_t j, double t) {
    slot *s = at(e, j);
    const spk_cycle_request *r = &s->r;
    s->vbuf = vbuf_need(e, r);
    e->vbuf_used += s->vbuf;
    double first, last;
    /* value_scales_with_keys: the kept rows' scale words came with the keys' (at admission). */
    const uint64_t moved = value_scale_moves(e, r, r->heads * r->values);
    const uint64_t v_blocks = r->value_transactions > moved ? r->value_transactions - moved : 0;
    const double t_fetch = t + e->cfg.value_fetch_delay;
    if (e->cfg.fetch_ring) {
        if (!e->cfg.value_scales_with_keys && r->values) /* the kept rows' scale words first */
            spk_dram_fetch(&e->dram, t_fetch, r->value_addr + (UINT64_C(1) << 52),
                           scale_word_blocks((uint64_t)r->heads * r->values), &first, &last);
        value_stream(e, r, t_fetch, &first, &last);
    } else
        spk_dram_fetch(&e->dram, t_fetch, r->value_addr, v_blocks, &first, &last);
    s->k_first = first;
    s->k_last = last; /* reused for the value data times */
    return heap_push(&e->heap, first, j, EV_PV);
}

static int vbuf_fits(spk_cycle_engine *e, uint32_t j) {
    return e->vbuf_used == 0 ||
           e->vbuf_used + vbuf_need(e, &at(e, j)->r) <= e->cfg.value_buffer_bytes;
}

static int vwait_push(vwait_fifo *q, uint32_t req, double since) {
    if (q->tail - q->head == (q->req ? q->mask + 1 : 0)) {
        size_t cap = q->req ? 2 * (q->mask + 1) : 64;
        uint32_t *r = malloc(cap * sizeof *r);
        double *s = malloc(cap * sizeof *s);
        if (!r || !s) {
            free(r);
            free(s);
            return -1;
        }
        for (uint64_t i = q->head; i < q->tail; i++) {
            r[i & (cap - 1)] = q->req[i & q->mask];
            s[i & (cap - 1)] = q->since[i & q->mask];
        }
        free(q->req);
        free(q->since);
        q->req = r;
        q->since = s;
        q->mask = cap - 1;
    }
    q->req[q->tail & q->mask] = req;
    q->since[q->tail++ & q->mask] = since;
    return 0;
}

static int on_valloc(spk_cycle_engine *e, uint32_t j, double t) {
    if (e->vwait.head == e->vwait.tail && vbuf_fits(e, j)) return start_value_fetch(e, j, t);
    return vwait_push(&e->vwait, j, t);
}

static int on_vfree(spk_cycle_engine *e, uint32_t j, double t) {
    slot *s = at(e, j);
    e->vbuf_used -= s->vbuf;
    s->vbuf = 0;
    s->vfreed = 1;
    vwait_fifo *q = &e->vwait;
    while (q->head < q->tail && vbuf_fits(e, q->req[q->head & q->mask])) {
        e->stats.stall_vbuf += t - q->since[q->head & q->mask];
        uint32_t next = q->req[q->head++ & q->mask];
        if (start_value_fetch(e, next, t)) return -1;
    }
    return 0;
}

static int finish(spk_cycle_engine *e, uint32_t j, double done) {
    slot *s = at(e, j);
    s->tm.done = done;
    s->finished = 1;
    if (done > e->end) e->end = done;
    e->in_flight--;
    if (!s->in_tail) e->counted--;
    if (!s->in_tail && e->front_full && !e->barrier) {
        /* requests_in_flight: the engine takes the next descriptor once this one is done */
        e->front_full = 0;
        if (more_to_admit(e) && heap_push(&e->heap, done, (uint32_t)e->next_admit, EV_ADMIT))
            return -1;
    }
    if (!e->barrier || e->in_flight) return 0;
    /* Drained: run the token top-k, then the front end resumes. */
    e->barrier = 0;
    slot *b = at(e, e->barrier_req);
    e->end = topk_run(e, e->end, b->r.token_topk_cycles);
    b->tm.done = e->end;
    if (!more_to_admit(e)) return 0;
    return heap_push(&e->heap, e->end, (uint32_t)e->next_admit, EV_ADMIT);
}

static int on_pv(spk_cycle_engine *e, uint32_t j, double t) {
    slot *s = at(e, j);
    const spk_cycle_request *r = &s->r;
    const uint64_t rows = (uint64_t)r->heads * r->values;
    double work = e->cfg.row_beats ? (double)rows * ceil_div(r->d, e->pv_div)
                                   : ceil_div(rows * r->d, e->pv_div);
    double start = t > e->pv_free ? t : e->pv_free;
    double end = start + work;
    if (s->k_last > end) end = s->k_last;
    e->pv_free = end;
    e->stats.busy_pv += work;
    if (heap_push(&e->heap, end, j, EV_VFREE)) return -1;
    double done = end + e->cfg.pv_latency;
    if (e->cfg.output_per_cycle) /* the outputs stream out before done */
        done += (double)(((uint64_t)r->heads * r->d + e->cfg.output_per_cycle - 1) /
                         e->cfg.output_per_cycle);
    if (s->imp_end > done) done = s->imp_end;
    done += e->cfg.output_latency;
    if (e->cfg.tail_overlap && e->cfg.requests_in_flight) {
        /* The tail (PV's end, outputs, head add) runs beside the next request's front: this
         * one stops counting once its V beats are all in PV and its importance walk is over. */
        s->in_tail = 1;
        e->counted--;
        e->tail_done = done;
        e->front_free = (end > s->imp_end ? end : s->imp_end) + e->cfg.tail_overlap;
        if (e->front_full && !e->barrier) {
            e->front_full = 0;
            if (more_to_admit(e) &&
                heap_push(&e->heap, e->front_free, (uint32_t)e->next_admit, EV_ADMIT))
                return -1;
        }
    }
    if (r->token_topk_cycles && !e->cfg.token_topk_barrier)
        return heap_push(&e->heap, done, j, EV_TOKTOPK);
    return finish(e, j, done);
}

static void count_events(const spk_cycle_request *r, spk_cycle_stats *s) {
    uint64_t scores = (uint64_t)r->heads * r->keys;
    uint64_t requant = r->lsb_upfront ? 0 : r->requant_keys;
    s->requests += r->heads;
    s->descriptors++;
    s->requant_requests += r->lsb_upfront ? 0 : r->requant_heads;
    s->key_msb_transactions += r->key_msb_transactions;
    s->key_lsb_transactions += r->key_lsb_transactions;
    s->value_transactions += r->value_transactions;
    spk_cycle_events *ev = &s->events;
    ev->qk_macs += (scores + requant) * r->d;
    ev->pv_macs += (uint64_t)r->heads * r->values * r->d;
    ev->softmax_elems += scores + requant;
    ev->topk_compares += r->local_topk_streamed + r->token_topk_streamed;
    ev->importance_adds += r->accumulate_importance ? scores : 0;
    uint64_t kbytes =
        (r->key_msb_transactions + r->key_lsb_transactions) * SPK_CYCLE_TRANSACTION_BYTES;
    ev->kbuf_write_bytes += kbytes;
    /* QK reads every fetched key byte once; the recompute reads the MSBs of its keys again. */
    ev->kbuf_read_bytes += kbytes + requant * r->d * r->key_bits / 8;
    ev->vbuf_write_bytes += r->value_transactions * SPK_CYCLE_TRANSACTION_BYTES;
    ev->vbuf_read_bytes += r->value_transactions * SPK_CYCLE_TRANSACTION_BYTES;
}

static int check_request(const spk_cycle_request *r) {
    if (r->heads < 1 || r->heads > 2 || r->d == 0) return -1;
    if (r->requant_heads > r->heads) return -1;
    if (r->requant_keys > (uint64_t)r->heads * r->keys) return -1;
    if (r->requant_heads && !r->lsb_upfront && r->key_lsb_transactions == 0 && r->keys) return -1;
    return 0;
}

static int dispatch(spk_cycle_engine *e, const event *ev) {
    const double t = key_time(ev->tk);
    switch (ev->kind) {
    case EV_ADMIT:
        return admit(e, ev->req, t);
    case EV_QK:
        return on_qk(e, ev->req, t);
    case EV_SOFTMAX:
        return on_softmax(e, ev->req, t);
    case EV_DECIDE:
        return on_decide(e, ev->req, t);
    case EV_VALLOC:
        return on_valloc(e, ev->req, t);
    case EV_PV:
        return on_pv(e, ev->req, t);
    case EV_VFREE:
        return on_vfree(e, ev->req, t);
    case EV_TOKTOPK:
        return finish(e, ev->req, topk_run(e, t, at(e, ev->req)->r.token_topk_cycles));
    default:
        return -1;
    }
}

/* Hand finished descriptors to the caller in issue order and free their slots. A descriptor
 * leaves once its output is written, its V buffer space has returned, and no token top-k
 * barrier will still move its completion time. */
static void retire_done(spk_cycle_engine *e) {
    while (e->retired < e->next_admit) {
        slot *s = at(e, (uint32_t)e->retired);
        if (!s->finished || !s->vfreed || (e->barrier && e->barrier_req == (uint32_t)e->retired))
            break;
        if (e->retire) e->retire(e->retire_ctx, e->retired, &s->r, &s->tm);
        e->retired++;
    }
}

/* Handle events until the next one is the admission of a descriptor not pushed yet (or, once
 * the input has ended, until none is left). */
static spk_cycle_status run_events(spk_cycle_engine *e) {
    while (heap_size(&e->heap)) {
        const event *top = heap_top(&e->heap);
        if (!e->ended && top->kind == EV_ADMIT && e->next_admit >= e->pushed &&
            top->req == (uint32_t)e->next_admit)
            break;
        event ev = heap_pop(&e->heap);
        e->now = key_time(ev.tk);
        if (dispatch(e, &ev)) return e->failed = SPK_CYCLE_E_NOMEM;
        if (ev.kind == EV_PV || ev.kind == EV_VFREE || ev.kind == EV_TOKTOPK) retire_done(e);
    }
    return SPK_CYCLE_OK;
}

static void summarize(spk_cycle_engine *e) {
    spk_cycle_stats *s = &e->stats;
    s->cycles = (uint64_t)ceil(e->end);
    s->dram_bytes = 0;
    double busy = 0;
    for (uint32_t c = 0; c < e->dram.channels; c++) {
        s->channel_bytes[c] = e->dram.bytes[c];
        s->dram_bytes += e->dram.bytes[c];
        busy += e->dram.busy[c];
    }
    s->busy_dram = busy / e->dram.channels;
    s->row_misses = e->dram.row_misses;
    s->ops = 2 * (s->events.qk_macs + s->events.pv_macs);
}

spk_cycle_status spk_cycle_engine_new(const spk_config *cfg, spk_cycle_retire_fn retire, void *ctx,
                                      spk_cycle_engine **out) {
    if (!cfg || !out) return SPK_CYCLE_E_ARG;
    *out = NULL;
    if (spk_config_check(cfg, NULL, 0) != 0) return SPK_CYCLE_E_CONFIG;
    spk_cycle_engine *e = calloc(1, sizeof *e);
    if (!e) return SPK_CYCLE_E_NOMEM;
    e->cfg = *cfg;
    e->qk_div = make_divisor(cfg->qk_multipliers);
    e->smx_div = make_divisor(cfg->softmax_per_cycle);
    e->pv_div = make_divisor(cfg->pv_multipliers);
    e->retire = retire;
    e->retire_ctx = ctx;
    spk_dram_init(&e->dram, cfg);
    e->mask = 255;
    e->ring = malloc((e->mask + 1) * sizeof *e->ring);
    e->topk_free = calloc(cfg->topk_engines, sizeof *e->topk_free);
    if (!e->ring || !e->topk_free || heap_push(&e->heap, 0, 0, EV_ADMIT)) {
        spk_cycle_engine_free(e);
        return SPK_CYCLE_E_NOMEM;
    }
    *out = e;
    return SPK_CYCLE_OK;
}

/* Double the window; each live descriptor moves to its slot under the new mask. */
static int grow_ring(spk_cycle_engine *e) {
    size_t cap = 2 * (e->mask + 1);
    if (cap > (size_t)UINT32_MAX) return -1;
    slot *ring = malloc(cap * sizeof *ring);
    if (!ring) return -1;
    for (uint64_t i = e->retired; i < e->pushed; i++) ring[i & (cap - 1)] = e->ring[i & e->mask];
    free(e->ring);
    e->ring = ring;
    e->mask = cap - 1;
    return 0;
}

/* step_overlap = 0: the engine takes a request only when the previous one is done (its
 * req_ready is "idle"), and a token top-k runs after the request that asks for it. */
static void run_serial(spk_cycle_engine *e, const spk_cycle_request *r) {
    spk_cycle_timing tm;
    double t = e->end;
    tm.admitted = t;
    t = spk_serial_request(&e->cfg, r, &e->dram, t, NULL, &e->stats);
    if (r->token_topk_cycles) {
        t += (double)r->token_topk_cycles;
        e->stats.busy_topk += (double)r->token_topk_cycles;
    }
    tm.done = t;
    e->end = e->now = t;
    if (e->retire) e->retire(e->retire_ctx, e->pushed, r, &tm);
    e->pushed++;
    e->next_admit = e->retired = e->pushed;
}

spk_cycle_status spk_cycle_engine_push(spk_cycle_engine *e, const spk_cycle_request *r) {
    if (!e || !r || e->ended) return SPK_CYCLE_E_ARG;
    if (e->failed) return e->failed;
    if (check_request(r)) return SPK_CYCLE_E_ARG;
    count_events(r, &e->stats);
    if (!e->cfg.step_overlap) {
        run_serial(e, r);
        return SPK_CYCLE_OK;
    }
    if (e->pushed - e->retired > e->mask && grow_ring(e)) return e->failed = SPK_CYCLE_E_NOMEM;
    slot *s = &e->ring[e->pushed & e->mask];
    memset(s, 0, sizeof *s);
    s->r = *r;
    e->pushed++;
    return run_events(e);
}

spk_cycle_status spk_cycle_engine_finish(spk_cycle_engine *e, spk_cycle_stats *stats) {
    if (!e || !stats) return SPK_CYCLE_E_ARG;
    if (e->failed) return e->failed;
    e->ended = 1;
    if (e->cfg.step_overlap) {
        spk_cycle_status st = run_events(e);
        if (st != SPK_CYCLE_OK) return st;
        retire_done(e);
    }
    summarize(e);
    *stats = e->stats;
    return SPK_CYCLE_OK;
}

double spk_cycle_engine_time(const spk_cycle_engine *e) {
    return e ? e->now : 0;
}

size_t spk_cycle_engine_window(const spk_cycle_engine *e) {
    return e ? (size_t)(e->pushed - e->retired) : 0;
}

void spk_cycle_engine_free(spk_cycle_engine *e) {
    if (!e) return;
    free(e->heap.v);
    free(e->ring);
    free(e->vwait.req);
    free(e->vwait.since);
    free(e->topk_free);
    free(e);
}

typedef struct {
    spk_cycle_timing *timing;
} run_ctx;

static void store_timing(void *ctx, uint64_t index, const spk_cycle_request *r,
                         const spk_cycle_timing *t) {
    (void)r;
    ((run_ctx *)ctx)->timing[index] = *t;
}

spk_cycle_status spk_cycle_run(const spk_config *cfg, const spk_cycle_request *reqs, size_t n,
                               spk_cycle_stats *stats, spk_cycle_timing *timing,
                               spk_cycle_progress_fn progress, void *ctx) {
    if (!cfg || !stats || (n && !reqs) || n > UINT32_MAX) return SPK_CYCLE_E_ARG;
    if (spk_config_check(cfg, NULL, 0) != 0) return SPK_CYCLE_E_CONFIG;
    memset(stats, 0, sizeof *stats);
    /* Every descriptor is checked before any is timed. */
    for (size_t i = 0; i < n; i++) {
        if (check_request(&reqs[i])) return SPK_CYCLE_E_ARG;
    }
    run_ctx rc = {timing};
    spk_cycle_engine *e;
    spk_cycle_status st = spk_cycle_engine_new(cfg, timing ? store_timing : NULL, &rc, &e);
    for (size_t i = 0; st == SPK_CYCLE_OK && i < n; i++) {
        st = spk_cycle_engine_push(e, &reqs[i]);
        if (st == SPK_CYCLE_OK && progress && ((i + 1) & 4095) == 0 &&
            progress(ctx, i + 1, n, spk_cycle_engine_time(e)))
            st = SPK_CYCLE_E_ABORTED;
    }
    if (st == SPK_CYCLE_OK) st = spk_cycle_engine_finish(e, stats);
    spk_cycle_engine_free(e);
    return st;
}

const char *spk_cycle_bound(const spk_cycle_stats *s) {
    if (!s || s->cycles == 0) return "latency";
    const char *names[] = {"dram", "qk", "softmax", "topk", "pv"};
    double busy[] = {s->busy_dram, s->busy_qk, s->busy_softmax, s->busy_topk, s->busy_pv};
    size_t best = 0;
    for (size_t i = 1; i < 5; i++) {
        if (busy[i] > busy[best]) best = i;
    }
    return busy[best] * 2 >= (double)s->cycles ? names[best] : "latency";
}

/* splitmix64: small, seedable, good enough for pivot ranks. */
static uint64_t next_random(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t spk_cycle_topk_model(uint64_t *state, uint32_t n, uint32_t k, uint32_t parallelism,
                              uint64_t *streamed) {
    if (streamed) *streamed = 0;
    if (k == 0 || k >= n || !state) return 0;
    if (parallelism == 0) parallelism = 1;
    /* Only ranks matter for distinct values: a uniformly random pivot has a uniformly random
     * number of larger candidates. rank is the wanted position counted from the largest. */
    uint64_t m = n, rank = k, cycles = 0;
    /* ceil(m / P) by a shift when P is a power of two (the presets' 16): a division per pass
     * was a tenth of a trace replay. */
    int shift = -1;
    if ((parallelism & (parallelism - 1)) == 0) {
        shift = 0;
        while ((1u << shift) < parallelism) shift++;
    }
    for (;;) {
        cycles +=
            (shift >= 0 ? (m + parallelism - 1) >> shift : (m + parallelism - 1) / parallelism) + 3;
        if (streamed) *streamed += m;
        uint64_t greater = ((next_random(state) >> 32) * m) >> 32;
        if (rank <= greater) {
            m = greater;
        } else if (rank == greater + 1) {
            return cycles;
        } else {
            rank -= greater + 1;
            m -= greater + 1;
        }
    }
}

const char *spk_cycle_status_str(spk_cycle_status s) {
    switch (s) {
    case SPK_CYCLE_OK:
        return "ok";
    case SPK_CYCLE_E_ARG:
        return "bad argument or request descriptor";
    case SPK_CYCLE_E_NOMEM:
        return "out of memory";
    case SPK_CYCLE_E_IO:
        return "file could not be opened, read or written";
    case SPK_CYCLE_E_FORMAT:
        return "malformed file";
    case SPK_CYCLE_E_CONFIG:
        return "configuration value out of range";
    case SPK_CYCLE_E_ABORTED:
        return "stopped by the progress callback";
    }
    return "unknown status";
}

void spk_cycle_stats_add(spk_cycle_stats *sum, const spk_cycle_stats *s) {
    sum->cycles += s->cycles;
    sum->requests += s->requests;
    sum->descriptors += s->descriptors;
    sum->requant_requests += s->requant_requests;
    sum->key_msb_transactions += s->key_msb_transactions;
    sum->key_lsb_transactions += s->key_lsb_transactions;
    sum->value_transactions += s->value_transactions;
    sum->dram_bytes += s->dram_bytes;
    for (unsigned c = 0; c < SPK_CYCLE_MAX_CHANNELS; c++)
        sum->channel_bytes[c] += s->channel_bytes[c];
    sum->row_misses += s->row_misses;
    sum->busy_dram += s->busy_dram;
    sum->busy_qk += s->busy_qk;
    sum->busy_softmax += s->busy_softmax;
    sum->busy_topk += s->busy_topk;
    sum->busy_pv += s->busy_pv;
    sum->stall_kbuf += s->stall_kbuf;
    sum->stall_vbuf += s->stall_vbuf;
    sum->ops += s->ops;
    spk_cycle_events *e = &sum->events;
    const spk_cycle_events *f = &s->events;
    e->qk_macs += f->qk_macs;
    e->pv_macs += f->pv_macs;
    e->softmax_elems += f->softmax_elems;
    e->topk_compares += f->topk_compares;
    e->importance_adds += f->importance_adds;
    e->kbuf_write_bytes += f->kbuf_write_bytes;
    e->kbuf_read_bytes += f->kbuf_read_bytes;
    e->vbuf_write_bytes += f->vbuf_write_bytes;
    e->vbuf_read_bytes += f->vbuf_read_bytes;
}
