// The platform of libspk's `systemc` backend (plugin libspk-systemc.so): a host initiator, a
// router, and `slots` devices, each with its own memory for its DRAM. SystemC elaborates once
// per process, so the plugin creates one platform at the first open and keeps it; opening a
// device takes a free slot and re-creates its inner device and its DRAM, closing frees it.
//
// Bus map of slot i: registers at 0x4000_0000 + i * 0x10_0000 (4 KiB), the control core's
// memories at that + 0x4_0000 (128 KiB), DRAM at 0x1_0000_0000 + i * 0x4000_0000 (up to 1 GiB).
#ifndef SPK_TLM_PLATFORM_H
#define SPK_TLM_PLATFORM_H

#include <memory>
#include <string>

#include "spk_tlm_device.h"
#include "spk_tlm_host.h"
#include "spk_tlm_memory.h"
#include "spk_tlm_router.h"

namespace spk {

class tlm_platform : public sc_core::sc_module {
  public:
    static constexpr unsigned max_slots = 4;
    static constexpr uint64_t reg_base = 0x40000000u, reg_stride = 0x100000u,
                              local_offset = 0x40000u;
    static constexpr uint64_t dram_base = 0x100000000ull, dram_stride = 0x40000000ull;

    tlm_host host;
    tlm_router bus;

    tlm_platform(sc_core::sc_module_name name, unsigned slots = max_slots,
                 sc_core::sc_time quantum = sc_core::sc_time(10, sc_core::SC_US));

    // Take a free slot with engine "sim" (or $SPK_SYSTEMC_ENGINE; "rtl", the Verilated --sc
    // engine, when cfg->name is "systemc-rtl") and a fresh DRAM of cfg->dram_bytes: a backend,
    // or nullptr with @p err.
    spk_backend *open(const spk_backend_config *cfg, std::string *err);
    tlm_device &device(unsigned i) { return *dev_[i]; }
    tlm_memory &memory(unsigned i) { return *mem_[i]; }
    unsigned slots() const { return slots_; }

  private:
    static void on_close(void *ctx);
    struct slot_state {
        tlm_platform *platform;
        unsigned index;
        bool in_use;
    };
    unsigned slots_;
    std::unique_ptr<tlm_device> dev_[max_slots];
    std::unique_ptr<tlm_memory> mem_[max_slots];
    std::unique_ptr<sc_core::sc_signal<bool>> irq_[max_slots];
    slot_state state_[max_slots];
};

} // namespace spk

#endif
