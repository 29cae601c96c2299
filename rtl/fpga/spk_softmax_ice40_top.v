// spk_softmax_ice40_top: pin-limited wrapper that puts the softmax (with its requant decision)
// on an iCE40 UP5K for `make synth`, like spk_topk_ice40_top: the command and the logits shift
// in on `sh_din` ({threshold, n, logit}), every probability and the final status are captured
// into a register that shifts out on `sh_dout`. A synthesis vehicle for area and timing.
`default_nettype none

module spk_softmax_ice40_top #(
    parameter NMAX = 1024
) (
    input  wire clk,
    input  wire rst,
    input  wire sh_en,
    input  wire sh_din,
    input  wire push,     // present the shifted-in logit
    input  wire go,       // start a request with the shifted-in n and threshold
    output wire sh_dout,
    output wire busy,
    output wire beat,
    output wire done
);
    localparam AW = $clog2(NMAX);
    localparam CW = $clog2(NMAX + 1);
    localparam IN_BITS = 17 + CW + 24;
    localparam OUT_BITS = 1 + AW + 16 + 16 + 1 + 40 + 25;

    reg  [IN_BITS-1:0]  in_sr;
    reg  [OUT_BITS-1:0] out_sr;
    wire                in_ready, out_valid, bad_cmd, refetch;
    wire [AW-1:0]       out_index;
    wire [15:0]         out_prob, confidence;
    wire [39:0]         sum;
    wire [24:0]         recip;

    spk_softmax #(.NMAX(NMAX)) softmax (
        .clk(clk), .rst(rst), .start(go), .n(in_sr[24+:CW]), .threshold(in_sr[24+CW+:17]),
        .busy(busy), .in_valid(push), .in_ready(in_ready), .in_logit(in_sr[23:0]),
        .out_valid(out_valid), .out_index(out_index), .out_prob(out_prob), .done(done),
        .bad_cmd(bad_cmd), .confidence(confidence), .refetch(refetch), .sum(sum),
        .recip(recip));

    always @(posedge clk) begin
        if (rst) begin
            in_sr <= {IN_BITS{1'b0}};
            out_sr <= {OUT_BITS{1'b0}};
        end else begin
            if (sh_en) in_sr <= {in_sr[IN_BITS-2:0], sh_din};
            if (out_valid || done)
                out_sr <= {bad_cmd ^ in_ready, out_index, out_prob, confidence, refetch, sum,
                           recip};
            else if (sh_en)
                out_sr <= {out_sr[OUT_BITS-2:0], 1'b0};
        end
    end

    assign sh_dout = out_sr[OUT_BITS-1];
    assign beat = out_valid;
endmodule

`default_nettype wire
