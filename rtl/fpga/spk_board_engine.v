// spk_board_engine: the engine of the board (docs/fpga.md): spk_engine_compact behind the
// device contract's engine registers (the ENGINE window, at their offsets of spk_regs.json) and
// the RESULT window, as a slave of the bridge's bus; its descriptor is read from the board memory
// and its memory reads go to spk_board_mem's AXI slave.
//
// Operation (docs/device.md, "Engine operations"; as rtl/engine/spk_engine_regs.v):
//   ENG_DESC = engine address of an spk_eng_head_req (rtl/regs/spk_abi.json), then
//   ENG_CMD = SPK_ENG_OP_HEAD_REQ << SPK_ENG_CMD_OP_OFFSET | GO:
//   FETCH  the descriptor's words 0..18 one by one over the memory's host port (m_*, which has
//          priority over the bridge there); each word's field is kept, and a word with bits set
//          above its ABI width is refused: ERR_DMA for a base address at or above the memory
//          size (17 bits), ERR_ENGINE for any other field;
//   RUN    the engine with QDEPTH = 0 reads the descriptor ports (these registers) until done.
// ENG_STATUS: BUSY from GO to the end, then DONE with ERROR and REASON (SPK_ERR_*): ERR_DMA for
// an ENG_DESC not 4-byte aligned or not leaving 80 bytes inside the memory (nothing read), a
// base address beyond the memory, or the engine's bus_error; ERR_ENGINE for a wide field, the
// engine's bad_cmd, or a GO while busy (the running request reports it); ERR_UNSUPPORTED for
// the contract's other operations (1..6, 8), ERR_ENGINE for any other op.
// Results: outputs, kept V tokens and final probabilities are captured into RAMs as the engine
// streams them; the request's record (tag, flags, fetch counts, kept count, out_exp, head
// importance, cycles) holds until the next GO. The importance bank reads through RES_IMP (two
// words per entry) only while the engine is idle (else 0); IMP_CLEAR clears it.
// Bus slave (the bridge's protocol): one access at a time, `b_ack` one to three cycles after
// `b_req`, never in the cycle a new request could be taken.
`default_nettype none

`include "spk_abi.vh"
`include "spk_regs.vh"
`include "board_map.vh"

module spk_board_engine #(
    parameter DMAX = 64,
    parameter NMAX = 64,
    parameter NTOK = 256,
    parameter NHEAD = 16,
    parameter KEY_LIST = 1,        // 0: key-list requests refused with ERR_UNSUPPORTED
    parameter LSB_PLANE = 1,       // 0: lsb_bits != 0 (progressive quantization) refused, ditto
    parameter CLOCK_KHZ = 25125,
    // derived, do not override
    parameter DW  = $clog2(DMAX + 1),
    parameter AW  = $clog2(NMAX),
    parameter IW  = $clog2(DMAX),
    parameter TKW = $clog2(NTOK + NHEAD)
) (
    input  wire        clk,
    input  wire        rst,
    // bus slave: ENGINE (word address 0x400..0x7FF) and RESULT (0x800..0xFFF) windows
    input  wire        b_req,
    input  wire        b_we,
    input  wire [11:0] b_addr,      // word address bits 11:0
    input  wire [31:0] b_wdata,
    output reg         b_ack,
    output reg  [31:0] b_rdata,
    // descriptor reads on the memory's host port
    output wire        m_req,
    output wire [14:0] m_addr,
    input  wire        m_ack,
    input  wire [31:0] m_rdata,
    // AXI4 read master to the memory (the engine)
    output wire        arvalid,
    input  wire        arready,
    output wire [31:0] araddr,
    output wire [7:0]  arlen,
    output wire [2:0]  arsize,
    output wire [1:0]  arburst,
    input  wire        rvalid,
    output wire        rready,
    input  wire [63:0] rdata,
    input  wire [1:0]  rresp,
    input  wire        rlast,
    // LEDs
    output wire        busy,
    output wire        error
);
    localparam A = 17;  // memory address bits
    localparam [1:0] S_IDLE = 2'd0, S_FETCH = 2'd1, S_QUEUE = 2'd2, S_RUN = 2'd3;
    localparam [31:0] ERR_DMA32 = `SPK_ERR_DMA, ERR_ENGINE32 = `SPK_ERR_ENGINE;
    localparam [31:0] ERR_UNS32 = `SPK_ERR_UNSUPPORTED;
    localparam [7:0] ERR_DMA = ERR_DMA32[7:0], ERR_ENGINE = ERR_ENGINE32[7:0];
    localparam [7:0] ERR_UNSUPPORTED = ERR_UNS32[7:0];
    localparam integer LAST_WORD = `SPK_ENG_REQ_V_SCALE_BASE_WORD;  // word 19 is reserved
    // the last word index where an 80-byte descriptor still fits: 32768 - 20
    localparam [31:0] DESC_MAX32 = 32'd32748;
`include "spk_const_cmp.vh"

    reg  [1:0]  state;
    reg  [A-1:0] desc;       // ENG_DESC bits 16:0
    reg         desc_hi;     // ENG_DESC had bits above 16
    reg  [14:0] fw;          // word address of the descriptor word being read
    reg  [4:0]  wi;          // its index
    reg         wide_eng, wide_dma, lost_go;
    reg         st_done, st_err;
    reg  [7:0]  st_reason;
    reg         req_pend;
    reg  [15:0] vkey_count;
    reg  [31:0] cycles;

    // ---- the descriptor, one register per field (the engine reads them until done) ----------
    reg [7:0]   f_tag, f_head;
    reg [DW-1:0] f_d;
    reg [3:0]   f_msb, f_lsb;
    reg [16:0]  f_thr;
    reg [15:0]  f_keep, f_n, f_key_base;
    reg         f_list;
    reg [23:0]  f_q_scale;
    reg [A-1:0] f_keys, f_q, f_k_msb, f_k_lsb, f_v_msb, f_v_lsb, f_k_scale, f_v_scale;
    // Bits set above the ABI width of word wi: the widths are 1, 4, 7, 8, 16, 17 (also every
    // base address: inside the 128 KiB memory, so ERR_DMA when wider) and 24, so the check is
    // an OR of bit groups, each enabled by the word's width class.
    wire g24 = |m_rdata[31:24], g17 = |m_rdata[23:17], g16 = m_rdata[16], g8 = |m_rdata[15:8];
    wire g7 = m_rdata[7], g4 = |m_rdata[6:4], g1 = |m_rdata[3:1];
    reg  w_addr, le16, le8, le7, le4, le1;  // the word's class: a base address, width <= ...
    always @(*) begin
        {w_addr, le16, le8, le7, le4, le1} = 6'b000000;
        case (wi)
            `SPK_ENG_REQ_TAG_WORD, `SPK_ENG_REQ_HEAD_WORD: {le16, le8} = 2'b11;
            `SPK_ENG_REQ_D_WORD: {le16, le8, le7} = 3'b111;
            `SPK_ENG_REQ_MSB_BITS_WORD, `SPK_ENG_REQ_LSB_BITS_WORD:
                {le16, le8, le7, le4} = 4'b1111;
            `SPK_ENG_REQ_THRESHOLD_WORD: ;
            `SPK_ENG_REQ_V_KEEP_WORD, `SPK_ENG_REQ_N_KEYS_WORD,
            `SPK_ENG_REQ_KEY_BASE_WORD: le16 = 1'b1;
            `SPK_ENG_REQ_KEY_LIST_WORD: {le16, le8, le7, le4, le1} = 5'b11111;
            `SPK_ENG_REQ_Q_SCALE_WORD: ;
            default: w_addr = 1'b1;  // the base addresses (17 bits)
        endcase
    end
    wire q24 = (wi == `SPK_ENG_REQ_Q_SCALE_WORD);
    // The groups and the class of the word taken are registered and the check finishes a cycle
    // later: from the memory's output through the whole check in one cycle was the board's
    // critical path (docs/fpga.md, "Fit").
    reg  c_v, c_g24, c_g17, c_g16, c_g8, c_g7, c_g4, c_g1;
    reg  c_addr, c_le16, c_le8, c_le7, c_le4, c_le1, c_q24;
    wire c_wide = c_v && (c_g24 || (c_g17 && !c_q24) || (c_g16 && c_le16) || (c_g8 && c_le8) ||
                          (c_g7 && c_le7) || (c_g4 && c_le4) || (c_g1 && c_le1));
    // every word's check so far, the last word's included
    wire wide_dma_all = wide_dma || (c_wide && c_addr);
    wire wide_eng_all = wide_eng || (c_wide && !c_addr);
    wire        take = (state == S_FETCH) && m_ack;
    always @(posedge clk) begin
        {c_g24, c_g17, c_g16, c_g8, c_g7, c_g4, c_g1} <= {g24, g17, g16, g8, g7, g4, g1};
        {c_addr, c_le16, c_le8, c_le7, c_le4, c_le1, c_q24} <=
            {w_addr, le16, le8, le7, le4, le1, q24};
        if (take) begin
            case (wi)
                `SPK_ENG_REQ_TAG_WORD: f_tag <= m_rdata[7:0];
                `SPK_ENG_REQ_HEAD_WORD: f_head <= m_rdata[7:0];
                `SPK_ENG_REQ_D_WORD: f_d <= m_rdata[DW-1:0];
                `SPK_ENG_REQ_MSB_BITS_WORD: f_msb <= m_rdata[3:0];
                `SPK_ENG_REQ_LSB_BITS_WORD: f_lsb <= m_rdata[3:0];
                `SPK_ENG_REQ_THRESHOLD_WORD: f_thr <= m_rdata[16:0];
                `SPK_ENG_REQ_V_KEEP_WORD: f_keep <= m_rdata[15:0];
                `SPK_ENG_REQ_N_KEYS_WORD: f_n <= m_rdata[15:0];
                `SPK_ENG_REQ_KEY_BASE_WORD: f_key_base <= m_rdata[15:0];
                `SPK_ENG_REQ_KEY_LIST_WORD: f_list <= m_rdata[0];
                `SPK_ENG_REQ_KEYS_BASE_WORD: f_keys <= m_rdata[A-1:0];
                `SPK_ENG_REQ_Q_SCALE_WORD: f_q_scale <= m_rdata[23:0];
                `SPK_ENG_REQ_Q_BASE_WORD: f_q <= m_rdata[A-1:0];
                `SPK_ENG_REQ_K_MSB_BASE_WORD: f_k_msb <= m_rdata[A-1:0];
                `SPK_ENG_REQ_K_LSB_BASE_WORD: f_k_lsb <= m_rdata[A-1:0];
                `SPK_ENG_REQ_V_MSB_BASE_WORD: f_v_msb <= m_rdata[A-1:0];
                `SPK_ENG_REQ_V_LSB_BASE_WORD: f_v_lsb <= m_rdata[A-1:0];
                `SPK_ENG_REQ_K_SCALE_BASE_WORD: f_k_scale <= m_rdata[A-1:0];
                default: f_v_scale <= m_rdata[A-1:0];
            endcase
        end
    end
    wire unused_d = &{1'b0, m_rdata[31:A]};
    assign m_req = (state == S_FETCH);
    assign m_addr = fw;

    // ---- engine -------------------------------------------------------------------------------
    localparam [31-A:0] HI0 = 0;
    wire         e_idle, e_done, req_ready, imp_busy, imp_rd_valid;
    wire         prob_valid, vkey_valid, out_valid, bad_cmd, bus_error, requant;
    wire [47:0]  imp_rd_value, head_importance;
    wire [7:0]   run_tag;
    wire [AW-1:0] prob_index;
    wire [15:0]  prob_value, vkey_token, keys_fetched, values_fetched;
    wire [IW-1:0] out_index;
    wire [31:0]  out_value;
    wire [9:0]   out_exp;
    reg          imp_clear, imp_rd_en;
    reg  [TKW-1:0] imp_index;
    wire         list = (KEY_LIST != 0) && f_list;
    spk_engine_compact #(.DMAX(DMAX), .NMAX(NMAX), .QDEPTH(0), .NTOK(NTOK), .NHEAD(NHEAD),
                         .ABITS(A), .BUSW(64)) engine (
        .clk(clk), .rst(rst), .req_valid(req_pend), .req_ready(req_ready), .tag(f_tag),
        .head(f_head), .d(f_d), .msb_bits(f_msb), .lsb_bits((LSB_PLANE != 0) ? f_lsb : 4'd0),
        .threshold(f_thr),
        .v_keep(f_keep), .n_keys(f_n), .key_base(f_key_base), .key_list(list),
        .keys_base((KEY_LIST != 0) ? {HI0, f_keys} : 32'd0), .q_scale(f_q_scale),
        .q_base({HI0, f_q}), .k_msb_base({HI0, f_k_msb}), .k_lsb_base({HI0, f_k_lsb}),
        .v_msb_base({HI0, f_v_msb}), .v_lsb_base({HI0, f_v_lsb}),
        .k_scale_base({HI0, f_k_scale}), .v_scale_base({HI0, f_v_scale}),
        .arvalid(arvalid), .arready(arready), .araddr(araddr), .arlen(arlen), .arsize(arsize),
        .arburst(arburst), .rvalid(rvalid), .rready(rready), .rdata(rdata), .rresp(rresp),
        .rlast(rlast), .idle(e_idle), .run_tag(run_tag), .imp_clear(imp_clear),
        .imp_busy(imp_busy), .imp_rd_en(imp_rd_en), .imp_rd_index(imp_index),
        .imp_rd_valid(imp_rd_valid), .imp_rd_value(imp_rd_value), .prob_valid(prob_valid),
        .prob_index(prob_index), .prob_value(prob_value), .vkey_valid(vkey_valid),
        .vkey_token(vkey_token), .out_valid(out_valid), .out_index(out_index),
        .out_value(out_value), .done(e_done), .bad_cmd(bad_cmd), .bus_error(bus_error),
        .out_exp(out_exp), .head_importance(head_importance), .requant(requant),
        .keys_fetched(keys_fetched), .values_fetched(values_fetched));

    // ---- result capture: one RAM per stream, read by index --------------------------------------
    wire [31:0] out_q;
    wire [15:0] vkey_q, prob_q;
    reg         ram_re;
    spk_ram_1r1w #(.DEPTH(DMAX), .WIDTH(32)) out_buf (
        .clk(clk), .we(out_valid), .waddr(out_index), .wdata(out_value), .re(ram_re),
        .raddr(b_addr[IW-1:0]), .rdata(out_q));
    spk_ram_1r1w #(.DEPTH(NMAX), .WIDTH(16)) vkey_buf (
        .clk(clk), .we(vkey_valid), .waddr(vkey_count[AW-1:0]), .wdata(vkey_token), .re(ram_re),
        .raddr(b_addr[AW-1:0]), .rdata(vkey_q));
    spk_ram_1r1w #(.DEPTH(NMAX), .WIDTH(16)) prob_buf (
        .clk(clk), .we(prob_valid), .waddr(prob_index), .wdata(prob_value), .re(ram_re),
        .raddr(b_addr[AW-1:0]), .rdata(prob_q));

    // ---- bus slave ------------------------------------------------------------------------
    // word address decode: b_addr[11] the result window; in it, [10] = 0: [9:8] 0 registers,
    // 1 RES_OUT, 2 RES_VKEY, 3 RES_PROB (bytes 0x400, 0x800, 0xC00); [10] = 1: RES_IMP
    wire        in_res = b_addr[11];
    wire        in_imp = in_res && b_addr[10];
    wire        in_arr = in_res && !b_addr[10] && (b_addr[9:8] != 2'd0);
    wire [11:0] roff = {b_addr[9:0], 2'b00};  // byte offset of a register in its window
    localparam [1:0] B_IDLE = 2'd0, B_RAM = 2'd1, B_IMP = 2'd2, B_ACK = 2'd3;
    reg  [1:0]  bst;
    reg         imp_hi;
    localparam [31:0] CAPS = ((LSB_PLANE != 0) ?
                              (32'h1 << `SPK_CAPS_PROGRESSIVE_QUANT_OFFSET) : 32'd0) |
                             (32'h1 << `SPK_CAPS_LOCAL_V_TOPK_OFFSET);
    localparam [31:0] DMAX32 = DMAX, NMAX32 = NMAX, KHZ32 = CLOCK_KHZ, NTOK32 = NTOK;
    localparam [31:0] NHEAD32 = NHEAD;
    localparam [31:0] DRAM = (32'd8 << `SPK_PARAM_DRAM_BYTES_PER_CYCLE_OFFSET) |
                             (32'd1 << `SPK_PARAM_DRAM_CHANNELS_OFFSET);
    wire [31:0] eng_status = (busy ? (32'h1 << `SPK_ENG_STATUS_BUSY_OFFSET) : 32'd0) |
                             (st_done ? (32'h1 << `SPK_ENG_STATUS_DONE_OFFSET) : 32'd0) |
                             (st_err ? (32'h1 << `SPK_ENG_STATUS_ERROR_OFFSET) : 32'd0) |
                             ({24'd0, st_reason} << `SPK_ENG_STATUS_REASON_OFFSET);
    reg [31:0] reg_q;  // registers of both windows
    always @(*) begin
        reg_q = 32'd0;
        if (!in_res) begin
            case (roff)
                `SPK_ID_REG_OFFSET: reg_q = `SPK_ID_MAGIC;
                `SPK_VERSION_REG_OFFSET: reg_q = `SPK_VERSION_REG_RESVAL;
                `SPK_CAPS_REG_OFFSET: reg_q = CAPS;
                `SPK_PARAM_MULT_REG_OFFSET: reg_q = 32'h00010001;
                `SPK_PARAM_TOPK_REG_OFFSET: reg_q = 32'd1;
                `SPK_PARAM_DRAM_REG_OFFSET: reg_q = DRAM;
                `SPK_PARAM_MAX_D_REG_OFFSET: reg_q = DMAX32;
                `SPK_PARAM_MAX_KEYS_REG_OFFSET: reg_q = NMAX32;
                `SPK_PARAM_CLOCK_KHZ_REG_OFFSET: reg_q = KHZ32;
                `SPK_ENG_STATUS_REG_OFFSET: reg_q = eng_status;
                `SPK_ENG_DESC_REG_OFFSET: reg_q = {{(32 - A) {1'b0}}, desc};
                default: ;
            endcase
        end else begin
            case (roff)
                `SPK_BOARD_REG_RES_TAG_OFF: reg_q = {24'd0, run_tag};
                `SPK_BOARD_REG_RES_FLAGS_OFF: reg_q = {29'd0, bus_error, bad_cmd, requant};
                `SPK_BOARD_REG_RES_KEYS_FETCHED_OFF: reg_q = {16'd0, keys_fetched};
                `SPK_BOARD_REG_RES_VALUES_FETCHED_OFF:
                    reg_q = {16'd0, values_fetched};
                `SPK_BOARD_REG_RES_KEPT_OFF: reg_q = {16'd0, vkey_count};
                `SPK_BOARD_REG_RES_OUT_EXP_OFF: reg_q = {22'd0, out_exp};
                `SPK_BOARD_REG_RES_HEAD_IMP_LO_OFF: reg_q = head_importance[31:0];
                `SPK_BOARD_REG_RES_HEAD_IMP_HI_OFF: reg_q = {16'd0, head_importance[47:32]};
                `SPK_BOARD_REG_RES_CYCLES_OFF: reg_q = cycles;
                `SPK_BOARD_REG_IMP_CLEAR_OFF: reg_q = {31'd0, imp_busy};
                `SPK_BOARD_REG_IMP_TOKENS_OFF: reg_q = NTOK32;
                `SPK_BOARD_REG_IMP_HEADS_OFF: reg_q = NHEAD32;
                default: ;
            endcase
        end
    end

    // GO of a bus write to ENG_CMD
    wire        b_take = b_req && !b_ack && (bst == B_IDLE);
    wire        cmd_we = b_take && b_we && !in_res && (roff == `SPK_ENG_CMD_REG_OFFSET);
    wire        go = cmd_we && b_wdata[`SPK_ENG_CMD_GO_OFFSET];
    wire [3:0]  go_op = b_wdata[`SPK_ENG_CMD_OP_OFFSET+:4];
    wire        go_contract = ((go_op >= `SPK_ENG_OP_LAYER_BEGIN) &&
                               (go_op <= `SPK_ENG_OP_CONTEXT_CLOSE)) ||
                              (go_op == `SPK_ENG_OP_CONTEXT_READ);
    assign busy = (state != S_IDLE);
    assign error = st_err;

    always @(posedge clk) begin
        if (rst) begin
            state <= S_IDLE;
            desc <= {A{1'b0}};
            desc_hi <= 1'b0;
            fw <= 15'd0;
            wi <= 5'd0;
            wide_eng <= 1'b0;
            wide_dma <= 1'b0;
            c_v <= 1'b0;
            lost_go <= 1'b0;
            st_done <= 1'b0;
            st_err <= 1'b0;
            st_reason <= 8'd0;
            req_pend <= 1'b0;
            vkey_count <= 16'd0;
            cycles <= 32'd0;
            imp_clear <= 1'b0;
            imp_rd_en <= 1'b0;
            imp_index <= {TKW{1'b0}};
            imp_hi <= 1'b0;
            bst <= B_IDLE;
            b_ack <= 1'b0;
            b_rdata <= 32'd0;
            ram_re <= 1'b0;
        end else begin
            b_ack <= 1'b0;
            imp_clear <= 1'b0;
            imp_rd_en <= 1'b0;
            ram_re <= 1'b0;
            // ---- bus accesses
            case (bst)
                B_IDLE: if (b_take) begin
                    if (b_we) begin
                        if (!in_res && roff == `SPK_ENG_DESC_REG_OFFSET) begin
                            desc <= b_wdata[A-1:0];
                            desc_hi <= (b_wdata[31:A] != {(32 - A) {1'b0}});
                        end
                        if (in_res && roff == `SPK_BOARD_REG_IMP_CLEAR_OFF) imp_clear <= 1'b1;
                        b_ack <= 1'b1;
                    end else if (in_imp) begin
                        if (e_idle && !busy && !imp_busy) begin
                            imp_index <= b_addr[TKW:1];
                            imp_hi <= b_addr[0];
                            imp_rd_en <= 1'b1;
                            bst <= B_IMP;
                        end else begin  // not while a request runs or the bank clears
                            b_rdata <= 32'd0;
                            b_ack <= 1'b1;
                        end
                    end else if (in_arr) begin
                        ram_re <= 1'b1;
                        bst <= B_RAM;
                    end else begin
                        b_rdata <= reg_q;
                        b_ack <= 1'b1;
                    end
                end
                B_RAM: bst <= B_ACK;  // the buffers' words are there now
                B_IMP: if (imp_rd_valid) begin
                    b_rdata <= imp_hi ? {16'd0, imp_rd_value[47:32]} : imp_rd_value[31:0];
                    b_ack <= 1'b1;
                    bst <= B_IDLE;
                end
                default: begin  // B_ACK
                    b_rdata <= (b_addr[9:8] == 2'd1) ? out_q :
                               (b_addr[9:8] == 2'd2) ? {16'd0, vkey_q} : {16'd0, prob_q};
                    b_ack <= 1'b1;
                    bst <= B_IDLE;
                end
            endcase

            // ---- the operation
            c_v <= take;
            if (c_wide && c_addr) wide_dma <= 1'b1;
            if (c_wide && !c_addr) wide_eng <= 1'b1;
            if (state != S_IDLE) cycles <= cycles + 32'd1;
            if (vkey_valid) vkey_count <= vkey_count + 16'd1;
            if (req_pend && req_ready) req_pend <= 1'b0;
            if (go && state != S_IDLE) lost_go <= 1'b1;
            case (state)
                S_IDLE: if (go) begin
                    st_done <= 1'b0;
                    st_err <= 1'b0;
                    st_reason <= 8'd0;
                    if (go_op != `SPK_ENG_OP_HEAD_REQ) begin
                        st_done <= 1'b1;
                        st_err <= 1'b1;
                        st_reason <= go_contract ? ERR_UNSUPPORTED : ERR_ENGINE;
                    end else if (desc_hi || desc[1:0] != 2'd0 ||
                                 spk_gt_const({17'd0, desc[A-1:2]}, DESC_MAX32)) begin
                        st_done <= 1'b1;
                        st_err <= 1'b1;
                        st_reason <= ERR_DMA;
                    end else begin
                        fw <= desc[A-1:2];
                        wi <= 5'd0;
                        wide_eng <= 1'b0;
                        wide_dma <= 1'b0;
                        lost_go <= 1'b0;
                        cycles <= 32'd0;
                        vkey_count <= 16'd0;
                        state <= S_FETCH;
                    end
                end
                S_FETCH: if (m_ack) begin
                    fw <= fw + 15'd1;
                    wi <= wi + 5'd1;
                    if (wi == LAST_WORD[4:0]) state <= S_QUEUE;
                end
                S_QUEUE: begin
                    if (wide_dma_all || wide_eng_all || (KEY_LIST == 0 && f_list) ||
                        (LSB_PLANE == 0 && f_lsb != 4'd0)) begin
                        st_done <= 1'b1;
                        st_err <= 1'b1;
                        st_reason <= wide_dma_all ? ERR_DMA :
                                     wide_eng_all ? ERR_ENGINE : ERR_UNSUPPORTED;
                        state <= S_IDLE;
                    end else begin
                        req_pend <= 1'b1;
                        state <= S_RUN;
                    end
                end
                default: if (e_done) begin  // S_RUN
                    st_done <= 1'b1;
                    st_err <= bad_cmd || bus_error || lost_go || go;
                    st_reason <= (bad_cmd || bus_error || lost_go || go) ?
                                 (bus_error && !bad_cmd ? ERR_DMA : ERR_ENGINE) : 8'd0;
                    state <= S_IDLE;
                end
            endcase
        end
    end
endmodule

`default_nettype wire
