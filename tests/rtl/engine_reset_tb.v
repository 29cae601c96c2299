// 4-state reset/X test of the engine top (Icarus): spk_engine with DMAX = 8, M = 4, NMAX = 16,
// P = 4, QDEPTH = 2, NTOK = 32, or, compiled with ENGINE_COMPACT defined, spk_engine_compact
// (the same ports; no M, no P) with DMAX = 8, NMAX = 16, QDEPTH = 2, NTOK = 32 and a longer
// wait for its requests. Every input except the clock is X while reset is held and every
// buffer starts as X. After the first reset edge no output may be X or Z, through idle cycles,
// an importance clear, four requests queued back to back from a behavioural AXI4 memory (one
// that refetches LSBs and fetches V with both planes, one with a single plane, one with n = 0,
// one in key-list mode: its tokens come from the memory's data, mostly >= NTOK, which only
// skips their importance adds) and the read-back of every importance entry.
// With ENGINE_OVL defined it runs spk_engine_ovl at spk_engine's parameters.
// Prints "PASS engine_reset_tb" (compact: "PASS engine_compact_reset_tb", ovl:
// "PASS engine_ovl_reset_tb") or "FAIL ..." lines.
`default_nettype none

`ifdef ENGINE_COMPACT
`define BENCH "engine_compact_reset_tb"
`define WAIT_CYCLES 400000
`elsif ENGINE_OVL
`define BENCH "engine_ovl_reset_tb"
`define WAIT_CYCLES 10000
`else
`define BENCH "engine_reset_tb"
`define WAIT_CYCLES 10000
`endif

module engine_reset_tb;
    reg clk = 1'b0;
    reg rst;
    always #5 clk = ~clk;

    reg         req_valid, imp_clear, imp_rd_en;
    reg [7:0]   tag;
    reg [5:0]   imp_rd_index;  // 32 token + 16 head entries
    reg [31:0]  q_base;
    reg [3:0]   d, msb_bits, lsb_bits;
    reg [16:0]  threshold;
    reg [15:0]  v_keep, n_keys, key_base;
    reg         key_list;
    reg [31:0]  keys_base;
    reg [23:0]  q_scale;
    reg [31:0]  k_msb_base, k_lsb_base, v_msb_base, v_lsb_base, k_scale_base, v_scale_base;
    reg         arready, rvalid, rlast;
    reg [255:0] rdata;
    reg [1:0]   rresp;
    wire        req_ready, arvalid, rready, prob_valid, vkey_valid, out_valid, done, bad_cmd;
    wire        bus_error, requant, idle, imp_busy, imp_rd_valid;
    wire [7:0]  run_tag;
    wire [47:0] imp_rd_value;
    wire [31:0] araddr, out_value;
    wire [7:0]  arlen;
    wire [2:0]  arsize, out_index;
    wire [1:0]  arburst;
    wire [3:0]  prob_index;
    wire [15:0] prob_value, vkey_token, keys_fetched, values_fetched;
    wire [9:0]  out_exp;
    wire [47:0] head_importance;

`ifdef ENGINE_COMPACT
    spk_engine_compact #(.DMAX(8), .NMAX(16), .QDEPTH(2), .NTOK(32)) dut (
`elsif ENGINE_OVL
    spk_engine_ovl #(.DMAX(8), .M(4), .NMAX(16), .P(4), .QDEPTH(2), .NTOK(32)) dut (
`else
    spk_engine #(.DMAX(8), .M(4), .NMAX(16), .P(4), .QDEPTH(2), .NTOK(32)) dut (
`endif
        .clk(clk), .rst(rst),
        .req_valid(req_valid), .req_ready(req_ready), .tag(tag), .head(8'd3), .d(d),
        .msb_bits(msb_bits),
        .lsb_bits(lsb_bits), .threshold(threshold), .v_keep(v_keep), .n_keys(n_keys),
        .key_base(key_base), .q_scale(q_scale), .q_base(q_base), .k_msb_base(k_msb_base),
        .k_lsb_base(k_lsb_base), .v_msb_base(v_msb_base), .v_lsb_base(v_lsb_base),
        .k_scale_base(k_scale_base), .v_scale_base(v_scale_base), .key_list(key_list),
        .keys_base(keys_base),
        .arvalid(arvalid), .arready(arready), .araddr(araddr), .arlen(arlen), .arsize(arsize),
        .arburst(arburst), .rvalid(rvalid), .rready(rready), .rdata(rdata), .rresp(rresp),
        .rlast(rlast), .idle(idle), .run_tag(run_tag), .imp_clear(imp_clear),
        .imp_busy(imp_busy), .imp_rd_en(imp_rd_en), .imp_rd_index(imp_rd_index),
        .imp_rd_valid(imp_rd_valid), .imp_rd_value(imp_rd_value), .prob_valid(prob_valid),
        .prob_index(prob_index),
        .prob_value(prob_value), .vkey_valid(vkey_valid), .vkey_token(vkey_token),
        .out_valid(out_valid), .out_index(out_index), .out_value(out_value), .done(done),
        .bad_cmd(bad_cmd), .bus_error(bus_error), .out_exp(out_exp),
        .head_importance(head_importance), .requant(requant), .keys_fetched(keys_fetched),
        .values_fetched(values_fetched));

    wire [319:0] outs = {req_ready, arvalid, rready, prob_valid, vkey_valid, out_valid, done,
                         bad_cmd, bus_error, requant, araddr, out_value, arlen, arsize, out_index,
                         arburst, prob_index, prob_value, vkey_token, keys_fetched,
                         values_fetched, out_exp, head_importance, idle, run_tag, imp_busy,
                         imp_rd_valid, imp_rd_value};

    integer errors = 0, cycle = 0, checking = 0, outs_seen = 0, requests_done = 0;
    always @(posedge clk) begin
        cycle <= cycle + 1;
        if (checking && ^outs === 1'bx) begin
            errors = errors + 1;
            if (errors < 5)
                $display("FAIL %s: X/Z on an output at cycle %0d: %b", `BENCH, cycle, outs);
        end
        if (out_valid) outs_seen = outs_seen + 1;
        if (done) requests_done = requests_done + 1;
    end

    // AXI4 memory: every AR accepted, its beat returned two cycles later (in order; a small
    // queue), data a fixed function of the address.
    reg [31:0] queue [0:7];
    reg [2:0]  q_head, q_tail;
    reg [3:0]  q_count;
    reg        issue;
    always @(posedge clk) begin
        if (rst) begin
            q_head <= 3'd0;
            q_tail <= 3'd0;
            q_count <= 4'd0;
            rvalid <= 1'b0;
            rlast <= 1'b0;
            rresp <= 2'b00;
            rdata <= 256'd0;
        end else begin
            issue = (q_count != 4'd0) && (!rvalid || rready);
            if (rvalid && rready) rvalid <= 1'b0;
            if (issue) begin
                rvalid <= 1'b1;
                rlast <= 1'b1;
                rdata <= {8{queue[q_head] * 32'h9E3779B1 ^ 32'h00C3_A55A}};
                q_head <= q_head + 3'd1;
            end
            if (arvalid && arready) begin
                queue[q_tail] <= araddr;
                q_tail <= q_tail + 3'd1;
            end
            q_count <= q_count + ((arvalid && arready) ? 4'd1 : 4'd0) - (issue ? 4'd1 : 4'd0);
        end
    end

    // queue one request (waits for req_ready)
    task request(input [3:0] msb, input [3:0] lsb, input [16:0] t, input [15:0] n,
                 input list);
        begin
            @(negedge clk);
            while (!req_ready) @(negedge clk);
            tag = {msb, lsb};
            d = 4'd6;
            msb_bits = msb;
            lsb_bits = lsb;
            threshold = t;
            v_keep = 16'd3;
            n_keys = n;
            key_base = 16'd2;
            key_list = list;
            keys_base = 32'd3402;
            q_scale = 24'hF8_9000;
            q_base = 32'd998;
            k_msb_base = 32'd1000;
            k_lsb_base = 32'd1203;
            v_msb_base = 32'd2001;
            v_lsb_base = 32'd2417;
            k_scale_base = 32'd3000;
            v_scale_base = 32'd3200;
            req_valid = 1'b1;
            @(negedge clk);
            while (!req_ready) @(negedge clk);
            req_valid = 1'b0;
        end
    endtask

    integer wait_cycles, i, reads_ok = 0;
    initial begin
        arready = 1'bx;
        {req_valid, tag, q_base, d, msb_bits, lsb_bits, threshold, v_keep, n_keys} = 'bx;
        {imp_clear, imp_rd_en, imp_rd_index} = 'bx;
        {key_base, q_scale, k_msb_base, k_lsb_base, v_msb_base, v_lsb_base} = 'bx;
        {k_scale_base, v_scale_base, key_list, keys_base} = 'bx;
        rst = 1'b1;
        @(posedge clk);
        #1 checking = 1;
        repeat (4) @(negedge clk);
        arready = 1'b1;
        req_valid = 1'b0;
        imp_rd_en = 1'b0;
        imp_clear = 1'b1;
        rst = 1'b0;
        @(negedge clk);
        imp_clear = 1'b0;
        repeat (5) @(negedge clk);
        request(4'd4, 4'd4, 17'd65536, 16'd11, 1'b0);  // always refetches: K twice, V both planes
        request(4'd12, 4'd0, 17'd0, 16'd11, 1'b0);     // one plane
        request(4'd6, 4'd4, 17'd0, 16'd0, 1'b0);       // n = 0: d zeros, nothing fetched
        request(4'd4, 4'd4, 17'd65536, 16'd13, 1'b1);  // key list, both planes
        wait_cycles = 0;
        while (requests_done < 4 && wait_cycles < `WAIT_CYCLES) begin
            @(negedge clk);
            wait_cycles = wait_cycles + 1;
        end
        repeat (3) @(negedge clk);
        for (i = 0; i < 48; i = i + 1) begin
            imp_rd_en = 1'b1;
            imp_rd_index = i[5:0];
            @(negedge clk);
            if (imp_rd_valid) reads_ok = reads_ok + 1;
        end
        imp_rd_en = 1'b0;
        repeat (10) @(negedge clk);
        if (requests_done != 4 || outs_seen != 24 || reads_ok != 48 || !idle) begin
            errors = errors + 1;
            $display("FAIL %s: %0d requests done, %0d outputs, %0d reads %s", `BENCH,
                     requests_done, outs_seen, reads_ok, "(want 4, 24, 32)");
        end
        if (errors == 0) $display("PASS %s", `BENCH);
        $finish;
    end
endmodule

`undef BENCH
`undef WAIT_CYCLES
`default_nettype wire
