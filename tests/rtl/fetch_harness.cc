// Harness of the K/V plane fetcher with an AXI4 memory model.
#include "fetch_harness.h"

#include <deque>
#include <sstream>

#include "spksim/datapath.h"

namespace {

// The value a plane stores for a code (spec: "MSB and LSB planes").
uint32_t plane_field(const FetchCase &c, int32_t code, int32_t *as_signed) {
    const spk_quant_profile prof = {(uint8_t)c.msb_bits, (uint8_t)c.lsb_bits};
    int32_t hi = 0;
    uint32_t lo = 0;
    spk_code_split(code, prof, &hi, &lo);
    *as_signed = c.lsb_plane ? (int32_t)lo : hi;
    const uint32_t bits = c.lsb_plane ? c.lsb_bits : c.msb_bits;
    return (uint32_t)(c.lsb_plane ? (int32_t)lo : hi) & ((1u << bits) - 1u);
}

uint32_t row_bytes(const FetchCase &c) {
    return (c.d * (c.lsb_plane ? c.lsb_bits : c.msb_bits) + 7) / 8;
}

} // namespace

FetchOutcome FetchHarness::run(const FetchCase &c) {
    // Pack the plane: field i of a row in bits [i*b, (i+1)*b), little-endian, byte 0 bit 0 first.
    const uint32_t bits = c.lsb_plane ? c.lsb_bits : c.msb_bits, rb = row_bytes(c);
    // Memory up to the 32-byte block after the plane, random outside the rows.
    const size_t mem_bytes = ((size_t)c.base + (size_t)c.n_tokens * rb + 63) / 32 * 32;
    std::vector<uint8_t> mem(mem_bytes);
    for (auto &x : mem) x = (uint8_t)rng_();
    for (uint32_t t = 0; t < c.n_tokens; t++) {
        uint8_t *row = &mem[c.base + (size_t)t * rb];
        for (uint32_t i = 0; i < rb; i++) row[i] = 0;
        for (uint32_t i = 0; i < c.d; i++) {
            int32_t unused_signed;
            uint32_t v = plane_field(c, c.codes[(size_t)t * c.d + i], &unused_signed);
            for (uint32_t b = 0; b < bits; b++) {
                uint32_t at = i * bits + b;
                if ((v >> b) & 1u) row[at / 8] |= (uint8_t)(1u << (at % 8));
            }
        }
    }

    Vfetch &io = sim_.io();
    FetchOutcome out;
    io.base = c.base;
    io.d = c.d;
    io.bits = bits;
    io.is_signed = !c.lsb_plane;
    io.rows = (uint32_t)c.rows.size();
    io.start = 1;
    const uint64_t t0 = sim_.cycles();
    sim_.tick();
    io.start = 0;
    size_t next_idx = 0;
    std::deque<uint32_t> pending; // addresses of accepted single-beat bursts, in order
    const uint64_t limit = 200 + c.rows.size() * 40;
    while (!io.done && sim_.cycles() - t0 < limit) {
        if (io.out_valid) {
            for (uint32_t l = 0; l < kFetchLanes; l++) {
                uint32_t v = (uint32_t)(io.out_fields[(l * 12) / 32] >> ((l * 12) % 32));
                if ((l * 12) % 32 > 20)
                    v |= io.out_fields[(l * 12) / 32 + 1] << (32 - (l * 12) % 32);
                out.fields.push_back((int32_t)rtl_sext(v & 0xFFFu, 12));
            }
        }
        // Row indices.
        io.idx_valid = next_idx < c.rows.size();
        io.idx = next_idx < c.rows.size() ? c.rows[next_idx] : 0;
        // AR: random ready; check each request.
        const bool ar_ready = rng_() % 3 != 0;
        io.arready = ar_ready;
        if (io.arvalid && ar_ready) {
            if (io.araddr % 32 || io.arlen != 0 || io.arsize != 5 || io.arburst != 1) {
                out.protocol_ok = false;
                out.protocol_error = "bad AR request";
            }
            if (io.araddr + 32 > mem_bytes) {
                out.protocol_ok = false;
                out.protocol_error = "AR outside memory";
            }
        }
        // R: in order, random gaps; the beat for the oldest pending burst.
        const bool r_now = !pending.empty() && rng_() % 4 != 0;
        io.rvalid = r_now;
        io.rlast = r_now;
        io.rresp = 0;
        uint32_t words[8] = {0};
        if (r_now) {
            for (int w = 0; w < 8; w++)
                for (int b = 0; b < 4; b++)
                    words[w] |= (uint32_t)mem[(pending.front() + w * 4 + b) % mem_bytes] << (8 * b);
        }
        rtl_assign(io.rdata, words);
        const bool idx_taken = io.idx_valid && io.idx_ready;
        const bool ar_taken = io.arvalid && ar_ready;
        const uint32_t ar_addr = io.araddr;
        const bool r_taken = r_now && io.rready;
        sim_.tick();
        if (idx_taken) next_idx++;
        if (r_taken) pending.pop_front();
        if (ar_taken) pending.push_back(ar_addr);
    }
    io.idx_valid = 0;
    io.rvalid = 0;
    io.arready = 0;
    out.done = io.done;
    out.bad_cmd = io.bad_cmd;
    out.bus_error = io.bus_error;
    out.cycles = sim_.cycles() - t0;
    return out;
}

void fetch_random_case(std::mt19937_64 &rng, FetchCase &c) {
    c = FetchCase{};
    c.d = 1 + (uint32_t)(rng() % kFetchDmax);
    c.msb_bits = 2 + (uint32_t)(rng() % 11);
    c.lsb_bits = (uint32_t)(rng() % (13 - c.msb_bits));
    c.lsb_plane = c.lsb_bits > 0 && rng() % 2;
    c.base = (uint32_t)(rng() % 8192); // any byte alignment
    c.n_tokens = 1 + (uint32_t)(rng() % 300);
    const int32_t kmax = (1 << (c.msb_bits + c.lsb_bits - 1)) - 1;
    c.codes.resize((size_t)c.n_tokens * c.d);
    for (auto &x : c.codes) x = (int32_t)(rng() % (2 * kmax + 1)) - kmax;
    const uint32_t n_rows = (uint32_t)(rng() % 20);
    for (uint32_t r = 0; r < n_rows; r++) c.rows.push_back((uint32_t)(rng() % c.n_tokens));
}

std::string fetch_check(const FetchCase &c, const FetchOutcome &got) {
    std::ostringstream err;
    if (!got.done) return "fetcher never signalled done (timeout)";
    if (got.bad_cmd) return "a valid request was refused";
    if (got.bus_error) return "the fetcher reported a bus error on OKAY responses";
    if (!got.protocol_ok) return got.protocol_error;
    const size_t beats = (c.d + kFetchLanes - 1) / kFetchLanes;
    if (got.fields.size() != c.rows.size() * beats * kFetchLanes)
        return "got " + std::to_string(got.fields.size()) + " fields for " +
               std::to_string(c.rows.size()) + " rows";
    for (size_t r = 0; r < c.rows.size(); r++) {
        for (uint32_t i = 0; i < beats * kFetchLanes; i++) {
            int32_t want = 0;
            if (i < c.d) plane_field(c, c.codes[(size_t)c.rows[r] * c.d + i], &want);
            int32_t have = got.fields[r * beats * kFetchLanes + i];
            if (have != want) {
                err << "row " << r << " (token " << c.rows[r] << ") field " << i << " = " << have
                    << " want " << want << " (d=" << c.d << " " << c.msb_bits << "+" << c.lsb_bits
                    << (c.lsb_plane ? " LSB" : " MSB") << " plane, base " << c.base << ")";
                return err.str();
            }
        }
    }
    return "";
}
