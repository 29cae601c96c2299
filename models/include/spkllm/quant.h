/**
 * @file quant.h
 * @brief Number formats and the matrix-vector kernels that work directly on quantized blocks.
 *
 * Weights stay in their file format (Q4_0, Q4_1, Q8_0 blocks of 32, or F32/F16/BF16 rows).
 * For the quantized types the activation vector is itself quantized to 8-bit blocks
 * (spkllm_q8_block) so that each block product is an integer dot product, as llama.cpp does;
 * float types use the float activations directly. An AVX2+FMA path is chosen at run time when
 * the CPU has it (with AVX512-VNNI byte dot products when available); the portable path gives
 * the same integer sums.
 */
#ifndef SPKLLM_QUANT_H
#define SPKLLM_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "spkllm/gguf.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Elements per quantized block. */
#define SPKLLM_QK 32

/** One activation block: x[i] ~= d * q[i]; s = d * sum(q) (used by Q4_1's offset term). */
typedef struct {
    float d;
    float s;
    int8_t q[SPKLLM_QK];
} spkllm_q8_block;

/** IEEE half to float. */
float spkllm_f16_to_f32(uint16_t h);
/** Float to IEEE half, round to nearest even. */
uint16_t spkllm_f32_to_f16(float f);
/** bfloat16 to float. */
float spkllm_bf16_to_f32(uint16_t h);
/** Float to bfloat16, round to nearest even. */
uint16_t spkllm_f32_to_bf16(float f);

/** Quantizes @p n floats (n a multiple of 32) into n/32 activation blocks. */
void spkllm_quantize_q8(const float *x, spkllm_q8_block *out, size_t n);

/** Encodes @p n floats (multiple of 32) as Q4_0, Q4_1 or Q8_0 blocks (tests and tools). */
void spkllm_quantize_row(spkllm_tensor_type type, const float *x, void *out, size_t n);

/** Decodes one row of @p n elements of any supported type into floats. */
void spkllm_dequantize_row(spkllm_tensor_type type, const void *row, float *out, size_t n);

/**
 * Finds the first non-finite value of @p n elements of @p type at @p data: a NaN or infinite
 * element of a float type, or a NaN or infinite scale (or Q4_1 minimum) of a quantized block.
 * @return the index of that element (for a block, of its first element) and sets *is_nan, or
 * -1 when every value is finite.
 */
int64_t spkllm_find_nonfinite(spkllm_tensor_type type, const void *data, size_t n, int *is_nan);

/** Bytes taken by one row of @p n elements of @p type. */
size_t spkllm_row_bytes(spkllm_tensor_type type, size_t n);

/** True when @p type's dot products use quantized activations (spkllm_q8_block). */
int spkllm_type_uses_q8(spkllm_tensor_type type);

/**
 * out[c * out_stride + r] = dot(row r of W, column c of X) for rows [r0, r1) and @p n_cols
 * columns. W has @p n columns (elements per row). X is given as floats @p x (column stride n)
 * for float weight types and as activation blocks @p xq (column stride n/32) for quantized ones.
 */
void spkllm_matmul_rows(spkllm_tensor_type type, const void *w, size_t n, size_t r0, size_t r1,
                        const float *x, const spkllm_q8_block *xq, size_t n_cols, float *out,
                        size_t out_stride);

/** Float dot product of @p n elements (vectorised when the CPU allows). */
float spkllm_dot_f32(const float *a, const float *b, size_t n);

/** y[i] += a * x[i] for @p n elements. */
void spkllm_axpy_f32(float a, const float *x, float *y, size_t n);

/** Name of the kernel set in use: "avx512vnni", "avx2" or "portable". */
const char *spkllm_kernels_name(void);

/** Kernel limits for spkllm_kernels_limit(). */
enum {
    SPKLLM_KERNELS_AUTO = 0,    /**< the best set the CPU supports */
    SPKLLM_KERNELS_AVX2 = 1,    /**< at most AVX2+FMA+F16C (no AVX512-VNNI) */
    SPKLLM_KERNELS_PORTABLE = 2 /**< plain C */
};

/** Caps the kernel set (tests compare the paths; not thread-safe against running kernels). */
void spkllm_kernels_limit(int limit);

/** Same as spkllm_kernels_limit(force ? SPKLLM_KERNELS_PORTABLE : SPKLLM_KERNELS_AUTO). */
void spkllm_kernels_force_portable(int force);

#ifdef __cplusplus
}
#endif

#endif
