// Parses the header window of one output frame (docs/digest.md sections 1-2):
// flow key, normalization patches and TCP fields. One frame per clock, one
// register stage; everything it needs lies in the first HDR_BEATS beats.
`resetall
`timescale 1ns / 1ps
`default_nettype none

module ts_hdr_parse #(
    // Header window in 64-byte beats: covers Ethernet, two VLAN tags, IPv4 with
    // options and TCP with options (142 bytes), or IPv6 with extension headers
    // up to HDR_BEATS*64 - 122 bytes. Frames needing more are flagged `beyond`.
    parameter integer HDR_BEATS = 4
) (
    input  wire                      clk,
    input  wire                      rst,
    input  wire                      in_valid,
    input  wire [HDR_BEATS*512-1:0]  in_hdr,      // first bytes of the frame, zero past its end
    input  wire [16:0]               in_len,      // frame length in bytes (65536+: not parsed)
    output reg                       out_valid_reg,
    output reg  [511:0]              out_key_reg,      // flow key, right-aligned (last byte in 511:504)
    output reg  [6:0]                out_key_len_reg,  // flow key bytes, 1..43
    output reg  [4*16-1:0]           out_zoff_reg,     // up to four zeroed byte ranges: offsets
    output reg  [4*4-1:0]            out_zlen_reg,     // and lengths (0: unused)
    output reg                       out_lbl_reg,      // IPv6 flow label at out_lbl_off_reg
    output reg  [15:0]               out_lbl_off_reg,  // byte whose low nibble is zeroed; the next two are zeroed
    output reg                       out_tcp_reg,
    output reg  [7:0]                out_tcp_flags_reg,
    output reg  [31:0]               out_tcp_seq_reg,
    output reg  [31:0]               out_tcp_ack_reg,
    output reg  [15:0]               out_tcp_seq_off_reg,  // seq at this offset, ack at +4
    output reg                       out_beyond_reg    // a needed byte lay past the window
);
    localparam integer H = HDR_BEATS * 64;

    initial begin
        if (HDR_BEATS < 3 || HDR_BEATS > 8) begin
            $error("ts_hdr_parse: HDR_BEATS must be 3..8 (IPv4+TCP headers need 142 bytes)");
            $finish;
        end
    end

    // Combinational parse; `b_*` read the window (zero past it).
    reg [511:0] key;
    reg [6:0]   key_len;
    reg [63:0]  zoff;
    reg [15:0]  zlen;
    reg         lbl;
    reg [15:0]  lbl_off;
    reg         tcp;
    reg [7:0]   tcp_flags;
    reg [31:0]  tcp_seq, tcp_ack;
    reg [15:0]  tcp_seq_off;
    reg         beyond;

    reg [H*8-1:0] win_sh;   // window shifted to l4
    reg [H*8-1:0] ext_sh;   // window shifted to the current extension header
    reg [319:0]   opts;     // TCP options (40 bytes), zero past doff

    always @* begin : p_parse
        reg [16:0] off, l4, end_, total, ihl, doff, olen, p, nxt, L;
        reg [15:0] type_;
        reg [1:0]  nvlan;
        reg [31:0] vids;
        reg        go, ip, frag, stop, ts_found;
        reg [7:0]  proto, next_hdr, kind, okind, olen_b;
        reg [255:0] addrs;   // IPv4: 8 bytes, IPv6: 32 bytes (byte 0 first)
        reg [31:0]  ports;
        reg [39:0]  reach;
        integer i, j;

        key = 512'd0; key_len = 7'd1; zoff = 64'd0; zlen = 16'd0; lbl = 1'b0; lbl_off = 16'd0;
        tcp = 1'b0; tcp_flags = 8'd0; tcp_seq = 32'd0; tcp_ack = 32'd0; tcp_seq_off = 16'd0;
        beyond = 1'b0; ip = 1'b0; frag = 1'b0; proto = 8'd0; addrs = 256'd0; ports = 32'd0;
        off = 17'd14; l4 = 17'd0; end_ = 17'd0; nvlan = 2'd0; vids = 32'd0; type_ = 16'd0;
        win_sh = {H*8{1'b0}}; ext_sh = {H*8{1'b0}}; opts = 320'd0; reach = 40'd0; ts_found = 1'b0;
        total = 17'd0; ihl = 17'd0; doff = 17'd0; olen = 17'd0; p = 17'd0; nxt = 17'd0; L = 17'd0;
        stop = 1'b0; next_hdr = 8'd0; kind = 8'd0; okind = 8'd0; olen_b = 8'd0; go = 1'b0;

        if (in_len < 17'd14 || in_len > 17'd65535) begin
            key = 512'd0;  // the single byte 00, right-aligned
            key_len = 7'd1;
        end else begin
            type_ = {in_hdr[12*8 +: 8], in_hdr[13*8 +: 8]};
            go = 1'b1;
            for (i = 0; i < 2; i = i + 1) begin
                if (go && (type_ == 16'h8100 || type_ == 16'h88A8) && off + 17'd4 <= in_len) begin
                    vids[16*i +: 16] = {4'd0, in_hdr[off*8 +: 4], in_hdr[(off+1)*8 +: 8]};
                    type_ = {in_hdr[(off+2)*8 +: 8], in_hdr[(off+3)*8 +: 8]};
                    off = off + 17'd4;
                    nvlan = nvlan + 2'd1;
                end else begin
                    go = 1'b0;
                end
            end

            if (type_ == 16'h0800 && off + 17'd20 <= in_len) begin
                ihl = {11'd0, in_hdr[off*8 +: 4], 2'b00};
                total = {1'b0, in_hdr[(off+2)*8 +: 8], in_hdr[(off+3)*8 +: 8]};
                if (in_hdr[off*8+4 +: 4] == 4'd4 && ihl >= 17'd20 && total >= ihl && off + total <= in_len) begin
                    ip = 1'b1;
                    zoff[0 +: 16] = off[15:0] + 16'd4;  zlen[0 +: 4] = 4'd2;   // identification
                    zoff[16 +: 16] = off[15:0] + 16'd10; zlen[4 +: 4] = 4'd2;  // header checksum
                    frag = ({in_hdr[(off+6)*8 +: 8], in_hdr[(off+7)*8 +: 8]} & 16'h3FFF) != 16'd0;
                    proto = in_hdr[(off+9)*8 +: 8];
                    for (i = 0; i < 8; i = i + 1) addrs[8*i +: 8] = in_hdr[(off+12+i)*8 +: 8];
                    l4 = off + ihl;
                    end_ = off + total;
                    key_len = 7'd15 + {4'd0, nvlan, 1'b0};
                    kind = 8'd1;
                end
            end
            if (type_ == 16'h86DD && off + 17'd40 <= in_len) begin
                end_ = off + 17'd40 + {1'b0, in_hdr[(off+4)*8 +: 8], in_hdr[(off+5)*8 +: 8]};
                if (in_hdr[off*8+4 +: 4] == 4'd6 && end_ <= in_len) begin
                    ip = 1'b1;
                    lbl = 1'b1;
                    lbl_off = off[15:0] + 16'd1;
                    next_hdr = in_hdr[(off+6)*8 +: 8];
                    l4 = off + 17'd40;
                    stop = 1'b0;
                    for (i = 0; i < 8; i = i + 1) begin
                        if (!stop && (next_hdr == 8'd0 || next_hdr == 8'd43 || next_hdr == 8'd60)) begin
                            if (l4 + 17'd8 > end_) begin
                                next_hdr = 8'hFF;
                                stop = 1'b1;
                            end else begin
                                if (l4 + 17'd2 > H) beyond = 1'b1;
                                ext_sh = in_hdr >> (l4 * 8);
                                next_hdr = ext_sh[7:0];
                                l4 = l4 + {5'd0, {1'b0, ext_sh[15:8]} + 9'd1, 3'b000};
                            end
                        end else begin
                            stop = 1'b1;
                        end
                    end
                    if (next_hdr == 8'd0 || next_hdr == 8'd43 || next_hdr == 8'd60 || l4 > end_) next_hdr = 8'hFF;
                    proto = next_hdr;
                    for (i = 0; i < 32; i = i + 1) addrs[8*i +: 8] = in_hdr[(off+8+i)*8 +: 8];
                    key_len = 7'd39 + {4'd0, nvlan, 1'b0};
                    kind = 8'd2;
                end
            end

            if (ip) begin
                win_sh = in_hdr >> (l4 * 8);
                if (!frag && proto == 8'd17 && l4 + 17'd8 <= end_) begin
                    if (l4 + 17'd8 > H) beyond = 1'b1;
                    ports = win_sh[31:0];
                    zoff[32 +: 16] = l4[15:0] + 16'd6; zlen[8 +: 4] = 4'd2;  // UDP checksum
                end else if (!frag && proto == 8'd6 && l4 + 17'd20 <= end_) begin
                    doff = {11'd0, win_sh[12*8+4 +: 4], 2'b00};
                    if (doff >= 17'd20 && l4 + doff <= end_) begin
                        if (l4 + doff > H) beyond = 1'b1;
                        ports = win_sh[31:0];
                        tcp = 1'b1;
                        tcp_seq = {win_sh[4*8 +: 8], win_sh[5*8 +: 8], win_sh[6*8 +: 8], win_sh[7*8 +: 8]};
                        tcp_ack = {win_sh[8*8 +: 8], win_sh[9*8 +: 8], win_sh[10*8 +: 8], win_sh[11*8 +: 8]};
                        tcp_flags = win_sh[13*8 +: 8];
                        tcp_seq_off = l4[15:0] + 16'd4;
                        zoff[32 +: 16] = l4[15:0] + 16'd16; zlen[8 +: 4] = 4'd2;  // TCP checksum
                        // Options: which positions does the walk reach (docs/digest.md 1.5)?
                        olen = doff - 17'd20;
                        opts = win_sh[20*8 +: 320] & ((320'd1 << (olen * 8)) - 320'd1);
                        for (j = 0; j < 40; j = j + 1) begin
                            if (j == 0) reach[j] = olen != 17'd0;
                            for (i = 0; i < j; i = i + 1) begin
                                okind = opts[8*i +: 8];
                                olen_b = (i + 1 < 40) ? opts[8*(i+1) +: 8] : 8'd0;
                                if (okind == 8'd1) nxt = i + 1;
                                else if (okind == 8'd0 || i + 2 > olen || olen_b < 8'd2 || i + olen_b > olen) nxt = 17'd0;
                                else nxt = i + {9'd0, olen_b};
                                if (reach[i] && nxt == j && j < olen) reach[j] = 1'b1;
                            end
                        end
                        for (j = 0; j < 40; j = j + 1) begin
                            if (!ts_found && reach[j] && opts[8*j +: 8] == 8'd8 && j + 10 <= olen
                                    && (j + 1 < 40) && opts[8*(j+1) +: 8] == 8'd10) begin
                                ts_found = 1'b1;
                                zoff[48 +: 16] = l4[15:0] + 16'd22 + j[15:0]; zlen[12 +: 4] = 4'd8;  // TSval, TSecr
                            end
                        end
                    end
                end
            end

            if (ip) begin
                // 01|02, n, VIDs, proto, addresses, ports; right-aligned in `key`.
                key[511 -: 32] = ports;
                if (kind == 8'd1) begin
                    for (i = 0; i < 8; i = i + 1) key[(52+i)*8 +: 8] = addrs[8*i +: 8];
                    key[51*8 +: 8] = proto;
                end else begin
                    for (i = 0; i < 32; i = i + 1) key[(28+i)*8 +: 8] = addrs[8*i +: 8];
                    key[27*8 +: 8] = proto;
                end
                L = (kind == 8'd1) ? 17'd51 : 17'd27;  // first byte after the VIDs
            end else begin
                // 03, n, VIDs, type, destination MAC, source MAC.
                kind = 8'd3;
                zoff = 64'd0; zlen = 16'd0; lbl = 1'b0; tcp = 1'b0; beyond = 1'b0;
                for (i = 0; i < 12; i = i + 1) key[(52+i)*8 +: 8] = in_hdr[i*8 +: 8];
                key[50*8 +: 16] = {type_[7:0], type_[15:8]};
                L = 17'd50;
                key_len = 7'd16 + {4'd0, nvlan, 1'b0};
            end
            // VIDs in front of L, then n, then the kind byte.
            for (i = 0; i < 2; i = i + 1) begin
                if (i < nvlan) begin
                    key[(L - 2*nvlan + 2*i) * 8 +: 8] = {4'd0, vids[16*i+8 +: 4]};
                    key[(L - 2*nvlan + 2*i + 1) * 8 +: 8] = vids[16*i +: 8];
                end
            end
            key[(L - 2*nvlan - 1) * 8 +: 8] = {6'd0, nvlan};
            key[(L - 2*nvlan - 2) * 8 +: 8] = kind;
        end
    end

    always @(posedge clk) begin
        out_valid_reg <= in_valid;
        out_key_reg <= key;
        out_key_len_reg <= key_len;
        out_zoff_reg <= zoff;
        out_zlen_reg <= zlen;
        out_lbl_reg <= lbl;
        out_lbl_off_reg <= lbl_off;
        out_tcp_reg <= tcp;
        out_tcp_flags_reg <= tcp_flags;
        out_tcp_seq_reg <= tcp_seq;
        out_tcp_ack_reg <= tcp_ack;
        out_tcp_seq_off_reg <= tcp_seq_off;
        out_beyond_reg <= beyond;
        if (rst) out_valid_reg <= 1'b0;
    end

endmodule

`resetall
