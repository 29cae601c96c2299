/* Strict reader of SpAtten workload CSV traces (BRIEF section 3). */
#include "spksim/trace.h"
#include "spksim/file.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const column_names[SPK_TRACE_COLUMNS] = {"iteration_id",
                                                            "layer_id",
                                                            "head_id",
                                                            "embedding_length_D",
                                                            "sentence_length_L",
                                                            "key_fetch_num",
                                                            "quant_key_bit",
                                                            "quant_query_bit",
                                                            "auto_requant_thres",
                                                            "if_requant",
                                                            "auto_requant_incre",
                                                            "value_fetch_num",
                                                            "quant_value_bit",
                                                            "if_accumulate_importance",
                                                            "if_rescale_previous_importance",
                                                            "if_topk",
                                                            "topk"};

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
    C_TOPK
};

typedef struct {
    const char *name;
    uint32_t line;
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
        snprintf(p->err, p->err_len, "%s: line %u, column %s: %s", p->name, p->line,
                 column_names[column], msg);
    else
        snprintf(p->err, p->err_len, "%s: line %u: %s", p->name, p->line, msg);
    return SPK_CYCLE_E_FORMAT;
}

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* The whole string is a decimal integer: an optional '-' and digits (no sign '+', no spaces, no
 * 0x prefix: strtol alone would take " 0", "+0" and, in base 0, "0x40"). */
static int is_decimal_int(const char *s) {
    if (*s == '-') s++;
    if (!is_digit(*s)) return 0;
    while (is_digit(*s)) s++;
    return *s == '\0';
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

/* Parse a decimal integer in [lo, hi]; 0 on success. */
static int parse_int(const char *s, long lo, long hi, long *out) {
    if (!is_decimal_int(s)) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end || errno || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parse_num(const char *s, double *out) {
    if (!is_decimal_num(s)) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, uint8_t *out) {
    if (strcmp(s, "True") == 0 || strcmp(s, "true") == 0)
        *out = 1;
    else if (strcmp(s, "False") == 0 || strcmp(s, "false") == 0)
        *out = 0;
    else
        return -1;
    return 0;
}

/* Split a line in place at commas; returns the field count (at most max). Quoted fields are
 * not part of the format and are reported by the caller as malformed. */
static int split(char *line, char **fields, int max) {
    int n = 0;
    fields[n++] = line;
    for (char *c = line; *c; c++) {
        if (*c == ',') {
            *c = '\0';
            if (n == max) return max + 1;
            fields[n++] = c + 1;
        }
    }
    return n;
}

static spk_cycle_status check_header(parse_ctx *p, char **f, int n) {
    if (n != SPK_TRACE_COLUMNS)
        return fail(p, -1, "header has %d columns, expected %d (%s, ...)", n, SPK_TRACE_COLUMNS,
                    column_names[0]);
    for (int i = 0; i < SPK_TRACE_COLUMNS; i++) {
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

static spk_cycle_status parse_row(parse_ctx *p, char **f, spk_trace_row *r) {
    memset(r, 0, sizeof *r);
    r->line = p->line;
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
    if (!valid_bits(bits)) return fail(p, C_KBITS, "%ld bits is not -1, 1..8, 10 or 12", bits);
    r->key_bits = (int32_t)bits;
    INT_FIELD(C_QBITS, -1, 32, r->query_bits);
    if (parse_num(f[C_THRES], &r->requant_threshold) ||
        (r->requant_threshold != -1 && (r->requant_threshold < 0 || r->requant_threshold > 1)))
        return fail(p, C_THRES, "'%s' is not -1 or a probability in 0..1", f[C_THRES]);
    BOOL_FIELD(C_REQUANT, r->requant);
    INT_FIELD(C_INCRE, -1, 8, r->requant_incre);
    if (r->requant_incre == 0) return fail(p, C_INCRE, "0 LSB bits (use -1 for none)");
    INT_FIELD(C_VALUES, 0, (long)r->l, r->value_fetch);
    INT_FIELD(C_VBITS, -1, 12, bits);
    if (!valid_bits(bits)) return fail(p, C_VBITS, "%ld bits is not -1, 1..8, 10 or 12", bits);
    r->value_bits = (int32_t)bits;
    BOOL_FIELD(C_ACC, r->accumulate_importance);
    BOOL_FIELD(C_RESCALE, r->rescale_importance);
    BOOL_FIELD(C_TOPKFLAG, r->token_topk);
    INT_FIELD(C_TOPK, -1, (long)r->l, r->topk);
    return SPK_CYCLE_OK;
}

/* The producing config path: a non-integer iteration_id and nothing in the other fields. */
static int is_config_line(char **f, int n) {
    long v;
    if (n != SPK_TRACE_COLUMNS || parse_int(f[0], 0, 1L << 30, &v) == 0 || !*f[0]) return 0;
    for (int i = 1; i < n; i++) {
        if (*f[i]) return 0;
    }
    return 1;
}

static spk_cycle_status parse_line(parse_ctx *p, char *line, spk_trace *t, size_t *cap) {
    char *f[SPK_TRACE_COLUMNS + 1];
    if (strchr(line, '"')) return fail(p, -1, "quoted fields are not part of the format");
    int n = split(line, f, SPK_TRACE_COLUMNS);
    if (p->line == 1) return check_header(p, f, n);
    if (is_config_line(f, n)) {
        t->skipped++;
        return SPK_CYCLE_OK;
    }
    if (n != SPK_TRACE_COLUMNS)
        return fail(p, -1, "%s%d fields, expected %d", n > SPK_TRACE_COLUMNS ? "more than " : "",
                    n > SPK_TRACE_COLUMNS ? SPK_TRACE_COLUMNS : n, SPK_TRACE_COLUMNS);
    if (t->n == *cap) {
        size_t c = *cap ? *cap * 2 : 1024;
        spk_trace_row *rows = realloc(t->rows, c * sizeof *rows);
        if (!rows) return SPK_CYCLE_E_NOMEM;
        t->rows = rows;
        *cap = c;
    }
    spk_cycle_status rc = parse_row(p, f, &t->rows[t->n]);
    if (rc == SPK_CYCLE_OK) t->n++;
    return rc;
}

spk_cycle_status spk_trace_parse(const char *text, size_t len, const char *name, spk_trace *trace,
                                 char *err, size_t err_len) {
    if (!text || !trace) return SPK_CYCLE_E_ARG;
    memset(trace, 0, sizeof *trace);
    parse_ctx p = {name ? name : "trace", 0, err, err_len};
    char *copy = malloc(len + 1);
    if (!copy) return SPK_CYCLE_E_NOMEM;
    memcpy(copy, text, len);
    copy[len] = '\0';
    if (strlen(copy) != len) {
        free(copy);
        p.line = 1;
        return fail(&p, -1, "the file contains a NUL byte");
    }
    size_t cap = 0;
    uint32_t blank = 0; /* the first line of the current run of blank lines, 0 if none */
    spk_cycle_status rc = SPK_CYCLE_OK;
    char *s = copy;
    while (rc == SPK_CYCLE_OK && *s) {
        char *nl = strchr(s, '\n');
        if (nl) *nl = '\0';
        size_t n = strlen(s);
        if (n && s[n - 1] == '\r') s[n - 1] = '\0';
        p.line++;
        /* Blank lines (empty, or spaces and tabs only) are allowed only at the end of the
         * file, any number of them; one followed by a non-blank line is named. */
        if (s[strspn(s, " \t")] == '\0') {
            if (!blank) blank = p.line;
        } else if (blank) {
            p.line = blank;
            rc = fail(&p, -1, "empty line inside the file");
        } else {
            rc = parse_line(&p, s, trace, &cap);
        }
        s = nl ? nl + 1 : s + n;
    }
    if (rc == SPK_CYCLE_OK && (p.line == 0 || blank == 1)) {
        p.line = 1;
        rc = fail(&p, -1, "empty file (no header)");
    }
    free(copy);
    if (rc != SPK_CYCLE_OK) spk_trace_free(trace);
    return rc;
}

spk_cycle_status spk_trace_load(const char *path, spk_trace *trace, char *err, size_t err_len) {
    if (!path || !trace) return SPK_CYCLE_E_ARG;
    memset(trace, 0, sizeof *trace);
    FILE *f = spk_file_open_read(path, "rb", err, err_len);
    if (!f) return SPK_CYCLE_E_IO;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    spk_cycle_status rc = buf ? SPK_CYCLE_OK : SPK_CYCLE_E_NOMEM;
    while (rc == SPK_CYCLE_OK) {
        if (len == cap) {
            char *b = realloc(buf, cap * 2);
            if (!b) {
                rc = SPK_CYCLE_E_NOMEM;
                break;
            }
            buf = b;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    if (rc == SPK_CYCLE_OK && ferror(f)) {
        if (err && err_len) snprintf(err, err_len, "%s: read error", path);
        rc = SPK_CYCLE_E_IO;
    }
    if (rc == SPK_CYCLE_E_NOMEM && err && err_len)
        snprintf(err, err_len, "%s: out of memory after %zu bytes", path, len);
    fclose(f);
    if (rc == SPK_CYCLE_OK) rc = spk_trace_parse(buf, len, path, trace, err, err_len);
    free(buf);
    return rc;
}

void spk_trace_free(spk_trace *trace) {
    if (!trace) return;
    free(trace->rows);
    trace->rows = NULL;
    trace->n = 0;
}
