/* libFuzzer target of the firmware ELF loader: any byte string must give SPK_OK or a refusal
 * with a message, never a crash, hang or leak. Build and run: make fuzz-fw-loader, then
 *   build/fuzz/fuzz-fw-loader -max_total_time=60 build/fuzz/corpus */
#include <stddef.h>
#include <stdint.h>

#include "fw_load.h"
#include "spk/regs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const spk_fw_target target = {SPK_MEM_IMEM_BASE, SPK_MEM_IMEM_SIZE, SPK_MEM_DMEM_BASE,
                                         SPK_MEM_DMEM_SIZE, SPK_VERSION_MAJOR};
    spk_fw_image img;
    if (spk_fw_parse(data, size, &target, &img) == SPK_OK) spk_fw_image_free(&img);
    return 0;
}
