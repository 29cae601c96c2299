/* Cascade pruning policy of the firmware (see policy.c). */
#ifndef SPK_FW_POLICY_H
#define SPK_FW_POLICY_H

#include <stdint.h>

/* How many of @p alive tokens or heads to keep: the explicit count when non-zero (capped at
 * alive), else ceil(alive * ratio_q16 / 65536), never fewer than one while any is alive. */
uint32_t policy_keep(uint32_t alive, uint32_t count, uint32_t ratio_q16);

/* The last-step policy's budget per (layer, K/V head) cache in a context of @p tokens tokens:
 * sinks + important + recent when @p important is non-zero (MIT's fixed budget), else
 * policy_keep(tokens, count, ratio_q16) (a budget that is a fraction of the context). */
uint32_t policy_keep_last_step(uint32_t tokens, uint32_t important, uint32_t sinks, uint32_t recent,
                               uint32_t count, uint32_t ratio_q16);

#endif
