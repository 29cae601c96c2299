// spk_topk_ice40_top: pin-limited wrapper that puts the top-k engine on an iCE40 UP5K (48-pin
// package) for `make synth`. The engine's wide ports are reached through shift registers so that
// no logic is optimised away:
//   - shift_in: while `sh_en` is high, `sh_din` shifts into a register holding
//     {k, n, load_line, load_data}; `load` writes the line, `go` starts a selection.
//   - every output beat and the completion status are captured into a register that shifts out
//     on `sh_dout` (one bit per cycle while `sh_en` is high).
// It is a synthesis vehicle for area and timing, not a product interface.
`default_nettype none

module spk_topk_ice40_top #(
    parameter W    = 16,
    parameter NMAX = 1024,
    parameter P    = 4
) (
    input  wire clk,
    input  wire rst,
    input  wire sh_en,
    input  wire sh_din,
    input  wire load,
    input  wire go,
    output wire sh_dout,
    output wire busy,
    output wire beat,
    output wire done
);
    localparam LINES = NMAX / P;
    localparam LW = (LINES > 1) ? $clog2(LINES) : 1;
    localparam CW = $clog2(NMAX) + 1;
    localparam IN_BITS = 2 * CW + LW + P * W;
    localparam OUT_BITS = P + LW + 3 * CW + W + 32 + 1;

    reg  [IN_BITS-1:0]  in_sr;
    reg  [OUT_BITS-1:0] out_sr;
    wire [P-1:0]        out_mask;
    wire [LW-1:0]       out_line;
    wire [CW-1:0]       kept_count, n_greater, passes;
    wire [W-1:0]        threshold;
    wire [31:0]         sel_cycles;
    wire                out_valid, bad_cmd;

    spk_topk #(.W(W), .NMAX(NMAX), .P(P)) engine (
        .clk(clk), .rst(rst),
        .load_en(load), .load_line(in_sr[P*W+:LW]), .load_data(in_sr[P*W-1:0]),
        .start(go), .n(in_sr[P*W+LW+:CW]), .k(in_sr[P*W+LW+CW+:CW]),
        .busy(busy), .out_valid(out_valid), .out_mask(out_mask), .out_line(out_line),
        .done(done), .bad_cmd(bad_cmd), .kept_count(kept_count), .threshold(threshold),
        .n_greater(n_greater), .passes(passes), .sel_cycles(sel_cycles));

    always @(posedge clk) begin
        if (rst) begin
            in_sr <= {IN_BITS{1'b0}};
            out_sr <= {OUT_BITS{1'b0}};
        end else begin
            if (sh_en) in_sr <= {in_sr[IN_BITS-2:0], sh_din};
            if (out_valid || done)
                out_sr <= {bad_cmd, out_mask, out_line, kept_count, n_greater, passes, threshold,
                           sel_cycles};
            else if (sh_en)
                out_sr <= {out_sr[OUT_BITS-2:0], 1'b0};
        end
    end

    assign sh_dout = out_sr[OUT_BITS-1];
    assign beat = out_valid;
endmodule

`default_nettype wire
