/**
 * @file gguf.h
 * @brief Validating reader for GGUF version 3 files (the llama.cpp model format).
 *
 * The file is memory-mapped (or borrowed from a caller's buffer) and every size, offset, count
 * and type is checked against the file length before use; a malformed file is refused with a
 * message that names the offending field. Strings and tensor data point into the mapping.
 */
#ifndef SPKLLM_GGUF_H
#define SPKLLM_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spkllm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Metadata value types, numbered as in the GGUF specification. */
typedef enum {
    SPKLLM_GGUF_UINT8 = 0,
    SPKLLM_GGUF_INT8 = 1,
    SPKLLM_GGUF_UINT16 = 2,
    SPKLLM_GGUF_INT16 = 3,
    SPKLLM_GGUF_UINT32 = 4,
    SPKLLM_GGUF_INT32 = 5,
    SPKLLM_GGUF_FLOAT32 = 6,
    SPKLLM_GGUF_BOOL = 7,
    SPKLLM_GGUF_STRING = 8,
    SPKLLM_GGUF_ARRAY = 9,
    SPKLLM_GGUF_UINT64 = 10,
    SPKLLM_GGUF_INT64 = 11,
    SPKLLM_GGUF_FLOAT64 = 12,
} spkllm_gguf_type;

/** Tensor element types, numbered as in ggml. Only these are accepted. */
typedef enum {
    SPKLLM_TENSOR_F32 = 0,
    SPKLLM_TENSOR_F16 = 1,
    SPKLLM_TENSOR_Q4_0 = 2,
    SPKLLM_TENSOR_Q4_1 = 3,
    SPKLLM_TENSOR_Q8_0 = 8,
    SPKLLM_TENSOR_BF16 = 30,
} spkllm_tensor_type;

/** A string inside the mapping: not NUL-terminated. */
typedef struct {
    const char *ptr;
    uint64_t len;
} spkllm_str;

/** One metadata key/value. Scalars are widened into @c u, @c i, @c f, @c b or @c s. */
typedef struct {
    spkllm_str key;
    spkllm_gguf_type type;
    union {
        uint64_t u; /**< UINT8..UINT64 */
        int64_t i;  /**< INT8..INT64 */
        double f;   /**< FLOAT32, FLOAT64 */
        bool b;     /**< BOOL */
        spkllm_str s;
    } v;
    spkllm_gguf_type arr_type; /**< element type when type == ARRAY */
    uint64_t arr_len;          /**< element count when type == ARRAY */
    const uint8_t *arr_data;   /**< first element (raw little-endian encoding) */
    uint64_t arr_bytes;        /**< encoded size of all elements */
} spkllm_gguf_kv;

/** One tensor record; @c data points at its validated bytes in the mapping. */
typedef struct {
    spkllm_str name;
    uint32_t n_dims;
    uint64_t ne[4]; /**< ne[0] is the contiguous (row) dimension; unused dims are 1 */
    spkllm_tensor_type type;
    uint64_t offset; /**< relative to the start of the tensor data section */
    uint64_t n_elems;
    uint64_t n_bytes;
    const void *data;
} spkllm_gguf_tensor;

/** An open GGUF file. */
typedef struct {
    const uint8_t *base; /**< the whole file */
    size_t size;
    bool mapped; /**< true when base is our mmap (unmapped by close) */
    uint32_t version;
    uint64_t n_kv;
    uint64_t n_tensors;
    spkllm_gguf_kv *kv;
    spkllm_gguf_tensor *tensors;
    uint64_t alignment;
    uint64_t data_offset;
} spkllm_gguf;

/**
 * Maps and validates @p path. On failure writes a message naming the problem into @p err
 * (may be NULL) and returns an error; @p out is then left empty and need not be closed.
 */
spkllm_status spkllm_gguf_open(const char *path, spkllm_gguf *out, char *err, size_t err_len);

/** Validates a GGUF image in memory; the buffer must outlive @p out (it is not copied). */
spkllm_status spkllm_gguf_open_memory(const void *buf, size_t size, spkllm_gguf *out, char *err,
                                      size_t err_len);

/** Releases what open allocated (safe on a zeroed struct). */
void spkllm_gguf_close(spkllm_gguf *g);

/** @return the key/value named @p key, or NULL. */
const spkllm_gguf_kv *spkllm_gguf_find_kv(const spkllm_gguf *g, const char *key);

/** @return the tensor named @p name, or NULL. */
const spkllm_gguf_tensor *spkllm_gguf_find_tensor(const spkllm_gguf *g, const char *name);

/** Reads an integer key of any integer type into @p out if it fits in uint32. */
spkllm_status spkllm_gguf_get_u32(const spkllm_gguf *g, const char *key, uint32_t *out);
/** Reads a FLOAT32/FLOAT64 key. */
spkllm_status spkllm_gguf_get_f32(const spkllm_gguf *g, const char *key, float *out);
/** Reads a BOOL key. */
spkllm_status spkllm_gguf_get_bool(const spkllm_gguf *g, const char *key, bool *out);
/** Reads a STRING key. */
spkllm_status spkllm_gguf_get_str(const spkllm_gguf *g, const char *key, spkllm_str *out);

/** @return true when @p s equals the NUL-terminated @p lit. */
bool spkllm_str_eq(spkllm_str s, const char *lit);

/**
 * Walks a validated STRING array: reads the string at @p *cursor and advances it.
 * Start with @c cursor = kv->arr_data; call exactly arr_len times.
 */
spkllm_str spkllm_gguf_next_str(const uint8_t **cursor);

/** @return the name of a tensor type ("Q4_1", ...) or "?" */
const char *spkllm_tensor_type_name(spkllm_tensor_type type);

/** Elements per block and bytes per block of @p type; false for an unknown type. */
bool spkllm_tensor_type_layout(uint32_t type, uint32_t *block_elems, uint32_t *block_bytes);

#ifdef __cplusplus
}
#endif

#endif
