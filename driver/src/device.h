/* Internal view of a device: the register file, device DRAM with its buffer objects, the
 * control core running the firmware, and the engine. Shared by the driver's source files and
 * the white-box tests. */
#ifndef SPK_DRIVER_DEVICE_H
#define SPK_DRIVER_DEVICE_H

#include <stdint.h>

#include "engine.h"
#include "fw_load.h"
#include "spk/regs.h"
#include "spk/spk.h"
#include "spksim/iss.h"

#define SPK_CSR_WORDS (SPK_REG_WINDOW_BYTES / 4u)
/* Device addresses below this are never allocated, so 0 is never a valid buffer address. */
#define SPK_DRAM_RESERVED 4096u
#define SPK_BO_ALIGN 64u

struct spk_bo {
    spk_device *dev; /* NULL once the device was closed */
    uint64_t addr;   /* device DRAM offset */
    size_t bytes;
    uint8_t *host; /* host copy returned by spk_bo_map */
    spk_bo *next;  /* device's list, sorted by addr */
};

struct spk_device {
    char backend[16];
    int timing; /* "sim": the engine also runs the cycle model */
    uint32_t csr[SPK_CSR_WORDS];
    uint8_t *dram;
    uint64_t dram_bytes;
    spk_bo *bos;
    spk_iss *core;
    spk_fw_info fw_info;
    uint32_t fw_entry;
    spk_engine engine;
    spk_bo *ring;
    uint32_t ring_entries;
    uint32_t next_fence;
    int halted;
    spk_attn *contexts; /* list of live contexts (engine looks them up by id) */
    uint32_t next_context_id;
};

/* Register access as the host sees it (the core's accesses go through the same functions). */
uint32_t spk_dev_reg_read(spk_device *dev, uint32_t offset);
void spk_dev_reg_write(spk_device *dev, uint32_t offset, uint32_t value);

/* A pointer to [addr, addr + bytes) of device DRAM if the range lies inside one allocated buffer
 * object, else NULL (the engine's and the core's DMA check). */
uint8_t *spk_dev_dram(spk_device *dev, uint64_t addr, uint64_t bytes);

/* Queue one ring command and ring the doorbell; returns its fence value. */
spk_status spk_dev_queue(spk_device *dev, uint32_t opcode, uint32_t arg0, uint32_t arg1,
                         uint32_t *fence);
/* Run the control core until FENCE_DONE reaches @p fence, the device reports an error, or
 * @p timeout_ms (device time at 1 GHz and host wall time, whichever ends first) passes. */
spk_status spk_dev_wait(spk_device *dev, uint32_t fence, uint32_t timeout_ms);

/* 1 if @p dev is an open device (pointer comparison only, never dereferenced otherwise). */
int spk_dev_live(const spk_device *dev);

/* The context with engine id @p id, or NULL (attn.c). */
spk_attn *spk_attn_by_id(spk_device *dev, uint32_t id);
/* Detach every context of a closing device (attn.c). */
void spk_attn_orphan_all(spk_device *dev);

#endif
