// spk_kv_fetch: K/V plane fetcher, an AXI4 read master with a 256-bit (32-byte) data bus
// (docs/spec/datapath.md, "MSB and LSB planes", packing). For each row index it reads the row of
// one plane, `ceil(d * bits / 8)` bytes at `base + index * row_bytes`, and streams its d fields
// out M per beat, sign-extended (MSB plane) or zero-extended (LSB plane) to 12 bits;
// spk_plane_merge then combines the planes. Field i of a row is bits [i*bits, (i+1)*bits) of the
// row's little-endian bit stream.
//
// Bus use: one single-beat INCR burst (ARLEN = 0, ARSIZE = 32 bytes) per 32-byte block the row
// touches, so no burst can cross a 4 KB boundary; R beats must return in request order. Up to
// SLOTS rows are in flight (one row buffer slot each), so the requests of the next rows go out,
// and their beats arrive, while an earlier row's fields leave. Three independent sides:
// AR (takes a row index when a slot is free, issues the row's requests back to back), R (fills
// the slots in order; RREADY low while the slot it would fill is still being emitted) and EMIT
// (one output beat per cycle from a full slot). An error response (RRESP != OKAY) is reported
// at `done`.
`default_nettype none

module spk_kv_fetch #(
    parameter DMAX = 64,  // largest head dimension
    parameter M    = 8,   // fields per output beat
    parameter SLOTS = 4,  // rows in flight (row buffer slots), a power of two >= 2
    // derived, do not override:
    parameter DW   = $clog2(DMAX + 1)
) (
    input  wire            clk,
    input  wire            rst,
    // request: accepted when idle
    input  wire            start,
    input  wire [31:0]     base,        // byte address of row 0 of the plane
    input  wire [DW-1:0]   d,           // fields per row, 1..DMAX
    input  wire [3:0]      bits,        // field width, 1..12
    input  wire            is_signed,   // 1: MSB plane (signed fields)
    input  wire [15:0]     rows,        // rows to fetch (row indices follow on idx_*)
    output wire            busy,
    // row indices
    input  wire            idx_valid,
    output wire            idx_ready,
    input  wire [15:0]     idx,
    // AXI4 read address channel
    output reg             arvalid,
    input  wire            arready,
    output reg  [31:0]     araddr,
    output wire [7:0]      arlen,
    output wire [2:0]      arsize,
    output wire [1:0]      arburst,
    // AXI4 read data channel
    input  wire            rvalid,
    output wire            rready,
    input  wire [255:0]    rdata,
    input  wire [1:0]      rresp,
    input  wire            rlast,
    // fields out
    output reg             out_valid,
    output reg             out_first,   // first beat of a row
    output reg             out_last,    // last beat of a row
    output reg  [M*12-1:0] out_fields,
    // completion
    output reg             done,
    output reg             bad_cmd,     // d or bits out of range
    output reg             bus_error    // an RRESP other than OKAY was seen
);
    localparam MAXB = (DMAX * 12 + 7) / 8 + 31;  // bytes a row can span from a 32-byte block
    localparam BLOCKS = (MAXB + 31) / 32;
    localparam BUFW = BLOCKS * 256;
    localparam BKW = $clog2(BLOCKS + 1);
    localparam PW = $clog2(BUFW);  // bit position within the row buffer
    localparam SW = $clog2(SLOTS);
    localparam [SW-1:0] SLOT_ONE = 1;
    localparam [1:0] S_IDLE = 2'd0, S_RUN = 2'd1, S_DONE = 2'd2;
    localparam [DW-1:0] DMAX_DW = DMAX[DW-1:0];
    localparam [DW-1:0] M_DW = M[DW-1:0];

    reg [1:0]     state;
    reg [31:0]    base_reg;
    reg [DW-1:0]  d_reg;
    reg [3:0]     bits_reg;
    reg           signed_reg;
    reg [15:0]    rows_idx;     // row indices still to take
    reg [15:0]    rows_left;    // rows still to emit
    reg [8:0]     row_bytes;    // <= 384
    // two slots: geometry, fill state
    reg [SLOTS-1:0] used;       // slot holds a row (from its index until its last beat left)
    reg [SLOTS-1:0] full;       // all of the slot's blocks arrived
    reg [SLOTS*5-1:0] offs;     // per slot: the row's first byte within its first 32-byte block
    reg [SLOTS*BKW-1:0] blks;   // per slot: 32-byte blocks of the row
    reg [SLOTS*BUFW-1:0] bufs;
    // AR side
    reg [SW-1:0]  ar_slot;
    reg           ar_busy;
    reg [BKW-1:0] ar_sent;
    // R side
    reg [SW-1:0]  r_slot;
    reg [BKW-1:0] r_got;
    // EMIT side
    reg [SW-1:0]  e_slot;
    reg [DW-1:0]  emit_base;    // first field of the next output beat

    assign busy = (state != S_IDLE);
    assign idx_ready = (state == S_RUN) && !ar_busy && !used[ar_slot] && (rows_idx != 16'd0);
    assign arlen = 8'd0;
    assign arsize = 3'd5;
    assign arburst = 2'b01;
    assign rready = (state == S_RUN) && used[r_slot] && !full[r_slot];

    // row geometry at start: ceil(d * bits / 8)
    wire [15:0] row_bits = d * bits;
    wire [15:0] row_bytes_w = (row_bits + 16'd7) >> 3;
    // first byte of the row and the blocks it touches
    wire [31:0] idx_addr = base_reg + idx * row_bytes;
    wire [9:0]  span = {5'd0, idx_addr[4:0]} + {1'b0, row_bytes} + 10'd31;
    wire [9:0]  span_blocks = span >> 5;
    wire        unused_geometry = &{1'b0, row_bytes_w[15:9], span_blocks[9:BKW]};
    wire [BKW-1:0] r_blocks = blks[r_slot*BKW+:BKW];
    wire [BKW-1:0] ar_blocks = blks[ar_slot*BKW+:BKW];

    // field extraction for the current output beat
    wire [BUFW-1:0] e_buf = bufs[e_slot*BUFW+:BUFW];
    wire [4:0]      e_off = offs[e_slot*5+:5];
    // A lane's field (<= 12 bits) lies in the 32-bit window that starts at the 16-bit word of
    // its first bit: one word-wide multiplexer per lane, then a shift within the window (a
    // bit-granular index into the whole slot would cost a 1024-position shifter per bit).
    localparam NW = BUFW / 16;
    wire [BUFW+15:0] e_pad = {16'd0, e_buf};
    wire [31:0]      e_win [0:NW-1];
    wire [M*PW-1:0]  lane_pos;  // first bit of each lane's field in the slot
    wire [M*32-1:0]  lane_win;  // the 32-bit window holding it
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
    reg [3:0]      bitpos;      // of the field within its window
    reg [31:0]     window;
    reg [11:0]     raw;
    reg [DW:0]     field;
    integer        lane, b, ws, wb;
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

    wire [SLOTS-1:0] ar_bit = {{(SLOTS - 1) {1'b0}}, 1'b1} << ar_slot;
    wire [SLOTS-1:0] r_bit = {{(SLOTS - 1) {1'b0}}, 1'b1} << r_slot;
    wire [SLOTS-1:0] e_bit = {{(SLOTS - 1) {1'b0}}, 1'b1} << e_slot;
    wire take_idx = idx_valid && idx_ready;
    wire r_fire = rvalid && rready;
    wire r_row_done = r_fire && (r_got + 1'b1 == r_blocks);
    wire emitting = (state == S_RUN) && full[e_slot];
    wire e_last = emitting && (emit_base + M_DW >= d_reg);

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
            used <= {SLOTS{1'b0}};
            full <= {SLOTS{1'b0}};
            offs <= {(SLOTS * 5) {1'b0}};
            blks <= {(SLOTS * BKW) {1'b0}};
            bufs <= {(SLOTS * BUFW) {1'b0}};
            ar_slot <= {SW{1'b0}};
            ar_busy <= 1'b0;
            ar_sent <= {BKW{1'b0}};
            r_slot <= {SW{1'b0}};
            r_got <= {BKW{1'b0}};
            e_slot <= {SW{1'b0}};
            emit_base <= {DW{1'b0}};
            arvalid <= 1'b0;
            araddr <= 32'd0;
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
                        used <= {SLOTS{1'b0}};
                        full <= {SLOTS{1'b0}};
                        ar_slot <= {SW{1'b0}};
                        ar_busy <= 1'b0;
                        r_slot <= {SW{1'b0}};
                        r_got <= {BKW{1'b0}};
                        e_slot <= {SW{1'b0}};
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
                    // AR side: take a row index into the free slot, issue its requests
                    if (take_idx) begin
                        offs[ar_slot*5+:5] <= idx_addr[4:0];
                        blks[ar_slot*BKW+:BKW] <= span_blocks[BKW-1:0];
                        rows_idx <= rows_idx - 16'd1;
                        ar_busy <= 1'b1;
                        ar_sent <= {BKW{1'b0}};
                        arvalid <= 1'b1;
                        araddr <= {idx_addr[31:5], 5'd0};
                    end
                    if (arvalid && arready) begin
                        ar_sent <= ar_sent + 1'b1;
                        araddr <= araddr + 32'd32;
                        if (ar_sent + 1'b1 == ar_blocks) begin
                            arvalid <= 1'b0;
                            ar_busy <= 1'b0;
                            ar_slot <= ar_slot + SLOT_ONE;
                        end
                    end
                    // R side: fill the slots in order
                    if (r_fire) begin
                        // one enable per 256-bit line (a shifted write mask over all slots
                        // would cost yosys a bit-granular shifter)
                        for (ws = 0; ws < SLOTS; ws = ws + 1)
                            for (wb = 0; wb < BLOCKS; wb = wb + 1)
                                if (r_slot == ws[SW-1:0] && r_got == wb[BKW-1:0])
                                    bufs[(ws*BLOCKS+wb)*256+:256] <= rdata;
                        if (rresp != 2'b00 || !rlast) bus_error <= 1'b1;
                        r_got <= r_row_done ? {BKW{1'b0}} : r_got + 1'b1;
                        if (r_row_done) r_slot <= r_slot + SLOT_ONE;
                    end
                    // EMIT side: M fields per cycle from a full slot
                    if (emitting) begin
                        out_valid <= 1'b1;
                        out_first <= (emit_base == {DW{1'b0}});
                        out_last <= e_last;
                        out_fields <= fields;
                        emit_base <= e_last ? {DW{1'b0}} : emit_base + M_DW;
                        if (e_last) begin
                            e_slot <= e_slot + SLOT_ONE;
                            rows_left <= rows_left - 16'd1;
                            if (rows_left == 16'd1) state <= S_DONE;
                        end
                    end
                    // slot flags: set by the AR / R sides, cleared by EMIT (different slots
                    // whenever two events meet in one cycle)
                    used <= (used | (take_idx ? ar_bit : {SLOTS{1'b0}})) &
                            ~(e_last ? e_bit : {SLOTS{1'b0}});
                    full <= (full | (r_row_done ? r_bit : {SLOTS{1'b0}})) &
                            ~(e_last ? e_bit : {SLOTS{1'b0}});
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
