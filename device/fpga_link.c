/* The host end of the board's UART bridge (fpga_link.h): codec, port, transactions. Every read
 * waits in poll() against a deadline, so a stalled or vanished board costs at most the timeout
 * per attempt; which failures are retried follows the protocol: a CRC NAK means the request had
 * no effect; a lost response is retried only for reads and for writes that may be repeated. */
#define _DEFAULT_SOURCE /* cfmakeraw, cfsetspeed, the B* rates above 38400 */
#include "fpga_link.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "spk/board_map.h"

/* What resync reads. */
#define LINK_BOARD_ID_ADDR SPK_BOARD_REG_BOARD_ID
#define LINK_BOARD_ID SPK_BOARD_ID_MAGIC

/* The codec's constants are the board map's (the single source of the protocol). */
_Static_assert(SPK_LINK_CMD_WRITE == SPK_BOARD_CMD_WRITE_INC &&
                   SPK_LINK_CMD_READ == SPK_BOARD_CMD_READ_INC &&
                   SPK_LINK_CMD_WRITE_FIXED == SPK_BOARD_CMD_WRITE_FIXED &&
                   SPK_LINK_CMD_READ_FIXED == SPK_BOARD_CMD_READ_FIXED,
               "command codes of the board map");
_Static_assert(SPK_LINK_ST_OK == SPK_BOARD_ST_OK && SPK_LINK_ST_CRC == SPK_BOARD_ST_CRC &&
                   SPK_LINK_ST_CMD == SPK_BOARD_ST_BAD_CMD &&
                   SPK_LINK_ST_LEN == SPK_BOARD_ST_BAD_LEN &&
                   SPK_LINK_ST_BUS == SPK_BOARD_ST_BUS_ERROR,
               "status codes of the board map");
_Static_assert(SPK_LINK_MAX_WORDS == SPK_BOARD_MAX_WORDS, "burst length of the board map");

/* ---- codec -------------------------------------------------------------------------------- */
uint16_t spk_link_crc16(uint16_t crc, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++) crc = crc & 0x8000u ? (uint16_t)(crc << 1 ^ 0x1021u) : crc << 1;
    }
    return crc;
}

int spk_link_cmd_reads(uint8_t cmd) {
    return cmd == SPK_LINK_CMD_READ || cmd == SPK_LINK_CMD_READ_FIXED;
}

static int cmd_writes(uint8_t cmd) {
    return cmd == SPK_LINK_CMD_WRITE || cmd == SPK_LINK_CMD_WRITE_FIXED;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static size_t put_crc(uint8_t *buf, size_t n) {
    const uint16_t crc = spk_link_crc16(0xFFFFu, buf, n);
    buf[n] = (uint8_t)(crc >> 8), buf[n + 1] = (uint8_t)crc;
    return n + 2;
}

static int crc_ok(const uint8_t *buf, size_t n_body) {
    const uint16_t crc = spk_link_crc16(0xFFFFu, buf, n_body);
    return buf[n_body] == (uint8_t)(crc >> 8) && buf[n_body + 1] == (uint8_t)crc;
}

size_t spk_link_encode(uint8_t *buf, uint8_t cmd, uint8_t len, uint32_t word_addr,
                       const uint32_t *data) {
    if (len == 0 || !(cmd_writes(cmd) || spk_link_cmd_reads(cmd))) return 0;
    buf[0] = cmd, buf[1] = len;
    put_be32(buf + 2, word_addr);
    size_t n = 6;
    if (cmd_writes(cmd))
        for (uint32_t i = 0; i < len; i++, n += 4) put_be32(buf + n, data[i]);
    return put_crc(buf, n);
}

size_t spk_link_encode_response(uint8_t *buf, uint8_t status, uint8_t len, const uint32_t *data) {
    size_t n = 1;
    buf[0] = status;
    if (data)
        for (uint32_t i = 0; i < len; i++, n += 4) put_be32(buf + n, data[i]);
    return put_crc(buf, n);
}

spk_link_verdict spk_link_decode_response(const uint8_t *buf, size_t n, uint8_t cmd, uint8_t len,
                                          uint8_t *status, uint32_t *data, size_t *used) {
    *used = 1;
    if (n < 1) return SPK_LINK_NEED;
    if (buf[0] > SPK_LINK_ST_BUS) return SPK_LINK_GARBAGE;
    const size_t body = 1 + (buf[0] == SPK_LINK_ST_OK && spk_link_cmd_reads(cmd) ? 4u * len : 0u);
    *used = body + 2;
    if (n < body + 2) return SPK_LINK_NEED;
    if (!crc_ok(buf, body)) return SPK_LINK_BAD_CRC;
    *status = buf[0];
    for (size_t i = 0; body > 1 && i < len; i++) data[i] = get_be32(buf + 1 + 4 * i);
    return SPK_LINK_FRAME;
}

spk_link_verdict spk_link_decode_request(const uint8_t *buf, size_t n, spk_link_request *req,
                                         size_t *used) {
    *used = 6;
    if (n < 2) return SPK_LINK_NEED;
    const uint8_t cmd = buf[0], len = buf[1];
    const size_t body = 6 + (cmd_writes(cmd) ? 4u * len : 0u);
    *used = body + 2;
    if (n < body + 2) return SPK_LINK_NEED;
    if (!crc_ok(buf, body)) return SPK_LINK_BAD_CRC;
    req->cmd = cmd, req->len = len;
    req->word_addr = get_be32(buf + 2);
    for (size_t i = 0; body > 6 && i < len; i++) req->data[i] = get_be32(buf + 6 + 4 * i);
    return SPK_LINK_FRAME;
}

/* ---- the port ----------------------------------------------------------------------------- */
struct spk_link {
    int fd;
    char port[256];
    uint32_t timeout_ms, retries, resync_ms;
    spk_link_counters stats;
    spk_link_fail fail;
    int closed;     /* the peer hung up: nothing is retried */
    char what[240]; /* the last failure without port and frame */
    char err[512];
    /* The frame in flight, for messages. */
    uint8_t cmd, len;
    uint32_t addr;
};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const char *cmd_name(uint8_t cmd) {
    switch (cmd) {
    case SPK_LINK_CMD_WRITE:
        return "WRITE";
    case SPK_LINK_CMD_READ:
        return "READ";
    case SPK_LINK_CMD_WRITE_FIXED:
        return "WRITE_FIXED";
    case SPK_LINK_CMD_READ_FIXED:
        return "READ_FIXED";
    default:
        return "?";
    }
}

static const char *status_name(uint8_t st) {
    switch (st) {
    case SPK_LINK_ST_CRC:
        return "CRC mismatch";
    case SPK_LINK_ST_CMD:
        return "unknown command";
    case SPK_LINK_ST_LEN:
        return "bad length";
    case SPK_LINK_ST_BUS:
        return "bus error (address not mapped or not writable)";
    default:
        return "?";
    }
}

void spk_link_set_error(spk_link *l, spk_link_fail kind, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->what, sizeof(l->what), fmt, ap);
    va_end(ap);
    l->fail = kind;
    snprintf(l->err, sizeof(l->err), "fpga link %.180s: %s (last frame: %s addr 0x%08x len %u)",
             l->port, l->what, cmd_name(l->cmd), l->addr, l->len);
}

static int fail_io(spk_link *l, const char *what) {
    spk_link_set_error(l, SPK_LINK_E_IO, "%s", what);
    return -1;
}

static int hung_up(spk_link *l) {
    l->closed = 1;
    return fail_io(l, "peer closed the connection");
}

static speed_t speed_of(uint32_t baud) {
    static const struct {
        uint32_t baud;
        speed_t code;
    } rates[] = {{9600, B9600},       {19200, B19200},     {38400, B38400},     {57600, B57600},
                 {115200, B115200},   {230400, B230400},   {460800, B460800},   {500000, B500000},
                 {921600, B921600},   {1000000, B1000000}, {2000000, B2000000}, {3000000, B3000000},
                 {1500000, B1500000}, {576000, B576000}};
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++)
        if (rates[i].baud == baud) return rates[i].code;
    return 0;
}

static int open_socket(spk_link *l, const char *hostport, char *err, size_t err_len) {
    char host[200];
    const char *colon = strrchr(hostport, ':');
    if (!colon || colon == hostport || (size_t)(colon - hostport) >= sizeof(host) || !colon[1]) {
        snprintf(err, err_len, "fpga link %s: expected socket://HOST:PORT", l->port);
        return -1;
    }
    snprintf(host, sizeof(host), "%.*s", (int)(colon - hostport), hostport);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    const int gai = getaddrinfo(host, colon + 1, &hints, &res);
    if (gai) {
        snprintf(err, err_len, "fpga link %s: %s", l->port, gai_strerror(gai));
        return -1;
    }
    int fd = -1, e = 0;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen)) {
            e = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, err_len, "fpga link %s: cannot connect: %s", l->port, strerror(e));
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    l->fd = fd;
    return 0;
}

static int open_tty(spk_link *l, uint32_t baud, char *err, size_t err_len) {
    const int fd = open(l->port, O_RDWR | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, err_len, "fpga link %s: cannot open: %s", l->port, strerror(errno));
        return -1;
    }
    l->fd = fd;
    if (!isatty(fd)) {
        snprintf(err, err_len, "fpga link %s: not a tty, pty or socket://HOST:PORT", l->port);
        return -1;
    }
    const speed_t sp = speed_of(baud);
    if (!sp) {
        snprintf(err, err_len,
                 "fpga link %s: baud %u not supported (9600 .. 3000000, standard rates)", l->port,
                 baud);
        return -1;
    }
    struct termios t;
    if (tcgetattr(fd, &t)) {
        snprintf(err, err_len, "fpga link %s: tcgetattr: %s", l->port, strerror(errno));
        return -1;
    }
    cfmakeraw(&t); /* 8N1, no echo, no flow control, no translation */
    t.c_cflag |= CLOCAL | CREAD;
    t.c_cflag &= ~(tcflag_t)(CSTOPB | CRTSCTS);
    /* VMIN 1 with O_NONBLOCK: no data reads EAGAIN, so a read of 0 means the line hung up. */
    t.c_cc[VMIN] = 1, t.c_cc[VTIME] = 0;
    if (cfsetspeed(&t, sp) || tcsetattr(fd, TCSANOW, &t)) {
        snprintf(err, err_len, "fpga link %s: cannot set raw mode at %u baud: %s", l->port, baud,
                 strerror(errno));
        return -1;
    }
    tcflush(fd, TCIOFLUSH);
    return 0;
}

spk_link *spk_link_open(const spk_link_options *o, char *err, size_t err_len) {
    if (!o || !o->port || !*o->port) {
        snprintf(err, err_len, "fpga link: no port given (a tty, a pty or socket://HOST:PORT)");
        return NULL;
    }
    spk_link *l = calloc(1, sizeof(*l));
    if (!l) {
        snprintf(err, err_len, "out of host memory");
        return NULL;
    }
    l->fd = -1;
    snprintf(l->port, sizeof(l->port), "%s", o->port);
    l->timeout_ms = o->timeout_ms ? o->timeout_ms : 1000u;
    l->retries = o->retries;
    l->resync_ms = o->resync_ms ? o->resync_ms : 50u;
    const int rc = strncmp(o->port, "socket://", 9) == 0
                       ? open_socket(l, o->port + 9, err, err_len)
                       : open_tty(l, o->baud ? o->baud : 115200u, err, err_len);
    if (rc) {
        spk_link_close(l);
        return NULL;
    }
    return l;
}

void spk_link_close(spk_link *l) {
    if (!l) return;
    if (l->fd >= 0) close(l->fd);
    free(l);
}

/* Write all of buf before the deadline. */
static int send_all(spk_link *l, const uint8_t *buf, size_t n) {
    const double deadline = now_ms() + l->timeout_ms;
    while (n) {
        const ssize_t w = write(l->fd, buf, n);
        if (w > 0) {
            buf += w, n -= (size_t)w;
            l->stats.tx_bytes += (uint64_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            char m[200];
            if (errno == EIO || errno == EPIPE || errno == ECONNRESET) return hung_up(l);
            snprintf(m, sizeof(m), "write failed: %s", strerror(errno));
            return fail_io(l, m);
        }
        const int left = (int)(deadline - now_ms());
        if (left <= 0) {
            spk_link_set_error(l, SPK_LINK_E_TIMEOUT, "cannot send for %u ms (peer not reading)",
                               l->timeout_ms);
            return -1;
        }
        struct pollfd p = {l->fd, POLLOUT, 0};
        poll(&p, 1, left);
    }
    return 0;
}

/* Read up to cap bytes arriving before the deadline: >0 bytes, 0 at the deadline, -1 when the
 * peer closed or the port failed (error set). */
static ssize_t recv_some(spk_link *l, uint8_t *buf, size_t cap, double deadline) {
    for (;;) {
        const ssize_t r = read(l->fd, buf, cap);
        if (r > 0) {
            l->stats.rx_bytes += (uint64_t)r;
            return r;
        }
        if (r == 0 || (r < 0 && (errno == EIO || errno == ECONNRESET))) return hung_up(l);
        if (r < 0 && errno != EAGAIN && errno != EINTR) {
            char m[200];
            snprintf(m, sizeof(m), "read failed: %s", strerror(errno));
            return fail_io(l, m);
        }
        const int left = (int)(deadline - now_ms() + 0.999);
        if (left <= 0) return 0;
        struct pollfd p = {l->fd, POLLIN, 0};
        const int pr = poll(&p, 1, left);
        if (pr == 0) return 0;
        if (pr > 0 && (p.revents & (POLLHUP | POLLERR)) && !(p.revents & POLLIN)) return hung_up(l);
    }
}

int spk_link_resync(spk_link *l) {
    l->stats.resyncs++;
    /* Quiet for resync_ms: the board dropped any partial frame and sends nothing more. */
    uint8_t junk[256];
    double quiet_until = now_ms() + l->resync_ms;
    const double give_up = now_ms() + l->timeout_ms + l->resync_ms;
    for (;;) {
        const ssize_t r = recv_some(l, junk, sizeof(junk), quiet_until);
        if (r < 0) return -1;
        if (r == 0) break;
        if (now_ms() > give_up) {
            spk_link_set_error(l, SPK_LINK_E_IO, "resync: the board keeps sending (garbage)");
            return -1;
        }
        quiet_until = now_ms() + l->resync_ms;
    }
    uint8_t req[16], resp[16];
    const size_t n = spk_link_encode(req, SPK_LINK_CMD_READ, 1, LINK_BOARD_ID_ADDR / 4, NULL);
    l->cmd = SPK_LINK_CMD_READ, l->len = 1, l->addr = LINK_BOARD_ID_ADDR;
    l->stats.frames++;
    if (send_all(l, req, n)) return -1;
    size_t got = 0, used = 1;
    const double deadline = now_ms() + l->timeout_ms;
    for (;;) {
        uint8_t st = 0;
        uint32_t id = 0;
        const spk_link_verdict v =
            spk_link_decode_response(resp, got, SPK_LINK_CMD_READ, 1, &st, &id, &used);
        if (v == SPK_LINK_FRAME && st == SPK_LINK_ST_OK && id == LINK_BOARD_ID) return 0;
        if (v == SPK_LINK_FRAME) {
            spk_link_set_error(l, SPK_LINK_E_IO,
                               "resync: BOARD_ID reads 0x%08x with status %u, expected 0x%08x "
                               "(\"SPKB\"): not a spatten-kit board",
                               id, st, LINK_BOARD_ID);
            return -1;
        }
        if (v != SPK_LINK_NEED) return fail_io(l, "resync: corrupted response to BOARD_ID");
        const ssize_t r = recv_some(l, resp + got, used - got, deadline);
        if (r < 0) return -1;
        if (r == 0) {
            spk_link_set_error(l, SPK_LINK_E_TIMEOUT, "resync: no answer to BOARD_ID in %u ms",
                               l->timeout_ms);
            return -1;
        }
        got += (size_t)r;
    }
}

/* One frame, answered: 0 with *status, or -1 with error set; *effect_unknown says that a write
 * may have taken effect although no good response came. */
static int transact_once(spk_link *l, uint8_t cmd, uint8_t len, uint32_t addr,
                         const uint32_t *wdata, uint32_t *rdata, uint8_t *status) {
    uint8_t req[SPK_LINK_MAX_FRAME], resp[SPK_LINK_MAX_FRAME];
    const size_t n = spk_link_encode(req, cmd, len, addr / 4, wdata);
    l->cmd = cmd, l->len = len, l->addr = addr;
    l->stats.frames++;
    if (send_all(l, req, n)) return -1;
    size_t got = 0, used = 1;
    const double deadline = now_ms() + l->timeout_ms;
    for (;;) {
        const spk_link_verdict v =
            spk_link_decode_response(resp, got, cmd, len, status, rdata, &used);
        if (v == SPK_LINK_FRAME) return 0;
        if (v == SPK_LINK_BAD_CRC) return fail_io(l, "response CRC mismatch");
        if (v == SPK_LINK_GARBAGE) {
            char m[100];
            snprintf(m, sizeof(m), "garbage on the line (status byte 0x%02x)", resp[0]);
            return fail_io(l, m);
        }
        const ssize_t r = recv_some(l, resp + got, used - got, deadline);
        if (r < 0) return -1;
        if (r == 0) {
            spk_link_set_error(l, SPK_LINK_E_TIMEOUT,
                               "no %sresponse within %u ms (%zu of %zu bytes)",
                               got ? "complete " : "", l->timeout_ms, got, used);
            return -1;
        }
        got += (size_t)r;
    }
}

/* A frame with the protocol's retries. */
static int transact(spk_link *l, uint8_t cmd, uint8_t len, uint32_t addr, const uint32_t *wdata,
                    uint32_t *rdata, int side_effect) {
    for (uint32_t attempt = 0;; attempt++) {
        uint8_t status = 0;
        const int rc = transact_once(l, cmd, len, addr, wdata, rdata, &status);
        if (rc == 0 && status == SPK_LINK_ST_OK) {
            l->fail = SPK_LINK_OK;
            return 0;
        }
        if (rc == 0 && status != SPK_LINK_ST_CRC) {
            spk_link_set_error(l, SPK_LINK_E_IO, "board refused the frame: %s",
                               status_name(status));
            return -1;
        }
        /* A NAK had no effect: send again. A lost or corrupted response: the board may have
         * acted, so only what can be repeated is sent again, after a resync. */
        const int nak = rc == 0;
        if (l->closed) return -1; /* nobody left to answer */
        if (!nak && side_effect) {
            char why[512];
            snprintf(why, sizeof(why), "%.440s; not retried (the write starts an operation)",
                     l->err);
            l->fail = SPK_LINK_E_IO;
            snprintf(l->err, sizeof(l->err), "%s", why);
            return -1;
        }
        if (attempt >= l->retries) {
            if (nak)
                spk_link_set_error(l, SPK_LINK_E_IO, "board NAKed the frame (CRC) %u times",
                                   attempt + 1);
            return -1;
        }
        l->stats.retries++;
        if (!nak) {
            char saved[512];
            snprintf(saved, sizeof(saved), "%s", l->err);
            if (spk_link_resync(l)) {
                /* Report the first failure and what the resync found. */
                char both[512];
                snprintf(both, sizeof(both), "%.300s; then %.200s", saved, l->what);
                snprintf(l->err, sizeof(l->err), "%s", both);
                return -1;
            }
        }
    }
}

int spk_link_write(spk_link *l, uint32_t addr, const uint32_t *src, uint32_t n, int side_effect) {
    while (n) {
        const uint8_t len = (uint8_t)(n < SPK_LINK_MAX_WORDS ? n : SPK_LINK_MAX_WORDS);
        if (transact(l, SPK_LINK_CMD_WRITE, len, addr, src, NULL, side_effect)) return -1;
        addr += 4u * len, src += len, n -= len;
    }
    return 0;
}

int spk_link_read(spk_link *l, uint32_t addr, uint32_t *dst, uint32_t n) {
    while (n) {
        const uint8_t len = (uint8_t)(n < SPK_LINK_MAX_WORDS ? n : SPK_LINK_MAX_WORDS);
        if (transact(l, SPK_LINK_CMD_READ, len, addr, NULL, dst, 0)) return -1;
        addr += 4u * len, dst += len, n -= len;
    }
    return 0;
}

int spk_link_read32(spk_link *l, uint32_t addr, uint32_t *value) {
    return spk_link_read(l, addr, value, 1);
}

spk_link_fail spk_link_failure(const spk_link *l) {
    return l->fail;
}

const char *spk_link_error(const spk_link *l) {
    return l->err;
}

void spk_link_get_stats(const spk_link *l, spk_link_counters *s) {
    *s = l->stats;
}

const char *spk_link_port(const spk_link *l) {
    return l->port;
}

uint32_t spk_link_timeout_ms(const spk_link *l) {
    return l->timeout_ms;
}
