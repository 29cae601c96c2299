/* Cascade pruning policy. The engine holds the importance accumulators and the top-k unit; the
 * firmware decides how many tokens and heads survive before each layer. Changing this function
 * changes the policy without touching the hardware. The rule matches the golden model's keep
 * counts (docs/spec/datapath.md, "Keep counts") so every backend prunes identically. */
#include "policy.h"

uint32_t policy_keep(uint32_t alive, uint32_t count, uint32_t ratio_q16) {
    if (count) return count < alive ? count : alive;
    if (ratio_q16 == 0 || ratio_q16 >= 65536u) return alive;
    uint32_t keep = (uint32_t)(((uint64_t)alive * ratio_q16 + 65535u) >> 16);
    return keep == 0 && alive ? 1 : keep;
}

uint32_t policy_keep_last_step(uint32_t tokens, uint32_t important, uint32_t sinks, uint32_t recent,
                               uint32_t count, uint32_t ratio_q16) {
    if (!important) return policy_keep(tokens, count, ratio_q16);
    uint64_t budget = (uint64_t)sinks + important + recent;
    return budget < tokens ? (uint32_t)budget : tokens; /* the engine keeps all at >= alive */
}
