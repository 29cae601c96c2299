// spk_logit: fixed-point logit of one key (docs/spec/datapath.md, "Logits"), pipelined in three
// stages (one key per cycle):
//   1. mqk = floor((mq * mk + 2^15) / 2^16), sh = eq + ek + 16 + 8;
//   2. raw = dot * mqk (|raw| < 2^47);
//   3. t = raw * 2^sh (sh >= 0) or rshr(raw, -sh) (sh < 0), saturated to signed 24 bits.
// Scale words: mantissa in bits 15:0, signed exponent in bits 23:16.
`default_nettype none

module spk_logit (
    input  wire        clk,
    input  wire        rst,
    input  wire        in_valid,
    input  wire [31:0] dot,          // signed QK dot product
    input  wire [23:0] q_scale,      // the query's logit scale word
    input  wire [23:0] k_scale,      // the key row's scale word
    output reg         out_valid,
    output reg  [23:0] logit         // signed, 8 fractional bits, base-2 units
);
    localparam signed [71:0] T_MAX = 72'sd8388607;   // 2^23 - 1
    localparam signed [71:0] T_MIN = -72'sd8388608;  // -2^23

    // stage 1
    reg         s1_valid;
    reg  [31:0] s1_dot;
    reg  [15:0] s1_mqk;
    reg  [9:0]  s1_sh;           // signed
    wire [31:0] mant_prod = q_scale[15:0] * k_scale[15:0];
    wire [32:0] mant_round = {1'b0, mant_prod} + 33'd32768;
    wire        unused_mant_bits = &{1'b0, mant_round[32], mant_round[15:0]};
    wire [9:0]  sh_sum = {{2{q_scale[23]}}, q_scale[23:16]} + {{2{k_scale[23]}}, k_scale[23:16]}
                         + 10'd24;

    // stage 2
    reg         s2_valid;
    reg  [47:0] s2_raw;          // signed
    reg  [9:0]  s2_sh;
    wire [47:0] raw_prod = $signed({{16{s1_dot[31]}}, s1_dot}) * $signed({32'd0, s1_mqk});

    // stage 3
    reg signed [71:0] wide;
    reg        [9:0]  rsh;       // -sh when sh < 0
    reg        [23:0] t;
    wire signed [71:0] raw_ext = {{24{s2_raw[47]}}, s2_raw};

    always @* begin
        wide = 72'sd0;
        rsh = 10'd0 - s2_sh;
        if (s2_raw == 48'd0) begin
            t = 24'd0;
        end else if (!s2_sh[9]) begin
            if (s2_sh >= 10'd24) begin
                t = s2_raw[47] ? 24'h800000 : 24'h7FFFFF;
            end else begin
                wide = raw_ext <<< s2_sh[4:0];
                t = (wide > T_MAX) ? 24'h7FFFFF : (wide < T_MIN) ? 24'h800000 : wide[23:0];
            end
        end else if (rsh >= 10'd49) begin
            t = 24'd0;  // |raw| < 2^47: rounding leaves nothing
        end else begin
            wide = (raw_ext + $signed(72'd1 << (rsh[5:0] - 6'd1))) >>> rsh[5:0];
            t = (wide > T_MAX) ? 24'h7FFFFF : (wide < T_MIN) ? 24'h800000 : wide[23:0];
        end
    end

    always @(posedge clk) begin
        if (rst) begin
            s1_valid <= 1'b0;
            s1_dot <= 32'd0;
            s1_mqk <= 16'd0;
            s1_sh <= 10'd0;
            s2_valid <= 1'b0;
            s2_raw <= 48'd0;
            s2_sh <= 10'd0;
            out_valid <= 1'b0;
            logit <= 24'd0;
        end else begin
            s1_valid <= in_valid;
            s1_dot <= dot;
            s1_mqk <= mant_round[31:16];
            s1_sh <= sh_sum;
            s2_valid <= s1_valid;
            s2_raw <= raw_prod;
            s2_sh <= s1_sh;
            out_valid <= s2_valid;
            logit <= t;
        end
    end
endmodule

`default_nettype wire
