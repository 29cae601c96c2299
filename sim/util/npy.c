/* NumPy .npy reader and writer. Format: magic "\x93NUMPY", major, minor, a little-endian
 * header length (u16 in version 1, u32 in versions 2 and 3), then a Python dict literal with
 * 'descr', 'fortran_order' and 'shape', padded with spaces and ended by '\n'. */
#include "spksim/npy.h"
#include "spksim/file.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static spksim_status fail(spksim_status st, char *err, size_t len, const char *fmt, ...) {
    if (err && len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, len, fmt, ap);
        va_end(ap);
    }
    return st;
}

size_t spk_npy_dtype_size(spk_npy_dtype t) {
    switch (t) {
    case SPK_NPY_I8:
    case SPK_NPY_U8:
        return 1;
    case SPK_NPY_I16:
    case SPK_NPY_U16:
        return 2;
    case SPK_NPY_F32:
    case SPK_NPY_I32:
    case SPK_NPY_U32:
        return 4;
    case SPK_NPY_F64:
    case SPK_NPY_I64:
        return 8;
    }
    return 0;
}

static const struct {
    const char *descr;
    spk_npy_dtype type;
} known_dtypes[] = {
    {"<f4", SPK_NPY_F32}, {"<f8", SPK_NPY_F64}, {"|i1", SPK_NPY_I8},  {"<i1", SPK_NPY_I8},
    {"<i2", SPK_NPY_I16}, {"<i4", SPK_NPY_I32}, {"<i8", SPK_NPY_I64}, {"|u1", SPK_NPY_U8},
    {"<u1", SPK_NPY_U8},  {"<u2", SPK_NPY_U16}, {"<u4", SPK_NPY_U32},
};

/* A cursor over the header dict. */
typedef struct {
    const char *p, *end;
} cursor;

static void skip_space(cursor *c) {
    while (c->p < c->end && isspace((unsigned char)*c->p)) c->p++;
}

static int take(cursor *c, char ch) {
    skip_space(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted string (single or double quotes, no escapes: none occur in .npy headers). */
static int parse_string(cursor *c, char *out, size_t cap) {
    skip_space(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return 0;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (n + 1 >= cap) return 0;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end) return 0;
    c->p++;
    out[n] = '\0';
    return 1;
}

static int parse_word(cursor *c, const char *word) {
    skip_space(c);
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, word, n) == 0) {
        c->p += n;
        return 1;
    }
    return 0;
}

static int parse_shape(cursor *c, spk_npy *out) {
    if (!take(c, '(')) return 0;
    out->ndim = 0;
    for (;;) {
        if (take(c, ')')) return 1;
        if (out->ndim == SPK_NPY_MAX_DIMS) return 0;
        skip_space(c);
        if (c->p >= c->end || !isdigit((unsigned char)*c->p)) return 0;
        uint64_t v = 0;
        while (c->p < c->end && isdigit((unsigned char)*c->p)) {
            if (v > (UINT64_MAX - 9) / 10) return 0;
            v = v * 10 + (uint64_t)(*c->p++ - '0');
        }
        out->shape[out->ndim++] = v;
        if (!take(c, ',')) return take(c, ')');
    }
}

static spksim_status parse_header(const char *h, size_t len, const char *name, spk_npy *out,
                                  char *err, size_t err_len) {
    cursor c = {h, h + len};
    int have_descr = 0, have_order = 0, have_shape = 0;
    if (!take(&c, '{'))
        return fail(SPKSIM_E_FORMAT, err, err_len, "%s: header is not a dict", name);
    while (!take(&c, '}')) {
        char key[32], val[32];
        if (!parse_string(&c, key, sizeof key) || !take(&c, ':'))
            return fail(SPKSIM_E_FORMAT, err, err_len, "%s: malformed header dict", name);
        if (strcmp(key, "descr") == 0) {
            if (!parse_string(&c, val, sizeof val))
                return fail(SPKSIM_E_FORMAT, err, err_len, "%s: 'descr' is not a string", name);
            size_t i = 0, n = sizeof known_dtypes / sizeof known_dtypes[0];
            while (i < n && strcmp(val, known_dtypes[i].descr) != 0) i++;
            if (i == n)
                return fail(SPKSIM_E_FORMAT, err, err_len,
                            "%s: dtype '%s' is not supported (little-endian float32/64, int8-64, "
                            "uint8-32 are)",
                            name, val);
            out->dtype = known_dtypes[i].type;
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (parse_word(&c, "True"))
                return fail(SPKSIM_E_FORMAT, err, err_len,
                            "%s: Fortran-order arrays are not supported; save C order", name);
            if (!parse_word(&c, "False"))
                return fail(SPKSIM_E_FORMAT, err, err_len, "%s: bad 'fortran_order'", name);
            have_order = 1;
        } else if (strcmp(key, "shape") == 0) {
            if (!parse_shape(&c, out))
                return fail(SPKSIM_E_FORMAT, err, err_len,
                            "%s: 'shape' is not a tuple of at most %d integers", name,
                            SPK_NPY_MAX_DIMS);
            have_shape = 1;
        } else {
            return fail(SPKSIM_E_FORMAT, err, err_len, "%s: unknown header key '%s'", name, key);
        }
        if (!take(&c, ',')) {
            if (!take(&c, '}'))
                return fail(SPKSIM_E_FORMAT, err, err_len, "%s: malformed header dict", name);
            break;
        }
    }
    if (!have_descr || !have_order || !have_shape)
        return fail(SPKSIM_E_FORMAT, err, err_len, "%s: header lacks '%s'", name,
                    !have_descr   ? "descr"
                    : !have_order ? "fortran_order"
                                  : "shape");
    return SPKSIM_OK;
}

spksim_status spk_npy_parse(const uint8_t *b, size_t len, const char *name, spk_npy *out, char *err,
                            size_t err_len) {
    if (!b || !name || !out) return fail(SPKSIM_E_ARG, err, err_len, "npy: NULL argument");
    memset(out, 0, sizeof *out);
    if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return fail(SPKSIM_E_FORMAT, err, err_len, "%s: not a .npy file (bad magic)", name);
    const unsigned major = b[6], minor = b[7];
    if (major < 1 || major > 3 || minor != 0)
        return fail(SPKSIM_E_FORMAT, err, err_len, "%s: .npy version %u.%u is not supported", name,
                    major, minor);
    size_t pre = major == 1 ? 10 : 12;
    if (len < pre) return fail(SPKSIM_E_FORMAT, err, err_len, "%s: truncated header", name);
    uint64_t hlen = major == 1 ? (uint64_t)b[8] | (uint64_t)b[9] << 8
                               : (uint64_t)b[8] | (uint64_t)b[9] << 8 | (uint64_t)b[10] << 16 |
                                     (uint64_t)b[11] << 24;
    if (hlen > len - pre)
        return fail(SPKSIM_E_FORMAT, err, err_len,
                    "%s: header length %llu runs past the end of the file", name,
                    (unsigned long long)hlen);
    spksim_status st = parse_header((const char *)b + pre, (size_t)hlen, name, out, err, err_len);
    if (st != SPKSIM_OK) return st;
    uint64_t count = 1;
    for (uint32_t i = 0; i < out->ndim; i++) {
        if (out->shape[i] && count > UINT64_MAX / out->shape[i])
            return fail(SPKSIM_E_FORMAT, err, err_len, "%s: shape overflows", name);
        count *= out->shape[i];
    }
    const size_t esize = spk_npy_dtype_size(out->dtype);
    const size_t avail = len - pre - (size_t)hlen;
    if (count > avail / esize || count * esize != avail)
        return fail(SPKSIM_E_FORMAT, err, err_len,
                    "%s: data holds %zu bytes but the shape needs %llu elements of %zu bytes", name,
                    avail, (unsigned long long)count, esize);
    out->count = count;
    out->data = malloc(avail ? avail : 1);
    if (!out->data) return fail(SPKSIM_E_NOMEM, err, err_len, "%s: out of memory", name);
    memcpy(out->data, b + pre + hlen, avail);
    return SPKSIM_OK;
}

spksim_status spk_npy_read(const char *path, spk_npy *out, char *err, size_t err_len) {
    if (!path || !out) return fail(SPKSIM_E_ARG, err, err_len, "npy: NULL argument");
    memset(out, 0, sizeof *out);
    FILE *f = spk_file_open_read(path, "rb", err, err_len);
    if (!f) return SPKSIM_E_IO;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(f);
                return fail(SPKSIM_E_NOMEM, err, err_len, "%s: out of memory", path);
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int read_error = ferror(f);
    fclose(f);
    spksim_status st = read_error ? fail(SPKSIM_E_IO, err, err_len, "%s: read error", path)
                                  : spk_npy_parse(buf, len, path, out, err, err_len);
    free(buf);
    return st;
}

spksim_status spk_npy_to_f32(spk_npy *a, char *err, size_t err_len) {
    if (!a || (!a->data && a->count)) return fail(SPKSIM_E_ARG, err, err_len, "npy: NULL array");
    if (a->dtype == SPK_NPY_F32) return SPKSIM_OK;
    float *f = malloc(a->count ? a->count * sizeof *f : 1);
    if (!f) return fail(SPKSIM_E_NOMEM, err, err_len, "npy: out of memory");
    const double limit = 16777216.0; /* 2^24: larger integers are not exact in float32 */
    for (uint64_t i = 0; i < a->count; i++) {
        double v = 0;
        switch (a->dtype) {
        case SPK_NPY_F64:
            v = ((const double *)a->data)[i];
            break;
        case SPK_NPY_I8:
            v = ((const int8_t *)a->data)[i];
            break;
        case SPK_NPY_I16:
            v = ((const int16_t *)a->data)[i];
            break;
        case SPK_NPY_I32:
            v = ((const int32_t *)a->data)[i];
            break;
        case SPK_NPY_I64:
            v = (double)((const int64_t *)a->data)[i];
            break;
        case SPK_NPY_U8:
            v = ((const uint8_t *)a->data)[i];
            break;
        case SPK_NPY_U16:
            v = ((const uint16_t *)a->data)[i];
            break;
        case SPK_NPY_U32:
            v = ((const uint32_t *)a->data)[i];
            break;
        case SPK_NPY_F32:
            break;
        }
        const int is_float = a->dtype == SPK_NPY_F64;
        if ((is_float && (!isfinite(v) || fabs(v) > 3.4028234663852886e38)) ||
            (!is_float && fabs(v) > limit)) {
            free(f);
            return fail(SPKSIM_E_RANGE, err, err_len,
                        "npy: element %llu (%g) is not representable as float32%s",
                        (unsigned long long)i, v, is_float ? "" : " exactly");
        }
        f[i] = (float)v;
    }
    free(a->data);
    a->data = f;
    a->dtype = SPK_NPY_F32;
    return SPKSIM_OK;
}

spksim_status spk_npy_write_f32(const char *path, const float *data, uint32_t ndim,
                                const uint64_t *shape, char *err, size_t err_len) {
    if (!path || ndim > SPK_NPY_MAX_DIMS || (ndim && !shape))
        return fail(SPKSIM_E_ARG, err, err_len, "npy: bad arguments to write");
    char dict[256];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    uint64_t count = 1;
    for (uint32_t i = 0; i < ndim; i++) {
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%llu,%s", (unsigned long long)shape[i],
                      i + 1 < ndim ? " " : "");
        count *= shape[i];
    }
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    if (count && !data) return fail(SPKSIM_E_ARG, err, err_len, "npy: NULL data");
    /* Pad so that magic + length + dict + '\n' is a multiple of 64 bytes. */
    size_t total = 10 + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    FILE *f = fopen(path, "wb");
    if (!f) return fail(SPKSIM_E_IO, err, err_len, "%s: %s", path, strerror(errno));
    uint16_t hlen = (uint16_t)((size_t)n + pad + 1);
    uint8_t pre[10] = {
        0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)(hlen & 0xFF), (uint8_t)(hlen >> 8)};
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)n, f) == (size_t)n;
    for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF;
    ok = ok && (count == 0 || fwrite(data, sizeof(float), count, f) == count);
    if (fclose(f) != 0) ok = 0;
    return ok ? SPKSIM_OK : fail(SPKSIM_E_IO, err, err_len, "%s: write failed", path);
}

void spk_npy_free(spk_npy *a) {
    if (!a) return;
    free(a->data);
    a->data = NULL;
    a->count = 0;
}
