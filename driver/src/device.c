/* Devices of the model and sim backends: register file, device DRAM with buffer objects, the
 * control core (RV32IM simulator) running the firmware, and the command ring. */
#include "device.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attn.h"
#include "error.h"
#include "spk/fw_abi.h"

#ifndef SPK_FW_DEFAULT_PATH
#define SPK_FW_DEFAULT_PATH "/usr/local/share/spk/spk-fw.elf"
#endif
#ifndef SPK_ENERGY_DEFAULT_PATH
#define SPK_ENERGY_DEFAULT_PATH "/usr/local/share/spk/energy.cfg"
#endif

#define DEFAULT_DRAM_BYTES (256ull << 20)
#define MIN_DRAM_BYTES (1ull << 20)
#define RING_ENTRIES 64u
/* Instructions per simulator slice between checks of the fence and the clock. */
#define RUN_SLICE 20000u
/* The firmware must reach its idle loop within this many instructions after reset. */
#define BOOT_BUDGET 1000000u
/* Control-core watchdog: instructions without an engine operation or a new command after which
 * the firmware is declared hung (the firmware runs tens of instructions between operations; the
 * simulator executes about 80 M instructions/s, so this fires within a fraction of a second). */
#define WATCHDOG_INSTRUCTIONS 10000000u
/* Core clock for converting timeouts to device time (1 GHz, like the engine). */
#define CORE_CYCLES_PER_MS 1000000ull

/* ---- registry of open devices: lets every call reject a closed handle without touching it */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static spk_device *registry[64];

static int registry_add(spk_device *dev) {
    int ok = 0;
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]) && !ok; i++)
        if (!registry[i]) registry[i] = dev, ok = 1;
    pthread_mutex_unlock(&registry_lock);
    return ok;
}

static void registry_remove(const spk_device *dev) {
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
        if (registry[i] == dev) registry[i] = NULL;
    pthread_mutex_unlock(&registry_lock);
}

int spk_dev_live(const spk_device *dev) {
    int live = 0;
    if (!dev) return 0;
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
        if (registry[i] == dev) live = 1;
    pthread_mutex_unlock(&registry_lock);
    return live;
}

/* ---- registers ---------------------------------------------------------------------------- */
enum reg_access { RO, RW, RW1C };

static int reg_access(uint32_t offset, enum reg_access *access) {
#define REG_CASE(name, off, acc)                                                                   \
    case off:                                                                                      \
        *access = acc;                                                                             \
        return 0;
    switch (offset) {
        SPK_REG_TABLE(REG_CASE)
    default:
        return -1;
    }
#undef REG_CASE
}

uint32_t spk_dev_reg_read(spk_device *dev, uint32_t offset) {
    switch (offset) {
    case SPK_PERF_CORE_CYCLES_REG_OFFSET:
        return (uint32_t)spk_iss_cycles(dev->core);
    case SPK_PERF_CORE_INSTRET_REG_OFFSET:
        return (uint32_t)spk_iss_instret(dev->core);
    case SPK_ENG_STATUS_REG_OFFSET:
        return dev->engine.status;
    case SPK_ENG_ALIVE_TOKENS_REG_OFFSET:
        return dev->engine.ctx && dev->engine.in_layer
                   ? spk_prune_alive_tokens(dev->engine.ctx->prune)
                   : 0;
    case SPK_ENG_ALIVE_HEADS_REG_OFFSET:
        return dev->engine.ctx && dev->engine.in_layer
                   ? spk_prune_alive_heads(dev->engine.ctx->prune)
                   : 0;
    default:
        return offset < SPK_REG_WINDOW_BYTES ? dev->csr[offset / 4] : 0;
    }
}

/* The host's write. INTR_STATE is write-1-to-clear for the host. Read-only and unmapped
 * registers ignore the write, as the hardware block does. */
void spk_dev_reg_write(spk_device *dev, uint32_t offset, uint32_t value) {
    enum reg_access access;
    if (offset % 4 || reg_access(offset, &access) || access == RO) return;
    if (access == RW1C)
        dev->csr[offset / 4] &= ~value;
    else
        dev->csr[offset / 4] = value;
}

/* The control core's side of the register window. Unlike the host, the firmware gets an access
 * fault for unmapped or read-only registers (that is a firmware bug worth stopping on), and
 * its writes to INTR_STATE raise bits (the hardware event inputs). */
static int core_reg_read(void *ctx, uint32_t offset, unsigned size, uint32_t *value) {
    enum reg_access access;
    if (size != 4 || reg_access(offset, &access)) return -1;
    *value = spk_dev_reg_read(ctx, offset);
    return 0;
}

static int core_reg_write(void *ctx, uint32_t offset, unsigned size, uint32_t value) {
    spk_device *dev = ctx;
    enum reg_access access;
    if (size != 4 || reg_access(offset, &access) || access == RO) return -1;
    if (access == RW1C)
        dev->csr[offset / 4] |= value;
    else
        dev->csr[offset / 4] = value;
    if (offset == SPK_ENG_CMD_REG_OFFSET) {
        spk_engine_command(dev, value);
        spk_iss_kick_watchdog(dev->core); /* the engine made progress */
    }
    return 0;
}

/* ---- device DRAM ------------------------------------------------------------------------- */
uint8_t *spk_dev_dram(spk_device *dev, uint64_t addr, uint64_t bytes) {
    for (const spk_bo *bo = dev->bos; bo && bo->addr <= addr; bo = bo->next)
        if (addr - bo->addr <= bo->bytes && bytes <= bo->bytes - (addr - bo->addr))
            return dev->dram + addr;
    return NULL;
}

static int core_dram_read(void *ctx, uint32_t offset, unsigned size, uint32_t *value) {
    const uint8_t *p = spk_dev_dram(ctx, offset, size);
    if (!p) return -1;
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++) v |= (uint32_t)p[i] << (8 * i);
    *value = v;
    return 0;
}

static int core_dram_write(void *ctx, uint32_t offset, unsigned size, uint32_t value) {
    uint8_t *p = spk_dev_dram(ctx, offset, size);
    if (!p) return -1;
    for (unsigned i = 0; i < size; i++) p[i] = (uint8_t)(value >> (8 * i));
    return 0;
}

/* ---- buffer objects ---------------------------------------------------------------------- */
spk_status spk_bo_alloc(spk_device *dev, size_t bytes, spk_bo **out) {
    if (out) *out = NULL;
    if (!out || !dev) return spk_fail(SPK_E_ARG, "spk_bo_alloc: NULL argument");
    if (!spk_dev_live(dev)) return spk_fail(SPK_E_STATE, "spk_bo_alloc: device is closed");
    if (bytes == 0 || bytes > dev->dram_bytes)
        return spk_fail(SPK_E_ARG, "spk_bo_alloc: %zu bytes (device has %llu)", bytes,
                        (unsigned long long)dev->dram_bytes);
    /* First fit in address order. */
    uint64_t want = (bytes + SPK_BO_ALIGN - 1) / SPK_BO_ALIGN * SPK_BO_ALIGN;
    uint64_t at = SPK_DRAM_RESERVED;
    spk_bo **link = &dev->bos;
    while (*link && (*link)->addr < at + want) {
        uint64_t end = (*link)->addr + (*link)->bytes;
        at = (end + SPK_BO_ALIGN - 1) / SPK_BO_ALIGN * SPK_BO_ALIGN;
        link = &(*link)->next;
    }
    if (at + want > dev->dram_bytes)
        return spk_fail(SPK_E_NOMEM, "spk_bo_alloc: no room for %zu bytes in device memory", bytes);
    spk_bo *bo = calloc(1, sizeof(*bo));
    uint8_t *host = calloc(1, bytes);
    if (!bo || !host) {
        free(bo);
        free(host);
        return spk_fail(SPK_E_NOMEM, "spk_bo_alloc: out of host memory");
    }
    bo->dev = dev;
    bo->addr = at;
    bo->bytes = bytes;
    bo->host = host;
    bo->next = *link;
    *link = bo;
    memset(dev->dram + at, 0, bytes);
    *out = bo;
    return spk_ok();
}

spk_status spk_bo_free(spk_bo *bo) {
    if (!bo) return spk_ok();
    if (bo->dev) {
        spk_bo **link = &bo->dev->bos;
        while (*link && *link != bo) link = &(*link)->next;
        if (*link) *link = bo->next;
    }
    free(bo->host);
    free(bo);
    return spk_ok();
}

static spk_status bo_usable(const spk_bo *bo, const char *fn) {
    if (!bo) return spk_fail(SPK_E_ARG, "%s: NULL buffer object", fn);
    if (!bo->dev) return spk_fail(SPK_E_STATE, "%s: the buffer's device was closed", fn);
    return SPK_OK;
}

spk_status spk_bo_map(spk_bo *bo, void **ptr) {
    spk_status st = bo_usable(bo, "spk_bo_map");
    if (ptr) *ptr = NULL;
    if (st != SPK_OK) return st;
    if (!ptr) return spk_fail(SPK_E_ARG, "spk_bo_map: NULL pointer");
    *ptr = bo->host;
    return spk_ok();
}

spk_status spk_bo_sync(spk_bo *bo, spk_sync_dir dir, size_t offset, size_t bytes) {
    spk_status st = bo_usable(bo, "spk_bo_sync");
    if (st != SPK_OK) return st;
    if (offset > bo->bytes || bytes > bo->bytes - offset)
        return spk_fail(SPK_E_RANGE, "spk_bo_sync: [%zu, +%zu) outside the %zu-byte buffer", offset,
                        bytes, bo->bytes);
    uint8_t *dev_mem = bo->dev->dram + bo->addr + offset;
    if (dir == SPK_SYNC_TO_DEVICE)
        memcpy(dev_mem, bo->host + offset, bytes);
    else if (dir == SPK_SYNC_FROM_DEVICE)
        memcpy(bo->host + offset, dev_mem, bytes);
    else
        return spk_fail(SPK_E_ARG, "spk_bo_sync: bad direction %d", (int)dir);
    return spk_ok();
}

spk_status spk_bo_device_addr(const spk_bo *bo, uint64_t *addr) {
    spk_status st = bo_usable(bo, "spk_bo_device_addr");
    if (st != SPK_OK) return st;
    if (!addr) return spk_fail(SPK_E_ARG, "spk_bo_device_addr: NULL pointer");
    *addr = bo->addr;
    return spk_ok();
}

/* ---- the control core -------------------------------------------------------------------- */
static void record_error(spk_device *dev, uint32_t code, uint32_t cause, uint32_t pc,
                         uint32_t value) {
    dev->csr[SPK_ERR_STATUS_REG_OFFSET / 4] =
        code << SPK_ERR_STATUS_CODE_OFFSET | (cause & 0xffu) << SPK_ERR_STATUS_CAUSE_OFFSET;
    dev->csr[SPK_ERR_PC_REG_OFFSET / 4] = pc;
    dev->csr[SPK_ERR_ADDR_REG_OFFSET / 4] = value;
    dev->csr[SPK_INTR_STATE_REG_OFFSET / 4] |= 1u << SPK_INTR_STATE_ERROR_BIT;
    dev->csr[SPK_STATUS_REG_OFFSET / 4] |= 1u << SPK_STATUS_HALTED_BIT;
    dev->halted = 1;
}

static spk_status halted_error(spk_device *dev) {
    uint32_t err = dev->csr[SPK_ERR_STATUS_REG_OFFSET / 4];
    uint32_t code = err & SPK_ERR_STATUS_CODE_MASK;
    uint32_t cause = (err >> SPK_ERR_STATUS_CAUSE_OFFSET) & SPK_ERR_STATUS_CAUSE_MASK;
    uint32_t pc = dev->csr[SPK_ERR_PC_REG_OFFSET / 4];
    uint32_t addr = dev->csr[SPK_ERR_ADDR_REG_OFFSET / 4];
    if (code == SPK_ERR_TRAP)
        return spk_fail(SPK_E_DEVICE, "firmware fault: %s at pc 0x%08x (value 0x%08x)",
                        spk_iss_cause_str(cause), pc, addr);
    if (code == SPK_ERR_WATCHDOG)
        return spk_fail(SPK_E_TIMEOUT,
                        "firmware watchdog: no engine progress in %u instructions, core stopped "
                        "at pc 0x%08x",
                        WATCHDOG_INSTRUCTIONS, pc);
    return spk_fail(SPK_E_DEVICE, "device halted (error code %u at pc 0x%08x)", code, pc);
}

/* A firmware-reported (non-fatal) error: turn it into a status and clear it for the next
 * command. */
static spk_status reported_error(spk_device *dev) {
    uint32_t err = dev->csr[SPK_ERR_STATUS_REG_OFFSET / 4];
    uint32_t code = err & SPK_ERR_STATUS_CODE_MASK;
    uint32_t cause = (err >> SPK_ERR_STATUS_CAUSE_OFFSET) & SPK_ERR_STATUS_CAUSE_MASK;
    uint32_t pc = dev->csr[SPK_ERR_PC_REG_OFFSET / 4];
    uint32_t addr = dev->csr[SPK_ERR_ADDR_REG_OFFSET / 4];
    dev->csr[SPK_ERR_STATUS_REG_OFFSET / 4] = 0;
    dev->csr[SPK_INTR_STATE_REG_OFFSET / 4] &= ~(1u << SPK_INTR_STATE_ERROR_BIT);
    switch (code) {
    case SPK_ERR_DMA:
        return spk_fail(SPK_E_RANGE,
                        "engine: DMA outside the allocated buffers (descriptor 0x%x, "
                        "operation %u, firmware pc 0x%08x)",
                        addr, cause, pc);
    case SPK_ERR_BAD_COMMAND:
        return spk_fail(SPK_E_DEVICE,
                        "firmware rejected the command (reason %u, value 0x%x, "
                        "pc 0x%08x)",
                        cause, addr, pc);
    default:
        return spk_fail(SPK_E_DEVICE,
                        "engine rejected operation %u (error code %u, "
                        "descriptor 0x%x, pc 0x%08x)",
                        cause, code, addr, pc);
    }
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Run one slice of the core; returns SPK_OK, or an error if the core stopped for good. */
static spk_status run_slice(spk_device *dev, int *idle) {
    spk_iss_result res;
    *idle = 0;
    switch (spk_iss_run(dev->core, RUN_SLICE, &res)) {
    case SPK_ISS_STOP_TRAP:
        record_error(dev, SPK_ERR_TRAP, res.cause, res.pc, res.tval);
        return halted_error(dev);
    case SPK_ISS_STOP_WATCHDOG:
        record_error(dev, SPK_ERR_WATCHDOG, 0, res.pc, 0);
        return halted_error(dev);
    case SPK_ISS_STOP_WFI:
        *idle = 1;
        return SPK_OK;
    default:
        return SPK_OK;
    }
}

static int fence_reached(const spk_device *dev, uint32_t fence) {
    return (int32_t)(dev->csr[SPK_FENCE_DONE_REG_OFFSET / 4] - fence) >= 0;
}

spk_status spk_dev_wait(spk_device *dev, uint32_t fence, uint32_t timeout_ms) {
    if (dev->halted) return halted_error(dev);
    const double deadline = now_ms() + timeout_ms;
    const uint64_t cycle_limit = spk_iss_cycles(dev->core) + timeout_ms * CORE_CYCLES_PER_MS;
    while (!fence_reached(dev, fence)) {
        int idle;
        spk_status st = run_slice(dev, &idle);
        if (st != SPK_OK) return st;
        uint32_t head = dev->csr[SPK_RING_HEAD_REG_OFFSET / 4];
        if (idle && head == dev->csr[SPK_RING_TAIL_REG_OFFSET / 4] && !fence_reached(dev, fence))
            return spk_fail(SPK_E_DEVICE, "firmware idle but fence %u never completed", fence);
        if (!fence_reached(dev, fence) &&
            (now_ms() > deadline || spk_iss_cycles(dev->core) > cycle_limit)) {
            /* The caller's patience ran out, not necessarily the firmware's: the core keeps
             * its state and a later wait continues. The watchdog stops a firmware that hangs. */
            return spk_fail(SPK_E_TIMEOUT,
                            "fence %u not complete after %u ms (firmware running, pc 0x%08x)",
                            fence, timeout_ms, spk_iss_get_pc(dev->core));
        }
    }
    if (dev->csr[SPK_ERR_STATUS_REG_OFFSET / 4] & SPK_ERR_STATUS_CODE_MASK)
        return reported_error(dev);
    return spk_ok();
}

spk_status spk_dev_queue(spk_device *dev, uint32_t opcode, uint32_t arg0, uint32_t arg1,
                         uint32_t *fence) {
    if (dev->halted) return halted_error(dev);
    uint32_t head = dev->csr[SPK_RING_HEAD_REG_OFFSET / 4];
    uint32_t tail = dev->csr[SPK_RING_TAIL_REG_OFFSET / 4];
    if (tail - head >= dev->ring_entries)
        return spk_fail(SPK_E_STATE, "command ring full (%u entries in flight)", tail - head);
    spk_ring_cmd cmd = {.opcode = opcode, .fence = ++dev->next_fence, .arg0 = arg0, .arg1 = arg1};
    uint64_t at = dev->ring->addr + (uint64_t)(tail % dev->ring_entries) * SPK_RING_ENTRY_BYTES;
    memcpy(dev->dram + at, &cmd, sizeof(cmd));
    spk_dev_reg_write(dev, SPK_RING_TAIL_REG_OFFSET, tail + 1);
    spk_dev_reg_write(dev, SPK_DOORBELL_REG_OFFSET, tail + 1);
    spk_iss_kick_watchdog(dev->core); /* new work: the firmware gets a fresh budget */
    *fence = cmd.fence;
    return spk_ok();
}

/* ---- open / close ------------------------------------------------------------------------ */
static void reset_registers(spk_device *dev) {
    memset(dev->csr, 0, sizeof(dev->csr));
#define REG_RESET(name, off, acc) dev->csr[(off) / 4] = SPK_##name##_REG_RESVAL;
    SPK_REG_TABLE(REG_RESET)
#undef REG_RESET
}

static spk_status load_firmware(spk_device *dev, const char *path) {
    const spk_fw_target target = {
        SPK_MEM_IMEM_BASE, SPK_MEM_IMEM_SIZE, SPK_MEM_DMEM_BASE, SPK_MEM_DMEM_SIZE,
        spk_dev_reg_read(dev, SPK_VERSION_REG_OFFSET) >> SPK_VERSION_MAJOR_OFFSET};
    spk_fw_image img;
    spk_status st = spk_fw_parse_file(path, &target, &img);
    if (st != SPK_OK) return st;
    const spk_iss_config cfg = {sizeof(cfg),       SPK_MEM_IMEM_BASE, SPK_MEM_IMEM_SIZE,
                                SPK_MEM_DMEM_BASE, SPK_MEM_DMEM_SIZE, WATCHDOG_INSTRUCTIONS};
    dev->core = spk_iss_create(&cfg);
    if (!dev->core) {
        spk_fw_image_free(&img);
        return spk_fail(SPK_E_NOMEM, "cannot create the control core");
    }
    const spk_iss_window csr = {SPK_MEM_CSR_BASE, SPK_REG_WINDOW_BYTES, 2,
                                core_reg_read,    core_reg_write,       dev};
    const spk_iss_window dram = {SPK_MEM_DRAM_BASE, (uint32_t)dev->dram_bytes, 10,
                                 core_dram_read,    core_dram_write,           dev};
    if (spk_iss_add_window(dev->core, &csr) || spk_iss_add_window(dev->core, &dram)) {
        spk_fw_image_free(&img);
        return spk_fail(SPK_E_BACKEND, "cannot map the control core's windows");
    }
    for (unsigned i = 0; i < img.nsegments; i++)
        spk_iss_write_mem(dev->core, img.segments[i].addr, img.segments[i].data,
                          img.segments[i].filesz);
    dev->fw_info = img.info;
    dev->fw_entry = img.entry;
    spk_fw_image_free(&img);
    spk_iss_reset(dev->core, dev->fw_entry);
    return SPK_OK;
}

/* Start the core and let the firmware reach its idle loop. */
static spk_status boot(spk_device *dev) {
    spk_dev_reg_write(dev, SPK_RING_BASE_REG_OFFSET, (uint32_t)dev->ring->addr);
    spk_dev_reg_write(dev, SPK_RING_SIZE_REG_OFFSET, dev->ring_entries);
    spk_dev_reg_write(dev, SPK_CTRL_REG_OFFSET, 1u << SPK_CTRL_RUN_BIT);
    spk_iss_result res;
    spk_iss_stop stop = spk_iss_run(dev->core, BOOT_BUDGET, &res);
    if (stop == SPK_ISS_STOP_TRAP)
        return spk_fail(SPK_E_FW, "firmware faulted while booting: %s at pc 0x%08x",
                        spk_iss_cause_str(res.cause), res.pc);
    if (stop != SPK_ISS_STOP_WFI ||
        !(dev->csr[SPK_STATUS_REG_OFFSET / 4] & (1u << SPK_STATUS_FW_READY_BIT)))
        return spk_fail(SPK_E_FW, "firmware did not reach its idle loop within %u instructions",
                        BOOT_BUDGET);
    return SPK_OK;
}

/* The sim backend's energy constants: explicit option, $SPK_ENERGY, else the installed file if
 * it exists (NULL: none, energy is then not reported). */
static const char *energy_path(const spk_device_options *opts) {
    if (opts && opts->energy_path) return opts->energy_path;
    const char *env = getenv("SPK_ENERGY");
    if (env && *env) return env;
    return access(SPK_ENERGY_DEFAULT_PATH, R_OK) == 0 ? SPK_ENERGY_DEFAULT_PATH : NULL;
}

/* The sim backend's cycle-simulator configuration: explicit option (driver 1.2 options only),
 * $SPK_SIM_CONFIG, else the "eighth" SpAtten preset. */
static const char *sim_config(const spk_device_options *opts) {
    if (opts && opts->size >= sizeof(spk_device_options) && opts->sim_config)
        return opts->sim_config;
    const char *env = getenv("SPK_SIM_CONFIG");
    return env && *env ? env : "eighth";
}

static spk_status open_backend(spk_device *dev, const char *name, const spk_device_options *opts) {
    if (strcmp(name, "model") == 0) {
        dev->timing = 0;
    } else if (strcmp(name, "sim") == 0) {
        char err[256] = "";
        dev->timing = 1;
        dev->engine.timing =
            spk_timing_create(sim_config(opts), energy_path(opts), err, sizeof(err));
        if (!dev->engine.timing) return spk_fail(SPK_E_BACKEND, "sim backend: %s", err);
    } else if (strcmp(name, "rtl") == 0 || strncmp(name, "fpga:", 5) == 0) {
        return spk_fail(SPK_E_BACKEND, "backend '%s' is not available in this build", name);
    } else {
        return spk_fail(SPK_E_BACKEND, "unknown backend '%s' (known: model, sim)", name);
    }
    snprintf(dev->backend, sizeof(dev->backend), "%s", name);
    return SPK_OK;
}

spk_status spk_device_close(spk_device *dev) {
    if (!dev) return spk_ok();
    if (!spk_dev_live(dev)) return spk_fail(SPK_E_STATE, "spk_device_close: device not open");
    registry_remove(dev);
    spk_attn_orphan_all(dev);
    if (dev->ring) spk_bo_free(dev->ring);
    for (spk_bo *bo = dev->bos; bo; bo = bo->next) bo->dev = NULL;
    spk_engine_release(&dev->engine);
    spk_iss_destroy(dev->core);
    free(dev->dram);
    free(dev);
    return spk_ok();
}

spk_status spk_device_open(const char *backend, const spk_device_options *opts, spk_device **out) {
    if (!out) return spk_fail(SPK_E_ARG, "spk_device_open: NULL output pointer");
    *out = NULL;
    /* Options of driver 1.1 end before sim_config; they are still accepted. */
    const size_t min_size = SPK_DEVICE_OPTIONS_SIZE_V1_1;
    if (opts && opts->size < min_size)
        return spk_fail(SPK_E_ARG, "spk_device_open: options.size %zu, expected >= %zu", opts->size,
                        min_size);
    if (!backend || !*backend) backend = getenv("SPK_BACKEND");
    if (!backend || !*backend) backend = "model";
    uint64_t dram = opts && opts->dram_bytes ? opts->dram_bytes : DEFAULT_DRAM_BYTES;
    if (dram < MIN_DRAM_BYTES || dram > SPK_MEM_DRAM_MAX)
        return spk_fail(SPK_E_ARG, "spk_device_open: dram_bytes %llu outside [%llu, %llu]",
                        (unsigned long long)dram, MIN_DRAM_BYTES,
                        (unsigned long long)SPK_MEM_DRAM_MAX);
    const char *fw = opts && opts->firmware_path ? opts->firmware_path : getenv("SPK_FIRMWARE");
    if (!fw || !*fw) fw = SPK_FW_DEFAULT_PATH;

    spk_device *dev = calloc(1, sizeof(*dev));
    if (!dev) return spk_fail(SPK_E_NOMEM, "spk_device_open: out of memory");
    spk_status st = open_backend(dev, backend, opts);
    if (st != SPK_OK) {
        spk_engine_release(&dev->engine);
        free(dev);
        return st;
    }
    dev->dram_bytes = dram;
    dev->dram = calloc(1, dram);
    if (!dev->dram || !registry_add(dev)) {
        free(dev->dram);
        spk_engine_release(&dev->engine);
        free(dev);
        return spk_fail(SPK_E_NOMEM, "spk_device_open: no memory for %llu bytes of device DRAM",
                        (unsigned long long)dram);
    }
    reset_registers(dev);
    dev->ring_entries = RING_ENTRIES;
    st = spk_bo_alloc(dev, RING_ENTRIES * SPK_RING_ENTRY_BYTES, &dev->ring);
    if (st == SPK_OK) st = load_firmware(dev, fw);
    if (st == SPK_OK) st = boot(dev);
    if (st != SPK_OK) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s", spk_last_error());
        spk_device_close(dev);
        return spk_fail(st, "%s", msg);
    }
    *out = dev;
    return spk_ok();
}

spk_status spk_device_query(spk_device *dev, spk_device_info *info) {
    if (!dev || !info) return spk_fail(SPK_E_ARG, "spk_device_query: NULL argument");
    if (!spk_dev_live(dev)) return spk_fail(SPK_E_STATE, "spk_device_query: device is closed");
    if (info->size < sizeof(*info))
        return spk_fail(SPK_E_ARG, "spk_device_query: info.size %zu, expected >= %zu", info->size,
                        sizeof(*info));
    const size_t size = info->size;
    memset(info, 0, sizeof(*info));
    info->size = size;
    snprintf(info->backend, sizeof(info->backend), "%s", dev->backend);
    uint32_t version = spk_dev_reg_read(dev, SPK_VERSION_REG_OFFSET);
    uint32_t mult = spk_dev_reg_read(dev, SPK_PARAM_MULT_REG_OFFSET);
    info->id = spk_dev_reg_read(dev, SPK_ID_REG_OFFSET);
    info->version_major = version >> SPK_VERSION_MAJOR_OFFSET & SPK_VERSION_MAJOR_MASK;
    info->version_minor = version >> SPK_VERSION_MINOR_OFFSET & SPK_VERSION_MINOR_MASK;
    info->caps = spk_dev_reg_read(dev, SPK_CAPS_REG_OFFSET);
    info->multipliers_qk = mult >> SPK_PARAM_MULT_QK_OFFSET & SPK_PARAM_MULT_QK_MASK;
    info->multipliers_pv = mult >> SPK_PARAM_MULT_PV_OFFSET & SPK_PARAM_MULT_PV_MASK;
    info->topk_parallelism =
        spk_dev_reg_read(dev, SPK_PARAM_TOPK_REG_OFFSET) & SPK_PARAM_TOPK_PARALLELISM_MASK;
    info->dram_channels =
        spk_dev_reg_read(dev, SPK_PARAM_DRAM_REG_OFFSET) & SPK_PARAM_DRAM_CHANNELS_MASK;
    info->max_head_dim =
        spk_dev_reg_read(dev, SPK_PARAM_MAX_D_REG_OFFSET) & SPK_PARAM_MAX_D_VALUE_MASK;
    info->max_keys = spk_dev_reg_read(dev, SPK_PARAM_MAX_KEYS_REG_OFFSET);
    info->dram_bytes = dev->dram_bytes;
    info->fw_version = dev->fw_info.fw_version;
    snprintf(info->fw_name, sizeof(info->fw_name), "%s", dev->fw_info.name);
    return spk_ok();
}
