// 4-state reset/X test of the datapath blocks (Icarus): spk_softmax, spk_qk, spk_pv,
// spk_importance and spk_kv_fetch (the fetcher only idles here). Every input except the clock is X while reset is held and the RAMs start as
// X. After the first reset edge no output may be X or Z, through idle cycles and one short
// operation of each block (the importance entries are cleared first: they are undefined until
// `clear`, like any RAM). Prints "PASS datapath_reset_tb" or "FAIL ..." lines.
`default_nettype none

module datapath_reset_tb;
    reg clk = 1'b0;
    reg rst;
    always #5 clk = ~clk;

    // ---- softmax (NMAX = 16) ----
    reg sm_start, sm_in_valid;
    reg [4:0] sm_n;
    reg [16:0] sm_threshold;
    reg [23:0] sm_in_logit;
    wire sm_busy, sm_in_ready, sm_out_valid, sm_done, sm_bad, sm_refetch;
    wire [3:0] sm_out_index;
    wire [15:0] sm_out_prob, sm_conf;
    wire [39:0] sm_sum;
    wire [24:0] sm_recip;
    spk_softmax #(.NMAX(16)) softmax (
        .clk(clk), .rst(rst), .start(sm_start), .n(sm_n), .threshold(sm_threshold),
        .busy(sm_busy), .in_valid(sm_in_valid), .in_ready(sm_in_ready), .in_logit(sm_in_logit),
        .out_valid(sm_out_valid), .out_index(sm_out_index), .out_prob(sm_out_prob),
        .done(sm_done), .bad_cmd(sm_bad), .confidence(sm_conf), .refetch(sm_refetch),
        .sum(sm_sum), .recip(sm_recip));

    // ---- QK array (DMAX = 8, M = 4) ----
    reg [3:0] qk_d;
    reg [3:0] qk_lsb_bits;
    reg qk_with_lsb, qk_q_we, qk_k_valid, qk_k_first, qk_k_last;
    reg [23:0] qk_q_scale, qk_k_scale;
    reg qk_q_beat;
    reg [47:0] qk_q_codes, qk_k_hi;
    reg [39:0] qk_k_lo;
    wire qk_out_valid;
    wire [23:0] qk_out_logit;
    spk_qk #(.DMAX(8), .M(4)) qk (
        .clk(clk), .rst(rst), .d(qk_d), .lsb_bits(qk_lsb_bits), .with_lsb(qk_with_lsb),
        .q_scale(qk_q_scale), .q_we(qk_q_we), .q_beat(qk_q_beat), .q_codes(qk_q_codes),
        .k_valid(qk_k_valid), .k_first(qk_k_first), .k_last(qk_k_last), .k_hi(qk_k_hi),
        .k_lo(qk_k_lo), .k_scale(qk_k_scale), .out_valid(qk_out_valid), .out_logit(qk_out_logit));

    // ---- PV (DMAX = 8, M = 4) ----
    reg pv_start, pv_scale_valid, pv_beat_valid;
    reg [3:0] pv_d;
    reg [16:0] pv_rows;
    reg [23:0] pv_scale_word, pv_beat_scale;
    reg [15:0] pv_beat_prob;
    reg [47:0] pv_beat_codes;
    wire pv_busy, pv_in_ready, pv_out_valid, pv_done, pv_bad;
    wire [2:0] pv_out_index;
    wire [31:0] pv_out_value;
    wire [9:0] pv_out_exp;
    wire [47:0] pv_importance;
    spk_pv #(.DMAX(8), .M(4)) pv (
        .clk(clk), .rst(rst), .start(pv_start), .d(pv_d), .rows(pv_rows), .busy(pv_busy),
        .scale_valid(pv_scale_valid), .scale_word(pv_scale_word), .beat_valid(pv_beat_valid),
        .beat_prob(pv_beat_prob), .beat_scale(pv_beat_scale), .beat_codes(pv_beat_codes),
        .in_ready(pv_in_ready), .out_valid(pv_out_valid), .out_index(pv_out_index),
        .out_value(pv_out_value), .done(pv_done), .bad_cmd(pv_bad), .out_exp(pv_out_exp),
        .head_importance(pv_importance));

    // ---- importance (N = 8) ----
    reg im_clear, im_add_valid, im_rd_en;
    reg [2:0] im_add_index, im_rd_index;
    reg [47:0] im_add_amount;
    wire im_busy;
    wire [47:0] im_rd_value;
    spk_importance #(.N(8)) importance (
        .clk(clk), .rst(rst), .clear(im_clear), .busy(im_busy), .add_valid(im_add_valid),
        .add_index(im_add_index), .add_amount(im_add_amount), .rd_en(im_rd_en),
        .rd_index(im_rd_index), .rd_value(im_rd_value));

    // ---- K/V fetcher (DMAX = 8, M = 4), idle after reset ----
    reg fe_start, fe_signed, fe_idx_valid, fe_arready, fe_rvalid, fe_rlast;
    reg [31:0] fe_base;
    reg [3:0] fe_d, fe_bits;
    reg [15:0] fe_rows, fe_idx;
    reg [255:0] fe_rdata;
    reg [1:0] fe_rresp;
    wire fe_busy, fe_idx_ready, fe_arvalid, fe_rready, fe_out_valid, fe_out_first, fe_out_last;
    wire fe_done, fe_bad, fe_bus_error;
    wire [31:0] fe_araddr;
    wire [7:0] fe_arlen;
    wire [2:0] fe_arsize;
    wire [1:0] fe_arburst;
    wire [47:0] fe_out_fields;
    spk_kv_fetch #(.DMAX(8), .M(4)) fetch (
        .clk(clk), .rst(rst), .start(fe_start), .base(fe_base), .d(fe_d), .bits(fe_bits),
        .is_signed(fe_signed), .rows(fe_rows), .busy(fe_busy), .idx_valid(fe_idx_valid),
        .idx_ready(fe_idx_ready), .idx(fe_idx), .arvalid(fe_arvalid), .arready(fe_arready),
        .araddr(fe_araddr), .arlen(fe_arlen), .arsize(fe_arsize), .arburst(fe_arburst),
        .rvalid(fe_rvalid), .rready(fe_rready), .rdata(fe_rdata), .rresp(fe_rresp),
        .rlast(fe_rlast), .out_valid(fe_out_valid), .out_first(fe_out_first),
        .out_last(fe_out_last), .out_fields(fe_out_fields), .done(fe_done), .bad_cmd(fe_bad),
        .bus_error(fe_bus_error));
    wire [104:0] fe_outputs = {fe_busy, fe_idx_ready, fe_arvalid, fe_rready, fe_out_valid,
                               fe_out_first, fe_out_last, fe_done, fe_bad, fe_bus_error,
                               fe_araddr, fe_arlen, fe_arsize, fe_arburst, fe_out_fields};

    wire [255:0] outputs = {sm_busy, sm_in_ready, sm_out_valid, sm_done, sm_bad, sm_refetch,
                            sm_out_index, sm_out_prob, sm_conf, sm_sum, sm_recip,
                            qk_out_valid, qk_out_logit,
                            pv_busy, pv_in_ready, pv_out_valid, pv_done, pv_bad, pv_out_index,
                            pv_out_value, pv_out_exp, pv_importance};
    reg checking = 1'b0, check_importance = 1'b0;
    integer errors = 0, cycle, sm_dones = 0, pv_dones = 0, qk_logits = 0;

    always @(negedge clk) begin
        if (checking && ((^{outputs, fe_outputs}) === 1'bx)) begin
            errors = errors + 1;
            $display("FAIL datapath_reset_tb: X/Z on outputs at %0t: %b", $time, outputs);
        end
        if (!rst) begin
            sm_dones = sm_dones + sm_done;
            pv_dones = pv_dones + pv_done;
            qk_logits = qk_logits + qk_out_valid;
        end
        if (check_importance && ((^{im_busy, im_rd_value}) === 1'bx)) begin
            errors = errors + 1;
            $display("FAIL datapath_reset_tb: X/Z on importance outputs at %0t", $time);
        end
    end

    task idle_inputs;
        begin
            sm_start = 0; sm_in_valid = 0; sm_n = 0; sm_threshold = 0; sm_in_logit = 0;
            qk_d = 0; qk_lsb_bits = 0; qk_with_lsb = 0; qk_q_we = 0; qk_k_valid = 0;
            qk_k_first = 0; qk_k_last = 0; qk_q_scale = 0; qk_k_scale = 0; qk_q_beat = 0;
            qk_q_codes = 0; qk_k_hi = 0; qk_k_lo = 0;
            pv_start = 0; pv_scale_valid = 0; pv_beat_valid = 0; pv_d = 0; pv_rows = 0;
            pv_scale_word = 0; pv_beat_scale = 0; pv_beat_prob = 0; pv_beat_codes = 0;
            im_clear = 0; im_add_valid = 0; im_rd_en = 0; im_add_index = 0; im_rd_index = 0;
            im_add_amount = 0;
            fe_start = 0; fe_signed = 0; fe_idx_valid = 0; fe_arready = 0; fe_rvalid = 0;
            fe_rlast = 0; fe_base = 0; fe_d = 0; fe_bits = 0; fe_rows = 0; fe_idx = 0;
            fe_rdata = 0; fe_rresp = 0;
        end
    endtask

    initial begin
        rst = 1'b1;
        {sm_start, sm_in_valid, sm_n, sm_threshold, sm_in_logit} = {47{1'bx}};
        {qk_d, qk_lsb_bits, qk_with_lsb, qk_q_we, qk_k_valid, qk_k_first, qk_k_last} = {13{1'bx}};
        {qk_q_scale, qk_k_scale, qk_q_beat, qk_q_codes, qk_k_hi, qk_k_lo} = {185{1'bx}};
        {pv_start, pv_scale_valid, pv_beat_valid, pv_d, pv_rows} = {24{1'bx}};
        {pv_scale_word, pv_beat_scale, pv_beat_prob, pv_beat_codes} = {112{1'bx}};
        {im_clear, im_add_valid, im_rd_en, im_add_index, im_rd_index, im_add_amount} = {57{1'bx}};
        {fe_start, fe_signed, fe_idx_valid, fe_arready, fe_rvalid, fe_rlast} = {6{1'bx}};
        {fe_base, fe_d, fe_bits, fe_rows, fe_idx, fe_rdata, fe_rresp} = {330{1'bx}};
        @(posedge clk);
        #1 checking = 1'b1;
        repeat (3) @(posedge clk);
        @(negedge clk);
        rst = 1'b0;
        idle_inputs;
        repeat (4) @(negedge clk);
        // softmax: three logits
        sm_n = 3; sm_threshold = 17'd30000; sm_start = 1;
        @(negedge clk);
        sm_start = 0;
        for (cycle = 0; cycle < 3; cycle = cycle + 1) begin
            sm_in_valid = 1; sm_in_logit = 24'd100 * cycle;
            @(negedge clk);
        end
        sm_in_valid = 0;
        // QK: a query and one row of d = 6 (two beats), MSB-only with 4 LSB bits
        qk_d = 6; qk_lsb_bits = 4; qk_q_scale = {8'hF0, 16'h9000};
        qk_q_we = 1; qk_q_beat = 0; qk_q_codes = {4{12'd100}};
        @(negedge clk);
        qk_q_beat = 1;
        @(negedge clk);
        qk_q_we = 0;
        qk_k_valid = 1; qk_k_first = 1; qk_k_hi = {4{12'hFFD}}; qk_k_lo = {4{10'd5}};
        qk_k_scale = {8'hF8, 16'h8800};
        @(negedge clk);
        qk_k_first = 0; qk_k_last = 1;
        @(negedge clk);
        qk_k_valid = 0; qk_k_last = 0;
        // PV: one row, d = 5
        pv_d = 5; pv_rows = 1; pv_start = 1;
        @(negedge clk);
        pv_start = 0; pv_scale_valid = 1; pv_scale_word = {8'hF0, 16'h8000};
        @(negedge clk);
        pv_scale_valid = 0; pv_beat_valid = 1; pv_beat_prob = 16'd40000;
        pv_beat_scale = {8'hF0, 16'h8000}; pv_beat_codes = {4{12'hF00}};
        repeat (2) @(negedge clk);
        pv_beat_valid = 0;
        // importance: clear, then adds and reads
        im_clear = 1;
        @(negedge clk);
        im_clear = 0;
        while (im_busy) @(negedge clk);
        im_add_valid = 1; im_add_index = 3; im_add_amount = 48'd65535;
        @(negedge clk);
        im_add_valid = 0;
        @(negedge clk);
        im_rd_en = 1; im_rd_index = 3;
        @(negedge clk);
        im_rd_en = 0;
        check_importance = 1'b1;
        repeat (80) @(negedge clk);
        if (sm_dones != 1 || pv_dones != 1 || qk_logits != 1 || im_rd_value != 48'd65535) begin
            errors = errors + 1;
            $display("FAIL datapath_reset_tb: operations did not complete (softmax %0d, pv %0d, qk %0d, importance %0d)",
                     sm_dones, pv_dones, qk_logits, im_rd_value);
        end
        if (errors == 0) $display("PASS datapath_reset_tb");
        $finish;
    end
endmodule

`default_nettype wire
