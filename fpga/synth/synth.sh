#!/bin/sh
# Synthesizes the fpga/ RTL with Yosys for UltraScale+ (synth_xilinx -family xcup)
# and writes a resource and logic-depth report.
# Usage: synth.sh OUT_DIR [reduced|full|check]  or  synth.sh OUT_DIR block MODULE ["chparam args"]
# Default: the reduced configuration the test suite runs (small flow tables and
# pools, 192-byte header window; every block is there) so that it finishes in
# minutes on two cores; `full` synthesizes the configuration the Verilator
# model runs (256-flow CAMs in flip-flops make it several times slower).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
rtl="$here/../rtl"
out=${1:?usage: synth.sh OUT_DIR [full]}
config=${2:-reduced}
mkdir -p "$out"
python3 "$rtl/gen_crc64_masks.py" "$out/ts_crc64_masks.svh"

top=ts_twinstep
uram=
if [ "$config" = block ]; then
  top=${3:?usage: synth.sh OUT_DIR block MODULE [chparam args]}
  params=${4:-}
elif [ "$config" = full ]; then
  params="-set HDR_BEATS 4 -set SEQ_FLOWS 256 -set FLOWS 256 -set EVENTS 1024 -set RECORDS 1024 -set CELLS_LOG2 11"
  uram=1
else
  params="-set HDR_BEATS 3 -set SEQ_FLOWS 8 -set FLOWS 8 -set EVENTS 16 -set RECORDS 16 -set CELLS_LOG2 8"
fi
# `check` (the test): the reduced configuration through synth_xilinx up to and
# including memory mapping (BRAM/LUTRAM inference), not the fine-grained and
# LUT mapping that take far longer here.
last=
ltp_cmds="select -set storage t:FD* t:SRL* t:RAMB* t:URAM* t:RAM32* t:RAM64* t:RAM128* t:RAM256*;
  tee -o $out/ltp.txt ltp * @storage %d;
  select -set storage_nolutram t:FD* t:SRL* t:RAMB* t:URAM*;
  tee -o $out/ltp_lutram.txt ltp * @storage_nolutram %d"
if [ "$config" = check ]; then
  last=map_ffram
  ltp_cmds=
fi

sources=""
for m in ts_fifo ts_fifo_bram ts_crc64_beat ts_crc64_zadv ts_hdr_parse ts_seq_table ts_digest ts_pktbuf ts_compare \
         ts_mirror ts_csr ts_twinstep; do
  sources="$sources $rtl/$m.sv"
done

# synth_xilinx in two runs around its `coarse` step, which is repeated here
# without `share`: that SAT search for mutually exclusive cells ran for many
# minutes on this design and bounds nothing the report needs. -noiopad: the
# design is a box inside the shell, not the chip's top level.
flags="-family xcup -top $top -flatten -noiopad${uram:+ -uram}"
start=$(date +%s)
yosys -q -l "$out/yosys.log" -p "
  read_verilog -sv -I$out $sources
  ${params:+chparam $params $top}
  synth_xilinx $flags -run :map_dsp
  check -assert
  synth_xilinx $flags -run map_dsp:coarse
  techmap -map +/cmp2lut.v -map +/cmp2lcu.v -D LUT_WIDTH=6
  alumacc
  opt
  memory -nomap
  opt_clean
  synth_xilinx $flags -run map_memory:$last
  tee -o $out/stat.txt stat
  $ltp_cmds
"
seconds=$(( $(date +%s) - start ))
if [ -n "$last" ]; then
  # The memories that must be block RAM: the beat queue and the cell memory.
  grep -q 'mapping memory ts_twinstep.digest.data_fifo.mem via .__XILINX_BLOCKRAM' "$out/yosys.log"
  grep -q 'mapping memory ts_twinstep.pktbuf.c_mem via .__XILINX_BLOCKRAM' "$out/yosys.log"
  echo "config check ts_twinstep: synth_xilinx up to map_ffram, memories mapped, seconds $seconds"
  exit 0
fi

# Summary: LUTs, flip-flops, block RAM, UltraRAM, carry chains, logic levels.
awk -v config="$config" -v top="$top" '
  /LUT[1-6] / { luts += $2 }
  /FD[CPRS]E / { ffs += $2 }
  /SRL(16E|C32E) / { srl += $2 }
  /RAMB36E2 / { b36 += $2 }
  /RAMB18E2 / { b18 += $2 }
  /URAM288 / { uram += $2 }
  /RAM(32|64|128|256)[MXS0-9A-Z]* / { lutram += $2 }
  /CARRY[48] / { carry += $2 }
  /MUXF[78] / { muxf += $2 }
  END {
    printf "config %s %s\nLUT %d\nMUXF7/8 %d\nFF %d\nSRL %d\nLUTRAM %d\nRAMB36 %d\nRAMB18 %d\nURAM %d\nCARRY4/8 %d\n", \
      config, top, luts, muxf, ffs, srl, lutram, b36, b18, uram, carry
  }' "$out/stat.txt" > "$out/report.txt"
# Cells on the longest path between storage cells: flip-flops, SRL shift
# registers, LUTRAM, block RAM and UltraRAM ports (`ltp -noff` would not stop
# at Xilinx FDRE cells). A LUTRAM read is asynchronous, so a path through one
# (address in, data out) is really one path: levels_lutram also runs through
# LUTRAMs, but then their write inputs look like paths to their outputs too
# and ltp breaks the loops that makes, so it is neither a bound nor exact.
levels=$(sed -n 's/.*(length=\([0-9]*\)).*/\1/p' "$out/ltp.txt" | head -1)
levels_lutram=$(sed -n 's/.*(length=\([0-9]*\)).*/\1/p' "$out/ltp_lutram.txt" | head -1)
loops=$(grep -c 'Detected loop' "$out/ltp_lutram.txt" || true)
# The path's cells by kind, from their names: LUTs (and any other cell), the
# MUXF7/8/9 that widen a LUT within its slice, CARRY8s. The LUT count is the
# nearer measure of depth (about 6-8 fit in 4 ns on UltraScale+).
kinds=$(awk '/\(via / {
    v = $0; sub(/.*\(via /, "", v); sub(/\)$/, "", v)
    if (v ~ /mux[789]$/) m++; else if (v ~ /[Cc][Aa][Rr][Rr][Yy]/) c++; else l++
  } END { printf "%d/%d/%d", l, m, c }' "$out/ltp.txt")
echo "logic_levels ${levels:-unknown}" >> "$out/report.txt"
echo "path_lut_muxf_carry $kinds" >> "$out/report.txt"
echo "logic_levels_through_lutram ${levels_lutram:-unknown} (ltp broke $loops loops)" >> "$out/report.txt"
echo "seconds $seconds" >> "$out/report.txt"
cat "$out/report.txt"
grep -q '^LUT [1-9]' "$out/report.txt"
