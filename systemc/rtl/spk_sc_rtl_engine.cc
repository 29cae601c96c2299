// The `--sc` Verilated engine of the TLM device (systemc/spk_sc_rtl.h) and the spk_rtl_api table
// through which the device's `rtl` engine implementation (device/engine_rtl.c) drives it.
//
// Head requests, the importance bank's clear and reads run on Vengine_sc, with the sequencing of
// the RTL plugin's C++-clocked engine (rtl/sim/rtl_engine.cc) in SystemC time: the caller (the
// device's SC_THREAD) drives the ports, makes one clock cycle (clk high for half a period, low
// for the other half) and reads the outputs. The AXI4 read port is served by spkrtl::AxiMem
// (rtl/sim/axi_mem.h, the same slave as the rtl backend's, 8 cycles of latency) whose reads are
// TLM transactions on the device's DRAM socket. The prune unit is the RTL plugin's
// (libspk-rtl.so, the C++-clocked Verilated spk_prune): its entries go through its table.
#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "Vengine_sc.h"
#include "axi_mem.h"
#include "spkrtl/eng_req.h"
#include "spk_sc_rtl.h"
#include "spkrtl/rtl_engine.h"

#ifndef SPK_SC_RTL_PLUGIN_DEFAULT
#define SPK_SC_RTL_PLUGIN_DEFAULT "/usr/local/lib/spk/libspk-rtl.so"
#endif
#ifndef SPK_SC_RTL_PLUGIN_BUILD
#define SPK_SC_RTL_PLUGIN_BUILD SPK_SC_RTL_PLUGIN_DEFAULT
#endif

namespace spk {

namespace {
// The parameters systemc/systemc.mk Verilates Vengine_sc with (Vengine's).
constexpr uint32_t kDmax = 64, kNmax = 512, kNtok = 1024, kNhead = 16, kQdepth = 4;

const char *field_too_wide(const spk_eng_head_req &r) {
    return spk_eng_req_field_too_wide(&r);
}
} // namespace

class sc_rtl_engine : public sc_core::sc_module {
  public:
    sc_rtl_engine(sc_core::sc_module_name name, sc_rtl_read_fn read);

    int head(const spk_eng_head_req &req, spk_rtl_head_result &res, uint64_t max_cycles,
             std::string &err);
    int imp_clear(uint64_t max_cycles);
    int imp_read(uint32_t index, uint64_t &value);

    sc_core::sc_time half_ = sc_core::sc_time(500, sc_core::SC_PS);
    bool bound_ = false, needs_reset_ = true, abort_ = false;
    uint64_t cycles_ = 0, reads_ = 0;

  private:
    void cycle(); // one clock cycle of the model (inputs as written; outputs settled after it)
    void step();  // one cycle with the AXI slave
    void reset();
    bool ready(); // reset done, not aborted
    bool wait_idle(uint64_t budget);

    Vengine_sc top_;
    spkrtl::AxiMem mem_;
// clang-format off
// Every port of Vengine_sc, with the signal it is bound to (name_).
#define SPK_SC_SIGNALS(X) \
    X(bool, clk) \
    X(bool, rst) \
    X(bool, req_valid) \
    X(bool, req_ready) \
    X(uint32_t, tag) \
    X(uint32_t, head) \
    X(uint32_t, d) \
    X(uint32_t, msb_bits) \
    X(uint32_t, lsb_bits) \
    X(bool, key_list) \
    X(bool, arvalid) \
    X(bool, arready) \
    X(uint32_t, arlen) \
    X(uint32_t, arsize) \
    X(uint32_t, arburst) \
    X(bool, rvalid) \
    X(bool, rready) \
    X(uint32_t, rresp) \
    X(bool, rlast) \
    X(bool, idle) \
    X(uint32_t, run_tag) \
    X(bool, imp_clear) \
    X(bool, imp_busy) \
    X(bool, imp_rd_en) \
    X(bool, imp_rd_valid) \
    X(bool, prob_valid) \
    X(bool, vkey_valid) \
    X(bool, out_valid) \
    X(uint32_t, out_index) \
    X(bool, done) \
    X(bool, bad_cmd) \
    X(bool, bus_error) \
    X(bool, requant) \
    X(uint32_t, v_keep) \
    X(uint32_t, n_keys) \
    X(uint32_t, key_base) \
    X(uint32_t, imp_rd_index) \
    X(uint32_t, prob_index) \
    X(uint32_t, prob_value) \
    X(uint32_t, vkey_token) \
    X(uint32_t, out_exp) \
    X(uint32_t, keys_fetched) \
    X(uint32_t, values_fetched) \
    X(uint32_t, threshold) \
    X(uint32_t, keys_base) \
    X(uint32_t, q_scale) \
    X(uint32_t, q_base) \
    X(uint32_t, k_msb_base) \
    X(uint32_t, k_lsb_base) \
    X(uint32_t, v_msb_base) \
    X(uint32_t, v_lsb_base) \
    X(uint32_t, k_scale_base) \
    X(uint32_t, v_scale_base) \
    X(uint32_t, araddr) \
    X(uint32_t, out_value) \
    X(uint64_t, imp_rd_value) \
    X(uint64_t, head_importance) \
    X(sc_dt::sc_bv<256>, rdata)
// clang-format on
#define SPK_SC_DECL(T, n) sc_core::sc_signal<T> n##_;
    SPK_SC_SIGNALS(SPK_SC_DECL)
#undef SPK_SC_DECL
    std::vector<int32_t> out_;
    std::vector<uint16_t> probs_;
    std::vector<uint32_t> vkeys_;
};

sc_rtl_engine::sc_rtl_engine(sc_core::sc_module_name name, sc_rtl_read_fn read)
    : sc_core::sc_module(name), top_("engine"),
      mem_(spkrtl::AxiMemConfig{},
           [this, read](uint64_t addr, void *dst, uint32_t bytes) {
               reads_++;
               return read(addr, dst, bytes);
           })
#define SPK_SC_INIT(T, n) , n##_(#n)
          SPK_SC_SIGNALS(SPK_SC_INIT)
#undef SPK_SC_INIT
{
#define SPK_SC_BIND(T, n) top_.n(n##_);
    SPK_SC_SIGNALS(SPK_SC_BIND)
#undef SPK_SC_BIND
}

void sc_rtl_engine::cycle() {
    clk_.write(true);
    sc_core::wait(half_);
    clk_.write(false);
    sc_core::wait(half_);
    cycles_++;
}

void sc_rtl_engine::step() {
    spkrtl::AxiMaster m;
    m.arvalid = arvalid_.read();
    m.araddr = araddr_.read();
    m.arlen = arlen_.read();
    m.arsize = arsize_.read();
    m.arburst = arburst_.read();
    m.rready = rready_.read();
    const spkrtl::AxiSlave &s = mem_.drive(cycles_, m);
    arready_.write(s.arready);
    rvalid_.write(s.rvalid);
    rlast_.write(s.rlast);
    rresp_.write(s.rresp);
    sc_dt::sc_bv<256> w;
    for (int i = 0; i < 8; i++) w.set_word(i, s.rdata[i]);
    rdata_.write(w);
    cycle();
    mem_.commit(cycles_);
}

// As RtlSim::reset after the plugin's Engine constructor: inputs low, rst for 4 cycles.
void sc_rtl_engine::reset() {
    req_valid_.write(false);
    imp_clear_.write(false);
    imp_rd_en_.write(false);
    arready_.write(false);
    rvalid_.write(false);
    mem_.reset();
    rst_.write(true);
    for (int i = 0; i < 4; i++) cycle();
    rst_.write(false);
    sc_core::wait(sc_core::SC_ZERO_TIME);
    needs_reset_ = false;
}

bool sc_rtl_engine::ready() {
    if (abort_) return false;
    if (needs_reset_) reset();
    return !abort_;
}

bool sc_rtl_engine::wait_idle(uint64_t budget) {
    for (uint64_t i = 0; !idle_.read() || imp_busy_.read(); i++) {
        if (i >= budget || abort_) return false;
        step();
    }
    return true;
}

int sc_rtl_engine::head(const spk_eng_head_req &req, spk_rtl_head_result &res, uint64_t max_cycles,
                        std::string &err) {
    if (!ready()) {
        err = "spk_sc_rtl: the device is being released";
        return -1;
    }
    const uint64_t t0 = cycles_, reads0 = mem_.ar_accepted();
    if (field_too_wide(req)) {
        res.bad_cmd = 1;
        return 0;
    }
    const uint32_t d = req.d, n = req.n_keys;
    const uint64_t budget =
        max_cycles ? max_cycles
                   : 200000 + uint64_t(n) *
                                  (4000 + 64 * uint64_t(d) + 32 * uint64_t(mem_.config().latency));
    tag_.write(req.tag);
    head_.write(req.head);
    d_.write(req.d);
    msb_bits_.write(req.msb_bits);
    lsb_bits_.write(req.lsb_bits);
    threshold_.write(req.threshold);
    v_keep_.write(req.v_keep);
    n_keys_.write(req.n_keys);
    key_base_.write(req.key_base);
    key_list_.write(req.key_list != 0);
    keys_base_.write(req.keys_base);
    q_scale_.write(req.q_scale);
    q_base_.write(req.q_base);
    k_msb_base_.write(req.k_msb_base);
    k_lsb_base_.write(req.k_lsb_base);
    v_msb_base_.write(req.v_msb_base);
    v_lsb_base_.write(req.v_lsb_base);
    k_scale_base_.write(req.k_scale_base);
    v_scale_base_.write(req.v_scale_base);
    out_.assign(kDmax, 0);
    probs_.assign(kNmax, 0);
    vkeys_.clear();
    bool queued = false;
    while (true) {
        if (queued) {
            if (prob_valid_.read() && prob_index_.read() < kNmax)
                probs_[prob_index_.read()] = uint16_t(prob_value_.read());
            if (vkey_valid_.read() && vkeys_.size() < kNmax) vkeys_.push_back(vkey_token_.read());
            if (out_valid_.read() && out_index_.read() < kDmax)
                out_[out_index_.read()] = int32_t(out_value_.read());
            if (done_.read()) break;
        }
        if (cycles_ - t0 >= budget || abort_) {
            req_valid_.write(false);
            needs_reset_ = true;
            err = abort_ ? "spk_sc_rtl: the device is being released"
                         : "spk_sc_rtl: head request (tag " + std::to_string(req.tag) +
                               ") not done after " + std::to_string(budget) +
                               " cycles; the engine was reset (clear its importance bank again)";
            return -1;
        }
        req_valid_.write(!queued);
        const bool taken = !queued && req_ready_.read();
        step();
        if (taken) {
            queued = true;
            req_valid_.write(false);
        }
    }
    res.bad_cmd = bad_cmd_.read();
    res.bus_error = bus_error_.read();
    {
        const uint32_t e = out_exp_.read() & 0x3FFu;
        res.out_exp = int32_t(e ^ 0x200u) - 0x200;
    }
    res.head_importance = head_importance_.read();
    res.requant = requant_.read();
    res.keys_fetched = keys_fetched_.read();
    res.values_fetched = values_fetched_.read();
    res.cycles = cycles_ - t0;
    res.axi_reads = mem_.ar_accepted() - reads0;
    if (run_tag_.read() != (req.tag & 0xFFu)) {
        err = "spk_sc_rtl: done with tag " + std::to_string(run_tag_.read()) + ", want " +
              std::to_string(req.tag);
        return -1;
    }
    if (!res.bad_cmd) {
        res.n_v_keys = uint32_t(vkeys_.size());
        std::copy(out_.begin(), out_.begin() + d, res.out);
        if (res.probs) std::copy(probs_.begin(), probs_.begin() + n, res.probs);
        if (res.v_keys) std::copy(vkeys_.begin(), vkeys_.end(), res.v_keys);
    }
    step(); // done is a one-cycle pulse: back to idle for the next request
    return 0;
}

int sc_rtl_engine::imp_clear(uint64_t max_cycles) {
    if (!ready()) return -1;
    const uint64_t budget = max_cycles ? max_cycles : 8 * (kNtok + kNhead) + 1000;
    const uint64_t t0 = cycles_;
    if (!wait_idle(budget)) return -1;
    imp_clear_.write(true);
    step();
    imp_clear_.write(false);
    while (imp_busy_.read()) {
        if (cycles_ - t0 >= budget || abort_) return -1;
        step();
    }
    return 0;
}

int sc_rtl_engine::imp_read(uint32_t index, uint64_t &value) {
    if (index >= kNtok + kNhead || !ready()) return -1;
    for (int attempt = 0; attempt < 64; attempt++) {
        if (!wait_idle(100000)) return -1;
        imp_rd_en_.write(true);
        imp_rd_index_.write(index);
        step();
        imp_rd_en_.write(false);
        if (imp_rd_valid_.read()) {
            value = imp_rd_value_.read();
            return 0;
        }
    }
    return -1;
}

// ---- the module's C++ interface (spk_sc_rtl.h) ---------------------------------------------
namespace {
sc_rtl_engine *next_bind = nullptr;
} // namespace

sc_rtl_engine *sc_rtl_new(const char *name, sc_rtl_read_fn read) {
    return new sc_rtl_engine(name, std::move(read));
}
void sc_rtl_delete(sc_rtl_engine *e) {
    if (next_bind == e) next_bind = nullptr;
    delete e;
}
void sc_rtl_prepare(sc_rtl_engine *e) {
    e->abort_ = false;
    next_bind = e;
}
void sc_rtl_set_period(sc_rtl_engine *e, sc_core::sc_time period) {
    e->half_ = period / 2.0;
}
void sc_rtl_abort(sc_rtl_engine *e) {
    e->abort_ = true;
}
uint64_t sc_rtl_reads(const sc_rtl_engine *e) {
    return e->reads_;
}
uint64_t sc_rtl_cycles(const sc_rtl_engine *e) {
    return e->cycles_;
}

std::string sc_rtl_plugin_path(std::string *why) {
    Dl_info info;
    std::memset(&info, 0, sizeof(info));
    if (!dladdr(reinterpret_cast<void *>(&spk_rtl_api_v1), &info) || !info.dli_fname) {
        if (why) *why = "systemc-rtl: cannot find the object that holds the engine";
        return "";
    }
    const std::string path = info.dli_fname;
    void *self = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD | RTLD_LOCAL);
    if (!self || dlsym(self, SPK_RTL_API_SYMBOL) != reinterpret_cast<void *>(&spk_rtl_api_v1)) {
        if (self) dlclose(self);
        if (why)
            *why = "systemc-rtl: the engine is reachable through the plugin libspk-systemc.so "
                   "only (" +
                   path + " does not export " SPK_RTL_API_SYMBOL ")";
        return "";
    }
    dlclose(self);
    return path;
}

} // namespace spk

// ---- spk_rtl_api: what device/engine_rtl.c loads ---------------------------------------------
struct spk_rtl_engine {
    spk::sc_rtl_engine *sc = nullptr;
    void *lib = nullptr;              // libspk-rtl.so, for the prune unit
    const spk_rtl_api *rtl = nullptr; // its table
    spk_rtl_engine *prune = nullptr;  // its engine (the prune unit's owner)
};

namespace {

void set_err(char *err, size_t len, const std::string &msg) {
    if (err && len) std::snprintf(err, len, "%s", msg.c_str());
}

void *open_rtl_plugin(std::string *path) {
    const char *env = std::getenv("SPK_RTL_PLUGIN");
    if (env && *env) return dlopen((*path = env).c_str(), RTLD_NOW | RTLD_LOCAL);
    void *lib = dlopen((*path = SPK_SC_RTL_PLUGIN_DEFAULT).c_str(), RTLD_NOW | RTLD_LOCAL);
    return lib ? lib : dlopen((*path = SPK_SC_RTL_PLUGIN_BUILD).c_str(), RTLD_NOW | RTLD_LOCAL);
}

void api_destroy(spk_rtl_engine *e) {
    if (!e) return;
    if (e->sc) e->sc->bound_ = false;
    if (e->prune) e->rtl->destroy(e->prune);
    if (e->lib) dlclose(e->lib);
    delete e;
}

spk_rtl_engine *api_create(const spk_rtl_engine_config *cfg, char *err, size_t err_len) {
    if (err && err_len) err[0] = '\0';
    spk::sc_rtl_engine *sc = spk::next_bind;
    spk::next_bind = nullptr;
    if (!sc || sc->bound_) {
        set_err(err, err_len,
                "spk_sc_rtl: the --sc engine is created by spk::tlm_device (engine \"rtl\")");
        return nullptr;
    }
    if (!cfg || (cfg->variant && std::strcmp(cfg->variant, "full") != 0)) {
        set_err(err, err_len, "spk_sc_rtl: only the full engine (spk_engine) is Verilated --sc");
        return nullptr;
    }
    std::unique_ptr<spk_rtl_engine> e(new spk_rtl_engine);
    std::string path;
    e->lib = open_rtl_plugin(&path);
    spk_rtl_api_v1_fn entry =
        e->lib ? reinterpret_cast<spk_rtl_api_v1_fn>(dlsym(e->lib, SPK_RTL_API_SYMBOL)) : nullptr;
    e->rtl = entry ? entry() : nullptr;
    if (!e->rtl || e->rtl->version != SPK_RTL_API_VERSION) {
        set_err(err, err_len,
                "spk_sc_rtl: the prune unit needs the RTL plugin " + path + " (" +
                    (e->lib ? "not of API version " + std::to_string(SPK_RTL_API_VERSION)
                            : std::string(dlerror())) +
                    ")");
        api_destroy(e.release());
        return nullptr;
    }
    spk_rtl_engine_config pc{};
    pc.size = sizeof(pc);
    pc.variant = "full";
    pc.read = cfg->read;
    pc.read_ctx = cfg->read_ctx;
    e->prune = e->rtl->create(&pc, err, err_len);
    if (!e->prune) {
        api_destroy(e.release());
        return nullptr;
    }
    e->sc = sc;
    sc->bound_ = true;
    sc->needs_reset_ = true;
    return e.release();
}

void api_params(const spk_rtl_engine *, spk_rtl_params *p) {
    if (p) *p = spk_rtl_params{spk::kDmax, spk::kNmax, spk::kNtok, spk::kNhead, spk::kQdepth};
}

int api_head(spk_rtl_engine *e, const spk_eng_head_req *req, spk_rtl_head_result *res,
             uint64_t max_cycles, char *err, size_t err_len) {
    if (err && err_len) err[0] = '\0';
    if (!e || !req || !res) {
        set_err(err, err_len, "spk_sc_rtl: NULL engine, request or result");
        return -1;
    }
    res->n_v_keys = 0;
    res->out_exp = 0;
    res->head_importance = 0;
    res->requant = res->keys_fetched = res->values_fetched = 0;
    res->bad_cmd = res->bus_error = 0;
    res->cycles = res->axi_reads = 0;
    if (!res->out && !spk::field_too_wide(*req) && req->d > 0) {
        set_err(err, err_len, "spk_sc_rtl: no output buffer");
        return -1;
    }
    std::string why;
    const int rc = e->sc->head(*req, *res, max_cycles, why);
    if (rc) set_err(err, err_len, why);
    return rc;
}

int api_imp_clear(spk_rtl_engine *e, uint64_t max_cycles) {
    return e ? e->sc->imp_clear(max_cycles) : -1;
}
int api_imp_read(spk_rtl_engine *e, uint32_t index, uint64_t *value) {
    return e && value ? e->sc->imp_read(index, *value) : -1;
}
uint64_t api_cycles(const spk_rtl_engine *e) {
    return e ? e->sc->cycles_ : 0;
}
int api_prune_load(spk_rtl_engine *e, int head, uint32_t j, uint64_t importance, int alive) {
    return e ? e->rtl->prune_load(e->prune, head, j, importance, alive) : -1;
}
int api_prune_add(spk_rtl_engine *e, int head, uint32_t j, uint64_t amount) {
    return e ? e->rtl->prune_add(e->prune, head, j, amount) : -1;
}
int api_prune_read(spk_rtl_engine *e, int head, uint32_t j, uint64_t *importance, int *alive) {
    return e ? e->rtl->prune_read(e->prune, head, j, importance, alive) : -1;
}
int api_prune_run(spk_rtl_engine *e, const spk_rtl_prune_cmd *cmd, spk_rtl_prune_result *res,
                  uint64_t max_cycles, char *err, size_t err_len) {
    return e ? e->rtl->prune_run(e->prune, cmd, res, max_cycles, err, err_len) : -1;
}

const spk_rtl_api kApi = {
    SPK_RTL_API_VERSION, api_create, api_destroy,    api_params,    api_head,       api_imp_clear,
    api_imp_read,        api_cycles, api_prune_load, api_prune_add, api_prune_read, api_prune_run};

} // namespace

extern "C" __attribute__((visibility("default"))) const spk_rtl_api *spk_rtl_api_v1(void) {
    return &kApi;
}
