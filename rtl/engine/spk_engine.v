// spk_engine: SpAtten head requests end to end from memory, from a queue of descriptors, with
// the token-importance accumulators (docs/rtl.md, "Engine top"; normative behaviour:
// docs/spec/datapath.md, "Head request", "Importance", "Layer").
//
// Descriptors enter a FIFO of QDEPTH entries (req_valid/req_ready); the engine runs them in
// order, one at a time, and every stream beat and `done` carry the running request's tag
// (run_tag). Per request (one step at a time, no overlap between steps; the fetcher overlaps rows):
//   KSCALE  read the query codes (int16 words at q_base, the driver's layout) and the n K scale
//           words (whole 32-byte blocks, back to back); the query goes to the QK array as soon
//           as its blocks are in (QLOAD);
//   KPASS   fetch the K MSB plane of the n keys (spk_kv_fetch), QK + logits (spk_qk), softmax;
//           the MSB fields are kept in the plane buffer HIBUF;
//   requant lsb > 0 and max p < T: fetch the K LSB plane, merge it with HIBUF, recompute;
//   TOPK    local-V top-k over the final probabilities (k = the request's V keep count);
//           meanwhile each final probability is added to its token's importance accumulator;
//   VSCAN   scan the kept flags in index order, list the kept rows and read each one's V scale
//           word (requests go out as rows are listed) into the PV block's scale scan;
//   VPASS   fetch the kept V rows (MSB plane; with requant first into HIBUF, then the LSB plane
//           merged with it), PV multiply-accumulate;
//   done    outputs on the out_* stream, out_exp, head importance and the events.
// n = 0 fetches nothing and outputs d zeros with out_exp = 0 (the golden model's result).
// Keys: with key_list = 0 the contiguous range key_base .. key_base + n - 1 (token = key_base +
// key position); with key_list = 1 a list of n tokens in memory at keys_base, token j the
// little-endian uint16 at keys_base + 2j (2-byte aligned; any order, each < NTOK, the golden
// layer's ALIVE list is strictly increasing), read as whole 32-byte blocks after the query
// blocks; then each key's K scale word is read on its own (one 32-byte read per key, issued
// once the whole list is in). Every per-key access (K scale words, K rows, V rows, V scale
// words, V-key tokens, importance adds) uses token(j); prob_index stays the key position.
// Scale words are 4-byte little-endian words at scale_base + 4 * token (4-byte
// aligned); query code i is the little-endian int16 at q_base + 2i (2-byte aligned).
`default_nettype none

module spk_engine #(
    parameter DMAX = 64,   // largest head dimension; a multiple of M
    parameter M    = 8,    // multipliers of QK and PV, fields per fetch beat (a power of two)
    parameter NMAX = 512,  // most keys per request; a multiple of P, >= 2P
    parameter P    = 8,    // top-k comparators (a power of two)
    parameter QDEPTH = 4,  // descriptor FIFO entries (>= 1)
    parameter NTOK = 1024, // token-importance accumulators (tokens 0 .. NTOK - 1), <= 65536
    parameter NHEAD = 16,  // head-importance accumulators (heads 0 .. NHEAD - 1), <= 256
    // derived, do not override
    parameter DW   = $clog2(DMAX + 1),
    parameter BW   = (DMAX / M > 1) ? $clog2(DMAX / M) : 1,
    parameter AW   = $clog2(NMAX),
    parameter CW   = $clog2(NMAX + 1),
    parameter IW   = $clog2(DMAX),
    parameter TKW  = $clog2(NTOK + NHEAD)
) (
    input  wire            clk,
    input  wire            rst,

    // request descriptor, queued on req_valid && req_ready (req_ready: the FIFO has room)
    input  wire            req_valid,
    output wire            req_ready,
    input  wire [7:0]      tag,           // returned on run_tag with the request's results
    input  wire [7:0]      head,          // head-importance accumulator of the request (< NHEAD)
    input  wire [DW-1:0]   d,
    input  wire [3:0]      msb_bits,
    input  wire [3:0]      lsb_bits,
    input  wire [16:0]     threshold,     // requant threshold T, UQ0.16
    input  wire [15:0]     v_keep,        // V rows to keep (spk_keep_count of the ratio)
    input  wire [15:0]     n_keys,        // 0..NMAX (0: d zeros, nothing fetched)
    input  wire [15:0]     key_base,      // token of key position 0 (key_list = 0)
    input  wire            key_list,      // 1: the keys are the uint16 token list at keys_base
    input  wire [31:0]     keys_base,     // n uint16 tokens, little-endian, 2-byte aligned
    input  wire [23:0]     q_scale,       // the query's logit scale word
    input  wire [31:0]     q_base,        // d query codes, int16 little-endian, 2-byte aligned
    input  wire [31:0]     k_msb_base,
    input  wire [31:0]     k_lsb_base,
    input  wire [31:0]     v_msb_base,
    input  wire [31:0]     v_lsb_base,
    input  wire [31:0]     k_scale_base,
    input  wire [31:0]     v_scale_base,

    // AXI4 read master (single-beat INCR bursts of 32 bytes)
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

    // engine state: idle = nothing queued or running (the time to clear or read importance)
    output wire            idle,
    output reg  [7:0]      run_tag,       // tag of the request whose streams and done are out

    // importance accumulators, one bank: entry t < NTOK is token t's, entry NTOK + h head h's.
    // Clear (NTOK + NHEAD cycles, imp_busy meanwhile; issue while idle, requests wait for it),
    // read port (value on imp_rd_value with imp_rd_valid one cycle after imp_rd_en; a read
    // issued while the engine adds is dropped: imp_rd_valid stays low)
    input  wire            imp_clear,
    output wire            imp_busy,
    input  wire            imp_rd_en,
    input  wire [TKW-1:0]  imp_rd_index,
    output reg             imp_rd_valid,
    output wire [47:0]     imp_rd_value,

    // probabilities of each softmax pass (the last pass of a request is the final one)
    output wire            prob_valid,
    output wire [AW-1:0]   prob_index,
    output wire [15:0]     prob_value,
    // kept V rows, in index order
    output reg             vkey_valid,
    output reg  [15:0]     vkey_token,
    // output vector, d values in order
    output wire            out_valid,
    output wire [IW-1:0]   out_index,
    output wire [31:0]     out_value,
    // end of request
    output reg             done,
    output reg             bad_cmd,       // bad descriptor: nothing computed
    output reg             bus_error,     // an RRESP other than OKAY (or no RLAST) was seen;
                                          // the request still runs to done
    output reg  [9:0]      out_exp,
    output reg  [47:0]     head_importance,
    output reg             requant,       // the K LSB plane was fetched and QK recomputed
    output reg  [15:0]     keys_fetched,
    output reg  [15:0]     values_fetched
);
    localparam BEATS = DMAX / M;
    localparam LP = (P > 1) ? $clog2(P) : 1;
    localparam HW = $clog2(NMAX * BEATS);
    localparam TW = 17;  // top-k value width: probabilities are unsigned 16-bit
    localparam TCW = $clog2(NMAX) + 1;
    localparam [3:0] S_IDLE = 4'd0, S_KSCALE = 4'd1, S_QLOAD = 4'd2, S_PASS_START = 4'd3,
                     S_PASS = 4'd4, S_TOPK_WAIT = 4'd5, S_TOPK_START = 4'd6, S_TOPK = 4'd7,
                     S_VSCAN = 4'd8, S_ZERO = 4'd9,
                     S_VPASS_START = 4'd11, S_VPASS = 4'd12, S_PV_WAIT = 4'd13, S_DONE = 4'd14;

    reg [3:0]  state;
    reg [DW-1:0] d_reg;
    reg [3:0]  msb_reg, lsb_reg;
    reg [16:0] thr_reg;
    reg [15:0] keep_reg, n_reg, key_base_reg;
    reg        list_reg;     // key_list of the running request
    reg [31:0] keys_addr;    // address of the first listed token
    reg [15:0] l_blocks;     // 32-byte blocks holding the key list (after the query blocks)
    reg [NMAX*16-1:0] ktok;  // listed tokens, token j in bits [16j, 16j + 16)
    reg [23:0] q_scale_reg;
    reg [31:0] k_msb_reg, k_lsb_reg, v_msb_reg, v_lsb_reg, v_scale_reg;
    reg        lsb_pass;     // the current K or V pass merges the LSB plane with HIBUF
    reg        vpass;        // fetch passes feed PV (V) rather than QK (K)
    reg        v_two;        // V is fetched with both planes
    reg [15:0] pos;          // key position being scanned
    reg [15:0] ar_cnt, r_cnt, reads;  // scale-word reads issued, returned, to make
    reg [15:0] idx_cnt;      // row indices given to the fetcher in this pass
    reg [15:0] kept_n;       // kept rows listed so far
    reg [31:0] kscale_addr;  // address of the first K scale word
    reg [31:0] q_addr;       // address of the first query code
    reg [15:0] q_blocks;     // 32-byte blocks holding the query (the first reads of KSCALE)
    reg [BW:0] ql_cnt;       // query beats written into the QK array
    reg [DMAX*12-1:0] qbuf;  // the query codes as they arrive (12-bit fields)
    reg [7:0]  head_reg;     // head-importance accumulator of the running request
    reg        head_add;     // adding the request's head importance (one cycle)
    reg [1:0]  head_wait;    // cycles until that add is written (done waits for it)
    reg        imp_walk;     // adding the final probabilities into the token accumulators
    reg [15:0] imp_pos;      // key position being added
    reg        fetch_done_seen;
    reg [2:0]  drain;

    reg [NMAX*24-1:0] kscale;  // K scale words, word j in bits [24j, 24j + 24)
    reg [23:0]    vscale [0:NMAX-1];
    reg [15:0]    probs [0:NMAX-1];
    reg [AW-1:0]  kept_list [0:NMAX-1];
    reg [NMAX-1:0] kept_bits;

    // ---- descriptor FIFO ------------------------------------------------------------------
    // Entries are registers without reset: an entry is written before it is read.
    localparam QPW = (QDEPTH > 1) ? $clog2(QDEPTH) : 1;
    localparam QCW = $clog2(QDEPTH + 1);
    localparam integer QLAST_I = QDEPTH - 1;
    localparam [QPW-1:0] QLAST = QLAST_I[QPW-1:0];
    localparam DESCW = 8 + DW + 4 + 4 + 17 + 3 * 16 + 24 + 7 * 32 + 1 + 32 + 8;
    reg [DESCW-1:0] fifo [0:QDEPTH-1];
    reg [QPW-1:0]   fifo_wr, fifo_rd;
    reg [QCW-1:0]   fifo_n;
    assign req_ready = (fifo_n != QDEPTH[QCW-1:0]);
    wire push = req_valid && req_ready;
    // a request starts when the engine is idle and the importance bank is not being cleared
    wire pop = (state == S_IDLE) && (fifo_n != {QCW{1'b0}}) && !imp_busy;
    assign idle = (state == S_IDLE) && (fifo_n == {QCW{1'b0}});
    always @(posedge clk)
        if (push)
            fifo[fifo_wr] <= {tag, d, msb_bits, lsb_bits, threshold, v_keep, n_keys, key_base,
                              q_scale, q_base, k_msb_base, k_lsb_base, v_msb_base, v_lsb_base,
                              k_scale_base, v_scale_base, key_list, keys_base, head};
    // the head entry's fields
    wire [7:0]  h_tag;
    wire [DW-1:0] h_d;
    wire [3:0]  h_msb, h_lsb;
    wire [16:0] h_thr;
    wire [15:0] h_keep, h_n, h_key_base;
    wire [23:0] h_q_scale;
    wire [31:0] h_q_base, h_k_msb, h_k_lsb, h_v_msb, h_v_lsb, h_k_scale, h_v_scale, h_keys;
    wire        h_list;
    wire [7:0]  h_head;
    assign {h_tag, h_d, h_msb, h_lsb, h_thr, h_keep, h_n, h_key_base, h_q_scale, h_q_base, h_k_msb,
            h_k_lsb, h_v_msb, h_v_lsb, h_k_scale, h_v_scale, h_list, h_keys,
            h_head} = fifo[fifo_rd];

    // ---- request check (on the head entry; n = 0 is valid: zeros out, nothing fetched) ----
    wire req_bad;
    spk_desc_check #(.DMAX(DMAX), .NMAX(NMAX), .NTOK(NTOK), .NHEAD(NHEAD)) check (
        .d(h_d), .msb_bits(h_msb), .lsb_bits(h_lsb), .n_keys(h_n), .key_base(h_key_base),
        .key_list(h_list), .q_base_odd(h_q_base[0]), .keys_base_odd(h_keys[0]), .head(h_head),
        .bad(req_bad));

    // 32-byte blocks holding the n K scale words and the d query codes
    wire [31:0] k_first_word = h_k_scale + {14'd0, h_key_base, 2'b00};
    wire [17:0] k_span = {13'd0, k_first_word[4:0]} + {h_n, 2'b00} + 18'd31;
    wire [15:0] k_blocks = {3'd0, k_span[17:5]};
    wire [17:0] q_span = {13'd0, h_q_base[4:0]} + {{(17 - DW) {1'b0}}, h_d, 1'b0} + 18'd31;
    wire [15:0] q_blocks_h = {3'd0, q_span[17:5]};
    wire [17:0] l_span = {13'd0, h_keys[4:0]} + {1'b0, h_n, 1'b0} + 18'd31;
    wire [15:0] l_blocks_h = {3'd0, l_span[17:5]};
    wire        unused_span = &{1'b0, k_first_word[31:5], k_span[4:0], q_span[4:0], l_span[4:0]};

    // ---- AXI read: own scale-word reads or the fetcher ------------------------------------
    // The query and (contiguous mode) the K scale words are contiguous: read as whole 32-byte
    // blocks, all requests back to back (the q_blocks query blocks first).
    // V scale words of the kept rows: one request per kept row as soon as VSCAN lists it.
    wire own_r = (state == S_KSCALE) || (state == S_VSCAN);
    // List mode: the list blocks follow the query blocks, then one read per key's K scale word
    // (its token must be in: issued once every list block has returned).
    wire [15:0] lq_blocks = q_blocks + l_blocks;  // l_blocks = 0 in contiguous mode
    wire        k_words_wait = (state == S_KSCALE) && list_reg && (ar_cnt >= lq_blocks) &&
                               (r_cnt < lq_blocks);
    wire own_ar = own_r && (ar_cnt < ((state == S_VSCAN) ? kept_n : reads)) && !k_words_wait;
    // single scale words: the kept rows' V words (VSCAN) or the listed keys' K words (KSCALE)
    wire        vs = (state == S_VSCAN);
    wire [31:0] word_base = vs ? v_scale_reg : kscale_addr;
    wire [15:0] ar_pos = vs ? {{(16 - AW) {1'b0}}, kept_list[ar_cnt[AW-1:0]]} : ar_cnt - lq_blocks;
    wire [15:0] r_pos = vs ? {{(16 - AW) {1'b0}}, kept_list[r_cnt[AW-1:0]]} : r_cnt - lq_blocks;
    // token of a key position: key_base + position, or the listed token (plain wires, not a
    // function: a simulator need not re-evaluate a function call when ktok changes)
    wire [15:0] ar_tok = list_reg ? ktok[ar_pos[AW-1:0]*16+:16] : key_base_reg + ar_pos;
    wire [15:0] r_tok_w = list_reg ? ktok[r_pos[AW-1:0]*16+:16] : key_base_reg + r_pos;
    wire [31:0] ar_word = word_base + {14'd0, ar_tok, 2'b00};
    wire [31:0] r_word_addr = word_base + {14'd0, r_tok_w, 2'b00};
    wire [15:0] k_ar_blk = ar_cnt - q_blocks;
    wire [31:0] ks_addr = (ar_cnt < q_blocks) ? {q_addr[31:5] + {11'd0, ar_cnt}, 5'd0}
                        : (ar_cnt < lq_blocks) ? {keys_addr[31:5] + {11'd0, k_ar_blk}, 5'd0}
                        : list_reg ? ar_word
                                   : {kscale_addr[31:5] + {11'd0, k_ar_blk}, 5'd0};
    wire [31:0] own_addr = (state == S_KSCALE) ? ks_addr : ar_word;
    wire        f_arvalid, f_rready;
    wire [31:0] f_araddr;
    wire [7:0]  f_arlen;
    wire [2:0]  f_arsize;
    wire [1:0]  f_arburst;
    assign arvalid = own_ar ? 1'b1 : f_arvalid;
    assign araddr = own_ar ? {own_addr[31:5], 5'd0} : f_araddr;
    assign arlen = own_ar ? 8'd0 : f_arlen;
    assign arsize = own_ar ? 3'd5 : f_arsize;
    assign arburst = own_ar ? 2'b01 : f_arburst;
    assign rready = own_r ? 1'b1 : f_rready;
    wire [31:0] r_word = rdata[{r_word_addr[4:2], 5'd0}+:32];
    wire        unused_word = &{1'b0, r_word[31:24], own_addr[4:0], kscale_addr[1:0],
                              r_word_addr[31:5], r_word_addr[1:0], q_addr[0], keys_addr[0]};
    // K scale block beat r_cnt - q_blocks holds words (r_cnt - q_blocks)*8 + l - kscale_addr[4:2]
    wire        r_query = (r_cnt < q_blocks);
    wire        r_list = !r_query && (r_cnt < lq_blocks);   // a key-list block
    wire        r_kword = list_reg && (r_cnt >= lq_blocks); // key r_pos's K scale word
    // key-list block beat r_cnt - q_blocks holds tokens (r_cnt - q_blocks)*16 + l -
    // keys_addr[4:1], l = 0..15
    // blocks read since the query's (the key list's in list mode, else the K scale words')
    wire [15:0] post_q_blk = r_cnt - q_blocks;
    wire [19:0] l_word0 = {post_q_blk, 4'd0} - {16'd0, keys_addr[4:1]};
    wire [19:0] k_word0 = {1'b0, post_q_blk, 3'd0} - {17'd0, kscale_addr[4:2]};
    // query block beat r_cnt holds codes r_cnt*16 + l - q_addr[4:1], l = 0..15
    wire [19:0] q_word0 = {r_cnt, 4'd0} - {16'd0, q_addr[4:1]};
    // the K scale block's 8 words rotated so that word j sits at lane j mod 8
    wire [23:0]  r_kw [0:7];
    wire [191:0] k_rot;
    genvar gk;
    generate
        for (gk = 0; gk < 8; gk = gk + 1) begin : krot
            localparam [2:0] KL = gk;
            wire [2:0] lane = KL + kscale_addr[4:2];  // wraps mod 8 in every simulator
            assign r_kw[gk] = rdata[gk*32+:24];
            assign k_rot[gk*24+:24] = r_kw[lane];
        end
    endgenerate
    // the block's 16 codes rotated so that code i of the query sits at lane i mod 16
    wire [11:0]  r_code [0:15];
    wire [191:0] q_rot;
    genvar gq;
    generate
        for (gq = 0; gq < 16; gq = gq + 1) begin : qrot
            localparam [3:0] QL = gq;
            wire [3:0] lane = QL + q_addr[4:1];  // wraps mod 16 in every simulator
            assign r_code[gq] = rdata[gq*16+:12];
            assign q_rot[gq*12+:12] = r_code[lane];
        end
    endgenerate
    // the list block's 16 tokens rotated so that token j sits at lane j mod 16
    wire [15:0]  r_tok [0:15];
    wire [255:0] l_rot;
    genvar gl;
    generate
        for (gl = 0; gl < 16; gl = gl + 1) begin : lrot
            localparam [3:0] LL = gl;
            wire [3:0] lane = LL + keys_addr[4:1];  // wraps mod 16 in every simulator
            assign r_tok[gl] = rdata[gl*16+:16];
            assign l_rot[gl*16+:16] = r_tok[lane];
        end
    endgenerate
    integer l, lq;

    // ---- fetcher --------------------------------------------------------------------------
    wire f_busy, f_idx_ready, f_out_valid, f_out_first, f_out_last, f_done, f_bad, f_bus_error;
    // The fetcher holds its error flag until its next start, which may be in a later request:
    // only its rising edge is this request's error.
    reg  f_bus_error_q;
    wire [M*12-1:0] f_fields;
    wire f_start = (state == S_PASS_START) || (state == S_VPASS_START && kept_n != 16'd0);
    wire [31:0] f_base = vpass ? (lsb_pass ? v_lsb_reg : v_msb_reg)
                               : (lsb_pass ? k_lsb_reg : k_msb_reg);
    wire [3:0]  f_bits = lsb_pass ? lsb_reg : msb_reg;
    wire [15:0] f_rows = vpass ? kept_n : n_reg;
    wire        pass_state = (state == S_PASS) || (state == S_VPASS);
    wire        f_idx_valid = pass_state && (idx_cnt < f_rows);
    wire [15:0] f_pos = vpass ? {{(16 - AW) {1'b0}}, kept_list[idx_cnt[AW-1:0]]} : idx_cnt;
    wire [15:0] f_idx = list_reg ? ktok[f_pos[AW-1:0]*16+:16] : key_base_reg + f_pos;
    wire        unused_fetch = &{1'b0, f_busy, f_bad};

    spk_kv_fetch #(.DMAX(DMAX), .M(M)) fetch (
        .clk(clk), .rst(rst), .start(f_start), .base(f_base), .d(d_reg), .bits(f_bits),
        .is_signed(!lsb_pass), .rows(f_rows), .busy(f_busy),
        .idx_valid(f_idx_valid), .idx_ready(f_idx_ready), .idx(f_idx),
        .arvalid(f_arvalid), .arready(arready), .araddr(f_araddr), .arlen(f_arlen),
        .arsize(f_arsize), .arburst(f_arburst),
        .rvalid(rvalid && !own_r), .rready(f_rready), .rdata(rdata), .rresp(rresp), .rlast(rlast),
        .out_valid(f_out_valid), .out_first(f_out_first), .out_last(f_out_last),
        .out_fields(f_fields), .done(f_done), .bad_cmd(f_bad), .bus_error(f_bus_error));

    // ---- plane buffer: MSB fields of the K (or kept V) rows, one line per beat ---------------
    reg [15:0]   f_row;       // row of the fetcher's current output beat
    reg [BW-1:0] f_beat;
    wire [BW-1:0] cur_beat = f_out_first ? {BW{1'b0}} : f_beat;
    wire [HW-1:0] hib_addr = f_row[HW-1:0] * BEATS[HW-1:0] + {{(HW - BW) {1'b0}}, cur_beat};
    wire [M*12-1:0] hib_q;
    spk_ram_1r1w #(.DEPTH(NMAX * BEATS), .WIDTH(M * 12)) hibuf (
        .clk(clk), .we(f_out_valid && !lsb_pass), .waddr(hib_addr), .wdata(f_fields),
        .re(f_out_valid), .raddr(hib_addr), .rdata(hib_q));

    // the fetched beat one cycle later, aligned with the HIBUF read
    reg           b_valid, b_first, b_last;
    reg [M*12-1:0] b_fields;
    reg [AW-1:0]  b_row;
    wire [M*10-1:0] b_lo;
    wire [M*12-1:0] b_hi = lsb_pass ? hib_q : b_fields;
    genvar g;
    generate
        for (g = 0; g < M; g = g + 1) begin : lane_lo
            assign b_lo[g*10+:10] = b_fields[g*12+:10];
        end
    endgenerate

    // ---- QK ----------------------------------------------------------------------------------
    // The query goes in M codes per cycle once its blocks are in (during KSCALE or QLOAD).
    wire ql_we = ((state == S_KSCALE) || (state == S_QLOAD)) && !r_query &&
                 (ql_cnt != BEATS[BW:0]);
    wire [M*12-1:0] ql_codes = qbuf[ql_cnt[BW-1:0]*(M*12)+:M*12];
    wire qk_valid;
    wire [23:0] qk_logit;
    spk_qk #(.DMAX(DMAX), .M(M)) qk (
        .clk(clk), .rst(rst), .d(d_reg), .lsb_bits(lsb_reg), .with_lsb(lsb_pass),
        .q_scale(q_scale_reg), .q_we(ql_we), .q_beat(ql_cnt[BW-1:0]), .q_codes(ql_codes),
        .k_valid(b_valid && !vpass), .k_first(b_first), .k_last(b_last), .k_hi(b_hi),
        .k_lo(lsb_pass ? b_lo : {(M * 10) {1'b0}}), .k_scale(kscale[b_row*24+:24]),
        .out_valid(qk_valid), .out_logit(qk_logit));

    // ---- softmax and requant decision ------------------------------------------------------
    wire sm_busy, sm_in_ready, sm_done, sm_bad, sm_refetch;
    wire [15:0] sm_conf;
    wire [39:0] sm_sum;
    wire [24:0] sm_recip;
    wire unused_sm = &{1'b0, sm_busy, sm_in_ready, sm_bad, sm_conf, sm_sum, sm_recip};
    spk_softmax #(.NMAX(NMAX)) softmax (
        .clk(clk), .rst(rst), .start(state == S_PASS_START), .n(n_reg[CW-1:0]),
        .threshold(thr_reg), .busy(sm_busy), .in_valid(qk_valid), .in_ready(sm_in_ready),
        .in_logit(qk_logit), .out_valid(prob_valid), .out_index(prob_index),
        .out_prob(prob_value), .done(sm_done), .bad_cmd(sm_bad), .confidence(sm_conf),
        .refetch(sm_refetch), .sum(sm_sum), .recip(sm_recip));

    // ---- local-V top-k ---------------------------------------------------------------------
    reg           tk_load_en;
    reg [AW-LP-1:0] tk_load_line;
    reg [P*TW-1:0] tk_line, tk_load_data;
    wire [P*TW-1:0] tk_line_next;
    generate
        for (g = 0; g < P; g = g + 1) begin : lane_tk
            localparam [LP-1:0] LANE = g;
            assign tk_line_next[g*TW+:TW] = (prob_index[LP-1:0] == LANE) ? {1'b0, prob_value}
                                                                       : tk_line[g*TW+:TW];
        end
    endgenerate
    wire tk_busy, tk_out_valid, tk_done, tk_bad;
    wire [P-1:0] tk_mask;
    wire [AW-LP-1:0] tk_out_line;
    wire [TCW-1:0] tk_kept, tk_ngreater, tk_passes;
    wire [TW-1:0] tk_thr;
    wire [31:0] tk_sel;
    wire unused_tk = &{1'b0, tk_busy, tk_bad, tk_ngreater, tk_passes, tk_thr, tk_sel};
    wire [TCW-1:0] tk_k = (keep_reg > n_reg) ? n_reg[TCW-1:0] : keep_reg[TCW-1:0];
    spk_topk #(.W(TW), .NMAX(NMAX), .P(P)) topk (
        .clk(clk), .rst(rst), .load_en(tk_load_en), .load_line(tk_load_line),
        .load_data(tk_load_data), .start(state == S_TOPK_START), .n(n_reg[TCW-1:0]), .k(tk_k),
        .busy(tk_busy), .out_valid(tk_out_valid), .out_mask(tk_mask), .out_line(tk_out_line),
        .done(tk_done), .bad_cmd(tk_bad), .kept_count(tk_kept), .threshold(tk_thr),
        .n_greater(tk_ngreater), .passes(tk_passes), .sel_cycles(tk_sel));

    // ---- PV ------------------------------------------------------------------------------
    reg         pv_scale_valid;
    reg [23:0]  pv_scale_word;
    wire        pv_busy, pv_in_ready, pv_done, pv_bad;
    wire [9:0]  pv_exp;
    wire [47:0] pv_imp;
    wire [M*12-1:0] v_codes;
    wire unused_pv = &{1'b0, pv_busy, pv_in_ready, pv_bad};
    generate
        for (g = 0; g < M; g = g + 1) begin : lane_v
            spk_plane_merge merge (
                .hi(b_hi[g*12+:12]), .lo(b_lo[g*10+:10]), .lsb_bits(lsb_reg),
                .with_lsb(lsb_pass), .code(v_codes[g*12+:12]));
        end
    endgenerate
    spk_pv #(.DMAX(DMAX), .M(M)) pv (
        .clk(clk), .rst(rst), .start((state == S_TOPK && tk_done) || state == S_ZERO),
        .d(d_reg),
        .rows((state == S_ZERO) ? 17'd0 : {{(17 - TCW) {1'b0}}, tk_kept}), .busy(pv_busy),
        .scale_valid(pv_scale_valid), .scale_word(pv_scale_word),
        .beat_valid(b_valid && vpass && (lsb_pass || !v_two)),
        .beat_prob(probs[kept_list[b_row]]), .beat_scale(vscale[b_row]), .beat_codes(v_codes),
        .in_ready(pv_in_ready), .out_valid(out_valid), .out_index(out_index),
        .out_value(out_value), .done(pv_done), .bad_cmd(pv_bad), .out_exp(pv_exp),
        .head_importance(pv_imp));

    // ---- token importance ----------------------------------------------------------------
    // After the final softmax pass each probability p[j] is added to token key_base + j, one
    // per cycle from the probability buffer, while the top-k, VSCAN and V pass run; done waits
    // for the last add. The host clears the bank at the start of a layer and reads it after the
    // layer's last request: the spec's per-layer token additions (spk_importance_add).
    // (a contiguous request's tokens are all < NTOK; a listed token >= NTOK is skipped)
    wire [15:0]  imp_token = list_reg ? ktok[imp_pos[AW-1:0]*16+:16] : key_base_reg + imp_pos;
    wire         imp_add = imp_walk && (imp_pos < n_reg) && ({16'd0, imp_token} < NTOK);
    wire [47:0]  imp_q;
    // at the end of a request its head importance goes to entry NTOK + head (spec
    // "Importance"; the token adds are over by then)
    localparam integer HEAD0_I = NTOK;
    localparam [TKW-1:0] HEAD0 = HEAD0_I[TKW-1:0];
    wire [TKW+15:0] imp_token_x = {{TKW{1'b0}}, imp_token};
    wire [TKW+7:0]  head_x = {{TKW{1'b0}}, head_reg};
    wire [TKW-1:0] imp_index = head_add ? HEAD0 + head_x[TKW-1:0] : imp_token_x[TKW-1:0];
    wire         unused_imp_x = &{1'b0, imp_token_x[TKW+15:TKW], head_x[TKW+7:TKW]};
    wire         imp_any = imp_add || head_add;
    spk_importance #(.N(NTOK + NHEAD)) token_imp (
        .clk(clk), .rst(rst), .clear(imp_clear), .busy(imp_busy), .add_valid(imp_any),
        .add_index(imp_index),
        .add_amount(head_add ? head_importance : {32'd0, probs[imp_pos[AW-1:0]]}),
        .rd_en(imp_rd_en && !imp_any), .rd_index(imp_rd_index), .rd_value(imp_q));
    // the RAM output is undefined until a read: shown only with imp_rd_valid
    assign imp_rd_value = imp_rd_valid ? imp_q : 48'd0;

    // ---- buffers written from streams (no reset: contents are written before use) ---------
    always @(posedge clk) begin
        // word l is in this block when l - k_word0 is 0..7 (one enable per word, as for qbuf)
        if (state == S_KSCALE && rvalid && !r_query && !list_reg)
            for (l = 0; l < NMAX; l = l + 1)
                if (l[19:0] - k_word0 < 20'd8 && l[19:0] < {4'd0, n_reg})
                    kscale[l*24+:24] <= k_rot[(l%8)*24+:24];
        // list mode: token l is in this list block when l - l_word0 is 0..15; then one K
        // scale word per key
        if (state == S_KSCALE && rvalid && r_list)
            for (l = 0; l < NMAX; l = l + 1)
                if (l[19:0] - l_word0 < 20'd16 && l[19:0] < {4'd0, n_reg})
                    ktok[l*16+:16] <= l_rot[(l%16)*16+:16];
        if (state == S_KSCALE && rvalid && r_kword)
            for (l = 0; l < NMAX; l = l + 1)
                if (l[15:0] == r_pos) kscale[l*24+:24] <= r_word[23:0];
        if (state == S_VSCAN && rvalid) vscale[r_cnt[AW-1:0]] <= r_word[23:0];
        if (prob_valid) probs[prob_index] <= prob_value;
        if (state == S_VSCAN && pos < n_reg && scan_hit)
            kept_list[kept_n[AW-1:0]] <= scan_pos[AW-1:0];
    end

    // ---- VSCAN: first kept key at or after pos within pos's line of P flags ----------------
    // (a flag at or past n would not count: the scan stops at n)
    wire [P-1:0] scan_line = kept_bits[{pos[AW-1:LP], {LP{1'b0}}}+:P] &
                             ({P{1'b1}} << pos[LP-1:0]);
    reg [LP-1:0] scan_lane;
    integer      sl;
    always @* begin
        scan_lane = {LP{1'b0}};
        for (sl = P - 1; sl >= 0; sl = sl - 1)
            if (scan_line[sl]) scan_lane = sl[LP-1:0];
    end
    wire        scan_hit = (|scan_line) && (scan_pos < n_reg);
    wire [15:0] scan_pos = {pos[15:LP], scan_lane};
    wire [15:0] scan_token = list_reg ? ktok[scan_pos[AW-1:0]*16+:16] : key_base_reg + scan_pos;

    // ---- control ---------------------------------------------------------------------------
    wire pass_end = fetch_done_seen && !b_valid && drain == 3'd0;
    always @(posedge clk) begin
        if (rst) begin
            state <= S_IDLE;
            d_reg <= {DW{1'b0}};
            msb_reg <= 4'd0;
            lsb_reg <= 4'd0;
            thr_reg <= 17'd0;
            keep_reg <= 16'd0;
            n_reg <= 16'd0;
            key_base_reg <= 16'd0;
            list_reg <= 1'b0;
            keys_addr <= 32'd0;
            l_blocks <= 16'd0;
            q_scale_reg <= 24'd0;
            k_msb_reg <= 32'd0;
            k_lsb_reg <= 32'd0;
            v_msb_reg <= 32'd0;
            v_lsb_reg <= 32'd0;
            v_scale_reg <= 32'd0;
            lsb_pass <= 1'b0;
            vpass <= 1'b0;
            v_two <= 1'b0;
            pos <= 16'd0;
            idx_cnt <= 16'd0;
            kept_n <= 16'd0;
            kscale_addr <= 32'd0;
            q_addr <= 32'd0;
            q_blocks <= 16'd0;
            ql_cnt <= {(BW + 1) {1'b0}};
            qbuf <= {(DMAX * 12) {1'b0}};
            imp_walk <= 1'b0;
            imp_pos <= 16'd0;
            imp_rd_valid <= 1'b0;
            head_reg <= 8'd0;
            head_add <= 1'b0;
            head_wait <= 2'd0;
            run_tag <= 8'd0;
            fifo_wr <= {QPW{1'b0}};
            fifo_rd <= {QPW{1'b0}};
            fifo_n <= {QCW{1'b0}};
            ar_cnt <= 16'd0;
            r_cnt <= 16'd0;
            reads <= 16'd0;
            fetch_done_seen <= 1'b0;
            drain <= 3'd0;
            kept_bits <= {NMAX{1'b0}};
            f_row <= 16'd0;
            f_beat <= {BW{1'b0}};
            b_valid <= 1'b0;
            b_first <= 1'b0;
            b_last <= 1'b0;
            b_fields <= {(M * 12) {1'b0}};
            b_row <= {AW{1'b0}};
            tk_load_en <= 1'b0;
            tk_load_line <= {(AW - LP) {1'b0}};
            tk_line <= {(P * TW) {1'b0}};
            tk_load_data <= {(P * TW) {1'b0}};
            pv_scale_valid <= 1'b0;
            pv_scale_word <= 24'd0;
            vkey_valid <= 1'b0;
            vkey_token <= 16'd0;
            done <= 1'b0;
            bad_cmd <= 1'b0;
            bus_error <= 1'b0;
            f_bus_error_q <= 1'b0;
            out_exp <= 10'd0;
            head_importance <= 48'd0;
            requant <= 1'b0;
            keys_fetched <= 16'd0;
            values_fetched <= 16'd0;
        end else begin
            done <= 1'b0;
            pv_scale_valid <= 1'b0;
            vkey_valid <= 1'b0;
            tk_load_en <= 1'b0;
            imp_rd_valid <= imp_rd_en && !imp_any && !imp_busy;
            head_add <= 1'b0;
            if (ql_we) ql_cnt <= ql_cnt + 1'b1;
            // query code lq is in this block when lq - q_word0 is 0..15 (one enable per code:
            // a computed part-select position would cost yosys a multiplier and a shifter
            // over the whole buffer for each of the 16 codes)
            if (state == S_KSCALE && rvalid && r_query)
                for (lq = 0; lq < DMAX; lq = lq + 1)
                    if (lq[19:0] - q_word0 < 20'd16 && lq[19:0] < {{(20 - DW) {1'b0}}, d_reg})
                        qbuf[lq*12+:12] <= q_rot[(lq%16)*12+:12];
            if (imp_walk) begin
                imp_pos <= imp_pos + 16'd1;
                if (imp_pos + 16'd1 >= n_reg) imp_walk <= 1'b0;
            end
            // descriptor FIFO
            if (push) fifo_wr <= (fifo_wr == QLAST) ? {QPW{1'b0}} : fifo_wr + 1'b1;
            if (pop) fifo_rd <= (fifo_rd == QLAST) ? {QPW{1'b0}} : fifo_rd + 1'b1;
            if (push && !pop) fifo_n <= fifo_n + 1'b1;
            else if (pop && !push) fifo_n <= fifo_n - 1'b1;
            f_bus_error_q <= f_bus_error;
            if ((f_bus_error && !f_bus_error_q) || (own_r && rvalid && (rresp != 2'b00 || !rlast)))
                bus_error <= 1'b1;

            // fetched beats: row/beat counters, one-cycle alignment with the HIBUF read
            b_valid <= f_out_valid;
            b_first <= f_out_first;
            b_last <= f_out_last;
            b_fields <= f_fields;
            b_row <= f_row[AW-1:0];
            if (f_out_valid) begin
                if (f_out_last) begin
                    f_row <= f_row + 16'd1;
                    f_beat <= {BW{1'b0}};
                end else begin
                    f_beat <= cur_beat + 1'b1;
                end
            end

            // probabilities into top-k lines
            if (prob_valid) begin
                tk_line <= tk_line_next;
                if (&prob_index[LP-1:0] || {{(16 - AW) {1'b0}}, prob_index} == n_reg - 16'd1) begin
                    tk_load_en <= 1'b1;
                    tk_load_line <= prob_index[AW-1:LP];
                    tk_load_data <= tk_line_next;
                end
            end
            if (tk_out_valid) kept_bits[{tk_out_line, {LP{1'b0}}}+:P] <= tk_mask;
            if (f_done) fetch_done_seen <= 1'b1;
            if (drain != 3'd0) drain <= drain - 3'd1;
            if (pass_state && f_idx_valid && f_idx_ready) idx_cnt <= idx_cnt + 16'd1;

            case (state)
                S_IDLE: begin
                    if (pop) begin
                        run_tag <= h_tag;
                        head_reg <= h_head;
                        head_wait <= 2'd0;
                        d_reg <= h_d;
                        msb_reg <= h_msb;
                        lsb_reg <= h_lsb;
                        thr_reg <= h_thr;
                        keep_reg <= h_keep;
                        n_reg <= h_n;
                        key_base_reg <= h_key_base;
                        list_reg <= h_list;
                        keys_addr <= h_keys;
                        l_blocks <= h_list ? l_blocks_h : 16'd0;
                        q_scale_reg <= h_q_scale;
                        k_msb_reg <= h_k_msb;
                        k_lsb_reg <= h_k_lsb;
                        v_msb_reg <= h_v_msb;
                        v_lsb_reg <= h_v_lsb;
                        v_scale_reg <= h_v_scale;
                        bad_cmd <= 1'b0;
                        bus_error <= 1'b0;
                        requant <= 1'b0;
                        out_exp <= 10'd0;
                        head_importance <= 48'd0;
                        keys_fetched <= 16'd0;
                        values_fetched <= 16'd0;
                        lsb_pass <= 1'b0;
                        vpass <= 1'b0;
                        v_two <= 1'b0;
                        pos <= 16'd0;
                        kscale_addr <= h_list ? h_k_scale : k_first_word;
                        q_addr <= h_q_base;
                        q_blocks <= q_blocks_h;
                        ql_cnt <= {(BW + 1) {1'b0}};
                        ar_cnt <= 16'd0;
                        r_cnt <= 16'd0;
                        reads <= q_blocks_h + (h_list ? l_blocks_h + h_n : k_blocks);
                        if (req_bad) begin
                            bad_cmd <= 1'b1;
                            state <= S_DONE;
                        end else if (h_n == 16'd0) begin
                            state <= S_ZERO;
                        end else begin
                            state <= S_KSCALE;
                        end
                    end
                end
                S_KSCALE: begin
                    if (own_ar && arready) ar_cnt <= ar_cnt + 16'd1;
                    if (rvalid) begin
                        r_cnt <= r_cnt + 16'd1;
                        if (r_cnt + 16'd1 == reads) state <= S_QLOAD;
                    end
                end
                S_QLOAD: if (ql_cnt == BEATS[BW:0]) state <= S_PASS_START;
                S_ZERO: state <= S_PV_WAIT;  // PV starts with no rows: d zeros, out_exp 0
                S_PASS_START: begin  // fetcher and softmax start
                    idx_cnt <= 16'd0;
                    f_row <= 16'd0;
                    f_beat <= {BW{1'b0}};
                    fetch_done_seen <= 1'b0;
                    state <= S_PASS;
                end
                S_PASS: begin
                    if (sm_done) begin
                        if (!lsb_pass && lsb_reg != 4'd0 && sm_refetch) begin
                            requant <= 1'b1;
                            lsb_pass <= 1'b1;
                            state <= S_PASS_START;
                        end else begin  // final pass: its probabilities go to importance
                            drain <= 3'd3;
                            imp_walk <= 1'b1;
                            imp_pos <= 16'd0;
                            state <= S_TOPK_WAIT;
                        end
                    end
                end
                S_TOPK_WAIT: if (drain == 3'd0) state <= S_TOPK_START;
                S_TOPK_START: begin
                    kept_bits <= {NMAX{1'b0}};
                    state <= S_TOPK;
                end
                S_TOPK: begin  // PV starts with the kept count at tk_done
                    if (tk_done) begin
                        values_fetched <= {{(16 - TCW) {1'b0}}, tk_kept};
                        pos <= 16'd0;
                        kept_n <= 16'd0;
                        ar_cnt <= 16'd0;
                        r_cnt <= 16'd0;
                        state <= S_VSCAN;
                    end
                end
                S_VSCAN: begin  // list the kept rows and read their V scale words
                    if (own_ar && arready) ar_cnt <= ar_cnt + 16'd1;
                    if (rvalid) begin
                        r_cnt <= r_cnt + 16'd1;
                        pv_scale_valid <= 1'b1;
                        pv_scale_word <= r_word[23:0];
                    end
                    if (pos >= n_reg) begin
                        if (r_cnt == kept_n) begin  // every listed row's word is in
                            state <= S_VPASS_START;
                            vpass <= 1'b1;
                            v_two <= lsb_pass;
                            lsb_pass <= 1'b0;
                        end
                    end else if (scan_hit) begin
                        vkey_valid <= 1'b1;
                        vkey_token <= scan_token;
                        kept_n <= kept_n + 16'd1;
                        pos <= scan_pos + 16'd1;
                    end else begin
                        pos <= {pos[15:LP] + 1'b1, {LP{1'b0}}};
                    end
                end
                S_VPASS_START: begin
                    idx_cnt <= 16'd0;
                    f_row <= 16'd0;
                    f_beat <= {BW{1'b0}};
                    fetch_done_seen <= 1'b0;
                    state <= (kept_n == 16'd0) ? S_PV_WAIT : S_VPASS;
                end
                S_VPASS: begin
                    if (f_done) drain <= 3'd2;
                    if (pass_end) begin
                        if (v_two && !lsb_pass) begin
                            lsb_pass <= 1'b1;
                            state <= S_VPASS_START;
                        end else begin
                            state <= S_PV_WAIT;
                        end
                    end
                end
                S_PV_WAIT: begin
                    if (pv_done) begin
                        out_exp <= pv_exp;
                        head_importance <= pv_imp;
                        keys_fetched <= n_reg;
                        state <= S_DONE;
                    end
                end
                default: begin  // S_DONE: after the last token add the head add, then done
                    if (!imp_walk) begin
                        if (bad_cmd || head_wait == 2'd1) begin  // the head add is written
                            done <= 1'b1;
                            state <= S_IDLE;
                        end else if (head_wait == 2'd0) begin
                            head_add <= 1'b1;
                            head_wait <= 2'd3;
                        end else begin
                            head_wait <= head_wait - 2'd1;
                        end
                    end
                end
            endcase
        end
    end

endmodule

`default_nettype wire
