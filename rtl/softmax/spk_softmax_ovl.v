// spk_softmax_ovl: spk_softmax (same ports, same results bit for bit) with a LANES-wide EXP
// pass and a four-bit-per-cycle division, for the overlapped engine (rtl/engine/spk_engine_ovl.v,
// docs/rtl.md "Overlapped engine").
//
//   LOAD  accept n logits (in_valid/in_ready, one per cycle), store logit j in bank j mod LANES
//         at address j / LANES, track the maximum M;
//   EXP   read one line of LANES logits per cycle, x = exp2 numerator of each, S += their sum;
//   DIV   r = floor(2^47 / S), restoring division, four quotient bits per cycle (12 cycles);
//   PROB  re-read the logits one per cycle, recompute x[j], p[j] as spk_softmax, stream p[j]
//         (not before prob_hold is low: the engine holds it while an earlier request finishes).
// Why the second look at the logits stays: x[j] = LUT(M - t[j]) is floored per key, so a sum
// taken against a running maximum cannot be rescaled to the true M bit-exactly; the EXP pass
// needs M, hence every logit first. Widening EXP to LANES per cycle is the smallest change that
// takes that pass (n cycles in spk_softmax) down to ceil(n / LANES).
// Latency for n keys fed back to back: n + ceil(n/LANES) + 3 + 12 + n + 4 + 1.
`default_nettype none

module spk_softmax_ovl #(
    parameter NMAX  = 1024,  // most keys per request, a multiple of LANES, >= 2
    parameter LANES = 8,     // logits per cycle in the EXP pass (a power of two, >= 2)
    // derived, do not override:
    parameter AW    = $clog2(NMAX),
    parameter CW    = $clog2(NMAX + 1)
) (
    input  wire          clk,
    input  wire          rst,
    input  wire          start,
    input  wire          prob_hold,  // while high, the division's last step (and PROB) waits
    input  wire [CW-1:0] n,
    input  wire [16:0]   threshold,
    output wire          busy,
    input  wire          in_valid,
    output wire          in_ready,
    input  wire [23:0]   in_logit,
    output reg           out_valid,
    output reg  [AW-1:0] out_index,
    output reg  [15:0]   out_prob,
    output reg           done,
    output reg           bad_cmd,
    output wire [15:0]   confidence,
    output wire          refetch,
    output reg  [39:0]   sum,
    output reg  [24:0]   recip
);
    localparam [2:0] S_IDLE = 3'd0, S_LOAD = 3'd1, S_EXP = 3'd2, S_EXP_DRAIN = 3'd3,
                     S_DIV = 3'd4, S_PROB = 3'd5, S_PROB_DRAIN = 3'd6, S_DONE = 3'd7;
    localparam [CW-1:0] NMAX_CW = NMAX[CW-1:0];
    localparam LL = $clog2(LANES);
    localparam LINES = NMAX / LANES;
    localparam BA = (LINES > 1) ? $clog2(LINES) : 1;

    reg [2:0]    state;
    reg [16:0]   threshold_reg;
    reg [CW-1:0] left;
    reg [CW-1:0] n_reg;
    reg [AW-1:0] idx;        // load / PROB index; EXP: first key of the line read
    reg [1:0]    drain;
    reg [5:0]    div_step;   // the highest numerator bit brought down this cycle
    reg [23:0]   max_logit;
    reg [39:0]   rem;
    // DIVB restoring steps per cycle (numerator 2^47: only bit 47 is set, brought down first)
    localparam DIVB = 4;
    reg [39:0]     div_rem;
    reg [DIVB-1:0] div_q;
    reg [40:0]     div_t, div_d;
    integer        ds;
    always @* begin
        div_rem = rem;
        div_q = {DIVB{1'b0}};
        div_t = 41'd0;
        div_d = 41'd0;
        for (ds = DIVB - 1; ds >= 0; ds = ds - 1) begin
            div_t = {div_rem, (div_step == 6'd47) && (ds == DIVB - 1)};
            div_d = div_t - {1'b0, sum};
            div_q[ds] = !div_d[40];
            div_rem = div_d[40] ? div_t[39:0] : div_d[39:0];
        end
    end

    // ---- logit banks -------------------------------------------------------------------------
    wire          load_fire = (state == S_LOAD) && in_valid;
    wire          rd_issue = (state == S_EXP) || (state == S_PROB);
    wire [LL-1:0] idx_lane = idx[LL-1:0];
    wire [AW-1:0] idx_line_w = idx >> LL;
    wire [BA-1:0] idx_line = idx_line_w[BA-1:0];
    wire          unused_line = &{1'b0, idx_line_w};
    wire [LANES*24-1:0] rd_logits;
    wire          last_key = (left == {{(CW - 1) {1'b0}}, 1'b1});
    // EXP: the line read holds keys idx .. idx + LANES - 1; `left` keys remain from idx
    wire          last_line = (left <= LANES[CW-1:0]);
    genvar g;
    generate
        for (g = 0; g < LANES; g = g + 1) begin : bank
            localparam [LL-1:0] LANE = g;
            spk_ram_1r1w #(.DEPTH(LINES), .WIDTH(24), .AW(BA)) logits (
                .clk(clk), .we(load_fire && idx_lane == LANE), .waddr(idx_line),
                .wdata(in_logit), .re(rd_issue), .raddr(idx_line),
                .rdata(rd_logits[g*24+:24]));
        end
    endgenerate

    // ---- stage R: the banks' read data is valid ----------------------------------------------
    reg             r_valid, r_prob;
    reg [AW-1:0]    r_index;
    reg [LANES-1:0] r_mask;   // EXP: lanes below n
    reg [LL-1:0]    r_lane;   // PROB: the key's bank

    // ---- stage D: M - t per lane (PROB: lane 0 holds the key's) ------------------------------
    reg             d_valid, d_prob;
    reg [AW-1:0]    d_index;
    reg [LANES-1:0] d_mask;
    reg [LANES*24-1:0] d_dist;

    // ---- stage A: the exponentials ---------------------------------------------------------
    reg             a_valid, a_prob;
    reg [AW-1:0]    a_index;
    reg [LANES-1:0] a_mask;
    reg [LANES*24-1:0] a_x;
    wire [LANES*24-1:0] exp_x;
    generate
        for (g = 0; g < LANES; g = g + 1) begin : lane_exp
            spk_softmax_exp exp_unit (.d(d_dist[g*24+:24]), .x(exp_x[g*24+:24]));
        end
    endgenerate
    reg [39:0] a_line_sum;
    integer    la;
    always @* begin
        a_line_sum = 40'd0;
        for (la = 0; la < LANES; la = la + 1)
            if (a_mask[la]) a_line_sum = a_line_sum + {16'd0, a_x[la*24+:24]};
    end

    // ---- stage B: the reciprocal product (PROB) ----------------------------------------------
    reg          b_valid;
    reg [AW-1:0] b_index;
    reg [48:0]   b_prod;
    wire [18:0]  b_prob_up = b_prod[48:30] + 19'd1;
    wire [17:0]  b_prob = b_prob_up[18:1];
    wire         unused_prod_bits = &{1'b0, b_prod[29:0], b_prob_up[0]};

    spk_requant requant (
        .clk(clk), .rst(rst), .clear(state == S_IDLE && start), .prob_valid(out_valid),
        .prob(out_prob), .threshold(threshold_reg), .confidence(confidence), .refetch(refetch));

    assign busy = (state != S_IDLE);
    assign in_ready = (state == S_LOAD);

    reg [LANES-1:0]    line_mask;
    reg [LANES*24-1:0] dist_next;
    integer            lm;
    always @* begin
        for (lm = 0; lm < LANES; lm = lm + 1) begin
            line_mask[lm] = (lm < left);
            dist_next[lm*24+:24] = max_logit - rd_logits[lm*24+:24];
        end
        if (r_prob) dist_next[23:0] = max_logit - rd_logits[r_lane*24+:24];
    end

    always @(posedge clk) begin
        if (rst) begin
            state <= S_IDLE;
            n_reg <= {CW{1'b0}};
            threshold_reg <= 17'd0;
            left <= {CW{1'b0}};
            idx <= {AW{1'b0}};
            drain <= 2'd0;
            div_step <= 6'd0;
            max_logit <= 24'd0;
            rem <= 40'd0;
            r_valid <= 1'b0;
            r_prob <= 1'b0;
            r_index <= {AW{1'b0}};
            r_mask <= {LANES{1'b0}};
            r_lane <= {LL{1'b0}};
            d_valid <= 1'b0;
            d_prob <= 1'b0;
            d_index <= {AW{1'b0}};
            d_mask <= {LANES{1'b0}};
            d_dist <= {(LANES * 24) {1'b0}};
            a_valid <= 1'b0;
            a_prob <= 1'b0;
            a_index <= {AW{1'b0}};
            a_mask <= {LANES{1'b0}};
            a_x <= {(LANES * 24) {1'b0}};
            b_valid <= 1'b0;
            b_index <= {AW{1'b0}};
            b_prod <= 49'd0;
            out_valid <= 1'b0;
            out_index <= {AW{1'b0}};
            out_prob <= 16'd0;
            done <= 1'b0;
            bad_cmd <= 1'b0;
            sum <= 40'd0;
            recip <= 25'd0;
        end else begin
            done <= 1'b0;
            out_valid <= 1'b0;

            r_valid <= rd_issue;
            r_prob <= (state == S_PROB);
            r_index <= idx;
            r_mask <= line_mask;
            r_lane <= idx_lane;
            d_valid <= r_valid;
            d_prob <= r_prob;
            d_index <= r_index;
            d_mask <= r_mask;
            d_dist <= dist_next;
            a_valid <= d_valid;
            a_prob <= d_prob;
            a_index <= d_index;
            a_mask <= d_mask;
            a_x <= exp_x;
            b_valid <= a_valid && a_prob;
            b_index <= a_index;
            b_prod <= {25'd0, a_x[23:0]} * {24'd0, recip};
            if (a_valid && !a_prob) sum <= sum + a_line_sum;
            if (b_valid) begin
                out_valid <= 1'b1;
                out_index <= b_index;
                out_prob <= (b_prob > 18'd65535) ? 16'd65535 : b_prob[15:0];
            end

            case (state)
                S_IDLE: begin
                    if (start) begin
                        n_reg <= n;
                        threshold_reg <= threshold;
                        left <= n;
                        idx <= {AW{1'b0}};
                        sum <= 40'd0;
                        recip <= 25'd0;
                        bad_cmd <= 1'b0;
                        max_logit <= 24'h800000;
                        if (n == {CW{1'b0}} || n > NMAX_CW) begin
                            bad_cmd <= 1'b1;
                            state <= S_DONE;
                        end else begin
                            state <= S_LOAD;
                        end
                    end
                end
                S_LOAD: begin
                    if (in_valid) begin
                        if ($signed(in_logit) > $signed(max_logit)) max_logit <= in_logit;
                        idx <= idx + 1'b1;
                        left <= left - 1'b1;
                        if (last_key) begin
                            idx <= {AW{1'b0}};
                            left <= n_reg;
                            state <= S_EXP;
                        end
                    end
                end
                S_EXP: begin  // one line of LANES logits per cycle
                    idx <= idx + LANES[AW-1:0];
                    left <= left - LANES[CW-1:0];
                    if (last_line) begin
                        drain <= 2'd0;
                        state <= S_EXP_DRAIN;
                    end
                end
                S_PROB: begin
                    idx <= idx + 1'b1;
                    left <= left - 1'b1;
                    if (last_key) begin
                        drain <= 2'd0;
                        state <= S_PROB_DRAIN;
                    end
                end
                S_EXP_DRAIN: begin  // the last line passes stages R, D, A (then the sum)
                    drain <= drain + 1'b1;
                    if (drain == 2'd2) begin
                        rem <= 40'd0;
                        left <= n_reg;
                        div_step <= 6'd47;
                        state <= S_DIV;
                    end
                end
                // numerator bits div_step .. div_step - DIVB + 1; the last step waits while
                // prob_hold (the engine's previous request is still finishing: the
                // probabilities must not stream out before its done)
                S_DIV: if (!(prob_hold && div_step == DIVB[5:0] - 6'd1)) begin
                    rem <= div_rem;
                    recip <= {recip[24-DIVB:0], div_q};
                    div_step <= div_step - DIVB[5:0];
                    if (div_step == DIVB[5:0] - 6'd1) begin
                        idx <= {AW{1'b0}};
                        state <= S_PROB;
                    end
                end
                S_PROB_DRAIN: begin
                    drain <= drain + 1'b1;
                    if (drain == 2'd3) state <= S_DONE;
                end
                default: begin
                    done <= 1'b1;
                    state <= S_IDLE;
                end
            endcase
        end
    end
endmodule

`default_nettype wire
