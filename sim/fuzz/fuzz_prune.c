/* libFuzzer target of the pruning-state loader (spk_prune_load, the files spk_prune_save
 * writes): any file must load or give an error status, never crash, hang, leak or allocate
 * more than the file can fill. Seeds: sim/fuzz/corpus/fuzz-prune. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_file.h"
#include "spksim/layer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size);
    if (!path) return 0;
    spk_prune_state *st = NULL;
    if (spk_prune_load(path, &st) == SPKSIM_OK) {
        (void)spk_prune_alive_tokens(st);
        (void)spk_prune_alive_heads(st);
        spk_prune_destroy(st);
    }
    return 0;
}
