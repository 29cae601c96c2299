/* Registry of live handles (handles.h): an open-addressing hash set of (pointer, kind), grown
 * by doubling, with tombstones for removed entries, under one mutex. */
#include "handles.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct slot {
    uintptr_t ptr; /* 0: empty; 1: removed */
    int kind;
} slot;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static slot *slots;
static size_t cap, used; /* used counts live and removed slots */

static size_t hash(uintptr_t p) {
    uint64_t x = (uint64_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x;
}

/* The slot holding @p p, or the first free one for it (NULL if the table is empty). */
static slot *find(uintptr_t p, int for_insert) {
    if (!cap) return NULL;
    slot *tomb = NULL;
    for (size_t i = hash(p) & (cap - 1), n = 0; n < cap; i = (i + 1) & (cap - 1), n++) {
        slot *s = &slots[i];
        if (s->ptr == p) return s;
        if (s->ptr == 1 && !tomb) tomb = s;
        if (s->ptr == 0) return for_insert ? (tomb ? tomb : s) : NULL;
    }
    return for_insert ? tomb : NULL;
}

static int grow(void) {
    const size_t new_cap = cap ? cap * 2 : 256;
    slot *old = slots;
    const size_t old_cap = cap;
    slots = calloc(new_cap, sizeof(*slots));
    if (!slots) {
        slots = old;
        return -1;
    }
    cap = new_cap;
    used = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].ptr > 1) {
            *find(old[i].ptr, 1) = old[i];
            used++;
        }
    free(old);
    return 0;
}

int spk_handle_add(spk_handle_kind kind, const void *ptr) {
    int rc = 0;
    pthread_mutex_lock(&lock);
    if ((used + 1) * 2 > cap) rc = grow();
    if (rc == 0) {
        slot *s = find((uintptr_t)ptr, 1);
        if (s->ptr == 0) used++;
        s->ptr = (uintptr_t)ptr;
        s->kind = kind;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

int spk_handle_remove(spk_handle_kind kind, const void *ptr) {
    int rc = -1;
    pthread_mutex_lock(&lock);
    slot *s = ptr ? find((uintptr_t)ptr, 0) : NULL;
    if (s && s->kind == (int)kind) {
        s->ptr = 1;
        rc = 0;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

int spk_handle_live(spk_handle_kind kind, const void *ptr) {
    pthread_mutex_lock(&lock);
    const slot *s = ptr ? find((uintptr_t)ptr, 0) : NULL;
    const int live = s && s->kind == (int)kind;
    pthread_mutex_unlock(&lock);
    return live;
}
