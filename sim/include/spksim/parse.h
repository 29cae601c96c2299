/**
 * @file parse.h
 * @brief Strict parsing of command-line numbers, shared by spk-attn, spk-sim and spk-llm.
 *
 * A number is the whole string: no leading or trailing space, no sign on an unsigned value, no
 * '+', base 10 (hexadecimal "0x..." only with SPK_PARSE_HEX, where a tool documents it). Doubles
 * are finite decimal numbers ("nan", "inf" and hexadecimal floats are refused). Every value is
 * range-checked. On failure the functions return -1 and write a message naming the option, such
 * as "--seed: 'abc' is not a whole number" or "--top-p: 2 is above 1", to err.
 */
#ifndef SPKSIM_PARSE_H
#define SPKSIM_PARSE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Flags of the parse functions. */
enum {
    SPK_PARSE_HEX = 1,     /**< integers: also accept 0x followed by hexadecimal digits */
    SPK_PARSE_LO_OPEN = 2, /**< doubles: the value must be above lo, not equal to it */
    SPK_PARSE_HI_OPEN = 4  /**< doubles: the value must be below hi, not equal to it */
};

/** @brief An unsigned integer in lo..hi. @return 0, or -1 with a message in err. */
int spk_parse_u64(const char *opt, const char *s, uint64_t lo, uint64_t hi, int flags,
                  uint64_t *out, char *err, size_t err_len);

/** @brief A signed integer in lo..hi. @return 0, or -1 with a message in err. */
int spk_parse_i64(const char *opt, const char *s, int64_t lo, int64_t hi, int flags, int64_t *out,
                  char *err, size_t err_len);

/** @brief A finite double in lo..hi (ends excluded by the _OPEN flags). @return 0 or -1. */
int spk_parse_double(const char *opt, const char *s, double lo, double hi, int flags, double *out,
                     char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif
