// The backends the backend-parameterized tests run on: $SPK_TEST_BACKENDS (space- or
// comma-separated), else every backend this build has (model, sim, and rtl, rtl-compact when the
// RTL plugin was built). Tests call test_backends() and loop; a backend that cannot run a case
// says why on stdout instead of passing silently.
#ifndef TESTS_DRIVER_BACKENDS_H
#define TESTS_DRIVER_BACKENDS_H

#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#ifndef SPK_TEST_RTL_PLUGIN
#define SPK_TEST_RTL_PLUGIN ""
#endif

inline bool test_rtl_built() {
    return *SPK_TEST_RTL_PLUGIN && access(SPK_TEST_RTL_PLUGIN, R_OK) == 0;
}

inline std::vector<std::string> test_backends() {
    std::vector<std::string> out;
    const char *env = std::getenv("SPK_TEST_BACKENDS");
    if (env && *env) {
        std::string list(env);
        for (char &c : list)
            if (c == ',') c = ' ';
        std::istringstream in(list);
        for (std::string name; in >> name;) out.push_back(name);
        return out;
    }
    out = {"model", "sim"};
    if (test_rtl_built()) {
        out.push_back("rtl");
        out.push_back("rtl-compact");
    }
    return out;
}

// The RTL engine tops have no prune unit and export no logits yet: pruning steps that remove
// anything are refused there (docs/device.md, "Backends").
inline bool backend_prunes(const std::string &b) {
    return b == "model" || b == "sim";
}

// model and sim count the spec's traffic rule; the RTL counts the 32-byte reads it made.
inline bool backend_counts_spec_traffic(const std::string &b) {
    return b == "model" || b == "sim";
}

#endif
