// A simple address router: any number of initiators bind to `target`, any number of targets to
// `initiator`; map(base, size, port) sends [base, base + size) to the port-th bound target with
// the address made relative to base. Unmapped addresses get TLM_ADDRESS_ERROR_RESPONSE. DMI
// requests and grants are translated both ways, and a target's invalidate_direct_mem_ptr reaches
// every initiator in bus addresses. Counts the transactions it routed.
#ifndef SPK_TLM_ROUTER_H
#define SPK_TLM_ROUTER_H

#include <cstdint>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_initiator_socket.h>
#include <tlm_utils/multi_passthrough_target_socket.h>

namespace spk {

class tlm_router : public sc_core::sc_module {
  public:
    tlm_utils::multi_passthrough_target_socket<tlm_router> target;
    tlm_utils::multi_passthrough_initiator_socket<tlm_router> initiator;

    struct counters {
        uint64_t transactions = 0, dbg = 0, dmi_requests = 0, errors = 0;
    };

    explicit tlm_router(sc_core::sc_module_name name)
        : sc_core::sc_module(name), target("target"), initiator("initiator") {
        target.register_b_transport(this, &tlm_router::b_transport);
        target.register_transport_dbg(this, &tlm_router::transport_dbg);
        target.register_get_direct_mem_ptr(this, &tlm_router::get_direct_mem_ptr);
        initiator.register_invalidate_direct_mem_ptr(this, &tlm_router::invalidate);
    }

    // Route [base, base + size) to the target bound port-th to `initiator`.
    void map(uint64_t base, uint64_t size, unsigned port) { map_.push_back({base, size, port}); }
    const counters &stats() const { return stats_; }

  private:
    struct region {
        uint64_t base, size;
        unsigned port;
    };

    const region *decode(uint64_t addr) const {
        for (const region &r : map_)
            if (addr >= r.base && addr - r.base < r.size) return &r;
        return nullptr;
    }

    void b_transport(int, tlm::tlm_generic_payload &p, sc_core::sc_time &delay) {
        const uint64_t addr = p.get_address();
        const region *r = decode(addr);
        if (!r || r->port >= initiator.size()) {
            stats_.errors++;
            p.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
            return;
        }
        stats_.transactions++;
        p.set_address(addr - r->base);
        initiator[r->port]->b_transport(p, delay);
        p.set_address(addr);
    }

    unsigned transport_dbg(int, tlm::tlm_generic_payload &p) {
        const uint64_t addr = p.get_address();
        const region *r = decode(addr);
        if (!r || r->port >= initiator.size()) return 0;
        stats_.dbg++;
        p.set_address(addr - r->base);
        const unsigned n = initiator[r->port]->transport_dbg(p);
        p.set_address(addr);
        return n;
    }

    bool get_direct_mem_ptr(int, tlm::tlm_generic_payload &p, tlm::tlm_dmi &dmi) {
        const uint64_t addr = p.get_address();
        const region *r = decode(addr);
        if (!r || r->port >= initiator.size()) return false;
        stats_.dmi_requests++;
        p.set_address(addr - r->base);
        const bool ok = initiator[r->port]->get_direct_mem_ptr(p, dmi);
        p.set_address(addr);
        // Back to bus addresses, clipped to the region.
        uint64_t start = dmi.get_start_address(), end = dmi.get_end_address();
        if (end > r->size - 1) end = r->size - 1;
        dmi.set_start_address(r->base + start);
        dmi.set_end_address(r->base + end);
        return ok;
    }

    void invalidate(int port, sc_dt::uint64 start, sc_dt::uint64 end) {
        for (const region &r : map_) {
            if (int(r.port) != port || start >= r.size) continue;
            const uint64_t e = end >= r.size ? r.size - 1 : end;
            for (unsigned i = 0; i < target.size(); i++)
                target[i]->invalidate_direct_mem_ptr(r.base + start, r.base + e);
        }
    }

    std::vector<region> map_;
    counters stats_;
};

} // namespace spk

#endif
