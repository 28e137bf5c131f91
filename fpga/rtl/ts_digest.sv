// Digest unit (docs/digest.md): for every output frame, its flow id, per-flow
// output sequence, length and the CRC-64/XZ of the normalized frame. Frames
// are parsed from their header window when their last beat has arrived, then
// the beats, queued meanwhile, are normalized and CRC'd at one beat per clock.
`resetall
`timescale 1ns / 1ps
`default_nettype none

module ts_digest #(
    parameter integer HDR_BEATS = 4,        // header window, 64-byte beats (ts_hdr_parse)
    parameter integer DATA_DEPTH_LOG2 = 8,  // queued beats: one jumbo frame plus the pipeline
    parameter integer SEQ_FLOWS = 256       // flows the digester tracks (ts_seq_table)
) (
    input  wire         clk,
    input  wire         rst,
    input  wire [511:0] s_axis_tdata,
    input  wire [63:0]  s_axis_tkeep,   // contiguous from bit 0
    input  wire         s_axis_tvalid,
    output wire         s_axis_tready,
    input  wire         s_axis_tlast,
    input  wire         s_axis_tuser,   // unused (error flag of the shell)
    input  wire [31:0]  cfg_seq_flows,  // digester capacity (0: SEQ_FLOWS)
    output wire         m_dig_valid,
    input  wire         m_dig_ready,
    output wire [63:0]  m_dig_flow,
    output wire [31:0]  m_dig_out_seq,
    output wire [16:0]  m_dig_len,
    output wire [63:0]  m_dig_digest,
    output wire         m_dig_beyond,   // normalization needed bytes past the header window
    output wire [31:0]  stat_seq_resets
);
    initial begin
        if (DATA_DEPTH_LOG2 < 8) begin
            $error("ts_digest: DATA_DEPTH_LOG2 must be >= 8 (a 9018-byte frame is 141 beats)");
            $finish;
        end
    end
    localparam integer HB = HDR_BEATS * 512;
    // Frames between input and CRC: the pipeline's depth (the parser alone is
    // 17 stages) and slack; 32 rows cost the same LUTRAM as 16.
    localparam integer JOB_DEPTH_LOG2 = 5;
    localparam integer RES_DEPTH_LOG2 = 3;
`include "ts_crc64_masks.svh"

    function automatic [6:0] keep_bytes(input [63:0] keep);
        integer k;
        begin
            keep_bytes = 7'd0;
            for (k = 0; k < 64; k = k + 1) if (keep[k]) keep_bytes = k[6:0] + 7'd1;
        end
    endfunction

    // ---- Input: queue beats, capture the header window ----
    wire data_full;
    wire [DATA_DEPTH_LOG2:0] data_count;
    reg  [JOB_DEPTH_LOG2:0] jobs_out_reg = 0;  // frames past the input not yet CRC'd
    reg  [HB-1:0] hdr_reg = 0;
    reg  [7:0]  beat_reg = 0;
    reg  [16:0] len_reg = 0;
    wire [6:0]  in_nb = keep_bytes(s_axis_tkeep);
    // Bytes past the frame's end are zeroed; per-byte compares with constants
    // instead of a shifted mask (a wide shift Yosys is slow to map).
    reg  [511:0] in_data;
    always @* begin : p_in_mask
        integer k;
        for (k = 0; k < 64; k = k + 1) in_data[8*k +: 8] = (k < in_nb) ? s_axis_tdata[8*k +: 8] : 8'd0;
    end
    wire jobs_ok = jobs_out_reg < (1 << JOB_DEPTH_LOG2);
    assign s_axis_tready = !data_full && jobs_ok;
    wire in_fire = s_axis_tvalid && s_axis_tready;
    wire [16:0] len_next = (len_reg > 17'h1FFBF) ? 17'h1FFFF : len_reg + {10'd0, in_nb};
    reg  [HB-1:0] hdr_next;  // the beat lands in its slot of the window (a select, not a shift)
    always @* begin : p_hdr
        integer b;
        hdr_next = hdr_reg;
        for (b = 0; b < HDR_BEATS; b = b + 1) if (beat_reg == b) hdr_next[b*512 +: 512] = in_data;
    end

    reg          job0_valid_reg = 0;
    reg [HB-1:0] job0_hdr_reg;
    reg [16:0]   job0_len_reg;
    always @(posedge clk) begin
        job0_valid_reg <= in_fire && s_axis_tlast;
        if (in_fire) begin
            if (s_axis_tlast) begin
                job0_hdr_reg <= hdr_next;
                job0_len_reg <= len_next;
                hdr_reg <= 0;
                beat_reg <= 0;
                len_reg <= 0;
            end else begin
                hdr_reg <= hdr_next;
                beat_reg <= (beat_reg == 8'hFF) ? beat_reg : beat_reg + 8'd1;
                len_reg <= len_next;
            end
        end
        if (rst) begin
            job0_valid_reg <= 1'b0;
            hdr_reg <= 0;
            beat_reg <= 0;
            len_reg <= 0;
        end
    end

    // ---- Parse ----
    wire         p_valid;
    wire [511:0] p_key;
    wire [6:0]   p_key_len;
    wire [63:0]  p_zoff;
    wire [15:0]  p_zlen;
    wire         p_lbl, p_tcp, p_beyond;
    wire [15:0]  p_lbl_off, p_seq_off;
    wire [7:0]   p_flags;
    wire [31:0]  p_seq, p_ack;
    wire [16:0]  p_len;
    ts_hdr_parse #(.HDR_BEATS(HDR_BEATS)) parse (
        .clk(clk), .rst(rst), .in_valid(job0_valid_reg), .in_hdr(job0_hdr_reg), .in_len(job0_len_reg),
        .out_valid_reg(p_valid), .out_len_reg(p_len), .out_key_reg(p_key), .out_key_len_reg(p_key_len),
        .out_zoff_reg(p_zoff), .out_zlen_reg(p_zlen), .out_lbl_reg(p_lbl), .out_lbl_off_reg(p_lbl_off),
        .out_tcp_reg(p_tcp), .out_tcp_flags_reg(p_flags), .out_tcp_seq_reg(p_seq), .out_tcp_ack_reg(p_ack),
        .out_tcp_seq_off_reg(p_seq_off), .out_beyond_reg(p_beyond));

    // ---- Flow id: CRC-64/XZ of the right-aligned key (leading zeros leave a
    // zero register unchanged; the initial value's share is a table lookup) ----
    wire [63:0] key_raw;
    ts_crc64_beat key_crc (.state(64'd0), .data(p_key), .next(key_raw));
    reg  [63:0] init_share;  // the initial value's share for the key length (a 65-entry table)
    always @* begin : p_init_share
        integer k;
        init_share = 64'd0;
        for (k = 0; k <= 64; k = k + 1) if (p_key_len == k) init_share = TS_CRC64_INIT_ZEROS[k*64 +: 64];
    end
    reg         k_valid_reg = 0;
    reg  [63:0] k_flow_reg;
    reg  [16:0] k_len_reg;
    reg  [63:0] k_zoff_reg;
    reg  [15:0] k_zlen_reg, k_lbl_off_reg, k_seq_off_reg;
    reg         k_lbl_reg, k_tcp_reg, k_beyond_reg;
    reg  [7:0]  k_flags_reg;
    reg  [31:0] k_seq_reg, k_ack_reg;
    always @(posedge clk) begin
        k_valid_reg <= p_valid && !rst;
        k_flow_reg <= key_raw ^ init_share ^ 64'hFFFFFFFFFFFFFFFF;
        k_len_reg <= p_len;
        k_zoff_reg <= p_zoff;
        k_zlen_reg <= p_zlen;
        k_lbl_reg <= p_lbl;
        k_lbl_off_reg <= p_lbl_off;
        k_tcp_reg <= p_tcp;
        k_flags_reg <= p_flags;
        k_seq_reg <= p_seq;
        k_ack_reg <= p_ack;
        k_seq_off_reg <= p_seq_off;
        k_beyond_reg <= p_beyond;
    end

    // ---- Per-flow output sequence and TCP relative numbers ----
    wire        s_valid;
    wire [31:0] s_out_seq, s_rel_seq, s_rel_ack;
    ts_seq_table #(.FLOWS(SEQ_FLOWS)) seq_table (
        .clk(clk), .rst(rst), .cfg_capacity(cfg_seq_flows),
        .in_valid(k_valid_reg), .in_flow(k_flow_reg), .in_tcp(k_tcp_reg), .in_flags(k_flags_reg),
        .in_seq(k_seq_reg), .in_ack(k_ack_reg),
        .out_valid_reg(s_valid), .out_seq_no_reg(s_out_seq), .out_rel_seq_reg(s_rel_seq),
        .out_rel_ack_reg(s_rel_ack), .stat_resets_reg(stat_seq_resets));
    reg  [63:0] s_flow_reg;
    reg  [16:0] s_len_reg;
    reg  [63:0] s_zoff_reg;
    reg  [15:0] s_zlen_reg, s_lbl_off_reg, s_seq_off_reg;
    reg         s_lbl_reg, s_tcp_reg, s_beyond_reg;
    // The frame's other fields wait beside the table's two stages.
    localparam integer KW = 64 + 17 + 64 + 16 + 1 + 16 + 1 + 16 + 1;
    reg  [KW-1:0] k2_reg;
    always @(posedge clk) begin
        k2_reg <= {k_flow_reg, k_len_reg, k_zoff_reg, k_zlen_reg, k_lbl_reg, k_lbl_off_reg, k_tcp_reg,
                   k_seq_off_reg, k_beyond_reg};
        {s_flow_reg, s_len_reg, s_zoff_reg, s_zlen_reg, s_lbl_reg, s_lbl_off_reg, s_tcp_reg, s_seq_off_reg,
         s_beyond_reg} <= k2_reg;
    end

    // ---- Job queue: what the CRC stage needs per frame ----
    localparam integer JW = 64 + 32 + 17 + 64 + 16 + 1 + 16 + 1 + 16 + 64 + 1;
    wire [JW-1:0] job_in = {s_flow_reg, s_out_seq, s_len_reg, s_zoff_reg, s_zlen_reg, s_lbl_reg, s_lbl_off_reg,
                            s_tcp_reg, s_seq_off_reg, s_rel_seq, s_rel_ack, s_beyond_reg};
    wire [JW-1:0] job;
    wire job_empty;
    wire crc_last_fire;
    ts_fifo #(.WIDTH(JW), .DEPTH_LOG2(JOB_DEPTH_LOG2)) job_fifo (
        .clk(clk), .rst(rst), .push(s_valid), .push_data(job_in), .pop(crc_last_fire),
        .head(job), .empty(job_empty), .full(), .count());
    wire [63:0] j_flow, j_zoff, j_seqack;
    wire [31:0] j_out_seq;
    wire [16:0] j_len;
    wire [15:0] j_zlen, j_lbl_off, j_seq_off;
    wire j_lbl, j_tcp, j_beyond;
    assign {j_flow, j_out_seq, j_len, j_zoff, j_zlen, j_lbl, j_lbl_off, j_tcp, j_seq_off, j_seqack, j_beyond} = job;

    // ---- Beat queue ----
    wire [519:0] beat;
    wire beat_empty;
    wire crc_fire;
    ts_fifo_bram #(.WIDTH(520), .DEPTH_LOG2(DATA_DEPTH_LOG2)) data_fifo (  // block RAM
        .clk(clk), .rst(rst), .push(in_fire), .push_data({s_axis_tlast, in_nb, in_data}), .pop(crc_fire),
        .head(beat), .empty(beat_empty), .full(data_full), .count(data_count));
    wire        b_last = beat[519];
    wire [6:0]  b_nb = beat[518:512];
    wire [511:0] b_data = beat[511:0];

    // ---- Normalize and CRC, one beat per clock ----
    reg [4:0]  res_out_reg = 0;  // results in the finishing stages or queued
    reg [15:0] crc_beat_reg = 0;
    reg [63:0] crc_state_reg = 64'hFFFFFFFFFFFFFFFF;
    assign crc_fire = !job_empty && !beat_empty && (!b_last || res_out_reg < (5'd1 << RES_DEPTH_LOG2));
    assign crc_last_fire = crc_fire && b_last;

    reg [511:0] norm;
    always @* begin : p_norm
        integer i, z;
        reg [15:0] pos;
        reg [7:0] byte_;
        reg [15:0] rel;
        for (i = 0; i < 64; i = i + 1) begin
            pos = {crc_beat_reg[9:0], 6'd0} + i[15:0];
            byte_ = b_data[8*i +: 8];
            for (z = 0; z < 4; z = z + 1) begin
                rel = pos - j_zoff[16*z +: 16];
                if ({12'd0, j_zlen[4*z +: 4]} > rel) byte_ = 8'd0;
            end
            if (j_lbl && pos == j_lbl_off) byte_ = byte_ & 8'hF0;
            if (j_lbl && (pos == j_lbl_off + 16'd1 || pos == j_lbl_off + 16'd2)) byte_ = 8'd0;
            rel = pos - j_seq_off;
            if (j_tcp && rel < 16'd8) byte_ = j_seqack[8*(7 - rel[2:0]) +: 8];
            norm[8*i +: 8] = byte_;
        end
    end

    wire [6:0]   last_pad = 7'd64 - b_nb;  // the last beat moves up by this many bytes
    wire [511:0] crc_in = !b_last ? norm : last_pad[6] ? 512'd0 : (norm << {last_pad[5:0], 3'b000});
    // Stage N registers the normalized, placed beat and the frame's fields;
    // stage C folds it into the CRC register (normalizing, placing and
    // folding in one clock were the design's longest path).
    reg         n_valid_reg = 0, n_last_reg = 0, n_beyond_reg;
    reg [511:0] n_data_reg;
    reg [6:0]   n_nb_reg;
    reg [63:0]  n_flow_reg;
    reg [31:0]  n_out_seq_reg;
    reg [16:0]  n_len_reg;
    always @(posedge clk) begin
        n_valid_reg <= crc_fire && !rst;
        n_last_reg <= b_last;
        n_data_reg <= crc_in;
        n_nb_reg <= b_nb;
        n_flow_reg <= j_flow;
        n_out_seq_reg <= j_out_seq;
        n_len_reg <= j_len;
        n_beyond_reg <= j_beyond;
        if (crc_fire) crc_beat_reg <= b_last ? 16'd0 : crc_beat_reg + 16'd1;
        if (rst) crc_beat_reg <= 0;
    end

    wire [63:0] crc_out;
    ts_crc64_beat frame_crc (.state(n_last_reg ? 64'd0 : crc_state_reg), .data(n_data_reg), .next(crc_out));

    reg        f1_valid_reg = 0;
    reg [63:0] f1_raw_reg, f1_state_reg;
    reg [6:0]  f1_nb_reg;
    reg [63:0] f1_flow_reg;
    reg [31:0] f1_out_seq_reg;
    reg [16:0] f1_len_reg;
    reg        f1_beyond_reg;
    always @(posedge clk) begin
        f1_valid_reg <= n_valid_reg && n_last_reg;
        if (n_valid_reg) begin
            if (n_last_reg) begin
                f1_raw_reg <= crc_out;
                f1_state_reg <= crc_state_reg;
                f1_nb_reg <= n_nb_reg;
                f1_flow_reg <= n_flow_reg;
                f1_out_seq_reg <= n_out_seq_reg;
                f1_len_reg <= n_len_reg;
                f1_beyond_reg <= n_beyond_reg;
                crc_state_reg <= 64'hFFFFFFFFFFFFFFFF;
            end else begin
                crc_state_reg <= crc_out;
            end
        end
        if (rst) begin
            f1_valid_reg <= 1'b0;
            crc_state_reg <= 64'hFFFFFFFFFFFFFFFF;
        end
    end

    // The last beat's share of the register: advance it through nb zero bytes
    // (two clocks); the rest of the result waits beside it.
    wire [63:0] f3_adv;
    ts_crc64_zadv zadv (.clk(clk), .state(f1_state_reg), .count(f1_nb_reg), .next_reg(f3_adv));
    localparam integer RW = 64 + 32 + 17 + 64 + 1;
    localparam integer MW = 64 + 32 + 17 + 64 + 1;  // flow, out_seq, len, raw CRC, beyond
    reg          f2_valid_reg = 0, f3_valid_reg = 0, f4_valid_reg = 0;
    reg [MW-1:0] f2_meta_reg, f3_meta_reg;
    reg [RW-1:0] f4_res_reg;
    always @(posedge clk) begin
        f2_valid_reg <= f1_valid_reg && !rst;
        f3_valid_reg <= f2_valid_reg && !rst;
        f4_valid_reg <= f3_valid_reg && !rst;
        f2_meta_reg <= {f1_flow_reg, f1_out_seq_reg, f1_len_reg, f1_raw_reg, f1_beyond_reg};
        f3_meta_reg <= f2_meta_reg;
        f4_res_reg <= {f3_meta_reg[MW-1:65], f3_meta_reg[64:1] ^ f3_adv ^ 64'hFFFFFFFFFFFFFFFF, f3_meta_reg[0]};
    end

    wire [RW-1:0] res;
    wire res_empty;
    wire res_pop = m_dig_valid && m_dig_ready;
    ts_fifo #(.WIDTH(RW), .DEPTH_LOG2(RES_DEPTH_LOG2)) res_fifo (
        .clk(clk), .rst(rst), .push(f4_valid_reg), .push_data(f4_res_reg), .pop(res_pop),
        .head(res), .empty(res_empty), .full(), .count());
    assign m_dig_valid = !res_empty;
    assign {m_dig_flow, m_dig_out_seq, m_dig_len, m_dig_digest, m_dig_beyond} = res;

    always @(posedge clk) begin
        jobs_out_reg <= jobs_out_reg + {{JOB_DEPTH_LOG2{1'b0}}, in_fire && s_axis_tlast}
                                     - {{JOB_DEPTH_LOG2{1'b0}}, crc_last_fire};
        res_out_reg <= res_out_reg + {4'd0, crc_last_fire} - {4'd0, res_pop};
        if (rst) begin
            jobs_out_reg <= 0;
            res_out_reg <= 0;
        end
    end

    wire unused = s_axis_tuser ^ ^data_count;

endmodule

`resetall
