// spk_softmax_exp: the softmax numerator of one logit (docs/spec/datapath.md, "Softmax",
// step 2): from d = M - t, x = floor(LUT[d mod 256] * 2^8 / 2^floor(d / 256)), 0 once the shift
// reaches 24. Combinational; x is UQ1.23 in [0, 2^23].
`default_nettype none

module spk_softmax_exp (
    input  wire [23:0] d,  // M - t, in [0, 2^24)
    output reg  [23:0] x
);
`include "spk_exp2_lut.vh"

    reg [23:0] widened;

    always @* begin
        widened = {spk_exp2_lut(d[7:0]), 8'd0};
        x = (d[23:8] >= 16'd24) ? 24'd0 : (widened >> d[12:8]);
    end
endmodule

`default_nettype wire
