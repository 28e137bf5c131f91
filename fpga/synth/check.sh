#!/bin/sh
# The test suite's synthesis check: synth.sh's reduced configuration through
# synth_xilinx for UltraScale+ (the whole design, every block, small tables and
# pools; see synth.sh for why not the full one). Fails when Yosys rejects the
# RTL, when `check -assert` finds an undriven or multiply driven net or a
# combinational loop, or when the mapped netlist has no LUTs or flip-flops.
# Usage: check.sh OUT_DIR
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: check.sh OUT_DIR}
"$here/synth.sh" "$out" reduced
grep -q '^LUT [1-9]' "$out/report.txt"
grep -q '^FF [1-9]' "$out/report.txt"
echo "yosys: ts_twinstep (reduced configuration) synthesizes for xcup"
