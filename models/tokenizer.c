/* Byte-level BPE: pre-tokenize into words, map each byte to its GPT-2 code point, then merge
 * adjacent symbols by merge rank (lowest first, leftmost on ties) until no merge applies. */
#include "spkllm/tokenizer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unicode_tables.h"

enum {
    TOKEN_NORMAL = 1,
    TOKEN_UNKNOWN = 2,
    TOKEN_CONTROL = 3,
    TOKEN_USER = 4,
    TOKEN_UNUSED = 5,
    TOKEN_BYTE = 6
};
enum { PRE_GPT2, PRE_SMOLLM };

typedef struct {
    uint64_t key; /* 0 = empty slot */
    int32_t value, extra;
} slot;

typedef struct {
    slot *slots;
    size_t mask;
} table;

struct spkllm_tokenizer {
    int n_vocab;
    spkllm_str *text;
    int32_t *type;
    table vocab;  /* hash(text) -> id, collisions resolved by comparing text */
    table merges; /* (left << 32 | right) + 1 -> rank, merged id */
    int32_t byte_token[256];
    uint32_t byte_cp[256];
    uint8_t cp_byte[512]; /* inverse of byte_cp for code points < 512 */
    int32_t *specials;    /* control and user-defined ids, longest text first */
    int n_specials;
    int pre;
    int32_t bos, eos;
    int add_bos;
};

static spkllm_status fail(char *err, size_t len, spkllm_status st, const char *fmt, ...) {
    if (err && len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, len, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* ---- hash tables ----------------------------------------------------------------------- */

static uint64_t hash_bytes(const char *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
    return h | 1; /* never 0, the empty marker */
}

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static int table_init(table *t, size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    t->slots = calloc(cap, sizeof *t->slots);
    t->mask = cap - 1;
    return t->slots != NULL;
}

static int32_t vocab_find(const spkllm_tokenizer *t, const char *p, size_t n) {
    uint64_t h = hash_bytes(p, n);
    for (size_t i = mix(h) & t->vocab.mask;; i = (i + 1) & t->vocab.mask) {
        const slot *s = &t->vocab.slots[i];
        if (!s->key) return -1;
        if (s->key == h && t->text[s->value].len == n && memcmp(t->text[s->value].ptr, p, n) == 0)
            return s->value;
    }
}

static void vocab_insert(spkllm_tokenizer *t, int32_t id) {
    if (vocab_find(t, t->text[id].ptr, t->text[id].len) >= 0) return; /* first id wins */
    uint64_t h = hash_bytes(t->text[id].ptr, t->text[id].len);
    size_t i = mix(h) & t->vocab.mask;
    while (t->vocab.slots[i].key) i = (i + 1) & t->vocab.mask;
    t->vocab.slots[i].key = h;
    t->vocab.slots[i].value = id;
}

static uint64_t pair_key(int32_t a, int32_t b) {
    return (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
}

static const slot *merge_find(const spkllm_tokenizer *t, int32_t a, int32_t b) {
    uint64_t k = pair_key(a, b);
    for (size_t i = mix(k) & t->merges.mask;; i = (i + 1) & t->merges.mask) {
        const slot *s = &t->merges.slots[i];
        if (!s->key) return NULL;
        if (s->key == k) return s;
    }
}

/* ---- UTF-8 and code point classes ------------------------------------------------------ */

enum { CLS_NONE, CLS_LETTER, CLS_NUMBER, CLS_SPACE, CLS_OTHER };

static int in_ranges(uint32_t cp, const spkllm_cp_range *r, size_t n) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < r[mid].lo)
            hi = mid;
        else if (cp > r[mid].hi)
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

static int is_space(uint32_t cp) {
    return (cp >= 9 && cp <= 13) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

static int classify(uint32_t cp) {
    if (cp < 128) {
        if ((cp | 32) >= 'a' && (cp | 32) <= 'z') return CLS_LETTER;
        if (cp >= '0' && cp <= '9') return CLS_NUMBER;
        return is_space(cp) ? CLS_SPACE : CLS_OTHER;
    }
    if (is_space(cp)) return CLS_SPACE;
    if (in_ranges(cp, spkllm_letter_ranges, spkllm_letter_ranges_count)) return CLS_LETTER;
    if (in_ranges(cp, spkllm_number_ranges, spkllm_number_ranges_count)) return CLS_NUMBER;
    return CLS_OTHER;
}

/* Decodes one code point at s[0..n); invalid bytes decode as themselves (one byte, OTHER). */
static uint32_t utf8_next(const uint8_t *s, size_t n, size_t *used) {
    uint8_t c = s[0];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || (size_t)len > n) {
        *used = 1;
        return 0x110000u + c;
    }
    uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *used = 1;
            return 0x110000u + c;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    *used = (size_t)len;
    return cp;
}

static size_t utf8_put(uint32_t cp, char *out) {
    if (cp < 0x80) return out[0] = (char)cp, 1;
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6)), out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    out[0] = (char)(0xe0 | (cp >> 12)), out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
}

/* ---- output buffer --------------------------------------------------------------------- */

typedef struct {
    int32_t *ids;
    size_t n, cap;
} id_vec;

static int push(id_vec *v, int32_t id) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 256;
        int32_t *p = realloc(v->ids, cap * sizeof *p);
        if (!p) return 0;
        v->ids = p, v->cap = cap;
    }
    v->ids[v->n++] = id;
    return 1;
}

/* ---- BPE on one pre-tokenized word ----------------------------------------------------- */

/* A candidate merge of the symbols starting at left and right; stale when either changed. */
typedef struct {
    int32_t rank, left, right, left_id, right_id, result;
} candidate;

typedef struct {
    int32_t *id, *prev, *next;
    candidate *heap;
    size_t cap, heap_len;
} bpe_scratch;

static int cand_before(const candidate *a, const candidate *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void heap_push(bpe_scratch *s, candidate c) {
    size_t i = s->heap_len++;
    while (i && cand_before(&c, &s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = c;
}

static candidate heap_pop(bpe_scratch *s) {
    candidate top = s->heap[0], last = s->heap[--s->heap_len];
    size_t i = 0;
    for (;;) {
        size_t k = 2 * i + 1;
        if (k >= s->heap_len) break;
        if (k + 1 < s->heap_len && cand_before(&s->heap[k + 1], &s->heap[k])) k++;
        if (!cand_before(&s->heap[k], &last)) break;
        s->heap[i] = s->heap[k];
        i = k;
    }
    if (s->heap_len) s->heap[i] = last;
    return top;
}

static void push_pair(const spkllm_tokenizer *t, bpe_scratch *s, int32_t left, int32_t right) {
    if (left < 0 || right < 0 || s->id[left] < 0 || s->id[right] < 0) return;
    const slot *e = merge_find(t, s->id[left], s->id[right]);
    if (e) heap_push(s, (candidate){e->value, left, right, s->id[left], s->id[right], e->extra});
}

static int grow(void **p, size_t n, size_t size) {
    void *q = realloc(*p, n * size);
    if (q) *p = q;
    return q != NULL;
}

/* Merges the lowest-ranked adjacent pair (leftmost on ties) until none applies: O(n log n). */
static int bpe_word(const spkllm_tokenizer *t, const uint8_t *w, size_t n, bpe_scratch *s,
                    id_vec *out) {
    if (n > INT32_MAX / 4) return 0;
    if (n > s->cap) {
        size_t cap = n * 2;
        if (!grow((void **)&s->id, cap, sizeof *s->id) ||
            !grow((void **)&s->prev, cap, sizeof *s->prev) ||
            !grow((void **)&s->next, cap, sizeof *s->next) ||
            /* n - 1 initial pairs plus at most two new ones per merge */
            !grow((void **)&s->heap, 3 * cap, sizeof *s->heap))
            return 0;
        s->cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        s->id[i] = t->byte_token[w[i]];
        s->prev[i] = (int32_t)i - 1;
        s->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    s->heap_len = 0;
    for (size_t i = 0; i + 1 < n; i++) push_pair(t, s, (int32_t)i, (int32_t)i + 1);
    while (s->heap_len) {
        candidate c = heap_pop(s);
        /* Skip candidates whose symbols merged with something else since they were queued. */
        if (s->next[c.left] != c.right || s->id[c.left] != c.left_id ||
            s->id[c.right] != c.right_id)
            continue;
        s->id[c.left] = c.result;
        s->id[c.right] = -2; /* dead */
        s->next[c.left] = s->next[c.right];
        if (s->next[c.right] >= 0) s->prev[s->next[c.right]] = c.left;
        push_pair(t, s, s->prev[c.left], c.left);
        push_pair(t, s, c.left, s->next[c.left]);
    }
    for (int32_t i = n ? 0 : -1; i >= 0; i = s->next[i])
        if (s->id[i] >= 0 && !push(out, s->id[i])) return 0;
    return 1;
}

/* ---- pre-tokenizer: the GPT-2 pattern over code points cp[s..e) ------------------------- */

typedef struct {
    const uint32_t *cp;
    const size_t *off; /* byte offset of each code point, off[count] = end */
    const int *cls;
} cps_view;

static int cls_at(const cps_view *v, size_t pos, size_t e) {
    return pos < e ? v->cls[pos] : CLS_NONE;
}

static int emit_word(const spkllm_tokenizer *t, const uint8_t *text, const cps_view *v, size_t a,
                     size_t b, bpe_scratch *s, id_vec *out) {
    return bpe_word(t, text + v->off[a], v->off[b] - v->off[a], s, out);
}

static int gpt2_split(const spkllm_tokenizer *t, const uint8_t *text, const cps_view *v, size_t s0,
                      size_t e, bpe_scratch *s, id_vec *out) {
    size_t pos = s0;
    while (pos < e) {
        size_t start = pos;
        uint32_t c = v->cp[pos];
        if (c == '\'' && pos + 1 < e) { /* 's 't 'm 'd 're 've 'll */
            uint32_t c1 = v->cp[pos + 1], c2 = pos + 2 < e ? v->cp[pos + 2] : 0;
            size_t len =
                (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') ? 2
                : ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l'))
                    ? 3
                    : 0;
            if (len) {
                if (!emit_word(t, text, v, pos, pos + len, s, out)) return 0;
                pos += len;
                continue;
            }
        }
        /* " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+" */
        int k = c == ' ' ? cls_at(v, pos + 1, e) : v->cls[pos];
        if (k == CLS_LETTER || k == CLS_NUMBER || k == CLS_OTHER) {
            pos += c == ' ';
            while (cls_at(v, pos, e) == k) pos++;
            if (!emit_word(t, text, v, start, pos, s, out)) return 0;
            continue;
        }
        size_t nsp = 0;
        while (cls_at(v, pos + nsp, e) == CLS_SPACE) nsp++;
        if (nsp > 1 && pos + nsp < e) { /* "\s+(?!\S)": leave the last space for the next word */
            pos += nsp - 1;
        } else if (nsp > 0) { /* "\s+" */
            pos += nsp;
        } else {
            pos++;
        }
        if (!emit_word(t, text, v, start, pos, s, out)) return 0;
    }
    return 1;
}

/* Copies @p text with every byte that is not valid UTF-8 replaced by U+FFFD, as llama.cpp does.
 * Returns NULL when out of memory; *out_len receives the new length. */
static uint8_t *sanitize_utf8(const uint8_t *text, size_t len, size_t *out_len) {
    uint8_t *s = malloc(3 * len + 1);
    size_t n = 0;
    for (size_t i = 0; s && i < len;) {
        size_t used;
        uint32_t cp = utf8_next(text + i, len - i, &used);
        if (cp >= 0x110000u) {
            s[n++] = 0xef, s[n++] = 0xbf, s[n++] = 0xbd;
        } else {
            memcpy(s + n, text + i, used);
            n += used;
        }
        i += used;
    }
    *out_len = n;
    return s;
}

static int encode_valid(const spkllm_tokenizer *t, const uint8_t *text, size_t len, id_vec *out);

/* Pre-tokenizes and encodes a fragment without special tokens. */
static int encode_plain(const spkllm_tokenizer *t, const uint8_t *raw, size_t raw_len,
                        id_vec *out) {
    if (!raw_len) return 1;
    size_t len;
    uint8_t *text = sanitize_utf8(raw, raw_len, &len);
    int ok = text && encode_valid(t, text, len, out);
    free(text);
    return ok;
}

static int encode_valid(const spkllm_tokenizer *t, const uint8_t *text, size_t len, id_vec *out) {
    uint32_t *cp = malloc(len * sizeof *cp);
    size_t *off = malloc((len + 1) * sizeof *off);
    int *cls = malloc(len * sizeof *cls);
    bpe_scratch s = {0};
    int ok = cp && off && cls;
    size_t n = 0;
    for (size_t i = 0; ok && i < len; n++) {
        size_t used;
        off[n] = i;
        cp[n] = utf8_next(text + i, len - i, &used);
        cls[n] = cp[n] >= 0x110000u ? CLS_OTHER : classify(cp[n]);
        i += used;
    }
    if (ok) off[n] = len;
    cps_view v = {cp, off, cls};
    if (ok && t->pre == PRE_SMOLLM) { /* every number code point is a word of its own first */
        size_t a = 0;
        for (size_t i = 0; ok && i <= n; i++) {
            if (i < n && cls[i] != CLS_NUMBER) continue;
            if (a < i) ok = gpt2_split(t, text, &v, a, i, &s, out);
            if (ok && i < n) ok = gpt2_split(t, text, &v, i, i + 1, &s, out);
            a = i + 1;
        }
    } else if (ok) {
        ok = gpt2_split(t, text, &v, 0, n, &s, out);
    }
    free(cp), free(off), free(cls);
    free(s.id), free(s.prev), free(s.next), free(s.heap);
    return ok;
}

spkllm_status spkllm_tokenize(const spkllm_tokenizer *t, const char *text, size_t len,
                              int parse_special, int32_t **ids, size_t *n_ids) {
    *ids = NULL, *n_ids = 0;
    if (!text && len) return SPKLLM_ERR_ARG;
    id_vec out = {0};
    int ok = 1;
    if (t->add_bos && t->bos >= 0) ok = push(&out, t->bos);
    size_t a = 0, i = 0;
    const uint8_t *u = (const uint8_t *)text;
    while (ok && i < len) {
        int32_t hit = -1;
        for (int k = 0; k < t->n_specials && hit < 0; k++) {
            int32_t id = t->specials[k];
            spkllm_str s = t->text[id];
            if (!parse_special && t->type[id] == TOKEN_CONTROL) continue;
            if (s.len && s.len <= len - i && memcmp(u + i, s.ptr, s.len) == 0) hit = id;
        }
        if (hit < 0) {
            i++;
            continue;
        }
        ok = encode_plain(t, u + a, i - a, &out) && push(&out, hit);
        i += t->text[hit].len;
        a = i;
    }
    if (ok) ok = encode_plain(t, u + a, len - a, &out);
    if (!ok) {
        free(out.ids);
        return SPKLLM_ERR_NOMEM;
    }
    *ids = out.ids ? out.ids : malloc(sizeof(int32_t));
    *n_ids = out.n;
    return *ids ? SPKLLM_OK : SPKLLM_ERR_NOMEM;
}

size_t spkllm_token_to_piece(const spkllm_tokenizer *t, int32_t id, char *buf, size_t cap,
                             int special) {
    if (id < 0 || id >= t->n_vocab) return 0;
    spkllm_str s = t->text[id];
    int ty = t->type[id];
    if (ty == TOKEN_CONTROL || ty == TOKEN_UNKNOWN || ty == TOKEN_UNUSED) {
        if (!special) return 0;
    }
    if (ty != TOKEN_NORMAL) {
        for (size_t i = 0; i < s.len && i < cap; i++) buf[i] = s.ptr[i];
        return s.len;
    }
    size_t n = 0;
    for (size_t i = 0; i < s.len;) {
        size_t used;
        uint32_t cp = utf8_next((const uint8_t *)s.ptr + i, s.len - i, &used);
        i += used;
        if (cp < 512 && (cp == t->byte_cp[t->cp_byte[cp]])) {
            if (n < cap) buf[n] = (char)t->cp_byte[cp];
            n++;
        } else { /* not a byte-map code point: emit as UTF-8 */
            char tmp[4];
            size_t k = cp < 0x110000u ? utf8_put(cp > 0xffff ? 0xfffd : cp, tmp) : 0;
            for (size_t j = 0; j < k; j++, n++)
                if (n < cap) buf[n] = tmp[j];
        }
    }
    return n;
}

/* ---- loading --------------------------------------------------------------------------- */

static void build_byte_map(spkllm_tokenizer *t) {
    uint32_t next = 256;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        t->byte_cp[b] = printable ? (uint32_t)b : next++;
    }
    memset(t->cp_byte, 0, sizeof t->cp_byte);
    for (int b = 0; b < 256; b++) t->cp_byte[t->byte_cp[b]] = (uint8_t)b;
    for (int b = 0; b < 256; b++) {
        char tmp[4];
        size_t n = utf8_put(t->byte_cp[b], tmp);
        t->byte_token[b] = vocab_find(t, tmp, n);
    }
}

typedef struct {
    uint64_t len;
    int32_t id;
} special_entry;

/* Longest special token first, so that a token that contains another one wins. */
static int special_cmp(const void *a, const void *b) {
    const special_entry *x = a, *y = b;
    return x->len > y->len ? -1 : x->len < y->len ? 1 : (x->id > y->id) - (x->id < y->id);
}

static int sort_specials(spkllm_tokenizer *t) {
    special_entry *e = malloc(sizeof *e * (size_t)(t->n_specials + 1));
    if (!e) return 0;
    for (int i = 0; i < t->n_specials; i++)
        e[i] = (special_entry){t->text[t->specials[i]].len, t->specials[i]};
    qsort(e, (size_t)t->n_specials, sizeof *e, special_cmp);
    for (int i = 0; i < t->n_specials; i++) t->specials[i] = e[i].id;
    free(e);
    return 1;
}

static spkllm_status load_merges(spkllm_tokenizer *t, const spkllm_gguf_kv *kv, char *err,
                                 size_t len) {
    if (!table_init(&t->merges, kv->arr_len))
        return fail(err, len, SPKLLM_ERR_NOMEM, "out of memory for merges");
    const uint8_t *cur = kv->arr_data;
    for (uint64_t r = 0; r < kv->arr_len; r++) {
        spkllm_str m = spkllm_gguf_next_str(&cur);
        const char *sp = m.len > 1 ? memchr(m.ptr + 1, ' ', m.len - 1) : NULL;
        if (!sp)
            return fail(err, len, SPKLLM_ERR_FORMAT, "tokenizer.ggml.merges[%llu] has no space",
                        (unsigned long long)r);
        size_t la = (size_t)(sp - m.ptr), lb = m.len - la - 1;
        int32_t a = vocab_find(t, m.ptr, la), b = vocab_find(t, sp + 1, lb);
        if (a < 0 || b < 0 || la + lb > 1024) continue; /* cannot apply: its parts never occur */
        char joined[1024];
        memcpy(joined, m.ptr, la);
        memcpy(joined + la, sp + 1, lb);
        int32_t res = vocab_find(t, joined, la + lb);
        if (res < 0 || merge_find(t, a, b)) continue; /* keep the first (best) rank */
        uint64_t k = pair_key(a, b);
        size_t i = mix(k) & t->merges.mask;
        while (t->merges.slots[i].key) i = (i + 1) & t->merges.mask;
        t->merges.slots[i] = (slot){k, (int32_t)r, res};
    }
    return SPKLLM_OK;
}

/* An optional token id: -1 when the key is absent, refused when present but not a valid id. */
static spkllm_status opt_id(const spkllm_gguf *g, const char *key, int n_vocab, int32_t *out,
                            char *err, size_t len) {
    uint32_t v;
    *out = -1;
    spkllm_status st = spkllm_gguf_get_u32(g, key, &v);
    if (st == SPKLLM_ERR_NOT_FOUND) return SPKLLM_OK;
    if (st) return fail(err, len, SPKLLM_ERR_FORMAT, "'%s' is not an unsigned token id", key);
    if (v >= (uint32_t)n_vocab)
        return fail(err, len, SPKLLM_ERR_FORMAT, "'%s' = %u is not below the vocabulary size %d",
                    key, v, n_vocab);
    *out = (int32_t)v;
    return SPKLLM_OK;
}

spkllm_status spkllm_tokenizer_load(const spkllm_gguf *g, spkllm_tokenizer **out, char *err,
                                    size_t len) {
    *out = NULL;
    spkllm_str model, pre = {"default", 7};
    if (spkllm_gguf_get_str(g, "tokenizer.ggml.model", &model))
        return fail(err, len, SPKLLM_ERR_NOT_FOUND, "metadata 'tokenizer.ggml.model' is missing");
    if (!spkllm_str_eq(model, "gpt2"))
        return fail(err, len, SPKLLM_ERR_UNSUPPORTED,
                    "tokenizer model '%.*s' is not supported (only gpt2 byte-level BPE)",
                    (int)(model.len > 40 ? 40 : model.len), model.ptr);
    spkllm_gguf_get_str(g, "tokenizer.ggml.pre", &pre);
    int pre_kind;
    if (spkllm_str_eq(pre, "smollm"))
        pre_kind = PRE_SMOLLM;
    else if (spkllm_str_eq(pre, "default") || spkllm_str_eq(pre, "gpt2"))
        pre_kind = PRE_GPT2;
    else
        return fail(err, len, SPKLLM_ERR_UNSUPPORTED, "pre-tokenizer '%.*s' is not supported",
                    (int)(pre.len > 40 ? 40 : pre.len), pre.ptr);
    const spkllm_gguf_kv *tok = spkllm_gguf_find_kv(g, "tokenizer.ggml.tokens");
    const spkllm_gguf_kv *types = spkllm_gguf_find_kv(g, "tokenizer.ggml.token_type");
    const spkllm_gguf_kv *merges = spkllm_gguf_find_kv(g, "tokenizer.ggml.merges");
    if (!tok || tok->type != SPKLLM_GGUF_ARRAY || tok->arr_type != SPKLLM_GGUF_STRING ||
        tok->arr_len == 0 || tok->arr_len > (1u << 24))
        return fail(err, len, SPKLLM_ERR_FORMAT, "'tokenizer.ggml.tokens' must be a string array");
    if (!merges || merges->type != SPKLLM_GGUF_ARRAY || merges->arr_type != SPKLLM_GGUF_STRING)
        return fail(err, len, SPKLLM_ERR_FORMAT, "'tokenizer.ggml.merges' must be a string array");
    if (types && (types->type != SPKLLM_GGUF_ARRAY || types->arr_type != SPKLLM_GGUF_INT32 ||
                  types->arr_len != tok->arr_len))
        return fail(err, len, SPKLLM_ERR_FORMAT,
                    "'tokenizer.ggml.token_type' must be an int32 array as long as the tokens");
    /* Every output row needs a token and every token an embedding row (llama.cpp refuses a
     * token_embd.weight of any other shape). */
    const char *heads[2] = {"token_embd.weight", "output.weight"};
    for (int h = 0; h < 2; h++) {
        const spkllm_gguf_tensor *te = spkllm_gguf_find_tensor(g, heads[h]);
        if (te && te->ne[1] != tok->arr_len)
            return fail(err, len, SPKLLM_ERR_FORMAT,
                        "tokenizer.ggml.tokens has %llu tokens but %s has %llu rows",
                        (unsigned long long)tok->arr_len, heads[h], (unsigned long long)te->ne[1]);
    }
    spkllm_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return fail(err, len, SPKLLM_ERR_NOMEM, "out of memory");
    t->n_vocab = (int)tok->arr_len;
    t->pre = pre_kind;
    t->text = calloc((size_t)t->n_vocab, sizeof *t->text);
    t->type = calloc((size_t)t->n_vocab, sizeof *t->type);
    t->specials = calloc((size_t)t->n_vocab, sizeof *t->specials);
    if (!t->text || !t->type || !t->specials || !table_init(&t->vocab, (size_t)t->n_vocab)) {
        spkllm_tokenizer_free(t);
        return fail(err, len, SPKLLM_ERR_NOMEM, "out of memory for the vocabulary");
    }
    const uint8_t *cur = tok->arr_data;
    for (int i = 0; i < t->n_vocab; i++) {
        t->text[i] = spkllm_gguf_next_str(&cur);
        int32_t ty = TOKEN_NORMAL;
        if (types) {
            const uint8_t *p = types->arr_data + 4 * (size_t)i;
            ty = (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                           (uint32_t)p[3] << 24);
        }
        if (ty < TOKEN_NORMAL || ty > TOKEN_BYTE) {
            spkllm_tokenizer_free(t);
            return fail(err, len, SPKLLM_ERR_FORMAT,
                        "tokenizer.ggml.token_type[%d] = %d is not a known token type (1..6)", i,
                        (int)ty);
        }
        t->type[i] = ty;
        vocab_insert(t, i);
        if ((ty == TOKEN_CONTROL || ty == TOKEN_USER) && t->text[i].len)
            t->specials[t->n_specials++] = i;
    }
    build_byte_map(t);
    spkllm_status st = sort_specials(t) ? load_merges(t, merges, err, len)
                                        : fail(err, len, SPKLLM_ERR_NOMEM, "out of memory");
    if (!st) st = opt_id(g, "tokenizer.ggml.bos_token_id", t->n_vocab, &t->bos, err, len);
    if (!st) st = opt_id(g, "tokenizer.ggml.eos_token_id", t->n_vocab, &t->eos, err, len);
    if (st) {
        spkllm_tokenizer_free(t);
        return st;
    }
    bool add_bos = false;
    spkllm_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &add_bos);
    t->add_bos = add_bos;
    *out = t;
    return SPKLLM_OK;
}

void spkllm_tokenizer_free(spkllm_tokenizer *t) {
    if (!t) return;
    free(t->text), free(t->type), free(t->specials);
    free(t->vocab.slots), free(t->merges.slots);
    free(t);
}

int spkllm_tokenizer_n_vocab(const spkllm_tokenizer *t) {
    return t->n_vocab;
}
int32_t spkllm_tokenizer_eos(const spkllm_tokenizer *t) {
    return t->eos;
}
int32_t spkllm_tokenizer_bos(const spkllm_tokenizer *t) {
    return t->bos;
}
int32_t spkllm_tokenizer_find(const spkllm_tokenizer *t, const char *text) {
    return vocab_find(t, text, strlen(text));
}
int spkllm_tokenizer_is_control(const spkllm_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_vocab && t->type[id] == TOKEN_CONTROL;
}
