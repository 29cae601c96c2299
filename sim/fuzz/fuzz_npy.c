/* libFuzzer target for the .npy parser: any input must be accepted or rejected cleanly. */
#include <stddef.h>
#include <stdint.h>

#include "spksim/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    spk_npy a;
    char err[256];
    if (spk_npy_parse(data, size, "fuzz", &a, err, sizeof err) == SPKSIM_OK) {
        spk_npy_to_f32(&a, err, sizeof err);
        spk_npy_free(&a);
    }
    return 0;
}
