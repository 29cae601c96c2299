/* Code point classes for the pre-tokenizer (internal to libspkllm). */
#ifndef SPKLLM_UNICODE_TABLES_H
#define SPKLLM_UNICODE_TABLES_H

#include <stddef.h>
#include <stdint.h>

/** Inclusive code point range. */
typedef struct {
    uint32_t lo, hi;
} spkllm_cp_range;

extern const spkllm_cp_range spkllm_letter_ranges[];
extern const size_t spkllm_letter_ranges_count;
extern const spkllm_cp_range spkllm_number_ranges[];
extern const size_t spkllm_number_ranges_count;

#endif
