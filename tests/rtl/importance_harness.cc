// Harness of the importance accumulators against the golden pruning state.
#include "importance_harness.h"

#include <sstream>

#include "spksim/layer.h"

std::vector<uint64_t> ImportanceHarness::run(const std::vector<ImportanceAdd> &adds) {
    Vimportance &io = sim_.io();
    io.clear = 1;
    sim_.tick();
    io.clear = 0;
    for (uint32_t i = 0; i < 2 * kImportanceN && io.busy; i++) sim_.tick();
    for (const ImportanceAdd &a : adds) {
        io.add_valid = 1;
        io.add_index = a.index;
        io.add_amount = a.amount;
        sim_.tick();
    }
    io.add_valid = 0;
    sim_.tick(); // the last add's write
    std::vector<uint64_t> out;
    for (uint32_t i = 0; i < kImportanceN; i++) {
        io.rd_en = 1;
        io.rd_index = i;
        sim_.tick();
        out.push_back(io.rd_value);
    }
    io.rd_en = 0;
    return out;
}

void importance_random_adds(std::mt19937_64 &rng, size_t count, std::vector<ImportanceAdd> &adds) {
    adds.clear();
    while (adds.size() < count) {
        uint32_t index = (uint32_t)(rng() % kImportanceN);
        size_t run = rng() % 4 == 0 ? 1 + rng() % 6 : 1; // back-to-back adds to one entry
        for (size_t r = 0; r < run && adds.size() < count; r++) {
            uint64_t amount;
            switch (rng() % 4) {
            case 0:
                amount = rng() % 65536;
                break; // a probability
            case 1:
                amount = rng() & ((UINT64_C(1) << 48) - 1);
                break; // any 48-bit amount
            case 2:
                amount = (UINT64_C(1) << 47) + rng() % 1000;
                break; // saturates quickly
            default:
                amount = rng() % (UINT64_C(1) << 40);
                break; // a head contribution
            }
            adds.push_back({index, amount});
        }
    }
}

std::string importance_check(const std::vector<ImportanceAdd> &adds,
                             const std::vector<uint64_t> &got) {
    spk_prune_state *st = spk_prune_create(1, kImportanceN);
    if (!st || spk_prune_append(st, kImportanceN) != SPKSIM_OK) {
        spk_prune_destroy(st);
        return "cannot create the golden pruning state";
    }
    for (const ImportanceAdd &a : adds) spk_prune_add_token(st, a.index, a.amount);
    std::ostringstream err;
    if (got.size() != kImportanceN) err << got.size() << " entries read back; ";
    for (uint32_t i = 0; i < got.size(); i++) {
        uint64_t want = spk_prune_token_importance(st, i);
        if (got[i] != want) {
            err << "entry " << i << " = " << got[i] << " want " << want;
            break;
        }
    }
    spk_prune_destroy(st);
    return err.str();
}
