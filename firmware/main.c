/* Control-core firmware: the command-ring loop. The host queues 64-byte commands in a ring in
 * device DRAM, advances RING_TAIL and rings the doorbell; this loop consumes them in order,
 * sequences the engine for each layer, applies the cascade pruning policy and publishes the
 * fence of each finished command in FENCE_DONE. Errors are recorded in ERR_STATUS/ERR_PC and the
 * loop goes on with the next command (the driver turns the record into an error for the caller).
 * docs/firmware.md describes the protocol. */
#include <stdint.h>

#include "mmio.h"
#include "policy.h"
#include "spk/fw_abi.h"

static uint32_t heartbeat;

/* Record the first error since the host last cleared ERR_STATUS. */
static void report_error(uint32_t code, uint32_t cause, uint32_t pc, uint32_t value) {
    if ((csr_read(SPK_ERR_STATUS_REG_OFFSET) & SPK_ERR_STATUS_CODE_MASK) == SPK_ERR_NONE) {
        csr_write(SPK_ERR_PC_REG_OFFSET, pc);
        csr_write(SPK_ERR_ADDR_REG_OFFSET, value);
        csr_write(SPK_ERR_STATUS_REG_OFFSET,
                  code << SPK_ERR_STATUS_CODE_OFFSET | cause << SPK_ERR_STATUS_CAUSE_OFFSET);
    }
    csr_write(SPK_INTR_STATE_REG_OFFSET, 1u << SPK_INTR_STATE_ERROR_BIT);
}

/* Run one engine operation: start it, then poll ENG_STATUS until the engine is no longer busy
 * (operations are asynchronous; a hung engine is the watchdog's to catch). Returns 0, or
 * reports the engine's reject reason and returns -1. */
static int engine(uint32_t op, uint32_t desc) {
    csr_write(SPK_ENG_DESC_REG_OFFSET, desc);
    csr_write(SPK_ENG_CMD_REG_OFFSET, op << SPK_ENG_CMD_OP_OFFSET | 1u << SPK_ENG_CMD_GO_BIT);
    uint32_t status;
    do status = csr_read(SPK_ENG_STATUS_REG_OFFSET);
    while (status & (1u << SPK_ENG_STATUS_BUSY_BIT));
    if (status & (1u << SPK_ENG_STATUS_ERROR_BIT)) {
        uint32_t reason = (status >> SPK_ENG_STATUS_REASON_OFFSET) & SPK_ENG_STATUS_REASON_MASK;
        report_error(reason, op, current_pc(), desc);
        return -1;
    }
    return 0;
}

#ifdef SPK_FW_TEST_HANG
/* Test build: a firmware that never completes a layer, for the driver's timeout tests. */
static int run_layer(uint32_t desc) {
    while (desc != 0xffffffffu) csr_write(SPK_FW_HEARTBEAT_REG_OFFSET, ++heartbeat);
    return -1; /* the driver never passes that address */
}
#else
static uint32_t desc_field(uint32_t desc, uint32_t offset) {
    return dram_read32(desc + offset);
}
#define DESC_FIELD(desc, field)                                                                    \
    desc_field(desc, (uint32_t) __builtin_offsetof(spk_fw_layer_desc, field))

/* One layer: open it, run every head, commit the importance, then let the cascade policy decide
 * which tokens and heads survive into the next layer. */
static int run_layer(uint32_t desc) {
#ifdef SPK_FW_TEST_FAULT
    /* Test build: touch an address outside every memory (the core traps, the host reports). */
    (void)*(volatile uint32_t *)0x20000000u;
#endif
    if (DESC_FIELD(desc, size) != sizeof(spk_fw_layer_desc)) {
        report_error(SPK_ERR_BAD_COMMAND, SPK_FW_REJECT_DESCRIPTOR, current_pc(), desc);
        return -1;
    }
    uint32_t n_heads = DESC_FIELD(desc, n_heads);
    if (engine(SPK_ENG_OP_LAYER_BEGIN, desc)) return -1;
    for (uint32_t h = 0; h < n_heads; h++) {
        csr_write(SPK_ENG_HEAD_REG_OFFSET, h);
        if (engine(SPK_ENG_OP_HEAD, desc)) return -1;
    }
    if (engine(SPK_ENG_OP_LAYER_END, desc)) return -1;
    uint32_t alive_tokens = csr_read(SPK_ENG_ALIVE_TOKENS_REG_OFFSET);
    uint32_t tokens;
    if (DESC_FIELD(desc, token_policy) == SPK_FW_POLICY_LAST_STEP)
        /* One budget for every (layer, K/V head) cache; the context's tokens all stay alive. */
        tokens = policy_keep_last_step(
            alive_tokens, DESC_FIELD(desc, token_important), DESC_FIELD(desc, token_sinks),
            DESC_FIELD(desc, token_recent), DESC_FIELD(desc, token_keep_count),
            DESC_FIELD(desc, token_keep_q16));
    else /* accumulated, and select: its selection is the engine's, per HEAD request; what it
          * evicts (nothing, unless a keep count is given too) is the accumulated step's */
        tokens = policy_keep(alive_tokens, DESC_FIELD(desc, token_keep_count),
                             DESC_FIELD(desc, token_keep_q16));
    uint32_t heads =
        policy_keep(csr_read(SPK_ENG_ALIVE_HEADS_REG_OFFSET), DESC_FIELD(desc, head_keep_count),
                    DESC_FIELD(desc, head_keep_q16));
    csr_write(SPK_ENG_KEEP_TOKENS_REG_OFFSET, tokens);
    csr_write(SPK_ENG_KEEP_HEADS_REG_OFFSET, heads);
    return engine(SPK_ENG_OP_PRUNE, desc);
}
#endif

static void execute(uint32_t cmd_addr) {
    uint32_t opcode = dram_read32(cmd_addr + (uint32_t) __builtin_offsetof(spk_ring_cmd, opcode));
    uint32_t arg0 = dram_read32(cmd_addr + (uint32_t) __builtin_offsetof(spk_ring_cmd, arg0));
    switch (opcode) {
    case SPK_CMD_NOP:
        break;
    case SPK_CMD_LAYER:
        run_layer(arg0);
        break;
    case SPK_CMD_CONTEXT_OPEN:
        engine(SPK_ENG_OP_CONTEXT_OPEN, arg0);
        break;
    case SPK_CMD_CONTEXT_CLOSE:
        csr_write(SPK_ENG_HEAD_REG_OFFSET, arg0);
        engine(SPK_ENG_OP_CONTEXT_CLOSE, 0);
        break;
    case SPK_CMD_CONTEXT_READ:
        csr_write(SPK_ENG_HEAD_REG_OFFSET, arg0);
        engine(SPK_ENG_OP_CONTEXT_READ,
               dram_read32(cmd_addr + (uint32_t) __builtin_offsetof(spk_ring_cmd, arg1)));
        break;
    default:
        report_error(SPK_ERR_BAD_COMMAND, SPK_FW_REJECT_OPCODE, current_pc(), opcode);
        break;
    }
    /* The fence completes even after an error: the driver sees ERR_STATUS first. */
    uint32_t fence = dram_read32(cmd_addr + (uint32_t) __builtin_offsetof(spk_ring_cmd, fence));
    csr_write(SPK_FENCE_DONE_REG_OFFSET, fence);
    csr_write(SPK_INTR_STATE_REG_OFFSET, 1u << SPK_INTR_STATE_DONE_BIT);
}

static int ring_valid(uint32_t base, uint32_t entries) {
    return entries != 0 && (entries & (entries - 1)) == 0 && base % SPK_RING_ENTRY_BYTES == 0 &&
           entries <= SPK_RING_SIZE_ENTRIES_MASK;
}

int main(void) {
    csr_write(SPK_STATUS_REG_OFFSET, 1u << SPK_STATUS_FW_READY_BIT);
    for (;;) {
        csr_write(SPK_FW_HEARTBEAT_REG_OFFSET, ++heartbeat);
        uint32_t head = csr_read(SPK_RING_HEAD_REG_OFFSET);
        uint32_t tail = csr_read(SPK_RING_TAIL_REG_OFFSET);
        if (head == tail) {
            csr_write(SPK_STATUS_REG_OFFSET, 1u << SPK_STATUS_FW_READY_BIT);
            wait_for_doorbell();
            continue;
        }
        uint32_t base = csr_read(SPK_RING_BASE_REG_OFFSET);
        uint32_t entries = csr_read(SPK_RING_SIZE_REG_OFFSET);
        if (!ring_valid(base, entries)) {
            report_error(SPK_ERR_BAD_COMMAND, SPK_FW_REJECT_RING, current_pc(), entries);
            csr_write(SPK_RING_HEAD_REG_OFFSET, tail); /* drop the unreadable commands */
            continue;
        }
        csr_write(SPK_STATUS_REG_OFFSET, 1u << SPK_STATUS_FW_READY_BIT | 1u << SPK_STATUS_BUSY_BIT);
        execute(base + (head & (entries - 1)) * SPK_RING_ENTRY_BYTES);
        csr_write(SPK_RING_HEAD_REG_OFFSET, head + 1);
    }
}
