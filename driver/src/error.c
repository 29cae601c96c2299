/* Status names and the per-thread error message. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[SPK_ERROR_MAX];

const char *spk_status_str(spk_status status) {
    switch (status) {
    case SPK_OK:
        return "success";
    case SPK_E_ARG:
        return "invalid argument";
    case SPK_E_NOMEM:
        return "out of memory";
    case SPK_E_BACKEND:
        return "unknown or unavailable backend";
    case SPK_E_FW:
        return "firmware refused";
    case SPK_E_TIMEOUT:
        return "timed out";
    case SPK_E_DEVICE:
        return "device error";
    case SPK_E_RANGE:
        return "address out of range";
    case SPK_E_STATE:
        return "invalid state";
    case SPK_E_IO:
        return "I/O error";
    }
    return "unknown status";
}

const char *spk_last_error(void) {
    return last_error;
}

spk_status spk_fail(spk_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
    return status;
}

spk_status spk_ok(void) {
    last_error[0] = '\0';
    return SPK_OK;
}
