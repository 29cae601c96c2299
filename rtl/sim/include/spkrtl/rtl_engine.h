/**
 * @file rtl_engine.h
 * @brief The RTL engine plugin (libspk-rtl.so): head requests run by the Verilated engine tops.
 *
 * The plugin wraps the Verilated spk_engine ("full"), spk_engine_compact ("compact") and
 * spk_engine_ovl ("ovl") models (rtl/engine/, docs/rtl.md "Engine top", "Compact engine",
 * "Overlapped engine") with an AXI4 read slave over a
 * caller's memory callback (rtl/sim/axi_mem.h). It is a shared object so that programs that
 * never use it do not need the Verilator runtime: dlopen() it and call its one exported symbol,
 * spk_rtl_api_v1(), for the function table. C11 and C++.
 *
 * Engine parameters (every variant, fixed when the plugin is built): DMAX 64, NMAX 512,
 * NTOK 1024, NHEAD 16, QDEPTH 4; spk_rtl_api::params() reports them.
 *
 * An engine is not thread-safe: one thread at a time per engine (engines are independent).
 */
#ifndef SPKRTL_RTL_ENGINE_H
#define SPKRTL_RTL_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "spk/fw_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Version of the function table spk_rtl_api_v1() returns (2: the prune unit entries). */
#define SPK_RTL_API_VERSION 2u
/** Name of the plugin's one exported symbol (for dlsym). */
#define SPK_RTL_API_SYMBOL "spk_rtl_api_v1"

/** @brief One Verilated engine with its memory model and clock. */
typedef struct spk_rtl_engine spk_rtl_engine;

/**
 * @brief Device memory behind the engine's AXI4 read port: copy @p bytes bytes at device
 * address @p addr into @p dst; return 0, or -1 for an address the device cannot serve
 * (answered with SLVERR: the request still runs to done, with bus_error set).
 * Called once per R beat, with a 32-byte aligned address and bytes = 32 (the engines' reads
 * are single 32-byte beats), from the thread that runs the engine.
 */
typedef int (*spk_rtl_read_fn)(void *ctx, uint64_t addr, void *dst, uint32_t bytes);

/** @brief How to build an engine. */
typedef struct spk_rtl_engine_config {
    size_t size;            /**< sizeof(spk_rtl_engine_config) (at least up to trace_path) */
    const char *variant;    /**< "full" (spk_engine), "compact" (spk_engine_compact) or "ovl"
                                 (spk_engine_ovl); NULL: "full" */
    spk_rtl_read_fn read;   /**< the memory (required) */
    void *read_ctx;         /**< its first argument */
    uint32_t mem_latency;   /**< cycles from an accepted AR to its R beat; 0: 8 */
    const char *trace_path; /**< FST waveform file of the whole run, or NULL */
    uint64_t stall_seed;    /**< non-zero: random AR/R stalls from this seed (read only when
                                 size covers it); 0: none */
} spk_rtl_engine_config;

/** @brief Parameters of an engine's Verilated model. */
typedef struct spk_rtl_params {
    uint32_t dmax;   /**< largest head dimension */
    uint32_t nmax;   /**< most keys per request */
    uint32_t ntok;   /**< token-importance entries 0 .. ntok - 1 */
    uint32_t nhead;  /**< head-importance entries ntok .. ntok + nhead - 1 */
    uint32_t qdepth; /**< descriptor FIFO entries */
} spk_rtl_params;

/** @brief Results of one head request (the engine's streams and done outputs). */
typedef struct spk_rtl_head_result {
    int32_t *out;             /**< caller's buffer, d entries: value = out[i] * 2^out_exp */
    uint16_t *probs;          /**< caller's buffer, n_keys entries (final softmax pass), or NULL */
    uint32_t *v_keys;         /**< caller's buffer, n_keys entries (kept V tokens), or NULL */
    uint32_t n_v_keys;        /**< out: kept V rows */
    int32_t out_exp;          /**< out: output exponent */
    uint64_t head_importance; /**< out: this request's head importance */
    uint32_t requant;         /**< out: 1 if the K LSB plane was fetched */
    uint32_t keys_fetched;    /**< out: K rows fetched */
    uint32_t values_fetched;  /**< out: V rows fetched */
    uint32_t bad_cmd;         /**< out: 1 if the descriptor was refused (nothing computed) */
    uint32_t bus_error;       /**< out: 1 if a read of the request was answered with an error */
    uint64_t cycles;          /**< out: engine clock cycles, descriptor to done */
    uint64_t axi_reads;       /**< out: AR requests (32-byte reads) accepted */
} spk_rtl_head_result;

/** @brief One prune step of the prune unit (rtl/prune/spk_prune.v, docs/rtl.md "Prune unit"). */
typedef struct spk_rtl_prune_cmd {
    uint32_t n_tokens;   /**< tokens 0 .. n_tokens - 1 belong to the context (<= ntok) */
    uint32_t kt;         /**< tokens to keep (0: all) */
    uint32_t sinks;      /**< tokens j < sinks are protected */
    uint32_t recent;     /**< tokens j >= n_tokens - recent are protected */
    uint32_t n_heads;    /**< heads of the context (<= nhead) */
    uint32_t kh;         /**< heads to keep (0: all) */
    uint32_t head_group; /**< heads die in groups of this many (0, 1: singly) */
} spk_rtl_prune_cmd;

/** @brief What a prune step reports. */
typedef struct spk_rtl_prune_result {
    uint32_t bad_cmd;      /**< 1: the command was refused, nothing changed */
    uint32_t tokens_alive; /**< alive tokens after the step */
    uint32_t heads_alive;  /**< alive heads after the step */
    uint64_t cycles;       /**< prune unit clock cycles of the step */
} spk_rtl_prune_result;

/** @brief The plugin's function table. */
typedef struct spk_rtl_api {
    uint32_t version; /**< SPK_RTL_API_VERSION */
    /**
     * @brief Build and reset an engine. @return NULL with a message in @p err (err_len bytes,
     * NUL-terminated; @p err may be NULL) for a bad configuration (unknown variant, no read
     * callback, size too small) or a failure of the model.
     */
    spk_rtl_engine *(*create)(const spk_rtl_engine_config *cfg, char *err, size_t err_len);
    /** @brief Free an engine (closes its trace file). NULL is fine. */
    void (*destroy)(spk_rtl_engine *e);
    /** @brief The engine's parameters. */
    void (*params)(const spk_rtl_engine *e, spk_rtl_params *p);
    /**
     * @brief Run one head request to done.
     *
     * The descriptor's fields go to the engine's request ports. A descriptor the engine refuses
     * (docs/rtl.md "Engine top": d of 0 or above dmax, msb < 2, msb + lsb > 12, n_keys above
     * nmax, head >= nhead, odd q_base or keys_base, key_base + n_keys > ntok) returns 0 with
     * bad_cmd = 1 and nothing written to the caller's buffers. So does, without running the
     * engine (cycles = 0), a field too wide for its port, which the hardware would truncate
     * (tag and head above 8 bits, d above 7 bits, msb_bits and lsb_bits above 4 bits,
     * threshold above 17 bits, v_keep, n_keys and key_base above 16 bits, key_list above 1,
     * q_scale above 24 bits); held is ignored (select requests never reach the RTL). A request
     * whose reads were refused by the callback returns 0 with bus_error = 1 (its outputs are then
     * meaningless).
     * @param max_cycles give up after this many cycles (0: a budget that grows with n_keys
     *        and d, ample for either variant); the engine is then reset, its importance bank
     *        must be cleared again.
     * @return 0, or -1 with @p err filled (bad arguments, timeout).
     */
    int (*head)(spk_rtl_engine *e, const spk_eng_head_req *req, spk_rtl_head_result *res,
                uint64_t max_cycles, char *err, size_t err_len);
    /** @brief Clear the whole importance bank (0: default budget). @return 0, or -1. */
    int (*imp_clear)(spk_rtl_engine *e, uint64_t max_cycles);
    /** @brief Read importance entry @p index < ntok + nhead. @return 0, or -1. */
    int (*imp_read)(spk_rtl_engine *e, uint32_t index, uint64_t *value);
    /** @brief Clock cycles since create (reset included). */
    uint64_t (*cycles)(const spk_rtl_engine *e);
    /* The prune unit of the engine (its own Verilated block, same clock). Entries: token
     * j < ntok (@p head 0) or head j < nhead (@p head 1); 0, or -1 out of range. */
    /** @brief Load an entry's importance (48 bits) and liveness. */
    int (*prune_load)(spk_rtl_engine *e, int head, uint32_t j, uint64_t importance, int alive);
    /** @brief Add @p amount to an entry's importance, saturating at 2^48 - 1. */
    int (*prune_add)(spk_rtl_engine *e, int head, uint32_t j, uint64_t amount);
    /** @brief Read an entry back. */
    int (*prune_read)(spk_rtl_engine *e, int head, uint32_t j, uint64_t *importance, int *alive);
    /** @brief Run one prune step to done (0: a default budget); 0, or -1 with @p err. */
    int (*prune_run)(spk_rtl_engine *e, const spk_rtl_prune_cmd *cmd, spk_rtl_prune_result *res,
                     uint64_t max_cycles, char *err, size_t err_len);
} spk_rtl_api;

/** @brief The plugin's function table (static; never NULL). */
const spk_rtl_api *spk_rtl_api_v1(void);

/** @brief Type of spk_rtl_api_v1, for dlsym. */
typedef const spk_rtl_api *(*spk_rtl_api_v1_fn)(void);

#ifdef __cplusplus
}
#endif

#endif
