// spk_kv_fetch_stream: spk_kv_fetch's ports and output stream (the same fields, beats and
// order) with the plane read as one stream of 32-byte blocks instead of per-row slots, for the
// overlapped engine (rtl/engine/spk_engine_ovl.v, docs/rtl.md "Overlapped engine").
//
// Why: spk_kv_fetch reads every block a row touches for every row and keeps SLOTS rows in
// flight, so short rows (a few bytes) cost a slot round trip or two AR cycles each although ten
// of them share a block. Here a row whose first block is the block requested last (the previous
// row's last one: consecutive rows in increasing order) reuses it, so a run of rows reads each
// block once, and the blocks of up to RQ rows are in flight in a ring of RING blocks.
//   AR    takes a row index (one cycle), computes its block range, issues only the blocks not
//         already requested (one AR per cycle), records the row (first and last block sequence
//         number, byte offset) in the row queue; a block is issued only while the ring has room
//         (blocks older than the oldest queued row's first are free);
//   R     writes each returning block into the ring (always ready: room was reserved at AR);
//   EMIT  once every block of the oldest queued row is in, its fields leave M per beat, one
//         beat per cycle, rows back to back, exactly as spk_kv_fetch emits them.
// Rows in any order are fetched correctly (a row shares a block only with the request just
// before it); increasing rows, as the engine's K pass and kept V rows are, share the most.
`default_nettype none

module spk_kv_fetch_stream #(
    parameter DMAX = 64,   // largest head dimension
    parameter M    = 8,    // fields per output beat
    parameter RING = 16,   // blocks held (a power of two, at least 2 rows' worth)
    parameter RQ   = 16,   // rows queued (a power of two >= 2)
    // derived, do not override:
    parameter DW   = $clog2(DMAX + 1)
) (
    input  wire            clk,
    input  wire            rst,
    input  wire            start,
    input  wire [31:0]     base,
    input  wire [DW-1:0]   d,
    input  wire [3:0]      bits,
    input  wire            is_signed,
    input  wire [15:0]     rows,
    output wire            busy,
    input  wire            idx_valid,
    output wire            idx_ready,
    input  wire [15:0]     idx,
    output wire            arvalid,
    input  wire            arready,
    output wire [31:0]     araddr,
    output wire [7:0]      arlen,
    output wire [2:0]      arsize,
    output wire [1:0]      arburst,
    input  wire            rvalid,
    output wire            rready,
    input  wire [255:0]    rdata,
    input  wire [1:0]      rresp,
    input  wire            rlast,
    output reg             out_valid,
    output reg             out_first,
    output reg             out_last,
    output reg  [M*12-1:0] out_fields,
    output reg             done,
    output reg             bad_cmd,
    output reg             bus_error
);
    localparam MAXB = (DMAX * 12 + 7) / 8 + 31;  // bytes a row can span from a 32-byte block
    localparam BLOCKS = (MAXB + 31) / 32;
    localparam BUFW = BLOCKS * 256;
    localparam PW = $clog2(BUFW);
    localparam RW = $clog2(RING);
    localparam QW = $clog2(RQ);
    localparam SQ = 20;  // block sequence numbers: 65535 rows of at most 4 blocks fit
    localparam [1:0] S_IDLE = 2'd0, S_RUN = 2'd1, S_DONE = 2'd2;
    localparam [DW-1:0] DMAX_DW = DMAX[DW-1:0];
    localparam [DW-1:0] M_DW = M[DW-1:0];
    localparam [SQ-1:0] RING_SQ = RING;
    localparam [QW:0] RQ_N = RQ;

    reg [1:0]     state;
    reg [31:0]    base_reg;
    reg [DW-1:0]  d_reg;
    reg [3:0]     bits_reg;
    reg           signed_reg;
    reg [15:0]    rows_idx;
    reg [15:0]    rows_left;
    reg [8:0]     row_bytes;
    // AR side
    reg           ar_busy;      // blocks of the last taken row still to issue
    reg [2:0]     ar_left;
    reg [26:0]    ar_blk;       // block address ([31:5]) of the next request
    reg [SQ-1:0]  ar_seq;       // sequence number of the next block requested
    reg           have_last;    // a block was requested in this pass
    reg [26:0]    last_blk;     // the block requested last
    // R side
    reg [SQ-1:0]  rcv_seq;      // blocks received
    reg [RING*256-1:0] ring;
    // row queue
    reg [RQ*SQ-1:0] rq_first, rq_last;
    reg [RQ*5-1:0]  rq_off;
    reg [QW-1:0]  rq_wr, rq_rd;
    reg [QW:0]    rq_n;
    // EMIT side
    reg [DW-1:0]  emit_base;

    assign busy = (state != S_IDLE);
    assign arlen = 8'd0;
    assign arsize = 3'd5;
    assign arburst = 2'b01;
    assign rready = (state == S_RUN);

    // ---- AR side ---------------------------------------------------------------------------
    wire [15:0] row_bits = d * bits;
    wire [15:0] row_bytes_w = (row_bits + 16'd7) >> 3;
    wire [31:0] idx_addr = base_reg + idx * row_bytes;
    wire [31:0] idx_end = idx_addr + {23'd0, row_bytes} - 32'd1;  // last byte of the row
    wire [26:0] first_blk = idx_addr[31:5];
    wire [26:0] end_blk = idx_end[31:5];
    wire        share = have_last && (first_blk == last_blk);
    wire [26:0] span_w = end_blk - first_blk;  // blocks after the first: 0..BLOCKS-1
    wire [2:0]  span = span_w[2:0];
    wire        unused_geometry = &{1'b0, row_bytes_w[15:9], span_w[26:3], idx_end[4:0]};
    wire [SQ-1:0] oldest = rq_first[rq_rd*SQ+:SQ];
    // blocks older than the oldest queued row's first are free; with no row queued the block
    // requested last is kept (the next row may share it)
    wire [SQ-1:0] free_base = (rq_n != {(QW + 1) {1'b0}}) ? oldest
                                                         : ar_seq - {{(SQ - 1) {1'b0}}, have_last};
    wire [SQ-1:0] in_ring = ar_seq - free_base;
    wire        room = (in_ring < RING_SQ);
    assign arvalid = ar_busy && room;
    assign araddr = {ar_blk, 5'd0};
    assign idx_ready = (state == S_RUN) && !ar_busy && (rq_n != RQ_N) && (rows_idx != 16'd0);
    wire take_idx = idx_valid && idx_ready;
    wire ar_fire = arvalid && arready;

    // ---- EMIT side -------------------------------------------------------------------------
    wire [SQ-1:0] head_last = rq_last[rq_rd*SQ+:SQ];
    wire        head_ready = (rq_n != {(QW + 1) {1'b0}}) && (rcv_seq > head_last);
    wire [4:0]  e_off = rq_off[rq_rd*5+:5];
    // the head row's blocks, from its first, out of the ring (entries past its last unused)
    reg [BUFW-1:0] e_buf;
    reg [SQ-1:0]   e_seq;  // only its low RW bits index the ring
    reg [RW-1:0]   e_slot;
    wire           unused_e_seq = &{1'b0, e_seq};
    integer        eb;
    always @* begin
        for (eb = 0; eb < BLOCKS; eb = eb + 1) begin
            e_seq = oldest + eb[SQ-1:0];
            e_slot = e_seq[RW-1:0];
            e_buf[eb*256+:256] = ring[e_slot*256+:256];
        end
    end
    // field extraction, as spk_kv_fetch: a lane's field lies in the 32-bit window at the 16-bit
    // word of its first bit
    localparam NW = BUFW / 16;
    wire [BUFW+15:0] e_pad = {16'd0, e_buf};
    wire [31:0]      e_win [0:NW-1];
    wire [M*PW-1:0]  lane_pos;
    wire [M*32-1:0]  lane_win;
    genvar gw;
    generate
        for (gw = 0; gw < NW; gw = gw + 1) begin : win
            assign e_win[gw] = e_pad[gw*16+:32];
        end
        for (gw = 0; gw < M; gw = gw + 1) begin : lane_w
            wire [DW:0] lane_field = {1'b0, emit_base} + gw[DW:0];
            assign lane_pos[gw*PW+:PW] = {{(PW - 8) {1'b0}}, e_off, 3'd0} + lane_field * bits_reg;
            assign lane_win[gw*32+:32] = e_win[lane_pos[gw*PW+4+:PW-4]];
        end
    endgenerate
    reg [M*12-1:0] fields;
    reg [3:0]      bitpos;
    reg [31:0]     window;
    reg [11:0]     raw;
    reg [DW:0]     field;
    integer        lane, b, wr;
    always @* begin
        for (lane = 0; lane < M; lane = lane + 1) begin
            field = {1'b0, emit_base} + lane[DW:0];
            bitpos = lane_pos[lane*PW+:4];
            window = lane_win[lane*32+:32];
            raw = window[{1'b0, bitpos}+:12];
            for (b = 0; b < 12; b = b + 1)
                if (b >= bits_reg) raw[b] = signed_reg ? raw[bits_reg-1] : 1'b0;
            fields[lane*12+:12] = (field < {1'b0, d_reg}) ? raw : 12'd0;
        end
    end
    wire emitting = (state == S_RUN) && head_ready;
    wire e_last = emitting && (emit_base + M_DW >= d_reg);
    wire r_fire = rvalid && rready;
    wire [SQ-1:0] new_first = share ? ar_seq - {{(SQ - 1) {1'b0}}, 1'b1} : ar_seq;

    always @(posedge clk) begin
        if (rst) begin
            state <= S_IDLE;
            base_reg <= 32'd0;
            d_reg <= {DW{1'b0}};
            bits_reg <= 4'd0;
            signed_reg <= 1'b0;
            rows_idx <= 16'd0;
            rows_left <= 16'd0;
            row_bytes <= 9'd0;
            ar_busy <= 1'b0;
            ar_left <= 3'd0;
            ar_blk <= 27'd0;
            ar_seq <= {SQ{1'b0}};
            have_last <= 1'b0;
            last_blk <= 27'd0;
            rcv_seq <= {SQ{1'b0}};
            ring <= {(RING * 256) {1'b0}};
            rq_first <= {(RQ * SQ) {1'b0}};
            rq_last <= {(RQ * SQ) {1'b0}};
            rq_off <= {(RQ * 5) {1'b0}};
            rq_wr <= {QW{1'b0}};
            rq_rd <= {QW{1'b0}};
            rq_n <= {(QW + 1) {1'b0}};
            emit_base <= {DW{1'b0}};
            out_valid <= 1'b0;
            out_first <= 1'b0;
            out_last <= 1'b0;
            out_fields <= {(M * 12) {1'b0}};
            done <= 1'b0;
            bad_cmd <= 1'b0;
            bus_error <= 1'b0;
        end else begin
            done <= 1'b0;
            out_valid <= 1'b0;
            case (state)
                S_IDLE: begin
                    if (start) begin
                        base_reg <= base;
                        d_reg <= d;
                        bits_reg <= bits;
                        signed_reg <= is_signed;
                        rows_idx <= rows;
                        rows_left <= rows;
                        row_bytes <= row_bytes_w[8:0];
                        bad_cmd <= 1'b0;
                        bus_error <= 1'b0;
                        ar_busy <= 1'b0;
                        ar_seq <= {SQ{1'b0}};
                        have_last <= 1'b0;
                        rcv_seq <= {SQ{1'b0}};
                        rq_wr <= {QW{1'b0}};
                        rq_rd <= {QW{1'b0}};
                        rq_n <= {(QW + 1) {1'b0}};
                        emit_base <= {DW{1'b0}};
                        if (d == {DW{1'b0}} || d > DMAX_DW || bits == 4'd0 || bits > 4'd12) begin
                            bad_cmd <= 1'b1;
                            state <= S_DONE;
                        end else begin
                            state <= (rows == 16'd0) ? S_DONE : S_RUN;
                        end
                    end
                end
                S_RUN: begin
                    // AR side
                    if (take_idx) begin
                        rows_idx <= rows_idx - 16'd1;
                        rq_first[rq_wr*SQ+:SQ] <= new_first;
                        rq_last[rq_wr*SQ+:SQ] <= new_first + {{(SQ - 3) {1'b0}}, span};
                        rq_off[rq_wr*5+:5] <= idx_addr[4:0];
                        rq_wr <= rq_wr + 1'b1;
                        have_last <= 1'b1;
                        last_blk <= end_blk;
                        // blocks to request: the row's, less the shared first one
                        if (!share || span != 3'd0) begin
                            ar_busy <= 1'b1;
                            ar_left <= share ? span : span + 3'd1;
                            ar_blk <= share ? first_blk + 27'd1 : first_blk;
                        end
                    end
                    if (ar_fire) begin
                        ar_seq <= ar_seq + 1'b1;
                        ar_blk <= ar_blk + 27'd1;
                        ar_left <= ar_left - 3'd1;
                        if (ar_left == 3'd1) ar_busy <= 1'b0;
                    end
                    // R side: blocks in request order into the ring
                    if (r_fire) begin
                        for (wr = 0; wr < RING; wr = wr + 1)
                            if (rcv_seq[RW-1:0] == wr[RW-1:0]) ring[wr*256+:256] <= rdata;
                        rcv_seq <= rcv_seq + 1'b1;
                        if (rresp != 2'b00 || !rlast) bus_error <= 1'b1;
                    end
                    // EMIT side
                    if (emitting) begin
                        out_valid <= 1'b1;
                        out_first <= (emit_base == {DW{1'b0}});
                        out_last <= e_last;
                        out_fields <= fields;
                        emit_base <= e_last ? {DW{1'b0}} : emit_base + M_DW;
                        if (e_last) begin
                            rq_rd <= rq_rd + 1'b1;
                            rows_left <= rows_left - 16'd1;
                            if (rows_left == 16'd1) state <= S_DONE;
                        end
                    end
                    if (take_idx && !e_last) rq_n <= rq_n + 1'b1;
                    else if (e_last && !take_idx) rq_n <= rq_n - 1'b1;
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
