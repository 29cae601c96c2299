/* Internal view of an attention context on the host: the device buffers it owns (KV cache
 * planes, queries, outputs, descriptors, the status record the device writes) and the host's
 * bookkeeping of its submissions. Its pruning state lives on the device. */
#ifndef SPK_DRIVER_ATTN_H
#define SPK_DRIVER_ATTN_H

#include "device.h"

typedef struct spk_kv_cache {
    spk_bo *k_msb, *k_lsb, *k_scales, *v_msb, *v_lsb, *v_scales;
    spk_bo *k_dim; /* the K MSB plane dimension-major (the select policy's first stage) */
} spk_kv_cache;

struct spk_attn {
    spk_device *dev; /* NULL once the device was closed */
    uint32_t id;     /* device context id (spk_fw_context_desc::context) */
    int opened;      /* the device created the context's pruning state */
    spk_attn_config cfg;
    uint32_t row_msb, row_lsb; /* plane row bytes */
    uint32_t row_dim;          /* bytes of one dimension row of k_dim: max_tokens MSB fields */
    spk_kv_cache *kv;          /* per layer */
    uint32_t *layer_tokens;    /* tokens in each layer's cache */
    uint32_t n_tokens;         /* tokens of the context (layer 0 of each step adds them) */
    spk_bo *q, *q_scales, *out, *out_exp, *desc, *ctx_desc, *status, *scratch;
    spk_bo *dump; /* CONTEXT_READ destination, allocated at the first spk_attn_read_pruning */
    uint32_t max_queries;
    struct spk_fence *pending_fence_obj; /* the one submission in flight */
    int pending;
    int have_output;
    uint64_t core_cycles, core_instret; /* of the last finished layer */
    uint32_t last_queries;
    uint32_t last_layer;
    uint32_t core_cycles_at_submit, core_instret_at_submit;
    spk_attn *next;
};

#endif
