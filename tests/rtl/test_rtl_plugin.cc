// The RTL engine plugin (build/lib/libspk-rtl.so, rtl/sim/include/spkrtl/rtl_engine.h), loaded
// with dlopen as the driver's `rtl` backend loads it: random head requests (engine_random_case)
// laid out in a memory behind the read callback (planes packed with spk_plane_pack_row) run
// through api->head on both engine variants, contiguous and key-list mode, and every result is
// compared with the golden model; the importance bank with the golden accumulation; refused
// descriptors, an unknown variant, refused reads and a timeout.
#include <gtest/gtest.h>

#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine_harness.h"
#include "spkrtl/rtl_engine.h"
#include "spksim/layer.h"

#ifndef SPK_RTL_PLUGIN_PATH
#define SPK_RTL_PLUGIN_PATH ""
#endif

namespace {

const spk_rtl_api *plugin_api(std::string &why) {
    static void *handle = nullptr;
    static std::string error;
    if (!handle && error.empty()) {
        if (!*SPK_RTL_PLUGIN_PATH) {
            error = "built without the plugin (no Verilator)";
        } else {
            handle = dlopen(SPK_RTL_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
            if (!handle) error = std::string("dlopen: ") + dlerror();
        }
    }
    why = error;
    if (!handle) return nullptr;
    auto fn = reinterpret_cast<spk_rtl_api_v1_fn>(dlsym(handle, SPK_RTL_API_SYMBOL));
    if (!fn) {
        why = "no symbol " SPK_RTL_API_SYMBOL;
        return nullptr;
    }
    return fn();
}

// Device memory: a byte vector; reads past its end (or at and above fail_from) are refused.
struct Memory {
    std::vector<uint8_t> bytes;
    uint64_t fail_from = UINT64_MAX;
    uint64_t calls = 0;
};

int read_memory(void *ctx, uint64_t addr, void *dst, uint32_t n) {
    Memory &m = *static_cast<Memory *>(ctx);
    m.calls++;
    if (addr + n > m.bytes.size() || addr + n > m.fail_from) return -1;
    std::memcpy(dst, &m.bytes[addr], n);
    return 0;
}

void put_u16(std::vector<uint8_t> &mem, size_t at, uint32_t v) {
    mem[at] = (uint8_t)v;
    mem[at + 1] = (uint8_t)(v >> 8);
}

// Lay out the cases one after the other as the harness does (query codes 2-byte aligned,
// planes at any byte offset, scale words 4-byte aligned, key lists 2-byte aligned, random bytes
// in between) and build their descriptors.
void lay_out(const std::vector<EngineCase> &cases, std::mt19937_64 &rng, Memory &mem,
             std::vector<spk_eng_head_req> &reqs) {
    uint64_t at = 32 + rng() % 64;
    auto place = [&](uint64_t bytes, uint64_t align) {
        at = (at + align - 1) / align * align;
        const uint64_t base = at;
        at += bytes + rng() % 96;
        return (uint32_t)base;
    };
    reqs.assign(cases.size(), spk_eng_head_req{});
    for (size_t r = 0; r < cases.size(); r++) {
        const EngineCase &c = cases[r];
        const uint32_t d = c.cfg.d;
        const uint32_t mb = spk_plane_row_bytes(d, c.cfg.kv.msb_bits);
        const uint32_t lb = spk_plane_row_bytes(d, c.cfg.kv.lsb_bits);
        spk_eng_head_req &q = reqs[r];
        q.tag = (uint32_t)(r * 37 + 5) & 0xFFu;
        q.head = c.head;
        q.d = d;
        q.msb_bits = c.cfg.kv.msb_bits;
        q.lsb_bits = c.cfg.kv.lsb_bits;
        q.threshold = c.cfg.requant_threshold;
        q.v_keep = c.keep;
        q.n_keys = c.n;
        q.key_base = c.key_base;
        q.key_list = c.keys.empty() ? 0 : 1;
        q.q_scale = c.q_logit & 0xFFFFFFu;
        q.q_base = place(2 * d, 2);
        q.k_msb_base = place((uint64_t)c.n_tokens * mb, 1);
        q.k_lsb_base = place((uint64_t)c.n_tokens * lb, 1);
        q.v_msb_base = place((uint64_t)c.n_tokens * mb, 1);
        q.v_lsb_base = place((uint64_t)c.n_tokens * lb, 1);
        q.k_scale_base = place(4 * (uint64_t)c.n_tokens, 4);
        q.v_scale_base = place(4 * (uint64_t)c.n_tokens, 4);
        q.keys_base = c.keys.empty() ? 0 : place(2 * (uint64_t)c.n, 2);
    }
    mem.bytes.resize((at + 63) / 32 * 32);
    for (auto &x : mem.bytes) x = (uint8_t)rng();
    for (size_t r = 0; r < cases.size(); r++) {
        const EngineCase &c = cases[r];
        const spk_eng_head_req &q = reqs[r];
        const uint32_t d = c.cfg.d;
        const uint32_t mb = spk_plane_row_bytes(d, c.cfg.kv.msb_bits);
        const uint32_t lb = spk_plane_row_bytes(d, c.cfg.kv.lsb_bits);
        for (uint32_t i = 0; i < d; i++) put_u16(mem.bytes, q.q_base + 2 * i, (uint16_t)c.q[i]);
        for (uint32_t t = 0; t < c.n_tokens; t++) {
            const int16_t *k = &c.k[(size_t)t * d], *v = &c.v[(size_t)t * d];
            spk_plane_pack_row(k, d, c.cfg.kv, 0, &mem.bytes[q.k_msb_base + (size_t)t * mb]);
            spk_plane_pack_row(v, d, c.cfg.kv, 0, &mem.bytes[q.v_msb_base + (size_t)t * mb]);
            if (lb) {
                spk_plane_pack_row(k, d, c.cfg.kv, 1, &mem.bytes[q.k_lsb_base + (size_t)t * lb]);
                spk_plane_pack_row(v, d, c.cfg.kv, 1, &mem.bytes[q.v_lsb_base + (size_t)t * lb]);
            }
        }
        engine_put_words(mem.bytes, q.k_scale_base, c.k_scales);
        engine_put_words(mem.bytes, q.v_scale_base, c.v_scales);
        for (size_t j = 0; j < c.keys.size(); j++)
            put_u16(mem.bytes, q.keys_base + 2 * j, c.keys[j]);
    }
}

// One request through the plugin, as an EngineOutcome for engine_check.
EngineOutcome run_head(const spk_rtl_api *api, spk_rtl_engine *e, const EngineCase &c,
                       const spk_eng_head_req &req, std::string &err,
                       spk_rtl_head_result *raw = nullptr) {
    EngineOutcome o;
    o.out.assign(c.cfg.d + 1, 0x7EADBEEF);
    o.probs.assign(c.n + 1, 0);
    std::vector<uint32_t> vk(c.n + 1, 0);
    spk_rtl_head_result res{};
    res.out = o.out.data();
    res.probs = o.probs.data();
    res.v_keys = vk.data();
    char msg[256];
    const int rc = api->head(e, &req, &res, 0, msg, sizeof msg);
    err = rc ? std::string("head: ") + msg : "";
    o.done = rc == 0;
    o.bad_cmd = res.bad_cmd;
    o.bus_error = res.bus_error;
    o.out.resize(c.cfg.d);
    o.probs.resize(c.n);
    o.v_keys.assign(vk.begin(), vk.begin() + std::min(res.n_v_keys, c.n));
    o.out_exp = res.out_exp;
    o.importance = res.head_importance;
    o.requant = res.requant;
    o.keys_fetched = res.keys_fetched;
    o.values_fetched = res.values_fetched;
    o.cycles = res.cycles;
    o.reads = res.axi_reads;
    if (raw) *raw = res;
    return o;
}

struct Engine {
    const spk_rtl_api *api = nullptr;
    spk_rtl_engine *e = nullptr;
    Memory mem;
    Engine(const spk_rtl_api *a, const char *variant, uint64_t stall_seed = 0,
           const char *trace = nullptr)
        : api(a) {
        spk_rtl_engine_config cfg{};
        cfg.size = sizeof cfg;
        cfg.variant = variant;
        cfg.read = read_memory;
        cfg.read_ctx = &mem;
        cfg.stall_seed = stall_seed;
        cfg.trace_path = trace;
        char err[256] = "";
        e = api->create(&cfg, err, sizeof err);
        EXPECT_NE(e, nullptr) << err;
    }
    ~Engine() { api->destroy(e); }
};

#define PLUGIN_OR_SKIP(api)                                                                        \
    std::string why_;                                                                              \
    const spk_rtl_api *api = plugin_api(why_);                                                     \
    if (!*SPK_RTL_PLUGIN_PATH) GTEST_SKIP() << why_;                                               \
    ASSERT_NE(api, nullptr) << why_

// Random requests (every third in key-list mode) through one engine after an importance
// clear; each result and then the whole importance bank against the golden model.
void expect_random_requests(const spk_rtl_api *api, const char *variant, uint64_t seed, int count,
                            uint32_t max_n, uint64_t stall_seed) {
    Engine eng(api, variant, stall_seed);
    ASSERT_NE(eng.e, nullptr);
    std::mt19937_64 rng(seed);
    std::vector<EngineCase> cases(count);
    for (int i = 0; i < count; i++)
        ASSERT_EQ(engine_random_case(rng, max_n, cases[i], -1, -1, i % 3 == 2), "");
    std::vector<spk_eng_head_req> reqs;
    lay_out(cases, rng, eng.mem, reqs);
    ASSERT_EQ(api->imp_clear(eng.e, 0), 0);
    std::vector<uint64_t> want(kEngineNtok + kEngineNhead, 0);
    uint64_t reads = 0;
    for (int i = 0; i < count; i++) {
        std::string err;
        spk_rtl_head_result raw{};
        const EngineOutcome got = run_head(api, eng.e, cases[i], reqs[i], err, &raw);
        ASSERT_EQ(err, "") << variant << " request " << i;
        EXPECT_EQ(engine_check(cases[i], got), "")
            << variant << " request " << i << " (d " << cases[i].cfg.d << ", n " << cases[i].n
            << (cases[i].keys.empty() ? ", contiguous)" : ", key list)");
        EXPECT_GT(raw.cycles, 0u);
        EXPECT_EQ(raw.n_v_keys, cases[i].want_v_keys.size());
        engine_add_importance(cases[i], want);
        reads += raw.axi_reads;
    }
    EXPECT_EQ(eng.mem.calls, reads) << "one callback per single-beat read";
    for (uint32_t i = 0; i < kEngineNtok + kEngineNhead; i++) {
        uint64_t v = ~0ull;
        ASSERT_EQ(api->imp_read(eng.e, i, &v), 0) << "entry " << i;
        ASSERT_EQ(v, want[i]) << variant << " importance entry " << i;
    }
    uint64_t v = 0;
    EXPECT_NE(api->imp_read(eng.e, kEngineNtok + kEngineNhead, &v), 0) << "index out of range";
    EXPECT_GT(api->cycles(eng.e), 0u);
}

TEST(RtlPlugin, ExportsTheVersion1TableWithTheEngineParameters) {
    PLUGIN_OR_SKIP(api);
    EXPECT_EQ(api->version, SPK_RTL_API_VERSION);
    Engine eng(api, "full");
    ASSERT_NE(eng.e, nullptr);
    spk_rtl_params p{};
    api->params(eng.e, &p);
    EXPECT_EQ(p.dmax, kEngineDmax);
    EXPECT_EQ(p.nmax, kEngineNmax);
    EXPECT_EQ(p.ntok, kEngineNtok);
    EXPECT_EQ(p.nhead, kEngineNhead);
    EXPECT_EQ(p.qdepth, kEngineQdepth);
}

TEST(RtlPlugin, FullEngineMatchesTheGoldenModel) {
    PLUGIN_OR_SKIP(api);
    expect_random_requests(api, "full", 20260401, 25, 300, 0);
    expect_random_requests(api, "full", 20260402, 15, 200, 77); // with random AR/R stalls
}

TEST(RtlPlugin, CompactEngineMatchesTheGoldenModel) {
    PLUGIN_OR_SKIP(api);
    expect_random_requests(api, "compact", 20260403, 6, 24, 5);
}

TEST(RtlPlugin, RefusesBadDescriptorsAndStaysUsable) {
    PLUGIN_OR_SKIP(api);
    for (const char *variant : {"full", "compact"}) {
        Engine eng(api, variant);
        ASSERT_NE(eng.e, nullptr);
        std::mt19937_64 rng(11);
        std::vector<EngineCase> cases(1);
        ASSERT_EQ(engine_random_case(rng, 16, cases[0]), "");
        std::vector<spk_eng_head_req> reqs;
        lay_out(cases, rng, eng.mem, reqs);
        const spk_eng_head_req good = reqs[0];
        std::vector<spk_eng_head_req> bad(4, good);
        bad[0].d = 0;
        bad[1].n_keys = kEngineNmax + 1;
        bad[2].d = kEngineDmax + 1;
        bad[3].d = 128 + good.d; // too wide for the 7-bit port: refused, not truncated
        for (size_t i = 0; i < bad.size(); i++) {
            std::vector<int32_t> out(256, 0x1234);
            spk_rtl_head_result res{};
            res.out = out.data();
            char err[256] = "";
            ASSERT_EQ(api->head(eng.e, &bad[i], &res, 0, err, sizeof err), 0) << err;
            EXPECT_EQ(res.bad_cmd, 1u) << variant << " bad descriptor " << i;
            EXPECT_EQ(res.axi_reads, 0u) << "a refused request reads nothing";
            EXPECT_EQ(out[0], 0x1234) << "nothing written for a refused request";
        }
        std::string err;
        EXPECT_EQ(engine_check(cases[0], run_head(api, eng.e, cases[0], good, err)), "")
            << variant << ": a good request after refused ones";
        EXPECT_EQ(err, "");
    }
}

TEST(RtlPlugin, UnknownVariantOrNoCallbackIsRefusedWithAMessage) {
    PLUGIN_OR_SKIP(api);
    Memory mem;
    spk_rtl_engine_config cfg{};
    cfg.size = sizeof cfg;
    cfg.variant = "turbo";
    cfg.read = read_memory;
    cfg.read_ctx = &mem;
    char err[256] = "";
    EXPECT_EQ(api->create(&cfg, err, sizeof err), nullptr);
    EXPECT_NE(std::string(err).find("turbo"), std::string::npos) << err;
    cfg.variant = "full";
    cfg.read = nullptr;
    err[0] = '\0';
    EXPECT_EQ(api->create(&cfg, err, sizeof err), nullptr);
    EXPECT_NE(err[0], '\0');
    cfg.read = read_memory;
    cfg.size = 8;
    err[0] = '\0';
    EXPECT_EQ(api->create(&cfg, err, sizeof err), nullptr);
    EXPECT_NE(err[0], '\0');
}

TEST(RtlPlugin, RefusedReadsAreBusErrorsAndTheEngineStaysUsable) {
    PLUGIN_OR_SKIP(api);
    for (const char *variant : {"full", "compact"}) {
        Engine eng(api, variant);
        ASSERT_NE(eng.e, nullptr);
        std::mt19937_64 rng(909);
        std::vector<EngineCase> cases(1);
        ASSERT_EQ(engine_random_case(rng, 12, cases[0], 12), "");
        std::vector<spk_eng_head_req> reqs;
        lay_out(cases, rng, eng.mem, reqs);
        ASSERT_EQ(api->imp_clear(eng.e, 0), 0);
        std::string err;
        EXPECT_EQ(engine_check(cases[0], run_head(api, eng.e, cases[0], reqs[0], err)), "");
        const uint32_t head_entry = kEngineNtok + cases[0].head;
        uint64_t want_head = 0, got_head = 0;
        ASSERT_EQ(api->imp_read(eng.e, head_entry, &want_head), 0);
        EXPECT_EQ(want_head, cases[0].want_importance);
        spk_eng_head_req other = reqs[0]; // the erroneous requests add to another head entry
        other.head = (other.head + 1) % kEngineNhead;
        for (uint64_t fail_from : {(uint64_t)0, (uint64_t)reqs[0].k_msb_base + 40}) {
            eng.mem.fail_from = fail_from; // every read, or the reads from the K planes on
            spk_rtl_head_result raw{};
            run_head(api, eng.e, cases[0], other, err, &raw);
            EXPECT_EQ(err, "") << variant;
            EXPECT_EQ(raw.bus_error, 1u) << variant << " reads refused from " << fail_from;
            EXPECT_EQ(raw.bad_cmd, 0u);
            eng.mem.fail_from = UINT64_MAX;
            EXPECT_EQ(engine_check(cases[0], run_head(api, eng.e, cases[0], reqs[0], err)), "")
                << variant << ": the next request after refused reads";
            want_head = spk_importance_add(want_head, cases[0].want_importance);
            ASSERT_EQ(api->imp_read(eng.e, head_entry, &got_head), 0);
            EXPECT_EQ(got_head, want_head) << variant << ": the bank survives the bus errors";
        }
    }
}

TEST(RtlPlugin, GivesUpAfterMaxCyclesAndRecoversAndWritesATrace) {
    PLUGIN_OR_SKIP(api);
    const std::string trace = ::testing::TempDir() + "spk_rtl_plugin_test.fst";
    std::remove(trace.c_str());
    {
        Engine eng(api, "full", 0, trace.c_str());
        ASSERT_NE(eng.e, nullptr);
        std::mt19937_64 rng(5150);
        std::vector<EngineCase> cases(1);
        ASSERT_EQ(engine_random_case(rng, 30, cases[0], 30), "");
        std::vector<spk_eng_head_req> reqs;
        lay_out(cases, rng, eng.mem, reqs);
        std::vector<int32_t> out(cases[0].cfg.d);
        spk_rtl_head_result res{};
        res.out = out.data();
        char err[256] = "";
        EXPECT_EQ(api->head(eng.e, &reqs[0], &res, 20, err, sizeof err), -1);
        EXPECT_NE(std::string(err).find("not done"), std::string::npos) << err;
        ASSERT_EQ(api->imp_clear(eng.e, 0), 0);
        std::string why;
        EXPECT_EQ(engine_check(cases[0], run_head(api, eng.e, cases[0], reqs[0], why)), "")
            << "a request after the timeout";
    }
    FILE *f = std::fopen(trace.c_str(), "rb");
    ASSERT_NE(f, nullptr) << "no trace written at " << trace;
    std::fseek(f, 0, SEEK_END);
    EXPECT_GT(std::ftell(f), 1000L);
    std::fclose(f);
    std::remove(trace.c_str());
}

} // namespace
