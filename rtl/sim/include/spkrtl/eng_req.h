/**
 * @file eng_req.h
 * @brief The engine request descriptor against the RTL engine's request ports: which field
 * would not fit its port (the widths of rtl/regs/spk_abi.json's spk_eng_head_req, which the
 * Verilog takes from rtl/regs/spk_abi.vh). Shared by every driver of the Verilated engines.
 */
#ifndef SPKRTL_ENG_REQ_H
#define SPKRTL_ENG_REQ_H

#include "spk/fw_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief The name of the first field too wide for its port (the hardware would truncate it),
 * or NULL when every field fits; held is not checked (select requests never reach the RTL). */
static inline const char *spk_eng_req_field_too_wide(const spk_eng_head_req *r) {
    if (r->tag > 0xFFu) return "tag";
    if (r->head > 0xFFu) return "head";
    if (r->d > 0x7Fu) return "d";
    if (r->msb_bits > 0xFu) return "msb_bits";
    if (r->lsb_bits > 0xFu) return "lsb_bits";
    if (r->threshold > 0x1FFFFu) return "threshold";
    if (r->v_keep > 0xFFFFu) return "v_keep";
    if (r->n_keys > 0xFFFFu) return "n_keys";
    if (r->key_base > 0xFFFFu) return "key_base";
    if (r->key_list > 1u) return "key_list";
    if (r->q_scale > 0xFFFFFFu) return "q_scale";
    return 0;
}

#ifdef __cplusplus
}
#endif

#endif
