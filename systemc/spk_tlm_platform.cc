// The `systemc` backend's platform. See spk_tlm_platform.h.
#include "spk_tlm_platform.h"

#include <cstdlib>

namespace spk {

tlm_platform::tlm_platform(sc_core::sc_module_name name, unsigned slots, sc_core::sc_time quantum)
    : sc_core::sc_module(name), host("host"), bus("bus"),
      slots_(slots > max_slots ? max_slots : slots) {
    host.socket.bind(bus.target);
    for (unsigned i = 0; i < slots_; i++) {
        const std::string n = std::to_string(i);
        dev_[i] =
            std::make_unique<tlm_device>(("dev" + n).c_str(), reg_base + i * reg_stride,
                                         dram_base + i * dram_stride, dram_stride, "", "", quantum);
        mem_[i] = std::make_unique<tlm_memory>(("dram" + n).c_str(), 0);
        irq_[i] = std::make_unique<sc_core::sc_signal<bool>>(("irq" + n).c_str());
        dev_[i]->dram.bind(bus.target);
        dev_[i]->irq.bind(*irq_[i]);
        bus.initiator.bind(dev_[i]->regs);
        bus.initiator.bind(dev_[i]->local);
        bus.initiator.bind(mem_[i]->socket);
        bus.map(reg_base + i * reg_stride, tlm_device::reg_window_bytes, 3 * i);
        bus.map(reg_base + i * reg_stride + local_offset, tlm_device::local_window_bytes,
                3 * i + 1);
        bus.map(dram_base + i * dram_stride, dram_stride, 3 * i + 2);
        state_[i] = {this, i, false};
    }
}

void tlm_platform::on_close(void *ctx) {
    auto *st = static_cast<slot_state *>(ctx);
    st->platform->dev_[st->index]->release();
    st->platform->mem_[st->index]->resize(0);
    st->in_use = false;
}

spk_backend *tlm_platform::open(const spk_backend_config *cfg, std::string *err) {
    unsigned i = 0;
    while (i < slots_ && state_[i].in_use) i++;
    if (i == slots_) {
        *err = "all " + std::to_string(slots_) +
               " device slots of the SystemC platform are open (close one first)";
        return nullptr;
    }
    const char *env = std::getenv("SPK_SYSTEMC_ENGINE");
    const bool rtl = cfg->name && std::string(cfg->name) == "systemc-rtl";
    const std::string engine = rtl ? "rtl" : env && *env ? env : "sim";
    if (!rtl && engine != "sim" && engine != "model") {
        *err = "engine '" + engine + "' is not one of the LT model's (sim, model)";
        return nullptr;
    }
    if (!mem_[i]->resize(cfg->dram_bytes)) {
        *err = "no host memory for " + std::to_string(cfg->dram_bytes) + " bytes of DRAM";
        return nullptr;
    }
    if (!dev_[i]->reset(engine, cfg->dram_bytes, cfg->sim_config, cfg->energy_path, err)) {
        mem_[i]->resize(0);
        return nullptr;
    }
    const tlm_host::slot s = {dev_[i].get(), reg_base + i * reg_stride,
                              reg_base + i * reg_stride + local_offset, dram_base + i * dram_stride,
                              cfg->dram_bytes};
    spk_backend *b = host.make_backend(s, on_close, &state_[i]);
    if (!b) {
        dev_[i]->release();
        mem_[i]->resize(0);
        *err = "out of host memory";
        return nullptr;
    }
    state_[i].in_use = true;
    return b;
}

} // namespace spk
