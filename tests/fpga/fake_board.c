/* spk-fake-board: a board peer on a pty that speaks the bridge protocol of docs/fpga.md with a
 * register file, 128 KiB of board memory and, behind HEAD_REQ, the golden datapath (the model
 * engine of device/), and that injects faults on request: the test peer of the host side.
 *
 *   spk-fake-board [--fault KIND[:N]] [--rx-timeout-ms N]
 *
 * prints "spk-fake-board: pty /dev/pts/N" and serves until SIGTERM (or the fault ends it). Faults
 * count request frames from 1: close:N (exit before answering frame N), garbage:N (answer frame N
 * with bytes that are no response), stall:N (half of the response to frame N, then silence),
 * nak:N (every Nth frame NAKed with status CRC, without effect), flip:N (one bit of the response
 * to frame N flipped), busy:N (the engine stays busy from frame N on), wrongid (BOARD_ID is not
 * "SPKB"). The bridge drops a partial request after --rx-timeout-ms of silence, as the board. */
#define _DEFAULT_SOURCE /* cfmakeraw */
#define _XOPEN_SOURCE 600
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "engine_impl.h"
#include "fpga_link.h"
#include "spk/board_map.h"
#include "spk/regs.h"

#define MEM_BYTES SPK_BOARD_WIN_MEM_BYTES
#define NTOK SPK_BOARD_ENGINE_NTOK
#define NHEAD SPK_BOARD_ENGINE_NHEAD
#define DMAX SPK_BOARD_ENGINE_DMAX
#define NMAX SPK_BOARD_ENGINE_NMAX

typedef struct board {
    uint8_t mem[MEM_BYTES];
    uint32_t scratch, link_status, eng_desc, eng_status, requests;
    uint32_t res[12];
    int32_t out[DMAX];
    uint16_t probs[NMAX];
    spkdev_engine_impl *eng;
    uint64_t frames;
    const char *fault;
    uint64_t fault_n;
    int stalled;
} board;

static volatile sig_atomic_t stop;
static void on_term(int sig) {
    (void)sig;
    stop = 1;
}

static int mem_read(void *ctx, uint64_t addr, void *dst, uint32_t bytes) {
    board *b = ctx;
    if (addr > MEM_BYTES || bytes > MEM_BYTES - addr) return -1;
    memcpy(dst, b->mem + addr, bytes);
    return 0;
}

static int fault_is(const board *b, const char *kind) {
    return b->fault && strcmp(b->fault, kind) == 0;
}

/* HEAD_REQ on the golden datapath: the descriptor at ENG_DESC in board memory. */
static void run_head_req(board *b) {
    spk_eng_head_req r;
    if (b->eng_desc % 4 || mem_read(b, b->eng_desc, &r, sizeof(r))) {
        b->eng_status = 1u << SPK_ENG_STATUS_DONE_BIT | 1u << SPK_ENG_STATUS_ERROR_BIT |
                        SPK_ERR_DMA << SPK_ENG_STATUS_REASON_OFFSET;
        return;
    }
    const uint32_t n = r.n_keys;
    /* The engine takes a keep count; the golden configuration a ratio giving that count. */
    const uint32_t q16 = r.v_keep >= n || !n ? SPK_ONE_Q16 : (((r.v_keep - 1u) << 16) / n) + 1u;
    const spk_head_config cfg = {.d = r.d,
                                 .kv = {(uint8_t)r.msb_bits, (uint8_t)r.lsb_bits},
                                 .requant_threshold = r.threshold,
                                 .v_keep_q16 = q16,
                                 .topk_parallelism = 1};
    b->eng->layer_begin(b->eng, &cfg, 0, 0);
    spkdev_head_result res = {.out = b->out, .probs = b->probs};
    char err[160];
    if (r.d > DMAX || n > NMAX || r.head >= NHEAD ||
        b->eng->head(b->eng, &r, &res, err, sizeof(err))) {
        b->eng_status = 1u << SPK_ENG_STATUS_DONE_BIT | 1u << SPK_ENG_STATUS_ERROR_BIT |
                        SPK_ERR_ENGINE << SPK_ENG_STATUS_REASON_OFFSET;
        return;
    }
    memset(b->res, 0, sizeof(b->res));
    b->res[0] = r.tag & 0xffu;
    b->res[1] = res.ev.requant ? 1u : 0u;
    b->res[2] = res.ev.keys_fetched;
    b->res[3] = res.ev.values_fetched;
    b->res[5] = (uint32_t)res.out_exp & 0x3ffu;
    b->res[6] = (uint32_t)res.head_importance;
    b->res[7] = (uint32_t)(res.head_importance >> 32) & 0xffffu;
    b->res[8] = 100u + 10u * n; /* made-up cycles: this is not the RTL */
    b->requests++;
    b->eng_status = 1u << SPK_ENG_STATUS_DONE_BIT;
}

/* The word at byte address a, or -1 if unmapped. */
static int read_word(board *b, uint32_t a, uint32_t *v) {
    if (a >= SPK_BOARD_WIN_MEM_BASE && a - SPK_BOARD_WIN_MEM_BASE < MEM_BYTES) {
        memcpy(v, b->mem + (a - SPK_BOARD_WIN_MEM_BASE), 4);
        return 0;
    }
    const int busy = fault_is(b, "busy") && b->frames >= b->fault_n;
    switch (a) {
    case SPK_BOARD_REG_BOARD_ID:
        *v = fault_is(b, "wrongid") ? 0x12345678u : SPK_BOARD_ID_MAGIC;
        return 0;
    case SPK_BOARD_REG_BOARD_VERSION:
        *v = SPK_BOARD_VERSION_VALUE;
        return 0;
    case SPK_BOARD_REG_SCRATCH:
        *v = b->scratch;
        return 0;
    case SPK_BOARD_REG_CLOCK_KHZ:
    case SPK_BOARD_ENG_PARAM_CLOCK_KHZ:
        *v = SPK_BOARD_SIM_CLOCK_KHZ;
        return 0;
    case SPK_BOARD_REG_MEM_BASE:
        *v = SPK_BOARD_WIN_MEM_BASE;
        return 0;
    case SPK_BOARD_REG_MEM_BYTES:
        *v = MEM_BYTES;
        return 0;
    case SPK_BOARD_REG_LINK_STATUS:
        *v = b->link_status;
        return 0;
    case SPK_BOARD_REG_LEDS:
        *v = 1u;
        return 0;
    case SPK_BOARD_REG_CLKS_PER_BIT:
        *v = SPK_BOARD_SIM_CLKS_PER_BIT;
        return 0;
    case SPK_BOARD_REG_RX_TIMEOUT:
        *v = SPK_BOARD_SIM_RX_TIMEOUT_CYCLES;
        return 0;
    case SPK_BOARD_ENG_ID:
        *v = SPK_ID_MAGIC;
        return 0;
    case SPK_BOARD_ENG_VERSION:
        *v = 0x00010001u;
        return 0;
    case SPK_BOARD_ENG_PARAM_MAX_D:
        *v = DMAX;
        return 0;
    case SPK_BOARD_ENG_PARAM_MAX_KEYS:
        *v = NMAX;
        return 0;
    case SPK_BOARD_ENG_ENG_STATUS:
        *v = busy ? 1u << SPK_ENG_STATUS_BUSY_BIT : b->eng_status;
        return 0;
    case SPK_BOARD_ENG_ENG_DESC:
        *v = b->eng_desc;
        return 0;
    case SPK_BOARD_REG_IMP_CLEAR:
        *v = 0;
        return 0;
    case SPK_BOARD_REG_IMP_TOKENS:
        *v = NTOK;
        return 0;
    case SPK_BOARD_REG_IMP_HEADS:
        *v = NHEAD;
        return 0;
    default:
        break;
    }
    if (a >= SPK_BOARD_WIN_ENGINE_BASE && a < SPK_BOARD_WIN_ENGINE_BASE + 0x1000u) {
        *v = 0; /* the engine registers this board does not implement read 0 */
        return 0;
    }
    if (a >= SPK_BOARD_REG_RES_TAG && a < SPK_BOARD_REG_RES_TAG + 4u * 9u) {
        *v = b->res[(a - SPK_BOARD_REG_RES_TAG) / 4];
        return 0;
    }
    if (a >= SPK_BOARD_REG_RES_OUT && a < SPK_BOARD_REG_RES_OUT + 4u * DMAX) {
        *v = (uint32_t)b->out[(a - SPK_BOARD_REG_RES_OUT) / 4];
        return 0;
    }
    if (a >= SPK_BOARD_REG_RES_PROB && a < SPK_BOARD_REG_RES_PROB + 4u * NMAX) {
        *v = b->probs[(a - SPK_BOARD_REG_RES_PROB) / 4];
        return 0;
    }
    if (a >= SPK_BOARD_REG_RES_IMP && a < SPK_BOARD_REG_RES_IMP + 8u * (NTOK + NHEAD)) {
        const uint32_t e = (a - SPK_BOARD_REG_RES_IMP) / 8;
        /* The model engine's bank has its own token count: heads follow it. */
        const uint32_t idx = e < NTOK ? e : b->eng->bank_tokens + (e - NTOK);
        uint64_t imp = 0;
        b->eng->imp_read(b->eng, idx, &imp);
        *v = (a - SPK_BOARD_REG_RES_IMP) % 8 ? (uint32_t)(imp >> 32) & 0xffffu : (uint32_t)imp;
        return 0;
    }
    if (a < SPK_BOARD_WIN_RESULT_BASE + SPK_BOARD_WIN_RESULT_BYTES) { /* mapped, reads 0 */
        *v = 0;
        return 0;
    }
    return -1;
}

static int writable(uint32_t a) {
    return (a >= SPK_BOARD_WIN_MEM_BASE && a - SPK_BOARD_WIN_MEM_BASE < MEM_BYTES) ||
           a == SPK_BOARD_REG_SCRATCH || a == SPK_BOARD_REG_LINK_STATUS ||
           a == SPK_BOARD_ENG_ENG_CMD || a == SPK_BOARD_ENG_ENG_DESC ||
           a == SPK_BOARD_REG_IMP_CLEAR;
}

static void write_word(board *b, uint32_t a, uint32_t v) {
    char err[100];
    if (a >= SPK_BOARD_WIN_MEM_BASE && a - SPK_BOARD_WIN_MEM_BASE < MEM_BYTES)
        memcpy(b->mem + (a - SPK_BOARD_WIN_MEM_BASE), &v, 4);
    else if (a == SPK_BOARD_REG_SCRATCH)
        b->scratch = v;
    else if (a == SPK_BOARD_REG_LINK_STATUS)
        b->link_status = 0;
    else if (a == SPK_BOARD_ENG_ENG_DESC)
        b->eng_desc = v;
    else if (a == SPK_BOARD_REG_IMP_CLEAR)
        b->eng->imp_clear(b->eng, err, sizeof(err));
    else if (a == SPK_BOARD_ENG_ENG_CMD && (v & 1u)) {
        const uint32_t op = v >> SPK_ENG_CMD_OP_OFFSET & SPK_ENG_CMD_OP_MASK;
        if (op == SPK_ENG_OP_HEAD_REQ)
            run_head_req(b);
        else
            b->eng_status = 1u << SPK_ENG_STATUS_DONE_BIT | 1u << SPK_ENG_STATUS_ERROR_BIT |
                            (op >= 1 && op <= 6 ? SPK_ERR_UNSUPPORTED : SPK_ERR_ENGINE)
                                << SPK_ENG_STATUS_REASON_OFFSET;
    }
}

static void send_bytes(int fd, const uint8_t *p, size_t n) {
    while (n) {
        const ssize_t w = write(fd, p, n);
        if (w > 0) {
            p += w, n -= (size_t)w;
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
            return;
        } else {
            struct pollfd pf = {fd, POLLOUT, 0};
            poll(&pf, 1, 100);
        }
    }
}

/* One decoded request: execute it and answer (or misbehave). */
static void serve(board *b, int fd, const spk_link_request *rq) {
    b->frames++;
    const uint64_t f = b->frames;
    if (fault_is(b, "close") && f >= b->fault_n) exit(0);
    uint8_t out[SPK_LINK_MAX_FRAME];
    size_t n;
    uint32_t data[SPK_LINK_MAX_WORDS];
    const int fixed = rq->cmd == SPK_LINK_CMD_WRITE_FIXED || rq->cmd == SPK_LINK_CMD_READ_FIXED;
    uint8_t status = SPK_LINK_ST_OK;
    if (fault_is(b, "nak") && b->fault_n && f % b->fault_n == 0) {
        status = SPK_LINK_ST_CRC;
    } else if (rq->cmd < SPK_LINK_CMD_WRITE || rq->cmd > SPK_LINK_CMD_READ_FIXED) {
        status = SPK_LINK_ST_CMD;
    } else if (rq->len == 0) {
        status = SPK_LINK_ST_LEN;
    } else {
        /* Check the whole burst first: a bus error writes nothing. */
        for (uint32_t i = 0; i < rq->len && status == SPK_LINK_ST_OK; i++) {
            const uint32_t a = 4u * (rq->word_addr + (fixed ? 0 : i));
            uint32_t v;
            if (spk_link_cmd_reads(rq->cmd) ? read_word(b, a, &v) : !writable(a))
                status = SPK_LINK_ST_BUS;
        }
        for (uint32_t i = 0; i < rq->len && status == SPK_LINK_ST_OK; i++) {
            const uint32_t a = 4u * (rq->word_addr + (fixed ? 0 : i));
            if (spk_link_cmd_reads(rq->cmd))
                read_word(b, a, &data[i]);
            else
                write_word(b, a, rq->data[i]);
        }
    }
    const int reads = status == SPK_LINK_ST_OK && spk_link_cmd_reads(rq->cmd);
    n = spk_link_encode_response(out, status, rq->len, reads ? data : NULL);
    if (fault_is(b, "garbage") && f == b->fault_n) {
        static const uint8_t junk[] = {0xA5, 0x5A, 0xFF, 0x13, 0x37};
        send_bytes(fd, junk, sizeof(junk));
        return;
    }
    if (fault_is(b, "stall") && f >= b->fault_n) {
        send_bytes(fd, out, n / 2);
        b->stalled = 1;
        return;
    }
    if (fault_is(b, "flip") && f == b->fault_n) out[n - 1] ^= 0x10u;
    send_bytes(fd, out, n);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    static board b;
    double rx_timeout_ms = 20;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--fault") && i + 1 < argc) {
            char *k = argv[++i], *colon = strchr(k, ':');
            if (colon) *colon = 0, b.fault_n = strtoull(colon + 1, NULL, 10);
            b.fault = k;
        } else if (!strcmp(argv[i], "--rx-timeout-ms") && i + 1 < argc) {
            rx_timeout_ms = atof(argv[++i]);
        } else {
            fprintf(stderr, "usage: spk-fake-board [--fault KIND[:N]] [--rx-timeout-ms N]\n");
            return 2;
        }
    }
    char err[200];
    b.eng = spkdev_engine_model_create(mem_read, &b, NULL, NULL, NULL, 0, err, sizeof(err));
    if (!b.eng) {
        fprintf(stderr, "spk-fake-board: %s\n", err);
        return 1;
    }
    const int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0 || grantpt(m) || unlockpt(m)) {
        perror("spk-fake-board: pty");
        return 1;
    }
    const char *name = ptsname(m);
    /* Hold the slave open so the pty stays up until the host opens it; raw mode. */
    const int s = open(name, O_RDWR | O_NOCTTY);
    struct termios t;
    if (s < 0 || tcgetattr(s, &t)) {
        perror("spk-fake-board: pty slave");
        return 1;
    }
    cfmakeraw(&t);
    tcsetattr(s, TCSANOW, &t);
    fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    signal(SIGPIPE, SIG_IGN);
    printf("spk-fake-board: pty %s\n", name);
    fflush(stdout);
    uint8_t buf[SPK_LINK_MAX_FRAME * 2];
    size_t have = 0;
    double last = now_ms();
    while (!stop) {
        struct pollfd pf = {m, POLLIN, 0};
        const int pr = poll(&pf, 1, 5);
        if (pr > 0 && (pf.revents & POLLIN)) {
            const ssize_t r = read(m, buf + have, sizeof(buf) - have);
            if (r > 0) {
                have += (size_t)r;
                last = now_ms();
            }
        }
        if (have && now_ms() - last > rx_timeout_ms) {
            have = 0; /* receive timeout: drop the partial frame, as the bridge */
            b.link_status += 1u << 16;
        }
        while (have && !b.stalled) {
            spk_link_request rq;
            size_t used = 0;
            const spk_link_verdict v = spk_link_decode_request(buf, have, &rq, &used);
            if (v == SPK_LINK_NEED) break;
            if (v == SPK_LINK_BAD_CRC) {
                uint8_t resp[4];
                const size_t n = spk_link_encode_response(resp, SPK_LINK_ST_CRC, 0, NULL);
                b.frames++;
                b.link_status = (b.link_status & 0xffff0000u) | ((b.link_status + 1) & 0xffffu);
                send_bytes(m, resp, n);
            } else {
                serve(&b, m, &rq);
            }
            memmove(buf, buf + used, have - used);
            have -= used;
        }
        if (b.stalled) have = 0;
    }
    b.eng->destroy(b.eng);
    close(s);
    close(m);
    return 0;
}
