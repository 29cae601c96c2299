/**
 * @file status.h
 * @brief Status codes shared by every libspkllm call.
 */
#ifndef SPKLLM_STATUS_H
#define SPKLLM_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/** Result of a libspkllm call. Calls that can fail also write a message naming the problem. */
typedef enum {
    SPKLLM_OK = 0,          /**< success */
    SPKLLM_ERR_IO,          /**< the file could not be opened, read or mapped */
    SPKLLM_ERR_FORMAT,      /**< the file is malformed (the message names the field) */
    SPKLLM_ERR_UNSUPPORTED, /**< well-formed but not supported (type, architecture, ...) */
    SPKLLM_ERR_NOMEM,       /**< out of memory */
    SPKLLM_ERR_ARG,         /**< bad argument from the caller */
    SPKLLM_ERR_NOT_FOUND,   /**< a required key or tensor is missing */
} spkllm_status;

/** @return a static, human-readable name of @p status. */
const char *spkllm_status_str(spkllm_status status);

#ifdef __cplusplus
}
#endif

#endif
