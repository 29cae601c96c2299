/* Cascade pruning policy of the firmware (see policy.c). */
#ifndef SPK_FW_POLICY_H
#define SPK_FW_POLICY_H

#include <stdint.h>

/* How many of @p alive tokens or heads to keep: the explicit count when non-zero (capped at
 * alive), else ceil(alive * ratio_q16 / 65536), never fewer than one while any is alive. */
uint32_t policy_keep(uint32_t alive, uint32_t count, uint32_t ratio_q16);

#endif
