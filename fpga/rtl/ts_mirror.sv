// Input mirror: every client packet goes both to the host (the guest's input)
// and to the sync port (the peer), each copy stamped in tuser with the
// packet's input sequence number. A beat moves only when both sides take it,
// so the two copies never differ.
`resetall
`timescale 1ns / 1ps
`default_nettype none

module ts_mirror #(
    parameter integer DATA_WIDTH = 512  // AXI-Stream data bits (multiple of 8)
) (
    input  wire                    clk,
    input  wire                    rst,
    input  wire                    enable,
    input  wire [DATA_WIDTH-1:0]   s_axis_tdata,
    input  wire [DATA_WIDTH/8-1:0] s_axis_tkeep,
    input  wire                    s_axis_tvalid,
    output wire                    s_axis_tready,
    input  wire                    s_axis_tlast,
    input  wire                    s_axis_tuser,
    output wire [DATA_WIDTH-1:0]   m_axis_host_tdata,
    output wire [DATA_WIDTH/8-1:0] m_axis_host_tkeep,
    output wire                    m_axis_host_tvalid,
    input  wire                    m_axis_host_tready,
    output wire                    m_axis_host_tlast,
    output wire [64:0]             m_axis_host_tuser,  // {error, input sequence}
    output wire [DATA_WIDTH-1:0]   m_axis_sync_tdata,
    output wire [DATA_WIDTH/8-1:0] m_axis_sync_tkeep,
    output wire                    m_axis_sync_tvalid,
    input  wire                    m_axis_sync_tready,
    output wire                    m_axis_sync_tlast,
    output wire [64:0]             m_axis_sync_tuser,
    output reg  [63:0]             stat_packets_reg
);
    initial begin
        if (DATA_WIDTH < 8 || DATA_WIDTH % 8 != 0) begin
            $error("ts_mirror: DATA_WIDTH must be a positive multiple of 8");
            $finish;
        end
    end

    reg [63:0] seq_reg = 0;
    assign s_axis_tready = enable && m_axis_host_tready && m_axis_sync_tready;
    assign m_axis_host_tvalid = enable && s_axis_tvalid && m_axis_sync_tready;
    assign m_axis_sync_tvalid = enable && s_axis_tvalid && m_axis_host_tready;
    assign m_axis_host_tdata = s_axis_tdata;
    assign m_axis_sync_tdata = s_axis_tdata;
    assign m_axis_host_tkeep = s_axis_tkeep;
    assign m_axis_sync_tkeep = s_axis_tkeep;
    assign m_axis_host_tlast = s_axis_tlast;
    assign m_axis_sync_tlast = s_axis_tlast;
    assign m_axis_host_tuser = {s_axis_tuser, seq_reg};
    assign m_axis_sync_tuser = {s_axis_tuser, seq_reg};

    always @(posedge clk) begin
        if (s_axis_tvalid && s_axis_tready && s_axis_tlast) begin
            seq_reg <= seq_reg + 1;
            stat_packets_reg <= stat_packets_reg + 1;
        end
        if (rst) begin
            seq_reg <= 0;
            stat_packets_reg <= 0;
        end
    end

endmodule

`resetall
