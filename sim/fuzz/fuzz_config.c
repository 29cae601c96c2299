/* libFuzzer target of the `key = value` configuration file loader (spk_config_load, spk-sim
 * --config FILE): any file must load and pass spk_config_check or be refused with a message,
 * never crash, hang or leak. Seeds: sim/fuzz/corpus/fuzz-config. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_file.h"
#include "spksim/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size);
    if (!path) return 0;
    spk_config cfg;
    char err[256];
    if (spk_config_load(path, &cfg, err, sizeof err) == 0) {
        for (size_t i = 0; i < spk_config_key_count(); i++) (void)spk_config_key_value(&cfg, i);
    }
    return 0;
}
