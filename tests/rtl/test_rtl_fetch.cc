// The K/V plane fetcher (rtl/fetch/spk_kv_fetch.v) against the spec's packing and the golden
// plane split, through an AXI4 memory model with random stalls.
#include <gtest/gtest.h>

#include <random>

#include "fetch_harness.h"

namespace {

TEST(RtlFetch, RandomRowsOfRandomPlanes) {
    FetchHarness h;
    std::mt19937_64 rng(6502);
    FetchCase c;
    size_t rows = 0;
    for (int i = 0; i < 300; i++) {
        fetch_random_case(rng, c);
        rows += c.rows.size();
        ASSERT_EQ(fetch_check(c, h.run(c)), "") << "case " << i;
    }
    EXPECT_GT(rows, 2000u);
}

TEST(RtlFetch, RefusesBadGeometry) {
    FetchHarness h;
    FetchCase c;
    c.d = kFetchDmax + 1;
    c.msb_bits = 8;
    c.rows = {0};
    c.n_tokens = 1;
    c.codes.assign(c.d, 0);
    EXPECT_TRUE(h.run(c).bad_cmd) << "d > DMAX must be refused";
}

} // namespace
