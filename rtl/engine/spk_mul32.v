// spk_mul32: unsigned 32 x 32-bit product, kept to 48 bits (every product the compact engine
// forms is below 2^48), over one 16 x 16 multiplier (one iCE40
// SB_MAC16), for the compact engine: the four partial products go through the multiplier in four
// cycles and are added at their offsets. `done` is high for one cycle, 6 cycles after `start`,
// with the product on `p` (held until the next start). `a` and `b` must stay unchanged until
// `done` (the engine holds them in its own registers, so none are kept here).
`default_nettype none

module spk_mul32 (
    input  wire        clk,
    input  wire        rst,
    input  wire        start,
    input  wire [31:0] a,
    input  wire [31:0] b,
    output reg         done,
    output reg  [47:0] p
);
    reg [2:0]  step;     // 1..4: partial product step - 1 enters the multiplier; 0: idle
    reg [31:0] pp;       // the partial product of the previous step
    reg [1:0]  pp_off;   // its offset in 16-bit units (0, 1, 1, 2)
    reg        pp_valid;
    wire [1:0] k = step[1:0] - 2'd1;
    wire [15:0] pa = k[0] ? a[31:16] : a[15:0];
    wire [15:0] pb = k[1] ? b[31:16] : b[15:0];
    wire [31:0] prod = pa * pb;
    wire        unused_pp = &{1'b0, pp[31:16] & {16{pp_off[1]}}};
    wire [47:0] pp_at = (pp_off == 2'd0) ? {16'd0, pp} : (pp_off == 2'd1) ? {pp, 16'd0}
                                                                         : {pp[15:0], 32'd0};

    always @(posedge clk) begin
        if (rst) begin
            step <= 3'd0;
            pp <= 32'd0;
            pp_off <= 2'd0;
            pp_valid <= 1'b0;
            done <= 1'b0;
            p <= 48'd0;
        end else begin
            done <= 1'b0;
            pp_valid <= (step != 3'd0);
            pp <= prod;
            pp_off <= {1'b0, k[0]} + {1'b0, k[1]};
            if (pp_valid) p <= p + pp_at;
            if (start) begin
                p <= 48'd0;
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
