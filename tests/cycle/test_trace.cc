// Trace reader validation and the --compat replay rules on hand-derived synthetic traces.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "spksim/cycle.h"
#include "spksim/trace.h"
#include "trace_helpers.h"

using cycle_test::config_line;
using cycle_test::header;
using cycle_test::row;
using cycle_test::TempFile;

namespace {

struct Counts {
    uint64_t msb = 0, lsb = 0, value = 0, requant = 0, descriptors = 0, rows = 0;
};

// Load through a real file (the tool's path), apply the rules, run the engine on `full`.
Counts replay(const std::string &text, bool compat, bool dense = false) {
    Counts c;
    TempFile f(text);
    EXPECT_TRUE(f.ok());
    spk_trace t;
    char err[256] = "";
    EXPECT_EQ(spk_trace_load(f.path(), &t, err, sizeof err), SPK_CYCLE_OK) << err;
    spk_trace_options o = {compat ? 1 : 0, dense ? 1 : 0, 16, 1};
    spk_cycle_request *q = nullptr;
    size_t n = 0;
    EXPECT_EQ(spk_trace_to_requests(&t, &o, &q, &n, err, sizeof err), SPK_CYCLE_OK) << err;
    spk_config cfg;
    EXPECT_EQ(spk_config_preset("full", &cfg), 0);
    spk_cycle_stats s;
    EXPECT_EQ(spk_cycle_run(&cfg, q, n, &s, nullptr, nullptr, nullptr), SPK_CYCLE_OK);
    c.msb = s.key_msb_transactions;
    c.lsb = s.key_lsb_transactions;
    c.value = s.value_transactions;
    c.requant = s.requant_requests;
    c.descriptors = s.descriptors;
    c.rows = s.requests;
    EXPECT_EQ(s.dram_bytes, 32 * (c.msb + c.lsb + c.value));
    free(q);
    spk_trace_free(&t);
    return c;
}

std::string load_error(const std::string &text) {
    TempFile f(text);
    spk_trace t;
    char err[256] = "";
    spk_cycle_status st = spk_trace_load(f.path(), &t, err, sizeof err);
    EXPECT_EQ(st, SPK_CYCLE_E_FORMAT) << "accepted: " << text;
    if (st == SPK_CYCLE_OK) spk_trace_free(&t);
    return err;
}

} // namespace

// Unquantized row, L = K = V = 10: rounded to 16; 8-bit MSB = 2 transactions per key (32),
// forced LSB refetch 1 per key (16), values 8-bit 2 per value (32).
TEST(CompatRules, UnquantizedRowForcesRequant) {
    Counts c =
        replay(std::string(header()) + row(0, 0, 10, 10, -1, false, 10, -1) + config_line(), true);
    EXPECT_EQ(c.msb, 32u);
    EXPECT_EQ(c.lsb, 16u);
    EXPECT_EQ(c.value, 32u);
    EXPECT_EQ(c.requant, 1u);
}

// The default mode also fetches the 4-bit LSB plane of unquantized values: 16 more.
TEST(CompatRules, DefaultModeFetchesValueLsbOfUnquantizedRows) {
    Counts c = replay(std::string(header()) + row(0, 0, 10, 10, -1, false, 10, -1), false);
    EXPECT_EQ(c.msb, 32u);
    EXPECT_EQ(c.lsb, 16u);
    EXPECT_EQ(c.value, 48u);
}

// A fused 6-bit pair, K = 17 -> 24, V = 5 -> 8: one 96-byte chunk (3 transactions) per key index
// for both heads (72), V indices shared (3 x 8 = 24), only the first row refetches LSBs (24).
TEST(CompatRules, SixBitPairIsFused) {
    Counts c = replay(std::string(header()) + row(0, 0, 40, 17, 6, true, 5, 6) +
                          row(0, 1, 40, 17, 6, false, 5, 6),
                      true);
    EXPECT_EQ(c.msb, 72u);
    EXPECT_EQ(c.lsb, 24u);
    EXPECT_EQ(c.value, 24u);
    EXPECT_EQ(c.requant, 1u);
    EXPECT_EQ(c.descriptors, 1u);
    EXPECT_EQ(c.rows, 2u);
}

// Pairing follows the reference's counter: rows 0-1 fuse, row 2 (third 6-bit row) starts a new
// chunk alone, the 8-bit row resets the counter, and the last 6-bit row is alone again.
// K = V = 8: each 6-bit chunk is 3 x 8 = 24 (keys and values), the 8-bit row 2 x 8 = 16.
TEST(CompatRules, PairingCounterResetsOnOtherWidths) {
    Counts c = replay(std::string(header()) + row(0, 0, 8, 8, 6, false, 8, 6) +
                          row(0, 1, 8, 8, 6, false, 8, 6) + row(0, 2, 8, 8, 6, false, 8, 6) +
                          row(0, 3, 8, 8, 8, false, 8, 8) + row(0, 4, 8, 8, 6, false, 8, 6),
                      true);
    EXPECT_EQ(c.descriptors, 4u);
    EXPECT_EQ(c.msb, 24u + 24u + 16u + 24u);
    EXPECT_EQ(c.value, 24u + 24u + 16u + 24u);
    EXPECT_EQ(c.lsb, 0u);
}

// 4-bit K: 32 bytes per key, one transaction; K = 9 -> 16. 10-bit: as 8-bit with forced LSBs.
TEST(CompatRules, FourAndTenBitRows) {
    Counts c = replay(std::string(header()) + row(0, 0, 20, 9, 4, false, 1, 4) +
                          row(0, 1, 20, 8, 10, false, 8, 10),
                      true);
    EXPECT_EQ(c.msb, 16u + 16u);
    EXPECT_EQ(c.lsb, 8u);
    EXPECT_EQ(c.value, 8u + 16u);
    EXPECT_EQ(c.requant, 1u);
}

// Dense: K = V = L (rounded), 8 + 4-bit planes: keys 2 + 1, values 3 transactions per index.
TEST(CompatRules, DenseIgnoresPruning) {
    Counts c = replay(std::string(header()) + row(0, 0, 16, 3, 6, true, 1, 6), true, true);
    EXPECT_EQ(c.msb, 32u);
    EXPECT_EQ(c.lsb, 16u);
    EXPECT_EQ(c.value, 48u);
    EXPECT_EQ(c.requant, 0u);
}

TEST(TraceReader, SkipsOnlyTheTrailingConfigLine) {
    TempFile f(std::string(header()) + row(0, 0, 8, 8, 8, false, 8, 8) + config_line());
    spk_trace t;
    char err[256] = "";
    ASSERT_EQ(spk_trace_load(f.path(), &t, err, sizeof err), SPK_CYCLE_OK) << err;
    EXPECT_EQ(t.n, 1u);
    EXPECT_EQ(t.skipped, 1u);
    EXPECT_EQ(t.rows[0].line, 2u);
    spk_trace_free(&t);
}

TEST(TraceReader, RejectsMalformedRowsWithLineAndColumn) {
    const std::string h = header(), good = row(0, 0, 8, 8, 8, false, 8, 8);
    struct Case {
        std::string bad;
        const char *expect;
    } cases[] = {
        {"0,1,2,64.0,8,8,8,16,0.05,False,4,8,8,True,False,False\n", "line 3: 16 fields"},
        {"0,x,2,64.0,8,8,8,16,0.05,False,4,8,8,True,False,False,-1\n", "line 3, column layer_id"},
        {"0,1,2,64.5,8,8,8,16,0.05,False,4,8,8,True,False,False,-1\n",
         "line 3, column embedding_length_D"},
        {"0,1,2,64.0,8,9,8,16,0.05,False,4,8,8,True,False,False,-1\n",
         "line 3, column key_fetch_num"},
        {"0,1,2,64.0,8,8,9,16,0.05,False,4,8,8,True,False,False,-1\n",
         "line 3, column quant_key_bit"},
        {"0,1,2,64.0,8,8,8,16,0.05,maybe,4,8,8,True,False,False,-1\n", "line 3, column if_requant"},
        {"0,1,2,64.0,8,8,8,16,0.05,False,4,8,8,True,False,False,-1,7\n", "line 3: more than"},
        {"configs/x.yml,,,,,,,,,,,,,,,,5\n", "line 3, column iteration_id"},
        {"\n" + good, "line 3: empty line"},
        {"0,1,2,64.0,8,8,8,16,2.5,False,4,8,8,True,False,False,-1\n",
         "line 3, column auto_requant_thres"},
    };
    for (const Case &c : cases) {
        std::string err = load_error(h + good + c.bad);
        EXPECT_NE(err.find(c.expect), std::string::npos) << "got: " << err;
    }
    EXPECT_NE(load_error("iteration_id,layer\n").find("line 1: header"), std::string::npos);
    EXPECT_NE(load_error("").find("empty file"), std::string::npos);
}

// Number fields are whole-string decimals: no sign '+', no spaces, no hexadecimal, no inf/nan
// (strtol/strtod alone took " 0", "+0" and, for D and the threshold, "0x40").
TEST(TraceReader, NumbersAreWholeStringDecimals) {
    const std::string h = header(), good = row(0, 0, 8, 8, 8, false, 8, 8);
    struct Case {
        const char *bad, *column;
    } cases[] = {
        {"0,+0,2,64.0,8,8,8,16,0.05,False,4,8,8,True,False,False,-1\n", "column layer_id"},
        {"0, 0,2,64.0,8,8,8,16,0.05,False,4,8,8,True,False,False,-1\n", "column layer_id"},
        {"0,0 ,2,64.0,8,8,8,16,0.05,False,4,8,8,True,False,False,-1\n", "column layer_id"},
        {"0,0x1,2,64.0,8,8,8,16,0.05,False,4,8,8,True,False,False,-1\n", "column layer_id"},
        {"0,0,2,0x40,8,8,8,16,0.05,False,4,8,8,True,False,False,-1\n", "column embedding_length_D"},
        {"0,0,2,+64.0,8,8,8,16,0.05,False,4,8,8,True,False,False,-1\n",
         "column embedding_length_D"},
        {"0,0,2, 64.0,8,8,8,16,0.05,False,4,8,8,True,False,False,-1\n",
         "column embedding_length_D"},
        {"0,0,2,64.,8,8,8,16,0x0.1p0,False,4,8,8,True,False,False,-1\n",
         "column auto_requant_thres"},
        {"0,0,2,64,8,8,8,16,+0.05,False,4,8,8,True,False,False,-1\n", "column auto_requant_thres"},
        {"0,0,2,64,8,8,8,16,.,False,4,8,8,True,False,False,-1\n", "column auto_requant_thres"},
        {"0,0,2,64,8,8,8,16,1e,False,4,8,8,True,False,False,-1\n", "column auto_requant_thres"},
        {"0,0,2,64,8,8,8,16,nan,False,4,8,8,True,False,False,-1\n", "column auto_requant_thres"},
        {"0,0,2,64,8,8,8,16,0.05,False,4,8,8,True,False,False,+8\n", "column topk"},
    };
    for (const Case &c : cases) {
        std::string err = load_error(h + good + c.bad);
        EXPECT_NE(err.find(std::string("line 3, ") + c.column), std::string::npos)
            << c.bad << "got: " << err;
    }
    // Python's own spellings stay accepted: 64, 64.0, 64e0, .05, 1e-05, -1.
    TempFile f(h + "0,0,2,64e0,8,8,8,16,1e-05,False,4,8,8,True,False,False,-1\n" +
               "0,0,2,64,8,8,8,16,.05,False,4,8,8,True,False,False,-1\n" +
               "0,0,2,64.0,8,8,8,16,-1,False,4,8,8,True,False,False,-1\n");
    spk_trace t;
    char err[256] = "";
    ASSERT_EQ(spk_trace_load(f.path(), &t, err, sizeof err), SPK_CYCLE_OK) << err;
    EXPECT_EQ(t.n, 3u);
    EXPECT_EQ(t.rows[0].d, 64u);
    EXPECT_DOUBLE_EQ(t.rows[0].requant_threshold, 1e-05);
    spk_trace_free(&t);
}

// Any number of blank lines (empty, CR only, or spaces and tabs) may end the file, as the docs
// say; one followed by a non-blank line is refused at its own line number.
TEST(TraceReader, TrailingBlankLinesAreAllowed) {
    const std::string h = header(), good = row(0, 0, 8, 8, 8, false, 8, 8);
    for (const std::string tail : {"", "\n", "\n\n\n", "\r\n\r\n", "  \n\t\n", "\n \n\n"}) {
        TempFile f(h + good + config_line() + tail);
        spk_trace t;
        char err[256] = "";
        EXPECT_EQ(spk_trace_load(f.path(), &t, err, sizeof err), SPK_CYCLE_OK)
            << "tail of " << tail.size() << " bytes: " << err;
        if (err[0] == '\0') {
            EXPECT_EQ(t.n, 1u);
            spk_trace_free(&t);
        }
    }
    EXPECT_NE(load_error(h + good + "\n\n" + good).find("line 3: empty line"), std::string::npos);
    EXPECT_NE(load_error(h + good + " \n" + good).find("line 3: empty line"), std::string::npos);
    EXPECT_NE(load_error("\n" + h + good).find("line 1: empty line"), std::string::npos);
    EXPECT_NE(load_error("\n\n").find("empty file"), std::string::npos);
}

TEST(TraceReader, MissingFileIsAnIoError) {
    spk_trace t;
    char err[256] = "";
    EXPECT_EQ(spk_trace_load("/nonexistent/trace.csv", &t, err, sizeof err), SPK_CYCLE_E_IO);
    EXPECT_NE(std::string(err).find("/nonexistent/trace.csv"), std::string::npos);
}

// A longer synthetic trace, with the expected counts built from the rules row by row.
TEST(CompatRules, RandomTraceMatchesRowByRowRules) {
    std::string text = header();
    uint64_t msb = 0, lsb = 0, value = 0, requant = 0;
    unsigned seed = 7;
    auto next = [&seed](unsigned m) {
        seed = seed * 1103515245u + 12345u;
        return (seed >> 16) % m;
    };
    auto r8 = [](uint64_t x) { return (x + 7) / 8 * 8; };
    for (int layer = 0; layer < 6; layer++) {
        for (int head = 0; head < 12; head += 2) {
            int l = 100 + (int)next(900);
            int k = 1 + (int)next((unsigned)l), v = (int)next((unsigned)k + 1);
            bool rq0 = next(10) == 0, rq1 = next(10) == 0;
            if (layer % 2 == 0) { // a fused 6-bit pair: same K and V, one chunk
                text +=
                    row(layer, head, l, k, 6, rq0, v, 6) + row(layer, head + 1, l, k, 6, rq1, v, 6);
                msb += 3 * r8(k);
                value += 3 * r8(v);
                lsb += (rq0 + rq1) * r8(k);
                requant += rq0 + rq1;
            } else { // two 8-bit rows
                text +=
                    row(layer, head, l, k, 8, rq0, v, 8) + row(layer, head + 1, l, k, 8, rq1, v, 8);
                msb += 2 * 2 * r8(k);
                value += 2 * 2 * r8(v);
                lsb += (rq0 + rq1) * r8(k);
                requant += rq0 + rq1;
            }
        }
    }
    Counts c = replay(text + config_line(), true);
    EXPECT_EQ(c.msb, msb);
    EXPECT_EQ(c.lsb, lsb);
    EXPECT_EQ(c.value, value);
    EXPECT_EQ(c.requant, requant);
    EXPECT_EQ(c.rows, 72u);
}
