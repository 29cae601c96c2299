/* Energy model: event counts x constants whose provenance is in the constants file. */
#include "spksim/energy.h"
#include "spksim/file.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELD(f)                                                                                   \
    { #f, offsetof(spk_energy_constants, f) }
static const struct {
    const char *name;
    size_t offset;
} fields[SPK_ENERGY_N_CONSTANTS] = {FIELD(dram_pj_per_bit),
                                    FIELD(sram_pj_per_access),
                                    FIELD(mult_pj),
                                    FIELD(add_pj),
                                    FIELD(softmax_pj),
                                    FIELD(compare_pj),
                                    FIELD(importance_pj),
                                    FIELD(logic_scale),
                                    FIELD(area_full_mm2),
                                    FIELD(power_full_w),
                                    FIELD(power_logic_w),
                                    FIELD(power_sram_w),
                                    FIELD(power_dram_w),
                                    FIELD(area_eighth_mm2),
                                    FIELD(gops_eighth),
                                    FIELD(topk_area_fraction),
                                    FIELD(topk_power_fraction)};

const char *spk_energy_key(size_t i) {
    return i < SPK_ENERGY_N_CONSTANTS ? fields[i].name : NULL;
}

double spk_energy_value(const spk_energy_constants *c, size_t i) {
    if (i >= SPK_ENERGY_N_CONSTANTS) return 0;
    double v;
    memcpy(&v, (const char *)c + fields[i].offset, sizeof v);
    return v;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

static int parse_line(char *line, spk_energy_constants *c, int *seen, char *msg, size_t len) {
    char *hash = strchr(line, '#');
    char *comment = hash ? hash + 1 : NULL;
    if (hash) *hash = '\0';
    char *s = trim(line);
    if (!*s) return 0;
    char *eq = strchr(s, '=');
    if (!eq) {
        snprintf(msg, len, "expected 'key = value  # source: ...'");
        return -1;
    }
    *eq = '\0';
    char *key = trim(s), *value = trim(eq + 1);
    size_t i = 0;
    while (i < SPK_ENERGY_N_CONSTANTS && strcmp(fields[i].name, key) != 0) i++;
    if (i == SPK_ENERGY_N_CONSTANTS) {
        snprintf(msg, len, "unknown constant '%s'", key);
        return -1;
    }
    if (seen[i]) {
        snprintf(msg, len, "constant '%s' given twice", key);
        return -1;
    }
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (end == value || *end || errno || !isfinite(v) || v < 0) {
        snprintf(msg, len, "'%s': '%s' is not a non-negative number", key, value);
        return -1;
    }
    const char *src = comment ? strstr(comment, "source:") : NULL;
    if (!src || !*trim((char *)src + 7)) {
        snprintf(msg, len, "'%s' has no '# source: ...' comment", key);
        return -1;
    }
    snprintf(c->source[i], sizeof c->source[i], "%s", trim((char *)src + 7));
    memcpy((char *)c + fields[i].offset, &v, sizeof v);
    seen[i] = 1;
    return 0;
}

int spk_energy_load(const char *path, spk_energy_constants *c, char *err, size_t err_len) {
    if (!path || !c) return -1;
    memset(c, 0, sizeof *c);
    FILE *f = spk_file_open_read(path, "r", err, err_len);
    if (!f) return -1;
    int seen[SPK_ENERGY_N_CONSTANTS] = {0}, line_no = 0, rc = 0;
    char line[1024], msg[300] = "";
    while (rc == 0 && fgets(line, sizeof line, f)) {
        line_no++;
        /* A line that fills the buffer would be read on as a second line: refuse it. */
        if (strlen(line) == sizeof line - 1 && line[sizeof line - 2] != '\n' && fgetc(f) != EOF) {
            snprintf(msg, sizeof msg, "longer than %d characters", (int)sizeof line - 2);
            rc = -1;
            break;
        }
        rc = parse_line(line, c, seen, msg, sizeof msg);
    }
    if (rc == 0 && ferror(f)) {
        snprintf(msg, sizeof msg, "read error");
        rc = -1;
    }
    fclose(f);
    if (rc) {
        if (err && err_len) snprintf(err, err_len, "%s: line %d: %s", path, line_no, msg);
        return -1;
    }
    for (size_t i = 0; i < SPK_ENERGY_N_CONSTANTS; i++) {
        if (!seen[i]) {
            if (err && err_len)
                snprintf(err, err_len, "%s: constant '%s' is missing", path, fields[i].name);
            return -1;
        }
    }
    return 0;
}

void spk_energy_compute(const spk_energy_constants *c, const spk_cycle_stats *s,
                        spk_energy_report *out) {
    const spk_cycle_events *e = &s->events;
    out->dram_pj = (double)s->dram_bytes * 8.0 * c->dram_pj_per_bit;
    double sram_bytes = (double)(e->kbuf_write_bytes + e->kbuf_read_bytes + e->vbuf_write_bytes +
                                 e->vbuf_read_bytes);
    out->sram_pj = sram_bytes / 8.0 * c->sram_pj_per_access * c->logic_scale;
    double macs = (double)(e->qk_macs + e->pv_macs);
    out->compute_pj =
        (macs * (c->mult_pj + c->add_pj) + (double)e->softmax_elems * c->softmax_pj +
         (double)e->topk_compares * c->compare_pj + (double)e->importance_adds * c->importance_pj) *
        c->logic_scale;
    out->total_pj = out->dram_pj + out->sram_pj + out->compute_pj;
}
