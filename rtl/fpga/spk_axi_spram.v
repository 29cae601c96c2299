// spk_axi_spram: the on-chip memory of the UP5K engine build. 128 KiB as 16K words of 64 bits in
// one single-port RAM (synth_ice40 -spram maps it to the four 16K x 16 SB_SPRAM256KA blocks),
// with a write port for the host's loader and an AXI4 read slave for the engine's 256-bit beats.
//
// AXI reads: one request at a time (arready only while idle); a 32-byte beat is read as four
// 64-bit words over four cycles (bytes 8w .. 8w + 7 little-endian in rdata[64w +: 64]) and held
// on R until rready, always OKAY. It serves only what spk_engine issues: single-beat INCR bursts
// of 32 bytes; araddr[16:5] selects the block (the wrapper ties the upper address bits to 0).
// A host write takes the RAM port for its cycle; a read waits for it.
`default_nettype none

module spk_axi_spram (
    input  wire         clk,
    input  wire         rst,
    // host writes: word address (byte address / 8), 64-bit little-endian word
    input  wire         wr_en,
    input  wire [13:0]  wr_addr,
    input  wire [63:0]  wr_data,
    // AXI4 read slave
    input  wire         arvalid,
    output wire         arready,
    input  wire [31:0]  araddr,
    input  wire [7:0]   arlen,
    input  wire [2:0]   arsize,
    input  wire [1:0]   arburst,
    output reg          rvalid,
    input  wire         rready,
    output reg  [255:0] rdata,
    output wire [1:0]   rresp,
    output wire         rlast
);
    localparam [1:0] S_IDLE = 2'd0, S_READ = 2'd1, S_RESP = 2'd2;

    reg [1:0]  state;
    reg [11:0] blk;       // 32-byte block being read
    reg [2:0]  issued;    // words read from the RAM so far (0..4)
    reg        pend;      // the RAM output holds the word read last cycle
    reg [1:0]  pend_word; // its position in the beat

    // ---- the RAM: one port, write or read (the read word holds while the port writes) -------
    // One address for both (SB_SPRAM256KA has a single port; yosys maps only this shape).
    reg  [63:0] mem [0:16383];
    reg  [63:0] mem_q;
    wire        rd_issue = (state == S_READ) && !issued[2] && !wr_en;
    wire [13:0] addr = wr_en ? wr_addr : {blk, issued[1:0]};
    always @(posedge clk) begin
        if (wr_en) mem[addr] <= wr_data;
        else if (rd_issue) mem_q <= mem[addr];
    end

    assign arready = (state == S_IDLE);
    assign rlast = 1'b1;
    assign rresp = 2'b00;
    wire unused_ar = &{1'b0, araddr[31:17], araddr[4:0], arlen, arsize, arburst};

    always @(posedge clk) begin
        if (rst) begin
            state <= S_IDLE;
            blk <= 12'd0;
            issued <= 3'd0;
            pend <= 1'b0;
            pend_word <= 2'd0;
            rvalid <= 1'b0;
            rdata <= 256'd0;
        end else begin
            pend <= rd_issue;
            pend_word <= issued[1:0];
            if (pend) rdata[{pend_word, 6'd0}+:64] <= mem_q;
            case (state)
                S_IDLE: begin
                    if (arvalid) begin
                        blk <= araddr[16:5];
                        issued <= 3'd0;
                        state <= S_READ;
                    end
                end
                S_READ: begin
                    if (rd_issue) issued <= issued + 3'd1;
                    if (issued[2] && !pend) begin  // the fourth word is in
                        rvalid <= 1'b1;
                        state <= S_RESP;
                    end
                end
                default: begin  // S_RESP
                    if (rready) begin
                        rvalid <= 1'b0;
                        state <= S_IDLE;
                    end
                end
            endcase
        end
    end
endmodule

`default_nettype wire
