/* Internal view of an attention context (shared by attn.c and the engine). */
#ifndef SPK_DRIVER_ATTN_H
#define SPK_DRIVER_ATTN_H

#include "device.h"
#include "spksim/layer.h"

typedef struct spk_kv_cache {
    spk_bo *k, *k_scales, *v, *v_scales;
} spk_kv_cache;

struct spk_attn {
    spk_device *dev; /* NULL once the device was closed */
    uint32_t id;     /* engine context id (spk_fw_layer_desc::context) */
    spk_attn_config cfg;
    spk_prune_state *prune;
    spk_workspace *ws;
    spk_kv_cache *kv;       /* per layer */
    uint32_t *layer_tokens; /* tokens in each layer's cache */
    spk_bo *q, *q_scales, *out, *out_exp, *desc;
    uint32_t max_queries;
    struct spk_fence *pending_fence_obj; /* the one submission in flight */
    int pending;
    int have_output;
    uint64_t core_cycles, core_instret, engine_cycles; /* of the last finished layer */
    double energy_pj;                                  /* -1: not priced */
    uint32_t last_queries;
    spk_layer_stats engine_stats; /* golden counters of the last finished layer */
    uint32_t last_layer;
    uint64_t core_cycles_at_submit, core_instret_at_submit;
    spk_attn *next;
};

#endif
