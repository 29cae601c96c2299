// The host side of the board (docs/fpga.md, "Host side"): the bridge protocol's codec, the link
// against the fault-injecting pty peer spk-fake-board (every fault ends in a clear error within
// its timeout, never a hang), spk-fpga selftest and the backend suite on fpga:PTY. The last two
// run against spk-fake-board (the golden datapath behind the protocol) and against the Verilated
// board spk-board-sim when rtl/board.mk built it.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "fpga_link.h"
#include "spk/board_map.h"
#include "spk/spk.h"

#ifndef SPK_TEST_BIN_DIR
#define SPK_TEST_BIN_DIR "build/bin"
#endif
#ifndef SPK_TEST_FW_DIR
#define SPK_TEST_FW_DIR "build/firmware"
#endif

namespace {

const std::string bin_dir = SPK_TEST_BIN_DIR;

bool exists(const std::string &p) {
    return access(p.c_str(), X_OK) == 0;
}

// A peer process on a pty: started with its arguments, its pty read from the first line it
// prints ("NAME: pty /dev/pts/N"), stopped with SIGTERM. The test holds the pty's slave open
// (never reading it) so that a peer that ends when its last opener closes (spk-board-sim)
// serves the many opens of a suite.
class Peer {
  public:
    explicit Peer(const std::vector<std::string> &argv) {
        int fds[2];
        if (pipe(fds)) return;
        pid_ = fork();
        if (pid_ == 0) {
            dup2(fds[1], 1);
            close(fds[0]);
            std::vector<char *> a;
            for (const std::string &s : argv) a.push_back(const_cast<char *>(s.c_str()));
            a.push_back(nullptr);
            execv(a[0], a.data());
            _exit(127);
        }
        close(fds[1]);
        FILE *f = fdopen(fds[0], "r");
        char line[512] = "";
        if (f && fgets(line, sizeof(line), f)) {
            const char *p = strstr(line, "pty ");
            if (p) {
                pty_ = p + 4;
                while (!pty_.empty() && (pty_.back() == '\n' || pty_.back() == '\r'))
                    pty_.pop_back();
            }
        }
        if (f) fclose(f);
        if (!pty_.empty()) hold_ = open(pty_.c_str(), O_RDWR | O_NOCTTY);
    }
    ~Peer() {
        if (hold_ >= 0) close(hold_);
        if (pid_ > 0) {
            kill(pid_, SIGTERM);
            int st;
            waitpid(pid_, &st, 0);
        }
    }
    const std::string &pty() const { return pty_; }

  private:
    pid_t pid_ = -1;
    int hold_ = -1;
    std::string pty_;
};

Peer fake(const std::string &fault = "") {
    std::vector<std::string> a = {bin_dir + "/spk-fake-board"};
    if (!fault.empty()) a.insert(a.end(), {"--fault", fault});
    return Peer(a);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

spk_link *open_link(const std::string &port, uint32_t timeout_ms = 300, uint32_t retries = 2) {
    char err[400] = "";
    const spk_link_options o = {port.c_str(), 0, timeout_ms, retries, 40};
    spk_link *l = spk_link_open(&o, err, sizeof(err));
    EXPECT_NE(l, nullptr) << err;
    return l;
}

// Output of a command and its exit code.
int run(const std::string &cmd, std::string *out) {
    FILE *p = popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return -1;
    char buf[4096];
    size_t n;
    out->clear();
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out->append(buf, n);
    const int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(Codec, CrcKnownAnswer) {
    const char *check = "123456789";
    EXPECT_EQ(spk_link_crc16(0xFFFF, reinterpret_cast<const uint8_t *>(check), 9), 0x29B1);
    EXPECT_EQ(spk_link_crc16(0xFFFF, reinterpret_cast<const uint8_t *>(check), 9),
              SPK_BOARD_CRC_CHECK);
    EXPECT_EQ(spk_link_crc16(0xFFFF, nullptr, 0), 0xFFFF);
    // split anywhere, the same CRC
    const uint16_t part = spk_link_crc16(0xFFFF, reinterpret_cast<const uint8_t *>(check), 4);
    EXPECT_EQ(spk_link_crc16(part, reinterpret_cast<const uint8_t *>(check) + 4, 5), 0x29B1);
}

TEST(Codec, RequestsAreLiteXFramesWithACrc) {
    uint8_t buf[SPK_LINK_MAX_FRAME];
    const uint32_t data[2] = {0x11223344u, 0xA5A5A5A5u};
    const size_t n = spk_link_encode(buf, SPK_LINK_CMD_WRITE, 2, 0x4000, data);
    ASSERT_EQ(n, 6u + 8u + 2u);
    const uint8_t head[] = {0x01, 0x02, 0x00, 0x00, 0x40, 0x00, 0x11, 0x22, 0x33, 0x44};
    EXPECT_EQ(std::memcmp(buf, head, sizeof(head)), 0) << "cmd, len, big-endian address, data";
    const uint16_t crc = spk_link_crc16(0xFFFF, buf, n - 2);
    EXPECT_EQ(buf[n - 2], crc >> 8);
    EXPECT_EQ(buf[n - 1], crc & 0xff);
    spk_link_request rq;
    size_t used = 0;
    for (size_t k = 0; k < n; k++)
        EXPECT_EQ(spk_link_decode_request(buf, k, &rq, &used), SPK_LINK_NEED) << k << " bytes";
    ASSERT_EQ(spk_link_decode_request(buf, n, &rq, &used), SPK_LINK_FRAME);
    EXPECT_EQ(used, n);
    EXPECT_EQ(rq.cmd, SPK_LINK_CMD_WRITE);
    EXPECT_EQ(rq.word_addr, 0x4000u);
    EXPECT_EQ(rq.data[1], 0xA5A5A5A5u);
    buf[7] ^= 1;
    EXPECT_EQ(spk_link_decode_request(buf, n, &rq, &used), SPK_LINK_BAD_CRC);
    EXPECT_EQ(spk_link_encode(buf, SPK_LINK_CMD_READ, 0, 0, nullptr), 0u) << "len 0";
    EXPECT_EQ(spk_link_encode(buf, 0x07, 1, 0, nullptr), 0u) << "unknown command";
    EXPECT_EQ(spk_link_encode(buf, SPK_LINK_CMD_READ, 1, 0, nullptr), 8u) << "reads carry no data";
}

TEST(Codec, ResponsesAreDecodedOnlyWhenCompleteAndIntact) {
    uint8_t buf[SPK_LINK_MAX_FRAME];
    const uint32_t data[3] = {1, 0xdeadbeefu, 3};
    const size_t n = spk_link_encode_response(buf, SPK_LINK_ST_OK, 3, data);
    ASSERT_EQ(n, 1u + 12u + 2u);
    uint8_t st = 0xff;
    uint32_t got[3] = {};
    size_t used = 0;
    EXPECT_EQ(spk_link_decode_response(buf, n - 1, SPK_LINK_CMD_READ, 3, &st, got, &used),
              SPK_LINK_NEED);
    EXPECT_EQ(used, n) << "the size is known from the status byte on";
    ASSERT_EQ(spk_link_decode_response(buf, n, SPK_LINK_CMD_READ, 3, &st, got, &used),
              SPK_LINK_FRAME);
    EXPECT_EQ(st, SPK_LINK_ST_OK);
    EXPECT_EQ(got[1], 0xdeadbeefu);
    buf[3] ^= 0x80;
    EXPECT_EQ(spk_link_decode_response(buf, n, SPK_LINK_CMD_READ, 3, &st, got, &used),
              SPK_LINK_BAD_CRC);
    // an error status carries no data, even for a read
    const size_t e = spk_link_encode_response(buf, SPK_LINK_ST_BUS, 3, nullptr);
    EXPECT_EQ(e, 3u);
    EXPECT_EQ(spk_link_decode_response(buf, e, SPK_LINK_CMD_READ, 3, &st, got, &used),
              SPK_LINK_FRAME);
    EXPECT_EQ(st, SPK_LINK_ST_BUS);
    buf[0] = 0x42;
    EXPECT_EQ(spk_link_decode_response(buf, 1, SPK_LINK_CMD_WRITE, 1, &st, got, &used),
              SPK_LINK_GARBAGE);
}

TEST(Link, BadPortsAreRefusedNamingThem) {
    char err[400];
    spk_link_options o = {"/nonexistent/tty", 0, 100, 0, 0};
    EXPECT_EQ(spk_link_open(&o, err, sizeof(err)), nullptr);
    EXPECT_NE(std::string(err).find("/nonexistent/tty: cannot open"), std::string::npos) << err;
    o.port = "/dev/null";
    EXPECT_EQ(spk_link_open(&o, err, sizeof(err)), nullptr);
    EXPECT_NE(std::string(err).find("not a tty"), std::string::npos) << err;
    o.port = "socket://nohostport";
    EXPECT_EQ(spk_link_open(&o, err, sizeof(err)), nullptr);
    EXPECT_NE(std::string(err).find("socket://HOST:PORT"), std::string::npos) << err;
    Peer p = fake();
    ASSERT_FALSE(p.pty().empty());
    o.port = p.pty().c_str();
    o.baud = 12345;
    EXPECT_EQ(spk_link_open(&o, err, sizeof(err)), nullptr);
    EXPECT_NE(std::string(err).find("baud 12345 not supported"), std::string::npos) << err;
}

TEST(Link, RegistersAndMemoryAndTheBytesMoved) {
    Peer p = fake();
    ASSERT_FALSE(p.pty().empty());
    spk_link *l = open_link(p.pty());
    ASSERT_NE(l, nullptr);
    uint32_t id = 0, v = 0;
    ASSERT_EQ(spk_link_read32(l, SPK_BOARD_REG_BOARD_ID, &id), 0) << spk_link_error(l);
    EXPECT_EQ(id, SPK_BOARD_ID_MAGIC);
    const uint32_t s = 0x5a5aa5a5u;
    ASSERT_EQ(spk_link_write(l, SPK_BOARD_REG_SCRATCH, &s, 1, 0), 0) << spk_link_error(l);
    ASSERT_EQ(spk_link_read32(l, SPK_BOARD_REG_SCRATCH, &v), 0);
    EXPECT_EQ(v, s);
    // 600 words: three frames each way (255 + 255 + 90)
    std::vector<uint32_t> w(600), r(600);
    for (size_t i = 0; i < w.size(); i++) w[i] = uint32_t(i * 2654435761u);
    spk_link_counters before;
    spk_link_get_stats(l, &before);
    ASSERT_EQ(spk_link_write(l, SPK_BOARD_WIN_MEM_BASE + 64, w.data(), 600, 0), 0);
    ASSERT_EQ(spk_link_read(l, SPK_BOARD_WIN_MEM_BASE + 64, r.data(), 600), 0);
    EXPECT_EQ(w, r);
    spk_link_counters after;
    spk_link_get_stats(l, &after);
    EXPECT_EQ(after.frames - before.frames, 6u);
    EXPECT_EQ(after.tx_bytes - before.tx_bytes, 3 * 8 + 600 * 4 + 3 * 8) << "requests";
    EXPECT_EQ(after.rx_bytes - before.rx_bytes, 3 * 3 + 3 * 3 + 600 * 4) << "responses";
    // the board refuses what is not mapped, naming the frame
    EXPECT_EQ(spk_link_read32(l, 0x00F00000u, &v), -1);
    EXPECT_EQ(spk_link_failure(l), SPK_LINK_E_IO);
    EXPECT_NE(std::string(spk_link_error(l)).find("bus error"), std::string::npos)
        << spk_link_error(l);
    EXPECT_NE(std::string(spk_link_error(l)).find("READ addr 0x00f00000 len 1"), std::string::npos)
        << spk_link_error(l);
    spk_link_close(l);
}

TEST(Link, NaksAndCorruptedReadResponsesAreRetried) {
    for (const char *fault : {"nak:2", "flip:2", "garbage:2"}) {
        SCOPED_TRACE(fault);
        Peer p = fake(fault);
        ASSERT_FALSE(p.pty().empty());
        spk_link *l = open_link(p.pty());
        ASSERT_NE(l, nullptr);
        uint32_t v[4] = {};
        for (int i = 0; i < 4; i++)
            ASSERT_EQ(spk_link_read(l, SPK_BOARD_REG_BOARD_ID, v, 4), 0) << spk_link_error(l);
        EXPECT_EQ(v[0], SPK_BOARD_ID_MAGIC);
        spk_link_counters s;
        spk_link_get_stats(l, &s);
        EXPECT_GE(s.retries, 1u);
        spk_link_close(l);
    }
}

// A lost response to ENG_CMD is not sent again: the board may have started the operation.
TEST(Link, ALostResponseToAStartingWriteIsAnErrorNotARetry) {
    Peer p = fake("garbage:1");
    ASSERT_FALSE(p.pty().empty());
    spk_link *l = open_link(p.pty());
    ASSERT_NE(l, nullptr);
    const uint32_t go = 0;
    EXPECT_EQ(spk_link_write(l, SPK_BOARD_ENG_ENG_CMD, &go, 1, 1), -1);
    EXPECT_EQ(spk_link_failure(l), SPK_LINK_E_IO);
    const std::string e = spk_link_error(l);
    EXPECT_NE(e.find(p.pty()), std::string::npos) << e;
    EXPECT_NE(e.find("not retried"), std::string::npos) << e;
    EXPECT_NE(e.find("WRITE addr 0x00001100 len 1"), std::string::npos) << e;
    spk_link_close(l);
}

// A broken link gives a clear error within its bound, never a hang.
TEST(Link, ABrokenLinkFailsWithinTheTimeout) {
    struct Case {
        const char *fault;
        spk_link_fail kind;
        const char *says;
    } cases[] = {{"close:2", SPK_LINK_E_IO, "peer closed"},
                 {"stall:2", SPK_LINK_E_TIMEOUT, "no complete response within 300 ms"}};
    for (const Case &c : cases) {
        SCOPED_TRACE(c.fault);
        Peer p = fake(c.fault);
        ASSERT_FALSE(p.pty().empty());
        spk_link *l = open_link(p.pty(), 300, 2);
        ASSERT_NE(l, nullptr);
        uint32_t v = 0;
        ASSERT_EQ(spk_link_read32(l, SPK_BOARD_REG_BOARD_ID, &v), 0);
        const auto t0 = std::chrono::steady_clock::now();
        EXPECT_EQ(spk_link_read32(l, SPK_BOARD_REG_SCRATCH, &v), -1);
        // at most: the attempt, then a resync (quiet time + BOARD_ID) that fails in turn
        EXPECT_LT(seconds_since(t0), 2.0);
        EXPECT_EQ(spk_link_failure(l), c.kind) << spk_link_error(l);
        const std::string e = spk_link_error(l);
        EXPECT_NE(e.find(c.says), std::string::npos) << e;
        EXPECT_NE(e.find(p.pty()), std::string::npos) << e;
        EXPECT_NE(e.find("READ addr 0x00000"), std::string::npos) << e;
        spk_link_close(l);
    }
}

spk_device *open_fpga(const std::string &name, spk_status *st) {
    spk_device *dev = nullptr;
    const std::string fw = std::string(SPK_TEST_FW_DIR) + "/spk-fw.elf";
    spk_device_options opt = {sizeof(opt), fw.c_str(), 8u << 20, nullptr, nullptr};
    *st = spk_device_open(name.c_str(), &opt, &dev);
    return dev;
}

TEST(Backend, OpenChecksTheBoardAndNamesWhatIsWrong) {
    {
        Peer p = fake("wrongid");
        ASSERT_FALSE(p.pty().empty());
        spk_status st;
        EXPECT_EQ(open_fpga("fpga:" + p.pty() + ",timeout_ms=300", &st), nullptr);
        EXPECT_EQ(st, SPK_E_IO);
        const std::string e = spk_last_error();
        EXPECT_NE(e.find("BOARD_ID reads 0x12345678"), std::string::npos) << e;
    }
    {
        Peer p = fake("stall:1");
        ASSERT_FALSE(p.pty().empty());
        spk_status st;
        const auto t0 = std::chrono::steady_clock::now();
        EXPECT_EQ(open_fpga("fpga:" + p.pty() + ",timeout_ms=200", &st), nullptr);
        EXPECT_LT(seconds_since(t0), 2.0);
        EXPECT_EQ(st, SPK_E_TIMEOUT) << spk_last_error();
        EXPECT_NE(std::string(spk_last_error()).find(p.pty()), std::string::npos);
    }
    {
        Peer p = fake();
        ASSERT_FALSE(p.pty().empty());
        spk_status st;
        spk_device *dev = open_fpga("fpga:" + p.pty(), &st);
        ASSERT_NE(dev, nullptr) << spk_last_error();
        spk_device_info info = {};
        info.size = sizeof(info);
        ASSERT_EQ(spk_device_query(dev, &info), SPK_OK);
        EXPECT_EQ(info.max_keys, SPK_BOARD_ENGINE_NMAX) << "PARAM_MAX_KEYS is the board's";
        EXPECT_EQ(info.max_head_dim, SPK_BOARD_ENGINE_DMAX);
        // the link's counters through the public API: the open and the query crossed the link
        spk_link_stats ls = {};
        EXPECT_EQ(spk_device_link_stats(dev, &ls), SPK_E_ARG) << "size not set";
        ls.size = sizeof(ls);
        ASSERT_EQ(spk_device_link_stats(dev, &ls), SPK_OK) << spk_last_error();
        EXPECT_GT(ls.frames, 0u);
        EXPECT_GT(ls.tx_bytes, ls.frames) << "every frame is several bytes";
        EXPECT_GT(ls.rx_bytes, 0u);
        EXPECT_EQ(ls.requests, 0u) << "no head request yet";
        spk_device_close(dev);
    }
    {
        // a device without a link says so
        spk_device *dev = nullptr;
        const std::string fw = std::string(SPK_TEST_FW_DIR) + "/spk-fw.elf";
        spk_device_options opt = {sizeof(opt), fw.c_str(), 8u << 20, nullptr, nullptr};
        ASSERT_EQ(spk_device_open("model", &opt, &dev), SPK_OK) << spk_last_error();
        spk_link_stats ls = {};
        ls.size = sizeof(ls);
        EXPECT_EQ(spk_device_link_stats(dev, &ls), SPK_E_BACKEND);
        EXPECT_NE(std::string(spk_last_error()).find("has no host link"), std::string::npos);
        spk_device_close(dev);
    }
}

// A board that stalls in the middle of a layer: the fence wait ends with the link's error
// (port, frame) within the link's timeout, and the device refuses nothing else silently.
TEST(Backend, AStalledBoardMidLayerIsATimeoutNamingThePort) {
    for (const char *fault : {"busy:12", "stall:40", "close:40"}) {
        SCOPED_TRACE(fault);
        Peer p = fake(fault);
        ASSERT_FALSE(p.pty().empty());
        spk_status st;
        spk_device *dev = open_fpga("fpga:" + p.pty() + ",timeout_ms=300", &st);
        ASSERT_NE(dev, nullptr) << spk_last_error();
        spk_attn_config cfg = {sizeof(cfg), 1, 2, 1, 16, 32, 6, 4, 30000, 65536};
        spk_attn *attn = nullptr;
        ASSERT_EQ(spk_attn_create(dev, &cfg, &attn), SPK_OK) << spk_last_error();
        std::vector<float> q(2 * 4 * 16, 0.25f), k(8 * 16, 0.5f), v(8 * 16, -0.5f);
        spk_layer_submit sub = {};
        sub.size = sizeof(sub);
        sub.n_queries = 4;
        sub.n_new_tokens = 8;
        sub.q = q.data(), sub.k_new = k.data(), sub.v_new = v.data();
        spk_fence *fence = nullptr;
        const auto t0 = std::chrono::steady_clock::now();
        ASSERT_EQ(spk_attn_submit(attn, &sub, &fence), SPK_OK) << spk_last_error();
        const spk_status w = spk_fence_wait(fence, 60000);
        EXPECT_LT(seconds_since(t0), 5.0);
        const std::string e = spk_last_error();
        EXPECT_TRUE(w == SPK_E_TIMEOUT || w == SPK_E_IO) << spk_status_str(w) << ": " << e;
        // a stall on ENG_CMD's response is an I/O error (not retried), elsewhere a timeout
        if (std::string(fault).rfind("close", 0) == 0) {
            EXPECT_EQ(w, SPK_E_IO) << e;
        }
        if (std::string(fault).rfind("busy", 0) == 0) {
            EXPECT_EQ(w, SPK_E_TIMEOUT) << e;
            EXPECT_NE(e.find("engine still busy after 300 ms"), std::string::npos) << e;
        }
        EXPECT_NE(e.find("fpga link " + p.pty()), std::string::npos) << e;
        EXPECT_NE(e.find("last frame"), std::string::npos) << e;
        if (std::string(fault).rfind("stall", 0) == 0) {
            EXPECT_NE(e.find("then resync: no answer to BOARD_ID"), std::string::npos) << e;
        }
        // a second wait gives the whole message again (the fence keeps it, uncut)
        EXPECT_EQ(spk_fence_wait(fence, 1000), w);
        EXPECT_EQ(std::string(spk_last_error()), e);
        std::printf("[ NOTE     ] %s: %s after %.2f s: %s\n", fault, spk_status_str(w),
                    seconds_since(t0), e.c_str());
        spk_fence_free(fence);
        spk_attn_destroy(attn);
        spk_device_close(dev);
    }
}

// The boards the end-to-end tests run on: the C peer always, the Verilated board when built.
std::vector<std::vector<std::string>> boards() {
    std::vector<std::vector<std::string>> b = {{bin_dir + "/spk-fake-board"}};
    if (exists(bin_dir + "/spk-board-sim")) b.push_back({bin_dir + "/spk-board-sim"});
    return b;
}

TEST(Tool, SelftestPassesBitForBitOnEveryBoard) {
    if (!exists(bin_dir + "/spk-board-sim"))
        std::printf("[ NOTE     ] spk-board-sim not built (rtl/board.mk, Verilator): the C peer "
                    "alone\n");
    for (const auto &argv : boards()) {
        SCOPED_TRACE(argv[0]);
        Peer p(argv);
        ASSERT_FALSE(p.pty().empty()) << "no pty line from " << argv[0];
        std::string out;
        const int rc =
            run(bin_dir + "/spk-fpga selftest --seed 2 --requests 32 --port " + p.pty(), &out);
        EXPECT_EQ(rc, 0) << out;
        EXPECT_NE(out.find("spk-fpga selftest: PASS 32 head requests"), std::string::npos) << out;
        EXPECT_EQ(out.find("(0 with requantization)"), std::string::npos)
            << "seed 2 requantizes some requests: both paths are compared\n"
            << out;
        EXPECT_EQ(run(bin_dir + "/spk-fpga info --port " + p.pty(), &out), 0) << out;
        EXPECT_NE(out.find("board id       0x53504b42 (SPKB)"), std::string::npos) << out;
        EXPECT_EQ(run(bin_dir + "/spk-fpga memtest --bytes 8192 --port " + p.pty(), &out), 0)
            << out;
        EXPECT_NE(out.find("spk-fpga memtest: PASS"), std::string::npos) << out;
    }
    // a broken board: exit code 2 and the link's message in the verdict
    Peer p = fake("stall:30");
    ASSERT_FALSE(p.pty().empty());
    std::string out;
    EXPECT_EQ(run(bin_dir + "/spk-fpga selftest --timeout 200 --port " + p.pty(), &out), 2) << out;
    EXPECT_NE(out.find("spk-fpga selftest: FAIL request"), std::string::npos) << out;
    EXPECT_EQ(run(bin_dir + "/spk-fpga frobnicate --port " + p.pty(), &out), 2);
    EXPECT_NE(out.find("unknown command"), std::string::npos) << out;
}

// The backend suite of tests/driver on fpga:PTY (the tests that follow the capability
// predicates of tests/driver/backends.h), bit-identical to model.
TEST(Backend, TheBackendSuitePassesOnEveryBoard) {
    const std::string filter =
        "Attn.EveryBackendMatchesGoldenModelBitForBit:Attn.LastStepPolicyMatchesGoldenModel*:"
        "Attn.HungFirmwareGivesTimeoutsNotHangs:Device.EveryBackendOpensAndReadsInfoFromRegisters:"
        "Backends/AttnErrors.*";
    for (const auto &argv : boards()) {
        SCOPED_TRACE(argv[0]);
        Peer p(argv);
        ASSERT_FALSE(p.pty().empty());
        std::string out;
        const int rc = run("SPK_TEST_BACKENDS=fpga:" + p.pty() + " " + bin_dir +
                               "/test-driver --gtest_brief=1 --gtest_filter='" + filter + "'",
                           &out);
        EXPECT_EQ(rc, 0) << out;
        EXPECT_NE(out.find("[  PASSED  ]"), std::string::npos) << out;
        EXPECT_EQ(out.find("FAILED"), std::string::npos) << out;
    }
}

} // namespace
