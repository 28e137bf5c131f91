// Advances a raw CRC-64/XZ register through `count` zero bytes (0..64) by
// binary decomposition into seven constant XOR matrices (2^k zero bytes each).
`resetall
`timescale 1ns / 1ps
`default_nettype none

module ts_crc64_zadv (
    input  wire [63:0] state,
    input  wire [6:0]  count,  // zero bytes to advance through, 0..64
    output wire [63:0] next
);
`include "ts_crc64_masks.svh"

    genvar k, g;
    generate
        for (k = 0; k < 7; k = k + 1) begin : g_step
            wire [63:0] prev;
            wire [63:0] adv;
            wire [63:0] out;
            if (k == 0) begin : g_first
                assign prev = state;
            end else begin : g_chain
                assign prev = g_step[k-1].out;
            end
            for (g = 0; g < 64; g = g + 1) begin : g_bit
                localparam [63:0] MASK = TS_CRC64_ZADV_MASKS[(64*k+g)*64 +: 64];
                assign adv[g] = ^(MASK & prev);
            end
            assign out = count[k] ? adv : prev;
        end
    endgenerate

    assign next = g_step[6].out;

endmodule

`resetall
