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
    double t;
    uint64_t seq; /* tie-break: equal times keep their scheduling order */
    uint32_t req;
    uint32_t kind;
} event;

typedef struct {
    event *v;
    size_t n, cap;
    uint64_t seq;
} event_heap;

static int ev_less(const event *a, const event *b) {
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static int heap_push(event_heap *h, double t, uint32_t req, uint32_t kind) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        event *v = realloc(h->v, cap * sizeof *v);
        if (!v) return -1;
        h->v = v;
        h->cap = cap;
    }
    event e = {t, h->seq++, req, kind};
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ev_less(&e, &h->v[p])) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = e;
    return 0;
}

static event heap_pop(event_heap *h) {
    event top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && ev_less(&h->v[c + 1], &h->v[c])) c++;
        if (!ev_less(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n) h->v[i] = last;
    return top;
}

typedef struct {
    double k_first, k_last; /* data times of the current key fetch */
    double kbuf, vbuf;      /* buffer bytes held */
    uint32_t pass;          /* 0: MSB pass, 1: LSB recompute */
} req_state;

typedef struct {
    const spk_config *cfg;
    const spk_cycle_request *reqs;
    size_t n;
    req_state *st;
    event_heap heap;
    spk_dram dram;
    spk_cycle_stats *stats;
    spk_cycle_timing *timing;
    double qk_free, smx_free, pv_free;
    double *topk_free;
    double kbuf_used, vbuf_used;
    size_t next_admit; /* the front end admits requests in order */
    int front_blocked; /* waiting for K buffer space */
    double blocked_since;
    uint32_t *vwait; /* FIFO of requests waiting for V buffer space */
    double *vwait_since;
    size_t vwait_head, vwait_tail;
    size_t in_flight;     /* admitted, output not yet written */
    int barrier;          /* token top-k barrier: admission waits for the pipeline to drain */
    uint32_t barrier_req; /* the request whose token top-k the next layer waits for */
    double end;
} engine;

static double ceil_div(uint64_t a, uint64_t b) {
    return (double)((a + b - 1) / b);
}

static double kbuf_need(const engine *e, const spk_cycle_request *r) {
    uint64_t tr = r->key_msb_transactions + (r->lsb_upfront ? r->key_lsb_transactions : 0);
    double bytes = (double)(tr * SPK_CYCLE_TRANSACTION_BYTES);
    /* A request larger than the buffer streams through all of it. */
    return bytes > e->cfg->key_buffer_bytes ? e->cfg->key_buffer_bytes : bytes;
}

static double vbuf_need(const engine *e, const spk_cycle_request *r) {
    double bytes = (double)(r->value_transactions * SPK_CYCLE_TRANSACTION_BYTES);
    return bytes > e->cfg->value_buffer_bytes ? e->cfg->value_buffer_bytes : bytes;
}

static int admit(engine *e, uint32_t req, double t) {
    size_t j = e->next_admit;
    if (j >= e->n || req != j || e->barrier) return 0; /* stale retry, or draining */
    const spk_cycle_request *r = &e->reqs[j];
    double need = kbuf_need(e, r);
    if (e->kbuf_used + need > e->cfg->key_buffer_bytes && e->kbuf_used > 0) {
        if (!e->front_blocked) e->blocked_since = t;
        e->front_blocked = 1;
        return 0;
    }
    if (e->front_blocked) e->stats->stall_kbuf += t - e->blocked_since;
    e->front_blocked = 0;
    e->kbuf_used += need;
    e->st[j].kbuf = need;
    e->next_admit++;
    if (e->timing) e->timing[j].admitted = t;
    double first, last;
    spk_dram_fetch(&e->dram, t, r->key_msb_addr, r->key_msb_transactions, &first, &last);
    if (r->lsb_upfront && r->key_lsb_transactions) {
        double f2, l2;
        spk_dram_fetch(&e->dram, t, r->key_lsb_addr, r->key_lsb_transactions, &f2, &l2);
        if (l2 > last) last = l2;
        if (f2 > first) first = f2; /* QK needs both planes of a key */
    }
    e->st[j].k_first = first;
    e->st[j].k_last = last;
    if (heap_push(&e->heap, first, (uint32_t)j, EV_QK)) return -1;
    e->in_flight++;
    if (e->cfg->token_topk_barrier && r->token_topk_cycles) {
        /* Cascade pruning: the next layer's keys are chosen by this token top-k, which needs
         * the importance of every request in flight. */
        e->barrier = 1;
        e->barrier_req = (uint32_t)j;
        return 0;
    }
    if (e->next_admit < e->n &&
        heap_push(&e->heap, t + e->cfg->issue_interval, (uint32_t)e->next_admit, EV_ADMIT))
        return -1;
    return 0;
}

static int on_qk(engine *e, uint32_t j, double t) {
    const spk_cycle_request *r = &e->reqs[j];
    req_state *s = &e->st[j];
    uint64_t keys = s->pass ? r->requant_keys : (uint64_t)r->heads * r->keys;
    double work = ceil_div(keys * r->d, e->cfg->qk_multipliers);
    double start = t > e->qk_free ? t : e->qk_free;
    double end = start + work;
    if (s->k_last > end) end = s->k_last; /* the unit streams: it cannot outrun its data */
    e->qk_free = end;
    e->stats->busy_qk += work;
    return heap_push(&e->heap, end + e->cfg->qk_latency, j, EV_SOFTMAX);
}

static int on_softmax(engine *e, uint32_t j, double t) {
    const spk_cycle_request *r = &e->reqs[j];
    uint64_t scores = e->st[j].pass ? r->requant_keys : (uint64_t)r->heads * r->keys;
    double work = e->cfg->softmax_passes * ceil_div(scores, e->cfg->softmax_per_cycle);
    double start = t > e->smx_free ? t : e->smx_free;
    e->smx_free = start + work;
    e->stats->busy_softmax += work;
    double decide = e->smx_free + e->cfg->softmax_latency + e->cfg->requant_latency;
    return heap_push(&e->heap, decide, j, EV_DECIDE);
}

static double topk_run(engine *e, double t, uint64_t cycles) {
    uint32_t best = 0;
    for (uint32_t i = 1; i < e->cfg->topk_engines; i++) {
        if (e->topk_free[i] < e->topk_free[best]) best = i;
    }
    double start = t > e->topk_free[best] ? t : e->topk_free[best];
    e->topk_free[best] = start + (double)cycles;
    e->stats->busy_topk += (double)cycles / e->cfg->topk_engines;
    return e->topk_free[best];
}

static int on_decide(engine *e, uint32_t j, double t) {
    const spk_cycle_request *r = &e->reqs[j];
    req_state *s = &e->st[j];
    if (s->pass == 0 && r->requant_heads && !r->lsb_upfront) {
        /* Progressive quantization: refetch the LSB plane of the same keys, recompute once. */
        s->pass = 1;
        spk_dram_fetch(&e->dram, t, r->key_lsb_addr, r->key_lsb_transactions, &s->k_first,
                       &s->k_last);
        return heap_push(&e->heap, s->k_first, j, EV_QK);
    }
    /* Keys are no longer needed: their buffer space returns and may unblock the front end. */
    e->kbuf_used -= s->kbuf;
    s->kbuf = 0;
    if (e->front_blocked && heap_push(&e->heap, t, (uint32_t)e->next_admit, EV_ADMIT)) return -1;
    double ready = r->local_topk_cycles ? topk_run(e, t, r->local_topk_cycles) : t;
    return heap_push(&e->heap, ready, j, EV_VALLOC);
}

static int start_value_fetch(engine *e, uint32_t j, double t) {
    const spk_cycle_request *r = &e->reqs[j];
    req_state *s = &e->st[j];
    s->vbuf = vbuf_need(e, r);
    e->vbuf_used += s->vbuf;
    double first, last;
    spk_dram_fetch(&e->dram, t, r->value_addr, r->value_transactions, &first, &last);
    s->k_first = first;
    s->k_last = last; /* reused for the value data times */
    return heap_push(&e->heap, first, j, EV_PV);
}

static int vbuf_fits(const engine *e, uint32_t j) {
    return e->vbuf_used == 0 ||
           e->vbuf_used + vbuf_need(e, &e->reqs[j]) <= e->cfg->value_buffer_bytes;
}

static int on_valloc(engine *e, uint32_t j, double t) {
    if (e->vwait_head == e->vwait_tail && vbuf_fits(e, j)) return start_value_fetch(e, j, t);
    e->vwait[e->vwait_tail] = j;
    e->vwait_since[e->vwait_tail++] = t;
    return 0;
}

static int on_vfree(engine *e, uint32_t j, double t) {
    e->vbuf_used -= e->st[j].vbuf;
    e->st[j].vbuf = 0;
    while (e->vwait_head < e->vwait_tail && vbuf_fits(e, e->vwait[e->vwait_head])) {
        e->stats->stall_vbuf += t - e->vwait_since[e->vwait_head];
        if (start_value_fetch(e, e->vwait[e->vwait_head++], t)) return -1;
    }
    return 0;
}

static int finish(engine *e, uint32_t j, double done) {
    if (e->timing) e->timing[j].done = done;
    if (done > e->end) e->end = done;
    e->in_flight--;
    if (!e->barrier || e->in_flight) return 0;
    /* Drained: run the token top-k, then the front end resumes. */
    e->barrier = 0;
    e->end = topk_run(e, e->end, e->reqs[e->barrier_req].token_topk_cycles);
    if (e->timing) e->timing[e->barrier_req].done = e->end;
    if (e->next_admit >= e->n) return 0;
    return heap_push(&e->heap, e->end, (uint32_t)e->next_admit, EV_ADMIT);
}

static int on_pv(engine *e, uint32_t j, double t) {
    const spk_cycle_request *r = &e->reqs[j];
    double work = ceil_div((uint64_t)r->heads * r->values * r->d, e->cfg->pv_multipliers);
    double start = t > e->pv_free ? t : e->pv_free;
    double end = start + work;
    if (e->st[j].k_last > end) end = e->st[j].k_last;
    e->pv_free = end;
    e->stats->busy_pv += work;
    if (heap_push(&e->heap, end, j, EV_VFREE)) return -1;
    double done = end + e->cfg->pv_latency + e->cfg->output_latency;
    if (r->token_topk_cycles && !e->cfg->token_topk_barrier)
        return heap_push(&e->heap, done, j, EV_TOKTOPK);
    return finish(e, j, done);
}

static void count_events(const spk_config *cfg, const spk_cycle_request *r, spk_cycle_stats *s) {
    (void)cfg;
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

static int dispatch(engine *e, const event *ev) {
    switch (ev->kind) {
    case EV_ADMIT:
        return admit(e, ev->req, ev->t);
    case EV_QK:
        return on_qk(e, ev->req, ev->t);
    case EV_SOFTMAX:
        return on_softmax(e, ev->req, ev->t);
    case EV_DECIDE:
        return on_decide(e, ev->req, ev->t);
    case EV_VALLOC:
        return on_valloc(e, ev->req, ev->t);
    case EV_PV:
        return on_pv(e, ev->req, ev->t);
    case EV_VFREE:
        return on_vfree(e, ev->req, ev->t);
    case EV_TOKTOPK:
        return finish(e, ev->req, topk_run(e, ev->t, e->reqs[ev->req].token_topk_cycles));
    default:
        return -1;
    }
}

static void summarize(engine *e) {
    spk_cycle_stats *s = e->stats;
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

/* step_overlap = 0: the engine takes a request only when the previous one is done (its
 * req_ready is "idle"), and a token top-k runs after the request that asks for it. */
static spk_cycle_status run_serial(const spk_config *cfg, const spk_cycle_request *reqs, size_t n,
                                   spk_cycle_stats *stats, spk_cycle_timing *timing,
                                   spk_cycle_progress_fn progress, void *ctx) {
    engine e;
    memset(&e, 0, sizeof e);
    e.cfg = cfg;
    e.stats = stats;
    spk_dram_init(&e.dram, cfg);
    double t = 0;
    for (size_t i = 0; i < n; i++) {
        if (timing) timing[i].admitted = t;
        t = spk_serial_request(cfg, &reqs[i], &e.dram, t, NULL, stats);
        if (reqs[i].token_topk_cycles) {
            t += (double)reqs[i].token_topk_cycles;
            stats->busy_topk += (double)reqs[i].token_topk_cycles;
        }
        if (timing) timing[i].done = t;
        if (progress && ((i + 1) & 4095) == 0 && progress(ctx, i + 1, n, t))
            return SPK_CYCLE_E_ABORTED;
    }
    e.end = t;
    summarize(&e);
    return SPK_CYCLE_OK;
}

spk_cycle_status spk_cycle_run(const spk_config *cfg, const spk_cycle_request *reqs, size_t n,
                               spk_cycle_stats *stats, spk_cycle_timing *timing,
                               spk_cycle_progress_fn progress, void *ctx) {
    if (!cfg || !stats || (n && !reqs) || n > UINT32_MAX) return SPK_CYCLE_E_ARG;
    if (spk_config_check(cfg, NULL, 0) != 0) return SPK_CYCLE_E_CONFIG;
    memset(stats, 0, sizeof *stats);
    for (size_t i = 0; i < n; i++) {
        if (check_request(&reqs[i])) return SPK_CYCLE_E_ARG;
        count_events(cfg, &reqs[i], stats);
    }
    if (!cfg->step_overlap) return run_serial(cfg, reqs, n, stats, timing, progress, ctx);
    engine e;
    memset(&e, 0, sizeof e);
    e.cfg = cfg;
    e.reqs = reqs;
    e.n = n;
    e.stats = stats;
    e.timing = timing;
    spk_dram_init(&e.dram, cfg);
    e.st = calloc(n ? n : 1, sizeof *e.st);
    e.vwait = calloc(n ? n : 1, sizeof *e.vwait);
    e.vwait_since = calloc(n ? n : 1, sizeof *e.vwait_since);
    e.topk_free = calloc(cfg->topk_engines, sizeof *e.topk_free);
    spk_cycle_status rc = SPK_CYCLE_OK;
    if (!e.st || !e.vwait || !e.vwait_since || !e.topk_free) rc = SPK_CYCLE_E_NOMEM;
    if (rc == SPK_CYCLE_OK && n && heap_push(&e.heap, 0, 0, EV_ADMIT)) rc = SPK_CYCLE_E_NOMEM;
    size_t handled = 0;
    while (rc == SPK_CYCLE_OK && e.heap.n) {
        event ev = heap_pop(&e.heap);
        if (dispatch(&e, &ev)) rc = SPK_CYCLE_E_NOMEM;
        if (progress && ev.kind == EV_ADMIT && (++handled & 4095) == 0 &&
            progress(ctx, e.next_admit, n, ev.t))
            rc = SPK_CYCLE_E_ABORTED;
    }
    if (rc == SPK_CYCLE_OK) summarize(&e);
    free(e.heap.v);
    free(e.st);
    free(e.vwait);
    free(e.vwait_since);
    free(e.topk_free);
    return rc;
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
    for (;;) {
        cycles += (m + parallelism - 1) / parallelism + 3;
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
