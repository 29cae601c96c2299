// The host side of a SystemC platform: an initiator through which a libspk program's register
// and memory accesses become TLM transactions (b_transport on `socket`), and the libspk backend
// (driver/src/backend.h) over one device of the platform. Called from an SC_THREAD (a virtual
// platform's CPU), waiting is sc_core::wait(); called from outside the simulation (a plain
// main(), as the test binaries), waiting advances the simulation with sc_start() in steps.
#ifndef SPK_TLM_HOST_H
#define SPK_TLM_HOST_H

#include <cstdint>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>

extern "C" {
#include "backend.h"
}

#include "spk_tlm_device.h"

namespace spk {

class tlm_host : public sc_core::sc_module {
  public:
    tlm_utils::simple_initiator_socket<tlm_host> socket;

    // Where one device sits on the bus.
    struct slot {
        tlm_device *dev;
        uint64_t reg_base;   // its register window
        uint64_t local_base; // its `local` socket (control-core memories)
        uint64_t dram_base;  // its DRAM
        uint64_t dram_bytes;
    };

    struct counters {
        uint64_t transactions = 0, bytes = 0, errors = 0, waits = 0;
    };

    explicit tlm_host(sc_core::sc_module_name name);

    // One bus transaction; false on an error response.
    bool transport(tlm::tlm_command cmd, uint64_t addr, void *data, uint64_t bytes);
    uint32_t reg_read(const slot &s, uint32_t offset);
    void reg_write(const slot &s, uint32_t offset, uint32_t value);
    // Core-map addresses (SPK_MEM_*), as the backend interface: 0, or -1 outside one memory.
    int mem_read(const slot &s, uint64_t addr, void *dst, size_t bytes);
    int mem_write(const slot &s, uint64_t addr, const void *src, size_t bytes);
    // Let the simulation run until (INTR_STATE & mask), the core sleeps, the device halts or
    // max_cycles of device time pass.
    spk_backend_wait wait(const slot &s, uint32_t mask, uint64_t max_cycles);

    // A libspk backend named "systemc" over @p s; its close calls on_close(ctx) after freeing.
    spk_backend *make_backend(const slot &s, void (*on_close)(void *), void *ctx);
    const counters &stats() const { return stats_; }

  private:
    void advance(sc_core::sc_time t, const slot &s);
    spk_backend_wait wait_loop(const slot &s, uint32_t mask, uint64_t max_cycles);
    sc_core::sc_time pending_ = sc_core::SC_ZERO_TIME; // annotated delay not yet waited for
    counters stats_;
};

} // namespace spk

#endif
