// spk_importance: a bank of saturating importance accumulators (docs/spec/datapath.md,
// "Importance"): entry[i] = min(2^48 - 1, entry[i] + amount) per add. One add per cycle, in a
// read-modify-write pipeline over a RAM; an add to the entry written in the previous cycle takes
// the value being written (forwarding), so back-to-back adds to one entry are exact. Used for
// token importance (N = tokens, amounts are probabilities) and head importance (N = heads,
// amounts are spk_pv's head_importance).
`default_nettype none

module spk_importance #(
    parameter N  = 1024,  // entries
    parameter FORWARD = 1,  // 0: no forwarding; adds to one entry must then be >= 2 cycles apart
    // derived, do not override:
    parameter AW = (N > 1) ? $clog2(N) : 1
) (
    input  wire          clk,
    input  wire          rst,
    input  wire          clear,       // zero every entry (N cycles; busy meanwhile)
    output wire          busy,
    input  wire          add_valid,   // ignored while busy
    input  wire [AW-1:0] add_index,
    input  wire [47:0]   add_amount,
    // read port: used when no add is issued in the same cycle; value one cycle later
    input  wire          rd_en,
    input  wire [AW-1:0] rd_index,
    output wire [47:0]   rd_value
);
    localparam integer LAST_I = N - 1;
    localparam [AW-1:0] LAST = LAST_I[AW-1:0];

    reg          clearing;
    reg [AW-1:0] clear_idx;

    wire         add_fire = add_valid && !clearing;
    // stage 1: the RAM returns the old value
    reg          s1_valid;
    reg [AW-1:0] s1_index;
    reg [47:0]   s1_amount;
    // the write of the previous cycle, for forwarding
    reg          w_valid;
    reg [AW-1:0] w_index;
    reg [47:0]   w_value;
    wire [47:0]  ram_rdata;
    wire [47:0]  old = (FORWARD != 0 && w_valid && w_index == s1_index) ? w_value : ram_rdata;
    wire [48:0]  sum = {1'b0, old} + {1'b0, s1_amount};
    wire [47:0]  new_value = sum[48] ? 48'hFFFF_FFFF_FFFF : sum[47:0];

    wire         we = clearing || s1_valid;
    wire [AW-1:0] waddr = clearing ? clear_idx : s1_index;
    wire [47:0]  wdata = clearing ? 48'd0 : new_value;

    spk_ram_1r1w #(.DEPTH(N), .WIDTH(48), .AW(AW)) entries (
        .clk(clk), .we(we), .waddr(waddr), .wdata(wdata),
        .re(add_fire || rd_en), .raddr(add_fire ? add_index : rd_index), .rdata(ram_rdata));

    assign busy = clearing;
    assign rd_value = ram_rdata;

    always @(posedge clk) begin
        if (rst) begin
            clearing <= 1'b0;
            clear_idx <= {AW{1'b0}};
            s1_valid <= 1'b0;
            s1_index <= {AW{1'b0}};
            s1_amount <= 48'd0;
            w_valid <= 1'b0;
            w_index <= {AW{1'b0}};
            w_value <= 48'd0;
        end else begin
            s1_valid <= add_fire;
            s1_index <= add_index;
            s1_amount <= add_amount;
            w_valid <= we;
            w_index <= waddr;
            w_value <= wdata;
            if (clear && !clearing) begin
                clearing <= 1'b1;
                clear_idx <= {AW{1'b0}};
            end else if (clearing) begin
                clear_idx <= clear_idx + 1'b1;
                if (clear_idx == LAST) clearing <= 1'b0;
            end
        end
    end
endmodule

`default_nettype wire
