// The prune unit of the RTL plugin (rtl_prune.h). Parameters as rtl/rtl.mk Verilates Vprune_dev:
// the engine's NTOK 1024 tokens and NHEAD 16 heads, P 4 tokens per cycle.
#include "rtl_prune.h"

#include "Vprune_dev.h"
#include "rtl_sim.h"

namespace spkrtl {

namespace {
constexpr uint32_t kPruneTokens = 1024, kPruneHeads = 16;
} // namespace

struct PruneUnit::Impl {
    explicit Impl(const std::string &trace) : sim(trace) {
        Vprune_dev &io = sim.io();
        io.op_en = io.op_add = io.op_head = 0;
        io.rd_en = io.rd_head = 0;
        io.start = 0;
        sim.reset();
    }
    RtlSim<Vprune_dev> sim;
};

PruneUnit::PruneUnit(const std::string &trace) : impl_(new Impl(trace)) {}
PruneUnit::~PruneUnit() = default;

static bool in_range(bool head, uint32_t j) {
    return j < (head ? kPruneHeads : kPruneTokens);
}

int PruneUnit::load(bool head, uint32_t j, uint64_t importance, bool alive) {
    if (!in_range(head, j)) return -1;
    Vprune_dev &io = impl_->sim.io();
    io.op_en = 1;
    io.op_add = 0;
    io.op_head = head;
    io.op_index = j;
    io.op_value = importance & ((1ull << 48) - 1);
    io.op_alive = alive;
    impl_->sim.tick();
    io.op_en = 0;
    return 0;
}

int PruneUnit::add(bool head, uint32_t j, uint64_t amount) {
    if (!in_range(head, j)) return -1;
    Vprune_dev &io = impl_->sim.io();
    io.op_en = 1;
    io.op_add = 1;
    io.op_head = head;
    io.op_index = j;
    io.op_value = amount & ((1ull << 48) - 1);
    impl_->sim.tick();
    io.op_en = 0;
    io.op_add = 0;
    return 0;
}

int PruneUnit::read(bool head, uint32_t j, uint64_t &importance, bool &alive) {
    if (!in_range(head, j)) return -1;
    Vprune_dev &io = impl_->sim.io();
    io.rd_en = 1;
    io.rd_head = head;
    io.rd_index = j;
    impl_->sim.tick(); // the value is there one cycle later, until the next cycle
    importance = io.rd_imp;
    alive = io.rd_alive;
    io.rd_en = 0;
    return 0;
}

int PruneUnit::run(const spk_rtl_prune_cmd &c, spk_rtl_prune_result &res, uint64_t max_cycles,
                   std::string &why) {
    Vprune_dev &io = impl_->sim.io();
    const uint64_t t0 = impl_->sim.cycles();
    io.n_tokens = c.n_tokens;
    io.kt = c.kt;
    io.sinks = c.sinks;
    io.recent = c.recent;
    io.n_heads = c.n_heads;
    io.kh = c.kh;
    io.head_group = c.head_group;
    io.start = 1;
    impl_->sim.tick();
    io.start = 0;
    // Budget: dozens of sweeps over the tokens at worst (docs/rtl.md, "Prune unit").
    const uint64_t budget = max_cycles ? max_cycles : 100000u + 64u * (kPruneTokens + 64u);
    while (!io.done) {
        if (impl_->sim.cycles() - t0 > budget) {
            why = "spk_rtl: prune unit did not finish within " + std::to_string(budget) + " cycles";
            impl_->sim.reset();
            return -1;
        }
        impl_->sim.tick();
    }
    res.bad_cmd = io.bad_cmd;
    res.tokens_alive = io.tokens_alive;
    res.heads_alive = io.heads_alive;
    res.cycles = impl_->sim.cycles() - t0;
    return 0;
}

uint64_t PruneUnit::cycles() const {
    return impl_->sim.cycles();
}

} // namespace spkrtl
