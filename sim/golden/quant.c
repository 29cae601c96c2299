/* Host-side number formats: scale words, row quantization, MSB/LSB planes.
 * Normative text: docs/spec/datapath.md, sections "Scale words", "Quantization",
 * "MSB and LSB planes" and "Logits". */
#include "spksim/datapath.h"

#include <math.h>

spksim_status spk_scale_from_float(float s, spk_scale *out) {
    if (!out) return SPKSIM_E_ARG;
    if (!isfinite(s) || s < 0.0f) return SPKSIM_E_RANGE;
    *out = 0;
    if (s == 0.0f) return SPKSIM_OK;
    int x = 0;
    float f = frexpf(s, &x); /* s = f * 2^x, f in [0.5, 1) */
    /* f * 65536 is exact and has 8 fractional bits at most, so + 0.5 is exact too. */
    uint32_t mant = (uint32_t)floorf(f * 65536.0f + 0.5f);
    if (mant == 65536u) {
        mant = 32768u;
        x += 1;
    }
    int exp = x - 16;
    if (exp < -128) return SPKSIM_OK; /* below 2^-113: the row is flushed to zero */
    if (exp > 127) return SPKSIM_E_RANGE;
    *out = spk_scale_make(mant, exp);
    return SPKSIM_OK;
}

float spk_scale_to_float(spk_scale s) {
    return ldexpf((float)spk_scale_mant(s), spk_scale_exp(s));
}

spksim_status spk_quantize_row(const float *x, uint32_t n, uint32_t bits, int16_t *codes,
                               spk_scale *scale) {
    if ((!x && n) || (!codes && n) || !scale || bits < 2 || bits > 16) return SPKSIM_E_ARG;
    float amax = 0.0f;
    for (uint32_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) return SPKSIM_E_RANGE;
        float a = fabsf(x[i]);
        if (a > amax) amax = a;
    }
    const int32_t qmax = (1 << (bits - 1)) - 1;
    spk_scale word = 0;
    spksim_status st = spk_scale_from_float(amax / (float)qmax, &word);
    if (st != SPKSIM_OK) return st;
    *scale = word;
    if (spk_scale_mant(word) == 0) {
        for (uint32_t i = 0; i < n; i++) codes[i] = 0;
        return SPKSIM_OK;
    }
    /* Quantize with the exact value of the rounded scale word, so that the engine's scale is
     * the one the codes were made with. */
    const float exact = spk_scale_to_float(word);
    for (uint32_t i = 0; i < n; i++) {
        float c = roundf(x[i] / exact);
        if (c > (float)qmax) c = (float)qmax;
        if (c < (float)-qmax) c = (float)-qmax;
        codes[i] = (int16_t)c;
    }
    return SPKSIM_OK;
}

spksim_status spk_logit_scale(spk_scale q_scale, uint32_t d, spk_scale *out) {
    if (!out || d == 0 || d > SPK_MAX_D) return SPKSIM_E_ARG;
    const float c = (float)(1.4426950408889634 / sqrt((double)d)); /* log2(e) / sqrt(d) */
    return spk_scale_from_float(spk_scale_to_float(q_scale) * c, out);
}

uint32_t spk_ratio_q16(double ratio) {
    if (!(ratio > 0.0)) return 0;
    if (ratio >= 1.0) return SPK_ONE_Q16;
    return (uint32_t)floor(ratio * 65536.0 + 0.5);
}

uint32_t spk_keep_count(uint32_t n, uint32_t ratio_q16) {
    if (ratio_q16 >= SPK_ONE_Q16) return n;
    return (uint32_t)(((uint64_t)n * ratio_q16 + 65535u) >> 16);
}

float spk_output_to_float(int32_t out, int32_t out_exp) {
    return ldexpf((float)out, out_exp);
}
