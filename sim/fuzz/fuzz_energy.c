/* libFuzzer target of the energy constants file loader (spk_energy_load, spk-sim --energy FILE):
 * any file must load or be refused with a message, never crash, hang or leak.
 * Seeds: sim/fuzz/corpus/fuzz-energy. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_file.h"
#include "spksim/energy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size);
    if (!path) return 0;
    spk_energy_constants c;
    char err[256];
    (void)spk_energy_load(path, &c, err, sizeof err);
    return 0;
}
