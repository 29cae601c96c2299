/**
 * @file emu.h
 * @brief The emulated spatten-kit device: what the `model`, `sim`, `rtl`, `rtl-compact` and
 * `rtl-ovl` backends of libspk (and the SystemC model) run.
 *
 * One emulated device is the contract of docs/device.md made executable: the register file
 * (rtl/regs/spk_regs.json, with its host/core/hardware access rules), device DRAM, the RV32IM
 * control core running the firmware, and the engine front-end that executes the engine operations
 * (ENG_CMD) the firmware starts. Only the arithmetic of the engine differs between backends: it
 * sits behind an engine implementation (golden datapath, golden datapath + cycle simulator, or
 * the Verilated RTL). Nothing here depends on host memory: everything the device knows came
 * through its registers or its memory.
 *
 * Addresses of spkdev_mem_read()/spkdev_mem_write() are those of the control core's map
 * (SPK_MEM_IMEM_BASE, SPK_MEM_DMEM_BASE, SPK_MEM_DRAM_BASE + DRAM offset): the host loads the
 * firmware into instruction and data memory and moves buffers to and from DRAM through them.
 */
#ifndef SPKDEV_EMU_H
#define SPKDEV_EMU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief An emulated device. */
typedef struct spkdev spkdev;

/**
 * @brief Device DRAM outside the device (for example a SystemC platform's memory behind the
 * device's initiator socket). Addresses are DRAM offsets; each call returns 0, or -1 for an
 * access the memory refuses. The device checks every range against dram_bytes first.
 */
typedef struct spkdev_dram_ops {
    int (*read)(void *ctx, uint64_t addr, void *dst, uint64_t bytes);
    int (*write)(void *ctx, uint64_t addr, const void *src, uint64_t bytes);
    void *ctx;
} spkdev_dram_ops;

/** @brief What to emulate. */
typedef struct spkdev_config {
    size_t size;                 /**< sizeof(spkdev_config) */
    const char *engine;          /**< "model", "sim", "rtl", "rtl-compact" or "rtl-ovl" */
    uint64_t dram_bytes;         /**< device DRAM (1 MiB .. SPK_MEM_DRAM_MAX) */
    const char *sim_config;      /**< sim: cycle-simulator preset or file (NULL: "eighth") */
    const char *energy_path;     /**< sim: energy constants file, or NULL (no energy figures) */
    const char *rtl_plugin;      /**< rtl: path of libspk-rtl.so (NULL: the built-in default) */
    const char *rtl_trace;       /**< rtl: FST waveform file of the engine, or NULL */
    const spkdev_dram_ops *dram; /**< NULL: the device's own DRAM of dram_bytes; else every DRAM
                                      access (core, engine, host) goes through these */
    const char *sim_trace;       /**< sim: device trace to write (docs/simulator.md, "Device
                                      traces"), or NULL */
} spkdev_config;

/** @brief Create a device in reset (core stopped). NULL with a message in @p err on failure. */
spkdev *spkdev_create(const spkdev_config *cfg, char *err, size_t err_len);
/** @brief Free a device (NULL is fine). */
void spkdev_destroy(spkdev *dev);

/** @brief Host read of a register (unmapped offsets read 0). */
uint32_t spkdev_reg_read(spkdev *dev, uint32_t offset);
/** @brief Host write of a register; read-only and unmapped registers ignore it. Writing CTRL.RUN
 * releases the core from reset at the reset vector SPK_MEM_IMEM_BASE. */
void spkdev_reg_write(spkdev *dev, uint32_t offset, uint32_t value);

/** @brief Copy device memory (core address map) to @p dst; 0, or -1 outside every memory. */
int spkdev_mem_read(spkdev *dev, uint64_t addr, void *dst, size_t bytes);
/** @brief Copy @p src into device memory (core address map); 0, or -1 outside every memory. */
int spkdev_mem_write(spkdev *dev, uint64_t addr, const void *src, size_t bytes);

/** @brief Why spkdev_run() returned. */
typedef enum spkdev_run_result {
    SPKDEV_RUN_EVENT = 0,  /**< an INTR_STATE bit of the mask is set */
    SPKDEV_RUN_IDLE = 1,   /**< the core sleeps (wfi) and nothing is pending */
    SPKDEV_RUN_BUDGET = 2, /**< @p max_cycles of device time passed */
    SPKDEV_RUN_HALTED = 3, /**< the device is halted (STATUS.HALTED; ERR_* say why) */
} spkdev_run_result;

/**
 * @brief Let the device run for at most @p max_cycles device clock cycles (PARAM_CLOCK_KHZ),
 * until one of the INTR_STATE bits in @p intr_mask is set, the core idles or the device halts.
 */
spkdev_run_result spkdev_run(spkdev *dev, uint32_t intr_mask, uint64_t max_cycles);

/** @brief Device time: clock cycles since creation (the PERF_TIME registers). */
uint64_t spkdev_time(const spkdev *dev);
/** @brief Engine name ("model", "sim", "rtl", "rtl-compact", "rtl-ovl"). */
const char *spkdev_engine_name(const spkdev *dev);
/**
 * @brief Host seconds per device second, roughly: how much slower than real time the
 * emulation runs (1 for the C engines, larger for the RTL). Hosts scale wall-clock safety
 * limits by it so that a slow backend never times out where a fast one would not.
 */
uint32_t spkdev_slowdown(const spkdev *dev);

#ifdef __cplusplus
}
#endif

#endif
