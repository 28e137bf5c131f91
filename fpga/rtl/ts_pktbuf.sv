// On-chip packet buffer: each primary output frame is stored as a chain of
// 64-byte cells until the comparator's verdict either sends it to the client
// port or drops it (an overflow verdict: the event is not held). A frame is
// stored only if a whole jumbo frame's worth of cells is free, so a frame is
// never cut; otherwise it is marked `nobuf` and the comparator reports it.
// The cell memory is read synchronously (block RAM or UltraRAM): a cell read
// on one clock names the next cell on the following one, so a chain is read
// at one cell per clock; a four-entry output queue absorbs back-pressure.
`resetall
`timescale 1ns / 1ps
`default_nettype none

module ts_pktbuf #(
    parameter integer CELLS_LOG2 = 11,     // 64-byte cells (2048: 128 KiB)
    parameter integer MAX_FRAME_CELLS = 142  // cells reserved per frame (9018-byte jumbo + slack)
) (
    input  wire         clk,
    input  wire         rst,
    input  wire [511:0] s_axis_tdata,
    input  wire [63:0]  s_axis_tkeep,
    input  wire         s_axis_tvalid,
    output wire         s_axis_tready,
    input  wire         s_axis_tlast,
    // one descriptor per stored frame, in frame order
    output wire         m_desc_valid,
    input  wire         m_desc_ready,
    output wire [15:0]  m_desc_head,
    output wire         m_desc_nobuf,
    // what to do with a held frame
    input  wire         s_cmd_valid,
    output wire         s_cmd_ready,
    input  wire [15:0]  s_cmd_head,
    input  wire         s_cmd_drop,
    output wire [511:0] m_axis_tdata,
    output wire [63:0]  m_axis_tkeep,
    output wire         m_axis_tvalid,
    input  wire         m_axis_tready,
    output wire         m_axis_tlast,
    output wire         m_axis_tuser,
    output wire         busy,
    output reg  [31:0]  stat_nobuf_reg
);
    localparam integer CELLS = 1 << CELLS_LOG2;
    localparam integer CW = CELLS_LOG2;
    initial begin
        if (CELLS_LOG2 < 8 || CELLS_LOG2 > 16 || MAX_FRAME_CELLS < 1 || MAX_FRAME_CELLS > CELLS) begin
            $error("ts_pktbuf: CELLS_LOG2 8..16, MAX_FRAME_CELLS 1..2^CELLS_LOG2");
            $finish;
        end
    end

    // Cell memory {last, keep, data} and the chain links: one write port each,
    // one synchronous read port each (the same address).
    reg [576:0]  c_mem  [0:CELLS-1];
    reg [CW-1:0] c_next [0:CELLS-1];
    reg [CW-1:0] free_mem [0:CELLS-1];
    reg [CW:0]   free_wp_reg = 0, free_rp_reg = 0, fresh_reg = 0, used_reg = 0;
    wire free_empty = free_wp_reg == free_rp_reg;

    // Descriptor queue.
    wire desc_full, desc_empty;
    reg  in_frame_reg = 0, in_nobuf_reg = 0;
    reg  [CW-1:0] in_head_reg = 0, in_prev_reg = 0;
    wire first = !in_frame_reg;
    wire store_ok = (CELLS - used_reg) >= MAX_FRAME_CELLS;
    wire nobuf = first ? !store_ok : in_nobuf_reg;
    assign s_axis_tready = !desc_full;
    wire in_fire = s_axis_tvalid && s_axis_tready;
    wire [CW-1:0] wr_cell = !free_empty ? free_mem[free_rp_reg[CW-1:0]] : fresh_reg[CW-1:0];
    wire alloc = in_fire && !nobuf;
    ts_fifo #(.WIDTH(17), .DEPTH_LOG2(5)) desc_fifo (
        .clk(clk), .rst(rst), .push(in_fire && s_axis_tlast),
        .push_data({nobuf, {(16-CW){1'b0}}, first ? wr_cell : in_head_reg}),
        .pop(m_desc_valid && m_desc_ready), .head({m_desc_nobuf, m_desc_head}), .empty(desc_empty),
        .full(desc_full), .count());
    assign m_desc_valid = !desc_empty;

    // Read side. rd_*: the frame being read has a cell left to issue (at
    // rd_cell_reg, or at the link just read); p_*: the cell issued last clock,
    // now at the memory's output.
    reg          rd_active_reg = 0, rd_drop_reg = 0;
    reg [CW-1:0] rd_cell_reg = 0;
    reg          p_valid_reg = 0, p_drop_reg = 0;
    reg [CW-1:0] p_cell_reg = 0;
    reg [576:0]  p_cell_q;
    reg [CW-1:0] p_next_q;
    wire p_last = p_cell_q[576];
    wire rd_more = rd_active_reg && !(p_valid_reg && p_last);
    assign s_cmd_ready = !rd_more;  // the next frame's first cell follows the last at once
    wire [CW-1:0] rd_addr = rd_more ? (p_valid_reg ? p_next_q : rd_cell_reg) : s_cmd_head[CW-1:0];
    wire          rd_drop = rd_more ? rd_drop_reg : s_cmd_drop;
    wire out_full, out_empty;
    wire [2:0] out_count;
    // Issue when the output queue has room for this cell and the one in flight.
    wire rd_issue = (rd_more || s_cmd_valid) && ({1'b0, out_count} + {3'd0, p_valid_reg} < 4'd4 || rd_drop);
    ts_fifo #(.WIDTH(577), .DEPTH_LOG2(2)) out_fifo (
        .clk(clk), .rst(rst), .push(p_valid_reg && !p_drop_reg), .push_data(p_cell_q),
        .pop(m_axis_tvalid && m_axis_tready), .head({m_axis_tlast, m_axis_tkeep, m_axis_tdata}),
        .empty(out_empty), .full(out_full), .count(out_count));
    assign m_axis_tuser = 1'b0;
    assign m_axis_tvalid = !out_empty;
    assign busy = rd_active_reg || p_valid_reg || !out_empty || s_cmd_valid || in_frame_reg;

    always @(posedge clk) begin
        if (alloc) begin
            c_mem[wr_cell] <= {s_axis_tlast, s_axis_tkeep, s_axis_tdata};
            if (!first) c_next[in_prev_reg] <= wr_cell;
        end
        if (rd_issue) begin
            p_cell_q <= c_mem[rd_addr];
            p_next_q <= c_next[rd_addr];
        end
    end

    always @(posedge clk) begin
        if (in_fire) begin
            in_frame_reg <= !s_axis_tlast;
            in_nobuf_reg <= nobuf;
            if (first) in_head_reg <= wr_cell;
            if (first && nobuf) stat_nobuf_reg <= stat_nobuf_reg + 1;
        end
        if (alloc) begin
            in_prev_reg <= wr_cell;
            if (!free_empty) free_rp_reg <= free_rp_reg + 1'b1;
            else fresh_reg <= fresh_reg + 1'b1;
        end
        // A cell is free again once it has left the memory.
        if (p_valid_reg) begin
            free_mem[free_wp_reg[CW-1:0]] <= p_cell_reg;
            free_wp_reg <= free_wp_reg + 1'b1;
        end
        p_valid_reg <= rd_issue;
        if (rd_issue) begin
            p_cell_reg <= rd_addr;
            p_drop_reg <= rd_drop;
        end
        if (!rd_more && s_cmd_valid) begin
            rd_active_reg <= 1'b1;
            rd_drop_reg <= s_cmd_drop;
        end else if (!rd_more) begin
            rd_active_reg <= 1'b0;
        end
        rd_cell_reg <= rd_addr;  // the cell still to issue when this clock did not issue it
        used_reg <= used_reg + {{CW{1'b0}}, alloc} - {{CW{1'b0}}, p_valid_reg};
        if (rst) begin
            free_wp_reg <= 0;
            free_rp_reg <= 0;
            fresh_reg <= 0;
            used_reg <= 0;
            in_frame_reg <= 1'b0;
            rd_active_reg <= 1'b0;
            p_valid_reg <= 1'b0;
            stat_nobuf_reg <= 0;
        end
    end

endmodule

`resetall
