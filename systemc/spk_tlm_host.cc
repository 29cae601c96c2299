// The host initiator and the libspk backend over it. See spk_tlm_host.h.
#include "spk_tlm_host.h"

#include <cstdlib>
#include <cstring>

extern "C" {
#include "spk/regs.h"
}

namespace spk {

tlm_host::tlm_host(sc_core::sc_module_name name) : sc_core::sc_module(name), socket("socket") {}

bool tlm_host::transport(tlm::tlm_command cmd, uint64_t addr, void *data, uint64_t bytes) {
    if (bytes > UINT32_MAX) return false;
    tlm::tlm_generic_payload p;
    p.set_command(cmd);
    p.set_address(addr);
    p.set_data_ptr(static_cast<unsigned char *>(data));
    p.set_data_length(unsigned(bytes));
    p.set_streaming_width(unsigned(bytes));
    p.set_byte_enable_ptr(nullptr);
    p.set_dmi_allowed(false);
    p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    socket->b_transport(p, pending_);
    stats_.transactions++;
    stats_.bytes += bytes;
    if (!p.is_response_ok()) stats_.errors++;
    return p.is_response_ok();
}

uint32_t tlm_host::reg_read(const slot &s, uint32_t offset) {
    uint32_t v = 0;
    return transport(tlm::TLM_READ_COMMAND, s.reg_base + offset, &v, 4) ? v : 0;
}

void tlm_host::reg_write(const slot &s, uint32_t offset, uint32_t value) {
    transport(tlm::TLM_WRITE_COMMAND, s.reg_base + offset, &value, 4);
}

namespace {
// Bus address of a core-map range wholly inside one memory of the slot, or ~0.
uint64_t bus_address(const tlm_host::slot &s, uint64_t addr, uint64_t n) {
    if (addr >= SPK_MEM_DRAM_BASE && addr - SPK_MEM_DRAM_BASE <= s.dram_bytes &&
        n <= s.dram_bytes - (addr - SPK_MEM_DRAM_BASE))
        return s.dram_base + (addr - SPK_MEM_DRAM_BASE);
    static_assert(SPK_MEM_IMEM_BASE == 0, "IMEM starts the core's map");
    if (addr <= SPK_MEM_IMEM_SIZE && n <= SPK_MEM_IMEM_SIZE - addr) return s.local_base + addr;
    if (addr >= SPK_MEM_DMEM_BASE && addr - SPK_MEM_DMEM_BASE <= SPK_MEM_DMEM_SIZE &&
        n <= SPK_MEM_DMEM_SIZE - (addr - SPK_MEM_DMEM_BASE))
        return s.local_base + tlm_device::local_dmem_offset + (addr - SPK_MEM_DMEM_BASE);
    return ~uint64_t(0);
}
} // namespace

int tlm_host::mem_read(const slot &s, uint64_t addr, void *dst, size_t bytes) {
    const uint64_t a = bus_address(s, addr, bytes);
    if (a == ~uint64_t(0)) return -1;
    return !bytes || transport(tlm::TLM_READ_COMMAND, a, dst, bytes) ? 0 : -1;
}

int tlm_host::mem_write(const slot &s, uint64_t addr, const void *src, size_t bytes) {
    const uint64_t a = bus_address(s, addr, bytes);
    if (a == ~uint64_t(0)) return -1;
    return !bytes || transport(tlm::TLM_WRITE_COMMAND, a, const_cast<void *>(src), bytes) ? 0 : -1;
}

void tlm_host::advance(sc_core::sc_time t, const slot &s) {
    stats_.waits++;
    if (sc_core::sc_get_current_process_handle().valid()) {
        // A CPU thread of a platform: its accesses' delays, then until the device stops or t.
        if (pending_ > sc_core::SC_ZERO_TIME) sc_core::wait(pending_);
        pending_ = sc_core::SC_ZERO_TIME;
        sc_core::wait(t, s.dev->stopped_event());
    } else {
        // Outside the simulation (plain main()): the host's time is the simulation's.
        pending_ = sc_core::SC_ZERO_TIME;
        sc_core::sc_start(t);
    }
}

spk_backend_wait tlm_host::wait(const slot &s, uint32_t mask, uint64_t max_cycles) {
    const spk_backend_wait w = wait_loop(s, mask, max_cycles);
    s.dev->set_stop_mask(0); // between waits the device runs freely
    return w;
}

spk_backend_wait tlm_host::wait_loop(const slot &s, uint32_t mask, uint64_t max_cycles) {
    const uint64_t start = s.dev->device_time();
    s.dev->set_stop_mask(mask); // the device stops where a bit of the mask rises
    for (;;) {
        if (s.dev->halted()) return SPK_WAIT_HALTED;
        if (reg_read(s, SPK_INTR_STATE_REG_OFFSET) & mask) return SPK_WAIT_EVENT;
        if (s.dev->idle()) return SPK_WAIT_IDLE;
        const uint64_t spent = s.dev->device_time() - start;
        if (spent >= max_cycles) return SPK_WAIT_TIMEOUT;
        const uint64_t q = uint64_t(s.dev->quantum() / s.dev->clock_period());
        const uint64_t step = max_cycles - spent < q || !q ? max_cycles - spent : q;
        advance(s.dev->clock_period() * double(step), s);
    }
}

// ---- the libspk backend ----------------------------------------------------------------------
namespace {
struct host_backend {
    spk_backend base;
    tlm_host *host;
    tlm_host::slot s;
    void (*on_close)(void *);
    void *ctx;
};

host_backend *hb(spk_backend *b) {
    return reinterpret_cast<host_backend *>(b);
}

uint32_t be_reg_read(spk_backend *b, uint32_t offset) {
    return hb(b)->host->reg_read(hb(b)->s, offset);
}
void be_reg_write(spk_backend *b, uint32_t offset, uint32_t value) {
    hb(b)->host->reg_write(hb(b)->s, offset, value);
}
int be_mem_read(spk_backend *b, uint64_t addr, void *dst, size_t bytes) {
    return hb(b)->host->mem_read(hb(b)->s, addr, dst, bytes);
}
int be_mem_write(spk_backend *b, uint64_t addr, const void *src, size_t bytes) {
    return hb(b)->host->mem_write(hb(b)->s, addr, src, bytes);
}
spk_backend_wait be_wait(spk_backend *b, uint32_t mask, uint64_t max_cycles) {
    return hb(b)->host->wait(hb(b)->s, mask, max_cycles);
}
uint64_t be_time(spk_backend *b) {
    return hb(b)->s.dev->device_time();
}
void be_info(spk_backend *b, spk_backend_info *info) {
    const bool rtl = hb(b)->s.dev->engine() == "rtl"; // systemc-rtl: the --sc engine
    info->name = rtl ? "systemc-rtl" : "systemc";
    info->kind = rtl ? "RTL" : "timed";
    info->clock_khz = hb(b)->host->reg_read(hb(b)->s, SPK_PARAM_CLOCK_KHZ_REG_OFFSET);
    info->slowdown = rtl ? hb(b)->s.dev->slowdown() : 2; // the LT model within 2x of sim
    info->dram_bytes = hb(b)->s.dram_bytes;
}
void be_close(spk_backend *b) {
    if (!b) return;
    host_backend *h = hb(b);
    void (*on_close)(void *) = h->on_close;
    void *ctx = h->ctx;
    std::free(h);
    if (on_close) on_close(ctx);
}

const spk_backend_ops host_ops = {be_reg_read, be_reg_write, be_mem_read, be_mem_write, be_wait,
                                  be_time,     be_info,      be_close,    nullptr}; // no host link
} // namespace

spk_backend *tlm_host::make_backend(const slot &s, void (*on_close)(void *), void *ctx) {
    auto *h = static_cast<host_backend *>(std::calloc(1, sizeof(host_backend)));
    if (!h) return nullptr;
    h->base.ops = &host_ops;
    h->host = this;
    h->s = s;
    h->on_close = on_close;
    h->ctx = ctx;
    return &h->base;
}

} // namespace spk
