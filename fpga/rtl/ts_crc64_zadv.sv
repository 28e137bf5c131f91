// Advances a raw CRC-64/XZ register through `count` zero bytes (0..64) by
// binary decomposition into seven constant XOR matrices (2^k zero bytes each),
// in two clock stages (1..8 zero bytes, then 16..64): latency two clocks.
`resetall
`timescale 1ns / 1ps
`default_nettype none

module ts_crc64_zadv (
    input  wire        clk,
    input  wire [63:0] state,
    input  wire [6:0]  count,    // zero bytes to advance through, 0..64
    output reg  [63:0] next_reg  // `state` advanced, two clocks later
);
    reg [63:0] mid_reg;
    reg [2:0]  count_hi_reg;
`include "ts_crc64_masks.svh"

    genvar k, g;
    generate
        for (k = 0; k < 7; k = k + 1) begin : g_step
            wire [63:0] prev;
            wire [63:0] adv;
            wire [63:0] out;
            if (k == 0) begin : g_first
                assign prev = state;
            end else if (k == 4) begin : g_second_stage
                assign prev = mid_reg;
            end else begin : g_chain
                assign prev = g_step[k-1].out;
            end
            for (g = 0; g < 64; g = g + 1) begin : g_bit
                localparam [63:0] MASK = TS_CRC64_ZADV_MASKS[(64*k+g)*64 +: 64];
                assign adv[g] = ^(MASK & prev);
            end
            if (k < 4) begin : g_lo
                assign out = count[k] ? adv : prev;
            end else begin : g_hi
                assign out = count_hi_reg[k-4] ? adv : prev;
            end
        end
    endgenerate

    always @(posedge clk) begin
        mid_reg <= g_step[3].out;
        count_hi_reg <= count[6:4];
        next_reg <= g_step[6].out;
    end

endmodule

`resetall
