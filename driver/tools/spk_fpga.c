/* spk-fpga: bring-up tool for the board behind the UART bridge (docs/fpga.md, "Host side").
 *
 *   spk-fpga info     --port PORT   board ID, versions, clock, limits, link counters
 *   spk-fpga memtest  --port PORT   patterns over the board memory, read back
 *   spk-fpga selftest --port PORT   seeded head requests on the board, bit for bit against the
 *                                   golden model (spk_head_run, through the model engine)
 *   spk-fpga run      --port PORT -- SPK-ATTN-ARGS   an .npy layer: spk-attn --backend fpga:PORT
 *
 * Options: --baud N (115200), --timeout MS (1000), --seed N (1), --requests N (selftest, 48),
 * --bytes N (memtest: bytes from the start of board memory, default all). Exit code 0 on
 * success, 1 when the board answers wrongly (a mismatch), 2 on a link or usage error; every
 * command ends with a one-line verdict. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
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

typedef struct opts {
    const char *cmd, *port;
    uint32_t baud, timeout_ms, requests;
    uint64_t seed, bytes;
    int rest; /* argv index of the arguments after "--" (run) */
} opts;

static int usage(const char *why) {
    if (why) fprintf(stderr, "spk-fpga: %s\n", why);
    fprintf(stderr,
            "usage: spk-fpga info|memtest|selftest --port PORT [--baud N] [--timeout MS] "
            "[--seed N] [--requests N] [--bytes N]\n"
            "       spk-fpga run --port PORT [--baud N] [--timeout MS] -- SPK-ATTN-ARGS...\n"
            "PORT: a tty (/dev/ttyUSB1), a pty path, or socket://HOST:PORT\n");
    return 2;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    const unsigned long long v = strtoull(s, &end, 0);
    if (errno || !*s || *end || v > max) return -1;
    *out = v;
    return 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void print_link(spk_link *l) {
    spk_link_counters s;
    spk_link_get_stats(l, &s);
    printf("link: %" PRIu64 " bytes sent, %" PRIu64 " received, %" PRIu64 " frames, %" PRIu64
           " retries, %" PRIu64 " resyncs\n",
           s.tx_bytes, s.rx_bytes, s.frames, s.retries, s.resyncs);
}

static int link_error(const char *cmd, spk_link *l) {
    printf("spk-fpga %s: FAIL (link) %s\n", cmd, spk_link_error(l));
    return 2;
}

/* ---- info ------------------------------------------------------------------------------- */
static int cmd_info(spk_link *l) {
    uint32_t br[10], eng[8], imp[2];
    if (spk_link_read(l, SPK_BOARD_REG_BOARD_ID, br, 10) ||
        spk_link_read(l, SPK_BOARD_ENG_ID, eng, 8) ||
        spk_link_read(l, SPK_BOARD_REG_IMP_TOKENS, imp, 2))
        return link_error("info", l);
    const int ok = br[0] == SPK_BOARD_ID_MAGIC && (br[1] >> 16 & 0xffu) == SPK_BOARD_PROTO_MAJOR;
    printf("board id       0x%08x (%c%c%c%c)%s\n", br[0], br[0] >> 24 & 0x7f, br[0] >> 16 & 0x7f,
           br[0] >> 8 & 0x7f, br[0] & 0x7f, br[0] == SPK_BOARD_ID_MAGIC ? "" : "  (expected SPKB)");
    printf("board version  protocol %u.%u, board revision %u (host speaks %u.%u)\n",
           br[1] >> 16 & 0xffu, br[1] >> 8 & 0xffu, br[1] & 0xffu, SPK_BOARD_PROTO_MAJOR,
           SPK_BOARD_PROTO_MINOR);
    printf("clock          %u kHz; UART %u clocks per bit; receive timeout %u cycles (%.1f ms)\n",
           br[3], br[8], br[9], br[3] ? br[9] / (double)br[3] : 0.0);
    printf("memory         %u bytes at 0x%08x\n", br[5], br[4]);
    printf("link status    %u CRC errors, %u receive timeouts; LEDs alive %u busy %u error %u\n",
           br[6] & 0xffffu, br[6] >> 16, br[7] & 1u, br[7] >> 1 & 1u, br[7] >> 2 & 1u);
    printf("engine         ID 0x%08x, register map %u.%u, CAPS 0x%08x\n", eng[0], eng[1] >> 16,
           eng[1] & 0xffffu, eng[2]);
    printf("limits         DMAX %u, NMAX %u keys, %u token and %u head accumulators\n",
           eng[SPK_PARAM_MAX_D_REG_OFFSET / 4] & SPK_PARAM_MAX_D_VALUE_MASK,
           eng[SPK_PARAM_MAX_KEYS_REG_OFFSET / 4], imp[0], imp[1]);
    print_link(l);
    printf("spk-fpga info: %s\n", ok ? "OK, a spatten-kit board speaking this protocol"
                                     : "FAIL: not a spatten-kit board of this protocol");
    return ok ? 0 : 1;
}

/* ---- memtest ---------------------------------------------------------------------------- */
static uint32_t pattern(int p, uint32_t i, uint64_t seed) {
    switch (p) {
    case 0:
        return 0;
    case 1:
        return 0xffffffffu;
    case 2:
        return i & 1 ? 0x55555555u : 0xaaaaaaaau;
    case 3:
        return 1u << (i % 32); /* walking one */
    case 4:
        return SPK_BOARD_WIN_MEM_BASE + 4u * i; /* address as data: catches aliasing */
    default: {
        uint64_t x = seed * 0x9e3779b97f4a7c15ull + i; /* splitmix64 */
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
        return (uint32_t)(x ^ (x >> 31));
    }
    }
}

static int cmd_memtest(spk_link *l, const opts *o) {
    static const char *const names[] = {"zeros",       "ones",    "alternating",
                                        "walking one", "address", "random"};
    uint32_t mem_bytes = 0;
    if (spk_link_read32(l, SPK_BOARD_REG_MEM_BYTES, &mem_bytes)) return link_error("memtest", l);
    const uint64_t bytes = o->bytes ? o->bytes : mem_bytes;
    if (bytes > mem_bytes || bytes % 4 || !bytes) {
        printf("spk-fpga memtest: FAIL --bytes %" PRIu64 " must be a multiple of 4 in [4, %u]\n",
               bytes, mem_bytes);
        return 2;
    }
    const uint32_t words = (uint32_t)(bytes / 4);
    uint32_t *w = malloc(4u * words), *r = malloc(4u * words);
    if (!w || !r) return 2;
    const double t0 = now_s();
    int bad = 0;
    for (int p = 0; p < 6 && !bad; p++) {
        for (uint32_t i = 0; i < words; i++) w[i] = pattern(p, i, o->seed);
        if (spk_link_write(l, SPK_BOARD_WIN_MEM_BASE, w, words, 0) ||
            spk_link_read(l, SPK_BOARD_WIN_MEM_BASE, r, words)) {
            free(w), free(r);
            return link_error("memtest", l);
        }
        for (uint32_t i = 0; i < words && !bad; i++)
            if (r[i] != w[i]) {
                printf("memtest %s: word at 0x%08x reads 0x%08x, wrote 0x%08x\n", names[p],
                       SPK_BOARD_WIN_MEM_BASE + 4u * i, r[i], w[i]);
                bad = 1;
            }
        if (!bad) printf("memtest %-12s %u words OK\n", names[p], words);
    }
    free(w), free(r);
    const double dt = now_s() - t0;
    print_link(l);
    if (bad) {
        printf("spk-fpga memtest: FAIL (see above)\n");
        return 1;
    }
    printf("spk-fpga memtest: PASS 6 patterns over %" PRIu64 " bytes in %.2f s (%.1f KiB/s each "
           "way)\n",
           bytes, dt, dt > 0 ? 6.0 * (double)bytes / 1024.0 / dt : 0.0);
    return 0;
}

/* ---- selftest --------------------------------------------------------------------------- */
#define HOST_DRAM (1u << 20)

typedef struct host_dram {
    uint8_t *bytes;
} host_dram;

static int dram_read(void *ctx, uint64_t addr, void *dst, uint32_t bytes) {
    host_dram *h = ctx;
    if (addr > HOST_DRAM || bytes > HOST_DRAM - addr) return -1;
    memcpy(dst, h->bytes + addr, bytes);
    return 0;
}

static uint64_t rng_next(uint64_t *s) {
    uint64_t x = (*s += 0x9e3779b97f4a7c15ull);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint32_t rng_in(uint64_t *s, uint32_t lo, uint32_t hi) { /* [lo, hi] */
    return lo + (uint32_t)(rng_next(s) % ((uint64_t)hi - lo + 1));
}

/* Fresh operands for a group of requests sharing one K/V head: planes and scales of @p rows
 * tokens. */
static void fill_kv(host_dram *h, uint64_t *s, const spk_head_config *c, uint32_t rows,
                    spk_eng_head_req *base) {
    const uint32_t rm = spk_plane_row_bytes(c->d, c->kv.msb_bits);
    const uint32_t rl = spk_plane_row_bytes(c->d, c->kv.lsb_bits);
    uint32_t at = 0x10000;
    base->k_msb_base = at, at += rows * rm;
    base->v_msb_base = at, at += rows * rm;
    base->k_lsb_base = at, at += rows * rl;
    base->v_lsb_base = at, at += rows * rl;
    at = (at + 3u) & ~3u;
    base->k_scale_base = at, at += 4 * rows;
    base->v_scale_base = at, at += 4 * rows;
    for (uint32_t i = base->k_msb_base; i < base->k_scale_base; i++)
        h->bytes[i] = (uint8_t)rng_next(s);
    for (uint32_t t = 0; t < 2 * rows; t++) {
        spk_scale sc = 0;
        spk_scale_from_float(0.002f + (float)rng_in(s, 0, 1000) * 1e-4f, &sc);
        memcpy(h->bytes + base->k_scale_base + 4 * t, &sc, 4);
    }
}

static int compare(const char *what, uint32_t i, int64_t board, int64_t golden, int *bad) {
    if (board == golden) return 0;
    if (!*bad)
        printf("mismatch: %s[%u] board %" PRId64 ", golden %" PRId64 "\n", what, i, board, golden);
    (*bad)++;
    return 1;
}

static int cmd_selftest(const opts *o) {
    char err[700] = "";
    host_dram h = {calloc(1, HOST_DRAM)};
    if (!h.bytes) return 2;
    char spec[400];
    snprintf(spec, sizeof(spec), "%s,baud=%u,timeout_ms=%u", o->port, o->baud, o->timeout_ms);
    spkdev_engine_impl *board = spkdev_engine_fpga_create(dram_read, &h, spec, err, sizeof(err));
    if (!board) {
        printf("spk-fpga selftest: FAIL (open) %s\n", err);
        free(h.bytes);
        return 2;
    }
    spkdev_engine_impl *gold =
        spkdev_engine_model_create(dram_read, &h, NULL, NULL, NULL, 0, err, sizeof(err));
    if (!gold) {
        printf("spk-fpga selftest: FAIL %s\n", err);
        board->destroy(board);
        free(h.bytes);
        return 2;
    }
    const double t0 = now_s();
    uint64_t s = o->seed;
    const uint32_t rows = board->max_keys; /* tokens of a context on this board */
    int bad = 0, rc = 0;
    uint32_t done = 0, requant = 0;
    if (board->imp_clear(board, err, sizeof(err)) || gold->imp_clear(gold, err, sizeof(err)))
        rc = 2;
    spk_head_config cfg = {0};
    spk_eng_head_req kv = {0};
    static int32_t out_b[SPK_MAX_D], out_g[SPK_MAX_D];
    static uint16_t p_b[4096], p_g[4096];
    for (uint32_t r = 0; r < o->requests && !rc && !bad; r++) {
        if (r % 4 == 0) { /* a new layer configuration and K/V head every 4 requests */
            cfg.d = rng_in(&s, 1, board->max_d);
            cfg.kv.msb_bits = (uint8_t)rng_in(&s, 2, 8);
            cfg.kv.lsb_bits =
                (uint8_t)rng_in(&s, 0, 12 - cfg.kv.msb_bits < 4 ? 12 - cfg.kv.msb_bits : 4);
            const uint32_t th = rng_in(&s, 0, 2); /* never, always, or a random threshold */
            cfg.requant_threshold = th == 0 ? 0 : th == 1 ? 65536 : rng_in(&s, 0, 65536);
            cfg.v_keep_q16 = rng_in(&s, 0, 1) ? rng_in(&s, 1, 65536) : 65536;
            cfg.topk_parallelism = 1;
            fill_kv(&h, &s, &cfg, rows, &kv);
        }
        board->layer_begin(board, &cfg, 0, rows);
        gold->layer_begin(gold, &cfg, 0, rows);
        spk_eng_head_req q = kv;
        const uint32_t n = rng_in(&s, 1, rows);
        /* n distinct tokens, increasing: choose each token with probability n/rows. */
        uint16_t keys[4096] = {0};
        uint32_t k = 0;
        for (uint32_t t = 0; t < rows && k < n; t++)
            if (rng_in(&s, 1, rows - t) <= n - k) keys[k++] = (uint16_t)t;
        memcpy(h.bytes + 0x2000, keys, 2u * n);
        for (uint32_t i = 0; i < cfg.d; i++) {
            const int16_t c = (int16_t)((int32_t)rng_in(&s, 0, 4094) - 2047);
            memcpy(h.bytes + 0x1000 + 2 * i, &c, 2);
        }
        spk_scale qs = 0, ls = 0;
        spk_scale_from_float(0.002f + (float)rng_in(&s, 0, 1000) * 1e-4f, &qs);
        spk_logit_scale(qs, cfg.d, &ls);
        q.tag = r & 0xffu;
        q.head = rng_in(&s, 0, board->bank_heads - 1);
        q.d = cfg.d, q.msb_bits = cfg.kv.msb_bits, q.lsb_bits = cfg.kv.lsb_bits;
        q.threshold = cfg.requant_threshold;
        q.v_keep = spk_keep_count(n, cfg.v_keep_q16);
        q.n_keys = n, q.key_list = 1, q.keys_base = 0x2000, q.q_base = 0x1000, q.q_scale = ls;
        spkdev_head_result rb = {.out = out_b, .probs = p_b}, rg = {.out = out_g, .probs = p_g};
        if (gold->head(gold, &q, &rg, err, sizeof(err))) {
            printf("spk-fpga selftest: FAIL golden model refused request %u: %s\n", r, err);
            rc = 2;
            break;
        }
        if (board->head(board, &q, &rb, err, sizeof(err))) {
            printf("spk-fpga selftest: FAIL request %u: %s\n", r, err);
            rc = 2;
            break;
        }
        for (uint32_t i = 0; i < cfg.d; i++) compare("out", i, out_b[i], out_g[i], &bad);
        for (uint32_t j = 0; j < n; j++) compare("prob", j, p_b[j], p_g[j], &bad);
        compare("out_exp", 0, rb.out_exp, rg.out_exp, &bad);
        compare("head_importance", 0, (int64_t)rb.head_importance, (int64_t)rg.head_importance,
                &bad);
        compare("keys_fetched", 0, rb.ev.keys_fetched, rg.ev.keys_fetched, &bad);
        compare("values_fetched", 0, rb.ev.values_fetched, rg.ev.values_fetched, &bad);
        compare("requant", 0, rb.ev.requant, rg.ev.requant, &bad);
        if (bad)
            printf("  in request %u: d %u, bits %u/%u, %u keys, v_keep %u, threshold %u, head %u "
                   "(seed %" PRIu64 ")\n",
                   r, cfg.d, cfg.kv.msb_bits, cfg.kv.lsb_bits, n, q.v_keep, q.threshold, q.head,
                   o->seed);
        requant += rg.ev.requant;
        done++;
    }
    /* The importance the board accumulated over all requests. */
    for (uint32_t t = 0; !rc && !bad && t < rows + board->bank_heads; t++) {
        const int head = t >= rows;
        uint64_t vb = 0, vg = 0;
        if (board->imp_read(board, head ? board->bank_tokens + (t - rows) : t, &vb) ||
            gold->imp_read(gold, head ? gold->bank_tokens + (t - rows) : t, &vg)) {
            printf("spk-fpga selftest: FAIL reading the importance bank\n");
            rc = 2;
            break;
        }
        compare(head ? "head importance" : "token importance", head ? t - rows : t, (int64_t)vb,
                (int64_t)vg, &bad);
    }
    if (rc == 2 && !*err) snprintf(err, sizeof(err), "(see above)");
    spkdev_fpga_stats st = {0};
    spkdev_fpga_get_stats((spkdev *)(void *)&h, &st); /* keyed by the engine's read context */
    const double dt = now_s() - t0;
    printf("link: %" PRIu64 " bytes sent, %" PRIu64 " received, %" PRIu64 " frames, %" PRIu64
           " retries; %" PRIu64 " operand bytes staged, %" PRIu64 " not sent (already on the "
           "board)\n",
           st.tx_bytes, st.rx_bytes, st.frames, st.retries, st.staged_bytes, st.skipped_bytes);
    gold->destroy(gold);
    board->destroy(board);
    free(h.bytes);
    if (rc) return rc;
    if (bad) {
        printf("spk-fpga selftest: FAIL %d values differ from the golden model (seed %" PRIu64
               ")\n",
               bad, o->seed);
        return 1;
    }
    printf("spk-fpga selftest: PASS %u head requests (%u with requantization) and the importance "
           "bank bit-identical to the golden model (seed %" PRIu64 ", %.2f s)\n",
           done, requant, o->seed, dt);
    return 0;
}

/* ---- run -------------------------------------------------------------------------------- */
static int cmd_run(const opts *o, int argc, char **argv, const char *self) {
    char dir[4096], tool[4200], backend[600];
    snprintf(dir, sizeof(dir), "%s", self);
    snprintf(tool, sizeof(tool), "%s/spk-attn", strchr(self, '/') ? dirname(dir) : ".");
    if (access(tool, X_OK)) snprintf(tool, sizeof(tool), "spk-attn");
    snprintf(backend, sizeof(backend), "fpga:%s,baud=%u,timeout_ms=%u", o->port, o->baud,
             o->timeout_ms);
    char **args = calloc((size_t)argc + 4, sizeof(*args));
    if (!args) return 2;
    int n = 0;
    args[n++] = tool;
    args[n++] = "--backend";
    args[n++] = backend;
    for (int i = o->rest; i < argc; i++) args[n++] = argv[i];
    execvp(tool, args);
    printf("spk-fpga run: FAIL cannot run %s: %s\n", tool, strerror(errno));
    free(args);
    return 2;
}

int main(int argc, char **argv) {
    opts o = {.baud = 115200, .timeout_ms = 1000, .requests = 48, .seed = 1};
    if (argc < 2) return usage(NULL);
    o.cmd = argv[1];
    if (!strcmp(o.cmd, "-h") || !strcmp(o.cmd, "--help")) return usage(NULL), 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        uint64_t v = 0;
        if (!strcmp(a, "--")) {
            o.rest = i + 1;
            break;
        }
        if (i + 1 >= argc) return usage("an option needs a value");
        const char *val = argv[++i];
        if (!strcmp(a, "--port")) {
            o.port = val;
        } else if (!strcmp(a, "--baud") && !parse_u64(val, 100000000u, &v) && v) {
            o.baud = (uint32_t)v;
        } else if (!strcmp(a, "--timeout") && !parse_u64(val, 3600000u, &v) && v) {
            o.timeout_ms = (uint32_t)v;
        } else if (!strcmp(a, "--seed") && !parse_u64(val, UINT64_MAX, &v)) {
            o.seed = v;
        } else if (!strcmp(a, "--requests") && !parse_u64(val, 1000000u, &v) && v) {
            o.requests = (uint32_t)v;
        } else if (!strcmp(a, "--bytes") && !parse_u64(val, UINT32_MAX, &v) && v) {
            o.bytes = v;
        } else {
            char m[200];
            snprintf(m, sizeof(m), "bad option or value: %s %s", a, val);
            return usage(m);
        }
    }
    if (!o.port) return usage("--port is required");
    if (!strcmp(o.cmd, "run")) {
        if (!o.rest) return usage("run: give spk-attn's arguments after --");
        return cmd_run(&o, argc, argv, argv[0]);
    }
    if (!strcmp(o.cmd, "selftest")) return cmd_selftest(&o);
    if (strcmp(o.cmd, "info") && strcmp(o.cmd, "memtest")) return usage("unknown command");
    char err[400];
    const spk_link_options lo = {o.port, o.baud, o.timeout_ms, 2, 0};
    spk_link *l = spk_link_open(&lo, err, sizeof(err));
    if (!l) {
        printf("spk-fpga %s: FAIL (open) %s\n", o.cmd, err);
        return 2;
    }
    const int rc = !strcmp(o.cmd, "info") ? cmd_info(l) : cmd_memtest(l, &o);
    spk_link_close(l);
    return rc;
}
