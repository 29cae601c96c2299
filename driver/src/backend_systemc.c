/* The `systemc` and `systemc-rtl` backends: the device as a SystemC TLM-2.0 model
 * (docs/systemc.md), loosely timed with the sim engine inside, or with the Verilated `--sc` engine
 * (systemc-rtl; cfg->name tells the platform which).
 * libspk does not link SystemC: a virtual platform that runs libspk in its CPU threads exports
 * SPK_SYSTEMC_PLATFORM_SYMBOL and its devices are used; otherwise the plugin libspk-systemc.so
 * ($SPK_SYSTEMC_PLUGIN, else the installed one, else this build tree's) is loaded once and
 * kept (SystemC elaborates once per process), and its own platform serves the opens. */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend.h"
#include "error.h"
#include "spk_systemc_api.h" /* systemc/ (-Isystemc from systemc/systemc.mk) */

#ifndef SPK_SYSTEMC_PLUGIN_DEFAULT
#define SPK_SYSTEMC_PLUGIN_DEFAULT "/usr/local/lib/spk/libspk-systemc.so"
#endif
#ifndef SPK_SYSTEMC_PLUGIN_BUILD
#define SPK_SYSTEMC_PLUGIN_BUILD SPK_SYSTEMC_PLUGIN_DEFAULT
#endif

spk_status spk_backend_systemc_open(const spk_backend_config *cfg, spk_backend **out);

static const spk_systemc_api *api;

/* The platform's table: the program's own, else the plugin's (never unloaded). NULL with
 * why[] saying what is missing. */
static const spk_systemc_api *find_api(char *why, size_t why_len) {
    if (api) return api;
    spk_systemc_api_fn own = (spk_systemc_api_fn)dlsym(RTLD_DEFAULT, SPK_SYSTEMC_PLATFORM_SYMBOL);
    if (own) return api = own();
    const char *env = getenv("SPK_SYSTEMC_PLUGIN");
    const char *path = env && *env ? env : SPK_SYSTEMC_PLUGIN_DEFAULT;
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib && !(env && *env))
        lib = dlopen(path = SPK_SYSTEMC_PLUGIN_BUILD, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(why, why_len,
                 "systemc backend unavailable: cannot load the SystemC plugin %s (%s); build it "
                 "with `make` where SystemC is installed, or set $SPK_SYSTEMC_PLUGIN",
                 path, dlerror());
        return NULL;
    }
    spk_systemc_api_fn entry = (spk_systemc_api_fn)dlsym(lib, SPK_SYSTEMC_API_SYMBOL);
    const spk_systemc_api *a = entry ? entry() : NULL;
    if (!a || a->version != SPK_SYSTEMC_API_VERSION) {
        snprintf(why, why_len, "systemc backend: %s is not a SystemC plugin of API version %u",
                 path, SPK_SYSTEMC_API_VERSION);
        dlclose(lib);
        return NULL;
    }
    return api = a;
}

spk_status spk_backend_systemc_open(const spk_backend_config *cfg, spk_backend **out) {
    char why[600] = "";
    *out = NULL;
    const spk_systemc_api *a = find_api(why, sizeof(why));
    if (!a) return spk_fail(SPK_E_BACKEND, "%s", why);
    if (a->open(cfg, out, why, sizeof(why)) || !*out) {
        *out = NULL;
        return spk_fail(SPK_E_BACKEND, "backend '%s': %s", cfg->name, why);
    }
    return SPK_OK;
}
