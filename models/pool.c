/* Fork-join pool. A run publishes (fn, arg, n_tasks) and a new job number; every thread then
 * claims task numbers from one 64-bit counter that holds (job << 32 | next task), so a worker
 * that wakes late can never claim a task of another job. The caller waits for the tasks to be
 * done, not for the workers to answer: when another process holds a core, the caller simply
 * runs all the tasks itself instead of waiting for a descheduled worker. */
#include "spkllm/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#define SPIN_ROUNDS 4000
#define YIELD_ROUNDS 2000
#define MAX_TASKS 0xffffffffu
#define CLOSED MAX_TASKS /* index of a job whose fields are being written */

struct spkllm_pool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_uint_fast64_t counter; /* job << 32 | next task */
    atomic_size_t done;           /* tasks of the current job completed */
    atomic_int quit;
    _Atomic(spkllm_task_fn) fn;
    _Atomic(void *) arg;
    atomic_size_t n_tasks;
};

typedef struct {
    spkllm_pool *pool;
    int id;
} worker_arg;

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static uint32_t job_of(uint_fast64_t c) {
    return (uint32_t)(c >> 32);
}

/* Runs tasks of job @p job until none is left (or the pool moved on to another job). The job's
 * fields are read only after its counter is open (index != CLOSED), and they are written only
 * while it is closed, so a worker never mixes two jobs. */
static void drain(spkllm_pool *p, uint32_t job, int id) {
    uint_fast64_t c = atomic_load(&p->counter);
    for (int spins = 0; job_of(c) == job && (c & MAX_TASKS) == CLOSED; spins++) {
        if (spins > SPIN_ROUNDS) return; /* the caller is slow to publish: it runs the tasks */
        cpu_relax();
        c = atomic_load(&p->counter);
    }
    if (job_of(c) != job) return;
    spkllm_task_fn fn = atomic_load(&p->fn);
    void *arg = atomic_load(&p->arg);
    size_t n = atomic_load(&p->n_tasks);
    for (;;) {
        if (job_of(c) != job || (c & MAX_TASKS) >= n) return;
        if (!atomic_compare_exchange_weak(&p->counter, &c, c + 1)) continue;
        fn(arg, (size_t)(c & MAX_TASKS), id);
        atomic_fetch_add(&p->done, 1);
        c = atomic_load(&p->counter);
    }
}

static void *worker_main(void *raw) {
    worker_arg *wa = raw;
    spkllm_pool *p = wa->pool;
    int id = wa->id;
    free(wa);
    uint32_t seen = 0;
    for (;;) {
        /* Poll for the next job: busy briefly, then yielding (cheap when this core is idle,
         * polite when it is shared) for about a millisecond, then sleep. */
        int spins = 0;
        while (job_of(atomic_load(&p->counter)) == seen && !atomic_load(&p->quit) &&
               spins++ < SPIN_ROUNDS + YIELD_ROUNDS) {
            if (spins < SPIN_ROUNDS)
                cpu_relax();
            else
                sched_yield();
        }
        if (job_of(atomic_load(&p->counter)) == seen && !atomic_load(&p->quit)) {
            pthread_mutex_lock(&p->lock);
            while (job_of(atomic_load(&p->counter)) == seen && !atomic_load(&p->quit))
                pthread_cond_wait(&p->wake, &p->lock);
            pthread_mutex_unlock(&p->lock);
        }
        if (atomic_load(&p->quit)) break;
        seen = job_of(atomic_load(&p->counter));
        drain(p, seen, id);
    }
    return NULL;
}

spkllm_status spkllm_pool_create(int n_threads, spkllm_pool **out) {
    *out = NULL;
    if (n_threads < 1 || n_threads > 256) return SPKLLM_ERR_ARG;
    spkllm_pool *p = calloc(1, sizeof *p);
    if (!p) return SPKLLM_ERR_NOMEM;
    p->n_threads = n_threads;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    if (!p->threads) {
        spkllm_pool_destroy(p);
        return SPKLLM_ERR_NOMEM;
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa ||
            (wa->pool = p, wa->id = i, pthread_create(&p->threads[i], NULL, worker_main, wa))) {
            free(wa);
            p->n_threads = i; /* only join the ones that started */
            spkllm_pool_destroy(p);
            return SPKLLM_ERR_NOMEM;
        }
    }
    *out = p;
    return SPKLLM_OK;
}

void spkllm_pool_destroy(spkllm_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->quit, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 1; i < p->n_threads; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    free(p->threads);
    free(p);
}

int spkllm_pool_threads(const spkllm_pool *p) {
    return p ? p->n_threads : 1;
}

void spkllm_pool_run(spkllm_pool *p, size_t n_tasks, spkllm_task_fn fn, void *arg) {
    if (!p || p->n_threads == 1 || n_tasks <= 1 || n_tasks >= MAX_TASKS) {
        for (size_t t = 0; t < n_tasks; t++) fn(arg, t, 0);
        return;
    }
    /* Every task of the previous job is done, so no worker is inside one. Close the counter
     * under the new job number, write the fields, then open it. */
    uint32_t job = job_of(atomic_load(&p->counter)) + 1;
    atomic_store(&p->counter, (uint_fast64_t)job << 32 | CLOSED);
    atomic_store(&p->fn, fn);
    atomic_store(&p->arg, arg);
    atomic_store(&p->n_tasks, n_tasks);
    atomic_store(&p->done, 0);
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->counter, (uint_fast64_t)job << 32);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    drain(p, job, 0);
    /* Wait for tasks a worker claimed; yield if that takes long (it may be descheduled). */
    for (int spins = 0; atomic_load(&p->done) < n_tasks; spins++) {
        if (spins < SPIN_ROUNDS)
            cpu_relax();
        else
            sched_yield();
    }
}
