/**
 * @file datapath.h
 * @brief The bit-exact SpAtten datapath: the golden model every other implementation matches.
 *
 * Every number format, rounding rule and tie rule used here is defined in
 * docs/spec/datapath.md; the section named in each comment is the normative text. The model is
 * allocation-free on the hot path: a head request runs in a caller-owned ::spk_workspace.
 */
#ifndef SPKSIM_DATAPATH_H
#define SPKSIM_DATAPATH_H

#include <stddef.h>
#include <stdint.h>

#include "spksim/status.h"
#include "spksim/topk.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Query codes are 12-bit signed (spec: "Number formats"). */
#define SPK_Q_BITS 12
/** Widest K/V code, MSB + LSB bits (the 12-bit on-chip format). */
#define SPK_KV_MAX_BITS 12
/** Fractional bits of a logit in base-2 units (spec: "Logits"). */
#define SPK_LOGIT_FRAC 8
/** Probabilities are UQ0.16; a ratio or threshold of this value means 1.0. */
#define SPK_ONE_Q16 65536u
/** Largest head dimension the formats are sized for. */
#define SPK_MAX_D 256u
/** Saturation bound of the importance accumulators (48-bit unsigned). */
#define SPK_IMPORTANCE_MAX ((UINT64_C(1) << 48) - 1)

/**
 * A scale word: value = mantissa * 2^exponent, mantissa in bits 15:0 (normalised to
 * [32768, 65535], or 0 for an all-zero row), exponent a signed 8-bit integer in bits 23:16.
 * Spec: "Scale words".
 */
typedef uint32_t spk_scale;

/** @brief Mantissa of a scale word. */
static inline uint32_t spk_scale_mant(spk_scale s) {
    return s & 0xFFFFu;
}
/** @brief Exponent of a scale word. */
static inline int32_t spk_scale_exp(spk_scale s) {
    return (int32_t)(int8_t)((s >> 16) & 0xFFu);
}
/** @brief Build a scale word from its fields (mant < 65536, -128 <= exp <= 127). */
static inline spk_scale spk_scale_make(uint32_t mant, int32_t exp) {
    return (mant & 0xFFFFu) | ((uint32_t)(uint8_t)(int8_t)exp << 16);
}

/**
 * @brief Round a positive float scale to the nearest scale word (spec: "Scale words").
 * @return SPKSIM_OK; SPKSIM_E_RANGE if @p s is not finite, negative, or above 2^127 * 65535.
 * A scale below 2^-113 becomes the zero word.
 */
spksim_status spk_scale_from_float(float s, spk_scale *out);
/** @brief The exact value of a scale word as a float. */
float spk_scale_to_float(spk_scale s);

/**
 * @brief Quantize one row of floats to signed @p bits-bit codes with its own scale word
 * (spec: "Quantization"). Symmetric, round half away from zero, saturating.
 * @return SPKSIM_E_ARG for bits outside 2..16 or NULL pointers, SPKSIM_E_RANGE for a
 * non-finite input.
 */
spksim_status spk_quantize_row(const float *x, uint32_t n, uint32_t bits, int16_t *codes,
                               spk_scale *scale);

/**
 * @brief The query's logit scale word: q_scale * log2(e) / sqrt(d), folded so the engine needs
 * one multiply per key (spec: "Logits").
 */
spksim_status spk_logit_scale(spk_scale q_scale, uint32_t d, spk_scale *out);

/** @brief Precision profile of K and V (spec: "MSB and LSB planes"). */
typedef struct spk_quant_profile {
    uint8_t msb_bits; /**< bits of the MSB plane, 2..12 */
    uint8_t lsb_bits; /**< bits of the LSB plane, 0..10; msb_bits + lsb_bits <= 12 */
} spk_quant_profile;

/** @brief Configuration of the head requests of one layer. */
typedef struct spk_head_config {
    uint32_t d;                 /**< head dimension, 1..SPK_MAX_D */
    spk_quant_profile kv;       /**< K and V code widths */
    uint32_t requant_threshold; /**< UQ0.16, 0..65536: refetch LSBs when max prob is below */
    uint32_t v_keep_q16;        /**< local V keep ratio, UQ0.16, 1..65536 (65536 keeps all) */
    uint32_t topk_parallelism;  /**< comparators of the top-k engine (P); only timing uses it */
} spk_head_config;

/** Most keys one head request may have (the softmax sum is sized for it). */
#define SPK_MAX_KEYS 65535u

/** @brief Check a head configuration: SPKSIM_E_ARG if any field is outside its range. */
spksim_status spk_head_config_check(const spk_head_config *cfg);

/**
 * @brief Split a code into its MSB and LSB planes (spec: "MSB and LSB planes").
 * Inline: it sits in the inner loops of the golden datapath.
 */
static inline void spk_code_split(int32_t code, spk_quant_profile p, int32_t *msb, uint32_t *lsb) {
    /* Arithmetic shift: the MSB plane is floor(code / 2^lsb_bits). */
    *msb = code >> p.lsb_bits;
    *lsb = (uint32_t)code & ((1u << p.lsb_bits) - 1u);
}
/** @brief The value the engine computes with when only the MSB plane was fetched. */
static inline int32_t spk_code_msb_only(int32_t code, spk_quant_profile p) {
    if (p.lsb_bits == 0) return code;
    /* The missing LSBs are replaced by the middle of their range, which makes the MSB-only
     * value unbiased. */
    return (code >> p.lsb_bits) * (1 << p.lsb_bits) + (1 << (p.lsb_bits - 1));
}

/** @brief spk_code_msb_only() of @p n codes into @p out: one loop without a branch inside, so
 * the compiler vectorizes it (the inner loops of the golden datapath convert whole rows). */
static inline void spk_codes_msb_only(const int16_t *code, uint32_t n, spk_quant_profile p,
                                      int16_t *out) {
    if (p.lsb_bits == 0) {
        for (uint32_t i = 0; i < n; i++) out[i] = code[i];
        return;
    }
    const int32_t lsb = p.lsb_bits, half = 1 << (lsb - 1);
    for (uint32_t i = 0; i < n; i++) out[i] = (int16_t)(((code[i] >> lsb) * (1 << lsb)) + half);
}

/** @brief The QK dot product of @p n codes in 32 bits as the spec sizes it (docs/spec/datapath.md,
 * "Number formats"), wrapping rather than overflowing for out-of-range codes. One plain loop:
 * GCC 12 vectorizes it (pmaddwd); split into fixed-width blocks it ran scalar. */
static inline int64_t spk_dot32(const int16_t *q, const int16_t *k, uint32_t n) {
    uint32_t dot = 0;
    for (uint32_t i = 0; i < n; i++) dot += (uint32_t)((int32_t)q[i] * k[i]);
    return dot >= 0x80000000u ? (int64_t)dot - 0x100000000ll : (int64_t)dot; /* two's complement */
}

/**
 * @brief Bytes of one plane row of @p d fields of @p bits bits: ceil(d * bits / 8)
 * (spec: "MSB and LSB planes"; 0 for bits = 0, the LSB plane of a profile without one).
 */
uint32_t spk_plane_row_bytes(uint32_t d, uint32_t bits);
/**
 * @brief Pack one plane row of @p d codes as the spec lays it out (spec: "MSB and LSB planes").
 *
 * Field i takes bits [i*b, (i+1)*b) of a little-endian bit stream, byte 0 bit 0 first, with
 * b = p.msb_bits (@p lsb_plane = 0: the signed high part of spk_code_split() in b-bit two's
 * complement) or b = p.lsb_bits (@p lsb_plane = 1: the unsigned low part).
 * @param row out, spk_plane_row_bytes(d, b) bytes, all of them written (padding bits zero).
 */
void spk_plane_pack_row(const int16_t *codes, uint32_t d, spk_quant_profile p, int lsb_plane,
                        uint8_t *row);
/**
 * @brief The full codes of one row from its MSB row and its LSB row: code = hi * 2^lsb + lo,
 * hi the sign-extended MSB field, lo the LSB field (spec: "MSB and LSB planes").
 *
 * The inverse of spk_plane_pack_row() for every code of the profile's msb + lsb bits.
 * @param lsb_row ignored (may be NULL) when p.lsb_bits is 0.
 * @param codes out, d codes.
 */
void spk_plane_unpack_row(const uint8_t *msb_row, const uint8_t *lsb_row, uint32_t d,
                          spk_quant_profile p, int16_t *codes);

/** @brief The QK logit of one key in base-2 units with SPK_LOGIT_FRAC fractional bits. */
int32_t spk_logit(int64_t dot, spk_scale q_logit_scale, spk_scale k_scale);

/** @brief exp2 table: round(32768 * 2^(-f/256)) for f = 0..255 (spec: "Softmax"). */
extern const uint16_t spk_exp2_lut[256];

/**
 * @brief Fixed-point softmax of @p n logits (spec: "Softmax").
 * @param exps scratch, n entries (the un-normalised exponentials).
 * @param probs out, n UQ0.16 probabilities.
 * @return the largest probability (0 when n == 0).
 */
uint32_t spk_softmax(const int32_t *logits, uint32_t n, uint32_t *exps, uint16_t *probs);

/** @brief Keep count of a ratio: ceil(n * r / 65536) (spec: "Keep counts"). */
uint32_t spk_keep_count(uint32_t n, uint32_t ratio_q16);
/** @brief A float ratio in (0, 1] as UQ0.16, rounded to nearest. */
uint32_t spk_ratio_q16(double ratio);

/** @brief Caller-owned scratch memory for head requests of up to max_keys keys. */
typedef struct spk_workspace spk_workspace;
/** @brief Allocate a workspace; NULL when out of memory or max_keys is 0. */
spk_workspace *spk_workspace_create(uint32_t max_keys);
/** @brief Free a workspace (NULL is fine). */
void spk_workspace_destroy(spk_workspace *ws);

/**
 * @brief One head request: one query vector against a set of keys (spec: "Head request").
 * K and V rows are indexed by token; the request fetches the rows named in @c keys.
 */
typedef struct spk_head_request {
    const int16_t *q;          /**< d query codes (12-bit) */
    spk_scale q_logit_scale;   /**< from spk_logit_scale() */
    const uint32_t *keys;      /**< n_keys token indices to fetch, strictly increasing */
    uint32_t n_keys;           /**< number of keys (0 gives a zero output) */
    const int16_t *k_codes;    /**< K codes, row-major [token][d], full msb+lsb-bit codes */
    const spk_scale *k_scales; /**< K scale word per token */
    const int16_t *v_codes;    /**< V codes, row-major [token][d] */
    const spk_scale *v_scales; /**< V scale word per token */
    uint32_t keys_held;        /**< keys whose K MSB rows and scale words the engine holds from the
                                    select policy's scoring (spec "Held rows"): not read, not counted;
                                    at most n_keys; nothing else changes */
} spk_head_request;

/** @brief Per-request traffic and the events the cycle simulator times. */
typedef struct spk_head_events {
    uint32_t keys_fetched;   /**< K rows fetched (MSB plane) */
    uint32_t keys_refetched; /**< K rows whose LSB plane was fetched (0 or keys_fetched) */
    uint32_t values_fetched; /**< V rows fetched after local V pruning */
    uint8_t requant;         /**< 1 if the LSB refetch and recompute happened */
    uint8_t v_with_lsb;      /**< 1 if V was fetched with its LSB plane */
    uint64_t key_msb_bytes;  /**< bytes of K MSB rows (spec: "Traffic") */
    uint64_t key_lsb_bytes;  /**< bytes of K LSB rows */
    uint64_t value_bytes;    /**< bytes of V rows */
    uint64_t scale_bytes;    /**< bytes of scale words of the K and V rows fetched */
    spk_topk_trace v_topk;   /**< the local-V top-k engine's passes (zero if bypassed) */
    uint32_t keys_held;      /**< of keys_fetched, those whose K MSB row and scale word were held
                                  (spk_head_request::keys_held), not read */
} spk_head_events;

/** @brief Result of one head request; the caller provides the arrays. */
typedef struct spk_head_result {
    int32_t *out;             /**< d outputs; value = out[i] * 2^out_exp */
    int32_t out_exp;          /**< output exponent */
    uint16_t *probs;          /**< n_keys final probabilities, UQ0.16 */
    uint32_t *v_keys;         /**< token indices of the V rows fetched (capacity n_keys) */
    uint64_t head_importance; /**< this request's |output| sum in units of 2^-16 */
    spk_head_events ev;       /**< traffic and timing events */
    int32_t *logits;          /**< optional (NULL: not wanted): n_keys final logits, the 24-bit
                                   values the final probabilities were computed from (after the
                                   LSB refetch when there was one); the last-step policy's score */
} spk_head_result;

/** @brief Run one head request (spec: "Head request"). */
spksim_status spk_head_run(const spk_head_config *cfg, const spk_head_request *req,
                           spk_workspace *ws, spk_head_result *res);

/** @brief Convert an engine output to float: out * 2^out_exp. */
float spk_output_to_float(int32_t out, int32_t out_exp);

#ifdef __cplusplus
}
#endif

#endif
