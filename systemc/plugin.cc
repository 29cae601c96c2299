// libspk-systemc.so: the `systemc` backend's plugin (docs/systemc.md). It exports one symbol,
// spk_systemc_api_v1 (version script systemc/libspk-systemc.map), and sc_main, which libsystemc
// refers to: a program that loads the plugin never runs SystemC's main(), so this sc_main is
// only there to resolve the reference (it refuses to run).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "spk_systemc_api.h"
#include "spk_tlm_platform.h"

namespace {

spk::tlm_platform *platform = nullptr;

int plugin_open(const spk_backend_config *cfg, spk_backend **out, char *err, size_t err_len) {
    *out = nullptr;
    std::string why;
    if (!platform) {
        if (sc_core::sc_get_status() != sc_core::SC_ELABORATION) {
            why = "this process already elaborated its own SystemC simulation; a platform "
                  "running libspk in its threads must export " SPK_SYSTEMC_PLATFORM_SYMBOL
                  " (docs/systemc.md)";
        } else {
            setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
            platform = new spk::tlm_platform("spk_systemc_platform");
            sc_core::sc_start(sc_core::SC_ZERO_TIME); // elaborate once, for the whole process
        }
    }
    if (platform) *out = platform->open(cfg, &why);
    if (*out) return 0;
    if (err_len) std::snprintf(err, err_len, "%s", why.c_str());
    return -1;
}

const spk_systemc_api api = {SPK_SYSTEMC_API_VERSION, plugin_open};

} // namespace

extern "C" __attribute__((visibility("default"))) const spk_systemc_api *spk_systemc_api_v1(void) {
    return &api;
}

extern "C" __attribute__((visibility("default"))) int sc_main(int, char **) {
    std::fprintf(stderr, "libspk-systemc.so: sc_main is not a program; load the plugin through "
                         "libspk's systemc backend\n");
    return 1;
}
