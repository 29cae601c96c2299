/**
 * @file json.h
 * @brief A tiny streaming JSON writer for the tools' statistics and reports.
 *
 * Values are written as they come; inside an object every value takes a key, inside an array
 * (or at the top level) the key is NULL. Output is indented, two spaces per level.
 */
#ifndef SPKSIM_JSON_H
#define SPKSIM_JSON_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Deepest nesting the writer supports. */
#define SPK_JSON_MAX_DEPTH 32

/** @brief Writer state; initialise with spk_json_init(). */
typedef struct spk_json {
    FILE *f;                       /**< destination */
    int depth;                     /**< current nesting */
    int count[SPK_JSON_MAX_DEPTH]; /**< values written at each level */
    int error;                     /**< set when nesting was misused or too deep */
} spk_json;

/** @brief Start writing to @p f. */
void spk_json_init(spk_json *j, FILE *f);
/** @brief Open an object (as the value of @p key when inside an object). */
void spk_json_object_begin(spk_json *j, const char *key);
/** @brief Close the innermost object. */
void spk_json_object_end(spk_json *j);
/** @brief Open an array. */
void spk_json_array_begin(spk_json *j, const char *key);
/** @brief Close the innermost array. */
void spk_json_array_end(spk_json *j);
/** @brief Write an unsigned integer. */
void spk_json_u64(spk_json *j, const char *key, uint64_t v);
/** @brief Write a signed integer. */
void spk_json_i64(spk_json *j, const char *key, int64_t v);
/** @brief Write a number (non-finite values become null, which JSON requires). */
void spk_json_double(spk_json *j, const char *key, double v);
/** @brief Write a string, escaped. */
void spk_json_string(spk_json *j, const char *key, const char *s);
/** @brief Write true or false. */
void spk_json_bool(spk_json *j, const char *key, int v);
/** @brief Finish (a newline after the top-level value); returns 0, or -1 on misuse/IO error. */
int spk_json_finish(spk_json *j);

#ifdef __cplusplus
}
#endif

#endif
