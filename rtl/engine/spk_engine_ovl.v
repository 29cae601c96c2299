// spk_engine_ovl: spk_engine's ports and results (bit for bit) with its steps overlapped
// (docs/rtl.md, "Overlapped engine"). Per request:
//   KSCALE  the query blocks, then (contiguous keys) the K and V scale words as whole 32-byte
//           blocks, or (key list) the list blocks and one read per key for its K and then its V
//           scale word; the query goes into spk_qk as soon as its blocks are in, and the K pass
//           starts right then: these own reads go on beside the K pass on the one AXI port (an
//           R-owner FIFO routes each beat to the engine or the fetcher, R stays in order);
//   KPASS   spk_kv_fetch_stream (blocks read once, FRING in flight) streams the K MSB rows into spk_qk; row j's
//           index is given to the fetcher only once the read holding its K scale word was
//           issued (so that word is in before the row's data); logits into spk_softmax_ovl (EXP
//           pass LANES logits a cycle, division two bits a cycle); with requant the LSB pass;
//   TOPK    spk_topk over the final probabilities (waits for the last own read); while it emits
//           the kept lines the alignment exponent E of the kept V rows is taken from the local V
//           scale words (no V scale read after the top-k);
//   VPASS   at the top-k's done spk_pv_ovl starts with E and the kept count, the scan lists the
//           kept rows (vkey stream) and each listed row goes straight to the fetcher, PV takes
//           the V beats as they arrive (with requant: a second fetcher reads the LSB plane
//           beside the MSB one, merged through HIBUF);
//   tail    from PV's start a tail of its own finishes the request: PV's end, the outputs, the
//           head-importance add and done (out_exp, head importance, events, as spk_engine).
//           Once every V beat is in PV and the importance walk is over (S_HAND) the front takes
//           the next descriptor, so two requests are in flight: the next one's reads, query
//           load, K pass, QK and softmax run beside this one's tail, up to the softmax's
//           probability pass, which waits for the tail's done (prob_hold).
// Each hand-off starts the next step in the cycle its input is final: the K pass with the last
// query beat, the LSB pass at the MSB pass's done, the top-k the cycle after the last
// probability's line is loaded, the V pass at the top-k's done, the head add at PV's done.
// Memory traffic differs from spk_engine in one way: the V scale words of all n keys are read
// (contiguous: ceil blocks; key list: one read per key) instead of one read per kept row.
`default_nettype none

module spk_engine_ovl #(
    parameter DMAX = 64,   // largest head dimension; a multiple of M
    parameter M    = 8,    // multipliers of QK and PV, fields per fetch beat (a power of two)
    parameter NMAX = 512,  // most keys per request; a multiple of P, >= 2P
    parameter P    = 8,    // top-k comparators (a power of two)
    parameter QDEPTH = 4,  // descriptor FIFO entries (>= 1)
    parameter NTOK = 1024, // token-importance accumulators (tokens 0 .. NTOK - 1), <= 65536
    parameter NHEAD = 16,  // head-importance accumulators (heads 0 .. NHEAD - 1), <= 256
    parameter FRING = 16,  // blocks and rows in flight in the K/V fetcher (a power of two)
    parameter SMLANES = 8, // logits per cycle in the softmax's EXP pass (NMAX a multiple)
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
    output wire [7:0]      run_tag,       // tag of the request whose streams and done are out

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
    localparam [3:0] S_IDLE = 4'd0, S_KSCALE = 4'd1,
                     S_PASS = 4'd4, S_TOPK_WAIT = 4'd5, S_TOPK = 4'd7, S_ZERO = 4'd9,
                     S_VPASS_START = 4'd11, S_VPASS = 4'd12, S_HAND = 4'd13;

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
    reg [7:0]  f_tag;        // the running request's tag
    reg        f_requant, f_buserr;  // its results so far (see the tail)
    reg [15:0] f_vals;       // its kept V rows (from the top-k's done)
    // ---- the tail: PV's end, the head-importance add and done, of one request ------------------
    // It takes a request when its PV starts (the top-k's done, S_ZERO, or a bad descriptor),
    // with the request's fields and results so far; the front then goes on with the V pass and,
    // once the V beats are all in PV and the importance walk is over, with the next descriptor
    // (S_HAND): two requests in flight, the next one's reads, query load and K pass beside this
    // one's PV, outputs and head add. The front's softmax holds its probability pass while the
    // tail is busy (`prob_hold`), so the streams never interleave (run_tag is the tail's while
    // it is busy), the next top-k and PV start only once the tail is free, and the importance
    // adds stay in request order.
    reg        t_busy;       // the tail holds a request
    reg        t_wait_pv;    // ... and waits for PV's done
    reg        front_tail;   // the front still runs the tail's request (its V pass)
    reg [7:0]  t_tag, t_head;
    reg        t_bad, t_buserr, t_requant;
    reg [15:0] t_n, t_vals;
    reg        head_add;     // adding the request's head importance (one cycle)
    reg [1:0]  head_wait;    // cycles until that add is written (done shows after it)
    reg        imp_walk;     // adding the final probabilities into the token accumulators
    reg [15:0] imp_pos;      // key position being added
    reg        fetch_done_seen;
    reg [2:0]  drain;

    reg [NMAX*24-1:0] kscale;  // K scale words, word j in bits [24j, 24j + 24)
    reg [NMAX*24-1:0] vscale;  // V scale words by key position, word j in bits [24j, 24j + 24)
    reg [31:0]    vscale_addr;  // address of the first V scale word
    reg [15:0]    lqk_blocks;   // own reads before the V scale words (query, list, K words)
    reg           own_on;       // own reads of this request still to return
    reg           scan_on;      // the kept-row scan runs (beside the V pass)
    reg [7:0]     e_acc;        // largest exponent among the kept rows' non-zero V words
    reg           have_e_acc;
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
    // A request starts when the front is idle and the importance bank is not being cleared; a
    // bad one (done at once, by the tail) waits for the tail to be free, so dones stay in order.
    wire pop = (state == S_IDLE) && (fifo_n != {QCW{1'b0}}) && !imp_busy && !(req_bad && t_busy);
    assign idle = (state == S_IDLE) && (fifo_n == {QCW{1'b0}}) && !t_busy;
    wire zero_go = (state == S_ZERO) && !t_busy;  // n = 0: PV starts with no rows
    wire bad_go = pop && req_bad;
    assign run_tag = (t_busy || done) ? t_tag : f_tag;  // done shows after t_busy falls

    // 32-byte blocks holding the n K scale words and the d query codes
    wire [31:0] k_first_word = h_k_scale + {14'd0, h_key_base, 2'b00};
    wire [17:0] k_span = {13'd0, k_first_word[4:0]} + {h_n, 2'b00} + 18'd31;
    wire [15:0] k_blocks = {3'd0, k_span[17:5]};
    wire [31:0] v_first_word = h_v_scale + {14'd0, h_key_base, 2'b00};
    wire [17:0] v_span = {13'd0, v_first_word[4:0]} + {h_n, 2'b00} + 18'd31;
    wire [15:0] v_blocks = {3'd0, v_span[17:5]};
    wire [17:0] q_span = {13'd0, h_q_base[4:0]} + {{(17 - DW) {1'b0}}, h_d, 1'b0} + 18'd31;
    wire [15:0] q_blocks_h = {3'd0, q_span[17:5]};
    wire [17:0] l_span = {13'd0, h_keys[4:0]} + {1'b0, h_n, 1'b0} + 18'd31;
    wire [15:0] l_blocks_h = {3'd0, l_span[17:5]};
    wire        unused_span = &{1'b0, k_first_word[31:5], k_span[4:0], q_span[4:0], l_span[4:0],
                                v_first_word[31:5], v_span[4:0]};

    // ---- AXI read: own reads (query, key list, scale words) beside the fetcher ------------
    // Own reads, in order: q_blocks query blocks, l_blocks list blocks, then the K scale words
    // (contiguous: blocks; list: one read per key), then the V scale words likewise; they go
    // out from KSCALE on, beside the K pass, with priority over the fetcher's (at most 16 own
    // reads outstanding). List mode: a word read needs the key's token: issued once every list
    // block has returned.
    wire [15:0] lq_blocks = q_blocks + l_blocks;  // l_blocks = 0 in contiguous mode
    wire [15:0] own_out = ar_cnt - r_cnt;
    wire        k_words_wait = list_reg && (ar_cnt >= lq_blocks) && (r_cnt < lq_blocks);
    wire own_ar = own_on && (ar_cnt < reads) && !k_words_wait && (own_out < 16'd16);
    wire        ar_v = (ar_cnt >= lqk_blocks);
    wire        r_v = (r_cnt >= lqk_blocks);
    wire [31:0] ar_base = ar_v ? vscale_addr : kscale_addr;
    wire [31:0] r_base = r_v ? vscale_addr : kscale_addr;
    wire [15:0] ar_pos = ar_cnt - (ar_v ? lqk_blocks : lq_blocks);
    wire [15:0] r_pos = r_cnt - (r_v ? lqk_blocks : lq_blocks);
    // token of a key position: key_base + position, or the listed token (plain wires, not a
    // function: a simulator need not re-evaluate a function call when ktok changes)
    wire [15:0] ar_tok = list_reg ? ktok[ar_pos[AW-1:0]*16+:16] : key_base_reg + ar_pos;
    wire [15:0] r_tok_w = list_reg ? ktok[r_pos[AW-1:0]*16+:16] : key_base_reg + r_pos;
    wire [31:0] ar_word = ar_base + {14'd0, ar_tok, 2'b00};
    wire [31:0] r_word_addr = r_base + {14'd0, r_tok_w, 2'b00};
    wire [31:0] own_addr = (ar_cnt < q_blocks) ? {q_addr[31:5] + {11'd0, ar_cnt}, 5'd0}
                         : (ar_cnt < lq_blocks) ? {keys_addr[31:5] + {11'd0, ar_cnt - q_blocks}, 5'd0}
                         : list_reg ? ar_word
                                    : {ar_base[31:5] + {11'd0, ar_pos}, 5'd0};
    wire        f_arvalid, f_rready;
    wire [31:0] f_araddr;
    wire [7:0]  f_arlen;
    wire [2:0]  f_arsize;
    wire [1:0]  f_arburst;
    // AR: an own read when one is due, unless the fetcher's request is already on the port
    // (AXI: a shown request stays, unchanged, until taken)
    // (the second fetcher, g, reads the V LSB plane beside the first's MSB plane)
    reg  ar_lock_f, ar_lock_g;
    wire sel_own = own_ar && !ar_lock_f && !ar_lock_g;
    wire sel_f = !sel_own && f_arvalid && !ar_lock_g;
    wire sel_g = !sel_own && !sel_f && g_arvalid;
    assign arvalid = sel_own || sel_f || sel_g;
    assign araddr = sel_own ? {own_addr[31:5], 5'd0} : sel_f ? f_araddr : g_araddr;
    assign arlen = sel_own ? 8'd0 : sel_f ? f_arlen : g_arlen;
    assign arsize = sel_own ? 3'd5 : sel_f ? f_arsize : g_arsize;
    assign arburst = sel_own ? 2'b01 : sel_f ? f_arburst : g_arburst;
    wire f_arready = arready && sel_f;
    wire g_arready = arready && sel_g;
    // R-owner FIFO: one bit per accepted AR (1: own); R beats come back in AR order. Depth 64:
    // at most 16 own reads plus the fetcher's FRING blocks are outstanding (FRING <= 48).
    reg [63:0] ow_bits, ow_g;
    reg [5:0]  ow_wr, ow_rd;
    wire       own_head = ow_bits[ow_rd];
    wire       g_head = ow_g[ow_rd];
    wire       own_beat = rvalid && own_head;
    assign rready = own_head ? 1'b1 : g_head ? g_rready : f_rready;
    wire       unused_own_out = &{1'b0, own_out[15:5]};
    wire [31:0] r_word = rdata[{r_word_addr[4:2], 5'd0}+:32];
    wire        unused_word = &{1'b0, r_word[31:24], own_addr[4:0], kscale_addr[1:0],
                              vscale_addr[1:0], r_word_addr[31:5], r_word_addr[1:0], q_addr[0],
                              keys_addr[0], ar_word[4:0], v_scale_reg};
    // K scale block beat r_cnt - q_blocks holds words (r_cnt - q_blocks)*8 + l - kscale_addr[4:2]
    wire        r_query = (r_cnt < q_blocks);
    wire        r_list = !r_query && (r_cnt < lq_blocks);   // a key-list block
    wire        r_kword = list_reg && (r_cnt >= lq_blocks); // key r_pos's K or V scale word
    // key-list block beat r_cnt - q_blocks holds tokens (r_cnt - q_blocks)*16 + l -
    // keys_addr[4:1], l = 0..15
    // blocks read since the query's (the key list's in list mode, else the K scale words')
    wire [15:0] post_q_blk = r_cnt - q_blocks;
    wire [19:0] l_word0 = {post_q_blk, 4'd0} - {16'd0, keys_addr[4:1]};
    wire [19:0] k_word0 = {1'b0, post_q_blk, 3'd0} - {17'd0, kscale_addr[4:2]};
    wire [15:0] post_k_blk = r_cnt - lqk_blocks;
    wire [19:0] v_word0 = {1'b0, post_k_blk, 3'd0} - {17'd0, vscale_addr[4:2]};
    // query block beat r_cnt holds codes r_cnt*16 + l - q_addr[4:1], l = 0..15
    wire [19:0] q_word0 = {r_cnt, 4'd0} - {16'd0, q_addr[4:1]};
    // the K scale block's 8 words rotated so that word j sits at lane j mod 8
    wire [23:0]  r_kw [0:7];
    wire [191:0] k_rot, v_rot;
    genvar gk;
    generate
        for (gk = 0; gk < 8; gk = gk + 1) begin : krot
            localparam [2:0] KL = gk;
            wire [2:0] lane = KL + kscale_addr[4:2];  // wraps mod 8 in every simulator
            assign r_kw[gk] = rdata[gk*32+:24];
            assign k_rot[gk*24+:24] = r_kw[lane];
            wire [2:0] vlane = KL + vscale_addr[4:2];
            assign v_rot[gk*24+:24] = r_kw[vlane];
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
    // The V pass starts in the cycle the top-k is done: its last line (the kept flags and E)
    // came out a cycle or more before its done, so E is final and PV, the fetcher (kept rows)
    // and the scan start together, with the kept count straight from the top-k.
    wire tk_done;
    wire [TCW-1:0] tk_kept;
    wire        v_go = (state == S_TOPK) && tk_done;
    wire [15:0] v_rows = {{(16 - TCW) {1'b0}}, tk_kept};
    // The LSB pass starts in the cycle of the MSB pass's done when the softmax asks for it
    // (the softmax is idle again in the cycle its done shows, and the fetcher's last row is
    // long out).
    wire sm_done, sm_refetch;
    wire lsb_go = (state == S_PASS) && sm_done && !lsb_pass && lsb_reg != 4'd0 && sm_refetch;
    // The first pass starts with the query's last beat into QK (the K rows reach QK a DRAM
    // round trip later).
    wire q_last;
    wire pass_go = q_last || lsb_go;  // a K pass starts: fetcher and softmax
    wire f_start = pass_go || (v_go && v_rows != 16'd0) || (state == S_VPASS_START);
    // the fetcher samples its command at start; at v_go vpass and lsb_pass are still the K
    // pass's (they change with that edge): the V pass starts on the MSB plane
    wire        f_v = vpass || v_go;
    wire        f_lsb = (lsb_pass || lsb_go) && !v_go;
    wire [31:0] f_base = f_v ? (f_lsb ? v_lsb_reg : v_msb_reg) : (f_lsb ? k_lsb_reg : k_msb_reg);
    wire [3:0]  f_bits = f_lsb ? lsb_reg : msb_reg;
    wire [15:0] f_rows = v_go ? v_rows : vpass ? f_vals : n_reg;
    wire        pass_state = (state == S_PASS) || (state == S_VPASS);
    // K pass: row j once the read of its K scale word is out (contiguous: the block holding
    // word j; list: the key's own read, issued after the list is in); V pass: listed rows.
    wire [3:0]  k_word_sum = {1'b0, idx_cnt[2:0]} + {1'b0, kscale_addr[4:2]};
    wire [15:0] k_need_blk = {3'd0, idx_cnt[15:3]} + {15'd0, k_word_sum[3]};
    wire        unused_k_sum = &{1'b0, k_word_sum[2:0]};
    wire        k_ready = list_reg ? (ar_cnt > lq_blocks + idx_cnt)
                                   : (ar_cnt > q_blocks + k_need_blk);
    wire        f_idx_valid = pass_state && (idx_cnt < f_rows) &&
                              (vpass ? (idx_cnt < kept_n) : k_ready);
    wire [15:0] f_pos = vpass ? {{(16 - AW) {1'b0}}, kept_list[idx_cnt[AW-1:0]]} : idx_cnt;
    wire [15:0] f_idx = list_reg ? ktok[f_pos[AW-1:0]*16+:16] : key_base_reg + f_pos;
    wire        unused_fetch = &{1'b0, f_busy, f_bad};

    spk_kv_fetch_stream #(.DMAX(DMAX), .M(M), .RING(FRING), .RQ(FRING)) fetch (
        .clk(clk), .rst(rst), .start(f_start), .base(f_base), .d(d_reg), .bits(f_bits),
        .is_signed(!f_lsb), .rows(f_rows), .busy(f_busy),
        .idx_valid(f_idx_valid), .idx_ready(f_idx_ready), .idx(f_idx),
        .arvalid(f_arvalid), .arready(f_arready), .araddr(f_araddr), .arlen(f_arlen),
        .arsize(f_arsize), .arburst(f_arburst),
        .rvalid(rvalid && !own_head && !g_head), .rready(f_rready), .rdata(rdata), .rresp(rresp), .rlast(rlast),
        .out_valid(f_out_valid), .out_first(f_out_first), .out_last(f_out_last),
        .out_fields(f_fields), .done(f_done), .bad_cmd(f_bad), .bus_error(f_bus_error));

    // ---- second fetcher: the V LSB plane beside the MSB plane (V with both planes) ----------
    // Started with the V pass when the K pass requantized (`dual`); kept row j goes to it once
    // the first fetcher has emitted row j's MSB fields into HIBUF, and its beats are merged with
    // them on the way to PV (the first fetcher's beats then only fill HIBUF).
    reg          dual;
    reg  [15:0]  g_cnt;      // kept rows given to the second fetcher
    reg  [15:0]  g_row;
    reg  [BW-1:0] g_beat;
    reg          g_bus_error_q;
    wire         g_start = v_go && lsb_pass && (v_rows != 16'd0);
    wire         g_busy, g_idx_ready, g_out_valid, g_out_first, g_out_last, g_done, g_bad;
    wire         g_bus_error, g_arvalid, g_rready;
    wire [31:0]  g_araddr;
    wire [7:0]   g_arlen;
    wire [2:0]   g_arsize;
    wire [1:0]   g_arburst;
    wire [M*12-1:0] g_fields;
    wire         g_idx_valid = dual && (state == S_VPASS) && (g_cnt < f_vals) &&
                               (g_cnt < f_row);
    wire [15:0]  g_pos = {{(16 - AW) {1'b0}}, kept_list[g_cnt[AW-1:0]]};
    wire [15:0]  g_idx = list_reg ? ktok[g_pos[AW-1:0]*16+:16] : key_base_reg + g_pos;
    wire         unused_g = &{1'b0, g_busy, g_bad};
    spk_kv_fetch_stream #(.DMAX(DMAX), .M(M), .RING(FRING), .RQ(FRING)) fetch_lsb (
        .clk(clk), .rst(rst), .start(g_start), .base(v_lsb_reg), .d(d_reg), .bits(lsb_reg),
        .is_signed(1'b0), .rows(v_rows), .busy(g_busy),
        .idx_valid(g_idx_valid), .idx_ready(g_idx_ready), .idx(g_idx),
        .arvalid(g_arvalid), .arready(g_arready), .araddr(g_araddr), .arlen(g_arlen),
        .arsize(g_arsize), .arburst(g_arburst),
        .rvalid(rvalid && g_head), .rready(g_rready), .rdata(rdata), .rresp(rresp), .rlast(rlast),
        .out_valid(g_out_valid), .out_first(g_out_first), .out_last(g_out_last),
        .out_fields(g_fields), .done(g_done), .bad_cmd(g_bad), .bus_error(g_bus_error));
    wire [BW-1:0] g_cur_beat = g_out_first ? {BW{1'b0}} : g_beat;
    wire [HW-1:0] hib_g_addr = g_row[HW-1:0] * BEATS[HW-1:0] + {{(HW - BW) {1'b0}}, g_cur_beat};

    // ---- plane buffer: MSB fields of the K (or kept V) rows, one line per beat ---------------
    reg [15:0]   f_row;       // row of the fetcher's current output beat
    reg [BW-1:0] f_beat;
    wire [BW-1:0] cur_beat = f_out_first ? {BW{1'b0}} : f_beat;
    wire [HW-1:0] hib_addr = f_row[HW-1:0] * BEATS[HW-1:0] + {{(HW - BW) {1'b0}}, cur_beat};
    wire [M*12-1:0] hib_q;
    spk_ram_1r1w #(.DEPTH(NMAX * BEATS), .WIDTH(M * 12)) hibuf (
        .clk(clk), .we(f_out_valid && !lsb_pass), .waddr(hib_addr), .wdata(f_fields),
        .re(dual ? g_out_valid : f_out_valid), .raddr(dual ? hib_g_addr : hib_addr),
        .rdata(hib_q));

    // the fetched beat one cycle later, aligned with the HIBUF read
    reg           b_valid, b_first, b_last;
    reg [M*12-1:0] b_fields;
    reg [AW-1:0]  b_row;
    wire [M*10-1:0] b_lo;
    wire          b_merge = lsb_pass || dual;  // the beat is an LSB beat merged with HIBUF
    wire [M*12-1:0] b_hi = b_merge ? hib_q : b_fields;
    genvar g;
    generate
        for (g = 0; g < M; g = g + 1) begin : lane_lo
            assign b_lo[g*10+:10] = b_fields[g*12+:10];
        end
    endgenerate

    // ---- QK ----------------------------------------------------------------------------------
    // The query goes in M codes per cycle once its blocks are in (during KSCALE or QLOAD).
    // only the ceil(d/M) beats a key row has (spk_qk never reads the query beats past them)
    localparam LM = $clog2(M);
    wire [DW:0] d_up = {1'b0, d_reg} + M[DW:0] - 1'b1;
    wire [DW:0] q_beats_w = d_up >> LM;
    wire [BW:0] q_beats = q_beats_w[BW:0];
    wire        unused_q_beats = &{1'b0, q_beats_w};
    wire ql_we = (state == S_KSCALE) && !r_query && (ql_cnt != q_beats);
    assign q_last = ql_we && (ql_cnt + 1'b1 == q_beats);
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
    wire sm_busy, sm_in_ready, sm_bad;
    wire [15:0] sm_conf;
    wire [39:0] sm_sum;
    wire [24:0] sm_recip;
    wire unused_sm = &{1'b0, sm_busy, sm_in_ready, sm_bad, sm_conf, sm_sum, sm_recip};
    spk_softmax_ovl #(.NMAX(NMAX), .LANES(SMLANES)) softmax (
        .clk(clk), .rst(rst), .start(pass_go), .prob_hold(t_busy), .n(n_reg[CW-1:0]),
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
    wire tk_busy, tk_out_valid, tk_bad;
    wire [P-1:0] tk_mask;
    wire [AW-LP-1:0] tk_out_line;
    wire [TCW-1:0] tk_ngreater, tk_passes;
    wire [TW-1:0] tk_thr;
    wire [31:0] tk_sel;
    wire unused_tk = &{1'b0, tk_busy, tk_bad, tk_ngreater, tk_passes, tk_thr, tk_sel};
    wire [TCW-1:0] tk_k = (keep_reg > n_reg) ? n_reg[TCW-1:0] : keep_reg[TCW-1:0];
    // The top-k starts the cycle after the final pass's done, once every own read returned (the
    // V scale words, which the kept rows' exponent needs) and no line load is pending: the
    // softmax's last probability comes out a cycle before its done, so its line is loaded in
    // the done cycle.
    wire tk_go = (state == S_TOPK_WAIT) && !own_on && !tk_load_en;
    spk_topk #(.W(TW), .NMAX(NMAX), .P(P)) topk (
        .clk(clk), .rst(rst), .load_en(tk_load_en), .load_line(tk_load_line),
        .load_data(tk_load_data), .start(tk_go), .n(n_reg[TCW-1:0]), .k(tk_k),
        .busy(tk_busy), .out_valid(tk_out_valid), .out_mask(tk_mask), .out_line(tk_out_line),
        .done(tk_done), .bad_cmd(tk_bad), .kept_count(tk_kept), .threshold(tk_thr),
        .n_greater(tk_ngreater), .passes(tk_passes), .sel_cycles(tk_sel));

    // ---- PV ------------------------------------------------------------------------------
    wire        pv_busy, pv_in_ready, pv_done, pv_bad;
    wire [9:0]  pv_exp;
    wire [47:0] pv_imp;
    wire [M*12-1:0] v_codes;
    wire unused_pv = &{1'b0, pv_busy, pv_in_ready, pv_bad};
    generate
        for (g = 0; g < M; g = g + 1) begin : lane_v
            spk_plane_merge merge (
                .hi(b_hi[g*12+:12]), .lo(b_lo[g*10+:10]), .lsb_bits(lsb_reg),
                .with_lsb(b_merge), .code(v_codes[g*12+:12]));
        end
    endgenerate
    wire [AW-1:0] b_key = kept_list[b_row];
    spk_pv_ovl #(.DMAX(DMAX), .M(M)) pv (
        .clk(clk), .rst(rst), .start(v_go || zero_go), .d(d_reg),
        .rows(zero_go ? 17'd0 : {1'b0, v_rows}), .busy(pv_busy),
        .e_in(e_acc), .have_e_in(have_e_acc && !zero_go),  // n = 0: zeros, out_exp 0
        .beat_valid(b_valid && vpass && (lsb_pass || !v_two)),
        .beat_prob(probs[b_key]), .beat_scale(vscale[b_key*24+:24]), .beat_codes(v_codes),
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
    wire [TKW+7:0]  head_x = {{TKW{1'b0}}, t_head};
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
        if (own_beat && !r_query && !list_reg && !r_v)
            for (l = 0; l < NMAX; l = l + 1)
                if (l[19:0] - k_word0 < 20'd8 && l[19:0] < {4'd0, n_reg})
                    kscale[l*24+:24] <= k_rot[(l%8)*24+:24];
        if (own_beat && !list_reg && r_v)
            for (l = 0; l < NMAX; l = l + 1)
                if (l[19:0] - v_word0 < 20'd8 && l[19:0] < {4'd0, n_reg})
                    vscale[l*24+:24] <= v_rot[(l%8)*24+:24];
        // list mode: token l is in this list block when l - l_word0 is 0..15; then one K
        // scale word per key
        if (own_beat && r_list)
            for (l = 0; l < NMAX; l = l + 1)
                if (l[19:0] - l_word0 < 20'd16 && l[19:0] < {4'd0, n_reg})
                    ktok[l*16+:16] <= l_rot[(l%16)*16+:16];
        if (own_beat && r_kword)
            for (l = 0; l < NMAX; l = l + 1)
                if (l[15:0] == r_pos) begin
                    if (r_v) vscale[l*24+:24] <= r_word[23:0];
                    else kscale[l*24+:24] <= r_word[23:0];
                end
        if (prob_valid) probs[prob_index] <= prob_value;
        if (scan_on && pos < n_reg && scan_hit)
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

    // ---- alignment exponent of the kept V rows, from the top-k's emit lines -----------------
    // (spk_pv's SCAN rule: the largest exponent among the non-zero words; lanes at or past n
    // never count)
    reg [7:0] line_e;
    reg       line_have;
    reg [23:0] lane_word;
    reg [15:0] lane_key;
    integer   le;
    always @* begin
        line_e = e_acc;
        line_have = have_e_acc;
        for (le = 0; le < P; le = le + 1) begin
            lane_key = {{(16 - AW) {1'b0}}, tk_out_line, {LP{1'b0}}} + le[15:0];
            lane_word = vscale[lane_key[AW-1:0]*24+:24];
            if (tk_mask[le] && lane_key < n_reg && lane_word[15:0] != 16'd0 &&
                (!line_have || $signed(lane_word[23:16]) > $signed(line_e))) begin
                line_e = lane_word[23:16];
                line_have = 1'b1;
            end
        end
    end

    // ---- control ---------------------------------------------------------------------------
    wire pass_end = fetch_done_seen && !b_valid && drain == 3'd0;
    // the importance walk issues its last token add this cycle (or is over): the head add may
    // be issued for the next cycle, after it
    wire walk_over = !imp_walk || (imp_pos + 16'd1 >= n_reg);
    wire bus_err_now = (f_bus_error && !f_bus_error_q) || (g_bus_error && !g_bus_error_q) ||
                       (own_beat && (rresp != 2'b00 || !rlast));
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
            f_tag <= 8'd0;
            f_requant <= 1'b0;
            f_buserr <= 1'b0;
            f_vals <= 16'd0;
            t_busy <= 1'b0;
            t_wait_pv <= 1'b0;
            front_tail <= 1'b0;
            t_tag <= 8'd0;
            t_head <= 8'd0;
            t_bad <= 1'b0;
            t_buserr <= 1'b0;
            t_requant <= 1'b0;
            t_n <= 16'd0;
            t_vals <= 16'd0;
            head_add <= 1'b0;
            head_wait <= 2'd0;
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
            vscale_addr <= 32'd0;
            lqk_blocks <= 16'd0;
            own_on <= 1'b0;
            scan_on <= 1'b0;
            e_acc <= 8'd0;
            have_e_acc <= 1'b0;
            ar_lock_f <= 1'b0;
            ar_lock_g <= 1'b0;
            ow_bits <= 64'd0;
            ow_g <= 64'd0;
            dual <= 1'b0;
            g_cnt <= 16'd0;
            g_row <= 16'd0;
            g_beat <= {BW{1'b0}};
            g_bus_error_q <= 1'b0;
            ow_wr <= 6'd0;
            ow_rd <= 6'd0;
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
            vkey_valid <= 1'b0;
            tk_load_en <= 1'b0;
            ar_lock_f <= sel_f && !arready;
            ar_lock_g <= sel_g && !arready;
            if (arvalid && arready) begin
                ow_bits[ow_wr] <= sel_own;
                ow_g[ow_wr] <= sel_g;
                ow_wr <= ow_wr + 6'd1;
            end
            if (rvalid && rready) ow_rd <= ow_rd + 6'd1;
            if (sel_own && arready) ar_cnt <= ar_cnt + 16'd1;
            if (own_beat) begin
                r_cnt <= r_cnt + 16'd1;
                if (r_cnt + 16'd1 == reads) own_on <= 1'b0;
            end
            if (tk_out_valid) begin
                e_acc <= line_e;
                have_e_acc <= line_have;
            end
            // the kept-row scan, beside the V pass: one kept row listed a cycle (or a jump to
            // the next line of P flags); each listed row goes to the fetcher and the vkey stream
            if (scan_on) begin
                if (pos >= n_reg) begin
                    scan_on <= 1'b0;
                end else if (scan_hit) begin
                    vkey_valid <= 1'b1;
                    vkey_token <= scan_token;
                    kept_n <= kept_n + 16'd1;
                    pos <= scan_pos + 16'd1;
                end else begin
                    pos <= {pos[15:LP] + 1'b1, {LP{1'b0}}};
                end
            end
            imp_rd_valid <= imp_rd_en && !imp_any && !imp_busy;
            head_add <= 1'b0;
            if (ql_we) ql_cnt <= ql_cnt + 1'b1;
            // query code lq is in this block when lq - q_word0 is 0..15 (one enable per code:
            // a computed part-select position would cost yosys a multiplier and a shifter
            // over the whole buffer for each of the 16 codes)
            if (own_beat && r_query)
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
            // a bus error is the request's whose reads are out: the tail's while the front
            // still runs its V pass
            if (bus_err_now && (front_tail || v_go)) t_buserr <= 1'b1;
            else if (bus_err_now) f_buserr <= 1'b1;

            // fetched beats: row/beat counters, one-cycle alignment with the HIBUF read
            b_valid <= dual ? g_out_valid : f_out_valid;
            b_first <= dual ? g_out_first : f_out_first;
            b_last <= dual ? g_out_last : f_out_last;
            b_fields <= dual ? g_fields : f_fields;
            b_row <= dual ? g_row[AW-1:0] : f_row[AW-1:0];
            if (g_out_valid) begin
                if (g_out_last) begin
                    g_row <= g_row + 16'd1;
                    g_beat <= {BW{1'b0}};
                end else begin
                    g_beat <= g_cur_beat + 1'b1;
                end
            end
            if (g_idx_valid && g_idx_ready) g_cnt <= g_cnt + 16'd1;
            g_bus_error_q <= g_bus_error;
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
            if (dual ? g_done : f_done) fetch_done_seen <= 1'b1;
            if (drain != 3'd0) drain <= drain - 3'd1;
            if (pass_state && f_idx_valid && f_idx_ready) idx_cnt <= idx_cnt + 16'd1;
            // a fetcher pass starts (K, LSB, or V at the top-k's done): its counters from 0
            if (f_start || v_go) begin
                idx_cnt <= 16'd0;
                f_row <= 16'd0;
                f_beat <= {BW{1'b0}};
                fetch_done_seen <= 1'b0;
            end

            case (state)
                S_IDLE: begin
                    if (pop) begin
                        f_tag <= h_tag;
                        head_reg <= h_head;
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
                        f_buserr <= 1'b0;
                        f_requant <= 1'b0;
                        f_vals <= 16'd0;
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
                        reads <= q_blocks_h + (h_list ? l_blocks_h + h_n + h_n : k_blocks + v_blocks);
                        lqk_blocks <= q_blocks_h + (h_list ? l_blocks_h + h_n : k_blocks);
                        vscale_addr <= h_list ? h_v_scale : v_first_word;
                        own_on <= !req_bad && h_n != 16'd0;
                        if (req_bad) begin
                            state <= S_IDLE;  // the tail takes it (bad_go)
                        end else if (h_n == 16'd0) begin
                            state <= S_ZERO;
                        end else begin
                            state <= S_KSCALE;
                        end
                    end
                end
                // the first pass starts with the last query beat (d >= 1)
                S_KSCALE: if (q_last) state <= S_PASS;
                S_ZERO: if (zero_go) state <= S_IDLE;  // PV (the tail's) with no rows: d zeros
                S_PASS: begin
                    if (sm_done) begin
                        if (lsb_go) begin  // the LSB pass, started this cycle
                            f_requant <= 1'b1;
                            lsb_pass <= 1'b1;
                        end else begin  // final pass: its probabilities go to importance
                            imp_walk <= 1'b1;
                            imp_pos <= 16'd0;
                            kept_bits <= {NMAX{1'b0}};
                            e_acc <= 8'd0;
                            have_e_acc <= 1'b0;
                            state <= S_TOPK_WAIT;
                        end
                    end
                end
                S_TOPK_WAIT: if (tk_go) state <= S_TOPK;  // see tk_go
                S_TOPK: if (v_go) begin  // E is final: PV, the fetcher and the scan start
                    f_vals <= v_rows;
                    front_tail <= 1'b1;
                    pos <= 16'd0;
                    kept_n <= 16'd0;
                    vpass <= 1'b1;
                    // V with both planes: the second fetcher takes the LSB plane beside the MSB
                    // one (one pass; v_two, the sequential second pass, stays unused)
                    v_two <= 1'b0;
                    dual <= lsb_pass && (v_rows != 16'd0);
                    g_cnt <= 16'd0;
                    g_row <= 16'd0;
                    g_beat <= {BW{1'b0}};
                    lsb_pass <= 1'b0;
                    scan_on <= (v_rows != 16'd0);
                    state <= (v_rows == 16'd0) ? S_HAND : S_VPASS;
                end
                S_VPASS_START: state <= S_VPASS;  // the LSB plane of the kept V rows (all listed)
                S_VPASS: begin
                    if (dual ? g_done : f_done) drain <= 3'd2;
                    if (pass_end) begin
                        if (v_two && !lsb_pass) begin
                            lsb_pass <= 1'b1;
                            state <= S_VPASS_START;
                        end else begin
                            dual <= 1'b0;
                            state <= S_HAND;
                        end
                    end
                end
                // every V beat is in PV: once the walk is over the next descriptor may start
                S_HAND: if (walk_over) begin
                    front_tail <= 1'b0;
                    state <= S_IDLE;
                end
                default: state <= S_IDLE;
            endcase

            // the tail (see t_busy)
            if (v_go || zero_go || bad_go) begin
                t_busy <= 1'b1;
                t_wait_pv <= !bad_go;
                t_tag <= bad_go ? h_tag : f_tag;
                t_head <= head_reg;
                t_bad <= bad_go;
                t_buserr <= !bad_go && (f_buserr || bus_err_now);
                t_requant <= !bad_go && f_requant;
                t_n <= bad_go ? 16'd0 : n_reg;
                t_vals <= v_go ? v_rows : 16'd0;
                head_wait <= 2'd0;
            end else if (t_busy) begin
                if (t_wait_pv) begin
                    if (pv_done) begin
                        t_wait_pv <= 1'b0;
                        out_exp <= pv_exp;
                        head_importance <= pv_imp;
                        if (walk_over) begin  // the head add follows at once
                            head_add <= 1'b1;
                            head_wait <= 2'd2;
                        end
                    end
                end else if (t_bad || head_wait == 2'd1) begin
                    // the head add is written at this edge, so done shows after it
                    done <= 1'b1;
                    bad_cmd <= t_bad;
                    bus_error <= t_buserr;
                    requant <= t_requant;
                    keys_fetched <= t_n;
                    values_fetched <= t_vals;
                    if (t_bad) begin
                        out_exp <= 10'd0;
                        head_importance <= 48'd0;
                    end
                    t_busy <= 1'b0;
                end else if (head_wait == 2'd0) begin
                    if (walk_over) begin  // after the request's last token add
                        head_add <= 1'b1;
                        head_wait <= 2'd2;
                    end
                end else begin
                    head_wait <= head_wait - 2'd1;
                end
            end
        end
    end

endmodule

`default_nettype wire
