// spk_uart_rx: UART receiver, 8N1, LSB first, CLKS_PER_BIT clock cycles per bit (>= 4).
// The line is synchronised by two flip-flops; a start bit is a low level seen at its middle
// (a glitch shorter than half a bit is ignored); each data bit is sampled at the middle of its
// bit period. `valid` pulses for one cycle with `data` when a byte with a high stop bit has
// arrived; a byte whose stop bit is low (framing error, a break) is dropped and pulses
// `frame_err` instead. The receiver is ready for the next start bit right after the stop bit's
// middle, so a sender up to half a bit per frame fast is still received.
`default_nettype none

module spk_uart_rx #(
    parameter CLKS_PER_BIT = 25,
    // derived, do not override
    parameter CW = $clog2(CLKS_PER_BIT)
) (
    input  wire       clk,
    input  wire       rst,
    input  wire       rx,         // the line, idle high (asynchronous)
    output reg        valid,
    output reg  [7:0] data,
    output reg        frame_err
);
    localparam integer HALF_I = CLKS_PER_BIT / 2 - 1;
    localparam integer FULL_I = CLKS_PER_BIT - 1;
    localparam [CW-1:0] HALF = HALF_I[CW-1:0];
    localparam [CW-1:0] FULL = FULL_I[CW-1:0];

    reg [1:0]    sync;    // metastability guard; the line is sync[1]
    reg          busy;
    reg [3:0]    nbit;    // 0 start, 1..8 data, 9 stop
    reg [CW-1:0] cnt;
    wire         line = sync[1];

    always @(posedge clk) begin
        if (rst) begin
            sync <= 2'b11;
            busy <= 1'b0;
            nbit <= 4'd0;
            cnt <= {CW{1'b0}};
            valid <= 1'b0;
            data <= 8'd0;
            frame_err <= 1'b0;
        end else begin
            sync <= {sync[0], rx};
            valid <= 1'b0;
            frame_err <= 1'b0;
            if (!busy) begin
                // wait half a bit after the falling edge, then check the start bit again
                if (!line) begin
                    busy <= 1'b1;
                    nbit <= 4'd0;
                    cnt <= HALF;
                end
            end else if (cnt != {CW{1'b0}}) begin
                cnt <= cnt - {{(CW - 1) {1'b0}}, 1'b1};
            end else begin
                // the middle of bit nbit
                cnt <= FULL;
                nbit <= nbit + 4'd1;
                if (nbit == 4'd0) begin
                    if (line) busy <= 1'b0;  // a glitch, not a start bit
                end else if (nbit == 4'd9) begin
                    busy <= 1'b0;
                    valid <= line;
                    frame_err <= !line;
                end else begin
                    data <= {line, data[7:1]};
                end
            end
        end
    end
endmodule

`default_nettype wire
