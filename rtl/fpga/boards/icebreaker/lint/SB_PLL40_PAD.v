// SB_PLL40_PAD, lint stand-in only (lint-board): the ports and parameters of the iCE40 PLL cell
// that spk_icebreaker_top uses, the clock passed through and LOCK high. Synthesis uses yosys's
// own cell library; spk-board-sim uses SPK_BOARD_SIM instead (no PLL at all).
`default_nettype none

module SB_PLL40_PAD #(
    parameter FEEDBACK_PATH = "SIMPLE",
    parameter [3:0] DIVR = 4'b0000,
    parameter [6:0] DIVF = 7'b0000000,
    parameter [2:0] DIVQ = 3'b000,
    parameter [2:0] FILTER_RANGE = 3'b000
) (
    input  wire PACKAGEPIN,
    output wire PLLOUTGLOBAL,
    output wire LOCK,
    input  wire RESETB,
    input  wire BYPASS
);
    wire unused = &{1'b0, RESETB, BYPASS};
    assign PLLOUTGLOBAL = PACKAGEPIN;
    assign LOCK = 1'b1;
endmodule

`default_nettype wire
