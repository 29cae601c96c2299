// GGUF reader: every value type, every tensor type, and malformed files rejected with a message
// naming the problem.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <unistd.h>

#include "gguf_writer.h"
#include "spkllm/gguf.h"
#include "spkllm/quant.h"

using gguftest::Tensor;
using gguftest::Writer;

namespace {

std::vector<uint8_t> block_bytes(uint32_t type, size_t n_elems, uint8_t fill) {
    uint32_t be, bb;
    spkllm_tensor_type_layout(type, &be, &bb);
    std::vector<uint8_t> b(n_elems / be * bb);
    for (size_t i = 0; i < b.size(); i++) b[i] = (uint8_t)(fill + i);
    return b;
}

Writer full_writer() {
    Writer w;
    w.kv_u8("t.u8", 200);
    w.kv_i8("t.i8", -5);
    w.kv_u16("t.u16", 60000);
    w.kv_i16("t.i16", -300);
    w.kv_u32("t.u32", 4000000000u);
    w.kv_i32("t.i32", -70000);
    w.kv_u64("t.u64", 1ull << 40);
    w.kv_i64("t.i64", -(1ll << 40));
    w.kv_f32("t.f32", 1.5f);
    w.kv_f64("t.f64", -2.25);
    w.kv_bool("t.bool", true);
    w.kv_str("t.str", "hello");
    w.kv_arr_str("t.arr_str", {"a", "", "ccc"});
    w.kv_arr_i32("t.arr_i32", {1, -2, 3});
    w.kv_arr_f32("t.arr_f32", {0.5f, 0.25f});
    w.kv_arr_nested("t.arr_nested", {{1, 2}, {}, {3}});
    w.tensor_f32("f32", {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
    w.tensor({"f16", {64}, SPKLLM_TENSOR_F16, block_bytes(SPKLLM_TENSOR_F16, 64, 1)});
    w.tensor({"bf16", {32, 1, 2}, SPKLLM_TENSOR_BF16, block_bytes(SPKLLM_TENSOR_BF16, 64, 2)});
    w.tensor({"q4_0", {64, 2}, SPKLLM_TENSOR_Q4_0, block_bytes(SPKLLM_TENSOR_Q4_0, 128, 3)});
    w.tensor({"q4_1", {32, 3}, SPKLLM_TENSOR_Q4_1, block_bytes(SPKLLM_TENSOR_Q4_1, 96, 4)});
    w.tensor({"q8_0", {32, 1, 1, 2}, SPKLLM_TENSOR_Q8_0, block_bytes(SPKLLM_TENSOR_Q8_0, 64, 5)});
    return w;
}

struct Result {
    spkllm_status st;
    std::string err;
};

Result open_bytes(const std::vector<uint8_t> &b) {
    spkllm_gguf g;
    char err[256] = "";
    spkllm_status st = spkllm_gguf_open_memory(b.data(), b.size(), &g, err, sizeof err);
    if (st == SPKLLM_OK) spkllm_gguf_close(&g);
    return {st, err};
}

size_t field(const Writer &w, const std::string &name) {
    for (const auto &f : w.field_offsets())
        if (f.first == name) return f.second;
    ADD_FAILURE() << "no field " << name;
    return 0;
}

} // namespace

TEST(Gguf, ReadsEveryValueType) {
    Writer w = full_writer();
    auto bytes = w.build();
    spkllm_gguf g;
    char err[256] = "";
    ASSERT_EQ(spkllm_gguf_open_memory(bytes.data(), bytes.size(), &g, err, sizeof err), SPKLLM_OK)
        << err;
    EXPECT_EQ(g.version, 3u);
    EXPECT_EQ(g.n_kv, 16u);
    EXPECT_EQ(spkllm_gguf_find_kv(&g, "t.u8")->v.u, 200u);
    EXPECT_EQ(spkllm_gguf_find_kv(&g, "t.i8")->v.i, -5);
    EXPECT_EQ(spkllm_gguf_find_kv(&g, "t.u16")->v.u, 60000u);
    EXPECT_EQ(spkllm_gguf_find_kv(&g, "t.i16")->v.i, -300);
    EXPECT_EQ(spkllm_gguf_find_kv(&g, "t.u32")->v.u, 4000000000u);
    EXPECT_EQ(spkllm_gguf_find_kv(&g, "t.i32")->v.i, -70000);
    EXPECT_EQ(spkllm_gguf_find_kv(&g, "t.u64")->v.u, 1ull << 40);
    EXPECT_EQ(spkllm_gguf_find_kv(&g, "t.i64")->v.i, -(1ll << 40));
    EXPECT_EQ(spkllm_gguf_find_kv(&g, "t.f32")->v.f, 1.5);
    EXPECT_EQ(spkllm_gguf_find_kv(&g, "t.f64")->v.f, -2.25);
    EXPECT_TRUE(spkllm_gguf_find_kv(&g, "t.bool")->v.b);
    EXPECT_TRUE(spkllm_str_eq(spkllm_gguf_find_kv(&g, "t.str")->v.s, "hello"));
    uint32_t u;
    EXPECT_EQ(spkllm_gguf_get_u32(&g, "t.u8", &u), SPKLLM_OK);
    EXPECT_EQ(u, 200u);
    EXPECT_EQ(spkllm_gguf_get_u32(&g, "t.i8", &u), SPKLLM_ERR_FORMAT);  // negative
    EXPECT_EQ(spkllm_gguf_get_u32(&g, "t.u64", &u), SPKLLM_ERR_FORMAT); // too large
    EXPECT_EQ(spkllm_gguf_get_u32(&g, "missing", &u), SPKLLM_ERR_NOT_FOUND);

    const spkllm_gguf_kv *as = spkllm_gguf_find_kv(&g, "t.arr_str");
    ASSERT_EQ(as->type, SPKLLM_GGUF_ARRAY);
    ASSERT_EQ(as->arr_type, SPKLLM_GGUF_STRING);
    ASSERT_EQ(as->arr_len, 3u);
    const uint8_t *cur = as->arr_data;
    EXPECT_TRUE(spkllm_str_eq(spkllm_gguf_next_str(&cur), "a"));
    EXPECT_TRUE(spkllm_str_eq(spkllm_gguf_next_str(&cur), ""));
    EXPECT_TRUE(spkllm_str_eq(spkllm_gguf_next_str(&cur), "ccc"));
    const spkllm_gguf_kv *ai = spkllm_gguf_find_kv(&g, "t.arr_i32");
    ASSERT_EQ(ai->arr_type, SPKLLM_GGUF_INT32);
    int32_t second;
    std::memcpy(&second, ai->arr_data + 4, 4);
    EXPECT_EQ(second, -2);
    EXPECT_EQ(spkllm_gguf_find_kv(&g, "t.arr_f32")->arr_bytes, 8u);
    const spkllm_gguf_kv *an = spkllm_gguf_find_kv(&g, "t.arr_nested");
    EXPECT_EQ(an->arr_type, SPKLLM_GGUF_ARRAY);
    EXPECT_EQ(an->arr_len, 3u);

    ASSERT_EQ(g.n_tensors, 6u);
    const spkllm_gguf_tensor *t = spkllm_gguf_find_tensor(&g, "f32");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->ne[0], 4u);
    EXPECT_EQ(t->ne[1], 2u);
    EXPECT_EQ(t->n_bytes, 32u);
    float f[8];
    std::memcpy(f, t->data, sizeof f);
    EXPECT_EQ(f[5], 6.0f);
    const char *names[] = {"f16", "bf16", "q4_0", "q4_1", "q8_0"};
    const size_t sizes[] = {128, 128, 72, 60, 68};
    for (int i = 0; i < 5; i++) {
        const spkllm_gguf_tensor *q = spkllm_gguf_find_tensor(&g, names[i]);
        ASSERT_NE(q, nullptr) << names[i];
        EXPECT_EQ(q->n_bytes, sizes[i]) << names[i];
        EXPECT_EQ(((uintptr_t)q->data - (uintptr_t)g.base - g.data_offset) % 32, 0u) << names[i];
        EXPECT_EQ(((const uint8_t *)q->data)[0], (uint8_t)(i + 1)) << names[i];
    }
    EXPECT_EQ(spkllm_gguf_find_tensor(&g, "nope"), nullptr);
    spkllm_gguf_close(&g);
}

TEST(Gguf, OpensFromDiskWithMmap) {
    auto bytes = full_writer().build();
    std::string path = gguftest::write_temp(bytes, "gguf");
    ASSERT_FALSE(path.empty());
    spkllm_gguf g;
    char err[256] = "";
    ASSERT_EQ(spkllm_gguf_open(path.c_str(), &g, err, sizeof err), SPKLLM_OK) << err;
    EXPECT_TRUE(g.mapped);
    EXPECT_EQ(g.size, bytes.size());
    EXPECT_EQ(std::memcmp(g.base, bytes.data(), bytes.size()), 0);
    spkllm_gguf_close(&g);
    unlink(path.c_str());
    EXPECT_EQ(spkllm_gguf_open(path.c_str(), &g, err, sizeof err), SPKLLM_ERR_IO);
    EXPECT_NE(std::string(err).find(path), std::string::npos) << err;
}

TEST(Gguf, CustomAlignmentIsHonoured) {
    Writer w;
    w.alignment = 64;
    w.kv_u32("general.alignment", 64);
    w.tensor_f32("a", {3}, {1, 2, 3});
    w.tensor_f32("b", {2}, {4, 5});
    auto bytes = w.build();
    spkllm_gguf g;
    char err[256] = "";
    ASSERT_EQ(spkllm_gguf_open_memory(bytes.data(), bytes.size(), &g, err, sizeof err), SPKLLM_OK)
        << err;
    EXPECT_EQ(g.alignment, 64u);
    EXPECT_EQ(g.data_offset % 64, 0u);
    EXPECT_EQ(spkllm_gguf_find_tensor(&g, "b")->offset, 64u);
    spkllm_gguf_close(&g);
}

TEST(Gguf, EveryTruncationIsRejected) {
    Writer w = full_writer();
    auto bytes = w.build();
    for (size_t len = 0; len < bytes.size(); len++) {
        std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + (long)len);
        Result r = open_bytes(cut);
        EXPECT_NE(r.st, SPKLLM_OK) << "accepted a file cut to " << len << " bytes";
        EXPECT_FALSE(r.err.empty()) << "no message at length " << len;
    }
}

TEST(Gguf, TruncationMessagesNameTheField) {
    // Pad the last key/value so that the early count checks pass and the cut is found field by
    // field (a cut early in a short file is already caught by the kv_count bound).
    Writer w = full_writer();
    w.kv_str("zz.padding", std::string(600, 'p'));
    auto bytes = w.build();
    struct {
        const char *field;
        const char *expect;
    } cases[] = {
        {"magic", "magic"},
        {"version", "version"},
        {"tensor_count", "tensor_count"},
        {"kv_count", "kv_count"},
        {"kv[15].key", "key/value 15"},
        {"kv[15].value", "t.arr_nested"},
        {"kv[16].value", "zz.padding"},
        {"tensor[1].name", "tensor 1"},
        {"tensor[1].n_dims", "'f16': n_dims"},
        {"tensor[1].ne", "'f16': ne[0]"},
        {"tensor[1].type", "'f16': type"},
        {"tensor[1].offset", "'f16': offset"},
    };
    for (const auto &c : cases) {
        size_t at = field(w, c.field);
        std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + (long)at + 1);
        Result r = open_bytes(cut);
        EXPECT_EQ(r.st, SPKLLM_ERR_FORMAT) << c.field;
        EXPECT_NE(r.err.find(c.expect), std::string::npos)
            << "cut in " << c.field << " gave: " << r.err;
    }
    std::vector<uint8_t> cut(bytes.begin(), bytes.end() - 1);
    Result r = open_bytes(cut);
    EXPECT_NE(r.err.find("past the end"), std::string::npos) << r.err;
}

TEST(Gguf, BadMagicAndVersion) {
    Writer w = full_writer();
    auto bytes = w.build();
    bytes[0] = 'X';
    Result r = open_bytes(bytes);
    EXPECT_EQ(r.st, SPKLLM_ERR_FORMAT);
    EXPECT_NE(r.err.find("magic"), std::string::npos) << r.err;
    for (uint32_t v : {0u, 1u, 2u, 4u, 0xffffffffu}) {
        Writer w2 = full_writer();
        w2.version = v;
        r = open_bytes(w2.build());
        EXPECT_EQ(r.st, SPKLLM_ERR_UNSUPPORTED) << v;
        EXPECT_NE(r.err.find("version"), std::string::npos) << r.err;
    }
}

TEST(Gguf, HugeCountsAreRejectedBeforeAllocating) {
    for (uint64_t n : {1ull << 40, ~0ull, 1000000ull}) {
        Writer w = full_writer();
        w.n_kv_override = (int64_t)(n >> 1);
        Result r = open_bytes(w.build());
        EXPECT_EQ(r.st, SPKLLM_ERR_FORMAT);
        EXPECT_NE(r.err.find("kv_count"), std::string::npos) << r.err;
        Writer w2 = full_writer();
        w2.n_tensors_override = (int64_t)(n >> 1);
        r = open_bytes(w2.build());
        EXPECT_EQ(r.st, SPKLLM_ERR_FORMAT);
        EXPECT_NE(r.err.find("tensor_count"), std::string::npos) << r.err;
    }
    // A huge string length and a huge array length.
    Writer w;
    std::vector<uint8_t> huge_str;
    gguftest::put_u32(huge_str, SPKLLM_GGUF_STRING);
    gguftest::put_u64(huge_str, ~0ull);
    w.kv_raw("s", huge_str);
    Result r = open_bytes(w.build());
    EXPECT_NE(r.err.find("'s': string value truncated"), std::string::npos) << r.err;
    for (uint32_t et : {SPKLLM_GGUF_UINT32, SPKLLM_GGUF_STRING, SPKLLM_GGUF_ARRAY}) {
        Writer w2;
        std::vector<uint8_t> arr;
        gguftest::put_u32(arr, SPKLLM_GGUF_ARRAY);
        gguftest::put_u32(arr, et);
        gguftest::put_u64(arr, 1ull << 62);
        w2.kv_raw("a", arr);
        r = open_bytes(w2.build());
        EXPECT_EQ(r.st, SPKLLM_ERR_FORMAT);
        EXPECT_NE(r.err.find("'a': array"), std::string::npos) << r.err;
    }
}

TEST(Gguf, UnknownTypesAreRejected) {
    Writer w;
    std::vector<uint8_t> raw;
    gguftest::put_u32(raw, 13);
    w.kv_raw("k", raw);
    Result r = open_bytes(w.build());
    EXPECT_NE(r.err.find("unknown value type 13"), std::string::npos) << r.err;

    Writer w2;
    raw.clear();
    gguftest::put_u32(raw, SPKLLM_GGUF_ARRAY);
    gguftest::put_u32(raw, 99);
    gguftest::put_u64(raw, 0);
    w2.kv_raw("k", raw);
    r = open_bytes(w2.build());
    EXPECT_NE(r.err.find("unknown array element type 99"), std::string::npos) << r.err;

    for (uint32_t tt : {4u, 6u, 7u, 12u, 29u, 31u, 1000u}) {
        Writer w3;
        w3.tensor({"t", {32}, tt, std::vector<uint8_t>(128)});
        r = open_bytes(w3.build());
        EXPECT_EQ(r.st, SPKLLM_ERR_UNSUPPORTED) << tt;
        EXPECT_NE(r.err.find("unsupported tensor type"), std::string::npos) << r.err;
    }

    Writer w4;
    raw.clear();
    gguftest::put_u32(raw, SPKLLM_GGUF_BOOL);
    raw.push_back(2);
    w4.kv_raw("b", raw);
    r = open_bytes(w4.build());
    EXPECT_NE(r.err.find("bool"), std::string::npos) << r.err;
}

TEST(Gguf, BadTensorRecordsAreRejected) {
    struct Case {
        Tensor t;
        const char *expect;
    } cases[] = {
        {{"nodims", {}, SPKLLM_TENSOR_F32, {}}, "n_dims 0"},
        {{"fivedims", {1, 1, 1, 1, 1}, SPKLLM_TENSOR_F32, std::vector<uint8_t>(4)}, "n_dims 5"},
        {{"zero", {0}, SPKLLM_TENSOR_F32, {}}, "ne[0]=0"},
        {{"huge", {1ull << 50}, SPKLLM_TENSOR_F32, {}}, "out of range"},
        {{"overflow", {1ull << 30, 1ull << 30}, SPKLLM_TENSOR_F32, {}}, "out of range"},
        {{"partial", {33}, SPKLLM_TENSOR_Q4_1, std::vector<uint8_t>(40)}, "not a multiple"},
        {{"misaligned", {4}, SPKLLM_TENSOR_F32, std::vector<uint8_t>(16), 4}, "not aligned"},
    };
    for (const auto &c : cases) {
        Writer w;
        w.tensor_f32("ok", {8}, std::vector<float>(8, 1.0f));
        w.tensor(c.t);
        Result r = open_bytes(w.build());
        EXPECT_NE(r.st, SPKLLM_OK) << c.t.name;
        EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.t.name << ": " << r.err;
    }
}

TEST(Gguf, TensorOutsideTheFileIsRejected) {
    Writer w;
    w.tensor_f32("ok", {8}, std::vector<float>(8, 1.0f));
    w.tensor({"outside", {4}, SPKLLM_TENSOR_F32, std::vector<uint8_t>(16), 1 << 20});
    auto bytes = w.build();
    bytes.resize(field(w, "data") + (1 << 20) + 8); // the record says 16 bytes, 8 are there
    Result r = open_bytes(bytes);
    EXPECT_EQ(r.st, SPKLLM_ERR_FORMAT);
    EXPECT_NE(r.err.find("'outside': data [1048576, +16) runs past the end"), std::string::npos)
        << r.err;
}

TEST(Gguf, OverlapsDuplicatesAndAlignmentKeys) {
    Writer w;
    w.tensor_f32("a", {16}, std::vector<float>(16, 1.0f));
    Tensor b{"b", {8}, SPKLLM_TENSOR_F32, gguftest::f32_bytes(std::vector<float>(8, 2.0f)), 32};
    w.tensor(b);
    Result r = open_bytes(w.build());
    EXPECT_EQ(r.st, SPKLLM_ERR_FORMAT);
    EXPECT_NE(r.err.find("overlaps"), std::string::npos) << r.err;

    Writer d;
    d.tensor_f32("same", {8}, std::vector<float>(8, 1.0f));
    d.tensor_f32("same", {8}, std::vector<float>(8, 1.0f));
    r = open_bytes(d.build());
    EXPECT_NE(r.err.find("duplicate tensor name 'same'"), std::string::npos) << r.err;

    Writer k;
    k.kv_u32("x", 1);
    k.kv_u32("x", 2);
    r = open_bytes(k.build());
    EXPECT_NE(r.err.find("duplicate key 'x'"), std::string::npos) << r.err;

    for (uint32_t a : {0u, 3u, 48u}) {
        Writer al;
        al.kv_u32("general.alignment", a);
        r = open_bytes(al.build());
        EXPECT_NE(r.err.find("power of two"), std::string::npos) << a << ": " << r.err;
    }
    Writer at;
    at.kv_u64("general.alignment", 32);
    r = open_bytes(at.build());
    EXPECT_NE(r.err.find("uint32"), std::string::npos) << r.err;

    Writer e;
    e.kv_str("", "empty key");
    r = open_bytes(e.build());
    EXPECT_NE(r.err.find("empty key"), std::string::npos) << r.err;
}

TEST(Gguf, NoTensorsIsAValidFile) {
    Writer w;
    w.kv_str("general.name", "empty");
    auto bytes = w.build();
    spkllm_gguf g;
    ASSERT_EQ(spkllm_gguf_open_memory(bytes.data(), bytes.size(), &g, nullptr, 0), SPKLLM_OK);
    EXPECT_EQ(g.n_tensors, 0u);
    spkllm_gguf_close(&g);
    EXPECT_STREQ(spkllm_status_str(SPKLLM_ERR_FORMAT), "malformed file");
}
