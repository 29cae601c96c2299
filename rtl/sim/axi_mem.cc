// AXI4 read slave over a memory callback (see axi_mem.h).
#include "axi_mem.h"

#include <cstring>
#include <utility>

namespace spkrtl {

AxiMem::AxiMem(const AxiMemConfig &cfg, ReadFn read, std::mt19937_64 *rng)
    : cfg_(cfg), read_(std::move(read)), own_rng_(cfg.seed), rng_(rng ? rng : &own_rng_) {
    if (cfg_.bus_bytes < 4 || cfg_.bus_bytes > 64 || (cfg_.bus_bytes & (cfg_.bus_bytes - 1)))
        cfg_.bus_bytes = 32;
}

void AxiMem::reset() {
    pending_.clear();
    shown_ = false;
    loaded_ = false;
    out_ = AxiSlave{};
    in_ = AxiMaster{};
}

// Read the front beat's bus word into out_ (once per beat: it is held until taken).
void AxiMem::load_front() {
    const Read &r = pending_.front();
    const uint32_t bus = cfg_.bus_bytes;
    uint8_t bytes[64] = {};
    bool error = r.bad;
    if (!error && read_) error = read_(r.addr & ~(uint64_t)(bus - 1), bytes, bus) != 0;
    if (error) std::memset(bytes, 0, sizeof bytes);
    for (uint32_t w = 0; w < 16; w++) {
        uint32_t v = 0;
        if (w < bus / 4)
            for (int b = 0; b < 4; b++) v |= (uint32_t)bytes[4 * w + b] << (8 * b);
        out_.rdata[w] = v;
    }
    const bool injected = (int64_t)answered_ == cfg_.error_at;
    out_.rresp = error || injected ? 2u : 0u;
    out_.rlast = r.beats == 1;
    loaded_ = true;
}

const AxiSlave &AxiMem::drive(uint64_t now, const AxiMaster &m) {
    in_ = m;
    out_.arready = !cfg_.random_stalls || (*rng_)() % 3 != 0;
    out_.rvalid = shown_ || (!pending_.empty() && pending_.front().ready_at <= now &&
                             (!cfg_.random_stalls || (*rng_)() % 4 != 0));
    if (out_.rvalid) {
        if (!loaded_) load_front();
    } else {
        out_.rresp = 0;
        out_.rlast = false;
        std::memset(out_.rdata, 0, sizeof out_.rdata);
    }
    return out_;
}

void AxiMem::commit(uint64_t now_after) {
    const bool r_taken = out_.rvalid && in_.rready;
    const bool ar_taken = in_.arvalid && out_.arready;
    shown_ = out_.rvalid && !r_taken;
    if (r_taken) {
        if (out_.rresp != 0) errors_++;
        if ((int64_t)answered_ == cfg_.error_at) cfg_.error_at = -1; // one injected error only
        answered_++;
        Read &r = pending_.front();
        loaded_ = false;
        if (--r.beats == 0) {
            pending_.pop_front();
        } else {
            r.addr = (r.addr & ~(uint64_t)(r.size - 1)) + r.size; // INCR: the next aligned beat
        }
    }
    if (ar_taken) {
        ar_accepted_++;
        Read r{in_.araddr, in_.arlen + 1, 1u << (in_.arsize & 7u), false, now_after + cfg_.latency};
        if (in_.arburst != 1 || r.size > cfg_.bus_bytes) {
            r.bad = true;
            if (violations_++ == 0)
                first_violation_ = "unsupported AR at " + std::to_string(in_.araddr) + ": burst " +
                                   std::to_string(in_.arburst) + ", size " +
                                   std::to_string(r.size) + " bytes";
        }
        pending_.push_back(r);
    }
}

} // namespace spkrtl
