/* libFuzzer target of the trace CSV reader (spk_trace_parse, the in-memory entry point behind
 * spk-sim --trace): any byte string must load or be refused with a message, never crash, hang
 * or leak. Seeds: sim/fuzz/corpus/fuzz-trace. */
#include <stddef.h>
#include <stdint.h>

#include "spksim/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    spk_trace t;
    char err[256];
    if (spk_trace_parse((const char *)data, size, "fuzz", &t, err, sizeof err) == SPK_CYCLE_OK)
        spk_trace_free(&t);
    return 0;
}
