// spk_pv_ovl: spk_pv (same accumulation, outputs and head importance bit for bit) without the
// SCAN phase, for the overlapped engine (rtl/engine/spk_engine_ovl.v, docs/rtl.md "Overlapped
// engine"): the alignment exponent E (the largest exponent among the kept rows' non-zero scale
// words) comes with `start` (e_in, have_e_in), computed by the engine from its local copy of the
// V scale words while the top-k emits the kept rows, so ACC takes the first V beat right after
// start instead of after one scale word per kept row. See spk_pv.v for the phases.
`default_nettype none

module spk_pv_ovl #(
    parameter DMAX = 64,  // largest head dimension (accumulators)
    parameter M    = 8,   // V codes (multipliers) per cycle; DMAX is a multiple of M
    // derived, do not override:
    parameter DW   = $clog2(DMAX + 1),
    parameter IW   = $clog2(DMAX)
) (
    input  wire           clk,
    input  wire           rst,
    input  wire           start,       // accepted when idle
    input  wire [DW-1:0]  d,           // head dimension, 1..DMAX
    input  wire [16:0]    rows,        // kept V rows, 0..65535
    output wire           busy,
    // the alignment exponent of the kept rows (signed), and whether any has a non-zero word
    input  wire [7:0]     e_in,
    input  wire           have_e_in,
    // ACC: beats of kept rows
    input  wire           beat_valid,
    input  wire [15:0]    beat_prob,   // p[j], UQ0.16
    input  wire [23:0]    beat_scale,  // the row's scale word
    input  wire [M*12-1:0] beat_codes, // lane l = dimension beat*M + l, signed 12-bit
    output wire           in_ready,    // SCAN or ACC input is taken this cycle when valid
    // OUT
    output reg            out_valid,
    output reg  [IW-1:0]  out_index,
    output reg  [31:0]    out_value,
    // completion
    output reg            done,
    output reg            bad_cmd,     // d == 0 or d > DMAX
    output reg  [9:0]     out_exp,     // signed E_out
    output reg  [47:0]    head_importance
);
    localparam [2:0] S_IDLE = 3'd0, S_ACC = 3'd2, S_ACC_DRAIN = 3'd3,
                     S_OUT = 3'd4, S_IMP = 3'd5, S_DONE = 3'd6, S_OUT_LAST = 3'd7;
    localparam [DW-1:0] DMAX_DW = DMAX[DW-1:0];
    localparam [DW-1:0] M_DW = M[DW-1:0];
    localparam [47:0] IMP_MAX = 48'hFFFF_FFFF_FFFF;

    reg [2:0]      state;
    reg [DW-1:0]   d_reg;
    reg [16:0]     rows_left;
    reg [DW-1:0]   beat_base;   // first dimension of the current beat
    reg            have_e;
    reg [7:0]      e_max;       // signed
    reg [1:0]      drain;
    reg [IW-1:0]   out_i;
    reg [40:0]     h;           // sum |o[i]| <= 256 * 2^31

    assign busy = (state != S_IDLE);
    assign in_ready = (state == S_ACC);

    // ---- stage 1: weight and shift of the beat's row -----------------------------------------
    reg            s1_valid;
    reg [31:0]     s1_w;        // p * mv < 2^32
    reg [9:0]      s1_shift;    // 14 + E - ev, >= 14
    reg [DW-1:0]   s1_base;
    reg [M*12-1:0] s1_codes;
    wire           beat_fire = (state == S_ACC) && beat_valid;
    wire [9:0]     beat_shift = 10'd14 + {{2{e_max[7]}}, e_max} - {{2{beat_scale[23]}}, beat_scale[23:16]};

    // ---- stage 2: rounded terms per lane ----------------------------------------------------
    reg            s2_valid;
    reg [DW-1:0]   s2_base;
    reg [M*64-1:0] s2_terms;
    reg signed [63:0] prod, biased;
    reg [M*64-1:0] s2_terms_next;
    reg [DW:0]     lane_dim;
    reg [M-1:0]    lane_we;     // stage 3: lanes below d
    integer        lane;

    always @* begin
        for (lane = 0; lane < M; lane = lane + 1) begin
            lane_dim = {1'b0, s2_base} + lane[DW:0];
            lane_we[lane] = s2_valid && (lane_dim < {1'b0, d_reg});
        end
    end

    always @* begin
        s2_terms_next = {(M * 64) {1'b0}};
        for (lane = 0; lane < M; lane = lane + 1) begin
            prod = $signed({32'd0, s1_w}) * $signed({{52{s1_codes[lane*12+11]}}, s1_codes[lane*12+:12]});
            // rshr(prod, s): |prod| < 2^44, so s >= 46 rounds to 0.
            if (s1_shift >= 10'd46) begin
                biased = 64'sd0;
            end else begin
                biased = (prod + $signed(64'd1 << (s1_shift[5:0] - 6'd1))) >>> s1_shift[5:0];
            end
            s2_terms_next[lane*64+:64] = biased;
        end
    end

    // ---- accumulator banks ----------------------------------------------------------------
    // Reads: the beat entering stage 2 (ACC) or the output dimension (OUT); writes: stage 3.
    localparam ROWS = DMAX / M;
    localparam RW = (ROWS > 1) ? $clog2(ROWS) : 1;
    localparam LOGM = $clog2(M);
    localparam LW = (M > 1) ? LOGM : 1;
    reg  [ROWS-1:0] written;      // address written in this request
    reg             s2_written;   // the stage-2 beat's address was written before its read
    reg             s2_fwd;       // ... and the previous beat (stage 3) writes it meanwhile
    reg  [M*64-1:0] s3_new;       // the values stage 3 writes (forwarded)
    wire [M*64-1:0] bank_q;
    wire [IW:0]     s1_dim = {{(IW + 1 - DW) {1'b0}}, s1_base};
    wire [IW:0]     s2_dim = {{(IW + 1 - DW) {1'b0}}, s2_base};
    wire [IW-1:0]   s1_row = s1_dim[IW-1:0] >> LOGM;  // beats start at multiples of M
    wire [IW-1:0]   s2_row = s2_dim[IW-1:0] >> LOGM;
    wire [IW-1:0]   out_row = out_i >> LOGM;
    wire [RW-1:0]   s1_addr = (ROWS > 1) ? s1_row[RW-1:0] : {RW{1'b0}};
    wire [RW-1:0]   s2_addr = (ROWS > 1) ? s2_row[RW-1:0] : {RW{1'b0}};
    wire [RW-1:0]   out_addr = (ROWS > 1) ? out_row[RW-1:0] : {RW{1'b0}};
    wire            out_phase = (state == S_OUT);
    wire [RW-1:0]   rd_addr = out_phase ? out_addr : s1_addr;
    wire            unused_dims = &{1'b0, s1_dim[IW], s2_dim[IW], s1_row, s2_row, out_row};
    reg  [M*64-1:0] acc_sum;
    integer         bl;
    always @* begin
        for (bl = 0; bl < M; bl = bl + 1)
            acc_sum[bl*64+:64] = (s2_fwd ? s3_new[bl*64+:64] :
                                  s2_written ? bank_q[bl*64+:64] : 64'd0) +
                                 (lane_we[bl] ? s2_terms[bl*64+:64] : 64'd0);
    end
    genvar gb;
    generate
        for (gb = 0; gb < M; gb = gb + 1) begin : bank
            spk_ram_1r1w #(.DEPTH(ROWS), .WIDTH(64)) acc_ram (
                .clk(clk), .we(s2_valid), .waddr(s2_addr), .wdata(acc_sum[gb*64+:64]),
                .re(1'b1), .raddr(rd_addr), .rdata(bank_q[gb*64+:64]));
        end
    endgenerate

    // ---- output stage: saturation, |o| sum, importance scaling ------------------------------
    // OUT reads dimension out_i's bank word; it is emitted the next cycle (o_pend).
    reg            o_pend;
    reg [IW-1:0]   o_idx;
    reg            o_written;
    wire [LW-1:0]  o_lane = (M > 1) ? o_idx[LW-1:0] : {LW{1'b0}};
    wire [63:0]    acc_i = o_written ? bank_q[o_lane*64+:64] : 64'd0;
    wire [31:0]    o_sat = ($signed(acc_i) > 64'sd2147483647) ? 32'h7FFF_FFFF :
                           ($signed(acc_i) < -64'sd2147483648) ? 32'h8000_0000 : acc_i[31:0];
    wire [31:0]    o_abs = o_sat[31] ? (32'd0 - o_sat) : o_sat;  // |-2^31| = 2^31 fits unsigned
    wire [9:0]     imp_sh = {{2{e_max[7]}}, e_max} + 10'd14;     // E_out + 16
    wire [9:0]     imp_rsh = 10'd0 - imp_sh;
    wire [88:0]    h_shl = {48'd0, h} << imp_sh[5:0];
    wire [41:0]    h_biased = {1'b0, h} + (42'd1 << (imp_rsh[5:0] - 6'd1));
    wire [41:0]    h_shr = h_biased >> imp_rsh[5:0];
    reg  [47:0]    importance;

    always @* begin
        if (!imp_sh[9]) begin
            importance = (imp_sh >= 10'd48 || h_shl[88:48] != 41'd0) ? IMP_MAX : h_shl[47:0];
        end else if (imp_rsh >= 10'd42) begin
            importance = 48'd0;  // h < 2^41
        end else begin
            importance = {6'd0, h_shr};
        end
    end

    always @(posedge clk) begin
        if (rst) begin
            state <= S_IDLE;
            d_reg <= {DW{1'b0}};
            rows_left <= 17'd0;
            beat_base <= {DW{1'b0}};
            have_e <= 1'b0;
            e_max <= 8'd0;
            drain <= 2'd0;
            out_i <= {IW{1'b0}};
            h <= 41'd0;
            written <= {ROWS{1'b0}};
            s2_written <= 1'b0;
            s2_fwd <= 1'b0;
            s3_new <= {(M * 64) {1'b0}};
            o_pend <= 1'b0;
            o_idx <= {IW{1'b0}};
            o_written <= 1'b0;
            s1_valid <= 1'b0;
            s1_w <= 32'd0;
            s1_shift <= 10'd0;
            s1_base <= {DW{1'b0}};
            s1_codes <= {(M * 12) {1'b0}};
            s2_valid <= 1'b0;
            s2_base <= {DW{1'b0}};
            s2_terms <= {(M * 64) {1'b0}};
            out_valid <= 1'b0;
            out_index <= {IW{1'b0}};
            out_value <= 32'd0;
            done <= 1'b0;
            bad_cmd <= 1'b0;
            out_exp <= 10'd0;
            head_importance <= 48'd0;
        end else begin
            done <= 1'b0;
            out_valid <= 1'b0;

            // stage 1: rows with a zero scale word contribute nothing
            s1_valid <= beat_fire && (beat_scale[15:0] != 16'd0);
            s1_w <= beat_prob * beat_scale[15:0];
            s1_shift <= beat_shift;
            s1_base <= beat_base;
            s1_codes <= beat_codes;
            // stage 2
            s2_valid <= s1_valid;
            s2_base <= s1_base;
            s2_terms <= s2_terms_next;
            // stage 3: the banks add the lanes below d (the read was issued with stage 1)
            s2_written <= written[s1_addr] || (s2_valid && s2_addr == s1_addr);
            s2_fwd <= s2_valid && s2_addr == s1_addr;
            s3_new <= acc_sum;
            if (s2_valid) written[s2_addr] <= 1'b1;
            // output: the word read for o_idx
            o_pend <= 1'b0;
            o_written <= written[out_addr];
            if (o_pend) begin
                out_valid <= 1'b1;
                out_index <= o_idx;
                out_value <= have_e ? o_sat : 32'd0;
                h <= h + (have_e ? {9'd0, o_abs} : 41'd0);
            end

            case (state)
                S_IDLE: begin
                    if (start) begin
                        d_reg <= d;
                        rows_left <= rows;
                        have_e <= have_e_in;
                        e_max <= have_e_in ? e_in : 8'd0;
                        written <= {ROWS{1'b0}};
                        h <= 41'd0;
                        bad_cmd <= 1'b0;
                        beat_base <= {DW{1'b0}};
                        if (d == {DW{1'b0}} || d > DMAX_DW) begin
                            bad_cmd <= 1'b1;
                            state <= S_DONE;
                        end else begin
                            state <= (rows == 17'd0) ? S_ACC_DRAIN : S_ACC;
                        end
                    end
                end
                S_ACC: begin
                    if (beat_valid) begin
                        if (beat_base + M_DW >= d_reg) begin  // last beat of the row
                            beat_base <= {DW{1'b0}};
                            rows_left <= rows_left - 1'b1;
                            if (rows_left == 17'd1) begin
                                drain <= 2'd0;
                                state <= S_ACC_DRAIN;
                            end
                        end else begin
                            beat_base <= beat_base + M_DW;
                        end
                    end
                end
                S_ACC_DRAIN: begin  // the last beat passes stages 1 to 3
                    drain <= drain + 1'b1;
                    if (drain == 2'd2) begin
                        out_i <= {IW{1'b0}};
                        state <= S_OUT;
                    end
                end
                S_OUT: begin
                    o_pend <= 1'b1;
                    o_idx <= out_i;
                    out_i <= out_i + 1'b1;
                    if ({1'b0, out_i} == d_reg - 1'b1) state <= S_OUT_LAST;
                end
                S_OUT_LAST: state <= S_IMP;  // the last word is emitted (h is final next cycle)
                S_IMP: begin
                    out_exp <= have_e ? ({{2{e_max[7]}}, e_max} - 10'd2) : 10'd0;
                    head_importance <= have_e ? importance : 48'd0;
                    state <= S_DONE;
                end
                default: begin  // S_DONE
                    done <= 1'b1;
                    state <= S_IDLE;
                end
            endcase
        end
    end
endmodule

`default_nettype wire
