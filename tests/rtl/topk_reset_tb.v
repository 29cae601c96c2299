// 4-state reset/X test of spk_topk (Icarus): every input except the clock is X while reset is
// held, the buffers start as X, and the lanes past n of the last loaded line stay X. After the
// first reset edge no output may ever be X or Z, and each selection keeps min(k, n) indices.
// Prints "PASS topk_reset_tb" or "FAIL ..." lines; run by tests/rtl/test_rtl_topk.cc.
`default_nettype none

module topk_reset_tb;
    localparam W = 8, NMAX = 32, P = 4, LW = 3, CW = 6;

    reg clk = 1'b0;
    reg rst;
    reg load_en;
    reg [LW-1:0] load_line;
    reg [P*W-1:0] load_data;
    reg start;
    reg [CW-1:0] n, k;
    wire busy, out_valid, done, bad_cmd;
    wire [P-1:0] out_mask;
    wire [LW-1:0] out_line;
    wire [CW-1:0] kept_count, n_greater, passes;
    wire [W-1:0] threshold;
    wire [31:0] sel_cycles;

    spk_topk #(.W(W), .NMAX(NMAX), .P(P)) dut (
        .clk(clk), .rst(rst), .load_en(load_en), .load_line(load_line), .load_data(load_data),
        .start(start), .n(n), .k(k), .busy(busy), .out_valid(out_valid), .out_mask(out_mask),
        .out_line(out_line), .done(done), .bad_cmd(bad_cmd), .kept_count(kept_count),
        .threshold(threshold), .n_greater(n_greater), .passes(passes), .sel_cycles(sel_cycles));

    wire [P+LW+3*CW+W+32+4-1:0] outputs = {busy, out_valid, done, bad_cmd, out_mask, out_line,
                                           kept_count, n_greater, passes, threshold, sel_cycles};

    always #5 clk = ~clk;

    integer errors = 0, checking = 0, beats_kept = 0, lane, i, seed = 7;

    // Any X or Z bit makes the reduction XOR unknown.
    always @(negedge clk) begin
        if (checking && ((^outputs) === 1'bx)) begin
            errors = errors + 1;
            $display("FAIL topk_reset_tb: X/Z on outputs at %0t: %b", $time, outputs);
        end
        if (checking && out_valid)
            for (lane = 0; lane < P; lane = lane + 1) beats_kept = beats_kept + out_mask[lane];
    end

    task load(input integer count);
        integer line;
        begin
            for (line = 0; line * P < count; line = line + 1) begin
                @(negedge clk);
                load_en = 1'b1;
                load_line = line[LW-1:0];
                load_data = {(P * W) {1'bx}};  // lanes past `count` stay unknown
                for (i = 0; i < P; i = i + 1)
                    if (line * P + i < count) load_data[i*W+:W] = $random(seed);
            end
            @(negedge clk);
            load_en = 1'b0;
            load_data = {(P * W) {1'b0}};
        end
    endtask

    task select(input integer count, input integer keep);
        integer want, waited;
        begin
            want = keep < count ? keep : count;
            beats_kept = 0;
            @(negedge clk);
            n = count[CW-1:0];
            k = keep[CW-1:0];
            start = 1'b1;
            @(negedge clk);
            start = 1'b0;
            waited = 0;
            while (!done && waited < 10000) begin
                @(negedge clk);
                waited = waited + 1;
            end
            if (!done) begin
                errors = errors + 1;
                $display("FAIL topk_reset_tb: n=%0d k=%0d never finished", count, keep);
            end
            if (beats_kept != want || kept_count != want[CW-1:0]) begin
                errors = errors + 1;
                $display("FAIL topk_reset_tb: n=%0d k=%0d kept %0d (count %0d), want %0d", count,
                         keep, beats_kept, kept_count, want);
            end
        end
    endtask

    initial begin
        rst = 1'b1;
        load_en = 1'bx;
        load_line = {LW{1'bx}};
        load_data = {(P * W) {1'bx}};
        start = 1'bx;
        n = {CW{1'bx}};
        k = {CW{1'bx}};
        @(posedge clk);
        #1 checking = 1;
        repeat (3) @(posedge clk);
        @(negedge clk);
        rst = 1'b0;
        load_en = 1'b0;
        start = 1'b0;
        n = 0;
        k = 0;
        repeat (3) @(negedge clk);
        load(10);
        select(10, 3);
        select(10, 0);
        select(10, 10);
        select(10, 11);
        select(0, 1);
        load(NMAX - 1);
        select(NMAX - 1, 5);
        select(NMAX - 1, NMAX - 2);
        repeat (5) @(negedge clk);
        if (errors == 0) $display("PASS topk_reset_tb");
        $finish;
    end
endmodule

`default_nettype wire
