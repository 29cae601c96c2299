/* GGUF v3 reader. Every read goes through a bounds-checked cursor so that a truncated or hostile
 * file can only produce an error message, never an out-of-bounds access. */
#include "spkllm/gguf.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_DEFAULT_ALIGNMENT 32u
#define GGUF_MAX_DIMS 4u
#define GGUF_MAX_ARRAY_DEPTH 8

typedef struct {
    const uint8_t *base;
    size_t size;
    size_t pos;
    char *err;
    size_t err_len;
} cursor;

static spkllm_status fail(cursor *c, spkllm_status st, const char *fmt, ...) {
    if (c->err && c->err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->err_len, fmt, ap);
        va_end(ap);
    }
    return st;
}

static bool take(cursor *c, size_t n, const uint8_t **p) {
    if (n > c->size - c->pos) return false;
    *p = c->base + c->pos;
    c->pos += n;
    return true;
}

static uint64_t load_le(const uint8_t *p, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static bool read_u32(cursor *c, uint32_t *v) {
    const uint8_t *p;
    if (!take(c, 4, &p)) return false;
    *v = (uint32_t)load_le(p, 4);
    return true;
}

static bool read_u64(cursor *c, uint64_t *v) {
    const uint8_t *p;
    if (!take(c, 8, &p)) return false;
    *v = load_le(p, 8);
    return true;
}

static bool read_str(cursor *c, spkllm_str *s) {
    uint64_t len;
    const uint8_t *p;
    if (!read_u64(c, &len) || len > c->size - c->pos || !take(c, (size_t)len, &p)) return false;
    s->ptr = (const char *)p;
    s->len = len;
    return true;
}

static unsigned scalar_size(uint32_t type) {
    switch (type) {
    case SPKLLM_GGUF_UINT8:
    case SPKLLM_GGUF_INT8:
    case SPKLLM_GGUF_BOOL:
        return 1;
    case SPKLLM_GGUF_UINT16:
    case SPKLLM_GGUF_INT16:
        return 2;
    case SPKLLM_GGUF_UINT32:
    case SPKLLM_GGUF_INT32:
    case SPKLLM_GGUF_FLOAT32:
        return 4;
    case SPKLLM_GGUF_UINT64:
    case SPKLLM_GGUF_INT64:
    case SPKLLM_GGUF_FLOAT64:
        return 8;
    default:
        return 0;
    }
}

static bool is_known_value_type(uint32_t type) {
    return scalar_size(type) || type == SPKLLM_GGUF_STRING || type == SPKLLM_GGUF_ARRAY;
}

/* Skips over (and so validates) the array body at the cursor. */
static spkllm_status skip_array(cursor *c, const char *key, int depth, uint32_t *elem_type,
                                uint64_t *count) {
    uint32_t type;
    uint64_t n;
    if (!read_u32(c, &type))
        return fail(c, SPKLLM_ERR_FORMAT, "key '%s': array element type truncated", key);
    if (!is_known_value_type(type))
        return fail(c, SPKLLM_ERR_FORMAT, "key '%s': unknown array element type %u", key, type);
    if (!read_u64(c, &n))
        return fail(c, SPKLLM_ERR_FORMAT, "key '%s': array length truncated", key);
    *elem_type = type;
    *count = n;
    unsigned sz = scalar_size(type);
    size_t remaining = c->size - c->pos;
    if (sz) {
        if (n > remaining / sz)
            return fail(c, SPKLLM_ERR_FORMAT,
                        "key '%s': array of %llu elements runs past the end of the file", key,
                        (unsigned long long)n);
        c->pos += (size_t)n * sz;
        return SPKLLM_OK;
    }
    /* Strings take at least 8 bytes, nested arrays at least 12: refuse huge counts up front. */
    if (n > remaining / 8)
        return fail(c, SPKLLM_ERR_FORMAT, "key '%s': array count %llu exceeds the file size", key,
                    (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++) {
        if (type == SPKLLM_GGUF_STRING) {
            spkllm_str s;
            if (!read_str(c, &s))
                return fail(c, SPKLLM_ERR_FORMAT, "key '%s': string %llu of the array truncated",
                            key, (unsigned long long)i);
        } else {
            if (depth >= GGUF_MAX_ARRAY_DEPTH)
                return fail(c, SPKLLM_ERR_FORMAT, "key '%s': arrays nested too deeply", key);
            uint32_t t;
            uint64_t m;
            spkllm_status st = skip_array(c, key, depth + 1, &t, &m);
            if (st) return st;
        }
    }
    return SPKLLM_OK;
}

static spkllm_status read_kv(cursor *c, uint64_t index, spkllm_gguf_kv *kv) {
    char key[96];
    if (!read_str(c, &kv->key))
        return fail(c, SPKLLM_ERR_FORMAT, "key/value %llu: key string truncated",
                    (unsigned long long)index);
    if (kv->key.len == 0)
        return fail(c, SPKLLM_ERR_FORMAT, "key/value %llu: empty key", (unsigned long long)index);
    snprintf(key, sizeof key, "%.*s", (int)(kv->key.len > 80 ? 80 : kv->key.len), kv->key.ptr);
    uint32_t type;
    if (!read_u32(c, &type))
        return fail(c, SPKLLM_ERR_FORMAT, "key '%s': value type truncated", key);
    if (!is_known_value_type(type))
        return fail(c, SPKLLM_ERR_FORMAT, "key '%s': unknown value type %u", key, type);
    kv->type = (spkllm_gguf_type)type;
    if (type == SPKLLM_GGUF_STRING) {
        if (!read_str(c, &kv->v.s))
            return fail(c, SPKLLM_ERR_FORMAT, "key '%s': string value truncated", key);
        return SPKLLM_OK;
    }
    if (type == SPKLLM_GGUF_ARRAY) {
        uint32_t et;
        uint64_t n;
        size_t start = c->pos + 12;
        spkllm_status st = skip_array(c, key, 1, &et, &n);
        if (st) return st;
        kv->arr_type = (spkllm_gguf_type)et;
        kv->arr_len = n;
        kv->arr_data = c->base + start;
        kv->arr_bytes = c->pos - start;
        return SPKLLM_OK;
    }
    unsigned sz = scalar_size(type);
    const uint8_t *p;
    if (!take(c, sz, &p)) return fail(c, SPKLLM_ERR_FORMAT, "key '%s': value truncated", key);
    uint64_t raw = load_le(p, sz);
    switch (type) {
    case SPKLLM_GGUF_UINT8:
    case SPKLLM_GGUF_UINT16:
    case SPKLLM_GGUF_UINT32:
    case SPKLLM_GGUF_UINT64:
        kv->v.u = raw;
        break;
    case SPKLLM_GGUF_INT8:
        kv->v.i = (int8_t)raw;
        break;
    case SPKLLM_GGUF_INT16:
        kv->v.i = (int16_t)raw;
        break;
    case SPKLLM_GGUF_INT32:
        kv->v.i = (int32_t)raw;
        break;
    case SPKLLM_GGUF_INT64:
        kv->v.i = (int64_t)raw;
        break;
    case SPKLLM_GGUF_BOOL:
        if (raw > 1)
            return fail(c, SPKLLM_ERR_FORMAT, "key '%s': bool value %u is not 0 or 1", key,
                        (unsigned)raw);
        kv->v.b = raw != 0;
        break;
    case SPKLLM_GGUF_FLOAT32: {
        uint32_t bits = (uint32_t)raw;
        float f;
        memcpy(&f, &bits, 4);
        kv->v.f = f;
        break;
    }
    case SPKLLM_GGUF_FLOAT64:
        memcpy(&kv->v.f, &raw, 8);
        break;
    default:
        break;
    }
    return SPKLLM_OK;
}

bool spkllm_tensor_type_layout(uint32_t type, uint32_t *block_elems, uint32_t *block_bytes) {
    switch (type) {
    case SPKLLM_TENSOR_F32:
        *block_elems = 1, *block_bytes = 4;
        return true;
    case SPKLLM_TENSOR_F16:
    case SPKLLM_TENSOR_BF16:
        *block_elems = 1, *block_bytes = 2;
        return true;
    case SPKLLM_TENSOR_Q4_0:
        *block_elems = 32, *block_bytes = 18;
        return true;
    case SPKLLM_TENSOR_Q4_1:
        *block_elems = 32, *block_bytes = 20;
        return true;
    case SPKLLM_TENSOR_Q8_0:
        *block_elems = 32, *block_bytes = 34;
        return true;
    default:
        return false;
    }
}

const char *spkllm_tensor_type_name(spkllm_tensor_type type) {
    switch (type) {
    case SPKLLM_TENSOR_F32:
        return "F32";
    case SPKLLM_TENSOR_F16:
        return "F16";
    case SPKLLM_TENSOR_BF16:
        return "BF16";
    case SPKLLM_TENSOR_Q4_0:
        return "Q4_0";
    case SPKLLM_TENSOR_Q4_1:
        return "Q4_1";
    case SPKLLM_TENSOR_Q8_0:
        return "Q8_0";
    }
    return "?";
}

static spkllm_status read_tensor(cursor *c, uint64_t index, spkllm_gguf_tensor *t) {
    char name[96];
    if (!read_str(c, &t->name))
        return fail(c, SPKLLM_ERR_FORMAT, "tensor %llu: name truncated", (unsigned long long)index);
    snprintf(name, sizeof name, "%.*s", (int)(t->name.len > 80 ? 80 : t->name.len), t->name.ptr);
    if (!read_u32(c, &t->n_dims))
        return fail(c, SPKLLM_ERR_FORMAT, "tensor '%s': n_dims truncated", name);
    if (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS)
        return fail(c, SPKLLM_ERR_FORMAT, "tensor '%s': n_dims %u is not in 1..4", name, t->n_dims);
    uint64_t n = 1;
    for (unsigned d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (unsigned d = 0; d < t->n_dims; d++) {
        if (!read_u64(c, &t->ne[d]))
            return fail(c, SPKLLM_ERR_FORMAT, "tensor '%s': ne[%u] truncated", name, d);
        if (t->ne[d] == 0 || t->ne[d] > ((uint64_t)1 << 40) ||
            __builtin_mul_overflow(n, t->ne[d], &n) || n > ((uint64_t)1 << 40))
            return fail(c, SPKLLM_ERR_FORMAT, "tensor '%s': dimension ne[%u]=%llu is out of range",
                        name, d, (unsigned long long)t->ne[d]);
    }
    t->n_elems = n;
    uint32_t type;
    if (!read_u32(c, &type)) return fail(c, SPKLLM_ERR_FORMAT, "tensor '%s': type truncated", name);
    uint32_t be, bb;
    if (!spkllm_tensor_type_layout(type, &be, &bb))
        return fail(c, SPKLLM_ERR_UNSUPPORTED, "tensor '%s': unsupported tensor type %u", name,
                    type);
    t->type = (spkllm_tensor_type)type;
    if (t->ne[0] % be)
        return fail(c, SPKLLM_ERR_FORMAT,
                    "tensor '%s': ne[0]=%llu is not a multiple of the %s block", name,
                    (unsigned long long)t->ne[0], spkllm_tensor_type_name(t->type));
    t->n_bytes = n / be * bb;
    if (!read_u64(c, &t->offset))
        return fail(c, SPKLLM_ERR_FORMAT, "tensor '%s': offset truncated", name);
    return SPKLLM_OK;
}

static int by_offset(const void *a, const void *b) {
    const spkllm_gguf_tensor *x = *(const spkllm_gguf_tensor *const *)a;
    const spkllm_gguf_tensor *y = *(const spkllm_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static spkllm_status check_tensor_layout(cursor *c, spkllm_gguf *g) {
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        spkllm_gguf_tensor *t = &g->tensors[i];
        if (t->offset % g->alignment)
            return fail(c, SPKLLM_ERR_FORMAT, "tensor '%.*s': offset %llu is not aligned to %llu",
                        (int)t->name.len, t->name.ptr, (unsigned long long)t->offset,
                        (unsigned long long)g->alignment);
        uint64_t avail = g->size - g->data_offset;
        if (t->offset > avail || t->n_bytes > avail - t->offset)
            return fail(c, SPKLLM_ERR_FORMAT,
                        "tensor '%.*s': data [%llu, +%llu) runs past the end of the file",
                        (int)t->name.len, t->name.ptr, (unsigned long long)t->offset,
                        (unsigned long long)t->n_bytes);
        t->data = g->base + g->data_offset + t->offset;
    }
    if (g->n_tensors < 2) return SPKLLM_OK;
    const spkllm_gguf_tensor **order = malloc(sizeof *order * g->n_tensors);
    if (!order) return fail(c, SPKLLM_ERR_NOMEM, "out of memory sorting tensors");
    for (uint64_t i = 0; i < g->n_tensors; i++) order[i] = &g->tensors[i];
    qsort(order, g->n_tensors, sizeof *order, by_offset);
    spkllm_status st = SPKLLM_OK;
    for (uint64_t i = 1; i < g->n_tensors && !st; i++) {
        const spkllm_gguf_tensor *a = order[i - 1], *b = order[i];
        if (a->offset + a->n_bytes > b->offset)
            st = fail(c, SPKLLM_ERR_FORMAT, "tensor '%.*s' overlaps tensor '%.*s'",
                      (int)a->name.len, a->name.ptr, (int)b->name.len, b->name.ptr);
    }
    free(order);
    return st;
}

static bool str_eq_str(spkllm_str a, spkllm_str b) {
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

static int by_name(const void *a, const void *b) {
    spkllm_str x = *(const spkllm_str *)a, y = *(const spkllm_str *)b;
    size_t n = x.len < y.len ? x.len : y.len;
    int r = memcmp(x.ptr, y.ptr, n);
    return r ? r : (x.len < y.len ? -1 : x.len > y.len);
}

/* Rejects duplicate keys or tensor names (sorting a copy keeps this O(n log n)). */
static spkllm_status check_unique(cursor *c, const spkllm_str *names, uint64_t n,
                                  const char *what) {
    if (n < 2) return SPKLLM_OK;
    spkllm_str *s = malloc(sizeof *s * n);
    if (!s) return fail(c, SPKLLM_ERR_NOMEM, "out of memory checking %s names", what);
    memcpy(s, names, sizeof *s * n);
    qsort(s, n, sizeof *s, by_name);
    spkllm_status st = SPKLLM_OK;
    for (uint64_t i = 1; i < n && !st; i++)
        if (str_eq_str(s[i - 1], s[i]))
            st = fail(c, SPKLLM_ERR_FORMAT, "duplicate %s '%.*s'", what,
                      (int)(s[i].len > 80 ? 80 : s[i].len), s[i].ptr);
    free(s);
    return st;
}

static spkllm_status parse(cursor *c, spkllm_gguf *g) {
    const uint8_t *magic;
    if (!take(c, 4, &magic)) return fail(c, SPKLLM_ERR_FORMAT, "magic truncated (file too short)");
    if (memcmp(magic, "GGUF", 4) != 0)
        return fail(c, SPKLLM_ERR_FORMAT, "bad magic: not a GGUF file");
    if (!read_u32(c, &g->version)) return fail(c, SPKLLM_ERR_FORMAT, "version truncated");
    if (g->version != 3)
        return fail(c, SPKLLM_ERR_UNSUPPORTED, "version %u is not supported (only GGUF v3)",
                    g->version);
    if (!read_u64(c, &g->n_tensors)) return fail(c, SPKLLM_ERR_FORMAT, "tensor_count truncated");
    if (!read_u64(c, &g->n_kv)) return fail(c, SPKLLM_ERR_FORMAT, "kv_count truncated");
    size_t remaining = c->size - c->pos;
    /* A key/value takes at least 13 bytes and a tensor record at least 32. */
    if (g->n_kv > remaining / 13)
        return fail(c, SPKLLM_ERR_FORMAT, "kv_count %llu exceeds what the file can hold",
                    (unsigned long long)g->n_kv);
    if (g->n_tensors > remaining / 32)
        return fail(c, SPKLLM_ERR_FORMAT, "tensor_count %llu exceeds what the file can hold",
                    (unsigned long long)g->n_tensors);
    g->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof *g->kv);
    g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->tensors);
    if (!g->kv || !g->tensors) return fail(c, SPKLLM_ERR_NOMEM, "out of memory for the header");
    spkllm_status st;
    for (uint64_t i = 0; i < g->n_kv; i++)
        if ((st = read_kv(c, i, &g->kv[i]))) return st;
    spkllm_str *names =
        malloc(sizeof *names * (g->n_kv > g->n_tensors ? g->n_kv : g->n_tensors) + 1);
    if (!names) return fail(c, SPKLLM_ERR_NOMEM, "out of memory for names");
    for (uint64_t i = 0; i < g->n_kv; i++) names[i] = g->kv[i].key;
    st = check_unique(c, names, g->n_kv, "key");
    if (!st) {
        for (uint64_t i = 0; i < g->n_tensors && !st; i++) st = read_tensor(c, i, &g->tensors[i]);
        for (uint64_t i = 0; i < g->n_tensors && !st; i++) names[i] = g->tensors[i].name;
        if (!st) st = check_unique(c, names, g->n_tensors, "tensor name");
    }
    free(names);
    if (st) return st;

    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    const spkllm_gguf_kv *al = spkllm_gguf_find_kv(g, "general.alignment");
    if (al) {
        if (al->type != SPKLLM_GGUF_UINT32)
            return fail(c, SPKLLM_ERR_FORMAT, "general.alignment must be a uint32");
        if (al->v.u == 0 || (al->v.u & (al->v.u - 1)))
            return fail(c, SPKLLM_ERR_FORMAT, "general.alignment %llu is not a power of two",
                        (unsigned long long)al->v.u);
        g->alignment = al->v.u;
    }
    uint64_t data = (c->pos + g->alignment - 1) / g->alignment * g->alignment;
    if (g->n_tensors && data > c->size)
        return fail(c, SPKLLM_ERR_FORMAT, "tensor data section starts past the end of the file");
    g->data_offset = data > c->size ? c->size : data;
    return check_tensor_layout(c, g);
}

spkllm_status spkllm_gguf_open_memory(const void *buf, size_t size, spkllm_gguf *out, char *err,
                                      size_t err_len) {
    memset(out, 0, sizeof *out);
    cursor c = {buf, size, 0, err, err_len};
    if (!buf && size) return fail(&c, SPKLLM_ERR_ARG, "NULL buffer");
    out->base = buf;
    out->size = size;
    spkllm_status st = parse(&c, out);
    if (st) spkllm_gguf_close(out);
    return st;
}

spkllm_status spkllm_gguf_open(const char *path, spkllm_gguf *out, char *err, size_t err_len) {
    memset(out, 0, sizeof *out);
    cursor c = {NULL, 0, 0, err, err_len};
    int fd = open(path, O_RDONLY);
    if (fd < 0) return fail(&c, SPKLLM_ERR_IO, "cannot open '%s'", path);
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return fail(&c, SPKLLM_ERR_IO, "'%s' is not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    void *map = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (size && map == MAP_FAILED) return fail(&c, SPKLLM_ERR_IO, "cannot mmap '%s'", path);
    spkllm_status st = spkllm_gguf_open_memory(map, size, out, err, err_len);
    if (st) {
        if (map) munmap(map, size);
        return st;
    }
    out->mapped = map != NULL;
    return SPKLLM_OK;
}

void spkllm_gguf_close(spkllm_gguf *g) {
    if (!g) return;
    free(g->kv);
    free(g->tensors);
    if (g->mapped) munmap((void *)g->base, g->size);
    memset(g, 0, sizeof *g);
}

bool spkllm_str_eq(spkllm_str s, const char *lit) {
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

const spkllm_gguf_kv *spkllm_gguf_find_kv(const spkllm_gguf *g, const char *key) {
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (spkllm_str_eq(g->kv[i].key, key)) return &g->kv[i];
    return NULL;
}

const spkllm_gguf_tensor *spkllm_gguf_find_tensor(const spkllm_gguf *g, const char *name) {
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (spkllm_str_eq(g->tensors[i].name, name)) return &g->tensors[i];
    return NULL;
}

spkllm_status spkllm_gguf_get_u32(const spkllm_gguf *g, const char *key, uint32_t *out) {
    const spkllm_gguf_kv *kv = spkllm_gguf_find_kv(g, key);
    if (!kv) return SPKLLM_ERR_NOT_FOUND;
    switch (kv->type) {
    case SPKLLM_GGUF_UINT8:
    case SPKLLM_GGUF_UINT16:
    case SPKLLM_GGUF_UINT32:
    case SPKLLM_GGUF_UINT64:
        if (kv->v.u > UINT32_MAX) return SPKLLM_ERR_FORMAT;
        *out = (uint32_t)kv->v.u;
        return SPKLLM_OK;
    case SPKLLM_GGUF_INT8:
    case SPKLLM_GGUF_INT16:
    case SPKLLM_GGUF_INT32:
    case SPKLLM_GGUF_INT64:
        if (kv->v.i < 0 || kv->v.i > (int64_t)UINT32_MAX) return SPKLLM_ERR_FORMAT;
        *out = (uint32_t)kv->v.i;
        return SPKLLM_OK;
    default:
        return SPKLLM_ERR_FORMAT;
    }
}

spkllm_status spkllm_gguf_get_f32(const spkllm_gguf *g, const char *key, float *out) {
    const spkllm_gguf_kv *kv = spkllm_gguf_find_kv(g, key);
    if (!kv) return SPKLLM_ERR_NOT_FOUND;
    if (kv->type != SPKLLM_GGUF_FLOAT32 && kv->type != SPKLLM_GGUF_FLOAT64)
        return SPKLLM_ERR_FORMAT;
    *out = (float)kv->v.f;
    return SPKLLM_OK;
}

spkllm_status spkllm_gguf_get_bool(const spkllm_gguf *g, const char *key, bool *out) {
    const spkllm_gguf_kv *kv = spkllm_gguf_find_kv(g, key);
    if (!kv) return SPKLLM_ERR_NOT_FOUND;
    if (kv->type != SPKLLM_GGUF_BOOL) return SPKLLM_ERR_FORMAT;
    *out = kv->v.b;
    return SPKLLM_OK;
}

spkllm_status spkllm_gguf_get_str(const spkllm_gguf *g, const char *key, spkllm_str *out) {
    const spkllm_gguf_kv *kv = spkllm_gguf_find_kv(g, key);
    if (!kv) return SPKLLM_ERR_NOT_FOUND;
    if (kv->type != SPKLLM_GGUF_STRING) return SPKLLM_ERR_FORMAT;
    *out = kv->v.s;
    return SPKLLM_OK;
}

spkllm_str spkllm_gguf_next_str(const uint8_t **cursor_pos) {
    spkllm_str s;
    s.len = load_le(*cursor_pos, 8);
    s.ptr = (const char *)*cursor_pos + 8;
    *cursor_pos += 8 + s.len;
    return s;
}
