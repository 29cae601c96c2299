// Streamed replay (issue 19): the reader and the engine run in bounded memory, a bounded run
// stops where it was told, and several configurations in one pass give each one's own results.
#include <gtest/gtest.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "spksim/config.h"
#include "spksim/cycle.h"
#include "spksim/trace.h"
#include "trace_helpers.h"

using namespace cycle_test;

namespace {

// A trace of n rows mixing widths, requant and token top-k rows over several layers.
std::string mixed_trace(int n) {
    std::string t = header();
    for (int i = 0; i < n; i++) {
        int layer = i / 48, head = i % 48, l = 64 + (i * 37) % 900, k = 1 + (i * 53) % l;
        int bits[] = {6, 6, 8, 4, -1, 6};
        int b = bits[i % 6];
        t += row(layer, head, l, k, b, i % 7 == 0, k / 3, b == -1 ? -1 : b, i % 97 == 5, k / 2);
    }
    return t + config_line();
}

std::string tool() {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return "spk-sim";
    std::string self(buf, (size_t)n);
    return self.substr(0, self.rfind('/')) + "/spk-sim";
}

struct Result {
    int status;
    std::string output;
};

Result sh(const std::string &cmd) {
    FILE *p = popen(("timeout 20 " + cmd + " 2>&1").c_str(), "r");
    Result r{-1, ""};
    if (!p) return r;
    char buf[512];
    while (fgets(buf, sizeof buf, p)) r.output += buf;
    int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    return r;
}

std::string slurp(const std::string &path) {
    std::string s;
    FILE *f = fopen(path.c_str(), "rb");
    if (!f) return s;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    fclose(f);
    return s;
}

// The JSON lines of one record without the wall-clock keys and without indentation, so a record
// inside the multi-configuration array compares with a single run's.
std::vector<std::string> stable_lines(const std::string &json) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < json.size()) {
        size_t e = json.find('\n', i);
        if (e == std::string::npos) e = json.size();
        std::string l = json.substr(i, e - i);
        l.erase(0, l.find_first_not_of(' '));
        if (l.find("sim_wall_seconds") == std::string::npos &&
            l.find("sim_cycles_per_second") == std::string::npos)
            out.push_back(l);
        i = e + 1;
    }
    return out;
}

TEST(StreamReader, LongTraceReadsAcrossWindowsLikeOneBuffer) {
    // ~300 KB: lines cross the reader's 64 KiB reads and its window moves several times.
    std::string text = mixed_trace(5000);
    TempFile f(text);
    ASSERT_TRUE(f.ok());
    spk_trace a, b;
    char err[256] = "";
    ASSERT_EQ(spk_trace_load(f.path(), &a, err, sizeof err), SPK_CYCLE_OK) << err;
    ASSERT_EQ(spk_trace_parse(text.data(), text.size(), "mem", &b, err, sizeof err), SPK_CYCLE_OK)
        << err;
    ASSERT_EQ(a.n, 5000u);
    ASSERT_EQ(b.n, a.n);
    EXPECT_EQ(a.skipped, 1u);
    for (size_t i = 0; i < a.n; i++) {
        EXPECT_EQ(a.rows[i].line, i + 2);
        EXPECT_EQ(a.rows[i].key_fetch, b.rows[i].key_fetch);
        EXPECT_EQ(a.rows[i].key_bits, b.rows[i].key_bits);
        EXPECT_EQ(a.rows[i].layer, b.rows[i].layer);
    }
    spk_trace_free(&a);
    spk_trace_free(&b);
}

TEST(StreamReader, NulByteAndOverlongLineNameTheirLine) {
    std::string good = row(0, 0, 8, 8, 8, false, 8, 8);
    std::string text = std::string(header()) + good + good + "0,0,\0" + good;
    text[text.size() - good.size() - 1] = '\0';
    spk_trace t;
    char err[256] = "";
    EXPECT_EQ(spk_trace_parse(text.data(), text.size(), "nul", &t, err, sizeof err),
              SPK_CYCLE_E_FORMAT);
    EXPECT_NE(std::string(err).find("nul: line 4: the file contains a NUL byte"), std::string::npos)
        << err;
    // A line that does not fit the reader's window is refused instead of growing it.
    std::string huge = std::string(header()) + std::string((size_t)2 << 20, 'x') + "\n";
    err[0] = '\0';
    EXPECT_EQ(spk_trace_parse(huge.data(), huge.size(), "big", &t, err, sizeof err),
              SPK_CYCLE_E_FORMAT);
    EXPECT_NE(std::string(err).find("big: line 2: line longer than"), std::string::npos) << err;
}

// Every descriptor retires once, in push order, and the engine's window stays at the pipeline's
// occupancy however many descriptors go through it.
TEST(StreamEngine, WindowStaysBoundedAndRetiresInOrder) {
    // per8-like layers (fused 6-bit pairs, V a fifth of K, a token top-k per layer): the model
    // holds a bounded number of requests in flight. (A trace whose V side is slower than its
    // front end queues requests for V buffer space without bound: docs/simulator.md.)
    std::string text = header();
    for (int layer = 0; layer < 12; layer++) {
        for (int head = 0; head < 12; head++) {
            int k = 500 + (layer * 41 + head * 13) % 494;
            text += row(layer, head, 993, k, head % 4 == 3 ? 8 : 6, head == 5, k / 5,
                        head % 4 == 3 ? 8 : 6, head == 11, k / 2);
        }
    }
    spk_trace t;
    char err[256] = "";
    ASSERT_EQ(spk_trace_parse(text.data(), text.size(), "mixed", &t, err, sizeof err), SPK_CYCLE_OK)
        << err;
    spk_trace_options o = {1, 0, 16, 1};
    spk_cycle_request *q = nullptr;
    size_t n = 0;
    ASSERT_EQ(spk_trace_to_requests(&t, &o, &q, &n, err, sizeof err), SPK_CYCLE_OK);
    spk_trace_free(&t);
    spk_config cfg;
    ASSERT_EQ(spk_config_preset("full", &cfg), 0);
    struct Ctx {
        uint64_t next = 0;
        bool in_order = true, sane = true;
    } ctx;
    auto on_retire = [](void *c, uint64_t index, const spk_cycle_request *,
                        const spk_cycle_timing *tm) {
        Ctx *x = static_cast<Ctx *>(c);
        if (index != x->next++) x->in_order = false;
        if (!(tm->done >= tm->admitted)) x->sane = false;
    };
    spk_cycle_engine *e = nullptr;
    ASSERT_EQ(spk_cycle_engine_new(&cfg, on_retire, &ctx, &e), SPK_CYCLE_OK);
    const int reps = 300; // 300 x the trace: ~32k descriptors
    size_t max_window = 0;
    for (int r = 0; r < reps; r++) {
        for (size_t i = 0; i < n; i++) {
            ASSERT_EQ(spk_cycle_engine_push(e, &q[i]), SPK_CYCLE_OK);
            if (spk_cycle_engine_window(e) > max_window) max_window = spk_cycle_engine_window(e);
        }
    }
    spk_cycle_stats s;
    ASSERT_EQ(spk_cycle_engine_finish(e, &s), SPK_CYCLE_OK);
    spk_cycle_engine_free(e);
    EXPECT_EQ(ctx.next, (uint64_t)reps * n);
    EXPECT_TRUE(ctx.in_order);
    EXPECT_TRUE(ctx.sane);
    EXPECT_EQ(s.descriptors, (uint64_t)reps * n);
    EXPECT_LT(max_window, 1024u) << "the window grew with the input";
    // The same descriptors in one array through spk_cycle_run give the same totals.
    std::vector<spk_cycle_request> all;
    for (int r = 0; r < reps; r++) all.insert(all.end(), q, q + n);
    spk_cycle_stats ref;
    ASSERT_EQ(spk_cycle_run(&cfg, all.data(), all.size(), &ref, nullptr, nullptr, nullptr),
              SPK_CYCLE_OK);
    EXPECT_EQ(s.cycles, ref.cycles);
    EXPECT_EQ(s.dram_bytes, ref.dram_bytes);
    EXPECT_EQ(s.busy_topk, ref.busy_topk);
    free(q);
}

TEST(StreamCli, MaxRowsEqualsTheTruncatedTrace) {
    std::string text = mixed_trace(600);
    TempFile whole(text);
    // The first 250 rows: header + 250 lines.
    size_t pos = 0;
    for (int i = 0; i < 251; i++) pos = text.find('\n', pos) + 1;
    TempFile head(text.substr(0, pos));
    ASSERT_TRUE(whole.ok() && head.ok());
    std::string d = ::testing::TempDir(), a = d + "/h19-a.json", b = d + "/h19-b.json";
    Result r1 =
        sh(tool() + " --quiet --compat --max-rows 250 --trace " + whole.path() + " --json " + a);
    Result r2 = sh(tool() + " --quiet --compat --trace " + head.path() + " --json " + b);
    ASSERT_EQ(r1.status, 0) << r1.output;
    ASSERT_EQ(r2.status, 0) << r2.output;
    std::string ja = slurp(a), jb = slurp(b);
    EXPECT_NE(ja.find("\"stopped_by\": \"max-rows\""), std::string::npos) << ja;
    EXPECT_NE(ja.find("\"trace_rows_read\": 250"), std::string::npos) << ja;
    EXPECT_EQ(jb.find("stopped_by"), std::string::npos) << "a whole trace's record changed";
    // Everything but the trace name and the bound's keys agrees.
    std::vector<std::string> la = stable_lines(ja), lb = stable_lines(jb);
    for (auto *v : {&la, &lb}) {
        std::vector<std::string> keep;
        for (auto &l : *v) {
            if (l.find("\"trace") == std::string::npos && l.find("stopped_by") == std::string::npos)
                keep.push_back(l);
        }
        *v = keep;
    }
    EXPECT_EQ(la, lb);
    std::remove(a.c_str());
    std::remove(b.c_str());
}

TEST(StreamCli, MaxCyclesStopsWithAMessage) {
    TempFile f(mixed_trace(3000));
    ASSERT_TRUE(f.ok());
    Result r = sh(tool() + " --compat --max-cycles 20000 --trace " + f.path() + " --json -");
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("stopped by --max-cycles after"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("\"stopped_by\": \"max-cycles\""), std::string::npos);
    Result bad = sh(tool() + " --max-cycles 0 --trace " + std::string(f.path()));
    EXPECT_EQ(bad.status, 2);
    EXPECT_NE(bad.output.find("--max-cycles: 0 is below 1"), std::string::npos) << bad.output;
}

TEST(StreamCli, StdinAndDevicesStream) {
    std::string text = mixed_trace(200);
    TempFile f(text);
    ASSERT_TRUE(f.ok());
    Result file = sh(tool() + " --quiet --compat --trace " + f.path() + " --json -");
    Result pipe = sh("cat " + std::string(f.path()) + " | " + tool() +
                     " --quiet --compat --trace - --json -");
    ASSERT_EQ(file.status, 0) << file.output;
    ASSERT_EQ(pipe.status, 0) << pipe.output;
    std::vector<std::string> a = stable_lines(file.output), b = stable_lines(pipe.output);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); i++) {
        if (a[i].find("\"trace\"") == std::string::npos) {
            EXPECT_EQ(a[i], b[i]);
        }
    }
    // /dev/zero is refused at once (it is not a trace), no longer read without bound.
    Result z = sh(tool() + " --quiet --trace /dev/zero");
    EXPECT_EQ(z.status, 1);
    EXPECT_NE(z.output.find("/dev/zero: line 1: the file contains a NUL byte"), std::string::npos)
        << z.output;
}

TEST(StreamCli, SeveralConfigsInOnePassMatchSingleRuns) {
    TempFile f(mixed_trace(400));
    ASSERT_TRUE(f.ok());
    std::string d = ::testing::TempDir(), multi = d + "/h19-multi.json";
    const char *cfgs[] = {"full", "eighth", "rtl-engine"};
    Result r = sh(tool() +
                  " --quiet --compat --config full --config eighth --config rtl-engine "
                  "--trace " +
                  f.path() + " --json " + multi + " --csv " + d + "/h19-rows.csv");
    ASSERT_EQ(r.status, 0) << r.output;
    std::vector<std::string> all = stable_lines(slurp(multi));
    ASSERT_GT(all.size(), 2u);
    EXPECT_EQ(all.front(), "[");
    std::string joined;
    for (auto &l : all) joined += l + "\n";
    for (int k = 0; k < 3; k++) {
        std::string one = d + "/h19-one.json", rows = d + "/h19-one.csv";
        Result s = sh(tool() + " --quiet --compat --config " + cfgs[k] + " --trace " + f.path() +
                      " --json " + one + " --csv " + rows);
        ASSERT_EQ(s.status, 0) << s.output;
        std::string rec;
        for (auto &l : stable_lines(slurp(one))) rec += l + "\n";
        rec.pop_back(); // the record's closing brace: a ',' may follow it in the array
        EXPECT_NE(joined.find(rec), std::string::npos) << cfgs[k] << " record differs";
        std::string kth = d + "/h19-rows." + std::to_string(k) + ".csv";
        EXPECT_EQ(slurp(kth), slurp(rows)) << cfgs[k];
        EXPECT_FALSE(slurp(rows).empty());
        std::remove(kth.c_str());
        std::remove(one.c_str());
        std::remove(rows.c_str());
    }
    std::remove(multi.c_str());
}

} // namespace

// A long run shows progress (issue 17): rows, descriptors in flight, simulated cycles, the share
// of the file and an ETA; $SPK_PROGRESS_MS=0 prints at every check (every 1024 rows) so that a
// short trace shows it, and --quiet silences it.
TEST(StreamCli, LongRunsPrintProgress) {
    TempFile f(mixed_trace(3000));
    ASSERT_TRUE(f.ok());
    Result every = sh("env SPK_PROGRESS_MS=0 " + tool() + " --compat --trace " + f.path());
    ASSERT_EQ(every.status, 0) << every.output;
    EXPECT_NE(every.output.find("spk-sim: 1024 rows, "), std::string::npos) << every.output;
    EXPECT_NE(every.output.find("spk-sim: 2048 rows, "), std::string::npos) << every.output;
    EXPECT_NE(every.output.find("% of the file, ETA "), std::string::npos) << every.output;
    EXPECT_NE(every.output.find("spk-sim: 3000 rows done"), std::string::npos) << every.output;
    Result quiet = sh("env SPK_PROGRESS_MS=0 " + tool() + " --quiet --compat --trace " + f.path());
    ASSERT_EQ(quiet.status, 0) << quiet.output;
    EXPECT_EQ(quiet.output.find("rows, "), std::string::npos) << quiet.output;
    Result usual = sh(tool() + " --compat --trace " + std::string(f.path()));
    ASSERT_EQ(usual.status, 0) << usual.output;
    EXPECT_EQ(usual.output.find("rows, "), std::string::npos) << "a short run is quiet";
}
