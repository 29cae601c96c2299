// Random attention inputs, their quantization, and the float reference used by the tests.
#ifndef TESTS_GOLDEN_ATTENTION_FIXTURE_H
#define TESTS_GOLDEN_ATTENTION_FIXTURE_H

#include <cmath>
#include <random>
#include <vector>

#include "spksim/layer.h"

struct Quantized {
    std::vector<int16_t> codes;
    std::vector<spk_scale> scales;
};

// Quantize rows of d floats to `bits`; with logit=true the scale is the query logit scale.
inline Quantized quantize_rows(const std::vector<float> &x, uint32_t d, uint32_t bits, bool logit) {
    Quantized q;
    size_t rows = x.size() / d;
    q.codes.resize(x.size());
    q.scales.resize(rows);
    for (size_t r = 0; r < rows; r++) {
        if (spk_quantize_row(&x[r * d], d, bits, &q.codes[r * d], &q.scales[r]) != SPKSIM_OK)
            throw std::runtime_error("quantize");
        if (logit && spk_logit_scale(q.scales[r], d, &q.scales[r]) != SPKSIM_OK)
            throw std::runtime_error("logit scale");
    }
    return q;
}

inline std::vector<float> random_normal(size_t n, std::mt19937 &rng, float sigma = 1.0f) {
    std::normal_distribution<float> nd(0.0f, sigma);
    std::vector<float> v(n);
    for (auto &x : v) x = nd(rng);
    return v;
}

// softmax(q . k_j / sqrt(d)) v over the given key rows, in double precision.
inline std::vector<double> float_attention(const float *q, const float *k, const float *v,
                                           const std::vector<uint32_t> &keys, uint32_t d) {
    std::vector<double> s(keys.size()), out(d, 0.0);
    double mx = -1e300, sum = 0;
    for (size_t j = 0; j < keys.size(); j++) {
        double acc = 0;
        for (uint32_t i = 0; i < d; i++) acc += (double)q[i] * k[(size_t)keys[j] * d + i];
        s[j] = acc / std::sqrt((double)d);
        mx = std::max(mx, s[j]);
    }
    for (auto &x : s) sum += (x = std::exp(x - mx));
    for (size_t j = 0; j < keys.size(); j++)
        for (uint32_t i = 0; i < d; i++) out[i] += s[j] / sum * v[(size_t)keys[j] * d + i];
    return out;
}

#endif
