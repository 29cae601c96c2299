// spk_board_mem: the board memory (docs/fpga.md): 128 KiB as 16K words of 64 bits in one
// single-port RAM that synth_ice40 -spram maps to the four SB_SPRAM256KA blocks (as
// spk_axi_spram, which the UP5K-only build keeps), with
//   - a 32-bit host port for the bridge and the descriptor fetch: `h_req` held with `h_we`,
//     `h_addr` (32-bit word index, byte address / 4) and `h_wdata` until `h_ack` pulses (with
//     `h_rdata` for a read), one to three cycles later; the word at index k is bytes 4k..4k+3,
//     little-endian (byte 4k in bits 7:0), the half k % 2 of the 64-bit RAM word k / 2 (a write
//     changes only its half: the SPRAM's nibble write mask);
//   - the engine's AXI4 read slave (single 8-byte beats, always OKAY, as spk_axi_spram).
// One port: a host access is served only while the AXI side holds no beat (its beat is the
// RAM's output register), and it goes first when both want the port; an engine run therefore
// slows host accesses but never starves them (the engine releases the beat between its reads).
`default_nettype none

module spk_board_mem (
    input  wire         clk,
    input  wire         rst,
    // host port
    input  wire         h_req,
    input  wire         h_we,
    input  wire [14:0]  h_addr,
    input  wire [31:0]  h_wdata,
    output reg          h_ack,
    output wire [31:0]  h_rdata,
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
    localparam [1:0] S_IDLE = 2'd0, S_READ = 2'd1, S_RESP = 2'd2, S_HOST = 2'd3;

    reg [1:0]  state;
    reg [13:0] word_addr;  // AXI word being read
    reg        h_half;     // half of the host's read word

    // the host takes the port in an idle cycle (and the AXI request waits: arready low)
    wire        h_go = (state == S_IDLE) && h_req && !h_ack;
    reg  [63:0] mem [0:16383];
    reg  [63:0] mem_q;
    wire        rd_issue = (state == S_READ);
    wire [13:0] addr = h_go ? h_addr[14:1] : word_addr;
    wire [63:0] wdata = {h_wdata, h_wdata};
    always @(posedge clk) begin
        if (h_go && h_we) begin
            if (h_addr[0]) mem[addr][63:32] <= wdata[63:32];
            else mem[addr][31:0] <= wdata[31:0];
        end else if (rd_issue || (h_go && !h_we)) begin
            mem_q <= mem[addr];
        end
    end

    assign arready = (state == S_IDLE) && !h_go;
    assign rdata = mem_q;
    assign rlast = 1'b1;
    assign rresp = 2'b00;
    assign h_rdata = h_half ? mem_q[63:32] : mem_q[31:0];
    wire unused_ar = &{1'b0, araddr[31:17], araddr[2:0], arlen, arsize, arburst};

    always @(posedge clk) begin
        if (rst) begin
            state <= S_IDLE;
            word_addr <= 14'd0;
            rvalid <= 1'b0;
            h_ack <= 1'b0;
            h_half <= 1'b0;
        end else begin
            h_ack <= 1'b0;
            case (state)
                S_IDLE: begin
                    if (h_go) begin
                        h_half <= h_addr[0];
                        if (h_we) h_ack <= 1'b1;  // written in this cycle
                        else state <= S_HOST;     // mem_q holds the word next cycle
                    end else if (arvalid) begin
                        word_addr <= araddr[16:3];
                        state <= S_READ;
                    end
                end
                S_HOST: begin
                    h_ack <= 1'b1;
                    state <= S_IDLE;
                end
                S_READ: begin  // the word is in mem_q next cycle
                    rvalid <= 1'b1;
                    state <= S_RESP;
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
