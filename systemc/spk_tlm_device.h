// The spatten-kit device as a loosely-timed TLM-2.0 model (docs/systemc.md): the emulated device
// of device/ (spkdev/emu.h: register file, RV32IM control core, engine front-end and the model or
// sim engine) inside an sc_module, with
//   - `regs`: target socket of the 4 KiB register window (32-bit accesses, b_transport and
//     transport_dbg; addresses relative to the window),
//   - `local`: target socket of the control core's memories for loaders (IMEM at 0, DMEM at
//     local_dmem_offset; 128 KiB),
//   - `dram`: initiator socket through which every DRAM access of the device (control core and
//     engine) leaves the model, at dram_base + DRAM offset; DMI where the target grants it,
//     b_transport otherwise,
//   - `irq`: INTR_STATE (DONE, ERROR) gated by CTRL.IRQ_EN.
// An SC_THREAD runs the device one quantum of device cycles at a time and annotates the device
// time with a tlm_quantumkeeper; it sleeps while the core sleeps and wakes on a DOORBELL or CTRL
// write.
#ifndef SPK_TLM_DEVICE_H
#define SPK_TLM_DEVICE_H

#include <cstdint>
#include <string>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <tlm_utils/tlm_quantumkeeper.h>

#include "spkdev/emu.h"

namespace spk {

class sc_rtl_engine; // spk_sc_rtl.h

class tlm_device : public sc_core::sc_module {
  public:
    static constexpr uint64_t reg_window_bytes = 4096;
    static constexpr uint64_t local_window_bytes = 0x20000;
    static constexpr uint64_t local_dmem_offset = 0x10000;

    tlm_utils::simple_target_socket<tlm_device> regs;
    tlm_utils::simple_target_socket<tlm_device> local;
    tlm_utils::simple_initiator_socket<tlm_device> dram;
    sc_core::sc_out<bool> irq;

    // What the device did on its sockets.
    struct counters {
        uint64_t reg_accesses = 0, reg_errors = 0, dram_dmi = 0, dram_transactions = 0,
                 dram_bytes = 0, dmi_grants = 0, dmi_invalidations = 0, runs = 0;
    };

    // reg_base: the window's bus address (reported by reg_base(); the router maps it);
    // dram_base/dram_size: device DRAM on the bus behind `dram`; engine "sim", "model" or "rtl"
    // (the Verilated --sc spk_engine, where built; inside the plugin libspk-systemc.so only);
    // firmware: an ELF the device loads into its memories and starts at the beginning of the
    // simulation ("" = a host loads it through `local` and sets CTRL.RUN, as libspk does);
    // quantum: the quantum keeper's global quantum (and the run slice).
    tlm_device(sc_core::sc_module_name name, uint64_t reg_base, uint64_t dram_base,
               uint64_t dram_size, const std::string &engine = "sim",
               const std::string &firmware = "",
               sc_core::sc_time quantum = sc_core::sc_time(10, sc_core::SC_US));
    ~tlm_device() override;
    tlm_device(const tlm_device &) = delete;
    tlm_device &operator=(const tlm_device &) = delete;

    // Re-create the inner device in reset (a host opening this device slot). false with @p err.
    bool reset(const std::string &engine, uint64_t dram_size, const char *sim_config,
               const char *energy_path, std::string *err);
    // Drop the inner device (the slot is free); the register window then answers errors.
    void release();

    uint64_t reg_base() const { return reg_base_; }
    uint64_t dram_base() const { return dram_base_; }
    uint64_t dram_size() const { return dram_size_; }
    // Device time in device cycles, the clock period, whether the core sleeps or the device
    // halted (the host side of a platform, like a debugger, may look).
    uint64_t device_time() const;
    sc_core::sc_time clock_period() const { return period_; }
    bool idle() const { return idle_; }
    bool halted() const { return halted_; }
    bool ready() const { return dev_ != nullptr; }
    // Notified whenever the device stops running (the core sleeps or the device halted).
    const sc_core::sc_event &stopped_event() const { return stopped_ev_; }
    // Stop running as soon as (INTR_STATE & mask) != 0, until the next wake-up (a host write of
    // DOORBELL, CTRL or INTR_STATE, or a new mask): a host waiting for those bits then sees the
    // device exactly where the bit rose, as on the other backends. 0 (the default): run freely.
    void set_stop_mask(uint32_t mask);
    void set_quantum(sc_core::sc_time q);
    sc_core::sc_time quantum() const { return quantum_; }
    const counters &stats() const { return stats_; }
    const std::string &error() const { return error_; }
    // The engine ("sim", "model", "rtl") and spkdev_slowdown() of the inner device.
    const std::string &engine() const { return engine_; }
    uint32_t slowdown() const { return dev_ ? spkdev_slowdown(dev_) : 1; }
    // Whether this build has the --sc RTL engine, and this device's (null without; the device's
    // `rtl` engine drives it, a test may through spk_sc_rtl.h while the engine is not "rtl").
    static bool rtl_built();
    sc_rtl_engine *rtl_engine() { return rtl_engine_; }

  private:
    void run_thread();
    void irq_method();
    void start_of_simulation() override;
    void b_transport(tlm::tlm_generic_payload &p, sc_core::sc_time &delay);
    unsigned transport_dbg(tlm::tlm_generic_payload &p);
    void local_b_transport(tlm::tlm_generic_payload &p, sc_core::sc_time &delay);
    unsigned local_transport_dbg(tlm::tlm_generic_payload &p);
    void invalidate(sc_dt::uint64 start, sc_dt::uint64 end);
    static int dram_read(void *ctx, uint64_t addr, void *dst, uint64_t bytes);
    static int dram_write(void *ctx, uint64_t addr, const void *src, uint64_t bytes);
    int dram_access(tlm::tlm_command cmd, uint64_t addr, void *data, uint64_t bytes);
    bool load_firmware(const std::string &path);
    int engine_read(uint64_t addr, void *dst, uint32_t bytes);

    uint64_t reg_base_, dram_base_, dram_size_;
    std::string engine_, firmware_, error_;
    spkdev *dev_ = nullptr;
    spkdev_dram_ops ops_{};
    sc_core::sc_time quantum_, period_, bus_delay_;
    tlm_utils::tlm_quantumkeeper qk_;
    tlm::tlm_dmi dmi_;
    bool dmi_valid_ = false, idle_ = true, halted_ = false, paused_ = false, running_ = false;
    bool rtl_ = false; // the inner device's engine is the --sc RTL one
    uint32_t stop_mask_ = 0;
    sc_core::sc_event wake_ev_, irq_ev_, stopped_ev_, run_done_ev_;
    sc_rtl_engine *rtl_engine_ = nullptr; // the --sc engine (SPK_SC_RTL builds), or null
    counters stats_;
};

} // namespace spk

#endif
