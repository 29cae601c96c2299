/* Streaming JSON writer. */
#include "spksim/json.h"

#include <math.h>
#include <string.h>

void spk_json_init(spk_json *j, FILE *f) {
    memset(j, 0, sizeof *j);
    j->f = f;
}

static void write_escaped(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

/* Separator, indentation and key before a value. */
static void value_prefix(spk_json *j, const char *key) {
    if (j->count[j->depth]++ > 0) fputc(',', j->f);
    if (j->depth > 0) {
        fputc('\n', j->f);
        for (int i = 0; i < j->depth; i++) fputs("  ", j->f);
    }
    if (key) {
        write_escaped(j->f, key);
        fputs(": ", j->f);
    }
}

static void open(spk_json *j, const char *key, char c) {
    value_prefix(j, key);
    fputc(c, j->f);
    if (j->depth + 1 >= SPK_JSON_MAX_DEPTH) {
        j->error = 1;
        return;
    }
    j->count[++j->depth] = 0;
}

static void close_level(spk_json *j, char c) {
    if (j->depth == 0) {
        j->error = 1;
        return;
    }
    int had = j->count[j->depth--];
    if (had) {
        fputc('\n', j->f);
        for (int i = 0; i < j->depth; i++) fputs("  ", j->f);
    }
    fputc(c, j->f);
}

void spk_json_object_begin(spk_json *j, const char *key) {
    open(j, key, '{');
}
void spk_json_object_end(spk_json *j) {
    close_level(j, '}');
}
void spk_json_array_begin(spk_json *j, const char *key) {
    open(j, key, '[');
}
void spk_json_array_end(spk_json *j) {
    close_level(j, ']');
}

void spk_json_u64(spk_json *j, const char *key, uint64_t v) {
    value_prefix(j, key);
    fprintf(j->f, "%llu", (unsigned long long)v);
}

void spk_json_i64(spk_json *j, const char *key, int64_t v) {
    value_prefix(j, key);
    fprintf(j->f, "%lld", (long long)v);
}

void spk_json_double(spk_json *j, const char *key, double v) {
    value_prefix(j, key);
    if (isfinite(v))
        fprintf(j->f, "%.15g", v);
    else
        fputs("null", j->f);
}

void spk_json_string(spk_json *j, const char *key, const char *s) {
    value_prefix(j, key);
    write_escaped(j->f, s ? s : "");
}

void spk_json_bool(spk_json *j, const char *key, int v) {
    value_prefix(j, key);
    fputs(v ? "true" : "false", j->f);
}

int spk_json_finish(spk_json *j) {
    fputc('\n', j->f);
    if (j->depth != 0) j->error = 1;
    return j->error || ferror(j->f) ? -1 : 0;
}
