/* Strict command-line number parsing (spksim/parse.h). */
#include "spksim/parse.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t err_len, const char *fmt, ...) {
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int digit_value(char c, unsigned base) {
    if (c >= '0' && c <= '9') return c - '0';
    if (base == 16 && c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (base == 16 && c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The magnitude of digits s (no sign): 0 ok, -1 not a number, -2 too large. */
static int magnitude(const char *s, int flags, uint64_t *out) {
    unsigned base = 10;
    if ((flags & SPK_PARSE_HEX) && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s) return -1;
    uint64_t v = 0;
    int too_large = 0;
    for (; *s; s++) {
        int d = digit_value(*s, base);
        if (d < 0) return -1;
        if (v > (UINT64_MAX - (uint64_t)d) / base) too_large = 1;
        v = v * base + (uint64_t)d;
    }
    *out = v;
    return too_large ? -2 : 0;
}

int spk_parse_u64(const char *opt, const char *s, uint64_t lo, uint64_t hi, int flags,
                  uint64_t *out, char *err, size_t err_len) {
    if (!s) return fail(err, err_len, "%s: a value is required", opt);
    uint64_t v = 0;
    int m = s[0] == '-' ? -1 : magnitude(s, flags, &v);
    if (m == -1 && s[0] == '-' && magnitude(s + 1, flags, &v) != -1)
        return fail(err, err_len, "%s: %s is below %llu", opt, s, (unsigned long long)lo);
    if (m == -1) return fail(err, err_len, "%s: '%s' is not a whole number", opt, s);
    if (m == -2 || v > hi)
        return fail(err, err_len, "%s: %s is above %llu", opt, s, (unsigned long long)hi);
    if (v < lo) return fail(err, err_len, "%s: %s is below %llu", opt, s, (unsigned long long)lo);
    *out = v;
    return 0;
}

int spk_parse_i64(const char *opt, const char *s, int64_t lo, int64_t hi, int flags, int64_t *out,
                  char *err, size_t err_len) {
    if (!s) return fail(err, err_len, "%s: a value is required", opt);
    const int neg = s[0] == '-';
    uint64_t mag = 0;
    int m = magnitude(s + neg, flags, &mag);
    if (m == -1) return fail(err, err_len, "%s: '%s' is not a whole number", opt, s);
    const uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (m == -2 || mag > limit)
        return fail(err, err_len, "%s: %s is %s %lld", opt, s, neg ? "below" : "above",
                    neg ? (long long)lo : (long long)hi);
    const int64_t v = neg ? (mag == limit ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
    if (v < lo) return fail(err, err_len, "%s: %s is below %lld", opt, s, (long long)lo);
    if (v > hi) return fail(err, err_len, "%s: %s is above %lld", opt, s, (long long)hi);
    *out = v;
    return 0;
}

int spk_parse_double(const char *opt, const char *s, double lo, double hi, int flags, double *out,
                     char *err, size_t err_len) {
    if (!s) return fail(err, err_len, "%s: a value is required", opt);
    /* Decimal notation only: strtod would also take spaces, "nan", "inf" and hex floats. */
    const int ok_chars = *s && strspn(s, "0123456789.eE+-") == strlen(s) && s[0] != '+';
    char *end = NULL;
    errno = 0;
    const double v = ok_chars ? strtod(s, &end) : 0.0;
    if (!ok_chars || end == s || *end)
        return fail(err, err_len, "%s: '%s' is not a number", opt, s);
    if (!isfinite(v)) return fail(err, err_len, "%s: %s is out of range", opt, s);
    if ((flags & SPK_PARSE_LO_OPEN) ? !(v > lo) : !(v >= lo))
        return fail(err, err_len, "%s: %s is %s %g", opt, s,
                    (flags & SPK_PARSE_LO_OPEN) ? "not above" : "below", lo);
    if ((flags & SPK_PARSE_HI_OPEN) ? !(v < hi) : !(v <= hi))
        return fail(err, err_len, "%s: %s is %s %g", opt, s,
                    (flags & SPK_PARSE_HI_OPEN) ? "not below" : "above", hi);
    *out = v;
    return 0;
}
