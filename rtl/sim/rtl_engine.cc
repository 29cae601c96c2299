// The RTL engine plugin (rtl/sim/include/spkrtl/rtl_engine.h): the Verilated spk_engine and
// spk_engine_compact and spk_engine_ovl behind a C function table, reading memory through AxiMem.
#include "spkrtl/rtl_engine.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "Vengine.h"
#include "Vengine_compact.h"
#include "Vengine_ovl.h"
#include "axi_mem.h"
#include "spkrtl/eng_req.h"
#include "rtl_prune.h"
#include "rtl_sim.h"

namespace {

// The parameters rtl/rtl.mk Verilates both engines with.
constexpr uint32_t kDmax = 64, kNmax = 512, kNtok = 1024, kNhead = 16, kQdepth = 4;

void set_err(char *err, size_t len, const std::string &msg) {
    if (err && len) std::snprintf(err, len, "%s", msg.c_str());
}

class EngineBase {
  public:
    virtual ~EngineBase() = default;
    virtual int head(const spk_eng_head_req &req, spk_rtl_head_result &res, uint64_t max_cycles,
                     std::string &err) = 0;
    virtual int imp_clear(uint64_t max_cycles) = 0;
    virtual int imp_read(uint32_t index, uint64_t &value) = 0;
    virtual uint64_t cycles() const = 0;
};

// Whether a descriptor field is too wide for its port (the hardware would truncate it).
const char *field_too_wide(const spk_eng_head_req &r) {
    return spk_eng_req_field_too_wide(&r);
}

template <class Model> class Engine : public EngineBase {
  public:
    Engine(const std::string &trace, const spkrtl::AxiMemConfig &mc, spkrtl::AxiMem::ReadFn read)
        : sim_(trace), mem_(mc, std::move(read)) {
        Model &io = sim_.io();
        io.req_valid = 0;
        io.imp_clear = 0;
        io.imp_rd_en = 0;
        io.arready = 0;
        io.rvalid = 0;
        sim_.reset();
    }

    uint64_t cycles() const override { return sim_.cycles(); }

    int head(const spk_eng_head_req &req, spk_rtl_head_result &res, uint64_t max_cycles,
             std::string &err) override {
        Model &io = sim_.io();
        const uint64_t t0 = sim_.cycles(), reads0 = mem_.ar_accepted();
        if (field_too_wide(req)) {
            res.bad_cmd = 1;
            return 0;
        }
        const uint32_t d = req.d, n = req.n_keys;
        const uint64_t budget = max_cycles
                                    ? max_cycles
                                    : 200000 + (uint64_t)n * (4000 + 64 * (uint64_t)d +
                                                              32 * (uint64_t)mem_.config().latency);
        io.tag = req.tag;
        io.head = req.head;
        io.d = req.d;
        io.msb_bits = req.msb_bits;
        io.lsb_bits = req.lsb_bits;
        io.threshold = req.threshold;
        io.v_keep = req.v_keep;
        io.n_keys = req.n_keys;
        io.key_base = req.key_base;
        io.key_list = req.key_list;
        io.keys_base = req.keys_base;
        io.q_scale = req.q_scale;
        io.q_base = req.q_base;
        io.k_msb_base = req.k_msb_base;
        io.k_lsb_base = req.k_lsb_base;
        io.v_msb_base = req.v_msb_base;
        io.v_lsb_base = req.v_lsb_base;
        io.k_scale_base = req.k_scale_base;
        io.v_scale_base = req.v_scale_base;
        out_.assign(kDmax, 0);
        probs_.assign(kNmax, 0);
        vkeys_.clear();
        bool queued = false;
        while (true) {
            if (queued) {
                // the running request's streams (this engine runs one request at a time)
                if (io.prob_valid && io.prob_index < kNmax) probs_[io.prob_index] = io.prob_value;
                if (io.vkey_valid && vkeys_.size() < kNmax) vkeys_.push_back(io.vkey_token);
                if (io.out_valid && io.out_index < kDmax)
                    out_[io.out_index] = (int32_t)io.out_value;
                if (io.done) break;
            }
            if (sim_.cycles() - t0 >= budget) {
                io.req_valid = 0;
                recover();
                err = "spk_rtl: head request (tag " + std::to_string(req.tag) +
                      ") not done after " + std::to_string(budget) +
                      " cycles; the engine was reset (clear its importance bank again)";
                return -1;
            }
            io.req_valid = !queued;
            const bool taken = !queued && io.req_ready;
            step();
            if (taken) {
                queued = true;
                io.req_valid = 0;
            }
        }
        res.bad_cmd = io.bad_cmd;
        res.bus_error = io.bus_error;
        res.out_exp = (int32_t)rtl_sext(io.out_exp, 10);
        res.head_importance = io.head_importance;
        res.requant = io.requant;
        res.keys_fetched = io.keys_fetched;
        res.values_fetched = io.values_fetched;
        res.cycles = sim_.cycles() - t0;
        res.axi_reads = mem_.ar_accepted() - reads0;
        if (io.run_tag != (req.tag & 0xFFu)) {
            err = "spk_rtl: done with tag " + std::to_string(io.run_tag) + ", want " +
                  std::to_string(req.tag);
            return -1;
        }
        if (!res.bad_cmd) {
            res.n_v_keys = (uint32_t)vkeys_.size();
            std::copy(out_.begin(), out_.begin() + d, res.out);
            if (res.probs) std::copy(probs_.begin(), probs_.begin() + n, res.probs);
            if (res.v_keys) std::copy(vkeys_.begin(), vkeys_.end(), res.v_keys);
        }
        step(); // done is a one-cycle pulse: back to idle for the next request
        return 0;
    }

    int imp_clear(uint64_t max_cycles) override {
        Model &io = sim_.io();
        const uint64_t budget = max_cycles ? max_cycles : 8 * (kNtok + kNhead) + 1000;
        const uint64_t t0 = sim_.cycles();
        if (!wait_idle(budget)) return -1;
        io.imp_clear = 1;
        step();
        io.imp_clear = 0;
        while (io.imp_busy) {
            if (sim_.cycles() - t0 >= budget) return -1;
            step();
        }
        return 0;
    }

    int imp_read(uint32_t index, uint64_t &value) override {
        if (index >= kNtok + kNhead) return -1;
        Model &io = sim_.io();
        for (int attempt = 0; attempt < 64; attempt++) {
            if (!wait_idle(100000)) return -1;
            io.imp_rd_en = 1;
            io.imp_rd_index = index;
            step();
            io.imp_rd_en = 0;
            if (io.imp_rd_valid) {
                value = io.imp_rd_value;
                return 0;
            }
        }
        return -1;
    }

  private:
    void step() { spkrtl::axi_mem_cycle(mem_, sim_); }

    bool wait_idle(uint64_t budget) {
        Model &io = sim_.io();
        for (uint64_t i = 0; !io.idle || io.imp_busy; i++) {
            if (i >= budget) return false;
            step();
        }
        return true;
    }

    // After a timeout: reset the model and forget the memory model's outstanding reads.
    void recover() {
        Model &io = sim_.io();
        io.arready = 0;
        io.rvalid = 0;
        io.imp_clear = 0;
        io.imp_rd_en = 0;
        mem_.reset();
        sim_.reset();
    }

    RtlSim<Model> sim_;
    spkrtl::AxiMem mem_;
    std::vector<int32_t> out_;
    std::vector<uint16_t> probs_;
    std::vector<uint32_t> vkeys_;
};

} // namespace

struct spk_rtl_engine {
    std::unique_ptr<EngineBase> impl;
    std::unique_ptr<spkrtl::PruneUnit> prune;
};

namespace {

spk_rtl_engine *api_create(const spk_rtl_engine_config *cfg, char *err, size_t err_len) {
    if (err && err_len) err[0] = '\0';
    if (!cfg) {
        set_err(err, err_len, "spk_rtl: no configuration");
        return nullptr;
    }
    if (cfg->size < offsetof(spk_rtl_engine_config, trace_path) + sizeof(cfg->trace_path)) {
        set_err(err, err_len,
                "spk_rtl: configuration size " + std::to_string(cfg->size) +
                    " too small (sizeof spk_rtl_engine_config is " +
                    std::to_string(sizeof(spk_rtl_engine_config)) + ")");
        return nullptr;
    }
    if (!cfg->read) {
        set_err(err, err_len, "spk_rtl: no memory read callback");
        return nullptr;
    }
    const std::string variant = cfg->variant ? cfg->variant : "full";
    if (variant != "full" && variant != "compact" && variant != "ovl") {
        set_err(err, err_len,
                "spk_rtl: unknown engine variant '" + variant + "' (want full, compact or ovl)");
        return nullptr;
    }
    spkrtl::AxiMemConfig mc;
    mc.latency = cfg->mem_latency ? cfg->mem_latency : 8;
    if (cfg->size >= offsetof(spk_rtl_engine_config, stall_seed) + sizeof(cfg->stall_seed) &&
        cfg->stall_seed) {
        mc.random_stalls = true;
        mc.seed = cfg->stall_seed;
    }
    const spk_rtl_read_fn fn = cfg->read;
    void *ctx = cfg->read_ctx;
    auto read = [fn, ctx](uint64_t addr, void *dst, uint32_t bytes) {
        return fn(ctx, addr, dst, bytes);
    };
    const std::string trace = cfg->trace_path ? cfg->trace_path : "";
    try {
        std::unique_ptr<spk_rtl_engine> e(new spk_rtl_engine);
        if (variant == "full")
            e->impl.reset(new Engine<Vengine>(trace, mc, read));
        else if (variant == "compact")
            e->impl.reset(new Engine<Vengine_compact>(trace, mc, read));
        else
            e->impl.reset(new Engine<Vengine_ovl>(trace, mc, read));
        e->prune.reset(new spkrtl::PruneUnit(trace.empty() ? trace : trace + ".prune.fst"));
        return e.release();
    } catch (const std::exception &x) {
        set_err(err, err_len, std::string("spk_rtl: ") + x.what());
    } catch (...) {
        set_err(err, err_len, "spk_rtl: engine construction failed");
    }
    return nullptr;
}

void api_destroy(spk_rtl_engine *e) {
    try {
        delete e;
    } catch (...) {
    }
}

void api_params(const spk_rtl_engine *, spk_rtl_params *p) {
    if (p) *p = spk_rtl_params{kDmax, kNmax, kNtok, kNhead, kQdepth};
}

int api_head(spk_rtl_engine *e, const spk_eng_head_req *req, spk_rtl_head_result *res,
             uint64_t max_cycles, char *err, size_t err_len) {
    if (err && err_len) err[0] = '\0';
    if (!e || !req || !res) {
        set_err(err, err_len, "spk_rtl: NULL engine, request or result");
        return -1;
    }
    res->n_v_keys = 0;
    res->out_exp = 0;
    res->head_importance = 0;
    res->requant = res->keys_fetched = res->values_fetched = 0;
    res->bad_cmd = res->bus_error = 0;
    res->cycles = res->axi_reads = 0;
    if (!res->out && !field_too_wide(*req) && req->d > 0) {
        set_err(err, err_len, "spk_rtl: no output buffer");
        return -1;
    }
    try {
        std::string why;
        const int rc = e->impl->head(*req, *res, max_cycles, why);
        if (rc) set_err(err, err_len, why);
        return rc;
    } catch (const std::exception &x) {
        set_err(err, err_len, std::string("spk_rtl: ") + x.what());
    } catch (...) {
        set_err(err, err_len, "spk_rtl: head request failed");
    }
    return -1;
}

int api_imp_clear(spk_rtl_engine *e, uint64_t max_cycles) {
    if (!e) return -1;
    try {
        return e->impl->imp_clear(max_cycles);
    } catch (...) {
        return -1;
    }
}

int api_imp_read(spk_rtl_engine *e, uint32_t index, uint64_t *value) {
    if (!e || !value) return -1;
    try {
        return e->impl->imp_read(index, *value);
    } catch (...) {
        return -1;
    }
}

uint64_t api_cycles(const spk_rtl_engine *e) {
    return e ? e->impl->cycles() : 0;
}

int api_prune_load(spk_rtl_engine *e, int head, uint32_t j, uint64_t importance, int alive) {
    return e ? e->prune->load(head != 0, j, importance, alive != 0) : -1;
}

int api_prune_add(spk_rtl_engine *e, int head, uint32_t j, uint64_t amount) {
    return e ? e->prune->add(head != 0, j, amount) : -1;
}

int api_prune_read(spk_rtl_engine *e, int head, uint32_t j, uint64_t *importance, int *alive) {
    if (!e || !importance || !alive) return -1;
    bool a = false;
    const int rc = e->prune->read(head != 0, j, *importance, a);
    *alive = a;
    return rc;
}

int api_prune_run(spk_rtl_engine *e, const spk_rtl_prune_cmd *cmd, spk_rtl_prune_result *res,
                  uint64_t max_cycles, char *err, size_t err_len) {
    if (err && err_len) err[0] = '\0';
    if (!e || !cmd || !res) {
        set_err(err, err_len, "spk_rtl: NULL engine, command or result");
        return -1;
    }
    try {
        std::string why;
        const int rc = e->prune->run(*cmd, *res, max_cycles, why);
        if (rc) set_err(err, err_len, why);
        return rc;
    } catch (...) {
        set_err(err, err_len, "spk_rtl: prune step failed");
    }
    return -1;
}

const spk_rtl_api kApi = {
    SPK_RTL_API_VERSION, api_create, api_destroy,    api_params,    api_head,       api_imp_clear,
    api_imp_read,        api_cycles, api_prune_load, api_prune_add, api_prune_read, api_prune_run};

} // namespace

extern "C" __attribute__((visibility("default"))) const spk_rtl_api *spk_rtl_api_v1(void) {
    return &kApi;
}
