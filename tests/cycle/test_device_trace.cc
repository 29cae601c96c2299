// Device traces (docs/simulator.md, "Device traces"): what the sim backend writes reads back as
// exactly the descriptor the backend timed, is replayed row by row (no fusing), and a row the
// device cannot have written is refused with its line and column.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "spksim/cycle.h"
#include "spksim/cycle_data.h"
#include "spksim/trace.h"

namespace {

uint64_t next(uint64_t &s) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return s >> 33;
}

struct Request {
    spk_head_config cfg;
    spk_head_events ev;
    spk_cycle_request_site site;
    uint64_t command;
    uint64_t bytes; // docs/spec/datapath.md, "Traffic", written out
};

uint64_t row_bytes(uint64_t d, uint64_t bits) {
    return (d * bits + 7) / 8;
}

// Random requests with the ranges the device allows: D 1..128, MSB 2..12, LSB 0..12-MSB, V rows
// <= K rows, V with both planes only after a refetch.
std::vector<Request> random_requests(uint64_t seed, size_t n) {
    std::vector<Request> out;
    uint64_t command = 0;
    for (size_t i = 0; i < n; i++) {
        Request r;
        std::memset(&r, 0, sizeof r);
        r.cfg.d = 1 + (uint32_t)(next(seed) % 128);
        r.cfg.kv.msb_bits = 2 + (uint32_t)(next(seed) % 11);
        r.cfg.kv.lsb_bits = (uint32_t)(next(seed) % (13 - r.cfg.kv.msb_bits));
        r.cfg.requant_threshold = (uint32_t)(next(seed) % 65537);
        r.site.l = 1 + (uint32_t)(next(seed) % 2048);
        r.site.key_list = 1; // the device's head requests list their keys
        r.ev.keys_fetched = (uint32_t)(next(seed) % (r.site.l + 1));
        r.ev.values_fetched = (uint32_t)(next(seed) % (r.ev.keys_fetched + 1));
        r.ev.requant = r.cfg.kv.lsb_bits && next(seed) % 3 == 0;
        r.ev.keys_refetched = r.ev.requant ? r.ev.keys_fetched : 0;
        r.ev.v_with_lsb = r.ev.requant && next(seed) % 2;
        r.ev.v_topk.cycles = next(seed) % 5000;
        r.ev.v_topk.streamed = next(seed) % 20000;
        if (next(seed) % 4 == 0) command++;
        r.command = command;
        r.site.iteration = (uint32_t)(command / 3);
        r.site.layer = (uint32_t)(command % 3);
        r.site.head = (uint32_t)(next(seed) % 9);
        const uint64_t d = r.cfg.d, k = r.ev.keys_fetched, v = r.ev.values_fetched;
        const uint32_t vb = r.cfg.kv.msb_bits + (r.ev.v_with_lsb ? r.cfg.kv.lsb_bits : 0);
        r.bytes = k * row_bytes(d, r.cfg.kv.msb_bits) +
                  (r.ev.requant ? k * row_bytes(d, r.cfg.kv.lsb_bits) : 0) + v * row_bytes(d, vb) +
                  4 * (k + v);
        out.push_back(r);
    }
    return out;
}

std::string write_trace(const std::vector<Request> &reqs) {
    char *buf = nullptr;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    EXPECT_NE(f, nullptr);
    EXPECT_EQ(spk_trace_device_write_header(f), 0);
    for (const Request &r : reqs)
        EXPECT_EQ(spk_trace_device_write_row(f, r.command, &r.site, &r.cfg, &r.ev), 0);
    std::fclose(f);
    std::string text(buf, len);
    std::free(buf);
    return text;
}

std::vector<spk_trace_row> read_rows(const std::string &text, std::string *err_out = nullptr) {
    spk_trace_reader *rd = nullptr;
    EXPECT_EQ(spk_trace_reader_open_mem(text.data(), text.size(), "device.csv", &rd), SPK_CYCLE_OK);
    std::vector<spk_trace_row> rows;
    char err[256] = "";
    for (;;) {
        spk_trace_row row;
        int got = 0;
        spk_cycle_status st = spk_trace_reader_next(rd, &row, &got, err, sizeof err);
        if (st != SPK_CYCLE_OK) {
            if (err_out)
                *err_out = err;
            else
                ADD_FAILURE() << err;
            break;
        }
        if (!got) break;
        rows.push_back(row);
    }
    spk_trace_reader_close(rd);
    return rows;
}

std::string read_error(const std::string &text) {
    std::string err;
    read_rows(text, &err);
    EXPECT_FALSE(err.empty()) << "accepted: " << text;
    return err;
}

} // namespace

// Every row reads back to the very descriptor the backend built from the same request (all
// fields, compared as bytes) and to the DRAM bytes the device counts.
TEST(DeviceTrace, RowsReadBackToTheBackendsDescriptors) {
    const std::vector<Request> reqs = random_requests(7, 2000);
    const std::vector<spk_trace_row> rows = read_rows(write_trace(reqs));
    ASSERT_EQ(rows.size(), reqs.size());
    for (size_t i = 0; i < reqs.size(); i++) {
        SCOPED_TRACE(i);
        spk_cycle_request want, got;
        std::memset(&want, 0, sizeof want);
        std::memset(&got, 0, sizeof got);
        ASSERT_EQ(spk_cycle_request_from_head(&reqs[i].cfg, &reqs[i].ev, &reqs[i].site, &want),
                  SPK_CYCLE_OK);
        uint64_t bytes = 0;
        ASSERT_TRUE(rows[i].device);
        ASSERT_EQ(spk_trace_device_request(&rows[i], &got, &bytes), SPK_CYCLE_OK);
        EXPECT_EQ(std::memcmp(&want, &got, sizeof want), 0);
        EXPECT_EQ(bytes, reqs[i].bytes);
        EXPECT_EQ(rows[i].command, reqs[i].command);
    }
}

// The replay keeps one descriptor per row: 6-bit rows of a device trace are not fused pairs
// (the device fetches each head's rows by itself), and the rounding to 8 does not apply.
TEST(DeviceTrace, ReplayIsOneDescriptorPerRow) {
    std::vector<Request> reqs = random_requests(11, 6);
    for (Request &r : reqs) {
        r.cfg.kv.msb_bits = 6;
        r.cfg.kv.lsb_bits = 4;
        r.ev.keys_fetched = 13;
        r.ev.values_fetched = 5;
        r.site.l = 20;
    }
    const std::vector<spk_trace_row> rows = read_rows(write_trace(reqs));
    ASSERT_EQ(rows.size(), 6u);
    spk_trace_options o = {0, 0, 16, 1};
    spk_trace_replay rp;
    spk_trace_replay_init(&rp, &o);
    std::vector<spk_cycle_request> out;
    spk_cycle_request q;
    for (const spk_trace_row &r : rows)
        if (spk_trace_replay_row(&rp, &r, &q)) out.push_back(q);
    if (spk_trace_replay_flush(&rp, &q)) out.push_back(q);
    ASSERT_EQ(out.size(), 6u);
    for (const spk_cycle_request &d : out) {
        EXPECT_EQ(d.heads, 1u);
        EXPECT_EQ(d.keys, 13u);
        EXPECT_EQ(d.values, 5u);
    }
}

// What the device cannot have written is refused, naming the line and the column.
TEST(DeviceTrace, RowsTheDeviceCannotWriteAreRefused) {
    const std::string text = write_trace(random_requests(3, 1));
    const std::string head = text.substr(0, text.find('\n') + 1);
    struct Case {
        std::string row;
        const char *expect;
    } cases[] = {
        // V bits neither the MSB plane nor both planes
        {"0,0,0,64.0,10,8,6,16,0.5,True,4,4,8,True,False,False,-1,0,0,0,0\n",
         "line 2, column quant_value_bit"},
        // more V rows than K rows
        {"0,0,0,64.0,10,4,6,16,0.5,False,4,5,6,True,False,False,-1,0,0,0,0\n",
         "line 2, column value_fetch_num"},
        // more than 12 bits in all
        {"0,0,0,64.0,10,4,8,16,0.5,False,6,4,8,True,False,False,-1,0,0,0,0\n",
         "line 2, column auto_requant_incre"},
        // a SpAtten row in a device trace
        {"0,0,0,64.0,10,4,6,16,0.5,False,4,4,6,True,False,False,-1\n", "17 fields, expected 21"},
        {"0,0,0,64.0,10,4,6,16,0.5,False,4,4,6,True,False,False,-1,x,0,0,0\n",
         "line 2, column command"},
        {"0,0,0,64.0,10,4,6,16,0.5,False,4,4,6,True,False,False,-1,0,-3,0,0\n",
         "line 2, column v_topk_cycles"},
        // more held K rows than K rows
        {"0,0,0,64.0,10,4,6,16,0.5,False,4,4,6,True,False,False,-1,0,0,0,5\n",
         "line 2, column key_held_num"},
    };
    for (const Case &c : cases) {
        const std::string err = read_error(head + c.row);
        EXPECT_NE(err.find(c.expect), std::string::npos) << c.row << "got: " << err;
    }
    // A header with some of the extension columns is neither format (the first three alone are
    // the trace written before key_held_num).
    const std::string three = head.substr(0, head.rfind(','));
    const std::string partial = three.substr(0, three.rfind(',')) + "\n";
    EXPECT_NE(read_error(partial).find("line 1: header has 19 columns"), std::string::npos);
}

// A device trace written before key_held_num (20 columns) still reads, with no held rows; a held
// count prices the K rows it names as not fetched.
TEST(DeviceTrace, TheHeldColumnIsOptionalAndPricesHeldRowsAsNotFetched) {
    const std::string text = write_trace(random_requests(3, 1));
    const std::string head = text.substr(0, text.find('\n') + 1);
    const std::string old_head = head.substr(0, head.rfind(',')) + "\n";
    const std::string row = "0,0,0,64.0,10,4,8,16,0.5,False,4,4,8,True,False,False,-1,0,0,0";
    const std::string old_path = ::testing::TempDir() + "device-old.csv";
    const std::string held_path = ::testing::TempDir() + "device-held.csv";
    {
        std::ofstream(old_path) << old_head << row << "\n";
        std::ofstream(held_path) << head << row << ",3\n";
    }
    uint64_t bytes[2] = {0, 0};
    uint64_t msb_tx[2] = {0, 0};
    const std::string paths[2] = {old_path, held_path};
    for (int i = 0; i < 2; i++) {
        char err[256] = "";
        spk_trace_reader *r = nullptr;
        ASSERT_EQ(spk_trace_reader_open(paths[i].c_str(), &r, err, sizeof err), SPK_CYCLE_OK)
            << err;
        spk_trace_row tr;
        int got = 0;
        ASSERT_EQ(spk_trace_reader_next(r, &tr, &got, err, sizeof err), SPK_CYCLE_OK) << err;
        ASSERT_EQ(got, 1);
        EXPECT_EQ(tr.key_held, i == 0 ? 0u : 3u);
        spk_cycle_request q;
        ASSERT_EQ(spk_trace_device_request(&tr, &q, &bytes[i]), SPK_CYCLE_OK);
        msb_tx[i] = q.key_msb_transactions;
        spk_trace_reader_close(r);
    }
    // 4 keys of 64 8-bit fields, one a 64-byte row and a 4-byte scale word each: 3 held
    EXPECT_EQ(bytes[0] - bytes[1], 3u * (64u + 4u));
    EXPECT_EQ(msb_tx[0], 4u * 2u + 1u); // 2 transactions a row, 16 bytes of scale words
    EXPECT_EQ(msb_tx[1], 1u * 2u + 1u);
}
