// spk_axi_word_reader: 16-bit words from memory over an AXI4 read port, for the compact engine
// (docs/rtl.md, "Compact engine"). The data bus is BUSW bits (256, or 64 for a small on-chip
// memory); every read is one beat of BUSW / 8 bytes (a block). It keeps at most one read
// outstanding: the beat of the last block read stays on the R channel (RREADY low) while words
// of it are used, and is
// taken (RREADY high) only when a word of another block is asked for or on `flush`. A word
// request (`req`, byte address `addr`, bit 0 ignored) is answered in a cycle with `ok` high and
// the little-endian word on `word`; the requester holds `req` and `addr` until then.
// `err` rises (sticky until `clr_err`) when a beat comes with RRESP != OKAY or without RLAST.
`default_nettype none

module spk_axi_word_reader #(
    parameter ABITS = 32,  // byte address bits (>= 6)
    parameter BUSW = 256   // data bus bits: 64, 128 or 256
) (
    input  wire         clk,
    input  wire         rst,
    input  wire         req,
    input  wire [ABITS-1:0] addr,
    output wire         ok,
    output wire [15:0]  word,
    input  wire         flush,     // take the held beat, if any (no req meanwhile)
    output wire         empty,     // no read outstanding
    input  wire         clr_err,
    output reg          err,
    // AXI4 read master: single-beat INCR bursts of 32 bytes
    output wire         arvalid,
    input  wire         arready,
    output wire [31:0]  araddr,
    output wire [7:0]   arlen,
    output wire [2:0]   arsize,
    output wire [1:0]   arburst,
    input  wire         rvalid,
    output wire         rready,
    input  wire [BUSW-1:0] rdata,
    input  wire [1:0]   rresp,
    input  wire         rlast
);
    localparam LB = $clog2(BUSW / 8);  // byte-in-block bits
    localparam integer LB_I = LB;
    localparam [2:0] SIZE = LB_I[2:0];
    localparam [1:0] R_NONE = 2'd0, R_AR = 2'd1, R_HELD = 2'd2;
    reg [1:0]  state;
    reg [ABITS-LB-1:0] blk;  // block being read or held

    wire hit = (state == R_HELD) && (addr[ABITS-1:LB] == blk);
    assign ok = req && hit && rvalid;
    wire [LB-2:0] word_in_block = addr[LB-1:1];
    assign word = rdata[{word_in_block, 4'd0}+:16];
    assign rready = (state == R_HELD) && rvalid && ((req && !hit) || flush);
    assign empty = (state == R_NONE);
    assign arvalid = (state == R_AR);
    assign araddr = {{(32 - ABITS) {1'b0}}, blk, {LB{1'b0}}};
    assign arlen = 8'd0;
    assign arsize = SIZE;
    assign arburst = 2'b01;
    wire unused_addr = &{1'b0, addr[0]};

    always @(posedge clk) begin
        if (rst) begin
            state <= R_NONE;
            blk <= {(ABITS - LB) {1'b0}};
            err <= 1'b0;
        end else begin
            if (clr_err) err <= 1'b0;
            else if (state == R_HELD && rvalid && (rresp != 2'b00 || !rlast)) err <= 1'b1;
            case (state)
                R_NONE: if (req && !flush) begin
                    blk <= addr[ABITS-1:LB];
                    state <= R_AR;
                end
                R_AR: if (arready) state <= R_HELD;
                default: if (rready) state <= R_NONE;
            endcase
        end
    end
endmodule

`default_nettype wire
