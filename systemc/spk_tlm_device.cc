// The loosely-timed TLM-2.0 device: spkdev (device/) behind sockets. See spk_tlm_device.h.
#include "spk_tlm_device.h"

#include <cstring>

#include "spk_sc_rtl.h"

extern "C" {
#include "fw_load.h"
#include "spk/regs.h"
}

namespace spk {

namespace {
constexpr uint32_t intr_bits = (1u << SPK_INTR_STATE_DONE_BIT) | (1u << SPK_INTR_STATE_ERROR_BIT);
// Stack of the run thread: the engine and the cycle simulator run on it.
constexpr size_t run_stack_bytes = 16u << 20;
} // namespace

tlm_device::tlm_device(sc_core::sc_module_name name, uint64_t reg_base, uint64_t dram_base,
                       uint64_t dram_size, const std::string &engine, const std::string &firmware,
                       sc_core::sc_time quantum)
    : sc_core::sc_module(name), regs("regs"), local("local"), dram("dram"), irq("irq"),
      reg_base_(reg_base), dram_base_(dram_base), dram_size_(dram_size), engine_(engine),
      firmware_(firmware), quantum_(quantum), period_(1, sc_core::SC_NS) {
    regs.register_b_transport(this, &tlm_device::b_transport);
    regs.register_transport_dbg(this, &tlm_device::transport_dbg);
    local.register_b_transport(this, &tlm_device::local_b_transport);
    local.register_transport_dbg(this, &tlm_device::local_transport_dbg);
    dram.register_invalidate_direct_mem_ptr(this, &tlm_device::invalidate);
    ops_ = {dram_read, dram_write, this};
    SC_HAS_PROCESS(tlm_device);
    SC_THREAD(run_thread);
    set_stack_size(run_stack_bytes);
    SC_METHOD(irq_method);
    sensitive << irq_ev_;
    dont_initialize();
#ifdef SPK_SC_RTL
    rtl_engine_ = sc_rtl_new("rtl", [this](uint64_t addr, void *dst, uint32_t bytes) {
        return engine_read(addr, dst, bytes);
    });
#endif
    if (!engine_.empty() && !reset(engine_, dram_size_, nullptr, nullptr, &error_))
        SC_REPORT_ERROR("spk/tlm_device", error_.c_str());
}

tlm_device::~tlm_device() {
    spkdev_destroy(dev_);
#ifdef SPK_SC_RTL
    sc_rtl_delete(rtl_engine_);
#endif
}

bool tlm_device::rtl_built() {
#ifdef SPK_SC_RTL
    return true;
#else
    return false;
#endif
}

bool tlm_device::reset(const std::string &engine, uint64_t dram_size, const char *sim_config,
                       const char *energy_path, std::string *err) {
    release();
    const bool rtl = engine == "rtl";
    std::string plugin;
    if (rtl) {
        // The device's `rtl` engine (device/engine_rtl.c) loads the engine table from the
        // object that holds the --sc engine; the next create binds this device's module.
#ifdef SPK_SC_RTL
        plugin = sc_rtl_plugin_path(err);
        if (plugin.empty()) return false;
        sc_rtl_prepare(rtl_engine_);
#else
        if (err) *err = "engine 'rtl': this build has no Verilator --sc engine (systemc-rtl)";
        return false;
#endif
    } else if (engine != "sim" && engine != "model") {
        if (err) *err = "engine '" + engine + "' is not one of the TLM device's (sim, model, rtl)";
        return false;
    }
    const spkdev_config cfg = {sizeof(cfg), engine.c_str(), dram_size,
                               sim_config,  energy_path,    rtl ? plugin.c_str() : nullptr,
                               nullptr,     &ops_,          nullptr};
    char why[512] = "";
    dev_ = spkdev_create(&cfg, why, sizeof(why));
    if (!dev_) {
        if (err) *err = why;
        return false;
    }
    rtl_ = rtl;
    engine_ = engine;
    dram_size_ = dram_size;
    const uint32_t khz = spkdev_reg_read(dev_, SPK_PARAM_CLOCK_KHZ_REG_OFFSET);
    period_ = sc_core::sc_time(1e12 / (khz ? double(khz) * 1e3 : 1e9), sc_core::SC_PS);
#ifdef SPK_SC_RTL
    sc_rtl_set_period(rtl_engine_, period_);
#endif
    idle_ = true;
    halted_ = paused_ = false;
    stop_mask_ = 0;
    dmi_valid_ = false;
    return true;
}

void tlm_device::release() {
#ifdef SPK_SC_RTL
    // The run thread is inside an engine operation of the --sc engine (waiting on its clock):
    // make the operation fail and let the thread leave spkdev_run before the device goes.
    while (running_ && rtl_engine_) {
        sc_rtl_abort(rtl_engine_);
        if (sc_core::sc_get_current_process_handle().valid())
            sc_core::wait(run_done_ev_);
        else
            sc_core::sc_start(period_ * 16.0);
    }
#endif
    spkdev_destroy(dev_);
    rtl_ = false;
    dev_ = nullptr;
    idle_ = true;
    halted_ = paused_ = false;
    stop_mask_ = 0;
    dmi_valid_ = false;
    if (sc_core::sc_is_running() || sc_core::sc_get_status() == sc_core::SC_PAUSED)
        irq_ev_.notify(sc_core::SC_ZERO_TIME);
}

uint64_t tlm_device::device_time() const {
    return dev_ ? spkdev_time(dev_) : 0;
}

void tlm_device::set_stop_mask(uint32_t mask) {
    if (mask == stop_mask_) return;
    stop_mask_ = mask;
    if (paused_) wake_ev_.notify(sc_core::SC_ZERO_TIME);
}

void tlm_device::set_quantum(sc_core::sc_time q) {
    quantum_ = q;
}

void tlm_device::start_of_simulation() {
    if (!firmware_.empty() && dev_ && !load_firmware(firmware_))
        SC_REPORT_ERROR("spk/tlm_device", error_.c_str());
}

bool tlm_device::load_firmware(const std::string &path) {
    const spk_fw_target target = {
        SPK_MEM_IMEM_BASE, SPK_MEM_IMEM_SIZE, SPK_MEM_DMEM_BASE, SPK_MEM_DMEM_SIZE,
        spkdev_reg_read(dev_, SPK_VERSION_REG_OFFSET) >> SPK_VERSION_MAJOR_OFFSET};
    spk_fw_image img;
    if (spk_fw_parse_file(path.c_str(), &target, &img) != SPK_OK) {
        error_ = "firmware " + path + ": " + spk_last_error();
        return false;
    }
    bool ok = true;
    for (unsigned i = 0; i < img.nsegments; i++)
        ok = ok && spkdev_mem_write(dev_, img.segments[i].addr, img.segments[i].data,
                                    img.segments[i].filesz) == 0;
    spk_fw_image_free(&img);
    if (!ok) {
        error_ = "firmware " + path + ": a segment does not fit the core's memories";
        return false;
    }
    spkdev_reg_write(dev_, SPK_CTRL_REG_OFFSET, 1u << SPK_CTRL_RUN_BIT);
    idle_ = false;
    return true;
}

// ---- the run thread ------------------------------------------------------------------------
void tlm_device::run_thread() {
    for (;;) {
        if (!dev_ || idle_ || halted_ || paused_) {
            stopped_ev_.notify(sc_core::SC_ZERO_TIME);
            sc_core::wait(wake_ev_);
            paused_ = false; // re-evaluated by the next run (EVENT again if the bit is still set)
            continue;
        }
        spkdev *dev = dev_;
        const uint64_t cycles = quantum_ / period_ < 1 ? 1 : uint64_t(quantum_ / period_);
        const uint64_t t0 = spkdev_time(dev);
        // The --sc engine spends simulated time on its clock: start it from synchronised time
        // and annotate only the device time it did not spend.
        if (rtl_ && qk_.get_local_time() > sc_core::SC_ZERO_TIME) qk_.sync();
        const sc_core::sc_time s0 = sc_core::sc_time_stamp();
        running_ = true;
        const spkdev_run_result r = spkdev_run(dev, stop_mask_, cycles);
        running_ = false;
        run_done_ev_.notify(sc_core::SC_ZERO_TIME);
        stats_.runs++;
        if (dev != dev_) continue; // released while it ran
        const sc_core::sc_time spent = sc_core::sc_time_stamp() - s0;
        const sc_core::sc_time busy = period_ * double(spkdev_time(dev) - t0) + bus_delay_;
        qk_.inc(busy > spent ? busy - spent : sc_core::SC_ZERO_TIME);
        bus_delay_ = sc_core::SC_ZERO_TIME;
        irq_ev_.notify(qk_.get_local_time());
        idle_ = r == SPKDEV_RUN_IDLE;
        halted_ = r == SPKDEV_RUN_HALTED;
        paused_ = r == SPKDEV_RUN_EVENT;
        if (idle_ || halted_ || paused_ || qk_.get_local_time() >= quantum_) qk_.sync();
    }
}

void tlm_device::irq_method() {
    bool level = false;
    if (dev_) {
        const uint32_t ctrl = spkdev_reg_read(dev_, SPK_CTRL_REG_OFFSET);
        level = (ctrl & (1u << SPK_CTRL_IRQ_EN_BIT)) &&
                (spkdev_reg_read(dev_, SPK_INTR_STATE_REG_OFFSET) & intr_bits);
    }
    if (irq.read() != level) irq.write(level);
}

// ---- the register window -------------------------------------------------------------------
void tlm_device::b_transport(tlm::tlm_generic_payload &p, sc_core::sc_time &delay) {
    const uint64_t addr = p.get_address();
    stats_.reg_accesses++;
    p.set_response_status(tlm::TLM_OK_RESPONSE);
    if (p.get_byte_enable_ptr())
        p.set_response_status(tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
    else if (p.get_data_length() != 4 || p.get_streaming_width() != 4)
        p.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
    else if (addr % 4 || addr >= reg_window_bytes)
        p.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    else if (!dev_)
        p.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
    if (p.get_response_status() != tlm::TLM_OK_RESPONSE) {
        stats_.reg_errors++;
        return;
    }
    const uint32_t off = uint32_t(addr);
    uint32_t v = 0;
    if (p.is_read()) {
        v = spkdev_reg_read(dev_, off);
        std::memcpy(p.get_data_ptr(), &v, 4);
    } else if (p.is_write()) {
        std::memcpy(&v, p.get_data_ptr(), 4);
        spkdev_reg_write(dev_, off, v);
        if (off == SPK_DOORBELL_REG_OFFSET || off == SPK_CTRL_REG_OFFSET) {
            idle_ = false; // the core may have work now: the run thread finds out
            wake_ev_.notify(sc_core::SC_ZERO_TIME);
        } else if (off == SPK_INTR_STATE_REG_OFFSET && paused_) {
            wake_ev_.notify(sc_core::SC_ZERO_TIME); // the bit it stopped at may be clear now
        }
        irq_ev_.notify(delay);
    }
    delay += period_;
}

unsigned tlm_device::transport_dbg(tlm::tlm_generic_payload &p) {
    const uint64_t addr = p.get_address();
    const unsigned n = p.get_data_length();
    if (!dev_ || addr % 4 || n % 4 || addr >= reg_window_bytes) return 0;
    unsigned done = 0;
    for (; done < n && addr + done < reg_window_bytes; done += 4) {
        uint32_t v = 0;
        if (p.is_read()) {
            v = spkdev_reg_read(dev_, uint32_t(addr + done));
            std::memcpy(p.get_data_ptr() + done, &v, 4);
        } else if (p.is_write()) {
            std::memcpy(&v, p.get_data_ptr() + done, 4);
            spkdev_reg_write(dev_, uint32_t(addr + done), v);
        }
    }
    p.set_response_status(tlm::TLM_OK_RESPONSE);
    return done;
}

// ---- the control core's memories (loaders) ------------------------------------------------
namespace {
// Core-map address of a local-window offset, or ~0 outside the two memories.
uint64_t local_to_core(uint64_t off, uint64_t n) {
    if (off < SPK_MEM_IMEM_SIZE && n <= SPK_MEM_IMEM_SIZE - off) return SPK_MEM_IMEM_BASE + off;
    const uint64_t d = off - tlm_device::local_dmem_offset;
    if (off >= tlm_device::local_dmem_offset && d < SPK_MEM_DMEM_SIZE && n <= SPK_MEM_DMEM_SIZE - d)
        return SPK_MEM_DMEM_BASE + d;
    return ~uint64_t(0);
}
} // namespace

void tlm_device::local_b_transport(tlm::tlm_generic_payload &p, sc_core::sc_time &delay) {
    const uint64_t n = p.get_data_length();
    const uint64_t at = local_to_core(p.get_address(), n);
    if (p.get_byte_enable_ptr()) {
        p.set_response_status(tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
    } else if (p.get_streaming_width() < n) {
        p.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
    } else if (!dev_ || at == ~uint64_t(0)) {
        p.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    } else {
        const int rc = p.is_read()    ? spkdev_mem_read(dev_, at, p.get_data_ptr(), n)
                       : p.is_write() ? spkdev_mem_write(dev_, at, p.get_data_ptr(), n)
                                      : 0;
        p.set_response_status(rc ? tlm::TLM_ADDRESS_ERROR_RESPONSE : tlm::TLM_OK_RESPONSE);
        delay += period_;
    }
}

unsigned tlm_device::local_transport_dbg(tlm::tlm_generic_payload &p) {
    sc_core::sc_time d = sc_core::SC_ZERO_TIME;
    local_b_transport(p, d);
    return p.is_response_ok() ? p.get_data_length() : 0;
}

// ---- device DRAM through the initiator socket -----------------------------------------------
int tlm_device::dram_read(void *ctx, uint64_t addr, void *dst, uint64_t bytes) {
    return static_cast<tlm_device *>(ctx)->dram_access(tlm::TLM_READ_COMMAND, addr, dst, bytes);
}

int tlm_device::dram_write(void *ctx, uint64_t addr, const void *src, uint64_t bytes) {
    return static_cast<tlm_device *>(ctx)->dram_access(tlm::TLM_WRITE_COMMAND, addr,
                                                       const_cast<void *>(src), bytes);
}

int tlm_device::dram_access(tlm::tlm_command cmd, uint64_t addr, void *data, uint64_t bytes) {
    if (!bytes) return 0;
    const uint64_t a = dram_base_ + addr;
    const bool rd = cmd == tlm::TLM_READ_COMMAND;
    if (dmi_valid_ && a >= dmi_.get_start_address() && a + bytes - 1 <= dmi_.get_end_address() &&
        (rd ? dmi_.is_read_allowed() : dmi_.is_write_allowed())) {
        uint8_t *at = dmi_.get_dmi_ptr() + (a - dmi_.get_start_address());
        if (rd)
            std::memcpy(data, at, bytes);
        else
            std::memcpy(at, data, bytes);
        stats_.dram_dmi++;
        stats_.dram_bytes += bytes;
        return 0;
    }
    if (bytes > UINT32_MAX) return -1;
    tlm::tlm_generic_payload p;
    p.set_command(cmd);
    p.set_address(a);
    p.set_data_ptr(static_cast<unsigned char *>(data));
    p.set_data_length(unsigned(bytes));
    p.set_streaming_width(unsigned(bytes));
    p.set_byte_enable_ptr(nullptr);
    p.set_dmi_allowed(false);
    p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    dram->b_transport(p, delay);
    bus_delay_ += delay;
    stats_.dram_transactions++;
    if (!p.is_response_ok()) return -1;
    stats_.dram_bytes += bytes;
    if (p.is_dmi_allowed()) {
        tlm::tlm_dmi dmi;
        p.set_address(a);
        if (dram->get_direct_mem_ptr(p, dmi)) {
            dmi_ = dmi;
            dmi_valid_ = true;
            stats_.dmi_grants++;
        }
    }
    return 0;
}

// A read of the --sc engine's AXI port: one TLM read on the DRAM socket (never DMI), 0 or -1.
int tlm_device::engine_read(uint64_t addr, void *dst, uint32_t bytes) {
    if (!bytes) return 0;
    if (addr >= dram_size_ || bytes > dram_size_ - addr) return -1;
    tlm::tlm_generic_payload p;
    p.set_command(tlm::TLM_READ_COMMAND);
    p.set_address(dram_base_ + addr);
    p.set_data_ptr(static_cast<unsigned char *>(dst));
    p.set_data_length(bytes);
    p.set_streaming_width(bytes);
    p.set_byte_enable_ptr(nullptr);
    p.set_dmi_allowed(false);
    p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME; // the AXI slave's latency is the timing
    dram->b_transport(p, delay);
    stats_.dram_transactions++;
    if (!p.is_response_ok()) return -1;
    stats_.dram_bytes += bytes;
    return 0;
}

void tlm_device::invalidate(sc_dt::uint64 start, sc_dt::uint64 end) {
    if (dmi_valid_ && start <= dmi_.get_end_address() && end >= dmi_.get_start_address()) {
        dmi_valid_ = false;
        stats_.dmi_invalidations++;
    }
}

} // namespace spk
