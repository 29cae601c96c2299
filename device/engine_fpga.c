/* The fpga engine: head requests and the importance bank on a board behind the UART bridge
 * (docs/device.md, "The headless split"; docs/fpga.md). The firmware and the engine front-end
 * run on the host (the emulated device); per head request this file stages what the request
 * reads from device DRAM into board memory, rewrites the descriptor's addresses into board
 * memory, starts HEAD_REQ, polls ENG_STATUS with a bounded wait and reads the results.
 *
 * Board memory holds a shadow of what was sent: only words that differ are sent, so the
 * descriptor costs its changed fields and a KV cache that grows by a token costs that token's
 * rows. Each (layer, K/V head) plane set gets its own slot (chosen by its DRAM address, least
 * recently used slot reused), so switching heads does not send the planes again.
 *
 * What the board cannot do is refused, never done in C: it has no prune unit (prune = NULL: the
 * front-end refuses a PRUNE that would remove anything) and exports no logits (the last-step
 * policy is refused). The bank's entries are added into the context's importance by the
 * front-end with the golden saturating rule, as on model/sim: the context state lives with the
 * firmware, on the host. */
#define _DEFAULT_SOURCE /* usleep */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine_impl.h"
#include "fpga_link.h"
#include "spk/board_map.h"
#include "spk/regs.h"
#include "spkdev/fpga.h"

#define FPGA_SLOWDOWN 1000000u /* host seconds per device second, roughly (UART-bound) */
#define DESC_AT 0u             /* board-memory layout: descriptor, key list, query, slots */
#define DESC_BYTES 128u
#define MAX_SLOTS 64u
#define IMP_BLOCK 32u /* importance entries read per frame */
#define MERGE_GAP 3u  /* unchanged words sent rather than starting a new frame (11 bytes) */

typedef struct slot {
    uint32_t src;  /* DRAM address of the K MSB plane of its (layer, K/V head); 0: free */
    uint64_t used; /* LRU stamp */
} slot;

typedef struct fpga_engine {
    spkdev_engine_impl impl;
    spk_link *link;
    spkdev_read_fn read;
    void *read_ctx;
    uint32_t mem_bytes, clock_khz, dmax, nmax, ntok, nhead;
    uint32_t *shadow; /* board memory as the host believes it is */
    uint8_t *known;   /* per word: shadow valid */
    uint32_t *want;   /* staging image of a range */
    uint8_t *bytes;   /* DRAM bytes of a range */
    uint32_t keys_at, q_at, slots_at, slot_bytes, n_slots, rows;
    uint32_t row_msb, row_lsb;
    slot slots[MAX_SLOTS];
    uint64_t stamp;
    uint64_t *imp;       /* cached bank entries */
    uint8_t *imp_valid;  /* per block */
    int desc_reg_valid;  /* ENG_DESC holds DESC_AT */
    spk_head_config cfg; /* of the layer */
    spkdev_fpga_stats st;
    spkdev_fpga_fail fail;
    char fail_msg[600];
    spkdev_fpga_fail dead; /* the link failed: every later operation fails at once */
    char dead_msg[600];
} fpga_engine;

/* ---- which device has which board (the backend asks by device) ---------------------------- */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    void *dev;
    fpga_engine *eng;
} boards[64];
static _Thread_local spkdev_fpga_fail open_fail;

static fpga_engine *board_of(void *dev) {
    fpga_engine *f = NULL;
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < sizeof(boards) / sizeof(boards[0]) && !f; i++)
        if (boards[i].dev == dev && dev) f = boards[i].eng;
    pthread_mutex_unlock(&reg_lock);
    return f;
}

static void board_set(void *dev, fpga_engine *eng, fpga_engine *old) {
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < sizeof(boards) / sizeof(boards[0]); i++)
        if (boards[i].eng == old) {
            boards[i].dev = eng ? dev : NULL, boards[i].eng = eng;
            break;
        }
    pthread_mutex_unlock(&reg_lock);
}

spkdev_fpga_fail spkdev_fpga_take_failure(spkdev *dev, char *msg, size_t len) {
    fpga_engine *f = board_of(dev);
    if (!f || f->fail == SPKDEV_FPGA_OK) return SPKDEV_FPGA_OK;
    const spkdev_fpga_fail k = f->fail;
    if (len) snprintf(msg, len, "%s", f->fail_msg);
    f->fail = SPKDEV_FPGA_OK;
    return k;
}

int spkdev_fpga_get_stats(spkdev *dev, spkdev_fpga_stats *s) {
    fpga_engine *f = board_of(dev);
    if (!f) return -1;
    spk_link_counters ls;
    spk_link_get_stats(f->link, &ls);
    *s = f->st;
    s->tx_bytes = ls.tx_bytes, s->rx_bytes = ls.rx_bytes, s->frames = ls.frames;
    s->retries = ls.retries, s->resyncs = ls.resyncs;
    return 0;
}

spkdev_fpga_fail spkdev_fpga_open_failure(void) {
    return open_fail;
}

/* ---- failures ----------------------------------------------------------------------------- */
/* A link failure: remember it for the host (SPK_E_IO / SPK_E_TIMEOUT) and forget what the board
 * holds (a write may or may not have landed). */
static int link_failed(fpga_engine *f, char *err, size_t err_len) {
    f->fail =
        spk_link_failure(f->link) == SPK_LINK_E_TIMEOUT ? SPKDEV_FPGA_TIMEOUT : SPKDEV_FPGA_IO;
    snprintf(f->fail_msg, sizeof(f->fail_msg), "%s", spk_link_error(f->link));
    /* The board's state is unknown now (an operation may or may not have started): the device
     * stays failed until it is opened again, rather than paying a timeout per operation. */
    f->dead = f->fail;
    snprintf(f->dead_msg, sizeof(f->dead_msg), "%.500s (the device must be reopened)", f->fail_msg);
    memset(f->known, 0, f->mem_bytes / 4);
    memset(f->imp_valid, 0, (f->ntok + f->nhead + IMP_BLOCK - 1) / IMP_BLOCK);
    f->desc_reg_valid = 0;
    if (err_len) snprintf(err, err_len, "%s", f->fail_msg);
    return -1;
}

/* A request the board cannot take (LIMIT, the message names the limit) or that the board
 * refused (REFUSED): the link is fine. */
static int note(fpga_engine *f, spkdev_fpga_fail kind, char *err, size_t err_len, const char *fmt,
                ...) __attribute__((format(printf, 5, 6)));
static int note(fpga_engine *f, spkdev_fpga_fail kind, char *err, size_t err_len, const char *fmt,
                ...) {
    char m[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof(m), fmt, ap);
    va_end(ap);
    f->fail = kind;
    snprintf(f->fail_msg, sizeof(f->fail_msg), "engine fpga on %s: %s", spk_link_port(f->link), m);
    if (err_len) snprintf(err, err_len, "%s", f->fail_msg);
    return -1;
}
#define refuse(err, err_len, ...) note(f, SPKDEV_FPGA_LIMIT, err, err_len, __VA_ARGS__)

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* An operation on a board whose link failed before: fail at once with the first failure. */
static int still_dead(fpga_engine *f, char *err, size_t err_len) {
    if (!f->dead) return 0;
    f->fail = f->dead;
    snprintf(f->fail_msg, sizeof(f->fail_msg), "%s", f->dead_msg);
    if (err_len) snprintf(err, err_len, "%s", f->fail_msg);
    return 1;
}

/* ---- staging with the shadow -------------------------------------------------------------- */
/* Make board words [w0, w0 + n) equal to want[0..n): send the runs that differ from the shadow
 * (gaps of a few equal words are sent along rather than opening a frame). */
static int sync_words(fpga_engine *f, uint32_t w0, const uint32_t *want, uint32_t n, char *err,
                      size_t err_len) {
    uint32_t i = 0;
    while (i < n) {
        while (i < n && f->known[w0 + i] && f->shadow[w0 + i] == want[i]) i++;
        if (i == n) break;
        uint32_t end = i + 1, same = 0;
        for (uint32_t j = i + 1; j < n && same <= MERGE_GAP; j++) {
            if (f->known[w0 + j] && f->shadow[w0 + j] == want[j]) {
                same++;
            } else {
                same = 0;
                end = j + 1;
            }
        }
        if (spk_link_write(f->link, SPK_BOARD_WIN_MEM_BASE + 4u * (w0 + i), want + i, end - i, 0))
            return link_failed(f, err, err_len);
        for (uint32_t j = i; j < end; j++) f->shadow[w0 + j] = want[j], f->known[w0 + j] = 1;
        f->st.staged_bytes += 4ull * (end - i);
        i = end;
    }
    return 0;
}

/* Board bytes [at, at + len) := DRAM bytes [src, src + len): words partly outside the range keep
 * the shadow's bytes. */
static int stage(fpga_engine *f, uint32_t at, uint64_t src, uint32_t len, char *err,
                 size_t err_len) {
    if (!len) return 0;
    const uint32_t w0 = at / 4, w1 = (at + len + 3) / 4;
    for (uint32_t w = w0; w < w1; w++) f->want[w - w0] = f->known[w] ? f->shadow[w] : 0;
    uint8_t *img = (uint8_t *)f->want; /* little-endian words, as the engine reads bytes */
    if (f->read(f->read_ctx, src, f->bytes, len)) {
        return note(f, SPKDEV_FPGA_LIMIT, err, err_len,
                    "operand at DRAM 0x%llx (%u bytes) outside DRAM", (unsigned long long)src, len);
    }
    memcpy(img + (at - 4 * w0), f->bytes, len);
    const uint64_t before = f->st.staged_bytes;
    if (sync_words(f, w0, f->want, w1 - w0, err, err_len)) return -1;
    const uint64_t sent = f->st.staged_bytes - before;
    f->st.skipped_bytes += 4ull * (w1 - w0) > sent ? 4ull * (w1 - w0) - sent : 0;
    return 0;
}

/* The board-memory layout for rows of the layer's sizes: fixed part, then slots of
 * 2 * (msb + lsb row) + 2 scale words per token row. */
static void layout(fpga_engine *f, uint32_t row_msb, uint32_t row_lsb) {
    if (row_msb == f->row_msb && row_lsb == f->row_lsb && f->n_slots) return;
    f->row_msb = row_msb, f->row_lsb = row_lsb;
    f->keys_at = DESC_AT + DESC_BYTES;
    f->q_at = f->keys_at + ((2u * f->nmax + 31u) & ~31u);
    f->slots_at = f->q_at + ((2u * f->dmax + 31u) & ~31u);
    f->rows = f->ntok < f->nmax ? f->ntok : f->nmax;
    const uint64_t per_row = 2ull * (row_msb + row_lsb) + 8u;
    f->slot_bytes = (uint32_t)((per_row * f->rows + 31u) & ~31ull);
    const uint32_t room = f->mem_bytes > f->slots_at ? f->mem_bytes - f->slots_at : 0;
    f->n_slots = f->slot_bytes ? room / f->slot_bytes : 0;
    if (f->n_slots > MAX_SLOTS) f->n_slots = MAX_SLOTS;
    memset(f->slots, 0, sizeof(f->slots));
}

static uint32_t slot_for(fpga_engine *f, uint32_t src) {
    uint32_t best = 0;
    for (uint32_t i = 0; i < f->n_slots; i++) {
        if (f->slots[i].src == src && f->slots[i].used) {
            best = i;
            goto found;
        }
        if (f->slots[i].used < f->slots[best].used) best = i;
    }
    f->slots[best].src = src;
found:
    f->slots[best].used = ++f->stamp;
    return f->slots_at + best * f->slot_bytes;
}

/* ---- head request ------------------------------------------------------------------------- */
static const char *reason_name(uint32_t r) {
    switch (r) {
    case SPK_ERR_DMA:
        return "ERR_DMA (descriptor or operand outside board memory)";
    case SPK_ERR_ENGINE:
        return "ERR_ENGINE (descriptor refused)";
    case SPK_ERR_UNSUPPORTED:
        return "ERR_UNSUPPORTED";
    default:
        return "unknown reason";
    }
}

/* Wait for ENG_STATUS to leave BUSY within the link timeout. */
static int wait_done(fpga_engine *f, uint32_t *status, char *err, size_t err_len) {
    const double deadline = now_ms() + spk_link_timeout_ms(f->link);
    for (unsigned polls = 0;; polls++) {
        if (spk_link_read32(f->link, SPK_BOARD_ENG_ENG_STATUS, status))
            return link_failed(f, err, err_len);
        if (!(*status & 1u << SPK_ENG_STATUS_BUSY_BIT) && (*status & 1u << SPK_ENG_STATUS_DONE_BIT))
            return 0;
        if (now_ms() > deadline) {
            spk_link_set_error(f->link, SPK_LINK_E_TIMEOUT,
                               "engine still busy after %u ms (ENG_STATUS 0x%08x, %u polls)",
                               spk_link_timeout_ms(f->link), *status, polls + 1);
            return link_failed(f, err, err_len);
        }
        if (polls > 2) usleep(200);
    }
}

static int fpga_head(spkdev_engine_impl *impl, const spk_eng_head_req *req, spkdev_head_result *res,
                     char *err, size_t err_len) {
    fpga_engine *f = (fpga_engine *)impl;
    const uint32_t n = req->n_keys, d = req->d;
    if (still_dead(f, err, err_len)) return -1;
    if (d > f->dmax)
        return refuse(err, err_len, "head dimension %u beyond the board's DMAX %u", d, f->dmax);
    if (n > f->nmax) return refuse(err, err_len, "%u keys beyond the board's NMAX %u", n, f->nmax);
    if (req->head >= f->nhead)
        return refuse(err, err_len, "head %u beyond the board's NHEAD %u", req->head, f->nhead);
    if (req->msb_bits > 12 || req->lsb_bits > 12)
        return refuse(err, err_len, "plane bits %u/%u beyond 12", req->msb_bits, req->lsb_bits);
    const uint32_t row_msb = spk_plane_row_bytes(d, req->msb_bits);
    const uint32_t row_lsb = spk_plane_row_bytes(d, req->lsb_bits);
    layout(f, row_msb, row_lsb);
    if (!f->n_slots)
        return refuse(err, err_len, "board memory of %u bytes holds no K/V slot of %u bytes",
                      f->mem_bytes, f->slot_bytes);
    /* The key list decides which rows the engine reads. */
    uint16_t keys[SPK_LINK_MAX_WORDS * 2];
    if (n > sizeof(keys) / sizeof(keys[0]))
        return refuse(err, err_len, "%u keys beyond %u", n, (unsigned)(sizeof(keys) / 2));
    uint32_t lo = 0, hi = 0;
    if (req->key_list) {
        if (n && f->read(f->read_ctx, req->keys_base, keys, 2u * n))
            return refuse(err, err_len, "key list at 0x%x outside DRAM", req->keys_base);
    } else {
        for (uint32_t j = 0; j < n; j++) keys[j] = (uint16_t)(req->key_base + j);
    }
    for (uint32_t j = 0; j < n; j++) {
        if (j == 0 || keys[j] < lo) lo = keys[j];
        if (keys[j] + 1u > hi) hi = keys[j] + 1u;
    }
    if (hi > f->rows)
        return refuse(err, err_len, "token %u beyond the %u K/V rows a board-memory slot holds",
                      hi - 1, f->rows);
    const uint32_t base = slot_for(f, req->k_msb_base);
    const uint32_t k_msb = base, v_msb = k_msb + f->rows * row_msb;
    const uint32_t k_lsb = v_msb + f->rows * row_msb, v_lsb = k_lsb + f->rows * row_lsb;
    const uint32_t k_sc = v_lsb + f->rows * row_lsb, v_sc = k_sc + f->rows * 4u;
    spk_eng_head_req b = *req;
    b.keys_base = f->keys_at, b.q_base = f->q_at;
    b.k_msb_base = k_msb, b.v_msb_base = v_msb, b.k_lsb_base = k_lsb, b.v_lsb_base = v_lsb;
    b.k_scale_base = k_sc, b.v_scale_base = v_sc;
    const uint32_t span = hi - lo;
    const uint64_t staged0 = f->st.staged_bytes;
    if ((req->key_list && stage(f, f->keys_at, req->keys_base, 2u * n, err, err_len)) ||
        stage(f, f->q_at, req->q_base, 2u * d, err, err_len) ||
        (n && (stage(f, k_msb + lo * row_msb, req->k_msb_base + (uint64_t)lo * row_msb,
                     span * row_msb, err, err_len) ||
               stage(f, v_msb + lo * row_msb, req->v_msb_base + (uint64_t)lo * row_msb,
                     span * row_msb, err, err_len) ||
               stage(f, k_lsb + lo * row_lsb, req->k_lsb_base + (uint64_t)lo * row_lsb,
                     span * row_lsb, err, err_len) ||
               stage(f, v_lsb + lo * row_lsb, req->v_lsb_base + (uint64_t)lo * row_lsb,
                     span * row_lsb, err, err_len) ||
               stage(f, k_sc + lo * 4u, req->k_scale_base + (uint64_t)lo * 4u, span * 4u, err,
                     err_len) ||
               stage(f, v_sc + lo * 4u, req->v_scale_base + (uint64_t)lo * 4u, span * 4u, err,
                     err_len))))
        return -1;
    uint32_t words[sizeof(b) / 4];
    memcpy(words, &b, sizeof(b));
    if (sync_words(f, DESC_AT / 4, words, sizeof(b) / 4, err, err_len)) return -1;
    const uint32_t desc = DESC_AT,
                   go = SPK_ENG_OP_HEAD_REQ << SPK_ENG_CMD_OP_OFFSET | 1u << SPK_ENG_CMD_GO_BIT;
    if (!f->desc_reg_valid) {
        if (spk_link_write(f->link, SPK_BOARD_ENG_ENG_DESC, &desc, 1, 0))
            return link_failed(f, err, err_len);
        f->desc_reg_valid = 1;
    }
    if (spk_link_write(f->link, SPK_BOARD_ENG_ENG_CMD, &go, 1, 1))
        return link_failed(f, err, err_len);
    /* The bank changes with every request. */
    memset(f->imp_valid, 0, (f->ntok + f->nhead + IMP_BLOCK - 1) / IMP_BLOCK);
    uint32_t status = 0;
    if (wait_done(f, &status, err, err_len)) return -1;
    if (status & 1u << SPK_ENG_STATUS_ERROR_BIT) {
        const uint32_t reason = status >> SPK_ENG_STATUS_REASON_OFFSET & SPK_ENG_STATUS_REASON_MASK;
        return note(f, SPKDEV_FPGA_REFUSED, err, err_len,
                    "head request ended with %s (ENG_STATUS 0x%08x)", reason_name(reason), status);
    }
    uint32_t rec[9];
    if (spk_link_read(f->link, SPK_BOARD_REG_RES_TAG, rec, 9)) return link_failed(f, err, err_len);
    if (rec[1] & 6u) {
        return note(f, SPKDEV_FPGA_REFUSED, err, err_len, "%s",
                    rec[1] & 2u ? "descriptor refused (bad_cmd)"
                                : "bus error on a board-memory read");
    }
    uint32_t out[SPK_MAX_D], probs[SPK_LINK_MAX_WORDS * 2];
    if ((d && spk_link_read(f->link, SPK_BOARD_REG_RES_OUT, out, d)) ||
        (n && spk_link_read(f->link, SPK_BOARD_REG_RES_PROB, probs, n)))
        return link_failed(f, err, err_len);
    for (uint32_t i = 0; i < d; i++) res->out[i] = (int32_t)out[i];
    for (uint32_t j = 0; j < n; j++) res->probs[j] = (uint16_t)probs[j];
    const uint32_t e10 = rec[5] & 0x3ffu;
    res->out_exp = e10 & 0x200u ? (int32_t)e10 - 1024 : (int32_t)e10;
    res->head_importance = (uint64_t)(rec[7] & 0xffffu) << 32 | rec[6];
    memset(&res->ev, 0, sizeof(res->ev));
    const int requant = rec[1] & 1u;
    res->ev.keys_fetched = rec[2] & 0xffffu;
    res->ev.keys_refetched = requant ? res->ev.keys_fetched : 0;
    res->ev.values_fetched = rec[3] & 0xffffu;
    res->ev.requant = (uint8_t)requant;
    res->ev.v_with_lsb = (uint8_t)(requant && req->lsb_bits);
    /* The bytes this request moved into board memory: the headless split's DRAM traffic. */
    res->dram_bytes = f->st.staged_bytes - staged0;
    res->cycles = (uint64_t)rec[8] * 1000000u / (f->clock_khz ? f->clock_khz : 1u);
    f->st.requests++;
    return 0;
}

/* ---- importance bank ---------------------------------------------------------------------- */
static int fpga_imp_clear(spkdev_engine_impl *impl, char *err, size_t err_len) {
    fpga_engine *f = (fpga_engine *)impl;
    const uint32_t one = 1;
    if (still_dead(f, err, err_len)) return -1;
    if (spk_link_write(f->link, SPK_BOARD_REG_IMP_CLEAR, &one, 1, 0))
        return link_failed(f, err, err_len);
    const double deadline = now_ms() + spk_link_timeout_ms(f->link);
    for (;;) {
        uint32_t busy = 0;
        if (spk_link_read32(f->link, SPK_BOARD_REG_IMP_CLEAR, &busy))
            return link_failed(f, err, err_len);
        if (!busy) break;
        if (now_ms() > deadline) {
            spk_link_set_error(f->link, SPK_LINK_E_TIMEOUT, "importance clear not done after %u ms",
                               spk_link_timeout_ms(f->link));
            return link_failed(f, err, err_len);
        }
        usleep(200);
    }
    const uint32_t blocks = (f->ntok + f->nhead + IMP_BLOCK - 1) / IMP_BLOCK;
    memset(f->imp, 0, (size_t)blocks * IMP_BLOCK * sizeof(*f->imp));
    memset(f->imp_valid, 1, blocks);
    return 0;
}

static int fpga_imp_read(spkdev_engine_impl *impl, uint32_t index, uint64_t *value) {
    fpga_engine *f = (fpga_engine *)impl;
    const uint32_t entries = f->ntok + f->nhead;
    if (index >= entries) return -1;
    const uint32_t blk = index / IMP_BLOCK;
    if (!f->imp_valid[blk] && still_dead(f, NULL, 0)) return -1;
    if (!f->imp_valid[blk]) {
        const uint32_t first = blk * IMP_BLOCK;
        const uint32_t count = entries - first < IMP_BLOCK ? entries - first : IMP_BLOCK;
        uint32_t w[2 * IMP_BLOCK];
        if (spk_link_read(f->link, SPK_BOARD_REG_RES_IMP + 8u * first, w, 2 * count)) {
            char err[8];
            return link_failed(f, err, 0);
        }
        for (uint32_t i = 0; i < count; i++)
            f->imp[first + i] = (uint64_t)(w[2 * i + 1] & 0xffffu) << 32 | w[2 * i];
        f->imp_valid[blk] = 1;
    }
    *value = f->imp[index];
    return 0;
}

static void fpga_layer_begin(spkdev_engine_impl *impl, const spk_head_config *cfg, uint32_t layer,
                             uint32_t n_tokens) {
    (void)layer, (void)n_tokens;
    ((fpga_engine *)impl)->cfg = *cfg;
}

static void fpga_destroy(spkdev_engine_impl *impl) {
    fpga_engine *f = (fpga_engine *)impl;
    if (!f) return;
    board_set(NULL, NULL, f);
    spk_link_close(f->link);
    free(f->shadow);
    free(f->known);
    free(f->want);
    free(f->bytes);
    free(f->imp);
    free(f->imp_valid);
    free(f);
}

/* ---- open --------------------------------------------------------------------------------- */
/* "PORT[,baud=N][,timeout_ms=N][,retries=N]" */
static int parse_spec(const char *spec, char *port, size_t port_len, spk_link_options *o, char *err,
                      size_t err_len) {
    const char *comma = strchr(spec, ',');
    const size_t plen = comma ? (size_t)(comma - spec) : strlen(spec);
    if (plen == 0 || plen >= port_len) {
        snprintf(err, err_len,
                 "backend fpga: expected fpga:PORT[,baud=N][,timeout_ms=N][,retries=N] with PORT "
                 "a tty, a pty path or socket://HOST:PORT");
        return -1;
    }
    memcpy(port, spec, plen);
    port[plen] = 0;
    o->port = port;
    while (comma) {
        const char *opt = comma + 1;
        comma = strchr(opt, ',');
        const size_t len = comma ? (size_t)(comma - opt) : strlen(opt);
        char key[32], *end = NULL;
        const char *eq = memchr(opt, '=', len);
        if (!eq || (size_t)(eq - opt) >= sizeof(key)) goto bad;
        snprintf(key, sizeof(key), "%.*s", (int)(eq - opt), opt);
        const unsigned long v = strtoul(eq + 1, &end, 10);
        if (end != opt + len || eq + 1 == end || v == 0 || v > 100000000ul) goto bad;
        if (strcmp(key, "baud") == 0)
            o->baud = (uint32_t)v;
        else if (strcmp(key, "timeout_ms") == 0)
            o->timeout_ms = (uint32_t)v;
        else if (strcmp(key, "retries") == 0 && v <= 100)
            o->retries = (uint32_t)v;
        else
            goto bad;
        continue;
    bad:
        snprintf(err, err_len,
                 "backend fpga: option '%.*s' not understood (baud=N, timeout_ms=N, retries=N; N "
                 "a positive decimal)",
                 (int)len, opt);
        return -1;
    }
    return 0;
}

/* Identify the board and read its limits. */
static int check_board(fpga_engine *f, char *err, size_t err_len) {
    uint32_t br[10], eng[8], imp[2], clk = 0;
    if (spk_link_read(f->link, SPK_BOARD_REG_BOARD_ID, br, 10) ||
        spk_link_read(f->link, SPK_BOARD_ENG_ID, eng, 8) ||
        spk_link_read32(f->link, SPK_BOARD_ENG_PARAM_CLOCK_KHZ, &clk) ||
        spk_link_read(f->link, SPK_BOARD_REG_IMP_TOKENS, imp, 2)) {
        open_fail =
            spk_link_failure(f->link) == SPK_LINK_E_TIMEOUT ? SPKDEV_FPGA_TIMEOUT : SPKDEV_FPGA_IO;
        snprintf(err, err_len, "%s", spk_link_error(f->link));
        return -1;
    }
    const char *port = spk_link_port(f->link);
    open_fail = SPKDEV_FPGA_IO;
    if (br[0] != SPK_BOARD_ID_MAGIC) {
        snprintf(err, err_len,
                 "fpga link %s: BOARD_ID reads 0x%08x, expected 0x%08x (\"SPKB\"): not a "
                 "spatten-kit board, or a wrong port",
                 port, br[0], SPK_BOARD_ID_MAGIC);
        return -1;
    }
    if ((br[1] >> 16 & 0xffu) != SPK_BOARD_PROTO_MAJOR) {
        snprintf(err, err_len,
                 "fpga link %s: board speaks protocol %u.%u, this host %u.%u (BOARD_VERSION "
                 "0x%08x): rebuild the bitstream or the host",
                 port, br[1] >> 16 & 0xffu, br[1] >> 8 & 0xffu, SPK_BOARD_PROTO_MAJOR,
                 SPK_BOARD_PROTO_MINOR, br[1]);
        return -1;
    }
    if (eng[0] != SPK_ID_MAGIC ||
        (eng[1] >> SPK_VERSION_MAJOR_OFFSET & SPK_VERSION_MAJOR_MASK) != SPK_VERSION_MAJOR) {
        snprintf(err, err_len,
                 "fpga link %s: engine ID 0x%08x version 0x%08x, expected ID 0x%08x major %u", port,
                 eng[0], eng[1], SPK_ID_MAGIC, (unsigned)SPK_VERSION_MAJOR);
        return -1;
    }
    const uint32_t mem_base = br[4];
    f->mem_bytes = br[5];
    f->clock_khz = clk ? clk : br[3];
    f->dmax = eng[SPK_PARAM_MAX_D_REG_OFFSET / 4] & SPK_PARAM_MAX_D_VALUE_MASK;
    f->nmax = eng[SPK_PARAM_MAX_KEYS_REG_OFFSET / 4];
    f->ntok = imp[0], f->nhead = imp[1];
    if (mem_base != SPK_BOARD_WIN_MEM_BASE || f->mem_bytes < 4096 ||
        f->mem_bytes > SPK_BOARD_WIN_MEM_BYTES || f->mem_bytes % 4 || !f->dmax ||
        f->dmax > SPK_MAX_D || !f->nmax || f->nmax > 2 * SPK_LINK_MAX_WORDS || !f->ntok ||
        f->ntok > 65536 || !f->nhead || f->nhead > 4096) {
        snprintf(
            err, err_len,
            "fpga link %s: implausible board parameters (MEM_BASE 0x%x, MEM_BYTES %u, DMAX %u, "
            "NMAX %u, IMP_TOKENS %u, IMP_HEADS %u)",
            port, mem_base, f->mem_bytes, f->dmax, f->nmax, f->ntok, f->nhead);
        return -1;
    }
    open_fail = SPKDEV_FPGA_OK;
    return 0;
}

spkdev_engine_impl *spkdev_engine_fpga_create(spkdev_read_fn read, void *read_ctx, const char *spec,
                                              char *err, size_t err_len) {
    open_fail = SPKDEV_FPGA_OK;
    fpga_engine *f = calloc(1, sizeof(*f));
    if (!f) {
        if (err_len) snprintf(err, err_len, "out of host memory");
        return NULL;
    }
    f->impl = (spkdev_engine_impl){.name = "fpga",
                                   .slowdown = FPGA_SLOWDOWN,
                                   .has_logits = 0,
                                   .head = fpga_head,
                                   .imp_clear = fpga_imp_clear,
                                   .imp_read = fpga_imp_read,
                                   .accumulate = NULL,
                                   .prune = NULL,
                                   .layer_begin = fpga_layer_begin,
                                   .layer_end = NULL,
                                   .destroy = fpga_destroy};
    f->read = read, f->read_ctx = read_ctx;
    char port[256];
    spk_link_options o = {0};
    if (parse_spec(spec, port, sizeof(port), &o, err, err_len)) {
        fpga_destroy(&f->impl);
        return NULL;
    }
    if (!o.retries) o.retries = 2;
    f->link = spk_link_open(&o, err, err_len);
    if (!f->link) {
        open_fail = SPKDEV_FPGA_IO;
        fpga_destroy(&f->impl);
        return NULL;
    }
    if (check_board(f, err, err_len)) {
        fpga_destroy(&f->impl);
        return NULL;
    }
    const uint32_t entries = f->ntok + f->nhead, blocks = (entries + IMP_BLOCK - 1) / IMP_BLOCK;
    f->shadow = calloc(f->mem_bytes / 4, sizeof(*f->shadow));
    f->known = calloc(f->mem_bytes / 4, 1);
    f->want = malloc(f->mem_bytes + 8);
    f->bytes = malloc(f->mem_bytes);
    f->imp = calloc((size_t)blocks * IMP_BLOCK, sizeof(*f->imp));
    f->imp_valid = calloc(blocks, 1);
    if (!f->shadow || !f->known || !f->want || !f->bytes || !f->imp || !f->imp_valid) {
        if (err_len) snprintf(err, err_len, "out of host memory");
        fpga_destroy(&f->impl);
        return NULL;
    }
    /* A context's tokens index the bank and its keys fit one request (as engine_rtl.c). */
    f->impl.max_keys = f->nmax < f->ntok ? f->nmax : f->ntok;
    f->impl.max_d = f->dmax;
    f->impl.bank_tokens = f->ntok;
    f->impl.bank_heads = f->nhead;
    board_set(read_ctx, f, NULL);
    return &f->impl;
}
