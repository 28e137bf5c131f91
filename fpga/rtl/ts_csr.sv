// Control and status registers over AXI4-Lite (register map: docs/fpga.md).
// One transaction at a time; reads of counters are 64-bit pairs (low word
// first). The verdict FIFO is read word by word and popped by a write.
`resetall
`timescale 1ns / 1ps
`default_nettype none

module ts_csr #(
    parameter integer COUNTERS = 13,  // 64-bit counters at 0x100
    parameter [31:0]  CAPS0 = 0,      // hardware bounds, read-only at 0x038/0x03C
    parameter [31:0]  CAPS1 = 0
) (
    input  wire         clk,
    input  wire         rst,
    input  wire [11:0]  s_axil_awaddr,
    input  wire         s_axil_awvalid,
    output wire         s_axil_awready,
    input  wire [31:0]  s_axil_wdata,
    input  wire [3:0]   s_axil_wstrb,
    input  wire         s_axil_wvalid,
    output wire         s_axil_wready,
    output wire [1:0]   s_axil_bresp,
    output reg          s_axil_bvalid_reg,
    input  wire         s_axil_bready,
    input  wire [11:0]  s_axil_araddr,
    input  wire         s_axil_arvalid,
    output wire         s_axil_arready,
    output reg  [31:0]  s_axil_rdata_reg,
    output wire [1:0]   s_axil_rresp,
    output reg          s_axil_rvalid_reg,
    input  wire         s_axil_rready,
    output reg          ctrl_enable_reg,
    output reg          ctrl_host_time_reg,  // time only moves when the host writes it
    output reg  [1:0]   ctrl_mode_reg,       // 1 primary, 2 secondary, 3 solo
    output reg          cmd_release_all_reg, // one-clock pulses
    output reg          cmd_sweep_reg,
    output reg          cmd_reset_reg,
    output reg  [63:0]  time_ns_reg,         // free-running at 4 ns a clock; writes set it
    output reg  [63:0]  timeout_ns_reg,
    output reg  [31:0]  max_held_reg,
    output reg  [31:0]  max_records_reg,
    output reg  [31:0]  max_flows_reg,
    output reg  [31:0]  seq_flows_reg,
    input  wire         status_busy,
    input  wire [64*COUNTERS-1:0] counters,
    input  wire         vd_valid,
    input  wire [339:0] vd_data,
    input  wire [5:0]   vd_count,
    output reg          vd_pop_reg
);
    initial begin
        if (COUNTERS < 1 || COUNTERS > 32) begin
            $error("ts_csr: COUNTERS must be 1..32");
            $finish;
        end
    end

    localparam [31:0] ID = 32'h54575354;  // "TWST"
    localparam [31:0] VERSION = 32'h00010000;

    // Writes: take address and data together.
    assign s_axil_awready = s_axil_awvalid && s_axil_wvalid && !s_axil_bvalid_reg;
    assign s_axil_wready = s_axil_awready;
    assign s_axil_bresp = 2'b00;
    assign s_axil_arready = s_axil_arvalid && !s_axil_rvalid_reg;
    assign s_axil_rresp = 2'b00;

    wire [383:0] vd_words = {44'd0, vd_data};

    always @(posedge clk) begin : p_csr
        reg [31:0] rd;
        cmd_release_all_reg <= 1'b0;
        cmd_sweep_reg <= 1'b0;
        cmd_reset_reg <= 1'b0;
        vd_pop_reg <= 1'b0;
        if (!ctrl_host_time_reg) time_ns_reg <= time_ns_reg + 64'd4;
        if (s_axil_bvalid_reg && s_axil_bready) s_axil_bvalid_reg <= 1'b0;
        if (s_axil_awready) begin
            s_axil_bvalid_reg <= 1'b1;
            case (s_axil_awaddr[11:2])
                10'h002: begin
                    ctrl_enable_reg <= s_axil_wdata[0];
                    ctrl_mode_reg <= s_axil_wdata[2:1];
                    ctrl_host_time_reg <= s_axil_wdata[3];
                end
                10'h003: begin
                    cmd_release_all_reg <= s_axil_wdata[0];
                    cmd_sweep_reg <= s_axil_wdata[1];
                    cmd_reset_reg <= s_axil_wdata[2];
                end
                10'h006: time_ns_reg[31:0] <= s_axil_wdata;
                10'h007: time_ns_reg[63:32] <= s_axil_wdata;
                10'h008: timeout_ns_reg[31:0] <= s_axil_wdata;
                10'h009: timeout_ns_reg[63:32] <= s_axil_wdata;
                10'h00A: max_held_reg <= s_axil_wdata;
                10'h00B: max_records_reg <= s_axil_wdata;
                10'h00C: max_flows_reg <= s_axil_wdata;
                10'h00D: seq_flows_reg <= s_axil_wdata;
                10'h081: vd_pop_reg <= 1'b1;
                default: ;
            endcase
        end
        if (s_axil_rvalid_reg && s_axil_rready) s_axil_rvalid_reg <= 1'b0;
        if (s_axil_arready) begin
            rd = 32'd0;
            case (s_axil_araddr[11:2])
                10'h000: rd = ID;
                10'h001: rd = VERSION;
                10'h002: rd = {28'd0, ctrl_host_time_reg, ctrl_mode_reg, ctrl_enable_reg};
                10'h004: rd = {31'd0, status_busy};
                10'h006: rd = time_ns_reg[31:0];
                10'h007: rd = time_ns_reg[63:32];
                10'h008: rd = timeout_ns_reg[31:0];
                10'h009: rd = timeout_ns_reg[63:32];
                10'h00A: rd = max_held_reg;
                10'h00B: rd = max_records_reg;
                10'h00C: rd = max_flows_reg;
                10'h00D: rd = seq_flows_reg;
                10'h00E: rd = CAPS0;
                10'h00F: rd = CAPS1;
                10'h080: rd = {25'd0, vd_valid, vd_count};
                default: begin
                    if (s_axil_araddr[11:8] == 4'h1 && s_axil_araddr[7:3] < COUNTERS)
                        rd = counters[s_axil_araddr[7:2] * 32 +: 32];
                    if (s_axil_araddr[11:6] == 6'd9 && s_axil_araddr[5:2] < 4'd12)
                        rd = vd_words[s_axil_araddr[5:2] * 32 +: 32];
                end
            endcase
            s_axil_rdata_reg <= rd;
            s_axil_rvalid_reg <= 1'b1;
        end
        if (rst) begin
            s_axil_bvalid_reg <= 1'b0;
            s_axil_rvalid_reg <= 1'b0;
            ctrl_enable_reg <= 1'b0;
            ctrl_host_time_reg <= 1'b0;
            ctrl_mode_reg <= 2'd1;
            time_ns_reg <= 64'd0;
            timeout_ns_reg <= 64'd1000000;
            max_held_reg <= 32'd0;
            max_records_reg <= 32'd0;
            max_flows_reg <= 32'd0;
            seq_flows_reg <= 32'd0;
        end
    end

endmodule

`resetall
