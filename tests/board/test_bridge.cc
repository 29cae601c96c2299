// The board's UART bridge alone (rtl/fpga/spk_uart_bridge.v, Verilated as Vbridge with 4 clocks
// per bit and a 400-cycle receive timeout, rtl/board.mk): frames go in bit-serially on uart_rx,
// responses come back from uart_tx, and a C++ slave with a few cycles of latency stands for
// the bus (it records every access). The protocol is docs/fpga.md's; the constants come from the
// generated driver/include/spk/board_map.h.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "Vbridge.h"
#include "sim_uart.h"
#include "spk/board_map.h"
#include "verilated.h"

namespace {

constexpr unsigned kCpb = 4;       // -GCLKS_PER_BIT in rtl/board.mk
constexpr unsigned kTimeout = 400; // -GRX_TIMEOUT in rtl/board.mk

struct Access {
    bool we;
    uint16_t addr;
    uint32_t data;
};

struct Response {
    bool complete = false;
    uint8_t status = 0xFF;
    std::vector<uint32_t> words;
    bool crc_ok = false;
};

class Bridge : public ::testing::Test {
  protected:
    void SetUp() override {
        ctx_ = std::make_unique<VerilatedContext>();
        top_ = std::make_unique<Vbridge>(ctx_.get());
        top_->uart_rx = 1;
        top_->leds = 5;
        top_->bus_ack = 0;
        top_->rst = 1;
        for (int i = 0; i < 4; i++) tick();
        top_->rst = 0;
        tick();
    }
    void TearDown() override { top_->final(); }

    // one clock cycle: the UART line, the bus slave (ack `latency_` cycles after the request)
    void tick() {
        top_->uart_rx = static_cast<uint8_t>(drv_.level());
        top_->clk = 1;
        top_->eval();
        top_->clk = 0;
        top_->eval();
        uint8_t b;
        if (smp_.sample(top_->uart_tx, &b)) rx_.push_back(b);
        // the slave: the bridge holds bus_req until our ack, and drops it the cycle after
        if (top_->bus_ack) {
            top_->bus_ack = 0;
        } else if (top_->bus_req) {
            if (++wait_ > latency_) {
                wait_ = 0;
                uint16_t a = top_->bus_addr;
                if (top_->bus_we) {
                    mem_[a] = top_->bus_wdata;
                    log_.push_back({true, a, top_->bus_wdata});
                } else {
                    top_->bus_rdata = mem_.count(a) ? mem_[a] : 0xDEAD0000u | a;
                    log_.push_back({false, a, top_->bus_rdata});
                }
                top_->bus_ack = 1;
            }
        }
        cycles_++;
    }

    static void put32(std::vector<uint8_t> *f, uint32_t v) {
        for (int s = 24; s >= 0; s -= 8) f->push_back(static_cast<uint8_t>(v >> s));
    }
    static std::vector<uint8_t> frame(uint8_t cmd, uint8_t len, uint32_t word_addr,
                                      const std::vector<uint32_t> &data = {}) {
        std::vector<uint8_t> f = {cmd, len};
        put32(&f, word_addr);
        for (uint32_t w : data) put32(&f, w);
        uint16_t c = spkboard::crc16_ccitt(f.data(), f.size());
        f.push_back(static_cast<uint8_t>(c >> 8));
        f.push_back(static_cast<uint8_t>(c));
        return f;
    }
    void send(const std::vector<uint8_t> &bytes) {
        for (uint8_t b : bytes) drv_.push(b);
    }
    // wait for a response of `words` data words (if its status is OK), at most max_cycles
    Response receive(size_t words, uint64_t max_cycles = 200000) {
        Response r;
        rx_.clear();
        for (uint64_t i = 0; i < max_cycles; i++) {
            tick();
            if (rx_.empty()) continue;
            size_t need = 1 + (rx_[0] == SPK_BOARD_ST_OK ? 4 * words : 0) + 2;
            if (rx_.size() == need) {
                for (int k = 0; k < 40 * static_cast<int>(kCpb); k++) tick(); // nothing more
                if (rx_.size() != need) break;
                r.complete = true;
                r.status = rx_[0];
                for (size_t w = 0; w + 1 < need - 2; w += 4)
                    r.words.push_back(static_cast<uint32_t>(rx_[1 + w]) << 24 |
                                      static_cast<uint32_t>(rx_[2 + w]) << 16 |
                                      static_cast<uint32_t>(rx_[3 + w]) << 8 | rx_[4 + w]);
                r.crc_ok = spkboard::crc16_ccitt(rx_.data(), rx_.size()) == 0;
                return r;
            }
        }
        return r;
    }
    Response transact(uint8_t cmd, uint8_t len, uint32_t byte_addr,
                      const std::vector<uint32_t> &data = {}) {
        send(frame(cmd, len, byte_addr / 4, data));
        bool rd = cmd == SPK_BOARD_CMD_READ_INC || cmd == SPK_BOARD_CMD_READ_FIXED;
        Response r = receive(rd ? len : 0);
        EXPECT_TRUE(r.complete) << "no complete response to cmd " << int(cmd);
        EXPECT_TRUE(r.crc_ok) << "response CRC does not check";
        return r;
    }
    uint32_t read1(uint32_t byte_addr) {
        Response r = transact(SPK_BOARD_CMD_READ_INC, 1, byte_addr);
        EXPECT_EQ(r.status, SPK_BOARD_ST_OK);
        return r.words.empty() ? 0xFFFFFFFFu : r.words[0];
    }
    void idle(uint64_t n) {
        for (uint64_t i = 0; i < n; i++) tick();
    }

    std::unique_ptr<VerilatedContext> ctx_;
    std::unique_ptr<Vbridge> top_;
    spkboard::UartDriver drv_{kCpb};
    spkboard::UartSampler smp_{kCpb};
    std::vector<uint8_t> rx_;
    std::map<uint16_t, uint32_t> mem_;
    std::vector<Access> log_;
    unsigned latency_ = 2, wait_ = 0;
    uint64_t cycles_ = 0;
};

constexpr uint32_t kMem = SPK_BOARD_WIN_MEM_BASE;

TEST(BridgeCrc, KnownAnswer) {
    const uint8_t check[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
    EXPECT_EQ(spkboard::crc16_ccitt(check, sizeof check), SPK_BOARD_CRC_CHECK);
    EXPECT_EQ(SPK_BOARD_CRC_CHECK, 0x29B1u);
    // a message followed by its CRC (big-endian) has CRC 0: what the bridge checks
    const uint8_t msg[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9', 0x29, 0xB1};
    EXPECT_EQ(spkboard::crc16_ccitt(msg, sizeof msg), 0u);
    const uint8_t none[] = {0};
    EXPECT_EQ(spkboard::crc16_ccitt(none, 0), 0xFFFFu);
}

TEST_F(Bridge, IdVersionScratchAndConstants) {
    EXPECT_EQ(read1(SPK_BOARD_REG_BOARD_ID), SPK_BOARD_ID_MAGIC);
    EXPECT_EQ(read1(SPK_BOARD_REG_BOARD_VERSION), SPK_BOARD_VERSION_VALUE);
    EXPECT_EQ(read1(SPK_BOARD_REG_CLOCK_KHZ), 1000u);
    EXPECT_EQ(read1(SPK_BOARD_REG_MEM_BASE), SPK_BOARD_WIN_MEM_BASE);
    EXPECT_EQ(read1(SPK_BOARD_REG_MEM_BYTES), SPK_BOARD_WIN_MEM_BYTES);
    EXPECT_EQ(read1(SPK_BOARD_REG_CLKS_PER_BIT), kCpb);
    EXPECT_EQ(read1(SPK_BOARD_REG_RX_TIMEOUT), kTimeout);
    EXPECT_EQ(read1(SPK_BOARD_REG_LEDS), 5u);
    EXPECT_EQ(read1(SPK_BOARD_REG_SCRATCH), 0u);
    EXPECT_EQ(transact(SPK_BOARD_CMD_WRITE_INC, 1, SPK_BOARD_REG_SCRATCH, {0xA5C3F00Du}).status,
              SPK_BOARD_ST_OK);
    EXPECT_EQ(read1(SPK_BOARD_REG_SCRATCH), 0xA5C3F00Du);
    // an unused register of the bridge block reads 0; none of this went out on the bus
    EXPECT_EQ(read1(0xFFC), 0u);
    EXPECT_TRUE(log_.empty());
    // the whole block in one burst
    Response r = transact(SPK_BOARD_CMD_READ_INC, 10, 0);
    ASSERT_EQ(r.status, SPK_BOARD_ST_OK);
    ASSERT_EQ(r.words.size(), 10u);
    EXPECT_EQ(r.words[0], SPK_BOARD_ID_MAGIC);
    EXPECT_EQ(r.words[2], 0xA5C3F00Du);
}

TEST_F(Bridge, WriteAndReadBurstsIncrementing) {
    std::vector<uint32_t> data;
    for (uint32_t i = 0; i < 255; i++) data.push_back(i * 0x9E3779B9u);
    Response w = transact(SPK_BOARD_CMD_WRITE_INC, 255, kMem + 64, data);
    EXPECT_EQ(w.status, SPK_BOARD_ST_OK);
    ASSERT_EQ(log_.size(), 255u);
    for (uint32_t i = 0; i < 255; i++) {
        EXPECT_TRUE(log_[i].we);
        EXPECT_EQ(log_[i].addr, (kMem + 64) / 4 + i);
        EXPECT_EQ(log_[i].data, data[i]);
    }
    log_.clear();
    Response r = transact(SPK_BOARD_CMD_READ_INC, 255, kMem + 64);
    ASSERT_EQ(r.status, SPK_BOARD_ST_OK);
    EXPECT_EQ(r.words, data);
    ASSERT_EQ(log_.size(), 255u);
    EXPECT_FALSE(log_[0].we);
    EXPECT_EQ(log_[254].addr, (kMem + 64) / 4 + 254);
    // the last word of the memory, and the engine window with a slow slave
    latency_ = 7;
    EXPECT_EQ(
        transact(SPK_BOARD_CMD_WRITE_INC, 2, kMem + SPK_BOARD_WIN_MEM_BYTES - 8, {1u, 2u}).status,
        SPK_BOARD_ST_OK);
    EXPECT_EQ(read1(kMem + SPK_BOARD_WIN_MEM_BYTES - 4), 2u);
    EXPECT_EQ(transact(SPK_BOARD_CMD_WRITE_INC, 1, SPK_BOARD_ENG_ENG_DESC, {0x40u}).status,
              SPK_BOARD_ST_OK);
    EXPECT_EQ(mem_[SPK_BOARD_ENG_ENG_DESC / 4], 0x40u);
}

TEST_F(Bridge, FixedAddressBursts) {
    Response w = transact(SPK_BOARD_CMD_WRITE_FIXED, 3, kMem + 8, {7u, 8u, 9u});
    EXPECT_EQ(w.status, SPK_BOARD_ST_OK);
    ASSERT_EQ(log_.size(), 3u);
    for (const Access &a : log_) EXPECT_EQ(a.addr, (kMem + 8) / 4);
    EXPECT_EQ(log_[2].data, 9u);
    EXPECT_EQ(mem_[(kMem + 8) / 4], 9u);
    log_.clear();
    Response r = transact(SPK_BOARD_CMD_READ_FIXED, 4, kMem + 8);
    ASSERT_EQ(r.status, SPK_BOARD_ST_OK);
    EXPECT_EQ(r.words, (std::vector<uint32_t>{9u, 9u, 9u, 9u}));
    ASSERT_EQ(log_.size(), 4u);
    for (const Access &a : log_) EXPECT_EQ(a.addr, (kMem + 8) / 4);
    // a fixed burst at the last word of a window is not a crossing
    EXPECT_EQ(transact(SPK_BOARD_CMD_READ_FIXED, 3, SPK_BOARD_WIN_ENGINE_BASE + 0xFFC).status,
              SPK_BOARD_ST_OK);
}

TEST_F(Bridge, BadCrcWritesNothingAndIsCounted) {
    std::vector<uint8_t> f = frame(SPK_BOARD_CMD_WRITE_INC, 2, (kMem + 16) / 4, {1u, 2u});
    f[7] ^= 0x10; // a data bit flipped on the way
    send(f);
    Response r = receive(0);
    ASSERT_TRUE(r.complete);
    EXPECT_TRUE(r.crc_ok);
    EXPECT_EQ(r.status, SPK_BOARD_ST_CRC);
    EXPECT_TRUE(log_.empty()) << "a write with a bad CRC reached the bus";
    // the CRC itself damaged
    f = frame(SPK_BOARD_CMD_READ_INC, 1, 0);
    f.back() ^= 1;
    send(f);
    EXPECT_EQ(receive(1).status, SPK_BOARD_ST_CRC);
    EXPECT_EQ(read1(SPK_BOARD_REG_LINK_STATUS) & SPK_BOARD_REG_LINK_STATUS_CRC_ERRORS_MASK,
              2u); // offset 0
    // a write clears the counters; the retried write works
    EXPECT_EQ(transact(SPK_BOARD_CMD_WRITE_INC, 1, SPK_BOARD_REG_LINK_STATUS, {0u}).status,
              SPK_BOARD_ST_OK);
    EXPECT_EQ(read1(SPK_BOARD_REG_LINK_STATUS), 0u);
    EXPECT_EQ(transact(SPK_BOARD_CMD_WRITE_INC, 2, kMem + 16, {1u, 2u}).status, SPK_BOARD_ST_OK);
    EXPECT_EQ(log_.size(), 2u);
}

TEST_F(Bridge, BadCommandAndBadLength) {
    EXPECT_EQ(transact(0x00, 1, 0).status, SPK_BOARD_ST_BAD_CMD);
    EXPECT_EQ(transact(0x05, 1, 0).status, SPK_BOARD_ST_BAD_CMD);
    EXPECT_EQ(transact(0xFF, 4, kMem).status, SPK_BOARD_ST_BAD_CMD);
    EXPECT_EQ(transact(SPK_BOARD_CMD_READ_INC, 0, kMem).status, SPK_BOARD_ST_BAD_LEN);
    EXPECT_EQ(transact(SPK_BOARD_CMD_WRITE_INC, 0, kMem).status, SPK_BOARD_ST_BAD_LEN);
    EXPECT_EQ(transact(SPK_BOARD_CMD_READ_FIXED, 0, kMem).status, SPK_BOARD_ST_BAD_LEN);
    EXPECT_TRUE(log_.empty());
    EXPECT_EQ(read1(SPK_BOARD_REG_BOARD_ID), SPK_BOARD_ID_MAGIC); // still in step
}

TEST_F(Bridge, BusErrorsTouchNothing) {
    struct Case {
        uint8_t cmd, len;
        uint32_t addr;
    } cases[] = {
        {SPK_BOARD_CMD_READ_INC, 1, 0x4000},                              // between the windows
        {SPK_BOARD_CMD_WRITE_INC, 1, 0xFFFC},                             // just below the memory
        {SPK_BOARD_CMD_READ_INC, 1, kMem + SPK_BOARD_WIN_MEM_BYTES},      // just past it
        {SPK_BOARD_CMD_WRITE_INC, 2, kMem + SPK_BOARD_WIN_MEM_BYTES - 4}, // runs past its end
        {SPK_BOARD_CMD_READ_INC, 2, SPK_BOARD_WIN_ENGINE_BASE - 4},       // bridge -> engine
        {SPK_BOARD_CMD_WRITE_INC, 3, SPK_BOARD_WIN_RESULT_BASE - 4},      // engine -> result
        {SPK_BOARD_CMD_READ_INC, 1, 0x40000000},                          // high address bits
        {SPK_BOARD_CMD_WRITE_FIXED, 1, 0x80010000},
    };
    for (const Case &c : cases) {
        std::vector<uint32_t> data(c.cmd == SPK_BOARD_CMD_READ_INC ? 0 : c.len, 0x1234u);
        EXPECT_EQ(transact(c.cmd, c.len, c.addr, data).status, SPK_BOARD_ST_BUS_ERROR)
            << "cmd " << int(c.cmd) << " len " << int(c.len) << " addr 0x" << std::hex << c.addr;
    }
    EXPECT_TRUE(log_.empty()) << log_.size() << " bus accesses from refused bursts";
    // a burst filling the engine window up to its last word is fine
    EXPECT_EQ(transact(SPK_BOARD_CMD_READ_INC, 2, SPK_BOARD_WIN_RESULT_BASE - 8).status,
              SPK_BOARD_ST_OK);
}

TEST_F(Bridge, ReceiveTimeoutDropsAHalfFrame) {
    std::vector<uint8_t> f = frame(SPK_BOARD_CMD_WRITE_INC, 2, kMem / 4, {5u, 6u});
    send(std::vector<uint8_t>(f.begin(), f.begin() + 9)); // header and part of a word
    Response none = receive(0, 9 * 10 * kCpb + kTimeout + 200);
    EXPECT_FALSE(none.complete);
    EXPECT_TRUE(rx_.empty()) << "the bridge answered a partial frame";
    EXPECT_TRUE(log_.empty());
    // the next frame is taken from its first byte
    EXPECT_EQ(transact(SPK_BOARD_CMD_WRITE_INC, 2, kMem, {5u, 6u}).status, SPK_BOARD_ST_OK);
    EXPECT_EQ(read1(SPK_BOARD_REG_LINK_STATUS) >> SPK_BOARD_REG_LINK_STATUS_RX_TIMEOUTS_OFFSET, 1u);
    // a pause shorter than the timeout inside a frame is not a timeout
    f = frame(SPK_BOARD_CMD_READ_INC, 1, SPK_BOARD_REG_SCRATCH / 4);
    send(std::vector<uint8_t>(f.begin(), f.begin() + 3));
    idle(3 * 10 * kCpb + kTimeout / 2);
    send(std::vector<uint8_t>(f.begin() + 3, f.end()));
    Response r = receive(1);
    EXPECT_EQ(r.status, SPK_BOARD_ST_OK);
    EXPECT_EQ(read1(SPK_BOARD_REG_LINK_STATUS) >> SPK_BOARD_REG_LINK_STATUS_RX_TIMEOUTS_OFFSET, 1u);
}

TEST_F(Bridge, BackToBackFramesAndGarbage) {
    // two requests sent at once: the second arrives while the first is answered and is dropped
    // (one request at a time); the host that waits for each answer gets both.
    for (uint32_t i = 0; i < 4; i++)
        EXPECT_EQ(transact(SPK_BOARD_CMD_WRITE_INC, 1, kMem + 4 * i, {i + 100}).status,
                  SPK_BOARD_ST_OK);
    Response r = transact(SPK_BOARD_CMD_READ_INC, 4, kMem);
    EXPECT_EQ(r.words, (std::vector<uint32_t>{100u, 101u, 102u, 103u}));
    // garbage: some bytes that are no frame, then silence past the timeout, then a good frame
    send({0x02, 0x01, 0x00});
    idle(3 * 10 * kCpb + kTimeout + 100);
    EXPECT_EQ(read1(SPK_BOARD_REG_BOARD_ID), SPK_BOARD_ID_MAGIC);
}

} // namespace
