// spk_axi_spram: the on-chip memory of the UP5K engine build. 128 KiB as 16K words of 64 bits in
// one single-port RAM (synth_ice40 -spram maps it to the four 16K x 16 SB_SPRAM256KA blocks),
// with a write port for the host's loader and an AXI4 read slave with a 64-bit data bus.
//
// AXI reads: one request at a time (arready only while idle); each is a single 8-byte beat
// (ARLEN = 0, ARSIZE = 3, what spk_engine_compact issues with BUSW = 64): the RAM word at
// araddr[16:3] goes out on rdata straight from the RAM's output register and stays there until
// rready (the RAM is not read again meanwhile), always OKAY. The wrapper ties the upper address
// bits to 0. A host write takes the RAM port for its cycle (the output register keeps its
// word); a read waits for it.
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
    output wire [63:0]  rdata,
    output wire [1:0]   rresp,
    output wire         rlast
);
    localparam [1:0] S_IDLE = 2'd0, S_READ = 2'd1, S_RESP = 2'd2;

    reg [1:0]  state;
    reg [13:0] word_addr;  // word being read

    // ---- the RAM: one port, write or read ---------------------------------------------------
    // One address for both (SB_SPRAM256KA has a single port; yosys maps only this shape).
    reg  [63:0] mem [0:16383];
    reg  [63:0] mem_q;
    wire        rd_issue = (state == S_READ) && !wr_en;
    wire [13:0] addr = wr_en ? wr_addr : word_addr;
    always @(posedge clk) begin
        if (wr_en) mem[addr] <= wr_data;
        else if (rd_issue) mem_q <= mem[addr];
    end

    assign arready = (state == S_IDLE);
    assign rdata = mem_q;
    assign rlast = 1'b1;
    assign rresp = 2'b00;
    wire unused_ar = &{1'b0, araddr[31:17], araddr[2:0], arlen, arsize, arburst};

    always @(posedge clk) begin
        if (rst) begin
            state <= S_IDLE;
            word_addr <= 14'd0;
            rvalid <= 1'b0;
        end else begin
            case (state)
                S_IDLE: begin
                    if (arvalid) begin
                        word_addr <= araddr[16:3];
                        state <= S_READ;
                    end
                end
                S_READ: begin
                    if (rd_issue) begin  // the word is in mem_q next cycle
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
