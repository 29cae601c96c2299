// spk_desc_check: whether a head-request descriptor is refused (docs/rtl.md, "Engine top"), the
// one rule both engine tops apply before a request runs: d of 1..DMAX, at least 2 MSB bits and
// at most 12 bits in all, n of 0..NMAX, 2-byte aligned query codes and key list, a head with
// an accumulator, and in contiguous mode (n > 0) keys that all have a token accumulator (a
// listed token >= NTOK is known only once the list is read: it then just gets no add).
// Combinational.
`default_nettype none

module spk_desc_check #(
    parameter DMAX  = 64,
    parameter NMAX  = 512,
    parameter NTOK  = 1024,
    parameter NHEAD = 16,
    // derived, do not override
    parameter DW    = $clog2(DMAX + 1)
) (
    input  wire [DW-1:0] d,
    input  wire [3:0]    msb_bits,
    input  wire [3:0]    lsb_bits,
    input  wire [15:0]   n_keys,
    input  wire [15:0]   key_base,
    input  wire          key_list,
    input  wire          q_base_odd,     // bit 0 of q_base
    input  wire          keys_base_odd,  // bit 0 of keys_base
    input  wire [7:0]    head,
    output wire          bad
);
`include "spk_const_cmp.vh"
    localparam [31:0] DMAX32 = DMAX, NMAX32 = NMAX, NTOK32 = NTOK, NHEAD32 = NHEAD;
    wire [4:0]  total_bits = {1'b0, msb_bits} + {1'b0, lsb_bits};
    wire [16:0] tok_end = {1'b0, key_base} + {1'b0, n_keys};
    assign bad = (d == {DW{1'b0}}) || spk_gt_const({{(32 - DW) {1'b0}}, d}, DMAX32) ||
                 (msb_bits < 4'd2) || (total_bits > 5'd12) ||
                 spk_gt_const({16'd0, n_keys}, NMAX32) || q_base_odd ||
                 (key_list && keys_base_odd) || spk_ge_const({24'd0, head}, NHEAD32) ||
                 (!key_list && (n_keys != 16'd0) && spk_gt_const({15'd0, tok_end}, NTOK32));
endmodule

`default_nettype wire
