/* The host side of a device: opening a backend, the buffer-object allocator over device DRAM,
 * firmware loading, the command ring and bounded waits. Everything goes through the backend
 * interface (backend.h); docs/device.md is the contract on the other side. */
#include "device.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "handles.h"
#include "spk/fw_abi.h"
#include "spksim/iss.h"

#ifndef SPK_FW_DEFAULT_PATH
#define SPK_FW_DEFAULT_PATH "/usr/local/share/spk/spk-fw.elf"
#endif
#ifndef SPK_ENERGY_DEFAULT_PATH
#define SPK_ENERGY_DEFAULT_PATH "/usr/local/share/spk/energy.cfg"
#endif

#define DEFAULT_DRAM_BYTES (256ull << 20)
#define MIN_DRAM_BYTES (1ull << 20)
#define RING_ENTRIES 64u
/* Device cycles per wait slice between checks of the fence and the host clock. */
#define WAIT_SLICE_CYCLES 50000u
/* The firmware must reach its idle loop within this many device cycles after reset. */
#define BOOT_CYCLES 2000000u

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

void spk_dev_lock(spk_device *dev) {
    pthread_mutex_lock(&dev->lock);
}

void spk_dev_unlock(spk_device *dev) {
    pthread_mutex_unlock(&dev->lock);
}

/* ---- registers and device memory through the backend ------------------------------------ */
uint32_t spk_dev_reg_read(spk_device *dev, uint32_t offset) {
    return dev->be->ops->reg_read(dev->be, offset);
}

void spk_dev_reg_write(spk_device *dev, uint32_t offset, uint32_t value) {
    dev->be->ops->reg_write(dev->be, offset, value);
}

static int dram_write(spk_device *dev, uint64_t addr, const void *src, size_t bytes) {
    return dev->be->ops->mem_write(dev->be, SPK_MEM_DRAM_BASE + addr, src, bytes);
}

static int dram_read(spk_device *dev, uint64_t addr, void *dst, size_t bytes) {
    return dev->be->ops->mem_read(dev->be, SPK_MEM_DRAM_BASE + addr, dst, bytes);
}

/* Zero [addr, addr + bytes) of device DRAM. */
static int dram_zero(spk_device *dev, uint64_t addr, size_t bytes) {
    static const uint8_t zeros[4096];
    while (bytes) {
        const size_t n = bytes < sizeof(zeros) ? bytes : sizeof(zeros);
        if (dram_write(dev, addr, zeros, n)) return -1;
        addr += n;
        bytes -= n;
    }
    return 0;
}

/* ---- buffer objects ---------------------------------------------------------------------- */
static spk_status bo_alloc_locked(spk_device *dev, size_t bytes, spk_bo **out) {
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
    if (dram_zero(dev, at, bytes)) {
        free(bo);
        free(host);
        return spk_fail(SPK_E_DEVICE, "spk_bo_alloc: device memory at 0x%llx not writable",
                        (unsigned long long)at);
    }
    if (spk_handle_add(SPK_HANDLE_BO, bo)) {
        free(bo);
        free(host);
        return spk_fail(SPK_E_NOMEM, "spk_bo_alloc: out of host memory");
    }
    bo->next = *link;
    *link = bo;
    *out = bo;
    return spk_ok();
}

spk_status spk_bo_free(spk_bo *bo) {
    if (!bo) return spk_ok();
    if (spk_handle_remove(SPK_HANDLE_BO, bo))
        return spk_fail(SPK_E_ARG, "spk_bo_free: %p is not a live buffer object (freed twice?)",
                        (const void *)bo);
    spk_device *dev = bo->dev;
    if (dev) {
        spk_dev_lock(dev);
        spk_bo **link = &dev->bos;
        while (*link && *link != bo) link = &(*link)->next;
        if (*link) *link = bo->next;
        spk_dev_unlock(dev);
    }
    free(bo->host);
    free(bo);
    return spk_ok();
}

spk_status spk_bo_alloc(spk_device *dev, size_t bytes, spk_bo **out) {
    if (out) *out = NULL;
    if (!out || !dev) return spk_fail(SPK_E_ARG, "spk_bo_alloc: NULL argument");
    if (!spk_dev_live(dev)) return spk_fail(SPK_E_STATE, "spk_bo_alloc: device is closed");
    spk_dev_lock(dev);
    spk_status st = bo_alloc_locked(dev, bytes, out);
    spk_dev_unlock(dev);
    return st;
}

static spk_status bo_usable(const spk_bo *bo, const char *fn) {
    if (!bo) return spk_fail(SPK_E_ARG, "%s: NULL buffer object", fn);
    if (!spk_handle_live(SPK_HANDLE_BO, bo))
        return spk_fail(SPK_E_ARG, "%s: %p is not a live buffer object (freed?)", fn,
                        (const void *)bo);
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
    if (dir != SPK_SYNC_TO_DEVICE && dir != SPK_SYNC_FROM_DEVICE)
        return spk_fail(SPK_E_ARG, "spk_bo_sync: bad direction %d", (int)dir);
    spk_dev_lock(bo->dev);
    const int rc = dir == SPK_SYNC_TO_DEVICE
                       ? dram_write(bo->dev, bo->addr + offset, bo->host + offset, bytes)
                       : dram_read(bo->dev, bo->addr + offset, bo->host + offset, bytes);
    spk_dev_unlock(bo->dev);
    if (rc)
        return spk_fail(SPK_E_DEVICE, "spk_bo_sync: the device refused [0x%llx, +%zu)",
                        (unsigned long long)(bo->addr + offset), bytes);
    return spk_ok();
}

spk_status spk_bo_device_addr(const spk_bo *bo, uint64_t *addr) {
    spk_status st = bo_usable(bo, "spk_bo_device_addr");
    if (st != SPK_OK) return st;
    if (!addr) return spk_fail(SPK_E_ARG, "spk_bo_device_addr: NULL pointer");
    *addr = bo->addr;
    return spk_ok();
}

/* ---- errors, waits and the ring --------------------------------------------------------- */
static uint32_t reg(spk_device *dev, uint32_t offset) {
    return spk_dev_reg_read(dev, offset);
}

/* Halted for good: a fatal error (STATUS.HALTED), or the control core put back into reset by
 * someone writing CTRL.RUN = 0 (a device reset; the command in progress is lost). */
static int device_halted(spk_device *dev) {
    if (!dev->halted && (reg(dev, SPK_STATUS_REG_OFFSET) & (1u << SPK_STATUS_HALTED_BIT)))
        dev->halted = 1;
    if (!dev->halted && !(reg(dev, SPK_CTRL_REG_OFFSET) & (1u << SPK_CTRL_RUN_BIT)))
        dev->halted = 2;
    return dev->halted;
}

static spk_status halted_error(spk_device *dev) {
    char msg[sizeof(dev->link_msg)];
    const spk_status link = spk_backend_fault(dev->be, msg, sizeof(msg)); /* fpga: link failed */
    if (link != SPK_OK) return spk_fail(link, "%s", msg);
    if (dev->halted == 2)
        return spk_fail(SPK_E_DEVICE,
                        "device reset: the control core was put back into reset (CTRL.RUN = 0) "
                        "with fences %u..%u unfinished; they are lost and the device refuses work "
                        "until it is opened again",
                        dev->collected + 1, dev->next_fence);
    uint32_t err = reg(dev, SPK_ERR_STATUS_REG_OFFSET);
    uint32_t code = err & SPK_ERR_STATUS_CODE_MASK;
    uint32_t cause = (err >> SPK_ERR_STATUS_CAUSE_OFFSET) & SPK_ERR_STATUS_CAUSE_MASK;
    uint32_t pc = reg(dev, SPK_ERR_PC_REG_OFFSET);
    uint32_t addr = reg(dev, SPK_ERR_ADDR_REG_OFFSET);
    if (code == SPK_ERR_TRAP)
        return spk_fail(SPK_E_DEVICE, "firmware fault: %s at pc 0x%08x (value 0x%08x)",
                        spk_iss_cause_str(cause), pc, addr);
    if (code == SPK_ERR_WATCHDOG)
        return spk_fail(SPK_E_TIMEOUT,
                        "firmware watchdog: no engine progress for too long, core stopped at "
                        "pc 0x%08x",
                        pc);
    return spk_fail(SPK_E_DEVICE, "device halted (error code %u at pc 0x%08x)", code, pc);
}

static const char *engine_op_name(uint32_t op) {
    static const char *const names[] = {"?",           "LAYER_BEGIN",  "HEAD",          "LAYER_END",
                                        "PRUNE",       "CONTEXT_OPEN", "CONTEXT_CLOSE", "HEAD_REQ",
                                        "CONTEXT_READ"};
    return op < sizeof(names) / sizeof(names[0]) ? names[op] : "?";
}

/* The status and message of a firmware-reported (non-fatal) error, from its saved registers. */
static spk_status reported_error(const spk_device *dev, const struct spk_cmd_outcome *o) {
    const uint32_t code = o->err & SPK_ERR_STATUS_CODE_MASK, addr = o->addr, pc = o->pc;
    const uint32_t cause = (o->err >> SPK_ERR_STATUS_CAUSE_OFFSET) & SPK_ERR_STATUS_CAUSE_MASK;
    switch (code) {
    case SPK_ERR_DMA:
        return spk_fail(SPK_E_RANGE,
                        "engine: DMA outside device memory or misaligned (descriptor 0x%x, "
                        "operation %s, firmware pc 0x%08x)",
                        addr, engine_op_name(cause), pc);
    case SPK_ERR_BAD_COMMAND:
        return spk_fail(SPK_E_DEVICE,
                        "firmware rejected the command (reason %u, value 0x%x, pc 0x%08x)", cause,
                        addr, pc);
    case SPK_ERR_UNSUPPORTED:
        return spk_fail(
            SPK_E_BACKEND, "engine of backend '%s' cannot execute operation %s%s (descriptor 0x%x)",
            dev->backend, engine_op_name(cause),
            cause == SPK_ENG_OP_PRUNE ? " (no prune unit, or the last-step policy without logits)"
            : cause == SPK_ENG_OP_LAYER_BEGIN
                ? " with the select policy (its scoring stage, SPK_TOKEN_POLICY_SELECT, is not in "
                  "this engine yet)"
                : "",
            addr);
    default:
        return spk_fail(SPK_E_DEVICE,
                        "engine rejected operation %s (error code %u, descriptor 0x%x, pc 0x%08x)",
                        engine_op_name(cause), code, addr, pc);
    }
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int fence_reached(spk_device *dev, uint32_t fence) {
    return (int32_t)(reg(dev, SPK_FENCE_DONE_REG_OFFSET) - fence) >= 0;
}

/* Let the firmware see the next queued command, if the previous one's outcome is collected. */
static void publish_next(spk_device *dev) {
    if (dev->published == dev->next_fence || dev->published != dev->collected) return;
    dev->published++;
    spk_dev_reg_write(dev, SPK_RING_TAIL_REG_OFFSET, dev->published);
    spk_dev_reg_write(dev, SPK_DOORBELL_REG_OFFSET, dev->published);
}

/* If the published command completed, record its outcome (the error record belongs to it: it
 * was the only command the firmware could see) and publish the next one. */
static void collect(spk_device *dev) {
    if (dev->collected == dev->published || !fence_reached(dev, dev->published)) return;
    struct spk_cmd_outcome *o =
        &dev->outcomes[dev->published % (sizeof(dev->outcomes) / sizeof(dev->outcomes[0]))];
    o->fence = dev->published;
    o->err = reg(dev, SPK_ERR_STATUS_REG_OFFSET);
    o->pc = o->addr = 0;
    o->link = SPK_OK;
    if (o->err & SPK_ERR_STATUS_CODE_MASK) { /* keep the record, clear it for the next command */
        /* a board whose link failed reports that to the engine as an error: name the link */
        o->link = spk_backend_fault(dev->be, dev->link_msg, sizeof(dev->link_msg));
        o->pc = reg(dev, SPK_ERR_PC_REG_OFFSET);
        o->addr = reg(dev, SPK_ERR_ADDR_REG_OFFSET);
        spk_dev_reg_write(dev, SPK_ERR_STATUS_REG_OFFSET, 0);
        spk_dev_reg_write(dev, SPK_INTR_STATE_REG_OFFSET, 1u << SPK_INTR_STATE_ERROR_BIT);
    }
    dev->collected = dev->published;
    publish_next(dev);
}

/* The recorded outcome of a collected fence, as this thread's status and message. */
static spk_status outcome_of(spk_device *dev, uint32_t fence) {
    const size_t n = sizeof(dev->outcomes) / sizeof(dev->outcomes[0]);
    const struct spk_cmd_outcome *o = &dev->outcomes[fence % n];
    if (o->fence != fence)
        return spk_fail(SPK_E_STATE,
                        "the outcome of fence %u is no longer known (more than %zu later commands "
                        "completed since)",
                        fence, n);
    if (o->link != SPK_OK) return spk_fail(o->link, "%s", dev->link_msg);
    if (o->err & SPK_ERR_STATUS_CODE_MASK) return reported_error(dev, o);
    return spk_ok();
}

/* The wait itself, with the lock held; between slices it lets other threads in. */
static spk_status dev_wait_locked(spk_device *dev, uint32_t fence, uint32_t timeout_ms) {
    if (fence == 0 || (int32_t)(fence - dev->next_fence) > 0)
        return spk_fail(SPK_E_ARG, "fence %u was never queued (last queued: %u)", fence,
                        dev->next_fence);
    collect(dev);
    const spk_backend_ops *ops = dev->be->ops;
    const uint64_t budget = (uint64_t)timeout_ms * dev->info.clock_khz;
    const double deadline = now_ms() + (double)timeout_ms * dev->info.slowdown;
    const uint64_t start = ops->time(dev->be);
    const uint32_t done_bit = 1u << SPK_INTR_STATE_DONE_BIT;
    while ((int32_t)(dev->collected - fence) < 0) {
        if (device_halted(dev)) return halted_error(dev);
        const uint64_t spent = ops->time(dev->be) - start;
        if (spent >= budget || now_ms() > deadline)
            /* The caller's patience ran out, not necessarily the firmware's: the device keeps
             * its state and a later wait continues. The watchdog stops a firmware that hangs. */
            return spk_fail(SPK_E_TIMEOUT,
                            "fence %u not complete after %u ms of device time (firmware running)",
                            fence, timeout_ms);
        /* DONE is raised after every command: clear it, then run until the next one. */
        spk_dev_reg_write(dev, SPK_INTR_STATE_REG_OFFSET, done_bit);
        const uint64_t left = budget - spent;
        switch (ops->wait(dev->be, done_bit, left < WAIT_SLICE_CYCLES ? left : WAIT_SLICE_CYCLES)) {
        case SPK_WAIT_HALTED:
            dev->halted = 1;
            return halted_error(dev);
        case SPK_WAIT_IDLE:
            collect(dev);
            if (device_halted(dev)) return halted_error(dev);
            /* Idle with the published command unfinished: it will never finish. */
            if (dev->collected != dev->published)
                return spk_fail(SPK_E_DEVICE, "firmware idle but fence %u never completed",
                                dev->published);
            break;
        default:
            collect(dev);
            break;
        }
        /* Another thread may be waiting on the same device: give it the lock for a moment. */
        spk_dev_unlock(dev);
        spk_dev_lock(dev);
    }
    return outcome_of(dev, fence);
}

spk_status spk_dev_wait(spk_device *dev, uint32_t fence, uint32_t timeout_ms) {
    spk_dev_lock(dev);
    spk_status st = dev_wait_locked(dev, fence, timeout_ms);
    spk_dev_unlock(dev);
    return st;
}

static spk_status dev_queue_locked(spk_device *dev, uint32_t opcode, uint32_t arg0, uint32_t arg1,
                                   uint32_t *fence) {
    if (device_halted(dev)) return halted_error(dev);
    /* In flight: written into the ring and not yet consumed by the firmware. */
    const uint32_t in_flight = dev->next_fence - reg(dev, SPK_RING_HEAD_REG_OFFSET);
    if (in_flight >= dev->ring_entries)
        return spk_fail(SPK_E_STATE, "command ring full (%u entries in flight)", in_flight);
    spk_ring_cmd cmd = {.opcode = opcode, .fence = dev->next_fence + 1, .arg0 = arg0, .arg1 = arg1};
    uint64_t at =
        dev->ring->addr + (uint64_t)(dev->next_fence % dev->ring_entries) * SPK_RING_ENTRY_BYTES;
    if (dram_write(dev, at, &cmd, sizeof(cmd)))
        return spk_fail(SPK_E_DEVICE, "command ring at 0x%llx not writable",
                        (unsigned long long)at);
    dev->next_fence = cmd.fence;
    publish_next(dev);
    *fence = cmd.fence;
    return spk_ok();
}

spk_status spk_dev_queue(spk_device *dev, uint32_t opcode, uint32_t arg0, uint32_t arg1,
                         uint32_t *fence) {
    spk_dev_lock(dev);
    spk_status st = dev_queue_locked(dev, opcode, arg0, arg1, fence);
    spk_dev_unlock(dev);
    return st;
}

/* ---- open / close ------------------------------------------------------------------------ */
/* Load the firmware's segments into the core's memories through the backend; the core starts
 * at the reset vector, so the entry point must be there. */
static spk_status load_firmware(spk_device *dev, const char *path) {
    const spk_fw_target target = {SPK_MEM_IMEM_BASE, SPK_MEM_IMEM_SIZE, SPK_MEM_DMEM_BASE,
                                  SPK_MEM_DMEM_SIZE,
                                  reg(dev, SPK_VERSION_REG_OFFSET) >> SPK_VERSION_MAJOR_OFFSET};
    spk_fw_image img;
    spk_status st = spk_fw_parse_file(path, &target, &img);
    if (st != SPK_OK) return st;
    if (img.entry != SPK_MEM_IMEM_BASE) {
        spk_fw_image_free(&img);
        return spk_fail(SPK_E_FW,
                        "firmware: entry point 0x%08x is not the core's reset vector 0x%08x",
                        img.entry, SPK_MEM_IMEM_BASE);
    }
    for (unsigned i = 0; i < img.nsegments && st == SPK_OK; i++)
        if (dev->be->ops->mem_write(dev->be, img.segments[i].addr, img.segments[i].data,
                                    img.segments[i].filesz))
            st = spk_fail(SPK_E_FW, "firmware: segment %u at 0x%08x could not be loaded", i,
                          img.segments[i].addr);
    dev->fw_info = img.info;
    spk_fw_image_free(&img);
    return st;
}

/* Release the core from reset and let the firmware reach its idle loop. */
static spk_status boot(spk_device *dev) {
    spk_dev_reg_write(dev, SPK_RING_BASE_REG_OFFSET, (uint32_t)dev->ring->addr);
    spk_dev_reg_write(dev, SPK_RING_SIZE_REG_OFFSET, dev->ring_entries);
    spk_dev_reg_write(dev, SPK_CTRL_REG_OFFSET, 1u << SPK_CTRL_RUN_BIT);
    spk_backend_wait w = dev->be->ops->wait(dev->be, 0, BOOT_CYCLES);
    if (w == SPK_WAIT_HALTED) {
        uint32_t err = reg(dev, SPK_ERR_STATUS_REG_OFFSET);
        return spk_fail(
            SPK_E_FW, "firmware faulted while booting: %s at pc 0x%08x",
            spk_iss_cause_str(err >> SPK_ERR_STATUS_CAUSE_OFFSET & SPK_ERR_STATUS_CAUSE_MASK),
            reg(dev, SPK_ERR_PC_REG_OFFSET));
    }
    if (w != SPK_WAIT_IDLE || !(reg(dev, SPK_STATUS_REG_OFFSET) & (1u << SPK_STATUS_FW_READY_BIT)))
        return spk_fail(SPK_E_FW, "firmware did not reach its idle loop within %u device cycles",
                        BOOT_CYCLES);
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

spk_status spk_device_close(spk_device *dev) {
    if (!dev) return spk_ok();
    if (!spk_dev_live(dev)) return spk_fail(SPK_E_STATE, "spk_device_close: device not open");
    registry_remove(dev);
    spk_attn_orphan_all(dev);
    if (dev->ring) spk_bo_free(dev->ring);
    for (spk_bo *bo = dev->bos; bo; bo = bo->next) bo->dev = NULL;
    if (dev->be) dev->be->ops->close(dev->be);
    pthread_mutex_destroy(&dev->lock);
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
    if (strlen(backend) >= sizeof(((spk_device *)0)->backend))
        return spk_fail(SPK_E_BACKEND, "unknown backend '%s' (known: %s)", backend,
                        spk_backend_names());

    spk_device *dev = calloc(1, sizeof(*dev));
    if (!dev) return spk_fail(SPK_E_NOMEM, "spk_device_open: out of memory");
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&dev->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    const spk_backend_config bc = {backend, dram, sim_config(opts), energy_path(opts)};
    spk_status st = spk_backend_open(&bc, &dev->be);
    if (st != SPK_OK) {
        pthread_mutex_destroy(&dev->lock);
        free(dev);
        return st;
    }
    dev->be->ops->info(dev->be, &dev->info);
    snprintf(dev->backend, sizeof(dev->backend), "%s", backend);
    dev->dram_bytes = dram;
    if (!registry_add(dev)) {
        dev->be->ops->close(dev->be);
        pthread_mutex_destroy(&dev->lock);
        free(dev);
        return spk_fail(SPK_E_NOMEM, "spk_device_open: too many open devices");
    }
    dev->ring_entries = RING_ENTRIES;
    st = spk_bo_alloc(dev, RING_ENTRIES * SPK_RING_ENTRY_BYTES, &dev->ring);
    if (st == SPK_OK) st = load_firmware(dev, fw);
    if (st == SPK_OK) st = boot(dev);
    if (st != SPK_OK) {
        char msg[SPK_ERROR_MAX];
        snprintf(msg, sizeof(msg), "%s", spk_last_error());
        spk_device_close(dev);
        return spk_fail(st, "%s", msg);
    }
    *out = dev;
    return spk_ok();
}

spk_status spk_device_link_stats(spk_device *dev, spk_link_stats *stats) {
    if (!dev || !stats) return spk_fail(SPK_E_ARG, "spk_device_link_stats: NULL argument");
    if (!spk_dev_live(dev)) return spk_fail(SPK_E_STATE, "spk_device_link_stats: device is closed");
    if (stats->size < sizeof(*stats))
        return spk_fail(SPK_E_ARG, "spk_device_link_stats: stats.size %zu, expected >= %zu",
                        stats->size, sizeof(*stats));
    const size_t size = stats->size;
    memset(stats, 0, sizeof(*stats));
    stats->size = size;
    spk_dev_lock(dev);
    const int rc = dev->be->ops->link_stats ? dev->be->ops->link_stats(dev->be, stats) : -1;
    spk_dev_unlock(dev);
    if (rc != 0)
        return spk_fail(SPK_E_BACKEND, "spk_device_link_stats: backend '%s' has no host link",
                        dev->backend);
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
    spk_dev_lock(dev);
    snprintf(info->backend, sizeof(info->backend), "%.*s", (int)sizeof(info->backend) - 1,
             dev->backend);
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
    spk_dev_unlock(dev);
    return spk_ok();
}
