// One 64-byte beat of CRC-64/XZ (docs/digest.md): next = A*state ^ B*data,
// the usual parallel-CRC XOR network; byte 0 of `data` is processed first.
`resetall
`timescale 1ns / 1ps
`default_nettype none

module ts_crc64_beat (
    input  wire [63:0]  state,  // raw CRC register (reflected), before the beat
    input  wire [511:0] data,   // 64 bytes, byte 0 in bits 7:0
    output wire [63:0]  next    // raw CRC register after the beat
);
`include "ts_crc64_masks.svh"

    genvar g;
    generate
        for (g = 0; g < 64; g = g + 1) begin : g_bit
            localparam [575:0] MASK = TS_CRC64_BEAT_MASKS[g*576 +: 576];
            assign next[g] = ^(MASK & {data, state});
        end
    endgenerate

endmodule

`resetall
