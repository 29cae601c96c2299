/**
 * @file npy.h
 * @brief NumPy .npy reading and writing (format versions 1.0, 2.0, 3.0; little-endian; C order).
 *
 * Anything else (big-endian data, Fortran order, object or string dtypes, a header or data size
 * that disagrees with the file) is rejected with a message naming the problem.
 */
#ifndef SPKSIM_NPY_H
#define SPKSIM_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "spksim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Most dimensions an array may have. */
#define SPK_NPY_MAX_DIMS 8

/** @brief Element types the kit reads. */
typedef enum spk_npy_dtype {
    SPK_NPY_F32,
    SPK_NPY_F64,
    SPK_NPY_I8,
    SPK_NPY_I16,
    SPK_NPY_I32,
    SPK_NPY_I64,
    SPK_NPY_U8,
    SPK_NPY_U16,
    SPK_NPY_U32
} spk_npy_dtype;

/** @brief An array in memory. */
typedef struct spk_npy {
    spk_npy_dtype dtype;              /**< element type */
    uint32_t ndim;                    /**< number of dimensions (0 for a scalar) */
    uint64_t shape[SPK_NPY_MAX_DIMS]; /**< extent of each dimension */
    uint64_t count;                   /**< number of elements */
    void *data;                       /**< count elements, C order */
} spk_npy;

/** @brief Size in bytes of one element of @p t. */
size_t spk_npy_dtype_size(spk_npy_dtype t);

/**
 * @brief Read a .npy file. On failure @p err (may be NULL) holds a message that names the file
 * and the problem, and @p out is left empty.
 */
spksim_status spk_npy_read(const char *path, spk_npy *out, char *err, size_t err_len);

/**
 * @brief Parse .npy bytes already in memory (what spk_npy_read does after reading the file).
 * @p name is used in messages.
 */
spksim_status spk_npy_parse(const uint8_t *bytes, size_t len, const char *name, spk_npy *out,
                            char *err, size_t err_len);

/**
 * @brief Convert an array to float32 in place. Integers must be exactly representable
 * (|x| <= 2^24); float64 values must be finite and within float32 range.
 */
spksim_status spk_npy_to_f32(spk_npy *a, char *err, size_t err_len);

/** @brief Write float32 data as a version 1.0 .npy file. */
spksim_status spk_npy_write_f32(const char *path, const float *data, uint32_t ndim,
                                const uint64_t *shape, char *err, size_t err_len);

/** @brief Release the data of an array (the struct itself is the caller's). */
void spk_npy_free(spk_npy *a);

#ifdef __cplusplus
}
#endif

#endif
