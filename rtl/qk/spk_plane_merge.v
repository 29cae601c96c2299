// spk_plane_merge: rebuild the code the engine computes with from a K or V row's planes
// (docs/spec/datapath.md, "MSB and LSB planes"): c = hi * 2^lsb + lo with both planes, or the
// MSB-only value c_msb = hi * 2^lsb + 2^(lsb-1) (lsb >= 1) when only the MSB plane was fetched.
// With lsb = 0 both are hi. One lane, combinational; msb + lsb <= 12, so every result fits a
// signed 12-bit code.
`default_nettype none

module spk_plane_merge (
    input  wire [11:0] hi,         // MSB plane field, sign-extended to 12 bits
    input  wire [9:0]  lo,         // LSB plane field (lsb bits used)
    input  wire [3:0]  lsb_bits,   // 0..10
    input  wire        with_lsb,   // 1: the LSB plane was fetched
    output wire [11:0] code
);
    wire [11:0] base = hi << lsb_bits;
    wire [11:0] lo_mask = ~(12'hFFF << lsb_bits);
    wire [11:0] midpoint = (lsb_bits == 4'd0) ? 12'd0 : (12'd1 << (lsb_bits - 4'd1));
    wire [11:0] low = with_lsb ? ({2'b00, lo} & lo_mask) : midpoint;

    // base + low: base's low lsb bits are 0 and low < 2^lsb, so the sum is an OR (no carry
    // chain, docs/fpga.md "Fit")
    assign code = base | low;
endmodule

`default_nettype wire
