// Parses the header window of one output frame (docs/digest.md sections 1-2):
// flow key, normalization patches and TCP fields. One frame per clock in
// seventeen register stages (A: L2/L3; X1-X8: the IPv6 extension chain, a
// header a stage; B: L4 and the key; L: the TCP options' links; D1: the
// links doubled; D2-D5: the option walk; O: the outputs); everything it
// needs lies in the first HDR_BEATS beats.
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
    output reg  [16:0]               out_len_reg,      // in_len, beside the stages
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

    // Every L4 offset, and every IPv6 extension header's, is 2 mod 4 (the L3
    // header starts at byte 14, 18 or 22; IPv4 headers are 4-byte words, IPv6
    // ones 40 bytes and extension headers 8-byte units). So fields at a
    // variable offset are read as 32-bit words of the window from byte 2, a
    // 48-way select for 192 bytes where a byte offset needed 192 ways (a
    // select at a stride that is not a power of two costs Yosys a whole
    // barrel shifter). The word index is the offset's low bits, unclamped:
    // an offset past the window reads whatever word, and every byte at or
    // past the window's end is zeroed by comparing its offset.
    localparam [16:0] HL = H;
    localparam integer WB = $clog2((H - 2) / 4 + 1);  // word index bits
    function automatic [WB-1:0] l4_word(input [16:0] o);  // o = 4w + 2
        l4_word = o[WB+1:2];
    endfunction

    // ---- Stage A: Ethernet, VLANs, IPv4 / IPv6 base header ----
    reg          a_ok;       // length in range: anything parsed at all
    reg  [15:0]  a_type;
    reg  [1:0]   a_nvlan;
    reg  [31:0]  a_vids;
    reg          a_ip, a_frag, a_lbl, a_v6;
    reg  [7:0]   a_nxt, a_kind;  // IPv4: protocol; IPv6: next header (the chain is walked below)
    reg  [255:0] a_addrs;    // IPv4: 8 bytes, IPv6: 32 bytes (byte 0 first)
    reg  [16:0]  a_l4, a_end;
    reg  [6:0]   a_key_len;
    reg  [31:0]  a_zoff;     // IPv4 identification and checksum
    reg  [7:0]   a_zlen;
    reg  [15:0]  a_lbl_off;

    // The tag count is 0, 1 or 2, so the L3 header starts at byte 14, 18 or 22:
    // each candidate is parsed at its constant offset (fields are wires, no
    // byte select) and the tag count picks one. The offset and length adders
    // and compares of the three run side by side, not after the VLAN walk.
    always @* begin : p_l3
        reg [16:0] off, total, ihl, end6;
        reg [47:0] t;    // the type field after 0, 1, 2 tags
        reg [2:0]  tag;
        integer c, i;

        a_ok = 1'b0; a_type = 16'd0; a_nvlan = 2'd0; a_vids = 32'd0; a_ip = 1'b0; a_frag = 1'b0;
        a_lbl = 1'b0; a_v6 = 1'b0; a_nxt = 8'd0; a_kind = 8'd0; a_addrs = 256'd0; a_l4 = 17'd0;
        a_end = 17'd0; a_key_len = 7'd1; a_zoff = 32'd0; a_zlen = 8'd0; a_lbl_off = 16'd0;
        off = 17'd0; total = 17'd0; ihl = 17'd0; end6 = 17'd0;

        for (c = 0; c < 3; c = c + 1) begin
            t[16*c +: 16] = {in_hdr[(12+4*c)*8 +: 8], in_hdr[(13+4*c)*8 +: 8]};
            tag[c] = t[16*c +: 16] == 16'h8100 || t[16*c +: 16] == 16'h88A8;
        end
        if (!(in_len < 17'd14 || in_len > 17'd65535)) begin
            a_ok = 1'b1;
            if (tag[0] && in_len >= 17'd18) begin
                a_nvlan = (tag[1] && in_len >= 17'd22) ? 2'd2 : 2'd1;
            end
            a_type = t[16*a_nvlan +: 16];
            for (i = 0; i < 2; i = i + 1)
                if (i < a_nvlan) a_vids[16*i +: 16] = {4'd0, in_hdr[(14+4*i)*8 +: 4], in_hdr[(15+4*i)*8 +: 8]};
        end

        for (c = 0; c < 3; c = c + 1) begin
            if (a_ok && a_nvlan == c) begin
                off = 17'd14 + 17'd4 * c;
                if (t[16*c +: 16] == 16'h0800 && off + 17'd20 <= in_len) begin
                    ihl = {11'd0, in_hdr[off*8 +: 4], 2'b00};
                    total = {1'b0, in_hdr[(off+2)*8 +: 8], in_hdr[(off+3)*8 +: 8]};
                    if (in_hdr[off*8+4 +: 4] == 4'd4 && ihl >= 17'd20 && total >= ihl && off + total <= in_len) begin
                        a_ip = 1'b1;
                        a_zoff[0 +: 16] = off[15:0] + 16'd4;  a_zlen[0 +: 4] = 4'd2;   // identification
                        a_zoff[16 +: 16] = off[15:0] + 16'd10; a_zlen[4 +: 4] = 4'd2;  // header checksum
                        a_frag = ({in_hdr[(off+6)*8 +: 8], in_hdr[(off+7)*8 +: 8]} & 16'h3FFF) != 16'd0;
                        a_nxt = in_hdr[(off+9)*8 +: 8];
                        for (i = 0; i < 8; i = i + 1) a_addrs[8*i +: 8] = in_hdr[(off+12+i)*8 +: 8];
                        a_l4 = off + ihl;
                        a_end = off + total;
                        a_key_len = 7'd15 + 7'd2 * c;
                        a_kind = 8'd1;
                    end
                end
                if (t[16*c +: 16] == 16'h86DD && off + 17'd40 <= in_len) begin
                    end6 = off + 17'd40 + {1'b0, in_hdr[(off+4)*8 +: 8], in_hdr[(off+5)*8 +: 8]};
                    a_end = end6;
                    if (in_hdr[off*8+4 +: 4] == 4'd6 && end6 <= in_len) begin
                        a_ip = 1'b1;
                        a_v6 = 1'b1;
                        a_lbl = 1'b1;
                        a_lbl_off = off[15:0] + 16'd1;
                        a_nxt = in_hdr[(off+6)*8 +: 8];
                        a_l4 = off + 17'd40;
                        for (i = 0; i < 32; i = i + 1) a_addrs[8*i +: 8] = in_hdr[(off+8+i)*8 +: 8];
                        a_key_len = 7'd39 + 7'd2 * c;
                        a_kind = 8'd2;
                    end
                end
            end
        end
    end

    // ---- Stages X1..XN: the IPv6 extension chain, EXT_STEPS headers per stage ----
    // Each step is a word select at a variable offset, an adder and compares;
    // two in series were the parser's longest path (21 LUTs), so each stage
    // registers after EXT_STEPS of them. A step runs while the next header is
    // Hop-by-Hop (0), Routing (43) or Destination Options (60); a truncated one
    // ends the chain with next header 0xFF (docs/digest.md 1.3). What does not change along the
    // chain rides beside it in `fix`.
    localparam integer EXT_STEPS = 1;
    localparam integer XS = 8 / EXT_STEPS;      // stages for the eight headers the walk allows
    localparam integer FW = 1 + 16 + 2 + 32 + 1 + 1 + 1 + 1 + 16 + 8 + 256 + 17 + 7 + 32 + 8 + 17;
    localparam integer VW = 17 + 8 + 1;          // l4, next header, beyond
    localparam integer FIX_END = 17 + 8 + 32 + 7;  // a_end's and a_v6's bits in a_fix
    localparam integer FIX_V6 = FIX_END + 17 + 256 + 8 + 16;
    wire [FW-1:0] a_fix = {a_ok, a_type, a_nvlan, a_vids, a_ip, a_frag, a_lbl, a_v6, a_lbl_off, a_kind,
                           a_addrs, a_end, a_key_len, a_zoff, a_zlen, in_len};
    reg  [XS:0]          x_valid_reg = 0;
    reg  [(XS+1)*H*8-1:0] x_hdr_reg;   // stage s's window at [s*H*8 +: H*8]; s = 0 is stage A's output
    reg  [(XS+1)*FW-1:0] x_fix_reg;
    reg  [(XS+1)*VW-1:0] x_var_reg;
    reg  [XS*VW-1:0]     x_next;       // each stage's walk, combinational

    function automatic ext_hdr(input [7:0] nh);
        ext_hdr = nh == 8'd0 || nh == 8'd43 || nh == 8'd60;
    endfunction

    always @* begin : p_ext
        reg [16:0] l4, end_;
        reg [7:0]  nxt;
        reg        bey, v6;
        reg [15:0] ext2;
        reg [H*8-17:0] hdr2;  // the window from byte 2
        integer s, i;
        x_next = 0;
        ext2 = 16'd0;
        for (s = 0; s < XS; s = s + 1) begin
            {l4, nxt, bey} = x_var_reg[s*VW +: VW];
            hdr2 = x_hdr_reg[s*H*8 + 16 +: H*8 - 16];
            v6 = x_fix_reg[s*FW + FIX_V6];
            end_ = x_fix_reg[s*FW + FIX_END +: 17];
            for (i = 0; i < EXT_STEPS; i = i + 1) begin
                if (v6 && ext_hdr(nxt)) begin
                    if (l4 + 17'd8 > end_) begin
                        nxt = 8'hFF;
                    end else begin
                        if (l4 + 17'd2 > HL) bey = 1'b1;
                        ext2 = (l4 < HL) ? hdr2[l4_word(l4) * 32 +: 16] : 16'd0;  // l4 < H: l4 + 1 < H too
                        nxt = ext2[7:0];
                        l4 = l4 + {5'd0, {1'b0, ext2[15:8]} + 9'd1, 3'b000};
                    end
                end
            end
            x_next[s*VW +: VW] = {l4, nxt, bey};
        end
    end

    always @(posedge clk) begin
        x_valid_reg <= {x_valid_reg[XS-1:0], in_valid};
        x_hdr_reg <= {x_hdr_reg[XS*H*8-1:0], in_hdr};
        x_fix_reg <= {x_fix_reg[XS*FW-1:0], a_fix};
        x_var_reg <= {x_next, a_l4, a_nxt, 1'b0};
        if (rst) x_valid_reg <= 0;
    end

    // After the walk: an extension header still next (more than eight) or a
    // chain past the payload is "no protocol".
    reg          b_valid_reg;
    reg  [H*8-1:0] b_hdr_reg;
    reg          b_ok_reg, b_ip_reg, b_frag_reg, b_beyond_reg, b_lbl_reg, b_v6;
    reg  [15:0]  b_type_reg, b_lbl_off_reg;
    reg  [1:0]   b_nvlan_reg;
    reg  [31:0]  b_vids_reg, b_zoff_reg;
    reg  [7:0]   b_proto, b_kind_reg, b_zlen_reg, b_nxt;
    reg  [255:0] b_addrs_reg;
    reg  [16:0]  b_l4_reg, b_end_reg, b_len_reg;
    reg  [6:0]   b_key_len_reg;
    always @* begin
        b_valid_reg = x_valid_reg[XS];
        b_hdr_reg = x_hdr_reg[XS*H*8 +: H*8];
        {b_ok_reg, b_type_reg, b_nvlan_reg, b_vids_reg, b_ip_reg, b_frag_reg, b_lbl_reg, b_v6, b_lbl_off_reg,
         b_kind_reg, b_addrs_reg, b_end_reg, b_key_len_reg, b_zoff_reg, b_zlen_reg, b_len_reg} = x_fix_reg[XS*FW +: FW];
        {b_l4_reg, b_nxt, b_beyond_reg} = x_var_reg[XS*VW +: VW];
        b_proto = b_nxt;
        if (b_v6 && (ext_hdr(b_nxt) || b_l4_reg > b_end_reg)) b_proto = 8'hFF;
    end

    // ---- Stage B: UDP / TCP, the TCP option walk, the key ----
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
    reg [319:0] opts;     // TCP options (40 bytes), zero past the data offset
    reg [16:0]  opt_len;  // their length, 0 without TCP

    wire [H*8-17:0] b_hdr2 = b_hdr_reg[H*8-1:16];  // the window from byte 2
    wire [479:0] l4_raw = b_hdr2[l4_word(b_l4_reg) * 32 +: 480];
    reg  [479:0] l4_win;  // TCP header and options, zero past the window
    always @* begin : p_l4_win
        integer k;
        for (k = 0; k < 60; k = k + 1) l4_win[8*k +: 8] = (b_l4_reg + k < HL) ? l4_raw[8*k +: 8] : 8'd0;
    end

    always @* begin : p_l4
        reg [16:0] l4, end_, doff, L;
        reg [7:0]  kind;
        reg [31:0] ports;
        integer i, j;

        key = 512'd0; key_len = b_key_len_reg; zoff = {32'd0, b_zoff_reg}; zlen = {8'd0, b_zlen_reg};
        lbl = b_lbl_reg; lbl_off = b_lbl_off_reg; tcp = 1'b0; tcp_flags = 8'd0; tcp_seq = 32'd0;
        tcp_ack = 32'd0; tcp_seq_off = 16'd0; beyond = b_beyond_reg;
        l4 = b_l4_reg; end_ = b_end_reg; kind = b_kind_reg; ports = 32'd0; opts = 320'd0;
        doff = 17'd0; opt_len = 17'd0; L = 17'd0;

        if (!b_ok_reg) begin
            key = 512'd0;  // the single byte 00, right-aligned
            key_len = 7'd1;
            zoff = 64'd0; zlen = 16'd0; lbl = 1'b0; lbl_off = 16'd0; beyond = 1'b0;
        end else begin
            if (b_ip_reg) begin
                if (!b_frag_reg && b_proto == 8'd17 && l4 + 17'd8 <= end_) begin
                    if (l4 + 17'd8 > HL) beyond = 1'b1;
                    ports = l4_win[31:0];
                    zoff[32 +: 16] = l4[15:0] + 16'd6; zlen[8 +: 4] = 4'd2;  // UDP checksum
                end else if (!b_frag_reg && b_proto == 8'd6 && l4 + 17'd20 <= end_) begin
                    doff = {11'd0, l4_win[12*8+4 +: 4], 2'b00};
                    if (doff >= 17'd20 && l4 + doff <= end_) begin
                        if (l4 + doff > HL) beyond = 1'b1;
                        ports = l4_win[31:0];
                        tcp = 1'b1;
                        tcp_seq = {l4_win[4*8 +: 8], l4_win[5*8 +: 8], l4_win[6*8 +: 8], l4_win[7*8 +: 8]};
                        tcp_ack = {l4_win[8*8 +: 8], l4_win[9*8 +: 8], l4_win[10*8 +: 8], l4_win[11*8 +: 8]};
                        tcp_flags = l4_win[13*8 +: 8];
                        tcp_seq_off = l4[15:0] + 16'd4;
                        zoff[32 +: 16] = l4[15:0] + 16'd16; zlen[8 +: 4] = 4'd2;  // TCP checksum
                        // Options (docs/digest.md 1.5): walked in stages D below.
                        opt_len = doff - 17'd20;
                        for (j = 0; j < 40; j = j + 1) opts[8*j +: 8] = (j < opt_len) ? l4_win[(20+j)*8 +: 8] : 8'd0;
                    end
                end
                // 01|02, n, VIDs, proto, addresses, ports; right-aligned in `key`.
                key[511 -: 32] = ports;
                if (kind == 8'd1) begin
                    for (i = 0; i < 8; i = i + 1) key[(52+i)*8 +: 8] = b_addrs_reg[8*i +: 8];
                    key[51*8 +: 8] = b_proto;
                end else begin
                    for (i = 0; i < 32; i = i + 1) key[(28+i)*8 +: 8] = b_addrs_reg[8*i +: 8];
                    key[27*8 +: 8] = b_proto;
                end
                L = (kind == 8'd1) ? 17'd51 : 17'd27;  // first byte after the VIDs
            end else begin
                // 03, n, VIDs, type, destination MAC, source MAC.
                kind = 8'd3;
                zoff = 64'd0; zlen = 16'd0; lbl = 1'b0; tcp = 1'b0; beyond = 1'b0;
                for (i = 0; i < 12; i = i + 1) key[(52+i)*8 +: 8] = b_hdr_reg[i*8 +: 8];
                key[50*8 +: 16] = {b_type_reg[7:0], b_type_reg[15:8]};
                L = 17'd50;
                key_len = 7'd16 + {4'd0, b_nvlan_reg, 1'b0};
            end
            // VIDs in front of L, then n, then the kind byte: each key byte picks
            // its content by comparing its (constant) position, no variable shift.
            for (j = 20; j < 52; j = j + 1) begin
                for (i = 0; i < 2; i = i + 1) begin
                    if (i < b_nvlan_reg && j == L - 2*b_nvlan_reg + 2*i)
                        key[j*8 +: 8] = {4'd0, b_vids_reg[16*i+8 +: 4]};
                    if (i < b_nvlan_reg && j == L - 2*b_nvlan_reg + 2*i + 1)
                        key[j*8 +: 8] = b_vids_reg[16*i +: 8];
                end
                if (j == L - 2*b_nvlan_reg - 1) key[j*8 +: 8] = {6'd0, b_nvlan_reg};
                if (j == L - 2*b_nvlan_reg - 2) key[j*8 +: 8] = kind;
            end
        end
    end

    // ---- Stages D: the TCP option walk (docs/digest.md 1.5) ----
    // Each option position names its successor (the next option's position,
    // or NONE) and itself if it is a timestamp option (stage L, apart from
    // stage B's length checks that bound the options). Stage D1 doubles the
    // links twice over all positions (four options ahead, and the first
    // timestamp among them); stages D2-D5 then walk from position 0 two such
    // links a stage. Eight links cover 32 options: a timestamp option (10
    // bytes) starts at byte 30 at the latest, so at most 30 options precede
    // it. A walk position by position was a 40-step chain in one clock;
    // doubling at every position up to 64 options cost ~75 000 LUTs in 64-way
    // selects. The walk only moves forward, so the first timestamp met is the
    // first the software walk meets.
    localparam integer OPOS = 40;         // option positions
    localparam [5:0] NONE = 6'd40;        // no successor / no timestamp; indexes itself
    localparam integer TW = (OPOS + 1) * 8;  // 6-bit entries in bytes: a select at stride 8 is a plain 41-way mux
    localparam integer DS = 7;             // registers B, L, D1, D2..D5; then the outputs
    localparam integer RW = 17 + 512 + 7 + 48 + 12 + 1 + 16 + 1 + 8 + 32 + 32 + 16 + 1 + 16;
    reg [319:0]  l_opts_reg;     // stage B's options, for stage L
    reg [16:0]   l_opt_len_reg;
    always @(posedge clk) begin
        l_opts_reg <= opts;
        l_opt_len_reg <= opt_len;
    end
    reg [TW-1:0] o_nxt, o_ts;  // 41 positions; position NONE names NONE
    always @* begin : p_opt_links
        reg [7:0] okind, olen_b;
        integer i;
        o_nxt = {(OPOS + 1){2'b00, NONE}};
        o_ts = {(OPOS + 1){2'b00, NONE}};
        for (i = 0; i < OPOS; i = i + 1) begin
            okind = l_opts_reg[8*i +: 8];
            olen_b = (i + 1 < OPOS) ? l_opts_reg[8*(i+1) +: 8] : 8'd0;
            if (i < l_opt_len_reg) begin
                if (okind == 8'd1) begin
                    if (i + 1 < l_opt_len_reg) o_nxt[8*i +: 6] = i + 1;
                end else if (okind != 8'd0 && olen_b >= 8'd2 && i + olen_b < l_opt_len_reg) begin
                    o_nxt[8*i +: 6] = i + olen_b;
                end
                if (okind == 8'd8 && olen_b == 8'd10 && i + 10 <= l_opt_len_reg) o_ts[8*i +: 6] = i;
            end
        end
    end

    // One doubling: successor 2^k -> 2^(k+1) options ahead, first timestamp
    // within the next 2^(k+1) options.
    function automatic [2*TW-1:0] double1(input [TW-1:0] f, input [TW-1:0] t);
        reg [TW-1:0] f2, t2;
        integer i;
        begin
            f2 = 0;
            t2 = 0;
            for (i = 0; i <= OPOS; i = i + 1) begin
                f2[8*i +: 6] = f[8*f[8*i +: 6] +: 6];
                t2[8*i +: 6] = (t[8*i +: 6] != NONE) ? t[8*i +: 6] : t[8*f[8*i +: 6] +: 6];
            end
            double1 = {f2, t2};
        end
    endfunction
    // The walk: the position reached and the first timestamp met (NONE: none yet).
    function automatic [11:0] hop2(input [11:0] pt, input [2*TW-1:0] links);
        reg [5:0] p, ts;
        integer k;
        begin
            {p, ts} = pt;
            for (k = 0; k < 2; k = k + 1) begin
                if (ts == NONE) ts = links[8*p +: 6];
                p = links[TW + 8*p +: 6];
            end
            hop2 = {p, ts};
        end
    endfunction

    // Registers after stage B (index 0), L (1), D1 (2) and the hop stages
    // D2-D5 (3..DS-1); the output stage adds the timestamp's offset.
    reg  [DS-1:0]      d_valid_reg = 0;
    reg  [DS*RW-1:0]   d_r_reg;          // the other results, beside the walk
    reg  [DS*2*TW-1:0] d_links_reg;      // stage 1: one-option links; 2 and on: four-option links
    reg  [DS*12-1:0]   d_walk_reg;       // {position, timestamp} after stage s (s >= 2)
    wire [RW-1:0] b_r = {b_len_reg, key, key_len, zoff[47:0], zlen[11:0], lbl, lbl_off, tcp, tcp_flags, tcp_seq,
                         tcp_ack, tcp_seq_off, beyond, b_l4_reg[15:0]};
    wire [2*TW-1:0] d_links2 = double1(d_links_reg[2*TW + TW +: TW], d_links_reg[2*TW +: TW]);
    wire [2*TW-1:0] d_links4 = double1(d_links2[TW +: TW], d_links2[0 +: TW]);
    reg  [DS*12-1:0] d_walk_next;
    always @* begin : p_hops
        integer s;
        d_walk_next = 0;
        d_walk_next[2*12 +: 12] = {6'd0, NONE};
        for (s = 3; s < DS; s = s + 1)
            d_walk_next[s*12 +: 12] = hop2(d_walk_reg[(s-1)*12 +: 12], d_links_reg[(s-1)*2*TW +: 2*TW]);
    end
    always @(posedge clk) begin
        d_valid_reg <= {d_valid_reg[DS-2:0], b_valid_reg};
        d_r_reg <= {d_r_reg[(DS-1)*RW-1:0], b_r};
        d_links_reg <= {d_links_reg[2*2*TW +: (DS-3)*2*TW], d_links4, o_nxt, o_ts, {2*TW{1'b0}}};
        d_walk_reg <= d_walk_next;
        if (rst) d_valid_reg <= 0;
    end

    wire [5:0]  ts_pos = d_walk_reg[(DS-1)*12 +: 6];  // the walk's first timestamp option from position 0
    wire [16:0] r_len;
    wire [511:0] r_key;
    wire [6:0]  r_key_len;
    wire [47:0] r_zoff;
    wire [11:0] r_zlen;
    wire        r_lbl, r_tcp, r_beyond;
    wire [15:0] r_lbl_off, r_seq_off, r_l4;
    wire [7:0]  r_flags;
    wire [31:0] r_seq, r_ack;
    assign {r_len, r_key, r_key_len, r_zoff, r_zlen, r_lbl, r_lbl_off, r_tcp, r_flags, r_seq, r_ack, r_seq_off,
            r_beyond, r_l4} = d_r_reg[(DS-1)*RW +: RW];

    always @(posedge clk) begin
        out_valid_reg <= d_valid_reg[DS-1];
        out_len_reg <= r_len;
        out_key_reg <= r_key;
        out_key_len_reg <= r_key_len;
        out_zoff_reg <= {(ts_pos != NONE) ? r_l4 + 16'd22 + {10'd0, ts_pos} : 16'd0, r_zoff};  // TSval, TSecr
        out_zlen_reg <= {(ts_pos != NONE) ? 4'd8 : 4'd0, r_zlen};
        out_lbl_reg <= r_lbl;
        out_lbl_off_reg <= r_lbl_off;
        out_tcp_reg <= r_tcp;
        out_tcp_flags_reg <= r_flags;
        out_tcp_seq_reg <= r_seq;
        out_tcp_ack_reg <= r_ack;
        out_tcp_seq_off_reg <= r_seq_off;
        out_beyond_reg <= r_beyond;
        if (rst) out_valid_reg <= 1'b0;
    end

endmodule

`resetall
