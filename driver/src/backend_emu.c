/* The emulated backends: "model", "sim", "rtl", "rtl-compact" and "rtl-ovl" all run the emulated
 * device (device/, spkdev/emu.h) and differ only in its engine implementation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "error.h"
#include "spk/regs.h"
#include "spkdev/emu.h"
#include "spkdev/fpga.h"

typedef struct emu_backend {
    spk_backend base;
    spkdev *dev;
    uint64_t dram_bytes;
} emu_backend;

static spkdev *dev_of(spk_backend *b) {
    return ((emu_backend *)b)->dev;
}

static uint32_t emu_reg_read(spk_backend *b, uint32_t offset) {
    return spkdev_reg_read(dev_of(b), offset);
}

static void emu_reg_write(spk_backend *b, uint32_t offset, uint32_t value) {
    spkdev_reg_write(dev_of(b), offset, value);
}

static int emu_mem_read(spk_backend *b, uint64_t addr, void *dst, size_t bytes) {
    return spkdev_mem_read(dev_of(b), addr, dst, bytes);
}

static int emu_mem_write(spk_backend *b, uint64_t addr, const void *src, size_t bytes) {
    return spkdev_mem_write(dev_of(b), addr, src, bytes);
}

static spk_backend_wait emu_wait(spk_backend *b, uint32_t intr_mask, uint64_t max_cycles) {
    switch (spkdev_run(dev_of(b), intr_mask, max_cycles)) {
    case SPKDEV_RUN_EVENT:
        return SPK_WAIT_EVENT;
    case SPKDEV_RUN_IDLE:
        return SPK_WAIT_IDLE;
    case SPKDEV_RUN_HALTED:
        return SPK_WAIT_HALTED;
    default:
        return SPK_WAIT_TIMEOUT;
    }
}

static uint64_t emu_time(spk_backend *b) {
    return spkdev_time(dev_of(b));
}

static void emu_info(spk_backend *b, spk_backend_info *info) {
    spkdev *dev = dev_of(b);
    const char *name = spkdev_engine_name(dev);
    info->name = name;
    info->kind = strcmp(name, "model") == 0  ? "functional"
                 : strcmp(name, "sim") == 0  ? "timed"
                 : strcmp(name, "fpga") == 0 ? "FPGA"
                                             : "RTL";
    info->clock_khz = spkdev_reg_read(dev, SPK_PARAM_CLOCK_KHZ_REG_OFFSET);
    info->slowdown = spkdev_slowdown(dev);
    info->dram_bytes = ((emu_backend *)b)->dram_bytes;
}

static void emu_close(spk_backend *b) {
    if (!b) return;
    /* $SPK_FPGA_REPORT: what a board's link moved, one line on stderr at close (docs/fpga.md). */
    spkdev_fpga_stats fs;
    const char *report = getenv("SPK_FPGA_REPORT");
    if (report && *report && spkdev_fpga_get_stats(dev_of(b), &fs) == 0)
        fprintf(stderr,
                "spk fpga: %llu head requests; link %llu bytes sent, %llu received, %llu frames, "
                "%llu retries; %llu operand bytes staged, %llu already on the board\n",
                (unsigned long long)fs.requests, (unsigned long long)fs.tx_bytes,
                (unsigned long long)fs.rx_bytes, (unsigned long long)fs.frames,
                (unsigned long long)fs.retries, (unsigned long long)fs.staged_bytes,
                (unsigned long long)fs.skipped_bytes);
    spkdev_destroy(dev_of(b));
    free(b);
}

/* The sim backend's device trace (docs/simulator.md, "Device traces"): $SPK_SIM_TRACE, as the
 * rtl backend's waveform is $SPK_RTL_TRACE. */
static const char *sim_trace_path(void) {
    const char *p = getenv("SPK_SIM_TRACE");
    return p && *p ? p : NULL;
}

/* A board's link counters (the fpga engine); -1 for the emulated engines, which have no link. */
static int emu_link_stats(spk_backend *b, spk_link_stats *s) {
    spkdev_fpga_stats fs;
    if (spkdev_fpga_get_stats(dev_of(b), &fs) != 0) return -1;
    s->tx_bytes = fs.tx_bytes;
    s->rx_bytes = fs.rx_bytes;
    s->frames = fs.frames;
    s->retries = fs.retries;
    s->resyncs = fs.resyncs;
    s->staged_bytes = fs.staged_bytes;
    s->skipped_bytes = fs.skipped_bytes;
    s->requests = fs.requests;
    return 0;
}

static const spk_backend_ops emu_ops = {emu_reg_read,  emu_reg_write, emu_mem_read,
                                        emu_mem_write, emu_wait,      emu_time,
                                        emu_info,      emu_close,     emu_link_stats};

static const char *const emu_names[] = {"model", "sim", "rtl", "rtl-compact", "rtl-ovl"};

const char *spk_backend_names(void) {
    return "model sim rtl rtl-compact rtl-ovl systemc systemc-rtl fpga:PORT";
}

spk_status spk_backend_fault(spk_backend *b, char *msg, size_t len) {
    if (!b || b->ops != &emu_ops) return SPK_OK;
    switch (spkdev_fpga_take_failure(dev_of(b), msg, len)) {
    case SPKDEV_FPGA_IO:
        return SPK_E_IO;
    case SPKDEV_FPGA_TIMEOUT:
        return SPK_E_TIMEOUT;
    case SPKDEV_FPGA_LIMIT:
        return SPK_E_BACKEND;
    case SPKDEV_FPGA_REFUSED:
        return SPK_E_DEVICE;
    default:
        return SPK_OK;
    }
}

spk_status spk_backend_systemc_open(const spk_backend_config *cfg, spk_backend **out);

spk_status spk_backend_open(const spk_backend_config *cfg, spk_backend **out) {
    *out = NULL;
    if (strcmp(cfg->name, "systemc") == 0 || strcmp(cfg->name, "systemc-rtl") == 0)
        return spk_backend_systemc_open(cfg, out);
    int known = 0;
    for (size_t i = 0; i < sizeof(emu_names) / sizeof(emu_names[0]); i++)
        known |= strcmp(cfg->name, emu_names[i]) == 0;
    const int fpga = strncmp(cfg->name, "fpga:", 5) == 0; /* the engine parses the rest */
    known |= fpga;
    if (!known)
        return spk_fail(SPK_E_BACKEND, "unknown backend '%s' (known: %s)", cfg->name,
                        spk_backend_names());
    emu_backend *b = calloc(1, sizeof(*b));
    if (!b) return spk_fail(SPK_E_NOMEM, "spk_device_open: out of memory");
    const spkdev_config dc = {.size = sizeof(dc),
                              .engine = cfg->name,
                              .dram_bytes = cfg->dram_bytes,
                              .sim_config = cfg->sim_config,
                              .energy_path = cfg->energy_path,
                              .rtl_plugin = getenv("SPK_RTL_PLUGIN"),
                              .rtl_trace = getenv("SPK_RTL_TRACE"),
                              .sim_trace = sim_trace_path()};
    char err[512] = "";
    b->dev = spkdev_create(&dc, err, sizeof(err));
    if (!b->dev) {
        free(b);
        /* A board that does not answer is an I/O failure or a timeout, not a wrong name. */
        const spkdev_fpga_fail why = fpga ? spkdev_fpga_open_failure() : SPKDEV_FPGA_OK;
        return spk_fail(why == SPKDEV_FPGA_TIMEOUT ? SPK_E_TIMEOUT
                        : why == SPKDEV_FPGA_IO    ? SPK_E_IO
                                                   : SPK_E_BACKEND,
                        "backend '%s': %s", cfg->name, err);
    }
    b->base.ops = &emu_ops;
    b->dram_bytes = cfg->dram_bytes;
    *out = &b->base;
    return SPK_OK;
}
