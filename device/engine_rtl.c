/* The RTL engine implementations: "rtl" (spk_engine), "rtl-compact" (spk_engine_compact) and
 * "rtl-ovl" (spk_engine_ovl, the overlapped engine), Verilated and loaded from the plugin
 * libspk-rtl.so (rtl/sim/), so that a program that never opens them needs no Verilator runtime.
 * Every head request and the importance bank run on the RTL, reading device DRAM through the
 * engine's AXI4 master; the context's importance is accumulated and the prune step's top-k run by
 * the RTL prune unit (rtl/prune/spk_prune.v), which holds one context at a time: its entries are
 * loaded from the context's state and read back around each use, as a device swaps a context's
 * state in and out. What the RTL cannot do is refused, never done in C: the last-step policy (the
 * engines do not export their logits). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_impl.h"
#include "spkrtl/rtl_engine.h"

#ifndef SPK_RTL_PLUGIN_DEFAULT
#define SPK_RTL_PLUGIN_DEFAULT "/usr/local/lib/spk/libspk-rtl.so"
#endif
#ifndef SPK_RTL_PLUGIN_BUILD
#define SPK_RTL_PLUGIN_BUILD SPK_RTL_PLUGIN_DEFAULT
#endif

/* Host seconds per device second of the Verilated engine at its 1 GHz device clock, rounded up
 * from a few hundred thousand cycles per second: a wall-clock bound on the host side. */
#define RTL_SLOWDOWN 100000u

typedef struct rtl_engine {
    spkdev_engine_impl impl;
    void *lib;
    const spk_rtl_api *api;
    spk_rtl_engine *eng;
    spk_head_config cfg;
    uint32_t *v_keys;
} rtl_engine;

static int rtl_head(spkdev_engine_impl *impl, const spk_eng_head_req *req, spkdev_head_result *res,
                    char *err, size_t err_len) {
    rtl_engine *r = (rtl_engine *)impl;
    spk_rtl_head_result out = {.out = res->out, .probs = res->probs, .v_keys = r->v_keys};
    if (r->api->head(r->eng, req, &out, 0, err, err_len)) return -1;
    if (out.bad_cmd || out.bus_error) {
        if (err_len)
            snprintf(err, err_len, "engine %s: %s", impl->name,
                     out.bad_cmd ? "descriptor refused" : "bus error on a read");
        return -1;
    }
    res->out_exp = out.out_exp;
    res->head_importance = out.head_importance;
    memset(&res->ev, 0, sizeof(res->ev));
    res->ev.keys_fetched = out.keys_fetched;
    res->ev.keys_refetched = out.requant ? out.keys_fetched : 0;
    res->ev.values_fetched = out.values_fetched;
    res->ev.requant = (uint8_t)out.requant;
    res->ev.v_with_lsb = (uint8_t)(out.requant && r->cfg.kv.lsb_bits);
    res->dram_bytes = out.axi_reads * 32u;
    res->cycles = out.cycles;
    return 0;
}

static int rtl_imp_clear(spkdev_engine_impl *impl, char *err, size_t err_len) {
    rtl_engine *r = (rtl_engine *)impl;
    if (r->api->imp_clear(r->eng, 0) == 0) return 0;
    if (err_len) snprintf(err, err_len, "engine %s: importance clear timed out", impl->name);
    return -1;
}

static int rtl_imp_read(spkdev_engine_impl *impl, uint32_t index, uint64_t *value) {
    rtl_engine *r = (rtl_engine *)impl;
    return r->api->imp_read(r->eng, index, value);
}

/* Load the context's token and head entries into the prune unit. */
static int load_state(rtl_engine *r, const spk_prune_state *st, uint32_t n_tokens,
                      uint32_t n_heads) {
    for (uint32_t j = 0; j < n_tokens; j++)
        if (r->api->prune_load(r->eng, 0, j, spk_prune_token_importance(st, j),
                               spk_prune_token_alive(st, j)))
            return -1;
    for (uint32_t h = 0; h < n_heads; h++)
        if (r->api->prune_load(r->eng, 1, h, spk_prune_head_importance(st, h),
                               spk_prune_head_alive(st, h)))
            return -1;
    return 0;
}

/* Read the prune unit's entries back into the context's state. */
static int store_state(rtl_engine *r, spk_prune_state *st, uint32_t n_tokens, uint32_t n_heads) {
    for (uint32_t k = 0; k < n_tokens + n_heads; k++) {
        const int head = k >= n_tokens;
        const uint32_t j = head ? k - n_tokens : k;
        uint64_t imp;
        int alive;
        if (r->api->prune_read(r->eng, head, j, &imp, &alive) ||
            (head ? spk_prune_set_head(st, j, alive, imp)
                  : spk_prune_set_token(st, j, alive, imp)) != SPKSIM_OK)
            return -1;
    }
    return 0;
}

static int rtl_accumulate(spkdev_engine_impl *impl, spk_prune_state *st, uint32_t n_tokens,
                          uint32_t n_heads, char *err, size_t err_len) {
    rtl_engine *r = (rtl_engine *)impl;
    int rc = load_state(r, st, n_tokens, n_heads);
    for (uint32_t k = 0; rc == 0 && k < n_tokens + n_heads; k++) {
        const int head = k >= n_tokens;
        const uint32_t j = head ? k - n_tokens : k;
        uint64_t v;
        /* The bank's entry goes straight into the prune unit's saturating add. */
        rc = r->api->imp_read(r->eng, head ? impl->bank_tokens + j : j, &v) ||
             r->api->prune_add(r->eng, head, j, v);
    }
    if (rc == 0) rc = store_state(r, st, n_tokens, n_heads);
    if (rc && err_len)
        snprintf(err, err_len, "engine %s: importance accumulation failed", impl->name);
    return rc ? -1 : 0;
}

static int rtl_prune(spkdev_engine_impl *impl, spk_prune_state *st, spk_keep tokens, spk_keep heads,
                     const spk_prune_window *w, char *err, size_t err_len) {
    rtl_engine *r = (rtl_engine *)impl;
    /* The firmware computes counts (ENG_KEEP_*); the unit takes counts, 0 keeping all. */
    if (tokens.ratio_q16 != SPK_ONE_Q16 || heads.ratio_q16 != SPK_ONE_Q16) {
        if (err_len) snprintf(err, err_len, "engine %s: the prune unit takes counts", impl->name);
        return -1;
    }
    const uint32_t n = spk_prune_tokens(st), H = spk_prune_heads(st);
    const spk_rtl_prune_cmd cmd = {n, tokens.count, w->sinks,     w->recent,
                                   H, heads.count,  w->head_group};
    spk_rtl_prune_result res;
    if (load_state(r, st, n, H) || r->api->prune_run(r->eng, &cmd, &res, 0, err, err_len))
        return -1;
    if (res.bad_cmd) {
        if (err_len) snprintf(err, err_len, "engine %s: prune command refused", impl->name);
        return -1;
    }
    return store_state(r, st, n, H);
}

static void rtl_layer_begin(spkdev_engine_impl *impl, const spk_head_config *cfg, uint32_t layer,
                            uint32_t n_tokens) {
    (void)layer, (void)n_tokens;
    ((rtl_engine *)impl)->cfg = *cfg;
}

static void rtl_destroy(spkdev_engine_impl *impl) {
    rtl_engine *r = (rtl_engine *)impl;
    if (!r) return;
    if (r->eng) r->api->destroy(r->eng);
    if (r->lib) dlclose(r->lib);
    free(r->v_keys);
    free(r);
}

/* Open the plugin: the explicit path (or $SPK_RTL_PLUGIN) alone if given, else the installed
 * one, else this build tree's. *path names the last one tried. */
static void *open_plugin(const char *explicit_path, const char **path) {
    const char *env = getenv("SPK_RTL_PLUGIN");
    if (explicit_path && *explicit_path)
        return dlopen(*path = explicit_path, RTLD_NOW | RTLD_LOCAL);
    if (env && *env) return dlopen(*path = env, RTLD_NOW | RTLD_LOCAL);
    void *lib = dlopen(*path = SPK_RTL_PLUGIN_DEFAULT, RTLD_NOW | RTLD_LOCAL);
    return lib ? lib : dlopen(*path = SPK_RTL_PLUGIN_BUILD, RTLD_NOW | RTLD_LOCAL);
}

spkdev_engine_impl *spkdev_engine_rtl_create(spkdev_read_fn read, void *read_ctx,
                                             const char *variant, const char *plugin,
                                             const char *trace, char *err, size_t err_len) {
    rtl_engine *r = calloc(1, sizeof(*r));
    if (!r) {
        if (err_len) snprintf(err, err_len, "out of host memory");
        return NULL;
    }
    const int compact = strcmp(variant, "compact") == 0, ovl = strcmp(variant, "ovl") == 0;
    const char *path = NULL;
    r->impl = (spkdev_engine_impl){.name = compact ? "rtl-compact"
                                           : ovl   ? "rtl-ovl"
                                                   : "rtl",
                                   .slowdown = compact ? 12u * RTL_SLOWDOWN : RTL_SLOWDOWN,
                                   .head = rtl_head,
                                   .imp_clear = rtl_imp_clear,
                                   .imp_read = rtl_imp_read,
                                   .accumulate = rtl_accumulate,
                                   .prune = rtl_prune,
                                   .layer_begin = rtl_layer_begin,
                                   .layer_end = NULL,
                                   .destroy = rtl_destroy};
    r->lib = open_plugin(plugin, &path);
    if (!r->lib) {
        if (err_len)
            snprintf(err, err_len,
                     "rtl backend unavailable: cannot load the RTL plugin %s (%s); build it with "
                     "`make` where Verilator is installed, or set $SPK_RTL_PLUGIN",
                     path, dlerror());
        rtl_destroy(&r->impl);
        return NULL;
    }
    spk_rtl_api_v1_fn entry = (spk_rtl_api_v1_fn)dlsym(r->lib, SPK_RTL_API_SYMBOL);
    r->api = entry ? entry() : NULL;
    if (!r->api || r->api->version != SPK_RTL_API_VERSION) {
        if (err_len)
            snprintf(err, err_len, "rtl backend: %s is not an RTL plugin of API version %u", path,
                     SPK_RTL_API_VERSION);
        rtl_destroy(&r->impl);
        return NULL;
    }
    const spk_rtl_engine_config cfg = {.size = sizeof(cfg),
                                       .variant = variant,
                                       .read = read,
                                       .read_ctx = read_ctx,
                                       .trace_path = trace};
    char why[200] = "";
    r->eng = r->api->create(&cfg, why, sizeof(why));
    if (!r->eng) {
        if (err_len) snprintf(err, err_len, "rtl backend: %s", why);
        rtl_destroy(&r->impl);
        return NULL;
    }
    spk_rtl_params p;
    r->api->params(r->eng, &p);
    /* A context's tokens index the bank and its keys fit one request. */
    r->impl.max_keys = p.nmax < p.ntok ? p.nmax : p.ntok;
    r->impl.max_d = p.dmax;
    r->impl.bank_tokens = p.ntok;
    r->impl.bank_heads = p.nhead;
    r->v_keys = malloc((p.nmax + 1u) * sizeof(*r->v_keys));
    if (!r->v_keys) {
        if (err_len) snprintf(err, err_len, "out of host memory");
        rtl_destroy(&r->impl);
        return NULL;
    }
    return &r->impl;
}
