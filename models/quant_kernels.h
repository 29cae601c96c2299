/* Quantized dot-product kernels, written once and compiled per instruction set (internal to
 * quant.c, which includes this file once per set with these macros defined):
 *   KATTR       the function attribute selecting the instruction set
 *   KNAME(n)    the kernel's name for this set
 *   KDOT(u, s)  eight int32 lane sums of u8 x s8 byte products (u unsigned, s signed)
 * Block sums are exact integers; the single-column kernels keep two accumulators so that
 * consecutive blocks do not wait on each other's FMA. */

KATTR static float KNAME(dot_q4_1)(const uint8_t *w, const spkllm_q8_block *x, size_t nb) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    float offs0 = 0, offs1 = 0;
    size_t b = 0;
    for (; b + 2 <= nb; b += 2, w += 40) {
        __m256i s0 = KDOT(unpack_nibbles(w + 4), _mm256_loadu_si256((const __m256i *)x[b].q));
        __m256i s1 = KDOT(unpack_nibbles(w + 24), _mm256_loadu_si256((const __m256i *)x[b + 1].q));
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w) * x[b].d), _mm256_cvtepi32_ps(s0), acc0);
        acc1 =
            _mm256_fmadd_ps(_mm256_set1_ps(h2f(w + 20) * x[b + 1].d), _mm256_cvtepi32_ps(s1), acc1);
        offs0 += h2f(w + 2) * x[b].s;
        offs1 += h2f(w + 22) * x[b + 1].s;
    }
    if (b < nb) {
        __m256i s0 = KDOT(unpack_nibbles(w + 4), _mm256_loadu_si256((const __m256i *)x[b].q));
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w) * x[b].d), _mm256_cvtepi32_ps(s0), acc0);
        offs0 += h2f(w + 2) * x[b].s;
    }
    return hsum8(_mm256_add_ps(acc0, acc1)) + (offs0 + offs1);
}

/* Signed x signed via the unsigned-times-signed product: |q| * (y with q's sign). */
#define KDOT_SS(q, y) KDOT(_mm256_sign_epi8((q), (q)), _mm256_sign_epi8((y), (q)))

KATTR static float KNAME(dot_q4_0)(const uint8_t *w, const spkllm_q8_block *x, size_t nb) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    const __m256i eight = _mm256_set1_epi8(8);
    size_t b = 0;
    for (; b + 2 <= nb; b += 2, w += 36) {
        __m256i q0 = _mm256_sub_epi8(unpack_nibbles(w + 2), eight);
        __m256i q1 = _mm256_sub_epi8(unpack_nibbles(w + 20), eight);
        __m256i s0 = KDOT_SS(q0, _mm256_loadu_si256((const __m256i *)x[b].q));
        __m256i s1 = KDOT_SS(q1, _mm256_loadu_si256((const __m256i *)x[b + 1].q));
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w) * x[b].d), _mm256_cvtepi32_ps(s0), acc0);
        acc1 =
            _mm256_fmadd_ps(_mm256_set1_ps(h2f(w + 18) * x[b + 1].d), _mm256_cvtepi32_ps(s1), acc1);
    }
    if (b < nb) {
        __m256i q0 = _mm256_sub_epi8(unpack_nibbles(w + 2), eight);
        __m256i s0 = KDOT_SS(q0, _mm256_loadu_si256((const __m256i *)x[b].q));
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w) * x[b].d), _mm256_cvtepi32_ps(s0), acc0);
    }
    return hsum8(_mm256_add_ps(acc0, acc1));
}

KATTR static float KNAME(dot_q8_0)(const uint8_t *w, const spkllm_q8_block *x, size_t nb) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    size_t b = 0;
    for (; b + 2 <= nb; b += 2, w += 68) {
        __m256i q0 = _mm256_loadu_si256((const __m256i *)(w + 2));
        __m256i q1 = _mm256_loadu_si256((const __m256i *)(w + 36));
        __m256i s0 = KDOT_SS(q0, _mm256_loadu_si256((const __m256i *)x[b].q));
        __m256i s1 = KDOT_SS(q1, _mm256_loadu_si256((const __m256i *)x[b + 1].q));
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w) * x[b].d), _mm256_cvtepi32_ps(s0), acc0);
        acc1 =
            _mm256_fmadd_ps(_mm256_set1_ps(h2f(w + 34) * x[b + 1].d), _mm256_cvtepi32_ps(s1), acc1);
    }
    if (b < nb) {
        __m256i q0 = _mm256_loadu_si256((const __m256i *)(w + 2));
        __m256i s0 = KDOT_SS(q0, _mm256_loadu_si256((const __m256i *)x[b].q));
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(w) * x[b].d), _mm256_cvtepi32_ps(s0), acc0);
    }
    return hsum8(_mm256_add_ps(acc0, acc1));
}

/* Four activation columns against one weight row: each block is unpacked once. */
KATTR static void KNAME(dot4_q4_1)(const uint8_t *w, const spkllm_q8_block *x, size_t stride,
                                   size_t nb, float *out) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    float offs[4] = {0, 0, 0, 0};
    for (size_t b = 0; b < nb; b++, w += 20) {
        __m256i q = unpack_nibbles(w + 4);
        float d = h2f(w), m = h2f(w + 2);
        for (int c = 0; c < 4; c++) {
            const spkllm_q8_block *xb = x + (size_t)c * stride + b;
            __m256i s = KDOT(q, _mm256_loadu_si256((const __m256i *)xb->q));
            acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(d * xb->d), _mm256_cvtepi32_ps(s), acc[c]);
            offs[c] += m * xb->s;
        }
    }
    for (int c = 0; c < 4; c++) out[c] = hsum8(acc[c]) + offs[c];
}

/* Shared body of the 4-column Q4_0 and Q8_0 kernels (signed weights). */
#define KDOT4_SIGNED(LOAD_Q, BLOCK_BYTES)                                                          \
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),                \
                     _mm256_setzero_ps()};                                                         \
    for (size_t b = 0; b < nb; b++, w += (BLOCK_BYTES)) {                                          \
        __m256i q = LOAD_Q;                                                                        \
        float d = h2f(w);                                                                          \
        for (int c = 0; c < 4; c++) {                                                              \
            const spkllm_q8_block *xb = x + (size_t)c * stride + b;                                \
            __m256i s = KDOT_SS(q, _mm256_loadu_si256((const __m256i *)xb->q));                    \
            acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(d * xb->d), _mm256_cvtepi32_ps(s), acc[c]);    \
        }                                                                                          \
    }                                                                                              \
    for (int c = 0; c < 4; c++) out[c] = hsum8(acc[c]);

KATTR static void KNAME(dot4_q4_0)(const uint8_t *w, const spkllm_q8_block *x, size_t stride,
                                   size_t nb, float *out){
    KDOT4_SIGNED(_mm256_sub_epi8(unpack_nibbles(w + 2), _mm256_set1_epi8(8)), 18)}

KATTR static void KNAME(dot4_q8_0)(const uint8_t *w, const spkllm_q8_block *x, size_t stride,
                                   size_t nb, float *out) {
    KDOT4_SIGNED(_mm256_loadu_si256((const __m256i *)(w + 2)), 34)
}

#undef KDOT_SS
#undef KDOT4_SIGNED
