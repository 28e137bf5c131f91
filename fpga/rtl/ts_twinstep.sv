// twinstep user box for an OpenNIC-style shell (docs/fpga.md): input mirror,
// output digest, packet buffer, compare-and-release and CSRs. 512-bit
// AXI-Stream at 250 MHz; records in and out are one 256-bit beat each:
// {digest[63:0], length[31:0], out_seq[63:0], flow[63:0]} (flow in bits 63:0).
`resetall
`timescale 1ns / 1ps
`default_nettype none

module ts_twinstep #(
    parameter integer HDR_BEATS = 4,        // digest header window (ts_hdr_parse)
    parameter integer SEQ_FLOWS = 256,      // flows the digester tracks
    parameter integer FLOWS = 256,          // comparator flow table
    parameter integer EVENTS = 1024,        // held events
    parameter integer RECORDS = 1024,       // pending records
    parameter integer CELLS_LOG2 = 11,      // packet buffer, 64-byte cells
    parameter integer MAX_FRAME_CELLS = 142 // cells one frame may take (9018 bytes)
) (
    input  wire         clk,
    input  wire         rst,
    // AXI4-Lite CSRs
    input  wire [11:0]  s_axil_awaddr,
    input  wire         s_axil_awvalid,
    output wire         s_axil_awready,
    input  wire [31:0]  s_axil_wdata,
    input  wire [3:0]   s_axil_wstrb,
    input  wire         s_axil_wvalid,
    output wire         s_axil_wready,
    output wire [1:0]   s_axil_bresp,
    output wire         s_axil_bvalid,
    input  wire         s_axil_bready,
    input  wire [11:0]  s_axil_araddr,
    input  wire         s_axil_arvalid,
    output wire         s_axil_arready,
    output wire [31:0]  s_axil_rdata,
    output wire [1:0]   s_axil_rresp,
    output wire         s_axil_rvalid,
    input  wire         s_axil_rready,
    // client RX -> host and sync port (mirror)
    input  wire [511:0] s_axis_rx_tdata,
    input  wire [63:0]  s_axis_rx_tkeep,
    input  wire         s_axis_rx_tvalid,
    output wire         s_axis_rx_tready,
    input  wire         s_axis_rx_tlast,
    input  wire         s_axis_rx_tuser,
    output wire [511:0] m_axis_host_tdata,
    output wire [63:0]  m_axis_host_tkeep,
    output wire         m_axis_host_tvalid,
    input  wire         m_axis_host_tready,
    output wire         m_axis_host_tlast,
    output wire [64:0]  m_axis_host_tuser,
    output wire [511:0] m_axis_sync_tdata,
    output wire [63:0]  m_axis_sync_tkeep,
    output wire         m_axis_sync_tvalid,
    input  wire         m_axis_sync_tready,
    output wire         m_axis_sync_tlast,
    output wire [64:0]  m_axis_sync_tuser,
    // guest output frames (from the host) -> client TX once released
    input  wire [511:0] s_axis_out_tdata,
    input  wire [63:0]  s_axis_out_tkeep,
    input  wire         s_axis_out_tvalid,
    output wire         s_axis_out_tready,
    input  wire         s_axis_out_tlast,
    input  wire [31:0]  s_axis_out_tuser,   // event id, named in verdicts
    output wire [511:0] m_axis_tx_tdata,
    output wire [63:0]  m_axis_tx_tkeep,
    output wire         m_axis_tx_tvalid,
    input  wire         m_axis_tx_tready,
    output wire         m_axis_tx_tlast,
    output wire         m_axis_tx_tuser,
    // secondary's records in (primary) and own records out (secondary)
    input  wire [255:0] s_axis_rec_tdata,
    input  wire [31:0]  s_axis_rec_tkeep,
    input  wire         s_axis_rec_tvalid,
    output wire         s_axis_rec_tready,
    input  wire         s_axis_rec_tlast,
    input  wire         s_axis_rec_tuser,
    output wire [255:0] m_axis_rec_tdata,
    output wire [31:0]  m_axis_rec_tkeep,
    output wire         m_axis_rec_tvalid,
    input  wire         m_axis_rec_tready,
    output wire         m_axis_rec_tlast,
    output wire         m_axis_rec_tuser,
    // verdicts toward the host (the CSR event FIFO holds the same ones)
    output wire [383:0] m_axis_vd_tdata,
    output wire [47:0]  m_axis_vd_tkeep,
    output wire         m_axis_vd_tvalid,
    input  wire         m_axis_vd_tready,
    output wire         m_axis_vd_tlast,
    output wire         m_axis_vd_tuser,
    output wire         busy
);
    initial begin
        if (EVENTS > 32768 || RECORDS > 32768 || FLOWS > 32768 || SEQ_FLOWS > 32768 || CELLS_LOG2 > 15) begin
            $error("ts_twinstep: bounds above 32768 (2^15 cells) do not fit the registers and descriptors");
            $finish;
        end
    end

    wire enable, cmd_release_all, cmd_sweep, cmd_reset, csr_busy;
    wire [1:0] mode;
    wire [63:0] now_ns, timeout_ns;
    wire [31:0] max_held, max_records, max_flows, seq_flows;
    wire primary = mode == 2'd1, secondary = mode == 2'd2, solo = mode == 2'd3;
    reg  srst_reg = 1'b1;
    always @(posedge clk) srst_reg <= rst || cmd_reset;
    wire srst = srst_reg;

    // ---- Mirror ----
    wire [63:0] c_mirrored;
    ts_mirror #(.DATA_WIDTH(512)) mirror (
        .clk(clk), .rst(srst), .enable(enable),
        .s_axis_tdata(s_axis_rx_tdata), .s_axis_tkeep(s_axis_rx_tkeep), .s_axis_tvalid(s_axis_rx_tvalid),
        .s_axis_tready(s_axis_rx_tready), .s_axis_tlast(s_axis_rx_tlast), .s_axis_tuser(s_axis_rx_tuser),
        .m_axis_host_tdata(m_axis_host_tdata), .m_axis_host_tkeep(m_axis_host_tkeep),
        .m_axis_host_tvalid(m_axis_host_tvalid), .m_axis_host_tready(m_axis_host_tready),
        .m_axis_host_tlast(m_axis_host_tlast), .m_axis_host_tuser(m_axis_host_tuser),
        .m_axis_sync_tdata(m_axis_sync_tdata), .m_axis_sync_tkeep(m_axis_sync_tkeep),
        .m_axis_sync_tvalid(m_axis_sync_tvalid), .m_axis_sync_tready(m_axis_sync_tready),
        .m_axis_sync_tlast(m_axis_sync_tlast), .m_axis_sync_tuser(m_axis_sync_tuser),
        .stat_packets_reg(c_mirrored));

    // ---- Output frames: to the digest and (unless secondary) the packet buffer ----
    wire dig_ready, buf_ready;
    wire use_buf = !secondary;
    wire out_ok = enable && dig_ready && (buf_ready || !use_buf) && id_ready;
    assign s_axis_out_tready = out_ok;
    wire out_fire = s_axis_out_tvalid && out_ok;

    // Event ids travel beside the digest in their own queue.
    wire id_full, id_empty;
    wire id_ready = !id_full;
    wire [31:0] id_head;
    wire ev_take;

    wire        dig_valid, dig_beyond;
    wire [63:0] dig_flow, dig_digest;
    wire [31:0] dig_out_seq, c_seq_resets;
    wire [16:0] dig_len;
    reg  [31:0] c_beyond_reg;
    wire dig_take;
    ts_digest #(.HDR_BEATS(HDR_BEATS), .SEQ_FLOWS(SEQ_FLOWS)) digest (
        .clk(clk), .rst(srst),
        .s_axis_tdata(s_axis_out_tdata), .s_axis_tkeep(s_axis_out_tkeep),
        .s_axis_tvalid(s_axis_out_tvalid && enable && (buf_ready || !use_buf) && id_ready),
        .s_axis_tready(dig_ready), .s_axis_tlast(s_axis_out_tlast), .s_axis_tuser(1'b0),
        .cfg_seq_flows(seq_flows),
        .m_dig_valid(dig_valid), .m_dig_ready(dig_take), .m_dig_flow(dig_flow), .m_dig_out_seq(dig_out_seq),
        .m_dig_len(dig_len), .m_dig_digest(dig_digest), .m_dig_beyond(dig_beyond),
        .stat_seq_resets(c_seq_resets));
    ts_fifo #(.WIDTH(32), .DEPTH_LOG2(5)) id_fifo (
        .clk(clk), .rst(srst), .push(out_fire && s_axis_out_tlast), .push_data(s_axis_out_tuser),
        .pop(dig_take), .head(id_head), .empty(id_empty), .full(id_full), .count());

    wire        desc_valid, desc_nobuf;
    wire [15:0] desc_head;
    wire        cmd_valid, cmd_ready, cmd_drop;
    wire [15:0] cmd_head;
    wire        buf_busy;
    wire [31:0] c_nobuf;
    ts_pktbuf #(.CELLS_LOG2(CELLS_LOG2), .MAX_FRAME_CELLS(MAX_FRAME_CELLS)) pktbuf (
        .clk(clk), .rst(srst),
        .s_axis_tdata(s_axis_out_tdata), .s_axis_tkeep(s_axis_out_tkeep),
        .s_axis_tvalid(s_axis_out_tvalid && enable && use_buf && dig_ready && id_ready),
        .s_axis_tready(buf_ready), .s_axis_tlast(s_axis_out_tlast),
        .m_desc_valid(desc_valid), .m_desc_ready(dig_take && use_buf), .m_desc_head(desc_head),
        .m_desc_nobuf(desc_nobuf),
        .s_cmd_valid(cmd_valid), .s_cmd_ready(cmd_ready), .s_cmd_head(cmd_head), .s_cmd_drop(cmd_drop),
        .m_axis_tdata(m_axis_tx_tdata), .m_axis_tkeep(m_axis_tx_tkeep), .m_axis_tvalid(m_axis_tx_tvalid),
        .m_axis_tready(m_axis_tx_tready), .m_axis_tlast(m_axis_tx_tlast), .m_axis_tuser(m_axis_tx_tuser),
        .busy(buf_busy), .stat_nobuf_reg(c_nobuf));

    // Secondary: digests leave as records. Primary and solo: they go to the comparator.
    wire ev_ready;
    assign dig_take = dig_valid && !id_empty &&
                      (secondary ? m_axis_rec_tready : (desc_valid && ev_ready));
    assign m_axis_rec_tvalid = secondary && dig_valid && !id_empty;
    assign m_axis_rec_tdata = {dig_digest, 15'd0, dig_len, 32'd0, dig_out_seq, dig_flow};
    assign m_axis_rec_tkeep = {32{1'b1}};
    assign m_axis_rec_tlast = 1'b1;
    assign m_axis_rec_tuser = 1'b0;
    always @(posedge clk) begin
        if (dig_take && dig_beyond) c_beyond_reg <= c_beyond_reg + 1;
        if (srst) c_beyond_reg <= 0;
    end

    // ---- Compare and release ----
    wire         vd_valid, vd_ready;
    wire [339:0] vd_data;
    wire         cmp_busy;
    wire [64*9-1:0] cmp_counters;
    ts_compare #(.FLOWS(FLOWS), .EVENTS(EVENTS), .RECORDS(RECORDS)) compare (
        .clk(clk), .rst(srst), .cfg_solo(solo), .cfg_timeout_ns(timeout_ns),
        .cfg_max_held(max_held), .cfg_max_records(max_records), .cfg_max_flows(max_flows),
        .now_ns(now_ns), .cmd_release_all(cmd_release_all), .cmd_sweep(cmd_sweep),
        .ev_valid(!secondary && dig_valid && !id_empty && desc_valid), .ev_ready(ev_ready),
        .ev_flow(dig_flow), .ev_out_seq({32'd0, dig_out_seq}), .ev_len({15'd0, dig_len}), .ev_digest(dig_digest),
        .ev_id(id_head), .ev_buf(desc_nobuf ? 16'hFFFF : desc_head), .ev_nobuf(desc_nobuf),
        .rec_valid(primary && enable && s_axis_rec_tvalid), .rec_ready(rec_ready),
        .rec_flow(s_axis_rec_tdata[63:0]), .rec_out_seq(s_axis_rec_tdata[127:64]),
        .rec_len(s_axis_rec_tdata[159:128]), .rec_digest(s_axis_rec_tdata[255:192]),
        .m_vd_valid(vd_valid), .m_vd_ready(vd_ready), .m_vd_data(vd_data),
        .busy(cmp_busy), .stat_counters(cmp_counters));
    wire rec_ready;
    assign s_axis_rec_tready = rec_ready || !primary;  // records are dropped outside primary mode

    // Each verdict goes to the host and, when it names a held frame's fate, to the packet buffer.
    wire vd_has_event = vd_data[336];
    wire [2:0] vd_kind = vd_data[339:337];
    // A frame the buffer could not take has descriptor 0xFFFF: nothing to send or free.
    wire vd_to_buf = vd_has_event && (vd_kind == 3'd1 || vd_kind == 3'd4) && vd_data[303:288] != 16'hFFFF;
    wire host_ready;
    assign cmd_valid = vd_valid && vd_to_buf && host_ready;
    assign cmd_head = vd_data[303:288];
    assign cmd_drop = vd_kind == 3'd4;
    assign vd_ready = host_ready && (!vd_to_buf || cmd_ready);

    // Host verdict queue: streamed out and readable through the CSRs.
    wire [339:0] hv_head;
    wire hv_empty, hv_full, hv_pop_csr;
    wire [6:0] hv_count;
    assign host_ready = !hv_full;
    ts_fifo #(.WIDTH(340), .DEPTH_LOG2(6)) host_vd (
        .clk(clk), .rst(srst), .push(vd_valid && vd_ready), .push_data(vd_data),
        .pop(hv_pop_csr || (m_axis_vd_tvalid && m_axis_vd_tready)),
        .head(hv_head), .empty(hv_empty), .full(hv_full), .count(hv_count));
    assign m_axis_vd_tdata = {44'd0, hv_head};
    assign m_axis_vd_tkeep = {48{1'b1}};
    assign m_axis_vd_tvalid = !hv_empty;
    assign m_axis_vd_tlast = 1'b1;
    assign m_axis_vd_tuser = 1'b0;

    wire dig_busy = s_axis_out_tvalid || digest_busy_int;
    wire digest_busy_int = dig_valid || !id_empty;
    assign busy = dig_busy || buf_busy || cmp_busy || !hv_empty || srst;

    ts_csr #(
        .COUNTERS(13),
        .CAPS0({EVENTS[15:0], RECORDS[15:0]}),
        .CAPS1({FLOWS[15:0], SEQ_FLOWS[15:0]})
    ) csr (
        .clk(clk), .rst(rst),
        .s_axil_awaddr(s_axil_awaddr), .s_axil_awvalid(s_axil_awvalid), .s_axil_awready(s_axil_awready),
        .s_axil_wdata(s_axil_wdata), .s_axil_wstrb(s_axil_wstrb), .s_axil_wvalid(s_axil_wvalid),
        .s_axil_wready(s_axil_wready), .s_axil_bresp(s_axil_bresp), .s_axil_bvalid_reg(s_axil_bvalid),
        .s_axil_bready(s_axil_bready), .s_axil_araddr(s_axil_araddr), .s_axil_arvalid(s_axil_arvalid),
        .s_axil_arready(s_axil_arready), .s_axil_rdata_reg(s_axil_rdata), .s_axil_rresp(s_axil_rresp),
        .s_axil_rvalid_reg(s_axil_rvalid), .s_axil_rready(s_axil_rready),
        .ctrl_enable_reg(enable), .ctrl_host_time_reg(), .ctrl_mode_reg(mode), .cmd_release_all_reg(cmd_release_all),
        .cmd_sweep_reg(cmd_sweep), .cmd_reset_reg(cmd_reset), .time_ns_reg(now_ns),
        .timeout_ns_reg(timeout_ns), .max_held_reg(max_held), .max_records_reg(max_records),
        .max_flows_reg(max_flows), .seq_flows_reg(seq_flows), .status_busy(busy),
        .counters({{32'd0, c_nobuf}, {32'd0, c_seq_resets}, {32'd0, c_beyond_reg}, c_mirrored, cmp_counters}),
        .vd_valid(!hv_empty), .vd_data(hv_head), .vd_count(hv_count[5:0]), .vd_pop_reg(hv_pop_csr));

endmodule

`resetall
