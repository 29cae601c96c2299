/* The firmware information record the driver's ELF loader checks before loading. */
#include "spk/fw_abi.h"
#include "spk/regs.h"

#ifndef SPK_FW_BUILD_NAME
#define SPK_FW_BUILD_NAME "spk-fw"
#endif

__attribute__((section(SPK_FW_INFO_SECTION), used)) const spk_fw_info spk_fw_info_record = {
    .magic = SPK_FW_INFO_MAGIC,
    .info_size = sizeof(spk_fw_info),
    .abi_version = SPK_FW_ABI_VERSION,
    .regmap_major = SPK_VERSION_MAJOR,
    .regmap_minor = SPK_VERSION_MINOR,
    .fw_version = 2u << 16 | 0u, /* 2.0: device-side contexts, polled engine operations */
    .commands = 1u << SPK_CMD_NOP | 1u << SPK_CMD_LAYER | 1u << SPK_CMD_CONTEXT_OPEN |
                1u << SPK_CMD_CONTEXT_CLOSE | 1u << SPK_CMD_CONTEXT_READ,
    .reserved = 0,
    .name = SPK_FW_BUILD_NAME,
};
