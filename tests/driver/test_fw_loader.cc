// Firmware ELF loader: the real firmware loads; damaged or foreign ELFs are refused with a
// message that names the problem. Bad ELFs are made by mutating the real firmware's bytes or by
// writing tiny ELFs from scratch.
#include "fw_paths.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" {
#include "fw_load.h"
#include "spk/regs.h"
}

namespace {

const spk_fw_target kTarget = {SPK_MEM_IMEM_BASE, SPK_MEM_IMEM_SIZE, SPK_MEM_DMEM_BASE,
                               SPK_MEM_DMEM_SIZE, SPK_VERSION_MAJOR};

std::vector<uint8_t> read_file(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

struct Parsed {
    spk_status status;
    std::string message;
    spk_fw_image img;
};

Parsed parse(const std::vector<uint8_t> &bytes) {
    Parsed p;
    p.status = spk_fw_parse(bytes.data(), bytes.size(), &kTarget, &p.img);
    p.message = spk_last_error();
    return p;
}

void put16(std::vector<uint8_t> &b, size_t at, uint16_t v) {
    b[at] = v & 0xff;
    b[at + 1] = v >> 8;
}
void put32(std::vector<uint8_t> &b, size_t at, uint32_t v) {
    for (int i = 0; i < 4; i++) b[at + i] = (v >> (8 * i)) & 0xff;
}

// A minimal ELF32 RISC-V executable with the given PT_LOAD segments, entry point and an
// optional .spk_fw_info section.
struct Seg {
    uint32_t vaddr, filesz, memsz;
};
std::vector<uint8_t> tiny_elf(const std::vector<Seg> &segs, uint32_t entry, bool with_info = true,
                              spk_fw_info info = {}) {
    if (!info.magic) {
        info.magic = SPK_FW_INFO_MAGIC;
        info.info_size = sizeof(spk_fw_info);
        info.abi_version = SPK_FW_ABI_VERSION;
        info.regmap_major = SPK_VERSION_MAJOR;
        std::strcpy(info.name, "tiny");
    }
    const size_t ph_off = 52, data_off = ph_off + 32 * segs.size();
    size_t total_data = 0;
    for (const Seg &s : segs) total_data += s.filesz;
    const size_t info_off = data_off + total_data;
    const char shstr[] = "\0.spk_fw_info\0.shstrtab";
    const size_t str_off = info_off + sizeof(info), sh_off = (str_off + sizeof(shstr) + 3) & ~3u;
    std::vector<uint8_t> b(sh_off + 40 * 3, 0);
    const uint8_t ident[] = {0x7f, 'E', 'L', 'F', 1, 1, 1};
    std::memcpy(b.data(), ident, sizeof(ident));
    put16(b, 16, 2);   // ET_EXEC
    put16(b, 18, 243); // EM_RISCV
    put32(b, 20, 1);   // EV_CURRENT
    put32(b, 24, entry);
    put32(b, 28, ph_off);
    put32(b, 32, with_info ? sh_off : 0);
    put16(b, 40, 52);
    put16(b, 42, 32);
    put16(b, 44, segs.size());
    put16(b, 46, 40);
    put16(b, 48, with_info ? 3 : 0);
    put16(b, 50, with_info ? 2 : 0);
    size_t at = data_off;
    for (size_t i = 0; i < segs.size(); i++) {
        size_t p = ph_off + 32 * i;
        put32(b, p, 1); // PT_LOAD
        put32(b, p + 4, at);
        put32(b, p + 8, segs[i].vaddr);
        put32(b, p + 12, segs[i].vaddr);
        put32(b, p + 16, segs[i].filesz);
        put32(b, p + 20, segs[i].memsz);
        put32(b, p + 24, 7);
        put32(b, p + 28, 4);
        for (uint32_t k = 0; k < segs[i].filesz; k++) b[at + k] = 0x13;
        at += segs[i].filesz;
    }
    std::memcpy(b.data() + info_off, &info, sizeof(info));
    std::memcpy(b.data() + str_off, shstr, sizeof(shstr));
    if (with_info) {
        size_t s1 = sh_off + 40, s2 = sh_off + 80;
        put32(b, s1, 1);     // name ".spk_fw_info"
        put32(b, s1 + 4, 1); // SHT_PROGBITS
        put32(b, s1 + 16, info_off);
        put32(b, s1 + 20, sizeof(info));
        put32(b, s2, 14);    // ".shstrtab"
        put32(b, s2 + 4, 3); // SHT_STRTAB
        put32(b, s2 + 16, str_off);
        put32(b, s2 + 20, sizeof(shstr));
    }
    return b;
}

class FwLoader : public ::testing::Test {
  protected:
    void SetUp() override {
        real = read_file(fw_path("spk-fw.elf"));
        ASSERT_GT(real.size(), 52u) << "build the firmware first (make firmware)";
    }
    void expect_refused(const std::vector<uint8_t> &bytes, const char *needle) {
        Parsed p = parse(bytes);
        EXPECT_EQ(p.status, SPK_E_FW) << p.message;
        EXPECT_NE(p.message.find(needle), std::string::npos)
            << "message '" << p.message << "' should mention '" << needle << "'";
        EXPECT_EQ(p.img.nsegments, 0u);
    }
    std::vector<uint8_t> real;
};

TEST_F(FwLoader, RealFirmwareLoadsWithItsRecord) {
    Parsed p = parse(real);
    ASSERT_EQ(p.status, SPK_OK) << p.message;
    EXPECT_EQ(p.img.entry, SPK_MEM_IMEM_BASE);
    EXPECT_GE(p.img.nsegments, 1u);
    EXPECT_EQ(p.img.info.magic, SPK_FW_INFO_MAGIC);
    EXPECT_EQ(p.img.info.abi_version, SPK_FW_ABI_VERSION);
    EXPECT_STREQ(p.img.info.name, "spk-fw");
    EXPECT_TRUE(p.img.info.commands & (1u << SPK_CMD_LAYER));
    for (unsigned i = 0; i < p.img.nsegments; i++)
        EXPECT_LE(p.img.segments[i].filesz, p.img.segments[i].memsz);
    spk_fw_image_free(&p.img);
    spk_fw_image img;
    EXPECT_EQ(spk_fw_parse_file(fw_path("spk-fw.elf").c_str(), &kTarget, &img), SPK_OK);
    spk_fw_image_free(&img);
}

TEST_F(FwLoader, TruncatedFilesAreRefused) {
    for (size_t n : {size_t(0), size_t(3), size_t(20), size_t(51), size_t(60), real.size() / 2,
                     real.size() - 1}) {
        std::vector<uint8_t> cut(real.begin(), real.begin() + n);
        Parsed p = parse(cut);
        EXPECT_NE(p.status, SPK_OK) << "truncated to " << n;
        EXPECT_FALSE(p.message.empty()) << n;
        spk_fw_image_free(&p.img);
    }
    expect_refused(std::vector<uint8_t>(real.begin(), real.begin() + 40), "ELF");
}

TEST_F(FwLoader, HeaderMutationsAreRefused) {
    auto m = real;
    put16(m, 18, 62); // EM_X86_64
    expect_refused(m, "machine 62");
    m = real;
    m[4] = 2; // ELFCLASS64
    expect_refused(m, "class 2");
    m = real;
    m[5] = 2; // big-endian
    expect_refused(m, "little-endian");
    m = real;
    put32(m, 36, 0x1); // EF_RISCV_RVC
    expect_refused(m, "flags 0x1");
    m = real;
    put32(m, 36, 0x4); // double-float ABI
    expect_refused(m, "float");
    m = real;
    put16(m, 16, 3); // ET_DYN
    expect_refused(m, "ET_EXEC");
    m = real;
    put32(m, 24, 0x10000000); // entry in data memory
    expect_refused(m, "entry point");
    m = real;
    m[1] = 'X';
    expect_refused(m, "not an ELF");
}

TEST(FwLoaderTiny, WellFormedTinyElfLoads) {
    Parsed p = parse(tiny_elf({{0, 64, 64}, {0x10000000, 16, 256}}, 0));
    ASSERT_EQ(p.status, SPK_OK) << p.message;
    EXPECT_EQ(p.img.nsegments, 2u);
    EXPECT_EQ(p.img.segments[1].memsz, 256u);
    spk_fw_image_free(&p.img);
}

TEST(FwLoaderTiny, LayoutErrorsAreRefused) {
    struct Case {
        const char *what;
        std::vector<uint8_t> elf;
        const char *needle;
    } cases[] = {
        {"overlap", tiny_elf({{0, 64, 64}, {32, 64, 64}}, 0), "overlaps"},
        {"oversize imem", tiny_elf({{0, 64, SPK_MEM_IMEM_SIZE + 4}}, 0), "does not fit"},
        {"oversize dmem", tiny_elf({{0, 64, 64}, {0x10000000, 4, SPK_MEM_DMEM_SIZE + 4}}, 0),
         "does not fit"},
        {"straddles memories", tiny_elf({{0xfff0, 16, 32}}, 0xfff0), "does not fit"},
        {"outside memories", tiny_elf({{0, 64, 64}, {0x20000000, 4, 4}}, 0), "does not fit"},
        {"entry outside code", tiny_elf({{0, 64, 64}}, 0x100), "not inside loaded code"},
        {"no segments", tiny_elf({}, 0), "no program headers"},
        {"filesz > memsz", tiny_elf({{0, 64, 32}}, 0), "more file bytes"},
        {"no info section", tiny_elf({{0, 64, 64}}, 0, false), "spk_fw_info"},
    };
    for (const Case &c : cases) {
        Parsed p = parse(c.elf);
        EXPECT_EQ(p.status, SPK_E_FW) << c.what << ": " << p.message;
        EXPECT_NE(p.message.find(c.needle), std::string::npos) << c.what << ": " << p.message;
    }
}

TEST(FwLoaderTiny, SegmentPastEndOfFileIsRefused) {
    auto elf = tiny_elf({{0, 64, 64}}, 0);
    put32(elf, 52 + 16, 1u << 20); // filesz beyond the file
    put32(elf, 52 + 20, 1u << 20);
    Parsed p = parse(elf);
    EXPECT_EQ(p.status, SPK_E_FW);
    EXPECT_NE(p.message.find("past the end"), std::string::npos) << p.message;
}

TEST(FwLoaderTiny, IncompatibleRecordsAreRefused) {
    spk_fw_info info = {};
    info.magic = SPK_FW_INFO_MAGIC;
    info.info_size = sizeof(info);
    info.abi_version = SPK_FW_ABI_VERSION + 1;
    info.regmap_major = SPK_VERSION_MAJOR;
    Parsed p = parse(tiny_elf({{0, 64, 64}}, 0, true, info));
    EXPECT_NE(p.message.find("driver ABI"), std::string::npos) << p.message;
    info.abi_version = SPK_FW_ABI_VERSION;
    info.regmap_major = SPK_VERSION_MAJOR + 1;
    p = parse(tiny_elf({{0, 64, 64}}, 0, true, info));
    EXPECT_NE(p.message.find("register map"), std::string::npos) << p.message;
    info.regmap_major = SPK_VERSION_MAJOR;
    info.magic = 0x12345678;
    p = parse(tiny_elf({{0, 64, 64}}, 0, true, info));
    EXPECT_NE(p.message.find("bad magic"), std::string::npos) << p.message;
    info.magic = SPK_FW_INFO_MAGIC;
    std::memset(info.name, 'x', sizeof(info.name));
    p = parse(tiny_elf({{0, 64, 64}}, 0, true, info));
    EXPECT_NE(p.message.find("not terminated"), std::string::npos) << p.message;
}

TEST(FwLoaderTiny, BadArgumentsAndFiles) {
    spk_fw_image img;
    EXPECT_EQ(spk_fw_parse(nullptr, 10, &kTarget, &img), SPK_E_ARG);
    EXPECT_EQ(spk_fw_parse("x", 1, nullptr, &img), SPK_E_ARG);
    EXPECT_EQ(spk_fw_parse("x", 1, &kTarget, nullptr), SPK_E_ARG);
    EXPECT_EQ(spk_fw_parse_file("/nonexistent/fw.elf", &kTarget, &img), SPK_E_IO);
    EXPECT_NE(std::string(spk_last_error()).find("/nonexistent/fw.elf"), std::string::npos);
    EXPECT_EQ(spk_fw_parse_file(nullptr, &kTarget, &img), SPK_E_ARG);
    spk_fw_image_free(nullptr);
}

} // namespace
