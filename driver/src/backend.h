/* The backend interface: everything the host side of libspk knows of a device (docs/device.md,
 * "Backends"). A backend moves 32-bit register words and device memory, lets the device run
 * until an event or a timeout, and tells its time base; the host layer (device.c, attn.c) is
 * written against nothing else. Models: VTA's driver.h with one implementation per target, XRT's
 * ishim with one per platform. */
#ifndef SPK_DRIVER_BACKEND_H
#define SPK_DRIVER_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "spk/spk.h"

typedef struct spk_backend spk_backend;

/* What a backend tells of itself. */
typedef struct spk_backend_info {
    const char *name;    /* "model", "sim", "rtl", "rtl-compact", "rtl-ovl" */
    const char *kind;    /* "functional", "timed", "RTL" */
    uint32_t clock_khz;  /* the device clock: timeouts are stated in its cycles */
    uint32_t slowdown;   /* host seconds per device second, roughly (>= 1): wall-clock bounds
                            of the host are scaled by it */
    uint64_t dram_bytes; /* device DRAM */
} spk_backend_info;

/* Outcome of spk_backend_ops::wait. */
typedef enum spk_backend_wait {
    SPK_WAIT_EVENT = 0,   /* an interrupt bit of the mask is pending */
    SPK_WAIT_IDLE = 1,    /* the device has nothing to do (the core sleeps) */
    SPK_WAIT_TIMEOUT = 2, /* the cycle budget passed */
    SPK_WAIT_HALTED = 3,  /* the device halted (STATUS.HALTED) */
} spk_backend_wait;

typedef struct spk_backend_ops {
    /* Register window, byte offsets (SPK_*_REG_OFFSET). */
    uint32_t (*reg_read)(spk_backend *b, uint32_t offset);
    void (*reg_write)(spk_backend *b, uint32_t offset, uint32_t value);
    /* Device memory in the control core's address map (SPK_MEM_*): 0, or -1 if the range is
     * not wholly inside one memory. */
    int (*mem_read)(spk_backend *b, uint64_t addr, void *dst, size_t bytes);
    int (*mem_write)(spk_backend *b, uint64_t addr, const void *src, size_t bytes);
    /* Run or wait until (INTR_STATE & mask) != 0, the device idles or halts, or max_cycles of
     * device time pass. */
    spk_backend_wait (*wait)(spk_backend *b, uint32_t intr_mask, uint64_t max_cycles);
    /* Device time in clock cycles. */
    uint64_t (*time)(spk_backend *b);
    void (*info)(spk_backend *b, spk_backend_info *info);
    void (*close)(spk_backend *b);
    /* The host link's counters (size and the rest filled): 0, or -1 for a backend without a
     * link. NULL: no link. */
    int (*link_stats)(spk_backend *b, spk_link_stats *stats);
} spk_backend_ops;

struct spk_backend {
    const spk_backend_ops *ops;
};

/* Options a backend may use (a subset of spk_device_options, resolved by the host). */
typedef struct spk_backend_config {
    const char *name;
    uint64_t dram_bytes;
    const char *sim_config;
    const char *energy_path;
} spk_backend_config;

/* Open the backend named cfg->name: SPK_OK, or an error (SPK_E_BACKEND naming the reason) with
 * the message set by spk_fail. */
spk_status spk_backend_open(const spk_backend_config *cfg, spk_backend **out);
/* The names spk_backend_open knows, space-separated. */
const char *spk_backend_names(void);
/* A link failure behind the last failed operation of a backend that talks to a board (fpga):
 * SPK_E_IO, SPK_E_TIMEOUT, SPK_E_BACKEND or SPK_E_DEVICE with its message (port, last frame)
 * in @p msg, reported once; SPK_OK for every other backend or when the link is fine. It does not
 * touch the thread's last error: the caller decides whose error it is. */
spk_status spk_backend_fault(spk_backend *b, char *msg, size_t len);

#endif
