/* The registry of live handles: every buffer object, context and fence the driver handed out and
 * has not freed. Public entry points check a handle here before they touch it, so a freed,
 * twice-freed or made-up pointer gives SPK_E_ARG instead of a use-after-free. Thread-safe. */
#ifndef SPK_DRIVER_HANDLES_H
#define SPK_DRIVER_HANDLES_H

typedef enum spk_handle_kind {
    SPK_HANDLE_BO = 1,
    SPK_HANDLE_ATTN = 2,
    SPK_HANDLE_FENCE = 3,
} spk_handle_kind;

/* Register a new handle; 0, or -1 when out of memory. */
int spk_handle_add(spk_handle_kind kind, const void *ptr);
/* Forget a handle (freed); 0, or -1 if it was not registered as that kind. */
int spk_handle_remove(spk_handle_kind kind, const void *ptr);
/* 1 if @p ptr is a live handle of @p kind (the pointer is never dereferenced). */
int spk_handle_live(spk_handle_kind kind, const void *ptr);

#endif
