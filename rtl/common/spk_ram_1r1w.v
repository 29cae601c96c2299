// spk_ram_1r1w: simple dual-port RAM, one synchronous write port and one synchronous read port.
// The read data register updates only when `re` is high, so a consumer can hold a read. A read
// and a write of the same address in the same cycle are undefined (the engines never issue one):
// simulators return the old word, and `no_rw_check` tells Yosys not to build collision logic
// around the iCE40 EBR for it (about one flip-flop per data and address bit per RAM otherwise).
// Written so that Yosys maps it to EBR and Verilator/Icarus simulate it directly.
`default_nettype none

module spk_ram_1r1w #(
    parameter DEPTH = 256,
    parameter WIDTH = 16,
    parameter AW    = (DEPTH > 1) ? $clog2(DEPTH) : 1
) (
    input  wire             clk,
    input  wire             we,
    input  wire [AW-1:0]    waddr,
    input  wire [WIDTH-1:0] wdata,
    input  wire             re,
    input  wire [AW-1:0]    raddr,
    output reg  [WIDTH-1:0] rdata
);
    (* no_rw_check *) reg [WIDTH-1:0] mem [0:DEPTH-1];

    always @(posedge clk) begin
        if (we) mem[waddr] <= wdata;
        if (re) rdata <= mem[raddr];
    end
endmodule

`default_nettype wire
