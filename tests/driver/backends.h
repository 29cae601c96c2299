// The backends the backend-parameterized tests run on: $SPK_TEST_BACKENDS (space- or
// comma-separated), else every backend this build has (model, sim, and rtl, rtl-compact, rtl-ovl
// when the RTL plugin was built, systemc when the SystemC plugin was, systemc-rtl when both were
// and libspk knows it). Tests call test_backends() and loop; a backend that cannot run a case says
// why on stdout instead of passing silently.
#ifndef TESTS_DRIVER_BACKENDS_H
#define TESTS_DRIVER_BACKENDS_H

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
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

#ifndef SPK_TEST_SYSTEMC_PLUGIN
#define SPK_TEST_SYSTEMC_PLUGIN ""
#endif

inline bool test_systemc_built() {
    return *SPK_TEST_SYSTEMC_PLUGIN && access(SPK_TEST_SYSTEMC_PLUGIN, R_OK) == 0;
}

// systemc-rtl: the SystemC plugin with its Verilator --sc engine, which needs Verilator (the RTL
// plugin is built then; its prune unit is the RTL plugin's), in a libspk that routes the name to
// the SystemC plugin (SPK_TEST_SYSTEMC_RTL, set by tests/systemc.mk when it does).
#ifndef SPK_TEST_SYSTEMC_RTL
#define SPK_TEST_SYSTEMC_RTL 0
#endif

inline bool test_systemc_rtl_built() {
    return SPK_TEST_SYSTEMC_RTL && test_systemc_built() && test_rtl_built();
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
        out.push_back("rtl-ovl");
    }
    if (test_systemc_built()) out.push_back("systemc");
    if (test_systemc_rtl_built()) out.push_back("systemc-rtl");
    return out;
}

// fpga:PORT[,...]: a board behind the UART bridge (docs/fpga.md), head requests and the
// importance bank on the board, the firmware on the host.
inline bool backend_is_fpga(const std::string &b) {
    return b.rfind("fpga:", 0) == 0;
}

// Every backend runs the accumulated policy's pruning step (the RTL ones on the RTL prune unit)
// but fpga, whose board has no prune unit: a step that removes anything is refused there.
inline bool backend_prunes(const std::string &b) {
    return !b.empty() && !backend_is_fpga(b);
}

// The last-step policy ranks tokens by the requests' logits, which the Verilated engines do not
// export: it is refused there (docs/device.md, "What each engine executes"; systemc-rtl too).
inline bool backend_runs_last_step(const std::string &b) {
    return b == "model" || b == "sim" || b == "systemc";
}

// model and sim count the spec's traffic rule; the RTL (rtl, rtl-compact, systemc-rtl) counts the
// 32-byte reads it made.
inline bool backend_counts_spec_traffic(const std::string &b) {
    return b == "model" || b == "sim" || b == "systemc";
}

// The backends whose engine is the C one (model, sim, and systemc, which runs sim inside the
// TLM model): its limits (PARAM_MAX_KEYS, PARAM_MAX_D) and, where it times, its energy.
inline bool backend_has_c_engine(const std::string &b) {
    return b == "model" || b == "sim" || b == "systemc";
}
// The first backend of the run with the C engine (the select policy's scoring stage), or "".
inline std::string first_c_engine_backend() {
    for (const std::string &b : test_backends())
        if (backend_has_c_engine(b)) return b;
    return "";
}
// Every backend but the functional one counts engine cycles.
inline bool backend_times_engine(const std::string &b) {
    return b != "model";
}
inline bool backend_prices_energy(const std::string &b) {
    return b == "sim" || b == "systemc";
}

// The seed of the randomized cross-backend checks: $SPK_TEST_SEED if set, else a fresh random one,
// so every run also checks inputs nobody tuned the code against. Chosen once per binary and
// printed once, with the line that reproduces a failure.
inline uint64_t test_seed() {
    static const uint64_t seed = [] {
        const char *env = std::getenv("SPK_TEST_SEED");
        uint64_t s = 0;
        if (env && *env) {
            s = std::strtoull(env, nullptr, 0);
        } else {
            s = std::random_device{}(); // 32 bits: std::mt19937 seeds from the low 32 anyway
        }
        std::printf("[ SEED     ] %" PRIu64 " (rerun with SPK_TEST_SEED=%" PRIu64 ")\n", s, s);
        std::fflush(stdout);
        return s;
    }();
    return seed;
}

#endif
