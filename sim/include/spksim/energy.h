/**
 * @file energy.h
 * @brief Energy model of the cycle simulator: event counts times per-event constants read from a
 * constants file in which every value cites its source (sim/configs/energy.cfg, BRIEF section 5).
 *
 * File format: `key = value  # source: ...` per line. A value line without a `source:` comment
 * is rejected, so no constant can enter the model without its provenance.
 */
#ifndef SPKSIM_ENERGY_H
#define SPKSIM_ENERGY_H

#include <stddef.h>

#include "spksim/cycle.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Number of constants the model reads. */
#define SPK_ENERGY_N_CONSTANTS 17

/** @brief The constants (pJ unless named otherwise) and the source text of each. */
typedef struct spk_energy_constants {
    double dram_pj_per_bit;     /**< DRAM access energy per bit moved */
    double sram_pj_per_access;  /**< one 64-bit read/write of a K or V buffer bank */
    double mult_pj;             /**< one 12-bit multiply */
    double add_pj;              /**< one accumulator add */
    double softmax_pj;          /**< one probability (dequantize, exp, accumulate, divide) */
    double compare_pj;          /**< one top-k comparison */
    double importance_pj;       /**< one importance accumulation */
    double logic_scale;         /**< node scaling applied to SRAM and logic (45 -> 40 nm) */
    double area_full_mm2;       /**< paper: full SpAtten area */
    double power_full_w;        /**< paper: full SpAtten power */
    double power_logic_w;       /**< paper: logic share of full power */
    double power_sram_w;        /**< paper: SRAM share */
    double power_dram_w;        /**< paper: DRAM share */
    double area_eighth_mm2;     /**< paper: SpAtten 1/8 area */
    double gops_eighth;         /**< paper: SpAtten 1/8 throughput, GOP/s */
    double topk_area_fraction;  /**< paper: top-k engines' share of area */
    double topk_power_fraction; /**< paper: top-k engines' share of power */
    char source[SPK_ENERGY_N_CONSTANTS][160]; /**< the `source:` text of each constant */
} spk_energy_constants;

/** @brief Key name of constant @p i in the file format (NULL when out of range). */
const char *spk_energy_key(size_t i);
/** @brief Value of constant @p i. */
double spk_energy_value(const spk_energy_constants *c, size_t i);

/**
 * @brief Load a constants file; every one of the SPK_ENERGY_N_CONSTANTS keys must appear once,
 * with a `# source:` comment. @return 0, or -1 with @p err naming the line and problem.
 */
int spk_energy_load(const char *path, spk_energy_constants *c, char *err, size_t err_len);

/** @brief Energy of a run, pJ. */
typedef struct spk_energy_report {
    double dram_pj;    /**< DRAM transfers */
    double sram_pj;    /**< K and V buffer reads and writes */
    double compute_pj; /**< multipliers, adders, softmax, top-k, importance */
    double total_pj;   /**< sum */
} spk_energy_report;

/** @brief Price the events of a run. */
void spk_energy_compute(const spk_energy_constants *c, const spk_cycle_stats *s,
                        spk_energy_report *out);

#ifdef __cplusplus
}
#endif

#endif
