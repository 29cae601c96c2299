// spk_mul32: unsigned 32 x 32-bit product a * b, or its negation -(a * b) when `neg` (two's
// complement), kept to 50 signed bits (every product the compact engine forms is below 2^48),
// over one 16 x 16 multiplier (one iCE40 SB_MAC16), for the compact engine: the four partial
// products go through the multiplier in four cycles and are added (or subtracted) at their
// offsets. Subtracting in the accumulator spares the engine a 50-bit negation of the product
// (about 100 of the UP5K's LCs, docs/fpga.md "Fit"). `done` is high for one cycle, 6 cycles
// after `start`, with the product on `p` (held until the next start). `a`, `b` and `neg` must
// stay unchanged until `done` (the engine holds them in its own registers, so none are kept
// here).
`default_nettype none

module spk_mul32 (
    input  wire        clk,
    input  wire        rst,
    input  wire        start,
    input  wire [31:0] a,
    input  wire [31:0] b,
    input  wire        neg,
    output reg         done,
    output reg  [49:0] p
);
    reg [2:0]  step;     // 1..4: partial product step - 1 enters the multiplier; 0: idle
    reg [31:0] pp;       // the partial product of the previous step
    reg [1:0]  pp_off;   // its offset in 16-bit units (0, 1, 1, 2)
    reg        pp_valid;
    wire [1:0] k = step[1:0] - 2'd1;
    wire [15:0] pa = k[0] ? a[31:16] : a[15:0];
    wire [15:0] pb = k[1] ? b[31:16] : b[15:0];
    wire [31:0] prod = pa * pb;
    wire [49:0] pp_at = (pp_off == 2'd0) ? {18'd0, pp} : (pp_off == 2'd1) ? {2'd0, pp, 16'd0}
                                                                         : {2'd0, pp[15:0], 32'd0};
    // p - pp_at = p + ~pp_at + 1, the + 1 as the carry out of a low bit
    wire [50:0] p_next = {p, 1'b1} + {pp_at ^ {50{neg}}, neg};
    wire        unused_pp = &{1'b0, pp[31:16] & {16{pp_off[1]}}, p_next[0]};

    always @(posedge clk) begin
        if (rst) begin
            step <= 3'd0;
            pp <= 32'd0;
            pp_off <= 2'd0;
            pp_valid <= 1'b0;
            done <= 1'b0;
            p <= 50'd0;
        end else begin
            done <= 1'b0;
            pp_valid <= (step != 3'd0);
            pp <= prod;
            pp_off <= {1'b0, k[0]} + {1'b0, k[1]};
            if (pp_valid) p <= p_next[50:1];
            if (start) begin
                p <= 50'd0;
                step <= 3'd1;
            end else if (step != 3'd0) begin
                step <= (step == 3'd4) ? 3'd0 : step + 3'd1;
            end
            // the last partial product is added in the cycle after it leaves the multiplier
            if (pp_valid && step == 3'd0) done <= 1'b1;
        end
    end
endmodule

`default_nettype wire
