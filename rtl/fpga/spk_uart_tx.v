// spk_uart_tx: UART transmitter, 8N1, LSB first, CLKS_PER_BIT clock cycles per bit. `start`
// with `data` while `busy` is low sends one byte (start is ignored while busy); busy rises in
// the next cycle and falls after the stop bit, so bytes can go back to back.
`default_nettype none

module spk_uart_tx #(
    parameter CLKS_PER_BIT = 25,
    // derived, do not override
    parameter CW = $clog2(CLKS_PER_BIT)
) (
    input  wire       clk,
    input  wire       rst,
    input  wire       start,
    input  wire [7:0] data,
    output wire       busy,
    output wire       tx          // the line, idle high
);
    localparam integer FULL_I = CLKS_PER_BIT - 1;
    localparam [CW-1:0] FULL = FULL_I[CW-1:0];

    reg [9:0]    sh;     // stop, data[7:0], start: shifted out LSB first
    reg [3:0]    left;   // bits still to send
    reg [CW-1:0] cnt;

    assign busy = (left != 4'd0);
    assign tx = sh[0];

    always @(posedge clk) begin
        if (rst) begin
            sh <= 10'h3FF;
            left <= 4'd0;
            cnt <= {CW{1'b0}};
        end else if (!busy) begin
            if (start) begin
                sh <= {1'b1, data, 1'b0};
                left <= 4'd10;
                cnt <= FULL;
            end
        end else if (cnt != {CW{1'b0}}) begin
            cnt <= cnt - {{(CW - 1) {1'b0}}, 1'b1};
        end else begin
            cnt <= FULL;
            left <= left - 4'd1;
            sh <= {1'b1, sh[9:1]};
        end
    end
endmodule

`default_nettype wire
