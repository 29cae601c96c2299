/* The engine behind the ENG_* registers: executes the operations the firmware launches, with the
 * golden datapath model doing the arithmetic (so every backend is bit-exact with spk-attn). */
#ifndef SPK_DRIVER_ENGINE_H
#define SPK_DRIVER_ENGINE_H

#include <stdint.h>

#include "spksim/layer.h"
#include "timing.h"

typedef struct spk_device spk_device;
typedef struct spk_attn spk_attn;

/* Where the engine is in a layer's operation sequence. */
enum spk_engine_phase {
    ENG_IDLE = 0,  /* no layer: only LAYER_BEGIN is accepted */
    ENG_OPEN = 1,  /* after LAYER_BEGIN: HEAD and LAYER_END */
    ENG_ENDED = 2, /* after LAYER_END: PRUNE (or the next LAYER_BEGIN) */
};

/* State of the layer being executed (from LAYER_BEGIN to PRUNE). */
typedef struct spk_engine {
    int in_layer; /* enum spk_engine_phase */
    spk_attn *ctx;
    spk_head_config cfg;
    spk_layer_desc layer; /* pointers into device DRAM */
    uint32_t kv_stride;
    uint32_t layer_index;
    int32_t *out;
    int32_t *out_exp;
    uint32_t *alive;   /* per K/V head: the token indices it fetches, ascending (capacity each) */
    uint32_t *n_alive; /* per K/V head: entries of its list */
    uint16_t *probs;
    uint32_t *v_keys;
    int32_t *logits;    /* one request's final logits */
    int64_t *score_add; /* per K/V head: the layer's summed logits (last-step policy) */
    uint64_t *token_add;
    uint64_t *head_add;
    uint32_t capacity;      /* entries of the token arrays above (per K/V head for the lists) */
    uint32_t head_capacity; /* entries of head_add */
    uint32_t kv_capacity;   /* entries of n_alive: lists of alive and score_add */
    spk_layer_stats stats;
    uint32_t status;    /* ENG_STATUS value */
    spk_timing *timing; /* sim backend only */
    uint64_t cycles;    /* engine cycles of the last finished layer (sim backend) */
    double energy_pj;   /* its energy, pJ (-1: not priced) */
} spk_engine;

/* Execute ENG_CMD (write of @p cmd); sets dev->engine.status. */
void spk_engine_command(spk_device *dev, uint32_t cmd);
/* Release the engine's buffers. */
void spk_engine_release(spk_engine *eng);

#endif
