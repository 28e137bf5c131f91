// The digester's per-flow state (common/digest.h Digester): each flow's next
// output sequence and TCP sequence/acknowledgement bases. Fully associative,
// one lookup-and-update per clock in two stages: the lookup (hit and index)
// is registered, then corrected for the update the frame ahead made
// meanwhile.
// Entries are filled in order and only ever freed all at once, when a new
// flow would exceed the capacity (as software).
`resetall
`timescale 1ns / 1ps
`default_nettype none

module ts_seq_table #(
    parameter integer FLOWS = 256  // hardware capacity (flows tracked at once)
) (
    input  wire        clk,
    input  wire        rst,
    input  wire [31:0] cfg_capacity,   // runtime capacity, clamped to FLOWS
    input  wire        in_valid,
    input  wire [63:0] in_flow,
    input  wire        in_tcp,
    input  wire [7:0]  in_flags,
    input  wire [31:0] in_seq,
    input  wire [31:0] in_ack,
    output reg         out_valid_reg,
    output reg  [31:0] out_seq_no_reg,  // the event's per-flow output sequence
    output reg  [31:0] out_rel_seq_reg,
    output reg  [31:0] out_rel_ack_reg,
    output reg  [31:0] stat_resets_reg  // times the table started again
);
    initial begin
        if (FLOWS < 2 || FLOWS > 65536) begin
            $error("ts_seq_table: FLOWS must be 2..65536");
            $finish;
        end
    end
    localparam integer IW = $clog2(FLOWS);

    reg [63:0] flow_reg [0:FLOWS-1];
    reg [31:0] next_reg [0:FLOWS-1];
    reg [31:0] seq_base_reg [0:FLOWS-1];
    reg [31:0] ack_base_reg [0:FLOWS-1];
    reg [FLOWS-1:0] used_reg = 0, has_seq_reg = 0, has_ack_reg = 0;
    reg [IW:0] count_reg = 0;

    // The runtime capacity clamped to FLOWS, registered: a CSR, and its 32-bit
    // compares would otherwise head stage 2's path.
    localparam [IW:0] FLOWS_W = FLOWS;
    reg [IW:0] cap_reg = FLOWS_W;
    always @(posedge clk) cap_reg <= (cfg_capacity == 0 || cfg_capacity > FLOWS) ? FLOWS_W : cfg_capacity[IW:0];

    reg [IW-1:0]    idx;            // stage 2: the frame's entry, or the one a new flow takes
    reg             fresh, clear;   // a new flow; one that finds the table full

    // Stage 1: lookup against the table as it is now; flows are unique in
    // it, so the index is the OR of the (at most one) matching positions.
    reg          hit;
    reg [IW-1:0] hit_idx;
    always @* begin : p_lookup
        integer i;
        hit = 1'b0;
        hit_idx = 0;
        for (i = 0; i < FLOWS; i = i + 1) begin
            if (used_reg[i] && flow_reg[i] == in_flow) begin
                hit = 1'b1;
                hit_idx = hit_idx | i[IW-1:0];
            end
        end
    end
    // Stage 2's last update (w_*) lets the frame behind correct its lookup.
    reg          s1_valid_reg = 0, s1_tcp_reg, s1_same_reg, s1_hit_reg;
    reg [IW-1:0] s1_idx_reg;
    reg [63:0]   s1_flow_reg;
    reg [7:0]    s1_flags_reg;
    reg [31:0]   s1_seq_reg, s1_ack_reg;
    reg          w_valid_reg = 0, w_clear_reg = 0;
    reg [IW-1:0] w_idx_reg = 0;
    always @(posedge clk) begin
        s1_valid_reg <= in_valid && !rst;
        s1_hit_reg <= hit;
        s1_idx_reg <= hit_idx;
        s1_same_reg <= s1_valid_reg && s1_flow_reg == in_flow;
        s1_flow_reg <= in_flow;
        s1_tcp_reg <= in_tcp;
        s1_flags_reg <= in_flags;
        s1_seq_reg <= in_seq;
        s1_ack_reg <= in_ack;
        w_valid_reg <= s1_valid_reg && !rst;
        w_clear_reg <= clear;
        w_idx_reg <= idx;
    end

    // Stage 2: the lookup as of the last update (the frame ahead's flow is
    // where that frame put it, entry 0 after a clear; a clear leaves only
    // that entry); a new flow takes the next entry, or entry 0 of a cleared
    // table.
    always @* begin : p_stage2
        reg          known;
        reg [IW-1:0] at;
        if (w_valid_reg && s1_same_reg) begin
            known = 1'b1;
            at = w_idx_reg;
        end else begin
            known = s1_hit_reg && !(w_valid_reg && w_clear_reg);
            at = s1_idx_reg;
        end
        fresh = !known;
        clear = fresh && count_reg >= cap_reg;
        idx = clear ? {IW{1'b0}} : fresh ? count_reg[IW-1:0] : at;
    end

    always @(posedge clk) begin : p_update
        reg        hs, ha, syn, ackf;
        reg [31:0] sb, ab, nxt;
        integer j;
        out_valid_reg <= s1_valid_reg;
        if (s1_valid_reg) begin
            if (clear) begin
                count_reg <= 1;
                stat_resets_reg <= stat_resets_reg + 1;
            end else if (fresh) begin
                count_reg <= count_reg + 1'b1;
            end
            nxt = fresh ? 32'd0 : next_reg[idx];
            hs = fresh ? 1'b0 : has_seq_reg[idx];
            ha = fresh ? 1'b0 : has_ack_reg[idx];
            sb = seq_base_reg[idx];
            ab = ack_base_reg[idx];
            syn = s1_flags_reg[1];
            ackf = s1_flags_reg[4];
            if (s1_tcp_reg) begin
                if (syn || !hs) begin
                    sb = s1_seq_reg;
                    hs = 1'b1;
                    ha = 1'b0;
                end
                if (ackf && !ha) begin
                    ab = s1_ack_reg - 32'd1;
                    ha = 1'b1;
                end
            end
            out_seq_no_reg <= nxt;
            out_rel_seq_reg <= s1_tcp_reg ? s1_seq_reg - sb : 32'd0;
            out_rel_ack_reg <= (s1_tcp_reg && ackf) ? s1_ack_reg - ab : 32'd0;
            if (clear) begin
                used_reg <= {{(FLOWS-1){1'b0}}, 1'b1};
                has_seq_reg <= {{(FLOWS-1){1'b0}}, hs};
                has_ack_reg <= {{(FLOWS-1){1'b0}}, ha};
            end else begin
                for (j = 0; j < FLOWS; j = j + 1) begin
                    if (idx == j[IW-1:0]) begin
                        used_reg[j] <= 1'b1;
                        has_seq_reg[j] <= hs;
                        has_ack_reg[j] <= ha;
                    end
                end
            end
            flow_reg[idx] <= s1_flow_reg;
            next_reg[idx] <= nxt + 32'd1;
            seq_base_reg[idx] <= sb;
            ack_base_reg[idx] <= ab;
        end
        if (rst) begin
            out_valid_reg <= 1'b0;
            used_reg <= 0;
            count_reg <= 0;
            stat_resets_reg <= 0;
        end
    end

endmodule

`resetall
