// spk_engine_ice40_top: the whole engine on an iCE40 UP5K for `make synth`, in its compact
// microarchitecture (spk_engine_compact: spk_engine's results, sequential datapath), behind a
// pin-limited serial interface, with its memory on chip (spk_axi_spram: 128 KiB in the four
// SPRAMs, serving the engine's AXI4 reads over a 64-bit data bus). The engine has no descriptor
// FIFO here (QDEPTH = 0): it reads the descriptor from the command register, which the host
// leaves alone until `done`. See docs/rtl.md, "iCE40 UP5K build".
//
// Host protocol (all synchronous to clk):
//   - while `sh_en` is high, `sh_din` shifts into the command register CMD, MSB first: the last
//     bit shifted is CMD[0], so a command only shifts in as many bits as its fields need;
//   - `go` executes `op` with the fields in CMD:
//       OP_WRITE  memory word: CMD[77:64] word address (byte address / 8), CMD[63:0] the word;
//       OP_START  a request descriptor (layout below) into the engine's queue; the host waits
//                 for `done` (sticky, cleared here) before it reads results or starts another;
//       OP_READ   load the readout register RD with CMD[11:9] = kind, CMD[8:0] = index:
//                 0 output o[index], 1 the index-th kept V token, 2 final probability p[index],
//                 3 status bits [48 * index, 48 * index + 48) (index 0..2),
//                 4 importance accumulator [index] (only while idle): token t at t, head h
//                 at NTOK + h;
//                 RD is ready three cycles after `go`;
//       OP_CLEAR  clear the importance accumulators (idle drops while they clear).
//   - while `sh_en` is high, RD shifts out LSB first on `sh_dout` (sh_dout = RD[0]).
// Descriptor: CMD[DESC_BITS-1:0] = {tag, d, msb_bits, lsb_bits, threshold, v_keep, n_keys,
// key_base, q_scale, q_base, k_msb_base, k_lsb_base, v_msb_base, v_lsb_base, k_scale_base,
// v_scale_base, head} (tag's MSB shifted first), every base address 17 bits wide (128 KiB
// memory), head 8 bits.
// Status (117 bits, LSB first, read as three 48-bit parts so that RD is only 48 bits):
// vkey count (16), values_fetched (16), keys_fetched (16), head_importance (48), out_exp (10),
// requant, bus_error, bad_cmd, run_tag (8).
// Outputs, kept tokens and probabilities of the last request are captured into small RAMs as
// the engine streams them (one beat per cycle), so the host can read them at its own pace.
`default_nettype none

module spk_engine_ice40_top #(
    parameter DMAX = 64,
    parameter NMAX = 128,
    parameter NTOK = 256,
    parameter NHEAD = 16
) (
    input  wire       clk,
    input  wire       rst,
    input  wire       sh_en,
    input  wire       sh_din,
    input  wire [1:0] op,
    input  wire       go,
    output wire       sh_dout,
    output wire       idle,
    output reg        done
);
    localparam DW = $clog2(DMAX + 1);
    localparam AW = $clog2(NMAX);
    localparam IW = $clog2(DMAX);
    localparam TKW = $clog2(NTOK + NHEAD);
    localparam A = 17;  // memory address bits
    localparam DESC_BITS = 8 + DW + 4 + 4 + 17 + 3 * 16 + 24 + 7 * A + 8;
    localparam CMD_BITS = (DESC_BITS > 78) ? DESC_BITS : 78;
    localparam RD_BITS = 48;
    localparam [1:0] OP_WRITE = 2'd0, OP_START = 2'd1, OP_READ = 2'd2, OP_CLEAR = 2'd3;

    reg  [CMD_BITS-1:0] cmd;
    reg  [RD_BITS-1:0]  rd;
    reg                 req_pend;   // descriptor waiting for req_ready
    reg                 clear_pulse;
    reg  [2:0]          rd_kind;    // readout requested last cycle (kind + 1, 0 = none)
    reg  [15:0]         vkey_count;

    // ---- descriptor fields ------------------------------------------------------------------
    wire [7:0]   d_tag;
    wire [DW-1:0] d_d;
    wire [3:0]   d_msb, d_lsb;
    wire [16:0]  d_thr;
    wire [15:0]  d_keep, d_n, d_key_base;
    wire [7:0]   d_head;
    wire [23:0]  d_q_scale;
    wire [A-1:0] d_q, d_k_msb, d_k_lsb, d_v_msb, d_v_lsb, d_k_scale, d_v_scale;
    assign {d_tag, d_d, d_msb, d_lsb, d_thr, d_keep, d_n, d_key_base, d_q_scale, d_q, d_k_msb,
            d_k_lsb, d_v_msb, d_v_lsb, d_k_scale, d_v_scale, d_head} = cmd[DESC_BITS-1:0];
    localparam [31-A:0] HI0 = 0;

    // ---- engine and its memory ----------------------------------------------------------------
    wire         arvalid, arready, rvalid, rready, rlast, req_ready, e_idle, e_done;
    wire [31:0]  araddr;
    wire [7:0]   arlen;
    wire [2:0]   arsize;
    wire [1:0]   arburst, rresp;
    wire [63:0]  rdata;
    wire         imp_busy, imp_rd_valid, prob_valid, vkey_valid, out_valid;
    wire [47:0]  imp_rd_value, head_importance;
    wire [7:0]   run_tag;
    wire [AW-1:0] prob_index;
    wire [15:0]  prob_value, vkey_token, keys_fetched, values_fetched;
    wire [IW-1:0] out_index;
    wire [31:0]  out_value;
    wire         bad_cmd, bus_error, requant;
    wire [9:0]   out_exp;
    wire         unused_imp = &{1'b0, imp_busy};

    spk_engine_compact #(.DMAX(DMAX), .NMAX(NMAX), .QDEPTH(0), .NTOK(NTOK), .NHEAD(NHEAD),
                         .ABITS(A), .BUSW(64)) engine (
        .clk(clk), .rst(rst), .req_valid(req_pend), .req_ready(req_ready), .tag(d_tag),
        .head(d_head), .d(d_d),
        .msb_bits(d_msb), .lsb_bits(d_lsb), .threshold(d_thr), .v_keep(d_keep), .n_keys(d_n),
        .key_base(d_key_base), .q_scale(d_q_scale), .q_base({HI0, d_q}),
        .k_msb_base({HI0, d_k_msb}), .k_lsb_base({HI0, d_k_lsb}), .v_msb_base({HI0, d_v_msb}),
        .v_lsb_base({HI0, d_v_lsb}), .k_scale_base({HI0, d_k_scale}),
        .v_scale_base({HI0, d_v_scale}), .key_list(1'b0), .keys_base(32'd0),  // contiguous only
        .arvalid(arvalid), .arready(arready), .araddr(araddr), .arlen(arlen), .arsize(arsize),
        .arburst(arburst), .rvalid(rvalid), .rready(rready), .rdata(rdata), .rresp(rresp),
        .rlast(rlast), .idle(e_idle), .run_tag(run_tag), .imp_clear(clear_pulse),
        .imp_busy(imp_busy), .imp_rd_en(go && op == OP_READ && cmd[11:9] == 3'd4),
        .imp_rd_index(cmd[TKW-1:0]), .imp_rd_valid(imp_rd_valid), .imp_rd_value(imp_rd_value),
        .prob_valid(prob_valid), .prob_index(prob_index), .prob_value(prob_value),
        .vkey_valid(vkey_valid), .vkey_token(vkey_token), .out_valid(out_valid),
        .out_index(out_index), .out_value(out_value), .done(e_done), .bad_cmd(bad_cmd),
        .bus_error(bus_error), .out_exp(out_exp), .head_importance(head_importance),
        .requant(requant), .keys_fetched(keys_fetched), .values_fetched(values_fetched));

    spk_axi_spram memory (
        .clk(clk), .rst(rst), .wr_en(go && op == OP_WRITE), .wr_addr(cmd[77:64]),
        .wr_data(cmd[63:0]), .arvalid(arvalid), .arready(arready), .araddr(araddr),
        .arlen(arlen), .arsize(arsize), .arburst(arburst), .rvalid(rvalid), .rready(rready),
        .rdata(rdata), .rresp(rresp), .rlast(rlast));

    // ---- result capture: one RAM per stream, read back by index -----------------------------
    wire [31:0] out_q;
    wire [15:0] vkey_q, prob_q;
    spk_ram_1r1w #(.DEPTH(DMAX), .WIDTH(32)) out_buf (
        .clk(clk), .we(out_valid), .waddr(out_index), .wdata(out_value), .re(1'b1),
        .raddr(cmd[IW-1:0]), .rdata(out_q));
    spk_ram_1r1w #(.DEPTH(NMAX), .WIDTH(16)) vkey_buf (
        .clk(clk), .we(vkey_valid), .waddr(vkey_count[AW-1:0]), .wdata(vkey_token), .re(1'b1),
        .raddr(cmd[AW-1:0]), .rdata(vkey_q));
    spk_ram_1r1w #(.DEPTH(NMAX), .WIDTH(16)) prob_buf (
        .clk(clk), .we(prob_valid), .waddr(prob_index), .wdata(prob_value), .re(1'b1),
        .raddr(cmd[AW-1:0]), .rdata(prob_q));

    assign idle = e_idle && !req_pend && !clear_pulse && !imp_busy;
    assign sh_dout = rd[0];
    wire [143:0] status = {27'd0, run_tag, bad_cmd, bus_error, requant, out_exp,
                           head_importance, keys_fetched, values_fetched, vkey_count};
    reg  [1:0]   rd_part;  // the status part a status read asked for

    always @(posedge clk) begin
        if (rst) begin
            cmd <= {CMD_BITS{1'b0}};
            rd <= {RD_BITS{1'b0}};
            req_pend <= 1'b0;
            clear_pulse <= 1'b0;
            rd_kind <= 3'd0;
            rd_part <= 2'd0;
            vkey_count <= 16'd0;
            done <= 1'b0;
        end else begin
            clear_pulse <= go && op == OP_CLEAR;
            if (sh_en) cmd <= {cmd[CMD_BITS-2:0], sh_din};
            if (req_pend && req_ready) req_pend <= 1'b0;
            if (go && op == OP_START) begin
                req_pend <= 1'b1;
                done <= 1'b0;
                vkey_count <= 16'd0;
            end
            if (e_done) done <= 1'b1;
            if (vkey_valid) vkey_count <= vkey_count + 16'd1;

            // readout: the buffers' read data is there the cycle after `go`
            rd_kind <= (go && op == OP_READ && cmd[11:9] < 3'd4) ? cmd[11:9] + 3'd1 : 3'd0;
            rd_part <= cmd[1:0];
            if (rd_kind == 3'd1) rd <= {{(RD_BITS - 32) {1'b0}}, out_q};
            else if (rd_kind == 3'd2) rd <= {{(RD_BITS - 16) {1'b0}}, vkey_q};
            else if (rd_kind == 3'd3) rd <= {{(RD_BITS - 16) {1'b0}}, prob_q};
            else if (rd_kind == 3'd4)
                rd <= (rd_part == 2'd0) ? status[47:0] : (rd_part == 2'd1) ? status[95:48]
                                                                            : status[143:96];
            else if (imp_rd_valid) rd <= imp_rd_value;
            else if (sh_en) rd <= {1'b0, rd[RD_BITS-1:1]};
        end
    end
endmodule

`default_nettype wire
