// Synchronous first-word-fall-through FIFO (head visible while !empty).
`resetall
`timescale 1ns / 1ps
`default_nettype none

module ts_fifo #(
    parameter integer WIDTH = 8,      // bits per entry
    parameter integer DEPTH_LOG2 = 4  // 2^DEPTH_LOG2 entries
) (
    input  wire                  clk,
    input  wire                  rst,
    input  wire                  push,
    input  wire [WIDTH-1:0]      push_data,
    input  wire                  pop,
    output wire [WIDTH-1:0]      head,
    output wire                  empty,
    output wire                  full,
    output wire [DEPTH_LOG2:0]   count
);
    initial begin
        if (WIDTH < 1 || DEPTH_LOG2 < 1 || DEPTH_LOG2 > 16) begin
            $error("ts_fifo: WIDTH must be >= 1 and DEPTH_LOG2 1..16");
            $finish;
        end
    end

    reg [WIDTH-1:0] mem [0:(1<<DEPTH_LOG2)-1];
    reg [DEPTH_LOG2:0] wr_ptr_reg = 0, rd_ptr_reg = 0;

    assign count = wr_ptr_reg - rd_ptr_reg;
    assign empty = wr_ptr_reg == rd_ptr_reg;
    assign full = count[DEPTH_LOG2];
    assign head = mem[rd_ptr_reg[DEPTH_LOG2-1:0]];

    always @(posedge clk) begin
        if (push && !full) begin
            mem[wr_ptr_reg[DEPTH_LOG2-1:0]] <= push_data;
            wr_ptr_reg <= wr_ptr_reg + 1'b1;
        end
        if (pop && !empty) rd_ptr_reg <= rd_ptr_reg + 1'b1;
        if (rst) begin
            wr_ptr_reg <= 0;
            rd_ptr_reg <= 0;
        end
    end

endmodule

`resetall
