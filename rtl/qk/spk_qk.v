// spk_qk: QK dot-product array with a reduction tree, followed by the logit conversion
// (docs/spec/datapath.md, "Logits"). The query (up to DMAX 12-bit codes) is loaded once per
// request; each key row then arrives as ceil(d/M) beats of M plane fields, which spk_plane_merge
// turns into codes. Per beat: M multipliers (12 x 12 bits), a binary adder tree over the M
// products, and an accumulator over the row's beats; the row's dot product then goes through
// spk_logit with the row's scale word. One beat per cycle; one logit per row, in row order.
// Latency from a row's last beat to its logit: 3 (products, tree, accumulate) + 3 (spk_logit).
`default_nettype none

module spk_qk #(
    parameter DMAX = 64,  // largest head dimension; a multiple of M
    parameter M    = 8,   // multipliers per cycle (a power of two)
    // derived, do not override:
    parameter DW   = $clog2(DMAX + 1),
    parameter BW   = (DMAX / M > 1) ? $clog2(DMAX / M) : 1
) (
    input  wire            clk,
    input  wire            rst,
    // request set-up
    input  wire [DW-1:0]   d,            // head dimension, 1..DMAX (held for the request)
    input  wire [3:0]      lsb_bits,     // K profile: LSB plane bits, 0..10
    input  wire            with_lsb,     // 1: rows come with their LSB plane (full pass)
    input  wire [23:0]     q_scale,      // the query's logit scale word
    input  wire            q_we,         // write query codes [q_beat*M, q_beat*M + M)
    input  wire [BW-1:0]   q_beat,
    input  wire [M*12-1:0] q_codes,
    // key rows
    input  wire            k_valid,      // one beat
    input  wire            k_first,      // first beat of a row
    input  wire            k_last,       // last beat of a row
    input  wire [M*12-1:0] k_hi,         // MSB plane fields, sign-extended to 12 bits
    input  wire [M*10-1:0] k_lo,         // LSB plane fields
    input  wire [23:0]     k_scale,      // the row's scale word (sampled on the last beat)
    output wire            out_valid,
    output wire [23:0]     out_logit
);
    localparam LEVELS = (M > 1) ? $clog2(M) : 1;
    localparam SW = 24 + LEVELS;  // width of a tree sum

    reg [DMAX*12-1:0] q;
    reg [BW-1:0]      beat;       // beat index within the current row

    // one enable per beat word (not a shifted write mask: see q_word below)
    integer qb;
    always @(posedge clk) begin
        if (rst) q <= {(DMAX * 12) {1'b0}};
        else
            for (qb = 0; qb < DMAX / M; qb = qb + 1)
                if (q_we && {{(32 - BW) {1'b0}}, q_beat} == qb) q[qb*M*12+:M*12] <= q_codes;
    end

    // ---- stage 1: merge planes, multiply ---------------------------------------------------
    wire [M*12-1:0] k_codes;
    genvar g;
    generate
        for (g = 0; g < M; g = g + 1) begin : lane_merge
            spk_plane_merge merge (
                .hi(k_hi[g*12+:12]), .lo(k_lo[g*10+:10]), .lsb_bits(lsb_bits),
                .with_lsb(with_lsb), .code(k_codes[g*12+:12]));
        end
    endgenerate

    wire [BW-1:0] cur_beat = k_first ? {BW{1'b0}} : beat;
    // the beat's M query codes, selected as one word (a per-lane bit index into q would make
    // yosys build a bit-granular shifter over all DMAX * 12 bits for every lane)
    wire [M*12-1:0] q_word = q[cur_beat*(M*12)+:M*12];
    reg           s1_valid, s1_first, s1_last;
    reg [23:0]    s1_scale;
    reg [M*24-1:0] s1_prod;
    reg [M*24-1:0] prod;
    reg [DW:0]     dim;
    integer        lane;

    always @* begin
        for (lane = 0; lane < M; lane = lane + 1) begin
            dim = {{(DW + 1 - BW) {1'b0}}, cur_beat} * M[DW:0] + lane[DW:0];
            if (dim < {1'b0, d})
                prod[lane*24+:24] = $signed(q_word[lane*12+:12]) *
                                    $signed(k_codes[lane*12+:12]);
            else
                prod[lane*24+:24] = 24'd0;
        end
    end

    // ---- stage 2: reduction tree (LEVELS adder levels, combinational) ----------------------
    reg [M*SW-1:0] tree;
    integer        level, node;
    reg            s2_valid, s2_first, s2_last;
    reg [23:0]     s2_scale;
    reg [SW-1:0]   s2_sum;

    always @* begin
        for (node = 0; node < M; node = node + 1)
            tree[node*SW+:SW] = {{(SW - 24) {s1_prod[node*24+23]}}, s1_prod[node*24+:24]};
        for (level = 0; level < LEVELS; level = level + 1)
            for (node = 0; node < (M >> (level + 1)); node = node + 1)
                tree[node*SW+:SW] = tree[(2*node)*SW+:SW] + tree[(2*node+1)*SW+:SW];
    end

    // ---- stage 3: accumulate the row's beats -----------------------------------------------
    reg          s3_valid;
    reg [23:0]   s3_scale;
    reg [31:0]   acc;
    wire [31:0]  acc_next = acc + {{(32 - SW) {s2_sum[SW-1]}}, s2_sum};

    always @(posedge clk) begin
        if (rst) begin
            beat <= {BW{1'b0}};
            s1_valid <= 1'b0;
            s1_first <= 1'b0;
            s1_last <= 1'b0;
            s1_scale <= 24'd0;
            s1_prod <= {(M * 24) {1'b0}};
            s2_valid <= 1'b0;
            s2_first <= 1'b0;
            s2_last <= 1'b0;
            s2_scale <= 24'd0;
            s2_sum <= {SW{1'b0}};
            s3_valid <= 1'b0;
            s3_scale <= 24'd0;
            acc <= 32'd0;
        end else begin
            if (k_valid) beat <= k_last ? {BW{1'b0}} : cur_beat + 1'b1;
            s1_valid <= k_valid;
            s1_first <= k_first;
            s1_last <= k_valid && k_last;
            s1_scale <= k_scale;
            s1_prod <= prod;
            s2_valid <= s1_valid;
            s2_first <= s1_first;
            s2_last <= s1_last;
            s2_scale <= s1_scale;
            s2_sum <= tree[SW-1:0];
            // stage 3: a row's sum starts again on its first beat
            s3_valid <= s2_valid && s2_last;
            s3_scale <= s2_scale;
            if (s2_valid) acc <= s2_first ? {{(32 - SW) {s2_sum[SW-1]}}, s2_sum} : acc_next;
        end
    end

    spk_logit logit_unit (
        .clk(clk), .rst(rst), .in_valid(s3_valid), .dot(acc), .q_scale(q_scale),
        .k_scale(s3_scale), .out_valid(out_valid), .logit(out_logit));
endmodule

`default_nettype wire
