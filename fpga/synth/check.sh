#!/bin/sh
# Fast synthesizability check for the test suite: Yosys reads, elaborates and
# lowers the whole design (reduced configuration of synth.sh) and fails on any
# construct it cannot synthesize, any undriven or multiply driven net, or a
# combinational loop. The full synth_xilinx run (synth.sh) takes far longer
# than the test budget on two shared cores; it produces the report.
# Usage: check.sh OUT_DIR
set -eu
here=$(cd "$(dirname "$0")" && pwd)
rtl="$here/../rtl"
out=${1:?usage: check.sh OUT_DIR}
mkdir -p "$out"
python3 "$rtl/gen_crc64_masks.py" "$out/ts_crc64_masks.svh"
sources=""
for m in ts_fifo ts_fifo_bram ts_crc64_beat ts_crc64_zadv ts_hdr_parse ts_seq_table ts_digest ts_pktbuf ts_compare \
         ts_mirror ts_csr ts_twinstep; do
  sources="$sources $rtl/$m.sv"
done
yosys -q -l "$out/check.log" -p "
  read_verilog -sv -I$out $sources
  chparam -set HDR_BEATS 3 -set SEQ_FLOWS 4 -set FLOWS 4 -set EVENTS 4 -set RECORDS 4 -set CELLS_LOG2 8 ts_twinstep
  hierarchy -check -top ts_twinstep
  proc
  flatten
  opt_clean
  check -assert
"
echo "yosys: ts_twinstep elaborates and passes check -assert"
