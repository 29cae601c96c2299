// A memory target for SystemC platforms: b_transport, transport_dbg and DMI over one zero-filled
// host buffer (calloc, so untouched pages cost nothing). Addresses are offsets into the memory
// (the router subtracts the region base). resize() re-creates it zeroed and revokes every DMI
// pointer it granted (invalidate_direct_mem_ptr).
#ifndef SPK_TLM_MEMORY_H
#define SPK_TLM_MEMORY_H

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

namespace spk {

class tlm_memory : public sc_core::sc_module {
  public:
    tlm_utils::simple_target_socket<tlm_memory> socket;

    struct counters {
        uint64_t reads = 0, writes = 0, bytes = 0, dbg = 0, dmi_grants = 0, errors = 0;
    };

    tlm_memory(sc_core::sc_module_name name, uint64_t bytes,
               sc_core::sc_time latency = sc_core::SC_ZERO_TIME, bool dmi = true)
        : sc_core::sc_module(name), socket("socket"), latency_(latency), dmi_(dmi) {
        socket.register_b_transport(this, &tlm_memory::b_transport);
        socket.register_transport_dbg(this, &tlm_memory::transport_dbg);
        socket.register_get_direct_mem_ptr(this, &tlm_memory::get_direct_mem_ptr);
        resize(bytes);
    }
    ~tlm_memory() override { std::free(data_); }
    tlm_memory(const tlm_memory &) = delete;
    tlm_memory &operator=(const tlm_memory &) = delete;

    // Re-create the memory zero-filled at @p bytes; DMI pointers into the old one are revoked.
    // Returns false (and keeps no memory) when the host has no room.
    bool resize(uint64_t bytes) {
        if (data_ && elaborated_) socket->invalidate_direct_mem_ptr(0, ~uint64_t(0));
        std::free(data_);
        size_ = 0;
        data_ = bytes ? static_cast<uint8_t *>(std::calloc(1, bytes)) : nullptr;
        if (data_) size_ = bytes;
        return data_ || !bytes;
    }
    uint8_t *data() { return data_; }
    uint64_t size() const { return size_; }
    void set_dmi(bool on) {
        if (!on && dmi_ && elaborated_) socket->invalidate_direct_mem_ptr(0, ~uint64_t(0));
        dmi_ = on;
    }
    const counters &stats() const { return stats_; }

  private:
    void end_of_elaboration() override { elaborated_ = true; }

    // The access's bytes or nullptr (with the response set) when the memory refuses it.
    uint8_t *check(tlm::tlm_generic_payload &p) {
        const uint64_t a = p.get_address(), n = p.get_data_length();
        if (p.get_byte_enable_ptr()) {
            p.set_response_status(tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
            return nullptr;
        }
        if (p.get_streaming_width() < n) {
            p.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
            return nullptr;
        }
        if (!data_ || a > size_ || n > size_ - a) {
            p.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
            return nullptr;
        }
        return data_ + a;
    }

    void b_transport(tlm::tlm_generic_payload &p, sc_core::sc_time &delay) {
        uint8_t *at = check(p);
        if (!at) {
            stats_.errors++;
            return;
        }
        const unsigned n = p.get_data_length();
        if (p.is_read()) {
            std::memcpy(p.get_data_ptr(), at, n);
            stats_.reads++;
        } else if (p.is_write()) {
            std::memcpy(at, p.get_data_ptr(), n);
            stats_.writes++;
        }
        stats_.bytes += n;
        delay += latency_;
        p.set_dmi_allowed(dmi_);
        p.set_response_status(tlm::TLM_OK_RESPONSE);
    }

    unsigned transport_dbg(tlm::tlm_generic_payload &p) {
        const uint64_t a = p.get_address();
        if (!data_ || a >= size_) return 0;
        const unsigned n = unsigned(std::min<uint64_t>(p.get_data_length(), size_ - a));
        if (p.is_read()) std::memcpy(p.get_data_ptr(), data_ + a, n);
        if (p.is_write()) std::memcpy(data_ + a, p.get_data_ptr(), n);
        stats_.dbg++;
        p.set_response_status(tlm::TLM_OK_RESPONSE);
        return n;
    }

    bool get_direct_mem_ptr(tlm::tlm_generic_payload &p, tlm::tlm_dmi &dmi) {
        dmi.allow_read_write();
        if (!dmi_ || !data_ || p.get_address() >= size_) {
            dmi.allow_none();
            dmi.set_start_address(0);
            dmi.set_end_address(~uint64_t(0));
            return false;
        }
        dmi.set_dmi_ptr(data_);
        dmi.set_start_address(0);
        dmi.set_end_address(size_ - 1);
        dmi.set_read_latency(latency_);
        dmi.set_write_latency(latency_);
        stats_.dmi_grants++;
        return true;
    }

    uint8_t *data_ = nullptr;
    uint64_t size_ = 0;
    sc_core::sc_time latency_;
    bool dmi_;
    bool elaborated_ = false;
    counters stats_;
};

} // namespace spk

#endif
