// spk-vp: an example virtual platform (docs/systemc.md). sc_main builds a memory, a router, one
// spatten-kit device (spk::tlm_device) and a host CPU whose SC_THREAD runs a real libspk
// program, the driver example driver/examples/attn_layer.c (its main linked in as
// spk_vp_program_main), with the arguments given here. libspk's `systemc` backend finds this
// platform through the exported spk_systemc_platform_v1, so the program's register and memory
// accesses become transactions of the CPU's initiator on the router. At the end it prints the
// simulated time and the bus transaction counts.
//
//   spk-vp [-b systemc|model|sim] [attn_layer options] Q.npy K.npy V.npy
//   spk-vp --inputs DIR      write the example inputs DIR/{q,k,v}.npy and exit
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "spk_systemc_api.h"
#include "spk_tlm_device.h"
#include "spk_tlm_host.h"
#include "spk_tlm_memory.h"
#include "spk_tlm_router.h"

extern "C" int spk_vp_program_main(int argc, char **argv);

namespace {

constexpr uint64_t reg_base = 0x40000000u, local_base = 0x40040000u, dram_base = 0x80000000u;
constexpr uint64_t dram_max = 0x40000000u;

struct cpu : sc_core::sc_module {
    spk::tlm_host host;
    std::vector<std::string> args;
    int rc = -1;
    SC_HAS_PROCESS(cpu);
    explicit cpu(sc_core::sc_module_name name) : sc_core::sc_module(name), host("host") {
        SC_THREAD(run);
        set_stack_size(16u << 20);
    }
    void run() {
        std::vector<char *> argv;
        for (std::string &a : args) argv.push_back(&a[0]);
        argv.push_back(nullptr);
        rc = spk_vp_program_main(int(argv.size() - 1), argv.data());
        sc_core::sc_stop();
    }
};

spk::tlm_device *the_device;
spk::tlm_memory *the_memory;
cpu *the_cpu;
bool slot_open;

void on_close(void *) {
    the_device->release();
    slot_open = false;
}

int vp_open(const spk_backend_config *cfg, spk_backend **out, char *err, size_t err_len) {
    std::string why;
    if (slot_open)
        why = "the platform's one device is already open";
    else if (!sc_core::sc_get_current_process_handle().valid())
        why = "open it from a thread of the platform";
    else if (cfg->dram_bytes > dram_max || !the_memory->resize(cfg->dram_bytes))
        why = "no room for " + std::to_string(cfg->dram_bytes) + " bytes of DRAM";
    else if (the_device->reset("sim", cfg->dram_bytes, cfg->sim_config, cfg->energy_path, &why))
        *out = the_cpu->host.make_backend(
            {the_device, reg_base, local_base, dram_base, cfg->dram_bytes}, on_close, nullptr);
    slot_open = *out != nullptr;
    if (!*out && err_len) std::snprintf(err, err_len, "spk-vp: %s", why.c_str());
    return *out ? 0 : -1;
}

const spk_systemc_api vp_api = {SPK_SYSTEMC_API_VERSION, vp_open};

// The example inputs: Q [4][8][32], K and V [2][40][32], normal floats from a fixed seed.
int write_inputs(const std::string &dir) {
    uint64_t s = 0x9e3779b97f4a7c15ull;
    auto uniform = [&s] {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        return (double((s >> 11) & ((1ull << 53) - 1)) + 0.5) / double(1ull << 53);
    };
    const struct {
        const char *name;
        unsigned d0, d1, d2;
    } arrays[] = {{"q", 4, 8, 32}, {"k", 2, 40, 32}, {"v", 2, 40, 32}};
    for (const auto &a : arrays) {
        const std::string path = dir + "/" + a.name + ".npy";
        FILE *f = std::fopen(path.c_str(), "wb");
        if (!f) return std::fprintf(stderr, "spk-vp: cannot write %s\n", path.c_str()), 1;
        char header[128];
        int len = std::snprintf(header, sizeof(header),
                                "{'descr': '<f4', 'fortran_order': False, 'shape': (%u, %u, %u), }",
                                a.d0, a.d1, a.d2);
        const int pad = (64 - (10 + len + 1) % 64) % 64;
        const unsigned hl = unsigned(len + pad + 1);
        std::fwrite("\x93NUMPY\x01\x00", 1, 8, f);
        const unsigned char hb[2] = {uint8_t(hl & 0xff), uint8_t(hl >> 8)};
        std::fwrite(hb, 1, 2, f);
        std::fwrite(header, 1, size_t(len), f);
        for (int i = 0; i < pad; i++) std::fputc(' ', f);
        std::fputc('\n', f);
        for (unsigned i = 0; i < a.d0 * a.d1 * a.d2; i++) {
            const float x = float(std::sqrt(-2.0 * std::log(uniform())) *
                                  std::cos(6.283185307179586 * uniform()));
            std::fwrite(&x, sizeof(x), 1, f);
        }
        std::fclose(f);
    }
    return 0;
}

} // namespace

extern "C" __attribute__((visibility("default"))) const spk_systemc_api *
spk_systemc_platform_v1(void) {
    return &vp_api;
}

// The platform (libsystemc's main() calls it).
extern "C" __attribute__((visibility("default"))) int sc_main(int argc, char **argv) {
    if (argc == 3 && std::string(argv[1]) == "--inputs") return write_inputs(argv[2]);
    setenv("SPK_BACKEND", "systemc", 0);
    setenv("SPK_FIRMWARE", SPK_VP_FIRMWARE, 0);
    setenv("SPK_ENERGY", SPK_VP_ENERGY, 0);

    spk::tlm_memory memory("memory", 0);
    spk::tlm_router router("router");
    spk::tlm_device device("spatten", reg_base, dram_base, dram_max, "sim");
    sc_core::sc_signal<bool> irq("irq");
    cpu host_cpu("cpu");
    host_cpu.args.assign(argv, argv + argc);
    host_cpu.args[0] = "attn_layer";
    host_cpu.host.socket.bind(router.target);
    device.dram.bind(router.target);
    device.irq.bind(irq);
    router.initiator.bind(device.regs);
    router.initiator.bind(device.local);
    router.initiator.bind(memory.socket);
    router.map(reg_base, spk::tlm_device::reg_window_bytes, 0);
    router.map(local_base, spk::tlm_device::local_window_bytes, 1);
    router.map(dram_base, dram_max, 2);
    the_device = &device;
    the_memory = &memory;
    the_cpu = &host_cpu;

    sc_core::sc_start();
    const auto &h = host_cpu.host.stats();
    const auto &r = router.stats();
    const auto &d = device.stats();
    const auto &m = memory.stats();
    std::printf("vp: simulated time %s\n", sc_core::sc_time_stamp().to_string().c_str());
    std::printf("vp: bus %" PRIu64 " transactions (%" PRIu64 " debug, %" PRIu64
                " DMI requests, %" PRIu64 " errors)\n",
                r.transactions, r.dbg, r.dmi_requests, r.errors);
    std::printf("vp: cpu %" PRIu64 " transactions, %" PRIu64 " bytes\n", h.transactions, h.bytes);
    std::printf("vp: device %" PRIu64 " register accesses, DRAM %" PRIu64 " bytes in %" PRIu64
                " DMI accesses and %" PRIu64 " transactions (%" PRIu64 " DMI grants)\n",
                d.reg_accesses, d.dram_bytes, d.dram_dmi, d.dram_transactions, d.dmi_grants);
    std::printf("vp: memory %" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64 " bytes\n", m.reads,
                m.writes, m.bytes);
    return host_cpu.rc;
}
