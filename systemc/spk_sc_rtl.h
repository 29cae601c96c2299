// The RTL co-simulation engine of the TLM device (docs/systemc.md, "systemc-rtl"): spk_engine
// Verilated with `verilator --sc` (Vengine_sc, an sc_module) inside spk::tlm_device, clocked by
// a clock of the device's period, its AXI4 read port adapted to the device's DRAM initiator
// socket. Built where Verilator and SystemC are both present (SPK_SC_RTL); the definition lives
// in systemc/rtl/spk_sc_rtl_engine.cc so that this header needs no Verilator.
//
// The device's emulation (device/) reaches it as its `rtl` engine: spk_tlm_device.cc points
// spkdev_config.rtl_plugin at the image that holds this engine (the plugin libspk-systemc.so,
// which exports spk_rtl_api_v1) after sc_rtl_prepare() named the engine the next create binds.
#ifndef SPK_SC_RTL_H
#define SPK_SC_RTL_H

#include <cstdint>
#include <functional>
#include <string>

#include <systemc>

namespace spk {

class sc_rtl_engine;

// DRAM as the adapter reads it: 0, or -1 (answered with SLVERR).
using sc_rtl_read_fn = std::function<int(uint64_t addr, void *dst, uint32_t bytes)>;

// Create the engine module (elaboration only: it has ports and signals).
sc_rtl_engine *sc_rtl_new(const char *name, sc_rtl_read_fn read);
void sc_rtl_delete(sc_rtl_engine *e);
// The next spk_rtl_api::create of this image binds @p e (reset at its first use).
void sc_rtl_prepare(sc_rtl_engine *e);
// The clock period (from PARAM_CLOCK_KHZ).
void sc_rtl_set_period(sc_rtl_engine *e, sc_core::sc_time period);
// A request or clear in progress fails at its next cycle (the device is being released).
void sc_rtl_abort(sc_rtl_engine *e);
// Path of the loaded object that exports spk_rtl_api_v1 for these engines, or "" with @p why
// (a program that links the model itself rather than loading the plugin).
std::string sc_rtl_plugin_path(std::string *why);
// Reads the adapter made through the socket, and clock cycles since construction.
uint64_t sc_rtl_reads(const sc_rtl_engine *e);
uint64_t sc_rtl_cycles(const sc_rtl_engine *e);

} // namespace spk

#endif
