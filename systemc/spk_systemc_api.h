/* How libspk's `systemc` backend (driver/src/backend_systemc.c) reaches a SystemC platform: a
 * function named SPK_SYSTEMC_PLATFORM_SYMBOL in the program itself (a virtual platform whose
 * CPU threads run libspk, like spk-vp, exports it), else SPK_SYSTEMC_API_SYMBOL of the plugin
 * libspk-systemc.so (its own platform, elaborated at the first open). Both return this table. */
#ifndef SPK_SYSTEMC_API_H
#define SPK_SYSTEMC_API_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SPK_SYSTEMC_API_VERSION 1u
#define SPK_SYSTEMC_API_SYMBOL "spk_systemc_api_v1"
#define SPK_SYSTEMC_PLATFORM_SYMBOL "spk_systemc_platform_v1"

typedef struct spk_systemc_api {
    uint32_t version; /* SPK_SYSTEMC_API_VERSION */
    /* Open a device of the platform: 0 with *out set, or -1 with a message in err. */
    int (*open)(const spk_backend_config *cfg, spk_backend **out, char *err, size_t err_len);
} spk_systemc_api;

typedef const spk_systemc_api *(*spk_systemc_api_fn)(void);

#ifdef __cplusplus
}
#endif

#endif
