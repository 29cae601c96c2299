/* Firmware ELF validation and loading (libelf). */
#ifndef SPK_DRIVER_FW_LOAD_H
#define SPK_DRIVER_FW_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "spk/fw_abi.h"
#include "spk/spk.h"

#define SPK_FW_MAX_SEGMENTS 8

/* One PT_LOAD segment: memsz bytes at core address addr, the first filesz from data. */
typedef struct spk_fw_segment {
    uint32_t addr;
    uint32_t memsz;
    uint32_t filesz;
    uint8_t *data; /* owned copy of the file bytes */
} spk_fw_segment;

typedef struct spk_fw_image {
    uint32_t entry;
    unsigned nsegments;
    spk_fw_segment segments[SPK_FW_MAX_SEGMENTS];
    spk_fw_info info;
} spk_fw_image;

/* The device memories and the register-map version the firmware must fit. */
typedef struct spk_fw_target {
    uint32_t imem_base, imem_size;
    uint32_t dmem_base, dmem_size;
    uint32_t regmap_major;
} spk_fw_target;

/* Validate an ELF image in memory and extract its segments. On failure returns SPK_E_FW (or
 * SPK_E_NOMEM/SPK_E_ARG) with spk_last_error() naming the problem; @p img is then empty. */
spk_status spk_fw_parse(const void *bytes, size_t n, const spk_fw_target *target,
                        spk_fw_image *img);
/* Read a file and spk_fw_parse() it (SPK_E_IO if unreadable). */
spk_status spk_fw_parse_file(const char *path, const spk_fw_target *target, spk_fw_image *img);
/* Free the segment copies (safe on an empty image). */
void spk_fw_image_free(spk_fw_image *img);

#endif
