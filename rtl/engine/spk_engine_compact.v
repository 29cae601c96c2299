// spk_engine_compact: the SpAtten head request engine as a sequential datapath sized for an
// iCE40 UP5K (docs/rtl.md, "Compact engine"; normative behaviour: docs/spec/datapath.md, "Head
// request", "Importance"). Same ports, descriptor queue, streams and results as spk_engine, bit
// for bit; it trades speed for area: one key element per step, every buffer in block RAM, one
// 16 x 16 multiplier for the wide products (spk_mul32), one for the QK dot product, one for
// the row addresses, one shared barrel shifter, and 16-bit words read from the AXI beat held on
// the R channel (spk_axi_word_reader) instead of row buffers.
//
// Per request (the head descriptor stays in the FIFO until done, so req_ready is low meanwhile
// when QDEPTH = 1):
//   QRD/LRD  read the d query codes (and, in key-list mode, the n tokens) word by word;
//   K pass   for each key: its K scale word, its K row field by field (MSB plane; in the
//            requant pass first the MSB plane into a row buffer, then the LSB plane merged),
//            dot product, logit (spk_mul32 twice, then the shifter), logit buffer;
//   softmax  exponentials (LUT, shifter) in place of the logits, their sum, the reciprocal by
//            restoring division, the probabilities (spk_mul32), the confidence; requant decision;
//   IMP      each final probability into its token's importance accumulator;
//   top-k    the V keep threshold by a bitwise search (16 counting passes over the
//            probabilities; the result depends only on the threshold and the count above it,
//            spec "Top-k"), then one pass listing the kept rows in index order;
//   V pass   the kept rows' V scale words and their maximum exponent, then per kept row its
//            weight and its V row field by field, each term rounded and added to its
//            accumulator; then the outputs, their saturation and the head importance, which
//            is added to the bank's entry NTOK + head before done.
// Timing (25 MHz on the UP5K): no state decision waits on a wide compare or two adds in a row;
// such values are registered a state ahead (the *_r flags, f_two, f_last_fld, the shift
// amounts), and a rounding, a sum or a magnitude comes a cycle after its input.
`default_nettype none

module spk_engine_compact #(
    parameter DMAX = 64,   // largest head dimension
    parameter NMAX = 512,  // most keys per request (>= 4)
    parameter QDEPTH = 4,  // descriptor FIFO entries; 0: no FIFO, the descriptor ports are
                           // read while the request runs (held from req_valid until done)
    parameter NTOK = 1024, // token-importance accumulators (tokens 0 .. NTOK - 1), <= 65536
    parameter NHEAD = 16,  // head-importance accumulators (heads 0 .. NHEAD - 1), <= 256
    parameter ABITS = 32,  // byte address bits used (6..32); the base addresses' upper bits
                           // must be zero (a smaller memory needs narrower address adders)
    parameter BUSW = 256,  // AXI data bus bits (256 as spk_engine; 64 or 128 for a small memory:
                           // every read is then one beat of BUSW / 8 bytes)
    // derived, do not override
    parameter DW   = $clog2(DMAX + 1),
    parameter AW   = $clog2(NMAX),
    parameter IW   = $clog2(DMAX),
    parameter TKW  = $clog2(NTOK + NHEAD)
) (
    input  wire            clk,
    input  wire            rst,
    input  wire            req_valid,
    output wire            req_ready,
    input  wire [7:0]      tag,
    input  wire [7:0]      head,
    input  wire [DW-1:0]   d,
    input  wire [3:0]      msb_bits,
    input  wire [3:0]      lsb_bits,
    input  wire [16:0]     threshold,
    input  wire [15:0]     v_keep,
    input  wire [15:0]     n_keys,
    input  wire [15:0]     key_base,
    input  wire            key_list,
    input  wire [31:0]     keys_base,
    input  wire [23:0]     q_scale,
    input  wire [31:0]     q_base,
    input  wire [31:0]     k_msb_base,
    input  wire [31:0]     k_lsb_base,
    input  wire [31:0]     v_msb_base,
    input  wire [31:0]     v_lsb_base,
    input  wire [31:0]     k_scale_base,
    input  wire [31:0]     v_scale_base,
    output wire            arvalid,
    input  wire            arready,
    output wire [31:0]     araddr,
    output wire [7:0]      arlen,
    output wire [2:0]      arsize,
    output wire [1:0]      arburst,
    input  wire            rvalid,
    output wire            rready,
    input  wire [BUSW-1:0] rdata,
    input  wire [1:0]      rresp,
    input  wire            rlast,
    output wire            idle,
    output reg  [7:0]      run_tag,
    input  wire            imp_clear,
    output wire            imp_busy,
    input  wire            imp_rd_en,
    input  wire [TKW-1:0]  imp_rd_index,
    output reg             imp_rd_valid,
    output wire [47:0]     imp_rd_value,
    output reg             prob_valid,
    output reg  [AW-1:0]   prob_index,
    output reg  [15:0]     prob_value,
    output reg             vkey_valid,
    output reg  [15:0]     vkey_token,
    output reg             out_valid,
    output reg  [IW-1:0]   out_index,
    output reg  [31:0]     out_value,
    output reg             done,
    output reg             bad_cmd,
    output wire            bus_error,
    output reg  [9:0]      out_exp,
    output reg  [47:0]     head_importance,
    output reg             requant,
    output reg  [15:0]     keys_fetched,
    output reg  [15:0]     values_fetched
);
    // PV accumulators: each rounded term is below 2^29 in magnitude, at most NMAX of them
    localparam ACCW = 31 + AW;
    // softmax sum: at most NMAX exponentials of at most 2^23
    localparam SUMW = 25 + AW;  // (one bit spare, so that its high part is never empty)
    localparam HABW = 33 + IW;  // sum of d magnitudes of at most 2^31
    localparam RBW = $clog2(DMAX * 12 / 8 + 2);  // bytes of one plane row
    localparam CW = $clog2(NMAX + 1);             // key counts 0..NMAX
    localparam [ABITS-1:0] TWO = 2;

    // ---- descriptor FIFO (the running request reads the head entry until done) -----------
    localparam QD = (QDEPTH > 0) ? QDEPTH : 1;
    localparam QPW = (QD > 1) ? $clog2(QD) : 1;
    localparam QCW = $clog2(QD + 1);
    localparam integer QLAST_I = QD - 1;
    localparam [QPW-1:0] QLAST = QLAST_I[QPW-1:0];
    localparam DESCW = 8 + DW + 4 + 4 + 17 + 3 * 16 + 24 + 7 * 32 + 1 + 32 + 8;
    reg [DESCW-1:0] fifo [0:QD-1];
    reg [QPW-1:0]   fifo_wr, fifo_rd;
    reg [QCW-1:0]   fifo_n;
    wire push = req_valid && req_ready && (QDEPTH > 0);
    wire [DESCW-1:0] desc_in = {tag, d, msb_bits, lsb_bits, threshold, v_keep, n_keys, key_base,
                                q_scale, q_base, k_msb_base, k_lsb_base, v_msb_base, v_lsb_base,
                                k_scale_base, v_scale_base, key_list, keys_base, head};
    always @(posedge clk)
        if (push) fifo[fifo_wr] <= desc_in;
    wire [DESCW-1:0] entry = (QDEPTH > 0) ? fifo[fifo_rd] : desc_in;
    wire [7:0]  h_tag;
    wire [DW-1:0] h_d;
    wire [3:0]  h_msb, h_lsb;
    wire [16:0] h_thr;
    wire [15:0] h_keep, h_n, h_key_base;
    wire [23:0] h_q_scale;
    wire [31:0] h_q_base, h_k_msb, h_k_lsb, h_v_msb, h_v_lsb, h_k_scale, h_v_scale, h_keys;
    wire        h_list;
    wire [7:0]  h_head;
    assign {h_tag, h_d, h_msb, h_lsb, h_thr, h_keep, h_n, h_key_base, h_q_scale, h_q_base, h_k_msb,
            h_k_lsb, h_v_msb, h_v_lsb, h_k_scale, h_v_scale, h_list, h_keys, h_head} = entry;

    // the descriptor check (the same module as spk_engine's)
    wire req_bad;
    spk_desc_check #(.DMAX(DMAX), .NMAX(NMAX), .NTOK(NTOK), .NHEAD(NHEAD)) check (
        .d(h_d), .msb_bits(h_msb), .lsb_bits(h_lsb), .n_keys(h_n), .key_base(h_key_base),
        .key_list(h_list), .q_base_odd(h_q_base[0]), .keys_base_odd(h_keys[0]), .head(h_head),
        .bad(req_bad));

    // ---- states ---------------------------------------------------------------------------
    localparam [6:0]
        S_IDLE = 7'd0, S_QRD = 7'd1, S_LRD = 7'd2,
        S_KEY = 7'd3, S_KEY_TOK = 7'd4, S_KSC0 = 7'd5, S_KSC1 = 7'd6,
        S_ROW0 = 7'd7, S_ROW1 = 7'd8, S_FIELDS = 7'd9, S_KDRAIN = 7'd10,
        S_MQK = 7'd11, S_RAW = 7'd12, S_LOGIT = 7'd13, S_LSH = 7'd14, S_RSH0 = 7'd15,
        S_RSH1 = 7'd16, S_LSTORE = 7'd17,
        S_EXP0 = 7'd18, S_EXP1 = 7'd19, S_EXP2 = 7'd20, S_EXP3 = 7'd21, S_DIV = 7'd22,
        S_PROB0 = 7'd23, S_PROB1 = 7'd24, S_PROB2 = 7'd25, S_PEND = 7'd26,
        S_IMP0 = 7'd27, S_IMP1 = 7'd28,
        S_TK = 7'd29, S_TKP0 = 7'd30, S_TKP = 7'd31, S_TKEND = 7'd32, S_EMIT = 7'd33,
        S_V1 = 7'd34, S_V1A = 7'd35, S_V1B = 7'd36, S_V1C = 7'd37, S_V1D = 7'd38,
        S_VCLR = 7'd39, S_V2 = 7'd40, S_V2A = 7'd41, S_V2B = 7'd42, S_V2C = 7'd43,
        S_PVE0 = 7'd44, S_PVE1 = 7'd45, S_PVE2 = 7'd46, S_PVE3 = 7'd47,
        S_OUT0 = 7'd48, S_OUT1 = 7'd49, S_HIMP = 7'd50, S_HLSH = 7'd51, S_HRSH0 = 7'd52,
        S_HRSH1 = 7'd53, S_FLUSH = 7'd54, S_DONE = 7'd55, S_RSH2 = 7'd56, S_PVE4 = 7'd57,
        S_HRSH2 = 7'd58, S_HWAIT = 7'd59, S_LWAIT = 7'd60, S_CHECK = 7'd61, S_PWAIT = 7'd62,
        S_KADDR = 7'd63, S_V1BA = 7'd64, S_EXP4 = 7'd65, S_PVW = 7'd66,
        S_HADD = 7'd67, S_HADD1 = 7'd68, S_HADD2 = 7'd69, S_PROB3 = 7'd70, S_SUMC = 7'd71;
    (* fsm_encoding = "one-hot" *) reg [6:0] state;
    wire      vscale_rd = (state == S_V1BA);  // the scale word read is a V one
    wire      imp_busy_w;
    // a request starts when the engine is idle and the importance bank is not being cleared
    wire      has_req = (QDEPTH > 0) ? (fifo_n != {QCW{1'b0}}) : req_valid;
    wire      start = (state == S_IDLE) && has_req && !imp_busy_w;

    // ---- registers of the running request -------------------------------------------------
    reg [RBW-1:0] rb_msb, rb_lsb;  // row bytes of the MSB and LSB planes
    reg        lsb_pass;           // K: the requant pass; V: both planes are fetched
    reg        vmode;              // the field loop feeds PV (else QK)
    reg        fill;               // the field loop fills the row buffer with MSB fields
    reg [CW-1:0] j;                // key position (K pass, softmax, top-k passes)
    reg [15:0] tok;                // token of the current key or kept row
    reg [DW-1:0] i;                // field index / output index
    reg [ABITS-1:0] ra;            // word read address
    reg [ABITS+2:0] bit_addr;      // bit address of the current field
    reg        fx;                 // field loop: 1 = reading the field's second word
    reg [15:0] w_lo;               // first word of a field that spans two words
    reg [15:0] ks_mant;
    reg [7:0]  ks_exp;
    reg [RBW+15:0] row_off;        // token * row bytes
    reg signed [31:0] dot;
    reg        mul_go;
    reg [31:0] mul_a, mul_b;
    reg [5:0]  cnt6;
    reg signed [23:0] logit, lmax;
    // the exponentials' sum in two parts: the low 24 bits take each exponential, their carry
    // goes into the high part one add later (a 31-bit add in one cycle was the critical path)
    reg [23:0]      sum_lo;
    reg [SUMW-25:0] sum_hi;
    reg             sum_c;
    wire [SUMW-1:0] sum = {sum_hi, sum_lo};
    reg [SUMW-1:0] rem;
    reg [24:0] recip;
    reg [15:0] pmax;
    reg [15:0] p_r;                // the probability of key j
    reg [3:0]  tk_b;               // top-k: threshold bit being decided
    reg [15:0] tk_t, tk_cand;
    reg [CW-1:0] tk_cnt, tk_k, quota, kn, r;
    reg        tk_all, tk_rv, tk_gt;
    reg [CW-1:0] tk_rj;            // key position of the probability being read
    reg [7:0]  emax;
    reg        anynz;
    reg [9:0]  vshift;             // 14 + emax - e of the current kept row
    reg [HABW-1:0] habs;           // sum of |out|, below DMAX * 2^31

    // ---- memory: words from the held AXI beat ---------------------------------------------
    reg         rd_req, rd_flush;
    wire        rd_ok, rd_empty, rd_err;
    wire [15:0] rd_word;
    spk_axi_word_reader #(.ABITS(ABITS), .BUSW(BUSW)) reader (
        .clk(clk), .rst(rst), .req(rd_req), .addr(ra), .ok(rd_ok), .word(rd_word),
        .flush(rd_flush), .empty(rd_empty), .clr_err(start), .err(rd_err),
        .arvalid(arvalid), .arready(arready), .araddr(araddr), .arlen(arlen), .arsize(arsize),
        .arburst(arburst), .rvalid(rvalid), .rready(rready), .rdata(rdata), .rresp(rresp),
        .rlast(rlast));
    assign bus_error = rd_err;

    // ---- shared units ---------------------------------------------------------------------
    wire        mul_done;
    wire signed [49:0] mul_ps;  // the product, negated when mul_neg
    reg         mul_neg;        // 0 for the unsigned products, which use mul_p
    wire [47:0] mul_p = mul_ps[47:0];
    spk_mul32 mul (.clk(clk), .rst(rst), .start(mul_go), .a(mul_a), .b(mul_b), .done(mul_done),
                   .neg(mul_neg), .p(mul_ps));
    // one arithmetic right shifter on a register that is also the value the logit and
    // head-importance left shifts double in place. It steps in place, by 8 bits a cycle while
    // at least 8 remain, then by 1, in the state after shf_s is set (S_RSH0, S_EXP3, S_PVE2,
    // S_HRSH0 wait until shf_s is 0): a 50-bit barrel shifter took about 270 of the UP5K's
    // 5,280 LCs (docs/fpga.md, "Fit"). Arithmetic shifts compose, so the result is
    // shf_x >>> shf_s as set. Rounding shifts use
    // floor((floor(x / 2^(s-1)) + 1) / 2) = floor((x + 2^(s-1)) / 2^s)
    reg signed [49:0] shf_x;
    reg [5:0]         shf_s;
    reg signed [49:0] shf_t;
    // shf_t takes the shifted value, and in the next state rounds it in place (a rounding add
    // and its consumer's add in one cycle would not make 25 MHz)
    wire signed [49:0] shf_round = (shf_t + 50'sd1) >>> 1;
    // shf_x's range checks, registered: a 50-bit compare feeding the state machine would not
    // make 25 MHz, so a state that changes shf_x is followed by one that waits for them
    reg         sx_zero, sx_over_t, sx_over_imp, lsh_wait;
    reg         bad_r;  // the head descriptor's check (req_bad), a cycle later
    // loop ends and decisions, registered (every state using one is entered at least a cycle
    // after its inputs last changed)
    reg         j_end_r, tk_reach_r, conf_low_r, tk_none_r, tk_all_r;
    // the logit and head-importance shift amounts and their cases, registered (their inputs,
    // the scale exponents and e_max, are set many cycles before they are used)
    reg [5:0]   shl_r, shi_r;  // low bits: the count of a left shift, or minus a right one
    reg         shl_left, shl_sat, shl_zero, shi_left, shi_sat, shi_zero;
    wire        shf_rounding = (state == S_RSH1) || (state == S_PVE3) || (state == S_HRSH1);
    wire        shf_shifting = ((state == S_RSH0) || (state == S_EXP3) || (state == S_PVE2) ||
                                (state == S_HRSH0)) && (shf_s != 6'd0);
    wire        shf_by8 = (shf_s[5:3] != 3'd0);

    // ---- fields of a plane row ------------------------------------------------------------
    // plane of the field loop: K or V, MSB (signed) or LSB (unsigned)
    wire        plane_lsb = lsb_pass && !fill;
    // the plane's field width, registered: the plane changes in S_KEY_TOK or at the end of a
    // fill, and the field loop starts two states (S_ROW0, S_ROW1) later
    reg  [3:0]  f_bits;
    // whether the current field spans two words, and whether it is the row's last: set at the
    // row's start and at each emit for the next field (the state machine would not make
    // 25 MHz through the bit-offset add and the index compare)
    reg         f_two, f_last_fld;
    wire [31:0] f_base32 = vmode ? (plane_lsb ? h_v_lsb : h_v_msb)
                                 : (plane_lsb ? h_k_lsb : h_k_msb);
    wire [ABITS-1:0] f_base = f_base32[ABITS-1:0];
    wire [RBW-1:0] f_rb = plane_lsb ? rb_lsb : rb_msb;
    wire [4:0]  f_end_next = {1'b0, f_next_addr[3:0]} + {1'b0, f_bits};  // > 16: two words
    wire [4:0]  f_end_row = {1'b0, row_byte[0], 3'd0} + {1'b0, f_bits};
    wire [DW:0] i_plus2 = {1'b0, i} + {{(DW - 1) {1'b0}}, 2'd2};
    wire [31:0] f_window = fx ? {rd_word, w_lo} : {16'd0, rd_word};
    wire [31:0] f_shifted = f_window >> bit_addr[3:0];
    wire [11:0] f_mask = ~(12'hFFF << f_bits);
    // the field's bits, zero-extended; MSB fields are sign-extended a cycle later (msb_ext),
    // which keeps the word-to-field path short
    wire [11:0] f_field = f_shifted[11:0] & f_mask;
    wire        in_fields = (state == S_FIELDS);
    wire        f_emit = in_fields && rd_ok && (fx || !f_two);
    wire        f_last = (i == h_d - 1'b1);
    wire [ABITS+2:0] f_next_addr = bit_addr + {{(ABITS - 1) {1'b0}}, f_bits};
    wire        unused_f_end = &{1'b0, f_end_next[3:0], f_end_row[3:0]};
    wire [ABITS+RBW+15:0] row_off_x = {{ABITS{1'b0}}, row_off};
    wire [ABITS-1:0] row_byte = f_base + row_off_x[ABITS-1:0];

    // the emitted field one cycle later, with the query code / row-buffer MSB field / PV
    // accumulator read in the emit cycle
    reg         e_valid, e_fill, e_lsb, e_last;
    reg [11:0]  e_field;
    // an MSB-plane field of `bits` bits, sign-extended to 12
    function [11:0] msb_ext;
        input [11:0] raw;
        input [3:0]  bits;
        begin
            msb_ext = raw[bits - 4'd1] ? (raw | (12'hFFF << bits)) : raw;
        end
    endfunction
    reg [IW-1:0] e_i;
    wire [11:0] q_q, hi_q;
    wire [11:0] e_code;
    spk_plane_merge merge (
        .hi(msb_ext(e_lsb ? hi_q : e_field, h_msb)), .lo(e_field[9:0]), .lsb_bits(h_lsb),
        .with_lsb(e_lsb),
        .code(e_code));
    reg signed [23:0] qk_p;
    reg         qk_pv, c_valid;
    reg [11:0]  c_code, c_q;

    // ---- buffers (block RAM) --------------------------------------------------------------
    wire [IW-1:0] f_i = i[IW-1:0];
    wire        q_we = (state == S_QRD) && rd_ok;
    spk_ram_1r1w #(.DEPTH(DMAX), .WIDTH(12)) qbuf (
        .clk(clk), .we(q_we), .waddr(f_i), .wdata(rd_word[11:0]),
        .re(f_emit), .raddr(f_i), .rdata(q_q));
    spk_ram_1r1w #(.DEPTH(DMAX), .WIDTH(12)) rowbuf (
        .clk(clk), .we(f_emit && fill), .waddr(f_i), .wdata(f_field),
        .re(f_emit), .raddr(f_i), .rdata(hi_q));

    wire [AW-1:0] j_a = j[AW-1:0];
    wire [AW-1:0] r_a = r[AW-1:0];
    wire [AW-1:0] rj_a = tk_rj[AW-1:0];
    // key-list tokens
    reg           kt_re;
    reg [AW-1:0]  kt_raddr;
    wire [15:0]   kt_q;
    spk_ram_1r1w #(.DEPTH(NMAX), .WIDTH(16)) ktok (
        .clk(clk), .we((state == S_LRD) && rd_ok), .waddr(j_a), .wdata(rd_word),
        .re(kt_re), .raddr(kt_raddr), .rdata(kt_q));
    // logits, then the exponentials in their place
    reg           lb_we, lb_re;
    reg [23:0]    lb_wdata;
    wire [23:0]   lb_q;
    spk_ram_1r1w #(.DEPTH(NMAX), .WIDTH(24)) lbuf (
        .clk(clk), .we(lb_we), .waddr(j_a), .wdata(lb_wdata), .re(lb_re), .raddr(j_a),
        .rdata(lb_q));
    // final probabilities
    reg           pb_we, pb_re;
    reg [AW-1:0]  pb_raddr;
    reg [15:0]    pb_wdata;
    wire [15:0]   pb_q;
    spk_ram_1r1w #(.DEPTH(NMAX), .WIDTH(16)) probs (
        .clk(clk), .we(pb_we), .waddr(j_a), .wdata(pb_wdata), .re(pb_re), .raddr(pb_raddr),
        .rdata(pb_q));
    // kept rows (key positions) in index order, and their V scale words
    reg           kl_we;
    wire [AW-1:0] kl_q;
    spk_ram_1r1w #(.DEPTH(NMAX), .WIDTH(AW)) klist (
        .clk(clk), .we(kl_we), .waddr(kn[AW-1:0]), .wdata(rj_a),
        .re(state == S_V1 || state == S_V2), .raddr(r_a), .rdata(kl_q));
    reg           vs_we;
    wire [23:0]   vs_q;
    spk_ram_1r1w #(.DEPTH(NMAX), .WIDTH(24)) vscale (
        .clk(clk), .we(vs_we), .waddr(r_a), .wdata({rd_word[7:0], ks_mant}),
        .re(state == S_V2), .raddr(r_a), .rdata(vs_q));
    // PV accumulators
    reg           acc_we;
    reg [ACCW-1:0] acc_wdata;
    wire [ACCW-1:0] acc_q;
    spk_ram_1r1w #(.DEPTH(DMAX), .WIDTH(ACCW)) accbuf (
        .clk(clk), .we(acc_we), .waddr((state == S_PVE4) ? e_i : f_i), .wdata(acc_wdata),
        .re(f_emit || state == S_OUT0), .raddr(f_i), .rdata(acc_q));

    // ---- token importance -----------------------------------------------------------------
    reg         imp_add;
    reg [TKW-1:0] imp_tok;
    wire [47:0] imp_q;
    // (adds are two cycles apart: the RAM has the previous sum when the next add reads it)
    // one bank: entry t < NTOK is token t's, entry NTOK + h head h's (the request's head
    // importance is added after its outputs, imp_head)
    reg         imp_head;
    localparam integer HEAD0_I = NTOK;
    localparam [TKW-1:0] HEAD0 = HEAD0_I[TKW-1:0];
    wire [TKW+7:0] head_x = {{TKW{1'b0}}, h_head};
    spk_importance #(.N(NTOK + NHEAD), .FORWARD(0)) token_imp (
        .clk(clk), .rst(rst), .clear(imp_clear), .busy(imp_busy_w), .add_valid(imp_add),
        .add_index(imp_tok), .add_amount(imp_head ? head_importance : {32'd0, pb_q}),
        .rd_en(imp_rd_en && !imp_add), .rd_index(imp_rd_index), .rd_value(imp_q));
    assign imp_rd_value = imp_rd_valid ? imp_q : 48'd0;
    assign imp_busy = imp_busy_w;

    assign idle = (state == S_IDLE) && !has_req;
    // QDEPTH = 0: a descriptor is taken when it starts
    assign req_ready = (QDEPTH > 0) ? (fifo_n != QD[QCW-1:0]) : start;

    // ---- derived values -------------------------------------------------------------------
    // token of a key position (the key list's entry, read a cycle before, or key_base + it):
    // j in the K pass and the importance adds, the listed row in top-k, the kept row in V
    // (selected by flags registered from the state: S_V1B and S_V2B always follow S_V1A and
    // S_V2A, and S_EMIT uses its token from its second cycle on)
    reg         tok_of_emit, tok_of_kept;
    wire [15:0] tok_pos = tok_of_emit ? {{(16 - CW) {1'b0}}, tk_rj} :
                          tok_of_kept ? {{(16 - AW) {1'b0}}, kl_q} : {{(16 - CW) {1'b0}}, j};
    wire [CW-1:0] n_c = h_n[CW-1:0];  // n <= NMAX in every request that runs
    wire [15:0] key_tok = h_list ? kt_q : h_key_base + tok_pos;
    // its scale word (K, or V while the kept rows' words are read), 4-byte aligned
    wire [31:0] scale_base = vscale_rd ? h_v_scale : h_k_scale;
    wire [ABITS+15:0] key_tok_x = {{ABITS{1'b0}}, tok};
    wire [ABITS-1:0] scale_addr = {scale_base[ABITS-1:2] + key_tok_x[ABITS-3:0], 2'b00};
    wire [15:0] tk_k_w = (h_keep > h_n) ? h_n : h_keep;
    // the threshold after a counting pass: tk_cand if k values reach it
    wire [15:0] tk_t_next = tk_reach_r ? tk_cand : tk_t;
    wire [9:0]  sh_logit = {{2{h_q_scale[23]}}, h_q_scale[23:16]} + {{2{ks_exp[7]}}, ks_exp}
                           + 10'd24;
    wire [24:0] sum_lo_next = {1'b0, sum_lo} + {1'b0, shf_t[23:0]};  // + the exponential
    wire [23:0] exp_delta = lmax - lb_q;                           // M - t, in [0, 2^24)
    // the softmax's exponential table, read a cycle after its address
`include "spk_exp2_lut.vh"
`include "spk_const_cmp.vh"
    localparam [31:0] NTOK32 = NTOK;
    // (a ROM initialised from the generated function, so that it lands in one EBR)
    reg [15:0] exp_rom [0:255];
    integer    rk;
    initial for (rk = 0; rk < 256; rk = rk + 1) exp_rom[rk] = spk_exp2_lut(rk[7:0]);
    reg [15:0] lut_q;
    always @(posedge clk) lut_q <= exp_rom[exp_delta[7:0]];  // used in S_EXP2
    // p = (x * recip + 2^30) >> 31 = (((x * recip) >> 30) + 1) >> 1, at most 2^16 (saturated)
    wire [18:0] prob_round = {1'b0, mul_p[47:30]} + 19'd1;
    wire [15:0] prob_sat = prob_round[17] ? 16'hFFFF : prob_round[16:1];
    wire [SUMW:0] rem2 = {rem, (cnt6 == 6'd47)};                    // next dividend bit
    wire [SUMW+1:0] rem_sub = {1'b0, rem2} - {2'd0, sum};
    wire [9:0]  v_shift_w = 10'd14 + {{2{emax[7]}}, emax} - {{2{vs_q[23]}}, vs_q[23:16]};
    wire signed [ACCW-1:0] acc_s = acc_q;
    localparam signed [ACCW-1:0] O_MAX = 2147483647, O_MIN = ~O_MAX;
    // Range checks against 2^(k-1) - 1 and -2^(k-1) look at the bits above k - 1: the value
    // fits when they all equal the sign. Same result as two compares, without their carry
    // chains (area on the UP5K, docs/fpga.md "Fit").
    wire        acc_fits = (acc_s[ACCW-1:31] == {(ACCW - 31) {acc_s[ACCW-1]}});
    wire signed [ACCW-1:0] out_sat = acc_fits ? acc_s : acc_s[ACCW-1] ? O_MIN : O_MAX;
    // habs + |out| in one adder: habs + (out ^ s) + s, the + s as the carry out of a low bit
    wire        out_neg = out_value[31];
    wire [HABW-1:0] out_ext = {{(HABW - 32) {out_neg}}, out_value} ^ {HABW{out_neg}};
    wire [HABW:0] habs_next = {habs, 1'b1} + {out_ext, out_neg};
    wire [9:0]  sh_imp = {{2{emax[7]}}, emax} + 10'd14;            // out_exp + 16
    localparam [48:0] IMP_MAX = 49'h0_FFFF_FFFF_FFFF;
    // d * bits, kept apart from the + 7 so that yosys maps each product to a DSP (SB_MAC16)
    // instead of about 45 LCs of LUT logic (docs/fpga.md, "Fit")
    (* keep *) wire [RBW+3:0] rb_msb_p;
    (* keep *) wire [RBW+3:0] rb_lsb_p;
    assign rb_msb_p = {{4{1'b0}}, h_d} * {{(DW) {1'b0}}, h_msb};
    assign rb_lsb_p = {{4{1'b0}}, h_d} * {{(DW) {1'b0}}, h_lsb};
    wire [RBW+3:0] rb_msb_w = rb_msb_p + 7;
    wire [RBW+3:0] rb_lsb_w = rb_lsb_p + 7;

    // RAM read/write controls by state
    always @* begin
        kt_re = 1'b0;
        kt_raddr = j_a;
        lb_we = 1'b0;
        lb_re = 1'b0;
        lb_wdata = logit;
        pb_we = 1'b0;
        pb_re = 1'b0;
        pb_raddr = j_a;
        pb_wdata = p_r;
        kl_we = 1'b0;
        vs_we = 1'b0;
        acc_we = 1'b0;
        acc_wdata = {ACCW{1'b0}};
        case (state)
            S_KEY: kt_re = 1'b1;
            S_LSTORE: lb_we = 1'b1;
            S_EXP0, S_PROB0: lb_re = 1'b1;
            S_EXP4: begin
                lb_we = 1'b1;
                lb_wdata = shf_t[23:0];
            end
            S_PROB3: pb_we = 1'b1;
            S_IMP0: begin
                pb_re = 1'b1;
                kt_re = 1'b1;
            end
            S_TKP, S_EMIT: begin
                pb_re = 1'b1;
                pb_raddr = j_a;
                kt_re = 1'b1;
            end
            S_V1A: begin
                kt_re = 1'b1;
                kt_raddr = kl_q;
            end
            S_V1D: vs_we = rd_ok;
            S_V2A: begin
                kt_re = 1'b1;
                kt_raddr = kl_q;
                pb_re = 1'b1;
                pb_raddr = kl_q;
            end
            S_VCLR: acc_we = 1'b1;
            S_PVE4: begin
                acc_we = 1'b1;
                acc_wdata = acc_q + shf_t[ACCW-1:0];
            end
            default: ;
        endcase
        if (state == S_EMIT && tk_rv)
            kl_we = (tk_all || pb_q > tk_t || (pb_q == tk_t && quota != 0));
    end

    // ---- control --------------------------------------------------------------------------
    always @(posedge clk) begin
        if (rst) begin
            state <= S_IDLE;
            fifo_wr <= {QPW{1'b0}};
            fifo_rd <= {QPW{1'b0}};
            fifo_n <= {QCW{1'b0}};
            run_tag <= 8'd0;
            imp_rd_valid <= 1'b0;
            prob_valid <= 1'b0;
            prob_index <= {AW{1'b0}};
            prob_value <= 16'd0;
            vkey_valid <= 1'b0;
            vkey_token <= 16'd0;
            out_valid <= 1'b0;
            out_index <= {IW{1'b0}};
            out_value <= 32'd0;
            done <= 1'b0;
            bad_cmd <= 1'b0;
            out_exp <= 10'd0;
            head_importance <= 48'd0;
            requant <= 1'b0;
            keys_fetched <= 16'd0;
            values_fetched <= 16'd0;
            rb_msb <= {RBW{1'b0}};
            rb_lsb <= {RBW{1'b0}};
            lsb_pass <= 1'b0;
            vmode <= 1'b0;
            fill <= 1'b0;
            j <= {CW{1'b0}};
            tok <= 16'd0;
            i <= {DW{1'b0}};
            ra <= {ABITS{1'b0}};
            bit_addr <= {(ABITS + 3) {1'b0}};
            fx <= 1'b0;
            w_lo <= 16'd0;
            ks_mant <= 16'd0;
            ks_exp <= 8'd0;
            row_off <= {(RBW + 16) {1'b0}};
            dot <= 32'sd0;
            mul_go <= 1'b0;
            mul_a <= 32'd0;
            mul_b <= 32'd0;
            cnt6 <= 6'd0;
            logit <= 24'sd0;
            lmax <= 24'sd0;
            sum_lo <= 24'd0;
            sum_hi <= {(SUMW - 24) {1'b0}};
            sum_c <= 1'b0;
            rem <= {SUMW{1'b0}};
            recip <= 25'd0;
            pmax <= 16'd0;
            p_r <= 16'd0;
            tk_b <= 4'd0;
            tk_t <= 16'd0;
            tk_cand <= 16'd0;
            tk_cnt <= {CW{1'b0}};
            tk_k <= {CW{1'b0}};
            tk_all <= 1'b0;
            tk_rv <= 1'b0;
            tk_gt <= 1'b0;
            tk_rj <= {CW{1'b0}};
            quota <= {CW{1'b0}};
            kn <= {CW{1'b0}};
            r <= {CW{1'b0}};
            emax <= 8'd0;
            anynz <= 1'b0;
            vshift <= 10'd0;
            mul_neg <= 1'b0;
            habs <= {HABW{1'b0}};
            shf_x <= 50'sd0;
            shf_s <= 6'd0;
            shf_t <= 50'sd0;
            sx_zero <= 1'b0;
            bad_r <= 1'b0;
            tok_of_emit <= 1'b0;
            tok_of_kept <= 1'b0;
            f_bits <= 4'd0;
            f_two <= 1'b0;
            f_last_fld <= 1'b0;
            j_end_r <= 1'b0;
            tk_reach_r <= 1'b0;
            conf_low_r <= 1'b0;
            tk_none_r <= 1'b0;
            tk_all_r <= 1'b0;
            shl_r <= 6'd0;
            shi_r <= 6'd0;
            shl_left <= 1'b0;
            shl_sat <= 1'b0;
            shl_zero <= 1'b0;
            shi_left <= 1'b0;
            shi_sat <= 1'b0;
            shi_zero <= 1'b0;
            sx_over_t <= 1'b0;
            sx_over_imp <= 1'b0;
            lsh_wait <= 1'b0;
            e_valid <= 1'b0;
            e_fill <= 1'b0;
            e_lsb <= 1'b0;
            e_last <= 1'b0;
            e_field <= 12'd0;
            e_i <= {IW{1'b0}};
            qk_p <= 24'sd0;
            qk_pv <= 1'b0;
            c_valid <= 1'b0;
            c_code <= 12'd0;
            c_q <= 12'd0;
            rd_req <= 1'b0;
            rd_flush <= 1'b0;
            imp_add <= 1'b0;
            imp_tok <= {TKW{1'b0}};
            imp_head <= 1'b0;
        end else begin
            done <= 1'b0;
            prob_valid <= 1'b0;
            vkey_valid <= 1'b0;
            out_valid <= 1'b0;
            mul_go <= 1'b0;
            imp_add <= 1'b0;
            imp_rd_valid <= imp_rd_en && !imp_add && !imp_busy_w;
            shf_t <= shf_rounding ? shf_round : shf_x;
            if (shf_shifting) begin
                shf_x <= shf_by8 ? shf_x >>> 8 : shf_x >>> 1;
                shf_s <= shf_s - (shf_by8 ? 6'd8 : 6'd1);
            end
            bad_r <= req_bad;
            tok_of_emit <= (state == S_EMIT);
            tok_of_kept <= (state == S_V1A) || (state == S_V2A);
            f_bits <= plane_lsb ? h_lsb : h_msb;
            j_end_r <= (j + 1'b1 == n_c);
            tk_reach_r <= (tk_cnt >= tk_k);
            conf_low_r <= ({1'b0, pmax} < h_thr);
            tk_none_r <= (tk_k_w == 16'd0);
            tk_all_r <= (tk_k_w >= h_n);
            shl_r <= sh_logit[5:0];
            shl_left <= !sh_logit[9];
            shl_sat <= !sh_logit[9] && spk_ge_const({22'd0, sh_logit}, 32'd24);
            // signed sh_logit <= -49: negative, and at most 975 (-49 in 10 bits) unsigned
            shl_zero <= sh_logit[9] && !spk_gt_const({22'd0, sh_logit}, 32'd975);
            shi_r <= sh_imp[5:0];
            shi_left <= !sh_imp[9];
            shi_sat <= !sh_imp[9] && spk_ge_const({22'd0, sh_imp}, 32'd48);
            shi_zero <= sh_imp[9] && !spk_gt_const({22'd0, sh_imp}, 32'd975);  // <= -49
            sx_zero <= (shf_x == 50'sd0);
            sx_over_t <= (shf_x[49:23] != {27{shf_x[49]}});  // outside 24 signed bits
            sx_over_imp <= !shf_x[49] && shf_x[48];           // above IMP_MAX = 2^48 - 1
            // sum of |out|, from the output register (a cycle after the saturation)
            if (out_valid && anynz) habs <= habs_next[HABW:1];
            // descriptor FIFO (the head entry leaves at done)
            if (push) fifo_wr <= (fifo_wr == QLAST) ? {QPW{1'b0}} : fifo_wr + 1'b1;
            if (push && !(state == S_DONE)) fifo_n <= fifo_n + 1'b1;
            else if (!push && state == S_DONE) fifo_n <= fifo_n - 1'b1;

            // field pipeline: emit -> (query code, MSB field, accumulator read) -> code ->
            // product -> dot
            e_valid <= f_emit;
            if (f_emit) begin  // held while a PV element uses them
                e_fill <= fill;
                e_lsb <= plane_lsb;
                e_last <= f_last_fld;
                e_field <= f_field;
                e_i <= f_i;
            end
            c_valid <= e_valid && !e_fill && !vmode;  // code and query code registered
            c_code <= e_code;
            c_q <= q_q;
            qk_pv <= c_valid;
            qk_p <= $signed(c_q) * $signed(c_code);
            if (qk_pv) dot <= dot + {{8{qk_p[23]}}, qk_p};

            case (state)
                S_IDLE: begin
                    if (start) begin
                        run_tag <= h_tag;
                        bad_cmd <= 1'b0;
                        requant <= 1'b0;
                        out_exp <= 10'd0;
                        head_importance <= 48'd0;
                        keys_fetched <= 16'd0;
                        values_fetched <= 16'd0;
                        rb_msb <= rb_msb_w[RBW+2:3];
                        rb_lsb <= rb_lsb_w[RBW+2:3];
                        lsb_pass <= 1'b0;
                        vmode <= 1'b0;
                        fill <= 1'b0;
                        anynz <= 1'b0;
                        habs <= {HABW{1'b0}};
                        i <= {DW{1'b0}};
                        j <= {CW{1'b0}};
                        ra <= h_q_base[ABITS-1:0];
                        state <= S_CHECK;
                    end
                end
                S_CHECK: begin  // the descriptor check, registered in the cycle before
                    if (bad_r) begin
                        bad_cmd <= 1'b1;
                        state <= S_DONE;
                    end else if (h_n == 16'd0) begin
                        state <= S_OUT0;  // d zeros (anynz = 0), out_exp 0
                    end else begin
                        rd_req <= 1'b1;
                        state <= S_QRD;
                    end
                end
                S_QRD: if (rd_ok) begin  // query code i (written to qbuf by q_we)
                    ra <= ra + TWO;
                    i <= i + 1'b1;
                    if (f_last) begin
                        if (h_list) begin
                            ra <= h_keys[ABITS-1:0];
                            state <= S_LRD;
                        end else begin
                            rd_req <= 1'b0;
                            state <= S_KEY;
                        end
                    end
                end
                S_LRD: if (rd_ok) begin  // listed token j (written to ktok)
                    ra <= ra + TWO;
                    j <= j + 1'b1;
                    if (j + 1'b1 == n_c) begin
                        j <= {CW{1'b0}};
                        rd_req <= 1'b0;
                        state <= S_KEY;
                    end
                end

                // ---- K pass: one key at a time ----
                S_KEY: state <= S_KEY_TOK;  // ktok read of j
                S_KEY_TOK: begin
                    tok <= key_tok;
                    dot <= 32'sd0;
                    fill <= lsb_pass;
                    state <= S_KADDR;
                end
                S_KADDR: begin  // the key's K scale word (from tok: two adds in a row are slow)
                    ra <= scale_addr;
                    rd_req <= 1'b1;
                    state <= S_KSC0;
                end
                S_KSC0: if (rd_ok) begin
                    ks_mant <= rd_word;
                    ra <= ra + TWO;
                    state <= S_KSC1;
                end
                S_KSC1: if (rd_ok) begin
                    ks_exp <= rd_word[7:0];
                    rd_req <= 1'b0;
                    state <= S_ROW0;
                end
                S_ROW0: begin  // row offset of the token in the plane
                    row_off <= tok * f_rb;
                    state <= S_ROW1;
                end
                S_ROW1: begin
                    bit_addr <= {row_byte, 3'b000};
                    f_two <= f_end_row > 5'd16;
                    f_last_fld <= (h_d == 1);
                    ra <= {row_byte[ABITS-1:1], 1'b0};
                    i <= {DW{1'b0}};
                    fx <= 1'b0;
                    rd_req <= 1'b1;
                    state <= S_FIELDS;
                end
                S_FIELDS: begin
                    if (rd_ok && !fx && f_two) begin  // the field continues in the next word
                        w_lo <= rd_word;
                        fx <= 1'b1;
                        ra <= ra + TWO;
                    end
                    if (f_emit) begin
                        fx <= 1'b0;
                        f_two <= f_end_next > 5'd16;
                        f_last_fld <= (i_plus2 == {1'b0, h_d});
                        bit_addr <= f_next_addr;
                        ra <= {f_next_addr[ABITS+2:4], 1'b0};
                        i <= i + 1'b1;
                        if (f_last_fld) rd_req <= 1'b0;
                        if (f_last_fld && fill) begin  // MSB plane buffered: now the LSB plane
                            fill <= 1'b0;
                            state <= S_ROW0;
                        end else if (vmode && !fill) begin
                            rd_req <= 1'b0;
                            state <= S_PVW;
                        end else if (f_last_fld) begin
                            state <= S_KDRAIN;
                        end
                    end
                end
                S_KDRAIN: if (!e_valid && !c_valid && !qk_pv) begin  // the last product is in
                    mul_go <= 1'b1;
                    mul_neg <= 1'b0;
                    mul_a <= {16'd0, h_q_scale[15:0]};
                    mul_b <= {16'd0, ks_mant};
                    state <= S_MQK;
                end
                S_MQK: if (mul_done) begin  // mqk = (mq * mk + 2^15) >> 16
                    mul_go <= 1'b1;
                    mul_a <= dot[31] ? 32'd0 - dot : dot;
                    mul_neg <= dot[31];
                    mul_b <= {16'd0, mul_p[31:16] + {15'd0, mul_p[15]}};
                    state <= S_RAW;
                end
                S_RAW: if (mul_done) begin  // raw = dot * mqk
                    shf_x <= mul_ps;
                    state <= S_LWAIT;
                end
                S_LWAIT: state <= S_LOGIT;  // the range checks of raw
                S_LOGIT: begin
                    cnt6 <= shl_r[5:0];
                    lsh_wait <= 1'b0;
                    if (sx_zero) begin
                        logit <= 24'sd0;
                        state <= S_LSTORE;
                    end else if (shl_left) begin
                        if (shl_sat) begin
                            logit <= shf_x[49] ? -24'sd8388608 : 24'sd8388607;
                            state <= S_LSTORE;
                        end else begin
                            state <= S_LSH;
                        end
                    end else if (shl_zero) begin
                        logit <= 24'sd0;  // |raw| < 2^47: rounding leaves nothing
                        state <= S_LSTORE;
                    end else begin
                        shf_s <= 6'd0 - shl_r[5:0] - 6'd1;
                        state <= S_RSH0;
                    end
                end
                S_LSH: begin  // shf_x * 2^sh, saturating: one doubling per two cycles
                    if (lsh_wait) begin
                        lsh_wait <= 1'b0;
                    end else if (sx_over_t) begin
                        logit <= shf_x[49] ? -24'sd8388608 : 24'sd8388607;
                        state <= S_LSTORE;
                    end else if (cnt6 == 6'd0) begin
                        logit <= shf_x[23:0];
                        state <= S_LSTORE;
                    end else begin
                        shf_x <= shf_x <<< 1;
                        cnt6 <= cnt6 - 6'd1;
                        lsh_wait <= 1'b1;
                    end
                end
                S_RSH0: if (shf_s == 6'd0) state <= S_RSH1;  // shf_t <= raw >>> (s - 1)
                S_RSH1: state <= S_RSH2;  // shf_t <= rounded
                S_RSH2: begin
                    logit <= (shf_t[49:23] == {27{shf_t[49]}}) ? shf_t[23:0] :  // fits
                             shf_t[49] ? -24'sd8388608 : 24'sd8388607;
                    state <= S_LSTORE;
                end
                S_LSTORE: begin  // lbuf[j] <= logit (lb_we)
                    if (j == {CW{1'b0}} || logit > lmax) lmax <= logit;
                    j <= j + 1'b1;
                    if (j_end_r) begin
                        j <= {CW{1'b0}};
                        sum_lo <= 24'd0;
                        sum_hi <= {(SUMW - 24) {1'b0}};
                        sum_c <= 1'b0;
                        state <= S_EXP0;
                    end else begin
                        state <= S_KEY;
                    end
                end

                // ---- softmax ----
                S_EXP0: state <= S_EXP1;  // lbuf read of j
                S_EXP1: begin
                    cnt6 <= spk_ge_const({16'd0, exp_delta[23:8]}, 32'd24) ? 6'd63
                                                                          : exp_delta[13:8];
                    state <= S_EXP2;
                end
                S_EXP2: begin  // the LUT value is in: shf_x = (LUT << 8) >> whole
                    shf_x <= {26'd0, lut_q, 8'd0};
                    shf_s <= cnt6;
                    state <= S_EXP3;
                end
                S_EXP3: if (shf_s == 6'd0) state <= S_EXP4;  // shf_t <= the shifted LUT value
                S_EXP4: begin  // lbuf[j] <= exponential (lb_we)
                    sum_lo <= sum_lo_next[23:0];  // (a shift by 63 left 0)
                    sum_c <= sum_lo_next[24];
                    sum_hi <= sum_hi + {{(SUMW - 25) {1'b0}}, sum_c};
                    j <= j + 1'b1;
                    if (j_end_r) begin
                        j <= {CW{1'b0}};
                        state <= S_SUMC;
                    end else begin
                        state <= S_EXP0;
                    end
                end
                S_SUMC: begin  // the last carry into the sum
                    sum_hi <= sum_hi + {{(SUMW - 25) {1'b0}}, sum_c};
                    sum_c <= 1'b0;
                    rem <= {SUMW{1'b0}};
                    recip <= 25'd0;
                    cnt6 <= 6'd47;
                    state <= S_DIV;
                end
                S_DIV: begin  // recip = 2^47 / sum, one quotient bit per cycle
                    if (!rem_sub[SUMW+1]) begin
                        rem <= rem_sub[SUMW-1:0];
                        recip <= {recip[23:0], 1'b1};
                    end else begin
                        rem <= rem2[SUMW-1:0];
                        recip <= {recip[23:0], 1'b0};
                    end
                    cnt6 <= cnt6 - 6'd1;
                    if (cnt6 == 6'd0) begin
                        pmax <= 16'd0;
                        state <= S_PROB0;
                    end
                end
                S_PROB0: state <= S_PROB1;  // lbuf read of j
                S_PROB1: begin
                    mul_go <= 1'b1;
                    mul_neg <= 1'b0;
                    mul_a <= {8'd0, lb_q};
                    mul_b <= {7'd0, recip};
                    state <= S_PROB2;
                end
                S_PROB2: if (mul_done) begin  // the probability, registered
                    p_r <= prob_sat;
                    state <= S_PROB3;
                end
                S_PROB3: begin  // probs[j] <= p (pb_we)
                    prob_valid <= 1'b1;
                    prob_index <= j_a;
                    prob_value <= p_r;
                    if (p_r > pmax) pmax <= p_r;
                    j <= j + 1'b1;
                    state <= j_end_r ? S_PWAIT : S_PROB0;
                end
                S_PWAIT: state <= S_PEND;  // the confidence check of the final pmax
                S_PEND: begin
                    j <= {CW{1'b0}};
                    if (!lsb_pass && h_lsb != 4'd0 && conf_low_r) begin
                        requant <= 1'b1;
                        lsb_pass <= 1'b1;
                        state <= S_KEY;
                    end else begin
                        state <= S_IMP0;
                    end
                end

                // ---- token importance: each final probability to its token ----
                S_IMP0: state <= S_IMP1;  // probs and ktok reads of j
                S_IMP1: begin
                    imp_add <= !spk_ge_const({16'd0, key_tok}, NTOK32);
                    imp_tok <= key_tok[TKW-1:0];
                    j <= j + 1'b1;
                    if (j_end_r) begin
                        j <= {CW{1'b0}};
                        state <= S_TK;
                    end else begin
                        state <= S_IMP0;
                    end
                end

                // ---- local V top-k ----
                S_TK: begin
                    tk_k <= tk_k_w[CW-1:0];
                    tk_all <= tk_all_r;
                    tk_gt <= 1'b0;
                    tk_t <= 16'd0;
                    tk_b <= 4'd15;
                    quota <= {CW{1'b0}};
                    kn <= {CW{1'b0}};
                    if (tk_none_r) begin
                        state <= S_V1;  // nothing kept
                        r <= {CW{1'b0}};
                    end else if (tk_all_r) begin
                        state <= S_EMIT;
                    end else begin
                        tk_cand <= 16'h8000;
                        state <= S_TKP0;
                    end
                    j <= {CW{1'b0}};
                    tk_rv <= 1'b0;
                end
                S_TKP0: begin  // a counting pass: how many probabilities are >= tk_cand
                    tk_cnt <= {CW{1'b0}};
                    j <= {CW{1'b0}};
                    tk_rv <= 1'b0;
                    state <= S_TKP;
                end
                S_TKP: begin  // one read per cycle; compared a cycle later
                    tk_rv <= (j < n_c);
                    if (j < n_c) j <= j + 1'b1;
                    if (tk_rv && pb_q >= tk_cand) tk_cnt <= tk_cnt + 1'b1;
                    if (!tk_rv && j == n_c) state <= S_TKEND;
                end
                S_TKEND: begin
                    if (tk_gt) begin  // the values above the threshold: the rest is equal ones
                        quota <= tk_k - tk_cnt;
                        j <= {CW{1'b0}};
                        tk_rv <= 1'b0;
                        state <= S_EMIT;
                    end else begin
                        tk_t <= tk_t_next;
                        if (tk_b != 4'd0) begin
                            tk_b <= tk_b - 4'd1;
                            tk_cand <= tk_t_next | (16'd1 << (tk_b - 4'd1));
                            state <= S_TKP0;
                        end else if (tk_t_next == 16'hFFFF) begin
                            quota <= tk_k;  // nothing is above 65535
                            j <= {CW{1'b0}};
                            tk_rv <= 1'b0;
                            state <= S_EMIT;
                        end else begin  // one more pass: count the values >= threshold + 1
                            tk_gt <= 1'b1;
                            tk_cand <= tk_t_next + 16'd1;
                            state <= S_TKP0;
                        end
                    end
                end
                S_EMIT: begin  // kept rows in index order (kl_we), their tokens on vkey
                    tk_rv <= (j < n_c);
                    tk_rj <= j;
                    if (j < n_c) j <= j + 1'b1;
                    if (kl_we) begin
                        kn <= kn + 1'b1;
                        vkey_valid <= 1'b1;
                        vkey_token <= key_tok;
                        if (!tk_all && pb_q == tk_t) quota <= quota - 1'b1;
                    end
                    if (!tk_rv && j == n_c) begin
                        r <= {CW{1'b0}};
                        state <= S_V1;
                    end
                end

                // ---- V: the kept rows' scale words and the largest exponent ----
                S_V1: begin  // klist read of r
                    values_fetched <= {{(16 - CW) {1'b0}}, kn};
                    if (r == kn) begin
                        r <= {CW{1'b0}};
                        i <= {DW{1'b0}};
                        state <= anynz ? S_VCLR : S_OUT0;
                    end else begin
                        state <= S_V1A;
                    end
                end
                S_V1A: state <= S_V1B;  // ktok read of the kept key position
                S_V1B: begin
                    tok <= key_tok;
                    state <= S_V1BA;
                end
                S_V1BA: begin  // the kept row's V scale word
                    ra <= scale_addr;
                    rd_req <= 1'b1;
                    state <= S_V1C;
                end
                S_V1C: if (rd_ok) begin
                    ks_mant <= rd_word;
                    ra <= ra + TWO;
                    state <= S_V1D;
                end
                S_V1D: if (rd_ok) begin  // vscale[r] <= {exp, mant} (vs_we)
                    rd_req <= 1'b0;
                    if (ks_mant != 16'd0) begin
                        anynz <= 1'b1;
                        if (!anynz || $signed(rd_word[7:0]) > $signed(emax)) emax <= rd_word[7:0];
                    end
                    r <= r + 1'b1;
                    state <= S_V1;
                end
                S_VCLR: begin  // acc[i] <= 0 (acc_we)
                    i <= i + 1'b1;
                    if (f_last) state <= S_V2;
                end
                S_V2: begin  // klist and vscale reads of r
                    vmode <= 1'b1;
                    if (r == kn) begin
                        i <= {DW{1'b0}};
                        state <= S_OUT0;
                    end else begin
                        state <= S_V2A;
                    end
                end
                S_V2A: begin  // probs and ktok reads of the kept key position
                    vshift <= v_shift_w;
                    state <= S_V2B;
                end
                S_V2B: begin
                    tok <= key_tok;
                    if (vs_q[15:0] == 16'd0 || spk_ge_const({22'd0, vshift}, 32'd49)) begin
                        r <= r + 1'b1;  // a zero scale or a shift that leaves nothing
                        state <= S_V2;
                    end else begin
                        mul_go <= 1'b1;
                        mul_neg <= 1'b0;
                        mul_a <= {16'd0, pb_q};
                        mul_b <= {16'd0, vs_q[15:0]};
                        state <= S_V2C;
                    end
                end
                S_V2C: if (mul_done) begin  // w = p * mant; then the row's fields
                    mul_a <= mul_p[31:0];  // w = p * mant stays there for the row
                    fill <= lsb_pass;
                    state <= S_ROW0;
                end
                S_PVW: state <= S_PVE0;  // the field's code (merge) into c_code
                S_PVE0: begin  // |code| * w (w in mul_a)
                    mul_go <= 1'b1;
                    mul_b <= c_code[11] ? {20'd0, 12'd0 - c_code} : {20'd0, c_code};
                    mul_neg <= c_code[11];
                    state <= S_PVE1;
                end
                S_PVE1: if (mul_done) begin
                    shf_x <= mul_ps;
                    shf_s <= vshift[5:0] - 6'd1;
                    state <= S_PVE2;
                end
                S_PVE2: if (shf_s == 6'd0) state <= S_PVE3;  // shf_t <= product >>> (shift - 1)
                S_PVE3: state <= S_PVE4;  // shf_t <= rounded term
                S_PVE4: begin  // acc[e_i] += rounded term (acc_we)
                    if (e_last) begin
                        r <= r + 1'b1;
                        state <= S_V2;
                    end else begin
                        rd_req <= 1'b1;
                        state <= S_FIELDS;
                    end
                end

                // ---- outputs and head importance ----
                S_OUT0: state <= S_OUT1;  // accbuf read of i
                S_OUT1: begin
                    out_valid <= 1'b1;
                    out_index <= f_i;
                    out_value <= anynz ? out_sat[31:0] : 32'd0;
                    i <= i + 1'b1;
                    state <= f_last ? S_HWAIT : S_OUT0;
                end
                S_HWAIT: state <= S_HIMP;  // the last |out| goes into habs
                S_HIMP: begin
                    shf_x <= $signed({{(50 - HABW) {1'b0}}, habs});
                    lsh_wait <= 1'b1;  // S_HLSH waits for the range check of h
                    cnt6 <= shi_r[5:0];
                    keys_fetched <= h_n;
                    if (!anynz) begin
                        out_exp <= 10'd0;
                        head_importance <= 48'd0;
                        state <= S_FLUSH;
                    end else begin
                        out_exp <= {{2{emax[7]}}, emax} - 10'd2;
                        if (shi_left) begin
                            if (shi_sat) begin
                                head_importance <= IMP_MAX[47:0];
                                state <= S_FLUSH;
                            end else begin
                                state <= S_HLSH;
                            end
                        end else if (shi_zero) begin
                            head_importance <= 48'd0;
                            state <= S_FLUSH;
                        end else begin
                            shf_s <= 6'd0 - shi_r[5:0] - 6'd1;
                            state <= S_HRSH0;
                        end
                    end
                end
                S_HLSH: begin  // h * 2^sh, saturating: one doubling per two cycles
                    if (lsh_wait) begin
                        lsh_wait <= 1'b0;
                    end else if (sx_over_imp) begin
                        head_importance <= IMP_MAX[47:0];
                        state <= S_FLUSH;
                    end else if (cnt6 == 6'd0) begin
                        head_importance <= shf_x[47:0];
                        state <= S_FLUSH;
                    end else begin
                        shf_x <= shf_x <<< 1;
                        cnt6 <= cnt6 - 6'd1;
                        lsh_wait <= 1'b1;
                    end
                end
                S_HRSH0: if (shf_s == 6'd0) state <= S_HRSH1;
                S_HRSH1: state <= S_HRSH2;
                S_HRSH2: begin
                    head_importance <= shf_t[47:0];
                    state <= S_FLUSH;
                end
                S_FLUSH: begin  // take the held beat: nothing outstanding at done
                    rd_flush <= !rd_empty;
                    if (rd_empty && !rd_flush) state <= S_HADD;
                end
                S_HADD: begin  // the head importance into entry NTOK + head
                    imp_add <= 1'b1;
                    imp_head <= 1'b1;
                    imp_tok <= HEAD0 + head_x[TKW-1:0];
                    state <= S_HADD1;
                end
                S_HADD1: state <= S_HADD2;  // the bank reads the entry
                S_HADD2: begin  // and writes it at the end of this cycle
                    imp_head <= 1'b0;
                    state <= S_DONE;
                end
                default: begin  // S_DONE: the head entry leaves the FIFO
                    rd_flush <= 1'b0;
                    done <= 1'b1;
                    fifo_rd <= (fifo_rd == QLAST) ? {QPW{1'b0}} : fifo_rd + 1'b1;
                    state <= S_IDLE;
                end
            endcase
        end
    end

    wire unused = &{1'b0, rb_msb_w[RBW+3], rb_lsb_w[RBW+3], rb_msb_w[2:0], rb_lsb_w[2:0],
                    rem_sub[SUMW], habs_next[0], shf_round[49], out_sat[ACCW-1:32], vshift[9:6],
                    f_shifted[31:12], prob_round[18], prob_round[0], mul_p[29:0], scale_base,
                    row_off_x[ABITS+RBW+15:ABITS], key_tok_x, h_q_base, h_keys, f_base32,
                    head_x[TKW+7:TKW]};
endmodule

`default_nettype wire
