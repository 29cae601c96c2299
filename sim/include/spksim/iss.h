/**
 * @file iss.h
 * @brief RV32IM instruction-set simulator of the accelerator's control core (libspkiss).
 *
 * A Harvard core: instruction memory (fetch and data loads, no stores) and data memory (loads
 * and stores), plus up to SPK_ISS_MAX_WINDOWS memory-mapped windows served by callbacks (the
 * CSR block and device DRAM in the driver's backends). Anything else is an access fault. Every
 * trap stops the run and reports the PC, the RISC-V cause code and the faulting value, so the
 * host can report a firmware fault instead of hanging. Cycles are approximate (see iss.c for the
 * cost table); the instruction-count watchdog bounds every run.
 */
#ifndef SPKSIM_ISS_H
#define SPKSIM_ISS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Most MMIO windows one core can have. */
#define SPK_ISS_MAX_WINDOWS 4

/** @brief RISC-V exception cause codes the simulator raises (mcause values). */
typedef enum spk_iss_cause {
    SPK_ISS_CAUSE_FETCH_MISALIGNED = 0, /**< jump/branch to a PC not 4-byte aligned */
    SPK_ISS_CAUSE_FETCH_FAULT = 1,      /**< fetch outside instruction memory */
    SPK_ISS_CAUSE_ILLEGAL = 2,          /**< not an RV32IM instruction the core implements */
    SPK_ISS_CAUSE_BREAKPOINT = 3,       /**< ebreak */
    SPK_ISS_CAUSE_LOAD_MISALIGNED = 4,  /**< load address not aligned to its size */
    SPK_ISS_CAUSE_LOAD_FAULT = 5,       /**< load outside every memory and window */
    SPK_ISS_CAUSE_STORE_MISALIGNED = 6, /**< store address not aligned to its size */
    SPK_ISS_CAUSE_STORE_FAULT = 7,      /**< store outside data memory and windows */
    SPK_ISS_CAUSE_ECALL = 11,           /**< ecall from M-mode */
} spk_iss_cause;

/** @brief Why spk_iss_run() returned. */
typedef enum spk_iss_stop {
    SPK_ISS_STOP_BUDGET = 0, /**< the instruction budget of this call ran out; call again */
    SPK_ISS_STOP_WFI,        /**< the core executed wfi (idle, waiting for the host) */
    SPK_ISS_STOP_TRAP,       /**< an exception; cause, pc and tval say which */
    SPK_ISS_STOP_WATCHDOG,   /**< the watchdog limit of instructions since the last kick passed */
} spk_iss_stop;

/** @brief Result of one spk_iss_run() call. */
typedef struct spk_iss_result {
    spk_iss_stop stop; /**< why the run ended */
    uint32_t cause;    /**< spk_iss_cause, when stop == SPK_ISS_STOP_TRAP */
    uint32_t pc;       /**< PC of the faulting instruction (trap), else the next PC */
    uint32_t tval;     /**< faulting address, or the instruction word for illegal ones */
    uint64_t executed; /**< instructions retired by this call */
} spk_iss_result;

/**
 * @brief MMIO callbacks. @p offset is relative to the window base, @p size is 1, 2 or 4 and the
 * access is aligned. Return 0 on success; nonzero makes the access fault (load/store access
 * fault with the address as tval), e.g. for an unmapped register or an unallocated DRAM range.
 */
typedef int (*spk_iss_read_fn)(void *ctx, uint32_t offset, unsigned size, uint32_t *value);
/** @brief See spk_iss_read_fn. */
typedef int (*spk_iss_write_fn)(void *ctx, uint32_t offset, unsigned size, uint32_t value);

/** @brief One MMIO window in the core's address space. */
typedef struct spk_iss_window {
    uint32_t base;          /**< first address */
    uint32_t size;          /**< bytes (> 0); base + size must not wrap */
    uint32_t latency;       /**< extra cycles per access, for the cycle count */
    spk_iss_read_fn read;   /**< load handler (NULL: loads fault) */
    spk_iss_write_fn write; /**< store handler (NULL: stores fault) */
    void *ctx;              /**< passed to the handlers */
} spk_iss_window;

/** @brief Memories of the core. */
typedef struct spk_iss_config {
    size_t size;        /**< sizeof(spk_iss_config), for forward compatibility */
    uint32_t imem_base; /**< instruction memory base (4-byte aligned) */
    uint32_t imem_size; /**< instruction memory bytes (multiple of 4, > 0) */
    uint32_t dmem_base; /**< data memory base (4-byte aligned) */
    uint32_t dmem_size; /**< data memory bytes (multiple of 4, > 0) */
    uint64_t watchdog;  /**< instructions allowed between kicks (0: no watchdog) */
} spk_iss_config;

/** @brief An opaque control-core simulator. */
typedef struct spk_iss spk_iss;

/** @brief Create a core with zeroed memories; NULL on bad config (overlap, sizes) or no memory. */
spk_iss *spk_iss_create(const spk_iss_config *cfg);
/** @brief Free a core (NULL is ignored). */
void spk_iss_destroy(spk_iss *iss);
/** @brief Add an MMIO window; returns 0, or -1 if it overlaps a memory/window or none is free. */
int spk_iss_add_window(spk_iss *iss, const spk_iss_window *window);

/**
 * @brief Copy @p n bytes to core address @p addr (host side, e.g. the ELF loader). The range must
 * lie wholly in instruction or data memory. Returns 0 or -1.
 */
int spk_iss_write_mem(spk_iss *iss, uint32_t addr, const void *data, size_t n);
/** @brief Copy @p n bytes from instruction or data memory; 0 or -1 if out of range. */
int spk_iss_read_mem(const spk_iss *iss, uint32_t addr, void *data, size_t n);
/** @brief Zero both memories. */
void spk_iss_clear_mem(spk_iss *iss);

/** @brief Reset the hart: x1..x31 = 0, PC = @p pc, counters and watchdog cleared. */
void spk_iss_reset(spk_iss *iss, uint32_t pc);
/** @brief Read register x@p index (0..31); x0 reads 0. */
uint32_t spk_iss_get_reg(const spk_iss *iss, unsigned index);
/** @brief Write register x@p index (writes to x0 are ignored). */
void spk_iss_set_reg(spk_iss *iss, unsigned index, uint32_t value);
/** @brief The PC of the next instruction. */
uint32_t spk_iss_get_pc(const spk_iss *iss);

/**
 * @brief Execute up to @p max_instructions instructions. Stops early on wfi, a trap or the
 * watchdog. After WFI or BUDGET the core can be resumed by calling again; after a trap the PC
 * stays on the faulting instruction (a reset is needed to continue).
 */
spk_iss_stop spk_iss_run(spk_iss *iss, uint64_t max_instructions, spk_iss_result *result);
/** @brief Restart the watchdog count (the host does this when the firmware makes progress). */
void spk_iss_kick_watchdog(spk_iss *iss);

/** @brief Approximate core cycles since reset (cost table in iss.c). */
uint64_t spk_iss_cycles(const spk_iss *iss);
/** @brief Instructions retired since reset. */
uint64_t spk_iss_instret(const spk_iss *iss);

/** @brief Name of a cause code, e.g. "illegal instruction"; "unknown cause" otherwise. */
const char *spk_iss_cause_str(uint32_t cause);
/** @brief Name of a stop reason. */
const char *spk_iss_stop_str(spk_iss_stop stop);

#ifdef __cplusplus
}
#endif

#endif
