#!/bin/sh
# The test suite's synthesis check: synth.sh's reduced configuration (the whole
# design, every block, small tables and pools) through synth_xilinx for
# UltraScale+ up to memory mapping (synth.sh `check`: the later fine-grained
# and LUT mapping take far longer than a test may here). Fails when Yosys
# rejects the RTL, when `check -assert` finds an undriven or multiply driven
# net or a combinational loop, or when the beat queue or the packet buffer no
# longer maps to block RAM.
# Usage: check.sh OUT_DIR
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: check.sh OUT_DIR}
"$here/synth.sh" "$out" check
