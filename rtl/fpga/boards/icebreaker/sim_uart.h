// Bit-serial UART ends for Verilated boards (spk-board-sim and tests/board): 8N1, LSB first,
// `clks_per_bit` clock cycles per bit, one call per clock cycle.
#pragma once

#include <cstdint>
#include <deque>

namespace spkboard {

// Drives a UART line from a byte queue: call level() once per cycle and put it on the pin.
class UartDriver {
  public:
    explicit UartDriver(unsigned clks_per_bit) : cpb_(clks_per_bit) {}
    void push(uint8_t b) { q_.push_back(b); }
    bool idle() const { return q_.empty() && bit_ < 0; }
    size_t pending() const { return q_.size() + (bit_ >= 0 ? 1 : 0); }
    // the line level for this cycle (idle high; start bit, 8 data bits, stop bit)
    int level() {
        if (bit_ < 0) {
            if (q_.empty()) return 1;
            cur_ = q_.front();
            q_.pop_front();
            bit_ = 0;
            cnt_ = 0;
        }
        int v = bit_ == 0 ? 0 : bit_ <= 8 ? (cur_ >> (bit_ - 1)) & 1 : 1;
        if (++cnt_ == cpb_) {
            cnt_ = 0;
            if (++bit_ == 10) bit_ = -1;
        }
        return v;
    }

  private:
    unsigned cpb_;
    std::deque<uint8_t> q_;
    int bit_ = -1;
    unsigned cnt_ = 0;
    uint8_t cur_ = 0;
};

// Samples a UART line once per cycle; a byte is complete when sample() returns true.
class UartSampler {
  public:
    explicit UartSampler(unsigned clks_per_bit) : cpb_(clks_per_bit) {}
    bool idle() const { return bit_ < 0; }
    bool framing_error() const { return ferr_; }
    // feed this cycle's line level; true with *out when a byte (with a high stop bit) ended
    bool sample(int line, uint8_t *out) {
        if (bit_ < 0) {
            if (line == 0) { // start bit: sample each bit in its middle from here
                bit_ = 0;
                cnt_ = cpb_ / 2;
            }
            return false;
        }
        if (cnt_ > 0) {
            --cnt_;
            return false;
        }
        cnt_ = cpb_ - 1;
        if (bit_ == 0) {
            if (line)
                bit_ = -1; // a glitch
            else
                bit_ = 1;
            return false;
        }
        if (bit_ <= 8) {
            byte_ = static_cast<uint8_t>((byte_ >> 1) | (line ? 0x80 : 0));
            ++bit_;
            return false;
        }
        bit_ = -1; // the stop bit's middle: ready for the next start bit
        if (!line) {
            ferr_ = true;
            return false;
        }
        *out = byte_;
        return true;
    }

  private:
    unsigned cpb_;
    int bit_ = -1;
    unsigned cnt_ = 0;
    uint8_t byte_ = 0;
    bool ferr_ = false;
};

// CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, not reflected, xorout 0)
inline uint16_t crc16_ccitt(const uint8_t *p, size_t n, uint16_t crc = 0xFFFF) {
    for (size_t i = 0; i < n; i++) {
        crc ^= static_cast<uint16_t>(p[i] << 8);
        for (int k = 0; k < 8; k++)
            crc = static_cast<uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : (crc << 1));
    }
    return crc;
}

} // namespace spkboard
