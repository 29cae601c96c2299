/**
 * @file status.h
 * @brief Status codes of the simulation libraries (golden model, utilities).
 */
#ifndef SPKSIM_STATUS_H
#define SPKSIM_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Result of a golden-model or utility call. */
typedef enum spksim_status {
    SPKSIM_OK = 0,         /**< success */
    SPKSIM_E_ARG = -1,     /**< an argument is NULL, out of range or inconsistent */
    SPKSIM_E_RANGE = -2,   /**< a value cannot be represented (non-finite, too large) */
    SPKSIM_E_NOMEM = -3,   /**< out of memory */
    SPKSIM_E_IO = -4,      /**< a file could not be opened, read or written */
    SPKSIM_E_FORMAT = -5,  /**< a file is malformed or of an unsupported kind */
    SPKSIM_E_CAPACITY = -6 /**< more keys or tokens than the object was created for */
} spksim_status;

/** @brief A short English description of a status code. */
const char *spksim_status_str(spksim_status s);

#ifdef __cplusplus
}
#endif

#endif
