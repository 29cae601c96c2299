// spk_topk: the SpAtten top-k engine (docs/rtl.md, "Top-k engine"; rule in
// sim/include/spksim/topk.h).
//
// Quick-select with P comparators per cycle: each pass streams the m surviving candidates of a
// buffer, P per cycle, against a pivot (the first candidate of the pass), compacts the "greater"
// and "less" survivors into two other buffers with zero eliminators, counts the equal ones, and
// recurses into the side that holds rank k. A pass costs ceil(m/P) + 3 cycles, exactly the
// golden model's latency model (spk_topk_quickselect). Once the k-th largest value (threshold) is
// known, a second pass re-streams the input and emits, in index order, the lanes greater than the
// threshold plus the first (k - #greater) lanes equal to it. k = 0 and k >= n bypass selection.
//
// Buffers: IN holds the input (loaded through the load port while idle, kept intact for the
// emit pass); X, Y, Z are working buffers. A pass reads its source and writes its two outputs to
// the two working buffers that are not the source. Each buffer is NMAX/P lines of P values.
//
// Output: one beat per input line during the emit pass: `out_mask` bit j set means index
// out_line*P + j is kept. There is no back-pressure: the consumer takes one beat per cycle.
`default_nettype none

module spk_topk #(
    parameter W     = 16,    // value width (signed, two's complement)
    parameter NMAX  = 4096,  // largest n (buffer depth in values); a multiple of P, >= 2P
    parameter P     = 16,    // comparators (values) per cycle
    // derived, do not override:
    parameter LINES = NMAX / P,
    parameter LW    = (LINES > 1) ? $clog2(LINES) : 1,
    parameter CW    = $clog2(NMAX) + 1
) (
    input  wire           clk,
    input  wire           rst,         // synchronous, active high
    // load port: write one line (P values, lane j = index line*P + j) into IN while idle
    input  wire           load_en,
    input  wire [LW-1:0]  load_line,
    input  wire [P*W-1:0] load_data,
    // command: accepted when idle
    input  wire           start,
    input  wire [CW-1:0]  n,
    input  wire [CW-1:0]  k,
    output wire           busy,
    // kept-index stream, in index order
    output reg            out_valid,
    output reg  [P-1:0]   out_mask,
    output reg  [LW-1:0]  out_line,
    // completion: one-cycle pulse after the last beat; the status below is valid from then on
    output reg            done,
    output reg            bad_cmd,     // n > NMAX: nothing selected
    output reg  [CW-1:0]  kept_count,  // min(k, n)
    output reg  [W-1:0]   threshold,   // k-th largest value when 0 < k < n
    output reg  [CW-1:0]  n_greater,   // how many values are strictly greater than threshold
    output reg  [CW-1:0]  passes,      // quick-select passes made
    output reg  [31:0]    sel_cycles   // cycles spent selecting (sum of ceil(m/P) + 3)
);
    localparam PCW = $clog2(2 * P);
    localparam [CW-1:0] P_CW = P[CW-1:0];   // P sized for count arithmetic
    localparam [PCW-1:0] P_PCW = P[PCW-1:0];
    localparam [CW-1:0] NMAX_CW = NMAX[CW-1:0];

    localparam [2:0] S_IDLE = 3'd0, S_PASS = 3'd1, S_DRAIN = 3'd2, S_FLUSH = 3'd3,
                     S_EMIT = 3'd4, S_EMIT_DRAIN = 3'd5, S_DONE = 3'd6;
    localparam [1:0] BUF_IN = 2'd0, BUF_X = 2'd1, BUF_Y = 2'd2, BUF_Z = 2'd3;

    reg [2:0] state;
    reg [1:0] drain;  // cycles spent in S_DRAIN / S_EMIT_DRAIN

    // ---- recursion state -------------------------------------------------------------------
    reg [1:0]    dst_g, dst_l;
    reg [CW-1:0] rank;       // rank of the wanted value within the current candidates
    reg [CW-1:0] above;      // candidates dropped so far for being greater
    reg [CW-1:0] k_reg, n_reg;
    reg          keep_all;   // bypass: k >= n

    // ---- read issue (stage 0) --------------------------------------------------------------
    reg [LW-1:0] rd_line;
    reg [CW-1:0] rd_left;    // candidates not yet issued in this pass
    wire         rd_issue = (state == S_PASS) || (state == S_EMIT);
    wire         rd_last = (rd_left <= P_CW);
    reg  [P-1:0] rd_lanes;   // lanes of this read holding a candidate
    integer      lane;

    always @* begin
        for (lane = 0; lane < P; lane = lane + 1) rd_lanes[lane] = (lane < rd_left);
    end

    // ---- buffers ---------------------------------------------------------------------------
    wire [P*W-1:0] in_rdata, x_rdata, y_rdata, z_rdata;
    reg            x_we, y_we, z_we;
    reg [LW-1:0]   x_waddr, y_waddr, z_waddr;
    reg [P*W-1:0]  x_wdata, y_wdata, z_wdata;

    spk_ram_1r1w #(.DEPTH(LINES), .WIDTH(P * W), .AW(LW)) ram_in (
        .clk(clk), .we(load_en && state == S_IDLE), .waddr(load_line), .wdata(load_data),
        .re(rd_issue), .raddr(rd_line), .rdata(in_rdata));
    spk_ram_1r1w #(.DEPTH(LINES), .WIDTH(P * W), .AW(LW)) ram_x (
        .clk(clk), .we(x_we), .waddr(x_waddr), .wdata(x_wdata),
        .re(rd_issue), .raddr(rd_line), .rdata(x_rdata));
    spk_ram_1r1w #(.DEPTH(LINES), .WIDTH(P * W), .AW(LW)) ram_y (
        .clk(clk), .we(y_we), .waddr(y_waddr), .wdata(y_wdata),
        .re(rd_issue), .raddr(rd_line), .rdata(y_rdata));
    spk_ram_1r1w #(.DEPTH(LINES), .WIDTH(P * W), .AW(LW)) ram_z (
        .clk(clk), .we(z_we), .waddr(z_waddr), .wdata(z_wdata),
        .re(rd_issue), .raddr(rd_line), .rdata(z_rdata));

    // ---- stage 1: compare the line against the pivot ---------------------------------------
    reg          s1_valid, s1_first, s1_emit;
    reg [P-1:0]  s1_lanes;
    reg [LW-1:0] s1_line;
    reg [1:0]    s1_src;
    reg [P*W-1:0] s1_data;
    reg [W-1:0]  pivot;
    reg [W-1:0]  s1_pivot;
    reg [P-1:0]  s1_gt, s1_lt;
    reg [P-1:0]  s1_eq;

    always @* begin
        case (s1_src)
            BUF_IN: s1_data = in_rdata;
            BUF_X: s1_data = x_rdata;
            BUF_Y: s1_data = y_rdata;
            default: s1_data = z_rdata;
        endcase
        s1_pivot = s1_first ? s1_data[W-1:0] : pivot;
        for (lane = 0; lane < P; lane = lane + 1) begin
            s1_gt[lane] = s1_lanes[lane] &&
                          ($signed(s1_data[lane*W+:W]) > $signed(s1_pivot));
            s1_lt[lane] = s1_lanes[lane] &&
                          ($signed(s1_data[lane*W+:W]) < $signed(s1_pivot));
            s1_eq[lane] = s1_lanes[lane] && (s1_data[lane*W+:W] == s1_pivot);
        end
    end

    // ---- emit: lanes greater than the threshold, then the earliest equal ones --------------
    // E1 (stage 1) compares the line with the threshold; E2 counts, per lane, the equal lanes
    // before it; E3 keeps the equal lanes whose count is below the remaining quota (saturated to
    // P), so the quota loop is one compare, a small minimum and one subtraction.
    reg [P-1:0]  e1_gt, e1_eq;
    reg          e2_valid;
    reg [P-1:0]  e2_gt, e2_eq;
    reg [LW-1:0] e2_line;
    reg [P*PCW-1:0] e2_before;  // per lane: equal lanes before it in the line
    reg [PCW-1:0] e2_eq_n;
    reg          e3_valid;
    reg [P-1:0]  e3_gt, e3_eq;
    reg [LW-1:0] e3_line;
    reg [P*PCW-1:0] e3_before;
    reg [PCW-1:0] e3_eq_n;
    reg [CW-1:0] quota;      // equal values still to keep
    reg [PCW-1:0] quota_small, e3_used;
    reg [P-1:0]  e3_keep_eq;

    always @* begin
        for (lane = 0; lane < P; lane = lane + 1) begin
            // The emit pass always reads IN, so it takes IN's data without the source mux, and
            // the two compares run side by side.
            e1_gt[lane] = s1_lanes[lane] &&
                          (keep_all || $signed(in_rdata[lane*W+:W]) > $signed(threshold));
            e1_eq[lane] = s1_lanes[lane] && !keep_all && (in_rdata[lane*W+:W] == threshold);
        end
    end

    always @* begin
        e2_eq_n = {PCW{1'b0}};
        for (lane = 0; lane < P; lane = lane + 1) begin
            e2_before[lane*PCW+:PCW] = e2_eq_n;
            if (e2_eq[lane]) e2_eq_n = e2_eq_n + 1'b1;
        end
    end

    always @* begin
        quota_small = (quota >= P_CW) ? P_PCW : quota[PCW-1:0];
        e3_used = (e3_eq_n < quota_small) ? e3_eq_n : quota_small;
        for (lane = 0; lane < P; lane = lane + 1)
            e3_keep_eq[lane] = e3_eq[lane] && (e3_before[lane*PCW+:PCW] < quota_small);
    end

    // ---- stage 2: compaction into the greater / less FIFOs ---------------------------------
    reg          s2_valid;
    reg [P*W-1:0] s2_data;
    reg [P-1:0]  s2_gt, s2_lt;
    reg [P*W-1:0] acc_g, acc_l;
    reg [PCW-1:0] acc_g_n, acc_l_n;
    reg [LW-1:0] wr_g, wr_l;  // next line to write in each output buffer
    wire [2*P*W-1:0] pack_g, pack_l;
    wire [PCW-1:0] tot_g, tot_l;
    reg [CW-1:0] cnt_gt, cnt_lt, cnt_eq;
    reg [P-1:0]  s2_eq;      // equal lanes, counted in stage 2 to keep stage 1 short
    reg [PCW-1:0] s2_gt_n, s2_lt_n, s2_eq_n;

    spk_topk_append #(.W(W), .P(P), .PCW(PCW)) append_g (
        .acc(acc_g), .acc_n(acc_g_n), .keep(s2_gt), .data(s2_data),
        .merged(pack_g), .total(tot_g));
    spk_topk_append #(.W(W), .P(P), .PCW(PCW)) append_l (
        .acc(acc_l), .acc_n(acc_l_n), .keep(s2_lt), .data(s2_data),
        .merged(pack_l), .total(tot_l));

    always @* begin
        s2_gt_n = {PCW{1'b0}};
        s2_lt_n = {PCW{1'b0}};
        s2_eq_n = {PCW{1'b0}};
        for (lane = 0; lane < P; lane = lane + 1) begin
            if (s2_eq[lane]) s2_eq_n = s2_eq_n + 1'b1;
            if (s2_gt[lane]) s2_gt_n = s2_gt_n + 1'b1;
            if (s2_lt[lane]) s2_lt_n = s2_lt_n + 1'b1;
        end
    end

    // A full line leaves a FIFO in stage 2; the partial last line leaves in S_FLUSH.
    wire          g_line = s2_valid && (tot_g >= P_PCW);
    wire          l_line = s2_valid && (tot_l >= P_PCW);
    wire          g_flush = (state == S_FLUSH) && (acc_g_n != 0);
    wire          l_flush = (state == S_FLUSH) && (acc_l_n != 0);
    wire          g_we = g_line || g_flush;
    wire          l_we = l_line || l_flush;
    wire [P*W-1:0] g_wdata = g_flush ? acc_g : pack_g[P*W-1:0];
    wire [P*W-1:0] l_wdata = l_flush ? acc_l : pack_l[P*W-1:0];

    always @* begin
        x_we = (dst_g == BUF_X) ? g_we : (dst_l == BUF_X) && l_we;
        y_we = (dst_g == BUF_Y) ? g_we : (dst_l == BUF_Y) && l_we;
        z_we = (dst_g == BUF_Z) ? g_we : (dst_l == BUF_Z) && l_we;
        x_waddr = (dst_g == BUF_X) ? wr_g : wr_l;
        y_waddr = (dst_g == BUF_Y) ? wr_g : wr_l;
        z_waddr = (dst_g == BUF_Z) ? wr_g : wr_l;
        x_wdata = (dst_g == BUF_X) ? g_wdata : l_wdata;
        y_wdata = (dst_g == BUF_Y) ? g_wdata : l_wdata;
        z_wdata = (dst_g == BUF_Z) ? g_wdata : l_wdata;
    end

    // ---- decision at the end of a pass -----------------------------------------------------
    wire [CW-1:0] gt_eq = cnt_gt + cnt_eq;
    wire          go_greater = (rank <= cnt_gt);
    wire          found = !go_greater && (rank <= gt_eq);
    wire [1:0]    next_src = go_greater ? dst_g : dst_l;

    assign busy = (state != S_IDLE);

    always @(posedge clk) begin
        if (rst) begin
            state <= S_IDLE;
            drain <= 2'd0;
            dst_g <= BUF_X;
            dst_l <= BUF_Y;
            rank <= {CW{1'b0}};
            above <= {CW{1'b0}};
            k_reg <= {CW{1'b0}};
            n_reg <= {CW{1'b0}};
            keep_all <= 1'b0;
            rd_line <= {LW{1'b0}};
            rd_left <= {CW{1'b0}};
            s1_valid <= 1'b0;
            s1_first <= 1'b0;
            s1_emit <= 1'b0;
            s1_lanes <= {P{1'b0}};
            s1_line <= {LW{1'b0}};
            s1_src <= BUF_IN;
            pivot <= {W{1'b0}};
            s2_valid <= 1'b0;
            s2_data <= {(P * W) {1'b0}};
            s2_gt <= {P{1'b0}};
            s2_lt <= {P{1'b0}};
            s2_eq <= {P{1'b0}};
            acc_g <= {(P * W) {1'b0}};
            acc_l <= {(P * W) {1'b0}};
            acc_g_n <= {PCW{1'b0}};
            acc_l_n <= {PCW{1'b0}};
            wr_g <= {LW{1'b0}};
            wr_l <= {LW{1'b0}};
            cnt_gt <= {CW{1'b0}};
            cnt_lt <= {CW{1'b0}};
            cnt_eq <= {CW{1'b0}};
            quota <= {CW{1'b0}};
            e2_valid <= 1'b0;
            e2_gt <= {P{1'b0}};
            e2_eq <= {P{1'b0}};
            e2_line <= {LW{1'b0}};
            e3_valid <= 1'b0;
            e3_gt <= {P{1'b0}};
            e3_eq <= {P{1'b0}};
            e3_before <= {(P * PCW) {1'b0}};
            e3_eq_n <= {PCW{1'b0}};
            e3_line <= {LW{1'b0}};
            out_valid <= 1'b0;
            out_mask <= {P{1'b0}};
            out_line <= {LW{1'b0}};
            done <= 1'b0;
            bad_cmd <= 1'b0;
            kept_count <= {CW{1'b0}};
            threshold <= {W{1'b0}};
            n_greater <= {CW{1'b0}};
            passes <= {CW{1'b0}};
            sel_cycles <= 32'd0;
        end else begin
            done <= 1'b0;
            out_valid <= 1'b0;

            // stage 0 -> 1
            s1_valid <= rd_issue;
            s1_emit <= (state == S_EMIT);
            s1_first <= rd_issue && (rd_line == {LW{1'b0}});
            s1_lanes <= rd_issue ? rd_lanes : {P{1'b0}};
            s1_line <= rd_line;
            if (rd_issue) begin
                rd_line <= rd_line + 1'b1;
                rd_left <= rd_left - P_CW;
            end

            // stage 1 -> 2 (selection) or -> output (emit)
            s2_valid <= s1_valid && !s1_emit;
            s2_data <= s1_data;
            s2_gt <= (s1_valid && !s1_emit) ? s1_gt : {P{1'b0}};
            s2_lt <= (s1_valid && !s1_emit) ? s1_lt : {P{1'b0}};
            s2_eq <= (s1_valid && !s1_emit) ? s1_eq : {P{1'b0}};
            if (s1_valid && !s1_emit && s1_first) pivot <= s1_data[W-1:0];
            e2_valid <= s1_valid && s1_emit;
            e2_gt <= (s1_valid && s1_emit) ? e1_gt : {P{1'b0}};
            e2_eq <= (s1_valid && s1_emit) ? e1_eq : {P{1'b0}};
            e2_line <= s1_line;
            e3_valid <= e2_valid;
            e3_gt <= e2_gt;
            e3_eq <= e2_eq;
            e3_before <= e2_before;
            e3_eq_n <= e2_eq_n;
            e3_line <= e2_line;
            if (e3_valid) begin
                out_valid <= 1'b1;
                out_mask <= e3_gt | e3_keep_eq;
                out_line <= e3_line;
                quota <= quota - {{(CW - PCW) {1'b0}}, e3_used};
            end

            // stage 2: compaction and counting
            if (s2_valid) begin
                cnt_gt <= cnt_gt + {{(CW - PCW) {1'b0}}, s2_gt_n};
                cnt_lt <= cnt_lt + {{(CW - PCW) {1'b0}}, s2_lt_n};
                cnt_eq <= cnt_eq + {{(CW - PCW) {1'b0}}, s2_eq_n};
                if (g_line) begin
                    acc_g <= pack_g[2*P*W-1:P*W];
                    acc_g_n <= tot_g - P_PCW;
                    wr_g <= wr_g + 1'b1;
                end else begin
                    acc_g <= pack_g[P*W-1:0];
                    acc_g_n <= tot_g;
                end
                if (l_line) begin
                    acc_l <= pack_l[2*P*W-1:P*W];
                    acc_l_n <= tot_l - P_PCW;
                    wr_l <= wr_l + 1'b1;
                end else begin
                    acc_l <= pack_l[P*W-1:0];
                    acc_l_n <= tot_l;
                end
            end

            if (state == S_PASS || state == S_DRAIN || state == S_FLUSH)
                sel_cycles <= sel_cycles + 1'b1;

            case (state)
                S_IDLE: begin
                    if (start) begin
                        k_reg <= k;
                        n_reg <= n;
                        rank <= k;
                        above <= {CW{1'b0}};
                        dst_g <= BUF_X;
                        dst_l <= BUF_Y;
                        rd_line <= {LW{1'b0}};
                        rd_left <= n;
                        s1_src <= BUF_IN;
                        kept_count <= (k >= n) ? n : k;
                        threshold <= {W{1'b0}};
                        n_greater <= {CW{1'b0}};
                        passes <= {CW{1'b0}};
                        sel_cycles <= 32'd0;
                        bad_cmd <= 1'b0;
                        keep_all <= 1'b0;
                        cnt_gt <= {CW{1'b0}};
                        cnt_lt <= {CW{1'b0}};
                        cnt_eq <= {CW{1'b0}};
                        if (n > NMAX_CW) begin
                            bad_cmd <= 1'b1;
                            kept_count <= {CW{1'b0}};
                            state <= S_DONE;
                        end else if (k == {CW{1'b0}} || n == {CW{1'b0}}) begin
                            state <= S_DONE;
                        end else if (k >= n) begin
                            keep_all <= 1'b1;
                            state <= S_EMIT;
                        end else begin
                            state <= S_PASS;
                        end
                    end
                end
                S_PASS: begin
                    if (rd_last) begin
                        state <= S_DRAIN;
                        drain <= 2'd0;
                    end
                end
                S_DRAIN: begin  // the last line passes stages 1 and 2
                    drain <= drain + 1'b1;
                    if (drain == 2'd1) state <= S_FLUSH;
                end
                S_FLUSH: begin
                    // The partial lines leave the FIFOs this cycle (g_flush / l_flush).
                    passes <= passes + 1'b1;
                    acc_g_n <= {PCW{1'b0}};
                    acc_l_n <= {PCW{1'b0}};
                    wr_g <= {LW{1'b0}};
                    wr_l <= {LW{1'b0}};
                    cnt_gt <= {CW{1'b0}};
                    cnt_lt <= {CW{1'b0}};
                    cnt_eq <= {CW{1'b0}};
                    rd_line <= {LW{1'b0}};
                    if (found) begin
                        threshold <= pivot;
                        n_greater <= above + cnt_gt;
                        quota <= k_reg - (above + cnt_gt);
                        rd_left <= n_reg;
                        s1_src <= BUF_IN;
                        state <= S_EMIT;
                    end else begin
                        if (go_greater) begin
                            rd_left <= cnt_gt;
                        end else begin
                            above <= above + gt_eq;
                            rank <= rank - gt_eq;
                            rd_left <= cnt_lt;
                        end
                        s1_src <= next_src;
                        dst_g <= (next_src == BUF_X) ? BUF_Y : BUF_X;
                        dst_l <= (next_src == BUF_Z) ? BUF_Y : BUF_Z;
                        state <= S_PASS;
                    end
                end
                S_EMIT: begin
                    if (rd_last) begin
                        state <= S_EMIT_DRAIN;
                        drain <= 2'd0;
                    end
                end
                S_EMIT_DRAIN: begin
                    // the last line passes E1, E2 and E3, its beat leaves; done follows the beat
                    drain <= drain + 1'b1;
                    if (drain == 2'd3) begin
                        done <= 1'b1;
                        state <= S_IDLE;
                    end
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
