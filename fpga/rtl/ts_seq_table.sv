// The digester's per-flow state (common/digest.h Digester): each flow's next
// output sequence and TCP sequence/acknowledgement bases. Fully associative,
// one lookup-and-update per clock; entries are filled in order and only ever
// freed all at once, when a new flow would exceed the capacity (as software).
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

    wire [31:0] cap = (cfg_capacity == 0 || cfg_capacity > FLOWS) ? FLOWS : cfg_capacity;

    reg [FLOWS-1:0] hit_vec;
    reg [IW-1:0] hit_idx;
    integer i;
    always @* begin
        hit_idx = 0;
        for (i = 0; i < FLOWS; i = i + 1) begin
            hit_vec[i] = used_reg[i] && flow_reg[i] == in_flow;
            if (hit_vec[i]) hit_idx = i[IW-1:0];
        end
    end

    always @(posedge clk) begin : p_update
        reg [IW-1:0] idx;
        reg        clear, fresh, hs, ha, syn, ackf;
        reg [31:0] sb, ab, nxt;
        out_valid_reg <= in_valid;
        if (in_valid) begin
            clear = 1'b0;
            fresh = hit_vec == 0;
            idx = hit_idx;
            if (fresh) begin
                if ({{(31-IW){1'b0}}, count_reg} >= cap) begin
                    clear = 1'b1;
                    idx = 0;
                    count_reg <= 1;
                    stat_resets_reg <= stat_resets_reg + 1;
                end else begin
                    idx = count_reg[IW-1:0];
                    count_reg <= count_reg + 1'b1;
                end
            end
            nxt = fresh ? 32'd0 : next_reg[idx];
            hs = fresh ? 1'b0 : has_seq_reg[idx];
            ha = fresh ? 1'b0 : has_ack_reg[idx];
            sb = seq_base_reg[idx];
            ab = ack_base_reg[idx];
            syn = in_flags[1];
            ackf = in_flags[4];
            if (in_tcp) begin
                if (syn || !hs) begin
                    sb = in_seq;
                    hs = 1'b1;
                    ha = 1'b0;
                end
                if (ackf && !ha) begin
                    ab = in_ack - 32'd1;
                    ha = 1'b1;
                end
            end
            out_seq_no_reg <= nxt;
            out_rel_seq_reg <= in_tcp ? in_seq - sb : 32'd0;
            out_rel_ack_reg <= (in_tcp && ackf) ? in_ack - ab : 32'd0;
            if (clear) begin
                used_reg <= {{(FLOWS-1){1'b0}}, 1'b1};
                has_seq_reg <= {{(FLOWS-1){1'b0}}, hs};
                has_ack_reg <= {{(FLOWS-1){1'b0}}, ha};
            end else begin
                used_reg[idx] <= 1'b1;
                has_seq_reg[idx] <= hs;
                has_ack_reg[idx] <= ha;
            end
            flow_reg[idx] <= in_flow;
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
