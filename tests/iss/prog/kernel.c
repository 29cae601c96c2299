/* A small integer workload compiled twice: natively into test-iss and for RV32IM by the cross
 * compiler. The simulator must compute the same result as the host CPU. Only fixed-width,
 * fully defined operations (no signed overflow, no division by zero, no INT_MIN / -1). */
#include "kernel.h"

static uint32_t fib(uint32_t n) {
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static void sort(uint32_t *v, uint32_t n) {
    for (uint32_t i = 1; i < n; i++) {
        uint32_t x = v[i], j = i;
        for (; j > 0 && v[j - 1] > x; j--) v[j] = v[j - 1];
        v[j] = x;
    }
}

uint32_t spk_iss_kernel(uint32_t seed) {
    uint32_t v[48];
    uint32_t x = seed | 1u;
    for (uint32_t i = 0; i < 48; i++) {
        x = x * 1664525u + 1013904223u;
        v[i] = x;
    }
    sort(v, 48);
    uint32_t acc = fib(12);
    for (uint32_t i = 0; i < 48; i++) {
        int32_t s = (int32_t)(v[i] >> 1) - (int32_t)(v[(i + 7) % 48] >> 1);
        int32_t div = (int32_t)(i % 13) - 6;
        if (div == 0) div = 7;
        uint64_t wide = (uint64_t)v[i] * (uint64_t)(acc | 1u);
        int64_t swide = (int64_t)s * (int64_t)div;
        acc ^= (uint32_t)(wide >> 32) + (uint32_t)wide;
        acc += (uint32_t)(swide >> 32) ^ (uint32_t)(s / div) ^ (uint32_t)(s % div);
        acc = (acc << 5 | acc >> 27) + v[i] / ((i | 1u) * 3u) + v[i] % (i + 3u);
        acc ^= (uint32_t)((int32_t)acc >> (i & 31));
        if ((int16_t)acc < 0) acc += (uint8_t)v[i];
    }
    return acc;
}
