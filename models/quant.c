/* Quantized formats and matrix-vector kernels: portable C plus AVX2/FMA and AVX512-VNNI paths
 * selected at run time. The integer block sums are exact in every path and the float operations
 * are the same, in the same order, so every path gives the same bits. */
#include "spkllm/quant.h"

#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SPKLLM_X86 1
#endif

float spkllm_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: value = man * 2^-24 */
            float f = (float)man * 5.9604644775390625e-8f;
            return sign ? -f : f;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t spkllm_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (uint16_t)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* rounds to infinity */
    if (ax < 0x38800000u) {                                  /* subnormal half or zero */
        float a;
        memcpy(&a, &ax, 4);
        return (uint16_t)(sign | (uint32_t)lrintf(a * 16777216.0f));
    }
    uint32_t mant = ax + 0xc8000fffu + ((ax >> 13) & 1); /* rebias exponent, round to even */
    return (uint16_t)(sign | (mant >> 13));
}

float spkllm_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t spkllm_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
    return (uint16_t)((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

static uint16_t rd16(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}
static void wr16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8);
}

size_t spkllm_row_bytes(spkllm_tensor_type type, size_t n) {
    uint32_t be, bb;
    if (!spkllm_tensor_type_layout(type, &be, &bb)) return 0;
    return n / be * bb;
}

/* Non-finite half: exponent all ones; *is_nan when the mantissa is non-zero. */
static int half_bad(uint16_t h, int *is_nan) {
    if ((h & 0x7c00) != 0x7c00) return 0;
    *is_nan = (h & 0x3ff) != 0;
    return 1;
}

int64_t spkllm_find_nonfinite(spkllm_tensor_type type, const void *data, size_t n, int *is_nan) {
    const uint8_t *p = data;
    *is_nan = 0;
    switch (type) {
    case SPKLLM_TENSOR_F32:
        for (size_t i = 0; i < n; i++) {
            uint32_t b = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
                         (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
            if ((b & 0x7f800000u) == 0x7f800000u) {
                *is_nan = (b & 0x7fffffu) != 0;
                return (int64_t)i;
            }
        }
        return -1;
    case SPKLLM_TENSOR_F16:
        for (size_t i = 0; i < n; i++)
            if (half_bad(rd16(p + 2 * i), is_nan)) return (int64_t)i;
        return -1;
    case SPKLLM_TENSOR_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h = rd16(p + 2 * i);
            if ((h & 0x7f80) == 0x7f80) {
                *is_nan = (h & 0x7f) != 0;
                return (int64_t)i;
            }
        }
        return -1;
    case SPKLLM_TENSOR_Q4_0:
    case SPKLLM_TENSOR_Q4_1:
    case SPKLLM_TENSOR_Q8_0: {
        size_t bb = type == SPKLLM_TENSOR_Q4_0 ? 18 : type == SPKLLM_TENSOR_Q4_1 ? 20 : 34;
        for (size_t b = 0; b < n / SPKLLM_QK; b++, p += bb)
            if (half_bad(rd16(p), is_nan) ||
                (type == SPKLLM_TENSOR_Q4_1 && half_bad(rd16(p + 2), is_nan)))
                return (int64_t)(b * SPKLLM_QK);
        return -1;
    }
    }
    return -1;
}

int spkllm_type_uses_q8(spkllm_tensor_type type) {
    return type == SPKLLM_TENSOR_Q4_0 || type == SPKLLM_TENSOR_Q4_1 || type == SPKLLM_TENSOR_Q8_0;
}

void spkllm_quantize_q8(const float *x, spkllm_q8_block *out, size_t n) {
    for (size_t b = 0; b < n / SPKLLM_QK; b++, x += SPKLLM_QK) {
        float amax = 0;
        int finite = 1;
        for (int i = 0; i < SPKLLM_QK; i++) {
            amax = fmaxf(amax, fabsf(x[i]));
            finite &= fabsf(x[i]) <= FLT_MAX; /* false for NaN, which fmaxf would drop */
        }
        float d = finite ? amax / 127.0f : NAN, id = finite && d ? 1.0f / d : 0.0f;
        int sum = 0;
        /* A NaN or infinite activation makes the block's d (and s) NaN, so every product with
         * it is NaN; q is clamped so that roundf never sees NaN (undefined as an int). */
        for (int i = 0; i < SPKLLM_QK; i++) {
            int q = (int)roundf(fminf(127.0f, fmaxf(-127.0f, x[i] * id)));
            out[b].q[i] = (int8_t)q;
            sum += q;
        }
        out[b].d = d;
        out[b].s = d * (float)sum;
    }
}

void spkllm_quantize_row(spkllm_tensor_type type, const float *x, void *out, size_t n) {
    uint8_t *o = out;
    for (size_t b = 0; b < n / SPKLLM_QK; b++, x += SPKLLM_QK) {
        float mn = x[0], mx = x[0], amax = 0, signed_max = 0;
        for (int i = 0; i < SPKLLM_QK; i++) {
            mn = fminf(mn, x[i]), mx = fmaxf(mx, x[i]);
            if (fabsf(x[i]) > amax) amax = fabsf(x[i]), signed_max = x[i];
        }
        if (type == SPKLLM_TENSOR_Q8_0) {
            float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
            wr16(o, spkllm_f32_to_f16(d));
            for (int i = 0; i < SPKLLM_QK; i++)
                o[2 + i] = (uint8_t)(int8_t)roundf(fminf(127.0f, fmaxf(-127.0f, x[i] * id)));
            o += 34;
        } else if (type == SPKLLM_TENSOR_Q4_0) {
            float d = signed_max / -8.0f, id = d ? 1.0f / d : 0.0f;
            wr16(o, spkllm_f32_to_f16(d));
            for (int i = 0; i < 16; i++) {
                int a = (int)fminf(15.0f, x[i] * id + 8.5f);
                int c = (int)fminf(15.0f, x[i + 16] * id + 8.5f);
                o[2 + i] = (uint8_t)(a | (c << 4));
            }
            o += 18;
        } else if (type == SPKLLM_TENSOR_Q4_1) {
            float d = (mx - mn) / 15.0f, id = d ? 1.0f / d : 0.0f;
            wr16(o, spkllm_f32_to_f16(d));
            wr16(o + 2, spkllm_f32_to_f16(mn));
            for (int i = 0; i < 16; i++) {
                int a = (int)fminf(15.0f, (x[i] - mn) * id + 0.5f);
                int c = (int)fminf(15.0f, (x[i + 16] - mn) * id + 0.5f);
                o[4 + i] = (uint8_t)(a | (c << 4));
            }
            o += 20;
        }
    }
}

void spkllm_dequantize_row(spkllm_tensor_type type, const void *row, float *out, size_t n) {
    const uint8_t *p = row;
    switch (type) {
    case SPKLLM_TENSOR_F32:
        memcpy(out, row, n * sizeof(float));
        return;
    case SPKLLM_TENSOR_F16:
        for (size_t i = 0; i < n; i++) out[i] = spkllm_f16_to_f32(rd16(p + 2 * i));
        return;
    case SPKLLM_TENSOR_BF16:
        for (size_t i = 0; i < n; i++) out[i] = spkllm_bf16_to_f32(rd16(p + 2 * i));
        return;
    case SPKLLM_TENSOR_Q4_0:
        for (size_t b = 0; b < n / SPKLLM_QK; b++, p += 18, out += SPKLLM_QK) {
            float d = spkllm_f16_to_f32(rd16(p));
            for (int i = 0; i < 16; i++) {
                out[i] = d * (float)((p[2 + i] & 15) - 8);
                out[i + 16] = d * (float)((p[2 + i] >> 4) - 8);
            }
        }
        return;
    case SPKLLM_TENSOR_Q4_1:
        for (size_t b = 0; b < n / SPKLLM_QK; b++, p += 20, out += SPKLLM_QK) {
            float d = spkllm_f16_to_f32(rd16(p)), m = spkllm_f16_to_f32(rd16(p + 2));
            for (int i = 0; i < 16; i++) {
                out[i] = d * (float)(p[4 + i] & 15) + m;
                out[i + 16] = d * (float)(p[4 + i] >> 4) + m;
            }
        }
        return;
    case SPKLLM_TENSOR_Q8_0:
        for (size_t b = 0; b < n / SPKLLM_QK; b++, p += 34, out += SPKLLM_QK) {
            float d = spkllm_f16_to_f32(rd16(p));
            for (int i = 0; i < SPKLLM_QK; i++) out[i] = d * (float)(int8_t)p[2 + i];
        }
        return;
    }
}

/* ---- portable dot products ------------------------------------------------------------- */

/* The portable kernels reproduce the vector kernels' float arithmetic step for step, so every
 * kernel set gives the same bits (docs/models.md): per block, eight exact integer lane sums
 * (lane l = elements 4l..4l+3, as vpdpbusd and maddubs+madd form them); each lane is accumulated
 * with a fused multiply-add by the block's scale into one of two accumulator sets (even and odd
 * blocks); the sets are added lane by lane and reduced in hsum8's tree. */
typedef struct {
    float a[2][8];
} lane_acc;

static void lanes_fma(lane_acc *acc, size_t b, float scale, const int *sum) {
    for (int l = 0; l < 8; l++) acc->a[b & 1][l] = fmaf(scale, (float)sum[l], acc->a[b & 1][l]);
}

/* hsum8(a0 + a1): ((v0 + v4) + (v2 + v6)) + ((v1 + v5) + (v3 + v7)). */
static float lanes_reduce(const float *a0, const float *a1) {
    float v[8], s[4];
    for (int l = 0; l < 8; l++) v[l] = a0[l] + a1[l];
    for (int i = 0; i < 4; i++) s[i] = v[i] + v[i + 4];
    return (s[0] + s[2]) + (s[1] + s[3]);
}

/* Lane sums of 32 weights (element order) times a block of 8-bit activations. */
static void lane_sums(const int *wq, const int8_t *xq, int *sum) {
    for (int l = 0; l < 8; l++) {
        sum[l] = 0;
        for (int e = 4 * l; e < 4 * l + 4; e++) sum[l] += wq[e] * xq[e];
    }
}

static float dot_q4_0(const uint8_t *w, const spkllm_q8_block *x, size_t nb) {
    lane_acc acc = {{{0}}};
    for (size_t b = 0; b < nb; b++, w += 18) {
        int wq[SPKLLM_QK], sum[8];
        for (int i = 0; i < 16; i++) wq[i] = (w[2 + i] & 15) - 8, wq[i + 16] = (w[2 + i] >> 4) - 8;
        lane_sums(wq, x[b].q, sum);
        lanes_fma(&acc, b, spkllm_f16_to_f32(rd16(w)) * x[b].d, sum);
    }
    return lanes_reduce(acc.a[0], acc.a[1]);
}

static float dot_q4_1(const uint8_t *w, const spkllm_q8_block *x, size_t nb) {
    lane_acc acc = {{{0}}};
    float offs[2] = {0, 0};
    for (size_t b = 0; b < nb; b++, w += 20) {
        int wq[SPKLLM_QK], sum[8];
        for (int i = 0; i < 16; i++) wq[i] = w[4 + i] & 15, wq[i + 16] = w[4 + i] >> 4;
        lane_sums(wq, x[b].q, sum);
        lanes_fma(&acc, b, spkllm_f16_to_f32(rd16(w)) * x[b].d, sum);
        offs[b & 1] += spkllm_f16_to_f32(rd16(w + 2)) * x[b].s;
    }
    return lanes_reduce(acc.a[0], acc.a[1]) + (offs[0] + offs[1]);
}

static float dot_q8_0(const uint8_t *w, const spkllm_q8_block *x, size_t nb) {
    lane_acc acc = {{{0}}};
    for (size_t b = 0; b < nb; b++, w += 34) {
        int wq[SPKLLM_QK], sum[8];
        for (int i = 0; i < SPKLLM_QK; i++) wq[i] = (int8_t)w[2 + i];
        lane_sums(wq, x[b].q, sum);
        lanes_fma(&acc, b, spkllm_f16_to_f32(rd16(w)) * x[b].d, sum);
    }
    return lanes_reduce(acc.a[0], acc.a[1]);
}

static float dot_float(spkllm_tensor_type type, const uint8_t *w, const float *x, size_t n) {
    float acc = 0;
    for (size_t i = 0; i < n; i++) {
        float v;
        if (type == SPKLLM_TENSOR_F32)
            memcpy(&v, w + 4 * i, 4);
        else if (type == SPKLLM_TENSOR_F16)
            v = spkllm_f16_to_f32(rd16(w + 2 * i));
        else
            v = spkllm_bf16_to_f32(rd16(w + 2 * i));
        acc += v * x[i];
    }
    return acc;
}

typedef float (*q_dot_fn)(const uint8_t *w, const spkllm_q8_block *x, size_t nb);
typedef void (*q_dot4_fn)(const uint8_t *w, const spkllm_q8_block *x, size_t stride, size_t nb,
                          float *out);

/* ---- AVX2 + FMA dot products ----------------------------------------------------------- */
#ifdef SPKLLM_X86
#define AVX2 __attribute__((target("avx2,fma,f16c")))

/* Half to float with the F16C instruction (the portable converter is too slow for inner loops). */
AVX2 static inline float h2f(const uint8_t *p) {
    return _cvtsh_ss(rd16(p));
}

AVX2 static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* 32 nibbles as bytes 0..15: low nibbles first (elements 0..15), then high (16..31). */
AVX2 static inline __m256i unpack_nibbles(const uint8_t *p) {
    __m128i b = _mm_loadu_si128((const __m128i *)p);
    __m128i m = _mm_set1_epi8(15);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), m), _mm_and_si128(b, m));
}

/* u8 x s8 products summed in pairs then quads: two instructions on AVX2 ... */
AVX2 static inline __m256i dot_i32_avx2(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* ... one with AVX512-VNNI (256-bit form), which also cannot saturate. */
#define VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512vnni")))
VNNI static inline __m256i dot_i32_vnni(__m256i u, __m256i s) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
}

#define KATTR AVX2
#define KNAME(n) n##_avx2
#define KDOT(u, s) dot_i32_avx2((u), (s))
#include "quant_kernels.h"
#undef KATTR
#undef KNAME
#undef KDOT

#define KATTR VNNI
#define KNAME(n) n##_vnni
#define KDOT(u, s) dot_i32_vnni((u), (s))
#include "quant_kernels.h"
#undef KATTR
#undef KNAME
#undef KDOT

AVX2 static float dot_f32_avx2(const float *a, const float *b, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    float s = hsum8(_mm256_add_ps(s0, s1));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

AVX2 static void axpy_f32_avx2(float a, const float *x, float *y, size_t n) {
    __m256 va = _mm256_set1_ps(a);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i,
                         _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}
#endif

/* ---- dispatch -------------------------------------------------------------------------- */

static atomic_int kernel_limit; /* SPKLLM_KERNELS_AUTO, _AVX2 or _PORTABLE */

/* 0 = portable, 1 = AVX2+FMA+F16C, 2 = that plus AVX512-VNNI; capped by kernel_limit. */
static int kernel_level(void) {
#ifdef SPKLLM_X86
    /* Detected once; racing first calls compute the same value. */
    static atomic_int detected = -1;
    int cached = atomic_load_explicit(&detected, memory_order_relaxed);
    if (cached < 0) {
        __builtin_cpu_init();
        int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                   __builtin_cpu_supports("f16c");
        int vnni = avx2 && __builtin_cpu_supports("avx512f") &&
                   __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
        cached = vnni ? 2 : avx2;
        /* SPKLLM_KERNELS=avx2|portable caps the set for comparisons. */
        const char *env = getenv("SPKLLM_KERNELS");
        if (env && !strcmp(env, "avx2") && cached > 1) cached = 1;
        if (env && !strcmp(env, "portable")) cached = 0;
        atomic_store_explicit(&detected, cached, memory_order_relaxed);
    }
    int limit = atomic_load_explicit(&kernel_limit, memory_order_relaxed);
    int cap = limit == SPKLLM_KERNELS_PORTABLE ? 0 : limit == SPKLLM_KERNELS_AVX2 ? 1 : 2;
    return cached < cap ? cached : cap;
#else
    return 0;
#endif
}

static int have_avx2(void) {
    return kernel_level() >= 1;
}

void spkllm_kernels_limit(int limit) {
    kernel_limit = limit;
}

void spkllm_kernels_force_portable(int force) {
    atomic_store(&kernel_limit, force ? SPKLLM_KERNELS_PORTABLE : SPKLLM_KERNELS_AUTO);
}

const char *spkllm_kernels_name(void) {
    static const char *names[] = {"portable", "avx2", "avx512vnni"};
    return names[kernel_level()];
}

static q_dot_fn pick_dot(spkllm_tensor_type type) {
#ifdef SPKLLM_X86
    int level = kernel_level();
    if (level == 2) {
        if (type == SPKLLM_TENSOR_Q4_1) return dot_q4_1_vnni;
        if (type == SPKLLM_TENSOR_Q4_0) return dot_q4_0_vnni;
        if (type == SPKLLM_TENSOR_Q8_0) return dot_q8_0_vnni;
    }
    if (level == 1) {
        if (type == SPKLLM_TENSOR_Q4_1) return dot_q4_1_avx2;
        if (type == SPKLLM_TENSOR_Q4_0) return dot_q4_0_avx2;
        if (type == SPKLLM_TENSOR_Q8_0) return dot_q8_0_avx2;
    }
#endif
    if (type == SPKLLM_TENSOR_Q4_1) return dot_q4_1;
    if (type == SPKLLM_TENSOR_Q4_0) return dot_q4_0;
    if (type == SPKLLM_TENSOR_Q8_0) return dot_q8_0;
    return NULL;
}

float spkllm_dot_f32(const float *a, const float *b, size_t n) {
#ifdef SPKLLM_X86
    if (have_avx2()) return dot_f32_avx2(a, b, n);
#endif
    /* dot_f32_avx2's order: two 8-lane fused accumulators over 16 elements, then the tail. */
    lane_acc acc = {{{0}}};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int l = 0; l < 8; l++) {
            acc.a[0][l] = fmaf(a[i + l], b[i + l], acc.a[0][l]);
            acc.a[1][l] = fmaf(a[i + 8 + l], b[i + 8 + l], acc.a[1][l]);
        }
    float s = lanes_reduce(acc.a[0], acc.a[1]);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

void spkllm_axpy_f32(float a, const float *x, float *y, size_t n) {
#ifdef SPKLLM_X86
    if (have_avx2()) {
        axpy_f32_avx2(a, x, y, n);
        return;
    }
#endif
    /* axpy_f32_avx2's arithmetic: fused in whole groups of 8, the tail unfused. */
    size_t i = 0, whole = n / 8 * 8;
    for (; i < whole; i++) y[i] = fmaf(a, x[i], y[i]);
    for (; i < n; i++) y[i] += a * x[i];
}

static q_dot4_fn pick_dot4(spkllm_tensor_type type) {
#ifdef SPKLLM_X86
    int level = kernel_level();
    if (level == 2) {
        if (type == SPKLLM_TENSOR_Q4_1) return dot4_q4_1_vnni;
        if (type == SPKLLM_TENSOR_Q4_0) return dot4_q4_0_vnni;
        if (type == SPKLLM_TENSOR_Q8_0) return dot4_q8_0_vnni;
    }
    if (level == 1) {
        if (type == SPKLLM_TENSOR_Q4_1) return dot4_q4_1_avx2;
        if (type == SPKLLM_TENSOR_Q4_0) return dot4_q4_0_avx2;
        if (type == SPKLLM_TENSOR_Q8_0) return dot4_q8_0_avx2;
    }
#endif
    (void)type;
    return NULL;
}

void spkllm_matmul_rows(spkllm_tensor_type type, const void *w, size_t n, size_t r0, size_t r1,
                        const float *x, const spkllm_q8_block *xq, size_t n_cols, float *out,
                        size_t out_stride) {
    size_t rb = spkllm_row_bytes(type, n), nb = n / SPKLLM_QK;
    q_dot_fn dot = pick_dot(type);
    q_dot4_fn dot4 = pick_dot4(type);
    const uint8_t *base = w;
    for (size_t r = r0; r < r1; r++) {
        const uint8_t *row = base + r * rb;
        size_t c = 0;
        if (dot4)
            for (; c + 4 <= n_cols; c += 4) {
                float o[4];
                dot4(row, xq + c * nb, nb, nb, o);
                for (int k = 0; k < 4; k++) out[(c + (size_t)k) * out_stride + r] = o[k];
            }
        for (; c < n_cols; c++)
            out[c * out_stride + r] =
                dot ? dot(row, xq + c * nb, nb) : dot_float(type, row, x + c * n, n);
    }
}
