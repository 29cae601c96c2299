/* The emulated device: register file with the access rules of the register source, device DRAM,
 * the control core (RV32IM simulator) and the run loop that interleaves the core and the engine
 * in device time. docs/device.md is the contract this file realizes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_internal.h"
#include "spk/fw_abi.h"

#define MIN_DRAM_BYTES (1ull << 20)
/* Instructions per core slice between checks of the interrupt mask and the budget. */
#define RUN_SLICE 20000u
/* Control-core watchdog: instructions without an engine operation, a poll that made engine
 * progress or a new command, after which the firmware is declared hung. */
#define WATCHDOG_INSTRUCTIONS 10000000u

/* ---- registers ---------------------------------------------------------------------------- */
typedef struct reg_rules {
    int host, core, hw;
} reg_rules;

static int reg_rules_of(uint32_t offset, reg_rules *r) {
#define REG_CASE(name, off, host_acc, core_acc, hw_acc)                                            \
    case off:                                                                                      \
        *r = (reg_rules){host_acc, core_acc, hw_acc};                                              \
        return 0;
    switch (offset) {
        SPK_REG_ACCESS_TABLE(REG_CASE)
    default:
        return -1;
    }
#undef REG_CASE
}

uint64_t spkdev_time(const spkdev *dev) {
    return spk_iss_cycles(dev->core) + dev->engine_cycles;
}

/* ---- the access trace ($SPK_DEVICE_TRACE, docs/device.md "Trace") -------------------------- */
static const char *reg_name(uint32_t offset) {
#define REG_NAME(name, off, acc)                                                                   \
    case off:                                                                                      \
        return #name;
    switch (offset) {
        SPK_REG_TABLE(REG_NAME)
    default:
        return "?";
    }
#undef REG_NAME
}

static void trace_reg(spkdev *dev, const char *who, char rw, uint32_t offset, uint32_t value) {
    if (dev->trace)
        fprintf(dev->trace, "%llu %s reg %c %s 0x%08x\n", (unsigned long long)spkdev_time(dev), who,
                rw, reg_name(offset), value);
}

static void trace_mem(spkdev *dev, char rw, uint64_t addr, uint64_t bytes) {
    if (dev->trace)
        fprintf(dev->trace, "%llu %s mem %c 0x%08llx %llu\n", (unsigned long long)spkdev_time(dev),
                dev->actor, rw, (unsigned long long)addr, (unsigned long long)bytes);
}

/* Registers the hardware computes on read; others come from the register array. */
static uint32_t hw_value(spkdev *dev, uint32_t offset, int core_reader) {
    switch (offset) {
    case SPK_PERF_CORE_CYCLES_REG_OFFSET:
        return (uint32_t)spk_iss_cycles(dev->core);
    case SPK_PERF_CORE_INSTRET_REG_OFFSET:
        return (uint32_t)spk_iss_instret(dev->core);
    case SPK_PERF_TIME_LO_REG_OFFSET:
        return (uint32_t)spkdev_time(dev);
    case SPK_PERF_TIME_HI_REG_OFFSET:
        return (uint32_t)(spkdev_time(dev) >> 32);
    case SPK_ENG_STATUS_REG_OFFSET:
        if (!core_reader) return spkdev_engine_status(dev->engine);
        {
            uint64_t cycles = 0;
            uint32_t status = spkdev_engine_poll(dev->engine, &cycles);
            dev->engine_cycles += cycles;
            if (cycles) spk_iss_kick_watchdog(dev->core); /* the engine made progress */
            return status;
        }
    case SPK_ENG_ALIVE_TOKENS_REG_OFFSET:
        return spkdev_engine_alive_tokens(dev->engine);
    case SPK_ENG_ALIVE_HEADS_REG_OFFSET:
        return spkdev_engine_alive_heads(dev->engine);
    default:
        return dev->csr[offset / 4];
    }
}

uint32_t spkdev_reg_read(spkdev *dev, uint32_t offset) {
    reg_rules r;
    if (offset % 4 || reg_rules_of(offset, &r) || r.host == SPK_ACC_NONE || r.host == SPK_ACC_WO)
        return 0;
    const uint32_t v = hw_value(dev, offset, 0);
    trace_reg(dev, "host", 'r', offset, v);
    return v;
}

void spkdev_reg_write(spkdev *dev, uint32_t offset, uint32_t value) {
    reg_rules r;
    trace_reg(dev, "host", 'w', offset, value);
    if (offset % 4 || reg_rules_of(offset, &r)) return;
    switch (r.host) {
    case SPK_ACC_RW:
    case SPK_ACC_WO:
        dev->csr[offset / 4] = value;
        break;
    case SPK_ACC_RW1C:
        dev->csr[offset / 4] &= ~value;
        break;
    default:
        return; /* read-only for the host: ignored, as the hardware block does */
    }
    if (offset == SPK_DOORBELL_REG_OFFSET) {
        dev->doorbell_pending = 1;
        spk_iss_kick_watchdog(dev->core); /* new work: the firmware gets a fresh budget */
    }
    if (offset == SPK_CTRL_REG_OFFSET && (value & (1u << SPK_CTRL_RUN_BIT)) && !dev->core_running) {
        spk_iss_reset(dev->core, SPK_MEM_IMEM_BASE);
        dev->core_running = 1;
    }
    if (offset == SPK_CTRL_REG_OFFSET && !(value & (1u << SPK_CTRL_RUN_BIT)) && dev->core_running) {
        /* RUN = 0 holds the core in reset (docs/registers.md), whatever it was doing: the engine
         * operation in progress is abandoned and the firmware's status goes with the core. */
        dev->core_running = 0;
        dev->doorbell_pending = 0;
        spkdev_engine_abort(dev->engine);
        dev->csr[SPK_STATUS_REG_OFFSET / 4] &= 1u << SPK_STATUS_HALTED_BIT;
    }
}

/* The control core's side of the window: unmapped registers and writes the register source
 * does not grant the core fault (a firmware bug worth stopping on). */
static int core_reg_read(void *ctx, uint32_t offset, unsigned size, uint32_t *value) {
    reg_rules r;
    if (size != 4 || reg_rules_of(offset, &r) || r.core == SPK_ACC_NONE) return -1;
    *value = hw_value(ctx, offset, 1);
    trace_reg(ctx, "core", 'r', offset, *value);
    return 0;
}

static int core_reg_write(void *ctx, uint32_t offset, unsigned size, uint32_t value) {
    spkdev *dev = ctx;
    reg_rules r;
    if (size != 4 || reg_rules_of(offset, &r)) return -1;
    trace_reg(dev, "core", 'w', offset, value);
    switch (r.core) {
    case SPK_ACC_RW:
    case SPK_ACC_WO:
        dev->csr[offset / 4] = value;
        break;
    case SPK_ACC_RW1S:
        dev->csr[offset / 4] |= value;
        break;
    default:
        return -1;
    }
    if (offset == SPK_ENG_CMD_REG_OFFSET) {
        spkdev_engine_go(dev->engine, value);
        spk_iss_kick_watchdog(dev->core);
    }
    return 0;
}

/* ---- memories ------------------------------------------------------------------------------ */
int spkdev_dram_inside(const spkdev *dev, uint64_t addr, uint64_t bytes) {
    return addr <= dev->dram_bytes && bytes <= dev->dram_bytes - addr;
}

int spkdev_dram_read(spkdev *dev, uint64_t addr, void *dst, uint64_t bytes) {
    if (!spkdev_dram_inside(dev, addr, bytes)) return -1;
    trace_mem(dev, 'r', SPK_MEM_DRAM_BASE + addr, bytes);
    if (dev->dram_ops.read) return dev->dram_ops.read(dev->dram_ops.ctx, addr, dst, bytes);
    memcpy(dst, dev->dram + addr, bytes);
    return 0;
}

int spkdev_dram_write(spkdev *dev, uint64_t addr, const void *src, uint64_t bytes) {
    if (!spkdev_dram_inside(dev, addr, bytes)) return -1;
    trace_mem(dev, 'w', SPK_MEM_DRAM_BASE + addr, bytes);
    if (dev->dram_ops.write) return dev->dram_ops.write(dev->dram_ops.ctx, addr, src, bytes);
    memcpy(dev->dram + addr, src, bytes);
    return 0;
}

static int core_dram_read(void *ctx, uint32_t offset, unsigned size, uint32_t *value) {
    spkdev *dev = ctx;
    uint8_t b[4];
    dev->actor = "core";
    const int rc = spkdev_dram_read(dev, offset, b, size);
    dev->actor = "engine";
    if (rc) return -1;
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++) v |= (uint32_t)b[i] << (8 * i);
    *value = v;
    return 0;
}

static int core_dram_write(void *ctx, uint32_t offset, unsigned size, uint32_t value) {
    uint8_t b[4];
    for (unsigned i = 0; i < size; i++) b[i] = (uint8_t)(value >> (8 * i));
    spkdev *dev = ctx;
    dev->actor = "core";
    const int rc = spkdev_dram_write(dev, offset, b, size);
    dev->actor = "engine";
    return rc;
}

/* Whether a core-map range is wholly in DRAM (then *offset is its DRAM offset). */
static int in_dram_window(const spkdev *dev, uint64_t addr, size_t bytes, uint64_t *offset) {
    if (addr < SPK_MEM_DRAM_BASE || !spkdev_dram_inside(dev, addr - SPK_MEM_DRAM_BASE, bytes))
        return 0;
    *offset = addr - SPK_MEM_DRAM_BASE;
    return 1;
}

int spkdev_mem_read(spkdev *dev, uint64_t addr, void *dst, size_t bytes) {
    uint64_t off;
    int rc;
    dev->actor = "host";
    if (in_dram_window(dev, addr, bytes, &off)) {
        rc = spkdev_dram_read(dev, off, dst, bytes);
    } else {
        trace_mem(dev, 'r', addr, bytes);
        rc = addr > UINT32_MAX ? -1 : spk_iss_read_mem(dev->core, (uint32_t)addr, dst, bytes);
    }
    dev->actor = "engine";
    return rc;
}

int spkdev_mem_write(spkdev *dev, uint64_t addr, const void *src, size_t bytes) {
    uint64_t off;
    int rc;
    dev->actor = "host";
    if (in_dram_window(dev, addr, bytes, &off)) {
        rc = spkdev_dram_write(dev, off, src, bytes);
    } else {
        trace_mem(dev, 'w', addr, bytes);
        rc = addr > UINT32_MAX ? -1 : spk_iss_write_mem(dev->core, (uint32_t)addr, src, bytes);
    }
    dev->actor = "engine";
    return rc;
}

/* ---- run loop ------------------------------------------------------------------------------ */
void spkdev_halt(spkdev *dev, uint32_t code, uint32_t cause, uint32_t pc, uint32_t value) {
    dev->csr[SPK_ERR_STATUS_REG_OFFSET / 4] =
        code << SPK_ERR_STATUS_CODE_OFFSET | (cause & 0xffu) << SPK_ERR_STATUS_CAUSE_OFFSET;
    dev->csr[SPK_ERR_PC_REG_OFFSET / 4] = pc;
    dev->csr[SPK_ERR_ADDR_REG_OFFSET / 4] = value;
    dev->csr[SPK_INTR_STATE_REG_OFFSET / 4] |= 1u << SPK_INTR_STATE_ERROR_BIT;
    dev->csr[SPK_STATUS_REG_OFFSET / 4] |= 1u << SPK_STATUS_HALTED_BIT;
    dev->halted = 1;
}

spkdev_run_result spkdev_run(spkdev *dev, uint32_t intr_mask, uint64_t max_cycles) {
    const uint64_t start = spkdev_time(dev);
    for (;;) {
        if (dev->halted) return SPKDEV_RUN_HALTED;
        if (dev->csr[SPK_INTR_STATE_REG_OFFSET / 4] & intr_mask) return SPKDEV_RUN_EVENT;
        if (!dev->core_running) return SPKDEV_RUN_IDLE;
        const uint64_t spent = spkdev_time(dev) - start;
        if (spent >= max_cycles) return SPKDEV_RUN_BUDGET;
        /* One instruction takes at least one cycle, so the slice never overshoots the budget
         * by more than the cycles of the last engine poll. */
        const uint64_t left = max_cycles - spent;
        spk_iss_result res;
        switch (spk_iss_run(dev->core, left < RUN_SLICE ? left : RUN_SLICE, &res)) {
        case SPK_ISS_STOP_TRAP:
            spkdev_halt(dev, SPK_ERR_TRAP, res.cause, res.pc, res.tval);
            break;
        case SPK_ISS_STOP_WATCHDOG:
            spkdev_halt(dev, SPK_ERR_WATCHDOG, 0, res.pc, 0);
            break;
        case SPK_ISS_STOP_WFI:
            if (!dev->doorbell_pending) return SPKDEV_RUN_IDLE;
            dev->doorbell_pending = 0; /* the doorbell rang before the wfi: go on */
            break;
        default:
            break;
        }
    }
}

/* ---- create / destroy --------------------------------------------------------------------- */
static void reset_registers(spkdev *dev) {
    memset(dev->csr, 0, sizeof(dev->csr));
#define REG_RESET(name, off, acc) dev->csr[(off) / 4] = SPK_##name##_REG_RESVAL;
    SPK_REG_TABLE(REG_RESET)
#undef REG_RESET
}

/* $SPK_DEVICE_TRACE: a file path; "%d" in it is replaced by a per-process device number, so that
 * the devices of one program write one file each (else they append to one file). */
static int open_trace(spkdev *dev, char *err, size_t err_len) {
    static unsigned serial;
    const char *path = getenv("SPK_DEVICE_TRACE");
    if (!path || !*path) return 0;
    char name[1024];
    const char *pct = strstr(path, "%d");
    if (pct)
        snprintf(name, sizeof(name), "%.*s%u%s", (int)(pct - path), path, serial++, pct + 2);
    else
        snprintf(name, sizeof(name), "%s", path);
    dev->trace = fopen(name, pct ? "w" : "a");
    if (!dev->trace) {
        if (err_len) snprintf(err, err_len, "$SPK_DEVICE_TRACE: cannot write %s", name);
        return -1;
    }
    fprintf(dev->trace, "# spk device trace: engine %s; fields: cycle who reg|mem r|w ...\n",
            spkdev_engine_impl_name(dev->engine));
    return 0;
}

static int fail(char *err, size_t err_len, const char *msg) {
    if (err && err_len) snprintf(err, err_len, "%s", msg);
    return -1;
}

void spkdev_destroy(spkdev *dev) {
    if (!dev) return;
    if (dev->trace) fclose(dev->trace);
    spkdev_engine_destroy(dev->engine);
    spk_iss_destroy(dev->core);
    free(dev->dram);
    free(dev);
}

spkdev *spkdev_create(const spkdev_config *cfg, char *err, size_t err_len) {
    if (!cfg || cfg->size < sizeof(*cfg)) {
        fail(err, err_len, "device configuration missing or of another version");
        return NULL;
    }
    if (cfg->dram_bytes < MIN_DRAM_BYTES || cfg->dram_bytes > SPK_MEM_DRAM_MAX) {
        if (err && err_len)
            snprintf(err, err_len, "dram_bytes %llu outside [%llu, %llu]",
                     (unsigned long long)cfg->dram_bytes, MIN_DRAM_BYTES,
                     (unsigned long long)SPK_MEM_DRAM_MAX);
        return NULL;
    }
    spkdev *dev = calloc(1, sizeof(*dev));
    if (!dev) {
        fail(err, err_len, "out of host memory");
        return NULL;
    }
    dev->actor = "engine";
    dev->dram_bytes = cfg->dram_bytes;
    if (cfg->dram)
        dev->dram_ops = *cfg->dram;
    else
        dev->dram = calloc(1, cfg->dram_bytes);
    const spk_iss_config core = {sizeof(core),      SPK_MEM_IMEM_BASE, SPK_MEM_IMEM_SIZE,
                                 SPK_MEM_DMEM_BASE, SPK_MEM_DMEM_SIZE, WATCHDOG_INSTRUCTIONS};
    dev->core = dev->dram || cfg->dram ? spk_iss_create(&core) : NULL;
    if (!dev->core) {
        if (err && err_len)
            snprintf(err, err_len, "no host memory for %llu bytes of device DRAM",
                     (unsigned long long)cfg->dram_bytes);
        spkdev_destroy(dev);
        return NULL;
    }
    const spk_iss_window csr = {SPK_MEM_CSR_BASE, SPK_REG_WINDOW_BYTES, 2,
                                core_reg_read,    core_reg_write,       dev};
    const spk_iss_window dram = {SPK_MEM_DRAM_BASE, (uint32_t)dev->dram_bytes, 10,
                                 core_dram_read,    core_dram_write,           dev};
    if (spk_iss_add_window(dev->core, &csr) || spk_iss_add_window(dev->core, &dram)) {
        fail(err, err_len, "cannot map the control core's windows");
        spkdev_destroy(dev);
        return NULL;
    }
    reset_registers(dev);
    dev->engine = spkdev_engine_create(dev, cfg, err, err_len);
    if (!dev->engine) {
        spkdev_destroy(dev);
        return NULL;
    }
    if (open_trace(dev, err, err_len)) {
        spkdev_destroy(dev);
        return NULL;
    }
    return dev;
}

const char *spkdev_engine_name(const spkdev *dev) {
    return spkdev_engine_impl_name(dev->engine);
}

uint32_t spkdev_slowdown(const spkdev *dev) {
    return spkdev_engine_slowdown(dev->engine);
}
