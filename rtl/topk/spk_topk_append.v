// spk_topk_append: zero-eliminating compaction of one line of candidates into a survivor FIFO.
// The survivors of a line (lanes whose `keep` bit is set) are packed, in lane order, right after
// the `acc_n` items already waiting in `acc`. The result is up to 2P-1 items in `merged`; the
// engine writes the low P as one buffer line whenever `total` >= P and keeps the rest. Packing
// keeps stream order, which is what makes the next pass's pivot (its first candidate) match the
// golden model's.
//
// The zero eliminator is a log2(P)-stage shift network: each survivor moves down by the number
// of dropped lanes before it, stage b moving it by 2^b when bit b of that count is set. Taking
// the bits from the least significant up, two survivors never meet in a lane (checked for every
// mask of P <= 16 lanes), so each stage is one 2:1 mux per lane. The packed line is then shifted
// up by acc_n lanes and merged with the waiting items.
`default_nettype none

module spk_topk_append #(
    parameter W   = 16,
    parameter P   = 16,
    parameter PCW = $clog2(2 * P)  // width of an item count 0 .. 2P-1 (derived; do not override)
) (
    input  wire [P*W-1:0]   acc,
    input  wire [PCW-1:0]   acc_n,
    input  wire [P-1:0]     keep,
    input  wire [P*W-1:0]   data,
    output reg  [2*P*W-1:0] merged,
    output reg  [PCW-1:0]   total
);
    localparam STAGES = (P > 1) ? $clog2(P) : 1;

    integer lane;
    reg [PCW-1:0]   dropped;
    reg [PCW-1:0]   kept_n;
    reg [P*PCW-1:0] togo0;     // per lane: dropped lanes before it = how far its item moves
    reg [P*W-1:0]   waiting;   // acc with the lanes at or past acc_n cleared

    always @* begin
        dropped = {PCW{1'b0}};
        kept_n = {PCW{1'b0}};
        for (lane = 0; lane < P; lane = lane + 1) begin
            togo0[lane*PCW+:PCW] = dropped;
            if (keep[lane]) kept_n = kept_n + 1'b1;
            else dropped = dropped + 1'b1;
        end
    end

    // Network state per stage (stage s in slice s): lane values, distances, occupancy. Each
    // slice only feeds the next; split_var tells Verilator so (it is a comment to other tools).
    wire [(STAGES+1)*P*W-1:0]   val /*verilator split_var*/;
    wire [(STAGES+1)*P*PCW-1:0] togo /*verilator split_var*/;
    wire [(STAGES+1)*P-1:0]     full /*verilator split_var*/;
    assign val[P*W-1:0] = data;
    assign togo[P*PCW-1:0] = togo0;
    assign full[P-1:0] = keep;

    genvar st, ln;
    generate
        for (st = 0; st < STAGES; st = st + 1) begin : stage
            for (ln = 0; ln < P; ln = ln + 1) begin : lane_mux
                localparam IN = st * P, OUT = (st + 1) * P;
                wire stay = full[IN+ln] && !togo[(IN+ln)*PCW+st];
                wire move_in;
                wire [W-1:0] moved_val;
                wire [PCW-1:0] moved_togo;
                if (ln + (1 << st) < P) begin : has_source
                    localparam SRC = ln + (1 << st);
                    assign move_in = full[IN+SRC] && togo[(IN+SRC)*PCW+st];
                    assign moved_val = val[(IN+SRC)*W+:W];
                    assign moved_togo = togo[(IN+SRC)*PCW+:PCW];
                end else begin : no_source
                    assign move_in = 1'b0;
                    assign moved_val = {W{1'b0}};
                    assign moved_togo = {PCW{1'b0}};
                end
                assign val[(OUT+ln)*W+:W] = move_in ? moved_val :
                                            stay ? val[(IN+ln)*W+:W] : {W{1'b0}};
                assign togo[(OUT+ln)*PCW+:PCW] = move_in ? moved_togo :
                                                 stay ? togo[(IN+ln)*PCW+:PCW] : {PCW{1'b0}};
                assign full[OUT+ln] = move_in || stay;
            end
        end
    endgenerate

    wire [P*W-1:0] packed_line = val[STAGES*P*W+:P*W];

    always @* begin
        for (lane = 0; lane < P; lane = lane + 1)
            waiting[lane*W+:W] = (lane < acc_n) ? acc[lane*W+:W] : {W{1'b0}};
        merged = {{(P * W) {1'b0}}, waiting} | ({{(P * W) {1'b0}}, packed_line} << (acc_n * W));
        total = acc_n + kept_n;
    end
endmodule

`default_nettype wire
