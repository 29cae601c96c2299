// The fork-join pool: every task runs exactly once per run, across many short runs.
#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "spkllm/pool.h"

namespace {

struct Counts {
    std::vector<std::atomic<int>> hits;
    explicit Counts(size_t n) : hits(n) {}
};

void count_task(void *arg, size_t task, int thread) {
    (void)thread;
    static_cast<Counts *>(arg)->hits[task].fetch_add(1);
}

} // namespace

TEST(Pool, EveryTaskRunsExactlyOnce) {
    for (int threads : {1, 2, 4}) {
        spkllm_pool *pool = nullptr;
        ASSERT_EQ(spkllm_pool_create(threads, &pool), SPKLLM_OK);
        EXPECT_EQ(spkllm_pool_threads(pool), threads);
        for (int run = 0; run < 2000; run++) {
            size_t n = (size_t)(run * 7919 % 97); // includes 0 and 1
            Counts c(n);
            spkllm_pool_run(pool, n, count_task, &c);
            for (size_t t = 0; t < n; t++)
                ASSERT_EQ(c.hits[t].load(), 1) << "threads " << threads << " run " << run;
        }
        spkllm_pool_destroy(pool);
    }
    EXPECT_EQ(spkllm_pool_threads(nullptr), 1);
    spkllm_pool *bad = nullptr;
    EXPECT_EQ(spkllm_pool_create(0, &bad), SPKLLM_ERR_ARG);
}
