/* The engine implementation interface: what differs between the emulated backends. The engine
 * front-end (engine.c) decodes the engine operations of the contract (docs/device.md, "Engine
 * operations"), keeps the contexts' pruning state and builds head requests; an implementation
 * executes the operations at the granularity the RTL has: one head request from device DRAM,
 * the importance bank (clear, read back) and the prune step's top-k. */
#ifndef SPKDEV_ENGINE_IMPL_H
#define SPKDEV_ENGINE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "spk/fw_abi.h"
#include "spksim/datapath.h"
#include "spksim/layer.h"

/* Device DRAM as the engine's read port sees it: 0, or -1 outside DRAM. */
typedef int (*spkdev_read_fn)(void *ctx, uint64_t addr, void *dst, uint32_t bytes);

/* Results of one head request. The caller provides out (d entries), probs and logits (n_keys
 * entries each; logits may be NULL when the implementation has none). */
typedef struct spkdev_head_result {
    int32_t *out;
    uint16_t *probs;
    int32_t *logits;
    int32_t out_exp;
    uint64_t head_importance;
    spk_head_events ev;  /* keys/values fetched, requant, traffic (the golden model's rule) */
    uint64_t dram_bytes; /* bytes the engine read from DRAM for this request */
    uint64_t cycles;     /* engine clock cycles (0 when not modelled per request) */
} spkdev_head_result;

typedef struct spkdev_engine_impl spkdev_engine_impl;
struct spkdev_engine_impl {
    const char *name;
    uint32_t max_keys;    /* keys per request (PARAM_MAX_KEYS) */
    uint32_t max_d;       /* head dimension (PARAM_MAX_D) */
    uint32_t bank_heads;  /* head entries of the importance bank */
    uint32_t bank_tokens; /* token entries of the importance bank (tokens < this) */
    int has_logits;       /* 1: head() returns the final logits (the last-step policy needs them) */
    int has_select;       /* 1: executes the select policy's scoring stage (the C engines) */
    uint32_t slowdown;    /* spkdev_slowdown() */
    /* Set by the front-end before each layer_begin: 1 when the implementation may keep the K/V
     * rows it unpacked for the requests of one layer (nothing observes its reads, no access
     * trace, and the device's own DRAM cannot change during the layer), a host-side shortcut
     * that changes no result. */
    int reuse_rows;
    /* One head request. 0, or -1 with a message in err. */
    int (*head)(spkdev_engine_impl *impl, const spk_eng_head_req *req, spkdev_head_result *res,
                char *err, size_t err_len);
    /* Clear the importance bank (tokens and heads). */
    int (*imp_clear)(spkdev_engine_impl *impl, char *err, size_t err_len);
    /* Bank entry: token t at t, head h at bank_tokens + h. */
    int (*imp_read)(spkdev_engine_impl *impl, uint32_t index, uint64_t *value);
    /* Add the importance bank's entries (tokens 0..n_tokens-1, heads 0..n_heads-1) to the
     * context's accumulated importance in @p state (LAYER_END). NULL: the front-end adds them
     * with the golden saturating rule. */
    int (*accumulate)(spkdev_engine_impl *impl, spk_prune_state *state, uint32_t n_tokens,
                      uint32_t n_heads, char *err, size_t err_len);
    /* The prune step on @p state (NULL: the implementation has no prune unit, the front-end
     * refuses PRUNE operations that would remove anything). */
    int (*prune)(spkdev_engine_impl *impl, spk_prune_state *state, spk_keep tokens, spk_keep heads,
                 const spk_prune_window *window, char *err, size_t err_len);
    /* Layer boundaries: the layer's head configuration (what every request of the layer
     * shares), its index and tokens; the end returns the layer's cycles when the
     * implementation times whole layers (sim; else 0) and its energy in pJ (-1: not priced).
     * layer_end may be NULL. */
    void (*layer_begin)(spkdev_engine_impl *impl, const spk_head_config *cfg, uint32_t layer,
                        uint32_t n_tokens);
    int (*layer_end)(spkdev_engine_impl *impl, uint64_t *cycles, double *energy_pj);
    /* The select policy's scoring stage of one (K/V head, query): the rows it read and the
     * top-k over their scores, for an implementation that times the layer (sim); @p head is the
     * group's first query head. May be NULL. 0, or -1. */
    int (*select_timing)(spkdev_engine_impl *impl, const spk_select_events *ev, uint32_t head);
    void (*destroy)(spkdev_engine_impl *impl);
};

/* The golden datapath ("model"), and with cycle-simulator timing ("sim"; @p sim_trace: a device
 * trace file to write, or NULL). NULL + err. */
spkdev_engine_impl *spkdev_engine_model_create(spkdev_read_fn read, void *read_ctx,
                                               const char *sim_config, const char *energy_path,
                                               const char *sim_trace, int timed, char *err,
                                               size_t err_len);
/* The Verilated engine ("rtl": spk_engine, "rtl-compact": spk_engine_compact, "rtl-ovl":
 * spk_engine_ovl) loaded from the
 * plugin. NULL + err (for example: plugin not built, Verilator absent). */
spkdev_engine_impl *spkdev_engine_rtl_create(spkdev_read_fn read, void *read_ctx,
                                             const char *variant, const char *plugin,
                                             const char *trace, char *err, size_t err_len);
/* A board behind the UART bridge ("fpga", engine_fpga.c); @p spec is what follows "fpga:" in
 * the backend name (PORT[,baud=N][,timeout_ms=N][,retries=N]). NULL + err. */
spkdev_engine_impl *spkdev_engine_fpga_create(spkdev_read_fn read, void *read_ctx, const char *spec,
                                              char *err, size_t err_len);

#endif
