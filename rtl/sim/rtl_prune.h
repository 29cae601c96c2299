// The Verilated prune unit (rtl/prune/spk_prune.v, model Vprune_dev) as the plugin drives it:
// entry loads, saturating adds and reads through its op/read ports, and prune commands to done.
#ifndef SPK_RTL_SIM_RTL_PRUNE_H
#define SPK_RTL_SIM_RTL_PRUNE_H

#include <cstdint>
#include <memory>
#include <string>

#include "spkrtl/rtl_engine.h"

namespace spkrtl {

class PruneUnit {
  public:
    explicit PruneUnit(const std::string &trace);
    ~PruneUnit();
    PruneUnit(const PruneUnit &) = delete;
    PruneUnit &operator=(const PruneUnit &) = delete;
    // Entry ops (token j, or head j when head is set); 0, or -1 for an index out of range.
    int load(bool head, uint32_t j, uint64_t importance, bool alive);
    int add(bool head, uint32_t j, uint64_t amount);
    int read(bool head, uint32_t j, uint64_t &importance, bool &alive);
    // One prune command to done; 0, or -1 with why (timeout).
    int run(const spk_rtl_prune_cmd &cmd, spk_rtl_prune_result &res, uint64_t max_cycles,
            std::string &why);
    uint64_t cycles() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace spkrtl

#endif
