/*
 * attn_layer: run one attention layer on a spatten-kit device and print its statistics.
 *
 *   attn_layer [-b BACKEND] [-o OUT.npy] [-c] [-t TOKEN_KEEP] Q.npy K.npy V.npy
 *
 * Q is float32 [heads][queries][d], K and V are float32 [kv_heads][tokens][d] (.npy, C order).
 * -b names the backend (model, sim, rtl, rtl-compact; default $SPK_BACKEND, else model): the
 * output is bit-identical on every backend. -c applies the causal mask, -t keeps that fraction
 * of the tokens after the layer (cascade pruning: it shows in tokens_kept and in the next
 * layer), -o writes the output [heads][queries][d] as float32 .npy; output_fnv1a is a hash of
 * its bits, to compare runs at a glance. Built against the installed library with
 * `cc attn_layer.c $(pkg-config --cflags --libs spk)`. The .npy reader is the minimal one below
 * (float32 little-endian only) so the example needs nothing but libspk.
 */
#include <spk/spk.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct array3 {
    float *data;
    uint32_t dim[3];
} array3;

/* Read a 3-D little-endian float32 .npy file. Returns 0 or prints why not. */
static int npy_read3(const char *path, array3 *a) {
    FILE *f = fopen(path, "rb");
    unsigned char pre[10];
    char header[4096];
    if (!f) return fprintf(stderr, "attn_layer: cannot open %s\n", path), -1;
    int ok = fread(pre, 1, 10, f) == 10 && memcmp(pre, "\x93NUMPY", 6) == 0 && pre[6] == 1;
    size_t hlen = ok ? (size_t)pre[8] | (size_t)pre[9] << 8 : 0;
    ok = ok && hlen < sizeof(header) && fread(header, 1, hlen, f) == hlen;
    if (ok) header[hlen] = '\0';
    ok = ok && strstr(header, "'descr': '<f4'") && strstr(header, "'fortran_order': False");
    const char *shape = ok ? strstr(header, "'shape': (") : NULL;
    ok = shape && sscanf(shape, "'shape': (%u, %u, %u)", &a->dim[0], &a->dim[1], &a->dim[2]) == 3;
    size_t n = ok ? (size_t)a->dim[0] * a->dim[1] * a->dim[2] : 0;
    a->data = ok && n ? malloc(n * sizeof(float)) : NULL;
    ok = a->data && fread(a->data, sizeof(float), n, f) == n;
    fclose(f);
    if (!ok) {
        free(a->data);
        a->data = NULL;
        fprintf(stderr, "attn_layer: %s is not a 3-D float32 .npy file\n", path);
        return -1;
    }
    return 0;
}

static int npy_write3(const char *path, const float *data, const uint32_t dim[3]) {
    char header[128];
    int len = snprintf(header, sizeof(header),
                       "{'descr': '<f4', 'fortran_order': False, 'shape': (%u, %u, %u), }", dim[0],
                       dim[1], dim[2]);
    int total = 10 + len + 1;
    int pad = (64 - total % 64) % 64;
    FILE *f = fopen(path, "wb");
    if (!f) return fprintf(stderr, "attn_layer: cannot write %s\n", path), -1;
    unsigned hl = (unsigned)(len + pad + 1);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, hl & 0xff, hl >> 8};
    size_t n = (size_t)dim[0] * dim[1] * dim[2];
    fwrite(pre, 1, 10, f);
    fwrite(header, 1, (size_t)len, f);
    for (int i = 0; i < pad; i++) fputc(' ', f);
    fputc('\n', f);
    int ok = fwrite(data, sizeof(float), n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* FNV-1a (64-bit) of the output's bytes. */
static unsigned long long fnv1a(const float *data, size_t n) {
    const unsigned char *p = (const unsigned char *)data;
    unsigned long long h = 14695981039346656037ull;
    for (size_t i = 0; i < n * sizeof(float); i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static int check(spk_status st, const char *what) {
    if (st == SPK_OK) return 0;
    fprintf(stderr, "attn_layer: %s: %s (%s)\n", what, spk_status_str(st), spk_last_error());
    return -1;
}

int main(int argc, char **argv) {
    const char *backend = NULL, *out_path = NULL;
    int causal = 0, opt;
    double keep = 1.0;
    while ((opt = getopt(argc, argv, "b:o:ct:")) != -1) {
        if (opt == 'b')
            backend = optarg;
        else if (opt == 'o')
            out_path = optarg;
        else if (opt == 'c')
            causal = 1;
        else if (opt == 't')
            keep = atof(optarg);
        else
            return fprintf(stderr,
                           "usage: attn_layer [-b BACKEND] [-o OUT] [-c] [-t KEEP] Q K V\n"),
                   2;
    }
    if (argc - optind != 3 || keep <= 0.0 || keep > 1.0)
        return fprintf(stderr, "usage: attn_layer [-b BACKEND] [-o OUT] [-c] [-t KEEP] Q K V\n"), 2;
    array3 q = {0}, k = {0}, v = {0};
    if (npy_read3(argv[optind], &q) || npy_read3(argv[optind + 1], &k) ||
        npy_read3(argv[optind + 2], &v))
        return 1;
    if (memcmp(k.dim, v.dim, sizeof(k.dim)) != 0 || q.dim[2] != k.dim[2])
        return fprintf(stderr, "attn_layer: Q, K and V shapes do not match\n"), 1;

    spk_device *dev = NULL;
    spk_attn *attn = NULL;
    spk_fence *fence = NULL;
    int rc = 1;
    const uint32_t heads = q.dim[0], queries = q.dim[1], d = q.dim[2];
    const uint32_t kv_heads = k.dim[0], tokens = k.dim[1];
    spk_attn_config cfg = {.size = sizeof(cfg),
                           .n_layers = 1,
                           .n_heads = heads,
                           .n_kv_heads = kv_heads,
                           .head_dim = d,
                           .max_tokens = tokens,
                           .msb_bits = 8,
                           .lsb_bits = 4,
                           .requant_threshold = 6554,
                           .v_keep_q16 = 65536};
    spk_layer_submit sub = {.size = sizeof(sub),
                            .layer = 0,
                            .n_queries = queries,
                            .n_new_tokens = tokens,
                            .causal = (uint32_t)causal,
                            .q = q.data,
                            .k_new = k.data,
                            .v_new = v.data,
                            .token_keep_q16 = (uint32_t)(keep * 65536.0 + 0.5)};
    float *out = malloc((size_t)heads * queries * d * sizeof(float));
    if (!out || check(spk_device_open(backend, NULL, &dev), "open") ||
        check(spk_attn_create(dev, &cfg, &attn), "context") ||
        check(spk_attn_submit(attn, &sub, &fence), "submit") ||
        check(spk_fence_wait(fence, 60000), "wait") ||
        check(spk_attn_read_output(attn, out, (size_t)heads * queries * d), "output"))
        goto done;
    spk_device_info info = {.size = sizeof(info)};
    spk_attn_stats stats = {.size = sizeof(stats)};
    uint32_t tokens_kept = 0, heads_kept = 0;
    if (check(spk_device_query(dev, &info), "query") ||
        check(spk_attn_read_stats(attn, &stats), "stats") ||
        check(spk_attn_alive(attn, &tokens_kept, &heads_kept), "alive"))
        goto done;
    printf("device: backend %s, register map %u.%u, firmware %s %u.%u\n", info.backend,
           info.version_major, info.version_minor, info.fw_name, info.fw_version >> 16,
           info.fw_version & 0xffff);
    printf("layer: %u heads x %u queries x %u keys, d %u\n", heads, queries, tokens, d);
    printf("heads_computed %u\ntokens_alive %u\nrequests %llu\nkeys_fetched %llu\n"
           "values_fetched %llu\nrequant_requests %llu\ndram_bytes %llu\ncore_cycles %llu\n"
           "core_instret %llu\nengine_cycles %llu\n",
           stats.heads_computed, stats.tokens_alive, (unsigned long long)stats.requests,
           (unsigned long long)stats.keys_fetched, (unsigned long long)stats.values_fetched,
           (unsigned long long)stats.requant_requests, (unsigned long long)stats.dram_bytes,
           (unsigned long long)stats.core_cycles, (unsigned long long)stats.core_instret,
           (unsigned long long)stats.engine_cycles);
    printf("tokens_kept %u\nheads_kept %u\n", tokens_kept, heads_kept);
    if (stats.has_energy) printf("energy_pj %.1f\n", stats.energy_pj);
    printf("output_fnv1a %016llx\n", fnv1a(out, (size_t)heads * queries * d));
    const uint32_t dim[3] = {heads, queries, d};
    rc = out_path && npy_write3(out_path, out, dim) ? 1 : 0;
done:
    spk_fence_free(fence);
    spk_attn_destroy(attn);
    spk_device_close(dev);
    free(out);
    free(q.data);
    free(k.data);
    free(v.data);
    return rc;
}
