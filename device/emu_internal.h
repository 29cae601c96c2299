/* Internal view of the emulated device, shared by its source files (device/). */
#ifndef SPKDEV_EMU_INTERNAL_H
#define SPKDEV_EMU_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "spk/regs.h"
#include "spkdev/emu.h"
#include "spksim/iss.h"

#define SPKDEV_CSR_WORDS (SPK_REG_WINDOW_BYTES / 4u)

typedef struct spkdev_engine spkdev_engine;

struct spkdev {
    uint32_t csr[SPKDEV_CSR_WORDS];
    uint8_t *dram; /* the device's own DRAM, or NULL when dram_ops is set */
    spkdev_dram_ops dram_ops;
    uint64_t dram_bytes;
    spk_iss *core;
    int core_running;     /* CTRL.RUN was written: the core is out of reset */
    int doorbell_pending; /* the host rang while the core was not asleep */
    int halted;
    uint64_t engine_cycles; /* device time the core spent waiting on the engine */
    spkdev_engine *engine;
    FILE *trace;       /* $SPK_DEVICE_TRACE: every register access and DMA, one line each */
    const char *actor; /* who the DRAM accesses in progress are for: host, core or engine */
};

/* Device DRAM at DRAM offsets: 1 if [addr, addr + bytes) lies inside it; copies in and out
 * (0, or -1 outside DRAM or refused by an external memory). */
int spkdev_dram_inside(const spkdev *dev, uint64_t addr, uint64_t bytes);
int spkdev_dram_read(spkdev *dev, uint64_t addr, void *dst, uint64_t bytes);
int spkdev_dram_write(spkdev *dev, uint64_t addr, const void *src, uint64_t bytes);
/* Record a fatal error: ERR_* registers, INTR_STATE.ERROR, STATUS.HALTED. */
void spkdev_halt(spkdev *dev, uint32_t code, uint32_t cause, uint32_t pc, uint32_t value);

/* ---- the engine front-end (engine.c) ----------------------------------------------------- */
spkdev_engine *spkdev_engine_create(spkdev *dev, const spkdev_config *cfg, char *err,
                                    size_t err_len);
void spkdev_engine_destroy(spkdev_engine *eng);
/* The core wrote ENG_CMD: start the operation (ENG_STATUS goes BUSY). */
void spkdev_engine_go(spkdev_engine *eng, uint32_t cmd);
/* ENG_STATUS as the core reads it: a busy engine makes progress first; the device cycles that
 * took are added to @p cycles. */
uint32_t spkdev_engine_poll(spkdev_engine *eng, uint64_t *cycles);
/* Abandon the operation in progress (the control core was put back into reset). */
void spkdev_engine_abort(spkdev_engine *eng);
/* ENG_STATUS without side effects (the host's view). */
uint32_t spkdev_engine_status(const spkdev_engine *eng);
/* ENG_ALIVE_TOKENS / ENG_ALIVE_HEADS of the layer in progress (0 outside a layer). */
uint32_t spkdev_engine_alive_tokens(const spkdev_engine *eng);
uint32_t spkdev_engine_alive_heads(const spkdev_engine *eng);
const char *spkdev_engine_impl_name(const spkdev_engine *eng);
uint32_t spkdev_engine_slowdown(const spkdev_engine *eng);

#endif
