/**
 * @file fw_abi.h
 * @brief The interface between the host driver and the control-core firmware: the firmware
 * information record, the command ring entries, the layer descriptor and the engine operations.
 *
 * Shared by the driver (host, any ABI) and the firmware (RV32, ilp32), so every structure uses
 * fixed-width 32-bit fields only and has a size checked at compile time. docs/firmware.md
 * describes the protocol. A change that breaks old firmware bumps SPK_FW_ABI_VERSION.
 */
#ifndef SPK_FW_ABI_H
#define SPK_FW_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** ABI version of this header; the driver refuses firmware built for another one. */
#define SPK_FW_ABI_VERSION 2u
/** spk_fw_info::magic: ASCII "SPKF". */
#define SPK_FW_INFO_MAGIC 0x464b5053u
/** ELF section holding the spk_fw_info record. */
#define SPK_FW_INFO_SECTION ".spk_fw_info"

/** @brief Version/capability record the firmware carries in section .spk_fw_info. */
typedef struct spk_fw_info {
    uint32_t magic;        /**< SPK_FW_INFO_MAGIC */
    uint32_t info_size;    /**< sizeof(spk_fw_info) when built */
    uint32_t abi_version;  /**< SPK_FW_ABI_VERSION when built */
    uint32_t regmap_major; /**< SPK_VERSION_MAJOR of the register map it was built against */
    uint32_t regmap_minor; /**< SPK_VERSION_MINOR */
    uint32_t fw_version;   /**< firmware release, major << 16 | minor */
    uint32_t commands;     /**< bit n set: ring opcode n is implemented */
    uint32_t reserved;     /**< zero */
    char name[32];         /**< NUL-terminated build description */
} spk_fw_info;

/** Command ring opcodes (spk_ring_cmd::opcode). */
enum spk_ring_opcode {
    SPK_CMD_NOP = 1,   /**< no work; completes its fence (used to probe the firmware) */
    SPK_CMD_LAYER = 2, /**< one attention layer: arg0 = descriptor address, arg1 = its size */
};

/** @brief One 64-byte command ring entry in device DRAM. */
typedef struct spk_ring_cmd {
    uint32_t opcode;       /**< spk_ring_opcode */
    uint32_t fence;        /**< written to FENCE_DONE when the command has completed */
    uint32_t arg0;         /**< opcode-specific */
    uint32_t arg1;         /**< opcode-specific */
    uint32_t reserved[12]; /**< zero */
} spk_ring_cmd;

/** Bytes per ring entry. */
#define SPK_RING_ENTRY_BYTES 64u

/** Engine operations (ENG_CMD.OP). */
enum spk_eng_op {
    SPK_ENG_OP_LAYER_BEGIN = 1, /**< check the descriptor at ENG_DESC, clear accumulators */
    SPK_ENG_OP_HEAD = 2,        /**< every query of head ENG_HEAD */
    SPK_ENG_OP_LAYER_END = 3,   /**< commit the layer's importance to the pruning state */
    SPK_ENG_OP_PRUNE = 4,       /**< keep ENG_KEEP_TOKENS tokens and ENG_KEEP_HEADS heads */
};

/** Reasons the firmware rejects a command (ERR_STATUS.CAUSE with code SPK_ERR_BAD_COMMAND). */
enum spk_fw_reject {
    SPK_FW_REJECT_OPCODE = 1,     /**< unknown opcode */
    SPK_FW_REJECT_RING = 2,       /**< RING_BASE/RING_SIZE invalid */
    SPK_FW_REJECT_DESCRIPTOR = 3, /**< descriptor size or fields invalid */
};

/**
 * @brief Layer descriptor, written by the driver into device DRAM for SPK_CMD_LAYER.
 * Addresses are device DRAM offsets of buffer objects; arrays are laid out as in the golden
 * model's spk_layer_desc (sim/include/spksim/layer.h), except that K/V heads are kv_stride
 * token rows apart (the KV cache is allocated for its capacity, not its current length).
 */
typedef struct spk_fw_layer_desc {
    uint32_t size;              /**< sizeof(spk_fw_layer_desc) */
    uint32_t layer;             /**< layer index (for the statistics) */
    uint32_t n_heads;           /**< query heads */
    uint32_t n_kv_heads;        /**< K/V heads (divides n_heads) */
    uint32_t n_queries;         /**< query vectors per head */
    uint32_t n_tokens;          /**< K/V rows (the tokens appended to the context so far) */
    uint32_t causal;            /**< 1: causal mask over the last n_queries tokens */
    uint32_t d;                 /**< head dimension */
    uint32_t msb_bits;          /**< K/V MSB plane bits */
    uint32_t lsb_bits;          /**< K/V LSB plane bits */
    uint32_t requant_threshold; /**< UQ0.16 max-probability threshold for the LSB refetch */
    uint32_t v_keep_q16;        /**< local V keep ratio, UQ0.16 */
    uint32_t token_keep_count;  /**< policy: tokens kept after this layer (0: ratio) */
    uint32_t token_keep_q16;    /**< policy: token keep ratio, UQ0.16 */
    uint32_t head_keep_count;   /**< policy: explicit heads to keep (0: ratio) */
    uint32_t head_keep_q16;     /**< policy: head keep ratio, UQ0.16 */
    uint32_t q_addr;            /**< int16 [H][n_queries][d] */
    uint32_t q_scale_addr;      /**< u32 [H][n_queries] logit scale words */
    uint32_t k_addr;            /**< int16 [n_kv_heads][n_tokens][d] */
    uint32_t k_scale_addr;      /**< u32 [n_kv_heads][n_tokens] */
    uint32_t v_addr;            /**< int16 [n_kv_heads][n_tokens][d] */
    uint32_t v_scale_addr;      /**< u32 [n_kv_heads][n_tokens] */
    uint32_t out_addr;          /**< int32 [H][n_queries][d] outputs */
    uint32_t out_exp_addr;      /**< int32 [H][n_queries] output exponents */
    uint32_t context;           /**< engine context (pruning state) the layer belongs to */
    uint32_t kv_stride;         /**< token rows between K/V heads in the cache (>= n_tokens) */
    uint32_t token_sinks;       /**< PRUNE: first tokens that are never pruned */
    uint32_t token_recent;      /**< PRUNE: last tokens that are never pruned */
    uint32_t head_group;        /**< PRUNE: heads die in groups of this many (0/1: singly) */
    uint32_t token_policy;      /**< PRUNE: spk_fw_token_policy (ABI 2) */
    uint32_t token_important;   /**< last-step policy: top-scored tokens kept per (layer, K/V
                                     head) besides the sinks and recent ones (0: use the keep
                                     count or ratio as the whole budget) (ABI 2) */
} spk_fw_layer_desc;

/** Token scoring policies of the PRUNE operation (docs/spec/datapath.md). */
enum spk_fw_token_policy {
    SPK_FW_POLICY_ACCUMULATED = 0, /**< one token set, accumulated post-softmax importance */
    SPK_FW_POLICY_LAST_STEP = 1,   /**< per (layer, K/V head) sets, last-step logit scores */
};

#ifdef __cplusplus
#define SPK_FW_STATIC_ASSERT static_assert
#else
#define SPK_FW_STATIC_ASSERT _Static_assert
#endif
SPK_FW_STATIC_ASSERT(sizeof(spk_fw_info) == 64, "spk_fw_info layout");
SPK_FW_STATIC_ASSERT(sizeof(spk_ring_cmd) == SPK_RING_ENTRY_BYTES, "spk_ring_cmd layout");
SPK_FW_STATIC_ASSERT(sizeof(spk_fw_layer_desc) == 124, "spk_fw_layer_desc layout");

#ifdef __cplusplus
}
#endif

#endif
