// Tiny RV32IM encoder for hand-assembled test programs (the tests build instruction words from
// fields, so each encoding is checked against the simulator's decoder independently).
#ifndef TESTS_ISS_RV32_ASM_H
#define TESTS_ISS_RV32_ASM_H

#include <cstdint>

namespace rv {

inline uint32_t r(uint32_t f7, uint32_t rs2, uint32_t rs1, uint32_t f3, uint32_t rd, uint32_t op) {
    return f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}
inline uint32_t i(int32_t imm, uint32_t rs1, uint32_t f3, uint32_t rd, uint32_t op) {
    return (static_cast<uint32_t>(imm) & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}
inline uint32_t s(int32_t imm, uint32_t rs2, uint32_t rs1, uint32_t f3) {
    uint32_t u = static_cast<uint32_t>(imm);
    return ((u >> 5) & 0x7f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (u & 0x1f) << 7 | 0x23;
}
inline uint32_t b(int32_t imm, uint32_t rs2, uint32_t rs1, uint32_t f3) {
    uint32_t u = static_cast<uint32_t>(imm);
    return ((u >> 12) & 1) << 31 | ((u >> 5) & 0x3f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 |
           ((u >> 1) & 0xf) << 8 | ((u >> 11) & 1) << 7 | 0x63;
}
inline uint32_t u(uint32_t imm20, uint32_t rd, uint32_t op) {
    return imm20 << 12 | rd << 7 | op;
}
inline uint32_t j(int32_t imm, uint32_t rd) {
    uint32_t v = static_cast<uint32_t>(imm);
    return ((v >> 20) & 1) << 31 | ((v >> 1) & 0x3ff) << 21 | ((v >> 11) & 1) << 20 |
           ((v >> 12) & 0xff) << 12 | rd << 7 | 0x6f;
}

inline uint32_t addi(uint32_t rd, uint32_t rs1, int32_t imm) {
    return i(imm, rs1, 0, rd, 0x13);
}
inline uint32_t lui(uint32_t rd, uint32_t imm20) {
    return u(imm20, rd, 0x37);
}
inline uint32_t auipc(uint32_t rd, uint32_t imm20) {
    return u(imm20, rd, 0x17);
}
inline uint32_t jal(uint32_t rd, int32_t off) {
    return j(off, rd);
}
inline uint32_t jalr(uint32_t rd, uint32_t rs1, int32_t imm) {
    return i(imm, rs1, 0, rd, 0x67);
}
inline uint32_t load(uint32_t f3, uint32_t rd, uint32_t rs1, int32_t imm) {
    return i(imm, rs1, f3, rd, 0x03);
}
inline uint32_t store(uint32_t f3, uint32_t rs2, uint32_t rs1, int32_t imm) {
    return s(imm, rs2, rs1, f3);
}
inline uint32_t op(uint32_t f7, uint32_t f3, uint32_t rd, uint32_t rs1, uint32_t rs2) {
    return r(f7, rs2, rs1, f3, rd, 0x33);
}
inline uint32_t opimm(uint32_t f3, uint32_t rd, uint32_t rs1, int32_t imm) {
    return i(imm, rs1, f3, rd, 0x13);
}

constexpr uint32_t kEcall = 0x00000073u;
constexpr uint32_t kEbreak = 0x00100073u;
constexpr uint32_t kWfi = 0x10500073u;
constexpr uint32_t kRdcycleA0 = 0xc0002573u; // csrrs a0, cycle, x0

} // namespace rv

#endif
