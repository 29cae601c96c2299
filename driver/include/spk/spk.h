/**
 * @file spk.h
 * @brief libspk: the host driver of the spatten-kit attention accelerator.
 *
 * A program opens a device by backend name, allocates buffer objects in the device address
 * space, creates an attention context (KV cache, quantization profile, pruning state) and
 * submits layers; each submission returns a fence that is waited on with a bounded timeout.
 * The device runs the control-core firmware (loaded from an ELF) on every backend.
 *
 * Conventions: every function returns an ::spk_status; on failure the calling thread's
 * spk_last_error() names the problem. Structs passed in carry their own size (set
 * `.size = sizeof(struct)`), so later versions can add fields. Handles are opaque. A NULL or
 * absurd argument gives ::SPK_E_ARG and touches no hardware; so does a handle that is not live
 * (freed, freed twice, or never returned by libspk): the driver keeps a registry of its handles
 * and never follows such a pointer. Objects must be freed before the
 * device that owns them is closed; using a handle after its device was closed gives
 * ::SPK_E_STATE. docs/driver.md is the guide.
 *
 * Threads: a device may be shared by threads. Every call on a device, its buffer objects and its
 * contexts is serialized by the device's lock, and a spk_fence_wait lets other threads use the
 * device between its slices, so several threads can each submit to and wait on their own
 * contexts at the same time. A context, its buffers and its fences belong to one thread at a
 * time (use them from two threads only with your own locking), and spk_device_close must not
 * race with any other call on that device. spk_last_error() is per thread.
 */
#ifndef SPK_SPK_H
#define SPK_SPK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Result of every libspk call. */
typedef enum spk_status {
    SPK_OK = 0,         /**< success */
    SPK_E_ARG = -1,     /**< NULL, out-of-range or inconsistent argument */
    SPK_E_NOMEM = -2,   /**< host or device memory exhausted */
    SPK_E_BACKEND = -3, /**< unknown or unavailable backend */
    SPK_E_FW = -4,      /**< firmware ELF refused (wrong class, machine, layout, version) */
    SPK_E_TIMEOUT = -5, /**< a bounded wait expired (the firmware did not complete) */
    SPK_E_DEVICE = -6,  /**< the device reported an error (firmware fault, rejected command) */
    SPK_E_RANGE = -7,   /**< a device address or size outside the allocated buffers */
    SPK_E_STATE = -8,   /**< the object is in the wrong state (closed device, busy, ...) */
    SPK_E_IO = -9,      /**< a file could not be read */
} spk_status;

/** @brief Short English name of a status code ("invalid argument", ...). */
const char *spk_status_str(spk_status status);

/**
 * @brief Detailed message of the last failure on this thread, e.g.
 * "firmware: segment 1 [0x20000000, +0x100) outside instruction and data memory".
 * Empty string when the last call succeeded.
 */
const char *spk_last_error(void);

/** @brief An open device. */
typedef struct spk_device spk_device;
/** @brief A buffer object in device memory. */
typedef struct spk_bo spk_bo;
/** @brief An attention context. */
typedef struct spk_attn spk_attn;
/** @brief Completion of one submission. */
typedef struct spk_fence spk_fence;

/** @brief Options of spk_device_open(); a NULL pointer means all defaults. */
typedef struct spk_device_options {
    size_t size;               /**< sizeof(spk_device_options) */
    const char *firmware_path; /**< firmware ELF; NULL: $SPK_FIRMWARE, else the installed one */
    uint64_t dram_bytes;       /**< device DRAM to model; 0: 256 MiB */
    const char *energy_path;   /**< sim: energy constants; NULL: $SPK_ENERGY, else the installed
                                    share/spk/energy.cfg if present, else no energy figures */
    /* Added in driver 1.2 (a smaller .size ends before this field; it then takes its default). */
    const char *sim_config; /**< sim: cycle-simulator configuration, a preset name ("eighth",
                                 "full", "rtl-engine") or a key = value file (docs/simulator.md);
                                 NULL: $SPK_SIM_CONFIG, else "eighth" */
} spk_device_options;

/** @brief options.size of a spk_device_options without the 1.2 field sim_config (accepted). */
#define SPK_DEVICE_OPTIONS_SIZE_V1_1 offsetof(spk_device_options, sim_config)

/**
 * @brief Open a device.
 * @param backend "model" (functional), "sim" (functional + timing statistics); NULL or "" uses
 *                $SPK_BACKEND, else "model". Other names give ::SPK_E_BACKEND.
 * @param options NULL or options with .size set.
 * @param out     receives the device.
 */
spk_status spk_device_open(const char *backend, const spk_device_options *options,
                           spk_device **out);
/** @brief Close a device (NULL is fine); its buffer objects and contexts become unusable. */
spk_status spk_device_close(spk_device *dev);

/** @brief Device description, read from the ID/capability registers and the firmware. */
typedef struct spk_device_info {
    size_t size;               /**< sizeof(spk_device_info), set by the caller */
    char backend[16];          /**< backend name */
    uint32_t id;               /**< ID register */
    uint32_t version_major;    /**< register map major version */
    uint32_t version_minor;    /**< register map minor version */
    uint32_t caps;             /**< CAPS register bits */
    uint32_t multipliers_qk;   /**< QK multipliers */
    uint32_t multipliers_pv;   /**< PV multipliers */
    uint32_t topk_parallelism; /**< top-k comparators per cycle */
    uint32_t dram_channels;    /**< DRAM channels */
    uint32_t max_head_dim;     /**< largest head dimension */
    uint32_t max_keys;         /**< largest keys per request */
    uint64_t dram_bytes;       /**< device DRAM size */
    uint32_t fw_version;       /**< firmware release, major << 16 | minor */
    char fw_name[32];          /**< firmware build name */
} spk_device_info;

/** @brief Fill @p info (set info->size first). */
spk_status spk_device_query(spk_device *dev, spk_device_info *info);

/** @brief What a board's host link has moved since the device was opened (since 1.4). */
typedef struct spk_link_stats {
    size_t size;            /**< sizeof(spk_link_stats), set by the caller */
    uint64_t tx_bytes;      /**< bytes sent over the link (frames and retries included) */
    uint64_t rx_bytes;      /**< bytes received */
    uint64_t frames;        /**< request frames sent */
    uint64_t retries;       /**< frames sent again (a NAK, or a lost answer to a repeatable one) */
    uint64_t resyncs;       /**< resynchronisations of the link */
    uint64_t staged_bytes;  /**< payload written into board memory (descriptors, operands) */
    uint64_t skipped_bytes; /**< operand bytes not sent because the board already held them */
    uint64_t requests;      /**< head requests run on the board */
} spk_link_stats;

/**
 * @brief Fill @p stats (set stats->size first) with the link counters of a device reached over a
 * link (the `fpga:PORT` backend, docs/fpga.md). ::SPK_E_BACKEND for a device without one (every
 * other backend).
 */
spk_status spk_device_link_stats(spk_device *dev, spk_link_stats *stats);

/** @brief Allocate @p bytes (> 0) of device memory, zeroed. */
spk_status spk_bo_alloc(spk_device *dev, size_t bytes, spk_bo **out);
/** @brief Free a buffer object (NULL is fine). */
spk_status spk_bo_free(spk_bo *bo);
/** @brief Host pointer to the buffer's host copy (valid until spk_bo_free). */
spk_status spk_bo_map(spk_bo *bo, void **ptr);

/** @brief Direction of spk_bo_sync(). */
typedef enum spk_sync_dir {
    SPK_SYNC_TO_DEVICE = 1,   /**< host copy -> device memory */
    SPK_SYNC_FROM_DEVICE = 2, /**< device memory -> host copy */
} spk_sync_dir;

/** @brief Copy [offset, offset + bytes) between the host copy and device memory. */
spk_status spk_bo_sync(spk_bo *bo, spk_sync_dir dir, size_t offset, size_t bytes);
/** @brief Device address of the buffer (for diagnostics). */
spk_status spk_bo_device_addr(const spk_bo *bo, uint64_t *addr);

/** @brief Configuration of an attention context. */
typedef struct spk_attn_config {
    size_t size;                /**< sizeof(spk_attn_config) */
    uint32_t n_layers;          /**< layers sharing the pruning state */
    uint32_t n_heads;           /**< query heads */
    uint32_t n_kv_heads;        /**< K/V heads (divides n_heads; 0 means n_heads) */
    uint32_t head_dim;          /**< head dimension */
    uint32_t max_tokens;        /**< KV cache capacity in tokens */
    uint32_t msb_bits;          /**< quantization profile: K/V MSB plane bits (2..12) */
    uint32_t lsb_bits;          /**< K/V LSB plane bits (msb + lsb <= 12) */
    uint32_t requant_threshold; /**< UQ0.16 max probability below which LSBs are refetched */
    uint32_t v_keep_q16;        /**< local V keep ratio UQ0.16 (65536 keeps all) */
} spk_attn_config;

/** @brief Create a context on @p dev. */
spk_status spk_attn_create(spk_device *dev, const spk_attn_config *config, spk_attn **out);
/** @brief Destroy a context (NULL is fine). */
spk_status spk_attn_destroy(spk_attn *attn);

/**
 * @brief One layer submission. Inputs are floats; the driver quantizes them by the golden
 * model's rules (Q to 12 bits, K/V to msb_bits + lsb_bits). Layouts are row-major:
 * q [n_heads][n_queries][head_dim], k_new and v_new [n_kv_heads][n_new_tokens][head_dim].
 * New tokens are appended to the layer's KV cache; in layer 0 they also join the pruning state,
 * so every layer of a step must pass the same n_new_tokens. The layer computes with the tokens
 * and heads still alive; the keep fields are cascade pruning applied after it (what later layers
 * and steps see), as spk-attn's --token-keep/--token-count/--head-keep/--head-count.
 */
typedef struct spk_layer_submit {
    size_t size;               /**< sizeof(spk_layer_submit) */
    uint32_t layer;            /**< layer index, < n_layers */
    uint32_t n_queries;        /**< query vectors per head (>= 1) */
    uint32_t n_new_tokens;     /**< tokens appended this step */
    uint32_t causal;           /**< 1: query i sees the first n_tokens - n_queries + i + 1 */
    const float *q;            /**< queries */
    const float *k_new;        /**< new keys */
    const float *v_new;        /**< new values */
    uint32_t token_keep_count; /**< policy: tokens kept after this layer (0: use the ratio) */
    uint32_t token_keep_q16;   /**< policy: token keep ratio UQ0.16 (0 or 65536: keep all) */
    uint32_t head_keep_count;  /**< policy: heads kept (0: use the ratio) */
    uint32_t head_keep_q16;    /**< policy: head keep ratio UQ0.16 (0 or 65536: keep all) */
    /* Since 1.1 (a submit.size without them reads as 0): protection windows and head groups of
     * the cascade pruning step (docs/spec/datapath.md, "Recent-window protection"). */
    uint32_t token_sinks;  /**< the first token_sinks tokens are never pruned */
    uint32_t token_recent; /**< the last token_recent tokens of the context are never pruned */
    uint32_t head_group;   /**< prune heads in whole groups of this many (GQA: n_heads /
                                n_kv_heads); 0 or 1: head by head */
    /* Since 1.2 (a submit.size without them reads as 0): the token scoring policy of the
     * pruning step after this layer (docs/spec/datapath.md, "Last-step per-head policy"). */
    uint32_t token_policy;    /**< ::spk_token_policy; 0 is the accumulated policy */
    uint32_t token_important; /**< SPK_TOKEN_POLICY_LAST_STEP: keep the token_sinks first, the
                                   token_recent last and this many top-scored other tokens per
                                   (layer, K/V head); 0: the keep count or ratio above is that
                                   whole budget (a ratio is of the tokens in the context) */
    /* Since 1.5 (a submit.size without them reads as 0): the budget and scoring of
     * SPK_TOKEN_POLICY_SELECT (docs/spec/datapath.md, "Per-step selection policy"). */
    uint32_t select_count;    /**< SPK_TOKEN_POLICY_SELECT: keys each K/V head and query fetches
                                   this step, token_sinks and token_recent included (0: use
                                   select_q16) */
    uint32_t select_q16;      /**< ... or that budget as a ratio UQ0.16 (1..65536) of the keys
                                   the query could fetch */
    uint32_t select_scoring;  /**< ::spk_scoring: the logits that rank the other keys */
    uint32_t select_dims;     /**< a first stage (SparQ-like): approximate scores at the largest
                                   select_dims dimensions of the group's |q|, from the device's
                                   dimension-major copy of the K MSB plane; 0: none */
    uint32_t select_cand_x16; /**< with a first stage: its best ceil(budget * this / 16) go on
                                   to select_scoring (>= 16); 0: select by the first stage */
} spk_layer_submit;

/** @brief Scoring stages of SPK_TOKEN_POLICY_SELECT (spk_layer_submit::select_scoring). */
typedef enum spk_scoring {
    SPK_SCORING_EXACT = 0, /**< logits of the full codes (reads both K planes of the others) */
    SPK_SCORING_MSB = 1,   /**< logits of the K MSB plane (reads that plane of the others) */
    /** Since 1.6: as EXACT, the final ranking by the sum of the group's softmax probabilities
     * over the ranked keys instead of their logits (no more reads) */
    SPK_SCORING_EXACT_PROBS = 2,
    SPK_SCORING_MSB_PROBS = 3, /**< since 1.6: as MSB, with the probability sum */
    /** Since 1.7, a flag on any of the above: the head requests take the selected keys' MSB-pass
     * logits from the scoring stage's dot products instead of reading those K MSB rows and
     * scale words again (docs/spec/datapath.md, "Held rows": fewer bytes, the same numbers) */
    SPK_SCORING_HOLD = 4,
} spk_scoring;

/** @brief Token scoring policies of spk_layer_submit::token_policy. */
typedef enum spk_token_policy {
    /** The paper's: one token set for the context, accumulated post-softmax importance; a
     * pruned token is gone for every layer and later step. */
    SPK_TOKEN_POLICY_ACCUMULATED = 0,
    /** MIT's released SpAtten-LLM: each (layer, K/V head) keeps its own tokens, ranked by the
     * sum of its query heads' pre-softmax logits in this layer's last run. */
    SPK_TOKEN_POLICY_LAST_STEP = 1,
    /** Nothing evicted (since 1.5): every head request of this layer fetches the keys its K/V
     * head selects for this step by this step's query (token_sinks, token_recent and the best
     * scored others up to the select budget); the keep step after the layer is the
     * accumulated one. Devices without a scoring stage (rtl, rtl-compact, rtl-ovl, fpga) refuse it.
     */
    SPK_TOKEN_POLICY_SELECT = 2,
} spk_token_policy;

/** @brief submit.size of a spk_layer_submit without the 1.1 fields (still accepted). */
#define SPK_LAYER_SUBMIT_SIZE_V1 offsetof(spk_layer_submit, token_sinks)
/** @brief submit.size of a spk_layer_submit without the 1.2 fields (still accepted). */
#define SPK_LAYER_SUBMIT_SIZE_V1_1 offsetof(spk_layer_submit, token_policy)
/** @brief submit.size of a spk_layer_submit without the 1.5 fields (still accepted). */
#define SPK_LAYER_SUBMIT_SIZE_V1_2 offsetof(spk_layer_submit, select_count)

/** @brief Queue one layer; @p fence receives its fence (free with spk_fence_free). */
spk_status spk_attn_submit(spk_attn *attn, const spk_layer_submit *submit, spk_fence **fence);

/**
 * @brief Wait until the fence's submission completed, at most @p timeout_ms milliseconds (device
 * time at 1 GHz or host time, whichever ends first). ::SPK_E_TIMEOUT if it did not finish yet:
 * the device keeps running and the fence can be waited on again. A firmware that makes no
 * progress is stopped by the device watchdog: ::SPK_E_TIMEOUT naming the watchdog and the core's
 * PC, and the device is halted. ::SPK_E_DEVICE with spk_last_error() naming the fault and its PC
 * if the firmware trapped or rejected the command.
 */
spk_status spk_fence_wait(spk_fence *fence, uint32_t timeout_ms);
/** @brief Free a fence (NULL is fine). */
spk_status spk_fence_free(spk_fence *fence);

/** @brief Statistics of the last completed layer of a context. */
typedef struct spk_attn_stats {
    size_t size;               /**< sizeof(spk_attn_stats), set by the caller */
    uint32_t layer;            /**< layer index */
    uint32_t heads_computed;   /**< heads alive in the layer */
    uint32_t tokens_alive;     /**< tokens alive in the layer */
    uint64_t requests;         /**< head requests */
    uint64_t keys_fetched;     /**< K rows fetched */
    uint64_t values_fetched;   /**< V rows fetched */
    uint64_t requant_requests; /**< requests that refetched LSBs */
    uint64_t dram_bytes;       /**< DRAM bytes moved by the engine */
    uint64_t core_cycles;      /**< control-core cycles spent on the layer */
    uint64_t core_instret;     /**< control-core instructions spent on the layer */
    uint64_t engine_cycles;    /**< engine cycles (sim backend; 0 on model) */
    uint32_t has_energy;       /**< 1 if energy_pj is valid (sim backend with energy constants) */
    double energy_pj;          /**< engine + DRAM energy of the layer, picojoules */
} spk_attn_stats;

/**
 * @brief Read the output of the last completed layer: [n_heads][n_queries][head_dim] floats
 * (pruned heads give zeros). @p count must be that many elements.
 */
spk_status spk_attn_read_output(spk_attn *attn, float *out, size_t count);
/** @brief Statistics of the last completed layer (set stats->size first). */
spk_status spk_attn_read_stats(spk_attn *attn, spk_attn_stats *stats);
/** @brief Tokens and heads still alive in the pruning state. */
spk_status spk_attn_alive(spk_attn *attn, uint32_t *tokens, uint32_t *heads);

/**
 * @brief The device's pruning state of a context (since 1.3): importance and liveness read back
 * from the engine (a CONTEXT_READ command). Every array pointer may be NULL (not wanted); the
 * arrays have max_tokens (tokens), n_heads (heads) and n_layers * n_kv_heads * max_tokens
 * (per-(layer, K/V head) sets, layer-major) entries; entries past n_tokens are 0.
 */
typedef struct spk_attn_pruning {
    size_t size;                /**< sizeof(spk_attn_pruning) */
    uint32_t n_tokens;          /**< out: tokens in the context */
    uint64_t *token_importance; /**< accumulated token importance (spec "Importance") */
    uint8_t *token_alive;       /**< 1: the token is alive */
    uint64_t *head_importance;  /**< accumulated head importance */
    uint8_t *head_alive;        /**< 1: the head is alive */
    uint8_t *kv_alive; /**< the last-step policy's per-(layer, K/V head) token sets (all 1 under the
                            accumulated policy) */
} spk_attn_pruning;

/** @brief Read the pruning state (no submission may be in flight on the context). */
spk_status spk_attn_read_pruning(spk_attn *attn, spk_attn_pruning *pruning);

#ifdef __cplusplus
}
#endif

#endif
