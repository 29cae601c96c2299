// spk_icebreaker_top: the iCEBreaker board (docs/fpga.md): 12 MHz oscillator -> SB_PLL40_PAD ->
// 25.125 MHz engine clock; reset from the button and the PLL lock; the UART bridge
// (rtl/fpga/spk_uart_bridge.v) on the FTDI's pins; the board memory (spk_board_mem, 128 KiB
// SPRAM) and the engine with its registers and results (spk_board_engine) on the bridge's bus;
// status LEDs. The address map is board_map.json's (generated board_map.vh).
//
// The same file is Verilated for spk-board-sim with SPK_BOARD_SIM defined: the PLL becomes a
// pass-through (the sim drives CLK at the engine clock, LOCK is 1) and the parameters below
// are set to the sim values (fewer clocks per UART bit, a short receive timeout, a fast blink);
// nothing else differs.
`default_nettype none

`include "board_map.vh"

module spk_icebreaker_top #(
    parameter CLKS_PER_BIT = `SPK_BOARD_CLKS_PER_BIT,
    parameter RX_TIMEOUT = `SPK_BOARD_RX_TIMEOUT_CYCLES,
    parameter CLOCK_KHZ = `SPK_BOARD_CLOCK_KHZ,
    parameter BLINK_BIT = 23,  // alive LED: bit of a free-running counter (23: 1.5 Hz)
    parameter DMAX = `SPK_BOARD_ENGINE_DMAX,
    parameter NMAX = `SPK_BOARD_ENGINE_NMAX,
    parameter NTOK = `SPK_BOARD_ENGINE_NTOK,
    parameter NHEAD = `SPK_BOARD_ENGINE_NHEAD,
    parameter KEY_LIST = `SPK_BOARD_ENGINE_KEY_LIST,
    parameter LSB_PLANE = 1
) (
    input  wire CLK,     // 12 MHz oscillator (pin 35)
    input  wire RX,      // UART from the FTDI (pin 6)
    output wire TX,      // UART to the FTDI (pin 9)
    input  wire BTN_N,   // user button, low when pressed (pin 10): reset
    output wire LEDR_N,  // red LED, low = on (pin 11): error
    output wire LEDG_N,  // green LED, low = on (pin 37): alive (blinks)
    output wire LED1     // PMOD2 LED1, high = on (pin 27): busy
);
    // ---- clock --------------------------------------------------------------------------------
    wire clk, lock;
`ifdef SPK_BOARD_SIM
    assign clk = CLK;
    assign lock = 1'b1;
`else
    // icepll -i 12 -o 25: 12 MHz * (DIVF + 1) / (2^DIVQ * (DIVR + 1)) = 12 * 67 / 32 = 25.125 MHz
    SB_PLL40_PAD #(
        .FEEDBACK_PATH("SIMPLE"),
        .DIVR(4'b0000),
        .DIVF(7'b1000010),
        .DIVQ(3'b101),
        .FILTER_RANGE(3'b001)
    ) pll (
        .PACKAGEPIN(CLK),
        .PLLOUTGLOBAL(clk),
        .LOCK(lock),
        .RESETB(1'b1),
        .BYPASS(1'b0)
    );
`endif

    // ---- reset: button or no lock, synchronised, held 16 cycles after both are fine -----------
    // Every flip-flop of an iCE40 is 0 after configuration (and Verilator's are 0 at start), so
    // the all-zero state of these registers is "in reset": the design is reset at power-on too.
    reg [1:0] ok_sync;   // button released and PLL locked, synchronised
    reg [3:0] rst_cnt;
    reg       rst_done;
    wire      rst_async = !BTN_N || !lock;
    wire      rst = !rst_done;
    always @(posedge clk or posedge rst_async) begin
        if (rst_async) ok_sync <= 2'b00;
        else ok_sync <= {ok_sync[0], 1'b1};
    end
    always @(posedge clk) begin
        if (!ok_sync[1]) begin
            rst_cnt <= 4'd0;
            rst_done <= 1'b0;
        end else if (rst_cnt != 4'hF) begin
            rst_cnt <= rst_cnt + 4'd1;
        end else begin
            rst_done <= 1'b1;
        end
    end

    // ---- bridge and bus -------------------------------------------------------------------------
    wire        bus_req, bus_we, bus_ack;
    wire [15:0] bus_addr;
    wire [31:0] bus_wdata, bus_rdata;
    wire        busy, error;
    reg  [BLINK_BIT:0] blink;
    spk_uart_bridge #(.CLKS_PER_BIT(CLKS_PER_BIT), .RX_TIMEOUT(RX_TIMEOUT),
                      .CLOCK_KHZ(CLOCK_KHZ)) bridge (
        .clk(clk), .rst(rst), .uart_rx(RX), .uart_tx(TX), .leds({error, busy, blink[BLINK_BIT]}),
        .bus_req(bus_req), .bus_we(bus_we), .bus_addr(bus_addr), .bus_wdata(bus_wdata),
        .bus_ack(bus_ack), .bus_rdata(bus_rdata));
    // word addresses 0x4000..0xBFFF: memory (word index {addr[15], addr[13:0]}); below: engine
    wire        to_mem = (bus_addr[15:14] != 2'b00);
    wire        e_ack, m_ack, h_ack;
    wire [31:0] e_rdata, m_rdata;

    // ---- memory: its host port serves the descriptor fetch first, then the bridge ------------
    wire        d_req;
    wire [14:0] d_addr;
    wire        arvalid, arready, rvalid, rready, rlast;
    wire [31:0] araddr;
    wire [7:0]  arlen;
    wire [2:0]  arsize;
    wire [1:0]  arburst, rresp;
    wire [63:0] rdata;
    // the owner of a host access is fixed while it is under way (until its ack)
    reg         own_d;
    wire        h_req = d_req || (bus_req && to_mem);
    wire        sel_d = h_req ? (own_d ? 1'b1 : d_req) : 1'b0;
    reg         h_busy;  // an access is under way (its owner may not change)
    always @(posedge clk) begin
        if (rst) begin
            own_d <= 1'b0;
            h_busy <= 1'b0;
        end else if (h_ack) begin
            h_busy <= 1'b0;
            own_d <= 1'b0;
        end else if (h_req && !h_busy) begin
            h_busy <= 1'b1;
            own_d <= d_req;
        end
    end
    wire use_d = h_busy ? own_d : sel_d;
    spk_board_mem memory (
        .clk(clk), .rst(rst), .h_req(h_req), .h_we(!use_d && bus_we),
        .h_addr(use_d ? d_addr : {bus_addr[15], bus_addr[13:0]}), .h_wdata(bus_wdata),
        .h_ack(h_ack), .h_rdata(m_rdata),
        .arvalid(arvalid), .arready(arready), .araddr(araddr), .arlen(arlen), .arsize(arsize),
        .arburst(arburst), .rvalid(rvalid), .rready(rready), .rdata(rdata), .rresp(rresp),
        .rlast(rlast));
    assign m_ack = h_ack && !use_d;
    wire d_ack = h_ack && use_d;

    spk_board_engine #(.DMAX(DMAX), .NMAX(NMAX), .NTOK(NTOK), .NHEAD(NHEAD), .KEY_LIST(KEY_LIST),
                       .LSB_PLANE(LSB_PLANE),
                       .CLOCK_KHZ(CLOCK_KHZ)) engine (
        .clk(clk), .rst(rst), .b_req(bus_req && !to_mem), .b_we(bus_we), .b_addr(bus_addr[11:0]),
        .b_wdata(bus_wdata), .b_ack(e_ack), .b_rdata(e_rdata),
        .m_req(d_req), .m_addr(d_addr), .m_ack(d_ack), .m_rdata(m_rdata),
        .arvalid(arvalid), .arready(arready), .araddr(araddr), .arlen(arlen), .arsize(arsize),
        .arburst(arburst), .rvalid(rvalid), .rready(rready), .rdata(rdata), .rresp(rresp),
        .rlast(rlast), .busy(busy), .error(error));
    assign bus_ack = to_mem ? m_ack : e_ack;
    assign bus_rdata = to_mem ? m_rdata : e_rdata;

    // ---- LEDs ---------------------------------------------------------------------------------
    always @(posedge clk) begin
        if (rst) blink <= {(BLINK_BIT + 1) {1'b0}};
        else blink <= blink + {{BLINK_BIT{1'b0}}, 1'b1};
    end
    assign LEDG_N = !blink[BLINK_BIT];
    assign LEDR_N = !error;
    assign LED1 = busy;
endmodule

`default_nettype wire
