// spk_prune: the cascade pruning step after a layer (docs/rtl.md, "Prune unit"; normative text
// docs/spec/datapath.md, "Keep counts", "Recent-window protection and head groups", "Top-k"):
// exactly spk_prune_keep_window(st, {kt, 1.0}, {kh, 1.0}, {sinks, recent, head_group}) on the
// token and head entries it holds (importance, 48-bit saturating, and an alive bit each).
//
// State: NTOK token entries in P banks (spk_ram_1r1w, lane l holds the tokens j with
// j mod P = l at address j / P, so a pass reads P tokens per cycle), NHEAD head entries in one
// RAM, and a scratch RAM of NHEAD group entries. Entry ports (idle only): `op_*` loads an entry
// (index, importance, alive) or adds to its importance (spk_importance_add semantics, forwarded
// so back-to-back adds to one entry are exact); `rd_*` reads an entry, value one cycle later.
//
// A prune (`start`) runs as sweeps over the entries, each sweep a 3-stage pipeline (read, compare,
// count/write), ceil(n/P) cycles for tokens and n cycles for heads or groups, plus 3:
//   heads   GRP: one sweep over the heads builds the groups (alive = any head alive, importance
//           = saturating sum of the alive heads') and checks that head_group divides n_heads;
//           KG: ceil(k / g) by repeated addition (k = min(kh or all, alive heads)); if that
//           keeps every alive group, the heads are left alone; else the top-k of the groups
//           (search and emit below, one group per cycle) and HWR: one sweep clearing the alive
//           bit of every head of a dropped group;
//   tokens  CNT: one sweep counts the alive and the protected alive tokens (j < sinks or
//           j >= n_tokens - recent) and ORs the importance of the others (the open ones);
//           k = min(kt or all, alive); k >= alive: nothing changes; k <= protected: every open
//           token dies; else the top k - protected open tokens are kept (search and emit).
// Top-k by a bitwise threshold search: T = the kq-th largest value, found from the most
// significant bit set in any candidate down: one counting sweep per bit (candidates >= T | bit),
// the bit kept when at least kq reach it; a sweep that counts exactly kq ends the search (the
// kept set is then "value >= T | bit"). The count of the last failed bit is the number of
// candidates above T (its candidate is T + 1), so no extra sweep is needed. The emit sweep keeps,
// in index order, the values above T and the first kq - #above equal to T: the spec's top-k rule
// (ties to the earliest index), whatever algorithm found T.
`default_nettype none

module spk_prune #(
    parameter NTOK  = 1024,  // token entries (a multiple of P, >= 2P, <= 65536)
    parameter NHEAD = 16,    // head entries (2 .. NTOK / 2)
    parameter P     = 4,     // tokens per cycle in a sweep (a power of two, >= 2)
    // derived, do not override:
    parameter TA = $clog2(NTOK),      // entry index bits
    parameter TW = $clog2(NTOK + 1),  // token count bits
    parameter HA = $clog2(NHEAD),
    parameter HW = $clog2(NHEAD + 1), // head count bits
    parameter PW = $clog2(P),
    parameter LW = TA - PW            // bank address bits
) (
    input  wire          clk,
    input  wire          rst,          // synchronous, active high
    // entry op (ignored while busy): load {op_alive, op_value}, or (op_add) add op_value to the
    // importance, saturating at 2^48 - 1; op_head selects a head (index op_index[HA-1:0])
    input  wire          op_en,
    input  wire          op_add,
    input  wire          op_head,
    input  wire [TA-1:0] op_index,
    input  wire [47:0]   op_value,
    input  wire          op_alive,
    // read port (ignored while busy and in a cycle with an add): the entry as left by the ops
    // of earlier cycles, one cycle later
    input  wire          rd_en,
    input  wire          rd_head,
    input  wire [TA-1:0] rd_index,
    output wire          rd_alive,
    output wire [47:0]   rd_imp,
    // prune command, accepted while idle
    input  wire          start,
    input  wire [TW-1:0] n_tokens,     // tokens 0 .. n_tokens - 1 belong to the context
    input  wire [31:0]   kt,           // token keep count (0: keep all)
    input  wire [31:0]   sinks,        // tokens j < sinks are protected
    input  wire [31:0]   recent,       // tokens j >= n_tokens - recent are protected
    input  wire [HW-1:0] n_heads,
    input  wire [31:0]   kh,           // head keep count (0: keep all)
    input  wire [31:0]   head_group,   // 0 or 1: single heads; g > 1 must divide n_heads
    output wire          busy,
    // completion: a one-cycle pulse; the status below holds until the next start
    output reg           done,
    output reg           bad_cmd,      // n_tokens > NTOK, n_heads > NHEAD or g does not divide
                                       // n_heads: nothing changed
    output reg  [TW-1:0] tokens_alive, // alive tokens among 0 .. n_tokens - 1 after the prune
    output reg  [HW-1:0] heads_alive,
    output reg  [5:0]    token_passes, // counting sweeps of the token search (0 .. 48)
    output reg  [5:0]    head_passes   // counting sweeps of the head-group search (0 .. 48)
);
    localparam NL = NTOK / P;
    localparam EW = 49;  // entry word: {alive, importance}
    localparam [47:0] IMAX = 48'hFFFF_FFFF_FFFF;
    localparam [TW-1:0] NTOK_TW = NTOK[TW-1:0];
    localparam [TW-1:0] P_TW = P[TW-1:0];
    localparam [HW-1:0] NHEAD_HW = NHEAD[HW-1:0];

    localparam [3:0] S_IDLE = 4'd0, S_INIT = 4'd1, S_SWEEP = 4'd2, S_GEND = 4'd3, S_KG = 4'd4,
                     S_HDEC = 4'd5, S_TINIT = 4'd6, S_TDEC = 4'd7, S_SDEC = 4'd8,
                     S_EEND = 4'd9, S_DONE = 4'd10;
    // sweep kinds
    localparam [2:0] K_GRP = 3'd0, K_CNT = 3'd1, K_SRCH = 3'd2, K_EMIT = 3'd3, K_HWR = 3'd4;

    // saturating 48-bit addition (spk_importance_add)
    function [47:0] sat_add;
        input [47:0] a, b;
        reg [48:0] s;
        begin
            s = {1'b0, a} + {1'b0, b};
            sat_add = s[48] ? IMAX : s[47:0];
        end
    endfunction

    // the most significant set bit of v, one-hot (0 for v = 0)
    function [47:0] msb_onehot;
        input [47:0] v;
        integer q;
        begin
            msb_onehot = 48'd0;
            for (q = 0; q < 48; q = q + 1)
                if (v[q]) msb_onehot = 48'd1 << q;
        end
    endfunction

    reg [3:0] state;
    reg [2:0] kind;
    reg       ph_tok;  // the sweep is over tokens (P lanes), else over heads or groups (lane 0)

    // ---- command, clamped ----------------------------------------------------------------
    reg [TW-1:0] n_t, kt_c, sinks_c, rfrom;
    reg [HW-1:0] n_h, kh_c, g_c;

    // ---- counters and search state --------------------------------------------------------
    reg [TW-1:0] n_alive, n_prot, cnt, kq, quota, lastfail, kacc;
    reg [HW-1:0] n_alive_h, n_alive_g, n_grp, kg, gpos, gidx, k_h;
    reg [47:0]   or_val, tval, cand, bitm, gsum;
    reg          galive;
    reg [NHEAD-1:0] gkeep;

    // ---- sweep: issue stage ---------------------------------------------------------------
    reg [TW-1:0] rem, i;
    wire         issuing = (state == S_SWEEP) && (rem != {TW{1'b0}});
    wire         use_banks = issuing && ph_tok;
    wire         use_heads = issuing && !ph_tok && (kind == K_GRP || kind == K_HWR);
    wire         use_grps = issuing && !ph_tok && (kind == K_SRCH || kind == K_EMIT);
    wire [TA-1:0] jb = {i[LW-1:0], {PW{1'b0}}};  // first token of the line
    reg  [P-1:0] a_mask, a_prot;
    reg  [TW-1:0] a_j;
    integer      la;
    always @* begin
        for (la = 0; la < P; la = la + 1) begin
            a_j = {1'b0, jb} + la[TW-1:0];
            a_mask[la] = ph_tok ? (rem > la[TW-1:0]) : (la == 0);
            a_prot[la] = ph_tok && (a_j < sinks_c || a_j >= rfrom);
        end
    end

    // ---- stage B: RAM data, compares --------------------------------------------------------
    reg          b_v;
    reg [P-1:0]  b_mask, b_prot;
    reg [TW-1:0] b_i;
    reg          b_heads;  // lane 0 from the head RAM (else from the group RAM) when !ph_tok
    wire [P*EW-1:0] bank_rd;
    wire [EW-1:0]   head_rd, grp_rd;
    reg  [P*EW-1:0] b_word;  // lane l at [l*EW +: EW]
    integer lb;
    always @* begin
        for (lb = 0; lb < P; lb = lb + 1)
            b_word[lb*EW +: EW] = ph_tok ? bank_rd[lb*EW +: EW] :
                         (lb == 0) ? (b_heads ? head_rd : grp_rd) : {EW{1'b0}};
    end

    // ---- stage C: per-lane flags and values -------------------------------------------------
    reg          c_v;
    reg [P-1:0]  c_mask, c_prot, c_alive, c_ge, c_gt, c_eq;
    reg [TW-1:0] c_i;
    reg [P*48-1:0] c_imp;  // lane l at [l*48 +: 48]
    wire [P-1:0] c_live = c_mask & c_alive;
    wire [P-1:0] c_open = c_live & ~c_prot;   // candidates of the top-k
    wire [P-1:0] c_eqo = c_open & c_eq;
    // stage C combinational: counts, the emit decision
    reg  [PW:0]  pc_live, pc_prot, pc_ge, pc_eqo, pc_keep, eqb;
    reg  [47:0]  or_line;
    reg  [P-1:0] keep;
    integer lc;
    always @* begin
        pc_live = {(PW + 1) {1'b0}};
        pc_prot = {(PW + 1) {1'b0}};
        pc_ge = {(PW + 1) {1'b0}};
        pc_eqo = {(PW + 1) {1'b0}};
        pc_keep = {(PW + 1) {1'b0}};
        or_line = 48'd0;
        for (lc = 0; lc < P; lc = lc + 1) begin
            eqb = pc_eqo;  // open lanes equal to T before lane l
            keep[lc] = c_live[lc] && (c_prot[lc] || (c_open[lc] &&
                      (c_gt[lc] || (c_eq[lc] && {{(TW - PW - 1) {1'b0}}, eqb} < quota))));
            pc_live = pc_live + {{PW{1'b0}}, c_live[lc]};
            pc_prot = pc_prot + {{PW{1'b0}}, c_live[lc] & c_prot[lc]};
            pc_ge = pc_ge + {{PW{1'b0}}, c_open[lc] & c_ge[lc]};
            pc_eqo = pc_eqo + {{PW{1'b0}}, c_eqo[lc]};
            pc_keep = pc_keep + {{PW{1'b0}}, keep[lc] & c_mask[lc]};
            if (c_open[lc]) or_line = or_line | c_imp[lc*48 +: 48];
        end
    end
    wire [TW-1:0] pc_eqo_tw = {{(TW - PW - 1) {1'b0}}, pc_eqo};
    wire [TW-1:0] quota_next = (pc_eqo_tw >= quota) ? {TW{1'b0}} : quota - pc_eqo_tw;
    // group pass: the head in lane 0 joins its group
    wire          g_first = (gpos == {HW{1'b0}});
    wire [47:0]   g_sum_next = sat_add(g_first ? 48'd0 : gsum, c_alive[0] ? c_imp[47:0] : 48'd0);
    wire          g_alive_next = (!g_first && galive) || c_alive[0];
    wire          g_last = (gpos == g_c - 1'b1);
    wire          c_head_keep = c_alive[0] && gkeep[gidx[HA-1:0]];

    // ---- search decision ---------------------------------------------------------------------
    wire          s_hit = (cnt >= kq);
    wire [47:0]   s_t = s_hit ? cand : tval;
    wire [TW-1:0] s_lf = s_hit ? lastfail : cnt;

    // ---- entry ops: stage 1 (old word read), write-back, forwarding ---------------------------
    wire          op_fire = op_en && (state == S_IDLE);
    wire          rd_fire = rd_en && (state == S_IDLE) && !(op_en && op_add);
    wire [TA-1:0] op_idx_n = op_head ? {{(TA - HA) {1'b0}}, op_index[HA-1:0]} : op_index;
    wire [TA-1:0] rd_idx_n = rd_head ? {{(TA - HA) {1'b0}}, rd_index[HA-1:0]} : rd_index;
    reg           s1_v, s1_add, s1_head, s1_alive;
    reg  [TA-1:0] s1_index;
    reg  [47:0]   s1_value;
    reg           w_v, w_head;
    reg  [TA-1:0] w_index;
    reg  [EW-1:0] w_word;
    reg  [EW-1:0] s1_bank, r_bank;  // the lane of the op and of the read
    reg  [PW-1:0] r_lane;
    integer ld;
    always @* begin
        s1_bank = bank_rd[EW-1:0];
        r_bank = bank_rd[EW-1:0];
        for (ld = 1; ld < P; ld = ld + 1) begin
            if (s1_index[PW-1:0] == ld[PW-1:0]) s1_bank = bank_rd[ld*EW +: EW];
            if (r_lane == ld[PW-1:0]) r_bank = bank_rd[ld*EW +: EW];
        end
    end
    wire [EW-1:0] s1_ram = s1_head ? head_rd : s1_bank;
    wire [EW-1:0] s1_old = (w_v && w_head == s1_head && w_index == s1_index) ? w_word : s1_ram;
    wire [EW-1:0] s1_word = s1_add ? {s1_old[48], sat_add(s1_old[47:0], s1_value)}
                                   : {s1_alive, s1_value};
    // read port output
    reg           r_head, r_byp;
    reg  [EW-1:0] r_bword;
    wire [EW-1:0] r_word = r_byp ? r_bword : r_head ? head_rd : r_bank;
    assign rd_alive = r_word[48];
    assign rd_imp = r_word[47:0];

    // ---- memories ------------------------------------------------------------------------
    wire          fsm_tok_we = c_v && ph_tok && kind == K_EMIT;
    wire          op_re = op_fire && op_add;
    wire [TA-1:0] op_raddr = op_re ? op_idx_n : rd_idx_n;
    wire          op_tok_re = (op_re && !op_head) || (rd_fire && !rd_head);
    wire          op_head_re = (op_re && op_head) || (rd_fire && rd_head);
    genvar gl;
    generate
        for (gl = 0; gl < P; gl = gl + 1) begin : g_bank
            wire we = fsm_tok_we ? c_mask[gl] :
                      (s1_v && !s1_head && s1_index[PW-1:0] == gl);
            spk_ram_1r1w #(.DEPTH(NL), .WIDTH(EW), .AW(LW)) bank (
                .clk(clk), .we(we),
                .waddr(fsm_tok_we ? c_i[LW-1:0] : s1_index[TA-1:PW]),
                .wdata(fsm_tok_we ? {keep[gl], c_imp[gl*48 +: 48]} : s1_word),
                .re(use_banks || op_tok_re),
                .raddr(use_banks ? i[LW-1:0] : op_raddr[TA-1:PW]),
                .rdata(bank_rd[gl*EW +: EW]));
        end
    endgenerate

    wire fsm_head_we = c_v && !ph_tok && kind == K_HWR;
    spk_ram_1r1w #(.DEPTH(NHEAD), .WIDTH(EW), .AW(HA)) heads (
        .clk(clk), .we(fsm_head_we || (s1_v && s1_head)),
        .waddr(fsm_head_we ? c_i[HA-1:0] : s1_index[HA-1:0]),
        .wdata(fsm_head_we ? {c_head_keep, c_imp[47:0]} : s1_word),
        .re(use_heads || op_head_re),
        .raddr(use_heads ? i[HA-1:0] : op_raddr[HA-1:0]),
        .rdata(head_rd));

    wire grp_we = c_v && !ph_tok && kind == K_GRP && g_last;
    spk_ram_1r1w #(.DEPTH(NHEAD), .WIDTH(EW), .AW(HA)) groups (
        .clk(clk), .we(grp_we), .waddr(gidx[HA-1:0]), .wdata({g_alive_next, g_sum_next}),
        .re(use_grps), .raddr(i[HA-1:0]), .rdata(grp_rd));

    assign busy = (state != S_IDLE);

    // command checks, from the live inputs at start
    wire [31:0] g_eff = (head_group == 32'd0) ? 32'd1 : head_group;
    wire [31:0] n_tokens32 = {{(32 - TW) {1'b0}}, n_tokens};
    wire [31:0] n_heads32 = {{(32 - HW) {1'b0}}, n_heads};
    wire        cmd_bad = (n_tokens > NTOK_TW) || (n_heads > NHEAD_HW) ||
                          (n_heads != {HW{1'b0}} && g_eff > n_heads32);
    wire [31:0] rfrom32 = (recent < n_tokens32) ? n_tokens32 - recent : 32'd0;
    wire        unused_bits = &{1'b0, rfrom32[31:TW], c_i[TW-1:LW]};
    // the token decision after CNT, and the head keep count after GRP
    wire [TW-1:0] k_t = (kt_c == {TW{1'b0}} || kt_c > n_alive) ? n_alive : kt_c;
    wire [HW-1:0] k_hn = (kh_c == {HW{1'b0}} || kh_c > n_alive_h) ? n_alive_h : kh_c;

    // A search over the candidates of the current phase with kq > 0 kept: T from the highest set
    // bit down (no counting sweep when every candidate is 0: T = 0, the first kq are kept).
    task begin_search;
        begin
            tval <= 48'd0;
            lastfail <= {TW{1'b0}};
            cand <= msb_onehot(or_val);
            bitm <= msb_onehot(or_val);
            quota <= kq;
            kind <= (or_val == 48'd0) ? K_EMIT : K_SRCH;
            rem <= ph_tok ? n_t : {{(TW - HW) {1'b0}}, n_grp};
            i <= {TW{1'b0}};
            cnt <= {TW{1'b0}};
            state <= S_SWEEP;
        end
    endtask

    task begin_emit;
        input [47:0]   t;
        input [TW-1:0] q;
        begin
            tval <= t;
            quota <= q;
            kind <= K_EMIT;
            rem <= ph_tok ? n_t : {{(TW - HW) {1'b0}}, n_grp};
            i <= {TW{1'b0}};
            cnt <= {TW{1'b0}};
            state <= S_SWEEP;
        end
    endtask

    integer le;
    always @(posedge clk) begin
        if (rst) begin
            state <= S_IDLE;
            kind <= K_GRP;
            ph_tok <= 1'b0;
            n_t <= {TW{1'b0}};
            kt_c <= {TW{1'b0}};
            sinks_c <= {TW{1'b0}};
            rfrom <= {TW{1'b0}};
            n_h <= {HW{1'b0}};
            kh_c <= {HW{1'b0}};
            g_c <= {HW{1'b0}};
            n_alive <= {TW{1'b0}};
            n_prot <= {TW{1'b0}};
            cnt <= {TW{1'b0}};
            kq <= {TW{1'b0}};
            quota <= {TW{1'b0}};
            lastfail <= {TW{1'b0}};
            kacc <= {TW{1'b0}};
            n_alive_h <= {HW{1'b0}};
            n_alive_g <= {HW{1'b0}};
            n_grp <= {HW{1'b0}};
            kg <= {HW{1'b0}};
            gpos <= {HW{1'b0}};
            gidx <= {HW{1'b0}};
            k_h <= {HW{1'b0}};
            or_val <= 48'd0;
            tval <= 48'd0;
            cand <= 48'd0;
            bitm <= 48'd0;
            gsum <= 48'd0;
            galive <= 1'b0;
            gkeep <= {NHEAD{1'b0}};
            rem <= {TW{1'b0}};
            i <= {TW{1'b0}};
            b_v <= 1'b0;
            b_mask <= {P{1'b0}};
            b_prot <= {P{1'b0}};
            b_i <= {TW{1'b0}};
            b_heads <= 1'b0;
            c_v <= 1'b0;
            c_mask <= {P{1'b0}};
            c_prot <= {P{1'b0}};
            c_alive <= {P{1'b0}};
            c_ge <= {P{1'b0}};
            c_gt <= {P{1'b0}};
            c_eq <= {P{1'b0}};
            c_i <= {TW{1'b0}};
            c_imp <= {(P * 48) {1'b0}};
            s1_v <= 1'b0;
            s1_add <= 1'b0;
            s1_head <= 1'b0;
            s1_alive <= 1'b0;
            s1_index <= {TA{1'b0}};
            s1_value <= 48'd0;
            w_v <= 1'b0;
            w_head <= 1'b0;
            w_index <= {TA{1'b0}};
            w_word <= {EW{1'b0}};
            r_head <= 1'b0;
            r_byp <= 1'b0;
            r_lane <= {PW{1'b0}};
            r_bword <= {EW{1'b0}};
            done <= 1'b0;
            bad_cmd <= 1'b0;
            tokens_alive <= {TW{1'b0}};
            heads_alive <= {HW{1'b0}};
            token_passes <= 6'd0;
            head_passes <= 6'd0;
        end else begin
            done <= 1'b0;

            // ---- entry ops and the read port -----------------------------------------------
            s1_v <= op_fire;
            s1_add <= op_add;
            s1_head <= op_head;
            s1_alive <= op_alive;
            s1_index <= op_idx_n;
            s1_value <= op_value;
            w_v <= s1_v;
            w_head <= s1_head;
            w_index <= s1_index;
            w_word <= s1_word;
            if (rd_fire) begin
                r_head <= rd_head;
                r_lane <= rd_index[PW-1:0];
                r_byp <= s1_v && s1_head == rd_head && s1_index == rd_idx_n;
                r_bword <= s1_word;
            end

            // ---- sweep pipeline ------------------------------------------------------------
            if (issuing) begin
                rem <= (ph_tok && rem > P_TW) ? rem - P_TW : ph_tok ? {TW{1'b0}} : rem - 1'b1;
                i <= i + 1'b1;
            end
            b_v <= issuing;
            b_mask <= a_mask;
            b_prot <= a_prot;
            b_i <= i;
            b_heads <= (kind == K_GRP || kind == K_HWR);
            c_v <= b_v;
            c_mask <= b_mask;
            c_prot <= b_prot;
            c_i <= b_i;
            for (le = 0; le < P; le = le + 1) begin
                c_alive[le] <= b_word[le*EW + 48];
                c_imp[le*48 +: 48] <= b_word[le*EW +: 48];
                c_ge[le] <= b_word[le*EW +: 48] >= cand;
                c_gt[le] <= b_word[le*EW +: 48] > tval;
                c_eq[le] <= b_word[le*EW +: 48] == tval;
            end
            if (c_v) begin
                case (kind)
                    K_GRP: begin
                        n_alive_h <= n_alive_h + {{(HW - 1) {1'b0}}, c_alive[0]};
                        gsum <= g_sum_next;
                        galive <= g_alive_next;
                        if (g_last) begin
                            gpos <= {HW{1'b0}};
                            gidx <= gidx + 1'b1;
                            n_alive_g <= n_alive_g + {{(HW - 1) {1'b0}}, g_alive_next};
                            if (g_alive_next) or_val <= or_val | g_sum_next;
                        end else begin
                            gpos <= gpos + 1'b1;
                        end
                    end
                    K_CNT: begin
                        n_alive <= n_alive + {{(TW - PW - 1) {1'b0}}, pc_live};
                        n_prot <= n_prot + {{(TW - PW - 1) {1'b0}}, pc_prot};
                        or_val <= or_val | or_line;
                    end
                    K_SRCH: cnt <= cnt + {{(TW - PW - 1) {1'b0}}, pc_ge};
                    K_EMIT: begin
                        cnt <= cnt + {{(TW - PW - 1) {1'b0}}, pc_keep};
                        quota <= quota_next;
                        if (!ph_tok) gkeep[c_i[HA-1:0]] <= keep[0];
                    end
                    default: begin  // K_HWR
                        cnt <= cnt + {{(TW - 1) {1'b0}}, c_head_keep};
                        if (g_last) begin
                            gpos <= {HW{1'b0}};
                            gidx <= gidx + 1'b1;
                        end else begin
                            gpos <= gpos + 1'b1;
                        end
                    end
                endcase
            end

            // ---- control -------------------------------------------------------------------
            case (state)
                S_IDLE: if (start) begin
                    n_t <= n_tokens;
                    kt_c <= (kt > NTOK) ? NTOK_TW : kt[TW-1:0];
                    sinks_c <= (sinks > n_tokens32) ? n_tokens : sinks[TW-1:0];
                    rfrom <= rfrom32[TW-1:0];
                    n_h <= n_heads;
                    kh_c <= (kh > NHEAD) ? NHEAD_HW : kh[HW-1:0];
                    g_c <= g_eff[HW-1:0];
                    bad_cmd <= cmd_bad;
                    token_passes <= 6'd0;
                    head_passes <= 6'd0;
                    state <= S_INIT;
                end
                S_INIT: begin
                    if (bad_cmd) begin
                        state <= S_DONE;
                    end else begin  // heads first: a head_group that does not divide is found
                        ph_tok <= 1'b0;  // before anything changes
                        kind <= K_GRP;
                        rem <= {{(TW - HW) {1'b0}}, n_h};
                        i <= {TW{1'b0}};
                        gpos <= {HW{1'b0}};
                        gidx <= {HW{1'b0}};
                        n_alive_h <= {HW{1'b0}};
                        n_alive_g <= {HW{1'b0}};
                        or_val <= 48'd0;
                        state <= S_SWEEP;
                    end
                end
                S_SWEEP: if (!issuing && !b_v) begin  // c holds the last item (or nothing)
                    case (kind)
                        K_GRP: state <= S_GEND;
                        K_CNT: state <= S_TDEC;
                        K_SRCH: state <= S_SDEC;
                        default: state <= S_EEND;  // K_EMIT, K_HWR
                    endcase
                end
                S_GEND: begin
                    if (gpos != {HW{1'b0}}) begin
                        bad_cmd <= 1'b1;
                        state <= S_DONE;
                    end else begin
                        n_grp <= gidx;
                        k_h <= k_hn;
                        kacc <= {TW{1'b0}};
                        kg <= {HW{1'b0}};
                        state <= S_KG;
                    end
                end
                S_KG: begin  // kg = ceil(k_h / g)
                    if (kacc < {{(TW - HW) {1'b0}}, k_h}) begin
                        kacc <= kacc + {{(TW - HW) {1'b0}}, g_c};
                        kg <= kg + 1'b1;
                    end else begin
                        state <= S_HDEC;
                    end
                end
                S_HDEC: begin
                    if (kg >= n_alive_g) begin
                        heads_alive <= n_alive_h;
                        state <= S_TINIT;
                    end else begin
                        kq <= {{(TW - HW) {1'b0}}, kg};
                        state <= S_SDEC;  // with bitm = 0: begins the search
                        bitm <= 48'd0;
                        cnt <= {TW{1'b0}};
                        kind <= K_CNT;
                    end
                end
                S_TINIT: begin
                    ph_tok <= 1'b1;
                    kind <= K_CNT;
                    rem <= n_t;
                    i <= {TW{1'b0}};
                    n_alive <= {TW{1'b0}};
                    n_prot <= {TW{1'b0}};
                    or_val <= 48'd0;
                    state <= S_SWEEP;
                end
                S_TDEC: begin
                    if (k_t >= n_alive) begin
                        tokens_alive <= n_alive;
                        state <= S_DONE;
                    end else if (k_t <= n_prot) begin
                        begin_emit(IMAX, {TW{1'b0}});  // every open token dies
                    end else begin
                        kq <= k_t - n_prot;
                        bitm <= 48'd0;
                        kind <= K_CNT;
                        state <= S_SDEC;  // begins the search
                    end
                end
                S_SDEC: begin
                    if (kind != K_SRCH) begin
                        begin_search;  // kq and or_val are set
                    end else begin
                        if (ph_tok) token_passes <= token_passes + 1'b1;
                        else head_passes <= head_passes + 1'b1;
                        if (cnt == kq) begin
                            begin_emit(cand - 48'd1, {TW{1'b0}});  // exactly kq are >= cand
                        end else if (bitm[0]) begin
                            begin_emit(s_t, kq - s_lf);
                        end else begin
                            tval <= s_t;
                            lastfail <= s_lf;
                            bitm <= bitm >> 1;
                            cand <= s_t | (bitm >> 1);
                            rem <= ph_tok ? n_t : {{(TW - HW) {1'b0}}, n_grp};
                            i <= {TW{1'b0}};
                            cnt <= {TW{1'b0}};
                            state <= S_SWEEP;
                        end
                    end
                end
                S_EEND: begin
                    if (ph_tok) begin
                        tokens_alive <= cnt;
                        state <= S_DONE;
                    end else if (kind == K_EMIT) begin  // groups chosen: clear dropped heads
                        kind <= K_HWR;
                        rem <= {{(TW - HW) {1'b0}}, n_h};
                        i <= {TW{1'b0}};
                        cnt <= {TW{1'b0}};
                        gpos <= {HW{1'b0}};
                        gidx <= {HW{1'b0}};
                        state <= S_SWEEP;
                    end else begin
                        heads_alive <= cnt[HW-1:0];
                        state <= S_TINIT;
                    end
                end
                S_DONE: begin
                    done <= 1'b1;
                    state <= S_IDLE;
                end
                default: state <= S_IDLE;
            endcase
        end
    end
endmodule

`default_nettype wire
