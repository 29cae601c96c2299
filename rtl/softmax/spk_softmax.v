// spk_softmax: the fixed-point softmax of one request (docs/spec/datapath.md, "Softmax"), one
// key per cycle, with the requant decision on its output (spk_requant).
//
//   LOAD  accept n logits (in_valid/in_ready), store them, track the maximum M;
//   EXP   re-read them, x[j] = exp2 numerator (spk_softmax_exp), S = sum x[j];
//   DIV   r = floor(2^47 / S) by restoring division, one quotient bit per cycle (48 cycles);
//   PROB  re-read them, recompute x[j], p[j] = min(65535, floor((x[j] * r + 2^30) / 2^31)),
//         stream p[j] out in key order and take the running maximum (confidence).
// Latency for n keys fed back to back: n (load) + n + 3 (exp) + 48 (div) + n + 4 (prob) + 1.
// x[j] is recomputed rather than stored: a LUT read and a shift cost less than a 24-bit buffer.
`default_nettype none

module spk_softmax #(
    parameter NMAX = 1024,  // most keys per request (logit buffer depth), >= 2
    // derived, do not override:
    parameter AW   = $clog2(NMAX),
    parameter CW   = $clog2(NMAX + 1)
) (
    input  wire          clk,
    input  wire          rst,
    // command: accepted when idle
    input  wire          start,
    input  wire [CW-1:0] n,
    input  wire [16:0]   threshold,  // requant threshold T, UQ0.16 (65536 = always refetch),
                                     // sampled with start
    output wire          busy,
    // logits in key order (signed 24-bit, 8 fractional bits, base 2)
    input  wire          in_valid,
    output wire          in_ready,
    input  wire [23:0]   in_logit,
    // probabilities in key order, one per cycle, no back-pressure
    output reg           out_valid,
    output reg  [AW-1:0] out_index,
    output reg  [15:0]   out_prob,
    // completion pulse; the status stays valid until the next start
    output reg           done,
    output reg           bad_cmd,     // n == 0 or n > NMAX: nothing computed
    output wire [15:0]   confidence,  // max_j p[j]
    output wire          refetch,     // confidence < T
    output reg  [39:0]   sum,         // S
    output reg  [24:0]   recip        // r
);
    localparam [2:0] S_IDLE = 3'd0, S_LOAD = 3'd1, S_EXP = 3'd2, S_EXP_DRAIN = 3'd3,
                     S_DIV = 3'd4, S_PROB = 3'd5, S_PROB_DRAIN = 3'd6, S_DONE = 3'd7;
    localparam [CW-1:0] NMAX_CW = NMAX[CW-1:0];

    reg [2:0]    state;
    reg [16:0]   threshold_reg;  // the request's T: outputs depend on no live input
    reg [CW-1:0] left;       // keys still to load / read in this phase
    reg [CW-1:0] n_reg;
    reg [AW-1:0] idx;        // load / read index
    reg [1:0]    drain;
    reg [5:0]    div_step;
    reg [23:0]   max_logit;
    reg [39:0]   rem;        // division remainder, below S
    wire [40:0]  div_trial = {rem, div_step == 6'd47};  // next numerator bit brought down
    wire [40:0]  div_diff = div_trial - {1'b0, sum};

    // ---- logit buffer ----------------------------------------------------------------------
    wire         load_fire = (state == S_LOAD) && in_valid;
    wire         rd_issue = (state == S_EXP) || (state == S_PROB);
    wire [23:0]  rd_logit;
    wire         last_key = (left == {{(CW - 1) {1'b0}}, 1'b1});

    spk_ram_1r1w #(.DEPTH(NMAX), .WIDTH(24), .AW(AW)) logits (
        .clk(clk), .we(load_fire), .waddr(idx), .wdata(in_logit),
        .re(rd_issue), .raddr(idx), .rdata(rd_logit));

    // ---- stage R: the buffer's read data is valid --------------------------------------------
    reg          r_valid, r_prob;
    reg [AW-1:0] r_index;

    // ---- stage D: d = M - t, registered ---------------------------------------------------
    // M - t is in [0, 2^24), so the 24-bit modular difference is exact.
    reg          d_valid, d_prob;
    reg [AW-1:0] d_index;
    reg [23:0]   d_dist;

    // ---- stage A: the exponential, registered ---------------------------------------------
    reg          a_valid, a_prob;
    reg [AW-1:0] a_index;
    reg [23:0]   a_x;
    wire [23:0]  exp_x;

    spk_softmax_exp exp_unit (.d(d_dist), .x(exp_x));

    // ---- stage B: accumulate (EXP) or multiply by the reciprocal (PROB) --------------------
    reg          b_valid;
    reg [AW-1:0] b_index;
    reg [48:0]   b_prod;     // x * r < 2^23 * 2^24 * 2 = 2^48
    // floor((x*r + 2^30) / 2^31) == (floor(x*r / 2^30) + 1) / 2: round on the kept bits.
    wire [18:0]  b_prob_up = b_prod[48:30] + 19'd1;
    wire [17:0]  b_prob = b_prob_up[18:1];
    wire         unused_prod_bits = &{1'b0, b_prod[29:0], b_prob_up[0]};

    // ---- requant decision on the output stream ---------------------------------------------
    spk_requant requant (
        .clk(clk), .rst(rst), .clear(state == S_IDLE && start), .prob_valid(out_valid),
        .prob(out_prob), .threshold(threshold_reg), .confidence(confidence), .refetch(refetch));

    assign busy = (state != S_IDLE);
    assign in_ready = (state == S_LOAD);

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
            d_valid <= 1'b0;
            d_prob <= 1'b0;
            d_index <= {AW{1'b0}};
            d_dist <= 24'd0;
            a_valid <= 1'b0;
            a_prob <= 1'b0;
            a_index <= {AW{1'b0}};
            a_x <= 24'd0;
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

            // stage R: the read data arrives next cycle
            r_valid <= rd_issue;
            r_prob <= (state == S_PROB);
            r_index <= idx;
            // stage D
            d_valid <= r_valid;
            d_prob <= r_prob;
            d_index <= r_index;
            d_dist <= max_logit - rd_logit;
            // stage A
            a_valid <= d_valid;
            a_prob <= d_prob;
            a_index <= d_index;
            a_x <= exp_x;
            // stage B
            b_valid <= a_valid && a_prob;
            b_index <= a_index;
            b_prod <= {25'd0, a_x} * {24'd0, recip};
            if (a_valid && !a_prob) sum <= sum + {16'd0, a_x};
            // output
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
                        max_logit <= 24'h800000;  // most negative: any logit replaces it
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
                S_EXP, S_PROB: begin
                    idx <= idx + 1'b1;
                    left <= left - 1'b1;
                    if (last_key) begin
                        drain <= 2'd0;
                        state <= (state == S_EXP) ? S_EXP_DRAIN : S_PROB_DRAIN;
                    end
                end
                S_EXP_DRAIN: begin  // the last exponential passes stages R, D, A (then B: the sum)
                    drain <= drain + 1'b1;
                    if (drain == 2'd2) begin
                        rem <= 40'd0;
                        left <= n_reg;
                        div_step <= 6'd47;
                        state <= S_DIV;
                    end
                end
                S_DIV: begin
                    // Restoring division of 2^47 by S: bring down numerator bit div_step.
                    if (!div_diff[40]) begin  // trial >= S
                        rem <= div_diff[39:0];
                        recip <= {recip[23:0], 1'b1};
                    end else begin
                        rem <= div_trial[39:0];
                        recip <= {recip[23:0], 1'b0};
                    end
                    div_step <= div_step - 1'b1;
                    if (div_step == 6'd0) begin
                        idx <= {AW{1'b0}};
                        state <= S_PROB;
                    end
                end
                S_PROB_DRAIN: begin  // the last probability passes stages R, D, A, B (then out)
                    drain <= drain + 1'b1;
                    if (drain == 2'd3) state <= S_DONE;
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
