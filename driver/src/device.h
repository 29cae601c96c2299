/* Internal view of an open device on the host side: the backend it talks to, the buffer objects
 * it allocated in device DRAM, the firmware it loaded and the command ring. Shared by the
 * driver's source files. Nothing here is device state: the device is behind the backend. */
#ifndef SPK_DRIVER_DEVICE_H
#define SPK_DRIVER_DEVICE_H

#include <pthread.h>
#include <stdint.h>

#include "backend.h"
#include "error.h"
#include "fw_load.h"
#include "spk/regs.h"
#include "spk/spk.h"

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
    /* Serializes every use of the backend and of the host state below: a device may be shared
     * by threads (docs/driver.md, "Threads"). Recursive: entry points nest. */
    pthread_mutex_t lock;
    char backend[300]; /* the name as opened (fpga:PORT,... names carry a port) */
    spk_backend *be;
    spk_backend_info info;
    uint64_t dram_bytes;
    spk_bo *bos;
    spk_fw_info fw_info;
    spk_bo *ring;
    uint32_t ring_entries;
    /* Commands are numbered by their fence (1, 2, ...). The host writes every queued command into
     * the ring but publishes (RING_TAIL) only one at a time, the next once the previous one's
     * outcome was collected: the firmware keeps one error record (ERR_STATUS) for the device, and
     * this is what ties it to the command, hence to the thread, that caused it. */
    uint32_t next_fence; /* last fence queued */
    uint32_t published;  /* last fence visible to the firmware */
    uint32_t collected;  /* last fence whose outcome is in outcomes[] */
    struct spk_cmd_outcome {
        uint32_t fence;
        uint32_t err, pc, addr;   /* ERR_STATUS (0: success), ERR_PC, ERR_ADDR */
        spk_status link;          /* a board link's failure behind the error (fpga), or SPK_OK */
    } outcomes[4096];             /* by fence % 4096 */
    char link_msg[SPK_ERROR_MAX]; /* the message of the last link failure (outcomes[].link) */
    int halted; /* 1: halted after a fatal error; 2: reset by the host (CTRL.RUN cleared) */
    spk_attn *contexts;
    uint32_t next_context_id;
};

/* Register access through the backend. */
uint32_t spk_dev_reg_read(spk_device *dev, uint32_t offset);
void spk_dev_reg_write(spk_device *dev, uint32_t offset, uint32_t value);

/* Queue one ring command and ring the doorbell; returns its fence value. */
spk_status spk_dev_queue(spk_device *dev, uint32_t opcode, uint32_t arg0, uint32_t arg1,
                         uint32_t *fence);
/* Let the device run until FENCE_DONE reaches @p fence, the device reports an error, or
 * @p timeout_ms passes in device time (or, scaled by the backend's slowdown, in host time). */
spk_status spk_dev_wait(spk_device *dev, uint32_t fence, uint32_t timeout_ms);

/* The device's lock (see struct spk_device). */
void spk_dev_lock(spk_device *dev);
void spk_dev_unlock(spk_device *dev);

/* 1 if @p dev is an open device (pointer comparison only, never dereferenced otherwise). */
int spk_dev_live(const spk_device *dev);

/* Detach every context of a closing device (attn.c). */
void spk_attn_orphan_all(spk_device *dev);

#endif
