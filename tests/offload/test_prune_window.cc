// spk_prune_keep_window (golden model, docs/spec/datapath.md "Recent-window protection and head
// groups"): protected tokens survive, the rest of the count goes by importance, heads die in
// whole groups, and a zero window is exactly spk_prune_keep.
#include <gtest/gtest.h>

#include <vector>

#include "spksim/layer.h"

namespace {

spk_prune_state *state_with(const std::vector<uint64_t> &token_imp,
                            const std::vector<uint64_t> &head_imp) {
    spk_prune_state *st = spk_prune_create((uint32_t)head_imp.size(), (uint32_t)token_imp.size());
    EXPECT_EQ(spk_prune_append(st, (uint32_t)token_imp.size()), SPKSIM_OK);
    for (size_t j = 0; j < token_imp.size(); j++)
        spk_prune_add_token(st, (uint32_t)j, token_imp[j]);
    for (size_t h = 0; h < head_imp.size(); h++) spk_prune_add_head(st, (uint32_t)h, head_imp[h]);
    return st;
}

std::vector<int> alive_tokens(const spk_prune_state *st) {
    std::vector<int> a;
    for (uint32_t j = 0; j < spk_prune_tokens(st); j++)
        if (spk_prune_token_alive(st, j)) a.push_back((int)j);
    return a;
}

} // namespace

TEST(PruneWindow, ProtectsSinksAndRecentTokens) {
    // Old tokens have the most importance, the newest none: without protection they would die.
    std::vector<uint64_t> imp = {5, 90, 80, 70, 60, 50, 40, 0, 0, 0};
    spk_prune_state *st = state_with(imp, {1, 1});
    spk_prune_window w = {1, 3, 0};
    ASSERT_EQ(spk_prune_keep_window(st, spk_keep{6, 0}, SPK_KEEP_ALL, &w, nullptr, nullptr),
              SPKSIM_OK);
    // 6 kept: token 0 (sink), 7..9 (recent), then the top 2 of the rest by importance: 1, 2.
    EXPECT_EQ(alive_tokens(st), (std::vector<int>{0, 1, 2, 7, 8, 9}));
    // A count below the protected number keeps only the protected tokens.
    ASSERT_EQ(spk_prune_keep_window(st, spk_keep{2, 0}, SPK_KEEP_ALL, &w, nullptr, nullptr),
              SPKSIM_OK);
    EXPECT_EQ(alive_tokens(st), (std::vector<int>{0, 7, 8, 9}));
    spk_prune_destroy(st);
}

TEST(PruneWindow, ZeroWindowEqualsKeep) {
    std::vector<uint64_t> imp = {3, 9, 9, 1, 7, 2, 9, 4};
    for (uint32_t k = 1; k <= imp.size(); k++) {
        spk_prune_state *a = state_with(imp, {4, 2, 8});
        spk_prune_state *b = state_with(imp, {4, 2, 8});
        spk_prune_window w = {0, 0, 0};
        ASSERT_EQ(spk_prune_keep(a, spk_keep{k, 0}, spk_keep{2, 0}, nullptr, nullptr), SPKSIM_OK);
        ASSERT_EQ(spk_prune_keep_window(b, spk_keep{k, 0}, spk_keep{2, 0}, &w, nullptr, nullptr),
                  SPKSIM_OK);
        EXPECT_EQ(alive_tokens(a), alive_tokens(b)) << k;
        for (uint32_t h = 0; h < 3; h++)
            EXPECT_EQ(spk_prune_head_alive(a, h), spk_prune_head_alive(b, h)) << h;
        spk_prune_destroy(a);
        spk_prune_destroy(b);
    }
}

TEST(PruneWindow, HeadsDieInGroups) {
    // Groups of 3: {0,1,2} sums 30, {3,4,5} sums 33, {6,7,8} sums 27 although head 8 is the
    // single most important head.
    spk_prune_state *st = state_with({1, 1}, {10, 10, 10, 11, 11, 11, 1, 1, 25});
    spk_prune_window w = {0, 0, 3};
    // 5 heads -> ceil(5 / 3) = 2 groups.
    ASSERT_EQ(spk_prune_keep_window(st, SPK_KEEP_ALL, spk_keep{5, 0}, &w, nullptr, nullptr),
              SPKSIM_OK);
    for (uint32_t h = 0; h < 9; h++) EXPECT_EQ(spk_prune_head_alive(st, h), h < 6) << h;
    EXPECT_EQ(spk_prune_alive_heads(st), 6u);
    // A group size that does not divide the heads, a NULL window, a bad ratio: errors.
    w.head_group = 2;
    EXPECT_EQ(spk_prune_keep_window(st, SPK_KEEP_ALL, SPK_KEEP_ALL, &w, nullptr, nullptr),
              SPKSIM_E_ARG);
    EXPECT_EQ(spk_prune_keep_window(st, SPK_KEEP_ALL, SPK_KEEP_ALL, nullptr, nullptr, nullptr),
              SPKSIM_E_ARG);
    w.head_group = 3;
    EXPECT_EQ(spk_prune_keep_window(st, spk_keep{0, 0}, SPK_KEEP_ALL, &w, nullptr, nullptr),
              SPKSIM_E_ARG);
    spk_prune_destroy(st);
}
