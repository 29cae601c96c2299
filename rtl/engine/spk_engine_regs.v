// spk_engine_regs: spk_engine behind the device contract's registers (docs/rtl.md, "Engine
// behind the registers"; docs/device.md, "Engine operations"): the generated register block
// spk_csr (rtl/regs/spk_regs.json) on a register port, and a head request read from memory as
// the descriptor spk_eng_head_req (rtl/regs/spk_abi.json; its word offsets and field widths
// come from the generated rtl/regs/spk_abi.vh, so the RTL unpacking follows the one source).
//
// Operation: write ENG_DESC = device address of an spk_eng_head_req (80 bytes, 32-byte aligned),
// then ENG_CMD = SPK_ENG_OP_HEAD_REQ << SPK_ENG_CMD_OP_OFFSET | GO. The top then
//   FETCH  reads the descriptor with three single-beat 32-byte reads (words 0..7, 8..15, 16..23;
//          the last four are past its end and ignored), issued back to back on the AXI4 read
//          master it shares with the engine (the top owns the port while it fetches, the engine
//          is idle then; the engine owns it from the request's queueing on);
//          each field is taken from its word as its beat arrives (only the bits the hardware
//          uses are kept), and a field with bits set above its width marks the descriptor bad;
//   QUEUE  offers the request to spk_engine's descriptor FIFO (one cycle: the FIFO is empty);
//   RUN    waits for the engine's `done`; the results are on the engine's streams meanwhile.
// ENG_STATUS (register map layout): BUSY from the GO until the end; then DONE, with ERROR and
// REASON (an SPK_ERR_* code) for
//   SPK_ERR_DMA          an ENG_DESC not 32-byte aligned (nothing read), an RRESP other than
//                        OKAY (or no RLAST) on a descriptor beat (the engine is not started) or
//                        on any of the engine's reads (engine bus_error; the request ran);
//   SPK_ERR_ENGINE       a field wider than its ABI width (the engine is not started), the
//                        engine's bad_cmd (nothing computed), or a GO while busy (lost; the
//                        running operation reports the error when it ends, as device/engine.c);
//   SPK_ERR_UNSUPPORTED  GO with ENG_CMD.OP one of the contract's operations 1..6 (this top runs
//                        head requests only); any other unknown op gives SPK_ERR_ENGINE.
// The status of a refused GO is written in the cycle after the write (BUSY is never seen).
// `op_done` pulses in the cycle ENG_STATUS turns from BUSY to DONE (or for a refused GO).
//
// Register port: one access per cycle, always accepted: `reg_req` with `reg_we`, byte address
// `reg_addr` in the 4 KiB window (bits 1:0 ignored) and `reg_wdata`; a read's data is on
// `reg_rdata` with `reg_rvalid` in the next cycle (registered). The window is spk_csr's: the
// PARAM_* registers read this engine's parameters, the PERF_ENG_* counters and PERF_TIME count
// here, registers of the control core and the ring (CTRL, STATUS, RING_*, ERR_*, INTR_STATE, ...)
// are plain storage (no core here), ENG_ALIVE_* read 0 (no prune unit).
// Everything else (streams, importance bank) is spk_engine's own ports, passed through.
`default_nettype none

`include "spk_abi.vh"
`include "spk_regs.vh"

module spk_engine_regs #(
    parameter DMAX = 64,   // spk_engine's parameters (docs/rtl.md, "Engine top")
    parameter M    = 8,
    parameter NMAX = 512,
    parameter P    = 8,
    parameter QDEPTH = 4,
    parameter NTOK = 1024,
    parameter NHEAD = 16,
    parameter CLOCK_KHZ = 1000000,  // PARAM_CLOCK_KHZ
    // derived, do not override
    parameter DW   = $clog2(DMAX + 1),
    parameter AW   = $clog2(NMAX),
    parameter IW   = $clog2(DMAX),
    parameter TKW  = $clog2(NTOK + NHEAD)
) (
    input  wire            clk,
    input  wire            rst,

    // register port (spk_csr's window)
    input  wire            reg_req,
    input  wire            reg_we,
    input  wire [11:0]     reg_addr,
    input  wire [31:0]     reg_wdata,
    output reg             reg_rvalid,
    output reg  [31:0]     reg_rdata,
    output reg             op_done,       // ENG_STATUS just left BUSY (or a GO was refused)

    // AXI4 read master (single-beat INCR bursts of 32 bytes): descriptor fetch, then the engine
    output wire            arvalid,
    input  wire            arready,
    output wire [31:0]     araddr,
    output wire [7:0]      arlen,
    output wire [2:0]      arsize,
    output wire [1:0]      arburst,
    input  wire            rvalid,
    output wire            rready,
    input  wire [255:0]    rdata,
    input  wire [1:0]      rresp,
    input  wire            rlast,

    // spk_engine's ports (idle: also no descriptor being fetched)
    output wire            idle,
    output wire [7:0]      run_tag,
    input  wire            imp_clear,
    output wire            imp_busy,
    input  wire            imp_rd_en,
    input  wire [TKW-1:0]  imp_rd_index,
    output wire            imp_rd_valid,
    output wire [47:0]     imp_rd_value,
    output wire            prob_valid,
    output wire [AW-1:0]   prob_index,
    output wire [15:0]     prob_value,
    output wire            vkey_valid,
    output wire [15:0]     vkey_token,
    output wire            out_valid,
    output wire [IW-1:0]   out_index,
    output wire [31:0]     out_value,
    output wire            done,
    output wire            bad_cmd,
    output wire            bus_error,
    output wire [9:0]      out_exp,
    output wire [47:0]     head_importance,
    output wire            requant,
    output wire [15:0]     keys_fetched,
    output wire [15:0]     values_fetched
);
    localparam [1:0] S_IDLE = 2'd0, S_FETCH = 2'd1, S_QUEUE = 2'd2, S_RUN = 2'd3;
    localparam [31:0] ERR_DMA32 = `SPK_ERR_DMA, ERR_ENGINE32 = `SPK_ERR_ENGINE;
    localparam [31:0] ERR_UNSUPPORTED32 = `SPK_ERR_UNSUPPORTED;
    localparam [7:0] ERR_DMA = ERR_DMA32[7:0], ERR_ENGINE = ERR_ENGINE32[7:0];
    localparam [7:0] ERR_UNSUPPORTED = ERR_UNSUPPORTED32[7:0];
    localparam integer GO_BIT = `SPK_ENG_CMD_GO_OFFSET;
    localparam integer OP_LSB = `SPK_ENG_CMD_OP_OFFSET;
    localparam integer ST_BUSY = `SPK_ENG_STATUS_BUSY_OFFSET;
    localparam integer ST_DONE = `SPK_ENG_STATUS_DONE_OFFSET;
    localparam integer ST_ERROR = `SPK_ENG_STATUS_ERROR_OFFSET;
    localparam integer ST_REASON = `SPK_ENG_STATUS_REASON_OFFSET;
    localparam integer DESC_BEATS = (`SPK_ENG_REQ_WORDS + 7) / 8;  // 32-byte reads (3)
    localparam integer LAST_BEAT_I = DESC_BEATS - 1;
    localparam [1:0] LAST_BEAT = LAST_BEAT_I[1:0];

    reg  [1:0]  state;
    reg  [31:0] eng_status;  // ENG_STATUS
    reg  [31:0] desc_addr;
    reg  [1:0]  ar_cnt, r_cnt;  // descriptor reads issued, beats taken
    reg         desc_bad;       // a field has bits above its width
    reg         desc_bus_err;   // a descriptor beat came with RRESP != OKAY or without RLAST
    reg         lost_go;        // a GO arrived while busy
    reg  [31:0] perf_requests, perf_cycles, perf_bytes;
    reg  [63:0] perf_time;

    // ---- register block -------------------------------------------------------------------
    wire [31:0] csr_rdata;
    wire        cmd_we, desc_we;
    wire [31:0] r_ctrl, r_status, r_doorbell, r_ring_base, r_ring_size, r_ring_head, r_ring_tail;
    wire [31:0] r_fence, r_intr, r_err_status, r_err_pc, r_err_addr, r_heartbeat, r_cmd, r_desc;
    wire [31:0] r_head, r_keep_tokens, r_keep_heads;
    wire        we_ctrl, we_status, we_doorbell, we_ring_base, we_ring_size, we_ring_head;
    wire        we_ring_tail, we_fence, we_intr, we_err_status, we_err_pc, we_err_addr;
    wire        we_heartbeat, we_head, we_keep_tokens, we_keep_heads;
    localparam [31:0] CAPS = (32'h1 << `SPK_CAPS_PROGRESSIVE_QUANT_OFFSET) |
                             (32'h1 << `SPK_CAPS_LOCAL_V_TOPK_OFFSET);
    localparam [31:0] M32 = M;
    localparam [31:0] P32 = P, DMAX32 = DMAX, NMAX32 = NMAX, KHZ32 = CLOCK_KHZ;
    // one channel of 32 bytes per cycle (the AXI data bus)
    localparam [31:0] DRAM = (32'd32 << `SPK_PARAM_DRAM_BYTES_PER_CYCLE_OFFSET) |
                             (32'd1 << `SPK_PARAM_DRAM_CHANNELS_OFFSET);
    spk_csr csr (
        .clk_i(clk), .rst_ni(!rst), .req_i(reg_req), .we_i(reg_we), .word_addr_i(reg_addr[11:2]),
        .wdata_i(reg_wdata), .rdata_o(csr_rdata),
        .hw_caps_i(CAPS), .hw_param_mult_i({M32[15:0], M32[15:0]}), .hw_param_topk_i(P32),
        .hw_param_dram_i(DRAM), .hw_param_max_d_i(DMAX32), .hw_param_max_keys_i(NMAX32),
        .reg_ctrl_o(r_ctrl), .reg_ctrl_we_o(we_ctrl),
        .reg_status_o(r_status), .reg_status_we_o(we_status),
        .hw_status_de_i(1'b0), .hw_status_d_i(32'd0),
        .reg_doorbell_o(r_doorbell), .reg_doorbell_we_o(we_doorbell),
        .reg_ring_base_o(r_ring_base), .reg_ring_base_we_o(we_ring_base),
        .reg_ring_size_o(r_ring_size), .reg_ring_size_we_o(we_ring_size),
        .reg_ring_head_o(r_ring_head), .reg_ring_head_we_o(we_ring_head),
        .reg_ring_tail_o(r_ring_tail), .reg_ring_tail_we_o(we_ring_tail),
        .reg_fence_done_o(r_fence), .reg_fence_done_we_o(we_fence),
        .reg_intr_state_o(r_intr), .reg_intr_state_we_o(we_intr), .hw_intr_state_set_i(32'd0),
        .reg_err_status_o(r_err_status), .reg_err_status_we_o(we_err_status),
        .hw_err_status_de_i(1'b0), .hw_err_status_d_i(32'd0),
        .reg_err_pc_o(r_err_pc), .reg_err_pc_we_o(we_err_pc),
        .hw_err_pc_de_i(1'b0), .hw_err_pc_d_i(32'd0),
        .reg_err_addr_o(r_err_addr), .reg_err_addr_we_o(we_err_addr),
        .hw_err_addr_de_i(1'b0), .hw_err_addr_d_i(32'd0),
        .reg_fw_heartbeat_o(r_heartbeat), .reg_fw_heartbeat_we_o(we_heartbeat),
        .hw_param_clock_khz_i(KHZ32), .hw_perf_core_cycles_i(32'd0),
        .hw_perf_core_instret_i(32'd0), .hw_perf_eng_requests_i(perf_requests),
        .hw_perf_eng_cycles_i(perf_cycles), .hw_perf_dram_bytes_i(perf_bytes),
        .hw_perf_time_lo_i(perf_time[31:0]), .hw_perf_time_hi_i(perf_time[63:32]),
        .reg_eng_cmd_o(r_cmd), .reg_eng_cmd_we_o(cmd_we), .hw_eng_status_i(eng_status),
        .reg_eng_desc_o(r_desc), .reg_eng_desc_we_o(desc_we),
        .reg_eng_head_o(r_head), .reg_eng_head_we_o(we_head),
        .reg_eng_keep_tokens_o(r_keep_tokens), .reg_eng_keep_tokens_we_o(we_keep_tokens),
        .reg_eng_keep_heads_o(r_keep_heads), .reg_eng_keep_heads_we_o(we_keep_heads),
        .hw_eng_alive_tokens_i(32'd0), .hw_eng_alive_heads_i(32'd0));
    // registers without hardware behind them here (no control core, no ring, no prune unit)
    wire unused_csr = &{1'b0, r_ctrl, r_status, r_doorbell, r_ring_base, r_ring_size, r_ring_head,
                        r_ring_tail, r_fence, r_intr, r_err_status, r_err_pc, r_err_addr,
                        r_heartbeat, r_cmd, r_head, r_keep_tokens, r_keep_heads, we_ctrl,
                        we_status, we_doorbell, we_ring_base, we_ring_size, we_ring_head,
                        we_ring_tail, we_fence, we_intr, we_err_status, we_err_pc, we_err_addr,
                        we_heartbeat, we_head, we_keep_tokens, we_keep_heads, desc_we,
                        reg_addr[1:0]};

    // the GO of this write (ENG_CMD is written in the cycle of the strobe; its value is wdata)
    wire        go = cmd_we && reg_wdata[GO_BIT];
    wire [3:0]  go_op = reg_wdata[OP_LSB+:4];
    wire        go_head_req = (go_op == `SPK_ENG_OP_HEAD_REQ);
    // the contract's other operations are the emulated front-end's (docs/device.md): refused here
    wire        go_contract_op = ((go_op >= `SPK_ENG_OP_LAYER_BEGIN) &&
                                  (go_op <= `SPK_ENG_OP_CONTEXT_CLOSE)) ||
                                 (go_op == `SPK_ENG_OP_CONTEXT_READ);

    // ---- descriptor fields, taken from their beats ------------------------------------------
    // A field of the ABI width W at word WORD is in beat WORD / 8, lane WORD % 8.
    function field_wide;  // bits set above the field's width
        input [31:0] w;
        input integer bits;
        field_wide = (bits < 32) && ((w >> bits) != 32'd0);
    endfunction
    reg [`SPK_ENG_REQ_TAG_W-1:0]          f_tag;
    reg [`SPK_ENG_REQ_HEAD_W-1:0]         f_head;
    reg [`SPK_ENG_REQ_D_W-1:0]            f_d;
    reg [`SPK_ENG_REQ_MSB_BITS_W-1:0]     f_msb;
    reg [`SPK_ENG_REQ_LSB_BITS_W-1:0]     f_lsb;
    reg [`SPK_ENG_REQ_THRESHOLD_W-1:0]    f_thr;
    reg [`SPK_ENG_REQ_V_KEEP_W-1:0]       f_keep;
    reg [`SPK_ENG_REQ_N_KEYS_W-1:0]       f_n;
    reg [`SPK_ENG_REQ_KEY_BASE_W-1:0]     f_key_base;
    reg [`SPK_ENG_REQ_KEY_LIST_W-1:0]     f_key_list;
    reg [`SPK_ENG_REQ_KEYS_BASE_W-1:0]    f_keys_base;
    reg [`SPK_ENG_REQ_Q_SCALE_W-1:0]      f_q_scale;
    reg [`SPK_ENG_REQ_Q_BASE_W-1:0]       f_q_base;
    reg [`SPK_ENG_REQ_K_MSB_BASE_W-1:0]   f_k_msb;
    reg [`SPK_ENG_REQ_K_LSB_BASE_W-1:0]   f_k_lsb;
    reg [`SPK_ENG_REQ_V_MSB_BASE_W-1:0]   f_v_msb;
    reg [`SPK_ENG_REQ_V_LSB_BASE_W-1:0]   f_v_lsb;
    reg [`SPK_ENG_REQ_K_SCALE_BASE_W-1:0] f_k_scale;
    reg [`SPK_ENG_REQ_V_SCALE_BASE_W-1:0] f_v_scale;
    wire beat = (state == S_FETCH) && rvalid;  // a descriptor beat is taken (rready high)
    // CAP(reg, WORD, W): take the field from its beat; WIDE(WORD, W): it has bits set above W
`define SPK_REGS_CAP(R, WORD, W) \
        if ({30'd0, r_cnt} == (WORD) / 8) R <= rdata[((WORD) % 8) * 32 +: (W)];
`define SPK_REGS_WIDE(WORD, W) \
        (({30'd0, r_cnt} == (WORD) / 8) && field_wide(rdata[((WORD) % 8) * 32 +: 32], W))
    wire beat_wide =  // a field of this beat is wider than the ABI says
        `SPK_REGS_WIDE(`SPK_ENG_REQ_TAG_WORD, `SPK_ENG_REQ_TAG_W) ||
        `SPK_REGS_WIDE(`SPK_ENG_REQ_HEAD_WORD, `SPK_ENG_REQ_HEAD_W) ||
        `SPK_REGS_WIDE(`SPK_ENG_REQ_D_WORD, `SPK_ENG_REQ_D_W) ||
        `SPK_REGS_WIDE(`SPK_ENG_REQ_MSB_BITS_WORD, `SPK_ENG_REQ_MSB_BITS_W) ||
        `SPK_REGS_WIDE(`SPK_ENG_REQ_LSB_BITS_WORD, `SPK_ENG_REQ_LSB_BITS_W) ||
        `SPK_REGS_WIDE(`SPK_ENG_REQ_THRESHOLD_WORD, `SPK_ENG_REQ_THRESHOLD_W) ||
        `SPK_REGS_WIDE(`SPK_ENG_REQ_V_KEEP_WORD, `SPK_ENG_REQ_V_KEEP_W) ||
        `SPK_REGS_WIDE(`SPK_ENG_REQ_N_KEYS_WORD, `SPK_ENG_REQ_N_KEYS_W) ||
        `SPK_REGS_WIDE(`SPK_ENG_REQ_KEY_BASE_WORD, `SPK_ENG_REQ_KEY_BASE_W) ||
        `SPK_REGS_WIDE(`SPK_ENG_REQ_KEY_LIST_WORD, `SPK_ENG_REQ_KEY_LIST_W) ||
        `SPK_REGS_WIDE(`SPK_ENG_REQ_KEYS_BASE_WORD, `SPK_ENG_REQ_KEYS_BASE_W) ||
        `SPK_REGS_WIDE(`SPK_ENG_REQ_Q_SCALE_WORD, `SPK_ENG_REQ_Q_SCALE_W) ||
        `SPK_REGS_WIDE(`SPK_ENG_REQ_Q_BASE_WORD, `SPK_ENG_REQ_Q_BASE_W) ||
        `SPK_REGS_WIDE(`SPK_ENG_REQ_K_MSB_BASE_WORD, `SPK_ENG_REQ_K_MSB_BASE_W) ||
        `SPK_REGS_WIDE(`SPK_ENG_REQ_K_LSB_BASE_WORD, `SPK_ENG_REQ_K_LSB_BASE_W) ||
        `SPK_REGS_WIDE(`SPK_ENG_REQ_V_MSB_BASE_WORD, `SPK_ENG_REQ_V_MSB_BASE_W) ||
        `SPK_REGS_WIDE(`SPK_ENG_REQ_V_LSB_BASE_WORD, `SPK_ENG_REQ_V_LSB_BASE_W) ||
        `SPK_REGS_WIDE(`SPK_ENG_REQ_K_SCALE_BASE_WORD, `SPK_ENG_REQ_K_SCALE_BASE_W) ||
        `SPK_REGS_WIDE(`SPK_ENG_REQ_V_SCALE_BASE_WORD, `SPK_ENG_REQ_V_SCALE_BASE_W);
    // Field registers have no reset: each is written by its beat before the request is queued.
    always @(posedge clk) begin
        if (beat) begin
            `SPK_REGS_CAP(f_tag, `SPK_ENG_REQ_TAG_WORD, `SPK_ENG_REQ_TAG_W)
            `SPK_REGS_CAP(f_head, `SPK_ENG_REQ_HEAD_WORD, `SPK_ENG_REQ_HEAD_W)
            `SPK_REGS_CAP(f_d, `SPK_ENG_REQ_D_WORD, `SPK_ENG_REQ_D_W)
            `SPK_REGS_CAP(f_msb, `SPK_ENG_REQ_MSB_BITS_WORD, `SPK_ENG_REQ_MSB_BITS_W)
            `SPK_REGS_CAP(f_lsb, `SPK_ENG_REQ_LSB_BITS_WORD, `SPK_ENG_REQ_LSB_BITS_W)
            `SPK_REGS_CAP(f_thr, `SPK_ENG_REQ_THRESHOLD_WORD, `SPK_ENG_REQ_THRESHOLD_W)
            `SPK_REGS_CAP(f_keep, `SPK_ENG_REQ_V_KEEP_WORD, `SPK_ENG_REQ_V_KEEP_W)
            `SPK_REGS_CAP(f_n, `SPK_ENG_REQ_N_KEYS_WORD, `SPK_ENG_REQ_N_KEYS_W)
            `SPK_REGS_CAP(f_key_base, `SPK_ENG_REQ_KEY_BASE_WORD, `SPK_ENG_REQ_KEY_BASE_W)
            `SPK_REGS_CAP(f_key_list, `SPK_ENG_REQ_KEY_LIST_WORD, `SPK_ENG_REQ_KEY_LIST_W)
            `SPK_REGS_CAP(f_keys_base, `SPK_ENG_REQ_KEYS_BASE_WORD, `SPK_ENG_REQ_KEYS_BASE_W)
            `SPK_REGS_CAP(f_q_scale, `SPK_ENG_REQ_Q_SCALE_WORD, `SPK_ENG_REQ_Q_SCALE_W)
            `SPK_REGS_CAP(f_q_base, `SPK_ENG_REQ_Q_BASE_WORD, `SPK_ENG_REQ_Q_BASE_W)
            `SPK_REGS_CAP(f_k_msb, `SPK_ENG_REQ_K_MSB_BASE_WORD, `SPK_ENG_REQ_K_MSB_BASE_W)
            `SPK_REGS_CAP(f_k_lsb, `SPK_ENG_REQ_K_LSB_BASE_WORD, `SPK_ENG_REQ_K_LSB_BASE_W)
            `SPK_REGS_CAP(f_v_msb, `SPK_ENG_REQ_V_MSB_BASE_WORD, `SPK_ENG_REQ_V_MSB_BASE_W)
            `SPK_REGS_CAP(f_v_lsb, `SPK_ENG_REQ_V_LSB_BASE_WORD, `SPK_ENG_REQ_V_LSB_BASE_W)
            `SPK_REGS_CAP(f_k_scale, `SPK_ENG_REQ_K_SCALE_BASE_WORD, `SPK_ENG_REQ_K_SCALE_BASE_W)
            `SPK_REGS_CAP(f_v_scale, `SPK_ENG_REQ_V_SCALE_BASE_WORD, `SPK_ENG_REQ_V_SCALE_BASE_W)
        end
    end
`undef SPK_REGS_CAP
`undef SPK_REGS_WIDE

    // d: the ABI's 7 bits onto the engine's DW-bit port (a d that does not fit is refused)
    wire [DW-1:0] e_d;
    wire          d_over;
    generate
        if (DW >= `SPK_ENG_REQ_D_W) begin : d_wide
            assign e_d = {{(DW - `SPK_ENG_REQ_D_W) {1'b0}}, f_d};
            assign d_over = 1'b0;
        end else begin : d_narrow
            assign e_d = f_d[DW-1:0];
            assign d_over = |f_d[`SPK_ENG_REQ_D_W-1:DW];
        end
    endgenerate

    // ---- AXI read port: the descriptor reads while fetching, else the engine ----------------
    wire        own = (state == S_FETCH);
    wire        d_arvalid = own && (ar_cnt != DESC_BEATS[1:0]);
    wire [31:0] d_araddr = {desc_addr[31:5] + {25'd0, ar_cnt}, 5'd0};
    wire        e_arvalid, e_rready;
    wire [31:0] e_araddr;
    wire [7:0]  e_arlen;
    wire [2:0]  e_arsize;
    wire [1:0]  e_arburst;
    assign arvalid = own ? d_arvalid : e_arvalid;
    assign araddr = own ? d_araddr : e_araddr;
    assign arlen = own ? 8'd0 : e_arlen;
    assign arsize = own ? 3'd5 : e_arsize;
    assign arburst = own ? 2'b01 : e_arburst;
    assign rready = own ? 1'b1 : e_rready;
    wire unused_desc = &{1'b0, desc_addr[4:0], e_req_ready};

    // ---- engine -----------------------------------------------------------------------------
    wire e_idle, e_req_ready;  // the FIFO is empty when a request is offered: always ready
    spk_engine #(.DMAX(DMAX), .M(M), .NMAX(NMAX), .P(P), .QDEPTH(QDEPTH), .NTOK(NTOK),
                 .NHEAD(NHEAD)) engine (
        .clk(clk), .rst(rst), .req_valid(state == S_QUEUE && !desc_bad && !d_over &&
                                         !desc_bus_err),
        .req_ready(e_req_ready), .tag(f_tag), .head(f_head), .d(e_d), .msb_bits(f_msb),
        .lsb_bits(f_lsb), .threshold(f_thr), .v_keep(f_keep), .n_keys(f_n),
        .key_base(f_key_base), .key_list(f_key_list), .keys_base(f_keys_base),
        .q_scale(f_q_scale), .q_base(f_q_base), .k_msb_base(f_k_msb), .k_lsb_base(f_k_lsb),
        .v_msb_base(f_v_msb), .v_lsb_base(f_v_lsb), .k_scale_base(f_k_scale),
        .v_scale_base(f_v_scale),
        .arvalid(e_arvalid), .arready(arready && !own), .araddr(e_araddr), .arlen(e_arlen),
        .arsize(e_arsize), .arburst(e_arburst), .rvalid(rvalid && !own), .rready(e_rready),
        .rdata(rdata), .rresp(rresp), .rlast(rlast),
        .idle(e_idle), .run_tag(run_tag),
        .imp_clear(imp_clear), .imp_busy(imp_busy), .imp_rd_en(imp_rd_en),
        .imp_rd_index(imp_rd_index), .imp_rd_valid(imp_rd_valid), .imp_rd_value(imp_rd_value),
        .prob_valid(prob_valid), .prob_index(prob_index), .prob_value(prob_value),
        .vkey_valid(vkey_valid), .vkey_token(vkey_token),
        .out_valid(out_valid), .out_index(out_index), .out_value(out_value),
        .done(done), .bad_cmd(bad_cmd), .bus_error(bus_error), .out_exp(out_exp),
        .head_importance(head_importance), .requant(requant), .keys_fetched(keys_fetched),
        .values_fetched(values_fetched));
    assign idle = e_idle && (state == S_IDLE);

    // ---- control --------------------------------------------------------------------------
    // ENG_STATUS of a finished operation: DONE, and ERROR with REASON when err
    function [31:0] st_end;
        input       err;
        input [7:0] reason;
        st_end = (32'h1 << ST_DONE) | (err ? ((32'h1 << ST_ERROR) |
                                              ({24'd0, reason} << ST_REASON)) : 32'd0);
    endfunction
    // the engine's end: its bad_cmd and bus_error (kept until its next request) and a lost GO
    wire [7:0] run_reason = bad_cmd ? ERR_ENGINE : bus_error ? ERR_DMA : ERR_ENGINE;
    always @(posedge clk) begin
        if (rst) begin
            state <= S_IDLE;
            eng_status <= 32'd0;
            desc_addr <= 32'd0;
            ar_cnt <= 2'd0;
            r_cnt <= 2'd0;
            desc_bad <= 1'b0;
            desc_bus_err <= 1'b0;
            lost_go <= 1'b0;
            op_done <= 1'b0;
            reg_rvalid <= 1'b0;
            reg_rdata <= 32'd0;
            perf_requests <= 32'd0;
            perf_cycles <= 32'd0;
            perf_bytes <= 32'd0;
            perf_time <= 64'd0;
        end else begin
            op_done <= 1'b0;
            reg_rvalid <= reg_req && !reg_we;
            if (reg_req && !reg_we) reg_rdata <= csr_rdata;
            perf_time <= perf_time + 64'd1;
            if (state != S_IDLE) perf_cycles <= perf_cycles + 32'd1;
            if (done) perf_requests <= perf_requests + 32'd1;
            if (arvalid && arready) perf_bytes <= perf_bytes + 32'd32;
            if (go && state != S_IDLE) lost_go <= 1'b1;
            case (state)
                S_IDLE: if (go) begin
                    if (!go_head_req) begin
                        eng_status <= st_end(1'b1, go_contract_op ? ERR_UNSUPPORTED : ERR_ENGINE);
                        op_done <= 1'b1;
                    end else if (r_desc[4:0] != 5'd0) begin  // ENG_DESC was written before
                        eng_status <= st_end(1'b1, ERR_DMA);
                        op_done <= 1'b1;
                    end else begin
                        eng_status <= 32'h1 << ST_BUSY;
                        desc_addr <= r_desc;
                        ar_cnt <= 2'd0;
                        r_cnt <= 2'd0;
                        desc_bad <= 1'b0;
                        desc_bus_err <= 1'b0;
                        lost_go <= 1'b0;
                        state <= S_FETCH;
                    end
                end
                S_FETCH: begin
                    if (d_arvalid && arready) ar_cnt <= ar_cnt + 2'd1;
                    if (rvalid) begin
                        r_cnt <= r_cnt + 2'd1;
                        if (rresp != 2'b00 || !rlast) desc_bus_err <= 1'b1;
                        if (beat_wide) desc_bad <= 1'b1;
                        if (r_cnt == LAST_BEAT) state <= S_QUEUE;
                    end
                end
                S_QUEUE: begin  // the engine's FIFO is empty: req_valid is taken in this cycle
                    if (desc_bus_err || desc_bad || d_over) begin
                        eng_status <= st_end(1'b1, desc_bus_err ? ERR_DMA : ERR_ENGINE);
                        op_done <= 1'b1;
                        state <= S_IDLE;
                    end else begin
                        state <= S_RUN;
                    end
                end
                default: if (done) begin  // S_RUN
                    eng_status <= st_end(bad_cmd || bus_error || lost_go || go, run_reason);
                    op_done <= 1'b1;
                    state <= S_IDLE;
                end
            endcase
        end
    end
endmodule

`default_nettype wire
