#include "spkllm/sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void spkllm_sampler_init(spkllm_sampler *s, float temp, float top_p, uint64_t seed) {
    s->temp = temp;
    s->top_p = top_p > 0 && top_p <= 1 ? top_p : 1.0f;
    s->rng = seed * 0x9e3779b97f4a7c15ull + 1;
}

/* splitmix64 -> uniform float in [0, 1). */
static float uniform(spkllm_sampler *s) {
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (float)(z >> 40) / 16777216.0f;
}

static int by_prob_desc(const void *a, const void *b) {
    float x = ((const float *)a)[0], y = ((const float *)b)[0];
    return x > y ? -1 : x < y;
}

int32_t spkllm_sample(spkllm_sampler *s, const float *logits, int n, float *scratch) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = i;
    if (s->temp <= 0) return best;
    /* scratch holds (probability, id) pairs */
    float mx = logits[best], sum = 0;
    for (int i = 0; i < n; i++) {
        float p = expf((logits[i] - mx) / s->temp);
        scratch[2 * i] = p, scratch[2 * i + 1] = (float)i;
        sum += p;
    }
    for (int i = 0; i < n; i++) scratch[2 * i] /= sum;
    qsort(scratch, (size_t)n, 2 * sizeof(float), by_prob_desc);
    float mass = 0;
    int keep = 0;
    while (keep < n && (keep == 0 || mass < s->top_p)) mass += scratch[2 * keep++];
    float r = uniform(s) * mass, acc = 0;
    for (int i = 0; i < keep; i++) {
        acc += scratch[2 * i];
        if (r < acc) return (int32_t)scratch[2 * i + 1];
    }
    return (int32_t)scratch[2 * (keep - 1) + 1];
}
