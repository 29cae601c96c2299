/**
 * @file pool.h
 * @brief A small fork-join thread pool: the caller plus (n_threads - 1) workers share the tasks
 * of one run. Workers spin briefly between runs (a token needs hundreds of short runs) and
 * then sleep on a condition variable, so an idle pool costs no CPU.
 */
#ifndef SPKLLM_POOL_H
#define SPKLLM_POOL_H

#include <stddef.h>

#include "spkllm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct spkllm_pool spkllm_pool;

/** Work item: runs task number @p task on thread @p thread (0 = the caller). */
typedef void (*spkllm_task_fn)(void *arg, size_t task, int thread);

/** Starts a pool of @p n_threads threads in total (1 = run everything on the caller). */
spkllm_status spkllm_pool_create(int n_threads, spkllm_pool **out);

/** Stops and frees the pool (NULL is allowed). */
void spkllm_pool_destroy(spkllm_pool *pool);

/** Number of threads including the caller (1 for a NULL pool). */
int spkllm_pool_threads(const spkllm_pool *pool);

/** Runs fn(arg, t, thread) for t in [0, n_tasks) and returns when all are done. NULL pool runs
 *  them on the caller. */
void spkllm_pool_run(spkllm_pool *pool, size_t n_tasks, spkllm_task_fn fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif
