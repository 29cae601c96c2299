/* Per-thread detailed error message behind spk_last_error(). */
#ifndef SPK_DRIVER_ERROR_H
#define SPK_DRIVER_ERROR_H

#include "spk/spk.h"

/* Longest message kept (with its NUL): a link failure names the port, the last frame and the
 * resynchronisation's outcome, well over 200 characters. */
#define SPK_ERROR_MAX 1024

/* Record a printf-style message for spk_last_error() and return @p status. */
spk_status spk_fail(spk_status status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Clear the message (a call that succeeds). */
spk_status spk_ok(void);

#endif
