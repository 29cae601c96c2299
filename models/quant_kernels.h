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

/* Four activation columns against one weight row: each block is unpacked once. The float order
 * is exactly that of the single-column kernels above (even blocks into one accumulator, odd blocks
 * into another, then the same reduction), so a token gives the same bits whether it is processed
 * in a batch or alone. */
KATTR static void KNAME(dot4_q4_1)(const uint8_t *w, const spkllm_q8_block *x, size_t stride,
                                   size_t nb, float *out) {
    __m256 acc0[4], acc1[4];
    float offs0[4] = {0, 0, 0, 0}, offs1[4] = {0, 0, 0, 0};
    for (int c = 0; c < 4; c++) acc0[c] = acc1[c] = _mm256_setzero_ps();
    size_t b = 0;
    for (; b + 2 <= nb; b += 2, w += 40) {
        __m256i q0 = unpack_nibbles(w + 4), q1 = unpack_nibbles(w + 24);
        float d0 = h2f(w), m0 = h2f(w + 2), d1 = h2f(w + 20), m1 = h2f(w + 22);
        for (int c = 0; c < 4; c++) {
            const spkllm_q8_block *xb = x + (size_t)c * stride + b;
            __m256i s0 = KDOT(q0, _mm256_loadu_si256((const __m256i *)xb[0].q));
            __m256i s1 = KDOT(q1, _mm256_loadu_si256((const __m256i *)xb[1].q));
            acc0[c] =
                _mm256_fmadd_ps(_mm256_set1_ps(d0 * xb[0].d), _mm256_cvtepi32_ps(s0), acc0[c]);
            acc1[c] =
                _mm256_fmadd_ps(_mm256_set1_ps(d1 * xb[1].d), _mm256_cvtepi32_ps(s1), acc1[c]);
            offs0[c] += m0 * xb[0].s;
            offs1[c] += m1 * xb[1].s;
        }
    }
    if (b < nb) {
        __m256i q0 = unpack_nibbles(w + 4);
        float d0 = h2f(w), m0 = h2f(w + 2);
        for (int c = 0; c < 4; c++) {
            const spkllm_q8_block *xb = x + (size_t)c * stride + b;
            __m256i s0 = KDOT(q0, _mm256_loadu_si256((const __m256i *)xb->q));
            acc0[c] = _mm256_fmadd_ps(_mm256_set1_ps(d0 * xb->d), _mm256_cvtepi32_ps(s0), acc0[c]);
            offs0[c] += m0 * xb->s;
        }
    }
    for (int c = 0; c < 4; c++)
        out[c] = hsum8(_mm256_add_ps(acc0[c], acc1[c])) + (offs0[c] + offs1[c]);
}

/* Shared body of the 4-column Q4_0 and Q8_0 kernels (signed weights; LOAD_Q(p) gives the 32
 * weights of the block at p), in the single-column kernels' order. */
#define KDOT4_SIGNED(LOAD_Q, BLOCK_BYTES)                                                          \
    __m256 acc0[4], acc1[4];                                                                       \
    for (int c = 0; c < 4; c++) acc0[c] = acc1[c] = _mm256_setzero_ps();                           \
    size_t b = 0;                                                                                  \
    for (; b + 2 <= nb; b += 2, w += 2 * (BLOCK_BYTES)) {                                          \
        __m256i q0 = LOAD_Q(w), q1 = LOAD_Q(w + (BLOCK_BYTES));                                    \
        float d0 = h2f(w), d1 = h2f(w + (BLOCK_BYTES));                                            \
        for (int c = 0; c < 4; c++) {                                                              \
            const spkllm_q8_block *xb = x + (size_t)c * stride + b;                                \
            __m256i s0 = KDOT_SS(q0, _mm256_loadu_si256((const __m256i *)xb[0].q));                \
            __m256i s1 = KDOT_SS(q1, _mm256_loadu_si256((const __m256i *)xb[1].q));                \
            acc0[c] =                                                                              \
                _mm256_fmadd_ps(_mm256_set1_ps(d0 * xb[0].d), _mm256_cvtepi32_ps(s0), acc0[c]);    \
            acc1[c] =                                                                              \
                _mm256_fmadd_ps(_mm256_set1_ps(d1 * xb[1].d), _mm256_cvtepi32_ps(s1), acc1[c]);    \
        }                                                                                          \
    }                                                                                              \
    if (b < nb) {                                                                                  \
        __m256i q0 = LOAD_Q(w);                                                                    \
        float d0 = h2f(w);                                                                         \
        for (int c = 0; c < 4; c++) {                                                              \
            const spkllm_q8_block *xb = x + (size_t)c * stride + b;                                \
            __m256i s0 = KDOT_SS(q0, _mm256_loadu_si256((const __m256i *)xb->q));                  \
            acc0[c] =                                                                              \
                _mm256_fmadd_ps(_mm256_set1_ps(d0 * xb->d), _mm256_cvtepi32_ps(s0), acc0[c]);      \
        }                                                                                          \
    }                                                                                              \
    for (int c = 0; c < 4; c++) out[c] = hsum8(_mm256_add_ps(acc0[c], acc1[c]));

#define KLOAD_Q4_0(p) _mm256_sub_epi8(unpack_nibbles((p) + 2), _mm256_set1_epi8(8))
#define KLOAD_Q8_0(p) _mm256_loadu_si256((const __m256i *)((p) + 2))

KATTR static void KNAME(dot4_q4_0)(const uint8_t *w, const spkllm_q8_block *x, size_t stride,
                                   size_t nb, float *out){KDOT4_SIGNED(KLOAD_Q4_0, 18)}

KATTR static void KNAME(dot4_q8_0)(const uint8_t *w, const spkllm_q8_block *x, size_t stride,
                                   size_t nb, float *out) {
    KDOT4_SIGNED(KLOAD_Q8_0, 34)
}

#undef KLOAD_Q4_0
#undef KLOAD_Q8_0
#undef KDOT_SS
#undef KDOT4_SIGNED
