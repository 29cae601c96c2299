/* Register and device-DRAM access from the control core. The CSR window and DRAM window
 * addresses come from the generated register map. */
#ifndef SPK_FW_MMIO_H
#define SPK_FW_MMIO_H

#include <stdint.h>

#include "spk/regs.h"

static inline uint32_t csr_read(uint32_t offset) {
    return *(volatile const uint32_t *)(SPK_MEM_CSR_BASE + offset);
}

static inline void csr_write(uint32_t offset, uint32_t value) {
    *(volatile uint32_t *)(SPK_MEM_CSR_BASE + offset) = value;
}

static inline uint32_t dram_read32(uint32_t dram_offset) {
    return *(volatile const uint32_t *)(SPK_MEM_DRAM_BASE + dram_offset);
}

/* PC of the caller, for the error report. */
static inline uint32_t current_pc(void) {
    uint32_t pc;
    __asm__ volatile("auipc %0, 0" : "=r"(pc));
    return pc;
}

/* Sleep until the host rings the doorbell (the simulator returns control to the host). */
static inline void wait_for_doorbell(void) {
    __asm__ volatile("wfi");
}

#endif
