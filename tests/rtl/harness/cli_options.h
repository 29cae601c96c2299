// Command-line options shared by the RTL harness binaries:
//   --seed N  --cases M  --trace FILE.fst, one named choice (--config / --block), and
//   --n N --k K (fixed sizes, used by rtl-topk).
#ifndef SPK_TESTS_RTL_CLI_OPTIONS_H
#define SPK_TESTS_RTL_CLI_OPTIONS_H

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

struct CliOptions {
    std::string choice, trace;
    uint64_t seed = 1;
    uint64_t cases = 1000;
    bool fixed_size = false; // --n/--k given (rtl-topk: fixed n and k, random full-range values)
    uint64_t n = 0, k = 0;
};

inline bool cli_parse_u64(const char *text, uint64_t *out) {
    if (!text || !*text || *text == '-') return false;
    char *end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(text, &end, 0);
    if (errno || *end) return false;
    *out = v;
    return true;
}

// Parses argv. `choice_flag` (e.g. "--config") takes one of `choices`. Returns 0 to run, 1 after
// printing help, 2 after printing what is wrong with the arguments.
inline int cli_parse(int argc, char **argv, const char *prog, const char *choice_flag,
                     const std::vector<std::string> &choices, const char *help, CliOptions *o) {
    o->choice = choices.front();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : nullptr;
        if (!std::strcmp(a, "--help") || !std::strcmp(a, "-h")) {
            std::printf("%s", help);
            return 1;
        } else if (!std::strcmp(a, "--seed") || !std::strcmp(a, "--cases")) {
            uint64_t *dst = !std::strcmp(a, "--seed") ? &o->seed : &o->cases;
            if (!cli_parse_u64(val, dst)) {
                std::fprintf(stderr, "%s: %s needs a non-negative integer, got '%s'\n", prog, a,
                             val ? val : "(nothing)");
                return 2;
            }
            i++;
        } else if (!std::strcmp(a, "--n") || !std::strcmp(a, "--k")) {
            uint64_t *dst = !std::strcmp(a, "--n") ? &o->n : &o->k;
            if (!cli_parse_u64(val, dst)) {
                std::fprintf(stderr, "%s: %s needs a non-negative integer, got '%s'\n", prog, a,
                             val ? val : "(nothing)");
                return 2;
            }
            o->fixed_size = true;
            i++;
        } else if (!std::strcmp(a, "--trace") || !std::strcmp(a, choice_flag)) {
            if (!val) {
                std::fprintf(stderr, "%s: %s needs a value\n", prog, a);
                return 2;
            }
            (!std::strcmp(a, "--trace") ? o->trace : o->choice) = val;
            i++;
        } else {
            std::fprintf(stderr, "%s: unknown argument '%s'\n%s", prog, a, help);
            return 2;
        }
    }
    bool known = false;
    for (const std::string &c : choices) known = known || c == o->choice;
    if (!known) {
        std::fprintf(stderr, "%s: unknown %s '%s'\n%s", prog, choice_flag, o->choice.c_str(), help);
        return 2;
    }
    if (!o->trace.empty()) {
        // Verilator's FST writer gives no usable error for an unwritable path: check first.
        FILE *f = std::fopen(o->trace.c_str(), "wb");
        if (!f) {
            std::fprintf(stderr, "%s: cannot write the trace file '%s': %s\n", prog,
                         o->trace.c_str(), std::strerror(errno));
            return 2;
        }
        std::fclose(f);
    }
    return 0;
}

#endif
