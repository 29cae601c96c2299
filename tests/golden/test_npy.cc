// .npy reading and writing: round trips, every supported dtype, and malformed files rejected
// with a message that names the problem.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "spksim/npy.h"

namespace {

std::string header_v1(const std::string &dict) {
    std::string h = dict;
    while ((10 + h.size() + 1) % 64) h += ' ';
    h += '\n';
    std::string out = "\x93NUMPY";
    out += '\x01';
    out += '\x00';
    out += (char)(h.size() & 0xFF);
    out += (char)(h.size() >> 8);
    return out + h;
}

std::string parse_error(const std::string &bytes, spksim_status want = SPKSIM_E_FORMAT) {
    spk_npy a;
    char err[256] = "";
    spksim_status st =
        spk_npy_parse((const uint8_t *)bytes.data(), bytes.size(), "t.npy", &a, err, sizeof err);
    EXPECT_EQ(st, want) << err;
    if (st == SPKSIM_OK) spk_npy_free(&a);
    return err;
}

TEST(Npy, WriteReadRoundTrip) {
    std::vector<float> data(2 * 3 * 5);
    for (size_t i = 0; i < data.size(); i++) data[i] = (float)i * 0.5f - 3.0f;
    const uint64_t shape[3] = {2, 3, 5};
    std::string path = ::testing::TempDir() + "rt.npy";
    char err[256];
    ASSERT_EQ(spk_npy_write_f32(path.c_str(), data.data(), 3, shape, err, sizeof err), SPKSIM_OK);
    spk_npy a;
    ASSERT_EQ(spk_npy_read(path.c_str(), &a, err, sizeof err), SPKSIM_OK) << err;
    EXPECT_EQ(a.dtype, SPK_NPY_F32);
    ASSERT_EQ(a.ndim, 3u);
    EXPECT_EQ(a.shape[0], 2u);
    EXPECT_EQ(a.shape[2], 5u);
    ASSERT_EQ(a.count, data.size());
    EXPECT_EQ(std::memcmp(a.data, data.data(), data.size() * 4), 0);
    spk_npy_free(&a);
}

TEST(Npy, ReadsVersions2And3AndIntegerTypes) {
    std::string dict = "{'descr': '<i2', 'fortran_order': False, 'shape': (3,), }";
    for (int major : {2, 3}) {
        std::string h = dict;
        while ((12 + h.size() + 1) % 64) h += ' ';
        h += '\n';
        std::string b = "\x93NUMPY";
        b += (char)major;
        b += '\0';
        uint32_t len = (uint32_t)h.size();
        b.append((const char *)&len, 4);
        b += h;
        int16_t vals[3] = {-5, 0, 32767};
        b.append((const char *)vals, 6);
        spk_npy a;
        char err[256];
        ASSERT_EQ(spk_npy_parse((const uint8_t *)b.data(), b.size(), "v", &a, err, sizeof err),
                  SPKSIM_OK)
            << err;
        ASSERT_EQ(spk_npy_to_f32(&a, err, sizeof err), SPKSIM_OK);
        const float *f = (const float *)a.data;
        EXPECT_EQ(f[0], -5.0f);
        EXPECT_EQ(f[2], 32767.0f);
        spk_npy_free(&a);
    }
}

TEST(Npy, IntegerTooLargeForFloatIsRejected) {
    std::string b = header_v1("{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }");
    int32_t v = (1 << 24) + 1;
    b.append((const char *)&v, 4);
    spk_npy a;
    char err[256];
    ASSERT_EQ(spk_npy_parse((const uint8_t *)b.data(), b.size(), "x", &a, err, sizeof err),
              SPKSIM_OK);
    EXPECT_EQ(spk_npy_to_f32(&a, err, sizeof err), SPKSIM_E_RANGE);
    EXPECT_NE(std::string(err).find("exactly"), std::string::npos) << err;
    spk_npy_free(&a);
}

TEST(Npy, MalformedFilesNameTheProblem) {
    const std::string good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    std::string data(8, '\0');
    EXPECT_NE(parse_error("").find("magic"), std::string::npos);
    EXPECT_NE(parse_error("\x93NUMPX\x01\x00\x00\x00").find("magic"), std::string::npos);
    std::string v9 = header_v1(good) + data;
    v9[6] = 9;
    EXPECT_NE(parse_error(v9).find("version 9.0"), std::string::npos);
    EXPECT_NE(
        parse_error(header_v1("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }") + data)
            .find("'>f4'"),
        std::string::npos);
    EXPECT_NE(
        parse_error(header_v1("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }") + data)
            .find("Fortran"),
        std::string::npos);
    EXPECT_NE(
        parse_error(header_v1("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }") + data)
            .find("not supported"),
        std::string::npos);
    EXPECT_NE(parse_error(header_v1("{'descr': '<f4', 'shape': (2,), }") + data).find("lacks"),
              std::string::npos);
    EXPECT_NE(parse_error(header_v1(good) + data.substr(0, 7)).find("shape needs"),
              std::string::npos);
    EXPECT_NE(parse_error(header_v1(good) + data + "x").find("shape needs"), std::string::npos);
    EXPECT_NE(
        parse_error(header_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }") + data)
            .find("shape"),
        std::string::npos);
    EXPECT_NE(parse_error(header_v1("{'descr': '<f4', 'fortran_order': False, 'shape': "
                                    "(4294967296, 4294967296, 4294967296), }") +
                          data)
                  .find("shape"),
              std::string::npos);
    std::string long_header = header_v1(good);
    long_header[8] = (char)0xFF;
    long_header[9] = (char)0x7F;
    EXPECT_NE(parse_error(long_header).find("past the end"), std::string::npos);
    EXPECT_NE(parse_error(header_v1("[1, 2]")).find("not a dict"), std::string::npos);
    EXPECT_NE(parse_error(header_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), "
                                    "'extra': 1}") +
                          data)
                  .find("unknown header key"),
              std::string::npos);
}

TEST(Npy, EveryTruncationOfAValidFileIsRejected) {
    std::string b = header_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }") +
                    std::string(24, '\x01');
    for (size_t cut = 0; cut < b.size(); cut++) {
        spk_npy a;
        char err[256];
        EXPECT_NE(spk_npy_parse((const uint8_t *)b.data(), cut, "t", &a, err, sizeof err),
                  SPKSIM_OK)
            << cut;
    }
}

TEST(Npy, MissingFileIsAnIoError) {
    spk_npy a;
    char err[256];
    EXPECT_EQ(spk_npy_read("/nonexistent/dir/x.npy", &a, err, sizeof err), SPKSIM_E_IO);
    EXPECT_NE(std::string(err).find("/nonexistent/dir/x.npy"), std::string::npos);
}

} // namespace
