// First-word-fall-through FIFO on a synchronous-read memory (block RAM): the
// head is prefetched into a four-entry queue, so it still pops one per clock.
`resetall
`timescale 1ns / 1ps
`default_nettype none

module ts_fifo_bram #(
    parameter integer WIDTH = 8,      // bits per entry
    parameter integer DEPTH_LOG2 = 8  // 2^DEPTH_LOG2 entries in the memory (plus up to 4 prefetched)
) (
    input  wire                  clk,
    input  wire                  rst,
    input  wire                  push,
    input  wire [WIDTH-1:0]      push_data,
    input  wire                  pop,
    output wire [WIDTH-1:0]      head,
    output wire                  empty,
    output wire                  full,       // the memory is full
    output wire [DEPTH_LOG2:0]   count       // entries in the memory (not those prefetched)
);
    initial begin
        if (WIDTH < 1 || DEPTH_LOG2 < 2 || DEPTH_LOG2 > 16) begin
            $error("ts_fifo_bram: WIDTH must be >= 1 and DEPTH_LOG2 2..16");
            $finish;
        end
    end

    reg [WIDTH-1:0] mem [0:(1<<DEPTH_LOG2)-1];
    reg [DEPTH_LOG2:0] wr_ptr_reg = 0, rd_ptr_reg = 0;
    reg [WIDTH-1:0] rd_q;
    reg rd_valid_reg = 0;  // rd_q holds an entry read last clock

    assign count = wr_ptr_reg - rd_ptr_reg;
    assign full = count[DEPTH_LOG2];
    wire mem_empty = wr_ptr_reg == rd_ptr_reg;

    wire [2:0] pre_count;
    // Read when the prefetch queue has room for this entry and the one in flight.
    wire rd_en = !mem_empty && ({1'b0, pre_count} + {3'd0, rd_valid_reg} < 4'd4);
    ts_fifo #(.WIDTH(WIDTH), .DEPTH_LOG2(2)) prefetch (
        .clk(clk), .rst(rst), .push(rd_valid_reg), .push_data(rd_q), .pop(pop), .head(head),
        .empty(empty), .full(), .count(pre_count));

    always @(posedge clk) begin
        if (push && !full) mem[wr_ptr_reg[DEPTH_LOG2-1:0]] <= push_data;
        if (rd_en) rd_q <= mem[rd_ptr_reg[DEPTH_LOG2-1:0]];
    end

    always @(posedge clk) begin
        if (push && !full) wr_ptr_reg <= wr_ptr_reg + 1'b1;
        if (rd_en) rd_ptr_reg <= rd_ptr_reg + 1'b1;
        rd_valid_reg <= rd_en;
        if (rst) begin
            wr_ptr_reg <= 0;
            rd_ptr_reg <= 0;
            rd_valid_reg <= 1'b0;
        end
    end

endmodule

`resetall
