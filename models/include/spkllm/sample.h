/**
 * @file sample.h
 * @brief Next-token sampling: greedy, temperature and nucleus (top-p), with a seeded generator.
 */
#ifndef SPKLLM_SAMPLE_H
#define SPKLLM_SAMPLE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Sampler settings and state. temp <= 0 means greedy (argmax). */
typedef struct {
    float temp;
    float top_p;
    uint64_t rng; /**< generator state, set from the seed by spkllm_sampler_init */
} spkllm_sampler;

/** Initialises @p s with temperature, top-p in (0, 1] and a seed. */
void spkllm_sampler_init(spkllm_sampler *s, float temp, float top_p, uint64_t seed);

/**
 * Picks a token from @p n_vocab logits. @p scratch must hold 2 * n_vocab floats.
 * @return the token id.
 */
int32_t spkllm_sample(spkllm_sampler *s, const float *logits, int n_vocab, float *scratch);

#ifdef __cplusplus
}
#endif

#endif
