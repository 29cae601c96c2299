// The RTL co-simulation engine of the TLM device (systemc/spk_sc_rtl.h, docs/systemc.md): random
// head requests laid out in the platform's DRAM run on the Verilated `--sc` spk_engine inside the
// device of test_tlm.cc's platform, from an SC_THREAD, through the engine table the device's `rtl`
// engine uses (spk_rtl_api_v1); every output matches the golden spk_head_run bit for bit, each AXI
// read is one TLM transaction on the device's DRAM socket, and a read outside DRAM comes back as
// a bus error (RRESP SLVERR).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "spk_tlm_device.h"

#ifdef SPK_SC_RTL
#include "spk_sc_rtl.h"
#include "spkrtl/rtl_engine.h"

extern "C" {
#include "spksim/datapath.h"
}
#endif

spk::tlm_device &test_tlm_device();
bool test_tlm_dram_write(uint64_t offset, const void *src, unsigned bytes);

#ifdef SPK_SC_RTL
namespace {

constexpr uint32_t kArea = 8u << 20; // DRAM offset of the requests' data (the ring is far below)

struct head_case {
    spk_head_config cfg{};
    uint32_t n = 0, n_tokens = 0, key_base = 0, keep = 0, head = 0;
    std::vector<int16_t> q, k, v;
    std::vector<spk_scale> k_sc, v_sc;
    spk_scale q_logit = 0;
    std::vector<int32_t> want_out;
    std::vector<uint16_t> want_probs;
    int32_t want_exp = 0;
    uint64_t want_imp = 0;
    spk_head_events want_ev{};
};

// A random request (the RTL harness's profiles) and its golden result.
bool make_case(std::mt19937_64 &rng, head_case &c) {
    static const spk_quant_profile profiles[] = {{4, 4}, {6, 4}, {8, 4}, {12, 0}};
    c = head_case{};
    c.cfg.d = 1 + uint32_t(rng() % 64);
    c.cfg.kv = profiles[rng() % 4];
    const uint32_t tsel = uint32_t(rng() % 3);
    c.cfg.requant_threshold = tsel == 0 ? 0 : tsel == 1 ? 65536 : uint32_t(rng() % 65537);
    c.cfg.v_keep_q16 = rng() % 4 == 0 ? 65536 : 1 + uint32_t(rng() % 65536);
    c.cfg.topk_parallelism = 8;
    c.n = 1 + uint32_t(rng() % 48);
    c.key_base = uint32_t(rng() % 8);
    c.n_tokens = c.key_base + c.n + uint32_t(rng() % 3);
    c.head = uint32_t(rng() % 16);
    const uint32_t d = c.cfg.d;
    const int32_t cmax = (1 << (c.cfg.kv.msb_bits + c.cfg.kv.lsb_bits - 1)) - 1;
    c.q.resize(d);
    c.k.resize(size_t(c.n_tokens) * d);
    c.v.resize(size_t(c.n_tokens) * d);
    for (auto &x : c.q) x = int16_t(int32_t(rng() % 4095) - 2047);
    for (auto &x : c.k) x = int16_t(int32_t(rng() % (2 * cmax + 1)) - cmax);
    for (auto &x : c.v) x = int16_t(int32_t(rng() % (2 * cmax + 1)) - cmax);
    for (uint32_t t = 0; t < c.n_tokens; t++) {
        c.k_sc.push_back(spk_scale_make(32768 + uint32_t(rng() % 32768), -int32_t(rng() % 30) - 8));
        c.v_sc.push_back(spk_scale_make(32768 + uint32_t(rng() % 32768), -int32_t(rng() % 30) - 8));
    }
    spk_logit_scale(spk_scale_make(32768 + uint32_t(rng() % 32768), -int32_t(rng() % 12)), d,
                    &c.q_logit);
    c.keep = spk_keep_count(c.n, c.cfg.v_keep_q16);
    std::vector<uint32_t> keys(c.n);
    for (uint32_t j = 0; j < c.n; j++) keys[j] = c.key_base + j;
    const spk_head_request req{c.q.data(),    c.q_logit,  keys.data(),   c.n, c.k.data(),
                               c.k_sc.data(), c.v.data(), c.v_sc.data(), 0};
    spk_workspace *ws = spk_workspace_create(c.n);
    c.want_out.assign(d, 0);
    c.want_probs.assign(c.n, 0);
    std::vector<uint32_t> v_keys(c.n + 1);
    spk_head_result res{};
    res.out = c.want_out.data();
    res.probs = c.want_probs.data();
    res.v_keys = v_keys.data();
    const spksim_status st = spk_head_run(&c.cfg, &req, ws, &res);
    spk_workspace_destroy(ws);
    c.want_exp = res.out_exp;
    c.want_imp = res.head_importance;
    c.want_ev = res.ev;
    return st == SPKSIM_OK;
}

// Lay the case out in DRAM at kArea (query codes, the four planes, the scale words) and fill in
// the descriptor's addresses.
bool lay_out(const head_case &c, spk_eng_head_req &r) {
    const uint32_t d = c.cfg.d, msb = c.cfg.kv.msb_bits, lsb = c.cfg.kv.lsb_bits;
    std::vector<uint8_t> mem;
    auto place = [&mem](size_t bytes, size_t align) {
        const size_t at = (mem.size() + 31 + align - 1) / align * align; // a gap between regions
        mem.resize(at + bytes);
        return uint32_t(at);
    };
    r = spk_eng_head_req{};
    r.q_base = place(2 * d, 2);
    r.k_msb_base = place(size_t(c.n_tokens) * spk_plane_row_bytes(d, msb), 1);
    r.k_lsb_base = place(size_t(c.n_tokens) * spk_plane_row_bytes(d, lsb), 1);
    r.v_msb_base = place(size_t(c.n_tokens) * spk_plane_row_bytes(d, msb), 1);
    r.v_lsb_base = place(size_t(c.n_tokens) * spk_plane_row_bytes(d, lsb), 1);
    r.k_scale_base = place(4 * size_t(c.n_tokens), 4);
    r.v_scale_base = place(4 * size_t(c.n_tokens), 4);
    mem.resize((mem.size() + 63) / 32 * 32);
    for (uint32_t i = 0; i < d; i++) std::memcpy(&mem[r.q_base + 2 * i], &c.q[i], 2);
    for (int plane = 0; plane < 2; plane++) {
        const uint32_t rb = spk_plane_row_bytes(d, plane ? lsb : msb);
        if (!rb) continue;
        for (uint32_t t = 0; t < c.n_tokens; t++) {
            spk_plane_pack_row(&c.k[size_t(t) * d], d, c.cfg.kv, plane,
                               &mem[(plane ? r.k_lsb_base : r.k_msb_base) + size_t(t) * rb]);
            spk_plane_pack_row(&c.v[size_t(t) * d], d, c.cfg.kv, plane,
                               &mem[(plane ? r.v_lsb_base : r.v_msb_base) + size_t(t) * rb]);
        }
    }
    std::memcpy(&mem[r.k_scale_base], c.k_sc.data(), 4 * c.k_sc.size());
    std::memcpy(&mem[r.v_scale_base], c.v_sc.data(), 4 * c.v_sc.size());
    for (uint32_t *b : {&r.q_base, &r.k_msb_base, &r.k_lsb_base, &r.v_msb_base, &r.v_lsb_base,
                        &r.k_scale_base, &r.v_scale_base})
        *b += kArea;
    r.head = c.head;
    r.d = d;
    r.msb_bits = msb;
    r.lsb_bits = lsb;
    r.threshold = c.cfg.requant_threshold;
    r.v_keep = c.keep;
    r.n_keys = c.n;
    r.key_base = c.key_base;
    r.q_scale = c.q_logit & 0xFFFFFFu;
    return test_tlm_dram_write(kArea, mem.data(), unsigned(mem.size()));
}

int no_read(void *, uint64_t, void *, uint32_t) {
    return -1; // the prune unit's engine never reads
}

// Run @p body in an SC_THREAD (spawned; the platform is elaborated) until it returns.
template <class F> void in_thread(F body) {
    bool finished = false;
    sc_core::sc_spawn([&] {
        body();
        finished = true;
    });
    for (int i = 0; i < 100000 && !finished; i++)
        sc_core::sc_start(sc_core::sc_time(10, sc_core::SC_US));
    ASSERT_TRUE(finished) << "the engine thread did not finish";
}

} // namespace

TEST(ScRtl, HeadRequestsMatchTheGoldenModelThroughTheDramSocket) {
    spk::tlm_device &dev = test_tlm_device();
    ASSERT_NE(dev.rtl_engine(), nullptr);
    const spk_rtl_api *api = spk_rtl_api_v1();
    std::mt19937_64 rng(20261204);
    in_thread([&] {
        spk::sc_rtl_prepare(dev.rtl_engine());
        spk_rtl_engine_config cfg{};
        cfg.size = sizeof(cfg);
        cfg.read = no_read;
        char err[300] = "";
        spk_rtl_engine *e = api->create(&cfg, err, sizeof(err));
        ASSERT_NE(e, nullptr) << err;
        ASSERT_EQ(api->imp_clear(e, 0), 0);
        for (uint32_t tag = 1; tag <= 12; tag++) {
            head_case c;
            ASSERT_TRUE(make_case(rng, c));
            spk_eng_head_req r;
            ASSERT_TRUE(lay_out(c, r));
            r.tag = tag;
            std::vector<int32_t> out(c.cfg.d, 0x7EADBEEF);
            std::vector<uint16_t> probs(c.n);
            spk_rtl_head_result res{};
            res.out = out.data();
            res.probs = probs.data();
            const uint64_t reads0 = spk::sc_rtl_reads(dev.rtl_engine());
            const uint64_t tx0 = dev.stats().dram_transactions;
            const sc_core::sc_time t0 = sc_core::sc_time_stamp();
            ASSERT_EQ(api->head(e, &r, &res, 0, err, sizeof(err)), 0) << err;
            SCOPED_TRACE("request " + std::to_string(tag) + ": d " + std::to_string(c.cfg.d) +
                         ", n " + std::to_string(c.n));
            EXPECT_FALSE(res.bad_cmd);
            EXPECT_FALSE(res.bus_error);
            EXPECT_EQ(out, c.want_out);
            EXPECT_EQ(probs, c.want_probs);
            EXPECT_EQ(res.out_exp, c.want_exp);
            EXPECT_EQ(res.head_importance, c.want_imp);
            EXPECT_EQ(res.requant, c.want_ev.requant);
            EXPECT_EQ(res.keys_fetched, c.want_ev.keys_fetched);
            EXPECT_EQ(res.values_fetched, c.want_ev.values_fetched);
            // every 32-byte beat was one TLM read of the socket, and the engine's clock ran
            EXPECT_EQ(spk::sc_rtl_reads(dev.rtl_engine()) - reads0, res.axi_reads);
            EXPECT_EQ(dev.stats().dram_transactions - tx0, res.axi_reads);
            EXPECT_GT(res.axi_reads, 0u);
            EXPECT_EQ(sc_core::sc_time_stamp() - t0, dev.clock_period() * double(res.cycles + 1));
        }
        // The engine's head-importance entries hold what the requests added (read back).
        uint64_t v = 0;
        EXPECT_EQ(api->imp_read(e, 1024, &v), 0);
        // A read outside DRAM: SLVERR, reported as a bus error, the engine still reaches done.
        head_case c;
        ASSERT_TRUE(make_case(rng, c));
        spk_eng_head_req r;
        ASSERT_TRUE(lay_out(c, r));
        r.tag = 99;
        r.q_base = 0xFFFFFF00u;
        std::vector<int32_t> out(c.cfg.d);
        spk_rtl_head_result res{};
        res.out = out.data();
        ASSERT_EQ(api->head(e, &r, &res, 0, err, sizeof(err)), 0) << err;
        EXPECT_TRUE(res.bus_error);
        api->destroy(e);
    });
}

#else
TEST(ScRtl, NotBuiltWithoutVerilator) {
    EXPECT_FALSE(spk::tlm_device::rtl_built());
}
#endif
