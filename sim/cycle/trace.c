/* Strict reader of SpAtten workload CSV traces (BRIEF section 3). */
#include "spksim/trace.h"
#include <sys/stat.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLUMNS (SPK_TRACE_COLUMNS + SPK_TRACE_DEVICE_COLUMNS)

static const char *const column_names[MAX_COLUMNS] = {
    "iteration_id", "layer_id", "head_id", "embedding_length_D", "sentence_length_L",
    "key_fetch_num", "quant_key_bit", "quant_query_bit", "auto_requant_thres", "if_requant",
    "auto_requant_incre", "value_fetch_num", "quant_value_bit", "if_accumulate_importance",
    "if_rescale_previous_importance", "if_topk", "topk",
    /* device traces */
    "command", "v_topk_cycles", "v_topk_streamed", "key_held_num"};

enum {
    C_ITER,
    C_LAYER,
    C_HEAD,
    C_D,
    C_L,
    C_KEYS,
    C_KBITS,
    C_QBITS,
    C_THRES,
    C_REQUANT,
    C_INCRE,
    C_VALUES,
    C_VBITS,
    C_ACC,
    C_RESCALE,
    C_TOPKFLAG,
    C_TOPK,
    C_COMMAND,
    C_VTOPK_CYCLES,
    C_VTOPK_STREAMED,
    C_HELD
};

typedef struct {
    const char *name;
    uint64_t line;
    char *err;
    size_t err_len;
} parse_ctx;

static spk_cycle_status fail(const parse_ctx *p, int column, const char *fmt, ...) {
    if (!p->err || !p->err_len) return SPK_CYCLE_E_FORMAT;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (column >= 0)
        snprintf(p->err, p->err_len, "%s: line %llu, column %s: %s", p->name,
                 (unsigned long long)p->line, column_names[column], msg);
    else
        snprintf(p->err, p->err_len, "%s: line %llu: %s", p->name, (unsigned long long)p->line,
                 msg);
    return SPK_CYCLE_E_FORMAT;
}

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* The whole string is a decimal number as Python writes one: an optional '-', digits with an
 * optional fraction (at least one digit), an optional exponent ("64.0", "0.05", "1e-05"); no
 * '+', spaces, hexadecimal floats, inf or nan, which strtod alone would take. */
static int is_decimal_num(const char *s) {
    if (*s == '-') s++;
    int digits = 0;
    for (; is_digit(*s); s++) digits++;
    if (*s == '.') {
        for (s++; is_digit(*s); s++) digits++;
    }
    if (!digits) return 0;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+') s++;
        if (!is_digit(*s)) return 0;
        while (is_digit(*s)) s++;
    }
    return *s == '\0';
}

/* Parse a decimal integer in [lo, hi]; 0 on success. The digits are accumulated by hand (the
 * reader's hot path: strtol was a tenth of a replay); a value beyond 2^62 saturates, which every
 * range rejects as strtol's ERANGE did. */
static int parse_int(const char *s, long lo, long hi, long *out) {
    const char *c = s;
    int neg = *c == '-';
    if (neg) c++;
    if (!is_digit(*c)) return -1;
    int64_t v = 0;
    for (; is_digit(*c); c++) {
        if (v < (INT64_C(1) << 62)) v = v * 10 + (*c - '0');
    }
    if (*c) return -1;
    if (neg) v = -v;
    if (v < lo || v > hi) return -1;
    *out = (long)v;
    return 0;
}

/* Exact powers of ten (10^22 is the largest a double holds exactly). */
static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Clinger's fast path: a decimal m * 10^e with m < 2^53 and |e| <= 22 is one correctly rounded
 * multiplication or division of two exact doubles, so it equals strtod's result bit for bit.
 * Returns 0 and the value, or -1 when the string needs strtod. The string is already checked to
 * be a decimal number (is_decimal_num). */
static int fast_decimal(const char *s, double *out) {
    int neg = *s == '-';
    if (neg) s++;
    uint64_t m = 0;
    int digits = 0, exp10 = 0;
    for (; is_digit(*s); s++) {
        if (m || *s != '0') digits++;
        m = m * 10 + (uint64_t)(*s - '0');
        if (digits > 15) return -1;
    }
    if (*s == '.') {
        for (s++; is_digit(*s); s++) {
            if (m || *s != '0') digits++;
            m = m * 10 + (uint64_t)(*s - '0');
            exp10--;
            if (digits > 15) return -1;
        }
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        int eneg = *s == '-';
        if (*s == '-' || *s == '+') s++;
        int e = 0;
        for (; is_digit(*s); s++) {
            if (e < 1000) e = e * 10 + (*s - '0');
        }
        exp10 += eneg ? -e : e;
    }
    if (exp10 < -22 || exp10 > 22) return -1;
    double v = (double)m;
    v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
    *out = neg ? -v : v;
    return 0;
}

static int parse_num(const char *s, double *out) {
    if (!is_decimal_num(s)) return -1;
    if (fast_decimal(s, out) == 0) return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

/* "True"/"true" or "False"/"false", compared by hand (strcmp was a hot spot). */
static int parse_bool(const char *s, uint8_t *out) {
    if ((s[0] == 'T' || s[0] == 't') && s[1] == 'r' && s[2] == 'u' && s[3] == 'e' && !s[4])
        *out = 1;
    else if ((s[0] == 'F' || s[0] == 'f') && s[1] == 'a' && s[2] == 'l' && s[3] == 's' &&
             s[4] == 'e' && !s[5])
        *out = 0;
    else
        return -1;
    return 0;
}

/* Cut a field at the comma at line[j]; returns -1 once there are more than max fields. */
static int cut(char *line, size_t j, char **fields, int *n, int max) {
    line[j] = '\0';
    if (*n == max) return -1;
    fields[(*n)++] = line + j + 1;
    return 0;
}

/* Split a line of len bytes (no NUL inside) in place at commas; returns the field count (at
 * most max, or max + 1 for more). Quoted fields are not part of the format and are reported by
 * the caller as malformed. Eight bytes at a time: a byte-by-byte scan was half of the reader's
 * time. The word test flags every comma and maybe a few other bytes, each checked. */
static int split(char *line, size_t len, char **fields, int max) {
    int n = 0;
    fields[n++] = line;
    size_t i = 0;
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, line + i, sizeof w);
        uint64_t x = w ^ (ones * ',');
        uint64_t m = (x - ones) & ~x & highs;
        while (m) {
            size_t j = i + (size_t)(__builtin_ctzll(m) >> 3);
            m &= m - 1;
            if (line[j] == ',' && cut(line, j, fields, &n, max)) return max + 1;
        }
    }
#endif
    for (; i < len; i++) {
        if (line[i] == ',' && cut(line, i, fields, &n, max)) return max + 1;
    }
    return n;
}

/* A SpAtten trace has the 17 columns; a device trace (docs/simulator.md, "Device traces") the 17
 * and its extension columns (all four, or the first three of a trace written before
 * key_held_num). Returns the number of columns in *columns. */
static spk_cycle_status check_header(parse_ctx *p, char **f, int n, int *columns) {
    if (n != SPK_TRACE_COLUMNS && n != MAX_COLUMNS && n != MAX_COLUMNS - 1)
        return fail(p, -1,
                    "header has %s%d columns, expected %d (%s, ...) or %d (%d) for a device trace",
                    n > MAX_COLUMNS ? "more than " : "", n > MAX_COLUMNS ? MAX_COLUMNS : n,
                    SPK_TRACE_COLUMNS, column_names[0], MAX_COLUMNS, MAX_COLUMNS - 1);
    *columns = n;
    for (int i = 0; i < n; i++) {
        if (strcmp(f[i], column_names[i]) != 0)
            return fail(p, -1, "header column %d is '%s', expected '%s'", i + 1, f[i],
                        column_names[i]);
    }
    return SPK_CYCLE_OK;
}

static int valid_bits(long b) {
    return b == -1 || (b >= 1 && b <= 8) || b == 10 || b == 12;
}

#define INT_FIELD(col, lo, hi, dst)                                                                \
    do {                                                                                           \
        long v_;                                                                                   \
        if (parse_int(f[col], lo, hi, &v_))                                                        \
            return fail(p, col, "'%s' is not an integer in %ld..%ld", f[col], (long)(lo),          \
                        (long)(hi));                                                               \
        dst = v_;                                                                                  \
    } while (0)

#define BOOL_FIELD(col, dst)                                                                       \
    do {                                                                                           \
        if (parse_bool(f[col], &(dst))) return fail(p, col, "'%s' is not True or False", f[col]);  \
    } while (0)

static spk_cycle_status parse_row(parse_ctx *p, char **f, int columns, spk_trace_row *r) {
    const int device = columns > SPK_TRACE_COLUMNS;
    memset(r, 0, sizeof *r);
    r->line = p->line > UINT32_MAX ? UINT32_MAX : (uint32_t)p->line;
    INT_FIELD(C_ITER, 0, 1L << 30, r->iteration);
    INT_FIELD(C_LAYER, 0, 65535, r->layer);
    INT_FIELD(C_HEAD, 0, 65535, r->head);
    double d;
    if (parse_num(f[C_D], &d) || d < 1 || d > 4096 || d != floor(d))
        return fail(p, C_D, "'%s' is not a whole number in 1..4096", f[C_D]);
    r->d = (uint32_t)d;
    INT_FIELD(C_L, 1, 1L << 24, r->l);
    INT_FIELD(C_KEYS, 0, (long)r->l, r->key_fetch);
    long bits;
    INT_FIELD(C_KBITS, -1, 12, bits);
    if (device ? bits < 1 : !valid_bits(bits))
        return fail(p, C_KBITS,
                    device ? "%ld bits is not 1..12" : "%ld bits is not -1, 1..8, 10 or 12", bits);
    r->key_bits = (int32_t)bits;
    INT_FIELD(C_QBITS, -1, 32, r->query_bits);
    if (parse_num(f[C_THRES], &r->requant_threshold) ||
        (r->requant_threshold != -1 && (r->requant_threshold < 0 || r->requant_threshold > 1)))
        return fail(p, C_THRES, "'%s' is not -1 or a probability in 0..1", f[C_THRES]);
    BOOL_FIELD(C_REQUANT, r->requant);
    /* The device's LSB plane may be up to 10 bits (12 bits in all, docs/spec/datapath.md). */
    INT_FIELD(C_INCRE, -1, device ? 10 : 8, r->requant_incre);
    if (r->requant_incre == 0) return fail(p, C_INCRE, "0 LSB bits (use -1 for none)");
    INT_FIELD(C_VALUES, 0, (long)r->l, r->value_fetch);
    INT_FIELD(C_VBITS, -1, 12, bits);
    if (device ? bits < 1 : !valid_bits(bits))
        return fail(p, C_VBITS,
                    device ? "%ld bits is not 1..12" : "%ld bits is not -1, 1..8, 10 or 12", bits);
    r->value_bits = (int32_t)bits;
    BOOL_FIELD(C_ACC, r->accumulate_importance);
    BOOL_FIELD(C_RESCALE, r->rescale_importance);
    BOOL_FIELD(C_TOPKFLAG, r->token_topk);
    INT_FIELD(C_TOPK, -1, (long)r->l, r->topk);
    if (!device) return SPK_CYCLE_OK;
    /* What the device can have written (docs/simulator.md, "Device traces"). */
    const long lsb = r->requant_incre > 0 ? r->requant_incre : 0;
    if (r->key_bits + lsb > 12)
        return fail(p, C_INCRE, "%d + %ld bits is more than 12", r->key_bits, lsb);
    if (r->value_bits != r->key_bits && r->value_bits != r->key_bits + lsb)
        return fail(p, C_VBITS,
                    "%d bits is neither quant_key_bit nor quant_key_bit + "
                    "auto_requant_incre",
                    r->value_bits);
    if (r->value_fetch > r->key_fetch)
        return fail(p, C_VALUES, "%u values of %u keys fetched", r->value_fetch, r->key_fetch);
    r->device = 1;
    INT_FIELD(C_COMMAND, 0, INT64_C(1) << 62, r->command);
    INT_FIELD(C_VTOPK_CYCLES, 0, INT64_C(1) << 62, r->v_topk_cycles);
    INT_FIELD(C_VTOPK_STREAMED, 0, INT64_C(1) << 62, r->v_topk_streamed);
    if (columns > C_HELD) INT_FIELD(C_HELD, 0, (long)r->key_fetch, r->key_held);
    return SPK_CYCLE_OK;
}

/* The producing config path: a non-integer iteration_id and nothing in the other fields. */
static int is_config_line(char **f, int n) {
    if (n != SPK_TRACE_COLUMNS || !*f[0]) return 0;
    for (int i = 1; i < n; i++) {
        if (*f[i]) return 0; /* a data row fails here, at its layer_id */
    }
    long v;
    return parse_int(f[0], 0, 1L << 30, &v) != 0;
}

/* ---- streaming reader -------------------------------------------------------------------- */

/* The window of the file held in memory. A line must fit in it (the longest line of a
 * well-formed trace is a config path, far below this). */
#define READER_BUFFER ((size_t)1 << 20)
#define READER_CHUNK ((size_t)1 << 16)
#define NO_NUL ((size_t)-1)

struct spk_trace_reader {
    FILE *f;         /* the file, or NULL when reading from memory */
    const char *mem; /* in-memory source (spk_trace_reader_open_mem) */
    size_t mem_len, mem_pos;
    char *buf;               /* READER_BUFFER + 1 bytes: [pos, end) not yet consumed */
    size_t pos, end, nul;    /* nul: offset of the first NUL byte in buf, NO_NUL if none */
    int eof;                 /* the source has no more bytes */
    int finished;            /* the end of the trace was reached and checked */
    spk_cycle_status failed; /* sticky: a failed reader keeps failing */
    char *name;
    uint64_t line;  /* lines consumed */
    uint64_t blank; /* first line of the current run of blank lines, 0 if none */
    uint64_t rows, skipped;
    uint64_t bytes, total; /* bytes read so far; size of a regular file (0: unknown) */
    int columns;           /* the header's: 17, or 20 or 21 for a device trace */
};

static spk_cycle_status reader_fail(spk_trace_reader *r, spk_cycle_status st) {
    r->failed = st;
    return st;
}

/* Move the unconsumed bytes to the front and read more after them. */
static spk_cycle_status reader_fill(spk_trace_reader *r, char *err, size_t err_len) {
    if (r->pos) {
        memmove(r->buf, r->buf + r->pos, r->end - r->pos);
        if (r->nul != NO_NUL) r->nul -= r->pos;
        r->end -= r->pos;
        r->pos = 0;
    }
    /* Reads of 64 KiB: the window's pages are touched only as far as the lines need. */
    size_t room = READER_BUFFER - r->end, got;
    if (room > READER_CHUNK) room = READER_CHUNK;
    if (r->f) {
        got = fread(r->buf + r->end, 1, room, r->f);
        if (got < room) {
            if (ferror(r->f)) {
                if (err && err_len) snprintf(err, err_len, "%s: read error", r->name);
                return reader_fail(r, SPK_CYCLE_E_IO);
            }
            r->eof = 1;
        }
    } else {
        got = r->mem_len - r->mem_pos < room ? r->mem_len - r->mem_pos : room;
        memcpy(r->buf + r->end, r->mem + r->mem_pos, got);
        r->mem_pos += got;
        if (r->mem_pos == r->mem_len) r->eof = 1;
    }
    if (r->nul == NO_NUL) {
        const char *z = memchr(r->buf + r->end, '\0', got);
        if (z) r->nul = (size_t)(z - r->buf);
    }
    r->end += got;
    r->bytes += got;
    return SPK_CYCLE_OK;
}

/* The next line (without its '\n'), NUL-terminated in place; *line = NULL at the end. */
static spk_cycle_status reader_line(spk_trace_reader *r, char **line, size_t *len, char *err,
                                    size_t err_len) {
    for (;;) {
        size_t lim = r->nul != NO_NUL ? r->nul : r->end;
        char *nl = memchr(r->buf + r->pos, '\n', lim - r->pos);
        if (nl) {
            *line = r->buf + r->pos;
            *len = (size_t)(nl - *line);
            *nl = '\0';
            r->pos = (size_t)(nl - r->buf) + 1;
            return SPK_CYCLE_OK;
        }
        parse_ctx p = {r->name, r->line + 1, err, err_len};
        if (r->nul != NO_NUL) return reader_fail(r, fail(&p, -1, "the file contains a NUL byte"));
        if (r->eof) {
            *line = NULL;
            if (r->pos == r->end) return SPK_CYCLE_OK;
            *line = r->buf + r->pos; /* a last line without '\n' */
            *len = r->end - r->pos;
            r->buf[r->end] = '\0';
            r->pos = r->end;
            return SPK_CYCLE_OK;
        }
        if (r->pos == 0 && r->end == READER_BUFFER)
            return reader_fail(r, fail(&p, -1, "line longer than %zu bytes", READER_BUFFER - 1));
        spk_cycle_status st = reader_fill(r, err, err_len);
        if (st != SPK_CYCLE_OK) return st;
    }
}

static spk_cycle_status reader_new(const char *name, spk_trace_reader **out) {
    spk_trace_reader *r = calloc(1, sizeof *r);
    if (!r) return SPK_CYCLE_E_NOMEM;
    r->buf = malloc(READER_BUFFER + 1);
    r->name = malloc(strlen(name) + 1);
    if (!r->buf || !r->name) {
        free(r->buf);
        free(r->name);
        free(r);
        return SPK_CYCLE_E_NOMEM;
    }
    strcpy(r->name, name);
    r->nul = NO_NUL;
    *out = r;
    return SPK_CYCLE_OK;
}

spk_cycle_status spk_trace_reader_open(const char *path, spk_trace_reader **out, char *err,
                                       size_t err_len) {
    if (!path || !out) return SPK_CYCLE_E_ARG;
    *out = NULL;
    int is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        if (err && err_len) snprintf(err, err_len, "%s: cannot open (%s)", path, strerror(errno));
        return SPK_CYCLE_E_IO;
    }
    /* The reader streams, so pipes and character devices are fine (an endless input stops at
     * the caller's bound); a directory would read as an empty file. */
    struct stat sb;
    const char *problem = NULL;
    if (fstat(fileno(f), &sb) != 0)
        problem = strerror(errno);
    else if (S_ISDIR(sb.st_mode))
        problem = "is a directory, not a file";
    else if (!S_ISREG(sb.st_mode) && !S_ISFIFO(sb.st_mode) && !S_ISCHR(sb.st_mode))
        problem = "is not a regular file, pipe or character device";
    if (problem) {
        if (err && err_len) snprintf(err, err_len, "%s: %s", path, problem);
        if (!is_stdin) fclose(f);
        return SPK_CYCLE_E_IO;
    }
    spk_cycle_status st = reader_new(is_stdin ? "stdin" : path, out);
    if (st != SPK_CYCLE_OK) {
        if (err && err_len) snprintf(err, err_len, "%s: out of memory", path);
        if (!is_stdin) fclose(f);
        return st;
    }
    (*out)->f = f;
    if (S_ISREG(sb.st_mode)) (*out)->total = (uint64_t)sb.st_size;
    return SPK_CYCLE_OK;
}

spk_cycle_status spk_trace_reader_open_mem(const char *text, size_t len, const char *name,
                                           spk_trace_reader **out) {
    if (!out || (len && !text)) return SPK_CYCLE_E_ARG;
    *out = NULL;
    spk_cycle_status st = reader_new(name ? name : "trace", out);
    if (st != SPK_CYCLE_OK) return st;
    (*out)->mem = text;
    (*out)->mem_len = len;
    (*out)->total = len;
    return SPK_CYCLE_OK;
}

spk_cycle_status spk_trace_reader_next(spk_trace_reader *r, spk_trace_row *row, int *got, char *err,
                                       size_t err_len) {
    if (!r || !row || !got) return SPK_CYCLE_E_ARG;
    *got = 0;
    if (r->failed) return r->failed;
    if (r->finished) return SPK_CYCLE_OK;
    for (;;) {
        char *s = NULL;
        size_t n = 0;
        spk_cycle_status st = reader_line(r, &s, &n, err, err_len);
        if (st != SPK_CYCLE_OK) return st;
        parse_ctx p = {r->name, r->line, err, err_len};
        if (!s) {
            r->finished = 1;
            if (r->line == 0 || r->blank == 1) {
                p.line = 1;
                return reader_fail(r, fail(&p, -1, "empty file (no header)"));
            }
            return SPK_CYCLE_OK;
        }
        if (n && s[n - 1] == '\r') s[--n] = '\0';
        p.line = ++r->line;
        /* Blank lines (empty, or spaces and tabs only) are allowed only at the end of the
         * file, any number of them; one followed by a non-blank line is named. */
        if (s[strspn(s, " \t")] == '\0') {
            if (!r->blank) r->blank = r->line;
            continue;
        }
        if (r->blank) {
            p.line = r->blank;
            return reader_fail(r, fail(&p, -1, "empty line inside the file"));
        }
        char *f[MAX_COLUMNS + 1];
        if (memchr(s, '"', n))
            return reader_fail(r, fail(&p, -1, "quoted fields are not part of the format"));
        int want = r->line == 1 ? MAX_COLUMNS : r->columns;
        int nf = split(s, n, f, want);
        if (r->line == 1) {
            st = check_header(&p, f, nf, &r->columns);
            if (st != SPK_CYCLE_OK) return reader_fail(r, st);
            continue;
        }
        if (is_config_line(f, nf)) {
            r->skipped++;
            continue;
        }
        if (nf != want)
            return reader_fail(r, fail(&p, -1, "%s%d fields, expected %d",
                                       nf > want ? "more than " : "", nf > want ? want : nf, want));
        st = parse_row(&p, f, want, row);
        if (st != SPK_CYCLE_OK) return reader_fail(r, st);
        r->rows++;
        *got = 1;
        return SPK_CYCLE_OK;
    }
}

uint64_t spk_trace_reader_skipped(const spk_trace_reader *r) {
    return r ? r->skipped : 0;
}

void spk_trace_reader_position(const spk_trace_reader *r, uint64_t *bytes, uint64_t *total) {
    if (bytes) *bytes = r ? r->bytes - (r->end - r->pos) : 0;
    if (total) *total = r ? r->total : 0;
}

void spk_trace_reader_close(spk_trace_reader *r) {
    if (!r) return;
    if (r->f && r->f != stdin) fclose(r->f);
    free(r->buf);
    free(r->name);
    free(r);
}

/* ---- whole-trace loading (tests, the fuzz target, small tools) ---------------------------- */

static spk_cycle_status read_all(spk_trace_reader *r, spk_trace *t, char *err, size_t err_len) {
    size_t cap = 0;
    spk_cycle_status st;
    for (;;) {
        if (t->n == cap) {
            size_t c = cap ? cap * 2 : 1024;
            spk_trace_row *rows = realloc(t->rows, c * sizeof *rows);
            if (!rows) {
                if (err && err_len)
                    snprintf(err, err_len, "%s: out of memory after %zu rows", r->name, t->n);
                st = SPK_CYCLE_E_NOMEM;
                break;
            }
            t->rows = rows;
            cap = c;
        }
        int got;
        st = spk_trace_reader_next(r, &t->rows[t->n], &got, err, err_len);
        if (st != SPK_CYCLE_OK || !got) break;
        t->n++;
    }
    t->skipped = r->skipped;
    spk_trace_reader_close(r);
    if (st != SPK_CYCLE_OK) spk_trace_free(t);
    return st;
}

spk_cycle_status spk_trace_parse(const char *text, size_t len, const char *name, spk_trace *trace,
                                 char *err, size_t err_len) {
    if (!text || !trace) return SPK_CYCLE_E_ARG;
    memset(trace, 0, sizeof *trace);
    spk_trace_reader *r;
    spk_cycle_status st = spk_trace_reader_open_mem(text, len, name, &r);
    if (st != SPK_CYCLE_OK) return st;
    return read_all(r, trace, err, err_len);
}

spk_cycle_status spk_trace_load(const char *path, spk_trace *trace, char *err, size_t err_len) {
    if (!path || !trace) return SPK_CYCLE_E_ARG;
    memset(trace, 0, sizeof *trace);
    spk_trace_reader *r;
    spk_cycle_status st = spk_trace_reader_open(path, &r, err, err_len);
    if (st != SPK_CYCLE_OK) return st;
    return read_all(r, trace, err, err_len);
}

void spk_trace_free(spk_trace *trace) {
    if (!trace) return;
    free(trace->rows);
    trace->rows = NULL;
    trace->n = 0;
}
