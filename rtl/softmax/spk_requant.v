// spk_requant: the progressive-quantization decision (docs/spec/datapath.md, "Progressive
// quantization"): a running maximum of the probabilities of a request (its confidence) and the
// comparison with the threshold T (UQ0.16, 0..65536). refetch = confidence < T: fetch the K LSB
// plane and recompute. T = 0 never refetches, T = 65536 always does.
`default_nettype none

module spk_requant (
    input  wire        clk,
    input  wire        rst,
    input  wire        clear,       // start of a request
    input  wire        prob_valid,
    input  wire [15:0] prob,        // UQ0.16
    input  wire [16:0] threshold,   // UQ0.16, 65536 = 1.0
    output reg  [15:0] confidence,  // max probability so far
    output wire        refetch
);
    always @(posedge clk) begin
        if (rst || clear) confidence <= 16'd0;
        else if (prob_valid && prob > confidence) confidence <= prob;
    end

    assign refetch = {1'b0, confidence} < threshold;
endmodule

`default_nettype wire
