// spk_uart_bridge: the board's host link (docs/fpga.md, "Protocol"): UART frames to a 32-bit
// bus. LiteX UARTBone framing (cmd, len in words, big-endian word address, big-endian data)
// with a CRC-16/CCITT-FALSE on every request and a response (status, read data, CRC) to every
// complete request. Constants and the address map come from the generated board_map.vh.
//
// Receive: cmd, len, the 4 address bytes, for a write the len words into a 255-word buffer
// (two EBRs), the 2 CRC bytes. The CRC register runs over every byte including the received
// CRC, so a good request leaves it 0 (no compare register). Then the checks, in order: CRC
// (status CRC, counted), command (BAD_CMD), len = 0 (BAD_LEN), addresses (BUS_ERROR: the first
// and the last word address must be in the same mapped window, decided before any access, so
// an error means nothing was written or read). A write then performs its words from the buffer
// in order and answers; a read answers the status and sends each word as it is read.
// Receive timeout: in the middle of a request, RX_TIMEOUT cycles without a byte drop the partial
// request (counted), the bridge is idle again and does not answer. Bytes that arrive while the
// bridge executes or answers are dropped.
//
// The bridge block (window BRIDGE: BOARD_ID ... RX_TIMEOUT) lives here; the other windows go out
// on the bus: `bus_req` is held with `bus_we`, `bus_addr` (word address = byte address / 4, 16
// bits: every mapped address is below 0x40000) and `bus_wdata` until the slave pulses `bus_ack`
// (with `bus_rdata` for a read); the request drops in the cycle after the ack, so a slave must
// not take `bus_req` in the cycle it pulses `bus_ack`. The bus never sees an unmapped address.
`default_nettype none

`include "board_map.vh"

module spk_uart_bridge #(
    parameter CLKS_PER_BIT = 25,
    parameter RX_TIMEOUT = 251250,  // clock cycles
    parameter CLOCK_KHZ = 25125,    // CLOCK_KHZ register
    // derived, do not override
    parameter TW = $clog2(RX_TIMEOUT + 1)
) (
    input  wire        clk,
    input  wire        rst,
    input  wire        uart_rx,
    output wire        uart_tx,
    input  wire [2:0]  leds,       // LEDS register: alive, busy, error
    output reg         bus_req,
    output reg         bus_we,
    output reg  [15:0] bus_addr,
    output wire [31:0] bus_wdata,
    input  wire        bus_ack,
    input  wire [31:0] bus_rdata
);
    // ---- UART -------------------------------------------------------------------------------
    wire       rx_valid, rx_ferr;
    wire [7:0] rx_data;
    reg        tx_start;
    reg  [7:0] tx_data;
    wire       tx_busy;
    spk_uart_rx #(.CLKS_PER_BIT(CLKS_PER_BIT)) urx (
        .clk(clk), .rst(rst), .rx(uart_rx), .valid(rx_valid), .data(rx_data),
        .frame_err(rx_ferr));
    spk_uart_tx #(.CLKS_PER_BIT(CLKS_PER_BIT)) utx (
        .clk(clk), .rst(rst), .start(tx_start), .data(tx_data), .busy(tx_busy), .tx(uart_tx));
    wire unused_rx = &{1'b0, rx_ferr};  // a framing error drops the byte; the CRC catches it

    // ---- CRC-16/CCITT-FALSE, one byte per cycle ---------------------------------------------
    function [15:0] crc_byte;
        input [15:0] c;
        input [7:0]  b;
        integer k;
        reg [15:0] x;
        begin
            x = c ^ {b, 8'd0};
            for (k = 0; k < 8; k = k + 1)
                x = x[15] ? ({x[14:0], 1'b0} ^ 16'h1021) : {x[14:0], 1'b0};
            crc_byte = x;
        end
    endfunction

    // ---- states -------------------------------------------------------------------------------
    localparam [3:0] S_CMD = 4'd0, S_LEN = 4'd1, S_ADDR = 4'd2, S_DATA = 4'd3, S_CRC = 4'd4,
                     S_CHECK = 4'd5, S_WLOAD = 4'd6, S_WBUS = 4'd7, S_STATUS = 4'd8,
                     S_RBUS = 4'd9, S_RTX = 4'd10, S_CRCHI = 4'd11, S_CRCLO = 4'd12,
                     S_WAITTX = 4'd13;
    reg [3:0]  state;
    reg [7:0]  cmd, len;
    reg [15:0] addr;       // word address (low 16 bits of the 32-bit address field)
    reg        addr_hi;    // a bit above the low 16 of the address field is set
    reg [1:0]  nb;         // byte of the current field (address, data word, CRC)
    reg [7:0]  nw;         // word of the burst
    reg [23:0] wsh;        // the first three bytes of the data word being received
    reg [15:0] crc;
    reg [TW-1:0] idle_cnt; // cycles since the last byte of a partial request
    reg [15:0] crc_errors, rx_timeouts;
    reg [31:0] scratch;
    reg [7:0]  status;
    reg [31:0] rword;      // word being sent
    reg [7:0]  crc_lo;     // the response CRC's low byte, latched as the high byte goes out

    wire is_write = (cmd == `SPK_BOARD_CMD_WRITE_INC) || (cmd == `SPK_BOARD_CMD_WRITE_FIXED);
    wire is_read = (cmd == `SPK_BOARD_CMD_READ_INC) || (cmd == `SPK_BOARD_CMD_READ_FIXED);
    wire fixed = (cmd == `SPK_BOARD_CMD_WRITE_FIXED) || (cmd == `SPK_BOARD_CMD_READ_FIXED);
    wire has_data = is_write && (len != 8'd0);

    // ---- write buffer: the burst's words until the request checked --------------------------
    wire        buf_we = (state == S_DATA) && rx_valid && (nb == 2'd3);
    wire [31:0] buf_q;
    spk_ram_1r1w #(.DEPTH(256), .WIDTH(32)) wbuf (
        .clk(clk), .we(buf_we), .waddr(nw), .wdata({wsh, rx_data}), .re(state == S_WLOAD),
        .raddr(nw), .rdata(buf_q));
    assign bus_wdata = buf_q;

    // ---- address check: window of a word address (17 bits: the last address may carry) --------
    // 0 bridge, 1 engine, 2 result (words 0x800..0xFFF), 3 memory (0x4000..0xBFFF), 4 unmapped
    function [2:0] window;
        input [16:0] w;
        reg unused_w;
        begin
            unused_w = &{1'b0, w[9:0]};
            if (w[16:12] == 5'd0)
                window = (w[11:10] == 2'd0) ? 3'd0 : (w[11:10] == 2'd1) ? 3'd1 : 3'd2;
            else if (!w[16] && (w[15:14] == 2'b01 || w[15:14] == 2'b10)) window = 3'd3;
            else window = 3'd4;
        end
    endfunction
    wire [16:0] last = fixed ? {1'b0, addr} : {1'b0, addr} + {9'd0, len} - 17'd1;
    wire [2:0]  win_first = window({1'b0, addr});
    wire        range_ok = !addr_hi && (win_first != 3'd4) && (window(last) == win_first);
    wire        local_acc = (bus_addr[15:10] == 6'd0);  // the bridge block (word address < 0x400)

    // ---- the bridge block -----------------------------------------------------------------------
    localparam [31:0] KHZ32 = CLOCK_KHZ, CPB32 = CLKS_PER_BIT, TMO32 = RX_TIMEOUT;
    reg [31:0] local_q;
    always @(*) begin
        case ({bus_addr[9:0], 2'b00})
            `SPK_BOARD_REG_BOARD_ID_OFF: local_q = `SPK_BOARD_ID_MAGIC;
            `SPK_BOARD_REG_BOARD_VERSION_OFF: local_q = `SPK_BOARD_VERSION_VALUE;
            `SPK_BOARD_REG_SCRATCH_OFF: local_q = scratch;
            `SPK_BOARD_REG_CLOCK_KHZ_OFF: local_q = KHZ32;
            `SPK_BOARD_REG_MEM_BASE_OFF: local_q = `SPK_BOARD_WIN_MEM_BASE;
            `SPK_BOARD_REG_MEM_BYTES_OFF: local_q = `SPK_BOARD_WIN_MEM_BYTES;
            `SPK_BOARD_REG_LINK_STATUS_OFF: local_q = {rx_timeouts, crc_errors};
            `SPK_BOARD_REG_LEDS_OFF: local_q = {29'd0, leds};
            `SPK_BOARD_REG_CLKS_PER_BIT_OFF: local_q = CPB32;
            `SPK_BOARD_REG_RX_TIMEOUT_OFF: local_q = TMO32;
            default: local_q = 32'd0;
        endcase
    end

    wire rx_phase = (state <= S_CRC);
    // one CRC for both directions: requests and responses never overlap
    wire [15:0] crc_next = crc_byte(crc, rx_phase ? rx_data : tx_data);
    wire partial = rx_phase && (state != S_CMD);
    localparam [TW-1:0] TMO = RX_TIMEOUT[TW-1:0];

    always @(posedge clk) begin
        if (rst) begin
            state <= S_CMD;
            cmd <= 8'd0;
            len <= 8'd0;
            addr <= 16'd0;
            addr_hi <= 1'b0;
            nb <= 2'd0;
            nw <= 8'd0;
            wsh <= 24'd0;
            crc <= 16'hFFFF;
            idle_cnt <= {TW{1'b0}};
            crc_errors <= 16'd0;
            rx_timeouts <= 16'd0;
            scratch <= 32'd0;
            status <= 8'd0;
            rword <= 32'd0;
            crc_lo <= 8'd0;
            tx_start <= 1'b0;
            tx_data <= 8'd0;
            bus_req <= 1'b0;
            bus_we <= 1'b0;
            bus_addr <= 16'd0;
        end else begin
            tx_start <= 1'b0;
            // receive timeout of a partial request
            if (!partial || rx_valid) idle_cnt <= {TW{1'b0}};
            else idle_cnt <= idle_cnt + {{(TW - 1) {1'b0}}, 1'b1};
            // the CRC takes each received byte, and each sent status or data byte in the cycle
            // of its tx_start (the CRC bytes themselves go out in S_CRCLO and S_WAITTX)
            if ((rx_phase && rx_valid) ||
                (tx_start && state != S_CRCLO && state != S_WAITTX))
                crc <= crc_next;
            if (partial && !rx_valid && idle_cnt == TMO) begin
                state <= S_CMD;
                crc <= 16'hFFFF;
                if (rx_timeouts != 16'hFFFF) rx_timeouts <= rx_timeouts + 16'd1;
            end else if (rx_phase && rx_valid) begin
                case (state)
                    S_CMD: begin
                        cmd <= rx_data;
                        state <= S_LEN;
                    end
                    S_LEN: begin
                        len <= rx_data;
                        nb <= 2'd0;
                        addr_hi <= 1'b0;
                        state <= S_ADDR;
                    end
                    S_ADDR: begin
                        addr <= {addr[7:0], rx_data};
                        if (nb < 2'd2) addr_hi <= addr_hi || (rx_data != 8'd0);
                        nb <= nb + 2'd1;
                        nw <= 8'd0;
                        if (nb == 2'd3) state <= has_data ? S_DATA : S_CRC;
                    end
                    S_DATA: begin
                        wsh <= {wsh[15:0], rx_data};
                        nb <= nb + 2'd1;
                        if (nb == 2'd3) begin
                            nw <= nw + 8'd1;
                            if (nw + 8'd1 == len) state <= S_CRC;
                        end
                    end
                    default: begin  // S_CRC
                        nb <= nb + 2'd1;
                        if (nb[0]) state <= S_CHECK;
                    end
                endcase
            end else begin
                case (state)
                    S_CHECK: begin
                        nw <= 8'd0;
                        crc <= 16'hFFFF;  // now the response's CRC
                        if (crc != 16'd0) begin
                            status <= `SPK_BOARD_ST_CRC;
                            if (crc_errors != 16'hFFFF) crc_errors <= crc_errors + 16'd1;
                        end else if (!is_write && !is_read) status <= `SPK_BOARD_ST_BAD_CMD;
                        else if (len == 8'd0) status <= `SPK_BOARD_ST_BAD_LEN;
                        else if (!range_ok) status <= `SPK_BOARD_ST_BUS_ERROR;
                        else status <= `SPK_BOARD_ST_OK;
                        bus_addr <= addr;
                        state <= (crc == 16'd0 && is_write && len != 8'd0 && range_ok) ? S_WLOAD
                                                                                      : S_STATUS;
                    end
                    S_WLOAD: state <= S_WBUS;  // the buffer word is on buf_q next cycle
                    S_WBUS: begin
                        if (local_acc) begin
                            if ({bus_addr[9:0], 2'b00} == `SPK_BOARD_REG_SCRATCH_OFF)
                                scratch <= buf_q;
                            if ({bus_addr[9:0], 2'b00} == `SPK_BOARD_REG_LINK_STATUS_OFF) begin
                                crc_errors <= 16'd0;
                                rx_timeouts <= 16'd0;
                            end
                        end
                        if (local_acc || (bus_req && bus_ack)) begin
                            bus_req <= 1'b0;
                            nw <= nw + 8'd1;
                            if (!fixed) bus_addr <= bus_addr + 16'd1;
                            state <= (nw + 8'd1 == len) ? S_STATUS : S_WLOAD;
                        end else begin
                            bus_req <= 1'b1;
                            bus_we <= 1'b1;
                        end
                    end
                    S_STATUS: if (!tx_busy && !tx_start) begin
                        tx_data <= status;
                        tx_start <= 1'b1;
                        nb <= 2'd0;
                        state <= (status == `SPK_BOARD_ST_OK && is_read) ? S_RBUS : S_CRCHI;
                    end
                    S_RBUS: begin
                        if (local_acc || (bus_req && bus_ack)) begin
                            rword <= local_acc ? local_q : bus_rdata;
                            bus_req <= 1'b0;
                            nw <= nw + 8'd1;
                            state <= S_RTX;
                        end else begin
                            bus_req <= 1'b1;
                            bus_we <= 1'b0;
                        end
                    end
                    S_RTX: if (!tx_busy && !tx_start) begin
                        tx_data <= rword[31:24];
                        tx_start <= 1'b1;
                        rword <= {rword[23:0], 8'd0};
                        nb <= nb + 2'd1;
                        if (nb == 2'd3) begin
                            if (!fixed) bus_addr <= bus_addr + 16'd1;
                            state <= (nw == len) ? S_CRCHI : S_RBUS;
                        end
                    end
                    S_CRCHI: if (!tx_busy && !tx_start) begin
                        tx_data <= crc[15:8];
                        crc_lo <= crc[7:0];
                        tx_start <= 1'b1;
                        state <= S_CRCLO;
                    end
                    S_CRCLO: if (!tx_busy && !tx_start) begin
                        tx_data <= crc_lo;
                        tx_start <= 1'b1;
                        state <= S_WAITTX;
                    end
                    S_WAITTX: if (!tx_busy && !tx_start) begin
                        // the response has left: the next request starts from here
                        crc <= 16'hFFFF;
                        state <= S_CMD;
                    end
                    default: ;
                endcase
            end
        end
    end
endmodule

`default_nettype wire
